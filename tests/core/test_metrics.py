"""core.metrics against seqeval (entities) and scikit-learn (tags, classes), plus error kinds."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from seqeval import scheme as seqeval_scheme
from seqeval.metrics import classification_report as seqeval_report
from seqeval.metrics.sequence_labeling import get_entities
from seqeval.scheme import Entities
from sklearn.metrics import (accuracy_score, confusion_matrix, hamming_loss,
                             precision_recall_fscore_support)
from sklearn.preprocessing import MultiLabelBinarizer

from core.errors import ConfigError, DataError
from core.metrics import (ERROR_KINDS, classification_report, confusion, entity_errors,
                          entity_report, format_table, multilabel_report, tag_confusion,
                          token_report)
from core.spans import from_spans

TOL = 1e-9
TYPES = ("PER", "LOC")
# Valid and invalid tags for conlleval mode: every BIES prefix, 'O', a plain label,
# an unknown prefix, '.', a bare prefix, an 'O-' tag and a multi-dash type.
CONLL_TAGS = ["O", "O", "O"] + [f"{p}-{t}" for p in "BIES" for t in TYPES] + [
    "PER", "X-LOC", ".-PER", ".", "B", "X", "O-PER", "B-A-B", "BLOC"]


def _split(flat: list[str], cuts: list[int]) -> list[list[str]]:
    """Sentences of `flat` cut at `cuts` (repeated cuts give empty sentences)."""
    bounds = [0, *sorted(cuts), len(flat)]
    return [flat[a:b] for a, b in zip(bounds, bounds[1:])]


@st.composite
def valid_tags(draw, scheme: str, max_tokens: int = 30) -> list[str]:
    """A tag sequence that is valid in `scheme` (runs of O and entities of 1-3 tokens)."""
    spans, pos = [], 0
    for length, is_entity, type_ in draw(st.lists(st.tuples(
            st.integers(1, 3), st.booleans(), st.sampled_from(TYPES)), max_size=12)):
        if pos + length > max_tokens:
            break
        if is_entity:
            spans.append((type_, pos, pos + length))
        pos += length
    return list(from_spans(spans, pos, scheme))


@st.composite
def corpora(draw, alphabet: list[str], scheme: str | None = None, max_tokens: int = 30):
    """(gold, pred) sentence lists of equal shape; pred is a corrupted copy or independent."""
    tags = st.sampled_from(alphabet)
    if scheme is not None and draw(st.booleans()):
        gold = draw(valid_tags(scheme, max_tokens))
    else:
        gold = draw(st.lists(tags, max_size=max_tokens))
    n = len(gold)
    if scheme is not None and draw(st.booleans()):
        other = draw(valid_tags(scheme, max_tokens))
        pred = (other + ["O"] * n)[:n]
    else:
        edits = draw(st.lists(st.one_of(st.none(), tags), min_size=n, max_size=n))
        pred = [g if e is None else e for g, e in zip(gold, edits)]
    cuts = draw(st.lists(st.integers(0, n), max_size=5))
    return _split(gold, cuts), _split(pred, cuts)


def _strict_alphabet(scheme: str) -> list[str]:
    allowed = seqeval_scheme.__dict__[scheme].allowed_prefix
    prefixes = [p for p in "BIESLU" if seqeval_scheme.Prefix[p] in allowed]
    return ["O", "O"] + [f"{p}-{t}" for p in prefixes for t in TYPES]


def _assert_equal_to_seqeval(ours: dict, ref: dict, ref_tp: dict[str, int]) -> None:
    """Rows, order, scores and counts equal; seqeval's NaN macro (no entities) reads 0.0."""
    types = [k for k in ref if not k.endswith(" avg")]
    assert list(ours["per_type"]) == types
    for name in types:
        row, want = ours["per_type"][name], ref[name]
        for key, ref_key in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
            assert row[key] == pytest.approx(want[ref_key], abs=TOL)
        assert row["support"] == want["support"]
        assert row["tp"] == ref_tp.get(name, 0)
        assert row["fn"] == row["support"] - row["tp"]
    for avg in ("micro", "macro", "weighted"):
        want = ref[f"{avg} avg"]
        for key, ref_key in (("precision", "precision"), ("recall", "recall"), ("f1", "f1-score")):
            value = 0.0 if math.isnan(want[ref_key]) else want[ref_key]
            assert ours[avg][key] == pytest.approx(value, abs=TOL)
        assert ours[avg]["support"] == want["support"]
    assert ours["micro"]["tp"] == sum(ref_tp.values())


def _conll_tp(gold, pred) -> dict[str, int]:
    """seqeval default-mode true positives per type, from its own get_entities."""
    g, p = set(get_entities(gold)), set(get_entities(pred))
    out: dict[str, int] = {}
    for type_, _, _ in g & p:
        out[type_] = out.get(type_, 0) + 1
    return out


def _strict_tp(gold, pred, scheme_cls) -> dict[str, int]:
    g, p = Entities(gold, scheme_cls), Entities(pred, scheme_cls)
    return {t: len(g.filter(t) & p.filter(t)) for t in g.unique_tags | p.unique_tags}


@pytest.fixture(autouse=True)
def _quiet_seqeval():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


# --------------------------------------------------------------------------- entities

@settings(max_examples=300, deadline=None)
@given(corpora(CONLL_TAGS))
def test_entity_report_equals_seqeval_default_mode(case):
    gold, pred = case
    ref = seqeval_report(gold, pred, output_dict=True)
    _assert_equal_to_seqeval(entity_report(gold, pred), ref, _conll_tp(gold, pred))


@pytest.mark.parametrize("scheme", ["IOB2", "IOE2", "IOBES", "BILOU"])
@settings(max_examples=120, deadline=None)
@given(data=st.data())
def test_entity_report_equals_seqeval_strict_mode(scheme, data):
    gold, pred = data.draw(corpora(_strict_alphabet(scheme), scheme))
    scheme_cls = seqeval_scheme.__dict__[scheme]
    ref = seqeval_report(gold, pred, output_dict=True, mode="strict", scheme=scheme_cls)
    ours = entity_report(gold, pred, mode="strict", scheme=scheme)
    _assert_equal_to_seqeval(ours, ref, _strict_tp(gold, pred, scheme_cls))


def test_conlleval_quirks_match_seqeval():
    # A bare first token opens a chunk (seqeval's initial prev_type is ''), and a chunk of
    # type '_' that no separator 'O' closes runs across sentence breaks: ('_', 0, 3).
    gold = [["X"], ["O", "X", "B-PER"], ["B-PER"], ["X", "B-LOC"]]
    pred = [["X"], ["O", "O", "B-PER"], ["B-PER"], ["O", "B-LOC"]]
    assert ("_", 0, 3) in get_entities(gold)
    ref = seqeval_report(gold, pred, output_dict=True)
    _assert_equal_to_seqeval(entity_report(gold, pred), ref, _conll_tp(gold, pred))
    assert entity_report(gold, pred)["per_type"]["_"]["support"] == 2


def test_strict_differs_from_conlleval_on_invalid_sequence():
    gold = [["B-PER", "I-PER", "O"]]
    pred = [["I-PER", "I-PER", "O"]]                  # orphan I-: conlleval accepts it
    assert entity_report(gold, pred)["micro"]["tp"] == 1
    strict = entity_report(gold, pred, mode="strict", scheme="IOB2")
    assert strict["micro"]["tp"] == 0 and strict["per_type"]["PER"]["fp"] == 0


def test_strict_rejects_iob1_and_missing_scheme():
    with pytest.raises(ConfigError, match="IOB1"):
        entity_report([["O"]], [["O"]], mode="strict", scheme="IOB1")
    with pytest.raises(ConfigError, match="scheme"):
        entity_report([["O"]], [["O"]], mode="strict")
    with pytest.raises(ConfigError, match="mode"):
        entity_report([["O"]], [["O"]], mode="lenient")


def test_strict_rejects_tag_outside_scheme_naming_sentence():
    gold = [["O"], ["B-PER", "E-PER"]]
    with pytest.raises(DataError, match=r"sentence 1, token 1: tag 'E-PER'.*IOB2"):
        entity_report(gold, gold, mode="strict", scheme="IOB2")
    with pytest.raises(ValueError):                   # seqeval rejects it too
        seqeval_report(gold, gold, mode="strict", scheme=seqeval_scheme.IOB2)


def test_mismatched_shapes_name_the_sentence():
    with pytest.raises(DataError, match="sentence 1: gold has 2 tags but the prediction has 1"):
        entity_report([["O"], ["O", "O"]], [["O"], ["O"]])
    with pytest.raises(DataError, match="2 sentences.*1"):
        entity_report([["O"], ["O"]], [["O"]])
    with pytest.raises(DataError, match="sentence 0"):
        token_report([["O", "O"]], [["O"]])
    with pytest.raises(DataError, match="not a non-empty string"):
        entity_report([["O", ""]], [["O", "O"]])


def test_accepts_tuples_like_token_examples():
    gold = (("B-PER", "I-PER", "O"), ("B-LOC",))
    pred = (("B-PER", "I-PER", "O"), ("O",))
    report = entity_report(gold, pred)
    assert report["micro"]["tp"] == 1 and report["micro"]["fn"] == 1


# --------------------------------------------------------------------------- error breakdown

def _kinds(result: dict) -> dict[str, int]:
    totals = dict.fromkeys(ERROR_KINDS, 0)
    for row in result["per_type"].values():
        for kind, count in row.items():
            totals[kind] += count
    return totals


@pytest.mark.parametrize("gold, pred, kind, gold_span, pred_span, type_", [
    (["B-PER", "I-PER", "O"], ["B-LOC", "I-LOC", "O"], "wrong_type",
     ["PER", 0, 2], ["LOC", 0, 2], "PER"),
    (["B-PER", "I-PER", "O"], ["B-PER", "O", "O"], "wrong_boundary",
     ["PER", 0, 2], ["PER", 0, 1], "PER"),
    (["B-PER", "I-PER", "O"], ["O", "B-LOC", "I-LOC"], "wrong_type_and_boundary",
     ["PER", 0, 2], ["LOC", 1, 3], "PER"),
    (["O", "O"], ["B-LOC", "O"], "spurious", None, ["LOC", 0, 1], "LOC"),
    (["B-ORG", "O"], ["O", "O"], "missed", ["ORG", 0, 1], None, "ORG"),
])
def test_each_error_kind(gold, pred, kind, gold_span, pred_span, type_):
    result = entity_errors([["O"], gold], [["O"], pred])
    assert result["errors"] == [{"sentence": 1, "kind": kind, "gold": gold_span,
                                 "pred": pred_span}]
    assert result["per_type"][type_][kind] == 1
    assert sum(_kinds(result).values()) == 1


def test_correct_spans_are_counted_not_listed():
    result = entity_errors([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "B-LOC"]])
    assert result["errors"] == []
    assert result["per_type"]["PER"]["correct"] == 1 and result["per_type"]["LOC"]["correct"] == 1


def test_best_overlap_partner_wins_and_the_other_fragment_is_spurious():
    gold = [["B-PER", "I-PER", "I-PER", "I-PER"]]
    pred = [["B-PER", "O", "B-PER", "I-PER"]]
    result = entity_errors(gold, pred)
    assert result["errors"] == [
        {"sentence": 0, "kind": "spurious", "gold": None, "pred": ["PER", 0, 1]},
        {"sentence": 0, "kind": "wrong_boundary", "gold": ["PER", 0, 4], "pred": ["PER", 2, 4]},
    ]


def test_equal_overlap_prefers_the_same_type_partner():
    # pred PER[0,4] overlaps gold LOC[0,2] and gold PER[2,4] by 2 tokens each
    gold = [["B-LOC", "I-LOC", "B-PER", "I-PER"]]
    pred = [["B-PER", "I-PER", "I-PER", "I-PER"]]
    assert entity_errors(gold, pred)["errors"] == [
        {"sentence": 0, "kind": "missed", "gold": ["LOC", 0, 2], "pred": None},
        {"sentence": 0, "kind": "wrong_boundary", "gold": ["PER", 2, 4], "pred": ["PER", 0, 4]},
    ]


def test_strict_errors_use_strict_spans():
    gold = [["B-PER", "I-PER"]]
    pred = [["I-PER", "I-PER"]]                       # no entity in strict IOB2
    result = entity_errors(gold, pred, mode="strict", scheme="IOB2")
    assert result["per_type"]["PER"]["missed"] == 1
    assert entity_errors(gold, pred)["per_type"]["PER"]["correct"] == 1


def _error_properties(gold, pred, **kw):
    report = entity_report(gold, pred, **kw)
    result = entity_errors(gold, pred, **kw)
    totals = _kinds(result)
    paired = totals["wrong_type"] + totals["wrong_boundary"] + totals["wrong_type_and_boundary"]
    n_gold = report["micro"]["support"]
    n_pred = report["micro"]["tp"] + report["micro"]["fp"]
    assert totals["correct"] + paired + totals["missed"] == n_gold
    assert totals["correct"] + paired + totals["spurious"] == n_pred
    assert totals["correct"] == report["micro"]["tp"]
    assert list(result["per_type"]) == list(report["per_type"])
    for name, row in report["per_type"].items():
        assert result["per_type"][name]["correct"] == row["tp"]
    assert len(result["errors"]) == paired + totals["missed"] + totals["spurious"]
    for error in result["errors"]:
        assert (error["gold"] is None) == (error["kind"] == "spurious")
        assert (error["pred"] is None) == (error["kind"] == "missed")


@settings(max_examples=200, deadline=None)
@given(corpora(CONLL_TAGS))
def test_error_counts_add_up_conlleval(case):
    _error_properties(*case)


@settings(max_examples=100, deadline=None)
@given(corpora(_strict_alphabet("IOBES"), "IOBES"))
def test_error_counts_add_up_strict(case):
    _error_properties(*case, mode="strict", scheme="IOBES")


# --------------------------------------------------------------------------- tags and classes

def _assert_equal_to_sklearn(ours: dict, gold, pred, names, labels=None) -> None:
    """Per-row and averaged scores equal; `labels` are sklearn's ids for `names`."""
    labels = names if labels is None else labels
    p, r, f, s = precision_recall_fscore_support(gold, pred, labels=labels, average=None,
                                                 zero_division=0)
    assert list(ours["per_type"]) == list(names)
    for i, name in enumerate(names):
        row = ours["per_type"][name]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx(
            (p[i], r[i], f[i]), abs=TOL)
        assert row["support"] == s[i]
    for avg in ("micro", "macro", "weighted", "samples"):
        if avg not in ours:
            continue
        want = precision_recall_fscore_support(gold, pred, labels=labels, average=avg,
                                               zero_division=0)[:3]
        row = ours[avg]
        assert (row["precision"], row["recall"], row["f1"]) == pytest.approx(want, abs=TOL)
        assert row["support"] == int(np.sum(s))


@settings(max_examples=100, deadline=None)
@given(corpora(CONLL_TAGS[:12]).filter(lambda c: any(c[0])))
def test_token_report_and_tag_confusion_equal_sklearn(case):
    gold, pred = case
    flat_g = [t for s in gold for t in s]
    flat_p = [t for s in pred for t in s]
    labels = sorted(set(flat_g) | set(flat_p))
    ours = token_report(gold, pred)
    assert sorted(ours["per_type"]) == labels
    ours["per_type"] = {name: ours["per_type"][name] for name in labels}
    _assert_equal_to_sklearn(ours, flat_g, flat_p, labels)
    assert ours["accuracy"] == pytest.approx(accuracy_score(flat_g, flat_p), abs=TOL)
    names, matrix = tag_confusion(gold, pred)
    assert names == labels
    np.testing.assert_array_equal(matrix, confusion_matrix(flat_g, flat_p, labels=labels))


def test_token_report_rows_follow_the_conll_table_order():
    tags = ["O", "I-PER", "B-PER", "I-ORG", "B-ORG", "I-MISC", "B-MISC", "I-LOC", "B-LOC"]
    report = token_report([tags], [tags])
    assert list(report["per_type"]) == ["B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG",
                                        "I-ORG", "B-PER", "I-PER", "O"]


CLASSES = ["neg", "neu", "pos", "spam"]


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(CLASSES), st.sampled_from(CLASSES)), min_size=1,
                max_size=40),
       st.one_of(st.none(), st.lists(st.sampled_from(CLASSES + ["unseen"]), min_size=1,
                                     max_size=4, unique=True)))
def test_classification_and_confusion_equal_sklearn(pairs, labels):
    gold, pred = [g for g, _ in pairs], [p for _, p in pairs]
    ours = classification_report(gold, pred, labels=labels)
    names = sorted(set(gold) | set(pred)) if labels is None else labels
    assert list(ours["per_type"]) == names
    _assert_equal_to_sklearn(ours, gold, pred, names)
    assert ours["accuracy"] == pytest.approx(accuracy_score(gold, pred), abs=TOL)
    got_names, matrix = confusion(gold, pred, labels=labels)
    assert got_names == names
    if set(names) & set(gold):                        # sklearn refuses otherwise
        np.testing.assert_array_equal(matrix, confusion_matrix(gold, pred, labels=names))


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.lists(st.sampled_from(CLASSES), max_size=3),
                          st.lists(st.sampled_from(CLASSES), max_size=3)),
                min_size=1, max_size=30))
def test_multilabel_report_equals_sklearn(rows):
    gold, pred = [g for g, _ in rows], [p for _, p in rows]
    # all four columns, so sklearn sees a multilabel indicator (one column reads as binary)
    binarizer = MultiLabelBinarizer(classes=CLASSES)
    yg, yp = binarizer.fit_transform(gold), binarizer.transform(pred)
    ours = multilabel_report(gold, pred, labels=CLASSES)
    assert "samples" in ours
    _assert_equal_to_sklearn(ours, yg, yp, CLASSES, labels=list(range(len(CLASSES))))
    assert ours["subset_accuracy"] == pytest.approx(accuracy_score(yg, yp), abs=TOL)
    assert ours["hamming_loss"] == pytest.approx(hamming_loss(yg, yp), abs=TOL)
    seen = sorted({x for g, p in rows for x in g + p})
    default = multilabel_report(gold, pred)
    assert list(default["per_type"]) == seen
    for name in seen:
        assert default["per_type"][name] == ours["per_type"][name]


# --------------------------------------------------------------------------- text table

def test_format_table_hand_computed_example():
    report = entity_report([["B-PER", "I-PER", "O", "B-LOC"]], [["B-PER", "I-PER", "O", "O"]])
    # PER 1/1; LOC missed. micro P=1/1 R=1/2 F=2/3; macro and weighted P=R=F=1/2.
    assert format_table(report) == (
        "              precision    recall  f1-score   support\n"
        "         LOC      0.000     0.000     0.000         1\n"
        "         PER      1.000     1.000     1.000         1\n"
        "   micro avg      1.000     0.500     0.667         2\n"
        "   macro avg      0.500     0.500     0.500         2\n"
        "weighted avg      0.500     0.500     0.500         2")
    assert format_table(report, digits=2, title_width=14).splitlines()[3] == (
        "     micro avg       1.00      0.50      0.67         2")


ANCHOR_TABLE = """\
              precision    recall  f1-score   support
       B-LOC      0.926     0.906     0.916      1668
       I-LOC      0.900     0.805     0.850       257
      B-MISC      0.875     0.856     0.865       702
      I-MISC      0.838     0.782     0.809       216
       B-ORG      0.914     0.898     0.906      1661
       I-ORG      0.911     0.894     0.902       835
       B-PER      0.964     0.957     0.960      1617
       I-PER      0.983     0.980     0.982      1156
           O      0.993     0.995     0.994     38323
   micro avg      0.973     0.973     0.973     46435
   macro avg      0.923     0.897     0.909     46435
weighted avg      0.973     0.973     0.973     46435"""


def test_format_table_reproduces_the_anchor_layout():
    rows = [line.split() for line in ANCHOR_TABLE.splitlines()[1:]]

    def row(values):
        p, r, f, s = values[-4:]
        return {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(s)}

    report = {"per_type": {v[0]: row(v) for v in rows[:9]},
              "micro": row(rows[9]), "macro": row(rows[10]), "weighted": row(rows[11])}
    assert format_table(report) == ANCHOR_TABLE


def test_tag_confusion_is_square_over_every_gold_and_predicted_tag():
    """Given the model's labels, a gold tag they lack (a dev or test type unseen in training)
    gets a row and a column instead of its tokens silently dropped."""
    labels = ["O", "B-PER", "I-PER"]
    gold = [["B-PER", "I-PER", "O", "B-corporation"], ["O", "B-corporation", "I-corporation"]]
    pred = [["B-PER", "O", "O", "O"], ["O", "B-PER", "O"]]
    names, matrix = tag_confusion(gold, pred, labels=labels)
    assert names == ["O", "B-PER", "I-PER", "B-corporation", "I-corporation"]
    assert matrix.shape == (5, 5) and matrix.sum() == 7  # every token counted once
    assert matrix[names.index("B-corporation"), names.index("B-PER")] == 1
    assert matrix[names.index("I-PER"), names.index("O")] == 1
    same, plain = tag_confusion(gold, pred, labels=names)
    assert same == names and (plain == matrix).all()
