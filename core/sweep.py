"""The sweep file: a base run config, a search space over its knobs and the study settings.
Pure: reads a parsed TOML table, returns a validated SweepSpec or raises a ConfigError that
names the key at fault (an unknown knob gets a "did you mean").

    [base]                        # any RunConfig keys (or: base = "run.toml", read by the engine)
    train = "demo:ner"
    [search]
    learning_rate = { log_uniform = [1e-5, 3e-4] }
    warmup_ratio  = { uniform = [0.0, 0.2] }
    batch_size    = { choice = [16, 32] }
    epochs        = { int = [1, 4] }
    [sweep]
    trials = 20, sampler = "tpe", pruner = "median", metric = "f1_micro",
    direction = "maximize", parallel = 1, seeds_per_trial = 1, seed = 0,
    enqueue = [{ learning_rate = 5e-5 }]   # trials to run first, e.g. the default config

Each end of a range and each choice is checked by building the base config with that value
and validating it, so a range the run config would refuse is refused here, naming the key.
"""
from __future__ import annotations

import math
import typing
from dataclasses import dataclass, field
from typing import Any

from core.config import _FIELDS, _TYPES, METRICS, config_from_dict, did_you_mean, validate
from core.errors import ConfigError

KINDS = ("log_uniform", "uniform", "int", "choice")
SAMPLERS = ("tpe", "random", "grid")
PRUNERS = ("median", "hyperband", "none")
DIRECTIONS = ("maximize", "minimize")
SETTINGS = {"trials": 20, "sampler": "tpe", "pruner": "median", "metric": None,
            "direction": "maximize", "parallel": 1, "seeds_per_trial": 1, "seed": 0,
            "name": "", "enqueue": []}
# knobs a sweep may not vary: they name the data, say what a run is, or expand into runs
FIXED = ("task", "train", "dev", "test", "format", "text_column", "label_column",
         "label_delimiter", "name", "repeats", "device", "num_devices", "threads", "seed",
         "checkpoint_every", "checkpoint_minutes", "keep_checkpoints", "tracking",
         "tracking_uri", "tracking_experiment")  # bookkeeping, not the model


@dataclass(frozen=True)
class Dist:
    """One searched knob: kind (KINDS) and its bounds (low, high) or its choices."""
    kind: str
    low: float | int | None = None
    high: float | int | None = None
    choices: tuple = ()

    def as_dict(self) -> dict:
        if self.kind == "choice":
            return {"choice": list(self.choices)}
        return {self.kind: [self.low, self.high]}

    def contains(self, value: Any) -> bool:
        if self.kind == "choice":
            return value in self.choices
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        if self.kind == "int" and not float(value).is_integer():
            return False
        return self.low <= value <= self.high

    def grid(self) -> list:
        """The values a grid sweep tries (choice and int ranges only)."""
        if self.kind == "choice":
            return list(self.choices)
        if self.kind == "int":
            return list(range(int(self.low), int(self.high) + 1))
        raise ConfigError("a grid sweep needs choice or int ranges")


@dataclass(frozen=True)
class SweepSpec:
    base: dict                      # a full run config (core.config.config_to_dict)
    search: dict[str, Dist]
    trials: int = 20
    sampler: str = "tpe"
    pruner: str = "median"
    metric: str = "f1_micro"
    direction: str = "maximize"
    parallel: int = 1
    seeds_per_trial: int = 1
    seed: int = 0
    name: str = ""
    enqueue: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON form, read back by `spec_from_dict` (what the study stores)."""
        return {"base": self.base, "search": {k: d.as_dict() for k, d in self.search.items()},
                "sweep": {k: getattr(self, k) for k in SETTINGS}}

    def grid_size(self) -> int:
        return math.prod(len(d.grid()) for d in self.search.values())

    def trial_config(self, params: dict, seed_offset: int = 0) -> dict:
        """The run config of one trial (and seed member): base + params; the sweep's metric
        picks the best checkpoint, so a trial's value is its run's own dev score."""
        cfg = {**self.base, **params, "metric": self.metric, "repeats": 1}
        cfg["seed"] = self.base.get("seed", 42) + seed_offset
        return cfg


def spec_from_dict(raw: Any, *, base: dict | None = None) -> SweepSpec:
    """A validated SweepSpec from a parsed sweep file; `base` (a run config dict) replaces
    a [base] table (the engine reads `base = "run.toml"` and passes it here)."""
    if not isinstance(raw, dict):
        raise ConfigError("a sweep file must be a table with [base], [search] and [sweep]")
    unknown = set(raw) - {"base", "search", "sweep"}
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(f"unknown sweep section {key!r}"
                          + did_you_mean(key, ["base", "search", "sweep"]))
    if base is None:
        table = raw.get("base", {})
        if not isinstance(table, dict):
            raise ConfigError("base: expected a table of run config keys or a file name")
        base = _base_config(table)
    settings = _settings(raw.get("sweep", {}), base)
    search = _search(raw.get("search"), base)
    spec = SweepSpec(base=base, search=search, **settings)
    _check_enqueue(spec)
    if spec.sampler == "grid":
        for key, dist in search.items():
            if dist.kind not in ("choice", "int"):
                raise ConfigError(f"search.{key}: a grid sweep needs a choice or int range, "
                                  f"found {dist.kind}; use choice = [...] or sampler = \"tpe\"")
    return spec


def _base_config(table: dict) -> dict:
    from core.config import config_to_dict

    cfg = config_from_dict({k: v for k, v in table.items()})
    validate(cfg)
    return config_to_dict(cfg)


def _settings(table: Any, base: dict) -> dict:
    if not isinstance(table, dict):
        raise ConfigError("sweep: expected a table of sweep settings")
    out = {k: v for k, v in SETTINGS.items()}
    out["metric"] = base.get("metric") or METRICS[base["task"]][0]
    for key, value in table.items():
        if key not in SETTINGS:
            raise ConfigError(f"sweep.{key}: unknown sweep setting" + did_you_mean(key, SETTINGS))
        out[key] = value
    for key in ("trials", "parallel", "seeds_per_trial"):
        if isinstance(out[key], bool) or not isinstance(out[key], int) or out[key] < 1:
            raise ConfigError(f"sweep.{key}: expected a whole number of at least 1, "
                              f"found {out[key]!r}")
    if isinstance(out["seed"], bool) or not isinstance(out["seed"], int):
        raise ConfigError(f"sweep.seed: expected a whole number, found {out['seed']!r}")
    for key, allowed in (("sampler", SAMPLERS), ("pruner", PRUNERS), ("direction", DIRECTIONS)):
        if out[key] not in allowed:
            raise ConfigError(f"sweep.{key}: expected one of {', '.join(allowed)}, "
                              f"found {out[key]!r}" + did_you_mean(str(out[key]), allowed))
    metrics = METRICS[base["task"]]
    if out["metric"] not in metrics:
        raise ConfigError(f"sweep.metric: a {base['task']} run reports {', '.join(metrics)} on "
                          f"dev, found {out['metric']!r}" + did_you_mean(str(out["metric"]), metrics))
    if not isinstance(out["name"], str):
        raise ConfigError(f"sweep.name: expected a string, found {out['name']!r}")
    if not isinstance(out["enqueue"], list) or not all(isinstance(e, dict) for e in out["enqueue"]):
        raise ConfigError("sweep.enqueue: expected a list of tables like {learning_rate = 5e-5}")
    return out


def _search(table: Any, base: dict) -> dict[str, Dist]:
    if not isinstance(table, dict) or not table:
        raise ConfigError("search: expected a table with at least one knob, e.g. "
                          "learning_rate = { log_uniform = [1e-5, 3e-4] }")
    return {key: _dist(key, spec, base) for key, spec in table.items()}


def _dist(key: str, spec: Any, base: dict) -> Dist:
    where = f"search.{key}"
    if key not in _FIELDS:
        raise ConfigError(f"{where}: unknown knob {key!r}" + did_you_mean(key, list(_FIELDS)))
    if key in FIXED:
        raise ConfigError(f"{where}: {key} cannot be searched (it names the data or what a "
                          f"run is; set it in [base])")
    if not isinstance(spec, dict) or len(spec) != 1:
        raise ConfigError(f"{where}: expected one distribution, e.g. {{ choice = [...] }}, "
                          f"{{ uniform = [low, high] }}, {{ log_uniform = [low, high] }} or "
                          f"{{ int = [low, high] }}")
    (kind, bounds), = spec.items()
    if kind not in KINDS:
        raise ConfigError(f"{where}: unknown distribution {kind!r}" + did_you_mean(kind, KINDS)
                          + f" (known: {', '.join(KINDS)})")
    knob_type = _plain_type(_TYPES[key])
    if kind == "choice":
        if not isinstance(bounds, list) or not bounds:
            raise ConfigError(f"{where}: choice needs a non-empty list of values")
        if len({repr(v) for v in bounds}) != len(bounds):
            raise ConfigError(f"{where}: choice lists a value twice")
        for value in bounds:
            _check_value(where, key, value, base)
        values = [_as_type(v, knob_type) for v in bounds]
        return Dist("choice", choices=tuple(values))
    if knob_type not in (int, float):
        raise ConfigError(f"{where}: {key} takes {knob_type.__name__} values; search it with "
                          f"choice = [...]")
    if kind == "int" and knob_type is not int:
        raise ConfigError(f"{where}: {key} is a number with decimals; use uniform or "
                          f"log_uniform")
    if kind != "int" and knob_type is int:
        raise ConfigError(f"{where}: {key} is a whole number; use int = [low, high] or choice")
    if (not isinstance(bounds, list) or len(bounds) != 2
            or any(isinstance(b, bool) or not isinstance(b, (int, float)) for b in bounds)):
        raise ConfigError(f"{where}: {kind} needs [low, high], two numbers")
    low, high = bounds
    if kind == "int" and not all(isinstance(b, int) for b in bounds):
        raise ConfigError(f"{where}: int needs whole-number bounds, found {bounds!r}")
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ConfigError(f"{where}: bounds must be finite, found {bounds!r}")
    if low > high or (kind != "int" and low == high):
        raise ConfigError(f"{where}: empty range [{low}, {high}]; low must be below high")
    if kind == "log_uniform" and low <= 0:
        raise ConfigError(f"{where}: log_uniform needs a low bound above 0, found {low}")
    for value in (low, high):
        _check_value(where, key, value, base)
    if kind == "int":
        return Dist("int", int(low), int(high))
    return Dist(kind, float(low), float(high))


def _plain_type(tp: Any) -> Any:
    """int, float, str, bool or list of a (possibly optional) knob type."""
    args = [a for a in typing.get_args(tp) if a is not type(None)]
    if args and typing.get_origin(tp) is not list:
        return args[0]
    return typing.get_origin(tp) or tp


def _as_type(value: Any, tp: Any) -> Any:
    return float(value) if tp is float and isinstance(value, int) else value


def _check_value(where: str, key: str, value: Any, base: dict) -> None:
    """ConfigError naming `where` unless the base config with key = value is valid."""
    try:
        validate(config_from_dict({**base, key: value}))
    except ConfigError as exc:
        raise ConfigError(f"{where}: {value!r} does not fit {key}: {exc}") from None


def _check_enqueue(spec: SweepSpec) -> None:
    for i, entry in enumerate(spec.enqueue):
        for key, value in entry.items():
            if key not in spec.search:
                raise ConfigError(f"sweep.enqueue[{i}].{key}: not a searched knob"
                                  + did_you_mean(key, list(spec.search)))
            if not spec.search[key].contains(value):
                raise ConfigError(f"sweep.enqueue[{i}].{key}: {value!r} is outside "
                                  f"{spec.search[key].as_dict()}")
