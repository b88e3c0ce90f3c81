"""engine.data: the one reader, format rule, task check, dev carving, reference check and
config loader that the training loop, the worker, the CLI and the pages share."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from core.config import RunConfig, config_to_dict, to_toml
from core.errors import ConfigError, DataError
from core.records import TextExample, TokenExample
from core.splits import split_classification, split_ner
from engine import data
from engine.store import NotFound, Store

REPO = Path(__file__).resolve().parents[2]
SETTINGS = settings(max_examples=40, deadline=None)
INTENTS = b"sentence\tintent\nhello there\tgreet\nbye now\tleave\n"  # no 'text' column
TABLE = b"text\tlabel\nhello there\tgreet\nbye now\tleave\n"
CONLL_TSV = b"EU\tB-ORG\nrejects\tO\n\nPeter\tB-PER\n"


def _write(tmp_path: Path, name: str, content: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(content)
    return path


# ---- one format rule: a .tsv reads the same on upload and as a training path ---------------

def test_classification_tsv_is_a_table_even_without_a_text_column(tmp_path):
    """The case where the engine used to disagree with the Data page: core.formats alone
    calls this CoNLL ('CoNLL files hold NER data'); both paths now read it as a table and
    say which column is missing, at line 1."""
    assert data.resolve_format(INTENTS, "intents.tsv", "auto", "classification") == "tsv"
    with pytest.raises(DataError, match=r"intents.tsv, line 1: column 'text' not found"):
        data.read_file(_write(tmp_path, "intents.tsv", INTENTS), task="classification",
                       cfg=RunConfig(task="classification"))
    cfg = RunConfig(task="classification", text_column="sentence", label_column="intent")
    records = data.read_file(tmp_path / "intents.tsv", task=cfg.task, cfg=cfg)
    assert [(ex.text, ex.labels) for ex in records] == [("hello there", ("greet",)),
                                                       ("bye now", ("leave",))]


@pytest.mark.parametrize("task", ["classification", "multilabel"])
def test_tsv_table_reads_for_the_text_tasks(tmp_path, task):
    records = data.read_file(_write(tmp_path, "t.tsv", TABLE), task=task,
                             cfg=RunConfig(task=task))
    assert [ex.text for ex in records] == ["hello there", "bye now"]


def test_ner_tsv_is_conll_columns(tmp_path):
    assert data.resolve_format(CONLL_TSV, "x.tsv", "auto", "ner") == "conll"
    records = data.read_file(_write(tmp_path, "x.tsv", CONLL_TSV), task="ner",
                             cfg=RunConfig(task="ner"))
    assert [ex.tags for ex in records] == [("B-ORG", "O"), ("B-PER",)]
    with pytest.raises(ConfigError, match="TSV tables hold classification data"):
        data.read_file(_write(tmp_path, "t.tsv", TABLE), task="ner", cfg=RunConfig(task="ner"))


def test_explicit_format_wins():
    assert data.resolve_format(TABLE, "t.tsv", "conll", "classification") == "conll"
    assert data.resolve_format(TABLE, "t.txt", "tsv", "ner") == "tsv"


# ---- one task check -------------------------------------------------------------------------

def test_check_records_names_the_file_and_line_of_a_multi_label_text():
    records = [TextExample("hi", ("a",), line=2), TextExample("yo", ("a", "b"), line=3)]
    data.check_records(records, "multilabel", source="t.jsonl")
    with pytest.raises(DataError, match=r"^t.jsonl, line 3: a text with other than one label") \
            as err:
        data.check_records(records, "classification", source="t.jsonl")
    assert "2 labels" in str(err.value) and "yo" not in str(err.value)  # no file contents
    with pytest.raises(DataError, match=r"example 2\)"):  # records without lines: the index
        data.check_records([TextExample("hi", ("a",)), TextExample("yo", ())], "classification",
                           source="demo:x (train split)")


def test_check_records_refuses_the_wrong_kind():
    with pytest.raises(ConfigError, match="task: 'ner' needs token-tagged sentences, but "
                                          "demo:demo-intent \\(train split\\) holds TextExample"):
        data.check_records([TextExample("hi", ("a",))], "ner",
                           source="demo:demo-intent (train split)")
    with pytest.raises(ConfigError, match="needs texts with labels"):
        data.check_records([TokenExample(("a",), ("O",))], "classification", source="x")
    data.check_records([], "ner", source="x")


# ---- one dev carving ------------------------------------------------------------------------

def _texts(labels: list[str]) -> list[TextExample]:
    return [TextExample(f"text {i}", (label,), line=i + 1) for i, label in enumerate(labels)]


def _sentences(docs: list[int]) -> list[TokenExample]:
    return [TokenExample((f"w{i}",), ("O",), doc=d, line=i + 1) for i, d in enumerate(docs)]


@SETTINGS
@given(labels=st.lists(st.sampled_from("abc"), min_size=20, max_size=120),
       seed=st.integers(0, 2**31 - 1))
def test_carve_dev_is_deterministic_disjoint_and_the_reference_split(labels, seed):
    train = _texts(labels)
    cfg = RunConfig(task="classification", seed=seed)
    test_split = [TextExample("held out", ("a",))]
    out = data.carve_dev({"train": train, "test": test_split}, cfg)
    again = data.carve_dev({"train": list(train), "test": test_split}, cfg)
    assert out == again and out["test"] is test_split
    ids = [id(ex) for ex in out["train"] + out["dev"]]
    assert sorted(ids) == sorted(id(ex) for ex in train)  # a partition: disjoint, complete
    reference = split_classification(train, fractions=(0.9, 0.1, 0.0), seed=seed)
    assert (out["train"], out["dev"]) == (reference["train"], reference["dev"])


@SETTINGS
@given(docs=st.lists(st.integers(0, 8), min_size=20, max_size=80).map(sorted),
       seed=st.integers(0, 2**31 - 1))
def test_carve_dev_for_ner_is_the_reference_split(docs, seed):
    train = _sentences(docs)
    out = data.carve_dev({"train": train}, RunConfig(task="ner", seed=seed))
    reference = split_ner(train, fractions=(0.9, 0.1, 0.0), seed=seed)
    assert (out["train"], out["dev"]) == (reference["train"], reference["dev"])
    assert sorted(map(id, out["train"] + out["dev"])) == sorted(map(id, train))


@SETTINGS
@given(n=st.integers(30, 120), dev=st.sampled_from([0.1, 0.2, 0.25]),
       test=st.sampled_from([0.0, 0.1, 0.25]), seed=st.integers(0, 1000))
def test_split_records_partitions_reproducibly(n, dev, test, seed):
    records = _texts(["a", "b"] * (n // 2))
    a = data.split_records(records, "classification", dev=dev, test=test, seed=seed)
    b = data.split_records(records, "classification", dev=dev, test=test, seed=seed)
    assert a == b
    assert sorted(map(id, a["train"] + a["dev"] + a["test"])) == sorted(map(id, records))


def test_split_records_needs_something_for_train():
    with pytest.raises(ConfigError, match="leave nothing for train"):
        data.split_records(_texts(["a"] * 10), "classification", dev=0.5, test=0.5, seed=0)


# ---- load_splits and the workspace argument ------------------------------------------------

def test_load_splits_carves_dev_then_caps_train(tmp_path):
    path = _write(tmp_path, "t.csv", b"text,label\n" + b"".join(
        f"text {i},{'ab'[i % 2]}\n".encode() for i in range(40)))
    cfg = RunConfig(task="classification", train=str(path), max_train_examples=5)
    splits = data.load_splits(cfg)
    assert set(splits) == {"train", "dev"} and len(splits["train"]) == 5
    assert len(splits["dev"]) == 4


def test_load_splits_names_file_and_line_of_a_multi_label_row(tmp_path):
    path = _write(tmp_path, "t.jsonl", b"".join(
        b'{"text": "t%d", "label": "a"}\n' % i for i in range(20))
        + b'{"text": "yo", "labels": ["a", "b"]}\n')
    with pytest.raises(DataError, match=r"t.jsonl, line 21: a text with other than one label"):
        data.load_splits(RunConfig(task="classification", train=str(path), dev=str(path)))
    cfg = RunConfig(task="classification", train=str(path), dev=str(path), max_train_examples=20)
    with pytest.raises(DataError, match="line 21"):  # the dev split holds it too
        data.load_splits(cfg)


def test_dataset_reference_is_read_from_the_given_workspace(tmp_path):
    ws = tmp_path / "ws"
    records = {"train": _texts(["a", "b"] * 10), "dev": _texts(["a", "b"])}
    ds_id = Store(ws).add_dataset("tiny", "classification", records)
    cfg = RunConfig(task="classification", train=f"dataset:{ds_id}")
    with pytest.raises(NotFound, match=ds_id):  # not in $WORKBENCH_HOME
        data.resolve_reference(cfg.train, cfg=cfg)
    assert data.resolve_reference(cfg.train, cfg=cfg, workspace=ws)["dev"] == records["dev"]
    assert data.load_splits(cfg, workspace=ws) == records
    data.check_references(cfg, workspace=ws)
    with pytest.raises(ConfigError, match=f"^train: no stored dataset '{ds_id}'"):
        data.check_references(cfg)


# ---- one reference check ----------------------------------------------------------------------

def test_check_references_resolves_paths_and_names_a_missing_file(tmp_path, monkeypatch):
    _write(tmp_path, "t.conll", CONLL_TSV)
    monkeypatch.chdir(tmp_path)
    cfg = RunConfig(train="t.conll", dev="demo:ner")
    data.check_references(cfg)
    assert cfg.train == str(tmp_path / "t.conll") and cfg.dev == "demo:ner"
    missing = str(tmp_path / "gone.conll")
    with pytest.raises(ConfigError) as err:
        data.check_references(RunConfig(train="gone.conll"))
    message = str(err.value)  # the page's and the worker's wording, one message
    assert message.startswith("train: no file") and "train data file not found" in message
    assert missing in message


@pytest.mark.parametrize("field, ref, task, message", [
    ("train", "demo:nope", "ner", "train: unknown demo dataset 'nope'"),
    ("train", "demo:demo-intent", "ner",
     "train: demo:demo-intent holds classification data, but task is 'ner'"),
    ("dev", "demo:intent", "ner", "dev: demo:intent holds classification data"),  # short form
    ("test", "demo:ner", "multilabel", "test: demo:ner holds ner data"),
    ("train", "dataset:gone-123", "ner", "train: no stored dataset 'gone-123'"),
])
def test_check_references_refuses_bad_references(tmp_path, field, ref, task, message):
    cfg = RunConfig(task=task, train="demo:ner" if task == "ner" else "demo:intent")
    setattr(cfg, field, ref)
    with pytest.raises(ConfigError) as err:
        data.check_references(cfg, Store(tmp_path))
    assert str(err.value).startswith(message)


def test_check_references_checks_stored_tasks_and_opens_no_store_it_does_not_need(tmp_path):
    store = Store(tmp_path / "ws")
    ds_id = store.add_dataset("t", "classification", {"train": _texts(["a", "b"] * 5)})
    data.check_references(RunConfig(task="multilabel", train=f"dataset:{ds_id}"), store)
    with pytest.raises(ConfigError, match=f"train: dataset:{ds_id} holds classification data"):
        data.check_references(RunConfig(task="ner", train=f"dataset:{ds_id}"), store)
    data.check_references(RunConfig(train="demo:ner"), workspace=tmp_path / "unused")
    assert not (tmp_path / "unused").exists()


def test_worker_refuses_bad_references_before_importing_torch(tmp_path):
    run_dir = tmp_path / "runs" / "r1"
    run_dir.mkdir(parents=True)
    cfg = config_to_dict(RunConfig(train=str(tmp_path / "missing.conll")))
    (run_dir / "config.json").write_text(json.dumps(cfg))
    script = ("import sys; from engine.worker import check_config\n"
              "try:\n    check_config(__import__('pathlib').Path(sys.argv[1]))\n"
              "except Exception as exc:\n    print(type(exc).__name__, exc)\n"
              "print('torch' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", script, str(run_dir)], cwd=REPO, text=True,
                         capture_output=True, timeout=120, check=True).stdout.splitlines()
    assert out[0].startswith("ConfigError train: no file") and "data file not found" in out[0]
    assert out[-1] == "False"


# ---- one config loader ----------------------------------------------------------------------

def test_load_config_file_resolves_relative_paths_and_applies_overrides(tmp_path):
    folder = tmp_path / "cfg"
    folder.mkdir()
    _write(folder, "train.conll", CONLL_TSV)
    path = folder / "run.toml"
    path.write_text(to_toml(RunConfig(train="train.conll", dev="demo:ner")))
    cfg = data.load_config_file(path, ["epochs=2", "name=plain words"])
    assert cfg.train == str(folder / "train.conll") and cfg.dev == "demo:ner"
    assert cfg.epochs == 2 and cfg.name == "plain words"
    with pytest.raises(ConfigError, match="--set 'epochs': expected KEY=VALUE"):
        data.load_config_file(path, ["epochs"])
    with pytest.raises(DataError, match="nope.toml: cannot read file"):
        data.load_config_file(folder / "nope.toml")


def test_cli_loads_configs_with_the_one_loader():
    from engine.cli import load_config_file

    for path in sorted((REPO / "examples").glob("*.toml")):
        assert config_to_dict(load_config_file(path)) == config_to_dict(
            data.load_config_file(path)), path.name


# ---- max_length against the model's positions ----------------------------------------------

def _model_folder(tmp_path: Path, name: str, config: dict, tokenizer: dict | None) -> str:
    """A model folder holding only the files position_limit reads."""
    folder = tmp_path / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps(config))
    if tokenizer is not None:
        (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer))
    return str(folder)


@pytest.mark.parametrize("config, tokenizer, limit", [
    ({"model_type": "bert", "max_position_embeddings": 512}, {"model_max_length": 512}, 512),
    ({"model_type": "bert", "max_position_embeddings": 512}, {"model_max_length": 128}, 128),
    # a tokenizer with no limit of its own says 1e30: the position embeddings decide
    ({"model_type": "bert", "max_position_embeddings": 64}, {"model_max_length": 1e30}, 64),
    ({"model_type": "bert", "max_position_embeddings": 256}, {"model_max_length": 512}, 256),
    # RoBERTa-style position ids start at padding_idx + 1
    ({"model_type": "roberta", "max_position_embeddings": 514, "pad_token_id": 1}, None, 512),
    ({"model_type": "xlm-roberta", "max_position_embeddings": 514},
     {"model_max_length": 1000000000000000019884624838656}, 512),
])
def test_max_length_is_checked_against_the_positions_of_a_local_model(tmp_path, config, tokenizer, limit):
    from engine.models import position_limit

    folder = _model_folder(tmp_path, "m", config, tokenizer)
    assert position_limit(folder) == (limit, folder)
    data.check_max_length(RunConfig(model=folder, max_length=limit))
    with pytest.raises(ConfigError) as err:
        data.check_max_length(RunConfig(model=folder, max_length=limit + 1))
    assert str(err.value).startswith(
        f"max_length: {limit + 1} is more than the {limit} positions of model {folder}; "
        f"set it to at most {limit}")


def test_models_that_cannot_be_read_offline_are_not_checked(tmp_path):
    from engine.models import position_limit

    unknown = "no-such-org/no-such-model-7f3a"  # a hub id in no local cache: never downloaded
    no_config = tmp_path / "empty"
    no_config.mkdir()
    silent = _model_folder(tmp_path, "silent", {"model_type": "deberta-v2"}, {})
    for model in (unknown, str(no_config), str(tmp_path / "missing"), silent):
        assert position_limit(model) is None
        data.check_max_length(RunConfig(model=model, max_length=100_000))  # the load says why


def test_every_path_that_validates_a_config_refuses_a_max_length_past_the_model(tmp_path):
    """The Train page and the worker (check_references), `train --config` and `queue submit`
    (load_config_file): one message, naming max_length, the value and the limit."""
    from engine.worker import check_config

    message = ("max_length: 100000 is more than the 512 positions of model default "
               "(all-MiniLM-L6-v2)")
    cfg = RunConfig(train="demo:ner", max_length=100_000)
    with pytest.raises(ConfigError, match=r"^max_length: 100000 is more than the 512 positions"):
        data.check_references(cfg, workspace=tmp_path / "unused")
    data.check_references(RunConfig(train="demo:ner", max_length=512), workspace=tmp_path / "unused")
    path = tmp_path / "run.toml"
    path.write_text(to_toml(cfg))
    with pytest.raises(ConfigError) as err:
        data.load_config_file(path)
    assert str(err.value).startswith(message)
    run_dir = tmp_path / "runs" / "r1"
    run_dir.mkdir(parents=True)
    (run_dir / "config.json").write_text(json.dumps(config_to_dict(cfg)))
    with pytest.raises(ConfigError, match="^max_length: 100000"):
        check_config(run_dir)

    home = tmp_path / "ws"
    env = {**os.environ, "WORKBENCH_HOME": str(home), "PYTHONPATH": str(REPO),
           "HF_HUB_OFFLINE": "1"}
    procs = [subprocess.Popen([sys.executable, "-m", "engine", *args, str(path)], cwd=REPO, env=env,
                              text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
             for args in (["train", "--config"], ["queue", "submit"])]
    for proc in procs:
        out, err_text = proc.communicate(timeout=120)
        assert proc.returncode == 1, (out, err_text)
        assert err_text.startswith(f"error: {message}") and "Traceback" not in err_text
    assert not any((home / "runs").glob("*"))  # no run was made


def test_inputs_within_the_limit_fit_the_model_with_windows_and_truncation(tmp_path):
    """max_length equal to the model's positions: NER windows (with a stride) and truncated
    texts never exceed it, so the forward pass takes every batch, padded as on a GPU too."""
    import numpy as np
    import torch
    from transformers import BertConfig, BertForTokenClassification

    from engine.batching import collate_tokens
    from engine.encoding import encode_ner, encode_text
    from engine.models import load_tokenizer, position_limit
    from tests.engine.tiny import VOCAB, make_tiny_tokenizer

    folder = tmp_path / "short"
    tokenizer = make_tiny_tokenizer(VOCAB, tmp_path)  # says model_max_length 512
    config = BertConfig(vocab_size=len(tokenizer.get_vocab()), hidden_size=16, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=32, max_position_embeddings=64,
                        num_labels=2)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = BertForTokenClassification(config).eval()
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    assert position_limit(str(folder))[0] == 64  # the positions, not the tokenizer's 512
    with pytest.raises(ConfigError, match="max_length: 65 is more than the 64 positions"):
        data.check_max_length(RunConfig(model=str(folder), max_length=65))

    tokenizer = load_tokenizer(str(folder))
    words = tuple((VOCAB + ["xylophone", "zq"]) * 30)  # 360 words, some of many sub-tokens
    sentence = TokenExample(words, ("O",) * len(words))
    windows = encode_ner(tokenizer, [sentence], {"O": 0, "B-X": 1}, max_length=64, stride=16)
    assert len(windows) > 5 and max(len(w["input_ids"]) for w in windows) == 64
    texts = encode_text(tokenizer, [TextExample(" ".join(words), ("a",))], None, max_length=64)
    assert len(texts[0]["input_ids"]) == 64
    for multiple in (None, 32):  # CPU: exact lengths; GPU: rounded up, capped at max_length
        batch = collate_tokens(windows + texts, np.arange(len(windows) + 1), pad_id=0,
                               multiple=multiple, cap=64)
        with torch.no_grad():
            out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"])
        assert out.logits.shape[:2] == batch["input_ids"].shape
    with pytest.raises((IndexError, RuntimeError)):  # what an unchecked 65 would hit
        model(input_ids=torch.ones((1, 65), dtype=torch.long))
