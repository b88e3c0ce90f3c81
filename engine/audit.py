"""The audit log: `$WORKBENCH_HOME/audit.jsonl`, one JSON object per line, append-only.

Each line says who (`user`, `role`), did what (`action`: launch, cancel, resume, delete run,
upload, delete dataset, sweep, curve, free space, settings), to what (`target`: run, dataset
or sweep ids), when (`time`, Unix seconds) and whether it was allowed (`ok`; a refused
attempt is logged too, with the reason in `error`). Lines are written whole with O_APPEND
under an exclusive lock and fsynced, so concurrent writers never interleave and a crash
loses at most the line being written; readers skip torn lines (runfolder.iter_jsonl).
Nothing here rewrites or deletes a line.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Iterable

from engine.runfolder import iter_jsonl

try:
    import fcntl
except ImportError:  # Windows: O_APPEND alone
    fcntl = None  # type: ignore[assignment]

LOG_FILE = "audit.jsonl"
FIELDS = ("time", "user", "role", "action", "target", "ok", "error", "detail")


def log_path(home: Path) -> Path:
    return Path(home) / LOG_FILE


def record(home: Path, user, action: str, target: str | Iterable[str] = "", *, ok: bool = True,
           error: str | None = None, **detail) -> dict:
    """Append one line for `user` (an engine.access.User) doing `action` on `target`."""
    targets = [target] if isinstance(target, str) else list(target)
    entry = {"time": time.time(), "user": user.label, "role": user.role, "action": action,
             "target": ", ".join(t for t in targets if t), "ok": ok}
    if error:
        entry["error"] = error
    if detail:
        entry["detail"] = detail
    line = (json.dumps(entry, ensure_ascii=False, default=str) + "\n").encode("utf-8")
    path = log_path(home)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o640)
    try:
        if fcntl is not None:
            fcntl.flock(fd, fcntl.LOCK_EX)
        end = os.lseek(fd, 0, os.SEEK_END)
        if end and os.pread(fd, 1, end - 1) != b"\n":
            line = b"\n" + line  # a line torn by a crash stays alone, the new one whole
        os.write(fd, line)
        os.fsync(fd)
    finally:
        os.close(fd)  # closing drops the lock
    return entry


def read(home: Path, *, limit: int | None = None, user: str | None = None,
         action: str | None = None) -> list[dict]:
    """The log's entries, newest first, optionally only `user`'s or only `action`s."""
    rows = [r for r in iter_jsonl(log_path(home))
            if (user is None or r.get("user") == user) and (action is None or r.get("action") == action)]
    rows.reverse()
    return rows if limit is None else rows[:limit]
