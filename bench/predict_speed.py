"""Prediction speed on CPU: `python -m engine predict` vs transformers' token-classification pipeline.

    python bench/predict_speed.py [--model RUN_DIR] [--run-dir /tmp/predict_speed_run]
        [--input FILE.conll] [--min-words 20000] [--threads 2] [--repeats 3]
        [--max-words 20000] [--batch-size 64] [--pipeline-batch-size 64]
        [--max-train-examples N] [--onnx] [--out bench/results/predict_speed_cpu.json]

The model: a NER run fine-tuned from the bundled MiniLM (examples/demo_ner.toml, one epoch),
trained here into --run-dir with the project's own `python -m engine train` unless --model
names a finished run folder (reruns reuse --run-dir when it already holds model/).

The file: --input, else ../shared/data/conll2003/eng.testa when it exists, else the demo NER
test split (core.demo make_demo, --seed) written as CoNLL (core.formats.write_conll). Its
first whole sentences up to --max-words words are kept (0: all; -DOCSTART- lines stay), and a
file with fewer than --min-words words is repeated until it has that many.

Sides, in one process with torch.set_num_threads(--threads), a warm-up on the first
--warmup-sentences sentences each, then
--repeats timed rounds (the sides interleaved within a round, so load on a shared machine
hits all of them alike), median reported:
- ours: engine.predict_files.predict_file(open_model(run)) on the file, CoNLL in and out,
  end to end (reading, tokenising, model, merging windows, decoding, writing); model load
  timed separately. Plus once: the CLI subprocess `python -m engine predict --model RUN
  --input F --output O` (imports and load included), with OMP_NUM_THREADS=--threads.
- pipeline: transformers.pipeline("token-classification", model=MODEL_DIR,
  tokenizer=MODEL_DIR, device=-1) called on the list of all sentences, each given as
  " ".join(tokens) (the pipeline takes strings), aggregation_strategy "none" and the other
  defaults; once without batch_size (the default, one sentence per forward pass) and once
  with --pipeline-batch-size. Its time covers tokenising, model and post-processing only
  (no file reading or writing).
- ours_onnx_int8 (with --onnx): the same predict_file path on the run exported by
  `engine.export.export_onnx(run, quantize="int8")` (onnxruntime, dynamic int8), which
  `python -m engine predict --model EXPORT_DIR` runs; not the target's side, shown for what a
  different runtime gives.
Tokens are the words of the input sentences (the same count for every side).

Where the time goes (one untimed-for-the-target pass of ours, in memory, chunk by chunk as
predict_file does): tokenising and windows (encode_ner), the model (predict_logits), merge
and decoding (decode); and the model work each side does: sub-tokens fed to the model
including padding (ours: length-sorted batches within each chunk of records; the pipeline
batched: batches in input order, padded to the longest; the pipeline default: no padding).

Agreement: a word's pipeline tag is the entity of its first sub-token (found from the
tokenizer's character offsets on the joined string); sub-tokens the pipeline leaves out are
"O" (its default ignore_labels=["O"]). Sentences longer than the run's max_length sub-tokens
differ by design: ours labels them in overlapping windows, the pipeline sees the whole
sentence (truncated at the tokenizer's model_max_length); their count and the agreement on
the sentences that fit are reported separately.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

CONLL2003_TESTA = ROOT.parent / "shared" / "data" / "conll2003" / "eng.testa"
TARGET = 3.0  # the issue: ours >= 3x the faster pipeline setting, tokens/s on CPU


# ---- the model ----------------------------------------------------------------------------
def ensure_run(args) -> Path:
    """A finished run folder: --model, or --run-dir (trained here when it has no model/)."""
    if args.model:
        run = Path(args.model).expanduser()
        if not (run / "model").is_dir() and not (run / "config.json").is_file():
            raise SystemExit(f"--model {run}: not a finished run folder (no model/)")
        return run
    run = Path(args.run_dir).expanduser()
    if (run / "model" / "config.json").is_file():
        print(f"reusing the trained run in {run}", flush=True)
        return run
    cmd = [sys.executable, "-m", "engine", "train", "--config", str(ROOT / "examples" / "demo_ner.toml"),
           "--run-dir", str(run), "--set", f"epochs={args.epochs}", "--quiet"]
    if args.max_train_examples:
        cmd += ["--set", f"max_train_examples={args.max_train_examples}"]
    env = {**os.environ, "WORKBENCH_HOME": str(run.parent / f"{run.name}-workspace")}
    print("training:", " ".join(cmd), flush=True)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=ROOT, env=env)
    if done.returncode != 0 or not (run / "model" / "config.json").is_file():
        raise SystemExit(f"training failed (exit status {done.returncode}); see {run}/worker.log")
    print(f"trained in {time.perf_counter() - t0:.0f} s", flush=True)
    return run


# ---- the file -----------------------------------------------------------------------------
def read_sentences(path: Path) -> list[list[str]]:
    """Word lists of the sentences in a CoNLL file, read as predict_file reads them."""
    from engine.predict_files import read_conll

    with open(path, "rb") as f:
        return [rec.tokens for rec in read_conll(f, str(path)) if rec.passthrough is None
                and rec.tokens]


def read_predicted(path: Path) -> list[list[str]]:
    """Our predicted tags per sentence: the last column of predict_file's CoNLL output."""
    from engine.predict_files import read_conll

    with open(path, "rb") as f:
        return [rec.gold for rec in read_conll(f, str(path)) if rec.passthrough is None
                and rec.tokens]


def prepare_input(args, workdir: Path) -> tuple[Path, dict]:
    """The file to label (enlarged to --min-words when short) and what it is."""
    if args.input:
        source, kind = Path(args.input).expanduser(), "given"
    elif CONLL2003_TESTA.is_file():
        source, kind = CONLL2003_TESTA, "conll2003 eng.testa"
    else:
        from core.demo import make_demo
        from core.formats import write_conll

        source, kind = workdir / "demo_ner_test.conll", f"demo-ner test split (seed {args.seed})"
        source.write_text(write_conll(make_demo("ner", seed=args.seed)["test"]), encoding="utf-8")
    text = source.read_text(encoding="utf-8")
    path, cut = source, False
    if args.max_words:
        text, cut = first_words(text, args.max_words)
        if cut:
            path = workdir / f"first_{args.max_words}_words.conll"
            path.write_text(text, encoding="utf-8")
    words = sum(len(s) for s in read_sentences(path))
    copies = max(1, -(-args.min_words // max(1, words)))
    if copies > 1:
        path = workdir / f"input_x{copies}.conll"
        path.write_text("\n".join([text.rstrip("\n") + "\n"] * copies), encoding="utf-8")
    return path, {"source": str(source), "kind": kind, "cut_at_max_words": cut,
                  "copies": copies, "path": str(path)}


def first_words(text: str, max_words: int) -> tuple[str, bool]:
    """The CoNLL text's leading whole sentences holding max_words words or just more
    (-DOCSTART- lines kept), and whether anything was cut."""
    from engine.predict_files import DOCSTART

    lines = text.splitlines(keepends=True)
    words = 0
    for k, line in enumerate(lines):
        fields = line.split()
        if fields and fields[0] != DOCSTART:
            words += 1
        elif not fields and words >= max_words:
            return "".join(lines[: k + 1]), k + 1 < len(lines)
    return text, False


# ---- the sides ----------------------------------------------------------------------------
def time_ours(predictor, path: Path, out: Path) -> float:
    from engine.predict_files import predict_file

    t0 = time.perf_counter()
    predict_file(predictor, path, out)
    return time.perf_counter() - t0


def time_pipeline(pipe, texts: list[str], batch_size: int | None) -> tuple[float, list]:
    kw = {} if batch_size is None else {"batch_size": batch_size}
    t0 = time.perf_counter()
    result = pipe(texts, **kw)
    return time.perf_counter() - t0, result


def pipeline_tags(tokenizer, sentences: list[list[str]], outputs: list[list[dict]]) -> list[list[str]]:
    """Per-word tags from the pipeline's per-sub-token entities (aggregation "none"): the
    entity of the word's first sub-token, "O" when the pipeline dropped that sub-token."""
    texts = [" ".join(s) for s in sentences]
    enc = tokenizer(texts, add_special_tokens=False, return_offsets_mapping=True,
                    return_attention_mask=False, return_token_type_ids=False)
    tags = []
    for words, offsets, ents in zip(sentences, enc["offset_mapping"], outputs):
        by_start = {int(e["start"]): e["entity"] for e in ents}
        first: list[int | None] = [None] * len(words)
        bounds, at = [], 0
        for w in words:
            bounds.append((at, at + len(w)))
            at += len(w) + 1
        k = 0
        for a, b in offsets:  # offsets ascend; find the word holding each sub-token
            if b <= a:
                continue
            while k < len(words) and a >= bounds[k][1]:
                k += 1
            if k < len(words) and a >= bounds[k][0] and first[k] is None:
                first[k] = a
        tags.append([by_start.get(s, "O") if s is not None else "O" for s in first])
    return tags


def breakdown(predictor, path: Path) -> dict:
    """Seconds of ours' stages over the file, chunk by chunk as predict_file labels it."""
    from core.records import TokenExample
    from engine.encoding import encode_ner
    from engine.predict import collator, decode, predict_logits
    from engine.predict_files import CHUNK, read_conll

    stride = predictor.stride if predictor.stride is not None else min(32, predictor.max_length // 4)
    collate = collator("ner", predictor.tokenizer.pad_token_id or 0, cap=predictor.max_length)
    spent = dict.fromkeys(("read", "encode", "model", "decode"), 0.0)
    t0 = time.perf_counter()
    with open(path, "rb") as f:
        records = list(read_conll(f, str(path)))
    spent["read"] = time.perf_counter() - t0
    for lo in range(0, len(records), CHUNK):
        sents = [r.tokens for r in records[lo:lo + CHUNK] if r.passthrough is None and r.tokens]
        t0 = time.perf_counter()
        windows = encode_ner(predictor.tokenizer, [TokenExample(tuple(w), ("O",) * len(w))
                                                   for w in sents], None,
                             max_length=predictor.max_length, stride=stride)
        t1 = time.perf_counter()
        logits = predict_logits(predictor.model, windows, collate, predictor.device, predictor.amp,
                                batch_size=predictor.batch_size)
        t2 = time.perf_counter()
        decode("ner", predictor.labels, windows, logits, [len(w) for w in sents])
        t3 = time.perf_counter()
        spent["encode"] += t1 - t0
        spent["model"] += t2 - t1
        spent["decode"] += t3 - t2
    return spent


def model_work(predictor, path: Path, lengths: list[int], pipe_max: int, pipe_batch: int) -> dict:
    """Sub-tokens each side feeds the model, padding included."""
    from core.records import TokenExample
    from engine.encoding import encode_ner
    from engine.predict_files import CHUNK, read_conll

    stride = predictor.stride if predictor.stride is not None else min(32, predictor.max_length // 4)
    with open(path, "rb") as f:
        records = list(read_conll(f, str(path)))
    ours = windows_n = 0
    for lo in range(0, len(records), CHUNK):
        sents = [r.tokens for r in records[lo:lo + CHUNK] if r.passthrough is None and r.tokens]
        windows = encode_ner(predictor.tokenizer, [TokenExample(tuple(w), ("O",) * len(w))
                                                   for w in sents], None,
                             max_length=predictor.max_length, stride=stride)
        sizes = sorted(len(w["input_ids"]) for w in windows)
        windows_n += len(sizes)
        for b in range(0, len(sizes), predictor.batch_size):
            batch = sizes[b:b + predictor.batch_size]
            ours += max(batch) * len(batch)
    fed = [min(n, pipe_max) for n in lengths]
    batched = sum(max(fed[b:b + pipe_batch]) * len(fed[b:b + pipe_batch])
                  for b in range(0, len(fed), pipe_batch))
    return {"real_subtokens": sum(lengths), "ours_windows": windows_n,
            "ours_fed_with_padding": ours, "pipeline_default_fed": sum(fed),
            "pipeline_batched_fed_with_padding": batched}


def subtoken_lengths(tokenizer, sentences: list[list[str]]) -> list[int]:
    """Sub-tokens per sentence, special tokens included (as a model input would hold)."""
    enc = tokenizer(sentences, is_split_into_words=True, return_attention_mask=False,
                    return_token_type_ids=False)
    return [len(ids) for ids in enc["input_ids"]]


def agreement(ours: list[list[str]], theirs: list[list[str]], fits: list[bool]) -> dict:
    same = total = same_fit = total_fit = 0
    examples = []
    for i, (a, b, ok) in enumerate(zip(ours, theirs, fits)):
        n = sum(x == y for x, y in zip(a, b))
        same, total = same + n, total + len(a)
        if ok:
            same_fit, total_fit = same_fit + n, total_fit + len(a)
        if n < len(a) and len(examples) < 5:
            k = next(j for j, (x, y) in enumerate(zip(a, b)) if x != y)
            examples.append({"sentence": i, "word": k, "fits_max_length": ok, "ours": a[k],
                             "pipeline": b[k]})
    return {"words": total, "identical": same, "share": same / total if total else None,
            "words_in_fitting_sentences": total_fit, "identical_in_fitting": same_fit,
            "share_in_fitting": same_fit / total_fit if total_fit else None,
            "first_differences": examples}


def open_onnx(run: Path, batch_size: int):
    """A Predictor on the run exported to ONNX int8 (exported once into run/export-int8)."""
    from engine.predict import open_model

    folder = run / "export-int8"
    try:
        if not (folder / "export.json").is_file():
            from engine.export import export_onnx

            print(f"exporting to ONNX int8 in {folder} ...", flush=True)
            export_onnx(run, folder, quantize="int8")
        t0 = time.perf_counter()
        predictor = open_model(folder, device="cpu", batch_size=batch_size)
        load = time.perf_counter() - t0
    except Exception as exc:  # noqa: BLE001 - the optional side: say why and go on
        print(f"ONNX side skipped: {type(exc).__name__}: {exc}", flush=True)
        return None, {"error": f"{type(exc).__name__}: {exc}"}
    return predictor, {"folder": str(folder), "load_s": load,
                       "precision": getattr(predictor.model, "precision", None)}


def machine(threads: int) -> dict:
    import tokenizers
    import torch
    import transformers

    return {"platform": platform.platform(), "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "cpus_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
            "python": platform.python_version(), "torch": torch.__version__,
            "transformers": transformers.__version__, "tokenizers": tokenizers.__version__,
            "threads": threads, "torch_threads": torch.get_num_threads(), "gpu": False}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", help="a finished run folder to reuse (skips training)")
    p.add_argument("--run-dir", default=str(Path(tempfile.gettempdir()) / "predict_speed_run"),
                   help="where to train the demo NER run when --model is not given (reused when "
                        "it already holds model/)")
    p.add_argument("--epochs", type=int, default=1, help="training epochs of the demo run")
    p.add_argument("--max-train-examples", type=int, help="train on the first N demo sentences")
    p.add_argument("--input", help="CoNLL file to label (default: eng.testa when present, "
                                   "else the demo NER test split)")
    p.add_argument("--max-words", type=int, default=20_000,
                   help="keep the file's first whole sentences up to this many words (0: all)")
    p.add_argument("--min-words", type=int, default=20_000,
                   help="repeat a shorter file until it holds this many words")
    p.add_argument("--warmup-sentences", type=int, default=256)
    p.add_argument("--onnx", action="store_true",
                   help="also time predict_file on the run exported to ONNX int8 (engine/export.py)")
    p.add_argument("--seed", type=int, default=0, help="seed of the demo data")
    p.add_argument("--threads", type=int, default=2, help="torch threads, every side")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=64, help="ours: model inputs per forward pass")
    p.add_argument("--pipeline-batch-size", type=int, default=64)
    p.add_argument("--no-cli", action="store_true", help="skip the CLI subprocess timing")
    p.add_argument("--out", default="bench/results/predict_speed_cpu.json")
    args = p.parse_args()

    import torch

    torch.set_num_threads(args.threads)
    load_start = list(os.getloadavg())
    run = ensure_run(args)
    workdir = Path(tempfile.mkdtemp(prefix="predict_speed_"))
    path, input_info = prepare_input(args, workdir)
    sentences = read_sentences(path)
    n_words = sum(len(s) for s in sentences)
    texts = [" ".join(s) for s in sentences]
    print(f"input: {input_info['kind']} ({path}), {len(sentences)} sentences, {n_words} words",
          flush=True)

    from transformers import pipeline
    from transformers.utils import logging as hf_logging

    from engine.predict import open_model

    hf_logging.set_verbosity_error()
    t0 = time.perf_counter()
    predictor = open_model(run, device="cpu", batch_size=args.batch_size)
    load_ours = time.perf_counter() - t0
    model_dir = str(run / "model")
    t0 = time.perf_counter()
    pipe = pipeline("token-classification", model=model_dir, tokenizer=model_dir, device=-1)
    load_pipe = time.perf_counter() - t0
    max_length = predictor.max_length
    lengths = subtoken_lengths(predictor.tokenizer, sentences)
    fits = [n <= max_length for n in lengths]
    pipe_max = pipe.tokenizer.model_max_length

    onnx, onnx_info = None, None
    if args.onnx:
        onnx, onnx_info = open_onnx(run, args.batch_size)

    sides: dict[str, list[float]] = {"ours": [], "pipeline_default": [], "pipeline_batched": []}
    if onnx is not None:
        sides["ours_onnx_int8"] = []
    out_ours, out_onnx = workdir / "ours.conll", workdir / "ours_onnx.conll"
    few, t0 = sentences[: args.warmup_sentences], time.perf_counter()
    print(f"warm-up on {len(few)} sentences ...", flush=True)
    predictor.predict_words(few)
    if onnx is not None:
        onnx.predict_words(few)
    pipe(texts[: len(few)])
    pipe(texts[: len(few)], batch_size=args.pipeline_batch_size)
    warm_s = time.perf_counter() - t0
    result_default = result_batched = None
    for r in range(args.repeats):
        sides["ours"].append(time_ours(predictor, path, out_ours))
        s, result_default = time_pipeline(pipe, texts, None)
        sides["pipeline_default"].append(s)
        s, result_batched = time_pipeline(pipe, texts, args.pipeline_batch_size)
        sides["pipeline_batched"].append(s)
        if onnx is not None:
            sides["ours_onnx_int8"].append(time_ours(onnx, path, out_onnx))
        print(f"round {r + 1}: " + "  ".join(f"{k} {v[-1]:.1f} s" for k, v in sides.items()),
              flush=True)
    print("where ours spends its time ...", flush=True)
    stages = breakdown(predictor, path)
    work = model_work(predictor, path, lengths, pipe_max, args.pipeline_batch_size)

    ours_tags = read_predicted(out_ours)
    assert [len(t) for t in ours_tags] == [len(s) for s in sentences], "output does not line up"
    agree_default = agreement(ours_tags, pipeline_tags(pipe.tokenizer, sentences, result_default), fits)
    agree_batched = agreement(ours_tags, pipeline_tags(pipe.tokenizer, sentences, result_batched), fits)
    agree_onnx = agreement(ours_tags, read_predicted(out_onnx), fits) if onnx is not None else None

    cli = None
    if not args.no_cli:
        cli_out = workdir / "cli.conll"
        cmd = [sys.executable, "-m", "engine", "predict", "--model", str(run), "--input", str(path),
               "--output", str(cli_out)]
        if args.batch_size != 64:
            cmd += ["--batch-size", str(args.batch_size)]
        env = {**os.environ, "OMP_NUM_THREADS": str(args.threads), "MKL_NUM_THREADS": str(args.threads)}
        t0 = time.perf_counter()
        done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        cli = {"command": " ".join(cmd), "wall_s": wall, "exit_status": done.returncode,
               "stdout": done.stdout.strip()[-500:],
               "tokens_per_s": n_words / wall if done.returncode == 0 else None,
               "output_identical_to_in_process": done.returncode == 0
               and cli_out.read_bytes() == out_ours.read_bytes()}

    med = {k: statistics.median(v) for k, v in sides.items()}
    tps = {k: n_words / v for k, v in med.items()}
    faster = max(("pipeline_default", "pipeline_batched"), key=lambda k: tps[k])
    speedup = tps["ours"] / tps[faster]
    stage_total = sum(stages.values())
    out = {
        "machine": machine(args.threads),
        "loadavg_at_start": load_start, "loadavg_at_end": list(os.getloadavg()),
        "settings": {"threads": args.threads, "repeats": args.repeats, "batch_size": args.batch_size,
                     "pipeline_batch_size": args.pipeline_batch_size,
                     "pipeline": {"task": "token-classification", "device": -1,
                                  "aggregation_strategy": "none", "ignore_labels": ["O"],
                                  "input": 'one string per sentence: " ".join(tokens)',
                                  "model_max_length": pipe_max},
                     "run": str(run), "run_max_length": max_length,
                     "run_window_stride": predictor.settings.get("window_stride"),
                     "args": vars(args)},
        "input": {**input_info, "sentences": len(sentences), "words": n_words,
                  "subtokens_with_specials": sum(lengths),
                  "sentences_over_max_length": sum(not f for f in fits),
                  "words_in_sentences_over_max_length": sum(len(s) for s, f in zip(sentences, fits)
                                                            if not f),
                  "sentences_over_pipeline_model_max_length": sum(n > pipe_max for n in lengths),
                  "longest_sentence_subtokens": max(lengths)},
        "load_s": {"ours": load_ours, "pipeline": load_pipe},
        "warmup_s": warm_s,
        "timings_s": sides,
        "median_s": med,
        "tokens_per_s": tps,
        "ours_stages_s": {**stages, "sum": stage_total, "model_share": stages["model"] / stage_total},
        "model_work_subtokens": work,
        "onnx": onnx_info,
        "faster_pipeline_setting": faster,
        "speedup_over_faster_pipeline": speedup,
        "agreement": {"pipeline_default": agree_default, "pipeline_batched": agree_batched,
                      **({"ours_onnx_int8_vs_ours": agree_onnx} if agree_onnx else {})},
        "cli": cli,
        "target": {"asked": f"ours >= {TARGET:g}x the faster pipeline setting, tokens/s on CPU",
                   "ratio": TARGET, "speedup": speedup, "met": speedup >= TARGET},
    }

    print(f"\n{'side':20s} {'median s':>9s} {'tokens/s':>10s}")
    for k in sides:
        print(f"{k:20s} {med[k]:9.2f} {tps[k]:10,.0f}")
    if cli:
        print(f"{'CLI (incl. load)':20s} {cli['wall_s']:9.2f} "
              f"{(cli['tokens_per_s'] or 0):10,.0f}  exit {cli['exit_status']}, "
              f"output identical: {cli['output_identical_to_in_process']}")
    print(f"load: ours {load_ours:.2f} s, pipeline {load_pipe:.2f} s")
    print("ours' stages (one pass): " + ", ".join(f"{k} {v:.2f} s" for k, v in stages.items())
          + f"; model {100 * stages['model'] / stage_total:.0f}%")
    print(f"sub-tokens fed to the model: real {work['real_subtokens']:,}, ours (padded) "
          f"{work['ours_fed_with_padding']:,}, pipeline batched (padded) "
          f"{work['pipeline_batched_fed_with_padding']:,}, pipeline default "
          f"{work['pipeline_default_fed']:,}")
    print(f"speedup of ours over {faster}: {speedup:.2f}x (target {TARGET:g}x: "
          f"{'met' if speedup >= TARGET else 'MISSED'})")
    for k, a in out["agreement"].items():
        if k == "ours_onnx_int8_vs_ours":
            print(f"ours ONNX int8 vs ours fp32: {100 * a['share']:.2f}% identical tags")
            continue
        print(f"identical tags vs {k}: {100 * a['share']:.2f}% of {a['words']} words; "
              f"{100 * a['share_in_fitting']:.2f}% in the sentences that fit max_length "
              f"({out['input']['sentences_over_max_length']} sentences over {max_length} sub-tokens)")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1, default=float))
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
