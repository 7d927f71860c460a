"""LPC chain: Levinson-Durbin, LPC of AR processes, LSF round trips, all-pole envelopes, MFCC pseudo-inverse."""

import numpy as np
import pytest
import scipy.linalg
import scipy.signal

from speechgen.audio import lpc as L
from speechgen.audio import spectral
from speechgen.errors import AudioError, ConfigError

SR = 16000


def _ar_poly(pole_specs):
    """Minimum-phase A(z) from (radius, angle) conjugate pole pairs (angle 0 or pi gives one real pole)."""
    poles = []
    for radius, angle in pole_specs:
        poles += [radius * np.exp(1j * angle)] + ([radius * np.exp(-1j * angle)] if 0 < angle < np.pi else [])
    return np.poly(poles).real


A_TRUE = _ar_poly([(0.9, 0.3), (0.8, 1.5), (0.5, 0.0)])  # order 5


def _random_autocorr(order, n_frames, seed=0):
    rng = np.random.default_rng(seed)
    x = scipy.signal.lfilter([1.0], [1.0, -0.9], rng.standard_normal((n_frames, 512)), axis=1)
    full = np.array([np.correlate(row, row, "full")[511 : 512 + order] for row in x])
    return full.T  # [lags, frames]


def _speechlike(seconds=1.0, f0=120.0, seed=0):
    rng = np.random.default_rng(seed)
    n = int(SR * seconds)
    exc = np.zeros(n)
    exc[:: int(SR / f0)] = 1.0
    formants = [(np.exp(-np.pi * bw / SR), 2 * np.pi * f / SR) for f, bw in [(500, 80), (1500, 120), (2500, 160),
                                                                               (3500, 200)]]
    x = scipy.signal.lfilter([1.0], _ar_poly(formants), exc) + 0.01 * rng.standard_normal(n)
    return 0.5 * x / np.max(np.abs(x))


# ------------------------------------------------------------------------------------------------ Levinson
@pytest.mark.parametrize("order", [1, 2, 7, 16, 30])
def test_levinson_equals_solve_toeplitz(order):
    r = _random_autocorr(order, 8)
    a, err, k = L.levinson(r, order)
    assert a.shape == (order + 1, 8) and err.shape == (8,) and k.shape == (order, 8)
    assert np.all(a[0] == 1.0)
    for t in range(8):
        ref = scipy.linalg.solve_toeplitz(r[:order, t], -r[1 : order + 1, t])
        np.testing.assert_allclose(a[1:, t], ref, rtol=1e-8, atol=1e-12 * np.abs(ref).max())
        np.testing.assert_allclose(err[t], r[0, t] + r[1 : order + 1, t] @ ref, rtol=1e-8)
    assert np.all(np.abs(k) < 1.0)
    np.testing.assert_allclose(k[-1], a[-1])  # last reflection coefficient is the last LPC coefficient


def test_levinson_single_frame_and_batch_axes():
    r = _random_autocorr(6, 6)
    a1, e1, _ = L.levinson(r[:, 2], 6)
    assert a1.shape == (7,) and np.ndim(e1) == 0
    batch = np.stack([r, 2 * r])  # [2, lags, frames]
    ab, eb, _ = L.levinson(batch, 6)
    assert ab.shape == (2, 7, 6)
    np.testing.assert_allclose(ab[0, :, 2], a1, rtol=1e-12)
    np.testing.assert_allclose(ab[1], ab[0], rtol=1e-12)  # scale invariant
    np.testing.assert_allclose(eb[1], 2 * eb[0], rtol=1e-12)


def test_levinson_guards_silence_and_singular_input():
    r = np.zeros((5, 2))
    r[:, 1] = 1.0  # autocorrelation of a constant: singular Toeplitz matrix
    a, err, k = L.levinson(r, 4)
    assert np.isfinite(a).all() and np.isfinite(err).all()
    np.testing.assert_array_equal(a[:, 0], [1, 0, 0, 0, 0])
    assert err[0] == 0.0
    assert np.all(np.abs(k) < 1.0)


# ------------------------------------------------------------------------------------------------ LPC
def test_lpc_recovers_ar_process():
    rng = np.random.default_rng(1)
    x = scipy.signal.lfilter([1.0], A_TRUE, rng.standard_normal(2**16))
    a, gain = L.lpc(x, 5)
    assert a.shape == (6,)
    np.testing.assert_allclose(a, A_TRUE, atol=0.03)  # measured max error 0.012 on 65 536 samples
    # the gain is the innovation std on the windowed-signal scale: sqrt(sum(w^2)) for unit-variance noise
    w2 = np.sum(np.hanning(2**16 + 1)[:-1] ** 2)
    assert abs(gain / np.sqrt(w2) - 1.0) < 0.05


def test_lpc_from_exact_ar_spectrum_is_exact():
    n_fft = 4096
    _, h = scipy.signal.freqz([1.0], A_TRUE, worN=n_fft // 2 + 1, include_nyquist=True)
    power = 0.3**2 * np.abs(h) ** 2
    a, gain = L.lpc_from_power(power, 5)
    np.testing.assert_allclose(a, A_TRUE, atol=1e-8)
    np.testing.assert_allclose(gain, 0.3, rtol=1e-8)


def test_framed_lpc_matches_lpc_of_stft_power():
    x = _speechlike(0.5)
    a, gain = L.lpc(x, 12, frame_length=512, hop_length=128)
    assert a.shape == (13, 1 + len(x) // 128) and gain.shape == (a.shape[1],)
    power = np.abs(spectral.stft(x, 2048, 128, 512)) ** 2
    a_ref, gain_ref = L.lpc_from_power(power, 12)
    np.testing.assert_allclose(a, a_ref, atol=1e-8)
    np.testing.assert_allclose(gain, gain_ref, rtol=1e-8)
    a_batch, _ = L.lpc(np.stack([x, 0.5 * x]), 12, frame_length=512, hop_length=128)
    assert a_batch.shape == (2,) + a.shape
    np.testing.assert_allclose(a_batch[1], a, atol=1e-10)


def test_power_to_autocorr_is_inverse_rfft():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(64)
    power = np.abs(np.fft.rfft(x, 128)) ** 2
    r = L.power_to_autocorr(power)
    assert r.shape == (128,)
    np.testing.assert_allclose(r[:64], np.correlate(x, x, "full")[63:], atol=1e-10)


# ------------------------------------------------------------------------------------------------ LSF
@pytest.mark.parametrize("order", [1, 2, 3, 10, 16, 20])
def test_lsf_round_trip_sorted_and_interleaved(order):
    r = _random_autocorr(order, 12, seed=order)
    a, _, _ = L.levinson(r, order)
    lsf = L.lpc_to_lsf(a)
    assert lsf.shape == (order, 12)
    assert np.all(lsf > 0) and np.all(lsf < np.pi) and np.all(np.diff(lsf, axis=0) > 0)
    np.testing.assert_allclose(L.lsf_to_lpc(lsf), a, atol=1e-8, rtol=0)  # measured <= 2e-13 up to order 16
    np.testing.assert_allclose(L.lpc_to_lsf(L.lsf_to_lpc(lsf)), lsf, atol=1e-8, rtol=0)
    # odd-numbered LSFs are the roots of P, even-numbered those of Q (independent check with np.roots)
    t = 0
    p_poly = np.append(a[:, t], 0) + np.append(0, a[::-1, t])
    q_poly = np.append(a[:, t], 0) - np.append(0, a[::-1, t])
    for poly, mine in ((p_poly, lsf[0::2, t]), (q_poly, lsf[1::2, t])):
        ang = np.angle(np.roots(poly))
        ref = np.sort(ang[(ang > 1e-6) & (ang < np.pi - 1e-6)])
        np.testing.assert_allclose(mine, ref, atol=1e-7)


def test_lsf_of_known_filter_and_single_frame():
    lsf = L.lpc_to_lsf(A_TRUE)
    assert lsf.shape == (5,)
    np.testing.assert_allclose(L.lsf_to_lpc(lsf), A_TRUE, atol=1e-12)
    # order 1: A(z) = 1 + a z^-1 gives P(z) = 1 + 2a z^-1 + z^-2, whose roots sit at cos(w) = -a
    np.testing.assert_allclose(L.lpc_to_lsf(np.array([1.0, -0.5])), [np.arccos(0.5)], atol=1e-12)


def test_lsf_to_lpc_is_minimum_phase():
    rng = np.random.default_rng(3)
    lsf = np.sort(rng.uniform(0.05, 3.1, size=(10, 20)), axis=0)
    a = L.lsf_to_lpc(lsf)
    radii = np.array([np.abs(np.roots(a[:, t])).max() for t in range(20)])
    assert np.all(radii < 1.0)


# ------------------------------------------------------------------------------------------------ envelope
def test_envelope_matches_freqz():
    a = L.lsf_to_lpc(np.linspace(0.2, 2.9, 12))
    env = L.lpc_envelope(a, 0.7, n_fft=1024)
    _, h = scipy.signal.freqz([0.7], a, worN=513, include_nyquist=True)
    np.testing.assert_allclose(env, np.abs(h) ** 2, rtol=1e-10)
    batch = L.lpc_envelope(np.stack([a, a], axis=-1), np.array([0.7, 1.4]), n_fft=1024)
    assert batch.shape == (513, 2)
    np.testing.assert_allclose(batch[:, 1], 4 * env, rtol=1e-12)


# ------------------------------------------------------------------------------------------------ MFCC inverse
def _lsd(p, q):
    """Mean over frames of the RMS difference in dB."""
    return float(np.mean(np.sqrt(np.mean((10 * np.log10(p) - 10 * np.log10(q)) ** 2, axis=-2))))


def test_mfcc_to_power_full_cepstrum_reproduces_mfcc():
    x = _speechlike(0.5)
    c = spectral.mfcc(x, SR, n_mfcc=80)
    power = L.mfcc_to_power(c, SR, 1024, 80, 0.0, 8000.0)
    assert power.shape == (513, c.shape[1]) and np.all(power > 0)
    np.testing.assert_allclose(_mfcc_of_power(power, 80), c, atol=1e-4)  # measured 2e-6 dB
    # the plain clipped pseudo-inverse is not exact on harmonic spectra (measured max error ~16 dB)
    clipped = L.mfcc_to_power(c, SR, 1024, 80, 0.0, 8000.0, method="pinv")
    assert np.abs(_mfcc_of_power(clipped, 80) - c).max() > 1.0


def _mfcc_of_power(power, n_mfcc):
    fb = spectral.mel_filterbank(SR, 1024, 80, 0.0, 8000.0)
    return spectral.dct_matrix(80, n_mfcc) @ (10 * np.log10(np.maximum(fb @ power, spectral.MFCC_AMIN)))


def test_mfcc20_gives_smooth_envelope():
    x = _speechlike(0.5)
    c = spectral.mfcc(x, SR, n_mfcc=20)
    power = L.mfcc_to_power(c, SR)
    pinv_power = L.mfcc_to_power(c, SR, method="pinv")
    np.testing.assert_allclose(power, pinv_power, rtol=1e-9)  # pinv already non-negative here
    np.testing.assert_allclose(_mfcc_of_power(power, 20), c, atol=1e-6)  # consistent with its own MFCCs
    true_power = np.abs(spectral.stft(x, 1024, 256, 1024)) ** 2
    band = slice(1, 512)
    # smooth: far less bin-to-bin variation than the harmonic spectrum it came from
    rough = lambda p: np.mean(np.abs(np.diff(10 * np.log10(p[band]), axis=0)))  # noqa: E731
    assert rough(power) < 0.2 * rough(true_power)
    # close in the mel domain (measured 5.7 dB: the 20 cepstra drop the harmonic ripple) ...
    fb = spectral.mel_filterbank(SR, 1024, 80, 0.0, 8000.0)
    assert _lsd(fb @ power, fb @ true_power) < 7.0
    # ... and its order-16 LPC envelope is close to the one fitted to the true spectrum (measured 2.0 dB)
    env = L.lpc_envelope(*L.lpc_from_power(power, 16), 1024)
    env_true = L.lpc_envelope(*L.lpc_from_power(true_power, 16), 1024)
    assert _lsd(env[band], env_true[band]) < 3.0


def test_mfcc_to_power_batch_and_single_frame():
    x = _speechlike(0.25)
    c = spectral.mfcc(np.stack([x, 0.5 * x]), SR, n_mfcc=20)  # [2, 20, frames]
    p = L.mfcc_to_power(c, SR)
    assert p.shape == (2, 513, c.shape[-1])
    above = p[1] > 1e-9  # bins at the band edges (0 Hz, 8 kHz) have no mel weight and read the floor
    assert above.mean() > 0.99
    np.testing.assert_allclose(p[1][above], 0.25 * p[0][above], rtol=1e-6)
    np.testing.assert_allclose(L.mfcc_to_power(c[0, :, 3], SR), p[0, :, 3], rtol=1e-10)


# ------------------------------------------------------------------------------------------------ errors
def test_bad_arguments_raise_one_line_errors():
    with pytest.raises(ConfigError, match="order"):
        L.levinson(np.ones(5), 0)
    with pytest.raises(AudioError, match="at least 6"):
        L.levinson(np.ones(5), 5)
    with pytest.raises(AudioError, match="NaN"):
        L.levinson(np.array([1.0, np.nan]), 1)
    with pytest.raises(AudioError, match="a\\[0\\]"):
        L.lpc_to_lsf(np.array([2.0, 0.1]))
    with pytest.raises(AudioError, match="increasing"):
        L.lsf_to_lpc(np.array([1.0, 0.5]))
    with pytest.raises(AudioError, match="between 0 and pi"):
        L.lsf_to_lpc(np.array([0.0, 0.5]))
    with pytest.raises(ConfigError, match="n_mels"):
        L.mfcc_to_power(np.zeros((40, 3)), SR, n_mels=20)
    with pytest.raises(ConfigError, match="method"):
        L.mfcc_to_power(np.zeros((20, 3)), SR, method="nnls")
    with pytest.raises(AudioError, match="negative"):
        L.power_to_autocorr(-np.ones(5))
    with pytest.raises(ConfigError, match="frame_length"):
        L.lpc(np.ones(1000), 12, frame_length=8)
    with pytest.raises(AudioError, match="too few"):
        L.lpc(np.ones(3), 12)
