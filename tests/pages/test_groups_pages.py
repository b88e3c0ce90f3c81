"""Seed groups on the pages: the Report page's "Seed group" section (fake runs tagged as a
group, and a contract check on a real group), the Compare page's Welch sentences, and the
Train page's Launch with repeats = 3. Every number is checked against engine.groups /
engine.significance, which the pages only draw."""
from __future__ import annotations

import math
import re

import pytest
from streamlit.testing.v1 import AppTest

from engine import groups, queue
from engine.runfolder import RunFolder
from engine.significance import compare_groups, welch_verdict
from tests.engine.group_runs import build_real_group, train_queued
from tests.pages.fakes import make_run, no_exception, page_test


def _train_page() -> AppTest:
    return AppTest.from_string("from pages import train\ntrain.render()\n", default_timeout=60).run()


def fake_group(store, name: str, seeds: list[int], *, of: int | None = None, **kw) -> tuple[str, list[str]]:
    """Completed fake runs tagged as one seed group; (group id, run ids)."""
    group_id = groups.new_group_id(store, name)
    ids = []
    for i, seed in enumerate(seeds):
        run_id = make_run(store, name=f"{name} · seed {seed}", seed=seed, **kw)
        RunFolder(store.run_dir(run_id)).update_status(
            tags={"group": group_id, "member": i, "of": of or len(seeds), "seed": seed})
        ids.append(run_id)
    return group_id, ids


def _group_table(at):
    return next(d.value for d in at.dataframe if "± std" in d.value.columns)


def _check_table(table, summary: dict, split: str, seed) -> None:
    """The page's table is group_summary's numbers, in %, row for row."""
    part = summary["splits"][split]
    expected = [(groups.METRIC_NAMES[k], s) for k, s in part["metrics"].items()]
    expected += [(f"{t} F1", s) for t, s in part["per_type"].items()]
    assert list(table["Score"]) == [label for label, _ in expected]
    for (_, s), (_, row) in zip(expected, table.iterrows()):
        for column, key in (("Mean", "mean"), ("± std", "std"), ("Min", "min"), ("Max", "max")):
            assert math.isclose(row[column], 100 * s[key], abs_tol=1e-9)
        assert row["Seeds"] == s["n"]
        assert math.isclose(row["This run"], 100 * s["values"][s["seeds"].index(seed)], abs_tol=1e-9)


# ---- Report -----------------------------------------------------------------------------

def test_report_shows_the_seed_group_of_a_member(store):
    group_id, ids = fake_group(store, "ner-seeds", [3, 4], of=3)
    waiting = make_run(store, name="ner-seeds · seed 5", state="running", seed=5, progress=0.4)
    RunFolder(store.run_dir(waiting)).update_status(tags={"group": group_id, "member": 2, "of": 3, "seed": 5})
    at = page_test("report", run=ids[1])
    no_exception(at)
    assert "Seed group" in [h.value for h in at.subheader]
    caption = next(c.value for c in at.caption if group_id in c.value)
    assert "2 of 3 completed (seeds 3, 4), 1 still to finish" in caption
    summary = groups.group_summary(store, group_id)
    _check_table(_group_table(at), summary, "test", seed=4)
    at.segmented_control(key="report.split").set_value("dev").run()
    _check_table(_group_table(at), groups.group_summary(store, group_id), "dev", seed=4)


def test_report_of_a_plain_run_has_no_seed_group(store):
    run_id = make_run(store, name="alone")
    at = page_test("report", run=run_id)
    no_exception(at)
    assert "Seed group" not in [h.value for h in at.subheader]


# ---- Compare ------------------------------------------------------------------------------

def test_compare_gives_welch_over_the_two_groups(store):
    ga, ids_a = fake_group(store, "base", [1, 2, 3])
    gb, ids_b = fake_group(store, "cand", [11, 12, 13])
    at = page_test("compare", run=ids_a[0])
    at.multiselect(key="compare.runs").set_value([ids_a[0], ids_b[0]]).run()
    no_exception(at)
    shown = [m.value for m in at.markdown] + [s.value for s in at.success]
    assert "**Over the seed groups**" in shown
    result = compare_groups(store, ga, gb, split="test")
    for row in result["scores"]:
        text = welch_verdict(row)
        assert text[0].upper() + text[1:] + "." in shown
    assert any(re.match(r"Over 3 seeds each, ", s) for s in shown)


def test_compare_of_two_seeds_of_one_group_says_so(store):
    ga, ids = fake_group(store, "same", [1, 2])
    at = page_test("compare", run=ids[0])
    at.multiselect(key="compare.runs").set_value(ids).run()
    no_exception(at)
    assert any("seeds of the same group" in c.value for c in at.caption)


def test_compare_of_plain_runs_has_no_group_part(store):
    a, b = make_run(store, name="a", seed=1), make_run(store, name="b", seed=1)
    at = page_test("compare", run=a)
    at.multiselect(key="compare.runs").set_value([a, b]).run()
    no_exception(at)
    assert "**Over the seed groups**" not in [m.value for m in at.markdown]


# ---- Train ------------------------------------------------------------------------------

def test_train_launch_with_repeats_queues_a_tagged_group(store, daemon_calls):
    at = _train_page()
    at.selectbox(key="train.preset_choice").set_value("Tiny smoke test")
    at.button(key="train.preset_load").click().run()
    repeats = at.number_input(key="train.repeats")
    assert repeats.value == 1 and repeats.help.startswith(groups_help())
    repeats.set_value(3)
    at.button(key="train.launch").click().run()
    no_exception(at)
    runs = store.list_runs()
    assert len(runs) == 3 and all(r["state"] == "queued" for r in runs)
    [listed] = groups.list_groups(store)
    members = groups.group_runs(store, listed["group_id"])
    assert [r["status"]["tags"]["seed"] for r in members] == [42, 43, 44]
    assert [store.config(r["id"])["repeats"] for r in members] == [1, 1, 1]
    assert f"Queued 3 runs (group {listed['group_id']})." in [s.value for s in at.success]
    assert at.session_state["run_id"] == members[0]["id"]
    assert daemon_calls == [store.root]
    assert any("× 3 runs (seeds 42–44)" in c.value for c in at.caption)


def groups_help() -> str:
    from core.config import FIELD_HELP

    return FIELD_HELP["repeats"]


# ---- contract: a real group ---------------------------------------------------------------

@pytest.fixture(scope="module")
def real_groups(tmp_path_factory):
    """A real group of 3 tiny NER runs and a second one at another learning rate."""
    group = build_real_group(tmp_path_factory.mktemp("real_group"))
    store = group.store
    other = groups.submit(store, {**group.config, "learning_rate": 5e-3, "name": "tiny-group-lr"})
    for run_id in other:
        assert train_queued(store, run_id) == "completed"
    store.close()
    return group, groups.group_of(store, other[0]), other


@pytest.fixture
def real_group_workspace(real_groups, monkeypatch):
    group, _, _ = real_groups
    monkeypatch.setenv("WORKBENCH_HOME", str(group.root))
    monkeypatch.setattr(queue, "ensure_daemon", lambda store: 0)
    return real_groups


def test_report_and_compare_on_a_real_group(real_group_workspace):
    group, other_id, other = real_group_workspace
    at = page_test("report", run=group.run_ids[0])
    no_exception(at)
    summary = groups.group_summary(group.store, group.group_id)
    assert summary["completed"] == 3
    _check_table(_group_table(at), summary, "test", seed=5)
    assert any("3 of 3 completed (seeds 5, 6, 7)" in c.value for c in at.caption)
    at = page_test("compare", run=group.run_ids[0])
    at.multiselect(key="compare.runs").set_value([group.run_ids[0], other[0]]).run()
    no_exception(at)
    shown = [m.value for m in at.markdown] + [s.value for s in at.success]
    for row in compare_groups(group.store, group.group_id, other_id, split="test")["scores"]:
        text = welch_verdict(row)
        assert text[0].upper() + text[1:] + "." in shown
