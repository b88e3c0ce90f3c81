"""Inputs for the encoder: sub-word label alignment, windows over long NER sentences and
their merge back to words, and text classification features.

Pure of model loading (see engine/models.py); used by the training loop, the feature cache
and engine/predict.py.
"""
from __future__ import annotations

import math
from collections import defaultdict
from typing import Any, Iterable, Sequence

import numpy as np

from core.errors import ConfigError, DataError
from core.records import TextExample, TokenExample

IGNORE_INDEX = -100


# ---- labels on sub-tokens --------------------------------------------------------------------

def align_labels(word_ids: Sequence[int | None], word_labels: Sequence[int],
                 mode: str = "first", inside_of: dict[int, int] | None = None) -> list[int]:
    """Per-sub-token label ids from per-word ones.

    Special tokens (word id None) get IGNORE_INDEX. mode 'first': a word's first sub-token
    carries its label, the others IGNORE_INDEX; mode 'all': every sub-token carries it, except
    that a continuation of a word labelled B-X takes I-X when `inside_of` maps B-X to I-X.
    """
    if mode not in ("first", "all"):
        raise ConfigError(f"label_alignment: expected 'first' or 'all', found {mode!r}")
    inside_of = inside_of or {}
    out: list[int] = []
    prev: int | None = None
    for w in word_ids:
        if w is None:
            out.append(IGNORE_INDEX)
        elif w != prev:
            out.append(word_labels[w])
        elif mode == "all":
            out.append(inside_of.get(word_labels[w], word_labels[w]))
        else:
            out.append(IGNORE_INDEX)
        prev = w
    return out


def inside_map(label2id: dict[str, int]) -> dict[int, int]:
    """B-X id -> I-X id for every X with both tags (continuations of a begun entity)."""
    return {i: label2id["I-" + tag[2:]] for tag, i in label2id.items()
            if tag.startswith("B-") and "I-" + tag[2:] in label2id}


# ---- NER windows -----------------------------------------------------------------------------

def encode_ner(tokenizer: Any, examples: Sequence[TokenExample],
               label2id: dict[str, int] | None, *, max_length: int = 128, stride: int = 32,
               alignment: str = "first", context: int = 0,
               labelled: range | None = None) -> list[dict]:
    """Model inputs for sentences, as windows of at most `max_length` sub-tokens.

    Each window: input_ids, word_ids (sentence-level word index, None for special tokens),
    example (index into `examples`) and, when label2id is given, labels. A sentence longer
    than a window is split over WORDS into windows whose consecutive ones share about
    `stride` sub-tokens; nothing is dropped except the tail sub-tokens of a single word
    longer than a whole window. A word in several windows is labelled only in its "home"
    window (where it has most context; see merge_windows), so each word trains once.
    Sentences without words give no window.

    context: each window also carries up to this many sub-tokens of the text around it on
    each side, within max_length: the window's own sentence outside it, then the
    neighbouring sentences of the same document (consecutive examples with equal .doc, in
    list order). Context sub-tokens have word id None, so they carry no label and no score;
    with context = 0 the windows are exactly those without it. labelled: the indices of the
    examples that get windows (default: all); the others only lend context.
    """
    prefix, suffix = _special_tokens(tokenizer)
    budget = max_length - len(prefix) - len(suffix)
    if budget < 1:
        raise ConfigError(f"max_length: {max_length} leaves no room for sub-tokens beside the "
                          f"{len(prefix) + len(suffix)} special tokens")
    inside = inside_map(label2id) if label2id and alignment == "all" else None
    if context < 0:
        raise ConfigError(f"context: must be 0 or more sub-tokens, found {context}")
    pieces = _word_pieces(tokenizer, examples, budget)
    around = _Context(examples, pieces) if context else None
    windows: list[dict] = []
    for ex_index in (range(len(examples)) if labelled is None else labelled):
        example, words = examples[ex_index], pieces[ex_index]
        if not words:
            continue
        word_labels = _word_label_ids(example, label2id) if label2id is not None else None
        spans = _plan_windows([len(p) for p in words], budget, stride)
        mine = []
        for start, end in spans:
            ids = [i for w in range(start, end) for i in words[w]]
            wids = [w for w in range(start, end) for _ in words[w]]
            left: list[int] = []
            right: list[int] = []
            if around is not None:
                left, right = around.take(ex_index, start, end, context, budget - len(ids))
            mine.append({"input_ids": prefix + left + ids + right + suffix,
                         "word_ids": [None] * (len(prefix) + len(left)) + wids
                         + [None] * (len(right) + len(suffix)),
                         "example": ex_index})
        if word_labels is not None:
            homes = _home_positions([w["word_ids"] for w in mine], len(words))
            for k, window in enumerate(mine):
                labels = align_labels(window["word_ids"], word_labels, alignment, inside)
                window["labels"] = [lab if wid is None or homes[wid][0] == k else IGNORE_INDEX
                                    for lab, wid in zip(labels, window["word_ids"])]
        windows.extend(mine)
    return windows


class _Context:
    """The sub-tokens around a window: its sentence's words outside it, then the sentences
    before (after) it in the same document, nearest first."""

    def __init__(self, examples: Sequence[TokenExample], pieces: list[list[list[int]]]):
        self.examples = examples
        self.pieces = pieces

    def _same_doc(self, i: int, j: int) -> bool:
        return 0 <= j < len(self.examples) and self.examples[j].doc == self.examples[i].doc

    def _before(self, i: int, start: int, want: int) -> list[int]:
        got: list[list[int]] = []
        n = 0
        parts = [self.pieces[i][:start]]
        j = i - 1
        while True:
            for words in parts:
                for word in reversed(words):
                    got.append(word)
                    n += len(word)
                    if n >= want:
                        return [t for w in reversed(got) for t in w][-want:]
            if not self._same_doc(i, j):
                return [t for w in reversed(got) for t in w]
            parts = [self.pieces[j]]
            j -= 1

    def _after(self, i: int, end: int, want: int) -> list[int]:
        got: list[int] = []
        parts = [self.pieces[i][end:]]
        j = i + 1
        while True:
            for words in parts:
                for word in words:
                    got.extend(word)
                    if len(got) >= want:
                        return got[:want]
            if not self._same_doc(i, j):
                return got
            parts = [self.pieces[j]]
            j += 1

    def take(self, i: int, start: int, end: int, context: int,
             room: int) -> tuple[list[int], list[int]]:
        """(left, right) context of the window over words [start, end) of example i: up to
        `context` sub-tokens a side, together at most `room`; a side with less text leaves
        its share to the other."""
        want = min(context, room)
        if want <= 0:
            return [], []
        left, right = self._before(i, start, want), self._after(i, end, want)
        if len(left) + len(right) > room:
            half = room // 2
            if len(left) <= half:
                right = right[: room - len(left)]
            elif len(right) <= room - half:
                left = left[len(left) - (room - len(right)):]
            else:
                left, right = left[len(left) - half:], right[: room - half]
        return left, right


def merge_windows(windows: Sequence[dict], window_logits: Sequence[Any],
                  n_words_per_example: Sequence[int]) -> list[np.ndarray]:
    """Per-example word scores (n_words, C) from per-window sub-token scores (T_i, C).

    A word takes the scores of its first sub-token in its home window: of the windows that
    hold it, the one where its distance to a cut window edge is largest (a window edge at
    the sentence's start or end is no cut); ties go to the earlier window. Picking one window
    rather than averaging keeps the scores of a word that fits one window identical to an
    unwindowed run. window_logits rows may be padded beyond the window's length.
    """
    logits = [np.asarray(x) for x in window_logits]
    n_classes = logits[0].shape[-1] if logits else 0
    dtype = logits[0].dtype if logits else np.float32
    by_example: dict[int, list[int]] = defaultdict(list)
    for k, window in enumerate(windows):
        by_example[window["example"]].append(k)
    merged = []
    for ex, n_words in enumerate(n_words_per_example):
        ks = by_example.get(ex, [])
        scores = np.zeros((n_words, n_classes), dtype=dtype)
        homes = _home_positions([windows[k]["word_ids"] for k in ks], n_words)
        for w, (j, pos) in enumerate(homes):
            if j < 0:
                raise ValueError(f"word {w} of example {ex} is in no window")
            scores[w] = logits[ks[j]][pos]
        merged.append(scores)
    return merged


def _special_tokens(tokenizer: Any) -> tuple[list[int], list[int]]:
    """Ids the tokenizer puts before and after a single sequence ([CLS] / [SEP] for BERT)."""
    enc = tokenizer(["a"], is_split_into_words=True)
    ids, wids = list(enc["input_ids"]), enc.word_ids()
    first = wids.index(0)
    last = len(wids) - 1 - wids[::-1].index(0)
    return ids[:first], ids[last + 1:]


def _word_pieces(tokenizer: Any, examples: Sequence[TokenExample],
                 budget: int) -> list[list[list[int]]]:
    """Sub-token ids per word per sentence, from one batched tokenizer call.

    A word the tokenizer drops (e.g. only control characters) becomes [UNK] so that every
    word keeps a position; a word longer than `budget` keeps its first `budget` sub-tokens.
    """
    sentences = [list(ex.tokens) for ex in examples]
    todo = [i for i, s in enumerate(sentences) if s]
    out: list[list[list[int]]] = [[] for _ in sentences]
    if not todo:
        return out
    enc = tokenizer([sentences[i] for i in todo], is_split_into_words=True,
                    add_special_tokens=False, return_attention_mask=False,
                    return_token_type_ids=False)
    unk = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else 0
    for b, i in enumerate(todo):
        words: list[list[int]] = [[] for _ in sentences[i]]
        for tok, w in zip(enc["input_ids"][b], enc.word_ids(b)):
            if w is not None:
                words[w].append(tok)
        out[i] = [(p or [unk])[:budget] for p in words]
    return out


def _word_label_ids(example: TokenExample, label2id: dict[str, int]) -> list[int]:
    if len(example.tags) != len(example.tokens):
        raise DataError("sentence has a different number of tokens and tags",
                        line=example.line or None, expected=f"{len(example.tokens)} tags",
                        found=str(len(example.tags)))
    try:
        return [label2id[t] for t in example.tags]
    except KeyError as exc:
        raise DataError("tag is not one of the model's labels", line=example.line or None,
                        expected=", ".join(label2id), found=str(exc.args[0])) from None


def _plan_windows(lengths: Sequence[int], budget: int, stride: int) -> list[tuple[int, int]]:
    """Word ranges [start, end) of windows holding at most `budget` sub-tokens each.

    Every word has length <= budget. Each window is filled greedily; the next one starts at
    the earliest word such that the repeated words hold at most `stride` sub-tokens, always
    at least one word later than the previous start, and leaving room for the first word not
    yet in a window (so every window brings new words).
    """
    n = len(lengths)
    spans, start = [], 0
    while True:
        end, used = start, 0
        while end < n and used + lengths[end] <= budget:
            used += lengths[end]
            end += 1
        spans.append((start, end))
        if end >= n:
            return spans
        room = min(stride, budget - lengths[end])
        nxt, overlap = end, 0
        while nxt - 1 > start and overlap + lengths[nxt - 1] <= room:
            nxt -= 1
            overlap += lengths[nxt]
        start = nxt


def _home_positions(word_id_lists: Sequence[Sequence[int | None]],
                    n_words: int) -> list[tuple[int, int]]:
    """Per word: (index into word_id_lists, position of its first sub-token) of its home window.

    The home window maximises the number of sub-tokens between the word and the nearest
    window edge that cuts the sentence; (-1, -1) for a word in no window.
    """
    best = [(-1.0, -1, -1)] * n_words
    for k, wids in enumerate(word_id_lists):
        positions = [i for i, w in enumerate(wids) if w is not None]
        if not positions:
            continue
        lo, hi = positions[0], positions[-1]
        cut_left = wids[lo] > 0
        cut_right = wids[hi] < n_words - 1
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for i in positions:
            first.setdefault(wids[i], i)
            last[wids[i]] = i
        for w, i in first.items():
            left = i - lo if cut_left else math.inf
            right = hi - last[w] if cut_right else math.inf
            score = min(left, right)
            if score > best[w][0]:
                best[w] = (score, k, i)
    return [(k, i) for _, k, i in best]


# ---- classification inputs -------------------------------------------------------------------

def encode_text(tokenizer: Any, examples: Sequence[TextExample],
                label2id: dict[str, int] | None, *, max_length: int = 128,
                multi_label: bool = False,
                target_scale: tuple[float, float] | None = None) -> list[dict]:
    """Model inputs for texts: input_ids (truncated to max_length), example, and labels.

    Texts longer than max_length sub-tokens are truncated (the classifier sees their start).
    Examples with a text_pair are encoded as a pair ([CLS] text [SEP] pair [SEP] for BERT,
    with token_type_ids), truncating the longer side first. labels: the label id for
    single-label, a multi-hot float list for multi-label; for regression (target_scale =
    (mean, std) of the training targets) the standardised target. Absent when label2id is
    None and target_scale is None.
    """
    if not examples:
        return []
    pairs = [ex.text_pair for ex in examples]
    has_pair = any(p is not None for p in pairs)
    if has_pair and any(p is None for p in pairs):
        missing = next(ex for ex in examples if ex.text_pair is None)
        raise DataError("some rows have a second text and this one has none",
                        line=missing.line or None, expected="a text pair on every row")
    enc = tokenizer([ex.text for ex in examples], pairs if has_pair else None,
                    truncation="longest_first" if has_pair else True, max_length=max_length,
                    return_attention_mask=False, return_token_type_ids=has_pair)
    items = []
    for i, (example, ids) in enumerate(zip(examples, enc["input_ids"])):
        item: dict = {"input_ids": list(ids), "example": i}
        if has_pair and "token_type_ids" in enc:
            item["token_type_ids"] = list(enc["token_type_ids"][i])
        if target_scale is not None:
            item["labels"] = _scaled_target(example, target_scale)
        elif label2id is not None:
            item["labels"] = _text_label(example, label2id, multi_label)
        items.append(item)
    return items


def target_scale(examples: Sequence[TextExample]) -> tuple[float, float]:
    """(mean, std) of the training targets, for standardising them (std 1 when constant)."""
    values = np.array([ex.target for ex in examples if ex.target is not None], dtype=np.float64)
    if values.size == 0:
        raise DataError("no numeric targets to learn from", expected="a number per row")
    std = float(values.std())
    return float(values.mean()), (std if std > 0 and math.isfinite(std) else 1.0)


def _scaled_target(example: TextExample, scale: tuple[float, float]) -> float:
    if example.target is None or not math.isfinite(example.target):
        raise DataError("a regression row needs a number as its target", line=example.line or None,
                        expected="a finite number", found=repr(example.target))
    return (example.target - scale[0]) / scale[1]


def _text_label(example: TextExample, label2id: dict[str, int],
                multi_label: bool) -> int | list[float]:
    unknown = [label for label in example.labels if label not in label2id]
    if unknown:
        raise DataError("label is not one of the model's labels", line=example.line or None,
                        expected=", ".join(label2id), found=unknown[0])
    if multi_label:
        hot = [0.0] * len(label2id)
        for label in example.labels:
            hot[label2id[label]] = 1.0
        return hot
    if len(example.labels) != 1:
        raise DataError("a single-label task needs exactly one label per text",
                        line=example.line or None, expected="1 label",
                        found=f"{len(example.labels)} labels")
    return label2id[example.labels[0]]


def label_maps(labels: Iterable[str]) -> tuple[dict[int, str], dict[str, int]]:
    """(id2label, label2id) for labels in the given order."""
    labels = list(labels)
    return dict(enumerate(labels)), {label: i for i, label in enumerate(labels)}
