"""core/eta.py: the time left of a run from its metrics lines, checked on simulated runs
written the way engine/loop.py and the worker write them (start; a log line every log_every
steps, at epoch ends and at the last step; an evaluation then a checkpoint at each evaluation
step and at the last step), polled the way the Runs page polls (every few seconds)."""
from __future__ import annotations

import bisect
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from core import eta

TOL = 1e-6


def simulate(total: int, log_every: int, step_times: list[float], *, per_epoch: int | None = None,
             eval_every: int | None = None, eval_cost: float = 0.0, ckpt_cost: float = 0.0,
             warmup: float = 0.0, t0: float = 1_000.0, start_step: int = 0) -> list[dict]:
    """The metrics lines of a run of `total` steps; step i takes step_times[i - 1] seconds."""
    records = [{"event": "start", "step": start_step, "time": t0, "total_steps": total}]
    t = t0 + warmup
    for step in range(start_step + 1, total + 1):
        t += step_times[step - 1]
        epoch_done = bool(per_epoch) and step % per_epoch == 0
        if step % log_every == 0 or step == total or epoch_done:
            records.append({"event": "log", "step": step, "time": t, "loss": 0.5,
                            "epoch": step / per_epoch if per_epoch else None})
        due = (step % eval_every == 0) if eval_every else epoch_done
        if (due or step == total) and (eval_cost or ckpt_cost or per_epoch or eval_every):
            t += eval_cost
            records.append({"event": "eval", "step": step, "time": t, "metric": "f1_micro",
                            "value": 0.5})
            t += ckpt_cost
            records.append({"event": "checkpoint", "step": step, "time": t, "path": "x"})
    return records


def polls(records: list[dict], every: float):
    """(now, the records written by then) every `every` seconds of the run."""
    times = [r["time"] for r in records]
    now = times[0]
    while now <= times[-1] + every:
        yield now, records[:bisect.bisect_right(times, now)]
        now += every


def pauses(records: list[dict]) -> int:
    return sum(r["event"] == "eval" for r in records)


@st.composite
def steady_runs(draw, noise: float = 0.0):
    """(records, total, eval_every, step time, pause per evaluation) of a run with a steady
    step time (± `noise` of it) and evaluations at epoch ends or every eval_every steps, where
    log lines fall (each pause timed from its log line; the other case is tested below)."""
    epochs = draw(st.integers(1, 4))
    per_epoch = draw(st.integers(8, 60))
    total = epochs * per_epoch
    log_every = draw(st.integers(1, 12))
    step = draw(st.floats(0.05, 2.0))
    by_steps = draw(st.booleans())  # else at epoch ends, which always write a log line
    eval_every = log_every * draw(st.integers(1, 6)) if by_steps else None
    eval_cost, ckpt_cost = draw(st.floats(0.0, 20.0)), draw(st.floats(0.0, 5.0))
    warmup = draw(st.floats(0.0, 30.0))
    rng = random.Random(draw(st.integers(0, 2**32)))
    times = [step * (1 + rng.uniform(-noise, noise)) for _ in range(total)]
    records = simulate(total, log_every, times, per_epoch=per_epoch, eval_every=eval_every,
                       eval_cost=eval_cost, ckpt_cost=ckpt_cost, warmup=warmup)
    return records, total, eval_every, step, eval_cost + ckpt_cost


def _enough(seen: list[dict], total: int) -> bool:
    """Whether the documented thresholds can have been met (a necessary condition)."""
    logs = [r for r in seen if r["event"] == "log"]
    if len(logs) < eta.MIN_LOGS:
        return False
    measured = seen[-1]["time"] - logs[0]["time"]  # at most this much was measured
    done = max(r["step"] for r in seen) / total
    return measured >= eta.MIN_SECONDS and (done >= eta.MIN_FRACTION or measured >= eta.ENOUGH_SECONDS)


@settings(max_examples=40, deadline=None)
@given(steady_runs(noise=0.3), st.floats(0.5, 5.0))
def test_never_negative_and_none_until_enough_is_measured(run, every):
    records, total, eval_every, _, _ = run
    for now, seen in polls(records, every):
        got = eta.remaining(seen, total, now, eval_every=eval_every)
        assert got is None or got >= 0.0
        if not _enough(seen, total):
            assert got is None


@settings(max_examples=40, deadline=None)
@given(steady_runs(), st.floats(0.5, 5.0))
def test_exact_for_a_constant_rate_once_an_evaluation_is_timed(run, every):
    """A steady run's estimate is the true time left as soon as it is given (no pauses) or
    once the first evaluation's pause has been timed; before that it is short by exactly the
    cost of the evaluations to come, which nothing could know."""
    records, total, eval_every, _, pause = run
    end = records[-1]["time"]
    for now, seen in polls(records, every):
        found = eta.estimate(seen, total, now, eval_every=eval_every)
        if found is None:
            continue
        truth = max(0.0, end - now)
        if found.eval_time is not None or pause == 0:
            assert found.seconds == pytest.approx(truth, abs=TOL * (1 + end - records[0]["time"]))
        else:
            assert truth - found.evals_left * pause - TOL <= found.seconds <= truth + TOL


@settings(max_examples=40, deadline=None)
@given(steady_runs(), st.floats(0.5, 5.0))
def test_no_jumps_on_a_steady_run_with_evaluation_pauses(run, every):
    """Between two polls the estimate falls by the time that passed. The one allowed jump is
    when the first evaluation has been timed: the estimate then rises by the evaluations
    still to come, at most their total cost (here `pause` each); afterwards it is 0."""
    records, total, eval_every, _, pause = run
    bound = pauses(records) * pause + 1e-6 * (records[-1]["time"] - records[0]["time"] + 1)
    before = None
    for now, seen in polls(records, every):
        found = eta.estimate(seen, total, now, eval_every=eval_every)
        if found is not None and before is not None:
            then, earlier = before
            jump = abs(found.seconds - max(0.0, earlier.seconds - (now - then)))
            if earlier.eval_time is not None or pause == 0:
                assert jump <= 1e-6 * (records[-1]["time"] - records[0]["time"] + 1)
            else:
                assert jump <= bound
        before = (now, found) if found is not None else before


@settings(max_examples=40, deadline=None)
@given(steady_runs(noise=0.25), st.floats(0.5, 5.0))
def test_converges_when_step_times_vary(run, every):
    """Step times within ± 25 % of `step`: once an evaluation is timed, the error is at most
    the spread of the steps still to do (2 × 25 % × step each), so it shrinks to 0 at the end."""
    records, total, eval_every, step, pause = run
    end = records[-1]["time"]
    last = None
    for now, seen in polls(records, every):
        found = eta.estimate(seen, total, now, eval_every=eval_every)
        last = found if found is not None else last
        if found is None or (found.eval_time is None and pause > 0):
            continue
        steps_left = total - max(r["step"] for r in seen)
        assert abs(found.seconds - max(0.0, end - now)) <= 2 * 0.25 * step * steps_left * 1.0001 + 1e-6
    assert last is None or last.seconds == 0.0  # at the end: nothing left, exactly (None: too short)


def test_the_reported_case_a_slow_start_and_evaluations_do_not_throw_it():
    """The issue's run: 450 steps in 2 min 48 s, a slow first batch, 3 evaluations. The old
    rate over the last six log lines said 12 min, then 20 min, then 1 min 17 s in 90 s."""
    per_epoch, total = 150, 450
    times = [0.3] * total
    times[0] = 20.0  # the first batch: kernels compiled, caches filled
    records = simulate(total, 10, times, per_epoch=per_epoch, eval_cost=4.0, ckpt_cost=1.5)
    end = records[-1]["time"]
    seen_any = False
    for now, seen in polls(records, 2.0):
        got = eta.remaining(seen, total, now)
        if got is None:
            continue
        seen_any = True
        truth = max(0.0, end - now)
        assert truth - 3 * 5.5 - 1e-6 <= got <= truth + 1e-6  # never more than the evals off
    assert seen_any


def test_none_early_and_for_unknown_lengths():
    records = simulate(100, 10, [0.5] * 100)                # a log line every 5 s
    assert eta.remaining(records[:2], 100) is None          # one log line: no interval yet
    assert eta.remaining(records[:3], 100) is None          # 20 % done, but only 5 s measured
    assert eta.remaining(records[:4], 100) == pytest.approx(35.0)
    assert eta.remaining(records, None) is None and eta.remaining(records, 0) is None
    assert eta.remaining([], 100) is None


def test_long_runs_need_a_minute_not_five_percent():
    records = simulate(10_000, 10, [1.0] * 10_000)[:8]     # log lines at steps 10 ... 70
    assert eta.remaining(records[:7], 10_000) is None       # 50 s measured, 0.6 % done
    assert eta.remaining(records[:8], 10_000) == pytest.approx(10_000 - 70.0)  # 60 s


def test_counts_down_between_records_and_stops_at_zero():
    records = simulate(100, 10, [1.0] * 100)[:6]           # last log at step 50, t0 + 50
    t = records[-1]["time"]
    assert eta.remaining(records, 100, t) == pytest.approx(50.0)
    assert eta.remaining(records, 100, t + 20) == pytest.approx(30.0)
    assert eta.remaining(records, 100, t + 500) == 0.0


def test_only_the_current_attempt_counts():
    """A run cancelled at step 40, resumed an hour later: the gap is no step time."""
    first = simulate(100, 10, [1.0] * 100)[:5]
    second = simulate(100, 10, [2.0] * 100, t0=first[-1]["time"] + 3600, start_step=40)
    records = first + [{"event": "resume", "step": 40, "time": second[0]["time"] - 1}] + second
    seen = records[: len(first) + 1 + 5]                   # resumed, logs at 50, 60, 70, 80
    assert eta.remaining(seen, 100) == pytest.approx(2.0 * 20)


def test_evaluations_between_log_lines_are_timed_from_the_step_time():
    times = [1.0] * 100
    records = simulate(100, 10, times, eval_every=25, eval_cost=7.0)
    seen = [r for r in records if r["step"] <= 60]          # evals at 25 and 50 (unlogged)
    found = eta.estimate(seen, 100, eval_every=25)
    assert found.eval_time == pytest.approx(7.0)
    assert found.evals_left == 2                            # 75 and 100
    assert found.seconds == pytest.approx(40 * 1.0 + 2 * 7.0)


def test_evaluating_more_often_than_logging_amortises_the_pauses():
    """eval_every 5, log_every 12: every interval holds untimed evaluations; after
    MIN_WINDOW of them the pauses are averaged into the step time."""
    records = simulate(120, 12, [1.0] * 120, eval_every=5, eval_cost=2.0)
    logs = [i for i, r in enumerate(records) if r["event"] == "log"]
    assert eta.remaining(records[: logs[2] + 1], 120, eval_every=5) is None   # two intervals
    found = eta.estimate(records[: logs[3] + 1], 120, eval_every=5)           # three
    truth = records[-1]["time"] - records[logs[3]]["time"]
    assert found is not None and abs(found.seconds - truth) <= 24 * 2.0


def test_damaged_records_are_skipped():
    records = simulate(100, 10, [1.0] * 100)[:6]
    junk = ["oops", {"event": "log"}, {"event": "log", "step": True, "time": 1.0},
            {"event": "log", "step": 5, "time": float("nan")}, None]
    assert eta.remaining(records + junk, 100) == pytest.approx(50.0)
