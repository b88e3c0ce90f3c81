"""Crash safety by default (issue 16, part 3 and robust readers): a checkpoint at each
evaluation and by time, torn checkpoints skipped for older ones, a restart without any
checkpoint dropping the lost attempt's metrics, and damaged status.json / metrics.jsonl
read as a per-run problem."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from core.config import RunConfig, config_to_dict
from engine import checkpoint, worker
from engine.loop import train
from engine.runfolder import RunFolder, checked_status, iter_jsonl
from engine.store import Store
from tests.engine.runs import make_run_config


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_run_config(tmp_path_factory.mktemp("crash"), "ner", epochs=2, eval_every=3,
                           checkpoint_every=None)


def _events(cfg: dict, run_dir: Path, stop_at: int | None = None) -> list[dict]:
    seen = []
    stop = (lambda: bool(seen) and stop_at is not None and seen[-1].get("step", 0) >= stop_at)
    with torch.random.fork_rng(devices=[]):
        for info in train(RunConfig(**cfg), run_dir, should_stop=stop, workspace=run_dir.parent):
            seen.append(info)
    return seen


def test_the_default_config_checkpoints_at_each_evaluation(base, tmp_path):
    events = _events(base, tmp_path / "run")
    evals = [e["step"] for e in events if e["event"] == "eval"]
    saved = [e["step"] for e in events if e["event"] == "checkpoint"]
    assert evals == [3, 6, 9, 12] and saved == evals  # the help text's "at each evaluation"


def test_checkpoint_minutes_saves_by_time_between_evaluations(base, tmp_path):
    events = _events({**base, "eval_every": 100, "checkpoint_minutes": 1e-9}, tmp_path / "run")
    saved = [e["step"] for e in events if e["event"] == "checkpoint"]
    assert saved == list(range(1, 13))  # every step is "minutes" past the last checkpoint


def test_a_torn_latest_checkpoint_falls_back_to_the_one_before(base, tmp_path):
    run = tmp_path / "run"
    first = _events({**base, "checkpoint_every": 2}, run, stop_at=5)
    assert first[-1]["event"] == "stopped"
    folder = RunFolder(run)
    newest = max(checkpoint._steps(folder.checkpoints_dir), key=lambda p: int(p.name[5:]))
    weights = newest / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[: weights.stat().st_size // 2])  # a full disk, a kill
    assert checkpoint.verify(newest) is not None
    again = _events({**base, "checkpoint_every": 2}, run)
    resume, start = again[0], again[1]
    assert resume["event"] == "resume" and int(Path(resume["checkpoint"]).name[5:]) < int(newest.name[5:])
    assert any(f"checkpoint {newest.name} is unreadable" in n for n in start["notes"])
    assert again[-1]["event"] == "end" and again[-1]["step"] == 12


def test_no_readable_checkpoint_restarts_and_drops_the_lost_attempts_metrics(base, tmp_path):
    store = Store(tmp_path / "ws")
    run_id = store.create_run(config_to_dict(RunConfig(**{**base, "checkpoint_every": 2})))
    run_dir = store.run_dir(run_id)
    calls = {"n": 0}

    def stop_after_a_while() -> bool:
        calls["n"] += 1
        return calls["n"] > 4

    with torch.random.fork_rng(devices=[]):
        assert worker.run(run_dir, stop=stop_after_a_while) == "cancelled"
    folder = RunFolder(run_dir)
    for path in checkpoint._steps(folder.checkpoints_dir):
        (path / "trainer_state.pt").write_bytes(b"\x00torn")
    assert checkpoint.latest(run_dir) is None
    with torch.random.fork_rng(devices=[]):
        assert worker.run(run_dir) == "completed"
    rows = folder.read_metrics()
    assert rows[0]["event"] == "resume" and rows[0]["checkpoint"] is None
    assert [r["event"] for r in rows].count("start") == 1  # none of the lost attempt's lines
    assert "no readable checkpoint is left" in " ".join(rows[1]["notes"])


@pytest.mark.parametrize("raw, bad", [
    ([1], "list"), (42, "int"), ({"state": 5}, "state"), ({"state": "running", "step": "x"}, "step"),
    ({"state": "completed", "tags": [1]}, "tags"),
])
def test_a_damaged_status_reads_as_a_failed_run_saying_what_is_wrong(raw, bad):
    status = checked_status(raw)
    assert status["damaged"] is True and bad in status["error"]
    assert status["state"] in ("failed", "completed")  # a finished run keeps its state


def test_damaged_runs_break_no_listing_and_can_be_deleted(tmp_path, capsys, monkeypatch):
    store = Store(tmp_path / "ws")
    good = store.create_run(config_to_dict(RunConfig(name="good")), state="completed")
    ids = []
    for raw in (b"[1]", b"42", b'{"state": 5}', b"\xff\xfe binary"):
        run_id = store.create_run(config_to_dict(RunConfig()))
        store.run_dir(run_id).joinpath(RunFolder.STATUS).write_bytes(raw)
        ids.append(run_id)
    runs = {r["id"]: r for r in store.list_runs()}
    assert runs[good]["state"] == "completed"
    assert {runs[i]["state"] for i in ids[:3]} == {"failed"}
    from engine import cli

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "ws"))
    assert cli.main(["queue", "list"]) == 0
    assert "Traceback" not in capsys.readouterr().err
    for run_id in ids[:3]:
        store.delete_run(run_id)
    assert not any(store.run_dir(i).exists() for i in ids[:3])


def test_metrics_with_bad_bytes_and_non_objects_keep_their_good_lines(tmp_path):
    path = tmp_path / "metrics.jsonl"
    path.write_bytes(b'{"event": "log", "step": 1}\n\xff\xfe\x00garbage\n5\n[1, 2]\n{"event": "eval", "step": 2}\n{"tor')
    assert [r["step"] for r in iter_jsonl(path)] == [1, 2]
    folder = RunFolder(tmp_path)
    folder.metrics_path.write_bytes(path.read_bytes())
    folder.truncate_metrics(1)
    assert [json.loads(line)["step"] for line in folder.metrics_path.read_text().splitlines()] == [1]


def test_a_second_trainer_on_one_run_folder_fails_fast_and_touches_nothing(base, tmp_path, capsys):
    store = Store(tmp_path / "ws")
    run_id = store.create_run(config_to_dict(RunConfig(**base)))
    run_dir = store.run_dir(run_id)
    before = RunFolder(run_dir).status_path.read_bytes()
    with RunFolder(run_dir).training() as mine:  # as a worker training it would hold it
        assert mine
        assert worker.run(run_dir) == "busy"
        with RunFolder(run_dir).training() as again:
            assert not again
    assert RunFolder(run_dir).status_path.read_bytes() == before
    assert "another process is training" in capsys.readouterr().err


def test_queue_list_into_a_closed_pipe_prints_no_traceback(tmp_path):
    import subprocess
    import sys

    from tests.engine.runs import REPO

    store = Store(tmp_path / "ws")
    for i in range(1200):  # more than a pipe buffer (64 KiB) of lines
        store.create_run(config_to_dict(RunConfig(name=f"r{i}")), state="completed")
    env = {"WORKBENCH_HOME": str(tmp_path / "ws"), "PATH": "/usr/bin:/bin"}
    lister = subprocess.Popen([sys.executable, "-m", "engine", "queue", "list"], cwd=REPO, env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lister.stdout.readline()
    lister.stdout.close()  # `| head -1`
    err = lister.stderr.read().decode()
    assert lister.wait() == 0 and "Traceback" not in err and "BrokenPipe" not in err
