"""Train page: AppTest fills and submits the form (presets, TOML import, invalid values); the
step estimate and LR curve are checked against the engine's own formulas."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import engine.queue
from core.config import RunConfig, config_from_dict, config_to_dict, from_toml, to_toml, total_steps
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
    lr = at.number_input(key="train.learning_rate")
    assert lr.label == page.FIELD_LABELS["learning_rate"] == "Peak learning rate"
    assert lr.help.startswith(page.FIELD_HELP["learning_rate"]) and "`learning_rate`" in lr.help


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
    """Every preset comes back from the widgets, its demo references in their full form
    ('demo:ner' is 'demo:demo-ner', so each demo is listed once)."""
    refs = ["demo:demo-ner", "dataset:abc"]
    for name, make in page.PRESETS.items():
        d = make()
        assert page.config_from_state(page.state_from_config(d, refs)) == page.canonical(d), name
    assert page.canonical({"train": "demo:ner", "dev": None})["train"] == "demo:demo-ner"


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
    """build_config checks references through engine/preflight.py with
    engine.data.check_references (as the worker does): relative paths made absolute, stored
    datasets looked up in the page's store."""
    import engine.data
    import engine.preflight

    assert page.preflight is engine.preflight
    assert engine.preflight.check_references is engine.data.check_references
    (tmp_path / "t.conll").write_text("".join(f"W{i} B-ORG\n\n" for i in range(12)))  # dev: carved
    allow_data_roots(home, tmp_path)
    monkeypatch.chdir(tmp_path)
    state = page.state_from_config(config_to_dict(RunConfig(train="t.conll")), [])
    cfg = page.build_config(state, Store(home))
    assert cfg.train == str(tmp_path / "t.conll")


# ---- the worker's early checks (engine/preflight.py) ------------------------------------------

def _imported(at: AppTest, cfg: RunConfig) -> AppTest:
    return at.file_uploader(key="train.import").set_value(
        ("run.toml", to_toml(cfg).encode(), "application/toml")).run()


@pytest.mark.parametrize("button", ["train.check", "train.launch"])
def test_missing_model_folder_is_refused_before_queueing(home, daemon_calls, tmp_path, button):
    missing = tmp_path / "no-such-model"
    at = _imported(_app().run(), RunConfig(train="demo:demo-ner", model=str(missing)))
    at.button(key=button).click().run()
    assert not at.exception
    assert [e.value for e in at.error] and at.error[0].value.startswith("model: ")
    assert str(missing) in at.error[0].value and "not found" in at.error[0].value
    assert not at.success
    assert Store(home).list_runs() == [] and daemon_calls == []


@pytest.mark.parametrize("button", ["train.check", "train.launch"])
def test_absent_gpu_is_refused_before_queueing(home, daemon_calls, monkeypatch, button):
    from engine import preflight

    monkeypatch.setattr(preflight, "cuda_device_count", lambda: 2)
    at = _imported(_app().run(), RunConfig(train="demo:demo-ner", device="cuda:7"))
    at.button(key=button).click().run()
    assert not at.exception
    assert [e.value for e in at.error] == [
        "device: 'cuda:7' asked for, but this machine has 2 GPUs; use one of 'cuda:0' … "
        "'cuda:1' or 'auto'"]
    assert Store(home).list_runs() == [] and daemon_calls == []


def test_check_function_refuses_what_the_worker_would(home, tmp_path, monkeypatch):
    from engine import preflight

    monkeypatch.setattr(preflight, "cuda_device_count", lambda: 0)
    store = Store(home)
    for overrides, start in [({"model": str(tmp_path / "gone")}, "model: "),
                             ({"device": "cuda"}, "device: 'cuda' asked for, but no CUDA GPU"),
                             ({"max_length": 4096}, "max_length: 4096 is more than")]:
        state = page.state_from_config(config_to_dict(RunConfig(**overrides)), [])
        with pytest.raises(ConfigError, match="^" + start.replace("(", r"\(")):
            page.check_settings(state, store)


def test_a_tiny_config_passes_the_check(home, tmp_path):
    from tests.engine.runs import make_run_config

    allow_data_roots(home, tmp_path)
    d = make_run_config(tmp_path, "classification")
    cfg, warnings = page.check_settings(page.state_from_config(d, []), Store(home))
    assert cfg.model == d["model"] and warnings == []
    at = _imported(_app().run(), config_from_dict(d))
    at.button(key="train.check").click().run()
    assert not at.exception and not at.error
    assert at.success[-1].value.startswith("Settings are valid")


def test_a_dev_label_unseen_in_train_is_a_warning(home, tmp_path, daemon_calls):
    from core.formats import write_jsonl
    from core.records import TextExample

    allow_data_roots(home, tmp_path)
    train = [TextExample(f"hello {i}", ("greeting",)) for i in range(8)]
    dev = [TextExample("bye", ("farewell",)), TextExample("hi", ("greeting",))]
    for name, records in (("train", train), ("dev", dev)):
        (tmp_path / f"{name}.jsonl").write_text(write_jsonl(records))
    cfg = RunConfig(task="classification", metric="accuracy", train=str(tmp_path / "train.jsonl"),
                    dev=str(tmp_path / "dev.jsonl"), max_length=64)
    at = _imported(_app().run(), cfg)
    at.button(key="train.check").click().run()
    assert not at.exception and not [e.value for e in at.error]
    assert [w.value for w in at.warning] == [
        "dev: 1 label never seen in train: 'farewell' (1×); the model cannot predict it, so "
        "dev scores count every one as an error"]
    assert Store(home).list_runs() == []


# ---- the task follows the data; what the selectors list and say -------------------------------

def test_choosing_classification_data_switches_the_task(home):
    at = _app().run()
    assert at.selectbox(key="train.task").value == "ner"
    at.selectbox(key="train.train.choice").set_value("demo:demo-intent").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="train.task").value == "classification"
    assert at.selectbox(key="train.metric").value in page.METRICS["classification"]
    assert any("Task set to 'classification'" in s.value for s in at.success)


def test_choosing_a_stored_dataset_switches_the_task_and_shows_its_name(home):
    from tests.engine.runs import text_examples

    store = Store(home)
    ds = store.add_dataset("support-intents", "classification",
                           {"train": text_examples(20, 1), "dev": text_examples(6, 2)},
                           meta={"splits": {"train": 20, "dev": 6}})
    at = _app().run()
    box = at.selectbox(key="train.train.choice")
    assert "support-intents (classification: train 20, dev 6)" in box.options
    assert f"dataset:{ds}" not in box.options  # the id is the value, not the label
    box.set_value(f"dataset:{ds}").run()
    assert at.selectbox(key="train.task").value == "classification"
    dev = at.selectbox(key="train.dev.choice")
    assert dev.value == page.NONE
    assert dev.options[0] == "the dataset's own dev split (6 examples)"


def test_dev_none_says_what_the_run_uses(home, tmp_path):
    at = _app().run()  # Demo NER: the demo has its own dev and test splits
    assert at.selectbox(key="train.dev.choice").options[0] == "the dataset's own dev split (318 examples)"
    assert at.selectbox(key="train.test.choice").options[0] == "the dataset's own test split (297 examples)"
    at.selectbox(key="train.train.choice").set_value(page.PATH).run()
    assert at.selectbox(key="train.dev.choice").options[0] == "none: hold out 10% of train"
    assert at.selectbox(key="train.test.choice").options[0] == "none"
    assert page.none_label("dev", {"train": 5}) == "none: hold out 10% of train"


def test_each_demo_is_listed_once(home):
    at = _app().run()  # Demo NER's file says train = "demo:ner"
    box = at.selectbox(key="train.train.choice")
    assert box.value == "demo:demo-ner"
    demos = [o for o in box.options if "(demo, " in o]
    assert len(demos) == len(set(demos)) == len(page.DEMOS)


# ---- labels and greyed-out knobs ---------------------------------------------------------------

def test_every_knob_has_a_human_label_and_its_key_in_the_help(home):
    assert set(page.FIELD_LABELS) == set(page.DEFAULTS)
    assert all(label != key for key, label in page.FIELD_LABELS.items()), \
        [k for k, v in page.FIELD_LABELS.items() if v == k]
    at = _app().run()
    for key in ("adam_beta1", "lr_min_ratio"):
        widget = at.number_input(key=f"train.{key}")
        assert widget.label == page.FIELD_LABELS[key] and f"`{key}`" in widget.help
    assert at.selectbox(key="train.label_alignment").label == "Sub-tokens carrying a word's label"
    assert at.checkbox(key="train.fast_path").label.startswith("Fast path")
    assert at.checkbox(key="train.cuda_graphs").label == "CUDA graphs"


def test_inapplicable_knobs():
    state = page.state_from_config(config_to_dict(RunConfig()), [])
    off = page.inapplicable(state)
    assert {"focal_gamma", "class_weight_beta", "lr_cycles", "lr_power", *page.LORA} <= off
    assert not off & set(page.NER_ONLY)
    on = page.inapplicable({**state, "train.loss": "focal.v1", "train.adapter": "lora",
                            "train.class_weights": "effective_number.v1",
                            "train.schedule": "cosine.v1", "train.task": "classification"})
    assert not on & {"focal_gamma", "class_weight_beta", "lr_cycles", *page.LORA}
    assert set(page.NER_ONLY) <= on


def test_knobs_that_do_not_apply_are_greyed_out(home):
    at = _app().run()
    assert at.number_input(key="train.focal_gamma").disabled
    assert at.number_input(key="train.lora_r").disabled
    assert at.text_input(key="train.lora_target_modules").disabled
    assert at.number_input(key="train.class_weight_beta").disabled
    assert not at.number_input(key="train.context").disabled
    at.selectbox(key="train.loss").set_value("focal.v1").run()
    at.selectbox(key="train.adapter").set_value("lora").run()
    at.selectbox(key="train.class_weights").set_value("effective_number.v1").run()
    assert not at.number_input(key="train.focal_gamma").disabled
    assert not at.number_input(key="train.lora_r").disabled
    assert not at.number_input(key="train.class_weight_beta").disabled
    at.selectbox(key="train.task").set_value("classification").run()
    assert not at.exception
    assert at.number_input(key="train.context").disabled
    assert at.number_input(key="train.window_stride").disabled
    for key in ("decoding", "label_alignment", "train_scheme"):
        assert at.selectbox(key=f"train.{key}").disabled, key


# ---- presets ------------------------------------------------------------------------------------

def test_editing_a_knob_drops_the_preset_and_its_name(home, daemon_calls):
    at = _load_preset(_app().run(), "Tiny smoke test")
    assert at.selectbox(key="train.preset_choice").value == "Tiny smoke test"
    assert at.text_input(key="train.name").value == "smoke-test"
    at.number_input(key="train.learning_rate").set_value(3e-4).run()
    assert not at.exception
    assert at.selectbox(key="train.preset_choice").value == page.CUSTOM
    assert at.text_input(key="train.name").value == ""
    assert any("Changed from preset “Tiny smoke test” (learning_rate)" in i.value and
               "no longer named “smoke-test”" in i.value for i in at.info)
    at.button(key="train.launch").click().run()
    [run] = Store(home).list_runs()
    assert Store(home).config(run["id"])["name"] == "" and "smoke-test" not in run["id"]


def test_a_name_of_ones_own_survives_editing(home):
    at = _load_preset(_app().run(), "Tiny smoke test")
    at.text_input(key="train.name").set_value("mine").run()
    assert at.selectbox(key="train.preset_choice").value == "Tiny smoke test"  # the name aside
    at.number_input(key="train.epochs").set_value(2).run()
    assert at.text_input(key="train.name").value == "mine"
    assert at.selectbox(key="train.preset_choice").value == page.CUSTOM


def test_tiny_preset_caption_counts_the_examples_the_run_uses(home):
    at = _load_preset(_app().run(), "Tiny smoke test")
    [caption] = [c.value for c in at.caption if c.value.startswith("Learning rate per")]
    assert "200 training examples (max_train_examples: the first 200 of 2,385)" in caption
    assert "10 steps" in caption
    _, n, how = page.estimate_steps({**page.smoke_preset(), "max_steps": None,
                                     "train_fraction": 0.5}, {"train": 2385, "dev": 318})
    assert n == 100 and how.startswith("≈ 100 training examples (train_fraction 0.5 of 200")


# ---- a run's config handed over by the Runs page ---------------------------------------------

def test_run_config_from_the_runs_page_loads_into_the_form(home):
    cfg = RunConfig(name="clone-me", task="classification", train="demo:demo-intent",
                    metric="accuracy", learning_rate=7e-4, max_steps=12)
    at = _app()
    at.session_state["train_from_config"] = config_to_dict(cfg)
    at.session_state["train_from_run"] = "clone-me"
    at.run()
    assert not at.exception and not at.error
    assert "train_from_config" not in at.session_state
    assert "Loaded from run clone-me." in [s.value for s in at.success]
    assert at.number_input(key="train.learning_rate").value == pytest.approx(7e-4)
    assert at.selectbox(key="train.task").value == "classification"
    assert at.selectbox(key="train.preset_choice").value == page.CUSTOM
    assert page.config_from_state(at.session_state["train.snapshot"]) == config_to_dict(cfg)
    at.run()  # taken once: a rerun keeps the form and says nothing again
    assert "Loaded from run clone-me." not in [s.value for s in at.success]
    assert at.number_input(key="train.learning_rate").value == pytest.approx(7e-4)


def test_a_bad_run_config_from_the_runs_page_names_the_run(home):
    at = _app()
    at.session_state["train_from_config"] = {"learning_rat": 1e-3}
    at.session_state["train_from_run"] = "old-run"
    at.run()
    assert not at.exception
    assert [e.value for e in at.error] and at.error[0].value.startswith("run old-run: unknown "
                                                                         "config key 'learning_rat'")
    assert at.number_input(key="train.learning_rate").value == pytest.approx(1e-4)  # kept
