import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from core.errors import ConfigError
from core.schedules import SCHEDULES, check_schedule, lr_curve, lr_multiplier

KINDS = ["constant.v1", "linear.v1", "cosine.v1", "polynomial.v1", "inverse_sqrt.v1"]
ratios = st.floats(0.0, 1.0)


@st.composite
def schedules(draw):
    """(kind, params) with every parameter either defaulted or drawn from its valid range."""
    kind = draw(st.sampled_from(KINDS))
    choices = {
        "constant.v1": {},
        "linear.v1": {"end_ratio": ratios},
        "cosine.v1": {"cycles": st.sampled_from([0.5, 0.25, 0.1, 1.0, 1.5, 2.5]),
                      "min_ratio": ratios},
        "polynomial.v1": {"power": st.floats(0.1, 5.0), "end_ratio": ratios},
        "inverse_sqrt.v1": {"timescale": st.floats(0.5, 1000.0)},
    }[kind]
    params = {name: draw(values) for name, values in choices.items() if draw(st.booleans())}
    return kind, params


@st.composite
def lengths(draw):
    total = draw(st.integers(1, 400))
    return total, draw(st.integers(0, total))


def floor_of(kind: str, params: dict) -> float | None:
    """The value a kind must reach exactly at total_steps, None where it has no floor."""
    if kind == "constant.v1":
        return 1.0
    if kind in ("linear.v1", "polynomial.v1"):
        return params.get("end_ratio", 0.0)
    if kind == "cosine.v1" and params.get("cycles", 0.5) == 0.5:
        return params.get("min_ratio", 0.0)
    return None


def decays_monotonically(kind: str, params: dict) -> bool:
    return not (kind == "cosine.v1" and params.get("cycles", 0.5) > 0.5)


@settings(max_examples=150, deadline=None)
@given(schedules(), lengths())
def test_curve_equals_pointwise_multiplier_including_past_the_end(schedule, length):
    kind, params = schedule
    total, warmup = length
    curve = lr_curve(total, warmup, kind, **params)
    assert curve.shape == (total + 1,)
    pointwise = [lr_multiplier(s, total, warmup, kind, **params) for s in range(total + 1)]
    assert np.array_equal(curve, np.array(pointwise))
    assert lr_multiplier(total + 7, total, warmup, kind, **params) == curve[-1]


@settings(max_examples=250, deadline=None)
@given(schedules(), lengths())
def test_warmup_is_linear_and_reaches_exactly_one_at_its_end(schedule, length):
    kind, params = schedule
    total, warmup = length
    curve = lr_curve(total, warmup, kind, **params)
    steps = np.arange(warmup)
    assert np.allclose(curve[:warmup], (steps + 1) / (warmup + 1), rtol=0, atol=1e-15)
    assert np.all(np.diff(curve[: warmup + 1]) > 0)
    # Continuous at the boundary: one more warmup increment lands exactly on 1.
    assert curve[warmup] == 1.0
    if warmup > 0:
        assert math.isclose(curve[warmup] - curve[warmup - 1], 1 / (warmup + 1))


@settings(max_examples=250, deadline=None)
@given(schedules(), lengths())
def test_bounded_monotone_and_reaches_the_floor(schedule, length):
    kind, params = schedule
    total, warmup = length
    curve = lr_curve(total, warmup, kind, **params)
    assert np.all(curve >= 0.0) and np.all(curve <= 1.0)
    lowest = params.get("end_ratio", params.get("min_ratio", 0.0))
    assert np.all(curve[warmup:] >= lowest)
    if decays_monotonically(kind, params):
        assert np.all(np.diff(curve[warmup:]) <= 0.0)
    floor = floor_of(kind, params)
    if floor is not None and warmup < total:
        assert curve[total] == floor
    if kind == "cosine.v1" and (2 * params.get("cycles", 0.5)) % 2 == 1 and warmup < total:
        assert math.isclose(curve[total], params.get("min_ratio", 0.0), abs_tol=1e-12)


def test_warmup_equal_to_total_ends_at_one():
    for kind in KINDS:
        curve = lr_curve(4, 4, kind)
        assert np.array_equal(curve, [0.2, 0.4, 0.6, 0.8, 1.0])


def test_no_warmup_starts_at_one():
    for kind in KINDS:
        assert lr_multiplier(0, 50, 0, kind) == 1.0


@settings(max_examples=100, deadline=None)
@given(lengths(), st.floats(0.1, 5.0), ratios)
def test_polynomial_with_power_one_is_exactly_linear(length, power, end):
    total, warmup = length
    linear = lr_curve(total, warmup, "linear.v1", end_ratio=end)
    assert np.array_equal(lr_curve(total, warmup, "polynomial.v1", power=1.0, end_ratio=end),
                          linear)
    # Higher powers decay faster (below the line), lower powers slower.
    poly = lr_curve(total, warmup, "polynomial.v1", power=power, end_ratio=end)
    if power > 1:
        assert np.all(poly <= linear + 1e-12)
    else:
        assert np.all(poly >= linear - 1e-12)


def test_hand_checked_values():
    # T=10, W=2: decay over 8 steps; step 6 is halfway.
    assert lr_multiplier(0, 10, 2, "linear.v1") == pytest.approx(1 / 3)
    assert lr_multiplier(6, 10, 2, "linear.v1") == pytest.approx(0.5)
    assert lr_multiplier(6, 10, 2, "linear.v1", end_ratio=0.2) == pytest.approx(0.6)
    assert lr_multiplier(6, 10, 2, "cosine.v1") == pytest.approx(0.5)
    assert lr_multiplier(6, 10, 2, "cosine.v1", cycles=1.0) == pytest.approx(0.0, abs=1e-12)
    assert lr_multiplier(6, 10, 2, "polynomial.v1", power=2.0) == pytest.approx(0.25)
    assert lr_multiplier(10, 10, 2, "inverse_sqrt.v1") == pytest.approx(math.sqrt(2 / 10))
    assert lr_multiplier(8, 10, 0, "inverse_sqrt.v1", timescale=2.0) == pytest.approx(
        math.sqrt(2 / 10))
    # No warmup and no timescale: a tenth of the run, so not a collapse to ~0.
    assert lr_multiplier(100, 100, 0, "inverse_sqrt.v1") == pytest.approx(math.sqrt(10 / 110))


@settings(max_examples=25, deadline=None)
@given(st.integers(2, 200).flatmap(lambda t: st.tuples(st.just(t), st.integers(1, t - 1))),
       st.sampled_from([0.5, 1.0, 1.5]))
def test_decay_matches_transformers_after_warmup(length, cycles):
    """Differential check against Hugging Face's schedules (whose warmup is step / W)."""
    torch = pytest.importorskip("torch")
    optimization = pytest.importorskip("transformers.optimization")
    total, warmup = length

    def hf(factory, *args, **kwargs):
        optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=1.0)
        return factory(optimizer, *args, **kwargs).lr_lambdas[0]

    cases = [
        (hf(optimization.get_linear_schedule_with_warmup, warmup, total), "linear.v1", {}),
        (hf(optimization.get_cosine_schedule_with_warmup, warmup, total, num_cycles=cycles),
         "cosine.v1", {"cycles": cycles}),
        (hf(optimization.get_polynomial_decay_schedule_with_warmup, warmup, total,
            lr_end=0.1, power=2.0), "polynomial.v1", {"power": 2.0, "end_ratio": 0.1}),
        (hf(optimization.get_inverse_sqrt_schedule, warmup), "inverse_sqrt.v1", {}),
    ]
    for reference, kind, params in cases:
        ours = lr_curve(total, warmup, kind, **params)
        theirs = np.array([reference(s) for s in range(total + 1)])
        assert np.allclose(ours[warmup:], theirs[warmup:], rtol=1e-12, atol=1e-12), kind


def test_registry_names_resolve():
    assert SCHEDULES.names() == sorted(KINDS)
    for kind in KINDS:
        check_schedule(kind)
        assert callable(SCHEDULES.get(kind))


@pytest.mark.parametrize("call, names", [
    (lambda: lr_multiplier(0, 0, 0), "total_steps"),
    (lambda: lr_multiplier(0, -5, 0), "total_steps"),
    (lambda: lr_multiplier(0, 10.5, 0), "total_steps"),
    (lambda: lr_multiplier(0, True, 0), "total_steps"),
    (lambda: lr_multiplier(0, 10, -1), "warmup_steps"),
    (lambda: lr_multiplier(0, 10, 11), "warmup_steps"),
    (lambda: lr_multiplier(-1, 10, 2), "step"),
    (lambda: lr_multiplier(0, 10, 2, "cosine_warmup.v9"), "cosine_warmup.v9"),
    (lambda: lr_multiplier(0, 10, 2, "linear.v1", end_ratio=-0.1), "end_ratio"),
    (lambda: lr_multiplier(0, 10, 2, "linear.v1", end_ratio=1.5), "end_ratio"),
    (lambda: lr_multiplier(0, 10, 2, "linear.v1", min_ratio=0.1), "min_ratio"),
    (lambda: lr_multiplier(0, 10, 2, "constant.v1", end_ratio=0.1), "end_ratio"),
    (lambda: lr_multiplier(0, 10, 2, "cosine.v1", cycles=-1), "cycles"),
    (lambda: lr_multiplier(0, 10, 2, "cosine.v1", min_ratio=float("nan")), "min_ratio"),
    (lambda: lr_multiplier(0, 10, 2, "polynomial.v1", power=0), "power"),
    (lambda: lr_multiplier(0, 10, 2, "polynomial.v1", power="2"), "power"),
    (lambda: lr_multiplier(0, 10, 2, "inverse_sqrt.v1", timescale=-3), "timescale"),
    (lambda: lr_curve(10, 2, "cosine.v1", cycle=0.5), "cycle"),
    (lambda: check_schedule("linear.v1", power=2), "power"),
])
def test_invalid_arguments_raise_config_error_naming_them(call, names):
    with pytest.raises(ConfigError, match=names):
        call()


def test_numpy_integers_are_accepted():
    assert lr_multiplier(np.int64(3), np.int64(10), np.int32(2)) == pytest.approx(7 / 8)
