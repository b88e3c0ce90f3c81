"""Fault injection as a benchmark: does a run survive kill -9, a dead queue, SIGSTOP, a full
disk and corrupted files, and what does each fault cost?

python bench/faults.py [--trials 20] [--faults kill,kill_ckpt,...] [--jobs 2] [--seed 0] \
    [--timeout 300] [--root DIR] [--out bench/results/faults_cpu.json]

Every trial has its own workspace (WORKBENCH_HOME) holding one completed run, the canary,
and trains a tiny random BERT (NER, 48 optimizer steps, a dev evaluation and so a checkpoint
every 4 steps: the default crash safety, checkpoint_every unset) in real processes:
`python -m engine.worker RUN_DIR`, `python -m engine queue serve`, `python -m engine queue
list | resume`. The faults:

  kill                 kill -9 of the worker at a random moment of training and its end
  kill_ckpt            kill -9 inside a checkpoint write (a random checkpoint; the weights or
                       the trainer state half written, just after the folder's rename, or
                       the best weights half written)
  kill_report          kill -9 inside the final phase: predictions.jsonl, report.json or
                       model/ half written, the checkpoints being pruned, the `end` line half
                       appended, or just before status.json says completed
  queue_kill           kill -9 of `queue serve` while its worker trains; serve started again
  sigstop              SIGSTOP of the worker for 2-5 s (readers run meanwhile), then SIGCONT
  disk_full            RLIMIT_FSIZE set inside the worker as a random checkpoint starts, below
                       the size of the weights or the trainer state (a disk that fills up:
                       EFBIG); resumed without the limit
  corrupt_interrupted  kill -9, then status.json, metrics.jsonl or the newest checkpoint
                       damaged (garbage bytes, truncation, empty, wrong JSON types)
  corrupt_finished     the same damage to a second completed run; it must read as damaged
                       (status.json) and be deletable, every reader must keep working

The kill_ckpt, kill_report and disk_full faults run the worker through this file's `_worker`
entry point, which patches the writer in question (write part of the file, then SIGKILL) and
calls engine.worker.main. The recovery is the documented one: `queue list` (readers,
reconcile), then `queue resume RUN` with `queue serve` running (queue_kill: serve again).

Measured per trial: fired (the fault happened before the run had completed), recovered (the
run ends `completed` with a report.json of all its steps), steps lost (the last step logged
before the fault minus the step the resumed attempt started from), the bound on that (one
checkpoint interval; for a destroyed newest checkpoint, back to the one before it), stuck
(runs of the workspace not in a final state at the end), data lost (the canary's report.json
changed, or it no longer reads completed), and every reader that raised or printed a
traceback.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import random
import resource
import shutil
import signal
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
BENCH = Path(__file__).resolve()

FAULTS = ("kill", "kill_ckpt", "kill_report", "queue_kill", "sigstop", "disk_full",
          "corrupt_interrupted", "corrupt_finished")
CKPT_MOMENTS = ("weights", "state", "rename", "best")
REPORT_MOMENTS = ("predictions", "report", "model", "prune", "end_line", "status")
CORRUPT_TARGETS = ("status", "metrics", "checkpoint")
CORRUPT_MODES = ("garbage", "truncate", "empty", "wrongtypes")

# ---- the tiny run: data, model, config (after tests/engine/runs.py and tiny.py) -------------
PEOPLE = [["john", "smith"], ["mary"], ["anna", "lee"], ["tom"], ["li", "wei"], ["kofi"]]
PLACES = [["paris"], ["new", "york"], ["berlin"], ["lyon"], ["nairobi"], ["lake", "geneva"]]
FILLERS = ["the", "cat", "sat", "on", "mat", "today", "lives", "in", "visited", "met", "and", "."]
LABELS = ["O", "B-LOC", "B-PER", "I-LOC", "I-PER"]
WORDS = sorted({w for name in PEOPLE + PLACES for w in name} | set(FILLERS))
SIZES = {"train": 48, "dev": 8, "test": 8}
RUN = {"task": "ner", "epochs": 4, "batch_size": 4, "max_length": 32, "window_stride": 8,
       "threads": 1, "log_every": 1, "eval_every": 4, "learning_rate": 5e-3, "warmup_ratio": 0.0,
       "device": "cpu", "seed": 7, "name": "faults"}  # 48 examples / 4 = 12 steps x 4 epochs


def ner_examples(n: int, seed: int):
    """`n` seeded sentences like 'john smith visited new york today .' tagged in IOB2."""
    from core.records import TokenExample

    rng = random.Random(seed)
    out = []
    for _ in range(n):
        person, place = rng.choice(PEOPLE), rng.choice(PLACES)
        verb = rng.choice(["visited", "lives in", "met"]).split()
        tail = rng.choice([["today", "."], ["."], ["and", "the", "cat", "."]])
        tags = (["B-PER"] + ["I-PER"] * (len(person) - 1) + ["O"] * len(verb)
                + ["B-LOC"] + ["I-LOC"] * (len(place) - 1) + ["O"] * len(tail))
        out.append(TokenExample(tuple(person + verb + place + tail), tuple(tags)))
    return out


def make_model_dir(folder: Path) -> str:
    """A random tiny BERT for token classification (32 wide, 2 layers) and its tokenizer."""
    import torch
    from transformers import BertConfig, BertForTokenClassification, BertTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    folder.mkdir(parents=True, exist_ok=True)
    chars = sorted(set(string.ascii_lowercase + string.digits + string.punctuation))
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    for token in WORDS + chars + ["##" + c for c in chars]:
        if token not in vocab:
            vocab.append(token)
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(vocab=str(folder / "vocab.txt"), do_lower_case=True,
                              model_max_length=512)
    config = BertConfig(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=512,
                        num_labels=len(LABELS), id2label=dict(enumerate(LABELS)),
                        label2id={label: i for i, label in enumerate(LABELS)})
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = BertForTokenClassification(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def make_config(folder: Path) -> dict:
    """The run config (validated, as config.json holds it): the tiny model, JSONL splits."""
    from core.config import config_from_dict, config_to_dict, validate
    from core.formats import write_jsonl

    paths = {}
    for k, (split, n) in enumerate(SIZES.items()):
        path = folder / "data" / f"{split}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(write_jsonl(ner_examples(n, seed=100 + k)), encoding="utf-8")
        paths[split] = str(path)
    cfg = config_from_dict({**RUN, "model": make_model_dir(folder / "model"), **paths})
    validate(cfg)
    return config_to_dict(cfg)


def env_for(home: Path) -> dict[str, str]:
    """Environment of every engine process of a trial: its workspace, one thread, offline;
    WORKBENCH_SLOTS=1 so that `queue serve` does not import torch to count GPUs."""
    return {**os.environ, "WORKBENCH_HOME": str(home), "PYTHONPATH": str(ROOT),
            "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false", "WORKBENCH_SLOTS": "1",
            "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


# ---- the lab: config, canary template, timings ------------------------------------------------
class Lab:
    """What every trial shares: the run config, a completed template run (copied into each
    trial's workspace as the canary), its step count and how long its training took."""

    def __init__(self, root: Path, timeout: float = 300.0):
        self.root = Path(root)
        self.timeout = timeout
        self.config: dict = {}
        self.template: Path | None = None
        self.total_steps = 0
        self.interval = RUN["eval_every"]  # checkpoint_every unset: one at each evaluation
        self.train_s = 0.0  # the template's `start` event to its `end` event
        self.worker_s = 0.0  # the template's worker process, start to exit


def make_lab(root: Path, timeout: float = 300.0) -> Lab:
    """Write the model, data and config under `root` and train the template run once."""
    from engine.runfolder import RunFolder
    from engine.store import Store

    lab = Lab(root, timeout)
    lab.config = make_config(lab.root / "lab")
    store = Store(lab.root / "template")
    run_id = store.create_run(lab.config, state="running")
    run_dir = store.run_dir(run_id)
    t0 = time.monotonic()
    with RunFolder(run_dir).open_log() as log:
        proc = subprocess.Popen([sys.executable, "-m", "engine.worker", str(run_dir)], cwd=ROOT,
                                env=env_for(store.root), stdout=log, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        raise RuntimeError(f"the template run did not finish in {timeout:.0f} s: {run_dir}")
    lab.worker_s = time.monotonic() - t0
    folder = RunFolder(run_dir)
    status = folder.read_status()
    if rc != 0 or status.get("state") != "completed" or folder.read_report() is None:
        raise RuntimeError(f"the template run ended {status.get('state')} (exit {rc}): "
                           f"{folder.log_tail(20)}")
    rows = folder.read_metrics()
    times = {r["event"]: r["time"] for r in rows if r.get("event") in ("start", "end")}
    lab.train_s = times["end"] - times["start"]
    lab.total_steps = int(status["total_steps"])
    lab.template = run_dir
    return lab


def add_copy(store, lab: Lab) -> str:
    """A completed run in `store`: the template's files under a new run id."""
    from engine.runfolder import RunFolder

    run_id = store.create_run(lab.config, state="completed")
    src, dst = RunFolder(lab.template), RunFolder(store.run_dir(run_id))
    for item in src.path.iterdir():
        if item.name.startswith(".") or item.name == RunFolder.CONFIG:
            continue  # locks; config.json is written by create_run
        if item.is_dir():
            shutil.copytree(item, dst.path / item.name)
        else:
            shutil.copy2(item, dst.path / item.name)
    store.sync_state(run_id)
    return run_id


def sha256(path: Path) -> str | None:
    try:
        return hashlib.sha256(Path(path).read_bytes()).hexdigest()
    except OSError:
        return None


# ---- one trial ------------------------------------------------------------------------------
class Trial:
    """A workspace with a canary, the processes this trial started, and its result row."""

    def __init__(self, lab: Lab, fault: str, index: int, seed: int = 0):
        from engine.store import Store

        self.lab, self.fault, self.index = lab, fault, index
        self.rng = random.Random(f"{seed}/{fault}/{index}")
        self.ws = lab.root / "trials" / f"{fault}-{index:02d}"
        shutil.rmtree(self.ws, ignore_errors=True)
        self.store = Store(self.ws)
        self.env = env_for(self.ws)
        self.canary = add_copy(self.store, lab)
        self.canary_sha = sha256(self._folder(self.canary).report_path)
        self.procs: list[subprocess.Popen] = []
        self.run_dirs: list[Path] = []
        self.mark = self.ws / "fault.mark"  # the _worker entry point writes it as it strikes
        self.t0 = time.monotonic()
        self.row: dict = {"fault": fault, "trial": index, "fired": False, "recovered": False,
                          "lost_steps": None, "bound": lab.interval, "stuck": 0, "data_lost": 0,
                          "reader_errors": [], "notes": []}

    # -- helpers
    def _folder(self, run_id: str):
        from engine.runfolder import RunFolder

        return RunFolder(self.store.run_dir(run_id))

    def note(self, text: str) -> None:
        self.row["notes"].append(text)

    def new_run(self) -> str:
        """A run for a worker started directly (no scheduler): indexed running, as `python -m
        engine train` indexes its own run, so that reconcile judges it once its worker is gone."""
        run_id = self.store.create_run(self.lab.config, state="running")
        self.run_dirs.append(self.store.run_dir(run_id))
        return run_id

    def popen(self, args: list[str], log_path: Path | None = None) -> subprocess.Popen:
        out = open(log_path, "ab") if log_path else subprocess.DEVNULL
        try:
            proc = subprocess.Popen([sys.executable, *args], cwd=ROOT, env=self.env, stdout=out,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        finally:
            if log_path:
                out.close()
        self.procs.append(proc)
        return proc

    def start_worker(self, run_id: str, fault_args: list[str] | None = None) -> subprocess.Popen:
        """`python -m engine.worker RUN_DIR`, or this file's `_worker` entry point with a fault."""
        folder = self._folder(run_id)
        if fault_args is None:
            args = ["-m", "engine.worker", str(folder.path)]
        else:
            args = [str(BENCH), "_worker", *fault_args, "--mark", str(self.mark), str(folder.path)]
        return self.popen(args, folder.log_path)

    def start_serve(self) -> subprocess.Popen:
        from engine import queue

        proc = self.popen(["-m", "engine", "queue", "serve"], self.ws / "queue.log")
        if not wait_for(lambda: queue.daemon_pid(self.store) == proc.pid or proc.poll() is not None,
                        30):
            self.note("queue serve wrote no pid file in 30 s")
        return proc

    def stop(self, proc: subprocess.Popen, sig: int = signal.SIGTERM, wait: float = 20) -> int | None:
        """Signal a process this trial started and reap it (SIGKILL after `wait` seconds)."""
        if proc.poll() is None:
            try:
                os.kill(proc.pid, sig)
            except ProcessLookupError:
                pass
        try:
            return proc.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            proc.kill()
            return proc.wait()

    def cli(self, *args: str, timeout: float = 120) -> tuple[int, str, str]:
        try:
            out = subprocess.run([sys.executable, "-m", "engine", *args], cwd=ROOT, env=self.env,
                                 capture_output=True, text=True, timeout=timeout,
                                 stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            return 124, "", f"timed out after {timeout:.0f} s"
        return out.returncode, out.stdout, out.stderr

    def state(self, run_id: str) -> str | None:
        try:
            return self.store.get_run(run_id)["state"]
        except Exception as exc:  # noqa: BLE001 - a reader that breaks is a finding
            self.reader_error(f"store.get_run: {type(exc).__name__}: {exc}")
            return None

    def reader_error(self, text: str) -> None:
        if text not in self.row["reader_errors"]:
            self.row["reader_errors"].append(text)

    def metrics(self, run_id: str) -> list[dict]:
        return self._folder(run_id).read_metrics()

    def wait_event(self, run_id: str, event: str, proc: subprocess.Popen | None = None,
                   timeout: float | None = None) -> dict | None:
        """The first `event` line of the run's metrics.jsonl, polled every 10 ms; None when
        `proc` ends or the timeout passes first."""
        def seen():
            for row in self.metrics(run_id):
                if row.get("event") == event:
                    return row
            return None
        return wait_for(seen, timeout or self.lab.timeout, 0.01,
                        stop=(lambda: proc.poll() is not None) if proc else None) or seen()

    def wait_worker_pid(self, run_id: str, timeout: float = 60) -> int | None:
        """The pid of the worker a scheduler started for the run (from status.json)."""
        from engine import queue

        def pid():
            p = self._folder(run_id).read_status().get("pid")
            return p if queue.pid_alive(p, queue.WORKER_MARKERS) else None
        return wait_for(pid, timeout, 0.02)

    def check_readers(self, run_id: str | None, *, expect_listed: bool = True) -> None:
        """Every reader of the workspace on every run: `queue list` (which reconciles), the
        store, RunFolder's readers, the newest-checkpoint check and the status headline."""
        from core.report import status_headline
        from engine import checkpoint

        rc, out, err = self.cli("queue", "list")
        if rc != 0 or "Traceback" in out + err:
            self.reader_error(f"queue list exit {rc}: {(err or out)[-800:]}")
        elif run_id and expect_listed and run_id not in out:
            self.reader_error(f"queue list does not show {run_id}")
        try:
            runs = self.store.list_runs()
        except Exception as exc:  # noqa: BLE001
            self.reader_error(f"store.list_runs: {type(exc).__name__}: {exc}")
            runs = []
        for run in runs:
            folder = self._folder(run["id"])
            for name, read in (("read_status", folder.read_status), ("read_config", folder.read_config),
                               ("read_metrics", folder.read_metrics), ("read_report", folder.read_report),
                               ("read_predictions", folder.read_predictions), ("log_tail", folder.log_tail),
                               ("checkpoint.latest", lambda f=folder: checkpoint.latest(f.path, [])),
                               ("status_headline", lambda f=folder: status_headline(f.read_status(), "dev"))):
                try:
                    value = read()
                except Exception as exc:  # noqa: BLE001
                    self.reader_error(f"{name}: {type(exc).__name__}: {exc}")
                    continue
                if name == "read_metrics" and not all(isinstance(r, dict) for r in value):
                    self.reader_error("read_metrics returned a row that is not an object")
                if name == "read_status" and not isinstance(value, dict):
                    self.reader_error(f"read_status returned a {type(value).__name__}")

    # -- the documented recovery, and what it measures
    def recover(self, run_id: str, serve: subprocess.Popen | None = None) -> None:
        """`queue resume RUN` with `queue serve` running (started here unless given), until
        the run ends; records the state after the fault and the resume's answer."""
        from engine.queue import RESUMABLE
        from engine.runfolder import FINAL_STATES

        before = self.state(run_id)
        self.row["state_after_fault"] = before
        if before == "completed":
            return
        own = serve is None
        serve = serve or self.start_serve()
        try:
            if before in RESUMABLE:
                rc, out, err = self.cli("queue", "resume", run_id)
                if rc != 0:
                    self.note(f"queue resume exit {rc}: {(err or out).strip()[-400:]}")
                    return
                self.row["resumed"] = True
            else:
                self.note(f"after the fault the run reads {before!r}, which is not resumable")
            ended = wait_for(lambda: self.state(run_id) in (*FINAL_STATES, "interrupted"),
                             self.lab.timeout, 0.2)
            if not ended:
                self.note(f"the run did not end within {self.lab.timeout:.0f} s of the resume")
        finally:
            if own:
                self.stop(serve)

    def measure(self, run_id: str, step_at_fault: int, t_fault: float) -> None:
        """Steps lost: the last step logged before the fault minus the step the attempt
        started after the fault began from (none started: nothing was lost)."""
        starts = [r for r in self.metrics(run_id)
                  if r.get("event") == "start" and r.get("time", 0) > t_fault]
        self.row["step_at_fault"] = step_at_fault
        if starts:
            self.row["resumed_from"] = starts[0].get("step")
            self.row["lost_steps"] = max(0, step_at_fault - int(starts[0].get("step") or 0))
        else:
            self.row["lost_steps"] = 0

    def judge(self, run_id: str) -> None:
        """Recovered: completed, with a report.json that covers every step."""
        folder = self._folder(run_id)
        state = self.state(run_id)
        report = folder.read_report()
        self.row["final_state"] = state
        self.row["report_steps"] = report.get("steps") if report else None
        self.row["recovered"] = bool(state == "completed" and report
                                     and report.get("steps") == self.lab.total_steps)
        if state != "completed":
            status = folder.read_status()
            self.row["error"] = str(status.get("error") or "")[-1500:]
            self.row["log_tail"] = folder.log_tail(15)

    def finish(self) -> dict:
        """Count stuck runs and damaged canaries, stop what is still running."""
        from engine import queue
        from engine.runfolder import FINAL_STATES

        try:
            runs = self.store.list_runs()
        except Exception as exc:  # noqa: BLE001
            self.reader_error(f"store.list_runs: {type(exc).__name__}: {exc}")
            runs = []
        stuck = [r["id"] for r in runs if r["state"] not in FINAL_STATES]
        self.row["stuck"] = len(stuck)
        if stuck:
            self.row["stuck_runs"] = {r["id"]: r["state"] for r in runs if r["id"] in stuck}
        canary = self._folder(self.canary)
        status = canary.read_status()
        intact = (sha256(canary.report_path) == self.canary_sha and status.get("state") == "completed"
                  and not status.get("damaged") and canary.has_model()
                  and any(r["id"] == self.canary and r["state"] == "completed" for r in runs))
        self.row["data_lost"] = 0 if intact else 1
        for proc in self.procs:
            if proc.poll() is None:
                serve = "serve" in proc.args  # a scheduler stops cleanly; a worker is killed
                self.stop(proc, signal.SIGTERM if serve else signal.SIGKILL)
        for run_dir in self.run_dirs:  # a worker a scheduler started and that still runs
            from engine.runfolder import RunFolder

            pid = RunFolder(run_dir).read_status().get("pid")
            if queue.pid_alive(pid, str(run_dir)):
                os.kill(pid, signal.SIGKILL)
                self.note(f"killed worker {pid}, still running at the end of the trial")
        self.row["wall_s"] = round(time.monotonic() - self.t0, 2)
        self.row["workspace"] = str(self.ws)
        return self.row


def wait_for(predicate: Callable, timeout: float, interval: float = 0.1,
             stop: Callable[[], bool] | None = None):
    """Poll `predicate` until it returns a truthy value (returned); None after `timeout` s or
    once `stop()` is true."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if stop is not None and stop():
            return None
        time.sleep(interval)
    return None


def last_step(rows: list[dict]) -> int:
    """The highest step any event of `rows` names (0 when none)."""
    return max((r["step"] for r in rows if isinstance(r.get("step"), int)
                and not isinstance(r.get("step"), bool)), default=0)


def kill_at_random(trial: Trial, run_id: str, proc: subprocess.Popen | None, pid: int,
                   sig: int = signal.SIGKILL) -> tuple[bool, float]:
    """Send `sig` to `pid` at a random moment between the run's `start` event and the end of
    a training as long as the template's (its last steps, evaluation, report and model
    included); returns (fired, time): fired when the run had not completed yet."""
    seen = trial.wait_event(run_id, "start", proc)
    if seen is None:
        trial.note("no 'start' event before the worker ended")
        return False, time.time()
    delay = trial.rng.uniform(0, trial.lab.train_s)
    trial.row["delay_s"] = round(delay, 3)
    wait_for(lambda: False, delay, 0.005, stop=lambda: proc is not None and proc.poll() is not None)
    state = trial._folder(run_id).read_status().get("state")
    t = time.time()
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False, t
    return state == "running", t


def kill_at_step(trial: Trial, run_id: str, proc: subprocess.Popen) -> tuple[bool, float]:
    """kill -9 of the worker once it has logged a random step after its first checkpoint
    (and before its last one), so that an interrupted run with checkpoints is left."""
    total, interval = trial.lab.total_steps, trial.lab.interval
    target = trial.rng.randint(interval + 1, total - interval)
    trial.row["kill_step"] = target
    if not wait_for(lambda: last_step(trial.metrics(run_id)) >= target, trial.lab.timeout, 0.005,
                    stop=lambda: proc.poll() is not None):
        trial.note(f"the worker ended before step {target}")
        return False, time.time()
    state = trial._folder(run_id).read_status().get("state")
    t = time.time()
    try:
        os.kill(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        return False, t
    return state == "running", t


# ---- the faults -----------------------------------------------------------------------------
def trial_kill(trial: Trial) -> None:
    run_id = trial.new_run()
    proc = trial.start_worker(run_id)
    fired, t = kill_at_random(trial, run_id, proc, proc.pid)
    trial.row["worker_rc"] = proc.wait(timeout=trial.lab.timeout)
    trial.row["fired"] = fired and trial.row["worker_rc"] == -signal.SIGKILL
    _after_fault(trial, run_id, t)


def trial_kill_ckpt(trial: Trial, moment: str | None = None) -> None:
    moment = moment or trial.rng.choice(CKPT_MOMENTS)
    checkpoints = trial.lab.total_steps // trial.lab.interval
    nth = trial.rng.randint(1, 2) if moment == "best" else trial.rng.randint(1, checkpoints)
    fraction = round(trial.rng.uniform(0.05, 0.95), 3)
    trial.row.update(moment=moment, nth=nth, fraction=fraction)
    _fault_worker(trial, ["--fault", "ckpt", "--moment", moment, "--nth", str(nth),
                          "--fraction", str(fraction)])


def trial_kill_report(trial: Trial, moment: str | None = None) -> None:
    moment = moment or trial.rng.choice(REPORT_MOMENTS)
    fraction = round(trial.rng.uniform(0.05, 0.95), 3)
    nth = trial.rng.randint(1, 3)
    trial.row.update(moment=moment, nth=nth, fraction=fraction)
    _fault_worker(trial, ["--fault", "report", "--moment", moment, "--nth", str(nth),
                          "--fraction", str(fraction)])


def trial_disk_full(trial: Trial) -> None:
    checkpoints = trial.lab.total_steps // trial.lab.interval
    nth = trial.rng.randint(1, checkpoints)
    # below the weights (model.safetensors fails) or between them and the trainer state
    # (about twice the weights: AdamW's two moments), so that this checkpoint cannot be written
    fraction = round(trial.rng.uniform(0.3, 1.8), 3)
    trial.row.update(nth=nth, fraction=fraction, moment="weights" if fraction < 1 else "state")
    _fault_worker(trial, ["--fault", "disk", "--nth", str(nth), "--fraction", str(fraction)])


def _fault_worker(trial: Trial, args: list[str]) -> None:
    run_id = trial.new_run()
    t = time.time()
    proc = trial.start_worker(run_id, args)
    try:
        trial.row["worker_rc"] = proc.wait(timeout=trial.lab.timeout)
    except subprocess.TimeoutExpired:
        trial.note("the faulty worker did not end")
        trial.stop(proc, signal.SIGKILL)
        trial.row["worker_rc"] = proc.returncode
    if trial.mark.exists():  # killed, or (a full disk) failed; a kill while pruning the
        # checkpoints of a run already recorded completed fires and leaves it completed
        trial.row["fired"] = (trial.row["worker_rc"] == -signal.SIGKILL
                              or trial._folder(run_id).read_status().get("state") != "completed")
        trial.row["mark"] = trial.mark.read_text().strip()
        t = float(trial.row["mark"].split()[0])
    _after_fault(trial, run_id, t)


def _after_fault(trial: Trial, run_id: str, t_fault: float) -> None:
    step = last_step(trial.metrics(run_id))
    trial.check_readers(run_id)
    trial.recover(run_id)
    trial.measure(run_id, step, t_fault)
    trial.judge(run_id)
    trial.check_readers(run_id)


def trial_queue_kill(trial: Trial) -> None:
    from engine import queue
    from engine.runfolder import FINAL_STATES

    run_id = queue.submit(trial.store, trial.lab.config)
    trial.run_dirs.append(trial.store.run_dir(run_id))
    serve = trial.start_serve()
    worker = trial.wait_worker_pid(run_id)
    if worker is None:
        trial.note("serve started no worker")
    fired, t = kill_at_random(trial, run_id, None, serve.pid) if worker else (False, time.time())
    trial.row["serve_rc"] = serve.wait(timeout=30)
    trial.row["fired"] = fired
    step = last_step(trial.metrics(run_id))
    trial.row["worker_survived"] = queue.pid_alive(worker, queue.WORKER_MARKERS)
    gap = trial.rng.uniform(0, 2)
    trial.row["serve_down_s"] = round(gap, 2)
    time.sleep(gap)
    trial.check_readers(run_id)
    serve = trial.start_serve()
    try:
        wait_for(lambda: trial.state(run_id) in (*FINAL_STATES, "interrupted"), trial.lab.timeout, 0.2)
        trial.recover(run_id, serve)  # the run ended interrupted or failed: resume it
    finally:
        trial.stop(serve)
    trial.measure(run_id, step, t)
    trial.judge(run_id)
    trial.check_readers(run_id)


def trial_sigstop(trial: Trial) -> None:
    from engine import queue
    from engine.runfolder import FINAL_STATES

    run_id = queue.submit(trial.store, trial.lab.config)
    trial.run_dirs.append(trial.store.run_dir(run_id))
    serve = trial.start_serve()
    try:
        worker = trial.wait_worker_pid(run_id)
        pause = round(trial.rng.uniform(2, 5), 2)
        trial.row["stopped_s"] = pause
        fired, t = kill_at_random(trial, run_id, None, worker, signal.SIGSTOP) if worker \
            else (False, time.time())
        trial.row["fired"] = fired
        step = last_step(trial.metrics(run_id))
        if fired:
            time.sleep(pause / 2)
            trial.check_readers(run_id)  # queue list reconciles: a stopped worker is alive
            trial.row["state_while_stopped"] = trial.state(run_id)
            time.sleep(pause / 2)
            os.kill(worker, signal.SIGCONT)
        wait_for(lambda: trial.state(run_id) in (*FINAL_STATES, "interrupted"), trial.lab.timeout, 0.2)
        trial.recover(run_id, serve)
    finally:
        trial.stop(serve)
    trial.measure(run_id, step, t)
    trial.judge(run_id)
    rows = trial.metrics(run_id)
    steps = [r["step"] for r in rows if r.get("event") == "log"]
    unharmed = (steps == sorted(set(steps)) and [r["event"] for r in rows].count("start") == 1
                and not any(r.get("event") == "resume" for r in rows))
    trial.row["unharmed"] = unharmed
    if trial.row.get("state_while_stopped") not in (None, "running"):
        trial.note(f"while stopped the run read {trial.row['state_while_stopped']!r}")
    trial.row["recovered"] = trial.row["recovered"] and unharmed \
        and trial.row.get("state_while_stopped") in (None, "running")
    trial.check_readers(run_id)


def trial_corrupt_interrupted(trial: Trial, target: str | None = None, mode: str | None = None) -> None:
    target = target or trial.rng.choice(CORRUPT_TARGETS)
    mode = mode or trial.rng.choice(CORRUPT_MODES)
    trial.row.update(target=target, mode=mode)
    run_id = trial.new_run()
    proc = trial.start_worker(run_id)
    fired, t = kill_at_step(trial, run_id, proc)
    trial.row["worker_rc"] = proc.wait(timeout=trial.lab.timeout)
    folder = trial._folder(run_id)
    step = last_step(folder.read_metrics())
    trial.row["fired"] = fired and trial.row["worker_rc"] == -signal.SIGKILL
    if target == "checkpoint":
        saved = resumable_steps(folder.checkpoints_dir)
        if saved:
            fallback = saved[-2] if len(saved) > 1 else 0
            trial.row["bound"] = max(trial.lab.interval, step - fallback)
    trial.row["damage"] = corrupt(folder, target, mode, trial.rng)
    trial.check_readers(run_id)
    trial.recover(run_id)
    trial.measure(run_id, step, t)
    trial.judge(run_id)
    if target == "checkpoint":
        notes = [n for r in trial.metrics(run_id) if r.get("event") == "start"
                 for n in r.get("notes") or []]
        trial.row["detected"] = any("unreadable" in n for n in notes)
    trial.check_readers(run_id)


def trial_corrupt_finished(trial: Trial, target: str | None = None, mode: str | None = None) -> None:
    from engine import checkpoint

    target = target or trial.rng.choice(CORRUPT_TARGETS)
    mode = mode or trial.rng.choice(CORRUPT_MODES)
    trial.row.update(target=target, mode=mode, fired=True, lost_steps=0)
    victim = add_copy(trial.store, trial.lab)
    folder = trial._folder(victim)
    whole = len(folder.read_metrics())
    trial.row["damage"] = corrupt(folder, target, mode, trial.rng)
    trial.check_readers(victim)
    run = trial.store.get_run(victim)
    if target == "status":  # the one file that says what a run is: it must say damaged
        damaged = bool(run["status"].get("damaged")) or run["state"] == "failed"
    elif target == "metrics":  # the intact lines read back, the bad ones are skipped
        rows = folder.read_metrics()
        damaged = all(isinstance(r, dict) for r in rows) and len(rows) <= whole + 1
    else:  # a finished run's checkpoint is read by no one; resume would verify it
        path = newest_step_dir(folder.checkpoints_dir)
        damaged = path is None or checkpoint.verify(path) is not None
    trial.row["reads_damaged"] = damaged
    trial.row["state_read"] = run["state"]
    try:
        trial.store.delete_run(victim)
        deleted = not folder.path.exists() and all(r["id"] != victim for r in trial.store.list_runs())
    except Exception as exc:  # noqa: BLE001 - a run that cannot be deleted is a finding
        trial.note(f"delete_run: {type(exc).__name__}: {exc}")
        deleted = False
    trial.row["deleted"] = deleted
    trial.check_readers(None)
    trial.row["recovered"] = bool(damaged and deleted and not trial.row["reader_errors"])


TRIALS: dict[str, Callable[[Trial], None]] = {
    "kill": trial_kill, "kill_ckpt": trial_kill_ckpt, "kill_report": trial_kill_report,
    "queue_kill": trial_queue_kill, "sigstop": trial_sigstop, "disk_full": trial_disk_full,
    "corrupt_interrupted": trial_corrupt_interrupted, "corrupt_finished": trial_corrupt_finished}


def run_trial(lab: Lab, fault: str, index: int, seed: int = 0, **options) -> dict:
    """One trial of `fault` in a fresh workspace; its result row (a harness error is
    recorded in the row and counts as not recovered)."""
    trial = Trial(lab, fault, index, seed)
    try:
        TRIALS[fault](trial, **options)
    except Exception:  # noqa: BLE001 - the row says what broke
        trial.row["recovered"] = False
        trial.row["harness_error"] = traceback.format_exc()[-2000:]
    return trial.finish()


# ---- damage -----------------------------------------------------------------------------------
def resumable_steps(root: Path) -> list[int]:
    """Steps of the checkpoint folders that hold a trainer state, oldest first."""
    if not root.is_dir():
        return []
    return sorted(int(p.name[5:]) for p in root.iterdir() if p.is_dir() and p.name.startswith("step_")
                  and p.name[5:].isdigit() and (p / "trainer_state.pt").exists())


def newest_step_dir(root: Path) -> Path | None:
    if not root.is_dir():
        return None
    steps = [p for p in root.iterdir() if p.is_dir() and p.name.startswith("step_") and p.name[5:].isdigit()]
    return max(steps, key=lambda p: int(p.name[5:]), default=None)


WRONG_STATUS = (b"[1, 2]", b"42", b'"running"', b"null", b'{"state": 5}',
                b'{"state": "running", "step": "x", "pid": "abc"}',
                b'{"state": "interrupted", "tags": [1], "summary": "x", "total_steps": true}')
WRONG_METRICS = (b"5\n", b"[1, 2]\n", b'"log"\n', b"null\n", b'{"event": 5, "step": "x"}\n',
                 b'{"event": "log", "step": "3", "loss": "high"}\n', b"\xff\xfe\x00\n")


def corrupt(folder, target: str, mode: str, rng: random.Random) -> str:
    """Damage one file of the run folder; returns what was done, in words."""
    if target == "status":
        path = folder.status_path
    elif target == "metrics":
        path = folder.metrics_path
    else:
        step_dir = newest_step_dir(folder.checkpoints_dir)
        if step_dir is None:
            return "no checkpoint to damage"
        files = sorted(p for p in step_dir.iterdir() if p.is_file())
        path = rng.choice(files)
    data = path.read_bytes()
    where = f"{path.relative_to(folder.path)} ({len(data)} bytes)"
    if mode == "garbage":
        n = rng.randint(1, max(1, len(data) // 4))
        at = rng.randint(0, max(0, len(data) - n))
        path.write_bytes(data[:at] + os.urandom(n) + data[at + n:])
        return f"{where}: {n} random bytes at offset {at}"
    if mode == "truncate":
        cut = rng.randint(0, max(0, len(data) - 1))
        path.write_bytes(data[:cut])
        return f"{where}: truncated to {cut} bytes"
    if mode == "empty":
        path.write_bytes(b"")
        return f"{where}: emptied"
    if target == "status":
        bad = rng.choice(WRONG_STATUS)
        if folder.read_status().get("state") == "completed":
            bad = bad.replace(b'"interrupted"', b'"completed"')
        path.write_bytes(bad)
        return f"{where}: replaced by {bad.decode()}"
    if target == "metrics":
        lines = data.splitlines(keepends=True)
        bad = rng.sample(WRONG_METRICS, 3)
        for line in bad:
            lines.insert(rng.randint(0, len(lines)), line)
        path.write_bytes(b"".join(lines))
        return f"{where}: {len(bad)} wrong-typed lines inserted"
    return f"{where}: " + _wrong_checkpoint_file(path, rng)


def _wrong_checkpoint_file(path: Path, rng: random.Random) -> str:
    """A well-formed file of the wrong content in place of a checkpoint file."""
    import torch

    if path.suffix == ".safetensors":
        from safetensors.torch import save_file

        save_file({"not.a.weight": torch.zeros(3)}, str(path))
        return "replaced by a safetensors file holding one unrelated tensor"
    if path.suffix == ".pt":
        blob = rng.choice([[1, 2, 3], {"optimizer": [1], "scheduler": "x", "rng": 5,
                                       "state": {"step": "x"}}])
        torch.save(blob, path)
        return f"replaced by torch.save({blob!r})"
    path.write_text(json.dumps(["wrong", 1]), encoding="utf-8")
    return "replaced by a JSON list"


# ---- the _worker entry point: engine.worker.main with one writer made to fail ---------------
def _strike(mark: Path, what: str) -> None:
    with open(mark, "a", encoding="utf-8") as f:
        f.write(f"{time.time():.6f} {what}\n")


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


def _tear(path: Path, fraction: float) -> None:
    """Cut the file to `fraction` of its length, as a kill in the middle of writing it leaves."""
    size = Path(path).stat().st_size
    os.truncate(path, int(size * fraction))


def install_ckpt_fault(moment: str, nth: int, fraction: float, mark: Path) -> None:
    """SIGKILL inside the nth checkpoint.save (or save_best): after the weights or the trainer
    state is partly written, or just after the temp folder's rename."""
    import pathlib

    import safetensors.torch as st
    import torch

    from engine import checkpoint as ck

    armed = {"on": False}
    calls = {"save": 0, "best": 0}

    def guard(name: str, real: Callable, moments: tuple[str, ...]) -> Callable:
        def wrapped(*args, **kwargs):
            calls[name] += 1
            armed["on"] = moment in moments and calls[name] == nth
            try:
                return real(*args, **kwargs)
            finally:
                armed["on"] = False
        return wrapped

    ck.save = guard("save", ck.save, ("weights", "state", "rename"))
    ck.save_best = guard("best", ck.save_best, ("best",))
    real_model, real_torch, real_rename = st.save_model, torch.save, pathlib.Path.rename

    def save_model(model, filename, *args, **kwargs):
        real_model(model, filename, *args, **kwargs)
        if armed["on"] and moment in ("weights", "best"):
            _strike(mark, f"{moment} {filename}")
            _tear(Path(filename), fraction)
            _die()

    def torch_save(obj, f, *args, **kwargs):
        real_torch(obj, f, *args, **kwargs)
        if armed["on"] and moment == "state" and isinstance(f, (str, os.PathLike)):
            _strike(mark, f"state {f}")
            _tear(Path(f), fraction)
            _die()

    def rename(self, target):
        out = real_rename(self, target)
        if armed["on"] and moment == "rename" and self.name.startswith(".tmp_step_"):
            _strike(mark, f"rename {target}")
            _die()
        return out

    st.save_model, torch.save, pathlib.Path.rename = save_model, torch_save, rename
    if hasattr(ck, "save_model"):  # a module-level import binds the name at import
        ck.save_model = save_model


def install_report_fault(moment: str, nth: int, fraction: float, mark: Path) -> None:
    """SIGKILL inside the final phase (see REPORT_MOMENTS)."""
    from engine import checkpoint as ck
    from engine import models
    from engine.runfolder import RunFolder

    if moment in ("predictions", "report"):
        method = "write_predictions" if moment == "predictions" else "write_report"
        name = RunFolder.PREDICTIONS if moment == "predictions" else RunFolder.REPORT
        real = getattr(RunFolder, method)

        def write(self, *args, **kwargs):
            real_replace = os.replace

            def replace(src, dst, *a, **k):
                if Path(dst).name == name:  # the temp file is written: tear it, die before the swap
                    _strike(mark, f"{moment} {src}")
                    _tear(Path(src), fraction)
                    _die()
                return real_replace(src, dst, *a, **k)
            os.replace = replace
            try:
                real(self, *args, **kwargs)
            finally:
                os.replace = real_replace
            _strike(mark, f"{moment} in place")  # written without a temp file: tear the file
            _tear(self.path / name, fraction)
            _die()
        setattr(RunFolder, method, write)
    elif moment == "model":
        real_model = models.save_model

        def save_model(model, tokenizer, out_dir, labels):
            real_model(model, tokenizer, out_dir, labels)
            weights = max(Path(out_dir).glob("*.safetensors"), key=lambda p: p.stat().st_size)
            _strike(mark, f"model {weights}")
            _tear(weights, fraction)
            _die()
        models.save_model = save_model
    elif moment == "prune":
        real_prune = getattr(ck, "prune", None)
        if real_prune is None:
            return  # this engine does not prune: the fault cannot fire
        count = {"n": 0}

        def counting(real: Callable) -> Callable:
            def wrapped(*args, **kwargs):
                out = real(*args, **kwargs)
                count["n"] += 1
                if count["n"] == nth:
                    _strike(mark, f"prune after {nth} changes ({real.__name__} {args[0]})")
                    _die()
                return out
            return wrapped

        def prune(*args, **kwargs):
            for name in ("_remove", "_drop_trainer_state"):
                if hasattr(ck, name):
                    setattr(ck, name, counting(getattr(ck, name)))
            out = real_prune(*args, **kwargs)
            _strike(mark, f"prune done after {count['n']} changes")
            _die()
            return out
        ck.prune = prune
    elif moment == "end_line":
        real_append = RunFolder.append_metrics

        def append(self, record):
            if record.get("event") == "end":
                line = json.dumps(record, default=str)
                _strike(mark, "end_line")
                with open(self.metrics_path, "a", encoding="utf-8") as f:
                    f.write(line[: max(1, int(len(line) * fraction))])
                _die()
            return real_append(self, record)
        RunFolder.append_metrics = append
    elif moment == "status":
        real_update = RunFolder.update_status

        def update(self, **fields):
            if fields.get("state") == "completed":
                _strike(mark, "status")
                _die()
            return real_update(self, **fields)
        RunFolder.update_status = update


def install_disk_fault(nth: int, fraction: float, mark: Path) -> None:
    """As the nth checkpoint.save starts, limit the size of any file this process writes
    (RLIMIT_FSIZE; Python ignores SIGXFSZ, so a write past it fails with EFBIG)."""
    from engine import checkpoint as ck

    real = ck.save
    calls = {"n": 0}

    def save(run_dir, model, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == nth:
            weights = sum(t.numel() * t.element_size() for t in model.state_dict().values())
            limit = max(4096, int(fraction * weights))
            _strike(mark, f"disk limit {limit} bytes (weights {weights})")
            soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
        return real(run_dir, model, *args, **kwargs)
    ck.save = save


def worker_entry(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="bench/faults.py _worker",
                                description="engine.worker.main with a fault installed")
    p.add_argument("--fault", choices=("ckpt", "report", "disk"), required=True)
    p.add_argument("--moment", default="")
    p.add_argument("--nth", type=int, default=1)
    p.add_argument("--fraction", type=float, default=0.5)
    p.add_argument("--mark", type=Path, required=True)
    p.add_argument("run_dir")
    args = p.parse_args(argv)
    if args.fault == "ckpt":
        install_ckpt_fault(args.moment, args.nth, args.fraction, args.mark)
    elif args.fault == "report":
        install_report_fault(args.moment, args.nth, args.fraction, args.mark)
    else:
        install_disk_fault(args.nth, args.fraction, args.mark)
    from engine import worker

    return worker.main([args.run_dir])


# ---- the benchmark ----------------------------------------------------------------------------
def summarise(rows: list[dict], lab: Lab) -> dict:
    out = {}
    for fault in dict.fromkeys(r["fault"] for r in rows):
        mine = [r for r in rows if r["fault"] == fault]
        lost = [r["lost_steps"] for r in mine if r.get("lost_steps") is not None]
        out[fault] = {
            "trials": len(mine), "fired": sum(bool(r["fired"]) for r in mine),
            "recovered": sum(bool(r["recovered"]) for r in mine),
            "lost_max": max(lost) if lost else None,
            "lost_mean": round(statistics.fmean(lost), 2) if lost else None,
            "within_bound": sum(r.get("lost_steps") is not None and r["lost_steps"] <= r["bound"]
                                for r in mine),
            "within_interval": sum(r.get("lost_steps") is not None
                                   and r["lost_steps"] <= lab.interval for r in mine),
            "stuck": sum(r["stuck"] for r in mine), "data_lost": sum(r["data_lost"] for r in mine),
            "reader_errors": sum(len(r["reader_errors"]) for r in mine),
            "harness_errors": sum("harness_error" in r for r in mine),
            "wall_s_mean": round(statistics.fmean(r["wall_s"] for r in mine), 1)}
    return out


def format_table(summary: dict, interval: int) -> str:
    head = (f"{'fault':<20} {'trials':>6} {'fired':>5} {'recovered':>9} {'lost max':>8} "
            f"{'lost mean':>9} {f'<={interval}':>5} {'<=bound':>7} {'stuck':>5} {'data lost':>9} "
            f"{'reader err':>10}")
    lines = [head, "-" * len(head)]
    for fault, s in summary.items():
        lost_max = "-" if s["lost_max"] is None else str(s["lost_max"])
        lost_mean = "-" if s["lost_mean"] is None else f"{s['lost_mean']:.2f}"
        lines.append(f"{fault:<20} {s['trials']:>6} {s['fired']:>5} {s['recovered']:>9} "
                     f"{lost_max:>8} {lost_mean:>9} {s['within_interval']:>5} {s['within_bound']:>7} "
                     f"{s['stuck']:>5} {s['data_lost']:>9} {s['reader_errors']:>10}")
    return "\n".join(lines)


def describe(row: dict) -> str:
    what = " ".join(f"{k}={row[k]}" for k in ("moment", "nth", "target", "mode") if k in row)
    verdict = "recovered" if row["recovered"] else f"NOT recovered ({row.get('final_state')})"
    lost = "" if row.get("lost_steps") is None else f", lost {row['lost_steps']} steps"
    extra = "" if row["fired"] else ", fault did not fire"
    problems = "".join(f", {k} {row[k]}" for k in ("stuck", "data_lost") if row[k])
    if row["reader_errors"]:
        problems += f", {len(row['reader_errors'])} reader errors"
    return f"{row['fault']} #{row['trial']} {what}: {verdict}{lost}{extra}{problems} ({row['wall_s']:.0f} s)"


def machine() -> dict:
    import torch
    import transformers

    try:
        load = os.getloadavg()
    except OSError:
        load = None
    return {"machine": platform.machine(), "cpus": os.cpu_count(), "system": platform.platform(),
            "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "load_average_at_start": load}


def run_bench(lab: Lab, faults: list[str], trials: int, jobs: int, seed: int,
              echo: Callable[[str], None] = print) -> list[dict]:
    """Every trial, faults interleaved so that a partial run covers all of them."""
    order = [(fault, i) for i in range(trials) for fault in faults]
    rows: list[dict] = []
    lock = threading.Lock()
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        futures = {pool.submit(run_trial, lab, fault, i, seed): (fault, i) for fault, i in order}
        for future in as_completed(futures):
            row = future.result()
            with lock:
                rows.append(row)
                echo(f"[{len(rows)}/{len(order)}] {describe(row)}")
    rows.sort(key=lambda r: (faults.index(r["fault"]), r["trial"]))
    return rows


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_worker"]:
        return worker_entry(argv[1:])
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--trials", type=int, default=20, help="trials of each fault")
    p.add_argument("--faults", default=",".join(FAULTS), help="comma-separated, of: " + ", ".join(FAULTS))
    p.add_argument("--jobs", type=int, default=2, help="trials run at once")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=300.0, help="seconds a run may take to end")
    p.add_argument("--root", type=Path, help="work folder (default: a new temp folder)")
    p.add_argument("--keep", action="store_true", help="keep the workspaces of recovered trials")
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "faults_cpu.json")
    args = p.parse_args(argv)
    faults = [f.strip() for f in args.faults.split(",") if f.strip()]
    unknown = sorted(set(faults) - set(FAULTS))
    if unknown:
        p.error(f"unknown faults {', '.join(unknown)}; choose from {', '.join(FAULTS)}")
    root = args.root or Path(tempfile.mkdtemp(prefix="faults-"))
    t0 = time.monotonic()
    info = machine()
    lab = make_lab(root, args.timeout)
    print(f"template run: {lab.total_steps} steps, a checkpoint every {lab.interval}, training "
          f"{lab.train_s:.1f} s of a {lab.worker_s:.1f} s worker process; work folder {root}",
          flush=True)
    rows = run_bench(lab, faults, args.trials, args.jobs, args.seed,
                     echo=lambda line: print(line, flush=True))
    summary = summarise(rows, lab)
    wall = time.monotonic() - t0
    print()
    print(format_table(summary, lab.interval))
    print(f"\n{len(rows)} trials in {wall / 60:.1f} min (jobs {args.jobs}); lost = steps retrained; "
          f"bound = one checkpoint interval ({lab.interval} steps), or back to the checkpoint "
          f"before a destroyed newest one")
    if not args.keep:  # keep the workspaces of trials that went wrong, for a look
        for row in rows:
            if row["recovered"] and not row["stuck"] and not row["data_lost"] and not row["reader_errors"]:
                shutil.rmtree(row["workspace"], ignore_errors=True)
                row["workspace"] = None
    result = {"bench": "faults", "when": time.strftime("%Y-%m-%d %H:%M"),
              "command": "python bench/faults.py " + " ".join(argv), **info,
              "config": {"run": lab.config, "total_steps": lab.total_steps,
                         "checkpoint_interval": lab.interval, "template_train_s": round(lab.train_s, 2),
                         "template_worker_s": round(lab.worker_s, 2), "trials": args.trials,
                         "jobs": args.jobs, "seed": args.seed, "timeout_s": args.timeout,
                         "env": {k: v for k, v in env_for(root).items()
                                 if k in ("OMP_NUM_THREADS", "WORKBENCH_SLOTS", "TOKENIZERS_PARALLELISM")}},
              "summary": summary, "trials": rows, "wall_s": round(wall, 1), "root": str(root)}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=str))
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
