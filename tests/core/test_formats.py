import io
import json

import polars as pl
import pytest
from hypothesis import given, settings, strategies as st

from core.errors import ConfigError, DataError
from core.formats import (check_tag, detect_format, read_any, read_conll, read_jsonl,
                          read_table, write_conll, write_jsonl, write_table)
from core.records import TextExample, TokenExample
from tests.core.strategies_formats import documents, json_labels, sentences, text_examples

FAST = settings(max_examples=60, deadline=None)

CONLL2003 = (
    "-DOCSTART- -X- -X- O\n"
    "\n"
    "EU NNP B-NP I-ORG\n"
    "rejects VBZ B-VP O\n"
    "German JJ B-NP I-MISC\n"
    "call NN I-NP O\n"
    ". . O O\n"
    "\n"
    "Peter NNP B-NP I-PER\n"
    "Blackburn NNP I-NP I-PER\n"
    "\n"
    "-DOCSTART- -X- -X- O\n"
    "\n"
    "BRUSSELS NNP B-NP I-LOC\n"
    "1996-08-22 CD I-NP O\n"
    "\n"
).encode()


# ---------------------------------------------------------------- round trips


@FAST
@given(documents())
def test_conll_round_trip_keeps_tokens_tags_and_documents(examples):
    assert read_conll(write_conll(examples).encode()) == examples


@FAST
@given(st.lists(sentences(), min_size=1, max_size=5))
def test_conll_without_documents_writes_no_docstart(examples):
    text = write_conll(examples)
    assert "-DOCSTART-" not in text
    assert read_conll(text.encode()) == examples


@st.composite
def messy_conll(draw):
    """Documents rendered with random separators, blank lines, trailing space and line ends."""
    examples = draw(documents())
    sep = st.sampled_from([" ", "\t", "  ", " \t", "\t\t"])
    blank = st.sampled_from(["", "\t", " ", " \t "])
    eol = draw(st.sampled_from(["\n", "\r\n"]))
    lines, prev_doc = [], None
    for ex in examples:
        if ex.doc != prev_doc and len({e.doc for e in examples}) > 1:
            lines += ["-DOCSTART-" + draw(sep) + "-X-" + draw(sep) + "O", draw(blank)]
        prev_doc = ex.doc
        for token, tag in zip(ex.tokens, ex.tags):
            lines.append(draw(sep).strip(" ") + token + draw(sep) + tag
                         + draw(st.sampled_from(["", " ", "\t"])))
        lines += [draw(blank) for _ in range(draw(st.integers(1, 3)))]
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return examples, bom + eol.join(lines)


@FAST
@given(messy_conll())
def test_conll_reads_messy_whitespace_and_line_ends(case):
    examples, text = case
    assert read_conll(text.encode()) == examples


@FAST
@given(st.lists(sentences(st.text(min_size=0, max_size=5)), min_size=1, max_size=5)
       .map(lambda exs: [TokenExample(e.tokens, e.tags, i // 2) for i, e in enumerate(exs)]))
def test_jsonl_ner_round_trip_keeps_any_token_string_and_docs(examples):
    assert read_jsonl(write_jsonl(examples).encode()) == examples


@FAST
@given(st.booleans().flatmap(lambda multi: text_examples(json_labels, multi=multi,
                                                         min_labels=0)))
def test_jsonl_classification_round_trip_single_and_multi_label(examples):
    text = write_jsonl(examples)
    assert read_jsonl(text.encode()) == examples
    single = all(len(ex.labels) == 1 for ex in examples)
    assert ('"label":' in text) == single and ('"labels":' in text) == (not single)


@FAST
@given(st.sampled_from(["csv", "tsv", "parquet"]), text_examples(multi=False))
def test_table_round_trip_single_label(fmt, examples):
    assert read_table(write_table(examples, fmt), fmt=fmt) == examples


@FAST
@given(st.sampled_from(["csv", "tsv"]), text_examples(multi=True))
def test_delimited_table_round_trip_multi_label(fmt, examples):
    data = write_table(examples, fmt)
    assert read_table(data, fmt=fmt, multi_label=True) == examples


@FAST
@given(text_examples(multi=True, min_labels=0))
def test_parquet_round_trip_multi_label_including_empty_label_sets(examples):
    data = write_table(examples, "parquet")
    assert read_table(data, fmt="parquet", multi_label=True) == examples


# ---------------------------------------------------------------- CoNLL specifics


def test_conll2003_sample_documents_lines_and_columns():
    examples = read_conll(CONLL2003, source="train.txt")
    assert [ex.doc for ex in examples] == [0, 0, 1]
    assert [ex.line for ex in examples] == [3, 9, 14]
    assert examples[0].tokens == ("EU", "rejects", "German", "call", ".")
    assert examples[0].tags == ("I-ORG", "O", "I-MISC", "O", "O")
    assert read_conll(CONLL2003, tag_column=1)[1].tags == ("NNP", "NNP")
    assert read_conll(CONLL2003, tag_column=-2)[2].tags == ("B-NP", "I-NP")
    # written back in two columns and read again, the documents survive
    assert read_conll(write_conll(examples).encode()) == examples


def test_conll_tag_and_token_column_choice():
    data = b"B-PER\tx\tPeter\nO\tx\tsays\n"
    (ex,) = read_conll(data, tag_column=0, token_column=2)
    assert ex.tokens == ("Peter", "says") and ex.tags == ("B-PER", "O")
    with pytest.raises(ConfigError):
        read_conll(data, tag_column=1, token_column=1)
    with pytest.raises(DataError) as err:
        read_conll(data, tag_column=0, token_column=-3)
    assert err.value.line == 1 and "same column" in str(err.value)


@pytest.mark.parametrize("text, docs", [
    ("a O\n\nb O\n", [0, 0]),                                   # no markers
    ("-DOCSTART- O\n\na O\n\nb O\n", [0, 0]),                   # marker first: still doc 0
    ("a O\n\n-DOCSTART- O\n\nb O\n", [0, 1]),                   # sentences before a marker
    ("-DOCSTART- O\n-DOCSTART- O\n\na O\n-DOCSTART- O\nb O\n", [0, 1]),  # no empty docs
    ("a O\n-DOCSTART- O\nb O\n\n-DOCSTART- O\n\n-DOCSTART- O\n\nc O\n", [0, 1, 2]),
])
def test_conll_document_numbering(text, docs):
    assert [ex.doc for ex in read_conll(text.encode())] == docs


def test_conll_crlf_bom_lone_tab_trailing_whitespace_and_mixed_separators():
    data = ("\ufeffEmperor \t O  \r\nHirohito\tB-PER\t\r\n\t\r\n@paul\t \tB-person \r\n"
            "\t\r\n").encode()
    examples = read_conll(data)
    assert examples == [TokenExample(("Emperor", "Hirohito"), ("O", "B-PER")),
                        TokenExample(("@paul",), ("B-person",))]
    assert [ex.line for ex in examples] == [1, 4]


def test_conll_keeps_non_breaking_space_inside_tokens():
    # only spaces and tabs separate columns
    (ex,) = read_conll("10\u00a0000 O\n".encode())
    assert ex.tokens == ("10\u00a0000",)


def test_conll_writer_format_with_documents():
    examples = [TokenExample(("a", "b"), ("B-X", "O"), 0), TokenExample(("c",), ("O",), 0),
                TokenExample(("d",), ("S-Y",), 1)]
    assert write_conll(examples) == ("-DOCSTART- O\n\na B-X\nb O\n\nc O\n\n"
                                     "-DOCSTART- O\n\nd S-Y\n\n")


def test_conll_writer_renumbers_documents_but_keeps_boundaries():
    examples = [TokenExample(("a",), ("O",), 3), TokenExample(("b",), ("O",), 3),
                TokenExample(("c",), ("O",), 1)]
    assert [ex.doc for ex in read_conll(write_conll(examples).encode())] == [0, 0, 1]


def test_conll_token_starting_with_bom_survives():
    examples = [TokenExample(("\ufeffx",), ("O",))]
    assert read_conll(write_conll(examples).encode()) == examples


@pytest.mark.parametrize("example, found", [
    (TokenExample(("a b",), ("O",)), "'a b'"),
    (TokenExample(("",), ("O",)), "''"),
    (TokenExample(("a\tb",), ("O",)), "'a\\tb'"),
    (TokenExample(("-DOCSTART-",), ("O",)), "'-DOCSTART-'"),
    (TokenExample(("a",), ("B-",)), "no entity type"),
    (TokenExample(("a", "b"), ("O",)), "1 tags"),
    (TokenExample((), ()), "0 tokens"),
])
def test_conll_writer_rejects_what_it_cannot_write(example, found):
    with pytest.raises(DataError) as err:
        write_conll([TokenExample(("ok",), ("O",)), example])
    assert err.value.line == 2 and found in err.value.found


@pytest.mark.parametrize("tag, ok", [
    ("O", True), ("B-PER", True), ("I-product-other", True), ("U-X", True), ("PER", True),
    ("B", True), ("B-", False), ("X-PER", False), ("-PER", False), ("b-PER", False),
    ("BI-PER", False), ("", False), ("B-P R", False),
])
def test_check_tag(tag, ok):
    assert (check_tag(tag) is None) == ok


def test_conll_reads_200k_lines_with_documents():
    sentence = "".join(f"w{i} NNP B-NP {tag}\n" for i, tag in
                       enumerate(["B-PER", "I-PER", "O", "B-LOC", "O"] * 4)) + "\n"
    data = ("-DOCSTART- -X- -X- O\n\n" + sentence * 100).encode() * 95  # ~200k lines
    assert data.count(b"\n") > 199_000
    examples = read_conll(data)
    assert len(examples) == 9500 and examples[-1].doc == 94
    assert list(examples[0].tags[:3]) == ["B-PER", "I-PER", "O"]


# ---------------------------------------------------------------- errors


def _jsonl(*records) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records).encode()


def _csv(text: str) -> bytes:
    return text.encode()


def _parquet(**columns) -> bytes:
    buffer = io.BytesIO()
    pl.DataFrame(columns).write_parquet(buffer)
    return buffer.getvalue()


OK = {"tokens": ["a"], "tags": ["O"]}
ERRORS = [
    # id, reader, data, line, offset, fragment of expected, fragment of found
    ("ragged", read_conll, b"a B-PER\nb O\n\nc O x\n", 4, None, "2 columns, as on line 1",
     "3 columns"),
    ("no-tag", read_conll, b"a O\nb\n", 2, None, "2 columns", "1 column"),
    ("no-tag-first", read_conll, b"a  \n", 1, None, "token and tag", "1 column"),
    ("empty-type", read_conll, b"a O\nb B-\n", 2, None, "non-empty TYPE", "no entity type"),
    ("bad-prefix", read_conll, b"a X-PER\n", 1, None, "B I E S L U", "prefix"),
    ("bad-prefix-later", read_conll, b"a O\n\nb O\nc -PER\n", 4, None, "B I E S L U", "prefix"),
    ("tag-column", lambda d: read_conll(d, tag_column=3), b"a O\n", 1, None, "between -2 and 1",
     "2 columns"),
    ("utf8", read_conll, b"a O\n\ncaf\xe9 O\n", 3, 8, "UTF-8", "0xE9"),
    ("utf8-bom", read_conll, b"\xef\xbb\xbfa O\nb\xc3 O\n", 2, 8, "UTF-8", "0xC3"),
    ("nul", read_conll, b"a O\nb\x00 O\n", 2, 5, "UTF-8", "0x00"),
    ("utf16", read_conll, "a O\n".encode("utf-16"), 1, 0, "UTF-8", "UTF-16"),
    ("png", read_conll, b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", 1, 0, "UTF-8", "PNG"),
    ("zip", read_conll, b"PK\x03\x04\x14\x00\x06\x00", 1, 0, "UTF-8", "zip"),
    ("control-bytes", read_conll, bytes(range(1, 9)) * 40, None, None, "UTF-8",
     "control bytes"),
    ("empty", read_conll, b"", None, None, "text", "0 bytes"),
    ("only-bom-and-blanks", read_conll, b"\xef\xbb\xbf\n \t\r\n", None, None, "text",
     "whitespace"),
    ("no-sentence", read_conll, b"-DOCSTART- -X- -X- O\n\n", None, None, "token tag",
     "-DOCSTART-"),
    ("jsonl-lengths", read_jsonl, _jsonl(OK, {"tokens": ["a", "b"], "tags": ["O"]}), 2, None,
     "2 tags", "1 tags"),
    ("jsonl-broken", read_jsonl, _jsonl(OK, '{"tokens": ["a"], "tags": ["O"]'), 2, None,
     "JSON object", "end of the line"),
    ("jsonl-not-object", read_jsonl, _jsonl(OK, "[1, 2]"), 2, None, "JSON object", "array"),
    ("jsonl-tokens-string", read_jsonl, _jsonl(OK, {"tokens": "a b", "tags": ["O", "O"]}), 2,
     None, "tokens", "string"),
    ("jsonl-token-number", read_jsonl, _jsonl({"tokens": ["a", 3], "tags": ["O", "O"]}), 1,
     None, "string", "number"),
    ("jsonl-no-tags", read_jsonl, _jsonl({"tokens": ["a"]}), 1, None, "'tags'", "keys"),
    ("jsonl-ids-no-list", read_jsonl, _jsonl({"tokens": ["a"], "ner_tags": [1]}), 1, None,
     "label list", "id 1"),
    ("jsonl-id-range", lambda d: read_jsonl(d, label_list=["O", "B-X"]),
     _jsonl({"tokens": ["a"], "ner_tags": [2]}), 1, None, "between 0 and 1", "2"),
    ("jsonl-empty-tag", read_jsonl, _jsonl(OK, {"tokens": ["a", "b"], "tags": ["O", ""]}), 2,
     None, "PREFIX-TYPE", "empty tag"),
    ("jsonl-bad-tag", read_jsonl, _jsonl({"tokens": ["a"], "tags": ["Z-LOC"]}), 1, None,
     "B I E S L U", "prefix"),
    ("jsonl-doc", read_jsonl, _jsonl({"tokens": ["a"], "tags": ["O"], "doc": "x"}), 1, None,
     "non-negative integer", "'x'"),
    ("jsonl-no-label", read_jsonl, _jsonl({"text": "a", "label": "x"}, {"text": "b"}), 2, None,
     "'label'", "keys"),
    ("jsonl-empty-label", read_jsonl, _jsonl({"text": "a", "label": ""}), 1, None,
     "non-empty label", "''"),
    ("jsonl-null-label", read_jsonl, _jsonl({"text": "a", "labels": ["x", None]}), 1, None,
     "label name", "null"),
    ("jsonl-no-text", read_jsonl, _jsonl({"text": "a", "label": "x"}, {"text": 5, "label": "x"}),
     2, None, "non-empty string", "number"),
    ("jsonl-unknown-task", read_jsonl, _jsonl({"words": ["a"]}), 1, None, "'tokens'", "words"),
    ("jsonl-utf8", read_jsonl, b'{"text": "a", "label": "x"}\n{"text": "\xff"}\n', 2, 38,
     "UTF-8", "0xFF"),
    ("jsonl-blank", read_jsonl, b"\n\n \n", None, None, "text", "whitespace"),
    ("csv-columns", read_table, _csv("sentence,category\na,b\n"), 1, None, "'text'",
     "'sentence', 'category'"),
    ("csv-missing-label", read_table, _csv("text,label\na,x\nb,\nc,y\n"), 3, None, "a label",
     "empty cell"),
    ("csv-blank-label", read_table, _csv('text,label\na,x\nb," "\n'), 3, None, "a label",
     "' '"),
    ("csv-empty-text", read_table, _csv('text,label\na,x\n"",y\n'), 3, None, "non-empty text",
     "''"),
    ("csv-empty-part", lambda d: read_table(d, multi_label=True), _csv("text,label\na,x||y\n"),
     2, None, "non-empty labels", "'x||y'"),
    ("csv-no-rows", read_table, _csv("text,label\n"), None, None, "at least one row", "header"),
    ("csv-extra-field", read_table, _csv("text,label\na,x,z\n"), None, None, "as many fields",
     "more fields"),
    ("csv-utf8", read_table, b"text,label\nna\xefve,x\n", 2, 13, "UTF-8", "0xEF"),
    ("tsv-missing-label", lambda d: read_table(d, fmt="tsv"), _csv("text\tlabel\na\tx\nb\t\n"),
     3, None, "a label", "empty cell"),
    ("parquet-missing-label", lambda d: read_table(d, fmt="parquet"),
     _parquet(text=["a", "b"], label=["x", None]), 3, None, "a label", "empty cell"),
    ("parquet-columns", lambda d: read_table(d, fmt="parquet", label_column="y"),
     _parquet(text=["a"], label=["x"]), 1, None, "'y'", "'text', 'label'"),
    ("parquet-list-single", lambda d: read_table(d, fmt="parquet"),
     _parquet(text=["a", "b"], label=[["x"], ["x", "y"]]), 3, None, "one label", "2 labels"),
    ("parquet-magic", lambda d: read_table(d, fmt="parquet"), b"text,label\na,b\n", None, 0,
     "PAR1", "b'text'"),
    ("parquet-corrupt", lambda d: read_table(d, fmt="parquet"), b"PAR1garbagePAR1", None, None,
     "valid Parquet", ""),
]


@pytest.mark.parametrize("reader, data, line, offset, expected, found",
                         [case[1:] for case in ERRORS], ids=[case[0] for case in ERRORS])
def test_errors_say_where_and_what(reader, data, line, offset, expected, found):
    with pytest.raises(DataError) as info:
        reader(data)
    err = info.value
    assert err.line == line
    assert err.offset == offset
    assert expected in err.expected
    assert found in err.found
    assert f"expected {err.expected}" in str(err)  # the message carries both sides
    if line is not None:
        assert f"line {line}" in str(err)


def test_errors_name_the_source():
    with pytest.raises(DataError) as err:
        read_conll(b"a O\nb\n", source="train.conll")
    assert str(err.value).startswith("train.conll, line 2:")


def test_utf8_error_suggests_resaving_and_does_not_guess():
    with pytest.raises(DataError) as err:
        read_conll("café O\n".encode("latin-1"))
    assert "re-save it as UTF-8" in str(err.value)


@pytest.mark.parametrize("token", ["a\x01b", "a\x1cb", "a\x0bb", "a\x1fb"])
def test_stray_control_characters_stay_inside_tokens(token):
    # not binary, and not column separators (str.split() would split at \x0b and \x1c-\x1f)
    (ex,) = read_conll(f"x O\n{token} B-X\n".encode())
    assert ex.tokens == ("x", token)


# ---------------------------------------------------------------- JSONL specifics


def test_jsonl_ner_tags_through_label_list_and_line_numbers():
    data = _jsonl({"tokens": ["Peter", "runs"], "ner_tags": [1, 0], "doc": 2}, "",
                  {"tokens": ["x"], "ner_tags": ["B-LOC"]})
    examples = read_jsonl(data, label_list=["O", "B-PER"])
    assert examples == [TokenExample(("Peter", "runs"), ("B-PER", "O"), 2),
                        TokenExample(("x",), ("B-LOC",), 0)]
    assert [ex.line for ex in examples] == [1, 3]


def test_jsonl_classification_forms_and_label_ids():
    data = _jsonl({"text": "good", "label": 1}, {"text": "both", "labels": [0, 1]},
                  {"text": "none", "labels": []})
    examples = read_jsonl(data, label_list=["neg", "pos"])
    assert [ex.labels for ex in examples] == [("pos",), ("neg", "pos"), ()]


def test_jsonl_task_given_overrides_inference():
    data = _jsonl({"text": "a", "tokens": ["a"], "tags": ["O"], "label": "x"})
    assert isinstance(read_jsonl(data)[0], TokenExample)
    assert read_jsonl(data, task="classification") == [TextExample("a", ("x",))]
    with pytest.raises(DataError) as err:
        read_jsonl(_jsonl({"text": "a", "label": "x"}), task="ner")
    assert "tokens" in err.value.expected


def test_jsonl_crlf_and_bom():
    data = b'\xef\xbb\xbf{"text": "a", "label": "x"}\r\n\r\n{"text": "b", "label": "y"}\r\n'
    assert read_jsonl(data) == [TextExample("a", ("x",)), TextExample("b", ("y",))]


# ---------------------------------------------------------------- table specifics


def test_csv_custom_columns_crlf_bom_and_stripped_delimited_labels():
    data = ('\ufeffid,body,tags\r\n1,"hello, ""world""\nagain",sports | news\r\n2,é,news\r\n'
            ).encode()
    examples = read_table(data, text_column="body", label_column="tags", multi_label=True)
    assert examples == [TextExample('hello, "world"\nagain', ("sports", "news")),
                        TextExample("é", ("news",))]
    assert [ex.line for ex in examples] == [2, 3]
    single = read_table(data, text_column="body", label_column="tags")
    assert single[0].labels == ("sports | news",)


def test_parquet_delimited_strings_and_integer_labels():
    data = _parquet(text=["a", "b"], label=["x|y", "z"])
    assert [ex.labels for ex in read_table(data, fmt="parquet", multi_label=True)] == [
        ("x", "y"), ("z",)]
    data = _parquet(text=["a", "b"], label=[0, 1])
    assert [ex.labels for ex in read_table(data, fmt="parquet")] == [("0",), ("1",)]


def test_multi_label_csv_is_written_with_the_delimiter():
    examples = [TextExample("a", ("x", "y")), TextExample("b", ("z",))]
    assert write_table(examples, "csv") == b"text,label\na,x|y\nb,z\n"
    assert write_table(examples, "tsv", label_delimiter=";") == b"text\tlabel\na\tx;y\nb\tz\n"


@pytest.mark.parametrize("examples, found", [
    ([TextExample("a", ("x|y", "z"))], "'x|y'"),
    ([TextExample("a", ())], "no labels"),
    ([TextExample("", ("x",))], "''"),
    ([TextExample("a", (" x",))], "' x'"),
    ([TextExample("a", ("",))], "''"),
])
def test_write_table_rejects_what_it_cannot_write(examples, found):
    with pytest.raises(DataError) as err:
        write_table(examples, "csv")
    assert err.value.line == 1 and err.value.found == found


# ---------------------------------------------------------------- detection and dispatch


@pytest.mark.parametrize("name, data, fmt", [
    ("train.conll", b"a O\n", "conll"),
    ("train.txt", b"a O\n", "conll"),
    ("train.iob", b"a O\n", "conll"),
    ("train.bio", b"a O\n", "conll"),
    ("wnut17.tsv", b"@paul\tO\n", "conll"),
    ("reviews.tsv", b"text\tlabel\ngood\tpos\n", "tsv"),
    ("reviews.tsv", b"\xef\xbb\xbf\"text\"\tlabel\ngood\tpos\n", "tsv"),
    ("data.jsonl", b'{"text": "a"}\n', "jsonl"),
    ("data.csv", b"text,label\n", "csv"),
    ("data.parquet", b"anything", "parquet"),
    ("upload", _parquet(text=["a"], label=["x"]), "parquet"),
    ("data.csv", _parquet(text=["a"], label=["x"]), "parquet"),  # magic beats extension
    ("upload", b' \n{"tokens": []}\n', "jsonl"),
    ("upload", b"text,label\na,b\n", "csv"),
    ("upload", b"id\ttext\n1\ta\n", "tsv"),
    ("upload", b"EU B-ORG\n", "conll"),
])
def test_detect_format(name, data, fmt):
    assert detect_format(name, data) == fmt


def test_detect_format_uses_the_given_text_column():
    assert detect_format("x.tsv", b"body\tlabel\n") == "conll"
    assert detect_format("x.tsv", b"body\tlabel\n", text_column="body") == "tsv"


def test_read_any_dispatches_with_options():
    assert read_any(CONLL2003, "train.txt")[2].doc == 1
    assert read_any(CONLL2003, "train.txt", tag_column=1)[0].tags[0] == "NNP"
    assert read_any(b"body\tlabel\nhi\tx|y\n", "a.tsv", text_column="body",
                    multi_label=True) == [TextExample("hi", ("x", "y"))]
    assert read_any(_jsonl({"tokens": ["a"], "ner_tags": [1]}), "a.jsonl",
                    label_list=["O", "B-X"]) == [TokenExample(("a",), ("B-X",))]
    assert read_any(b"a O\n", "weird.csv", fmt="conll") == [TokenExample(("a",), ("O",))]
    with pytest.raises(DataError) as err:
        read_any(b"a O\nb\n", "train.conll")
    assert err.value.source == "train.conll" and err.value.line == 2


@pytest.mark.parametrize("kwargs", [
    {"fmt": "xlsx"},
    {"task": "regression"},
    {"task": "classification"},
    {"label_list": ["O"]},  # not a CoNLL option
])
def test_read_any_rejects_bad_options(kwargs):
    with pytest.raises(ConfigError):
        read_any(b"a O\n", "train.conll", **kwargs)
