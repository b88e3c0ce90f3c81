"""Playground page: a finished run's model on typed text (tiny BERT models, no hub)."""
from __future__ import annotations

import shutil

import torch

from engine.predict import split_words
from pages.playground import detokenize
from tests.engine.tiny import make_tiny_model_dir
from tests.pages.fakes import INTENTS, NER_LABELS, make_run, no_exception, page_test

WORDS = ["angela", "merkel", "met", "paris", "in", "the", "acme", "corp", "."]


def _install_model(store, run_id, tmp_path, task, labels, bias=None) -> str:
    """A tiny model saved as the run's model/ (optionally with a fixed head bias)."""
    folder = make_tiny_model_dir(tmp_path / "src", WORDS, task=task, labels=labels)
    if bias is not None:
        from transformers import AutoModelForSequenceClassification, AutoModelForTokenClassification

        cls = AutoModelForTokenClassification if task == "ner" else AutoModelForSequenceClassification
        model = cls.from_pretrained(folder)
        with torch.no_grad():
            model.classifier.weight.zero_()
            model.classifier.bias.copy_(torch.tensor(bias, dtype=torch.float32))
        model.save_pretrained(folder)
    target = store.run_dir(run_id) / "model"
    shutil.copytree(folder, target)
    return str(target)


def test_ner_entities_are_highlighted_with_confidence(store, tmp_path):
    run_id = make_run(store, name="ner")
    bias = [0.0] * len(NER_LABELS)
    bias[NER_LABELS.index("B-PER")] = 8.0  # every word a one-word person, confidently
    _install_model(store, run_id, tmp_path, "ner", NER_LABELS, bias)
    at = page_test("playground", run=run_id)
    no_exception(at)
    text = at.text_area(key="playground.text_ner").value
    assert text  # prefilled with one of the run's own test sentences
    at.text_area(key="playground.text_ner").input("Angela Merkel met Tom in Paris.").run()
    no_exception(at)
    html = next(m.value for m in at.markdown if "<sup" in m.value)
    assert html.count(">PER</sup>") == 7
    assert 'title="PER · confidence 99 %"' in html or 'title="PER · confidence 100 %"' in html
    entities = next(d.value for d in at.dataframe if "Entity" in d.value.columns)
    assert list(entities["Entity"]) == ["Angela", "Merkel", "met", "Tom", "in", "Paris", "."]
    assert (entities["Type"] == "PER").all() and (entities["Confidence"] > 99).all()


def test_classification_probabilities_bar_chart(store, tmp_path):
    run_id = make_run(store, name="intents", task="classification")
    bias = [0.0, 3.0, 0.0, 0.0]  # card_lost
    _install_model(store, run_id, tmp_path, "classification", INTENTS, bias)
    at = page_test("playground", run=run_id)
    no_exception(at)
    assert next(m.value for m in at.metric if m.label == "Predicted class") == "card_lost"
    chart = at.get("vega_lite_chart")[0]
    assert "Probability per class" in chart.proto.spec


def test_broken_model_folder_is_a_message(store):
    run_id = make_run(store, name="ner")
    model_dir = store.run_dir(run_id) / "model"
    model_dir.mkdir()
    (model_dir / "config.json").write_text("{ this is not json")
    at = page_test("playground", run=run_id)
    no_exception(at)
    assert any("could not load the model" in e.value for e in at.error)


def test_no_run_with_a_model(store):
    make_run(store, name="ner")  # completed, but without model/
    at = page_test("playground")
    no_exception(at)
    assert any("No finished run with a saved model" in i.value for i in at.info)


def test_detokenize_reads_naturally_and_round_trips_through_tokenize():
    tokens = ["Shares", "of", "Acme", "(", "ACM", ")", "fell", "5", "%", ",", "he", "said", "."]
    text = detokenize(tokens)
    assert text == "Shares of Acme (ACM) fell 5%, he said."
    assert split_words(text) == tokens


def test_tag_a_file_lists_the_runs_jobs_with_a_preview_and_a_download(store, tmp_path):
    """A job the scheduler ran (here run in-process: engine.predict_jobs.run_job) shows in the
    Tag a file tab with its first lines and a Download button; a failed one says why."""
    from engine import predict_jobs

    run_id = make_run(store, name="ner")
    _install_model(store, run_id, tmp_path, "ner", NER_LABELS)
    good = predict_jobs.submit(store, run_id, "notes.txt", b"angela merkel met paris\n",
                               created_by="ed@example.org")
    assert predict_jobs.run_job(store.jobs_dir / good) == "completed"
    bad = predict_jobs.submit(store, run_id, "broken.jsonl", b"{oops\n")
    assert predict_jobs.run_job(store.jobs_dir / bad) == "failed"
    at = page_test("playground", run=run_id)
    no_exception(at)
    jobs = next(d.value for d in at.dataframe if "File" in d.value.columns)
    assert set(jobs["File"]) == {"notes.txt", "broken.jsonl"}
    at.selectbox(key="playground.job_pick").set_value(good).run()
    no_exception(at)
    assert '"angela"' in at.code[0].value  # the JSONL output's first line
    assert [b.proto.label for b in at.get("download_button")] == ["Download"]
    at.selectbox(key="playground.job_pick").set_value(bad).run()
    assert any("broken.jsonl, line 1" in e.value for e in at.error)


def test_tag_a_file_is_for_editors_only(store, tmp_path):
    from tests.pages.fakes import as_user

    run_id = make_run(store, name="ner")
    _install_model(store, run_id, tmp_path, "ner", NER_LABELS)
    (store.root / "workbench.toml").write_text('[access]\nviewers = ["vi@example.org"]\n')
    at = page_test("playground", run=run_id)
    at = as_user(at, "vi@example.org").run()
    no_exception(at)
    assert any("needs the editor role" in i.value for i in at.info)
    assert not at.get("file_uploader")


def test_the_predict_button_predicts_on_the_typed_text(store, tmp_path):
    """Typing, then clicking Predict (no Ctrl+Enter, no click outside): the click sends the
    text with it and the entities of the new text are shown."""
    run_id = make_run(store, name="ner")
    bias = [0.0] * len(NER_LABELS)
    bias[NER_LABELS.index("B-PER")] = 8.0
    _install_model(store, run_id, tmp_path, "ner", NER_LABELS, bias)
    at = page_test("playground", run=run_id)
    no_exception(at)
    at.text_area(key="playground.text_ner").set_value("Tom met Angela")
    at.button(key="playground.predict_ner").click().run()
    no_exception(at)
    entities = next(d.value for d in at.dataframe if "Entity" in d.value.columns)
    assert list(entities["Entity"]) == ["Tom", "met", "Angela"]
    assert at.button(key="playground.predict_ner").proto.type == "primary"
