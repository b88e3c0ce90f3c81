"""Tiny-model fixtures shared by the encoding and model tests: a WordPiece tokenizer over
tiny.VOCAB and randomly initialised tiny BERT folders, built once per test module."""
from __future__ import annotations

import pytest

from tests.engine.tiny import NER_TAGS, VOCAB, make_tiny_model_dir, make_tiny_tokenizer


@pytest.fixture(scope="module")
def tiny_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("tiny")


@pytest.fixture(scope="module")
def tokenizer(tiny_dir):
    return make_tiny_tokenizer(VOCAB, tiny_dir)


@pytest.fixture(scope="module")
def ner_dir(tiny_dir):
    return make_tiny_model_dir(tiny_dir, VOCAB, "ner", NER_TAGS[:3])


@pytest.fixture(scope="module")
def encoder_dir(tiny_dir):
    return make_tiny_model_dir(tiny_dir, VOCAB, None)
