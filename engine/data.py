"""Resolve a run's dataset references into in-memory splits (the engine's data I/O)."""
from __future__ import annotations

import os
from pathlib import Path

from core.config import RunConfig
from core.errors import ConfigError, DataError
from core.records import TextExample, TokenExample

Splits = dict[str, list]


def workspace_root() -> Path:
    """Folder holding runs/, data/ and the SQLite store ($WORKBENCH_HOME, else ./workspace)."""
    return Path(os.environ.get("WORKBENCH_HOME") or Path.cwd() / "workspace").resolve()


def read_file(path: str | Path, *, task: str, cfg: RunConfig | None = None) -> list:
    """Read one data file into records, with the config's column and format options."""
    from core.formats import detect_format, read_any

    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError("data file not found", source=str(p))
    data = p.read_bytes()
    fmt = None if cfg is None or cfg.format == "auto" else cfg.format
    text_column = cfg.text_column if cfg is not None else "text"
    fmt = fmt or detect_format(p.name, data, text_column=text_column)
    opts: dict = {}
    if cfg is not None and fmt in ("csv", "tsv", "parquet"):
        opts = dict(text_column=cfg.text_column, label_column=cfg.label_column,
                    multi_label=cfg.task == "multilabel", label_delimiter=cfg.label_delimiter)
    rec_task = "ner" if task == "ner" else "classification"
    return read_any(data, p.name, fmt=fmt, task=rec_task, **opts)


def resolve_reference(ref: str, *, cfg: RunConfig) -> Splits:
    """Splits for 'demo:<name>', 'dataset:<id>' or a file path (a file gives {'train': ...})."""
    if ref.startswith("demo:"):
        from core.demo import make_demo

        return make_demo(ref.split(":", 1)[1], seed=0)
    if ref.startswith("dataset:"):
        from engine.store import Store

        return Store(workspace_root()).load_dataset(ref.split(":", 1)[1])
    return {"train": read_file(ref, task=cfg.task, cfg=cfg)}


def load_splits(cfg: RunConfig) -> Splits:
    """train/dev/test records for a run; dev carved from train (seeded 10%) when none is given."""
    splits = dict(resolve_reference(cfg.train, cfg=cfg))
    if "train" not in splits or not splits["train"]:
        raise ConfigError(f"train: {cfg.train!r} has no training examples")
    for name in ("dev", "test"):
        ref = getattr(cfg, name)
        if ref:
            got = resolve_reference(ref, cfg=cfg)
            splits[name] = got.get(name) or got["train"]
    if not splits.get("dev"):
        splits = carve_dev(splits, cfg)
    if cfg.max_train_examples:
        splits["train"] = splits["train"][: cfg.max_train_examples]
    _check_task(splits, cfg)
    return {k: v for k, v in splits.items() if k in ("train", "dev", "test") and v}


def carve_dev(splits: Splits, cfg: RunConfig) -> Splits:
    from core.splits import split_classification, split_ner

    train = splits["train"]
    if cfg.task == "ner":
        parts = split_ner(train, fractions=(0.9, 0.1, 0.0), seed=cfg.seed)
    else:
        parts = split_classification(train, fractions=(0.9, 0.1, 0.0), seed=cfg.seed)
    return {**splits, "train": parts["train"], "dev": parts["dev"]}


def _check_task(splits: Splits, cfg: RunConfig) -> None:
    want = TokenExample if cfg.task == "ner" else TextExample
    for name, records in splits.items():
        if records and not isinstance(records[0], want):
            kind = "token-tagged sentences" if cfg.task == "ner" else "texts with labels"
            raise ConfigError(f"task: {cfg.task!r} needs {kind}, but the {name} data holds "
                              f"{type(records[0]).__name__} records")
    if cfg.task == "classification":
        multi = [i for i, ex in enumerate(splits["train"]) if len(ex.labels) != 1]
        if multi:
            raise ConfigError(f"task: 'classification' is single-label, but train example "
                              f"{multi[0]} has {len(splits['train'][multi[0]].labels)} labels; "
                              "use task = 'multilabel'")
