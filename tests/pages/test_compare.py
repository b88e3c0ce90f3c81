"""Compare page: score table, config differences, overlaid curves, per-entity bars."""
from __future__ import annotations

import json

from pages.compare import config_differences, display_names
from tests.pages.fakes import make_run, no_exception, page_test


def _table(at, column):
    return next(d.value for d in at.dataframe if column in d.value.columns)


def _specs(at):
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def test_two_runs_side_by_side(store):
    a = make_run(store, name="lr-1e-4", seed=1)
    b = make_run(store, name="lr-3e-5", seed=2, learning_rate=3e-5)
    at = page_test("compare")
    no_exception(at)
    assert set(at.multiselect(key="compare.runs").value) == {a, b}
    scores = _table(at, "Test micro F1").set_index("Run")
    for run_id, name in ((a, "lr-1e-4"), (b, "lr-3e-5")):
        rep = json.loads((store.run_dir(run_id) / "report.json").read_text())
        assert abs(scores.loc[name, "Test micro F1"] - 100 * rep["test"]["entities"]["micro"]["f1"]) < 1e-9
        assert abs(scores.loc[name, "Dev macro F1"] - 100 * rep["dev"]["entities"]["macro"]["f1"]) < 1e-9
    assert "Model" not in scores.columns  # the same for both: said once above the table
    diff = _table(at, "Setting").set_index("Setting")
    assert list(diff.index) == ["learning_rate"]
    assert diff.loc["learning_rate", "lr-3e-5"] == "3e-05"
    specs = _specs(at)
    titles = [json.dumps(s.get("title")) for s in specs]
    assert any("Dev micro F1" in t for t in titles) and any("Training loss" in t for t in titles)
    bars = next(s for s in specs if "xOffset" in s.get("encoding", {}))
    assert bars["encoding"]["xOffset"]["field"] == "run"
    per_type = _table(at, "Entity type").set_index("Entity type")
    assert list(per_type.index) == ["LOC", "MISC", "ORG", "PER"]


def test_split_switch_changes_per_entity_scores(store):
    a, b = make_run(store, name="a", seed=1), make_run(store, name="b", seed=2)
    at = page_test("compare")
    at.button_group(key="compare.split").set_value("dev").run()
    no_exception(at)
    rep = json.loads((store.run_dir(a) / "report.json").read_text())
    per_type = _table(at, "Entity type").set_index("Entity type")
    assert abs(per_type.loc["PER", "a"] - 100 * rep["dev"]["entities"]["per_type"]["PER"]["f1"]) < 1e-9
    assert any("on dev" in s.value for s in at.subheader)
    del b


def test_one_run_chosen_asks_for_another(store):
    a, _ = make_run(store, name="a"), make_run(store, name="b")
    at = page_test("compare")
    at.multiselect(key="compare.runs").set_value([a]).run()
    no_exception(at)
    assert any("at least two" in i.value for i in at.info)


def test_run_without_report_is_a_warning(store):
    a, b = make_run(store, name="a"), make_run(store, name="b")
    (store.run_dir(b) / "report.json").write_text("garbage")
    at = page_test("compare")
    no_exception(at)
    assert any("No readable report.json for b" in w.value for w in at.warning)
    scores = _table(at, "Test micro F1").set_index("Run")
    assert scores.loc["b", "Test micro F1"] != scores.loc["b", "Test micro F1"]  # NaN: left blank
    del a


def test_fewer_than_two_completed_runs(store):
    make_run(store, name="only")
    make_run(store, name="live", state="running", progress=0.5)
    at = page_test("compare")
    no_exception(at)
    assert any("at least two completed" in i.value for i in at.info)


def test_config_differences_and_names():
    configs = {"a": {"lr": 1, "name": "x", "seed": 1}, "b": {"lr": 2, "name": "y", "seed": 1},
               "c": {"lr": 1, "name": "z", "seed": 1, "extra": [1]}}
    assert config_differences(configs) == {"extra": {"a": None, "b": None, "c": [1]},
                                           "lr": {"a": 1, "b": 2, "c": 1}}
    names = display_names([{"id": "r-aaaa", "name": "same"}, {"id": "r-bbbb", "name": "same"},
                           {"id": "r-cccc", "name": ""}])
    assert names == {"r-aaaa": "same (aaaa)", "r-bbbb": "same (bbbb)", "r-cccc": "r-cccc"}


def test_a_damaged_report_breaks_neither_compare_nor_the_other_reports(store):
    good = [make_run(store, name=f"good-{i}", seed=i) for i in range(2)]
    bad = make_run(store, name="bad")
    (store.run_dir(bad) / "report.json").write_text(json.dumps({"task": "ner", "dev": {"entities": 5}, "test": "x"}))
    at = page_test("compare")
    no_exception(at)
    assert not at.error
    at = page_test("report", run=bad)
    no_exception(at)
    assert any("damaged" in e.value and "dev.entities is not an object" in e.value for e in at.error)
    at = page_test("report", run=good[0])
    no_exception(at)
    assert not at.error


def test_missing_values_read_as_a_dash_never_none(store):
    """Two runs whose config.json is unreadable share no model: the caption said
    'Model: **None**'."""
    a, b = make_run(store, name="a", seed=1), make_run(store, name="b", seed=1)
    for run_id in (a, b):
        (store.run_dir(run_id) / "config.json").write_text("{broken")
    at = page_test("compare")
    no_exception(at)
    texts = [e.value for kind in ("markdown", "caption", "info", "warning", "success", "subheader")
             for e in getattr(at, kind)]
    assert not [t for t in texts if "None" in t], texts
    assert any("Model: **—**" in t for t in texts)
    assert any(w.value.startswith(("No readable config.json for a, b:",
                                   "No readable config.json for b, a:")) for w in at.warning)
