"""Runs: the queue and the history of runs, and one run's live curves, log and actions.

The run picker, the current run and the flash messages it uses live in pages.common.
"""
from __future__ import annotations

import functools
import io
import time
import zipfile
from datetime import datetime
from pathlib import Path

import altair as alt
import pandas as pd
import streamlit as st

from core import eta
from core.report import status_headline
from engine import actions, checkpoint, queue
from engine.runfolder import STATES, RunFolder
from engine.store import Store
from pages.common import (STATE_ICONS, acting_user, can, choose_run, curve_frames, flash,
                          fmt_duration, forget_run, get_store, hand_over_to_app, link_to, page,
                          read_metrics, run_guarded, show_flash, tag_label, tick_axis,
                          type_colours)

LIVE = ("running", "queued")
LIST_LIMIT = 1000
LOG_LINES = 60
METRIC_NAMES = {"f1_micro": "micro F1", "f1_macro": "macro F1", "accuracy": "accuracy"}
CHART_HEIGHT = 220
DISK_TTL_S = 30  # disk use of a run may lag this much behind (another session freed it)
REFRESH_S = 2  # while a run is queued or running, the table and the panel redraw this often
ESTIMATING = "estimating…"
RESUMABLE = queue.RESUMABLE


# ---- page ---------------------------------------------------------------------------------

def render() -> None:
    st.title("Runs")
    st.caption("The queue and every past run. Pick a run to follow its curves and log; "
               f"while a run is queued or running, the table and its panel refresh every {REFRESH_S} s.")
    run_guarded(_body)


def _body() -> None:
    store = get_store()
    show_flash("runs")
    live = bool(store.list_runs(states=LIVE))  # the live runs' status files only
    # The table and the selected run's panel are one fragment: each redraw reads the runs
    # once (status.json, and metrics.jsonl of the running ones) and draws both from that,
    # so they never disagree (the table used to keep the step of the last full rerun).
    view = st.fragment(_view, run_every=REFRESH_S if live else None)
    view(store, live, time.monotonic_ns())


class _Snapshot:
    """What one redraw read: the runs (with status.json) and, read once each, the metrics
    and configs the table and the panel need, at one clock."""

    def __init__(self, store: Store, runs: list[dict]):
        self.store, self.runs, self.now = store, runs, time.time()
        self._records: dict[str, list[dict]] = {}
        self._configs: dict[str, dict] = {}
        self._etas: dict[str, eta.Eta | None] = {}

    def records(self, run: dict) -> list[dict]:
        if run["id"] not in self._records:
            self._records[run["id"]] = read_metrics(run["dir"])
        return self._records[run["id"]]

    def config(self, run: dict) -> dict:
        if run["id"] not in self._configs:
            self._configs[run["id"]] = self.store.config(run["id"])
        return self._configs[run["id"]]

    def eta(self, run: dict) -> eta.Eta | None:
        """core.eta's estimate for a running run (None: not running, or still estimating)."""
        if run["state"] != "running":
            return None
        if run["id"] not in self._etas:  # the table's row and the panel's tile: one estimate
            self._etas[run["id"]] = eta.estimate(
                self.records(run), run["status"].get("total_steps"), self.now,
                eval_every=self.config(run).get("eval_every"))
        return self._etas[run["id"]]


def _view(store: Store, live: bool, drawn: int) -> None:
    """The fragment: a timed redraw runs only this, so it shows its own errors (as a
    message, never a traceback)."""
    run_guarded(lambda: _draw(store, live, drawn))


def _draw(store: Store, live: bool, drawn: int) -> None:
    """Counts, filters, the table and the selected run, from one read of the runs. On a
    timed redraw, a run that started, ended or changed state reruns the whole page (the
    sidebar's counts, and whether to keep refreshing) once this redraw has drawn its
    widgets: a click that arrived with it (Cancel as the run starts) is handled first."""
    runs = store.list_runs(limit=LIST_LIMIT)
    states = sorted((r["id"], r["state"]) for r in runs if r["state"] in LIVE)
    redraw = st.session_state.get("runs.drawn") == drawn  # a timed or widget redraw
    changed = redraw and st.session_state.get("runs.live_seen") != states
    st.session_state["runs.drawn"], st.session_state["runs.live_seen"] = drawn, states
    _draw_runs(store, runs)
    if changed or (redraw and bool(states) != live):
        st.rerun(scope="app")


def _draw_runs(store: Store, runs: list[dict]) -> None:
    if not runs:
        st.info("No runs yet. Start one on the **Train** page, or train the demo from **Home**.")
        link_to("home", "Home: train the demo", ":material/home:")
        return
    snap = _Snapshot(store, runs)
    _show_counts(runs)
    shown = _filtered(runs)
    _show_table(shown, snap)
    st.divider()
    default = next((r["id"] for r in runs if r["state"] == "running"), None)
    run = choose_run(shown or runs, key="runs.selected", label="Selected run", default=default)
    if run is not None:
        _show_run(snap, run)


def _show_counts(runs: list[dict]) -> None:
    counts = {s: 0 for s in STATES}
    for r in runs:
        counts[r["state"]] = counts.get(r["state"], 0) + 1
    cols = st.columns(len(STATES))
    for col, state in zip(cols, STATES):
        col.metric(f"{STATE_ICONS[state]} {state}", counts[state])


def _filtered(runs: list[dict]) -> list[dict]:
    left, right = st.columns([2, 1])
    states = left.pills("Show", STATES, selection_mode="multi", key="runs.states",
                        format_func=lambda s: f"{STATE_ICONS[s]} {s}")
    text = right.text_input("Filter by name or id", key="runs.search", placeholder="e.g. demo")
    out = [r for r in runs if not states or r["state"] in states]
    if text:
        needle = text.lower()
        out = [r for r in out if needle in (r.get("name") or "").lower() or needle in r["id"].lower()]
    return out


def _show_table(runs: list[dict], snap: _Snapshot) -> None:
    if not runs:
        st.info("No run matches the filter.")
        return
    queued = sorted((r for r in runs if r["state"] == "queued"), key=lambda r: r["created_at"])
    position = {r["id"]: i + 1 for i, r in enumerate(queued)}
    rows = [_table_row(r, snap, position.get(r["id"])) for r in runs]
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", placeholder="—", height=min(420, 38 + 35 * len(rows)),
                 key="runs.table", column_config={
                     "Progress": st.column_config.ProgressColumn("Progress", min_value=0.0, max_value=1.0,
                                                                 format="percent"),
                     "Dev score": st.column_config.NumberColumn(
                         "Dev score", format="%.1f %%",
                         help="Entity micro F1 (NER) or accuracy (classification) on dev, in %"),
                     "Test score": st.column_config.NumberColumn("Test score", format="%.1f %%"),
                     "Created": st.column_config.DatetimeColumn("Created", format="YYYY-MM-DD HH:mm"),
                     "Task": st.column_config.TextColumn("Task", width=110),
                     "ETA": st.column_config.TextColumn(
                         "ETA", width=100, help="time left of a running run: the same estimate "
                         "as its panel's Time left"),
                     "Disk": st.column_config.NumberColumn(
                         "Disk", format="bytes", help="what the run folder takes: checkpoints, "
                         "model/ and the rest"),
                 })


def _table_row(run: dict, snap: _Snapshot, queue_position: int | None) -> dict:
    status = run["status"]
    step, total = status.get("step") or 0, status.get("total_steps")
    state = run["state"]
    if state == "running":
        eta_text = _eta_text(snap.eta(run))
    elif state == "queued":
        eta_text = f"#{queue_position} in queue" if queue_position else "in queue"
    else:
        eta_text = "—"
    dev, test = status_headline(status, "dev"), status_headline(status, "test")
    return {"State": f"{STATE_ICONS.get(state, '•')} {state}", "Name": run.get("name") or "—",
            "Part of": tag_label(status.get("tags")) or "—",
            "Task": run.get("task") or "—",
            "Progress": (min(step / total, 1.0) if total else (1.0 if state == "completed" else 0.0)),
            "Steps": f"{step:,} / {total:,}" if total else "—", "ETA": eta_text,
            "Dev score": None if dev is None else 100 * dev,
            "Test score": None if test is None else 100 * test,
            "Device": status.get("device") or "—", "Disk": _disk(run)["total"],
            "Created": datetime.fromtimestamp(run["created_at"]),
            "By": status.get("created_by") or "—", "ID": run["id"]}


def _eta_text(found: eta.Eta | None) -> str:
    return ESTIMATING if found is None else fmt_duration(found.seconds)


# ---- one run ------------------------------------------------------------------------------

def _show_run(snap: _Snapshot, run: dict) -> None:
    config = snap.config(run)
    records = snap.records(run)
    _show_header(run, config)
    _show_problem(run, records)
    _show_actions(snap.store, run, config)
    _panel(run, config, records, snap.eta(run))


def _show_header(run: dict, config: dict) -> None:
    state = run["state"]
    st.subheader(f"{STATE_ICONS.get(state, '•')} {run.get('name') or run['id']}")
    created = datetime.fromtimestamp(run["created_at"]).strftime("%Y-%m-%d %H:%M")
    st.caption(f"`{run['id']}` · {state} · {run.get('task')} · model `{config.get('model', '?')}` · "
               f"lr {config.get('learning_rate', '?')} · {config.get('epochs', '?')} epochs · "
               f"created {created}" + (f" by {run['status']['created_by']}"
                                       if run["status"].get("created_by") else ""))


def _show_problem(run: dict, records: list[dict]) -> None:
    status, state = run["status"], run["state"]
    error = status.get("error")
    where = _resume_note(run, records) if state in RESUMABLE else ""
    if state == "failed":
        text = (error or "the worker failed without a message; see the worker log below").strip()
        lines = text.splitlines()
        st.error(f"**This run failed:** {lines[-1] if len(lines) > 1 else text}")
        if len(lines) > 1:
            with st.expander("Full error"):
                st.code(text, language=None)
        st.caption(where)
    elif state == "interrupted":
        st.warning(f"{error or 'The worker stopped without finishing.'} — {where}")
    elif state == "cancelled":
        st.info(f"Cancelled. {where}")
    elif state == "pruned":
        tags = status.get("tags") or {}
        st.info(f"Pruned by sweep {tags.get('sweep', '?')}: its dev scores trailed the other "
                "trials', so it was stopped early. **Resume** trains it to the end from its "
                f"checkpoint (the sweep keeps it as pruned). {where}")
    warnings = [w for w in status.get("warnings") or [] if isinstance(w, str)]
    if warnings:  # e.g. a tracker switched off (engine/tracking.py); the run itself went on
        st.warning("\n".join(f"- {w}" for w in warnings), icon=":material/warning:")


def _resume_note(run: dict, records: list[dict]) -> str:
    """Where a Resume continues, beside the last logged step: the step of the checkpoint
    engine.checkpoint.latest picks (the one a resume loads), which is often past the last
    log line (a cancel saves one at the step it stopped)."""
    logged = run["status"].get("step") or 0
    step = _resume_step(run, records)
    if step is None and not _checkpoint_name(run):
        return (f"Last logged step {logged:,}; no checkpoint was saved, so **Resume** "
                "starts again from step 0.")
    if step is None:  # a checkpoint no metrics line names (the lines were lost)
        return f"Last logged step {logged:,} · **Resume** continues from its latest checkpoint."
    return (f"Last logged step {logged:,} · checkpoint at step {step:,}: **Resume** continues "
            f"from step {step:,}.")


def _resume_step(run: dict, records: list[dict]) -> int | None:
    """The step of the checkpoint a Resume would load (None: none, or its step unknown):
    engine.checkpoint.latest, matched to the metrics line that recorded it."""
    name = _checkpoint_name(run)
    if name is None:
        return None
    for r in reversed(records):
        path = r.get("path") if r.get("event") == "checkpoint" else r.get("checkpoint")
        if r.get("event") in ("checkpoint", "stopped", "resume") and isinstance(path, str) \
                and Path(path).name == name and isinstance(r.get("step"), int):
            return r["step"]
    return None


def _checkpoint_name(run: dict) -> str | None:
    return _latest_checkpoint(str(run["dir"]), run["status"].get("updated_at"))


@st.cache_data(max_entries=256, show_spinner=False)
def _latest_checkpoint(run_dir: str, updated_at: float | None) -> str | None:  # noqa: ARG001 - part of the key
    """The folder name of the checkpoint engine.checkpoint.latest picks (it reads the
    weights' header and the trainer state back), cached until the run's status changes."""
    path = checkpoint.latest(Path(run_dir))
    return None if path is None else path.name


def _show_actions(store: Store, run: dict, config: dict) -> None:
    run_id, state, run_dir = run["id"], run["state"], Path(run["dir"])
    with st.container(horizontal=True, vertical_alignment="center"):
        if can("launch") and st.button(
                "Clone and edit", icon=":material/edit:", key="runs.clone", disabled=not config,
                help="Open Train filled with this run's settings, to change and launch them"
                if config else f"This run's {RunFolder.CONFIG} is missing or unreadable"):
            _clone(run, config)
        if state in LIVE and can("cancel") and st.button("Cancel", icon=":material/stop_circle:", key="runs.cancel"):
            outcome = actions.cancel(acting_user(), store, run_id)
            _flash({"cancelled": "Run cancelled before it started.",
                    "stopping": "Stopping: the worker saves a checkpoint, then ends as cancelled.",
                    "interrupted": "The worker was gone; the run is marked interrupted."}[outcome])
        if state in queue.RESUMABLE and can("resume") and st.button("Resume", icon=":material/play_arrow:", key="runs.resume"):
            actions.resume(acting_user(), store, run_id)
            queue.ensure_daemon(store)
            _flash("Back in the queue: it continues from its latest checkpoint.")
        if state not in LIVE and can("delete run") and st.button("Delete", icon=":material/delete:", key="runs.delete"):
            st.session_state["runs.confirm_delete"] = run_id
        _download_buttons(run_dir, run_id)
        if state == "completed" and can("free space") and checkpoint.can_free(run_dir) and st.button(
                "Free space", icon=":material/cleaning_services:", key="runs.free_space",
                help="Keep only the final weights of the checkpoints (no optimizer state); "
                     "model/, the report and the predictions stay"):
            _flash(f"Freed {fmt_bytes(_free_space(store, run_id))}: the checkpoints hold only "
                   "the final weights now.")
        if state == "completed":
            link_to("report", "Open the report", ":material/bar_chart:", run_id)
    if st.session_state.get("runs.confirm_delete") == run_id:
        _confirm_delete(store, run)


def _clone(run: dict, config: dict) -> None:
    """Clone and edit: the Train page opens filled with the run's config (it reads
    session_state["train_from_config"], and names the run from "train_from_run"); launching
    from there checks the role again (engine/actions.launch)."""
    from streamlit.errors import StreamlitAPIException

    name = run.get("name")
    st.session_state["train_from_config"] = dict(config)
    st.session_state["train_from_run"] = f"{name} ({run['id']})" if name else run["id"]
    try:
        st.switch_page(page("train"))
    except StreamlitAPIException:  # a page rendered alone (no navigation), or no Train page
        st.success("Settings copied: open the **Train** page to edit and launch them.")


def _free_space(store: Store, run_id: str) -> int:
    """The Free space button's action: a completed run's checkpoints shrink to its final
    weights (engine.checkpoint.free_space); returns the bytes freed."""
    freed = actions.free_space(acting_user(), store, run_id)
    _disk_usage.clear()
    return freed


@st.cache_data(ttl=DISK_TTL_S, max_entries=4096, show_spinner=False)
def _disk_usage(run_dir: str, updated_at: float | None) -> dict:  # noqa: ARG001 - part of the key
    return checkpoint.disk_usage(Path(run_dir))


def _disk(run: dict) -> dict:
    """The run folder's bytes (total, checkpoints, model, other), cached until its status
    changes or DISK_TTL_S pass: the table measures every run at each redraw."""
    return _disk_usage(str(run["dir"]), run["status"].get("updated_at"))


def fmt_bytes(n: int) -> str:
    """Bytes in decimal units, as the table shows them: '87 MB', '1.2 GB', '512 B'."""
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}" if n < 10 * size else f"{n / size:.0f} {unit}"
    return f"{n} B"


def _flash(message: str) -> None:
    flash("runs", message)
    st.rerun()


def _confirm_delete(store: Store, run: dict) -> None:
    with st.container(border=True):
        st.warning(f"Delete **{run.get('name') or run['id']}** with its checkpoints, model and "
                   "report? This cannot be undone.")
        yes, no = st.columns([1, 6])
        if yes.button("Yes, delete", type="primary", key="runs.delete_yes"):
            st.session_state.pop("runs.confirm_delete", None)
            actions.delete_run(acting_user(), store, run["id"])
            forget_run(run["id"])
            _flash(f"Deleted {run.get('name') or run['id']}.")
        if no.button("Keep it", key="runs.delete_no"):
            st.session_state.pop("runs.confirm_delete", None)
            st.rerun()


def _download_buttons(run_dir: Path, run_id: str) -> None:
    folder = RunFolder(run_dir)
    report = folder.report_path
    if report.is_file():
        st.download_button(report.name, data=report.read_bytes(), file_name=f"{run_id}-{report.name}",
                           mime="application/json", icon=":material/download:", on_click="ignore", key="runs.dl_report")
    predictions = folder.predictions_path
    if predictions.is_file():
        st.download_button(predictions.name, data=functools.partial(predictions.read_bytes),
                           file_name=f"{run_id}-{predictions.name}", mime="application/jsonl",
                           icon=":material/download:", on_click="ignore", key="runs.dl_predictions")
    model = folder.model_dir
    if folder.has_model():
        # built only when clicked: the zip of a model folder is tens of MB
        st.download_button("model (.zip)", data=functools.partial(zip_folder, model),
                           file_name=f"{run_id}-model.zip", mime="application/zip", icon=":material/download:",
                           on_click="ignore", key="runs.dl_model",
                           help=f"Or load it in place: {model}")


def zip_folder(folder: Path) -> bytes:
    """The folder as an in-memory zip (paths relative to its parent)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for path in sorted(Path(folder).rglob("*")):
            if path.is_file():
                zf.write(path, Path(folder.name) / path.relative_to(folder))
    return buf.getvalue()


def _panel(run: dict, config: dict, records: list[dict], left: eta.Eta | None) -> None:
    if run["state"] == "queued":
        st.info("Waiting for a free device slot; it starts when the runs ahead of it finish.")
    _show_tiles(run, config, records, left)
    _show_disk(run)
    curves, log, cfg = st.tabs(["Curves", "Worker log", "Config"], key="runs.tab")
    with curves:
        _show_curves(records, run.get("task", "ner"), run["status"].get("total_steps"))
    with log:
        _show_log(Path(run["dir"]))
    with cfg:
        _show_config(config)


def _show_tiles(run: dict, config: dict, records: list[dict], left: eta.Eta | None) -> None:
    status = run["status"]
    logs = [r for r in records if r.get("event") == "log"]
    evals = [r for r in records if r.get("event") == "eval"]
    step, total = status.get("step") or 0, status.get("total_steps")
    started, finished = status.get("started_at"), status.get("finished_at")
    tiles = st.columns(5)
    tiles[0].metric("Progress", f"{100 * step / total:.0f} %" if total else "—", border=True,
                    help=f"step {step:,} of {total:,}" if total else "not started")
    tiles[1].metric("Training loss", f"{logs[-1]['loss']:.3f}" if logs else "—", border=True,
                    help="mean over the last logged steps")
    if evals:
        metric = evals[-1].get("metric", "f1_micro")
        best = max(evals, key=lambda r: r.get("value", 0.0))
        tiles[2].metric(f"Best dev {'accuracy' if metric == 'accuracy' else 'F1'}",
                        f"{100 * best['value']:.1f} %", border=True,
                        help=f"{METRIC_NAMES.get(metric, metric)} at step {best['step']:,}")
    else:
        tiles[2].metric("Best dev score", "—", border=True, help="after the first evaluation")
    tps = logs[-1].get("tokens_per_s") if logs else None
    tiles[3].metric("Tokens/s", f"{tps:,.0f}" if tps else "—", border=True,
                    help="training throughput over the last logged steps (sub-word tokens)")
    if run["state"] == "running":
        _time_left_tile(tiles[4], left)
    else:
        test = status_headline(status, "test")
        if test is not None:
            tiles[4].metric("Test F1" if "per_type_f1" in (status.get("summary") or {}).get("test", {})
                            else "Test accuracy", f"{100 * test:.1f} %", border=True,
                            help="on the test split, best dev checkpoint")
        else:
            took = (finished or status.get("updated_at") or 0) - started if started else None
            tiles[4].metric("Training time", fmt_duration(took), border=True)
    parts = [f"step {step:,} of {total:,}" if total else f"step {step:,}"]
    epoch = logs[-1]["epoch"] if logs else status.get("epoch")
    if epoch is not None:
        parts.append(f"epoch {epoch:.2f} of {config.get('epochs', '?')}")
    if started:
        parts.append(f"{'running for' if run['state'] == 'running' else 'took'} "
                     f"{fmt_duration((finished or time.time()) - started)}")
    if status.get("device"):
        parts.append(f"on {status['device']}")
    from engine.graphs import describe

    if how := describe(status.get("step_runner")):
        parts.append(how)
    st.caption(" · ".join(parts))


def _time_left_tile(tile, left: eta.Eta | None) -> None:
    """The table's ETA, as a tile (core/eta.py: the same estimate from the same read)."""
    if left is None:
        tile.metric("Time left", "—", ESTIMATING, delta_color="off", delta_arrow="off",
                    border=True, help=f"Estimated once {eta.MIN_SECONDS:.0f} s of training and "
                    f"{eta.MIN_FRACTION:.0%} of the steps (or {eta.ENOUGH_SECONDS:.0f} s) are "
                    "measured, counted from the first log line")
        return
    evals = (f"; {left.evals_left} evaluation(s) to come at {left.eval_time:.1f} s each"
             if left.eval_time is not None and left.evals_left else "")
    tile.metric("Time left", fmt_duration(left.seconds), border=True,
                help=f"{left.step_time:.2f} s per step over the recent log lines, evaluation "
                     f"pauses apart{evals}")


def _show_disk(run: dict) -> None:
    disk = _disk(run)
    st.caption(f"Disk: {fmt_bytes(disk['total'])} · checkpoints {fmt_bytes(disk['checkpoints'])}"
               f" · model {fmt_bytes(disk['model'])} · other {fmt_bytes(disk['other'])}")


def step_axis(total: int | None) -> alt.X:
    """The x encoding of every curve: optimizer steps, over the whole run when its length is known."""
    scale = alt.Scale(domain=[0, total], nice=False) if total else alt.Undefined
    return alt.X("step:Q", title="step", scale=scale, axis=alt.Axis(format="d"))


def _line(df: pd.DataFrame, y: str, title: str, fmt: str, y_title: str, total: int | None) -> alt.Chart:
    """A curve over steps; `fmt` "ticks": labels with the decimals the ticks need."""
    axis = tick_axis(df[y], zero=True) if fmt == "ticks" else alt.Axis(format=fmt)
    return (alt.Chart(df, title=title).mark_line(point=len(df) <= 40)
            .encode(x=step_axis(total), y=alt.Y(f"{y}:Q", title=y_title, axis=axis),
                    tooltip=[alt.Tooltip("step:Q"), alt.Tooltip(f"{y}:Q", format=fmt)])
            .properties(height=CHART_HEIGHT))


def _show_curves(records: list[dict], task: str, total: int | None) -> None:
    logs, evals = curve_frames(records)
    if logs.empty and evals.empty:
        st.info("No metrics yet: the worker writes them after its first logged steps.")
        return
    left, mid, right = st.columns(3)
    if not logs.empty:
        left.altair_chart(_line(logs, "loss", "Training loss", "ticks", "loss", total), width="stretch")
        mid.altair_chart(_line(logs, "lr", "Learning rate", ".1e", "learning rate", total), width="stretch")
    if not evals.empty:
        right.altair_chart(_dev_chart(evals, total), width="stretch")
        if task == "ner" and "per_type_f1" in evals:
            st.altair_chart(per_type_chart(evals, total), width="stretch")


def _dev_chart(evals: pd.DataFrame, total: int | None) -> alt.Chart:
    metric = str(evals["metric"].iloc[-1]) if "metric" in evals else "score"
    df = evals.assign(score=100 * evals["value"])
    df = df.assign(best=df["score"] == df["score"].max())  # the checkpoint the report uses
    base = alt.Chart(df, title=f"Dev {METRIC_NAMES.get(metric, metric)} (%)")
    line = base.mark_line(point=True).encode(
        x=step_axis(total), y=alt.Y("score:Q", title="%", scale=alt.Scale(zero=False),
                                    axis=tick_axis(df["score"])),
        tooltip=[alt.Tooltip("step:Q"), alt.Tooltip("score:Q", format=".1f", title="%")])
    best = base.transform_filter(alt.datum.best).mark_point(size=120, filled=True, color="#e15759").encode(
        x="step:Q", y="score:Q")
    return (line + best).properties(height=CHART_HEIGHT)


def per_type_chart(evals: pd.DataFrame, total: int | None = None,
                   title: str = "Dev F1 per entity type (%)") -> alt.Chart:
    """One line per entity type: its dev F1 at each evaluation, in the type's colour."""
    rows = [{"step": int(r["step"]), "type": t, "f1": 100 * float(v)}
            for r in evals.to_dict("records") if isinstance(r.get("per_type_f1"), dict)
            for t, v in r["per_type_f1"].items()]
    df = pd.DataFrame(rows)
    domain, colours = type_colours(sorted(df["type"].unique()) if not df.empty else [])
    return (alt.Chart(df, title=title).mark_line(point=True)
            .encode(x=step_axis(total), y=alt.Y("f1:Q", title="F1 (%)", scale=alt.Scale(zero=False),
                                                axis=tick_axis(df["f1"] if not df.empty else [])),
                    color=alt.Color("type:N", title="entity type", scale=alt.Scale(domain=domain, range=colours)),
                    tooltip=["type:N", "step:Q", alt.Tooltip("f1:Q", format=".1f", title="F1 (%)")])
            .properties(height=260))


def _show_log(run_dir: Path) -> None:
    folder = RunFolder(run_dir)
    text = folder.log_tail(LOG_LINES)
    if not text:
        st.info("The worker has not written to its log yet.")
        return
    st.caption(f"Last {LOG_LINES} lines of `{folder.log_path}`")
    st.code(text, language=None, height=360)


def _show_config(config: dict) -> None:
    from core.config import RunConfig, config_to_dict

    defaults = config_to_dict(RunConfig())
    changed = {k: v for k, v in config.items() if defaults.get(k) != v}
    st.caption("Settings that differ from the defaults; the full config is below.")
    st.dataframe(pd.DataFrame({"setting": list(changed), "value": [str(v) for v in changed.values()]}),
                 hide_index=True, width="content")
    with st.expander(f"Full {RunFolder.CONFIG}"):
        st.json(config)


if __name__ == "__main__":
    hand_over_to_app()
