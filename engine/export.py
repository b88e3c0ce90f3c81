"""Export a trained model to ONNX (fp32, and dynamic int8) for cheap CPU inference.

    export_onnx(run_or_model_dir, out_dir, quantize="int8")  ->  out_dir/
        model.onnx         fp32 graph: inputs input_ids, attention_mask (and token_type_ids
                           when the model takes them), int64 [batch, sequence]; output logits
        model.int8.onnx    with quantize="int8": MatMul/Gemm weights as per-channel QInt8,
                           activations quantized at run time (onnxruntime quantize_dynamic)
        config.json        the model's config (id2label), so the folder describes itself
        tokenizer files    as the tokenizer saves them
        export.json        what is inside: task, labels, inputs, files (bytes, sha256),
                           opset, the source model's sha256, max_length, the export check

`OnnxModel` loads such a folder with onnxruntime and answers like the torch model does in
engine/predict.py (`model(**batch).logits`), so `Predictor.load(export_dir)` runs it.
`push_to_hub` uploads a folder; offline it fails at once.

The export is checked where it is made: the ONNX logits on inputs of another batch size and
length than the traced ones must equal torch's (a graph with a baked-in shape or mask fails
here, not in production). onnx, onnxruntime and onnxscript (torch's exporter needs it) are
optional: requirements-export.txt; they are imported only here, when used.
"""
from __future__ import annotations

import hashlib
import importlib
import inspect
import json
import logging
import os
import shutil
import socket
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlparse

import numpy as np

from core.errors import ConfigError, WorkbenchError

EXPORT_FILE = "export.json"
FP32_FILE = "model.onnx"
INT8_FILE = "model.int8.onnx"
PRECISIONS = {"fp32": FP32_FILE, "int8": INT8_FILE}
QUANTIZE = ("int8",)
DEFAULT_OPSET = 18
MIN_OPSET = 14  # scaled_dot_product_attention's lowest
MISSING = "ONNX export needs: pip install -r requirements-export.txt"
INT8_OP_TYPES = ("MatMul", "Gemm")  # the encoder's linear layers; embeddings stay fp32
CHECK_ATOL = 1e-3  # export check: |onnx - torch| <= atol + rtol * |torch|
CHECK_RTOL = 1e-3
HUB_TIMEOUT_S = 3.0
_FORMAT_VERSION = 1
_MAX_PROTO_BYTES = 2**31 - 2**26  # one .onnx file (protobuf) holds < 2 GiB; keep a margin


class ExportError(WorkbenchError):
    """An export, an exported folder or an upload failed; the message says where and what."""


def _require(*modules: str) -> list[Any]:
    """The optional export packages, imported; missing ones raise ExportError saying how."""
    out = []
    for name in modules:
        try:
            out.append(importlib.import_module(name))
        except ImportError as exc:
            raise ExportError(f"{MISSING} ({name} could not be imported: "
                              f"{_first_line(exc)})") from None
    return out


# ---- what to export -----------------------------------------------------------------------

@dataclass(frozen=True)
class Source:
    """A model folder to export, the run folder holding it (or None), the default output."""

    model_dir: Path
    run_dir: Path | None
    default_out: Path


def find_source(ref: str | os.PathLike, runs_dir: Path | None = None) -> Source:
    """The model folder behind `ref`: a run folder (its model/), a model folder, or a run id
    of the workspace store under `runs_dir`. Raises ExportError naming what was looked at."""
    from engine.runfolder import RunFolder

    path = Path(ref).expanduser()
    candidates = [path] if path.is_dir() or runs_dir is None else [path, Path(runs_dir) / str(ref)]
    for cand in candidates:
        if not cand.is_dir():
            continue
        run = RunFolder(cand)
        if run.has_model():
            return Source(run.model_dir, cand, cand / "export")
        if _is_model_folder(cand):
            parent = cand.parent
            if cand.name == RunFolder.MODEL and RunFolder(parent).config_path.is_file():
                return Source(cand, parent, parent / "export")
            return Source(cand, None, cand.with_name(cand.name + "-onnx"))
        if run.config_path.is_file() or run.status_path.is_file():
            state = (run.read_status() or {}).get("state", "unknown")
            raise ExportError(f"{cand}: the run has no {RunFolder.MODEL}/ to export (state "
                              f"{state}); only a completed run has one")
        raise ExportError(f"{cand}: neither a run folder (with {RunFolder.MODEL}/) nor a model "
                          f"folder (config.json + safetensors weights)")
    raise ExportError(f"no run or model folder {str(ref)!r}: give a run folder, a model folder "
                      f"or a run id of this workspace")


def _is_model_folder(folder: Path) -> bool:
    """A transformers model config.json (not a run's config.json, which has no model_type)."""
    config = _read_json(folder / "config.json")
    return isinstance(config, dict) and ("model_type" in config or "architectures" in config)


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


# ---- export -------------------------------------------------------------------------------

def export_onnx(model_dir_or_run_dir: str | os.PathLike, out_dir: str | os.PathLike | None = None,
                *, quantize: str | None = None, opset: int = DEFAULT_OPSET,
                max_length: int | None = None) -> dict:
    """Write `out_dir`/model.onnx (fp32), with quantize="int8" also model.int8.onnx, the
    config, the tokenizer and export.json; returns export.json's content plus "folder".

    `model_dir_or_run_dir` is a model folder or a run folder (its model/); out_dir defaults
    to <run>/export (<model>-onnx for a model folder outside a run). max_length (recorded in
    export.json) defaults to the run config's, else model/inference.json's, else the model's
    position limit.
    """
    source = find_source(model_dir_or_run_dir)
    if quantize is not None and quantize not in QUANTIZE:
        raise ConfigError(f"quantize: expected one of {', '.join(QUANTIZE)} or none, "
                          f"found {quantize!r}")
    if isinstance(opset, bool) or not isinstance(opset, int) or opset < MIN_OPSET:
        raise ConfigError(f"opset: expected a whole number >= {MIN_OPSET}, found {opset!r}")
    _require("onnx", "onnxscript", "onnxruntime")
    import torch

    import engine.predict as predict
    from engine.models import load_tokenizer, position_limit
    from engine.predict import task_of
    from engine.runfolder import RunFolder, write_json_atomic

    src = source.model_dir
    out = Path(out_dir) if out_dir is not None else source.default_out
    if out.resolve() == src.resolve():
        raise ConfigError(f"out: {out} is the model folder itself; export to another folder")
    weights = sorted(src.glob("*.safetensors"))
    if not weights:
        raise ExportError(f"{src}: no .safetensors weights; only safetensors are loaded (pickled "
                          f".bin files can run code)")
    config = _read_json(src / "config.json")
    if not isinstance(config, dict):
        raise ExportError(f"{src / 'config.json'}: missing or not a JSON object")
    task = task_of(config)
    labels = _labels_of(config, src / "config.json")
    limit = position_limit(str(src.resolve()))
    settings = getattr(predict, "SETTINGS", "inference.json")
    for recorded in ((RunFolder(source.run_dir).read_config() if source.run_dir else None),
                     _read_json(src / settings)):
        value = recorded.get("max_length") if isinstance(recorded, dict) else None
        if max_length is None and isinstance(value, int) and not isinstance(value, bool):
            max_length = value
    if max_length is None and limit is not None:
        max_length = limit[0]

    model = _load_torch_model(src, task)
    if sum(p.numel() * 4 for p in model.parameters()) > _MAX_PROTO_BYTES:
        raise ExportError(f"{src}: the model's fp32 weights exceed 2 GiB, more than one .onnx "
                          f"file holds; export a smaller model")
    tokenizer = load_tokenizer(str(src))
    inputs = ["input_ids", "attention_mask"]
    if ("token_type_ids" in getattr(tokenizer, "model_input_names", ())
            and "token_type_ids" in inspect.signature(model.forward).parameters):
        inputs.append("token_type_ids")
    max_seq = limit[0] if limit is not None else None
    vocab = min(len(tokenizer), int(getattr(model.config, "vocab_size", None) or len(tokenizer)))

    out.mkdir(parents=True, exist_ok=True)
    for stale in (EXPORT_FILE, FP32_FILE, INT8_FILE, FP32_FILE + ".data", INT8_FILE + ".data"):
        (out / stale).unlink(missing_ok=True)  # export.json goes first: a half export is no export
    fp32_path = out / FP32_FILE
    _torch_export(model, inputs, fp32_path, opset, max_seq, vocab=vocab)
    files: dict[str, dict] = {FP32_FILE: {"precision": "fp32"}}
    feeds = _check_inputs(inputs, vocab, max_seq, tokenizer.pad_token_id or 0)
    with torch.inference_mode():
        want = model(**{k: torch.from_numpy(v) for k, v in feeds.items()}).logits.float().numpy()
    got = _session(fp32_path, threads=None).run(["logits"], feeds)[0]
    diff = float(np.abs(got - want).max())
    if not np.allclose(got, want, atol=CHECK_ATOL, rtol=CHECK_RTOL):
        raise ExportError(f"{fp32_path}: the exported graph's logits differ from torch's by up "
                          f"to {diff:.3g} on a batch of shape {list(feeds['input_ids'].shape)} "
                          f"(allowed {CHECK_ATOL:g}); this model does not export correctly")
    check = {"input_shape": list(feeds["input_ids"].shape), "fp32_max_abs_diff": diff}
    if quantize == "int8":
        files[INT8_FILE] = {"precision": "int8", "quantization": _quantize_int8(fp32_path,
                                                                                out / INT8_FILE)}
        q = _session(out / INT8_FILE, threads=None).run(["logits"], feeds)[0]
        keep = feeds["attention_mask"].astype(bool) if q.ndim == 3 else slice(None)
        check["int8_max_abs_diff"] = float(np.abs(q - want).max())
        check["int8_argmax_agreement"] = float((q.argmax(-1) == want.argmax(-1))[keep].mean())

    shutil.copyfile(src / "config.json", out / "config.json")
    for name in tokenizer.save_pretrained(str(out)):
        files.setdefault(Path(name).name, {})
    files.setdefault("config.json", {})
    # files of model/ that travel with the export when present: the model card (RunFolder's)
    # and the encoding the run evaluated with (engine/predict.py's inference.json)
    for extra in (RunFolder.MODEL_CARD, settings):
        if (src / extra).is_file():
            shutil.copyfile(src / extra, out / extra)
            files.setdefault(extra, {})
    for name, info in files.items():
        info.update(bytes=(out / name).stat().st_size, sha256=_sha256([out / name]))

    manifest = {
        "format": "onnx", "format_version": _FORMAT_VERSION, "task": task, "labels": labels,
        "inputs": inputs, "outputs": ["logits"],
        "dynamic_axes": {"batch": 0, "sequence": 1}, "max_sequence": max_seq,
        "max_length": max_length, "opset": opset, "files": files,
        "default": INT8_FILE if INT8_FILE in files else FP32_FILE,
        "source": {"model_dir": str(src.resolve()),
                   "run_dir": str(source.run_dir.resolve()) if source.run_dir else None,
                   "weights": [w.name for w in weights], "sha256": _sha256(weights)},
        "check": check, "versions": _versions(), "created_at": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    write_json_atomic(out / EXPORT_FILE, manifest)
    return {**manifest, "folder": str(out)}


def _labels_of(config: dict, where: Path) -> list[str]:
    id2label = config.get("id2label")
    try:
        pairs = sorted((int(k), str(v)) for k, v in id2label.items())
    except (AttributeError, TypeError, ValueError):
        raise ExportError(f"{where}: id2label is missing or malformed; export a model saved "
                          f"with its labels (a run's model/)") from None
    if [k for k, _ in pairs] != list(range(len(pairs))) or not pairs:
        raise ExportError(f"{where}: id2label must number the labels 0..N-1, found "
                          f"{[k for k, _ in pairs]}")
    return [v for _, v in pairs]


def _load_torch_model(src: Path, task: str):
    from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

    auto = AutoModelForTokenClassification if task == "ner" else AutoModelForSequenceClassification
    try:
        model = auto.from_pretrained(src, use_safetensors=True)
    except (OSError, ValueError, RuntimeError) as exc:
        raise ExportError(f"could not load the model in {src}: {_first_line(exc)}") from None
    return model.float().eval()


def _logits_module(model):
    """`model` as a torch module returning only the logits, the exported inputs as arguments."""
    import torch

    class Logits(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, token_type_ids=None):
            kw = {"input_ids": input_ids, "attention_mask": attention_mask}
            if token_type_ids is not None:
                kw["token_type_ids"] = token_type_ids
            return self.model(**kw).logits

    return Logits().eval()


def _torch_export(model, inputs: list[str], path: Path, opset: int, max_seq: int | None,
                  vocab: int) -> None:
    """torch.onnx.export (the torch.export-based exporter) with dynamic batch and sequence."""
    import warnings

    import torch

    seq = min(16, max_seq or 16)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(0, max(vocab, 1), (2, seq), generator=g)
    example = {"input_ids": ids, "attention_mask": torch.ones_like(ids)}
    example["attention_mask"][1, seq // 2:] = 0
    if "token_type_ids" in inputs:
        example["token_type_ids"] = torch.zeros_like(ids)
    batch = torch.export.Dim("batch", min=1, max=1 << 20)
    sequence = torch.export.Dim("sequence", min=1, max=max_seq) if max_seq \
        else torch.export.Dim("sequence", min=1)
    try:
        with warnings.catch_warnings(), _quiet_loggers("torch.onnx", "onnxscript", "torch.export"):
            warnings.simplefilter("ignore")
            torch.onnx.export(_logits_module(model), (), str(path), kwargs=example,
                              input_names=inputs, output_names=["logits"], opset_version=opset,
                              dynamic_shapes={k: {0: batch, 1: sequence} for k in example},
                              dynamo=True, external_data=False, verbose=False, optimize=True)
    except Exception as exc:  # noqa: BLE001 - the exporter raises many kinds; say which model
        path.unlink(missing_ok=True)
        raise ExportError(f"ONNX export of {type(model).__name__} failed: "
                          f"{type(exc).__name__}: {_first_line(exc)}") from None
    if not path.is_file():
        raise ExportError(f"ONNX export wrote no {path}")


def _check_inputs(inputs: list[str], vocab: int, max_seq: int | None, pad: int) -> dict:
    """A seeded batch of another shape than the traced one (3 x 11), last row half padding."""
    rng = np.random.default_rng(1)
    seq = min(11, max_seq or 11)
    ids = rng.integers(0, max(vocab, 1), (3, seq)).astype(np.int64)
    mask = np.ones_like(ids)
    mask[-1, seq // 2 + 1:] = 0
    ids[mask == 0] = pad
    feeds = {"input_ids": ids, "attention_mask": mask}
    if "token_type_ids" in inputs:
        feeds["token_type_ids"] = np.zeros_like(ids)
    return feeds


def _quantize_int8(fp32: Path, out: Path) -> dict:
    """Dynamic int8: per-channel signed weights of the MatMul/Gemm layers with a constant
    weight (the attention products of two activations stay fp32), uint8 activations scaled
    per batch at run time."""
    onnx, quantization = _require("onnx", "onnxruntime.quantization")
    try:
        model = onnx.load(str(fp32))
        # The exporter records shapes of initializers too; quantize_dynamic turns Gemm into
        # MatMul by transposing the weight and would then trip on the stale [out, in] shape.
        weights = {init.name for init in model.graph.initializer}
        kept = [vi for vi in model.graph.value_info if vi.name not in weights]
        del model.graph.value_info[:]
        model.graph.value_info.extend(kept)
        with _quiet_loggers("", "onnxruntime"):  # its "consider pre-processing" goes to the root
            quantization.quantize_dynamic(model, str(out),
                                          weight_type=quantization.QuantType.QInt8,
                                          per_channel=True, op_types_to_quantize=list(INT8_OP_TYPES))
    except Exception as exc:  # noqa: BLE001 - onnx / onnxruntime errors of several kinds
        out.unlink(missing_ok=True)
        raise ExportError(f"int8 quantization of {fp32} failed: {type(exc).__name__}: "
                          f"{_first_line(exc)}") from None
    return {"method": "onnxruntime.quantization.quantize_dynamic", "weights": "QInt8",
            "activations": "QUInt8, scaled per batch at run time", "per_channel": True,
            "op_types": list(INT8_OP_TYPES)}


@contextmanager
def _quiet_loggers(*names: str) -> Iterator[None]:
    """Loggers `names` ("" = root) raised to ERROR for the block, restored after."""
    loggers = [logging.getLogger(n) if n else logging.getLogger() for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.ERROR)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)


def _sha256(paths: list[Path]) -> str:
    """sha256 of the files' bytes one after another (of the file itself for one file)."""
    h = hashlib.sha256()
    for path in paths:
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()


def _versions() -> dict:
    import torch
    import transformers

    out = {"torch": torch.__version__, "transformers": transformers.__version__}
    for name in ("onnx", "onnxruntime", "onnxscript"):
        try:
            out[name] = importlib.import_module(name).__version__
        except (ImportError, AttributeError):
            out[name] = None
    return out


# ---- running an export ----------------------------------------------------------------------

def is_export(folder: str | os.PathLike) -> bool:
    """Whether `folder` is an exported folder (holds export.json), not a torch model folder."""
    return (Path(folder) / EXPORT_FILE).is_file()


def read_manifest(folder: str | os.PathLike) -> dict:
    """export.json of an exported folder, checked for the keys OnnxModel reads."""
    path = Path(folder) / EXPORT_FILE
    raw = _read_json(path)
    if raw is None:
        raise ExportError(f"{path}: missing or not valid JSON; is {folder} an exported folder "
                          f"(python -m engine export RUN --onnx)?")
    if not isinstance(raw, dict) or raw.get("format") != "onnx":
        raise ExportError(f"{path}: not an ONNX export description (format must be 'onnx')")
    for key, kind in (("task", str), ("labels", list), ("inputs", list), ("files", dict)):
        if not isinstance(raw.get(key), kind):
            raise ExportError(f"{path}: key {key!r} missing or not a {kind.__name__}")
    return raw


def _session(path: Path, threads: int | None):
    (ort,) = _require("onnxruntime")
    options = ort.SessionOptions()
    if threads is None:
        import torch

        threads = torch.get_num_threads()
    options.intra_op_num_threads = int(threads)
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # errors only: the worker log and the terminal are for people
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own pybind error types
        raise ExportError(f"{path}: onnxruntime could not load it ({type(exc).__name__}: "
                          f"{_first_line(exc)}); export again") from None


@dataclass
class OnnxOutput:
    """What predict_logits reads from a model's output."""

    logits: Any  # torch.Tensor


class OnnxModel:
    """An exported folder on onnxruntime (CPU), called like the torch model in
    engine/predict.py: `model(input_ids=..., attention_mask=...).logits` is a torch tensor."""

    def __init__(self, folder: Path, manifest: dict, precision: str, session, config):
        import torch

        self.folder = folder
        self.manifest = manifest
        self.precision = precision
        self.path = folder / PRECISIONS[precision]
        self.session = session
        self.config = config
        self.task: str = manifest["task"]
        self.labels: list[str] = list(manifest["labels"])
        self.input_names = [i.name for i in session.get_inputs()]
        self.device = torch.device("cpu")  # where predict_logits' callers put the inputs

    @classmethod
    def load(cls, folder: str | os.PathLike, *, prefer: str = "int8",
             threads: int | None = None, verify: bool = True) -> "OnnxModel":
        """The folder's int8 graph when it has one and prefer="int8", else its fp32 graph.
        threads: onnxruntime's intra-op threads (default torch.get_num_threads()). verify
        checks the file's sha256 against export.json (a damaged or swapped file is refused)."""
        if prefer not in PRECISIONS:
            raise ConfigError(f"prefer: expected one of {', '.join(PRECISIONS)}, found {prefer!r}")
        folder = Path(folder)
        manifest = read_manifest(folder)
        files = manifest["files"]
        precision = prefer if PRECISIONS[prefer] in files else "fp32"
        name = PRECISIONS[precision]
        path = folder / name
        if name not in files or not path.is_file():
            raise ExportError(f"{path}: missing; export.json lists {sorted(files)}")
        want = (files[name] or {}).get("sha256") if isinstance(files[name], dict) else None
        if verify and want and _sha256([path]) != want:
            raise ExportError(f"{path}: its sha256 differs from export.json's (the file was "
                              f"changed or damaged); export again")
        session = _session(path, threads)
        names = [i.name for i in session.get_inputs()]
        if "input_ids" not in names or [o.name for o in session.get_outputs()][:1] != ["logits"]:
            raise ExportError(f"{path}: expected inputs input_ids, attention_mask and output "
                              f"logits, found inputs {names}")
        width = session.get_outputs()[0].shape[-1]
        if isinstance(width, int) and width != len(manifest["labels"]):
            raise ExportError(f"{path}: {width} logits per row but export.json lists "
                              f"{len(manifest['labels'])} labels")
        return cls(folder, manifest, precision, session, _config_of(folder, manifest))

    def eval(self) -> "OnnxModel":
        return self

    def to(self, device) -> "OnnxModel":
        import torch

        if torch.device(device).type != "cpu":
            raise ConfigError(f"device: an ONNX export runs on the CPU here, not {device}")
        return self

    def run(self, input_ids: np.ndarray, attention_mask: np.ndarray | None = None,
            token_type_ids: np.ndarray | None = None) -> np.ndarray:
        """Logits as numpy from int arrays [batch, sequence]."""
        ids = np.asarray(input_ids, dtype=np.int64)
        if ids.ndim != 2:
            raise ValueError(f"input_ids: expected [batch, sequence], found shape {ids.shape}")
        feeds = {"input_ids": ids}
        extra = {"attention_mask": attention_mask, "token_type_ids": token_type_ids}
        for name in self.input_names[1:]:
            value = extra.get(name)
            if value is None:
                value = np.ones_like(ids) if name == "attention_mask" else np.zeros_like(ids)
            feeds[name] = np.asarray(value, dtype=np.int64)
        return self.session.run(["logits"], feeds)[0]

    def __call__(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        import torch

        del labels  # predict_logits pops them; a loss is the torch model's business

        def arr(t):
            return None if t is None else (t.detach().cpu().numpy() if hasattr(t, "detach")
                                           else np.asarray(t))
        logits = self.run(arr(input_ids), arr(attention_mask), arr(token_type_ids))
        return OnnxOutput(logits=torch.from_numpy(logits))


def _config_of(folder: Path, manifest: dict):
    """The copied config.json as a transformers config (id2label with int keys)."""
    from transformers import AutoConfig

    try:
        return AutoConfig.from_pretrained(str(folder))
    except (OSError, ValueError) as exc:
        raise ExportError(f"{folder / 'config.json'}: could not be read ({_first_line(exc)})") \
            from None


# ---- the hub --------------------------------------------------------------------------------

def push_to_hub(folder: str | os.PathLike, repo: str, *, private: bool | None = None,
                timeout: float = HUB_TIMEOUT_S) -> str:
    """Upload an exported folder to hub model repo `repo` (created when missing); returns
    the commit URL. Offline (HF_HUB_OFFLINE / TRANSFORMERS_OFFLINE) or with the hub not
    answering within `timeout` seconds it raises ExportError at once."""
    from engine.models import _offline

    folder = Path(folder)
    read_manifest(folder)
    if not isinstance(repo, str) or repo.count("/") != 1 or not all(repo.split("/")):
        raise ConfigError(f"push-to-hub: expected a repo id 'user/name', found {repo!r}")
    if _offline():
        raise ExportError(f"cannot push {folder} to the hub: offline (HF_HUB_OFFLINE or "
                          f"TRANSFORMERS_OFFLINE is set); unset it, log in (hf auth login) and "
                          f"push again")
    from huggingface_hub import constants

    endpoint = os.environ.get("HF_ENDPOINT") or constants.ENDPOINT
    url = urlparse(endpoint)
    port = url.port or (443 if url.scheme == "https" else 80)
    try:
        socket.create_connection((url.hostname or "", port), timeout=timeout).close()
    except OSError as exc:
        raise ExportError(f"cannot push {folder} to the hub: {endpoint} did not answer within "
                          f"{timeout:g} s ({exc.strerror or type(exc).__name__}); offline?") \
            from None
    from huggingface_hub import HfApi

    api = HfApi(endpoint=endpoint)
    try:
        api.create_repo(repo, repo_type="model", private=private, exist_ok=True)
        info = api.upload_folder(folder_path=str(folder), repo_id=repo, repo_type="model",
                                 commit_message="ONNX export (python -m engine export)")
    except Exception as exc:  # noqa: BLE001 - HTTP, auth and network errors of several kinds
        raise ExportError(f"could not push {folder} to {repo}: {type(exc).__name__}: "
                          f"{_first_line(exc)}") from None
    return str(getattr(info, "commit_url", info))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
