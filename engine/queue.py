"""The run queue: one slot per GPU (one on CPU), a scheduler process separate from the web
server that starts the next queued run when a slot frees, and cancel / resume."""
from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable

from core.errors import WorkbenchError
from engine.runfolder import RunFolder
from engine.store import IndexDamaged, Store

RESUMABLE = ("interrupted", "cancelled", "failed", "pruned")
# what a training process's command line holds: a queued worker or a foreground `train`
WORKER_MARKERS = ("engine.worker", "engine\0train")
CLAIM_GRACE_S = 60.0  # a claimed run whose worker has not started after this is lost


def device_slots() -> int:
    """One slot per visible CUDA GPU, one on CPU; WORKBENCH_SLOTS overrides."""
    if os.environ.get("WORKBENCH_SLOTS"):
        try:
            return max(1, int(os.environ["WORKBENCH_SLOTS"]))
        except ValueError:
            raise WorkbenchError(f"WORKBENCH_SLOTS must be a whole number of parallel runs, "
                                 f"found {os.environ['WORKBENCH_SLOTS']!r}") from None
    try:
        import torch

        return max(1, torch.cuda.device_count())
    except ImportError:
        return 1


def pid_alive(pid: int | None, marker: str | tuple[str, ...] = "engine") -> bool:
    """True when `pid` runs and (where /proc shows it) its command line mentions `marker`
    (or one of several markers): a reused pid of an unrelated process does not count."""
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
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        return any(m in cmdline for m in ((marker,) if isinstance(marker, str) else marker))
    except OSError:
        return True


def submit(store: Store, config: dict, *, created_by: str | None = None) -> str:
    """Validate `config` and enqueue it; returns the run id. `created_by` (status.json) names
    who submitted it from the dashboard."""
    from core.config import config_from_dict, config_to_dict, validate, validate_names

    cfg = config_from_dict(config)
    validate(cfg)
    if cfg.num_nodes > 1:  # before the names: a clear word on what can run it
        from engine.executors import check_nodes, load_settings

        check_nodes(cfg.num_nodes, load_settings(store.root).kind)
    validate_names(cfg)
    return store.create_run(config_to_dict(cfg), **({"created_by": created_by} if created_by else {}))


def cancel(store: Store, run_id: str) -> str:
    """Queued → cancelled at once; running → SIGTERM (the worker checkpoints, then ends cancelled)."""
    run = store.get_run(run_id)
    if run["state"] == "queued":
        # atomic: a scheduler starting this run at the same moment either loses, or wins
        # and the run is running by the time the wait below ends
        if store.claim(run_id, "queued", "cancelled"):
            store.set_state(run_id, "cancelled", finished_at=time.time())
            return "cancelled"
        _wait_while_queued(store, run_id)
        run = store.get_run(run_id)
    if run["state"] == "running":
        if run["status"].get("executor") == "ray":  # a Ray job: its pid is on another node
            return _cancel_remote(store, run_id, run["status"])
        pid = run["status"].get("pid")
        if pid_alive(pid, WORKER_MARKERS):
            os.kill(pid, signal.SIGTERM)
            return "stopping"
        store.set_state(run_id, "interrupted", pid=None)
        return "interrupted"
    if run["state"] == "queued":  # claimed by a scheduler that never started it
        store.set_state(run_id, "cancelled", finished_at=time.time())
        return "cancelled"
    raise WorkbenchError(f"run {run_id} is {run['state']}; only queued or running runs can be cancelled")


def _cancel_remote(store: Store, run_id: str, status: dict) -> str:
    """Cancel a run that runs as a Ray job: stop_job (Ray sends the worker SIGTERM, it
    checkpoints and ends cancelled; SIGKILL follows after [executor] stop_wait_s). Returns
    "stopping", or the state recorded when the job had already ended."""
    from engine.executors import JobNotFound, RayJob, for_status

    executor = for_status(status)
    job = RayJob(run_id, status.get("submission_id") or run_id, store.run_dir(run_id))
    RunFolder(store.run_dir(run_id)).update_status(cancel_requested_at=time.time())
    deadline = time.monotonic() + 5.0  # a job being submitted right now is not known yet
    while True:
        try:
            if executor.stop(job):
                return "stopping"
            break  # it had ended: record how
        except JobNotFound:
            if time.monotonic() > deadline:
                break
            time.sleep(0.25)
    ended = executor.poll(job)
    if ended is None:
        return "stopping"
    return record_end(store, run_id, ended)


def _wait_while_queued(store: Store, run_id: str, timeout: float = 5.0) -> None:
    """Wait until status.json leaves 'queued' (a scheduler that just claimed the run writes
    'running' and the worker pid a moment later), at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while RunFolder(store.run_dir(run_id)).read_status().get("state") == "queued" and time.monotonic() < deadline:
        time.sleep(0.05)


def resume(store: Store, run_id: str) -> None:
    """Put an interrupted, cancelled or failed run back in the queue; it continues from its
    latest checkpoint."""
    run = store.get_run(run_id)
    if run["state"] not in RESUMABLE:
        raise WorkbenchError(f"run {run_id} is {run['state']}; only {', '.join(RESUMABLE)} runs can be resumed")
    store.set_state(run_id, "queued", resume=True, error=None, damaged=None, pid=None,
                    finished_at=None)


def reconcile(store: Store, *, skip: tuple[str, ...] = ()) -> list[str]:
    """Mark runs whose training process is gone as interrupted; returns their ids.

    Cheap enough for every dashboard rerun: only index rows in state running (a claimed run
    is one too), a status.json read and a /proc read each. A run counts as alive while its
    pid runs a queue worker or a foreground `engine train`; a run with no process yet (a
    scheduler claimed it and is starting its worker) while the claiming scheduler lives, or
    for CLAIM_GRACE_S after its status last changed; a dead worker that is still a child of
    the live scheduler, which reaps it itself and records the exit code. The lost run gets
    what the scheduler records for a killed worker: no pid, finished_at, and an error naming
    the dead process, with the log tail.

    skip: runs not to judge (a scheduler's own children, which it reaps itself).
    """
    lost = []
    claimer = _live_scheduler(store)
    for run in store.indexed_runs("running"):
        if run["id"] in skip:
            continue
        status = run["status"]
        pid = status.get("pid")
        if status.get("state") not in ("running", "queued"):  # ended; the index lags
            store.sync_state(run["id"])
            continue
        if status.get("executor") == "ray":  # its pid is on another node: ask the cluster
            if not claimer and _remote_lost(store, run["id"], status):
                lost.append(run["id"])
            continue
        if pid_alive(pid, WORKER_MARKERS):
            continue
        if not pid and (claimer or time.time() - (status.get("updated_at") or 0) < CLAIM_GRACE_S):
            continue  # claimed by a scheduler that is starting its worker right now
        if pid and claimer and _zombie_child_of(pid, claimer):
            continue  # its scheduler reaps it and records how it ended
        if _mark_lost(store, run["id"], pid):
            lost.append(run["id"])
        else:  # it wrote its final state just before it exited, or it was resumed meanwhile
            store.sync_state(run["id"])
    return lost


def _remote_lost(store: Store, run_id: str, status: dict) -> bool:
    """Whether a Ray run that no scheduler watches has ended without saying so (recorded
    as record_end says); False while its job runs or when the cluster does not answer."""
    from engine.executors import RayJob, for_status

    executor = for_status(status)
    if executor is None or not status.get("submission_id"):
        return False
    try:
        ended = executor.poll(RayJob(run_id, status["submission_id"], store.run_dir(run_id)))
    except WorkbenchError:  # the cluster does not answer: nothing can be said
        return False
    return ended is not None and record_end(store, run_id, ended) == "interrupted"


def _mark_lost(store: Store, run_id: str, pid: int | None) -> bool:
    """Record run `run_id` as interrupted if status.json still says it is being run by `pid`
    (checked under the index's write lock: a resume or a new worker in between wins)."""
    folder = RunFolder(store.run_dir(run_id))
    tail = folder.log_tail(max_bytes=2000) or _metrics_tail(folder)
    if pid:
        what = (f"the training process (pid {pid}) ended without finishing (killed, out of "
                "memory or a reboot); resume to continue")
    else:
        what = ("the scheduler that claimed this run stopped before starting its worker; "
                "resume to continue")
    return store.set_state_if(
        run_id, "interrupted",
        lambda st: st.get("state") in ("running", "queued") and st.get("pid") == pid,
        pid=None, finished_at=time.time(), error=f"{what}\n{tail}".rstrip())


def _metrics_tail(folder: RunFolder, events: int = 3) -> str:
    """The progress lines of the last few metrics.jsonl events: the log tail of a foreground
    `engine train`, which prints them to its terminal rather than to worker.log."""
    from engine.events import format_event

    lines: list[str] = []
    for info in [m for m in folder.read_metrics() if m.get("event") != "end"][-events:]:
        try:  # (an end event's line needs engine.graphs, and so torch)
            lines.extend(format_event(info))
        except (KeyError, TypeError, ValueError):  # a line of another shape: skip it
            continue
    return "\n".join(lines)


def _live_scheduler(store: Store) -> int | None:
    """The pid of the live scheduler serving `store` from another process (queue.pid, written
    by serve), or None. A foreground sweep, curve or seed group serves too, so any engine
    process counts; this process does not (its own claims are never in flight here)."""
    try:
        pid = int((store.root / "queue.pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if pid != os.getpid() and pid_alive(pid) else None


def _zombie_child_of(pid: int, parent: int) -> bool:
    """Whether `pid` is a dead process (zombie) not yet reaped by its parent `parent`."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return False
    return fields[0] == "Z" and fields[1] == str(parent)


class Scheduler:
    """Starts workers for queued runs while slots are free; reaps the ones that end.

    executor (engine/executors.py): where the workers run; default the workspace's
    `[executor]` setting (local: one process per run here; ray: one Ray job per run).
    children: run id -> the executor's handle (a Popen for local runs)."""

    def __init__(self, store: Store, slots: int | None = None, executor=None):
        from engine import executors

        self.store = store
        self.executor = executor if executor is not None else executors.for_store(store.root)
        self._fixed_slots = slots
        self.slots = slots or (device_slots() if self.executor.kind == "local" else 0)
        self.children: dict[str, object] = {}

    def tick(self) -> None:
        from engine.executors import kind_of

        self._reap()
        self._adopt()
        reconcile(self.store, skip=tuple(self.children))
        _tick_sweeps(self.store)  # a sweep's next trials are queued before slots are filled
        _tick_jobs(self.store)
        queued = self.store.queued()
        if not queued:
            return
        if not self._fixed_slots and self.executor.kind != "local":
            self.slots = self.executor.slots()  # the cluster's size, asked at most every 30 s
        # the runs this executor holds count (a foreground train counts on this machine)
        busy = sum(r["num_devices"] for r in self.store.indexed_runs("running")
                   if kind_of(r["status"]) == self.executor.kind)
        for run in queued:
            need = min(run["num_devices"], self.slots)
            if busy + need > self.slots:
                break  # first in, first out: a big run is not overtaken by small ones
            if self._start(run["id"], run["num_devices"]):
                busy += need

    def _start(self, run_id: str, num_devices: int = 1) -> bool:
        """Claim a queued run and start its worker; False when someone else claimed it, or
        when the cluster does not answer (the run stays queued)."""
        from engine.executors import ClusterUnavailable

        if not self.store.claim(run_id, "queued", "running"):
            return False  # cancelled, or taken by another scheduler, since it was listed
        run_dir = self.store.run_dir(run_id)
        folder = RunFolder(run_dir)
        try:
            num_nodes = int((folder.read_config() or {}).get("num_nodes", 1) or 1)
            if self.executor.kind == "local":
                handle = self.executor.start(run_id, run_dir, num_devices, num_nodes)
            else:
                previous = folder.read_status().get("submission_id")
                handle = self.executor.start(
                    run_id, run_dir, num_devices, num_nodes, previous=previous,
                    record=lambda **f: self.store.set_state(run_id, "running", **f))
        except ClusterUnavailable:
            self.store.set_state(run_id, "queued")  # tried again at the next pass
            raise
        except (OSError, WorkbenchError) as exc:
            self.store.set_state(run_id, "failed", pid=None, error=f"could not start the worker: {exc}",
                                 **({"finished_at": time.time()} if self.executor.kind != "local" else {}))
            return False
        if self.executor.kind == "local":  # exactly as before executors existed
            earlier = folder.read_status()  # a run resumed here after running on Ray
            ray = {k: None for k in ("executor", "node", "ray_address") if earlier.get(k)}
            self.store.set_state(run_id, "running", pid=handle.pid, started_at=time.time(),
                                 finished_at=None, **ray)
        else:
            self.store.set_state(run_id, "running", started_at=time.time(), finished_at=None,
                                 cancel_requested_at=None, **self.executor.started(handle))
        self.children[run_id] = handle
        return True

    def _adopt(self) -> None:
        """Take back the runs this executor runs that no scheduler watches (a Ray job lives
        on when the scheduler that submitted it stops)."""
        adopt = getattr(self.executor, "adopt", None)
        if adopt is None:
            return
        for run in self.store.indexed_runs("running"):
            if run["id"] in self.children or run["status"].get("state") not in ("running", "queued"):
                continue
            handle = adopt(run["id"], self.store.run_dir(run["id"]), run["status"])
            if handle is not None:
                self.children[run["id"]] = handle

    def _reap(self) -> None:
        for run_id, handle in list(self.children.items()):
            ended = self.executor.poll(handle)
            news = self.executor.placement(handle)
            if news:
                RunFolder(self.store.run_dir(run_id)).update_status(**news)
            if ended is None:
                continue
            del self.children[run_id]
            record_end(self.store, run_id, ended)

    def running(self) -> int:
        return len(self.children)


def record_end(store: Store, run_id: str, ended) -> str:
    """Record how a run's worker ended (executors.Ended) when it did not say so itself;
    returns the run's state. Killed or lost (OOM, kill -9, a reboot, a lost node, a stopped
    Ray job): interrupted, as reconcile says when no scheduler saw it die; an exit code
    without a final state: failed. A Ray job stopped outside the workbench (`ray job stop`,
    the Ray dashboard) whose worker ended cancelled is interrupted too: nobody cancelled it
    here (queue.cancel notes cancel_requested_at)."""
    folder = RunFolder(store.run_dir(run_id))
    status = folder.read_status()
    state = status.get("state")
    if state in ("running", "queued"):  # died without saying so
        tail = folder.log_tail(max_bytes=2000)
        new = "interrupted" if ended.lost else "failed"
        if status.get("executor") == "ray":
            message = f"{ended.message}; resume to continue"
            if ended.outcome == "stopped" and status.get("cancel_requested_at"):
                # cancelled here, but the worker did not record it: Ray's SIGKILL came
                # after stop_wait_s, or the job was stopped before its worker started
                new, message = "cancelled", (f"{ended.message} (cancelled) before the worker "
                                             "recorded its end; resume to continue")
            sid = status.get("submission_id")
            if store.set_state_if(run_id, new,
                                  lambda st: st.get("state") in ("running", "queued")
                                  and st.get("submission_id") == sid,
                                  pid=None, finished_at=time.time(),
                                  error=f"{message}\n{tail}".rstrip()):
                return new
            return store.sync_state(run_id)
        store.set_state(run_id, new, pid=None, finished_at=time.time(),
                        error=f"{ended.message}; resume to continue\n{tail}")
        return new
    if (state == "cancelled" and ended.outcome == "stopped" and status.get("executor") == "ray"
            and not status.get("cancel_requested_at")):
        store.set_state(run_id, "interrupted", pid=None,
                        error=f"the Ray job {status.get('submission_id')} was stopped outside "
                              f"the workbench (ray job stop, the Ray dashboard); the worker "
                              f"checkpointed at step {status.get('step')}; resume to continue")
        return "interrupted"
    return store.sync_state(run_id)


def _tick_jobs(store: Store) -> None:
    """Start and reap prediction jobs (engine.predict_jobs.tick); a job's error is its own."""
    if not store.jobs_dir.is_dir():
        return
    from engine import predict_jobs

    try:
        predict_jobs.tick(store)
    except Exception as exc:  # noqa: BLE001 - the queue serves runs whatever a job does
        print(f"prediction jobs tick failed: {type(exc).__name__}: {exc}", file=sys.stderr,
              flush=True)


def _jobs_pending(store: Store) -> bool:
    if not store.jobs_dir.is_dir():
        return False
    from engine import predict_jobs

    return predict_jobs.pending(store)


def _tick_sweeps(store: Store) -> None:
    """Move every active sweep on (engine.sweep.tick_all); a sweep's error is logged and
    never stops the queue. Optuna is imported only once the workspace has sweeps."""
    from engine import sweep

    if not (store.root / sweep.DB).exists():
        return
    try:
        sweep.tick_all(store)
    except Exception as exc:  # noqa: BLE001 - the queue serves plain runs whatever a sweep does
        print(f"sweep tick failed: {type(exc).__name__}: {exc}", file=sys.stderr, flush=True)


def serve(store: Store, *, poll: float = 1.0, until_idle: bool = False,
          slots: int | None = None, until: Callable[[], bool] | None = None,
          on_tick: Callable[[], None] | None = None, executor=None) -> bool:
    """Run the scheduler loop; False at once when another scheduler serves this store.

    until_idle: stop when nothing runs or waits; until: stop once it returns True; on_tick:
    called after each scheduling pass (a foreground sweep or curve prints its progress);
    executor: where the workers run (engine/executors.py; default the workspace's
    `[executor]` setting). A Ray cluster that does not answer at the start raises
    ClusterUnavailable (one line naming its address); later, the queue pauses until it does.

    A single instance per store: an exclusive lock on queue.lock (released by the OS when
    the process dies, so a crash leaves no stale lock); queue.pid names the holder.
    """
    from engine.executors import ClusterUnavailable

    lock = _try_lock(store.root / "queue.lock")
    if lock is None:
        return False
    try:
        sched = Scheduler(store, slots, executor)
        if sched.executor.kind != "local":
            sched.executor.describe()  # the cluster answers, or one line saying it does not
    except BaseException:
        lock.close()
        raise
    pidfile = store.root / "queue.pid"
    pidfile.write_text(str(os.getpid()))
    stop = {"flag": False}
    if threading.current_thread() is threading.main_thread():  # signals reach the main thread only
        signal.signal(signal.SIGTERM, lambda *_: stop.update(flag=True))
    damaged = None  # the message of a damaged index, printed once while it lasts
    try:
        while not stop["flag"]:
            try:
                sched.tick()
                if on_tick is not None:
                    on_tick()
                if until_idle and not sched.running() and not store.queued() \
                        and not _jobs_pending(store):
                    break
                if until is not None and until():
                    break
                damaged = None
            except (IndexDamaged, ClusterUnavailable) as exc:  # wait for `queue reindex`
                # (which this store follows), or for the cluster to answer again
                if damaged != str(exc):
                    print(f"queue paused: {exc}", file=sys.stderr, flush=True)
                damaged = str(exc)
            time.sleep(poll)
    finally:
        if pidfile.exists() and pidfile.read_text().strip() == str(os.getpid()):
            pidfile.unlink()
        lock.close()
    return True


def drive(store: Store, done: Callable[[], bool], *, poll: float = 1.0,
          on_tick: Callable[[], None] | None = None) -> None:
    """Work the queue in the foreground until `done()`: serve it here when no other
    scheduler does, else wait for the one that does (and take over if it stops)."""
    while not serve(store, poll=poll, until=done, on_tick=on_tick):
        if on_tick is not None:
            on_tick()
        if done():
            return
        time.sleep(poll)


def _try_lock(path: Path):
    """An open file holding an exclusive lock on `path`, or None when another process holds it."""
    try:
        import fcntl
    except ImportError:  # Windows: rely on the pid file check of ensure_daemon
        return open(path, "a")
    f = open(path, "a")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        f.close()
        return None
    return f


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
    for _ in range(100):  # the daemon writes its pid file at start
        pid = daemon_pid(store)
        if pid:  # ours, or one that won a race with it (ours then exits at once)
            return pid
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    return daemon_pid(store) or proc.pid


def status_summary(store: Store) -> dict:
    """Queue process id (None when down) and the numbers of running and queued runs, after
    marking runs whose process died interrupted (reconcile). Cheap: a pid-file read, two
    small queries, and a status.json and /proc read per running run."""
    try:  # whoever looks notices a dead run: the dashboard's sidebar calls this each rerun
        reconcile(store)
    except (OSError, WorkbenchError):
        pass  # the counts below still show; the scheduler or `queue list` tries again
    active = store.list_runs(states=("running", "queued"))
    return {"pid": daemon_pid(store),
            "running": sum(r["state"] == "running" for r in active),
            "queued": sum(r["state"] == "queued" for r in active)}


@functools.lru_cache(maxsize=1)
def device_summary() -> tuple[int, str]:
    """(device slots, the accelerator in words); computed once per process."""
    slots = device_slots()
    try:
        import torch

        if torch.cuda.is_available():
            return slots, f"{torch.cuda.device_count()} × {torch.cuda.get_device_name(0)}"
    except ImportError:
        pass
    return slots, f"CPU · {os.cpu_count()} cores"
