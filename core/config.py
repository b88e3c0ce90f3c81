"""Every knob of a run in one dataclass with its default and help (nanoGPT style).

A run config travels as a dict (the dashboard), TOML (the command line) or JSON (the run
folder's config.json). Reading one rejects unknown keys (suggesting the closest valid one)
and ill-typed values; `validate` checks values and `validate_names` checks registry names
(losses, class weights, schedules, augmenters), each error a ConfigError naming the key.
"""
from __future__ import annotations

import dataclasses
import difflib
import json
import math
import re
import tomllib
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Mapping

from core.errors import ConfigError
from core.registry import Registry
from core.spans import SCHEMES

TASKS = ("ner", "classification", "multilabel")
FORMATS = ("auto", "conll", "jsonl", "csv", "tsv", "parquet")  # "auto" + core.formats.FORMATS
ADAPTERS = ("full", "frozen", "lora")
ALIGNMENTS = ("first", "all")
DECODINGS = ("viterbi", "argmax")
METRICS = {"ner": ("f1_micro", "f1_macro"),
           "classification": ("accuracy", "f1_macro", "f1_micro"),
           "multilabel": ("accuracy", "f1_macro", "f1_micro")}
PRECISIONS = ("auto", "fp32", "bf16", "fp16")
TRACKERS = ("mlflow", "tensorboard")  # the `tracking` backends (engine/tracking.py)
_URI_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
GROUPS = ("data", "model", "loss", "optimizer", "regularisation", "evaluation", "hardware",
          "augmentation")
_DEVICE = re.compile(r"^(auto|cpu|cuda|cuda:[0-9]+)$")


def _knob(group: str, default: Any, help: str) -> Any:
    """A dataclass field with its stage group and one-line help kept in metadata."""
    meta = {"group": group, "help": help}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


@dataclass
class RunConfig:
    """All settings of one fine-tuning run; defaults give a sensible NER run on the demo data."""

    # ---- data: what to learn from --------------------------------------------------------
    task: str = _knob("data", "ner", "What to learn: 'ner' (a tag per word), 'classification' "
                      "(one label per text) or 'multilabel' (any number of labels per text).")
    train: str = _knob("data", "demo:ner", "Training data: a file path, a stored dataset "
                       "'dataset:<id>', or a bundled demo 'demo:<name>'.")
    dev: str | None = _knob("data", None, "Development data for evaluation and early stopping; "
                            "unset: 10% of train, split with the seed.")
    test: str | None = _knob("data", None, "Held-out test data, scored once at the end; "
                             "unset: none.")
    format: str = _knob("data", "auto", "File format of the data files; 'auto' detects it from "
                        "the name and content.")
    tag_scheme: str = _knob("data", "auto", "Tag scheme of the input files (IOB1, IOB2, IOE1, "
                            "IOE2, IOBES, BILOU, PLAIN) or 'auto' to detect it.")
    train_scheme: str = _knob("data", "IOB2", "Tag scheme the model learns; input tags are "
                              "converted to it.")
    text_column: str = _knob("data", "text", "Column (CSV/Parquet) or field (JSONL) holding the "
                             "text, for classification.")
    label_column: str = _knob("data", "label", "Column or field holding the label(s), for "
                              "classification.")
    label_delimiter: str = _knob("data", "|", "Separator between labels of one text in a "
                                 "multilabel column.")
    max_train_examples: int | None = _knob("data", None, "Use only the first N training "
                                           "examples (quick trials); unset: all.")
    train_fraction: float = _knob("data", 1.0, "Train on this share (0-1] of the training "
                                  "data: a seeded subset, nested across shares and taken by "
                                  "document when documents exist (learning curves).")
    name: str = _knob("data", "", "Display name of the run in the dashboard.")

    # ---- model and adapter: which encoder, and which of its weights train -----------------
    model: str = _knob("model", "default", "Encoder: 'default' (bundled MiniLM-L6), a local "
                       "folder, or a Hugging Face hub id.")
    adapter: str = _knob("model", "full", "Which weights train: 'full' (all), 'frozen' (only "
                         "the task head) or 'lora' (low-rank adapters + head).")
    lora_r: int = _knob("model", 8, "LoRA rank: size of the low-rank update matrices.")
    lora_alpha: int = _knob("model", 16, "LoRA scaling numerator; updates are scaled by "
                            "alpha / r.")
    lora_dropout: float = _knob("model", 0.1, "Dropout on the LoRA branch input.")
    lora_target_modules: list[str] = _knob("model", ["query", "value"], "Names of the linear "
                                           "layers that get LoRA adapters.")
    label_alignment: str = _knob("model", "first", "Which sub-tokens of a word carry its "
                                 "label: 'first' (others ignored) or 'all'.")
    max_length: int = _knob("model", 128, "Sub-tokens per model input; longer NER sentences are "
                            "split into overlapping windows, longer texts truncated.")
    window_stride: int = _knob("model", 32, "Sub-tokens shared by consecutive windows of a long "
                               "sentence.")
    context: int = _knob("model", 0, "NER: sub-tokens of the surrounding text (the neighbouring "
                         "sentences of the same document, in file order) each window also "
                         "reads on each side, within max_length; only the sentence itself is "
                         "labelled. 0: each sentence alone.")
    decoding: str = _knob("model", "viterbi", "NER: 'viterbi' picks the most probable tag "
                          "sequence that is valid in train_scheme (no I-X after O in IOB2); "
                          "'argmax' the most probable tag of each word.")

    # ---- loss: what the optimiser minimises ------------------------------------------------
    loss: str = _knob("loss", "cross_entropy.v1", "Loss function from the loss registry "
                      "(cross_entropy.v1, focal.v1, bce.v1).")
    label_smoothing: float = _knob("loss", 0.0, "Share of the target probability spread evenly "
                                   "over all classes.")
    class_weights: str = _knob("loss", "none", "Per-class loss weights: 'none' or a registry "
                               "name (inverse_frequency.v1, inverse_sqrt.v1, effective_number.v1).")
    class_weight_beta: float = _knob("loss", 0.999, "Beta of effective_number.v1 class weights "
                                     "(closer to 1: stronger reweighting).")
    focal_gamma: float = _knob("loss", 2.0, "Focusing exponent of focal.v1; 0 is plain cross "
                               "entropy.")

    # ---- optimizer and schedule: AdamW and the learning rate as a function of the step -----
    learning_rate: float = _knob("optimizer", 5e-5, "Peak learning rate of AdamW.")
    adam_beta1: float = _knob("optimizer", 0.9, "AdamW decay rate of the gradient average.")
    adam_beta2: float = _knob("optimizer", 0.999, "AdamW decay rate of the squared-gradient "
                              "average.")
    adam_eps: float = _knob("optimizer", 1e-8, "AdamW term added to the denominator for "
                            "stability.")
    schedule: str = _knob("optimizer", "linear.v1", "Learning-rate schedule after warmup "
                          "(constant.v1, linear.v1, cosine.v1, polynomial.v1, inverse_sqrt.v1).")
    warmup_ratio: float = _knob("optimizer", 0.1, "Share of the training steps spent raising "
                                "the learning rate from 0.")
    lr_min_ratio: float = _knob("optimizer", 0.0, "Final learning rate as a share of the peak.")
    lr_cycles: float = _knob("optimizer", 0.5, "Cosine periods over training (0.5: one decay "
                             "from peak to minimum).")
    lr_power: float = _knob("optimizer", 1.0, "Exponent of the polynomial decay (1: linear).")
    epochs: int = _knob("optimizer", 3, "Passes over the training data.")
    max_steps: int | None = _knob("optimizer", None, "Stop after this many optimiser steps; "
                                  "unset: epochs decide.")
    batch_size: int = _knob("optimizer", 32, "Examples (NER: windows) per forward pass.")
    grad_accum: int = _knob("optimizer", 1, "Forward passes whose gradients add up before one "
                            "optimiser step.")

    # ---- regularisation: what keeps the model from memorising -----------------------------
    weight_decay: float = _knob("regularisation", 0.01, "AdamW decoupled weight decay; never "
                                "applied to biases and LayerNorm weights.")
    dropout: float | None = _knob("regularisation", None, "Override the encoder's hidden and "
                                  "attention dropout; unset: keep the model's own.")
    grad_clip: float | None = _knob("regularisation", 1.0, "Clip the gradient norm to this "
                                    "value; unset: no clipping.")

    # ---- evaluation and early stopping -----------------------------------------------------
    eval_every: int | None = _knob("evaluation", None, "Evaluate on dev every N optimiser "
                                   "steps; unset: at the end of each epoch.")
    metric: str = _knob("evaluation", "f1_micro", "Dev score that picks the best checkpoint "
                        "(NER: f1_micro, f1_macro; classification: also accuracy).")
    early_stopping_patience: int | None = _knob("evaluation", None, "Stop after this many "
                                                "evaluations without a better dev score; "
                                                "unset: never stop early.")
    checkpoint_every: int | None = _knob("evaluation", None, "Save a resumable checkpoint every "
                                         "N optimiser steps; unset: at each evaluation.")
    checkpoint_minutes: float | None = _knob("evaluation", 10.0, "Also save a resumable "
                                             "checkpoint once this many minutes of training "
                                             "have passed since the last one; unset: never by "
                                             "time.")
    keep_checkpoints: int = _knob("evaluation", 0, "Once the run completes, keep its N newest "
                                  "step checkpoints with their optimizer state (to train on "
                                  "from); 0: only the final step's weights, no optimizer state "
                                  "(model/ holds the best weights).")
    repeats: int = _knob("evaluation", 1, "Launch N runs of this config with seeds seed, "
                         "seed+1, ..., shown as one group (mean, std, min, max).")
    log_every: int = _knob("evaluation", 10, "Write training loss and learning rate every N "
                           "optimiser steps.")
    # experiment tracking (opt-in, engine/tracking.py; needs requirements-tracking.txt)
    tracking: str = _knob("evaluation", "", "Experiment trackers that also record the run "
                          "(params, curves, final scores, the model): 'mlflow', 'tensorboard' "
                          "or both, comma-separated ('mlflow,tensorboard'); empty: none.")
    tracking_uri: str = _knob("evaluation", "", "MLflow tracking URI, e.g. "
                              "'sqlite:///path/mlflow.db' or 'http://host:5000'; empty: "
                              "sqlite:///<workspace>/mlflow.db. TensorBoard always writes "
                              "<run folder>/tensorboard/.")
    tracking_experiment: str = _knob("evaluation", "workbench", "MLflow experiment the run is "
                                     "logged under (created when missing).")

    # ---- hardware ---------------------------------------------------------------------------
    device: str = _knob("hardware", "auto", "Where to train: 'auto' (a GPU when present), "
                        "'cpu', 'cuda' or 'cuda:N'.")
    precision: str = _knob("hardware", "auto", "Number format: 'auto' (bf16 on a GPU that "
                           "supports it, else fp32), 'fp32', 'bf16' or 'fp16'.")
    num_devices: int = _knob("hardware", 1, "Number of GPUs to train on.")
    num_nodes: int = _knob("hardware", 1, "Number of machines to train on (more than 1 "
                           "needs the ray executor; not supported yet).")
    threads: int | None = _knob("hardware", None, "CPU threads for torch; unset: torch's "
                                "default.")
    seed: int = _knob("hardware", 42, "Seed of every random choice (init, shuffling, dropout, "
                      "augmentation, dev split).")
    fast_path: bool = _knob("hardware", True, "Fused AdamW, length-bucketed batches and the "
                            "tokenisation cache; off gives plain shuffled batches (a baseline).")
    bucket_batches: int = _knob("hardware", 50, "Length bucketing (fast path): batches are "
                                "sorted by length within windows of this many batches, so "
                                "each holds similar lengths (less padding); 1: random batches.")
    cuda_graphs: bool = _knob("hardware", True, "On a GPU (fast path, one device): replay each "
                              "batch shape's training step as a CUDA graph, far fewer kernel "
                              "launches; off: eager steps.")

    # ---- augmentation: label-preserving edits of the training data --------------------------
    augment: list[dict] = _knob("augmentation", [], "Augmenters applied to training data, each "
                                "a table like {name = 'mention_replacement.v1', p = 0.3, n = 1}.")


_FIELDS: dict[str, dataclasses.Field] = {f.name: f for f in dataclasses.fields(RunConfig)}
_TYPES: dict[str, Any] = typing.get_type_hints(RunConfig)
FIELD_HELP: dict[str, str] = {name: f.metadata["help"] for name, f in _FIELDS.items()}
FIELD_GROUPS: dict[str, list[str]] = {
    g: [name for name, f in _FIELDS.items() if f.metadata["group"] == g] for g in GROUPS}
# Human labels of the knobs, for forms and docs (the key itself stays in the help text).
_LABELS = {
    "task": "Task", "train": "Training data", "dev": "Dev data", "test": "Test data",
    "format": "File format", "tag_scheme": "Tag scheme of the files",
    "train_scheme": "Tag scheme to learn", "text_column": "Text column",
    "label_column": "Label column", "label_delimiter": "Label separator (multi-label)",
    "max_train_examples": "Training examples (at most)",
    "train_fraction": "Share of the training data", "name": "Run name",
    "model": "Encoder model", "adapter": "Weights that train", "lora_r": "LoRA rank",
    "lora_alpha": "LoRA alpha", "lora_dropout": "LoRA dropout",
    "lora_target_modules": "LoRA target layers",
    "label_alignment": "Sub-tokens carrying a word's label",
    "max_length": "Sub-tokens per input (max)", "window_stride": "Window overlap (sub-tokens)",
    "context": "Context sub-tokens on each side", "decoding": "Tag decoding",
    "loss": "Loss function", "label_smoothing": "Label smoothing",
    "class_weights": "Class weights", "class_weight_beta": "Class-weight beta",
    "focal_gamma": "Focal gamma", "learning_rate": "Peak learning rate",
    "adam_beta1": "Adam beta 1 (gradient average decay)",
    "adam_beta2": "Adam beta 2 (squared-gradient decay)", "adam_eps": "Adam epsilon",
    "schedule": "Learning-rate schedule", "warmup_ratio": "Warmup (share of steps)",
    "lr_min_ratio": "Final learning rate (share of peak)", "lr_cycles": "Cosine cycles",
    "lr_power": "Polynomial decay power", "epochs": "Epochs",
    "max_steps": "Optimiser steps (at most)", "batch_size": "Batch size",
    "grad_accum": "Gradient accumulation (passes per step)", "weight_decay": "Weight decay",
    "dropout": "Dropout override", "grad_clip": "Gradient clipping (max norm)",
    "eval_every": "Evaluate every N steps", "metric": "Dev score that picks the best",
    "early_stopping_patience": "Early-stopping patience (evaluations)",
    "checkpoint_every": "Checkpoint every N steps",
    "checkpoint_minutes": "Checkpoint every N minutes",
    "keep_checkpoints": "Checkpoints kept after the run", "repeats": "Repeats (one per seed)",
    "log_every": "Log every N steps", "tracking": "Experiment trackers",
    "tracking_uri": "MLflow tracking URI", "tracking_experiment": "MLflow experiment",
    "device": "Device", "precision": "Number precision", "num_devices": "GPUs to train on",
    "num_nodes": "Machines to train on",
    "threads": "CPU threads", "seed": "Random seed",
    "fast_path": "Fast path (fused AdamW, bucketing, cache)",
    "bucket_batches": "Length bucketing (batches per window)", "cuda_graphs": "CUDA graphs",
    "augment": "Augmenters"}
FIELD_LABELS: dict[str, str] = {name: _LABELS.get(name, name) for name in _FIELDS}


# ---- reading and writing ---------------------------------------------------------------------

def config_from_dict(d: dict) -> RunConfig:
    """A RunConfig from a mapping; ConfigError on unknown keys or ill-typed values.

    Ints are accepted (and converted) where floats are expected; bools are not ints here.
    Values are type-checked only: call `validate` for ranges and choices.
    """
    if not isinstance(d, dict):
        raise ConfigError(f"a run config must be a table of key = value, found {_show(d)}")
    values = {}
    for key, value in d.items():
        if key not in _FIELDS:
            raise ConfigError(_unknown_key_message(key))
        if key == "tracking" and isinstance(value, list) and all(isinstance(v, str) for v in value):
            value = ",".join(value)  # tracking = ["mlflow", "tensorboard"] reads as "mlflow,tensorboard"
        values[key] = _check_type(key, value, _TYPES[key])
    return RunConfig(**values)


def trackers(cfg: "RunConfig | Mapping[str, Any]") -> tuple[str, ...]:
    """The tracking backends a config names, in order ("mlflow", "tensorboard"); () for none."""
    text = cfg.get("tracking", "") if isinstance(cfg, Mapping) else cfg.tracking
    return tuple(name.strip().lower() for name in (text or "").split(",") if name.strip())


def config_to_dict(cfg: RunConfig) -> dict:
    """Every field of `cfg` as plain JSON-compatible values (deep copies)."""
    return dataclasses.asdict(cfg)


def to_json(cfg: RunConfig) -> str:
    """The config as indented JSON, every key present (None as null)."""
    return json.dumps(config_to_dict(cfg), indent=2, ensure_ascii=False, allow_nan=False)


def from_json(text: str) -> RunConfig:
    """Parse JSON text into a type-checked RunConfig (not value-validated)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigError(f"config is not valid JSON: {exc}") from None
    return config_from_dict(data)


def to_toml(cfg: RunConfig) -> str:
    """The config as TOML: flat keys by group, then one [[augment]] table per augmenter.

    TOML has no null: a None whose default is None is left out (reading falls back to the
    default); a None whose default is a value (grad_clip) is written as the string "none".
    """
    lines: list[str] = []
    for group, names in FIELD_GROUPS.items():
        body = []
        for name in names:
            value = getattr(cfg, name)
            if name == "augment":
                continue
            if value is None:
                if _FIELDS[name].default is None:
                    continue
                value = "none"
            body.append(f"{name} = {_toml_value(value)}")
        if body:
            lines += [f"# {group}"] + body + [""]
    for entry in cfg.augment:
        lines.append("[[augment]]")
        lines += [f"{_toml_key(k)} = {_toml_value(v)}" for k, v in entry.items()]
        lines.append("")
    return "\n".join(lines)


def from_toml(text: str) -> RunConfig:
    """Parse TOML text into a type-checked RunConfig (not value-validated)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config is not valid TOML: {exc}") from None
    for key, value in data.items():
        # the string "none" stands for None where a field may be None but is no string
        if value == "none" and key in _TYPES and _is_optional_non_str(_TYPES[key]):
            data[key] = None
    return config_from_dict(data)


# ---- validation ------------------------------------------------------------------------------

def validate(cfg: RunConfig) -> None:
    """Check value ranges, choices and combinations; ConfigError naming the first bad key."""
    for check in (_validate_data, _validate_model, _validate_loss, _validate_optimizer,
                  _validate_evaluation, _validate_hardware, _validate_augment):
        check(cfg)


def validate_names(cfg: RunConfig) -> None:
    """Check loss, class-weight, schedule and augmenter names against their registries.

    The registries live in core.losses, core.schedules and core.augment, imported here (not
    at module import): core.losses imports torch, and config must load without it (the
    worker checks a config before the slow torch import).
    """
    import importlib  # import_module reads sys.modules, so tests can stand in fake modules

    losses = importlib.import_module("core.losses")
    _check_name("loss", cfg.loss, _registries(losses, exclude="weight"))
    if cfg.class_weights != "none":
        _check_name("class_weights", cfg.class_weights,
                    _registries(losses, include="weight"), extra=("none",))
    schedules = importlib.import_module("core.schedules")
    _check_name("schedule", cfg.schedule, _registries(schedules))
    augment = importlib.import_module("core.augment")
    for i, entry in enumerate(cfg.augment):
        _check_name(f"augment[{i}].name", entry.get("name"), _registries(augment))


def _validate_data(cfg: RunConfig) -> None:
    _choice("task", cfg.task, TASKS)
    _nonempty("train", cfg.train)
    for key in ("dev", "test"):
        if getattr(cfg, key) is not None:
            _nonempty(key, getattr(cfg, key))
    _choice("format", cfg.format, FORMATS)
    _choice("tag_scheme", cfg.tag_scheme, ("auto",) + SCHEMES)
    _choice("train_scheme", cfg.train_scheme, SCHEMES)
    if cfg.task != "ner":
        if cfg.tag_scheme != "auto":
            raise ConfigError(f"tag_scheme: tag schemes apply to task 'ner' only; task "
                              f"{cfg.task!r} needs tag_scheme = \"auto\", found {cfg.tag_scheme!r}")
        if cfg.train_scheme != "IOB2":
            raise ConfigError(f"train_scheme: tag schemes apply to task 'ner' only; task "
                              f"{cfg.task!r} needs the default \"IOB2\", "
                              f"found {cfg.train_scheme!r}")
    _nonempty("text_column", cfg.text_column)
    _nonempty("label_column", cfg.label_column)
    _nonempty("label_delimiter", cfg.label_delimiter)
    _at_least("max_train_examples", cfg.max_train_examples, 1)
    if not 0.0 < cfg.train_fraction <= 1.0:
        raise ConfigError(f"train_fraction: must be a share of the training data in (0, 1], "
                          f"found {cfg.train_fraction!r}")


def _validate_model(cfg: RunConfig) -> None:
    _nonempty("model", cfg.model)
    _choice("adapter", cfg.adapter, ADAPTERS)
    _at_least("lora_r", cfg.lora_r, 1)
    _at_least("lora_alpha", cfg.lora_alpha, 1)
    _unit("lora_dropout", cfg.lora_dropout)
    if cfg.adapter == "lora" and not cfg.lora_target_modules:
        raise ConfigError("lora_target_modules: adapter 'lora' needs at least one module name, "
                          "e.g. [\"query\", \"value\"]")
    for name in cfg.lora_target_modules:
        _nonempty("lora_target_modules", name)
    _choice("label_alignment", cfg.label_alignment, ALIGNMENTS)
    _at_least("max_length", cfg.max_length, 16)
    _at_least("window_stride", cfg.window_stride, 0)
    # a window holds max_length minus [CLS] and [SEP] sub-tokens; the overlap must be smaller
    if cfg.window_stride >= cfg.max_length - 2:
        raise ConfigError(f"window_stride: must be smaller than max_length - 2 = "
                          f"{cfg.max_length - 2} (the sub-tokens a window holds), found "
                          f"{cfg.window_stride}")
    _at_least("context", cfg.context, 0)
    _choice("decoding", cfg.decoding, DECODINGS)
    if cfg.task != "ner" and cfg.context:
        raise ConfigError(f"context: neighbouring sentences are read by task 'ner' only; task "
                          f"{cfg.task!r} needs context = 0, found {cfg.context}")
    if cfg.dropout is not None:
        _unit("dropout", cfg.dropout)


def _validate_loss(cfg: RunConfig) -> None:
    _nonempty("loss", cfg.loss)
    _unit("label_smoothing", cfg.label_smoothing)
    _nonempty("class_weights", cfg.class_weights)
    _unit("class_weight_beta", cfg.class_weight_beta)
    _at_least("focal_gamma", cfg.focal_gamma, 0.0)


def _validate_optimizer(cfg: RunConfig) -> None:
    _positive("learning_rate", cfg.learning_rate)
    _at_least("weight_decay", cfg.weight_decay, 0.0)
    _unit("adam_beta1", cfg.adam_beta1)
    _unit("adam_beta2", cfg.adam_beta2)
    _positive("adam_eps", cfg.adam_eps)
    _nonempty("schedule", cfg.schedule)
    _unit("warmup_ratio", cfg.warmup_ratio)
    _finite("lr_min_ratio", cfg.lr_min_ratio)
    if not 0.0 <= cfg.lr_min_ratio <= 1.0:
        raise ConfigError(f"lr_min_ratio: must be between 0 and 1, found {cfg.lr_min_ratio}")
    _positive("lr_cycles", cfg.lr_cycles)
    _positive("lr_power", cfg.lr_power)
    _at_least("epochs", cfg.epochs, 1)
    _at_least("max_steps", cfg.max_steps, 1)
    _at_least("batch_size", cfg.batch_size, 1)
    _at_least("grad_accum", cfg.grad_accum, 1)
    _at_least("bucket_batches", cfg.bucket_batches, 1)
    if cfg.grad_clip is not None:
        _positive("grad_clip", cfg.grad_clip)


def _validate_evaluation(cfg: RunConfig) -> None:
    _at_least("eval_every", cfg.eval_every, 1)
    _choice("metric", cfg.metric, METRICS.get(cfg.task, ()), f" for task {cfg.task!r}")
    _at_least("early_stopping_patience", cfg.early_stopping_patience, 1)
    _at_least("checkpoint_every", cfg.checkpoint_every, 1)
    if cfg.checkpoint_minutes is not None:
        _positive("checkpoint_minutes", cfg.checkpoint_minutes)
    _at_least("keep_checkpoints", cfg.keep_checkpoints, 0)
    _at_least("log_every", cfg.log_every, 1)
    _at_least("repeats", cfg.repeats, 1)
    names = trackers(cfg)
    for name in names:
        _choice("tracking", name, TRACKERS)
    if len(set(names)) != len(names):
        raise ConfigError(f"tracking: names a tracker twice, found {cfg.tracking!r}")
    if cfg.tracking_uri.strip() and not _URI_SCHEME.match(cfg.tracking_uri.strip()):
        raise ConfigError(f"tracking_uri: expected a URI such as 'sqlite:///path/mlflow.db' or "
                          f"'http://host:5000' (empty: the workspace's mlflow.db), "
                          f"found {cfg.tracking_uri!r}")
    _nonempty("tracking_experiment", cfg.tracking_experiment)


def _validate_hardware(cfg: RunConfig) -> None:
    if not _DEVICE.match(cfg.device):
        raise ConfigError(f"device: expected 'auto', 'cpu', 'cuda' or 'cuda:N', "
                          f"found {cfg.device!r}")
    _choice("precision", cfg.precision, PRECISIONS)
    if cfg.precision == "fp16" and cfg.device == "cpu":
        raise ConfigError("precision: 'fp16' needs a GPU; use 'fp32' or 'bf16' with "
                          "device 'cpu'")
    _at_least("num_devices", cfg.num_devices, 1)
    _at_least("num_nodes", cfg.num_nodes, 1)
    _at_least("threads", cfg.threads, 1)
    if not 0 <= cfg.seed < 2**32:
        raise ConfigError(f"seed: must be between 0 and 2**32 - 1, found {cfg.seed}")


def _validate_augment(cfg: RunConfig) -> None:
    for i, entry in enumerate(cfg.augment):
        key = f"augment[{i}]"
        if not isinstance(entry.get("name"), str) or not entry["name"]:
            raise ConfigError(f"{key}.name: each augmenter needs a name, e.g. "
                              f"name = \"mention_replacement.v1\"")
        if "p" in entry:
            p = entry["p"]
            if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
                raise ConfigError(f"{key}.p: expected a probability between 0 and 1, "
                                  f"found {_show(p)}")
        if "n" in entry:
            n = entry["n"]
            if isinstance(n, bool) or not isinstance(n, int) or n < 1:
                raise ConfigError(f"{key}.n: expected a whole number of copies >= 1, "
                                  f"found {_show(n)}")


# ---- small checks, each raising a ConfigError that names the key ----------------------------

def _choice(key: str, value: str, allowed: tuple[str, ...], where: str = "") -> None:
    if value not in allowed:
        raise ConfigError(f"{key}: expected one of {', '.join(map(repr, allowed))}{where}, "
                          f"found {value!r}" + _did_you_mean(value, allowed))


def _nonempty(key: str, value: str) -> None:
    if not value.strip():
        raise ConfigError(f"{key}: must not be empty")


def _finite(key: str, value: float) -> None:
    if not math.isfinite(value):
        raise ConfigError(f"{key}: must be a finite number, found {value}")


def _at_least(key: str, value: float | None, low: float) -> None:
    if value is None:
        return
    _finite(key, value)
    if value < low:
        raise ConfigError(f"{key}: must be at least {low}, found {value}")


def _positive(key: str, value: float) -> None:
    _finite(key, value)
    if value <= 0:
        raise ConfigError(f"{key}: must be greater than 0, found {value}")


def _unit(key: str, value: float) -> None:
    """A probability-like value in [0, 1)."""
    _finite(key, value)
    if not 0.0 <= value < 1.0:
        raise ConfigError(f"{key}: must be at least 0 and below 1, found {value}")


# ---- type checking ---------------------------------------------------------------------------

def _check_type(key: str, value: Any, tp: Any) -> Any:
    """`value` converted to `tp` (int -> float only), or ConfigError naming key and type."""
    args = typing.get_args(tp)
    if _is_union(tp):
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        try:
            return _check_type(key, value, inner[0])
        except ConfigError:
            raise _type_error(key, f"{_type_name(inner[0])} or null (unset)", value) from None
    origin = typing.get_origin(tp)
    if origin is list:
        if not isinstance(value, (list, tuple)):
            raise _type_error(key, _type_name(tp), value)
        item_tp = args[0]
        return [_check_type(f"{key}[{i}]", v, item_tp) for i, v in enumerate(value)]
    if tp is dict:
        if not isinstance(value, dict):
            raise _type_error(key, "a table (dict)", value)
        return {k: _check_param(f"{key}.{k}", k, v) for k, v in value.items()}
    if tp is bool:
        if not isinstance(value, bool):
            raise _type_error(key, "bool (true or false)", value)
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _type_error(key, "int", value)
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise _type_error(key, "float", value)
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise _type_error(key, "str", value)
        return value
    raise TypeError(f"unsupported config type {tp!r} for {key}")  # a bug in RunConfig


def _check_param(key: str, name: Any, value: Any) -> Any:
    """A free-form parameter (augmenter table entry): TOML-representable values only."""
    if not isinstance(name, str):
        raise _type_error(key, "a string key", name)
    if value is None:
        raise ConfigError(f"{key}: null is not allowed here; leave the key out to use the "
                          f"augmenter's default")
    if isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value
    if isinstance(value, (list, tuple)):
        return [_check_param(f"{key}[{i}]", "", v) for i, v in enumerate(value)]
    if isinstance(value, dict):
        return {k: _check_param(f"{key}.{k}", k, v) for k, v in value.items()}
    raise _type_error(key, "a string, number, bool, list or table", value)


def _is_union(tp: Any) -> bool:
    return typing.get_origin(tp) in (typing.Union, types.UnionType)


def _is_optional_non_str(tp: Any) -> bool:
    return _is_union(tp) and type(None) in typing.get_args(tp) and str not in typing.get_args(tp)


def _type_name(tp: Any) -> str:
    if _is_union(tp):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "None"
    if typing.get_origin(tp) is list:
        return f"list of {_type_name(typing.get_args(tp)[0])}"
    return getattr(tp, "__name__", str(tp))


def _type_error(key: str, expected: str, value: Any) -> ConfigError:
    return ConfigError(f"{key}: expected {expected}, found {_show(value)}")


def _show(value: Any) -> str:
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({type(value).__name__})"


def _unknown_key_message(key: Any) -> str:
    return f"unknown config key {key!r}" + _did_you_mean(str(key), list(_FIELDS))


def _did_you_mean(word: str, choices: Any) -> str:
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


did_you_mean = _did_you_mean  # "; did you mean 'x'?" or "" (the sweep file uses it too)


# ---- registry names --------------------------------------------------------------------------

def _registries(module: Any, *, include: str = "", exclude: str = "") -> list[Registry]:
    """The Registry objects a module defines, filtered by a word in their family name."""
    found = [v for v in vars(module).values() if isinstance(v, Registry)]
    chosen = [r for r in found
              if include.lower() in r.family.lower()
              and not (exclude and exclude.lower() in r.family.lower())]
    return chosen or found


def _check_name(key: str, name: Any, registries: list[Registry],
                extra: tuple[str, ...] = ()) -> None:
    if not registries or any(name in r for r in registries):
        return
    known = sorted({n for r in registries for n in r.names()} | set(extra))
    family = registries[0].family
    raise ConfigError(f"{key}: unknown {family} {name!r}; known: {', '.join(known)}"
                      + _did_you_mean(str(name), known))


# ---- TOML writing ----------------------------------------------------------------------------

_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")
_ESCAPES = {'"': '\\"', "\\": "\\\\", "\b": "\\b", "\t": "\\t", "\n": "\\n", "\f": "\\f",
            "\r": "\\r"}


def _toml_key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _toml_string(key)


def _toml_string(text: str) -> str:
    """A TOML basic string; control characters escaped as TOML requires."""
    out = []
    for ch in text:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)  # shortest form that reads back to the same float, e.g. 5e-05
    if isinstance(value, str):
        return _toml_string(value)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_toml_key(k)} = {_toml_value(v)}"
                               for k, v in value.items()) + "}"
    raise ConfigError(f"cannot write {_show(value)} to TOML")


def schedule_params(cfg: "RunConfig | Mapping[str, Any]") -> dict:
    """Keyword arguments of the config's schedule for core.schedules (from lr_min_ratio,
    lr_cycles and lr_power); `cfg` is a RunConfig or a mapping of its fields."""
    get = cfg.get if isinstance(cfg, Mapping) else (lambda key: getattr(cfg, key))
    return {"linear.v1": {"end_ratio": get("lr_min_ratio")},
            "cosine.v1": {"cycles": get("lr_cycles"), "min_ratio": get("lr_min_ratio")},
            "polynomial.v1": {"power": get("lr_power"), "end_ratio": get("lr_min_ratio")},
            }.get(get("schedule"), {})


def total_steps(n_examples: int, cfg: "RunConfig | Mapping[str, Any]") -> int:
    """Optimiser steps of a run over `n_examples` training items (NER: windows): max_steps
    when set, else epochs × ⌈⌈n / batch_size⌉ / grad_accum⌉, at least one step per epoch.

    The training loop counts its steps with this and the Train page estimates them with it;
    `cfg` is a RunConfig or a mapping of its fields. The page passes unvalidated values, so
    batch_size, grad_accum and epochs below 1 count as 1 (validate() refuses them for runs).
    """
    get = cfg.get if isinstance(cfg, Mapping) else (lambda key: getattr(cfg, key))
    if get("max_steps"):
        return get("max_steps")
    batches = -(-max(0, n_examples) // max(1, get("batch_size")))  # ceiling division, exact
    per_epoch = max(1, -(-batches // max(1, get("grad_accum"))))
    return per_epoch * max(1, get("epochs"))
