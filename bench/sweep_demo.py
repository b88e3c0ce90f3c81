"""A 12-trial TPE sweep of the demo NER run on this machine, through the real queue.

python bench/sweep_demo.py [--trials 12] [--seeds 3] [--max-train-examples 800] \
    [--out bench/results/sweep_demo_cpu.json]

Prints and saves:
  - the default configuration (examples/demo_ner.toml) trained with `--seeds` seeds: dev
    entity micro F1 mean ± std;
  - the sweep (examples/sweeps/demo_ner.toml's space, TPE, median pruner): the best trial's
    dev F1 and params, and each trial's state, value and wall time;
  - what the sweep machinery adds per trial: the time of each scheduler pass that ticks the
    sweep (engine.sweep.tick: Optuna storage, ask, report, prune), and the gap between one
    trial's run ending and the next one's starting (queue polling, worker start-up);
  - the trial time pruning saved: for each pruned run, the optimizer steps it did not train
    times its own seconds per step.

Every run is an ordinary queued run in a fresh workspace (--workspace, default a temp folder),
trained by `python -m engine.worker` subprocesses as in production.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _run_seconds(run: dict) -> float | None:
    status = run["status"]
    start, end = status.get("started_at"), status.get("finished_at")
    return end - start if isinstance(start, (int, float)) and isinstance(end, (int, float)) else None


def default_runs(store, base: dict, seeds: int) -> dict:
    from engine import queue
    from engine.sweep import run_value

    ids = [queue.submit(store, {**base, "seed": 42 + i, "name": f"default · seed {42 + i}"})
           for i in range(seeds)]
    t0 = time.monotonic()
    queue.drive(store, lambda: all(store.get_run(i)["state"] not in ("queued", "running") for i in ids))
    runs = [store.get_run(i) for i in ids]
    values = [run_value(r, "f1_micro") for r in runs]
    print(f"default config, {seeds} seeds: dev F1 " + ", ".join(f"{v:.4f}" for v in values), flush=True)
    return {"run_ids": ids, "dev_f1": values, "mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "wall_s": time.monotonic() - t0, "run_s": [_run_seconds(r) for r in runs]}


def run_sweep(store, spec) -> dict:
    from engine import queue, sweep

    sweep_id = sweep.create(store, spec)
    ticks: list[float] = []
    real_tick = sweep.tick

    def timed_tick(*args, **kwargs):
        t = time.perf_counter()
        try:
            return real_tick(*args, **kwargs)
        finally:
            ticks.append(time.perf_counter() - t)

    sweep.tick = timed_tick  # the scheduler's pass calls engine.sweep.tick through tick_all
    t0 = time.monotonic()
    try:
        queue.drive(store, lambda: sweep.is_finished(store, sweep_id))
    finally:
        sweep.tick = real_tick
    wall = time.monotonic() - t0
    shown = sweep.show(store, sweep_id)
    runs = {r["id"]: r for r in store.tagged("sweep", sweep_id)}
    ordered = sorted(runs.values(), key=lambda r: r["status"].get("started_at") or 0)
    gaps = [b["status"]["started_at"] - a["status"]["finished_at"] for a, b in zip(ordered, ordered[1:])
            if a["status"].get("finished_at") and b["status"].get("started_at")]
    saved = 0.0
    trials = []
    for t in shown["trials"]:
        run = runs.get(t["run_id"]) or {}
        status = run.get("status", {})
        secs = _run_seconds(run) if run else None
        row = {"number": t["number"], "state": t["state"], "value": t["value"], "params": t["params"],
               "run_s": secs, "steps": status.get("step"), "total_steps": status.get("total_steps"),
               "evals": len(t["intermediate"])}
        if t["state"] == "pruned" and secs and status.get("step") and status.get("total_steps"):
            row["saved_s"] = (status["total_steps"] - status["step"]) * secs / status["step"]
            saved += row["saved_s"]
        trials.append(row)
        value = "" if t["value"] is None else f"{t['value']:.4f}"
        print(f"  trial {t['number']:>2} {t['state']:<9} {value:>7} {secs or 0:6.0f} s  {t['params']}",
              flush=True)
    return {"sweep_id": sweep_id, "wall_s": wall, "best": shown["best"], "trials": trials,
            "tick_ms": {"mean": 1000 * statistics.fmean(ticks), "p95": 1000 * sorted(ticks)[int(0.95 * (len(ticks) - 1))],
                        "calls": len(ticks)} if ticks else None,
            "gap_between_trials_s": {"mean": statistics.fmean(gaps), "max": max(gaps)} if gaps else None,
            "pruned": sum(t["state"] == "pruned" for t in trials), "saved_by_pruning_s": saved,
            "trained_s": sum(t["run_s"] or 0 for t in trials)}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=12)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--max-train-examples", type=int, default=800)
    p.add_argument("--workspace", type=Path)
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "sweep_demo_cpu.json")
    args = p.parse_args()
    ws = args.workspace or Path(tempfile.mkdtemp(prefix="sweep-demo-"))
    os.environ["WORKBENCH_HOME"] = str(ws)
    from dataclasses import replace

    from engine import sweep
    from engine.store import Store

    store = Store(ws)
    spec = sweep.load_sweep_file(ROOT / "examples" / "sweeps" / "demo_ner.toml", trials=args.trials)
    base = {**spec.base, "max_train_examples": args.max_train_examples}
    spec = replace(spec, base=base)
    t0 = time.monotonic()
    default = default_runs(store, base, args.seeds)
    swept = run_sweep(store, spec)
    best = swept["best"]
    result = {"bench": "sweep_demo", "machine": f"{platform.machine()} · {os.cpu_count()} CPUs",
              "when": time.strftime("%Y-%m-%d %H:%M"), "workspace": str(ws),
              "train_examples": args.max_train_examples, "default": default, "sweep": swept,
              "best_minus_default_mean": (best["value"] - default["mean"]) if best else None,
              "total_wall_s": time.monotonic() - t0}
    print(f"\ndefault: dev F1 {default['mean']:.4f} ± {default['std']:.4f} over {args.seeds} seeds")
    if best:
        print(f"sweep best: trial {best['number']} dev F1 {best['value']:.4f} "
              f"({result['best_minus_default_mean'] * 100:+.2f} points) {best['params']}")
    if swept["tick_ms"]:
        print(f"sweep machinery: tick {swept['tick_ms']['mean']:.0f} ms mean over {swept['tick_ms']['calls']} "
              f"scheduler passes; gap between trials {swept['gap_between_trials_s']['mean']:.1f} s mean")
    print(f"pruning: {swept['pruned']} of {len(swept['trials'])} trials pruned, "
          f"{swept['saved_by_pruning_s']:.0f} s of training saved (of {swept['trained_s']:.0f} s trained)")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str))
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
