"""Train: every RunConfig knob grouped by stage, presets, TOML import/export, the learning-rate
curve of the chosen schedule, and Launch (enqueue the run and open it on the Runs page).

Widgets are keyed "train.<field>". Data and schedule fields are live (outside the form) so the
step estimate and the LR curve follow them; the other stages sit in a form submitted by Launch.
Widget values are snapshot in session_state["train.snapshot"] so that leaving the page and
coming back (which drops widget state) keeps the settings.
"""
from __future__ import annotations

import tomllib
import typing
from pathlib import Path

import altair as alt
import numpy as np
import polars as pl
import streamlit as st

from core.config import (ADAPTERS, ALIGNMENTS, FIELD_GROUPS, FIELD_HELP, FORMATS, METRICS,
                         PRECISIONS, TASKS, RunConfig, config_from_dict, config_to_dict,
                         from_toml, schedule_params, to_toml, total_steps, validate,
                         validate_names)
from core.demo import DEMOS, make_demo
from core.errors import ConfigError, WorkbenchError
from core.schedules import SCHEDULES, lr_curve
from core.spans import SCHEMES
from engine import access, actions, groups, queue
from engine.data import DEV_FRACTION, REF_FIELDS, check_references, load_config_file, read_file
from engine.store import Store
from pages.common import (access_settings, acting_user, flash, get_store, remember_run,
                          show_error, take_config)

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"
TYPES = typing.get_type_hints(RunConfig)
DEFAULTS = config_to_dict(RunConfig())
GROUP_TITLES = {"data": "Data", "model": "Model and adapter", "loss": "Loss",
                "optimizer": "Optimizer and schedule", "regularisation": "Regularisation",
                "evaluation": "Evaluation and early stopping", "hardware": "Hardware",
                "augmentation": "Augmentation"}
LIVE_GROUPS = ("data", "optimizer")  # drawn outside the form: they drive the LR curve
FORM_GROUPS = ("model", "loss", "regularisation", "evaluation", "hardware", "augmentation")
PATH = "path"  # selector choice: a file path or any other reference typed by hand
NONE = "none"
# Float widgets: (display format, step of the +/- buttons).
FLOAT_STYLE = {"learning_rate": ("%.1e", 1e-5), "adam_eps": ("%.1e", 1e-9),
               "adam_beta1": ("%.3f", 0.001), "adam_beta2": ("%.4f", 0.0001),
               "class_weight_beta": ("%.4f", 0.0001), "lr_cycles": ("%.2f", 0.5),
               "lr_power": ("%.2f", 0.5), "focal_gamma": ("%.2f", 0.5), "grad_clip": ("%.2f", 0.5)}
# Schedule parameters and the schedules that read them (core.config.schedule_params).
SCHEDULE_PARAMS = {"lr_min_ratio": ("linear.v1", "cosine.v1", "polynomial.v1"),
                   "lr_cycles": ("cosine.v1",), "lr_power": ("polynomial.v1",)}
ASSUMED_EXAMPLES = 1000
CURVE_POINTS = 600
AUGMENT_EXAMPLE = '[[augment]]\nname = "mention_replacement.v1"\np = 0.3\nn = 1\n'


# ---- choices -------------------------------------------------------------------------------

def choices(name: str, task: str) -> tuple[str, ...] | None:
    """The allowed values of an enum-like field, or None for a free field."""
    from core.losses import CLASS_WEIGHTS, LOSSES  # torch: imported when the page draws

    return {"task": TASKS, "format": FORMATS, "tag_scheme": ("auto",) + SCHEMES,
            "train_scheme": SCHEMES, "adapter": ADAPTERS, "label_alignment": ALIGNMENTS,
            "precision": PRECISIONS, "metric": METRICS.get(task, METRICS["ner"]),
            "loss": tuple(LOSSES.names()), "class_weights": ("none",) + tuple(CLASS_WEIGHTS.names()),
            "schedule": tuple(SCHEDULES.names())}.get(name)


def demo_of_task(task: str) -> str:
    """The first bundled demo for `task` (a reference like 'demo:demo-ner')."""
    for name, info in DEMOS.items():
        if info["task"] == task:
            return f"demo:{name}"
    return f"demo:{next(iter(DEMOS))}"


# ---- presets -------------------------------------------------------------------------------

def load_preset_file(path: Path) -> dict:
    """A preset TOML as a config dict, read by the CLI's loader (engine.data.load_config_file:
    data paths relative to the file, validated), so a preset loads as `train --config` does."""
    return config_to_dict(load_config_file(path))


def smoke_preset() -> dict:
    """A run that finishes in seconds on a CPU: demo NER, ~10 steps, short inputs."""
    return config_to_dict(RunConfig(
        name="smoke-test", task="ner", train=demo_of_task("ner"), epochs=1, max_steps=10,
        max_train_examples=200, max_length=32, window_stride=8, batch_size=8,
        learning_rate=1e-4, warmup_ratio=0.1, log_every=2))


PRESETS = {
    "Demo NER": lambda: load_preset_file(EXAMPLES / "demo_ner.toml"),
    "Demo classification": lambda: load_preset_file(EXAMPLES / "demo_classify.toml"),
    "CoNLL-2003 recipe": lambda: load_preset_file(EXAMPLES / "conll2003.toml"),
    "Tiny smoke test": smoke_preset,
}


# ---- config <-> widget state -----------------------------------------------------------------

def _is_optional(name: str) -> bool:
    return type(None) in typing.get_args(TYPES[name])


def _base_type(name: str):
    args = [a for a in typing.get_args(TYPES[name]) if a is not type(None)]
    return args[0] if args else TYPES[name]


def augment_to_toml(entries: list[dict]) -> str:
    """[[augment]] tables of a list of augmenter dicts (empty string for none)."""
    if not entries:
        return ""
    text = to_toml(RunConfig(augment=entries))
    return text[text.index("[[augment]]"):]


def augment_from_toml(text: str) -> list[dict]:
    """The augmenter list of [[augment]] tables; ConfigError naming 'augment'."""
    if not text.strip():
        return []
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"augment: not valid TOML ({exc}); write one [[augment]] table per "
                          f"augmenter, e.g.\n{AUGMENT_EXAMPLE}") from None
    extra = sorted(set(data) - {"augment"})
    if extra:
        raise ConfigError(f"augment: only [[augment]] tables belong here, found {extra[0]!r}")
    return data.get("augment", [])


def state_from_config(d: dict, refs: list[str]) -> dict:
    """Widget values ("train.<field>" -> value) showing config dict `d`.

    refs: the data references the selectors offer; any other reference goes to the path box.
    """
    state = {}
    for name, default in DEFAULTS.items():
        value = d.get(name, default)
        key = f"train.{name}"
        if name in REF_FIELDS:
            if value and (value in refs or value.startswith(("demo:", "dataset:"))):
                state[f"{key}.choice"], state[f"{key}.path"] = value, ""
            elif value:
                state[f"{key}.choice"], state[f"{key}.path"] = PATH, value
            else:
                state[f"{key}.choice"], state[f"{key}.path"] = NONE, ""
        elif name == "lora_target_modules":
            state[key] = ", ".join(value)
        elif name == "augment":
            state[key] = augment_to_toml(value)
        elif name == "name":
            state[key] = value or ""
        else:
            state[key] = value
    return state


def config_from_state(state: dict) -> dict:
    """The config dict the widget values describe (type-checked later by config_from_dict)."""
    d: dict = {}
    for name, default in DEFAULTS.items():
        key = f"train.{name}"
        if name in REF_FIELDS:
            choice = state.get(f"{key}.choice", NONE if name != "train" else PATH)
            value = (state.get(f"{key}.path") or "").strip() if choice == PATH else choice
            d[name] = None if choice == NONE or not value else value
            if name == "train" and d[name] is None:
                d[name] = ""
        elif name == "lora_target_modules":
            text = state.get(key, ", ".join(default))
            d[name] = [m.strip() for m in text.split(",") if m.strip()]
        elif name == "augment":
            d[name] = augment_from_toml(state.get(key, ""))
        else:
            d[name] = state.get(key, default)
    return d


def build_config(state: dict, store: Store) -> RunConfig:
    """A validated RunConfig from widget values; ConfigError naming the first bad key.
    Data references are checked against what the dashboard may read (engine/access.py)
    before any file is looked at, so a refused path says nothing about the server's files."""
    cfg = config_from_dict(config_from_state(state))
    validate(cfg)
    validate_names(cfg)
    actions.check_data(store, config_to_dict(cfg))
    check_references(cfg, store)  # the worker's check too: exist, suit the task, made absolute
    return cfg


# ---- step estimate and LR curve --------------------------------------------------------------

@st.cache_data(max_entries=8, show_spinner=False)
def _demo_sizes(name: str) -> dict[str, int]:
    return {k: len(v) for k, v in make_demo(name, seed=0).items()}


@st.cache_data(max_entries=8, show_spinner=False)
def _file_size(path: str, mtime: float, task: str, fmt: str) -> int:  # noqa: ARG001 - mtime: cache key
    cfg = RunConfig(task=task, format=fmt)
    return len(read_file(path, task=task, cfg=cfg))


def split_sizes(ref: str, store: Store, task: str, fmt: str) -> dict[str, int] | None:
    """Examples per split of a data reference, or None when unknown."""
    try:
        if ref.startswith("demo:"):
            return _demo_sizes(ref.split(":", 1)[1])
        if ref.startswith("dataset:"):
            ds_id = ref.split(":", 1)[1]
            for row in store.list_datasets():
                if row["id"] == ds_id:
                    return dict(row["meta"].get("splits", {}))
            return None
        path = Path(ref).expanduser()
        if access.under_roots(ref, _data_roots()) and path.is_file():
            return {"train": _file_size(str(path.resolve()), path.stat().st_mtime, task, fmt)}
    except (WorkbenchError, OSError):
        return None
    return None


def estimate_steps(cfg: dict, sizes: dict[str, int] | None) -> tuple[int, int, str]:
    """(total optimiser steps, training examples, how the count was found): the loop's count
    (core.config.total_steps) over the examples left after engine.data carves dev."""
    if sizes is None:
        n, how = ASSUMED_EXAMPLES, f"size unknown: assuming {ASSUMED_EXAMPLES} training examples"
    else:
        n = sizes.get("train", 0)
        how = f"{n} training examples"
        if not cfg.get("dev") and not sizes.get("dev"):
            n = int(n * (1 - DEV_FRACTION))
            how += f" less {DEV_FRACTION:.0%} held out as dev"
    if cfg.get("max_train_examples"):
        n = min(n, cfg["max_train_examples"])
    return total_steps(n, cfg), n, how


def curve_frame(cfg: dict, total: int) -> pl.DataFrame:
    """[step, lr] of the schedule over `total` steps (at most CURVE_POINTS rows)."""
    warmup = int(cfg["warmup_ratio"] * total)
    mult = lr_curve(total, warmup, cfg["schedule"], **schedule_params(cfg))
    steps = np.unique(np.linspace(0, total, min(total + 1, CURVE_POINTS)).round().astype(int))
    return pl.DataFrame({"step": steps, "lr": mult[steps] * cfg["learning_rate"]})


# ---- page ----------------------------------------------------------------------------------

def render() -> None:
    st.title("Train")
    st.caption("Set up a fine-tuning run, check its learning-rate schedule, and launch it. "
               "Runs wait in a queue and train in a separate process; the Runs page follows them.")
    store = get_store()
    refs = _references(store)
    _restore_state(refs)
    _presets_row(refs)
    cfg_now = _live_groups(store, refs)
    launch, check = _form(refs)
    if launch or check:
        _submit(store, launch)
    _export(cfg_now)
    _snapshot()


def _references(store: Store) -> list[str]:
    """Data references the selectors offer: demos, then stored datasets (newest first)."""
    return [f"demo:{n}" for n in DEMOS] + [f"dataset:{d['id']}" for d in store.list_datasets()]


def _widget_keys() -> list[str]:
    return [k for k in st.session_state if isinstance(k, str) and k.startswith("train.")
            and k.split(".")[1] in DEFAULTS]


def _restore_state(refs: list[str]) -> None:
    """Fill widget state on the first visit (Demo NER preset) or after leaving the page, or
    from a config another page handed over (e.g. a sweep's "Use best")."""
    handed = take_config("train")
    if handed is not None:
        for key in _widget_keys():
            del st.session_state[key]
        st.session_state["train.snapshot"] = state_from_config(handed["config"], refs)
        st.session_state["train.notice"] = handed["note"]
    snapshot = st.session_state.get("train.snapshot")
    if snapshot is None:
        try:
            initial = PRESETS["Demo NER"]()
        except (WorkbenchError, OSError):
            initial = config_to_dict(RunConfig(train=demo_of_task("ner")))
        snapshot = state_from_config(initial, refs)
    for key, value in snapshot.items():
        if key not in st.session_state:
            st.session_state[key] = value


def _snapshot() -> None:
    st.session_state["train.snapshot"] = {k: st.session_state[k] for k in _widget_keys()}


def _fill(d: dict) -> None:
    """Replace every widget value with those of config dict `d` (from a callback)."""
    refs = st.session_state.get("train.refs", [])
    for key in _widget_keys():
        del st.session_state[key]
    st.session_state.update(state_from_config(d, refs))
    st.session_state.pop("train.error", None)


def _load_preset() -> None:
    name = st.session_state.get("train.preset_choice")
    try:
        _fill(PRESETS[name]())
        st.session_state["train.notice"] = f"Loaded preset “{name}”."
    except (WorkbenchError, OSError) as exc:
        st.session_state["train.error"] = f"Preset “{name}”: {exc}"


def _import_toml() -> None:
    upload = st.session_state.get("train.import")
    if upload is None:
        return
    try:
        text = upload.getvalue().decode("utf-8")
    except UnicodeDecodeError:
        st.session_state["train.error"] = f"{upload.name}: not UTF-8 text"
        return
    try:
        _fill(config_to_dict(from_toml(text)))
        st.session_state["train.notice"] = f"Imported {upload.name}."
    except WorkbenchError as exc:
        st.session_state["train.error"] = f"{upload.name}: {exc}"


def _presets_row(refs: list[str]) -> None:
    st.session_state["train.refs"] = refs
    cols = st.columns([2, 1, 3])
    cols[0].selectbox("Preset", list(PRESETS), key="train.preset_choice",
                      help="Fill every field from a ready-made configuration.")
    cols[1].write("")
    cols[1].button("Load preset", key="train.preset_load", on_click=_load_preset)
    cols[2].file_uploader("Import a run config (TOML)", type=["toml"], key="train.import",
                          on_change=_import_toml)
    notice = st.session_state.pop("train.notice", None)
    if notice:
        st.success(notice)
    error = st.session_state.pop("train.error", None)
    if error:
        st.error(error)


def _draw(name: str, box, task: str, refs: list[str], *, disabled: bool = False) -> None:
    """The widget of config field `name` in container `box`."""
    key = f"train.{name}"
    help_text = FIELD_HELP[name]
    options = choices(name, task)
    if name in REF_FIELDS:
        _draw_reference(name, box, refs)
    elif options is not None:
        current = st.session_state.get(key)
        opts = list(options) + ([current] if current not in options and current else [])
        if current not in opts:
            st.session_state[key] = opts[0]
        box.selectbox(name, opts, key=key, help=help_text, disabled=disabled,
                      on_change=_on_task_change if name == "task" else None)
    elif name == "augment":
        box.text_area(name, key=key, help=help_text + " One [[augment]] table per augmenter.",
                      placeholder="# none; for example:\n" + AUGMENT_EXAMPLE, height=120)
    elif name == "lora_target_modules":
        box.text_input(name, key=key, help=help_text + " Comma-separated.")
    elif _base_type(name) is bool:
        box.checkbox(name, key=key, help=help_text)
    elif _base_type(name) is int:
        box.number_input(name, step=1, key=key, help=help_text, disabled=disabled,
                         **({"value": None, "placeholder": "unset"} if _is_optional(name) else {}))
    elif _base_type(name) is float:
        fmt, step = FLOAT_STYLE.get(name, ("%.2f", 0.01))
        box.number_input(name, step=step, format=fmt, key=key, help=help_text, disabled=disabled,
                         **({"value": None, "placeholder": "unset"} if _is_optional(name) else {}))
    else:
        box.text_input(name, key=key, help=help_text)


def _draw_reference(name: str, box, refs: list[str]) -> None:
    """A data selector (demos, stored datasets, a path) with its path box."""
    key = f"train.{name}"
    options = ([] if name == "train" else [NONE]) + refs + [PATH]
    choice = st.session_state.get(f"{key}.choice")
    if choice and choice.startswith(("demo:", "dataset:")) and choice not in options:
        options.insert(-1, choice)  # e.g. a deleted dataset: kept, and reported at launch
    elif choice not in options:
        st.session_state[f"{key}.choice"] = PATH
    labels = {NONE: "— none —" if name == "train" else "none (carve from train)" if name == "dev"
              else "none", PATH: "a file path…"}
    box.selectbox(f"{name} data", options, key=f"{key}.choice", help=FIELD_HELP[name],
                  format_func=lambda r: labels.get(r, r))
    if st.session_state[f"{key}.choice"] == PATH:
        roots = _data_roots()
        box.text_input(f"{name} path", key=f"{key}.path", placeholder="/path/to/file.conll",
                       help="A CoNLL, JSONL, CSV/TSV or Parquet file on the server, under one of "
                            "the data roots an admin lists in workbench.toml [access] data_roots "
                            f"({', '.join(roots) if roots else 'none are set: upload on the Data page'}).")


def _data_roots() -> tuple[str, ...]:
    try:
        return access_settings().data_roots
    except WorkbenchError:
        return ()


def _on_task_change() -> None:
    """Keep metric and demo data consistent with a newly chosen task."""
    task = st.session_state.get("train.task", "ner")
    if st.session_state.get("train.metric") not in METRICS.get(task, ()):
        st.session_state["train.metric"] = METRICS.get(task, ("f1_micro",))[0]
    if task != "ner":
        st.session_state["train.tag_scheme"], st.session_state["train.train_scheme"] = "auto", "IOB2"
    choice = st.session_state.get("train.train.choice", "")
    if choice.startswith("demo:") and DEMOS.get(choice[5:], {}).get("task") != task:
        st.session_state["train.train.choice"] = demo_of_task(task)


def _hidden(name: str, task: str) -> bool:
    """Fields that do not apply to the task are not drawn (their defaults are used)."""
    if task == "ner":
        return name in ("text_column", "label_column", "label_delimiter")
    return name in ("tag_scheme", "train_scheme", "label_alignment", "window_stride") or (
        name == "label_delimiter" and task != "multilabel")


def _grid(names: list[str], task: str, refs: list[str], ncols: int = 4, **kw) -> None:
    shown = [n for n in names if not _hidden(n, task)]
    cols = st.columns(ncols)
    for i, name in enumerate(shown):
        _draw(name, cols[i % ncols], task, refs, disabled=kw.get("disabled", {}).get(name, False))


def _live_groups(store: Store, refs: list[str]) -> dict | None:
    """Data and optimizer groups (outside the form) and the LR curve; the current config dict."""
    task = st.session_state.get("train.task", "ner")
    with st.container(border=True):
        st.markdown(f"**{GROUP_TITLES['data']}**")
        _grid(FIELD_GROUPS["data"], task, refs)
    with st.container(border=True):
        st.markdown(f"**{GROUP_TITLES['optimizer']}**")
        schedule = st.session_state.get("train.schedule")
        disabled = {p: schedule not in uses for p, uses in SCHEDULE_PARAMS.items()}
        _grid(FIELD_GROUPS["optimizer"], task, refs, disabled=disabled)
        try:
            cfg = config_from_state(dict(st.session_state))
        except WorkbenchError as exc:
            show_error(exc)
            return None
        _curve(cfg, store)
    return cfg


def _curve(cfg: dict, store: Store) -> None:
    """The learning rate over the estimated optimiser steps, for the chosen schedule."""
    sizes = split_sizes(cfg["train"], store, cfg["task"], cfg["format"]) if cfg["train"] else None
    try:
        total, _, how = estimate_steps(cfg, sizes)
        frame = curve_frame(cfg, total)
    except (WorkbenchError, TypeError, ValueError) as exc:
        st.warning(f"No learning-rate curve for these settings: {exc}")
        return
    warmup = int(cfg["warmup_ratio"] * total)
    repeats = cfg.get("repeats") if isinstance(cfg.get("repeats"), int) else 1
    times = f" × {repeats} runs (seeds {cfg['seed']}–{cfg['seed'] + repeats - 1})" if repeats > 1 else ""
    st.caption(f"Learning rate per optimiser step: {how} → ≈ {total} steps{times}, {warmup} of "
               f"them warmup ({cfg['schedule']}, peak {cfg['learning_rate']:.2g}).")
    chart = alt.Chart(frame).mark_line(strokeWidth=2).encode(
        x=alt.X("step:Q", title="optimiser step", scale=alt.Scale(nice=False)),
        y=alt.Y("lr:Q", title="learning rate", axis=alt.Axis(format=".1e")),
        tooltip=["step", alt.Tooltip("lr:Q", format=".3e")]).properties(height=200)
    st.altair_chart(chart, width="stretch")


def _form(refs: list[str]) -> tuple[bool, bool]:
    """The remaining stages in a form; (launch pressed, check pressed)."""
    task = st.session_state.get("train.task", "ner")
    with st.form("train.form", border=False):
        for group in FORM_GROUPS:
            with st.container(border=True):
                st.markdown(f"**{GROUP_TITLES[group]}**")
                if group == "augmentation":
                    _draw("augment", st, task, refs)
                else:
                    _grid(FIELD_GROUPS[group], task, refs)
        row = st.container(horizontal=True)
        launch = row.form_submit_button("Launch run", type="primary", key="train.launch")
        check = row.form_submit_button("Check settings", key="train.check")
    return launch, check


def _export(cfg: dict | None) -> None:
    if cfg is None:
        return
    try:
        text = to_toml(config_from_dict(cfg))
    except WorkbenchError as exc:
        st.caption(f"Export unavailable: {exc}")
        return
    st.download_button("Export settings as TOML", text, file_name=f"{cfg.get('name') or 'run'}.toml",
                       mime="application/toml", key="train.export",
                       help="For `python -m engine train --config FILE`. Form fields count as "
                            "last submitted.")


def _submit(store: Store, launch: bool) -> None:
    """Validate the settings; on Launch, enqueue the run and open it on the Runs page."""
    try:
        cfg = build_config(dict(st.session_state), store)
    except WorkbenchError as exc:
        st.error(str(exc))
        return
    except Exception as exc:  # never a traceback
        show_error(exc)
        return
    if not launch:
        st.success("Settings are valid.")
        return
    try:
        run_ids = actions.launch(acting_user(), store, config_to_dict(cfg))  # repeats N: N runs
        queue.ensure_daemon(store)
    except WorkbenchError as exc:
        show_error(exc)
        return
    run_id = run_ids[0]
    group = f" (group {groups.group_of(store, run_id)})" if len(run_ids) > 1 else ""
    remember_run(run_id)
    _snapshot()
    _open_run(run_id, f"Queued {len(run_ids)} runs{group}." if group else f"Queued run `{run_id}`.",
              announce=bool(group))


def _noop() -> None:
    """Stands for the Runs page in st.switch_page (pages are matched by url_path)."""


def _open_run(run_id: str, message: str, *, announce: bool = False) -> None:
    """Switch to the Runs page showing `run_id` (saying `message` there when `announce`), or
    say it here and link to the run when that page is not registered."""
    page = st.Page(_noop, title="Runs", url_path="runs")
    if _registered(page):
        if announce:
            flash("runs", message)
        st.switch_page(page, query_params={"run": run_id})
    st.query_params["run"] = run_id
    st.success(message)
    st.markdown(f"[Open the run](/runs?run={run_id})")


def _registered(page) -> bool:
    """Whether st.navigation registered a page at `page`'s url_path."""
    try:
        from streamlit.runtime.scriptrunner import get_script_run_ctx

        ctx = get_script_run_ctx()
        return page._script_hash in ctx.pages_manager.get_pages()  # noqa: SLF001
    except Exception:  # internal API: fall back to a link
        return False


if __name__ == "__main__":  # opened as a legacy pages/ script: let app.py route the URL
    from pages.common import hand_over_to_app

    hand_over_to_app()
