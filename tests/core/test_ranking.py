"""core.ranking against scikit-learn and scipy, a brute force over tie orders, properties
and error cases."""
from __future__ import annotations

import itertools
import json
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats
from sklearn import metrics as skm

from core.errors import ConfigError, DataError
from core.ranking import (average_precision, binary_report, group_metrics, mrr, ndcg_at_k,
                          ndcg_at_ks, pr_curve, ranking_report, recall_at_k,
                          regression_metrics, roc_auc, roc_curve)

TOL = 1e-9
FAST = settings(max_examples=100, deadline=None)
FLOATS = st.floats(-1e3, 1e3, allow_nan=False, allow_subnormal=False).filter(
    lambda x: x == 0 or abs(x) > 1e-100)  # tiny magnitudes: see test_regression_tiny_spread


@st.composite
def values(draw, n: int, pool: st.SearchStrategy = FLOATS) -> list[float]:
    """n numbers: half the time drawn from 1-3 values only (heavy ties)."""
    if draw(st.booleans()):
        few = draw(st.lists(pool, min_size=1, max_size=3))
        return draw(st.lists(st.sampled_from(few), min_size=n, max_size=n))
    return draw(st.lists(pool, min_size=n, max_size=n))


@st.composite
def binary_data(draw, max_size: int = 60) -> tuple[list[int], list[float]]:
    """(y_true, scores) with both classes present."""
    y = draw(st.lists(st.integers(0, 1), min_size=2, max_size=max_size))
    i, j = draw(st.permutations(range(len(y))))[:2]
    y[i], y[j] = 0, 1
    return y, draw(values(len(y)))


RELEVANCE = st.one_of(st.sampled_from([0, 0, 0, 1, 2, 3]),
                      st.floats(0, 5, allow_nan=False, allow_subnormal=False))


@st.composite
def ranking_data(draw, max_groups: int = 6, max_items: int = 7):
    """(groups, relevance, scores): rows of 1-6 groups (labels str or int), interleaved."""
    labels = draw(st.sampled_from([["u0", "u1", "u2", "u3", "u4", "u5"], [3, 1, 4, 10, 5, 9]]))
    sizes = draw(st.lists(st.integers(1, max_items), min_size=1, max_size=max_groups))
    groups = [labels[g] for g, size in enumerate(sizes) for _ in range(size)]
    order = draw(st.permutations(range(len(groups))))
    groups = [groups[i] for i in order]
    relevance = draw(st.lists(RELEVANCE, min_size=len(groups), max_size=len(groups)))
    return groups, relevance, draw(values(len(groups)))


def _close(a: float | None, b: float | None, tol: float = TOL) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)


def _rows(groups, relevance, scores, k):
    return {row["group"]: row for row in group_metrics(groups, relevance, scores, k=k)}


def _mean(xs: list[float]) -> float | None:
    return sum(xs) / len(xs) if xs else None


# ---------------------------------------------------------------------------------------
# Binary scores vs scikit-learn


@FAST
@given(binary_data())
def test_binary_scores_and_curves_equal_sklearn(data):
    y, s = data
    assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=TOL)
    assert average_precision(y, s) == pytest.approx(skm.average_precision_score(y, s), abs=TOL)
    for ours, ref in zip(roc_curve(y, s, max_points=None), skm.roc_curve(y, s)):
        np.testing.assert_allclose(ours, ref, rtol=0, atol=TOL)
    for ours, ref in zip(pr_curve(y, s, max_points=None), skm.precision_recall_curve(y, s)):
        np.testing.assert_allclose(ours, ref, rtol=0, atol=TOL)


@FAST
@given(binary_data(max_size=400), st.integers(2, 30))
def test_thinned_curves_keep_endpoints_and_points_of_the_full_curve(data, max_points):
    y, s = data
    for curve in (roc_curve, pr_curve):
        full = curve(y, s, max_points=None)
        thin = curve(y, s, max_points=max_points)
        n = len(thin[0])
        assert n <= max_points and len(thin[1]) == n
        assert len(thin[2]) == n - (len(full[0]) - len(full[2]))  # PR: one threshold fewer
        if len(full[0]) <= max_points:
            assert n == len(full[0])
        for ours, ref in zip(thin[:2], full[:2]):
            assert (ours[0], ours[-1]) == (ref[0], ref[-1])
        # every kept point is a point of the full curve, in order, threshold aligned
        where = [int(np.flatnonzero(full[2] == t)[0]) for t in thin[2]]
        assert where == sorted(set(where))
        for ours, ref in zip(thin[:2], full[:2]):
            np.testing.assert_array_equal(ours[:len(where)], ref[where])
    fpr, tpr, _ = roc_curve(y, s, max_points=max_points)
    assert (fpr[0], tpr[0], fpr[-1], tpr[-1]) == (0.0, 0.0, 1.0, 1.0)
    precision, recall, thresholds = pr_curve(y, s, max_points=max_points)
    assert (recall[0], recall[-1], precision[-1]) == (1.0, 0.0, 1.0)
    assert len(thresholds) == len(precision) - 1
    # the AUC values never depend on thinning
    assert roc_auc(y, s) == pytest.approx(skm.roc_auc_score(y, s), abs=TOL)


def test_default_curves_are_thinned_to_200_points():
    rng = np.random.default_rng(0)
    y, s = rng.integers(0, 2, 5000), rng.normal(size=5000)
    assert len(roc_curve(y, s)[0]) <= 200 and len(pr_curve(y, s)[0]) <= 200
    assert len(skm.roc_curve(y, s)[0]) > 200


@FAST
@given(binary_data())
def test_binary_report_is_json_and_matches_the_functions(data):
    y, s = data
    report = binary_report(y, s, max_points=None)
    assert json.loads(json.dumps(report, allow_nan=False)) == report
    assert report["roc_auc"] == roc_auc(y, s)
    assert report["average_precision"] == average_precision(y, s)
    assert (report["n"], report["n_positive"]) == (len(y), sum(y))
    assert report["roc_curve"]["thresholds"][0] is None  # sklearn's inf
    np.testing.assert_array_equal(report["pr_curve"]["recall"], pr_curve(y, s, max_points=None)[1])


def test_binary_report_single_class_gives_none():
    report = binary_report([1, 1, 1], [0.2, 0.5, 0.9])
    assert report == {"n": 3, "n_positive": 3, "n_negative": 0, "roc_auc": None,
                      "average_precision": None, "roc_curve": None, "pr_curve": None}
    assert binary_report([False, False], [0.1, 0.2])["n_negative"] == 2


# ---------------------------------------------------------------------------------------
# Per-group ranking


@FAST
@given(ranking_data(), st.one_of(st.none(), st.integers(1, 9)))
def test_ndcg_per_group_equals_sklearn(data, k):
    groups, relevance, scores = data
    g, rel, s = np.array(groups), np.array(relevance), np.array(scores)
    rows = _rows(groups, relevance, scores, k if k is not None else 100)
    expected = []
    for label, row in rows.items():
        m = g == label
        if row["n_relevant"] == 0:
            assert row["ndcg"] is None and row["mrr"] is None and row["recall"] is None
            if m.sum() > 1:
                assert skm.ndcg_score([rel[m]], [s[m]], k=k) == 0.0  # sklearn's 0: skipped
            continue
        ref = skm.ndcg_score([rel[m]], [s[m]], k=k) if m.sum() > 1 else 1.0
        assert row["ndcg"] == pytest.approx(ref, abs=TOL)
        expected.append(ref)
    assert _close(ndcg_at_k(groups, relevance, scores, k), _mean(expected))


def _brute_force(relevance: list[float], scores: list[float], k: int):
    """(MRR, recall@k, NDCG@k) averaged over every order of the tied items."""
    n = len(relevance)
    ideal = sum(r / math.log2(i + 2) for i, r in enumerate(sorted(relevance, reverse=True)[:k]))
    rr, rec, ndcg = [], [], []
    for key in itertools.permutations(range(n)):
        order = sorted(range(n), key=lambda i: (-scores[i], key[i]))
        ranks = [pos for pos, i in enumerate(order, 1) if relevance[i] > 0]
        rr.append(1 / ranks[0])
        rec.append(sum(r <= k for r in ranks) / len(ranks))
        ndcg.append(sum(relevance[i] / math.log2(p + 2) for p, i in enumerate(order[:k])) / ideal)
    return _mean(rr), _mean(rec), _mean(ndcg)


@FAST
@given(st.integers(1, 6).flatmap(lambda n: st.tuples(
    st.lists(RELEVANCE, min_size=n, max_size=n),
    values(n, st.sampled_from([0.0, 1.0, 2.0, 0.5])), st.integers(1, 7))))
def test_mrr_recall_ndcg_are_expectations_over_tie_orders(case):
    relevance, scores, k = case
    relevance[0] = max(relevance[0], 1)  # at least one relevant item
    groups = ["q"] * len(scores)
    want_rr, want_recall, want_ndcg = _brute_force(relevance, scores, k)
    assert mrr(groups, relevance, scores) == pytest.approx(want_rr, abs=TOL)
    assert recall_at_k(groups, relevance, scores, k) == pytest.approx(want_recall, abs=TOL)
    assert ndcg_at_k(groups, relevance, scores, k) == pytest.approx(want_ndcg, abs=TOL)


@FAST
@given(ranking_data(), st.data())
def test_row_order_does_not_matter(data, draw):
    groups, relevance, scores = data
    order = draw.draw(st.permutations(range(len(groups))))
    shuffled = [[column[i] for i in order] for column in data]
    a, b = ranking_report(*data, worst=100), ranking_report(*shuffled, worst=100)
    for key in ("n_rows", "n_groups", "n_groups_scored", "n_groups_skipped",
                "n_single_item_groups"):
        assert a[key] == b[key]
    assert _close(a["mrr"], b["mrr"])
    for key in ("ndcg", "recall"):
        assert a[key].keys() == b[key].keys()
        assert all(_close(a[key][k], b[key][k]) for k in a[key])
    rows_a, rows_b = _rows(*data, k=5), _rows(*shuffled, k=5)
    assert rows_a.keys() == rows_b.keys()
    for label, row in rows_a.items():
        assert all(_close(row[m], rows_b[label][m]) for m in ("ndcg", "mrr", "recall"))


@FAST
@given(ranking_data())
def test_perfect_ranking_scores_one(data):
    groups, relevance, _ = data
    relevance[0] = 1.0
    report = ranking_report(groups, relevance, relevance, ks=(1, 2, 5))
    assert report["mrr"] == pytest.approx(1.0, abs=TOL)
    assert all(v == pytest.approx(1.0, abs=TOL) for v in report["ndcg"].values())
    assert all(v == pytest.approx(1.0, abs=TOL) for v in report["ndcg_curve"]["ndcg"])


def test_two_item_group_reversed():
    assert mrr(["g", "g"], [1, 0], [0.9, 0.1]) == 1.0
    assert mrr(["g", "g"], [1, 0], [0.1, 0.9]) == 0.5
    assert ndcg_at_k(["g", "g"], [1, 0], [0.1, 0.9], 2) == pytest.approx(1 / math.log2(3))
    assert recall_at_k(["g", "g"], [1, 0], [0.1, 0.9], 1) == 0.0
    # a tie is the expectation over both orders
    assert mrr(["g", "g"], [1, 0], [0.5, 0.5]) == pytest.approx(0.75)
    assert recall_at_k(["g", "g"], [1, 0], [0.5, 0.5], 1) == pytest.approx(0.5)


@FAST
@given(ranking_data())
def test_recall_is_monotone_in_k_and_reaches_one(data):
    ks = list(range(1, 10))
    report = ranking_report(*data, ks=ks)
    recalls = [report["recall"][str(k)] for k in ks]
    if report["n_groups_scored"] == 0:
        assert recalls == [None] * len(ks)
        return
    assert all(a <= b + 1e-12 for a, b in zip(recalls, recalls[1:]))
    assert recalls[-1] == pytest.approx(1.0)  # k = 9 > every group's size
    for k in ks:
        assert _close(recall_at_k(*data, k), report["recall"][str(k)])


@FAST
@given(ranking_data())
def test_report_is_json_and_consistent(data):
    groups, relevance, scores = data
    report = ranking_report(groups, relevance, scores, ks=(3, 1), worst=3)
    assert json.loads(json.dumps(report, allow_nan=False)) == report
    assert list(report["ndcg"]) == ["1", "3"]
    assert report["ndcg_curve"]["k"] == [1, 2, 3]
    curve = ndcg_at_ks(groups, relevance, scores, [1, 2, 3])
    assert all(_close(a, b) for a, b in zip(curve, report["ndcg_curve"]["ndcg"]))
    assert all(_close(ndcg_at_k(groups, relevance, scores, k), v) for k, v in
               zip((1, 2, 3), curve))
    rows = group_metrics(groups, relevance, scores, k=3)
    assert [r["group"] for r in rows] == list(dict.fromkeys(groups))  # first appearance
    scored = [r for r in rows if r["n_relevant"] > 0]
    assert report["n_groups"] == len(rows) and report["n_groups_scored"] == len(scored)
    assert report["n_groups_skipped"] == len(rows) - len(scored)
    assert report["n_single_item_groups"] == sum(r["n_items"] == 1 for r in rows)
    assert _close(report["mrr"], _mean([r["mrr"] for r in scored]))
    worst = report["worst_groups"]
    assert worst["k"] == 3 and len(worst["rows"]) == min(3, len(scored))
    assert [r["ndcg"] for r in worst["rows"]] == sorted(r["ndcg"] for r in scored)[:3]


def test_documented_edge_groups():
    groups = ["solo", "none", "none", "big", "big"]
    rows = _rows(groups, [2, 0, 0, 0, 1], [0.3, 0.1, 0.2, 0.9, 0.1], k=1)
    assert rows["solo"] == {"group": "solo", "n_items": 1, "n_relevant": 1, "ndcg": 1.0,
                            "mrr": 1.0, "recall": 1.0}
    assert rows["none"]["ndcg"] is None and rows["none"]["n_relevant"] == 0
    report = ranking_report(groups, [2, 0, 0, 0, 1], [0.3, 0.1, 0.2, 0.9, 0.1], ks=(1,))
    assert (report["n_groups_scored"], report["n_groups_skipped"],
            report["n_single_item_groups"]) == (2, 1, 1)
    assert report["ndcg"]["1"] == pytest.approx(0.5)  # mean of solo 1.0 and big 0.0
    # k past the group's end ranks the whole group
    assert ndcg_at_k(groups, [2, 0, 0, 0, 1], [0.3, 0.1, 0.2, 0.9, 0.1], 50) == \
        ndcg_at_k(groups, [2, 0, 0, 0, 1], [0.3, 0.1, 0.2, 0.9, 0.1], None)
    # no relevant item anywhere: no average
    assert ndcg_at_k(["a", "a"], [0, 0], [1, 2]) is None
    assert mrr(["a", "a"], [0, 0], [1, 2]) is None


def test_group_labels_keep_their_type():
    rows = group_metrics([1, "1", 1, np.int64(7)], [1, 0, 0, 1], [0.1, 0.2, 0.3, 0.4])
    assert [r["group"] for r in rows] == [1, "1", 7]
    assert type(rows[2]["group"]) is int
    rows = group_metrics(np.array([5, 5, 2]), [1, 0, 1], [0.1, 0.2, 0.3])
    assert [(r["group"], r["n_items"]) for r in rows] == [(5, 2), (2, 1)]
    assert type(rows[0]["group"]) is int
    rows = group_metrics(np.array(["b", "a", "b"]), [1, 0, 1], [0.1, 0.2, 0.3])
    assert [r["group"] for r in rows] == ["b", "a"] and type(rows[0]["group"]) is str


# ---------------------------------------------------------------------------------------
# Regression vs scikit-learn and scipy


@FAST
@given(st.integers(1, 40).flatmap(lambda n: st.tuples(values(n), values(n))))
def test_regression_equals_sklearn_and_scipy(data):
    y, p = data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ours = regression_metrics(y, p)
    assert ours["n"] == len(y)
    assert ours["mse"] == pytest.approx(skm.mean_squared_error(y, p), rel=TOL, abs=TOL)
    assert ours["rmse"] == pytest.approx(skm.root_mean_squared_error(y, p), rel=TOL, abs=TOL)
    assert ours["mae"] == pytest.approx(skm.mean_absolute_error(y, p), rel=TOL, abs=TOL)
    if len(set(y)) > 1:
        assert ours["r2"] == pytest.approx(skm.r2_score(y, p), rel=TOL, abs=TOL)
    else:
        assert ours["r2"] is None
    constant = len(set(y)) == 1 or len(set(p)) == 1
    if constant:
        assert ours["pearson"] is None and ours["spearman"] is None
        return
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy's NearConstantInputWarning
        pearson = stats.pearsonr(y, p).statistic
        spearman = stats.spearmanr(y, p).statistic
    assert ours["pearson"] == pytest.approx(pearson, abs=TOL)
    assert ours["spearman"] == pytest.approx(spearman, abs=TOL)


def test_regression_constant_inputs_give_none_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        out = regression_metrics([0.1, 0.1, 0.1], [1.0, 2.0, 3.0])
        single = regression_metrics([2.0], [1.0])
    assert out["r2"] is None and out["pearson"] is None and out["spearman"] is None
    assert out["mse"] == pytest.approx(np.mean((np.array([1, 2, 3]) - 0.1) ** 2))
    assert single == {"n": 1, "mse": 1.0, "rmse": 1.0, "mae": 1.0, "r2": None,
                      "pearson": None, "spearman": None}
    assert regression_metrics([1, 2, 3], [3, 3, 3])["pearson"] is None
    assert regression_metrics([1, 2, 3], [3, 3, 3])["r2"] == pytest.approx(-1.5)  # 1 - 5 / 2


def test_regression_tiny_spread_gives_none_without_warning():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert regression_metrics([0.0, 1e-300], [0.0, 0.0])["r2"] is None  # spread 0.0
        out = regression_metrics([0.0, 5e-156], [0.0, 1.0])  # spread / error overflows
        assert out["r2"] is None and out["pearson"] == 1.0


# ---------------------------------------------------------------------------------------
# Errors


@pytest.mark.parametrize("call", [
    lambda: roc_auc([0, 1, 1], [0.1, 0.2]),
    lambda: roc_auc([0, 1], [0.1, float("nan")]),
    lambda: average_precision([0, 1], [0.1, float("inf")]),
    lambda: roc_auc([0, 1, 2], [0.1, 0.2, 0.3]),
    lambda: roc_auc([0.5, 1], [0.1, 0.2]),
    lambda: roc_auc([1, 1], [0.1, 0.2]),
    lambda: average_precision([0, 0], [0.1, 0.2]),
    lambda: roc_curve([0, 0], [0.1, 0.2]),
    lambda: pr_curve([1], [0.1]),
    lambda: roc_auc([], []),
    lambda: roc_auc(["a", "b"], [0.1, 0.2]),
    lambda: roc_auc([[0, 1]], [[0.1, 0.2]]),
    lambda: binary_report([0, 1, 2], [0.1, 0.2, 0.3]),
    lambda: binary_report([1, 1], [0.1]),
    lambda: ndcg_at_k(["a", "b"], [1, 0], [0.1]),
    lambda: ndcg_at_k(["a"], [1, 0], [0.1, 0.2]),
    lambda: ndcg_at_k(np.array(["a"]), [1, 0], [0.1, 0.2]),
    lambda: mrr(["a", "a"], [1, -1], [0.1, 0.2]),
    lambda: mrr(["a", "a"], [1, float("nan")], [0.1, 0.2]),
    lambda: mrr(["a", "a"], [1, 0], [0.1, float("nan")]),
    lambda: mrr(["a", None], [1, 0], [0.1, 0.2]),
    lambda: mrr(["a", float("nan")], [1, 0], [0.1, 0.2]),
    lambda: mrr(np.array([1.0, np.nan]), [1, 0], [0.1, 0.2]),
    lambda: mrr([["a"], ["b"]], [1, 0], [0.1, 0.2]),
    lambda: recall_at_k([], [], []),
    lambda: regression_metrics([1, 2], [1]),
    lambda: regression_metrics([], []),
    lambda: regression_metrics([1, float("nan")], [1, 2]),
])
def test_bad_data_is_a_data_error(call):
    with pytest.raises(DataError):
        call()


@pytest.mark.parametrize("call", [
    lambda: ndcg_at_k(["a"], [1], [0.1], 0),
    lambda: ndcg_at_k(["a"], [1], [0.1], True),
    lambda: recall_at_k(["a"], [1], [0.1], 2.5),
    lambda: group_metrics(["a"], [1], [0.1], k=-1),
    lambda: ndcg_at_ks(["a"], [1], [0.1], [1, 0]),
    lambda: ranking_report(["a"], [1], [0.1], ks=()),
    lambda: ranking_report(["a"], [1], [0.1], worst=-1),
    lambda: roc_curve([0, 1], [0.1, 0.2], max_points=1),
    lambda: pr_curve([0, 1], [0.1, 0.2], max_points=3.0),
])
def test_bad_parameters_are_config_errors(call):
    with pytest.raises(ConfigError):
        call()


def test_error_messages_name_the_problem():
    with pytest.raises(DataError, match="only class 1"):
        roc_auc([1, 1], [0.1, 0.2])
    with pytest.raises(DataError, match=r"scores\[1\] is nan"):
        roc_auc([0, 1], [0.1, float("nan")])
    with pytest.raises(DataError, match="y_true has 3 values but scores has 2"):
        roc_auc([0, 1, 1], [0.1, 0.2])
    with pytest.raises(DataError, match="empty"):
        ranking_report([], [], [])
