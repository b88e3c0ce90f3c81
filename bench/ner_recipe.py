"""The NER recipe ablation (accuracy issue): dev entity micro F1 of the bundled model on
CoNLL-2003, from the plain recipe (examples/conll2003.toml, which is HF run_ner's) adding one
change at a time, over several seeds.

    python bench/ner_recipe.py [--settings plain,context32,...] [--seeds 1,2,3]
        [--max-train 2000] [--threads 2] [--out bench/results/ner_recipe_cpu.json]

Each setting trains `python -m engine train --config examples/conll2003.toml` set back to
run_ner's recipe (PLAIN: lr 1e-4, 3 epochs, 10 % warmup, no context) plus its --set overrides (on the first --max-train sentences of eng.train; 0: all of it), dev =
eng.testa, tuned on dev only, scored once at the end (the final weights, as HF's Trainer
keeps them; no best-epoch pick). Then the trained model labels dev once more in this process
(engine.predict.open_model, the run's context) and the same logits are decoded twice:
argmax per word and valid-transition Viterbi (core/decoding.py), so each trained model
gives both decodings; the figure for the decoding the run itself used must equal its
report.json (checked). Results are appended to --out as they come (a rerun skips what is
there), and a table of mean ± sd over seeds is printed.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "conll2003"

# run_ner's recipe (ANCHORS.md), whatever examples/conll2003.toml now recommends
PLAIN = {"learning_rate": 1e-4, "context": 0, "epochs": 3, "warmup_ratio": 0.1,
         "label_alignment": "first"}
# name -> (overrides on top of PLAIN, what it changes)
SETTINGS: dict[str, tuple[dict, str]] = {
    "plain": ({}, "run_ner's recipe (examples/conll2003.toml before this work)"),
    "context32": ({"context": 32}, "+ 32 sub-tokens of neighbouring sentences a side"),
    "context64": ({"context": 64}, "+ 64 sub-tokens a side"),
    "lr2e-4": ({"learning_rate": 2e-4}, "peak LR 2e-4 (from 1e-4)"),
    "lr4e-4": ({"learning_rate": 4e-4}, "peak LR 4e-4"),
    "lr5e-5": ({"learning_rate": 5e-5}, "peak LR 5e-5"),
    "all": ({"label_alignment": "all"}, "every sub-token of a word labelled"),
    "warm0": ({"warmup_ratio": 0.0}, "no warmup (from 10 %)"),
    "ep5": ({"epochs": 5}, "5 epochs (from 3)"),
    "context64_lr2e-4": ({"context": 64, "learning_rate": 2e-4}, "context 64, peak LR 2e-4"),
    "context64_lr5e-5": ({"context": 64, "learning_rate": 5e-5}, "context 64, peak LR 5e-5"),
    "context64_all": ({"context": 64, "label_alignment": "all"},
                      "context 64, every sub-token labelled"),
    "context64_warm0": ({"context": 64, "warmup_ratio": 0.0}, "context 64, no warmup"),
    "context64_ep5": ({"context": 64, "epochs": 5}, "context 64, 5 epochs"),
}


def _toml(value) -> str:
    return json.dumps(value) if isinstance(value, str) else repr(value)


def train(name: str, overrides: dict, seed: int, args, workdir: Path) -> Path:
    run_dir = workdir / f"{name}-s{seed}"
    if (run_dir / "report.json").is_file():
        return run_dir
    sets = {"train": str(DATA / "eng.train"), "dev": str(DATA / "eng.testa"), "seed": seed,
            "threads": args.threads, "decoding": "viterbi", "log_every": 1000,
            "eval_every": 10 ** 6, **PLAIN, **overrides}  # dev scored once, at the end
    if args.max_train:
        sets["max_train_examples"] = args.max_train
    cmd = [sys.executable, "-m", "engine", "train", "--config", str(ROOT / "examples" /
                                                                     "conll2003.toml"),
           "--run-dir", str(run_dir)]
    for key, value in sets.items():
        cmd += ["--set", f"{key}={_toml(value)}"]
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    return run_dir


def dev_scores(run_dir: Path, dev) -> dict:
    """Dev entity micro F1 with argmax and with Viterbi from one pass of the model."""
    from core.metrics import entity_report
    from engine.encoding import encode_ner
    from engine.predict import collator, decode, open_model, predict_logits

    predictor = open_model(run_dir, batch_size=64)
    windows = encode_ner(predictor.tokenizer, dev, None, max_length=predictor.max_length,
                         stride=predictor.stride or 32, context=predictor.context)
    t0 = time.perf_counter()
    collate = collator("ner", predictor.tokenizer.pad_token_id or 0, cap=predictor.max_length)
    logits = predict_logits(predictor.model, windows, collate, predictor.device, None,
                            batch_size=64)
    forward_s = time.perf_counter() - t0
    gold = [list(ex.tags) for ex in dev]
    n_words = [len(ex.tokens) for ex in dev]
    out = {"dev_tokens": int(sum(len(w["input_ids"]) for w in windows)),
           "dev_forward_s": round(forward_s, 2)}
    for decoding, scheme in (("argmax", None), ("viterbi", "IOB2")):
        t0 = time.perf_counter()
        pred = decode("ner", predictor.labels, windows, logits, n_words, scheme=scheme)["pred"]
        out[f"{decoding}_decode_s"] = round(time.perf_counter() - t0, 3)
        out[f"dev_f1_{decoding}"] = entity_report(gold, pred)["micro"]["f1"]
    return out


def summarise(results: list[dict]) -> list[dict]:
    rows = []
    for name in dict.fromkeys(r["setting"] for r in results):
        mine = [r for r in results if r["setting"] == name]
        row = {"setting": name, "what": SETTINGS.get(name, ({}, ""))[1], "seeds": len(mine),
               "train_s_mean": round(statistics.mean(r["train_s"] for r in mine), 1)}
        for decoding in ("argmax", "viterbi"):
            f1 = [100 * r[f"dev_f1_{decoding}"] for r in mine]
            row[f"{decoding}_mean"] = round(statistics.mean(f1), 2)
            row[f"{decoding}_sd"] = round(statistics.stdev(f1), 2) if len(f1) > 1 else None
        rows.append(row)
    return rows


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--settings", default="plain,context32,context64")
    p.add_argument("--seeds", default="1,2,3")
    p.add_argument("--max-train", type=int, default=2000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--workdir", type=Path, default=Path("/tmp/ner_recipe"))
    p.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / "ner_recipe_cpu.json")
    args = p.parse_args()
    from core.formats import read_conll

    import torch

    torch.set_num_threads(args.threads)
    dev = read_conll((DATA / "eng.testa").read_bytes(), source="eng.testa")
    saved = json.loads(args.out.read_text()) if args.out.is_file() else {}
    results = saved.get("runs", [])
    done = {(r["setting"], r["seed"], r["max_train"]) for r in results}
    args.workdir.mkdir(parents=True, exist_ok=True)
    for name in args.settings.split(","):
        overrides = SETTINGS[name][0]
        for seed in (int(s) for s in args.seeds.split(",")):
            if (name, seed, args.max_train) in done:
                continue
            t0 = time.perf_counter()
            run_dir = train(name, overrides, seed, args, args.workdir)
            wall = time.perf_counter() - t0
            report = json.loads((run_dir / "report.json").read_text())
            status = json.loads((run_dir / "status.json").read_text())
            row = {"setting": name, "seed": seed, "max_train": args.max_train,
                   "overrides": overrides, "train_s": round(wall, 1),
                   "report_dev_f1": report["dev"]["entities"]["micro"]["f1"],
                   "best_step": report.get("best_step"), "steps": status.get("total_steps"),
                   **dev_scores(run_dir, dev)}
            if abs(row["report_dev_f1"] - row["dev_f1_viterbi"]) > 1e-9:
                raise SystemExit(f"{name} seed {seed}: report dev F1 {row['report_dev_f1']} "
                                 f"!= re-decoded {row['dev_f1_viterbi']}")
            results.append(row)
            print(f"{name:>20} seed {seed}: dev F1 argmax {100 * row['dev_f1_argmax']:.2f} "
                  f"viterbi {100 * row['dev_f1_viterbi']:.2f}  ({wall:.0f} s)", flush=True)
            payload = {"bench": "ner_recipe", "when": time.strftime("%Y-%m-%d %H:%M"),
                       "machine": f"{platform.machine()} CPU, {os.cpu_count()} cores",
                       "torch": torch.__version__, "data": "CoNLL-2003 eng.train -> eng.testa "
                       "(dev); first max_train sentences of train", "runs": results,
                       "summary": summarise(results)}
            args.out.write_text(json.dumps(payload, indent=1) + "\n")
    print(f"\n{'setting':>20} {'seeds':>5} {'argmax':>13} {'viterbi':>13} {'train s':>8}")
    for row in summarise(results):
        sd = lambda v: f"{v:.2f}" if v is not None else "-"  # noqa: E731
        print(f"{row['setting']:>20} {row['seeds']:>5} {row['argmax_mean']:>7.2f} ± "
              f"{sd(row['argmax_sd']):<4} {row['viterbi_mean']:>7.2f} ± {sd(row['viterbi_sd']):<4} "
              f"{row['train_s_mean']:>8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
