"""Hypothesis strategies for records that every format must write and read back exactly."""
from __future__ import annotations

from hypothesis import strategies as st

from core.records import TextExample, TokenExample

# No whitespace (Z*, and Cc holds \t \n \r \x1c-\x1f \x85) and no lone surrogates.
_NO_SPACE = st.characters(exclude_categories=("Zs", "Zl", "Zp", "Cc", "Cs"))
_TEXT_CHARS = st.one_of(
    st.characters(exclude_categories=("Cc", "Cs")),
    st.sampled_from([",", ";", '"', "'", "|", "\t", "\n", "\r", " ", "é", "😀", "\u2028",
                     "{", "}", "\\"]),
)

conll_tokens = st.text(_NO_SPACE, min_size=1, max_size=6).filter(lambda t: t != "-DOCSTART-")
entity_types = st.text(_NO_SPACE, min_size=1, max_size=5)
tags = st.one_of(
    st.just("O"),
    st.builds(lambda p, t: f"{p}-{t}", st.sampled_from("BIESLU"), entity_types),
    st.text(_NO_SPACE.filter(lambda c: c != "-"), min_size=1, max_size=5),  # plain labels
)


@st.composite
def sentences(draw, tokens=conll_tokens, doc: int = 0) -> TokenExample:
    """One TokenExample with 1..6 tokens in document `doc`."""
    pairs = draw(st.lists(st.tuples(tokens, tags), min_size=1, max_size=6))
    return TokenExample(tuple(t for t, _ in pairs), tuple(g for _, g in pairs), doc)


@st.composite
def documents(draw, tokens=conll_tokens) -> list[TokenExample]:
    """Sentences of 1..4 documents numbered 0, 1, 2, ... in order (1..3 sentences each)."""
    n_docs = draw(st.integers(1, 4))
    return [ex for doc in range(n_docs)
            for ex in draw(st.lists(sentences(tokens, doc), min_size=1, max_size=3))]


texts = st.text(_TEXT_CHARS, min_size=1, max_size=30)
# Table labels: no whitespace (tables strip it), no '|' (the default multi-label delimiter).
table_labels = st.text(_NO_SPACE.filter(lambda c: c != "|"), min_size=1, max_size=8)
json_labels = st.text(min_size=1, max_size=8).filter(lambda s: s.strip() != "")


def text_examples(labels=table_labels, *, multi: bool, min_labels: int = 1):
    """Lists of TextExample with one label each, or 0..3 labels each when multi."""
    label_sets = (st.lists(labels, min_size=min_labels, max_size=3, unique=True) if multi
                  else st.lists(labels, min_size=1, max_size=1))
    example = st.builds(lambda t, ls: TextExample(t, tuple(ls)), texts, label_sets)
    return st.lists(example, min_size=1, max_size=8)
