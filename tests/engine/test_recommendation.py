"""The recommendation scenario end to end on a tiny model: the demo's text pairs train a
classifier, and report.json ranks each user's candidates by P(clicked) (NDCG@k, MRR, ROC-AUC)."""
from __future__ import annotations

import pytest
import torch

from core.config import RunConfig, config_to_dict
from core.demo import make_demo
from core.rec_baselines import popularity_scores
from engine import worker
from engine.runfolder import RunFolder
from engine.store import Store
from tests.engine.runs import make_run_config

pytestmark = pytest.mark.slow


def test_the_recommendation_demo_trains_and_its_report_ranks_each_users_candidates(tmp_path):
    cfg = make_run_config(tmp_path / "cfg", "classification", train="demo:recommendation",
                          dev=None, test=None, max_train_examples=400, epochs=1, batch_size=16,
                          max_length=64, eval_every=None, checkpoint_every=None)
    store = Store(tmp_path / "ws")
    run_id = store.create_run(config_to_dict(RunConfig(**cfg)))
    with torch.random.fork_rng(devices=[]):
        state = worker.run(store.run_dir(run_id))
    folder = RunFolder(store.run_dir(run_id))
    assert state == "completed", folder.read_status().get("error")
    test = folder.read_report()["test"]
    ranking = test["ranking"]
    assert ranking["positive"] == "clicked"
    demo = make_demo("recommendation", seed=0)["test"]
    groups = ranking["groups"]
    assert groups["n_groups"] == len({ex.group for ex in demo}) == 100
    assert 0.0 <= groups["ndcg"]["10"] <= 1.0 and 0.0 < groups["mrr"] <= 1.0
    assert groups["ndcg_curve"]["k"] == list(range(1, 11)) and groups["worst_groups"]
    binary = ranking["binary"]
    assert binary["n"] == len(demo) and 0.0 <= binary["roc_auc"] <= 1.0
    # the report's rows are the predictions' rows: same gold, same count of clicks
    rows = folder.read_predictions("test")
    assert [r["gold"] for r in rows] == [ex.labels[0] for ex in demo]
    assert binary["n_positive"] == sum(r["gold"] == "clicked" for r in rows)
    # the baseline the report is read against exists for the same rows
    train = make_demo("recommendation", seed=0)["train"]
    assert len(popularity_scores(train, demo)) == len(demo)
