"""Prediction jobs (the Playground's Tag a file): queued by engine/actions.tag_file with the
role checked, run by the scheduler in their own process, never the web server's; the output
equals `engine predict`'s, a bad file fails its job with a message naming the user's file, a
dead job process is noticed."""
from __future__ import annotations

import json
import time

import pytest
import torch

from core.config import RunConfig, config_to_dict
from core.errors import WorkbenchError
from core.formats import read_jsonl, write_conll
from engine import actions, audit, predict_jobs, queue, worker
from engine.access import Forbidden, User
from engine.predict import open_model
from engine.predict_files import predict_file
from engine.runfolder import RunFolder
from engine.store import Store
from tests.engine.runs import make_run_config

pytestmark = pytest.mark.slow

EDITOR = User("ed@example.org", role="editor")
VIEWER = User("vi@example.org", role="viewer")


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    root = tmp_path_factory.mktemp("jobs")
    cfg = make_run_config(root / "cfg", "ner", epochs=1)
    store = Store(root / "ws")
    run_id = store.create_run(config_to_dict(RunConfig(**cfg)))
    with torch.random.fork_rng(devices=[]):
        assert worker.run(store.run_dir(run_id)) == "completed"
    store.set_state(run_id, "completed")
    conll = write_conll(read_jsonl(open(cfg["test"], "rb").read(), task="ner")).encode()
    return store, run_id, conll


def _drain(store: Store, timeout: float = 120) -> None:
    end = time.time() + timeout
    while time.time() < end:
        predict_jobs.tick(store)
        if not predict_jobs.pending(store):
            return
        time.sleep(0.2)
    raise AssertionError("prediction jobs did not finish")


def test_a_tagged_file_is_labelled_by_a_job_process_as_engine_predict_labels_it(lab, tmp_path):
    store, run_id, conll = lab
    job_id = actions.tag_file(EDITOR, store, run_id, "my test.conll", conll)
    job = predict_jobs.get_job(store, job_id)
    assert job["state"] == "queued" and job["filename"] == "my-test.conll"
    assert job["created_by"] == EDITOR.email and job["input"] == "input.conll"
    _drain(store)
    job = predict_jobs.get_job(store, job_id)
    assert job["state"] == "completed", job.get("error")
    assert job["pid"] is None and job["records"] == 8
    src = tmp_path / "in.conll"
    src.write_bytes(conll)
    predict_file(open_model(store.run_dir(run_id)), src, tmp_path / "direct.conll")
    assert predict_jobs.output_path(job).read_text() == (tmp_path / "direct.conll").read_text()
    assert predict_jobs.preview(job, 3).count("\n") == 2
    line = audit.read(store.root, action="predict")[0]  # newest first
    assert line["ok"] and line["user"] == EDITOR.email and line["target"] == run_id


def test_a_viewer_may_not_tag_a_file_and_the_refusal_is_logged(lab):
    store, run_id, conll = lab
    before = len(predict_jobs.list_jobs(store))
    with pytest.raises(Forbidden):
        actions.tag_file(VIEWER, store, run_id, "x.conll", conll)
    assert len(predict_jobs.list_jobs(store)) == before
    line = audit.read(store.root)[0]  # newest first
    assert line["action"] == "predict" and not line["ok"] and line["user"] == VIEWER.email


def test_a_bad_file_fails_its_job_naming_the_uploaded_file(lab):
    store, run_id, _ = lab
    job_id = actions.tag_file(EDITOR, store, run_id, "notes.jsonl", b'{"tokens": ["a"]}\n{oops\n')
    _drain(store)
    job = predict_jobs.get_job(store, job_id)
    assert job["state"] == "failed" and predict_jobs.output_path(job) is None
    assert "notes.jsonl, line 2" in job["error"] and str(store.root) not in job["error"]


@pytest.mark.parametrize("name, data, message", [
    ("model.bin", b"x", "a file to tag is one of"),
    ("empty.conll", b"", "is empty"),
    ("table.csv", b"text\nhi\n", "a NER model reads"),
])
def test_what_can_be_checked_at_upload_is_refused_at_once(lab, name, data, message):
    store, run_id, _ = lab
    with pytest.raises(WorkbenchError, match=message):
        actions.tag_file(EDITOR, store, run_id, name, data)


def test_a_run_without_a_model_cannot_tag(lab):
    store, _, conll = lab
    other = store.create_run({"task": "ner", "name": "untrained"}, state="failed")
    with pytest.raises(WorkbenchError, match="has no model yet"):
        actions.tag_file(EDITOR, store, other, "x.conll", conll)


def test_a_job_whose_process_died_is_failed_by_the_next_pass(lab):
    store, run_id, conll = lab
    job_id = predict_jobs.submit(store, run_id, "a.conll", conll)
    job_dir = store.jobs_dir / job_id
    predict_jobs.update_status(job_dir, state="running", pid=2 ** 22 + 7)  # no such process
    predict_jobs.tick(store)
    job = predict_jobs.get_job(store, job_id)
    assert job["state"] == "failed" and "ended without finishing" in job["error"]


def test_queue_serve_until_idle_waits_for_the_jobs(lab):
    store, run_id, conll = lab
    job_id = actions.tag_file(EDITOR, store, run_id, "b.conll", conll)
    assert queue.serve(store, poll=0.2, until_idle=True)
    assert predict_jobs.get_job(store, job_id)["state"] == "completed"


def test_a_damaged_job_folder_reads_failed_and_the_others_still_list(lab):
    store, run_id, conll = lab
    job_id = predict_jobs.submit(store, run_id, "c.conll", conll)
    (store.jobs_dir / job_id / predict_jobs.JOB).write_text("{not json")
    jobs = {j["id"]: j for j in predict_jobs.list_jobs(store, None)}
    assert jobs[job_id]["state"] == "failed" and "damaged" in jobs[job_id]["error"]
    assert json.loads((store.jobs_dir / job_id / predict_jobs.STATUS).read_text())["state"] == \
        "queued"
    predict_jobs.update_status(store.jobs_dir / job_id, state="failed")  # not left for tick
    assert RunFolder(store.run_dir(run_id)).has_model()
