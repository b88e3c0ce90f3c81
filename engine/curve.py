"""Learning curves: one base config trained on nested shares of its training data, a few seeds
each. The one module that knows the curve tags of runs.

Every point is an ordinary queued run (its own run folder, listed on the Runs page, resumable)
with train_fraction = f and seed = base seed + i, tagged {"curve": id, "fraction": f,
"seed": s} in its status.json. Nothing else is stored: a curve is the set of runs with its tag,
and `curve_result` reads their reports (core/report), their training-set sizes (the "start"
event of metrics.jsonl) and fits the curve (core/curve).
"""
from __future__ import annotations

import math
import secrets
from collections import Counter
from typing import Any, Sequence

from core import curve as curve_math
from core.errors import ConfigError, WorkbenchError
from engine.runfolder import RunFolder
from engine.store import Store, is_final, sanitise

TAG = "curve"
MAX_SEEDS = 20
MAX_FRACTIONS = 20
LINE_POINTS = 48  # samples of the fitted curve drawn from the smallest size to 2x the data


# ---- what a curve is made of ---------------------------------------------------------------

def check_fractions(values: Sequence[Any], *, key: str = "fractions") -> list[float]:
    """The shares sorted and without repeats; ConfigError naming `key` unless each is a
    number in (0, 1] and there are 1 to MAX_FRACTIONS of them."""
    out = set()
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or not 0.0 < v <= 1.0:
            raise ConfigError(f"{key}: each share of the training data must be in (0, 1], "
                              f"found {v!r}")
        out.add(float(v))
    if not out:
        raise ConfigError(f"{key}: give at least one share of the training data, "
                          "e.g. 0.1,0.25,0.5,1.0")
    if len(out) > MAX_FRACTIONS:
        raise ConfigError(f"{key}: at most {MAX_FRACTIONS} shares, found {len(out)}")
    return sorted(out)


def parse_fractions(text: str, *, key: str = "--fractions") -> list[float]:
    """Shares from '0.1,0.25,0.5,1.0' (commas or spaces); ConfigError naming `key`."""
    parts = [p for p in str(text).replace(",", " ").split() if p]
    values = []
    for p in parts:
        try:
            values.append(float(p))
        except ValueError:
            raise ConfigError(f"{key}: {p!r} is not a number; give shares in (0, 1] "
                              "separated by commas, e.g. 0.1,0.25,0.5,1.0") from None
    return check_fractions(values, key=key)


def check_seeds(seeds: Any, *, key: str = "seeds") -> int:
    if isinstance(seeds, bool) or not isinstance(seeds, int) or not 1 <= seeds <= MAX_SEEDS:
        raise ConfigError(f"{key}: runs per share must be a whole number from 1 to "
                          f"{MAX_SEEDS}, found {seeds!r}")
    return seeds


def share_label(fraction: float) -> str:
    """'25 %', '12.5 %', '100 %'."""
    return f"{100 * fraction:g} %"


def submit_curve(store: Store, cfg_dict: dict, fractions: Sequence[float], seeds: int, *,
                 created_by: str | None = None) -> str:
    """Queue the runs of a new curve: per seed i (0..seeds-1) and share f, the base config
    with train_fraction = f, seed = base seed + i, repeats = 1; returns the curve id.

    Every config is checked (values, registry names, data references) before any run is
    queued, so a bad base config queues nothing. Runs are queued seed by seed, so the first
    full curve is there early.
    """
    from core.config import config_from_dict, config_to_dict, validate, validate_names
    from engine.data import check_references

    fractions = check_fractions(fractions)
    seeds = check_seeds(seeds)
    base = config_from_dict(dict(cfg_dict))
    validate(base)
    validate_names(base)
    check_references(base, store)  # relative file paths become absolute here
    name = base.name or base.task
    planned = []
    for i in range(seeds):
        for f in fractions:
            cfg = config_from_dict({**config_to_dict(base), "train_fraction": f,
                                    "seed": base.seed + i, "repeats": 1,
                                    "name": f"{name} · {share_label(f)} · seed {base.seed + i}"})
            validate(cfg)
            planned.append((config_to_dict(cfg), f, base.seed + i))
    taken = {r["status"]["tags"][TAG] for r in store.tagged(TAG)}
    stem = sanitise(name, "curve")[:24].rstrip(".-_") or "curve"
    curve_id = next(cid for cid in (f"{stem}-{secrets.token_hex(2)}" for _ in iter(int, 1))
                    if cid not in taken)
    by = {"created_by": created_by} if created_by else {}
    for cfg, f, seed in planned:
        store.create_run(cfg, tags={TAG: curve_id, "fraction": f, "seed": seed}, **by)
    return curve_id


def curve_runs(store: Store, curve_id: str) -> list[dict]:
    """The runs of a curve, oldest first (store.tagged rows: id, dir, state, status...)."""
    return store.tagged(TAG, curve_id)


def list_curves(store: Store) -> list[dict]:
    """Every curve of the workspace, newest first: {"curve_id", "task", "name", "fractions",
    "seeds", "runs", "completed", "pending", "created_at"}."""
    groups: dict[str, list[dict]] = {}
    for run in store.tagged(TAG):
        groups.setdefault(run["status"]["tags"][TAG], []).append(run)
    out = []
    for curve_id, runs in groups.items():
        tags = [r["status"]["tags"] for r in runs]
        done = sum(r["state"] == "completed" for r in runs)
        out.append({"curve_id": curve_id, "task": runs[0].get("task"),
                    "name": _base_name(runs[0].get("name") or ""),
                    "fractions": sorted({float(t.get("fraction", 1.0)) for t in tags}),
                    "seeds": len({t.get("seed") for t in tags}), "runs": len(runs),
                    "completed": done, "pending": len(runs) - done,
                    "created_at": min(r["status"].get("created_at", 0.0) for r in runs)})
    return sorted(out, key=lambda c: c["created_at"], reverse=True)


def _base_name(run_name: str) -> str:
    """The base config's name from a point's name '<name> · 25 % · seed 3'."""
    return run_name.rsplit(" · ", 2)[0] if run_name.count(" · ") >= 2 else run_name


def curve_finished(store: Store, curve_id: str) -> bool:
    """True when no run of the curve is queued or running any more (interrupted counts as
    ended: it waits for a resume)."""
    return all(is_final(r["state"]) or r["state"] == "interrupted"
               for r in curve_runs(store, curve_id))


# ---- reading a curve -------------------------------------------------------------------------

def train_examples(run_dir) -> int | None:
    """Training examples the run trained on: its last "start" event's train_examples."""
    starts = [e for e in RunFolder(run_dir).read_metrics() if e.get("event") == "start"]
    value = starts[-1].get("train_examples") if starts else None
    return int(value) if isinstance(value, (int, float)) else None


def run_point(run: dict, task: str, metric: str) -> dict | None:
    """One completed run as a point of core.curve.summarise, None when its report lacks dev
    scores."""
    from core.report import metric_value, scores_of

    report = RunFolder(run["dir"]).read_report()
    if not isinstance(report, dict) or not isinstance(report.get("dev"), dict):
        return None
    tags = run["status"]["tags"]
    test = report.get("test")
    per_type = scores_of(report["dev"]).get("per_type") or {}
    return {"run": run["id"], "fraction": float(tags.get("fraction", 1.0)),
            "seed": tags.get("seed"), "train_examples": train_examples(run["dir"]),
            "dev": metric_value(task, metric, report["dev"]),
            "test": metric_value(task, metric, test) if isinstance(test, dict) else None,
            "per_type": {t: float(row["f1"]) for t, row in per_type.items()
                         if isinstance(row, dict) and row.get("f1") is not None}}


def curve_result(store: Store, curve_id: str) -> dict:
    """What a curve shows, JSON-able:

    {"curve_id", "task", "metric", "fractions", "seeds",
     "points": [{"fraction", "train_examples", "runs" [ids], "dev" {"mean","std","n"},
                 "test" {...} | None, "per_type" {TYPE: {"mean","std","n"}}}]  (completed runs),
     "fit": {"a", "b", "c", "points", "residual_std", "predict_2x" {"mean", "std",
             "train_examples"}, "line" [{"train_examples", "mean", "std"}]} | None,
     "fit_note": why there is no fit (None with one),
     "fit_warning": why the fit is not to be trusted (core.curve.misfit), or None,
     "still_rising": [TYPE], "gains": {TYPE: {"gain", "per_doubling", "noise", "size"}},
     "runs": [{"id", "fraction", "seed", "state", "train_examples", "dev"}],
     "states": {state: count}, "pending": runs not completed (yet)}

    The fit goes through one point per completed run (training examples, dev metric); its
    std is that of one new run's score (core.curve.Fit.predict). "2x the data" is twice the
    full training set: the train examples at the largest share divided by that share.
    """
    from core.config import did_you_mean

    runs = curve_runs(store, curve_id)
    if not runs:
        known = [c["curve_id"] for c in list_curves(store)]
        raise WorkbenchError(f"no curve {curve_id!r} in {store.root}"
                             + did_you_mean(curve_id, known))
    base = store.config(runs[0]["id"])
    task, metric = base.get("task", "ner"), base.get("metric", "f1_micro")
    points, listed = [], []
    for run in runs:
        point = run_point(run, task, metric) if run["state"] == "completed" else None
        if point is not None:
            points.append(point)
        tags = run["status"]["tags"]
        listed.append({"id": run["id"], "fraction": tags.get("fraction"),
                       "seed": tags.get("seed"), "state": run["state"],
                       "train_examples": point["train_examples"] if point else None,
                       "dev": point["dev"] if point else None})
    rows = curve_math.summarise(points)
    sized = [p for p in points if p["train_examples"] is not None]
    sizes, scores = [p["train_examples"] for p in sized], [p["dev"] for p in sized]
    fit = curve_math.fit_power_law(sizes, scores)
    curves = curve_math.type_curves(rows)
    states = Counter(r["state"] for r in runs)
    tags = [r["status"]["tags"] for r in runs]
    return _clean({
        "curve_id": curve_id, "task": task, "metric": metric,
        "fractions": sorted({float(t.get("fraction", 1.0)) for t in tags}),
        "seeds": len({t.get("seed") for t in tags}),
        "points": rows,
        "fit": _fit_dict(fit, rows) if fit else None,
        "fit_note": None if fit else (curve_math.fit_note(sizes, scores)
                                      or "the optimiser found no curve"),
        "fit_warning": _fit_warning(fit, rows) if fit else None,
        "still_rising": curve_math.still_rising(curves),
        "gains": curve_math.last_gains(curves),
        "runs": listed, "states": dict(states),
        "pending": len(runs) - states.get("completed", 0),
    })


def _fit_warning(fit: curve_math.Fit, rows: Sequence[dict]) -> str | None:
    """Why the fit's prediction is not to be trusted (core.curve.misfit at the largest
    size), or None."""
    sized = [r for r in rows if r.get("train_examples")]
    if not sized:
        return None
    top = max(sized, key=lambda r: r["train_examples"])
    gap = curve_math.misfit(fit, top["train_examples"], top["dev"]["mean"], top["dev"]["std"],
                            top["dev"]["n"])
    if gap is None:
        return None
    return (f"the power law misses the largest share by {100 * abs(gap):.1f} points "
            f"({'above' if gap > 0 else 'below'} its mean): the scores do not saturate like a "
            "power law yet (small shares trained too briefly, or the steep early part of the "
            "curve), so the prediction at 2× the data is not to be trusted; train every share "
            "for the same number of steps (max_steps) or add larger shares")


def full_size(rows: Sequence[dict]) -> int | None:
    """Training examples of the whole training set, from the largest share measured."""
    sized = [r for r in rows if r.get("train_examples")]
    if not sized:
        return None
    top = max(sized, key=lambda r: r["fraction"])
    return max(1, int(round(top["train_examples"] / top["fraction"])))


def _fit_dict(fit: curve_math.Fit, rows: Sequence[dict]) -> dict:
    import numpy as np

    target = 2 * (full_size(rows) or int(max(fit.sizes)))
    mean, std = fit.predict(target)
    xs = np.geomspace(min(fit.sizes), target, LINE_POINTS)
    line = [{"train_examples": float(x), "mean": float(m), "std": float(s)}
            for x, m, s in zip(xs, fit.curve(xs), fit.curve_std(xs))]
    return {**fit.as_dict(),
            "predict_2x": {"mean": mean, "std": std, "train_examples": target},
            "line": line}


def _clean(obj: Any) -> Any:
    """NaN and infinities as None, so the result is strict JSON."""
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    return obj


# ---- words ---------------------------------------------------------------------------------

def fit_sentence(result: dict) -> str:
    """'predicted dev f1_micro at 2× the data (N examples): 0.87 ± 0.02', or why not."""
    fit = result.get("fit")
    if not fit:
        return f"no fit of the curve: {result.get('fit_note')}"
    p = fit["predict_2x"]
    std = "± ?" if p["std"] is None else f"± {p['std']:.2f}"
    text = (f"predicted dev {result['metric']} at 2× the data ({p['train_examples']} examples): "
            f"{p['mean']:.2f} {std}")
    return text + (f" — but {result['fit_warning']}" if result.get("fit_warning") else "")


def rising_sentence(result: dict) -> str:
    """Which types still rise at the largest share, in words."""
    one, many = ("entity type", "entity types") if result.get("task") == "ner" \
        else ("class", "classes")
    rising, gains = result.get("still_rising") or [], result.get("gains") or {}
    if not gains:
        return f"Which {many} still rise shows once two shares have finished runs."
    if not rising:
        return (f"No {one} still rises clearly at the largest share (beyond the seed noise): "
                "more labels of the same kind pay little.")
    parts = [f"{t} (+{100 * gains[t]['per_doubling']:.1f} points per doubling)" for t in rising]
    return f"Still rising, where more labels pay: {', '.join(parts)}."
