"""Playground: type text and see what a finished run's model predicts — entities with their
confidence (NER) or class probabilities (classification)."""
from __future__ import annotations

import re
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from core.spans import to_spans
from core.errors import WorkbenchError
from engine import actions, predict_jobs
from engine.predict import MULTILABEL_THRESHOLD, Predictor
from engine.runfolder import RunFolder
from pages.common import (acting_user, can, choose_run, fmt_duration, get_store,
                          hand_over_to_app, highlight_spans, link_to, read_predictions,
                          run_guarded, show_error, type_colour)

FALLBACK_TEXT = {
    "ner": "Angela Merkel met Emmanuel Macron in Paris to discuss the future of Airbus .",
    "classification": "I lost my card yesterday, can you block it please?",
}
MAX_CHARS = 5000


def render() -> None:
    st.title("Playground")
    st.caption("Try a finished model on your own text (nothing typed is stored), or tag a "
               "whole file: a queued job labels it, then preview and download the result.")
    run_guarded(_body)


def _body() -> None:
    runs = [r for r in get_store().list_runs(states=("completed",))
            if RunFolder(r["dir"]).has_model()]
    if not runs:
        st.info("No finished run with a saved model yet. When a run completes, its model "
                "(`model/` in the run folder) can be tried here.")
        link_to("home", "Home: train the demo", ":material/home:")
        return
    run = choose_run(runs, key="playground.run")
    typed, tagged = st.tabs(["Type text", "Tag a file"])
    with typed:
        _try_text(run)
    with tagged:
        _tag_file(run)


def _try_text(run: dict) -> None:
    task = run.get("task") or "ner"
    config = get_store().config(run["id"])
    model_dir = RunFolder(run["dir"]).model_dir
    kind = "ner" if task == "ner" else "classification"
    key = f"playground.text_{kind}"
    if key not in st.session_state:
        st.session_state[key] = _example_text(run, kind)
    text = st.text_area("Text", key=key, height=110, max_chars=MAX_CHARS,
                        help="Click Predict, press Ctrl+Enter, or click outside the box.")
    # a click sends the typed text with it: the rerun predicts on what is in the box now
    st.button("Predict", type="primary", icon=":material/play_arrow:", key=f"playground.predict_{kind}")
    if not text.strip():
        st.info("Type a sentence above.")
        return
    predictor = load_model(str(model_dir), _folder_mtime(model_dir), task,
                           int(config.get("max_length") or 128))
    if task == "ner":
        _show_entities(predictor, text)
    else:
        _show_classes(predictor, text)


def _example_text(run: dict, kind: str) -> str:
    """A test (or dev) example of the run itself, so the first prediction is meaningful: for
    NER the sentence with the most entity types (then the most entities)."""
    rows = read_predictions(run["dir"], "test") or read_predictions(run["dir"])
    if kind == "ner":
        def richness(row: dict) -> tuple[int, int]:
            spans = to_spans(row.get("gold") or [])
            return len({t for t, _, _ in spans}), len(spans)

        sentences = [r for r in rows if 6 <= len(r.get("tokens") or []) <= 40]
        if sentences:
            return detokenize(max(sentences, key=richness)["tokens"])
    else:
        texts = [r["text"] for r in rows if r.get("text")]
        if texts:
            return texts[0]
    return FALLBACK_TEXT[kind]


def detokenize(tokens: list[str]) -> str:
    """Tokens as readable text: no space before closing punctuation or after an opening one."""
    text = " ".join(str(t) for t in tokens)
    text = re.sub(r" ([,.;:!?%)\]}])", r"\1", text)
    return re.sub(r"([(\[{$]) ", r"\1", text)


def _folder_mtime(folder: Path) -> float:
    return max((p.stat().st_mtime for p in folder.iterdir() if p.is_file()), default=0.0)


@st.cache_resource(max_entries=2, show_spinner="Loading the model…")
def load_model(model_dir: str, mtime: float, task: str, max_length: int) -> Predictor:  # noqa: ARG001 - mtime keys the cache
    """The run's model folder as a Predictor (CPU, eval mode), shared across sessions."""
    return Predictor.load(model_dir, task=task, max_length=max_length)


def _show_entities(predictor: Predictor, text: str) -> None:
    words, tags, conf = predictor.predict_text_words(text)
    if not words:
        st.info("No words found in the text.")
        return
    spans = to_spans(tags)
    tips = {s: f"{t} · confidence {100 * min(conf[s:e]):.0f} %" for t, s, e in spans}
    st.markdown(f'<div style="font-size:1.15em;line-height:2.3;padding:6px 0">'
                f'{highlight_spans(words, spans, title=tips)}</div>', unsafe_allow_html=True)
    if not spans:
        st.info("No entities found in this text.")
    else:
        rows = [{"Entity": " ".join(words[s:e]), "Type": t, "Confidence": 100 * min(conf[s:e]),
                 "Words": f"{s + 1}–{e}" if e - s > 1 else str(s + 1)} for t, s, e in spans]
        legend = " ".join(f'<span style="color:{type_colour(t)};font-weight:600">■ {t}</span>'
                          for t in sorted({t for t, _, _ in spans}))
        st.markdown(legend, unsafe_allow_html=True)
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="playground.entities",
                     column_config={"Confidence": st.column_config.ProgressColumn(
                         "Confidence", min_value=0, max_value=100, format="%.1f %%",
                         help="the lowest word confidence inside the entity"),
                         "Words": st.column_config.TextColumn("Words", help="word positions, from 1")})
    with st.expander("Tag per word"):
        st.dataframe(pd.DataFrame({"Word": words, "Tag": tags, "Confidence": [100 * c for c in conf]}),
                     hide_index=True, width="stretch", key="playground.words",
                     column_config={"Confidence": st.column_config.NumberColumn(format="%.1f %%")})


def _show_classes(predictor: Predictor, text: str) -> None:
    (probs,) = predictor.predict_texts([text])
    ranked = sorted(probs.items(), key=lambda kv: -kv[1])
    chosen = predictor.chosen(probs)
    if predictor.task == "multilabel":
        st.metric("Predicted labels", ", ".join(chosen) if chosen else
                  f"(none above {100 * MULTILABEL_THRESHOLD:.0f} %)")
    else:
        st.metric("Predicted class", chosen[0], help=f"probability {100 * probs[chosen[0]]:.1f} %")
    df = pd.DataFrame([{"class": c, "probability": 100 * p, "predicted": c in chosen}
                       for c, p in ranked])
    chart = (alt.Chart(df, title="Probability per class (%)").mark_bar()
             .encode(y=alt.Y("class:N", sort="-x", title=None),
                     x=alt.X("probability:Q", title="probability (%)", scale=alt.Scale(domain=[0, 100])),
                     color=alt.condition(alt.datum.predicted, alt.value("#3b5bdb"), alt.value("#b8c2e0")),
                     tooltip=["class:N", alt.Tooltip("probability:Q", format=".1f")])
             .properties(height=alt.Step(28)))
    bars = chart.mark_text(align="left", dx=3).encode(text=alt.Text("probability:Q", format=".1f"),
                                                        color=alt.value("#333"))
    st.altair_chart(chart + bars, width="stretch")


if __name__ == "__main__":  # opened as a legacy pages/ script: let app.py route the URL
    hand_over_to_app()


# ---- Tag a file -------------------------------------------------------------------------------
TAG_TYPES = sorted(ext.lstrip(".") for ext in predict_jobs.EXTENSIONS)
JOB_STATES = {"queued": "○ queued", "running": "● running", "completed": "✓ done",
              "failed": "✗ failed"}


def _tag_file(run: dict) -> None:
    """Upload a file, label it with this run's model as a queued job (the scheduler runs it,
    never this server), then preview and download the output."""
    store = get_store()
    ner = (run.get("task") or "ner") == "ner"
    st.caption(("CoNLL (tag columns optional: kept as gold), JSONL with `tokens`, or plain "
                "text, one text per line." if ner else
                "CSV, TSV, Parquet or JSONL with the run's text column, or plain text, one "
                "text per line.") + " Labelled as the run's evaluation labels its test data.")
    if can("predict"):
        with st.form("playground.tag_form", clear_on_submit=True, border=False):
            upload = st.file_uploader("File to tag", type=TAG_TYPES, key="playground.tag_upload")
            sent = st.form_submit_button("Tag file", type="primary")
        if sent:
            if upload is None:
                st.warning("Choose a file first.")
            else:
                try:
                    job_id = actions.tag_file(acting_user(), store, run["id"], upload.name,
                                              upload.getvalue())
                    st.session_state["playground.job"] = job_id
                    st.session_state["playground.job_pick"] = job_id  # show it once listed
                    st.success(f"Queued {upload.name}: the scheduler labels it next.")
                except WorkbenchError as exc:
                    show_error(exc)
    else:
        st.info("Tagging a file needs the editor role; you can preview and download files "
                "others tagged.")
    _jobs(run["id"])


@st.fragment(run_every=2)
def _jobs(run_id: str) -> None:
    jobs = predict_jobs.list_jobs(get_store(), run_id)
    if not jobs:
        st.caption("No file tagged with this model yet.")
        return
    rows = [{"File": j.get("filename", "?"), "State": JOB_STATES.get(j["state"], j["state"]),
             "Records": j.get("records"), "By": j.get("created_by") or "",
             "Took": fmt_duration((j.get("finished_at") or 0) - (j.get("started_at") or 0))
             if j.get("finished_at") and j.get("started_at") else ""} for j in jobs[:20]]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="playground.jobs")
    ids = [j["id"] for j in jobs]
    wanted = st.session_state.get("playground.job")
    chosen = st.selectbox("Job", ids, index=ids.index(wanted) if wanted in ids else 0,
                          format_func=lambda i: f"{_job_of(jobs, i).get('filename', i)} · {i}",
                          key="playground.job_pick")
    job = _job_of(jobs, chosen)
    if job["state"] == "failed":
        st.error(job.get("error") or "the job failed")
    elif job["state"] != "completed":
        st.info("Waiting for the scheduler…" if job["state"] == "queued" else "Labelling…")
    else:
        out = predict_jobs.output_path(job)
        if out is None:
            st.warning("The output file is gone.")
            return
        if job.get("unknown_gold"):
            st.caption("The file's gold labels include " + ", ".join(job["unknown_gold"]) +
                       ", which this model never predicts.")
        st.code(predict_jobs.preview(job) or "(empty)", language=None)
        stem = Path(job.get("filename") or "file").stem
        st.download_button("Download", data=lambda p=out: p.read_bytes(),
                           file_name=f"{stem}-tagged{out.suffix}", key=f"playground.dl.{chosen}",
                           icon=":material/download:")


def _job_of(jobs: list[dict], job_id: str) -> dict:
    return next(j for j in jobs if j["id"] == job_id)
