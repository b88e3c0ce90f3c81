"""Helpers shared by the text-classification demos: filling templates, noise, stratified splits."""
from __future__ import annotations

import random
import re
from typing import Callable, Sequence

from core.demo.common import (HELD_OUT_FRACTION, SPLITS, UNSEEN_RATE, Pool, hold_out,
                              split_counts)
from core.records import TextExample

_FILL = re.compile(r"\{(\w+)\}")


def fill(rng: random.Random, template: str, fillers: dict[str, Pool], unseen: float) -> str:
    """Template with each {slot} replaced by a draw from its pool (fillers may nest twice).

    ValueError for a slot with no pool, or a brace left over (a slot nested deeper, or a
    malformed one such as "{ name}"): a placeholder never reaches the data.
    """
    def draw(m: re.Match) -> str:
        if m.group(1) not in fillers:
            raise ValueError(f"demo template {template!r}: no filler for {{{m.group(1)}}}")
        return str(fillers[m.group(1)].draw(rng, unseen))

    text = template
    for _ in range(3):
        if "{" not in text:
            break
        text = _FILL.sub(draw, text)
    if "{" in text or "}" in text:
        raise ValueError(f"demo template {template!r} left a brace in {text!r}")
    return text


def tidy(text: str) -> str:
    """Single spaces and no space before punctuation."""
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r" ([,.?!:;])", r"\1", text)


def add_typos(rng: random.Random, text: str, rate: float) -> str:
    """Text with some words misspelt: two letters swapped, one dropped or one doubled."""
    words = text.split(" ")
    for i, word in enumerate(words):
        if len(word) < 4 or not word.isalpha() or rng.random() >= rate:
            continue
        j = rng.randrange(1, len(word) - 1)
        op = rng.randrange(3)
        if op == 0:
            word = word[:j] + word[j + 1] + word[j] + word[j + 2:]
        elif op == 1:
            word = word[:j] + word[j + 1:]
        else:
            word = word[:j] + word[j] + word[j:]
        words[i] = word
    return " ".join(words)


def pools(rng: random.Random, lists: dict[str, Sequence[str]],
          fraction: float = HELD_OUT_FRACTION) -> dict[str, Pool]:
    """A held-out pool per list, in a fixed (sorted) order so results depend on the seed only."""
    return {k: hold_out(rng, lists[k], fraction) for k in sorted(lists)}


def class_counts(n: int, weights: dict[str, float]) -> dict[str, int]:
    """Per-class counts proportional to weights summing to n (largest remainder)."""
    total = sum(weights.values())
    raw = {k: n * w / total for k, w in weights.items()}
    counts = {k: int(v) for k, v in raw.items()}
    for k in sorted(raw, key=lambda k: counts[k] - raw[k])[: n - sum(counts.values())]:
        counts[k] += 1
    return counts


def make_single_label(rng: random.Random, n: int, weights: dict[str, float],
                      templates: dict[str, Sequence[str]], fillers: dict[str, Pool],
                      style: Callable[[random.Random, str], str],
                      ) -> dict[str, list[TextExample]]:
    """Stratified 80/10/10 single-label data; a fifth of each class's templates skip train."""
    template_pools = {label: hold_out(rng, templates[label]) for label in weights}
    out: dict[str, list[TextExample]] = {s: [] for s in SPLITS}
    for label, count in class_counts(n, weights).items():
        for split, k in zip(SPLITS, split_counts(count)):
            unseen = 0.0 if split == "train" else UNSEEN_RATE
            for _ in range(k):
                template = template_pools[label].draw(rng, unseen)
                text = style(rng, fill(rng, template, fillers, unseen))
                out[split].append(TextExample(text, (label,)))
    for examples in out.values():
        rng.shuffle(examples)
    return out
