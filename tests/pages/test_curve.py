"""Learning-curve page: a real (tiny) curve drawn with error bars, the fit and the still-rising
sentence; launching a curve from a run's config queues tagged runs; user errors as messages."""
from __future__ import annotations

import json

import pytest

from engine import queue
from engine.curve import curve_result, curve_runs, list_curves, rising_sentence
from tests.engine.curve_runs import build_real_curve
from tests.pages.fakes import make_run, no_exception, page_test


@pytest.fixture(scope="module")
def curve_root(tmp_path_factory):
    return build_real_curve(tmp_path_factory.mktemp("page_curve"))


@pytest.fixture
def curve_ws(curve_root, monkeypatch):
    """The trained curve's workspace as $WORKBENCH_HOME (read only), the daemon stubbed."""
    monkeypatch.setenv("WORKBENCH_HOME", str(curve_root.root))
    monkeypatch.setattr(queue, "ensure_daemon", lambda store: 0)
    return curve_root


def _specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def _series(at) -> set[str]:
    """The series the chart's measured layers draw (its datasets travel as Arrow bytes)."""
    import pyarrow as pa

    chart = at.get("vega_lite_chart")[0]
    out: set[str] = set()
    for dataset in chart.proto.datasets:
        frame = pa.ipc.open_stream(dataset.data.data).read_all().to_pandas()
        if "series" in frame:
            out |= set(frame["series"])
    return out


def test_a_finished_curve_is_drawn_with_error_bars_fit_and_rising_types(curve_ws):
    at = page_test("curve")
    no_exception(at)
    assert at.selectbox(key="curve.chosen").value == curve_ws.curve_id
    specs = _specs(at)
    assert len(specs) == 1
    layers = specs[0]["layer"]
    marks = [layer["mark"]["type"] if isinstance(layer["mark"], dict) else layer["mark"]
             for layer in layers]
    assert marks.count("errorbar") == 2 and "area" in marks and "point" in marks  # fit + 2x
    assert any(isinstance(layer["mark"], dict) and layer["mark"].get("strokeDash")
               for layer in layers)
    assert _series(at) == {"all types", "LOC", "PER"}
    result = curve_result(curve_ws.store, curve_ws.curve_id)
    sentences = [m.value for m in at.success] + [m.value for m in at.info]
    assert rising_sentence(result) in sentences
    assert any("2× the data (96 examples)" in m.value for m in at.markdown)
    points = next(d.value for d in at.dataframe if "Share" in d.value.columns
                  and "Runs" in d.value.columns)
    assert list(points["Share"]) == ["25 %", "50 %", "100 %"]
    assert list(points["Train examples"]) == [12, 24, 48]
    first = result["points"][0]["dev"]
    assert points["Dev micro F1 (%)"].iloc[0] == \
        f"{100 * first['mean']:.1f} ± {100 * first['std']:.1f}"
    assert {"LOC F1 (%)", "PER F1 (%)"} <= set(points.columns)

    at.toggle(key="curve.per_type").set_value(False).run()
    no_exception(at)
    assert _series(at) == {"all types"}


def test_launch_queues_tagged_runs_from_a_runs_config(store, daemon_calls):
    base = make_run(store, name="base-ner")
    at = page_test("curve")
    no_exception(at)
    assert any("No learning curve yet" in m.value for m in at.info)
    at.text_input(key="curve.shares").set_value("0.5, 1").run()
    at.number_input(key="curve.seeds").set_value(2).run()
    assert any("4 runs" in c.value for c in at.caption)
    at.button(key="curve.launch").click().run()
    no_exception(at)
    curves = list_curves(store)
    assert len(curves) == 1 and daemon_calls == [store.root]
    runs = curve_runs(store, curves[0]["curve_id"])
    assert len(runs) == 4 and all(r["state"] == "queued" for r in runs)
    base_cfg = store.config(base)
    for run in runs:
        tags, cfg = run["status"]["tags"], store.config(run["id"])
        assert tags["curve"] == curves[0]["curve_id"] and tags["fraction"] in (0.5, 1.0)
        assert cfg["train_fraction"] == tags["fraction"] and cfg["seed"] == tags["seed"]
        assert cfg["learning_rate"] == base_cfg["learning_rate"]
    assert any(curves[0]["curve_id"] in s.value for s in at.success)
    assert at.selectbox(key="curve.chosen").value == curves[0]["curve_id"]
    assert any("0 of 4 runs completed" in m.value for m in at.info)


def test_bad_shares_are_an_error_message_not_a_traceback(store, daemon_calls):
    make_run(store, name="base-ner")
    at = page_test("curve")
    at.text_input(key="curve.shares").set_value("0.5, 2").run()
    no_exception(at)
    assert any("Shares of the training data" in e.value and "(0, 1]" in e.value
               for e in at.error)
    assert not [b for b in at.button if b.key == "curve.launch"]  # not offered
    assert daemon_calls == []


def test_an_empty_workspace_says_how_to_start(store):
    at = page_test("curve")
    no_exception(at)
    assert any("train one first" in m.value for m in at.info)



def test_a_fit_without_uncertainty_and_a_failing_read_are_drawn_without_traceback(curve_ws,
                                                                                monkeypatch):
    import pages.curve as page

    result = curve_result(curve_ws.store, curve_ws.curve_id)
    result["fit"]["predict_2x"]["std"] = None  # as with three runs for three parameters
    for p in result["fit"]["line"]:
        p["std"] = None
    monkeypatch.setattr(page, "curve_result", lambda store, curve_id: result)
    at = page_test("curve")
    no_exception(at)
    assert any("± ?" in m.value for m in at.markdown)
    assert any("cannot be estimated yet" in c.value for c in at.caption)

    def broken(store, curve_id):
        raise ValueError("disk on fire")

    monkeypatch.setattr(page, "curve_result", broken)
    at = page_test("curve")
    no_exception(at)
    assert any("disk on fire" in e.value for e in at.error)
