"""The recommendation demo: determinism, splits by user, both classes per user, sizes,
click rate, clean texts, and items and words that only dev/test hold."""
from __future__ import annotations

import re
from collections import defaultdict

import pytest
from hypothesis import given, settings, strategies as st

from core.demo.common import SPLITS
from core.demo.recommendation import (CLICKED, LABELS, click_rate,
                                      make_recommendation_demo)
from core.errors import ConfigError
from core.records import TextExample

FAST = settings(max_examples=8, deadline=None)
WORD = re.compile(r"[a-z]+(?:-[a-z]+)*")


@pytest.fixture(scope="module")
def demo():
    return make_recommendation_demo()


def by_group(rows):
    out = defaultdict(list)
    for r in rows:
        out[r.group].append(r)
    return out


def words(texts):
    return {w for t in texts for w in WORD.findall(t.lower())}


def assert_valid(data, n_candidates=(10, 20), n_history=(3, 5)):
    assert set(data) == set(SPLITS)
    users = {s: set(by_group(data[s])) for s in SPLITS}
    assert all(users.values())
    assert not users["train"] & users["dev"]
    assert not users["train"] & users["test"]
    assert not users["dev"] & users["test"]
    for split in SPLITS:
        rows = data[split]
        seen_groups, previous = set(), None
        for r in rows:
            assert isinstance(r, TextExample)
            assert r.text and r.text_pair and r.group, r
            assert re.fullmatch(r"u\d{4,}", r.group), r.group
            assert len(r.labels) == 1 and r.labels[0] in LABELS, r.labels
            assert r.target is None
            for s in (r.text, r.text_pair):
                assert "{" not in s and "}" not in s, s
                assert s == s.strip() and "  " not in s, s
                assert s[0].isupper() and not re.search(r"\bi\b", s), s
            if r.group != previous:  # the rows of one user are together
                assert r.group not in seen_groups, r.group
                seen_groups.add(r.group)
                previous = r.group
        for group, rs in by_group(rows).items():
            clicked = [CLICKED in r.labels for r in rs]
            assert any(clicked) and not all(clicked), group
            assert n_candidates[0] <= len(rs) <= n_candidates[1], (group, len(rs))
            assert len({r.text for r in rs}) == 1, group  # one history per user
            assert len({r.text_pair for r in rs}) == len(rs), group  # distinct candidates
            history = rs[0].text.split(" | ")
            assert n_history[0] <= len(history) <= n_history[1], history
            assert len(set(history)) == len(history), history
            for r in rs:  # a candidate is never one of the user's recent items
                assert r.text_pair.split(". ", 1)[0] not in history, r


# ------------------------------------------------------------------ determinism

def test_same_seed_gives_same_data_and_other_seed_differs():
    a, b = make_recommendation_demo(3, n_users=60), make_recommendation_demo(3, n_users=60)
    c = make_recommendation_demo(4, n_users=60)
    assert a == b
    assert a != c
    assert make_recommendation_demo(seed=3, n_users=60) == a


def test_generator_leaves_global_random_state_alone():
    import random

    import numpy as np
    random.seed(5)
    np.random.seed(5)
    before = (random.getstate(), np.random.get_state()[1].copy())
    make_recommendation_demo(1, n_users=30)
    assert random.getstate() == before[0]
    assert (np.random.get_state()[1] == before[1]).all()


# ------------------------------------------------------------------ the default demo

def test_default_demo_has_600_100_100_users_and_about_9000_train_rows(demo):
    users = {s: len(by_group(demo[s])) for s in SPLITS}
    assert users == {"train": 600, "dev": 100, "test": 100}
    assert 8000 <= len(demo["train"]) <= 12000
    for split in ("dev", "test"):
        assert 1000 <= len(demo[split]) <= 2000
    assert_valid(demo)


def test_default_click_rate_is_between_20_and_35_percent_in_every_split(demo):
    assert 0.20 <= click_rate(demo) <= 0.35
    for split in SPLITS:
        assert 0.18 <= click_rate({split: demo[split]}) <= 0.37, split


def test_items_recur_across_users_and_splits(demo):
    train_items = {r.text_pair for r in demo["train"]}
    assert len(train_items) < len(demo["train"]) / 3  # popular items are shown many times
    for split in ("dev", "test"):
        items = [r.text_pair for r in demo[split]]
        shared = sum(i in train_items for i in items) / len(items)
        assert 0.5 <= shared <= 0.9, (split, shared)


def test_dev_and_test_hold_novel_items_and_words_train_never_shows(demo):
    train_items = {r.text_pair for r in demo["train"]}
    train_words = words([r.text for r in demo["train"]] + list(train_items))
    for split in ("dev", "test"):
        novel = {r.text_pair for r in demo[split]} - train_items
        assert len(novel) >= 50, split
        new_words = words(novel) - train_words
        assert len(new_words) >= 10, (split, sorted(new_words))


def test_clicks_follow_interests_more_than_popularity(demo):
    # a candidate sharing its topic word with the history is clicked far more often
    topics = ("baking", "jazz", "football", "photography", "gardening")
    hit, miss = [], []
    for r in demo["train"]:
        for topic in topics:
            if topic in r.text_pair.lower():
                (hit if topic in r.text.lower() else miss).append(CLICKED in r.labels)
    assert sum(hit) / len(hit) > 2 * sum(miss) / len(miss)


def test_indefinite_articles_agree_with_the_next_word(demo):
    texts = {r.text_pair for s in SPLITS for r in demo[s]}
    for t in texts:
        assert not re.search(r"\b[Aa] [aeiou]", t), t
        assert not re.search(r"\b[Aa]n (?!hour)[^aeiou]", t), t


# ------------------------------------------------------------------ any seed and size

@FAST
@given(seed=st.integers(0, 2**31 - 1), n_users=st.integers(3, 120),
       n_items=st.integers(100, 400))
def test_any_seed_and_size_gives_valid_splits(seed, n_users, n_items):
    data = make_recommendation_demo(seed, n_users=n_users, n_items=n_items)
    assert_valid(data)
    n_groups = sum(len(by_group(data[s])) for s in SPLITS)
    assert n_groups == n_users


@FAST
@given(seed=st.integers(0, 2**31 - 1))
def test_click_rate_stays_within_bounds_across_seeds(seed):
    data = make_recommendation_demo(seed, n_users=200)
    assert 0.18 <= click_rate(data) <= 0.37


@FAST
@given(seed=st.integers(0, 10_000), lo_c=st.integers(2, 8), extra_c=st.integers(0, 6),
       lo_h=st.integers(1, 4), extra_h=st.integers(0, 3))
def test_candidate_and_history_ranges_are_respected(seed, lo_c, extra_c, lo_h, extra_h):
    nc, nh = (lo_c, lo_c + extra_c), (lo_h, lo_h + extra_h)
    data = make_recommendation_demo(seed, n_users=40, n_items=150, n_candidates=nc,
                                    n_history=nh)
    assert_valid(data, nc, nh)


# ------------------------------------------------------------------ bad arguments

@pytest.mark.parametrize("kw, match", [
    ({"n_users": 2}, "n_users"),
    ({"n_users": 10.0}, "n_users"),
    ({"n_items": 50}, "n_items"),
    ({"n_candidates": (5, 3)}, "n_candidates"),
    ({"n_candidates": (1, 3)}, "n_candidates"),
    ({"n_candidates": 10}, "n_candidates"),
    ({"n_history": (0, 2)}, "n_history"),
    ({"n_items": 100, "n_candidates": (10, 48)}, "n_items // 2"),
])
def test_bad_arguments_raise_config_error_naming_the_argument(kw, match):
    with pytest.raises(ConfigError, match=re.escape(match)):
        make_recommendation_demo(0, **kw)
