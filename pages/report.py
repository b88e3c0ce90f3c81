"""Report: what a finished run learned — per entity type, per tag, confusions, errors."""
from __future__ import annotations

import functools
import html
import json
from collections import Counter
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from core import metrics
from core.spans import split_tag, to_spans
from core.report import SPLITS, accuracy_of
from engine.groups import METRIC_NAMES, group_of, group_summary
from engine.modelcard import model_problem, model_zip
from engine.runfolder import RunFolder, iter_jsonl
from pages.common import (choose_run, damaged_report, fmt_duration, get_store, hand_over_to_app,
                          highlight_spans, link_to, plural, read_predictions, read_report,
                          run_guarded, type_colours)

PER_PAGE = 20
KINDS = ("wrong_type", "wrong_boundary", "wrong_type_and_boundary", "spurious", "missed")
KIND_NAMES = {"correct": "correct", "wrong_type": "wrong type", "wrong_boundary": "wrong boundary",
              "wrong_type_and_boundary": "wrong type and boundary", "spurious": "spurious",
              "missed": "missed"}
KIND_SHORT = {"wrong_type": "Type", "wrong_boundary": "Boundary", "wrong_type_and_boundary": "Both",
              "spurious": "Spurious", "missed": "Missed"}
KIND_COLOURS = {"wrong_type": "#e15759", "wrong_boundary": "#f28e2b",
                "wrong_type_and_boundary": "#b07aa1", "spurious": "#edc948", "missed": "#76b7b2"}
AVERAGES = ("micro", "macro", "weighted", "samples")
PCT = "%.1f %%"


def render() -> None:
    st.title("Report")
    st.caption("Scores of a finished run on its dev or test split, entity by entity, and the "
               "sentences it got wrong.")
    run_guarded(_body)


def _body() -> None:
    runs = get_store().list_runs(states=("completed",))
    if not runs:
        st.info("No completed run yet. Train one (the demo on **Home** takes a few minutes on a "
                "CPU); its report appears here when it finishes.")
        link_to("home", "Home: train the demo", ":material/home:")
        return
    top = st.columns([3, 1])
    with top[0]:
        run = choose_run(runs, key="report.run")
    report = read_report(run["dir"])
    damage = damaged_report(run["dir"]) if report is None else []
    if damage:
        st.error(f"The report of run `{run['id']}` is damaged: {'; '.join(damage[:5])}. "
                 "Delete the run on the Runs page, or run its training again.")
        return
    if report is None:
        st.error(f"The report of run `{run['id']}` is missing or unreadable "
                 f"(`{RunFolder(run['dir']).report_path}`). The worker writes it when training "
                 "ends; run the training again, or evaluate saved predictions with "
                 "`python -m engine evaluate --gold G --pred P`.")
        return
    splits = [s for s in SPLITS if isinstance(report.get(s), dict)]
    if not splits:
        st.error(f"The report of run `{run['id']}` holds no dev or test scores.")
        return
    with top[1]:
        if st.session_state.get("report.split") not in splits:
            st.session_state["report.split"] = "test" if "test" in splits else splits[0]
        split = st.segmented_control("Split", splits, key="report.split", required=True)
    task = report.get("task") or run.get("task", "ner")
    _seed_group(run, split)
    _show_caption(report, split)
    _model_download(run)
    if task == "ner":
        _ner_report(run, report, split)
    else:
        _class_report(run, report, split, multilabel=task == "multilabel")


def _show_caption(report: dict, split: str) -> None:
    metric = {"f1_micro": "micro F1", "f1_macro": "macro F1"}.get(report.get("metric"), report.get("metric"))
    best, steps = report.get("best_step"), report.get("steps")
    parts = [f"scores on **{split}** with the best dev checkpoint"]
    if best is not None:
        parts.append(f"step {best:,}" + (f" of {steps:,}" if steps else "")
                     + (f" (chosen by dev {metric})" if metric else ""))
    if report.get("train_time_s") is not None:
        parts.append(f"trained in {fmt_duration(report['train_time_s'])}")
    st.caption(" · ".join(parts))


def _model_download(run: dict) -> None:
    """"Download model" for a run with a model/ folder: model/ and its model card as
    <run_id>-model.zip, zipped only when clicked (engine.modelcard.model_zip); a damaged
    folder is a warning."""
    if not RunFolder(run["dir"]).model_dir.is_dir():
        return
    problem = model_problem(run["dir"])
    if problem:
        st.warning(f"The model of run `{run['id']}` cannot be downloaded: {problem}.")
        return
    st.download_button("Download model", data=functools.partial(model_zip, str(run["dir"])),
                       file_name=f"{run['id']}-model.zip", mime="application/zip", icon=":material/download:",
                       on_click="ignore", key="report.model_zip",
                       help="model/ as a zip: safetensors weights, labelled config, tokenizer "
                            "and the Hugging Face model card (README.md); it loads with "
                            "transformers.pipeline")


# ---- tables -------------------------------------------------------------------------------

def score_table(rep: dict, name: str, *, counts: bool) -> pd.DataFrame:
    """Rows per type/tag/class then the averages; P/R/F1 in %, support (and tp/fp/fn)."""
    rows = []
    for label, row in list(rep["per_type"].items()) + [(f"{a} avg", rep[a]) for a in AVERAGES if a in rep]:
        out = {name: label, "Precision": 100 * row["precision"], "Recall": 100 * row["recall"],
               "F1": 100 * row["f1"], "Support": int(row["support"])}
        if counts:
            out.update({k.upper(): row.get(k) for k in ("tp", "fp", "fn")})
        rows.append(out)
    return pd.DataFrame(rows)


def _show_table(df: pd.DataFrame, key: str, file_stem: str, raw: dict) -> None:
    config = {c: st.column_config.NumberColumn(c, format=PCT) for c in ("Precision", "Recall", "F1")}
    st.dataframe(df, hide_index=True, width="stretch", column_config=config, key=f"report.{key}_table",
                 height=min(38 + 35 * len(df), 600), placeholder="—")
    with st.container(horizontal=True):
        st.download_button("CSV", data=df.to_csv(index=False, float_format="%.2f"),
                           file_name=f"{file_stem}.csv", mime="text/csv", icon=":material/download:",
                           on_click="ignore", key=f"report.{key}_csv")
        st.download_button("JSON", data=json.dumps(raw, indent=1), file_name=f"{file_stem}.json",
                           mime="application/json", icon=":material/download:", on_click="ignore",
                           key=f"report.{key}_json")


def _show_headline(tiles: list[tuple[str, str, str | None]]) -> None:
    cols = st.columns(len(tiles))
    for col, (label, value, help_) in zip(cols, tiles):
        col.metric(label, value, help=help_, border=True)


def _pct(x: float | None) -> str:
    """A share as a percentage with one decimal; a whole 100 % without it (so that six metric
    cards in a row never cut '100.0 %' off)."""
    if x is None:
        return "—"
    text = f"{100 * x:.1f}"
    return "100 %" if text == "100.0" else f"{text} %"


# ---- seed group ---------------------------------------------------------------------------

def _seed_group(run: dict, split: str) -> None:
    """For a run of a seed group: mean ± std, min and max over the group's completed runs, per
    metric and per entity type or class (engine.groups.group_summary), and a dot per seed."""
    group_id = group_of(get_store(), run["id"])
    if group_id is None:
        return
    summary = group_summary(get_store(), group_id)
    st.subheader("Seed group")
    done = [m for m in summary["members"] if m["state"] == "completed"]
    waiting = len(summary["members"]) - len(done)
    seeds = ", ".join(str(m["seed"]) for m in done)
    st.caption(f"This run is one of {summary['of']} seeds of group **{group_id}**: "
               f"{summary['completed']} of {summary['of']} completed"
               + (f" (seeds {seeds})" if seeds else "")
               + (f", {waiting} still to finish" if waiting else "")
               + f" · scores on {split}, in %.")
    part = summary["splits"].get(split)
    seed = ((run.get("status") or {}).get("tags") or {}).get("seed")
    if part:
        _seed_table_and_chart(part, seed)
    else:
        st.info(f"No completed run of this group has {split} scores yet.")
    st.subheader(f"This run (seed {seed})" if seed is not None else "This run")


def _seed_table_and_chart(part: dict, seed) -> None:
    """The group's table (mean ± std, min, max, this run, in %) beside its dot chart."""
    rows = [(METRIC_NAMES.get(k, k), s) for k, s in part["metrics"].items()]
    rows += [(f"{t} F1", s) for t, s in part["per_type"].items()]
    table = pd.DataFrame([{"Score": label, "Mean": 100 * s["mean"], "± std": 100 * s["std"],
                           "Min": 100 * s["min"], "Max": 100 * s["max"],
                           "This run": next((100 * v for sd, v in zip(s["seeds"], s["values"])
                                             if sd == seed), None), "Seeds": s["n"]}
                          for label, s in rows])
    left, right = st.columns([3, 2])
    with left:
        config = {c: st.column_config.NumberColumn(c, format="%.1f") for c in
                  ("Mean", "± std", "Min", "Max", "This run")}
        st.dataframe(table, hide_index=True, width="stretch", column_config=config,
                     key="report.group_table", placeholder="—")
    with right:
        st.altair_chart(_seed_chart(rows, seed), width="stretch")


def _seed_chart(rows: list[tuple[str, dict]], seed) -> alt.LayerChart:
    """One dot per seed and score, the group mean as a tick, ± std as a bar."""
    order = [label for label, _ in rows]
    dots = pd.DataFrame([{"score": label, "value": 100 * v, "seed": str(sd),
                          "run": "this run" if sd == seed else "other seeds"}
                         for label, s in rows for sd, v in zip(s["seeds"], s["values"])])
    means = pd.DataFrame([{"score": label, "mean": 100 * s["mean"], "low": 100 * (s["mean"] - s["std"]),
                           "high": 100 * (s["mean"] + s["std"])} for label, s in rows])
    y = alt.Y("score:N", sort=order, title=None)
    spread = alt.Chart(means).mark_rule(color="#9aa5b1", strokeWidth=6, opacity=0.45).encode(
        y=y, x=alt.X("low:Q", title="%", scale=alt.Scale(zero=False)), x2="high:Q")
    mean = alt.Chart(means).mark_tick(color="#222", thickness=2, size=18).encode(
        y=y, x="mean:Q", tooltip=["score:N", alt.Tooltip("mean:Q", format=".1f")])
    points = alt.Chart(dots).mark_circle(size=70, opacity=0.85).encode(
        y=y, x="value:Q",
        color=alt.Color("run:N", title=None, scale=alt.Scale(domain=["this run", "other seeds"],
                                                             range=["#e15759", "#4e79a7"]),
                        legend=alt.Legend(orient="bottom")),
        tooltip=["score:N", "seed:N", alt.Tooltip("value:Q", format=".1f", title="%")])
    return (spread + mean + points).properties(title="Each seed (dots), mean (tick) ± std",
                                               height=alt.Step(26))


# ---- NER ----------------------------------------------------------------------------------

def _ner_report(run: dict, report: dict, split: str) -> None:
    rep = report[split]
    if not isinstance(rep.get("entities"), dict) or "per_type" not in rep["entities"]:
        st.error(f"The {split} section of {RunFolder.REPORT} has no entity scores; it was not written "
                 "by a NER run of this version.")
        return
    ent = rep["entities"]
    tok = rep.get("tokens") or {}
    _show_headline([
        ("Micro F1", _pct(ent["micro"]["f1"]), "entity level: exact span and type match (conlleval)"),
        ("Macro F1", _pct(ent["macro"]["f1"]), "entity level: mean of the per-type F1"),
        ("Precision", _pct(ent["micro"]["precision"]), "entity level, micro average"),
        ("Recall", _pct(ent["micro"]["recall"]), "entity level, micro average"),
        ("Entities", f"{ent['micro']['support']:,}", f"gold entities in {split}"),
        ("Tag accuracy", _pct(tok.get("accuracy")), "share of tokens whose tag is right, O included"),
    ])
    stem = f"{run['id']}-{split}"
    left, right = st.columns([3, 2])
    with left:
        st.subheader("Per entity type")
        _show_table(score_table(ent, "Entity type", counts=True), "entities", f"{stem}-entities", ent)
    with right:
        st.altair_chart(_type_f1_chart(ent), width="stretch")
    if tok.get("per_type"):
        st.subheader("Per tag (token level)")
        st.caption("Every token counts, O included (the classic CoNLL per-tag table).")
        _show_table(score_table(tok, "Tag", counts=False), "tokens", f"{stem}-tokens", tok)
        with st.expander("As text (precision recall f1-score support)"):
            st.code(metrics.format_table(tok), language=None)
    conf = rep.get("confusion") if isinstance(rep.get("confusion"), dict) else None
    wide = conf is not None and len(conf.get("labels") or []) > 12  # a big matrix gets the full width
    left, right = (st.container(), st.container()) if wide else st.columns(2)
    with left:
        if conf is not None:
            st.subheader("Tag confusion")
            _show_confusion(conf, "tag", key="report.tag_conf")
    with right:
        st.subheader("Entity errors by type")
        errors = rep.get("errors") or _errors_of(run, split).get("per_type", {})
        _show_error_breakdown(errors)
    st.subheader("Error browser")
    _error_browser(run, split)


def _type_f1_chart(ent: dict) -> alt.Chart:
    df = pd.DataFrame([{"type": t, "F1": 100 * r["f1"], "support": r["support"]}
                       for t, r in ent["per_type"].items()])
    domain, colours = type_colours(list(df["type"]))
    return (alt.Chart(df, title="F1 per entity type (%)").mark_bar()
            .encode(y=alt.Y("type:N", title=None, sort="-x"), x=alt.X("F1:Q", title="F1 (%)", scale=alt.Scale(domain=[0, 100])),
                    color=alt.Color("type:N", scale=alt.Scale(domain=domain, range=colours), legend=None),
                    tooltip=["type:N", alt.Tooltip("F1:Q", format=".1f"), "support:Q"])
            .properties(height=alt.Step(30)))


def _show_confusion(conf: dict, noun: str, key: str) -> None:
    labels, matrix = conf.get("labels") or [], conf.get("matrix") or []
    if not labels:
        st.info("No confusion matrix in this report.")
        return
    order = list(range(len(labels)))
    if noun == "tag":  # B-LOC next to I-LOC, O first, as in the per-tag table
        order.sort(key=lambda i: (labels[i] != "O", split_tag(labels[i])[::-1]))
        # rows and columns: the same labels, every tag that is gold or predicted somewhere
        order = [i for i in order if any(matrix[i]) or any(row[i] for row in matrix)] or order
    labels = [labels[i] for i in order]
    matrix = [[matrix[i][j] for j in order] for i in order]
    opts = st.columns(2)
    share = opts[0].toggle(f"Colour by share of the gold {noun}", value=True, key=f"{key}_share")
    hide_o = "O" in labels and opts[1].toggle("Hide O → O", value=True, key=f"{key}_hide_o")
    rows = []
    for i, gold in enumerate(labels):
        total = sum(matrix[i]) or 1
        for j, pred in enumerate(labels):
            count = int(matrix[i][j])
            if hide_o and gold == "O" and pred == "O":
                continue
            rows.append({"gold": gold, "predicted": pred, "count": count,
                         "share": 100 * count / total})
    df = pd.DataFrame(rows)
    colour = "share" if share else "count"
    cell = 36 if len(labels) <= 12 else 26
    # the domains are fixed: the zero cells a big matrix filters out must not take their
    # row or column with them (WNUT-17 kept only the predicted columns)
    square = alt.Scale(domain=labels)
    base = alt.Chart(df).encode(
        x=alt.X("predicted:N", sort=labels, scale=square, title=f"predicted {noun}"),
        y=alt.Y("gold:N", sort=labels, scale=square, title=f"gold {noun}"))
    rect = base.mark_rect().encode(
        color=alt.Color(f"{colour}:Q", scale=alt.Scale(scheme="blues", type="sqrt" if share else "symlog"),
                        title="% of the gold row" if share else "count",
                        legend=alt.Legend(orient="bottom", gradientLength=200)),
        tooltip=["gold:N", "predicted:N", "count:Q", alt.Tooltip("share:Q", format=".1f", title="% of gold")])
    text = base.mark_text(fontSize=10 if cell < 40 else 11).encode(
        text=alt.Text("count:Q"),
        color=alt.condition(alt.datum[colour] > (50 if share else df["count"].max() / 2),
                            alt.value("white"), alt.value("#222")))
    chart = (rect + text).transform_filter(alt.datum.count > 0) if len(labels) > 12 else rect + text
    # discrete axes take their size as a step per label (a fixed height squashes them)
    st.altair_chart(chart.properties(width=alt.Step(cell), height=alt.Step(cell)), width="content")


def _show_error_breakdown(per_type: dict) -> None:
    if not per_type:
        st.info("No entity error counts in this report.")
        return
    rows = [{"type": t, "kind": KIND_NAMES[k], "order": KINDS.index(k), "count": int(c.get(k, 0))}
            for t, c in per_type.items() for k in KINDS]
    df = pd.DataFrame(rows)
    kinds = [KIND_NAMES[k] for k in KINDS]
    chart = (alt.Chart(df).mark_bar()
             .encode(y=alt.Y("type:N", title=None), x=alt.X("sum(count):Q", title="entities"),
                     color=alt.Color("kind:N", title="error", sort=kinds,
                                     scale=alt.Scale(domain=kinds, range=[KIND_COLOURS[k] for k in KINDS])),
                     order=alt.Order("order:Q"),
                     tooltip=["type:N", "kind:N", "count:Q"])
             .properties(height=alt.Step(30)))
    st.altair_chart(chart, width="stretch")
    table = pd.DataFrame([{"Entity type": t, "Correct": c.get("correct", 0),
                           **{KIND_SHORT[k]: c.get(k, 0) for k in KINDS}}
                          for t, c in per_type.items()])
    st.dataframe(table, hide_index=True, width="stretch", key="report.errors_table")
    st.caption("Type: same words, other type. Boundary: same type, overlapping but other words. "
               "Both: other type and other words. Spurious: predicted where gold has none. "
               "Missed: gold entity with no overlapping prediction.")


@st.cache_data(max_entries=16, show_spinner="Matching gold and predicted entities…")
def _entity_errors(path: str, mtime: float, split: str) -> dict:  # noqa: ARG001 - mtime keys the cache
    """core.metrics.entity_errors over one split of the run's predictions."""
    rows = [r for r in iter_jsonl(Path(path)) if r.get("split") == split]
    return metrics.entity_errors([r["gold"] for r in rows], [r["pred"] for r in rows])


def _errors_of(run: dict, split: str) -> dict:
    path = RunFolder(run["dir"]).predictions_path
    if not path.is_file():
        return {}
    return _entity_errors(str(path), path.stat().st_mtime, split)


def _split_rows(run: dict, split: str) -> list[dict]:
    return read_predictions(run["dir"], split)


def _error_browser(run: dict, split: str) -> None:
    rows = _split_rows(run, split)
    if not rows:
        st.info(f"This run has no {split} predictions ({RunFolder.PREDICTIONS}), so there are no "
                "sentences to browse.")
        return
    errors = _errors_of(run, split).get("errors", [])
    if not errors:
        st.success(f"Every entity in the {len(rows):,} {split} sentences is predicted exactly right.")
        return
    types = sorted({(e["gold"] or e["pred"])[0] for e in errors}
                   | {e["pred"][0] for e in errors if e["pred"]})
    kinds = [k for k in KINDS if any(e["kind"] == k for e in errors)]
    # each filter's counts follow the other filters (read before the widgets are drawn)
    want_types = st.session_state.get("report.err_types") or []
    want_kinds = st.session_state.get("report.err_kinds") or []
    needle = (st.session_state.get("report.err_text") or "").lower()
    by_text = [e for e in errors if not needle or _sentence_has(rows, e, needle)]
    type_counts = Counter(t for e in by_text if _kind_ok(e, want_kinds) for t in _types_of(e))
    kind_counts = Counter(e["kind"] for e in by_text if _type_ok(e, want_types))
    c1, c2, c3 = st.columns([2, 3, 2])
    want_types = c1.multiselect("Entity type", types, key="report.err_types", placeholder="all types",
                                format_func=lambda t: f"{t} ({type_counts[t]})")
    want_kinds = c2.multiselect("Error kind", kinds, key="report.err_kinds",
                                format_func=lambda k: f"{KIND_NAMES[k]} ({kind_counts[k]})",
                                placeholder="all kinds")
    needle = c3.text_input("Sentence contains", key="report.err_text", placeholder="a word").lower()
    chosen = [e for e in errors if _type_ok(e, want_types) and _kind_ok(e, want_kinds)
              and (not needle or _sentence_has(rows, e, needle))]
    by_sentence: dict[int, list[dict]] = {}
    for e in chosen:
        by_sentence.setdefault(e["sentence"], []).append(e)
    if not by_sentence:
        st.info("No error matches these filters.")
        return
    pages = (len(by_sentence) + PER_PAGE - 1) // PER_PAGE
    st.caption(f"{plural(len(chosen), 'error')} in {len(by_sentence):,} of "
               f"{plural(len(rows), f'{split} sentence')} · {PER_PAGE} sentences per page · "
               "gold above, prediction below (dashed; hover for confidence)")
    page = st.pagination(pages, key="report.err_page") if pages > 1 else 1
    keys = list(by_sentence)[(page - 1) * PER_PAGE: page * PER_PAGE]
    st.markdown("".join(_sentence_html(rows[k], by_sentence[k]) for k in keys), unsafe_allow_html=True)


def _types_of(error: dict) -> set[str]:
    return {span[0] for span in (error["gold"], error["pred"]) if span}


def _type_ok(error: dict, types: list[str]) -> bool:
    return not types or bool(_types_of(error) & set(types))


def _kind_ok(error: dict, kinds: list[str]) -> bool:
    return not kinds or error["kind"] in kinds


def _sentence_has(rows: list[dict], error: dict, needle: str) -> bool:
    return any(needle in str(t).lower() for t in rows[error["sentence"]]["tokens"])


def _sentence_html(row: dict, errors: list[dict]) -> str:
    tokens = [str(t) for t in row["tokens"]]
    conf = row.get("conf") or []
    pred_spans = to_spans(row["pred"])
    tips = {s: f"{t} · confidence {100 * min(conf[s:e]):.0f} %" for t, s, e in pred_spans if conf[s:e]}
    chips = "".join(_error_chip(e, tokens) for e in errors)
    return (f'<div style="border:1px solid #e6e6e6;border-radius:8px;padding:8px 12px;margin:6px 0">'
            f'<div style="font-size:0.8em;color:#666;margin-bottom:4px">sentence {_number(row)} '
            f'{chips}</div>'
            f'<div style="line-height:2.1"><span style="color:#888;font-size:0.8em;display:inline-block;'
            f'width:76px">gold</span>{highlight_spans(tokens, to_spans(row["gold"]))}</div>'
            f'<div style="line-height:2.1"><span style="color:#888;font-size:0.8em;display:inline-block;'
            f'width:76px">predicted</span>{highlight_spans(tokens, pred_spans, title=tips, style="dashed")}'
            f'</div></div>')


def _number(row: dict) -> str:
    """A sentence's number as people count: from 1 (predictions.jsonl's index is from 0)."""
    index = row.get("index")
    return f"{index + 1:,}" if isinstance(index, int) else "?"


def _error_chip(error: dict, tokens: list[str]) -> str:
    def words(span: list | None) -> str:
        return "" if not span else html.escape(" ".join(tokens[span[1]:span[2]]))

    gold, pred = error["gold"], error["pred"]
    if error["kind"] == "missed":
        what = f"{gold[0]} “{words(gold)}” not found"
    elif error["kind"] == "spurious":
        what = f"“{words(pred)}” predicted as {pred[0]}"
    else:
        what = f"{gold[0]} “{words(gold)}” → {pred[0]} “{words(pred)}”"
    colour = KIND_COLOURS[error["kind"]]
    return (f'<span style="margin-left:8px;padding:1px 6px;border-radius:10px;background:{colour}22;'
            f'border:1px solid {colour}">{KIND_NAMES[error["kind"]]}: {what}</span>')


# ---- classification -----------------------------------------------------------------------

def _class_report(run: dict, report: dict, split: str, *, multilabel: bool) -> None:
    rep = report[split].get("classes")
    if not isinstance(rep, dict) or "per_type" not in rep:
        st.error(f"The {split} section of {RunFolder.REPORT} has no per-class scores.")
        return
    accuracy = accuracy_of(rep)
    tiles = [("Exact-match accuracy" if multilabel else "Accuracy", _pct(accuracy), None),
             ("Macro F1", _pct(rep["macro"]["f1"]), "mean of the per-class F1"),
             ("Micro F1", _pct(rep["micro"]["f1"]), None),
             ("Weighted F1", _pct(rep["weighted"]["f1"]), "per-class F1 weighted by support")]
    if multilabel and "hamming_loss" in rep:
        tiles.append(("Hamming loss", f"{rep['hamming_loss']:.3f}", "share of wrong label decisions"))
    _show_headline(tiles)
    stem = f"{run['id']}-{split}"
    conf = report[split].get("confusion") if isinstance(report[split].get("confusion"), dict) else None
    small = conf is not None and len(conf.get("labels") or []) <= 8  # fits beside the table
    left, right = st.columns([3, 2]) if small else (st.container(), st.container())
    with left:
        st.subheader("Per class")
        _show_table(score_table(rep, "Class", counts=False), "classes", f"{stem}-classes", rep)
    if conf is not None:
        with right:
            st.subheader("Confusion")
            _show_confusion(conf, "class", key="report.class_conf")
    st.subheader("Misclassified examples")
    _misclassified_browser(run, split, report.get("labels") or [])


def _as_set(labels) -> frozenset:
    return frozenset(labels) if isinstance(labels, list) else frozenset([labels])


def _misclassified_browser(run: dict, split: str, classes: list[str]) -> None:
    rows = _split_rows(run, split)
    if not rows:
        st.info(f"This run has no {split} predictions ({RunFolder.PREDICTIONS}) to browse.")
        return
    wrong = [r for r in rows if _as_set(r["gold"]) != _as_set(r["pred"])]
    if not wrong:
        st.success(f"All {len(rows):,} {split} examples are classified correctly.")
        return
    labels = sorted({l for r in wrong for l in _as_set(r["gold"]) | _as_set(r["pred"])})
    c1, c2 = st.columns(2)
    gold_f = c1.multiselect("Gold class", labels, key="report.mis_gold", placeholder="any")
    pred_f = c2.multiselect("Predicted class", labels, key="report.mis_pred", placeholder="any")
    chosen = [r for r in wrong if (not gold_f or _as_set(r["gold"]) & set(gold_f))
              and (not pred_f or _as_set(r["pred"]) & set(pred_f))]
    st.caption(f"{len(chosen):,} shown of {len(wrong):,} misclassified ({100 * len(wrong) / len(rows):.1f} %"
               f" of {len(rows):,} {split} examples) · {PER_PAGE} per page")
    if not chosen:
        st.info("No example matches these filters.")
        return
    pages = (len(chosen) + PER_PAGE - 1) // PER_PAGE
    page = st.pagination(pages, key="report.mis_page") if pages > 1 else 1
    table = [{"Text": r.get("text", ""), "Gold": ", ".join(sorted(_as_set(r["gold"]))),
              "Predicted": ", ".join(sorted(_as_set(r["pred"]))) or "(none)",
              "Confidence": _confidence(r, classes)}
             for r in chosen[(page - 1) * PER_PAGE: page * PER_PAGE]]
    st.dataframe(pd.DataFrame(table), hide_index=True, width="stretch", key="report.mis_table",
                 column_config={"Confidence": st.column_config.NumberColumn(format=PCT),
                                "Text": st.column_config.TextColumn(width="large")})


def _confidence(row: dict, labels: list[str]) -> float | None:
    """The probability the model gave its (first) predicted class, in %."""
    probs = row.get("probs")
    pred = row["pred"][0] if isinstance(row["pred"], list) and row["pred"] else row["pred"]
    if not probs or pred not in labels or len(probs) != len(labels):
        return max(probs) * 100 if probs else None
    return 100 * probs[labels.index(pred)]


if __name__ == "__main__":  # opened as a legacy pages/ script: let app.py route the URL
    hand_over_to_app()
