import dataclasses
import json
import tomllib
import typing

import pytest
from hypothesis import given, settings, strategies as st

from core import config as C
from core.config import (FIELD_GROUPS, FIELD_HELP, RunConfig, config_from_dict, config_to_dict,
                         from_json, from_toml, to_json, to_toml, validate, validate_names)
from core.errors import ConfigError

FIELDS = [f.name for f in dataclasses.fields(RunConfig)]
HINTS = typing.get_type_hints(RunConfig)


# ---- strategies: every well-typed config (a superset of the valid ones) ------------------------

_floats = st.floats(allow_nan=False, allow_infinity=False, width=64)
_ints = st.integers(-(2**63), 2**63 - 1)
_texts = st.text(max_size=12)
_scalars = st.one_of(st.booleans(), _ints, _floats, _texts)
_params = st.recursive(_scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(_texts, inner, max_size=3)), max_leaves=6)
_augmenters = st.lists(st.fixed_dictionaries(
    {"name": st.sampled_from(["mention_replacement.v1", "shuffle_within_segments.v1"]),
     "p": st.floats(0, 1)}, optional={"n": st.integers(1, 5)}).flatmap(
    lambda d: st.dictionaries(_texts, _params, max_size=3).map(lambda extra: {**extra, **d})),
    max_size=3)


def _strategy(tp):
    args = typing.get_args(tp)
    if typing.get_origin(tp) in (typing.Union, __import__("types").UnionType):
        inner = [a for a in args if a is not type(None)][0]
        return st.none() | _strategy(inner)
    if tp is bool:
        return st.booleans()
    if tp is int:
        return _ints
    if tp is float:
        return _floats
    if tp is str:
        return st.text(max_size=20)
    if tp == list[str]:
        return st.lists(st.text(max_size=8), max_size=4)
    if tp == list[dict]:
        return _augmenters
    raise AssertionError(f"no strategy for {tp}")


typed_configs = st.builds(RunConfig, **{name: _strategy(HINTS[name]) for name in FIELDS})

valid_configs = st.builds(
    RunConfig,
    task=st.just("ner"), adapter=st.sampled_from(C.ADAPTERS),
    learning_rate=st.floats(1e-7, 1.0), warmup_ratio=st.floats(0, 0.99),
    max_length=st.integers(16, 512), window_stride=st.integers(0, 13),
    grad_clip=st.none() | st.floats(0.01, 10), dropout=st.none() | st.floats(0, 0.9),
    max_steps=st.none() | st.integers(1, 10**6), train_scheme=st.sampled_from(C.SCHEMES),
    tag_scheme=st.sampled_from(("auto",) + C.SCHEMES), name=st.text(max_size=20),
    schedule=st.sampled_from(["constant.v1", "linear.v1", "cosine.v1"]),
    device=st.sampled_from(["auto", "cpu", "cuda", "cuda:1"]), augment=_augmenters,
    lora_target_modules=st.lists(st.sampled_from(["query", "key", "value", "dense"]),
                                 min_size=1, max_size=3))


@settings(max_examples=150, deadline=None)
@given(typed_configs)
def test_toml_and_json_round_trip_every_well_typed_config(cfg):
    assert from_toml(to_toml(cfg)) == cfg
    assert from_json(to_json(cfg)) == cfg


@settings(max_examples=60, deadline=None)
@given(valid_configs)
def test_valid_configs_validate_and_round_trip(cfg):
    validate(cfg)
    assert from_toml(to_toml(cfg)) == cfg
    assert config_from_dict(config_to_dict(cfg)) == cfg


def test_toml_is_flat_keys_plus_augment_tables_and_omits_none():
    cfg = RunConfig(dev=None, grad_clip=None, max_steps=100,
                    augment=[{"name": "mention_replacement.v1", "p": 0.3, "n": 1}])
    text = to_toml(cfg)
    data = tomllib.loads(text)
    assert "dev" not in data and "eval_every" not in data  # None with a None default: left out
    assert data["grad_clip"] == "none"  # None whose default is a value must survive
    assert data["max_steps"] == 100
    assert data["augment"] == [{"name": "mention_replacement.v1", "p": 0.3, "n": 1}]
    assert "[[augment]]" in text
    assert from_toml(text).grad_clip is None
    assert from_toml("").grad_clip == 1.0


def test_json_holds_every_key_and_null():
    data = json.loads(to_json(RunConfig()))
    assert list(data) == FIELDS
    assert data["dev"] is None and data["augment"] == []


def test_defaults_are_documented_and_grouped():
    cfg = RunConfig()
    validate(cfg)
    assert set(FIELD_HELP) == set(FIELDS) and all(h.strip() for h in FIELD_HELP.values())
    assert all("\n" not in h for h in FIELD_HELP.values())
    grouped = [name for names in FIELD_GROUPS.values() for name in names]
    assert grouped == FIELDS  # each field in exactly one group, in declaration order
    assert list(FIELD_GROUPS) == ["data", "model", "loss", "optimizer", "regularisation",
                                  "evaluation", "hardware", "augmentation"]
    assert "learning_rate" in FIELD_GROUPS["optimizer"] and FIELD_GROUPS["augmentation"] == [
        "augment"]
    assert cfg.lora_target_modules == ["query", "value"]
    assert RunConfig().lora_target_modules is not cfg.lora_target_modules  # no shared default


def test_unknown_key_names_it_and_suggests_the_closest():
    with pytest.raises(ConfigError, match=r"'learnig_rate'.*did you mean 'learning_rate'"):
        config_from_dict({"learnig_rate": 1e-4})
    with pytest.raises(ConfigError, match=r"unknown config key 'zzzz'$"):
        config_from_dict({"zzzz": 1})
    with pytest.raises(ConfigError, match="did you mean 'batch_size'"):
        from_toml("batchsize = 8")


@pytest.mark.parametrize("key,value,expected,shown", [
    ("batch_size", "32", "int", "'32' (str)"),
    ("batch_size", True, "int", "True (bool)"),       # bools are not ints
    ("batch_size", 3.0, "int", "3.0 (float)"),
    ("learning_rate", "fast", "float", "'fast' (str)"),
    ("fast_path", 1, "bool", "1 (int)"),
    ("keep_checkpoints", 1.5, "int", "1.5 (float)"),
    ("max_steps", "10", "int or null", "'10' (str)"),
    ("lora_target_modules", "query", "list of str", "'query' (str)"),
    ("lora_target_modules", ["query", 3], "str", "[1]: expected str, found 3 (int)"),
    ("augment", [{"name": "x.v1", "p": None}], "null is not allowed", "[0].p"),
    ("augment", {"name": "x.v1"}, "list of dict", "{'name': 'x.v1'} (dict)"),
])
def test_wrong_type_names_key_type_and_value(key, value, expected, shown):
    with pytest.raises(ConfigError) as err:
        config_from_dict({key: value})
    message = str(err.value)
    assert message.startswith(key) and expected in message and shown in message, message


def test_keep_checkpoints_is_an_ordinary_knob():
    assert RunConfig().keep_checkpoints == 0
    assert "keep_checkpoints" in FIELD_GROUPS["evaluation"] and FIELD_HELP["keep_checkpoints"]
    validate(dataclasses.replace(RunConfig(), keep_checkpoints=3))
    assert from_toml(to_toml(RunConfig(keep_checkpoints=3))).keep_checkpoints == 3
    assert config_from_dict({}).keep_checkpoints == 0  # a config.json written before it


def test_tracking_is_off_by_default_and_takes_a_list_or_comma_separated_names():
    cfg = RunConfig()
    assert (cfg.tracking, cfg.tracking_uri, cfg.tracking_experiment) == ("", "", "workbench")
    assert C.trackers(cfg) == () and C.TRACKERS == ("mlflow", "tensorboard")
    assert {"tracking", "tracking_uri", "tracking_experiment"} <= set(FIELD_GROUPS["evaluation"])
    listed = from_toml('tracking = ["mlflow", "tensorboard"]\ntracking_uri = "http://host:5000"')
    assert listed.tracking == "mlflow,tensorboard"
    assert C.trackers(listed) == ("mlflow", "tensorboard") == C.trackers(config_to_dict(listed))
    validate(listed)
    assert from_toml(to_toml(listed)) == listed and from_json(to_json(listed)) == listed
    spaced = RunConfig(tracking=" TensorBoard , ", tracking_uri="sqlite:////tmp/x/mlflow.db")
    validate(spaced)
    assert C.trackers(spaced) == ("tensorboard",)


def test_bad_tracking_names_the_key_and_the_allowed_trackers():
    with pytest.raises(ConfigError, match=r"^tracking: expected one of 'mlflow', 'tensorboard', "
                                          r"found 'mlflw'; did you mean 'mlflow'\?"):
        validate(RunConfig(tracking="mlflw"))
    with pytest.raises(ConfigError, match=r"^tracking: names a tracker twice"):
        validate(RunConfig(tracking="mlflow, MLflow"))
    with pytest.raises(ConfigError, match=r"^tracking_uri: expected a URI such as "
                                          r"'sqlite:///path/mlflow.db'.*found 'mlruns'"):
        validate(RunConfig(tracking="mlflow", tracking_uri="mlruns"))
    with pytest.raises(ConfigError, match=r"^tracking: expected str, found \['mlflow', 3\]"):
        config_from_dict({"tracking": ["mlflow", 3]})
    with pytest.raises(ConfigError, match=r"^tracking_uri: expected str, found 5 \(int\)"):
        config_from_dict({"tracking_uri": 5})
    with pytest.raises(ConfigError, match=r"did you mean 'tracking_uri'"):
        config_from_dict({"tracking_url": "http://host:5000"})


def test_ints_are_accepted_for_floats():
    cfg = config_from_dict({"learning_rate": 1, "grad_clip": 2})
    assert cfg.learning_rate == 1.0 and isinstance(cfg.learning_rate, float)
    assert isinstance(cfg.grad_clip, float)


def test_malformed_text_is_a_config_error():
    with pytest.raises(ConfigError, match="TOML"):
        from_toml("learning_rate = = 1")
    with pytest.raises(ConfigError, match="JSON"):
        from_json("{")
    with pytest.raises(ConfigError, match="table"):
        from_json("[1, 2]")


@pytest.mark.parametrize("changes,key", [
    ({"task": "pos"}, "task"),
    ({"learning_rate": 0.0}, "learning_rate"),
    ({"learning_rate": float("nan")}, "learning_rate"),
    ({"batch_size": 0}, "batch_size"),
    ({"warmup_ratio": 1.0}, "warmup_ratio"),
    ({"warmup_ratio": -0.1}, "warmup_ratio"),
    ({"max_length": 8}, "max_length"),
    ({"max_length": 64, "window_stride": 64}, "window_stride"),
    ({"max_length": 64, "window_stride": 62}, "window_stride"),
    ({"window_stride": -1}, "window_stride"),
    ({"task": "classification", "tag_scheme": "BIO"}, "tag_scheme"),
    ({"task": "classification", "tag_scheme": "IOB2", "metric": "accuracy"}, "tag_scheme"),
    ({"task": "classification", "train_scheme": "BILOU", "metric": "accuracy"}, "train_scheme"),
    ({"tag_scheme": "BIO"}, "tag_scheme"),
    ({"metric": "accuracy"}, "metric"),       # not a NER metric
    ({"adapter": "adapters"}, "adapter"),
    ({"adapter": "lora", "lora_target_modules": []}, "lora_target_modules"),
    ({"lora_r": 0}, "lora_r"),
    ({"lora_dropout": 1.0}, "lora_dropout"),
    ({"label_alignment": "last"}, "label_alignment"),
    ({"dropout": 1.5}, "dropout"),
    ({"label_smoothing": 1.0}, "label_smoothing"),
    ({"focal_gamma": -1.0}, "focal_gamma"),
    ({"class_weight_beta": 1.0}, "class_weight_beta"),
    ({"weight_decay": -0.01}, "weight_decay"),
    ({"adam_beta2": 1.0}, "adam_beta2"),
    ({"adam_eps": 0.0}, "adam_eps"),
    ({"lr_min_ratio": 1.5}, "lr_min_ratio"),
    ({"lr_cycles": 0.0}, "lr_cycles"),
    ({"epochs": 0}, "epochs"),
    ({"max_steps": 0}, "max_steps"),
    ({"grad_accum": 0}, "grad_accum"),
    ({"grad_clip": 0.0}, "grad_clip"),
    ({"eval_every": 0}, "eval_every"),
    ({"early_stopping_patience": 0}, "early_stopping_patience"),
    ({"log_every": 0}, "log_every"),
    ({"keep_checkpoints": -1}, "keep_checkpoints"),
    ({"device": "gpu"}, "device"),
    ({"device": "cuda:x"}, "device"),
    ({"precision": "fp8"}, "precision"),
    ({"precision": "fp16", "device": "cpu"}, "precision"),
    ({"num_devices": 0}, "num_devices"),
    ({"threads": 0}, "threads"),
    ({"seed": -1}, "seed"),
    ({"seed": 2**32}, "seed"),
    ({"train": " "}, "train"),
    ({"format": "xlsx"}, "format"),
    ({"max_train_examples": 0}, "max_train_examples"),
    ({"augment": [{"p": 0.5}]}, "augment[0].name"),
    ({"augment": [{"name": "a.v1"}, {"name": "b.v1", "p": 1.5}]}, "augment[1].p"),
    ({"augment": [{"name": "a.v1", "n": 0}]}, "augment[0].n"),
    ({"tracking": "wandb"}, "tracking"),
    ({"tracking": "mlflow,tensorboard,mlflow"}, "tracking"),
    ({"tracking_uri": "/data/mlruns"}, "tracking_uri"),
    ({"tracking_experiment": " "}, "tracking_experiment"),
])
def test_bad_values_name_the_key(changes, key):
    cfg = dataclasses.replace(RunConfig(), **changes)
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert str(err.value).startswith(key + ":"), str(err.value)


def test_classification_tasks_take_their_metrics():
    for task in ("classification", "multilabel"):
        for metric in ("accuracy", "f1_macro", "f1_micro"):
            validate(RunConfig(task=task, metric=metric))
    validate(RunConfig(task="ner", metric="f1_macro"))


def test_choice_errors_suggest_the_closest_value():
    with pytest.raises(ConfigError, match="did you mean 'classification'"):
        validate(RunConfig(task="clasification"))


@pytest.mark.parametrize("module,changes,key", [
    ("core.losses", {"loss": "focall.v1"}, "loss"),
    ("core.losses", {"class_weights": "inverse.v1"}, "class_weights"),
    ("core.schedules", {"schedule": "cosine_warmup.v9"}, "schedule"),
    ("core.augment", {"augment": [{"name": "nope.v1"}]}, "augment[0].name"),
])
def test_validate_names_rejects_unknown_registry_names(module, changes, key):
    cfg = dataclasses.replace(RunConfig(), **changes)
    with pytest.raises(ConfigError) as err:
        validate_names(cfg)
    assert str(err.value).startswith(key + ":") and "known:" in str(err.value)


@pytest.mark.parametrize("changes", [
    {}, {"loss": "focal.v1"}, {"loss": "bce.v1", "task": "multilabel"},
    {"class_weights": "inverse_frequency.v1"}, {"class_weights": "inverse_sqrt.v1"},
    {"class_weights": "effective_number.v1"},
    {"schedule": "constant.v1"}, {"schedule": "cosine.v1"}, {"schedule": "polynomial.v1"},
    {"schedule": "inverse_sqrt.v1"},
])
def test_validate_names_accepts_the_documented_names(changes):
    cfg = dataclasses.replace(RunConfig(), **changes)
    validate_names(cfg)


def test_validate_names_checks_against_registries(monkeypatch):
    """Without the real modules: a fake module with registries stands in for each one."""
    import sys
    import types

    from core.registry import Registry

    losses = types.ModuleType("core.losses")
    losses.LOSSES = Registry("loss")
    losses.LOSSES.register("cross_entropy.v1")(lambda: None)
    losses.WEIGHTS = Registry("class weights")
    losses.WEIGHTS.register("inverse_frequency.v1")(lambda: None)
    schedules = types.ModuleType("core.schedules")
    schedules.SCHEDULES = Registry("schedule")
    schedules.SCHEDULES.register("linear.v1")(lambda: None)
    augment = types.ModuleType("core.augment")
    augment.AUGMENTERS = Registry("augmenter")
    augment.AUGMENTERS.register("mention_replacement.v1")(lambda: None)
    for name, module in [("core.losses", losses), ("core.schedules", schedules),
                         ("core.augment", augment)]:
        monkeypatch.setitem(sys.modules, name, module)
    validate_names(RunConfig(class_weights="inverse_frequency.v1",
                             augment=[{"name": "mention_replacement.v1"}]))
    with pytest.raises(ConfigError,
                       match=r"^class_weights: .*known: inverse_frequency.v1, none"):
        validate_names(RunConfig(class_weights="cross_entropy.v1"))  # a loss, not a weighting
    with pytest.raises(ConfigError, match=r"^loss: .*did you mean 'cross_entropy.v1'"):
        validate_names(RunConfig(loss="cross_entropi.v1"))
    with pytest.raises(ConfigError, match=r"^schedule: "):
        validate_names(RunConfig(schedule="cosine.v1"))
    with pytest.raises(ConfigError, match=r"^augment\[1\].name: "):
        validate_names(RunConfig(augment=[{"name": "mention_replacement.v1"}, {"name": "x.v1"}]))


def test_toml_strings_escape_control_characters():
    cfg = RunConfig(name='a "quoted"\\ name\n\t\x00\x7f é 😀')
    assert tomllib.loads(to_toml(cfg))["name"] == cfg.name


def test_format_choices_match_the_readers():
    from core.formats import FORMATS

    assert C.FORMATS == ("auto",) + tuple(FORMATS)


def test_context_and_decoding_are_checked():
    from core.config import RunConfig, validate

    validate(RunConfig(context=64, decoding="viterbi"))
    with pytest.raises(ConfigError, match="context"):
        validate(RunConfig(context=-1))
    with pytest.raises(ConfigError, match="decoding"):
        validate(RunConfig(decoding="crf"))
    with pytest.raises(ConfigError, match="context.*'ner' only"):
        validate(RunConfig(task="classification", train="demo:intent", context=8))
