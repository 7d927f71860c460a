"""Fundamental frequency (F0), voicing and excitation signals.

- :func:`f0` — YIN (de Cheveigné & Kawahara, 2002): difference function (computed with FFTs, batched over
  frames), cumulative-mean-normalised difference, absolute threshold, parabolic interpolation on the raw
  difference function; voicing needs a clear periodicity dip *and* enough frame energy, so silence and noise
  come out unvoiced.
- :func:`log_f0_interp` — continuous log-F0 with unvoiced gaps linearly interpolated (vocoder conditioning).
- :func:`pulse_train` — impulse-train (or sinusoidal) excitation at the sample rate following a frame F0 track.

Frame convention (shared with the centred STFT / log-mel of :mod:`speechgen.audio.spectral`): a signal of
``n`` samples gives ``1 + n // hop_length`` frames and frame ``t`` is centred on sample ``t * hop_length``
(the signal is zero-padded by ``frame_length // 2`` on the left; the STFT pads by reflection, which only
changes the edge frames).
"""

from __future__ import annotations

import numpy as np

from speechgen.errors import AudioError, ConfigError

__all__ = ["f0", "yin", "log_f0_interp", "pulse_train", "frame_signal", "num_frames"]


# --------------------------------------------------------------------------------------------------- helpers
def _signal(audio: np.ndarray, name: str = "audio") -> np.ndarray:
    x = np.asarray(audio)
    if x.ndim != 1:
        raise AudioError(f"{name}: expected a mono signal of shape (samples,), got {x.shape}")
    if x.size == 0:
        raise AudioError(f"{name}: contains no samples")
    if not np.issubdtype(x.dtype, np.number) or np.iscomplexobj(x):
        raise AudioError(f"{name}: expected real numbers, got dtype {x.dtype}")
    if not np.isfinite(x).all():
        raise AudioError(f"{name}: contains NaN or Inf samples")
    return x.astype(np.float64, copy=False)


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


def _positive_float(value: float, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name}: expected a positive number, got {value!r}") from None
    if not np.isfinite(v) or v <= 0:
        raise ConfigError(f"{name}: expected a positive number, got {value!r}")
    return v


def num_frames(n_samples: int, hop_length: int) -> int:
    """Number of centred frames for ``n_samples`` samples: ``1 + n_samples // hop_length``."""
    return 1 + int(n_samples) // int(hop_length)


def frame_signal(x: np.ndarray, frame_length: int, hop_length: int) -> np.ndarray:
    """Centred frames ``[frames, frame_length]`` (a read-only view); frame ``t`` is centred on ``t * hop``.

    The signal is zero-padded by ``frame_length // 2`` on the left and as needed on the right.
    """
    x = np.asarray(x)
    n_frames = num_frames(x.shape[-1], hop_length)
    left = frame_length // 2
    right = (n_frames - 1) * hop_length + frame_length - left - x.shape[-1]
    padded = np.pad(x, (left, max(right, 0)))
    windows = np.lib.stride_tricks.sliding_window_view(padded, frame_length)
    return windows[: (n_frames - 1) * hop_length + 1 : hop_length]


# ------------------------------------------------------------------------------------------------------ YIN
def yin(
    audio: np.ndarray,
    sr: int,
    hop_length: int = 256,
    frame_length: int = 1024,
    fmin: float = 50.0,
    fmax: float = 500.0,
    threshold: float = 0.1,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Plain YIN over centred frames.

    Returns ``(f0 [frames] in Hz, aperiodicity [frames], rms [frames])``: the F0 estimate of every frame
    (voiced or not), the cumulative-mean-normalised difference at the chosen lag (0 = perfectly periodic,
    about 1 = noise) and the frame's RMS level. :func:`f0` turns these into an F0 track with voicing.
    """
    x = _signal(audio)
    sr = _positive_int(sr, "sr")
    hop_length = _positive_int(hop_length, "hop_length")
    frame_length = _positive_int(frame_length, "frame_length")
    fmin = _positive_float(fmin, "fmin")
    fmax = _positive_float(fmax, "fmax")
    threshold = _positive_float(threshold, "threshold")
    if fmin >= fmax:
        raise ConfigError(f"fmin: must be below fmax, got fmin={fmin} and fmax={fmax}")
    if fmax >= sr / 2:
        raise ConfigError(f"fmax: must be below the Nyquist frequency {sr / 2} Hz, got {fmax}")
    tau_min = max(2, int(np.floor(sr / fmax)))
    tau_max = int(np.ceil(sr / fmin))
    if frame_length < 2 * tau_max + 2:
        raise ConfigError(
            f"frame_length: {frame_length} is too short for fmin={fmin} Hz at {sr} Hz; "
            f"need at least {2 * tau_max + 2} samples (two periods of fmin)"
        )
    frames = frame_signal(x, frame_length, hop_length)  # [T, L]

    # Difference function over every pair (x[m], x[m + tau]) inside the frame, so that the samples used are
    # centred on the frame centre for every lag (no time bias on glides):
    #   d(tau) = sum_{m=0}^{L-1-tau} (x[m] - x[m+tau])^2 = (E - tail(tau)) + (E - head(tau)) - 2 acf(tau),
    # then divided by the number of pairs (L - tau) so that lags are compared on an equal footing.
    n_lags = tau_max + 2
    n_fft = 1 << int(np.ceil(np.log2(frame_length + n_lags)))
    spec = np.fft.rfft(frames, n_fft, axis=1)
    acf = np.fft.irfft(spec.real**2 + spec.imag**2, n_fft, axis=1)[:, :n_lags]
    sq = frames**2
    zero = np.zeros((frames.shape[0], 1))
    head = np.concatenate([zero, np.cumsum(sq[:, : n_lags - 1], axis=1)], axis=1)
    tail = np.concatenate([zero, np.cumsum(sq[:, : -n_lags : -1], axis=1)], axis=1)
    total = sq.sum(axis=1, keepdims=True)
    lags = np.arange(n_lags)
    diff = np.maximum(2.0 * (total - acf) - head - tail, 0.0) / (frame_length - lags)
    diff[:, 0] = 0.0

    # Cumulative-mean-normalised difference d'(tau) = d(tau) * tau / sum_{j<=tau} d(j); d'(0) = 1.
    cum = np.cumsum(diff[:, 1:], axis=1)
    scale = np.maximum(total / frame_length, 1e-300) * 1e-12  # treats an all-zero frame as "no periodicity"
    cmnd = np.ones_like(diff)
    cmnd[:, 1:] = np.where(cum > scale, diff[:, 1:] * lags[1:] / np.maximum(cum, scale), 1.0)

    # Absolute threshold: first lag in range whose d' dips below the threshold, then walk down to the bottom
    # of that dip; without such a dip take the global minimum of d' in range.
    search = cmnd[:, tau_min : tau_max + 1]
    below = search < threshold
    has_dip = below.any(axis=1)
    first = np.argmax(below, axis=1)
    rising = np.append(search[:, 1:] >= search[:, :-1], np.ones((search.shape[0], 1), bool), axis=1)
    idx = np.arange(search.shape[1])
    bottom = np.argmax(rising & (idx[None, :] >= first[:, None]), axis=1)
    best = np.where(has_dip, bottom, np.argmin(search, axis=1)) + tau_min
    rows = np.arange(frames.shape[0])
    aperiodicity = cmnd[rows, best]

    # Parabolic interpolation of the raw difference function around the chosen lag (less biased than d').
    left, centre, right = diff[rows, best - 1], diff[rows, best], diff[rows, best + 1]
    denom = left - 2.0 * centre + right
    shift = np.where(denom > 0, 0.5 * (left - right) / np.where(denom > 0, denom, 1.0), 0.0)
    period = best + np.clip(shift, -1.0, 1.0)
    rms = np.sqrt(np.mean(frames**2, axis=1))
    return sr / period, aperiodicity, rms


def f0(
    audio: np.ndarray,
    sr: int,
    hop_length: int = 256,
    frame_length: int = 1024,
    fmin: float = 50.0,
    fmax: float = 500.0,
    threshold: float = 0.1,
    *,
    voicing_threshold: float = 0.25,
    silence_db: float = -60.0,
    relative_db: float = -40.0,
    median: int = 1,
) -> tuple[np.ndarray, np.ndarray]:
    """F0 track and voicing flags by YIN, one value per centred frame (``1 + len(audio) // hop_length``).

    A frame is voiced when (1) its YIN aperiodicity is below ``voicing_threshold``, (2) its RMS level is above
    ``silence_db`` dBFS and (3) it is no more than ``-relative_db`` dB below the loudest frame of the clip.
    ``threshold`` is YIN's absolute threshold for choosing the period dip. ``median`` (odd, ≥ 1) applies a
    median filter of that many frames to log-F0 inside each voiced run (1 = off).

    Returns ``(f0 [frames] float64 in Hz with 0 where unvoiced, voiced [frames] bool)``.
    """
    voicing_threshold = _positive_float(voicing_threshold, "voicing_threshold")
    median = _positive_int(median, "median")
    if median % 2 == 0:
        raise ConfigError(f"median: expected an odd number of frames, got {median}")
    freq, aperiodicity, rms = yin(audio, sr, hop_length, frame_length, fmin, fmax, threshold)
    level_db = 20.0 * np.log10(np.maximum(rms, 1e-12))
    voiced = (
        (aperiodicity < max(voicing_threshold, threshold))
        & (level_db > float(silence_db))
        & (level_db > level_db.max() + float(relative_db))
    )
    if median > 1:
        freq = _median_in_runs(freq, voiced, median)
    return np.where(voiced, freq, 0.0), voiced


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """``[start, stop)`` of every run of True in a 1-D bool array."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1).tolist(), np.flatnonzero(edges == -1).tolist()))


def _median_in_runs(freq: np.ndarray, voiced: np.ndarray, width: int) -> np.ndarray:
    out = freq.copy()
    half = width // 2
    for start, stop in _runs(voiced):
        seg = np.log(freq[start:stop])
        padded = np.pad(seg, half, mode="edge")
        windows = np.lib.stride_tricks.sliding_window_view(padded, width)
        out[start:stop] = np.exp(np.median(windows, axis=1))
    return out


# ------------------------------------------------------------------------------------------- F0 contours
def _track(f0_frames: np.ndarray, voiced: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(f0_frames, dtype=np.float64)
    v = np.asarray(voiced)
    if f.ndim != 1 or f.size == 0:
        raise AudioError(f"f0: expected a non-empty 1-D array of frames, got shape {f.shape}")
    if v.shape != f.shape:
        raise AudioError(f"voiced: shape {v.shape} does not match f0 shape {f.shape}")
    if v.dtype != bool:
        if not np.isin(v, (0, 1)).all():
            raise AudioError("voiced: expected booleans (or 0/1)")
        v = v.astype(bool)
    if not np.isfinite(f).all():
        raise AudioError("f0: contains NaN or Inf")
    if (f[v] <= 0).any():
        raise AudioError("f0: voiced frames must have a positive F0")
    return f, v


def log_f0_interp(f0: np.ndarray, voiced: np.ndarray, default_f0: float = 100.0) -> np.ndarray:
    """Continuous log-F0 ``[frames]``: ``log(f0)`` on voiced frames, linear interpolation across unvoiced
    gaps and the nearest voiced value held before the first / after the last voiced frame.

    A track without any voiced frame gives ``log(default_f0)`` everywhere.
    """
    f, v = _track(f0, voiced)
    default_f0 = _positive_float(default_f0, "default_f0")
    if not v.any():
        return np.full(f.shape, np.log(default_f0))
    t = np.arange(f.size)
    return np.interp(t, t[v], np.log(f[v]))


def pulse_train(
    f0_frames: np.ndarray,
    voiced: np.ndarray,
    sr: int,
    hop_length: int,
    length: int | None = None,
    *,
    kind: str = "impulse",
) -> np.ndarray:
    """Excitation signal ``[length]`` (float32) at the sample rate following a frame F0 track.

    F0 is interpolated linearly (in log-F0, across gaps) between frame centres ``t * hop_length`` and
    integrated to a phase. Each voiced sample takes the voicing of its nearest frame; the phase restarts at
    every voiced onset. ``kind="impulse"`` puts one unit impulse per period (the first at the onset);
    ``kind="sine"`` gives ``sin(2π·phase)``. Unvoiced samples are zero. ``length`` defaults to
    ``frames * hop_length``.
    """
    f, v = _track(f0_frames, voiced)
    sr = _positive_int(sr, "sr")
    hop_length = _positive_int(hop_length, "hop_length")
    if kind not in ("impulse", "sine"):
        raise ConfigError(f"kind: expected 'impulse' or 'sine', got {kind!r}")
    n = f.size * hop_length if length is None else _positive_int(length, "length")
    if (f[v] >= sr / 2).any():
        raise AudioError(f"f0: values must be below the Nyquist frequency {sr / 2} Hz")

    pos = np.arange(n, dtype=np.float64)
    centres = np.arange(f.size, dtype=np.float64) * hop_length
    freq = np.exp(np.interp(pos, centres, log_f0_interp(f, v)))
    frame_of = np.clip(np.floor(pos / hop_length + 0.5).astype(np.int64), 0, f.size - 1)
    on = v[frame_of]
    inc = np.where(on, freq / sr, 0.0)

    # phase[k] = cycles completed before sample k within its voiced run (restarts at each onset)
    before = np.concatenate([[0.0], np.cumsum(inc)[:-1]])
    onset = on & ~np.concatenate([[False], on[:-1]])
    run_start_phase = np.maximum.accumulate(np.where(onset, before, 0.0))
    phase = before - run_start_phase

    out = np.zeros(n, dtype=np.float64)
    if kind == "impulse":
        cycles = np.floor(phase + 1e-9)
        prev = np.concatenate([[-1.0], cycles[:-1]])
        out[on & (onset | (cycles > prev))] = 1.0
    else:
        out[on] = np.sin(2.0 * np.pi * phase[on])
    return out.astype(np.float32)
