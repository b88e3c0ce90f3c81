"""Fixtures of the page tests: a fresh workspace per test (store, with the queue daemon
stubbed) and, for the contract tests, a workspace of runs the real engine trained."""
from __future__ import annotations

import pytest

from engine import queue
from engine.store import Store
from tests.pages.real_runs import RealRuns, build_real_runs


@pytest.fixture
def daemon_calls(monkeypatch) -> list:
    """engine.queue.ensure_daemon replaced by a recorder: tests never start the real queue."""
    calls: list = []
    monkeypatch.setattr(queue, "ensure_daemon", lambda store: calls.append(store.root) or 0)
    return calls


@pytest.fixture
def store(tmp_path, monkeypatch, daemon_calls) -> Store:
    """A fresh workspace for this test ($WORKBENCH_HOME), with the queue daemon stubbed."""
    root = tmp_path / "workspace"
    monkeypatch.setenv("WORKBENCH_HOME", str(root))
    return Store(root)


@pytest.fixture(scope="session")
def real_runs(tmp_path_factory) -> RealRuns:
    """Two NER runs and a classification run, trained once per session (a few seconds)."""
    return build_real_runs(tmp_path_factory.mktemp("real_runs"))


@pytest.fixture
def real_workspace(real_runs, monkeypatch) -> RealRuns:
    """The trained runs' workspace as this test's $WORKBENCH_HOME, the queue daemon stubbed.

    Shared, not copied: the pages only read it (tests must not change it).
    """
    monkeypatch.setenv("WORKBENCH_HOME", str(real_runs.root))
    monkeypatch.setattr(queue, "ensure_daemon", lambda store: 0)
    return real_runs
