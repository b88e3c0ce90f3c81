"""Ranking, binary-score and regression metrics for text-pair and recommendation tasks.

Binary scores (`roc_auc`, `average_precision`, `roc_curve`, `pr_curve`, `binary_report`)
equal scikit-learn's `roc_auc_score`, `average_precision_score` (step-wise, no
interpolation), `roc_curve` (drop_intermediate=True) and `precision_recall_curve`.
Tied scores form one threshold, so ROC-AUC is the Mann-Whitney statistic with average
ranks. AUC values are always computed on the full curve; only the returned curve points
are thinned to at most `max_points` (arc-length spacing, both endpoints kept;
`max_points=None` returns sklearn's arrays unchanged).

Per-group ranking (rows carry a group: the user or the query; relevance >= 0, higher is
better; an item is *relevant* when relevance > 0):

- NDCG@k equals sklearn `ndcg_score([rel], [scores], k=k)` for the group: linear gains,
  1/log2(rank + 1) discount, and ties in scores handled as sklearn's default
  (`ignore_ties=False`): tied items share the mean gain of their block, which is the
  expected DCG over all orders of the tied items.
- MRR and recall@k use the same rule for ties: the value is the expectation over a uniformly
  random order of tied items (so a constant-score model gets the random-ranking value,
  neither credit nor a worst case). MRR is E[1 / rank of the first relevant item];
  recall@k is E[relevant items in the top k] / relevant items in the group.
- A group with no relevant item has no NDCG, MRR or recall (sklearn would say NDCG 0): its
  per-group values are None, it is left out of every average, and reports count it as
  `n_groups_skipped`. When every group is skipped the averages are None.
- A single-item group with a relevant item scores 1 on every metric (sklearn refuses such
  rows); it is counted in averages and reports give `n_single_item_groups`.
- k larger than a group ranks the whole group: NDCG@k is the untruncated NDCG (as sklearn)
  and recall@k is 1.

Regression (`regression_metrics`): mse, rmse, mae and r2 as sklearn; pearson as
`scipy.stats.pearsonr`, spearman as `scipy.stats.spearmanr` (average ranks for ties). A
value that is undefined because an input is constant (r2 for constant y_true, a
correlation for either input constant) is None, with no warning.

Errors: malformed inputs (empty, mismatched lengths, non-finite or non-numeric values,
y_true not 0/1, a single class for AUC / AP / curves, negative relevance, a missing group)
raise `core.errors.DataError`; bad parameters (k, ks, max_points, worst) raise
`core.errors.ConfigError`. Both are ValueErrors. `binary_report` does not raise for a
single class: it reports None for AUC, AP and the curves, with the class counts.
"""
from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Hashable, Sequence, Sized

import numpy as np
from scipy.special import gammaln
from scipy.stats import rankdata

from core.errors import ConfigError, DataError

DEFAULT_KS = (1, 3, 5, 10)
DEFAULT_MAX_POINTS = 200

Curve = tuple[np.ndarray, np.ndarray, np.ndarray]

# ---------------------------------------------------------------------------------------
# Validation


def _vector(values: Any, name: str) -> np.ndarray:
    """`values` as a non-empty 1-D float array of finite numbers, or a DataError."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise DataError(f"{name}: every value must be a number", source=name,
                        expected="numbers") from exc
    if arr.ndim != 1:
        raise DataError(f"{name} must be one-dimensional, found shape {arr.shape}",
                        source=name, expected="a 1-D sequence")
    if arr.size == 0:
        raise DataError(f"{name} is empty; nothing to evaluate", source=name,
                        expected="at least one value")
    bad = ~np.isfinite(arr)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"{name}[{i}] is {arr[i]}; {int(bad.sum())} value(s) are not finite",
                        source=name, expected="finite numbers", found=str(arr[i]))
    return arr


def _same_length(**arrays: Sized) -> None:
    names = list(arrays)
    n = len(arrays[names[0]])
    for other in names[1:]:
        if len(arrays[other]) != n:
            raise DataError(f"{names[0]} has {n} values but {other} has "
                            f"{len(arrays[other])}", source=other, expected=f"{n} values",
                            found=f"{len(arrays[other])} values")


def _labelled(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """Validated (y, s): y of 0.0/1.0, s finite, same length (one class may be missing)."""
    y = _vector(y_true, "y_true")
    s = _vector(scores, "scores")
    _same_length(y_true=y, scores=s)
    bad = (y != 0) & (y != 1)
    if bad.any():
        i = int(np.argmax(bad))
        raise DataError(f"y_true[{i}] is {y[i]:g}; binary metrics need labels 0 and 1",
                        source="y_true", expected="0 or 1", found=f"{y[i]:g}")
    return y, s


def _binary(y_true: Any, scores: Any) -> tuple[np.ndarray, np.ndarray]:
    """As `_labelled`, and both classes present (AUC, AP and the curves need both)."""
    y, s = _labelled(y_true, scores)
    positives = int(y.sum())
    if positives in (0, y.size):
        present = "1 (positive)" if positives else "0 (negative)"
        raise DataError(f"y_true holds only class {present}; ROC-AUC, average precision "
                        "and their curves need both classes", source="y_true",
                        expected="both 0 and 1", found=f"only {present}")
    return y, s


def _check_k(k: Any, name: str = "k") -> int:
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ConfigError(f"{name}: must be a positive integer, found {k!r}")
    return int(k)


def _check_max_points(max_points: Any) -> int | None:
    if max_points is None:
        return None
    if (isinstance(max_points, bool) or not isinstance(max_points, numbers.Integral)
            or max_points < 2):
        raise ConfigError(f"max_points: must be an integer >= 2 (both endpoints) or None, "
                          f"found {max_points!r}")
    return int(max_points)


# ---------------------------------------------------------------------------------------
# Binary scores


def _threshold_counts(y: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                               np.ndarray]:
    """(tps, fps, thresholds) at each distinct score, highest first (sklearn's layout)."""
    order = np.argsort(-s, kind="stable")
    s_sorted, y_sorted = s[order], y[order]
    ends = np.r_[np.flatnonzero(np.diff(s_sorted)), s.size - 1]
    tps = np.cumsum(y_sorted)[ends]
    fps = 1.0 + ends - tps
    return tps, fps, s_sorted[ends]


def _thin(x: np.ndarray, y: np.ndarray, max_points: int | None) -> np.ndarray:
    """Indices of at most `max_points` points spread evenly along the curve's length,
    the first and last always among them."""
    n = x.size
    if max_points is None or n <= max_points:
        return np.arange(n)
    length = np.r_[0.0, np.cumsum(np.hypot(np.diff(x), np.diff(y)))]
    if length[-1] > 0:
        inner = np.searchsorted(length, np.linspace(0.0, length[-1], max_points)[1:-1])
    else:
        inner = np.linspace(0, n - 1, max_points)[1:-1].round().astype(np.int64)
    return np.unique(np.r_[0, inner, n - 1])


def roc_auc(y_true: Sequence[float], scores: Sequence[float]) -> float:
    """Exact binary ROC-AUC (= sklearn `roc_auc_score`; tied scores count one half)."""
    y, s = _binary(y_true, scores)
    tps, fps, _ = _threshold_counts(y, s)
    t, f = np.r_[0.0, tps], np.r_[0.0, fps]
    # Trapezoids on integer counts: twice the Mann-Whitney U, divided once.
    return float(np.sum(np.diff(f) * (t[1:] + t[:-1])) / (2.0 * t[-1] * f[-1]))


def average_precision(y_true: Sequence[float], scores: Sequence[float]) -> float:
    """Step-wise PR-AUC: sum of (recall_i - recall_{i-1}) * precision_i (= sklearn's AP)."""
    y, s = _binary(y_true, scores)
    tps, fps, _ = _threshold_counts(y, s)
    gained = np.diff(np.r_[0.0, tps])
    return float(max(0.0, np.sum(gained * (tps / (tps + fps))) / tps[-1]))


def roc_curve(y_true: Sequence[float], scores: Sequence[float], *,
              max_points: int | None = DEFAULT_MAX_POINTS) -> Curve:
    """(fpr, tpr, thresholds) from (0, 0) at threshold inf to (1, 1), as sklearn
    `roc_curve`; thinned to at most `max_points` points (None: all of sklearn's)."""
    max_points = _check_max_points(max_points)
    y, s = _binary(y_true, scores)
    tps, fps, thresholds = _threshold_counts(y, s)
    if fps.size > 2:  # sklearn's drop_intermediate: drop points inside straight runs
        keep = np.r_[True, np.logical_or(np.diff(fps, 2), np.diff(tps, 2)), True]
        tps, fps, thresholds = tps[keep], fps[keep], thresholds[keep]
    fpr = np.r_[0.0, fps] / fps[-1]
    tpr = np.r_[0.0, tps] / tps[-1]
    thresholds = np.r_[np.inf, thresholds]
    idx = _thin(fpr, tpr, max_points)
    return fpr[idx], tpr[idx], thresholds[idx]


def pr_curve(y_true: Sequence[float], scores: Sequence[float], *,
             max_points: int | None = DEFAULT_MAX_POINTS) -> Curve:
    """(precision, recall, thresholds) as sklearn `precision_recall_curve`: recall falls
    from 1 at the lowest threshold to the final point (recall 0, precision 1), which has no
    threshold (len(thresholds) == len(precision) - 1); thinned to at most `max_points`."""
    max_points = _check_max_points(max_points)
    y, s = _binary(y_true, scores)
    tps, fps, thresholds = _threshold_counts(y, s)
    precision = np.r_[(tps / (tps + fps))[::-1], 1.0]
    recall = np.r_[(tps / tps[-1])[::-1], 0.0]
    thresholds = thresholds[::-1]
    idx = _thin(recall, precision, max_points)
    return precision[idx], recall[idx], thresholds[idx[:-1]]


def _plain(values: np.ndarray) -> list[float | None]:
    """Floats for JSON; an infinite threshold (ROC's first point) becomes None."""
    return [float(v) if np.isfinite(v) else None for v in values]


def binary_report(y_true: Sequence[float], scores: Sequence[float], *,
                  max_points: int | None = DEFAULT_MAX_POINTS) -> dict:
    """JSON-ready {n, n_positive, n_negative, roc_auc, average_precision, roc_curve,
    pr_curve}; with one class only, the last four are None (no error)."""
    y, s = _labelled(y_true, scores)
    positives = int(y.sum())
    counts = {"n": int(y.size), "n_positive": positives, "n_negative": int(y.size) - positives}
    if positives in (0, y.size):
        return {**counts, "roc_auc": None, "average_precision": None, "roc_curve": None,
                "pr_curve": None}
    fpr, tpr, roc_t = roc_curve(y, s, max_points=max_points)
    precision, recall, pr_t = pr_curve(y, s, max_points=max_points)
    return {**counts, "roc_auc": roc_auc(y, s), "average_precision": average_precision(y, s),
            "roc_curve": {"fpr": _plain(fpr), "tpr": _plain(tpr),
                          "thresholds": _plain(roc_t)},
            "pr_curve": {"precision": _plain(precision), "recall": _plain(recall),
                         "thresholds": _plain(pr_t)}}


# ---------------------------------------------------------------------------------------
# Per-group ranking


@dataclass(frozen=True)
class _Ranked:
    """Rows sorted by (group, score descending), cut into tie blocks; shared by metrics.

    Positions are 0-based within the group; a block covers positions [start, end).
    """

    keys: list            # group labels, first-appearance order
    sizes: np.ndarray     # items per group
    relevant: np.ndarray  # items with relevance > 0 per group
    block_group: np.ndarray
    block_start: np.ndarray
    block_end: np.ndarray
    block_gain: np.ndarray  # mean relevance in the block
    block_hits: np.ndarray  # relevant items in the block
    ideal_group: np.ndarray  # rows sorted by (group, relevance descending)
    ideal_pos: np.ndarray
    ideal_gain: np.ndarray
    discount: np.ndarray      # discount[p] = 1 / log2(p + 2)
    discount_sum: np.ndarray  # discount_sum[p] = sum of discount[i] for i < p

    @property
    def scored(self) -> np.ndarray:
        return self.relevant > 0


def _plain_key(key: Hashable) -> Hashable:
    return key.item() if isinstance(key, np.generic) else key


def _factorise(groups: Any, n: int) -> tuple[np.ndarray, list]:
    """(codes, keys): codes number groups 0.. by first appearance; keys[code] is the label."""
    if isinstance(groups, np.ndarray) and groups.dtype.kind in "biufU":
        if groups.ndim != 1:
            raise DataError(f"groups must be one-dimensional, found shape {groups.shape}",
                            source="groups")
        if groups.dtype.kind == "f" and np.isnan(groups).any():
            i = int(np.argmax(np.isnan(groups)))
            raise DataError(f"groups[{i}] is missing (NaN)", source="groups",
                            expected="a group label")
        _same_length(scores=range(n), groups=groups)
        uniques, first, inverse = np.unique(groups, return_index=True, return_inverse=True)
        order = np.argsort(first, kind="stable")
        rank = np.empty(order.size, dtype=np.int64)
        rank[order] = np.arange(order.size)
        return rank[inverse.ravel()], uniques[order].tolist()
    try:
        labels = list(groups)
    except TypeError as exc:
        raise DataError("groups must be a sequence of labels", source="groups") from exc
    _same_length(scores=range(n), groups=labels)
    index: dict = {}
    try:
        codes = np.fromiter((index.setdefault(g, len(index)) for g in labels),
                            dtype=np.int64, count=len(labels))
    except TypeError as exc:
        raise DataError(f"groups: every label must be hashable (a string or a number); "
                        f"{exc}", source="groups") from exc
    for key, code in index.items():
        if key is None or (isinstance(key, float) and key != key):
            i = int(np.argmax(codes == code))
            raise DataError(f"groups[{i}] is missing ({key})", source="groups",
                            expected="a group label")
    return codes, [_plain_key(k) for k in index]


def _rank(groups: Any, relevance: Any, scores: Any) -> _Ranked:
    s = _vector(scores, "scores")
    rel = _vector(relevance, "relevance")
    _same_length(scores=s, relevance=rel)
    if (rel < 0).any():
        i = int(np.argmax(rel < 0))
        raise DataError(f"relevance[{i}] is {rel[i]:g}; relevance must be >= 0 "
                        "(0 = not relevant)", source="relevance", expected=">= 0",
                        found=f"{rel[i]:g}")
    codes, keys = _factorise(groups, s.size)
    sizes = np.bincount(codes, minlength=len(keys))
    starts = np.r_[0, np.cumsum(sizes)[:-1]]
    hit = rel > 0

    order = np.lexsort((-s, codes))
    g, s_sorted = codes[order], s[order]
    pos = np.arange(s.size) - starts[g]
    new_block = np.r_[True, (np.diff(g) != 0) | (np.diff(s_sorted) != 0)]
    block_id = np.cumsum(new_block) - 1
    first = np.flatnonzero(new_block)
    block_size = np.diff(np.r_[first, s.size])
    ideal = np.lexsort((-rel, codes))
    discount = 1.0 / np.log2(np.arange(int(sizes.max())) + 2.0)
    return _Ranked(
        keys=keys, sizes=sizes, relevant=np.bincount(codes, weights=hit, minlength=len(keys)),
        block_group=g[first], block_start=pos[first], block_end=pos[first] + block_size,
        block_gain=np.bincount(block_id, weights=rel[order]) / block_size,
        block_hits=np.bincount(block_id, weights=hit[order]),
        ideal_group=codes[ideal], ideal_pos=np.arange(s.size) - starts[codes[ideal]],
        ideal_gain=rel[ideal], discount=discount,
        discount_sum=np.r_[0.0, np.cumsum(discount)])


def _ndcg(r: _Ranked, k: int | None) -> np.ndarray:
    """NDCG@k per group (k None: whole group); NaN where the group has no relevant item."""
    top = r.discount_sum.size - 1 if k is None else min(k, r.discount_sum.size - 1)
    d = r.discount_sum
    covered = d[np.minimum(r.block_end, top)] - d[np.minimum(r.block_start, top)]
    n = len(r.keys)
    dcg = np.bincount(r.block_group, weights=r.block_gain * covered, minlength=n)
    in_top = r.ideal_pos < top
    ideal = np.bincount(r.ideal_group[in_top], minlength=n,
                        weights=r.ideal_gain[in_top] * r.discount[r.ideal_pos[in_top]])
    out = np.full(n, np.nan)
    ok = r.scored
    out[ok] = dcg[ok] / ideal[ok]
    return out


def _ndcgs(r: _Ranked, ks: Sequence[int]) -> list[np.ndarray]:
    """`_ndcg` for each k, computed once per distinct k up to the largest group's size
    (NDCG@k no longer changes past it): O(rows x distinct ks)."""
    largest = r.discount_sum.size - 1
    done: dict[int, np.ndarray] = {}
    for k in ks:
        if min(k, largest) not in done:
            done[min(k, largest)] = _ndcg(r, min(k, largest))
    return [done[min(k, largest)] for k in ks]


def _recall(r: _Ranked, k: int) -> np.ndarray:
    """Expected share of relevant items in the top k per group; NaN where none is relevant."""
    size = r.block_end - r.block_start
    inside = np.clip(k - r.block_start, 0, size) / size
    found = np.bincount(r.block_group, weights=r.block_hits * inside, minlength=len(r.keys))
    out = np.full(len(r.keys), np.nan)
    ok = r.scored
    out[ok] = found[ok] / r.relevant[ok]
    return out


def _mrr(r: _Ranked) -> np.ndarray:
    """Expected reciprocal rank of the first relevant item per group; NaN where none is.

    In the first block holding q of its m items relevant, after a items ranked above it,
    the first relevant item is at block offset j with probability C(m-1-j, q-1) / C(m, q).
    """
    with_hits = np.flatnonzero(r.block_hits > 0)
    groups, first = np.unique(r.block_group[with_hits], return_index=True)
    b = with_hits[first]
    a = r.block_start[b].astype(np.float64)
    m = (r.block_end[b] - r.block_start[b]).astype(np.float64)
    q = r.block_hits[b]
    offsets = (m - q + 1).astype(np.int64)
    owner = np.repeat(np.arange(b.size), offsets)
    j = np.arange(owner.size) - np.repeat(np.cumsum(offsets) - offsets, offsets)
    mo, qo = m[owner], q[owner]
    log_p = (gammaln(mo - j) - gammaln(qo) - gammaln(mo - j - qo + 1)
             - gammaln(mo + 1) + gammaln(qo + 1) + gammaln(mo - qo + 1))
    log_p = np.where(qo == 1, -np.log(mo), log_p)  # the common case, uniform and exact
    expected = np.bincount(owner, weights=np.exp(log_p) / (a[owner] + 1.0 + j),
                           minlength=b.size)
    out = np.full(len(r.keys), np.nan)
    out[groups] = expected
    return out


def _mean(values: np.ndarray) -> float | None:
    ok = ~np.isnan(values)
    return float(values[ok].mean()) if ok.any() else None


def _optional(value: float) -> float | None:
    return None if np.isnan(value) else float(value)


def ndcg_at_k(groups: Sequence[Hashable], relevance: Sequence[float],
              scores: Sequence[float], k: int | None = 10) -> float | None:
    """Mean NDCG@k over groups with a relevant item (None if there is none); k None: full."""
    k = None if k is None else _check_k(k)
    return _mean(_ndcg(_rank(groups, relevance, scores), k))


def ndcg_at_ks(groups: Sequence[Hashable], relevance: Sequence[float],
               scores: Sequence[float], ks: Sequence[int]) -> list[float | None]:
    """Mean NDCG@k for each k in `ks` (e.g. range(1, K + 1) for a chart), ranking once."""
    ks = [_check_k(k, "ks") for k in ks]
    return [_mean(v) for v in _ndcgs(_rank(groups, relevance, scores), ks)]


def mrr(groups: Sequence[Hashable], relevance: Sequence[float],
        scores: Sequence[float]) -> float | None:
    """Mean reciprocal rank of each group's first relevant item (expected over ties)."""
    return _mean(_mrr(_rank(groups, relevance, scores)))


def recall_at_k(groups: Sequence[Hashable], relevance: Sequence[float],
                scores: Sequence[float], k: int = 10) -> float | None:
    """Mean over groups of (relevant items in the top k) / (relevant items in the group)."""
    k = _check_k(k)
    return _mean(_recall(_rank(groups, relevance, scores), k))


def _group_row(ranked: _Ranked, i: int, ndcg: np.ndarray, rr: np.ndarray,
               recall: np.ndarray) -> dict:
    return {"group": ranked.keys[i], "n_items": int(ranked.sizes[i]),
            "n_relevant": int(ranked.relevant[i]), "ndcg": _optional(ndcg[i]),
            "mrr": _optional(rr[i]), "recall": _optional(recall[i])}


def group_metrics(groups: Sequence[Hashable], relevance: Sequence[float],
                  scores: Sequence[float], *, k: int = 10) -> list[dict]:
    """One row per group, first-appearance order: {group, n_items, n_relevant, ndcg (@k),
    mrr, recall (@k)}; the metrics are None for a group with no relevant item."""
    k = _check_k(k)
    ranked = _rank(groups, relevance, scores)
    ndcg, rr, recall = _ndcg(ranked, k), _mrr(ranked), _recall(ranked, k)
    return [_group_row(ranked, i, ndcg, rr, recall) for i in range(len(ranked.keys))]


def ranking_report(groups: Sequence[Hashable], relevance: Sequence[float],
                   scores: Sequence[float], ks: Sequence[int] = DEFAULT_KS, *,
                   worst: int = 10) -> dict:
    """JSON-ready summary: counts, mrr, ndcg / recall keyed by str(k), an NDCG@1..max(ks)
    curve and the `worst` groups by NDCG@max(ks) (then MRR, then first appearance)."""
    ks = sorted({_check_k(k, "ks") for k in ks})
    if not ks:
        raise ConfigError("ks: give at least one cut-off, e.g. (1, 3, 5, 10)")
    if isinstance(worst, bool) or not isinstance(worst, numbers.Integral) or worst < 0:
        raise ConfigError(f"worst: must be an integer >= 0, found {worst!r}")
    ranked = _rank(groups, relevance, scores)
    top = ks[-1]
    curve = _ndcgs(ranked, range(1, top + 1))
    rr, recall = _mrr(ranked), _recall(ranked, top)
    ok = np.flatnonzero(ranked.scored)
    worst_first = ok[np.lexsort((ok, rr[ok], curve[-1][ok]))][:worst]
    return {
        "n_rows": int(ranked.sizes.sum()),
        "n_groups": len(ranked.keys),
        "n_groups_scored": int(ok.size),
        "n_groups_skipped": len(ranked.keys) - int(ok.size),
        "n_single_item_groups": int((ranked.sizes == 1).sum()),
        "mrr": _mean(rr),
        "ndcg": {str(k): _mean(curve[k - 1]) for k in ks},
        "recall": {str(k): _mean(_recall(ranked, k)) for k in ks},
        "ndcg_curve": {"k": list(range(1, top + 1)), "ndcg": [_mean(v) for v in curve]},
        "worst_groups": {"k": top, "rows": [_group_row(ranked, int(i), curve[-1], rr, recall)
                                            for i in worst_first]},
    }


# ---------------------------------------------------------------------------------------
# Regression


def _constant(x: np.ndarray) -> bool:
    return bool(np.all(x == x[0]))


def _pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson r computed as scipy.stats.pearsonr does; None if an input is constant."""
    if _constant(x) or _constant(y):
        return None
    xm, ym = x - x.mean(), y - y.mean()
    xmax, ymax = np.abs(xm).max(), np.abs(ym).max()
    xn = xm / (xmax * np.linalg.norm(xm / xmax))
    yn = ym / (ymax * np.linalg.norm(ym / ymax))
    r = float(np.clip(np.dot(xn, yn), -1.0, 1.0))
    return float(round(r)) if x.size == 2 else r


def regression_metrics(y_true: Sequence[float], y_pred: Sequence[float]) -> dict:
    """{n, mse, rmse, mae, r2, pearson, spearman}; r2 None for constant y_true (or a spread
    too small for a float), a correlation None when either input is constant."""
    t = _vector(y_true, "y_true")
    p = _vector(y_pred, "y_pred")
    _same_length(y_true=t, y_pred=p)
    err = t - p
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        mse = float(np.mean(err ** 2))  # inf only if errors exceed ~1e154
        spread = np.sum((t - t.mean()) ** 2)
        r2 = float(1.0 - np.sum(err ** 2) / spread) if spread > 0 else math.nan
    return {"n": int(t.size), "mse": mse, "rmse": math.sqrt(mse),
            "mae": float(np.mean(np.abs(err))),
            "r2": None if _constant(t) or not math.isfinite(r2) else r2,
            "pearson": _pearson(t, p), "spearman": _pearson(rankdata(t), rankdata(p))}
