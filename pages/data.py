"""Data: load a dataset (upload, paste, demo or stored), diagnose and fix its tags, read its
statistics, preview label-preserving augmentation, and save it to the store for training.

The page keeps one working copy in session_state["data.working"]; fixes replace it, saving
writes it to the store. Everything heavy is cached by the working copy's key (its origin plus
the fixes applied), never by hashing the examples themselves.
"""
from __future__ import annotations

import difflib
import hashlib
import html
import json
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePath

import altair as alt
import polars as pl
import streamlit as st

from core import stats
from core.augment import AugmentResult, augment
from core.demo import DEMOS, make_demo
from core.errors import ConfigError, DataError, WorkbenchError
from core.formats import FORMATS, TABLE_FORMATS, decode_text
from core.records import TokenExample
from core.schemes import (Diagnostic, Fix, apply_fix, describe_scheme, detect_scheme, diagnose,
                          fixes, summarize_diagnostics)
from core.spans import SCHEMES, split_tag, to_spans
from engine.data import (check_records, guess_columns, read_records, reader_task, resolve_format,
                         split_records, table_columns)
from engine import actions
from engine.store import Store
from pages.common import acting_user, can, get_store, show_error, type_colour, type_colours

MAX_UPLOAD_MB = 200
MAX_UPLOAD_BYTES = MAX_UPLOAD_MB * 1024 * 1024
UPLOAD_TYPES = ["conll", "txt", "iob", "bio", "tsv", "jsonl", "json", "csv", "parquet"]
TASKS = {"ner": "NER (a tag per word)", "classification": "Classification (one label per text)",
         "multilabel": "Multi-label classification"}
TASK_SHORT = {"ner": "NER", "classification": "classification", "multilabel": "multi-label"}
SOURCES = ("Demo", "Stored dataset", "Upload", "Paste")
SPLITS = ("train", "dev", "test")
NER_AUGMENTERS = ("token_replacement.v1", "mention_replacement.v1",
                  "shuffle_within_segments.v1", "synonym_replacement.v1")
TEXT_AUGMENTERS = ("eda.v1",)
PREVIEW_PAIRS = 10
PREVIEW_SOURCE = 200  # training examples the preview augments (the pools use all of train)
FIRST_PER_CODE = 5
ENCODING_PREVIEW_LINES = 5  # lines shown of a file read as Windows-1252 before it is used
PREVIEW_LINE_CHARS = 160
# extensions that name CoNLL-style NER files and nothing else (.txt is anyone's guess)
CONLL_EXTENSIONS = (".conll", ".conllu", ".iob", ".iob2", ".bio", ".bioes", ".ner")
# what the page's tables call their columns (st.column_config labels; the data keeps its keys)
COLUMN_LABELS = {
    "split": "Split", "train": "Train", "dev": "Dev", "test": "Test",
    "sentences": "Sentences", "tokens": "Tokens", "entities": "Entities",
    "entity_types": "Entity types", "mean_length": "Mean length (tokens)",
    "vocab_size": "Vocabulary size", "oov_tokens": "Tokens unseen in train",
    "oov_rate": "Unseen token rate", "entity_oov_rate": "Unseen entity rate",
    "unseen_entities": "Entities unseen in train", "unseen_entity_rate": "Unseen entity rate",
    "examples": "Examples", "labels": "Classes", "mean_words": "Mean length (words)",
    "mean_chars": "Mean length (characters)", "cardinality": "Labels per text",
    "label": "Label", "count": "Count", "code": "Finding", "severity": "Severity",
    "first": "First occurrence", "line": "Line", "sentence": "Sentence", "message": "Message",
}
COLUMN_HELP = {
    "oov_rate": "Share of the split's tokens that never occur in train (OOV).",
    "entity_oov_rate": "Share of the split's entity mentions that never occur in train.",
    "unseen_entity_rate": "Share of the split's entity mentions that never occur in train.",
    "oov_tokens": "Tokens of the split that never occur in train (OOV).",
    "cardinality": "Mean number of labels per text.",
}


@dataclass(frozen=True)
class Working:
    """The dataset being prepared: its splits, where it came from and which fixes were applied."""

    name: str
    task: str  # "ner", "classification" or "multilabel" (RunConfig.task)
    splits: dict[str, list]
    origin: str
    fixes: tuple[str, ...] = ()
    original: bytes | None = field(default=None, repr=False)
    original_name: str | None = None
    converted: tuple[tuple[str, str], ...] = ()  # (file name, encoding) read as that, now UTF-8

    @property
    def key(self) -> str:
        """Cache key: the origin plus the fixes, which together determine the splits."""
        return hashlib.sha1(repr((self.origin, self.fixes)).encode()).hexdigest()


# ---- loading (no streamlit below until the page section) -----------------------------------

def parse_file(data: bytes, name: str, *, task: str, fmt: str = "auto",
               text_column: str = "text", label_column: str = "label",
               label_delimiter: str = "|") -> list:
    """Records of one uploaded file, read and checked exactly as training reads a path
    (engine.data.read_records and check_records); DataError / ConfigError a user can act on."""
    if len(data) > MAX_UPLOAD_BYTES:
        raise DataError(f"the file is {len(data) / 2**20:.0f} MB; the upload limit is "
                        f"{MAX_UPLOAD_MB} MB (split it, or train from a path with the command line)",
                        source=name)
    records = read_records(data, name, task=task, fmt=fmt, text_column=text_column,
                           label_column=label_column, label_delimiter=label_delimiter)
    check_records(records, task, source=name)
    return records


def load_upload(files: dict[str, tuple[str, bytes]], *, task: str, fmt: str = "auto",
                text_column: str = "text", label_column: str = "label",
                label_delimiter: str = "|", split: tuple[float, float, int] | None = None,
                origin: str | None = None,
                converted: tuple[tuple[str, str], ...] = ()) -> Working:
    """A working copy from uploaded files {split: (name, bytes)}; `split` = (dev, test, seed)
    carves dev/test out of a lone train file. `converted` names the files the user chose to
    read in another encoding (their bytes here are already UTF-8, and are what is stored)."""
    if "train" not in files:
        raise DataError("no training file", expected="a train file", found="none")
    parsed = {name: parse_file(data, fname, task=task, fmt=fmt, text_column=text_column,
                               label_column=label_column, label_delimiter=label_delimiter)
              for name, (fname, data) in files.items()}
    if split is not None and set(parsed) == {"train"}:
        dev, test, seed = split
        parsed = split_records(parsed["train"], task, dev=dev, test=test, seed=seed)
    splits = {name: parsed[name] for name in SPLITS if parsed.get(name)}
    train_name, train_bytes = files["train"]
    digest = hashlib.sha256(b"".join(d for _, d in files.values())).hexdigest()[:16]
    return Working(name=PurePath(train_name).stem or "data", task=task, splits=splits,
                   origin=origin or f"upload:{digest}:{task}:{fmt}:{split}",
                   original=train_bytes, original_name=train_name, converted=tuple(converted))


def load_demo(name: str) -> Working:
    """A working copy of a bundled demo dataset."""
    return Working(name=name, task=DEMOS[name]["task"], splits=_demo_splits(name),
                   origin=f"demo:{name}")


def load_stored(store: Store, ds_id: str, name: str, task: str) -> Working:
    """A working copy of a dataset in the store."""
    return Working(name=name, task=task, splits=_stored_splits(str(store.root), ds_id),
                   origin=f"dataset:{ds_id}")


# ---- which task a file holds; its encoding (no streamlit) ------------------------------------

def _jsonl_kind(data: bytes, scan: int = 2000) -> str | None:
    """'ner' (records with tokens), 'multilabel' or 'classification' (records with a text;
    multilabel when one of the first `scan` holds other than one label), None when the
    first record says neither or does not parse (the reader then says why)."""
    try:
        lines = [line for line in data.decode("utf-8-sig").split("\n") if line.strip()]
        first = json.loads(lines[0])
    except (UnicodeDecodeError, ValueError, IndexError):
        return None
    if not isinstance(first, dict) or ("tokens" in first) == ("text" in first):
        return None
    if "tokens" in first:
        return "ner"
    for line in lines[:scan]:
        try:
            record = json.loads(line)
        except ValueError:
            break
        labels = record.get("labels", record.get("label")) if isinstance(record, dict) else None
        if isinstance(labels, list) and len(labels) != 1:
            return "multilabel"
    return "classification"


def suggested_task(data: bytes, name: str, fmt: str, task: str) -> tuple[str, str] | None:
    """(task, why) when the file can only hold another kind of data than `task` reads, else
    None: a table (CSV, Parquet, a TSV whose header names 'text') or a JSONL file of texts
    for NER; a JSONL file of tokens, or a file with a CoNLL extension, for a text task.
    Only the unambiguous cases: a .txt or header-less .tsv file is left to the reader."""
    try:
        resolved = resolve_format(data, name, fmt, task)
    except Exception:  # noqa: BLE001 - the reader reports the real problem
        return None
    shown = f"`{name}`"
    if task == "ner":
        if resolved in TABLE_FORMATS:
            return "classification", (f"{shown} is a {resolved.upper()} table, and tables hold "
                                      "texts with labels (NER reads CoNLL, or JSONL with "
                                      "tokens and tags)")
        kind = _jsonl_kind(data) if resolved == "jsonl" else None
        if kind in ("classification", "multilabel"):
            many = " (some with several labels)" if kind == "multilabel" else ""
            return kind, f"{shown} holds texts with labels{many}, not tokens with tags"
        return None
    if resolved == "jsonl" and _jsonl_kind(data) == "ner":
        return "ner", f"{shown} holds tokens with tags, not texts with labels"
    if resolved == "conll" and (fmt == "conll" or name.lower().endswith(CONLL_EXTENSIONS)):
        return "ner", f"{shown} is a CoNLL file, which holds tokens with tags"
    return None


def not_utf8(data: bytes, name: str, fmt: str = "auto") -> DataError | None:
    """The DataError (where, and the byte at fault) when the one thing wrong with a text
    file is that it is not valid UTF-8; None when it is UTF-8, or Parquet, or when the
    reader refuses it first for something else (an image, UTF-16, NUL or control bytes),
    which the reader then reports in its own words."""
    if fmt == "parquet" or (data.startswith(b"PAR1") and data.endswith(b"PAR1")):
        return None
    try:
        data.decode("utf-8")
        return None
    except UnicodeDecodeError as err:
        start = err.start
    try:
        decode_text(data, name)
    except DataError as exc:
        if exc.offset != start or exc.found != f"byte 0x{data[start]:02X}":
            return None  # refused before the encoding
    return DataError("the file is not valid UTF-8", source=name,
                     line=data.count(b"\n", 0, start) + 1, offset=start,
                     expected="UTF-8 text", found=f"byte 0x{data[start]:02X}")


def decode_cp1252(data: bytes, name: str) -> str:
    """The text of `data` read as Windows-1252 (cp1252, which is Latin-1 plus the printable
    characters at 0x80-0x9F); DataError at the first byte it leaves undefined."""
    try:
        return data.decode("cp1252")
    except UnicodeDecodeError as err:
        raise DataError("the file is not Windows-1252 either: it is in another encoding; "
                        "re-save it as UTF-8", source=name,
                        line=data.count(b"\n", 0, err.start) + 1, offset=err.start,
                        expected="a Windows-1252 character",
                        found=f"byte 0x{data[err.start]:02X}") from None


def encoding_preview(text: str, first_bad_line: int | None = None,
                     lines: int = ENCODING_PREVIEW_LINES) -> str:
    """The first `lines` lines of `text`, numbered and cut at PREVIEW_LINE_CHARS characters,
    and the line `first_bad_line` (the first with a byte UTF-8 refused) when it is later."""
    rows = text.splitlines()
    wanted = list(range(min(lines, len(rows))))
    if first_bad_line and first_bad_line - 1 >= len(wanted) and first_bad_line <= len(rows):
        wanted.append(first_bad_line - 1)
    out = []
    for k in wanted:
        line = rows[k] if len(rows[k]) <= PREVIEW_LINE_CHARS else (
            rows[k][:PREVIEW_LINE_CHARS] + "…")
        if out and k != wanted[len(out) - 1] + 1:
            out.append("   …")
        out.append(f"{k + 1:>4}  {line}")
    return "\n".join(out)


def fix_working(working: Working, fix: Fix) -> Working:
    """The working copy with `fix` applied to every split."""
    splits = {name: apply_fix(examples, fix) for name, examples in working.splits.items()}
    return replace(working, splits=splits, fixes=working.fixes + (f"{fix.code}:{fix.target}",))


def save_working(store: Store, working: Working, name: str) -> str:
    """Store the working copy (with the original upload bytes) and return its dataset id."""
    meta = {"source": working.origin, "fixes": list(working.fixes)}
    if working.converted:  # e.g. {"notes.csv": "cp1252"}: read so, stored as UTF-8
        meta["converted_to_utf8"] = dict(working.converted)
    return actions.add_dataset(acting_user(), store, name.strip() or working.name, working.task,
                               working.splits, original=working.original,
                               original_name=working.original_name, meta=meta)


def parse_synonyms(text: str) -> dict[str, list[str]]:
    """A synonym table from lines 'word: syn1, syn2'; ConfigError naming the bad line."""
    table: dict[str, list[str]] = {}
    for number, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        word, sep, rest = line.partition(":")
        alternatives = [s.strip() for s in rest.split(",") if s.strip()]
        if not sep or not word.strip() or not alternatives:
            raise ConfigError(f"synonyms, line {number}: expected 'word: synonym, synonym', "
                              f"found {line!r}")
        table.setdefault(word.strip(), []).extend(alternatives)
    return table


def augment_params(working: Working, method: str, *, p: float, n: int,
                   synonyms: dict[str, list[str]]) -> dict:
    """Keyword arguments for core.augment.augment on this working copy."""
    params: dict = {"p": p, "n": n, "train": working.splits["train"]}
    if synonyms:
        params["synonyms"] = synonyms
    if working.task == "ner":
        params["scheme"] = train_scheme(working)
    return params


def augment_train(working: Working, method: str, *, seed: int, p: float, n: int,
                  synonyms: dict[str, list[str]], limit: int | None = None) -> AugmentResult:
    """Augment the first `limit` training examples (all when None)."""
    train = working.splits["train"]
    params = augment_params(working, method, p=p, n=n, synonyms=synonyms)
    return augment(train if limit is None else train[:limit], method, seed=seed, **params)


def save_augmented(store: Store, working: Working, method: str, *, seed: int, p: float, n: int,
                   synonyms: dict[str, list[str]]) -> tuple[str, int]:
    """Store train + augmented train (dev/test unchanged) as a new dataset; (id, new examples)."""
    result = augment_train(working, method, seed=seed, p=p, n=n, synonyms=synonyms)
    splits = dict(working.splits)
    splits["train"] = list(working.splits["train"]) + list(result.examples)
    meta = {"source": working.origin, "fixes": list(working.fixes),
            "augment": {"name": method, "p": p, "n": n, "seed": seed,
                        "added": len(result.examples)}}
    ds_id = actions.add_dataset(acting_user(), store, f"{working.name}-aug", working.task, splits,
                                meta=meta)
    return ds_id, len(result.examples)


def train_scheme(working: Working) -> str:
    """The tag scheme detected in the training split (IOB2 when it has no entities)."""
    scheme = detect_scheme([ex.tags for ex in working.splits["train"]])
    return scheme if scheme in SCHEMES else "IOB2"


# ---- HTML for the augmentation preview -----------------------------------------------------

def changed_positions(before: list[str], after: list[str]) -> tuple[set[int], set[int]]:
    """Positions that differ between two token lists (difflib opcodes), in each list."""
    old, new = set(), set()
    matcher = difflib.SequenceMatcher(a=before, b=after, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op != "equal":
            old.update(range(i1, i2))
            new.update(range(j1, j2))
    return old, new


def tokens_html(tokens: list[str], tags: list[str] | None, marked: set[int]) -> str:
    """Tokens with entity spans boxed in their type colour and `marked` tokens in <mark>."""
    words = [f"<mark>{html.escape(t)}</mark>" if i in marked else html.escape(t)
             for i, t in enumerate(tokens)]
    if not tags:
        return " ".join(words)
    starts = {s: (t, e) for t, s, e in to_spans(tags)}
    out, i = [], 0
    while i < len(words):
        if i in starts:
            etype, end = starts[i]
            colour = type_colour(etype)
            out.append(f'<span style="background:{colour}22;border:2px solid {colour};'
                       f'border-radius:4px;padding:1px 4px;white-space:nowrap">'
                       f'{" ".join(words[i:end])}'
                       f'<sup style="color:{colour};font-weight:600;margin-left:3px">'
                       f'{html.escape(etype)}</sup></span>')
            i = end
        else:
            out.append(words[i])
            i += 1
    return " ".join(out)


def preview_rows(working: Working, result: AugmentResult, limit: int = PREVIEW_PAIRS) -> list[dict]:
    """Up to `limit` {"method", "before", "after"} HTML pairs, changed tokens marked."""
    train = working.splits["train"]
    rows = []
    for example, change in list(zip(result.examples, result.changes))[:limit]:
        source = train[change.source_index]
        if isinstance(example, TokenExample):
            old, _ = changed_positions(list(source.tokens), list(example.tokens))
            new = set(change.positions)
            before = tokens_html(list(source.tokens), list(source.tags), old)
            after = tokens_html(list(example.tokens), list(example.tags), new)
        else:
            old, _ = changed_positions(source.text.split(), example.text.split())
            before = tokens_html(source.text.split(), None, old)
            after = tokens_html(example.text.split(), None, set(change.positions))
            label = html.escape(", ".join(example.labels))
            after += f' <small style="color:#666">[{label}]</small>'
        rows.append({"method": change.method, "before": before, "after": after})
    return rows


# ---- cached computations (keyed by dataset id or working-copy key) ---------------------------

@st.cache_data(max_entries=8, show_spinner=False)
def _demo_splits(name: str) -> dict[str, list]:
    return make_demo(name, seed=0)


@st.cache_data(max_entries=8, show_spinner=False)
def _stored_splits(root: str, ds_id: str) -> dict[str, list]:
    return Store(Path(root)).load_dataset(ds_id)


@st.cache_data(max_entries=16, show_spinner=False)
def _summary(key: str, task: str, _splits: dict) -> pl.DataFrame:  # noqa: ARG001 - key keys the cache
    per_split = stats.summary(_splits, task=reader_task(task))
    return pl.DataFrame([{"split": name, **values} for name, values in per_split.items()])


@st.cache_data(max_entries=16, show_spinner=False)
def _diagnostics(key: str, _splits: dict) -> tuple[str, list[Diagnostic]]:  # noqa: ARG001
    scheme = detect_scheme([ex.tags for ex in _splits.get("train", [])])
    return scheme, diagnose(_splits)


@st.cache_data(max_entries=16, show_spinner=False)
def _ner_stats(key: str, _splits: dict) -> dict[str, pl.DataFrame]:  # noqa: ARG001
    sentences = stats.sentence_lengths(_splits).group_by("split", "length").agg(
        pl.len().alias("sentences")).sort("split", "length")
    entities = stats.entity_lengths(_splits).group_by("split", "type", "length").agg(
        pl.len().alias("entities")).sort("split", "type", "length")
    vocab = stats.vocabulary(_splits).join(
        stats.entity_oov(_splits).select("split", pl.col("unseen").alias("unseen_entities"),
                                         pl.col("unseen_rate").alias("unseen_entity_rate")),
        on="split", how="left")
    return {"labels": stats.label_counts(_splits), "entities": stats.entity_counts(_splits),
            "sentence_lengths": sentences, "entity_lengths": entities, "vocabulary": vocab}


@st.cache_data(max_entries=16, show_spinner=False)
def _text_stats(key: str, _splits: dict) -> dict[str, pl.DataFrame]:  # noqa: ARG001
    lengths = stats.text_lengths(_splits).group_by("split", "words").agg(
        pl.len().alias("texts")).sort("split", "words")
    return {"classes": stats.class_counts(_splits), "lengths": lengths,
            "cardinality": stats.label_cardinality(_splits)}


@st.cache_data(max_entries=16, show_spinner=False)
def _preview(key: str, method: str, seed: int, p: float, n: int, synonyms: str,
             _working: Working) -> list[dict]:  # noqa: ARG001
    result = augment_train(_working, method, seed=seed, p=p, n=n,
                           synonyms=parse_synonyms(synonyms), limit=PREVIEW_SOURCE)
    return preview_rows(_working, result)


# ---- page -----------------------------------------------------------------------------------

def render() -> None:
    st.title("Data")
    st.caption("Load a dataset, check and fix its tags, read its statistics, try augmentation, "
               "and save it for training.")
    store = get_store()
    working = _source_section(store)
    if working is None:
        return
    _overview_section(working)
    if working.task == "ner":
        _diagnostics_section(working)
    _statistics_section(working)
    _augmentation_section(store, working)
    _save_section(store, working)


def _current() -> Working | None:
    return st.session_state.get("data.working")


def _use(working: Working) -> Working:
    """Make `working` the page's working copy (a new origin resets fixes and saved ids)."""
    previous = _current()
    if previous is None or previous.origin != working.origin:
        st.session_state.pop("data.saved", None)
        st.session_state.pop("data.saved_aug", None)
        st.session_state["data.save.name"] = working.name
    st.session_state["data.working"] = working
    return working


def _source_section(store: Store) -> Working | None:
    """Pick where the data comes from; returns the working copy or None (nothing loaded)."""
    source = st.radio("Source", SOURCES, horizontal=True, key="data.source")
    try:
        if source == "Demo":
            return _demo_source()
        if source == "Stored dataset":
            return _stored_source(store)
        return _file_source(source == "Paste")
    except WorkbenchError as exc:
        show_error(exc)
    except Exception as exc:  # a reader bug must still not show a traceback
        show_error(exc)
    return None


def _demo_source() -> Working:
    name = st.selectbox("Demo dataset", list(DEMOS), key="data.demo",
                        format_func=lambda n: f"{n} — {TASKS[DEMOS[n]['task']]}")
    st.caption(DEMOS[name]["description"])
    working = _current()
    if working is None or working.origin != f"demo:{name}":
        working = _use(load_demo(name))
    return working


def _stored_source(store: Store) -> Working | None:
    datasets = {d["id"]: d for d in store.list_datasets()}
    if not datasets:
        st.info("No stored datasets yet: load a demo or upload a file, then **Save dataset**.")
        return None
    ds_id = st.selectbox("Stored dataset", list(datasets), key="data.stored",
                         format_func=lambda i: describe_dataset(datasets[i]))
    row = datasets[ds_id]
    working = _current()
    if working is None or working.origin != f"dataset:{ds_id}":
        working = _use(load_stored(store, ds_id, row["name"], row["task"]))
    cols = st.columns([3, 1])
    by = row["meta"].get("created_by")
    cols[0].caption(f"**{row['name']}** · id `{ds_id}` · use it in Train as `dataset:{ds_id}`; "
                    f"stored in `{store.data_dir / ds_id}`" + (f"; uploaded by {by}." if by else "."))
    if can("delete dataset") and cols[1].button("Delete this dataset", icon=":material/delete:", key="data.delete"):
        st.session_state["data.confirm_delete"] = ds_id
    if st.session_state.get("data.confirm_delete") == ds_id:
        _confirm_delete(store, row)
    return working


def _confirm_delete(store: Store, row: dict) -> None:
    """Deleting a dataset asks first, as deleting a run does; runs that name it keep their
    own copy of nothing, so say which would no longer start."""
    ds_id = row["id"]
    users = [r["id"] for r in store.list_runs() if f"dataset:{ds_id}" in
             {str(v) for k, v in store.config(r["id"]).items() if k in ("train", "dev", "test")}]
    with st.container(border=True):
        st.warning(f"Delete dataset **{row['name']}** (`{ds_id}`) and its files? This cannot be "
                   "undone." + (f" {len(users)} run(s) name it; their results stay, but they "
                   "could not be resumed or repeated." if users else ""))
        yes, no = st.columns([1, 5])
        if yes.button("Yes, delete", type="primary", key="data.delete_yes"):
            try:
                actions.delete_dataset(acting_user(), store, ds_id)
            except WorkbenchError as exc:
                show_error(exc)
                return
            _stored_splits.clear()
            st.session_state.pop("data.working", None)
            st.session_state.pop("data.confirm_delete", None)
            st.rerun()
        if no.button("Keep it", key="data.delete_no"):
            st.session_state.pop("data.confirm_delete", None)
            st.rerun()


def describe_dataset(row: dict) -> str:
    """A stored dataset for people: its name first, then task and sizes; the id last."""
    sizes = ", ".join(f"{k} {v:,}" for k, v in row["meta"].get("splits", {}).items())
    return f"{row['name']} ({TASK_SHORT.get(row['task'], row['task'])}: {sizes}) · id {row['id']}"


def _file_source(paste: bool) -> Working | None:
    """Upload (or paste) a file with its task, format and column options."""
    pending = st.session_state.pop("data.task_pending", None)
    if pending in TASKS:  # set before the selectbox exists (see _follow_the_file)
        st.session_state["data.task"] = pending
    cols = st.columns(3)
    task = cols[0].selectbox("Task", list(TASKS), format_func=TASKS.get, key="data.task")
    fmt = cols[1].selectbox("Format", ("auto",) + FORMATS, key="data.format",
                            help="'auto' detects it from the file name and content.")
    files = _pasted_files(fmt) if paste else _uploaded_files()
    if files is None:
        return None
    converted: tuple[tuple[str, str], ...] = ()
    if not paste:  # pasted text is UTF-8 already
        files, converted = _encoding_controls(files, fmt)
        if files is None:
            return None
    _follow_the_file(files["train"], fmt, task)
    text_column, label_column, delimiter = "text", "label", "|"
    if task != "ner":
        text_column, label_column, delimiter = _column_controls(*files["train"], fmt, task)
    split = None
    if set(files) == {"train"}:
        split = _split_controls()
    origin = "upload:" + repr((sorted((k, v[0], hashlib.sha256(v[1]).hexdigest()[:16])
                                      for k, v in files.items()),
                              task, fmt, text_column, label_column, delimiter, split))
    working = _current()
    if working is None or working.origin != origin:
        with st.spinner("Reading the file…"):
            working = _use(load_upload(files, task=task, fmt=fmt, text_column=text_column,
                                       label_column=label_column, label_delimiter=delimiter,
                                       split=split, origin=origin, converted=converted))
    return working


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def _follow_the_file(train: tuple[str, bytes], fmt: str, task: str) -> None:
    """Switch the Task selector when the training file can only hold another kind of data
    (suggested_task), once per file, and say so; the switch reruns the page."""
    name, data = train
    note = st.session_state.get("data.task_note")
    if note and note[0] == _digest(data):
        st.info(note[1])
        return  # switched for this file already: a later choice is the user's
    switch = suggested_task(data, name, fmt, task)
    if switch is None:
        return
    new_task, why = switch
    st.session_state["data.task_pending"] = new_task
    st.session_state["data.task_note"] = (
        _digest(data), f"Task switched from {TASKS[task]} to **{TASKS[new_task]}**: {why}.")
    st.rerun()


def _encoding_controls(files: dict[str, tuple[str, bytes]], fmt: str
                       ) -> tuple[dict[str, tuple[str, bytes]] | None, tuple[tuple[str, str], ...]]:
    """The files with UTF-8 bytes, and which were converted; None while a file that is not
    UTF-8 waits for the user's choice. Such a file gets its error (where, and the byte at
    fault), a preview of its first lines read as Windows-1252 and a box to read it so:
    never guessed. A new file needs a new choice (the box's key holds its digest)."""
    out: dict[str, tuple[str, bytes]] = {}
    converted: list[tuple[str, str]] = []
    waiting = False
    for split, (name, data) in files.items():
        problem = not_utf8(data, name, fmt)
        if problem is None:
            out[split] = (name, data)
            continue
        try:
            text = decode_cp1252(data, name)
        except DataError as exc:
            show_error(problem)
            show_error(exc)
            waiting = True
            continue
        key = f"data.encoding.{split}.{_digest(data)}"
        if not st.session_state.get(key):
            show_error(problem)
        with st.container(border=True):
            st.markdown(f"`{name}` read as **Latin-1 / Windows-1252** (its first lines, and the "
                        "first line UTF-8 refused):")
            st.code(encoding_preview(text, problem.line), language=None)
            st.caption("Files saved by Excel or older Windows programs are often Windows-1252. "
                       "Nothing is guessed: if the text above reads right, tick the box.")
            chosen = st.checkbox(f"Re-read `{name}` as Latin-1 / Windows-1252 (cp1252)", key=key,
                                 help="Converts the file to UTF-8; saving stores the UTF-8 text.")
        if chosen:
            st.info(f"`{name}` read as Windows-1252 and converted to UTF-8; saving stores the "
                    "UTF-8 text.")
            out[split] = (name, text.encode("utf-8"))
            converted.append((name, "cp1252"))
        else:
            waiting = True
    return (None if waiting else out), tuple(converted)


def _column_controls(name: str, data: bytes, fmt: str, task: str) -> tuple[str, str, str]:
    """(text column, label column, label delimiter): selectors over a table's header, else
    free text (JSONL fields)."""
    columns = table_columns(data, name, fmt, task)
    guessed = guess_columns(columns) if columns else ("text", "label")  # as `validate` guesses
    cols = st.columns(3)
    picked = []
    for box, key, label, default in ((cols[0], "data.text_column", "Text column", "text"),
                                     (cols[1], "data.label_column", "Label column", "label")):
        if columns:
            if st.session_state.get(key) not in columns:
                st.session_state[key] = guessed[len(picked)]
            picked.append(box.selectbox(label, columns, key=key))
        else:
            st.session_state.setdefault(key, default)
            picked.append(box.text_input(f"{label} (JSON field)", key=key))
    delimiter = cols[2].text_input("Label delimiter (multi-label)", "|", key="data.delimiter",
                                   disabled=task != "multilabel")
    return picked[0], picked[1], delimiter


def _uploaded_files() -> dict[str, tuple[str, bytes]] | None:
    train = st.file_uploader("Training data (or the whole dataset, to split below)",
                             type=UPLOAD_TYPES, key="data.upload.train",
                             max_upload_size=MAX_UPLOAD_MB)
    with st.expander("Separate dev and test files (optional)"):
        dev = st.file_uploader("Dev data", type=UPLOAD_TYPES, key="data.upload.dev",
                               max_upload_size=MAX_UPLOAD_MB)
        test = st.file_uploader("Test data", type=UPLOAD_TYPES, key="data.upload.test",
                                max_upload_size=MAX_UPLOAD_MB)
    if train is None:
        st.info("Upload a CoNLL, JSONL, CSV/TSV or Parquet file "
                f"(at most {MAX_UPLOAD_MB} MB). Nothing is stored until you save.")
        return None
    files = {}
    for name, upload in (("train", train), ("dev", dev), ("test", test)):
        if upload is None:
            continue
        if upload.size > MAX_UPLOAD_BYTES:
            raise DataError(f"the file is {upload.size / 2**20:.0f} MB; the upload limit is "
                            f"{MAX_UPLOAD_MB} MB", source=upload.name)
        files[name] = (upload.name, upload.getvalue())
    return files


def _pasted_files(fmt: str) -> dict[str, tuple[str, bytes]] | None:
    text = st.text_area("Paste data (CoNLL: one 'token tag' per line, blank line between "
                        "sentences; or JSONL / CSV with a header)", key="data.paste", height=200)
    if not text.strip():
        st.info("Paste a few sentences to check them; nothing is stored until you save.")
        return None
    name = "pasted" + ("" if fmt == "auto" else "." + ("parquet" if fmt == "parquet" else fmt))
    return {"train": (name, text.encode("utf-8"))}


def _split_controls() -> tuple[float, float, int] | None:
    """(dev, test, seed) fractions for splitting a single file, or None to keep it whole."""
    if not st.checkbox("Create dev and test splits from this file", value=True,
                       key="data.split"):
        return None
    cols = st.columns(3)
    dev = cols[0].slider("Dev fraction", 0.0, 0.5, 0.1, 0.05, key="data.split.dev")
    test = cols[1].slider("Test fraction", 0.0, 0.5, 0.1, 0.05, key="data.split.test")
    seed = int(cols[2].number_input("Seed", 0, 2**31 - 1, 42, key="data.split.seed"))
    return dev, test, seed


def _overview_section(working: Working) -> None:
    st.subheader(f"{working.name}")
    note = f" · fixes applied: {', '.join(working.fixes)}" if working.fixes else ""
    st.caption(f"{TASKS[working.task]} · from {_describe_origin(working)}{note}")
    _table(_summary(working.key, working.task, working.splits))


def _describe_origin(working: Working) -> str:
    """Where the working copy came from, for people: the demo, the stored dataset by name
    (its reference after it), or the uploaded file (and the encoding it was read in)."""
    if working.origin.startswith("upload:"):
        read = "".join(f"; `{n}` read as {_ENCODING_NAMES.get(e, e)}, converted to UTF-8"
                       for n, e in working.converted)
        return f"the upload `{working.original_name}`{read}"
    if working.origin.startswith("dataset:"):
        return f"the stored dataset **{working.name}** (`{working.origin}`)"
    if working.origin.startswith("demo:"):
        return f"the demo **{working.name}**"
    return f"`{working.origin}`"


_ENCODING_NAMES = {"cp1252": "Windows-1252"}


def column_label(name: str) -> str:
    """What a table calls column `name`: COLUMN_LABELS, else the key in words."""
    if name in COLUMN_LABELS:
        return COLUMN_LABELS[name]
    words = name.replace("_", " ").strip()
    words = " ".join("OOV" if w.lower() == "oov" else w for w in words.split(" "))
    return words[:1].upper() + words[1:]


def _columns(frame: pl.DataFrame) -> dict:
    """column_config for every column of `frame`: a human label (the data keeps its keys),
    percent formatting for *_rate columns and 1-decimal means."""
    config = {}
    for name in frame.columns:
        label, help_ = column_label(name), COLUMN_HELP.get(name)
        if name.endswith("_rate"):
            config[name] = st.column_config.NumberColumn(label, format="percent", help=help_)
        elif name.startswith("mean") or name == "cardinality":
            config[name] = st.column_config.NumberColumn(label, format="%.1f", help=help_)
        else:
            config[name] = st.column_config.Column(label, help=help_)
    return config


def _table(frame: pl.DataFrame) -> None:
    st.dataframe(frame, hide_index=True, column_config=_columns(frame))


def _diagnostics_section(working: Working) -> None:
    st.subheader("Diagnostics")
    scheme, diags = _diagnostics(working.key, working.splits)
    st.markdown(f"Tag scheme: **{scheme}** — {describe_scheme(scheme)}")
    summary = summarize_diagnostics(diags)
    cols = st.columns(3)
    cols[0].metric("Errors", summary["error"])
    cols[1].metric("Warnings", summary["warning"])
    cols[2].metric("Notes", summary["info"])
    if diags:
        by_code = {}
        for d in diags:
            by_code.setdefault(d.code, []).append(d)
        _table(pl.DataFrame([{"code": code, "severity": ds[0].severity, "count": len(ds),
                              "first": ds[0].message} for code, ds in by_code.items()]))
        rows = [{"severity": d.severity, "code": d.code, "split": d.source, "line": d.line,
                 "sentence": d.sentence, "message": d.message}
                for ds in by_code.values() for d in ds[:FIRST_PER_CODE]]
        with st.expander(f"First {FIRST_PER_CODE} findings of each kind, with line numbers"):
            _table(pl.DataFrame(rows, schema={"severity": pl.String, "code": pl.String,
                                              "split": pl.String, "line": pl.Int64,
                                              "sentence": pl.Int64, "message": pl.String}))
    else:
        st.success("No problems found.")
    offered = fixes(diags, scheme)
    if offered:
        st.markdown("**One-click fixes** (applied to every split of the working copy):")
        for fix in offered:
            st.button(fix.description, key=f"data.fix.{fix.code}.{fix.target}",
                      on_click=_apply_fix, args=(fix,))
    flash = st.session_state.pop("data.flash", None)
    if flash:
        st.success(flash)


def _apply_fix(fix: Fix) -> None:
    working = _current()
    if working is None:
        return
    try:
        st.session_state["data.working"] = fix_working(working, fix)
        st.session_state["data.flash"] = f"Applied: {fix.description}"
    except WorkbenchError as exc:
        st.session_state["data.flash"] = f"Could not apply the fix: {exc}"


def _statistics_section(working: Working) -> None:
    st.subheader("Statistics")
    if working.task == "ner":
        _ner_statistics(working)
    else:
        _text_statistics(working)


def _ner_statistics(working: Working) -> None:
    data = _ner_stats(working.key, working.splits)
    types = sorted(data["entities"]["type"].unique().to_list())
    domain, colours = type_colours(types)
    scale = alt.Scale(domain=domain, range=colours)
    tabs = st.tabs(["Entities", "Tags", "Sentence length", "Entity length", "Vocabulary"])
    with tabs[0]:
        chart = alt.Chart(data["entities"]).mark_bar().encode(
            x=alt.X("type:N", title=None), y=alt.Y("count:Q", title="entities"),
            color=alt.Color("type:N", scale=scale, legend=None),
            column=alt.Column("split:N", sort=list(working.splits), title=None),
            tooltip=["split", "type", "count"]).properties(width=180, height=220)
        st.altair_chart(chart)
    with tabs[1]:
        labels = data["labels"].with_columns(
            pl.col("label").map_elements(lambda t: split_tag(t)[1] or "O",
                                         return_dtype=pl.String).alias("type"))
        # O outnumbers every entity tag many times over: it is in the table, not the chart
        chart = alt.Chart(labels.filter(pl.col("label") != "O")).mark_bar().encode(
            y=alt.Y("label:N", title=None), x=alt.X("count:Q", title="tokens"),
            color=alt.Color("type:N", scale=scale, legend=None),
            column=alt.Column("split:N", sort=list(working.splits), title=None),
            tooltip=["split", "label", "count"]).properties(width=220)
        st.altair_chart(chart)
        _table(labels.pivot(on="split", index="label", values="count").fill_null(0))
    with tabs[2]:
        st.altair_chart(_histogram(data["sentence_lengths"], "length", "sentences",
                                   "tokens per sentence", list(working.splits)))
    with tabs[3]:
        chart = alt.Chart(data["entity_lengths"]).mark_bar().encode(
            x=alt.X("length:O", title="tokens per entity"),
            y=alt.Y("sum(entities):Q", title="entities"),
            color=alt.Color("type:N", scale=scale),
            column=alt.Column("split:N", sort=list(working.splits), title=None),
            tooltip=["split", "type", "length", "entities"]).properties(width=180, height=200)
        st.altair_chart(chart)
    with tabs[4]:
        _table(data["vocabulary"])
        st.caption("OOV: tokens (and entity mentions) of a split that never occur in train.")


def _text_statistics(working: Working) -> None:
    data = _text_stats(working.key, working.splits)
    splits = list(working.splits)
    multilabel = working.task == "multilabel"
    tabs = st.tabs(["Classes", "Text length"] + (["Labels per text"] if multilabel else []))
    with tabs[0]:
        chart = alt.Chart(data["classes"]).mark_bar().encode(
            x=alt.X("label:N", title=None), y=alt.Y("count:Q", title="texts"),
            xOffset=alt.XOffset("split:N", sort=splits),
            color=alt.Color("split:N", sort=splits), tooltip=["split", "label", "count"]
        ).properties(height=260)
        st.altair_chart(chart, width="stretch")
        _table(data["classes"].pivot(on="split", index="label", values="count").fill_null(0))
    with tabs[1]:
        st.altair_chart(_histogram(data["lengths"], "words", "texts", "words per text", splits))
    if multilabel:
        with tabs[2]:
            chart = alt.Chart(data["cardinality"]).mark_bar().encode(
                x=alt.X("labels:O", title="labels per text"), y=alt.Y("count:Q", title="texts"),
                xOffset=alt.XOffset("split:N", sort=splits), color=alt.Color("split:N", sort=splits),
                tooltip=["split", "labels", "count"]).properties(height=240)
            st.altair_chart(chart, width="stretch")


def _histogram(frame: pl.DataFrame, x: str, count: str, title: str, splits: list[str]) -> alt.Chart:
    """Binned counts of pre-aggregated (split, x, count) rows, one panel per split."""
    return alt.Chart(frame).mark_bar().encode(
        x=alt.X(f"{x}:Q", bin=alt.Bin(maxbins=30), title=title),
        y=alt.Y(f"sum({count}):Q", title=count),
        color=alt.Color("split:N", sort=splits, legend=None),
        column=alt.Column("split:N", sort=splits, title=None),
    ).properties(width=240, height=200).resolve_scale(y="independent")


def _augmentation_section(store: Store, working: Working) -> None:
    st.subheader("Augmentation preview")
    methods = NER_AUGMENTERS if working.task == "ner" else TEXT_AUGMENTERS
    cols = st.columns(4)
    method = cols[0].selectbox("Method", methods, key=f"data.aug.method.{working.task}")
    p = cols[1].slider("p (share of tokens or mentions changed)", 0.0, 1.0, 0.3, 0.05,
                       key="data.aug.p", disabled=method == "eda.v1")
    n = int(cols[2].number_input("n (copies per example)", 1, 10, 1, key="data.aug.n"))
    seed = int(cols[3].number_input("Seed", 0, 2**31 - 1, 0, key="data.aug.seed"))
    synonyms = ""
    if method in ("synonym_replacement.v1", "eda.v1"):
        synonyms = st.text_area("Synonym table: one 'word: synonym, synonym' per line",
                                "said: stated, reported\nbig: large, huge", key="data.aug.synonyms",
                                height=100)
    try:
        rows = _preview(working.key, method, seed, p, n, synonyms, working)
    except WorkbenchError as exc:
        show_error(exc)
        return
    if not rows:
        st.info("This setting changes none of the previewed sentences; raise p or pick "
                "another method.")
    else:
        body = "".join(f"<tr><td style='color:#666;white-space:nowrap'>{i + 1}</td>"
                       f"<td>{r['before']}</td><td>{r['after']}</td></tr>"
                       for i, r in enumerate(rows))
        st.markdown("<table style='width:100%;font-size:0.9rem'><tr><th></th><th>before</th>"
                    f"<th>after (changed tokens <mark>marked</mark>)</th></tr>{body}</table>",
                    unsafe_allow_html=True)
    if st.button("Save augmented set", key="data.aug.save",
                 help="Stores train + augmented train (dev and test unchanged) as a new dataset."):
        try:
            with st.spinner("Augmenting the training split…"):
                ds_id, added = save_augmented(store, working, method, seed=seed, p=p, n=n,
                                              synonyms=parse_synonyms(synonyms))
            st.session_state["data.saved_aug"] = (ds_id, added, f"{working.name}-aug")
        except WorkbenchError as exc:
            show_error(exc)
    saved = st.session_state.get("data.saved_aug")
    if saved:
        st.success(f"Saved the augmented set **{saved[2]}** ({saved[1]} new training "
                   f"examples); use it in Train as `dataset:{saved[0]}`.")


def _save_section(store: Store, working: Working) -> None:
    st.subheader("Save")
    cols = st.columns([3, 1])
    st.session_state.setdefault("data.save.name", working.name)
    name = cols[0].text_input("Dataset name", key="data.save.name")
    cols[1].write("")
    if cols[1].button("Save dataset", type="primary", key="data.save"):
        try:
            ds_id = save_working(store, working, name)
            st.session_state["data.saved"] = (ds_id, name.strip() or working.name)
        except WorkbenchError as exc:
            show_error(exc)
    saved = st.session_state.get("data.saved")
    if saved:
        ds_id, saved_name = saved
        st.success(f"Saved **{saved_name}**. Use it in **Train** as the training data "
                   f"`dataset:{ds_id}`.")
        st.code(f'train = "dataset:{ds_id}"', language="toml")


if __name__ == "__main__":  # opened as a legacy pages/ script: let app.py route the URL
    from pages.common import hand_over_to_app

    hand_over_to_app()
