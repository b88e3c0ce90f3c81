"""Learning curve: how the dev score grows with the training data, per entity type (or class),
a power-law fit's prediction at twice the data, and which types still rise; and launching a
new curve from an existing run's config. Everything is read through engine/curve."""
from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from core.errors import WorkbenchError
from engine import actions, queue
from engine.curve import (MAX_SEEDS, curve_result, fit_sentence, list_curves, parse_fractions,
                          rising_sentence, share_label)
from pages.common import (acting_user, can, choose_item, flash, get_store, hand_over_to_app,
                          link_to, run_label, run_guarded, show_error, show_flash, type_colour)

DEFAULT_SHARES = "0.1,0.25,0.5,1.0"
OVERALL = "all types"
OVERALL_COLOUR = "#222222"
FIT_COLOUR = "#7f7f7f"
METRIC_TITLES = {"f1_micro": "micro F1", "f1_macro": "macro F1", "accuracy": "accuracy"}
DODGE = 1.03  # x factor between neighbouring series at one size (log axis)
LIVE_EVERY_S = 5  # refresh while runs of the shown curve are queued or running


def render() -> None:
    st.title("Learning curve")
    st.caption("Train one config on nested, seeded shares of its training data, a few seeds "
               "each, to see how the dev score grows with more labels — overall and per entity "
               "type — and what twice the data would likely bring.")
    show_flash("curve")
    run_guarded(_body)


def _body() -> None:
    store = get_store()
    curves = list_curves(store)
    if can("curve"):
        with st.expander("Launch a new curve", expanded=not curves, icon=":material/rocket_launch:"):
            _launch(store)
    if not curves:
        st.info("No learning curve yet: launch one above from the config of an existing run, "
                "or run `python -m engine curve --config RUN.toml`.")
        return
    picked = choose_item("Curve", curves, "curve_id", "curve.chosen", _curve_label)
    chosen = picked["curve_id"]
    live = picked["pending"] > 0
    show = st.fragment(_show_curve, run_every=LIVE_EVERY_S if live else None)
    show(chosen)


def _curve_label(c: dict) -> str:
    shares = ", ".join(share_label(f) for f in c["fractions"])
    return (f"{c['curve_id']} · {c['task']} · {shares} · {c['seeds']} seed(s) · "
            f"{c['completed']}/{c['runs']} done")


# ---- launching ---------------------------------------------------------------------------------

def _launch(store) -> None:
    runs = store.list_runs()
    if not runs:
        st.info("A curve starts from the config of an existing run: train one first.")
        link_to("train", "Train a run", ":material/rocket_launch:")
        return
    by_id = {r["id"]: r for r in runs}
    untagged = [r["id"] for r in runs if not r["status"].get("tags")]
    base_id = st.selectbox("Base config: the settings of run", untagged + [i for i in by_id
                           if i not in untagged], key="curve.base",
                           format_func=lambda i: run_label(by_id[i]),
                           help="Every point of the curve trains this run's config, with its "
                                "own share of the training data and seed.")
    left, right = st.columns([3, 1])
    shares = left.text_input("Shares of the training data", DEFAULT_SHARES, key="curve.shares",
                             help="Comma-separated shares in (0, 1]. The subsets are nested "
                                  "(each share holds the smaller ones) and taken by document "
                                  "when the data has documents; dev stays the same.")
    seeds = right.number_input("Seeds per share", 1, MAX_SEEDS, 2, key="curve.seeds",
                               help="Runs per share with seeds seed, seed+1, ...: the spread "
                                    "between them gives the error bars.")
    try:
        fractions = parse_fractions(shares, key="Shares of the training data")
    except WorkbenchError as exc:
        show_error(exc)
        return
    st.caption(f"{len(fractions)} shares × {int(seeds)} seed(s) = "
               f"**{len(fractions) * int(seeds)} runs**, queued one after another.")
    if st.button("Launch curve", type="primary", key="curve.launch"):
        try:
            curve_id = actions.launch_curve(acting_user(), store, store.config(base_id), fractions,
                                            int(seeds))
            queue.ensure_daemon(store)
        except WorkbenchError as exc:
            show_error(exc)
            return
        st.session_state["curve.chosen"] = curve_id
        flash("curve", f"Curve {curve_id} queued: {len(fractions) * int(seeds)} runs. "
                       "Each is an ordinary run on the Runs page, tagged with the curve.")
        st.rerun()


# ---- one curve -----------------------------------------------------------------------------------

def _show_curve(curve_id: str) -> None:
    """The curve's chart, sentences and tables (a fragment: its errors are messages too)."""
    run_guarded(lambda: _draw_curve(curve_result(get_store(), curve_id)))


def _draw_curve(result: dict) -> None:
    total = len(result["runs"])
    if result["pending"]:
        states = ", ".join(f"{n} {s}" for s, n in sorted(result["states"].items())
                           if s != "completed")
        st.info(f"{total - result['pending']} of {total} runs completed ({states}); the curve "
                f"fills in as they finish. Failed or cancelled runs can be resumed on the Runs "
                "page.")
        link_to("runs", "Runs: the queue", ":material/list_alt:")
    if not result["points"]:
        return
    metric = METRIC_TITLES.get(result["metric"], result["metric"])
    kind = "entity type" if result["task"] == "ner" else "class"
    per_type = st.toggle(f"One line per {kind}", value=True, key="curve.per_type")
    st.altair_chart(_chart(result, metric, per_type), width="stretch")
    sentence = fit_sentence({**result, "fit_warning": None})
    st.markdown(f"**{sentence[0].upper() + sentence[1:]}.**" if result["fit"]
                else f"_{sentence[0].upper() + sentence[1:]}._")
    if result.get("fit_warning"):
        st.warning(f"Take this prediction with care: {result['fit_warning']}.")
    if result["fit"]:
        fit = result["fit"]
        st.caption(f"Fit: score = a − b·n^(−c) with a = {fit['a']:.3f} (the ceiling), "
                   f"b = {fit['b']:.3g}, c = {fit['c']:.3f}, through {fit['points']} runs. "
                   "The ± is one standard deviation of one new run's score: the fit's own "
                   "uncertainty plus the run-to-run scatter around it"
                   + ("." if fit["predict_2x"]["std"] is not None else
                      "; with no more runs than the fit has parameters it cannot be "
                      "estimated yet (add shares or seeds)."))
    sentence = rising_sentence(result)
    (st.success if result["still_rising"] else st.info)(sentence)
    st.subheader("Points")
    st.dataframe(_points_table(result), hide_index=True, width="stretch", key="curve.points")
    with st.expander(f"Runs of this curve ({total})"):
        st.dataframe(_runs_table(result), hide_index=True, width="stretch", key="curve.runs")


def _frames(result: dict, per_type: bool) -> tuple[pd.DataFrame, list[str]]:
    """One row per (series, share): train examples, mean and ±std in %."""
    rows = []
    for p in result["points"]:
        if p["train_examples"] is None:
            continue
        series = [(OVERALL, p["dev"])]
        if per_type:
            series += sorted(p["per_type"].items())
        for name, s in series:
            if s.get("mean") is None:
                continue
            rows.append({"series": name, "train examples": p["train_examples"],
                         "share": share_label(p["fraction"]), "mean": 100 * s["mean"],
                         "low": 100 * (s["mean"] - s["std"]), "high": 100 * (s["mean"] + s["std"]),
                         "runs": s["n"]})
    df = pd.DataFrame(rows)
    order = [OVERALL] + sorted(set(df["series"]) - {OVERALL}) if len(df) else [OVERALL]
    if len(df):  # side by side around each size, so that error bars do not hide each other
        shift = {name: DODGE ** (k - (len(order) - 1) / 2) for k, name in enumerate(order)}
        df["x"] = df["train examples"] * df["series"].map(shift)
    return df, order


def _chart(result: dict, metric: str, per_type: bool) -> alt.LayerChart:
    df, order = _frames(result, per_type)
    colours = [OVERALL_COLOUR if s == OVERALL else type_colour(s) for s in order]
    fit = result.get("fit")
    sizes = list(df["train examples"]) if len(df) else [1]
    right = fit["predict_2x"]["train_examples"] if fit else max(sizes)
    x = alt.X("x:Q", title="training examples (log scale)",
              scale=alt.Scale(type="log", nice=False, domain=[min(sizes) / 1.3, right * 1.3]))
    y_title = f"dev {metric} (%)"
    colour = alt.Color("series:N", sort=order, scale=alt.Scale(domain=order, range=colours),
                       title=None, legend=alt.Legend(orient="right"))
    tip = ["series:N", "share:N", "train examples:Q", alt.Tooltip("mean:Q", format=".1f"),
           alt.Tooltip("low:Q", format=".1f", title="mean − std"),
           alt.Tooltip("high:Q", format=".1f", title="mean + std"), "runs:Q"]
    base = alt.Chart(df)
    layers = [
        base.mark_line(point=alt.OverlayMarkDef(size=60, filled=True), strokeWidth=2.5)
            .encode(x=x, y=alt.Y("mean:Q", title=y_title, scale=alt.Scale(zero=False)),
                    color=colour, tooltip=tip),
        base.mark_errorbar(ticks=alt.TickConfig(width=8), thickness=1.6)
            .encode(x=x, y=alt.Y("low:Q", title=y_title), y2="high:Q", color=colour,
                    tooltip=tip),
    ]
    if fit:
        # std is None without residual degrees of freedom (as many runs as parameters)
        line = pd.DataFrame([{"x": p["train_examples"], "fit": 100 * p["mean"],
                              "low": max(0.0, 100 * (p["mean"] - (p["std"] or 0.0))),
                              "high": min(100.0, 100 * (p["mean"] + (p["std"] or 0.0)))}
                             for p in fit["line"]])
        pred = fit["predict_2x"]
        std = pred["std"] or 0.0
        spread = "± ?" if pred["std"] is None else f"± {100 * std:.1f}"
        point = pd.DataFrame([{"x": pred["train_examples"],
                               "train examples": pred["train_examples"],
                               "fit": 100 * pred["mean"], "low": 100 * (pred["mean"] - std),
                               "high": 100 * (pred["mean"] + std),
                               "label": f"2× the data: {100 * pred['mean']:.1f} {spread}"}])
        fit_tip = [alt.Tooltip("x:Q", format=".0f", title="train examples"),
                   alt.Tooltip("fit:Q", format=".1f", title="fitted %")]
        layers = [
            alt.Chart(line).mark_area(opacity=0.12, color=FIT_COLOUR)
                .encode(x=x, y=alt.Y("low:Q", title=y_title), y2="high:Q"),
            alt.Chart(line).mark_line(strokeDash=[6, 4], color=FIT_COLOUR, strokeWidth=2)
                .encode(x=x, y=alt.Y("fit:Q", title=y_title), tooltip=fit_tip),
        ] + layers + [
            alt.Chart(point).mark_errorbar(ticks=alt.TickConfig(width=10), color=FIT_COLOUR,
                                           thickness=1.6)
                .encode(x=x, y=alt.Y("low:Q", title=y_title), y2="high:Q"),
            alt.Chart(point).mark_point(shape="diamond", size=140, filled=True,
                                        color=FIT_COLOUR)
                .encode(x=x, y=alt.Y("fit:Q", title=y_title),
                        tooltip=["label:N", "train examples:Q"]),
            alt.Chart(point).mark_text(align="right", dx=-10, dy=-12, color="#555555")
                .encode(x=x, y=alt.Y("fit:Q", title=y_title), text="label:N"),
        ]
    title = (f"Dev {metric} by training-set size: mean ± std over seeds"
             + ("; dashed: power-law fit" if fit else ""))
    return alt.layer(*layers, title=title).properties(height=380)


def _ms(stats: dict | None) -> str:
    if not stats or stats.get("mean") is None:
        return "—"
    return f"{100 * stats['mean']:.1f} ± {100 * stats['std']:.1f}"


def _points_table(result: dict) -> pd.DataFrame:
    metric = METRIC_TITLES.get(result["metric"], result["metric"])
    types = sorted({t for p in result["points"] for t in p["per_type"]})
    rows = []
    for p in result["points"]:
        row = {"Share": share_label(p["fraction"]), "Train examples": p["train_examples"],
               "Runs": len(p["runs"]), f"Dev {metric} (%)": _ms(p["dev"])}
        if any(q["test"] for q in result["points"]):
            row[f"Test {metric} (%)"] = _ms(p["test"])
        for t in types:
            row[f"{t} F1 (%)"] = _ms(p["per_type"].get(t))
        rows.append(row)
    return pd.DataFrame(rows)


def _runs_table(result: dict) -> pd.DataFrame:
    return pd.DataFrame([{"Run": r["id"], "Share": share_label(r["fraction"] or 1.0),
                          "Seed": r["seed"], "State": r["state"],
                          "Train examples": r["train_examples"],
                          "Dev (%)": None if r["dev"] is None else round(100 * r["dev"], 1)}
                         for r in result["runs"]])


if __name__ == "__main__":  # opened as a legacy pages/ script: let app.py route the URL
    hand_over_to_app()
