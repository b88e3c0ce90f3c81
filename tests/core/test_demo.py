from __future__ import annotations

import inspect
from collections import Counter, defaultdict

import pytest
from hypothesis import given, settings, strategies as st
from seqeval.metrics.sequence_labeling import get_entities
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression

from core.demo import (DEMOS, SPLITS, TICKET_LABELS, make_demo, make_intent_demo,
                       make_multilabel_demo, make_ner_demo, make_sentiment_demo)
from core.errors import ConfigError
from core.records import TextExample, TokenExample
from core.spans import split_tag, to_spans

TYPES = ("PER", "ORG", "LOC", "MISC")
TEXT_MAKERS = (make_intent_demo, make_sentiment_demo, make_multilabel_demo)


@pytest.fixture(scope="module")
def ner():
    return make_ner_demo()


@pytest.fixture(scope="module")
def intents():
    return make_intent_demo()


def mentions(examples):
    """(type, surface text) of every entity in examples."""
    return [(t, " ".join(e.tokens[a:b])) for e in examples for t, a, b in to_spans(e.tags)]


def assert_valid_iob2(tags):
    for i, tag in enumerate(tags):
        prefix, type_ = split_tag(tag)
        assert prefix in ("O", "B", "I") and (prefix == "O" or type_ in TYPES), tag
        if prefix == "I":
            prev_prefix, prev_type = split_tag(tags[i - 1]) if i else ("O", "")
            assert prev_prefix in ("B", "I") and prev_type == type_, (i, tags)


def assert_valid_tokens(example: TokenExample):
    assert example.tokens and len(example.tokens) == len(example.tags)
    for token in example.tokens:
        assert token and not any(c.isspace() for c in token), repr(token)


def micro_f1(gold_sequences, predicted_sequences):
    tp = fp = fn = 0
    for gold, pred in zip(gold_sequences, predicted_sequences):
        g, p = set(to_spans(gold)), set(to_spans(pred))
        tp, fp, fn = tp + len(g & p), fp + len(p - g), fn + len(g - p)
    return 2 * tp / (2 * tp + fp + fn)


# ------------------------------------------------------------------ determinism and speed

@pytest.mark.parametrize("make", (make_ner_demo,) + TEXT_MAKERS)
def test_same_seed_gives_same_data_and_other_seed_differs(make):
    kw = {"n_sentences": 300} if make is make_ner_demo else {"n_examples": 300}
    a, b, c = make(seed=3, **kw), make(seed=3, **kw), make(seed=4, **kw)
    assert a == b
    assert a != c
    assert set(a) == set(SPLITS)


@pytest.mark.parametrize("make", (make_ner_demo,) + TEXT_MAKERS)
def test_default_size_is_the_size_the_signature_names(make):
    # generation speed is bench/ territory; here: the default builds exactly the number of
    # examples its signature promises, spread over the three splits
    size = next(p.default for n, p in inspect.signature(make).parameters.items()
                if n in ("n_sentences", "n_examples"))
    data = make(seed=11)
    assert sum(len(data[s]) for s in SPLITS) == size
    assert all(data[s] for s in SPLITS)


def test_generators_leave_global_random_state_alone():
    import random

    import numpy as np
    random.seed(5)
    np.random.seed(5)
    before = (random.getstate(), np.random.get_state()[1].copy())
    make_ner_demo(n_sentences=50)
    make_intent_demo(n_examples=100)
    assert random.getstate() == before[0]
    assert (np.random.get_state()[1] == before[1]).all()


# ------------------------------------------------------------------ NER

def test_ner_splits_are_80_10_10_by_document_with_docs_numbered_from_zero(ner):
    sizes = {s: len(ner[s]) for s in SPLITS}
    assert sum(sizes.values()) == 3000
    assert 0.72 <= sizes["train"] / 3000 <= 0.88
    assert 0.05 <= sizes["dev"] / 3000 <= 0.15 and 0.05 <= sizes["test"] / 3000 <= 0.15
    for split in SPLITS:
        docs = [e.doc for e in ner[split]]
        assert docs[0] == 0 and docs == sorted(docs)
        assert set(docs) == set(range(docs[-1] + 1))
        lengths = Counter(docs).values()
        assert max(lengths) <= 15 and sum(lengths) / len(lengths) >= 5


def test_ner_tokens_and_iob2_tags_are_valid(ner):
    for split in SPLITS:
        for example in ner[split]:
            assert_valid_tokens(example)
            assert_valid_iob2(example.tags)


def test_ner_spans_agree_with_seqeval(ner):
    for example in ner["dev"]:
        expected = [(t, a, b + 1) for t, a, b in get_entities(list(example.tags))]
        assert sorted(to_spans(example.tags), key=lambda s: s[1]) == sorted(expected,
                                                                         key=lambda s: s[1])


def test_every_type_is_common_in_every_split(ner):
    for split in SPLITS:
        counts = Counter(t for t, _ in mentions(ner[split]))
        total = sum(counts.values())
        assert total >= len(ner[split])  # about one entity per sentence or more
        for type_ in TYPES:
            assert counts[type_] >= 20 and counts[type_] / total >= 0.08, (split, counts)


def test_many_entities_span_several_tokens(ner):
    found = mentions(ner["train"])
    multi = sum(len(text.split()) > 1 for _, text in found)
    assert multi / len(found) >= 0.2
    for type_ in TYPES:
        assert any(t == type_ and " " in text for t, text in found), type_


def test_some_entity_mentions_are_lower_case(ner):
    found = mentions(ner["train"])
    lower = sum(text == text.lower() and any(c.isalpha() for c in text) for _, text in found)
    assert 0.02 <= lower / len(found) <= 0.12


def test_capitalised_non_entity_tokens_exist(ner):
    # sentence starts, months, weekdays: capitalisation alone must not identify entities
    capitalised_o = Counter(tok for e in ner["train"] for tok, tag in zip(e.tokens, e.tags)
                            if tag == "O" and tok[:1].isupper())
    assert len(capitalised_o) >= 30
    assert {"Monday", "March"} & set(capitalised_o)


def test_some_words_are_tagged_with_different_types(ner):
    types_of = defaultdict(set)
    for e in ner["train"]:
        for tok, tag in zip(e.tokens, e.tags):
            types_of[tok].add(split_tag(tag)[1])
    ambiguous = [tok for tok, types in types_of.items() if len(types - {""}) >= 2]
    assert len(ambiguous) >= 10


def test_test_split_has_partly_unseen_entity_surface_forms(ner):
    seen = set(mentions(ner["train"]))
    found = mentions(ner["test"])
    unseen = sum(m not in seen for m in found) / len(found)
    assert 0.10 <= unseen <= 0.60
    distinct = set(found)
    assert 0.10 <= len(distinct - seen) / len(distinct) <= 0.60


def test_most_frequent_tag_baseline_is_clearly_below_0_9_f1(ner):
    counts = defaultdict(Counter)
    for e in ner["train"]:
        for tok, tag in zip(e.tokens, e.tags):
            counts[tok][tag] += 1
    best = {tok: c.most_common(1)[0][0] for tok, c in counts.items()}
    gold = [e.tags for e in ner["test"]]
    predicted = [[best.get(tok, "O") for tok in e.tokens] for e in ner["test"]]
    # well above chance (the data has structure) yet far from solved by memorising tokens
    assert 0.3 < micro_f1(gold, predicted) < 0.85
    # the same baseline on its own training data is better: generalisation is what is hard
    train_predicted = [[best[tok] for tok in e.tokens] for e in ner["train"]]
    assert micro_f1([e.tags for e in ner["train"]], train_predicted) > micro_f1(gold, predicted)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n=st.integers(10, 200))
def test_ner_any_seed_and_size_gives_valid_documents(seed, n):
    data = make_ner_demo(seed=seed, n_sentences=n)
    assert sum(len(data[s]) for s in SPLITS) == n
    for split in SPLITS:
        assert data[split], split
        assert data[split][0].doc == 0
        for example in data[split]:
            assert isinstance(example, TokenExample)
            assert_valid_tokens(example)
            assert_valid_iob2(example.tags)


@pytest.mark.parametrize("n", (0, 9, -5, 2.5, True))
def test_ner_rejects_too_few_sentences(n):
    with pytest.raises(ConfigError, match="n_sentences"):
        make_ner_demo(n_sentences=n)


# ------------------------------------------------------------------ text classification

@pytest.mark.parametrize("make", TEXT_MAKERS)
def test_text_splits_are_80_10_10_with_clean_non_empty_texts(make):
    data = make(seed=2, n_examples=500)
    assert all(data[s] for s in SPLITS) and sum(len(data[s]) for s in SPLITS) == 500
    assert 0.75 <= len(data["train"]) / 500 <= 0.85
    for split in SPLITS:
        for example in data[split]:
            assert isinstance(example, TextExample)
            assert example.text and example.text == example.text.strip()
            assert "  " not in example.text and "{" not in example.text
            assert example.labels


def test_intents_all_classes_in_all_splits_with_reasonable_balance(intents):
    classes = {e.labels[0] for e in intents["train"]}
    assert len(classes) >= 8
    for split in SPLITS:
        assert all(len(e.labels) == 1 for e in intents[split])
        counts = Counter(e.labels[0] for e in intents[split])
        assert set(counts) == classes, split
        assert max(counts.values()) / min(counts.values()) <= 2.5
    total = Counter(e.labels[0] for s in SPLITS for e in intents[s])
    for label, count in total.items():  # stratified: each split holds ~10% of each class
        assert abs(Counter(e.labels[0] for e in intents["test"])[label] - count / 10) <= 2


def test_intents_have_noise_typos_and_casing_variety(intents):
    texts = [e.text for e in intents["train"]]
    assert sum(t == t.lower() for t in texts) / len(texts) < 0.8
    assert any(t == t.upper() and any(c.isalpha() for c in t) for t in texts)
    vocabulary = Counter(w for t in texts for w in t.lower().split())
    assert sum(1 for c in vocabulary.values() if c == 1) >= 100  # typos make rare words


def test_bag_of_words_learns_intents_without_test_copying_train(intents):
    train_texts = [e.text for e in intents["train"]]
    vectoriser = CountVectorizer(ngram_range=(1, 2))
    model = LogisticRegression(max_iter=2000)
    model.fit(vectoriser.fit_transform(train_texts), [e.labels[0] for e in intents["train"]])
    test_texts = [e.text for e in intents["test"]]
    predicted = model.predict(vectoriser.transform(test_texts))
    accuracy = (predicted == [e.labels[0] for e in intents["test"]]).mean()
    assert accuracy >= 0.85
    train_set = set(train_texts)
    assert sum(t in train_set for t in test_texts) / len(test_texts) < 0.3


def test_sentiment_has_three_stratified_classes():
    data = make_sentiment_demo()
    for split in SPLITS:
        counts = Counter(e.labels for e in data[split])
        assert set(counts) == {("positive",), ("negative",), ("neutral",)}
        assert counts.most_common(1)[0][0] == ("neutral",)
        assert min(counts.values()) / len(data[split]) >= 0.2


def test_multilabel_cardinality_and_label_coverage():
    data = make_multilabel_demo()
    for split in SPLITS:
        sizes = Counter(len(e.labels) for e in data[split])
        assert set(sizes) == {1, 2, 3}
        for e in data[split]:
            assert e.labels == tuple(sorted(set(e.labels), key=TICKET_LABELS.index))
            assert e.labels != ("urgent",)
        assert {label for e in data[split] for label in e.labels} == set(TICKET_LABELS)
    mean = sum(len(e.labels) for e in data["train"]) / len(data["train"])
    assert 1.3 <= mean <= 2.0


@pytest.mark.parametrize("make,n", [(make_intent_demo, 99), (make_sentiment_demo, 29),
                                    (make_multilabel_demo, 0)])
def test_text_generators_reject_too_few_examples(make, n):
    with pytest.raises(ConfigError, match="n_examples"):
        make(n_examples=n)


# ------------------------------------------------------------------ catalogue

def test_demos_catalogue_describes_each_generator():
    assert set(DEMOS) == {"demo-ner", "demo-intent", "demo-sentiment", "demo-multilabel",
                          "demo-recommendation"}
    record_type = {"ner": TokenExample, "classification": TextExample, "multilabel": TextExample}
    for name, entry in DEMOS.items():
        assert entry["name"] == name and entry["description"]
        small = {"demo-ner": {"n_sentences": 30},
                 "demo-recommendation": {"n_users": 60, "n_items": 200}}
        data = entry["make"](seed=1, **small.get(name, {"n_examples": 100}))
        assert all(isinstance(e, record_type[entry["task"]]) for s in SPLITS for e in data[s])
        multi = any(len(e.labels) > 1 for s in SPLITS for e in data[s]) \
            if entry["task"] != "ner" else False
        assert multi == (entry["task"] == "multilabel")


def test_make_demo_forwards_seed_and_sizes_and_rejects_unknown_names():
    assert make_demo("demo-ner", seed=7, n_sentences=40) == make_ner_demo(seed=7, n_sentences=40)
    assert make_demo("demo-intent", 2, n_examples=120) == make_intent_demo(seed=2,
                                                                          n_examples=120)
    with pytest.raises(ConfigError, match="demo-ner"):
        make_demo("demo-nope")


def test_every_ner_template_slot_has_a_filler():
    from core.demo import ner_templates as demo
    known = set(demo.FILLERS) | set(demo.PERSON_FORMS) | set(demo.POOL_SLOTS) | {
        "CO", "ORG", "LOC"}
    templates = [t for group in (demo.BODY_T, demo.HEADLINE_T) for ts in group.values()
                 for t in ts]
    slots = {value for t in templates for kind, value, _ in t if kind == "slot"}
    assert slots <= known, slots - known
    # every entity slot kind and most fillers are used by some template
    assert {"PER", "CO", "ORG", "TEAM", "LOC", "NAT", "LANG", "EVENT", "PRODUCT"} <= slots


def test_short_names_as_run_configs_write_them():
    assert make_demo("ner", seed=3) == make_demo("demo-ner", seed=3)
    with pytest.raises(ConfigError, match="unknown demo dataset 'nope'"):
        make_demo("nope")


# ------------------------------------------------------------------ no template syntax escapes

BRACES = ("{", "}")


def _surface(example) -> list[str]:
    """Every string of an example a user sees: tokens and tags, or the text and labels."""
    if isinstance(example, TokenExample):
        return [*example.tokens, *example.tags]
    return [example.text, *example.labels]


def _leaks(data) -> list[str]:
    return [s for split in data.values() for ex in split for s in _surface(ex)
            if any(b in s for b in BRACES)]


@settings(max_examples=30, deadline=None)
@given(name=st.sampled_from(sorted(DEMOS)), seed=st.integers(0, 2**31 - 1))
def test_no_demo_text_or_token_holds_template_syntax(name, seed):
    # every demo the catalogue makes, at its default size (the size the Data page shows)
    leaks = _leaks(make_demo(name, seed=seed))
    assert not leaks, leaks[:3]


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31 - 1),
       method=st.sampled_from(("token_replacement.v1", "mention_replacement.v1")))
def test_augmenting_the_ner_demo_brings_no_template_syntax_back(seed, method):
    # the Data page's augmentation preview: replacement draws its tokens and mentions from
    # train, so a placeholder left in the demo would come back in the "after" column too
    from core.augment import augment

    train = make_ner_demo(seed=seed % 50)["train"]
    result = augment(train[:300], method, seed=seed, p=0.5, n=1, train=train)
    assert result.examples
    leaks = [s for ex in result.examples for s in _surface(ex) if any(b in s for b in BRACES)]
    assert not leaks, leaks[:3]


def test_the_goal_minute_is_an_ordinal_number():
    # the sentence the issue quoted: "Kang, who scored in the {NUM}th minute"
    found = [e.tokens for s in SPLITS for e in make_ner_demo(seed=0)[s]
             if "scored" in e.tokens and "minute" in e.tokens]
    assert found
    import re
    for tokens in found:
        minute = tokens[tokens.index("minute") - 1]
        assert re.fullmatch(r"\d{1,2}(st|nd|rd|th)", minute), tokens


@pytest.mark.parametrize("n, text", [(1, "1st"), (2, "2nd"), (3, "3rd"), (4, "4th"),
                                     (11, "11th"), (12, "12th"), (13, "13th"), (21, "21st"),
                                     (42, "42nd"), (63, "63rd"), (90, "90th"), (111, "111th")])
def test_ordinal(n, text):
    from core.demo.ner_templates import ordinal
    assert ordinal(n) == text


@pytest.mark.parametrize("line", ["{PERL} scored in the {NUM}th minute",
                                  "the {Num} points", "a {CITY:upper}! sign", "odd } brace"])
def test_ner_template_with_text_glued_to_a_slot_is_refused(line):
    from core.demo.ner_templates import _parse_template
    with pytest.raises(ValueError, match="is not a slot"):
        _parse_template(line)


def test_every_ner_template_token_is_a_slot_or_a_brace_free_literal():
    from core.demo import ner_templates as demo
    for group in (demo.BODY_T, demo.HEADLINE_T):
        for templates in group.values():
            for template in templates:
                for kind, value, _ in template:
                    assert kind == "slot" or not any(b in value for b in BRACES), template


def test_text_fill_refuses_a_placeholder_it_cannot_fill():
    import random

    from core.demo.common import Pool
    from core.demo.text import fill
    fillers = {"a": Pool(("{b}",)), "b": Pool(("{c}",)), "c": Pool(("{d}",)),
               "d": Pool(("x",))}
    assert fill(random.Random(0), "say {b}", fillers, 0.0) == "say x"
    with pytest.raises(ValueError, match="brace"):
        fill(random.Random(0), "say {a}", fillers, 0.0)  # nested deeper than two levels
    with pytest.raises(ValueError, match="no filler"):
        fill(random.Random(0), "say {nope}", fillers, 0.0)
    with pytest.raises(ValueError, match="brace"):
        fill(random.Random(0), "say { b}", fillers, 0.0)


# ------------------------------------------------------------------ pinned content

# sha256 of each demo at seed 0 as written by core.formats.write_jsonl: runs name demo data
# by reference ("demo:ner"), so a change to a generator changes the data of every such run
# and its resume. Change a pin only on purpose, and say so (the goal-minute fix, which
# replaced the literal token "{NUM}th" by an ordinal in the 32 sentences of demo-ner seed 0
# that held it and left every other sentence, and the other demos, as they were, is the last
# such change).
DEMO_SHA256 = {
    "demo-ner": "2669fbc88af906da5e294f255ccc2685de803b4d0fe3778dda31e4f696b24c5c",
    "demo-intent": "df9c5868c4fef386d6710f39703f9b9feab568b28f4b06e8138bf74867a7cd3c",
    "demo-sentiment": "060bd3189c0179b5ea9d0a1f204ab340a49c863836e9d2cdcb9d85c06329601f",
    "demo-multilabel": "81f23212194a2ad40329d82b07f7ec77694107600f8c5718a0cdf587178f23e8",
}


@pytest.mark.parametrize("name", sorted(DEMO_SHA256))
def test_demo_content_is_pinned(name):
    import hashlib

    from core.formats import write_jsonl
    data = make_demo(name, seed=0)
    digest = hashlib.sha256()
    for split in SPLITS:
        digest.update(split.encode() + b"\0" + write_jsonl(data[split]).encode("utf-8"))
    assert digest.hexdigest() == DEMO_SHA256[name]
