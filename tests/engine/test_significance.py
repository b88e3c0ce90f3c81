"""engine/significance and `python -m engine compare`: two real run folders, compared."""
from __future__ import annotations

import json
import math

import pytest

from core.errors import DataError
from engine.cli import main
from engine.runfolder import RunFolder
from engine.significance import compare_runs, verdict
from tests.pages.real_runs import build_real_runs


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return build_real_runs(tmp_path_factory.mktemp("sig"))


def _dir(runs, run_id):
    return runs.store.run_dir(run_id)


def test_scores_match_the_runs_own_reports_and_a_vs_a_is_noise(runs):
    a, b = _dir(runs, runs.ner), _dir(runs, runs.ner_other)
    res = compare_runs(a, b, split="test", resamples=300)
    micro = res["scores"][0]
    assert micro["score"] == "micro F1" and res["task"] == "ner"
    rep_a, rep_b = RunFolder(a).read_report(), RunFolder(b).read_report()
    assert math.isclose(micro["a"], rep_a["test"]["entities"]["micro"]["f1"], abs_tol=1e-9)
    assert math.isclose(micro["b"], rep_b["test"]["entities"]["micro"]["f1"], abs_tol=1e-9)
    assert math.isclose(micro["delta"], micro["b"] - micro["a"], abs_tol=1e-12)
    types = {r["score"] for r in res["scores"][1:]}
    assert types == set(rep_a["test"]["entities"]["per_type"]) | set(rep_b["test"]["entities"]["per_type"])
    same = compare_runs(a, a, split="test", resamples=300)
    assert all(r["delta"] == 0 and r["p_bootstrap"] == 1 and r["p_randomisation"] == 1
               for r in same["scores"])
    assert "within noise" in verdict(same["scores"][0])


def test_different_splits_are_a_clear_error(runs):
    with pytest.raises(DataError, match="splits differ"):
        compare_runs(_dir(runs, runs.ner), _dir(runs, runs.classification), resamples=10)


def test_classification_reports_accuracy_and_macro_f1(runs):
    c = _dir(runs, runs.classification)
    res = compare_runs(c, c, split="dev", resamples=50)
    names = [r["score"] for r in res["scores"]]
    assert names[:2] == ["accuracy", "macro F1"]
    rep = RunFolder(c).read_report()
    assert math.isclose(res["scores"][0]["a"], rep["dev"]["classes"]["accuracy"], abs_tol=1e-9)


def test_cli_prints_json_and_words(runs, monkeypatch, capsys):
    monkeypatch.setenv("WORKBENCH_HOME", str(runs.root))
    assert main(["compare", runs.ner, runs.ner_other, "--resamples", "200", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["split"] == "test" and out["scores"][0]["score"] == "micro F1"
    assert main(["compare", runs.ner, str(_dir(runs, runs.ner_other)), "--resamples", "200"]) == 0
    text = capsys.readouterr().out
    assert "micro F1" in text and ("within noise" in text or "beats" in text)
    assert main(["compare", runs.ner, "nope", "--resamples", "5"]) == 1
    assert "no run 'nope'" in capsys.readouterr().err


def test_verdict_names_the_winner():
    row = {"score": "ORG", "delta": 0.012, "low": 0.005, "high": 0.019, "p_bootstrap": 0.003,
           "p_randomisation": 0.002}
    assert verdict(row) == "B beats A on ORG by 1.2 points (95 % CI 0.5 to 1.9, p = 0.003)"
    assert verdict({**row, "delta": -0.012, "low": -0.019, "high": -0.005}).startswith("A beats B on ORG")
    assert "within noise" in verdict({**row, "p_bootstrap": 0.2})
