"""The ray executor (engine/executors.py) against a real one-node Ray cluster that this module
starts (`ray start --head --num-cpus 2`, its own ports and a short temp dir) and tears down
by killing exactly its own processes; and the executor settings, without Ray.

Measured (printed with -s, and in the timing test's assertion message): submit → first
training step and submit → completed, local vs Ray, for the same tiny run.
"""
from __future__ import annotations

import json
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import ConfigError
from engine import checkpoint, executors, queue
from engine.runfolder import RunFolder
from engine.store import Store
from tests.engine.runs import REPO, env_for, make_run_config, wait_for

RAY = Path(sys.executable).with_name("ray")
RUN_TIMEOUT = 240  # seconds for one tiny run on a loaded 2-core machine (~10 s idle)


# ---- settings: no Ray needed ------------------------------------------------------------------

def _write_toml(home: Path, text: str) -> None:
    home.mkdir(parents=True, exist_ok=True)
    (home / "workbench.toml").write_text(text, encoding="utf-8")


def test_settings_default_local_and_the_file_env_and_flags_in_that_order(tmp_path, monkeypatch):
    monkeypatch.delenv(executors.ENV_KIND, raising=False)
    monkeypatch.delenv(executors.ENV_ADDRESS, raising=False)
    assert executors.load_settings(tmp_path) == executors.Settings("local", None,
                                                                   source=str(tmp_path / "workbench.toml"))
    _write_toml(tmp_path, '[access]\nadmins = ["a@example.com"]\n[executor]\nkind = "ray"\n'
                          'address = "http://head:8265/"\nstop_wait_s = 30\n')
    got = executors.load_settings(tmp_path)
    assert (got.kind, got.address, got.stop_wait_s) == ("ray", "http://head:8265", 30)
    monkeypatch.setenv(executors.ENV_ADDRESS, "http://other:8265")
    assert executors.load_settings(tmp_path).address == "http://other:8265"
    assert executors.load_settings(tmp_path, address="http://flag:1").address == "http://flag:1"
    monkeypatch.setenv(executors.ENV_KIND, "local")
    assert executors.load_settings(tmp_path).kind == "local"
    assert executors.load_settings(tmp_path).address is None  # local: no address at all
    assert executors.load_settings(tmp_path, kind="ray").kind == "ray"
    assert isinstance(executors.make(executors.load_settings(tmp_path)), executors.LocalExecutor)
    # the ray executor with no address anywhere: Ray's default dashboard on this machine
    monkeypatch.delenv(executors.ENV_ADDRESS)
    _write_toml(tmp_path, '[executor]\nkind = "ray"\n')
    monkeypatch.delenv(executors.ENV_KIND)
    assert executors.load_settings(tmp_path).address == executors.DEFAULT_ADDRESS


@pytest.mark.parametrize("text, names", [
    ('[executor]\nkind = "slurm"\n', "executor.kind"),
    ('[executor]\nkind = "ray"\nadress = "http://h:8265"\n', "executor.adress.*address"),
    ('[executor]\nkind = "ray"\naddress = "h:6379"\n', "executor.address"),
    ('[executor]\nkind = "ray"\naddress = 8265\n', "executor.address"),
    ('[executor]\nstop_wait_s = 0\n', "executor.stop_wait_s"),
    ('executor = "ray"\n', r"\[executor\] must be a table"),
    ('[executor\nkind = "ray"\n', "not valid TOML"),
])
def test_a_malformed_setting_names_the_file_and_the_key(tmp_path, monkeypatch, text, names):
    monkeypatch.delenv(executors.ENV_KIND, raising=False)
    _write_toml(tmp_path, text)
    with pytest.raises(ConfigError, match=rf"{tmp_path / 'workbench.toml'}: .*{names}"):
        executors.load_settings(tmp_path)


def test_a_bad_environment_value_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv(executors.ENV_KIND, "kubernetes")
    with pytest.raises(ConfigError, match="WORKBENCH_EXECUTOR: expected one of 'local', 'ray'"):
        executors.load_settings(tmp_path)
    monkeypatch.setenv(executors.ENV_KIND, "ray")
    monkeypatch.setenv(executors.ENV_ADDRESS, "10.0.0.1:6379")  # a GCS address, not the dashboard
    with pytest.raises(ConfigError, match="RAY_ADDRESS: expected the Ray dashboard's address"):
        executors.load_settings(tmp_path)


def test_submission_ids_are_never_reused():
    assert executors.next_submission_id("r", None) == "r"
    assert executors.next_submission_id("r", "r") == "r-r1"
    assert executors.next_submission_id("r", "r-r1") == "r-r2"
    assert executors.next_submission_id("r", "r-r9") == "r-r10"
    assert executors.where({}) == "local"
    assert executors.where({"executor": "ray", "submission_id": "r-r1"}) == "ray:r-r1"
    assert executors.where({"executor": "ray", "submission_id": "r", "node": "10.0.0.7"}) == "ray:10.0.0.7"


def test_num_nodes_above_one_is_refused_at_submit_saying_what_it_needs(tmp_path, monkeypatch):
    monkeypatch.delenv(executors.ENV_KIND, raising=False)
    store = Store(tmp_path / "ws")
    cfg = make_run_config(tmp_path / "cfg", "ner", num_nodes=2)
    with pytest.raises(ConfigError, match="num_nodes: 2 machines .*needs the ray executor"):
        queue.submit(store, cfg)
    with pytest.raises(ConfigError, match="num_nodes: must be at least 1, found 0"):
        queue.submit(store, {**cfg, "num_nodes": 0})
    _write_toml(store.root, '[executor]\nkind = "ray"\naddress = "http://127.0.0.1:1"\n')
    with pytest.raises(ConfigError, match="num_nodes: 2 machines .*not supported yet"):
        queue.submit(store, cfg)
    assert store.list_runs() == []
    # a run that reached the queue another way fails when the scheduler starts it
    run_id = store.create_run(cfg)
    sched = queue.Scheduler(store, slots=1, executor=executors.LocalExecutor())
    sched.tick()
    status = RunFolder(store.run_dir(run_id)).read_status()
    assert status["state"] == "failed" and "needs the ray executor" in status["error"]
    assert not sched.children


def test_a_cluster_that_does_not_answer_is_one_line_naming_its_address(tmp_path):
    pytest.importorskip("ray.job_submission")
    port = _free_port()  # nothing listens there
    home = tmp_path / "ws"
    Store(home)
    out = subprocess.run([sys.executable, "-m", "engine", "queue", "serve", "--executor", "ray",
                          "--address", f"http://127.0.0.1:{port}", "--until-idle"],
                         cwd=REPO, env=env_for(home), capture_output=True, text=True, timeout=120)
    assert out.returncode == 1, out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr, out.stderr
    assert lines[0].startswith(f"error: the Ray cluster at http://127.0.0.1:{port} does not answer"), lines
    assert not (home / "queue.pid").exists()
    # a Ray run whose cluster is gone stays running in `queue list` (nothing can be said)
    store = Store(home)
    run_id = store.create_run({"task": "ner"}, state="running", executor="ray",
                              submission_id="x", ray_address=f"http://127.0.0.1:{port}", pid=1)
    listing = subprocess.run([sys.executable, "-m", "engine", "queue", "list"], cwd=REPO,
                             env=env_for(home), capture_output=True, text=True, timeout=120)
    assert listing.returncode == 0 and "Traceback" not in listing.stderr, listing.stderr
    row = next(line for line in listing.stdout.splitlines() if line.startswith(run_id))
    assert row.split()[1] == "running" and row.split()[-1] == "ray:x"


# ---- a real Ray cluster ------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    def __init__(self, address: str, gcs_port: int, temp: Path):
        self.address, self.gcs_port, self.temp = address, gcs_port, temp

    def client(self):
        from ray.job_submission import JobSubmissionClient

        return JobSubmissionClient(self.address)


def _ours(pid: int, temp: Path, gcs_port: int, pgid: int) -> bool:
    """Whether process `pid` belongs to the cluster this module started: in the session of
    its `ray start`, or naming our temp dir in its command line or open files (Ray's agents
    retitle themselves; every Ray process logs there), or our GCS address in its
    environment (job entrypoints, which Ray starts in sessions of their own)."""
    try:
        if os.getpgid(pid) == pgid:
            return True
        cmd = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return False
    if str(temp).encode() in cmd:
        return True
    try:
        if any(os.readlink(f"/proc/{pid}/fd/{fd}").startswith(str(temp))
               for fd in os.listdir(f"/proc/{pid}/fd")):
            return True
        env = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return False
    return str(temp).encode() in env or f":{gcs_port}\0".encode() in env


def _kill_cluster(temp: Path, gcs_port: int, pgid: int) -> list[int]:
    """SIGTERM, then SIGKILL, every process of our cluster (never `ray stop`, which stops
    every Ray cluster of this user on the machine); returns the pids that were left."""
    me = os.getpid()
    live: list[int] = []
    for sig, wait in ((signal.SIGTERM, 8.0), (signal.SIGKILL, 5.0)):
        deadline = time.monotonic() + wait
        while True:
            live = []
            for entry in os.listdir("/proc"):
                if not entry.isdigit() or int(entry) == me:
                    continue
                pid = int(entry)
                try:
                    stat = Path(f"/proc/{pid}/stat").read_text()
                    if stat.rsplit(")", 1)[1].split()[0] == "Z" or not _ours(pid, temp, gcs_port, pgid):
                        continue
                    os.kill(pid, sig)
                    live.append(pid)
                except (OSError, IndexError):
                    continue
            if not live or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        if not live:
            return []
    return live


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    pytest.importorskip("ray.job_submission")
    temp = Path(f"/tmp/rt{secrets.token_hex(3)}")  # Ray's socket paths must stay short
    gcs, dash = _free_port(), _free_port()
    ports = {f"--{name}": str(_free_port()) for name in (
        "ray-client-server-port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
        "metrics-export-port", "runtime-env-agent-port", "node-manager-port",
        "object-manager-port")}
    env = {**env_for(tmp_path_factory.mktemp("rayhome")), "RAY_USAGE_STATS_ENABLED": "0"}
    for key in ("RAY_ADDRESS", "RAY_API_SERVER_ADDRESS"):  # ours only, inside this module
        env.pop(key, None)
    cmd = [str(RAY), "start", "--head", "--num-cpus", "2", "--num-gpus", "0", "--port", str(gcs),
           "--dashboard-host", "127.0.0.1", "--dashboard-port", str(dash), "--include-dashboard",
           "true", "--temp-dir", str(temp), "--disable-usage-stats",
           *[x for kv in ports.items() for x in kv]]
    address = f"http://127.0.0.1:{dash}"
    pgid = -1
    try:
        # its own session: the daemons it leaves running share that process group
        starter = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   stdin=subprocess.DEVNULL, text=True, start_new_session=True)
        pgid = starter.pid
        out, _ = starter.communicate(timeout=180)
        assert starter.returncode == 0, out[-3000:]
        import requests

        def answers() -> bool:
            try:
                return requests.get(f"{address}/api/jobs/", timeout=2).status_code == 200
            except requests.RequestException:
                return False

        wait_for(answers, 120, interval=0.5, what="the Ray dashboard's job API")
        yield Cluster(address, gcs, temp)
    finally:
        left = _kill_cluster(temp, gcs, pgid)
        subprocess.run(["rm", "-rf", str(temp)], check=False)
        assert not left, f"Ray processes left behind: {left}"


def _status(store: Store, run_id: str) -> dict:
    return RunFolder(store.run_dir(run_id)).read_status()


def _drive(sched: queue.Scheduler, store: Store, run_id: str, until, timeout: float = RUN_TIMEOUT,
           what: str = "the run") -> dict:
    """Tick `sched` until `until(status)` holds; returns that status."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sched.tick()
        status = _status(store, run_id)
        if until(status):
            return status
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}: {json.dumps(_status(store, run_id))[:1500]}")


def _ended(sched: queue.Scheduler, run_id: str):
    return lambda st: st.get("state") not in ("queued", "running") and run_id not in sched.children


def _first_step_s(store: Store, run_id: str) -> float:
    """Seconds from submission to the first training step (its metrics line's stamp)."""
    status = _status(store, run_id)
    first = next(m for m in RunFolder(store.run_dir(run_id)).read_metrics() if m["event"] == "log")
    return first["time"] - status["created_at"]


@pytest.mark.slow
def test_a_ray_run_completes_writing_the_same_run_folder_and_where_it_ran(cluster, tmp_path,
                                                                       capsys, monkeypatch):
    cfg = make_run_config(tmp_path / "cfg", "ner")
    ray_store, local_store = Store(tmp_path / "ray"), Store(tmp_path / "local")
    ex = executors.RayExecutor(cluster.address)
    # free resources come from the cluster's usage report, a few seconds behind at start
    info = wait_for(lambda: (d := ex.describe())["cpus_free"] is not None and d, 60,
                    interval=1, what="the cluster's usage report")
    assert info["kind"] == "ray" and info["address"] == cluster.address
    assert [(n["cpus_total"], n["gpus_total"], n["head"]) for n in info["nodes"]] == [(2.0, 0.0, True)]
    assert info["cpus_free"] == 2.0 and info["slots"] == 1

    run_id = queue.submit(ray_store, cfg)
    sched = queue.Scheduler(ray_store, executor=ex)
    assert sched.slots == 0  # the cluster's size is asked when a run waits
    status = _drive(sched, ray_store, run_id, _ended(sched, run_id))
    assert sched.slots == 1
    folder = RunFolder(ray_store.run_dir(run_id))
    assert status["state"] == "completed", status.get("error")
    assert status["executor"] == "ray" and status["submission_id"] == run_id
    assert status["ray_address"] == cluster.address and status["node"] == info["nodes"][0]["ip"]
    assert status["step"] == status["total_steps"] == 18 and status["pid"] is None
    assert folder.read_report()["best_step"] and folder.has_model()
    log = folder.log_path.read_text()
    assert "step     18" in log and "end: step 18" in log  # the worker's own progress lines
    assert cluster.client().get_job_info(run_id).status == "SUCCEEDED"
    assert ray_store.get_run(run_id)["state"] == "completed"

    # `queue list` names where each run ran
    monkeypatch.setenv("WORKBENCH_HOME", str(ray_store.root))
    from engine import cli

    capsys.readouterr()
    assert cli.main(["queue", "list"]) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith(run_id))
    assert row.split()[1:3] == ["completed", "18/18"] and row.split()[-1] == f"ray:{status['node']}"

    # the same run on this machine, for the figures
    local_id = queue.submit(local_store, cfg)
    local = queue.Scheduler(local_store, slots=1, executor=executors.LocalExecutor())
    local_status = _drive(local, local_store, local_id, _ended(local, local_id))
    assert local_status["state"] == "completed" and "executor" not in local_status
    figures = {
        "first_step_s": {"local": round(_first_step_s(local_store, local_id), 2),
                         "ray": round(_first_step_s(ray_store, run_id), 2)},
        "run_wall_s": {"local": round(local_status["finished_at"] - local_status["created_at"], 2),
                       "ray": round(status["finished_at"] - status["created_at"], 2)},
    }
    figures["ray_overhead_s"] = round(figures["run_wall_s"]["ray"] - figures["run_wall_s"]["local"], 2)
    with capsys.disabled():
        print(f"\nray executor figures: {json.dumps(figures)}")
    assert figures["first_step_s"]["ray"] < 120, figures


@pytest.mark.slow
def test_cancelling_a_running_ray_run_checkpoints_and_ends_cancelled(cluster, tmp_path):
    store = Store(tmp_path / "ws")
    run_id = queue.submit(store, make_run_config(tmp_path / "cfg", "ner", epochs=40))
    sched = queue.Scheduler(store, executor=executors.RayExecutor(cluster.address))
    _drive(sched, store, run_id, lambda st: (st.get("step") or 0) >= 1, what="the first step")
    assert queue.cancel(store, run_id) == "stopping"
    status = _drive(sched, store, run_id, _ended(sched, run_id))
    # Ray sends SIGTERM and waits [executor] stop_wait_s (600 s, not Ray's 3 s) before
    # SIGKILL: the worker stops at the next step, checkpoints and records cancelled itself
    assert status["state"] == "cancelled", status.get("error")
    assert status["cancel_requested_at"] and status["step"] < 240
    assert status.get("error") is None
    events = [m["event"] for m in RunFolder(store.run_dir(run_id)).read_metrics()]
    assert events[-1] == "stopped" and "end" not in events
    ckpt = checkpoint.latest(store.run_dir(run_id))
    assert ckpt is not None and ckpt.name == f"step_{status['step']}"
    assert cluster.client().get_job_info(run_id).status == "STOPPED"


@pytest.mark.slow
def test_a_job_stopped_behind_the_queues_back_is_interrupted_and_resumes(cluster, tmp_path):
    store = Store(tmp_path / "ws")
    run_id = queue.submit(store, make_run_config(tmp_path / "cfg", "ner", epochs=8))
    sched = queue.Scheduler(store, executor=executors.RayExecutor(cluster.address))
    _drive(sched, store, run_id, lambda st: checkpoint.latest(store.run_dir(run_id)) is not None,
           what="a checkpoint")
    cluster.client().stop_job(run_id)  # `ray job stop`: not through the workbench
    status = _drive(sched, store, run_id, _ended(sched, run_id))
    assert status["state"] == "interrupted", status
    assert f"the Ray job {run_id} was stopped outside the workbench" in status["error"]
    stopped_at = status["step"]
    assert checkpoint.latest(store.run_dir(run_id)).name == f"step_{stopped_at}"

    queue.resume(store, run_id)
    status = _drive(sched, store, run_id, _ended(sched, run_id))
    assert status["state"] == "completed", status.get("error")
    assert status["submission_id"] == f"{run_id}-r1" and status["step"] == status["total_steps"]
    metrics = RunFolder(store.run_dir(run_id)).read_metrics()
    resumed = [m for m in metrics if m["event"] == "resume"]
    assert resumed and resumed[-1]["step"] == stopped_at and resumed[-1]["checkpoint"]
    assert RunFolder(store.run_dir(run_id)).read_report() is not None
    client = cluster.client()
    assert (client.get_job_info(run_id).status, client.get_job_info(f"{run_id}-r1").status) == \
        ("STOPPED", "SUCCEEDED")


@pytest.mark.slow
def test_reconcile_asks_the_cluster_not_the_pid(cluster, tmp_path):
    """A Ray run's pid is on another node: reconcile (no scheduler watching) spares it while
    its job runs, whatever the pid, and records it interrupted once the job has died."""
    store = Store(tmp_path / "ws")
    sid = f"sleeper-{secrets.token_hex(3)}"
    client = cluster.client()
    client.submit_job(entrypoint="sleep 300", submission_id=sid, entrypoint_num_cpus=1)
    dead = subprocess.Popen(["true"])
    dead.wait()
    run_id = store.create_run({"task": "ner"}, state="running", executor="ray", submission_id=sid,
                              ray_address=cluster.address, pid=dead.pid)
    wait_for(lambda: client.get_job_info(sid).status == "RUNNING", 60, what="the job to run")
    assert queue.reconcile(store) == [] and _status(store, run_id)["state"] == "running"
    client.stop_job(sid)
    wait_for(lambda: client.get_job_info(sid).status == "STOPPED", 60, what="the job to stop")
    assert queue.reconcile(store) == [run_id]
    status = _status(store, run_id)
    assert status["state"] == "interrupted" and f"the Ray job {sid} was stopped" in status["error"]
    assert store.get_run(run_id)["state"] == "interrupted"
    # a restarted scheduler takes back a run whose job still runs
    sid2 = f"sleeper-{secrets.token_hex(3)}"
    client.submit_job(entrypoint="sleep 300", submission_id=sid2, entrypoint_num_cpus=1)
    run2 = store.create_run({"task": "ner"}, state="running", executor="ray", submission_id=sid2,
                            ray_address=cluster.address)
    sched = queue.Scheduler(store, executor=executors.RayExecutor(cluster.address))
    sched.tick()
    assert list(sched.children) == [run2]
    assert queue.cancel(store, run2) == "stopping"
    status = _drive(sched, store, run2, _ended(sched, run2), timeout=60)
    assert status["state"] == "cancelled"  # asked here; `sleep` never wrote a state


@pytest.mark.slow
def test_ray_waits_stop_wait_s_between_sigterm_and_sigkill(cluster, tmp_path):
    """Ray's stop_job sends SIGTERM, waits RAY_JOB_STOP_WAIT_TIME_S (3 s by default), then
    SIGKILLs. The executor's job environment makes it wait stop_wait_s: a worker whose
    checkpoint takes 5 s finishes it; without that environment, Ray kills it at 3 s."""
    ex = executors.RayExecutor(cluster.address, stop_wait_s=20)
    client = cluster.client()

    def stop_a_slow_stopper(env: dict | None) -> tuple[bool, float]:
        marker = tmp_path / f"graceful-{secrets.token_hex(3)}"
        code = ("import signal, sys, time\n"
                "def bye(*_):\n"
                "    time.sleep(5)\n"  # a slow checkpoint: longer than Ray's default 3 s
                f"    open({str(marker)!r}, 'w').write('ok')\n"
                "    sys.exit(0)\n"
                "signal.signal(signal.SIGTERM, bye)\n"
                f"open({str(marker) + '.up'!r}, 'w').write('up')\n"
                "time.sleep(300)\n")
        sid = marker.name
        client.submit_job(entrypoint=f"exec {sys.executable} -c {shlex.quote(code)}",
                          submission_id=sid, entrypoint_num_cpus=1,
                          **({"runtime_env": {"env_vars": env}} if env else {}))
        wait_for(lambda: Path(str(marker) + ".up").exists(), 60, what="the job to start")
        t0 = time.monotonic()
        client.stop_job(sid)
        wait_for(lambda: client.get_job_info(sid).status == "STOPPED", 60, what="the job to stop")
        return marker.exists(), time.monotonic() - t0

    finished, took = stop_a_slow_stopper(ex.job_env(tmp_path))
    assert finished and took >= 4.5
    assert ex.job_env(tmp_path)["RAY_JOB_STOP_WAIT_TIME_S"] == "20"
    finished, took = stop_a_slow_stopper(None)  # Ray's default: SIGKILL after 3 s
    assert not finished and took < 5
