"""Helpers every page shares: the store, cached run-folder readers, colours, error display."""
from __future__ import annotations

import hashlib
import html
from pathlib import Path

import streamlit as st

from core.errors import WorkbenchError
from engine.data import workspace_root
from engine.runfolder import iter_jsonl, read_json
from engine.store import Store

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


def read_run_json(run_dir: str | Path, name: str):
    """A JSON file of a run folder, cached by path and modification time."""
    path = Path(run_dir) / name
    return _json_cached(str(path), _mtime(path))


def read_run_jsonl(run_dir: str | Path, name: str) -> list[dict]:
    """A JSONL file of a run folder (metrics, predictions), cached by path and mtime."""
    path = Path(run_dir) / name
    return _jsonl_cached(str(path), _mtime(path))


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
