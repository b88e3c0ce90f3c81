"""A real seed group for tests: a `repeats = 3` NER config submitted through
engine.groups.submit and each member trained by engine.worker.run (the function the queue's
worker process runs) on a tiny random BERT, in-process (a worker subprocess would import
torch again for the same code path)."""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import torch

from core.config import RunConfig, config_to_dict
from engine import groups, worker
from engine.store import Store
from tests.engine.runs import NER_LABELS, WORDS, write_dataset
from tests.engine.tiny import make_tiny_model_dir

# 24 train sentences at batch size 8, 2 epochs: 6 steps, a dev evaluation every 3; ~1-2 s a
# run on one core. The learning rate is high so that seeds end at different scores.
SIZES = (24, 12, 12)
COMMON = {"epochs": 2, "batch_size": 8, "max_length": 32, "window_stride": 8, "threads": 1,
          "log_every": 2, "eval_every": 3, "checkpoint_every": 6, "learning_rate": 2e-2,
          "warmup_ratio": 0.0, "device": "cpu"}


@dataclass(frozen=True)
class RealGroup:
    root: Path
    group_id: str
    run_ids: list[str]
    config: dict  # the submitted config (repeats = 3)
    seconds: float

    @property
    def store(self) -> Store:
        return Store(self.root)


def ner_group_config(base: Path, **overrides) -> dict:
    """A valid NER config (tiny model and data under `base`) with repeats = 3."""
    model = make_tiny_model_dir(base / "model", WORDS, "ner", NER_LABELS)
    data = write_dataset(base / "data", "ner", SIZES)
    return config_to_dict(RunConfig(**{**COMMON, **data, "task": "ner", "model": model,
                                       "name": "tiny-group", "seed": 5, "repeats": 3,
                                       **overrides}))


def train_queued(store: Store, run_id: str) -> str:
    """Train one queued run as the scheduler and worker would: claim, then worker.run."""
    assert store.claim(run_id, "queued", "running")
    threads = torch.get_num_threads()
    try:
        with torch.random.fork_rng(devices=[]):  # the loop seeds torch's global generator
            return worker.run(store.run_dir(run_id))
    finally:
        torch.set_num_threads(threads)  # the loop sets the run's thread count process-wide


def build_real_group(base: Path) -> RealGroup:
    t0 = time.monotonic()
    base = Path(base)
    store = Store(base / "workspace")
    config = ner_group_config(base)
    run_ids = groups.submit(store, config)
    for run_id in run_ids:
        state = train_queued(store, run_id)
        assert state == "completed", store.get_run(run_id)["status"].get("error")
    group_id = groups.group_of(store, run_ids[0])
    store.close()
    return RealGroup(store.root, group_id, run_ids, config, time.monotonic() - t0)
