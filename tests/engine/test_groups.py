"""engine/groups (repeats = N as a seed group) and Welch's t between groups: expansion and
submission properties, a real group of three tiny runs summarised against a statistics
computation over the members' own report.json, compare_groups against scipy, and the CLI."""
from __future__ import annotations

import json
import math
import re
import statistics

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy import stats as scipy_stats

from core.config import RunConfig, config_to_dict, to_toml
from core.errors import ConfigError, DataError
from engine import groups, queue
from engine.cli import main
from engine.runfolder import RunFolder
from engine.significance import compare_groups, welch_verdict
from engine.store import Store
from tests.engine.group_runs import build_real_group, ner_group_config, train_queued
from tests.pages.fakes import config_for, make_run


@pytest.fixture(scope="module")
def real_group(tmp_path_factory):
    return build_real_group(tmp_path_factory.mktemp("group"))


@pytest.fixture
def store(tmp_path, monkeypatch) -> Store:
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "ws"))
    monkeypatch.setattr(queue, "ensure_daemon", lambda store: 0)
    return Store(tmp_path / "ws")


def fake_group(store: Store, name: str, seeds: list[int], task: str = "ner", of: int | None = None,
               **kw) -> str:
    """Completed fake runs (tests/pages/fakes.make_run) tagged as one seed group of `of`."""
    group_id = groups.new_group_id(store, name)
    for i, seed in enumerate(seeds):
        run_id = make_run(store, name=f"{name} · seed {seed}", task=task, seed=seed, **kw)
        RunFolder(store.run_dir(run_id)).update_status(
            tags={"group": group_id, "member": i, "of": of or len(seeds), "seed": seed})
    return group_id


# ---- expand and submit ----------------------------------------------------------------------

@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 12), seed=st.integers(0, 2**32 - 13), name=st.text(max_size=12))
def test_expand_gives_consecutive_distinct_seeds(n, seed, name):
    config = config_for(name, repeats=n, seed=seed)
    members = groups.expand(config)
    assert len(members) == n
    if n == 1:
        assert members == [config]
        return
    assert [m["seed"] for m in members] == list(range(seed, seed + n))
    assert all(m["repeats"] == 1 for m in members)
    assert [m["name"] for m in members] == [f"{name or 'ner'} · seed {s}" for s in range(seed, seed + n)]
    for m in members:  # nothing else changes
        assert {k: v for k, v in m.items() if k not in ("seed", "repeats", "name")} == \
               {k: v for k, v in config.items() if k not in ("seed", "repeats", "name")}


def test_repeats_one_is_a_plain_submit(store, tmp_path):
    config = config_for("plain")
    [run_id] = groups.submit(store, config)
    other = Store(tmp_path / "other")
    plain = queue.submit(other, config)
    assert store.config(run_id) == other.config(plain)
    assert "tags" not in store.get_run(run_id)["status"]
    assert groups.group_of(store, run_id) is None and groups.list_groups(store) == []


def test_repeats_three_queues_three_tagged_runs(store):
    config = config_for("lr-probe", repeats=3, seed=10)
    ids = groups.submit(store, config)
    assert len(ids) == 3 and len(set(ids)) == 3
    runs = [store.get_run(i) for i in ids]
    assert all(r["state"] == "queued" for r in runs)
    group_id = runs[0]["status"]["tags"]["group"]
    assert re.fullmatch(r"g-lr-probe-[0-9a-f]{4}", group_id)
    assert [r["status"]["tags"] for r in runs] == [
        {"group": group_id, "member": i, "of": 3, "seed": 10 + i} for i in range(3)]
    assert [store.config(i)["seed"] for i in ids] == [10, 11, 12]
    assert all(store.config(i)["repeats"] == 1 for i in ids)
    assert [r["id"] for r in groups.group_runs(store, group_id)] == ids
    assert [groups.group_of(store, i) for i in ids] == [group_id] * 3
    [listed] = groups.list_groups(store)
    assert listed["group_id"] == group_id and listed["runs"] == ids and listed["of"] == 3
    assert listed["completed"] == 0 and listed["name"] == "lr-probe"
    # a second group of the same config gets its own id
    again = groups.submit(store, config)
    assert groups.group_of(store, again[0]) not in (None, group_id)


@pytest.mark.parametrize("bad, message", [
    ({"warmup_ratio": 1.5}, "warmup_ratio"),
    ({"loss": "nope.v1"}, "loss"),
    ({"seed": 2**32 - 2}, "seed"),  # the third member's seed is out of range
    ({"repeats": 0}, "repeats"),
])
def test_invalid_config_is_refused_before_anything_is_queued(store, bad, message):
    config = {**config_for("bad", repeats=3), **bad}
    with pytest.raises(ConfigError, match=message):
        groups.submit(store, config)
    assert store.list_runs() == [] and list(store.runs_dir.iterdir()) == []


def test_a_member_is_an_ordinary_resumable_run(store):
    ids = groups.submit(store, config_for("resumable", repeats=2))
    assert queue.cancel(store, ids[1]) == "cancelled"
    queue.resume(store, ids[1])
    run = store.get_run(ids[1])
    assert run["state"] == "queued" and run["status"]["tags"]["member"] == 1


# ---- a real group ------------------------------------------------------------------------

def test_real_group_summary_is_the_statistics_of_the_members_reports(real_group):
    assert real_group.seconds < 30
    summary = groups.group_summary(real_group.store, real_group.group_id)
    json.dumps(summary)  # JSON-able
    assert summary["runs"] == real_group.run_ids
    assert summary["completed"] == summary["of"] == 3
    assert summary["task"] == "ner" and summary["name"] == "tiny-group"
    assert [m["seed"] for m in summary["members"]] == [5, 6, 7]
    reports = [RunFolder(real_group.store.run_dir(i)).read_report() for i in real_group.run_ids]
    assert len({r["test"]["entities"]["micro"]["f1"] for r in reports}) > 1  # the seeds differ
    for split in ("dev", "test"):
        part = summary["splits"][split]
        expected = {
            "f1_micro": [r[split]["entities"]["micro"]["f1"] for r in reports],
            "f1_macro": [r[split]["entities"]["macro"]["f1"] for r in reports],
            "precision": [r[split]["entities"]["micro"]["precision"] for r in reports],
            "recall": [r[split]["entities"]["micro"]["recall"] for r in reports]}
        for etype in reports[0][split]["entities"]["per_type"]:
            expected[etype] = [r[split]["entities"]["per_type"][etype]["f1"] for r in reports]
        got = {**part["metrics"], **part["per_type"]}
        assert set(got) == set(expected)
        for key, values in expected.items():
            s = got[key]
            assert s["values"] == values and s["n"] == 3 and s["seeds"] == [5, 6, 7]
            assert math.isclose(s["mean"], np.mean(values), abs_tol=1e-12)
            assert math.isclose(s["std"], np.std(values, ddof=1), abs_tol=1e-12)
            assert math.isclose(s["std"], statistics.stdev(values), abs_tol=1e-12)
            assert (s["min"], s["max"]) == (min(values), max(values))
    text = groups.format_summary(summary)
    assert f"group {real_group.group_id}: 3/3 runs completed" in text
    mean = 100 * summary["splits"]["test"]["metrics"]["f1_micro"]["mean"]
    assert f"{mean:.1f}" in text


def test_summary_counts_only_completed_members(store):
    group_id = fake_group(store, "partial", [1, 2], of=3)
    run_id = make_run(store, name="partial · seed 3", state="running", seed=3, progress=0.5)
    RunFolder(store.run_dir(run_id)).update_status(tags={"group": group_id, "member": 2, "of": 3, "seed": 3})
    summary = groups.group_summary(store, group_id)
    assert summary["completed"] == 2 and summary["of"] == 3 and len(summary["runs"]) == 3
    assert summary["splits"]["test"]["metrics"]["f1_micro"]["seeds"] == [1, 2]
    one = fake_group(store, "single", [9])
    single = groups.group_summary(store, one)["splits"]["dev"]["metrics"]["f1_micro"]
    assert single["n"] == 1 and single["std"] == 0 and single["min"] == single["max"] == single["mean"]
    with pytest.raises(ConfigError, match="no seed group"):
        groups.group_summary(store, "g-missing-0000")


# ---- Welch's t between groups -------------------------------------------------------------

def test_compare_groups_equals_scipy_welch(store):
    a = fake_group(store, "base", [1, 2, 3])
    b = fake_group(store, "cand", [11, 12, 13, 14])
    res = compare_groups(store, a, b, split="test")
    json.dumps(res)
    assert res["task"] == "ner" and (res["n_a"], res["n_b"]) == (3, 4)
    names = [r["score"] for r in res["scores"]]
    assert names[:2] == ["micro F1", "macro F1"] and set(names[2:]) <= {"LOC", "MISC", "ORG", "PER"}
    va = groups.group_summary(store, a)["splits"]["test"]
    vb = groups.group_summary(store, b)["splits"]["test"]
    for row in res["scores"]:
        key = {"micro F1": ("metrics", "f1_micro"), "macro F1": ("metrics", "f1_macro")}.get(
            row["score"], ("per_type", row["score"]))
        xs, ys = va[key[0]][key[1]]["values"], vb[key[0]][key[1]]["values"]
        ref = scipy_stats.ttest_ind(ys, xs, equal_var=False)
        assert math.isclose(row["delta"], np.mean(ys) - np.mean(xs), abs_tol=1e-12)
        assert math.isclose(row["t"], ref.statistic, rel_tol=1e-9)
        assert math.isclose(row["p"], ref.pvalue, rel_tol=1e-9, abs_tol=1e-15)
        assert math.isclose(row["df"], ref.df, rel_tol=1e-9)
        assert (row["n_a"], row["n_b"]) == (len(xs), len(ys))
        assert math.isclose(row["std_a"], np.std(xs, ddof=1), abs_tol=1e-12)
    same = compare_groups(store, a, a)
    assert all(r["delta"] == 0 and r["p"] == 1 for r in same["scores"])
    assert "within noise" in welch_verdict(same["scores"][0])


def test_compare_groups_text_task_and_refusals(store):
    a = fake_group(store, "intent-a", [1, 2], task="classification")
    b = fake_group(store, "intent-b", [3, 4, 5], task="classification")
    res = compare_groups(store, a, b, split="dev")
    assert [r["score"] for r in res["scores"]][:2] == ["accuracy", "macro F1"]
    lone = fake_group(store, "lone", [7])
    with pytest.raises(DataError, match="at least two"):
        compare_groups(store, a, lone)
    ner = fake_group(store, "ner", [1, 2])
    with pytest.raises(DataError, match="same task"):
        compare_groups(store, a, ner)


def test_welch_verdict_names_the_winner_and_no_spread():
    row = {"score": "micro F1", "delta": 0.012, "t": 3.1, "df": 3.9, "p": 0.04, "n_a": 3, "n_b": 3}
    assert welch_verdict(row) == ("over 3 seeds each, B beats A on micro F1 by 1.2 points "
                                  "(Welch t = 3.10, df = 3.9, p = 0.04)")
    assert "A beats B" in welch_verdict({**row, "delta": -0.012})
    assert "within noise" in welch_verdict({**row, "p": 0.2})
    flat = welch_verdict({**row, "t": None, "df": None, "p": 0.0, "n_b": 4})
    assert flat.startswith("over 3 and 4 seeds") and "no spread" in flat


# ---- command line -----------------------------------------------------------------------

def _config_file(tmp_path, **overrides):
    path = tmp_path / "run.toml"
    path.write_text(to_toml(RunConfig(**{**config_for("cli"), **overrides})), encoding="utf-8")
    return path


def test_cli_queue_submit_prints_every_run_and_the_group(store, tmp_path, capsys):
    assert main(["queue", "submit", str(_config_file(tmp_path, repeats=3, seed=1))]) == 0
    lines = capsys.readouterr().out.split()
    *ids, word, group_id = lines
    assert word == "group" and len(ids) == 3
    assert [r["id"] for r in groups.group_runs(store, group_id)] == ids
    assert main(["queue", "submit", str(_config_file(tmp_path))]) == 0
    [single] = capsys.readouterr().out.split()
    assert groups.group_of(store, single) is None


def test_cli_compares_groups_as_table_and_json(store, capsys):
    a = fake_group(store, "base", [1, 2, 3])
    b = fake_group(store, "cand", [4, 5, 6])
    assert main(["compare", a, b, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["test"] == "welch" and out["scores"] == compare_groups(store, a, b)["scores"]
    assert main(["compare", a, b, "--split", "dev"]) == 0
    text = capsys.readouterr().out
    assert f"A = group {a} (3 completed runs)" in text and "Welch" in text
    assert re.search(r"Over 3 seeds each, (B beats A|A beats B|the micro F1 difference)", text)
    # --groups takes members; without it, two members are compared run against run
    member_a, member_b = groups.group_runs(store, a)[0]["id"], groups.group_runs(store, b)[1]["id"]
    assert main(["compare", member_a, member_b, "--groups", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["scores"] == out["scores"]
    # (the fake runs' sentences differ by seed, so the paired test refuses them)
    assert main(["compare", member_a, member_b, "--resamples", "50"]) == 1
    assert "splits differ" in capsys.readouterr().err
    assert main(["compare", a, member_b]) == 1
    assert "is a seed group but" in capsys.readouterr().err
    plain = make_run(store, name="plain")
    assert main(["compare", member_a, plain, "--groups"]) == 1
    assert "belongs to no seed group" in capsys.readouterr().err


def test_cli_train_refuses_run_dir_with_repeats(store, tmp_path, capsys):
    config = _config_file(tmp_path, repeats=2)
    assert main(["train", "--config", str(config), "--run-dir", str(tmp_path / "out")]) == 1
    assert "--run-dir holds one run" in capsys.readouterr().err
    assert not (tmp_path / "out").exists() and store.list_runs() == []


def test_cli_train_runs_the_group_in_the_foreground(store, tmp_path, monkeypatch, capsys):
    """train --config with repeats 2: the group is queued and worked through queue.drive
    (here standing in for the scheduler, training each queued run in-process)."""
    config = config_to_dict(RunConfig(**{**ner_group_config(tmp_path), "repeats": 2}))
    path = tmp_path / "group.json"
    path.write_text(json.dumps(config), encoding="utf-8")

    def drive(store, done, *, poll=1.0, on_tick=None):
        while not done():
            for run in store.queued():
                train_queued(store, run["id"])
                on_tick()

    monkeypatch.setattr(queue, "drive", drive)
    assert main(["train", "--config", str(path)]) == 0
    out = capsys.readouterr().out
    [listed] = groups.list_groups(store)
    assert listed["completed"] == 2
    assert f"group {listed['group_id']}: 2 runs, seeds 5..6" in out
    assert re.search(r"\[1/2\] seed 5: completed .*dev micro F1", out)
    assert "[2/2] seed 6: completed" in out
    assert groups.format_summary(groups.group_summary(store, listed["group_id"])) in out
