"""speechgen.audio.spectral: numpy reference vs librosa, torch modules vs the numpy reference, the STFT image."""

import numpy as np
import pytest
import scipy.fft
import torch

from speechgen.audio import spectral as sp
from speechgen.errors import AudioError, ConfigError

librosa = pytest.importorskip("librosa")

SR = 16000
EXACT = 1e-12  # float64 vs float64 (same algorithm, different summation order): relative to the peak value
LIBROSA_F32_FB = 1e-6  # librosa builds its mel filterbank in float32 (filters.mel dtype default)
TORCH_F32 = 1e-5  # torch float32 vs float64 reference, relative to the peak value


def speechlike(n: int = SR, seed: int = 0) -> np.ndarray:
    """Harmonic tone with vibrato and decay, plus noise, with a silent lead-in: a wide dynamic range."""
    rng = np.random.default_rng(seed)
    t = np.arange(n) / SR
    f0 = 140.0 + 20.0 * np.sin(2 * np.pi * 3 * t)
    phase = 2 * np.pi * np.cumsum(f0) / SR
    x = sum(np.sin(k * phase) / k for k in range(1, 25)) * 0.2 * np.exp(-2 * t)
    x += 0.005 * rng.standard_normal(n)
    x[: n // 10] *= 1e-3
    return x


def rel_err(a: np.ndarray, b: np.ndarray) -> float:
    """Largest absolute difference relative to the largest magnitude of the reference ``b``."""
    return float(np.abs(np.asarray(a) - b).max() / np.abs(b).max())


@pytest.mark.parametrize("n_fft,hop,win,window", [(1024, 256, 1024, "hann"), (512, 128, 400, "hann"),
                                                  (511, 100, 300, "hamming")])
def test_stft_matches_librosa_and_inverts(n_fft, hop, win, window):
    x = speechlike(8000)
    spec = sp.stft(x, n_fft, hop, win, window)
    ref = librosa.stft(x, n_fft=n_fft, hop_length=hop, win_length=win, window=window, pad_mode="reflect")
    assert spec.shape == ref.shape == (n_fft // 2 + 1, 1 + (len(x) + 2 * (n_fft // 2) - n_fft) // hop)
    assert rel_err(spec, ref) < EXACT
    y = sp.istft(spec, hop, win, n_fft, window, length=len(x))
    assert np.abs(y - x).max() < 1e-12
    y_ref = librosa.istft(ref, hop_length=hop, win_length=win, n_fft=n_fft, window=window)
    y_free = sp.istft(spec, hop, win, n_fft, window)
    assert y_free.shape == y_ref.shape and np.abs(y_free - y_ref).max() < 1e-12


def test_stft_batched_and_constant_padding():
    x = np.stack([speechlike(4000, 1), speechlike(4000, 2)])[None]  # [1, 2, T]
    spec = sp.stft(x, 512, 128, pad_mode="constant")
    assert spec.shape == (1, 2, 257, 32)
    assert rel_err(spec[0, 1], librosa.stft(x[0, 1], n_fft=512, hop_length=128, pad_mode="constant")) < EXACT
    assert np.abs(sp.istft(spec, 128, length=4000) - x).max() < 1e-12
    assert np.abs(sp.istft(spec, 128, length=5000)[..., 4000:]).max() < 1e-12  # zeros past the signal


@pytest.mark.parametrize("htk,norm,fmin,fmax,sr", [(False, "slaney", 0.0, 8000.0, 16000),
                                                    (True, None, 20.0, None, 22050), (False, None, 50.0, 4000.0, 8000)])
def test_mel_filterbank_matches_librosa(htk, norm, fmin, fmax, sr):
    fb = sp.mel_filterbank(sr, 1024, 80, fmin, fmax, htk=htk, norm=norm)
    ref = librosa.filters.mel(sr=sr, n_fft=1024, n_mels=80, fmin=fmin, fmax=fmax, htk=htk, norm=norm, dtype=np.float64)
    assert fb.shape == (80, 513)
    assert rel_err(fb, ref) < EXACT
    assert np.allclose(sp.mel_to_hz(sp.hz_to_mel(np.array([0.0, 700.0, 1000.0, 7000.0]), htk), htk),
                       [0.0, 700.0, 1000.0, 7000.0], rtol=1e-12)


def test_mel_log_mel_and_mfcc_match_librosa():
    x = speechlike()
    mel = sp.mel_spectrogram(x, SR)
    ref = librosa.feature.melspectrogram(y=x, sr=SR, n_fft=1024, hop_length=256, win_length=1024, n_mels=80,
                                         fmin=0.0, fmax=8000.0, power=1.0, pad_mode="reflect")
    assert mel.shape == (80, 63) and rel_err(mel, ref) < LIBROSA_F32_FB
    lm = sp.log_mel(x, SR)
    assert np.array_equal(lm, np.log(np.maximum(mel, 1e-5)))
    assert np.allclose(sp.log_mel(np.zeros(4000), SR), np.log(1e-5))  # silence reads ln(eps)
    power = librosa.feature.melspectrogram(y=x, sr=SR, n_fft=1024, hop_length=256, n_mels=80, fmax=8000.0,
                                           pad_mode="reflect")
    mfcc_ref = librosa.feature.mfcc(S=librosa.power_to_db(power, top_db=None), n_mfcc=20)
    mfcc = sp.mfcc(x, SR)
    assert mfcc.shape == (20, 63) and rel_err(mfcc, mfcc_ref) < LIBROSA_F32_FB


def test_dct_matrix_is_orthonormal_dct2():
    d = sp.dct_matrix(80, 20)
    v = np.random.default_rng(0).standard_normal(80)
    assert np.allclose(d @ v, scipy.fft.dct(v, type=2, norm="ortho")[:20], atol=1e-12)
    assert np.allclose(d @ d.T, np.eye(20), atol=1e-12)
    full = sp.dct_matrix(80, 80)
    assert np.allclose(full.T @ (full @ v), v, atol=1e-12)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, EXACT), (torch.float32, TORCH_F32)])
def test_torch_modules_match_numpy(dtype, tol):
    x = np.stack([speechlike(SR, 0), speechlike(SR, 1)[::-1], speechlike(SR, 2)]).reshape(3, 1, SR)
    xt = torch.tensor(x, dtype=dtype)
    spec = sp.STFT(1024, 256, 1024)(xt)
    assert spec.shape == (3, 1, 513, 63)
    assert spec.dtype == (torch.complex128 if dtype == torch.float64 else torch.complex64)
    assert rel_err(spec.numpy(), sp.stft(x, 1024, 256)) < tol
    mel_ref = sp.mel_spectrogram(x, SR)
    mel = sp.MelSpectrogram(SR)(xt)
    assert mel.dtype == dtype and rel_err(mel.numpy(), mel_ref) < tol
    assert rel_err(sp.MelSpectrogram(SR, power=2.0)(xt).numpy(), sp.mel_spectrogram(x, SR, power=2.0)) < tol
    # log domain: compare where the mel magnitude is above 1e-4 of its peak (below, float32 rounding dominates)
    lm = sp.LogMelSpectrogram(SR)(xt).numpy()
    lm_ref = sp.log_mel(x, SR)
    loud = mel_ref > 1e-4 * mel_ref.max()
    assert np.abs(lm - lm_ref)[loud].max() < (1e-10 if dtype == torch.float64 else 1e-4)  # measured 7e-15 / 3e-6
    assert np.all(lm >= np.log(1e-5) - 1e-6)


def test_batched_mel_runs_in_chunks_with_the_same_numbers(monkeypatch):
    x = torch.randn(2, 7, 3000, dtype=torch.float64)
    whole = sp.LogMelSpectrogram(SR)._mel  # one call over the whole batch
    monkeypatch.setattr(sp, "CHUNK_SAMPLES", 2 * 3000)  # two signals per chunk: 7 chunks, the last one short
    op = sp.LogMelSpectrogram(SR)
    calls = []
    monkeypatch.setattr(op, "_mel", lambda chunk: calls.append(chunk.shape[0]) or whole(chunk))
    got = op(x)
    assert calls == [2] * 7 and got.shape == (2, 7, 80, 12)
    want = torch.log(torch.clamp(whole(x), min=1e-5))
    assert torch.allclose(got, want, rtol=0, atol=1e-12)
    assert op(x[0, 0]).shape == (80, 12) and calls[-1] == 3000  # one signal: no chunking


@pytest.mark.parametrize("power", [1.0, 2.0, 1.5])
def test_mel_magnitude_paths_agree_and_silence_has_a_finite_gradient(power):
    x = torch.randn(3, 4000, dtype=torch.float64)
    x[1] = 0.0  # digital silence: every bin exactly zero
    op = sp.MelSpectrogram(SR, power=power)
    fast = op(x)  # no gradient wanted: magnitude from the squared parts
    xg = x.clone().requires_grad_(True)
    slow = op(xg)  # complex abs, whose gradient at a zero bin is 0
    assert torch.allclose(fast, slow.detach(), rtol=1e-12, atol=1e-12)
    slow.sum().backward()
    assert torch.isfinite(xg.grad).all() and bool(xg.grad[0].abs().sum() > 0)


def test_torch_stft_inverse_and_state():
    x = torch.tensor(speechlike(4000), dtype=torch.float64)[None]
    op = sp.STFT(512, 128, 400)
    assert torch.allclose(op.inverse(op(x), length=4000), x, atol=1e-12)
    assert sp.LogMelSpectrogram(SR).state_dict() == {}  # buffers are derived, never checkpointed


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_torch_modules_on_cuda():
    x = torch.tensor(speechlike(), dtype=torch.float32)[None]
    ref = sp.LogMelSpectrogram(SR)(x)
    out = sp.LogMelSpectrogram(SR).cuda()(x.cuda()).cpu()
    assert torch.allclose(out, ref, atol=1e-3)


def test_amp_phase_image_round_trip_full_band():
    x = 0.1 * np.random.default_rng(3).standard_normal((1, sp.image_length(128, 512, 128)))
    img = sp.amp_phase_image(x, n_fft=512, n_bins=257, db_floor=-120.0)
    assert img.shape == (1, 2, 257, 128) and img.dtype == np.float32
    assert img[:, 0].min() > -1.0 and img[:, 0].max() < 1.0  # neither floor nor ceiling reached
    y = sp.image_to_audio(img, n_fft=512, db_floor=-120.0)
    assert y.shape == x.shape and np.abs(y - x).max() < 1e-5  # float32 image precision


@pytest.mark.parametrize("n_fft", [256, 512])
def test_amp_phase_image_is_band_limited(n_fft):
    x = speechlike(SR, 4)  # 16000 samples: zero-padded to 16256
    img = sp.amp_phase_image(x, n_fft=n_fft)
    assert img.shape == (2, 128, 128) and sp.image_length(128, n_fft, 128) == 16256
    assert np.abs(img).max() <= 1.0
    spec = sp.stft(np.pad(x, (0, 256)), n_fft, 128)
    spec[128:] = 0.0
    ref = n_fft / 4
    floor = ref * 10 ** (-80 / 20)  # bins above -80 dB keep their level, those at or below decode to silence
    spec[:128] = np.where(np.abs(spec[:128]) > floor, spec[:128], 0.0)
    band = sp.istft(spec, 128, n_fft=n_fft)
    y = sp.image_to_audio(img, n_fft=n_fft)
    assert y.shape == (16256,) and np.abs(y - band).max() < 1e-5  # float32 image precision
    assert np.array_equal(sp.amp_phase_image(np.pad(x, (0, 1000)), n_fft=n_fft), img)  # longer audio is cropped


def test_amp_phase_image_db_mapping():
    n = sp.image_length(128, 512, 128)
    sine = np.sin(2 * np.pi * 16 * np.arange(n) / 512)  # full scale, exactly on bin 16
    img = sp.amp_phase_image(sine, n_fft=512)
    assert abs(img[0, 16, 64] - 1.0) < 1e-4  # a full-scale sinusoid is 0 dB -> +1
    assert np.allclose(sp.image_magnitude(img, n_fft=512)[16, 64], 128.0, rtol=1e-4)
    assert sp.image_magnitude(np.full((1, 128, 4), -1.0), n_fft=512).max() == 0.0  # the floor decodes to silence
    half = sp.amp_phase_image(0.1 * sine, n_fft=512)[0, 16, 64]
    assert abs(half - (1.0 + 2.0 * (-20.0) / 80.0)) < 1e-4  # -20 dB -> 0.5
    assert np.allclose(sp.amp_phase_image(np.zeros(n))[0], -1.0)


@pytest.mark.parametrize("call,error", [
    (lambda: sp.stft(np.zeros(4000), 512, 0), ConfigError),
    (lambda: sp.stft(np.zeros(4000), 256, 64, win_length=512), ConfigError),
    (lambda: sp.stft(np.zeros(4000), 512, 128, window="nope"), ConfigError),
    (lambda: sp.stft(np.zeros(100), 512, 128), AudioError),
    (lambda: sp.stft(np.array([0.0, np.nan] * 500), 512, 128), AudioError),
    (lambda: sp.stft(np.zeros(4000), 512, 128, pad_mode="wrap"), ConfigError),
    (lambda: sp.istft(np.zeros((100, 10), complex), 128, n_fft=512), ConfigError),
    (lambda: sp.mel_filterbank(8000, 1024, fmax=8000.0), ConfigError),
    (lambda: sp.mel_filterbank(16000, 1024, fmin=9000.0, fmax=8000.0), ConfigError),
    (lambda: sp.log_mel(np.zeros(4000), SR, eps=0.0), ConfigError),
    (lambda: sp.dct_matrix(20, 40), ConfigError),
    (lambda: sp.amp_phase_image(np.zeros(4000), n_bins=300), ConfigError),
    (lambda: sp.image_to_audio(np.zeros((1, 128, 128))), AudioError),
    (lambda: sp.STFT(256, 128, win_length=512), ConfigError),
    (lambda: sp.MelSpectrogram(SR)(torch.zeros(2, 100)), AudioError),
])
def test_invalid_arguments_raise(call, error):
    with pytest.raises(error):
        call()


def test_empty_mel_filters_warn():
    with pytest.warns(UserWarning, match="empty"):
        sp.mel_filterbank(16000, 128, n_mels=80)
