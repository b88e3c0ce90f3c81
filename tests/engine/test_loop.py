"""The training loop driven directly: events, determinism, exact resume, every task."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from core.config import RunConfig
from core.demo import make_demo
from core.formats import write_jsonl
from engine import checkpoint
from engine.loop import train
from tests.engine.tiny import make_tiny_model_dir


def _write_splits(tmp: Path, splits: dict, n: dict) -> dict:
    paths = {}
    for name, records in splits.items():
        p = tmp / f"{name}.jsonl"
        p.write_text(write_jsonl(records[: n[name]]), encoding="utf-8")
        paths[name] = str(p)
    return paths


@pytest.fixture(scope="module")
def ner_setup(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("ner")
    splits = make_demo("demo-ner", seed=1)
    paths = _write_splits(tmp, splits, {"train": 120, "dev": 30, "test": 30})
    words = {t for recs in splits.values() for ex in recs for t in ex.tokens}
    labels = sorted({t for recs in splits.values() for ex in recs for t in ex.tags})
    model = make_tiny_model_dir(tmp / "model", words, task="ner", labels=labels)
    return paths, model


def _cfg(paths: dict, model: str, **kw) -> RunConfig:
    base = dict(task="ner", train=paths["train"], dev=paths["dev"], test=paths["test"], model=model,
                epochs=2, batch_size=8, max_length=32, window_stride=8, learning_rate=3e-3,
                log_every=1, threads=1, seed=7)
    base.update(kw)
    return RunConfig(**base)


def _run(cfg: RunConfig, run_dir: Path, **kw) -> list[dict]:
    return list(train(cfg, run_dir, **kw))


def test_ner_run_writes_report_predictions_and_model(ner_setup, tmp_path):
    paths, model = ner_setup
    events = _run(_cfg(paths, model), tmp_path)
    kinds = [e["event"] for e in events]
    assert kinds[0] == "start" and kinds[-1] == "end"
    logs = [e for e in events if e["event"] == "log"]
    assert len(logs) == events[0]["total_steps"] and logs[-1]["step"] == events[0]["total_steps"]
    assert logs[-1]["loss"] < logs[0]["loss"]  # it learns something
    evals = [e for e in events if e["event"] == "eval"]
    assert len(evals) == 2 and all(set(e["per_type_f1"]) <= {"PER", "ORG", "LOC", "MISC"} for e in evals)
    report = json.loads((tmp_path / "report.json").read_text())
    for split in ("dev", "test"):
        ents = report[split]["entities"]
        assert ents["micro"]["support"] == sum(v["support"] for v in ents["per_type"].values())
        assert "O" in report[split]["tokens"]["per_type"]
    rows = [json.loads(l) for l in (tmp_path / "predictions.jsonl").read_text().splitlines()]
    assert {r["split"] for r in rows} == {"dev", "test"} and len(rows) == 60
    assert all(len(r["tokens"]) == len(r["gold"]) == len(r["pred"]) == len(r["conf"]) for r in rows)
    # The report's numbers are the metrics of the stored predictions.
    from core.metrics import entity_report

    test_rows = [r for r in rows if r["split"] == "test"]
    again = entity_report([r["gold"] for r in test_rows], [r["pred"] for r in test_rows])
    assert again["micro"]["f1"] == pytest.approx(report["test"]["entities"]["micro"]["f1"])
    assert (tmp_path / "model" / "config.json").exists()


def test_same_seed_gives_same_metrics(ner_setup, tmp_path):
    paths, model = ner_setup
    cfg = _cfg(paths, model, epochs=1)
    a = [e for e in _run(cfg, tmp_path / "a") if e["event"] == "log"]
    b = [e for e in _run(cfg, tmp_path / "b") if e["event"] == "log"]
    assert [x["loss"] for x in a] == [x["loss"] for x in b]


def test_resume_after_stop_reaches_the_same_final_metrics(ner_setup, tmp_path):
    paths, model = ner_setup
    cfg = _cfg(paths, model, epochs=3, eval_every=10)
    full = _run(cfg, tmp_path / "full")
    total = full[0]["total_steps"]
    calls = {"n": 0}

    def stop_midway() -> bool:
        calls["n"] += 1
        return calls["n"] == total // 2 + 1  # stop mid-epoch, between evaluations

    first = _run(cfg, tmp_path / "resumed", should_stop=stop_midway)
    assert first[-1]["event"] == "stopped"
    assert checkpoint.latest(tmp_path / "resumed") is not None
    second = _run(cfg, tmp_path / "resumed")
    assert second[0]["event"] == "resume" and second[0]["step"] == total // 2 + 1
    done = {e["step"]: e["loss"] for e in second if e["event"] == "log"}
    ref = {e["step"]: e["loss"] for e in full if e["event"] == "log"}
    for step, loss in done.items():
        assert loss == pytest.approx(ref[step], abs=1e-6)
    rep_full = json.loads((tmp_path / "full" / "report.json").read_text())
    rep_res = json.loads((tmp_path / "resumed" / "report.json").read_text())
    for split in ("dev", "test"):
        assert rep_res[split]["entities"]["micro"]["f1"] == pytest.approx(
            rep_full[split]["entities"]["micro"]["f1"], abs=1e-6)
    assert rep_res["best_step"] == rep_full["best_step"]


def test_early_stopping_stops_after_patience(ner_setup, tmp_path):
    paths, model = ner_setup
    cfg = _cfg(paths, model, epochs=30, eval_every=1, learning_rate=1e-9,
               early_stopping_patience=2)
    events = _run(cfg, tmp_path)
    assert any(e["event"] == "early_stop" for e in events)
    evals = [e for e in events if e["event"] == "eval"]
    assert len(evals) <= 1 + 2 + 1 and events[-1]["event"] == "end"


@pytest.mark.parametrize("task,demo", [("classification", "demo-intent"), ("multilabel", "demo-multilabel")])
def test_classification_tasks_train_and_report(tmp_path, task, demo):
    splits = make_demo(demo, seed=0)
    paths = _write_splits(tmp_path, splits, {"train": 80, "dev": 30, "test": 30})
    words = {w.strip(".,!?") for recs in splits.values() for ex in recs for w in ex.text.lower().split()}
    labels = sorted({l for recs in splits.values() for ex in recs for l in ex.labels})
    model = make_tiny_model_dir(tmp_path / "model", words, task=task, labels=labels)
    cfg = RunConfig(task=task, train=paths["train"], dev=paths["dev"], test=paths["test"], model=model,
                    epochs=1, batch_size=8, max_length=32, learning_rate=3e-3, threads=1,
                    metric="f1_micro" if task == "multilabel" else "accuracy")
    events = list(train(cfg, tmp_path / "run"))
    assert events[-1]["event"] == "end"
    report = json.loads((tmp_path / "run" / "report.json").read_text())
    classes = report["test"]["classes"]
    assert set(classes["per_type"]) <= set(labels)
    key = "subset_accuracy" if task == "multilabel" else "accuracy"
    assert 0.0 <= classes[key] <= 1.0
    rows = [json.loads(l) for l in (tmp_path / "run" / "predictions.jsonl").read_text().splitlines()]
    assert all(len(r["probs"]) == len(labels) for r in rows)
    if task == "classification":
        assert np.allclose([sum(r["probs"]) for r in rows], 1.0, atol=1e-3)


def test_lora_and_frozen_adapters_train_only_what_they_should(ner_setup, tmp_path):
    paths, model = ner_setup
    for adapter in ("frozen", "lora"):
        cfg = _cfg(paths, model, epochs=1, adapter=adapter, max_steps=3,
                   lora_target_modules=["query", "value"])
        start = next(iter(train(cfg, tmp_path / adapter)))
        assert 0 < start["trainable_params"] < start["total_params"]


def test_baseline_path_without_fast_path_trains_the_same_steps(ner_setup, tmp_path):
    paths, model = ner_setup
    fast = _run(_cfg(paths, model, epochs=1), tmp_path / "fast")
    slow = _run(_cfg(paths, model, epochs=1, fast_path=False), tmp_path / "slow")
    assert slow[-1]["event"] == "end" and fast[0]["total_steps"] == slow[0]["total_steps"]
    # Same data and step count; different batch composition gives a different loss curve.
    assert [e["loss"] for e in fast if e["event"] == "log"] != [e["loss"] for e in slow if e["event"] == "log"]
