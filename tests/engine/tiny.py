"""Tiny BERT models and tokenizers for fast engine tests (a few thousand parameters, no hub)."""
from __future__ import annotations

import string
from pathlib import Path
from typing import Iterable, Sequence

import torch
from transformers import BertConfig, BertTokenizer, PreTrainedTokenizerFast

SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
_CHARS = string.ascii_lowercase + string.digits + string.punctuation

# The vocabulary and NER tags of the shared tiny-model fixtures (tests/engine/conftest.py).
VOCAB = ["the", "cat", "sat", "on", "mat", "john", "smith", "paris", "london", "acme"]
NER_TAGS = ["O", "B-PER", "I-PER", "B-LOC", "I-LOC"]


def tiny_vocab(words: Iterable[str]) -> list[str]:
    """Special tokens, the lowercased words, then every single character and its ## form."""
    words = [w.lower() for w in words]
    chars = sorted(set(_CHARS) | {c for w in words for c in w if not c.isspace()})
    vocab = list(SPECIAL_TOKENS)
    for token in words + chars + ["##" + c for c in chars]:
        if token and token not in vocab:
            vocab.append(token)
    return vocab


def make_tiny_tokenizer(words: Iterable[str], tmp_path: str | Path) -> PreTrainedTokenizerFast:
    """A lowercasing WordPiece BERT tokenizer whose vocabulary is `words` plus characters.

    Words outside the vocabulary split into single characters ('xyz' -> x ##y ##z).
    """
    folder = Path(tmp_path) / "tiny_tokenizer"
    folder.mkdir(parents=True, exist_ok=True)
    vocab_file = folder / "vocab.txt"
    vocab_file.write_text("\n".join(tiny_vocab(words)) + "\n", encoding="utf-8")
    tokenizer = BertTokenizer(vocab=str(vocab_file), do_lower_case=True,
                              model_max_length=512)
    assert tokenizer.is_fast
    return tokenizer


def make_tiny_model_dir(tmp_path: str | Path, words: Iterable[str], task: str | None = "ner",
                        labels: Sequence[str] = ("O",), hidden: int = 32, layers: int = 2,
                        heads: int = 2, seed: int = 0) -> str:
    """Save a randomly initialised tiny BERT + tokenizer; returns the folder.

    task 'ner' / 'classification' / 'multilabel' saves a model with that head over `labels`
    (like a fine-tuned checkpoint); task None saves a bare encoder (like a pretrained one).
    Initialisation is seeded without touching torch's global RNG.
    """
    from transformers import (BertForSequenceClassification, BertForTokenClassification,
                              BertModel)

    folder = Path(tmp_path) / f"tiny_{task or 'encoder'}_{hidden}x{layers}"
    tokenizer = make_tiny_tokenizer(words, tmp_path)
    labels = list(labels)
    config = BertConfig(vocab_size=len(tokenizer.get_vocab()), hidden_size=hidden,
                        num_hidden_layers=layers, num_attention_heads=heads,
                        intermediate_size=2 * hidden, max_position_embeddings=512,
                        num_labels=len(labels), id2label=dict(enumerate(labels)),
                        label2id={label: i for i, label in enumerate(labels)})
    if task == "classification":
        config.problem_type = "single_label_classification"
    elif task == "multilabel":
        config.problem_type = "multi_label_classification"
    cls = {None: BertModel, "ner": BertForTokenClassification,
           "classification": BertForSequenceClassification,
           "multilabel": BertForSequenceClassification}[task]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = cls(config)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)
