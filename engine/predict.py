"""Inference: from encoded features, or from raw text, to labels and confidences.

One path for every caller: the loop's evaluation (`predict_logits` + `decode` over a split's
features), the Playground and scripts (`Predictor`, which loads a run's `model/` folder and
takes raw text). Splitting raw text into words, windows over long sentences and their
merge, softmax, sigmoid and the multi-label threshold live here and nowhere else.
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from core.errors import WorkbenchError
from core.records import TextExample, TokenExample
from engine import batching

MULTILABEL_THRESHOLD = 0.5  # a label is predicted when its sigmoid reaches this
# Words and single punctuation marks; keeps "O'Neil", "e-mail", "3.5" and "U.S" in one piece.
WORD = re.compile(r"\w+(?:[-'’.]\w+)*|[^\w\s]")


def split_words(text: str) -> list[str]:
    """Whitespace and punctuation tokenisation, as in CoNLL-style training data."""
    return WORD.findall(text)


def softmax(x: np.ndarray) -> np.ndarray:
    """Softmax over the last axis, stable for large logits."""
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Independent per-label probabilities (multi-label)."""
    return 1 / (1 + np.exp(-x))


def collator(task: str, pad_id: int, multiple: int | None = None, cap: int = 512) -> Callable:
    """collate(features, idx) -> tensors for `task`'s features (see engine/batching)."""
    if task == "ner":
        return lambda feats, idx: batching.collate_tokens(feats, idx, pad_id=pad_id,
                                                          multiple=multiple, cap=cap)
    return lambda feats, idx: batching.collate_texts(feats, idx, pad_id=pad_id, multiple=multiple,
                                                     cap=cap, multi_label=task == "multilabel")


@torch.inference_mode()
def predict_logits(model, features: list[dict], collate: Callable, device: torch.device,
                   amp: torch.dtype | None = None, batch_size: int = 64) -> list[np.ndarray]:
    """Logits per feature, computed in length-sorted batches (little padding), original order."""
    model.eval()
    lengths = np.array([len(f["input_ids"]) for f in features])
    order = np.argsort(lengths, kind="stable")
    out: list[np.ndarray | None] = [None] * len(features)
    for lo in range(0, len(order), batch_size):
        idx = order[lo:lo + batch_size]
        batch = collate(features, idx)
        batch.pop("labels", None)
        batch = {k: v.to(device) for k, v in batch.items()}
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            logits = model(**batch).logits.float().cpu().numpy()
        for row, i in enumerate(idx):
            out[i] = logits[row, : lengths[i]] if logits.ndim == 3 else logits[row]
    return out  # type: ignore[return-value]


def decode(task: str, labels: Sequence[str], features: list[dict], logits: list[np.ndarray],
           n_words: Sequence[int] | None = None, scheme: str | None = None) -> dict:
    """Predicted labels and probabilities from `predict_logits`' output.

    ner: {"pred": tags per word, "conf": probability of each word's tag, "probs": (n_words, C)
    per example}; n_words gives each example's word count (windows are merged back to words).
    With `scheme` (the tag scheme the model was trained in) the tags are the most probable
    sequence that is valid in it (core.decoding, Viterbi over the word probabilities), else
    each word's most probable tag.
    classification: {"pred": one label per text, "probs": (N, C)}.
    multilabel: {"pred": the labels at or above MULTILABEL_THRESHOLD, "probs": (N, C)}.
    """
    if task == "ner":
        from engine.encoding import merge_windows

        if n_words is None:
            raise ValueError("decode: NER needs the word count of each example")
        probs = [softmax(w) for w in merge_windows(features, logits, n_words)]
        if scheme is None:
            return {"pred": [[labels[k] for k in p.argmax(-1)] for p in probs],
                    "conf": [p.max(-1) for p in probs], "probs": probs}
        from core.decoding import decode_tags

        with np.errstate(divide="ignore"):
            pred = decode_tags([np.log(p) for p in probs], labels, scheme)
        index = {label: k for k, label in enumerate(labels)}
        conf = [p[np.arange(len(tags)), [index[t] for t in tags]] if tags else p.max(-1)
                for p, tags in zip(probs, pred)]
        return {"pred": pred, "conf": conf, "probs": probs}
    scores = np.stack(logits) if logits else np.zeros((0, len(labels)), dtype=np.float32)
    if task == "multilabel":
        probs = sigmoid(scores)
        return {"pred": [[labels[k] for k in np.flatnonzero(row >= MULTILABEL_THRESHOLD)]
                         for row in probs], "probs": probs}
    probs = softmax(scores)
    return {"pred": [labels[k] for k in probs.argmax(-1)], "probs": probs}


def task_of(model_config: dict) -> str:
    """ner / classification / multilabel from a saved model's config.json."""
    arch = " ".join(model_config.get("architectures") or [])
    if "TokenClassification" in arch:
        return "ner"
    if model_config.get("problem_type") == "multi_label_classification":
        return "multilabel"
    return "classification"


@dataclass
class Predictor:
    """A trained model folder (a run's model/), ready to label raw text on the CPU."""

    tokenizer: Any
    model: Any
    task: str
    labels: list[str]
    max_length: int = 128
    stride: int | None = None  # sub-tokens shared by windows (None: min(32, max_length // 4))
    device: Any = field(default_factory=lambda: torch.device("cpu"))
    amp: Any = None  # autocast dtype (bf16 / fp16 on a GPU), as the run evaluated
    batch_size: int = 64  # model inputs per forward pass
    settings: dict = field(default_factory=dict)  # the run's encoding and column settings
    context: int = 0  # sub-tokens of neighbouring text per window side (the run's `context`)
    scheme: str | None = None  # decode valid sequences of this tag scheme (None: argmax)

    @classmethod
    def load(cls, model_dir: str | Path, *, task: str | None = None,
             max_length: int = 128, prefer: str = "int8") -> "Predictor":
        """Load tokenizer and model (safetensors only); task defaults to the folder's own.
        An exported folder (export.json, engine/export.py) runs on onnxruntime: its int8
        graph when it has one, unless prefer="fp32"."""
        from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

        from engine import export
        from engine.models import load_tokenizer

        folder = Path(model_dir)
        try:
            config = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            task = task or task_of(config)
            auto = AutoModelForTokenClassification if task == "ner" \
                else AutoModelForSequenceClassification
            tokenizer = load_tokenizer(str(folder))
            model = export.OnnxModel.load(folder, prefer=prefer) if export.is_export(folder) \
                else auto.from_pretrained(folder, use_safetensors=True).eval()
        except WorkbenchError as exc:
            raise WorkbenchError(f"could not load the model in {folder}: {exc}") from None
        except (OSError, ValueError) as exc:  # includes a malformed config.json
            raise WorkbenchError(f"could not load the model in {folder}: "
                                 f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") \
                from None
        id2label = model.config.id2label
        labels = [id2label[i] for i in range(len(id2label))]
        return cls(tokenizer, model, task, labels, max_length)

    def _run(self, features: list[dict]) -> list[np.ndarray]:
        collate = collator(self.task, self.tokenizer.pad_token_id or 0, cap=self.max_length)
        return predict_logits(self.model, features, collate, self.device, self.amp,
                              batch_size=self.batch_size)


    def predict_words(self, sentences: Sequence[Sequence[str]], *,
                      docs: Sequence[int] | None = None, lead: int = 0,
                      trail: int = 0) -> list[tuple[list[str], list[float]]]:
        """(tag, confidence) per word for pre-split sentences; long ones go in windows.

        With the run's `context`, the sentences are read as running text: each window carries
        its neighbours of the same document (docs: one document number per sentence, default
        all one document). The first `lead` and last `trail` sentences only lend context and
        get no result (a file labelled in chunks passes the neighbouring chunks' edges)."""
        from engine.encoding import encode_ner

        docs = [0] * len(sentences) if docs is None else list(docs)
        examples = [TokenExample(tuple(w), ("O",) * len(w), d) for w, d in zip(sentences, docs)]
        stride = self.stride if self.stride is not None else min(32, self.max_length // 4)
        inner = range(lead, len(sentences) - trail)
        windows = encode_ner(self.tokenizer, examples, None, max_length=self.max_length,
                             stride=stride, context=self.context, labelled=inner)
        for w in windows:
            w["example"] -= lead
        out = decode("ner", self.labels, windows, self._run(windows),
                     [len(sentences[i]) for i in inner], scheme=self.scheme)
        return [(tags, conf.tolist()) for tags, conf in zip(out["pred"], out["conf"])]

    def predict_text_words(self, text: str) -> tuple[list[str], list[str], list[float]]:
        """(words, tags, confidences) for raw text, split as split_words does."""
        words = split_words(text)
        if not words:
            return [], [], []
        ((tags, conf),) = self.predict_words([words])
        return words, tags, conf

    def predict_texts(self, texts: Sequence[str]) -> list[dict[str, float]]:
        """Probability per class for each text (softmax; independent sigmoids for multi-label)."""
        from engine.encoding import encode_text

        features = encode_text(self.tokenizer, [TextExample(t, ()) for t in texts], None,
                               max_length=self.max_length)
        probs = decode(self.task, self.labels, features, self._run(features))["probs"]
        return [{label: float(p) for label, p in zip(self.labels, row)} for row in probs]

    def chosen(self, probs: dict[str, float]) -> list[str]:
        """The labels predicted from predict_texts' probabilities, best first."""
        ranked = sorted(probs, key=lambda c: -probs[c])
        if self.task == "multilabel":
            return [c for c in ranked if probs[c] >= MULTILABEL_THRESHOLD]
        return ranked[:1]


# ---- opening a trained model for prediction --------------------------------------------------
SETTINGS = "inference.json"  # in model/: how the run encoded its inputs, so a copy predicts alike


def write_settings(model_dir: str | Path, cfg) -> None:
    """Record in `model_dir` the encoding the run evaluated with (task, max_length, window
    stride), so that the folder alone, copied elsewhere, predicts as the report did."""
    from engine.runfolder import write_json_atomic

    write_json_atomic(Path(model_dir) / SETTINGS,
                      {"task": cfg.task, "max_length": cfg.max_length,
                       "window_stride": cfg.window_stride, "context": cfg.context,
                       "decoding": cfg.decoding, "train_scheme": cfg.train_scheme,
                       "precision": cfg.precision,
                       "text_column": cfg.text_column, "label_column": cfg.label_column,
                       "label_delimiter": cfg.label_delimiter})


def _settings(model_dir: Path, run_config: Path | None) -> dict:
    """The encoding settings of a model: its run's config.json when it is still inside its run
    folder, else model/inference.json, else the defaults."""
    for path in (run_config, model_dir / SETTINGS):
        if path is None or not path.is_file():
            continue
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            raise WorkbenchError(f"{path} is not readable JSON; the model's encoding settings "
                                 "(max_length, window_stride) are unknown") from None
        if not isinstance(raw, dict):
            raise WorkbenchError(f"{path} does not hold a JSON object")
        ints = {k: raw[k] for k in ("max_length", "window_stride", "context") if k in raw}
        bad = [k for k, v in ints.items() if isinstance(v, bool) or not isinstance(v, int)
               or v < (0 if k == "context" else 1)]
        if bad:
            raise WorkbenchError(f"{path}: {bad[0]} must be a positive whole number")
        texts = {k: raw[k] for k in ("text_column", "label_column", "label_delimiter",
                                     "decoding", "train_scheme")
                 if isinstance(raw.get(k), str) and raw[k]}
        return {"task": raw.get("task"), "precision": raw.get("precision", "fp32"), **ints,
                **texts}
    return {}


def decoding_scheme(settings) -> str | None:
    """The tag scheme NER tags are decoded in (valid sequences only), or None for argmax:
    from a RunConfig or a settings dict (settings without "decoding" predate it: argmax)."""
    get = settings.get if isinstance(settings, dict) else lambda k, d=None: getattr(settings, k, d)
    if get("task") not in (None, "ner") or get("decoding", "argmax") != "viterbi":
        return None
    scheme = get("train_scheme", "IOB2")
    return None if scheme == "PLAIN" else scheme


def resolve_model(path: str | Path) -> tuple[Path, dict]:
    """(model folder, encoding settings) for a run folder, a run's model/ or a plain model
    folder; WorkbenchError saying what is missing."""
    p = Path(path).expanduser()
    if not p.is_dir():
        raise WorkbenchError(f"{p}: no such folder (give a run folder or a model folder)")
    run_config = None
    from engine.runfolder import RunFolder

    if (p / RunFolder.MODEL).is_dir() and (p / RunFolder.CONFIG).is_file():
        model_dir, run_config = p / RunFolder.MODEL, p / RunFolder.CONFIG
    elif p.name == RunFolder.MODEL and (p.parent / RunFolder.STATUS).is_file():
        model_dir, run_config = p, p.parent / RunFolder.CONFIG
    elif (p / RunFolder.STATUS).is_file():
        raise WorkbenchError(f"run {p.name} has no model/ yet: it has not finished training")
    else:
        model_dir = p
    if not (model_dir / "config.json").is_file():
        raise WorkbenchError(f"{model_dir} is not a model folder: it has no config.json")
    exported = (model_dir / "export.json").is_file()
    if not exported and not any(model_dir.glob("*.safetensors")):
        raise WorkbenchError(f"{model_dir} holds no weights in safetensors format (*.safetensors);"
                             " this tool loads no other weight files")
    return model_dir, _settings(model_dir, run_config)


def open_model(path: str | Path, *, device: str = "cpu", batch_size: int = 64) -> Predictor:
    """A Predictor for a run folder, a run's model/ or a model folder, encoding as the run did
    (max_length, window stride; on a GPU the run's precision) so that its predictions on the
    run's test data are the report's. device: "cpu", "cuda", "cuda:N" or "auto"."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise WorkbenchError(f"device {device!r} asked for, but no CUDA GPU is visible")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise WorkbenchError(f"device {device!r} is not a device (cpu, cuda, cuda:N, auto)") \
            from None
    if batch_size < 1:
        raise WorkbenchError(f"batch size must be at least 1, found {batch_size}")
    model_dir, settings = resolve_model(path)
    max_length = settings.get("max_length", 128)
    predictor = Predictor.load(model_dir, max_length=max_length)
    predictor.stride = settings.get("window_stride")
    predictor.context = settings.get("context", 0)
    predictor.scheme = decoding_scheme(settings)
    predictor.batch_size = batch_size
    predictor.settings = settings
    if dev.type != "cpu":
        predictor.model.to(dev)
        predictor.device = dev
        precision = settings.get("precision", "fp32")
        if precision in ("auto", "bf16"):
            predictor.amp = torch.bfloat16 if torch.cuda.is_bf16_supported() else \
                (None if precision == "auto" else torch.float16)
        elif precision == "fp16":
            predictor.amp = torch.float16
    return predictor
