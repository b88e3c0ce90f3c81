"""Tokenise once: cached features equal fresh ones; any input change is a new key."""
import gzip

from core.records import TokenExample
from engine import featcache
from tests.engine.tiny import make_tiny_tokenizer

EXAMPLES = [TokenExample(("Anna", "lives", "in", "Oslo"), ("B-PER", "O", "O", "B-LOC")),
            TokenExample(("Hi",), ("O",))]
LABELS = {"O": 0, "B-PER": 1, "B-LOC": 2}


def test_cache_returns_what_was_computed_and_skips_the_second_computation(tmp_path):
    tok = make_tiny_tokenizer(["anna", "lives", "in", "oslo", "hi"], tmp_path / "tok")
    calls = []

    def compute():
        calls.append(1)
        return [{"input_ids": [2, 5, 3], "labels": [-100, 1, -100], "word_ids": [None, 0, None]}]

    key = featcache.feature_key(tok, EXAMPLES, LABELS, {"max_length": 32})
    first = featcache.cached(tmp_path / "c", key, compute)
    second = featcache.cached(tmp_path / "c", key, compute)
    assert first == second and len(calls) == 1


def test_key_changes_with_data_labels_parameters_and_tokenizer(tmp_path):
    tok = make_tiny_tokenizer(["anna", "oslo"], tmp_path / "a")
    other = make_tiny_tokenizer(["anna", "oslo", "bergen"], tmp_path / "b")
    base = featcache.feature_key(tok, EXAMPLES, LABELS, {"max_length": 32})
    assert base == featcache.feature_key(tok, list(EXAMPLES), dict(LABELS), {"max_length": 32})
    changed = [
        featcache.feature_key(tok, EXAMPLES[:1], LABELS, {"max_length": 32}),
        featcache.feature_key(tok, EXAMPLES, {**LABELS, "I-PER": 3}, {"max_length": 32}),
        featcache.feature_key(tok, EXAMPLES, LABELS, {"max_length": 64}),
        featcache.feature_key(other, EXAMPLES, LABELS, {"max_length": 32}),
        featcache.feature_key(tok, [TokenExample(("Anna",), ("O",))] + EXAMPLES[1:], LABELS,
                              {"max_length": 32}),
    ]
    assert base not in changed and len(set(changed)) == len(changed)


def test_damaged_cache_file_is_recomputed(tmp_path):
    (tmp_path / "k.json.gz").write_bytes(gzip.compress(b"{not json"))
    assert featcache.cached(tmp_path, "k", lambda: [{"x": 1}]) == [{"x": 1}]
    assert featcache.cached(tmp_path, "k", lambda: [{"x": 2}]) == [{"x": 1}]
    assert featcache.cached(None, "k", lambda: [{"x": 3}]) == [{"x": 3}]
