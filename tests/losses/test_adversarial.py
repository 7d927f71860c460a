"""Adversarial losses: known values at known logits, the WGAN-GP gradient penalty on critics with known input
gradients (linear: constant gradient w, quadratic: gradient = the interpolate), R1 and feature matching."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from speechgen.errors import ConfigError
from speechgen.losses import adversarial as adv


def _val(t: torch.Tensor) -> float:
    return float(t.detach())


def _t(*v: float) -> torch.Tensor:
    return torch.tensor(v, dtype=torch.float64)


def test_non_saturating_known_values():
    zero = _t(0.0, 0.0)
    assert float(adv.ns_d_loss(zero, zero)) == pytest.approx(2 * math.log(2))
    assert float(adv.ns_g_loss(zero)) == pytest.approx(math.log(2))
    # a confident, correct discriminator costs ~0; the generator's loss is -log sigmoid(fake)
    assert float(adv.ns_d_loss(_t(30.0), _t(-30.0))) == pytest.approx(0.0, abs=1e-12)
    assert float(adv.ns_g_loss(_t(-2.0))) == pytest.approx(-math.log(1 / (1 + math.exp(2.0))))
    # it does not saturate: the generator's gradient stays ~1 where the discriminator is confident
    fake = _t(-30.0).requires_grad_(True)
    adv.ns_g_loss(fake).backward()
    assert float(fake.grad) == pytest.approx(-1.0, abs=1e-9)


def test_hinge_lsgan_wasserstein_known_values():
    assert float(adv.hinge_d_loss(_t(2.0, 1.0), _t(-1.0, -3.0))) == 0.0  # beyond the margins
    assert float(adv.hinge_d_loss(_t(0.0), _t(0.0))) == 2.0
    assert float(adv.hinge_d_loss(_t(0.5), _t(0.5))) == 2.0  # 0.5 + 1.5
    assert float(adv.hinge_g_loss(_t(1.0, 3.0))) == -2.0
    assert float(adv.lsgan_d_loss(_t(1.0), _t(0.0))) == 0.0
    assert float(adv.lsgan_d_loss(_t(0.0), _t(1.0))) == 1.0
    assert float(adv.lsgan_g_loss(_t(1.0))) == 0.0 and float(adv.lsgan_g_loss(_t(0.0))) == 0.5
    assert float(adv.wasserstein_d_loss(_t(3.0, 5.0), _t(1.0))) == -3.0
    assert float(adv.wasserstein_g_loss(_t(1.0, 2.0))) == -1.5


def test_dispatch_by_name():
    real, fake = torch.randn(8), torch.randn(8)
    pairs = {"ns": (adv.ns_d_loss, adv.ns_g_loss), "hinge": (adv.hinge_d_loss, adv.hinge_g_loss),
             "lsgan": (adv.lsgan_d_loss, adv.lsgan_g_loss), "wgan-gp": (adv.wasserstein_d_loss, adv.wasserstein_g_loss)}
    assert set(pairs) == set(adv.LOSSES)
    for kind, (d, g) in pairs.items():
        assert torch.equal(adv.d_loss(kind, real, fake), d(real, fake))
        assert torch.equal(adv.g_loss(kind, fake), g(fake))
    with pytest.raises(ConfigError, match="loss"):
        adv.d_loss("wgan", real, fake)


class Linear(nn.Module):
    """``f(x) = <w, x> + b`` over all of an item's values: its input gradient is ``w`` everywhere."""

    def __init__(self, w: torch.Tensor) -> None:
        super().__init__()
        self.w = nn.Parameter(w.clone())
        self.b = nn.Parameter(torch.tensor(0.3, dtype=w.dtype))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x * self.w).flatten(1).sum(1) + self.b


def test_gradient_penalty_of_linear_critic():
    torch.manual_seed(0)
    real, fake = torch.randn(6, 2, 3, 3, dtype=torch.float64), torch.randn(6, 2, 3, 3, dtype=torch.float64)
    w = torch.randn(2, 3, 3, dtype=torch.float64)
    unit = Linear(w / w.norm())
    assert _val(adv.gradient_penalty(unit, real, fake)) == pytest.approx(0.0, abs=1e-10)
    for scale in (0.25, 3.0):
        critic = Linear(w / w.norm() * scale)
        gp = adv.gradient_penalty(critic, real, fake)
        assert _val(gp) == pytest.approx((scale - 1.0) ** 2, rel=1e-9)
        gp.backward()  # the penalty is differentiable in the critic's weights: d/dw (|w| - 1)^2
        expect = 2 * (scale - 1.0) * critic.w.detach() / critic.w.detach().norm()
        assert torch.allclose(critic.w.grad, expect, atol=1e-9)


def test_gradient_penalty_interpolates_and_holds_conditions_fixed():
    real = torch.tensor([[2.0, 0.0], [0.0, 3.0]], dtype=torch.float64)
    fake = torch.zeros_like(real)
    quad = lambda x: 0.5 * x.pow(2).sum(1)  # noqa: E731 - gradient = x_hat = a real + (1 - a) fake
    a = torch.tensor([0.5, 1.0], dtype=torch.float64)
    assert _val(adv.gradient_penalty(quad, real, fake, alpha=a)) == pytest.approx(((1 - 1) ** 2 + (3 - 1) ** 2) / 2)
    # a conditioning input enters through a closure: it is not interpolated and adds no gradient norm
    cond = torch.randn(2, 5, dtype=torch.float64)
    w = torch.tensor([0.6, 0.8], dtype=torch.float64)
    critic = lambda x: x @ w + 7.0 * cond.sum(1)  # noqa: E731
    assert _val(adv.gradient_penalty(critic, real, fake)) == pytest.approx(0.0, abs=1e-10)
    # a discriminator returning (logit, aux, features) is accepted
    assert _val(adv.gradient_penalty(lambda x: (x @ w, None, []), real, fake)) == pytest.approx(0.0, abs=1e-10)


def test_gradient_penalty_refuses_batch_norm_in_training():
    critic = nn.Sequential(nn.Linear(4, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    real, fake = torch.randn(8, 4), torch.randn(8, 4)
    with pytest.raises(ConfigError, match="batch norm"):
        adv.gradient_penalty(critic, real, fake)
    assert torch.isfinite(adv.gradient_penalty(critic.eval(), real, fake))  # frozen statistics: per item again


def test_r1_penalty_of_linear_critic():
    w = torch.tensor([[3.0, 4.0]], dtype=torch.float64)
    r1 = adv.r1_penalty(Linear(w), torch.randn(5, 1, 2, dtype=torch.float64))
    assert _val(r1) == pytest.approx(0.5 * 25.0)


def test_feature_matching():
    real = [torch.ones(2, 3), torch.full((2, 4, 4), 2.0)]
    fake = [torch.zeros(2, 3, requires_grad=True), torch.full((2, 4, 4), -1.0, requires_grad=True)]
    assert _val(adv.feature_matching_loss(real, fake)) == pytest.approx((1.0 + 3.0) / 2)
    assert _val(adv.feature_matching_loss(real, fake, reduction="sum")) == pytest.approx(4.0)
    # nested lists (one per sub-discriminator) are flattened in order
    assert _val(adv.feature_matching_loss([real[:1], real[1:]], [fake[:1], fake[1:]])) == pytest.approx(2.0)
    # only the generated side gets gradients
    r = [t.clone().requires_grad_(True) for t in real]
    adv.feature_matching_loss(r, fake).backward()
    assert all(t.grad is None for t in r) and all(t.grad is not None for t in fake)
    assert _val(adv.feature_matching_loss(real, real)) == 0.0
    with pytest.raises(ValueError):
        adv.feature_matching_loss(real, fake[:1])
    with pytest.raises(ValueError):
        adv.feature_matching_loss(real, [fake[0], torch.zeros(2, 4)])
