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


# ---- the task follows the file when the file can only hold the other kind of data ------------

def _parquet(rows: list[tuple[str, str]]) -> bytes:
    from core.formats import write_table
    from core.records import TextExample
    return write_table([TextExample(t, (lab,)) for t, lab in rows], "parquet")


TEXT_ROWS = [("hello there", "greet"), ("bye now", "leave"), ("hi", "greet")]


@pytest.mark.parametrize("name, content, start, expected", [
    ("intents.csv", b"text,label\nhello there,greet\nbye now,leave\nhi,greet\n", "ner",
     "classification"),
    ("intents.tsv", b"text\tlabel\nhello there\tgreet\nbye now\tleave\nhi\tgreet\n", "ner",
     "classification"),
    ("intents.parquet", _parquet(TEXT_ROWS), "ner", "classification"),
    ("intents.jsonl", b'{"text": "hello there", "label": "greet"}\n{"text": "bye", "label": "x"}\n',
     "ner", "classification"),
    ("tickets.jsonl", b'{"text": "refund", "labels": ["billing"]}\n'
                      b'{"text": "late and broken", "labels": ["shipping", "technical"]}\n',
     "ner", "multilabel"),
    ("news.jsonl", b'{"tokens": ["EU", "rejects"], "tags": ["B-ORG", "O"]}\n', "classification",
     "ner"),
    ("news.conll", b"EU B-ORG\nrejects O\n", "multilabel", "ner"),
])
def test_upload_of_the_other_kind_of_data_switches_the_task_and_says_so(home, name, content,
                                                                       start, expected):
    at = _app().run()
    at.radio(key="data.source").set_value("Upload").run()
    at.selectbox(key="data.task").set_value(start).run()
    at.file_uploader(key="data.upload.train").set_value((name, content, "text/plain")).run()
    at.checkbox(key="data.split").uncheck().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert at.selectbox(key="data.task").value == expected
    assert at.session_state["data.working"].task == expected
    [note] = [i.value for i in at.info if "Task switched" in i.value]
    assert page.TASKS[start] in note and page.TASKS[expected] in note and name in note


def test_the_task_switch_happens_once_per_file_so_the_user_can_still_choose(home):
    at = _app().run()
    at.radio(key="data.source").set_value("Upload").run()
    at.file_uploader(key="data.upload.train").set_value(
        ("t.csv", b"text,label\nhi,a\nyo,b\n", "text/plain")).run()
    assert at.selectbox(key="data.task").value == "classification"
    at.selectbox(key="data.task").set_value("ner").run()  # the user insists: the reader says no
    assert not at.exception
    assert at.selectbox(key="data.task").value == "ner"
    assert len(at.error) == 1 and "tables hold classification data" in at.error[0].value


@pytest.mark.parametrize("name, content, task", [
    ("a.txt", b"text label\nhi a\n", "classification"),   # .txt: CoNLL or not, a guess
    ("x.tsv", b"EU\tB-ORG\nrejects\tO\n", "ner"),          # header-less TSV: CoNLL columns
    ("t.csv", b"text,label\nhi,a\n", "multilabel"),        # a text task already
    ("a.jsonl", b'{"id": 1}\n', "ner"),                      # neither: the reader says why
])
def test_no_switch_when_the_file_does_not_say_which_task(name, content, task):
    assert page.suggested_task(content, name, "auto", task) is None


def test_pasted_csv_switches_too(home):
    at = _app().run()
    at.radio(key="data.source").set_value("Paste").run()
    at.text_area(key="data.paste").set_value("text,label\nhello,greet\nbye,leave\n").run()
    assert at.selectbox(key="data.task").value == "classification"
    assert any("Task switched" in i.value for i in at.info)


# ---- tables say what their columns are -------------------------------------------------------

def _column_labels(at: AppTest) -> list[tuple[list[str], dict]]:
    import json
    return [(list(df.value.columns), json.loads(df.proto.columns or "{}")) for df in at.dataframe]


@pytest.mark.parametrize("demo", ["demo-ner", "demo-intent", "demo-multilabel"])
def test_every_table_column_has_a_human_label(home, demo):
    at = _app().run()
    at.selectbox(key="data.demo").set_value(demo).run()
    assert not at.exception
    tables = _column_labels(at)
    assert len(tables) >= 2
    for columns, config in tables:
        for column in columns:
            label = config.get(column, {}).get("label")
            assert label and "_" not in label, (column, config)
    labels = {config[c]["label"] for columns, config in tables for c in columns}
    if demo == "demo-ner":
        assert {"Entity types", "Unseen token rate", "Vocabulary size"} <= labels
    else:
        assert {"Examples", "Mean length (words)", "Labels per text"} <= labels


def test_column_label_falls_back_to_words():
    assert page.column_label("entity_types") == "Entity types"
    assert page.column_label("new_oov_count") == "New OOV count"


# ---- stored datasets go by their name ---------------------------------------------------------

def test_stored_datasets_are_listed_by_name_with_the_id_second(home):
    store = Store(home)
    ds_id = store.add_dataset("news wire", "ner",
                              {"train": [TokenExample(("a", "b"), ("B-X", "O"))] * 3})
    at = _app().run()
    at.radio(key="data.source").set_value("Stored dataset").run()
    [option] = at.selectbox(key="data.stored").options
    assert option.startswith("news wire (") and option.endswith(f"id {ds_id}")
    assert "NER" in option and "train 3" in option
    captions = " ".join(c.value for c in at.caption)
    assert "the stored dataset **news wire**" in captions
    assert captions.index("**news wire**") < captions.index(ds_id)


def test_saving_names_the_dataset(home):
    at = _upload(_app().run(), "iob1.conll", IOB1)
    at.text_input(key="data.save.name").set_value("news").run()
    _button(at, "Save dataset").click().run()
    [row] = Store(home).list_datasets()
    [message] = [s.value for s in at.success if "Saved" in s.value]
    assert "**news**" in message and f"dataset:{row['id']}" in message


# ---- a file that is not UTF-8: an explicit choice to read it as Windows-1252 -----------------

CP1252_CSV = "text,label\ncafé au lait,drink\nnaïve “quote”,adj\n".encode("cp1252")


def _upload_classification(at: AppTest, name: str, content: bytes) -> AppTest:
    at.radio(key="data.source").set_value("Upload").run()
    at.selectbox(key="data.task").set_value("classification").run()
    at.file_uploader(key="data.upload.train").set_value((name, content, "text/plain")).run()
    return at


def _encoding_box(at: AppTest):
    return [c for c in at.checkbox if c.key.startswith("data.encoding.")]


def test_non_utf8_upload_offers_windows_1252_with_a_preview_and_stores_utf8(home):
    at = _upload_classification(_app().run(), "drinks.csv", CP1252_CSV)
    assert not at.exception
    [error] = [e.value for e in at.error]
    assert error.startswith("drinks.csv, line 2, byte 14: the file is not valid UTF-8")
    assert "0xE9" in error and "café" not in error and "Traceback" not in error
    assert not at.subheader  # nothing read, nothing drawn, until the user chooses
    [preview] = [c.value for c in at.code]
    assert "café au lait,drink" in preview and "naïve “quote”,adj" in preview
    [box] = _encoding_box(at)
    assert "Latin-1 / Windows-1252" in box.label
    box.check().run()
    at.checkbox(key="data.split").uncheck().run()
    assert not at.exception and not at.error
    working = at.session_state["data.working"]
    assert [ex.text for ex in working.splits["train"]] == ["café au lait", "naïve “quote”"]
    assert any("converted to UTF-8" in c.value for c in at.caption)
    _button(at, "Save dataset").click().run()
    [row] = Store(home).list_datasets()
    stored = (home / "data" / row["id"] / "original-drinks.csv").read_bytes()
    assert stored == CP1252_CSV.decode("cp1252").encode("utf-8")
    assert row["meta"]["converted_to_utf8"] == {"drinks.csv": "cp1252"}


def test_the_windows_1252_choice_is_per_file(home):
    at = _upload_classification(_app().run(), "drinks.csv", CP1252_CSV)
    _encoding_box(at)[0].check().run()
    other = "text,label\nthé,drink\n".encode("cp1252")
    at.file_uploader(key="data.upload.train").set_value(("tea.csv", other, "text/plain")).run()
    [box] = _encoding_box(at)
    assert not box.value and at.error  # a new file: a new, explicit choice


def test_a_file_that_is_not_windows_1252_either_says_where(home):
    bad = b"text,label\ncaf\xe9,drink\nx\x81y,z\n"
    at = _upload_classification(_app().run(), "odd.csv", bad)
    assert not at.exception and not _encoding_box(at)
    messages = [e.value for e in at.error]
    assert messages[0].startswith("odd.csv, line 2, byte 14: the file is not valid UTF-8")
    assert messages[1].startswith("odd.csv, line 3, byte 23: the file is not Windows-1252 "
                                  "either") and "0x81" in messages[1]


def test_ner_conll_in_windows_1252_reads_after_the_choice(home):
    conll = "Müller B-PER\nsagte O\n\nKöln B-LOC\n".encode("cp1252")
    at = _app().run()
    at.radio(key="data.source").set_value("Upload").run()
    at.file_uploader(key="data.upload.train").set_value(("de.conll", conll, "text/plain")).run()
    _encoding_box(at)[0].check().run()
    at.checkbox(key="data.split").uncheck().run()
    assert not at.exception and not at.error
    assert at.session_state["data.working"].splits["train"][0].tokens == ("Müller", "sagte")


def test_encoding_preview_numbers_lines_and_adds_the_first_bad_one():
    text = "\n".join(f"line {i}" for i in range(1, 21))
    assert page.encoding_preview(text, 2, lines=3) == "   1  line 1\n   2  line 2\n   3  line 3"
    assert page.encoding_preview(text, 12, lines=2).splitlines() == [
        "   1  line 1", "   2  line 2", "   …", "  12  line 12"]
    assert page.not_utf8(b"plain ascii", "a.csv") is None
    # refused for something else first: the reader's own message, no encoding offer
    assert page.not_utf8(b"\xff\xfet\x00", "a.csv") is None  # UTF-16
    assert page.not_utf8(b"\x89PNG\r\n\x1a\n\x00\x00\xff", "a.csv") is None
    assert page.not_utf8(b"\x1f\x8b\x08\xe9", "a.csv") is None  # gzip
    assert page.not_utf8(b"x\xe9\x00", "a.csv") is None  # NUL byte
    assert page.not_utf8(b"text\ncaf\xe9\n", "a.csv").describe() == (
        "a.csv, line 2, byte 8: the file is not valid UTF-8 (expected UTF-8 text, "
        "found byte 0xE9)")


# ---- the Deploy button ----------------------------------------------------------------------

def test_streamlit_config_hides_the_developer_toolbar():
    # "viewer" hides the developer options (Deploy, Rerun, Clear cache) from every user;
    # "minimal" would hide the whole menu, "auto" shows Deploy on localhost
    import tomllib

    from streamlit import config
    root = Path(__file__).resolve().parents[2]
    settings = tomllib.loads((root / ".streamlit" / "config.toml").read_text())
    assert settings["client"]["toolbarMode"] == "viewer"
    allowed = config._config_options_template["client.toolbarMode"].description
    assert '"viewer"' in allowed


def test_splitting_an_upload_keeps_its_repeated_sentences_on_one_side(home):
    # the case: 17 sentences that occur twice, split here with the page's defaults
    unique = b"".join(f"u{i} B-PER\nsaid O\n\n".encode() for i in range(200))
    repeated = b"".join(f"d{i} B-ORG\nwon O\n\n".encode() * 2 for i in range(17))
    at = _upload(_app().run(), "news.conll", unique + repeated, split=True)
    assert not at.exception and not at.error
    working = at.session_state["data.working"]
    assert set(working.splits) == {"train", "dev", "test"}
    shown = [df.value for df in at.dataframe if "code" in df.value.columns]
    assert not any("duplicate-across-splits" in list(frame["code"]) for frame in shown)
    from core.splits import duplicate_key
    owner: dict = {}
    for name, part in working.splits.items():
        for ex in part:
            assert owner.setdefault(duplicate_key(ex), name) == name
