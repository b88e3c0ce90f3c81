"""Command line: train, evaluate, validate and the queue, without the browser.

`evaluate` and `validate` never import torch, so they start fast.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from core.errors import WorkbenchError

# Commands kept in their own modules: each has register(sub), which adds its subparser and
# sets `handler` (a function of the parsed args returning the exit code) as a default.
COMMAND_MODULES: tuple[str, ...] = ("engine.cli_sweep", "engine.cli_curve", "engine.cli_predict",
                                    "engine.cli_card", "engine.cli_export")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m engine", description="Fine-tuning workbench engine.")
    sub = p.add_subparsers(dest="command", required=True)

    t = sub.add_parser("train", help="train in the foreground and write a run folder")
    t.add_argument("--config", required=True, type=Path, help="run config (.toml or .json)")
    t.add_argument("--run-dir", type=Path, help="write here instead of a new run under the workspace")
    t.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config key (value parsed as TOML), e.g. --set epochs=1")
    t.add_argument("--quiet", action="store_true", help="print only the final report")

    e = sub.add_parser("evaluate", help="conlleval-style per-entity report for CoNLL files")
    e.add_argument("--gold", required=True, type=Path,
                   help="gold CoNLL file; alone, its last two columns are gold and predicted tags")
    e.add_argument("--pred", type=Path, help="predicted CoNLL file with the same tokens")
    e.add_argument("--strict", action="store_true", help="strict entity matching (seqeval mode='strict')")
    e.add_argument("--scheme", help="tag scheme for --strict (default: detected from gold)")
    e.add_argument("--tokens", action="store_true", help="add the token-level per-tag table")
    e.add_argument("--json", action="store_true", help="print one JSON object")
    e.add_argument("--digits", type=int, default=3)

    v = sub.add_parser("validate", help="diagnostics for a data file; exit 1 when it is unusable")
    v.add_argument("file", type=Path)
    v.add_argument("--scheme", help="expected tag scheme (default: detected)")
    v.add_argument("--format", dest="fmt", help="conll, jsonl, csv, tsv or parquet (default: detected)")
    v.add_argument("--text-column", help="CSV/TSV/Parquet column holding the text "
                   "(default: guessed from the header, 'text' when present)")
    v.add_argument("--label-column", help="CSV/TSV/Parquet column holding the label(s) "
                   "(default: guessed from the header, 'label' when present)")
    v.add_argument("--json", action="store_true", help="print diagnostics as JSON")

    c = sub.add_parser("compare", help="is run B better than run A? paired tests per score; "
                       "for two seed groups, Welch's t over the seed scores")
    c.add_argument("run_a", help="run id or run folder (the baseline), or a seed group id")
    c.add_argument("run_b", help="run id or run folder (the candidate), or a seed group id")
    c.add_argument("--groups", action="store_true",
                   help="compare the seed groups the two runs belong to (Welch's t)")
    c.add_argument("--split", default="test", choices=("test", "dev"))
    c.add_argument("--resamples", type=int, default=10_000)
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--json", action="store_true", help="print one JSON object")

    q = sub.add_parser("queue", help="list, submit, cancel, resume runs; serve the queue")
    qs = q.add_subparsers(dest="action", required=True)
    qs.add_parser("list", help="runs, newest first")
    s = qs.add_parser("submit", help="enqueue a run config")
    s.add_argument("config", type=Path)
    for name in ("cancel", "resume"):
        qs.add_parser(name).add_argument("run_id")
    ri = qs.add_parser("reindex", help="rebuild the index (workbench.db) from the run and "
                       "dataset folders; a damaged index is moved aside")
    ri.add_argument("--json", action="store_true", help="print the counts as one JSON object")
    sv = qs.add_parser("serve", help="run the scheduler in the foreground")
    sv.add_argument("--until-idle", action="store_true", help="exit when nothing is queued or running")
    sv.add_argument("--executor", choices=("local", "ray"),
                    help="where the workers run (default: [executor] kind in workbench.toml, "
                    "else WORKBENCH_EXECUTOR, else local)")
    sv.add_argument("--address", help="the Ray dashboard's address for --executor ray, e.g. "
                    "http://HEAD:8265 (default: [executor] address, else RAY_ADDRESS)")
    import importlib

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        handler = getattr(args, "handler", None) or {
            "train": cmd_train, "evaluate": cmd_evaluate, "validate": cmd_validate,
            "compare": cmd_compare, "queue": cmd_queue}[args.command]
        return handler(args)
    except WorkbenchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `queue list | head`: the reader left; say nothing more
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


# ---- evaluate ---------------------------------------------------------------------------
def _read_bytes(path: Path) -> bytes:
    from core.errors import DataError

    try:
        return path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror}", source=str(path)) from None


def load_gold_pred(gold: Path, pred: Path | None) -> tuple[list, list]:
    """Gold and predicted tag sequences from one or two CoNLL files, tokens checked equal."""
    from core.errors import DataError
    from core.formats import read_conll

    gold_bytes = _read_bytes(gold)
    if pred is None:
        g = read_conll(gold_bytes, source=str(gold), tag_column=-2)
        p = read_conll(gold_bytes, source=str(gold), tag_column=-1)
        return [ex.tags for ex in g], [ex.tags for ex in p]
    g = read_conll(gold_bytes, source=str(gold))
    p = read_conll(_read_bytes(pred), source=str(pred))
    # tokens first: a sentence split or merged in one file shows up as the first sentence
    # that differs, which is where to look, rather than as a count mismatch at the end
    for i, (a, b) in enumerate(zip(g, p)):
        if a.tokens != b.tokens:
            j = next((k for k, (x, y) in enumerate(zip(a.tokens, b.tokens)) if x != y),
                     min(len(a.tokens), len(b.tokens)))
            raise DataError(f"sentence {i + 1} differs from the gold file at token {j + 1}",
                            source=str(pred), line=b.line + j if b.line else None,
                            expected=repr(a.tokens[j]) if j < len(a.tokens) else "end of sentence",
                            found=repr(b.tokens[j]) if j < len(b.tokens) else "end of sentence")
    if len(g) != len(p):
        raise DataError(f"the predicted file has {'fewer' if len(p) < len(g) else 'more'} sentences "
                        "than the gold file", source=str(pred),
                        expected=f"{len(g)} sentences", found=f"{len(p)}")
    return [ex.tags for ex in g], [ex.tags for ex in p]


def cmd_evaluate(args) -> int:
    from core import metrics

    gold, pred = load_gold_pred(args.gold, args.pred)
    mode, scheme = "conlleval", None
    if args.strict:
        from core.schemes import detect_scheme

        mode, scheme = "strict", (args.scheme or detect_scheme(gold)).upper()
    report = metrics.entity_report(gold, pred, mode=mode, scheme=scheme)
    if args.json:
        out = {**report["per_type"], "micro": report["micro"], "macro": report["macro"],
               "weighted": report["weighted"]}
        if args.tokens:
            out["tokens"] = metrics.token_report(gold, pred)
        print(json.dumps(out, indent=1, default=float))
        return 0
    print(metrics.format_table(report, digits=args.digits))
    if args.tokens:
        print()
        print(metrics.format_table(metrics.token_report(gold, pred), digits=args.digits))
    return 0


# ---- validate ---------------------------------------------------------------------------
def cmd_validate(args) -> int:

    try:
        return _validate(args)
    except WorkbenchError as exc:  # DataError, or ConfigError for a bad --format/--scheme
        return _validate_failed(args, str(exc))
    except Exception as exc:  # noqa: BLE001 - whatever the bytes, never a traceback
        return _validate_failed(args, f"{args.file}: could not be read ({type(exc).__name__}: {exc})")


def _validate_failed(args, message: str) -> int:
    """Report a file that cannot be read at all (exit 1), as text or JSON."""
    if args.json:
        print(json.dumps({"usable": False, "error": message}, indent=1))
    else:
        print(f"error: {message}")
        print("not usable")
    return 1


def _validate(args) -> int:
    from core.formats import detect_format, read_any
    from core.records import TokenExample

    data = _read_bytes(args.file)
    fmt = args.fmt or detect_format(args.file.name, data,  # by the file's own name
                                    text_column=args.text_column or "text")
    columns = _table_columns(args, data, fmt)
    records = read_any(data, str(args.file), fmt=fmt, **columns)  # errors name the path as given
    if records and isinstance(records[0], TokenExample):
        from core.schemes import detect_scheme, diagnose

        scheme = (args.scheme or detect_scheme([ex.tags for ex in records])).upper()
        diags = diagnose({str(args.file): records}, scheme=scheme)
        labels = sorted({t for ex in records for t in ex.tags})
        summary = {"format": "token classification", "sentences": len(records),
                   "tokens": sum(len(ex.tokens) for ex in records),
                   "documents": len({ex.doc for ex in records}), "scheme": scheme, "labels": labels}
    else:
        diags = []
        labels = sorted({label for ex in records for label in ex.labels})
        summary = {"format": "text classification", "examples": len(records), **columns,
                   "labels": labels, "multi_label": any(len(ex.labels) != 1 for ex in records)}
    errors = [d for d in diags if d.severity == "error"]
    if args.json:
        print(json.dumps({"usable": not errors, "summary": summary,
                          "diagnostics": [_as_dict(d) for d in diags]}, indent=1, default=str))
    else:
        for d in diags:
            where = f"{d.source}:{d.line}" if d.line else d.source
            print(f"{d.severity:7s} {where}: {d.message}")
        print("summary: " + ", ".join(f"{k} {v if not isinstance(v, list) else ' '.join(v)}"
                                      for k, v in summary.items()))
        print("usable" if not errors else f"not usable: {len(errors)} error(s)")
    return 1 if errors else 0


def _table_columns(args, data: bytes, fmt: str) -> dict[str, str]:
    """{text_column, label_column} for a table: the flags, else guessed from its header
    (engine.data.guess_columns, as the Data page guesses; a guess is printed). {} for
    CoNLL and JSONL, whose fields are fixed; ConfigError when a flag is given for them."""
    from core.errors import ConfigError
    from core.formats import TABLE_FORMATS
    from engine.data import guess_columns, table_columns

    given = {"text_column": args.text_column, "label_column": args.label_column}
    if fmt not in TABLE_FORMATS:
        flag = next((f"--{k.replace('_', '-')}" for k, v in given.items() if v), None)
        if flag:
            raise ConfigError(f"{flag}: columns apply to CSV, TSV and Parquet tables; "
                              f"{args.file} reads as {fmt}")
        return {}
    header = table_columns(data, args.file.name, fmt) or []
    text, label = guess_columns(header, args.text_column, args.label_column)
    guessed = [f"{what} column {col!r}" for what, col, flag in
               (("text", text, args.text_column), ("label", label, args.label_column))
               if not flag]
    if guessed and header and not args.json:  # JSON: the summary names both columns
        print(f"columns: using {' and '.join(guessed)} (guessed from the header "
              f"{', '.join(map(repr, header))}; choose with --text-column / --label-column)")
    return {"text_column": text, "label_column": label}


def _as_dict(diag) -> dict:
    import dataclasses

    if dataclasses.is_dataclass(diag):
        return dataclasses.asdict(diag)
    return vars(diag) if hasattr(diag, "__dict__") else diag._asdict()


# ---- train ------------------------------------------------------------------------------
def load_config_file(path: Path, overrides: list[str] = ()):
    """RunConfig from a .toml or .json file plus KEY=VALUE overrides; validated. The one
    loader (engine.data.load_config_file), which the Train page's presets use too."""
    from engine.data import load_config_file as load

    return load(path, overrides)


def cmd_train(args) -> int:
    from core.config import config_to_dict
    from core.errors import ConfigError
    from engine.data import workspace_root
    from engine.events import print_event
    from engine.runfolder import RunFolder
    from engine.store import Store
    from engine.worker import StopFlag, run

    cfg = load_config_file(args.config, args.set)
    if cfg.repeats > 1:
        if args.run_dir:
            raise ConfigError(f"--run-dir holds one run, but the config asks for repeats = "
                              f"{cfg.repeats}; drop --run-dir (the group's runs go to the "
                              "workspace) or set repeats = 1")
        return _train_group(cfg, quiet=args.quiet)
    if args.run_dir:
        run_dir = args.run_dir
        old = RunFolder(run_dir).read_config()
        if old is not None and old != config_to_dict(cfg):
            raise ConfigError(f"--run-dir {run_dir} holds a run with a different config; give a "
                              "new folder (the same config resumes that run)")
        run_dir.mkdir(parents=True, exist_ok=True)
        RunFolder(run_dir).write_config(config_to_dict(cfg))
    else:
        store = Store(workspace_root())
        # the pid lets the queue tell this foreground run from a lost one
        run_dir = store.run_dir(store.create_run(config_to_dict(cfg), state="running",
                                                 pid=os.getpid()))
    print(f"run folder: {run_dir}", flush=True)
    flag = StopFlag()
    flag.install()
    state = run(run_dir, stop=flag, echo=None if args.quiet else print_event)
    if state == "busy":  # another process trains this run folder (its message is printed)
        return 1
    if not args.run_dir:
        store.sync_state(run_dir.name)
    if state != "completed":
        status = RunFolder(run_dir).read_status()
        print(f"run {state}: {status.get('error') or ''}".rstrip(), file=sys.stderr)
        return 0 if state == "cancelled" else 1
    print_report(RunFolder(run_dir).read_report() or {})
    return 0


def _train_group(cfg, *, quiet: bool) -> int:
    """A seed group in the foreground: its runs are queued in the workspace store and this
    process works the queue until every member has ended; one line per finished member,
    then the group summary."""
    from core.config import config_to_dict
    from core.report import status_headline
    from engine import groups, queue
    from engine.data import workspace_root
    from engine.store import Store, is_final

    store = Store(workspace_root())
    run_ids = groups.submit(store, config_to_dict(cfg), created_by=_cli_user().label)
    _audit(store, "launch", run_ids, name=cfg.name)
    group_id = groups.group_of(store, run_ids[0])
    print(f"group {group_id}: {len(run_ids)} runs, seeds {cfg.seed}..{cfg.seed + len(run_ids) - 1}",
          flush=True)
    reported: set[str] = set()

    def ended() -> list[dict]:
        return [r for r in groups.group_runs(store, group_id)
                if is_final(r["state"]) or r["state"] == "interrupted"]

    def report_ended() -> None:
        for run in ended():
            if run["id"] in reported:
                continue
            reported.add(run["id"])
            tags = run["status"].get("tags") or {}
            line = f"[{tags.get('member', 0) + 1}/{len(run_ids)}] seed {tags.get('seed')}: " \
                   f"{run['state']}  {run['id']}"
            score = status_headline(run["status"], "dev")
            if score is not None and not quiet:
                line += f"  dev {'micro F1' if run.get('task') == 'ner' else 'accuracy'} " \
                        f"{100 * score:.1f}"
            if run["state"] != "completed" and run["status"].get("error"):
                line += f"\n    {str(run['status']['error']).strip().splitlines()[-1]}"
            print(line, flush=True)

    queue.drive(store, lambda: len(ended()) == len(run_ids), on_tick=report_ended)
    report_ended()
    summary = groups.group_summary(store, group_id)
    print()
    print(groups.format_summary(summary))
    return 0 if summary["completed"] == len(run_ids) else 1


def print_report(report: dict) -> None:
    """The final per-entity (or per-class) tables for dev and test."""
    from core import metrics
    from core.report import SPLITS, accuracy_of, scores_of

    for split in SPLITS:
        if split not in report:
            continue
        table = scores_of(report[split])
        print(f"\n== {split}")
        print(metrics.format_table(table))
        if "entities" not in report[split] and (acc := accuracy_of(table)) is not None:
            print(f"accuracy {acc:.4f}")


# ---- compare ----------------------------------------------------------------------------
def cmd_compare(args) -> int:
    from engine.data import workspace_root
    from engine.significance import compare_runs, resolve_run, verdict
    from engine.store import Store

    if args.resamples < 1:
        from core.errors import ConfigError

        raise ConfigError(f"--resamples: expected at least 1, found {args.resamples}")
    runs_dir = workspace_root() / Store.RUNS
    has_store = (workspace_root() / Store.INDEX).is_file()  # a read: never create a store
    group_ids = _compared_groups(args, Store(workspace_root()) if has_store else None)
    if group_ids is not None:
        return _compare_groups(args, *group_ids)
    a, b = resolve_run(args.run_a, runs_dir), resolve_run(args.run_b, runs_dir)
    result = compare_runs(a, b, split=args.split, resamples=args.resamples, seed=args.seed)
    if args.json:
        print(json.dumps({"a": str(a), "b": str(b), **result}, indent=1))
        return 0
    print(f"A = {a.name}\nB = {b.name}\n{result['split']}: {result['examples']} examples, "
          f"{args.resamples} resamples\n")
    print(f"{'score':<14}{'A':>8}{'B':>8}{'B-A':>8}{'95% CI':>18}{'p boot':>9}{'p rand':>9}")
    for r in result["scores"]:
        ci = f"{100 * r['low']:.1f} .. {100 * r['high']:.1f}"
        print(f"{r['score']:<14}{100 * r['a']:>8.1f}{100 * r['b']:>8.1f}{100 * r['delta']:>8.1f}"
              f"{ci:>18}{r['p_bootstrap']:>9.3f}{r['p_randomisation']:>9.3f}")
    print()
    for r in result["scores"]:
        print(verdict(r))
    return 0


def _compared_groups(args, store) -> tuple[str, str] | None:
    """The two seed groups to compare, or None for a run-vs-run comparison. The rule: both
    arguments are group ids, or --groups names two runs (ids or folders) whose groups count."""
    from core.errors import ConfigError
    from engine.groups import group_of, group_runs
    from engine.significance import resolve_run

    refs = (args.run_a, args.run_b)
    is_group = [store is not None and bool(group_runs(store, ref)) for ref in refs]
    if all(is_group):
        return refs
    if not args.groups:
        if any(is_group):
            raise ConfigError(f"{refs[is_group.index(True)]} is a seed group but "
                              f"{refs[is_group.index(False)]} is not: compare two groups, "
                              "two runs, or two group members with --groups")
        return None
    if store is None:
        raise ConfigError("--groups: this workspace has no runs")
    out = []
    for ref, group in zip(refs, is_group):
        if group:
            out.append(ref)
            continue
        run_dir = resolve_run(ref, store.runs_dir)
        inside = run_dir.resolve().parent == store.runs_dir.resolve()
        found = group_of(store, run_dir.name) if inside else None
        if found is None:
            raise ConfigError(f"--groups: run {ref} belongs to no seed group")
        out.append(found)
    return out[0], out[1]


def _compare_groups(args, group_a: str, group_b: str) -> int:
    """Welch's t over the seed scores of two groups: a table, sentences or JSON."""
    from engine.data import workspace_root
    from engine.significance import compare_groups, welch_verdict
    from engine.store import Store

    result = compare_groups(Store(workspace_root()), group_a, group_b, split=args.split)
    if args.json:
        print(json.dumps({"test": "welch", **result}, indent=1))
        return 0
    print(f"A = group {group_a} ({result['n_a']} completed runs)\n"
          f"B = group {group_b} ({result['n_b']} completed runs)\n"
          f"{result['split']}: Welch's t over the seed scores\n")
    print(f"{'score':<14}{'A mean':>8}{'± std':>7}{'B mean':>8}{'± std':>7}{'B-A':>8}"
          f"{'t':>8}{'df':>6}{'p':>8}")
    for r in result["scores"]:
        t = "—" if r["t"] is None else f"{r['t']:.2f}"
        df = "—" if r["df"] is None else f"{r['df']:.1f}"
        print(f"{r['score']:<14}{100 * r['mean_a']:>8.1f}{100 * r['std_a']:>7.1f}"
              f"{100 * r['mean_b']:>8.1f}{100 * r['std_b']:>7.1f}{100 * r['delta']:>8.1f}"
              f"{t:>8}{df:>6}{r['p']:>8.3f}")
    print()
    for r in result["scores"]:
        text = welch_verdict(r)
        print(text[0].upper() + text[1:])
    return 0


# ---- queue ------------------------------------------------------------------------------
def _cli_user():
    from engine.access import cli_user

    return cli_user()


def _audit(store, action: str, target, **detail) -> None:
    """The CLI's changes go to the workspace's audit log too, as `cli:<login>`."""
    from engine import audit

    audit.record(store.root, _cli_user(), action, target, **detail)


def cmd_queue(args) -> int:
    from core.config import config_to_dict
    from engine import queue
    from engine.data import workspace_root
    from engine.store import Store

    if args.action == "reindex":  # before opening the store: its index may be damaged
        summary = Store.reindex(workspace_root())
        print(json.dumps(summary, indent=1) if args.json else describe_reindex(summary))
        return 0
    store = Store(workspace_root())
    if args.action == "list":
        from engine.executors import where

        queue.reconcile(store)
        for run in store.list_runs():
            st = run["status"]
            prog = f"{st.get('step', 0)}/{st.get('total_steps') or '?'}"
            print(f"{run['id']:45s} {run['state']:12s} {prog:>12s}  {run['task']:14s} "
                  f"{where(st)}".rstrip())
        return 0
    if args.action == "submit":
        from engine import groups, preflight

        cfg = load_config_file(args.config)
        # the worker's early checks (model, device, data, labels) before anything is queued
        for warning in preflight.check(cfg, store=store):
            print(f"warning: {warning}", file=sys.stderr)
        run_ids = groups.submit(store, config_to_dict(cfg), created_by=_cli_user().label)
        _audit(store, "launch", run_ids, config=str(args.config))
        queue.ensure_daemon(store)
        print("\n".join(run_ids))
        if len(run_ids) > 1:
            print(f"group {groups.group_of(store, run_ids[0])}")
        return 0
    if args.action == "cancel":
        outcome = queue.cancel(store, args.run_id)
        _audit(store, "cancel", args.run_id, outcome=outcome)
        print(outcome)
        return 0
    if args.action == "resume":
        queue.resume(store, args.run_id)
        _audit(store, "resume", args.run_id)
        queue.ensure_daemon(store)
        print("queued")
        return 0
    from engine.executors import for_store

    if args.address and (args.executor or "") == "local":
        from core.errors import ConfigError

        raise ConfigError("--address: names a Ray cluster, but --executor is local")
    executor = for_store(store.root, kind=args.executor, address=args.address)
    if not queue.serve(store, until_idle=args.until_idle, executor=executor):
        print(f"another scheduler already serves {store.root} (pid {queue.daemon_pid(store)})",
              file=sys.stderr)
    return 0


def describe_reindex(summary: dict) -> str:
    """One line for what `queue reindex` did (Store.reindex's counts)."""
    def count(n: int, what: str) -> str:
        return f"{n} {what}{'' if n == 1 else 's'}"

    line = (f"reindexed {count(summary['runs'], 'run')} ({summary['added']} added, "
            f"{summary['removed']} removed, {count(summary['synced'], 'state')} synced, "
            f"{summary['damaged']} damaged), {count(summary['datasets'], 'dataset')} "
            f"({summary['datasets_added']} added, {summary['datasets_removed']} removed)")
    skipped = summary["skipped"] + summary["datasets_skipped"]
    if skipped:
        line += f"; {count(skipped, 'unreadable folder')} skipped"
    if summary.get("moved_aside"):
        line += f"; the damaged index was moved to {summary['moved_aside']}"
    return line
