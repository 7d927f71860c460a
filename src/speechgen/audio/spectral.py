"""Short-time Fourier analysis: STFT/iSTFT, mel filterbank, mel/log-mel/MFCC, and the amplitude+phase image.

Two implementations with one convention:

- numpy reference functions (``stft``, ``istft``, ``mel_spectrogram``, ``log_mel``, ``mfcc``, ...). They accept
  ``[..., samples]`` and compute in float64 (complex128); they exist to define the numbers and for tests/eval.
- torch modules (:class:`STFT`, :class:`MelSpectrogram`, :class:`LogMelSpectrogram`) for batched ``[..., samples]`` tensors on
  any device, in the input's dtype (their window and filterbank buffers are float64, non-persistent, and are cast
  to the input's device and dtype on each call). They match the numpy reference within 1e-12 (float64) and 1e-5
  (float32) of the peak value; the reference matches librosa (``pad_mode="reflect"``; librosa >= 0.10 defaults
  to "constant") within 1e-12, or 1e-6 where librosa builds its mel filterbank in float32. See
  tests/audio/test_spectral.py.

Conventions (identical to librosa's): frames are centred (``center=True`` pads ``n_fft // 2`` on both sides,
reflect mode by default), the window (scipy name, periodic) of ``win_length`` is zero-padded to ``n_fft`` in the
middle, spectra are one-sided ``[..., n_fft // 2 + 1, frames]``, unnormalised (no 1/n_fft). A full-scale sinusoid
on a bin centre has magnitude ``sum(window) / 2``.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch
from scipy.signal import get_window

from speechgen.errors import AudioError, ConfigError

# ---------------------------------------------------------------------------------------------------------------
# parameter checks and windows


def check_stft_params(n_fft: int, hop_length: int, win_length: int | None = None) -> int:
    """Validate STFT sizes; return the effective ``win_length`` (``n_fft`` when None)."""
    if int(n_fft) != n_fft or n_fft < 2:
        raise ConfigError(f"n_fft must be an integer >= 2, got {n_fft}")
    if int(hop_length) != hop_length or hop_length <= 0:
        raise ConfigError(f"hop_length must be a positive integer, got {hop_length}")
    win = n_fft if win_length is None else win_length
    if int(win) != win or win <= 0:
        raise ConfigError(f"win_length must be a positive integer, got {win}")
    if win > n_fft:
        raise ConfigError(f"win_length {win} exceeds n_fft {n_fft}")
    return int(win)


def fft_window(window: str, win_length: int, n_fft: int) -> np.ndarray:
    """Periodic ``window`` (any scipy name: "hann", "hamming", ...) of ``win_length`` centred in ``n_fft`` zeros."""
    try:
        w = get_window(window, win_length, fftbins=True).astype(np.float64)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"window: unknown window '{window}'") from exc
    left = (n_fft - win_length) // 2
    return np.pad(w, (left, n_fft - win_length - left))


def _as_audio(x: np.ndarray, name: str = "audio") -> np.ndarray:
    a = np.asarray(x)
    if a.ndim < 1 or a.shape[-1] == 0:
        raise AudioError(f"{name}: expected shape [..., samples] with samples > 0, got {a.shape}")
    if np.iscomplexobj(a) or not np.issubdtype(a.dtype, np.number):
        raise AudioError(f"{name}: expected real samples, got dtype {a.dtype}")
    a = a.astype(np.float64, copy=False)
    if not np.isfinite(a).all():
        raise AudioError(f"{name}: contains NaN or Inf samples")
    return a


def _check_padding(n_samples: int, n_fft: int, center: bool, pad_mode: str) -> None:
    if center and pad_mode == "reflect" and n_samples <= n_fft // 2:
        raise AudioError(f"audio of {n_samples} samples is too short for reflect padding with n_fft {n_fft} "
                         f"(needs > {n_fft // 2})")
    if not center and n_samples < n_fft:
        raise AudioError(f"audio of {n_samples} samples is shorter than n_fft {n_fft} (center=False)")
    if pad_mode not in ("reflect", "constant"):
        raise ConfigError(f"pad_mode must be 'reflect' or 'constant', got '{pad_mode}'")


# ---------------------------------------------------------------------------------------------------------------
# numpy reference: STFT / iSTFT


def stft(
    x: np.ndarray,
    n_fft: int,
    hop_length: int,
    win_length: int | None = None,
    window: str = "hann",
    center: bool = True,
    pad_mode: str = "reflect",
) -> np.ndarray:
    """One-sided STFT of ``x [..., samples]`` -> complex128 ``[..., n_fft // 2 + 1, frames]``.

    With ``center=True`` there are ``1 + (samples + 2 * (n_fft // 2) - n_fft) // hop_length`` frames
    (``1 + samples // hop_length`` for even ``n_fft``).
    """
    win_length = check_stft_params(n_fft, hop_length, win_length)
    a = _as_audio(x)
    _check_padding(a.shape[-1], n_fft, center, pad_mode)
    if center:
        pad = [(0, 0)] * (a.ndim - 1) + [(n_fft // 2, n_fft // 2)]
        a = np.pad(a, pad, mode=pad_mode)
    frames = np.lib.stride_tricks.sliding_window_view(a, n_fft, axis=-1)[..., ::hop_length, :]
    spec = np.fft.rfft(frames * fft_window(window, win_length, n_fft), axis=-1)
    return np.swapaxes(spec, -1, -2)


def _overlap_add(frames: np.ndarray, hop_length: int) -> np.ndarray:
    """Sum ``frames [..., n_fft, n_frames]`` placed ``hop_length`` apart -> ``[..., n_fft + hop*(n_frames-1)]``."""
    n_fft, n_frames = frames.shape[-2:]
    n_chunks = -(-n_fft // hop_length)
    out = np.zeros(frames.shape[:-2] + (hop_length * (n_chunks + n_frames - 1),), dtype=frames.dtype)
    for k in range(n_chunks):
        chunk = frames[..., k * hop_length:(k + 1) * hop_length, :]
        if chunk.shape[-2] < hop_length:
            chunk = np.pad(chunk, [(0, 0)] * (chunk.ndim - 2) + [(0, hop_length - chunk.shape[-2]), (0, 0)])
        seq = np.swapaxes(chunk, -1, -2).reshape(frames.shape[:-2] + (n_frames * hop_length,))
        out[..., k * hop_length:(k + n_frames) * hop_length] += seq
    return out[..., : n_fft + hop_length * (n_frames - 1)]


def istft(
    spec: np.ndarray,
    hop_length: int,
    win_length: int | None = None,
    n_fft: int | None = None,
    window: str = "hann",
    center: bool = True,
    length: int | None = None,
) -> np.ndarray:
    """Inverse of :func:`stft` (least-squares overlap-add, divided by the window-sum-square) -> float64 audio.

    ``n_fft`` defaults to ``2 * (bins - 1)``. ``length`` trims or zero-pads the output to exactly that many samples
    (pass the original length for a sample-exact round trip); otherwise ``hop_length * (frames - 1)`` samples
    are returned when ``center=True``.
    """
    s = np.asarray(spec)
    if s.ndim < 2:
        raise AudioError(f"spectrogram: expected shape [..., bins, frames], got {s.shape}")
    n_fft = 2 * (s.shape[-2] - 1) if n_fft is None else n_fft
    win_length = check_stft_params(n_fft, hop_length, win_length)
    if s.shape[-2] != n_fft // 2 + 1:
        raise ConfigError(f"spectrogram has {s.shape[-2]} bins but n_fft {n_fft} needs {n_fft // 2 + 1}")
    if length is not None and length <= 0:
        raise ConfigError(f"length must be positive, got {length}")
    w = fft_window(window, win_length, n_fft)
    frames = np.fft.irfft(s, n=n_fft, axis=-2) * w[:, None]
    y = _overlap_add(frames, hop_length)
    wss = _overlap_add(np.broadcast_to((w * w)[:, None], (n_fft, s.shape[-1])), hop_length)
    nonzero = wss > np.finfo(np.float64).tiny
    y[..., nonzero] /= wss[nonzero]
    start = n_fft // 2 if center else 0
    if length is None:
        return y[..., start: y.shape[-1] - start]
    y = y[..., start:start + length]
    if y.shape[-1] < length:
        y = np.pad(y, [(0, 0)] * (y.ndim - 1) + [(0, length - y.shape[-1])])
    return y


# ---------------------------------------------------------------------------------------------------------------
# numpy reference: mel, log-mel, MFCC


def hz_to_mel(hz: np.ndarray | float, htk: bool = False) -> np.ndarray:
    """Hz -> mel: HTK ``2595 log10(1 + f/700)``, or Slaney (linear 200/3 Hz per mel below 1 kHz, log above)."""
    f = np.asarray(hz, dtype=np.float64)
    if htk:
        return 2595.0 * np.log10(1.0 + f / 700.0)
    lin = f / (200.0 / 3.0)
    log = 15.0 + np.log(np.maximum(f, 1e-10) / 1000.0) / (np.log(6.4) / 27.0)
    return np.where(f >= 1000.0, log, lin)


def mel_to_hz(mel: np.ndarray | float, htk: bool = False) -> np.ndarray:
    """Inverse of :func:`hz_to_mel`."""
    m = np.asarray(mel, dtype=np.float64)
    if htk:
        return 700.0 * (10.0 ** (m / 2595.0) - 1.0)
    return np.where(m >= 15.0, 1000.0 * np.exp((np.log(6.4) / 27.0) * (m - 15.0)), m * (200.0 / 3.0))


def _check_band(sr: float, fmin: float, fmax: float | None) -> float:
    if sr <= 0:
        raise ConfigError(f"sample rate must be positive, got {sr}")
    fmax = sr / 2.0 if fmax is None else float(fmax)
    if fmin < 0 or fmin >= fmax:
        raise ConfigError(f"need 0 <= fmin < fmax, got fmin {fmin}, fmax {fmax}")
    if fmax > sr / 2.0:
        raise ConfigError(f"fmax {fmax} exceeds the Nyquist frequency {sr / 2.0} of sample rate {sr}")
    return fmax


def mel_filterbank(
    sr: float,
    n_fft: int,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = None,
    htk: bool = False,
    norm: str | None = "slaney",
) -> np.ndarray:
    """Triangular mel filters ``[n_mels, n_fft // 2 + 1]`` (float64), equal to ``librosa.filters.mel``.

    ``norm="slaney"`` scales each triangle to unit area in Hz (``2 / bandwidth``); ``None`` leaves peaks at 1.
    ``fmax=None`` means ``sr / 2``.
    """
    fmax = _check_band(sr, fmin, fmax)
    if int(n_fft) != n_fft or n_fft < 2:
        raise ConfigError(f"n_fft must be an integer >= 2, got {n_fft}")
    if int(n_mels) != n_mels or n_mels <= 0:
        raise ConfigError(f"n_mels must be a positive integer, got {n_mels}")
    if norm not in ("slaney", None):
        raise ConfigError(f"norm must be 'slaney' or None, got {norm!r}")
    fft_hz = np.linspace(0.0, sr / 2.0, n_fft // 2 + 1)
    edges = mel_to_hz(np.linspace(hz_to_mel(fmin, htk), hz_to_mel(fmax, htk), n_mels + 2), htk)
    width = np.diff(edges)
    dist = edges[:, None] - fft_hz[None, :]
    rising = -dist[:-2] / width[:-1, None]
    falling = dist[2:] / width[1:, None]
    weights = np.maximum(0.0, np.minimum(rising, falling))
    if norm == "slaney":
        weights *= (2.0 / (edges[2:] - edges[:-2]))[:, None]
    if not np.all(weights.max(axis=1) > 0):
        warnings.warn(f"mel_filterbank: some of the {n_mels} mel filters are empty; use fewer mels or a larger "
                      f"n_fft than {n_fft}", stacklevel=2)
    return weights


def band_average(filterbank: np.ndarray) -> np.ndarray:
    """``A`` ``[bins, bands]`` of a mel filterbank ``M`` ``[bands, bins]``: ``A · (M · x)`` is, per bin, the mean
    over the bands that cover it (weighted by ``M``) of each band's flat-spectrum level ``(M · x)_b / Σ_k M_bk``, so
    ``A · M · c = c`` for a flat magnitude ``c`` and ``A · M · x ≥ 0`` for any ``x ≥ 0``. Unlike the pseudo-inverse
    it never dips below zero (where the pseudo-inverse undershoots between narrow low bands). A bin no band covers
    (DC, or above ``fmax``) takes the nearest covered bin's row."""
    fb = np.asarray(filterbank, dtype=np.float64)
    cover, width = fb.sum(axis=0), fb.sum(axis=1)  # per bin: the bands' total weight; per band: its area
    covered = np.flatnonzero(cover > 0)
    if covered.size == 0:
        raise ConfigError("band_average: the mel filterbank covers no bin")
    nearest = covered[np.abs(covered[None, :] - np.arange(fb.shape[1])[:, None]).argmin(axis=1)]
    weights = fb[:, nearest] / cover[nearest]  # [bands, bins]: each bin's bands, summing to 1
    return (weights / np.maximum(width, 1e-12)[:, None]).T  # an empty band (zero weights) adds nothing


def mel_spectrogram(
    audio: np.ndarray,
    sr: float,
    n_fft: int = 1024,
    hop_length: int = 256,
    win_length: int = 1024,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = 8000.0,
    power: float = 1.0,
) -> np.ndarray:
    """Mel spectrogram ``[..., n_mels, frames]`` = ``mel_filterbank @ |stft|**power`` (slaney mel, slaney norm).

    ``power=1`` gives mel magnitude, ``power=2`` mel power. Hann window, centred reflect-padded frames.
    """
    if power <= 0:
        raise ConfigError(f"power must be positive, got {power}")
    fb = mel_filterbank(sr, n_fft, n_mels, fmin, fmax)
    return fb @ (np.abs(stft(audio, n_fft, hop_length, win_length)) ** power)


def log_mel(
    audio: np.ndarray,
    sr: float,
    n_fft: int = 1024,
    hop_length: int = 256,
    win_length: int = 1024,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = 8000.0,
    eps: float = 1e-5,
) -> np.ndarray:
    """Vocoder log-mel ``[..., n_mels, frames]`` = ``ln(max(mel magnitude, eps))`` (natural log, power 1).

    The mel magnitude is :func:`mel_spectrogram` with ``power=1``; with the default ``eps`` silence reads
    ``ln(1e-5) = -11.51``. Defaults are those of docs/data.md, Features (n_fft 1024, hop 256, 80 bands, 0-8 kHz, for
    16 kHz audio).
    """
    if eps <= 0:
        raise ConfigError(f"eps must be positive, got {eps}")
    return np.log(np.maximum(mel_spectrogram(audio, sr, n_fft, hop_length, win_length, n_mels, fmin, fmax), eps))


def dct_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Orthonormal DCT-II basis ``D [n_out, n_in]``: ``c = D @ x`` equals ``scipy.fft.dct(x, 2, norm="ortho")[:n_out]``.

    ``D[k, n] = sqrt(2 / n_in) cos(pi k (2n + 1) / (2 n_in))`` with row 0 scaled by ``1 / sqrt(2)``; rows are
    orthonormal, so ``D.T @ c`` is the least-squares inverse (exact when ``n_out == n_in``).
    """
    if int(n_in) != n_in or n_in <= 0:
        raise ConfigError(f"n_in must be a positive integer, got {n_in}")
    if int(n_out) != n_out or not 0 < n_out <= n_in:
        raise ConfigError(f"n_out must be an integer in [1, n_in={n_in}], got {n_out}")
    k = np.arange(n_out)[:, None]
    n = np.arange(n_in)[None, :]
    d = np.sqrt(2.0 / n_in) * np.cos(np.pi * k * (2 * n + 1) / (2 * n_in))
    d[0] /= np.sqrt(2.0)
    return d


MFCC_AMIN = 1e-10  # power floor before the dB conversion in mfcc (librosa.power_to_db's default amin)


def mfcc(
    audio: np.ndarray,
    sr: float,
    n_mfcc: int = 20,
    n_fft: int = 1024,
    hop_length: int = 256,
    win_length: int = 1024,
    n_mels: int = 80,
    fmin: float = 0.0,
    fmax: float | None = 8000.0,
) -> np.ndarray:
    """MFCCs ``[..., n_mfcc, frames]`` = ``dct_matrix(n_mels, n_mfcc) @ (10 log10(max(P, 1e-10)))``.

    ``P = mel_filterbank(sr, n_fft, n_mels, fmin, fmax) @ |stft(audio, n_fft, hop_length, win_length)|**2`` is the
    mel *power* spectrogram (slaney mel, slaney norm, hann, centred reflect padding); the log is in dB with
    floor :data:`MFCC_AMIN` and no reference/top-dB clipping. This equals
    ``librosa.feature.mfcc(S=librosa.power_to_db(P, top_db=None), n_mfcc=n_mfcc)``. Pseudo-inverse:
    ``P ~ 10 ** (dct_matrix(n_mels, n_mfcc).T @ c / 10)``.
    """
    power_mel = mel_spectrogram(audio, sr, n_fft, hop_length, win_length, n_mels, fmin, fmax, power=2.0)
    return dct_matrix(n_mels, n_mfcc) @ (10.0 * np.log10(np.maximum(power_mel, MFCC_AMIN)))


# ---------------------------------------------------------------------------------------------------------------
# amplitude + phase image (docs/data.md, Features)


def image_length(n_frames: int, n_fft: int, hop_length: int) -> int:
    """Number of samples for which the centred STFT has exactly ``n_frames`` frames."""
    return hop_length * (n_frames - 1) + n_fft - 2 * (n_fft // 2)


def _db_ref(db_ref: float | None, n_fft: int) -> float:
    ref = n_fft / 4.0 if db_ref is None else float(db_ref)
    if ref <= 0:
        raise ConfigError(f"db_ref must be positive, got {db_ref}")
    return ref


def _check_image_params(n_fft: int, n_bins: int, db_floor: float) -> None:
    if int(n_bins) != n_bins or not 0 < n_bins <= n_fft // 2 + 1:
        raise ConfigError(f"n_bins must be an integer in [1, {n_fft // 2 + 1}] for n_fft {n_fft}, got {n_bins}")
    if db_floor >= 0:
        raise ConfigError(f"db_floor must be negative, got {db_floor}")


def amp_phase_image(
    audio: np.ndarray,
    n_fft: int = 256,
    hop_length: int = 128,
    n_bins: int = 128,
    n_frames: int = 128,
    db_floor: float = -80.0,
    db_ref: float | None = None,
) -> np.ndarray:
    """Two-channel STFT image float32 ``[..., 2, n_bins, n_frames]`` of ``audio [..., samples]``.

    The audio is zero-padded or cropped at the end to :func:`image_length` samples (16256 for the defaults), then
    analysed with a hann STFT (``win_length = n_fft``, centred, reflect padding); bins ``>= n_bins`` are dropped
    (the defaults keep 0-7.94 kHz at 16 kHz: only the Nyquist bin goes).

    - channel 0: ``dB = 20 log10(|S| / db_ref)`` clipped to ``[db_floor, 0]``, mapped linearly to ``[-1, 1]``:
      ``1 + 2 dB / -db_floor`` (``db_floor`` -> -1, 0 dB -> +1). ``db_ref=None`` takes ``n_fft / 4`` (``sum(hann) /
      2``), the magnitude of a full-scale sinusoid, so 0 dB means dBFS.
    - channel 1: phase ``angle(S) / pi`` in ``[-1, 1]``.
    """
    check_stft_params(n_fft, hop_length)
    _check_image_params(n_fft, n_bins, db_floor)
    if int(n_frames) != n_frames or n_frames <= 0:
        raise ConfigError(f"n_frames must be a positive integer, got {n_frames}")
    a = _as_audio(audio)
    want = image_length(n_frames, n_fft, hop_length)
    a = a[..., :want] if a.shape[-1] >= want else np.pad(a, [(0, 0)] * (a.ndim - 1) + [(0, want - a.shape[-1])])
    spec = stft(a, n_fft, hop_length)[..., :n_bins, :]
    ref = _db_ref(db_ref, n_fft)
    db = 20.0 * np.log10(np.maximum(np.abs(spec), ref * 10.0 ** (db_floor / 20.0)) / ref)
    amp = 1.0 + 2.0 * np.clip(db, db_floor, 0.0) / -db_floor
    return np.stack([amp, np.angle(spec) / np.pi], axis=-3).astype(np.float32)


def image_magnitude(
    image: np.ndarray,
    n_fft: int = 256,
    db_floor: float = -80.0,
    db_ref: float | None = None,
) -> np.ndarray:
    """Linear magnitude ``[..., n_fft // 2 + 1, frames]`` from channel 0 of an image (dropped bins are zero).

    ``image`` is ``[..., C, n_bins, frames]`` with ``C >= 1``; values are clipped to [-1, 1] first, and -1 (at or
    below the floor) decodes to silence: a floor-level magnitude would carry the zero phase of digital silence and
    sum to an audible click per frame.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim < 3 or img.shape[-3] < 1:
        raise AudioError(f"image: expected shape [..., channels, bins, frames], got {img.shape}")
    check_stft_params(n_fft, 1)
    _check_image_params(n_fft, img.shape[-2], db_floor)
    db = (np.clip(img[..., 0, :, :], -1.0, 1.0) - 1.0) * (-db_floor / 2.0)
    mag = np.where(img[..., 0, :, :] <= -1.0, 0.0, _db_ref(db_ref, n_fft) * 10.0 ** (db / 20.0))
    return np.pad(mag, [(0, 0)] * (mag.ndim - 2) + [(0, n_fft // 2 + 1 - mag.shape[-2]), (0, 0)])


def image_to_audio(
    image: np.ndarray,
    n_fft: int = 256,
    hop_length: int = 128,
    db_floor: float = -80.0,
    db_ref: float | None = None,
    length: int | None = None,
) -> np.ndarray:
    """Invert :func:`amp_phase_image` with its own phase (channel 1) by iSTFT -> float32 ``[..., samples]``.

    Use the same ``n_fft``, ``db_floor`` and ``db_ref`` as for the analysis. Returns :func:`image_length` samples
    unless ``length`` is given. For amplitude-only images see ``speechgen.audio.phase.amp_image_to_audio_griffinlim``.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim < 3 or img.shape[-3] != 2:
        raise AudioError(f"image: expected shape [..., 2, bins, frames], got {img.shape}")
    mag = image_magnitude(img, n_fft, db_floor, db_ref)
    phase = np.pi * np.clip(img[..., 1, :, :], -1.0, 1.0)
    phase = np.pad(phase, [(0, 0)] * (phase.ndim - 2) + [(0, mag.shape[-2] - phase.shape[-2]), (0, 0)])
    return istft(mag * np.exp(1j * phase), hop_length, n_fft=n_fft, length=length).astype(np.float32)


# ---------------------------------------------------------------------------------------------------------------
# torch: batched, any device

#: batched mel features run over this many samples at a time (8 one-second clips at 16 kHz): the complex spectra
#: of a chunk stay in the cache (``speechgen bench features``, docs/performance.md)
CHUNK_SAMPLES = 1 << 17


def exporting() -> bool:
    """True while tracing or exporting, when shape-dependent Python loops must not run."""
    return torch.jit.is_tracing() or torch.onnx.is_in_onnx_export()


class STFT(torch.nn.Module):
    """Batched one-sided STFT: ``[..., samples]`` real -> ``[..., n_fft // 2 + 1, frames]`` complex.

    Same convention as :func:`stft`; the window is cast to the input's device and dtype. ``inverse`` is the
    matching iSTFT (``torch.istft``, window-sum-square normalised).
    """

    def __init__(self, n_fft: int, hop_length: int, win_length: int | None = None, window: str = "hann",
                 center: bool = True, pad_mode: str = "reflect") -> None:
        super().__init__()
        self.win_length = check_stft_params(n_fft, hop_length, win_length)
        if pad_mode not in ("reflect", "constant"):
            raise ConfigError(f"pad_mode must be 'reflect' or 'constant', got '{pad_mode}'")
        self.n_fft, self.hop_length, self.center, self.pad_mode = int(n_fft), int(hop_length), center, pad_mode
        self.register_buffer("window", torch.from_numpy(fft_window(window, self.win_length, n_fft)),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 1 or x.shape[-1] == 0 or x.is_complex():
            raise AudioError(f"audio: expected real [..., samples] with samples > 0, got {x.dtype} {tuple(x.shape)}")
        _check_padding(x.shape[-1], self.n_fft, self.center, self.pad_mode)
        flat = x.reshape(-1, x.shape[-1])
        spec = torch.stft(flat, self.n_fft, self.hop_length, window=self.window.to(flat), center=self.center,
                          pad_mode=self.pad_mode, return_complex=True)
        return spec.reshape(x.shape[:-1] + spec.shape[-2:])

    def inverse(self, spec: torch.Tensor, length: int | None = None) -> torch.Tensor:
        """iSTFT of ``[..., bins, frames]`` -> ``[..., samples]`` (real dtype of ``spec``)."""
        if spec.ndim < 2 or spec.shape[-2] != self.n_fft // 2 + 1:
            raise AudioError(f"spectrogram: expected [..., {self.n_fft // 2 + 1}, frames], got {tuple(spec.shape)}")
        flat = spec.reshape((-1,) + spec.shape[-2:])
        y = torch.istft(flat, self.n_fft, self.hop_length, window=self.window.to(flat.device, flat.real.dtype),
                        center=self.center, length=length)
        return y.reshape(spec.shape[:-2] + y.shape[-1:])


class MelSpectrogram(torch.nn.Module):
    """Batched :func:`mel_spectrogram`: ``[..., samples]`` -> ``[..., n_mels, frames]`` in the input's dtype."""

    def __init__(self, sr: float, n_fft: int = 1024, hop_length: int = 256, win_length: int = 1024,
                 n_mels: int = 80, fmin: float = 0.0, fmax: float | None = 8000.0, power: float = 1.0) -> None:
        super().__init__()
        if power <= 0:
            raise ConfigError(f"power must be positive, got {power}")
        self.stft = STFT(n_fft, hop_length, win_length)
        self.power = float(power)
        self.register_buffer("filterbank", torch.from_numpy(mel_filterbank(sr, n_fft, n_mels, fmin, fmax)),
                             persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = max(1, CHUNK_SAMPLES // max(1, x.shape[-1]))
        if x.ndim < 2 or x[..., 0].numel() <= rows or exporting():
            return self._mel(x)
        # a few signals at a time: the spectra stay in cache and the allocator reuses one block
        out = torch.cat([self._mel(chunk) for chunk in x.reshape(-1, x.shape[-1]).split(rows)])
        return out.reshape(x.shape[:-1] + out.shape[-2:])

    def _mel(self, x: torch.Tensor) -> torch.Tensor:
        spec = self.stft(x)
        if torch.is_grad_enabled() and x.requires_grad:
            mag = spec.abs()  # its gradient is 0 at a zero bin, where sqrt(re^2 + im^2)'s is not a number
            mag = mag.pow(self.power) if self.power != 1.0 else mag
        else:  # the same magnitude, cheaper than the complex abs (issue 25, docs/performance.md)
            parts = torch.view_as_real(spec)
            power = parts[..., 0].square() + parts[..., 1].square()
            mag = power.sqrt() if self.power == 1.0 else power if self.power == 2.0 else power.pow(self.power / 2)
        # frames as rows: one matrix product over all of them (not one small product per signal)
        mel = torch.matmul(mag.transpose(-1, -2), self.filterbank.to(mag).T)
        return mel.transpose(-1, -2).contiguous()


class LogMelSpectrogram(MelSpectrogram):
    """Batched :func:`log_mel`: ``ln(max(mel magnitude, eps))``, ``[..., samples]`` -> ``[..., n_mels, frames]``."""

    def __init__(self, sr: float, n_fft: int = 1024, hop_length: int = 256, win_length: int = 1024,
                 n_mels: int = 80, fmin: float = 0.0, fmax: float | None = 8000.0, eps: float = 1e-5) -> None:
        super().__init__(sr, n_fft, hop_length, win_length, n_mels, fmin, fmax, power=1.0)
        if eps <= 0:
            raise ConfigError(f"eps must be positive, got {eps}")
        self.eps = float(eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.log(torch.clamp(super().forward(x), min=self.eps))
