"""Checkpoint files: atomic, deduplicated, and no best weights from a lost future."""
import torch

from engine import checkpoint


def _parts():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    return model, opt, sched


def test_save_load_round_trip_and_keep_newest(tmp_path):
    model, opt, sched = _parts()
    for step in (2, 4, 6):
        checkpoint.save(tmp_path, model, opt, sched, checkpoint.TrainState(step=step, epoch=1))
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["step_4", "step_6"]
    (tmp_path / "checkpoints" / ".tmp_step_9").mkdir()  # as left by a killed save
    checkpoint.save(tmp_path, model, opt, sched, checkpoint.TrainState(step=8))
    assert not (tmp_path / "checkpoints" / ".tmp_step_9").exists()
    other, opt2, sched2 = _parts()
    state = checkpoint.load(checkpoint.latest(tmp_path), other, opt2, sched2)
    assert state.step == 8 and torch.equal(other.weight, model.weight)


def test_saving_twice_at_one_step_keeps_the_folder(tmp_path):
    model, opt, sched = _parts()
    first = checkpoint.save(tmp_path, model, opt, sched, checkpoint.TrainState(step=3))
    mtime = (first / "model.safetensors").stat().st_mtime_ns
    again = checkpoint.save(tmp_path, model, opt, sched, checkpoint.TrainState(step=3))
    assert again == first and (first / "model.safetensors").stat().st_mtime_ns == mtime


def test_best_weights_newer_than_the_resumed_checkpoint_are_discarded(tmp_path):
    model, _, _ = _parts()
    checkpoint.save_best(tmp_path, model, step=10)
    checkpoint.discard_best_after(tmp_path, 12)
    assert (tmp_path / "checkpoints" / "best.safetensors").exists()
    checkpoint.discard_best_after(tmp_path, 8)
    assert not (tmp_path / "checkpoints" / "best.safetensors").exists()
    assert not checkpoint.load_best(tmp_path, model)
