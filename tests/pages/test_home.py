"""Home page and app.py: navigation, sidebar status, the demo path, recent runs."""
from __future__ import annotations

from core.config import RunConfig, config_to_dict, from_toml
from core.errors import ConfigError
from engine import queue
from pages.home import EXAMPLES, demo_config
from tests.pages.fakes import app_test, make_run, no_exception, page_test


def test_app_starts_on_home_and_starts_the_queue_once(store, daemon_calls):
    at = app_test()
    no_exception(at)
    assert at.title[0].value == "Fine-tuning workbench"
    sidebar = " ".join(m.value for m in at.sidebar.markdown)
    assert "queue stopped" in sidebar and "0 running · 0 queued" in sidebar
    assert daemon_calls == [store.root]
    at.run()
    assert daemon_calls == [store.root]  # once per session, not on every rerun


def test_train_the_demo_queues_it_and_opens_runs(store, daemon_calls):
    at = app_test()
    at.button(key="home.demo_ner").click().run()
    no_exception(at)
    runs = store.list_runs()
    assert len(runs) == 1 and runs[0]["state"] == "queued" and runs[0]["task"] == "ner"
    assert store.config(runs[0]["id"]) == config_to_dict(from_toml((EXAMPLES / "demo_ner.toml").read_text()))
    assert len(daemon_calls) == 2  # the session's start, then the demo
    assert at.title[0].value == "Runs"
    assert at.session_state["run_id"] == runs[0]["id"]
    assert at.selectbox(key="runs.selected").value == runs[0]["id"]
    assert any("Demo queued" in s.value for s in at.success)


def test_status_tiles_and_recent_runs(store):
    make_run(store, name="old")
    for i in range(5):
        make_run(store, name=f"new-{i}")
    make_run(store, name="live", state="running", progress=0.5)
    at = page_test("home")
    no_exception(at)
    tiles = {m.label: m.value for m in at.metric}
    assert tiles["Queue process"] == "stopped" and tiles["● Running"].startswith("1 / ")
    recent = next(d.value for d in at.dataframe if "Dev score" in d.value.columns)
    assert len(recent) == 5 and "old" not in set(recent["Name"])
    assert recent["Test score"].notna().sum() == 4  # completed runs have a test score
    assert any("not running" in w.value for w in at.warning)


def test_start_the_queue_button(store, daemon_calls):
    at = page_test("home")
    at.button(key="home.start_queue").click().run()
    no_exception(at)
    assert daemon_calls == [store.root]


def test_submit_error_is_shown_not_raised(store, monkeypatch):
    def refuse(store, config, **status):
        raise ConfigError("model: folder './nope' not found")

    monkeypatch.setattr(queue, "submit", refuse)
    at = page_test("home")
    at.button(key="home.demo_cls").click().run()
    no_exception(at)
    assert any("./nope" in e.value for e in at.error)


def test_demo_configs_are_valid_run_configs():
    for kind in ("ner", "classification"):
        cfg = demo_config(kind)
        assert set(cfg) == set(config_to_dict(RunConfig()))
    assert demo_config("ner")["task"] == "ner" and demo_config("classification")["task"] == "classification"


def test_an_unexpected_page_error_is_a_message_not_a_traceback(store, monkeypatch):
    """app.py guards every page: a bug deep in a page shows st.error with its message."""
    import pages.home

    def broken() -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(pages.home, "render", broken)
    at = app_test()
    no_exception(at)
    assert any("disk on fire" in e.value for e in at.error)


def _fake_gpu(monkeypatch, *, util):
    """torch.cuda as on a machine with one 140 GiB GPU, 35 GiB of it in use."""
    import torch

    queue.device_summary()  # cached as it is here (a CPU), before torch.cuda is faked
    gib = 2**30
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "NVIDIA H200")
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda i=0: (105 * gib, 140 * gib))
    monkeypatch.setattr(torch.cuda, "utilization", util)


def _gpu_text(at) -> str:
    return " ".join(m.value for m in at.markdown) + " " + " ".join(
        p.proto.text for p in at.get("progress"))


def test_gpu_card_shows_name_memory_and_utilisation(store, monkeypatch):
    _fake_gpu(monkeypatch, util=lambda i=0: 37)
    at = page_test("home")
    no_exception(at)
    text = _gpu_text(at)
    assert "**GPU 0** · NVIDIA H200" in text
    assert "Memory 35.0 / 140.0 GiB (25 %)" in text and "Utilisation **37 %**" in text
    assert at.get("progress")[0].proto.value == 25


def test_gpu_utilisation_without_pynvml_is_na(store, monkeypatch):
    def no_nvml(i=0):
        raise ModuleNotFoundError("No module named 'pynvml'")

    _fake_gpu(monkeypatch, util=no_nvml)
    at = page_test("home")
    no_exception(at)
    text = _gpu_text(at)
    assert "Memory 35.0 / 140.0 GiB" in text and "Utilisation **n/a**" in text
    assert "pynvml" not in " ".join(e.value for e in at.error)  # a dash, never an error


def test_no_gpu_card_without_a_gpu(store, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    at = page_test("home")
    no_exception(at)
    assert "**GPU" not in _gpu_text(at) and not at.get("progress")


def _captions_and_markdown(at) -> str:
    return " ".join([c.value for c in at.caption] + [m.value for m in at.markdown])


def test_home_says_which_executor_runs_the_queue(store, monkeypatch):
    from engine import executors

    monkeypatch.delenv("WORKBENCH_EXECUTOR", raising=False)
    at = page_test("home")
    no_exception(at)
    assert "Executor: **local**" in _captions_and_markdown(at)

    nodes = [{"node_id": "a", "ip": "10.0.0.1", "name": "head-1", "head": True, "cpus_total": 8.0,
              "cpus_free": 6.0, "gpus_total": 1.0, "gpus_free": 0.0},
             {"node_id": "b", "ip": "10.0.0.2", "name": "gpu-2", "head": False,
              "cpus_total": 16.0, "cpus_free": 16.0, "gpus_total": 2.0, "gpus_free": 2.0}]
    monkeypatch.setattr(executors.RayExecutor, "nodes", lambda self: nodes)
    monkeypatch.setenv("WORKBENCH_EXECUTOR", "ray")
    monkeypatch.setenv("RAY_ADDRESS", "http://10.0.0.1:8265")
    from pages.home import executor_info

    executor_info.clear()
    at = page_test("home")
    no_exception(at)
    text = _captions_and_markdown(at)
    assert "**Executor: Ray** at `http://10.0.0.1:8265` · 2 node(s)" in text
    assert "CPUs 22 free of 24 · GPUs 2 free of 3" in text
    table = at.dataframe[0].value
    assert list(table["Node"]) == ["head-1", "gpu-2"] and list(table["GPUs free"]) == [0.0, 2.0]

    def down(self):
        raise executors.ClusterUnavailable("the Ray cluster at http://10.0.0.1:8265 does not "
                                           "answer (connection refused)")

    monkeypatch.setattr(executors.RayExecutor, "nodes", down)
    executor_info.clear()
    at = page_test("home")
    no_exception(at)
    assert any("does not answer" in e.value for e in at.error)
