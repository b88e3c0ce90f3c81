"""Train: every RunConfig knob grouped by stage, presets, TOML import/export, the learning-rate
curve of the chosen schedule, and Launch (enqueue the run and open it on the Runs page).

Widgets are keyed "train.<field>" and labelled with core.config.FIELD_LABELS (the key is in
the help). Data, schedule, model and loss fields are live (outside the form) so the step
estimate, the LR curve and the greyed-out knobs (`inapplicable`) follow them; the other stages
sit in a form submitted by Launch. Check settings and Launch run the worker's early checks
(engine/preflight.py) first. Widget values are snapshot in session_state["train.snapshot"] so
that leaving the page and coming back (which drops widget state) keeps the settings. A run
config another page hands over (a sweep's "Use best" through pages.common.open_with_config,
or the Runs page's st.session_state["train_from_config"]) loads as an imported TOML does.
"""
from __future__ import annotations

import tomllib
import typing
from pathlib import Path

import altair as alt
import numpy as np
import polars as pl
import streamlit as st

from core.config import (ADAPTERS, ALIGNMENTS, DECODINGS, FIELD_GROUPS, FIELD_HELP,
                         FIELD_LABELS, FORMATS, METRICS, PRECISIONS, TASKS, RunConfig,
                         config_from_dict, config_to_dict, from_toml, schedule_params, to_toml,
                         total_steps, validate, validate_names)
from core.demo import DEMOS, make_demo
from core.errors import ConfigError, WorkbenchError
from core.schedules import SCHEDULES, lr_curve
from core.spans import SCHEMES
from engine import access, actions, groups, preflight, queue
from engine.data import DEV_FRACTION, REF_FIELDS, load_config_file, read_file
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
# Drawn outside the form, so that the LR curve and the greyed-out knobs follow them at once.
LIVE_GROUPS = ("data", "optimizer", "model", "loss")
FORM_GROUPS = ("regularisation", "evaluation", "hardware", "augmentation")
PATH = "path"  # selector choice: a file path or any other reference typed by hand
NONE = "none"
CUSTOM = "— custom settings —"  # preset choice once the form holds no preset
NER_ONLY = ("tag_scheme", "train_scheme", "label_alignment", "window_stride", "context",
            "decoding")
LORA = ("lora_r", "lora_alpha", "lora_dropout", "lora_target_modules")
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
            "schedule": tuple(SCHEDULES.names()), "decoding": DECODINGS}.get(name)


def inapplicable(state: dict) -> set[str]:
    """Knobs the other settings (widget values "train.<field>") make irrelevant: drawn greyed
    out, their values kept, as lr_cycles is for a schedule without cycles."""
    get = lambda name, default=None: state.get(f"train.{name}", default)  # noqa: E731
    off = {p for p, uses in SCHEDULE_PARAMS.items() if get("schedule") not in uses}
    if get("loss") != "focal.v1":
        off.add("focal_gamma")
    if get("adapter") != "lora":
        off.update(LORA)
    if get("class_weights") != "effective_number.v1":
        off.add("class_weight_beta")
    if get("task", "ner") != "ner":
        off.update(NER_ONLY)
    return off


def help_of(name: str) -> str:
    """A knob's help with its config key (as TOML files and the CLI's --set spell it)."""
    return f"{FIELD_HELP[name]} Config key: `{name}`."


def demo_of_task(task: str) -> str:
    """The first bundled demo for `task` (a reference like 'demo:demo-ner')."""
    for name, info in DEMOS.items():
        if info["task"] == task:
            return f"demo:{name}"
    return f"demo:{next(iter(DEMOS))}"


def canonical_ref(ref: str | None) -> str | None:
    """A demo reference in its full form ('demo:ner' -> 'demo:demo-ner', as make_demo reads
    both), so that the selectors list each demo once; other references unchanged."""
    if ref and ref.startswith("demo:"):
        name = ref[5:]
        if name not in DEMOS and f"demo-{name}" in DEMOS:
            return f"demo:demo-{name}"
    return ref


def canonical(d: dict) -> dict:
    """Config dict `d` with its data references in canonical form."""
    return {**d, **{k: canonical_ref(d[k]) for k in REF_FIELDS if k in d}}


def reference_info(store: Store) -> dict[str, tuple[str, str]]:
    """{reference: (label, task)} of the data the selectors offer: the demos, then the
    stored datasets (newest first) by name; the reference (the id) stays the value."""
    info = {f"demo:{n}": (f"{n} (demo, {d['task']})", d["task"]) for n, d in DEMOS.items()}
    rows = store.list_datasets()
    names = [row["name"] for row in rows]
    for row in rows:
        sizes = ", ".join(f"{k} {v:,}" for k, v in row["meta"].get("splits", {}).items())
        same = f" · {row['id']}" if names.count(row["name"]) > 1 else ""
        info[f"dataset:{row['id']}"] = (f"{row['name']} ({row['task']}: {sizes}){same}",
                                        row["task"])
    return info


def suits(data_task: str, task: str) -> bool:
    """Whether data of `data_task` can serve `task` (engine.data's rule: classification data
    serves multilabel too)."""
    return data_task == task or (task == "multilabel" and data_task == "classification")


def none_label(split: str, sizes: dict[str, int] | None) -> str:
    """What a run uses for `split` when its selector says none: the training data's own split
    (a demo's or stored dataset's), else for dev a share of train held out, else nothing."""
    if sizes and sizes.get(split):
        return f"the dataset's own {split} split ({sizes[split]:,} examples)"
    if split == "dev":
        return f"none: hold out {DEV_FRACTION:.0%} of train"
    return "none"


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


def changed_keys(cfg: dict, preset: dict) -> list[str]:
    """The knobs in which config dict `cfg` differs from `preset` (the run's name aside;
    data references compared in canonical form)."""
    a, b = canonical(cfg), canonical(preset)
    return [k for k in DEFAULTS if k != "name" and a.get(k, DEFAULTS[k]) != b.get(k, DEFAULTS[k])]


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
            value = canonical_ref(value)
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


def check_settings(state: dict, store: Store) -> tuple[RunConfig, list[str]]:
    """(a RunConfig the worker will accept, warnings) from widget values; ConfigError naming
    the first bad key, or the DataError the worker's first read would give. Data references
    are checked against what the dashboard may read (engine/access.py) before any file is
    looked at, so a refused path says nothing about the server's files; then the worker's own
    early checks (engine/preflight.py: model, device, data and their task, max_length, labels;
    relative paths made absolute)."""
    cfg = config_from_dict(config_from_state(state))
    validate(cfg)
    validate_names(cfg)
    actions.check_data(store, config_to_dict(cfg))
    return cfg, preflight.check(cfg, store=store)


def build_config(state: dict, store: Store) -> RunConfig:
    """check_settings' RunConfig (its warnings dropped)."""
    return check_settings(state, store)[0]


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
    (core.config.total_steps) over the examples engine.data.load_splits leaves: dev carved,
    then the first max_train_examples, then a train_fraction share."""
    from core.curve import subset_target

    if sizes is None:
        n, how = ASSUMED_EXAMPLES, f"size unknown: assuming {ASSUMED_EXAMPLES:,} training examples"
    else:
        n = sizes.get("train", 0)
        how = f"{n:,} training examples"
        if not cfg.get("dev") and not sizes.get("dev"):
            n = int(n * (1 - DEV_FRACTION))
            how = f"{n:,} training examples ({sizes.get('train', 0):,} less " \
                  f"{DEV_FRACTION:.0%} held out as dev)"
    cap = cfg.get("max_train_examples")
    if isinstance(cap, int) and 0 < cap < n:
        how = f"{cap:,} training examples (max_train_examples: the first {cap:,} of " \
              f"{how.split(' training', 1)[0]})"
        n = cap
    share = cfg.get("train_fraction")
    if isinstance(share, (int, float)) and 0 < share < 1 and n:
        n = subset_target(n, share)
        how = f"≈ {n:,} training examples (train_fraction {share:g} of {how})"
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
    _presets_row()
    cfg_now = _live_groups(store, refs)
    launch, check = _form(refs)
    if launch or check:
        _submit(store, launch)
    _export(cfg_now)
    _snapshot()


def _references(store: Store) -> list[str]:
    """Data references the selectors offer (demos, then stored datasets, newest first); their
    labels and tasks wait in session_state for the selectors and callbacks."""
    info = reference_info(store)
    st.session_state["train.refs"] = list(info)
    st.session_state["train.ref_info"] = info
    return list(info)


def _widget_keys() -> list[str]:
    return [k for k in st.session_state if isinstance(k, str) and k.startswith("train.")
            and k.split(".")[1] in DEFAULTS]


def _restore_state(refs: list[str]) -> None:
    """Fill widget state on the first visit (Demo NER preset) or after leaving the page, or
    from a config another page handed over (a sweep's "Use best"; the Runs page's clone)."""
    handed = take_config("train")
    if handed is not None:
        _load_config(handed["config"], handed["note"], "the handed-over settings")
    elif "train_from_config" in st.session_state:
        _take_run_config()
    snapshot = st.session_state.get("train.snapshot")
    if snapshot is None and not _widget_keys():
        try:
            initial = PRESETS["Demo NER"]()
            st.session_state["train.preset_origin"] = {"name": "Demo NER", "config": initial}
        except (WorkbenchError, OSError):
            initial = config_to_dict(RunConfig(train=demo_of_task("ner")))
        snapshot = state_from_config(initial, refs)
    for key, value in (snapshot or {}).items():
        if key not in st.session_state:
            st.session_state[key] = value


def _take_run_config() -> None:
    """The run config the Runs page left in session_state["train_from_config"] (its run's name
    or id in "train_from_run"), loaded once."""
    config = st.session_state.pop("train_from_config")
    run = st.session_state.pop("train_from_run", None)
    where = f"run {run}" if run else "the run"
    if not isinstance(config, dict):
        st.session_state["train.error"] = f"{where}: its settings are not a config table"
        return
    _load_config(config, f"Loaded from {where}.", where)


def _snapshot() -> None:
    st.session_state["train.snapshot"] = {k: st.session_state[k] for k in _widget_keys()}


def _fill(d: dict) -> None:
    """Replace every widget value with those of config dict `d` (from a callback, or before
    the widgets are drawn)."""
    refs = st.session_state.get("train.refs", [])
    for key in _widget_keys():
        del st.session_state[key]
    st.session_state.update(state_from_config(d, refs))
    st.session_state.pop("train.error", None)


def _load_config(d: dict, note: str, source: str) -> None:
    """Fill the form from config dict `d`, type-checked first (an unknown key or a wrong type
    is reported naming `source`, the form kept); the form then holds no preset."""
    try:
        cfg = config_from_dict(dict(d))
    except WorkbenchError as exc:
        st.session_state["train.error"] = f"{source}: {exc}"
        return
    _fill(config_to_dict(cfg))
    st.session_state.pop("train.preset_origin", None)
    st.session_state["train.preset_choice"] = CUSTOM
    st.session_state["train.notice"] = note


def _load_preset() -> None:
    name = st.session_state.get("train.preset_choice")
    if name not in PRESETS:
        st.session_state["train.error"] = "Pick a preset to load."
        return
    try:
        preset = PRESETS[name]()
    except (WorkbenchError, OSError) as exc:
        st.session_state["train.error"] = f"Preset “{name}”: {exc}"
        return
    _fill(preset)
    st.session_state["train.preset_origin"] = {"name": name, "config": preset}
    st.session_state["train.notice"] = f"Loaded preset “{name}”."


def _import_toml() -> None:
    upload = st.session_state.get("train.import")
    if upload is None:
        return
    try:
        d = config_to_dict(from_toml(upload.getvalue().decode("utf-8")))
    except UnicodeDecodeError:
        st.session_state["train.error"] = f"{upload.name}: not UTF-8 text"
        return
    except WorkbenchError as exc:
        st.session_state["train.error"] = f"{upload.name}: {exc}"
        return
    _load_config(d, f"Imported {upload.name}.", upload.name)


def _track_preset() -> None:
    """Once the settings differ from the preset they were loaded from, the form stops
    claiming it: the picker says custom settings, and a run name that is still the preset's
    is cleared (the run is named by its task), each said once."""
    origin = st.session_state.get("train.preset_origin")
    if not origin:
        return
    try:
        changed = changed_keys(config_from_state(dict(st.session_state)), origin["config"])
    except WorkbenchError:
        changed = ["augment"]  # text that is no [[augment]] table: not the preset's
    if not changed:
        return
    st.session_state.pop("train.preset_origin")
    st.session_state["train.preset_choice"] = CUSTOM
    shown = ", ".join(changed[:4]) + (f" and {len(changed) - 4} more" if len(changed) > 4 else "")
    message = f"Changed from preset “{origin['name']}” ({shown})"
    name = origin["config"].get("name")
    if name and st.session_state.get("train.name") == name:
        st.session_state["train.name"] = ""
        message += f": the run is no longer named “{name}”; give it a name of its own"
    st.session_state["train.info"] = message + "."


def _presets_row() -> None:
    _track_preset()
    if st.session_state.get("train.preset_choice") not in (CUSTOM, *PRESETS):
        origin = st.session_state.get("train.preset_origin")
        st.session_state["train.preset_choice"] = origin["name"] if origin else CUSTOM
    cols = st.columns([2, 1, 3])
    cols[0].selectbox("Preset", [CUSTOM, *PRESETS], key="train.preset_choice",
                      help="Fill every field from a ready-made configuration: pick one, then "
                           "Load preset. Shows the preset the form holds, until a setting "
                           "changes.")
    cols[1].write("")
    cols[1].button("Load preset", key="train.preset_load", on_click=_load_preset)
    cols[2].file_uploader("Import a run config (TOML)", type=["toml"], key="train.import",
                          on_change=_import_toml)
    for key, show in (("train.notice", st.success), ("train.info", st.info),
                      ("train.error", st.error)):
        message = st.session_state.pop(key, None)
        if message:
            show(message)


def _draw(name: str, box, task: str, refs: list[str], *, disabled: bool = False,
          none_text: str | None = None) -> None:
    """The widget of config field `name` in container `box`, labelled for people, its key in
    the help; greyed out when `disabled`."""
    key = f"train.{name}"
    label, help_text = FIELD_LABELS[name], help_of(name)
    options = choices(name, task)
    if name in REF_FIELDS:
        _draw_reference(name, box, refs, none_text)
    elif options is not None:
        current = st.session_state.get(key)
        opts = list(options) + ([current] if current not in options and current else [])
        if current not in opts:
            st.session_state[key] = opts[0]
        box.selectbox(label, opts, key=key, help=help_text, disabled=disabled,
                      on_change=_on_task_change if name == "task" else None)
    elif name == "augment":
        box.text_area(label, key=key, help=help_text + " One [[augment]] table per augmenter.",
                      placeholder="# none; for example:\n" + AUGMENT_EXAMPLE, height=120,
                      disabled=disabled)
    elif name == "lora_target_modules":
        box.text_input(label, key=key, help=help_text + " Comma-separated.", disabled=disabled)
    elif _base_type(name) is bool:
        box.checkbox(label, key=key, help=help_text, disabled=disabled)
    elif _base_type(name) is int:
        box.number_input(label, step=1, key=key, help=help_text, disabled=disabled,
                         **({"value": None, "placeholder": "unset"} if _is_optional(name) else {}))
    elif _base_type(name) is float:
        fmt, step = FLOAT_STYLE.get(name, ("%.2f", 0.01))
        box.number_input(label, step=step, format=fmt, key=key, help=help_text, disabled=disabled,
                         **({"value": None, "placeholder": "unset"} if _is_optional(name) else {}))
    else:
        box.text_input(label, key=key, help=help_text, disabled=disabled)


def _draw_reference(name: str, box, refs: list[str], none_text: str | None = None) -> None:
    """A data selector (demos and stored datasets by name, a path) with its path box;
    `none_text` says what the run uses when none is chosen."""
    key = f"train.{name}"
    options = ([] if name == "train" else [NONE]) + refs + [PATH]
    choice = canonical_ref(st.session_state.get(f"{key}.choice"))
    if choice and choice.startswith(("demo:", "dataset:")) and choice not in options:
        options.insert(-1, choice)  # e.g. a deleted dataset: kept, and reported at launch
    elif choice not in options:
        choice = PATH
    st.session_state[f"{key}.choice"] = choice
    info = st.session_state.get("train.ref_info", {})
    labels = {NONE: none_text or ("none" if name != "dev" else none_label("dev", None)),
              PATH: "a file path…"}
    box.selectbox(FIELD_LABELS[name], options, key=f"{key}.choice", help=help_of(name),
                  format_func=lambda r: labels.get(r) or info.get(r, (r,))[0],
                  on_change=_on_train_change if name == "train" else None)
    if st.session_state[f"{key}.choice"] == PATH:
        roots = _data_roots()
        box.text_input(f"{FIELD_LABELS[name]}: file path", key=f"{key}.path",
                       placeholder="/path/to/file.conll",
                       help="A CoNLL, JSONL, CSV/TSV or Parquet file on the server, under one of "
                            "the data roots an admin lists in workbench.toml [access] data_roots "
                            f"({', '.join(roots) if roots else 'none are set: upload on the Data page'}).")


def _data_roots() -> tuple[str, ...]:
    try:
        return access_settings().data_roots
    except WorkbenchError:
        return ()


def _on_task_change() -> None:
    """Keep metric, demo data and the NER-only knobs consistent with a newly chosen task."""
    task = st.session_state.get("train.task", "ner")
    if st.session_state.get("train.metric") not in METRICS.get(task, ()):
        st.session_state["train.metric"] = METRICS.get(task, ("f1_micro",))[0]
    if task != "ner":
        st.session_state["train.tag_scheme"], st.session_state["train.train_scheme"] = "auto", "IOB2"
        st.session_state["train.context"] = 0  # validate: neighbouring sentences are NER's
    choice = st.session_state.get("train.train.choice", "")
    if choice.startswith("demo:") and DEMOS.get(choice[5:], {}).get("task") != task:
        st.session_state["train.train.choice"] = demo_of_task(task)


def _on_train_change() -> None:
    """The task follows the training data: a demo or stored dataset of another task switches
    it (and the metric and NER-only knobs with it)."""
    ref = st.session_state.get("train.train.choice")
    label, data_task = st.session_state.get("train.ref_info", {}).get(ref, (ref, None))
    if data_task is None or suits(data_task, st.session_state.get("train.task", "ner")):
        return
    st.session_state["train.task"] = data_task
    _on_task_change()
    st.session_state["train.notice"] = f"Task set to '{data_task}': {label} holds {data_task} data."


def _hidden(name: str, task: str) -> bool:
    """Text-table fields are not drawn for NER, nor the label separator for a single-label
    task (their defaults are used); NER-only knobs are greyed out instead (`inapplicable`)."""
    if task == "ner":
        return name in ("text_column", "label_column", "label_delimiter")
    return name == "label_delimiter" and task != "multilabel"


def _grid(names: list[str], task: str, refs: list[str], ncols: int = 4, *,
          disabled: set[str] | frozenset = frozenset(), none_texts: dict | None = None) -> None:
    shown = [n for n in names if not _hidden(n, task)]
    cols = st.columns(ncols)
    for i, name in enumerate(shown):
        _draw(name, cols[i % ncols], task, refs, disabled=name in disabled,
              none_text=(none_texts or {}).get(name))


def _none_texts(store: Store) -> dict[str, str]:
    """What the dev and test selectors' "none" means for the chosen training data: its own
    split (a demo's or stored dataset's), else dev held out of train."""
    ref = st.session_state.get("train.train.choice") or ""
    sizes = None
    if ref.startswith(("demo:", "dataset:")):
        sizes = split_sizes(ref, store, st.session_state.get("train.task", "ner"),
                            st.session_state.get("train.format", "auto"))
    return {split: none_label(split, sizes) for split in ("dev", "test")}


def _live_groups(store: Store, refs: list[str]) -> dict | None:
    """Data, optimizer, model and loss groups (outside the form) and the LR curve; the current
    config dict."""
    task = st.session_state.get("train.task", "ner")
    off = inapplicable(dict(st.session_state))
    with st.container(border=True):
        st.markdown(f"**{GROUP_TITLES['data']}**")
        _grid(FIELD_GROUPS["data"], task, refs, disabled=off, none_texts=_none_texts(store))
    with st.container(border=True):
        st.markdown(f"**{GROUP_TITLES['optimizer']}**")
        _grid(FIELD_GROUPS["optimizer"], task, refs, disabled=off)
        try:
            cfg = config_from_state(dict(st.session_state))
        except WorkbenchError as exc:
            show_error(exc)
            cfg = None
        if cfg is not None:
            _curve(cfg, store)
    for group in LIVE_GROUPS[2:]:
        with st.container(border=True):
            st.markdown(f"**{GROUP_TITLES[group]}**")
            _grid(FIELD_GROUPS[group], task, refs, disabled=off)
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
    off = inapplicable(dict(st.session_state))
    with st.form("train.form", border=False):
        for group in FORM_GROUPS:
            with st.container(border=True):
                st.markdown(f"**{GROUP_TITLES[group]}**")
                if group == "augmentation":
                    _draw("augment", st, task, refs)
                else:
                    _grid(FIELD_GROUPS[group], task, refs, disabled=off)
        row = st.container(horizontal=True)
        launch = row.form_submit_button("Launch run", type="primary", key="train.launch")
        check = row.form_submit_button("Check settings", key="train.check",
                                       help="Run the worker's early checks (model, device, data "
                                            "and their task, max_length, labels) without "
                                            "queueing anything.")
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
    """Run the worker's early checks; on Launch, enqueue the run and open it on the Runs page
    (its warnings said there)."""
    try:
        cfg, warnings = check_settings(dict(st.session_state), store)
    except WorkbenchError as exc:
        st.error(str(exc))
        return
    except Exception as exc:  # never a traceback
        show_error(exc)
        return
    for warning in warnings:
        st.warning(warning)
    if not launch:
        st.success("Settings are valid: the model, device, data and labels pass the checks the "
                   "worker makes first." + (" See the warnings above." if warnings else ""))
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
    message = f"Queued {len(run_ids)} runs{group}." if group else f"Queued run `{run_id}`."
    if warnings:
        message += " Warning: " + " ".join(warnings)
    _open_run(run_id, message, announce=bool(group or warnings))


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
