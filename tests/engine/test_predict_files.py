"""`python -m engine predict` (engine/predict_files.py): a file labelled with a trained model
gives exactly the run's own predictions, so `evaluate` on it reproduces report.json; every
input and output format; bad input and models; never a partial output file."""
from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from core.config import RunConfig, config_to_dict
from core.formats import read_jsonl, write_conll
from engine import worker
from engine.cli import main as cli
from engine.predict import open_model
from engine.predict_files import CHUNK, input_format, predict_file, word_splitter
from engine.runfolder import RunFolder
from engine.store import Store
from tests.engine.runs import make_run_config

pytestmark = pytest.mark.slow


def _train(root: Path, task: str, **overrides) -> tuple[Path, dict]:
    cfg = make_run_config(root / task, task, epochs=2, **overrides)
    store = Store(root / f"ws-{task}")
    run_id = store.create_run(config_to_dict(RunConfig(**cfg)))
    with torch.random.fork_rng(devices=[]):
        state = worker.run(store.run_dir(run_id))
    assert state == "completed", RunFolder(store.run_dir(run_id)).read_status().get("error")
    return store.run_dir(run_id), cfg


@pytest.fixture(scope="module")
def ner_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("predict"), "ner")


@pytest.fixture(scope="module")
def text_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("predict"), "classification")


def _test_examples(cfg: dict, task: str) -> list:
    return read_jsonl(Path(cfg["test"]).read_bytes(), task=task)


def _evaluate_json(path: Path, capsys) -> dict:
    assert cli(["evaluate", "--gold", str(path), "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_predicting_the_test_file_then_evaluating_it_gives_the_report(ner_run, tmp_path, capsys):
    run_dir, cfg = ner_run
    gold = tmp_path / "test.conll"
    gold.write_text(write_conll(_test_examples(cfg, "ner")), encoding="utf-8")
    out = tmp_path / "pred.conll"
    assert cli(["predict", "--model", str(run_dir), "--input", str(gold),
                "--output", str(out)]) == 0
    assert "8 sentences" in capsys.readouterr().out
    folder = RunFolder(run_dir)
    rows = folder.read_predictions("test")
    lines = [ln.split() for ln in out.read_text(encoding="utf-8").split("\n\n") if ln.strip()]
    assert len(lines) == len(rows)
    predicted = [[w.split()[-1] for w in block.strip().split("\n")]
                 for block in out.read_text(encoding="utf-8").split("\n\n") if block.strip()]
    assert predicted == [r["pred"] for r in rows]  # the report's own predictions, word for word
    scores = _evaluate_json(out, capsys)
    entities = folder.read_report()["test"]["entities"]
    assert scores["micro"]["f1"] == pytest.approx(entities["micro"]["f1"], abs=1e-12)
    for type_, row in entities["per_type"].items():
        assert scores[type_]["f1"] == pytest.approx(row["f1"], abs=1e-12)
        assert scores[type_]["support"] == row["support"]


@pytest.fixture(scope="module")
def context_run(tmp_path_factory):
    return _train(tmp_path_factory.mktemp("predict"), "ner", context=12, decoding="viterbi")


def test_with_context_and_viterbi_predict_in_chunks_still_gives_the_report(context_run, tmp_path,
                                                                            capsys, monkeypatch):
    """The run read each test sentence with 12 sub-tokens of its neighbours and decoded valid
    IOB2 sequences; predict, labelling the file 3 sentences at a time (the neighbours come
    from the chunks around), gives the same tags, so evaluate gives the report's F1."""
    from core.schemes import is_valid
    from engine import predict_files

    run_dir, cfg = context_run
    monkeypatch.setattr(predict_files, "CHUNK", 3)
    gold = tmp_path / "test.conll"
    gold.write_text(write_conll(_test_examples(cfg, "ner")), encoding="utf-8")
    out = tmp_path / "pred.conll"
    assert cli(["predict", "--model", str(run_dir), "--input", str(gold),
                "--output", str(out)]) == 0
    capsys.readouterr()
    rows = RunFolder(run_dir).read_predictions("test")
    predicted = [[w.split()[-1] for w in block.strip().split("\n")]
                 for block in out.read_text(encoding="utf-8").split("\n\n") if block.strip()]
    assert predicted == [r["pred"] for r in rows]
    assert all(is_valid(tags, "IOB2") for tags in predicted)
    scores = _evaluate_json(out, capsys)
    report = RunFolder(run_dir).read_report()["test"]["entities"]
    assert scores["micro"]["f1"] == pytest.approx(report["micro"]["f1"], abs=1e-12)
    # the model folder alone keeps context and decoding (inference.json)
    predictor = open_model(RunFolder(run_dir).model_dir)
    assert (predictor.context, predictor.scheme) == (12, "IOB2")
    # and without the neighbours the tags may differ: context is really read
    alone = predictor.predict_words([list(ex.tokens) for ex in _test_examples(cfg, "ner")][:1])
    framed = predictor.predict_words([list(ex.tokens) for ex in _test_examples(cfg, "ner")],
                                     trail=7)
    assert len(alone) == len(framed) == 1


def test_the_model_folder_alone_predicts_as_its_run_did(ner_run, tmp_path):
    """model/ copied away keeps the run's max_length and window stride (inference.json):
    here a stride of 8 over 32 sub-tokens, not the default."""
    import shutil

    run_dir, cfg = ner_run
    copy = tmp_path / "copied-model"
    shutil.copytree(RunFolder(run_dir).model_dir, copy)
    assert (copy / "README.md").read_text(encoding="utf-8").startswith("---\n")  # its card
    predictor = open_model(copy)
    assert (predictor.max_length, predictor.stride) == (32, 8)
    tokens = [list(ex.tokens) for ex in _test_examples(cfg, "ner")]
    assert [t for t, _ in predictor.predict_words(tokens)] == \
        [r["pred"] for r in RunFolder(run_dir).read_predictions("test")]


def test_conll_without_tags_and_jsonl_tokens_give_the_same_tags(ner_run, tmp_path):
    run_dir, cfg = ner_run
    examples = _test_examples(cfg, "ner")
    bare = tmp_path / "bare.conll"
    bare.write_text("-DOCSTART-\n\n" + "\n\n".join("\n".join(ex.tokens) for ex in examples) + "\n",
                    encoding="utf-8")
    tokens = tmp_path / "tokens.jsonl"
    tokens.write_text("".join(json.dumps({"id": i, "tokens": list(ex.tokens)}) + "\n"
                              for i, ex in enumerate(examples)), encoding="utf-8")
    predictor = open_model(run_dir)
    predict_file(predictor, bare, tmp_path / "a.conll", confidence=True)
    predict_file(predictor, tokens, tmp_path / "b.jsonl")
    text = (tmp_path / "a.conll").read_text(encoding="utf-8")
    assert text.startswith("-DOCSTART-\n\n")
    blocks = [b for b in text.split("\n\n")[1:] if b.strip()]
    first = [line.split() for line in blocks[0].split("\n")]
    assert all(len(f) == 3 and 0 <= float(f[2]) <= 1 for f in first)  # token, tag, confidence
    from_conll = [[line.split()[1] for line in b.strip().split("\n")] for b in blocks]
    records = [json.loads(line) for line in (tmp_path / "b.jsonl").read_text().splitlines()]
    assert [r["tags"] for r in records] == from_conll
    assert [r["id"] for r in records] == list(range(len(examples)))  # input fields kept
    for r in records:
        for span in r["spans"]:
            assert r["text"][span["start_char"]:span["end_char"]] == \
                " ".join(r["tokens"][span["start"]:span["end"]])


def test_raw_text_is_split_by_the_model_pre_tokenizer_with_character_offsets(ner_run, tmp_path):
    run_dir, _ = ner_run
    predictor = open_model(run_dir)
    split = word_splitter(predictor.tokenizer)
    assert split("john  visited paris, today.") == [
        ("john", (0, 4)), ("visited", (6, 13)), ("paris", (14, 19)), (",", (19, 20)),
        ("today", (21, 26)), (".", (26, 27))]
    src = tmp_path / "notes.txt"
    src.write_text("john smith visited paris today .\n\nmary met the cat in berlin\n",
                   encoding="utf-8")
    assert input_format(src, "ner", None) == "txt"
    predict_file(predictor, src, tmp_path / "out.jsonl")
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["text"] for r in records] == ["john smith visited paris today .", "",
                                            "mary met the cat in berlin"]  # one per line
    assert records[1]["tokens"] == [] and records[1]["spans"] == []
    for r in records:
        for span in r["spans"]:
            assert r["text"][span["start_char"]:span["end_char"]] == span["text"]
    expected = predictor.predict_words([r["tokens"] for r in records if r["tokens"]])
    assert [r["tags"] for r in records if r["tokens"]] == [t for t, _ in expected]


def test_a_file_longer_than_a_chunk_streams_in_order(ner_run, tmp_path):
    run_dir, _ = ner_run
    predictor = open_model(run_dir)
    n = 2 * CHUNK + 17
    sentences = [["john", "visited", "paris"] if i % 2 else ["mary", "met", "tom", "."]
                 for i in range(n)]
    src = tmp_path / "many.jsonl"
    src.write_text("".join(json.dumps({"tokens": s, "n": i}) + "\n"
                           for i, s in enumerate(sentences)), encoding="utf-8")
    summary = predict_file(predictor, src, tmp_path / "many.out.jsonl")
    records = [json.loads(line) for line in (tmp_path / "many.out.jsonl").read_text().splitlines()]
    assert summary.records == n and [r["n"] for r in records] == list(range(n))
    alone = predictor.predict_words(sentences[:3])
    assert [r["tags"] for r in records[:3]] == [t for t, _ in alone]


def test_a_classifier_labels_csv_tsv_jsonl_and_parquet_as_its_report(text_run, tmp_path, capsys):
    import polars as pl

    run_dir, cfg = text_run
    examples = _test_examples(cfg, "classification")
    rows = RunFolder(run_dir).read_predictions("test")
    frame = pl.DataFrame({"id": list(range(len(examples))), "text": [e.text for e in examples],
                          "label": [e.labels[0] for e in examples]})
    frame.write_csv(tmp_path / "t.csv")
    frame.write_csv(tmp_path / "t.tsv", separator="\t")
    frame.write_parquet(tmp_path / "t.parquet")
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r) + "\n" for r in frame.to_dicts()))
    for name in ("t.csv", "t.tsv", "t.parquet"):
        out = tmp_path / f"{name}.out.csv"
        assert cli(["predict", "--model", str(run_dir), "--input", str(tmp_path / name),
                    "--output", str(out)]) == 0
        with open(out, encoding="utf-8", newline="") as f:
            got = list(csv.DictReader(f))
        assert [g["pred"] for g in got] == [r["pred"] for r in rows], name
        assert [g["id"] for g in got] == [str(i) for i in range(len(examples))]
        for g, r in zip(got, rows):
            assert [float(g[f"p_{c}"]) for c in ("greeting", "travel")] == \
                pytest.approx(r["probs"], abs=1e-4)  # predictions.jsonl rounds to 4 places
    out = tmp_path / "j.out.jsonl"
    assert cli(["predict", "--model", str(run_dir), "--input", str(tmp_path / "t.jsonl"),
                "--output", str(out)]) == 0
    got = [json.loads(line) for line in out.read_text().splitlines()]
    assert [g["pred"] for g in got] == [r["pred"] for r in rows]
    accuracy = sum(g["pred"] == g["label"] for g in got) / len(got)
    assert accuracy == pytest.approx(
        RunFolder(run_dir).read_report()["test"]["classes"]["accuracy"])
    capsys.readouterr()


@pytest.mark.parametrize("content, message", [
    (b"", "the file is empty"),
    (b"\xff\xfejohn\n", "UTF-16"),
    (b"john B-PER\nsmith \xe9 I-PER\n", "not valid UTF-8"),
    (b"john B-PER x\nsmith I-PER\n", "ragged columns"),
])
def test_bad_input_is_one_clear_error_and_leaves_the_old_output(ner_run, tmp_path, capsys,
                                                               content, message):
    run_dir, _ = ner_run
    src = tmp_path / "bad.conll"
    src.write_bytes(content)
    out = tmp_path / "out.conll"
    out.write_text("previous result\n")
    assert cli(["predict", "--model", str(run_dir), "--input", str(src),
                "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err
    assert str(src) in err
    assert out.read_text() == "previous result\n"  # untouched
    assert [p.name for p in tmp_path.iterdir() if "partial" in p.name] == []


def test_a_failure_midway_leaves_no_partial_output(ner_run, tmp_path, monkeypatch):
    run_dir, _ = ner_run
    predictor = open_model(run_dir)
    src = tmp_path / "in.jsonl"
    src.write_text("".join(json.dumps({"tokens": ["john", "met", "mary"]}) + "\n"
                           for _ in range(CHUNK + 5)) + "{broken\n", encoding="utf-8")
    out = tmp_path / "out.jsonl"
    from core.errors import DataError

    with pytest.raises(DataError, match=f"line {CHUNK + 6}"):
        predict_file(predictor, src, out)
    assert not out.exists() and list(tmp_path.iterdir()) == [src]


@pytest.mark.parametrize("make, message", [
    (lambda p: p, "no such folder"),
    (lambda p: (p.mkdir(), p)[1], "has no config.json"),
    (lambda p: (p.mkdir(), (p / "config.json").write_text("{}"), (p / "pytorch_model.bin")
                .write_bytes(b"x"), p)[-1], "safetensors"),
])
def test_a_model_that_cannot_be_used_is_a_clear_error(tmp_path, capsys, make, message):
    model = make(tmp_path / "model-x")
    src = tmp_path / "in.txt"
    src.write_text("john met mary\n")
    assert cli(["predict", "--model", str(model), "--input", str(src),
                "--output", str(tmp_path / "o.jsonl")]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_wrong_formats_and_unknown_gold_labels_say_so(ner_run, tmp_path, capsys):
    run_dir, _ = ner_run
    src = tmp_path / "in.conll"
    src.write_text("john B-PER\nvisited O\nacme B-ORG\n")
    assert cli(["predict", "--model", str(run_dir), "--input", str(src), "--output",
                str(tmp_path / "o.csv")]) == 1
    assert "csv is for text classifiers" in capsys.readouterr().err
    assert cli(["predict", "--model", str(run_dir), "--input", str(src), "--output",
                str(tmp_path / "o.conll")]) == 0
    out = capsys.readouterr().out
    assert "B-ORG" in out and "never predicts" in out
    assert cli(["predict", "--model", str(run_dir), "--input", str(src), "--output",
                str(src)]) == 1
    assert "is the input file" in capsys.readouterr().err
