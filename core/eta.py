"""Time left of a training run, from its metrics lines (engine/events.py: each event with
its "time" stamp and "step"). Pure: records in, seconds out; the caller passes the clock.

The estimate is built so that it does not jump about on a steady run:

* **Only the current attempt counts.** Records before the last ``start`` event belong to an
  earlier attempt (a run cancelled yesterday and resumed today); its gap would make the rate
  meaningless.
* **Warm-up is left out.** The clock starts at the first ``log`` line, so loading the data,
  the first batch's kernel compilation or CUDA-graph capture do not count as step time.
* **Step time and evaluation pauses are measured apart.** An evaluation (with the checkpoint
  the loop writes after it) is a pause: from the ``log`` line at its step to the last record at
  that step. The step time is the training seconds per optimizer step over the newest half of
  the logged intervals (at least `MIN_WINDOW` of them), pauses taken out: a windowed mean,
  steady but following a run that speeds up or slows down. Checkpoints written on their own
  (``checkpoint_every``, ``checkpoint_minutes``) are not taken out: they count as step time.
* **Evaluations still to come are added back**, each at the mean cost of those seen in this
  attempt. Where they fall: every `eval_every` steps when the caller knows it, else every
  interval between the evaluations seen, else once per epoch (the steps per epoch read from
  the log lines' fractional epoch), and always at the last step. A pause is timed once the
  next log line shows training went on. Before the first one is timed its cost is unknown
  and counts as 0, so the estimate rises once, by the cost of the evaluations still to come;
  after that a steady run's estimate is exact.
* **Between log lines it counts down**: the time left at the newest log line minus the
  seconds since, never below 0. Records after that line (an evaluation, a checkpoint) are a
  pause in progress, its evaluation counted as still to come until the next log line.

An evaluation at a step without a log line (``eval_every`` not a multiple of ``log_every``)
cannot be timed from one: its pause is what its interval took beyond the step time of the
intervals without one. When no interval is free of evaluations (evaluating more often than
logging), the pauses stay inside the step time (amortised) once `MIN_WINDOW` intervals are in.

It says nothing (None, "estimating…") until it has measured enough: at least `MIN_LOGS` log
lines (one measured interval), `MIN_SECONDS` of measured training, and either `MIN_FRACTION`
of the attempt's steps or `ENOUGH_SECONDS` of measured training (so a long run does not wait
for 5 % of its steps). What it leaves out: the end of a run (scoring the test split, saving
the model and the report), and early stopping, which makes any estimate an upper bound.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from statistics import median
from typing import Iterable, Mapping

MIN_LOGS = 2            # log lines of this attempt: the first one starts the clock
MIN_SECONDS = 10.0      # measured training seconds (after the first log line)
MIN_FRACTION = 0.05     # of the attempt's steps done ...
ENOUGH_SECONDS = 60.0   # ... or this much measured training, whichever comes first
WINDOW_SHARE = 0.5      # the step time is measured over the newest half of the intervals
MIN_WINDOW = 3          # and over at least this many (all of them while there are fewer)
PAUSES = ("eval", "checkpoint")  # records that follow the log line of their step


@dataclass(frozen=True)
class Eta:
    """An estimate: `seconds` left from the caller's clock (≥ 0), the `step_time` it assumed
    (seconds per optimizer step, pauses excluded), the evaluations still to come and the
    seconds each costs (None: none has been timed yet, counted as 0)."""

    seconds: float
    step_time: float
    evals_left: int
    eval_time: float | None


def remaining(records: Iterable[Mapping], total_steps: int | None, now: float | None = None,
              *, eval_every: int | None = None) -> float | None:
    """Seconds left (≥ 0), or None while there is not enough to go on; see `estimate`."""
    found = estimate(records, total_steps, now, eval_every=eval_every)
    return None if found is None else found.seconds


def estimate(records: Iterable[Mapping], total_steps: int | None, now: float | None = None,
             *, eval_every: int | None = None) -> Eta | None:
    """The time left of a run whose metrics lines are `records` (oldest first) and whose
    length is `total_steps`, at clock `now` (None: at its newest record). `eval_every`: the
    run config's setting when known (None: evaluations at epoch ends, or as observed)."""
    if not isinstance(total_steps, (int, float)) or isinstance(total_steps, bool) or total_steps <= 0:
        return None
    attempt = _current_attempt(records)
    if not attempt:
        return None
    logs = _logs(attempt)
    if len(logs) < MIN_LOGS:
        return None
    ends = _pause_ends(attempt)
    evals = sorted({_step(r) for r in attempt if r.get("event") == "eval"})
    clean, dirty, pauses = _intervals(logs, ends, set(evals))
    measured = sum(i[1] for i in clean + dirty)
    first_step = _step(attempt[0]) if attempt[0].get("event") == "start" else logs[0][1]
    last_step = max(_step(r) for r in attempt)
    to_do = max(total_steps - first_step, 1)
    done = last_step - first_step
    if measured < MIN_SECONDS or (done < MIN_FRACTION * to_do and measured < ENOUGH_SECONDS):
        return None
    if not clean and len(dirty) < MIN_WINDOW:
        return None  # every interval holds an untimed evaluation: wait for enough to average
    step_time = _step_time(clean or [(steps, seconds) for steps, seconds, _ in dirty])
    if step_time is None:
        return None
    if clean:  # an evaluation with no log line at its step: its pause is what the steps leave
        pauses += [max(0.0, seconds - steps * step_time) / inside
                   for steps, seconds, inside in dirty for _ in range(inside)]
    eval_time = sum(pauses) / len(pauses) if pauses else None
    every = _eval_interval(eval_every, evals, logs)
    here = last_step in evals or last_step >= total_steps or _due(every, last_step)
    left = _evals_left(every, last_step, total_steps) + here
    # the clock runs from the newest log line; records after it (an evaluation, a checkpoint)
    # are a pause in progress, which started once the steps since that line were done
    log_time, log_step, _ = logs[-1]
    ref = log_time + (last_step - log_step) * step_time
    at_ref = max(0.0, total_steps - last_step) * step_time + left * (eval_time or 0.0)
    now = max(_time(r) for r in attempt) if now is None else now
    return Eta(seconds=max(0.0, at_ref - max(0.0, now - ref)), step_time=step_time,
               evals_left=left, eval_time=eval_time)


# ---- reading the records ------------------------------------------------------------------

def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _time(record: Mapping) -> float:
    return float(record["time"])


def _step(record: Mapping) -> int:
    return int(record["step"])


def _current_attempt(records: Iterable[Mapping]) -> list[Mapping]:
    """The well-formed records (a time and a step) from the last start event on."""
    kept = [r for r in records if isinstance(r, Mapping) and _number(r.get("time"))
            and _number(r.get("step"))]
    starts = [i for i, r in enumerate(kept) if r.get("event") == "start"]
    return kept[starts[-1]:] if starts else kept


def _logs(attempt: list[Mapping]) -> list[tuple[float, int, float | None]]:
    """(time, step, epoch) of each log line, steps and times increasing."""
    out: list[tuple[float, int, float | None]] = []
    for r in attempt:
        if r.get("event") != "log":
            continue
        t, step = _time(r), _step(r)
        if out and (step <= out[-1][1] or t < out[-1][0]):
            continue  # out of order: a clock change or a torn file; ignore it
        epoch = r.get("epoch")
        out.append((t, step, float(epoch) if _number(epoch) else None))
    return out


def _pause_ends(attempt: list[Mapping]) -> dict[int, tuple[float, bool]]:
    """For each step with a log line followed by eval or checkpoint records at the same
    step: (time of the last of them, whether one of them is an evaluation)."""
    ends: dict[int, tuple[float, bool]] = {}
    logged: set[int] = set()
    for r in attempt:
        event, step = r.get("event"), _step(r)
        if event == "log":
            logged.add(step)
        elif event in PAUSES and step in logged:
            end, is_eval = ends.get(step, (_time(r), False))
            ends[step] = (max(end, _time(r)), is_eval or event == "eval")
    return ends


def _intervals(logs, ends, evals: set[int]):
    """(clean, dirty, pauses): (steps, training seconds) between consecutive log lines with
    no evaluation inside (the evaluation pause after a log line taken out), the same with
    (steps, seconds, evaluations inside) for intervals that hold an evaluation without a log
    line at its step (eval_every not a multiple of log_every), and the evaluation pauses
    measured: from a log line to the last record at its step, once the next log line says
    the pause is over."""
    pauses, clean, dirty = [], [], []
    for (t_a, s_a, _), (t_b, s_b, _) in zip(logs, logs[1:]):
        begin = t_a
        if s_a in ends and ends[s_a][1]:  # an evaluation (and its checkpoint) after this log
            end = ends[s_a][0]
            pauses.append(max(0.0, end - t_a))
            begin = max(t_a, min(end, t_b))
        inside = sum(s_a < e < s_b for e in evals)
        if inside:
            dirty.append((s_b - s_a, t_b - begin, inside))
        else:
            clean.append((s_b - s_a, t_b - begin))
    return clean, dirty, pauses


def _step_time(intervals: list[tuple[int, float]]) -> float | None:
    """Seconds per step over the newest WINDOW_SHARE of the intervals (≥ MIN_WINDOW)."""
    width = min(len(intervals), max(MIN_WINDOW, math.ceil(WINDOW_SHARE * len(intervals))))
    window = intervals[-width:]
    steps = sum(s for s, _ in window)
    seconds = sum(t for _, t in window)
    if steps <= 0 or seconds < 0:
        return None
    return seconds / steps


# ---- evaluations still to come ------------------------------------------------------------

def _eval_interval(eval_every, evals: list[int], logs) -> float | None:
    """Steps between evaluations: the config's eval_every, else the median gap between those
    seen, else the steps per epoch (evaluations at epoch ends); None when unknown."""
    if _number(eval_every) and eval_every > 0:
        return float(eval_every)
    if len(evals) >= 2:
        gap = median(b - a for a, b in zip(evals, evals[1:]))
        if gap > 0:
            return float(gap)
    for _, step, epoch in reversed(logs):
        if epoch and epoch > 0 and step > 0:
            return step / epoch
    return None


def _due(every: float | None, step: int) -> bool:
    """Whether `step` is an evaluation step of the schedule."""
    if every is None or every < 1:
        return False
    i = round(step / every)
    return i >= 1 and abs(i * every - step) < 0.5


def _evals_left(every: float | None, last_step: int, total: float) -> int:
    """Evaluations after `last_step`: every `every` steps before the last one, and one at
    the last step."""
    if last_step >= total:
        return 0
    left = 1  # the last step always evaluates
    if every is not None and every >= 1:
        before_end = math.ceil((total - 0.5) / every) - 1   # evaluation steps before the last
        done = math.floor((last_step + 0.5) / every)         # those up to last_step
        left += max(0, before_end - done)
    return left
