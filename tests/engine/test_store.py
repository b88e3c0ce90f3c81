"""The SQLite run/dataset index (engine.store) and the run-folder files (engine.runfolder)."""
from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest

from core.errors import DataError, WorkbenchError
from core.records import TextExample, TokenExample
from engine.runfolder import RunFolder
from engine.store import NotFound, Store, sanitise


@pytest.fixture
def store(tmp_path, monkeypatch) -> Store:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "ws"))
    return Store(tmp_path / "ws")


def config(name: str = "exp", task: str = "ner", **extra) -> dict:
    return {"name": name, "task": task, "model": "default", "train": "demo:ner", **extra}


NER = [TokenExample(("John", "lives", "in", "Paris"), ("B-PER", "O", "O", "B-LOC")),
       TokenExample(("Mary", "sat"), ("B-PER", "O"))]
TEXTS = [TextExample("hello there", ("greeting",)), TextExample("go to paris", ("travel",))]


# ---- runs --------------------------------------------------------------------------------------

def test_create_get_list_set_state(store):
    a = store.create_run(config("first"))
    b = store.create_run(config("second", task="classification"), state="running", pid=123)
    run = store.get_run(a)
    assert run["state"] == "queued" and run["task"] == "ner" and run["name"] == "first"
    assert (store.runs_dir / a / "config.json").is_file()
    assert json.loads((store.runs_dir / a / "config.json").read_text())["name"] == "first"
    assert RunFolder(store.run_dir(b)).read_status()["pid"] == 123
    assert [r["id"] for r in store.list_runs()] == [b, a]  # newest first
    assert [r["id"] for r in store.list_runs(states=("queued",))] == [a]
    assert [r["id"] for r in store.queued()] == [a]

    store.set_state(a, "failed", error="boom")
    run = store.get_run(a)
    assert run["state"] == "failed" and run["status"]["error"] == "boom"
    assert store.queued() == []
    assert [r["id"] for r in store.list_runs(states=("failed",))] == [a]


def test_status_json_wins_over_the_index_and_sync_copies_it(store):
    run_id = store.create_run(config())
    store.set_state(run_id, "running", pid=1)
    RunFolder(store.run_dir(run_id)).update_status(state="completed")  # what the worker writes
    assert store.get_run(run_id)["state"] == "completed"
    assert store.indexed_runs("running")[0]["id"] == run_id  # the index lags
    assert store.list_runs(states=("running",)) == []  # filters follow status.json
    assert store.sync_state(run_id) == "completed"
    assert store.indexed_runs("running") == []


def test_unknown_ids_raise_not_found_and_create_nothing(store):
    with pytest.raises(NotFound, match="nope"):
        store.get_run("nope")
    with pytest.raises(NotFound):
        store.set_state("nope", "running")
    with pytest.raises(NotFound):
        store.load_dataset("nope-12345678")
    assert list(store.runs_dir.iterdir()) == []


def test_delete_refuses_active_runs(store):
    queued = store.create_run(config("q"))
    running = store.create_run(config("r"), state="running")
    done = store.create_run(config("d"))
    store.set_state(done, "completed")
    for run_id in (queued, running):
        with pytest.raises(WorkbenchError, match="cancel it"):
            store.delete_run(run_id)
        assert store.run_dir(run_id).is_dir()
    store.delete_run(done)
    assert not store.run_dir(done).exists()
    with pytest.raises(NotFound):
        store.get_run(done)
    assert {r["id"] for r in store.list_runs()} == {queued, running}


def test_claim_is_exclusive(store):
    run_id = store.create_run(config())
    assert store.claim(run_id, "queued", "running")
    assert not store.claim(run_id, "queued", "cancelled")  # lost the race: state untouched
    assert store.indexed_runs("running")[0]["id"] == run_id


def test_claim_from_many_threads_has_one_winner(store):
    run_id = store.create_run(config())
    wins = []
    threads = [threading.Thread(target=lambda: wins.append(store.claim(run_id, "queued", "running")))
               for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(wins) == [False] * 7 + [True]


def test_many_runs_list_quickly_with_unique_ids(store):
    ids = [store.create_run(config("same-name")) for _ in range(200)]  # all in ~the same second
    assert len(set(ids)) == 200
    t0 = time.perf_counter()
    runs = store.list_runs()
    elapsed = time.perf_counter() - t0
    print(f"list_runs of 200 runs: {elapsed * 1000:.0f} ms")
    assert [r["id"] for r in runs] == ids[::-1]  # newest first, ties broken by insertion
    assert [r["id"] for r in store.queued()] == ids  # submission order
    assert len(store.list_runs(limit=10)) == 10


def test_wal_mode_is_on(store):
    db = sqlite3.connect(store.db_path)
    try:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        db.close()


def test_run_dir_cannot_escape_the_runs_folder(store):
    for evil in ("../../etc", "/etc/passwd", "..", "a/../../b", "x\\..\\y"):
        assert store.run_dir(evil).parent == store.runs_dir


# ---- datasets ----------------------------------------------------------------------------------

def test_dataset_round_trip_and_content_addressed_id(store):
    ds = store.add_dataset("people", "ner", {"train": NER, "dev": NER[:1], "test": []})
    again = store.add_dataset("people", "ner", {"train": NER, "dev": NER[:1]})
    other = store.add_dataset("people", "ner", {"train": NER[:1], "dev": NER[:1]})
    assert ds == again != other
    assert ds.startswith("people-") and len(ds) == len("people-") + 8
    loaded = store.load_dataset(ds)
    assert loaded == {"train": NER, "dev": NER[:1]}  # an empty split is not stored
    listed = {d["id"]: d for d in store.list_datasets()}
    assert set(listed) == {ds, other}
    assert listed[ds]["meta"]["splits"] == {"train": 2, "dev": 1}
    assert listed[ds]["task"] == "ner"

    texts = store.add_dataset("intents", "classification", {"train": TEXTS})
    assert store.load_dataset(texts) == {"train": TEXTS}
    store.delete_dataset(texts)
    with pytest.raises(NotFound):
        store.load_dataset(texts)


def test_dataset_needs_a_train_split(store):
    with pytest.raises(DataError, match="train split"):
        store.add_dataset("x", "ner", {"train": [], "dev": NER})


def test_uploaded_original_is_kept_but_not_read_as_a_split(store):
    raw = b'{"id": 1, "ner_tags": [0, 1], "words": ["a", "b"]}\n'  # not a JSONL our reader takes
    ds = store.add_dataset("upload", "ner", {"train": NER}, original=raw, original_name="orig.jsonl")
    folder = store.data_dir / ds
    assert (folder / "original-orig.jsonl").read_bytes() == raw
    assert store.load_dataset(ds) == {"train": NER}


def test_dataset_names_are_sanitised_into_the_data_folder(store):
    evil = "../../etc/passwd x.csv"
    ds = store.add_dataset(evil, "ner", {"train": NER}, original=b"x", original_name="../../../evil.sh")
    folder = store.data_dir / ds
    assert folder.is_dir() and folder.parent == store.data_dir
    assert "/" not in ds and ".." not in ds and " " not in ds
    assert [p.name for p in folder.iterdir() if p.name.startswith("original-")] == ["original-evil.sh"]
    assert store.list_datasets()[0]["name"] == evil  # the display name is kept as given
    assert store.load_dataset(ds)["train"] == NER


def test_long_dataset_names_stay_loadable(store):
    ds = store.add_dataset("a-very-long-dataset-name-" * 4, "ner", {"train": NER})
    assert len(ds) <= 60
    assert store.load_dataset(ds) == {"train": NER}


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd x.csv", "passwd-x.csv"),
    ("C:\\Users\\me\\data.conll", "data.conll"),
    ("..", "data"),
    ("  ", "data"),
    ("données été.jsonl", "donn-es-t-.jsonl"),
    ("x" * 100, "x" * 60),
])
def test_sanitise(name, expected):
    assert sanitise(name) == expected


# ---- run folder files --------------------------------------------------------------------------

def test_metrics_skip_a_torn_last_line(tmp_path):
    RunFolder(tmp_path).append_metrics({"event": "log", "step": 1})
    with open(tmp_path / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write('{"event": "log", "st')  # a worker killed mid-write
    assert RunFolder(tmp_path).read_metrics() == [{"event": "log", "step": 1}]


def test_update_status_merges_under_concurrent_writers(tmp_path):
    RunFolder(tmp_path).update_status(state="running")

    def write(key):
        for i in range(30):
            RunFolder(tmp_path).update_status(**{key: i})

    threads = [threading.Thread(target=write, args=(k,)) for k in ("a", "b", "c")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    status = RunFolder(tmp_path).read_status()
    assert (status["a"], status["b"], status["c"], status["state"]) == (29, 29, 29, "running")


def test_state_filter_follows_status_json_when_the_index_lags(tmp_path):
    from engine.runfolder import RunFolder
    from engine.store import Store

    store = Store(tmp_path)
    run_id = store.create_run({"task": "ner", "name": "lagging"}, state="running")
    RunFolder(store.run_dir(run_id)).update_status(state="completed")  # the worker's word; index not synced
    assert [r["id"] for r in store.list_runs(states=("completed",))] == [run_id]
    assert store.list_runs(states=("running",)) == []
    assert [r["id"] for r in store.list_runs(states=("completed",), limit=1)] == [run_id]


def test_set_state_if_writes_only_while_the_condition_holds(store):
    """reconcile's write: a run resumed and restarted by a new worker meanwhile (another pid
    in status.json) is left alone."""
    run_id = store.create_run(config(), state="running", pid=111)
    same_pid = lambda status: status.get("pid") == 111  # noqa: E731
    RunFolder(store.run_dir(run_id)).update_status(pid=222)  # a new worker took over
    assert not store.set_state_if(run_id, "interrupted", same_pid, pid=None)
    assert store.get_run(run_id)["state"] == "running"
    assert RunFolder(store.run_dir(run_id)).read_status()["pid"] == 222
    RunFolder(store.run_dir(run_id)).update_status(pid=111)
    assert store.set_state_if(run_id, "interrupted", same_pid, pid=None, error="gone")
    assert store.indexed_runs("interrupted")[0]["status"]["error"] == "gone"
    assert not store.set_state_if("nope", "interrupted", lambda status: True)
