"""Entry point: page config, navigation over pages/, sidebar with queue and device status."""
from __future__ import annotations

import streamlit as st

from engine import queue
from pages import compare, curve, data, home, playground, report, runs, sweeps, train
from pages.common import get_store, show_error

st.set_page_config(page_title="Fine-tuning workbench", page_icon="🧪", layout="wide")

PAGES = [
    st.Page(home.render, title="Home", icon="🏠", url_path="home", default=True),
    st.Page(data.render, title="Data", icon="📄", url_path="data"),
    st.Page(train.render, title="Train", icon="🚀", url_path="train"),
    st.Page(runs.render, title="Runs", icon="📋", url_path="runs"),
    st.Page(sweeps.render, title="Sweeps", icon="🎯", url_path="sweeps"),
    st.Page(report.render, title="Report", icon="📊", url_path="report"),
    st.Page(compare.render, title="Compare", icon="⚖️", url_path="compare"),
    st.Page(curve.render, title="Learning curve", icon="📈", url_path="curve"),
    st.Page(playground.render, title="Playground", icon="🧪", url_path="playground"),
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
        alive = "🟢 queue running" if status["pid"] else "🔴 queue stopped"
        st.markdown(f"**{alive}**  \n{status['running']} running · {status['queued']} queued  \n"
                    f"{device} · {slots} slot(s)")


nav = st.navigation(PAGES)
_sidebar()
try:
    nav.run()
except Exception as exc:  # noqa: BLE001 - whatever a page hits is a message, never a traceback
    show_error(exc)
