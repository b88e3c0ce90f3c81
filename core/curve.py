"""Learning curves by training-set size: nested seeded subsets, a saturating power-law fit with
its uncertainty, per-fraction summaries, and which types still rise. Pure (numpy, scipy).

The model of a curve is  score(n) = a - b * n**(-c)  with a <= 1 (the ceiling the scores
approach; they are shares in 0..1), b >= 0 (the curve rises) and c > 0 (how fast it saturates).

Uncertainty of a prediction (`Fit.predict`): one standard deviation of the score that *one
new run* with n training examples would get, if the scores follow this family of curves. It
adds in quadrature (1) the uncertainty of the fitted curve at n, from the least-squares
covariance of (a, b, c) by the delta method, and (2) the scatter of single runs around the
curve (the residual variance, which includes seed-to-seed noise). With no residual degrees
of freedom (three points for three parameters) neither can be estimated and the std is NaN.
It does not cover a curve that bends unlike a power law beyond the largest size measured.
"""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from core.errors import ConfigError
from core.records import TokenExample

MIN_SIZES = 3  # distinct training-set sizes a fit needs (three parameters)
A_BOUNDS = (0.0, 1.0)
C_BOUNDS = (1e-3, 10.0)
_C_GRID = np.geomspace(0.02, 5.0, 48)  # profile over c that seeds the local fits
_STARTS = 4  # local fits started from the best grid values of c
MIN_GAIN = 0.01  # still rising: at least one point (of a 0..1 score) gained per doubling
NOISE_Z = 2.0  # ... and the last gain at least this many standard errors of seed noise


# ---- nested subsets ---------------------------------------------------------------------

def _units(examples: Sequence) -> list[list[int]]:
    """Indices grouped into the units a subset takes whole: documents when the examples are
    sentences from more than one document, else single examples; in order of first
    appearance."""
    docs = [ex.doc for ex in examples if isinstance(ex, TokenExample)]
    if len(docs) == len(examples) and len(set(docs)) > 1:
        groups: dict[int, list[int]] = {}
        for i, ex in enumerate(examples):
            groups.setdefault(ex.doc, []).append(i)
        return list(groups.values())
    return [[i] for i in range(len(examples))]


def subset_target(n: int, fraction: float) -> int:
    """Examples a subset of `fraction` of `n` holds at least: ceil(fraction * n), at least 1
    (rounded first, so 0.1 * 30 is 3, not 4)."""
    return max(1, math.ceil(round(fraction * n, 9)))


def nested_subset(examples: Sequence, fraction: float, seed: int) -> list:
    """A seeded share of `examples`, in input order: whole units (documents, when there are
    several, else examples) in a seeded random order until at least ceil(fraction * n)
    examples are taken.

    Nested: for one seed the unit order is the same for every fraction, so each subset is a
    prefix of that order and subset(f1) is inside subset(f2) when f1 <= f2. Fraction 1 gives
    every example, unchanged.
    """
    examples = list(examples)
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) \
            or not 0.0 < fraction <= 1.0:
        raise ConfigError(f"train_fraction: must be a share in (0, 1], found {fraction!r}")
    if fraction >= 1.0 or not examples:
        return examples
    units = _units(examples)
    order = np.random.default_rng(seed).permutation(len(units))
    need, taken = subset_target(len(examples), fraction), []
    for u in order:
        taken += units[u]
        if len(taken) >= need:
            break
    return [examples[i] for i in sorted(taken)]


# ---- the power-law fit ------------------------------------------------------------------------

@dataclass(frozen=True)
class Fit:
    """A fitted curve score(n) = a - b * n**(-c) and what its uncertainty needs.

    Internally b is kept as beta = b * scale**(-c) (sizes divided by `scale`, the largest
    size), which keeps the fit well conditioned; `cov` is the covariance of (a, beta, c).
    """

    a: float
    beta: float
    c: float
    scale: float
    cov: np.ndarray  # (3, 3), of (a, beta, c); NaN without residual degrees of freedom
    residual_var: float  # of single points about the curve; NaN when it cannot be estimated
    sizes: tuple[float, ...]
    points: int

    @property
    def b(self) -> float:
        """b of score(n) = a - b * n**(-c), in the units of n."""
        return float(self.beta * self.scale ** self.c)

    def curve(self, n) -> np.ndarray:
        """Fitted scores at sizes `n` (array-like)."""
        x = np.asarray(n, dtype=float) / self.scale
        return self.a - self.beta * x ** (-self.c)

    def curve_std(self, n) -> np.ndarray:
        """Std of the fitted curve itself at `n` (delta method), without run scatter."""
        x = np.atleast_1d(np.asarray(n, dtype=float)) / self.scale
        u = x ** (-self.c)
        grad = np.stack([np.ones_like(x), -u, self.beta * u * np.log(x)], axis=1)  # (N, 3)
        var = np.einsum("ni,ij,nj->n", grad, self.cov, grad)
        out = np.sqrt(np.maximum(var, 0.0))
        return out if np.ndim(n) else out[0]

    def predict(self, n: float, *, scatter: bool = True) -> tuple[float, float]:
        """(mean, std) of the score at `n` training examples: the curve, and one standard
        deviation of a single new run's score there (curve uncertainty plus, with
        `scatter`, the residual scatter of runs; see the module docstring)."""
        mean = float(self.curve(n))
        var = float(self.curve_std(n)) ** 2 + (self.residual_var if scatter else 0.0)
        return mean, math.sqrt(var) if math.isfinite(var) else math.nan

    def as_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "c": self.c, "points": self.points,
                "residual_std": math.sqrt(self.residual_var)
                if math.isfinite(self.residual_var) else None}


def fit_note(sizes: Sequence[float], scores: Sequence[float]) -> str | None:
    """Why no curve can be fitted to these points, or None when one can."""
    sizes, scores = np.asarray(sizes, dtype=float), np.asarray(scores, dtype=float)
    if sizes.shape != scores.shape or sizes.ndim != 1:
        return "sizes and scores must be two lists of the same length"
    if not (np.all(np.isfinite(sizes)) and np.all(np.isfinite(scores))):
        return "a size or score is not a finite number"
    if np.any(sizes <= 0):
        return "every training-set size must be at least one example"
    distinct = len(np.unique(sizes))
    if distinct < MIN_SIZES:
        return (f"a curve needs runs at {MIN_SIZES} or more distinct training-set sizes; "
                f"{'only ' if distinct else ''}{distinct} so far")
    return None


def _ab_given_c(x: np.ndarray, y: np.ndarray, c: float) -> tuple[float, float, float]:
    """(a, beta, ssr): least squares of y = a - beta * x**(-c) for a fixed c, with
    A_BOUNDS on a and beta >= 0 (a two-variable box problem: the free optimum if feasible,
    else the best point on the edges)."""
    u = x ** (-c)
    lo, hi = A_BOUNDS

    def ssr(a: float, beta: float) -> float:
        r = y - (a - beta * u)
        return float(r @ r)

    candidates = []
    design = np.stack([np.ones_like(u), -u], axis=1)
    (a, beta), *_ = np.linalg.lstsq(design, y, rcond=None)
    if lo <= a <= hi and beta >= 0:
        candidates.append((float(a), float(beta)))
    for a in (lo, hi):  # a on a bound: beta from a one-variable fit, kept >= 0
        candidates.append((a, max(0.0, float(u @ (a - y)) / float(u @ u))))
    candidates.append((float(np.clip(y.mean(), lo, hi)), 0.0))  # flat curve
    a, beta = min(candidates, key=lambda p: ssr(*p))
    return a, beta, ssr(a, beta)


def _model(x: np.ndarray, a: float, beta: float, c: float) -> np.ndarray:
    return a - beta * x ** (-c)


def fit_power_law(sizes: Sequence[float], scores: Sequence[float]) -> Fit | None:
    """The least-squares curve score = a - b * n**(-c) (a <= 1, b >= 0, c > 0) through the
    points (one per run: its training-set size and score); None when `fit_note` says why
    not (fewer than three distinct sizes, bad numbers).

    Starts: a profile over a grid of c (a and b in closed form for each), then bounded
    scipy.optimize.curve_fit from the best few; the lowest sum of squares wins.
    """
    from scipy.optimize import curve_fit

    if fit_note(sizes, scores) is not None:
        return None
    n, y = np.asarray(sizes, dtype=float), np.asarray(scores, dtype=float)
    scale = float(n.max())
    x = n / scale
    profile = [(_ab_given_c(x, y, c), c) for c in _C_GRID]
    profile.sort(key=lambda item: item[0][2])
    (a0, beta0, best_ssr), c0 = profile[0]
    best_params = (a0, beta0, c0)
    lower, upper = (A_BOUNDS[0], 0.0, C_BOUNDS[0]), (A_BOUNDS[1], np.inf, C_BOUNDS[1])
    for (a, beta, _), c in profile[:_STARTS]:
        p0 = (min(max(a, 1e-9), 1 - 1e-9), max(beta, 1e-9), c)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                params, _ = curve_fit(_model, x, y, p0=p0, bounds=(lower, upper), method="trf",
                                      xtol=1e-12, ftol=1e-12, gtol=1e-12, max_nfev=4000)
        except (RuntimeError, ValueError):
            continue
        r = y - _model(x, *params)
        if float(r @ r) < best_ssr:
            best_params, best_ssr = tuple(float(p) for p in params), float(r @ r)
    a, beta, c = best_params
    dof = len(y) - 3
    residual_var = best_ssr / dof if dof > 0 else math.nan
    u = x ** (-c)
    jac = np.stack([np.ones_like(x), -u, beta * u * np.log(x)], axis=1)  # (m, 3) d model / d p
    cov = residual_var * np.linalg.pinv(jac.T @ jac) if dof > 0 else np.full((3, 3), np.nan)
    return Fit(a=a, beta=beta, c=c, scale=scale, cov=cov, residual_var=residual_var,
               sizes=tuple(sorted(set(n.tolist()))), points=len(y))


MISFIT = 0.02  # a fit missing the mean at the largest size by more than this (and 2 se) is poor


def misfit(fit: Fit, size: float, mean: float, std: float, n: int, *,
           tolerance: float = MISFIT) -> float | None:
    """How far the fitted curve misses the measured mean score at the largest size (fitted
    minus mean), when that is more than `tolerance` and more than two standard errors of the
    mean (std / sqrt(n)); else None. A power law cannot follow a curve that still
    accelerates (small shares trained too briefly, or the steep early part of the curve): its
    prediction beyond the data is then not to be trusted."""
    gap = float(fit.curve(size)) - mean
    limit = max(tolerance, 2.0 * (std or 0.0) / math.sqrt(max(n, 1)))
    return gap if abs(gap) > limit else None


# ---- summaries ------------------------------------------------------------------------------

def stats(values: Sequence[float]) -> dict:
    """{"mean", "std", "n"} of run scores: std with ddof=1 from two runs on, else 0."""
    v = np.asarray([x for x in values if x is not None], dtype=float)
    if not len(v):
        return {"mean": None, "std": None, "n": 0}
    return {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0,
            "n": int(len(v))}


def summarise(points: Sequence[Mapping]) -> list[dict]:
    """One row per fraction (ascending) from one point per run.

    A point: {"fraction", "train_examples" (None when unknown), "run" (id), "dev" (score),
    "test" (score or None), "per_type" {TYPE: score}}. A row: {"fraction",
    "train_examples" (mean over its runs, rounded), "runs" [ids], "dev" stats, "test" stats or
    None, "per_type" {TYPE: stats}} with stats as in `stats`.
    """
    by_fraction: dict[float, list[Mapping]] = {}
    for p in points:
        by_fraction.setdefault(float(p["fraction"]), []).append(p)
    rows = []
    for fraction in sorted(by_fraction):
        group = by_fraction[fraction]
        sizes = [p["train_examples"] for p in group if p.get("train_examples") is not None]
        tests = [p.get("test") for p in group if p.get("test") is not None]
        types = sorted({t for p in group for t in (p.get("per_type") or {})})
        rows.append({
            "fraction": fraction,
            "train_examples": int(round(float(np.mean(sizes)))) if sizes else None,
            "runs": [p.get("run") for p in group],
            "dev": stats([p["dev"] for p in group]),
            "test": stats(tests) if tests else None,
            "per_type": {t: stats([(p.get("per_type") or {}).get(t) for p in group])
                         for t in types},
        })
    return rows


def type_curves(rows: Sequence[Mapping]) -> dict[str, list[dict]]:
    """{TYPE: [{"size", "mean", "std", "n"}, ...] by size} from `summarise` rows (rows with
    an unknown size are left out)."""
    out: dict[str, list[dict]] = {}
    for row in rows:
        if row.get("train_examples") is None:
            continue
        for t, s in (row.get("per_type") or {}).items():
            if s.get("mean") is not None:
                out.setdefault(t, []).append({"size": row["train_examples"], **s})
    return {t: sorted(v, key=lambda p: p["size"]) for t, v in out.items()}


def last_gains(curves: Mapping[str, Sequence[Mapping]]) -> dict[str, dict]:
    """Per type, what its last segment (the two largest sizes) gained: {"gain" (mean score
    at the largest size minus at the one before), "per_doubling" (gain / log2 of the size
    ratio), "noise" (standard error of that gain from the seed spread:
    sqrt(std1**2/n1 + std2**2/n2)), "size"}; types with fewer than two sizes are left out."""
    out = {}
    for t, curve in curves.items():
        pts = sorted(curve, key=lambda p: p["size"])
        if len(pts) < 2 or pts[-1]["size"] <= pts[-2]["size"]:
            continue
        prev, last = pts[-2], pts[-1]
        gain = last["mean"] - prev["mean"]
        noise = math.sqrt(sum((p["std"] or 0.0) ** 2 / max(p["n"], 1) for p in (prev, last)))
        out[t] = {"gain": gain, "per_doubling": gain / math.log2(last["size"] / prev["size"]),
                  "noise": noise, "size": last["size"]}
    return out


def still_rising(curves: Mapping[str, Sequence[Mapping]], *, min_gain: float = MIN_GAIN,
                 z: float = NOISE_Z) -> list[str]:
    """The types whose curve still rises at the largest size, steepest first.

    Rule: over the last segment (the two largest sizes), the type's mean score gained at
    least `min_gain` per doubling of the data, and the gain is more than `z` standard errors
    of the seed noise (`last_gains`). With one seed per size the noise is unknown (0) and
    only the first condition applies.

    curves: {TYPE: [{"size", "mean", "std", "n"}, ...]} as `type_curves` gives.
    """
    gains = last_gains(curves)
    rising = [t for t, g in gains.items()
              if g["per_doubling"] >= min_gain and g["gain"] > z * g["noise"]]
    return sorted(rising, key=lambda t: -gains[t]["per_doubling"])
