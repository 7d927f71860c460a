"""Spectral losses of vocoders against known answers: MR-STFT, mel L1 and the anti-wrapped phase loss."""

import math

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.evaluation.speech import PWG_RESOLUTIONS as EVAL_RESOLUTIONS
from speechgen.losses.stft import PWG_RESOLUTIONS, MelL1Loss, MultiResolutionSTFTLoss, PhaseLoss, STFTLoss


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


def test_phase_loss_known_answers():
    """Zero for identical signals and for a scaled copy (phase only); a sign flip (π in every bin) is caught by IP
    alone; delaying a click train (one click per frame at most) by d samples turns bin k's phase by 2πkd/n_fft, a
    group delay error of 2πd/n_fft with no IAF error; a 10 Hz frequency change is an IAF error of 2π·10·hop/sr."""
    loss = PhaseLoss(1024, 256)
    t = torch.arange(65536) / 16000
    x = (0.3 * torch.sin(2 * torch.pi * 440 * t) + 0.1 * torch.sin(2 * torch.pi * 1250 * t))[None]
    assert all(float(v) < 1e-4 for v in loss(x, x)) and float(loss.total(x, 0.5 * x)) < 1e-3
    ip, gd, iaf = loss(x, -x)
    assert float(ip) == pytest.approx(math.pi, abs=1e-3) and float(gd) < 1e-3 and float(iaf) < 1e-3
    y = (0.3 * torch.sin(2 * torch.pi * 450 * t) + 0.1 * torch.sin(2 * torch.pi * 1260 * t))[None]
    assert float(loss(x, y)[2]) == pytest.approx(2 * math.pi * 10 * 256 / 16000, rel=0.02)
    clicks = torch.zeros(1, 65536)
    clicks[0, 1000::2048] = 1.0
    for d in (2, 4):
        ip, gd, iaf = loss(clicks, torch.roll(clicks, d, 1))
        assert float(gd) == pytest.approx(2 * math.pi * d / 1024, rel=0.02) and float(iaf) < 1e-4


def test_phase_loss_gradient_moves_the_phase():
    torch.manual_seed(0)
    ref = 0.2 * torch.randn(1, 4096)
    est = (ref + 0.2 * torch.randn(1, 4096)).requires_grad_(True)
    loss = PhaseLoss(512, 128)
    before = float(loss.total(ref, est).detach())
    opt = torch.optim.Adam([est], lr=1e-2)
    for _ in range(200):
        opt.zero_grad()
        loss.total(ref, est).backward()
        opt.step()
    assert torch.isfinite(est.grad).all() and float(loss.total(ref, est).detach()) < 0.05 * before
