"""Prediction jobs: "Tag a file" from the dashboard, run by the scheduler, never in the web
process.

A job is a folder `jobs/<job_id>/` of the workspace (`Store.jobs_dir`):
    job.json     what to do: run id, input file name (sanitised) and format, output format,
                 the uploaded file's own name, created_by, created_at (written once)
    status.json  state (queued, running, completed, failed), pid, error, records, tokens,
                 started_at, finished_at (atomic replace under a lock, as a run's)
    input.<ext>  the uploaded bytes, under a name this module makes
    output.<ext> the labelled file, renamed into place only when whole (engine/predict_files)
    job.log      the job process's stdout and stderr

`submit` writes a queued job; the scheduler's pass (`tick`, from engine/queue.py) starts one
job process at a time (`python -m engine.predict_jobs JOB_DIR`, its own session, never a
shell) and marks a job whose process died without a final state failed. The process
labels the file with engine.predict_files.predict_file, as `python -m engine predict` does.
"""
from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

from core.errors import WorkbenchError
from engine.runfolder import RunFolder, _locked, write_json_atomic

JOB, STATUS, LOG = "job.json", "status.json", "job.log"
STATES = ("queued", "running", "completed", "failed")
MAX_RUNNING = 1  # prediction shares the machine with training: one file at a time
EXTENSIONS = {".conll": "conll", ".txt": None, ".iob": "conll", ".bio": "conll",
              ".jsonl": "jsonl", ".csv": "csv", ".tsv": "tsv", ".parquet": "parquet"}
OUT_SUFFIX = {"conll": ".conll", "jsonl": ".jsonl", "csv": ".csv"}
_MARKER = "engine.predict_jobs"
_children: dict[str, subprocess.Popen] = {}  # this scheduler's job processes


def _read(path: Path) -> dict:
    import json

    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def read_job(job_dir: Path) -> dict:
    """job.json and status.json of a job folder merged (status fields win), with `id` and
    `dir`; a folder without a readable job.json reads as failed and says so."""
    job_dir = Path(job_dir)
    job, status = _read(job_dir / JOB), _read(job_dir / STATUS)
    out = {**job, **status, "id": job_dir.name, "dir": job_dir}
    if not job:
        out.update(state="failed", error=out.get("error") or "job.json is missing or damaged")
    if out.get("state") not in STATES:
        out["state"] = "failed"
    return out


def update_status(job_dir: Path, **fields) -> dict:
    with _locked(Path(job_dir) / ".status.lock"):
        status = _read(Path(job_dir) / STATUS)
        status.update(fields, updated_at=time.time())
        write_json_atomic(Path(job_dir) / STATUS, status, durable=False)
    return status


def output_path(job: dict) -> Path | None:
    """The job's labelled file, when it has been written whole."""
    name = job.get("output")
    path = Path(job["dir"]) / name if isinstance(name, str) else None
    return path if path is not None and path.is_file() else None


# ---- submitting and listing -----------------------------------------------------------------
def submit(store, run_id: str, filename: str, data: bytes, *, in_fmt: str | None = None,
           out_fmt: str | None = None, created_by: str | None = None) -> str:
    """Queue a job labelling `data` (a file the user uploaded as `filename`) with run
    `run_id`'s model; returns the job id. Checks what can be checked now: the run has a
    model, the file type, the formats for the model's task; the content is read by the job."""
    from engine.predict import resolve_model
    from engine.predict_files import input_format, output_format
    from engine.store import sanitise

    run_dir = store.run_dir(run_id)
    if not RunFolder(run_dir).model_dir.is_dir():
        raise WorkbenchError(f"run {run_id} has no model yet: it has not finished training")
    _, settings = resolve_model(run_dir)
    task = settings.get("task") or (RunFolder(run_dir).read_config() or {}).get("task", "ner")
    suffix = Path(filename).suffix.lower()
    if suffix not in EXTENSIONS:
        raise WorkbenchError(f"{sanitise(filename, 'file')}: a file to tag is one of "
                             f"{', '.join(sorted(EXTENSIONS))}")
    if not data:
        raise WorkbenchError(f"{sanitise(filename, 'file')} is empty")
    given = in_fmt or EXTENSIONS[suffix]
    source = Path("input" + suffix)
    job_id = f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    job_dir = store.jobs_dir / job_id
    job_dir.mkdir(parents=True)
    (job_dir / source.name).write_bytes(data)
    try:  # a NER model's .txt is CoNLL or plain text: its first lines tell
        fmt = input_format(job_dir / source.name, task, given)
        out_fmt = output_format(Path("output"), task, fmt, out_fmt)
    except WorkbenchError as exc:
        shutil.rmtree(job_dir, ignore_errors=True)
        raise WorkbenchError(str(exc).replace(str(job_dir / source.name),
                                              sanitise(filename, "file"))) from None
    write_json_atomic(job_dir / JOB, {
        "run_id": run_id, "input": source.name, "format": fmt, "output_format": out_fmt,
        "output": "output" + OUT_SUFFIX[out_fmt], "filename": sanitise(filename, "file"),
        "bytes": len(data), "task": task, "created_by": created_by, "created_at": time.time()})
    update_status(job_dir, state="queued")
    return job_id


def list_jobs(store, run_id: str | None = None) -> list[dict]:
    """Jobs of the workspace (of one run), newest first."""
    root = store.jobs_dir
    if not root.is_dir():
        return []
    jobs = [read_job(p) for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if run_id is not None:
        jobs = [j for j in jobs if j.get("run_id") == run_id]
    return sorted(jobs, key=lambda j: j.get("created_at") or 0, reverse=True)


def get_job(store, job_id: str) -> dict:
    from engine.store import safe_id

    job_dir = store.jobs_dir / safe_id(job_id)
    if not job_dir.is_dir():
        raise WorkbenchError(f"no prediction job {job_id!r}")
    return read_job(job_dir)


def preview(job: dict, lines: int = 20) -> str:
    """The first `lines` lines of a job's output (text formats), for the page to show."""
    path = output_path(job)
    if path is None:
        return ""
    out = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for _ in range(lines):
            line = f.readline()
            if not line:
                break
            out.append(line.rstrip("\n"))
    return "\n".join(out)


# ---- the scheduler's pass -------------------------------------------------------------------
def pending(store) -> bool:
    """Whether a job waits or runs (the scheduler's until_idle waits for them too)."""
    return bool(_children) or any(j["state"] == "queued" for j in list_jobs(store))


def tick(store) -> None:
    """Reap this scheduler's finished job processes, fail jobs whose process is gone, and
    start the oldest queued job while fewer than MAX_RUNNING run."""
    from engine.queue import pid_alive

    for job_id, proc in list(_children.items()):
        code = proc.poll()
        if code is None:
            continue
        del _children[job_id]
        job = read_job(store.jobs_dir / job_id)
        if job["state"] in ("queued", "running"):
            how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
            update_status(job["dir"], state="failed", pid=None, finished_at=time.time(),
                          error=f"the prediction process {how} before it finished")
    jobs = list_jobs(store)
    running = 0
    for job in jobs:
        if job["state"] == "running" and job["id"] not in _children:
            if pid_alive(job.get("pid"), _MARKER):
                running += 1
            else:  # its scheduler died with it, or a reboot
                update_status(job["dir"], state="failed", pid=None, finished_at=time.time(),
                              error="the prediction process ended without finishing; "
                                    "tag the file again")
    running += len(_children)
    for job in reversed(jobs):  # oldest first
        if running >= MAX_RUNNING:
            break
        if job["state"] == "queued" and _start(job["dir"]):
            running += 1


def _start(job_dir: Path) -> bool:
    with _locked(job_dir / ".status.lock"):  # one scheduler claims it
        if _read(job_dir / STATUS).get("state") != "queued":
            return False
        write_json_atomic(job_dir / STATUS, {**_read(job_dir / STATUS), "state": "running",
                                             "updated_at": time.time()}, durable=False)
    try:
        with open(job_dir / LOG, "ab") as log:
            proc = subprocess.Popen([sys.executable, "-m", _MARKER, str(job_dir)],
                                    stdout=log, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, start_new_session=True,
                                    cwd=Path(__file__).resolve().parents[1])
    except OSError as exc:
        update_status(job_dir, state="failed", error=f"could not start the job: {exc}")
        return False
    update_status(job_dir, pid=proc.pid, started_at=time.time())
    _children[job_dir.name] = proc
    return True


# ---- the job process ------------------------------------------------------------------------
def run_job(job_dir: Path) -> str:
    """Label the job's file (the job process's work); returns the final state."""
    from engine.predict import open_model
    from engine.predict_files import predict_file
    from engine.store import Store

    job_dir = Path(job_dir)
    job = read_job(job_dir)
    update_status(job_dir, state="running", pid=os.getpid(), error=None,
                  started_at=job.get("started_at") or time.time())
    try:
        if not _read(job_dir / JOB):
            raise WorkbenchError("job.json is missing or damaged")
        store_root = job_dir.parent.parent
        run_dir = store_root / Store.RUNS / job["run_id"]
        predictor = open_model(run_dir)
        settings = predictor.settings
        summary = predict_file(predictor, job_dir / job["input"], job_dir / job["output"],
                               in_fmt=job.get("format"), out_fmt=job.get("output_format"),
                               text_column=settings.get("text_column", "text"),
                               label_column=settings.get("label_column", "label"),
                               label_delimiter=settings.get("label_delimiter", "|"))
    except WorkbenchError as exc:
        # the message names the uploaded file by the name the user gave it
        message = str(exc).replace(str(job_dir / job.get("input", "")), job.get("filename", ""))
        update_status(job_dir, state="failed", error=message, pid=None, finished_at=time.time())
        print(f"error: {message}", file=sys.stderr, flush=True)
        return "failed"
    except Exception as exc:  # noqa: BLE001 - the page shows one line, the log the rest
        import traceback

        traceback.print_exc()
        update_status(job_dir, state="failed", pid=None, finished_at=time.time(),
                      error=f"the job failed unexpectedly ({type(exc).__name__}); see job.log")
        return "failed"
    notes = sorted(summary.unknown_gold)[:8]
    update_status(job_dir, state="completed", pid=None, finished_at=time.time(),
                  records=summary.records, tokens=summary.tokens, unknown_gold=notes)
    return "completed"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog=f"python -m {_MARKER}", description="run one prediction job")
    p.add_argument("job_dir", type=Path)
    args = p.parse_args(argv)
    return 0 if run_job(args.job_dir) == "completed" else 1


if __name__ == "__main__":
    sys.exit(main())
