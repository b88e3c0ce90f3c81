"""Where the queue's workers run: on this machine (`local`, the default) or on a Ray cluster
through Ray Jobs (`ray`). The scheduler (engine/queue.py) asks an executor to start, poll and
stop the worker of a run; everything else (the run folder, the states) stays the queue's.

    [executor]                          # in $WORKBENCH_HOME/workbench.toml
    kind = "ray"                        # "local" (default) or "ray"
    address = "http://HEAD:8265"        # the Ray dashboard, whose job API the queue talks to
    stop_wait_s = 600                   # cancel: seconds between Ray's SIGTERM and its SIGKILL

`WORKBENCH_EXECUTOR` and `RAY_ADDRESS` override the file; `queue serve --executor/--address`
override both. Ray is imported only here, and only by the ray executor
(requirements-ray.txt). docs/CLUSTER.md says how to set a cluster up: the workspace must be on
storage every node sees at the same path, since the worker writes the run folder itself.

The interface (LocalExecutor, RayExecutor):
    start(run_id, run_dir, num_devices, num_nodes, record=None) -> handle
    poll(handle) -> None while it runs, else Ended(outcome, message, lost)
    stop(handle)                        # the worker gets SIGTERM, checkpoints, ends cancelled
    describe() -> dict                  # kind, address; for Ray the nodes, CPUs/GPUs total/free
    slots() -> int                      # how many one-device runs may run at once
    placement(handle) -> dict           # status.json fields learnt since start (Ray: node)
"""
from __future__ import annotations

import os
import re
import shlex
import signal
import subprocess
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from core.errors import ConfigError, WorkbenchError

SETTINGS_FILE = "workbench.toml"  # the file engine/access.py reads [access] from
SECTION = "executor"
KINDS = ("local", "ray")
KEYS = ("kind", "address", "stop_wait_s")
ENV_KIND = "WORKBENCH_EXECUTOR"
ENV_ADDRESS = "RAY_ADDRESS"
DEFAULT_ADDRESS = "http://127.0.0.1:8265"  # `ray start --head`'s dashboard
STOP_WAIT_S = 600  # Ray's default is 3 s: too short for a large model's checkpoint
REQUEST_TIMEOUT_S = 10.0  # each HTTP request to the cluster; the job client has none
SLOTS_TTL_S = 30.0  # how long the cluster's size is trusted before asking again
REPO = Path(__file__).resolve().parents[1]
OUTCOMES = ("succeeded", "failed", "stopped")


class ClusterUnavailable(WorkbenchError):
    """The Ray cluster does not answer (down, wrong address, not reachable)."""


class JobNotFound(WorkbenchError):
    """The Ray cluster holds no job of that submission id."""


@dataclass(frozen=True)
class Settings:
    """The `[executor]` settings, after the environment and flags: kind, address (ray only),
    stop_wait_s, and `source` (what they were read from, for messages)."""

    kind: str = "local"
    address: str | None = None
    stop_wait_s: int = STOP_WAIT_S
    source: str = ""


@dataclass(frozen=True)
class Ended:
    """How a worker ended, as its executor saw it. outcome: succeeded (exit 0), failed (an
    error exit, or the job failed) or stopped (stopped or killed). lost: the process was
    killed or lost (a node, a signal), so a run whose status.json still says running ends
    `interrupted`; else such a run ends `failed`."""

    outcome: str
    message: str = ""
    lost: bool = False


# ---- settings -------------------------------------------------------------------------------

def settings_path(home: Path) -> Path:
    return Path(home) / SETTINGS_FILE


def load_settings(home: Path, *, kind: str | None = None, address: str | None = None) -> Settings:
    """The workspace's executor: `[executor]` of `home`/workbench.toml (absent: local), then
    WORKBENCH_EXECUTOR and RAY_ADDRESS, then `kind` / `address` (command-line flags).
    ConfigError naming the file (or variable, or flag) and the key when one is malformed."""
    path = settings_path(home)
    base = from_dict(_read_section(path), source=str(path))
    chosen = {"kind": base.kind, "address": base.address}
    where = {"kind": f"{path}: executor.kind", "address": f"{path}: executor.address"}
    for key, env, flag, value in (("kind", ENV_KIND, "--executor", kind),
                                  ("address", ENV_ADDRESS, "--address", address)):
        if os.environ.get(env, "").strip():
            chosen[key], where[key] = os.environ[env].strip(), env
        if value is not None and str(value).strip():
            chosen[key], where[key] = str(value).strip(), flag
    kind_ = _check_kind(chosen["kind"], where["kind"])
    address_ = None
    if kind_ == "ray":
        address_ = _check_address(chosen["address"] or DEFAULT_ADDRESS,
                                  where["address"] if chosen["address"] else "default")
    return Settings(kind_, address_, base.stop_wait_s, source=str(path))


def _read_section(path: Path) -> object:
    """The [executor] table of the TOML file at `path` ({} when the file or table is absent)."""
    from engine.access import read_toml_section

    return read_toml_section(path, SECTION)


def from_dict(section: object, *, source: str = "[executor]") -> Settings:
    """Settings from an `[executor]` table; ConfigError naming the file and the bad key."""
    from core.config import did_you_mean

    if not isinstance(section, dict):
        raise ConfigError(f"{source}: [executor] must be a table, e.g. [executor] kind = \"ray\"")
    for key in section:
        if key not in KEYS:
            raise ConfigError(f"{source}: unknown key executor.{key}" + did_you_mean(key, KEYS))
    kind = section.get("kind", "local")
    if not isinstance(kind, str):
        raise ConfigError(f"{source}: executor.kind must be a string, one of {', '.join(KINDS)}")
    _check_kind(kind, f"{source}: executor.kind")
    address = section.get("address")
    if address is not None:
        if not isinstance(address, str):
            raise ConfigError(f"{source}: executor.address must be a string such as "
                              f"\"http://HEAD:8265\"")
        _check_address(address, f"{source}: executor.address")
    wait = section.get("stop_wait_s", STOP_WAIT_S)
    if isinstance(wait, bool) or not isinstance(wait, int) or wait < 1:
        raise ConfigError(f"{source}: executor.stop_wait_s must be a whole number of seconds "
                          f">= 1, found {wait!r}")
    return Settings(kind.strip().lower(), address.strip() if address else None, wait, source)


def _check_kind(kind: str, where: str) -> str:
    value = kind.strip().lower()
    if value not in KINDS:
        raise ConfigError(f"{where}: expected one of {', '.join(map(repr, KINDS))}, found {kind!r}")
    return value


def _check_address(address: str, where: str) -> str:
    value = address.strip().rstrip("/")
    if not re.fullmatch(r"https?://[^\s/]+(:\d+)?", value):
        raise ConfigError(f"{where}: expected the Ray dashboard's address, e.g. "
                          f"'http://HEAD:8265' (the job API), found {address!r}")
    return value


def make(settings: Settings) -> "LocalExecutor | RayExecutor":
    if settings.kind == "ray":
        return RayExecutor(settings.address or DEFAULT_ADDRESS, stop_wait_s=settings.stop_wait_s)
    return LocalExecutor()


def for_store(store_root: Path, **overrides) -> "LocalExecutor | RayExecutor":
    """The executor the workspace at `store_root` is set to use (load_settings)."""
    return make(load_settings(store_root, **overrides))


def check_nodes(num_nodes: int, kind: str) -> None:
    """ConfigError naming num_nodes when a run asks for more machines than `kind` can give."""
    if num_nodes <= 1:
        return
    if kind != "ray":
        raise ConfigError(f"num_nodes: {num_nodes} machines asked for, but the {kind} executor "
                          "trains on this machine only; it needs the ray executor "
                          "([executor] kind = \"ray\", docs/CLUSTER.md), or set num_nodes = 1")
    raise ConfigError(f"num_nodes: {num_nodes} machines asked for; training across several "
                      "machines with the ray executor is not supported yet: set num_nodes = 1 "
                      "(num_devices GPUs on one node do work)")


def kind_of(status: dict) -> str:
    """Which executor ran (or runs) a run, from its status.json: "ray" or "local"."""
    return "ray" if status.get("executor") == "ray" else "local"


def where(status: dict) -> str:
    """Where a run ran, for `queue list`: local, or ray:<node> (ray:<submission id> before
    the node is known)."""
    if kind_of(status) != "ray":
        return "local"
    return f"ray:{status.get('node') or status.get('submission_id') or '?'}"


# ---- local: one process per run on this machine ----------------------------------------------

class LocalExecutor:
    """Today's path: `launch_command` in its own session, output appended to worker.log."""

    kind = "local"
    address = None

    def start(self, run_id: str, run_dir: Path, num_devices: int = 1, num_nodes: int = 1,
              record: Callable[..., None] | None = None) -> subprocess.Popen:
        from engine.distributed import launch_command
        from engine.runfolder import RunFolder

        check_nodes(num_nodes, self.kind)
        with RunFolder(run_dir).open_log() as log:
            return subprocess.Popen(launch_command(run_dir, num_devices),
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True, cwd=REPO)

    def started(self, proc: subprocess.Popen) -> dict:
        """status.json fields to record once the worker started."""
        return {"pid": proc.pid}

    def poll(self, proc: subprocess.Popen) -> Ended | None:
        code = proc.poll()
        if code is None:
            return None
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        # the message counts only when status.json does not say how the run ended
        return Ended("stopped" if code < 0 else "failed" if code else "succeeded",
                     f"worker {how} without finishing (code {code})", lost=code < 0)

    def stop(self, proc: subprocess.Popen) -> None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass

    def placement(self, proc: subprocess.Popen) -> dict:  # noqa: ARG002 - no news on this machine
        return {}

    def slots(self) -> int:
        from engine.queue import device_slots

        return device_slots()

    def describe(self) -> dict:
        from engine.queue import device_summary

        slots, device = device_summary()
        return {"kind": self.kind, "address": None, "slots": slots, "device": device}


# ---- ray: one Ray job per run attempt ---------------------------------------------------------

@dataclass
class RayJob:
    """One Ray job running a run's worker."""

    run_id: str
    submission_id: str
    run_dir: Path
    node: str | None = None
    noted: dict = field(default_factory=dict)  # the placement fields already recorded


_ENV_LOCK = threading.Lock()
_PINNED = ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS")


@contextmanager
def _pinned(address: str) -> Iterator[None]:
    """Ray's clients take RAY_ADDRESS / RAY_API_SERVER_ADDRESS over the address they are
    given; while they resolve it, the environment names ours (a flag beats the variable)."""
    with _ENV_LOCK:
        saved = {k: os.environ.get(k) for k in _PINNED}
        os.environ["RAY_ADDRESS"] = address
        os.environ.pop("RAY_API_SERVER_ADDRESS", None)
        try:
            yield
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def next_submission_id(run_id: str, previous: str | None) -> str:
    """Ray refuses a reused submission id: a run's first job is `run_id`, a resume's
    `run_id-r1`, `run_id-r2`, …"""
    if not previous or not previous.startswith(run_id):
        return run_id
    tail = previous[len(run_id):]
    match = re.fullmatch(r"-r(\d+)", tail)
    return f"{run_id}-r{int(match.group(1)) + 1 if match else 1}"


class RayExecutor:
    """Runs each worker as a Ray job (ray.job_submission.JobSubmissionClient) whose
    entrypoint is the local worker command, run from the repository root with its output
    appended to the run's worker.log: the run folder must be on storage every node sees."""

    kind = "ray"

    def __init__(self, address: str = DEFAULT_ADDRESS, *, stop_wait_s: int = STOP_WAIT_S):
        self.address = _check_address(address, "address")
        self.stop_wait_s = stop_wait_s
        self._client_obj = None
        self._slots: tuple[float, int] | None = None  # (when, slots)
        self._node_names: dict[str, str] = {}

    # -- talking to the cluster
    def _unavailable(self, exc: BaseException) -> ClusterUnavailable:
        text = str(exc)
        found = re.search(r"\[Errno -?\d+\][^'\")]*|timed out|Connection refused|"
                          r"Name or service not known", text)
        if found:
            reason = found.group(0).strip()
        elif type(exc).__name__ == "ServerUnavailable" or "Failed to connect" in text:
            reason = "cannot connect to its job API"
        else:
            reason = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
        if len(reason) > 200:
            reason = reason[:200] + "…"
        return ClusterUnavailable(f"the Ray cluster at {self.address} does not answer ({reason}); "
                                  "start it (ray start --head --dashboard-host 0.0.0.0) or fix "
                                  "the address ([executor] address, RAY_ADDRESS or --address)")

    @contextmanager
    def _talking(self, what: str) -> Iterator[None]:
        """Turns the job client's errors into one-line WorkbenchErrors naming the address."""
        try:
            import requests
        except ImportError:  # ray[default] brings it
            requests = None
        try:
            yield
        except ImportError as exc:
            raise WorkbenchError(f"the ray executor needs Ray ({exc}): pip install -r "
                                 "requirements-ray.txt") from None
        except ConnectionError as exc:  # the job client's own, at connect
            raise self._unavailable(exc) from None
        except Exception as exc:  # noqa: BLE001 - sorted below; never a raw traceback
            if requests is not None and isinstance(exc, requests.RequestException):
                raise self._unavailable(exc) from None
            if type(exc).__name__ == "ServerUnavailable":  # the state API's connection error
                raise self._unavailable(exc) from None
            text = str(exc)
            if "status code 404" in text or "does not exist" in text:
                raise JobNotFound(f"the Ray cluster at {self.address} has no job of that id "
                                  f"({what})") from None
            if isinstance(exc, WorkbenchError):
                raise
            first = text.strip().splitlines()[0] if text.strip() else type(exc).__name__
            raise WorkbenchError(f"the Ray cluster at {self.address} could not {what}: "
                                 f"{first[:300]}") from None

    def _client(self):
        if self._client_obj is None:
            with self._talking("connect"):
                from ray.job_submission import JobSubmissionClient

                class _Client(JobSubmissionClient):
                    def _do_request(self, method, endpoint, **kwargs):  # noqa: D401
                        kwargs.setdefault("timeout", REQUEST_TIMEOUT_S)  # never hang the queue
                        return super()._do_request(method, endpoint, **kwargs)

                with _pinned(self.address):
                    self._client_obj = _Client(self.address)
        return self._client_obj

    def nodes(self) -> list[dict]:
        """The cluster's alive nodes: id, ip, name, head, CPUs and GPUs total and free (free:
        None when the cluster does not report its usage)."""
        with self._talking("list its nodes"):
            from ray.util.state import list_nodes

            with _pinned(self.address):
                states = list_nodes(address=self.address, timeout=int(REQUEST_TIMEOUT_S),
                                    raise_on_missing_output=False)
        usage = self._usage()
        out = []
        for n in states:
            if getattr(n, "state", "ALIVE") != "ALIVE":
                continue
            total = n.resources_total or {}
            used = usage.get(n.node_id, {})
            row = {"node_id": n.node_id, "ip": n.node_ip, "name": n.node_name,
                   "head": bool(n.is_head_node)}
            for res, key in (("CPU", "cpus"), ("GPU", "gpus")):
                row[f"{key}_total"] = float(total.get(res, 0.0))
                row[f"{key}_free"] = (max(0.0, row[f"{key}_total"] - used[res])
                                      if res in used else (row[f"{key}_total"] if usage else None))
            out.append(row)
            self._node_names[n.node_id] = n.node_ip or n.node_name
        return out

    def _usage(self) -> dict[str, dict[str, float]]:
        """{node id: {resource: used}} from the dashboard's cluster status ({} when absent)."""
        try:
            with self._talking("report its usage"):
                r = self._client()._do_request("GET", "/api/cluster_status")
            report = r.json()["data"]["clusterStatus"]["loadMetricsReport"]["usageByNode"]
            return {node: {res: float(v[0]) for res, v in per.items()
                           if isinstance(v, list) and v}
                    for node, per in (report or {}).items()}
        except (WorkbenchError, KeyError, TypeError, ValueError):
            return {}

    def describe(self) -> dict:
        """kind, address, the alive nodes (nodes()), CPUs/GPUs total and free, slots.
        ClusterUnavailable when the cluster does not answer."""
        nodes = self.nodes()
        info: dict[str, Any] = {"kind": self.kind, "address": self.address, "nodes": nodes}
        for key in ("cpus", "gpus"):
            info[f"{key}_total"] = sum(n[f"{key}_total"] for n in nodes)
            free = [n[f"{key}_free"] for n in nodes]
            info[f"{key}_free"] = None if any(f is None for f in free) else sum(free)
        info["slots"] = _slots_of(nodes)
        self._slots = (time.monotonic(), info["slots"])
        return info

    def slots(self) -> int:
        """One slot per GPU of the cluster, or one per node when it has none (the local
        rule: one per GPU, one on CPU); WORKBENCH_SLOTS overrides. Cached for SLOTS_TTL_S."""
        if os.environ.get("WORKBENCH_SLOTS"):
            from engine.queue import device_slots

            return device_slots()
        if self._slots is None or time.monotonic() - self._slots[0] > SLOTS_TTL_S:
            self.describe()
        return self._slots[1]

    # -- runs
    def start(self, run_id: str, run_dir: Path, num_devices: int = 1, num_nodes: int = 1,
              record: Callable[..., None] | None = None, previous: str | None = None) -> RayJob:
        """Submit the run's worker as a Ray job; `record(**fields)` writes status.json fields
        (executor, submission_id, ray_address) before each submission, so that a scheduler
        that dies right after it can still find the job. `previous`: the run's last
        submission id (a resume gets the next one)."""
        from engine.distributed import launch_command
        from engine.runfolder import RunFolder

        check_nodes(num_nodes, self.kind)
        run_dir = Path(run_dir).resolve()
        folder = RunFolder(run_dir)
        gpus = self._gpus_for(folder.read_config() or {}, num_devices)
        folder.log_path.touch()
        command = shlex.join(launch_command(run_dir, num_devices))
        entrypoint = (f"cd {shlex.quote(str(REPO))} && exec {command} "
                      f">> {shlex.quote(str(folder.log_path))} 2>&1")
        env = self.job_env(run_dir)
        client = self._client()
        submission_id = next_submission_id(run_id, previous)
        for _ in range(50):
            if record is not None:
                record(executor=self.kind, submission_id=submission_id, ray_address=self.address,
                       node=None)
            try:
                with self._talking(f"start job {submission_id}"):
                    client.submit_job(entrypoint=entrypoint, submission_id=submission_id,
                                      runtime_env={"env_vars": env},
                                      entrypoint_num_cpus=1 if gpus else max(1, num_devices),
                                      entrypoint_num_gpus=gpus or None,
                                      metadata={"workbench_run": run_id, "run_dir": str(run_dir)})
                return RayJob(run_id, submission_id, run_dir)
            except WorkbenchError as exc:
                if "already exists" not in str(exc):
                    raise
                submission_id = next_submission_id(run_id, submission_id)  # left by a lost try
        raise WorkbenchError(f"the Ray cluster at {self.address} refused 50 submission ids for "
                             f"run {run_id}")

    def job_env(self, run_dir: Path) -> dict[str, str]:
        """The job's environment variables (runtime_env env_vars, which reach the job's
        supervisor too): how long Ray waits between SIGTERM and SIGKILL when the job is
        stopped (its default, 3 s, is shorter than a large model's checkpoint), and the
        workspace of a run in a store."""
        env = {"RAY_JOB_STOP_WAIT_TIME_S": str(self.stop_wait_s),
               # the worker may run on another host than the scheduler: the one that must
               # not write the SQLite index over shared storage (docs/CLUSTER.md, Limits)
               "WORKBENCH_REMOTE_WORKER": "1"}
        if Path(run_dir).parent.name == "runs":
            env["WORKBENCH_HOME"] = str(Path(run_dir).parent.parent)
        return env

    def started(self, job: RayJob) -> dict:  # noqa: ARG002 - the worker writes its own pid
        return {}

    def _gpus_for(self, config: dict, num_devices: int) -> int:
        """GPUs the job asks Ray for: num_devices when the config's device is cuda (or auto
        on a cluster with GPUs), else 0; ConfigError when no node can hold them."""
        device = str(config.get("device", "auto"))
        if device.startswith("cuda:"):
            raise ConfigError(f"device: {device!r} names a GPU of one machine; with the ray "
                              "executor use 'cuda' or 'auto' (Ray assigns the GPUs)")
        if device == "cpu":
            return 0
        nodes = self.nodes()
        most = max((n["gpus_total"] for n in nodes), default=0.0)
        if device == "auto" and not most:
            return 0
        if not most:
            raise ConfigError(f"device: 'cuda' asked for, but no node of the Ray cluster at "
                              f"{self.address} has a GPU; use 'auto' or 'cpu'")
        if num_devices > most:
            raise ConfigError(f"num_devices: {num_devices} GPUs on one node asked for, but the "
                              f"largest node of the Ray cluster at {self.address} has "
                              f"{int(most)}; set num_devices to at most {int(most)}")
        return num_devices

    def info(self, job: RayJob):
        with self._talking(f"report job {job.submission_id}"):
            return self._client().get_job_info(job.submission_id)

    def poll(self, job: RayJob) -> Ended | None:
        """None while the job is pending or running; how it ended otherwise. A job the
        cluster no longer knows (its head restarted) ended lost. ClusterUnavailable when
        the cluster does not answer (nothing can be said)."""
        try:
            info = self.info(job)
        except JobNotFound:
            return Ended("failed", f"the Ray cluster at {self.address} no longer knows job "
                         f"{job.submission_id} (its head node restarted, or the job was "
                         "deleted)", lost=True)
        status = str(getattr(info.status, "value", info.status))
        if info.driver_node_id and job.node is None:
            job.node = self._node_name(info.driver_node_id)
        if status in ("PENDING", "RUNNING"):
            return None
        if status == "SUCCEEDED":  # the message counts only when the worker said nothing
            return Ended("succeeded", f"the Ray job {job.submission_id} exited with code 0 "
                         "without the worker recording how the run ended")
        code = info.driver_exit_code
        if status == "STOPPED":
            return Ended("stopped", f"the Ray job {job.submission_id} was stopped", lost=True)
        what = (info.message or "").strip().splitlines()
        head = what[0][:300] if what else "no message"
        ray_log = self._job_log_tail(job)
        text = f"the Ray job {job.submission_id} failed ({head})"
        if ray_log:
            text += f"\nRay's log of the job:\n{ray_log}"
        # an error exit of the worker is a failure, as on this machine; a signal, a lost
        # node or a job that never started is an interruption (resumable)
        return Ended("failed", text, lost=not (code is not None and code > 0))

    def _job_log_tail(self, job: RayJob, chars: int = 1500) -> str:
        """Ray's log of the job: only what the shell said before the worker took over (the
        worker writes worker.log), e.g. a node that cannot see the run folder."""
        try:
            with self._talking(f"send the log of job {job.submission_id}"):
                logs = self._client().get_job_logs(job.submission_id)
        except WorkbenchError:
            return ""
        return (logs or "").strip()[-chars:]

    def _node_name(self, node_id: str) -> str:
        if node_id not in self._node_names:
            try:
                self.nodes()
            except WorkbenchError:
                pass
        return self._node_names.get(node_id, node_id[:12])

    def placement(self, job: RayJob) -> dict:
        """The node once it is known, once."""
        fields = {"node": job.node} if job.node else {}
        news = {k: v for k, v in fields.items() if job.noted.get(k) != v}
        job.noted.update(news)
        return news

    def stop(self, job: RayJob) -> bool:
        """Ask Ray to stop the job: its processes get SIGTERM (the worker checkpoints and
        ends cancelled), then SIGKILL after stop_wait_s. False when it had already ended."""
        with self._talking(f"stop job {job.submission_id}"):
            return bool(self._client().stop_job(job.submission_id))

    def adopt(self, run_id: str, run_dir: Path, status: dict) -> RayJob | None:
        """The job of a run that status.json says runs on this cluster (a scheduler that
        restarted takes its runs back), or None when it names no job here."""
        sid = status.get("submission_id")
        if not sid or (status.get("ray_address") or "").rstrip("/") != self.address:
            return None
        job = RayJob(run_id, sid, Path(run_dir), node=status.get("node"))
        if job.node:
            job.noted["node"] = job.node
        return job


def _slots_of(nodes: list[dict]) -> int:
    gpus = sum(int(n["gpus_total"]) for n in nodes)
    return max(1, gpus if gpus else len(nodes))


def for_status(status: dict) -> RayExecutor | None:
    """The Ray executor a run's status.json names (its recorded address), or None for a
    local run."""
    if kind_of(status) != "ray" or not status.get("ray_address"):
        return None
    return RayExecutor(status["ray_address"])
