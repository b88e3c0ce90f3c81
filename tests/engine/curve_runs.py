"""A learning curve trained by the real engine, for the engine, CLI and page tests: the runs
are queued by engine.curve.submit_curve and each trained in-process as the queue would run it
(claimed, then engine.worker.run), on a tiny random BERT. In-process rather than worker
subprocesses: each subprocess would import torch again (~8 s on a busy CPU) for the same path.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from engine import worker
from engine.events import print_event
from engine.runfolder import RunFolder
from engine.store import Store
from tests.engine.runs import NER_LABELS, WORDS, TextLog, write_dataset
from tests.engine.tiny import make_tiny_model_dir

SIZES = (48, 16, 16)  # train, dev, test
FRACTIONS = (0.25, 0.5, 1.0)
SEEDS = 2
COMMON = {"epochs": 2, "batch_size": 8, "max_length": 32, "window_stride": 8, "threads": 1,
          "log_every": 2, "eval_every": 3, "checkpoint_every": 6, "learning_rate": 1e-2,
          "warmup_ratio": 0.0, "device": "cpu", "seed": 11, "name": "tiny-curve"}


@dataclass(frozen=True)
class RealCurve:
    root: Path
    curve_id: str
    base: dict  # the base config the curve was submitted with
    seconds: float

    @property
    def store(self) -> Store:
        return Store(self.root)


def tiny_curve_config(base: Path) -> dict:
    """A NER run config (tiny model, 48/16/16 JSONL files under `base`)."""
    model = make_tiny_model_dir(base / "model", WORDS, "ner", NER_LABELS)
    return {**COMMON, **write_dataset(base / "data", "ner", SIZES), "task": "ner",
            "model": model}


def train_queued(store: Store) -> list[str]:
    """Train every queued run of `store` in-process, oldest first, as the scheduler would;
    returns their ids."""
    done = []
    threads = torch.get_num_threads()
    try:
        with torch.random.fork_rng(devices=[]):  # the loop seeds torch's global generator
            for row in store.queued():
                if not store.claim(row["id"], "queued", "running"):
                    continue
                run_dir = store.run_dir(row["id"])
                with RunFolder(run_dir).open_log() as log, \
                        contextlib.redirect_stdout(TextLog(log)):
                    worker.run(run_dir, echo=print_event)
                store.sync_state(row["id"])
                done.append(row["id"])
    finally:
        torch.set_num_threads(threads)  # the loop sets the run's thread count process-wide
    return done


def build_real_curve(base: Path, fractions=FRACTIONS, seeds: int = SEEDS) -> RealCurve:
    """A workspace under `base` holding one finished curve (len(fractions) x seeds runs)."""
    from engine.curve import submit_curve

    t0 = time.monotonic()
    base = Path(base)
    store = Store(base / "workspace")
    cfg = tiny_curve_config(base)
    curve_id = submit_curve(store, cfg, fractions, seeds)
    train_queued(store)
    store.close()
    return RealCurve(store.root, curve_id, cfg, time.monotonic() - t0)
