"""The sign-in gate and roles in the pages (AppTest with [auth] configured and a simulated
st.user): signed out nothing but the sign-in page, an account on no list gets nothing, a
malformed workbench.toml fails closed, each role gets its pages and buttons, local mode
shows its banner. The refusals themselves are tested on engine/actions.py
(tests/engine/test_access.py) and in a real browser (tests/e2e/test_auth.py)."""
from __future__ import annotations

from streamlit.testing.v1 import AppTest

from engine import access
from tests.pages.fakes import APP, TIMEOUT, as_user, make_run, no_exception, page_test

ROLES = access.Access(viewers=("@example.com",), editors=("ed@example.com",),
                      admins=("ada@example.com",))


def _app(email: str | None) -> AppTest:
    at = AppTest.from_string(APP.read_text(encoding="utf-8"), default_timeout=TIMEOUT)
    as_user(at, email)
    return at.run()


def _text(at: AppTest) -> str:
    parts = [m.value for m in at.markdown] + [t.value for t in at.title] + [c.value for c in at.caption]
    parts += [e.value for e in at.error] + [w.value for w in at.warning] + [b.label for b in at.button]
    return "\n".join(str(p) for p in parts)


def test_signed_out_gets_only_the_sign_in_button(store):
    access.save(store.root, ROLES)
    run_id = make_run(store, name="hush-hush-run")
    at = _app(None)
    no_exception(at)
    assert [b.label for b in at.button] == ["Sign in"]
    text = _text(at)
    assert "hush-hush-run" not in text and run_id not in text and "queue" not in text.lower()


def test_an_account_on_no_list_gets_no_page(store):
    access.save(store.root, ROLES)
    make_run(store, name="hush-hush-run")
    at = _app("mallory@evil.org")
    no_exception(at)
    assert "no role" in _text(at) and "hush-hush-run" not in _text(at)
    assert [b.label for b in at.button] == ["Sign out"]


def test_unverified_email_gets_no_role(store):
    access.save(store.root, ROLES)
    at = AppTest.from_string(APP.read_text(encoding="utf-8"), default_timeout=TIMEOUT)
    as_user(at, "ada@example.com")
    at.user["email_verified"] = False
    at.run()
    assert "no role" in _text(at) and "Sign out" in [b.label for b in at.button]


def test_malformed_settings_fail_closed_with_the_file_named(store):
    (store.root / "workbench.toml").write_text("[access]\nadmins = 'ada@example.com'\n")
    make_run(store, name="hush-hush-run")
    at = _app("ada@example.com")
    no_exception(at)
    assert any("access.admins" in e.value for e in at.error)
    assert "hush-hush-run" not in _text(at)


def test_viewer_home_has_no_demo_buttons_and_says_why(store):
    access.save(store.root, ROLES)
    at = _app("vera@example.com")
    no_exception(at)
    labels = [b.label for b in at.button]
    assert "Train the NER demo" not in labels and "Start the queue" not in labels
    assert "Sign out" in labels and "role: viewer" in _text(at)


def test_editor_home_has_the_demo_buttons(store):
    access.save(store.root, ROLES)
    at = _app("ed@example.com")
    no_exception(at)
    assert "Train the NER demo" in [b.label for b in at.button]


def test_local_mode_banner_says_which_address_it_listens_on(store, monkeypatch):
    import streamlit as st

    real = st.get_option

    def banner(address):
        monkeypatch.setattr(st, "get_option", lambda key, _real=real:
                            address if key == "server.address" else _real(key))
        at = AppTest.from_string(APP.read_text(encoding="utf-8"), default_timeout=TIMEOUT).run()
        no_exception(at)
        return " ".join([i.value for i in at.info] + [e.value for e in at.error])

    assert "Local mode" in banner("127.0.0.1") and "this machine only (127.0.0.1)" in banner("127.0.0.1")
    for exposed in ("0.0.0.0", None, "192.0.2.7"):
        assert "No sign-in, and this server listens on the network" in banner(exposed)


def test_runs_page_for_a_viewer_has_no_change_buttons(store):
    access.save(store.root, ROLES)
    run_id = make_run(store, name="finished", state="failed", error="boom")
    at = AppTest.from_function(_runs_page, default_timeout=TIMEOUT)
    as_user(at, "vera@example.com")
    at.query_params["run"] = run_id
    at.run()
    no_exception(at)
    labels = [b.label for b in at.button]
    assert "Resume" not in labels and "Delete" not in labels
    as_user(at, "ada@example.com")
    at.run()
    labels = [b.label for b in at.button]
    assert "Resume" in labels and "Delete" in labels


def _runs_page() -> None:
    from pages import runs

    runs.render()


def test_admin_page_lists_the_audit_log_and_saves_settings(store):
    from engine import actions

    access.save(store.root, ROLES)
    admin = access.User("ada@example.com", role="admin")
    actions.launch(access.User("ed@example.com", role="editor"), store,
                   {"task": "ner", "train": "demo:demo-ner", "max_steps": 2})
    at = page_test("admin")
    no_exception(at)
    assert any("1 entries" in c.value for c in at.caption)
    at.text_area(key="admin.data_roots").set_value(str(store.root / "corpora"))
    at.button(key="FormSubmitter:admin.access-Save settings").click().run()
    no_exception(at)
    assert access.load(store.root).data_roots == (str(store.root / "corpora"),)
    assert actions.read_audit(admin, store)[0]["action"] == "settings"
