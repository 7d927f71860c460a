"""Feature extractors (an explicit registry of small frozen dataclasses) and an on-disk per-file feature cache.

Every extractor takes mono float32 audio and its sample rate and returns a float32 array whose *last* axis is
time: ``waveform`` → ``[samples]`` (hop 1), ``log_mel`` → ``[n_mels, frames]``, ``log_mel_f0`` →
``[n_mels + 2, frames]`` (the log-mel, log F0, voicing), ``mfcc_f0`` → ``[n_mfcc + 2, frames]``, ``log_magnitude`` →
``[n_fft // 2 + 1, frames]`` (the log linear magnitude), ``stft_image`` →
a fixed ``[2, n_bins, n_frames]`` image (not croppable), ``specgan_image`` → a fixed ``[1, n_bins, n_frames]``
log-magnitude image normalised per bin with training-set statistics (which :meth:`Feature.fit` adds to its
parameters, see :class:`SpecGanImage`). Frame-based features use a centred STFT, so frame ``t`` is centred on
sample ``t * hop_length`` and a clip of ``n`` samples gives ``1 + n // hop_length`` frames.

:class:`FeatureCache` stores one ``.npy`` per (feature parameters, audio file, sample rate) under
``root/<feature.key()>/<hash of path, size, mtime, rate>.npy``. Changing a parameter changes the key folder;
rewriting an audio file changes its size/mtime and therefore its file name, so stale entries are never read.
Arrays are written atomically with ``np.save(allow_pickle=False)`` and read with ``allow_pickle=False``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from speechgen.atomic import atomic_path, ensure_dir, write_text
from speechgen.audio import io as audio_io
from speechgen.audio import pitch, spectral
from speechgen.data.manifest import Manifest
from speechgen.errors import AudioError, ConfigError, DataError

#: Bump when an extractor's output changes for the same parameters (invalidates every cache entry).
FEATURE_VERSION = 1


#: largest accepted value of integer parameters: far above any real use, low enough that a mistyped or edited
#: parameter (a checkpoint's config.yaml is not trusted) fails here instead of allocating tens of GB
MAXIMA: dict[str, int] = {"n_fft": 1 << 16, "win_length": 1 << 16, "hop_length": 1 << 16, "n_mels": 1024,
                          "n_bins": (1 << 15) + 1, "n_frames": 1 << 16, "n_mfcc": 1024, "f0_frame_length": 1 << 16,
                          "griffin_lim_iters": 10_000}


def _check_int(name: str, value: object, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise ConfigError(f"{name}: expected an integer, got {value!r}")
    if int(value) < minimum:
        raise ConfigError(f"{name}: must be >= {minimum}, got {value}")
    if int(value) > MAXIMA.get(name, int(value)):
        raise ConfigError(f"{name}: must be <= {MAXIMA[name]}, got {value}")
    return int(value)


def _check_float(name: str, value: object, minimum: float | None = None, positive: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise ConfigError(f"{name}: expected a number, got {value!r}")
    v = float(value)
    if not math.isfinite(v):
        raise ConfigError(f"{name}: must be finite, got {value}")
    if positive and v <= 0:
        raise ConfigError(f"{name}: must be > 0, got {value}")
    if minimum is not None and v < minimum:
        raise ConfigError(f"{name}: must be >= {minimum}, got {value}")
    return v


@dataclass(frozen=True)
class Feature:
    """Base class: a named, parameterised, deterministic function ``(audio, sr) -> float32 array``."""

    name: ClassVar[str] = ""
    #: True when the last axis is time and may be cropped (False for fixed-size images).
    croppable: ClassVar[bool] = True

    def params(self) -> dict[str, Any]:
        """The parameters as a plain JSON-able dict."""
        return dataclasses.asdict(self)

    def key(self) -> str:
        """Stable identifier of (name, parameters, FEATURE_VERSION): ``"<name>-<12 hex digits>"``."""
        blob = json.dumps({"name": self.name, "params": self.params(), "version": FEATURE_VERSION}, sort_keys=True)
        return f"{self.name}-{hashlib.sha256(blob.encode()).hexdigest()[:12]}"

    @property
    def hop_length(self) -> int:
        """Samples per step of the time axis (1 for waveforms)."""
        return 1

    def num_frames(self, num_samples: int) -> int:
        """Length of the time axis for a clip of ``num_samples`` samples."""
        return num_samples

    @property
    def pad_value(self) -> float:
        """Value used to pad the time axis (what silence maps to, where that is a constant)."""
        return 0.0

    def pad(self, x: np.ndarray, left: int, right: int) -> np.ndarray:
        """``x`` padded on its time axis by ``left`` / ``right`` frames of what silence maps to (default:
        :attr:`pad_value`; a feature whose rows differ overrides it)."""
        return pad_time(x, left, right, self.pad_value)

    def check_rate(self, sr: int) -> None:
        """Raise :class:`ConfigError` if the parameters do not suit sample rate ``sr``."""
        if sr <= 0:
            raise ConfigError(f"sample_rate: must be > 0, got {sr}")

    def _prepare(self, audio: np.ndarray, sr: int) -> np.ndarray:
        self.check_rate(sr)
        x = audio_io.validate(audio)
        if x.ndim != 1:
            raise AudioError(f"{self.name}: expected mono audio of shape (samples,), got {x.shape}")
        return x

    @property
    def needs_fit(self) -> bool:
        """True when the feature still needs statistics of a training set (see :meth:`fit`) to extract."""
        return False

    def fit(self, manifest: Manifest, cache_dir: str | os.PathLike, sample_rate: int = 16000,
            labelled: bool | None = None) -> Feature:
        """The feature completed with statistics of ``manifest``'s train split (``self`` for features that need
        none; see :class:`SpecGanImage`)."""
        return self

    def __call__(self, audio: np.ndarray, sr: int) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def invert(self, x: np.ndarray, length: int | None = None, **options: Any) -> np.ndarray:
        """Audio ``[..., samples]`` (float32) from feature values ``x`` (generated or real); ``length`` crops/pads.

        Raises :class:`ConfigError` for features that cannot be turned back into audio on their own (those need
        a vocoder).
        """
        raise ConfigError(f"feature '{self.name}' cannot be turned into audio without a vocoder")


@dataclass(frozen=True)
class Waveform(Feature):
    """The (resampled) waveform itself, optionally peak-normalised to ``peak``. Output ``[samples]``."""

    name: ClassVar[str] = "waveform"
    peak_normalize: bool = False
    peak: float = 0.95

    def __post_init__(self) -> None:
        if not isinstance(self.peak_normalize, bool):
            raise ConfigError(f"peak_normalize: expected true/false, got {self.peak_normalize!r}")
        object.__setattr__(self, "peak", _check_float("peak", self.peak, positive=True))

    def __call__(self, audio: np.ndarray, sr: int) -> np.ndarray:
        x = self._prepare(audio, sr).copy()
        if self.peak_normalize:
            m = float(np.max(np.abs(x)))
            if m > 0:
                x *= self.peak / m
        return x.astype(np.float32, copy=False)

    def invert(self, x: np.ndarray, length: int | None = None, **options: Any) -> np.ndarray:
        """The waveform itself (clipped to [-1, 1]), cropped or zero-padded to ``length``."""
        y = np.clip(np.asarray(x, dtype=np.float32), -1.0, 1.0)
        return y if length is None else _fit_length(y, length)


@dataclass(frozen=True)
class _StftParams(Feature):
    """Shared STFT/mel parameters and their validation."""

    n_fft: int = 1024
    hop_length: int = 256  # type: ignore[assignment]  # a field here, a property on the base
    win_length: int = 1024
    n_mels: int = 80
    fmin: float = 0.0
    fmax: float = 8000.0

    def __post_init__(self) -> None:
        for f in ("n_fft", "hop_length", "win_length", "n_mels"):
            object.__setattr__(self, f, _check_int(f, getattr(self, f), minimum=2 if f == "n_fft" else 1))
        if self.win_length > self.n_fft:
            raise ConfigError(f"win_length: must be <= n_fft ({self.n_fft}), got {self.win_length}")
        object.__setattr__(self, "fmin", _check_float("fmin", self.fmin, minimum=0.0))
        object.__setattr__(self, "fmax", _check_float("fmax", self.fmax, positive=True))
        if self.fmax <= self.fmin:
            raise ConfigError(f"fmax: must be > fmin ({self.fmin}), got {self.fmax}")

    def num_frames(self, num_samples: int) -> int:
        return 1 + num_samples // self.hop_length

    def check_rate(self, sr: int) -> None:
        super().check_rate(sr)
        if self.fmax > sr / 2:
            raise ConfigError(f"fmax: {self.fmax:g} Hz is above the Nyquist frequency of {sr} Hz audio ({sr / 2:g})")


@dataclass(frozen=True)
class LogMel(_StftParams):
    """Natural-log mel spectrogram ``log(max(mel, eps))`` (defaults in docs/data.md, Features). Output
    ``[n_mels, frames]``."""

    name: ClassVar[str] = "log_mel"
    eps: float = 1e-5

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "eps", _check_float("eps", self.eps, positive=True))

    @property
    def channels(self) -> int:
        """Rows of the output (the mel bands)."""
        return self.n_mels

    @property
    def pad_value(self) -> float:
        return float(math.log(self.eps))

    def __call__(self, audio: np.ndarray, sr: int) -> np.ndarray:
        x = self._prepare(audio, sr)
        out = spectral.log_mel(
            x, sr, n_fft=self.n_fft, hop_length=self.hop_length, win_length=self.win_length,
            n_mels=self.n_mels, fmin=self.fmin, fmax=self.fmax, eps=self.eps,
        )
        return np.asarray(out, dtype=np.float32)


@dataclass(frozen=True)
class MfccF0(_StftParams):
    """MFCCs, interpolated log-F0 and a 0/1 voicing flag stacked per frame. Output ``[n_mfcc + 2, frames]``.

    Rows ``0 .. n_mfcc-1`` are the MFCCs, row ``n_mfcc`` is ``log F0`` (Hz, linearly interpolated through unvoiced
    frames) and the last row is 1.0 for voiced frames, else 0.0. F0 is searched in ``[f0_min, f0_max]`` Hz by YIN
    over frames of ``f0_frame_length`` samples (at least two periods of ``f0_min``), on the same frame centres.
    """

    name: ClassVar[str] = "mfcc_f0"
    n_mfcc: int = 20
    f0_min: float = 50.0
    f0_max: float = 500.0
    f0_frame_length: int = 1024

    def __post_init__(self) -> None:
        super().__post_init__()
        object.__setattr__(self, "n_mfcc", _check_int("n_mfcc", self.n_mfcc))
        if self.n_mfcc > self.n_mels:
            raise ConfigError(f"n_mfcc: must be <= n_mels ({self.n_mels}), got {self.n_mfcc}")
        _check_f0_params(self)

    @property
    def channels(self) -> int:
        """Rows of the output: the MFCCs, log F0 and voicing."""
        return self.n_mfcc + 2

    @property
    def pad_value(self) -> float:
        return float("nan")  # NaN means "repeat the edge frame" (see pad_time)

    def check_rate(self, sr: int) -> None:
        super().check_rate(sr)
        _check_f0_rate(self, sr)

    def __call__(self, audio: np.ndarray, sr: int) -> np.ndarray:
        x = self._prepare(audio, sr)
        cep = np.asarray(spectral.mfcc(
            x, sr, n_mfcc=self.n_mfcc, n_fft=self.n_fft, hop_length=self.hop_length, win_length=self.win_length,
            n_mels=self.n_mels, fmin=self.fmin, fmax=self.fmax,
        ), dtype=np.float32)
        rows = _f0_rows(x, sr, self.hop_length, self.f0_frame_length, self.f0_min, self.f0_max)
        n = min(cep.shape[1], rows.shape[1])
        return np.concatenate([cep[:, :n], rows[:, :n]], axis=0).astype(np.float32)


def _f0_rows(x: np.ndarray, sr: int, hop_length: int, frame_length: int, f0_min: float, f0_max: float,
             ) -> np.ndarray:
    """``[2, frames]`` float32: YIN's log F0 (Hz, linearly interpolated through unvoiced frames, the nearest voiced
    value held at the ends, log 100 Hz for a clip without voicing) and a 0/1 voicing flag, on centred frames."""
    f0, voiced = pitch.f0(x, sr, hop_length=hop_length, frame_length=frame_length, fmin=f0_min, fmax=f0_max)
    lf0 = np.asarray(pitch.log_f0_interp(f0, voiced), dtype=np.float32)
    return np.stack([lf0, np.asarray(voiced, dtype=np.float32)])


def _check_f0_params(feature: Any) -> None:
    """Validate (and normalise) the ``f0_min`` / ``f0_max`` / ``f0_frame_length`` fields of a frozen feature."""
    object.__setattr__(feature, "f0_min", _check_float("f0_min", feature.f0_min, positive=True))
    object.__setattr__(feature, "f0_max", _check_float("f0_max", feature.f0_max, positive=True))
    if feature.f0_max <= feature.f0_min:
        raise ConfigError(f"f0_max: must be > f0_min ({feature.f0_min}), got {feature.f0_max}")
    object.__setattr__(feature, "f0_frame_length", _check_int("f0_frame_length", feature.f0_frame_length))


def _check_f0_rate(feature: Any, sr: int) -> None:
    """ConfigError when YIN's search range or frame length does not suit sample rate ``sr``."""
    f0_min, f0_max, frame = feature.f0_min, feature.f0_max, feature.f0_frame_length
    if f0_max >= sr / 2:
        raise ConfigError(f"f0_max: {f0_max:g} Hz is not below the Nyquist frequency of {sr} Hz audio")
    need = 2 * math.ceil(sr / f0_min) + 2
    if frame < need:
        raise ConfigError(f"f0_frame_length: {frame} is too short for f0_min {f0_min:g} Hz at {sr} Hz "
                          f"(needs >= {need})")


@dataclass(frozen=True)
class LogMelF0(LogMel):
    """The log-mel of :class:`LogMel` with log-F0 and voicing below it. Output ``[n_mels + 2, frames]``.

    Rows ``0 .. n_mels-1`` are the log-mel (exactly :class:`LogMel`'s), row ``n_mels`` is ``log F0`` (Hz, linearly
    interpolated through unvoiced frames, as :class:`MfccF0`'s) and the last row is 1.0 for voiced frames, else
    0.0; F0 by YIN in ``[f0_min, f0_max]`` Hz over frames of ``f0_frame_length`` samples on the mel's frame centres.
    The input of the iSTFT vocoder's harmonic-comb prior (``f0_prior``). Padding (:meth:`pad`): silence's log-mel
    (``log eps``), the edge frames' log F0, voicing 0.
    """

    name: ClassVar[str] = "log_mel_f0"
    f0_min: float = 50.0
    f0_max: float = 500.0
    f0_frame_length: int = 1024

    def __post_init__(self) -> None:
        super().__post_init__()
        _check_f0_params(self)

    @property
    def channels(self) -> int:
        """Rows of the output: the mel bands, log F0 and voicing."""
        return self.n_mels + 2

    @property
    def pad_value(self) -> float:
        return float("nan")  # rows differ: NaN repeats the edge frames (see pad_time); :meth:`pad` does each row

    def pad(self, x: np.ndarray, left: int, right: int) -> np.ndarray:
        mel = pad_time(x[..., :-2, :], left, right, float(math.log(self.eps)))
        lf0 = pad_time(x[..., -2:-1, :], left, right, float("nan"))
        vuv = pad_time(x[..., -1:, :], left, right, 0.0)
        return np.concatenate([mel, lf0, vuv], axis=-2)

    def check_rate(self, sr: int) -> None:
        super().check_rate(sr)
        _check_f0_rate(self, sr)

    def __call__(self, audio: np.ndarray, sr: int) -> np.ndarray:
        mel = super().__call__(audio, sr)
        rows = _f0_rows(self._prepare(audio, sr), sr, self.hop_length, self.f0_frame_length, self.f0_min,
                        self.f0_max)
        n = min(mel.shape[1], rows.shape[1])
        return np.concatenate([mel[:, :n], rows[:, :n]], axis=0).astype(np.float32)


@dataclass(frozen=True)
class LogMagnitude(Feature):
    """Natural-log linear magnitude spectrogram ``ln(max(|STFT|, eps))`` (Hann window, centred frames, the log-mel's
    STFT before its filterbank): output ``[n_fft // 2 + 1, frames]``, silence ``ln(eps)``. The target of Tacotron's
    post-net (:mod:`speechgen.models.tacotron`); with the log-mel's n_fft and hop (the defaults) its frames are the
    log-mel's. :meth:`invert` estimates the phase by PGHI and fast Griffin-Lim."""

    name: ClassVar[str] = "log_magnitude"
    n_fft: int = 1024
    hop_length: int = 256  # type: ignore[assignment]  # a field here, a property on the base
    win_length: int = 1024
    eps: float = 1e-5

    def __post_init__(self) -> None:
        for f in ("n_fft", "hop_length", "win_length"):
            object.__setattr__(self, f, _check_int(f, getattr(self, f), minimum=2 if f == "n_fft" else 1))
        if self.win_length > self.n_fft:
            raise ConfigError(f"win_length: must be <= n_fft ({self.n_fft}), got {self.win_length}")
        object.__setattr__(self, "eps", _check_float("eps", self.eps, positive=True))

    @property
    def channels(self) -> int:
        """Rows of the output (the frequency bins)."""
        return self.n_fft // 2 + 1

    @property
    def pad_value(self) -> float:
        return float(math.log(self.eps))

    def num_frames(self, num_samples: int) -> int:
        return 1 + num_samples // self.hop_length

    def __call__(self, audio: np.ndarray, sr: int) -> np.ndarray:
        x = self._prepare(audio, sr)
        mag = np.abs(spectral.stft(x, self.n_fft, self.hop_length, self.win_length))
        return np.log(np.maximum(mag, self.eps)).astype(np.float32)

    def invert(self, x: np.ndarray, length: int | None = None, n_iter: int = 32, seed: int = 0,
               **options: Any) -> np.ndarray:
        """Audio ``[..., samples]`` of log-magnitudes ``[..., n_fft // 2 + 1, frames]``: ``exp`` of them, the phase
        by PGHI then ``n_iter`` fast Griffin-Lim iterations (seeded), the inverse STFT (``length`` samples;
        default ``hop_length · (frames - 1)``)."""
        from speechgen.audio import phase

        v = np.asarray(x, dtype=np.float64)
        if v.ndim < 2 or v.shape[-2] != self.channels:
            raise AudioError(f"log_magnitude: expected [..., {self.channels}, frames], got {v.shape}")
        audio = phase.reconstruct(np.exp(v), self.hop_length, self.n_fft, method="pghi", gl_iters=int(n_iter),
                                  win_length=self.win_length, seed=seed, length=length)
        return np.asarray(audio, dtype=np.float32)


@dataclass(frozen=True)
class StftImage(Feature):
    """Amplitude + phase image (docs/data.md, Features): ``[2, n_bins, n_frames]`` float32 in [-1, 1] (fixed size;
    the clip is padded or cropped at the end, see :func:`speechgen.audio.spectral.amp_phase_image`)."""

    name: ClassVar[str] = "stft_image"
    croppable: ClassVar[bool] = False
    #: channels of the image (0: amplitude, 1: phase)
    n_channels: ClassVar[int] = 2
    n_fft: int = 256
    hop_length: int = 128  # type: ignore[assignment]
    n_bins: int = 128
    n_frames: int = 128
    db_floor: float = -80.0
    db_ref: float | None = None

    def __post_init__(self) -> None:
        for f in ("n_fft", "hop_length", "n_bins", "n_frames"):
            object.__setattr__(self, f, _check_int(f, getattr(self, f), minimum=2 if f == "n_fft" else 1))
        if self.n_bins > self.n_fft // 2 + 1:
            raise ConfigError(f"n_bins: must be <= n_fft // 2 + 1 ({self.n_fft // 2 + 1}), got {self.n_bins}")
        object.__setattr__(self, "db_floor", _check_float("db_floor", self.db_floor))
        if self.db_floor >= 0:
            raise ConfigError(f"db_floor: must be negative, got {self.db_floor}")
        if self.db_ref is not None:
            object.__setattr__(self, "db_ref", _check_float("db_ref", self.db_ref, positive=True))

    def num_frames(self, num_samples: int) -> int:
        return self.n_frames

    def __call__(self, audio: np.ndarray, sr: int) -> np.ndarray:
        x = self._prepare(audio, sr)
        out = spectral.amp_phase_image(
            x, n_fft=self.n_fft, hop_length=self.hop_length, n_bins=self.n_bins, n_frames=self.n_frames,
            db_floor=self.db_floor, db_ref=self.db_ref,
        )
        return np.asarray(out, dtype=np.float32)

    def invert(self, x: np.ndarray, length: int | None = None, n_iter: int = 64, seed: int = 0,
               **options: Any) -> np.ndarray:
        """Audio from images ``[..., C, n_bins, frames]``: with C = 2 the phase channel is used (exact iSTFT);
        with C = 1 (amplitude only) the phase is estimated by fast Griffin-Lim (``n_iter`` iterations, seeded)."""
        from speechgen.audio import phase

        img = np.asarray(x, dtype=np.float32)
        if img.ndim < 3 or img.shape[-3] not in (1, 2) or img.shape[-2] != self.n_bins:
            raise AudioError(f"stft_image: expected [..., 1 or 2, {self.n_bins}, frames], got {img.shape}")
        kw = {"n_fft": self.n_fft, "hop_length": self.hop_length, "db_floor": self.db_floor, "db_ref": self.db_ref,
              "length": length}
        if img.shape[-3] == 2:
            return spectral.image_to_audio(img, **kw)
        return phase.amp_image_to_audio_griffinlim(img, n_iter=n_iter, seed=seed, **kw)


@dataclass(frozen=True)
class SpecGanImage(Feature):
    """SpecGAN's image (Donahue, McAuley & Puckette 2019): ``[1, n_bins, n_frames]`` float32 log-magnitude STFT,
    normalised per frequency bin with statistics of the training set.

    The clip is padded or cropped at the end to :func:`~speechgen.audio.spectral.image_length` samples (16256 for
    the defaults), analysed with a hann STFT (``n_fft`` 256 = 16 ms, hop 128 = 8 ms at 16 kHz: the paper's
    128 × 128 image; bins ``>= n_bins`` dropped) and ``L = log(|S| + eps)`` is taken. With ``normalize`` (the
    paper's), every bin ``f`` is standardised with the training set's ``mean[f]`` / ``std[f]`` of ``L`` (over
    all frames of all training clips), clipped to ``± clip_std`` standard deviations and rescaled to [-1, 1]:
    ``clip((L - mean) / std, -c, c) / c``. ``mean`` / ``std`` are plain numbers in the feature's parameters, filled
    by :meth:`fit` from a manifest's train split (cached as JSON next to the feature cache) — so the checkpoint's
    recipe carries them and :meth:`invert` needs nothing else. Without ``normalize`` the feature is ``L`` itself
    (what the statistics are computed from). :meth:`invert` de-normalises, exponentiates and estimates the phase
    by fast Griffin-Lim (``griffin_lim_iters``, 16 in the paper; momentum ``griffin_lim_momentum``, 0 = classic).
    """

    name: ClassVar[str] = "specgan_image"
    croppable: ClassVar[bool] = False
    n_channels: ClassVar[int] = 1
    n_fft: int = 256
    hop_length: int = 128  # type: ignore[assignment]
    n_bins: int = 128
    n_frames: int = 128
    eps: float = 1e-6
    clip_std: float = 3.0
    normalize: bool = True
    mean: tuple[float, ...] | None = None
    std: tuple[float, ...] | None = None
    griffin_lim_iters: int = 16
    griffin_lim_momentum: float = 0.99

    def __post_init__(self) -> None:
        for f in ("n_fft", "hop_length", "n_bins", "n_frames"):
            object.__setattr__(self, f, _check_int(f, getattr(self, f), minimum=2 if f == "n_fft" else 1))
        if self.n_bins > self.n_fft // 2 + 1:
            raise ConfigError(f"n_bins: must be <= n_fft // 2 + 1 ({self.n_fft // 2 + 1}), got {self.n_bins}")
        object.__setattr__(self, "eps", _check_float("eps", self.eps, positive=True))
        object.__setattr__(self, "clip_std", _check_float("clip_std", self.clip_std, positive=True))
        if not isinstance(self.normalize, bool):
            raise ConfigError(f"normalize: expected true/false, got {self.normalize!r}")
        object.__setattr__(self, "griffin_lim_iters", _check_int("griffin_lim_iters", self.griffin_lim_iters))
        m = _check_float("griffin_lim_momentum", self.griffin_lim_momentum, minimum=0.0)
        if m > 1.0:
            raise ConfigError(f"griffin_lim_momentum: must be in [0, 1], got {m}")
        object.__setattr__(self, "griffin_lim_momentum", m)
        if (self.mean is None) != (self.std is None):
            raise ConfigError(f"{'std' if self.std is None else 'mean'}: give both mean and std (or neither)")
        for f in ("mean", "std"):
            v = getattr(self, f)
            if v is None:
                continue
            if not isinstance(v, (list, tuple)) or len(v) != self.n_bins:
                raise ConfigError(f"{f}: expected a list of {self.n_bins} numbers (one per bin), got "
                                  f"{len(v) if isinstance(v, (list, tuple)) else v!r}")
            vals = tuple(_check_float(f"{f}[{i}]", x, positive=f == "std") for i, x in enumerate(v))
            object.__setattr__(self, f, vals)
        if not self.normalize and self.mean is not None:
            raise ConfigError("normalize: false takes no mean / std")

    def num_frames(self, num_samples: int) -> int:
        return self.n_frames

    @property
    def needs_fit(self) -> bool:
        """True while ``normalize`` is on and the per-bin statistics are missing."""
        return self.normalize and self.mean is None

    def _stats(self) -> tuple[np.ndarray, np.ndarray]:
        if self.mean is None or self.std is None:
            raise ConfigError("mean: specgan_image needs the per-bin statistics of the training set (fit() fills "
                              "them; the gan scheme does so when it builds the data)")
        return np.asarray(self.mean, dtype=np.float64)[:, None], np.asarray(self.std, dtype=np.float64)[:, None]

    def log_magnitude(self, audio: np.ndarray, sr: int) -> np.ndarray:
        """``log(|S| + eps)`` float64 ``[n_bins, n_frames]`` of a clip (before normalisation)."""
        x = self._prepare(audio, sr)
        want = spectral.image_length(self.n_frames, self.n_fft, self.hop_length)
        x = x[:want] if len(x) >= want else np.pad(x, (0, want - len(x)))
        spec = spectral.stft(x, self.n_fft, self.hop_length)[: self.n_bins]
        return np.log(np.abs(spec) + self.eps)

    def normalize_log(self, log_mag: np.ndarray) -> np.ndarray:
        """``clip((L - mean) / std, -c, c) / c`` of log-magnitudes ``[..., n_bins, frames]`` (float64)."""
        mean, std = self._stats()
        z = (np.asarray(log_mag, dtype=np.float64) - mean) / std
        return np.clip(z, -self.clip_std, self.clip_std) / self.clip_std

    def denormalize(self, x: np.ndarray) -> np.ndarray:
        """Log-magnitudes ``x · c · std + mean`` of normalised values ``[..., n_bins, frames]`` (float64); the exact
        inverse of :meth:`normalize_log` for values within ``± clip_std`` standard deviations."""
        mean, std = self._stats()
        return np.asarray(x, dtype=np.float64) * self.clip_std * std + mean

    def __call__(self, audio: np.ndarray, sr: int) -> np.ndarray:
        log_mag = self.log_magnitude(audio, sr)
        out = self.normalize_log(log_mag) if self.normalize else log_mag
        return np.asarray(out, dtype=np.float32)[None]

    def invert(self, x: np.ndarray, length: int | None = None, n_iter: int | None = None, seed: int = 0,
               **options: Any) -> np.ndarray:
        """Audio ``[..., samples]`` from images ``[..., 1, n_bins, frames]``: de-normalised (values clipped to
        [-1, 1] first), ``|S| = exp(L) - eps`` (dropped bins zero), phase by fast Griffin-Lim (``n_iter``
        iterations, default ``griffin_lim_iters``; seeded)."""
        from speechgen.audio import phase

        img = np.asarray(x, dtype=np.float64)
        if img.ndim < 3 or img.shape[-3] != 1 or img.shape[-2] != self.n_bins:
            raise AudioError(f"specgan_image: expected [..., 1, {self.n_bins}, frames], got {img.shape}")
        v = img[..., 0, :, :]
        log_mag = self.denormalize(np.clip(v, -1.0, 1.0)) if self.normalize else v
        mag = np.maximum(np.exp(log_mag) - self.eps, 0.0)
        mag = np.pad(mag, [(0, 0)] * (mag.ndim - 2) + [(0, self.n_fft // 2 + 1 - self.n_bins), (0, 0)])
        iters = self.griffin_lim_iters if n_iter is None else int(n_iter)
        audio = phase.griffin_lim(mag, self.hop_length, self.n_fft, n_iter=iters,
                                  momentum=self.griffin_lim_momentum, seed=seed, length=length)
        return np.asarray(audio, dtype=np.float32)

    def fit(self, manifest: Manifest, cache_dir: str | os.PathLike, sample_rate: int = 16000,
            labelled: bool | None = None) -> SpecGanImage:
        """This feature with ``mean`` / ``std`` of ``log(|S| + eps)`` per bin over every frame of the **train**
        split of ``manifest`` (rows filtered by ``labelled`` as the data module does). The un-normalised images
        go through a :class:`FeatureCache` under ``cache_dir``; the statistics are written as JSON beside them
        (``stats-<hash of the train files>.json``) and read back on the next call. ``self`` when nothing is
        missing."""
        if not self.needs_fit:
            return self
        raw = dataclasses.replace(self, normalize=False, mean=None, std=None)
        cache = FeatureCache(cache_dir, raw, sample_rate)
        rows = manifest.select(split="train", labelled=labelled)
        paths = sorted({str(manifest.resolve(r)) for r in rows})
        if not paths:
            raise DataError(f"{manifest.root}: the train split has no rows to compute specgan_image statistics from")
        ident = hashlib.sha256("\n".join(cache.entry(p).name for p in paths).encode()).hexdigest()[:16]
        target = cache.directory / f"stats-{ident}.json"
        stats = None
        if target.is_file():
            try:
                stats = json.loads(target.read_text(encoding="utf-8"))
                mean, std = stats["mean"], stats["std"]
            except (OSError, ValueError, KeyError, TypeError):
                stats = None  # unreadable: recompute and overwrite
        if stats is None:
            total = np.zeros(self.n_bins)
            frames = 0
            for p in paths:
                a = cache.get(p)[0].astype(np.float64)
                total += a.sum(axis=1)
                frames += a.shape[1]
            mean_a = total / frames
            sq = np.zeros(self.n_bins)
            for p in paths:  # second pass over the (now cached) images: a stable variance
                sq += ((cache.get(p)[0].astype(np.float64) - mean_a[:, None]) ** 2).sum(axis=1)
            std_a = np.maximum(np.sqrt(sq / frames), 1e-6)
            mean, std = [float(v) for v in mean_a], [float(v) for v in std_a]
            info = {"feature": self.name, "params": raw.params(), "version": FEATURE_VERSION, "split": "train",
                    "labelled": labelled, "files": len(paths), "frames": frames, "mean": mean, "std": std}
            ensure_dir(cache.directory)
            write_text(target, json.dumps(info, indent=1) + "\n")
        return dataclasses.replace(self, mean=tuple(mean), std=tuple(std))


#: Feature name → extractor class. The one place where names are mapped to code.
FEATURES: dict[str, type[Feature]] = {
    Waveform.name: Waveform,
    StftImage.name: StftImage,
    SpecGanImage.name: SpecGanImage,
    LogMel.name: LogMel,
    LogMelF0.name: LogMelF0,
    MfccF0.name: MfccF0,
    LogMagnitude.name: LogMagnitude,
}


def build_feature(name: str, params: Mapping[str, Any] | None = None) -> Feature:
    """Instantiate the registered feature ``name`` with ``params``; :class:`ConfigError` names a bad field."""
    if name not in FEATURES:
        raise ConfigError(f"feature: unknown feature '{name}' (choose from {', '.join(sorted(FEATURES))})")
    cls = FEATURES[name]
    params = dict(params or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(
            f"feature_params.{unknown[0]}: not a parameter of '{name}' (known: {', '.join(sorted(known)) or 'none'})"
        )
    return cls(**params)


def _fit_length(x: np.ndarray, length: int) -> np.ndarray:
    """Crop or zero-pad the last axis to ``length``."""
    n = x.shape[-1]
    if n >= length:
        return x[..., :length]
    return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(0, length - n)])


def pad_time(x: np.ndarray, left: int, right: int, value: float) -> np.ndarray:
    """Pad the last axis with ``value`` (NaN: repeat the edge frames)."""
    if left == 0 and right == 0:
        return x
    widths = [(0, 0)] * (x.ndim - 1) + [(left, right)]
    if math.isnan(value):
        return np.pad(x, widths, mode="edge")
    return np.pad(x, widths, mode="constant", constant_values=value)


class FeatureCache:
    """Per-file feature cache on disk (see the module docstring for the layout and invalidation rules).

    ``sample_rate`` is the default rate audio is loaded (and resampled) at; ``None`` keeps each file's rate.
    ``hits``/``misses`` count lookups served from disk and computed in this process.
    """

    def __init__(self, root: str | os.PathLike, feature: Feature, sample_rate: int | None = 16000) -> None:
        self.root = Path(root)
        self.feature = feature
        self.sample_rate = sample_rate
        self.hits = 0
        self.misses = 0

    @property
    def directory(self) -> Path:
        """``root/<feature key>``."""
        return self.root / self.feature.key()

    def entry(self, path: str | os.PathLike, sr: int | None = None) -> Path:
        """Cache file for an audio file at rate ``sr`` (depends on its absolute path, size and mtime)."""
        p = Path(path).resolve()
        try:
            st = p.stat()
        except OSError as exc:
            raise AudioError(f"{p}: no such file") from exc
        rate = self.sample_rate if sr is None else sr
        ident = f"{p}\0{st.st_size}\0{st.st_mtime_ns}\0{rate if rate is not None else 'native'}"
        return self.directory / f"{hashlib.sha256(ident.encode()).hexdigest()[:24]}.npy"

    def _write_params(self) -> None:
        target = self.directory / "params.json"
        if target.exists():
            return
        info = {"feature": self.feature.name, "params": self.feature.params(), "version": FEATURE_VERSION,
                "key": self.feature.key()}
        write_text(target, json.dumps(info, indent=2, sort_keys=True) + "\n")

    def get(self, path: str | os.PathLike, sr: int | None = None) -> np.ndarray:
        """Features of the audio file ``path`` loaded at ``sr`` (default: the cache's rate), from disk if cached."""
        rate = self.sample_rate if sr is None else sr
        target = self.entry(path, rate)
        if target.exists():
            try:
                arr = np.load(target, allow_pickle=False)
                self.hits += 1
                return arr
            except (OSError, ValueError, EOFError):
                pass  # unreadable entry (e.g. truncated by hand): recompute and overwrite
        audio, loaded_sr = audio_io.load(path, rate)
        arr = np.ascontiguousarray(self.feature(audio, loaded_sr), dtype=np.float32)
        ensure_dir(self.directory)
        self._write_params()
        with atomic_path(target) as tmp, open(tmp, "wb") as fh:
            np.save(fh, arr, allow_pickle=False)
        self.misses += 1
        return arr

    def precompute(
        self,
        manifest: Manifest,
        split: str | None = None,
        workers: int = 0,
        progress: bool = True,
    ) -> dict[str, int]:
        """Fill the cache for every file of ``manifest`` (optionally one split); return counts.

        ``workers > 0`` computes in that many processes. Returns ``{"files", "computed", "cached"}``.
        """
        rows = manifest.select(split=split) if split is not None else manifest
        paths = list(dict.fromkeys(str(manifest.resolve(r)) for r in rows))
        if not paths:
            raise DataError(f"no rows to precompute{f' in split {split!r}' if split else ''}")
        computed = 0
        ensure_dir(self.directory)
        self._write_params()
        bar, task = _progress(progress, f"features {self.feature.key()}", len(paths))
        try:
            if workers and workers > 0:
                with ProcessPoolExecutor(max_workers=workers) as pool:
                    for was_computed in pool.map(_fill_one, [self] * len(paths), paths, chunksize=4):
                        computed += int(was_computed)
                        if bar is not None:
                            bar.advance(task)
            else:
                for p in paths:
                    computed += int(_fill_one(self, p))
                    if bar is not None:
                        bar.advance(task)
        finally:
            if bar is not None:
                bar.stop()
        return {"files": len(paths), "computed": computed, "cached": len(paths) - computed}


def _fill_one(cache: FeatureCache, path: str) -> bool:
    """Make sure ``path`` is cached; True when it had to be computed."""
    before = cache.misses
    cache.get(path)
    return cache.misses > before


def _progress(enabled: bool, label: str, total: int) -> tuple[Any, Any]:
    if not enabled:
        return None, None
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                   transient=True)
    bar.start()
    return bar, bar.add_task(label, total=total)
