"""Entity-, tag- and class-level evaluation reports, vectorised over a whole corpus.

Entity extraction reproduces seqeval 1.2.2 exactly, without its per-token Python loop:

- mode "conlleval" is seqeval's default mode (`get_entities`): the corpus is laid out as
  one sequence with an 'O' after every sentence, and a chunk ends / starts between two
  tokens by the `end_of_chunk` / `start_of_chunk` rules applied to (tag[0], type) pairs,
  where type = tag[1:].split('-', 1)[-1] or '_'. IOB1 and IOB2 read alike; its quirks on
  invalid sequences and on tags whose first letter is not B/I/E/S/O/'.' are kept (such a
  chunk may even run across a sentence break, exactly as in seqeval).
- mode "strict" is seqeval `mode="strict"` (`seqeval.scheme.Tokens`): an entity starts at
  a token matching the scheme's start patterns, runs over the tokens matching its inside
  patterns, and counts only if the token after the run matches an end pattern. Schemes
  IOB2, IOE2, IOBES and BILOU; a tag whose prefix the scheme does not allow is a DataError.

Token-level and classification reports equal scikit-learn's with zero_division=0.
Spans are global positions in the laid-out corpus (sentence k occupies
[offset_k, offset_k + len_k), offset_k = sum of len_i + 1 for i < k) until turned into
per-sentence positions for display.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from itertools import chain, repeat
from typing import Sequence

import numpy as np

from core.errors import ConfigError, DataError
from core.spans import split_tag

MODES = ("conlleval", "strict")
STRICT_SCHEMES = ("IOB2", "IOE2", "IOBES", "BILOU")
ERROR_KINDS = ("correct", "wrong_type", "wrong_boundary", "wrong_type_and_boundary",
               "spurious", "missed")
_AVERAGES = ("micro", "macro", "weighted", "samples")
_HEADERS = ("precision", "recall", "f1-score", "support")

# ---------------------------------------------------------------------------------------
# Decision tables over 7 token classes, flat index (previous * 7 + current) * 2 + flag,
# where flag = types differ (conlleval) or tags are the same (strict).

_C_O, _C_B, _C_I, _C_E, _C_S, _C_DOT, _C_OTHER = range(7)
_CONLL_CLASS = {"O": _C_O, "B": _C_B, "I": _C_I, "E": _C_E, "S": _C_S, ".": _C_DOT}


def _build_conll_tables() -> tuple[np.ndarray, np.ndarray]:
    """seqeval's end_of_chunk and start_of_chunk as lookup tables over (prev, cur, differ)."""
    end = np.zeros((7, 7, 2), dtype=bool)
    start = np.zeros((7, 7, 2), dtype=bool)
    for pc in range(7):
        for c in range(7):
            for differ in (0, 1):
                end[pc, c, differ] = (
                    pc in (_C_E, _C_S)
                    or (pc in (_C_B, _C_I) and c in (_C_B, _C_S, _C_O))
                    or (pc not in (_C_O, _C_DOT) and bool(differ)))
                start[pc, c, differ] = (
                    c in (_C_B, _C_S)
                    or (pc in (_C_E, _C_S, _C_O) and c in (_C_E, _C_I))
                    or (c not in (_C_O, _C_DOT) and bool(differ)))
    return end.ravel(), start.ravel()


_CONLL_END, _CONLL_START = _build_conll_tables()

_PREFIXES = "OIBESUL"  # strict prefix classes; index = class id
_P = {p: i for i, p in enumerate(_PREFIXES)}

# seqeval.scheme: the prefixes each scheme allows ('O' included) and its patterns
# (previous prefixes, current prefixes, tag condition); '*' = any prefix.
_STRICT_ALLOWED = {"IOB2": "IOB", "IOE2": "IOE", "IOBES": "IOBES", "BILOU": "BILOU"}
_STRICT_PATTERNS: dict[str, dict[str, tuple[tuple[str, str, str], ...]]] = {
    "IOB2": {
        "start": (("*", "B", "any"),),
        "inside": (("B", "I", "same"), ("I", "I", "same")),
        "end": (("I", "O", "any"), ("I", "I", "diff"), ("I", "B", "any"), ("B", "O", "any"),
                ("B", "I", "diff"), ("B", "B", "any")),
    },
    "IOE2": {
        "start": (("O", "I", "any"), ("O", "E", "any"), ("E", "I", "any"), ("E", "E", "any"),
                  ("I", "I", "diff"), ("I", "E", "diff")),
        "inside": (("I", "E", "same"), ("I", "I", "same")),
        "end": (("E", "*", "any"),),
    },
    "IOBES": {
        "start": (("*", "B", "any"), ("*", "S", "any")),
        "inside": (("B", "I", "same"), ("B", "E", "same"), ("I", "I", "same"),
                   ("I", "E", "same")),
        "end": (("S", "*", "any"), ("E", "*", "any")),
    },
    "BILOU": {
        "start": (("*", "B", "any"), ("*", "U", "any")),
        "inside": (("B", "I", "same"), ("B", "L", "same"), ("I", "I", "same"),
                   ("I", "L", "same")),
        "end": (("U", "*", "any"), ("L", "*", "any")),
    },
}


@dataclass(frozen=True)
class _StrictTables:
    """A strict scheme as lookup tables over (prev prefix, cur prefix, tags_same)."""

    allowed: frozenset[str]
    start: np.ndarray
    inside: np.ndarray
    end: np.ndarray


def _pattern_table(patterns: tuple[tuple[str, str, str], ...]) -> np.ndarray:
    """Flat boolean table: True where any pattern matches (prev, cur, same)."""
    table = np.zeros((7, 7, 2), dtype=bool)
    for prev, cur, cond in patterns:
        prevs = _PREFIXES if prev == "*" else prev
        curs = _PREFIXES if cur == "*" else cur
        sames = {"any": (0, 1), "same": (1,), "diff": (0,)}[cond]
        for pp in prevs:
            for cp in curs:
                for same in sames:
                    table[_P[pp], _P[cp], same] = True
    return table.ravel()


_STRICT = {
    name: _StrictTables(frozenset(_STRICT_ALLOWED[name]), _pattern_table(spec["start"]),
                        _pattern_table(spec["inside"]), _pattern_table(spec["end"]))
    for name, spec in _STRICT_PATTERNS.items()
}


# ---------------------------------------------------------------------------------------
# Encoding a corpus


@dataclass(frozen=True)
class _Corpus:
    """Gold and predicted tags encoded as ints over one shared vocabulary, laid out as
    seqeval flattens them: every sentence followed by a separator 'O'."""

    vocab: list[str]        # code -> tag; code 0 is "O", the separator
    gold: np.ndarray        # (N + S,) int32 codes
    pred: np.ndarray        # (N + S,)
    lengths: np.ndarray     # (S,) tokens per sentence

    @property
    def offsets(self) -> np.ndarray:
        """(S,) position of each sentence's first token in the layout."""
        return np.concatenate(([0], np.cumsum(self.lengths + 1)[:-1])).astype(np.int64)

    def locate(self, position: int) -> tuple[int, int]:
        """(sentence, token within it) of a layout position."""
        offsets = self.offsets
        k = int(np.searchsorted(offsets, position, side="right") - 1)
        return k, int(position - offsets[k])


@dataclass(frozen=True)
class _Spans:
    """Entities as parallel arrays sorted by end; end is exclusive, positions are global."""

    types: np.ndarray   # (K,) index into the type-name list
    starts: np.ndarray  # (K,)
    ends: np.ndarray    # (K,) strictly increasing: at most one entity ends at a position


def _check_lengths(gold: Sequence[Sequence], pred: Sequence[Sequence]) -> np.ndarray:
    """Tokens per sentence; DataError naming the first sentence whose lengths differ."""
    n = len(gold)
    if len(pred) != n:
        raise DataError(f"gold has {n} sentences but predictions have {len(pred)}; "
                        f"sentence {min(n, len(pred))} is the first without a partner",
                        source="predictions", expected=f"{n} sentences", found=str(len(pred)))
    g_len = np.fromiter(map(len, gold), dtype=np.int64, count=n)
    p_len = np.fromiter(map(len, pred), dtype=np.int64, count=n)
    bad = np.flatnonzero(g_len != p_len)
    if bad.size:
        i = int(bad[0])
        raise DataError(f"sentence {i}: gold has {g_len[i]} tags but the prediction has "
                        f"{p_len[i]}", source="predictions", expected=f"{g_len[i]} tags",
                        found=str(p_len[i]))
    return g_len


def _encode_layout(sentences: Sequence[Sequence], index: defaultdict, size: int) -> np.ndarray:
    """(size,) int32 codes of the sentences, each followed by 'O'.

    Everything runs in C: zip/chain interleave the separators, and the defaultdict hands
    an unseen tag the next free code (its default_factory is its own __len__).
    """
    tokens = chain.from_iterable(chain.from_iterable(zip(sentences, repeat(("O",)))))
    return np.fromiter(map(index.__getitem__, tokens), dtype=np.int32, count=size)


def _encode_corpus(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> _Corpus:
    """Check shapes and encode both tag corpora over one vocabulary."""
    lengths = _check_lengths(gold, pred)
    index: defaultdict = defaultdict()
    index.default_factory = index.__len__
    index["O"]                                       # the separator gets code 0
    size = int(lengths.sum()) + lengths.size
    codes_gold = _encode_layout(gold, index, size)
    codes_pred = _encode_layout(pred, index, size)
    corpus = _Corpus(list(index), codes_gold, codes_pred, lengths)
    _check_tags_are_strings(corpus)
    return corpus


def _first_use(corpus: _Corpus, codes: np.ndarray) -> tuple[str, int, int, str]:
    """(side, sentence, token, tag) of the first token whose code is in `codes`."""
    for side, layout in (("gold", corpus.gold), ("predictions", corpus.pred)):
        hits = np.flatnonzero(np.isin(layout, codes))
        if hits.size:
            return (side, *corpus.locate(int(hits[0])), corpus.vocab[layout[hits[0]]])
    raise AssertionError("code not used")


def _check_tags_are_strings(corpus: _Corpus) -> None:
    """DataError naming the first tag that is not a non-empty string."""
    bad = [i for i, tag in enumerate(corpus.vocab) if not isinstance(tag, str) or not tag]
    if bad:
        side, k, j, tag = _first_use(corpus, np.array(bad))
        raise DataError(f"{side}, sentence {k}, token {j}: tag {tag!r} is not a non-empty "
                        "string", source=side, expected="a tag such as 'O' or 'B-PER'",
                        found=repr(tag))


def _shifted(values: np.ndarray, first: int) -> np.ndarray:
    """values moved one position right, with `first` in front: the previous token's value."""
    prev = np.empty_like(values)
    if values.size:
        prev[0] = first
        prev[1:] = values[:-1]
    return prev


# ---------------------------------------------------------------------------------------
# Entity extraction


def _conll_parts(tag: str) -> tuple[int, str]:
    """seqeval get_entities' (tag class, type) of one tag."""
    return _CONLL_CLASS.get(tag[0], _C_OTHER), tag[1:].split("-", maxsplit=1)[-1] or "_"


def _conll_spans(layout: np.ndarray, classes: np.ndarray, type_ids: np.ndarray,
                 no_type: int) -> _Spans:
    """seqeval get_entities over the separated layout, all chunks at once."""
    c = np.take(classes, layout)                     # (L,) uint8; take beats [] here
    t = np.take(type_ids, layout)                    # (L,)
    # (prev class, class, types differ) -> 0..97; seqeval starts with prev_type ''
    key = _shifted(c, _C_O) * np.uint8(14) + c * np.uint8(2) + (_shifted(t, no_type) != t)
    ends = np.flatnonzero(np.take(_CONLL_END, key))  # a chunk ends just before these
    starts = np.flatnonzero(np.take(_CONLL_START, key))
    # Each chunk begins at the last start strictly before its end (0 if none, as in seqeval).
    k = np.searchsorted(starts, ends, side="left") - 1
    begins = starts[np.maximum(k, 0)] if starts.size else np.zeros_like(ends)
    begins = np.where(k >= 0, begins, 0)
    return _Spans(t[ends - 1], begins.astype(np.int64), ends.astype(np.int64))


def _strict_parts(tag: str) -> tuple[int, str]:
    """seqeval.scheme.Token's (prefix class, tag) of one tag; class -1 if unknown."""
    return _P.get(tag[0], -1), tag[1:].strip("-") or "_"


def _strict_spans(layout: np.ndarray, prefixes: np.ndarray, type_ids: np.ndarray,
                  outside_type: int, tables: _StrictTables) -> _Spans:
    """seqeval Tokens.entities over the separated layout, all sentences at once."""
    p = np.take(prefixes, layout)                    # (L,) uint8
    t = np.take(type_ids, layout)                    # (L,)
    key = (_shifted(p, _P["O"]) * np.uint8(14) + p * np.uint8(2)
           + (_shifted(t, outside_type) == t))       # (prev, cur, same) -> 0..97
    # In the four supported schemes start and inside tokens are disjoint, so every start
    # token is visited by seqeval's loop; its run ends at the next non-inside token, which
    # always exists because the layout ends with a separator 'O'.
    cand = np.flatnonzero(np.take(tables.start, key))
    stops = np.flatnonzero(~np.take(tables.inside, key))
    run_end = stops[np.searchsorted(stops, cand, side="right")]
    ok = tables.end[key[run_end]]
    return _Spans(t[cand[ok]], cand[ok].astype(np.int64), run_end[ok].astype(np.int64))


def _check_mode(mode: str, scheme: str | None) -> None:
    """ConfigError for an unknown mode or a strict scheme seqeval cannot decode."""
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if mode == "strict" and scheme not in STRICT_SCHEMES:
        raise ConfigError(f"strict mode needs scheme= one of {', '.join(STRICT_SCHEMES)}, "
                          f"not {scheme!r} (IOB1/IOE1 cannot be decoded strictly; use "
                          "mode='conlleval')")


def _entity_spans(corpus: _Corpus, mode: str, scheme: str | None
                  ) -> tuple[list[str], _Spans, _Spans]:
    """Type names and the gold and predicted entities of a corpus."""
    _check_mode(mode, scheme)
    parse = _conll_parts if mode == "conlleval" else _strict_parts
    parts = [parse(tag) for tag in corpus.vocab]     # one parse per distinct tag
    names = sorted({name for _, name in parts})
    name_id = {name: i for i, name in enumerate(names)}
    classes = np.array([cls for cls, _ in parts], dtype=np.int16)
    type_ids = np.array([name_id[name] for _, name in parts], dtype=np.int32)
    layouts = (corpus.gold, corpus.pred)
    if mode == "conlleval":
        classes = classes.astype(np.uint8)
        spans = [_conll_spans(lay, classes, type_ids, len(names)) for lay in layouts]
    else:
        tables = _STRICT[scheme]
        _check_strict_tags(corpus, classes, tables, scheme)
        classes = classes.astype(np.uint8)
        spans = [_strict_spans(lay, classes, type_ids, name_id["_"], tables) for lay in layouts]
    return names, spans[0], spans[1]


def _check_strict_tags(corpus: _Corpus, classes: np.ndarray, tables: _StrictTables,
                       scheme: str) -> None:
    """DataError naming the first tag whose prefix `scheme` does not allow (seqeval raises)."""
    allowed = np.array([c >= 0 and _PREFIXES[c] in tables.allowed for c in classes])
    bad = np.flatnonzero(~allowed)
    if bad.size:
        side, k, j, tag = _first_use(corpus, bad)
        raise DataError(f"{side}, sentence {k}, token {j}: tag {tag!r} is not valid in "
                        f"scheme {scheme}", source=side,
                        expected=f"'O' or a prefix in {''.join(sorted(tables.allowed - {'O'}))}"
                                 " followed by '-TYPE'", found=repr(tag))


def _exact_matches(gold: _Spans, pred: _Spans) -> tuple[np.ndarray, np.ndarray]:
    """Boolean masks over gold and pred spans that have an identical partner.

    Ends are strictly increasing on each side, so the only candidate partner of a gold
    span is the predicted span with the same end, found by binary search.
    """
    pos = np.searchsorted(pred.ends, gold.ends)
    at = np.minimum(pos, max(pred.ends.size - 1, 0))
    gold_hit = np.zeros(gold.ends.size, dtype=bool)
    if pred.ends.size:
        gold_hit = ((pred.ends[at] == gold.ends) & (pred.starts[at] == gold.starts)
                    & (pred.types[at] == gold.types))
    pred_hit = np.zeros(pred.ends.size, dtype=bool)
    pred_hit[at[gold_hit]] = True
    return gold_hit, pred_hit


# ---------------------------------------------------------------------------------------
# Scores


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """num / den with 0.0 where den == 0 (zero_division=0)."""
    num = np.asarray(num, dtype=np.float64)
    den = np.asarray(den, dtype=np.float64)
    return np.divide(num, den, out=np.zeros_like(num), where=den != 0)


def _scores_seqeval(tp, pred, true) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 arrays as seqeval computes them (F1 from P and R)."""
    p, r = _divide(tp, pred), _divide(tp, true)
    return p, r, _divide(2 * p * r, p + r)


def _scores_sklearn(tp, pred, true) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Precision, recall, F1 arrays as scikit-learn computes them (F1 from counts)."""
    tp = np.asarray(tp, dtype=np.float64)
    return _divide(tp, pred), _divide(tp, true), _divide(2 * tp, np.add(true, pred))


def _row(p: float, r: float, f: float, support: int, **counts: int) -> dict:
    """One report row with plain Python numbers."""
    row = {"precision": float(p), "recall": float(r), "f1": float(f), "support": int(support)}
    row.update({k: int(v) for k, v in counts.items()})
    return row


def _report(names: Sequence[str], tp: np.ndarray, pred: np.ndarray, true: np.ndarray,
            *, flavour: str) -> dict:
    """per_type rows plus micro/macro/weighted averages.

    flavour "seqeval": F1 = 2PR/(P+R); "sklearn": F1 = 2TP/(true+pred). The weighted
    average is the plain mean when no row has support; with no rows at all every average
    is 0.0 (both libraries give NaN for macro there).
    """
    scores = _scores_seqeval if flavour == "seqeval" else _scores_sklearn
    p, r, f = scores(tp, pred, true)
    per_type = {name: _row(p[i], r[i], f[i], true[i], tp=tp[i], fp=pred[i] - tp[i],
                           fn=true[i] - tp[i])
                for i, name in enumerate(names)}
    support = int(true.sum())
    tp_all, pred_all = int(tp.sum()), int(pred.sum())
    mp, mr, mf = (float(x[0]) for x in scores([tp_all], [pred_all], [support]))
    report = {"per_type": per_type,
              "micro": _row(mp, mr, mf, support, tp=tp_all, fp=pred_all - tp_all,
                            fn=support - tp_all)}
    if not len(names):
        report["macro"] = _row(0.0, 0.0, 0.0, support)
        report["weighted"] = _row(0.0, 0.0, 0.0, support)
        return report
    report["macro"] = _row(np.mean(p), np.mean(r), np.mean(f), support)
    if support:
        report["weighted"] = _row(*(np.average(x, weights=true) for x in (p, r, f)), support)
    else:  # sklearn's fallback; seqeval's 0.0 is the same here since every tp is 0
        report["weighted"] = _row(np.mean(p), np.mean(r), np.mean(f), support)
    return report


# ---------------------------------------------------------------------------------------
# Public API: entities


def entity_report(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], *,
                  mode: str = "conlleval", scheme: str | None = None) -> dict:
    """Per-entity-type precision/recall/F1/support/tp/fp/fn and micro/macro/weighted averages.

    Equal to seqeval.metrics.classification_report (mode None, or "strict" with the scheme
    class of the same name); rows sorted by type; zero division gives 0.0.
    """
    corpus = _encode_corpus(gold, pred)
    names, g, p = _entity_spans(corpus, mode, scheme)
    gold_hit, _ = _exact_matches(g, p)
    n = len(names)
    tp = np.bincount(g.types[gold_hit], minlength=n)
    true = np.bincount(g.types, minlength=n)
    predicted = np.bincount(p.types, minlength=n)
    used = np.flatnonzero(true + predicted)          # names are sorted, so rows are too
    return _report([names[i] for i in used], tp[used], predicted[used], true[used],
                   flavour="seqeval")


def _pair_overlaps(g_start, g_end, p_start, p_end) -> tuple[np.ndarray, np.ndarray]:
    """All (gold index, pred index) pairs of overlapping spans, without a Python loop."""
    order = np.argsort(p_start, kind="stable")
    ps, pe = p_start[order], p_end[order]
    reach = np.maximum.accumulate(pe) if pe.size else pe
    lo = np.searchsorted(reach, g_start, side="right")   # preds before lo end <= g_start
    hi = np.searchsorted(ps, g_end, side="left")         # preds from hi start >= g_end
    counts = np.maximum(hi - lo, 0)
    gi = np.repeat(np.arange(g_start.size), counts)
    first = np.repeat(lo - (np.cumsum(counts) - counts), counts)
    pi = first + np.arange(gi.size)
    keep = pe[pi] > g_start[gi]
    return gi[keep], order[pi[keep]]


def entity_errors(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]], *,
                  mode: str = "conlleval", scheme: str | None = None) -> dict:
    """Entity errors by kind and type, and the list of every non-correct span.

    Spans are decoded as in entity_report (mode, scheme). Each gold and each predicted span
    is counted exactly once:
    - correct: a gold span with a prediction of identical type and bounds.
    - Remaining gold and predicted spans that overlap are paired greedily, largest overlap
      first (ties: identical bounds, then same type, then leftmost gold, leftmost pred);
      a pair is wrong_type (identical bounds, other type), wrong_boundary (same type,
      other bounds) or wrong_type_and_boundary (both differ), counted under the gold type.
    - spurious: a predicted span left without a partner (it overlaps no gold span, or the
      gold spans it overlaps are already paired), counted under the predicted type.
    - missed: a gold span left without a partner, counted under the gold type.
    So per corpus correct + wrong_* + missed == gold spans and correct + wrong_* + spurious
    == predicted spans, and correct == the report's tp.
    Returns {"per_type": {TYPE: {kind: count}}, "errors": [{"sentence", "kind",
    "gold": [type, start, end] | None, "pred": ...}]} with end exclusive, positions within
    the sentence, errors ordered by sentence and position.
    """
    corpus = _encode_corpus(gold, pred)
    names, g, p = _entity_spans(corpus, mode, scheme)
    gold_hit, pred_hit = _exact_matches(g, p)
    ug, up = np.flatnonzero(~gold_hit), np.flatnonzero(~pred_hit)
    gi, pi = _pair_overlaps(g.starts[ug], g.ends[ug], p.starts[up], p.ends[up])
    gi, pi = ug[gi], up[pi]
    overlap = np.minimum(g.ends[gi], p.ends[pi]) - np.maximum(g.starts[gi], p.starts[pi])
    same_bounds = (g.starts[gi] == p.starts[pi]) & (g.ends[gi] == p.ends[pi])
    same_type = g.types[gi] == p.types[pi]
    order = np.lexsort((p.starts[pi], g.starts[gi], ~same_type, ~same_bounds, -overlap))
    keep = _choose_pairs(gi[order].tolist(), pi[order].tolist())
    pg, pp = gi[order][keep], pi[order][keep]                    # the chosen pairs

    # one row per non-correct item: kind id, gold span index, pred span index (-1 = none)
    pair_kind = np.where((g.starts[pg] == p.starts[pp]) & (g.ends[pg] == p.ends[pp]), 1,
                         np.where(g.types[pg] == p.types[pp], 2, 3))
    missed = np.setdiff1d(ug, pg)
    spurious = np.setdiff1d(up, pp)
    none_g, none_p = np.full(spurious.size, -1), np.full(missed.size, -1)
    kinds = np.concatenate((pair_kind, np.full(missed.size, 5), np.full(spurious.size, 4)))
    gk = np.concatenate((pg, missed, none_g)).astype(np.int64)
    pk = np.concatenate((pp, none_p, spurious)).astype(np.int64)

    counts = np.zeros((len(names), len(ERROR_KINDS)), dtype=np.int64)
    np.add.at(counts, (g.types[gold_hit], 0), 1)
    # gold type where there is a gold span, else (spurious) the predicted type
    np.add.at(counts, (np.where(gk >= 0, _pick(g.types, gk), _pick(p.types, pk)), kinds), 1)
    used = np.flatnonzero(np.bincount(g.types, minlength=len(names))
                          + np.bincount(p.types, minlength=len(names)))
    per_type = {names[i]: dict(zip(ERROR_KINDS, counts[i].tolist())) for i in used}
    return {"per_type": per_type, "errors": _error_list(kinds, gk, pk, names, g, p, corpus)}


def _choose_pairs(gold_order: list[int], pred_order: list[int]) -> list[int]:
    """Indices of the candidate pairs (given best first) kept by greedy one-to-one pairing."""
    taken_g: set[int] = set()
    taken_p: set[int] = set()
    keep = []
    for i, (gk, pk) in enumerate(zip(gold_order, pred_order)):
        if gk not in taken_g and pk not in taken_p:
            taken_g.add(gk)
            taken_p.add(pk)
            keep.append(i)
    return keep


def _pick(values: np.ndarray, index: np.ndarray) -> np.ndarray:
    """values[index] where index >= 0; filler (values[0] or 0) where index is -1."""
    if not values.size:
        return np.zeros(index.size, dtype=values.dtype)
    return values[np.maximum(index, 0)]


def _error_list(kinds: np.ndarray, gk: np.ndarray, pk: np.ndarray, names: list[str],
                g: _Spans, p: _Spans, corpus: _Corpus) -> list[dict]:
    """Error dicts with sentence-local positions, ordered by sentence and position."""
    has_g = gk >= 0
    anchor_start = np.where(has_g, _pick(g.starts, gk), _pick(p.starts, pk))
    anchor_end = np.where(has_g, _pick(g.ends, gk), _pick(p.ends, pk))
    order = np.lexsort((kinds, anchor_end, anchor_start))
    kinds, gk, pk, anchor_start = kinds[order], gk[order], pk[order], anchor_start[order]
    offsets = corpus.offsets
    sentence = np.searchsorted(offsets, anchor_start, side="right") - 1
    base = offsets[sentence] if offsets.size else np.zeros_like(sentence)

    def spans_of(spans: _Spans, index: np.ndarray) -> list:
        rows = zip((index >= 0).tolist(), _pick(spans.types, index).tolist(),
                   (_pick(spans.starts, index) - base).tolist(),
                   (_pick(spans.ends, index) - base).tolist())
        return [[names[t], a, b] if ok else None for ok, t, a, b in rows]

    return [{"sentence": k, "kind": ERROR_KINDS[kind], "gold": gold_span, "pred": pred_span}
            for k, kind, gold_span, pred_span in zip(
                sentence.tolist(), kinds.tolist(), spans_of(g, gk), spans_of(p, pk))]


# ---------------------------------------------------------------------------------------
# Public API: tags and classes


def _display_key(tag: str) -> tuple:
    """Rows grouped by entity type, prefixes in order, 'O' last (B-LOC, I-LOC, B-MISC...)."""
    prefix, type_ = split_tag(tag)
    return (tag == "O", type_, prefix, tag)


def _encode_labels(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] | None
                   ) -> tuple[list[str], np.ndarray, np.ndarray, float]:
    """Label names, gold/pred codes over them (-1 outside `labels`), and accuracy."""
    index = dict.fromkeys(gold)
    index.update(dict.fromkeys(pred))
    vocab = list(index)
    index = {label: i for i, label in enumerate(vocab)}
    g = np.fromiter(map(index.__getitem__, gold), dtype=np.int64, count=len(gold))
    p = np.fromiter(map(index.__getitem__, pred), dtype=np.int64, count=len(pred))
    accuracy = float(np.mean(g == p)) if g.size else 0.0
    names = sorted(vocab) if labels is None else list(labels)
    position = {name: i for i, name in enumerate(names)}
    lut = np.array([position.get(label, -1) for label in vocab], dtype=np.int64)
    return names, lut[g], lut[p], accuracy


def _counts(g: np.ndarray, p: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-label tp, predicted and true counts of single-label codes (-1 = ignored)."""
    tp = np.bincount(g[(g == p) & (g >= 0)], minlength=n)
    return tp, np.bincount(p[p >= 0], minlength=n), np.bincount(g[g >= 0], minlength=n)


def _check_same_length(gold: Sequence, pred: Sequence) -> None:
    """DataError when gold and predictions have different numbers of items."""
    if len(gold) != len(pred):
        raise DataError(f"gold has {len(gold)} items but predictions have {len(pred)}",
                        source="predictions", expected=f"{len(gold)} items",
                        found=str(len(pred)))


def classification_report(gold: Sequence[str], pred: Sequence[str],
                          labels: Sequence[str] | None = None) -> dict:
    """Per-class P/R/F1/support, micro/macro/weighted averages and accuracy (as sklearn).

    labels: classes to report, in this order (default: sorted classes seen); averages
    cover only these, accuracy covers every item.
    """
    _check_same_length(gold, pred)
    names, g, p, accuracy = _encode_labels(list(gold), list(pred), labels)
    tp, predicted, true = _counts(g, p, len(names))
    report = _report(names, tp, predicted, true, flavour="sklearn")
    report["accuracy"] = accuracy
    return report


def confusion(gold: Sequence[str], pred: Sequence[str], labels: Sequence[str] | None = None
              ) -> tuple[list[str], np.ndarray]:
    """Labels and the (gold × pred) count matrix, as sklearn.metrics.confusion_matrix."""
    _check_same_length(gold, pred)
    names, g, p, _ = _encode_labels(list(gold), list(pred), labels)
    n = len(names)
    both = (g >= 0) & (p >= 0)                       # sklearn drops items outside labels
    matrix = np.bincount(g[both] * n + p[both], minlength=n * n).reshape(n, n)
    return names, matrix.astype(np.int64)


def _flatten_checked(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]
                     ) -> tuple[list[str], list[str]]:
    """Flattened tags after checking sentence counts and lengths."""
    _check_lengths(gold, pred)
    return list(chain.from_iterable(gold)), list(chain.from_iterable(pred))


def token_report(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> dict:
    """Per-tag ('O' included) P/R/F1/support over tokens, micro/macro/weighted, accuracy.

    Equal to sklearn.metrics.classification_report on the flattened tags; rows are ordered
    by entity type then prefix, 'O' last (the classic CoNLL table).
    """
    flat_gold, flat_pred = _flatten_checked(gold, pred)
    report = classification_report(flat_gold, flat_pred)
    report["per_type"] = dict(sorted(report["per_type"].items(),
                                     key=lambda kv: _display_key(kv[0])))
    return report


def tag_confusion(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]],
                  labels: Sequence[str] | None = None) -> tuple[list[str], np.ndarray]:
    """Tag labels and the token-level (gold rows × pred columns) confusion matrix: square,
    rows and columns the same labels. `labels` (e.g. the model's) come first in their order;
    a gold or predicted tag outside them is appended (display order), never dropped, so every
    token is counted once (a dev or test tag the training data lacked has a row)."""
    flat_gold, flat_pred = _flatten_checked(gold, pred)
    if labels is not None:
        known = set(labels)
        extra = sorted({t for t in chain(flat_gold, flat_pred) if t not in known}, key=_display_key)
        labels = list(labels) + extra
    return confusion(flat_gold, flat_pred, labels)


def _indicator(items: Sequence[Sequence[str]], position: dict[str, int]) -> np.ndarray:
    """(n_items, n_labels) bool matrix; labels outside `position` are ignored."""
    sizes = np.fromiter(map(len, items), dtype=np.int64, count=len(items))
    rows = np.repeat(np.arange(len(items)), sizes)
    cols = np.fromiter(map(position.get, chain.from_iterable(items), repeat(-1)),
                       dtype=np.int64, count=int(sizes.sum()))
    out = np.zeros((len(items), len(position)), dtype=bool)
    keep = cols >= 0
    out[rows[keep], cols[keep]] = True
    return out


def multilabel_report(gold: Sequence[Sequence[str]], pred: Sequence[Sequence[str]],
                      labels: Sequence[str] | None = None) -> dict:
    """Multi-label P/R/F1/support per label and averaged, subset accuracy, Hamming loss.

    Equal to sklearn on MultiLabelBinarizer(classes=labels) indicators, zero_division=0;
    averages are micro, macro, weighted and samples; labels default to the sorted union.
    """
    _check_same_length(gold, pred)
    names = (sorted(set(chain.from_iterable(gold)) | set(chain.from_iterable(pred)))
             if labels is None else list(labels))
    position = {name: i for i, name in enumerate(names)}
    yg, yp = _indicator(gold, position), _indicator(pred, position)   # (n, L)
    tp = (yg & yp).sum(axis=0)
    report = _report(names, tp, yp.sum(axis=0), yg.sum(axis=0), flavour="sklearn")
    # samples average: the scores of each item's label set, averaged over items
    sp, sr, sf = _scores_sklearn((yg & yp).sum(axis=1), yp.sum(axis=1), yg.sum(axis=1))
    report["samples"] = _row(_mean(sp), _mean(sr), _mean(sf), report["micro"]["support"])
    report["subset_accuracy"] = _mean(np.all(yg == yp, axis=1))
    report["hamming_loss"] = _mean(yg != yp)
    return report


def _mean(values: np.ndarray) -> float:
    """Mean of all entries, 0.0 for none."""
    return float(np.mean(values)) if values.size else 0.0


# ---------------------------------------------------------------------------------------
# Text table


def format_table(report: dict, digits: int = 3, title_width: int | None = None) -> str:
    """The classic text table: precision recall f1-score support, one row per type, then
    the micro/macro/weighted (and samples) averages; rows in the report's order."""
    rows = [(name, row) for name, row in report["per_type"].items()]
    rows += [(f"{avg} avg", report[avg]) for avg in _AVERAGES if avg in report]
    width = title_width if title_width is not None else max(
        [len(str(name)) for name, _ in rows] + [len("weighted avg"), digits])
    lines = [f"{'':>{width}s} " + "".join(f" {h:>9}" for h in _HEADERS)]
    for name, row in rows:
        lines.append(f"{str(name):>{width}s} "
                     + "".join(f" {row[k]:>9.{digits}f}" for k in ("precision", "recall", "f1"))
                     + f" {row['support']:>9}")
    return "\n".join(lines)
