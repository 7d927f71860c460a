"""Spectral losses of vocoders against known answers: MR-STFT and mel L1."""

import math

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.evaluation.speech import PWG_RESOLUTIONS as EVAL_RESOLUTIONS
from speechgen.losses.spectral import PWG_RESOLUTIONS, MelL1Loss, MultiResolutionSTFTLoss, STFTLoss


def _noise(b=2, t=4096, seed=0, scale=0.3):
    return scale * torch.randn(b, t, generator=torch.Generator().manual_seed(seed))


def test_identical_signals_give_zero():
    x = _noise()
    sc, mag = MultiResolutionSTFTLoss()(x, x.clone())
    assert float(sc) == 0.0 and float(mag) == 0.0
    assert float(MelL1Loss(16000)(x, x.clone())) == 0.0


def test_mrstft_grows_with_added_noise():
    x = torch.sin(torch.arange(8000) * 2 * math.pi * 440 / 16000)[None].repeat(2, 1) * 0.5
    loss = MultiResolutionSTFTLoss()
    values = [float(loss.total(x, x + _noise(t=8000, seed=1, scale=s))) for s in (1e-3, 1e-2, 1e-1, 0.5)]
    assert values[0] > 0 and all(a < b for a, b in zip(values, values[1:])), values


def test_scaled_estimate_known_answer():
    # |2S| - |S| = |S|: spectral convergence exactly 1; log-magnitude distance ln 2 (magnitudes far above the floor)
    x = _noise(scale=0.5)
    sc, mag = STFTLoss(512, 50, 240)(x, 2 * x)
    assert float(sc) == pytest.approx(1.0, abs=1e-5)
    assert float(mag) == pytest.approx(math.log(2.0), abs=1e-4)


def test_mel_l1_is_symmetric_and_positive():
    a, b = _noise(seed=2), _noise(seed=3)
    loss = MelL1Loss(16000, fmax=8000.0)
    assert float(loss(a, b)) > 0
    assert float(loss(a, b)) == pytest.approx(float(loss(b, a)), rel=1e-6)
    # halving the amplitude moves every (unfloored) log-mel value by ln 2
    assert float(loss(a, 0.5 * a)) == pytest.approx(math.log(2.0), rel=1e-3)


def test_shapes_gradients_and_defaults():
    x = _noise()[:, None]  # [B, 1, T] is accepted
    y = (x + 0.1 * _noise(seed=4)[:, None]).requires_grad_()
    total = MultiResolutionSTFTLoss().total(x, y) + MelL1Loss(16000)(x, y)
    total.backward()
    assert y.grad is not None and torch.isfinite(y.grad).all() and y.grad.abs().sum() > 0
    with pytest.raises(ConfigError, match="shapes differ"):
        MelL1Loss(16000)(x, x[..., :-1])
    assert PWG_RESOLUTIONS == EVAL_RESOLUTIONS  # training loss and evaluation metric use the same resolutions
    with pytest.raises(ConfigError, match="mrstft_resolutions"):
        MultiResolutionSTFTLoss([])
