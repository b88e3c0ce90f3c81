"""Learning-rate multipliers as pure functions of the step: linear warmup, then a decay shape.

Steps are 0-based and the optimizer step `s` uses `lr * multiplier(s)`. With W warmup steps
and T total steps:

* warmup, s < W: `(s + 1) / (W + 1)`, so the first step already moves (no wasted step at
  lr 0) and the line, extended, reaches exactly 1 at s == W;
* s == W: exactly 1, whatever the kind (continuous with the warmup line);
* W <= s <= T: the decay shape of `kind`, which reaches its floor exactly at s == T;
  steps past T stay at the value at T (a loop that overshoots by a step does not crash).

When W == T there is no room to decay and the multiplier at T is 1 (warmup wins).
Each decay shape is registered in SCHEDULES under a versioned name; run configs refer to
that name and its parameters. Everything is numpy-vectorised: `lr_curve` and
`lr_multiplier` run the same code, so a plotted curve equals the per-step values exactly.
"""
from __future__ import annotations

import math
import operator
from typing import Callable

import numpy as np

from core.errors import ConfigError
from core.registry import Registry

SCHEDULES = Registry("schedule")


# --- decay shapes ----------------------------------------------------------------------
# Each takes `since` (steps after warmup, float64 array, 0..span), `span` (T - W, the decay
# length, may be 0) and `warmup_steps`, plus keyword parameters, and returns the multiplier.


def _progress(since: np.ndarray, span: int) -> np.ndarray:
    """Fraction of the decay done, 0 at the end of warmup and 1 at total_steps."""
    if span == 0:
        return np.zeros_like(since)
    return since / span


def _check_ratio(kind: str, name: str, value: float) -> float:
    """A floor multiplier must lie in [0, 1] or the schedule would rise or go negative."""
    value = _check_number(kind, name, value)
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"schedule {kind!r}: {name} must be in [0, 1], got {value}")
    return value


def _check_positive(kind: str, name: str, value: float) -> float:
    value = _check_number(kind, name, value)
    if not value > 0.0:
        raise ConfigError(f"schedule {kind!r}: {name} must be > 0, got {value}")
    return value


def _check_number(kind: str, name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"schedule {kind!r}: {name} must be a number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ConfigError(f"schedule {kind!r}: {name} must be finite, got {value}")
    return value


def _lift(shape: np.ndarray, floor: float) -> np.ndarray:
    """Map a shape falling from 1 to 0 onto [floor, 1].

    `floor + (1 - floor) * shape` is exact at both ends in float64 (shape 1 gives 1, shape 0
    gives floor) and monotone in `shape`, so the endpoint and monotonicity properties hold
    without tolerance.
    """
    return floor + (1.0 - floor) * shape


@SCHEDULES.register("constant.v1")
def constant(since: np.ndarray, span: int, warmup_steps: int) -> np.ndarray:
    """1 after warmup."""
    return np.ones_like(since)


@SCHEDULES.register("linear.v1")
def linear(since: np.ndarray, span: int, warmup_steps: int, *,
           end_ratio: float = 0.0) -> np.ndarray:
    """Straight line from 1 to end_ratio."""
    end_ratio = _check_ratio("linear.v1", "end_ratio", end_ratio)
    # Written as the power-1 polynomial so that polynomial.v1 with power 1 equals it exactly.
    return _lift(1.0 - _progress(since, span), end_ratio)


@SCHEDULES.register("cosine.v1")
def cosine(since: np.ndarray, span: int, warmup_steps: int, *, cycles: float = 0.5,
           min_ratio: float = 0.0) -> np.ndarray:
    """Cosine from 1 towards min_ratio; cycles as HF's num_cycles (0.5 = one half-cosine).

    Only cycles <= 0.5 is non-increasing, and only cycles in {0.5, 1.5, ...} ends at the floor.
    """
    cycles = _check_positive("cosine.v1", "cycles", cycles)
    min_ratio = _check_ratio("cosine.v1", "min_ratio", min_ratio)
    shape = 0.5 * (1.0 + np.cos(2.0 * math.pi * cycles * _progress(since, span)))
    return _lift(shape, min_ratio)


@SCHEDULES.register("polynomial.v1")
def polynomial(since: np.ndarray, span: int, warmup_steps: int, *, power: float = 1.0,
               end_ratio: float = 0.0) -> np.ndarray:
    """(1 - progress) ** power from 1 to end_ratio; power 1 is linear.v1."""
    power = _check_positive("polynomial.v1", "power", power)
    end_ratio = _check_ratio("polynomial.v1", "end_ratio", end_ratio)
    return _lift((1.0 - _progress(since, span)) ** power, end_ratio)


@SCHEDULES.register("inverse_sqrt.v1")
def inverse_sqrt(since: np.ndarray, span: int, warmup_steps: int, *,
                 timescale: float | None = None) -> np.ndarray:
    """sqrt(timescale / (timescale + steps after warmup)); no floor, never reaches 0.

    timescale defaults to warmup_steps (the classic sqrt(warmup / step)); with no warmup
    it defaults to a tenth of the run (at least 1) so the rate ends near 0.3, not near 0.
    """
    if timescale is None:
        timescale = warmup_steps if warmup_steps > 0 else max(1.0, 0.1 * span)
    timescale = _check_positive("inverse_sqrt.v1", "timescale", timescale)
    return np.sqrt(timescale / (timescale + since))


# --- public API ------------------------------------------------------------------------


def _check_step_count(name: str, value: object) -> int:
    """An int-like count (numpy ints too); bools and floats are config mistakes."""
    if isinstance(value, bool):
        raise ConfigError(f"{name} must be an integer, got {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise ConfigError(f"{name} must be an integer, got {value!r}") from None


def _resolve(kind: str, params: dict) -> Callable[..., np.ndarray]:
    """The decay shape of `kind`, with unknown parameter names rejected by name."""
    if not isinstance(kind, str):
        raise ConfigError(f"schedule kind must be a name like 'linear.v1', got {kind!r}")
    return SCHEDULES.bind(kind, params)


def _check_lengths(total_steps: object, warmup_steps: object) -> tuple[int, int]:
    total = _check_step_count("total_steps", total_steps)
    warmup = _check_step_count("warmup_steps", warmup_steps)
    if total <= 0:
        raise ConfigError(f"total_steps must be > 0, got {total}")
    if warmup < 0:
        raise ConfigError(f"warmup_steps must be >= 0, got {warmup}")
    if warmup > total:
        raise ConfigError(f"warmup_steps ({warmup}) must not exceed total_steps ({total})")
    return total, warmup


def _multipliers(steps: np.ndarray, total: int, warmup: int, kind: str,
                 params: dict) -> np.ndarray:
    """Multipliers of validated int steps >= 0 (float64 array of the same shape)."""
    shape = _resolve(kind, params)
    steps = np.minimum(steps, total).astype(np.float64)
    since = np.maximum(steps - warmup, 0.0)
    decayed = shape(since, total - warmup, warmup, **params)
    rising = (steps + 1.0) / (warmup + 1.0)
    return np.where(steps < warmup, rising, decayed)


def lr_multiplier(step: int, total_steps: int, warmup_steps: int, kind: str = "linear.v1",
                  **params: float) -> float:
    """Factor on the base learning rate at 0-based optimizer step `step` (see module doc)."""
    total, warmup = _check_lengths(total_steps, warmup_steps)
    step = _check_step_count("step", step)
    if step < 0:
        raise ConfigError(f"step must be >= 0, got {step}")
    return float(_multipliers(np.array([step]), total, warmup, kind, params)[0])


def lr_curve(total_steps: int, warmup_steps: int, kind: str = "linear.v1",
             **params: float) -> np.ndarray:
    """Multipliers at steps 0..total_steps (length total_steps + 1), for plotting."""
    total, warmup = _check_lengths(total_steps, warmup_steps)
    return _multipliers(np.arange(total + 1), total, warmup, kind, params)


def check_schedule(kind: str, **params: float) -> None:
    """Raise ConfigError if `kind` or its parameters are invalid (for validating configs)."""
    lr_curve(1, 0, kind, **params)
