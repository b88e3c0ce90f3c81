"""The run folder: the interface between the UI and the worker (see DESIGN.md).

status.json is replaced atomically (temp file + os.replace) so a reader never sees half a
file; metrics.jsonl is append-only and flushed per line, so a crash loses at most the line
being written.
"""
from __future__ import annotations

import json
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; writers then rely on os.replace alone
    fcntl = None  # type: ignore[assignment]

STATES = ("queued", "running", "completed", "failed", "cancelled", "interrupted")
FINAL_STATES = ("completed", "failed", "cancelled")


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


def read_status(run_dir: Path) -> dict:
    return read_json(Path(run_dir) / "status.json", default={}) or {}


def update_status(run_dir: Path, **fields: Any) -> dict:
    """Merge `fields` into status.json (atomically) and stamp updated_at; returns the new status.

    The read-merge-write holds a lock on the run folder: the worker and the scheduler both
    update status.json, and without the lock one could write back a stale copy and erase
    the other's change (e.g. a final state).
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"run folder {run_dir} does not exist")
    with _locked(run_dir / ".status.lock"):
        status = read_status(run_dir)
        status.update(fields)
        status["updated_at"] = time.time()
        write_json_atomic(run_dir / "status.json", status, durable=False)
    return status


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


def append_metrics(run_dir: Path, record: dict) -> None:
    """Append one JSON line to metrics.jsonl and flush it to disk."""
    with open(Path(run_dir) / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write(json.dumps(record, default=_jsonable) + "\n")
        f.flush()


def read_metrics(run_dir: Path) -> list[dict]:
    """Every complete line of metrics.jsonl (a torn last line is skipped)."""
    return list(iter_jsonl(Path(run_dir) / "metrics.jsonl"))


def iter_jsonl(path: Path) -> Iterator[dict]:
    try:
        with open(path, encoding="utf-8") as f:
            for line in f:
                try:
                    yield json.loads(line)
                except ValueError:
                    continue
    except FileNotFoundError:
        return


def _jsonable(obj: Any) -> Any:
    """JSON fallback for numpy scalars and arrays."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if hasattr(obj, "item"):
        return obj.item()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")
