"""End to end in real headless Chromium: train the demo through the UI, read the report."""
from __future__ import annotations

import os
import re
import time

import pytest

from tests.e2e.servers import CHROMIUM, ROOT, chromium, dashboard

pytestmark = pytest.mark.e2e

if not os.path.exists(CHROMIUM):
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium for the browser test")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("workspace")
    with dashboard(home) as url:
        yield url, home


@pytest.fixture(scope="module")
def page():
    with chromium() as browser:
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(60_000)
        yield pg


def _shot(page, name: str) -> None:
    out = ROOT / "docs" / "screenshots"
    if os.environ.get("WORKBENCH_SCREENSHOTS"):
        page.screenshot(path=str(out / f"{name}.png"), full_page=True)


def test_train_demo_through_the_ui_and_read_the_per_entity_report(server, page):
    url, home = server
    page.goto(url + "/")
    page.get_by_text("Fine-tuning workbench").first.wait_for()
    page.goto(url + "/train")
    page.get_by_text("Preset").first.wait_for()
    # Choose the tiny preset and load it into the form.
    page.get_by_role("combobox", name="Preset").click()
    page.get_by_role("option", name="Tiny smoke test").click()
    page.get_by_role("button", name="Load preset").click()
    page.wait_for_timeout(1500)
    page.get_by_role("button", name="Launch run").click()
    # Launch opens the run on the Runs page; wait for it to complete (the queue runs it).
    page.wait_for_url(re.compile(r".*/runs.*"), timeout=60_000)
    run_id = None
    deadline = time.time() + 420
    while time.time() < deadline:
        runs = sorted((home / "runs").glob("*/status.json"))
        if runs:
            run_id = runs[0].parent.name
            state = __import__("json").loads(runs[0].read_text()).get("state")
            if state in ("completed", "failed"):
                break
        time.sleep(2)
    assert run_id, "no run was created by the Launch button"
    assert state == "completed", (home / "runs" / run_id / "status.json").read_text()
    page.get_by_text("completed").first.wait_for(timeout=60_000)  # the Runs page shows it live
    _shot(page, "runs")
    page.goto(f"{url}/report?run={run_id}")
    try:
        page.get_by_role("heading", name="Per entity type").wait_for(timeout=90_000)
    except Exception:
        page.screenshot(path=str(home / "report-failure.png"), full_page=True)
        raise
    page.get_by_text("Micro F1").first.wait_for()
    # The per-entity table (a data grid drawn on a canvas) and the per-type chart beside it.
    page.locator('[data-testid="stDataFrame"]').first.wait_for(timeout=60_000)
    page.get_by_text("F1 per entity type").first.wait_for()
    body = page.inner_text("body")
    for entity_type in ("PER", "ORG", "LOC", "MISC"):
        assert entity_type in body
    assert "Traceback" not in body
    _shot(page, "report")
