"""SQLite store (WAL) indexing runs and datasets; run folders stay the source of truth."""
from __future__ import annotations

import hashlib
import json
import os
import re
import secrets
import shutil
import sqlite3
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator

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
TABLES = ("runs", "datasets")
CREATING_S = 60.0  # a run folder younger than this without a status.json is being created
REINDEX_COMMAND = "python -m engine queue reindex"


ORIGINAL_PREFIX = "original-"  # the uploaded file, stored beside the canonical splits


class NotFound(WorkbenchError, KeyError):
    """A run or dataset id that the store does not hold."""

    def __str__(self) -> str:
        return str(self.args[0])


class IndexDamaged(WorkbenchError):
    """workbench.db cannot serve as the index (not a SQLite file, truncated, a table missing);
    `python -m engine queue reindex` rebuilds it from the run and dataset folders.

    corrupt: SQLite cannot read the file at all (it must be replaced, not repaired in place).
    """

    def __init__(self, path: Path, problem: str, *, corrupt: bool):
        self.path, self.problem, self.corrupt = Path(path), problem, corrupt
        super().__init__(f"the index {path} is damaged ({problem}); run `{REINDEX_COMMAND}` "
                         "to rebuild it from the run and dataset folders")


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
    JOBS = "jobs"  # prediction jobs (engine/predict_jobs.py), made when the first is submitted

    def __init__(self, root: Path):
        self._attach(root)
        self._open_index()

    def _attach(self, root: Path) -> None:
        """Paths and folders only; the index is not touched."""
        self.root = Path(root)
        self.runs_dir = self.root / self.RUNS
        self.data_dir = self.root / self.DATA
        self.jobs_dir = self.root / self.JOBS
        self.runs_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.db_path = self.root / self.INDEX
        self._local = threading.local()  # one sqlite connection per thread

    def _open_index(self) -> None:
        """Check the index's tables, creating them for a new workspace; IndexDamaged when the
        file is not a SQLite index, lacks a table, or is empty while folders exist (deleted or
        truncated to nothing): an empty index there would silently hide every run."""
        with self._db() as db:
            tables = _tables(db)
            if tables >= set(TABLES):
                return
            missing = ", ".join(t for t in TABLES if t not in tables)
            if tables & set(TABLES):
                raise IndexDamaged(self.db_path, f"table {missing} is missing", corrupt=False)
            held = _count_folders(self.runs_dir) + _count_folders(self.data_dir)
            if held:
                raise IndexDamaged(self.db_path, f"it has no tables, but runs/ and data/ hold "
                                   f"{held} folders", corrupt=False)
            # one transaction: a process opening the store meanwhile sees all tables or none
            db.executescript(f"BEGIN IMMEDIATE;{SCHEMA}COMMIT;")

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        """A transaction on this thread's connection (committed on success, rolled back on error).

        The connection stays open: closing the last connection to a WAL database checkpoints
        and deletes the WAL file, which cost ~15 ms (two fsyncs) per query when each query
        had its own connection. A damaged file raises IndexDamaged, never a raw sqlite error.
        """
        try:
            db = self._connection()
            with db:
                yield db
        except sqlite3.DatabaseError as exc:
            problem = _damage(exc)
            if problem is None:
                raise
            self.close()  # the next call connects afresh (to the file reindex puts in place)
            raise IndexDamaged(self.db_path, problem, corrupt=_is_corrupt(exc)) from None

    def _connection(self) -> sqlite3.Connection:
        """This thread's connection, opened anew when workbench.db was replaced (reindex puts
        a fresh file in place of a damaged one; long-lived processes follow it)."""
        db = getattr(self._local, "db", None)
        if db is not None and _file_id(self.db_path) != self._local.file_id:
            self.close()
            db = None
        if db is None:
            db = sqlite3.connect(self.db_path, timeout=30)
            try:
                db.row_factory = sqlite3.Row
                db.execute("PRAGMA journal_mode=WAL")
                db.execute("PRAGMA busy_timeout=30000")
                # NORMAL is safe in WAL mode (no corruption; a power cut may drop the last
                # commit) and saves an fsync per commit
                db.execute("PRAGMA synchronous=NORMAL")
            except BaseException:
                db.close()
                raise
            self._local.db = db
            self._local.file_id = _file_id(self.db_path)
        return db

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
        root = cls.root_of(run_dir)
        return None if root is None else cls(root)

    @classmethod
    def root_of(cls, run_dir: Path) -> Path | None:
        """The root of the store whose runs/ holds `run_dir` (None outside any store), without
        opening its index: a worker reads datasets and caches there even while the index is
        damaged."""
        run_dir = Path(run_dir).resolve()
        root = run_dir.parent.parent
        if run_dir.parent.name != cls.RUNS or not (root / cls.INDEX).is_file():
            return None
        return root

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
        with self._db() as db:  # OR REPLACE: a reindex may have indexed the new folder already
            db.execute("INSERT OR REPLACE INTO runs(id, name, task, state, created_at, num_devices) "
                       "VALUES(?,?,?,?,?,?)",
                       (run_id, config.get("name") or "", config.get("task", "ner"), state, created,
                        int(config.get("num_devices", 1) or 1)))
        return run_id

    def set_state(self, run_id: str, state: str, *, resume: bool | None = None, **fields) -> None:
        """Record a state change in both status.json and the index, in one index transaction
        (a reindex, which reads status.json under the same lock, sees both or neither)."""
        with self._db() as db:
            found = db.execute("UPDATE runs SET state=? WHERE id=?", (state, run_id)).rowcount
            if not found:  # never write a status.json (and so a folder) for an unknown id
                raise NotFound(f"no run {run_id!r} in {self.root}")
            if resume is not None:
                db.execute("UPDATE runs SET resume=? WHERE id=?", (int(resume), run_id))
            RunFolder(self.run_dir(run_id)).update_status(state=state, **fields)

    def set_state_if(self, run_id: str, state: str, when: Callable[[dict], bool], **fields) -> bool:
        """set_state only if `when(status.json)` holds, judged under the index's write lock so
        that no state change of the store (a resume, a scheduler starting the run) falls
        between the check and the write; False (nothing written) when it does not hold."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            folder = RunFolder(self.run_dir(run_id))
            if not when(folder.read_status()):
                return False
            if not db.execute("UPDATE runs SET state=? WHERE id=?", (state, run_id)).rowcount:
                return False
            folder.update_status(state=state, **fields)
        return True

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

    @classmethod
    def load_dataset_files(cls, root: Path, ds_id: str) -> dict[str, list]:
        """The stored splits of dataset `ds_id` read from its folder alone, the index never
        opened: for a worker on another machine (SQLite must not be shared over a network
        file system), where the task comes from the split files as `reindex` reads it."""
        folder = Path(root) / cls.DATA / safe_id(ds_id)
        row = _dataset_row(folder) if folder.is_dir() else None
        if row is None:
            raise NotFound(f"no readable dataset {ds_id!r} in {folder.parent}")
        from core.formats import read_jsonl

        task = "ner" if row["task"] == "ner" else "classification"
        return {p.stem: read_jsonl(p.read_bytes(), source=str(p), task=task)
                for p in sorted(folder.glob("*.jsonl")) if not p.name.startswith(ORIGINAL_PREFIX)}

    @classmethod
    def dataset_tasks_from_files(cls, root: Path) -> dict[str, str]:
        """{dataset id: task} from the data/ folders alone (see load_dataset_files)."""
        rows = (_dataset_row(p) for p in _folders(Path(root) / cls.DATA))
        return {row["id"]: row["task"] for row in rows if row is not None}

    def delete_dataset(self, ds_id: str) -> None:
        shutil.rmtree(self.data_dir / safe_id(ds_id), ignore_errors=True)
        with self._db() as db:
            db.execute("DELETE FROM datasets WHERE id=?", (ds_id,))

    # ---- rebuilding the index ---------------------------------------------------------
    @classmethod
    def reindex(cls, root: Path) -> dict:
        """Rebuild workbench.db from the folders under runs/ and data/; returns the counts:
        runs (indexed), added, removed, synced (states copied from status.json), damaged,
        skipped (folders that are no run), datasets, datasets_added, datasets_removed,
        datasets_skipped, and moved_aside (where a damaged index was kept, or None).

        Runs: a row for every folder whose config.json or status.json reads (a missing or torn
        status.json is rewritten as a failed, damaged run; RunFolder.read_status repairs the
        rest), created_at kept, the state taken from status.json; rows of gone folders removed.
        Datasets: rows re-added for data/<id>/ folders without one (task from the split files,
        name from the id), rows of gone folders removed. A file SQLite cannot read is kept as
        workbench.db.damaged-<time> and replaced by a fresh one; an index missing a table is
        copied there and repaired in place. Safe while a scheduler runs: the runs are read
        and written in one write transaction, during which every state change waits.
        """
        store = cls.__new__(cls)
        store._attach(root)
        summary: dict = dict.fromkeys(("runs", "added", "removed", "synced", "damaged", "skipped",
                                       "datasets", "datasets_added", "datasets_removed",
                                       "datasets_skipped"), 0)
        summary["moved_aside"] = None
        try:
            store._open_index()
        except IndexDamaged as exc:
            store.close()
            aside = store._set_aside(replace=exc.corrupt)
            summary["moved_aside"] = str(aside) if aside else None
        store._rebuild(summary)
        return summary

    def _set_aside(self, *, replace: bool) -> Path | None:
        """Keep the damaged index as workbench.db.damaged-<time> (None when it holds nothing
        worth keeping). replace: SQLite cannot read it, so a fresh file takes its place (in one
        os.replace: the path never goes missing, and open stores reconnect to the new file)."""
        stamp = time.strftime("%Y%m%d-%H%M%S")
        aside = self.root / f"{self.INDEX}.damaged-{stamp}"
        for k in range(2, 100):
            if not aside.exists():
                break
            aside = self.root / f"{self.INDEX}.damaged-{stamp}-{k}"
        if not replace:  # a readable SQLite file: copy it, then repair it in place
            if not self.db_path.is_file() or not self.db_path.stat().st_size:
                return None
            src, dst = sqlite3.connect(self.db_path, timeout=30), sqlite3.connect(aside)
            try:
                if not _tables(src):
                    dst.close()
                    aside.unlink(missing_ok=True)
                    return None
                src.backup(dst)
            finally:
                src.close()
                dst.close()
            return aside
        fresh = self.root / f".{self.INDEX}.rebuild-{secrets.token_hex(3)}"
        con = sqlite3.connect(fresh)
        try:
            con.executescript(SCHEMA)
        finally:
            con.close()
        try:
            os.link(self.db_path, aside)
        except OSError:
            shutil.copy2(self.db_path, aside)
        for suffix in ("-wal", "-shm"):  # they belong to the damaged file, not the fresh one
            side = Path(f"{self.db_path}{suffix}")
            if side.exists():
                os.replace(side, f"{aside}{suffix}")
        os.replace(fresh, self.db_path)
        return aside

    def _rebuild(self, summary: dict) -> None:
        """The index pass of reindex (see there); adds its counts to `summary`."""
        parsed = self._parse_new_datasets()  # outside the lock: split files can be large
        now = time.time()
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            for statement in SCHEMA.split(";"):
                if statement.strip():
                    db.execute(statement)
            rows = {r["id"]: dict(r) for r in db.execute("SELECT * FROM runs")}
            for path in _folders(self.runs_dir):
                kind, damaged = self._index_run(db, path, rows.get(path.name), now)
                if kind in summary:  # added, synced or skipped; "same" needs no count
                    summary[kind] += 1
                summary["runs"] += kind != "skipped"
                summary["damaged"] += damaged
            for run_id in rows:
                if not self.run_dir(run_id).is_dir():
                    db.execute("DELETE FROM runs WHERE id=?", (run_id,))
                    summary["removed"] += 1
            known = {r["id"] for r in db.execute("SELECT id FROM datasets")}
            for path in _folders(self.data_dir):
                if path.name in known:
                    summary["datasets"] += 1
                    continue
                row = parsed[path.name] if path.name in parsed else _dataset_row(path)
                if row is None:
                    summary["datasets_skipped"] += 1
                    continue
                db.execute("INSERT OR IGNORE INTO datasets(id, name, task, sha256, created_at, meta) "
                           "VALUES(:id, :name, :task, :sha256, :created_at, :meta)", row)
                summary["datasets"] += 1
                summary["datasets_added"] += 1
            for ds_id in known:
                if not (self.data_dir / safe_id(ds_id)).is_dir():
                    db.execute("DELETE FROM datasets WHERE id=?", (ds_id,))
                    summary["datasets_removed"] += 1

    def _index_run(self, db: sqlite3.Connection, path: Path, row: dict | None,
                   now: float) -> tuple[str, bool]:
        """Index one run folder (inside reindex's transaction): ("added" | "synced" | "same" |
        "skipped", whether the run is damaged)."""
        run_id = path.name
        if safe_id(run_id) != run_id:  # not a name the store makes: no id maps to it
            return "skipped", False
        folder = RunFolder(path)
        config = folder.read_config()
        status = folder.read_status()
        if not status:  # status.json missing or torn
            if config is None or now - _mtime(path) < CREATING_S:
                return "skipped", False  # not a run, or create_run is writing it right now
            status = folder.update_status(
                state="failed", damaged=True, pid=None,
                created_at=row["created_at"] if row else _mtime(folder.config_path),
                error="status.json was missing or unreadable when the index was rebuilt; "
                      "resume the run or delete it")
        damaged = bool(status.get("damaged")) or config is None
        state = status.get("state") or "failed"
        if row is not None and state == "queued" and row["state"] != "queued":
            state = row["state"]  # claimed (a scheduler starting it, a cancel): status.json follows
        name = (config.get("name") or "") if config else (row or {}).get("name") or ""
        task = config.get("task", "ner") if config else (row or {}).get("task") or "ner"
        devices = int(config.get("num_devices", 1) or 1) if config else (row or {}).get("num_devices") or 1
        if row is None:
            created = status.get("created_at") or _mtime(path)
            db.execute("INSERT OR REPLACE INTO runs(id, name, task, state, created_at, num_devices) "
                       "VALUES(?,?,?,?,?,?)", (run_id, name, task, state, created, devices))
            return "added", damaged
        db.execute("UPDATE runs SET name=?, task=?, state=?, num_devices=? WHERE id=?",
                   (name, task, state, devices, run_id))
        return ("synced" if row["state"] != state else "same"), damaged

    def _parse_new_datasets(self) -> dict[str, dict | None]:
        """{folder name: dataset row, or None when unreadable} for data/ folders the index
        lacks (an index without a datasets table lacks them all)."""
        try:
            with self._db() as db:
                known = {r["id"] for r in db.execute("SELECT id FROM datasets")}
        except (IndexDamaged, sqlite3.OperationalError):
            known = set()
        return {p.name: _dataset_row(p) for p in _folders(self.data_dir) if p.name not in known}


def _dataset_row(folder: Path) -> dict | None:
    """A datasets row for a stored dataset folder (as add_dataset would write it, as well as
    the files tell: the task from the split files, the name from the id), or None when its
    split files do not read as one task's records."""
    from core.formats import read_jsonl
    from core.records import TokenExample

    files = {p.stem: p for p in sorted(folder.glob("*.jsonl"))
             if not p.name.startswith(ORIGINAL_PREFIX)}
    if "train" not in files:
        return None
    try:
        raw = {split: path.read_bytes() for split, path in files.items()}
        records = {split: read_jsonl(data, source=str(files[split])) for split, data in raw.items()}
    except (OSError, WorkbenchError):
        return None
    kinds = {type(recs[0]) for recs in records.values() if recs}
    if len(kinds) != 1 or not records["train"]:
        return None
    if kinds == {TokenExample}:
        task = "ner"
    else:
        multi = any(len(ex.labels) != 1 for recs in records.values() for ex in recs)
        task = "multilabel" if multi else "classification"
    digest = hashlib.sha256()
    for split in sorted(raw):  # the content address add_dataset computes
        digest.update(split.encode() + b"\0" + raw[split])
    name = re.sub(r"-[0-9a-f]{8}$", "", folder.name) or folder.name
    meta = {"splits": {split: len(recs) for split, recs in records.items()}, "reindexed": True}
    return {"id": folder.name, "name": name, "task": task, "sha256": digest.hexdigest(),
            "created_at": _mtime(folder), "meta": json.dumps(meta)}


def _folders(parent: Path) -> list[Path]:
    """The sub-folders of `parent` a store made (not hidden temporaries), sorted by name."""
    try:
        return sorted(p for p in parent.iterdir() if p.is_dir() and not p.name.startswith("."))
    except OSError:
        return []


def _count_folders(parent: Path) -> int:
    return len(_folders(parent))


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def _tables(db: sqlite3.Connection) -> set[str]:
    return {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")}


def _file_id(path: Path) -> tuple[int, int] | None:
    """(device, inode) of `path`: which file a connection is on (None when missing)."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _is_corrupt(exc: sqlite3.DatabaseError) -> bool:
    """SQLite cannot read the file: not a database (26) or a malformed image (11)."""
    return getattr(exc, "sqlite_errorcode", None) in (11, 26) or \
        any(w in str(exc) for w in ("not a database", "malformed"))


def _damage(exc: sqlite3.DatabaseError) -> str | None:
    """What is wrong with the index file when `exc` says it is damaged, else None (e.g. a
    lock timeout, which is no damage)."""
    if _is_corrupt(exc):
        return str(exc)
    text = str(exc)
    if text.startswith("no such table:") and text.split(":", 1)[1].strip() in TABLES:
        return f"table {text.split(':', 1)[1].strip()} is missing"
    return None


def is_final(state: str) -> bool:
    return state in FINAL_STATES
