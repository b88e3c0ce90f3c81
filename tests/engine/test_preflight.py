"""engine/preflight.py: the worker's early checks, run before a run is queued. A tiny model
folder and tiny data files (tests/engine/runs.py) pass; each way the worker would fail in its
first seconds is refused naming the key; labels unseen in train are warnings."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.config import RunConfig, config_from_dict
from core.errors import ConfigError, DataError
from core.formats import write_jsonl
from core.records import TextExample, TokenExample
from engine import preflight
from engine.store import Store
from tests.engine.runs import make_run_config


@pytest.fixture(scope="module")
def tiny(tmp_path_factory) -> dict:
    """A NER run config on a tiny model folder and tiny JSONL files."""
    return make_run_config(tmp_path_factory.mktemp("preflight"), "ner")


def _cfg(tiny: dict, **overrides) -> RunConfig:
    return config_from_dict({**tiny, **overrides})


def _no_gpu() -> int:
    return 0


def test_a_tiny_config_passes_without_loading_weights(tiny, tmp_path, monkeypatch):
    from engine import models

    def refuse(*args, **kwargs):
        raise AssertionError("preflight must not load a model or tokenizer")

    monkeypatch.setattr(models, "_load_with_head", refuse)
    monkeypatch.setattr(models, "load_tokenizer", refuse)
    assert preflight.check(_cfg(tiny), workspace=tmp_path, device_count=_no_gpu) == []


def test_default_model_and_demo_data_pass(tmp_path):
    assert preflight.check(RunConfig(train="demo:demo-ner"), workspace=tmp_path,
                           device_count=_no_gpu) == []


# ---- the model ---------------------------------------------------------------------------

def test_missing_model_folder_is_refused(tiny, tmp_path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ConfigError, match=r"^model: model folder '.*no-such-model' not found"):
        preflight.check(_cfg(tiny, model=str(missing)), workspace=tmp_path, device_count=_no_gpu)


def test_model_folder_without_config_or_weights_is_refused(tiny, tmp_path):
    folder = tmp_path / "half-model"
    folder.mkdir()
    with pytest.raises(ConfigError, match="^model: .*has no config.json"):
        preflight.check_model(str(folder))
    (folder / "config.json").write_text(json.dumps({"model_type": "bert"}))
    (folder / "pytorch_model.bin").write_bytes(b"pickle")
    with pytest.raises(ConfigError, match="^model: folder .* has no .safetensors weights"):
        preflight.check_model(str(folder))
    preflight.check_model(tiny["model"])  # config.json and model.safetensors


def test_hub_id_offline_says_so(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ConfigError, match=r"^model: could not download 'nobody-here/no-model' "
                                          r"\(offline\?\).*HF_HUB_OFFLINE"):
        preflight.check_model("nobody-here/no-model")


def test_max_length_beyond_the_models_positions_is_refused(tiny, tmp_path):
    with pytest.raises(ConfigError, match="^max_length: 1024 is more than the 512 positions"):
        preflight.check(_cfg(tiny, max_length=1024), workspace=tmp_path, device_count=_no_gpu)


# ---- the device --------------------------------------------------------------------------

@pytest.mark.parametrize("device, count, message", [
    ("cuda:7", 0, "device: 'cuda:7' asked for, but no CUDA GPU is visible on this machine"),
    ("cuda", 0, "device: 'cuda' asked for, but no CUDA GPU is visible"),
    ("cuda:7", 2, "device: 'cuda:7' asked for, but this machine has 2 GPUs; use one of "
                  "'cuda:0' … 'cuda:1' or 'auto'"),
    ("cuda:1", 1, "device: 'cuda:1' asked for, but this machine has 1 GPU; use one of 'cuda:0'"),
])
def test_a_device_this_machine_lacks_is_refused(tiny, tmp_path, device, count, message):
    with pytest.raises(ConfigError) as err:
        preflight.check(_cfg(tiny, device=device), workspace=tmp_path, device_count=lambda: count)
    assert str(err.value).startswith(message)


def test_devices_that_exist_pass_and_cpu_counts_nothing(tiny):
    def never() -> int:
        raise AssertionError("no GPU count for a CPU run")

    preflight.check_device(_cfg(tiny, device="cpu"), never)
    preflight.check_device(_cfg(tiny, device="auto"), never)
    preflight.check_device(_cfg(tiny, device="cuda:1"), lambda: 2)
    preflight.check_device(_cfg(tiny, device="cuda", num_devices=2), lambda: 2)
    with pytest.raises(ConfigError, match="^num_devices: 4 GPUs asked for, but this machine has 2"):
        preflight.check_device(_cfg(tiny, device="auto", num_devices=4), lambda: 2)


def test_the_real_count_refuses_a_gpu_beyond_it(tiny):
    """Without a stand-in, torch counts: no machine has a hundredth GPU."""
    with pytest.raises(ConfigError, match="^device: 'cuda:99' asked for"):
        preflight.check_device(_cfg(tiny, device="cuda:99"))


# ---- data and labels ---------------------------------------------------------------------

def test_data_references_are_the_workers_check(tiny, tmp_path):
    with pytest.raises(ConfigError, match="^train: demo:demo-intent holds classification data"):
        preflight.check(_cfg(tiny, train="demo:demo-intent"), workspace=tmp_path,
                        device_count=_no_gpu)
    with pytest.raises(ConfigError, match="^dev: no file"):
        preflight.check(_cfg(tiny, dev=str(tmp_path / "gone.jsonl")), workspace=tmp_path,
                        device_count=_no_gpu)
    with pytest.raises(ConfigError, match="^train: no stored dataset 'nope'"):
        preflight.check(_cfg(tiny, train="dataset:nope"), store=Store(tmp_path / "ws"),
                        device_count=_no_gpu)


def test_data_the_worker_cannot_read_is_refused(tiny, tmp_path):
    bad = tmp_path / "two-labels.jsonl"
    bad.write_text('{"text": "hi", "labels": ["a", "b"]}\n')
    dev = _write(tmp_path / "dev.jsonl", [TextExample("hello", ("a",))])
    cfg = _cfg(tiny, task="classification", metric="accuracy", train=str(bad), dev=dev,
               test=None)
    with pytest.raises(DataError, match="two-labels.jsonl, line 1: a text with other than one"):
        preflight.check(cfg, workspace=tmp_path, device_count=_no_gpu)


def _write(path: Path, records: list) -> str:
    path.write_text(write_jsonl(records), encoding="utf-8")
    return str(path)


def test_a_label_unseen_in_train_is_a_warning(tiny, tmp_path):
    train = [TextExample(f"hello {i}", ("greeting",)) for i in range(6)] + \
            [TextExample(f"go to {i}", ("travel",)) for i in range(6)]
    dev = [TextExample("bye", ("farewell",)), TextExample("ciao", ("farewell",)),
           TextExample("hi", ("greeting",))]
    test = [TextExample("refund", ("billing",))]
    cfg = _cfg(tiny, task="classification", metric="accuracy",
               train=_write(tmp_path / "train.jsonl", train),
               dev=_write(tmp_path / "dev.jsonl", dev), test=_write(tmp_path / "test.jsonl", test))
    assert preflight.check(cfg, workspace=tmp_path, device_count=_no_gpu) == [
        "dev: 1 label never seen in train: 'farewell' (2×); the model cannot predict it, so dev "
        "scores count every one as an error",
        "test: 1 label never seen in train: 'billing' (1×); the model cannot predict it, so "
        "test scores count every one as an error"]


def test_an_entity_type_unseen_in_the_examples_used_is_a_warning(tiny, tmp_path):
    train = [TokenExample(("john", "sat"), ("B-PER", "O"))] * 3 + \
            [TokenExample(("paris", "sat"), ("B-LOC", "O"))]
    dev = [TokenExample(("paris",), ("B-LOC",)), TokenExample(("acme",), ("S-ORG",))]
    cfg = _cfg(tiny, train=_write(tmp_path / "train.jsonl", train),
               dev=_write(tmp_path / "dev.jsonl", dev), test=None, max_train_examples=3)
    [warning] = preflight.check(cfg, workspace=tmp_path, device_count=_no_gpu)
    assert warning.startswith("dev: 2 entity types never seen in the training examples the run "
                              "uses: 'LOC' (1×), 'ORG' (1×)")
