"""Generates the recommendation demo: users, the content they read, and whether they clicked.

A catalogue of items (articles, videos, podcasts, ... over ten topics) with a title, a
one-sentence description, one main topic (a fifth of them a second one) and a Zipf-like
popularity. Each user has latent interests (1-3 topics with weights), a short history of
recent items drawn from those interests (plus a little noise), and 10-20 candidate items
that a retrieval stage might offer: half drawn from the user's interests, half from what is
popular. Whether the user clicks a candidate is drawn with probability

    sigmoid(INTEREST * match + POPULARITY * log(popularity / median) + noise + BIAS)

where match = the candidate's topic weights . the user's interest weights (main interest 1).
So the texts carry most of the signal (a model that reads them can infer the user's topics
and the candidate's), popularity some. A user with no click gets a click on the candidate
with the highest drawn logit, one with only clicks a skip on the lowest, so every group has
both classes.

Rows: `TextExample(text=<history titles joined with " | ">, labels=("clicked",) or
("skipped",), text_pair=<candidate title + ". " + description>, group=<"u0042">)`, the rows
of one user together. Splits are by user (test and dev users are never in train). A quarter
of the catalogue is *novel*: those items appear only in dev/test (cold start) and are the
only ones that use held-out title and description templates and topic words.
"""
from __future__ import annotations

import math
import random
import re
from typing import Sequence

import numpy as np

from core.demo.common import SPLITS, Pool, capitalise, hold_out, require
from core.demo.text import tidy
from core.demo.words_items import (DESCRIPTIONS, GENERIC, PAIR_DESCRIPTIONS, PAIR_TITLES,
                                   TITLES, TOPICS)
from core.errors import ConfigError
from core.records import TextExample

CLICKED, SKIPPED = "clicked", "skipped"
LABELS = (CLICKED, SKIPPED)

NOVEL_RATE = 0.25     # share of items shown only to dev/test users
NOVEL_UNSEEN = 0.5    # chance that a novel item's slot draws a held-out word or template
PAIR_RATE = 0.2       # share of items with a second topic
SECOND_WEIGHT = 0.3   # topic weight of the second topic (the main one gets the rest)
ZIPF = 1.0            # popularity of the item ranked r is proportional to 1 / r ** ZIPF
HISTORY_NOISE = 0.15  # share of history draws that ignore the user's interests
RETRIEVED = 0.5       # share of candidate draws weighted by interest (the rest: popularity)
HISTORY_POP = 0.5     # history draws weigh items by popularity ** HISTORY_POP
CANDIDATE_POP = 0.7   # candidate draws weigh items by popularity ** CANDIDATE_POP
INTEREST = 4.5        # click logit per unit of interest match
POPULARITY = 0.5      # click logit per unit of log popularity
NOISE = 0.6           # standard deviation of the click logit's noise
BIAS = -4.6

_SLOT = re.compile(r"\{(\w+)\}")
_VOWELS = frozenset("aeiou")


def _with_article(word: str) -> str:
    return f"{'an' if word[0] in _VOWELS else 'a'} {word}"


def _draw(rng: random.Random, pool: Pool, unseen: float):
    if pool.held and unseen and rng.random() < unseen:
        return rng.choice(pool.held)
    return rng.choice(pool.seen)


class _Catalogue:
    """The items: texts, topic weights (n_items x n_topics), popularity, novel flags."""

    def __init__(self, rng: random.Random, n_items: int):
        self.topics = tuple(TOPICS)
        self.words = {(t, slot): hold_out(rng, TOPICS[t][slot])
                      for t in self.topics for slot in sorted(TOPICS[t])}
        self.generic = {slot: hold_out(rng, GENERIC[slot]) for slot in sorted(GENERIC)}
        self.templates = {name: hold_out(rng, ts) for name, ts in (
            ("title", TITLES), ("pair_title", PAIR_TITLES),
            ("description", DESCRIPTIONS), ("pair_description", PAIR_DESCRIPTIONS))}
        self.titles: list[str] = []
        self.texts: list[str] = []
        self.weights = np.zeros((n_items, len(self.topics)))
        self.novel = np.zeros(n_items, dtype=bool)
        seen_titles: set[str] = set()
        for i in range(n_items):
            novel = rng.random() < NOVEL_RATE
            main = rng.randrange(len(self.topics))
            second = None
            if rng.random() < PAIR_RATE:
                second = rng.choice([t for t in range(len(self.topics)) if t != main])
            for _ in range(50):  # titles are unique: redraw the rare collision
                title, description = self._texts(rng, main, second,
                                                 NOVEL_UNSEEN if novel else 0.0)
                if title not in seen_titles:
                    break
            else:
                raise ConfigError(f"n_items: {n_items} is more distinct items than the "
                                  "templates can write")
            seen_titles.add(title)
            self.titles.append(title)
            self.texts.append(f"{title}. {description}")
            self.novel[i] = novel
            if second is None:
                self.weights[i, main] = 1.0
            else:
                self.weights[i, main] = 1.0 - SECOND_WEIGHT
                self.weights[i, second] = SECOND_WEIGHT
        ranks = np.array(rng.sample(range(n_items), n_items)) + 1.0
        pop = ranks ** -ZIPF
        self.popularity = pop / pop.sum()
        self.log_popularity = np.log(self.popularity / np.median(self.popularity))

    def _texts(self, rng: random.Random, main: int, second: int | None,
               unseen: float) -> tuple[str, str]:
        values: dict[str, str] = {}

        def slot(name: str) -> str:
            if name not in values:
                topic = second if name.endswith("2") else main
                base = name.rstrip("2")
                pool = (self.generic[base] if base in self.generic
                        else self.words[(self.topics[topic], base)])
                values[name] = _draw(rng, pool, unseen)
            return values[name]

        def fill(template: str) -> str:
            def one(m: re.Match) -> str:
                name = m.group(1)
                if name.startswith("a_"):
                    return _with_article(slot(name[2:]))
                return slot(name)
            return capitalise(tidy(_SLOT.sub(one, template)))

        pair = "pair_" if second is not None else ""
        title = fill(_draw(rng, self.templates[pair + "title"], unseen))
        description = fill(_draw(rng, self.templates[pair + "description"], unseen))
        return title, description


def _sample(gen: np.random.Generator, weights: np.ndarray, k: int) -> np.ndarray:
    """k distinct indices drawn with probability proportional to weights (k <= nonzero)."""
    return gen.choice(weights.size, size=k, replace=False, p=weights / weights.sum())


def _mix(a: np.ndarray, b: np.ndarray, share_a: float) -> np.ndarray:
    """A mixture of two non-negative weight vectors, each normalised first (b alone when a
    is all zero: a user whose topics have no item here)."""
    if a.sum() <= 0:
        return b / b.sum()
    return share_a * a / a.sum() + (1.0 - share_a) * b / b.sum()


def _interests(rng: random.Random, n_topics: int) -> np.ndarray:
    """Weights over topics: 1-3 topics, the main one 1, the others 0.4-1."""
    k = rng.choices((1, 2, 3), weights=(0.3, 0.45, 0.25))[0]
    u = np.zeros(n_topics)
    for j, topic in enumerate(rng.sample(range(n_topics), k)):
        u[topic] = 1.0 if j == 0 else rng.uniform(0.4, 1.0)
    return u


def _check_range(name: str, value: Sequence[int], minimum: int) -> tuple[int, int]:
    if (not isinstance(value, (tuple, list)) or len(value) != 2
            or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
            or not minimum <= value[0] <= value[1]):
        raise ConfigError(f"{name} must be (low, high) integers with {minimum} <= low <= high; "
                          f"got {value!r}")
    return int(value[0]), int(value[1])


def _user_split_counts(n: int) -> tuple[int, int, int]:
    """(train, dev, test) users: 75/12.5/12.5, dev and test non-empty."""
    dev = test = max(1, round(n / 8))
    return n - dev - test, dev, test


def make_recommendation_demo(seed: int = 0, *, n_users: int = 800, n_items: int = 1200,
                             n_candidates: tuple[int, int] = (10, 20),
                             n_history: tuple[int, int] = (3, 5),
                             ) -> dict[str, list[TextExample]]:
    """Users' recent items, a candidate item and whether they clicked it; split by user.

    n_users split 75/12.5/12.5 (default 600/100/100 users, about 9,000/1,500/1,500 rows);
    each user gets uniformly n_history (low, high) history items and n_candidates (low,
    high) candidates. Items may recur across users and splits; novel items (a quarter of
    the catalogue, with held-out templates and words) occur only in dev and test.
    """
    require("n_users", n_users, 3, "so that every split has a user")
    require("n_items", n_items, 100, "so that every topic has items to recommend")
    lo_c, hi_c = _check_range("n_candidates", n_candidates, 2)
    lo_h, hi_h = _check_range("n_history", n_history, 1)
    if hi_c + hi_h > n_items // 2:
        raise ConfigError(f"n_candidates and n_history: at most n_items // 2 = {n_items // 2} "
                          f"items per user; got up to {hi_c} + {hi_h}")
    rng = random.Random(seed)
    gen = np.random.default_rng(rng.getrandbits(64))
    cat = _Catalogue(rng, n_items)

    ids = list(range(n_users))
    rng.shuffle(ids)
    n_train, n_dev, _ = _user_split_counts(n_users)
    split_of = {u: SPLITS[0] if j < n_train else SPLITS[1] if j < n_train + n_dev
                else SPLITS[2] for j, u in enumerate(ids)}
    width = max(4, len(str(n_users - 1)))
    shown = {"train": ~cat.novel, "dev": np.ones(n_items, bool), "test": np.ones(n_items, bool)}
    pop_h, pop_c = cat.popularity ** HISTORY_POP, cat.popularity ** CANDIDATE_POP

    out: dict[str, list[TextExample]] = {s: [] for s in SPLITS}
    for user in range(n_users):
        split = split_of[user]
        allowed = shown[split]
        u = _interests(rng, len(cat.topics))
        match = cat.weights @ u
        on_topic = np.where(allowed, pop_h * match, 0.0)
        anywhere = np.where(allowed, pop_h, 0.0)
        history = _sample(gen, _mix(on_topic, anywhere, 1.0 - HISTORY_NOISE),
                          rng.randint(lo_h, hi_h))
        allowed = allowed.copy()
        allowed[history] = False
        retrieved = np.where(allowed, pop_c * match, 0.0)
        popular = np.where(allowed, pop_c, 0.0)
        weights = _mix(retrieved, popular, RETRIEVED)
        k = min(rng.randint(lo_c, hi_c), int((weights > 0).sum()))
        candidates = _sample(gen, weights, k)
        logits = (INTEREST * match[candidates] + POPULARITY * cat.log_popularity[candidates]
                  + gen.normal(0.0, NOISE, k) + BIAS)
        clicks = gen.random(k) < 1.0 / (1.0 + np.exp(-logits))
        if not clicks.any():
            clicks[np.argmax(logits)] = True
        elif clicks.all():
            clicks[np.argmin(logits)] = False
        text = " | ".join(cat.titles[i] for i in history)
        group = f"u{user:0{width}d}"
        out[split].extend(
            TextExample(text, (CLICKED if c else SKIPPED,), text_pair=cat.texts[i], group=group)
            for i, c in zip(candidates.tolist(), clicks.tolist()))
    return out


def click_rate(data: dict[str, list[TextExample]]) -> float:
    """Share of clicked rows over all splits (a convenience for pages and tests)."""
    rows = [e for split in data.values() for e in split]
    return sum(CLICKED in e.labels for e in rows) / len(rows) if rows else math.nan
