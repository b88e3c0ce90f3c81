import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from core.errors import ConfigError
from core.losses import (CLASS_WEIGHTS, LOSSES, bce, class_weights, cross_entropy, focal,
                         make_loss)

IGNORE = -100
FAST = settings(max_examples=60, deadline=None)


@st.composite
def batches(draw, min_kept: int = 1):
    """Random logits (N, C) or (B, T, C), int targets with an ignore mask, optional weights."""
    classes = draw(st.integers(2, 6))
    shape = draw(st.sampled_from([(draw(st.integers(1, 12)),),
                                  (draw(st.integers(1, 4)), draw(st.integers(1, 6)))]))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    scale = draw(st.sampled_from([0.1, 1.0, 5.0]))
    logits = (torch.randn(*shape, classes, generator=gen) * scale).double()
    targets = torch.randint(0, classes, shape, generator=gen)
    ignored = torch.rand(shape, generator=gen) < draw(st.sampled_from([0.0, 0.3, 0.7]))
    flat = ignored.reshape(-1)
    flat[: min(min_kept, flat.numel())] = False
    targets[ignored] = IGNORE
    weight = None
    if draw(st.booleans()):
        weight = torch.rand(classes, generator=gen).double() * 2 + 0.1
    smoothing = draw(st.sampled_from([0.0, 0.1, 0.37, 1.0]))
    return logits, targets, weight, smoothing


def value_and_grad(loss_fn, logits, targets, **kwargs):
    x = logits.detach().clone().requires_grad_(True)
    value = loss_fn(x, targets, **kwargs)
    value.backward()
    return value.detach(), x.grad


# --- cross_entropy.v1 ------------------------------------------------------------------


@FAST
@given(batches())
def test_cross_entropy_matches_torch(batch):
    logits, targets, weight, smoothing = batch
    ours, ours_grad = value_and_grad(cross_entropy, logits, targets, weight=weight,
                                     label_smoothing=smoothing)

    def reference(x, y, **kw):
        return F.cross_entropy(x.float().reshape(-1, x.shape[-1]), y.reshape(-1), **kw)

    theirs, theirs_grad = value_and_grad(
        reference, logits, targets, ignore_index=IGNORE, label_smoothing=smoothing,
        weight=None if weight is None else weight.float())
    assert ours.dtype == torch.float32 and ours.dim() == 0
    assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    assert torch.allclose(ours_grad, theirs_grad, rtol=1e-4, atol=1e-6)


def test_cross_entropy_honours_a_non_default_ignore_index():
    logits = torch.randn(7, 4, generator=torch.Generator().manual_seed(0))
    targets = torch.tensor([0, 1, 2, 3, 0, 2, 1])
    expected = F.cross_entropy(logits, targets, ignore_index=2)
    assert torch.allclose(cross_entropy(logits, targets, ignore_index=2), expected)


@FAST
@given(batches())
def test_mean_is_over_non_ignored_positions(batch):
    """The batch loss is the (weighted) mean of the per-position losses of kept positions."""
    logits, targets, weight, _ = batch
    flat_x, flat_y = logits.reshape(-1, logits.shape[-1]), targets.reshape(-1)
    kept = (flat_y != IGNORE).nonzero().flatten().tolist()
    singles = [cross_entropy(flat_x[i:i + 1], flat_y[i:i + 1]) for i in kept]
    w = [1.0 if weight is None else float(weight[flat_y[i]]) for i in kept]
    expected = sum(wi * li for wi, li in zip(w, singles)) / sum(w)
    assert torch.allclose(cross_entropy(logits, targets, weight=weight), expected.float(),
                          rtol=1e-5, atol=1e-6)


# --- focal.v1 --------------------------------------------------------------------------


@FAST
@given(batches())
def test_focal_with_gamma_zero_is_exactly_cross_entropy(batch):
    logits, targets, weight, smoothing = batch
    ce, ce_grad = value_and_grad(cross_entropy, logits, targets, weight=weight,
                                 label_smoothing=smoothing)
    fl, fl_grad = value_and_grad(focal, logits, targets, weight=weight,
                                 label_smoothing=smoothing, gamma=0.0)
    assert torch.equal(ce, fl) and torch.equal(ce_grad, fl_grad)


@FAST
@given(batches(), st.sampled_from([0.5, 1.0, 2.0, 3.5]), st.booleans())
def test_focal_matches_the_paper_formula(batch, gamma, with_alpha):
    """mean over kept i of -alpha_y (1 - p_y)^gamma log p_y, computed naively in float64."""
    logits, targets, _, _ = batch
    classes = logits.shape[-1]
    alpha = [0.25 + 0.5 * c / classes for c in range(classes)] if with_alpha else None
    probs = torch.softmax(logits.reshape(-1, classes), dim=-1)
    terms = []
    for row, y in zip(probs, targets.reshape(-1).tolist()):
        if y != IGNORE:
            a = 1.0 if alpha is None else alpha[y]
            terms.append(-a * (1 - row[y]) ** gamma * torch.log(row[y]))
    expected = torch.stack(terms).mean().float()
    ours = focal(logits, targets, gamma=gamma, alpha=alpha)
    assert torch.allclose(ours, expected, rtol=1e-4, atol=1e-6)


@FAST
@given(batches(), st.sampled_from([0.5, 2.0, 5.0]))
def test_focal_never_exceeds_cross_entropy(batch, gamma):
    logits, targets, weight, smoothing = batch
    kwargs = dict(weight=weight, label_smoothing=smoothing)
    assert focal(logits, targets, gamma=gamma, **kwargs) <= (
        cross_entropy(logits, targets, **kwargs) + 1e-6)


def test_focal_down_weights_easy_examples_more_than_hard_ones():
    targets = torch.tensor([0])
    easy = torch.tensor([[4.0, 0.0, 0.0]])   # p(correct) ~ 0.96
    hard = torch.tensor([[0.0, 2.0, 0.0]])   # p(correct) ~ 0.11
    easy_ratio = focal(easy, targets) / cross_entropy(easy, targets)
    hard_ratio = focal(hard, targets) / cross_entropy(hard, targets)
    assert easy_ratio < 0.01
    assert 0.5 < hard_ratio < 1.0
    assert focal(easy, targets, gamma=5.0) < focal(easy, targets, gamma=1.0)


def test_focal_alpha_scales_terms_but_not_the_normaliser():
    logits = torch.randn(6, 3, generator=torch.Generator().manual_seed(1))
    targets = torch.tensor([0, 1, 2, 0, 1, 2])
    base = focal(logits, targets, gamma=2.0)
    assert torch.allclose(focal(logits, targets, gamma=2.0, alpha=[0.5, 0.5, 0.5]), 0.5 * base)
    # A uniform class weight, in contrast, cancels in the weighted mean.
    assert torch.allclose(focal(logits, targets, gamma=2.0, weight=[0.5, 0.5, 0.5]), base)


# --- bce.v1 ----------------------------------------------------------------------------


@st.composite
def multi_label(draw):
    rows, classes = draw(st.integers(1, 10)), draw(st.integers(1, 6))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**31 - 1)))
    logits = torch.randn(rows, classes, generator=gen) * draw(st.sampled_from([0.5, 3.0]))
    targets = (torch.rand(rows, classes, generator=gen) < 0.4).float()
    pos_weight = torch.rand(classes, generator=gen) * 3 if draw(st.booleans()) else None
    weight = torch.rand(classes, generator=gen) + 0.5 if draw(st.booleans()) else None
    return logits, targets, pos_weight, weight


@FAST
@given(multi_label())
def test_bce_matches_torch(case):
    logits, targets, pos_weight, weight = case
    ours, ours_grad = value_and_grad(bce, logits, targets, pos_weight=pos_weight,
                                     weight=weight)
    theirs, theirs_grad = value_and_grad(F.binary_cross_entropy_with_logits, logits, targets,
                                         pos_weight=pos_weight, weight=weight)
    assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-7)
    assert torch.allclose(ours_grad, theirs_grad, rtol=1e-4, atol=1e-7)


@FAST
@given(multi_label(), st.floats(0.0, 1.0))
def test_bce_ignores_masked_entries_and_smooths_towards_half(case, smoothing):
    logits, targets, pos_weight, _ = case
    masked = targets.clone()
    masked[:, 0] = IGNORE
    per_entry = F.binary_cross_entropy_with_logits(
        logits, targets * (1 - smoothing) + 0.5 * smoothing, pos_weight=pos_weight,
        reduction="none")
    kept = per_entry[:, 1:]
    expected = kept.mean() if kept.numel() else torch.tensor(0.0)
    ours, grad = value_and_grad(bce, logits, masked, pos_weight=pos_weight,
                                label_smoothing=smoothing)
    assert torch.allclose(ours, expected, rtol=1e-5, atol=1e-7)
    assert torch.all(grad[:, 0] == 0)


# --- properties shared by all losses ---------------------------------------------------


def int_target_losses():
    return [("cross_entropy.v1", {}), ("focal.v1", {}), ("focal.v1", {"gamma": 0.5}),
            ("focal.v1", {"gamma": 2.0, "alpha": None})]


@FAST
@given(batches(), st.sampled_from(int_target_losses()))
def test_losses_are_non_negative(batch, named):
    logits, targets, weight, smoothing = batch
    loss = make_loss(named[0], weight=weight, label_smoothing=smoothing, **named[1])
    assert loss(logits, targets) >= 0


@FAST
@given(multi_label(), st.floats(0.0, 1.0))
def test_bce_is_non_negative(case, smoothing):
    logits, targets, pos_weight, weight = case
    assert bce(logits, targets, pos_weight=pos_weight, weight=weight,
               label_smoothing=smoothing) >= 0


@FAST
@given(batches(), st.sampled_from(int_target_losses()))
def test_ignored_positions_change_neither_value_nor_gradient(batch, named):
    logits, targets, weight, smoothing = batch
    loss = make_loss(named[0], weight=weight, label_smoothing=smoothing, **named[1])
    ignored = targets == IGNORE
    value, grad = value_and_grad(loss, logits, targets)
    noisy = logits.clone()
    noisy[ignored] = torch.randn_like(noisy[ignored]) * 1e3
    noisy_value, noisy_grad = value_and_grad(loss, noisy, targets)
    assert torch.equal(value, noisy_value)
    assert torch.equal(grad[~ignored], noisy_grad[~ignored])
    assert torch.all(grad[ignored] == 0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("named", int_target_losses() + [("focal.v1", {"gamma": 0.3,
                                                                      "label_smoothing": 0.1})])
def test_extreme_logits_give_finite_values_and_gradients(dtype, named):
    gen = torch.Generator().manual_seed(3)
    signs = torch.randint(0, 2, (4, 5, 7), generator=gen) * 2 - 1
    logits = (signs * 1e4).to(dtype)                  # (B, T, C), many exact ties and extremes
    logits[0, 0] = torch.tensor([1e4, -1e4, 0, 0, 0, 0, 0], dtype=dtype)
    targets = torch.randint(0, 7, (4, 5), generator=gen)
    targets[0, 0] = 0                                 # confidently right: p rounds to 1
    targets[0, 1] = IGNORE
    value, grad = value_and_grad(make_loss(named[0], **named[1]), logits, targets)
    assert value.dtype == torch.float32 and torch.isfinite(value)
    assert grad.dtype == dtype and torch.isfinite(grad.float()).all()
    assert value > 1e3                                # confidently wrong positions dominate


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_bce_extreme_logits_are_finite(dtype):
    logits = torch.tensor([[1e4, -1e4, 1e4], [-1e4, 1e4, 0.0]], dtype=dtype)
    targets = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, IGNORE]])
    value, grad = value_and_grad(bce, logits, targets, pos_weight=[2.0, 1.0, 1.0])
    assert torch.isfinite(value) and torch.isfinite(grad.float()).all()
    big = abs(logits[0, 1].item())                    # 1e4, as rounded in dtype
    assert value.item() == pytest.approx(2 * big / 5, rel=1e-5)


@pytest.mark.parametrize("named", int_target_losses() + [("cross_entropy.v1", {
    "weight": [1.0, 2.0, 3.0], "label_smoothing": 0.2})])
def test_all_ignored_batch_gives_zero_with_zero_gradient(named):
    logits = torch.randn(2, 3, 3)
    value, grad = value_and_grad(make_loss(named[0], **named[1]), logits,
                                 torch.full((2, 3), IGNORE))
    assert value.item() == 0.0 and torch.all(grad == 0)


def test_bce_all_ignored_gives_zero():
    value, grad = value_and_grad(bce, torch.randn(2, 3), torch.full((2, 3), float(IGNORE)))
    assert value.item() == 0.0 and torch.all(grad == 0)


def test_zero_weight_on_every_present_class_gives_zero_not_nan():
    value = cross_entropy(torch.randn(3, 3), torch.tensor([0, 0, 1]), weight=[0.0, 0.0, 1.0])
    assert value.item() == 0.0


# --- make_loss and argument checks -----------------------------------------------------


def test_registry_and_make_loss_bind_parameters():
    assert LOSSES.names() == ["bce.v1", "cross_entropy.v1", "focal.v1", "huber.v1", "mse.v1"]
    logits = torch.randn(5, 3, generator=torch.Generator().manual_seed(2))
    targets = torch.tensor([0, 2, IGNORE, 1, 1])
    loss = make_loss("focal.v1", gamma=1.5, alpha=[1.0, 2.0, 0.5], label_smoothing=0.1)
    assert torch.equal(loss(logits, targets), focal(logits, targets, gamma=1.5,
                                                    alpha=[1.0, 2.0, 0.5],
                                                    label_smoothing=0.1))
    assert torch.equal(make_loss("cross_entropy.v1")(logits, targets),
                       cross_entropy(logits, targets))
    # An alpha tensor works as well as a list.
    assert torch.equal(make_loss("focal.v1", alpha=torch.tensor([1.0, 2.0, 0.5]))(
        logits, targets), focal(logits, targets, alpha=[1.0, 2.0, 0.5]))


@pytest.mark.parametrize("call, names", [
    (lambda: make_loss("dice.v1"), "dice.v1"),
    (lambda: make_loss("cross_entropy.v1", gamma=2.0), "gamma"),
    (lambda: make_loss("bce.v1", alpha=[1.0]), "alpha"),
    (lambda: make_loss("focal.v1", pos_weight=[1.0]), "pos_weight"),
    (lambda: make_loss("focal.v1", gamma=-1.0), "gamma"),
    (lambda: make_loss("cross_entropy.v1", label_smoothing=1.5), "label_smoothing"),
    (lambda: make_loss("cross_entropy.v1", ignore_index=1.5), "ignore_index"),
    (lambda: cross_entropy(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long),
                           weight=[1.0, 2.0]), "weight"),
    (lambda: focal(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long), alpha=0.25), "alpha"),
    (lambda: focal(torch.zeros(2, 3), torch.zeros(2, dtype=torch.long),
                   alpha=[1.0, -1.0, 1.0]), "alpha"),
    (lambda: bce(torch.zeros(2, 3), torch.zeros(2, 3), pos_weight=[1.0]), "pos_weight"),
])
def test_bad_configuration_raises_config_error_naming_it(call, names):
    with pytest.raises(ConfigError, match=names):
        call()


def test_mismatched_shapes_raise():
    with pytest.raises(ValueError, match="targets"):
        cross_entropy(torch.zeros(2, 5, 3), torch.zeros(2, 4, dtype=torch.long))
    with pytest.raises(ValueError, match="int"):
        cross_entropy(torch.zeros(2, 3), torch.zeros(2))
    with pytest.raises(ValueError, match="shape"):
        bce(torch.zeros(2, 3), torch.zeros(2, 2))


# --- class weights ---------------------------------------------------------------------

WEIGHTINGS = ["effective_number.v1", "inverse_frequency.v1", "inverse_sqrt.v1"]


def test_class_weight_hand_checked_values():
    inverse = class_weights("inverse_frequency.v1", [1, 2, 4])
    assert torch.allclose(inverse, torch.tensor([12 / 7, 6 / 7, 3 / 7]))
    root = class_weights("inverse_sqrt.v1", [1, 4])
    assert torch.allclose(root, torch.tensor([4 / 3, 2 / 3]))
    # beta 0.5: raw (0.5 / 0.5, 0.5 / 0.75) = (1, 2/3), rescaled to mean 1.
    effective = class_weights("effective_number.v1", np.array([1, 2]), beta=0.5)
    assert torch.allclose(effective, torch.tensor([1.2, 0.8]))
    assert torch.allclose(class_weights("effective_number.v1", [5, 50, 500], beta=0.0),
                          torch.ones(3))
    assert inverse.dtype == torch.float32


@settings(max_examples=80, deadline=None)
@given(st.lists(st.integers(0, 10**6), min_size=1, max_size=12).filter(any),
       st.sampled_from(WEIGHTINGS), st.sampled_from([0.9, 0.999, 0.99999]))
def test_class_weights_are_finite_mean_one_and_monotone(counts, name, beta):
    params = {"beta": beta} if name == "effective_number.v1" else {}
    weights = class_weights(name, counts, **params).double().numpy()
    counts = np.array(counts)
    assert np.isfinite(weights).all() and (weights >= 0).all()
    assert weights.mean() == pytest.approx(1.0, rel=1e-6)
    assert (weights[counts == 0] == 0).all() and (weights[counts > 0] > 0).all()
    present = np.flatnonzero(counts > 0)
    for i in present:
        for j in present:
            if counts[i] < counts[j]:
                # More frequent, smaller weight (effective number saturates for large n).
                if name == "effective_number.v1":
                    assert weights[i] >= weights[j] * (1 - 1e-6)
                else:
                    assert weights[i] > weights[j]


def test_effective_number_tends_to_inverse_frequency_as_beta_tends_to_one():
    counts = [3, 30, 300, 0, 3000]
    inverse = class_weights("inverse_frequency.v1", counts)
    near = class_weights("effective_number.v1", counts, beta=1 - 1e-9)
    assert torch.allclose(near, inverse, rtol=1e-4)
    far = class_weights("effective_number.v1", counts, beta=0.99)
    # Same ordering, but with moderate beta the frequent classes saturate: flatter weights.
    assert torch.equal(torch.argsort(far), torch.argsort(inverse))
    assert far.max() / far[far > 0].min() < inverse.max() / inverse[inverse > 0].min()


def test_class_weights_plug_into_cross_entropy():
    counts = [90, 10]
    weight = class_weights("inverse_frequency.v1", counts)
    logits = torch.zeros(4, 2)
    targets = torch.tensor([0, 0, 0, 1])
    # Zero logits: every position's loss is log 2 whatever its weight.
    assert cross_entropy(logits, targets, weight=weight) == pytest.approx(math.log(2))
    assert torch.allclose(cross_entropy(logits, targets, weight=weight),
                          F.cross_entropy(logits, targets, weight=weight))


@pytest.mark.parametrize("call, names", [
    (lambda: class_weights("balanced.v1", [1, 2]), "balanced.v1"),
    (lambda: class_weights("inverse_frequency.v1", [1, 2], beta=0.9), "beta"),
    (lambda: class_weights("effective_number.v1", [1, 2], beta=1.0), "beta"),
    (lambda: class_weights("effective_number.v1", [1, 2], beta=-0.1), "beta"),
    (lambda: class_weights("inverse_sqrt.v1", [0, 0]), "zero"),
    (lambda: class_weights("inverse_sqrt.v1", [3, -1]), ">= 0"),
    (lambda: class_weights("inverse_sqrt.v1", []), "non-empty"),
])
def test_bad_class_weighting_raises_config_error(call, names):
    with pytest.raises(ConfigError, match=names):
        call()


def test_class_weighting_registry():
    assert CLASS_WEIGHTS.names() == WEIGHTINGS


# ---- regression losses -------------------------------------------------------------------

_values = st.lists(st.floats(-50, 50, allow_nan=False, width=32), min_size=1, max_size=30)


@settings(max_examples=80, deadline=None)
@given(st.data(), _values, st.floats(0.05, 5.0))
def test_mse_and_huber_match_torch(data, preds, delta):
    targets = data.draw(st.lists(st.floats(-50, 50, allow_nan=False, width=32),
                                 min_size=len(preds), max_size=len(preds)))
    logits = torch.tensor(preds).reshape(-1, 1)
    y = torch.tensor(targets)
    torch.testing.assert_close(make_loss("mse.v1")(logits, y), F.mse_loss(logits[:, 0], y))
    torch.testing.assert_close(make_loss("huber.v1", delta=delta)(logits, y),
                               F.huber_loss(logits[:, 0], y, delta=delta))


@settings(max_examples=50, deadline=None)
@given(_values, st.data(), st.sampled_from(["mse.v1", "huber.v1"]))
def test_nan_targets_are_left_out_of_value_and_gradient(preds, data, name):
    mask = data.draw(st.lists(st.booleans(), min_size=len(preds), max_size=len(preds)))
    targets = torch.tensor([0.5 * p + 1 for p in preds])
    hidden = torch.where(torch.tensor(mask), torch.tensor(float("nan")), targets)
    logits = torch.tensor(preds).reshape(-1, 1).requires_grad_()
    value = make_loss(name)(logits, hidden)
    value.backward()
    kept = [i for i, m in enumerate(mask) if not m]
    if kept:
        expect = make_loss(name)(logits.detach()[kept], targets[kept])
        torch.testing.assert_close(value.detach(), expect)
    else:
        assert value.item() == 0.0
    assert torch.isfinite(logits.grad).all()
    assert all(logits.grad[i, 0].item() == 0.0 for i, m in enumerate(mask) if m)


def test_regression_losses_refuse_what_does_not_apply():
    logits, y = torch.zeros(3, 1), torch.zeros(3)
    with pytest.raises(ConfigError, match="class weights"):
        make_loss("mse.v1", weight=[1.0])(logits, y)
    with pytest.raises(ConfigError, match="label smoothing"):
        make_loss("huber.v1", label_smoothing=0.1)(logits, y)
    with pytest.raises(ConfigError, match="delta"):
        make_loss("huber.v1", delta=0.0)(logits, y)
    with pytest.raises(ValueError, match="one output per example"):
        make_loss("mse.v1")(torch.zeros(3, 2), y)
