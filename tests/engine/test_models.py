import os
from pathlib import Path

import numpy as np
import pytest
import torch

from core.errors import ConfigError, WorkbenchError
from core.records import TokenExample
from engine.encoding import encode_ner, merge_windows
from engine.models import (ModelLoadError, build_model, count_parameters, load_tokenizer,
                           resolve_model, save_model)
from tests.engine.tiny import NER_TAGS, VOCAB, make_tiny_model_dir

WORDS, TAGS = VOCAB, NER_TAGS
L2I = {t: i for i, t in enumerate(TAGS)}
CLASSES = ["neg", "pos", "neutral"]




# ---- building, adapting and saving ---------------------------------------------------------

def test_full_and_frozen_adapters(encoder_dir):
    torch.manual_seed(0)
    full = build_model(encoder_dir, "ner", TAGS, adapter="full", dropout=0.25)
    trainable, total = count_parameters(full)
    assert trainable == total > 0
    assert full.config.id2label == dict(enumerate(TAGS)) and full.config.label2id == L2I
    assert full.config.hidden_dropout_prob == full.config.attention_probs_dropout_prob == 0.25
    assert full.dropout.p == 0.25
    frozen = build_model(encoder_dir, "classification", CLASSES, adapter="frozen")
    names = [n for n, p in frozen.named_parameters() if p.requires_grad]
    assert names == ["classifier.weight", "classifier.bias"]
    assert count_parameters(frozen)[0] == (32 + 1) * len(CLASSES)
    assert frozen.config.problem_type == "single_label_classification"
    assert frozen.config.num_labels == 3


def _perturb_trainable(model):
    """Stand-in for training: move every trainable weight (LoRA B starts at zero)."""
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn(p.shape, generator=gen) * 0.5)


def test_lora_trains_few_parameters_and_saves_a_plain_model(ner_dir, tokenizer, tmp_path):
    from transformers import AutoModelForTokenClassification, pipeline

    torch.manual_seed(0)
    model = build_model(ner_dir, "ner", TAGS, adapter="lora", lora_r=2, lora_alpha=4,
                        lora_dropout=0.0)
    trainable, total = count_parameters(model)
    assert 0 < trainable < total / 10
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    assert any("lora_A" in n for n in names) and any("classifier" in n for n in names)
    assert not any("embeddings" in n for n in names)
    _perturb_trainable(model)
    model.eval()
    ids = torch.tensor([tokenizer(["john", "smith", "sat", "in", "paris"],
                                  is_split_into_words=True)["input_ids"]])
    with torch.no_grad():
        lora_logits = model(input_ids=ids).logits
    out = tmp_path / "model"
    save_model(model, tokenizer, out, TAGS)
    assert (out / "model.safetensors").is_file() and not list(out.glob("*.bin"))
    plain = AutoModelForTokenClassification.from_pretrained(out).eval()
    assert plain.config.id2label == dict(enumerate(TAGS))
    assert not any("lora" in n for n, _ in plain.named_parameters())
    with torch.no_grad():
        torch.testing.assert_close(plain(input_ids=ids).logits, lora_logits, atol=1e-5, rtol=0)
        # the peft model is untouched by saving (merged on a copy)
        torch.testing.assert_close(model(input_ids=ids).logits, lora_logits, atol=0, rtol=0)
    base = build_model(ner_dir, "ner", TAGS).eval()
    with torch.no_grad():
        assert not torch.allclose(base(input_ids=ids).logits, lora_logits, atol=1e-3)
    tagger = pipeline("token-classification", model=str(out))
    found = tagger("john smith sat in paris")
    assert found and {f["entity"] for f in found} <= set(TAGS)


def test_lora_classifier_saves_for_text_classification(encoder_dir, tokenizer, tmp_path):
    from transformers import pipeline

    torch.manual_seed(0)
    model = build_model(encoder_dir, "multilabel", CLASSES, adapter="lora", lora_r=2)
    _perturb_trainable(model)
    model.eval()
    save_model(model, tokenizer, tmp_path / "clf", CLASSES)
    classify = pipeline("text-classification", model=str(tmp_path / "clf"), top_k=None)
    scores = {d["label"]: d["score"] for d in classify(["the cat sat on the mat"])[0]}
    enc = tokenizer("the cat sat on the mat", return_tensors="pt")
    with torch.no_grad():
        expected = torch.sigmoid(model(**enc).logits[0])  # multi-label: independent sigmoids
    assert set(scores) == set(CLASSES)
    np.testing.assert_allclose([scores[c] for c in CLASSES], expected.numpy(), atol=1e-5)


def test_lora_with_unknown_target_modules_names_the_key(encoder_dir):
    with pytest.raises(ConfigError, match=r"^lora_target_modules: .*query"):
        build_model(encoder_dir, "ner", TAGS, adapter="lora", lora_target_modules=("qkv",))


def test_bad_arguments_are_config_errors(encoder_dir):
    with pytest.raises(ConfigError, match="task"):
        build_model(encoder_dir, "pos", TAGS)
    with pytest.raises(ConfigError, match="adapter"):
        build_model(encoder_dir, "ner", TAGS, adapter="prefix")
    with pytest.raises(ConfigError, match="duplicates"):
        build_model(encoder_dir, "ner", ["O", "O"])


# ---- finding models ------------------------------------------------------------------------

def test_offline_hub_id_is_a_model_load_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    name = "workbench-tests/no-such-model-7f3a"
    with pytest.raises(ModelLoadError) as err:
        resolve_model(name)
    message = str(err.value)
    assert f"could not download '{name}' (offline?)" in message
    assert '"default"' in message and "local folder" in message and "HF_HOME" in message
    assert isinstance(err.value, WorkbenchError)
    with pytest.raises(ModelLoadError):
        build_model(name, "ner", TAGS)


def test_local_folders(tmp_path, ner_dir):
    assert resolve_model(ner_dir) == str(Path(ner_dir).resolve())
    with pytest.raises(ModelLoadError, match="not found"):
        resolve_model(str(tmp_path / "missing" / "model"))
    with pytest.raises(ModelLoadError, match="config.json"):
        resolve_model(str(tmp_path))
    assert load_tokenizer(ner_dir).is_fast


def test_pickled_weights_are_refused(tmp_path):
    folder = Path(make_tiny_model_dir(tmp_path, WORDS, "ner", TAGS))
    from safetensors.torch import load_file

    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    os.remove(folder / "model.safetensors")
    with pytest.raises(ModelLoadError, match="safetensors"):
        build_model(str(folder), "ner", TAGS)


def test_slow_tokenizers_are_refused(monkeypatch, ner_dir):
    import transformers

    class Slow:
        is_fast = False

    monkeypatch.setattr(transformers.AutoTokenizer, "from_pretrained", lambda *a, **k: Slow())
    with pytest.raises(ModelLoadError, match="fast"):
        load_tokenizer(ner_dir)


def test_bundled_model_loads_as_token_classifier():
    from transformers import BertForTokenClassification

    torch.manual_seed(0)
    tokenizer = load_tokenizer("default")
    model = build_model("default", "ner", TAGS).eval()
    assert isinstance(model, BertForTokenClassification)
    assert model.config.id2label == dict(enumerate(TAGS))
    examples = [TokenExample(("Angela", "Merkel", "visited", "Washington"),
                             ("B-PER", "I-PER", "O", "B-LOC"))]
    windows = encode_ner(tokenizer, examples, L2I, max_length=16, stride=4)
    with torch.no_grad():
        logits = [model(input_ids=torch.tensor([w["input_ids"]])).logits[0].numpy()
                  for w in windows]
    assert logits[0].shape == (len(windows[0]["input_ids"]), len(TAGS))
    (scores,) = merge_windows(windows, logits, [4])
    assert scores.shape == (4, len(TAGS))
