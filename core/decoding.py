"""Constrained (valid-transition) Viterbi decoding of NER tag sequences.

Argmax decoding of per-token log-probabilities can produce sequences the training scheme
forbids (``I-PER`` after ``O`` in IOB2). Here the best sequence is searched among the valid
ones only.

Validity (``core.schemes.is_valid``) is first-order Markov in every scheme: each rule of
``core.schemes._check_tag`` looks at one tag and at most one neighbour, so a sequence is
valid exactly when every label is allowed, its first label may start a sentence, its last
may end one, and every adjacent pair is an allowed transition. The rules, for a tag X-t:

* a label must have a prefix of the scheme's alphabet (PLAIN: no prefix at all); others
  are never allowed anywhere;
* "needs a previous" rules (IOB1 B-; IOB2 I-; IOBES I-, E-; BILOU I-, L-): the previous tag
  must have type t and a prefix from a given set, so such a tag cannot start a sentence;
* "needs a next" rules (IOE1 E-; IOE2 I-; IOBES B-, I-; BILOU B-, I-): the same for the
  next tag, so such a tag cannot end a sentence.

IOB1's B- (only right after a same-type entity) and IOE1's E- (only right before one) are
such neighbour rules too, so no scheme needs more than the pairwise transition table; the
tests check the table against ``is_valid`` exhaustively on short sequences.

``viterbi`` then maximises the summed log-probabilities over allowed paths in log space:
forbidden starts/transitions/ends add ``-inf``, back-pointers are argmaxes. It is batched:
rows are sorted by length once so that step t works on a contiguous prefix of the rows
still running (no work is spent on padding), and it loops in Python over time steps only.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from core.errors import ConfigError
from core.schemes import _ALPHABET, check_scheme
from core.spans import split_tag

# prefix -> prefixes the previous tag (of the same type) may have; absent: no rule.
_NEEDS_PREV = {"IOB1": {"B": "BI"}, "IOB2": {"I": "BI"}, "IOE1": {}, "IOE2": {},
               "IOBES": {"I": "BI", "E": "BI"}, "BILOU": {"I": "BI", "L": "BI"}, "PLAIN": {}}
# prefix -> prefixes the next tag (of the same type) may have; absent: no rule.
_NEEDS_NEXT = {"IOB1": {}, "IOB2": {}, "IOE1": {"E": "IE"}, "IOE2": {"I": "IE"},
               "IOBES": {"B": "IE", "I": "IE"}, "BILOU": {"B": "IL", "I": "IL"}, "PLAIN": {}}
# Stand-in for -inf log-probabilities so that a row with a -inf token still gets a valid
# path (forbidden transitions stay -inf and always lose to it).
_FLOOR = -1e30
_BATCH = 1024  # sentences per batch in decode_tags


def _parse_label(label: object) -> tuple[str, str]:
    """(prefix, type) as core.schemes reads it: ('B','PER'), ('','PER') plain, ('O','')."""
    if not isinstance(label, str) or not label:
        raise ConfigError(f"label {label!r} is malformed: labels are non-empty strings")
    prefix, type_ = split_tag(label)
    if prefix == "O":
        return "O", ""
    if type_ == label:  # no prefix: a plain label
        return "", type_
    if not type_:
        raise ConfigError(f"label {label!r} is malformed: it has a prefix but no entity type")
    return prefix, type_


def allowed_transitions(labels: Sequence[str],
                        scheme: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(start (C,), trans (C, C), end (C,)) bool masks of what `scheme` allows.

    start[j]: label j may open a sentence; trans[i, j]: label j may follow label i;
    end[i]: label i may close a sentence. A label whose prefix is not in the scheme's
    alphabet (or that lacks one, or has one in PLAIN) is never allowed. A path is allowed
    by the masks exactly when core.schemes.is_valid accepts its tags. Raises ConfigError
    for an unknown scheme, no labels, a duplicate or a malformed label ('', 'B-'), and
    when no label at all belongs to the scheme (a label list / scheme mismatch).
    """
    check_scheme(scheme)
    labels = list(labels)
    if not labels:
        raise ConfigError("no labels to decode over")
    parsed = [_parse_label(label) for label in labels]
    if len(set(labels)) != len(labels):
        dup = next(x for k, x in enumerate(labels) if x in labels[:k])
        raise ConfigError(f"label {dup!r} appears more than once in the label list")
    alphabet = _ALPHABET[scheme]
    needs_prev, needs_next = _NEEDS_PREV[scheme], _NEEDS_NEXT[scheme]
    ok = np.array([p == "O" or (p == "" if scheme == "PLAIN" else bool(p) and p in alphabet)
                   for p, _ in parsed], dtype=bool)
    start = ok & np.array([p not in needs_prev for p, _ in parsed], dtype=bool)
    end = ok & np.array([p not in needs_next for p, _ in parsed], dtype=bool)
    if not ok.any():
        raise ConfigError(f"none of the labels {labels!r} belongs to the {scheme} scheme")
    n = len(labels)
    trans = np.zeros((n, n), dtype=bool)
    for i, (pi, ti) in enumerate(parsed):
        for j, (pj, tj) in enumerate(parsed):
            same = ti == tj and pi != "O"
            trans[i, j] = (ok[i] and ok[j]
                           and (pj not in needs_prev or (same and pi in needs_prev[pj]))
                           and (pi not in needs_next or (same and pj in needs_next[pi])))
    return start, trans, end


def _mask(mask: np.ndarray, shape: tuple[int, ...], name: str) -> np.ndarray:
    """0 where `mask` allows, -inf where it forbids; ValueError on a wrong shape/dtype."""
    mask = np.asarray(mask)
    if mask.shape != shape or mask.dtype != bool:
        raise ValueError(f"{name} must be a bool array of shape {shape}, "
                         f"got {mask.dtype} {mask.shape}")
    return np.where(mask, 0.0, -np.inf)


def _feasible_lengths(start: np.ndarray, trans: np.ndarray, end: np.ndarray,
                      max_len: int) -> np.ndarray:
    """(max_len + 1,) bool: whether any allowed path of each length exists (0 always does)."""
    out = np.zeros(max_len + 1, dtype=bool)
    out[0] = True
    reach = start.copy()
    t_int = trans.astype(np.int64)
    for n in range(1, max_len + 1):
        out[n] = bool((reach & end).any())
        reach = (reach.astype(np.int64) @ t_int) > 0
    return out


def viterbi(log_probs: np.ndarray, lengths: Sequence[int] | np.ndarray, start: np.ndarray,
            trans: np.ndarray, end: np.ndarray) -> np.ndarray:
    """Best allowed label path of each row of a (B, T, C) log-probability batch.

    lengths: (B,) valid positions per row, 0..T; later positions are padding, ignored, and
    -1 in the output. start/trans/end: bool masks as from allowed_transitions. Returns
    (B, T) int64 label indices maximising the summed log-probabilities among allowed paths.
    Ties go to the lowest label index (numpy's first argmax), for every back-pointer and
    for the last label. -inf log-probabilities count as a huge finite penalty (a valid path
    is still returned); NaN or +inf raise ValueError. A row whose length no allowed path
    has (possible only without "O" among the labels) falls back to the per-token argmax.
    """
    lp = np.asarray(log_probs)
    if lp.ndim != 3 or not np.issubdtype(lp.dtype, np.floating):
        raise ValueError(f"log_probs must be a float array of shape (B, T, C), "
                         f"got {lp.dtype} {lp.shape}")
    b, t_max, c = lp.shape
    if c == 0:
        raise ValueError("log_probs has no labels (C = 0)")
    lens = np.asarray(lengths)
    if lens.shape != (b,) or (b and not np.issubdtype(lens.dtype, np.integer)):
        raise ValueError(f"lengths must be {b} integers, got {lens.dtype} {lens.shape}")
    lens = lens.astype(np.int64)
    if b and (lens.min() < 0 or lens.max() > t_max):
        raise ValueError(f"lengths must lie in 0..{t_max}")
    inside = np.arange(t_max) < lens[:, None]
    if (~(lp < np.inf) & inside[:, :, None]).any():  # padding may hold anything
        raise ValueError("log_probs contains NaN or +inf")
    start_pen = _mask(start, (c,), "start")
    trans_pen = _mask(trans, (c, c), "trans")
    end_pen = _mask(end, (c,), "end")
    out = np.full((b, t_max), -1, dtype=np.int64)
    if b == 0 or t_max == 0:
        return out
    # Rows sorted by length, longest first: at step t the running rows are a prefix.
    order = np.argsort(-lens, kind="stable")
    lens_s = lens[order]
    x = np.maximum(lp[order], _FLOOR).astype(np.float64, copy=False)
    running = np.searchsorted(-lens_s, -np.arange(t_max), side="left")  # rows with len > t
    n0 = int(running[0])
    trans_t = np.ascontiguousarray(trans_pen.T)  # (cur, prev): argmax over the last axis
    backs: list[np.ndarray] = [np.zeros((n0, c), dtype=np.intp)]  # backs[t]: (rows, cur)
    score = x[:n0, 0] + start_pen
    best_last = np.zeros(n0, dtype=np.intp)
    for t in range(1, t_max + 1):
        n = int(running[t]) if t < t_max else 0
        done = slice(n, int(running[t - 1]))  # rows whose last position is t - 1
        best_last[done] = np.argmax(score[done] + end_pen, axis=1)
        if n == 0:
            break
        cand = score[:n, None, :] + trans_t  # (rows, cur, prev)
        back = np.argmax(cand, axis=2)
        backs.append(back)
        score = np.take_along_axis(cand, back[:, :, None], axis=2)[:, :, 0] + x[:n, t]
    rows = np.arange(n0)
    cur = best_last
    path = np.full((n0, t_max), -1, dtype=np.int64)
    for t in range(len(backs) - 1, -1, -1):
        if t + 1 < len(backs):
            m = int(running[t + 1])  # rows that go on past t step back from t + 1
            cur[:m] = backs[t + 1][rows[:m], cur[:m]]
        path[:int(running[t]), t] = cur[:int(running[t])]
    out[order[:n0]] = path
    feasible = _feasible_lengths(np.asarray(start), np.asarray(trans), np.asarray(end),
                                 t_max)[lens]
    for r in np.flatnonzero(~feasible):
        out[r, :lens[r]] = np.argmax(lp[r, :lens[r]], axis=1)
    return out


def decode_tags(log_probs_per_sentence: Sequence[np.ndarray], labels: Sequence[str],
                scheme: str) -> list[list[str]]:
    """Best valid tag sequence in `scheme` of each (T_i, C) log-probability array.

    Sentences are sorted by length and decoded in batches of similar length; the result
    is in input order. Same ties and fallback as viterbi.
    """
    labels = list(labels)
    start, trans, end = allowed_transitions(labels, scheme)
    arrays = [np.asarray(a) for a in log_probs_per_sentence]
    for k, a in enumerate(arrays):
        if a.ndim != 2 or a.shape[1] != len(labels):
            raise ValueError(f"sentence {k}: log-probabilities must have shape "
                             f"(T, {len(labels)}), got {a.shape}")
    lens = np.array([a.shape[0] for a in arrays], dtype=np.int64)
    order = np.argsort(lens, kind="stable")
    names = np.array(labels, dtype=object)
    result: list[list[str]] = [[] for _ in arrays]
    for lo in range(0, len(arrays), _BATCH):
        idx = order[lo:lo + _BATCH]
        width = int(lens[idx].max())
        dtype = np.result_type(*(arrays[k].dtype for k in idx), np.float32)
        batch = np.zeros((len(idx), width, len(labels)), dtype=dtype)
        for row, k in enumerate(idx):
            batch[row, :lens[k]] = arrays[k]
        paths = viterbi(batch, lens[idx], start, trans, end)
        for row, k in enumerate(idx):
            result[k] = names[paths[row, :lens[k]]].tolist()
    return result
