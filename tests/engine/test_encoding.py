"""engine/encoding: labels on sub-tokens, sliding windows over long sentences and their
merge back to words, and text-classification features."""
import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st

from core.errors import ConfigError, DataError
from core.records import TextExample, TokenExample
from engine import encoding as M
from engine.encoding import (IGNORE_INDEX, align_labels, encode_ner, encode_text,
                             merge_windows)
from engine.models import build_model
from tests.engine.tiny import NER_TAGS, VOCAB

WORDS, TAGS = VOCAB, NER_TAGS
L2I = {t: i for i, t in enumerate(TAGS)}
CLASSES = ["neg", "pos", "neutral"]


# ---- alignment -----------------------------------------------------------------------------

def test_align_labels_first_and_all():
    word_ids = [None, 0, 0, 1, 2, 2, 2, None]
    labels = [L2I["B-PER"], L2I["I-PER"], L2I["B-LOC"]]
    assert align_labels(word_ids, labels, "first") == [-100, 1, -100, 2, 3, -100, -100, -100]
    assert align_labels(word_ids, labels, "all") == [-100, 1, 1, 2, 3, 3, 3, -100]
    inside = M.inside_map(L2I)
    assert inside == {L2I["B-PER"]: L2I["I-PER"], L2I["B-LOC"]: L2I["I-LOC"]}
    assert align_labels(word_ids, labels, "all", inside) == [-100, 1, 2, 2, 3, 4, 4, -100]
    with pytest.raises(ConfigError, match="label_alignment"):
        align_labels(word_ids, labels, "last")


@settings(max_examples=100, deadline=None)
@given(st.lists(st.integers(1, 4), max_size=20), st.data())
def test_align_labels_marks_each_word_once_in_first_mode(piece_counts, data):
    word_ids = [None] + [w for w, n in enumerate(piece_counts) for _ in range(n)] + [None]
    labels = data.draw(st.lists(st.integers(0, 4), min_size=len(piece_counts),
                                max_size=len(piece_counts)))
    first = align_labels(word_ids, labels, "first")
    every = align_labels(word_ids, labels, "all")
    assert [x for x in first if x != IGNORE_INDEX] == labels
    assert [x for x, w in zip(every, word_ids) if w is not None] == [
        labels[w] for w in word_ids if w is not None]
    assert first[0] == every[0] == first[-1] == every[-1] == IGNORE_INDEX


# ---- windows -------------------------------------------------------------------------------

_word = st.one_of(st.sampled_from(WORDS + ["John", "PARIS"]),
                  st.text("abcxyz", min_size=1, max_size=12),  # out of vocabulary: characters
                  st.just("a.b"), st.just("x" * 40))           # longer than a whole window
_sentence = st.integers(0, 300).flatmap(  # draw the length first: long sentences are the point
    lambda n: st.lists(st.tuples(_word, st.sampled_from(TAGS)), min_size=n, max_size=n))


def _pieces(tokenizer, word):
    return tokenizer(word, add_special_tokens=False)["input_ids"]


def _context(window, w, n_words):
    """Sub-tokens between word w and the nearest window edge that cuts the sentence."""
    content = [i for i, x in enumerate(window["word_ids"]) if x is not None]
    at = [i for i, x in enumerate(window["word_ids"]) if x == w]
    left = at[0] - content[0] if window["word_ids"][content[0]] > 0 else math.inf
    right = content[-1] - at[-1] if window["word_ids"][content[-1]] < n_words - 1 else math.inf
    return min(left, right)


@settings(max_examples=40, deadline=None)
@given(st.lists(_sentence, min_size=1, max_size=3), st.integers(0, 20),
       st.sampled_from(["first", "all"]))
def test_windows_cover_every_word_within_max_length(tokenizer, sentences, stride, alignment):
    max_length, budget = 32, 30
    examples = [TokenExample(tuple(w for w, _ in s), tuple(t for _, t in s)) for s in sentences]
    windows = encode_ner(tokenizer, examples, L2I, max_length=max_length, stride=stride,
                         alignment=alignment)
    for ex_index, example in enumerate(examples):
        mine = [w for w in windows if w["example"] == ex_index]
        n = len(example.tokens)
        if n == 0:
            assert mine == []
            continue
        pieces = [_pieces(tokenizer, word)[:budget] for word in example.tokens]
        total = sum(len(p) for p in pieces)
        assert (len(mine) == 1) == (total <= budget)
        labelled = {}
        ranges = []
        for k, window in enumerate(mine):
            ids, wids, labels = window["input_ids"], window["word_ids"], window["labels"]
            assert len(ids) == len(wids) == len(labels) <= max_length
            assert ids[0] == tokenizer.cls_token_id and ids[-1] == tokenizer.sep_token_id
            assert wids[0] is None and wids[-1] is None
            words = sorted({w for w in wids if w is not None})
            assert words == list(range(words[0], words[-1] + 1))  # whole, contiguous words
            ranges.append((words[0], words[-1] + 1))
            for w in words:
                at = [i for i, x in enumerate(wids) if x == w]
                assert [ids[i] for i in at] == pieces[w]  # never truncated or split
                if labels[at[0]] != IGNORE_INDEX:
                    assert w not in labelled  # each word trains in one window only
                    labelled[w] = k
                    assert labels[at[0]] == L2I[example.tags[w]]
                rest = [labels[i] for i in at[1:]]
                if alignment == "first" or labels[at[0]] == IGNORE_INDEX:
                    assert set(rest) <= {IGNORE_INDEX}
                else:
                    assert all(x != IGNORE_INDEX for x in rest)
        assert sorted(labelled) == list(range(n))
        assert ranges[0][0] == 0 and ranges[-1][1] == n
        for (s0, e0), (s1, e1) in zip(ranges, ranges[1:]):
            assert s0 < s1 <= e0 < e1  # moves on, no gap, brings new words
            assert sum(len(pieces[w]) for w in range(s1, e0)) <= stride
        # merge_windows picks, per word, the window it was labelled in: the one with most
        # context; fake logits (window index, position) show which was picked
        fake = [np.array([[k, i] for i in range(len(w["input_ids"]) + 3)], dtype=np.float64)
                for k, w in enumerate(mine)]
        for w in mine:
            w["example"] = 0
        (merged,) = merge_windows(mine, fake, [n])
        assert merged.shape == (n, 2)
        for w in range(n):
            k, pos = int(merged[w, 0]), int(merged[w, 1])
            assert k == labelled[w]
            assert mine[k]["word_ids"].index(w) == pos
            holders = [j for j, win in enumerate(mine) if w in win["word_ids"]]
            best = max(_context(mine[j], w, n) for j in holders)
            assert k == min(j for j in holders if _context(mine[j], w, n) == best)


def test_windows_without_labels_and_with_unknown_tags(tokenizer):
    examples = [TokenExample(("john", "sat"), ("B-PER", "O")), TokenExample((), ())]
    windows = encode_ner(tokenizer, examples, None, max_length=16, stride=4)
    assert len(windows) == 1 and "labels" not in windows[0]
    assert windows[0]["word_ids"] == [None, 0, 1, None]
    with pytest.raises(DataError, match="B-ORG"):
        encode_ner(tokenizer, [TokenExample(("acme",), ("B-ORG",), line=7)], L2I)
    with pytest.raises(DataError, match="line 7"):
        encode_ner(tokenizer, [TokenExample(("acme", "x"), ("O",), line=7)], L2I)


def _forward(model, windows):
    with torch.no_grad():
        return [model(input_ids=torch.tensor([w["input_ids"]])).logits[0].numpy()
                for w in windows]


def test_merged_scores_of_short_sentences_equal_the_unwindowed_run(tokenizer, ner_dir):
    torch.manual_seed(0)
    model = build_model(ner_dir, "ner", TAGS).eval()
    examples = [TokenExample(("john", "smith", "sat", "on", "xyzzy"), ("O",) * 5),
                TokenExample(("the", "cat"), ("O", "O"))]
    short = encode_ner(tokenizer, examples, L2I, max_length=32, stride=8)
    whole = encode_ner(tokenizer, examples, L2I, max_length=128, stride=8)
    assert [w["input_ids"] for w in short] == [w["input_ids"] for w in whole]
    merged = merge_windows(short, _forward(model, short), [5, 2])
    with torch.no_grad():
        batch = tokenizer([list(e.tokens) for e in examples], is_split_into_words=True,
                          padding=True, return_tensors="pt")
        logits = model(**batch).logits.numpy()
    for b, scores in enumerate(merged):
        wids = batch.word_ids(b)
        firsts = [wids.index(w) for w in range(len(examples[b].tokens))]
        np.testing.assert_allclose(scores, logits[b, firsts], atol=1e-5)
    # a long sentence: the inner words of each window keep most of their context
    long = TokenExample(tuple(WORDS * 12), ("O",) * 120)
    windows = encode_ner(tokenizer, [long], L2I, max_length=32, stride=12)
    assert len(windows) > 4
    (scores,) = merge_windows(windows, _forward(model, windows), [120])
    assert scores.shape == (120, len(TAGS)) and np.isfinite(scores).all()


# ---- classification inputs -----------------------------------------------------------------

def test_encode_text_truncates_and_builds_labels(tokenizer):
    c2i = {c: i for i, c in enumerate(CLASSES)}
    examples = [TextExample("the cat sat " * 30, ("pos",)), TextExample("john", ("neg",))]
    items = encode_text(tokenizer, examples, c2i, max_length=16)
    assert len(items[0]["input_ids"]) == 16 and items[0]["input_ids"][-1] == 3  # [SEP] kept
    assert [i["labels"] for i in items] == [1, 0] and [i["example"] for i in items] == [0, 1]
    multi = encode_text(tokenizer, [TextExample("x", ("neg", "neutral")), TextExample("y", ())],
                        c2i, max_length=16, multi_label=True)
    assert [m["labels"] for m in multi] == [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0]]
    assert "labels" not in encode_text(tokenizer, examples, None, max_length=16)[0]
    assert encode_text(tokenizer, [], c2i) == []
    with pytest.raises(DataError, match="exactly one label"):
        encode_text(tokenizer, [TextExample("x", ("neg", "pos"))], c2i)
    with pytest.raises(DataError, match="found maybe"):
        encode_text(tokenizer, [TextExample("x", ("maybe",))], c2i)


# ---- document context ----------------------------------------------------------------------

_doc_sentences = st.lists(st.tuples(st.lists(st.tuples(_word, st.sampled_from(TAGS)),
                                             min_size=0, max_size=40),
                                    st.integers(0, 2)), min_size=1, max_size=6)


def _examples(drawn):
    docs, doc = [], 0
    for _, step in drawn:  # non-decreasing document numbers, as a reader gives them
        doc += step == 2
        docs.append(doc)
    return [TokenExample(tuple(w for w, _ in s), tuple(t for _, t in s), d)
            for (s, _), d in zip(drawn, docs)]


@settings(max_examples=60, deadline=None)
@given(_doc_sentences, st.integers(0, 12), st.integers(1, 40), st.sampled_from([24, 48]),
       st.sampled_from(["first", "all"]))
def test_context_never_changes_which_words_are_labelled(tokenizer, drawn, stride, context,
                                                        max_length, alignment):
    examples = _examples(drawn)
    stride = min(stride, max_length - 3)
    plain = encode_ner(tokenizer, examples, L2I, max_length=max_length, stride=stride,
                       alignment=alignment)
    framed = encode_ner(tokenizer, examples, L2I, max_length=max_length, stride=stride,
                        alignment=alignment, context=context)
    assert len(plain) == len(framed)
    for a, b in zip(plain, framed):
        assert b["example"] == a["example"] and len(b["input_ids"]) <= max_length
        # the window's own sub-tokens, word ids and labels, in order, are unchanged ...
        own = [(i, w, lab) for i, w, lab in zip(a["input_ids"], a["word_ids"], a["labels"])
               if w is not None]
        assert [(i, w, lab) for i, w, lab in zip(b["input_ids"], b["word_ids"], b["labels"])
                if w is not None] == own
        # ... and every added sub-token is unlabelled context, at most `context` a side
        added = len(b["input_ids"]) - len(a["input_ids"])
        assert 0 <= added <= 2 * context
        assert all(lab == IGNORE_INDEX for lab, w in zip(b["labels"], b["word_ids"]) if w is None)
        assert b["input_ids"][0] == a["input_ids"][0] and b["input_ids"][-1] == a["input_ids"][-1]
    # the merge back to words reads the same positions' scores
    n_words = [len(ex.tokens) for ex in examples]
    rng = np.random.default_rng(0)
    logits_a, logits_b = [], []
    for a, b in zip(plain, framed):
        la = rng.normal(size=(len(a["input_ids"]), len(TAGS)))
        lb = np.zeros((len(b["input_ids"]), len(TAGS)))
        at_b = [i for i, w in enumerate(b["word_ids"]) if w is not None]
        at_a = [i for i, w in enumerate(a["word_ids"]) if w is not None]
        lb[at_b] = la[at_a]
        logits_a.append(la)
        logits_b.append(lb)
    for x, y in zip(merge_windows(plain, logits_a, n_words), merge_windows(framed, logits_b, n_words)):
        np.testing.assert_array_equal(x, y)


@settings(max_examples=40, deadline=None)
@given(_doc_sentences, st.integers(0, 12))
def test_context_zero_gives_todays_features(tokenizer, drawn, stride):
    examples = _examples(drawn)
    today = encode_ner(tokenizer, examples, L2I, max_length=32, stride=stride)
    assert encode_ner(tokenizer, examples, L2I, max_length=32, stride=stride, context=0) == today
    assert encode_ner(tokenizer, examples, L2I, max_length=32, stride=stride,
                      labelled=range(len(examples))) == today


def test_context_reads_the_neighbours_of_the_same_document_only(tokenizer):
    ids = lambda words: [i for w in words for i in _pieces(tokenizer, w)]  # noqa: E731
    a, b, c, d = ("john", "lives"), ("in", "paris"), ("mary", "works"), ("at", "acme")
    examples = [TokenExample(a, ("O",) * 2, 0), TokenExample(b, ("O",) * 2, 0),
                TokenExample(c, ("O",) * 2, 0), TokenExample(d, ("O",) * 2, 1)]
    windows = encode_ner(tokenizer, examples, L2I, max_length=64, stride=4, context=50)
    cls, sep = windows[0]["input_ids"][0], windows[0]["input_ids"][-1]
    assert windows[0]["input_ids"] == [cls, *ids(a), *ids(b + c), sep]
    assert windows[1]["input_ids"] == [cls, *ids(a), *ids(b), *ids(c), sep]
    assert windows[2]["input_ids"] == [cls, *ids(a + b), *ids(c), sep]
    assert windows[3]["input_ids"] == [cls, *ids(d), sep]  # another document: no neighbours
    # a small budget is shared: nearest sub-tokens first, the side with less leaves its share
    few = encode_ner(tokenizer, examples, L2I, max_length=2 + len(ids(b)) + 3, stride=1,
                     context=50)
    assert few[1]["input_ids"] == [cls, *ids(a)[-1:], *ids(b), *ids(c)[:2], sep]
    only_right = encode_ner(tokenizer, examples, L2I, max_length=2 + len(ids(a)) + 3, stride=1,
                            context=50)
    assert only_right[0]["input_ids"] == [cls, *ids(a), *ids(b + c)[:3], sep]
    # labelled: windows for some examples only, context from all
    part = encode_ner(tokenizer, examples, L2I, max_length=64, stride=4, context=50,
                      labelled=range(1, 2))
    assert [w["example"] for w in part] == [1] and part[0]["input_ids"] == windows[1]["input_ids"]
    with pytest.raises(ConfigError, match="context"):
        encode_ner(tokenizer, examples, L2I, context=-1)


# ---- text pairs and regression targets -----------------------------------------------------

def test_text_pairs_are_encoded_as_pairs_truncating_the_longer_side(tokenizer):
    from engine.batching import collate_texts

    short, long = "john paris", " ".join(["acme"] * 40)
    examples = [TextExample(short, ("pos",), text_pair=long), TextExample(long, ("neg",),
                                                                          text_pair=short)]
    l2i = {c: i for i, c in enumerate(CLASSES)}
    items = encode_text(tokenizer, examples, l2i, max_length=16)
    want = tokenizer(short, long, truncation="longest_first", max_length=16)
    assert items[0]["input_ids"] == want["input_ids"]
    assert items[0]["token_type_ids"] == want["token_type_ids"]
    for item in items:
        assert len(item["input_ids"]) == 16
        # the short side is kept whole: both of its words are there, in its own segment
        sep = tokenizer.sep_token_id
        assert item["input_ids"].count(sep) == 2
        assert set(item["token_type_ids"]) == {0, 1}
    short_ids = tokenizer(short, add_special_tokens=False)["input_ids"]
    assert items[0]["input_ids"][1:1 + len(short_ids)] == short_ids
    batch = collate_texts(items, np.arange(2), pad_id=0, multi_label=False)
    assert batch["token_type_ids"].tolist() == [items[0]["token_type_ids"],
                                                items[1]["token_type_ids"]]
    assert batch["labels"].tolist() == [l2i["pos"], l2i["neg"]]
    with pytest.raises(DataError, match="second text"):
        encode_text(tokenizer, [examples[0], TextExample("x", ("pos",), line=4)], l2i)


def test_regression_targets_are_standardised_with_the_training_scale(tokenizer):
    from engine.batching import collate_texts

    train = [TextExample("john", (), target=t) for t in (1.0, 3.0, 5.0)]
    mean, std = M.target_scale(train)
    assert (mean, std) == pytest.approx((3.0, np.std([1.0, 3.0, 5.0])))
    items = encode_text(tokenizer, train, None, target_scale=(mean, std))
    assert [it["labels"] for it in items] == pytest.approx([(t - 3.0) / std for t in (1, 3, 5)])
    batch = collate_texts(items, np.arange(3), pad_id=0, multi_label=False)
    assert batch["labels"].dtype == torch.float32
    assert M.target_scale([TextExample("a", (), target=2.0)] * 2) == (2.0, 1.0)  # constant
    with pytest.raises(DataError, match="number"):
        encode_text(tokenizer, [TextExample("a", ())], None, target_scale=(0.0, 1.0))
