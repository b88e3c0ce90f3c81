"""Seeded train/dev/test splits: by document or sentence for NER, stratified for classification.

Both splitters return {"train": [...], "dev": [...], "test": [...]}: all three keys always,
a fraction of 0 giving an empty list. Each example lands in exactly one split, as the same
object (doc and line untouched), and within a split examples keep their input order, so the
result depends only on the examples, the fractions and the seed.

Identical examples always land in the same split, so a repeated sentence or text cannot be
trained on and then scored as unseen. "Identical" is `duplicate_key`: the same tokens for
NER (exactly, as the diagnostics' duplicate-across-splits check compares them); the same
normalised text (NFKC, case-folded, whitespace collapsed; and the same text_pair) for
classification, whatever the labels, so repeats that disagree on labels stay together too.
Each group of identical examples is placed as one unit, so split sizes can miss their share
by up to about twice the largest group (exact floor/ceiling sizes hold for data without
repeats, where the result is what it was before grouping existed). By document, documents
that share a sentence are joined and packed as one unit (see split_ner).
"""
from __future__ import annotations

import math
import numbers
import re
import unicodedata
from typing import Hashable, Sequence

import numpy as np

from core.errors import ConfigError
from core.records import TextExample, TokenExample

SPLIT_NAMES = ("train", "dev", "test")
BY = ("auto", "document", "sentence")
_TRIES = 32  # random document orders tried when packing documents into splits


def check_fractions(fractions: Sequence[float]) -> np.ndarray:
    """The fractions as a float array summing to exactly 1; ConfigError unless 3 finite
    values >= 0 summing to 1 within 1e-6."""
    values = list(fractions)
    if len(values) != len(SPLIT_NAMES):
        raise ConfigError(f"fractions: expected {len(SPLIT_NAMES)} values for "
                          f"{'/'.join(SPLIT_NAMES)}, found {len(values)} ({values})")
    for name, value in zip(SPLIT_NAMES, values):
        if (isinstance(value, bool) or not isinstance(value, numbers.Real)
                or not math.isfinite(value) or value < 0):
            raise ConfigError(f"fractions: the {name} fraction must be a number >= 0, "
                              f"found {value!r}")
    if abs(sum(values) - 1.0) > 1e-6:
        raise ConfigError(f"fractions: {'/'.join(SPLIT_NAMES)} must sum to 1, found "
                          f"{values} summing to {sum(values):.6g}")
    array = np.asarray(values, dtype=float)
    return array / array.sum()  # rescale the 1e-6 slack away, so counts sum to n


# ---------------------------------------------------------------------------- duplicates

_SPACE = re.compile(r"\s+")


def _normalise(text: str | None) -> str | None:
    return None if text is None else _SPACE.sub(" ", unicodedata.normalize(
        "NFKC", text).casefold()).strip()


def duplicate_key(example: TokenExample | TextExample) -> Hashable | None:
    """What makes two examples the same for splitting: a TokenExample's tokens; a
    TextExample's text (and text_pair) after NFKC, case folding and collapsing whitespace.
    None for an example with no tokens or no text, which is never grouped."""
    if isinstance(example, TokenExample):
        return ("tokens", example.tokens) if example.tokens else None
    text = _normalise(example.text)
    return ("text", text, _normalise(example.text_pair)) if text else None


def duplicate_groups(examples: Sequence) -> list[list[int]]:
    """Example ids grouped by duplicate_key, each group ascending and the groups in order
    of their first member; an example without a key is a group of its own."""
    first: dict[Hashable, int] = {}
    groups: list[list[int]] = []
    for i, example in enumerate(examples):
        key = duplicate_key(example)
        if key is None:
            groups.append([i])
            continue
        k = first.setdefault(key, len(groups))
        if k == len(groups):
            groups.append([])
        groups[k].append(i)
    return groups


def _group_strata(strata: Sequence[Sequence[int]], groups: Sequence[Sequence[int]]
                  ) -> list[list[list[int]]]:
    """Each stratum as a list of whole groups: a group joins the stratum of its first
    member (in input order), so repeats with other labels follow the first; groups in each
    stratum ordered by where their first member stood in it."""
    where = {}
    for s, stratum in enumerate(strata):
        for rank, i in enumerate(stratum):
            where[i] = (s, rank)
    out: list[list[tuple[int, list[int]]]] = [[] for _ in strata]
    for group in groups:
        s, rank = where[group[0]]
        out[s].append((rank, list(group)))
    return [[g for _, g in sorted(stratum)] for stratum in out]


def _joined_documents(of_doc: np.ndarray, groups: Sequence[Sequence[int]],
                      n_docs: int) -> np.ndarray:
    """Unit index per document: documents that share a duplicate group are one unit
    (connected components); units numbered in order of their first document."""
    parent = list(range(n_docs))

    def root(d: int) -> int:
        while parent[d] != d:
            parent[d] = parent[parent[d]]
            d = parent[d]
        return d

    for group in groups:
        docs = {int(of_doc[i]) for i in group}
        if len(docs) > 1:
            low = min(root(d) for d in docs)
            for d in docs:
                parent[root(d)] = low
    roots = [root(d) for d in range(n_docs)]
    number = {r: k for k, r in enumerate(dict.fromkeys(roots))}
    return np.array([number[r] for r in roots], dtype=np.int64)


# ---------------------------------------------------------------------------- allocation

def _allocate(n: int, fractions: np.ndarray, error: np.ndarray) -> np.ndarray:
    """Split `n` items into per-split counts, each the floor or ceiling of n * fraction.

    error: running (count - ideal) per split over earlier strata, updated in place; the
    leftover items go to the splits furthest behind, so totals stay close across strata.
    """
    ideal = n * fractions
    counts = np.floor(ideal).astype(np.int64)
    leftover = n - int(counts.sum())
    if leftover:
        behind = error + counts - ideal
        # only splits with a fractional part can take one more and stay a ceiling; stable
        # order so ties go to the earlier split
        candidates = [k for k in np.argsort(behind, kind="stable") if ideal[k] > counts[k]]
        counts[candidates[:leftover]] += 1
    error += counts - ideal
    return counts


def _place_groups(groups: Sequence[Sequence[int]], counts: np.ndarray,
                  assignment: np.ndarray) -> np.ndarray:
    """Assign `groups` (in their seeded order) to splits, in place, near `counts` items per
    split; returns the items each split got.

    Repeated examples (groups of two or more) go first, each to the split furthest below
    its count (ties: the earlier split); then the single examples fill what each split
    still lacks, in order: train's share first, then dev's, then test's. Without repeats
    that is exactly the old contiguous fill, so such data splits as it always did.
    """
    got = np.zeros(len(counts), dtype=np.int64)
    open_ = [k for k in range(len(counts)) if counts[k] > 0]
    for group in groups:
        if len(group) > 1:
            k = max(open_, key=lambda j: counts[j] - got[j])
            assignment[np.asarray(group, dtype=np.int64)] = k
            got[k] += len(group)
    singles = np.asarray([g[0] for g in groups if len(g) == 1], dtype=np.int64)
    wanted = np.maximum(counts - got, 0)
    if wanted.sum() > len(singles):  # a group overshot: share out the singles there are
        wanted = (_allocate(len(singles), wanted / wanted.sum(), np.zeros(len(counts)))
                  if len(singles) else np.zeros_like(wanted))
    assignment[singles] = np.repeat(np.arange(len(counts)), wanted)
    return got + wanted


def _stratified(strata: Sequence[Sequence[Sequence[int]]], fractions: np.ndarray,
                rng: np.random.Generator, small_to: int, minimum: int) -> np.ndarray:
    """Split index of each item: every stratum (a list of groups of item ids, each group
    kept in one split) split proportionally.

    A stratum with fewer than `minimum` items goes entirely to split `small_to`.
    """
    n = sum(len(group) for stratum in strata for group in stratum)
    assignment = np.full(n, -1, dtype=np.int64)
    error = np.zeros(len(fractions))
    for s in rng.permutation(len(strata)):  # seeded order: which strata get the leftovers
        groups = strata[s]
        size = sum(len(group) for group in groups)
        if not size:  # every member joined a repeat whose first copy is in another stratum
            continue
        if size < minimum:  # too small to spread; still counts towards the totals
            assignment[[i for group in groups for i in group]] = small_to
            error += np.eye(len(fractions))[small_to] * size - size * fractions
            continue
        counts = _allocate(size, fractions, error)
        order = rng.permutation(len(groups))  # as the old rng.permutation(members)
        got = _place_groups([groups[k] for k in order], counts, assignment)
        error += got - counts  # what a group's overshoot took, later strata give back
    return assignment


def _pack(weights: np.ndarray, order: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Split of each unit when units, in `order`, each go to the split with the largest deficit."""
    goal = targets.tolist()
    assigned = [0.0] * len(goal)
    open_ = [k for k, target in enumerate(goal) if target > 0]
    out = np.empty(len(weights), dtype=np.int64)
    for unit in order.tolist():  # plain floats: this runs once per document per try
        k = max(open_, key=lambda j: goal[j] - assigned[j])  # ties: the earlier split
        out[unit] = k
        assigned[k] += weights[unit]
    return out


def _fill_empty(assignment: np.ndarray, weights: np.ndarray, targets: np.ndarray) -> None:
    """Move documents, in place, into splits with a target but none yet, each time the one
    (from a split keeping at least one) whose move adds least to the total error."""
    while True:
        sizes = np.bincount(assignment, weights=weights, minlength=len(targets))
        empty = np.flatnonzero((targets > 0) & (sizes == 0))
        if not len(empty):
            return
        k = int(empty[0])
        docs_in = np.bincount(assignment, minlength=len(targets))
        movable = np.flatnonzero(docs_in[assignment] >= 2)
        w, src = weights[movable], assignment[movable]
        change = (np.abs(sizes[src] - w - targets[src]) - np.abs(sizes[src] - targets[src])
                  + np.abs(w - targets[k]) - targets[k])
        assignment[movable[int(np.argmin(change))]] = k


def _pack_documents(weights: np.ndarray, fractions: np.ndarray,
                    rng: np.random.Generator) -> np.ndarray:
    """Split of each document (weights = its sentences) so sentence shares near the fractions.

    Tries seeded random orders and, last, largest-first, each followed by _fill_empty; takes
    the first within max(1, 0.5% of sentences) of the smallest total error, so the seed still
    matters when several packings fit equally well. Needs at least as many documents as
    non-zero fractions.
    """
    total = float(weights.sum())
    targets = fractions * total
    orders = [rng.permutation(len(weights)) for _ in range(_TRIES)]
    first = orders[0]
    orders.append(first[np.argsort(-weights[first], kind="stable")])  # largest first
    candidates = []
    for order in orders:
        assignment = _pack(weights, order, targets)
        _fill_empty(assignment, weights, targets)
        sizes = np.bincount(assignment, weights=weights, minlength=len(fractions))
        candidates.append((float(np.abs(sizes - targets).sum()), assignment))
    best = min(err for err, _ in candidates)
    slack = max(1.0, 0.005 * total)
    return next(a for err, a in candidates if err <= best + slack)


def _check_nonempty(assignment: np.ndarray, fractions: np.ndarray, what: str,
                    hint: str = "raise it, set it to 0, or add data") -> None:
    """ConfigError naming the first split with a non-zero fraction that received nothing."""
    sizes = np.bincount(assignment, minlength=len(fractions))
    for k, name in enumerate(SPLIT_NAMES):
        if fractions[k] > 0 and sizes[k] == 0:
            raise ConfigError(
                f"fractions: {len(assignment)} {what} are too few for a {name} fraction of "
                f"{fractions[k]:g} ({name} would be empty); {hint}")


def _too_few(units: int, fractions: np.ndarray, what: str, counted: str | None = None) -> None:
    """ConfigError when there are fewer units than splits with a non-zero fraction;
    `counted` says how many there are (default: '<units> <what>')."""
    needed = int(np.sum(fractions > 0))
    if units < needed:
        raise ConfigError(f"fractions: {counted or f'{units} {what}'} cannot fill {needed} "
                          "non-empty splits; add data or set some fractions to 0")


def _counted(n: int, groups: Sequence, what: str, distinct: str = "distinct") -> str:
    """'40 sentences', or '40 sentences (31 distinct)' when some repeat."""
    return f"{what}" if len(groups) == n else f"{what} ({len(groups)} {distinct})"


def _collect(examples: Sequence, assignment: np.ndarray) -> dict[str, list]:
    """{name: examples assigned to it, in input order}."""
    out: dict[str, list] = {name: [] for name in SPLIT_NAMES}
    for example, k in zip(examples, assignment):
        out[SPLIT_NAMES[k]].append(example)
    return out


# ---------------------------------------------------------------------------- public

def split_ner(examples: Sequence[TokenExample], *,
              fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int,
              by: str = "auto") -> dict[str, list[TokenExample]]:
    """Seeded train/dev/test split of sentences.

    by: "document" keeps each document (TokenExample.doc) whole, packing documents so that
    sentence shares approximate the fractions and every non-zero split gets a document;
    "sentence" splits sentences freely, each split getting the floor or ceiling of
    n * fraction (ConfigError if that leaves a non-zero split empty); "auto" (default) is
    "document" when more than one distinct doc value is present, else "sentence".

    Repeated sentences (the same tokens) always share a split. By sentence, each set of
    copies is placed as one unit. By document, documents that share a sentence are joined
    into one unit (transitively: A shares with B, B with C, so A, B and C go together) and
    units are packed as documents are, so documents stay whole and no sentence leaks. When
    joining leaves fewer units than non-empty splits (boilerplate lines repeated across
    every document can join them all), "auto" splits by sentence instead, copies still
    together, and "document" raises a ConfigError saying so.
    """
    fracs = check_fractions(fractions)
    if by not in BY:
        raise ConfigError(f"by: expected one of {', '.join(BY)}, found {by!r}")
    rng = np.random.default_rng(seed)
    docs = sorted({ex.doc for ex in examples})
    groups = duplicate_groups(examples)
    by_document = by == "document" or (by == "auto" and len(docs) > 1)
    if by_document:
        index = {doc: i for i, doc in enumerate(docs)}
        of_doc = np.array([index[ex.doc] for ex in examples], dtype=np.int64)
        unit_of_doc = _joined_documents(of_doc, groups, len(docs))
        units = int(unit_of_doc.max()) + 1 if len(docs) else 0
        if by == "auto" and units < int(np.sum(fracs > 0)) <= len(docs):
            by_document = False  # joining, not the data, left too few units
    if by_document:
        joined = None if units == len(docs) else (
            f"{units} documents ({len(docs)} before joining those that share a sentence; "
            "split by sentence instead)")
        _too_few(units, fracs, "documents", joined)
        of_unit = unit_of_doc[of_doc]
        weights = np.bincount(of_unit, minlength=units).astype(float)
        assignment = _pack_documents(weights, fracs, rng)[of_unit]
    else:
        what = _counted(len(examples), groups, "sentences")
        _too_few(len(groups), fracs, what, f"{len(examples)} {what}")
        assignment = _stratified([groups], fracs, rng, 0, 0)
        _check_nonempty(assignment, fracs, what)
    return _collect(examples, assignment)


def strata_of(examples: Sequence[TextExample], minimum: int) -> list[list[int]]:
    """Example ids grouped for stratification.

    Single-label data: one stratum per label. Multi-label data (any example without exactly
    one label): one stratum per label set; sets with fewer than `minimum` examples are pooled
    into one stratum, so rare combinations are still spread over the splits.
    """
    groups: dict[tuple[str, ...], list[int]] = {}
    multi = any(len(ex.labels) != 1 for ex in examples)
    for i, ex in enumerate(examples):
        key = tuple(sorted(set(ex.labels))) if multi else ex.labels
        groups.setdefault(key, []).append(i)
    ordered = [groups[key] for key in sorted(groups)]
    if not multi:
        return ordered
    common = [g for g in ordered if len(g) >= minimum]
    rare = sorted(i for g in ordered if len(g) < minimum for i in g)
    return common + ([rare] if rare else [])


def split_classification(examples: Sequence[TextExample], *,
                         fractions: Sequence[float] = (0.8, 0.1, 0.1), seed: int,
                         stratify: bool = True) -> dict[str, list[TextExample]]:
    """Seeded train/dev/test split of texts, stratified by label unless stratify=False.

    Each stratum (see strata_of) is split so that each split gets the floor or ceiling of
    its share; a stratum with fewer members than there are non-zero fractions goes wholly to
    the split with the largest fraction (train, usually), so no class exists only in dev/test.

    Repeated texts (duplicate_key) always share a split, placed as one unit within the
    stratum of their first copy, whatever labels the later copies carry.
    """
    fracs = check_fractions(fractions)
    groups = duplicate_groups(examples)
    what = _counted(len(examples), groups, "examples", "distinct texts")
    _too_few(len(groups), fracs, what, f"{len(examples)} {what}")
    minimum = int(np.sum(fracs > 0))
    strata = strata_of(examples, minimum) if stratify else [list(range(len(examples)))]
    rng = np.random.default_rng(seed)
    assignment = _stratified(_group_strata(strata, groups), fracs, rng, int(np.argmax(fracs)),
                             minimum)
    hint = "raise it, set it to 0, or add data"
    if stratify:
        hint = f"classes too small to spread stay in train; use stratify=False, or {hint}"
    _check_nonempty(assignment, fracs, what, hint)
    return _collect(examples, assignment)
