"""The pages against run folders the real engine wrote (tests/pages/real_runs.py), not the
fabricated ones of fakes.py: a key the engine renames in report.json, status.json,
metrics.jsonl or predictions.jsonl, or a model/ the Playground cannot load, fails here.

Expected values are read from the run folder's files (plain json, not the engine's readers),
then looked for on the page, formatted as the page formats them."""
from __future__ import annotations

import json
from pathlib import Path

from core.spans import to_spans
from engine.predict import Predictor, split_words
from pages.playground import detokenize
from tests.pages.fakes import no_exception, page_test

AVERAGE_ROWS = ["micro avg", "macro avg", "weighted avg"]


# ---- reading the run folders ----------------------------------------------------------------

def _dir(runs, run_id: str) -> Path:
    return runs.root / "runs" / run_id


def _json(runs, run_id: str, name: str) -> dict:
    return json.loads((_dir(runs, run_id) / name).read_text(encoding="utf-8"))


def _jsonl(runs, run_id: str, name: str) -> list[dict]:
    text = (_dir(runs, run_id) / name).read_text(encoding="utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


def _lines(path: str) -> int:
    return sum(1 for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip())


def _pct(x: float) -> str:
    """As the Report page writes a share: one decimal, a whole 100 % without it."""
    text = f"{100 * x:.1f}"
    return "100 %" if text == "100.0" else f"{text} %"


# ---- reading the page -----------------------------------------------------------------------

def _clean(at) -> None:
    """No exception and no error message (run_guarded turns a KeyError into st.error)."""
    no_exception(at)
    assert not at.error, [e.value for e in at.error]


def _metric(at, label: str) -> str:
    found = [m.value for m in at.metric if m.label == label]
    assert found, f"no {label!r} tile; tiles: {[m.label for m in at.metric]}"
    return found[0]


def _table(at, column: str):
    found = [d.value for d in at.dataframe if column in d.value.columns]
    assert found, f"no table with a {column!r} column"
    return found[0]


def _specs(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]


def _check_scores(table, scores: dict) -> None:
    """A score table (index: type/tag/class) holds each per-type and average row of `scores`
    (a core.metrics report), in %."""
    for label, row in list(scores["per_type"].items()) + [(f"{a} avg", scores[a]) for a in
                                                          ("micro", "macro", "weighted")]:
        for column, key in (("Precision", "precision"), ("Recall", "recall"), ("F1", "f1")):
            assert abs(table.loc[label, column] - 100 * row[key]) < 1e-9, (label, column)
        assert table.loc[label, "Support"] == row["support"]


# ---- Report ---------------------------------------------------------------------------------

def test_report_shows_the_ner_scores_the_engine_wrote(real_workspace):
    runs = real_workspace
    report = _json(runs, runs.ner, "report.json")
    config = _json(runs, runs.ner, "config.json")
    rows = [r for r in _jsonl(runs, runs.ner, "predictions.jsonl") if r["split"] == "test"]
    at = page_test("report", run=runs.ner)
    _clean(at)
    test = report["test"]
    ent = test["entities"]
    assert _metric(at, "Micro F1") == _pct(ent["micro"]["f1"])
    assert _metric(at, "Macro F1") == _pct(ent["macro"]["f1"])
    assert _metric(at, "Precision") == _pct(ent["micro"]["precision"])
    assert _metric(at, "Recall") == _pct(ent["micro"]["recall"])
    assert _metric(at, "Entities") == f"{ent['micro']['support']:,}"
    assert _metric(at, "Tag accuracy") == _pct(test["tokens"]["accuracy"])
    # one row per entity type of the gold test sentences, then the averages
    gold_types = {t for r in rows for t, _, _ in to_spans(r["gold"])}
    assert gold_types and set(ent["per_type"]) == gold_types
    entities = _table(at, "Entity type").set_index("Entity type")
    assert list(entities.index) == list(ent["per_type"]) + AVERAGE_ROWS
    _check_scores(entities, ent)
    for etype, row in ent["per_type"].items():
        assert [entities.loc[etype, k] for k in ("TP", "FP", "FN")] == [row["tp"], row["fp"], row["fn"]]
    tags = _table(at, "Tag").set_index("Tag")
    assert set(tags.index) - set(AVERAGE_ROWS) == set(test["tokens"]["per_type"])
    assert set(test["tokens"]["per_type"]) <= set(report["labels"]) and "O" in tags.index
    _check_scores(tags, test["tokens"])
    breakdown = _table(at, "Spurious").set_index("Entity type")
    assert set(breakdown.index) == set(test["errors"])
    for etype, counts in test["errors"].items():
        assert breakdown.loc[etype, "Correct"] == counts["correct"]
        assert breakdown.loc[etype, "Missed"] == counts["missed"]
        assert breakdown.loc[etype, "Spurious"] == counts["spurious"]
    captions = " ".join(c.value for c in at.caption)
    assert (f"step {report['best_step']:,} of {report['steps']:,} (chosen by dev micro F1)"
            in captions)
    # the error browser reads predictions.jsonl: every test sentence of the data file is there
    n_test = _lines(config["test"])
    assert len(rows) == n_test
    text = captions + " ".join(s.value for s in at.success)
    assert (f"of {n_test:,} test sentences" in text
            or f"in the {n_test:,} test sentences is predicted exactly right" in text)
    at.button_group(key="report.split").set_value("dev").run()
    _clean(at)
    assert _metric(at, "Micro F1") == _pct(report["dev"]["entities"]["micro"]["f1"])


def test_report_shows_the_classification_scores_the_engine_wrote(real_workspace):
    runs = real_workspace
    report = _json(runs, runs.classification, "report.json")
    rows = [r for r in _jsonl(runs, runs.classification, "predictions.jsonl")
            if r["split"] == "test"]
    at = page_test("report", run=runs.classification)
    _clean(at)
    classes = report["test"]["classes"]
    assert _metric(at, "Accuracy") == _pct(classes["accuracy"])
    assert _metric(at, "Macro F1") == _pct(classes["macro"]["f1"])
    assert _metric(at, "Micro F1") == _pct(classes["micro"]["f1"])
    assert _metric(at, "Weighted F1") == _pct(classes["weighted"]["f1"])
    table = _table(at, "Class").set_index("Class")
    assert set(classes["per_type"]) == set(report["labels"]) == {r["gold"] for r in rows}
    assert list(table.index) == list(classes["per_type"]) + AVERAGE_ROWS
    _check_scores(table, classes)
    wrong = [r for r in rows if r["gold"] != r["pred"]]
    if wrong:
        assert any(f"of {len(wrong):,} misclassified" in c.value for c in at.caption)
    else:
        assert any(f"All {len(rows):,} test examples" in s.value for s in at.success)


# ---- Runs -----------------------------------------------------------------------------------

def _headline_of(report: dict, split: str) -> float:
    """The score the Runs table shows: entity micro F1 (NER) or accuracy, from report.json."""
    section = report[split]
    return section["entities"]["micro"]["f1"] if report["task"] == "ner" \
        else section["classes"]["accuracy"]


def test_runs_lists_the_runs_with_their_scores_and_shows_one(real_workspace):
    runs = real_workspace
    ids = (runs.ner, runs.ner_other, runs.classification)
    at = page_test("runs", run=runs.ner)
    _clean(at)
    table = _table(at, "Steps").set_index("ID")
    assert set(table.index) == set(ids)
    for run_id in ids:
        report, config = _json(runs, run_id, "report.json"), _json(runs, run_id, "config.json")
        row = table.loc[run_id]
        assert row["State"] == "✓ completed" and row["Progress"] == 1.0
        assert row["Name"] == config["name"] and row["Task"] == report["task"]
        assert row["Steps"] == f"{report['steps']:,} / {report['steps']:,}"
        for split in ("dev", "test"):
            assert abs(row[f"{split.capitalize()} score"] - 100 * _headline_of(report, split)) < 1e-9
    # the selected run: tiles, caption, curves and worker log
    report = _json(runs, runs.ner, "report.json")
    metrics = _jsonl(runs, runs.ner, "metrics.jsonl")
    assert at.subheader[0].value.endswith(_json(runs, runs.ner, "config.json")["name"])
    assert _metric(at, "Progress") == "100 %"
    assert _metric(at, "Best dev F1") == _pct(report["best_score"])
    assert _metric(at, "Test F1") == _pct(report["test"]["entities"]["micro"]["f1"])
    last_log = [m for m in metrics if m["event"] == "log"][-1]
    assert _metric(at, "Training loss") == f"{last_log['loss']:.3f}"
    captions = " ".join(c.value for c in at.caption)
    assert f"step {report['steps']:,} of {report['steps']:,}" in captions
    specs = _specs(at)
    titles = json.dumps(specs)  # the dev curve is a layered chart: its title sits in a layer
    for title in ("Training loss", "Learning rate", "Dev micro F1 (%)"):
        assert title in titles
    per_type = next(s for s in specs if "Dev F1 per entity type" in json.dumps(s.get("title")))
    assert per_type["encoding"]["color"]["scale"]["domain"] == sorted(report["dev"]["entities"]["per_type"])
    log = " ".join(c.value for c in at.code)
    assert f"eval step {report['best_step']}: dev f1_micro {report['best_score']:.4f}  (best)" in log


# ---- Compare --------------------------------------------------------------------------------

def test_compare_puts_the_two_ner_runs_side_by_side(real_workspace):
    runs = real_workspace
    pair = (runs.ner, runs.ner_other)
    reports = {i: _json(runs, i, "report.json") for i in pair}
    configs = {i: _json(runs, i, "config.json") for i in pair}
    at = page_test("compare")
    _clean(at)
    assert set(at.multiselect(key="compare.runs").value) == set(pair)  # the same task, not the classifier
    scores = _table(at, "Test micro F1").set_index("Run")
    for run_id in pair:
        name, rep = configs[run_id]["name"], reports[run_id]
        for split in ("dev", "test"):
            for avg in ("micro", "macro"):
                shown = scores.loc[name, f"{split.capitalize()} {avg} F1"]
                assert abs(shown - 100 * rep[split]["entities"][avg]["f1"]) < 1e-9
        assert scores.loc[name, "Best step"] == rep["best_step"]
        assert scores.loc[name, "Steps"] == rep["steps"]
        assert abs(scores.loc[name, "Train time (s)"] - rep["train_time_s"]) < 1e-9
    diff = _table(at, "Setting").set_index("Setting")
    assert list(diff.index) == ["seed"]
    for run_id in pair:
        assert diff.loc["seed", configs[run_id]["name"]] == str(configs[run_id]["seed"])
    titles = json.dumps([s.get("title") for s in _specs(at)])
    assert "Dev micro F1 (%)" in titles and "Training loss" in titles
    per_type = _table(at, "Entity type").set_index("Entity type")
    types = sorted(reports[runs.ner]["test"]["entities"]["per_type"])
    assert list(per_type.index) == types
    for run_id in pair:
        for etype in types:
            shown = per_type.loc[etype, configs[run_id]["name"]]
            assert abs(shown - 100 * reports[run_id]["test"]["entities"]["per_type"][etype]["f1"]) < 1e-9


def test_compare_says_in_words_whether_the_difference_is_real(real_workspace):
    from engine.significance import compare_runs, verdict
    from pages.compare import SIG_RESAMPLES

    runs = real_workspace
    at = page_test("compare")
    _clean(at)
    first, second = at.multiselect(key="compare.runs").value[:2]
    expected = compare_runs(_dir(runs, first), _dir(runs, second), split="test",
                            resamples=SIG_RESAMPLES)
    shown = [m.value for m in at.markdown] + [m.value for m in at.success]
    for row in expected["scores"]:
        text = verdict(row)
        assert text[0].upper() + text[1:] + "." in shown
    assert any(f"same {expected['examples']} test examples" in c.value for c in at.caption)


# ---- Playground -----------------------------------------------------------------------------

def test_playground_tags_a_sentence_with_the_ner_runs_model(real_workspace):
    runs = real_workspace
    report, config = _json(runs, runs.ner, "report.json"), _json(runs, runs.ner, "config.json")
    at = page_test("playground", run=runs.ner)
    _clean(at)
    test_sentences = {detokenize(r["tokens"]) for r in _jsonl(runs, runs.ner, "predictions.jsonl")
                      if r["split"] == "test"}
    assert at.text_area(key="playground.text_ner").value in test_sentences
    text = "mary visited new york and the cat ."
    at.text_area(key="playground.text_ner").input(text).run()
    _clean(at)
    predictor = Predictor.load(_dir(runs, runs.ner) / "model", task="ner",
                               max_length=config["max_length"])
    words, tags, _ = predictor.predict_text_words(text)
    assert words == split_words(text) and set(tags) <= set(report["labels"])
    per_word = _table(at, "Tag")
    assert list(per_word["Word"]) == words and list(per_word["Tag"]) == tags
    spans = to_spans(tags)
    if spans:
        entities = _table(at, "Entity")
        assert list(entities["Type"]) == [t for t, _, _ in spans]
    else:
        assert any("No entities found" in i.value for i in at.info)


def test_playground_classifies_a_text_with_the_classification_runs_model(real_workspace):
    runs = real_workspace
    report = _json(runs, runs.classification, "report.json")
    config = _json(runs, runs.classification, "config.json")
    at = page_test("playground", run=runs.classification)
    _clean(at)
    text = "tom visited berlin today"
    at.text_area(key="playground.text_classification").input(text).run()
    _clean(at)
    predictor = Predictor.load(_dir(runs, runs.classification) / "model", task="classification",
                               max_length=config["max_length"])
    (probs,) = predictor.predict_texts([text])
    assert set(probs) == set(report["labels"])
    assert _metric(at, "Predicted class") == max(probs, key=probs.get)
