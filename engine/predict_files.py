"""`python -m engine predict`: label a whole file with a trained model, streaming.

Reads the input a chunk of records at a time (constant memory whatever the file's size),
labels each chunk with `engine.predict.Predictor` (the windows, merge and decoding the run's
evaluation used, so a prediction of the run's test file scores exactly as its report), and
writes the output to a temporary file beside the target, renamed over it only once every
record is written: a failure never leaves a partial file under the final name.

Inputs: for NER models CoNLL (tag columns optional: present ones are kept, as gold), JSONL
with "tokens" (and optionally "tags"), or raw text, one text per line (split into words by
the model's own pre-tokenizer, with character offsets); for text classifiers CSV, TSV,
Parquet, JSONL with a text field, or one text per line. Outputs: CoNLL with a predicted-tag
column (plus its confidence on request) or JSONL with entity spans and character offsets, for
NER; CSV or JSONL with the predicted label(s) and a probability per class, for classifiers.
"""
from __future__ import annotations

import csv
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Callable, Iterator, Sequence

from core.errors import DataError, WorkbenchError
from core.formats import decode_text
from core.spans import to_spans

IN_FORMATS = ("conll", "jsonl", "txt", "csv", "tsv", "parquet")
OUT_FORMATS = ("conll", "jsonl", "csv")
CHUNK = 2048  # records labelled at once: bounds memory; sorting this many by length
# before batching cuts padding (bench/predict_speed.py: 1.50x the real sub-tokens at 256)
_SUFFIXES = {".conll": "conll", ".iob": "conll", ".iob2": "conll", ".bio": "conll",
             ".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".tsv": "tsv",
             ".parquet": "parquet", ".pq": "parquet"}
_TAG = re.compile(r"^(O|[BIESLU][-_]\S+|[BIESLU])$")
DOCSTART = "-DOCSTART-"


@dataclass
class Record:
    """One input record: a sentence (NER) or a text (classification), with what the output
    keeps of the input (its lines, its row) and its gold label(s) when the input has them."""

    line: int
    tokens: list[str] = field(default_factory=list)
    gold: list[str] | None = None
    text: str | None = None
    offsets: list[tuple[int, int]] | None = None
    raw: list[str] | None = None  # CoNLL: the sentence's lines as read
    row: dict | None = None  # tables and JSONL: the input record
    passthrough: str | None = None  # CoNLL: a -DOCSTART- line, written back as it was
    doc: int = 0  # NER: the document the sentence is in (a JSONL "doc", or -DOCSTART- lines)


@dataclass
class Summary:
    records: int = 0
    tokens: int = 0
    unknown_gold: set = field(default_factory=set)
    output: str = ""


# ---- choosing formats -----------------------------------------------------------------------
def input_format(path: Path, task: str, given: str | None) -> str:
    """The input format: `given`, the file's suffix, or (NER, no telling suffix) a sniff of
    its first lines: CoNLL when they are token-and-tag lines, else raw text."""
    if given:
        fmt = given
    elif path.suffix.lower() in _SUFFIXES:
        fmt = _SUFFIXES[path.suffix.lower()]
    elif task == "ner":
        fmt = _sniff(path)
    else:
        fmt = "txt"
    ner_ok, text_ok = ("conll", "jsonl", "txt"), ("csv", "tsv", "parquet", "jsonl", "txt")
    if task == "ner" and fmt not in ner_ok:
        raise WorkbenchError(f"--format {fmt}: a NER model reads {', '.join(ner_ok)}")
    if task != "ner" and fmt not in text_ok:
        raise WorkbenchError(f"--format {fmt}: a text classifier reads {', '.join(text_ok)}")
    return fmt


def output_format(path: Path, task: str, in_fmt: str, given: str | None) -> str:
    if given:
        fmt = given
    elif path.suffix.lower() in (".jsonl", ".ndjson"):
        fmt = "jsonl"
    elif path.suffix.lower() == ".csv":
        fmt = "csv"
    elif task == "ner":
        fmt = "conll" if in_fmt == "conll" else "jsonl"
    else:
        fmt = "csv" if in_fmt in ("csv", "tsv", "parquet") else "jsonl"
    if task == "ner" and fmt == "csv":
        raise WorkbenchError("--output-format csv is for text classifiers; a NER model writes "
                             "conll or jsonl")
    if task != "ner" and fmt == "conll":
        raise WorkbenchError("--output-format conll is for NER models; a text classifier "
                             "writes csv or jsonl")
    return fmt


def _sniff(path: Path) -> str:
    lines = []
    with _open(path) as f:
        for _, text in _lines(f, str(path)):
            if text.strip():
                lines.append(text.split())
            elif lines:
                lines.append([])
            if len(lines) >= 60:
                break
    filled = [f for f in lines if f]
    if not filled:
        return "conll"
    tagged = sum(1 for f in filled if f[0] == DOCSTART or (len(f) >= 2 and _TAG.match(f[-1])))
    single = sum(1 for f in filled if len(f) == 1)
    if tagged >= 0.9 * len(filled) or (single == len(filled) and len(lines) > len(filled)):
        return "conll"
    return "txt"


# ---- reading, streaming ---------------------------------------------------------------------
def _open(path: Path) -> IO[bytes]:
    try:
        f = open(path, "rb")  # noqa: SIM115 - the caller closes it
    except FileNotFoundError:
        raise DataError("input file not found", source=str(path)) from None
    except OSError as exc:
        raise DataError(f"cannot read the input file ({exc.strerror})", source=str(path)) from None
    head = f.read(8192)
    f.seek(0)
    if not head:
        f.close()
        raise DataError("the file is empty", source=str(path), expected="text", found="0 bytes")
    cut = head.rfind(b"\n") + 1 if len(head) == 8192 and b"\n" in head else len(head)
    try:  # the whole-file checks (binary, UTF-16, NUL, bad UTF-8) on the first lines
        decode_text(head[:cut] or head, str(path))
    except DataError as exc:
        if not (exc.message.startswith("the file is empty") and head.strip() == b""):
            f.close()
            raise
    return f


def _lines(f: IO[bytes], source: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, text without its line end) of a binary file, decoded as UTF-8."""
    offset = 0
    for number, raw in enumerate(f, 1):
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DataError("the file is not valid UTF-8; re-save it as UTF-8", source=source,
                            line=number, offset=offset + err.start, expected="UTF-8 text",
                            found=f"byte 0x{raw[err.start]:02X}") from None
        if "\x00" in text:
            raise DataError("NUL byte in a text file", source=source, line=number,
                            expected="UTF-8 text", found="byte 0x00")
        if number == 1:
            text = text.removeprefix("\ufeff")
        offset += len(raw)
        yield number, text.rstrip("\r\n")


def read_conll(f: IO[bytes], source: str) -> Iterator[Record]:
    """Sentences of a CoNLL file whose lines hold a token first and, optionally, more columns
    (the last is taken as the gold tag); -DOCSTART- lines come back as passthrough records."""
    sentence: Record | None = None
    width = 0
    for number, text in _lines(f, source):
        fields = text.split()
        if not fields:
            if sentence is not None:
                yield sentence
                sentence = None
            continue
        if fields[0] == DOCSTART:
            if sentence is not None:
                yield sentence
                sentence = None
            yield Record(line=number, passthrough=text)
            continue
        if not width:
            width = len(fields)
        elif len(fields) != width:
            raise DataError("ragged columns", source=source, line=number,
                            expected=f"{width} columns, as on the first token line",
                            found=f"{len(fields)} columns")
        if sentence is None:
            sentence = Record(line=number, gold=[] if width > 1 else None, raw=[])
        sentence.tokens.append(fields[0])
        sentence.raw.append(text)
        if width > 1:
            sentence.gold.append(fields[-1])
    if sentence is not None:
        yield sentence


def read_jsonl(f: IO[bytes], source: str, task: str, text_key: str,
               label_key: str) -> Iterator[Record]:
    for number, text in _lines(f, source):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
        except ValueError as exc:
            raise DataError(f"not a JSON line ({exc.msg})", source=source, line=number,
                            expected="one JSON object per line") from None
        if not isinstance(obj, dict):
            raise DataError("a JSON line that is not an object", source=source, line=number,
                            expected="an object", found=type(obj).__name__)
        if task == "ner":
            tokens = obj.get("tokens")
            if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
                raise DataError('no "tokens" list of strings', source=source, line=number,
                                expected='{"tokens": ["John", "lives", ...]}',
                                found=f"keys {sorted(obj)[:6]}")
            tags = obj.get("tags")
            gold = list(tags) if isinstance(tags, list) and len(tags) == len(tokens) else None
            doc = obj.get("doc", 0)
            doc = doc if isinstance(doc, int) and not isinstance(doc, bool) else 0
            yield Record(line=number, tokens=[t for t in tokens], gold=gold, row=obj, doc=doc)
        else:
            value = obj.get(text_key)
            if not isinstance(value, str):
                raise DataError(f'no text in field "{text_key}"', source=source, line=number,
                                expected=f'a string in "{text_key}" (--text-column names '
                                         "another field)", found=f"keys {sorted(obj)[:6]}")
            yield Record(line=number, text=value, gold=_gold_labels(obj.get(label_key)), row=obj)


def read_text_lines(f: IO[bytes], source: str, task: str, split) -> Iterator[Record]:
    """One text per line; a NER model's text is split into words (with offsets) by `split`."""
    for number, text in _lines(f, source):
        if task == "ner":
            words = split(text)
            yield Record(line=number, tokens=[w for w, _ in words], text=text,
                         offsets=[o for _, o in words])
        else:
            yield Record(line=number, text=text, row={"text": text})


def read_csv(f: IO[bytes], source: str, fmt: str, text_key: str,
             label_key: str) -> Iterator[Record]:
    """Rows of a CSV or TSV file with a header, streamed with the csv module."""
    reader = csv.reader((text for _, text in _lines(f, source)),
                        delimiter="\t" if fmt == "tsv" else ",")
    try:
        header = next(reader)
    except StopIteration:
        raise DataError("the file is empty", source=source) from None
    except csv.Error as exc:
        raise DataError(f"not {fmt.upper()} ({exc})", source=source, line=1) from None
    if text_key not in header:
        raise DataError(f'no column "{text_key}"', source=source, line=1,
                        expected=f'a header with "{text_key}" (--text-column names another)',
                        found=f"columns {header[:8]}")
    at = header.index(text_key)
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise DataError(f"malformed {fmt.upper()} ({exc})", source=source,
                            line=reader.line_num) from None
        if not cells:
            continue
        if len(cells) != len(header):
            raise DataError("ragged row", source=source, line=reader.line_num,
                            expected=f"{len(header)} cells, as in the header",
                            found=f"{len(cells)}")
        row = dict(zip(header, cells))
        yield Record(line=reader.line_num, text=cells[at], row=row,
                     gold=_gold_labels(row.get(label_key)))


def _read_parquet(path: Path, text_key: str, label_key: str) -> Iterator[Record]:
    try:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
    except ImportError:
        raise WorkbenchError("reading Parquet needs pyarrow: pip install pyarrow") from None
    except Exception as exc:  # noqa: BLE001 - pyarrow's errors for a file that is not Parquet
        raise DataError(f"not a Parquet file ({type(exc).__name__})", source=str(path)) from None
    names = pf.schema_arrow.names
    if text_key not in names:
        raise DataError(f'no column "{text_key}"', source=str(path),
                        expected=f'a column "{text_key}" (--text-column names another)',
                        found=f"columns {names[:8]}")
    number = 0
    for batch in pf.iter_batches(batch_size=CHUNK):
        for row in batch.to_pylist():
            number += 1
            text = row.get(text_key)
            if not isinstance(text, str):
                raise DataError(f'row {number}: "{text_key}" is not text', source=str(path),
                                found=type(text).__name__)
            yield Record(line=number, text=text, row=row, gold=_gold_labels(row.get(label_key)))


def _gold_labels(value: Any) -> list[str] | None:
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return list(value)
    return None


# ---- writing --------------------------------------------------------------------------------
class Writer:
    """Writes labelled records in one output format to an open text file."""

    def __init__(self, f: IO[str], fmt: str, labels: list[str], *, confidence: bool,
                 delimiter: str = "|"):
        self.f, self.fmt, self.labels = f, fmt, labels
        self.confidence, self.delimiter = confidence, delimiter
        self.csv: csv.DictWriter | None = None
        self.first = True

    def ner(self, rec: Record, tags: list[str], conf: list[float]) -> None:
        if self.fmt == "conll":
            if rec.passthrough is not None:
                self.f.write(("" if self.first else "\n") + rec.passthrough + "\n")
                self.first = False
                return
            if not self.first:
                self.f.write("\n")
            self.first = False
            lines = rec.raw or rec.tokens
            for k, (line, tag) in enumerate(zip(lines, tags)):
                sep = "\t" if "\t" in line else " "
                cols = [line, tag] + ([f"{conf[k]:.4f}"] if self.confidence else [])
                self.f.write(sep.join(cols) + "\n")
            return
        if rec.passthrough is not None:
            return  # JSONL has no document markers
        text = rec.text if rec.text is not None else " ".join(rec.tokens)
        offsets = rec.offsets if rec.offsets is not None else _joined_offsets(rec.tokens)
        spans = []
        for type_, s, e in to_spans(tags):
            a, b = offsets[s][0], offsets[e - 1][1]
            spans.append({"type": type_, "start": s, "end": e, "start_char": a, "end_char": b,
                          "text": text[a:b], "confidence": round(min(conf[s:e]), 4)})
        out = {"text": text, "tokens": rec.tokens, "tags": tags, "spans": spans}
        if rec.gold is not None:
            out["gold"] = rec.gold
        if self.confidence:
            out["confidence"] = [round(c, 4) for c in conf]
        if rec.row is not None:
            out = {**{k: v for k, v in rec.row.items() if k not in out}, **out}
        self.f.write(json.dumps(out, ensure_ascii=False, default=str) + "\n")

    def text(self, rec: Record, chosen: list[str], probs: dict[str, float],
             multilabel: bool) -> None:
        pred: Any = chosen if multilabel else chosen[0]
        if self.fmt == "jsonl":
            out = {**(rec.row or {"text": rec.text}), "pred": pred,
                   "probs": {k: round(v, 6) for k, v in probs.items()}}
            self.f.write(json.dumps(out, ensure_ascii=False, default=str) + "\n")
            return
        row = {k: _cell(v) for k, v in (rec.row or {"text": rec.text}).items()}
        row["pred"] = self.delimiter.join(chosen) if multilabel else pred
        row.update({f"p_{k}": f"{v:.6f}" for k, v in probs.items()})
        if self.csv is None:
            self.csv = csv.DictWriter(self.f, fieldnames=list(row), extrasaction="ignore",
                                      lineterminator="\n")
            self.csv.writeheader()
        self.csv.writerow(row)


def _cell(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, default=str)


def _joined_offsets(tokens: list[str]) -> list[tuple[int, int]]:
    out, at = [], 0
    for t in tokens:
        out.append((at, at + len(t)))
        at += len(t) + 1
    return out


def word_splitter(tokenizer) -> Callable[[str], list[tuple[str, tuple[int, int]]]]:
    """Words of raw text with their character offsets, by the tokenizer's own pre-tokenizer
    (whitespace and punctuation for BERT-like models); engine.predict.split_words' rule for a
    tokenizer without one."""
    from engine.predict import WORD

    pre = getattr(getattr(tokenizer, "backend_tokenizer", None), "pre_tokenizer", None)

    def split(text: str) -> list[tuple[str, tuple[int, int]]]:
        if pre is None:
            return [(m.group(), m.span()) for m in WORD.finditer(text)]
        words = []
        for _, (a, b) in pre.pre_tokenize_str(text):
            while a < b and text[a].isspace():
                a += 1
            if a < b:
                words.append((text[a:b], (a, b)))
        return words
    return split


# ---- the whole file -------------------------------------------------------------------------
def predict_file(predictor, input_path: str | Path, output_path: str | Path, *,
                 in_fmt: str | None = None, out_fmt: str | None = None, confidence: bool = False,
                 text_column: str = "text", label_column: str = "label",
                 label_delimiter: str = "|", progress: bool = False) -> Summary:
    """Label every record of `input_path` and write them to `output_path` (see the module
    docstring); returns what was done. The output appears under its name only when whole."""
    src, dst = Path(input_path).expanduser(), Path(output_path).expanduser()
    task = predictor.task
    in_fmt = input_format(src, task, in_fmt)
    out_fmt = output_format(dst, task, in_fmt, out_fmt)
    if src.resolve() == dst.resolve():
        raise WorkbenchError(f"--output {dst} is the input file; write to another file")
    if not dst.parent.is_dir():
        raise WorkbenchError(f"--output {dst}: folder {dst.parent} does not exist")
    summary = Summary(output=str(dst))
    tmp = dst.with_name(f".{dst.name}.partial-{os.getpid()}")
    try:
        with _records(predictor, src, in_fmt, text_column, label_column) as (records, where), \
                open(tmp, "w", encoding="utf-8", newline="") as out:
            writer = Writer(out, out_fmt, predictor.labels, confidence=confidence,
                            delimiter=label_delimiter)
            bar = _progress(src, in_fmt, progress)
            done = 0
            context = predictor.context if task == "ner" else 0
            for before, chunk, after in _neighboured(_chunks(_numbered(records)), context):
                _label(predictor, chunk, writer, summary, before, after)
                if bar is not None:
                    now = where()
                    bar.update(now - done)
                    done = now
            if bar is not None:
                bar.close()
        os.replace(tmp, dst)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return summary


class _records:
    """The input's records and a function giving how far the reading has come (bytes, or rows
    for Parquet), as a context manager that closes the file."""

    def __init__(self, predictor, path: Path, fmt: str, text_key: str, label_key: str):
        self.predictor, self.path, self.fmt = predictor, path, fmt
        self.text_key, self.label_key = text_key, label_key
        self.f: IO[bytes] | None = None

    def __enter__(self):
        source, task = str(self.path), self.predictor.task
        if self.fmt == "parquet":
            rows = {"n": 0}

            def counted():
                for rec in _read_parquet(self.path, self.text_key, self.label_key):
                    rows["n"] += 1
                    yield rec
            return counted(), lambda: rows["n"]
        self.f = _open(self.path)
        if self.fmt in ("csv", "tsv"):
            gen = read_csv(self.f, source, self.fmt, self.text_key, self.label_key)
        elif self.fmt == "conll":
            gen = read_conll(self.f, source)
        elif self.fmt == "jsonl":
            gen = read_jsonl(self.f, source, task, self.text_key, self.label_key)
        else:
            gen = read_text_lines(self.f, source, task, word_splitter(self.predictor.tokenizer))
        f = self.f
        return gen, lambda: f.tell()

    def __exit__(self, *exc) -> None:
        if self.f is not None:
            self.f.close()


def _chunks(records: Iterator[Record]) -> Iterator[list[Record]]:
    chunk: list[Record] = []
    for rec in records:
        chunk.append(rec)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _numbered(records: Iterator[Record]) -> Iterator[Record]:
    """Records with CoNLL documents numbered as core.formats numbers them: a -DOCSTART- line
    after some sentence starts the next document."""
    doc, new_doc, seen = 0, False, False
    for rec in records:
        if rec.passthrough is not None:
            new_doc = seen
        elif rec.tokens:
            if new_doc:
                doc, new_doc = doc + 1, False
            seen = True
            if rec.raw is not None:  # CoNLL (JSONL records carry their own "doc")
                rec.doc = doc
        yield rec


def _neighboured(chunks: Iterator[list[Record]],
                 context: int) -> Iterator[tuple[list[Record], list[Record], list[Record]]]:
    """(before, chunk, after) for each chunk: with context > 0, the sentences of the chunks
    around it that hold at least `context` words (so `context` sub-tokens) on each side,
    so that a file labelled chunk by chunk reads as running text, as the run's evaluation
    did. One chunk is read ahead."""
    def edge(records: Sequence[Record]) -> list[Record]:
        out, words = [], 0
        for rec in records:
            if words >= context:
                break
            if rec.passthrough is None and rec.tokens:
                out.append(rec)
                words += len(rec.tokens)
        return out

    before: list[Record] = []
    it = iter(chunks)
    chunk = next(it, None)
    while chunk is not None:
        ahead = next(it, None)
        after = edge(ahead) if context and ahead else []
        yield before, chunk, after
        before = edge(chunk[::-1])[::-1] if context else []
        chunk = ahead


def _label(predictor, chunk: list[Record], writer: Writer, summary: Summary,
           before: Sequence[Record] = (), after: Sequence[Record] = ()) -> None:
    known = set(predictor.labels)
    if predictor.task == "ner":
        todo = [r for r in chunk if r.passthrough is None and r.tokens]
        every = [*before, *todo, *after]
        labelled = iter(predictor.predict_words([r.tokens for r in every],
                                                docs=[r.doc for r in every],
                                                lead=len(before), trail=len(after)))
        for rec in chunk:
            if rec.passthrough is not None:
                writer.ner(rec, [], [])
                continue
            tags, conf = next(labelled) if rec.tokens else ([], [])
            writer.ner(rec, tags, conf)
            summary.records += 1
            summary.tokens += len(rec.tokens)
            if rec.gold:
                summary.unknown_gold.update(t for t in rec.gold if t not in known)
        return
    probs = predictor.predict_texts([r.text for r in chunk])
    for rec, p in zip(chunk, probs):
        chosen = predictor.chosen(p)
        if predictor.task == "classification" and not chosen:
            chosen = [max(p, key=p.get)]
        writer.text(rec, chosen, p, predictor.task == "multilabel")
        summary.records += 1
        if rec.gold:
            summary.unknown_gold.update(g for g in rec.gold if g not in known)


def _progress(path: Path, fmt: str, enabled: bool):
    if not enabled:
        return None
    from tqdm import tqdm

    if fmt == "parquet":
        try:
            import pyarrow.parquet as pq

            total = pq.ParquetFile(path).metadata.num_rows
        except Exception:  # noqa: BLE001 - the reader reports a bad file itself
            total = None
        return tqdm(total=total, unit=" rows", file=sys.stderr, desc="predict", smoothing=0.1)
    return tqdm(total=path.stat().st_size, unit="B", unit_scale=True, file=sys.stderr,
                desc="predict", smoothing=0.1)


def describe(summary: Summary, task: str) -> str:
    what = f"{summary.records} sentences, {summary.tokens} tokens" if task == "ner" \
        else f"{summary.records} texts"
    text = f"wrote {summary.output}: {what}"
    if summary.unknown_gold:
        names = ", ".join(sorted(summary.unknown_gold)[:8])
        text += (f"\nnote: the input's gold labels include {names}, which this model never "
                 "predicts (its label set differs); an evaluation counts them as misses")
    return text

