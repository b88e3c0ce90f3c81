"""Plain, immutable records that every format reads into and writes from."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class TokenExample:
    """One sentence for token classification (NER).

    doc: index of the document the sentence belongs to (increments at each -DOCSTART-;
         0 when the source has no document markers).
    line: 1-based line of the sentence's first token in its source (0 when unknown);
          not part of equality, so a written-then-read example equals the original.
    """

    tokens: tuple[str, ...]
    tags: tuple[str, ...]
    doc: int = 0
    line: int = field(default=0, compare=False)


@dataclass(frozen=True)
class TextExample:
    """One text for sequence classification; labels has exactly one item when single-label.

    text_pair: a second text encoded with the first as a pair ([CLS] text [SEP] pair [SEP]),
               e.g. a user's recent items and a candidate item; None for single texts.
    group: the ranking group the row belongs to (the user, the query); None when ungrouped.
    target: the value to predict for task "regression" (labels is then empty).
    """

    text: str
    labels: tuple[str, ...]
    line: int = field(default=0, compare=False)
    text_pair: str | None = None
    group: str | None = None
    target: float | None = None
