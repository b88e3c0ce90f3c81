"""Data page: AppTest drives the page with a demo, uploads and a stored dataset; the page's
pure helpers (parsing, splitting, fixing, saving, augmentation preview) are tested directly."""
from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from core.demo import make_demo
from core.errors import ConfigError, DataError
from core.records import TokenExample
from core.schemes import Fix
from engine.store import Store
from pages import data as page

SCRIPT = "from pages import data\ndata.render()\n"
IOB1 = (b"-DOCSTART- O\n\nEU I-ORG\nrejects O\nGerman I-MISC\ncall O\n. O\n\n"
        b"Peter I-PER\nBlackburn I-PER\n\nBRUSSELS I-LOC\n1996-08-22 O\n")
# line 4 has a token without a tag
MALFORMED = b"EU B-ORG\nrejects O\n\nfoo\nbar O\n"


@pytest.fixture
def home(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    return tmp_path


def _app() -> AppTest:
    return AppTest.from_string(SCRIPT, default_timeout=60)


def _upload(at: AppTest, name: str, content: bytes, *, split: bool = False) -> AppTest:
    at.radio(key="data.source").set_value("Upload").run()
    at.file_uploader(key="data.upload.train").set_value((name, content, "text/plain")).run()
    if not split and at.checkbox:  # the split box appears once a file is there
        at.checkbox(key="data.split").uncheck().run()
    return at


def _button(at: AppTest, label: str):
    matches = [b for b in at.button if b.label == label]
    assert matches, f"no button {label!r} in {[b.label for b in at.button]}"
    return matches[0]


def test_demo_renders_overview_diagnostics_and_statistics(home):
    at = _app().run()
    assert not at.exception
    assert [s.value for s in at.subheader][:3] == ["demo-ner", "Diagnostics", "Statistics"]
    sizes = {k: len(v) for k, v in make_demo("demo-ner").items()}
    overview = at.dataframe[0].value
    assert dict(zip(overview["split"], overview["sentences"])) == sizes
    assert any("Tag scheme: **IOB2**" in m.value for m in at.markdown)
    assert [m.label for m in at.metric] == ["Errors", "Warnings", "Notes"]
    assert not at.error


def test_malformed_upload_shows_error_with_line_and_stores_nothing(home):
    at = _upload(_app().run(), "bad.conll", MALFORMED)
    assert not at.exception
    assert len(at.error) == 1
    message = at.error[0].value
    assert "bad.conll, line 4" in message and "without a tag" in message
    assert "Traceback" not in message
    assert Store(home).list_datasets() == []
    assert not at.subheader  # no stale working copy is drawn under the error


def test_iob1_fix_rewrites_the_working_copy(home):
    at = _upload(_app().run(), "iob1.conll", IOB1)
    assert not at.exception and not at.error
    assert any("Tag scheme: **IOB1**" in m.value for m in at.markdown)
    _button(at, "Convert IOB1 → IOB2 (spans kept)").click().run()
    working = at.session_state["data.working"]
    assert working.fixes == ("convert:IOB2",)
    assert [ex.tags for ex in working.splits["train"]] == [
        ("B-ORG", "O", "B-MISC", "O", "O"), ("B-PER", "I-PER"), ("B-LOC", "O")]
    assert any("Tag scheme: **IOB2**" in m.value for m in at.markdown)


def test_save_stores_the_fixed_working_copy_with_the_original(home):
    at = _upload(_app().run(), "iob1.conll", IOB1)
    _button(at, "Convert IOB1 → IOB2 (spans kept)").click().run()
    at.text_input(key="data.save.name").set_value("news").run()
    _button(at, "Save dataset").click().run()
    assert not at.exception and not at.error
    [row] = Store(home).list_datasets()
    assert row["name"] == "news" and row["task"] == "ner"
    assert any(f"dataset:{row['id']}" in s.value for s in at.success)
    stored = Store(home).load_dataset(row["id"])
    assert stored["train"][0].tags == ("B-ORG", "O", "B-MISC", "O", "O")
    assert (home / "data" / row["id"] / "original-iob1.conll").read_bytes() == IOB1


def test_stored_dataset_source_loads_it(home):
    ds_id = Store(home).add_dataset("tiny", "ner", {"train": [TokenExample(("a", "b"), ("B-X", "O"))]
                                                   * 3})
    at = _app().run()
    at.radio(key="data.source").set_value("Stored dataset").run()
    assert not at.exception
    assert at.session_state["data.working"].origin == f"dataset:{ds_id}"
    assert at.dataframe[0].value["sentences"].tolist() == [3]


def test_save_augmented_set_keeps_dev_and_test(home):
    at = _app().run()
    _button(at, "Save augmented set").click().run()
    assert not at.exception and not at.error
    [row] = Store(home).list_datasets()
    demo = make_demo("demo-ner")
    stored = Store(home).load_dataset(row["id"])
    assert row["meta"]["augment"]["name"] == "token_replacement.v1"
    added = row["meta"]["augment"]["added"]
    assert added > 0 and len(stored["train"]) == len(demo["train"]) + added
    assert stored["train"][: len(demo["train"])] == demo["train"]
    assert stored["dev"] == demo["dev"] and stored["test"] == demo["test"]


# ---- helpers without streamlit ---------------------------------------------------------------

def test_parse_file_refuses_files_over_the_limit(monkeypatch):
    monkeypatch.setattr(page, "MAX_UPLOAD_BYTES", 10)
    with pytest.raises(DataError, match="upload limit"):
        page.parse_file(b"EU B-ORG\nrejects O\n", "big.conll", task="ner")


def test_parse_file_rejects_data_of_the_wrong_task():
    with pytest.raises(DataError, match="a.jsonl, line 1: 'tokens'"):
        page.parse_file(b'{"text": "hi", "label": "greet"}\n', "a.jsonl", task="ner")
    with pytest.raises(DataError, match="t.jsonl, line 2: a text with other than one label"):
        page.parse_file(b'{"text": "hi", "label": "a"}\n{"text": "yo", "labels": ["a", "b"]}\n',
                        "t.jsonl", task="classification")
    multi = page.parse_file(b"text,label\nhello,a|b\n", "t.csv", task="multilabel")
    assert multi[0].labels == ("a", "b")


def test_load_upload_splits_a_single_file_reproducibly():
    examples = b"".join(f"w{i} B-X\nend O\n\n".encode() for i in range(40))
    files = {"train": ("all.conll", examples)}
    a = page.load_upload(files, task="ner", split=(0.25, 0.25, 7))
    b = page.load_upload(files, task="ner", split=(0.25, 0.25, 7))
    assert {k: len(v) for k, v in a.splits.items()} == {"train": 20, "dev": 10, "test": 10}
    assert a.splits == b.splits
    assert sorted(ex.tokens for v in a.splits.values() for ex in v) == sorted(
        (f"w{i}", "end") for i in range(40))
    with pytest.raises(ConfigError, match="nothing for train"):
        page.load_upload(files, task="ner", split=(0.5, 0.5, 0))


def test_fix_working_applies_to_every_split():
    ex = TokenExample(("EU", "rejects"), ("I-ORG", "O"))
    working = page.Working("w", "ner", {"train": [ex], "dev": [ex]}, "x")
    fixed = page.fix_working(working, Fix("convert", "IOB2"))
    assert all(s[0].tags == ("B-ORG", "O") for s in fixed.splits.values())
    assert fixed.key != working.key and working.splits["train"][0].tags == ("I-ORG", "O")


def test_parse_synonyms_reads_lines_and_names_a_bad_one():
    assert page.parse_synonyms("said: stated, reported\n# note\n\nbig: large") == {
        "said": ["stated", "reported"], "big": ["large"]}
    with pytest.raises(ConfigError, match="line 2"):
        page.parse_synonyms("said: stated\nno colon here")


def test_preview_marks_exactly_the_changed_tokens():
    source = TokenExample(("Peter", "said", "hello"), ("B-PER", "O", "O"))
    working = page.Working("w", "ner", {"train": [source]}, "x")
    result = page.augment_train(working, "synonym_replacement.v1", seed=0, p=1.0, n=1,
                                synonyms={"said": ["stated"]})
    [row] = page.preview_rows(working, result)
    assert row["after"].count("<mark>") == 1 and "<mark>stated</mark>" in row["after"]
    assert "<mark>said</mark>" in row["before"] and row["before"].count("<mark>") == 1
    assert "PER" in row["after"]  # the entity box survives


def test_pasted_jsonl_error_names_the_line(home):
    at = _app().run()
    at.radio(key="data.source").set_value("Paste").run()
    at.text_area(key="data.paste").set_value(
        '{"tokens": ["EU"], "tags": ["B-ORG"]}\n{"tokens": ["x"], "tags": "O"}\n').run()
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith("pasted, line 2:")


def test_table_upload_offers_its_columns(home):
    table = b"id\tsentence\tintent\n1\thello there\tgreet\n2\tbye now\tleave\n3\thi\tgreet\n"
    at = _app().run()
    at.radio(key="data.source").set_value("Upload").run()
    at.selectbox(key="data.task").set_value("classification").run()
    at.file_uploader(key="data.upload.train").set_value(("intents.tsv", table, "text/plain")).run()
    assert at.selectbox(key="data.text_column").options == ["id", "sentence", "intent"]
    at.selectbox(key="data.text_column").set_value("sentence")
    at.selectbox(key="data.label_column").set_value("intent").run()
    at.checkbox(key="data.split").uncheck().run()
    assert not at.exception and not at.error
    working = at.session_state["data.working"]
    assert [(ex.text, ex.labels) for ex in working.splits["train"]] == [
        ("hello there", ("greet",)), ("bye now", ("leave",)), ("hi", ("greet",))]


# ---- one reader: an upload parses as the same file does as a training path ----------------------

INTENTS_TSV = b"sentence\tintent\nhello there\tgreet\nbye now\tleave\n"  # no 'text' column


def test_classification_tsv_without_a_text_column_is_a_table(tmp_path):
    """The .tsv case the engine used to read differently (as CoNLL): the page and a training
    path both read a table and name the missing column at line 1."""
    from core.config import RunConfig
    from engine.data import read_file

    message = r"intents.tsv, line 1: column 'text' not found"
    with pytest.raises(DataError, match=message):
        page.parse_file(INTENTS_TSV, "intents.tsv", task="classification")
    path = tmp_path / "intents.tsv"
    path.write_bytes(INTENTS_TSV)
    with pytest.raises(DataError, match=message):
        read_file(path, task="classification", cfg=RunConfig(task="classification"))
    got = page.parse_file(INTENTS_TSV, "intents.tsv", task="classification",
                          text_column="sentence", label_column="intent")
    cfg = RunConfig(task="classification", text_column="sentence", label_column="intent")
    assert got == read_file(path, task=cfg.task, cfg=cfg)
    assert page.table_columns(INTENTS_TSV, "intents.tsv") == ["sentence", "intent"]


@pytest.mark.parametrize("name, content, task", [
    ("intents.tsv", INTENTS_TSV, "classification"),
    ("t.tsv", b"text\tlabel\nhi\ta\n", "classification"),
    ("t.tsv", b"text\tlabel\nhi\ta|b\n", "multilabel"),
    ("t.tsv", b"text\tlabel\nhi\ta\n", "ner"),
    ("x.tsv", b"EU\tB-ORG\nrejects\tO\n", "ner"),
    ("x.tsv", b"EU\tB-ORG\nrejects\tO\n", "classification"),
    ("m.csv", b"text,label\nhi,a|b\n", "classification"),
    ("a.jsonl", b'{"tokens": ["EU"], "tags": ["B-ORG"]}\n', "ner"),
    ("a.jsonl", b'{"text": "hi", "labels": ["a", "b"]}\n', "classification"),
    ("a.jsonl", b'{"text": "hi", "labels": ["a", "b"]}\n', "multilabel"),
    ("bad.conll", MALFORMED, "ner"),
])
def test_upload_and_training_path_read_alike(tmp_path, name, content, task):
    """Differential: parse_file and engine.data (read_file, then check_records as load_splits
    does) give the same records, or the same error, for the same bytes."""
    from core.config import RunConfig
    from engine.data import check_records, read_file

    def outcome(read):
        try:
            return read()
        except (ConfigError, DataError) as exc:
            return type(exc), str(exc)

    def engine_read():
        records = read_file(path, task=task, cfg=RunConfig(task=task))
        check_records(records, task, source=name)
        return records

    path = tmp_path / name
    path.write_bytes(content)
    assert outcome(lambda: page.parse_file(content, name, task=task)) == outcome(engine_read)
