"""Run folders trained by the real engine, for the page contract tests (test_contract.py).

Unlike tests/pages/fakes.py, nothing here writes a report shape of its own: each run is
created in a real engine.store.Store, claimed as the scheduler claims it, and trained by
engine.worker.run (the function `python -m engine.worker` runs) on a tiny random BERT, with
the worker's progress lines going to worker.log as the queue redirects them. So
status.json, metrics.jsonl, report.json, predictions.jsonl and model/ are what production
writes, and a key the engine renames reaches the pages.

The runs: two NER runs that differ in their seed (for Compare) and one classification run.
In-process rather than a worker subprocess: a subprocess would import torch again (~8 s
each on a busy CPU) for the same code path.
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from core.config import RunConfig, config_to_dict
from engine import worker
from engine.events import print_event
from engine.runfolder import RunFolder
from engine.store import Store
from tests.engine.runs import CLASSES, NER_LABELS, WORDS, TextLog, write_dataset
from tests.engine.tiny import make_tiny_model_dir

# 48 train examples at batch size 8: 6 steps an epoch (NER 2 epochs, classification 6, which
# its tiny model needs to learn the two classes); a dev evaluation every 3 steps, so that the
# best checkpoint, the curves and the per-type lines have a few points. ~5 s on one core.
SIZES = (48, 16, 16)
COMMON = {"epochs": 2, "batch_size": 8, "max_length": 32, "window_stride": 8, "threads": 1,
          "log_every": 2, "eval_every": 3, "checkpoint_every": 6, "learning_rate": 1e-2,
          "warmup_ratio": 0.0, "device": "cpu"}


@dataclass(frozen=True)
class RealRuns:
    """A workspace holding three completed runs (ids), trained by the engine."""
    root: Path
    ner: str
    ner_other: str  # the same NER config, another seed
    classification: str
    seconds: float  # how long building took

    @property
    def store(self) -> Store:
        return Store(self.root)


def _train(store: Store, config: dict) -> str:
    """One run as the queue runs it: created queued, claimed, trained by the worker."""
    run_id = store.create_run(config_to_dict(RunConfig(**config)), state="queued")
    assert store.claim(run_id, "queued", "running")
    run_dir = store.run_dir(run_id)
    with RunFolder(run_dir).open_log() as log, contextlib.redirect_stdout(TextLog(log)):
        state = worker.run(run_dir, echo=print_event)
    status = RunFolder(run_dir).read_status()
    if state != "completed":
        raise AssertionError(f"run {run_id} ended {state}: {status.get('error')}")
    return run_id


def build_real_runs(base: Path) -> RealRuns:
    """Train the three runs into a new workspace under `base`."""
    t0 = time.monotonic()
    base = Path(base)
    store = Store(base / "workspace")
    ner_model = make_tiny_model_dir(base / "models" / "ner", WORDS, "ner", NER_LABELS)
    cls_model = make_tiny_model_dir(base / "models" / "classification", WORDS, "classification",
                                    CLASSES)
    ner_data = write_dataset(base / "data" / "ner", "ner", SIZES)
    cls_data = write_dataset(base / "data" / "classification", "classification", SIZES)
    threads = torch.get_num_threads()
    try:
        with torch.random.fork_rng(devices=[]):  # the loop seeds torch's global generator
            # oldest first: Compare opens on the newest run and the other run of its task
            classification = _train(store, {**COMMON, **cls_data, "task": "classification",
                                            "model": cls_model, "metric": "accuracy",
                                            "seed": 3, "name": "real-intent", "epochs": 6,
                                            "learning_rate": 3e-3})
            ner = _train(store, {**COMMON, **ner_data, "task": "ner", "model": ner_model,
                                 "seed": 1, "name": "real-ner"})
            ner_other = _train(store, {**COMMON, **ner_data, "task": "ner", "model": ner_model,
                                       "seed": 2, "name": "real-ner-seed2"})
    finally:
        torch.set_num_threads(threads)  # the loop sets the run's thread count process-wide
    store.close()
    return RealRuns(store.root, ner, ner_other, classification, time.monotonic() - t0)
