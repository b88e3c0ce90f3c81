"""Sweeps: an Optuna study, ask-and-tell over the run queue. The one module that knows the
study storage (sweeps.db, an Optuna RDB file in the workspace) and the sweep tags of runs.

A trial is one queued run (or, with seeds_per_trial > 1, a seed group of runs), tagged
{"sweep": id, "trial": number, "seed": i} in its status.json. `tick` moves a sweep on and is
idempotent, so whoever calls it (the queue's scheduler each pass, `sweep run` in the
foreground) can die at any moment and the next call picks up where it stopped:

    ask     while fewer than `parallel` trials are in flight and the budget is not spent,
            ask the study for a trial and queue its run(s) with the trial's params;
    report  the k-th dev evaluation a run wrote to metrics.jsonl becomes the intermediate
            value at step k (the mean over a trial's seed runs, for the k all reached);
    prune   when the pruner says so, the trial is told PRUNED and its runs are cancelled
            (the worker checkpoints); a cancelled run of a pruned trial is marked `pruned`;
    tell    a trial whose runs all completed is told the mean of their dev scores, which is
            each run's own report.json number (core.report.metric_value).

Crash safety: a trial asked but whose runs were never created (a crash in between) gets
them from its stored params; a run created but not yet linked is found by its tags; a run
left `interrupted` by a killed queue is put back in the queue. A file lock per sweep keeps
two callers from asking at once, so no trial is duplicated.
"""
from __future__ import annotations

import json
import secrets
import statistics
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from core.errors import ConfigError, WorkbenchError
from core.sweep import SweepSpec, spec_from_dict
from engine.runfolder import FINAL_STATES, RunFolder
from engine.store import Store, sanitise

DB = "sweeps.db"
LOCKS = "sweeps"
STATES = ("active", "stopped", "done")


def storage_url(store: Store) -> str:
    return f"sqlite:///{store.root / DB}"


def _optuna():
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


_STORAGES: dict[str, Any] = {}


def _storage(store: Store):
    """The workspace's study storage, opened once per process: opening checks the schema
    version through alembic (~0.3 s), which the scheduler's pass each second cannot pay."""
    url = storage_url(store)
    if url not in _STORAGES:
        optuna = _optuna()
        _STORAGES[url] = optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 30}})
    return _STORAGES[url]


# ---- the sweep file -----------------------------------------------------------------------

def load_sweep_file(path: Path, *, trials: int | None = None) -> SweepSpec:
    """A validated SweepSpec from a sweep TOML; `base = "run.toml"` is read relative to it,
    and relative data paths of a [base] table are taken relative to the sweep file."""
    import tomllib

    from core.config import config_to_dict
    from engine.data import load_config_file, read_bytes

    path = Path(path)
    try:
        raw = tomllib.loads(read_bytes(path).decode("utf-8", errors="replace"))
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    base = None
    if isinstance(raw.get("base"), str):
        base = config_to_dict(load_config_file(path.parent / raw["base"]))
    elif isinstance(raw.get("base"), dict):
        base = config_to_dict(_base_from_table(path, raw["base"]))
    if trials is not None:
        raw.setdefault("sweep", {})["trials"] = trials
    return spec_from_dict(raw, base=base)


def _base_from_table(path: Path, table: dict):
    """The [base] table as a validated run config, data paths relative to the sweep file."""
    from core.config import config_from_dict, validate
    from engine.data import relative_to

    cfg = relative_to(config_from_dict(dict(table)), path.resolve().parent)
    validate(cfg)
    return cfg


def check_spec(spec: SweepSpec, store: Store) -> None:
    """What the worker would check of each trial: registry names of every choice, and the
    base config's data references (files, demos, stored datasets)."""
    from core.config import config_from_dict, validate_names
    from engine.data import check_references

    base = config_from_dict(spec.base)
    check_references(base, workspace=store.root)
    for key, dist in spec.search.items():
        for value in dist.choices:
            try:
                validate_names(config_from_dict({**spec.base, key: value}))
            except ConfigError as exc:
                raise ConfigError(f"search.{key}: {value!r} does not fit {key}: {exc}") from None
    validate_names(base)


# ---- creating and reading sweeps -------------------------------------------------------------

def create(store: Store, spec: SweepSpec, *, created_by: str | None = None) -> str:
    """A new sweep (study) for `spec`; returns its id. Nothing is queued until `tick`.
    `created_by` (who launched it from the dashboard) goes to every trial run's status.json."""
    check_spec(spec, store)
    optuna = _optuna()
    name = sanitise(spec.name or f"{spec.base.get('name') or spec.base['task']}-sweep", "sweep")
    sweep_id = f"{name[:24]}-{secrets.token_hex(2)}"
    study = optuna.create_study(storage=_storage(store), study_name=sweep_id,
                                direction=spec.direction)
    study.set_user_attr("spec", spec.as_dict())
    study.set_user_attr("created_at", time.time())
    study.set_user_attr("state", "active")
    if created_by:
        study.set_user_attr("created_by", created_by)
    for params in spec.enqueue:
        study.enqueue_trial(params)
    return sweep_id


def list_sweeps(store: Store) -> list[dict]:
    """Every sweep of the workspace, newest first: id, state, metric, trials done / budget."""
    if not (store.root / DB).exists():
        return []
    out = []
    storage = _storage(store)
    for summary in storage.get_all_studies():
        attrs = summary.user_attrs
        spec = attrs.get("spec") or {}
        settings = spec.get("sweep", {})
        out.append({"sweep_id": summary.study_name, "state": attrs.get("state", "active"),
                    "metric": settings.get("metric"), "direction": settings.get("direction"),
                    "trials": storage.get_n_trials(storage.get_study_id_from_name(summary.study_name)), "budget": settings.get("trials"),
                    "created_at": attrs.get("created_at", 0.0), "task": spec.get("base", {}).get("task")})
    return sorted(out, key=lambda s: s["created_at"], reverse=True)


def _study(store: Store, sweep_id: str):
    optuna = _optuna()
    if not (store.root / DB).exists():
        raise WorkbenchError(f"no sweep {sweep_id!r}: this workspace has no sweeps yet")
    try:
        return optuna.load_study(study_name=sweep_id, storage=_storage(store))
    except KeyError:
        from core.config import did_you_mean

        known = [s["sweep_id"] for s in list_sweeps(store)]
        raise WorkbenchError(f"no sweep {sweep_id!r} in {store.root}"
                             + did_you_mean(sweep_id, known)) from None


def _with_policies(store: Store, study, spec: SweepSpec, trials: int):
    """The study (with `trials` trials so far) with the spec's sampler and pruner (what
    ask and should_prune use)."""
    optuna = _optuna()
    storage = _storage(store)
    return optuna.Study(study_name=study.study_name, storage=storage,
                        sampler=_sampler(spec, trials), pruner=_pruner(spec))


def spec_of(store: Store, sweep_id: str, study=None) -> SweepSpec:
    study = study or _study(store, sweep_id)
    raw = study.user_attrs.get("spec")
    if not isinstance(raw, dict):
        raise WorkbenchError(f"sweep {sweep_id} has no stored sweep file; it cannot continue")
    return spec_from_dict({"search": raw["search"], "sweep": raw["sweep"]}, base=raw["base"])


def _sampler(spec: SweepSpec, n_trials: int):
    """A sampler seeded by the sweep seed and the trials so far: rebuilt at every tick, a
    fixed seed would draw the same random start-up params again and again."""
    optuna = _optuna()
    seed = spec.seed + n_trials
    if spec.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if spec.sampler == "grid":
        return optuna.samplers.GridSampler({k: d.grid() for k, d in spec.search.items()},
                                           seed=spec.seed)
    # TPE after a third of the budget at random (Optuna's default 10 would leave a
    # 12-trial sweep almost all random)
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(2, min(10, spec.trials // 3)))


def _pruner(spec: SweepSpec):
    optuna = _optuna()
    if spec.pruner == "none":
        return optuna.pruners.NopPruner()
    if spec.pruner == "hyperband":
        return optuna.pruners.HyperbandPruner()
    # judge a trial once a quarter of the budget (at least 1, at most 5) has finished
    return optuna.pruners.MedianPruner(n_startup_trials=max(1, min(5, spec.trials // 4)))


def budget(spec: SweepSpec) -> int:
    """Trials the sweep runs: its `trials`, at most the grid's size for a grid sweep."""
    return min(spec.trials, spec.grid_size()) if spec.sampler == "grid" else spec.trials


def _distributions(spec: SweepSpec) -> dict:
    optuna = _optuna()
    out = {}
    for key, d in spec.search.items():
        if d.kind == "choice":
            out[key] = optuna.distributions.CategoricalDistribution(list(d.choices))
        elif d.kind == "int":
            out[key] = optuna.distributions.IntDistribution(int(d.low), int(d.high))
        else:
            out[key] = optuna.distributions.FloatDistribution(d.low, d.high,
                                                              log=d.kind == "log_uniform")
    return out


# ---- moving a sweep on -------------------------------------------------------------------------

@contextmanager
def _locked(store: Store, sweep_id: str) -> Iterator[bool]:
    """Yields True while holding the sweep's lock, False when another process holds it."""
    from engine.queue import _try_lock

    folder = store.root / LOCKS
    folder.mkdir(exist_ok=True)
    lock = _try_lock(folder / f"{sweep_id}.lock")
    try:
        yield lock is not None
    finally:
        if lock is not None:
            lock.close()


def tick(store: Store, sweep_id: str) -> bool:
    """One idempotent pass over a sweep (see the module doc); False when it is done or
    another process is ticking it right now. A stopped sweep still reports and tells the
    trials in flight, but asks no new ones."""
    with _locked(store, sweep_id) as mine:
        if not mine:
            return False
        plain = _study(store, sweep_id)
        state = plain.user_attrs.get("state", "active")
        if state == "done":
            _settle_pruned(store, sweep_id, plain)
            return False
        spec = spec_of(store, sweep_id, plain)
        trials = plain.get_trials(deepcopy=False)  # one read; again only after a tell
        study = _with_policies(store, plain, spec, len(trials))
        runs = _runs_by_trial(store, sweep_id)
        told = False
        for trial in trials:
            if trial.state.name == "RUNNING":
                told |= _advance(store, sweep_id, spec, study, trial, runs.get(trial.number, []))
        if told:
            trials = study.get_trials(deepcopy=False)
        _settle_pruned(store, sweep_id, study, trials)
        in_flight = sum(t.state.name == "RUNNING" for t in trials)  # WAITING: enqueued, not asked
        asked = sum(t.state.name != "WAITING" for t in trials)
        while state == "active" and in_flight < spec.parallel and asked < budget(spec):
            trial = study.ask(_distributions(spec))
            _create_runs(store, sweep_id, spec, trial.number, trial.params, [])
            in_flight += 1
            asked += 1
        live = any(r["state"] in ("queued", "running") for rs in runs.values() for r in rs)
        if state == "active" and asked >= budget(spec) and not in_flight and not live:
            # done once the runs of pruned trials have stopped too (and are marked pruned)
            study.set_user_attr("state", "done")
            study.set_user_attr("finished_at", time.time())
        return True


def tick_all(store: Store) -> None:
    """Tick every active sweep of the workspace (the queue's scheduler calls this each pass:
    one query for the studies' attributes, trials read only for active sweeps)."""
    for study in _storage(store).get_all_studies():
        if study.user_attrs.get("state", "active") != "done":
            tick(store, study.study_name)


def _runs_by_trial(store: Store, sweep_id: str) -> dict[int, list[dict]]:
    out: dict[int, list[dict]] = {}
    for run in store.tagged("sweep", sweep_id):
        out.setdefault(int(run["status"]["tags"].get("trial", -1)), []).append(run)
    return out


def _create_runs(store: Store, sweep_id: str, spec: SweepSpec, number: int, params: dict,
                 existing: list[dict]) -> None:
    """Queue the seed runs of trial `number` that do not exist yet."""
    have = {int(r["status"]["tags"].get("seed", 0)) for r in existing}
    creator = _study(store, sweep_id).user_attrs.get("created_by")  # rare: once per trial
    by = {"created_by": creator} if creator else {}
    for i in range(spec.seeds_per_trial):
        if i in have:
            continue
        cfg = spec.trial_config(params, seed_offset=i)
        suffix = f" · seed {cfg['seed']}" if spec.seeds_per_trial > 1 else ""
        cfg["name"] = f"{sweep_id} #{number}{suffix}"
        store.create_run(cfg, tags={"sweep": sweep_id, "trial": number, "seed": i}, **by)


def _advance(store: Store, sweep_id: str, spec: SweepSpec, study, frozen, members: list[dict]) -> bool:
    """Report, prune or tell one running trial; recreate what a crash lost. True when it
    told the study the trial's end."""
    from engine import queue

    if len(members) < spec.seeds_per_trial:
        _create_runs(store, sweep_id, spec, frozen.number, frozen.params, members)
        return False
    for run in members:
        if run["state"] == "interrupted":  # a killed queue or worker: carry on from its checkpoint
            queue.resume(store, run["id"])
    optuna = _optuna()
    states = [run["state"] for run in members]
    if all(s == "completed" for s in states):  # finished before any pruning could stop it
        values = [run_value(run, spec.metric) for run in members]
        if all(v is not None for v in values):
            _report(study, frozen, members, spec, check=False)
            study.tell(frozen.number, statistics.fmean(values))
            return True
    elif _report(study, frozen, members, spec,
                 check=spec.pruner != "none" and not _all_trained(members)):
        study.tell(frozen.number, state=optuna.trial.TrialState.PRUNED)
        for run in members:
            if run["state"] in ("queued", "running"):
                queue.cancel(store, run["id"])
        return True
    if not all(s in FINAL_STATES for s in states):
        return False
    reason = next((f"run {r['id']} {r['state']}" for r in members if r["state"] != "completed"),
                  "a run has no dev score")
    study.set_user_attr(f"failed_{frozen.number}", reason)
    study.tell(frozen.number, state=optuna.trial.TrialState.FAIL)
    return True


def _all_trained(members: list[dict]) -> bool:
    """Every run has trained its last step (it is writing its report): stopping it now
    would save nothing and lose its score."""
    def done(run: dict) -> bool:
        status = run["status"]
        total = status.get("total_steps")
        return run["state"] == "completed" or (isinstance(total, int) and total > 0
                                                and (status.get("step") or 0) >= total)
    return all(done(run) for run in members)


def _report(study, frozen, members: list[dict], spec: SweepSpec, *, check: bool) -> bool:
    """Report the trial's new intermediate values in order; True as soon as the pruner
    says stop (when `check`)."""
    optuna = _optuna()
    trial = optuna.trial.Trial(study, frozen._trial_id)
    for step, value in sorted(_intermediate(members, spec.metric).items()):
        if step in frozen.intermediate_values:
            continue
        trial.report(value, step)
        if check and trial.should_prune():
            return True
    return False


def _settle_pruned(store: Store, sweep_id: str, study, trials: list | None = None) -> None:
    """Runs of pruned trials that have stopped (cancelled, with their checkpoint) → pruned."""
    trials = study.get_trials(deepcopy=False) if trials is None else trials
    pruned = {t.number for t in trials if t.state.name == "PRUNED"}
    if not pruned:
        return
    for number, members in _runs_by_trial(store, sweep_id).items():
        if number in pruned:
            for run in members:
                if run["state"] == "cancelled":
                    store.set_state(run["id"], "pruned")


def _intermediate(members: list[dict], metric: str) -> dict[int, float]:
    """{k: mean dev `metric` of the k-th dev evaluation} over the evaluations every member
    has reached. Counted in evaluations, not optimizer steps: trials with other batch sizes
    evaluate (at each epoch's end) at other steps, and the pruner compares equal keys."""
    per_run = []
    for run in members:
        values = [float(row[metric]) for row in RunFolder(run["dir"]).read_metrics()
                  if row.get("event") == "eval" and isinstance(row.get(metric), (int, float))]
        per_run.append(dict(enumerate(values, start=1)))
    if not per_run:
        return {}
    steps = set(per_run[0]).intersection(*per_run[1:])
    return {s: statistics.fmean(r[s] for r in per_run) for s in steps}


def run_value(run: dict, metric: str) -> float | None:
    """The run's own dev score for `metric` in its report.json (None without one)."""
    from core.report import metric_value

    report = RunFolder(run["dir"]).read_report()
    if not isinstance(report, dict) or not isinstance(report.get("dev"), dict):
        return None
    try:
        return metric_value(report.get("task", "ner"), metric, report["dev"])
    except (KeyError, TypeError, ValueError):
        return None


def stop(store: Store, sweep_id: str, *, cancel_runs: bool = False) -> None:
    """Ask no more trials; with cancel_runs, cancel the runs in flight too."""
    from engine import queue

    study = _study(store, sweep_id)
    study.set_user_attr("state", "stopped")
    if cancel_runs:
        for run in store.tagged("sweep", sweep_id):
            if run["state"] in ("queued", "running"):
                queue.cancel(store, run["id"])


def resume(store: Store, sweep_id: str) -> None:
    """Let a stopped sweep ask trials again (up to its budget)."""
    _study(store, sweep_id).set_user_attr("state", "active")


def is_finished(store: Store, sweep_id: str) -> bool:
    """True once the sweep is done or stopped and none of its runs is queued or running."""
    state = _study(store, sweep_id).user_attrs.get("state", "active")
    if state == "active":
        return False
    if state == "stopped" and any(t.state.name == "RUNNING"
                                  for t in _study(store, sweep_id).get_trials(deepcopy=False)):
        return False  # its trials in flight are still to be told
    return not any(r["state"] in ("queued", "running") for r in store.tagged("sweep", sweep_id))


# ---- what a sweep shows -----------------------------------------------------------------------

def show(store: Store, sweep_id: str) -> dict:
    """{"sweep_id", "state", "metric", "direction", "budget", "trials": [{"number", "run_id",
    "run_ids", "state", "params", "value", "steps", "intermediate", "duration_s"}], "best":
    {"number", "run_id", "params", "value"} | None}. A trial's value is the mean of its runs'
    own dev scores (one run: exactly that run's report.json number)."""
    study = _study(store, sweep_id)
    spec = spec_of(store, sweep_id, study)
    runs = _runs_by_trial(store, sweep_id)
    trials = []
    for t in study.get_trials(deepcopy=False):
        members = sorted(runs.get(t.number, []), key=lambda r: r["status"]["tags"].get("seed", 0))
        trials.append({"number": t.number, "run_id": members[0]["id"] if members else None,
                       "run_ids": [r["id"] for r in members],
                       "state": _trial_state(t, members), "params": dict(t.params),
                       "value": t.value if t.state.name == "COMPLETE" else None,
                       "intermediate": {int(k): v for k, v in sorted(t.intermediate_values.items())},
                       "duration_s": _duration(members),
                       "error": study.user_attrs.get(f"failed_{t.number}")})
    done = [t for t in trials if t["value"] is not None]
    best = None
    if done:
        pick = max if spec.direction == "maximize" else min
        b = pick(done, key=lambda t: t["value"])
        best = {k: b[k] for k in ("number", "run_id", "params", "value")}
    return {"sweep_id": sweep_id, "state": study.user_attrs.get("state", "active"),
            "metric": spec.metric, "direction": spec.direction, "budget": budget(spec),
            "sampler": spec.sampler, "pruner": spec.pruner, "parallel": spec.parallel,
            "seeds_per_trial": spec.seeds_per_trial,
            "search": {k: d.as_dict() for k, d in spec.search.items()},
            "trials": trials, "best": best}


def _trial_state(frozen, members: list[dict]) -> str:
    state = frozen.state.name
    if state == "COMPLETE":
        return "completed"
    if state in ("PRUNED", "FAIL"):
        return "pruned" if state == "PRUNED" else "failed"
    if state == "WAITING":
        return "waiting"
    if members and all(r["state"] == "queued" for r in members):
        return "queued"
    return "running"


def _duration(members: list[dict]) -> float | None:
    total = 0.0
    for run in members:
        status = run["status"]
        start, end = status.get("started_at"), status.get("finished_at") or (
            time.time() if run["state"] == "running" else None)
        if isinstance(start, (int, float)) and isinstance(end, (int, float)):
            total += max(0.0, end - start)
    return total or None


def best_config(store: Store, sweep_id: str) -> dict:
    """The run config of the best trial (its first run's config.json), for "Use best"."""
    best = show(store, sweep_id)["best"]
    if best is None or not best["run_id"]:
        raise WorkbenchError(f"sweep {sweep_id} has no completed trial yet")
    cfg = dict(store.config(best["run_id"]))
    cfg["name"] = f"best of {sweep_id}"
    return cfg


def importance(store: Store, sweep_id: str) -> dict[str, float] | None:
    """optuna.importance over the completed trials ({param: share}), None with fewer than
    two completed trials or when no param varied."""
    optuna = _optuna()
    study = _study(store, sweep_id)
    complete = [t for t in study.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    if len(complete) < 2:
        return None
    try:
        return dict(optuna.importance.get_param_importances(study))
    except (RuntimeError, ValueError, ZeroDivisionError):
        return None


def dumps(obj: Any) -> str:
    return json.dumps(obj, indent=1, default=str)
