"""The sweep file (core/sweep.py): every mistake is a ConfigError naming its key."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.config import RunConfig, config_to_dict
from core.errors import ConfigError
from core.sweep import spec_from_dict

BASE = {"train": "demo:ner", "epochs": 2}


def spec(search, **sweep):
    return spec_from_dict({"base": dict(BASE), "search": search, "sweep": sweep})


@given(low=st.floats(1e-7, 1e-3), span=st.floats(1.01, 100.0))
def test_log_ranges_keep_their_ends_and_contain_them(low, span):
    dist = spec({"learning_rate": {"log_uniform": [low, low * span]}}).search["learning_rate"]
    assert (dist.low, dist.high) == (low, low * span)
    assert dist.contains(low) and dist.contains(low * span) and not dist.contains(low / 2)


@given(low=st.integers(1, 5), extra=st.integers(0, 5))
def test_int_ranges_grid_every_whole_number(low, extra):
    dist = spec({"epochs": {"int": [low, low + extra]}}).search["epochs"]
    assert dist.grid() == list(range(low, low + extra + 1))


def test_the_issue_example_parses_with_defaults():
    s = spec({"learning_rate": {"log_uniform": [1e-5, 3e-4]}, "warmup_ratio": {"uniform": [0.0, 0.2]},
              "batch_size": {"choice": [16, 32]}, "epochs": {"int": [1, 4]},
              "loss": {"choice": ["cross_entropy.v1", "focal.v1"]}}, trials=20)
    assert (s.sampler, s.pruner, s.metric, s.direction, s.parallel, s.seeds_per_trial) == (
        "tpe", "median", "f1_micro", "maximize", 1, 1)
    assert s.base == {**config_to_dict(RunConfig()), **BASE}
    cfg = s.trial_config({"learning_rate": 1e-4}, seed_offset=2)
    assert cfg["learning_rate"] == 1e-4 and cfg["seed"] == 44 and cfg["metric"] == "f1_micro"
    again = spec_from_dict({"search": s.as_dict()["search"], "sweep": s.as_dict()["sweep"]}, base=s.base)
    assert again == s  # what the study stores reads back to the same spec


@pytest.mark.parametrize("search, sweep, key, words", [
    ({"learning_rat": {"uniform": [0.1, 0.2]}}, {}, "search.learning_rat", "did you mean 'learning_rate'"),
    ({"learning_rate": {"loguniform": [1e-5, 1e-3]}}, {}, "search.learning_rate", "did you mean 'log_uniform'"),
    ({"learning_rate": {"uniform": [0.2, 0.1]}}, {}, "search.learning_rate", "empty range"),
    ({"learning_rate": {"uniform": [0.1, 0.1]}}, {}, "search.learning_rate", "empty range"),
    ({"epochs": {"int": [4, 1]}}, {}, "search.epochs", "empty range"),
    ({"learning_rate": {"log_uniform": [0.0, 0.1]}}, {}, "search.learning_rate", "above 0"),
    ({"batch_size": {"uniform": [8, 32]}}, {}, "search.batch_size", "whole number"),
    ({"warmup_ratio": {"int": [0, 1]}}, {}, "search.warmup_ratio", "decimals"),
    ({"batch_size": {"choice": ["big"]}}, {}, "search.batch_size", "expected int"),
    ({"batch_size": {"choice": []}}, {}, "search.batch_size", "non-empty"),
    ({"warmup_ratio": {"uniform": [0.0, 1.5]}}, {}, "search.warmup_ratio", "below 1"),
    ({"loss": {"uniform": [0, 1]}}, {}, "search.loss", "choice"),
    ({"train": {"choice": ["a", "b"]}}, {}, "search.train", "cannot be searched"),
    ({"epochs": {"int": [1, 2]}}, {"trails": 3}, "sweep.trails", "did you mean 'trials'"),
    ({"epochs": {"int": [1, 2]}}, {"sampler": "tpee"}, "sweep.sampler", "did you mean 'tpe'"),
    ({"epochs": {"int": [1, 2]}}, {"metric": "accuracy"}, "sweep.metric", "f1_micro"),
    ({"epochs": {"int": [1, 2]}}, {"trials": 0}, "sweep.trials", "at least 1"),
    ({"warmup_ratio": {"uniform": [0.0, 0.2]}}, {"sampler": "grid"}, "search.warmup_ratio", "grid"),
    ({"epochs": {"int": [1, 2]}}, {"enqueue": [{"epochs": 9}]}, "sweep.enqueue[0].epochs", "outside"),
    ({"epochs": {"int": [1, 2]}}, {"enqueue": [{"lr": 1}]}, "sweep.enqueue[0].lr", "not a searched knob"),
])
def test_each_mistake_names_its_key(search, sweep, key, words):
    with pytest.raises(ConfigError) as err:
        spec(search, **sweep)
    assert str(err.value).startswith(key) and words in str(err.value)


def test_an_empty_search_and_a_bad_base_are_refused():
    with pytest.raises(ConfigError, match="search: expected a table with at least one knob"):
        spec({})
    with pytest.raises(ConfigError, match="unknown config key 'epoch'"):
        spec_from_dict({"base": {"epoch": 1}, "search": {"epochs": {"int": [1, 2]}}})
    with pytest.raises(ConfigError, match="unknown sweep section 'serch'; did you mean 'search'"):
        spec_from_dict({"base": {}, "serch": {}})
