"""Admin: the audit log (who launched, cancelled, resumed or deleted what, and when) and the
workspace's access settings (roles by e-mail or domain, data roots). Admins only: app.py
registers the page for admins, and engine/actions.py checks the role again."""
from __future__ import annotations

import time

import pandas as pd
import streamlit as st

from core.errors import WorkbenchError
from engine import access, actions
from pages.common import access_settings, acting_user, get_store, show_error, show_flash, flash

LIST_HELP = {
    "viewers": "Read runs, reports and curves.",
    "editors": "Also upload data, launch, cancel and resume runs, sweeps and curves.",
    "admins": "Also delete runs and datasets, free disk space, change these settings and read the audit log.",
    "data_roots": "Folders on the server whose files a run launched from the dashboard may read "
                  "(besides uploaded datasets and the demos). One absolute path per line.",
}


def render() -> None:
    st.title("Admin")
    show_flash("admin")
    user, store = acting_user(), get_store()
    if not user.can("audit"):
        st.warning("Admins only.")
        return
    log_tab, access_tab = st.tabs(["Audit log", "Access"])
    with log_tab:
        _audit(user, store)
    with access_tab:
        _access_form(user, store)


def _audit(user, store) -> None:
    try:
        rows = actions.read_audit(user, store)
    except WorkbenchError as exc:
        show_error(exc)
        return
    st.caption(f"{len(rows)} entries in `{store.root / 'audit.jsonl'}`, newest first; append-only.")
    if not rows:
        st.info("Nothing recorded yet: launches, cancels, resumes, deletions, uploads and "
                "settings changes appear here.")
        return
    users = sorted({r.get("user", "") for r in rows})
    kinds = sorted({r.get("action", "") for r in rows})
    cols = st.columns(3)
    who = cols[0].multiselect("User", users, key="admin.user")
    what = cols[1].multiselect("Action", kinds, key="admin.action")
    refused = cols[2].toggle("Refused only", key="admin.refused")
    shown = [r for r in rows if (not who or r.get("user") in who) and (not what or r.get("action") in what)
             and (not refused or r.get("ok") is False)]
    table = pd.DataFrame([{
        "when": time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(r.get("time", 0))),
        "user": r.get("user", ""), "role": r.get("role") or "", "action": r.get("action", ""),
        "target": r.get("target", ""), "allowed": "yes" if r.get("ok", True) else "refused",
        "detail": r.get("error") or _detail(r.get("detail")),
    } for r in shown])
    st.dataframe(table, hide_index=True, width="stretch")


def _detail(detail) -> str:
    if not isinstance(detail, dict):
        return ""
    return ", ".join(f"{k}={v}" for k, v in detail.items() if v not in (None, "", [], {}))


def _access_form(user, store) -> None:
    try:
        current = access_settings()
    except WorkbenchError as exc:
        show_error(exc)
        st.caption("Fix workbench.toml on the server; until then nobody signed in has a role.")
        return
    st.caption(f"Saved in `{access.settings_path(store.root)}` (the [access] table; saving "
               "rewrites the file without its comments). Entries: an e-mail address, a domain "
               "such as `@example.com`, or `*` for anyone the sign-in provider vouches for.")
    if user.local:
        st.info("Local mode: without sign-in these roles are not used yet, but the data roots "
                "are: the Train page reads only uploads, demos and files under them.")
    with st.form("admin.access"):
        values = {key: st.text_area(key.replace("_", " ").capitalize(), "\n".join(getattr(current, key)),
                                    help=LIST_HELP[key], key=f"admin.{key}")
                  for key in access.KEYS}
        saved = st.form_submit_button("Save settings", type="primary")
    if saved:
        try:
            new = access.from_dict({k: [line.strip() for line in v.splitlines() if line.strip()]
                                    for k, v in values.items()})
            if not user.local and not access.allowed(access.role_of(user.email, new), "admin"):
                raise WorkbenchError("these settings would take your own admin role away; "
                                     "keep yourself (or your domain) in admins")
            actions.save_settings(user, store, new)
        except WorkbenchError as exc:
            show_error(exc)
            return
        flash("admin", "Settings saved.")
        st.rerun()
