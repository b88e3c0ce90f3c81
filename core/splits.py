"""Seeded train/dev/test splits: by document or sentence for NER, stratified for classification.

Both splitters return {"train": [...], "dev": [...], "test": [...]}: all three keys always,
a fraction of 0 giving an empty list. Each example lands in exactly one split, as the same
object (doc and line untouched), and within a split examples keep their input order, so the
result depends only on the examples, the fractions and the seed.
"""
from __future__ import annotations

import math
import numbers
from typing import Sequence

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


def _stratified(strata: Sequence[Sequence[int]], fractions: np.ndarray,
                rng: np.random.Generator, small_to: int, minimum: int) -> np.ndarray:
    """Split index of each item: every stratum (list of item ids) split proportionally.

    A stratum with fewer than `minimum` items goes entirely to split `small_to`.
    """
    n = sum(len(stratum) for stratum in strata)
    assignment = np.full(n, -1, dtype=np.int64)
    error = np.zeros(len(fractions))
    for s in rng.permutation(len(strata)):  # seeded order: which strata get the leftovers
        members = np.asarray(strata[s], dtype=np.int64)
        if len(members) < minimum:  # too small to spread; still counts towards the totals
            assignment[members] = small_to
            error += np.eye(len(fractions))[small_to] * len(members) - len(members) * fractions
            continue
        counts = _allocate(len(members), fractions, error)
        members = rng.permutation(members)
        assignment[members] = np.repeat(np.arange(len(fractions)), counts)
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


def _too_few(units: int, fractions: np.ndarray, what: str) -> None:
    """ConfigError when there are fewer units than splits with a non-zero fraction."""
    needed = int(np.sum(fractions > 0))
    if units < needed:
        raise ConfigError(f"fractions: {units} {what} cannot fill {needed} non-empty splits; "
                          f"add data or set some fractions to 0")


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
    """
    fracs = check_fractions(fractions)
    if by not in BY:
        raise ConfigError(f"by: expected one of {', '.join(BY)}, found {by!r}")
    rng = np.random.default_rng(seed)
    docs = sorted({ex.doc for ex in examples})
    if by == "document" or (by == "auto" and len(docs) > 1):
        _too_few(len(docs), fracs, "documents")
        index = {doc: i for i, doc in enumerate(docs)}
        of_doc = np.array([index[ex.doc] for ex in examples], dtype=np.int64)
        weights = np.bincount(of_doc, minlength=len(docs)).astype(float)
        assignment = _pack_documents(weights, fracs, rng)[of_doc]
    else:
        _too_few(len(examples), fracs, "sentences")
        assignment = _stratified([range(len(examples))], fracs, rng, 0, 0)
        _check_nonempty(assignment, fracs, "sentences")
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
    """
    fracs = check_fractions(fractions)
    _too_few(len(examples), fracs, "examples")
    minimum = int(np.sum(fracs > 0))
    strata = strata_of(examples, minimum) if stratify else [list(range(len(examples)))]
    rng = np.random.default_rng(seed)
    assignment = _stratified(strata, fracs, rng, int(np.argmax(fracs)), minimum)
    hint = "raise it, set it to 0, or add data"
    if stratify:
        hint = f"classes too small to spread stay in train; use stratify=False, or {hint}"
    _check_nonempty(assignment, fracs, "examples", hint)
    return _collect(examples, assignment)
