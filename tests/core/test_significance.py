"""core/significance: paired bootstrap, approximate randomisation and Welch's t."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats
from sklearn.metrics import f1_score

from core import metrics
from core.significance import (class_counts, compare, label_f1, macro_f1, micro_f1, ner_counts,
                               welch)

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
TYPES = ["LOC", "PER"]
CLASSES = ["a", "b", "c"]

sentences = st.lists(st.lists(st.sampled_from(TAGS), min_size=1, max_size=6), min_size=1,
                     max_size=12)


def _guess(data, gold):
    return [data.draw(st.lists(st.sampled_from(TAGS), min_size=len(g), max_size=len(g)))
            for g in gold]


@settings(max_examples=60, deadline=None)
@given(sentences, st.data())
def test_ner_counts_sum_to_the_entity_report(gold, data):
    pred = _guess(data, gold)
    summed = ner_counts(gold, pred, TYPES).sum(0)
    report = metrics.entity_report(gold, pred)
    assert math.isclose(micro_f1(summed), report["micro"]["f1"], abs_tol=1e-9)
    for k, t in enumerate(TYPES):
        if t in report["per_type"]:
            assert math.isclose(label_f1(k)(summed), report["per_type"][t]["f1"], abs_tol=1e-9)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(CLASSES), st.sampled_from(CLASSES)), min_size=1,
                max_size=40))
def test_class_counts_give_sklearns_macro_f1(pairs):
    gold, pred = [g for g, _ in pairs], [p for _, p in pairs]
    summed = class_counts(gold, pred, CLASSES).sum(0)
    assert math.isclose(macro_f1(summed), f1_score(gold, pred, labels=CLASSES, average="macro",
                                                   zero_division=0), abs_tol=1e-9)


def _runs(seed: int, n: int = 60, better: float = 0.0):
    rng = np.random.default_rng(seed)
    gold = rng.choice(CLASSES, n).tolist()
    def run(p_right):
        return [g if rng.random() < p_right else rng.choice(CLASSES) for g in gold]
    return gold, run(0.6), run(0.6 + better)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10_000))
def test_a_against_a_is_zero_with_p_one_and_swapping_flips_the_sign(seed):
    gold, a, b = _runs(seed)
    ca, cb = class_counts(gold, a, CLASSES), class_counts(gold, b, CLASSES)
    same = compare(ca, ca, micro_f1, resamples=300, seed=seed)
    assert same.delta == same.low == same.high == 0.0
    assert same.p_bootstrap == 1.0 and same.p_randomisation == 1.0
    ab, ba = compare(ca, cb, micro_f1, resamples=300, seed=seed), \
        compare(cb, ca, micro_f1, resamples=300, seed=seed)
    assert ab.delta == -ba.delta
    assert math.isclose(ab.low, -ba.high, abs_tol=1e-12) and math.isclose(ab.high, -ba.low, abs_tol=1e-12)
    assert ab.p_bootstrap == ba.p_bootstrap and ab.p_randomisation == ba.p_randomisation


def _reference_randomisation(ca, cb, resamples, seed):
    """A plain loop over the same random draws as compare (bootstrap draws interleaved)."""
    rng = np.random.default_rng(seed)
    n = len(ca)
    observed = micro_f1(cb.sum(0)) - micro_f1(ca.sum(0))
    hits = 0
    for _ in range(resamples):
        for _ in range(1):  # the bootstrap draw compare makes first in this batch of one
            rng.integers(0, n, n)
        swap = rng.random((1, n))[0] < 0.5
        x = np.where(swap[:, None, None], cb, ca).sum(0)
        y = np.where(swap[:, None, None], ca, cb).sum(0)
        hits += abs(micro_f1(y) - micro_f1(x)) >= abs(observed) - 1e-12
    return (1 + hits) / (resamples + 1)


def test_randomisation_equals_a_plain_loop():
    gold, a, b = _runs(3, better=0.25)
    ca, cb = class_counts(gold, a, CLASSES), class_counts(gold, b, CLASSES)
    got = compare(ca, cb, micro_f1, resamples=200, seed=5, batch=1)
    assert got.p_randomisation == _reference_randomisation(ca, cb, 200, 5)


def test_a_clearly_better_run_is_significant_and_noise_is_not():
    gold, a, b = _runs(1, n=400, better=0.3)
    ca, cb = class_counts(gold, a, CLASSES), class_counts(gold, b, CLASSES)
    res = compare(ca, cb, micro_f1, resamples=2000, seed=0)
    assert res.delta > 0.15 and res.low > 0 and res.p_bootstrap < 0.01 and res.p_randomisation < 0.01
    gold, a, c = _runs(2, n=400, better=0.0)
    noise = compare(class_counts(gold, a, CLASSES), class_counts(gold, c, CLASSES), micro_f1,
                    resamples=2000, seed=0)
    assert noise.low < 0 < noise.high or abs(noise.delta) < 0.02


def test_bootstrap_interval_is_close_to_the_normal_one_for_accuracy():
    # accuracy difference of paired 0/1 outcomes: the bootstrap sd matches the analytic one
    gold, a, b = _runs(4, n=1000, better=0.1)
    ca, cb = class_counts(gold, a, CLASSES), class_counts(gold, b, CLASSES)
    res = compare(ca, cb, micro_f1, resamples=4000, seed=1)
    d = (np.array(b) == np.array(gold)).astype(float) - (np.array(a) == np.array(gold))
    half = 1.96 * d.std(ddof=1) / math.sqrt(len(d))
    assert math.isclose(res.delta, d.mean(), abs_tol=1e-12)
    assert math.isclose((res.high - res.low) / 2, half, rel_tol=0.1)


def test_different_examples_are_refused():
    with pytest.raises(ValueError, match="different examples"):
        compare(np.zeros((3, 2, 3)), np.zeros((4, 2, 3)), micro_f1)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=2, max_size=8), st.lists(st.floats(0, 1), min_size=2,
                                                                   max_size=8))
def test_welch_equals_scipy(a, b):
    delta, t, p = welch(a, b)
    assert math.isclose(delta, np.mean(b) - np.mean(a), abs_tol=1e-12)
    ref = stats.ttest_ind(b, a, equal_var=False)
    if np.var(a) + np.var(b) > 1e-12:
        assert math.isclose(t, ref.statistic, rel_tol=1e-6, abs_tol=1e-9)
        assert math.isclose(p, ref.pvalue, rel_tol=1e-6, abs_tol=1e-9)


def test_welch_needs_two_seeds():
    with pytest.raises(ValueError, match="two seeds"):
        welch([0.9], [0.8, 0.7])
