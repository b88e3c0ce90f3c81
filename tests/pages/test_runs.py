"""Runs page: the table, a selected run's curves and log, Cancel / Resume / Delete, errors."""
from __future__ import annotations

import json
import math
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
    assert df.loc[done, "State"] == "✓ completed" and df.loc[done, "Progress"] == 1.0
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
    assert common.fmt_duration(45) == "45s"
    assert common.fmt_duration(62) == "1m 2s"    # was "1 min 02 s", cut to "1 min 0…" in a tile
    assert common.fmt_duration(200) == "3m 20s"
    assert common.fmt_duration(789) == "13m"
    assert common.fmt_duration(7500) == "2h 5m"
    assert max(len(common.fmt_duration(s)) for s in range(0, 10 * 3600, 7)) <= 6
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


# ---- one read, one refresh: the table and the panel -----------------------------------------

CAPTURED: list = []  # the fragment call a timed redraw repeats (read by _timed_redraw)


def _timed_redraw() -> None:
    """What Streamlit runs every REFRESH_S seconds: the fragment's function, same arguments."""
    from tests.pages.test_runs import CAPTURED

    func, args, kwargs = CAPTURED[-1]
    func(*args, **kwargs)


@pytest.fixture
def fragments(monkeypatch) -> list:
    """st.fragment recording (function, run_every, args, kwargs) of each fragment call."""
    import streamlit

    real, calls = streamlit.fragment, []

    def recording(func=None, *, run_every=None, **kw):
        if func is None:
            return real(run_every=run_every, **kw)
        wrapped = real(func, run_every=run_every, **kw)

        def call(*args, **kwargs):
            calls.append((func, run_every, args, kwargs))
            return wrapped(*args, **kwargs)
        return call

    monkeypatch.setattr(streamlit, "fragment", recording)
    return calls


def _advance(store, run_id: str, upto: int) -> None:
    """The worker goes on to step `upto`: log lines every 10 steps (0.5 s each), an
    evaluation and a checkpoint at each 50, and status.json's step."""
    folder = RunFolder(store.run_dir(run_id))
    records = folder.read_metrics()
    t0, last = records[0]["time"], max(r["step"] for r in records if r["event"] == "log")
    for step in range(last + 10, upto + 1, 10):
        t = t0 + step * 0.5
        folder.append_metrics({"time": t, "event": "log", "step": step, "epoch": step / 50,
                               "loss": 0.3, "lr": 1e-4, "grad_norm": 1.0, "tokens_per_s": 1500.0})
        if step % 50 == 0:
            folder.append_metrics({"time": t + 0.2, "event": "eval", "split": "dev", "step": step,
                                   "metric": "f1_micro", "value": 0.7, "best": True})
            folder.append_metrics({"time": t + 0.3, "event": "checkpoint", "step": step, "path": "x"})
    folder.update_status(step=upto)


def test_a_timed_redraw_refreshes_the_table_together_with_the_panel(store, fragments):
    """The issue: the table kept '20 / 450 · ETA 18 min' while the panel under it, redrawn
    every 2 s, said step 160. Both are now one fragment drawn from one read of the run."""
    from streamlit.testing.v1 import AppTest

    from tests.pages.fakes import TIMEOUT

    live = make_run(store, name="live", state="running", progress=0.1)  # step 15 of 150
    at = page_test("runs", run=live)
    no_exception(at)
    timed = [(f, args, kw) for f, every, args, kw in fragments if every]
    assert len(timed) == 1 and all(every == runs_page.REFRESH_S for _, every, _, _ in fragments if every)
    assert _frame(at).set_index("ID").loc[live, "Steps"] == "15 / 150"
    _advance(store, live, 60)
    CAPTURED[:] = timed
    again = AppTest.from_function(_timed_redraw, default_timeout=TIMEOUT).run()
    no_exception(again)
    row = _frame(again).set_index("ID").loc[live]
    tiles = {m.label: m.value for m in again.metric}
    assert row["Steps"] == "60 / 150" and abs(row["Progress"] - 0.4) < 1e-9
    assert tiles["Progress"] == "40 %"
    assert row["ETA"] == tiles["Time left"] != "—"  # one estimate, from the same read


def test_a_timed_redraw_that_fails_shows_a_message(store, fragments, monkeypatch):
    from streamlit.testing.v1 import AppTest

    from engine.store import Store
    from tests.pages.fakes import TIMEOUT

    make_run(store, name="live", state="running", progress=0.4)
    no_exception(page_test("runs"))
    CAPTURED[:] = [(f, args, kw) for f, every, args, kw in fragments if every]

    def broken(self, **kwargs):
        raise OSError("disk gone")

    monkeypatch.setattr(Store, "list_runs", broken)
    again = AppTest.from_function(_timed_redraw, default_timeout=TIMEOUT).run()
    no_exception(again)
    assert any("disk gone" in e.value for e in again.error)


def test_without_live_runs_nothing_refreshes(store, fragments):
    make_run(store, name="done")
    no_exception(page_test("runs"))
    assert fragments and all(every is None for _, every, _, _ in fragments)


def test_table_eta_and_time_left_are_the_same_estimate(store):
    live = make_run(store, name="live", state="running", progress=0.4)
    at = page_test("runs", run=live)
    no_exception(at)
    eta_text = _frame(at).set_index("ID").loc[live, "ETA"]
    assert eta_text == next(m.value for m in at.metric if m.label == "Time left")
    assert eta_text[0].isdigit() and eta_text.endswith("s")  # e.g. "41s"


def test_an_early_run_is_still_estimating(store):
    live = make_run(store, name="early", state="running", progress=0.07)  # one log line
    at = page_test("runs", run=live)
    no_exception(at)
    assert _frame(at).set_index("ID").loc[live, "ETA"] == runs_page.ESTIMATING
    tile = next(m for m in at.metric if m.label == "Time left")
    assert tile.value == "—" and tile.delta == runs_page.ESTIMATING


# ---- tick labels ----------------------------------------------------------------------------

def _d3_ticks(start: float, stop: float, count: int) -> list[float]:
    """d3-array's ticks(start, stop, count), which Vega's axes use."""
    step = (stop - start) / count
    power = math.floor(math.log10(step))
    error = step / 10 ** power
    factor = 10 if error >= math.sqrt(50) else 5 if error >= math.sqrt(10) else 2 if error >= math.sqrt(2) else 1
    if power < 0:
        inc = 10 ** -power / factor
        i1, i2 = round(start * inc), round(stop * inc)
        i1 += i1 / inc < start
        i2 -= i2 / inc > stop
        return [i / inc for i in range(i1, i2 + 1)]
    inc = 10 ** power * factor
    i1, i2 = round(start / inc), round(stop / inc)
    i1 += i1 * inc < start
    i2 -= i2 * inc > stop
    return [i * inc for i in range(i1, i2 + 1)]


def _labels(axis: dict, lo: float, hi: float, height: int) -> list[str]:
    count = axis.get("tickCount", math.ceil(height / 40))  # Vega-Lite's default
    decimals = int(axis["format"].strip(".f"))
    return [f"{v:.{decimals}f}" for v in _d3_ticks(lo, hi, count)]


@pytest.mark.parametrize("scores", [[80.2, 80.9, 81.4], [80.21, 80.24, 80.3], [12.0, 55.0, 91.5],
                                    [80.0, 80.0]])
def test_dev_f1_axis_labels_are_distinct(scores):
    """'.0f' over ticks 0.2 apart read '80, 80, 81, 81': the decimals follow the ticks."""
    import pandas as pd

    evals = pd.DataFrame({"step": [50 * (i + 1) for i in range(len(scores))], "metric": "f1_micro",
                          "value": [s / 100 for s in scores],
                          "per_type_f1": [{"PER": s / 100, "LOC": s / 100 - 0.01} for s in scores]})
    dev = runs_page._dev_chart(evals, 150).to_dict()
    per_type = runs_page.per_type_chart(evals, 150).to_dict()
    for axis, lo, hi, height in ((dev["layer"][0]["encoding"]["y"]["axis"], min(scores), max(scores),
                                  runs_page.CHART_HEIGHT),
                                 (per_type["encoding"]["y"]["axis"], min(scores) - 1, max(scores), 260)):
        if hi > lo:
            labels = _labels(axis, lo, hi, height)
            assert len(labels) == len(set(labels)), labels
    loss = pd.DataFrame({"step": [10, 20, 30], "loss": [0.081, 0.083, 0.085]})
    axis = runs_page._line(loss, "loss", "Training loss", "ticks", "loss", 150).to_dict()["encoding"]["y"]["axis"]
    labels = _labels(axis, 0.0, 0.085, runs_page.CHART_HEIGHT)
    assert len(labels) == len(set(labels)), labels


# ---- where a Resume continues -----------------------------------------------------------------

def _real_checkpoints(run_dir: Path, steps) -> dict[int, Path]:
    import torch

    from engine import checkpoint

    model = torch.nn.Linear(4, 2)
    opt = torch.optim.AdamW(model.parameters())
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    return {step: checkpoint.save(run_dir, model, opt, sched, checkpoint.TrainState(step=step))
            for step in steps}


def test_cancelled_run_names_the_checkpoint_step_resume_continues_from(store):
    """The issue: the panel said step 160 (the last log line) where the checkpoint a
    Resume loads is step 172 (the one the cancel saved)."""
    run_id = make_run(store, name="stopped", state="cancelled", progress=0.5)
    run_dir = store.run_dir(run_id)
    paths = _real_checkpoints(run_dir, (50, 72))
    folder = RunFolder(run_dir)
    folder.append_metrics({"time": 1.0, "event": "stopped", "step": 72, "checkpoint": str(paths[72])})
    folder.update_status(step=70)
    at = page_test("runs", run=run_id)
    no_exception(at)
    note = next(i.value for i in at.info if i.value.startswith("Cancelled"))
    assert "Last logged step 70" in note and "**Resume** continues from step 72" in note
    # a torn newest checkpoint: Resume falls back to the one before, and so does the page
    weights = paths[72] / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:40])
    folder.update_status(step=70)  # a new status: the cached answer is dropped
    at = page_test("runs", run=run_id)
    note = next(i.value for i in at.info if i.value.startswith("Cancelled"))
    assert "continues from step 50" in note


def test_a_run_without_checkpoints_resumes_from_step_0(store):
    run_id = make_run(store, name="broken", state="failed", progress=0.2, error="boom")
    at = page_test("runs", run=run_id)
    no_exception(at)
    assert any("no checkpoint was saved" in c.value and "step 0" in c.value for c in at.caption)


# ---- Clone and edit ---------------------------------------------------------------------------

@pytest.mark.parametrize("state", ["completed", "failed", "cancelled", "running"])
def test_clone_and_edit_hands_the_runs_config_to_train(store, state):
    run_id = make_run(store, name="source", state=state, progress=0.5, error="x" if state == "failed" else None)
    at = page_test("runs", run=run_id)
    at.button(key="runs.clone").click().run()
    no_exception(at)
    assert at.session_state["train_from_config"] == store.config(run_id)
    assert at.session_state["train_from_run"] == f"source ({run_id})"


def test_clone_and_edit_opens_the_train_page(store):
    from tests.pages.fakes import app_test

    at = app_test()
    at.button(key="home.demo_ner").click().run()  # now on Runs, the demo selected
    assert at.title[0].value == "Runs"
    at.button(key="runs.clone").click().run()
    no_exception(at)
    assert at.title[0].value == "Train"


def test_viewers_get_no_clone_button(store):
    from tests.pages.fakes import as_user

    run_id = make_run(store, name="source")
    (store.root / "workbench.toml").write_text('[access]\nviewers = ["vi@example.org"]\n')
    at = as_user(page_test("runs", run=run_id), "vi@example.org").run()
    no_exception(at)
    assert at.subheader and not any(b.label == "Clone and edit" for b in at.button)
    at = page_test("runs", run=run_id)  # the local admin
    assert any(b.label == "Clone and edit" for b in at.button)
