"""core/curve: nested seeded subsets (properties), the saturating power-law fit (recovery on
noiseless points, a brute-force least-squares reference on noisy ones, uncertainty growing with
noise), summaries and the still-rising rule."""
from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

from core.curve import (Fit, fit_note, fit_power_law, last_gains, misfit, nested_subset,
                        still_rising, stats, summarise, type_curves)
from core.errors import ConfigError
from core.records import TextExample, TokenExample

SETTINGS = settings(max_examples=60, deadline=None)
FIT_SETTINGS = settings(max_examples=30, deadline=None)


# ---- subsets ----------------------------------------------------------------------------------

@st.composite
def corpora(draw):
    """Sentences of several documents (doc sizes drawn), of one document, or texts."""
    kind = draw(st.sampled_from(["docs", "one_doc", "texts"]))
    if kind == "texts":
        n = draw(st.integers(1, 60))
        return [TextExample(f"text {i}", ("a",)) for i in range(n)]
    sizes = draw(st.lists(st.integers(1, 8), min_size=1, max_size=20)) if kind == "docs" \
        else [draw(st.integers(1, 60))]
    out = []
    for d, size in enumerate(sizes):
        out += [TokenExample((f"w{d}-{k}",), ("O",), doc=d) for k in range(size)]
    return out


shares = st.floats(0.01, 1.0, allow_nan=False)


@SETTINGS
@given(examples=corpora(), f1=shares, f2=shares, seed=st.integers(0, 2**32 - 1))
def test_subsets_are_nested_in_input_order_and_big_enough(examples, f1, f2, seed):
    lo, hi = sorted((f1, f2))
    small, big = nested_subset(examples, lo, seed), nested_subset(examples, hi, seed)
    assert set(map(id, small)) <= set(map(id, big))
    for share, sub in ((lo, small), (hi, big)):
        assert len(sub) >= max(1, math.ceil(round(share * len(examples), 9)))
        positions = [next(i for i, ex in enumerate(examples) if ex is e) for e in sub]
        assert positions == sorted(positions)  # input order kept


@SETTINGS
@given(examples=corpora(), share=shares, seed=st.integers(0, 2**32 - 1))
def test_subsets_are_seeded_and_keep_documents_whole(examples, share, seed):
    sub = nested_subset(examples, share, seed)
    assert sub == nested_subset(list(examples), share, seed)  # a function of its arguments
    docs = {ex.doc for ex in examples if isinstance(ex, TokenExample)}
    if len(docs) > 1:
        taken = {ex.doc for ex in sub}
        assert sum(ex.doc in taken for ex in examples) == len(sub)  # whole documents only
        # no more than one document beyond the target
        need = max(1, math.ceil(round(share * len(examples), 9)))
        biggest = max(sum(ex.doc == d for ex in examples) for d in docs)
        assert len(sub) < need + biggest


@SETTINGS
@given(examples=corpora(), seed=st.integers(0, 2**32 - 1))
def test_share_one_is_the_identity(examples, seed):
    assert nested_subset(examples, 1.0, seed) == examples


def test_seeds_differ_and_bad_shares_are_refused():
    examples = [TextExample(f"t{i}", ("a",)) for i in range(200)]
    draws = {tuple(e.text for e in nested_subset(examples, 0.2, s)) for s in range(5)}
    assert len(draws) == 5
    for bad in (0.0, -0.1, 1.5, float("nan")):
        with pytest.raises(ConfigError, match="train_fraction"):
            nested_subset(examples, bad, 0)


# ---- the fit ------------------------------------------------------------------------------------

SIZES = np.array([50, 100, 200, 400, 800, 1600], dtype=float)


@st.composite
def curves(draw):
    """(a, b, c) of a rising curve whose drop over the sizes is visible: a in [0.5, 0.98],
    c in [0.2, 2], the score at the smallest size 0.1..0.45 below a."""
    a = draw(st.floats(0.5, 0.98))
    c = draw(st.floats(0.2, 2.0))
    drop = draw(st.floats(0.1, 0.45))
    return a, drop * SIZES[0] ** c, c


@FIT_SETTINGS
@given(params=curves())
def test_the_fit_recovers_noiseless_curves(params):
    a, b, c = params
    y = a - b * SIZES ** -c
    fit = fit_power_law(SIZES, y)
    assert fit is not None
    assert fit.a == pytest.approx(a, abs=1e-4)
    assert fit.c == pytest.approx(c, rel=1e-3)
    assert fit.b == pytest.approx(b, rel=1e-2)
    mean, std = fit.predict(2 * SIZES[-1])
    assert mean == pytest.approx(a - b * (2 * SIZES[-1]) ** -c, abs=1e-5)
    assert std < 1e-4  # no residuals: no uncertainty


def _reference_ssr(n, y):
    """Brute force: a dense grid over c with (a, b) of each c by ordinary least squares (the
    2x2 normal equations), kept only where they satisfy 0 <= a <= 1, b >= 0; the smallest sum
    of squares and its curve at `n`."""
    c = np.geomspace(1e-3, 10, 20000)[:, None]
    u = n[None, :] ** -c  # (C, m)
    m = len(n)
    su, suu, sy, suy = u.sum(1), (u * u).sum(1), y.sum(), u @ y
    det = m * suu - su ** 2
    a = (suu * sy - su * suy) / det
    b = (su * sy - m * suy) / det  # y = a - b u
    ssr = (((a[:, None] - b[:, None] * u) - y[None, :]) ** 2).sum(1)
    ok = (a >= 0) & (a <= 1) & (b >= 0) & np.isfinite(ssr)
    if not ok.any():
        return math.inf, None
    k = np.flatnonzero(ok)[np.argmin(ssr[ok])]
    return float(ssr[k]), a[k] - b[k] * u[k]


@FIT_SETTINGS
@given(params=curves(), noise=st.floats(0.003, 0.03), seed=st.integers(0, 2**16))
def test_the_fit_is_as_good_as_a_brute_force_least_squares(params, noise, seed):
    a, b, c = params
    n = np.repeat(SIZES, 3)  # three seeds per size
    y = a - b * n ** -c + np.random.default_rng(seed).normal(0, noise, len(n))
    assume(np.all(y <= 1))
    fit = fit_power_law(n, y)
    ref_ssr, ref_curve = _reference_ssr(n, y)
    assume(ref_curve is not None)
    r = y - fit.curve(n)
    assert float(r @ r) <= ref_ssr * (1 + 1e-6) + 1e-12
    assert float(r @ r) >= ref_ssr * (1 - 1e-3) - 1e-9  # the grid is fine: close to optimal
    assert np.max(np.abs(fit.curve(n) - ref_curve)) < 0.01
    assert fit.a <= 1 and fit.b >= 0 and fit.c > 0


@FIT_SETTINGS
@given(params=curves(), seed=st.integers(0, 2**16))
def test_prediction_std_grows_with_noise(params, seed):
    a, b, c = params
    n = np.repeat(SIZES, 2)
    eps = np.random.default_rng(seed).normal(0, 1, len(n))
    stds = []
    for scale in (0.002, 0.02):
        fit = fit_power_law(n, a - b * n ** -c + scale * eps)
        stds.append(fit.predict(2 * SIZES[-1])[1])
        assert math.isfinite(stds[-1])
    assert stds[1] > stds[0]
    # the scatter part alone is the residual std; the curve part adds to it
    assert stds[1] >= math.sqrt(fit.residual_var) - 1e-12


def test_no_fit_below_three_sizes_and_nan_std_without_degrees_of_freedom():
    assert fit_power_law([10, 10, 20, 20], [0.5, 0.52, 0.6, 0.61]) is None
    assert "3 or more distinct" in fit_note([10, 20], [0.5, 0.6])
    assert fit_note([10, 20, 40], [0.5, 0.6, float("nan")]) is not None
    assert fit_note([0, 20, 40], [0.5, 0.6, 0.7]) is not None
    fit = fit_power_law([10, 20, 40], [0.5, 0.6, 0.65])
    assert isinstance(fit, Fit)
    mean, std = fit.predict(80)
    assert 0.65 <= mean <= 1 and math.isnan(std)


def test_falling_scores_give_a_flat_curve_within_bounds():
    fit = fit_power_law([10, 20, 40, 80], [0.7, 0.65, 0.6, 0.55])
    assert fit.b == pytest.approx(0, abs=1e-9)
    assert fit.predict(160)[0] == pytest.approx(0.625, abs=1e-6)
    high = fit_power_law([10, 20, 40, 80], [0.98, 0.99, 1.0, 1.0])
    assert high.a <= 1


def test_misfit_flags_a_curve_that_still_accelerates():
    sizes = np.repeat([60, 150, 300, 600], 2).astype(float)
    good = 0.9 - 4 * sizes ** -0.6
    fit = fit_power_law(sizes, good)
    assert misfit(fit, 600, float(good[-1]), 0.0, 2) is None
    # an S-shaped start (the small shares barely trained): no power law follows it
    sigmoid = np.repeat([0.24, 0.28, 0.59, 0.93], 2) + np.tile([-0.01, 0.01], 4)
    fit = fit_power_law(sizes, sigmoid)
    gap = misfit(fit, 600, 0.93, 0.014, 2)
    assert gap is not None and gap < -0.05
    assert misfit(fit, 600, 0.93, 0.5, 2) is None  # within the seeds' noise: no verdict


# ---- summaries and the still-rising rule ---------------------------------------------------------

def test_summarise_gives_mean_and_sample_std_per_share_and_type():
    points = [
        {"run": "r1", "fraction": 0.5, "train_examples": 10, "dev": 0.5, "test": None,
         "per_type": {"PER": 0.4, "LOC": 0.6}},
        {"run": "r2", "fraction": 0.5, "train_examples": 12, "dev": 0.7, "test": None,
         "per_type": {"PER": 0.6}},
        {"run": "r3", "fraction": 1.0, "train_examples": 22, "dev": 0.8, "test": 0.75,
         "per_type": {"PER": 0.8, "LOC": 0.9}},
    ]
    half, full = summarise(points)
    assert half["fraction"] == 0.5 and half["train_examples"] == 11 and half["runs"] == ["r1", "r2"]
    assert half["dev"] == pytest.approx({"mean": 0.6, "std": np.std([0.5, 0.7], ddof=1), "n": 2})
    assert half["test"] is None
    assert half["per_type"]["LOC"] == {"mean": 0.6, "std": 0.0, "n": 1}
    assert full["dev"] == {"mean": 0.8, "std": 0.0, "n": 1}
    assert full["test"]["mean"] == 0.75
    assert stats([]) == {"mean": None, "std": None, "n": 0}
    curves_ = type_curves([half, full])
    assert [p["size"] for p in curves_["PER"]] == [11, 22]


def _curve(*pts):
    return [{"size": s, "mean": m, "std": sd, "n": k} for s, m, sd, k in pts]


def test_still_rising_needs_a_gain_per_doubling_beyond_the_seed_noise():
    curves_ = {
        "PER": _curve((100, 0.60, 0.01, 3), (200, 0.70, 0.01, 3)),   # +10 points, tiny noise
        "LOC": _curve((100, 0.80, 0.01, 3), (200, 0.805, 0.01, 3)),  # +0.5: saturated
        "ORG": _curve((100, 0.40, 0.10, 3), (200, 0.45, 0.10, 3)),   # +5 but noise ±8 (2 se)
        "MISC": _curve((100, 0.30, 0.0, 1), (400, 0.36, 0.0, 1)),    # +3 per doubling, 1 seed
        "ONE": _curve((100, 0.3, 0.0, 1)),
    }
    assert still_rising(curves_) == ["PER", "MISC"]
    gains = last_gains(curves_)
    assert gains["MISC"]["per_doubling"] == pytest.approx(0.03)
    assert gains["ORG"]["noise"] == pytest.approx(math.sqrt(2 * 0.01 / 3))
    assert "ONE" not in gains
    assert still_rising(curves_, min_gain=0.2) == []
