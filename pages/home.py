"""Home: what the tool is, the queue and device status, recent runs, and the way to a first
per-entity report (train the demo)."""
from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pandas as pd
import streamlit as st

from core.errors import WorkbenchError
from engine import actions, queue
from engine.store import Store
from core.report import status_headline
from pages.common import (STATE_ICONS, acting_user, can, flash, get_store, hand_over_to_app,
                          link_to, page, remember_run, run_guarded)

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
DEMOS = {
    "ner": ("demo_ner.toml", "Train the NER demo",
            "Fine-tunes the bundled MiniLM-L6 encoder (22.6M parameters) to find people, "
            "organisations, places and other names in a generated news corpus."),
    "classification": ("demo_classify.toml", "Train the intent demo",
                       "Fine-tunes the same encoder to sort banking customer messages into intents."),
}


def render() -> None:
    st.title("Fine-tuning workbench")
    st.markdown(
        "Fine-tune pretrained transformer encoders on your own data — **named-entity "
        "recognition** first, **text classification** second — and read what the model "
        "learned, entity by entity. Runs wait in a queue, survive a reload or a server restart, "
        "and resume from their last checkpoint.")
    run_guarded(_body)


def _body() -> None:
    store = get_store()
    _show_status(store)
    left, right = st.columns([1, 1], gap="large")
    with left:
        if can("launch"):
            _show_demo(store)
        else:
            _show_viewer()
    with right:
        _show_steps()
    _show_recent(store)


# ---- status -------------------------------------------------------------------------------

def _show_status(store: Store) -> None:
    status = queue.status_summary(store)
    slots, device = queue.device_summary()
    cols = st.columns([1, 2, 1, 1])
    cols[0].metric("Queue process", "running" if status["pid"] else "stopped", border=True,
                   help=f"pid {status['pid']}" if status["pid"] else
                   "Queued runs start only while the queue process runs.")
    cols[1].metric("Device", device, border=True, help=f"{slots} slot(s): runs that train at once")
    cols[2].metric(f"{STATE_ICONS['running']} Running", f"{status['running']} / {slots}", border=True)
    cols[3].metric(f"{STATE_ICONS['queued']} Queued", status["queued"], border=True)
    _show_gpus()
    _show_executor(store)
    if not status["pid"]:
        st.warning("The queue process is not running, so queued runs wait.")
        if can("launch") and st.button("Start the queue", icon=":material/play_arrow:", key="home.start_queue"):
            queue.ensure_daemon(store)
            st.rerun()


@st.cache_data(ttl=10, show_spinner=False)
def executor_info(root: str) -> dict:
    """Where runs train (engine/executors.py describe()), or {"kind", "address", "error"}
    when the settings are malformed or the cluster does not answer; cached 10 s."""
    from engine import executors

    try:
        settings = executors.load_settings(Path(root))
        return executors.make(settings).describe()
    except WorkbenchError as exc:
        return {"kind": "?", "address": None, "error": str(exc)}


def _show_executor(store: Store) -> None:
    info = executor_info(str(store.root))
    if info.get("error"):
        st.error(f"Executor: {info['error']}")
        return
    if info["kind"] == "local":
        st.caption("Executor: **local**: runs train on this machine "
                   "(README › Running on a cluster for Ray).")
        return
    free = lambda v: "?" if v is None else f"{v:g}"  # noqa: E731
    st.markdown(f"**Executor: Ray** at `{info['address']}` · {len(info['nodes'])} node(s) · "
                f"CPUs {free(info['cpus_free'])} free of {info['cpus_total']:g} · "
                f"GPUs {free(info['gpus_free'])} free of {info['gpus_total']:g}")
    st.dataframe([{"Node": n.get("name") or n["ip"], "IP": n["ip"],
                   "Head": "yes" if n["head"] else "", "CPUs": n["cpus_total"],
                   "CPUs free": n["cpus_free"], "GPUs": n["gpus_total"],
                   "GPUs free": n["gpus_free"]} for n in info["nodes"]],
                 hide_index=True, width="stretch")


def gpu_status() -> list[dict]:
    """Per CUDA device: name, memory used and total (bytes, the whole device's: every
    process), utilisation in % (None where NVML, i.e. the pynvml package, is missing). []
    without CUDA (or without torch). A device whose query fails still gets a card."""
    try:
        import torch

        if not torch.cuda.is_available():
            return []
        count = torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - no torch, a broken driver: no GPU to show
        return []
    out = []
    for i in range(count):
        card: dict = {"index": i, "name": f"cuda:{i}", "used": None, "total": None, "util": None}
        try:
            card["name"] = torch.cuda.get_device_name(i)
        except Exception:  # noqa: BLE001
            pass
        try:
            free, total = torch.cuda.mem_get_info(i)
            card["used"], card["total"] = total - free, total
        except Exception:  # noqa: BLE001
            pass
        try:
            card["util"] = int(torch.cuda.utilization(i))  # needs pynvml (NVML)
        except Exception:  # noqa: BLE001 - ModuleNotFoundError without pynvml, NVML errors
            pass
        out.append(card)
    return out


def _gib(n: int | None) -> str:
    return "?" if n is None else f"{n / 2**30:.1f}"


def _show_gpus() -> None:
    """A card per GPU under the status tiles (name, memory, utilisation); none without one.
    Plain text, not metric tiles: a tile cuts '12.3 / 139.8 GiB' short."""
    gpus = gpu_status()
    if not gpus:
        return
    cols = st.columns(min(len(gpus), 4))
    for n, gpu in enumerate(gpus):
        with cols[n % len(cols)].container(border=True):
            st.markdown(f"**GPU {gpu['index']}** · {gpu['name']}")
            used, total = gpu["used"], gpu["total"]
            memory = f"Memory {_gib(used)} / {_gib(total)} GiB"
            if used is not None and total:
                st.progress(min(1.0, used / total), text=f"{memory} ({100 * used / total:.0f} %)")
            else:
                st.markdown(f"{memory} (n/a)")
            util = "n/a" if gpu["util"] is None else f"{gpu['util']} %"
            st.markdown(f"Utilisation **{util}**",
                        help=None if gpu["util"] is not None else
                        "Reading the utilisation needs NVML: install the pynvml package")


# ---- demo ---------------------------------------------------------------------------------

def demo_config(kind: str) -> dict:
    """The run config of examples/demo_*.toml, as a dict for engine.queue.submit."""
    from core.config import config_to_dict, from_toml

    path = EXAMPLES / DEMOS[kind][0]
    try:
        text = path.read_text(encoding="utf-8")
    except OSError:
        raise WorkbenchError(f"the demo config {path} is missing; reinstall the examples folder") from None
    return config_to_dict(from_toml(text))


def _show_demo(store: Store) -> None:
    with st.container(border=True):
        st.subheader("First run in three clicks")
        st.markdown(DEMOS["ner"][2] + " A few minutes on a CPU, well under one on a GPU. "
                    "When it finishes, **Report** shows precision, recall and F1 for every "
                    "entity type and the sentences it got wrong.")
        with st.container(horizontal=True):
            ner = st.button(DEMOS["ner"][1], type="primary", icon=":material/rocket_launch:", key="home.demo_ner")
            cls = st.button(DEMOS["classification"][1], icon=":material/chat:", key="home.demo_cls",
                            help=DEMOS["classification"][2])
        if ner or cls:
            run_id = actions.launch(acting_user(), store, demo_config("ner" if ner else "classification"))[0]
            queue.ensure_daemon(store)
            remember_run(run_id)
            flash("runs", "Demo queued. Its curves appear below once the worker has loaded "
                  "the data and the model.")
            st.switch_page(page("runs"), query_params={"run": run_id})


def _show_viewer() -> None:
    with st.container(border=True):
        st.subheader("Read the team's runs")
        st.markdown("Your role lets you read runs, reports, sweeps and learning curves, compare "
                    "runs and try a model in the Playground. Ask an admin for the editor role "
                    "to upload data and launch runs.")


def _show_steps() -> None:
    with st.container(border=True):
        st.subheader("How it works")
        st.markdown(
            "1. **Data** — upload CoNLL, JSONL, CSV or Parquet; the tag scheme is checked and "
            "problems are reported by file and line.\n"
            "2. **Train** — pick an encoder, the loss and the schedule; the run joins the queue.\n"
            "3. **Runs** — follow loss and dev F1 per entity type live; cancel or resume.\n"
            "4. **Report** — per-entity and per-tag tables, confusions, and an error browser.\n"
            "5. **Compare** and **Playground** — put runs side by side; try a model on your text.")


# ---- recent runs --------------------------------------------------------------------------

def _show_recent(store: Store) -> None:
    st.subheader("Recent runs")
    runs = store.list_runs(limit=5)
    if not runs:
        st.info("No runs yet: train the demo above, or start your own on **Train**.")
        return
    rows = []
    for r in runs:
        dev, test = status_headline(r["status"], "dev"), status_headline(r["status"], "test")
        rows.append({"State": f"{STATE_ICONS.get(r['state'], '•')} {r['state']}",
                     "Name": r.get("name") or "—", "Task": r.get("task"),
                     "Dev score": None if dev is None else 100 * dev,
                     "Test score": None if test is None else 100 * test,
                     "Created": datetime.fromtimestamp(r["created_at"]), "ID": r["id"]})
    pct = "%.1f %%"
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch", key="home.recent", placeholder="—",
                 column_config={
                     "Dev score": st.column_config.NumberColumn(format=pct, help="entity micro F1 (NER) or accuracy"),
                     "Test score": st.column_config.NumberColumn(format=pct),
                     "Created": st.column_config.DatetimeColumn(format="YYYY-MM-DD HH:mm")})
    with st.container(horizontal=True):
        link_to("runs", "All runs", ":material/list_alt:")
        link_to("report", "Reports", ":material/bar_chart:")


if __name__ == "__main__":  # opened as a legacy pages/ script: let app.py route the URL
    hand_over_to_app()
