"""Is run B really better than run A? Paired tests over the same examples, and Welch's t over
seed groups. Pure numpy; every resampling is seeded.

Both runs' predictions are first reduced to per-example counts (`ner_counts`,
`class_counts`): for each example and each label, true positives, false positives and
false negatives. A score is a function of counts summed over examples (micro / per-type
F1, accuracy, macro F1), so a resample of examples is a resample of rows.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from core.spans import to_spans

Score = Callable[[np.ndarray], float]  # summed counts (L, 3) -> score


@dataclass(frozen=True)
class Comparison:
    """B minus A on one score: the observed delta, its 95 % bootstrap interval and p-values."""

    delta: float
    low: float
    high: float
    p_bootstrap: float
    p_randomisation: float


def ner_counts(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]],
               types: Sequence[str]) -> np.ndarray:
    """(N, T, 3) exact-match entity tp, fp, fn per sentence and entity type."""
    index = {t: k for k, t in enumerate(types)}
    out = np.zeros((len(gold), len(types), 3), dtype=np.int64)
    for i, (g, p) in enumerate(zip(gold, pred)):
        gs, ps = set(to_spans(g)), set(to_spans(p))
        for span in gs & ps:
            out[i, index[span[0]], 0] += 1
        for span in ps - gs:
            out[i, index[span[0]], 1] += 1
        for span in gs - ps:
            out[i, index[span[0]], 2] += 1
    return out


def class_counts(gold: Sequence, pred: Sequence, labels: Sequence[str]) -> np.ndarray:
    """(N, C, 3) tp, fp, fn per text and class; a label or a list of labels per text."""
    index = {c: k for k, c in enumerate(labels)}
    out = np.zeros((len(gold), len(labels), 3), dtype=np.int64)
    for i, (g, p) in enumerate(zip(gold, pred)):
        gs = set(g) if isinstance(g, (list, tuple)) else {g}
        ps = set(p) if isinstance(p, (list, tuple)) else {p}
        for c in gs & ps:
            out[i, index[c], 0] += 1
        for c in ps - gs:
            out[i, index[c], 1] += 1
        for c in gs - ps:
            out[i, index[c], 2] += 1
    return out


def _f1(tp: np.ndarray, fp: np.ndarray, fn: np.ndarray) -> np.ndarray:
    denom = 2 * tp + fp + fn
    return np.where(denom > 0, 2 * tp / np.maximum(denom, 1), 0.0)


def micro_f1(summed: np.ndarray) -> float:
    """Micro F1 of summed (L, 3) counts."""
    tp, fp, fn = summed.sum(0)
    return float(_f1(np.asarray(tp), np.asarray(fp), np.asarray(fn)))


def macro_f1(summed: np.ndarray) -> float:
    """Mean per-label F1 of summed (L, 3) counts."""
    return float(_f1(summed[:, 0], summed[:, 1], summed[:, 2]).mean()) if len(summed) else 0.0


def label_f1(k: int) -> Score:
    """F1 of label k alone."""
    return lambda summed: float(_f1(summed[k, 0], summed[k, 1], summed[k, 2]))


def _scores(score: Score, *parts: tuple[np.ndarray, np.ndarray]) -> np.ndarray:
    """score of each resample's summed counts; parts: (weights (R, N), counts (N, L, 3))."""
    summed = sum(np.einsum("rn,nlc->rlc", w.astype(np.int64), c) for w, c in parts)
    return np.array([score(s) for s in summed])


def compare(a: np.ndarray, b: np.ndarray, score: Score, *, resamples: int = 10_000,
            seed: int = 0, batch: int = 500) -> Comparison:
    """Paired bootstrap and approximate randomisation of score(B) - score(A).

    a, b: per-example counts of the two runs on the same examples, (N, L, 3) each.
    Bootstrap: `resamples` draws of N examples with replacement; the interval is the
    2.5-97.5 percentile of the deltas, p is twice the share on the far side of 0.
    Randomisation: each example's A and B counts are swapped with probability 1/2;
    p = (1 + #|delta_r| >= |delta|) / (resamples + 1).
    """
    if a.shape != b.shape:
        raise ValueError(f"the runs were scored on different examples: {a.shape[0]} vs "
                         f"{b.shape[0]} rows with {a.shape[1]} vs {b.shape[1]} labels")
    n = len(a)
    observed = score(b.sum(0)) - score(a.sum(0))
    rng = np.random.default_rng(seed)
    boot, rand = [], []
    for lo in range(0, resamples, batch):
        r = min(batch, resamples - lo)
        w = np.stack([np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(r)])
        boot.append(_scores(score, (w, b)) - _scores(score, (w, a)))
        swap = rng.random((r, n)) < 0.5  # (R, N): these examples trade their A and B counts
        rand.append(_scores(score, (~swap, b), (swap, a)) - _scores(score, (~swap, a), (swap, b)))
    deltas, shuffled = np.concatenate(boot), np.concatenate(rand)
    p_boot = min(1.0, 2 * min(np.mean(deltas <= 0), np.mean(deltas >= 0)))
    p_rand = (1 + np.sum(np.abs(shuffled) >= abs(observed) - 1e-12)) / (resamples + 1)
    low, high = np.percentile(deltas, [2.5, 97.5])
    return Comparison(float(observed), float(low), float(high), float(p_boot), float(p_rand))


def welch(a: Sequence[float], b: Sequence[float]) -> tuple[float, float, float]:
    """(mean(b) - mean(a), Welch's t, two-sided p) for two groups of seed scores."""
    from math import sqrt

    from scipy.stats import t as student_t

    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if len(x) < 2 or len(y) < 2:
        raise ValueError("Welch's t needs at least two seeds per group")
    va, vb = x.var(ddof=1) / len(x), y.var(ddof=1) / len(y)
    delta = float(y.mean() - x.mean())
    if va + vb == 0:
        return delta, (0.0 if delta == 0 else float(np.sign(delta) * np.inf)), \
            (1.0 if delta == 0 else 0.0)
    t = delta / sqrt(va + vb)
    dof = (va + vb) ** 2 / (va ** 2 / (len(x) - 1) + vb ** 2 / (len(y) - 1))
    return delta, float(t), float(2 * student_t.sf(abs(t), dof))
