"""A damaged index (workbench.db) is one clear error, and `queue reindex` rebuilds it from the
run and dataset folders (engine.store.Store.reindex), also while the index is in use."""
from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from core.errors import WorkbenchError
from core.records import TextExample, TokenExample
from engine.runfolder import RunFolder
from engine.store import IndexDamaged, Store
from tests.engine.runs import REPO, env_for

NER = [TokenExample(("John", "lives", "in", "Paris"), ("B-PER", "O", "O", "B-LOC")),
       TokenExample(("Mary", "sat"), ("B-PER", "O"))]
MULTI = [TextExample("hello and go", ("greeting", "travel")), TextExample("hi", ("greeting",))]


def config(name: str, task: str = "ner") -> dict:
    return {"name": name, "task": task, "model": "default", "train": "demo:ner", "num_devices": 1}


def engine(home: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "engine", *args], cwd=REPO, env=env_for(home),
                          capture_output=True, text=True, timeout=120)


def populate(root: Path) -> dict:
    """A workspace with runs in several states (one tagged) and two datasets."""
    store = Store(root)
    runs = {"queued": store.create_run(config("q")),
            "tagged": store.create_run(config("t"), tags={"sweep": "lr", "trial": 3}),
            "done": store.create_run(config("d", "classification"))}
    store.set_state(runs["done"], "completed", finished_at=time.time())
    datasets = {"ner": store.add_dataset("my ner", "ner", {"train": NER, "dev": NER[:1]}),
                "multi": store.add_dataset("tags", "multilabel", {"train": MULTI})}
    before = {r["id"]: (r["state"], r["created_at"], r["name"], r["task"]) for r in store.list_runs()}
    store.close()  # the last connection: the WAL is folded into workbench.db
    return {"runs": runs, "datasets": datasets, "before": before}


def damage(root: Path, how: str) -> None:
    db = root / Store.INDEX
    if how == "garbage":
        db.write_bytes(os.urandom(3000))
    elif how == "truncated":
        db.write_bytes(db.read_bytes()[: db.stat().st_size // 2])
    elif how == "emptied":
        db.write_bytes(b"")
    elif how == "missing-table":
        con = sqlite3.connect(db)
        con.execute("DROP TABLE datasets")
        con.commit()
        con.close()


@pytest.mark.parametrize("how", ["garbage", "truncated", "emptied", "missing-table"])
def test_a_damaged_index_is_one_clear_error_then_reindex_rebuilds_it(tmp_path, how):
    root = tmp_path / "ws"
    made = populate(root)
    damage(root, how)
    with pytest.raises(IndexDamaged) as err:
        Store(root)
    message = str(err.value)
    assert "damaged" in message and "python -m engine queue reindex" in message
    assert "\n" not in message and str(root / Store.INDEX) in message

    summary = Store.reindex(root)
    store = Store(root)
    after = {r["id"]: (r["state"], r["created_at"], r["name"], r["task"]) for r in store.list_runs()}
    assert after == made["before"]  # every run, its state, created_at, name and task
    tags = RunFolder(store.run_dir(made["runs"]["tagged"])).read_status()["tags"]
    assert tags == {"sweep": "lr", "trial": 3}
    rows = {d["id"]: d for d in store.list_datasets()}
    assert set(rows) == set(made["datasets"].values())
    ner, multi = rows[made["datasets"]["ner"]], rows[made["datasets"]["multi"]]
    assert (ner["task"], ner["name"], ner["meta"]["splits"]) == ("ner", "my-ner", {"train": 2, "dev": 1})
    assert multi["task"] == "multilabel"
    assert store.load_dataset(ner["id"])["train"][0].tokens == NER[0].tokens
    assert summary["runs"] == 3 and summary["datasets"] == 2 and summary["removed"] == 0
    kept = summary["moved_aside"]
    if how in ("garbage", "truncated"):  # replaced by a fresh file, the damaged one kept
        assert summary["added"] == 3 and summary["datasets_added"] == 2
        assert Path(kept).name.startswith("workbench.db.damaged-") and Path(kept).is_file()
        with pytest.raises(sqlite3.DatabaseError):
            sqlite3.connect(kept).execute("SELECT * FROM runs").fetchall()
    elif how == "missing-table":  # repaired in place; the runs table kept its rows
        assert summary["added"] == 0 and summary["datasets_added"] == 2
        con = sqlite3.connect(kept)
        assert len(con.execute("SELECT * FROM runs").fetchall()) == 3
        con.close()
    else:  # emptied: nothing worth keeping
        assert kept is None and summary["added"] == 3
    # the store works: a new run and a new state
    new = store.create_run(config("after"))
    store.set_state(new, "cancelled")
    assert Store(root).get_run(new)["state"] == "cancelled"


def test_the_cli_says_so_in_one_line_and_reindex_prints_a_summary(tmp_path):
    root = tmp_path / "ws"
    populate(root)
    damage(root, "garbage")
    listing = engine(root, "queue", "list")
    assert listing.returncode == 1
    assert listing.stderr.startswith("error: the index ") and "queue reindex" in listing.stderr
    assert "Traceback" not in listing.stderr and len(listing.stderr.strip().splitlines()) == 1
    text = engine(root, "queue", "reindex")
    assert text.returncode == 0, text.stderr
    line, = text.stdout.strip().splitlines()
    assert line.startswith("reindexed 3 runs (3 added, 0 removed, 0 states synced, 0 damaged), "
                           "2 datasets (2 added, 0 removed); the damaged index was moved to ")
    as_json = engine(root, "queue", "reindex", "--json")
    assert as_json.returncode == 0, as_json.stderr
    summary = json.loads(as_json.stdout)
    assert summary["runs"] == 3 and summary["added"] == 0 and summary["moved_aside"] is None
    assert engine(root, "queue", "list").returncode == 0


def test_reindex_syncs_states_adds_removes_and_repairs(tmp_path):
    store = Store(tmp_path)
    gone, copied, finished, torn, claimed = (store.create_run(config(n)) for n in "abcde")
    store.set_state(finished, "running", pid=12345)
    RunFolder(store.run_dir(finished)).update_status(state="completed")  # the worker's word only
    store.claim(claimed, "queued", "running")  # a scheduler starting it: status.json says queued
    shutil.rmtree(store.run_dir(gone))  # deleted by hand: the row stays
    extra = "20990101-000000-copied-abcdef"
    shutil.copytree(store.run_dir(copied), store.runs_dir / extra)  # a folder with no row
    (store.run_dir(torn) / "status.json").write_text('{"state": "runn')  # torn, and old:
    old = time.time() - 3600
    os.utime(store.run_dir(torn), (old, old))
    (store.runs_dir / "not-a-run").mkdir()  # neither config.json nor status.json
    young = store.runs_dir / "20990101-000000-young-abcdef"  # being created right now
    young.mkdir()
    (young / "config.json").write_text(json.dumps(config("young")))
    ds_gone = store.add_dataset("gone", "ner", {"train": NER})
    shutil.rmtree(store.data_dir / ds_gone)
    ds_new = store.data_dir / "copied-12345678"
    ds_new.mkdir()
    (ds_new / "train.jsonl").write_text('{"text": "hi", "label": "greeting"}\n')
    (store.data_dir / "broken-87654321").mkdir()  # no train split
    (store.data_dir / "broken-87654321" / "train.jsonl").write_text("not json\n")

    summary = Store.reindex(tmp_path)
    assert {k: summary[k] for k in ("runs", "added", "removed", "synced", "damaged", "skipped")} == \
        {"runs": 5, "added": 1, "removed": 1, "synced": 2, "damaged": 1, "skipped": 2}
    assert {k: summary[k] for k in ("datasets", "datasets_added", "datasets_removed",
                                    "datasets_skipped")} == \
        {"datasets": 1, "datasets_added": 1, "datasets_removed": 1, "datasets_skipped": 1}
    assert summary["moved_aside"] is None
    indexed = {r["id"]: r for r in store.indexed_runs("completed")}
    assert finished in indexed  # the index caught up with status.json
    assert [r["id"] for r in store.indexed_runs("running")] == [claimed]  # a claim is kept
    status = RunFolder(store.run_dir(torn)).read_status()
    assert status["state"] == "failed" and status["damaged"] is True and "resume" in status["error"]
    assert store.get_run(torn)["state"] == "failed"
    assert store.get_run(extra)["created_at"] == store.get_run(copied)["created_at"]
    with pytest.raises(WorkbenchError):
        store.get_run(gone)
    assert {d["id"]: d["task"] for d in store.list_datasets()} == {"copied-12345678": "classification"}
    assert not any(r["id"] == young.name for r in store.list_runs())


def test_a_reindex_during_a_state_change_never_copies_the_stale_state_back(tmp_path, monkeypatch):
    """set_state writes the index and status.json in one transaction, and reindex reads every
    status.json under the same lock: a reindex that starts between the two writes (here: made
    to, from another thread) waits, rather than copying the state from before a resume or a
    cancel back into the index, where it would stick."""
    store = Store(tmp_path)
    ids = [store.create_run(config(f"r{i}")) for i in range(3)]
    for run_id in ids:
        store.set_state(run_id, "failed")
    real = RunFolder.update_status
    reindexes: list[threading.Thread] = []

    def update_status(self, **fields):
        if threading.current_thread() is threading.main_thread():
            other = threading.Thread(target=Store.reindex, args=(tmp_path,))
            other.start()
            other.join(0.3)  # done at once unless it waits for this state change
            reindexes.append(other)
        return real(self, **fields)

    monkeypatch.setattr(RunFolder, "update_status", update_status)
    store.set_state(ids[0], "queued", resume=True, error=None)  # a resume
    store.set_state(ids[1], "cancelled")
    monkeypatch.setattr(RunFolder, "update_status", real)
    for other in reindexes:
        other.join(30)
    assert len(reindexes) == 2 and not any(t.is_alive() for t in reindexes)
    with sqlite3.connect(store.db_path) as con:
        index = dict(con.execute("SELECT id, state FROM runs"))
    assert index == {ids[0]: "queued", ids[1]: "cancelled", ids[2]: "failed"}
    assert [r["id"] for r in store.queued()] == [ids[0]]  # the scheduler will start it


def test_an_open_store_follows_the_fresh_index_after_reindex(tmp_path):
    """A long-lived process (the scheduler, the dashboard) keeps its Store: once reindex has
    put a fresh file in place of a damaged one, its next query uses the fresh file, not the
    old one it still has open (whose writes nobody would see)."""
    store = Store(tmp_path)
    run_id = store.create_run(config("kept"))
    live = Store(tmp_path)  # another "process": its own connection, open from now on
    assert live.get_run(run_id)["state"] == "queued"
    (tmp_path / Store.INDEX).write_bytes(b"\0garbage" * 512)  # the disk fails under them,
    for name in ("-wal", "-shm"):  # and the WAL (which would still serve the pages) is lost
        Path(f"{tmp_path / Store.INDEX}{name}").unlink(missing_ok=True)
    assert Store.reindex(tmp_path)["moved_aside"]
    live.set_state(run_id, "cancelled")
    with sqlite3.connect(tmp_path / Store.INDEX) as con:
        assert con.execute("SELECT state FROM runs WHERE id=?", (run_id,)).fetchone() == ("cancelled",)
    assert Store(tmp_path).get_run(run_id)["state"] == "cancelled"


def test_a_deleted_index_with_runs_left_is_damaged_but_a_new_workspace_is_not(tmp_path):
    Store(tmp_path / "fresh").create_run(config("first"))  # a new workspace: tables created
    root = tmp_path / "ws"
    run_id = Store(root).create_run(config("x"))
    for path in root.glob(f"{Store.INDEX}*"):
        path.unlink()
    with pytest.raises(IndexDamaged, match="no tables, but runs/ and data/ hold 1 folders"):
        Store(root)
    assert Store.reindex(root)["added"] == 1
    assert Store(root).get_run(run_id)["name"] == "x"


def test_a_worker_still_trains_a_run_while_the_index_is_damaged(tmp_path):
    """Regression (bench/faults.py): the worker found its workspace with Store.containing,
    which opens the index, so every run failed with IndexDamaged until someone reindexed.
    Only datasets need the index; a demo or file run checks and trains as before."""
    from engine import worker

    store = Store(tmp_path)
    run_id = store.create_run(config("r"))
    run_dir = store.run_dir(run_id)
    store.close()
    damage(tmp_path, "garbage")
    with pytest.raises(IndexDamaged):
        Store.containing(run_dir)
    assert worker._workspace_of(run_dir) == tmp_path.resolve()
    assert worker.check_config(run_dir).train == "demo:ner"


def test_a_remote_worker_reads_datasets_from_their_folders_without_the_index(tmp_path,
                                                                              monkeypatch):
    """A worker the Ray executor starts on another machine must not open workbench.db (SQLite
    over a network file system): with WORKBENCH_REMOTE_WORKER set, dataset references and
    their tasks come from data/<id>/ alone, even when the index is unreadable."""
    from core.config import RunConfig
    from engine.data import resolve_reference

    store = Store(tmp_path)
    ner = store.add_dataset("my ner", "ner", {"train": NER, "dev": NER[:1]})
    multi = store.add_dataset("tags", "multilabel", {"train": MULTI})
    want = store.load_dataset(ner)

    def no_sqlite(*args, **kwargs):
        raise AssertionError("the index was opened")

    monkeypatch.setattr(sqlite3, "connect", no_sqlite)
    monkeypatch.setenv("WORKBENCH_REMOTE_WORKER", "1")
    cfg = RunConfig(train=f"dataset:{ner}")
    assert resolve_reference(f"dataset:{ner}", cfg=cfg, workspace=tmp_path) == want
    assert Store.dataset_tasks_from_files(tmp_path) == {ner: "ner", multi: "multilabel"}
    monkeypatch.delenv("WORKBENCH_REMOTE_WORKER")
    with pytest.raises(AssertionError, match="index was opened"):
        resolve_reference(f"dataset:{ner}", cfg=cfg, workspace=tmp_path)
