"""Checkpoints at checkpoints/step_N: safetensors weights plus optimizer, scheduler, RNG and
data-order state, so a resumed run replays exactly what an uninterrupted one would."""
from __future__ import annotations

import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_model, save_model

from engine.runfolder import RunFolder


@dataclass
class TrainState:
    """Where training stands: optimizer steps done, data position, best score so far."""

    step: int = 0
    epoch: int = 0
    batch_in_epoch: int = 0
    best_score: float | None = None
    best_step: int | None = None
    bad_evals: int = 0
    early_stopped: bool = False


def save(run_dir: Path, model, optimizer, scheduler, state: TrainState, keep: int = 2) -> Path:
    """Write checkpoints/step_N atomically (temp folder + rename); keep the newest `keep`."""
    root = RunFolder(run_dir).checkpoints_dir
    final = root / f"step_{state.step}"
    if (final / "trainer_state.pt").exists() and _saved_step(final) == state.step:
        return final  # already saved at this step (periodic checkpoint, then a stop)
    for stale in root.glob(".tmp_step_*"):  # left by a worker killed mid-save
        shutil.rmtree(stale, ignore_errors=True)
    tmp = root / f".tmp_step_{state.step}"
    tmp.mkdir(parents=True)
    save_model(model, str(tmp / "model.safetensors"))
    rng = {"torch": torch.get_rng_state()}
    if torch.cuda.is_available():
        rng["cuda"] = torch.cuda.get_rng_state_all()
    from engine.graphs import plain_optimizer_state, plain_scheduler_state

    torch.save({"optimizer": plain_optimizer_state(optimizer.state_dict()),
                "scheduler": plain_scheduler_state(scheduler.state_dict()),
                "rng": rng, "state": asdict(state)}, tmp / "trainer_state.pt")
    shutil.rmtree(final, ignore_errors=True)
    tmp.rename(final)
    for old in sorted(_steps(root), key=lambda p: int(p.name[5:]))[:-keep]:
        shutil.rmtree(old, ignore_errors=True)
    return final


def _saved_step(path: Path) -> int | None:
    try:
        return int(torch.load(path / "trainer_state.pt", weights_only=True)["state"]["step"])
    except Exception:  # noqa: BLE001 - unreadable means not saved
        return None


def _steps(root: Path) -> list[Path]:
    if not root.is_dir():
        return []
    return [p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_")
            and p.name[5:].isdigit() and (p / "trainer_state.pt").exists()]


def latest(run_dir: Path, notes: list[str] | None = None) -> Path | None:
    """The newest checkpoint folder that reads back whole (verify), or None. A torn one
    (a disk filled or a kill during the write) is skipped for the one before it, and a
    sentence saying so is appended to `notes`."""
    found = sorted(_steps(RunFolder(run_dir).checkpoints_dir), key=lambda p: int(p.name[5:]),
                   reverse=True)
    for path in found:
        problem = verify(path)
        if problem is None:
            return path
        if notes is not None:
            notes.append(f"checkpoint {path.name} is unreadable ({problem}); skipped it")
    if found and notes is not None:
        notes.append("no readable checkpoint is left: training starts again from step 0")
    return None


def verify(path: Path) -> str | None:
    """What is wrong with checkpoint folder `path` (None when its weights and trainer state
    both read back): the safetensors header and every tensor's bytes, and the state blob."""
    from safetensors import safe_open

    try:
        with safe_open(str(Path(path) / "model.safetensors"), framework="pt") as f:
            for key in f.keys():
                f.get_slice(key)  # header offsets against the file's real length
        blob = torch.load(Path(path) / "trainer_state.pt", weights_only=True, map_location="cpu")
        if not isinstance(blob, dict) or not {"optimizer", "scheduler", "rng", "state"} <= set(blob):
            return "trainer_state.pt lacks optimizer, scheduler, rng or state"
    except Exception as exc:  # noqa: BLE001 - any failure to read back means torn
        return f"{type(exc).__name__}: {str(exc)[:120]}"
    return None


def load(path: Path, model, optimizer, scheduler) -> TrainState:
    """Restore model, optimizer, scheduler and RNG state; returns the TrainState."""
    load_model(model, str(Path(path) / "model.safetensors"))
    # On the CPU first: the optimizer moves its state to each parameter's device, so a run
    # checkpointed on a GPU resumes on a CPU-only machine too.
    blob = torch.load(Path(path) / "trainer_state.pt", weights_only=True, map_location="cpu")
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    torch.set_rng_state(blob["rng"]["torch"])
    if "cuda" in blob["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(blob["rng"]["cuda"])
    return TrainState(**blob["state"])


def save_best(run_dir: Path, model, step: int) -> None:
    """Keep the weights of the best evaluation so far, stamped with their step."""
    path = RunFolder(run_dir).checkpoints_dir / "best.safetensors"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    save_model(model, str(tmp), metadata={"step": str(step)})
    tmp.replace(path)


def discard_best_after(run_dir: Path, step: int) -> None:
    """Drop best weights written after `step` (by a run killed after its last checkpoint):
    the resumed run recomputes them, and must not load weights from a lost future."""
    from safetensors import safe_open

    path = RunFolder(run_dir).checkpoints_dir / "best.safetensors"
    if not path.exists():
        return
    try:
        with safe_open(str(path), framework="pt") as f:
            best_step = int((f.metadata() or {}).get("step", -1))
    except Exception:  # noqa: BLE001 - a torn file is as good as none
        best_step = step + 1
    if best_step > step:
        path.unlink(missing_ok=True)


def load_best(run_dir: Path, model) -> bool:
    """Load the best weights seen on dev, if any were saved; True when loaded."""
    path = RunFolder(run_dir).checkpoints_dir / "best.safetensors"
    if path.exists():
        load_model(model, str(path))
        return True
    return False
