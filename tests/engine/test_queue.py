"""The worker, the scheduler and the queue with real processes.

One module-scoped "lab" runs every scenario at once (each worker process spends most of its
time importing torch, so they overlap), driven by a single polling loop in this process:

workspace A, a Scheduler with one slot ticking here:
  r1  NER run                     -> completed (the uninterrupted reference)
  r2  NER run, kill -9 mid-run    -> failed, with the worker.log tail
  r3  cancelled while queued      -> cancelled, never started
  r4  classification run          -> completed; r1, r2, r4 ran one at a time, in order
workspace B, workers started directly (no scheduler is their parent):
  term  SIGTERM once training runs -> cancelled with a checkpoint; resumed -> completed
  kill  kill -9 after a checkpoint -> reconcile -> interrupted; resumed -> completed
  fail  train file missing        -> failed, exit code 1, message without a traceback
The resumed runs must end with the same report as r1 (same config and seed).
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.config import config_from_dict, config_to_dict, to_toml
from engine import checkpoint, queue
from engine.runfolder import RunFolder, read_json
from engine.store import Store
from tests.engine.runs import (NER_LABELS, REPO, env_for, kill_quietly, make_run_config,
                               start_worker, wait_for)

pytestmark = pytest.mark.slow

TIMEOUT = 400  # seconds for the whole lab; a loaded 2-core machine needs ~60-120


class Lab:
    """Ids, stores and what the driving loop observed along the way."""

    def __init__(self, root: Path):
        self.root = root
        self.a = Store(root / "a")
        self.b = Store(root / "b")
        self.seen: dict[str, dict] = {}
        self.procs: dict[str, object] = {}
        self.pids: set[int] = set()


def _status(store: Store, run_id: str) -> dict:
    return RunFolder(store.run_dir(run_id)).read_status()


def _start_direct(lab: Lab, store: Store, run_id: str):
    """A worker outside any scheduler; marked running with its pid, as a lost daemon left it."""
    run_dir = store.run_dir(run_id)
    proc = start_worker(run_dir, store.root, log=run_dir / "worker.log")
    store.set_state(run_id, "running", pid=proc.pid)
    lab.procs[run_id] = proc
    lab.pids.add(proc.pid)
    return proc


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("queue")
    ner = config_to_dict(config_from_dict(make_run_config(root / "ner", "ner")))
    cls = config_to_dict(config_from_dict(make_run_config(root / "cls", "classification")))
    lab = Lab(root)
    a, b = lab.a, lab.b
    try:
        t0 = time.monotonic()
        _drive(lab, a, b, ner, cls)
        print(f"\nlab finished in {time.monotonic() - t0:.0f} s; observed: "
              + json.dumps({k: v for k, v in lab.seen.items() if k != "fail"}, default=str)[:1500])
        yield lab
    finally:
        for pid in lab.pids:
            kill_quietly(pid)
        for proc in lab.procs.values():
            try:
                proc.wait(timeout=10)
            except Exception:  # noqa: BLE001 - best effort cleanup
                pass


def _drive(lab: Lab, a: Store, b: Store, ner: dict, cls: dict) -> None:
    lab.r = [queue.submit(a, ner), queue.submit(a, ner), queue.submit(a, ner), queue.submit(a, cls)]
    r1, r2, r3, r4 = lab.r
    sched_a = queue.Scheduler(a, slots=1)
    lab.sched_a = sched_a
    sched_a.tick()  # r1 starts; the rest wait
    lab.pids.update(p.pid for p in sched_a.children.values())
    lab.seen["cancel_r3"] = {"answer": queue.cancel(a, r3), "state": a.get_run(r3)["state"]}

    bad = {**ner, "train": str(lab.root / "missing" / "train.jsonl")}
    lab.term, lab.kill, lab.fail = b.create_run(ner), b.create_run(ner), b.create_run(bad)
    for run_id in (lab.term, lab.kill, lab.fail):
        _start_direct(lab, b, run_id)
    sched_b = queue.Scheduler(b, slots=2)  # picks up the resumed runs
    lab.sched_b = sched_b

    deadline = time.monotonic() + TIMEOUT
    while time.monotonic() < deadline:
        sched_a.tick()
        lab.pids.update(p.pid for p in sched_a.children.values())
        _watch_r2(lab, a, r2)
        _watch_term(lab, b)
        _watch_kill(lab, b)
        _watch_fail(lab, b)
        if "term_first" in lab.seen and "kill_reconciled" in lab.seen:
            sched_b.tick()
            lab.pids.update(p.pid for p in sched_b.children.values())
        if _all_done(lab, a, b):
            return
        time.sleep(0.05)
    raise AssertionError(f"lab did not finish in {TIMEOUT} s: "
                         + json.dumps({k: _status(s, i).get("state") for s, ids in
                                       ((a, lab.r), (b, [lab.term, lab.kill, lab.fail])) for k, i in
                                       zip(("r1", "r2", "r3", "r4", "term", "kill", "fail"), ids)}))


def _watch_r2(lab: Lab, a: Store, r2: str) -> None:
    """kill -9 r2's worker once it trains, while the scheduler (its parent) watches."""
    if "r2_killed" in lab.seen:
        return
    status = _status(a, r2)
    if status.get("state") == "running" and (status.get("step") or 0) >= 1 and status.get("pid"):
        os.kill(status["pid"], signal.SIGKILL)
        lab.seen["r2_killed"] = {"step": status["step"]}


def _watch_term(lab: Lab, b: Store) -> None:
    """SIGTERM the 'term' worker mid-run; once it exits, record and resume it."""
    proc = lab.procs[lab.term]
    if "term_signalled" not in lab.seen:
        status = _status(b, lab.term)
        assert status.get("state") != "completed", "the run finished before it could be stopped"
        if status.get("total_steps"):  # training has started
            # paused first, so that it cannot finish training before the SIGTERM lands
            os.kill(proc.pid, signal.SIGSTOP)
            answer = queue.cancel(b, lab.term)  # running: sends SIGTERM
            os.kill(proc.pid, signal.SIGCONT)
            lab.seen["term_signalled"] = {"step": status["step"], "answer": answer}
    elif "term_first" not in lab.seen and proc.poll() is not None:
        run_dir = b.run_dir(lab.term)
        lab.seen["term_first"] = {
            "rc": proc.returncode, "status": _status(b, lab.term),
            "checkpoints": sorted(p.name for p in (run_dir / "checkpoints").glob("step_*")),
            "events": [m["event"] for m in RunFolder(run_dir).read_metrics()],
            "has_report": (run_dir / "report.json").exists()}
        queue.resume(b, lab.term)
        lab.seen["term_resumed_state"] = b.get_run(lab.term)["state"]


def _watch_kill(lab: Lab, b: Store) -> None:
    """kill -9 the 'kill' worker after its first checkpoint, then reconcile and resume."""
    if "kill_reconciled" in lab.seen:
        return
    run_dir = b.run_dir(lab.kill)
    status = _status(b, lab.kill)
    assert status.get("state") != "completed", "the run finished before it could be killed"
    ckpt = checkpoint.latest(run_dir)
    if ckpt is None:
        return
    proc = lab.procs[lab.kill]
    proc.kill()
    proc.wait()
    before = b.get_run(lab.kill)["state"]
    lost = queue.reconcile(b)
    lab.seen["kill_reconciled"] = {"before": before, "lost": lost, "checkpoint": ckpt.name,
                                   "status": _status(b, lab.kill)}
    queue.resume(b, lab.kill)


def _watch_fail(lab: Lab, b: Store) -> None:
    proc = lab.procs[lab.fail]
    if "fail" not in lab.seen and proc.poll() is not None:
        lab.seen["fail"] = {"rc": proc.returncode, "status": _status(b, lab.fail)}


def _all_done(lab: Lab, a: Store, b: Store) -> bool:
    final = ("completed", "failed", "cancelled", "interrupted")
    return (all(_status(a, r).get("state") in final for r in lab.r)
            and not lab.sched_a.children and not lab.sched_b.children
            and "fail" in lab.seen and "term_first" in lab.seen and "kill_reconciled" in lab.seen
            and all(_status(b, r).get("state") in final for r in (lab.term, lab.kill)))


# ---- worker: the run folder ------------------------------------------------------------------

def test_worker_writes_the_full_run_folder(lab):
    store, r1 = lab.a, lab.r[0]
    run_dir = store.run_dir(r1)
    status = RunFolder(run_dir).read_status()
    assert status["state"] == "completed" and status["pid"] is None and status["error"] is None
    assert status["step"] == status["total_steps"] == 18
    assert store.get_run(r1)["state"] == "completed"
    assert store.list_runs(states=("completed",))  # the index was synced

    lines = (run_dir / "metrics.jsonl").read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]  # every line parses
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end"
    assert {"log", "eval", "checkpoint"} <= set(kinds)
    assert [e["step"] for e in events if e["event"] == "log"] == list(range(1, 19))
    assert [e["step"] for e in events if e["event"] == "eval"] == [3, 6, 9, 12, 15, 18]

    report = read_json(run_dir / "report.json")
    for split in ("dev", "test"):
        entities = report[split]["entities"]
        assert set(entities["per_type"]) <= {"LOC", "PER"} and entities["per_type"]
        assert 0.0 <= entities["micro"]["f1"] <= 1.0
        assert entities["micro"]["support"] == 16  # 8 sentences, one PER and one LOC each
    assert report["labels"] == NER_LABELS

    rows = [json.loads(line) for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    assert [r["split"] for r in rows] == ["dev"] * 8 + ["test"] * 8
    assert all(len(r["tokens"]) == len(r["gold"]) == len(r["pred"]) == len(r["conf"]) for r in rows)

    log = (run_dir / "worker.log").read_text(encoding="utf-8", errors="replace")
    assert "start:" in log and "end: step 18" in log


def test_exported_model_loads_in_a_pipeline(lab):
    from transformers import pipeline

    model_dir = lab.a.run_dir(lab.r[0]) / "model"
    tagger = pipeline("token-classification", model=str(model_dir), device="cpu")
    out = tagger("john smith visited paris today .")
    assert out, "the trained model tags nothing"
    assert {e["entity"] for e in out} <= set(NER_LABELS) - {"O"}
    assert tagger.model.config.id2label == dict(enumerate(NER_LABELS))


def test_classification_run_reports_classes(lab):
    report = read_json(lab.a.run_dir(lab.r[3]) / "report.json")
    assert report["task"] == "classification"
    for split in ("dev", "test"):
        classes = report[split]["classes"]
        assert set(classes["per_type"]) == {"greeting", "travel"}
        assert 0.0 <= classes["accuracy"] <= 1.0


# ---- queue -------------------------------------------------------------------------------------

def test_one_slot_runs_one_at_a_time_in_submission_order(lab):
    r1, r2, _, r4 = (RunFolder(lab.a.run_dir(r)).read_status() for r in lab.r)
    assert r1["state"] == "completed" and r4["state"] == "completed"
    assert r1["started_at"] < r1["finished_at"] <= r2["started_at"] < r2["finished_at"] <= r4["started_at"]


def test_cancel_of_a_queued_run_never_starts_it(lab):
    r3 = lab.r[2]
    assert lab.seen["cancel_r3"] == {"answer": "cancelled", "state": "cancelled"}
    status = RunFolder(lab.a.run_dir(r3)).read_status()
    assert status["state"] == "cancelled"
    assert "started_at" not in status and not status.get("pid")
    assert not (lab.a.run_dir(r3) / "worker.log").exists()
    assert not (lab.a.run_dir(r3) / "metrics.jsonl").exists()


def test_worker_killed_under_the_scheduler_is_interrupted_with_the_log_tail(lab):
    """The same state reconcile gives a worker lost with no scheduler watching (issue 16:
    a dead pid ends interrupted whoever notices it), with the signal and the log tail."""
    status = RunFolder(lab.a.run_dir(lab.r[1])).read_status()
    assert status["state"] == "interrupted" and status["pid"] is None
    assert "killed by signal 9" in status["error"]
    assert "start:" in status["error"]  # the tail of worker.log
    assert lab.a.get_run(lab.r[1])["state"] == "interrupted"


def test_cancel_of_a_running_run_checkpoints_and_ends_cancelled(lab):
    assert lab.seen["term_signalled"]["answer"] == "stopping"
    first = lab.seen["term_first"]
    assert first["rc"] == 0
    assert first["status"]["state"] == "cancelled" and first["status"]["pid"] is None
    assert first["checkpoints"], "no checkpoints/step_N folder after SIGTERM"
    stopped_at = first["status"]["step"]
    assert 0 < stopped_at < 18  # mid-run
    assert f"step_{stopped_at}" in first["checkpoints"]  # the stop wrote its own checkpoint
    assert "stopped" in first["events"] and "end" not in first["events"]
    assert not first["has_report"]
    assert lab.seen["term_resumed_state"] == "queued"


def test_worker_lost_without_scheduler_is_interrupted_by_reconcile(lab):
    seen = lab.seen["kill_reconciled"]
    assert seen["before"] == "running"
    assert seen["lost"] == [lab.kill]
    assert seen["status"]["state"] == "interrupted"
    assert "resume" in seen["status"]["error"]
    assert int(seen["checkpoint"][len("step_"):]) < 18


def test_config_error_fails_with_an_actionable_message(lab):
    seen = lab.seen["fail"]
    assert seen["rc"] == 1
    status = seen["status"]
    assert status["state"] == "failed" and status["pid"] is None
    assert "train data file not found" in status["error"]
    assert str(lab.root / "missing" / "train.jsonl") in status["error"]
    assert "Traceback" not in status["error"]


@pytest.mark.parametrize("which", ["term", "kill"])
def test_resumed_run_equals_the_uninterrupted_one(lab, which):
    store, run_id = lab.b, getattr(lab, which)
    run_dir = store.run_dir(run_id)
    assert RunFolder(run_dir).read_status()["state"] == "completed"
    events = RunFolder(run_dir).read_metrics()
    assert "resume" in [e["event"] for e in events]
    # lines written after the checkpoint by the first attempt were dropped: each step once
    assert [e["step"] for e in events if e["event"] == "log"] == list(range(1, 19))

    ref_dir = lab.a.run_dir(lab.r[0])
    got, ref = read_json(run_dir / "report.json"), read_json(ref_dir / "report.json")
    for split in ("dev", "test"):
        for avg in ("micro", "macro"):
            assert got[split]["entities"][avg]["f1"] == pytest.approx(ref[split]["entities"][avg]["f1"], abs=1e-6)
        assert got[split]["tokens"] == ref[split]["tokens"]
    assert got["best_step"] == ref["best_step"]
    assert got["best_score"] == pytest.approx(ref["best_score"], abs=1e-6)
    preds = [json.loads(line)["pred"] for line in (run_dir / "predictions.jsonl").read_text().splitlines()]
    ref_preds = [json.loads(line)["pred"] for line in (ref_dir / "predictions.jsonl").read_text().splitlines()]
    assert preds == ref_preds
    losses = [e["loss"] for e in events if e["event"] == "log"]
    ref_losses = [e["loss"] for e in RunFolder(ref_dir).read_metrics() if e["event"] == "log"]
    assert losses == pytest.approx(ref_losses, rel=1e-5)


def test_resume_and_cancel_refuse_wrong_states(lab):
    from core.errors import WorkbenchError

    with pytest.raises(WorkbenchError, match="only interrupted, cancelled, failed"):
        queue.resume(lab.a, lab.r[0])  # completed
    with pytest.raises(WorkbenchError, match="only queued or running"):
        queue.cancel(lab.a, lab.r[0])


# ---- a dead pid ends interrupted, whoever notices ------------------------------------------------

def _sleeper(*argv: str) -> subprocess.Popen:
    """A live process whose command line ends with `argv` (what pid_alive's marker reads)."""
    return subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", *argv],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _old_status(store: Store, run_id: str, age: float = 3600) -> None:
    """status.json as it was `age` seconds ago (update_status would stamp it now)."""
    path = RunFolder(store.run_dir(run_id)).status_path
    status = json.loads(path.read_text())
    path.write_text(json.dumps({**status, "updated_at": time.time() - age}))


def test_the_dashboard_summary_and_queue_list_notice_dead_runs_and_spare_live_ones(tmp_path):
    """queue.status_summary (the sidebar, each rerun) reconciles: a dead pid or a reused one
    ends interrupted; a live queue worker, a live `engine train`, a run being started by a
    live scheduler (claimed, no pid yet) and a dead worker its scheduler has yet to reap stay."""
    store = Store(tmp_path / "ws")
    worker, train, unrelated = _sleeper("-m", "engine.worker"), _sleeper("engine", "train"), _sleeper()
    # a scheduler (its command line says engine) with a child that died and is not yet reaped
    scheduler = subprocess.Popen(
        [sys.executable, "-c", "import subprocess, sys, time\n"
         "child = subprocess.Popen([sys.executable, '-c', 'pass'])\n"
         "print(child.pid, flush=True)\ntime.sleep(60)", "engine", "queue", "serve"],
        stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True)
    try:
        zombie = int(scheduler.stdout.readline())
        wait_for(lambda: Path(f"/proc/{zombie}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z",
                 10, what="the unreaped child")
        (store.root / "queue.pid").write_text(str(scheduler.pid))
        runs = {name: store.create_run({"name": name, "task": "ner"}, state="running", pid=pid)
                for name, pid in (("dead", _dead_pid()), ("worker", worker.pid), ("train", train.pid),
                                  ("reused", unrelated.pid), ("unreaped", zombie))}
        runs["claimed"] = store.create_run({"name": "claimed", "task": "ner"})
        _old_status(store, runs["claimed"])  # queued an hour ago, claimed just now
        assert store.claim(runs["claimed"], "queued", "running")
        RunFolder(store.run_dir(runs["dead"])).open_log().write(b"step      3  loss 1.0\n")

        summary = queue.status_summary(store)
        states = {name: store.get_run(run_id)["state"] for name, run_id in runs.items()}
        assert states == {"dead": "interrupted", "worker": "running", "train": "running",
                          "reused": "interrupted", "unreaped": "running", "claimed": "queued"}
        assert summary["running"] == 3 and summary["queued"] == 1
        dead = RunFolder(store.run_dir(runs["dead"])).read_status()
        assert dead["pid"] is None and dead["finished_at"] >= dead["created_at"]
        assert "ended without finishing" in dead["error"] and "resume to continue" in dead["error"]
        assert dead["error"].endswith("step      3  loss 1.0")  # the log tail, as the scheduler adds
        assert store.indexed_runs("interrupted") and {r["id"] for r in store.indexed_runs(
            "running")} == {runs["worker"], runs["train"], runs["unreaped"], runs["claimed"]}

        scheduler.kill()  # the scheduler is gone: its unreaped child and its claim are lost
        scheduler.wait()
        wait_for(lambda: not Path(f"/proc/{zombie}").exists(), 10, what="init to reap the child")
        listing = subprocess.run([sys.executable, "-m", "engine", "queue", "list"], cwd=REPO,
                                 env=env_for(store.root), capture_output=True, text=True, timeout=120)
        assert listing.returncode == 0, listing.stderr
        shown = {line.split()[0]: line.split()[1] for line in listing.stdout.splitlines()}
        assert shown[runs["unreaped"]] == shown[runs["claimed"]] == "interrupted"
        assert shown[runs["worker"]] == shown[runs["train"]] == "running"
        claimed = RunFolder(store.run_dir(runs["claimed"])).read_status()
        assert "claimed this run stopped before starting its worker" in claimed["error"]
    finally:
        for proc in (worker, train, unrelated, scheduler):
            proc.kill()
            proc.wait()


def test_a_claim_in_flight_is_spared_for_the_grace_period_without_a_scheduler(tmp_path):
    store = Store(tmp_path / "ws")
    run_id = store.create_run({"name": "c", "task": "ner"})
    assert store.claim(run_id, "queued", "running")  # status.json was stamped just now
    assert queue.reconcile(store) == []
    _old_status(store, run_id, age=queue.CLAIM_GRACE_S + 5)
    assert queue.reconcile(store) == [run_id]


def test_a_killed_foreground_train_shows_interrupted_in_queue_list_and_resumes(tmp_path):
    """kill -9 of `python -m engine train --config`: no scheduler ever knew that process, yet
    `queue list` marks the run interrupted (with the progress it had made) and it resumes
    from its checkpoint."""
    from engine.worker import run

    home = tmp_path / "ws"
    cfg = make_run_config(tmp_path / "in", "ner", epochs=60, name="killed")  # 360 steps
    path = tmp_path / "run.toml"
    path.write_text(to_toml(config_from_dict(cfg)))
    with open(tmp_path / "train.out", "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "engine", "train", "--config", str(path)],
                                cwd=REPO, env=env_for(home), stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL)
    try:
        run_dir = wait_for(lambda: next((home / "runs").glob("*/"), None), 120, what="the run")
        wait_for(lambda: checkpoint.latest(run_dir), 180, what="the first whole checkpoint")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        kill_quietly(proc.pid)
    status = RunFolder(run_dir).read_status()
    assert status["state"] == "running" and status["pid"] == proc.pid  # as the kill left it
    listing = subprocess.run([sys.executable, "-m", "engine", "queue", "list"], cwd=REPO,
                             env=env_for(home), capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0, listing.stderr
    assert listing.stdout.split()[:2] == [run_dir.name, "interrupted"]
    status = RunFolder(run_dir).read_status()
    assert status["state"] == "interrupted" and status["pid"] is None
    assert f"pid {proc.pid}" in status["error"] and "resume to continue" in status["error"]
    assert "step" in status["error"].split("\n", 1)[1]  # its last progress lines

    store = Store(home)
    queue.resume(store, run_dir.name)
    assert store.get_run(run_dir.name)["state"] == "queued"
    latest = checkpoint.latest(run_dir)
    seen: list[dict] = []
    state = run(run_dir, stop=lambda: len(seen) > 0, echo=seen.append)  # stop after one event
    assert state == "cancelled"
    resumed = [e for e in RunFolder(run_dir).read_metrics() if e["event"] == "resume"]
    assert resumed and resumed[-1]["checkpoint"] == str(latest)
    assert int(latest.name[len("step_"):]) == resumed[-1]["step"] > 0
    assert store.get_run(run_dir.name)["state"] == "cancelled"

