"""Data references and records: the one place their rules live.

One reader (`read_records`, with `resolve_format` deciding the format), one task check
(`check_records`), one train/dev/test split (`split_records`, and `carve_dev` for a run with
no dev data), one reference check (`check_references`) and one config-file loader
(`load_config_file`). The training loop, the worker, the CLI and the Data and Train pages all
call these, so a file parses the same way on upload as it does as a training path.

Nothing here imports torch: the worker checks a run's references with it before the slow
import, and the Train page stays light. `workspace` arguments default to `workspace_root()`.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Sequence

from core.config import RunConfig
from core.errors import ConfigError, DataError
from core.records import TextExample, TokenExample

if TYPE_CHECKING:
    from engine.store import Store

Splits = dict[str, list]
SPLITS = ("train", "dev", "test")
REF_FIELDS = ("train", "dev", "test")  # the RunConfig fields that hold data references
DEV_FRACTION = 0.1  # share of train held out as dev when a run names no dev data


def workspace_root() -> Path:
    """Folder holding runs/, data/ and the SQLite store ($WORKBENCH_HOME, else ./workspace)."""
    return Path(os.environ.get("WORKBENCH_HOME") or Path.cwd() / "workspace").resolve()


# ---- reading ----------------------------------------------------------------------------------

def reader_task(task: str) -> str:
    """The record kind core.formats reads for a RunConfig task ('multilabel' reads as
    classification)."""
    return "ner" if task == "ner" else "classification"


def resolve_format(data: bytes, name: str, fmt: str, task: str, *,
                   text_column: str = "text") -> str:
    """The format to read: `fmt` unless 'auto', else detected from the name and content.

    A .tsv file is a table (text<TAB>label with a header) for the classification tasks;
    for NER it is CoNLL-style columns unless its header names `text_column` (a table, which
    the reader then refuses for NER with a message saying so). core.formats.detect_format
    alone would call a classification .tsv CoNLL when its header lacks `text_column`.
    """
    from core.formats import detect_format

    if fmt != "auto":
        return fmt
    if task != "ner" and name.lower().endswith(".tsv"):
        return "tsv"
    return detect_format(name, data, text_column=text_column)


def read_records(data: bytes, name: str, *, task: str, fmt: str = "auto",
                 text_column: str = "text", label_column: str = "label",
                 label_delimiter: str = "|") -> list:
    """Records of one file's bytes for `task` (a RunConfig task); `name` gives the format
    hints and names the file in errors. The record kind is checked here, the label count
    per text by check_records."""
    from core.formats import TABLE_FORMATS, read_any

    fmt = resolve_format(data, name, fmt, task, text_column=text_column)
    opts: dict = {}
    if fmt in TABLE_FORMATS:
        opts = dict(text_column=text_column, label_column=label_column,
                    multi_label=task == "multilabel", label_delimiter=label_delimiter)
    return read_any(data, name, fmt=fmt, task=reader_task(task), **opts)


TEXT_NAMES = ("text", "sentence", "utterance", "message", "content", "body", "review",
              "document", "query", "question")  # column names guessed as the text, in order
LABEL_NAMES = ("label", "labels", "category", "class", "intent", "target", "tag", "tags",
               "sentiment", "topic")  # and as the label(s)


def table_columns(data: bytes, name: str, fmt: str = "auto",
                  task: str = "classification") -> list[str] | None:
    """The header of a CSV/TSV/Parquet file, or None for other formats or unreadable data
    (the reader reports the real problem)."""
    import io

    import polars as pl
    from core.formats import TABLE_FORMATS

    fmt = resolve_format(data, name, fmt, task)
    if fmt not in TABLE_FORMATS:
        return None
    try:
        if fmt == "parquet":
            return list(pl.read_parquet_schema(io.BytesIO(data)))
        head = data.split(b"\n", 1)[0].removeprefix(b"\xef\xbb\xbf")
        frame = pl.read_csv(io.BytesIO(head), separator="\t" if fmt == "tsv" else ",",
                            n_rows=0, infer_schema=False)
        return frame.columns or None
    except Exception:  # noqa: BLE001 - the reader reports the real problem later
        return None


def guess_columns(columns: Sequence[str], text_column: str | None = None,
                  label_column: str | None = None) -> tuple[str, str]:
    """(text column, label column) of a table with header `columns`: the ones given, else a
    column named like a text (TEXT_NAMES, any case) or the first column, and a column named
    like a label (LABEL_NAMES) or the first other column. The Data page and `validate` use it."""
    columns = list(columns)

    def named(names: Sequence[str], exclude: str | None) -> str | None:
        lower = {c.strip().lower(): c for c in reversed(columns) if c != exclude}
        return next((lower[n] for n in names if n in lower), None)

    text = text_column or named(TEXT_NAMES, label_column) or next(
        (c for c in columns if c != label_column), columns[0] if columns else "text")
    label = label_column or named(LABEL_NAMES, text) or next(
        (c for c in columns if c != text), "label")
    return text, label


def read_bytes(path: Path) -> bytes:
    """The bytes of a file; DataError naming it when it cannot be read."""
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read file: {exc.strerror}", source=str(path)) from None


def read_file(path: str | Path, *, task: str, cfg: RunConfig | None = None) -> list:
    """Records of a data file, read with the config's format and column options."""
    p = Path(path).expanduser()
    if not p.is_file():
        raise DataError("data file not found", source=str(p))
    if cfg is None:
        return read_records(read_bytes(p), p.name, task=task)
    return read_records(read_bytes(p), p.name, task=task, fmt=cfg.format,
                        text_column=cfg.text_column, label_column=cfg.label_column,
                        label_delimiter=cfg.label_delimiter)


# ---- checking and splitting records --------------------------------------------------------

def check_records(records: Sequence, task: str, *, source: str) -> None:
    """Records that can serve `task`, or the error saying why not.

    ConfigError when they are the wrong kind (tagged sentences for a text task, or the
    reverse); DataError with `source` and the record's line for a text with other than one
    label in single-label ('classification') data.
    """
    want = TokenExample if task == "ner" else TextExample
    if records and not isinstance(records[0], want):
        kind = "token-tagged sentences" if task == "ner" else "texts with labels"
        raise ConfigError(f"task: {task!r} needs {kind}, but {source} holds "
                          f"{type(records[0]).__name__} records")
    if task != "classification":
        return
    for k, ex in enumerate(records):
        if len(ex.labels) != 1:
            where = "" if ex.line else f" (example {k + 1})"
            raise DataError("a text with other than one label in single-label data",
                            source=source, line=ex.line or None, expected="one label",
                            found=f"{len(ex.labels)} labels{where}; choose the multi-label "
                                  "task ('multilabel')")


def split_records(records: list, task: str, *, dev: float, test: float, seed: int) -> Splits:
    """train/dev/test of one list of records, seeded (NER keeps documents whole, the text
    tasks stratify by label); ConfigError when dev and test leave nothing for train."""
    from core.splits import split_classification, split_ner

    fractions = (round(1.0 - dev - test, 6), dev, test)
    if fractions[0] <= 0:
        raise ConfigError(f"fractions: dev ({dev}) and test ({test}) leave nothing for train")
    if task == "ner":
        return split_ner(records, fractions=fractions, seed=seed)
    return split_classification(records, fractions=fractions, seed=seed)


def carve_dev(splits: Splits, cfg: RunConfig) -> Splits:
    """`splits` with DEV_FRACTION of train held out (seeded by cfg.seed) as dev."""
    parts = split_records(splits["train"], cfg.task, dev=DEV_FRACTION, test=0.0, seed=cfg.seed)
    return {**splits, "train": parts["train"], "dev": parts["dev"]}


# ---- references --------------------------------------------------------------------------

def resolve_reference(ref: str, *, cfg: RunConfig, workspace: Path | None = None) -> Splits:
    """Splits for 'demo:<name>', 'dataset:<id>' (stored under `workspace`) or a file path
    (a file gives {'train': ...})."""
    if ref.startswith("demo:"):
        from core.demo import make_demo

        return make_demo(ref.split(":", 1)[1], seed=0)
    if ref.startswith("dataset:"):
        from engine.store import Store

        ds_id, root = ref.split(":", 1)[1], workspace or workspace_root()
        if remote_worker():  # on another machine: the folder alone, never the SQLite index
            return Store.load_dataset_files(root, ds_id)
        return Store(root).load_dataset(ds_id)
    return {"train": read_file(ref, task=cfg.task, cfg=cfg)}


def remote_worker() -> bool:
    """Whether this process is a worker the Ray executor started (WORKBENCH_REMOTE_WORKER),
    possibly on another machine: it then reads and writes run and dataset folders on the
    shared storage but never opens the workspace's SQLite index (see docs/CLUSTER.md)."""
    return os.environ.get("WORKBENCH_REMOTE_WORKER", "") not in ("", "0")


def _source(ref: str, split: str) -> str:
    """How errors name the records of `split` read from `ref`."""
    return f"{ref} ({split} split)" if ref.startswith(("demo:", "dataset:")) else ref


def load_splits(cfg: RunConfig, *, workspace: Path | None = None) -> Splits:
    """train/dev/test records for a run; dev carved from train (seeded DEV_FRACTION) when
    none is given; then the first max_train_examples of train, then a train_fraction share
    of those (core.curve.nested_subset, seeded by cfg.seed: nested across shares, whole
    documents); every split checked against the task (check_records)."""
    splits = dict(resolve_reference(cfg.train, cfg=cfg, workspace=workspace))
    if "train" not in splits or not splits["train"]:
        raise ConfigError(f"train: {cfg.train!r} has no training examples")
    sources = {name: _source(cfg.train, name) for name in splits}
    for name in ("dev", "test"):
        ref = getattr(cfg, name)
        if ref:
            got = resolve_reference(ref, cfg=cfg, workspace=workspace)
            splits[name] = got.get(name) or got["train"]
            sources[name] = _source(ref, name if got.get(name) else "train")
    if not splits.get("dev"):
        splits = carve_dev(splits, cfg)
        sources["dev"] = sources["train"]
    if cfg.max_train_examples:
        splits["train"] = splits["train"][: cfg.max_train_examples]
    if cfg.train_fraction < 1.0:  # after dev carving: dev is the same for every share
        from core.curve import nested_subset

        splits["train"] = nested_subset(splits["train"], cfg.train_fraction, cfg.seed)
    splits = {k: splits[k] for k in SPLITS if splits.get(k)}
    for name, records in splits.items():
        check_records(records, cfg.task, source=sources[name])
    return splits


def check_references(cfg: RunConfig, store: Store | None = None, *,
                     workspace: Path | None = None) -> None:
    """ConfigError naming the field unless every data reference of `cfg` exists and suits
    its task, and max_length fits the model (check_max_length); relative file paths are
    made absolute (in place).

    'dataset:' ids are looked up in `store` (else the store of `workspace`, opened only when
    a run names a stored dataset); no data is read, so this is quick and never imports torch.
    """
    datasets: dict | None = None
    for key in REF_FIELDS:
        ref = getattr(cfg, key)
        if not ref:
            continue
        if ref.startswith("demo:"):
            _check_task(key, ref, _demo_task(key, ref.split(":", 1)[1]), cfg.task)
        elif ref.startswith("dataset:"):
            if datasets is None:
                datasets = _stored_tasks(store, workspace)
            ds_id = ref.split(":", 1)[1]
            if ds_id not in datasets:
                raise ConfigError(f"{key}: no stored dataset {ds_id!r}; save one on the Data "
                                  f"page or pick another")
            _check_task(key, ref, datasets[ds_id], cfg.task)
        else:
            path = Path(ref).expanduser().resolve()
            if not path.is_file():
                raise ConfigError(f"{key}: no file {str(path)!r} ({key} data file not found); "
                                  "give an existing file path, 'dataset:<id>' or 'demo:<name>'")
            setattr(cfg, key, str(path))
    check_max_length(cfg)


def check_max_length(cfg: RunConfig) -> None:
    """ConfigError naming max_length when it is more than the positions of cfg.model (its
    tokenizer's model_max_length, or its position embeddings: engine.models.position_limit).
    Longer inputs would end the run in a tensor-size error at the first long sentence; within
    the limit no input is longer (NER windows and truncated texts hold at most max_length
    sub-tokens). Skipped for a model that cannot be read without a download; its load says why.
    """
    from engine.models import position_limit

    found = position_limit(cfg.model)
    if found is not None and cfg.max_length > found[0]:
        limit, model = found
        raise ConfigError(f"max_length: {cfg.max_length} is more than the {limit} positions of "
                          f"model {model}; set it to at most {limit} (longer NER sentences are "
                          "split into windows, longer texts truncated)")


def _demo_task(key: str, name: str) -> str:
    """The task of demo `name` (full 'demo-ner' or short 'ner' form, as make_demo takes)."""
    from core.demo import DEMOS

    info = DEMOS.get(name) or DEMOS.get(f"demo-{name}")
    if info is None:
        raise ConfigError(f"{key}: unknown demo dataset {name!r}; known: "
                          f"{', '.join(sorted(DEMOS))}")
    return info["task"]


def _stored_tasks(store: Store | None, workspace: Path | None) -> dict[str, str]:
    """{dataset id: task} of the store (or of the store under `workspace`)."""
    if store is None:
        from engine.store import Store

        if remote_worker():  # the folders alone, never the SQLite index
            return Store.dataset_tasks_from_files(workspace or workspace_root())
        store = Store(workspace or workspace_root())
    return {row["id"]: row["task"] for row in store.list_datasets()}


def _check_task(key: str, ref: str, data_task: str, task: str) -> None:
    """ConfigError when the data of `ref` cannot serve `task` (classification data can
    serve multilabel)."""
    if data_task != task and not (task == "multilabel" and data_task == "classification"):
        raise ConfigError(f"{key}: {ref} holds {data_task} data, but task is {task!r}; pick "
                          f"matching data or change the task")


# ---- config files ------------------------------------------------------------------------

def load_config_file(path: Path, overrides: Sequence[str] = ()) -> RunConfig:
    """RunConfig from a .toml or .json file plus KEY=VALUE overrides (values parsed as TOML);
    validated, max_length checked against the model (check_max_length). Relative data paths
    (and a model folder next to the file) are taken relative to the config file."""
    from core.config import config_from_dict, config_to_dict, from_json, from_toml, validate

    path = Path(path)
    text = read_bytes(path).decode("utf-8", errors="replace")
    cfg = from_json(text) if path.suffix == ".json" else from_toml(text)
    if overrides:
        cfg = config_from_dict(_apply_overrides(config_to_dict(cfg), overrides))
    relative_to(cfg, path.resolve().parent)
    validate(cfg)
    check_max_length(cfg)  # `train --config` and `queue submit` refuse it before any run exists
    return cfg


def relative_to(cfg: RunConfig, base: Path) -> RunConfig:
    """`cfg` (in place) with relative data paths, and a relative model folder that exists
    there, taken relative to the folder `base` of the file that named them."""
    for key in REF_FIELDS:
        ref = getattr(cfg, key)
        if ref and ":" not in ref and not Path(ref).is_absolute():
            candidate = Path(os.path.normpath(base / ref))  # tidy "..", keep symlinks
            if candidate.exists() or not Path(ref).exists():
                setattr(cfg, key, str(candidate))
    # so is a relative model folder, when there is one next to the config (else a hub id)
    if not Path(cfg.model).is_absolute() and (base / cfg.model).is_dir():
        cfg.model = str(base / cfg.model)
    return cfg


def _apply_overrides(d: dict, overrides: Sequence[str]) -> dict:
    """`d` with each 'KEY=VALUE' set (VALUE parsed as TOML, else kept as the string)."""
    import tomllib

    for item in overrides:
        key, sep, value = item.partition("=")
        if not sep:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        try:
            d[key.strip()] = tomllib.loads(f"v = {value}")["v"]
        except tomllib.TOMLDecodeError:
            d[key.strip()] = value
    return d
