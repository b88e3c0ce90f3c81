"""Keep every test's workspace (runs, stored datasets, feature cache) out of the repository."""
import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def _workspace(tmp_path_factory):
    if "WORKBENCH_HOME" not in os.environ:
        os.environ["WORKBENCH_HOME"] = str(tmp_path_factory.mktemp("workspace"))
    yield
