"""Helpers shared by the demo generators: split names and sizes, seen/held-out pools, checks."""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Sequence

from core.errors import ConfigError

SPLITS = ("train", "dev", "test")
HELD_OUT_FRACTION = 0.2  # share of each name list / template list kept out of train
UNSEEN_RATE = 0.25  # chance that a dev/test draw picks a held-out item


@dataclass(frozen=True)
class Pool:
    """Items one generator draws from: `seen` ones everywhere, `held` ones only in dev/test."""

    seen: tuple
    held: tuple = ()

    def draw(self, rng: random.Random, unseen_rate: float):
        """One item; a held-out one with probability `unseen_rate` (0 for train)."""
        if self.held and unseen_rate and rng.random() < unseen_rate:
            return rng.choice(self.held)
        return rng.choice(self.seen)


def hold_out(rng: random.Random, items: Sequence, fraction: float = HELD_OUT_FRACTION) -> Pool:
    """A pool with a random `fraction` of `items` held out of train (none from tiny lists)."""
    shuffled = list(items)
    rng.shuffle(shuffled)
    k = round(len(shuffled) * fraction) if len(shuffled) >= 4 else 0
    return Pool(tuple(shuffled[k:]), tuple(shuffled[:k]))


def lines(text: str) -> tuple[str, ...]:
    """Non-empty stripped lines of a block (for lists whose items contain spaces)."""
    return tuple(s.strip() for s in text.strip().splitlines() if s.strip())


def split_counts(n: int) -> tuple[int, int, int]:
    """(train, dev, test) sizes for n items, 80/10/10, dev and test non-empty when n >= 3."""
    dev = max(1, round(n * 0.1)) if n >= 3 else 0
    test = max(1, round(n * 0.1)) if n >= 3 else 0
    return n - dev - test, dev, test


def require(name: str, value: int, minimum: int, why: str) -> None:
    """ConfigError unless value is an int >= minimum."""
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigError(f"{name} must be an integer of at least {minimum} {why}; got {value!r}")


def capitalise(token: str) -> str:
    """Token with its first character upper-cased (the rest unchanged)."""
    return token[0].upper() + token[1:]
