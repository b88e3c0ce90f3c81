import pytest
from hypothesis import given, settings, strategies as st
from seqeval.metrics.sequence_labeling import get_entities

from core.registry import Registry
from core.errors import ConfigError
from core.spans import SCHEMES, from_spans, split_tag, to_spans

TYPES = ["PER", "LOC", "ORG"]


@st.composite
def span_sets(draw):
    """Random non-overlapping spans over a sentence of random length."""
    length = draw(st.integers(0, 25))
    cuts = sorted(draw(st.sets(st.integers(0, length), max_size=12)))
    spans = []
    for a, b in zip(cuts, cuts[1:]):
        if draw(st.booleans()):
            spans.append((draw(st.sampled_from(TYPES)), a, b))
    return spans, length


@settings(max_examples=300, deadline=None)
@given(span_sets(), st.sampled_from([s for s in SCHEMES if s != "PLAIN"]))
def test_from_spans_round_trips_in_every_prefixed_scheme(case, scheme):
    spans, length = case
    assert to_spans(from_spans(spans, length, scheme)) == spans


@settings(max_examples=200, deadline=None)
@given(span_sets())
def test_plain_scheme_merges_only_adjacent_same_type(case):
    spans, length = case
    decoded = to_spans(from_spans(spans, length, "PLAIN"))
    covered = {i: t for t, a, b in spans for i in range(a, b)}
    assert {i: t for t, a, b in decoded for i in range(a, b)} == covered
    assert len(decoded) <= len(spans)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["O", "B-PER", "I-PER", "B-LOC", "I-LOC", "E-PER", "S-LOC"]),
                max_size=20))
def test_to_spans_matches_seqeval_default_mode(tags):
    expected = [(t, a, b + 1) for t, a, b in get_entities(list(tags))]
    assert to_spans(tags) == expected


def test_split_tag_and_plain_labels():
    assert split_tag("B-geo-loc") == ("B", "geo-loc")
    assert split_tag("O") == ("O", "")
    assert split_tag("PER") == ("I", "PER")
    assert to_spans(["PER", "PER", "O", "LOC"]) == [("PER", 0, 2), ("LOC", 3, 4)]


def test_from_spans_rejects_overlap_and_out_of_range():
    with pytest.raises(ValueError, match="overlap"):
        from_spans([("PER", 0, 2), ("LOC", 1, 3)], 4, "IOB2")
    with pytest.raises(ValueError, match="outside"):
        from_spans([("PER", 2, 5)], 4, "IOB2")
    with pytest.raises(ValueError, match="unknown tag scheme"):
        from_spans([], 4, "XYZ")


def test_registry_resolves_versioned_names_and_lists_known_ones():
    reg = Registry("widget")

    @reg.register("thing.v1")
    def thing():
        return 1

    assert reg.get("thing.v1") is thing and "thing.v1" in reg and reg.names() == ["thing.v1"]
    with pytest.raises(ConfigError, match="known: thing.v1"):
        reg.get("thing.v2")
    with pytest.raises(ValueError):
        reg.register("Bad Name")
    with pytest.raises(ValueError, match="already registered"):
        reg.register("thing.v1")(thing)
