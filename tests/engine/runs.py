"""Tiny, fast run configs for real-process engine tests: seeded NER / classification data as
JSONL files plus a tiny BERT folder, so that a worker trains in a few seconds on CPU."""
from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.formats import write_jsonl
from core.records import TextExample, TokenExample
from tests.engine.tiny import make_tiny_model_dir

REPO = Path(__file__).resolve().parents[2]

PEOPLE = [["john", "smith"], ["mary"], ["anna", "lee"], ["tom"], ["li", "wei"], ["kofi"]]
PLACES = [["paris"], ["new", "york"], ["berlin"], ["lyon"], ["nairobi"], ["lake", "geneva"]]
FILLERS = ["the", "cat", "sat", "on", "mat", "today", "lives", "in", "visited", "met", "and", "."]
NER_LABELS = ["O", "B-LOC", "B-PER", "I-LOC", "I-PER"]  # the order the loop's label list has
CLASSES = ["greeting", "travel"]
WORDS = sorted({w for name in PEOPLE + PLACES for w in name} | set(FILLERS))


def ner_examples(n: int, seed: int) -> list[TokenExample]:
    """`n` seeded sentences like 'john smith visited new york today .' tagged in IOB2."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        person, place = rng.choice(PEOPLE), rng.choice(PLACES)
        verb = rng.choice(["visited", "lives in", "met"]).split()
        tail = rng.choice([["today", "."], ["."], ["and", "the", "cat", "."]])
        tokens = person + verb + place + tail
        tags = (["B-PER"] + ["I-PER"] * (len(person) - 1) + ["O"] * len(verb)
                + ["B-LOC"] + ["I-LOC"] * (len(place) - 1) + ["O"] * len(tail))
        out.append(TokenExample(tuple(tokens), tuple(tags)))
    return out


def text_examples(n: int, seed: int) -> list[TextExample]:
    """`n` seeded texts labelled 'travel' (mention a place) or 'greeting'."""
    rng = random.Random(seed)
    out = []
    for i in range(n):
        person = " ".join(rng.choice(PEOPLE))
        if i % 2:
            out.append(TextExample(f"{person} visited {' '.join(rng.choice(PLACES))} today", ("travel",)))
        else:
            out.append(TextExample(f"{person} met the cat and sat on the mat", ("greeting",)))
    return out


def write_dataset(folder: Path, task: str = "ner", sizes=(24, 8, 8)) -> dict[str, str]:
    """train/dev/test JSONL files under `folder`; returns {split: path}."""
    folder.mkdir(parents=True, exist_ok=True)
    make = ner_examples if task == "ner" else text_examples
    paths = {}
    for k, (split, n) in enumerate(zip(("train", "dev", "test"), sizes)):
        path = folder / f"{split}.jsonl"
        path.write_text(write_jsonl(make(n, seed=100 + k)), encoding="utf-8")
        paths[split] = str(path)
    return paths


def make_run_config(tmp_path: Path, task: str = "ner", **overrides) -> dict:
    """A run config dict (RunConfig keys) that trains a tiny model in a few seconds on CPU.

    24 train examples at batch size 4: 6 optimizer steps per epoch, 3 epochs = 18 steps;
    a dev evaluation every 3 steps and a checkpoint every 2.
    """
    tmp_path = Path(tmp_path)
    labels = NER_LABELS if task == "ner" else CLASSES
    model = make_tiny_model_dir(tmp_path / "model", WORDS, task, labels)
    paths = write_dataset(tmp_path / "data", task)
    cfg = {"task": task, "model": model, **paths, "epochs": 3, "batch_size": 4,
           "max_length": 32, "window_stride": 8, "threads": 1, "log_every": 1, "eval_every": 3,
           "checkpoint_every": 2, "learning_rate": 5e-3, "warmup_ratio": 0.0, "device": "cpu",
           "seed": 7, "name": f"tiny-{task}"}
    cfg.update(overrides)
    return cfg


def env_for(home: Path) -> dict[str, str]:
    """Environment for engine subprocesses: this workspace, the repo importable, one thread."""
    return {**os.environ, "WORKBENCH_HOME": str(home), "PYTHONPATH": str(REPO),
            "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


def start_worker(run_dir: Path, home: Path, log: Path | None = None) -> subprocess.Popen:
    """`python -m engine.worker RUN_DIR` in its own session (as the queue starts it)."""
    out = open(log, "ab") if log else subprocess.DEVNULL
    try:
        return subprocess.Popen([sys.executable, "-m", "engine.worker", str(run_dir)], cwd=REPO,
                                env=env_for(home), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    finally:
        if log:
            out.close()


def kill_quietly(pid: int | None, sig: int = signal.SIGKILL) -> None:
    """Send `sig` to a process this test started, ignoring one that is already gone."""
    if not pid:
        return
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    """Poll `predicate` until it returns a truthy value; AssertionError after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


class TextLog:
    """A text stream over worker.log's binary file (print writes str), for training a run
    in-process with its progress lines where the queue's worker would write them."""

    def __init__(self, raw):
        self.raw = raw

    def write(self, text: str) -> int:
        self.raw.write(text.encode("utf-8"))
        return len(text)

    def flush(self) -> None:
        self.raw.flush()
