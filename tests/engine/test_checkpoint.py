"""Checkpoint files: atomic, deduplicated, and no best weights from a lost future."""
import pytest
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


def _trained(model, opt):
    """One real optimizer step, so the optimizer holds state worth restoring."""
    model(torch.ones(4, model.in_features)).sum().backward()
    opt.step()
    opt.zero_grad()


def test_resume_skips_a_checkpoint_of_another_model_for_the_one_before(tmp_path):
    """Regression (bench/faults.py): a newest checkpoint with the right bytes but another
    model's tensors passed verify, and every resume failed loading it."""
    model, opt, sched = _parts()
    _trained(model, opt)
    checkpoint.save(tmp_path, model, opt, sched, checkpoint.TrainState(step=2))
    wrong, wopt, wsched = torch.nn.Linear(3, 5), None, None
    wopt = torch.optim.AdamW(wrong.parameters(), lr=0.1)
    wsched = torch.optim.lr_scheduler.LambdaLR(wopt, lambda s: 1.0)
    checkpoint.save(tmp_path, wrong, wopt, wsched, checkpoint.TrainState(step=4))
    fresh, opt2, sched2 = _parts()
    assert "has shape [5]" in checkpoint.verify(tmp_path / "checkpoints" / "step_4", fresh)
    notes = []
    path, state = checkpoint.resume(tmp_path, fresh, opt2, sched2, notes)
    assert path.name == "step_2" and state.step == 2
    assert torch.equal(fresh.weight, model.weight)
    assert notes and "step_4" in notes[0] and "shape" in notes[0]


@pytest.mark.parametrize("fields", [{"step": "4"}, {"step": -1}, {"step": True},
                                    {"best_score": "high"}, {"stride": 3}])
def test_resume_skips_a_trainer_state_of_the_wrong_types(tmp_path, fields):
    model, opt, sched = _parts()
    checkpoint.save(tmp_path, model, opt, sched, checkpoint.TrainState(step=2))
    newest = checkpoint.save(tmp_path, model, opt, sched, checkpoint.TrainState(step=4))
    blob = torch.load(newest / "trainer_state.pt", weights_only=True)
    blob["state"].update(fields)
    torch.save(blob, newest / "trainer_state.pt")
    assert checkpoint.verify(newest) is not None
    notes = []
    path, state = checkpoint.resume(tmp_path, *_parts(), notes)
    assert path.name == "step_2" and state.step == 2 and "step_4" in notes[0]


def test_a_load_that_fails_midway_is_undone_before_starting_from_step_0(tmp_path):
    """A checkpoint holding only some of the model's tensors passes the header check and
    fails inside the load, after copying what it had: the fresh weights come back."""
    from safetensors.torch import save_file

    model, opt, sched = _parts()
    _trained(model, opt)
    path = checkpoint.save(tmp_path, model, opt, sched, checkpoint.TrainState(step=2))
    save_file({"weight": torch.full((2, 3), 7.0)}, str(path / "model.safetensors"))  # no bias
    fresh, opt2, sched2 = _parts()
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    rng = torch.get_rng_state()
    notes = []
    assert checkpoint.resume(tmp_path, fresh, opt2, sched2, notes) == (None, None)
    assert all(torch.equal(before[k], v) for k, v in fresh.state_dict().items())
    assert opt2.state_dict()["state"] == {} and torch.equal(torch.get_rng_state(), rng)
    assert "Missing key" in notes[0] and "starts again from step 0" in notes[-1]


def test_resume_with_no_checkpoints_touches_nothing(tmp_path):
    assert checkpoint.resume(tmp_path, *_parts(), []) == (None, None)
