"""The step runner: graph bookkeeping (on CPU, with a stand-in that records and replays
calls as CUDA graphs do) must give exactly the eager step's result; real CUDA graphs are
checked against eager steps when a GPU is present."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from transformers import BertConfig, BertForTokenClassification

from core.losses import make_loss
from engine import checkpoint
from engine.batching import ResidentSplit, plan_batches
from engine.graphs import (StepRunner, graphs_possible, plain_optimizer_state,
                           tensor_learning_rates)
from engine.loop import build_optimizer, build_scheduler
from core.config import RunConfig
from tests.engine.graph_doubles import RecordedCalls

LABELS = 5


def _features(n: int = 40, seed: int = 0) -> list[dict]:
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        length = int(rng.integers(3, 30))
        ids = rng.integers(5, 60, size=length).tolist()
        labels = rng.integers(0, LABELS, size=length)
        labels[rng.random(length) < 0.3] = -100
        out.append({"input_ids": ids, "labels": labels.tolist()})
    return out


def _model(dropout: float = 0.1) -> torch.nn.Module:
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=64, hidden_size=16, num_hidden_layers=2, num_attention_heads=2,
                     intermediate_size=32, num_labels=LABELS, hidden_dropout_prob=dropout,
                     attention_probs_dropout_prob=dropout)
    return BertForTokenClassification(cfg)


def _train(model, device, *, graphs: bool, backend=None, grad_accum: int = 1,
           grad_clip: float | None = 1.0, epochs: int = 3, weight=None, amp=None, multiple=8):
    """Drive a runner as the loop does; returns (runner, per-update losses, optimizer)."""
    torch.manual_seed(1)
    feats = _features()
    cfg = RunConfig(task="ner", train="x", learning_rate=1e-3, warmup_ratio=0.2,
                    grad_accum=grad_accum, fast_path=True)
    optimizer = build_optimizer(model, cfg, device)
    lengths = np.array([len(f["input_ids"]) for f in feats])
    per_epoch = [plan_batches(lengths, 4, seed=3, epoch=e) for e in range(epochs)]
    total = sum(len(b) for b in per_epoch) // grad_accum
    scheduler = build_scheduler(optimizer, cfg, total)
    resident = ResidentSplit(feats, pad_id=0, device=device, multiple=multiple, cap=64)
    loss = make_loss("cross_entropy.v1", **({"weight": weight} if weight is not None else {}))
    runner = StepRunner(model=model, train_model=model, optimizer=optimizer, loss_fn=loss,
                        resident=resident, device=device, amp=amp, grad_clip=grad_clip,
                        grad_accum=grad_accum, graphs=graphs, backend=backend)
    losses, n = [], 0
    model.train()
    for batches in per_epoch:
        runner.plan(batches)
        for idx in batches[: len(batches) // grad_accum * grad_accum]:
            runner.micro_step(idx)
            n += 1
            if n % grad_accum == 0:
                runner.optimizer_step()
                scheduler.step()
                losses.append(float(runner.loss_sum))
                runner.loss_sum.zero_()
    return runner, losses, optimizer


@pytest.mark.parametrize("grad_accum,grad_clip", [(1, 1.0), (2, 1.0), (1, None)])
def test_recorded_replays_equal_eager_steps(grad_accum, grad_clip):
    """Replays read the static buffers filled for each batch: any stale index, wrong shape
    key or gradient reset to None would change the parameters. (Not bit for bit: the graph
    mode's learning rate is a float32 tensor, the eager one a Python float.)"""
    cpu = torch.device("cpu")
    eager_model, graph_model = _model(), _model()
    eager, eager_losses, _ = _train(eager_model, cpu, graphs=False, grad_accum=grad_accum,
                                    grad_clip=grad_clip)
    graph, graph_losses, _ = _train(graph_model, cpu, graphs=True, backend=RecordedCalls(),
                                    grad_accum=grad_accum, grad_clip=grad_clip)
    stats = graph.stats()
    assert stats["replayed_micro"] > stats["eager_micro"] > 0
    assert stats["replayed_updates"] == len(graph_losses) - 1 and stats["eager_updates"] == 1
    assert stats["captures"] == stats["graph_shapes"] + 1  # one per batch shape, one for the update
    assert eager.stats()["replayed_micro"] == 0
    np.testing.assert_allclose(graph_losses, eager_losses, rtol=1e-5)
    for (name, a), b in zip(eager_model.named_parameters(), graph_model.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6, msg=name)


def test_graph_mode_keeps_gradient_tensors_and_the_learning_rate_tensor():
    cpu = torch.device("cpu")
    model = _model()
    runner, _, optimizer = _train(model, cpu, graphs=True, backend=RecordedCalls(), epochs=1)
    grads = [p.grad for p in model.parameters()]
    lrs = [g["lr"] for g in optimizer.param_groups]
    assert all(isinstance(lr, torch.Tensor) for lr in lrs)
    runner.micro_step(np.arange(4))
    runner.optimizer_step()
    # Same objects (a graph holds their addresses), zeroed in place after the update.
    assert all(p.grad is g for p, g in zip(model.parameters(), grads))
    assert all(float(g.abs().sum()) == 0 for g in grads)
    assert [g["lr"] for g in optimizer.param_groups] == lrs


def test_planned_rows_from_a_resume_position_and_unplanned_batches_match_eager():
    """A plan entered mid-epoch (a resumed run) and batches that are not the planned ones
    (copies, so not the same objects) give the eager result too."""
    cpu = torch.device("cpu")
    feats = _features()
    lengths = np.array([len(f["input_ids"]) for f in feats])
    batches = plan_batches(lengths, 4, seed=5, epoch=0)
    finals = []
    for mode in ("eager", "planned", "unplanned"):
        model = _model(dropout=0.0)
        cfg = RunConfig(task="ner", train="x", learning_rate=1e-3)
        optimizer = build_optimizer(model, cfg, cpu)
        resident = ResidentSplit(feats, pad_id=0, device=cpu, multiple=8, cap=64)
        runner = StepRunner(model=model, train_model=model, optimizer=optimizer,
                            loss_fn=make_loss("cross_entropy.v1"), resident=resident, device=cpu,
                            amp=None, grad_clip=1.0, grad_accum=1, graphs=mode != "eager",
                            backend=RecordedCalls())
        runner.plan(batches, start=3)
        for _ in range(2):
            for idx in batches[3:]:
                runner.micro_step(idx.copy() if mode == "unplanned" else idx)
                runner.optimizer_step()
        finals.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
        if mode != "eager":
            assert runner.stats()["replayed_micro"] > 0
    torch.testing.assert_close(finals[1], finals[0], rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(finals[2], finals[0], rtol=1e-4, atol=1e-6)


@pytest.mark.filterwarnings(r"ignore:Detected call of `lr_scheduler.step\(\)`")
def test_scheduler_fills_tensor_learning_rates_with_the_float_schedule():
    cfg = RunConfig(task="ner", train="x", learning_rate=2e-3, warmup_ratio=0.3)
    a, b = _model(), _model()
    opt_a, opt_b = build_optimizer(a, cfg, torch.device("cpu")), build_optimizer(b, cfg, torch.device("cpu"))
    sched_a, sched_b = build_scheduler(opt_a, cfg, 10), build_scheduler(opt_b, cfg, 10)
    tensor_learning_rates(opt_b, torch.device("cpu"))
    held = opt_b.param_groups[0]["lr"]
    for _ in range(10):
        sched_a.step()
        sched_b.step()
        assert float(opt_b.param_groups[0]["lr"]) == pytest.approx(opt_a.param_groups[0]["lr"], rel=1e-6)
    assert opt_b.param_groups[0]["lr"] is held


class _FailingCapture(RecordedCalls):
    def capture(self, fn):
        raise RuntimeError("operation not permitted when stream is capturing")


def test_a_failed_capture_falls_back_to_eager_with_the_reason():
    cpu = torch.device("cpu")
    eager_model, graph_model = _model(), _model()
    _, eager_losses, _ = _train(eager_model, cpu, graphs=False)
    runner, losses, optimizer = _train(graph_model, cpu, graphs=True, backend=_FailingCapture())
    stats = runner.stats()
    assert "capture failed" in stats["cuda_graphs"] and "not permitted" in stats["cuda_graphs"]
    assert stats["replayed_micro"] == 0 and stats["captures"] == 0
    assert all(not isinstance(g["lr"], torch.Tensor) for g in optimizer.param_groups)
    assert losses == pytest.approx(eager_losses, rel=1e-6)


def test_graph_steps_refuse_a_per_batch_loss_scale():
    runner, _, _ = _train(_model(), torch.device("cpu"), graphs=True, backend=RecordedCalls(),
                          epochs=1)
    with pytest.raises(ValueError, match="loss scale"):
        runner.micro_step(np.arange(4), scale=0.5)


@pytest.mark.parametrize("device,requested,fast,dist,expect", [
    ("cuda", True, True, False, "on"), ("cpu", True, True, False, "no CUDA"),
    ("cuda", False, True, False, "off"), ("cuda", True, False, False, "fast_path"),
    ("cuda", True, True, True, "DDP")])
def test_graphs_possible_says_why_not(device, requested, fast, dist, expect):
    ok, why = graphs_possible(torch.device(device), requested=requested, fast_path=fast,
                              distributed=dist)
    assert ok == (expect == "on") and expect in why


def test_checkpoints_of_a_graph_run_hold_plain_learning_rates(tmp_path):
    model = _model()
    runner, _, optimizer = _train(model, torch.device("cpu"), graphs=True, backend=RecordedCalls(),
                                  epochs=1)
    state = plain_optimizer_state(optimizer.state_dict())
    assert all(type(g["lr"]) is float and g["capturable"] is False for g in state["param_groups"])
    cfg = RunConfig(task="ner", train="x", learning_rate=1e-3)
    scheduler = build_scheduler(optimizer, cfg, 100)
    scheduler.step()
    path = checkpoint.save(tmp_path, model, optimizer, scheduler, checkpoint.TrainState(step=3))
    fresh = _model()
    opt2 = build_optimizer(fresh, cfg, torch.device("cpu"))
    sched2 = build_scheduler(opt2, cfg, 100)
    assert checkpoint.load(path, fresh, opt2, sched2).step == 3
    assert type(opt2.param_groups[0]["lr"]) is float
    assert opt2.param_groups[0]["lr"] == pytest.approx(float(optimizer.param_groups[0]["lr"]))
    assert all(isinstance(x, float) for x in sched2.get_last_lr())


# ---- real CUDA graphs (run where a GPU is present) ----------------------------------------

cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")


@cuda
@pytest.mark.parametrize("grad_accum", [1, 2])
def test_cuda_graph_replays_match_eager_steps(grad_accum):
    gpu = torch.device("cuda")
    torch.backends.cuda.matmul.allow_tf32 = False
    eager_model, graph_model = _model(dropout=0.0).to(gpu), _model(dropout=0.0).to(gpu)
    _, eager_losses, _ = _train(eager_model, gpu, graphs=False, grad_accum=grad_accum, multiple=32)
    runner, graph_losses, _ = _train(graph_model, gpu, graphs=True, grad_accum=grad_accum,
                                     multiple=32)
    stats = runner.stats()
    assert stats["cuda_graphs"] == "on", stats
    assert stats["replayed_micro"] > 0 and stats["replayed_updates"] > 0
    # Not bit for bit: a captured step always applies the attention mask (eager BERT skips
    # it for a batch without padding), and Adam magnifies such rounding on near-zero grads.
    np.testing.assert_allclose(graph_losses, eager_losses, rtol=2e-3)
    a = torch.cat([p.detach().flatten() for p in eager_model.parameters()])
    b = torch.cat([p.detach().flatten() for p in graph_model.parameters()])
    assert float((a - b).norm() / a.norm()) < 1e-3


@cuda
def test_cuda_graphs_capture_bf16_class_weighted_steps():
    gpu = torch.device("cuda")
    weight = torch.tensor([0.5, 1.0, 2.0, 1.0, 1.5], device=gpu)  # as build_loss puts it
    eager_model, graph_model = _model().to(gpu), _model().to(gpu)
    _, eager_losses, _ = _train(eager_model, gpu, graphs=False, weight=weight, amp=torch.bfloat16,
                                multiple=32)
    runner, losses, _ = _train(graph_model, gpu, graphs=True, weight=weight, amp=torch.bfloat16,
                               multiple=32)
    assert runner.stats()["cuda_graphs"] == "on", runner.stats()
    assert runner.stats()["replayed_micro"] > 0
    assert np.isfinite(losses).all()
    # Dropout masks differ between eager and replayed steps; the training curve must not.
    assert np.mean(losses) == pytest.approx(np.mean(eager_losses), rel=0.05)


@cuda
def test_a_gpu_training_run_replays_graphs_and_learns(tmp_path):
    from core.demo import make_demo
    from core.formats import write_jsonl
    from engine.loop import train
    from tests.engine.tiny import make_tiny_model_dir

    splits = make_demo("demo-ner", seed=1)
    paths = {}
    for name, n in (("train", 400), ("dev", 60)):
        paths[name] = tmp_path / f"{name}.jsonl"
        paths[name].write_text(write_jsonl(splits[name][:n]), encoding="utf-8")
    words = {t for recs in splits.values() for ex in recs for t in ex.tokens}
    labels = sorted({t for recs in splits.values() for ex in recs for t in ex.tags})
    model = make_tiny_model_dir(tmp_path / "model", words, task="ner", labels=labels, hidden=64)
    results = {}
    for graphs in (True, False):
        cfg = RunConfig(task="ner", train=str(paths["train"]), dev=str(paths["dev"]), model=model,
                        epochs=8, batch_size=16, learning_rate=5e-3, log_every=5, seed=3,
                        device="cuda", cuda_graphs=graphs)
        events = list(train(cfg, tmp_path / f"run_{graphs}"))
        report = json.loads((tmp_path / f"run_{graphs}" / "report.json").read_text())
        results[graphs] = (events[-1], report)
    end, report = results[True]
    assert end["step_runner"]["cuda_graphs"] == "on", end["step_runner"]
    assert end["step_runner"]["replayed_micro"] > end["step_runner"]["eager_micro"]
    f1_graphs = report["dev"]["entities"]["micro"]["f1"]
    f1_eager = results[False][1]["dev"]["entities"]["micro"]["f1"]
    assert results[False][0]["step_runner"]["replayed_micro"] == 0
    # On CPU this recipe reaches dev F1 0.52-0.54 (seeds 3, 4); bf16 and dropout masks differ.
    assert f1_graphs > 0.3 and abs(f1_graphs - f1_eager) < 0.15


@pytest.mark.parametrize("stats,expect", [
    (None, None),
    ({"cuda_graphs": "no CUDA device (cpu)", "eager_micro": 9}, None),
    ({"cuda_graphs": "on", "graph_shapes": 5, "eager_micro": 5, "replayed_micro": 1312},
     "CUDA graphs: 5 batch shapes captured, 1,312 of 1,317 steps replayed"),
    ({"cuda_graphs": "capture failed, eager steps from here: RuntimeError: x", "graph_shapes": 2,
      "eager_micro": 40, "replayed_micro": 10}, "; then capture failed"),
    ({"cuda_graphs": "cuda_graphs is off", "eager_micro": 30, "replayed_micro": 0},
     "CUDA graphs not used: cuda_graphs is off")])
def test_describe_says_how_the_steps_ran(stats, expect):
    from engine.graphs import describe

    line = describe(stats)
    assert (line is None) if expect is None else (expect in line)
