"""The Sweeps page: a sweep whose trials the test plays (completed, pruned, running; the
worker's files written by hand, the real engine.sweep ticking the real Optuna study), the
new-sweep form (a knob's range → the stored spec, a bad range → the ConfigError), and
"Use best" handing the best trial's config to the Train page."""
from __future__ import annotations

import json
import math

import pytest
from streamlit.testing.v1 import AppTest

from core.sweep import spec_from_dict
from engine import sweep
from engine.runfolder import RunFolder
from engine.store import Store
from pages import sweeps as page
from tests.pages.fakes import TIMEOUT, _render_page, no_exception, page_test

BASE = {"train": "demo:ner", "epochs": 1, "max_train_examples": 20}
# per trial: its dev evaluations and what becomes of it
PLAN = [([0.50, 0.62, 0.70], "completed"), ([0.55, 0.66, 0.74], "completed"),
        ([0.40, 0.52, 0.58], "completed"), ([0.10], "pruned"), ([0.60], "running")]


def _evals(run: dict, values: list[float]) -> None:
    folder = RunFolder(run["dir"])
    for k, value in enumerate(values, start=1):
        folder.append_metrics({"event": "eval", "split": "dev", "step": 10 * k, "metric": "f1_micro",
                               "value": value, "f1_micro": value, "f1_macro": value / 2})


def _report(run: dict, best: float) -> None:
    RunFolder(run["dir"]).write_report({"task": "ner", "labels": ["O"], "metric": "f1_micro", "dev": {
        "entities": {"micro": {"f1": best}, "macro": {"f1": best / 2}, "per_type": {}}}})


def _live(store: Store, sweep_id: str) -> dict:
    (run,) = [r for r in store.tagged("sweep", sweep_id) if r["state"] in ("queued", "running")]
    return run


def build_sweep(store: Store) -> str:
    """A 5-trial sweep: three completed, one pruned by the median pruner, one running."""
    spec = spec_from_dict({"base": dict(BASE), "search": {
        "learning_rate": {"log_uniform": [1e-5, 1e-3]}, "batch_size": {"choice": [8, 16]}},
        "sweep": {"trials": 5, "sampler": "random", "pruner": "median"}})
    sweep_id = sweep.create(store, spec)
    for evals, end in PLAN:
        sweep.tick(store, sweep_id)
        run = _live(store, sweep_id)
        store.set_state(run["id"], "running")
        _evals(run, evals)
        if end == "completed":
            _report(run, max(evals))
            store.set_state(run["id"], "completed")
        sweep.tick(store, sweep_id)  # reports the evaluations; tells the value, or prunes
    return sweep_id


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("sweeps") / "workspace"
    store = Store(root)
    return root, build_sweep(store)


@pytest.fixture
def swept(workspace, monkeypatch, daemon_calls):
    """The sweep workspace as $WORKBENCH_HOME (tests read it; they do not change it)."""
    root, sweep_id = workspace
    monkeypatch.setenv("WORKBENCH_HOME", str(root))
    return Store(root), sweep_id


def _specs(at: AppTest) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def _titles(at: AppTest) -> str:
    return json.dumps([s.get("title") for s in _specs(at)])


def test_trials_table_and_charts_show_the_sweep(swept):
    store, sweep_id = swept
    shown = sweep.show(store, sweep_id)
    assert [t["state"] for t in shown["trials"]] == ["completed"] * 3 + ["pruned", "running"]
    at = page_test("sweeps")
    no_exception(at)
    table = next(d.value for d in at.dataframe if "#" in d.value.columns)
    assert list(table["#"]) == [t["number"] for t in shown["trials"]]
    assert [s.split(" ", 1)[1] for s in table["State"]] == [t["state"] for t in shown["trials"]]
    values = [None if math.isnan(v) else v for v in table["f1_micro"]]
    assert values == [t["value"] for t in shown["trials"]] == [0.70, 0.74, 0.58, None, None]
    assert list(table["learning_rate"]) == [t["params"]["learning_rate"] for t in shown["trials"]]
    assert list(table["Run"]) == [t["run_id"] for t in shown["trials"]]
    titles = _titles(at)
    for part in ("Best so far", "Parallel coordinates", "Parameter importance", "at each evaluation"):
        assert part in titles, titles
    assert any(m.value == "0.7400" for m in at.metric)  # best so far
    assert any(m.value == "#1" for m in at.metric)


def test_chart_frames_follow_the_trials(swept):
    store, sweep_id = swept
    shown = sweep.show(store, sweep_id)
    best = page.best_so_far_frame(shown)
    assert list(best["kind"]) == ["completed"] * 3 + ["pruned (last evaluation)"]
    assert list(best["best"]) == [0.70, 0.74, 0.74, 0.74]
    lines, ticks, axes = page.parallel_frame(shown)
    assert axes == ["learning_rate", "batch_size", "f1_micro"]
    assert sorted(set(lines["trial"])) == [0, 1, 2, 3]  # completed and pruned, not the running one
    assert lines["pos"].between(0, 1).all()
    t0 = shown["trials"][0]
    lr_pos = lines[(lines["trial"] == 0) & (lines["axis"] == "learning_rate")]["pos"].item()
    assert lr_pos == pytest.approx(math.log(t0["params"]["learning_rate"] / 1e-5) / math.log(100))
    bs_pos = lines[(lines["trial"] == 0) & (lines["axis"] == "batch_size")]["pos"].item()
    assert bs_pos == [8, 16].index(t0["params"]["batch_size"])
    assert set(ticks[ticks["axis"] == "batch_size"]["label"]) == {"8", "16"}
    inter = page.intermediate_frame(shown)
    assert set(inter[inter["state"] == "pruned"]["trial"]) == {3}
    assert len(inter) == sum(len(e) for e, _ in PLAN)


def test_use_best_opens_train_with_the_best_config(swept):
    store, sweep_id = swept
    at = page_test("sweeps")
    at.button(key="sweeps.use_best").click().run()
    no_exception(at)
    handed = at.session_state["_config.train"]
    best = sweep.best_config(store, sweep_id)
    assert handed["config"] == best and "best trial (#1" in handed["note"]
    train = AppTest.from_function(_render_page, args=("train",), default_timeout=TIMEOUT)
    train.session_state["_config.train"] = handed  # what Train finds after the switch
    train.run()
    no_exception(train)
    assert train.session_state["train.learning_rate"] == best["learning_rate"]
    assert train.session_state["train.batch_size"] == best["batch_size"]
    assert train.session_state["train.name"] == f"best of {sweep_id}"
    assert any("Loaded the best trial" in s.value for s in train.success)


def test_an_empty_workspace_explains_what_to_do(store):
    at = page_test("sweeps")
    no_exception(at)
    assert any("No sweep yet" in i.value for i in at.info)
    titles = _titles(at)  # the LR curves at the ends of the default learning_rate range
    assert "low end: lr 2.0e-05" in titles and "high end: lr 5.0e-04" in titles, titles


def test_lr_curves_are_drawn_at_both_ends_of_the_range():
    base = {"learning_rate": 1e-4, "warmup_ratio": 0.1, "schedule": "linear.v1",
            "lr_min_ratio": 0.0, "lr_cycles": 0.5, "lr_power": 1.0}
    df = page.lr_curve_frame(base, {"learning_rate": {"log_uniform": [1e-5, 3e-4]},
                                    "schedule": {"choice": ["linear.v1", "cosine.v1"]}})
    assert df.groupby(["end", "schedule"]).ngroups == 4  # low and high end, per schedule
    peaks = df.groupby("end")["lr"].max()
    assert peaks["low end"] == pytest.approx(1e-5) and peaks["high end"] == pytest.approx(3e-4)


def test_launch_creates_the_sweep_with_the_chosen_range_and_queues_trial_0(store, daemon_calls):
    at = page_test("sweeps")
    at.multiselect(key="sweeps.knobs").set_value(["learning_rate", "batch_size"]).run()
    at.number_input(key="sweeps.knob.learning_rate.low").set_value(2e-5)
    at.number_input(key="sweeps.trials").set_value(3)
    at.button(key="sweeps.launch").click().run()
    no_exception(at)
    (made,) = sweep.list_sweeps(store)
    spec = sweep.spec_of(store, made["sweep_id"])
    # low as set, high from the default range: five times the demo's 1e-4
    assert spec.search["learning_rate"].as_dict() == {"log_uniform": [2e-5, pytest.approx(5e-4)]}
    assert spec.search["batch_size"].as_dict() == {"choice": [16, 32]}
    assert spec.trials == 3 and daemon_calls
    (run,) = store.tagged("sweep", made["sweep_id"])
    assert run["status"]["tags"]["trial"] == 0 and run["state"] == "queued"
    assert store.config(run["id"])["learning_rate"] == 1e-4  # the demo's own value first
    assert any(f"Sweep {made['sweep_id']} queued: 3 trials" in s.value for s in at.success)
    at.button(key="sweeps.stop").click().run()
    assert sweep.show(store, made["sweep_id"])["state"] == "stopped"


def test_a_bad_range_shows_the_key_and_creates_nothing(store):
    at = page_test("sweeps")
    at.number_input(key="sweeps.knob.learning_rate.low").set_value(1e-3)
    at.number_input(key="sweeps.knob.learning_rate.high").set_value(1e-5)
    at.button(key="sweeps.launch").click().run()
    no_exception(at)
    errors = [e.value for e in at.error]
    assert any("search.learning_rate" in e and "empty range" in e for e in errors), errors
    assert sweep.list_sweeps(store) == []
