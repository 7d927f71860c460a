"""F0 (YIN), voicing, continuous log-F0 and pulse-train excitation."""

import numpy as np
import pytest

from speechgen.audio import pitch
from speechgen.errors import AudioError, ConfigError

SR = 16000
HOP = 256


def _harmonic(f0, seconds=1.0, sr=SR, n_harm=8, amp=0.5):
    t = np.arange(int(sr * seconds)) / sr
    f0 = np.broadcast_to(np.asarray(f0, dtype=np.float64), t.shape)
    phase = 2 * np.pi * np.cumsum(f0) / sr
    x = sum((1.0 / k) * np.sin(k * phase + 0.7 * k) for k in range(1, n_harm + 1))
    return (amp * x / np.max(np.abs(x))).astype(np.float32)


@pytest.mark.parametrize("freq", [100.0, 150.0, 220.0, 300.0])
def test_harmonic_signal_f0_within_one_percent(freq):
    x = _harmonic(freq)
    f, voiced = pitch.f0(x, SR, hop_length=HOP)
    assert f.shape == voiced.shape == (1 + len(x) // HOP,)
    inner = slice(4, -4)  # edge frames see the zero padding
    assert voiced[inner].all()
    rel = np.abs(f[inner] / freq - 1.0)
    assert rel.max() < 0.01  # measured max 0.2 %
    assert np.all(f[~voiced] == 0.0)


def test_frame_count_matches_centred_stft():
    for n in (8000, 8191, 8192, 8193, 16000):
        f, voiced = pitch.f0(np.zeros(n), SR, hop_length=HOP)
        assert f.shape == (1 + n // HOP,)
    frames = pitch.frame_signal(np.arange(1000.0), 64, 100)
    assert frames.shape == (11, 64)
    assert frames[3, 32] == 300.0  # frame t is centred on sample t * hop


def test_onset_alignment():
    x = np.concatenate([np.zeros(SR // 2, np.float32), _harmonic(200.0, 0.5)])
    _, voiced = pitch.f0(x, SR, hop_length=HOP)
    onset = np.flatnonzero(voiced)[0] * HOP
    assert abs(onset - SR // 2) <= 2 * HOP


def _glide():
    n = 2 * SR
    t = np.arange(n) / SR
    f_inst = 80.0 * np.exp(np.log(400.0 / 80.0) * t / t[-1])  # 80 -> 400 Hz exponential glide
    truth = f_inst[np.minimum(np.arange(1 + n // HOP) * HOP, n - 1)]
    return _harmonic(f_inst, seconds=2.0, n_harm=5), truth


def test_glide_tracks_analytic_truth():
    # librosa.yin/pyin (numba) crashed CI workers, so the comparison with them lives in bench/pitch_vs_librosa.py;
    # here the reference is the glide's analytic instantaneous frequency.
    x, truth = _glide()
    ours, voiced = pitch.f0(x, SR, hop_length=HOP, fmin=60.0, fmax=500.0)
    inner = slice(4, -4)
    rel = np.abs(ours[inner] / truth[inner] - 1.0)
    assert voiced[inner].all()
    assert np.mean(rel > 0.2) == 0.0  # no gross (octave) errors
    assert np.median(rel) < 0.003  # measured 0.06 % (librosa.yin 0.10 %)


def test_silence_and_noise_are_unvoiced():
    rng = np.random.default_rng(0)
    for x in (np.zeros(SR, np.float32), 0.3 * rng.standard_normal(SR).astype(np.float32)):
        f, voiced = pitch.f0(x, SR)
        assert not voiced.any() and np.all(f == 0.0)


def test_energy_gates_voicing():
    loud = _harmonic(150.0, 0.5, amp=0.5)
    quiet = _harmonic(150.0, 0.5, amp=0.5 * 10 ** (-70 / 20))  # 70 dB down: periodic but far too quiet
    x = np.concatenate([loud, quiet])
    _, voiced = pitch.f0(x, SR, hop_length=HOP)
    half = len(loud) // HOP
    assert voiced[4 : half - 4].all() and not voiced[half + 4 :].any()
    _, voiced_alone = pitch.f0(quiet, SR, hop_length=HOP)  # below -60 dBFS even on its own
    assert not voiced_alone.any()


def test_median_smoothing_keeps_steady_f0():
    x = _harmonic(180.0)
    f, voiced = pitch.f0(x, SR, median=5)
    assert np.abs(f[voiced][4:-4] / 180.0 - 1.0).max() < 0.01


def test_log_f0_interp_fills_gaps_linearly_in_log():
    f = np.array([0.0, 100.0, 0.0, 0.0, 400.0, 0.0])
    v = f > 0
    out = pitch.log_f0_interp(f, v)
    expect = np.log([100.0, 100.0, 100 * 4 ** (1 / 3), 100 * 4 ** (2 / 3), 400.0, 400.0])
    np.testing.assert_allclose(out, expect, rtol=1e-12)
    np.testing.assert_allclose(pitch.log_f0_interp(np.zeros(3), np.zeros(3, bool)), np.log(100.0))


@pytest.mark.parametrize("freq", [100.0, 220.0, 333.0])
def test_pulse_train_has_one_pulse_per_period(freq):
    n_frames = 1 + SR // HOP
    f = np.full(n_frames, freq)
    out = pitch.pulse_train(f, np.ones(n_frames, bool), SR, HOP, length=SR)
    assert out.shape == (SR,) and out.dtype == np.float32
    assert set(np.unique(out)) <= {0.0, 1.0}
    pulses = np.flatnonzero(out)
    assert abs(len(pulses) - freq) <= 1  # pulses per second == F0
    assert pulses[0] == 0
    np.testing.assert_allclose(np.diff(pulses), SR / freq, atol=1.0)


def test_pulse_train_follows_voicing_and_glide():
    n_frames = 1 + SR // HOP
    f = np.linspace(100.0, 200.0, n_frames)
    v = np.ones(n_frames, bool)
    v[n_frames // 2 :] = False
    out = pitch.pulse_train(np.where(v, f, 0.0), v, SR, HOP)
    assert out.shape == (n_frames * HOP,)
    boundary = (n_frames // 2) * HOP
    assert not out[boundary :].any()
    gaps = np.diff(np.flatnonzero(out))
    assert np.all(np.diff(gaps) <= 1)  # rising F0 -> periods shrink
    # expected count = integral of F0 over the voiced half second
    expected = np.sum(np.interp(np.arange(boundary - HOP // 2), np.arange(n_frames) * HOP, f)) / SR
    assert abs(np.count_nonzero(out) - expected) <= 1.5


def test_sine_excitation():
    n_frames = 1 + SR // HOP
    out = pitch.pulse_train(np.full(n_frames, 125.0), np.ones(n_frames, bool), SR, HOP, length=SR, kind="sine")
    spectrum = np.abs(np.fft.rfft(out))
    assert np.argmax(spectrum) == 125  # 1 Hz bins for a 1 s signal
    assert np.max(np.abs(out)) <= 1.0


def test_bad_arguments_raise_one_line_errors():
    x = _harmonic(150.0, 0.2)
    with pytest.raises(ConfigError, match="fmin"):
        pitch.f0(x, SR, fmin=400.0, fmax=300.0)
    with pytest.raises(ConfigError, match="frame_length"):
        pitch.f0(x, SR, frame_length=256, fmin=50.0)
    with pytest.raises(ConfigError, match="fmax"):
        pitch.f0(x, 8000, fmax=5000.0)
    with pytest.raises(ConfigError, match="hop_length"):
        pitch.f0(x, SR, hop_length=0)
    with pytest.raises(ConfigError, match="median"):
        pitch.f0(x, SR, median=4)
    with pytest.raises(AudioError, match="mono"):
        pitch.f0(np.stack([x, x]), SR)
    with pytest.raises(AudioError, match="NaN"):
        pitch.f0(np.full(100, np.nan), SR)
    with pytest.raises(AudioError, match="voiced"):
        pitch.log_f0_interp(np.ones(4), np.ones(3, bool))
    with pytest.raises(AudioError, match="positive"):
        pitch.pulse_train(np.zeros(4), np.ones(4, bool), SR, HOP)
    with pytest.raises(ConfigError, match="kind"):
        pitch.pulse_train(np.ones(4), np.ones(4, bool), SR, HOP, kind="saw")
