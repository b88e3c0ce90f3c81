"""SQLite store (WAL) indexing runs and datasets; run folders stay the source of truth."""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from core.errors import DataError, WorkbenchError
from engine.runfolder import FINAL_STATES, RunFolder

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, name TEXT, task TEXT, state TEXT NOT NULL,
  created_at REAL NOT NULL, num_devices INTEGER NOT NULL DEFAULT 1, resume INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS runs_state ON runs(state, created_at);
CREATE TABLE IF NOT EXISTS datasets (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, task TEXT NOT NULL, sha256 TEXT NOT NULL,
  created_at REAL NOT NULL, meta TEXT NOT NULL);
"""


ORIGINAL_PREFIX = "original-"  # the uploaded file, stored beside the canonical splits


class NotFound(WorkbenchError, KeyError):
    """A run or dataset id that the store does not hold."""

    def __str__(self) -> str:
        return str(self.args[0])


def sanitise(name: str, default: str = "data") -> str:
    """A safe file/folder stem: letters, digits, '-', '_', '.'; no path parts, at most 60 chars."""
    stem = Path(name.replace("\\", "/")).name
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-_")[:60]
    return stem or default


def safe_id(ident: str) -> str:
    """`ident` itself when it is a safe folder name (any length), else its sanitised form.

    Ids the store made are safe and pass unchanged; anything else cannot leave the folder.
    """
    if re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9._-]*", ident) and len(ident) <= 200:
        return ident
    return sanitise(ident)


class Store:
    """Runs under root/runs/<id>/, datasets under root/data/<id>/, index in root/workbench.db.

    The layout is this class's: other modules ask it (run_dir, containing), never rebuild it.
    """

    RUNS, DATA, INDEX = "runs", "data", "workbench.db"

    def __init__(self, root: Path):
        self.root = Path(root)
        self.runs_dir = self.root / self.RUNS
        self.data_dir = self.root / self.DATA
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / self.INDEX
        self._local = threading.local()  # one sqlite connection per thread
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A transaction on this thread's connection (committed on success, rolled back on error).

        The connection stays open: closing the last connection to a WAL database checkpoints
        and deletes the WAL file, which cost ~15 ms (two fsyncs) per query when each query
        had its own connection.
        """
        db = getattr(self._local, "db", None)
        if db is None:
            db = sqlite3.connect(self.db_path, timeout=30)
            db.row_factory = sqlite3.Row
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
            # NORMAL is safe in WAL mode (no corruption; a power cut may drop the last
            # commit) and saves an fsync per commit
            db.execute("PRAGMA synchronous=NORMAL")
            self._local.db = db
        with db:
            yield db

    def close(self) -> None:
        """Close this thread's database connection (others close when garbage collected)."""
        db = getattr(self._local, "db", None)
        if db is not None:
            db.close()
            self._local.db = None

    @classmethod
    def containing(cls, run_dir: Path) -> "Store | None":
        """The store whose runs/ holds `run_dir`, or None for a folder outside any store
        (`train --run-dir`); never creates a store."""
        run_dir = Path(run_dir).resolve()
        root = run_dir.parent.parent
        if run_dir.parent.name != cls.RUNS or not (root / cls.INDEX).is_file():
            return None
        return cls(root)

    # ---- runs -------------------------------------------------------------------------
    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / safe_id(run_id)

    def create_run(self, config: dict, *, state: str = "queued", tags: dict | None = None,
                   **status) -> str:
        """A new run folder with config.json and status.json (plus `status` fields), indexed;
        returns its id. `tags` (status.json "tags") say which sweep, curve or seed group the
        run belongs to, e.g. {"sweep": "lr-search", "trial": 3}."""
        if tags:
            status["tags"] = dict(tags)
        name = sanitise(config.get("name") or config.get("task", "run"), "run")
        stamp = time.strftime("%Y%m%d-%H%M%S")
        for _ in range(100):  # ids made in the same second differ by their random suffix
            run_id = f"{stamp}-{name[:24]}-{secrets.token_hex(3)}"
            run_dir = self.run_dir(run_id)
            try:
                run_dir.mkdir(parents=True)
                break
            except FileExistsError:
                continue
        else:
            raise WorkbenchError(f"could not create a new run folder under {self.runs_dir}")
        created = time.time()
        folder = RunFolder(run_dir)
        folder.write_config(config)
        folder.update_status(**{"state": state, "step": 0, "total_steps": None,
                                "created_at": created, **status})
        with self._db() as db:
            db.execute("INSERT INTO runs(id, name, task, state, created_at, num_devices) VALUES(?,?,?,?,?,?)",
                       (run_id, config.get("name") or "", config.get("task", "ner"), state, created,
                        int(config.get("num_devices", 1) or 1)))
        return run_id

    def set_state(self, run_id: str, state: str, *, resume: bool | None = None, **fields) -> None:
        """Record a state change in both status.json and the index."""
        with self._db() as db:
            found = db.execute("UPDATE runs SET state=? WHERE id=?", (state, run_id)).rowcount
            if resume is not None:
                db.execute("UPDATE runs SET resume=? WHERE id=?", (int(resume), run_id))
        if not found:  # never write a status.json (and so a folder) for an unknown id
            raise NotFound(f"no run {run_id!r} in {self.root}")
        RunFolder(self.run_dir(run_id)).update_status(state=state, **fields)

    def claim(self, run_id: str, state: str, new_state: str) -> bool:
        """Move the run from `state` to `new_state` in the index only if it is in `state` now.

        Atomic across processes: of two schedulers (or a scheduler and a cancel) racing for
        one queued run, exactly one wins.
        """
        with self._db() as db:
            return db.execute("UPDATE runs SET state=? WHERE id=? AND state=?",
                              (new_state, run_id, state)).rowcount == 1

    def sync_state(self, run_id: str) -> str:
        """Copy the state in status.json (written by the worker) into the index."""
        state = RunFolder(self.run_dir(run_id)).read_status().get("state", "failed")
        with self._db() as db:
            db.execute("UPDATE runs SET state=? WHERE id=?", (state, run_id))
        return state

    def get_run(self, run_id: str) -> dict:
        with self._db() as db:
            row = db.execute("SELECT * FROM runs WHERE id=?", (run_id,)).fetchone()
        if row is None:
            raise NotFound(f"no run {run_id!r} in {self.root}")
        return self._merge(dict(row))

    def list_runs(self, *, states: tuple[str, ...] | None = None, limit: int | None = None) -> list[dict]:
        """Runs, newest first, each merged with its status.json.

        `states` filters on the merged state: status.json is the source of truth, and the
        index may still say running for a run whose worker has just written its end.
        """
        sql, args = "SELECT * FROM runs", []
        if states:
            wanted = sorted(set(states) | {"queued", "running"})
            sql += f" WHERE state IN ({','.join('?' * len(wanted))})"
            args += wanted
        sql += " ORDER BY created_at DESC, rowid DESC"
        if limit and not states:
            sql += f" LIMIT {int(limit)}"
        with self._db() as db:
            rows = [dict(r) for r in db.execute(sql, args)]
        merged = [self._merge(r) for r in rows]
        if states:
            merged = [r for r in merged if r["state"] in states][: limit or None]
        return merged

    def indexed_runs(self, state: str) -> list[dict]:
        """Runs whose index row says `state` (merged with status.json, not filtered by it):
        for the scheduler, which must also see runs the index has not caught up with."""
        with self._db() as db:
            rows = [dict(r) for r in db.execute(
                "SELECT * FROM runs WHERE state=? ORDER BY created_at DESC, rowid DESC", (state,))]
        return [self._merge(r) for r in rows]

    def tagged(self, key: str, value: Any = None) -> list[dict]:
        """Runs (oldest first) whose tags hold `key` (equal to `value` unless it is None)."""
        out = []
        for run in reversed(self.list_runs()):
            tags = run["status"].get("tags")
            if isinstance(tags, dict) and key in tags and (value is None or tags[key] == value):
                out.append(run)
        return out

    def queued(self) -> list[dict]:
        """Queued runs in submission order (oldest first)."""
        with self._db() as db:
            rows = [dict(r) for r in db.execute("SELECT * FROM runs WHERE state='queued' ORDER BY created_at, rowid")]
        return rows

    def _merge(self, row: dict) -> dict:
        status = RunFolder(self.run_dir(row["id"])).read_status()
        row["status"] = status
        row["state"] = status.get("state", row["state"])
        row["dir"] = str(self.run_dir(row["id"]))
        return row

    def delete_run(self, run_id: str) -> None:
        """Delete a run that is not running or queued (its folder and index row)."""
        run = self.get_run(run_id)
        if run["state"] in ("running", "queued"):
            raise WorkbenchError(f"run {run_id} is {run['state']}: cancel it before deleting")
        shutil.rmtree(self.run_dir(run_id), ignore_errors=True)
        with self._db() as db:
            db.execute("DELETE FROM runs WHERE id=?", (run_id,))

    def config(self, run_id: str) -> dict:
        return RunFolder(self.run_dir(run_id)).read_config() or {}

    # ---- datasets ---------------------------------------------------------------------
    def add_dataset(self, name: str, task: str, splits: dict[str, list], *,
                    original: bytes | None = None, original_name: str | None = None,
                    meta: dict | None = None) -> str:
        """Store splits as canonical JSONL under data/<name>-<hash8>/; returns the dataset id.

        The same content under the same name is stored once (the id is content-addressed).
        """
        from core.formats import write_jsonl

        texts = {split: write_jsonl(records) for split, records in splits.items() if records}
        if not texts.get("train"):
            raise DataError("a dataset needs a non-empty train split", source=name)
        digest = hashlib.sha256()
        for split in sorted(texts):
            digest.update(split.encode() + b"\0" + texts[split].encode("utf-8"))
        sha = digest.hexdigest()
        ds_id = f"{sanitise(name)[:51].rstrip('.-_') or 'data'}-{sha[:8]}"  # at most 60 chars
        folder = self.data_dir / ds_id
        if not folder.exists():
            tmp = self.data_dir / f".tmp-{ds_id}-{secrets.token_hex(3)}"
            tmp.mkdir(parents=True)
            for split, text in texts.items():
                (tmp / f"{split}.jsonl").write_text(text, encoding="utf-8")
            if original is not None:
                (tmp / f"{ORIGINAL_PREFIX}{sanitise(original_name or 'upload')}").write_bytes(original)
            try:
                tmp.rename(folder)
            except OSError:  # stored meanwhile by another process: same content, keep theirs
                shutil.rmtree(tmp, ignore_errors=True)
                if not folder.is_dir():
                    raise
        info = {"splits": {k: len(v) for k, v in splits.items() if v}, **(meta or {})}
        with self._db() as db:
            db.execute("INSERT OR REPLACE INTO datasets(id, name, task, sha256, created_at, meta) VALUES(?,?,?,?,?,?)",
                       (ds_id, name, task, sha, time.time(), json.dumps(info)))
        return ds_id

    def list_datasets(self) -> list[dict]:
        with self._db() as db:
            rows = [dict(r) for r in db.execute("SELECT * FROM datasets ORDER BY created_at DESC")]
        for r in rows:
            r["meta"] = json.loads(r["meta"])
        return rows

    def load_dataset(self, ds_id: str) -> dict[str, list]:
        """The stored splits of dataset `ds_id`."""
        from core.formats import read_jsonl

        folder = self.data_dir / safe_id(ds_id)
        with self._db() as db:
            row = db.execute("SELECT task FROM datasets WHERE id=?", (ds_id,)).fetchone()
        if row is None or not folder.is_dir():
            raise NotFound(f"no dataset {ds_id!r} in {self.data_dir}")
        task = "ner" if row["task"] == "ner" else "classification"
        # only the split files: an uploaded original named *.jsonl is kept beside them
        return {p.stem: read_jsonl(p.read_bytes(), source=str(p), task=task)
                for p in sorted(folder.glob("*.jsonl")) if not p.name.startswith(ORIGINAL_PREFIX)}

    def delete_dataset(self, ds_id: str) -> None:
        shutil.rmtree(self.data_dir / safe_id(ds_id), ignore_errors=True)
        with self._db() as db:
            db.execute("DELETE FROM datasets WHERE id=?", (ds_id,))


def is_final(state: str) -> bool:
    return state in FINAL_STATES
