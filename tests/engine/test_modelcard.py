"""The model card (model/README.md) and the model zip of a run trained by the real worker:
front matter that parses with the report's scores, per-type tables, data hashes, a zip that
loads to the same model, clear refusals, and `python -m engine card`."""
from __future__ import annotations

import hashlib
import io
import json
import re
import shutil
import zipfile
from pathlib import Path

import pytest
import torch
import yaml

from core.config import RunConfig, config_to_dict
from core.errors import WorkbenchError
from engine import cli, modelcard, worker
from engine.runfolder import RunFolder
from engine.store import Store
from tests.engine.runs import make_run_config


def _train(store: Store, config: dict) -> str:
    """A run as the queue runs it (created, claimed, trained by worker.run); its id."""
    run_id = store.create_run(config_to_dict(RunConfig(**config)), state="queued")
    assert store.claim(run_id, "queued", "running")
    threads = torch.get_num_threads()
    try:
        with torch.random.fork_rng(devices=[]):
            state = worker.run(store.run_dir(run_id))
    finally:
        torch.set_num_threads(threads)
    assert state == "completed", RunFolder(store.run_dir(run_id)).read_status().get("error")
    return run_id


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A workspace with a trained NER run and a trained classification run (~10 s)."""
    base = tmp_path_factory.mktemp("card")
    store = Store(base / "ws")
    quick = {"epochs": 1, "eval_every": None, "checkpoint_every": None}
    ner = _train(store, make_run_config(base / "ner", "ner", **quick))
    cls = _train(store, make_run_config(base / "cls", "classification", metric="accuracy", **quick))
    return store, ner, cls


def _copy_run(store: Store, run_id: str, dest: Path, *, with_model: bool = True, **config) -> Path:
    """A copy of a run folder (config.json changed by `config`), without its checkpoints."""
    src = store.run_dir(run_id)
    dest.mkdir(parents=True)
    for name in (RunFolder.REPORT, RunFolder.STATUS, RunFolder.METRICS, RunFolder.PREDICTIONS):
        shutil.copy(src / name, dest / name)
    if with_model:  # the card finish wrote is left behind: each test writes its own
        shutil.copytree(src / RunFolder.MODEL, dest / RunFolder.MODEL,
                        ignore=shutil.ignore_patterns(RunFolder.MODEL_CARD))
    raw = RunFolder(src).read_config()
    RunFolder(dest).write_config({**raw, **config})
    return dest


def _front(text: str) -> dict:
    head, _ = modelcard.split_card(text)
    return yaml.safe_load(head)


def _section_table(text: str, heading: str) -> list[dict]:
    """The first markdown table after `heading`, as dicts of its cells."""
    lines = text.splitlines()
    at = lines.index(heading)
    rows = []
    for line in lines[at + 1:]:
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip("|").split(" | ")])
        elif rows:
            break
    head, body = rows[0], rows[2:]
    return [dict(zip(head, row)) for row in body]


def test_front_matter_parses_and_holds_the_report_scores(runs):
    store, ner, _ = runs
    report = RunFolder(store.run_dir(ner)).read_report()
    meta = _front(modelcard.card_text(store.run_dir(ner)))
    assert meta["library_name"] == "transformers"
    assert meta["pipeline_tag"] == "token-classification"
    assert meta["datasets"] == ["train.jsonl", "dev.jsonl", "test.jsonl"]
    assert "ner" in meta["tags"]
    assert "base_model" not in meta  # a local folder is no hub id; the body names it
    (entry,) = meta["model-index"]
    assert entry["name"] == "tiny-ner"
    results = {r["dataset"]["split"]: r for r in entry["results"]}
    assert set(results) == {"dev", "test"}
    for split, result in results.items():
        assert result["task"] == {"type": "token-classification", "name": "Token Classification"}
        assert result["dataset"]["name"] == f"{split}.jsonl"
        ents = report[split]["entities"]
        got = {(m["type"], m["name"]): m["value"] for m in result["metrics"]}
        label = split.capitalize()
        assert got == {("precision", f"{label} precision (entity, micro)"): ents["micro"]["precision"],
                       ("recall", f"{label} recall (entity, micro)"): ents["micro"]["recall"],
                       ("f1", f"{label} F1 (entity, micro)"): ents["micro"]["f1"],
                       ("f1", f"{label} F1 (entity, macro)"): ents["macro"]["f1"]}


def test_classification_card_has_accuracy_and_per_class_rows(runs):
    store, _, cls = runs
    report = RunFolder(store.run_dir(cls)).read_report()
    text = modelcard.card_text(store.run_dir(cls))
    meta = _front(text)
    assert meta["pipeline_tag"] == "text-classification"
    test = next(r for r in meta["model-index"][0]["results"] if r["dataset"]["split"] == "test")
    accuracy = next(m for m in test["metrics"] if m["type"] == "accuracy")
    assert accuracy["value"] == report["test"]["classes"]["accuracy"]
    rows = _section_table(text, "### Per class (test)")
    assert {r["Class"] for r in rows} == set(report["test"]["classes"]["per_type"]) == {"greeting", "travel"}
    assert 'pipeline("text-classification", model=path)' in text


@pytest.mark.parametrize("model, expected", [
    ("default", "sentence-transformers/all-MiniLM-L6-v2"),
    ("bert-base-cased", "bert-base-cased"),
    ("dslim/bert-base-NER", "dslim/bert-base-NER")])
def test_base_model_names_the_hub_model(runs, tmp_path, model, expected):
    store, ner, _ = runs
    run_dir = _copy_run(store, ner, tmp_path / "run", model=model)
    text = modelcard.card_text(run_dir)
    assert _front(text)["base_model"] == expected
    assert f"fine-tuned from `{expected}`" in text


@pytest.mark.parametrize("split", ["dev", "test"])
def test_per_type_table_rows_match_report(runs, split):
    store, ner, _ = runs
    per_type = RunFolder(store.run_dir(ner)).read_report()[split]["entities"]["per_type"]
    rows = _section_table(modelcard.card_text(store.run_dir(ner)), f"### Per entity type ({split})")
    assert [r["Entity type"] for r in rows] == list(per_type) == ["LOC", "PER"]
    for row in rows:
        want = per_type[row["Entity type"]]
        for col, key in (("Precision", "precision"), ("Recall", "recall"), ("F1", "f1")):
            assert float(row[col]) == pytest.approx(want[key], abs=5e-5)
        assert int(row["Support"]) == want["support"] > 0


def test_data_rows_give_sizes_and_sha256_of_the_files(runs, tmp_path):
    store, ner, _ = runs
    config = RunFolder(store.run_dir(ner)).read_config()
    rows = _section_table(modelcard.card_text(store.run_dir(ner)), "### Data")
    assert [r["split"] for r in rows] == ["train", "dev", "test"]
    for row in rows:
        data = Path(config[row["split"]]).read_bytes()
        assert row["file"] == f"{row['split']}.jsonl"
        assert int(row["bytes"]) == len(data)
        assert row["sha256"] == hashlib.sha256(data).hexdigest()
    # a data file that is gone reads "missing"; the card is still written
    run_dir = _copy_run(store, ner, tmp_path / "run", test=str(tmp_path / "gone.jsonl"))
    rows = {r["split"]: r for r in _section_table(modelcard.card_text(run_dir), "### Data")}
    assert rows["test"]["bytes"] == rows["test"]["sha256"] == "missing"
    assert rows["train"]["sha256"] == hashlib.sha256(Path(config["train"]).read_bytes()).hexdigest()


def test_stored_dataset_reference_hashes_its_split_files(runs):
    from engine.data import read_file

    store, ner, _ = runs
    config = RunFolder(store.run_dir(ner)).read_config()
    ds_id = store.add_dataset("people", "ner", {"train": read_file(config["train"], task="ner"),
                                                "test": read_file(config["test"], task="ner")})
    stored = {**config, "train": f"dataset:{ds_id}", "test": None}
    run_id = store.create_run(stored, state="completed")
    shutil.copy(store.run_dir(ner) / RunFolder.REPORT, store.run_dir(run_id) / RunFolder.REPORT)
    rows = modelcard.data_files(RunConfig(**stored), store.run_dir(run_id))
    files = {r["file"]: r for r in rows if r["split"] == "train"}
    assert set(files) == {f"{ds_id}/test.jsonl", f"{ds_id}/train.jsonl"}
    for name, row in files.items():
        data = (store.data_dir / name).read_bytes()
        assert (row["bytes"], row["sha256"]) == (len(data), hashlib.sha256(data).hexdigest())
    text = modelcard.card_text(store.run_dir(run_id))
    assert _front(text)["datasets"] == [ds_id, "dev.jsonl"]
    assert f"| train | `dataset:{ds_id}` | {ds_id}/train.jsonl |" in text


def test_dev_carved_from_train_is_said_and_demo_data_has_no_file(runs, tmp_path):
    store, ner, _ = runs
    carved = "Dev: 10% of the training data held out (seed 7)."
    assert carved not in modelcard.card_text(store.run_dir(ner))  # the run names its dev file
    run_dir = _copy_run(store, ner, tmp_path / "carved", dev=None)
    text = modelcard.card_text(run_dir)
    assert carved in text
    dev = next(r for r in _front(text)["model-index"][0]["results"] if r["dataset"]["split"] == "dev")
    assert dev["dataset"]["name"] == "train.jsonl"  # dev's records came from the train file
    demo = _copy_run(store, ner, tmp_path / "demo", train="demo:demo-ner", dev=None, test=None)
    text = modelcard.card_text(demo)
    assert carved not in text  # the demo brings its own dev split
    assert _front(text)["datasets"] == ["demo-ner"]
    (row,) = _section_table(text, "### Data")
    assert row["file"] == "demo-ner" and row["sha256"].startswith("bundled demo data")


def test_limitations_name_the_training_size_and_types_missing_from_test(runs, tmp_path):
    store, ner, _ = runs
    text = modelcard.card_text(store.run_dir(ner))
    assert "- Trained on 24 examples." in text  # make_run_config's 24 training sentences
    assert "at most 32 sub-tokens (max_length)" in text
    assert "holds no example of" not in text  # both types occur in test
    run_dir = _copy_run(store, ner, tmp_path / "run")
    report = RunFolder(run_dir).read_report()
    report["test"]["entities"]["per_type"]["LOC"]["support"] = 0
    RunFolder(run_dir).write_report(report)
    text = modelcard.card_text(run_dir)
    assert "The test split holds no example of LOC" in text
    labels = re.search(r"5 labels, in model-output order \(`config.id2label`\): (.*)\.", text)
    assert labels.group(1) == ", ".join(f"`{t}`" for t in report["labels"])


def test_zip_holds_the_model_and_card_and_loads_to_the_same_logits(runs, tmp_path):
    from transformers import AutoModelForTokenClassification, AutoTokenizer

    store, ner, _ = runs
    run_dir = _copy_run(store, ner, tmp_path / "run")
    folder = RunFolder(run_dir)
    assert not folder.model_card_path.exists()
    data = modelcard.model_zip(run_dir)
    assert folder.model_card_path.is_file()  # written first when missing
    top = f"{run_dir.name}-model"
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        names = set(zf.namelist())
        for name in ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
                     "README.md"):
            assert f"{top}/{name}" in names
        assert zf.getinfo(f"{top}/model.safetensors").compress_type == zipfile.ZIP_STORED
        assert zf.read(f"{top}/README.md").decode() == modelcard.card_text(run_dir)
        zf.extractall(tmp_path / "unzipped")
    assert not [n for n in names if Path(n).name.startswith(".")]
    tok = AutoTokenizer.from_pretrained(folder.model_dir)
    batch = tok(["john smith visited paris today ."], return_tensors="pt")
    with torch.no_grad():
        here = AutoModelForTokenClassification.from_pretrained(folder.model_dir).eval()(**batch).logits
        there = AutoModelForTokenClassification.from_pretrained(tmp_path / "unzipped" / top).eval()(**batch).logits
    assert torch.equal(here, there) and here.abs().sum() > 0


def test_missing_or_damaged_model_is_refused(runs, tmp_path):
    store, ner, _ = runs
    bare = _copy_run(store, ner, tmp_path / "bare", with_model=False)
    with pytest.raises(WorkbenchError, match="no model/ folder"):
        modelcard.model_zip(bare)
    with pytest.raises(WorkbenchError, match="no model/ folder"):
        modelcard.write_card(bare)
    broken = _copy_run(store, ner, tmp_path / "broken")
    (RunFolder(broken).model_dir / "model.safetensors").unlink()
    with pytest.raises(WorkbenchError, match=r"no \*\.safetensors"):
        modelcard.model_zip(broken)
    assert "safetensors" in modelcard.model_problem(broken)
    assert modelcard.model_problem(store.run_dir(ner)) is None


def test_card_needs_a_readable_report(runs, tmp_path):
    store, ner, _ = runs
    run_dir = _copy_run(store, ner, tmp_path / "run")
    RunFolder(run_dir).report_path.write_text('{"task": "ner", "labels": "O"}')
    with pytest.raises(WorkbenchError, match="report.json is damaged: labels is not a list"):
        modelcard.write_card(run_dir)
    RunFolder(run_dir).report_path.unlink()
    with pytest.raises(WorkbenchError, match="report.json: missing"):
        modelcard.card_text(run_dir)
    assert not RunFolder(run_dir).model_card_path.exists()


def test_write_card_is_atomic_and_works_while_status_says_running(runs, tmp_path):
    store, ner, _ = runs
    run_dir = _copy_run(store, ner, tmp_path / "run")
    RunFolder(run_dir).update_status(state="running")
    path = modelcard.write_card(run_dir)
    assert path == RunFolder(run_dir).model_dir / "README.md"
    assert path.read_text(encoding="utf-8") == modelcard.card_text(run_dir)
    assert sorted(p.name for p in path.parent.iterdir() if p.name.startswith(".")) == []


@pytest.mark.parametrize("value", [
    {"a": "x: y", "b": "#no", "c": "yes", "d": "it's \"quoted\"\nnext", "e": "ü ∑ 東京"},
    {"v": [1e-05, 0.5, 3, None, True, "1.0", "null", "-", ""], "empty": [], "none": {}},
    {"deep": [{"k": [{"x": 1, "y": ["a", "b"]}], "z": {"q": "r/s"}}, [1, [2, 3]]]}])
def test_front_matter_yaml_round_trips(value):
    assert yaml.safe_load("\n".join(modelcard.to_yaml(value))) == value


@pytest.fixture
def card_cli(monkeypatch, runs):
    store, ner, _ = runs
    monkeypatch.setenv("WORKBENCH_HOME", str(store.root))
    if "engine.cli_card" not in cli.COMMAND_MODULES:
        monkeypatch.setattr(cli, "COMMAND_MODULES", cli.COMMAND_MODULES + ("engine.cli_card",))
    return store, ner


def test_cli_writes_the_card_and_prints_it(card_cli, capsys, tmp_path):
    store, ner = card_cli
    card = RunFolder(store.run_dir(ner)).model_card_path
    card.unlink(missing_ok=True)
    assert cli.main(["card", ner]) == 0
    assert card.read_text(encoding="utf-8") == modelcard.card_text(store.run_dir(ner))
    assert capsys.readouterr().out.strip() == f"wrote {card}"
    card.write_text("stale")
    assert cli.main(["card", str(store.run_dir(ner)), "--print"]) == 0
    out = capsys.readouterr()
    assert out.out == card.read_text(encoding="utf-8") == modelcard.card_text(store.run_dir(ner))
    assert _front(out.out)["pipeline_tag"] == "token-classification"
    assert f"wrote {card}" in out.err


def test_cli_refuses_unknown_runs_and_runs_without_a_model(card_cli, capsys, tmp_path):
    store, ner = card_cli
    assert cli.main(["card", "no-such-run"]) == 1
    assert "error: no run 'no-such-run'" in capsys.readouterr().err
    bare = _copy_run(store, ner, tmp_path / "bare", with_model=False)
    assert cli.main(["card", str(bare)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "no model/ folder" in err and "Traceback" not in err
    assert json.loads(RunFolder(bare).config_path.read_text())["name"] == "tiny-ner"
