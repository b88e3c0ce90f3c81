"""engine/predict: one inference path for the loop, the Playground and scripts."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from hypothesis import given, settings, strategies as st
from hypothesis.extra.numpy import arrays

from core.errors import WorkbenchError
from engine.predict import (MULTILABEL_THRESHOLD, Predictor, decode, sigmoid, softmax,
                            split_words, task_of)
from tests.engine.tiny import make_tiny_model_dir

WORDS = ["angela", "merkel", "met", "paris", "in", "the", "acme", "corp", "."]
NER_LABELS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "B-ORG", "I-ORG"]
INTENTS = ["balance", "card_lost", "transfer", "greeting"]

logit_rows = arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 5)),
                    elements=st.floats(-30, 30, width=32))


@settings(max_examples=60, deadline=None)
@given(logit_rows)
def test_softmax_and_sigmoid_equal_torch(x):
    np.testing.assert_allclose(softmax(x), torch.softmax(torch.from_numpy(x), -1).numpy(),
                               rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sigmoid(x), torch.sigmoid(torch.from_numpy(x)).numpy(),
                               rtol=1e-5, atol=1e-6)


# whole-number logits: distinct values stay distinct after softmax in float32
int_logit_rows = arrays(np.float32, st.tuples(st.integers(1, 6), st.integers(1, 5)),
                        elements=st.integers(-30, 30).map(float))


@settings(max_examples=60, deadline=None)
@given(int_logit_rows)
def test_decode_texts_argmax_and_threshold(x):
    labels = [f"c{i}" for i in range(x.shape[1])]
    rows = list(x)
    single = decode("classification", labels, [{}] * len(rows), rows)
    assert single["pred"] == [labels[int(np.argmax(r))] for r in rows]
    multi = decode("multilabel", labels, [{}] * len(rows), rows)
    # sigmoid(z) >= 0.5 exactly when z >= 0: the threshold is the one MULTILABEL_THRESHOLD names
    assert MULTILABEL_THRESHOLD == 0.5
    assert multi["pred"] == [[labels[k] for k in range(len(labels)) if sigmoid(r[k]) >= 0.5]
                             for r in rows]
    assert multi["probs"].shape == x.shape


def test_decode_ner_needs_word_counts():
    with pytest.raises(ValueError, match="word count"):
        decode("ner", ["O"], [], [])


def test_task_of_reads_the_saved_head():
    assert task_of({"architectures": ["BertForTokenClassification"]}) == "ner"
    assert task_of({"architectures": ["BertForSequenceClassification"],
                    "problem_type": "multi_label_classification"}) == "multilabel"
    assert task_of({"architectures": ["BertForSequenceClassification"]}) == "classification"


@pytest.fixture(scope="module")
def ner_folder(tmp_path_factory):
    return make_tiny_model_dir(tmp_path_factory.mktemp("ner"), WORDS, task="ner",
                               labels=NER_LABELS, seed=3)


def test_predict_words_equals_first_subtoken_of_a_plain_forward_pass(ner_folder):
    predictor = Predictor.load(ner_folder)
    assert predictor.task == "ner" and predictor.labels == NER_LABELS
    words = ["Angela", "Merkelization", "visited", "xyzzy", "Paris", "!"]
    ((tags, conf),) = predictor.predict_words([words])
    tokenizer, model = predictor.tokenizer, predictor.model
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


def test_long_input_is_windowed_to_one_tag_per_word(ner_folder):
    predictor = Predictor.load(ner_folder, max_length=24)
    words = ("angela merkel met the acme corp in paris . " * 12).split()
    ((tags, conf),) = predictor.predict_words([words])
    assert len(tags) == len(conf) == len(words)
    # every word is one sub-token, so the first window holds words[:22] exactly as a short
    # input of those words does; the first words take their scores from that window
    ((short_tags, short_conf),) = predictor.predict_words([words[:22]])
    assert tags[:5] == short_tags[:5]
    np.testing.assert_allclose(conf[:5], short_conf[:5], rtol=1e-5)
    assert not np.allclose(conf[:22], short_conf)  # later words come from the next window


def test_batched_sentences_equal_one_at_a_time(ner_folder):
    predictor = Predictor.load(ner_folder)
    sentences = [["angela", "met", "paris"], ["the", "acme", "corp", "in", "paris", "."], ["x"]]
    together = predictor.predict_words(sentences)
    for sentence, (tags, conf) in zip(sentences, together):
        ((alone_tags, alone_conf),) = predictor.predict_words([sentence])
        assert tags == alone_tags
        np.testing.assert_allclose(conf, alone_conf, rtol=1e-4, atol=1e-6)


def test_raw_text_is_split_then_tagged(ner_folder):
    predictor = Predictor.load(ner_folder)
    words, tags, conf = predictor.predict_text_words("Angela met O'Neil in Paris.")
    assert words == ["Angela", "met", "O'Neil", "in", "Paris", "."]
    assert len(tags) == len(conf) == 6 and set(tags) <= set(NER_LABELS)
    assert predictor.predict_text_words("   ") == ([], [], [])


def test_texts_softmax_and_sigmoid_share_the_logits(tmp_path):
    folder = make_tiny_model_dir(tmp_path, WORDS, task="classification", labels=INTENTS)
    single = Predictor.load(folder)
    assert single.task == "classification"
    (probs,) = single.predict_texts(["i lost my card"])
    assert list(probs) == INTENTS and abs(sum(probs.values()) - 1) < 1e-5
    assert single.chosen(probs) == [max(probs, key=probs.get)]
    multi = Predictor.load(folder, task="multilabel")
    (sig,) = multi.predict_texts(["i lost my card"])
    logits = np.log(np.array(list(probs.values())))
    s = np.array(list(sig.values()))
    np.testing.assert_allclose(np.diff(np.log(s / (1 - s))), np.diff(logits), rtol=1e-4, atol=1e-5)
    assert multi.chosen(sig) == [c for c in sorted(sig, key=lambda c: -sig[c]) if sig[c] >= 0.5]


def test_texts_in_a_batch_equal_one_at_a_time(tmp_path):
    folder = make_tiny_model_dir(tmp_path, WORDS, task="multilabel", labels=INTENTS)
    predictor = Predictor.load(folder)
    assert predictor.task == "multilabel"
    texts = ["i lost my card", "hello", "the acme corp in paris met angela merkel"]
    batch = predictor.predict_texts(texts)
    for text, probs in zip(texts, batch):
        (alone,) = predictor.predict_texts([text])
        np.testing.assert_allclose(list(probs.values()), list(alone.values()), rtol=1e-4, atol=1e-6)


def test_broken_or_missing_folders_are_workbench_errors(tmp_path):
    with pytest.raises(WorkbenchError, match="could not load the model"):
        Predictor.load(tmp_path / "absent")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text("{ this is not json")
    with pytest.raises(WorkbenchError, match="could not load the model"):
        Predictor.load(broken)


def test_pickled_weights_are_not_loaded(tmp_path, ner_folder):
    import shutil
    from pathlib import Path

    folder = tmp_path / "pickled"
    shutil.copytree(ner_folder, folder)
    for f in Path(folder).glob("*.safetensors"):
        f.unlink()
    torch.save({}, folder / "pytorch_model.bin")
    json.loads((folder / "config.json").read_text())  # the config itself is fine
    with pytest.raises(WorkbenchError, match="could not load the model"):
        Predictor.load(folder)


@pytest.mark.parametrize("text, words", [
    ("Angela Merkel met O'Neil in Paris.", ["Angela", "Merkel", "met", "O'Neil", "in", "Paris", "."]),
    ("e-mail: 3.5 %, U.S. (today)!", ["e-mail", ":", "3.5", "%", ",", "U.S", ".", "(", "today", ")", "!"]),
    ("  ", []),
])
def test_split_words(text, words):
    assert split_words(text) == words
