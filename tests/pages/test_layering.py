"""Import and session-key rules of the dashboard (docs/ARCHITECTURE.md): pages import only
pages.common among pages, app.py takes only each page's render, and each page keeps its
session keys to itself (the current run goes through pages.common)."""
from __future__ import annotations

import ast
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
        else:
            problems += [f"{stem} imports {m}" for m in _page_imports(tree)
                         if m != "pages.common"]
        if stem != "common":
            problems += _key_problems(stem, _session_keys(tree))
    return problems


def _key_problems(stem: str, keys: list[str]) -> list[str]:
    problems = []
    for key in keys:
        owner = key.split(".", 1)[0]
        if key == "run_id":
            problems.append(f"{stem} touches the current run ('run_id') itself")
        elif key.startswith("_"):
            problems.append(f"{stem} uses {key!r}, a key private to pages.common")
        elif "." in key and owner in NAMES and owner != stem:
            problems.append(f"{stem} uses {key!r}, a key of page {owner}")
    return problems


def _app_problems(tree: ast.AST) -> list[str]:
    imported = {m.split(".")[-1] for m in _page_imports(tree)} - {"common"}
    problems = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) \
                and node.value.id in imported and node.attr != "render":
            problems.append(f"app uses {node.value.id}.{node.attr}")
    return problems


def _literal(node: ast.AST | None) -> str | None:
    """A string constant, or the literal prefix of an f-string."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr) and node.values and isinstance(node.values[0], ast.Constant):
        return str(node.values[0].value)
    return None


def _session_keys(tree: ast.AST) -> list[str]:
    """Literal keys a module uses in st.session_state (st.session_state[K], .get/.pop/
    .setdefault(K, ...)) and as widget keys (key=K); f-strings count by their literal prefix."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and "session_state" in ast.unparse(node.value):
            found.append(_literal(node.slice))
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Attribute) and "session_state" in ast.unparse(func.value) \
                    and node.args:
                found.append(_literal(node.args[0]))
            found += [_literal(k.value) for k in node.keywords if k.arg == "key"]
    return [k for k in found if k is not None]


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
     "home uses 'runs.flash', a key of page runs"),
    ("home", "import streamlit as st\nst.session_state.pop('runs.flash', None)\n",
     "home uses 'runs.flash', a key of page runs"),
    ("home", "import streamlit as st\nst.button('x', key='runs.cancel')\n",
     "home uses 'runs.cancel', a key of page runs"),
    ("train", "import streamlit as st\nst.session_state['run_id'] = 'x'\n",
     "train touches the current run ('run_id') itself"),
    ("compare", "import streamlit as st\nx = st.session_state.get('run_id')\n",
     "compare touches the current run ('run_id') itself"),
    ("runs", "import streamlit as st\nst.session_state.pop('_flash.runs', None)\n",
     "runs uses '_flash.runs', a key private to pages.common"),
    ("report", "import streamlit as st\nk = 1\nst.session_state[f'compare.{k}'] = 1\n",
     "report uses 'compare.', a key of page compare"),
    ("app", "from pages import home\nhome.queue_status(None)\nhome.render\n",
     "app uses home.queue_status"),
])
def test_each_rule_catches_its_break(stem, source, problem):
    assert problem in layering_problems({stem: source})


def test_what_the_rules_allow():
    ok = {"home": "from pages.common import link_to\nimport streamlit as st\n"
                  "st.session_state['home.x'] = 1\nst.button('go', key='home.go')\n",
          "common": "import streamlit as st\nst.session_state['run_id'] = 1\n"
                    "st.session_state['_flash.home'] = 1\n",
          "app": "from pages import home, runs\nst.Page(home.render)\nst.Page(runs.render)\n"
                 "st.session_state['app.daemon_checked'] = True\n"}
    assert layering_problems(ok) == []


def test_the_rules_catch_the_old_layering():
    """The layering before pages.common held the shared helpers breaks each rule."""
    old = {"home": "from pages.runs import STATE_ICONS, link_to\nimport streamlit as st\n"
                   "st.session_state['runs.flash'] = 'Demo queued.'\n",
           "runs": "import streamlit as st\n"
                   "def remember_run(run_id):\n    st.session_state['run_id'] = run_id\n",
           "compare": "from pages.runs import curve_frames\n",
           "app": "from pages import home\nhome.queue_status(None)\nhome.device_summary()\n"}
    assert sorted(layering_problems(old)) == [
        "app uses home.device_summary", "app uses home.queue_status",
        "compare imports pages.runs", "home imports pages.runs",
        "home uses 'runs.flash', a key of page runs",
        "runs touches the current run ('run_id') itself"]


def test_no_emoji_anywhere_in_the_pages():
    """Emoji render as empty boxes in a browser without an emoji font (Debian's Chromium):
    icons are Streamlit's :material/…: names, and text symbols stay within ordinary fonts."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    emoji = re.compile("[\U0001F000-\U0001FAFF\u2B00-\u2BFF\uFE0F\u23E9-\u23FA\u26A0\u2699\u26D4]")
    found = [f"{p.name}:{n}: {m.group(0)!r}"
             for p in [root / "app.py", *sorted((root / "pages").glob("*.py"))]
             for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1)
             for m in [emoji.search(line)] if m]
    assert not found, found
