"""Sweeps over the queue (engine/sweep.py): ask/report/prune/tell against a real Optuna study
in the workspace's SQLite file. Most tests play the worker's part by writing run folders
(evaluations, report) so each tick's decision can be checked; one trains a real 3-trial
sweep on a tiny model through the real queue, with one trial pruned."""
from __future__ import annotations

import itertools
import json
from pathlib import Path

import optuna
import pytest

from core.sweep import spec_from_dict
from engine import cli, queue, sweep
from engine.runfolder import RunFolder
from engine.store import Store
from tests.engine.runs import make_run_config

BASE = {"train": "demo:ner", "epochs": 1, "max_train_examples": 20}


def _spec(search=None, **settings):
    return spec_from_dict({"base": dict(BASE),
                           "search": search or {"learning_rate": {"log_uniform": [1e-5, 1e-3]}},
                           "sweep": {"trials": 4, **settings}})


def _finish(store: Store, run: dict, evals: list[float], state: str = "completed",
            best: float | None = None) -> None:
    """Play the worker: the run's dev evaluations, then its report and final state."""
    folder = RunFolder(run["dir"])
    _evals(store, run, evals)
    if state == "completed":
        best = max(evals) if best is None else best
        folder.write_report({"task": "ner", "labels": ["O"], "metric": "f1_micro", "dev": {
            "entities": {"micro": {"f1": best}, "macro": {"f1": best / 2}, "per_type": {}}}})
    store.set_state(run["id"], state)


def _evals(store: Store, run: dict, evals: list[float]) -> None:
    folder = RunFolder(run["dir"])
    for k, value in enumerate(evals, start=1):
        folder.append_metrics({"event": "eval", "split": "dev", "step": 10 * k, "metric": "f1_micro",
                               "value": value, "f1_micro": value, "f1_macro": value / 2})


def _live(store: Store, sweep_id: str) -> list[dict]:
    return [r for r in store.tagged("sweep", sweep_id) if r["state"] in ("queued", "running")]


@pytest.fixture
def store(tmp_path):
    return Store(tmp_path / "ws")


def test_tick_queues_parallel_trials_and_never_duplicates(store):
    sweep_id = sweep.create(store, _spec(parallel=2))
    for _ in range(3):  # a tick is idempotent: repeated calls add nothing while runs are in flight
        assert sweep.tick(store, sweep_id)
    runs = store.tagged("sweep", sweep_id)
    assert [r["status"]["tags"]["trial"] for r in runs] == [0, 1]
    assert all(r["state"] == "queued" for r in runs)
    cfg = store.config(runs[0]["id"])
    trial = sweep.show(store, sweep_id)["trials"][0]
    assert cfg["learning_rate"] == trial["params"]["learning_rate"]
    assert cfg["metric"] == "f1_micro" and cfg["repeats"] == 1 and cfg["max_train_examples"] == 20


def test_a_trial_asked_but_never_queued_gets_its_run_once(store):
    """The crash window between study.ask and create_run: the next tick finds the trial
    RUNNING without a run and queues it from the stored params, exactly once."""
    sweep_id = sweep.create(store, _spec(parallel=1))
    study = optuna.load_study(study_name=sweep_id, storage=sweep.storage_url(store))
    asked = study.ask(sweep._distributions(sweep.spec_of(store, sweep_id)))  # then "crash"
    sweep.tick(store, sweep_id)
    sweep.tick(store, sweep_id)
    runs = store.tagged("sweep", sweep_id)
    assert len(runs) == 1 and runs[0]["status"]["tags"]["trial"] == asked.number
    assert store.config(runs[0]["id"])["learning_rate"] == asked.params["learning_rate"]


def test_value_is_the_runs_own_report_score_and_budget_ends_the_sweep(store):
    sweep_id = sweep.create(store, _spec(trials=2, pruner="none"))
    for scores in ([0.5, 0.7], [0.6, 0.65]):
        sweep.tick(store, sweep_id)
        (run,) = _live(store, sweep_id)
        _finish(store, run, scores)
    sweep.tick(store, sweep_id)
    shown = sweep.show(store, sweep_id)
    assert shown["state"] == "done" and sweep.is_finished(store, sweep_id)
    values = [t["value"] for t in shown["trials"]]
    runs = store.tagged("sweep", sweep_id)
    assert values == [sweep.run_value(r, "f1_micro") for r in runs] == [0.7, 0.65]
    assert shown["best"]["number"] == 0 and shown["best"]["run_id"] == runs[0]["id"]
    assert set(shown) >= {"sweep_id", "metric", "direction", "trials", "best"}
    assert set(shown["trials"][0]) >= {"number", "run_id", "state", "params", "value"}
    assert sweep.best_config(store, sweep_id)["learning_rate"] == store.config(runs[0]["id"])["learning_rate"]


@pytest.mark.parametrize("pruner", ["median", "hyperband"])
def test_pruning_matches_optunas_own_pruner_on_the_same_values(store, pruner):
    """Differential: the trials our tick prunes, and at which evaluation, are those a plain
    Optuna loop with the same pruner (MedianPruner, HyperbandPruner) prunes given the same
    intermediate values."""
    curves = [[0.5, 0.6, 0.7, 0.75], [0.55, 0.65, 0.72, 0.74], [0.1, 0.2, 0.3, 0.35],
              [0.6, 0.4, 0.8, 0.81], [0.2, 0.25, 0.3, 0.32], [0.05, 0.5, 0.9, 0.9],
              [0.3, 0.3, 0.3, 0.3], [0.7, 0.75, 0.8, 0.85]]
    sweep_id = sweep.create(store, _spec(trials=len(curves), sampler="random", pruner=pruner))
    for curve in curves:
        sweep.tick(store, sweep_id)
        (run,) = _live(store, sweep_id)
        for k in range(1, len(curve) + 1):  # evaluations arrive one by one while it runs
            store.set_state(run["id"], "running")
            _evals(store, run, curve[k - 1:k])
            sweep.tick(store, sweep_id)
            if store.get_run(run["id"])["state"] != "running":
                break
        else:
            _finish(store, run, [], best=max(curve))
            sweep.tick(store, sweep_id)
    ours = {t["number"]: (t["state"], max(t["intermediate"])) for t in sweep.show(store, sweep_id)["trials"]}

    reference = (optuna.pruners.MedianPruner(n_startup_trials=2) if pruner == "median"
                 else optuna.pruners.HyperbandPruner())  # our median judges after trials // 4
    ref = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(0),
                              pruner=reference, study_name=sweep_id)  # Hyperband brackets hash it
    expected = {}
    for number, curve in enumerate(curves):
        trial = ref.ask()
        for k, value in enumerate(curve, start=1):
            trial.report(value, k)
            if trial.should_prune():
                ref.tell(trial, state=optuna.trial.TrialState.PRUNED)
                expected[number] = ("pruned", k)
                break
        else:
            ref.tell(trial, max(curve))
            expected[number] = ("completed", len(curve))
    assert ours == expected
    assert any(state == "pruned" for state, _ in expected.values())  # the case is exercised


def test_cancelled_runs_of_a_pruned_trial_end_pruned_and_interrupted_runs_resume(store):
    sweep_id = sweep.create(store, _spec(trials=2, parallel=2, pruner="none"))
    sweep.tick(store, sweep_id)
    a, b = store.tagged("sweep", sweep_id)
    store.set_state(a["id"], "interrupted")  # the queue was killed under it
    sweep.tick(store, sweep_id)
    assert store.get_run(a["id"])["state"] == "queued" and store.get_run(a["id"])["resume"]
    study = optuna.load_study(study_name=sweep_id, storage=sweep.storage_url(store))
    study.tell(b["status"]["tags"]["trial"], state=optuna.trial.TrialState.PRUNED)
    store.set_state(b["id"], "cancelled")  # the worker stopped on the pruner's cancel
    sweep.tick(store, sweep_id)
    assert store.get_run(b["id"])["state"] == "pruned"


def test_a_stopped_sweep_tells_its_trials_in_flight_but_asks_no_more(store):
    sweep_id = sweep.create(store, _spec(trials=5, pruner="none"))
    sweep.tick(store, sweep_id)
    (run,) = _live(store, sweep_id)
    sweep.stop(store, sweep_id)
    assert not sweep.is_finished(store, sweep_id)
    _finish(store, run, [0.4])
    sweep.tick_all(store)  # the scheduler's pass
    shown = sweep.show(store, sweep_id)
    assert [t["value"] for t in shown["trials"]] == [0.4] and shown["state"] == "stopped"
    assert sweep.is_finished(store, sweep_id) and _live(store, sweep_id) == []
    sweep.resume(store, sweep_id)
    sweep.tick(store, sweep_id)
    assert len(_live(store, sweep_id)) == 1  # resumed: asks trial 1


def test_a_run_past_its_last_step_is_not_pruned(store):
    """A trial whose run has trained every step (it is writing its report) is left to
    finish: pruning it would save nothing and lose its score."""
    sweep_id = sweep.create(store, _spec(trials=2, pruner="median"))
    sweep.tick(store, sweep_id)
    (run,) = _live(store, sweep_id)
    _finish(store, run, [0.8])
    sweep.tick(store, sweep_id)
    (run,) = _live(store, sweep_id)
    store.set_state(run["id"], "running", step=10, total_steps=10)
    _evals(store, run, [0.1])  # far below trial 0: the median pruner would stop it
    sweep.tick(store, sweep_id)
    assert store.get_run(run["id"])["state"] == "running"
    assert sweep.show(store, sweep_id)["trials"][1]["state"] == "running"


def test_a_grid_sweep_covers_its_grid_once(store):
    spec = _spec({"batch_size": {"choice": [8, 16]}, "epochs": {"int": [1, 3]}},
                 sampler="grid", trials=50, pruner="none", parallel=10)
    assert sweep.budget(spec) == 6
    sweep_id = sweep.create(store, spec)
    sweep.tick(store, sweep_id)
    seen = [(store.config(r["id"])["batch_size"], store.config(r["id"])["epochs"])
            for r in store.tagged("sweep", sweep_id)]
    assert sorted(seen) == sorted(itertools.product([8, 16], [1, 2, 3]))


def test_seed_groups_report_the_mean(store):
    sweep_id = sweep.create(store, _spec(trials=1, seeds_per_trial=3, pruner="none"))
    sweep.tick(store, sweep_id)
    runs = store.tagged("sweep", sweep_id)
    assert sorted(store.config(r["id"])["seed"] for r in runs) == [42, 43, 44]
    for run, best in zip(runs, (0.6, 0.7, 0.8)):
        _finish(store, run, [best])
    sweep.tick(store, sweep_id)
    assert sweep.show(store, sweep_id)["trials"][0]["value"] == pytest.approx(0.7)


def test_enqueued_trials_run_first_and_a_busy_lock_skips(store):
    sweep_id = sweep.create(store, _spec(enqueue=[{"learning_rate": 5e-5}]))
    with sweep._locked(store, sweep_id) as mine:
        assert mine and not sweep.tick(store, sweep_id)  # another ticker holds it: nothing asked
    assert store.tagged("sweep", sweep_id) == []
    sweep.tick(store, sweep_id)
    (run,) = store.tagged("sweep", sweep_id)
    assert store.config(run["id"])["learning_rate"] == 5e-5


def test_unknown_sweep_says_so(store):
    with pytest.raises(Exception, match="no sweep 'nope'"):
        sweep.show(store, "nope")


@pytest.mark.slow
def test_real_three_trial_sweep_through_the_queue_prunes_one(tmp_path, monkeypatch, capsys):
    """`sweep run` on a tiny model: the queue's workers train each trial; the third trial's
    learning rate cannot learn, the median pruner stops it, and its run ends `pruned` with
    a checkpoint and fewer steps than planned."""
    cfg = make_run_config(tmp_path, "ner", epochs=8, eval_every=3, checkpoint_every=3)
    lines = ["[base]"] + [f"{k} = {json.dumps(v)}" for k, v in cfg.items()]
    lines += ["[search]", "learning_rate = { choice = [1e-2, 1e-7] }", "[sweep]", "trials = 3",
              'pruner = "median"', "enqueue = [{learning_rate = 1e-2}, {learning_rate = 1e-2}, "
              "{learning_rate = 1e-7}]"]
    path = tmp_path / "sweep.toml"
    path.write_text("\n".join(lines))
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "ws"))
    assert cli.main(["sweep", "run", str(path), "--json", "--poll", "0.2"]) == 0
    out = capsys.readouterr().out
    shown = json.loads(out[out.index("\n{") + 1:])
    assert [t["state"] for t in shown["trials"]] == ["completed", "completed", "pruned"]
    store = Store(tmp_path / "ws")
    runs = {r["id"]: r for r in store.tagged("sweep", shown["sweep_id"])}
    for t in shown["trials"][:2]:
        assert t["value"] == sweep.run_value(runs[t["run_id"]], "f1_micro") > 0.1
    pruned = runs[shown["trials"][2]["run_id"]]
    assert pruned["state"] == "pruned"
    assert pruned["status"]["step"] < pruned["status"]["total_steps"]
    assert any(RunFolder(pruned["dir"]).checkpoints_dir.glob("step_*"))
    assert "trial   2 pruned" in out
    assert shown["best"]["number"] in (0, 1)
    assert queue.RESUMABLE.count("pruned") == 1  # a pruned trial can still be resumed by hand
    assert cli.main(["sweep", "show", shown["sweep_id"], "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert [t["value"] for t in again["trials"]] == [t["value"] for t in shown["trials"]]


def test_cli_errors_name_the_key(tmp_path, monkeypatch, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('[base]\ntrain = "demo:ner"\n[search]\nlearning_rat = { uniform = [0.1, 0.2] }\n')
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "ws"))
    assert cli.main(["sweep", "run", str(path)]) == 1
    err = capsys.readouterr().err
    assert "search.learning_rat" in err and "did you mean 'learning_rate'" in err
    assert "Traceback" not in err


def test_base_file_is_read_relative_to_the_sweep_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "train.jsonl").write_text('{"tokens": ["a"], "tags": ["O"]}\n')
    (tmp_path / "sub" / "run.toml").write_text('train = "train.jsonl"\nepochs = 1\n')
    (tmp_path / "sub" / "sweep.toml").write_text(
        'base = "run.toml"\n[search]\nwarmup_ratio = { uniform = [0.0, 0.2] }\n')
    spec = sweep.load_sweep_file(tmp_path / "sub" / "sweep.toml")
    assert Path(spec.base["train"]) == (tmp_path / "sub" / "train.jsonl").resolve()
    assert spec.base["epochs"] == 1


@pytest.mark.slow
def test_a_killed_sweep_resumes_without_duplicates_or_losses(tmp_path, monkeypatch, capsys):
    """kill -9 of `sweep run` (the foreground scheduler) and of the worker training trial 1;
    `sweep resume` then marks that run interrupted, puts it back in the queue from its
    checkpoint, and the sweep ends with exactly its 3 trials, trial 0's value untouched."""
    import os
    import signal
    import subprocess
    import sys
    import time

    from tests.engine.runs import REPO

    cfg = make_run_config(tmp_path, "ner", epochs=8, eval_every=6, checkpoint_every=2)
    lines = ["[base]"] + [f"{k} = {json.dumps(v)}" for k, v in cfg.items()]
    lines += ["[search]", "learning_rate = { log_uniform = [3e-3, 1e-2] }", "[sweep]", "trials = 3",
              'pruner = "none"', 'sampler = "random"']
    path = tmp_path / "sweep.toml"
    path.write_text("\n".join(lines))
    ws = tmp_path / "ws"
    env = {**os.environ, "WORKBENCH_HOME": str(ws)}
    proc = subprocess.Popen([sys.executable, "-m", "engine", "sweep", "run", str(path), "--poll", "0.2"],
                            cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    store = Store(ws)
    deadline = time.monotonic() + 240
    victim = None
    while time.monotonic() < deadline and victim is None:
        time.sleep(0.3)
        runs = store.tagged("sweep")
        if len(runs) == 2 and runs[0]["state"] == "completed" and runs[1]["state"] == "running" \
                and (runs[1]["status"].get("step") or 0) >= 4:
            victim = runs[1]
    assert victim is not None, "trial 1 never got going"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    os.killpg(victim["status"]["pid"], signal.SIGKILL)  # the worker runs in its own session
    sweep_id = victim["status"]["tags"]["sweep"]
    first_value = sweep.show(store, sweep_id)["trials"][0]["value"]
    monkeypatch.setenv("WORKBENCH_HOME", str(ws))
    assert cli.main(["sweep", "resume", sweep_id, "--json", "--poll", "0.2"]) == 0
    out = capsys.readouterr().out
    shown = json.loads(out[out.index("\n{") + 1:])
    assert shown["best"] == sweep.show(store, sweep_id)["best"]
    runs = store.tagged("sweep", sweep_id)
    assert [t["state"] for t in shown["trials"]] == ["completed"] * 3
    assert sorted(r["status"]["tags"]["trial"] for r in runs) == [0, 1, 2]  # no duplicate
    assert shown["trials"][0]["value"] == first_value
    events = [row["event"] for row in RunFolder(victim["dir"]).read_metrics()]
    assert "resume" in events  # trial 1 continued from its checkpoint, not from step 0
