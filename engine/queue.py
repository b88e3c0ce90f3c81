"""The run queue: one slot per GPU (one on CPU), a scheduler process separate from the web
server that starts the next queued run when a slot frees, and cancel / resume."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from core.errors import WorkbenchError
from engine.runfolder import read_status
from engine.store import Store

RESUMABLE = ("interrupted", "cancelled", "failed")


def device_slots() -> int:
    """One slot per visible CUDA GPU, one on CPU; WORKBENCH_SLOTS overrides."""
    if os.environ.get("WORKBENCH_SLOTS"):
        return max(1, int(os.environ["WORKBENCH_SLOTS"]))
    try:
        import torch

        return max(1, torch.cuda.device_count())
    except ImportError:
        return 1


def pid_alive(pid: int | None, marker: str = "engine") -> bool:
    """True when `pid` runs and (where /proc shows it) its command line mentions `marker`."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
        if raw.rsplit(")", 1)[1].split()[0] == "Z":  # a zombie is gone for our purposes
            return False
        return marker in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    except OSError:
        return True


def submit(store: Store, config: dict) -> str:
    """Validate `config` and enqueue it; returns the run id."""
    from core.config import config_from_dict, config_to_dict, validate, validate_names

    cfg = config_from_dict(config)
    validate(cfg)
    validate_names(cfg)
    return store.create_run(config_to_dict(cfg))


def cancel(store: Store, run_id: str) -> str:
    """Queued → cancelled at once; running → SIGTERM (the worker checkpoints, then ends cancelled)."""
    run = store.get_run(run_id)
    if run["state"] == "queued":
        store.set_state(run_id, "cancelled")
        return "cancelled"
    if run["state"] == "running":
        pid = run["status"].get("pid")
        if pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
            return "stopping"
        store.set_state(run_id, "interrupted")
        return "interrupted"
    raise WorkbenchError(f"run {run_id} is {run['state']}; only queued or running runs can be cancelled")


def resume(store: Store, run_id: str) -> None:
    """Put an interrupted, cancelled or failed run back in the queue; it continues from its
    latest checkpoint."""
    run = store.get_run(run_id)
    if run["state"] not in RESUMABLE:
        raise WorkbenchError(f"run {run_id} is {run['state']}; only {', '.join(RESUMABLE)} runs can be resumed")
    store.set_state(run_id, "queued", resume=True, error=None)


def reconcile(store: Store) -> list[str]:
    """Mark runs whose worker process is gone as interrupted; returns their ids."""
    lost = []
    for run in store.list_runs(states=("running",)):
        status = read_status(Path(run["dir"]))
        if status.get("state") != "running":
            store.sync_state(run["id"])
            continue
        if not pid_alive(status.get("pid"), "engine.worker"):
            store.set_state(run["id"], "interrupted", pid=None,
                            error="the worker process ended without finishing; resume to continue")
            lost.append(run["id"])
    return lost


class Scheduler:
    """Starts workers for queued runs while slots are free; reaps the ones that end."""

    def __init__(self, store: Store, slots: int | None = None):
        self.store = store
        self.slots = slots or device_slots()
        self.children: dict[str, subprocess.Popen] = {}

    def tick(self) -> None:
        self._reap()
        reconcile(self.store)
        busy = sum(r["num_devices"] for r in self.store.list_runs(states=("running",)))
        for run in self.store.queued():
            need = min(run["num_devices"], self.slots)
            if busy + need > self.slots:
                break  # first in, first out: a big run is not overtaken by small ones
            self._start(run["id"])
            busy += need

    def _start(self, run_id: str) -> None:
        run_dir = self.store.run_dir(run_id)
        log = open(run_dir / "worker.log", "ab")
        proc = subprocess.Popen([sys.executable, "-m", "engine.worker", str(run_dir)],
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=Path(__file__).resolve().parents[1])
        log.close()
        self.store.set_state(run_id, "running", pid=proc.pid, started_at=time.time())
        self.children[run_id] = proc

    def _reap(self) -> None:
        for run_id, proc in list(self.children.items()):
            code = proc.poll()
            if code is None:
                continue
            del self.children[run_id]
            status = read_status(self.store.run_dir(run_id))
            if status.get("state") == "running":  # died without saying so: killed, OOM, crash
                tail = _log_tail(self.store.run_dir(run_id) / "worker.log")
                self.store.set_state(run_id, "failed", pid=None,
                                     error=f"worker exited with code {code}\n{tail}")
            else:
                self.store.sync_state(run_id)

    def running(self) -> int:
        return len(self.children)


def _log_tail(path: Path, n: int = 2000) -> str:
    try:
        return path.read_bytes()[-n:].decode("utf-8", errors="replace")
    except OSError:
        return ""


def serve(store: Store, *, poll: float = 1.0, until_idle: bool = False) -> None:
    """Run the scheduler loop (a single instance per store, guarded by a pid file)."""
    pidfile = store.root / "queue.pid"
    pidfile.write_text(str(os.getpid()))
    sched = Scheduler(store)
    stop = {"flag": False}
    signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
    try:
        while not stop["flag"]:
            sched.tick()
            if until_idle and not sched.running() and not store.queued():
                break
            time.sleep(poll)
    finally:
        if pidfile.exists() and pidfile.read_text().strip() == str(os.getpid()):
            pidfile.unlink()


def daemon_pid(store: Store) -> int | None:
    try:
        pid = int((store.root / "queue.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid_alive(pid, "queue") else None


def ensure_daemon(store: Store) -> int:
    """Start the queue process (detached from the caller, e.g. the web server) unless one runs."""
    pid = daemon_pid(store)
    if pid:
        return pid
    log = open(store.root / "queue.log", "ab")
    env = {**os.environ, "WORKBENCH_HOME": str(store.root)}
    proc = subprocess.Popen([sys.executable, "-m", "engine", "queue", "serve"], stdout=log,
                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
                            start_new_session=True, cwd=Path(__file__).resolve().parents[1])
    log.close()
    for _ in range(50):  # the daemon writes its pid file at start
        if daemon_pid(store) == proc.pid:
            break
        time.sleep(0.1)
    return proc.pid
