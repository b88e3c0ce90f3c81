"""Properties of the seeded train/dev/test splitters."""
from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings, strategies as st

from core.errors import ConfigError
from core.records import TextExample, TokenExample
from core.splits import SPLIT_NAMES, split_classification, split_ner

SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def fractions(draw) -> tuple[float, float, float]:
    """Three shares >= 0 summing to 1 (within float error), at least one non-zero."""
    weights = draw(st.lists(st.integers(0, 10), min_size=3, max_size=3)
                   .filter(lambda w: sum(w) > 0))
    return tuple(w / sum(weights) for w in weights)


def sentences(n: int, doc_sizes: list[int] | None = None) -> list[TokenExample]:
    """n distinct sentences (token = its index), in documents of `doc_sizes` when given."""
    docs = [d for d, size in enumerate(doc_sizes) for _ in range(size)] if doc_sizes else [0] * n
    return [TokenExample((f"w{i}",), ("O",), doc=docs[i], line=i + 1) for i in range(n)]


def texts(labels: list[tuple[str, ...]]) -> list[TextExample]:
    """One distinct text per label tuple."""
    return [TextExample(f"text {i}", lab, line=i + 1) for i, lab in enumerate(labels)]


def assert_partition(examples: list, out: dict[str, list]) -> None:
    """Every input object exactly once over the splits, none invented, input order kept."""
    assert list(out) == list(SPLIT_NAMES)
    position = {id(ex): i for i, ex in enumerate(examples)}
    seen = [position[id(ex)] for part in out.values() for ex in part]  # KeyError if invented
    assert sorted(seen) == list(range(len(examples)))
    for part in out.values():
        ranks = [position[id(ex)] for ex in part]
        assert ranks == sorted(ranks)


def sizes(out: dict[str, list]) -> list[int]:
    return [len(out[name]) for name in SPLIT_NAMES]


# ---------------------------------------------------------------------------- NER by sentence

@SETTINGS
@given(n=st.integers(0, 60), fracs=fractions(), seed=st.integers(0, 2**32 - 1))
def test_sentence_split_partitions_with_floor_or_ceiling_sizes(n, fracs, seed):
    examples = sentences(n)
    ideal = [n * f for f in fracs]
    try:
        out = split_ner(examples, fractions=fracs, seed=seed)
    except ConfigError as error:
        # legitimate only when a non-zero split's share is under one sentence
        assert any(f > 0 and x < 1 for f, x in zip(fracs, ideal)), error
        return
    assert_partition(examples, out)
    for size, x in zip(sizes(out), ideal):
        assert abs(size - x) < 1
    assert out == split_ner(examples, fractions=fracs, seed=seed)


def test_zero_fraction_gives_an_empty_split():
    out = split_ner(sentences(20), fractions=(0.9, 0.1, 0.0), seed=3)
    assert sizes(out) == [18, 2, 0]


def test_different_seeds_usually_differ():
    examples = sentences(50)
    results = {tuple(tuple(ex.tokens for ex in part) for part in
                     split_ner(examples, seed=seed).values()) for seed in range(10)}
    assert len(results) >= 9


def test_too_few_sentences_for_the_nonzero_splits():
    with pytest.raises(ConfigError, match="2 sentences cannot fill 3"):
        split_ner(sentences(2), seed=0)
    with pytest.raises(ConfigError, match="test"):
        split_ner(sentences(5), seed=0)  # 4 / 0.5 / 0.5: one of dev, test stays empty
    with pytest.raises(ConfigError):
        split_ner([], seed=0)


@pytest.mark.parametrize("bad, message", [
    ((0.8, 0.2), "expected 3 values"),
    ((0.8, 0.3, -0.1), "test fraction must be a number >= 0"),
    ((0.8, 0.1, 0.05), "must sum to 1"),
    ((0.8, float("nan"), 0.2), "dev fraction"),
    ((1.0, False, 0), "dev fraction"),
])
def test_invalid_fractions_are_config_errors(bad, message):
    with pytest.raises(ConfigError, match=message):
        split_ner(sentences(100), fractions=bad, seed=0)
    with pytest.raises(ConfigError, match=message):
        split_classification(texts([("a",)] * 100), fractions=bad, seed=0)


def test_fractions_within_tolerance_are_accepted():
    out = split_ner(sentences(10), fractions=(0.8, 0.1, 0.1 - 5e-7), seed=0)
    assert sizes(out) == [8, 1, 1]


def test_unknown_mode_is_a_config_error():
    with pytest.raises(ConfigError, match="by"):
        split_ner(sentences(10), seed=0, by="paragraph")


# ---------------------------------------------------------------------------- NER by document

@SETTINGS
@given(doc_sizes=st.lists(st.integers(1, 12), min_size=3, max_size=40),
       fracs=fractions(), seed=st.integers(0, 2**32 - 1))
def test_document_split_keeps_documents_whole(doc_sizes, fracs, seed):
    examples = sentences(sum(doc_sizes), doc_sizes)
    out = split_ner(examples, fractions=fracs, seed=seed)
    assert_partition(examples, out)
    owner: dict[int, str] = {}
    for name, part in out.items():
        for ex in part:
            assert owner.setdefault(ex.doc, name) == name  # no document in two splits
    total, biggest = sum(doc_sizes), max(doc_sizes)
    for size, f in zip(sizes(out), fracs):
        # largest-deficit packing overshoots a split by at most one document
        assert abs(size - f * total) <= 2 * biggest + max(1.0, 0.005 * total)
        assert (size > 0) == (f > 0)
    assert out == split_ner(examples, fractions=fracs, seed=seed)


def test_document_split_approximates_fractions_closely_with_many_documents():
    doc_sizes = [1 + (7 * d) % 13 for d in range(300)]  # 1..13 sentences each
    examples = sentences(sum(doc_sizes), doc_sizes)
    total = sum(doc_sizes)
    for seed in range(3):
        got = sizes(split_ner(examples, seed=seed))
        for size, f in zip(got, (0.8, 0.1, 0.1)):
            assert abs(size - f * total) <= max(1.0, 0.005 * total) + 1


def test_document_split_fills_every_split_when_one_document_dominates():
    examples = sentences(110, [100, 5, 5])
    for seed in range(5):
        assert sizes(split_ner(examples, seed=seed)) == [100, 5, 5]


@pytest.mark.parametrize("doc_sizes", [[3] * 30, list(range(1, 31))], ids=["equal", "distinct"])
def test_document_split_differs_between_seeds(doc_sizes):
    examples = sentences(sum(doc_sizes), doc_sizes)
    docs = {tuple(sorted({ex.doc for ex in split_ner(examples, seed=s)["test"]}))
            for s in range(10)}
    assert len(docs) >= 9


def test_auto_mode_splits_by_sentence_within_one_document():
    examples = sentences(40, [40])
    out = split_ner(examples, seed=1)
    assert sizes(out) == [32, 4, 4]
    with pytest.raises(ConfigError, match="1 documents cannot fill 3"):
        split_ner(examples, seed=1, by="document")


def test_sentence_mode_may_split_documents():
    examples = sentences(40, [20, 20])
    assert sizes(split_ner(examples, seed=1, by="sentence")) == [32, 4, 4]


def test_too_few_documents_suggests_a_remedy():
    with pytest.raises(ConfigError, match="2 documents cannot fill 3"):
        split_ner(sentences(40, [20, 20]), seed=0)


# ---------------------------------------------------------------------------- classification

@SETTINGS
@given(labels=st.lists(st.sampled_from("abcdef"), min_size=0, max_size=120),
       fracs=fractions(), seed=st.integers(0, 2**32 - 1))
def test_single_label_split_is_stratified(labels, fracs, seed):
    examples = texts([(lab,) for lab in labels])
    needed = sum(f > 0 for f in fracs)
    try:
        out = split_classification(examples, fractions=fracs, seed=seed)
    except ConfigError:
        # legitimate only when some non-zero split cannot get an example of a big class
        big = [c for c in Counter(labels).values() if c >= needed]
        assert len(labels) < needed or any(
            f > 0 and all(c * f < 1 for c in big) for f in fracs)
        return
    assert_partition(examples, out)
    largest = SPLIT_NAMES[max(range(3), key=lambda k: (fracs[k], -k))]
    for label, n in Counter(labels).items():
        got = [sum(ex.labels == (label,) for ex in out[name]) for name in SPLIT_NAMES]
        if n < needed:  # too small to spread: wholly in the largest split
            assert got[SPLIT_NAMES.index(largest)] == n
        else:
            for count, f in zip(got, fracs):
                assert abs(count - n * f) < 1
    assert out == split_classification(examples, fractions=fracs, seed=seed)


def test_small_classes_do_not_drift_the_totals():
    # 30 classes of 3: rounding each class alone would put one per class in dev, none in test
    examples = texts([(f"c{c}",) for c in range(30) for _ in range(3)])
    for seed in range(3):
        got = sizes(split_classification(examples, seed=seed))
        for size, ideal in zip(got, (72, 9, 9)):
            assert abs(size - ideal) <= 2


def test_classes_smaller_than_the_split_count_go_to_train():
    examples = texts([("big",)] * 20 + [("rare",)] * 2)
    out = split_classification(examples, seed=0)
    assert [ex.labels for ex in out["train"]].count(("rare",)) == 2
    assert sizes(out) == [18, 2, 2]


def test_unstratified_split_only_matches_total_sizes():
    examples = texts([("a",)] * 25 + [("b",)] * 5)
    out = split_classification(examples, fractions=(0.5, 0.5, 0.0), seed=4, stratify=False)
    assert_partition(examples, out)
    assert sizes(out) == [15, 15, 0]


def test_stratification_can_leave_a_split_empty():
    with pytest.raises(ConfigError, match="dev would be empty"):
        split_classification(texts([("a",), ("a",), ("b",), ("b",)]), seed=0)


@SETTINGS
@given(labels=st.lists(st.sets(st.sampled_from("xyz"), max_size=3), min_size=3, max_size=80),
       seed=st.integers(0, 2**32 - 1))
def test_multi_label_split_is_stratified_by_label_set(labels, seed):
    examples = texts([tuple(sorted(s)) for s in labels])
    try:
        out = split_classification(examples, fractions=(0.6, 0.2, 0.2), seed=seed)
    except ConfigError:
        # legitimate only when no stratum (own or pooled) is big enough for a 0.2 share
        counts = Counter(ex.labels for ex in examples).values()
        assert all(c < 5 for c in counts if c >= 3)
        assert sum(c for c in counts if c < 3) < 5
        return
    assert_partition(examples, out)
    for key, n in Counter(ex.labels for ex in examples).items():
        if n >= 3:  # frequent label sets are their own stratum
            for name, f in zip(SPLIT_NAMES, (0.6, 0.2, 0.2)):
                assert abs(sum(ex.labels == key for ex in out[name]) - n * f) < 1


def test_rare_label_sets_are_pooled_and_spread():
    examples = texts([(f"l{i}", f"m{i}") for i in range(30)])  # 30 distinct label sets
    out = split_classification(examples, seed=2)
    assert sizes(out) == [24, 3, 3]


def test_classification_seeds_differ():
    examples = texts([(lab,) for lab in "ab" * 25])
    results = {tuple(ex.text for ex in split_classification(examples, seed=s)["dev"])
               for s in range(10)}
    assert len(results) >= 9


# ---------------------------------------------------------------------------- repeated examples
# Identical examples (core.splits.duplicate_key) always share a split. Stated tolerance: each
# split's size is within 2 * (largest group - 1) + 1 of its share (per class when
# stratified); without repeats the exact floor/ceiling properties above still hold.

from core.splits import duplicate_groups, duplicate_key  # noqa: E402


def tolerance(examples) -> int:
    return 2 * (max((len(g) for g in duplicate_groups(examples)), default=1) - 1) + 1


def assert_no_key_in_two_splits(out: dict[str, list]) -> None:
    owner: dict = {}
    for name, part in out.items():
        for ex in part:
            assert owner.setdefault(duplicate_key(ex), name) == name, (ex, owner[duplicate_key(ex)])


@SETTINGS
@given(ids=st.lists(st.integers(0, 40), max_size=120), fracs=fractions(),
       seed=st.integers(0, 2**32 - 1))
def test_sentence_split_keeps_repeated_sentences_on_one_side(ids, fracs, seed):
    examples = [TokenExample((f"w{v}", "."), ("O", "O"), line=i + 1) for i, v in enumerate(ids)]
    try:
        out = split_ner(examples, fractions=fracs, seed=seed)
    except ConfigError as error:
        # legitimate only when there are too few distinct sentences for the non-zero splits
        assert "too few" in str(error) or "cannot fill" in str(error)
        assert len(set(ids)) < 3 * sum(f > 0 for f in fracs) or any(
            0 < f * len(ids) < tolerance(examples) for f in fracs), error
        return
    assert_partition(examples, out)
    assert_no_key_in_two_splits(out)
    for size, f in zip(sizes(out), fracs):
        assert abs(size - f * len(ids)) <= tolerance(examples)
    assert out == split_ner(examples, fractions=fracs, seed=seed)


@SETTINGS
@given(ids=st.lists(st.integers(0, 50), max_size=150), fracs=fractions(),
       seed=st.integers(0, 2**32 - 1), noise=st.booleans())
def test_classification_keeps_repeated_texts_on_one_side(ids, fracs, seed, noise):
    # the label follows the text; `noise` writes some copies with other case and spacing
    def write(i, v):
        return f"  Text   {v} " if noise and i % 2 else f"text {v}"
    examples = [TextExample(write(i, v), ("abc"[v % 3],), line=i + 1) for i, v in enumerate(ids)]
    try:
        out = split_classification(examples, fractions=fracs, seed=seed)
    except ConfigError:
        return  # too few distinct texts per class for a split: covered by the tests above
    assert_partition(examples, out)
    assert_no_key_in_two_splits(out)
    needed = sum(f > 0 for f in fracs)
    for label in "abc":
        members = [ex for ex in examples if ex.labels == (label,)]
        if len(members) < needed:
            continue
        for name, f in zip(SPLIT_NAMES, fracs):
            got = sum(ex.labels == (label,) for ex in out[name])
            assert abs(got - f * len(members)) <= tolerance(members)
    assert out == split_classification(examples, fractions=fracs, seed=seed)


@SETTINGS
@given(doc_sizes=st.lists(st.integers(1, 8), min_size=3, max_size=30),
       vocab=st.integers(5, 200), fracs=fractions(), seed=st.integers(0, 2**32 - 1),
       data=st.data())
def test_document_split_joins_documents_that_share_a_sentence(doc_sizes, vocab, fracs, seed,
                                                              data):
    ids = data.draw(st.lists(st.integers(0, vocab), min_size=sum(doc_sizes),
                             max_size=sum(doc_sizes)))
    docs = [d for d, size in enumerate(doc_sizes) for _ in range(size)]
    examples = [TokenExample((f"w{v}",), ("O",), doc=d, line=i + 1)
                for i, (v, d) in enumerate(zip(ids, docs))]
    try:
        out = split_ner(examples, fractions=fracs, seed=seed, by="document")
    except ConfigError as error:
        assert "before joining those that share a sentence" in str(error)
        return
    assert_partition(examples, out)
    assert_no_key_in_two_splits(out)
    owner: dict[int, str] = {}
    for name, part in out.items():
        for ex in part:
            assert owner.setdefault(ex.doc, name) == name  # documents stay whole
    assert out == split_ner(examples, fractions=fracs, seed=seed)  # what "auto" does here
    for size, f in zip(sizes(out), fracs):
        assert (size > 0) == (f > 0)
    assert out == split_ner(examples, fractions=fracs, seed=seed)


def test_the_issue_case_17_repeated_sentences_stay_out_of_dev():
    # 200 distinct sentences and 17 that occur twice, split as the Data page does
    from core.schemes import diagnose
    examples = [TokenExample((f"u{i}", "said", "."), ("B-PER", "O", "O")) for i in range(200)]
    examples += [TokenExample((f"d{i}", "won", "."), ("B-ORG", "O", "O"))
                 for i in range(17) for _ in range(2)]
    for seed in range(20):
        out = split_ner(examples, fractions=(0.8, 0.1, 0.1), seed=seed)
        assert_no_key_in_two_splits(out)
        assert not [d for d in diagnose(out) if d.code == "duplicate-across-splits"]
        for size, ideal in zip(sizes(out), (187.2, 23.4, 23.4)):
            assert abs(size - ideal) <= 3


def test_document_split_joins_a_chain_of_documents_and_says_so_when_too_few_remain():
    # docs 0-1 share "a", docs 1-2 share "b": one unit; doc 3 and doc 4 alone
    tokens = [["a", "x0"], ["a", "b"], ["b", "x2"], ["x3", "x3b"], ["x4"]]
    examples = [TokenExample((t,), ("O",), doc=d) for d, ts in enumerate(tokens) for t in ts]
    out = split_ner(examples, fractions=(0.6, 0.2, 0.2), seed=0)
    assert_no_key_in_two_splits(out)
    placed = {name: {ex.doc for ex in part} for name, part in out.items()}
    assert {0, 1, 2} <= placed["train"]
    few = examples[:7]  # docs 0-2 joined, doc 3: two units for three splits
    with pytest.raises(ConfigError, match=r"2 documents \(4 before joining those that share a "
                                          r"sentence; split by sentence instead\) cannot fill 3"):
        split_ner(few, fractions=(0.6, 0.2, 0.2), seed=0, by="document")
    # "auto" splits such data by sentence instead, copies still together
    out = split_ner(few, fractions=(0.6, 0.2, 0.2), seed=0)
    assert_no_key_in_two_splits(out)
    assert all(out.values())


def test_duplicate_key_normalises_text_but_not_tokens():
    assert duplicate_key(TextExample("Hello  World ", ("a",))) == duplicate_key(
        TextExample("hello world", ("b",)))
    assert duplicate_key(TextExample("ﬁne", ("a",))) == duplicate_key(TextExample("fine", ("a",)))
    assert duplicate_key(TextExample("a", ("x",), text_pair="b")) != duplicate_key(
        TextExample("a", ("x",), text_pair="c"))
    assert duplicate_key(TokenExample(("EU",), ("O",))) != duplicate_key(
        TokenExample(("eu",), ("O",)))
    assert duplicate_key(TokenExample((), ())) is None


def test_repeats_with_conflicting_labels_follow_their_first_copy():
    examples = texts([("a",)] * 30 + [("b",)] * 30)
    examples += [TextExample("same words", ("a",)), TextExample("Same words", ("b",))]
    for seed in range(10):
        out = split_classification(examples, seed=seed)
        assert_no_key_in_two_splits(out)


def test_too_few_distinct_sentences_are_named_as_such():
    examples = [TokenExample(("same",), ("O",))] * 10 + [TokenExample(("other",), ("O",))]
    with pytest.raises(ConfigError, match=r"11 sentences \(2 distinct\) cannot fill 3"):
        split_ner(examples, seed=0)
