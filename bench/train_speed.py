"""Training speed: the HF Trainer (as run_ner.py uses it) vs this engine's default path.

python bench/train_speed.py --train eng.train --eval eng.testa --model default --epochs 3 \
    --batch-size 32 [--lr 1e-4] [--max-train-sentences 2000] [--max-eval-sentences 500] \
    [--model-shape bert-base] --out bench/results/train_speed_cpu.json

Both sides train the same model on the same (IOB2-converted) data with the same
hyperparameters: lr, 10% linear warmup then linear decay, weight decay 0.01, gradient
clipping 1.0, bf16 on GPU. Tokens are sub-word tokens including special tokens (padding
excluded); wall time includes any compilation; F1 is entity micro F1 (conlleval rules) on
--eval. Each side runs in its own process so peak memory is its own.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def load_data(args):
    from core.formats import read_conll
    from core.schemes import convert_examples

    train = read_conll(Path(args.train).read_bytes(), source=args.train)
    dev = read_conll(Path(args.eval).read_bytes(), source=args.eval)
    if args.max_train_sentences:
        train = train[: args.max_train_sentences]
    if args.max_eval_sentences:
        dev = dev[: args.max_eval_sentences]
    return convert_examples(train, "IOB2"), convert_examples(dev, "IOB2")


def model_dir(args, workdir: Path) -> str:
    """The model folder both sides load: the given one, or a random bert-base shape on its tokenizer."""
    from engine.models import load_tokenizer, resolve_model

    path = resolve_model(args.model)
    if args.model_shape != "bert-base":
        return path
    import torch
    from transformers import BertConfig, BertModel

    tok = load_tokenizer(args.model)
    torch.manual_seed(0)
    cfg = BertConfig(vocab_size=len(tok), hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                     intermediate_size=3072)
    out = workdir / "bert-base-shape"
    BertModel(cfg).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


def peak_mem_gb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**30
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def f1_of(gold, pred) -> float:
    from core.metrics import entity_report

    return entity_report(gold, pred)["micro"]["f1"]


def run_trainer(args, model_path: str) -> dict:
    """transformers.Trainer exactly as run_ner.py drives it."""
    import numpy as np
    import torch
    from transformers import (AutoModelForTokenClassification, AutoTokenizer,
                              DataCollatorForTokenClassification, Trainer, TrainingArguments)
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    train, dev = load_data(args)
    labels = ["O"] + sorted({t for ex in train + dev for t in ex.tags} - {"O"})
    label2id = {l: i for i, l in enumerate(labels)}
    tok = AutoTokenizer.from_pretrained(model_path)

    def encode(examples):
        enc = tok([list(ex.tokens) for ex in examples], is_split_into_words=True, truncation=True,
                  max_length=512)
        rows = []
        for i, ex in enumerate(examples):
            word_ids = enc.word_ids(i)
            prev, lab = None, []
            for w in word_ids:  # first sub-token labelled, as run_ner.py (label_all_tokens=False)
                lab.append(-100 if w is None or w == prev else label2id[ex.tags[w]])
                prev = w
            rows.append({"input_ids": enc["input_ids"][i], "attention_mask": enc["attention_mask"][i],
                         "labels": lab})
        return rows

    train_rows, dev_rows = encode(train), encode(dev)
    model = AutoModelForTokenClassification.from_pretrained(
        model_path, num_labels=len(labels), id2label=dict(enumerate(labels)), label2id=label2id)
    cuda = torch.cuda.is_available()
    import inspect

    # transformers 5 folds warmup_ratio into warmup_steps (a float in [0, 1) is a ratio).
    warm = ({"warmup_ratio": 0.1} if "warmup_ratio" in inspect.signature(TrainingArguments).parameters
            else {"warmup_steps": 0.1})
    targs = TrainingArguments(**warm,
        output_dir=tempfile.mkdtemp(), learning_rate=args.lr, num_train_epochs=args.epochs,
        per_device_train_batch_size=args.batch_size, per_device_eval_batch_size=args.batch_size,
        weight_decay=0.01, lr_scheduler_type="linear", bf16=cuda,
        save_strategy="no", eval_strategy="no", logging_steps=10**9, report_to=[], seed=args.seed,
        disable_tqdm=True)
    trainer = Trainer(model=model, args=targs, train_dataset=train_rows,
                      data_collator=DataCollatorForTokenClassification(tok))
    t0 = time.perf_counter()
    trainer.train()
    if cuda:
        torch.cuda.synchronize()
    train_s = time.perf_counter() - t0
    out = trainer.predict(dev_rows)
    preds = out.predictions.argmax(-1)
    gold, pred = [], []
    for row, p, ex in zip(dev_rows, preds, dev):
        keep = [k for k, l in enumerate(row["labels"]) if l != -100]
        words = [labels[p[k]] for k in keep]
        gold.append(list(ex.tags)[: len(words)])
        pred.append(words)
    tokens = sum(len(r["input_ids"]) for r in train_rows) * args.epochs
    return {"train_s": train_s, "tokens_per_s": tokens / train_s, "peak_mem_gb": peak_mem_gb(),
            "f1": f1_of(gold, pred), "tokens": tokens}


def run_engine(args, model_path: str, workdir: Path, *, cuda_graphs: bool = True) -> dict:
    """This engine's default path (the same code `python -m engine train` runs); the side
    'engine-eager' turns CUDA graphs off to show what they add."""
    from core.config import RunConfig
    from core.formats import write_conll
    from engine.loop import train as train_loop

    train, dev = load_data(args)
    (workdir / "train.conll").write_text(write_conll(train), encoding="utf-8")
    (workdir / "dev.conll").write_text(write_conll(dev), encoding="utf-8")
    cfg = RunConfig(task="ner", train=str(workdir / "train.conll"), dev=str(workdir / "dev.conll"),
                    model=model_path, learning_rate=args.lr, epochs=args.epochs,
                    batch_size=args.batch_size, warmup_ratio=0.1, weight_decay=0.01,
                    schedule="linear.v1", grad_clip=1.0, seed=args.seed, max_length=512,
                    window_stride=64, eval_every=10**9, log_every=10**9, precision=args.precision,
                    cuda_graphs=cuda_graphs, bucket_batches=args.bucket_batches)
    t_start = t_last = None
    tokens, runner = 0, {}
    for info in train_loop(cfg, workdir / "run"):
        if info["event"] == "start":
            t_start = time.perf_counter()
            tokens = info["train_tokens"] * args.epochs
        elif info["event"] == "log":
            t_last = time.perf_counter()  # the last log comes after the last step has run
        elif info["event"] == "end":
            runner = info.get("step_runner", {})
    report = json.loads((workdir / "run" / "report.json").read_text())
    train_s = t_last - t_start
    return {"train_s": train_s, "tokens_per_s": tokens / train_s, "peak_mem_gb": peak_mem_gb(),
            "f1": report["dev"]["entities"]["micro"]["f1"], "tokens": tokens,
            "precision": args.precision, "step_runner": runner}


def device_name() -> str:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()} CPU, {os.cpu_count()} cores"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train", required=True)
    p.add_argument("--eval", required=True)
    p.add_argument("--model", default="default")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--lr", type=float, default=1e-4)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--max-train-sentences", type=int)
    p.add_argument("--max-eval-sentences", type=int)
    p.add_argument("--model-shape", choices=["bert-base"])
    p.add_argument("--bucket-batches", type=int, default=50,
                   help="engine: sort lengths within windows of this many batches (1: random)")
    p.add_argument("--precision", default="auto", help="engine precision (auto: bf16 on GPU)")
    p.add_argument("--sides", default="trainer,engine",
                   help="comma-separated: trainer, engine, engine-eager (engine without CUDA graphs)")
    p.add_argument("--out", default="bench/results/train_speed.json")
    p.add_argument("--side", help=argparse.SUPPRESS)
    p.add_argument("--side-out", help=argparse.SUPPRESS)
    args = p.parse_args()

    if args.side:  # child process: one side, result as JSON to --side-out
        with tempfile.TemporaryDirectory() as tmp:
            path = model_dir(args, Path(tmp))
            if args.side == "trainer":
                res = run_trainer(args, path)
            else:
                res = run_engine(args, path, Path(tmp), cuda_graphs=args.side != "engine-eager")
        Path(args.side_out).write_text(json.dumps(res))
        return 0

    results = {}
    for side in args.sides.split(","):
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
            side_out = f.name
        cmd = [sys.executable, __file__, *sys.argv[1:], "--side", side, "--side-out", side_out]
        print(f"== {side}", flush=True)
        done = subprocess.run(cmd, cwd=ROOT)
        if done.returncode != 0:  # keep the other sides' figures
            results[side] = {"error": f"exit status {done.returncode}"}
            print(f"{side:12s} FAILED (exit status {done.returncode})", flush=True)
            continue
        results[side] = json.loads(Path(side_out).read_text())
        r = results[side]
        print(f"{side:12s} train {r['train_s']:.1f} s  {r['tokens_per_s']:,.0f} tokens/s  "
              f"peak {r['peak_mem_gb']:.2f} GB  F1 {100 * r['f1']:.2f}", flush=True)
    import torch
    import transformers

    out = {**results, "device": device_name(), "torch": torch.__version__,
           "transformers": transformers.__version__,
           "args": {k: v for k, v in vars(args).items() if not k.startswith("side")}}
    ok = {side for side, r in results.items() if "error" not in r}
    if {"trainer", "engine"} <= ok:
        out["speedup"] = results["engine"]["tokens_per_s"] / results["trainer"]["tokens_per_s"]
        print(f"speedup (engine / trainer tokens/s): {out['speedup']:.2f}x")
    if {"trainer", "engine-eager"} <= ok:
        out["speedup_eager"] = results["engine-eager"]["tokens_per_s"] / results["trainer"]["tokens_per_s"]
        print(f"speedup without CUDA graphs (engine-eager / trainer): {out['speedup_eager']:.2f}x")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
