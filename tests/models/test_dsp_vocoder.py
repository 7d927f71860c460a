"""The weightless ``dsp`` vocoder: log-mel → pseudo-inverse magnitude → PGHI → fast Griffin-Lim re-synthesises a
tone and a harmonic signal, deterministically, ``frames × hop`` samples long, with no parameters; it is registered,
plays the vocoder role, and is shipped as ``dsp``."""

import numpy as np
import pytest
import torch

from speechgen.audio import phase as ph
from speechgen.audio import spectral as sp
from speechgen.data.features import build_feature
from speechgen.errors import ConfigError
from speechgen.models import roles as R
from speechgen.models.dsp_vocoder import DSPVocoder
from speechgen.models.registry import MODELS

SR = 16000


def tone(n: int = SR, f: float = 440.0) -> np.ndarray:
    t = np.arange(n) / SR
    return (0.3 * np.sin(2 * np.pi * f * t) * np.hanning(n)).astype(np.float32)


def harmonic(n: int = SR, f0: float = 140.0) -> np.ndarray:
    t = np.arange(n) / SR
    phase = 2 * np.pi * np.cumsum(f0 + 10.0 * np.sin(2 * np.pi * 3 * t)) / SR
    return (0.05 * sum(np.sin(k * phase) / k for k in range(1, 25)) * np.hanning(n)).astype(np.float32)


def mel_of(x: np.ndarray, model: DSPVocoder) -> torch.Tensor:
    return torch.from_numpy(build_feature("log_mel", model.feature_params)(x, SR))


def sc(x: np.ndarray, y: np.ndarray, n_fft: int = 1024, hop: int = 256) -> float:
    """Spectral convergence of ``y`` against ``x`` at the features' STFT."""
    return ph.spectral_convergence(np.abs(sp.stft(x, n_fft, hop)), np.abs(sp.stft(y, n_fft, hop)))


@pytest.mark.parametrize("make, bound", [(tone, 0.6), (harmonic, 0.45)], ids=["tone", "harmonic"])
def test_resynthesis_of_a_tone_and_a_harmonic_signal(make, bound):
    """Spectral convergence at the features' STFT against the original. The mel's pseudo-inverse spreads each band's
    energy over its bins, so the bound is loose; without PGHI and iterations (zero phase) it is near 1."""
    model = DSPVocoder()
    x = make()
    mel = mel_of(x, model)
    y = model.infer(mel).numpy()
    assert y.shape == (mel.shape[-1] * model.hop_length,) and y.dtype == np.float32
    y = y[:len(x)]
    assert sc(x, y) < bound  # measured 0.47 (tone), 0.33 (harmonic)
    assert 0.8 < np.sqrt(np.mean(y ** 2) / np.mean(x ** 2)) < 1.25  # the level is kept (measured 0.94, 0.94)
    zero_phase = DSPVocoder(phase="griffin_lim", gl_iters=0).infer(mel).numpy()[:len(x)]
    assert sc(x, y) < 0.6 * sc(x, zero_phase)  # measured 1.01 (tone), 0.90 (harmonic)



def test_floor_magnitude_keeps_the_level_and_fills_the_pseudo_inverse_dips():
    """magnitude="floor": never below the band average, so no bin of a loud low harmonic is zero where the
    pseudo-inverse dips below zero, the level is kept (its own gain) and the harmonic is resynthesised as well."""
    plain, floor = DSPVocoder(), DSPVocoder(magnitude="floor")
    x = harmonic()
    mel = mel_of(x, plain)
    m0, m1 = plain.linear_magnitude(mel[None]), floor.linear_magnitude(mel[None])
    low = slice(1, 24)  # bins up to 720 Hz: harmonics of 140 Hz
    assert (m0[0, low, 4:-4] == 0).any() and (m1[0, low, 4:-4] > 0).all()
    y = floor.infer(mel).numpy()[:len(x)]
    assert 0.8 < np.sqrt(np.mean(y ** 2) / np.mean(x ** 2)) < 1.25
    assert sc(x, y) < 0.45

def test_deterministic_and_batched():
    model = DSPVocoder()
    mels = torch.stack([mel_of(tone(), model), mel_of(harmonic(), model)])
    a, b = model.infer(mels), model.infer(mels)
    assert torch.equal(a, b) and a.shape == (2, mels.shape[-1] * 256)
    assert torch.allclose(a[1], model.infer(mels[1]), atol=1e-5)  # an item does not depend on its batch
    assert torch.equal(model(mels)[:, 0], a)


@pytest.mark.parametrize("kwargs", [{}, {"n_fft": None, "hop_length": None}, {"magnitude": "nnls", "nnls_iters": 5},
                                    {"phase": "rtpghi", "gl_iters": 2}, {"phase": "griffin_lim", "gl_iters": 2},
                                    {"gl_iters": 0}, {"power": 1.2}])
def test_length_is_frames_times_hop(kwargs):
    model = DSPVocoder(**kwargs)
    for frames in (4, 7, 63):
        mel = torch.full((1, 80, frames), -11.5)  # silence: no NaN
        y = model.infer(mel)
        assert y.shape == (1, frames * 256) and torch.isfinite(y).all()
    y = model.infer(mel_of(harmonic(), model))
    assert torch.isfinite(y).all() and y.abs().max() > 0.01


def test_no_parameters_and_empty_state():
    model = DSPVocoder()
    assert not list(model.parameters()) and model.state_dict() == {}
    assert model.whole_input and model.onnx_unsupported


def test_registered_with_the_vocoder_role():
    assert MODELS["dsp"] is DSPVocoder
    assert R.roles_of(DSPVocoder, {}) == (R.VOCODER,)
    model = DSPVocoder()
    assert isinstance(model, R.Vocoder)
    assert (model.sample_rate, model.hop_length, model.n_mels, model.feature) == (16000, 256, 80, "log_mel")


def test_shipped_as_dsp_and_loads_offline():
    from speechgen.inference.loading import describe, load

    info = describe("dsp")
    assert info.model == "dsp" and info.roles == (R.VOCODER,)
    model, _ = load("dsp", R.VOCODER)
    assert isinstance(model, DSPVocoder) and model.gl_iters == info.config["model"]["kwargs"]["gl_iters"]
    assert (info.folder / "model.safetensors").stat().st_size < 64  # no tensors


@pytest.mark.parametrize("kwargs", [{"hop_length": 100}, {"n_fft": 200}, {"n_fft": 511}, {"magnitude": "nmf"},
                                    {"phase": "random"}, {"gl_iters": -1}, {"gl_iters": 1.5}, {"fill": "ones"},
                                    {"momentum": 2.0}, {"tol": 1.0}, {"sample_rate": 0}, {"power": 0.0},
                                    {"feature_params": {"n_mels": 0}}])
def test_bad_kwargs(kwargs):
    with pytest.raises(ConfigError):
        DSPVocoder(**kwargs)


def test_wrong_mel_bands():
    with pytest.raises(ConfigError):
        DSPVocoder().infer(torch.zeros(1, 40, 10))
