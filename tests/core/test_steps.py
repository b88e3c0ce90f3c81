"""core.config.total_steps: the one optimiser-step count (training loop and Train page)."""
from __future__ import annotations

import math

from hypothesis import given, settings, strategies as st

from core.config import RunConfig, config_to_dict, total_steps

SETTINGS = settings(max_examples=300, deadline=None)
sizes = st.integers(0, 5000)
knobs = st.fixed_dictionaries({"batch_size": st.integers(1, 64), "grad_accum": st.integers(1, 9),
                               "epochs": st.integers(1, 6),
                               "max_steps": st.none() | st.integers(1, 500)})


def brute_force(n: int, batch_size: int, grad_accum: int, epochs: int,
                max_steps: int | None) -> int:
    """Steps counted by walking the batches: one step per grad_accum batches, a shorter group
    at the end of an epoch still steps, and an epoch without batches counts one step."""
    if max_steps:
        return max_steps
    steps = 0
    for _ in range(epochs):
        group = 0
        before = steps
        for _start in range(0, n, batch_size):
            group += 1
            if group == grad_accum:
                steps, group = steps + 1, 0
        if group:
            steps += 1
        if steps == before:
            steps += 1
    return steps


def loop_formula(cfg: RunConfig, n_batches: int) -> int:
    """engine.loop.total_steps_for as it was written before it called total_steps."""
    per_epoch = max(1, math.ceil(n_batches / cfg.grad_accum))
    return cfg.max_steps or per_epoch * cfg.epochs


def page_formula(cfg: dict, n: int) -> int:
    """pages/train.estimate_steps' count as it was written before it called total_steps."""
    batches = math.ceil(max(n, 1) / max(1, cfg["batch_size"]))
    per_epoch = max(1, math.ceil(batches / max(1, cfg["grad_accum"])))
    return cfg.get("max_steps") or per_epoch * max(1, cfg["epochs"])


@SETTINGS
@given(n=sizes, knob=knobs)
def test_total_steps_counts_the_batches(n, knob):
    assert total_steps(n, RunConfig(**knob)) == brute_force(n, **knob)


@SETTINGS
@given(n=sizes, knob=knobs)
def test_total_steps_is_the_loops_and_the_pages_former_formula(n, knob):
    cfg = RunConfig(**knob)
    n_batches = math.ceil(n / cfg.batch_size)
    assert total_steps(n, cfg) == loop_formula(cfg, n_batches)
    # the replacement body of engine.loop.total_steps_for: total_steps(n_batches * batch_size)
    assert total_steps(n_batches * cfg.batch_size, cfg) == loop_formula(cfg, n_batches)
    assert total_steps(n, config_to_dict(cfg)) == page_formula(config_to_dict(cfg), n)


@given(n=sizes, knob=knobs)
def test_a_mapping_counts_as_its_config(n, knob):
    cfg = RunConfig(**knob)
    assert total_steps(n, config_to_dict(cfg)) == total_steps(n, cfg)


def test_unvalidated_page_values_count_as_one():
    """The Train page draws values before validation: no ZeroDivisionError, one per epoch."""
    d = {"batch_size": 0, "grad_accum": 0, "epochs": 0, "max_steps": None}
    assert total_steps(10, d) == page_formula(d, 10) == 10
    assert total_steps(0, {**d, "batch_size": 8, "grad_accum": 1, "epochs": 3}) == 3
    assert total_steps(100, {**d, "max_steps": 7}) == 7


def test_large_counts_are_exact():
    n = 2**60 + 1
    assert total_steps(n, {"batch_size": 1, "grad_accum": 1, "epochs": 1,
                           "max_steps": None}) == n
