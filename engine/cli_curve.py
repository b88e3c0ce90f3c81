"""`python -m engine curve --config RUN.toml --fractions 0.1,0.25,0.5,1.0 --seeds 2`: a
learning curve by training-set size, trained in the foreground over the run queue; and
`curve show CURVE_ID`, `curve list` for curves already in the workspace."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from core.errors import ConfigError


def register(sub) -> None:
    p = sub.add_parser("curve", help="learning curve: nested shares of the training data x seeds",
                       description="Train the config on nested, seeded shares of its training "
                                   "data (several seeds each), then report the dev (and test) "
                                   "score per share, per type, and a power-law fit's prediction "
                                   "at twice the data. Subcommands show and list read curves "
                                   "already in the workspace.")
    p.add_argument("--config", type=Path, help="run config (.toml or .json) of the curve")
    p.add_argument("--fractions", default="0.1,0.25,0.5,1.0",
                   help="shares of the training data, comma separated (default %(default)s)")
    p.add_argument("--seeds", type=int, default=2, help="runs per share, seeds seed, seed+1, ...")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (value parsed as TOML), e.g. --set epochs=1")
    p.add_argument("--json", action="store_true", help="print the result as one JSON object")
    p.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)
    acts = p.add_subparsers(dest="action", metavar="{show,list}")
    s = acts.add_parser("show", help="the table and fit of a curve in the workspace")
    s.add_argument("curve_id")
    s.add_argument("--json", action="store_true", help="print the result as one JSON object")
    ls = acts.add_parser("list", help="curves of the workspace, newest first")
    ls.add_argument("--json", action="store_true")
    p.set_defaults(handler=main)


def main(args) -> int:
    from engine import curve
    from engine.data import workspace_root
    from engine.store import Store

    action = getattr(args, "action", None)
    if action is None and args.config is None:
        raise ConfigError("--config: give the run config the curve trains (RUN.toml), or use "
                          "`curve show CURVE_ID` / `curve list`")
    store = Store(workspace_root())
    if action == "list":
        rows = curve.list_curves(store)
        if args.json:
            print(json.dumps(rows, indent=1))
        elif not rows:
            print("no curves yet: python -m engine curve --config RUN.toml")
        for row in [] if args.json else rows:
            shares = ",".join(f"{f:g}" for f in row["fractions"])
            print(f"{row['curve_id']:<32} {row['task'] or '':<14} shares {shares}  "
                  f"{row['seeds']} seed(s)  {row['completed']}/{row['runs']} completed")
        return 0
    if action == "show":
        result = curve.curve_result(store, args.curve_id)
        print(json.dumps(result, indent=1) if args.json else "\n".join(report_lines(result)))
        return 0
    return _run(store, args)


def _run(store, args) -> int:
    from core.config import config_to_dict
    from engine import curve, queue
    from engine.data import load_config_file

    fractions = curve.parse_fractions(args.fractions)  # before reading the config: cheap first
    seeds = curve.check_seeds(args.seeds, key="--seeds")
    cfg = load_config_file(args.config, args.set)
    from engine import access, audit

    user = access.cli_user()
    curve_id = curve.submit_curve(store, config_to_dict(cfg), fractions, seeds, created_by=user.label)
    audit.record(store.root, user, "curve", curve_id, fractions=list(fractions), seeds=seeds)
    out = sys.stderr if args.json else sys.stdout  # with --json, stdout holds only the JSON
    total = len(fractions) * seeds
    print(f"curve {curve_id}: {len(fractions)} shares x {seeds} seed(s) = {total} runs "
          f"(seeds {cfg.seed}..{cfg.seed + seeds - 1})", file=out, flush=True)
    printed: set[str] = set()

    def report_ended() -> None:
        for run in curve.curve_runs(store, curve_id):
            if run["id"] in printed or not (run["state"] in ("completed", "failed", "cancelled",
                                                             "pruned", "interrupted")):
                continue
            printed.add(run["id"])
            print(run_line(run, len(printed), total, cfg.metric), file=out, flush=True)

    queue.drive(store, lambda: curve.curve_finished(store, curve_id), poll=args.poll,
                on_tick=report_ended)
    report_ended()
    result = curve.curve_result(store, curve_id)
    if args.json:
        print(json.dumps(result, indent=1))
    else:
        print()
        print("\n".join(report_lines(result)))
    return 0 if result["pending"] == 0 else 1


def run_line(run: dict, k: int, total: int, metric: str) -> str:
    """'[3/8] 25 % · seed 43: completed  <id>  train 60  dev f1_micro 0.812'."""
    from core.report import metric_value
    from engine.curve import share_label, train_examples
    from engine.runfolder import RunFolder

    tags = run["status"].get("tags") or {}
    line = (f"[{k}/{total}] {share_label(float(tags.get('fraction', 1.0)))} · seed "
            f"{tags.get('seed')}: {run['state']}  {run['id']}")
    if run["state"] == "completed":
        n = train_examples(run["dir"])
        report = RunFolder(run["dir"]).read_report() or {}
        if n is not None:
            line += f"  train {n}"
        if isinstance(report.get("dev"), dict):
            line += f"  dev {metric} {metric_value(report['task'], metric, report['dev']):.3f}"
    elif run["status"].get("error"):
        line += f"\n    {str(run['status']['error']).strip().splitlines()[-1]}"
    return line


def _ms(stats: dict | None, digits: int = 3) -> str:
    """'0.812 ± 0.021' of a stats dict, '—' without values."""
    if not stats or stats.get("mean") is None:
        return "—"
    return f"{stats['mean']:.{digits}f} ± {stats['std']:.{digits}f}"


def report_lines(result: dict) -> list[str]:
    """The curve as a table (share, train examples, dev, test, per type) and two sentences."""
    from engine.curve import fit_sentence, rising_sentence, share_label

    rows = result["points"]
    metric = result["metric"]
    types = sorted({t for r in rows for t in r["per_type"]})
    lines = [f"curve {result['curve_id']} ({result['task']}, selection metric {metric}); "
             f"{result['pending']} run(s) not completed"]
    if not rows:
        return lines + ["no completed runs yet"]
    has_test = any(r["test"] for r in rows)
    head = f"{'share':>7} {'train':>7} {'runs':>5}  {'dev ' + metric:<17}"
    head += f"{'test ' + metric:<17}" if has_test else ""
    head += "".join(f"{t[:13]:<15}" for t in types)
    lines.append(head)
    for r in rows:
        line = (f"{share_label(r['fraction']):>7} {r['train_examples'] or '?':>7} "
                f"{len(r['runs']):>5}  {_ms(r['dev']):<17}")
        line += f"{_ms(r['test']):<17}" if has_test else ""
        line += "".join(f"{_ms(r['per_type'].get(t), 2):<15}" for t in types)
        lines.append(line)
    lines += ["", fit_sentence(result), rising_sentence(result)]
    return lines
