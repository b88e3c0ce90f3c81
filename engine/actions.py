"""Everything the dashboard changes, each as one function taking the acting user first.

Each function checks the user's role where it runs (`engine.access.require`), so a page
that forgot to hide a button still cannot act for a viewer; it records the creator on what
it creates (`created_by` in status.json, a dataset's meta, a sweep's attributes) and appends
the action to the audit log (engine/audit.py), a refusal included. Runs submitted here read
only demo data, stored datasets and files under the admin's data roots
(`engine.access.check_data`); the CLI, run by the machine's own user, calls the engine
directly and keeps local paths.
"""
from __future__ import annotations

from typing import Sequence

from engine import access, audit
from engine.access import Forbidden, User
from engine.store import Store


def _guard(user: User, store: Store, action: str, target: str | Sequence[str] = "") -> None:
    """Forbidden (and an audit line saying so) unless `user` may do `action`."""
    try:
        access.require(user, action)
    except Forbidden as exc:
        audit.record(store.root, user, action, target, ok=False, error=str(exc))
        raise


def settings(store: Store) -> access.Access:
    return access.load(store.root)


def _confined(user: User, store: Store, action: str, config: dict) -> None:
    """`_guard`, then Forbidden (logged) unless every data reference of `config` is one the
    dashboard may read."""
    _guard(user, store, action)
    try:
        access.check_data(config, settings(store))
    except Forbidden as exc:
        audit.record(store.root, user, action, config.get("name") or "", ok=False, error=str(exc))
        raise


def check_data(store: Store, config: dict) -> None:
    """The Train page's check before any file is opened (so a refusal says nothing about
    what exists): every data reference is one the dashboard may read."""
    access.check_data(config, settings(store))


def launch(user: User, store: Store, config: dict) -> list[str]:
    """Queue `config` (N runs for repeats = N); returns the run ids."""
    from engine import groups

    _confined(user, store, "launch", config)
    run_ids = groups.submit(store, config, created_by=user.label)
    audit.record(store.root, user, "launch", run_ids, name=config.get("name") or "",
                 task=config.get("task"))
    return run_ids


def cancel(user: User, store: Store, run_id: str) -> str:
    from engine import queue

    _guard(user, store, "cancel", run_id)
    outcome = queue.cancel(store, run_id)
    audit.record(store.root, user, "cancel", run_id, outcome=outcome)
    return outcome


def resume(user: User, store: Store, run_id: str) -> None:
    from engine import queue

    _guard(user, store, "resume", run_id)
    queue.resume(store, run_id)
    audit.record(store.root, user, "resume", run_id)


def delete_run(user: User, store: Store, run_id: str) -> None:
    _guard(user, store, "delete run", run_id)
    store.delete_run(run_id)
    audit.record(store.root, user, "delete run", run_id)


def free_space(user: User, store: Store, run_id: str) -> int:
    """Drop what a completed run no longer needs (engine/checkpoint.free_space); bytes freed."""
    from engine import checkpoint

    _guard(user, store, "free space", run_id)
    freed = checkpoint.free_space(store.run_dir(run_id))  # keep 0: only the final weights
    audit.record(store.root, user, "free space", run_id, bytes=freed)
    return freed


def add_dataset(user: User, store: Store, name: str, task: str, splits: dict, *,
                meta: dict | None = None, **kwargs) -> str:
    _guard(user, store, "upload", name)
    ds_id = store.add_dataset(name, task, splits, meta={**(meta or {}), "created_by": user.label},
                              **kwargs)
    audit.record(store.root, user, "upload", ds_id, task=task,
                 examples={k: len(v) for k, v in splits.items() if v})
    return ds_id


def tag_file(user: User, store: Store, run_id: str, filename: str, data: bytes, *,
             in_fmt: str | None = None, out_fmt: str | None = None) -> str:
    """Queue a prediction job labelling an uploaded file with run `run_id`'s model (the
    Playground's Tag a file; engine/predict_jobs.py); returns the job id."""
    from engine import predict_jobs

    _guard(user, store, "predict", run_id)
    job_id = predict_jobs.submit(store, run_id, filename, data, in_fmt=in_fmt, out_fmt=out_fmt,
                                 created_by=user.label)
    audit.record(store.root, user, "predict", run_id, job=job_id, bytes=len(data))
    return job_id


def delete_dataset(user: User, store: Store, ds_id: str) -> None:
    _guard(user, store, "delete dataset", ds_id)
    store.delete_dataset(ds_id)
    audit.record(store.root, user, "delete dataset", ds_id)


def create_sweep(user: User, store: Store, spec) -> str:
    from engine import sweep

    _confined(user, store, "sweep", spec.base)
    sweep_id = sweep.create(store, spec, created_by=user.label)
    audit.record(store.root, user, "sweep", sweep_id, trials=spec.trials)
    return sweep_id


def stop_sweep(user: User, store: Store, sweep_id: str, *, cancel_runs: bool = False) -> None:
    from engine import sweep

    _guard(user, store, "cancel", sweep_id)
    sweep.stop(store, sweep_id, cancel_runs=cancel_runs)
    audit.record(store.root, user, "cancel", sweep_id, what="sweep", cancel_runs=cancel_runs)


def resume_sweep(user: User, store: Store, sweep_id: str) -> None:
    from engine import sweep

    _guard(user, store, "resume", sweep_id)
    sweep.resume(store, sweep_id)
    audit.record(store.root, user, "resume", sweep_id, what="sweep")


def launch_curve(user: User, store: Store, config: dict, fractions: Sequence[float], seeds: int) -> str:
    from engine.curve import submit_curve

    _confined(user, store, "curve", config)
    curve_id = submit_curve(store, config, fractions, seeds, created_by=user.label)
    audit.record(store.root, user, "curve", curve_id, fractions=list(fractions), seeds=seeds)
    return curve_id


def save_settings(user: User, store: Store, new: access.Access) -> None:
    """Write the `[access]` settings (roles, data roots)."""
    _guard(user, store, "settings", access.SETTINGS_FILE)
    before = settings(store).to_dict()
    access.save(store.root, new)
    after = new.to_dict()
    audit.record(store.root, user, "settings", access.SETTINGS_FILE,
                 changed={k: after[k] for k in after if after[k] != before.get(k)})


def read_audit(user: User, store: Store, **filters) -> list[dict]:
    _guard(user, store, "audit")
    return audit.read(store.root, **filters)
