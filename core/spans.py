"""Entity spans of one tag sequence, and tags rebuilt from spans in any tag scheme.

A span is (type, start, end) with end exclusive. Decoding is lenient and scheme-agnostic:
B/S/U open an entity, E/L/S/U close one, an I- after O or another type opens one (as
conlleval does), and a tag without a prefix ('PER') is a plain label whose runs are
entities. Per-sentence and pure Python: core.metrics has the vectorised reports.
"""
from __future__ import annotations

from typing import Sequence

Span = tuple[str, int, int]

SCHEMES = ("IOB1", "IOB2", "IOE1", "IOE2", "IOBES", "BILOU", "PLAIN")
PREFIXES = frozenset("BIESLU")
_OPENS = frozenset("BSU")
_CLOSES = frozenset("ESLU")


def split_tag(tag: str) -> tuple[str, str]:
    """('B', 'PER') for 'B-PER', ('O', '') for 'O', ('I', 'PER') for a plain label 'PER'."""
    if tag == "O":
        return "O", ""
    head, sep, rest = tag.partition("-")
    if sep and len(head) == 1 and head in PREFIXES:
        return head, rest
    return "I", tag


def to_spans(tags: Sequence[str]) -> list[Span]:
    """Entity spans of a tag sequence in any of SCHEMES (lenient, see module docstring)."""
    spans: list[Span] = []
    start, cur_type, closed = -1, "", True
    for i, tag in enumerate(tags):
        prefix, type_ = split_tag(tag)
        if prefix == "O":
            if start >= 0:
                spans.append((cur_type, start, i))
            start, cur_type, closed = -1, "", True
            continue
        if start < 0 or closed or prefix in _OPENS or type_ != cur_type:
            if start >= 0:
                spans.append((cur_type, start, i))
            start, cur_type = i, type_
        closed = prefix in _CLOSES
    if start >= 0:
        spans.append((cur_type, start, len(tags)))
    return spans


def from_spans(spans: Sequence[Span], length: int, scheme: str) -> tuple[str, ...]:
    """Tags of `length` tokens encoding non-overlapping `spans` in `scheme`.

    Every scheme but PLAIN preserves the spans exactly (to_spans inverts it); PLAIN merges
    adjacent entities of the same type.
    """
    if scheme not in SCHEMES:
        raise ValueError(f"unknown tag scheme {scheme!r}; known: {', '.join(SCHEMES)}")
    tags = ["O"] * length
    ordered = sorted(spans, key=lambda s: s[1])
    for k, (type_, start, end) in enumerate(ordered):
        if not 0 <= start < end <= length:
            raise ValueError(f"span {(type_, start, end)} outside a sentence of {length} tokens")
        if k and ordered[k - 1][2] > start:
            raise ValueError(f"spans {ordered[k - 1]} and {(type_, start, end)} overlap")
        n = end - start
        if scheme == "PLAIN":
            body = [type_] * n
        elif scheme == "IOB2":
            body = [f"B-{type_}"] + [f"I-{type_}"] * (n - 1)
        elif scheme == "IOE2":
            body = [f"I-{type_}"] * (n - 1) + [f"E-{type_}"]
        elif scheme in ("IOBES", "BILOU"):
            single, last = ("S", "E") if scheme == "IOBES" else ("U", "L")
            body = [f"{single}-{type_}"] if n == 1 else (
                [f"B-{type_}"] + [f"I-{type_}"] * (n - 2) + [f"{last}-{type_}"])
        else:  # IOB1 / IOE1: the marker only where an adjacent same-type entity needs it
            body = [f"I-{type_}"] * n
            prev_adjacent = k and ordered[k - 1][2] == start and ordered[k - 1][0] == type_
            next_adjacent = (k + 1 < len(ordered) and ordered[k + 1][1] == end
                             and ordered[k + 1][0] == type_)
            if scheme == "IOB1" and prev_adjacent:
                body[0] = f"B-{type_}"
            if scheme == "IOE1" and next_adjacent:
                body[-1] = f"E-{type_}"
        tags[start:end] = body
    return tuple(tags)
