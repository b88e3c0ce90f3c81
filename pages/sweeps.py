"""Sweeps: define a search space over the Train page's knobs and launch an Optuna sweep over
the queue; follow its trials live (table, best so far, parallel coordinates, parameter
importance, intermediate dev scores) and open the best trial's configuration in Train.

Everything goes through engine.sweep (the study) and core (the sweep file, the schedules);
the page keeps nothing but widget state ("sweeps.*").
"""
from __future__ import annotations

import math
import typing
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from core.config import (ADAPTERS, ALIGNMENTS, FIELD_GROUPS, FIELD_HELP, METRICS, PRECISIONS,
                         RunConfig, config_to_dict, schedule_params)
from core.errors import ConfigError, WorkbenchError
from core.schedules import SCHEDULES, lr_curve
from core.spans import SCHEMES
from core.sweep import DIRECTIONS, FIXED, PRUNERS, SAMPLERS, spec_from_dict
from engine import actions, queue, sweep
from engine.data import load_config_file
from engine.store import Store
from pages.common import (STATE_ICONS, acting_user, can, choose_item, choose_run, flash,
                          fmt_duration, get_store, hand_over_to_app, link_to, open_with_config,
                          run_guarded, show_error, show_flash)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
TYPES = typing.get_type_hints(RunConfig)
GROUP_TITLES = {"data": "Data", "model": "Model and adapter", "loss": "Loss",
                "optimizer": "Optimizer and schedule", "regularisation": "Regularisation",
                "evaluation": "Evaluation", "hardware": "Hardware"}
# knobs a sweep cannot vary (core.sweep.FIXED), and those no single value can stand for:
# metric (the sweep's own metric picks each trial's checkpoint), lists of modules or augmenters
NOT_SEARCHED = set(FIXED) | {"metric", "lora_target_modules", "augment"}
BASE_RUN = "A run's config"
BASES = {BASE_RUN: None, "The NER demo": EXAMPLES / "demo_ner.toml",
         "The classification demo": EXAMPLES / "demo_classify.toml"}
# default ranges (low, high, log) of the usual knobs; others span half to twice the base value
FLOAT_RANGES = {"learning_rate": (1e-5, 3e-4, True), "adam_eps": (1e-9, 1e-6, True),
                "warmup_ratio": (0.0, 0.2, False), "weight_decay": (0.0, 0.1, False),
                "dropout": (0.0, 0.3, False), "lora_dropout": (0.0, 0.3, False),
                "label_smoothing": (0.0, 0.2, False), "focal_gamma": (0.5, 4.0, False),
                "lr_min_ratio": (0.0, 0.2, False), "adam_beta1": (0.85, 0.95, False),
                "adam_beta2": (0.98, 0.9999, False), "grad_clip": (0.5, 5.0, False),
                "train_fraction": (0.25, 1.0, False), "lr_cycles": (0.5, 2.0, False),
                "lr_power": (0.5, 2.0, False), "class_weight_beta": (0.9, 0.9999, False)}
FLOAT_FORMATS = {"learning_rate": "%.1e", "adam_eps": "%.1e", "adam_beta2": "%.4f",
                 "class_weight_beta": "%.4f"}
LOG_KNOBS = ("learning_rate", "adam_eps")
INT_RANGES = {"epochs": (1, 5), "lora_r": (4, 32), "lora_alpha": (8, 64), "grad_accum": (1, 4),
              "early_stopping_patience": (1, 5), "max_length": (64, 256)}
INT_VALUES = {"batch_size": "16, 32", "max_length": "64, 128, 256", "lora_r": "4, 8, 16"}
RANGE, VALUES = "range", "listed values"
LR_KNOBS = ("learning_rate", "warmup_ratio", "schedule")
CURVE_STEPS = 1000  # the LR curves are drawn over each trial's own training, in per cent
LIVE_EVERY_S = 3
LIVE_TRIALS = ("queued", "running", "waiting")
TRIAL_ICONS = {**STATE_ICONS, "waiting": "○"}
DONE_COLOUR, PRUNED_COLOUR, BEST_COLOUR = "#4e79a7", "#bab0ac", "#e15759"


# ---- page -----------------------------------------------------------------------------------

def render() -> None:
    st.title("Sweeps")
    st.caption("Search the Train page's knobs with Optuna: each trial is an ordinary queued "
               "run, judged by its dev score after every evaluation (a poor one is pruned). "
               "Active sweeps refresh every few seconds.")
    show_flash("sweeps")
    run_guarded(_body)


def _body() -> None:
    store = get_store()
    sweeps = sweep.list_sweeps(store)
    if can("sweep"):
        with st.expander("New sweep", expanded=not sweeps, icon=":material/tune:"):
            _new_sweep(store)
    if not sweeps:
        st.info("No sweep yet: define a search space above and launch it, or run "
                "`python -m engine sweep run examples/sweeps/demo_ner.toml`.")
        return
    chosen = choose_item("Sweep", sweeps, "sweep_id", "sweeps.chosen", _sweep_label)["sweep_id"]
    live = _is_live(sweep.show(store, chosen))
    show = st.fragment(_show_sweep, run_every=LIVE_EVERY_S if live else None)
    show(chosen, live)


def _sweep_label(s: dict) -> str:
    return (f"{s['sweep_id']} · {s['state']} · {s['trials']}/{s['budget']} trials · "
            f"{s['task']} · {s['direction']} {s['metric']}")


def _is_live(shown: dict) -> bool:
    return shown["state"] == "active" or any(t["state"] in LIVE_TRIALS for t in shown["trials"])


# ---- a new sweep ----------------------------------------------------------------------------

def _new_sweep(store: Store) -> None:
    base = _base_config(store)
    if base is None:
        return
    task = base["task"]
    knobs = st.multiselect(
        "Knobs to search", _searchable(task), default=["learning_rate"], key="sweeps.knobs",
        format_func=lambda n: f"{GROUP_TITLES.get(_group(n), _group(n))} · {n}",
        help="The Train page's settings; those that name the data or what a run is "
             "(task, data, seed, repeats, device) stay as in the base config.")
    if not knobs:
        st.info("Pick at least one knob to search.")
        return
    search, problem = {}, None
    for name in knobs:
        try:
            search[name] = _range_widget(name, base)
        except ConfigError as exc:
            problem = problem or str(exc)
    if any(k in knobs for k in LR_KNOBS) and problem is None:
        _lr_curves(base, search)
    settings = _settings_widgets(task, base)
    first = st.checkbox("Try the base config's values first", value=True, key="sweeps.enqueue",
                        help="Trial 0 runs the base config's own values of the searched knobs "
                             "(where they lie in the ranges): a baseline to beat.")
    if st.button("Launch sweep", type="primary", icon=":material/rocket_launch:", key="sweeps.launch"):
        if problem:
            st.error(problem)
            return
        _launch(store, base, search, settings, first)


def _base_config(store: Store) -> dict | None:
    """The run config every trial starts from: an existing run's, or a bundled demo's."""
    runs = store.list_runs()
    options = list(BASES) if runs else list(BASES)[1:]
    source = st.radio("Start from", options, horizontal=True, key="sweeps.base_source",
                      help="Each trial is this config with the searched knobs set by Optuna.")
    if BASES.get(source) is None:
        plain = next((r["id"] for r in runs if not r["status"].get("tags")), None)
        run = choose_run(runs, key="sweeps.base_run", label="Base run", default=plain)
        return None if run is None else dict(store.config(run["id"]))
    try:
        return config_to_dict(load_config_file(BASES[source]))
    except (WorkbenchError, OSError) as exc:
        show_error(exc)
        return None


def _group(name: str) -> str:
    return next((g for g, names in FIELD_GROUPS.items() if name in names), "")


def _searchable(task: str) -> list[str]:
    """The knobs a sweep may vary, in the Train page's order, those that fit `task`."""
    text_only = ("text_column", "label_column", "label_delimiter")
    ner_only = ("tag_scheme", "train_scheme", "label_alignment", "window_stride")
    out = []
    for names in FIELD_GROUPS.values():
        for name in names:
            if name in NOT_SEARCHED or (task == "ner" and name in text_only) or (
                    task != "ner" and name in ner_only):
                continue
            out.append(name)
    return out


def _plain_type(name: str):
    args = [a for a in typing.get_args(TYPES[name]) if a is not type(None)]
    return args[0] if args else TYPES[name]


def _choices(name: str) -> tuple | None:
    """The allowed values of an enum-like or registry knob, or None for a free one."""
    from core.losses import CLASS_WEIGHTS, LOSSES  # torch: imported when the page draws

    if _plain_type(name) is bool:
        return (True, False)
    return {"tag_scheme": ("auto",) + SCHEMES, "train_scheme": SCHEMES, "adapter": ADAPTERS,
            "label_alignment": ALIGNMENTS, "precision": PRECISIONS,
            "loss": tuple(LOSSES.names()), "class_weights": ("none",) + tuple(CLASS_WEIGHTS.names()),
            "schedule": tuple(SCHEDULES.names())}.get(name)


def _range_widget(name: str, base: dict) -> dict:
    """The distribution of knob `name` as a sweep file writes it ({"log_uniform": [lo, hi]},
    {"int": ...}, {"choice": [...]}), from a widget row suited to its type."""
    key = f"sweeps.knob.{name}"
    value = base.get(name)
    options, kind = _choices(name), _plain_type(name)
    with st.container(border=True):
        st.markdown(f"**{name}** · base config: {_param_text(value)}", help=FIELD_HELP[name])
        if options is not None:
            default = [value] + [o for o in options if o != value][:1] if value in options else list(options[:2])
            picked = st.multiselect("values", options, default=default, key=f"{key}.choice",
                                    label_visibility="collapsed")
            return {"choice": list(picked)}
        if kind is float:
            return _float_range(name, key, value)
        if kind is int:
            return _int_range(name, key, value)
        text = st.text_input("values (comma-separated)", value=str(value or ""), key=f"{key}.text",
                             help="One trial value per item, e.g. two model names.")
        return {"choice": [v.strip() for v in text.split(",") if v.strip()]}


def _float_range(name: str, key: str, value) -> dict:
    positive = isinstance(value, (int, float)) and value > 0
    if name in LOG_KNOBS and positive:
        lo, hi, log = float(f"{value / 5:.2g}"), float(f"{value * 5:.2g}"), True  # 1e-4: [2e-5, 5e-4]
    else:
        lo, hi, log = FLOAT_RANGES.get(name) or (
            (value / 2, value * 2, False) if positive else (0.0, 1.0, False))
    fmt = FLOAT_FORMATS.get(name, "%.3f")
    step = 10 ** math.floor(math.log10(lo)) if lo > 0 and fmt.endswith("e") else 0.001
    left, right, toggle = st.columns([2, 2, 1], vertical_alignment="bottom")
    low = left.number_input("low", value=float(lo), format=fmt, step=step, key=f"{key}.low")
    high = right.number_input("high", value=float(hi), format=fmt, step=step, key=f"{key}.high")
    on_log = toggle.toggle("log scale", value=log, key=f"{key}.log",
                           help="Sample evenly in log space: right for learning rates and "
                                "epsilons, whose useful values span powers of ten.")
    return {"log_uniform" if on_log else "uniform": [low, high]}


def _int_range(name: str, key: str, value) -> dict:
    lo, hi = INT_RANGES.get(name) or ((max(1, value // 2), max(2, value * 2))
                                      if isinstance(value, int) else (1, 10))
    mode = st.radio("search", (RANGE, VALUES), index=1 if name in INT_VALUES else 0,
                    horizontal=True, key=f"{key}.mode", label_visibility="collapsed")
    if mode == VALUES:
        text = st.text_input("values (comma-separated)", value=INT_VALUES.get(name, f"{lo}, {hi}"),
                             key=f"{key}.values")
        try:
            return {"choice": [int(v) for v in text.replace(" ", "").split(",") if v]}
        except ValueError:
            raise ConfigError(f"search.{name}: write whole numbers separated by commas, "
                              f"found {text!r}") from None
    left, right = st.columns(2)
    low = left.number_input("low", value=int(lo), step=1, key=f"{key}.low")
    high = right.number_input("high", value=int(hi), step=1, key=f"{key}.high")
    return {"int": [int(low), int(high)]}


def _ends(dist: dict | None, fallback) -> tuple:
    """(low end, high end) of a numeric distribution; (fallback, fallback) without one."""
    if not dist:
        return fallback, fallback
    (kind, bounds), = dist.items()
    values = [v for v in bounds if isinstance(v, (int, float))]
    return (min(values), max(values)) if values else (fallback, fallback)


def lr_curve_frame(base: dict, search: dict) -> pd.DataFrame:
    """[progress %, lr, end, title, schedule] of the learning rate over training at the low
    and high ends of the searched learning_rate and warmup_ratio ranges, for each searched
    schedule (or the base's)."""
    lrs = _ends(search.get("learning_rate"), base["learning_rate"])
    warmups = _ends(search.get("warmup_ratio"), base["warmup_ratio"])
    schedules = (search.get("schedule") or {}).get("choice") or [base["schedule"]]
    steps = np.arange(CURVE_STEPS + 1)
    frames = []
    for end, lr, warmup in (("low end", lrs[0], warmups[0]), ("high end", lrs[1], warmups[1])):
        for schedule in schedules:
            cfg = {**base, "schedule": schedule, "learning_rate": lr, "warmup_ratio": warmup}
            mult = lr_curve(CURVE_STEPS, int(warmup * CURVE_STEPS), schedule, **schedule_params(cfg))
            frames.append(pd.DataFrame({"progress": 100 * steps / CURVE_STEPS,
                                        "lr": mult[steps] * lr, "end": end, "schedule": schedule,
                                        "title": f"{end}: lr {lr:.1e}, warmup {warmup:.2f}"}))
    return pd.concat(frames, ignore_index=True)


def _lr_curves(base: dict, search: dict) -> None:
    """Two charts side by side, the low and the high end, each on its own scale (the ends of
    a learning-rate range lie powers of ten apart); one line per searched schedule."""
    try:
        df = lr_curve_frame(base, search)
    except (WorkbenchError, TypeError, ValueError) as exc:
        st.warning(f"No learning-rate curves for these ranges: {exc}")
        return
    several = df["schedule"].nunique() > 1
    for box, (_, part) in zip(st.columns(2), df.groupby("end", sort=False)):
        colour = (alt.Color("schedule:N", title=None, legend=alt.Legend(orient="bottom"))
                  if several else alt.value("#4e79a7"))
        chart = alt.Chart(part, title=str(part["title"].iloc[0])).mark_line(strokeWidth=2).encode(
            x=alt.X("progress:Q", title="share of the trial's optimiser steps (%)",
                    scale=alt.Scale(domain=[0, 100], nice=False)),
            y=alt.Y("lr:Q", title="learning rate", axis=alt.Axis(format=".1e")),
            color=colour, tooltip=["schedule:N", alt.Tooltip("progress:Q", format=".0f"),
                                   alt.Tooltip("lr:Q", format=".3e")])
        box.altair_chart(chart.properties(height=200), width="stretch")
    st.caption("The learning rate over a trial at the ends of the ranges. Warmup is a share "
               "of each trial's steps, so these shapes hold whatever batch size or epochs a "
               "trial draws; only the number of steps changes.")


def _settings_widgets(task: str, base: dict) -> dict:
    st.markdown("**Sweep settings**")
    row1 = st.columns(4)
    trials = row1[0].number_input("trials", 1, 500, 12, key="sweeps.trials",
                                  help="The budget: trials asked in all (a grid sweep stops "
                                       "sooner when its grid is covered).")
    sampler = row1[1].selectbox("sampler", SAMPLERS, key="sweeps.sampler",
                                help="tpe: model-based after a few random trials; random; grid: "
                                     "every combination of choice and int knobs.")
    pruner = row1[2].selectbox("pruner", PRUNERS, key="sweeps.pruner",
                               help="Stops a trial whose dev score at an evaluation falls below "
                                    "the median of earlier trials at the same evaluation.")
    metrics = METRICS[task]
    metric = row1[3].selectbox("metric", metrics, index=metrics.index(base["metric"])
                               if base.get("metric") in metrics else 0, key="sweeps.metric",
                               help="The dev score each trial is judged by.")
    row2 = st.columns(4)
    direction = row2[0].selectbox("direction", DIRECTIONS, key="sweeps.direction")
    parallel = row2[1].number_input("parallel trials", 1, 64, 1, key="sweeps.parallel",
                                    help="Trials in the queue at once; the queue's device "
                                         "slots bound how many train together.")
    seeds = row2[2].number_input("seeds per trial", 1, 10, 1, key="sweeps.seeds",
                                 help="> 1: each trial is a seed group; its value is the mean.")
    seed = row2[3].number_input("sampler seed", 0, 2**31 - 1, 0, key="sweeps.seed")
    name = st.text_input("name", key="sweeps.name", placeholder="from the base config's name")
    return {"trials": int(trials), "sampler": sampler, "pruner": pruner, "metric": metric,
            "direction": direction, "parallel": int(parallel), "seeds_per_trial": int(seeds),
            "seed": int(seed), "name": name.strip()}


def _launch(store: Store, base: dict, search: dict, settings: dict, first: bool) -> None:
    try:
        spec = spec_from_dict({"search": search, "sweep": settings}, base=base)
        if first:
            entry = {k: base[k] for k, d in spec.search.items() if d.contains(base.get(k))}
            if entry:
                spec = spec_from_dict({"search": search, "sweep": {**settings, "enqueue": [entry]}},
                                      base=base)
        sweep_id = actions.create_sweep(acting_user(), store, spec)
        sweep.tick(store, sweep_id)  # the first trials are queued at once
        queue.ensure_daemon(store)   # its scheduler ticks the sweep from now on
    except WorkbenchError as exc:
        st.error(str(exc))
        return
    st.session_state["sweeps.chosen"] = sweep_id
    flash("sweeps", f"Sweep {sweep_id} queued: {sweep.budget(spec)} trials. Each is an ordinary "
                    "run on the Runs page, tagged with the sweep.")
    st.rerun()


# ---- one sweep ------------------------------------------------------------------------------

def _show_sweep(sweep_id: str, was_live: bool) -> None:
    """The sweep's tiles, actions, trials and charts; redrawn every few seconds while live."""
    try:
        store = get_store()
        shown = sweep.show(store, sweep_id)
        if _is_live(shown) != was_live:
            st.rerun()  # start or stop the refresh
        _tiles(shown)
        _actions(store, shown)
        _trials_table(shown)
        left, right = st.columns(2)
        with left:
            _best_so_far(shown)
        with right:
            _importance(store, shown)
        _parallel_coordinates(shown)
        _intermediate(shown)
    except Exception as exc:  # noqa: BLE001 - a fragment's error is a message too
        show_error(exc)


def _fmt(value) -> str:
    return "—" if value is None else f"{value:.4f}"


def _space(search: dict) -> str:
    parts = []
    for name, dist in search.items():
        (kind, bounds), = dist.items()
        if kind == "choice":
            parts.append(f"{name} ∈ {{{', '.join(map(str, bounds))}}}")
        else:
            lo, hi = (f"{b:.1e}" if kind == "log_uniform" else f"{b:g}" for b in bounds)
            parts.append(f"{name} {kind.replace('_', '-')} [{lo}, {hi}]")
    return " · ".join(parts)


def _tiles(shown: dict) -> None:
    trials = shown["trials"]
    done = sum(t["state"] == "completed" for t in trials)
    pruned = sum(t["state"] == "pruned" for t in trials)
    running = sum(t["state"] in LIVE_TRIALS for t in trials)
    best = shown["best"]
    tiles = st.columns(4)
    tiles[0].metric("State", shown["state"], border=True,
                    help="active: asks new trials; stopped: asks none; done: budget spent")
    tiles[1].metric("Trials", f"{len(trials)} / {shown['budget']}", border=True,
                    help=f"{done} completed, {pruned} pruned, {running} queued or running")
    tiles[2].metric(f"Best {shown['metric']}", _fmt(best["value"] if best else None), border=True,
                    help=f"{shown['direction']} dev {shown['metric']}")
    tiles[3].metric("Best trial", f"#{best['number']}" if best else "—", border=True,
                    help=", ".join(f"{k} = {_param_text(v)}" for k, v in best["params"].items())
                    if best else "after the first completed trial")
    st.caption(f"{_space(shown['search'])} · sampler {shown['sampler']} · pruner "
               f"{shown['pruner']} · {shown['parallel']} in parallel · "
               f"{shown['seeds_per_trial']} seed(s) per trial")


def _param_text(value) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _actions(store: Store, shown: dict) -> None:
    sweep_id, best = shown["sweep_id"], shown["best"]
    with st.container(horizontal=True, vertical_alignment="center"):
        if best and can("launch") and st.button("Use best", type="primary", icon=":material/emoji_events:", key="sweeps.use_best",
                              help="Open the Train page with the best trial's configuration."):
            cfg = sweep.best_config(store, sweep_id)
            open_with_config("train", cfg, f"Loaded the best trial (#{best['number']}, "
                                           f"{shown['metric']} {best['value']:.4f}) of sweep "
                                           f"{sweep_id}.")
        editor = can("cancel")
        if shown["state"] == "active" and editor:
            if st.button("Stop", icon=":material/stop_circle:", key="sweeps.stop",
                         help="Ask no new trials; those in flight finish."):
                actions.stop_sweep(acting_user(), store, sweep_id)
                _flash(f"Sweep {sweep_id} stopped: no new trials; those in flight finish.")
            if st.button("Stop and cancel trials", icon=":material/block:", key="sweeps.cancel",
                         help="Ask no new trials and cancel the runs in flight."):
                actions.stop_sweep(acting_user(), store, sweep_id, cancel_runs=True)
                _flash(f"Sweep {sweep_id} stopped and its running trials cancelled.")
        elif shown["state"] == "stopped" and editor and st.button(
                "Resume", icon=":material/play_arrow:", key="sweeps.resume", help="Ask trials again, up to the budget."):
            actions.resume_sweep(acting_user(), store, sweep_id)
            sweep.tick(store, sweep_id)
            queue.ensure_daemon(store)
            _flash(f"Sweep {sweep_id} resumed.")
        if best and best["run_id"]:
            link_to("report", "Report of the best trial", ":material/bar_chart:", best["run_id"])
        link_to("runs", "Runs: the queue", ":material/list_alt:")


def _flash(message: str) -> None:
    flash("sweeps", message)
    st.rerun()


def trial_rows(shown: dict) -> pd.DataFrame:
    """One row per trial: number, state, value, each searched param, duration, run."""
    metric = shown["metric"]
    rows = []
    for t in shown["trials"]:
        row = {"#": t["number"], "State": f"{TRIAL_ICONS.get(t['state'], '•')} {t['state']}",
               metric: t["value"]}
        for name in shown["search"]:
            row[name] = t["params"].get(name)
        last = t["intermediate"][max(t["intermediate"])] if t["intermediate"] else None
        row.update({"Last eval": last, "Evals": len(t["intermediate"]),
                    "Duration": fmt_duration(t["duration_s"]), "Run": t["run_id"] or "—",
                    "Note": t["error"] or ""})
        rows.append(row)
    return pd.DataFrame(rows)


def _trials_table(shown: dict) -> None:
    if not shown["trials"]:
        st.info("No trial yet: the queue asks the first ones within a second or two.")
        return
    df = trial_rows(shown)
    config = {shown["metric"]: st.column_config.NumberColumn(
                  f"dev {shown['metric']}", format="%.4f",
                  help="the trial's value: its run's dev score (mean over seeds)"),
              "Last eval": st.column_config.NumberColumn(format="%.4f",
                                                         help="latest intermediate dev score"),
              "#": st.column_config.NumberColumn(width=50)}
    for name, dist in shown["search"].items():
        if "log_uniform" in dist:
            config[name] = st.column_config.NumberColumn(format="%.2e")
        elif "uniform" in dist:
            config[name] = st.column_config.NumberColumn(format="%.4f")
    if not df["Note"].any():
        df = df.drop(columns="Note")
    st.dataframe(df, hide_index=True, width="stretch", column_config=config, placeholder="—",
                 height=min(400, 38 + 35 * len(df)), key="sweeps.table")


def best_so_far_frame(shown: dict) -> pd.DataFrame:
    """[trial, value, kind, best]: completed trials' values, pruned trials' last evaluations,
    and the running best over the completed trials in trial order."""
    pick = max if shown["direction"] == "maximize" else min
    rows, best = [], None
    for t in sorted(shown["trials"], key=lambda t: t["number"]):
        if t["state"] == "completed" and t["value"] is not None:
            best = t["value"] if best is None else pick(best, t["value"])
            rows.append({"trial": t["number"], "value": t["value"], "kind": "completed",
                         "best": best})
        elif t["state"] == "pruned" and t["intermediate"]:
            rows.append({"trial": t["number"], "value": t["intermediate"][max(t["intermediate"])],
                         "kind": "pruned (last evaluation)", "best": best})
    return pd.DataFrame(rows, columns=["trial", "value", "kind", "best"])


def _best_so_far(shown: dict) -> None:
    df = best_so_far_frame(shown)
    if df.empty:
        st.info("The best-so-far curve starts with the first completed trial.")
        return
    metric = shown["metric"]
    x = alt.X("trial:Q", title="trial", axis=alt.Axis(format="d", tickMinStep=1))
    y = alt.Y("value:Q", title=f"dev {metric}", scale=alt.Scale(zero=False))
    dots = alt.Chart(df).mark_point(filled=True, size=70).encode(
        x=x, y=y, shape=alt.Shape("kind:N", title=None, scale=alt.Scale(
            domain=["completed", "pruned (last evaluation)"], range=["circle", "cross"])),
        color=alt.Color("kind:N", title=None, scale=alt.Scale(
            domain=["completed", "pruned (last evaluation)"], range=[DONE_COLOUR, PRUNED_COLOUR]),
            legend=alt.Legend(orient="bottom")),
        tooltip=["trial:Q", "kind:N", alt.Tooltip("value:Q", format=".4f")])
    step = alt.Chart(df.dropna(subset=["best"])).mark_line(
        interpolate="step-after", color=BEST_COLOUR, strokeWidth=2).encode(
        x=x, y=alt.Y("best:Q", title=f"dev {metric}"),
        tooltip=["trial:Q", alt.Tooltip("best:Q", format=".4f", title="best so far")])
    st.altair_chart(alt.layer(step, dots, title=f"Best so far (red) · dev {metric} per trial")
                    .properties(height=280), width="stretch")


def _position(value, dist: dict) -> float | None:
    """Where `value` sits on its axis, 0 (low end) to 1 (high end): log ranges in log space,
    choices at evenly spaced positions in their listed order."""
    (kind, bounds), = dist.items()
    if kind == "choice":
        if value not in bounds:
            return None
        return 0.5 if len(bounds) == 1 else bounds.index(value) / (len(bounds) - 1)
    if not isinstance(value, (int, float)):
        return None
    lo, hi = bounds
    if kind == "log_uniform":
        value, lo, hi = math.log(value), math.log(lo), math.log(hi)
    return 0.5 if hi == lo else (value - lo) / (hi - lo)


def _tick_labels(dist: dict) -> list[tuple[float, str]]:
    (kind, bounds), = dist.items()
    if kind == "choice":
        return [(_position(v, dist), str(v)) for v in bounds]
    fmt = (lambda v: f"{v:.0e}") if kind == "log_uniform" else (lambda v: f"{v:g}")
    return [(0.0, fmt(bounds[0])), (1.0, fmt(bounds[1]))]


def parallel_frame(shown: dict) -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """(lines, tick labels, axis order) of the parallel-coordinates chart: one line per
    completed or pruned trial over its params' normalised axes, then its value's axis."""
    metric, search = shown["metric"], shown["search"]
    trials = [t for t in shown["trials"] if t["state"] in ("completed", "pruned") and t["params"]]
    values = [t["value"] for t in trials if t["value"] is not None]
    vmin, vmax = (min(values), max(values)) if values else (0.0, 1.0)
    axes = list(search) + [metric]
    rows = []
    for t in trials:
        for name in search:
            pos = _position(t["params"].get(name), search[name])
            if pos is not None:
                rows.append({"trial": t["number"], "axis": name, "pos": pos, "state": t["state"],
                             "value": t["value"], "shown": _param_text(t["params"][name])})
        if t["value"] is not None:
            pos = 0.5 if vmax == vmin else (t["value"] - vmin) / (vmax - vmin)
            rows.append({"trial": t["number"], "axis": metric, "pos": pos, "state": t["state"],
                         "value": t["value"], "shown": f"{t['value']:.4f}"})
    ticks = [{"axis": name, "pos": pos, "label": label}
             for name in search for pos, label in _tick_labels(search[name])]
    if values and vmax > vmin:
        ticks += [{"axis": metric, "pos": 0.0, "label": f"{vmin:.3f}"},
                  {"axis": metric, "pos": 1.0, "label": f"{vmax:.3f}"}]
    elif values:
        ticks.append({"axis": metric, "pos": 0.5, "label": f"{vmin:.3f}"})
    return (pd.DataFrame(rows, columns=["trial", "axis", "pos", "state", "value", "shown"]),
            pd.DataFrame(ticks, columns=["axis", "pos", "label"]), axes)


def _parallel_coordinates(shown: dict) -> None:
    lines, ticks, axes = parallel_frame(shown)
    if lines.empty:
        return
    metric = shown["metric"]
    x = alt.X("axis:N", sort=axes, title=None,
              axis=alt.Axis(labelAngle=0, orient="top", labelFontWeight="bold", labelFontSize=12))
    y = alt.Y("pos:Q", axis=None, scale=alt.Scale(domain=[-0.1, 1.1]))
    tip = ["trial:Q", "state:N", "axis:N", "shown:N", alt.Tooltip("value:Q", format=".4f")]
    axis_rules = alt.Chart(pd.DataFrame({"axis": axes, "pos": 0.0, "top": 1.0})).mark_rule(
        color="#888").encode(x=x, y=y, y2="top:Q")
    pruned = alt.Chart(lines[lines["state"] == "pruned"]).mark_line(
        color=PRUNED_COLOUR, strokeDash=[4, 3], strokeWidth=1.5).encode(
        x=x, y=y, detail="trial:N", tooltip=tip)
    completed = alt.Chart(lines[lines["state"] == "completed"])
    def colour(legend):
        return alt.Color("value:Q", title=f"dev {metric}", scale=alt.Scale(scheme="viridis"),
                         legend=legend)

    # the points carry the legend: a line mark's colour legend would be symbols, not a gradient
    done = (completed.mark_line(strokeWidth=2.5)
            .encode(x=x, y=y, detail="trial:N", tooltip=tip, color=colour(None))
            + completed.mark_circle(size=40, opacity=1)
            .encode(x=x, y=y, tooltip=tip, color=colour(alt.Legend(format=".2f", type="gradient")))
            ).resolve_legend(color="independent")
    # range ends are labelled above and below their axis, clear of the lines; choices beside it
    ends = ticks[ticks["pos"].isin([0.0, 1.0])].assign(
        pos=lambda d: d["pos"].map({0.0: -0.07, 1.0: 1.07}))
    text = dict(fontSize=11, color="#444")
    labels = (alt.Chart(ends).mark_text(**text).encode(x=x, y=y, text="label:N")
              + alt.Chart(ticks[~ticks["pos"].isin([0.0, 1.0])]).mark_text(
                  align="left", dx=6, **text).encode(x=x, y=y, text="label:N"))
    chart = alt.layer(axis_rules, pruned, done, labels,
                      title="Parallel coordinates: one line per trial (dashed grey: pruned)"
                      ).resolve_legend(color="independent")
    st.altair_chart(chart.properties(height=320), width="stretch")
    st.caption("Each axis runs from the low to the high end of its range (log ranges in log "
               "space; choices in their listed order); the last axis is the trial's dev score.")


def _importance(store: Store, shown: dict) -> None:
    shares = sweep.importance(store, shown["sweep_id"])
    if not shares:
        st.info("Parameter importance needs at least two completed trials (and a parameter "
                "whose value varied between them).")
        return
    df = pd.DataFrame({"param": list(shares), "share": [100 * v for v in shares.values()]})
    chart = alt.Chart(df).mark_bar(
        color=DONE_COLOUR).encode(
        x=alt.X("share:Q", title="importance (%)", scale=alt.Scale(domain=[0, 100])),
        y=alt.Y("param:N", sort="-x", title=None),
        tooltip=["param:N", alt.Tooltip("share:Q", format=".1f", title="importance (%)")])
    text = chart.mark_text(align="left", dx=4, color="#333").encode(
        text=alt.Text("share:Q", format=".0f"))
    st.altair_chart(alt.layer(chart, text, title="Parameter importance (share of the score's "
                                                 "variance)")
                    .properties(height=max(120, 60 + 40 * len(df))), width="stretch")
    st.caption("fANOVA over the completed trials (optuna.importance): how much of the spread "
               "in dev score each parameter explains.")


def intermediate_frame(shown: dict) -> pd.DataFrame:
    """[trial, evaluation, value, state]: each trial's dev score at its k-th evaluation."""
    rows = [{"trial": t["number"], "evaluation": k, "value": v, "state": t["state"]}
            for t in shown["trials"] for k, v in t["intermediate"].items()]
    return pd.DataFrame(rows, columns=["trial", "evaluation", "value", "state"])


def _intermediate(shown: dict) -> None:
    df = intermediate_frame(shown)
    if df.empty:
        return
    metric = shown["metric"]
    x = alt.X("evaluation:Q", title="dev evaluation", axis=alt.Axis(format="d", tickMinStep=1))
    y = alt.Y("value:Q", title=f"dev {metric}", scale=alt.Scale(zero=False))
    tip = ["trial:Q", "state:N", "evaluation:Q", alt.Tooltip("value:Q", format=".4f")]
    pruned = alt.Chart(df[df["state"] == "pruned"]).mark_line(
        color=PRUNED_COLOUR, strokeDash=[4, 3], point=True).encode(
        x=x, y=y, detail="trial:N", tooltip=tip)
    others = alt.Chart(df[df["state"] != "pruned"]).mark_line(point=True).encode(
        x=x, y=y, color=alt.Color("trial:N", title="trial", legend=alt.Legend(columns=2)),
        tooltip=tip)
    st.altair_chart(alt.layer(pruned, others, title=f"Dev {metric} at each evaluation, per trial "
                                                    "(dashed grey: pruned)")
                    .properties(height=280), width="stretch")


if __name__ == "__main__":  # opened as a legacy pages/ script: let app.py route the URL
    hand_over_to_app()
