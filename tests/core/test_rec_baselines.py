"""Recommendation baselines: shapes, determinism, the smoothing rule, errors, and the ladder
random < popularity < bag of words on the default demo's test users."""
from __future__ import annotations

import numpy as np
import pytest

from core.demo.recommendation import make_recommendation_demo
from core.errors import DataError
from core.ranking import ndcg_at_k, roc_auc
from core.rec_baselines import (bag_of_words_scores, evaluate, groups, popularity_scores,
                                relevance)
from core.records import TextExample


@pytest.fixture(scope="module")
def demo():
    return make_recommendation_demo(0)


@pytest.fixture(scope="module")
def scores(demo):
    test = demo["test"]
    return {"random": np.zeros(len(test)),
            "popularity": popularity_scores(demo["train"], test),
            "bow": bag_of_words_scores(demo["train"], test)}


def row(item: str, clicked: bool, user: str = "u0000", history: str = "A | B") -> TextExample:
    return TextExample(history, ("clicked" if clicked else "skipped",), text_pair=item,
                       group=user)


# ------------------------------------------------------------------ shapes and determinism

@pytest.mark.parametrize("name", ["popularity", "bow"])
def test_one_finite_probability_per_row(demo, scores, name):
    s = scores[name]
    assert isinstance(s, np.ndarray) and s.shape == (len(demo["test"]),)
    assert np.isfinite(s).all() and (s > 0).all() and (s < 1).all()
    assert len(np.unique(s)) > 10


def test_both_scorers_are_deterministic(demo, scores):
    train, test = demo["train"], demo["test"]
    assert np.array_equal(popularity_scores(train, test), scores["popularity"])
    assert np.array_equal(bag_of_words_scores(train, test), scores["bow"])
    # and they score rows one at a time as they score them together
    some = test[:25]
    assert np.allclose(bag_of_words_scores(train, some), scores["bow"][:25])
    assert np.array_equal(popularity_scores(train, some), scores["popularity"][:25])


def test_relevance_is_one_for_clicked_and_groups_are_the_users():
    rows = [row("x", True), row("y", False, "u0001")]
    assert relevance(rows).tolist() == [1.0, 0.0]
    assert groups(rows) == ["u0000", "u0001"]


# ------------------------------------------------------------------ popularity

def test_popularity_is_the_smoothed_click_rate_and_unseen_items_get_the_prior():
    train = [row("a", True), row("a", True), row("a", False), row("b", False),
             row("c", False, "u0001"), row("c", False, "u0001"), row("c", True, "u0001"),
             row("d", False, "u0001")]
    prior = 3 / 8
    got = popularity_scores(train, [row("a", False), row("b", True), row("new", False)],
                            strength=2.0)
    assert got == pytest.approx([(2 + 2 * prior) / (3 + 2), (0 + 2 * prior) / (1 + 2), prior])


BAKING = "Sourdough baking for beginners | The crusty croissant | Notes from the pie crust"
SCI_FI = "The interstellar starship | Notes from the wormhole | Cyberpunk on a budget"
ON_BAKING = ("Sourdough baking on a budget. A short video on sourdough baking, covering "
             "shaping a tight loaf.")
ON_SCI_FI = ("Life after the starship. A long review on space opera, covering what makes a "
             "believable alien.")


def test_popularity_ignores_the_user_and_bag_of_words_reads_it(demo):
    users = [row(ON_BAKING, False, "u9000", BAKING), row(ON_BAKING, False, "u9001", SCI_FI)]
    pop = popularity_scores(demo["train"], users)
    bow = bag_of_words_scores(demo["train"], users)
    assert pop[0] == pop[1]
    assert bow[0] > bow[1]


def test_bag_of_words_prefers_a_candidate_on_the_users_topic(demo):
    for history, good, bad in ((BAKING, ON_BAKING, ON_SCI_FI), (SCI_FI, ON_SCI_FI, ON_BAKING)):
        s = bag_of_words_scores(demo["train"], [row(good, False, history=history),
                                                row(bad, False, history=history)])
        assert s[0] > s[1], history


# ------------------------------------------------------------------ the ladder

def test_popularity_beats_random_and_bag_of_words_beats_popularity_on_test(demo, scores):
    test = demo["test"]
    g, rel = groups(test), relevance(test)
    ndcg = {name: ndcg_at_k(g, rel, s, k=10) for name, s in scores.items()}
    assert ndcg["popularity"] > ndcg["random"] + 0.03, ndcg
    assert ndcg["bow"] > ndcg["popularity"] + 0.02, ndcg
    auc = {name: roc_auc(rel, s) for name, s in scores.items() if name != "random"}
    assert 0.5 < auc["popularity"] < auc["bow"], auc


def test_evaluate_reports_ndcg_mrr_and_auc(demo, scores):
    report = evaluate(demo["test"], scores["random"])
    assert set(report) == {"ndcg@10", "mrr", "roc_auc"}
    assert report["roc_auc"] == 0.5
    assert 0.3 < report["ndcg@10"] < 0.7 and 0.3 < report["mrr"] < 0.7
    better = evaluate(demo["test"], scores["bow"])
    assert all(better[k] > report[k] for k in report)


# ------------------------------------------------------------------ errors

def test_rows_without_a_candidate_or_a_group_are_refused(demo):
    bare = TextExample("A | B", ("clicked",))
    with pytest.raises(DataError, match="text_pair"):
        popularity_scores(demo["train"][:50], [bare])
    with pytest.raises(DataError, match="text_pair"):
        bag_of_words_scores([bare, TextExample("C", ("skipped",))], demo["test"][:5])
    with pytest.raises(DataError, match="group"):
        groups([bare])
    with pytest.raises(DataError, match="no rows"):
        popularity_scores([], demo["test"][:5])


def test_bag_of_words_needs_both_classes_in_train():
    with pytest.raises(DataError, match="both"):
        bag_of_words_scores([row("a", True), row("b", True)], [row("c", False)])
