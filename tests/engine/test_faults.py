"""Fault injection (bench/faults.py) as a test: one trial of each fault, with real processes.

A module-scoped lab trains the template run once, then runs every trial two at a time (each
worker process spends most of its life importing torch, so two overlap well on 2 cores):
kill -9 of the worker at a random moment, inside a checkpoint write and inside the final
report; kill -9 of `queue serve`; SIGSTOP/SIGCONT; a full disk during a checkpoint; damaged
status.json of an interrupted run; and every kind of damage to a finished run. Each must
recover (completed with a report of all its steps, or for a finished run: read as damaged
and be deletable), leave no run stuck and no other finished run damaged, and lose at most one
checkpoint interval of steps.
"""
from __future__ import annotations

import importlib.util
import json
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from engine.runfolder import RunFolder
from engine.store import Store

pytestmark = pytest.mark.slow

BENCH = Path(__file__).resolve().parents[2] / "bench" / "faults.py"


def _load_bench():
    if "bench_faults" in sys.modules:
        return sys.modules["bench_faults"]
    spec = importlib.util.spec_from_file_location("bench_faults", BENCH)
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_faults"] = module
    spec.loader.exec_module(module)
    return module


faults = _load_bench()

# (fault, options): one trial each; the options pin the moment where a random one could land
# in a window that tests below single out
TRIALS = [
    ("kill", {}),
    ("kill_ckpt", {"moment": "state"}),
    ("kill_report", {"moment": "report"}),
    ("queue_kill", {}),
    ("sigstop", {}),
    ("disk_full", {}),
    ("corrupt_interrupted", {"target": "status", "mode": "garbage"}),
    *[("corrupt_finished", {"target": t, "mode": m})
      for t in faults.CORRUPT_TARGETS for m in faults.CORRUPT_MODES],
    ("kill_report", {"moment": "status"}),  # test_a_kill_after_the_checkpoints_are_pruned...
]


@pytest.fixture(scope="module")
def rows(tmp_path_factory):
    lab = faults.make_lab(tmp_path_factory.mktemp("faults"), timeout=300)
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [pool.submit(faults.run_trial, lab, fault, i, 0, **options)
                   for i, (fault, options) in enumerate(TRIALS)]
        out = [f.result() for f in futures]
    return {"lab": lab, "rows": out}


def _rows(rows, fault: str, **options) -> list[dict]:
    return [r for r in rows["rows"] if r["fault"] == fault
            and all(r.get(k) == v for k, v in options.items())]


def _assert_recovered(row: dict, interval: int) -> None:
    shown = json.dumps(row, default=str)[:3000]
    assert "harness_error" not in row, shown
    assert row["fired"], shown
    assert row["recovered"], shown
    assert row["stuck"] == 0 and row["data_lost"] == 0, shown
    assert row["reader_errors"] == [], shown
    assert row["lost_steps"] is not None and row["lost_steps"] <= interval, shown


@pytest.mark.parametrize("fault, options", [t for t in TRIALS if t[0] != "corrupt_finished"
                                            and t[1].get("moment") != "status"],
                         ids=lambda v: v if isinstance(v, str) else "-".join(map(str, v.values())))
def test_the_run_recovers_within_one_checkpoint_interval(rows, fault, options):
    (row,) = _rows(rows, fault, **options)
    _assert_recovered(row, rows["lab"].interval)


def test_a_killed_scheduler_leaves_its_worker_training(rows):
    (row,) = _rows(rows, "queue_kill")
    assert row["worker_survived"] and row["state_after_fault"] == "completed"


def test_a_stopped_worker_reads_running_and_finishes_unharmed(rows):
    (row,) = _rows(rows, "sigstop")
    assert row["state_while_stopped"] == "running" and row["unharmed"]


def test_a_full_disk_fails_the_run_and_resuming_finishes_it(rows):
    (row,) = _rows(rows, "disk_full")
    assert row["worker_rc"] == 1 and row["state_after_fault"] == "failed"


def test_every_damage_to_a_finished_run_reads_and_deletes(rows):
    found = _rows(rows, "corrupt_finished")
    assert len(found) == len(faults.CORRUPT_TARGETS) * len(faults.CORRUPT_MODES)
    for row in found:
        _assert_recovered(row, 0)
        if row["target"] == "status":
            assert row["state_read"] == "failed", row  # damaged, never "completed" as if whole


def test_a_kill_as_the_run_is_recorded_completed_loses_no_work(rows):
    """Regression (bench/faults.py): finish pruned the checkpoints before the worker wrote
    `completed`, so a kill in between left no resumable checkpoint and the resume trained
    every step again. The checkpoints now stay whole until completed is on disk."""
    (row,) = _rows(rows, "kill_report", moment="status")
    _assert_recovered(row, rows["lab"].interval)
    assert row["lost_steps"] == 0, row


@pytest.mark.parametrize("content", [b"", b'{"state": "compl', b"\xff\xfe\x00 binary", b"null"])
def test_a_status_file_that_is_not_json_reads_as_damaged(tmp_path, content):
    """Regression (found by bench/faults.py): status.json with bad bytes, cut short, empty or
    null read as {} (a missing status), so a finished run showed its index's `completed` as
    if nothing were wrong; it now reads failed and damaged, can be resumed or deleted."""
    store = Store(tmp_path / "ws")
    run_id = store.create_run({"task": "ner", "name": "r"}, state="completed")
    folder = RunFolder(store.run_dir(run_id))
    folder.status_path.write_bytes(content)
    status = folder.read_status()
    assert status["state"] == "failed" and status["damaged"] is True
    assert "status.json is damaged" in status["error"] and "resume" in status["error"]
    assert store.get_run(run_id)["state"] == "failed"
    store.delete_run(run_id)
    assert not folder.path.exists()


def test_a_run_whose_status_file_is_not_json_can_be_resumed(tmp_path):
    from engine import queue

    store = Store(tmp_path / "ws")
    run_id = store.create_run({"task": "ner", "name": "r"}, state="running")
    folder = RunFolder(store.run_dir(run_id))
    folder.status_path.write_bytes(b'{"state": "running", "st')  # the worker died, the disk tore it
    assert queue.reconcile(store) == []  # it reads failed already: nothing to mark interrupted
    queue.resume(store, run_id)
    status = folder.read_status()
    assert status["state"] == "queued" and status["error"] is None
    assert not status.get("damaged")  # rewritten whole: a resumed run is no longer damaged


def test_a_missing_status_file_still_reads_as_none(tmp_path):
    folder = RunFolder(tmp_path / "run")
    folder.path.mkdir()
    assert folder.read_status() == {}
