"""Seeded demo datasets built from templates: NER, intents, financial sentiment, ticket topics.

Every sentence, template and name list here is written for this project. Each generator is
deterministic given its seed (a private `random.Random`, never the global state) and holds
out part of its names and templates from the training split, so dev/test scores measure
generalisation rather than memorisation.

One module per generator (`ner`, `intent`, `sentiment`, `multilabel`); `catalogue` lists
them as DEMOS and builds one by name; `common` and `text` hold the shared helpers,
`ner_templates` the NER templates and slot tables, and the `words_*` modules the name and
word lists.
"""
from __future__ import annotations

from core.demo.catalogue import DEMOS, make_demo
from core.demo.common import SPLITS
from core.demo.intent import make_intent_demo
from core.demo.multilabel import TICKET_LABELS, make_multilabel_demo
from core.demo.ner import make_ner_demo
from core.demo.sentiment import make_sentiment_demo

__all__ = ["DEMOS", "SPLITS", "TICKET_LABELS", "make_demo", "make_intent_demo",
           "make_multilabel_demo", "make_ner_demo", "make_sentiment_demo"]
