"""Training losses and class-weighting rules, each registered under a versioned name.

Every loss has the signature
`fn(logits, targets, *, weight=None, ignore_index=-100, label_smoothing=0.0, **params)`
and returns a scalar float32 tensor. Logits are (N, C) or (B, T, C) in any float dtype; they
are upcast to float32 so that bf16/fp16 logits of +-1e4 still give finite losses and
gradients. Positions whose target is `ignore_index` (padding, sub-word continuations) are
left out of both the value and the gradient; a batch with nothing left gives 0.0 with a zero
gradient, never NaN.

`make_loss("focal.v1", gamma=2.0)` resolves a name from a run config and binds its
parameters; `class_weights("inverse_frequency.v1", counts)` turns label counts into the
`weight` tensor.
"""
from __future__ import annotations

import functools
import math
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from core.errors import ConfigError
from core.registry import Registry

LOSSES = Registry("loss")
CLASS_WEIGHTS = Registry("class weighting")

Loss = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
ClassVector = torch.Tensor | Sequence[float] | np.ndarray


# --- parameter checks ------------------------------------------------------------------


def _check_number(owner: str, name: str, value: object, low: float,
                  high: float = math.inf) -> float:
    """A finite number in [low, high], or ConfigError naming the parameter."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{owner}: {name} must be a number, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and low <= value <= high):
        bounds = f">= {low}" if high == math.inf else f"in [{low}, {high}]"
        raise ConfigError(f"{owner}: {name} must be {bounds}, got {value}")
    return value


def _check_ignore_index(owner: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{owner}: ignore_index must be an integer, got {value!r}")
    return int(value)


def _class_vector(owner: str, name: str, value: ClassVector | None, classes: int,
                  like: torch.Tensor) -> torch.Tensor | None:
    """A per-class float32 vector (C,) on the logits' device, checked for length and sign."""
    if value is None:
        return None
    if isinstance(value, (int, float)):
        raise ConfigError(f"{owner}: {name} must be one number per class, got the scalar {value}")
    vector = torch.as_tensor(value, dtype=torch.float32, device=like.device).detach()
    if vector.shape != (classes,):
        raise ConfigError(f"{owner}: {name} must have one entry per class ({classes}), "
                          f"got shape {tuple(vector.shape)}")
    if vector.is_cuda and torch.cuda.is_current_stream_capturing():
        return vector  # checked on the eager warm-up call; a check here would sync the host
    if not bool(torch.isfinite(vector).all()) or bool((vector < 0).any()):
        raise ConfigError(f"{owner}: {name} must be finite and >= 0")
    return vector


def _bind(registry: Registry, name: str, params: dict) -> Callable:
    """The function registered under `name`, with unknown keyword names rejected by name."""
    return registry.bind(name, params)


# --- shared reduction ------------------------------------------------------------------


def _flatten(owner: str, logits: torch.Tensor, targets: torch.Tensor
             ) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, C) float32 logits and (N,) int64 targets from (N, C)/(B, T, C) and (N,)/(B, T)."""
    if logits.dim() not in (2, 3) or targets.shape != logits.shape[:-1]:
        raise ValueError(f"{owner}: logits (N, C) or (B, T, C) need targets (N,) or (B, T); "
                         f"got logits {tuple(logits.shape)} and targets {tuple(targets.shape)}")
    if targets.dtype.is_floating_point:
        raise ValueError(f"{owner}: targets must be class indices (int), got {targets.dtype}")
    classes = logits.shape[-1]
    return logits.reshape(-1, classes).float(), targets.reshape(-1).long()


def _class_nll(logits: torch.Tensor, targets: torch.Tensor, *, weight: torch.Tensor | None,
               scale: torch.Tensor | None, ignore_index: int, label_smoothing: float,
               gamma: float) -> torch.Tensor:
    """Weighted-mean (focal) cross-entropy of (N, C) float32 logits and (N,) targets.

    Per position i with target y: `(1-eps) * l_iy + eps/C * sum_c l_ic` where
    `l_ic = -w_c * a_c * (1-p_ic)^gamma * log p_ic`, divided by `sum_i w_y` over kept
    positions. This is torch's cross_entropy formula when gamma == 0 and `scale` (a) is None.
    """
    keep = targets != ignore_index                                    # (N,)
    safe = torch.where(keep, targets, torch.zeros_like(targets))      # gather needs a class
    logp = F.log_softmax(logits, dim=-1)                              # (N, C)
    terms = -logp
    if gamma != 0.0:
        # 1 - p as -expm1(log p) keeps precision when p is close to 1; the clamp keeps the
        # gradient of (1-p)^gamma finite for gamma < 1 where p rounds to exactly 1.
        one_minus_p = (-torch.expm1(logp)).clamp_min(torch.finfo(torch.float32).tiny)
        terms = terms * one_minus_p.pow(gamma)
    factor = weight if scale is None else (scale if weight is None else weight * scale)
    if factor is not None:
        terms = terms * factor                                        # (N, C) * (C,)
    per_position = terms.gather(1, safe[:, None]).squeeze(1)          # (N,)
    if label_smoothing > 0.0:
        smooth = terms.sum(dim=1) / logits.shape[1]                   # (N,)
        per_position = (1.0 - label_smoothing) * per_position + label_smoothing * smooth
    # where, not multiply: ignored rows then pass exactly zero gradient back.
    per_position = torch.where(keep, per_position, torch.zeros_like(per_position))
    counted = keep.float() if weight is None else torch.where(
        keep, weight[safe], torch.zeros_like(per_position))
    total = counted.sum()
    # An all-ignored batch (or one whose classes all weigh 0) gives 0 / 1 = 0, not 0 / 0.
    return per_position.sum() / torch.where(total > 0, total, torch.ones_like(total))


# --- losses ----------------------------------------------------------------------------


@LOSSES.register("cross_entropy.v1")
def cross_entropy(logits: torch.Tensor, targets: torch.Tensor, *,
                  weight: ClassVector | None = None, ignore_index: int = -100,
                  label_smoothing: float = 0.0) -> torch.Tensor:
    """Token or sequence cross-entropy; equals torch's F.cross_entropy except on empty batches."""
    owner = "loss 'cross_entropy.v1'"
    label_smoothing = _check_number(owner, "label_smoothing", label_smoothing, 0.0, 1.0)
    ignore_index = _check_ignore_index(owner, ignore_index)
    flat, flat_targets = _flatten(owner, logits, targets)
    weight = _class_vector(owner, "weight", weight, flat.shape[1], flat)
    return _class_nll(flat, flat_targets, weight=weight, scale=None, ignore_index=ignore_index,
                      label_smoothing=label_smoothing, gamma=0.0)


@LOSSES.register("focal.v1")
def focal(logits: torch.Tensor, targets: torch.Tensor, *, weight: ClassVector | None = None,
          ignore_index: int = -100, label_smoothing: float = 0.0, gamma: float = 2.0,
          alpha: ClassVector | None = None) -> torch.Tensor:
    """Focal loss (Lin et al. 2017): cross-entropy times (1 - p)^gamma, per class alpha.

    `alpha` scales each class's term but, unlike `weight`, not the normaliser (the paper
    averages over positions). gamma 0 without alpha is exactly cross_entropy.v1.
    """
    owner = "loss 'focal.v1'"
    label_smoothing = _check_number(owner, "label_smoothing", label_smoothing, 0.0, 1.0)
    gamma = _check_number(owner, "gamma", gamma, 0.0)
    ignore_index = _check_ignore_index(owner, ignore_index)
    flat, flat_targets = _flatten(owner, logits, targets)
    weight = _class_vector(owner, "weight", weight, flat.shape[1], flat)
    alpha = _class_vector(owner, "alpha", alpha, flat.shape[1], flat)
    return _class_nll(flat, flat_targets, weight=weight, scale=alpha, ignore_index=ignore_index,
                      label_smoothing=label_smoothing, gamma=gamma)


@LOSSES.register("bce.v1")
def bce(logits: torch.Tensor, targets: torch.Tensor, *, weight: ClassVector | None = None,
        ignore_index: int = -100, label_smoothing: float = 0.0,
        pos_weight: ClassVector | None = None) -> torch.Tensor:
    """Multi-label binary cross-entropy with logits; targets are float multi-hot (N, C).

    Entries equal to ignore_index are left out; the mean is over the kept entries, and
    `weight` (C,) rescales each class's entries as in torch's F.binary_cross_entropy_with_logits
    (a rescaling, not a weighted mean). Label smoothing moves targets towards 0.5.
    """
    owner = "loss 'bce.v1'"
    label_smoothing = _check_number(owner, "label_smoothing", label_smoothing, 0.0, 1.0)
    ignore_index = _check_ignore_index(owner, ignore_index)
    if logits.dim() < 2 or targets.shape != logits.shape:
        raise ValueError(f"{owner}: targets must have the logits' shape (N, C); got logits "
                         f"{tuple(logits.shape)} and targets {tuple(targets.shape)}")
    classes = logits.shape[-1]
    flat = logits.reshape(-1, classes).float()                        # (N, C)
    flat_targets = targets.reshape(-1, classes).float()               # (N, C)
    weight = _class_vector(owner, "weight", weight, classes, flat)
    pos_weight = _class_vector(owner, "pos_weight", pos_weight, classes, flat)
    keep = flat_targets != ignore_index                               # (N, C)
    soft = torch.where(keep, flat_targets, torch.zeros_like(flat_targets))
    if label_smoothing > 0.0:
        soft = soft * (1.0 - label_smoothing) + 0.5 * label_smoothing
    # torch's formulation is log-sum-exp stable, so +-1e4 logits stay finite.
    entries = F.binary_cross_entropy_with_logits(flat, soft, weight=weight,
                                                 pos_weight=pos_weight, reduction="none")
    entries = torch.where(keep, entries, torch.zeros_like(entries))
    count = keep.sum().float()
    return entries.sum() / torch.where(count > 0, count, torch.ones_like(count))


def _regression_inputs(owner: str, logits: torch.Tensor, targets: torch.Tensor,
                       weight: object, label_smoothing: float) -> tuple[torch.Tensor, torch.Tensor,
                                                                        torch.Tensor]:
    """(predictions (N,), targets (N,), kept (N,) bool) for a one-output regression head."""
    if weight is not None:
        raise ConfigError(f"{owner}: class weights do not apply to regression; set "
                          "class_weights = \"none\"")
    if _check_number(owner, "label_smoothing", label_smoothing, 0.0, 1.0) != 0.0:
        raise ConfigError(f"{owner}: label smoothing does not apply to regression; set "
                          "label_smoothing = 0")
    flat = logits.float().reshape(-1) if logits.dim() == 1 or logits.shape[-1] == 1 else None
    if flat is None or targets.numel() != flat.numel():
        raise ValueError(f"{owner}: expected one output per example and one target each; got "
                         f"logits {tuple(logits.shape)} and targets {tuple(targets.shape)}")
    y = targets.float().reshape(-1)
    kept = ~torch.isnan(y)
    return flat, torch.where(kept, y, flat.detach()), kept


def _kept_mean(entries: torch.Tensor, kept: torch.Tensor) -> torch.Tensor:
    entries = torch.where(kept, entries, torch.zeros_like(entries))
    count = kept.sum().float()
    return entries.sum() / torch.where(count > 0, count, torch.ones_like(count))


@LOSSES.register("mse.v1")
def mse(logits: torch.Tensor, targets: torch.Tensor, *, weight: ClassVector | None = None,
        ignore_index: int = -100, label_smoothing: float = 0.0) -> torch.Tensor:
    """Mean squared error of a one-output head (N, 1) against float targets (N,), as torch's
    F.mse_loss; NaN targets are left out (ignore_index is for class targets and unused)."""
    del ignore_index
    pred, y, kept = _regression_inputs("loss 'mse.v1'", logits, targets, weight, label_smoothing)
    return _kept_mean((pred - y) ** 2, kept)


@LOSSES.register("huber.v1")
def huber(logits: torch.Tensor, targets: torch.Tensor, *, weight: ClassVector | None = None,
          ignore_index: int = -100, label_smoothing: float = 0.0,
          delta: float = 1.0) -> torch.Tensor:
    """Huber loss (quadratic within `delta`, linear beyond), as torch's F.huber_loss; targets
    are standardised by the loop, so delta = 1 is one standard deviation. NaN targets are
    left out."""
    del ignore_index
    owner = "loss 'huber.v1'"
    delta = _check_number(owner, "delta", delta, 0.0, math.inf)
    if delta <= 0:
        raise ConfigError(f"{owner}: delta must be above 0, found {delta}")
    pred, y, kept = _regression_inputs(owner, logits, targets, weight, label_smoothing)
    return _kept_mean(F.huber_loss(pred, y, delta=delta, reduction="none"), kept)


def make_loss(name: str, **params: object) -> Loss:
    """The loss registered under `name` with `params` bound: `loss(logits, targets)`.

    Unknown parameter names and out-of-range scalars raise ConfigError here, not mid-run.
    """
    func = _bind(LOSSES, name, params)
    owner = f"loss {name!r}"
    for key, low, high in (("label_smoothing", 0.0, 1.0), ("gamma", 0.0, math.inf)):
        if key in params:
            _check_number(owner, key, params[key], low, high)
    if "ignore_index" in params:
        _check_ignore_index(owner, params["ignore_index"])
    return functools.partial(func, **params)


# --- class weights ---------------------------------------------------------------------
# Each maps label counts (C,) to float32 weights (C,) that average 1 over the C classes.
# A class with count 0 gets weight 0: it can never be a target, so its weight only enters
# the label-smoothing term, and 0 keeps every weight finite (1/0 would not be).


def _check_counts(counts: Sequence[int] | np.ndarray) -> np.ndarray:
    array = np.asarray(counts, dtype=np.float64)
    if array.ndim != 1 or array.size == 0:
        raise ConfigError(f"class counts must be a non-empty list, got shape {array.shape}")
    if not np.isfinite(array).all() or (array < 0).any():
        raise ConfigError("class counts must be finite and >= 0")
    if not (array > 0).any():
        raise ConfigError("class counts are all zero: no labelled examples to weight by")
    return array


def _normalised(counts: Sequence[int] | np.ndarray,
                rule: Callable[[np.ndarray], np.ndarray]) -> torch.Tensor:
    """`rule` applied to the non-zero counts, 0 elsewhere, rescaled to average 1."""
    array = _check_counts(counts)
    present = array > 0
    weights = np.zeros_like(array)
    weights[present] = rule(array[present])
    weights *= array.size / weights.sum()
    return torch.as_tensor(weights, dtype=torch.float32)


@CLASS_WEIGHTS.register("inverse_frequency.v1")
def inverse_frequency(counts: Sequence[int] | np.ndarray) -> torch.Tensor:
    """Proportional to 1 / n_c."""
    return _normalised(counts, lambda n: 1.0 / n)


@CLASS_WEIGHTS.register("inverse_sqrt.v1")
def inverse_sqrt(counts: Sequence[int] | np.ndarray) -> torch.Tensor:
    """Proportional to 1 / sqrt(n_c): a milder re-balancing than inverse frequency."""
    return _normalised(counts, lambda n: 1.0 / np.sqrt(n))


@CLASS_WEIGHTS.register("effective_number.v1")
def effective_number(counts: Sequence[int] | np.ndarray, *,
                     beta: float = 0.999) -> torch.Tensor:
    """Proportional to (1 - beta) / (1 - beta^n_c), Cui et al. 2019.

    beta 0 weighs present classes equally; beta -> 1 tends to inverse_frequency.v1.
    """
    owner = "class weighting 'effective_number.v1'"
    beta = _check_number(owner, "beta", beta, 0.0, 1.0)
    if beta >= 1.0:
        raise ConfigError(f"{owner}: beta must be < 1 (beta -> 1 is inverse_frequency.v1)")
    if beta == 0.0:
        return _normalised(counts, np.ones_like)
    # 1 - beta^n as -expm1(n log beta): no cancellation when beta is close to 1.
    return _normalised(counts, lambda n: (1.0 - beta) / -np.expm1(n * math.log(beta)))


def class_weights(name: str, counts: Sequence[int] | np.ndarray,
                  **params: float) -> torch.Tensor:
    """Per-class float32 weights (C,) from label counts by the rule registered as `name`."""
    return _bind(CLASS_WEIGHTS, name, params)(counts, **params)
