"""Pre-launch checks: what a worker would hit in its first seconds, run before a run is queued.

`check(cfg)` runs, in the worker's order of discovery, every check that fails a run early:
the values (core.config.validate), the model (the bundled one, a local folder holding a
config.json and safetensors weights, or a hub id the cache or hub has), the device (cuda and
cuda:N against the GPUs torch sees), the data references and max_length against the model's
positions (engine.data.check_references, the worker's own check), and the data itself read as
the worker reads it (engine.data.load_splits). A problem raises a ConfigError naming the key
(or a DataError naming the file and line); what only weakens a run (a dev or test label never
seen in train) comes back as a list of warnings.

The Train page (Check settings and Launch) and `python -m engine queue submit` call it, so a
run they queue no longer fails three seconds later. No model weights are loaded; torch is
imported only to count GPUs, and only when the config names a GPU. Registry names (losses,
schedules, augmenters) are checked by core.config.validate_names, which the callers run.
"""
from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from core.config import RunConfig, validate
from core.errors import ConfigError
from engine.data import check_references, load_splits, workspace_root

if TYPE_CHECKING:
    from engine.store import Store

MAX_LISTED = 5  # unseen labels named in one warning


def check(cfg: RunConfig, *, store: Store | None = None, workspace: Path | None = None,
          device_count: Callable[[], int] | None = None) -> list[str]:
    """Warnings about `cfg`, or the ConfigError / DataError the worker would end the run with.

    `store` (else the store under `workspace`, else $WORKBENCH_HOME) holds the 'dataset:'
    references; relative data paths are made absolute in `cfg` (in place), as the worker
    does. `device_count` stands for torch.cuda.device_count (tests).
    """
    workspace = Path(store.root) if store is not None else (workspace or workspace_root())
    validate(cfg)
    check_model(cfg.model)
    check_device(cfg, device_count or cuda_device_count)
    check_references(cfg, store, workspace=workspace)  # data exist, suit the task; max_length
    return label_warnings(cfg, workspace)


# ---- the model ---------------------------------------------------------------------------

def check_model(name: str) -> None:
    """ConfigError naming `model` unless `name` is the bundled model, a folder with a
    config.json and .safetensors weights, or a hub id whose config the cache (or, online,
    the hub) has; offline, its weights must be in the cache too."""
    from engine import models

    try:
        ref = models.resolve_model(name)
    except models.ModelLoadError as exc:
        raise ConfigError(f"model: {exc}") from None
    folder = Path(ref)
    if folder.is_dir():
        if not any(folder.glob("*.safetensors")):
            raise ConfigError(f"model: folder '{name}' has no .safetensors weights; only "
                              "safetensors are loaded (pickled .bin files can run code): "
                              "convert it with save_pretrained in a trusted environment")
    elif models._offline() and not _cached_weights(ref):  # noqa: SLF001 - the loader's rule
        raise ConfigError(f"model: '{name}' has no safetensors weights in the local cache and "
                          "the hub is switched off (HF_HUB_OFFLINE); download it once online, "
                          "or use \"default\" or a local folder")


def _cached_weights(repo_id: str) -> bool:
    """Whether the local hub cache holds safetensors weights of `repo_id` (one file or shards)."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return any(isinstance(try_to_load_from_cache(repo_id, f), str)
                   for f in ("model.safetensors", "model.safetensors.index.json"))
    except Exception:  # noqa: BLE001 - an odd cache: let the load say what is wrong
        return True


# ---- the device --------------------------------------------------------------------------

def cuda_device_count() -> int:
    """GPUs torch sees (CUDA_VISIBLE_DEVICES applies)."""
    import torch

    return torch.cuda.device_count()


def check_device(cfg: RunConfig, device_count: Callable[[], int] = cuda_device_count) -> None:
    """ConfigError naming `device` (or `num_devices`) when the GPU the config asks for does
    not exist on this machine, where the queue's workers run. 'auto' and 'cpu' always run
    (auto falls back to the CPU); GPUs are counted only when the config names or may use one."""
    wants_gpu = cfg.device.startswith("cuda")
    if not wants_gpu and not (cfg.device == "auto" and cfg.num_devices > 1):
        return
    count = device_count()
    if wants_gpu and count == 0:
        raise ConfigError(f"device: {cfg.device!r} asked for, but no CUDA GPU is visible on this "
                          "machine; use 'auto' (a GPU when there is one) or 'cpu'")
    if cfg.device.startswith("cuda:") and int(cfg.device[5:]) >= count:
        raise ConfigError(f"device: {cfg.device!r} asked for, but this machine has "
                          f"{_gpus(count)}; use one of {_names(count)} or 'auto'")
    if count and cfg.num_devices > count:
        raise ConfigError(f"num_devices: {cfg.num_devices} GPUs asked for, but this machine has "
                          f"{_gpus(count)}; set num_devices to at most {count}")


def _gpus(count: int) -> str:
    return f"{count} GPU" + ("" if count == 1 else "s")


def _names(count: int) -> str:
    return "'cuda:0'" if count == 1 else f"'cuda:0' … 'cuda:{count - 1}'"


# ---- the data: read as the worker reads it, labels compared ---------------------------------

def label_warnings(cfg: RunConfig, workspace: Path | None = None) -> list[str]:
    """One warning per dev/test split holding labels (NER: entity types) that the training
    examples the run uses never show: the model cannot predict them, so they only count as
    errors. Reads the data as the worker does (engine.data.load_splits: dev carving,
    max_train_examples, train_fraction, the task check), raising what it would raise."""
    splits = load_splits(cfg, workspace=workspace)
    seen = {label for ex in splits["train"] for label in _labels(ex, cfg.task)}
    what = "entity type" if cfg.task == "ner" else "label"
    used = "the training examples the run uses" if cfg.max_train_examples or \
        cfg.train_fraction < 1.0 else "train"
    warnings = []
    for name in ("dev", "test"):
        counts = Counter(label for ex in splits.get(name, ()) for label in _labels(ex, cfg.task))
        unseen = sorted(set(counts) - seen, key=lambda label: (-counts[label], label))
        if not unseen:
            continue
        listed = ", ".join(f"{label!r} ({counts[label]}×)" for label in unseen[:MAX_LISTED])
        more = f" and {len(unseen) - MAX_LISTED} more" if len(unseen) > MAX_LISTED else ""
        warnings.append(f"{name}: {len(unseen)} {what}{'' if len(unseen) == 1 else 's'} never "
                        f"seen in {used}: {listed}{more}; the model cannot predict "
                        f"{'it' if len(unseen) == 1 else 'them'}, so {name} scores count "
                        "every one as an error")
    return warnings


def _labels(example, task: str) -> set[str]:
    """The labels of one record: entity types of a tagged sentence, else its text labels."""
    if task != "ner":
        return set(example.labels)
    from core.spans import split_tag

    return {split_tag(tag)[1] for tag in example.tags if tag != "O"}
