"""Entry point: page config, the sign-in gate, navigation over the pages the user's role
may open, sidebar with the user, queue and device status.

Signed out (sign-in configured in [auth] of .streamlit/secrets.toml), the only page is the
sign-in page, whatever the URL; an account on no access list sees only a page saying so.
The pages still ask engine/actions.py, which checks the role again, for every change."""
from __future__ import annotations

import streamlit as st

from engine import queue
from pages import admin, compare, curve, data, home, playground, report, runs, sweeps, train
from pages.common import current_user, get_store, no_access_page, show_error, sign_in_page, user_box

st.set_page_config(page_title="Fine-tuning workbench", page_icon=":material/science:", layout="wide")

# (page, the action a user must be allowed to open it: engine.access.NEEDS)
PAGES = [
    (st.Page(home.render, title="Home", icon=":material/home:", url_path="home", default=True), "read"),
    (st.Page(data.render, title="Data", icon=":material/description:", url_path="data"), "upload"),
    (st.Page(train.render, title="Train", icon=":material/rocket_launch:", url_path="train"), "launch"),
    (st.Page(runs.render, title="Runs", icon=":material/list_alt:", url_path="runs"), "read"),
    (st.Page(sweeps.render, title="Sweeps", icon=":material/tune:", url_path="sweeps"), "read"),
    (st.Page(report.render, title="Report", icon=":material/bar_chart:", url_path="report"), "read"),
    (st.Page(compare.render, title="Compare", icon=":material/balance:", url_path="compare"), "read"),
    (st.Page(curve.render, title="Learning curve", icon=":material/trending_up:", url_path="curve"), "read"),
    (st.Page(playground.render, title="Playground", icon=":material/science:", url_path="playground"), "read"),
    (st.Page(admin.render, title="Admin", icon=":material/shield:", url_path="admin"), "audit"),
]


def _sidebar() -> None:
    """Queue process and run counts: one pid-file read and one small query per rerun."""
    try:
        store = get_store()
        if not st.session_state.get("app.daemon_checked"):  # once per session, not per rerun
            st.session_state["app.daemon_checked"] = True
            queue.ensure_daemon(store)
        status = queue.status_summary(store)
        slots, device = queue.device_summary()
    except Exception as exc:  # noqa: BLE001 - the sidebar must never break a page
        st.sidebar.caption(f"Queue status unavailable: {exc}")
        return
    with st.sidebar.container(border=True):
        alive = "● queue running" if status["pid"] else "○ queue stopped"
        st.markdown(f"**{alive}**  \n{status['running']} running · {status['queued']} queued  \n"
                    f"{device} · {slots} slot(s)")


def _only(render, title: str) -> None:
    """Navigation whose every address (deep links included) draws `render` and nothing else."""
    st.navigation([st.Page(render, title=title, url_path=page.url_path or "home",
                           default=not page.url_path) for page, _ in PAGES], position="hidden").run()


def _gate():
    """The signed-in user with a role, or None after drawing the only page they may see."""
    try:
        user = current_user()
    except Exception as exc:  # noqa: BLE001 - e.g. a malformed workbench.toml: fail closed
        error = exc

        def failed() -> None:
            show_error(error)

        st.navigation([st.Page(failed, title="Workbench", url_path="error")], position="hidden").run()
        return None
    if user is None:
        _only(sign_in_page, "Sign in")
        return None
    if user.role is None:
        def no_access() -> None:
            no_access_page(user)

        _only(no_access, "No access")
        return None
    return user


user = _gate()
if user is not None:
    nav = st.navigation([p for p, action in PAGES if user.can(action)])
    user_box(user)
    _sidebar()
    try:
        nav.run()
    except Exception as exc:  # noqa: BLE001 - whatever a page hits is a message, never a traceback
        show_error(exc)
