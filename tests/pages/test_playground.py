"""Playground page: a finished run's model on typed text (tiny BERT models, no hub)."""
from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from pages.playground import detokenize, load_model, predict_classes, predict_words, tokenize
from tests.engine.tiny import make_tiny_model_dir
from tests.pages.fixtures import (INTENTS, NER_LABELS, daemon_calls, make_run, no_exception,  # noqa: F401
                                  page_test, store)

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


def test_predict_words_equals_first_subtoken_of_a_plain_forward_pass(tmp_path):
    folder = make_tiny_model_dir(tmp_path, WORDS, task="ner", labels=NER_LABELS, seed=3)
    tokenizer, model = load_model(folder, 0.0, "ner")
    words = ["Angela", "Merkelization", "visited", "xyzzy", "Paris", "!"]
    tags, conf = predict_words(tokenizer, model, words)
    enc = tokenizer(words, is_split_into_words=True, return_tensors="pt")
    with torch.no_grad():
        probs = torch.softmax(model(**enc).logits[0], -1).numpy()
    first = {}
    for pos, w in enumerate(enc.word_ids()):
        if w is not None:
            first.setdefault(w, pos)
    expect = [model.config.id2label[int(probs[first[w]].argmax())] for w in range(len(words))]
    assert tags == expect
    np.testing.assert_allclose(conf, [probs[first[w]].max() for w in range(len(words))], rtol=1e-5)


def test_long_input_is_windowed_to_one_tag_per_word(tmp_path):
    folder = make_tiny_model_dir(tmp_path, WORDS, task="ner", labels=NER_LABELS)
    tokenizer, model = load_model(folder, 0.0, "ner")
    words = ("angela merkel met the acme corp in paris . " * 12).split()
    tags, conf = predict_words(tokenizer, model, words, max_length=24)
    assert len(tags) == len(conf) == len(words)
    # every word is one sub-token, so the first window holds words[:22] exactly as a short
    # input of those words does; the first words take their scores from that window
    short_tags, short_conf = predict_words(tokenizer, model, words[:22], max_length=24)
    assert tags[:5] == short_tags[:5] and conf[:5] == short_conf[:5]
    assert conf[:22] != short_conf  # later words come from the next window (more context)


def test_classification_probabilities_bar_chart(store, tmp_path):
    run_id = make_run(store, name="intents", task="classification")
    bias = [0.0, 3.0, 0.0, 0.0]  # card_lost
    _install_model(store, run_id, tmp_path, "classification", INTENTS, bias)
    at = page_test("playground", run=run_id)
    no_exception(at)
    assert next(m.value for m in at.metric if m.label == "Predicted class") == "card_lost"
    chart = at.get("vega_lite_chart")[0]
    assert "Probability per class" in chart.proto.spec


def test_predict_classes_softmax_and_sigmoid(tmp_path):
    folder = make_tiny_model_dir(tmp_path, WORDS, task="classification", labels=INTENTS)
    tokenizer, model = load_model(folder, 0.0, "classification")
    probs = predict_classes(tokenizer, model, "i lost my card")
    assert list(probs) == INTENTS and abs(sum(probs.values()) - 1) < 1e-5
    multi = predict_classes(tokenizer, model, "i lost my card", multilabel=True)
    logits = np.log(np.array(list(probs.values())))  # softmax and sigmoid share the logits
    sig = np.array(list(multi.values()))
    np.testing.assert_allclose(np.diff(np.log(sig / (1 - sig))), np.diff(logits), rtol=1e-4, atol=1e-5)


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


@pytest.mark.parametrize("text, words", [
    ("Angela Merkel met O'Neil in Paris.", ["Angela", "Merkel", "met", "O'Neil", "in", "Paris", "."]),
    ("e-mail: 3.5 %, U.S. (today)!", ["e-mail", ":", "3.5", "%", ",", "U.S", ".", "(", "today", ")", "!"]),
    ("  ", []),
])
def test_tokenize(text, words):
    assert tokenize(text) == words


def test_detokenize_reads_naturally_and_round_trips_through_tokenize():
    tokens = ["Shares", "of", "Acme", "(", "ACM", ")", "fell", "5", "%", ",", "he", "said", "."]
    text = detokenize(tokens)
    assert text == "Shares of Acme (ACM) fell 5%, he said."
    assert tokenize(text) == tokens
