"""Disk use of run folders (the "team-safe" issue): a completed run keeps only its final
weights without optimizer state, plus model/ (or, with keep_checkpoints = N, its N newest
resumable checkpoints); a run that did not complete keeps everything and resumes; free_space
shrinks an older completed run, idempotently, and refuses every other one."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from core.config import RunConfig, config_to_dict
from core.errors import WorkbenchError
from engine import checkpoint, worker
from engine.loop import train
from engine.predict import Predictor
from engine.runfolder import RunFolder, write_json_atomic
from engine.store import Store
from tests.engine.runs import make_run_config

# 24 train examples at batch size 4, 2 epochs: 12 steps; dev every 3 steps, a checkpoint every 2.
STEPS = 12


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    return make_run_config(tmp_path_factory.mktemp("disk"), "ner", epochs=2)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    return Store(tmp_path_factory.mktemp("ws"))


def _work(store: Store, config: dict, stop=None) -> tuple[str, str]:
    """Create a run in `store` and train it as the worker does; (run id, final state)."""
    run_id = store.create_run(config_to_dict(RunConfig(**config)))
    return run_id, _resume(store, run_id, stop)


def _resume(store: Store, run_id: str, stop=None) -> str:
    with torch.random.fork_rng(devices=[]):
        return worker.run(store.run_dir(run_id), stop=stop)


def _listing(run_dir: Path) -> dict[str, list[str]]:
    """checkpoints/: each entry, a folder with its file names."""
    root = RunFolder(run_dir).checkpoints_dir
    return {p.name: sorted(q.name for q in p.iterdir()) if p.is_dir() else [] for p in root.iterdir()}


def _resumable(run_dir: Path) -> list[str]:
    """The step checkpoints a resume could start from (weights and trainer state read back)."""
    return [p.name for p in sorted(checkpoint._steps(RunFolder(run_dir).checkpoints_dir),
                                   key=lambda p: int(p.name[5:]))
            if checkpoint.verify(p) is None]


def _serves_its_report(run_dir: Path) -> None:
    """model/ loads in the Predictor (the Playground's) and labels the test split as the
    report's predictions.jsonl says: model/ holds the weights the report scored."""
    folder = RunFolder(run_dir)
    assert folder.has_model() and folder.read_report()["test"]["entities"]
    rows = folder.read_predictions("test")
    predictor = Predictor.load(folder.model_dir, max_length=32)
    labelled = predictor.predict_words([r["tokens"] for r in rows])
    assert [tags for tags, _ in labelled] == [r["pred"] for r in rows]


@pytest.fixture(scope="module")
def completed(store, base):
    run_id, state = _work(store, base)
    assert state == "completed", RunFolder(store.run_dir(run_id)).read_status().get("error")
    return store.run_dir(run_id)


def test_a_completed_run_keeps_its_final_weights_without_optimizer_state(completed):
    assert _listing(completed) == {f"step_{STEPS}": ["model.safetensors", "state.json"]}
    final = RunFolder(completed).checkpoints_dir / f"step_{STEPS}"
    state = json.loads((final / "state.json").read_text())
    assert state["step"] == STEPS and state["best_step"] is not None
    assert _resumable(completed) == []  # nothing claims to be resumable any more
    _serves_its_report(completed)
    # the final status and events name no deleted file
    status, root = RunFolder(completed).read_status(), RunFolder.CHECKPOINTS
    assert status["state"] == "completed" and root not in json.dumps(status)
    end = RunFolder(completed).read_metrics()[-1]
    assert end["event"] == "end" and root not in json.dumps(end)
    assert root not in json.dumps(RunFolder(completed).read_report())


def test_disk_usage_adds_up_and_free_space_on_a_pruned_run_frees_nothing(completed):
    usage = checkpoint.disk_usage(completed)
    final = RunFolder(completed).checkpoints_dir / f"step_{STEPS}"
    weights = (final / "model.safetensors").stat().st_size
    assert usage["checkpoints"] == weights + (final / "state.json").stat().st_size
    model = sum(p.stat().st_size for p in RunFolder(completed).model_dir.rglob("*") if p.is_file())
    assert usage["model"] == model and usage["other"] > 0
    assert usage["total"] == usage["checkpoints"] + usage["model"] + usage["other"]
    assert not checkpoint.can_free(completed)
    assert checkpoint.free_space(completed) == 0
    assert checkpoint.disk_usage(completed) == usage
    assert checkpoint.disk_usage(completed / "missing") == {"total": 0, "checkpoints": 0,
                                                            "model": 0, "other": 0}


def test_keep_checkpoints_keeps_that_many_resumable_ones_then_free_space_frees_them(store, base):
    run_id, state = _work(store, {**base, "keep_checkpoints": 2})
    run_dir = store.run_dir(run_id)
    assert state == "completed"
    assert _resumable(run_dir) == [f"step_{STEPS - 2}", f"step_{STEPS}"]
    assert "best.safetensors" in _listing(run_dir)
    # resumable: a run started again on the folder picks up the final checkpoint
    again = list(train(RunConfig(**{**base, "keep_checkpoints": 2}), run_dir,
                       workspace=run_dir.parent))
    assert again[0] == {"event": "resume", "step": STEPS, "checkpoint": str(
        RunFolder(run_dir).checkpoints_dir / f"step_{STEPS}")}
    assert again[-1]["event"] == "end"
    report = RunFolder(run_dir).read_report()
    before = checkpoint.disk_usage(run_dir)
    assert checkpoint.can_free(run_dir)
    freed = checkpoint.free_space(run_dir)
    after = checkpoint.disk_usage(run_dir)
    assert freed > 0 and freed == before["total"] - after["total"]
    assert after["model"] == before["model"] and after["other"] == before["other"]
    assert _listing(run_dir) == {f"step_{STEPS}": ["model.safetensors", "state.json"]}
    assert checkpoint.free_space(run_dir) == 0  # idempotent
    assert RunFolder(run_dir).read_report() == report
    _serves_its_report(run_dir)


def test_a_run_that_did_not_complete_keeps_its_full_state_and_resumes(store, base):
    calls = {"n": 0}

    def fail_midway() -> bool:  # the loop asks after each step; a crash, not a stop
        calls["n"] += 1
        if calls["n"] > 4:
            raise RuntimeError("out of memory, say")
        return False

    run_id, state = _work(store, base, stop=fail_midway)
    run_dir = store.run_dir(run_id)
    assert state == "failed"
    kept = _listing(run_dir)
    assert _resumable(run_dir) == ["step_2", "step_4"] and "best.safetensors" in kept
    for state in ("failed", "interrupted", "cancelled", "pruned"):
        store.set_state(run_id, state)
        assert checkpoint.can_free(run_dir)  # there is something to free...
        with pytest.raises(WorkbenchError, match=f"is {state}: only a completed run"):
            checkpoint.free_space(run_dir)  # ...but it stays
        assert _listing(run_dir) == kept
    assert _resume(store, run_id) == "completed"
    resumed = [r for r in RunFolder(run_dir).read_metrics() if r["event"] == "resume"]
    assert [(r["step"], Path(r["checkpoint"]).name) for r in resumed] == [(4, "step_4")]
    assert _listing(run_dir) == {f"step_{STEPS}": ["model.safetensors", "state.json"]}


def test_free_space_refuses_a_completed_run_without_model_or_being_trained(store, base, tmp_path):
    run_id = store.create_run(config_to_dict(RunConfig(**base)), state="completed")
    run_dir = store.run_dir(run_id)
    with pytest.raises(WorkbenchError, match="no model/"):
        checkpoint.free_space(run_dir)
    with RunFolder(run_dir).training():  # a worker holds the folder
        with pytest.raises(WorkbenchError, match="being trained"):
            checkpoint.free_space(run_dir)
    with pytest.raises(WorkbenchError, match="does not exist"):
        checkpoint.free_space(tmp_path / "nowhere")


def _parts():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    return model, opt, sched


def test_pruning_killed_midway_leaves_a_readable_folder_the_next_call_tidies(tmp_path):
    model, opt, sched = _parts()
    for step in (2, 4, 6):
        checkpoint.save(tmp_path, model, opt, sched, checkpoint.TrainState(step=step, best_step=4),
                        keep=3)
    checkpoint.save_best(tmp_path, model, step=4)
    root = tmp_path / "checkpoints"
    # as a kill leaves it: an old step renamed away but not yet removed, and the final
    # step's state.json written but its trainer_state.pt still there
    (root / "step_2").rename(root / ".trash_step_2")
    write_json_atomic(root / "step_6" / "state.json", {"step": 6})
    assert checkpoint.latest(tmp_path).name == "step_6"  # still resumable as it was
    assert checkpoint.can_free(tmp_path, keep=2)  # the leftover
    freed = checkpoint.prune(tmp_path, keep=0)
    assert freed > 0 and _listing(tmp_path) == {"step_6": ["model.safetensors", "state.json"]}
    assert json.loads((root / "step_6" / "state.json").read_text())["best_step"] == 4
    assert checkpoint.prune(tmp_path, keep=0) == 0
    other, _, _ = _parts()
    from safetensors.torch import load_model

    load_model(other, str(root / "step_6" / "model.safetensors"))  # the weights read back whole
    assert torch.equal(other.weight, model.weight)


def test_prune_with_keep_keeps_the_newest_whole(tmp_path):
    model, opt, sched = _parts()
    for step in (2, 4, 6):
        checkpoint.save(tmp_path, model, opt, sched, checkpoint.TrainState(step=step), keep=3)
    checkpoint.save_best(tmp_path, model, step=4)
    assert not checkpoint.can_free(tmp_path, keep=3) and checkpoint.can_free(tmp_path, keep=2)
    assert checkpoint.prune(tmp_path, keep=2) > 0
    assert sorted(_listing(tmp_path)) == ["best.safetensors", "step_4", "step_6"]
    assert _resumable(tmp_path) == ["step_4", "step_6"]
    assert checkpoint.prune(tmp_path, keep=2) == 0


def test_the_checkpoints_stay_resumable_until_the_worker_records_completed(store, base,
                                                                             monkeypatch):
    """Regression (bench/faults.py): finish pruned before the worker wrote `completed`, so a
    kill in between left an interrupted run with nothing to resume from. Now the worker has
    completed on disk, then train() prunes."""
    seen = []
    real = RunFolder.update_status

    def watch(self, **fields):
        if fields.get("state") == "completed":
            seen.append(_resumable(self.path))  # what a kill right here would leave
        return real(self, **fields)

    monkeypatch.setattr(RunFolder, "update_status", watch)
    run_id, state = _work(store, base)
    run_dir = store.run_dir(run_id)
    assert state == "completed" and seen and seen[0][-1] == f"step_{STEPS}"
    assert _resumable(run_dir) == []  # pruned once completed was written
    assert _listing(run_dir) == {f"step_{STEPS}": ["model.safetensors", "state.json"]}


def test_a_run_killed_before_completed_resumes_by_redoing_only_the_end(store, base, monkeypatch):
    """The window itself: status.json never said completed, the final checkpoint is whole, so
    the resume starts at the last step and only evaluates and writes the report again."""
    real = RunFolder.update_status

    def die(self, **fields):
        if fields.get("state") == "completed":
            raise KeyboardInterrupt  # stands in for the kill: nothing after it runs
        return real(self, **fields)

    monkeypatch.setattr(RunFolder, "update_status", die)
    run_id = store.create_run(config_to_dict(RunConfig(**base)))
    with pytest.raises(KeyboardInterrupt):
        _resume(store, run_id)
    monkeypatch.setattr(RunFolder, "update_status", real)
    run_dir = store.run_dir(run_id)
    assert _resumable(run_dir)[-1] == f"step_{STEPS}"
    assert _resume(store, run_id) == "completed"
    starts = [e for e in RunFolder(run_dir).read_metrics() if e["event"] == "start"]
    assert starts[-1]["step"] == STEPS  # nothing trained again
    _serves_its_report(run_dir)
