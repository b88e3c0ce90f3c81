"""The catalogue of demo datasets (DEMOS) and make_demo, which builds one by name."""
from __future__ import annotations

from core.demo.intent import make_intent_demo
from core.demo.multilabel import make_multilabel_demo
from core.demo.ner import make_ner_demo
from core.demo.recommendation import make_recommendation_demo
from core.demo.sentiment import make_sentiment_demo
from core.errors import ConfigError

DEMOS: dict[str, dict] = {
    "demo-ner": {
        "name": "demo-ner", "task": "ner", "make": make_ner_demo,
        "description": "English news-style sentences with PER, ORG, LOC and MISC entities "
                       "(IOB2), grouped in documents; test holds names unseen in train."},
    "demo-intent": {
        "name": "demo-intent", "task": "classification", "make": make_intent_demo,
        "description": "Banking customer-service messages in 10 intents, with typos and "
                       "casing noise; some phrasings appear only in dev/test."},
    "demo-sentiment": {
        "name": "demo-sentiment", "task": "classification", "make": make_sentiment_demo,
        "description": "Financial-news headlines labelled positive, negative or neutral."},
    "demo-multilabel": {
        "name": "demo-multilabel", "task": "multilabel", "make": make_multilabel_demo,
        "description": "Support tickets tagged with 1-3 of billing, technical, account, "
                       "shipping and urgent."},
    "demo-recommendation": {
        "name": "demo-recommendation", "task": "classification",
        "make": make_recommendation_demo,
        "description": "Recommendation as text pairs: a user's recent items (titles joined "
                       "with ' | ') and a candidate item, labelled clicked or skipped; rows "
                       "grouped by user (ranking metrics: NDCG@k, MRR), split by user, some "
                       "items and phrasings only in dev/test."},
}


def make_demo(name: str, seed: int = 0, **kw) -> dict[str, list]:
    """The splits of the demo dataset `name` (a key of DEMOS, or its short form: "ner" for
    "demo-ner", as run configs write "demo:ner"); kw go to its generator."""
    key = name if name in DEMOS else f"demo-{name}"
    if key not in DEMOS:
        raise ConfigError(f"unknown demo dataset {name!r}; known: {', '.join(sorted(DEMOS))}")
    return DEMOS[key]["make"](seed=seed, **kw)
