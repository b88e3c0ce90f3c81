"""`python -m engine sweep run|resume|list|show|stop`: Optuna sweeps over the run queue."""
from __future__ import annotations

import argparse
import json
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("sweep", help="hyperparameter sweeps (Optuna) over the queue")
    acts = p.add_subparsers(dest="action", required=True)
    r = acts.add_parser("run", help="create a sweep from a sweep file and run it in the foreground")
    r.add_argument("file", type=Path, help="sweep file (.toml): [base], [search], [sweep]")
    r.add_argument("--trials", type=int, help="override [sweep] trials")
    r.add_argument("--json", action="store_true", help="end with the JSON of `sweep show --json`")
    r.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)
    c = acts.add_parser("resume", help="carry on a sweep in the foreground (after a crash or stop)")
    c.add_argument("sweep_id")
    c.add_argument("--json", action="store_true")
    c.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)
    ls = acts.add_parser("list", help="sweeps of the workspace, newest first")
    ls.add_argument("--json", action="store_true")
    s = acts.add_parser("show", help="a sweep's trials and best trial")
    s.add_argument("sweep_id")
    s.add_argument("--json", action="store_true")
    st = acts.add_parser("stop", help="ask no more trials (--cancel: cancel the runs in flight)")
    st.add_argument("sweep_id")
    st.add_argument("--cancel", action="store_true")
    p.set_defaults(handler=main)


def main(args) -> int:
    from engine import sweep
    from engine.data import workspace_root
    from engine.store import Store

    store = Store(workspace_root())
    if args.action == "list":
        rows = sweep.list_sweeps(store)
        if args.json:
            print(json.dumps(rows, indent=1))
        elif not rows:
            print("no sweeps yet: python -m engine sweep run SWEEP.toml")
        for row in [] if args.json else rows:
            print(f"{row['sweep_id']:<32} {row['state']:<8} {row['trials']:>3}/{row['budget']} "
                  f"trials  {row['metric']} ({row['direction']})")
        return 0
    if args.action == "show":
        shown = sweep.show(store, args.sweep_id)
        print(sweep.dumps(shown) if args.json else "\n".join(table(shown)))
        return 0
    if args.action == "stop":
        sweep.stop(store, args.sweep_id, cancel_runs=args.cancel)
        print(f"sweep {args.sweep_id} stopped" + (" and its runs cancelled" if args.cancel else ""))
        return 0
    if args.action == "run":
        spec = sweep.load_sweep_file(args.file, trials=args.trials)
        from engine import access, audit

        user = access.cli_user()
        sweep_id = sweep.create(store, spec, created_by=user.label)
        audit.record(store.root, user, "sweep", sweep_id, trials=spec.trials)
        print(f"sweep {sweep_id}: {sweep.budget(spec)} trials, {spec.sampler} sampler, "
              f"{spec.pruner} pruner, {spec.metric} ({spec.direction}) on dev", flush=True)
    else:
        sweep_id = args.sweep_id
        sweep.resume(store, sweep_id)
    return follow(store, sweep_id, as_json=args.json, poll=args.poll)


def follow(store, sweep_id: str, *, as_json: bool = False, poll: float = 1.0) -> int:
    """Drive the queue until the sweep ends, printing a line as each trial ends."""
    from engine import queue, sweep

    printed: set[int] = set()

    def report() -> None:
        sweep.tick(store, sweep_id)  # when another scheduler serves, it may tick first
        shown = sweep.show(store, sweep_id)
        for trial in shown["trials"]:
            if trial["state"] in ("completed", "pruned", "failed") and trial["number"] not in printed:
                printed.add(trial["number"])
                print(trial_line(trial, shown), flush=True)

    queue.drive(store, lambda: sweep.is_finished(store, sweep_id), poll=poll, on_tick=report)
    report()
    shown = sweep.show(store, sweep_id)
    if as_json:
        print(sweep.dumps(shown))
    elif shown["best"]:
        best = shown["best"]
        print(f"best: trial {best['number']} {shown['metric']} {best['value']:.4f} "
              f"(run {best['run_id']}) {fmt_params(best['params'])}")
    return 0 if shown["best"] else 1


def trial_line(trial: dict, shown: dict) -> str:
    mark = {"completed": "done  ", "pruned": "pruned", "failed": "failed"}[trial["state"]]
    value = trial["value"]
    if value is None and trial["intermediate"]:
        last = max(trial["intermediate"])
        score = f"{shown['metric']} {trial['intermediate'][last]:.4f} at eval {last}"
    else:
        score = f"{shown['metric']} {value:.4f}" if value is not None else (trial.get("error") or "")
    took = f" {trial['duration_s']:.0f} s" if trial.get("duration_s") else ""
    return f"trial {trial['number']:>3} {mark} {score}{took}  {fmt_params(trial['params'])}  (run {trial['run_id']})"


def fmt_params(params: dict) -> str:
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in params.items())


def table(shown: dict) -> list[str]:
    lines = [f"sweep {shown['sweep_id']} ({shown['state']}): {len(shown['trials'])}/{shown['budget']} "
             f"trials, {shown['metric']} ({shown['direction']}) on dev"]
    for trial in shown["trials"]:
        value = "" if trial["value"] is None else f"{trial['value']:.4f}"
        lines.append(f"  #{trial['number']:<3} {trial['state']:<9} {value:>7}  {fmt_params(trial['params'])}")
    if shown["best"]:
        lines.append(f"best: #{shown['best']['number']} {shown['best']['value']:.4f} "
                     f"(run {shown['best']['run_id']})")
    return lines

