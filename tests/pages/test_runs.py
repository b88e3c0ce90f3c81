"""Runs page: the table, a selected run's curves and log, Cancel / Resume / Delete, errors."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

import pages.runs as runs_page
from core.errors import WorkbenchError
from core.report import status_headline
from engine.runfolder import RunFolder
from pages import common
from pages.common import type_colour
from tests.pages.fakes import make_many_runs, make_run, no_exception, page_test


def _frame(at):
    """The runs table as a pandas frame."""
    frames = [d.value for d in at.dataframe]
    return next(f for f in frames if "State" in f.columns and "Steps" in f.columns)


def test_table_shows_every_run_with_state_progress_and_eta(store):
    done = make_run(store, name="finished")
    live = make_run(store, name="live", state="running", progress=0.4)
    waiting = make_run(store, name="waiting", state="queued")
    at = page_test("runs")
    no_exception(at)
    df = _frame(at).set_index("ID")
    assert set(df.index) == {done, live, waiting}
    assert df.loc[done, "State"] == "✅ completed" and df.loc[done, "Progress"] == 1.0
    assert df.loc[live, "Steps"] == "60 / 150" and abs(df.loc[live, "Progress"] - 0.4) < 1e-9
    assert df.loc[live, "ETA"].endswith("s")          # from the logged step rate
    assert df.loc[waiting, "ETA"] == "#1 in queue"
    report = json.loads((store.run_dir(done) / "report.json").read_text())
    assert abs(df.loc[done, "Test score"] - 100 * report["test"]["entities"]["micro"]["f1"]) < 1e-9
    # the default selection is the running run, drawn live
    assert at.subheader[0].value.endswith("live")
    assert any(m.label == "Time left" for m in at.metric)


def test_selecting_a_run_shows_its_curves_per_entity_f1_and_log(store):
    done = make_run(store, name="finished")
    make_run(store, name="other", state="failed", progress=0.2, error="boom")
    at = page_test("runs")
    at.selectbox(key="runs.selected").set_value(done).run()
    no_exception(at)
    assert at.subheader[0].value.endswith("finished")
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    titles = json.dumps(specs)
    for title in ("Training loss", "Learning rate", "Dev micro F1 (%)", "Dev F1 per entity type (%)"):
        assert title in titles
    # per-entity lines use the shared type colours
    per_type = next(s for s in specs if "Dev F1 per entity type" in json.dumps(s.get("title")))
    scale = per_type["encoding"]["color"]["scale"]
    assert scale["range"][scale["domain"].index("PER")] == type_colour("PER")
    log = [c.value for c in at.code if "step 150/150" in c.value]
    assert log and len(log[0].splitlines()) <= runs_page.LOG_LINES
    assert {b.label for b in at.button} >= {"Delete"}
    assert not any(b.label == "Cancel" for b in at.button)


def test_query_parameter_selects_the_run_and_selection_is_shared(store):
    first = make_run(store, name="first")
    make_run(store, name="second")
    at = page_test("runs", run=first)
    no_exception(at)
    assert at.selectbox(key="runs.selected").value == first
    assert at.session_state["run_id"] == first
    assert at.query_params["run"] == first


def test_cancel_a_queued_run(store):
    waiting = make_run(store, name="waiting", state="queued")
    at = page_test("runs", run=waiting)
    at.button(key="runs.cancel").click().run()
    no_exception(at)
    assert store.get_run(waiting)["state"] == "cancelled"
    assert any("cancelled" in s.value for s in at.success)
    assert any(b.label == "Resume" for b in at.button)


def test_resume_puts_the_run_back_in_the_queue_and_wakes_the_daemon(store, daemon_calls):
    stopped = make_run(store, name="stopped", state="interrupted", progress=0.5)
    at = page_test("runs", run=stopped)
    assert any("Resume" in w.value for w in at.warning)
    at.button(key="runs.resume").click().run()
    no_exception(at)
    assert store.get_run(stopped)["state"] == "queued"
    assert daemon_calls == [store.root]


def test_delete_asks_for_confirmation(store):
    keep, gone = make_run(store, name="keep"), make_run(store, name="gone")
    at = page_test("runs", run=gone)
    at.button(key="runs.delete").click().run()
    assert store.get_run(gone)  # nothing deleted yet: a confirmation is shown
    assert any("cannot be undone" in w.value for w in at.warning)
    at.button(key="runs.delete_no").click().run()
    assert store.get_run(gone) and not any("cannot be undone" in w.value for w in at.warning)
    at.button(key="runs.delete").click().run()
    at.button(key="runs.delete_yes").click().run()
    no_exception(at)
    assert [r["id"] for r in store.list_runs()] == [keep]
    assert not store.run_dir(gone).exists()
    assert at.selectbox(key="runs.selected").value == keep


def test_failed_run_shows_its_error_not_a_traceback(store):
    error = "Traceback (most recent call last):\n  ...\nDataError: train.conll, line 12: expected 2 columns"
    failed = make_run(store, name="broken", state="failed", progress=0.2, error=error)
    at = page_test("runs", run=failed)
    no_exception(at)
    assert any("line 12: expected 2 columns" in e.value for e in at.error)
    assert any(error in c.value for c in at.code)  # the full text, folded away


def test_torn_metrics_and_missing_log_still_render(store):
    run_id = make_run(store, name="torn", state="running", progress=0.3)
    run_dir = store.run_dir(run_id)
    with open(run_dir / "metrics.jsonl", "a", encoding="utf-8") as f:
        f.write('{"event": "log", "step": 99, "lo')  # a line cut off mid-write
    (run_dir / "worker.log").unlink()
    at = page_test("runs", run=run_id)
    no_exception(at)
    assert not at.error
    assert any("not written to its log" in i.value for i in at.info)


def test_two_hundred_runs_read_status_only(store, monkeypatch):
    make_many_runs(store, 200)
    selected = make_run(store, name="selected")
    reads: list[str] = []
    real = runs_page.read_metrics
    monkeypatch.setattr(runs_page, "read_metrics", lambda d: reads.append(str(d)) or real(d))
    at = page_test("runs", run=selected)
    no_exception(at)
    assert len(_frame(at)) == 201
    # only the selected run's metrics are read, never one file per table row
    assert set(reads) == {str(store.run_dir(selected))}


def test_state_filter_and_search(store):
    make_run(store, name="alpha")
    make_run(store, name="beta", state="failed", progress=0.2, error="x")
    at = page_test("runs")
    at.text_input(key="runs.search").input("alp").run()
    assert list(_frame(at)["Name"]) == ["alpha"]
    at.text_input(key="runs.search").input("").run()
    at.button_group(key="runs.states").set_value(["failed"]).run()
    no_exception(at)
    assert list(_frame(at)["Name"]) == ["beta"]


def test_empty_workspace_says_what_to_do(store):
    at = page_test("runs")
    no_exception(at)
    assert any("No runs yet" in i.value for i in at.info)


def test_helpers():
    assert common.fmt_duration(None) == "—"
    assert common.fmt_duration(45) == "45 s"
    assert common.fmt_duration(200) == "3 min 20 s"
    assert common.fmt_duration(789) == "13 min"
    assert common.fmt_duration(7500) == "2 h 05 min"
    assert status_headline({"summary": {"test": {"accuracy": 0.9, "f1_macro": 0.8}}}, "test") == 0.9
    assert status_headline({"summary": {"dev": {"f1_micro": 0.7, "per_type_f1": {}}}}) == 0.7
    assert status_headline({"last_eval": {"value": 0.5}}) == 0.5


def test_log_tail_and_zip(tmp_path):
    RunFolder(tmp_path).log_path.write_text("".join(f"line {i}\n" for i in range(500)))
    tail = RunFolder(tmp_path).log_tail(60).splitlines()
    assert tail[0] == "line 440" and tail[-1] == "line 499"
    assert RunFolder(tmp_path / "missing").log_tail() == ""
    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    import io
    import zipfile

    names = zipfile.ZipFile(io.BytesIO(runs_page.zip_folder(Path(folder)))).namelist()
    assert names == ["model/config.json"]


def test_a_gpu_run_says_whether_its_steps_ran_as_cuda_graphs(store):
    run = make_run(store, name="gpu")
    store.set_state(run, "completed", device="cuda:0", step_runner={
        "cuda_graphs": "on", "graph_shapes": 5, "eager_micro": 5, "replayed_micro": 1312})
    at = page_test("runs", run=run)
    no_exception(at)
    captions = " ".join(c.value for c in at.caption)
    assert "on cuda:0" in captions
    assert "CUDA graphs: 5 batch shapes captured, 1,312 of 1,317 steps replayed" in captions


def _checkpoints(run_dir: Path, steps=(4, 6)) -> None:
    """Real checkpoint files (a tiny torch model) as a run trained before keep_checkpoints
    leaves them: step folders with optimizer state, best weights, and a model/ folder."""
    import torch

    from engine import checkpoint

    model = torch.nn.Linear(8, 4)
    opt = torch.optim.AdamW(model.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    for step in steps:
        checkpoint.save(run_dir, model, opt, sched, checkpoint.TrainState(step=step))
    checkpoint.save_best(run_dir, model, step=steps[0])
    model_dir = RunFolder(run_dir).model_dir
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{}")
    (model_dir / "model.safetensors").write_bytes(b"\0" * 5000)


def test_table_shows_each_runs_disk_use_and_the_panel_its_parts(store):
    from engine import checkpoint

    done = make_run(store, name="finished")
    _checkpoints(store.run_dir(done))
    live = make_run(store, name="live", state="running", progress=0.4)
    at = page_test("runs", run=done)
    no_exception(at)
    df = _frame(at).set_index("ID")
    usage = checkpoint.disk_usage(store.run_dir(done))
    assert usage["checkpoints"] > 0 and usage["model"] > 5000
    assert df.loc[done, "Disk"] == usage["total"]
    assert df.loc[live, "Disk"] == checkpoint.disk_usage(store.run_dir(live))["total"]
    columns = json.loads(at.dataframe[0].proto.columns)
    assert columns["Disk"]["type_config"] == {"type": "number", "format": "bytes"}  # "87MB"
    fmt = runs_page.fmt_bytes
    assert any(c.value == f"Disk: {fmt(usage['total'])} · checkpoints {fmt(usage['checkpoints'])}"
               f" · model {fmt(usage['model'])} · other {fmt(usage['other'])}" for c in at.caption)


def test_free_space_keeps_the_final_weights_of_a_completed_run(store):
    done = make_run(store, name="finished")
    run_dir = store.run_dir(done)
    _checkpoints(run_dir)
    at = page_test("runs", run=done)
    at.button(key="runs.free_space").click().run()
    no_exception(at)
    root = RunFolder(run_dir).checkpoints_dir
    assert sorted(p.name for p in root.iterdir()) == ["step_6"]
    assert sorted(p.name for p in (root / "step_6").iterdir()) == ["model.safetensors", "state.json"]
    assert RunFolder(run_dir).has_model() and RunFolder(run_dir).read_report()
    assert any(s.value.startswith("Freed ") for s in at.success)
    assert not any(b.label == "Free space" for b in at.button)  # nothing left to free
    from engine import checkpoint

    after = checkpoint.disk_usage(run_dir)
    assert any(c.value.startswith(f"Disk: {runs_page.fmt_bytes(after['total'])} ")
               for c in at.caption)  # redrawn, not the cached size from before


def test_free_space_is_offered_only_for_completed_runs(store):
    failed = make_run(store, name="broken", state="failed", progress=0.5, error="boom")
    _checkpoints(store.run_dir(failed))
    at = page_test("runs", run=failed)
    no_exception(at)
    assert not any(b.label == "Free space" for b in at.button)
    with pytest.raises(WorkbenchError, match="only a completed run"):  # nor done behind its back
        runs_page._free_space(store, failed)
    assert len(list(RunFolder(store.run_dir(failed)).checkpoints_dir.glob("step_*"))) == 2


def test_fmt_bytes():
    assert [runs_page.fmt_bytes(n) for n in (0, 999, 1500, 87_000_000, 436_400_000, 1.23e9)] == [
        "0 B", "999 B", "1.5 kB", "87 MB", "436 MB", "1.2 GB"]
