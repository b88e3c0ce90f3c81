"""The loop's events: what `engine.loop.train` yields, what the worker appends to
metrics.jsonl (with a "time" stamp), and the one progress line each becomes (`print_event`,
used by the CLI and worker.log).

Every event is a dict with "event" (one of EVENTS) and "step" (optimizer steps done):

    resume      checkpoint (path) — the run continues from that checkpoint; metrics past
                its step are dropped (first event of a resumed run). checkpoint None: an
                earlier attempt left no readable checkpoint, so training starts again at
                step 0 and all its metrics are dropped
    start       total_steps, epochs, labels, train_examples, dev_examples, test_examples,
                device, train_tokens, precision, trainable_params, total_params, notes
    log         epoch (fractional), loss, lr, grad_norm, tokens_per_s — every log_every steps,
                at each epoch end and at the last step
    eval        split ("dev"), epoch, metric, value, best (whether it improved), and the
                split headline (core/report.headline: f1_micro, f1_macro, per_type_f1 |
                accuracy)
    checkpoint  path — every checkpoint_every steps
    stopped     checkpoint (path) — asked to stop; the run is resumable; last event
    early_stop  best_step — patience ran out; the final report follows
    end         best_step, best_score, metric, step_runner, summary {split: headline} —
                report.json, predictions.jsonl and model/ are written; last event
"""
from __future__ import annotations

EVENTS = ("resume", "start", "log", "eval", "checkpoint", "stopped", "early_stop", "end")
FINAL_EVENTS = ("stopped", "end")  # one of these ends a run that did not fail


def format_event(info: dict) -> list[str]:
    """The human-readable progress line(s) of one event."""
    ev = info["event"]
    if ev == "start":
        lines = [f"start: {info['train_examples']} train / {info['dev_examples']} dev / "
                 f"{info['test_examples']} test examples, {info['total_steps']} steps on "
                 f"{info['device']} ({info['precision']}), {info['trainable_params']:,} "
                 f"trainable parameters"]
        return lines + [f"  note: {note}" for note in info.get("notes", [])]
    if ev == "log":
        return [f"step {info['step']:>6}  epoch {info['epoch']:.2f}  loss {info['loss']:.4f}  "
                f"lr {info['lr']:.2e}  {info['tokens_per_s']:,.0f} tok/s"]
    if ev == "eval":
        return [f"eval step {info['step']}: dev {info['metric']} {info['value']:.4f}"
                + ("  (best)" if info.get("best") else "")]
    if ev == "resume" and info.get("checkpoint") is None:
        return ["resume: no readable checkpoint, starting again from step 0"]
    if ev in ("resume", "stopped", "early_stop", "checkpoint"):
        return [f"{ev}: step {info['step']}"]
    if ev == "end":
        from engine.graphs import describe

        lines = [f"end: step {info['step']}, best dev {info.get('metric')} "
                 f"{info.get('best_score')} at step {info.get('best_step')}"]
        if line := describe(info.get("step_runner")):
            lines.append(f"  {line}")
        return lines
    return [f"{ev}: step {info.get('step')}"]


def print_event(info: dict) -> None:
    """Print an event's progress line(s), flushed (the CLI's output and worker.log)."""
    for line in format_event(info):
        print(line, flush=True)
