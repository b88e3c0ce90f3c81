"""Experiment tracking (opt-in): a copy of each run in MLflow and/or TensorBoard, as the run
config's `tracking` names them ("mlflow", "tensorboard"; core.config.trackers).

    tracker = Tracker.open(cfg, run_dir, workspace)   the configured backends (none: a no-op)
    tracker.event(info)                               each loop event (engine/events.py)
    tracker.finish(run_dir)                           once a run completed: report.json, model/
    tracker.close(state)                              always (the worker's finally)

What is logged, under the same names in both backends:
    params      the whole RunConfig (core.config.config_to_dict), flattened (augment.0.name),
                non-strings as JSON, cut to MLflow's length limit; tags: the run id, folder,
                task, the status.json tags (sweep, trial, group) and the `start` facts
                (device, examples, steps); TensorBoard gets them as a text table
    per step    `log`: loss, lr, grad_norm, tokens_per_s, epoch; `eval`: <split>_f1_micro,
                <split>_f1_macro, <split>_f1_<TYPE> (NER) or <split>_accuracy, ... (the split
                headline, core.report.headline); MLflow gets the `log` numbers in batches, sent
                at every other event and at least every MLFLOW_FLUSH_S seconds
    at the end  report.json through core.report's readers, at the last step: <split>_f1_micro,
                <split>_precision_macro, ..., <split>_f1_<TYPE>, <split>_accuracy, train_time_s
                (dev: the best checkpoint's scores, the model model/ holds); MLflow also gets
                model/ and report.json as artifacts, TensorBoard a text summary

Where: MLflow at `tracking_uri`, by default `sqlite:///<workspace>/mlflow.db` with artifacts
in `<workspace>/mlartifacts/` (a sqlite: store keeps its artifacts beside the database),
under the experiment `tracking_experiment`; TensorBoard in `<run folder>/tensorboard/`, so
`tensorboard --logdir <workspace>/runs` shows every run. status.json `tracking` keeps the
MLflow run id: a resumed run continues the same MLflow run (steps trained again after the
checkpoint get a second point there), and TensorBoard purges the events past the checkpoint.

Tracking never fails a run: a backend that raises (package missing, bad URI, unwritable
folder, server down) is switched off for the rest of the run with one `warning:` line on
stderr (worker.log) and the same text in status.json `warnings`, which the Runs page shows.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Iterable

from engine.runfolder import RunFolder

TENSORBOARD_DIR = "tensorboard"  # inside the run folder
MLFLOW_DB = "mlflow.db"  # the default store, in the workspace
MLFLOW_ARTIFACTS = "mlartifacts"  # beside a sqlite: store's database
MAX_WARNINGS = 20  # status.json keeps the newest ones
INSTALL_HINT = "pip install -r requirements-tracking.txt"
# A tracking server that does not answer must not hold training up for minutes (MLflow's
# defaults: 7 retries, 120 s each); set these in the environment to choose otherwise.
MLFLOW_ENV_DEFAULTS = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
                       "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
                       "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
                       "MLFLOW_DISABLE_TELEMETRY": "true"}
MLFLOW_FLUSH_S = 5.0  # log-step metrics go to MLflow in batches at most this far apart
_STATUS = {"completed": "FINISHED", "cancelled": "KILLED"}  # anything else: FAILED


class Tracker:
    """The backends of one run, each switched off at its first error (see the module doc)."""

    def __init__(self, folder: RunFolder, backends: Iterable[Any] = ()):
        self.folder = folder
        self.backends = list(backends)
        self.step = 0
        self.finished = False

    @classmethod
    def open(cls, cfg, run_dir: Path, workspace: Path) -> "Tracker":
        """The backends `cfg.tracking` names, each started (an MLflow run created or, for a
        resumed run, continued); one that cannot start is left out with a warning. Imports
        nothing when none is configured."""
        from core.config import config_to_dict, trackers

        folder = RunFolder(run_dir)
        tracker = cls(folder)
        names = trackers(cfg)
        if not names:
            return tracker
        params = flat_params(config_to_dict(cfg))
        makers = {"mlflow": _MLflow, "tensorboard": _TensorBoard}
        for name in names:
            maker = makers.get(name)
            if maker is None:  # validate() refuses it; a config.json edited by hand
                _warn(folder, f"tracking: unknown tracker {name!r}; known: {', '.join(makers)}")
                continue
            try:
                tracker.backends.append(maker(cfg, Path(run_dir), Path(workspace), params, folder))
            except ImportError as exc:
                _warn(folder, f"tracking: {name} is off for this run: it could not be imported "
                              f"({exc}); {INSTALL_HINT}")
            except Exception as exc:  # noqa: BLE001 - tracking never fails a run
                _warn(folder, f"tracking: {name} is off for this run: {_reason(exc)}")
        return tracker

    def __bool__(self) -> bool:
        return bool(self.backends)

    def event(self, info: dict) -> None:
        """Hand one loop event to every backend still on."""
        if isinstance(info.get("step"), int):
            self.step = info["step"]
        self._each("event", info)

    def finish(self, run_dir: Path) -> None:
        """After a completed run: its final scores (report.json) and its model (model/)."""
        self.finished = True
        if not self.backends:
            return
        folder = RunFolder(run_dir)
        report = folder.read_report() or {}
        steps = report.get("steps")
        step = steps if isinstance(steps, int) and not isinstance(steps, bool) else self.step
        final = report_metrics(report)
        model_dir = folder.model_dir if folder.has_model() else None
        report_path = folder.report_path if folder.report_path.is_file() else None
        self._each("finish", final, step, model_dir, report_path)

    def close(self, state: str) -> None:
        """End the tracked run: MLflow FINISHED (completed and finished), KILLED (cancelled)
        or FAILED; TensorBoard's files flushed. Never raises."""
        if state == "completed" and not self.finished:
            state = "failed"  # the loop did not get to the end
        self._each("close", state)
        self.backends = []

    def _each(self, method: str, *args: Any) -> None:
        for backend in list(self.backends):
            try:
                getattr(backend, method)(*args)
            except Exception as exc:  # noqa: BLE001 - tracking never fails a run
                self.backends.remove(backend)
                _warn(self.folder, f"tracking: {backend.name} is off for the rest of this run: "
                                   f"{_reason(exc)}")
                try:
                    backend.abandon()
                except Exception:  # noqa: BLE001 - it is off already
                    pass


# ---- what gets logged --------------------------------------------------------------------

def flat_params(config: dict) -> dict[str, str]:
    """A config dict as flat string params: nested tables as dotted keys (augment.0.name),
    strings as they are, every other value as JSON (null, true, 5e-05, ["query", "value"])."""
    out: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict) and value:
            for key, inner in value.items():
                walk(f"{prefix}.{key}", inner)
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for i, inner in enumerate(value):
                walk(f"{prefix}.{i}", inner)
        else:
            out[prefix] = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

    for key, value in config.items():
        walk(key, value)
    return out


def event_metrics(info: dict) -> dict[str, float]:
    """The numbers a loop event adds to the run's curves (module doc: "per step")."""
    if info.get("event") == "log":
        return _numbers({k: info.get(k) for k in ("loss", "lr", "grad_norm", "tokens_per_s",
                                                  "epoch")})
    if info.get("event") == "eval":
        split = info.get("split") or "dev"
        found = {f"{split}_{k}": info.get(k) for k in ("f1_micro", "f1_macro", "accuracy")}
        for name, f1 in (info.get("per_type_f1") or {}).items():
            found[f"{split}_f1_{name}"] = f1
        found.setdefault(f"{split}_{info.get('metric')}", info.get("value"))
        return _numbers(found)
    return {}


def report_metrics(report: dict) -> dict[str, float]:
    """The final scores of report.json (module doc: "at the end"), through core.report."""
    from core.report import SPLITS, accuracy_of, scores_of

    if not isinstance(report, dict):
        return {}
    found: dict[str, Any] = {"train_time_s": report.get("train_time_s"),
                             "best_step": report.get("best_step")}
    for split in SPLITS:
        table = scores_of(report.get(split))
        if not table:
            continue
        try:
            found[f"{split}_accuracy"] = accuracy_of(table)
        except (TypeError, ValueError):
            pass
        found[f"{split}_hamming_loss"] = table.get("hamming_loss")
        rows = [(avg, table.get(avg)) for avg in ("micro", "macro", "weighted")]
        per_type = table.get("per_type")
        rows += list(per_type.items()) if isinstance(per_type, dict) else []
        for name, row in rows:
            if isinstance(row, dict):
                for stat in ("precision", "recall", "f1"):
                    found[f"{split}_{stat}_{name}"] = row.get(stat)
    return _numbers(found)


def _numbers(values: dict[str, Any]) -> dict[str, float]:
    """The entries that are numbers (not bools, not None), as floats under safe names."""
    return {metric_key(k): float(v) for k, v in values.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)}


def metric_key(name: str) -> str:
    """A name both backends take: letters, digits, _ - . and spaces; others become _."""
    key = re.sub(r"[^\w.\- ]", "_", str(name)).replace("..", "_").strip(". ")
    return (key or "_")[:250]


def default_mlflow_uri(workspace: Path) -> str:
    """The MLflow store used when tracking_uri is empty: the workspace's mlflow.db."""
    return f"sqlite:///{Path(workspace).resolve() / MLFLOW_DB}"


def sqlite_path(uri: str) -> Path | None:
    """The database file of a sqlite: URI (sqlite:////abs/path, sqlite:///relative); else None."""
    if not uri.startswith("sqlite:///"):
        return None
    path = uri[len("sqlite:///"):].split("?", 1)[0]
    return Path(path) if path and path != ":memory:" else None


def _markdown(rows: dict[str, Any], head: tuple[str, str]) -> str:
    def cell(text: Any) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    lines = [f"| {head[0]} | {head[1]} |", "|---|---|"]
    return "\n".join(lines + [f"| {cell(k)} | {cell(v)} |" for k, v in rows.items()])


# ---- the backends ------------------------------------------------------------------------

class _MLflow:
    """One MLflow run through MlflowClient (no global active run)."""

    name = "mlflow"

    def __init__(self, cfg, run_dir: Path, workspace: Path, params: dict, folder: RunFolder):
        for key, value in MLFLOW_ENV_DEFAULTS.items():
            os.environ.setdefault(key, value)
        from mlflow import MlflowClient
        from mlflow.entities import Metric, Param, RunTag
        from mlflow.utils import validation

        self._metric, self._param, self._tag = Metric, Param, RunTag
        self._max_param = getattr(validation, "MAX_PARAM_VAL_LENGTH", 500)
        self._max_tag = getattr(validation, "MAX_TAG_VAL_LENGTH", 5000)
        self._pending: list = []  # metrics not sent yet (see _log)
        self._flushed_at = time.monotonic()
        self.uri = cfg.tracking_uri.strip() or default_mlflow_uri(workspace)
        db = sqlite_path(self.uri)
        if db is not None:
            db.parent.mkdir(parents=True, exist_ok=True)
        self.client = MlflowClient(tracking_uri=self.uri)
        self.run_id = self._continued(folder)
        if self.run_id is None:
            try:
                experiment = self._experiment(cfg.tracking_experiment.strip(), db)
            except Exception:  # noqa: BLE001 - a fresh store created by two workers at once
                time.sleep(1.0)
                experiment = self._experiment(cfg.tracking_experiment.strip(), db)
            status = folder.read_status()
            tags = {"workbench.run_id": run_dir.name, "workbench.run_dir": str(run_dir.resolve()),
                    "workbench.task": cfg.task}
            for key, value in (status.get("tags") or {}).items():
                tags[f"workbench.tag.{key}"] = value if isinstance(value, str) else json.dumps(value)
            run = self.client.create_run(experiment,
                                         run_name=self._cut(cfg.name or run_dir.name, 250),
                                         tags={k: self._cut(v, self._max_tag) for k, v in tags.items()})
            self.run_id = run.info.run_id
            items = [self._param(metric_key(k), self._cut(v, self._max_param))
                     for k, v in params.items()]
            for i in range(0, len(items), 100):  # MLflow takes 100 params per batch
                self.client.log_batch(self.run_id, params=items[i:i + 100])
            _record(folder, mlflow_run_id=self.run_id, mlflow_experiment_id=experiment)

    def _continued(self, folder: RunFolder) -> str | None:
        """The MLflow run of an earlier attempt (status.json tracking.mlflow_run_id), set
        running again; None when there is none or the store no longer has it."""
        earlier = (folder.read_status().get("tracking") or {}).get("mlflow_run_id")
        if not isinstance(earlier, str) or not earlier:
            return None
        try:
            run = self.client.get_run(earlier)
        except Exception:  # noqa: BLE001 - gone (another store, deleted): start a new run
            return None
        if run.info.lifecycle_stage == "deleted":
            return None
        self.client.update_run(earlier, status="RUNNING")
        return earlier

    def _experiment(self, name: str, db: Path | None) -> str:
        found = self.client.get_experiment_by_name(name)
        if found is None:
            where = (db.resolve().parent / MLFLOW_ARTIFACTS).as_uri() if db is not None else None
            try:
                return self.client.create_experiment(name, artifact_location=where)
            except Exception:  # noqa: BLE001 - another worker created it meanwhile
                found = self.client.get_experiment_by_name(name)
                if found is None:
                    raise
        if found.lifecycle_stage == "deleted":
            raise RuntimeError(f"the MLflow experiment {name!r} is deleted; restore it "
                               "(mlflow experiments restore) or set another tracking_experiment")
        return found.experiment_id

    @staticmethod
    def _cut(text: str, limit: int) -> str:
        return text if len(text) <= limit else text[:limit - 3] + "..."

    def _log(self, values: dict[str, float], step: int, when: float | None = None, *,
             flush: bool = True) -> None:
        """Queue `values` at `step`; send the queue when `flush` or MLFLOW_FLUSH_S have
        passed (one request per log line would cost ~20 ms each on a sqlite store)."""
        stamp = int(1000 * (when or time.time()))
        self._pending += [self._metric(k, v, stamp, step) for k, v in values.items()]
        if flush or time.monotonic() - self._flushed_at >= MLFLOW_FLUSH_S:
            self._flush()

    def _flush(self) -> None:
        items, self._pending = self._pending, []
        self._flushed_at = time.monotonic()
        for i in range(0, len(items), 1000):  # MLflow takes 1000 metrics per batch
            self.client.log_batch(self.run_id, metrics=items[i:i + 1000])

    def event(self, info: dict) -> None:
        event = info.get("event")
        if event == "start":
            facts = {k: info.get(k) for k in ("device", "precision", "total_steps", "epochs",
                                              "train_examples", "dev_examples", "test_examples",
                                              "trainable_params")}
            tags = [self._tag(f"workbench.{k}", self._cut(str(v), self._max_tag))
                    for k, v in facts.items() if v is not None]
            if info.get("labels"):
                tags.append(self._tag("workbench.labels",
                                      self._cut(", ".join(map(str, info["labels"])), self._max_tag)))
            self.client.log_batch(self.run_id, tags=tags)
        elif event == "resume":
            self.client.set_tag(self.run_id, "workbench.resumed_from_step", str(info.get("step")))
        elif values := event_metrics(info):
            self._log(values, int(info.get("step") or 0), info.get("time"),
                      flush=event != "log")

    def finish(self, final: dict, step: int, model_dir: Path | None,
               report_path: Path | None) -> None:
        if final:
            self._log(final, step)
        if report_path is not None:
            self.client.log_artifact(self.run_id, str(report_path))
        if model_dir is not None:
            self.client.log_artifacts(self.run_id, str(model_dir), artifact_path="model")

    def close(self, state: str) -> None:
        self._flush()
        self.client.set_tag(self.run_id, "workbench.state", state)
        self.client.set_terminated(self.run_id, status=_STATUS.get(state, "FAILED"))

    def abandon(self) -> None:
        """Switched off after an error: try once to mark the run failed (may fail too)."""
        if getattr(self, "run_id", None):
            self.client.set_terminated(self.run_id, status="FAILED")


class _TensorBoard:
    """Scalars and text in <run folder>/tensorboard/ (torch's SummaryWriter). The writer
    opens at the first event, so a resumed run can purge what lies past its checkpoint."""

    name = "tensorboard"

    def __init__(self, cfg, run_dir: Path, workspace: Path, params: dict, folder: RunFolder):
        from torch.utils.tensorboard import SummaryWriter  # needs the tensorboard package

        self._writer_class = SummaryWriter
        self.log_dir = Path(run_dir) / TENSORBOARD_DIR
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if not os.access(self.log_dir, os.W_OK):
            raise PermissionError(f"cannot write to {self.log_dir}")
        self.params = params
        self.writer = None
        _record(folder, tensorboard_dir=str(self.log_dir))

    def _open(self, info: dict) -> None:
        purge = None
        if info.get("event") == "resume":  # drop the events the lost steps wrote
            purge = info.get("step", 0) + 1 if info.get("checkpoint") else 0
        self.writer = self._writer_class(log_dir=str(self.log_dir), purge_step=purge,
                                         flush_secs=10)
        if not purge:  # a fresh start (a resume from a checkpoint has the table already)
            self.writer.add_text("config", _markdown(self.params, ("key", "value")), 0)

    def event(self, info: dict) -> None:
        if self.writer is None:
            self._open(info)
        step = int(info.get("step") or 0)
        for key, value in event_metrics(info).items():
            self.writer.add_scalar(key, value, step, walltime=info.get("time"))

    def finish(self, final: dict, step: int, model_dir: Path | None,
               report_path: Path | None) -> None:
        if self.writer is None:
            self._open({})
        for key, value in final.items():
            self.writer.add_scalar(key, value, step)
        rows = {k: f"{v:.4f}" for k, v in final.items()}
        self.writer.add_text("report", _markdown(rows, ("score", "value")), step)
        self.writer.flush()

    def close(self, state: str) -> None:
        if self.writer is not None:
            self.writer.close()

    def abandon(self) -> None:
        self.close("failed")


# ---- status.json ---------------------------------------------------------------------------

def _reason(exc: BaseException) -> str:
    """One line naming what went wrong, short enough for a table cell."""
    text = " ".join(str(exc).split()) or "no message"
    text = f"{type(exc).__name__}: {text}"
    return text if len(text) <= 300 else text[:297] + "..."


def _warn(folder: RunFolder, message: str) -> None:
    """A tracking problem: a `warning:` line on stderr (worker.log) and status.json warnings."""
    print(f"warning: {message}", file=sys.stderr, flush=True)
    try:
        old = [w for w in folder.read_status().get("warnings") or [] if isinstance(w, str)]
        if message not in old:
            folder.update_status(warnings=(old + [message])[-MAX_WARNINGS:])
    except Exception as exc:  # noqa: BLE001 - the line above said it already
        print(f"note: warning not saved to status.json ({exc})", file=sys.stderr, flush=True)


def _record(folder: RunFolder, **fields: Any) -> None:
    """Merge `fields` into status.json `tracking` (the MLflow run id, the TensorBoard dir)."""
    old = folder.read_status().get("tracking") or {}
    folder.update_status(tracking={**old, **fields})
