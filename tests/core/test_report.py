"""core/report: the report schema's builders and readers."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from seqeval.metrics import f1_score as seqeval_f1
from sklearn.metrics import accuracy_score, f1_score

from core.records import TextExample, TokenExample
from core.report import (accuracy_of, headline, metric_value, new_report, prediction_rows, problems,
                         score_split, split_score, status_headline, summary)

TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
CLASSES = ["neg", "neu", "pos"]

tag_seqs = st.lists(st.lists(st.sampled_from(TAGS), min_size=1, max_size=8), min_size=1, max_size=6)


def _pairs(draw_gold, data):
    pred = [data.draw(st.lists(st.sampled_from(TAGS), min_size=len(g), max_size=len(g)))
            for g in draw_gold]
    return {"gold": draw_gold, "pred": pred}


@settings(max_examples=60, deadline=None)
@given(tag_seqs, st.data())
def test_ner_section_headline_and_metric_agree_with_seqeval(gold, data):
    pred = _pairs(gold, data)
    section = score_split("ner", pred, TAGS, full=False)
    assert set(section) == {"entities"}
    head = headline("ner", section)
    assert math.isclose(head["f1_micro"], seqeval_f1(pred["gold"], pred["pred"], average="micro",
                                                     zero_division=0), abs_tol=1e-9)
    assert metric_value("ner", "f1_micro", section) == head["f1_micro"]
    assert metric_value("ner", "f1_macro", section) == head["f1_macro"]
    assert set(head["per_type_f1"]) <= {"PER", "LOC"}
    full = score_split("ner", pred, TAGS, full=True)
    assert {"entities", "tokens", "confusion", "errors"} <= set(full)
    assert full["confusion"]["labels"] and len(full["confusion"]["matrix"]) == len(full["confusion"]["labels"])


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(CLASSES), st.sampled_from(CLASSES)), min_size=1,
                max_size=30))
def test_classification_section_agrees_with_sklearn(pairs):
    pred = {"gold": [g for g, _ in pairs], "pred": [p for _, p in pairs]}
    section = score_split("classification", pred, CLASSES, full=True)
    head = headline("classification", section)
    assert math.isclose(head["accuracy"], accuracy_score(pred["gold"], pred["pred"]))
    assert math.isclose(head["f1_macro"], f1_score(pred["gold"], pred["pred"], labels=CLASSES,
                                                   average="macro", zero_division=0))
    assert metric_value("classification", "accuracy", section) == head["accuracy"]
    report = {"task": "classification", "dev": section}
    assert split_score(report, "dev", "accuracy") == head["accuracy"]
    assert split_score(report, "dev", "macro") == head["f1_macro"]
    assert split_score(report, "test", "micro") is None


def test_multilabel_accuracy_is_exact_match_through_every_reader():
    gold = [["a"], ["a", "b"], ["b"], []]
    guess = [["a"], ["a"], ["b"], []]
    section = score_split("multilabel", {"gold": gold, "pred": guess}, ["a", "b"], full=True)
    table = section["classes"]
    assert "accuracy" not in table and table["subset_accuracy"] == 0.75
    assert accuracy_of(table) == 0.75
    assert headline("multilabel", section)["accuracy"] == 0.75
    assert metric_value("multilabel", "accuracy", section) == 0.75
    assert split_score({"test": section}, "test", "accuracy") == 0.75


def test_readers_tolerate_broken_reports():
    for broken in (None, "garbage", [], {"dev": "x"}, {"dev": {"classes": 3}}):
        assert split_score(broken, "dev", "micro") is None
        assert split_score(broken, "dev", "accuracy") is None


def test_status_headline_prefers_the_summary_then_the_last_eval():
    ner = {"summary": {"dev": {"f1_micro": 0.8, "f1_macro": 0.7, "per_type_f1": {}}},
           "last_eval": {"value": 0.5}}
    assert status_headline(ner) == 0.8
    text = {"summary": {"test": {"accuracy": 0.9, "f1_macro": 0.1, "f1_micro": 0.9}}}
    assert status_headline(text, "test") == 0.9
    assert status_headline({"last_eval": {"value": 0.4}}) == 0.4
    assert status_headline({"last_eval": {"value": 0.4}}, "test") is None
    assert status_headline({}) is None


def test_summary_has_one_headline_per_split_present():
    pred = {"gold": [["B-PER", "O"]], "pred": [["B-PER", "O"]]}
    report = new_report("ner", TAGS, "f1_micro", best_step=3, best_score=1.0, steps=4)
    report["test"] = score_split("ner", pred, TAGS, full=True)
    assert report["labels"] == TAGS and report["steps"] == 4
    assert summary(report) == {"test": headline("ner", report["test"])}
    assert summary(report)["test"]["f1_micro"] == 1.0


def test_prediction_rows_per_task():
    sents = [TokenExample(("Ann", "ran"), ("B-PER", "O")), TokenExample(("Oslo",), ("B-LOC",))]
    pred = {"gold": [["B-PER", "O"], ["B-LOC"]], "pred": [["B-PER", "O"], ["O"]],
            "conf": [[0.9, 0.8], [0.6]]}
    rows = list(prediction_rows("ner", "dev", sents, pred))
    assert rows[1] == {"split": "dev", "index": 1, "gold": ["B-LOC"], "pred": ["O"],
                       "tokens": ["Oslo"], "conf": [0.6]}
    texts = [TextExample("good", ("pos",)), TextExample("bad", ("neg",))]
    probs = np.array([[0.123456, 0.2, 0.676544], [0.9, 0.05, 0.05]])
    rows = list(prediction_rows("classification", "test", texts,
                                {"gold": ["pos", "neg"], "pred": ["pos", "neg"], "probs": probs}))
    assert rows[0]["text"] == "good" and rows[0]["probs"] == [0.1235, 0.2, 0.6765]
    assert [r["index"] for r in rows] == [0, 1] and {r["split"] for r in rows} == {"test"}


@pytest.mark.parametrize("metric", ["f1_micro", "f1_macro"])
def test_metric_value_of_text_tasks_reads_f1(metric):
    pred = {"gold": ["pos", "neg", "neg"], "pred": ["pos", "pos", "neg"]}
    section = score_split("classification", pred, CLASSES, full=False)
    avg = "macro" if metric == "f1_macro" else "micro"
    assert metric_value("classification", metric, section) == section["classes"][avg]["f1"]


@settings(max_examples=40, deadline=None)
@given(tag_seqs, st.data())
def test_problems_is_empty_for_built_reports_and_names_each_broken_table(gold, data):
    pred = _pairs(gold, data)
    report = {**new_report("ner", TAGS, "f1_micro", best_step=1, best_score=0.5, steps=2),
              "dev": score_split("ner", pred, TAGS, full=True),
              "test": score_split("ner", pred, TAGS, full=False)}
    assert problems(report) == []
    split = data.draw(st.sampled_from(["dev", "test"]))
    path = data.draw(st.sampled_from([(), ("entities",), ("entities", "micro"), ("entities", "per_type")]))
    junk = data.draw(st.sampled_from(["x", 5, [1], None]))
    broken = __import__("copy").deepcopy(report)
    target = broken[split]
    for key in path[:-1]:
        target = target[key]
    if path:
        target[path[-1]] = junk
    else:
        broken[split] = junk
    assert [p for p in problems(broken) if p.startswith(".".join((split,) + path))]


def test_problems_of_non_objects():
    assert problems([1]) == ["the file holds list, not an object"]
    assert problems({"task": 3}) == ["task is not a string"]


def test_grouped_binary_classification_gets_a_ranking_section_equal_to_core_ranking():
    from core import ranking
    from core.report import positive_label, score_split

    rng = np.random.default_rng(3)
    labels = ["clicked", "skipped"]
    groups = [f"u{i // 5}" for i in range(40)]
    gold = [labels[int(x)] for x in rng.integers(0, 2, 40)]
    p_click = rng.random(40)
    probs = np.stack([p_click, 1 - p_click], axis=1)
    pred = {"gold": gold, "pred": [labels[int(p < 0.5)] for p in p_click], "probs": probs,
            "groups": groups}
    section = score_split("classification", pred, labels, full=False)["ranking"]
    assert section["positive"] == "clicked" == positive_label(labels)
    relevance = [1.0 if g == "clicked" else 0.0 for g in gold]
    assert section["groups"] == ranking.ranking_report(groups, relevance, p_click)
    assert section["binary"]["roc_auc"] == pytest.approx(ranking.roc_auc(relevance, p_click))
    json.dumps(section, allow_nan=False)  # report.json material
    # no groups, or more than two labels: no ranking section
    assert "ranking" not in score_split("classification", {**pred, "groups": None}, labels,
                                        full=False)
    assert positive_label(["neg", "pos"]) == "pos" and positive_label(["0", "1"]) == "1"
    assert positive_label(["a", "b"]) == "b"
