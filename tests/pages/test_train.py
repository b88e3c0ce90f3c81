"""Train page: AppTest fills and submits the form (presets, TOML import, invalid values); the
step estimate and LR curve are checked against the engine's own formulas."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import engine.queue
from core.config import RunConfig, config_to_dict, from_toml, to_toml, total_steps
from core.errors import ConfigError
from core.schedules import lr_multiplier
from core.config import schedule_params as _schedule_params
from engine.store import Store
from pages import train as page
from tests.pages.fakes import allow_data_roots

SCRIPT = "from pages import train\ntrain.render()\n"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    return tmp_path


@pytest.fixture
def daemon_calls(monkeypatch) -> list:
    calls: list = []
    monkeypatch.setattr(engine.queue, "ensure_daemon", lambda store: calls.append(store.root))
    return calls


def _app() -> AppTest:
    return AppTest.from_string(SCRIPT, default_timeout=60)


def _load_preset(at: AppTest, name: str) -> AppTest:
    at.selectbox(key="train.preset_choice").set_value(name)
    return at.button(key="train.preset_load").click().run()


def test_page_renders_with_curve_and_grouped_fields(home):
    at = _app().run()
    assert not at.exception and not at.error
    titles = [m.value for m in at.markdown if m.value.startswith("**")]
    assert titles == ["**Data**", "**Optimizer and schedule**", "**Model and adapter**", "**Loss**",
                      "**Regularisation**", "**Evaluation and early stopping**", "**Hardware**",
                      "**Augmentation**"]
    assert any("Learning rate per optimiser step" in c.value for c in at.caption)
    assert at.number_input(key="train.learning_rate").help == page.FIELD_HELP["learning_rate"]


def test_tiny_preset_launch_enqueues_one_run(home, daemon_calls):
    at = _load_preset(_app().run(), "Tiny smoke test")
    assert at.number_input(key="train.max_steps").value == 10
    at.button(key="train.launch").click().run()
    assert not at.exception and not at.error
    [run] = Store(home).list_runs()
    assert run["state"] == "queued"
    assert Store(home).config(run["id"]) == page.smoke_preset()
    assert at.session_state["run_id"] == run["id"]
    assert daemon_calls == [home]


def test_invalid_value_shows_the_key_and_enqueues_nothing(home, daemon_calls):
    at = _app().run()
    at.number_input(key="train.warmup_ratio").set_value(1.5).run()
    at.button(key="train.launch").click().run()
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith("warmup_ratio:")
    assert Store(home).list_runs() == [] and daemon_calls == []


def test_missing_data_file_is_refused_before_queueing(home, daemon_calls, tmp_path):
    allow_data_roots(home, tmp_path)
    at = _app().run()
    at.selectbox(key="train.train.choice").set_value(page.PATH).run()
    at.text_input(key="train.train.path").set_value(str(tmp_path / "nope.conll")).run()
    at.button(key="train.launch").click().run()
    assert at.error and at.error[0].value.startswith("train: no file")
    assert Store(home).list_runs() == []


def test_bad_toml_import_names_the_key(home, daemon_calls):
    at = _app().run()
    at.file_uploader(key="train.import").set_value(
        ("run.toml", b"learning_rat = 0.001\n", "application/toml")).run()
    assert not at.exception
    assert len(at.error) == 1
    assert "learning_rat" in at.error[0].value and "did you mean 'learning_rate'" in at.error[0].value
    assert at.number_input(key="train.learning_rate").value == 1e-4  # the form is unchanged
    assert Store(home).list_runs() == [] and daemon_calls == []


def test_toml_import_fills_the_form_and_export_round_trips(home):
    cfg = RunConfig(name="imported", task="classification", train="demo:demo-intent",
                    metric="accuracy", learning_rate=3e-4, schedule="cosine.v1", lr_cycles=0.5,
                    max_steps=40, augment=[{"name": "eda.v1", "n": 2}])
    at = _app().run()
    at.file_uploader(key="train.import").set_value(
        ("run.toml", to_toml(cfg).encode(), "application/toml")).run()
    assert not at.exception and not at.error
    assert at.number_input(key="train.learning_rate").value == pytest.approx(3e-4)
    assert at.selectbox(key="train.schedule").value == "cosine.v1"
    assert at.selectbox(key="train.train.choice").value == "demo:demo-intent"
    assert page.config_from_state(at.session_state["train.snapshot"]) == config_to_dict(cfg)


def test_state_round_trips_every_preset():
    refs = ["demo:demo-ner", "dataset:abc"]
    for name, make in page.PRESETS.items():
        d = make()
        assert page.config_from_state(page.state_from_config(d, refs)) == d, name


def test_augment_text_errors_name_the_key():
    with pytest.raises(ConfigError, match="^augment: not valid TOML"):
        page.augment_from_toml("[[augment]\nname = 1")
    with pytest.raises(ConfigError, match="^augment: only"):
        page.augment_from_toml("learning_rate = 1")
    assert page.augment_from_toml(page.AUGMENT_EXAMPLE) == [
        {"name": "mention_replacement.v1", "p": 0.3, "n": 1}]


@pytest.mark.parametrize("schedule", ["linear.v1", "cosine.v1", "polynomial.v1", "constant.v1",
                                      "inverse_sqrt.v1"])
def test_curve_is_the_engines_schedule(schedule):
    cfg = config_to_dict(RunConfig(schedule=schedule, learning_rate=2e-4, warmup_ratio=0.2,
                                   lr_min_ratio=0.1, lr_cycles=1.5, lr_power=2.0))
    assert page.schedule_params(cfg) == _schedule_params(RunConfig(**cfg))
    frame = page.curve_frame(cfg, 50)
    warmup = int(0.2 * 50)
    expected = [2e-4 * lr_multiplier(s, 50, warmup, schedule, **_schedule_params(RunConfig(**cfg)))
                for s in frame["step"]]
    np.testing.assert_allclose(frame["lr"].to_numpy(), expected, rtol=1e-12)
    assert frame["step"].to_list() == list(range(51))


def test_step_estimate_matches_the_loop():
    cfg = config_to_dict(RunConfig(batch_size=16, grad_accum=3, epochs=4, dev="x"))
    total, n, _ = page.estimate_steps(cfg, {"train": 1000})
    assert n == 1000
    assert total == total_steps(1000, RunConfig(**cfg))
    carved, n, how = page.estimate_steps({**cfg, "dev": None}, {"train": 1000})
    assert n == 900 and "dev" in how
    capped, _, _ = page.estimate_steps({**cfg, "max_steps": 7}, {"train": 1000})
    assert capped == 7


def test_presets_are_valid_configs():
    for name, make in page.PRESETS.items():
        cfg = from_toml(to_toml(RunConfig(**make())))
        assert config_to_dict(cfg) == make(), name


@pytest.mark.parametrize("train, message", [
    ("demo:nope", "train: unknown demo dataset 'nope'"),
    ("dataset:gone-123", "train: no stored dataset 'gone-123'"),
    ("demo:demo-intent", "train: demo:demo-intent holds classification data, but task is 'ner'"),
])
def test_bad_data_reference_is_refused(home, daemon_calls, train, message):
    at = _app().run()
    toml = to_toml(RunConfig(train=train)).encode()
    at.file_uploader(key="train.import").set_value(("run.toml", toml, "application/toml")).run()
    at.button(key="train.launch").click().run()
    assert not at.exception
    assert [e.value for e in at.error] and at.error[0].value.startswith(message)
    assert Store(home).list_runs() == [] and daemon_calls == []


def test_presets_load_with_the_cli_loader():
    """load_preset_file is `train --config`'s loader: the same dict for every example file."""
    from engine.cli import load_config_file

    for path in sorted(page.EXAMPLES.glob("*.toml")):
        assert page.load_preset_file(path) == config_to_dict(load_config_file(path)), path.name


def test_reference_check_is_the_workers(home, tmp_path, monkeypatch):
    """build_config checks references with engine.data.check_references (as the worker
    does): relative paths made absolute, stored datasets looked up in the page's store."""
    import engine.data

    assert page.check_references is engine.data.check_references
    (tmp_path / "t.conll").write_text("EU B-ORG\n")
    allow_data_roots(home, tmp_path)
    monkeypatch.chdir(tmp_path)
    state = page.state_from_config(config_to_dict(RunConfig(train="t.conll")), [])
    cfg = page.build_config(state, Store(home))
    assert cfg.train == str(tmp_path / "t.conll")
