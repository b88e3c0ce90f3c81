"""Label-preserving, seeded data augmentation; each new example with a record of what changed.

NER methods follow Dai & Adel, "An Analysis of Simple Data Augmentation for Named Entity
Recognition" (COLING 2020); text classification follows EDA (Wei & Zou, EMNLP 2019).

Conventions shared by every augmenter in AUGMENTERS:
- Same keywords: `seed`, `p`, `n`, `scheme`, `synonyms`, `train`, plus the method's own
  (explicit, so `augment` can reject a mistyped one). A common keyword a method has no use
  for is accepted and ignored, so a caller can pass the same settings to every method.
- `n` copies are drawn per input sentence; a copy in which nothing changed is dropped, so
  every preview row shows a change and p=0 yields no examples at all.
- The result holds the new examples only; `changes[i]` describes `examples[i]`.
- NER output is valid in `scheme` (tags rebuilt with core.spans.from_spans where lengths
  change) and keeps the number of entities of every type.
- All randomness comes from one `np.random.default_rng(seed)` made inside the call.
"""
from __future__ import annotations

import inspect
from collections import Counter, defaultdict
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from core.errors import ConfigError
from core.records import TextExample, TokenExample
from core.registry import Registry
from core.spans import SCHEMES, Span, from_spans, to_spans

AUGMENTERS = Registry("augmenter")

# An item pool to draw from by weight: (items, cumulative weights, item -> index).
_Pool = tuple[list, np.ndarray, dict]
# A normalised synonym table: word -> alternatives, each split into words.
_Synonyms = dict[str, tuple[tuple[str, ...], ...]]
_EDA_OPS = ("synonym_replacement", "random_insertion", "random_swap", "random_deletion")


@dataclass(frozen=True)
class Change:
    """What one new example changed relative to examples[source_index].

    positions: token positions in the NEW example that were written (for a TextExample,
               positions in `text.split()`); `after` holds the new tokens there, in order.
    before: the source tokens that were replaced or removed, in order (its length can
            differ from `after` when a multi-word mention or synonym came in, and `after`
            is empty for a deletion).
    method: the registry name; EDA appends the operation ("eda.v1:random_swap").
    """

    source_index: int
    method: str
    positions: tuple[int, ...]
    before: tuple[str, ...]
    after: tuple[str, ...]


@dataclass(frozen=True)
class AugmentResult:
    """New examples only (originals not included), and changes[i] describing examples[i]."""

    examples: list
    changes: list[Change]


def augment(examples: Sequence, name: str, *, seed: int, **params: Any) -> AugmentResult:
    """Run the augmenter registered as `name`; ConfigError for a parameter it does not take."""
    func = AUGMENTERS.get(name)
    known = [k for k in inspect.signature(func).parameters if k not in ("examples", "seed")]
    for key in params:
        if key not in known:
            raise ConfigError(f"unknown parameter {key!r} for augmenter {name!r}; "
                              f"known: {', '.join(known)}")
    return func(examples, seed=seed, **params)


def augment_many(examples: Sequence, steps: Sequence[Mapping[str, Any]],
                 seed: int) -> AugmentResult:
    """Apply each step ({"name": ..., **params}) to the original examples; concatenate results.

    Each step draws from its own seed spawned from `seed`, so two identical steps differ.
    """
    _check_seed(seed, "augment_many")
    children = np.random.SeedSequence(seed).spawn(len(steps))
    new: list = []
    changes: list[Change] = []
    for k, (step, child) in enumerate(zip(steps, children)):
        if not isinstance(step, Mapping) or "name" not in step:
            raise ConfigError(f"augmentation step {k + 1} needs a 'name' key, got {step!r}")
        if "seed" in step:
            raise ConfigError(f"augmentation step {k + 1} ({step['name']!r}) sets 'seed'; "
                              "give one seed to augment_many instead")
        params = {key: value for key, value in step.items() if key != "name"}
        result = augment(examples, step["name"], seed=int(child.generate_state(1)[0]), **params)
        new.extend(result.examples)
        changes.extend(result.changes)
    return AugmentResult(new, changes)


# ---------------------------------------------------------------------------------------------
# NER augmenters (Dai & Adel 2020)
# ---------------------------------------------------------------------------------------------

@AUGMENTERS.register("token_replacement.v1")
def replace_tokens(examples: Sequence[TokenExample], *, seed: int, p: float = 0.3, n: int = 1,
                   scheme: str = "IOB2", synonyms: Mapping[str, Sequence[str]] | None = None,
                   train: Sequence[TokenExample] | None = None) -> AugmentResult:
    """Replace each token, with probability p, by another training token of the same label.

    A token's label is the type of the entity it is in, or O; the replacement is drawn by its
    frequency under that label in `train` (default: `examples`), never the token itself, and
    the tag is kept, so boundaries and entity counts stay. `synonyms` is ignored.
    """
    name = "token_replacement.v1"
    examples, pool_source = _check_token_call(name, examples, train, seed, p, n, scheme)
    counts: dict[str | None, Counter] = defaultdict(Counter)
    for example in pool_source:
        for token, label in zip(example.tokens, _labels(example.tags)):
            counts[label][token] += 1
    pools = {label: _make_pool(counter, uniform=False) for label, counter in counts.items()}

    def make(index: int, example: TokenExample, rng: np.random.Generator):
        labels = _labels(example.tags)
        tokens = list(example.tokens)
        for j in np.flatnonzero(rng.random(len(tokens)) < p):
            pool = pools.get(labels[j])
            choice = _draw_other(rng, pool, tokens[j]) if pool else None
            if choice is not None:
                tokens[j] = choice
        return _same_length_result(index, example, tokens, name)

    return _generate(examples, n, seed, make)


@AUGMENTERS.register("mention_replacement.v1")
def replace_mentions(examples: Sequence[TokenExample], *, seed: int, p: float = 0.3, n: int = 1,
                     scheme: str = "IOB2", synonyms: Mapping[str, Sequence[str]] | None = None,
                     train: Sequence[TokenExample] | None = None,
                     sampling: str = "frequency") -> AugmentResult:
    """Replace each entity mention, with probability p, by another mention of the same type.

    Mentions come from `train` (default: `examples`); sampling="frequency" draws them by how
    often they occur, "uniform" gives every distinct mention the same chance; never the same
    words. Tags are rebuilt in `scheme` for the new length. `synonyms` is ignored.
    """
    name = "mention_replacement.v1"
    examples, pool_source = _check_token_call(name, examples, train, seed, p, n, scheme)
    if sampling not in ("frequency", "uniform"):
        raise ConfigError(f"{name}: sampling must be 'frequency' or 'uniform', got {sampling!r}")
    counts: dict[str, Counter] = defaultdict(Counter)
    for example in pool_source:
        for type_, start, end in to_spans(example.tags):
            counts[type_][example.tokens[start:end]] += 1
    pools = {type_: _make_pool(counter, uniform=sampling == "uniform")
             for type_, counter in counts.items()}

    def make(index: int, example: TokenExample, rng: np.random.Generator):
        spans = to_spans(example.tags)
        edits = []
        for (type_, start, end), hit in zip(spans, rng.random(len(spans)) < p):
            pool = pools.get(type_)
            choice = _draw_other(rng, pool, example.tokens[start:end]) if hit and pool else None
            if choice is not None:
                edits.append((start, end, choice))
        return _spliced_result(index, example, spans, edits, scheme, name)

    return _generate(examples, n, seed, make)


@AUGMENTERS.register("shuffle_within_segments.v1")
def shuffle_within_segments(examples: Sequence[TokenExample], *, seed: int, p: float = 0.3,
                            n: int = 1, scheme: str = "IOB2",
                            synonyms: Mapping[str, Sequence[str]] | None = None,
                            train: Sequence[TokenExample] | None = None) -> AugmentResult:
    """Shuffle, with probability p per segment, the tokens of each entity and each O run.

    A shuffled segment always comes out in a new order (when it has two different tokens);
    tags are unchanged. `synonyms` and `train` are ignored.
    """
    name = "shuffle_within_segments.v1"
    examples, _ = _check_token_call(name, examples, None, seed, p, n, scheme)

    def make(index: int, example: TokenExample, rng: np.random.Generator):
        tokens = list(example.tokens)
        segments = _segments(example.tags, len(tokens))
        for (start, end), hit in zip(segments, rng.random(len(segments)) < p):
            if hit and len(set(tokens[start:end])) > 1:
                tokens[start:end] = _shuffle_until_new(rng, tokens[start:end])
        return _same_length_result(index, example, tokens, name)

    return _generate(examples, n, seed, make)


@AUGMENTERS.register("synonym_replacement.v1")
def replace_synonyms(examples: Sequence[TokenExample], *, seed: int, p: float = 0.3, n: int = 1,
                     scheme: str = "IOB2", synonyms: Mapping[str, Sequence[str]] | None = None,
                     train: Sequence[TokenExample] | None = None) -> AugmentResult:
    """Replace, with probability p, O tokens and whole one-token mentions by a synonym.

    `synonyms` maps a token (exact, case-sensitive match) to alternatives, which may be
    several words ("New York"). Tokens inside a longer mention are left alone, since a
    synonym for part of a name rarely names the same thing. A multi-word synonym of an O
    token becomes O tokens; one of a mention becomes the whole mention, tagged in `scheme`
    (B-/I-, E-, L- as the scheme wants). `train` is ignored.
    """
    name = "synonym_replacement.v1"
    examples, _ = _check_token_call(name, examples, None, seed, p, n, scheme)
    if not synonyms:
        raise ConfigError(f"{name} needs a synonym table: synonyms={{'word': ['synonym', ...]}}")
    table = _check_synonyms(synonyms, name)

    def make(index: int, example: TokenExample, rng: np.random.Generator):
        spans = to_spans(example.tags)
        # positions a synonym may replace: O tokens and one-token mentions
        inside = {i for _, start, end in spans if end - start > 1 for i in range(start, end)}
        edits = []
        for j in np.flatnonzero(rng.random(len(example.tokens)) < p):
            token = example.tokens[j]
            options = _alternatives(table, token)
            if j not in inside and options:
                edits.append((int(j), int(j) + 1, options[rng.integers(len(options))]))
        return _spliced_result(index, example, spans, edits, scheme, name)

    return _generate(examples, n, seed, make)


# ---------------------------------------------------------------------------------------------
# Classification augmenter (EDA, Wei & Zou 2019)
# ---------------------------------------------------------------------------------------------

@AUGMENTERS.register("eda.v1")
def augment_eda(examples: Sequence[TextExample], *, seed: int, p: float = 0.3, n: int = 1,
                scheme: str = "IOB2", synonyms: Mapping[str, Sequence[str]] | None = None,
                train: Sequence[TextExample] | None = None, alpha_sr: float = 0.1,
                alpha_ri: float = 0.1, alpha_rs: float = 0.1,
                alpha_rd: float = 0.1) -> AugmentResult:
    """EDA on whitespace-split texts: each copy applies one operation, labels unchanged.

    As in the paper, a copy draws one operation (among those with alpha > 0 that can change
    the sentence) and applies it with strength alpha:
    synonym replacement: max(1, alpha_sr*L) words that have an entry in `synonyms`;
    random insertion: max(1, alpha_ri*L) times, a synonym of a random word of the sentence
        (the word itself when it has none) at a random position;
    random swap: max(1, alpha_rs*L) swaps of two random words;
    random deletion: each word with probability alpha_rd, keeping at least one word.
    `n` is the paper's n_aug. `p`, `scheme` and `train` are ignored. The new text is the
    words joined by single spaces.
    """
    name = "eda.v1"
    _check_common(name, seed, p, n, scheme)
    examples = _check_records(examples, TextExample, name, "examples")
    alphas = {"synonym_replacement": alpha_sr, "random_insertion": alpha_ri,
              "random_swap": alpha_rs, "random_deletion": alpha_rd}
    for key, alpha in zip(("alpha_sr", "alpha_ri", "alpha_rs", "alpha_rd"), alphas.values()):
        if not isinstance(alpha, (int, float)) or not 0.0 <= alpha <= 1.0:
            raise ConfigError(f"{name}: {key} must be between 0 and 1, got {alpha!r}")
    table = _check_synonyms(synonyms or {}, name)
    operations = {"synonym_replacement": _eda_replace, "random_insertion": _eda_insert,
                  "random_swap": _eda_swap, "random_deletion": _eda_delete}

    def make(index: int, example: TextExample, rng: np.random.Generator):
        words = example.text.split()
        usable = [op for op in _EDA_OPS
                  if alphas[op] > 0 and _eda_applies(op, words, table)]
        if not usable:
            return None
        op = usable[rng.integers(len(usable))]
        edited = operations[op](words, alphas[op], table, rng)
        if edited is None:
            return None
        new_words, positions, before, after = edited
        new = TextExample(text=" ".join(new_words), labels=example.labels, line=example.line)
        return new, Change(index, f"{name}:{op}", positions, before, after)

    return _generate(examples, n, seed, make)


def _eda_applies(op: str, words: list[str], table: _Synonyms) -> bool:
    """Whether operation `op` can change `words` at all."""
    if op == "synonym_replacement":
        return any(_alternatives(table, w) for w in words)
    if op == "random_insertion":
        return len(words) > 0
    if op == "random_swap":
        return len(set(words)) > 1
    return len(words) > 1  # random_deletion must keep one word


def _eda_replace(words: list[str], alpha: float, table: _Synonyms, rng: np.random.Generator):
    """Replace max(1, alpha*L) distinct words that have synonyms by one of them."""
    candidates = [j for j, w in enumerate(words) if _alternatives(table, w)]
    count = min(len(candidates), max(1, int(alpha * len(words))))
    chosen = sorted(rng.choice(candidates, size=count, replace=False).tolist())
    edits = []
    for j in chosen:
        options = _alternatives(table, words[j])
        edits.append((j, j + 1, options[rng.integers(len(options))]))
    new_words, _, positions, before, after = _splice(words, [], edits)
    return new_words, positions, before, after


def _eda_insert(words: list[str], alpha: float, table: _Synonyms, rng: np.random.Generator):
    """Insert max(1, alpha*L) times a synonym of a random word (or the word) anywhere."""
    items = [(w, False) for w in words]  # (word, inserted?)
    for _ in range(max(1, int(alpha * len(words)))):
        source = words[rng.integers(len(words))]
        options = _alternatives(table, source)
        insert = options[rng.integers(len(options))] if options else (source,)
        at = int(rng.integers(len(items) + 1))
        items[at:at] = [(w, True) for w in insert]
    positions = tuple(k for k, (_, new) in enumerate(items) if new)
    return [w for w, _ in items], positions, (), tuple(items[k][0] for k in positions)


def _eda_swap(words: list[str], alpha: float, table: _Synonyms, rng: np.random.Generator):
    """Swap two random words, max(1, alpha*L) times; None when the words end up in place."""
    new_words = list(words)
    for _ in range(max(1, int(alpha * len(words)))):
        a, b = rng.choice(len(words), size=2, replace=False)
        new_words[a], new_words[b] = new_words[b], new_words[a]
    positions = tuple(j for j, (old, new) in enumerate(zip(words, new_words)) if old != new)
    if not positions:
        return None
    return (new_words, positions, tuple(words[j] for j in positions),
            tuple(new_words[j] for j in positions))


def _eda_delete(words: list[str], alpha: float, table: _Synonyms, rng: np.random.Generator):
    """Delete each word with probability alpha, keeping one at random if all would go."""
    keep = rng.random(len(words)) >= alpha
    if not keep.any():
        keep[rng.integers(len(words))] = True
    if keep.all():
        return None
    deleted = tuple(w for w, k in zip(words, keep) if not k)
    return [w for w, k in zip(words, keep) if k], (), deleted, ()


# ---------------------------------------------------------------------------------------------
# Shared helpers
# ---------------------------------------------------------------------------------------------

def _generate(examples: list, n: int, seed: int,
              make: Callable[[int, Any, np.random.Generator], tuple[Any, Change] | None]
              ) -> AugmentResult:
    """Call make n times per example from one seeded generator; keep copies that changed."""
    rng = np.random.default_rng(seed)
    new: list = []
    changes: list[Change] = []
    for index, example in enumerate(examples):
        for _ in range(n):
            made = make(index, example, rng)
            if made is not None:
                new.append(made[0])
                changes.append(made[1])
    return AugmentResult(new, changes)


def _same_length_result(index: int, example: TokenExample, tokens: list[str], method: str):
    """The example with `tokens` (same length, same tags) and its Change; None if identical."""
    positions = tuple(j for j, (old, new) in enumerate(zip(example.tokens, tokens)) if old != new)
    if not positions:
        return None
    change = Change(index, method, positions, tuple(example.tokens[j] for j in positions),
                    tuple(tokens[j] for j in positions))
    return replace(example, tokens=tuple(tokens)), change


def _spliced_result(index: int, example: TokenExample, spans: list[Span],
                    edits: list[tuple[int, int, tuple[str, ...]]], scheme: str, method: str):
    """The example with `edits` applied and tags rebuilt in `scheme`; None without edits."""
    if not edits:
        return None
    tokens, new_spans, positions, before, after = _splice(list(example.tokens), spans, edits)
    tags = from_spans(new_spans, len(tokens), scheme)
    new = replace(example, tokens=tuple(tokens), tags=tags)
    return new, Change(index, method, positions, before, after)


def _splice(tokens: list[str], spans: Sequence[Span],
            edits: Sequence[tuple[int, int, tuple[str, ...]]]):
    """Tokens and spans after replacing each range [start, end) of `edits` by new words.

    Edits are sorted and disjoint, and each is a whole span or lies outside every span, so
    span boundaries are never inside an edit. Returns (tokens, spans, positions of the new
    words, replaced words, new words).
    """
    out: list[str] = []
    positions: list[int] = []
    before: list[str] = []
    after: list[str] = []
    new_at = [0] * (len(tokens) + 1)  # new index of each old token boundary
    cursor = 0
    for start, end, words in edits:
        for j in range(cursor, start):
            new_at[j] = len(out)
            out.append(tokens[j])
        new_at[start] = len(out)
        positions.extend(range(len(out), len(out) + len(words)))
        before.extend(tokens[start:end])
        after.extend(words)
        out.extend(words)
        cursor = end
    for j in range(cursor, len(tokens)):
        new_at[j] = len(out)
        out.append(tokens[j])
    new_at[len(tokens)] = len(out)
    new_spans = [(type_, new_at[start], new_at[end]) for type_, start, end in spans]
    return out, new_spans, tuple(positions), tuple(before), tuple(after)


def _labels(tags: Sequence[str]) -> list[str | None]:
    """Per-token label: the type of the entity the token is in, None outside entities."""
    labels: list[str | None] = [None] * len(tags)
    for type_, start, end in to_spans(tags):
        labels[start:end] = [type_] * (end - start)
    return labels


def _segments(tags: Sequence[str], length: int) -> list[tuple[int, int]]:
    """[start, end) of every entity span and every maximal run of O tokens, in order."""
    segments = []
    cursor = 0
    for _, start, end in to_spans(tags):
        if start > cursor:
            segments.append((cursor, start))
        segments.append((start, end))
        cursor = end
    if cursor < length:
        segments.append((cursor, length))
    return segments


def _shuffle_until_new(rng: np.random.Generator, tokens: list[str]) -> list[str]:
    """A random order of `tokens` (at least two distinct) that differs from the given one."""
    while True:  # each try keeps the old order with probability <= 1/2
        shuffled = [tokens[k] for k in rng.permutation(len(tokens))]
        if shuffled != tokens:
            return shuffled


def _make_pool(counter: Counter, *, uniform: bool) -> _Pool:
    """A pool drawing the counter's items by count, or uniformly (order: first seen)."""
    items = list(counter)
    weights = np.ones(len(items)) if uniform else np.array([counter[i] for i in items], float)
    return items, np.cumsum(weights), {item: k for k, item in enumerate(items)}


def _draw_other(rng: np.random.Generator, pool: _Pool, current: Any) -> Any:
    """An item drawn by weight from `pool` without `current`; None when nothing else is in it."""
    items, cumulative, index = pool
    k = index.get(current)
    weight = 0.0 if k is None else cumulative[k] - (cumulative[k - 1] if k else 0.0)
    low = cumulative[-1] if k is None else cumulative[k] - weight
    total = cumulative[-1] - weight
    if total <= 0:
        return None
    # one draw over the other items' weights: skip current's interval on the number line
    u = rng.random() * total
    if u >= low:
        u += weight
    return items[min(int(np.searchsorted(cumulative, u, side="right")), len(items) - 1)]


def _alternatives(table: _Synonyms, token: str) -> tuple[tuple[str, ...], ...]:
    """The token's synonyms (as word tuples) other than the token itself."""
    return tuple(s for s in table.get(token, ()) if s != (token,))


def _check_synonyms(synonyms: Mapping[str, Sequence[str]], method: str) -> _Synonyms:
    """The table with each synonym split into words; ConfigError for a malformed entry."""
    if not isinstance(synonyms, Mapping):
        raise ConfigError(f"{method}: synonyms must be a mapping word -> list of synonyms, "
                          f"got {type(synonyms).__name__}")
    table: _Synonyms = {}
    for word, options in synonyms.items():
        if not isinstance(word, str) or not word or len(word.split()) != 1 or word != word.strip():
            raise ConfigError(f"{method}: synonym table key {word!r} must be one word "
                              "without spaces (the table is looked up token by token)")
        if isinstance(options, str) or not isinstance(options, Sequence):
            raise ConfigError(f"{method}: synonyms[{word!r}] must be a list of strings, "
                              f"got {options!r}")
        for option in options:
            if not isinstance(option, str) or not option.split():
                raise ConfigError(f"{method}: synonyms[{word!r}] holds {option!r}; "
                                  "each synonym must be a non-empty string")
        table[word] = tuple(tuple(option.split()) for option in options)
    return table


def _check_token_call(name: str, examples: Sequence, train: Sequence | None, seed: int,
                      p: float, n: int, scheme: str) -> tuple[list, list]:
    """Validated (examples, training pool) for an NER augmenter."""
    _check_common(name, seed, p, n, scheme)
    checked = _check_records(examples, TokenExample, name, "examples")
    pool = checked if train is None else _check_records(train, TokenExample, name, "train")
    return checked, pool


def _check_common(name: str, seed: int, p: float, n: int, scheme: str) -> None:
    """ConfigError naming the keyword when seed, p, n or scheme is out of range."""
    _check_seed(seed, name)
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
        raise ConfigError(f"{name}: p must be a probability between 0 and 1, got {p!r}")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ConfigError(f"{name}: n (new examples per sentence) must be an integer >= 0, "
                          f"got {n!r}")
    if scheme not in SCHEMES:
        raise ConfigError(f"{name}: unknown tag scheme {scheme!r}; known: {', '.join(SCHEMES)}")


def _check_seed(seed: int, name: str) -> None:
    """ConfigError unless seed is a non-negative integer (what default_rng accepts)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ConfigError(f"{name}: seed must be an integer >= 0, got {seed!r}")


def _check_records(examples: Sequence, kind: type, name: str, what: str) -> list:
    """The records as a list; ConfigError when one is not of the kind the method augments."""
    items = list(examples)
    for k, item in enumerate(items):
        if not isinstance(item, kind):
            task = "token classification (NER)" if kind is TokenExample else "text classification"
            raise ConfigError(f"{name} augments {task} records ({kind.__name__}); "
                              f"{what}[{k}] is a {type(item).__name__}")
    return items
