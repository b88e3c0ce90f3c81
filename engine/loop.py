"""The training loop: a generator yielding one info dict per event, which the worker writes
to the run folder and tests drive directly.

Events: start, log (every cfg.log_every optimizer steps), eval (dev, during training),
checkpoint, stopped (asked to stop: checkpoint written), end (final dev/test report written).
"""
from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from core.config import RunConfig, schedule_params
from core.errors import ConfigError
from engine import batching, checkpoint, distributed, featcache
from engine.data import load_splits, workspace_root
from engine.runfolder import write_json_atomic


@dataclass
class Prepared:
    """Everything derived from the config before the first step: data, labels, features."""

    cfg: RunConfig
    splits: dict
    labels: list[str]
    tokenizer: object
    features: dict[str, list[dict]]
    lengths: dict[str, np.ndarray]
    label_counts: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def label2id(self) -> dict[str, int]:
        return {label: i for i, label in enumerate(self.labels)}


def pick_device(cfg: RunConfig) -> torch.device:
    if cfg.device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"device: {cfg.device!r} asked for, but no CUDA GPU is visible")
    return torch.device(cfg.device)


def pick_dtype(cfg: RunConfig, device: torch.device) -> torch.dtype | None:
    """Autocast dtype, or None for plain fp32."""
    if cfg.precision == "fp32" or (cfg.precision == "auto" and device.type != "cuda"):
        return None
    if cfg.precision in ("auto", "bf16"):
        if device.type == "cuda" and not torch.cuda.is_bf16_supported():
            return None if cfg.precision == "auto" else torch.float16
        return torch.bfloat16
    return torch.float16


def collect_labels(cfg: RunConfig, splits: dict) -> list[str]:
    """Label inventory: 'O' first for NER, then every label seen in any split, sorted."""
    seen: set[str] = set()
    for records in splits.values():
        for ex in records:
            seen.update(ex.tags if cfg.task == "ner" else ex.labels)
    if cfg.task == "ner":
        seen.discard("O")
        return ["O"] + sorted(seen)
    return sorted(seen)


def prepare(cfg: RunConfig) -> Prepared:
    """Load and convert data, augment train, tokenise every split once."""
    from engine.encoding import encode_ner, encode_text
    from engine.models import load_tokenizer

    splits = load_splits(cfg)
    notes = []
    if cfg.task == "ner":
        splits = _convert_schemes(cfg, splits, notes)
    if cfg.augment:
        from core.augment import augment_many

        extra = augment_many(splits["train"], cfg.augment, seed=cfg.seed).examples
        notes.append(f"augmentation added {len(extra)} training examples")
        splits["train"] = list(splits["train"]) + list(extra)
    labels = collect_labels(cfg, splits)
    label2id = {label: i for i, label in enumerate(labels)}
    tokenizer = load_tokenizer(cfg.model)
    cache_dir = (workspace_root() / "cache" / "features") if cfg.fast_path else None
    features, lengths = {}, {}
    for name, records in splits.items():
        if cfg.task == "ner":
            params = {"task": "ner", "max_length": cfg.max_length, "stride": cfg.window_stride,
                      "alignment": cfg.label_alignment}
            compute = lambda records=records: encode_ner(  # noqa: E731
                tokenizer, records, label2id, max_length=cfg.max_length,
                stride=cfg.window_stride, alignment=cfg.label_alignment)
        else:
            params = {"task": cfg.task, "max_length": cfg.max_length}
            compute = lambda records=records: encode_text(  # noqa: E731
                tokenizer, records, label2id, max_length=cfg.max_length,
                multi_label=cfg.task == "multilabel")
        key = featcache.feature_key(tokenizer, records, label2id, params)
        feats = featcache.cached(cache_dir, key, compute)
        features[name] = feats
        lengths[name] = np.array([len(f["input_ids"]) for f in feats], dtype=np.int64)
    counts = np.zeros(len(labels), dtype=np.int64)
    for ex in splits["train"]:
        for label in (ex.tags if cfg.task == "ner" else ex.labels):
            counts[label2id[label]] += 1
    return Prepared(cfg, splits, labels, tokenizer, features, lengths, counts, notes)


def _convert_schemes(cfg: RunConfig, splits: dict, notes: list[str]) -> dict:
    from core.schemes import convert_examples, detect_scheme

    out = {}
    for name, records in splits.items():
        source = cfg.tag_scheme
        if source == "auto":
            source = detect_scheme([ex.tags for ex in records])
        if source != cfg.train_scheme:
            notes.append(f"{name}: tags converted {source} → {cfg.train_scheme}")
            records = convert_examples(records, cfg.train_scheme)
        out[name] = records
    return out


def build_optimizer(model: torch.nn.Module, cfg: RunConfig, device: torch.device):
    """AdamW with no weight decay on biases and LayerNorm weights; fused (one kernel over all
    parameters: on a 2-core CPU the MiniLM step drops from ~100 ms to ~20 ms)."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():
        if not p.requires_grad:
            continue
        (no_decay if p.ndim < 2 or "LayerNorm" in name or "layer_norm" in name else decay).append(p)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay},
              {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.learning_rate, betas=(cfg.adam_beta1, cfg.adam_beta2),
                             eps=cfg.adam_eps, fused=cfg.fast_path and device.type in ("cuda", "cpu"))


def build_scheduler(optimizer, cfg: RunConfig, total_steps: int):
    from core.schedules import lr_multiplier

    warmup = int(cfg.warmup_ratio * total_steps)
    params = schedule_params(cfg)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: lr_multiplier(min(step, total_steps), total_steps, warmup,
                                              cfg.schedule, **params))


def build_loss(cfg: RunConfig, counts: np.ndarray, device: torch.device) -> Callable:
    from core.losses import class_weights, make_loss

    params: dict = {}
    if cfg.task == "multilabel":
        name = "bce.v1" if cfg.loss == "cross_entropy.v1" else cfg.loss
    else:
        name = cfg.loss
        if cfg.label_smoothing:
            params["label_smoothing"] = cfg.label_smoothing
        if name == "focal.v1":
            params["gamma"] = cfg.focal_gamma
    if cfg.class_weights != "none":
        extra = {"beta": cfg.class_weight_beta} if cfg.class_weights == "effective_number.v1" else {}
        w = class_weights(cfg.class_weights, counts, **extra).to(device)
        params["pos_weight" if name == "bce.v1" else "weight"] = w
    return make_loss(name, **params)


def total_steps_for(cfg: RunConfig, n_batches: int) -> int:
    per_epoch = max(1, math.ceil(n_batches / cfg.grad_accum))
    return cfg.max_steps or per_epoch * cfg.epochs


def train(cfg: RunConfig, run_dir: Path, *, should_stop: Callable[[], bool] = lambda: False,
          resume: bool = True) -> Iterator[dict]:
    """Train per `cfg`, writing checkpoints, report.json, predictions.jsonl and model/ into
    `run_dir`; resumes from the latest checkpoint there when `resume` is true."""
    from engine.models import build_model

    run_dir = Path(run_dir)
    t_start = time.time()
    world = int(os.environ.get("WORLD_SIZE", "1"))  # processes of a data-parallel run share the cores
    torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // world))
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg)
    ctx = distributed.init(device.type)
    if ctx.enabled and device.type == "cuda":
        device = torch.device(f"cuda:{ctx.local_rank}")
    amp = pick_dtype(cfg, device)
    prep = prepare(cfg)
    model = build_model(cfg.model, cfg.task, prep.labels, adapter=cfg.adapter, lora_r=cfg.lora_r,
                        lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                        lora_target_modules=tuple(cfg.lora_target_modules), dropout=cfg.dropout)
    model.to(device)
    train_model = model
    if ctx.enabled:  # gradients averaged across processes; rank 0 evaluates and writes
        train_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.local_rank] if device.type == "cuda" else None)
    pad_id = prep.tokenizer.pad_token_id or 0
    multiple = 32 if device.type == "cuda" else None  # few fixed shapes on GPU; exact on CPU
    n_batches = math.ceil(len(prep.features["train"]) / cfg.batch_size)
    total = total_steps_for(cfg, n_batches)
    optimizer = build_optimizer(model, cfg, device)
    scheduler = build_scheduler(optimizer, cfg, total)
    loss_fn = build_loss(cfg, prep.label_counts, device)
    state = checkpoint.TrainState()
    if resume and (ckpt := checkpoint.latest(run_dir)) is not None:
        state = checkpoint.load(ckpt, model, optimizer, scheduler)
        if ctx.is_main:
            checkpoint.discard_best_after(run_dir, state.step)
        yield {"event": "resume", "step": state.step, "checkpoint": str(ckpt)}
    trainable, total_params = _count(model)
    yield {"event": "start", "step": state.step, "total_steps": total, "epochs": cfg.epochs,
           "labels": prep.labels, "train_examples": len(prep.splits["train"]),
           "dev_examples": len(prep.splits.get("dev", [])),
           "test_examples": len(prep.splits.get("test", [])), "device": str(device),
           "train_tokens": int(prep.lengths["train"].sum()),
           "precision": str(amp).replace("torch.", "") if amp else "fp32",
           "trainable_params": trainable, "total_params": total_params, "notes": prep.notes}

    resident = batching.ResidentSplit(
        prep.features["train"], pad_id=pad_id, device=device, multiple=multiple, cap=cfg.max_length,
        label_shape="tokens" if cfg.task == "ner" else "texts", multi_label=cfg.task == "multilabel")
    # Labelled positions per feature, to weight each rank's share of a global batch.
    labelled = np.array([sum(1 for t in f["labels"] if t != -100) if cfg.task == "ner" else 1
                         for f in prep.features["train"]], dtype=np.int64)
    eval_every = cfg.eval_every
    from engine.graphs import StepRunner, graphs_possible

    use_graphs, why = graphs_possible(device, requested=cfg.cuda_graphs, fast_path=cfg.fast_path,
                                      distributed=ctx.enabled)
    runner = StepRunner(model=model, train_model=train_model, optimizer=optimizer, loss_fn=loss_fn,
                        resident=resident, device=device, amp=amp, grad_clip=cfg.grad_clip,
                        grad_accum=cfg.grad_accum, graphs=use_graphs, reason=why)
    loss_sum = runner.loss_sum  # accumulated on device; read every log_every
    tokens_since, t_log, micro, accum = 0, time.time(), 0, 0
    stopped = False
    model.train()
    while state.step < total and not state.early_stopped:
        batches = batching.plan_batches(prep.lengths["train"], cfg.batch_size, seed=cfg.seed,
                                        epoch=state.epoch,
                                        chunk_batches=cfg.bucket_batches if cfg.fast_path else 1)
        runner.plan(batches, start=state.batch_in_epoch)
        while state.batch_in_epoch < len(batches) and state.step < total:
            idx = batches[state.batch_in_epoch]
            local = distributed.shard(idx, ctx)
            runner.micro_step(local, distributed.loss_scale(labelled, local, idx, ctx))
            tokens_since += int(prep.lengths["train"][idx].sum())
            state.batch_in_epoch += 1
            micro += 1
            accum += 1
            if accum < cfg.grad_accum and state.batch_in_epoch < len(batches):
                continue
            accum = 0
            runner.optimizer_step()
            scheduler.step()
            state.step += 1
            epoch_done = state.batch_in_epoch >= len(batches)
            if state.step % cfg.log_every == 0 or state.step == total or epoch_done:
                now = time.time()
                n_micro = max(1, micro)
                yield {"event": "log", "step": state.step, "epoch": state.epoch + state.batch_in_epoch / len(batches),
                       "loss": float(distributed.mean(loss_sum, ctx)) * cfg.grad_accum / n_micro,
                       "lr": float(scheduler.get_last_lr()[0]), "grad_norm": float(runner.grad_norm),
                       "tokens_per_s": tokens_since / max(now - t_log, 1e-9)}
                loss_sum.zero_()
                tokens_since, t_log, micro = 0, now, 0
            due = (state.step % eval_every == 0) if eval_every else epoch_done
            if due or state.step == total:
                if ctx.is_main:
                    yield from _evaluate_during(model, prep, cfg, device, amp, state, run_dir)
                    model.train()
                state.early_stopped = distributed.from_main(state.early_stopped, ctx)
            if cfg.checkpoint_every and state.step % cfg.checkpoint_every == 0 and ctx.is_main:
                path = checkpoint.save(run_dir, model, optimizer, scheduler, state)
                yield {"event": "checkpoint", "step": state.step, "path": str(path)}
            if state.early_stopped:
                break
            if distributed.agree(should_stop(), ctx):
                path = checkpoint.save(run_dir, model, optimizer, scheduler, state) if ctx.is_main else None
                yield {"event": "stopped", "step": state.step, "checkpoint": str(path)}
                stopped = True
                break
        if stopped or state.early_stopped:
            break
        if state.batch_in_epoch >= len(batches):
            state.epoch += 1
            state.batch_in_epoch = 0
    runner.release()
    if stopped or not ctx.is_main:
        distributed.finish(ctx)
        return
    if state.early_stopped:
        yield {"event": "early_stop", "step": state.step, "best_step": state.best_step}
    checkpoint.save(run_dir, model, optimizer, scheduler, state)
    checkpoint.load_best(run_dir, model)
    report = _final_report(model, prep, cfg, device, amp, run_dir, state)
    report["train_time_s"] = time.time() - t_start
    report["step_runner"] = runner.stats()
    write_json_atomic(run_dir / "report.json", report)
    from engine.models import save_model

    save_model(model, prep.tokenizer, run_dir / "model", prep.labels)
    distributed.finish(ctx)
    yield {"event": "end", "step": state.step, "best_step": state.best_step,
           "best_score": state.best_score, "metric": cfg.metric, "step_runner": runner.stats(),
           "summary": {split: _headline(report[split], cfg) for split in ("dev", "test") if split in report}}


def _count(model: torch.nn.Module) -> tuple[int, int]:
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def predict_split(model, prep: Prepared, split: str, device, amp) -> dict:
    """Gold and predicted labels (and confidences) for one split."""
    from engine.predict import collator, decode, predict_logits

    cfg = prep.cfg
    records = prep.splits[split]
    features = prep.features[split]
    collate = collator(cfg.task, prep.tokenizer.pad_token_id or 0, cap=cfg.max_length)
    logits = predict_logits(model, features, collate, device, amp)
    if cfg.task == "ner":
        out = decode("ner", prep.labels, features, logits, [len(ex.tokens) for ex in records])
        return {"gold": [list(ex.tags) for ex in records], "pred": out["pred"],
                "conf": [c.round(4).tolist() for c in out["conf"]]}
    out = decode(cfg.task, prep.labels, features, logits)
    gold = [list(ex.labels) for ex in records] if cfg.task == "multilabel" \
        else [ex.labels[0] for ex in records]
    return {"gold": gold, "pred": out["pred"], "probs": out["probs"]}


def score_split(cfg: RunConfig, pred: dict, labels: list[str], *, full: bool) -> dict:
    """Metrics for one split's predictions (full adds the token table, confusion and errors)."""
    from core import metrics

    if cfg.task == "ner":
        out = {"entities": metrics.entity_report(pred["gold"], pred["pred"])}
        if full:
            out["tokens"] = metrics.token_report(pred["gold"], pred["pred"])
            names, matrix = metrics.tag_confusion(pred["gold"], pred["pred"], labels=labels)
            out["confusion"] = {"labels": names, "matrix": np.asarray(matrix).tolist()}
            out["errors"] = metrics.entity_errors(pred["gold"], pred["pred"])["per_type"]
        return out
    if cfg.task == "multilabel":
        return {"classes": metrics.multilabel_report(pred["gold"], pred["pred"], labels=labels)}
    out = {"classes": metrics.classification_report(pred["gold"], pred["pred"], labels=labels)}
    if full:
        names, matrix = metrics.confusion(pred["gold"], pred["pred"], labels=labels)
        out["confusion"] = {"labels": names, "matrix": np.asarray(matrix).tolist()}
    return out


def metric_value(cfg: RunConfig, scores: dict) -> float:
    """The run's selection metric (higher is better) from score_split's output."""
    if cfg.task == "ner":
        rep = scores["entities"]
        return float(rep["macro" if cfg.metric == "f1_macro" else "micro"]["f1"])
    rep = scores["classes"]
    if cfg.metric == "accuracy":
        return float(rep.get("accuracy", rep.get("subset_accuracy", 0.0)))
    return float(rep["macro" if cfg.metric == "f1_macro" else "micro"]["f1"])


def _headline(scores: dict, cfg: RunConfig) -> dict:
    if cfg.task == "ner":
        rep = scores["entities"]
        return {"f1_micro": rep["micro"]["f1"], "f1_macro": rep["macro"]["f1"],
                "per_type_f1": {t: v["f1"] for t, v in rep["per_type"].items()}}
    rep = scores["classes"]
    return {"accuracy": rep.get("accuracy", rep.get("subset_accuracy")),
            "f1_macro": rep["macro"]["f1"], "f1_micro": rep["micro"]["f1"]}


def _evaluate_during(model, prep: Prepared, cfg: RunConfig, device, amp, state, run_dir: Path):
    if "dev" not in prep.splits:
        return
    scores = score_split(cfg, predict_split(model, prep, "dev", device, amp), prep.labels, full=False)
    value = metric_value(cfg, scores)
    improved = state.best_score is None or value > state.best_score
    if improved:
        state.best_score, state.best_step, state.bad_evals = value, state.step, 0
        checkpoint.save_best(run_dir, model, state.step)
    else:
        state.bad_evals += 1
        if cfg.early_stopping_patience and state.bad_evals >= cfg.early_stopping_patience:
            state.early_stopped = True
    yield {"event": "eval", "split": "dev", "step": state.step, "epoch": state.epoch,
           "metric": cfg.metric, "value": value, "best": improved, **_headline(scores, cfg)}


def _final_report(model, prep: Prepared, cfg: RunConfig, device, amp, run_dir: Path, state) -> dict:
    import json

    report = {"task": cfg.task, "labels": prep.labels, "metric": cfg.metric,
              "best_step": state.best_step, "best_score": state.best_score, "steps": state.step}
    with open(run_dir / "predictions.jsonl", "w", encoding="utf-8") as f:
        for split in ("dev", "test"):
            if split not in prep.splits:
                continue
            pred = predict_split(model, prep, split, device, amp)
            report[split] = score_split(cfg, pred, prep.labels, full=True)
            for i, ex in enumerate(prep.splits[split]):
                row = {"split": split, "index": i, "gold": pred["gold"][i], "pred": pred["pred"][i]}
                if cfg.task == "ner":
                    row.update(tokens=list(ex.tokens), conf=pred["conf"][i])
                else:
                    row.update(text=ex.text, probs=np.round(pred["probs"][i], 4).tolist())
                f.write(json.dumps(row) + "\n")
    return report
