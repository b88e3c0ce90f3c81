"""Sign-in end to end: the dashboard with [auth] pointing at a real OIDC provider
(oidc-provider-mock, started here on a free port), roles from the workspace's
workbench.toml, driven in headless Chromium. Signed out nothing is shown, deep links
included; a viewer reads reports and gets no launch or delete; an editor launches and
cancels; an admin deletes and reads the audit log."""
from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

import pytest

from tests.e2e.servers import CHROMIUM, ROOT, chromium, dashboard, free_port

pytestmark = pytest.mark.e2e

if not os.path.exists(CHROMIUM):
    if os.environ.get("CI"):
        raise RuntimeError("CI must install Debian's chromium for the browser test")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium)", allow_module_level=True)

oidc_provider_mock = pytest.importorskip("oidc_provider_mock")

RUN_NAME = "zephyr-contracts-ner"  # a name no page shows to a signed-out visitor
ROLES = {"viewers": ["vera@example.com"], "editors": ["ed@example.com"],
         "admins": ["ada@example.com"]}


@pytest.fixture(scope="module")
def provider():
    with oidc_provider_mock.run_server_in_thread(port=free_port()) as server:
        yield f"http://localhost:{server.server_port}"


@pytest.fixture(scope="module")
def site(tmp_path_factory, provider):
    """(url, workspace, id of a completed run) of a dashboard with sign-in configured."""
    from engine import access
    from engine.store import Store
    from tests.pages.fakes import make_run

    home = tmp_path_factory.mktemp("workspace")
    access.save(home, access.Access(**{k: tuple(v) for k, v in ROLES.items()}))
    store = Store(home)
    run_id = make_run(store, name=RUN_NAME)
    store.close()
    port = free_port()
    secrets = home / "secrets.toml"
    secrets.write_text(
        "[auth]\n"
        f'redirect_uri = "http://127.0.0.1:{port}/oauth2callback"\n'
        f'cookie_secret = "{os.urandom(24).hex()}"\n'
        'client_id = "workbench"\nclient_secret = "not-a-secret"\n'
        f'server_metadata_url = "{provider}/.well-known/openid-configuration"\n')
    with dashboard(home, port=port, args=("--secrets.files", str(secrets))) as url:
        yield url, home, run_id


@pytest.fixture(scope="module")
def browser():
    with chromium() as b:
        yield b


def _new_page(browser):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    page = context.new_page()
    page.set_default_timeout(60_000)
    return page


def _sign_in(browser, url: str, email: str):
    """A fresh browser session signed in as `email` through the provider's form."""
    page = _new_page(browser)
    page.goto(url + "/")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(re.compile(r".*/oauth2/authorize.*"))
    page.fill("input[name=sub]", email)
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(r"http://127\.0\.0\.1:\d+/.*"))
    page.get_by_text(f"Signed in as {email}").wait_for()
    return page


def _settle(page, text: str) -> str:
    page.get_by_text(text).first.wait_for()
    page.wait_for_timeout(1500)  # let the rest of the script's elements arrive
    return page.inner_text("body")


def _shot(page, name: str) -> None:
    if os.environ.get("WORKBENCH_SCREENSHOTS"):
        page.screenshot(path=str(ROOT / "docs" / "screenshots" / f"{name}.png"), full_page=True)


def _status(home: Path, run_id: str) -> dict:
    return json.loads((home / "runs" / run_id / "status.json").read_text())


def test_signed_out_sees_only_the_sign_in_page_deep_links_included(site, browser):
    url, home, run_id = site
    page = _new_page(browser)
    for path in (f"/runs?run={run_id}", f"/report?run={run_id}", "/data", "/admin",
                 f"/playground?run={run_id}", "/"):
        page.goto(url + path)
        body = _settle(page, "Sign in with your organisation")
        assert RUN_NAME not in body and run_id not in body, path
        assert "Runs" not in body and "Report" not in body, path  # no navigation either
        assert "Page not found" not in body, path  # every address draws the sign-in page
        assert page.get_by_role("button", name="Sign in").count() == 1
    _shot(page, "sign-in")
    page.context.close()


def test_viewer_reads_reports_and_has_no_launch_or_delete(site, browser):
    url, home, run_id = site
    page = _sign_in(browser, url, "vera@example.com")
    body = _settle(page, "role: viewer")
    assert "Train the NER demo" not in body
    nav = page.locator('[data-testid="stSidebarNav"]').inner_text()
    assert "Report" in nav and "Runs" in nav
    assert "Train" not in nav and "Data" not in nav and "Admin" not in nav
    page.goto(f"{url}/report?run={run_id}")
    page.get_by_role("heading", name="Per entity type").wait_for(timeout=90_000)
    page.goto(f"{url}/runs?run={run_id}")
    _settle(page, RUN_NAME)
    for label in ("Delete", "Cancel", "Resume", "Free space"):
        assert page.get_by_role("button", name=label, exact=True).count() == 0, label
    page.goto(f"{url}/train")  # not registered for a viewer
    page.wait_for_timeout(3000)
    assert page.get_by_role("button", name="Launch run").count() == 0
    page.context.close()


def test_editor_launches_and_cancels_with_their_name_on_the_run(site, browser):
    url, home, run_id = site
    page = _sign_in(browser, url, "ed@example.com")
    page.get_by_role("button", name="Train the NER demo").click()
    page.wait_for_url(re.compile(r".*/runs\?run=.*"))
    new_id = page.url.split("run=")[1].split("&")[0]
    assert new_id != run_id
    assert _status(home, new_id)["created_by"] == "ed@example.com"
    page.get_by_role("button", name="Cancel").click()
    deadline = time.time() + 90
    while _status(home, new_id)["state"] != "cancelled" and time.time() < deadline:
        time.sleep(1)
    assert _status(home, new_id)["state"] == "cancelled"
    assert page.get_by_role("button", name="Delete", exact=True).count() == 0  # editors do not delete
    page.context.close()


def test_admin_deletes_and_the_audit_log_says_who_did_what(site, browser):
    url, home, run_id = site
    page = _sign_in(browser, url, "ada@example.com")
    page.goto(f"{url}/runs?run={run_id}")
    page.get_by_text(RUN_NAME).first.wait_for()
    if RUN_NAME not in page.locator("h3").first.inner_text():  # the link's run, else pick it
        page.get_by_role("combobox", name="Selected run").click()
        page.get_by_role("option", name=re.compile(RUN_NAME)).click()
        page.locator("h3", has_text=RUN_NAME).first.wait_for()
    page.get_by_role("button", name="Delete").click()
    page.get_by_role("button", name="Yes, delete").click()
    deadline = time.time() + 90  # a loaded CI machine takes a while to run the page
    while (home / "runs" / run_id).exists() and time.time() < deadline:
        time.sleep(0.5)
    if (home / "runs" / run_id).exists():
        page.screenshot(path="/tmp/admin-delete-failure.png", full_page=True)
    assert not (home / "runs" / run_id).exists()
    page.goto(f"{url}/admin")
    page.get_by_text("entries in").first.wait_for()
    page.wait_for_timeout(2000)
    _shot(page, "admin-audit")
    log = [json.loads(line) for line in (home / "audit.jsonl").read_text().splitlines()]
    assert [(r["user"], r["action"]) for r in log if r["ok"]] == [
        ("ed@example.com", "launch"), ("ed@example.com", "cancel"), ("ada@example.com", "delete run")]
    assert log[-1]["target"] == run_id
    page.context.close()
