"""Where the speech is in a clip: energy-based voice activity on the log-mel, the duration rules of the judge's
"not a digit" outcome, and the one-second crop around the spoken region (docs/results.md, The judge).

A spoken digit is one region of speech of roughly 0.2-1.2 s. :func:`find_speech` reads the frame levels of the
judge's log-mel (80 bands, n_fft 1024, hop 256 at 16 kHz: 16 ms frames; level = 10 log10 of the frame's summed
squared mel magnitudes, smoothed over 3 frames) and marks a frame active when it is within ``range_db`` (40 dB) of
the loudest frame *and* ``floor_db`` (8 dB) above the clip's noise floor (the 10th percentile of the levels, so a
steady background is never speech). Active runs closer than ``merge_gap`` (0.3 s: the closure of a stop inside a
word, as in "six" or "eight", is shorter) are merged into regions. A region is *word-like* when it lasts at least
``min_word`` (0.1 s) and its loudest frame is within ``word_db`` (20 dB) of the clip's loudest; clicks and breaths
are not.

The rules (:meth:`Speech.rule`): a clip is not a spoken digit when

- it is silent (no frame louder than ``silence_dbfs``, -60 dBFS RMS) or has no word-like region ("no speech");
- its word-like regions span more than ``max_span`` (1.5 s) from the start of the first to the end of the last
  ("speech spans 3.4 s": sentences, conversations, digit strings);
- it holds two or more strong regions (at least ``min_part`` 0.15 s long and within ``part_db`` 10 dB of the
  loudest frame) separated by a pause of ``min_pause`` (0.5 s) or more ("several separated words").

Otherwise the clip may be a digit, and :func:`crop_around` cuts the one second centred on its speech span (inside
the clip when the clip is longer than a second; a shorter clip stays whole inside the zero-padded second).
Everything here is numpy and per clip; results do not depend on the other clips judged.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field

import numpy as np

from speechgen.audio.spectral import fft_window, mel_filterbank

SAMPLE_RATE = 16000
HOP = 256
N_FFT = 1024
N_MELS = 80
EPS = 1e-5


@dataclass(frozen=True)
class VadParams:
    """Thresholds of :func:`find_speech` and :meth:`Speech.rule` (see the module docstring)."""

    range_db: float = 40.0
    floor_db: float = 8.0
    floor_percentile: float = 10.0
    smooth: int = 3
    merge_gap: float = 0.3
    min_word: float = 0.1
    word_db: float = 20.0
    silence_dbfs: float = -60.0
    max_span: float = 1.5
    min_part: float = 0.15
    part_db: float = 10.0
    min_pause: float = 0.5


DEFAULT = VadParams()


@dataclass(frozen=True)
class Region:
    """One stretch of speech: start and end in seconds, loudest frame level in dB relative to the clip's loudest
    (0 for the loudest region, negative for others)."""

    start: float
    end: float
    peak_db: float

    @property
    def length(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class Speech:
    """What :func:`find_speech` found in one clip."""

    duration: float  # seconds
    regions: tuple[Region, ...]  # every region, in time order
    peak_dbfs: float  # RMS level of the loudest frame, dB re full scale
    params: VadParams = field(default=DEFAULT, repr=False)

    @property
    def words(self) -> tuple[Region, ...]:
        """The word-like regions (long and loud enough)."""
        p = self.params
        return tuple(r for r in self.regions if r.length >= p.min_word - 1e-9 and r.peak_db >= -p.word_db)

    @property
    def span(self) -> tuple[float, float] | None:
        """Start of the first and end of the last word-like region (None when there is none)."""
        w = self.words
        return (w[0].start, w[-1].end) if w else None

    @property
    def span_length(self) -> float:
        s = self.span
        return 0.0 if s is None else s[1] - s[0]

    def rule(self) -> str | None:
        """Why the clip cannot be one spoken digit ("no speech", "speech spans 3.40 s", "several separated
        words"), or None when the duration rules allow a digit."""
        p = self.params
        if self.peak_dbfs < p.silence_dbfs or not self.words:
            return "no speech"
        if self.span_length > p.max_span:
            return f"speech spans {self.span_length:.2f} s"
        parts = [r for r in self.regions if r.length >= p.min_part - 1e-9 and r.peak_db >= -p.part_db]
        if any(b.start - a.end >= p.min_pause for a, b in zip(parts, parts[1:])):
            return "several separated words"
        return None


@functools.lru_cache(maxsize=8)
def _filterbank(sample_rate: int) -> tuple[np.ndarray, np.ndarray]:
    fb = mel_filterbank(sample_rate, N_FFT, N_MELS, 0.0, min(8000.0, sample_rate / 2)).astype(np.float32)
    return fb, fft_window("hann", N_FFT, N_FFT).astype(np.float32)


def frame_levels(audio: np.ndarray, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Level (dB, arbitrary reference) of each frame of the judge's log-mel of a mono clip: 10 log10 of the sum
    over bands of the squared mel magnitudes (:func:`speechgen.audio.spectral.log_mel`: centred reflect-padded
    Hann frames, slaney mel; floored at ``eps`` 1e-5 like it)."""
    x = np.asarray(audio, dtype=np.float32)
    if len(x) < N_FFT // 2 + 1:  # reflect padding needs more than half a window
        x = np.pad(x, (0, N_FFT // 2 + 1 - len(x)))
    fb, win = _filterbank(int(sample_rate))
    padded = np.pad(x, (N_FFT // 2, N_FFT // 2), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]
    mag = np.abs(np.fft.rfft(frames * win, axis=-1)).astype(np.float32)  # [frames, bins]
    mel = np.maximum(mag @ fb.T, EPS).astype(np.float64)  # [frames, n_mels]
    return 10.0 * np.log10((mel ** 2).sum(axis=1))


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, end) of the runs of True."""
    d = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(d == 1).tolist(), np.flatnonzero(d == -1).tolist()))


def find_speech(audio: np.ndarray, sample_rate: int = SAMPLE_RATE, params: VadParams = DEFAULT) -> Speech:
    """Regions of speech in a mono clip (see the module docstring)."""
    x = np.asarray(audio, dtype=np.float32)
    duration = len(x) / sample_rate
    n = len(x) // HOP
    frames = x[: n * HOP].reshape(n, HOP).astype(np.float64) if n else x[None].astype(np.float64)
    rms = np.sqrt(np.mean(frames ** 2, axis=1))
    peak_dbfs = float(20.0 * np.log10(max(float(rms.max()), 1e-12)))
    lev = frame_levels(x, sample_rate)
    if params.smooth > 1:
        k = int(params.smooth)
        padded = np.pad(lev, (k // 2, k - 1 - k // 2), mode="edge")
        lev = np.convolve(padded, np.ones(k) / k, mode="valid")
    top = float(lev.max())
    floor = float(np.percentile(lev, params.floor_percentile))
    active = (lev >= top - params.range_db) & (lev >= floor + params.floor_db)
    step = HOP / sample_rate  # frame t is centred on sample t * HOP
    gap = int(round(params.merge_gap / step))
    merged: list[list[int]] = []
    for a, b in _runs(active):
        if merged and a - merged[-1][1] < gap:
            merged[-1][1] = b
        else:
            merged.append([a, b])
    regions = tuple(
        Region(start=max(0.0, (a - 0.5) * step), end=min(duration, (b - 0.5) * step),
               peak_db=round(float(lev[a:b].max()) - top, 3))
        for a, b in merged
    )
    return Speech(duration=duration, regions=regions, peak_dbfs=peak_dbfs, params=params)


def crop_start(n: int, length: int, centre: float | None) -> int:
    """Start (in samples, negative = zero padding on the left) of the ``length``-sample window centred on
    ``centre`` (samples; None: the clip's centre), kept inside the clip when it is longer than the window and
    holding the whole clip when it is shorter. Equals :func:`~speechgen.evaluation.judge.fix_length`'s window
    when ``centre`` is None or ``n == length``."""
    if centre is None or n == length:
        return (n - length) // 2 if n >= length else -((length - n) // 2)
    want = int(round(centre - length / 2))
    lo, hi = (0, n - length) if n > length else (n - length, 0)
    return min(max(want, lo), hi)


def window(x: np.ndarray, start: int, length: int) -> np.ndarray:
    """``x[start:start + length]`` with zeros where the window leaves the clip."""
    out = np.zeros(length, dtype=np.float32)
    a, b = max(start, 0), min(start + length, len(x))
    if b > a:
        out[a - start: b - start] = x[a:b]
    return out


def crop_around(x: np.ndarray, speech: Speech, length: int, sample_rate: int = SAMPLE_RATE) -> tuple[np.ndarray,
                                                                                                      int]:
    """The ``length``-sample window centred on the speech span (the clip's centre when no span), and its start."""
    span = speech.span
    centre = None if span is None else (span[0] + span[1]) / 2 * sample_rate
    start = crop_start(len(x), length, centre)
    return window(x, start, length), start
