"""Learning curves (engine/curve, engine/cli_curve, train_fraction in engine/data): a real
curve of 3 shares x 2 seeds trained on a tiny BERT; its runs are ordinary, tagged, nested
runs, and curve_result's numbers are the runs' own report numbers."""
from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from core.config import RunConfig, to_toml
from core.errors import ConfigError
from core.report import metric_value, scores_of
from engine import cli, queue
from engine.curve import (check_seeds, curve_result, curve_runs, fit_sentence, list_curves,
                          parse_fractions, rising_sentence, submit_curve)
from engine.data import load_splits
from engine.runfolder import RunFolder
from engine.store import Store
from tests.engine.curve_runs import (COMMON, FRACTIONS, SEEDS, build_real_curve,
                                     tiny_curve_config, train_queued)
from tests.engine.runs import write_dataset


@pytest.fixture(scope="module")
def real_curve(tmp_path_factory):
    return build_real_curve(tmp_path_factory.mktemp("curve"))


# ---- train_fraction in load_splits -----------------------------------------------------------

def test_train_fraction_takes_nested_subsets_and_leaves_dev_alone(tmp_path):
    paths = write_dataset(tmp_path, "ner", (60, 0, 0))
    cfg = {"task": "ner", "train": paths["train"], "seed": 5}  # dev carved from train
    full = load_splits(RunConfig(**cfg))
    parts = {f: load_splits(RunConfig(**cfg, train_fraction=f)) for f in (0.2, 0.5, 1.0)}
    for f, splits in parts.items():
        assert splits["dev"] == full["dev"]  # carved before the share is taken
        assert len(splits["train"]) >= f * len(full["train"])
    assert parts[1.0]["train"] == full["train"]
    lines = {f: [e.line for e in parts[f]["train"]] for f in (0.2, 0.5)}  # file lines: ids
    small, mid = set(lines[0.2]), set(lines[0.5])
    assert len(small) == len(lines[0.2]) and 0 not in small
    assert len(small) < len(mid) and small <= mid <= {e.line for e in full["train"]}
    # another seed: another subset (and another dev)
    other = load_splits(RunConfig(**{**cfg, "seed": 6}, train_fraction=0.2))
    assert [e.tokens for e in other["train"]] != [e.tokens for e in parts[0.2]["train"]]


def test_train_fraction_keeps_documents_whole_and_applies_after_max_train_examples():
    cfg = {"task": "ner", "train": "demo:ner", "seed": 3, "max_train_examples": 400}
    pool = load_splits(RunConfig(**cfg))["train"]
    sub = load_splits(RunConfig(**cfg, train_fraction=0.25))["train"]
    assert 100 <= len(sub) < 200
    docs = {e.doc for e in sub}
    assert len(docs) > 1
    assert len(sub) == sum(e.doc in docs for e in pool)  # whole documents of the pool


# ---- a real curve -----------------------------------------------------------------------------

def test_curve_points_are_ordinary_tagged_runs_on_nested_data(real_curve):
    store = real_curve.store
    runs = curve_runs(store, real_curve.curve_id)
    assert len(runs) == len(FRACTIONS) * SEEDS
    assert all(r["state"] == "completed" for r in runs)
    base_seed = COMMON["seed"]
    seen = set()
    for run in runs:
        tags = run["status"]["tags"]
        cfg = store.config(run["id"])
        assert tags["curve"] == real_curve.curve_id
        assert cfg["train_fraction"] == tags["fraction"] and cfg["seed"] == tags["seed"]
        assert cfg["repeats"] == 1
        assert cfg["name"] == f"tiny-curve · {100 * tags['fraction']:g} % · seed {tags['seed']}"
        assert RunFolder(run["dir"]).has_model()
        seen.add((tags["fraction"], tags["seed"]))
    assert seen == {(f, base_seed + i) for f in FRACTIONS for i in range(SEEDS)}
    result = curve_result(store, real_curve.curve_id)
    for i in range(SEEDS):
        sizes = [r["train_examples"] for r in sorted(result["runs"], key=lambda r: r["fraction"])
                 if r["seed"] == base_seed + i]
        assert sizes == [12, 24, 48]  # 25 %, 50 %, 100 % of 48: grows with the share


def test_curve_result_means_are_the_runs_own_report_scores(real_curve):
    store = real_curve.store
    result = curve_result(store, real_curve.curve_id)
    assert json.loads(json.dumps(result, allow_nan=False)) == result  # strict JSON
    assert result["task"] == "ner" and result["metric"] == "f1_micro" and result["pending"] == 0
    assert [p["fraction"] for p in result["points"]] == list(FRACTIONS)
    for point in result["points"]:
        reports = [RunFolder(store.run_dir(i)).read_report() for i in point["runs"]]
        dev = [metric_value("ner", "f1_micro", r["dev"]) for r in reports]
        test = [metric_value("ner", "f1_micro", r["test"]) for r in reports]
        assert point["dev"]["n"] == SEEDS
        assert point["dev"]["mean"] == pytest.approx(statistics.mean(dev))
        assert point["dev"]["std"] == pytest.approx(statistics.stdev(dev))
        assert point["test"]["mean"] == pytest.approx(statistics.mean(test))
        for etype, row in point["per_type"].items():
            f1 = [scores_of(r["dev"])["per_type"][etype]["f1"] for r in reports]
            assert row["mean"] == pytest.approx(statistics.mean(f1))
        assert set(point["per_type"]) == {"LOC", "PER"}
    fit = result["fit"]
    assert fit is not None and fit["a"] <= 1 and fit["b"] >= 0 and fit["c"] > 0
    assert fit["predict_2x"]["train_examples"] == 96
    assert 0 <= fit["predict_2x"]["mean"] <= 1 and fit["predict_2x"]["std"] > 0
    assert fit["line"][-1]["train_examples"] == pytest.approx(96)
    assert set(result["still_rising"]) <= {"LOC", "PER"}
    assert fit_sentence(result).startswith("predicted dev f1_micro at 2× the data (96 examples): ")
    assert (result["fit_warning"] is None) == ("not to be trusted" not in fit_sentence(result))
    assert "rising" in rising_sentence(result) or "rises" in rising_sentence(result)
    listed = list_curves(store)
    assert [c["curve_id"] for c in listed] == [real_curve.curve_id]
    assert listed[0]["fractions"] == list(FRACTIONS) and listed[0]["seeds"] == SEEDS
    assert listed[0]["name"] == "tiny-curve" and listed[0]["pending"] == 0


# ---- submitting: checks first, then ordinary queued runs ---------------------------------------

def test_bad_shares_and_seeds_are_config_errors_naming_the_option(tmp_path):
    for text in ("0,0.5", "0.5,1.5", "a,b", "", "nan"):
        with pytest.raises(ConfigError, match="--fractions"):
            parse_fractions(text)
    assert parse_fractions("1.0, 0.25,0.5 0.25") == [0.25, 0.5, 1.0]
    with pytest.raises(ConfigError, match="--seeds"):
        check_seeds(0, key="--seeds")
    store = Store(tmp_path / "ws")
    cfg = {"task": "ner", "train": "demo:ner"}
    with pytest.raises(ConfigError, match="fractions"):
        submit_curve(store, cfg, [0.5, 2.0], 1)
    with pytest.raises(ConfigError, match="seeds"):
        submit_curve(store, cfg, [0.5], 0)
    with pytest.raises(ConfigError, match="train"):  # a bad base config queues nothing
        submit_curve(store, {**cfg, "train": str(tmp_path / "missing.jsonl")}, [0.5, 1.0], 2)
    assert store.list_runs() == []


def test_a_curve_run_can_be_cancelled_and_resumed_like_any_run(tmp_path):
    store = Store(tmp_path / "ws")
    curve_id = submit_curve(store, {"task": "ner", "train": "demo:ner", "seed": 40},
                            [1.0, 0.5, 0.5], 2)
    runs = curve_runs(store, curve_id)
    assert [(r["status"]["tags"]["fraction"], r["status"]["tags"]["seed"]) for r in runs] == \
        [(0.5, 40), (1.0, 40), (0.5, 41), (1.0, 41)]  # seed by seed, shares sorted, once each
    assert queue.cancel(store, runs[0]["id"]) == "cancelled"
    queue.resume(store, runs[0]["id"])
    assert store.get_run(runs[0]["id"])["state"] == "queued"
    assert curve_result(store, curve_id)["pending"] == 4
    with pytest.raises(Exception, match="no curve"):
        curve_result(store, "nope")


# ---- the command line ----------------------------------------------------------------------------

def test_cli_curve_trains_prints_the_table_and_the_fit(tmp_path, monkeypatch, capsys):
    root = tmp_path / "ws"
    monkeypatch.setenv("WORKBENCH_HOME", str(root))

    def drive_here(store, done, *, poll=1.0, on_tick=None):  # the queue, trained in-process
        train_queued(store)
        on_tick()
        assert done()

    monkeypatch.setattr(queue, "drive", drive_here)
    config = tmp_path / "run.toml"
    config.write_text(to_toml(RunConfig(**tiny_curve_config(tmp_path))), encoding="utf-8")
    code = cli.main(["curve", "--config", str(config), "--fractions", "0.5,1.0", "--seeds", "1",
                     "--set", "epochs=1"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "2 shares x 1 seed(s) = 2 runs" in out
    assert "[1/2] 50 % · seed 11: completed" in out and "train 24" in out
    assert "dev f1_micro" in out and "LOC" in out and "PER" in out
    assert "no fit of the curve: a curve needs runs at 3 or more distinct" in out
    curve_id = list_curves(Store(root))[0]["curve_id"]
    assert all(Store(root).config(r["id"])["epochs"] == 1 for r in curve_runs(Store(root), curve_id))

    assert cli.main(["curve", "show", curve_id, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert shown["curve_id"] == curve_id and [p["fraction"] for p in shown["points"]] == [0.5, 1.0]
    assert cli.main(["curve", "list"]) == 0
    assert curve_id in capsys.readouterr().out

    assert cli.main(["curve", "--config", str(config), "--fractions", "0.5,0"]) == 1
    assert "error: --fractions" in capsys.readouterr().err
    assert cli.main(["curve", "show", "nope"]) == 1
    assert "no curve 'nope'" in capsys.readouterr().err
    assert cli.main(["curve"]) == 1
    assert "--config" in capsys.readouterr().err


def test_cli_curve_json_prints_one_object(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "ws"))
    monkeypatch.setattr(queue, "drive", lambda store, done, **kw: (train_queued(store),
                                                                  kw["on_tick"]()))
    config = tmp_path / "run.toml"
    config.write_text(to_toml(RunConfig(**tiny_curve_config(tmp_path))), encoding="utf-8")
    code = cli.main(["curve", "--config", str(config), "--fractions", "0.25,0.5,1", "--seeds",
                     "1", "--set", "epochs=1", "--json"])
    captured = capsys.readouterr()
    assert code == 0
    result = json.loads(captured.out)  # only the object on stdout; progress went to stderr
    assert "[3/3]" in captured.err
    assert [p["train_examples"] for p in result["points"]] == [12, 24, 48]
    assert result["fit"]["predict_2x"]["train_examples"] == 96
    assert Path(result["runs"][0]["id"]).name == result["runs"][0]["id"]
