"""Data-parallel training: 2 CPU processes (gloo, started by torchrun) match one process."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

from core.config import RunConfig, config_to_dict
from core.demo import make_demo
from core.formats import write_jsonl
from engine import distributed
from engine.loop import train
from engine.runfolder import write_json_atomic
from tests.engine.tiny import make_tiny_model_dir

ROOT = Path(__file__).resolve().parents[2]


def test_shard_and_loss_scale_reconstruct_the_global_mean():
    ctx0, ctx1 = distributed.Dist(0, 2), distributed.Dist(1, 2)
    idx = np.array([5, 2, 7, 1, 0])
    a, b = distributed.shard(idx, ctx0), distributed.shard(idx, ctx1)
    assert sorted(np.concatenate([a, b]).tolist()) == sorted(idx.tolist())
    counts = np.array([3, 1, 4, 1, 5, 9, 2, 6])
    # DDP averages the two ranks' gradients: sum_r scale_r * mean_r / 2 == global mean.
    values = np.random.default_rng(0).normal(size=counts.sum())
    per_row = np.split(values, np.cumsum(counts)[:-1])
    mean_of = lambda rows: np.concatenate([per_row[i] for i in rows]).mean()
    combined = (distributed.loss_scale(counts, a, idx, ctx0) * mean_of(a)
                + distributed.loss_scale(counts, b, idx, ctx1) * mean_of(b)) / 2
    assert combined == pytest.approx(mean_of(idx))
    assert distributed.shard(np.array([4]), ctx1).tolist() == [4]  # every rank gets a row


def test_launch_command_uses_torchrun_for_several_devices(tmp_path):
    assert distributed.launch_command(tmp_path, 1)[1:3] == ["-m", "engine.worker"]
    cmd = distributed.launch_command(tmp_path, 2)
    assert "torch.distributed.run" in cmd and "--nproc_per_node=2" in cmd


@pytest.mark.slow
def test_two_gloo_processes_reach_the_metrics_of_one(tmp_path):
    splits = make_demo("demo-ner", seed=2)
    paths = {}
    for name, n in (("train", 64), ("dev", 24), ("test", 24)):
        paths[name] = str(tmp_path / f"{name}.jsonl")
        Path(paths[name]).write_text(write_jsonl(splits[name][:n]), encoding="utf-8")
    words = {t for recs in splits.values() for ex in recs for t in ex.tokens}
    labels = sorted({t for recs in splits.values() for ex in recs for t in ex.tags})
    model = make_tiny_model_dir(tmp_path / "model", words, task="ner", labels=labels)
    cfg = RunConfig(task="ner", train=paths["train"], dev=paths["dev"], test=paths["test"],
                    model=model, epochs=2, batch_size=8, max_length=32, window_stride=8,
                    learning_rate=3e-3, threads=1, seed=5, dropout=0.0, log_every=1, num_devices=2)
    single = [e for e in train(cfg, tmp_path / "one") if e["event"] == "log"]
    run_dir = tmp_path / "two"
    run_dir.mkdir()
    write_json_atomic(run_dir / "config.json", config_to_dict(cfg))
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(distributed.launch_command(run_dir, 2), cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    status = json.loads((run_dir / "status.json").read_text())
    assert status["state"] == "completed"
    logs = [json.loads(l) for l in (run_dir / "metrics.jsonl").read_text().splitlines()]
    double = [e for e in logs if e["event"] == "log"]
    assert [e["step"] for e in double] == [e["step"] for e in single]  # rank 0 alone writes
    # Same global batches, exact share weighting: the loss curves agree to float tolerance.
    np.testing.assert_allclose([e["loss"] for e in double], [e["loss"] for e in single], rtol=1e-3)
    one = json.loads((tmp_path / "one" / "report.json").read_text())
    two = json.loads((run_dir / "report.json").read_text())
    for split in ("dev", "test"):
        assert two[split]["entities"]["micro"]["f1"] == pytest.approx(
            one[split]["entities"]["micro"]["f1"], abs=0.02)
