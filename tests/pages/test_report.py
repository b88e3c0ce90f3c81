"""Report page: entity and tag tables, confusion, error breakdown and browser, classification,
and unreadable reports shown as messages."""
from __future__ import annotations

import json
import re

from core import metrics
from tests.pages.fakes import INTENTS, make_run, no_exception, page_test


def _report(store, run_id):
    return json.loads((store.run_dir(run_id) / "report.json").read_text())


def _metric(at, label):
    return next(m.value for m in at.metric if m.label == label)


def _table(at, first_column):
    return next(d.value for d in at.dataframe if d.value.columns[0] == first_column)


def _sentences(at):
    """(html of the error browser, number of sentence blocks on this page)."""
    html = next((m.value for m in at.markdown if "sentence " in m.value and "predicted" in m.value), "")
    return html, html.count('margin-bottom:4px">sentence ')


def test_ner_report_tables_match_report_json(store):
    run_id = make_run(store, name="ner", n_dev=30, n_test=60)
    at = page_test("report", run=run_id)
    no_exception(at)
    rep = _report(store, run_id)["test"]
    assert _metric(at, "Micro F1") == f"{100 * rep['entities']['micro']['f1']:.1f} %"
    entities = _table(at, "Entity type").set_index("Entity type")
    assert list(entities.index) == ["LOC", "MISC", "ORG", "PER", "micro avg", "macro avg", "weighted avg"]
    for etype, row in rep["entities"]["per_type"].items():
        assert abs(entities.loc[etype, "F1"] - 100 * row["f1"]) < 1e-9
        assert entities.loc[etype, "Support"] == row["support"] and entities.loc[etype, "FN"] == row["fn"]
    tags = _table(at, "Tag").set_index("Tag")
    assert list(tags.index)[:2] == ["B-LOC", "I-LOC"] and "O" in tags.index
    assert tags.loc["O", "Support"] == rep["tokens"]["per_type"]["O"]["support"]
    classic = next(c.value for c in at.code if "f1-score" in c.value)
    assert classic == metrics.format_table(rep["tokens"])
    charts = json.dumps([json.loads(c.proto.spec) for c in at.get("vega_lite_chart")])
    assert "F1 per entity type (%)" in charts and "wrong boundary" in charts and "predicted tag" in charts
    confusion = next(json.loads(c.proto.spec) for c in at.get("vega_lite_chart") if "predicted tag" in c.proto.spec)
    assert confusion["layer"][0]["encoding"]["x"]["sort"] == [
        "O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]


def test_error_breakdown_table_counts_each_kind(store):
    run_id = make_run(store, name="ner")
    at = page_test("report", run=run_id)
    breakdown = next(d.value for d in at.dataframe if "Spurious" in d.value.columns).set_index("Entity type")
    for etype, counts in _report(store, run_id)["test"]["errors"].items():
        assert breakdown.loc[etype, "Correct"] == counts["correct"]
        assert breakdown.loc[etype, "Missed"] == counts["missed"]
        assert breakdown.loc[etype, "Type"] == counts["wrong_type"]


def test_split_switch_shows_dev_scores(store):
    run_id = make_run(store, name="ner")
    at = page_test("report", run=run_id)
    assert at.get("button_group")[0].value == "test"
    at.button_group(key="report.split").set_value("dev").run()
    no_exception(at)
    dev = _report(store, run_id)["dev"]["entities"]["micro"]["f1"]
    assert _metric(at, "Micro F1") == f"{100 * dev:.1f} %"


def test_error_browser_filters_and_pages(store):
    run_id = make_run(store, name="ner", n_dev=10, n_test=200, seed=5)
    at = page_test("report", run=run_id)
    html, shown = _sentences(at)
    assert shown == 20  # first page of many
    assert at.get("pagination")
    at.multiselect(key="report.err_kinds").set_value(["missed"]).run()
    no_exception(at)
    html, shown = _sentences(at)
    chips = re.findall(r"(wrong type and boundary|wrong type|wrong boundary|spurious|missed): ", html)
    assert chips and set(chips) == {"missed"}
    at.multiselect(key="report.err_kinds").set_value([]).run()
    at.multiselect(key="report.err_types").set_value(["PER"]).run()
    html, shown = _sentences(at)
    blocks = html.split('margin-bottom:4px">sentence ')[1:]
    assert blocks and all("PER" in b.split("</div>")[0] for b in blocks)  # each block's chips name PER


def test_error_browser_text_filter_and_no_match(store):
    run_id = make_run(store, name="ner")
    at = page_test("report", run=run_id)
    at.text_input(key="report.err_text").input("zzzz-no-such-word").run()
    no_exception(at)
    assert any("No error matches" in i.value for i in at.info)


def test_classification_report_and_misclassified_browser(store):
    run_id = make_run(store, name="intents", task="classification", n_test=80)
    at = page_test("report", run=run_id)
    no_exception(at)
    rep = _report(store, run_id)["test"]["classes"]
    assert _metric(at, "Accuracy") == f"{100 * rep['accuracy']:.1f} %"
    classes = _table(at, "Class").set_index("Class")
    assert list(classes.index)[: len(INTENTS)] == INTENTS
    rows = [json.loads(line) for line in (store.run_dir(run_id) / "predictions.jsonl").open()]
    wrong = [r for r in rows if r["split"] == "test" and r["gold"] != r["pred"]]
    table = next(d.value for d in at.dataframe if "Predicted" in d.value.columns)
    assert len(table) == min(20, len(wrong))
    assert (table["Gold"] != table["Predicted"]).all()
    at.multiselect(key="report.mis_gold").set_value([wrong[0]["gold"]]).run()
    table = next(d.value for d in at.dataframe if "Predicted" in d.value.columns)
    assert set(table["Gold"]) == {wrong[0]["gold"]}


def test_multilabel_report(store):
    run_id = make_run(store, name="tickets", task="multilabel", n_test=60)
    at = page_test("report", run=run_id)
    no_exception(at)
    rep = _report(store, run_id)["test"]["classes"]
    assert _metric(at, "Exact-match accuracy") == f"{100 * rep['subset_accuracy']:.1f} %"
    assert _metric(at, "Hamming loss") == f"{rep['hamming_loss']:.3f}"
    assert "samples avg" in set(_table(at, "Class")["Class"])
    table = next(d.value for d in at.dataframe if "Predicted" in d.value.columns)
    assert len(table) > 0 and (table["Gold"] != table["Predicted"]).all()


def test_missing_report_is_a_message(store):
    run_id = make_run(store, name="ner")
    (store.run_dir(run_id) / "report.json").unlink()
    at = page_test("report", run=run_id)
    no_exception(at)
    assert any("missing or unreadable" in e.value for e in at.error)


def test_corrupt_report_is_a_message(store):
    run_id = make_run(store, name="ner")
    (store.run_dir(run_id) / "report.json").write_text("{not json")
    at = page_test("report", run=run_id)
    no_exception(at)
    assert any("damaged: not valid JSON" in e.value for e in at.error)


def test_report_without_entity_scores_is_a_message(store):
    run_id = make_run(store, name="ner")
    path = store.run_dir(run_id) / "report.json"
    rep = json.loads(path.read_text())
    rep["test"] = {"entities": {"oops": 1}}
    path.write_text(json.dumps(rep))
    at = page_test("report", run=run_id)
    no_exception(at)
    assert any("no entity scores" in e.value for e in at.error)


def test_missing_predictions_still_show_tables(store):
    run_id = make_run(store, name="ner")
    (store.run_dir(run_id) / "predictions.jsonl").unlink()
    at = page_test("report", run=run_id)
    no_exception(at)
    assert _table(at, "Entity type") is not None
    assert any("no test predictions" in i.value for i in at.info)


def test_no_completed_run(store):
    make_run(store, name="waiting", state="queued")
    at = page_test("report")
    no_exception(at)
    assert any("No completed run" in i.value for i in at.info)


WNUT = ["O", "B-corporation", "I-corporation", "B-creative-work", "I-creative-work", "B-group",
        "I-group", "B-location", "I-location", "B-person", "I-person", "B-product", "I-product"]


def test_tag_confusion_is_square_over_gold_and_predicted_tags(store):
    """WNUT-17: 13 tags, so zero cells are filtered out, which took every column never
    predicted with them. Rows and columns are now the same tags: each gold or predicted."""
    run_id = make_run(store, name="wnut")
    path = store.run_dir(run_id) / "report.json"
    rep = json.loads(path.read_text())
    n = len(WNUT)
    matrix = [[0] * n for _ in range(n)]
    matrix[0][0] = 900
    for i in range(1, n - 2):         # the model predicts O or the right tag, never product
        matrix[i][i] = 5
        matrix[i][0] = 2
    matrix[n - 2][0] = 3              # B-product: gold only (never predicted)
    matrix[0][WNUT.index("B-person")] += 4
    rep["test"]["confusion"] = {"labels": WNUT, "matrix": matrix}  # I-product: nowhere at all
    path.write_text(json.dumps(rep))
    at = page_test("report", run=run_id)
    no_exception(at)
    spec = next(json.loads(c.proto.spec) for c in at.get("vega_lite_chart") if "predicted tag" in c.proto.spec)
    enc = spec["layer"][0]["encoding"]
    assert enc["x"]["scale"]["domain"] == enc["y"]["scale"]["domain"] == enc["x"]["sort"]
    domain = enc["x"]["scale"]["domain"]
    assert "B-product" in domain and "I-product" not in domain and len(domain) == n - 1
    assert domain[:3] == ["O", "B-corporation", "I-corporation"]


def _browser(at):
    """(caption of the error browser, the kind options' labels, the type options' labels)."""
    caption = next(c.value for c in at.caption if "sentences per page" in c.value)
    return (caption, list(at.multiselect(key="report.err_kinds").options),
            list(at.multiselect(key="report.err_types").options))


def _types(error) -> set:
    return {s[0] for s in (error["gold"], error["pred"]) if s}


def test_error_browser_counts_follow_the_filters_and_sentences_count_from_1(store):
    from core import metrics as core_metrics
    from pages.report import KIND_NAMES

    run_id = make_run(store, name="ner", n_dev=10, n_test=120, seed=3)
    rows = [json.loads(line) for line in (store.run_dir(run_id) / "predictions.jsonl").open()]
    test = [r for r in rows if r["split"] == "test"]
    errors = core_metrics.entity_errors([r["gold"] for r in test], [r["pred"] for r in test])["errors"]
    at = page_test("report", run=run_id)
    at.multiselect(key="report.err_types").set_value(["PER"]).run()
    no_exception(at)
    per = [e for e in errors if "PER" in _types(e)]
    caption, kinds, _ = _browser(at)
    for label in kinds:  # each kind counted among the PER errors, not among all of them
        name = label.rsplit(" (", 1)[0]
        assert label == f"{name} ({sum(KIND_NAMES[e['kind']] == name for e in per)})"
    assert caption.startswith(f"{len(per):,} error{'s' if len(per) != 1 else ''} in ")
    # the type labels follow the kind filter the same way
    kind = errors[0]["kind"]
    at.multiselect(key="report.err_types").set_value([]).run()
    at.multiselect(key="report.err_kinds").set_value([kind]).run()
    _, _, types = _browser(at)
    for label in types:
        t = label.rsplit(" (", 1)[0]
        assert label == f"{t} ({sum(t in _types(e) for e in errors if e['kind'] == kind)})"
    # exactly one error left: "1 error in 1 of 120 test sentences", not "1 errors"
    def matching(t, k, word):
        return [e for e in errors if t in _types(e) and e["kind"] == k
                and any(word == w.lower() for w in test[e["sentence"]]["tokens"])]

    t, kind, word = next((t, e["kind"], w.lower()) for e in errors for t in sorted(_types(e))
                         for w in test[e["sentence"]]["tokens"] if len(matching(t, e["kind"], w.lower())) == 1)
    at.multiselect(key="report.err_types").set_value([t]).run()
    at.multiselect(key="report.err_kinds").set_value([kind]).run()
    at.text_input(key="report.err_text").input(word).run()
    caption, _, _ = _browser(at)
    (one,) = [e for e in errors if t in _types(e) and e["kind"] == kind
              and any(word in w.lower() for w in test[e["sentence"]]["tokens"])] or [None]
    assert caption.startswith("1 error in 1 of 120 test sentences · ")
    html, shown = _sentences(at)
    assert shown == 1
    number = html.split('margin-bottom:4px">sentence ')[1].split(" ")[0]
    assert number == str(one["sentence"] + 1)  # numbered from 1, as people count


def test_plural():
    from pages.common import plural

    assert plural(1, "error") == "1 error" and plural(0, "error") == "0 errors"
    assert plural(1204, "test sentence") == "1,204 test sentences"


def test_percentages_fit_their_cards():
    from pages.report import _pct

    assert _pct(0.99849) == "99.8 %" and _pct(1.0) == "100 %" and _pct(0.99996) == "100 %"
    assert _pct(None) == "—" and _pct(0.5) == "50.0 %"
    assert max(len(_pct(x / 1000)) for x in range(1001)) <= 6
