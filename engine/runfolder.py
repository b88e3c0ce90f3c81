"""The run folder: the interface between the UI, the CLI and the worker. The one module that
knows its file names (docs/ARCHITECTURE.md lists every file and key).

    config.json        the run's RunConfig (core.config.config_to_dict), written at creation
    status.json        state, progress and summary; replaced atomically under a lock
    metrics.jsonl      one line per loop event (engine/events.py), append-only
    report.json        final scores (schema: core/report.py), written once at the end
    predictions.jsonl  one row per dev/test example (schema: core/report.py)
    worker.log         the worker's stdout/stderr, one progress line per event
    checkpoints/       step_N/ folders and best.safetensors (engine/checkpoint.py)
    model/             the trained model as a plain transformers folder (safetensors), with
                       its Hugging Face model card README.md (engine/modelcard.py)

status.json is replaced atomically (temp file + os.replace) so a reader never sees half a
file; metrics.jsonl is append-only and flushed per line, so a crash loses at most the line
being written; report.json and predictions.jsonl are written through temp files too.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; writers then rely on os.replace alone
    fcntl = None  # type: ignore[assignment]

STATES = ("queued", "running", "completed", "failed", "cancelled", "interrupted", "pruned")
FINAL_STATES = ("completed", "failed", "cancelled", "pruned")  # pruned: stopped by a sweep's pruner


def write_json_atomic(path: Path, obj: Any, *, durable: bool = True) -> None:
    """Write JSON to `path` through a temp file in the same folder and os.replace.

    durable=False skips the fsync: still atomic for readers and across a killed process,
    but a power cut may lose the newest version. status.json is rewritten at every log
    step, where an fsync (~5 ms on a plain disk) would slow fast training down.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=1, default=_jsonable)
            f.flush()
            if durable:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_json(path: Path, default: Any = None) -> Any:
    """Parsed JSON at `path`, or `default` when the file is missing or unreadable."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return default


class RunFolder:
    """One run's folder: a path for every file of the contract, and its readers and writers."""

    CONFIG = "config.json"
    STATUS = "status.json"
    METRICS = "metrics.jsonl"
    REPORT = "report.json"
    PREDICTIONS = "predictions.jsonl"
    LOG = "worker.log"
    CHECKPOINTS = "checkpoints"
    MODEL = "model"
    MODEL_CARD = "README.md"  # inside model/ (engine/modelcard.py writes it)
    _LOCK = ".status.lock"
    _WORKER_LOCK = ".worker.lock"  # held by the one process training this run

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"RunFolder({str(self.path)!r})"

    # ---- paths ------------------------------------------------------------------------
    @property
    def config_path(self) -> Path:
        return self.path / self.CONFIG

    @property
    def status_path(self) -> Path:
        return self.path / self.STATUS

    @property
    def metrics_path(self) -> Path:
        return self.path / self.METRICS

    @property
    def report_path(self) -> Path:
        return self.path / self.REPORT

    @property
    def predictions_path(self) -> Path:
        return self.path / self.PREDICTIONS

    @property
    def log_path(self) -> Path:
        return self.path / self.LOG

    @property
    def checkpoints_dir(self) -> Path:
        return self.path / self.CHECKPOINTS

    @property
    def model_dir(self) -> Path:
        return self.path / self.MODEL

    @property
    def model_card_path(self) -> Path:
        return self.model_dir / self.MODEL_CARD

    # ---- config.json ------------------------------------------------------------------
    def read_config(self) -> dict | None:
        """The run's config as written, or None when missing, unreadable or not an object."""
        raw = read_json(self.config_path)
        return raw if isinstance(raw, dict) else None

    def write_config(self, config: dict) -> None:
        write_json_atomic(self.config_path, config)

    @contextmanager
    def training(self) -> Iterator[bool]:
        """Yields True while this process holds the run's training lock, False when another
        process (a worker, a foreground `train`) is training it. Released by the OS when the
        process dies, so a kill leaves no stale lock."""
        if fcntl is None:
            yield True
            return
        self.path.mkdir(parents=True, exist_ok=True)
        with open(self.path / self._WORKER_LOCK, "a") as f:
            try:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                yield False
                return
            try:
                yield True
            finally:
                fcntl.flock(f.fileno(), fcntl.LOCK_UN)

    # ---- status.json ------------------------------------------------------------------
    def read_status(self) -> dict:
        """status.json as a dict ({} when missing). Content of the wrong shape (not JSON, not
        an object, a state that is not one of STATES, a non-number counter, tags that are not
        a table) comes back repaired: the bad fields dropped, the run `failed` with an error
        that says what was wrong, so it can be resumed or deleted and no reader breaks.

        Writers replace the file atomically, so a reader never sees half of one: a file that
        does not parse was damaged on disk, and reads as damaged, not as a missing status
        (which would let a run show its index's state as if nothing were wrong)."""
        try:
            data = self.status_path.read_bytes()
        except OSError:  # missing, or not a file
            return {}
        try:
            raw = json.loads(data)
        except ValueError:  # bad bytes, truncated, empty
            return _damaged("it is not JSON")
        if raw is None:  # no writer writes null (checked_status(None) means "no status")
            return _damaged("it holds a JSON null, not an object")
        return checked_status(raw)

    def update_status(self, **fields: Any) -> dict:
        """Merge `fields` into status.json (atomically) and stamp updated_at; returns it.

        The read-merge-write holds a lock on the run folder: the worker and the scheduler
        both update status.json, and without the lock one could write back a stale copy and
        erase the other's change (e.g. a final state).
        """
        if not self.path.is_dir():
            raise FileNotFoundError(f"run folder {self.path} does not exist")
        with _locked(self.path / self._LOCK):
            status = self.read_status()
            status.update(fields)
            status["updated_at"] = time.time()
            write_json_atomic(self.status_path, status, durable=False)
        return status

    # ---- metrics.jsonl ----------------------------------------------------------------
    def append_metrics(self, record: dict) -> None:
        """Append one JSON line to metrics.jsonl and flush it to disk."""
        with open(self.metrics_path, "a", encoding="utf-8") as f:
            f.write(json.dumps(record, default=_jsonable) + "\n")
            f.flush()

    def read_metrics(self) -> list[dict]:
        """Every complete line of metrics.jsonl (a torn last line is skipped)."""
        return list(iter_jsonl(self.metrics_path))

    def truncate_metrics(self, step: int) -> None:
        """Drop metrics lines past `step` (written after the checkpoint a resume starts from)."""
        if not self.metrics_path.exists():
            return
        kept = []
        for line in self.metrics_path.read_text(encoding="utf-8", errors="replace").splitlines():
            try:
                rec = json.loads(line)
            except ValueError:
                continue
            if isinstance(rec, dict) and isinstance(rec.get("step", 0), int) and rec.get("step", 0) <= step:
                kept.append(line)
        tmp = self.metrics_path.with_suffix(".tmp")
        tmp.write_text("".join(k + "\n" for k in kept), encoding="utf-8")
        os.replace(tmp, self.metrics_path)

    # ---- report.json and predictions.jsonl ----------------------------------------------
    def read_report(self) -> dict | None:
        """report.json, or None when missing, unreadable or not an object."""
        raw = read_json(self.report_path)
        return raw if isinstance(raw, dict) else None

    def write_report(self, report: dict) -> None:
        write_json_atomic(self.report_path, report)

    def write_predictions(self, rows: Iterable[dict]) -> None:
        """predictions.jsonl from `rows`, through a temp file: readers see all rows or the old file."""
        fd, tmp = tempfile.mkstemp(dir=self.path, prefix=f".{self.PREDICTIONS}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                for row in rows:
                    f.write(json.dumps(row, default=_jsonable) + "\n")
            os.replace(tmp, self.predictions_path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def read_predictions(self, split: str | None = None) -> list[dict]:
        rows = iter_jsonl(self.predictions_path)
        return [r for r in rows if split is None or r.get("split") == split]

    # ---- model/ and worker.log ------------------------------------------------------------
    def has_model(self) -> bool:
        """Whether model/ holds a saved model (its config.json is written last but one)."""
        return (self.model_dir / "config.json").is_file()

    def open_log(self):
        """worker.log opened for appending bytes (the scheduler points the worker's output here)."""
        return open(self.log_path, "ab")

    def log_tail(self, lines: int = 60, max_bytes: int = 64 * 1024) -> str:
        """The last `lines` lines of worker.log (within its last max_bytes); '' when none."""
        try:
            with open(self.log_path, "rb") as f:
                f.seek(0, 2)
                size = f.tell()
                f.seek(max(0, size - max_bytes))
                data = f.read()
        except OSError:
            return ""
        return "\n".join(data.decode("utf-8", errors="replace").splitlines()[-lines:])


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on `path` for the duration of the block (POSIX only)."""
    if fcntl is None:
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f.fileno(), fcntl.LOCK_UN)


def iter_jsonl(path: Path) -> Iterator[dict]:
    """The JSON objects on the lines of a JSON-lines file; torn lines, bad bytes and lines
    that are not objects skipped; nothing when missing."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    continue
                if isinstance(rec, dict):
                    yield rec
    except (FileNotFoundError, IsADirectoryError, PermissionError):
        return


_NUMBERS = ("step", "total_steps", "epoch", "loss", "pid", "created_at", "started_at",
            "finished_at", "updated_at")


def _damaged(what: str) -> dict:
    """The status of a run whose status.json could not be read at all."""
    return {"state": "failed", "damaged": True,
            "error": f"status.json is damaged: {what}; resume the run or delete it"}


def checked_status(raw: Any) -> dict:
    """A status dict whatever `raw` holds (see RunFolder.read_status); None or {}: none."""
    if raw is None or raw == {}:
        return {}
    if not isinstance(raw, dict):
        return _damaged(f"it holds a JSON {type(raw).__name__}, not an object")
    status, bad = dict(raw), []
    for key in _NUMBERS:
        value = status.get(key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            bad.append(key)
            status.pop(key)
    for key, kind in (("tags", dict), ("summary", dict), ("last_eval", dict), ("error", str),
                      ("tracking", dict), ("warnings", list)):  # the last two: engine/tracking.py
        if status.get(key) is not None and not isinstance(status[key], kind):
            bad.append(key)
            status.pop(key)
    if "state" in status and status["state"] not in STATES:
        bad.append("state")
        status["state"] = "failed"
    if bad:
        status["damaged"] = True
        status["state"] = "failed" if status.get("state") in (None, "running", "queued") else status["state"]
        status["error"] = (f"status.json is damaged: {', '.join(bad)} had the wrong type; "
                           "resume the run or delete it")
    return status


def _jsonable(obj: Any) -> Any:
    """JSON fallback for numpy scalars and arrays."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
