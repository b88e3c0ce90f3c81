from collections import Counter

import pytest
from hypothesis import given, settings, strategies as st

from core.augment import AUGMENTERS, AugmentResult, Change, augment, augment_many
from core.errors import ConfigError
from core.records import TextExample, TokenExample
from core.spans import SCHEMES, from_spans, to_spans

TYPES = ["PER", "LOC", "ORG"]
VOCAB = ["the", "a", "cat", "sat", "on", "mat", "John", "Smith", "Paris", "New", "York", "Acme"]
SYNONYMS = {"cat": ["dog", "big cat"], "Paris": ["City of Light", "Lutetia"], "the": ["this"],
            "John": ["Johnny Boy"], "mat": ["rug"], "sat": ["sat"]}
NER = ["token_replacement.v1", "mention_replacement.v1", "shuffle_within_segments.v1",
       "synonym_replacement.v1"]
SAME_LENGTH = {"token_replacement.v1", "shuffle_within_segments.v1"}


@st.composite
def sentences(draw, scheme):
    """A TokenExample with random tokens and random spans encoded in `scheme`."""
    length = draw(st.integers(1, 8))
    tokens = tuple(draw(st.lists(st.sampled_from(VOCAB), min_size=length, max_size=length)))
    cuts = sorted(draw(st.sets(st.integers(0, length), max_size=6)))
    spans = [(draw(st.sampled_from(TYPES)), a, b) for a, b in zip(cuts, cuts[1:])
             if draw(st.booleans())]
    return TokenExample(tokens, from_spans(spans, length, scheme), doc=draw(st.integers(0, 3)))


@st.composite
def corpora(draw):
    scheme = draw(st.sampled_from(SCHEMES))
    return scheme, draw(st.lists(sentences(scheme), min_size=1, max_size=6))


def entity_counts(tags):
    return Counter(type_ for type_, _, _ in to_spans(tags))


def labels_of(tags):
    labels = [None] * len(tags)
    for type_, a, b in to_spans(tags):
        labels[a:b] = [type_] * (b - a)
    return labels


def segments(example):
    """[a, b) of every entity span and every maximal O run, in order."""
    cuts = {0, len(example.tokens)} | {x for _, a, b in to_spans(example.tags) for x in (a, b)}
    bounds = sorted(cuts)
    return list(zip(bounds, bounds[1:]))


def run(examples, method, **params):
    """augment(), checking that the input list is left as it was."""
    snapshot = list(examples)
    result = augment(examples, method, **params)
    assert examples == snapshot and all(a is b for a, b in zip(examples, snapshot))
    assert isinstance(result, AugmentResult)
    assert len(result.examples) == len(result.changes)
    return result


@settings(max_examples=150, deadline=None)
@given(corpora(), st.sampled_from(NER), st.integers(0, 2**32), st.floats(0.05, 1.0),
       st.integers(1, 3))
def test_ner_output_valid_in_scheme_counts_kept_and_changes_consistent(
        corpus, method, seed, p, n):
    scheme, examples = corpus
    result = run(examples, method, seed=seed, p=p, n=n, scheme=scheme, synonyms=SYNONYMS)
    assert len(result.examples) <= n * len(examples)
    for new, change in zip(result.examples, result.changes):
        src = examples[change.source_index]
        assert change.method == method
        assert new != src and new.doc == src.doc
        assert len(new.tokens) == len(new.tags) >= 1
        assert all(isinstance(t, str) and t for t in new.tokens)
        assert from_spans(to_spans(new.tags), len(new.tags), scheme) == new.tags
        assert entity_counts(new.tags) == entity_counts(src.tags)
        assert list(change.positions) == sorted(set(change.positions))
        assert all(0 <= j < len(new.tokens) for j in change.positions)
        assert tuple(new.tokens[j] for j in change.positions) == change.after
        assert change.after
        if method in SAME_LENGTH:
            assert new.tags == src.tags
            assert change.before == tuple(src.tokens[j] for j in change.positions)
            assert all(new.tokens[j] != src.tokens[j] for j in change.positions)
            assert all(new.tokens[j] == src.tokens[j]
                       for j in range(len(src.tokens)) if j not in change.positions)
        else:
            assert len(new.tokens) == len(src.tokens) - len(change.before) + len(change.after)


@settings(max_examples=100, deadline=None)
@given(corpora(), st.integers(0, 2**32))
def test_token_replacement_draws_same_label_tokens_from_train(corpus, seed):
    scheme, examples = corpus
    train = examples[::-1] + [TokenExample(("Zed", "zz"), from_spans([("PER", 0, 1)], 2, scheme))]
    pool = {(t, lab) for ex in train for t, lab in zip(ex.tokens, labels_of(ex.tags))}
    result = run(examples, "token_replacement.v1", seed=seed, p=0.7, n=2, scheme=scheme,
                 train=train)
    for new, change in zip(result.examples, result.changes):
        labels = labels_of(new.tags)
        assert all((new.tokens[j], labels[j]) in pool for j in change.positions)


@settings(max_examples=100, deadline=None)
@given(corpora(), st.integers(0, 2**32), st.sampled_from(["frequency", "uniform"]))
def test_mention_replacement_draws_same_type_mentions_from_train(corpus, seed, sampling):
    scheme, examples = corpus
    mentions = {(t, ex.tokens[a:b]) for ex in examples for t, a, b in to_spans(ex.tags)}
    result = run(examples, "mention_replacement.v1", seed=seed, p=0.8, scheme=scheme,
                 sampling=sampling)
    for new, change in zip(result.examples, result.changes):
        src = examples[change.source_index]
        new_mentions = [(t, new.tokens[a:b]) for t, a, b in to_spans(new.tags)]
        assert set(new_mentions) <= mentions
        # O tokens untouched, in order
        outside = [t for t, lab in zip(src.tokens, labels_of(src.tags)) if lab is None]
        assert [t for t, lab in zip(new.tokens, labels_of(new.tags)) if lab is None] == outside


@settings(max_examples=100, deadline=None)
@given(corpora(), st.integers(0, 2**32))
def test_shuffle_keeps_the_words_of_every_segment(corpus, seed):
    scheme, examples = corpus
    result = run(examples, "shuffle_within_segments.v1", seed=seed, p=1.0, scheme=scheme)
    for new, change in zip(result.examples, result.changes):
        src = examples[change.source_index]
        for a, b in segments(src):
            assert sorted(new.tokens[a:b]) == sorted(src.tokens[a:b])
    # p=1: every sentence with a segment of two different words yields a changed copy
    shufflable = [ex for ex in examples
                  if any(len(set(ex.tokens[a:b])) > 1 for a, b in segments(ex))]
    assert len(result.examples) == len(shufflable)


@settings(max_examples=100, deadline=None)
@given(corpora(), st.sampled_from(NER + ["eda.v1"]), st.integers(0, 2**32), st.integers(1, 3))
def test_p_zero_yields_nothing_and_same_seed_same_output(corpus, method, seed, n):
    scheme, examples = corpus
    if method == "eda.v1":
        examples = [TextExample(" ".join(ex.tokens), ("x",)) for ex in examples]
        zero = dict(alpha_sr=0, alpha_ri=0, alpha_rs=0, alpha_rd=0)
    else:
        zero = dict(p=0.0)
    params = dict(scheme=scheme, synonyms=SYNONYMS, n=n)
    assert run(examples, method, seed=seed, **params, **zero) == AugmentResult([], [])
    first = run(examples, method, seed=seed, p=0.5, **params)
    again = run(examples, method, seed=seed, p=0.5, **params)
    assert first == again


@pytest.mark.parametrize("method", NER + ["eda.v1"])
def test_different_seeds_give_different_output(method):
    sents = [("John", "Smith", "sat", "on", "the", "mat", "in", "Paris"),
             ("the", "cat", "sat", "with", "Acme", "Corp", "staff"),
             ("New", "York", "is", "not", "Paris", "said", "John")]
    spans = [[("PER", 0, 2), ("LOC", 7, 8)], [("ORG", 4, 6)], [("LOC", 0, 2), ("LOC", 4, 5),
                                                                ("PER", 6, 7)]]
    examples = [TokenExample(t, from_spans(s, len(t), "IOB2")) for t, s in zip(sents, spans)]
    if method == "eda.v1":
        examples = [TextExample(" ".join(ex.tokens), ("x",)) for ex in examples]
    outputs = [augment(examples, method, seed=seed, p=0.5, n=3, synonyms=SYNONYMS).examples
               for seed in range(3)]
    assert outputs[0] and outputs[0] != outputs[1] and outputs[1] != outputs[2]


def test_n_zero_yields_nothing_and_empty_sentences_are_skipped():
    ex = [TokenExample(("a", "b"), ("O", "O")), TokenExample((), ())]
    assert augment(ex, "shuffle_within_segments.v1", seed=0, p=1.0, n=0).examples == []
    result = augment(ex, "shuffle_within_segments.v1", seed=0, p=1.0, n=2)
    assert [c.source_index for c in result.changes] == [0, 0]
    assert all(e.tokens == ("b", "a") for e in result.examples)


# --- synonym replacement: multi-word synonyms tagged in the scheme ---------------------------

@pytest.mark.parametrize("scheme, loc, per", [
    ("IOB2", ["B-LOC", "I-LOC", "I-LOC"], ["B-PER", "I-PER"]),
    ("IOBES", ["B-LOC", "I-LOC", "E-LOC"], ["B-PER", "E-PER"]),
    ("BILOU", ["B-LOC", "I-LOC", "L-LOC"], ["B-PER", "L-PER"]),
])
def test_multi_word_synonyms_get_scheme_tags(scheme, loc, per):
    tokens = ("I", "flew", "to", "NYC", "with", "Ann", "Lee")
    src = TokenExample(tokens, from_spans([("LOC", 3, 4), ("PER", 5, 7)], 7, scheme), line=12)
    table = {"NYC": ["New York City"], "flew": ["went by plane"], "Ann": ["Annie"]}
    result = augment([src], "synonym_replacement.v1", seed=0, p=1.0, scheme=scheme,
                     synonyms=table)
    (new,), (change,) = result.examples, result.changes
    # "Ann" sits inside a two-token mention, so it stays
    assert new.tokens == ("I", "went", "by", "plane", "to", "New", "York", "City", "with",
                          "Ann", "Lee")
    assert list(new.tags) == ["O"] * 5 + loc + ["O"] + per
    assert new.line == 12
    assert change == Change(0, "synonym_replacement.v1", (1, 2, 3, 5, 6, 7), ("flew", "NYC"),
                            ("went", "by", "plane", "New", "York", "City"))


def test_synonym_inside_adjacent_iob1_entities_keeps_the_boundary():
    src = TokenExample(("Paris", "London", "calling"), ("I-LOC", "B-LOC", "O"))
    result = augment([src], "synonym_replacement.v1", seed=3, p=1.0, scheme="IOB1",
                     synonyms={"Paris": ["Gay Paree"]})
    assert result.examples[0].tokens == ("Gay", "Paree", "London", "calling")
    assert result.examples[0].tags == ("I-LOC", "I-LOC", "B-LOC", "O")


def test_synonym_equal_to_the_token_is_no_change():
    src = TokenExample(("sat",), ("O",))
    assert augment([src], "synonym_replacement.v1", seed=0, p=1.0, n=5,
                   synonyms={"sat": ["sat"]}).examples == []


# --- sampling distributions -----------------------------------------------------------------

def test_token_replacement_samples_by_training_frequency_without_the_token_itself():
    train = [TokenExample(("a", "a", "a", "b", "x", "Bob"), ("O",) * 5 + ("B-PER",))]
    drawn = augment([TokenExample(("x",), ("O",))], "token_replacement.v1", seed=1, p=1.0,
                    n=4000, train=train).examples
    counts = Counter(ex.tokens[0] for ex in drawn)
    assert set(counts) == {"a", "b"} and len(drawn) == 4000
    assert 0.72 < counts["a"] / 4000 < 0.78
    # a PER token has no other PER token in train: never replaced
    assert augment([TokenExample(("Bob",), ("B-PER",))], "token_replacement.v1", seed=1,
                   p=1.0, n=50, train=train).examples == []


@pytest.mark.parametrize("sampling, share", [("frequency", 0.75), ("uniform", 0.5)])
def test_mention_replacement_sampling(sampling, share):
    train = [TokenExample(("Ann",), ("B-PER",))] * 3 + [
        TokenExample(("Bob", "Lee", "ran"), ("B-PER", "I-PER", "O"))]
    src = TokenExample(("Cy", "ran"), ("U-PER", "O"))
    result = augment([src], "mention_replacement.v1", seed=2, p=1.0, n=4000, train=train,
                     scheme="BILOU", sampling=sampling)
    counts = Counter(ex.tokens for ex in result.examples)
    assert set(counts) == {("Ann", "ran"), ("Bob", "Lee", "ran")}
    assert abs(counts[("Ann", "ran")] / 4000 - share) < 0.03
    long = next(ex for ex in result.examples if len(ex.tokens) == 3)
    assert long.tags == ("B-PER", "L-PER", "O")


# --- EDA -------------------------------------------------------------------------------------

@st.composite
def texts(draw):
    words = draw(st.lists(st.sampled_from(VOCAB), min_size=1, max_size=10))
    return TextExample(" ".join(words), tuple(draw(st.sets(st.sampled_from("xyz"), min_size=1))))


@settings(max_examples=150, deadline=None)
@given(st.lists(texts(), min_size=1, max_size=5), st.integers(0, 2**32),
       st.tuples(*[st.sampled_from([0.0, 0.1, 0.5, 1.0])] * 4), st.integers(1, 4))
def test_eda_properties(examples, seed, alphas, n):
    params = dict(zip(("alpha_sr", "alpha_ri", "alpha_rs", "alpha_rd"), alphas))
    result = run(examples, "eda.v1", seed=seed, n=n, synonyms=SYNONYMS, **params)
    assert result == augment(examples, "eda.v1", seed=seed, n=n, synonyms=SYNONYMS, **params)
    for new, change in zip(result.examples, result.changes):
        src = examples[change.source_index]
        old, words = src.text.split(), new.text.split()
        op = change.method.removeprefix("eda.v1:")
        assert params["alpha_" + {"synonym_replacement": "sr", "random_insertion": "ri",
                                  "random_swap": "rs", "random_deletion": "rd"}[op]] > 0
        assert new.labels == src.labels and words and words != old
        assert new.text == " ".join(words)
        assert tuple(words[j] for j in change.positions) == change.after
        kept = [w for j, w in enumerate(words) if j not in change.positions]
        if op == "random_deletion":
            assert change.positions == () and change.after == ()
            assert len(words) == len(old) - len(change.before)
            it = iter(old)
            assert all(w in it for w in words)  # a subsequence of the source
        elif op == "random_swap":
            assert sorted(words) == sorted(old) and change.before != change.after
        elif op == "random_insertion":
            assert kept == old and change.before == ()
        else:
            assert len(words) == len(old) - len(change.before) + len(change.after)
            assert set(change.before) <= set(SYNONYMS)


def test_eda_each_operation_on_a_fixed_seed():
    text = TextExample("the quick dog barks", ("pos",))
    only = dict(alpha_sr=0.0, alpha_ri=0.0, alpha_rs=0.0, alpha_rd=0.0)
    table = {"quick": ["fast"], "dog": ["good boy"]}

    sr = augment([text], "eda.v1", seed=5, synonyms=table, **{**only, "alpha_sr": 1.0})
    assert [e.text for e in sr.examples] == ["the fast good boy barks"]
    assert sr.changes == [Change(0, "eda.v1:synonym_replacement", (1, 2, 3),
                                 ("quick", "dog"), ("fast", "good", "boy"))]

    rd = augment([text], "eda.v1", seed=5, n=20, **{**only, "alpha_rd": 1.0})
    assert len(rd.examples) == 20  # everything would go: one word is always kept
    for new, change in zip(rd.examples, rd.changes):
        assert len(new.text.split()) == 1 and len(change.before) == 3
        assert sorted(change.before + (new.text,)) == sorted(text.text.split())

    rs = augment([TextExample("left right", ("pos",))], "eda.v1", seed=5,
                 **{**only, "alpha_rs": 0.5})
    assert rs.examples == [TextExample("right left", ("pos",))]
    assert rs.changes[0].positions == (0, 1)

    ri = augment([TextExample("cat", ("pos",))], "eda.v1", seed=5, n=10,
                 synonyms={"cat": ["feline"]}, **{**only, "alpha_ri": 0.1})
    assert {e.text for e in ri.examples} == {"feline cat", "cat feline"}
    assert all(c.after == ("feline",) and c.before == () for c in ri.changes)
    no_table = augment([TextExample("cat", ("pos",))], "eda.v1", seed=5,
                       **{**only, "alpha_ri": 1.0})
    assert no_table.examples == [TextExample("cat cat", ("pos",))]


def test_eda_on_a_single_word_never_deletes_it():
    result = augment([TextExample("alone", ("x",))], "eda.v1", seed=0, n=10,
                     alpha_sr=0, alpha_ri=0, alpha_rs=1.0, alpha_rd=1.0)
    assert result.examples == []


# --- augment / augment_many and errors -------------------------------------------------------

def test_registry_holds_every_method():
    assert set(NER + ["eda.v1"]) <= set(AUGMENTERS.names())


def test_augment_many_concatenates_steps_with_spawned_seeds():
    ex = [TokenExample(("John", "sat", "on", "the", "mat"), ("B-PER", "O", "O", "O", "O")),
          TokenExample(("a", "cat", "in", "Paris"), ("O", "O", "O", "S-LOC"))]
    steps = [{"name": "shuffle_within_segments.v1", "p": 1.0, "scheme": "IOBES"},
             {"name": "synonym_replacement.v1", "p": 1.0, "synonyms": SYNONYMS, "scheme": "IOBES"}]
    both = augment_many(ex, steps, seed=7)
    first = augment_many(ex, steps[:1], seed=7)
    assert both.examples[:len(first.examples)] == first.examples
    assert [c.method for c in both.changes] == (
        ["shuffle_within_segments.v1"] * len(first.examples)
        + ["synonym_replacement.v1"] * (len(both.examples) - len(first.examples)))
    assert len(both.examples) > len(first.examples) > 0
    twice = augment_many(ex, [steps[0], steps[0]], seed=7)
    half = len(twice.examples) // 2
    assert twice.examples[:half] != twice.examples[half:]
    assert augment_many(ex, steps, seed=7) == both
    assert steps[0] == {"name": "shuffle_within_segments.v1", "p": 1.0, "scheme": "IOBES"}


@pytest.mark.parametrize("call, pattern", [
    (lambda ex: augment(ex, "token_replacement.v1", seed=0, alpha=0.1),
     r"'alpha'.*'token_replacement\.v1'"),
    (lambda ex: augment(ex, "eda.v1", seed=0, alpha_sx=0.1), r"'alpha_sx'.*'eda\.v1'"),
    (lambda ex: augment(ex, "nope.v1", seed=0), r"unknown augmenter 'nope\.v1'"),
    (lambda ex: augment(ex, "synonym_replacement.v1", seed=0), "needs a synonym table"),
    (lambda ex: augment(ex, "synonym_replacement.v1", seed=0, synonyms={"NYC": "New York"}),
     r"synonyms\['NYC'\] must be a list"),
    (lambda ex: augment(ex, "synonym_replacement.v1", seed=0, synonyms={"New York": ["NY"]}),
     "one word"),
    (lambda ex: augment(ex, "synonym_replacement.v1", seed=0, synonyms={"a": [" "]}),
     "non-empty"),
    (lambda ex: augment(ex, "eda.v1", seed=0), r"eda\.v1 augments text classification"),
    (lambda ex: augment(ex, "shuffle_within_segments.v1", seed=0, p=1.5), "p must be"),
    (lambda ex: augment(ex, "shuffle_within_segments.v1", seed=0, n=-1), "n "),
    (lambda ex: augment(ex, "shuffle_within_segments.v1", seed=None), "seed"),
    (lambda ex: augment(ex, "shuffle_within_segments.v1", seed=0, scheme="BIO"), "BIO"),
    (lambda ex: augment(ex, "mention_replacement.v1", seed=0, sampling="zipf"), "sampling"),
    (lambda ex: augment(ex, "token_replacement.v1", seed=0, train=[TextExample("a", ("x",))]),
     r"train\[0\] is a TextExample"),
    (lambda ex: augment_many(ex, [{"p": 0.1}], seed=0), "step 1 needs a 'name'"),
    (lambda ex: augment_many(ex, [{"name": "eda.v1", "seed": 3}], seed=0), "sets 'seed'"),
])
def test_user_errors_are_config_errors(call, pattern):
    with pytest.raises(ConfigError, match=pattern):
        call([TokenExample(("a", "NYC"), ("O", "B-LOC"))])
