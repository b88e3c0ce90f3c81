"""Readers and writers for CoNLL, JSON Lines and CSV/TSV/Parquet tables.

Every reader takes the file's bytes plus `source` (the name used in error messages) and
returns plain records (core.records) with document boundaries kept; every writer returns
the file's content. Nothing here touches the file system. A malformed file raises
DataError at the first problem (source, line, byte offset where relevant, expected vs
found); no reader ever returns a partial result.

Document indices (TokenExample.doc) count documents that hold at least one sentence:
sentences before any -DOCSTART- are document 0, a -DOCSTART- before the first sentence
(as in CoNLL-2003) or right after another one opens no empty document, and each later
-DOCSTART- starts the next index. So read -> write -> read keeps documents exactly.
"""
from __future__ import annotations

import inspect
import io
import json
import re
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

if TYPE_CHECKING:  # polars is imported where tables are read or written, not for CoNLL/JSONL
    import polars as pl

from core.errors import ConfigError, DataError
from core.records import TextExample, TokenExample

FORMATS = ("conll", "jsonl", "csv", "tsv", "parquet")
TABLE_FORMATS = ("csv", "tsv", "parquet")
TASKS = ("ner", "classification")
DOCSTART = "-DOCSTART-"
TAG_PREFIXES = frozenset("BIESLU")

_BOM = "\ufeff"
_BOM_BYTES = b"\xef\xbb\xbf"
_BLANK = " \t\r\f\v"  # stripped around CoNLL lines; a line of only these is a sentence break
_FIELD_SEP = re.compile(r"[ \t]+")
# ASCII characters besides space and tab that str.split() treats as separators.
_ODD_ASCII_SPACE = re.compile(r"[\x0b\x0c\x1c-\x1f]")
_WHITESPACE = re.compile(r"\s")
_SEPARATORS = {"csv": ",", "tsv": "\t"}
# Control bytes that never occur in text files (tab, LF, VT, FF, CR and ESC excluded).
_CONTROL_BYTES = bytes([*range(0x01, 0x09), 0x0E, *range(0x0F, 0x1B), *range(0x1C, 0x20), 0x7F])
_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a zip archive (.xlsx and .docx files are zip archives: export as CSV)"),
    (b"\x1f\x8b", "a gzip archive (decompress it first)"),
    (b"\xd0\xcf\x11\xe0", "an old Office document (.xls/.doc: export as CSV)"),
    (b"PAR1", "a Parquet file (read it with format 'parquet')"),
)
_EXTENSIONS = {
    ".conll": "conll", ".conllu": "conll", ".txt": "conll", ".iob": "conll",
    ".iob2": "conll", ".bio": "conll", ".bioes": "conll", ".ner": "conll",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".json": "jsonl",
    ".csv": "csv", ".parquet": "parquet", ".pq": "parquet",
}


# ---------------------------------------------------------------- shared checks


def decode_text(data: bytes, source: str) -> str:
    """The UTF-8 text of `data` without a BOM; DataError for binary, non-UTF-8 or empty data."""
    if not data:
        raise DataError("the file is empty", source=source, expected="text", found="0 bytes")
    for magic, what in _MAGIC:
        if data.startswith(magic):
            raise DataError("this is not a text file", source=source, line=1, offset=0,
                            expected="UTF-8 text", found=what)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise DataError("the file is UTF-16 encoded; re-save it as UTF-8", source=source,
                        line=1, offset=0, expected="UTF-8 text", found="a UTF-16 byte-order mark")
    nul = data.find(b"\x00")
    if nul >= 0:
        raise DataError("NUL byte in a text file (binary or UTF-16 data?); re-save it as UTF-8 "
                        "text", source=source, line=_line_of(data, nul), offset=nul,
                        expected="UTF-8 text", found="byte 0x00")
    sample = data[:8192]
    controls = len(sample) - len(sample.translate(None, _CONTROL_BYTES))
    if controls > 8 and controls * 20 > len(sample):  # > 5 %: binary, not a stray byte
        raise DataError("this looks like a binary file", source=source, expected="UTF-8 text",
                        found=f"{controls} control bytes in the first {len(sample)} bytes")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        bad = data[err.start:err.end]
        raise DataError("the file is not valid UTF-8; re-save it as UTF-8 (this reader does "
                        "not guess other encodings)", source=source,
                        line=_line_of(data, err.start), offset=err.start,
                        expected="UTF-8 text", found=f"byte 0x{bad[0]:02X}") from None
    if text.startswith(_BOM):
        text = text[1:]
    if not text.strip():
        raise DataError("the file is empty", source=source, expected="text",
                        found="only whitespace")
    return text


def check_tag(tag: str) -> str | None:
    """Why `tag` is malformed ('B-' , 'X-PER', ''), or None when it is well formed.

    A tag with a hyphen needs a one-letter prefix in BIESLU and a non-empty type; a tag
    without one is 'O' or a plain label.
    """
    if not tag:
        return "an empty tag"
    if _WHITESPACE.search(tag):
        return "a tag containing whitespace"
    head, sep, type_ = tag.partition("-")
    if not sep:
        return None
    if len(head) != 1 or head not in TAG_PREFIXES:
        return "a tag whose prefix is not one of B, I, E, S, L, U"
    if not type_:
        return "a tag with a prefix but no entity type"
    return None


def _line_of(data: bytes, offset: int) -> int:
    """1-based line number of byte `offset`."""
    return data.count(b"\n", 0, offset) + 1


def _split_lines(text: str) -> list[str]:
    """Lines of `text` split on LF (CR kept for the caller to strip), or on CR for old Mac files."""
    if "\n" not in text and "\r" in text:
        return text.split("\r")
    return text.split("\n")


def _snippet(text: str, width: int = 24) -> str:
    """The token at fault, quoted for an error message: the first field of `text`, at most
    `width` characters. Never a whole line: the file may hold what the reader must not see."""
    fields = text.split()
    token = fields[0] if fields else ""
    return repr(token if len(token) <= width else token[:width] + "...")


def _tag_error(problem: str, tag: str, source: str, line: int | None) -> DataError:
    """The DataError for a malformed tag."""
    return DataError(f"malformed tag {tag!r}", source=source, line=line,
                     expected="'O', a plain label, or PREFIX-TYPE with PREFIX in B I E S L U "
                              "and a non-empty TYPE", found=problem)


# ---------------------------------------------------------------- CoNLL


def read_conll(data: bytes, *, source: str = "<conll>", tag_column: int = -1,
               token_column: int = 0) -> list[TokenExample]:
    """Sentences of a CoNLL file: one token per line, columns split by spaces or tabs.

    Blank lines end sentences; -DOCSTART- lines start documents (see the module docstring).
    tag_column and token_column index the columns of the file's first token line (negative
    counts from the end).
    """
    if tag_column == token_column:
        raise ConfigError(f"tag_column and token_column are both {tag_column}")
    text = decode_text(data, source)
    examples: list[TokenExample] = []
    tokens: list[str] = []
    tags: list[str] = []
    first = 0  # line of the current sentence's first token
    width = 0  # column count of the file's first token line
    width_line = 0
    token_i = tag_i = 0
    doc, new_doc = 0, False
    known_tags: set[str] = set()
    # str.split() is 3x faster than the regex and splits ASCII lines the same way unless
    # the text holds one of the odd ASCII separators.
    fast_split = _ODD_ASCII_SPACE.search(text) is None
    split_fields = _FIELD_SEP.split

    def flush() -> None:
        nonlocal doc, new_doc, tokens, tags
        if tokens:
            if new_doc:
                doc, new_doc = doc + 1, False
            examples.append(TokenExample(tuple(tokens), tuple(tags), doc, first))
            tokens, tags = [], []

    for number, raw in enumerate(_split_lines(text), 1):
        line = raw.strip(_BLANK)
        if not line:
            flush()
            continue
        fields = line.split() if fast_split and line.isascii() else split_fields(line)
        if fields[0] == DOCSTART:
            flush()
            new_doc = bool(examples)
            continue
        if len(fields) != width:
            if len(fields) == 1:
                raise DataError("token without a tag", source=source, line=number,
                                expected=f"{max(width, 2)} columns (token and tag)",
                                found=f"1 column: {_snippet(line)}")
            if width:
                raise DataError("ragged columns", source=source, line=number,
                                expected=f"{width} columns, as on line {width_line}",
                                found=f"{len(fields)} columns: {_snippet(line)}")
            width, width_line = len(fields), number
            token_i = _resolve_column(token_column, width, "token_column", source, number)
            tag_i = _resolve_column(tag_column, width, "tag_column", source, number)
            if token_i == tag_i:
                raise DataError("the token and tag columns are the same column",
                                source=source, line=number,
                                expected="different token_column and tag_column",
                                found=f"both resolve to column {tag_i} of {width}")
        tag = fields[tag_i]
        if tag not in known_tags:
            problem = check_tag(tag)
            if problem:
                raise _tag_error(problem, tag, source, number)
            known_tags.add(tag)
        if not tokens:
            first = number
        tokens.append(fields[token_i])
        tags.append(tag)
    flush()
    if not examples:
        raise DataError("no sentence in the file", source=source,
                        expected="lines of 'token tag' with blank lines between sentences",
                        found="only -DOCSTART- and blank lines")
    return examples


def _resolve_column(index: int, width: int, name: str, source: str, line: int) -> int:
    """Non-negative column index of `index` in a line of `width` columns."""
    if not -width <= index < width:
        raise DataError(f"{name} {index} is outside the file's columns", source=source,
                        line=line, expected=f"a column between {-width} and {width - 1}",
                        found=f"{width} columns")
    return index % width


def write_conll(examples: Iterable[TokenExample]) -> str:
    """CoNLL text: 'token tag' lines, a blank line after each sentence, and a
    '-DOCSTART- O' line (plus a blank line) before each document when there are several.

    read_conll(write_conll(x)) == x when documents are numbered 0, 1, 2, ... in order;
    other numberings keep their boundaries but are renumbered that way.
    """
    examples = list(examples)
    several_docs = len({ex.doc for ex in examples}) > 1
    out: list[str] = []
    prev_doc: int | None = None
    for k, ex in enumerate(examples):
        _check_token_example(ex, k)
        if several_docs and ex.doc != prev_doc:
            out.append(f"{DOCSTART} O\n\n")
        prev_doc = ex.doc
        for token, tag in zip(ex.tokens, ex.tags):
            if not token or _WHITESPACE.search(token) or token == DOCSTART or "\x00" in token:
                raise DataError(f"token {token!r} cannot be written to CoNLL", source="<write>",
                                line=k + 1, expected="a non-empty token without whitespace or "
                                "NUL, other than -DOCSTART-", found=repr(token))
            out.append(f"{token} {tag}\n")
        out.append("\n")
    text = "".join(out)
    # read_conll drops one leading BOM, so a token starting with U+FEFF needs a second one.
    return _BOM + text if text.startswith(_BOM) else text


def _check_token_example(ex: TokenExample, k: int) -> None:
    """DataError unless example number k (0-based) can be written: tokens, matching valid tags."""
    if not isinstance(ex, TokenExample):
        raise DataError("expected token-classification examples", source="<write>",
                        line=k + 1, expected="TokenExample", found=type(ex).__name__)
    if not ex.tokens:
        raise DataError("a sentence without tokens cannot be written", source="<write>",
                        line=k + 1, expected="at least one token", found="0 tokens")
    if len(ex.tokens) != len(ex.tags):
        raise DataError("tokens and tags differ in length", source="<write>", line=k + 1,
                        expected=f"{len(ex.tokens)} tags", found=f"{len(ex.tags)} tags")
    for tag in ex.tags:
        problem = check_tag(tag) if isinstance(tag, str) else "a tag that is not a string"
        if problem:
            raise _tag_error(problem, tag, "<write>", k + 1)


# ---------------------------------------------------------------- JSON Lines


def read_jsonl(data: bytes, *, source: str = "<jsonl>", task: str | None = None,
               label_list: Sequence[str] | None = None) -> list[TokenExample] | list[TextExample]:
    """Records of a JSON Lines file, one object per line (blank lines skipped).

    NER: {"tokens": [...], "tags": [...]} or {"tokens": [...], "ner_tags": [ids]} with
    label_list mapping ids to names, and an optional "doc" index. Classification:
    {"text": ..., "label": ...} or {"text": ..., "labels": [...]}. task None infers the task
    from the first record's keys.
    """
    if task is not None and task not in TASKS:
        raise ConfigError(f"task must be one of {', '.join(TASKS)} or None, not {task!r}")
    if label_list is not None:
        label_list = _check_label_list(label_list)
    text = decode_text(data, source)
    records: list[tuple[int, dict]] = []
    for number, line in enumerate(_split_lines(text), 1):
        if line.strip():
            records.append((number, _parse_json_line(line, source, number)))
    if not records:
        raise DataError("no record in the file", source=source,
                        expected="one JSON object per line", found="only blank lines")
    if task is None:
        task = _infer_task(*records[0], source)
    convert = _token_record if task == "ner" else _text_record
    return [convert(record, number, source, label_list) for number, record in records]


def _check_label_list(label_list: Sequence[str]) -> list[str]:
    """label_list as a list of strings, or ConfigError."""
    if isinstance(label_list, str) or not all(isinstance(x, str) for x in label_list):
        raise ConfigError("label_list must be a list of label names (strings)")
    return list(label_list)


def _parse_json_line(line: str, source: str, number: int) -> dict:
    """The JSON object on one line, or DataError with the JSON error."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as err:
        raise DataError(f"invalid JSON: {err.msg} at column {err.colno}", source=source,
                        line=number, expected="one JSON object per line",
                        found=_snippet(line[err.pos:]) if line[err.pos:].strip() else "the end of the line") from None
    if not isinstance(obj, dict):
        raise DataError("each line must hold a JSON object", source=source, line=number,
                        expected="a JSON object {...}", found=f"a JSON {_json_type(obj)}")
    return obj


def _json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for error messages."""
    names = {dict: "object", list: "array", str: "string", bool: "boolean", int: "number",
             float: "number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _infer_task(number: int, record: dict, source: str) -> str:
    """'ner' or 'classification' from the keys of the first record."""
    if "tokens" in record:
        return "ner"
    if "text" in record:
        return "classification"
    raise DataError("cannot tell the task from the first record", source=source, line=number,
                    expected="a 'tokens' key (NER) or a 'text' key (classification)",
                    found=f"keys {sorted(record)}")


def _token_record(record: dict, number: int, source: str,
                  label_list: Sequence[str] | None) -> TokenExample:
    """TokenExample of one JSONL record."""
    tokens = record.get("tokens")
    if not isinstance(tokens, list):
        raise DataError("'tokens' must be a list of strings", source=source, line=number,
                        expected="\"tokens\": [\"...\", ...]",
                        found="no 'tokens' key" if tokens is None and "tokens" not in record
                        else f"a JSON {_json_type(tokens)}")
    if not tokens:
        raise DataError("sentence without tokens", source=source, line=number,
                        expected="at least one token", found="an empty list")
    for token in tokens:
        if not isinstance(token, str):
            raise DataError("'tokens' must be a list of strings", source=source, line=number,
                            expected="string tokens", found=f"a JSON {_json_type(token)}")
    key = "tags" if "tags" in record else "ner_tags" if "ner_tags" in record else None
    if key is None:
        raise DataError("record without tags", source=source, line=number,
                        expected="a 'tags' or 'ner_tags' key", found=f"keys {sorted(record)}")
    raw = record[key]
    if not isinstance(raw, list):
        raise DataError(f"'{key}' must be a list", source=source, line=number,
                        expected="a list of tags", found=f"a JSON {_json_type(raw)}")
    if len(raw) != len(tokens):
        raise DataError("tokens and tags differ in length", source=source, line=number,
                        expected=f"{len(tokens)} tags (one per token)",
                        found=f"{len(raw)} tags")
    tags = tuple(_label_name(value, key, label_list, source, number) for value in raw)
    for tag in tags:
        problem = check_tag(tag)
        if problem:
            raise _tag_error(problem, tag, source, number)
    doc = record.get("doc", 0)
    if isinstance(doc, bool) or not isinstance(doc, int) or doc < 0:
        raise DataError("'doc' must be a document index", source=source, line=number,
                        expected="a non-negative integer", found=repr(doc))
    return TokenExample(tuple(tokens), tags, doc, number)


def _label_name(value: Any, key: str, label_list: Sequence[str] | None, source: str,
                number: int) -> str:
    """A tag or label name from a string, or from an integer id through label_list."""
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if label_list is None:
            raise DataError(f"'{key}' holds integer ids but no label list was given; pass the "
                            "label list (label_list=[...], id -> name)", source=source,
                            line=number, expected="label names, or ids with a label list",
                            found=f"id {value}")
        if not 0 <= value < len(label_list):
            raise DataError(f"'{key}' id {value} is outside the label list", source=source,
                            line=number, expected=f"an id between 0 and {len(label_list) - 1}",
                            found=str(value))
        return label_list[value]
    if value is None:
        raise DataError(f"missing value in '{key}'", source=source, line=number,
                        expected="a label name", found="null")
    raise DataError(f"'{key}' must hold label names", source=source, line=number,
                    expected="a string (or an integer id with a label list)",
                    found=f"a JSON {_json_type(value)}")


def _text_record(record: dict, number: int, source: str,
                 label_list: Sequence[str] | None) -> TextExample:
    """TextExample of one JSONL record."""
    text = record.get("text")
    if not isinstance(text, str) or not text:
        raise DataError("record without text", source=source, line=number,
                        expected="\"text\": a non-empty string",
                        found="no 'text' key" if "text" not in record
                        else repr(text) if text == "" else f"a JSON {_json_type(text)}")
    if "labels" in record:
        raw = record["labels"]
        if not isinstance(raw, list):
            raise DataError("'labels' must be a list", source=source, line=number,
                            expected="\"labels\": [\"...\", ...]",
                            found=f"a JSON {_json_type(raw)}")
        labels = tuple(_label_name(v, "labels", label_list, source, number) for v in raw)
    elif "label" in record:
        labels = (_label_name(record["label"], "label", label_list, source, number),)
    else:
        raise DataError("record without a label", source=source, line=number,
                        expected="a 'label' or 'labels' key", found=f"keys {sorted(record)}")
    for label in labels:
        if not label.strip():
            raise DataError("empty label", source=source, line=number,
                            expected="a non-empty label name", found=repr(label))
    return TextExample(text, labels, number)


def write_jsonl(examples: Iterable[TokenExample] | Iterable[TextExample]) -> str:
    """JSON Lines text, one record per example (the reader's key names).

    Token examples get a "doc" key when any document index is not 0; text examples are
    written with "label" when every example has exactly one label, else with "labels".
    """
    examples = list(examples)
    if not examples:
        return ""
    if isinstance(examples[0], TokenExample):
        with_doc = any(ex.doc != 0 for ex in examples)
        records = []
        for k, ex in enumerate(examples):
            _check_token_example(ex, k)
            record: dict[str, Any] = {"tokens": list(ex.tokens), "tags": list(ex.tags)}
            if with_doc:
                record["doc"] = ex.doc
            records.append(record)
    else:
        single = _check_text_examples(examples, None)
        records = [{"text": ex.text, "label": ex.labels[0]} if single
                   else {"text": ex.text, "labels": list(ex.labels)} for ex in examples]
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def _check_text_examples(examples: list, delimiter: str | None) -> bool:
    """True when every example has one label; DataError for an example that cannot be written.

    delimiter: the multi-label separator of a delimited-text table, None for formats that
    store label lists natively (JSON, Parquet).
    """
    single = all(isinstance(ex, TextExample) and len(ex.labels) == 1 for ex in examples)
    for k, ex in enumerate(examples):
        if not isinstance(ex, TextExample):
            raise DataError("expected classification examples", source="<write>", line=k + 1,
                            expected="TextExample", found=type(ex).__name__)
        if not isinstance(ex.text, str) or not ex.text:
            raise DataError("empty text cannot be written", source="<write>", line=k + 1,
                            expected="a non-empty text", found=repr(ex.text))
        if delimiter is not None and "\x00" in ex.text:
            raise DataError("a text with a NUL character cannot be written to a CSV/TSV table",
                            source="<write>", line=k + 1, expected="text without NUL",
                            found=repr(ex.text[:60]))
        if not ex.labels and delimiter is not None:
            raise DataError("an example without labels cannot be written to a delimited "
                            "table", source="<write>", line=k + 1,
                            expected="at least one label", found="no labels")
        for label in ex.labels:
            if not isinstance(label, str) or not label.strip():
                raise DataError("empty label", source="<write>", line=k + 1,
                                expected="a non-empty label", found=repr(label))
            if delimiter is not None and (label != label.strip() or "\x00" in label):
                raise DataError("labels in tables cannot hold NUL or start or end with "
                                "whitespace", source="<write>", line=k + 1,
                                expected="a label without NUL or surrounding whitespace",
                                found=repr(label))
            if delimiter is not None and not single and delimiter in label:
                raise DataError(f"label contains the label delimiter {delimiter!r}",
                                source="<write>", line=k + 1,
                                expected=f"labels without {delimiter!r}", found=repr(label))
    return single


# ---------------------------------------------------------------- tables


def read_table(data: bytes, *, source: str = "<table>", fmt: str = "csv",
               text_column: str = "text", label_column: str = "label",
               multi_label: bool = False, label_delimiter: str = "|") -> list[TextExample]:
    """Classification examples of a CSV, TSV or Parquet table with a header row.

    Multi-label rows hold a list column (Parquet) or labels joined by label_delimiter.
    Labels are stripped of surrounding whitespace. Error lines count the header as line 1.
    """
    import polars as pl

    if fmt not in TABLE_FORMATS:
        raise ConfigError(f"table format must be one of {', '.join(TABLE_FORMATS)}, not {fmt!r}")
    if multi_label and not label_delimiter:
        raise ConfigError("label_delimiter must be a non-empty string")
    frame = _load_frame(data, source, fmt)
    missing = [c for c in (text_column, label_column) if c not in frame.columns]
    if missing:
        raise DataError(f"column {missing[0]!r} not found", source=source, line=1,
                        expected=f"columns {text_column!r} and {label_column!r}",
                        found="columns " + ", ".join(repr(c) for c in frame.columns))
    if frame.height == 0:
        raise DataError("the table has no rows", source=source, expected="at least one row",
                        found="only a header")
    texts = _string_column(frame, text_column, source)
    labels_col = frame.get_column(label_column)
    is_list = isinstance(labels_col.dtype, pl.List)
    raw_labels = (labels_col.cast(pl.List(pl.String)) if is_list
                  else _string_column(frame, label_column, source)).to_list()
    examples = []
    for row, (text, raw) in enumerate(zip(texts.to_list(), raw_labels), 1):
        line = row + 1  # the header is line 1
        if not text:
            raise DataError(f"empty {text_column!r} value", source=source, line=line,
                            expected="a non-empty text", found=repr(text) if text == ""
                            else "an empty cell")
        labels = _row_labels(raw, is_list, multi_label, label_delimiter, label_column,
                             source, line)
        examples.append(TextExample(text, labels, line))
    return examples


def _load_frame(data: bytes, source: str, fmt: str) -> pl.DataFrame:
    """The polars frame of a table file (all CSV/TSV columns as strings)."""
    import polars as pl

    if fmt == "parquet":
        if not data:
            raise DataError("the file is empty", source=source, expected="a Parquet file",
                            found="0 bytes")
        if not (data.startswith(b"PAR1") and data.endswith(b"PAR1")):
            raise DataError("not a Parquet file", source=source, offset=0,
                            expected="the PAR1 magic bytes at start and end",
                            found=repr(data[:4]))
        try:
            return pl.read_parquet(io.BytesIO(data))
        except Exception as err:  # polars/arrow raise many types for corrupt files
            raise DataError("unreadable Parquet file", source=source,
                            expected="a valid Parquet file",
                            found=str(err).splitlines()[0]) from None
    text = decode_text(data, source)
    body = data[len(_BOM_BYTES):] if data.startswith(_BOM_BYTES) else data
    try:
        return pl.read_csv(io.BytesIO(body), separator=_SEPARATORS[fmt], infer_schema=False,
                           has_header=True, quote_char='"', raise_if_empty=True)
    except pl.exceptions.PolarsError as err:
        detail = str(err).strip().splitlines()[0]
        width = len(_split_lines(text)[0].split(_SEPARATORS[fmt]))
        raise DataError(f"cannot parse the {fmt.upper()} file: {detail}", source=source,
                        expected=f"{fmt.upper()} rows with as many fields as the header "
                                 f"({width})", found=detail) from None


def _string_column(frame: pl.DataFrame, name: str, source: str) -> pl.Series:
    """Column `name` as strings; DataError for a column of lists or structs."""
    import polars as pl

    column = frame.get_column(name)
    if column.dtype.is_nested():
        raise DataError(f"column {name!r} holds nested values", source=source,
                        expected="a column of plain values", found=str(column.dtype))
    return column.cast(pl.String)


def _row_labels(raw: Any, is_list: bool, multi_label: bool, delimiter: str, column: str,
                source: str, line: int) -> tuple[str, ...]:
    """The labels of one table cell."""
    if raw is None or (not is_list and not raw.strip()):
        raise DataError(f"missing {column!r} value", source=source, line=line,
                        expected="a label", found="an empty cell" if raw is None else repr(raw))
    if is_list:
        parts = raw
    elif multi_label:
        parts = raw.split(delimiter)
    else:
        parts = [raw]
    labels = tuple(p.strip() if p is not None else "" for p in parts)
    if any(not label for label in labels):
        raise DataError(f"empty label in {column!r}", source=source, line=line,
                        expected="non-empty labels", found=repr(raw))
    if is_list and not multi_label and len(labels) != 1:
        raise DataError(f"column {column!r} holds label lists; pass multi_label=True",
                        source=source, line=line, expected="one label per row",
                        found=f"{len(labels)} labels")
    return labels


def write_table(examples: Iterable[TextExample], fmt: str, *, text_column: str = "text",
                label_column: str = "label", label_delimiter: str = "|") -> bytes:
    """CSV, TSV or Parquet bytes of classification examples with a header row.

    When any example has other than one label, CSV/TSV join labels with label_delimiter
    and Parquet stores a list column; read them back with multi_label=True.
    """
    import polars as pl

    if fmt not in TABLE_FORMATS:
        raise ConfigError(f"table format must be one of {', '.join(TABLE_FORMATS)}, not {fmt!r}")
    examples = list(examples)
    delimited = fmt != "parquet"
    single = _check_text_examples(examples, label_delimiter if delimited else None)
    texts = [ex.text for ex in examples]
    if single:
        labels: pl.Series = pl.Series(label_column, [ex.labels[0] for ex in examples],
                                      dtype=pl.String)
    elif delimited:
        labels = pl.Series(label_column, [label_delimiter.join(ex.labels) for ex in examples],
                           dtype=pl.String)
    else:
        labels = pl.Series(label_column, [list(ex.labels) for ex in examples],
                           dtype=pl.List(pl.String))
    frame = pl.DataFrame([pl.Series(text_column, texts, dtype=pl.String), labels])
    if fmt == "parquet":
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        return buffer.getvalue()
    return frame.write_csv(separator=_SEPARATORS[fmt]).encode("utf-8")


# ---------------------------------------------------------------- detection and dispatch


def detect_format(name: str, data: bytes, *, text_column: str = "text") -> str:
    """One of FORMATS for a file, from its extension first and its content second.

    A .tsv file is a table when its header row has `text_column`, else CoNLL.
    """
    if data.startswith(b"PAR1") and data.endswith(b"PAR1") and len(data) >= 8:
        return "parquet"
    lower = name.lower()
    dot = lower.rfind(".")
    ext = lower[dot:] if dot >= 0 else ""
    if ext == ".tsv":
        return "tsv" if _header_has(data, "\t", text_column) else "conll"
    if ext in _EXTENSIONS:
        return _EXTENSIONS[ext]
    head = data[len(_BOM_BYTES):] if data.startswith(_BOM_BYTES) else data
    head = head.lstrip()
    if head.startswith(b"{"):
        return "jsonl"
    if _header_has(data, "\t", text_column):
        return "tsv"
    if _header_has(data, ",", text_column):
        return "csv"
    return "conll"


def _header_has(data: bytes, separator: str, column: str) -> bool:
    """Whether the first line of `data`, split by `separator`, names `column`."""
    head = data[:65536]
    if head.startswith(_BOM_BYTES):
        head = head[len(_BOM_BYTES):]
    first = head.split(b"\n", 1)[0].decode("utf-8", errors="replace").strip("\r")
    return column in (f.strip().strip('"') for f in first.split(separator))


_READERS: dict[str, Callable[..., list]] = {
    "conll": read_conll, "jsonl": read_jsonl, "csv": read_table, "tsv": read_table,
    "parquet": read_table,
}


def read_any(data: bytes, name: str, *, fmt: str | None = None, task: str | None = None,
             **opts: Any) -> list[TokenExample] | list[TextExample]:
    """Records of a file in any of FORMATS, detected from `name` and content unless fmt is given.

    opts go to the format's reader (tag_column, label_list, text_column, multi_label, ...).
    """
    if fmt is None:
        fmt = detect_format(name, data, text_column=opts.get("text_column", "text"))
    if fmt not in FORMATS:
        raise ConfigError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    if task is not None and task not in TASKS:
        raise ConfigError(f"task must be one of {', '.join(TASKS)} or None, not {task!r}")
    if fmt == "conll" and task == "classification":
        raise ConfigError(f"{name}: CoNLL files hold NER data, not classification data")
    if fmt in TABLE_FORMATS and task == "ner":
        raise ConfigError(f"{name}: {fmt.upper()} tables hold classification data; use CoNLL "
                          "or JSONL for NER")
    reader = _READERS[fmt]
    accepted = set(inspect.signature(reader).parameters) - {"data", "source", "fmt", "task"}
    unknown = sorted(set(opts) - accepted)
    if unknown:
        raise ConfigError(f"unknown option(s) {', '.join(unknown)} for format {fmt!r}; "
                          f"known: {', '.join(sorted(accepted))}")
    if fmt == "jsonl":
        return read_jsonl(data, source=name, task=task, **opts)
    if fmt in TABLE_FORMATS:
        return read_table(data, source=name, fmt=fmt, **opts)
    return read_conll(data, source=name, **opts)
