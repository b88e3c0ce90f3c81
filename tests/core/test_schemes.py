from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings, strategies as st
from seqeval.metrics.sequence_labeling import get_entities

from core.errors import ConfigError
from core.records import TokenExample
from core.schemes import (TAG_CODES, Diagnostic, Fix, apply_fix, convert_examples,
                          convert_tags, describe_scheme, detect_scheme, diagnose, fixes,
                          is_valid, summarize_diagnostics)
from core.spans import SCHEMES, from_spans, to_spans

TYPES = ["PER", "LOC"]
PREFIXED = [s for s in SCHEMES if s != "PLAIN"]


@st.composite
def span_sets(draw, max_segments: int = 6):
    """Random spans (adjacent same-type entities included) and the sentence length."""
    segments = draw(st.lists(st.tuples(st.sampled_from(["O", *TYPES]), st.integers(1, 3)),
                             max_size=max_segments))
    spans, pos = [], 0
    for kind, size in segments:
        if kind != "O":
            spans.append((kind, pos, pos + size))
        pos += size
    return spans, pos


def has_adjacent_same_type(spans) -> bool:
    return any(a[0] == b[0] and a[2] == b[1] for a, b in zip(spans, spans[1:]))


# One sentence per scheme that only that scheme writes this way (see test below).
DISTINGUISHING = {
    "IOB1": ("I-PER", "I-PER", "B-PER", "O"),  # I- opens; B- only between same-type
    "IOB2": ("B-PER", "O"),
    "IOE1": ("E-PER", "I-PER", "I-PER"),  # E- only before a same-type entity
    "IOE2": ("E-PER", "O"),
    "IOBES": ("S-PER", "O"),
    "BILOU": ("U-PER", "O"),
    "PLAIN": ("PER", "PER"),
}


def test_distinguishing_sentences_are_written_by_from_spans_only_in_their_scheme():
    for scheme, tags in DISTINGUISHING.items():
        spans = to_spans(tags)
        assert from_spans(spans, len(tags), scheme) == tags
        assert [s for s in SCHEMES if is_valid(tags, s)] == [scheme]


# ---------------------------------------------------------------- detection


@settings(max_examples=120, deadline=None)
@given(st.lists(span_sets(), max_size=5), st.sampled_from(SCHEMES), st.randoms())
def test_detect_scheme_finds_the_scheme_of_an_unambiguous_sample(cases, scheme, rnd):
    sample = [from_spans(spans, n, scheme) for spans, n in cases]
    sample.insert(rnd.randint(0, len(sample)), DISTINGUISHING[scheme])
    assert detect_scheme(sample) == scheme
    assert detect_scheme(iter(sample)) == scheme  # any iterable, read once


@settings(max_examples=120, deadline=None)
@given(st.lists(span_sets(), max_size=5), st.sampled_from(SCHEMES))
def test_detected_scheme_makes_every_sentence_of_a_consistent_sample_valid(cases, scheme):
    sample = [from_spans(spans, n, scheme) for spans, n in cases]
    detected = detect_scheme(sample)
    assert all(is_valid(tags, detected) for tags in sample)


@pytest.mark.parametrize("sample, expected", [
    ([["B-PER", "I-PER", "O", "B-LOC"]], "IOB2"),
    ([["I-PER", "I-PER", "O", "I-LOC"]], "IOB1"),  # CoNLL-2003: no B- at all
    ([["I-ORG", "B-ORG", "O"]], "IOB1"),
    ([["I-PER", "E-PER", "O", "I-LOC", "E-LOC"]], "IOE2"),
    ([["I-PER", "E-PER", "I-PER", "O"]], "IOE1"),
    ([["B-PER", "E-PER", "O"]], "IOBES"),
    ([["S-PER"]], "IOBES"),
    ([["B-PER", "L-PER"], ["U-LOC"]], "BILOU"),
    ([["PER", "PER", "O", "LOC"]], "PLAIN"),
    ([["O", "O"], []], "IOB2"),  # only O: documented default
    ([], "IOB2"),
    ([["S-PER", "O", "I-LOC"]], "IOBES"),  # mixed, one entity each: the prefix rules decide
])
def test_detect_scheme_follows_the_prefix_rules(sample, expected):
    assert detect_scheme(sample) == expected


def test_detect_scheme_reads_a_mostly_iob2_file_with_an_orphan_as_iob2():
    sample = [["B-PER", "I-PER", "O"]] * 5 + [["O", "I-LOC"]]
    assert detect_scheme(sample) == "IOB2"
    conll = [["I-PER", "I-PER", "O"]] * 5 + [["O", "B-LOC", "I-LOC"]]
    assert detect_scheme(conll) == "IOB1"


def test_describe_scheme_has_one_distinct_line_per_scheme():
    lines = [describe_scheme(s) for s in SCHEMES]
    assert len(set(lines)) == len(SCHEMES)
    assert all(line.startswith(s) for s, line in zip(SCHEMES, lines) if s != "PLAIN")
    assert all("\n" not in line and line for line in lines)
    with pytest.raises(ConfigError, match="IOBES"):
        describe_scheme("BIO")


# ---------------------------------------------------------------- validity and conversion


@settings(max_examples=150, deadline=None)
@given(span_sets(), st.sampled_from(SCHEMES))
def test_from_spans_output_is_valid_in_its_scheme(case, scheme):
    spans, n = case
    assert is_valid(from_spans(spans, n, scheme), scheme)


TAG_ALPHABET = ["O", "PER", "LOC"] + [f"{p}-{t}" for p in "BIESLU" for t in TYPES]


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(TAG_ALPHABET), max_size=8), st.sampled_from(SCHEMES))
def test_is_valid_means_the_scheme_writes_the_spans_exactly_this_way(tags, scheme):
    # Differential against the definition: valid iff rewriting in the scheme changes nothing.
    assert is_valid(tags, scheme) == (convert_tags(tags, scheme) == tuple(tags))


@pytest.mark.parametrize("tags, scheme, valid", [
    (["O", "I-PER"], "IOB2", False),
    (["B-PER", "I-LOC"], "IOB2", False),
    (["O", "I-PER"], "IOB1", True),
    (["I-PER", "I-LOC"], "IOB1", True),
    (["O", "B-PER"], "IOB1", False),
    (["I-PER", "B-PER"], "IOB1", True),
    (["B-PER", "O"], "IOBES", False),
    (["B-PER", "S-PER", "E-PER"], "IOBES", False),
    (["B-PER", "I-PER", "E-PER", "S-LOC"], "IOBES", True),
    (["I-PER", "O"], "IOE2", False),
    (["E-PER", "O"], "IOE1", False),
    (["PER", "O"], "IOB2", False),
    (["B-PER"], "PLAIN", False),
    (["B-PER", "L-PER", "U-PER"], "BILOU", True),
])
def test_is_valid_on_hand_written_cases(tags, scheme, valid):
    assert is_valid(tags, scheme) is valid


@settings(max_examples=150, deadline=None)
@given(span_sets(), st.sampled_from(SCHEMES), st.sampled_from(SCHEMES))
def test_conversion_keeps_spans_between_every_pair_of_schemes(case, source, target):
    spans, n = case
    if target == "PLAIN" and has_adjacent_same_type(spans):
        return  # PLAIN cannot separate adjacent same-type entities
    tags = from_spans(spans, n, source)
    converted = convert_tags(tags, target)
    assert to_spans(converted) == to_spans(tags)
    assert is_valid(converted, target)


@settings(max_examples=100, deadline=None)
@given(span_sets())
def test_converting_iob2_to_iob2_is_identity(case):
    tags = from_spans(*case, "IOB2")
    assert convert_tags(tags, "IOB2") == tags


def test_conll2003_iob1_converts_to_the_expected_iob2():
    tokens = ["EU", "rejects", "German", "call", "to", "boycott", "British", "lamb", "."]
    iob1 = ["I-ORG", "O", "I-MISC", "O", "O", "O", "I-MISC", "O", "O"]
    assert convert_tags(iob1, "IOB2") == (
        "B-ORG", "O", "B-MISC", "O", "O", "O", "B-MISC", "O", "O")
    adjacent = ["I-PER", "I-PER", "B-PER", "I-LOC", "O"]  # "Peter Blackburn Ringo London"
    assert convert_tags(adjacent, "IOB2") == ("B-PER", "I-PER", "B-PER", "B-LOC", "O")
    assert len(tokens) == len(iob1)


def test_convert_examples_keeps_tokens_doc_and_line():
    examples = [TokenExample(("a", "b"), ("I-PER", "I-PER"), doc=3, line=17)]
    (out,) = convert_examples(examples, "IOBES")
    assert (out.tokens, out.tags, out.doc, out.line) == (("a", "b"), ("B-PER", "E-PER"), 3, 17)
    with pytest.raises(ConfigError, match="unknown tag scheme 'BIO'"):
        convert_examples(examples, "BIO")


@settings(max_examples=150, deadline=None)
@given(span_sets())
def test_to_spans_matches_seqeval_on_valid_iob2_and_iobes(case):
    for scheme in ("IOB2", "IOBES"):
        tags = from_spans(*case, scheme)
        expected = [(t, a, b + 1) for t, a, b in get_entities(list(tags))]
        assert to_spans(tags) == expected


# ---------------------------------------------------------------- diagnostics


def sentence(prefix: str, k: int, tags, line: int | None = None) -> TokenExample:
    tokens = tuple(f"{prefix}{k}_{i}" for i in range(len(tags)))
    return TokenExample(tokens, tuple(tags), line=line if line is not None else 1 + 6 * k)


def clean_splits(scheme: str = "IOB2") -> dict[str, list[TokenExample]]:
    """Six PER and six LOC in train, no duplicates, every split in `scheme`."""
    splits = {}
    for name, size in (("train", 6), ("dev", 2), ("test", 2)):
        examples = [sentence(name, k, ["B-PER", "I-PER", "O", "B-LOC", "O"])
                    for k in range(size)]
        splits[name] = convert_examples(examples, scheme)
    return splits


def add(splits, name, tags, tokens=None, line=40):
    """splits with one sentence (at `line`) appended to split `name`; returns its index."""
    ex = sentence(name + "x", 0, tags, line)
    if tokens is not None:
        ex = dataclasses.replace(ex, tokens=tuple(tokens))
    splits[name].append(ex)
    return len(splits[name]) - 1


@pytest.mark.parametrize("scheme", SCHEMES)
def test_clean_data_has_no_diagnostics(scheme):
    splits = clean_splits(scheme)
    assert diagnose(splits) == []
    assert diagnose(splits, scheme=scheme) == []
    counts = {name: [5] * len(exs) for name, exs in splits.items()}
    assert diagnose(splits, max_subwords=5, subword_counts=counts) == []
    assert fixes([], "IOB2") == []


# (scheme of the clean data, scheme passed, split, tags, code, token index, other codes allowed)
CASES = [
    ("IOB2", None, "train", ["O", "I-PER", "O"], "orphan-inside", 1, {"mixed-scheme"}),
    ("IOB2", "IOB2", "train", ["B-PER", "I-LOC"], "type-change-inside", 1, {"mixed-scheme"}),
    ("IOBES", None, "train", ["B-PER", "O"], "unclosed-entity", 0, {"mixed-scheme"}),
    ("IOE2", None, "train", ["I-PER", "O"], "unclosed-entity", 0, {"mixed-scheme"}),
    ("IOBES", None, "train", ["O", "E-PER"], "orphan-end", 1, {"mixed-scheme"}),
    ("BILOU", None, "train", ["O", "I-PER", "L-PER"], "orphan-inside", 1, {"mixed-scheme"}),
    ("IOB1", None, "train", ["O", "B-PER", "I-PER"], "needless-begin", 1, {"mixed-scheme"}),
    ("IOE1", "IOE1", "train", ["I-PER", "E-PER", "O"], "needless-end", 1, {"mixed-scheme"}),
    ("IOB2", None, "train", ["O", "O", "S-PER"], "foreign-prefix", 2, {"mixed-scheme"}),
    ("IOB2", "IOB2", "train", ["PER", "O"], "missing-prefix", 0, {"mixed-scheme"}),
    ("PLAIN", None, "train", ["PER", "B-LOC"], "foreign-prefix", 1, {"mixed-scheme"}),
    ("IOBES", None, "train", ["O", "I-PER", "I-PER"], "mixed-scheme", 1,
     {"orphan-inside", "unclosed-entity"}),
    ("IOB2", None, "test", ["O", "B-ORG"], "unseen-label", 1, set()),
    ("IOB2", None, "train", ["O", "O", "O", "B-ORG"], "rare-label", 3, set()),
]


@pytest.mark.parametrize("clean, scheme, split, tags, code, index, others", CASES)
def test_each_tag_diagnostic_fires_at_the_token(clean, scheme, split, tags, code, index, others):
    splits = clean_splits(clean)
    k = add(splits, split, tags)
    diags = diagnose(splits, scheme=scheme)
    hits = [d for d in diags if d.code == code]
    assert hits and (hits[0].source, hits[0].line, hits[0].sentence) == (split, 40 + index, k)
    assert hits[0].severity == "warning"
    assert {d.code for d in diags} <= {code} | others
    needle = "IOB1 style" if code == "mixed-scheme" else tags[index].split("-")[-1]
    assert needle in hits[0].message


def test_unseen_label_says_where_it_is_first_seen():
    splits = clean_splits()
    add(splits, "dev", ["O", "O", "B-ORG"], line=70)
    (diag,) = diagnose(splits)
    assert diag.code == "unseen-label" and "'ORG'" in diag.message and "line 72" in diag.message


def test_rare_label_counts_against_the_threshold():
    splits = clean_splits()
    assert diagnose(splits, rare_threshold=6) == []
    diags = diagnose(splits, rare_threshold=7)
    assert {(d.code, d.message.split("'")[1]) for d in diags} == {("rare-label", "PER"),
                                                                   ("rare-label", "LOC")}
    # Each points at the first entity of its type: B-PER is token 0, B-LOC token 3.
    assert sorted((d.line, d.sentence) for d in diags) == [(1, 0), (4, 0)]


def test_empty_and_mismatched_sentences_are_errors():
    splits = clean_splits()
    splits["dev"].append(TokenExample((), (), line=33))
    splits["dev"].append(TokenExample(("a", "b"), ("O",), line=35))
    diags = diagnose(splits)
    assert [(d.severity, d.code, d.source, d.line, d.sentence) for d in diags] == [
        ("error", "empty-sentence", "dev", 33, 2), ("error", "length-mismatch", "dev", 35, 3)]


def test_long_sentences_warn_about_windows():
    splits = clean_splits()
    counts = {name: [10] * len(exs) for name, exs in splits.items()}
    counts["test"][1] = 11
    (diag,) = diagnose(splits, max_subwords=10, subword_counts=counts)
    assert (diag.code, diag.source, diag.line, diag.sentence) == ("long-sentence", "test", 7, 1)
    assert "window" in diag.message
    assert diagnose(splits, max_subwords=10) == []  # no counts: nothing to judge
    with pytest.raises(ValueError, match="subword_counts"):
        diagnose(splits, max_subwords=10, subword_counts={"test": [1]})


def test_duplicates_across_splits_warn_with_count_and_first_line():
    splits = clean_splits()
    for k in (3, 1):
        add(splits, "test", ["O"] * 5, tokens=splits["train"][k].tokens, line=50 + k)
    (diag,) = diagnose(splits)
    assert (diag.severity, diag.code, diag.source, diag.line, diag.sentence) == (
        "warning", "duplicate-across-splits", "test", 53, 2)
    assert "2 sentences" in diag.message and "train line 19" in diag.message


def test_duplicates_within_a_split_are_info_and_conflicts_warn():
    splits = clean_splits()
    same = splits["train"][2]
    add(splits, "train", same.tags, tokens=same.tokens, line=60)
    (diag,) = diagnose(splits)
    assert (diag.severity, diag.code, diag.line, diag.sentence) == (
        "info", "duplicate-within-split", 60, 6)
    add(splits, "train", ["O"] * 5, tokens=same.tokens, line=70)
    conflict = [d for d in diagnose(splits) if d.code == "conflicting-duplicate"]
    assert [(d.severity, d.line) for d in conflict] == [("warning", 70)]
    assert "line 13" in conflict[0].message


def test_split_in_another_scheme_is_a_mismatch():
    splits = clean_splits()
    splits["test"] = convert_examples(splits["test"], "IOBES")
    (diag,) = diagnose(splits)
    assert (diag.code, diag.source, diag.line, diag.sentence) == (
        "scheme-mismatch", "test", 1, 0)
    assert "IOBES" in diag.message and "IOB2" in diag.message
    given = diagnose(clean_splits("IOB1"), scheme="IOB2")
    mismatches = [d for d in given if d.code == "scheme-mismatch"]
    assert {d.source for d in mismatches} == {"train", "dev", "test"}
    assert all("IOB1" in d.message for d in mismatches)


def test_diagnostics_without_lines_say_sentence():
    splits = clean_splits()
    splits["dev"].append(TokenExample(("x", "y"), ("O", "B-ORG")))  # line 0: unknown
    (diag,) = diagnose(splits)
    assert diag.line is None and diag.sentence == 2 and "sentence 2" in diag.message


def test_unknown_scheme_is_a_config_error():
    with pytest.raises(ConfigError, match="choose one of"):
        diagnose(clean_splits(), scheme="BIO")


def test_diagnostics_are_sorted_errors_first_and_summarized():
    splits = clean_splits()
    add(splits, "dev", ["O", "I-PER"])
    splits["test"].append(TokenExample((), ()))
    add(splits, "train", splits["train"][0].tags, tokens=splits["train"][0].tokens)
    diags = diagnose(splits)
    assert [d.severity for d in diags] == sorted(
        (d.severity for d in diags), key=["error", "warning", "info"].index)
    summary = summarize_diagnostics(diags)
    assert summary["error"] == 1 and summary["info"] == 1
    assert summary["warning"] == len(diags) - 2 and summary["total"] == len(diags)
    assert summary["by_code"]["orphan-inside"] == 1


# ---------------------------------------------------------------- fixes


def test_fixes_suggest_repair_conversion_and_drops():
    diags = [Diagnostic("warning", "orphan-inside", "m", "train", 3, 0),
             Diagnostic("error", "empty-sentence", "m", "dev", 5, 1),
             Diagnostic("info", "duplicate-within-split", "m", "train", 9, 4)]
    found = fixes(diags, "IOB1")
    assert [(f.code, f.target) for f in found] == [
        ("repair-orphans", "IOB1"), ("convert", "IOB2"), ("drop-empty", None),
        ("drop-duplicates", None)]
    assert found[1].description == "Convert IOB1 → IOB2 (spans kept)"
    assert fixes(diags[2:], "IOBES") == [found[3]]


@settings(max_examples=80, deadline=None)
@given(st.lists(st.lists(st.sampled_from(TAG_ALPHABET), min_size=1, max_size=6),
                min_size=1, max_size=5),
       st.sampled_from(SCHEMES))
def test_repair_fix_removes_every_tag_problem(tag_lists, scheme):
    examples = [sentence("s", k, tags) for k, tags in enumerate(tag_lists)]
    diags = diagnose({"train": examples}, scheme=scheme)
    repaired = examples
    for fix in fixes(diags, scheme):
        if fix.code == "repair-orphans":
            repaired = apply_fix(examples, fix)
    if scheme != "PLAIN":  # PLAIN cannot keep adjacent same-type entities apart
        assert [to_spans(ex.tags) for ex in repaired] == [to_spans(ex.tags) for ex in examples]
    after = diagnose({"train": repaired}, scheme=scheme)
    assert not [d for d in after if d.code in TAG_CODES]


def test_drop_fixes_remove_empty_and_repeated_sentences():
    a, b = sentence("a", 0, ["B-PER"]), sentence("b", 1, ["O"])
    examples = [a, TokenExample((), ()), b, a]
    assert apply_fix(examples, Fix("drop-empty")) == [a, b, a]
    assert apply_fix(examples, Fix("drop-duplicates")) == [a, TokenExample((), ()), b]
    assert apply_fix([a], Fix("convert", "IOBES")) == [dataclasses.replace(a, tags=("S-PER",))]
    with pytest.raises(ConfigError, match="known"):
        apply_fix(examples, Fix("shuffle"))
