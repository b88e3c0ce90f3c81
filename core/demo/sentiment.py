"""Generates the sentiment demo: financial-news headlines labelled positive, negative or neutral."""
from __future__ import annotations

import random

from core.demo.common import capitalise, lines, require
from core.demo.text import make_single_label, pools, tidy
from core.demo.words_misc import WEEKDAYS
from core.demo.words_orgs import COMPANIES
from core.records import TextExample

_SENTIMENT = {
    "positive": lines("""
{co} shares rose {pct}% after {good_news}
{co} posts record {period} profit
{co} beats forecasts as {metric} rises {pct}%
{co} raises full-year outlook on strong demand
{co} wins {money} contract from {co}
{co} shares rise on strong demand for its {product}
analysts upgrade {co} to buy, citing {good_news}
{co} raises dividend by {pct}%
{co} returns to profit in the {period}
{co} {metric} up {pct}% year on year
{co} shares hit record high after {good_news}
{co} reports {pct}% growth in {metric}
{co} shares jump {pct}% on {good_news}
{co} profit rises {pct}% as {metric} grows
{co} beats expectations with strong {period} results
{co} stock gains after {good_news}
{co} upgrades profit forecast after {good_news}
"""),
    "negative": lines("""
{co} shares fell {pct}% after {bad_news}
{co} cuts {jobs} jobs as sales fall
{co} warns of lower {period} profit
{co} misses forecasts, shares drop {pct}%
regulators fine {co} {money} over {issue}
{co} posts {period} loss of {money}
{co} recalls {product} over safety concerns
analysts downgrade {co} to sell after {bad_news}
{co} {metric} down {pct}% year on year
{co} suspends dividend amid {issue}
{co} shares slump on {bad_news}
{co} loses {money} contract to {co}
{co} profit falls {pct}% as {metric} weakens
{co} cuts full-year outlook, blaming {bad_news}
{co} shares drop to record low after {bad_news}
{co} stock falls on weak demand for its {product}
{co} misses expectations with weak {period} results
"""),
    "neutral": lines("""
{co} to report {period} results on {weekday}
{co} appoints {person} as chief financial officer
{co} shares unchanged at {price} pence
{co} to hold annual meeting in {city}
{co} to move headquarters to {city}
{co} says {period} results will be published on {weekday}
{co} announces board changes
{co} will publish its annual report on {weekday}
{co} and {co} sign memorandum on {topic}
{co} names {person} head of {unit}
{co} to present at investor conference in {city}
{co} confirms talks with {co} on {topic}
{co} trading volume was {volume} shares on {weekday}
{co} updates shareholders on {topic}
{co} opens office in {city}
{co} to hold {period} results call on {weekday}
{co} announces date of annual meeting
{co} appoints {person} to board
"""),
}

_SENTIMENT_WEIGHTS = {"positive": 0.3, "negative": 0.27, "neutral": 0.43}

_SENTIMENT_FILLERS = {
    "co": tuple(c for c in COMPANIES if "{" not in c),
    "pct": tuple(str(p) for p in (2, 3, 4.5, 5, 6, 7.2, 8, 9.5, 11, 12, 15, 18, 22, 1.8)),
    "period": ("first-quarter", "second-quarter", "third-quarter", "fourth-quarter",
               "half-year", "full-year", "quarterly", "annual"),
    "metric": ("revenue", "net income", "operating profit", "sales", "orders", "margins",
               "earnings per share", "bookings", "subscriber numbers"),
    "good_news": ("a strong quarter", "upbeat guidance", "a takeover offer",
                  "a surge in orders", "record sales", "a new supply deal",
                  "better-than-expected results", "a share buyback", "higher margins",
                  "successful drug trials"),
    "bad_news": ("weak demand", "a profit warning", "falling margins", "a failed merger",
                 "rising costs", "disappointing results", "a drop in orders",
                 "a data breach", "supply problems", "a credit downgrade"),
    "issue": ("accounting errors", "a safety scandal", "a data breach", "price fixing",
              "misleading customers", "an emissions probe", "a product recall"),
    "money": ("$40 million", "€1.2 billion", "£300 million", "$2 billion", "€85 million",
              "$650 million", "£1.1 billion"),
    "product": ("batteries", "cloud services", "electric vans", "smartphones", "vaccines",
                "solar panels", "frozen meals", "chips", "wind turbines", "tablets"),
    "jobs": ("200", "1,500", "3,000", "450", "12,000", "800", "2,400"),
    "weekday": WEEKDAYS[:5],
    "price": ("412", "98", "1,250", "37", "640", "215", "1,875"),
    "city": ("London", "Frankfurt", "Singapore", "Toronto", "Zurich", "Dubai", "Oslo",
             "Madrid", "Seoul", "Chicago"),
    "topic": ("supply chains", "data sharing", "research", "logistics", "energy storage",
              "payments", "distribution", "sustainability"),
    "person": ("Anna Keller", "Omar Haddad", "Lucia Navarro", "Kenji Tanaka", "Grace Okafor",
               "Pierre Dubois", "Meera Iyer", "Sven Berglund", "Helen Marsh"),
    "unit": ("its retail arm", "the cloud division", "European operations", "research",
             "its insurance business", "the trading unit", "marketing"),
    "volume": ("1.2 million", "350,000", "2.8 million", "640,000", "4.1 million"),
}


def _style_headline(rng: random.Random, text: str) -> str:
    """A headline, usually sentence-cased."""
    text = tidy(text)
    return capitalise(text) if rng.random() < 0.85 else text


def make_sentiment_demo(*, seed: int = 0, n_examples: int = 1500) -> dict[str, list[TextExample]]:
    """Financial-news headlines labelled positive/negative/neutral, stratified 80/10/10."""
    require("n_examples", n_examples, 30, "so that every class appears in every split")
    rng = random.Random(seed)
    fillers = pools(rng, _SENTIMENT_FILLERS)
    return make_single_label(rng, n_examples, _SENTIMENT_WEIGHTS, _SENTIMENT, fillers,
                             _style_headline)

