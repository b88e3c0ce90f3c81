"""A newcomer's three trip-ups, in real headless Chromium: a wrong model path refused at Check
settings (nothing queued), the task following a classification upload, and the Runs table
agreeing with the run's detail panel while it trains."""
from __future__ import annotations

import json
import os
import re
import time

import pytest

from tests.e2e.servers import CHROMIUM, chromium, dashboard
from tests.e2e.test_browser import _shot

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


def _runs(home) -> list:
    return sorted((home / "runs").glob("*/status.json")) if (home / "runs").is_dir() else []


def test_a_wrong_model_path_is_refused_at_check_settings(server, page, tmp_path):
    url, home = server
    page.goto(url + "/train")
    page.get_by_text("Preset").first.wait_for()
    model = page.get_by_role("textbox", name="Encoder model")
    model.fill(str(tmp_path / "no-such-model"))
    model.press("Tab")
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Check settings").click()
    alert = page.locator('[data-testid="stAlert"]').filter(has_text="no-such-model")
    alert.first.wait_for(timeout=30_000)
    text = alert.first.inner_text()
    assert "model" in text and "Traceback" not in text
    _shot(page, "train-check-refused")
    page.get_by_role("button", name="Launch run").click()
    page.wait_for_timeout(3000)
    assert _runs(home) == []  # refused before anything was queued


def test_the_task_follows_a_classification_upload(server, page, tmp_path):
    url, _ = server
    table = tmp_path / "intents.csv"
    table.write_text("text,category\n" + "".join(
        f"please {verb} my card,{label}\n" for verb, label in
        [("block", "card"), ("renew", "card"), ("refund", "billing"), ("check", "billing")] * 5),
        encoding="utf-8")
    page.goto(url + "/data")
    page.get_by_text("Source").first.wait_for()
    page.get_by_text("Upload", exact=True).first.click()
    page.get_by_role("combobox", name="Task").wait_for()  # NER, the default
    page.locator('input[type="file"]').first.set_input_files(str(table))
    page.get_by_text("Task switched from").first.wait_for(timeout=60_000)
    body = page.inner_text("body")
    assert re.search(r"Task switched from .+ to .*classification", body, re.I), body[:2000]
    assert "CSV tables hold classification data" not in body
    _shot(page, "data-task-follows-upload")


def test_the_runs_table_and_the_panel_agree_while_a_run_trains(server, page):
    url, home = server
    page.goto(url + "/train")
    page.get_by_role("combobox", name="Preset").click()
    page.get_by_role("option", name="Tiny smoke test").click()
    page.get_by_role("button", name="Load preset").click()
    page.wait_for_timeout(1500)
    page.get_by_role("spinbutton", name="Epochs").fill("6")  # long enough to be seen mid-run
    page.get_by_role("spinbutton", name="Epochs").press("Tab")
    page.wait_for_timeout(800)
    page.get_by_role("button", name="Launch run").click()
    page.wait_for_url(re.compile(r".*/runs.*"), timeout=60_000)
    deadline = time.time() + 300
    seen = []
    while time.time() < deadline:
        statuses = [json.loads(p.read_text()) for p in _runs(home)]
        if statuses and statuses[0].get("state") in ("completed", "failed"):
            break
        if statuses and statuses[0].get("state") == "running" and statuses[0].get("step"):
            # the table's Steps cell and the panel's step line, read in one go from one screen
            read = """() => {
                const heads = [...document.querySelectorAll('table[role=grid] th')];
                const col = heads.findIndex(h => h.textContent.trim() === 'Steps');
                const cell = col < 0 ? null : document.querySelector(
                    `table[role=grid] tbody tr td[aria-colindex="${col + 1}"]`);
                return [cell ? cell.textContent : '', document.body.innerText];
            }"""
            snap = page.evaluate(read)
            page.wait_for_timeout(400)
            if page.evaluate(read) != snap:
                continue  # a redraw was landing: judge only a settled screen
            table = re.search(r"(\d+) / (\d+)", snap[0])
            panel = re.search(r"step (\d+) of (\d+)", snap[1])
            if panel and table:
                seen.append((table.groups(), panel.groups()))
                if len(seen) == 1:
                    _shot(page, "runs-live")
                if len(seen) >= 4:
                    break
        time.sleep(1.5)
    assert seen, "never saw the table and the panel during the run"
    for (t_step, t_total), (p_step, p_total) in seen:
        assert t_total == p_total
        assert t_step == p_step, seen  # one redraw feeds both: the same step
