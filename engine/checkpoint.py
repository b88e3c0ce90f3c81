"""Checkpoints at checkpoints/step_N: safetensors weights plus optimizer, scheduler, RNG and
data-order state, so a resumed run replays exactly what an uninterrupted one would; and the
disk they take: `disk_usage`, and `prune` / `free_space`, which shrink a completed run to
its final weights (or its newest resumable checkpoints) once model/ is written.

torch is imported inside the functions that need it: the Runs page measures run folders
with this module and stays light.
"""
from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

from core.errors import WorkbenchError
from engine.runfolder import RunFolder, write_json_atomic

TRAINER_STATE = "trainer_state.pt"  # optimizer, scheduler, RNG and TrainState: resumable
WEIGHTS = "model.safetensors"
FINAL_STATE = "state.json"  # the TrainState of a final checkpoint whose trainer state was dropped
BEST = "best.safetensors"
_LEFTOVERS = (".tmp_step_", ".trash_")  # a save, or a pruning, killed midway


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
    import torch
    from safetensors.torch import save_model

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
    import torch

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
    for path in _newest_first(run_dir):
        problem = verify(path)
        if problem is None:
            return path
        if notes is not None:
            notes.append(_skipped(path, problem))
    if _newest_first(run_dir) and notes is not None:
        notes.append(_NONE_LEFT)
    return None


def resume(run_dir: Path, model, optimizer, scheduler,
           notes: list[str] | None = None) -> tuple[Path | None, TrainState | None]:
    """Load the newest checkpoint that verifies against `model` and loads whole; returns it
    and its TrainState, or (None, None) with model, optimizer, scheduler and RNG as they came.

    A checkpoint that fails (torn, tensors of another model, a trainer state of the wrong
    shape or types) is skipped for the one before it, with a sentence in `notes`; a load
    that fails midway is undone before the next try, so a run with no usable checkpoint
    starts from step 0 on its fresh weights, never on half-loaded ones.
    """
    found = _newest_first(run_dir)
    if not found:
        return None, None
    fresh = _snapshot(model, optimizer, scheduler)
    for path in found:
        problem = verify(path, model)
        if problem is None:
            try:
                return path, load(path, model, optimizer, scheduler)
            except Exception as exc:  # noqa: BLE001 - any failure to load means unusable
                problem = _problem(exc)
                _restore(fresh, model, optimizer, scheduler)
        if notes is not None:
            notes.append(_skipped(path, problem))
    if notes is not None:
        notes.append(_NONE_LEFT)
    return None, None


_NONE_LEFT = "no readable checkpoint is left: training starts again from step 0"


def _skipped(path: Path, problem: str) -> str:
    return f"checkpoint {path.name} is unreadable ({problem}); skipped it"


def _problem(exc: BaseException) -> str:
    text = " ".join(line.strip() for line in str(exc).splitlines() if line.strip())
    return f"{type(exc).__name__}: {text[:160]}"


def _newest_first(run_dir: Path) -> list[Path]:
    return sorted(_steps(RunFolder(run_dir).checkpoints_dir), key=lambda p: int(p.name[5:]),
                  reverse=True)


def verify(path: Path, model=None) -> str | None:
    """What is wrong with checkpoint folder `path` (None when its weights and trainer state
    both read back): the safetensors header and every tensor's bytes, and the state blob
    (its keys and the TrainState's types). With `model`: each stored tensor must be one of
    the model's, of the same shape."""
    import torch
    from safetensors import safe_open

    try:
        own = {k: tuple(v.shape) for k, v in model.state_dict().items()} if model is not None \
            else None
        with safe_open(str(Path(path) / "model.safetensors"), framework="pt") as f:
            for key in f.keys():
                shape = tuple(f.get_slice(key).get_shape())  # header offsets against the length
                if own is not None and key not in own:
                    return f"model.safetensors holds {key[:60]!r}, which this model lacks"
                if own is not None and own[key] != shape:
                    return (f"model.safetensors: {key[:60]!r} has shape {list(shape)}, this "
                            f"model's has {list(own[key])}")
        blob = torch.load(Path(path) / "trainer_state.pt", weights_only=True, map_location="cpu")
        if not isinstance(blob, dict) or not {"optimizer", "scheduler", "rng", "state"} <= set(blob):
            return "trainer_state.pt lacks optimizer, scheduler, rng or state"
        _train_state(blob["state"])
        if not isinstance(blob["optimizer"], dict) or not isinstance(blob["scheduler"], dict) \
                or not isinstance(blob["rng"], dict):
            return "trainer_state.pt: optimizer, scheduler or rng is not a table"
    except Exception as exc:  # noqa: BLE001 - any failure to read back means torn
        return _problem(exc)
    return None


_STATE_TYPES = {"step": (int,), "epoch": (int,), "batch_in_epoch": (int,),
                "best_score": (int, float, type(None)), "best_step": (int, type(None)),
                "bad_evals": (int,), "early_stopped": (bool,)}


def _train_state(fields) -> TrainState:
    """A TrainState from a checkpoint's stored fields; ValueError naming the first that is
    missing, unknown or of the wrong type (a bool is no step count)."""
    if not isinstance(fields, dict):
        raise ValueError("the trainer state is not a table")
    unknown = sorted(set(fields) - set(_STATE_TYPES))
    if unknown:
        raise ValueError(f"the trainer state has unknown field {unknown[0][:40]!r}")
    for name, types in _STATE_TYPES.items():
        value = fields.get(name, getattr(TrainState, name))
        ok = isinstance(value, types) and not (isinstance(value, bool) and bool not in types)
        if not ok or (isinstance(value, int) and not isinstance(value, bool) and value < 0
                      and name != "best_score"):
            raise ValueError(f"the trainer state's {name} is {type(value).__name__} "
                             f"{str(value)[:20]}")
    return TrainState(**fields)


def load(path: Path, model, optimizer, scheduler) -> TrainState:
    """Restore model, optimizer, scheduler and RNG state; returns the TrainState."""
    import torch
    from safetensors.torch import load_model

    # On the CPU first: the optimizer moves its state to each parameter's device, so a run
    # checkpointed on a GPU resumes on a CPU-only machine too.
    blob = torch.load(Path(path) / "trainer_state.pt", weights_only=True, map_location="cpu")
    state = _train_state(blob["state"])
    load_model(model, str(Path(path) / "model.safetensors"))
    optimizer.load_state_dict(blob["optimizer"])
    scheduler.load_state_dict(blob["scheduler"])
    torch.set_rng_state(blob["rng"]["torch"])
    if "cuda" in blob["rng"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(blob["rng"]["cuda"])
    return state


def _snapshot(model, optimizer, scheduler) -> dict:
    """What resume must put back when a load fails midway (on the CPU: no extra GPU memory)."""
    import copy

    import torch

    return {"model": {k: v.detach().to("cpu", copy=True) for k, v in model.state_dict().items()},
            "optimizer": copy.deepcopy(optimizer.state_dict()),
            "scheduler": copy.deepcopy(scheduler.state_dict()),
            "rng": torch.get_rng_state(),
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}


def _restore(fresh: dict, model, optimizer, scheduler) -> None:
    import torch

    model.load_state_dict(fresh["model"])
    optimizer.load_state_dict(fresh["optimizer"])
    scheduler.load_state_dict(fresh["scheduler"])
    torch.set_rng_state(fresh["rng"])
    if fresh["cuda"] is not None:
        torch.cuda.set_rng_state_all(fresh["cuda"])


def save_best(run_dir: Path, model, step: int) -> None:
    """Keep the weights of the best evaluation so far, stamped with their step."""
    from safetensors.torch import save_model

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
    from safetensors.torch import load_model

    path = RunFolder(run_dir).checkpoints_dir / "best.safetensors"
    if path.exists():
        load_model(model, str(path))
        return True
    return False


# ---- disk use: measuring a run folder, shrinking a completed one --------------------------

def disk_usage(run_dir: Path) -> dict[str, int]:
    """Bytes a run folder holds: `total`, and of it `checkpoints`, `model` and `other`
    (config, status, metrics, report, predictions, log). A missing folder counts 0; a file
    removed while it is counted is skipped. A few directory listings, no file is read."""
    folder = RunFolder(run_dir)
    sizes = {"checkpoints": 0, "model": 0, "other": 0}
    for entry in _entries(folder.path):
        part = {RunFolder.CHECKPOINTS: "checkpoints", RunFolder.MODEL: "model"}.get(entry.name,
                                                                                  "other")
        sizes[part] += _entry_size(entry)
    return {"total": sum(sizes.values()), **sizes}


def can_free(run_dir: Path, keep: int = 0) -> bool:
    """Whether `prune(run_dir, keep)` would delete anything: step checkpoints beyond the
    newest `keep` (keep 0: beyond the final one), the final one's optimizer state and
    best.safetensors (keep 0), or what a killed save or pruning left. Says nothing about the
    run's state (free_space checks that)."""
    steps, best, leftovers = _inventory(RunFolder(run_dir).checkpoints_dir)
    if leftovers:
        return True
    if keep > 0:
        return len(steps) > keep
    return bool(best) or len(steps) > 1 or any((p / TRAINER_STATE).exists() for p in steps)


def prune(run_dir: Path, keep: int = 0, state: TrainState | None = None) -> int:
    """Shrink the checkpoints of a run that completed (its report, predictions and model/
    written: the caller knows, or free_space checks); returns the bytes freed. Idempotent.

    keep > 0: the newest `keep` step checkpoints stay whole (resumable) with best.safetensors.
    keep 0: only the final step's weights stay, with its TrainState as state.json instead of
    the optimizer, scheduler and RNG state; best.safetensors goes too (model/ holds the best
    weights, and only the loop's finish read them). A folder is renamed out of the way before
    it is removed and state.json is written before trainer_state.pt goes, so a kill midway
    leaves a readable run that the next call finishes tidying. state: the final TrainState
    when the caller holds it (else it is read from the checkpoint).
    """
    root = RunFolder(run_dir).checkpoints_dir
    before = _tree_size(root)
    steps, best, leftovers = _inventory(root)
    if keep > 0:
        doomed = steps[:-keep]
    else:
        final = next((p for p in reversed(steps) if (p / WEIGHTS).is_file()), None)
        if final is not None:
            _drop_trainer_state(final, state)
        doomed = [p for p in steps if p != final] + best
    for path in doomed + leftovers:
        _remove(path)
    return max(0, before - _tree_size(root))


def free_space(run_dir: Path, keep: int = 0) -> int:
    """Prune a completed run now (the Runs page's Free space, or a run trained before
    keep_checkpoints existed); returns the bytes freed, 0 when nothing was left to free.

    Raises WorkbenchError for a run that did not complete (failed, interrupted, cancelled
    and pruned runs resume from their checkpoints), has no report or model/, or that a
    process is training right now.
    """
    folder = RunFolder(run_dir)
    name = folder.path.name
    if keep < 0:
        raise WorkbenchError(f"keep: must be at least 0, found {keep}")
    if not folder.path.is_dir():
        raise WorkbenchError(f"run folder {folder.path} does not exist")
    with folder.training() as mine:  # no worker may save a checkpoint while we delete them
        if not mine:
            raise WorkbenchError(f"run {name} is being trained; free its space once it "
                                 "has completed")
        state = folder.read_status().get("state")
        if state != "completed":
            raise WorkbenchError(f"run {name} is {state or 'without a status'}: only a "
                                 "completed run's checkpoints can go (the others resume "
                                 "from them)")
        if not folder.has_model() or not folder.report_path.is_file():
            raise WorkbenchError(f"run {name} has no model/ or report.json, so its "
                                 "checkpoints are kept: they hold its trained weights")
        return prune(folder.path, keep)


def _inventory(root: Path) -> tuple[list[Path], list[Path], list[Path]]:
    """Under checkpoints/: the step_N folders (oldest first), the best weights (and their
    temp file), and the leftovers of a killed save or pruning."""
    steps, best, leftovers = [], [], []
    for entry in _entries(root):
        if entry.name.startswith(_LEFTOVERS):
            leftovers.append(Path(entry.path))
        elif entry.name.startswith("step_") and entry.name[5:].isdigit() and entry.is_dir():
            steps.append(Path(entry.path))
        elif entry.name in (BEST, Path(BEST).with_suffix(".tmp").name):
            best.append(Path(entry.path))
    return sorted(steps, key=lambda p: int(p.name[5:])), best, leftovers


def _drop_trainer_state(path: Path, state: TrainState | None) -> None:
    """Replace checkpoint `path`'s trainer_state.pt by state.json (its TrainState)."""
    blob = path / TRAINER_STATE
    if not blob.exists():
        return
    fields = asdict(state) if state is not None else _read_train_state(path)
    write_json_atomic(path / FINAL_STATE, fields)
    blob.unlink(missing_ok=True)


def _read_train_state(path: Path) -> dict:
    """The TrainState fields in a checkpoint's trainer_state.pt (memory-mapped: the optimizer
    state beside them is not read); only the step, from the name, when it is unreadable."""
    import torch

    try:
        blob = torch.load(path / TRAINER_STATE, weights_only=True, map_location="cpu",
                          mmap=True)
        return dict(blob["state"])
    except Exception:  # noqa: BLE001 - a torn state still names its step
        return {"step": int(path.name[5:])}


def _remove(path: Path) -> None:
    """Delete a checkpoint folder or file; a folder is first renamed to .trash_<name>, so that
    no reader takes a half-deleted folder for a checkpoint."""
    target = path
    if path.is_dir() and not path.name.startswith(_LEFTOVERS):
        target = path.with_name(".trash_" + path.name)
        shutil.rmtree(target, ignore_errors=True)  # left by an earlier, killed pruning
        path.rename(target)
    if target.is_dir():
        shutil.rmtree(target, ignore_errors=True)
    else:
        target.unlink(missing_ok=True)


def _entries(path: Path) -> list[os.DirEntry]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError:  # missing, not a folder, or removed meanwhile
        return []


def _entry_size(entry: os.DirEntry) -> int:
    try:
        if entry.is_dir(follow_symlinks=False):
            return _tree_size(Path(entry.path))
        return entry.stat(follow_symlinks=False).st_size
    except OSError:
        return 0


def _tree_size(path: Path) -> int:
    return sum(_entry_size(entry) for entry in _entries(path))
