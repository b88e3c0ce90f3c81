"""Import and session-key rules of the dashboard (docs/ARCHITECTURE.md): pages import only
pages.common among pages, app.py takes only each page's render, and each page keeps its
session keys to itself (the current run goes through pages.common)."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted(p for p in (ROOT / "pages").glob("*.py") if p.stem not in ("__init__", "common"))
NAMES = {p.stem for p in PAGES}


def _page_imports(tree: ast.AST) -> list[str]:
    """Dotted names of pages.* modules (or names imported from pages) a module imports."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.startswith("pages.")]
        elif isinstance(node, ast.ImportFrom) and node.module:
            if node.module == "pages":
                found += [f"pages.{a.name}" for a in node.names]
            elif node.module.startswith("pages."):
                found.append(node.module)
    return found


def layering_problems(sources: dict[str, str]) -> list[str]:
    """Rule breaks in {module stem: source} of pages/ (common included) and 'app'."""
    problems = []
    for stem, source in sources.items():
        tree = ast.parse(source)
        if stem == "app":
            problems += _app_problems(tree)
            continue
        problems += [f"{stem} imports {m}" for m in _page_imports(tree)
                     if m != "pages.common"]
        for key in _session_keys(tree):
            owner = key.split(".", 1)[0]
            if key == "run_id" and stem != "common":
                problems.append(f"{stem} writes the current run ('run_id') itself")
            elif "." in key and owner in NAMES and owner != stem:
                problems.append(f"{stem} writes {key!r}, a key of page {owner}")
    return problems


def _app_problems(tree: ast.AST) -> list[str]:
    imported = {m.split(".")[-1] for m in _page_imports(tree)} - {"common"}
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in imported and node.attr != "render":
            problems.append(f"app uses {node.value.id}.{node.attr}")
    return problems


def _session_keys(tree: ast.AST) -> list[str]:
    """String keys written as st.session_state[KEY] = ... (f-strings: their literal prefix)."""
    keys = []
    for node in ast.walk(tree):
        targets = node.targets if isinstance(node, ast.Assign) else []
        for t in targets:
            if isinstance(t, ast.Subscript) and "session_state" in ast.unparse(t.value):
                k = t.slice
                if isinstance(k, ast.Constant) and isinstance(k.value, str):
                    keys.append(k.value)
                elif isinstance(k, ast.JoinedStr) and k.values and isinstance(k.values[0], ast.Constant):
                    keys.append(str(k.values[0].value))
    return keys


def _sources() -> dict[str, str]:
    out = {p.stem: p.read_text(encoding="utf-8") for p in PAGES}
    out["common"] = (ROOT / "pages" / "common.py").read_text(encoding="utf-8")
    out["app"] = (ROOT / "app.py").read_text(encoding="utf-8")
    return out


def test_the_dashboard_keeps_its_layering_rules():
    assert PAGES, "no page modules found"
    assert layering_problems(_sources()) == []


@pytest.mark.parametrize("stem, source, problem", [
    ("home", "from pages.runs import link_to\n", "home imports pages.runs"),
    ("home", "from pages import runs\n", "home imports pages.runs"),
    ("home", "import pages.report\n", "home imports pages.report"),
    ("home", "import streamlit as st\nst.session_state['runs.flash'] = 'x'\n",
     "home writes 'runs.flash', a key of page runs"),
    ("train", "import streamlit as st\nst.session_state['run_id'] = 'x'\n",
     "train writes the current run ('run_id') itself"),
    ("report", "import streamlit as st\nk = 1\nst.session_state[f'compare.{k}'] = 1\n",
     "report writes 'compare.', a key of page compare"),
    ("app", "from pages import home\nhome.queue_status(None)\nhome.render\n",
     "app uses home.queue_status"),
])
def test_each_rule_catches_its_break(stem, source, problem):
    assert problem in layering_problems({stem: source})


def test_what_the_rules_allow():
    ok = {"home": "from pages.common import link_to\nimport streamlit as st\n"
                  "st.session_state['home.x'] = 1\nst.session_state['_flash.home'] = 1\n",
          "app": "from pages import home, runs\nst.Page(home.render)\nst.Page(runs.render)\n"}
    assert layering_problems(ok) == []
