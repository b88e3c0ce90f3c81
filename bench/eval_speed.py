"""Entity-level evaluation speed: core.metrics.entity_report vs seqeval's classification_report.

    python bench/eval_speed.py [--conll FILE] [--tokens 1000000] [--seed 0]
                               [--out bench/results/eval_speed.json]

Builds ~`tokens` tokens of gold IOB2 tags (from a CoNLL file, its sentences repeated as
needed, or generated: sentences of ~14 tokens, ~15% entity tokens, 4 types) and a
prediction that is the gold with ~10% of tokens replaced by a random tag (so it also holds
invalid sequences such as orphan I- tags). Times both reports in-process, best of 3, checks
every number agrees to 1e-9, and writes the timings as JSON.
"""
from __future__ import annotations

import argparse
import json
import platform
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.metrics import entity_report  # noqa: E402

TYPES = ("PER", "ORG", "LOC", "MISC")
ALL_TAGS = ["O"] + [f"{p}-{t}" for t in TYPES for p in "BI"]


def generate_gold(n_tokens: int, rng: np.random.Generator) -> list[list[str]]:
    """IOB2 sentences of 4-24 tokens (mean 14), ~15% of tokens in entities of 1-3 tokens."""
    sentences: list[list[str]] = []
    total = 0
    while total < n_tokens:
        length = int(rng.integers(4, 25))
        opens = rng.random(length) < 0.095          # x mean entity size 1.75 -> ~15%
        sizes = rng.choice([1, 2, 3], p=[0.45, 0.35, 0.2], size=length)
        types = rng.integers(len(TYPES), size=length)
        tags: list[str] = []
        i = 0
        while i < length:
            if opens[i]:
                type_, size = TYPES[types[i]], min(int(sizes[i]), length - i)
                tags += [f"B-{type_}"] + [f"I-{type_}"] * (size - 1)
                i += size
            else:
                tags.append("O")
                i += 1
        sentences.append(tags)
        total += length
    return sentences


def read_conll_tags(path: Path) -> list[list[str]]:
    """Tag sequences of a CoNLL file (core.formats.read_conll, else a minimal reader)."""
    data = path.read_bytes()
    try:
        from core.formats import read_conll
        return [list(example.tags) for example in read_conll(data, source=str(path))]
    except ImportError:
        pass
    sentences, current = [], []
    for line in data.decode("utf-8").splitlines():
        fields = line.split()
        if not fields or fields[0] == "-DOCSTART-":
            if current:
                sentences.append(current)
            current = []
        else:
            current.append(fields[-1])
    if current:
        sentences.append(current)
    return sentences


def repeat_to(sentences: list[list[str]], n_tokens: int) -> list[list[str]]:
    """The sentences repeated (copies) until they hold at least n_tokens tokens."""
    out, total = [], 0
    while total < n_tokens:
        for tags in sentences:
            out.append(list(tags))
            total += len(tags)
            if total >= n_tokens:
                break
    return out


def corrupt(gold: list[list[str]], rate: float, rng: np.random.Generator) -> list[list[str]]:
    """A copy of the tags with `rate` of tokens replaced by a uniformly random tag."""
    tags = sorted({t for s in gold for t in s} | set(ALL_TAGS))
    pred = []
    for sentence in gold:
        hit = rng.random(len(sentence)) < rate
        choice = rng.integers(len(tags), size=len(sentence))
        pred.append([tags[c] if h else t for t, h, c in zip(sentence, hit, choice)])
    return pred


def best_of(fn, repeats: int = 3) -> tuple[float, object]:
    """Fastest wall time of `repeats` calls, and the last result."""
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def assert_identical(ours: dict, ref: dict, tol: float = 1e-9) -> None:
    """Every row and average of seqeval's dict equals ours."""
    types = [k for k in ref if not k.endswith(" avg")]
    assert list(ours["per_type"]) == types, (list(ours["per_type"]), types)
    pairs = [(ours["per_type"][t], ref[t]) for t in types]
    pairs += [(ours[a], ref[f"{a} avg"]) for a in ("micro", "macro", "weighted")]
    for row, want in pairs:
        assert abs(row["precision"] - want["precision"]) <= tol
        assert abs(row["recall"] - want["recall"]) <= tol
        assert abs(row["f1"] - want["f1-score"]) <= tol
        assert row["support"] == want["support"]


def machine() -> dict:
    """Where the figures were measured."""
    import os

    import seqeval
    return {"load_avg_1m": round(os.getloadavg()[0], 2), "platform": platform.platform(), "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "numpy": np.__version__,
            "seqeval": getattr(seqeval, "__version__", "1.2.2")}


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conll", type=Path, help="CoNLL file whose tags to use as gold")
    parser.add_argument("--tokens", type=int, default=1_000_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("bench/results/eval_speed.json"))
    args = parser.parse_args(argv)

    from seqeval.metrics import classification_report

    rng = np.random.default_rng(args.seed)
    if args.conll:
        gold = repeat_to(read_conll_tags(args.conll), args.tokens)
    else:
        gold = generate_gold(args.tokens, rng)
    pred = corrupt(gold, 0.10, rng)
    n_tokens = sum(map(len, gold))

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        seqeval_s, ref = best_of(
            lambda: classification_report(gold, pred, digits=4, output_dict=True))
    ours_s, ours = best_of(lambda: entity_report(gold, pred))
    assert_identical(ours, ref)

    result = {"tokens": n_tokens, "sentences": len(gold),
              "source": str(args.conll) if args.conll else "generated", "seed": args.seed,
              "seqeval_s": round(seqeval_s, 4), "ours_s": round(ours_s, 4),
              "speedup": round(seqeval_s / ours_s, 1), "identical": True,
              "micro_f1": ours["micro"]["f1"], "machine": machine()}
    print(f"{n_tokens} tokens, {len(gold)} sentences: seqeval {seqeval_s:.3f} s, "
          f"core.metrics {ours_s:.3f} s, {seqeval_s / ours_s:.1f}x faster, identical to 1e-9 "
          f"(micro F1 {ours['micro']['f1']:.4f})")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
