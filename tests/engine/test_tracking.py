"""Experiment tracking (engine/tracking.py) against a real local MLflow store (sqlite) and a
real TensorBoard log folder read back with tensorboard's EventAccumulator: what a tiny run
logs, a resumed run continuing its MLflow run, failures that only warn, and no trace of
either package when tracking is off."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest
import torch

from core.config import RunConfig, config_to_dict, to_toml
from engine import checkpoint, tracking, worker
from engine.runfolder import RunFolder, checked_status
from engine.store import Store
from tests.engine.runs import env_for, make_run_config

mlflow = pytest.importorskip("mlflow", reason="pip install -r requirements-tracking.txt")
pytest.importorskip("tensorboard", reason="pip install -r requirements-tracking.txt")

from mlflow import MlflowClient  # noqa: E402
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    """12 steps (2 epochs of 6), a log line per step, dev evaluations at steps 3, 6, 9, 12."""
    return make_run_config(tmp_path_factory.mktemp("tracking"), "ner", epochs=2, eval_every=3,
                           checkpoint_every=2)


@pytest.fixture(scope="module")
def mlflow_uri(tmp_path_factory):
    """One sqlite store for the module (creating its tables takes seconds); each test logs
    to its own experiment."""
    return f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"


def _new_run(tmp_path: Path, cfg: dict) -> Path:
    store = Store(tmp_path / "ws")
    return store.run_dir(store.create_run(config_to_dict(RunConfig(**cfg))))


def _train(run_dir: Path, **kwargs) -> str:
    with torch.random.fork_rng(devices=[]):
        return worker.run(run_dir, **kwargs)


def _history(client: MlflowClient, run_id: str, key: str) -> list[tuple[int, float]]:
    rows = sorted(client.get_metric_history(run_id, key), key=lambda m: (m.step, m.timestamp))
    return [(m.step, m.value) for m in rows]


def _scalars(log_dir: Path) -> EventAccumulator:
    acc = EventAccumulator(str(log_dir), size_guidance={"scalars": 0, "tensors": 0})
    acc.Reload()
    return acc


@pytest.mark.slow
def test_a_tracked_run_logs_params_curves_final_scores_and_the_model(base, mlflow_uri, tmp_path):
    cfg = {**base, "tracking": "mlflow,tensorboard", "tracking_uri": mlflow_uri,
           "tracking_experiment": "complete", "name": "n" * 7000}  # longer than a param may be
    run_dir = _new_run(tmp_path, cfg)
    assert _train(run_dir) == "completed"
    folder = RunFolder(run_dir)
    status, rows, report = folder.read_status(), folder.read_metrics(), folder.read_report()
    assert "warnings" not in status
    run_id = status["tracking"]["mlflow_run_id"]
    client = MlflowClient(tracking_uri=mlflow_uri)
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert client.get_experiment(run.info.experiment_id).name == "complete"
    assert run.data.tags["workbench.run_id"] == run_dir.name
    assert run.data.tags["workbench.device"] == "cpu"

    # params: every config key, strings as they are, other values as JSON, long ones cut
    params, config = run.data.params, config_to_dict(RunConfig(**cfg))
    assert set(params) == set(config)
    assert params["model"] == cfg["model"] and params["dev"] == cfg["dev"]
    assert params["learning_rate"] == "0.005" and params["epochs"] == "2"
    assert params["max_steps"] == "null" and params["fast_path"] == "true"
    assert params["lora_target_modules"] == '["query", "value"]' and params["augment"] == "[]"
    assert params["tracking"] == "mlflow,tensorboard"
    assert len(params["name"]) == 6000 and params["name"].endswith("...")

    # per step: loss and lr of each log event, dev scores of each evaluation, then at the
    # last step the report's dev scores (the best checkpoint's, which model/ holds)
    logs = [r for r in rows if r["event"] == "log"]
    evals = [r for r in rows if r["event"] == "eval"]
    last = report["steps"]
    assert [r["step"] for r in logs] == list(range(1, 13)) and last == 12
    assert _history(client, run_id, "loss") == [(r["step"], r["loss"]) for r in logs]
    assert _history(client, run_id, "lr") == [(r["step"], r["lr"]) for r in logs]
    dev = report["dev"]["entities"]
    assert [r["step"] for r in evals] == [3, 6, 9, 12]
    assert _history(client, run_id, "dev_f1_micro") == (
        [(r["step"], r["f1_micro"]) for r in evals] + [(last, dev["micro"]["f1"])])
    assert _history(client, run_id, "dev_f1_PER") == (
        [(r["step"], r["per_type_f1"]["PER"]) for r in evals] + [(last, dev["per_type"]["PER"]["f1"])])

    # final scores equal report.json's, per type and averaged
    metrics = run.data.metrics
    test = report["test"]["entities"]
    assert set(test["per_type"]) == {"LOC", "PER"}
    for split, table in (("test", test), ("dev", dev)):
        for name, row in [*table["per_type"].items(), ("micro", table["micro"]),
                          ("macro", table["macro"]), ("weighted", table["weighted"])]:
            for stat in ("precision", "recall", "f1"):
                assert metrics[f"{split}_{stat}_{name}"] == row[stat], (split, stat, name)
    assert metrics["train_time_s"] == report["train_time_s"]

    # the model folder and report.json as artifacts, beside the sqlite database
    model_files = {Path(a.path).name for a in client.list_artifacts(run_id, "model")}
    assert {"config.json", "model.safetensors"} <= model_files
    artifacts = Path(unquote(urlparse(run.info.artifact_uri).path))
    db = Path(mlflow_uri[len("sqlite:///"):])
    assert artifacts.is_relative_to(db.parent / tracking.MLFLOW_ARTIFACTS)
    assert (artifacts / "model" / "config.json").read_bytes() == \
        (folder.model_dir / "config.json").read_bytes()
    assert json.loads((artifacts / "report.json").read_text()) == report

    # TensorBoard: the same curves and scores (float32), the config and report as text
    acc = _scalars(run_dir / tracking.TENSORBOARD_DIR)
    assert status["tracking"]["tensorboard_dir"] == str(run_dir / tracking.TENSORBOARD_DIR)
    loss = [(e.step, e.value) for e in acc.Scalars("loss")]
    assert [s for s, _ in loss] == list(range(1, 13))
    assert [v for _, v in loss] == pytest.approx([r["loss"] for r in logs], rel=1e-6)
    assert [e.step for e in acc.Scalars("dev_f1_micro")] == [3, 6, 9, 12, 12]
    assert acc.Scalars("test_f1_PER")[-1].value == pytest.approx(test["per_type"]["PER"]["f1"])
    assert acc.Scalars("test_f1_PER")[-1].step == last
    assert {"config/text_summary", "report/text_summary"} <= set(acc.Tags()["tensors"])


@pytest.mark.slow
def test_a_resumed_run_continues_its_mlflow_run_and_purges_tensorboard(base, mlflow_uri, tmp_path):
    cfg = {**base, "tracking": "mlflow,tensorboard", "tracking_uri": mlflow_uri,
           "tracking_experiment": "resumed"}
    run_dir = _new_run(tmp_path, cfg)
    calls = {"n": 0}

    def stop_after_a_while() -> bool:
        calls["n"] += 1
        return calls["n"] > 7

    assert _train(run_dir, stop=stop_after_a_while) == "cancelled"
    folder = RunFolder(run_dir)
    run_id = folder.read_status()["tracking"]["mlflow_run_id"]
    client = MlflowClient(tracking_uri=mlflow_uri)
    assert client.get_run(run_id).info.status == "KILLED"
    stopped_at = folder.read_metrics()[-1]["step"]
    assert 2 < stopped_at < 12
    newest = max(checkpoint._steps(folder.checkpoints_dir), key=lambda p: int(p.name[5:]))
    shutil.rmtree(newest)  # the resume starts before the last logged step (a lost checkpoint)

    assert _train(run_dir) == "completed"
    rows = folder.read_metrics()
    resumes = [r for r in rows if r["event"] == "resume"]  # after the lines it kept
    assert len(resumes) == 1 and resumes[0]["checkpoint"]
    resumed_at = resumes[0]["step"]
    assert 0 < resumed_at < stopped_at
    assert folder.read_status()["tracking"]["mlflow_run_id"] == run_id  # the same run
    experiment = client.get_experiment_by_name("resumed").experiment_id
    assert [r.info.run_id for r in client.search_runs([experiment])] == [run_id]
    run = client.get_run(run_id)
    assert run.info.status == "FINISHED"
    assert run.data.tags["workbench.resumed_from_step"] == str(resumed_at)
    loss = _history(client, run_id, "loss")  # steps trained again get a second point
    assert {s for s, _ in loss} == set(range(1, 13))
    assert len(loss) == 12 + (stopped_at - resumed_at)
    assert "test_f1_PER" in run.data.metrics

    # TensorBoard keeps one point per step: the lost attempt's steps past the checkpoint go
    logs = [r for r in rows if r["event"] == "log"]
    loss = _scalars(run_dir / tracking.TENSORBOARD_DIR).Scalars("loss")
    assert [e.step for e in loss] == [r["step"] for r in logs] == list(range(1, 13))
    assert [e.value for e in loss] == pytest.approx([r["loss"] for r in logs], rel=1e-6)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_trackers_that_cannot_start_warn_and_the_foreground_run_completes(base, tmp_path, capsys,
                                                                         monkeypatch):
    from engine import cli

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "3")
    run_dir = tmp_path / "run"
    (run_dir / tracking.TENSORBOARD_DIR).parent.mkdir(parents=True)
    (run_dir / tracking.TENSORBOARD_DIR).write_text("a file where the log folder goes")
    cfg = RunConfig(**{**base, "tracking": "mlflow,tensorboard",
                       "tracking_uri": f"http://127.0.0.1:{_closed_port()}"})
    config_file = tmp_path / "run.toml"
    config_file.write_text(to_toml(cfg), encoding="utf-8")
    with torch.random.fork_rng(devices=[]):
        code = cli.main(["train", "--config", str(config_file), "--run-dir", str(run_dir)])
    err = capsys.readouterr().err
    status = RunFolder(run_dir).read_status()
    assert code == 0 and status["state"] == "completed" and not status.get("damaged")
    warnings = status["warnings"]
    assert len(warnings) == 2, warnings
    assert warnings[0].startswith("tracking: mlflow is off for this run: ")
    assert warnings[1].startswith("tracking: tensorboard is off for this run: FileExistsError")
    for text in warnings:
        assert f"warning: {text}" in err
    assert "Traceback" not in err
    assert RunFolder(run_dir).read_report()["test"]["entities"]["per_type"]


@pytest.mark.slow
def test_a_backend_failing_mid_run_is_switched_off_and_the_run_completes(base, mlflow_uri,
                                                                        tmp_path, capsys):
    cfg = {**base, "tracking": "mlflow", "tracking_uri": mlflow_uri, "tracking_experiment": "mid"}
    run_dir = _new_run(tmp_path, cfg)
    client = MlflowClient(tracking_uri=mlflow_uri)
    folder = RunFolder(run_dir)

    def delete_the_mlflow_run_at_the_first_eval(info: dict) -> None:
        if info["event"] == "eval" and info["step"] == 3:  # as if someone deleted it in the UI
            client.delete_run(folder.read_status()["tracking"]["mlflow_run_id"])

    assert _train(run_dir, echo=delete_the_mlflow_run_at_the_first_eval) == "completed"
    status = folder.read_status()
    run_id = status["tracking"]["mlflow_run_id"]
    assert status["state"] == "completed"
    assert len(status["warnings"]) == 1
    assert status["warnings"][0].startswith("tracking: mlflow is off for the rest of this run: ")
    assert f"warning: {status['warnings'][0]}" in capsys.readouterr().err
    assert [s for s, _ in _history(client, run_id, "loss")] == [1, 2, 3]  # nothing after it
    assert "test_f1_PER" not in client.get_run(run_id).data.metrics


def test_a_missing_package_warns_and_tracks_nothing(base, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "mlflow", None)  # import mlflow raises ImportError
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)
    run_dir = _new_run(tmp_path, base)
    cfg = RunConfig(**{**base, "tracking": "tensorboard,mlflow"})
    tracker = tracking.Tracker.open(cfg, run_dir, tmp_path / "ws")
    assert not tracker
    tracker.event({"event": "log", "step": 1, "loss": 1.0, "lr": 0.1})
    tracker.finish(run_dir)
    tracker.close("completed")
    warnings = RunFolder(run_dir).read_status()["warnings"]
    assert [w.split(" is off")[0] for w in warnings] == ["tracking: tensorboard", "tracking: mlflow"]
    assert all(tracking.INSTALL_HINT in w for w in warnings)
    assert capsys.readouterr().err.count("warning: tracking: ") == 2
    assert not (run_dir / tracking.TENSORBOARD_DIR).exists()
    assert not (tmp_path / "ws" / tracking.MLFLOW_DB).exists()


@pytest.mark.slow
def test_no_tracking_configured_imports_neither_package_and_writes_nothing(base, tmp_path):
    run_dir = _new_run(tmp_path, base)
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    script = ("import sys; from engine import worker; state = worker.run(sys.argv[1]); "
              "print(state, sorted(m for m in sys.modules if m.split('.')[0] in "
              "('mlflow', 'tensorboard') or m == 'torch.utils.tensorboard'))")
    out = subprocess.run([sys.executable, "-c", script, str(run_dir)], cwd=cwd,
                         env=env_for(tmp_path / "ws"), capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1] == "completed []"
    assert list(cwd.iterdir()) == []  # no mlruns/ or mlflow.db where the worker ran
    assert not (tmp_path / "ws" / tracking.MLFLOW_DB).exists()
    assert not (run_dir / tracking.TENSORBOARD_DIR).exists()
    status = RunFolder(run_dir).read_status()
    assert "tracking" not in status and "warnings" not in status
    assert "warning" not in out.stderr


def test_wrong_typed_tracking_fields_in_status_json_are_repaired():
    status = checked_status({"state": "completed", "warnings": "mlflow is off",
                             "tracking": ["abc"], "step": 3})
    assert status["damaged"] is True and status["state"] == "completed"
    assert "warnings" not in status and "tracking" not in status and status["step"] == 3
    assert "tracking, warnings had the wrong type" in status["error"]
    fine = checked_status({"state": "completed", "warnings": ["w"], "tracking": {"x": "y"}})
    assert "damaged" not in fine and fine["warnings"] == ["w"]


def test_metric_names_and_params_are_made_safe():
    assert tracking.metric_key("test_f1_sci/tech (new)") == "test_f1_sci_tech _new_"
    assert tracking.metric_key("dev_f1_../x") == "dev_f1___x"
    assert tracking.metric_key("dev_f1_B-PER.v2") == "dev_f1_B-PER.v2"
    assert tracking.flat_params({"augment": [{"name": "eda.v1", "p": 0.5}], "dev": None,
                                 "lora_target_modules": ["query"], "name": "x"}) == {
        "augment.0.name": "eda.v1", "augment.0.p": "0.5", "dev": "null",
        "lora_target_modules": '["query"]', "name": "x"}
    assert tracking.default_mlflow_uri(Path("/w")) == "sqlite:////w/mlflow.db"
    assert tracking.sqlite_path("sqlite:////w/mlflow.db") == Path("/w/mlflow.db")
    assert tracking.sqlite_path("http://host:5000") is None


def test_the_runs_page_shows_a_runs_tracking_warnings(tmp_path, monkeypatch):
    from engine import queue
    from tests.pages.fakes import make_run, no_exception, page_test

    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "workspace"))
    monkeypatch.setattr(queue, "ensure_daemon", lambda store: 0)
    store = Store(tmp_path / "workspace")
    warned, quiet = make_run(store, name="warned"), make_run(store, name="quiet")
    message = "tracking: mlflow is off for this run: ConnectionError: refused"
    RunFolder(store.run_dir(warned)).update_status(warnings=[message])
    at = page_test("runs", run=warned)
    no_exception(at)
    assert any(message in w.value for w in at.warning)
    at = page_test("runs", run=quiet)
    no_exception(at)
    assert not any("tracking:" in w.value for w in at.warning)


def test_mlflow_environment_defaults_leave_a_users_settings_alone(monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "7")  # the user's choice
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "")  # restored after the test
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES")
    monkeypatch.setattr(tracking._MLflow, "_continued", lambda self, folder: "r1")
    cfg = RunConfig(tracking="mlflow", tracking_uri="http://127.0.0.1:1")
    tracking._MLflow(cfg, Path("run"), Path("ws"), {}, RunFolder("run"))  # no request made
    assert os.environ["MLFLOW_HTTP_REQUEST_TIMEOUT"] == "7"
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == tracking.MLFLOW_ENV_DEFAULTS[
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES"]
