"""Compare two finished runs on the same split: per score (micro F1 and each entity type for
NER; accuracy, macro F1 and each class for text), B minus A with a 95 % paired-bootstrap
interval and two p-values (core/significance.py). Reads only the runs' predictions."""
from __future__ import annotations

from pathlib import Path

from core.errors import ConfigError, DataError
from core.significance import (class_counts, compare, label_f1, macro_f1, micro_f1, ner_counts)
from core.spans import to_spans
from engine.runfolder import RunFolder

ALPHA = 0.05


def resolve_run(ref: str, runs_dir: Path) -> Path:
    """A run folder from a path or a run id of the workspace's store."""
    for candidate in (Path(ref).expanduser(), Path(runs_dir) / ref):
        if RunFolder(candidate).config_path.is_file():
            return candidate
    raise ConfigError(f"no run {ref!r}: give a run id of this workspace or a run folder")


def _rows(run_dir: Path, split: str) -> list[dict]:
    folder = RunFolder(run_dir)
    if not folder.predictions_path.is_file():
        raise DataError(f"the run has no {RunFolder.PREDICTIONS} (it has not completed)",
                        source=str(folder.predictions_path))
    rows = sorted(folder.read_predictions(split), key=lambda r: r.get("index", 0))
    if not rows:
        raise DataError(f"the run has no {split} predictions", source=str(folder.predictions_path))
    return rows


def _inputs(row: dict):
    return tuple(row["tokens"]) if "tokens" in row else row.get("text")


def _check_same_examples(a: list[dict], b: list[dict], split: str, source: str) -> None:
    if len(a) != len(b):
        raise DataError(f"the two runs' {split} splits differ: {len(a)} vs {len(b)} examples; "
                        "compare runs scored on the same data", source=source)
    for i, (x, y) in enumerate(zip(a, b)):
        if _inputs(x) != _inputs(y) or x["gold"] != y["gold"]:
            raise DataError(f"the two runs' {split} splits differ at example {i + 1} (other "
                            "words or gold labels); compare runs scored on the same data",
                            source=source)


def compare_runs(dir_a: Path, dir_b: Path, *, split: str = "test", resamples: int = 10_000,
                 seed: int = 0) -> dict:
    """{"split", "examples", "task", "scores": [{"score", "a", "b", "delta", "low", "high",
    "p_bootstrap", "p_randomisation"}]} for run B against run A."""
    a, b = _rows(dir_a, split), _rows(dir_b, split)
    _check_same_examples(a, b, split, str(RunFolder(dir_b).predictions_path))
    gold = [r["gold"] for r in a]
    ner = "tokens" in a[0]
    if ner:
        labels = sorted({t for r in a + b for key in ("gold", "pred") for t, _, _ in to_spans(r[key])})
        counts = [ner_counts(gold, [r["pred"] for r in rows], labels) for rows in (a, b)]
        scores = [("micro F1", micro_f1)]
    else:
        labels = sorted({c for r in a + b for key in ("gold", "pred")
                         for c in (r[key] if isinstance(r[key], list) else [r[key]])})
        counts = [class_counts(gold, [r["pred"] for r in rows], labels) for rows in (a, b)]
        scores = [("accuracy" if not isinstance(gold[0], list) else "micro F1", micro_f1),
                  ("macro F1", macro_f1)]
    scores += [(label, label_f1(k)) for k, label in enumerate(labels)]
    out = []
    for name, score in scores:
        res = compare(counts[0], counts[1], score, resamples=resamples, seed=seed)
        out.append({"score": name, "a": score(counts[0].sum(0)), "b": score(counts[1].sum(0)),
                    "delta": res.delta, "low": res.low, "high": res.high,
                    "p_bootstrap": res.p_bootstrap, "p_randomisation": res.p_randomisation})
    return {"split": split, "examples": len(a), "task": "ner" if ner else "text", "scores": out}


def verdict(row: dict) -> str:
    """One sentence on one score, e.g. 'B beats A on ORG by 1.2 F1 (95 % CI 0.5 to 1.9, p = 0.003)'."""
    pts = lambda x: f"{100 * x:.1f}"  # noqa: E731
    interval = f"95 % CI {pts(row['low'])} to {pts(row['high'])}"
    p = max(row["p_bootstrap"], row["p_randomisation"])
    if p >= ALPHA or row["delta"] == 0:
        return f"the {row['score']} difference ({pts(row['delta'])}, {interval}) is within noise"
    if row["delta"] < 0:  # say A's lead, and its interval, as positive numbers
        interval = f"95 % CI {pts(-row['high'])} to {pts(-row['low'])}"
    who = "B beats A" if row["delta"] > 0 else "A beats B"
    return f"{who} on {row['score']} by {pts(abs(row['delta']))} points ({interval}, p = {p:.3g})"


# ---- seed groups ------------------------------------------------------------------------
def compare_groups(store, group_a: str, group_b: str, *, split: str = "test") -> dict:
    """Welch's t over the seed scores of two groups (engine/groups.py) on `split`:
    {"split", "task", "a", "b", "n_a", "n_b", "scores": [{"score", "mean_a", "mean_b", "std_a",
    "std_b", "delta", "t", "df", "p", "n_a", "n_b"}]} with micro F1, macro F1 and each entity
    type (NER) or accuracy, macro F1 and each class (text). t and df are None where both
    groups have no spread (p is then 1 for equal means, else 0)."""
    import statistics

    from core.significance import welch
    from engine.groups import group_values

    parts = []
    for gid in (group_a, group_b):
        values = group_values(store, gid)
        part = values["splits"].get(split)
        if part is None or len(values["runs"]) < 2:
            raise DataError(f"group {gid} has {len(values['runs'])} completed run(s) with {split} "
                            "scores; Welch's t needs at least two per group", source=gid)
        parts.append((values, part))
    (va, a), (vb, b) = parts
    if va["task"] != vb["task"]:
        raise DataError(f"group {group_a} is {va['task']} and group {group_b} is {vb['task']}; "
                        "compare groups of the same task", source=group_b)
    ner = va["task"] == "ner"
    first = ("f1_micro", "micro F1") if ner else ("accuracy", "accuracy")
    names = [(("metrics", first[0]), first[1]), (("metrics", "f1_macro"), "macro F1")]
    labels = sorted(set(a["per_type"]) | set(b["per_type"]))
    names += [(("per_type", label), label) for label in labels]
    rows = []
    for (kind, key), name in names:
        xs = [v for _, v in a[kind].get(key, [])]
        ys = [v for _, v in b[kind].get(key, [])]
        if len(xs) < 2 or len(ys) < 2:
            continue  # a type only some seeds scored
        delta, t, p = welch(xs, ys)
        df = _welch_df(xs, ys)
        finite = df is not None
        rows.append({"score": name, "mean_a": statistics.fmean(xs), "mean_b": statistics.fmean(ys),
                     "std_a": statistics.stdev(xs), "std_b": statistics.stdev(ys),
                     "delta": delta, "t": t if finite else None, "df": df, "p": p,
                     "n_a": len(xs), "n_b": len(ys)})
    return {"split": split, "task": "ner" if ner else "text", "a": group_a, "b": group_b,
            "n_a": len(va["runs"]), "n_b": len(vb["runs"]), "scores": rows}


def _welch_df(a: list[float], b: list[float]) -> float | None:
    """Welch-Satterthwaite degrees of freedom; None when neither group varies."""
    import statistics

    va, vb = statistics.variance(a) / len(a), statistics.variance(b) / len(b)
    if va + vb == 0:
        return None
    return (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1))


def welch_verdict(row: dict) -> str:
    """One sentence on one score of two groups, e.g. 'over 3 seeds each, B beats A on micro F1
    by 1.2 points (Welch t = 3.1, df = 3.9, p = 0.04)'."""
    pts = lambda x: f"{100 * x:.1f}"  # noqa: E731
    seeds = (f"over {row['n_a']} seeds each" if row["n_a"] == row["n_b"]
             else f"over {row['n_a']} and {row['n_b']} seeds")
    sign = -1 if row["delta"] < 0 and row["p"] < ALPHA else 1  # A's lead as positive numbers
    stats = ("no spread within either group" if row["t"] is None
             else f"Welch t = {sign * row['t']:.2f}, df = {row['df']:.1f}")
    if row["p"] >= ALPHA or row["delta"] == 0:
        return f"{seeds}, the {row['score']} difference ({pts(row['delta'])} points, {stats}, " \
               f"p = {row['p']:.2g}) is within noise"
    who = "B beats A" if row["delta"] > 0 else "A beats B"
    return f"{seeds}, {who} on {row['score']} by {pts(abs(row['delta']))} points ({stats}, " \
           f"p = {row['p']:.2g})"
