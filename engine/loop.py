"""The training loop: a generator yielding one info dict per event, which the worker writes
to the run folder and tests drive directly.

In the shape of spaCy's training loop: `setup` builds a Session (device, data, model,
optimizer, resumed state), `steps` trains and yields events, `finish` writes the report, the
predictions and the model. `train` runs the three. The events are listed in engine/events.py.
"""
from __future__ import annotations

import dataclasses
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator

import numpy as np
import torch

from core.config import RunConfig, schedule_params, total_steps
from core.errors import ConfigError
from engine import batching, checkpoint, distributed, featcache
from engine.data import load_splits, workspace_root
from core.report import (SPLITS, headline, metric_value, new_report, prediction_rows, score_split,
                         summary)
from engine.runfolder import RunFolder


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


def prepare(cfg: RunConfig, workspace: Path) -> Prepared:
    """Load and convert data, augment train, tokenise every split once (workspace: where
    `dataset:` references and the feature cache live)."""
    from engine.encoding import encode_ner, encode_text
    from engine.models import load_tokenizer

    splits = load_splits(cfg, workspace=workspace)
    notes = []
    if cfg.task == "ner":
        splits = _convert_schemes(cfg, splits, notes)
    if cfg.augment:
        from core.augment import augment_many

        extra = augment_many(splits["train"], cfg.augment, seed=cfg.seed).examples
        notes.append(f"augmentation added {len(extra)} training examples")
        if cfg.task == "ner" and cfg.context:  # a copy is nobody's neighbour: its own document
            top = max((ex.doc for ex in splits["train"]), default=0)
            extra = [dataclasses.replace(ex, doc=top + 1 + k) for k, ex in enumerate(extra)]
        splits["train"] = list(splits["train"]) + list(extra)
    labels = collect_labels(cfg, splits)
    label2id = {label: i for i, label in enumerate(labels)}
    tokenizer = load_tokenizer(cfg.model)
    cache_dir = (Path(workspace) / "cache" / "features") if cfg.fast_path else None
    features, lengths = {}, {}
    for name, records in splits.items():
        if cfg.task == "ner":
            params = {"task": "ner", "max_length": cfg.max_length, "stride": cfg.window_stride,
                      "alignment": cfg.label_alignment}
            if cfg.context:  # (absent when 0: the cache keys of runs without it stay valid)
                params["context"] = cfg.context
                params["docs"] = [ex.doc for ex in records]  # neighbours end where documents do
            compute = lambda records=records: encode_ner(  # noqa: E731
                tokenizer, records, label2id, max_length=cfg.max_length,
                stride=cfg.window_stride, alignment=cfg.label_alignment, context=cfg.context)
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


@dataclass
class Session:
    """A run in progress: what setup built, and the counters steps() keeps between events."""

    cfg: RunConfig
    run_dir: Path
    workspace: Path
    ctx: distributed.Dist
    device: torch.device
    amp: torch.dtype | None
    prep: Prepared
    model: torch.nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object
    state: checkpoint.TrainState
    total: int
    runner: object
    labelled: np.ndarray
    resumed_from: Path | None = None
    restarted: bool = False  # no checkpoint to resume from, but a lost attempt left metrics
    t_start: float = field(default_factory=time.time)
    t_checkpoint: float = field(default_factory=time.monotonic)
    stopped: bool = False
    tokens_since: int = 0
    t_log: float = field(default_factory=time.time)
    micro: int = 0
    accum: int = 0


def train(cfg: RunConfig, run_dir: Path, *, should_stop: Callable[[], bool] = lambda: False,
          resume: bool = True, workspace: Path | None = None) -> Iterator[dict]:
    """Train per `cfg`, writing checkpoints, the report, the predictions and the model into
    the run folder `run_dir` (engine/runfolder.py); resumes from the latest checkpoint there
    when `resume` is true. Yields the events of engine/events.py. workspace: where
    `dataset:` references and the feature cache live (default: $WORKBENCH_HOME)."""
    session = setup(cfg, Path(run_dir), workspace if workspace is not None else workspace_root(),
                    resume=resume)
    yield from steps(session, should_stop)
    if session.stopped or not session.ctx.is_main:
        distributed.finish(session.ctx)
        return
    yield finish(session)
    tidy(session)  # the consumer has recorded the end event (the worker: state completed)


def setup(cfg: RunConfig, run_dir: Path, workspace: Path, *, resume: bool = True) -> Session:
    """Device, process group, data, model, optimizer and (when resuming) the checkpoint."""
    from engine.graphs import StepRunner, graphs_possible
    from engine.models import build_model

    world = int(os.environ.get("WORLD_SIZE", "1"))  # processes of a data-parallel run share the cores
    torch.set_num_threads(cfg.threads or max(1, (os.cpu_count() or 1) // world))
    torch.manual_seed(cfg.seed)
    device = pick_device(cfg)
    ctx = distributed.init(device.type)
    if ctx.enabled and device.type == "cuda":
        device = torch.device(f"cuda:{ctx.local_rank}")
    amp = pick_dtype(cfg, device)
    prep = prepare(cfg, workspace)
    model = build_model(cfg.model, cfg.task, prep.labels, adapter=cfg.adapter, lora_r=cfg.lora_r,
                        lora_alpha=cfg.lora_alpha, lora_dropout=cfg.lora_dropout,
                        lora_target_modules=tuple(cfg.lora_target_modules), dropout=cfg.dropout)
    model.to(device)
    train_model = model
    if ctx.enabled:  # gradients averaged across processes; rank 0 evaluates and writes
        train_model = torch.nn.parallel.DistributedDataParallel(
            model, device_ids=[ctx.local_rank] if device.type == "cuda" else None)
    total = total_steps(len(prep.features["train"]), cfg)
    optimizer = build_optimizer(model, cfg, device)
    scheduler = build_scheduler(optimizer, cfg, total)
    state, resumed_from, restarted = checkpoint.TrainState(), None, False
    if resume:
        resumed_from, loaded = checkpoint.resume(run_dir, model, optimizer, scheduler, prep.notes)
    if resumed_from is not None:
        state = loaded
        if ctx.is_main:
            checkpoint.discard_best_after(run_dir, state.step)
    elif resume and ctx.is_main:
        restarted = bool(RunFolder(run_dir).read_metrics())  # metrics of an attempt that left no checkpoint
    resident = batching.ResidentSplit(
        prep.features["train"], pad_id=prep.tokenizer.pad_token_id or 0, device=device,
        multiple=32 if device.type == "cuda" else None,  # few fixed shapes on GPU; exact on CPU
        cap=cfg.max_length, label_shape="tokens" if cfg.task == "ner" else "texts",
        multi_label=cfg.task == "multilabel")
    use_graphs, why = graphs_possible(device, requested=cfg.cuda_graphs, fast_path=cfg.fast_path,
                                      distributed=ctx.enabled)
    runner = StepRunner(model=model, train_model=train_model, optimizer=optimizer,
                        loss_fn=build_loss(cfg, prep.label_counts, device), resident=resident,
                        device=device, amp=amp, grad_clip=cfg.grad_clip, grad_accum=cfg.grad_accum,
                        graphs=use_graphs, reason=why)
    # Labelled positions per feature, to weight each rank's share of a global batch.
    labelled = np.array([sum(1 for t in f["labels"] if t != -100) if cfg.task == "ner" else 1
                         for f in prep.features["train"]], dtype=np.int64)
    return Session(cfg, run_dir, workspace, ctx, device, amp, prep, model, optimizer, scheduler,
                   state, total, runner, labelled, resumed_from, restarted)


def _start_event(s: Session) -> dict:
    prep, amp = s.prep, s.amp
    trainable, total_params = _count(s.model)
    return {"event": "start", "step": s.state.step, "total_steps": s.total, "epochs": s.cfg.epochs,
            "labels": prep.labels, "train_examples": len(prep.splits["train"]),
            "dev_examples": len(prep.splits.get("dev", [])),
            "test_examples": len(prep.splits.get("test", [])), "device": str(s.device),
            "train_tokens": int(prep.lengths["train"].sum()),
            "precision": str(amp).replace("torch.", "") if amp else "fp32",
            "trainable_params": trainable, "total_params": total_params, "notes": prep.notes}


def steps(s: Session, should_stop: Callable[[], bool] = lambda: False) -> Iterator[dict]:
    """Train until the last step, early stopping or a stop request, yielding each event."""
    if s.resumed_from is not None:
        yield {"event": "resume", "step": s.state.step, "checkpoint": str(s.resumed_from)}
    elif s.restarted:  # the lost attempt's metrics go: nothing of it survives to resume
        yield {"event": "resume", "step": 0, "checkpoint": None}
    yield _start_event(s)
    state, cfg = s.state, s.cfg
    s.t_log = time.time()
    s.model.train()
    while state.step < s.total and not state.early_stopped:
        batches = batching.plan_batches(s.prep.lengths["train"], cfg.batch_size, seed=cfg.seed,
                                        epoch=state.epoch,
                                        chunk_batches=cfg.bucket_batches if cfg.fast_path else 1)
        s.runner.plan(batches, start=state.batch_in_epoch)
        while state.batch_in_epoch < len(batches) and state.step < s.total:
            if not _micro_step(s, batches):
                continue
            yield from _after_step(s, len(batches), should_stop)
            if s.stopped or state.early_stopped:
                break
        if s.stopped or state.early_stopped:
            break
        if state.batch_in_epoch >= len(batches):
            state.epoch += 1
            state.batch_in_epoch = 0
    s.runner.release()
    if state.early_stopped and not s.stopped and s.ctx.is_main:
        yield {"event": "early_stop", "step": state.step, "best_step": state.best_step}


def _micro_step(s: Session, batches: list) -> bool:
    """One micro-batch forward/backward; True when it completed an optimizer step."""
    state = s.state
    idx = batches[state.batch_in_epoch]
    local = distributed.shard(idx, s.ctx)
    s.runner.micro_step(local, distributed.loss_scale(s.labelled, local, idx, s.ctx))
    s.tokens_since += int(s.prep.lengths["train"][idx].sum())
    state.batch_in_epoch += 1
    s.micro += 1
    s.accum += 1
    if s.accum < s.cfg.grad_accum and state.batch_in_epoch < len(batches):
        return False
    s.accum = 0
    s.runner.optimizer_step()
    s.scheduler.step()
    state.step += 1
    return True


def _after_step(s: Session, n_batches: int, should_stop: Callable[[], bool]) -> Iterator[dict]:
    """Log, evaluate, checkpoint and honour a stop request after an optimizer step."""
    state, cfg, ctx = s.state, s.cfg, s.ctx
    epoch_done = state.batch_in_epoch >= n_batches
    if state.step % cfg.log_every == 0 or state.step == s.total or epoch_done:
        yield _log_event(s, n_batches)
    due = (state.step % cfg.eval_every == 0) if cfg.eval_every else epoch_done
    if due or state.step == s.total:
        if ctx.is_main:
            yield from _evaluate_during(s)
            s.model.train()
        state.early_stopped = distributed.from_main(state.early_stopped, ctx)
    evaluated = due or state.step == s.total
    periodic = (state.step % cfg.checkpoint_every == 0) if cfg.checkpoint_every else evaluated
    timed = (cfg.checkpoint_minutes is not None
             and time.monotonic() - s.t_checkpoint >= 60 * cfg.checkpoint_minutes)
    if (periodic or timed) and ctx.is_main:
        path = checkpoint.save(s.run_dir, s.model, s.optimizer, s.scheduler, state,
                               keep=_rotation(cfg))
        s.t_checkpoint = time.monotonic()
        yield {"event": "checkpoint", "step": state.step, "path": str(path)}
    if state.early_stopped:
        return
    if distributed.agree(should_stop(), ctx):
        path = checkpoint.save(s.run_dir, s.model, s.optimizer, s.scheduler, state,
                               keep=_rotation(cfg)) if ctx.is_main else None
        yield {"event": "stopped", "step": state.step, "checkpoint": str(path)}
        s.stopped = True


def _log_event(s: Session, n_batches: int) -> dict:
    """The log event for the steps since the last one; resets the running sums."""
    now = time.time()
    loss_sum = s.runner.loss_sum  # accumulated on device; read only here
    info = {"event": "log", "step": s.state.step,
            "epoch": s.state.epoch + s.state.batch_in_epoch / n_batches,
            "loss": float(distributed.mean(loss_sum, s.ctx)) * s.cfg.grad_accum / max(1, s.micro),
            "lr": float(s.scheduler.get_last_lr()[0]), "grad_norm": float(s.runner.grad_norm),
            "tokens_per_s": s.tokens_since / max(now - s.t_log, 1e-9)}
    loss_sum.zero_()
    s.tokens_since, s.t_log, s.micro = 0, now, 0
    return info


def _rotation(cfg: RunConfig) -> int:
    """Step checkpoints kept while training: two (one to fall back on when the newest is
    torn), or the keep_checkpoints that stay once the run completes, when more."""
    return max(2, cfg.keep_checkpoints)


def finish(s: Session) -> dict:
    """Final checkpoint, best weights back, then the run folder's report, predictions and
    model. Returns the end event, which names no checkpoint file. The checkpoints stay whole
    (resumable) until `tidy`, which train() calls once the end event has been taken."""
    from engine.models import save_model
    from engine.predict import write_settings

    folder = RunFolder(s.run_dir)
    checkpoint.save(s.run_dir, s.model, s.optimizer, s.scheduler, s.state, keep=_rotation(s.cfg))
    checkpoint.load_best(s.run_dir, s.model)
    report = _final_report(s, folder)
    report["train_time_s"] = time.time() - s.t_start
    report["step_runner"] = s.runner.stats()
    folder.write_report(report)
    save_model(s.model, s.prep.tokenizer, folder.model_dir, s.prep.labels)
    write_settings(folder.model_dir, s.cfg)  # so model/ alone predicts as this report did
    _write_card(s.run_dir)
    distributed.finish(s.ctx)
    return {"event": "end", "step": s.state.step, "best_step": s.state.best_step,
            "best_score": s.state.best_score, "metric": s.cfg.metric,
            "step_runner": s.runner.stats(), "summary": summary(report)}


def _write_card(run_dir: Path) -> None:
    """model/README.md, the model card (engine/modelcard.py); a card that cannot be written
    is a note, never a failed run (`python -m engine card RUN` writes it again)."""
    from core.errors import WorkbenchError
    from engine.modelcard import write_card

    try:
        write_card(run_dir)
    except (WorkbenchError, OSError) as exc:
        print(f"note: no model card written ({exc})", file=sys.stderr, flush=True)


def tidy(s: Session) -> None:
    """Shrink the checkpoints to what keep_checkpoints keeps (checkpoint.prune), once the run
    is recorded completed: until then a kill leaves it resumable from its final checkpoint
    (the resume only redoes finish), after it the run is complete whatever prune got to (a
    later Free space tidies the rest). A failure to delete is a note, not a failed run."""
    try:
        checkpoint.prune(s.run_dir, s.cfg.keep_checkpoints, s.state)
    except OSError as exc:
        print(f"note: checkpoints not pruned ({exc}); Free space on the Runs page retries",
              file=sys.stderr, flush=True)


def _count(model: torch.nn.Module) -> tuple[int, int]:
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def predict_split(model, prep: Prepared, split: str, device, amp) -> dict:
    """Gold and predicted labels (and confidences) for one split."""
    from engine.predict import collator, decode, decoding_scheme, predict_logits

    cfg = prep.cfg
    records = prep.splits[split]
    features = prep.features[split]
    collate = collator(cfg.task, prep.tokenizer.pad_token_id or 0, cap=cfg.max_length)
    logits = predict_logits(model, features, collate, device, amp)
    if cfg.task == "ner":
        out = decode("ner", prep.labels, features, logits, [len(ex.tokens) for ex in records],
                     scheme=decoding_scheme(cfg))
        return {"gold": [list(ex.tags) for ex in records], "pred": out["pred"],
                "conf": [c.round(4).tolist() for c in out["conf"]]}
    out = decode(cfg.task, prep.labels, features, logits)
    gold = [list(ex.labels) for ex in records] if cfg.task == "multilabel" \
        else [ex.labels[0] for ex in records]
    pred = {"gold": gold, "pred": out["pred"], "probs": out["probs"]}
    if any(getattr(ex, "group", None) is not None for ex in records):
        pred["groups"] = [ex.group for ex in records]  # ranking metrics per group
    return pred


def _evaluate_during(s: Session) -> Iterator[dict]:
    """Score dev, keep the best weights, count evaluations without improvement."""
    cfg, state, prep = s.cfg, s.state, s.prep
    if "dev" not in prep.splits:
        return
    section = score_split(cfg.task, predict_split(s.model, prep, "dev", s.device, s.amp),
                          prep.labels, full=False)
    value = metric_value(cfg.task, cfg.metric, section)
    improved = state.best_score is None or value > state.best_score
    if improved:
        state.best_score, state.best_step, state.bad_evals = value, state.step, 0
        checkpoint.save_best(s.run_dir, s.model, state.step)
    else:
        state.bad_evals += 1
        if cfg.early_stopping_patience and state.bad_evals >= cfg.early_stopping_patience:
            state.early_stopped = True
    yield {"event": "eval", "split": "dev", "step": state.step, "epoch": state.epoch,
           "metric": cfg.metric, "value": value, "best": improved, **headline(cfg.task, section)}


def _final_report(s: Session, folder: RunFolder) -> dict:
    """The report (core/report.py) for the best weights; writes the prediction rows too."""
    cfg, prep, state = s.cfg, s.prep, s.state
    report = new_report(cfg.task, prep.labels, cfg.metric, best_step=state.best_step,
                        best_score=state.best_score, steps=state.step)
    rows: list[dict] = []
    for split in SPLITS:
        if split not in prep.splits:
            continue
        pred = predict_split(s.model, prep, split, s.device, s.amp)
        report[split] = score_split(cfg.task, pred, prep.labels, full=True)
        rows.extend(prediction_rows(cfg.task, split, prep.splits[split], pred))
    folder.write_predictions(rows)
    return report
