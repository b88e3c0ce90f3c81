"""Baseline scorers for recommendation rows, the rungs below a fine-tuned cross-encoder.

Rows are `TextExample`s with `text` = what the user read recently, `text_pair` = the
candidate item (its identity, too), `group` = the user, and a label "clicked" (relevance 1)
or anything else (0). Each scorer learns from `train` and returns one score per row of
`rows`, higher = rank higher; rank and evaluate them with `core.ranking` (`evaluate` does).

- Random: a constant score (`np.zeros`) is the expected random ranking in `core.ranking`
  (ties count as the mean over orders; ROC-AUC 0.5).
- `popularity_scores`: the candidate's smoothed click rate in train; it ignores the user.
- `bag_of_words_scores`: logistic regression over hashed bags of words that reads both
  texts, so it can learn that a candidate sharing words with the history is clicked
  (exact word matches only: no synonyms, no topics).

Both are deterministic (no randomness is drawn; the solver is seeded anyway).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from sklearn.linear_model import LogisticRegression

from core.errors import DataError
from core.ranking import mrr, ndcg_at_k, roc_auc
from core.records import TextExample

CLICKED = "clicked"
PRIOR_STRENGTH = 5.0  # pseudo-shows of the smoothing prior in `popularity_scores`
HASH_FEATURES = 2 ** 18
BOW_C = 1.0           # inverse L2 strength of the bag-of-words logistic regression
SEED = 0


def relevance(rows: Sequence[TextExample]) -> np.ndarray:
    """1.0 for a row labelled "clicked", else 0.0."""
    return np.array([1.0 if CLICKED in r.labels else 0.0 for r in rows])


def groups(rows: Sequence[TextExample]) -> list[str]:
    """Each row's group (the user); DataError if a row has none."""
    for i, r in enumerate(rows):
        if r.group is None:
            raise DataError(f"row {i} has no group (the user it was shown to)",
                            source="rows", expected="a group")
    return [r.group for r in rows]


def _pairs(rows: Sequence[TextExample], name: str) -> list[str]:
    for i, r in enumerate(rows):
        if r.text_pair is None:
            raise DataError(f"{name}: row {i} has no text_pair (the candidate item)",
                            source=name, expected="a candidate text")
    return [r.text_pair for r in rows]


def popularity_scores(train: Sequence[TextExample], rows: Sequence[TextExample], *,
                      strength: float = PRIOR_STRENGTH) -> np.ndarray:
    """Each row's candidate click rate in train, smoothed towards the train click rate.

    score = (clicks + strength * prior) / (shows + strength), prior = train click rate;
    a candidate (identified by its text_pair) never shown in train scores the prior.
    """
    items = _pairs(train, "train")
    if not items:
        raise DataError("train: no rows to count clicks in", source="train")
    clicked = relevance(train)
    prior = float(clicked.mean())
    shows: dict[str, float] = {}
    clicks: dict[str, float] = {}
    for item, c in zip(items, clicked):
        shows[item] = shows.get(item, 0.0) + 1.0
        clicks[item] = clicks.get(item, 0.0) + c
    return np.array([(clicks.get(item, 0.0) + strength * prior)
                     / (shows.get(item, 0.0) + strength) for item in _pairs(rows, "rows")])


def _vectoriser() -> HashingVectorizer:
    return HashingVectorizer(n_features=HASH_FEATURES, alternate_sign=False, norm="l2",
                             stop_words="english", ngram_range=(1, 1))


def _features(rows: Sequence[TextExample], name: str) -> sp.csr_matrix:
    """[shared words (0/1), candidate bag, cosine] for each row (hashed columns)."""
    vec = _vectoriser()
    user = vec.transform([r.text for r in rows])
    item = vec.transform(_pairs(rows, name))
    both = user.multiply(item).tocsr()
    cosine = sp.csr_matrix(np.asarray(both.sum(axis=1)))
    shared = (both > 0).astype(np.float64)
    return sp.hstack([shared, item, cosine], format="csr")


def bag_of_words_scores(train: Sequence[TextExample], rows: Sequence[TextExample], *,
                        c: float = BOW_C) -> np.ndarray:
    """P(click) from a logistic regression on bag-of-words match features, fit on train.

    Both texts are hashed into l2-normalised bags of words (English stop words dropped;
    2**18 buckets, so a word unseen in train still counts in the cosine). Features: which
    words the history and the candidate share (one 0/1 column per word: the elementwise
    product of the two bags, binarised), the candidate's own bag (item and topic appeal,
    whatever the user) and the cosine similarity of the two bags (the product's sum).
    Columns no train row uses are dropped; L2-regularised logistic regression (liblinear,
    C = c, seeded) on the rest. It matches words exactly: it cannot tell that "meeple"
    and "dice tower" are one topic unless both sides say so, which a fine-tuned
    cross-encoder can learn.
    """
    y = relevance(train)
    if len(set(y.tolist())) < 2:
        raise DataError("train: need both clicked and skipped rows to fit", source="train")
    x_train = _features(train, "train")
    keep = np.unique(x_train.indices)
    model = LogisticRegression(C=c, solver="liblinear", max_iter=1000, random_state=SEED)
    model.fit(x_train[:, keep], y)
    return model.predict_proba(_features(rows, "rows")[:, keep])[:, 1]


def evaluate(rows: Sequence[TextExample], scores: Sequence[float], k: int = 10) -> dict:
    """{ndcg@k, mrr, roc_auc} of scores on rows ("clicked" = relevance 1, per group)."""
    g, rel = groups(rows), relevance(rows)
    return {f"ndcg@{k}": ndcg_at_k(g, rel, scores, k=k), "mrr": mrr(g, rel, scores),
            "roc_auc": roc_auc(rel, scores)}
