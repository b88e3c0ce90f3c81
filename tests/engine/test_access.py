"""Roles, the access settings file, data confinement, the audit log, and the dashboard's
actions refusing what a role may not do (driven directly, as a page would call them)."""
from __future__ import annotations

import json
import os
import threading
import tomllib
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from core.errors import ConfigError
from engine import access, actions, audit
from engine.access import Access, Forbidden, User
from engine.runfolder import RunFolder
from engine.store import Store

VIEWER = User("vera@example.com", role="viewer")
EDITOR = User("ed@example.com", role="editor")
ADMIN = User("ada@example.com", role="admin")
NOBODY = User("x@elsewhere.org", role=None)
DEMO = {"task": "ner", "train": "demo:demo-ner", "max_steps": 2}


@pytest.fixture
def store(tmp_path) -> Store:
    return Store(tmp_path / "ws")


# ---- roles ---------------------------------------------------------------------------------

def test_role_is_the_highest_list_matching():
    acc = Access(viewers=("@example.com",), editors=("ed@example.com",), admins=("ADA@example.com",))
    assert access.role_of("someone@example.com", acc) == "viewer"
    assert access.role_of("ed@example.com", acc) == "editor"
    assert access.role_of("Ada@Example.com", acc) == "admin"  # e-mail case does not matter
    assert access.role_of("someone@example.com.evil.org", acc) is None
    assert access.role_of("x@sub.example.com", acc) is None  # a domain entry is exact
    assert access.role_of("", acc) is None and access.role_of(None, acc) is None
    assert access.role_of("a@b.c", Access(viewers=("*",))) == "viewer"
    assert access.role_of("a@b.c", Access(editors=("*@b.c",))) == "editor"


emails = st.from_regex(r"[a-z]{1,8}@[a-z]{1,6}\.(com|org)", fullmatch=True)


@given(emails, st.lists(emails, max_size=4), st.lists(emails, max_size=4), st.lists(emails, max_size=4))
def test_role_of_agrees_with_membership(email, viewers, editors, admins):
    acc = Access(viewers=tuple(viewers), editors=tuple(editors), admins=tuple(admins))
    want = ("admin" if email in admins else "editor" if email in editors
            else "viewer" if email in viewers else None)
    assert access.role_of(email, acc) == want
    domain = "@" + email.split("@")[1]
    assert access.role_of(email, Access(viewers=(domain,))) == "viewer"


@pytest.mark.parametrize("user, allowed", [(VIEWER, {"read"}),
                                           (EDITOR, {"read", "launch", "cancel", "resume", "upload", "sweep", "curve",
                                                     "predict"}),
                                           (ADMIN, set(access.NEEDS)), (NOBODY, set())])
def test_what_each_role_may_do(user, allowed):
    assert {a for a in access.NEEDS if user.can(a)} == allowed
    for action in set(access.NEEDS) - allowed:
        with pytest.raises(Forbidden, match=action):
            access.require(user, action)


# ---- the settings file --------------------------------------------------------------------

def test_missing_file_means_no_roles_and_no_roots(tmp_path):
    acc = access.load(tmp_path)
    assert acc == Access() and access.role_of("a@b.c", acc) is None


@pytest.mark.parametrize("text, words", [
    ("[access]\nviewer = ['a@b.c']\n", ["access.viewer", "did you mean 'viewers'"]),
    ("[access]\nviewers = 'a@b.c'\n", ["access.viewers", "list of strings"]),
    ("[access]\nadmins = ['grace']\n", ["access.admins", "'grace'"]),
    ("[access]\ndata_roots = ['relative/dir']\n", ["data_roots", "not an absolute path"]),
    ("[access\n", ["not valid TOML"]),
    ("access = 3\n", ["must be a table"]),
])
def test_malformed_settings_name_the_file_and_key(tmp_path, text, words):
    (tmp_path / "workbench.toml").write_text(text)
    with pytest.raises(ConfigError) as info:
        access.load(tmp_path)
    assert str(tmp_path / "workbench.toml") in str(info.value)
    for word in words:
        assert word in str(info.value)


def test_non_utf8_settings_are_an_error_not_a_crash(tmp_path):
    (tmp_path / "workbench.toml").write_bytes(b"\xff\xfe[access]")
    with pytest.raises(ConfigError, match="UTF-8"):
        access.load(tmp_path)


def test_save_round_trips_and_keeps_other_tables(tmp_path):
    (tmp_path / "workbench.toml").write_text('# note\n[queue]\nslots = 2\n[access]\nviewers = ["@x.org"]\n')
    new = Access(viewers=("@x.org",), editors=('e"q@x.org',), admins=("a@x.org",), data_roots=(str(tmp_path),))
    access.save(tmp_path, new)
    doc = tomllib.loads((tmp_path / "workbench.toml").read_text())
    assert doc["queue"] == {"slots": 2}
    assert access.load(tmp_path) == new


printable = st.text(st.characters(blacklist_categories=("Cs", "Cc")), max_size=12)


@settings(max_examples=60)
@given(st.dictionaries(st.from_regex(r"[a-z_]{1,8}", fullmatch=True),
                       st.one_of(printable, st.integers(-10**6, 10**6), st.booleans(),
                                 st.lists(printable, max_size=3)), max_size=4))
def test_dump_toml_is_read_back_by_tomllib(table):
    assert tomllib.loads(access.dump_toml({"t": table})) == {"t": table}


# ---- confined data -----------------------------------------------------------------------

def test_data_refs_outside_the_roots_are_refused_without_looking_at_the_file(tmp_path):
    root = tmp_path / "corpora"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "ok.conll").write_text("EU B-ORG\n")
    outside = tmp_path / "secret.txt"
    outside.write_text("root:x:0:0\n")
    (root / "link.conll").symlink_to(outside)
    acc = Access(data_roots=(str(root),))
    access.check_data({"train": "demo:demo-ner", "dev": "dataset:abc-123"}, acc)
    access.check_data({"train": str(root / "sub" / "ok.conll")}, acc)
    access.check_data({"train": str(root / "missing.conll")}, acc)  # inside: the reader says missing
    messages = set()
    for ref in ("/etc/shadow", "/etc/does-not-exist", str(root / ".." / "secret.txt"),
                str(root / "link.conll"), str(tmp_path / "corpora-evil" / "x")):
        with pytest.raises(Forbidden) as info:
            access.check_data({"test": ref}, acc)
        messages.add(str(info.value))
        assert "root:x" not in str(info.value) and ref not in str(info.value)
    assert len(messages) == 1  # the same words whether the file exists or not
    with pytest.raises(Forbidden, match="none are set"):
        access.check_data({"train": str(root / "sub" / "ok.conll")}, Access())


# ---- audit log ---------------------------------------------------------------------------

def test_audit_log_appends_whole_lines_from_threads(tmp_path):
    def write(i):
        for j in range(25):
            audit.record(tmp_path, EDITOR, "launch", f"run-{i}-{j}", note="x" * 300)

    threads = [threading.Thread(target=write, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = (tmp_path / "audit.jsonl").read_text().splitlines()
    assert len(lines) == 100 and all(json.loads(line)["user"] == EDITOR.email for line in lines)
    newest = audit.read(tmp_path, limit=3)
    assert len(newest) == 3 and newest[0]["time"] >= newest[-1]["time"]


def test_audit_reader_skips_a_torn_last_line(tmp_path):
    audit.record(tmp_path, ADMIN, "delete run", "r1")
    with open(tmp_path / "audit.jsonl", "ab") as f:
        f.write(b'{"time": 1, "user": "ha\xff')
    assert [r["target"] for r in audit.read(tmp_path)] == ["r1"]
    audit.record(tmp_path, ADMIN, "delete run", "r2")  # on a line of its own after the torn bytes
    assert [r["target"] for r in audit.read(tmp_path)] == ["r2", "r1"]


# ---- actions refuse server-side ------------------------------------------------------------

def test_viewer_is_refused_every_change_and_nothing_changes(store):
    run_id = actions.launch(EDITOR, store, DEMO)[0]
    store.set_state(run_id, "failed")
    ds_id = actions.add_dataset(EDITOR, store, "d", "ner", {"train": [_example()]})
    before = (sorted(p.name for p in store.runs_dir.iterdir()), [d["id"] for d in store.list_datasets()])
    attempts = [
        lambda: actions.launch(VIEWER, store, DEMO),
        lambda: actions.cancel(VIEWER, store, run_id),
        lambda: actions.resume(VIEWER, store, run_id),
        lambda: actions.delete_run(VIEWER, store, run_id),
        lambda: actions.add_dataset(VIEWER, store, "v", "ner", {"train": [_example()]}),
        lambda: actions.delete_dataset(VIEWER, store, ds_id),
        lambda: actions.launch_curve(VIEWER, store, DEMO, [0.5, 1.0], 1),
        lambda: actions.save_settings(VIEWER, store, Access(admins=("vera@example.com",))),
        lambda: actions.read_audit(VIEWER, store),
        lambda: actions.delete_run(EDITOR, store, run_id),       # editors may not delete
        lambda: actions.delete_dataset(EDITOR, store, ds_id),
        lambda: actions.launch(NOBODY, store, DEMO),
    ]
    for attempt in attempts:
        with pytest.raises(Forbidden):
            attempt()
    after = (sorted(p.name for p in store.runs_dir.iterdir()), [d["id"] for d in store.list_datasets()])
    assert after == before
    assert store.get_run(run_id)["state"] == "failed"
    assert not access.settings_path(store.root).exists()
    refused = [r for r in audit.read(store.root) if r["ok"] is False]
    assert len(refused) == len(attempts)
    assert {r["user"] for r in refused} == {VIEWER.email, EDITOR.email, NOBODY.email}


def test_editor_launches_and_cancels_admin_deletes_with_records(store):
    run_ids = actions.launch(EDITOR, store, {**DEMO, "repeats": 2, "name": "pair"})
    assert len(run_ids) == 2
    for run_id in run_ids:
        assert RunFolder(store.run_dir(run_id)).read_status()["created_by"] == EDITOR.email
    assert actions.cancel(EDITOR, store, run_ids[0]) == "cancelled"
    actions.resume(EDITOR, store, run_ids[0])
    ds_id = actions.add_dataset(EDITOR, store, "mine", "ner", {"train": [_example()]})
    assert {d["id"]: d for d in store.list_datasets()}[ds_id]["meta"]["created_by"] == EDITOR.email
    actions.delete_dataset(ADMIN, store, ds_id)
    store.set_state(run_ids[1], "failed")
    actions.delete_run(ADMIN, store, run_ids[1])
    assert not store.run_dir(run_ids[1]).exists()
    log = actions.read_audit(ADMIN, store)
    assert [(r["user"], r["action"]) for r in reversed(log)] == [
        (EDITOR.email, "launch"), (EDITOR.email, "cancel"), (EDITOR.email, "resume"),
        (EDITOR.email, "upload"), (ADMIN.email, "delete dataset"), (ADMIN.email, "delete run")]
    assert log[-1]["target"] == ", ".join(run_ids) and all(r["ok"] for r in log)


def test_dashboard_launch_is_confined_to_data_roots(store, tmp_path):
    data = tmp_path / "corpora" / "t.conll"
    data.parent.mkdir()
    data.write_text("EU B-ORG\n\n")
    with pytest.raises(Forbidden, match="data_roots"):
        actions.launch(EDITOR, store, {**DEMO, "train": str(data)})
    assert store.list_runs() == []
    actions.save_settings(ADMIN, store, Access(data_roots=(str(data.parent),)))
    run_id = actions.launch(EDITOR, store, {**DEMO, "train": str(data)})[0]
    assert store.config(run_id)["train"] == str(data)
    settings_line = [r for r in audit.read(store.root) if r["action"] == "settings"][0]
    assert settings_line["detail"]["changed"] == {"data_roots": [str(data.parent)]}


def test_sweep_trials_carry_the_creator(store):
    pytest.importorskip("optuna")
    from core.sweep import spec_from_dict
    from engine import sweep

    spec = spec_from_dict({"search": {"learning_rate": {"log_uniform": [1e-5, 1e-3]}},
                           "sweep": {"trials": 2, "parallel": 1}}, base=DEMO)
    sweep_id = actions.create_sweep(EDITOR, store, spec)
    sweep.tick(store, sweep_id)
    runs = store.tagged("sweep", sweep_id)
    assert runs and all(r["status"]["created_by"] == EDITOR.email for r in runs)
    with pytest.raises(Forbidden):
        actions.stop_sweep(VIEWER, store, sweep_id)
    actions.stop_sweep(EDITOR, store, sweep_id)


def _example():
    from core.records import TokenExample

    return TokenExample(tokens=("EU", "rejects"), tags=("B-ORG", "O"))


def test_local_user_is_an_admin_named_local():
    assert access.LOCAL.can("delete run") and access.LOCAL.label == "local"
    assert os.path.basename(access.settings_path(Path("/w"))) == "workbench.toml"
