from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import core.decoding as decoding
from core.decoding import allowed_transitions, decode_tags, viterbi
from core.errors import ConfigError
from core.schemes import _ALPHABET, is_valid
from core.spans import SCHEMES, from_spans

TYPES = ["PER", "LOC", "ORG"]
# Labels no scheme-consistent list would hold, per scheme: must never be decoded.
FOREIGN = {s: ["S-PER", "PER"] if s in ("IOB1", "IOB2") else
           ["B-PER", "PER"] if s in ("IOE1", "IOE2") else
           ["L-PER", "PER"] if s == "IOBES" else
           ["S-PER", "E-PER"] if s == "BILOU" else ["B-PER", "I-LOC"]
           for s in SCHEMES}
seeds = st.integers(0, 2**32 - 1)


def scheme_labels(types, scheme: str) -> list[str]:
    """Every label of `scheme` for `types` (no O)."""
    if scheme == "PLAIN":
        return list(types)
    return [f"{p}-{t}" for t in types for p in _ALPHABET[scheme]]


@st.composite
def label_sets(draw, full: bool = True, max_size: int | None = None):
    """(labels, scheme): 1-3 types, O usually, all (full) or some scheme labels, maybe foreign."""
    scheme = draw(st.sampled_from(SCHEMES))
    types = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True))
    own = scheme_labels(types, scheme)
    if not full:
        own = draw(st.lists(st.sampled_from(own), min_size=1, max_size=len(own), unique=True))
    extra = draw(st.lists(st.sampled_from(FOREIGN[scheme]), max_size=2, unique=True))
    labels = own + [x for x in extra if x not in own]
    if draw(st.integers(0, 4)):  # O in 4 cases of 5
        labels.append("O")
    if max_size is not None and len(labels) > max_size:  # keep one label of the scheme
        labels = [own[0], *draw(st.permutations(labels[1:]))[:max_size - 1]]
    labels = draw(st.permutations(labels))
    return list(labels), scheme


def path_ok(path, start, trans, end) -> bool:
    """Whether the masks allow `path` (a non-empty index sequence)."""
    return bool(start[path[0]] and end[path[-1]]
                and all(trans[a, b] for a, b in zip(path, path[1:])))


def random_batch(rng: np.random.Generator, lengths, n_labels: int, dyadic: bool):
    """(B, T, C) log-probs; dyadic values (k/4) add exactly, so ties are real and frequent."""
    shape = (len(lengths), max(lengths, default=0), n_labels)
    if dyadic:
        return rng.integers(-12, 1, size=shape) / 4.0
    return np.log(rng.dirichlet(np.ones(n_labels), size=shape[:2]))


def tags_of(path, labels) -> list[str]:
    return [labels[k] for k in path]


# ---------------------------------------------------------------- transition masks


@pytest.mark.parametrize("scheme", SCHEMES)
def test_masks_accept_exactly_what_is_valid_accepts(scheme):
    """Exhaustive on short sequences: start/trans/end reproduce is_valid (first-order)."""
    for types, max_len in ((TYPES[:2], 3), (TYPES[:1], 4)):
        labels = ["O", *scheme_labels(types, scheme), *FOREIGN[scheme]]
        start, trans, end = allowed_transitions(labels, scheme)
        for n in range(1, max_len + 1):
            for path in itertools.product(range(len(labels)), repeat=n):
                assert path_ok(path, start, trans, end) == is_valid(tags_of(path, labels),
                                                                    scheme), (scheme, path)


@pytest.mark.parametrize("scheme", SCHEMES)
def test_foreign_labels_are_never_allowed(scheme):
    labels = ["O", *scheme_labels(["PER"], scheme), *FOREIGN[scheme]]
    start, trans, end = allowed_transitions(labels, scheme)
    for k in range(len(labels) - len(FOREIGN[scheme]), len(labels)):
        assert not start[k] and not end[k] and not trans[k].any() and not trans[:, k].any()


def test_iob2_masks_by_hand():
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    start, trans, end = allowed_transitions(labels, "IOB2")
    assert start.tolist() == [True, True, False, True, False]
    assert end.all()
    assert trans[1, 2] and trans[2, 2] and not trans[0, 2] and not trans[3, 2]
    assert trans.dtype == start.dtype == end.dtype == np.bool_


def test_iob1_and_ioe1_markers_need_a_same_type_neighbour():
    labels = ["O", "B-PER", "I-PER", "I-LOC"]
    start, trans, end = allowed_transitions(labels, "IOB1")
    assert not start[1] and trans[2, 1] and trans[1, 1] and not trans[0, 1]
    assert not trans[3, 1] and end[1]
    labels = ["O", "E-PER", "I-PER", "I-LOC"]
    start, trans, end = allowed_transitions(labels, "IOE1")
    assert not end[1] and trans[1, 2] and trans[1, 1] and not trans[1, 0]
    assert not trans[1, 3] and start[1]


# ---------------------------------------------------------------- viterbi properties


@settings(max_examples=150, deadline=None)
@given(label_sets(), st.lists(st.integers(0, 9), min_size=1, max_size=6), seeds,
       st.booleans())
def test_output_is_always_valid(label_set, lengths, seed, dyadic):
    labels, scheme = label_set
    rng = np.random.default_rng(seed)
    lp = random_batch(rng, lengths, len(labels), dyadic)
    out = viterbi(lp, lengths, *allowed_transitions(labels, scheme))
    assert out.shape == lp.shape[:2] and out.dtype == np.int64
    for row, n in zip(out, lengths):
        assert (row[n:] == -1).all()
        assert is_valid(tags_of(row[:n], labels), scheme)
    decoded = decode_tags([lp[k, :n] for k, n in enumerate(lengths)], labels, scheme)
    assert decoded == [tags_of(row[:n], labels) for row, n in zip(out, lengths)]


@st.composite
def valid_sentences(draw, max_len: int = 10):
    """A valid tag sequence (from random spans) over 1-3 types in some scheme."""
    scheme = draw(st.sampled_from(SCHEMES))
    types = draw(st.lists(st.sampled_from(TYPES), min_size=1, max_size=3, unique=True))
    segments = draw(st.lists(st.tuples(st.sampled_from(["O", *types]), st.integers(1, 3)),
                             min_size=1, max_size=max_len // 2))
    spans, pos = [], 0
    for kind, size in segments:
        if kind != "O":
            spans.append((kind, pos, pos + size))
        pos += size
    labels = ["O", *scheme_labels(types, scheme)]
    return labels, scheme, list(from_spans(spans, pos, scheme))


@settings(max_examples=150, deadline=None)
@given(valid_sentences(), seeds, st.sampled_from([0.0, 0.25, 1.0, 3.0]), st.booleans())
def test_valid_argmax_is_returned_unchanged(case, seed, bonus, dyadic):
    labels, scheme, gold = case
    rng = np.random.default_rng(seed)
    lp = random_batch(rng, [len(gold)], len(labels), dyadic)
    lp[0, np.arange(len(gold)), [labels.index(t) for t in gold]] += bonus  # often argmax
    argmax = lp[0].argmax(axis=1)
    out = viterbi(lp, [len(gold)], *allowed_transitions(labels, scheme))[0]
    if is_valid(tags_of(argmax, labels), scheme):
        assert out.tolist() == argmax.tolist()


def brute_force(lp_row: np.ndarray, labels, scheme):
    """(best score, best paths) over all valid sequences; (None, []) when none is valid."""
    n = lp_row.shape[0]
    valid = [p for p in itertools.product(range(len(labels)), repeat=n)
             if is_valid(tags_of(p, labels), scheme)]
    if not valid:
        return None, []
    scores = [float(sum(lp_row[t, k] for t, k in enumerate(p))) for p in valid]
    best = max(scores)
    return best, [p for p, s in zip(valid, scores) if s == best]


@settings(max_examples=150, deadline=None)
@given(label_sets(full=False, max_size=7), st.integers(0, 5), seeds, st.booleans())
def test_viterbi_matches_brute_force_on_short_sequences(label_set, n, seed, dyadic):
    labels, scheme = label_set
    while len(labels) ** n > 2500:
        n -= 1
    rng = np.random.default_rng(seed)
    lp = random_batch(rng, [n], len(labels), dyadic)
    out = viterbi(lp, [n], *allowed_transitions(labels, scheme))[0]
    best, best_paths = brute_force(lp[0], labels, scheme)
    if n == 0:
        assert out.size == 0
    elif best is None:  # no valid sequence of this length: per-token argmax
        assert out.tolist() == lp[0].argmax(axis=1).tolist()
    else:
        assert is_valid(tags_of(out, labels), scheme)
        score = float(sum(lp[0, t, k] for t, k in enumerate(out)))
        assert score == pytest.approx(best, abs=1e-9)
        if dyadic:  # exact arithmetic: the path is one of the tied maxima
            assert tuple(out.tolist()) in best_paths


@settings(max_examples=100, deadline=None)
@given(label_sets(), st.lists(st.integers(0, 8), min_size=1, max_size=8), seeds,
       st.booleans())
def test_batched_equals_one_by_one(label_set, lengths, seed, dyadic):
    labels, scheme = label_set
    masks = allowed_transitions(labels, scheme)
    rng = np.random.default_rng(seed)
    lengths = [0, 1, *lengths]
    lp = random_batch(rng, lengths, len(labels), dyadic)
    for k, n in enumerate(lengths):  # padding holds junk, which must be ignored
        lp[k, n:] = rng.choice([np.nan, np.inf, 50.0])
    out = viterbi(lp, np.array(lengths), *masks)
    for k, n in enumerate(lengths):
        alone = viterbi(lp[k:k + 1, :n], [n], *masks)[0]
        assert out[k, :n].tolist() == alone.tolist()
        assert (out[k, n:] == -1).all()


def test_ties_go_to_the_lowest_label_index():
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    out = viterbi(np.zeros((1, 3, 5)), [3], *allowed_transitions(labels, "IOB2"))
    assert out.tolist() == [[0, 0, 0]]
    lp = np.array([[[-3.0, -1.0, -9.0, -1.0, -9.0], [-3.0, -9.0, -1.0, -9.0, -1.0]]])
    out = viterbi(lp, [2], *allowed_transitions(labels, "IOB2"))
    assert out.tolist() == [[1, 2]]  # B-PER I-PER ties B-LOC I-LOC: lower indices win


def test_fixes_an_invalid_argmax():
    labels = ["O", "B-PER", "I-PER"]
    lp = np.log(np.array([[[0.5, 0.1, 0.4], [0.1, 0.1, 0.8]]]))
    assert decode_tags([lp[0]], labels, "IOB2") == [["B-PER", "I-PER"]]  # argmax: O I-PER
    assert decode_tags([lp[0]], labels, "IOB1") == [["O", "I-PER"]]  # valid in IOB1


def test_minus_inf_log_probs_still_give_a_valid_path():
    labels = ["O", "B-PER", "I-PER"]
    lp = np.array([[[-np.inf, -np.inf, 0.0], [-np.inf, -np.inf, 0.0]]])
    tags = decode_tags([lp[0]], labels, "IOB2")[0]
    assert is_valid(tags, "IOB2")


def test_falls_back_to_argmax_when_no_valid_sequence_has_the_length():
    labels = ["B-PER", "E-PER"]  # IOBES: only B E, B E B E, ...: odd lengths impossible
    start, trans, end = allowed_transitions(labels, "IOBES")
    lp = np.log(np.array([[0.4, 0.6], [0.3, 0.7], [0.9, 0.1]]))[None]
    assert viterbi(lp, [3], start, trans, end).tolist() == [[1, 1, 0]]
    assert viterbi(lp, [2], start, trans, end).tolist() == [[0, 1, -1]]


# ---------------------------------------------------------------- decode_tags


def test_decode_tags_keeps_input_order_across_batches(monkeypatch):
    monkeypatch.setattr(decoding, "_BATCH", 3)
    labels = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]
    rng = np.random.default_rng(0)
    sents = [np.log(rng.dirichlet(np.ones(5), size=n)).astype(np.float32)
             for n in [5, 0, 2, 9, 1, 1, 7, 3, 0, 4]]
    masks = allowed_transitions(labels, "IOB2")
    got = decode_tags(sents, labels, "IOB2")
    assert [len(t) for t in got] == [len(s) for s in sents]
    for tags, s in zip(got, sents):
        alone = viterbi(s[None].astype(np.float64), [len(s)], *masks)[0]
        assert tags == tags_of(alone, labels)
    assert decode_tags([], labels, "IOB2") == []


# ---------------------------------------------------------------- bad inputs


@pytest.mark.parametrize("labels, match", [
    (["O", "B-PER", ""], "''"),
    (["O", "B-", "I-PER"], "'B-'"),
    (["O", "B-PER", "B-PER"], "'B-PER'"),
    (["O", 3], "3"),
    ([], "no labels"),
    (["PER", "LOC"], "none of the labels"),  # plain labels for IOB2
])
def test_bad_labels_raise_config_error_naming_them(labels, match):
    with pytest.raises(ConfigError, match=match):
        allowed_transitions(labels, "IOB2")


def test_unknown_scheme_raises_config_error():
    with pytest.raises(ConfigError, match="BIO"):
        allowed_transitions(["O"], "BIO")
    with pytest.raises(ConfigError, match="BIO"):
        decode_tags([np.zeros((1, 1))], ["O"], "BIO")


def test_bad_shapes_raise_value_error():
    start, trans, end = allowed_transitions(["O", "B-PER", "I-PER"], "IOB2")
    lp = np.zeros((2, 4, 3))
    with pytest.raises(ValueError, match="shape"):
        viterbi(np.zeros((4, 3)), [4], start, trans, end)
    with pytest.raises(ValueError, match="lengths"):
        viterbi(lp, [4], start, trans, end)
    with pytest.raises(ValueError, match="0..4"):
        viterbi(lp, [4, 5], start, trans, end)
    with pytest.raises(ValueError, match="lengths"):
        viterbi(lp, [1.5, 2.0], start, trans, end)
    with pytest.raises(ValueError, match="trans"):
        viterbi(lp, [4, 4], start, trans[:2], end)
    with pytest.raises(ValueError, match="start"):
        viterbi(np.zeros((2, 4, 2)), [4, 4], start, trans, end)
    with pytest.raises(ValueError, match="end"):
        viterbi(lp, [4, 4], start, trans, end.astype(float))
    with pytest.raises(ValueError, match="NaN"):
        viterbi(np.full((1, 2, 3), np.nan), [2], start, trans, end)
    with pytest.raises(ValueError, match="float"):
        viterbi(np.zeros((2, 4, 3), dtype=np.int64), [4, 4], start, trans, end)
    with pytest.raises(ValueError, match=r"sentence 1.*\(T, 3\)"):
        decode_tags([np.zeros((2, 3)), np.zeros((2, 4))], ["O", "B-PER", "I-PER"], "IOB2")
