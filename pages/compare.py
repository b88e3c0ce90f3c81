"""Compare: finished runs side by side — scores, what differs in their configs, curves, and
per-entity F1."""
from __future__ import annotations

from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from core.errors import WorkbenchError
from core.report import split_score
from engine.groups import group_of
from engine.significance import compare_groups, compare_runs, verdict, welch_verdict
from engine.runfolder import RunFolder
from pages.common import (STATE_ICONS, current_run, curve_frames, fmt_duration, fmt_value,
                          get_store, hand_over_to_app, link_to, read_metrics, read_report,
                          run_guarded)

MAX_RUNS = 8
SIG_RESAMPLES = 2000  # paired-bootstrap draws on the page (the CLI defaults to 10,000)
PCT = "%.1f %%"
SKIP_KEYS = ("name",)  # differs by design; the run is named in every column anyway


def render() -> None:
    st.title("Compare")
    st.caption("Pick finished runs to see their scores, the settings in which they differ, "
               "their curves and their per-entity F1 side by side.")
    run_guarded(_body)


def _body() -> None:
    store = get_store()
    runs = store.list_runs(states=("completed",))
    if len(runs) < 2:
        st.info("Comparing needs at least two completed runs; "
                f"{'one is' if runs else 'none is'} finished so far.")
        link_to("train", "Train another run", ":material/rocket_launch:")
        return
    by_id = {r["id"]: r for r in runs}
    chosen_ids = _choose(runs, by_id)
    if len(chosen_ids) < 2:
        st.info("Pick at least two runs.")
        return
    chosen = [by_id[i] for i in chosen_ids]
    names = display_names(chosen)
    reports = {r["id"]: read_report(r["dir"]) for r in chosen}
    missing = [names[i] for i, rep in reports.items() if not isinstance(rep, dict)]
    if missing:
        st.warning(f"No readable {RunFolder.REPORT} for {', '.join(missing)}: their scores are left blank.")
    configs = {r["id"]: store.config(r["id"]) for r in chosen}
    unread = [names[i] for i, config in configs.items() if not config]
    if unread:
        st.warning(f"No readable {RunFolder.CONFIG} for {', '.join(unread)}: their settings "
                   "are left blank.")
    split = st.segmented_control("Split for scores", ["dev", "test"], key="compare.split",
                                 default="test", required=True)
    st.subheader("Scores")
    _show_scores(chosen, names, reports, configs)
    st.subheader(f"Is the difference real? ({split})")
    _show_significance(chosen[0], chosen[1], names, split)
    _show_group_significance(chosen[0], chosen[1], names, split)
    st.subheader("Settings that differ")
    _show_config_diff(chosen_ids, names, configs)
    st.subheader("Curves")
    _show_curves(chosen, names)
    ner = [r for r in chosen if isinstance(reports[r["id"]], dict) and reports[r["id"]].get("task") == "ner"]
    if ner:
        st.subheader(f"F1 per entity type on {split}")
        _show_per_type(ner, names, reports, split)


def _choose(runs: list[dict], by_id: dict) -> list[str]:
    key = "compare.runs"
    if key not in st.session_state:
        first = current_run() if current_run() in by_id else None
        lead = by_id[first] if first else runs[0]
        same = [r["id"] for r in runs if r["id"] != lead["id"] and r.get("task") == lead.get("task")]
        st.session_state[key] = [lead["id"]] + same[:2]
    else:  # a run deleted meanwhile is dropped from the selection
        st.session_state[key] = [i for i in st.session_state[key] if i in by_id]
    return st.multiselect(f"Runs (up to {MAX_RUNS})", list(by_id), key=key, max_selections=MAX_RUNS,
                          format_func=lambda i: f"{STATE_ICONS['completed']} {by_id[i].get('name') or i} · {i}")


def display_names(runs: list[dict]) -> dict[str, str]:
    """A short, unique label per run: its name, with the id's tail where names repeat."""
    counts: dict[str, int] = {}
    for r in runs:
        counts[r.get("name") or r["id"]] = counts.get(r.get("name") or r["id"], 0) + 1
    return {r["id"]: (r.get("name") or r["id"]) + (f" ({r['id'][-4:]})" if counts[r.get("name") or r["id"]] > 1 else "")
            for r in runs}


def _score(rep: dict | None, split: str, avg: str) -> float | None:
    """micro/macro F1 or accuracy of one split of a report, in %."""
    value = split_score(rep, split, avg)
    return None if value is None else 100 * value


def _show_scores(chosen: list[dict], names: dict, reports: dict, configs: dict) -> None:
    rows = []
    for r in chosen:
        rep = reports[r["id"]]
        ner = isinstance(rep, dict) and rep.get("task") == "ner"
        # a missing value is None here, drawn as the table's placeholder "—", never "None"
        row = {"Run": names[r["id"]], "Task": r.get("task"), "Model": configs[r["id"]].get("model")}
        for split in ("dev", "test"):
            row[f"{split.capitalize()} micro F1"] = _score(rep, split, "micro")
            row[f"{split.capitalize()} macro F1"] = _score(rep, split, "macro")
            if not ner:
                row[f"{split.capitalize()} accuracy"] = _score(rep, split, "accuracy")
        rep = rep if isinstance(rep, dict) else {}
        row["Best step"] = rep.get("best_step")
        row["Steps"] = rep.get("steps")
        row["Train time (s)"] = rep.get("train_time_s")
        rows.append(row)
    df = pd.DataFrame(rows)
    shared = [c for c in ("Task", "Model") if df[c].nunique(dropna=False) == 1]  # said once, above
    if shared:
        st.caption(" · ".join(f"{c}: **{fmt_value(df[c].iloc[0])}**" for c in shared))
    order = ["Run"] + [c for c in ("Task", "Model") if c not in shared] + [c for s in ("Dev", "Test") for c in
                                        (f"{s} micro F1", f"{s} macro F1", f"{s} accuracy") if c in df]
    order += ["Best step", "Steps", "Train time (s)"]
    config = {c: st.column_config.NumberColumn(c, format=PCT) for c in order if "F1" in c or "accuracy" in c}
    config["Train time (s)"] = st.column_config.NumberColumn("Train time (s)", format="%.0f")
    st.dataframe(df[order], hide_index=True, width="stretch", column_config=config, key="compare.scores",
                 placeholder="—")
    fastest = min((r for r in rows if r["Train time (s)"]), key=lambda r: r["Train time (s)"], default=None)
    if fastest:
        st.caption(f"Fastest: {fastest['Run']} ({fmt_duration(fastest['Train time (s)'])}). Scores in %.")


@st.cache_data(max_entries=32, show_spinner="Resampling the predictions…")
def _significance(dir_a: str, dir_b: str, split: str, mtimes: tuple) -> dict:  # noqa: ARG001 - mtimes key the cache
    return compare_runs(Path(dir_a), Path(dir_b), split=split, resamples=SIG_RESAMPLES)


def _show_significance(a: dict, b: dict, names: dict, split: str) -> None:
    """Paired tests of the first two chosen runs on `split`, said in words (engine/significance)."""
    paths = [RunFolder(r["dir"]).predictions_path for r in (a, b)]
    mtimes = tuple(p.stat().st_mtime if p.is_file() else 0.0 for p in paths)
    try:
        result = _significance(a["dir"], b["dir"], split, mtimes)
    except WorkbenchError as exc:
        st.info(f"No paired test for {names[a['id']]} and {names[b['id']]}: {exc}")
        return
    st.caption(f"A = **{names[a['id']]}**, B = **{names[b['id']]}**: B − A on the same "
               f"{result['examples']} {split} examples, {SIG_RESAMPLES:,} paired-bootstrap "
               "resamples and an approximate randomisation test.")
    for row in result["scores"]:
        text = verdict(row)
        (st.success if "beats" in text else st.markdown)(text[0].upper() + text[1:] + ".")


def _show_group_significance(a: dict, b: dict, names: dict, split: str) -> None:
    """When both runs are seeds of (different) groups: Welch's t over the groups' seed
    scores on `split`, in words (engine.significance.compare_groups)."""
    store = get_store()
    ga, gb = group_of(store, a["id"]), group_of(store, b["id"])
    if ga is None or gb is None:
        return
    st.markdown("**Over the seed groups**")
    if ga == gb:
        st.caption(f"{names[a['id']]} and {names[b['id']]} are seeds of the same group "
                   f"({ga}): their difference is seed noise by construction.")
        return
    try:
        result = compare_groups(store, ga, gb, split=split)
    except WorkbenchError as exc:
        st.info(f"No Welch test for groups {ga} and {gb}: {exc}")
        return
    st.caption(f"A's group **{ga}** ({result['n_a']} completed runs) against B's group **{gb}** "
               f"({result['n_b']}): Welch's t over each run's {split} score, so the spread "
               "between seeds counts, not only this pair of runs.")
    for row in result["scores"]:
        text = welch_verdict(row)
        (st.success if "beats" in text else st.markdown)(text[0].upper() + text[1:] + ".")


def config_differences(configs: dict[str, dict]) -> dict[str, dict[str, object]]:
    """Keys whose values differ across the configs: {key: {run_id: value}}."""
    keys = sorted({k for c in configs.values() for k in c} - set(SKIP_KEYS))
    out = {}
    for k in keys:
        values = {rid: c.get(k) for rid, c in configs.items()}
        if len({repr(v) for v in values.values()}) > 1:
            out[k] = values
    return out


def _show_config_diff(ids: list[str], names: dict, configs: dict) -> None:
    diff = config_differences({i: configs[i] for i in ids})
    if not diff:
        st.info("These runs share every setting (apart from their names).")
        return
    df = pd.DataFrame([{"Setting": k, **{names[i]: fmt_value(v[i]) for i in ids}}
                       for k, v in diff.items()])
    st.dataframe(df, hide_index=True, width="stretch", key="compare.diff")


def _show_curves(chosen: list[dict], names: dict) -> None:
    logs, evals = [], []
    for r in chosen:
        log_df, eval_df = curve_frames(read_metrics(r["dir"]))
        if not log_df.empty:
            logs.append(log_df.assign(run=names[r["id"]])[["run", "step", "loss"]])
        if not eval_df.empty:
            evals.append(eval_df.assign(run=names[r["id"]], score=100 * eval_df["value"])[["run", "step", "score", "metric"]])
    if not logs and not evals:
        st.info(f"These runs have no {RunFolder.METRICS} to draw.")
        return
    run_order = [names[r["id"]] for r in chosen]
    colour = alt.Color("run:N", title="run", sort=run_order, scale=alt.Scale(scheme="tableau10"))
    left, right = st.columns(2)
    if evals:
        df = pd.concat(evals)
        metrics = df["metric"].unique()
        title = ({"f1_micro": "Dev micro F1 (%)", "f1_macro": "Dev macro F1 (%)",
                  "accuracy": "Dev accuracy (%)"}.get(metrics[0], "Dev score (%)") if len(metrics) == 1
                 else "Dev score (%): each run's selection metric")
        left.altair_chart(alt.Chart(df, title=title).mark_line(point=True).encode(
            x=alt.X("step:Q"), y=alt.Y("score:Q", title="%", scale=alt.Scale(zero=False)), color=colour,
            tooltip=["run:N", "metric:N", "step:Q", alt.Tooltip("score:Q", format=".1f", title="%")]).properties(height=280),
            width="stretch")
    if logs:
        df = pd.concat(logs)
        right.altair_chart(alt.Chart(df, title="Training loss").mark_line().encode(
            x=alt.X("step:Q"), y=alt.Y("loss:Q", title="loss"), color=colour,
            tooltip=["run:N", "step:Q", alt.Tooltip("loss:Q", format=".3f")]).properties(height=280),
            width="stretch")


def _show_per_type(runs: list[dict], names: dict, reports: dict, split: str) -> None:
    rows = []
    for r in runs:
        part = reports[r["id"]].get(split) or {}
        for etype, row in ((part.get("entities") or {}).get("per_type") or {}).items():
            rows.append({"type": etype, "run": names[r["id"]], "F1": 100 * row["f1"], "support": row["support"]})
    if not rows:
        st.info(f"No per-entity scores on {split} in these reports.")
        return
    df = pd.DataFrame(rows)
    run_order = [names[r["id"]] for r in runs]
    types = sorted(df["type"].unique())
    chart = (alt.Chart(df).mark_bar()
             .encode(x=alt.X("type:N", title="entity type", sort=types, axis=alt.Axis(labelAngle=0)),
                     xOffset=alt.XOffset("run:N", sort=run_order),
                     y=alt.Y("F1:Q", title="F1 (%)", scale=alt.Scale(domain=[0, 100])),
                     color=alt.Color("run:N", title="run", sort=run_order, scale=alt.Scale(scheme="tableau10")),
                     tooltip=["run:N", "type:N", alt.Tooltip("F1:Q", format=".1f"), "support:Q"])
             .properties(height=300))
    st.altair_chart(chart, width="stretch")
    wide = (df.pivot_table(index="type", columns="run", values="F1").reindex(columns=run_order)
            .rename_axis(index="Entity type", columns=None).reset_index())
    st.dataframe(wide, hide_index=True, width="stretch", key="compare.per_type",
                 column_config={c: st.column_config.NumberColumn(c, format=PCT) for c in run_order})


if __name__ == "__main__":  # opened as a legacy pages/ script: let app.py route the URL
    hand_over_to_app()
