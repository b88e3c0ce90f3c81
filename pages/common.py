"""Helpers every page shares: the store, cached run-folder readers, the run picker and the
current run, links between pages, one-shot messages, colours, formatting, error display.
Pages import no other page: what two pages need lives here.

The current run travels between pages in st.session_state["run_id"] and in the URL as
?run=<id>, so a link or a reload keeps it; only remember_run / choose_run touch it.
"""
from __future__ import annotations

import hashlib
import html
import importlib
import ipaddress
import math
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from core.errors import WorkbenchError
from core.report import problems
from engine import access
from engine.access import User
from engine.data import workspace_root
from engine.runfolder import RunFolder, iter_jsonl, read_json
from engine.store import Store

STATE_ICONS = {"queued": "○", "running": "●", "completed": "✓", "failed": "✗",
               "cancelled": "■", "interrupted": "!", "pruned": "✂"}
# One colour per entity type, shared by charts and span highlights (Tableau 10, readable on white).
PALETTE = ["#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2", "#edc948", "#b07aa1",
           "#ff9da7", "#9c755f", "#bab0ac"]
FIXED = {"PER": 0, "ORG": 1, "LOC": 2, "MISC": 3}


def type_colour(entity_type: str) -> str:
    """The colour of an entity type: fixed for the CoNLL types, stable by hash for others."""
    if entity_type in FIXED:
        return PALETTE[FIXED[entity_type]]
    h = int(hashlib.md5(entity_type.encode()).hexdigest(), 16)
    return PALETTE[4 + h % (len(PALETTE) - 4)]


def type_colours(types: list[str]) -> tuple[list[str], list[str]]:
    """(domain, range) for an altair colour scale over `types`."""
    return list(types), [type_colour(t) for t in types]


@st.cache_resource
def _store(root: str) -> Store:
    return Store(Path(root))


def get_store() -> Store:
    """The shared run and dataset store of this workspace ($WORKBENCH_HOME or ./workspace)."""
    return _store(str(workspace_root()))


# ---- who is using the dashboard ---------------------------------------------------------

NOBODY = User("", role=None)  # signed out, or a page rendered where nobody signed in


def auth_configured() -> bool:
    """Whether Streamlit's secrets hold an [auth] section (sign-in with OIDC)."""
    try:
        return "auth" in st.secrets
    except Exception:  # noqa: BLE001 - no secrets file at all: local mode
        return False


@st.cache_data(max_entries=4, show_spinner=False)
def _access(root: str, mtime: float) -> access.Access:  # noqa: ARG001 - mtime: cache key
    return access.load(Path(root))


def access_settings() -> access.Access:
    """The workspace's [access] settings (workbench.toml), re-read when the file changes;
    ConfigError when it is malformed."""
    root = workspace_root()
    return _access(str(root), _mtime(access.settings_path(root)))


def current_user() -> User | None:
    """Who is using the dashboard: `access.LOCAL` (an admin) without sign-in; None when
    sign-in is configured and nobody is signed in; else the signed-in user with the role
    the access lists give (None: on no list, or the provider says the e-mail is unverified).
    A malformed workbench.toml gives nobody a role (the error is raised for the page)."""
    if not auth_configured():
        return access.LOCAL
    if not st.user.is_logged_in:
        return None
    email, name = st.user.get("email"), st.user.get("name")
    if not email or st.user.get("email_verified") is False:
        return User(email or "(no e-mail)", name or "", role=None)
    return access.signed_in(str(email), str(name or ""), access_settings())


def acting_user() -> User:
    """The user a page acts for (engine/actions.py checks its role): NOBODY when signed out."""
    try:
        return current_user() or NOBODY
    except WorkbenchError:  # a malformed workbench.toml: nobody may act until it is fixed
        return NOBODY


def can(action: str) -> bool:
    """Whether the acting user may do `action` (engine.access.NEEDS): pages use it only to
    hide what would be refused; the refusal itself happens in engine/actions.py."""
    return acting_user().can(action)


# what app.py draws around the pages: nothing here names a run, a dataset or a file
LOOPBACK_NAMES = ("localhost",)


def providers() -> list[str | None]:
    """The sign-in providers of [auth]: named sub-tables ([auth.google] ...), else [None]
    (the one provider configured in [auth] itself)."""
    try:
        section = st.secrets["auth"]
    except Exception:  # noqa: BLE001
        return [None]
    named = [k for k, v in section.items() if hasattr(v, "items") and "client_id" in v]
    return named or [None]


def sign_in_page() -> None:
    st.title("Fine-tuning workbench")
    st.markdown("This workbench is shared by a team. Sign in with your organisation's "
                "account to see its runs and reports.")
    for provider in providers():
        label = f"Sign in with {provider.capitalize()}" if provider else "Sign in"
        st.button(label, type="primary", icon=":material/key:", key=f"signin.{provider or 'default'}",
                  on_click=st.login, args=(provider,) if provider else ())


def no_access_page(user: User) -> None:
    st.title("Fine-tuning workbench")
    st.warning(f"You are signed in as **{user.email}**, but this account has no role in this "
               "workbench. Ask an admin to add it (or its domain) to `[access]` in the "
               "workspace's `workbench.toml`.")
    st.button("Sign out", key="signin.out_noaccess", on_click=st.logout)


def user_box(user: User) -> None:
    """The sidebar's who-am-I: e-mail, role, sign out; or the local-mode banner."""
    if user.local:
        local_banner()
        return
    with st.sidebar.container(border=True):
        st.markdown(f"Signed in as **{user.email}**  \nrole: {user.role}")
        st.button("Sign out", key="signin.out", on_click=st.logout)


def bound_locally() -> bool:
    """Whether the server listens on a loopback address only (server.address)."""
    address = (st.get_option("server.address") or "").strip()
    if not address:
        return False  # unset: Streamlit listens on every interface
    if address in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:
        return False


def local_banner() -> None:
    if bound_locally():
        st.sidebar.info("**Local mode**: no sign-in, every right; this machine only "
                        f"({st.get_option('server.address')}). To share it with a team: README "
                        "› Serving the dashboard to a team.", icon=":material/lock_open:")
    else:
        st.error("**No sign-in, and this server listens on the network** "
                 f"(server.address = {st.get_option('server.address') or 'every interface'}): "
                 "anyone who reaches this port can launch, cancel and delete runs. Configure "
                 "sign-in (`[auth]` in .streamlit/secrets.toml) or serve on 127.0.0.1; see "
                 "README › Serving the dashboard to a team.", icon=":material/warning:")


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return 0.0


@st.cache_data(max_entries=256, show_spinner=False)
def _json_cached(path: str, mtime: float):  # noqa: ARG001 - mtime is part of the cache key
    return read_json(Path(path))


@st.cache_data(max_entries=256, show_spinner=False)
def _jsonl_cached(path: str, mtime: float):  # noqa: ARG001
    return list(iter_jsonl(Path(path)))


def read_report(run_dir: str | Path) -> dict | None:
    """A run's report.json (core/report.py), cached by path and modification time; None when
    missing, unreadable, or damaged (damaged_report says what is wrong)."""
    path = RunFolder(run_dir).report_path
    report = _json_cached(str(path), _mtime(path))
    return report if isinstance(report, dict) and not problems(report) else None


def damaged_report(run_dir: str | Path) -> list[str]:
    """What is wrong with a run's report.json ([] when it is fine or missing)."""
    path = RunFolder(run_dir).report_path
    if not path.is_file():
        return []
    report = _json_cached(str(path), _mtime(path))
    return ["not valid JSON"] if report is None else problems(report)


def read_metrics(run_dir: str | Path) -> list[dict]:
    """A run's events (metrics.jsonl), cached by path and modification time."""
    path = RunFolder(run_dir).metrics_path
    return _jsonl_cached(str(path), _mtime(path))


def read_predictions(run_dir: str | Path, split: str | None = None) -> list[dict]:
    """A run's prediction rows (predictions.jsonl), optionally one split's, cached by mtime."""
    path = RunFolder(run_dir).predictions_path
    rows = _jsonl_cached(str(path), _mtime(path))
    return [r for r in rows if split is None or r.get("split") == split]


def show_error(exc: BaseException) -> None:
    """An error as a message a user can act on; never a traceback."""
    if isinstance(exc, WorkbenchError):
        st.error(str(exc))
    else:
        st.error(f"Something went wrong: {type(exc).__name__}: {exc}")


def run_guarded(body) -> None:
    """Run a page body; any error it raises is shown as a message, never a traceback."""
    try:
        body()
    except Exception as exc:  # noqa: BLE001 - the UI shows a message, never a traceback
        show_error(exc)


def highlight_spans(tokens: list[str], spans: list[tuple[str, int, int]], *,
                    title: dict[int, str] | None = None, style: str = "solid") -> str:
    """HTML for tokens with entity spans (type, start, end) highlighted in their type colour."""
    starts = {s: (t, e) for t, s, e in spans}
    out, i = [], 0
    while i < len(tokens):
        if i in starts:
            t, e = starts[i]
            c = type_colour(t)
            text = html.escape(" ".join(tokens[i:e]))
            tip = html.escape(title.get(i, t) if title else t)
            border = f"2px {style} {c}"
            out.append(f'<span title="{tip}" style="background:{c}22;border:{border};'
                       f'border-radius:4px;padding:1px 4px;margin:0 1px">{text}'
                       f'<sup style="color:{c};font-weight:600;margin-left:3px">{html.escape(t)}</sup></span>')
            i = e
        else:
            out.append(html.escape(tokens[i]))
            i += 1
    return " ".join(out)


def fmt_pct(x: float | None) -> str:
    return "—" if x is None else f"{100 * x:.1f}"


def hand_over_to_app() -> None:
    """Run app.py's navigation when Streamlit opened a page file directly.

    With a folder named pages/ beside app.py, a server's first request for a deep link
    (/runs?run=...) is served in Streamlit's legacy mode, which executes this file as a
    script; until app.py's st.navigation runs once, that shows a blank page. Switching the
    legacy mode off and rerunning lets app.py route the same URL.
    """
    from streamlit.runtime.pages_manager import PagesManager

    PagesManager.uses_pages_directory = False
    st.rerun()


# ---- runs across pages ------------------------------------------------------------------

def run_label(run: dict) -> str:
    """How a run reads in pickers: icon, name, task and short id."""
    name = run.get("name") or "(unnamed)"
    return f"{STATE_ICONS.get(run['state'], '•')} {name} · {run.get('task', '')} · {run['id']}"


def choose_item(label: str, items: list[dict], id_key: str, key: str, describe) -> dict:
    """A selectbox over `items` (newest first) by their `id_key`; the first is chosen when
    the remembered choice is gone. Returns the chosen item (the Sweeps and Curve pickers)."""
    by_id = {item[id_key]: item for item in items}
    if st.session_state.get(key) not in by_id:
        st.session_state[key] = items[0][id_key]
    chosen = st.selectbox(label, list(by_id), key=key, format_func=lambda i: describe(by_id[i]))
    return by_id[chosen]


def tag_label(tags: object) -> str:
    """What a run belongs to, in words: 'sweep lr #3', 'curve c1 · 25 % · seed 2', 'group g · 2/3'."""
    if not isinstance(tags, dict):
        return ""
    if "sweep" in tags:
        return f"sweep {tags['sweep']} #{tags.get('trial', '?')}"
    if "curve" in tags:
        share = tags.get("fraction")
        share = f" · {100 * share:g} %" if isinstance(share, (int, float)) else ""
        return f"curve {tags['curve']}{share} · seed {tags.get('seed', '?')}"
    if "group" in tags:
        return f"group {tags['group']} · {tags.get('member', 0) + 1}/{tags.get('of', '?')}"
    return ""


def remember_run(run_id: str) -> None:
    """Make `run_id` the current run for every page (session) and for the URL (?run=)."""
    st.session_state["run_id"] = run_id
    if st.query_params.get("run") != run_id:
        st.query_params["run"] = run_id


def current_run() -> str | None:
    """The id of this session's current run (set by remember_run / choose_run), or None."""
    return st.session_state.get("run_id")


def forget_run(run_id: str) -> None:
    """Drop `run_id` as the current run (session and URL) if it is the current one."""
    if st.session_state.get("run_id") == run_id:
        st.session_state.pop("run_id")
        st.query_params.pop("run", None)


def choose_run(runs: list[dict], *, key: str, label: str = "Run",
               default: str | None = None) -> dict | None:
    """A selectbox over `runs` that starts at ?run=, then the session's run, then `default`."""
    if not runs:
        return None
    by_id = {r["id"]: r for r in runs}
    asked = st.query_params.get("run")
    if asked in by_id and st.session_state.get(f"{key}.asked") != asked:
        # a deep link (?run=) the session has not followed yet wins over an earlier choice
        st.session_state[key] = st.session_state[f"{key}.asked"] = asked
    if st.session_state.get(key) not in by_id:
        for wanted in (st.query_params.get("run"), st.session_state.get("run_id"), default):
            if wanted in by_id:
                st.session_state[key] = wanted
                break
        else:
            st.session_state[key] = runs[0]["id"]
    run_id = st.selectbox(label, list(by_id), key=key, format_func=lambda i: run_label(by_id[i]))
    remember_run(run_id)
    st.session_state[f"{key}.asked"] = run_id  # the URL now names it: nothing new to follow
    return by_id[run_id]


def page(name: str) -> st.Page:
    """The st.Page of pages/<name>.py as app.py registers it (for links and switch_page)."""
    module = importlib.import_module(f"pages.{name}")
    return st.Page(module.render, title=name.capitalize(), url_path=name)


def link_to(name: str, label: str, icon: str, run_id: str | None = None) -> None:
    """A link to another page carrying the run; silent where no navigation exists (tests)."""
    try:
        st.page_link(page(name), label=label, icon=icon,
                     query_params={"run": run_id} if run_id else None)
    except Exception:  # noqa: BLE001 - a page rendered alone (AppTest) has no navigation
        pass


def open_with_config(name: str, config: dict, note: str) -> None:
    """Open page `name` (e.g. "train") filled with the run config dict `config`, saying
    `note` there; that page takes it with take_config. Where no navigation exists (a page
    rendered alone), the config waits for the page's next visit."""
    from streamlit.errors import StreamlitAPIException

    st.session_state[f"_config.{name}"] = {"config": dict(config), "note": note}
    try:
        st.switch_page(page(name))
    except StreamlitAPIException:
        st.success(f"{note} Open the {name.capitalize()} page to use it.")


def take_config(name: str) -> dict | None:
    """The {"config", "note"} another page left for page `name` (once), or None."""
    return st.session_state.pop(f"_config.{name}", None)


def fmt_duration(seconds: float | None) -> str:
    """'45s', '3m 20s', '13m', '2h 5m': short enough for a metric tile (a 'Time left' of
    '1 min 02 s' was cut to '1 min 0…' in a five-tile row); '—' when unknown."""
    if seconds is None or seconds != seconds or seconds < 0:
        return "—"
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 600:
        return f"{s // 60}m {s % 60}s"
    if s < 3600:
        return f"{s // 60}m"
    return f"{s // 3600}h {s % 3600 // 60}m"


def plural(n: int, word: str, many: str | None = None) -> str:
    """'1 error', '2 errors', '1,204 sentences' ('many': the plural when not word + 's')."""
    return f"{n:,} {word if n == 1 else (many or word + 's')}"


def fmt_value(value: object) -> str:
    """A value for a sentence: '—' for a missing one (None, NaN), never the text 'None'."""
    if value is None or (isinstance(value, float) and value != value):
        return "—"
    return str(value)


def tick_axis(values, *, zero: bool = False, count: int = 5, **axis) -> alt.Axis:
    """A quantitative axis whose tick labels stay distinct: `count` ticks and as many
    decimals as their step needs. Vega picks a step of 1, 2 or 5 × 10^k of at least
    span / count (d3's ticks), never below the data's span; a fixed '.0f' labelled ticks
    0.5 apart '80, 80, 81', '.1f' ticks 0.05 apart '0.8, 0.8, 0.9'."""
    numbers = [float(v) for v in values if v is not None and v == v]
    lo, hi = (min(numbers), max(numbers)) if numbers else (0.0, 1.0)
    if zero:
        lo, hi = min(lo, 0.0), max(hi, 0.0)
    span = hi - lo
    if span > 0:
        decimals = max(0, -math.floor(math.log10(span / count)))
    else:  # one value: one tick, shown with a decimal
        decimals = 1
    return alt.Axis(format=f".{min(decimals, 6)}f", tickCount=count, **axis)


def curve_frames(records: list[dict]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(log rows, eval rows) of a run's metrics.jsonl as data frames (possibly empty)."""
    logs = pd.DataFrame([r for r in records if r.get("event") == "log"])
    evals = pd.DataFrame([r for r in records if r.get("event") == "eval"])
    return logs, evals


def flash(page_name: str, message: str) -> None:
    """Leave a one-shot success message for page `page_name` (shown by its show_flash)."""
    st.session_state[f"_flash.{page_name}"] = message


def show_flash(page_name: str) -> None:
    """Show (once) the message another page or action left for `page_name`."""
    message = st.session_state.pop(f"_flash.{page_name}", None)
    if message:
        st.success(message)
