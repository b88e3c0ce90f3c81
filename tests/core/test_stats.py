"""Dataset statistics checked against naive Python counting."""
from __future__ import annotations

from collections import Counter

import polars as pl
import pytest
from hypothesis import given, settings, strategies as st

from core import stats
from core.errors import ConfigError
from core.records import TextExample, TokenExample
from core.spans import to_spans

SETTINGS = settings(max_examples=40, deadline=None)
TAGS = ["O", "O", "B-PER", "I-PER", "B-LOC", "I-LOC", "E-LOC", "S-ORG", "MISC"]
WORDS = ["EU", "eu", "Peter", "peter", "Köln", "KÖLN", "a", "b", "the", "The"]

sentence = st.integers(0, 8).flatmap(lambda n: st.builds(
    TokenExample,
    st.lists(st.sampled_from(WORDS), min_size=n, max_size=n).map(tuple),
    st.lists(st.sampled_from(TAGS), min_size=n, max_size=n).map(tuple)))
ner_splits = st.dictionaries(st.sampled_from(["train", "dev", "test", "extra"]),
                             st.lists(sentence, max_size=6), max_size=4)

text = st.text(alphabet="ab cD\tÉ\n", max_size=30)
text_example = st.builds(TextExample, text,
                         st.lists(st.sampled_from("xyz"), max_size=3, unique=True).map(tuple))
text_splits = st.dictionaries(st.sampled_from(["train", "dev", "test"]),
                              st.lists(text_example, max_size=6), max_size=3)


def rows(frame: pl.DataFrame) -> list[tuple]:
    return [tuple(row) for row in frame.iter_rows()]


def in_split_order(got: list[tuple], splits: dict) -> None:
    """Rows come grouped by split in the dict's order, then sorted by the remaining columns."""
    rank = {name: i for i, name in enumerate(splits)}
    assert got == sorted(got, key=lambda row: (rank[row[0]], *row[1:]))


def spans_of(splits: dict):
    for name, examples in splits.items():
        for ex in examples:
            for type_, start, end in to_spans(ex.tags):
                yield name, ex, type_, start, end


# ---------------------------------------------------------------------------- NER, random data

@SETTINGS
@given(ner_splits)
def test_label_and_entity_counts_match_counter(splits):
    got = rows(stats.label_counts(splits))
    expected = Counter((name, tag) for name, exs in splits.items()
                       for ex in exs for tag in ex.tags)
    assert {(s, lab): c for s, lab, c in got} == expected
    assert len(got) == len(expected)
    in_split_order(got, splits)

    got = rows(stats.entity_counts(splits))
    expected = Counter((name, type_) for name, _, type_, _, _ in spans_of(splits))
    assert {(s, t): c for s, t, c in got} == expected
    in_split_order(got, splits)


@SETTINGS
@given(ner_splits)
def test_length_frames_have_one_row_per_item(splits):
    got = rows(stats.sentence_lengths(splits))
    assert Counter(got) == Counter((n, len(ex.tokens)) for n, exs in splits.items() for ex in exs)
    in_split_order(got, splits)
    got = rows(stats.entity_lengths(splits))
    assert Counter(got) == Counter((n, t, e - s) for n, _, t, s, e in spans_of(splits))
    in_split_order(got, splits)


@SETTINGS
@given(ner_splits, st.booleans())
def test_vocabulary_matches_naive_sets(splits, lowercase):
    norm = (lambda w: w.lower()) if lowercase else (lambda w: w)
    train = {norm(t) for ex in splits.get("train", []) for t in ex.tokens}
    got = {row[0]: row[1:] for row in rows(stats.vocabulary(splits, lowercase=lowercase))}
    assert list(got) == list(splits)
    for name, exs in splits.items():
        tokens = [norm(t) for ex in exs for t in ex.tokens]
        oov = sum(t not in train for t in tokens) if "train" in splits else None
        rate = (oov / len(tokens) if tokens else None) if "train" in splits else None
        entities = sum(1 for n, *_ in spans_of(splits) if n == name)
        assert got[name][:5] == (len(exs), len(tokens), entities, len(set(tokens)), oov)
        assert got[name][5] == (None if rate is None else pytest.approx(rate))
    if "train" in splits and splits["train"] and any(ex.tokens for ex in splits["train"]):
        assert got["train"][4:] == (0, 0.0)


@SETTINGS
@given(ner_splits)
def test_entity_oov_matches_naive_sets(splits):
    surface = lambda ex, s, e: " ".join(ex.tokens[s:e])  # noqa: E731
    train = {surface(ex, s, e) for n, ex, _, s, e in spans_of(splits) if n == "train"}
    got = {row[0]: row[1:] for row in rows(stats.entity_oov(splits))}
    assert list(got) == list(splits)
    for name in splits:
        mentions = [surface(ex, s, e) for n, ex, _, s, e in spans_of(splits) if n == name]
        unseen = sum(m not in train for m in mentions) if "train" in splits else None
        assert got[name][:2] == (len(mentions), unseen)
        expected_rate = unseen / len(mentions) if mentions and unseen is not None else None
        assert got[name][2] == (None if expected_rate is None else pytest.approx(expected_rate))


# ---------------------------------------------------------------------------- NER, by hand

HAND = {
    "train": [TokenExample(("EU", "rejects", "German", "call"), ("B-ORG", "O", "B-MISC", "O")),
              TokenExample(("Peter", "Blackburn"), ("B-PER", "I-PER"))],
    "dev": [TokenExample(("eu", "Peter", "Blackburn", "rejects"),
                         ("B-ORG", "B-PER", "I-PER", "O")),
            TokenExample(("German", "Köln"), ("B-MISC", "B-LOC"))],
    "test": [],
}


def test_oov_rate_by_hand():
    frame = stats.vocabulary(HAND)
    assert rows(frame) == [
        ("train", 2, 6, 3, 6, 0, 0.0),
        ("dev", 2, 6, 4, 6, 2, 2 / 6),  # 'eu' and 'Köln' are not train tokens
        ("test", 0, 0, 0, 0, 0, None),
    ]
    lower = stats.vocabulary(HAND, lowercase=True)
    assert lower.row(1) == ("dev", 2, 6, 4, 6, 1, 1 / 6)  # 'eu' matches 'EU' once lowercased


def test_entity_oov_by_hand():
    # dev mentions: eu, Peter Blackburn, German, Köln; train has EU, German, Peter Blackburn
    assert rows(stats.entity_oov(HAND)) == [
        ("train", 3, 0, 0.0), ("dev", 4, 2, 0.5), ("test", 0, 0, None)]
    assert stats.entity_oov(HAND, lowercase=True).row(1) == ("dev", 4, 1, 0.25)


def test_oov_is_null_without_a_reference_split():
    frame = stats.vocabulary({"all": HAND["dev"]})
    assert frame.row(0) == ("all", 2, 6, 4, 6, None, None)
    assert stats.vocabulary({"dev": HAND["dev"]}, reference="dev").row(0)[5:] == (0, 0.0)


def test_ner_summary_by_hand():
    got = stats.summary(HAND)
    assert got["dev"] == {"sentences": 2, "tokens": 6, "entities": 4, "entity_types": 4,
                          "mean_length": 3.0, "vocab_size": 6, "oov_rate": pytest.approx(1 / 3),
                          "entity_oov_rate": 0.5}
    assert got["test"] == {"sentences": 0, "tokens": 0, "entities": 0, "entity_types": 0,
                           "mean_length": None, "vocab_size": 0, "oov_rate": None,
                           "entity_oov_rate": None}


# ---------------------------------------------------------------------------- empty input

SCHEMAS = {
    stats.label_counts: {"split": pl.String, "label": pl.String, "count": pl.Int64},
    stats.entity_counts: {"split": pl.String, "type": pl.String, "count": pl.Int64},
    stats.sentence_lengths: {"split": pl.String, "length": pl.Int64},
    stats.entity_lengths: {"split": pl.String, "type": pl.String, "length": pl.Int64},
    stats.vocabulary: {"split": pl.String, "sentences": pl.Int64, "tokens": pl.Int64,
                       "entities": pl.Int64, "vocab_size": pl.Int64, "oov_tokens": pl.Int64,
                       "oov_rate": pl.Float64},
    stats.entity_oov: {"split": pl.String, "entities": pl.Int64, "unseen": pl.Int64,
                       "unseen_rate": pl.Float64},
    stats.class_counts: {"split": pl.String, "label": pl.String, "count": pl.Int64},
    stats.text_lengths: {"split": pl.String, "words": pl.Int64, "chars": pl.Int64},
    stats.label_cardinality: {"split": pl.String, "labels": pl.Int64, "count": pl.Int64},
}
PER_SPLIT = {stats.vocabulary, stats.entity_oov}


@pytest.mark.parametrize("function", list(SCHEMAS), ids=lambda f: f.__name__)
@pytest.mark.parametrize("splits", [{}, {"train": [], "dev": []}], ids=["no-splits", "empty"])
def test_empty_splits_give_the_schema(function, splits):
    frame = function(splits)
    assert dict(frame.schema) == SCHEMAS[function]
    assert frame.height == (len(splits) if function in PER_SPLIT else 0)


@pytest.mark.parametrize("function", [f for f in SCHEMAS if f not in PER_SPLIT][:4],
                         ids=lambda f: f.__name__)
def test_schema_is_the_same_with_data(function):
    assert dict(function(HAND).schema) == SCHEMAS[function]


def test_empty_sentences_add_no_tokens():
    splits = {"train": [TokenExample((), ()), TokenExample(("a",), ("O",))]}
    assert rows(stats.label_counts(splits)) == [("train", "O", 1)]
    assert rows(stats.sentence_lengths(splits)) == [("train", 0), ("train", 1)]
    assert stats.vocabulary(splits).row(0) == ("train", 2, 1, 0, 1, 0, 0.0)


# ---------------------------------------------------------------------------- classification

@SETTINGS
@given(text_splits)
def test_classification_frames_match_counter(splits):
    got = rows(stats.class_counts(splits))
    assert {(s, lab): c for s, lab, c in got} == Counter(
        (n, lab) for n, exs in splits.items() for ex in exs for lab in ex.labels)
    in_split_order(got, splits)
    got = rows(stats.text_lengths(splits))
    assert Counter(got) == Counter(
        (n, len(ex.text.split()), len(ex.text)) for n, exs in splits.items() for ex in exs)
    in_split_order(got, splits)
    got = rows(stats.label_cardinality(splits))
    assert {(s, k): c for s, k, c in got} == Counter(
        (n, len(ex.labels)) for n, exs in splits.items() for ex in exs)


def test_classification_summary_by_hand():
    splits = {"train": [TextExample("Good  film", ("pos",)),
                        TextExample("Bad\tplot, great cast", ("neg", "pos"))],
              "test": []}
    assert stats.summary(splits) == {
        "train": {"examples": 2, "labels": 2, "mean_words": 3.0, "mean_chars": 15.0,
                  "cardinality": 1.5},
        "test": {"examples": 0, "labels": 0, "mean_words": None, "mean_chars": None,
                 "cardinality": None},
    }
    assert set(stats.summary({"test": []}, task="classification")["test"]) == {
        "examples", "labels", "mean_words", "mean_chars", "cardinality"}


def test_summary_rejects_an_unknown_task():
    with pytest.raises(ConfigError, match="task"):
        stats.summary(HAND, task="parsing")
