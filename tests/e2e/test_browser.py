"""End to end in real headless Chromium: train the demo through the UI, read the report."""
from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.e2e

if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium for the browser test")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    home = tmp_path_factory.mktemp("workspace")
    port = _free_port()
    env = {**os.environ, "WORKBENCH_HOME": str(home), "PYTHONUNBUFFERED": "1"}
    log = open(home / "streamlit.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "streamlit", "run", "app.py", "--server.port", str(port),
         "--server.headless", "true", "--server.address", "127.0.0.1",
         "--browser.gatherUsageStats", "false"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            time.sleep(0.5)
    else:
        raise RuntimeError((home / "streamlit.log").read_text())
    yield f"http://127.0.0.1:{port}", home
    os.killpg(proc.pid, signal.SIGTERM)
    proc.wait(timeout=20)
    _stop_processes_of(home)  # the queue process the app started, and any worker


def _stop_processes_of(home: Path) -> None:
    """SIGTERM every process whose environment names this test's workspace."""
    marker = f"WORKBENCH_HOME={home}".encode()
    for proc_dir in Path("/proc").glob("[0-9]*"):
        try:
            if marker in (proc_dir / "environ").read_bytes().split(b"\0"):
                os.kill(int(proc_dir.name), signal.SIGTERM)
        except (OSError, ValueError):
            continue


@pytest.fixture(scope="module")
def page():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=[
            "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
            "--disable-background-networking", "--disable-component-update", "--disable-sync"])
        pg = browser.new_page(viewport={"width": 1400, "height": 1000})
        pg.set_default_timeout(60_000)
        yield pg
        browser.close()


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
