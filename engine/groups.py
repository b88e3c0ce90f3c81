"""Seed groups: a run config with `repeats = N` becomes N ordinary queued runs with seeds
seed, seed+1, ..., tagged {"group": G, "member": i, "of": N, "seed": s} in status.json; the
group's scores are the mean, std (ddof 1), min and max over its completed members, per
metric and per entity type (or class), read from each member's report.json."""
from __future__ import annotations

import secrets
import statistics
from typing import Any

from core.errors import ConfigError
from core.report import SPLITS, accuracy_of, f1_of, scores_of
from engine.runfolder import RunFolder
from engine.store import Store, sanitise

TAG = "group"
# the metrics a group summarises per split, in order: (key, words)
NER_METRICS = (("f1_micro", "micro F1"), ("f1_macro", "macro F1"),
               ("precision", "micro precision"), ("recall", "micro recall"))
TEXT_METRICS = (("accuracy", "accuracy"), ("f1_macro", "macro F1"), ("f1_micro", "micro F1"))
METRIC_NAMES = dict(NER_METRICS + TEXT_METRICS)


def expand(config: dict) -> list[dict]:
    """The member configs of `config`: one per repeat, seed + i, repeats 1, named
    '<name> · seed s' (just `config`, unchanged, when repeats is 1)."""
    repeats = int(config.get("repeats", 1) or 1)
    if repeats == 1:
        return [dict(config)]
    if repeats < 1:
        raise ConfigError(f"repeats: must be at least 1, found {repeats}")
    seed = int(config.get("seed", 42))
    name = config.get("name") or config.get("task") or "run"
    return [{**config, "seed": seed + i, "repeats": 1, "name": f"{name} · seed {seed + i}"}
            for i in range(repeats)]


def submit(store: Store, config: dict, *, created_by: str | None = None) -> list[str]:
    """Enqueue `config`; returns the run ids. repeats 1: one run, exactly queue.submit (no
    tags); repeats N: every member is validated before any is queued, then N runs tagged
    with a new group id. `created_by` goes to each run's status.json."""
    from core.config import config_from_dict, config_to_dict, validate, validate_names
    from engine import queue

    if config.get("repeats", 1) == 1:
        return [queue.submit(store, config, created_by=created_by)]
    base = config_from_dict(config)
    validate(base)
    validate_names(base)
    members = []
    for member in expand(config_to_dict(base)):
        cfg = config_from_dict(member)
        validate(cfg)  # e.g. the last seed past 2**32 - 1, before anything is queued
        members.append(config_to_dict(cfg))
    group_id = new_group_id(store, base.name or base.task)
    by = {"created_by": created_by} if created_by else {}
    return [store.create_run(cfg, tags={TAG: group_id, "member": i, "of": len(members),
                                        "seed": cfg["seed"]}, **by)
            for i, cfg in enumerate(members)]


def new_group_id(store: Store, name: str) -> str:
    """'g-<name>-<hex4>', unused in `store`."""
    stem = sanitise(name, "run")[:24].rstrip(".-_") or "run"
    taken = {g["group_id"] for g in list_groups(store)}
    for _ in range(100):
        group_id = f"g-{stem}-{secrets.token_hex(2)}"
        if group_id not in taken:
            return group_id
    raise ConfigError(f"could not find an unused group id for {name!r}")


def group_runs(store: Store, group_id: str) -> list[dict]:
    """The group's runs (store rows merged with status.json) in member order."""
    runs = store.tagged(TAG, group_id)
    return sorted(runs, key=lambda r: (_tags(r).get("member", 0), r["id"]))


def group_of(store: Store, run_id: str) -> str | None:
    """The seed group `run_id` belongs to, or None."""
    tags = RunFolder(store.run_dir(run_id)).read_status().get("tags")
    group = tags.get(TAG) if isinstance(tags, dict) else None
    return group if isinstance(group, str) else None


def list_groups(store: Store) -> list[dict]:
    """Every seed group of the store, newest first: {"group_id", "name", "task", "of",
    "runs", "completed", "states"}."""
    groups: dict[str, dict] = {}
    for run in store.tagged(TAG):
        tags = _tags(run)
        g = groups.setdefault(tags[TAG], {"group_id": tags[TAG], "name": _base_name(run),
                                          "task": run.get("task"), "of": tags.get("of"),
                                          "runs": [], "completed": 0, "states": {}})
        g["runs"].append(run["id"])
        g["states"][run["id"]] = run["state"]
        g["completed"] += run["state"] == "completed"
    for g in groups.values():
        g["of"] = g["of"] or len(g["runs"])
    return list(reversed(groups.values()))  # tagged lists oldest first


def member_scores(report: dict, split: str) -> tuple[dict[str, float], dict[str, float]]:
    """({metric: value}, {type or class: F1}) of one split of one report, 0..1; ({}, {})
    when the split is missing."""
    table = scores_of(report.get(split))
    if not table:
        return {}, {}
    if report.get("task", "ner") == "ner":
        micro = table.get("micro") or {}
        metrics = {"f1_micro": f1_of(table, "micro"), "f1_macro": f1_of(table, "macro"),
                   "precision": micro.get("precision"), "recall": micro.get("recall")}
    else:
        metrics = {"accuracy": accuracy_of(table), "f1_macro": f1_of(table, "macro"),
                   "f1_micro": f1_of(table, "micro")}
    per_type = {t: row.get("f1") for t, row in (table.get("per_type") or {}).items()}
    return ({k: float(v) for k, v in metrics.items() if v is not None},
            {k: float(v) for k, v in per_type.items() if v is not None})


def describe(values: list[float], seeds: list[Any] | None = None) -> dict:
    """{"mean", "std" (ddof 1; 0 for one value), "min", "max", "n", "values", "seeds"}."""
    return {"mean": statistics.fmean(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0,
            "min": min(values), "max": max(values), "n": len(values), "values": list(values),
            "seeds": list(seeds) if seeds is not None else []}


def group_values(store: Store, group_id: str) -> dict:
    """The completed members' scores: {"runs", "seeds", "task", "metric",
    "splits": {split: {"metrics": {key: [(seed, value)]}, "per_type": {T: [(seed, value)]}}}}."""
    runs = group_runs(store, group_id)
    if not runs:
        raise ConfigError(f"no seed group {group_id!r} in {store.root}")
    out: dict = {"all": runs, "runs": [], "seeds": [], "task": runs[0].get("task"),
                 "metric": None, "splits": {}}
    for run in runs:
        if run["state"] != "completed":
            continue
        report = RunFolder(run["dir"]).read_report()
        if not isinstance(report, dict):
            continue
        seed = _tags(run).get("seed")
        out["runs"].append(run["id"])
        out["seeds"].append(seed)
        out["task"] = report.get("task", out["task"])
        out["metric"] = out["metric"] or report.get("metric")
        for split in SPLITS:
            metrics, per_type = member_scores(report, split)
            if not metrics:
                continue
            part = out["splits"].setdefault(split, {"metrics": {}, "per_type": {}})
            for kind, values in (("metrics", metrics), ("per_type", per_type)):
                for key, value in values.items():
                    part[kind].setdefault(key, []).append((seed, value))
    return out


def group_summary(store: Store, group_id: str) -> dict:
    """JSON-able summary of a seed group over its completed members: {"group_id", "name",
    "task", "metric", "runs" (every member's id), "members" [{id, member, seed, state}],
    "completed", "of", "splits": {split: {"metrics": {key: describe(...)}, "per_type":
    {TYPE: describe(F1s)}}}}; a split no completed member has is left out."""
    values = group_values(store, group_id)
    runs = values["all"]
    splits = {}
    for split, part in values["splits"].items():
        splits[split] = {kind: {key: describe([v for _, v in pairs], [s for s, _ in pairs])
                                for key, pairs in part[kind].items()}
                         for kind in ("metrics", "per_type")}
    return {"group_id": group_id, "name": _base_name(runs[0]), "task": values["task"],
            "metric": values["metric"], "runs": [r["id"] for r in runs],
            "members": [{"id": r["id"], "member": _tags(r).get("member"), "seed": _tags(r).get("seed"),
                         "state": r["state"]} for r in runs],
            "completed": len(values["runs"]), "of": _tags(runs[0]).get("of") or len(runs),
            "splits": splits}


def format_summary(summary: dict) -> str:
    """The summary as text tables (in %): per split, metric and type, mean ± std, min, max, n."""
    lines = [f"group {summary['group_id']}: {summary['completed']}/{summary['of']} runs completed"]
    for split, part in summary["splits"].items():
        lines += ["", f"== {split}", f"{'':<18}{'mean':>8}{'± std':>8}{'min':>8}{'max':>8}{'n':>4}"]
        rows = [(METRIC_NAMES.get(k, k), s) for k, s in part["metrics"].items()]
        rows += [(f"{t} F1", s) for t, s in part["per_type"].items()]
        for label, s in rows:
            lines.append(f"{label:<18}{100 * s['mean']:>8.1f}{100 * s['std']:>8.1f}"
                         f"{100 * s['min']:>8.1f}{100 * s['max']:>8.1f}{s['n']:>4}")
    return "\n".join(lines)


def _tags(run: dict) -> dict:
    tags = (run.get("status") or {}).get("tags")
    return tags if isinstance(tags, dict) else {}


def _base_name(run: dict) -> str:
    """A member's name without its ' · seed s' suffix."""
    name = run.get("name") or ""
    return name.rsplit(" · seed ", 1)[0] if " · seed " in name else name
