"""SQLite store (WAL) indexing runs and datasets; run folders stay the source of truth."""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import shutil
import sqlite3
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from core.errors import DataError, WorkbenchError
from engine.runfolder import FINAL_STATES, read_json, read_status, update_status, write_json_atomic

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
  id TEXT PRIMARY KEY, name TEXT, task TEXT, state TEXT NOT NULL,
  created_at REAL NOT NULL, num_devices INTEGER NOT NULL DEFAULT 1, resume INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS runs_state ON runs(state, created_at);
CREATE TABLE IF NOT EXISTS datasets (
  id TEXT PRIMARY KEY, name TEXT NOT NULL, task TEXT NOT NULL, sha256 TEXT NOT NULL,
  created_at REAL NOT NULL, meta TEXT NOT NULL);
"""


class NotFound(WorkbenchError, KeyError):
    """A run or dataset id that the store does not hold."""

    def __str__(self) -> str:
        return str(self.args[0])


def sanitise(name: str, default: str = "data") -> str:
    """A safe file/folder stem: letters, digits, '-', '_', '.'; no path parts, at most 60 chars."""
    stem = Path(name.replace("\\", "/")).name
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", stem).strip(".-_")[:60]
    return stem or default


class Store:
    """Runs under root/runs/<id>/, datasets under root/data/<id>/, index in root/workbench.db."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.runs_dir = self.root / "runs"
        self.data_dir = self.root / "data"
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / "workbench.db"
        with self._db() as db:
            db.executescript(SCHEMA)

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.db_path, timeout=30)
        db.row_factory = sqlite3.Row
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA busy_timeout=30000")
        try:
            with db:
                yield db
        finally:
            db.close()

    # ---- runs -------------------------------------------------------------------------
    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / sanitise(run_id)

    def create_run(self, config: dict, *, state: str = "queued") -> str:
        """A new run folder with config.json and status.json, indexed; returns its id."""
        name = sanitise(config.get("name") or config.get("task", "run"), "run")
        run_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{name[:24]}-{secrets.token_hex(2)}"
        run_dir = self.run_dir(run_id)
        run_dir.mkdir(parents=True)
        write_json_atomic(run_dir / "config.json", config)
        update_status(run_dir, state=state, step=0, total_steps=None, created_at=time.time())
        with self._db() as db:
            db.execute("INSERT INTO runs(id, name, task, state, created_at, num_devices) VALUES(?,?,?,?,?,?)",
                       (run_id, config.get("name") or "", config.get("task", "ner"), state, time.time(),
                        int(config.get("num_devices", 1) or 1)))
        return run_id

    def set_state(self, run_id: str, state: str, *, resume: bool | None = None, **fields) -> None:
        """Record a state change in both status.json and the index."""
        update_status(self.run_dir(run_id), state=state, **fields)
        with self._db() as db:
            db.execute("UPDATE runs SET state=? WHERE id=?", (state, run_id))
            if resume is not None:
                db.execute("UPDATE runs SET resume=? WHERE id=?", (int(resume), run_id))

    def sync_state(self, run_id: str) -> str:
        """Copy the state in status.json (written by the worker) into the index."""
        state = read_status(self.run_dir(run_id)).get("state", "failed")
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
        """Runs, newest first, each merged with its status.json."""
        sql, args = "SELECT * FROM runs", []
        if states:
            sql += f" WHERE state IN ({','.join('?' * len(states))})"
            args += list(states)
        sql += " ORDER BY created_at DESC"
        if limit:
            sql += f" LIMIT {int(limit)}"
        with self._db() as db:
            rows = [dict(r) for r in db.execute(sql, args)]
        return [self._merge(r) for r in rows]

    def queued(self) -> list[dict]:
        """Queued runs in submission order (oldest first)."""
        with self._db() as db:
            rows = [dict(r) for r in db.execute("SELECT * FROM runs WHERE state='queued' ORDER BY created_at, rowid")]
        return rows

    def _merge(self, row: dict) -> dict:
        status = read_status(self.run_dir(row["id"]))
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
        return read_json(self.run_dir(run_id) / "config.json", default={}) or {}

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
        ds_id = f"{sanitise(name)}-{sha[:8]}"
        folder = self.data_dir / ds_id
        if not folder.exists():
            tmp = self.data_dir / f".tmp-{ds_id}-{secrets.token_hex(3)}"
            tmp.mkdir(parents=True)
            for split, text in texts.items():
                (tmp / f"{split}.jsonl").write_text(text, encoding="utf-8")
            if original is not None:
                (tmp / f"original-{sanitise(original_name or 'upload')}").write_bytes(original)
            tmp.rename(folder)
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

        folder = self.data_dir / sanitise(ds_id)
        with self._db() as db:
            row = db.execute("SELECT task FROM datasets WHERE id=?", (ds_id,)).fetchone()
        if row is None or not folder.is_dir():
            raise NotFound(f"no dataset {ds_id!r} in {self.data_dir}")
        task = "ner" if row["task"] == "ner" else "classification"
        return {p.stem: read_jsonl(p.read_bytes(), source=str(p), task=task)
                for p in sorted(folder.glob("*.jsonl"))}

    def delete_dataset(self, ds_id: str) -> None:
        shutil.rmtree(self.data_dir / sanitise(ds_id), ignore_errors=True)
        with self._db() as db:
            db.execute("DELETE FROM datasets WHERE id=?", (ds_id,))


def is_final(state: str) -> bool:
    return state in FINAL_STATES
