"""Linear prediction: the spectral-envelope chain of the ResGAN vocoder (Juvela et al., 2018).

MFCC --(inverse DCT, dB -> power)--> mel power --(pseudo-inverse of the mel filterbank)--> linear power spectrum
--(inverse FFT)--> autocorrelation --(Levinson-Durbin)--> LPC ``a`` and gain ``G`` --> line spectral frequencies
(LSF) or the all-pole envelope ``|G / A(e^jw)|^2``.

Conventions:

- ``A(z) = a[0] + a[1] z^-1 + ... + a[p] z^-p`` with ``a[0] = 1``; the predictor is
  ``x[n] ~ -sum_{i>=1} a[i] x[n-i]``; the prediction-error power is ``G**2``.
- Arrays follow :mod:`speechgen.audio.spectral`: ``[..., features, frames]`` (features = frequency bins, lags,
  coefficients or LSFs). A 1-D array is a single frame ``[features]`` and gives 1-D results.
- Power spectra are one-sided ``[..., n_fft // 2 + 1, frames]`` on the scale of ``|rfft|**2`` (as
  ``|spectral.stft|**2``); the autocorrelation is their inverse real FFT, so an envelope fitted to a power
  spectrum is on that spectrum's scale.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from speechgen.audio.spectral import MFCC_AMIN, dct_matrix, fft_window, mel_filterbank, stft
from speechgen.errors import AudioError, ConfigError

__all__ = [
    "mfcc_to_power",
    "power_to_autocorr",
    "levinson",
    "lpc_from_power",
    "lpc",
    "lpc_to_lsf",
    "lsf_to_lpc",
    "lpc_envelope",
]

_K_MAX = 1.0 - 1e-10  # reflection coefficients are clipped to |k| <= this (keeps A(z) minimum-phase)


# --------------------------------------------------------------------------------------------------- helpers
def _array(x: np.ndarray, name: str, min_features: int = 1) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim < 1:
        raise AudioError(f"{name}: expected shape [features] or [..., features, frames], got a scalar")
    if np.iscomplexobj(a) or not np.issubdtype(a.dtype, np.number):
        raise AudioError(f"{name}: expected real numbers, got dtype {a.dtype}")
    feat = a.shape[0] if a.ndim == 1 else a.shape[-2]
    if feat < min_features or a.size == 0:
        raise AudioError(f"{name}: needs at least {min_features} values along the feature axis, got shape {a.shape}")
    a = a.astype(np.float64, copy=False)
    if not np.isfinite(a).all():
        raise AudioError(f"{name}: contains NaN or Inf")
    return a


def _to_front(a: np.ndarray) -> np.ndarray:
    """``[..., F, T]`` -> ``[F, ..., T]``; ``[F]`` stays ``[F]``."""
    return a if a.ndim == 1 else np.moveaxis(a, -2, 0)


def _from_front(a: np.ndarray, ndim: int) -> np.ndarray:
    """Inverse of :func:`_to_front` for an input that had ``ndim`` dimensions."""
    return a if ndim == 1 else np.moveaxis(a, 0, -2)


def _order(order: int, name: str = "order") -> int:
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)) or order < 1:
        raise ConfigError(f"{name}: expected a positive integer, got {order!r}")
    return int(order)


# ------------------------------------------------------------------------------------- MFCC -> power spectrum
@lru_cache(maxsize=16)
def _mel_basis(sr: float, n_fft: int, n_mels: int, fmin: float, fmax: float | None) -> tuple[np.ndarray, np.ndarray]:
    """The mel filterbank ``M`` and its pseudo-inverse (read-only, cached)."""
    fb = mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    pinv = np.linalg.pinv(fb)
    fb.setflags(write=False)
    pinv.setflags(write=False)
    return fb, pinv


def _nonneg_min_norm(fb: np.ndarray, mel: np.ndarray, max_iter: int = 50, tol: float = 1e-10) -> np.ndarray:
    """Minimum-norm ``P >= 0`` with ``fb @ P = mel`` for every column of ``mel [n_mels, N]``.

    Solved in the dual: ``P = max(fb.T @ y, 0)`` with ``y`` the root of ``fb @ max(fb.T @ y, 0) = mel``, found by
    semismooth Newton with a backtracking line search per column, started from the pseudo-inverse solution.
    Converges in a few steps when the system is feasible; otherwise stops at a point whose mel residual is no
    larger than that of the clipped pseudo-inverse.
    """
    n_mels = fb.shape[0]
    gram = fb @ fb.T
    ridge = 1e-12 * np.trace(gram) / n_mels * np.eye(n_mels)
    y = np.linalg.solve(gram + ridge, mel)
    scale = np.maximum(mel, 1e-300)

    def residual(yy: np.ndarray, target: np.ndarray) -> np.ndarray:
        return fb @ np.maximum(fb.T @ yy, 0.0) - target

    todo = np.arange(mel.shape[1])
    for _ in range(max_iter):
        res = residual(y[:, todo], mel[:, todo])
        done = np.max(np.abs(res) / scale[:, todo], axis=0) <= tol
        todo, res = todo[~done], res[:, ~done]
        if todo.size == 0:
            break
        active = (fb.T @ y[:, todo] > 0).astype(np.float64)  # [bins, n]
        jac = (fb[None] * active.T[:, None, :]) @ fb.T + ridge  # [n, n_mels, n_mels] = M diag(active) M^T
        step_dir = np.linalg.solve(jac, res.T[..., None])[..., 0].T
        merit = np.sum(res**2, axis=0)
        step = np.ones(todo.size)
        accepted = np.zeros(todo.size, dtype=bool)
        for _ in range(40):
            pending = ~accepted
            trial = y[:, todo[pending]] - step[pending] * step_dir[:, pending]
            new_merit = np.sum(residual(trial, mel[:, todo[pending]]) ** 2, axis=0)
            ok = new_merit <= merit[pending] * (1.0 - 1e-4 * step[pending])
            idx = np.flatnonzero(pending)[ok]
            y[:, todo[idx]] = trial[:, ok]
            accepted[idx] = True
            step[np.flatnonzero(pending)[~ok]] *= 0.5
            if accepted.all():
                break
        todo = todo[accepted]  # columns without any descent step are as good as this method gets
        if todo.size == 0:
            break
    return np.maximum(fb.T @ y, 0.0)


def mfcc_to_power(
    mfcc: np.ndarray,
    sr: float,
    n_fft: int = 1024,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = 8000.0,
    *,
    method: str = "nonneg",
    floor: float = MFCC_AMIN,
) -> np.ndarray:
    """Linear power spectrum ``[..., n_fft // 2 + 1, frames]`` from MFCCs ``[..., n_mfcc, frames]``.

    Inverts :func:`speechgen.audio.spectral.mfcc` (dB of the mel power, orthonormal DCT-II; pass the same
    ``sr, n_fft, n_mels, fmin, fmax``): the missing high cepstra are taken as zero (``D.T @ c``), dB become
    power, and mel power is mapped to linear frequency with the mel filterbank ``M``:

    - ``method="pinv"``: ``max(pinv(M) @ mel, floor)`` — the Moore-Penrose pseudo-inverse, clipped (ResGAN).
    - ``method="nonneg"`` (default): the minimum-norm *non-negative* spectrum with ``M @ P = mel``. It equals
      the pinv result whenever that is already non-negative (typical for 20-40 smooth cepstra) and otherwise
      corrects it, so that ``mfcc`` of the result reproduces the input (near-)exactly even with
      ``n_mfcc == n_mels``, where clipping the pseudo-inverse alone errs by several dB.

    Values are floored at ``floor``; bins outside ``[fmin, fmax]`` get exactly ``floor``.
    """
    c = _array(mfcc, "mfcc")
    n_mfcc = c.shape[0] if c.ndim == 1 else c.shape[-2]
    if isinstance(n_mels, bool) or int(n_mels) != n_mels or n_mels < 1:
        raise ConfigError(f"n_mels: expected a positive integer, got {n_mels!r}")
    if n_mfcc > n_mels:
        raise ConfigError(f"n_mels: {n_mels} is fewer than the {n_mfcc} MFCCs given")
    if method not in ("pinv", "nonneg"):
        raise ConfigError(f"method: expected 'pinv' or 'nonneg', got {method!r}")
    if not floor > 0:
        raise ConfigError(f"floor: expected a positive number, got {floor!r}")
    basis = dct_matrix(int(n_mels), n_mfcc)  # [n_mfcc, n_mels]
    fb, pinv = _mel_basis(float(sr), int(n_fft), int(n_mels), float(fmin), None if fmax is None else float(fmax))
    front = _to_front(c)
    mel_db = basis.T @ front.reshape(n_mfcc, -1)  # [n_mels, N]
    mel_power = 10.0 ** (np.minimum(mel_db, 300.0) / 10.0)
    if method == "pinv":
        power = pinv @ mel_power
    else:
        power = _nonneg_min_norm(fb, mel_power)
    power = np.maximum(power, floor).reshape((fb.shape[1],) + front.shape[1:])
    return _from_front(power, c.ndim)


def power_to_autocorr(power: np.ndarray, n_fft: int | None = None) -> np.ndarray:
    """Autocorrelation ``[..., n_fft, frames]`` (lags 0 .. n_fft-1) of a one-sided power spectrum
    ``[..., n_fft // 2 + 1, frames]``: its inverse real FFT. ``n_fft`` defaults to ``2 * (bins - 1)``.
    """
    p = _array(power, "power", min_features=2)
    bins = p.shape[0] if p.ndim == 1 else p.shape[-2]
    if n_fft is None:
        n_fft = 2 * (bins - 1)
    n_fft = _order(n_fft, "n_fft")
    if n_fft // 2 + 1 != bins:
        raise ConfigError(f"n_fft: {n_fft} does not match a power spectrum of {bins} bins")
    if (p < 0).any():
        raise AudioError("power: contains negative values")
    return _from_front(np.fft.irfft(_to_front(p), n_fft, axis=0), p.ndim)


# ---------------------------------------------------------------------------------------------- Levinson
def levinson(r: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Levinson-Durbin solution of the Toeplitz normal equations, batched over frames.

    ``r`` is an autocorrelation ``[lags]`` or ``[..., lags, frames]`` with at least ``order + 1`` lags.
    Returns ``(a [.., order + 1, ..] with a[0] = 1, prediction-error power [..., frames], reflection
    coefficients [.., order, ..])``. Guards: a frame with ``r[0] <= 0`` (silence) gives ``a = [1, 0, ...]``
    and error 0; the recursion stops (remaining coefficients 0) once the error falls below ``1e-14 r[0]``;
    reflection coefficients are clipped to ``|k| < 1`` so that ``A(z)`` is always minimum-phase.
    """
    order = _order(order)
    ra = _array(r, "r", min_features=order + 1)
    rf = _to_front(ra)[: order + 1]  # [p+1, ...]
    batch = rf.shape[1:]
    a = np.zeros((order + 1,) + batch)
    a[0] = 1.0
    refl = np.zeros((order,) + batch)
    r0 = rf[0]
    err = np.where(r0 > 0, r0, 0.0)
    tiny = np.where(r0 > 0, r0, 0.0) * 1e-14
    for i in range(1, order + 1):
        acc = rf[i] + np.einsum("j...,j...->...", a[1:i], rf[i - 1 : 0 : -1]) if i > 1 else rf[i].copy()
        live = err > tiny
        k = np.where(live, -acc / np.where(live, err, 1.0), 0.0)
        k = np.clip(k, -_K_MAX, _K_MAX)
        a[1:i] = a[1:i] + k * a[i - 1 : 0 : -1]
        a[i] = k
        refl[i - 1] = k
        err = err * (1.0 - k * k)
    return _from_front(a, ra.ndim), err, _from_front(refl, ra.ndim)


def lpc_from_power(power: np.ndarray, order: int) -> tuple[np.ndarray, np.ndarray]:
    """LPC ``(a [..., order + 1, frames], gain [..., frames])`` fitted to a one-sided power spectrum.

    ``lpc_envelope(a, gain, n_fft)`` then approximates ``power`` on its own scale.
    """
    order = _order(order)
    r = power_to_autocorr(power)
    if (r.shape[0] if r.ndim == 1 else r.shape[-2]) < order + 1:
        raise ConfigError(f"order: {order} needs a power spectrum with at least {order // 2 + 2} bins")
    a, err, _ = levinson(r, order)
    return a, np.sqrt(np.maximum(err, 0.0))


def lpc(
    audio: np.ndarray,
    order: int,
    frame_length: int | None = None,
    hop_length: int = 256,
    window: str = "hann",
    pad_mode: str = "reflect",
) -> tuple[np.ndarray, np.ndarray]:
    """LPC of a signal by the autocorrelation method on windowed frames.

    ``frame_length=None`` analyses the whole signal ``[..., samples]`` as one windowed frame and returns
    ``(a [..., order + 1], gain [...])``. Otherwise frames are centred exactly as in
    :func:`speechgen.audio.spectral.stft` (``1 + samples // hop_length`` frames, ``pad_mode`` padding) and the
    result is ``(a [..., order + 1, frames], gain [..., frames])``. ``window`` is any scipy window name.
    """
    order = _order(order)
    x = np.asarray(audio)
    if x.ndim < 1 or x.shape[-1] == 0:
        raise AudioError(f"audio: expected shape [..., samples] with samples > 0, got {x.shape}")
    if frame_length is None:
        n = x.shape[-1]
        if n <= order:
            raise AudioError(f"audio: {n} samples are too few for LPC order {order}")
        frame = np.asarray(x, dtype=np.float64) * fft_window(window, n, n)
        if not np.isfinite(frame).all():
            raise AudioError("audio: contains NaN or Inf samples")
        power = np.abs(np.fft.rfft(frame, 2 * n, axis=-1)) ** 2  # [..., n + 1]
        a, gain = lpc_from_power(power if x.ndim == 1 else power[..., None], order)
        return (a, gain) if x.ndim == 1 else (a[..., 0], gain[..., 0])
    frame_length = _order(frame_length, "frame_length")
    if frame_length <= order:
        raise ConfigError(f"frame_length: {frame_length} must exceed the LPC order {order}")
    spec = stft(x, 2 * frame_length, hop_length, frame_length, window, center=True, pad_mode=pad_mode)
    return lpc_from_power(np.abs(spec) ** 2, order)


# -------------------------------------------------------------------------------------------- LSF <-> LPC
def _sum_difference(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``P = A + z^-(p+1) A(1/z)`` and ``Q = A - z^-(p+1) A(1/z)`` as ``[p + 2, ...]`` coefficient arrays."""
    zero = np.zeros((1,) + a.shape[1:])
    fwd = np.concatenate([a, zero])
    rev = np.concatenate([zero, a[::-1]])
    return fwd + rev, fwd - rev


def _deflate(c: np.ndarray, sign: float, step: int) -> np.ndarray:
    """Divide ``c(z)`` by ``(1 + sign * z^-step)`` (exact division assumed); coefficients on axis 0."""
    out = np.zeros((c.shape[0] - step,) + c.shape[1:])
    for k in range(out.shape[0]):
        out[k] = c[k] - sign * out[k - step] if k >= step else c[k]
    return out


def _symmetric_roots(b: np.ndarray) -> np.ndarray:
    """Angles in [0, pi] (sorted, ``[m, N]``) of the unit-circle roots of symmetric ``b [2m + 1, N]``."""
    deg = b.shape[0] - 1
    m = deg // 2
    n = b.shape[1]
    if m == 0:
        return np.zeros((0, n))
    comp = np.zeros((n, deg, deg))
    comp[:, 0, :] = -(b[1:] / b[0]).T
    comp[:, np.arange(1, deg), np.arange(deg - 1)] = 1.0
    roots = np.linalg.eigvals(comp)  # [N, deg]
    ang = np.sort(np.abs(np.angle(roots)), axis=1).reshape(n, m, 2).mean(axis=2).T  # conjugate pairs
    # Newton polish on the real function R(w) = b_m + 2 sum_i b_{m-i} cos(i w) (= e^{jmw} B(e^{jw})).
    i = np.arange(1, m + 1)[:, None, None]
    coef = b[m - 1 :: -1][:, None, :]  # b_{m-i}, i = 1..m -> [m, 1, N]
    for _ in range(3):
        val = b[m][None, :] + 2.0 * np.sum(coef * np.cos(i * ang[None]), axis=0)
        der = -2.0 * np.sum(i * coef * np.sin(i * ang[None]), axis=0)
        step = np.where(np.abs(der) > 0, val / np.where(der == 0, 1.0, der), 0.0)
        ang = ang - np.clip(step, -1e-6, 1e-6)
    return np.sort(np.clip(ang, 0.0, np.pi), axis=0)


def lpc_to_lsf(a: np.ndarray) -> np.ndarray:
    """Line spectral frequencies ``[..., p, frames]`` (radians, sorted, in (0, pi)) of a minimum-phase
    ``A(z)`` given as ``a [..., p + 1, frames]`` (or ``[p + 1]``) with ``a[0] = 1``.

    Roots of the symmetric/antisymmetric polynomials ``P`` and ``Q`` (trivial roots at ``z = ±1`` divided
    out) by batched companion-matrix eigenvalues, polished by Newton steps on the unit circle. Sorted LSFs
    alternate between ``P`` (1st, 3rd, ...) and ``Q`` (2nd, 4th, ...).
    """
    arr = _array(a, "a", min_features=2)
    front = _to_front(arr)
    batch = front.shape[1:]
    flat = front.reshape(front.shape[0], -1)
    if not np.allclose(flat[0], 1.0):
        raise AudioError("a: the first LPC coefficient a[0] must be 1")
    p = flat.shape[0] - 1
    pp, qq = _sum_difference(flat)
    if p % 2 == 0:
        pp, qq = _deflate(pp, 1.0, 1), _deflate(qq, -1.0, 1)
    else:
        qq = _deflate(qq, -1.0, 2)
    wp, wq = _symmetric_roots(pp), _symmetric_roots(qq)
    lsf = np.empty((p,) + flat.shape[1:])
    lsf[0::2], lsf[1::2] = wp, wq
    if not (np.diff(lsf, axis=0) > 0).all():
        lsf = np.sort(lsf, axis=0)  # not interleaved: A(z) was not minimum-phase; still return sorted values
    return _from_front(lsf.reshape((p,) + batch), arr.ndim)


def lsf_to_lpc(lsf: np.ndarray) -> np.ndarray:
    """LPC ``a [..., p + 1, frames]`` (``a[0] = 1``) from sorted LSFs ``[..., p, frames]`` in (0, pi).

    Inverse of :func:`lpc_to_lsf`: ``A = (P + Q) / 2`` with ``P`` built from the 1st, 3rd, ... and ``Q`` from
    the 2nd, 4th, ... frequency. Strictly increasing LSFs always give a minimum-phase ``A(z)``.
    """
    arr = _array(lsf, "lsf")
    front = _to_front(arr)
    batch = front.shape[1:]
    w = front.reshape(front.shape[0], -1)
    if not ((w > 0) & (w < np.pi)).all():
        raise AudioError("lsf: values must lie strictly between 0 and pi")
    if not (np.diff(w, axis=0) > 0).all():
        raise AudioError("lsf: values must be strictly increasing along the LSF axis")
    p = w.shape[0]

    def product(freqs: np.ndarray, trivial: np.ndarray) -> np.ndarray:
        c = np.zeros((p + 2, w.shape[1]))
        c[: trivial.size] = trivial[:, None]
        deg = trivial.size - 1
        for f in freqs:  # multiply by (1 - 2 cos f z^-1 + z^-2)
            new = c.copy()
            new[1 : deg + 2] -= 2.0 * np.cos(f) * c[: deg + 1]
            new[2 : deg + 3] += c[: deg + 1]
            c, deg = new, deg + 2
        return c

    if p % 2 == 0:
        pp, qq = product(w[0::2], np.array([1.0, 1.0])), product(w[1::2], np.array([1.0, -1.0]))
    else:
        pp, qq = product(w[0::2], np.array([1.0])), product(w[1::2], np.array([1.0, 0.0, -1.0]))
    a = 0.5 * (pp + qq)[: p + 1]
    return _from_front(a.reshape((p + 1,) + batch), arr.ndim)


# ------------------------------------------------------------------------------------------------ envelope
def lpc_envelope(a: np.ndarray, gain: np.ndarray | float = 1.0, n_fft: int = 1024) -> np.ndarray:
    """All-pole power envelope ``|G / A(e^jw)|^2`` on ``n_fft // 2 + 1`` bins from 0 to pi.

    ``a [..., p + 1, frames]`` (or ``[p + 1]``), ``gain`` broadcastable to ``[..., frames]`` (a scalar for 1-D
    ``a``). Returns ``[..., n_fft // 2 + 1, frames]`` (or ``[n_fft // 2 + 1]``).
    """
    arr = _array(a, "a", min_features=1)
    n_fft = _order(n_fft, "n_fft")
    p1 = arr.shape[0] if arr.ndim == 1 else arr.shape[-2]
    if n_fft < p1:
        raise ConfigError(f"n_fft: {n_fft} is shorter than the {p1} LPC coefficients")
    g = np.asarray(gain, dtype=np.float64)
    if not np.isfinite(g).all():
        raise AudioError("gain: contains NaN or Inf")
    spec = np.fft.rfft(_to_front(arr), n_fft, axis=0)
    mag2 = np.maximum(spec.real**2 + spec.imag**2, 1e-300)
    return _from_front(g**2 / mag2, arr.ndim)
