"""Fixtures of the page contract tests: a workspace of runs the real engine trained."""
from __future__ import annotations

import pytest

from engine import queue
from tests.pages.real_runs import RealRuns, build_real_runs


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
