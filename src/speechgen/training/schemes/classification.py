"""Supervised classification scheme: cross-entropy on labelled clips with speaker-generalising augmentation.

The model must expose ``log_mel(wave) -> [B, F, T]``, ``normalize(log_mel) -> [B, 1, F, T]`` and
``classify_features(x) -> logits`` (as :class:`~speechgen.models.DigitClassifier` does) so that the time warp can be
applied to the raw log-mel and the mel-axis warp, SpecAugment masks and mixup to the normalised one.
Order in a training step: waveform (shift + speed, random EQ, high/low-pass, gain, noise) → log-mel → tempo / time warp →
normalisation → mel-axis warp → masks → mixup → logits.
Augmentation runs batched on the model's device in the training step, drawing from torch's global generator
(seeded by ``--seed``), so a run is reproducible on CPU regardless of the number of loader workers.

Targets (``data.target``): ``digit`` (default) trains the 10-way digit classifier on the rows with a label.
``is_digit`` and ``digit_or_not`` train the "not a digit" detector
(:class:`~speechgen.models.digit_detector.DigitDetector`) on every row: rows with a digit label are digits, rows
without one are not (other words and sentences: ``speechgen corpus digits --words N``), plus ``data.noise`` × the
split's size synthetic noise and silence clips (:func:`noise_clip`, made on the fly: new ones each epoch in
training, fixed ones in valid/test). ``is_digit`` has two classes (0 = digit, 1 = not a digit), ``digit_or_not``
eleven (the digit's own label, 10 = not a digit); "not a digit" is the last class in both. ``count`` trains a
:class:`~speechgen.models.speaker_counter.SpeakerCounter`: every item is a mixture of 1, 2, 3 ... voices (the model's
``counts``) of one split, drawn on the fly (:class:`~speechgen.data.mixtures.CountDataset`: new mixtures each epoch in
training, fixed ones in valid/test), labelled with its count.
"""

from __future__ import annotations

import math
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F
import numpy as np
from torch.utils.data import DataLoader, Dataset

from speechgen.data.datamodule import DigitsDataModule, EpochSampler, ManifestDataset
from speechgen.data.mixtures import CountDataset
from speechgen.errors import ConfigError
from speechgen.training.optim import check_fields, check_finite
from speechgen.training.optim import OptimConfig, TrainSection, build_optimizer


TARGETS = ("digit", "is_digit", "digit_or_not", "count")
DETECTOR_CLASSES = {"is_digit": 2, "digit_or_not": 11}  # the last class is "not a digit"


@dataclass
class ClassifierData:
    """``data:`` section. manifest: CSV (or its folder; relative paths from the current directory).
    batch_size: clips per batch per device. num_workers: loader processes. sample_rate / segment_length: clips
    are loaded at this rate and cropped/padded to this many samples (random offset in training, centred else).
    balance: a manifest column (e.g. ``engine``) whose values the training batches are balanced over: each epoch
    draws as many clips as the train split holds, with replacement, clip ``i`` with a weight
    ``count(value_i) ** -balance_power`` (1 = every value gets the same share, 0.5 = shares grow as the square root
    of the counts); empty = plain shuffling. target: ``digit`` (10-way, labelled rows), ``is_digit`` (two
    classes, every row: a digit or not), ``digit_or_not`` (eleven: the digits and "not a digit") or ``count``
    (mixtures of the speaker counter's counts of voices; see the module docstring). noise: with a detector target,
    synthetic noise and silence clips ("not a digit") added to each split, as a share of its rows (0 = none)."""

    manifest: str
    batch_size: int = 64
    num_workers: int = 0
    sample_rate: int = 16000
    segment_length: int = 16000
    balance: str = ""
    balance_power: float = 1.0
    target: str = "digit"
    noise: float = 0.0

    def validate(self, where: str) -> None:
        if self.target not in TARGETS:
            raise ConfigError(f"{where}.target: expected one of {', '.join(TARGETS)}, got {self.target!r}")
        if self.noise < 0:
            raise ConfigError(f"{where}.noise: must be >= 0, got {self.noise}")
        if self.noise > 0 and self.target not in DETECTOR_CLASSES:
            raise ConfigError(f"{where}.noise: synthetic noise clips are negatives of the detector targets "
                              f"({', '.join(DETECTOR_CLASSES)}) only")
        if self.balance_power < 0:
            raise ConfigError(f"{where}.balance_power: must be >= 0, got {self.balance_power}")
        check_fields(self, where, positive=("batch_size", "sample_rate", "segment_length"),
                     non_negative=("num_workers",))


@dataclass
class Augment:
    """``augment:`` section (each part is off at 0 / probability 0).

    shift: largest time shift in seconds (either way, zero fill). gain_db: largest gain change in dB.
    speed: range of resampling factors (tempo and pitch together; factor > 1 is faster and higher).
    speed_prob: share of clips speed-perturbed. noise_prob: share of clips with added white noise at an SNR drawn
    from ``snr_db``. freq_warp: largest relative stretch of the mel axis about 0 Hz (vocal-tract-length
    perturbation: bin ``f`` takes the value of bin ``f * a``, ``a`` in ``[1 - freq_warp, 1 + freq_warp]``,
    edge-padded). freq_masks/time_masks: SpecAugment masks per clip, of up to ``freq_mask_width`` mel bands /
    ``time_mask_width`` frames each, filled with 0 (the normalised mean).

    eq_db: largest gain (dB, either way) of a random smooth zero-phase filter applied to ``eq_prob`` of the clips
    (channel / voice-quality / spectral-tilt perturbation): a sum of ``eq_bands`` cosines over the mel-scaled
    frequency axis with Gaussian weights, scaled so that its largest magnitude is uniform in ``[0, eq_db]``.
    highpass / lowpass: band limitation (microphone / telephone channels): ``band_prob`` of the clips go through a
    zero-phase 4th-order Butterworth-magnitude high-pass with a cut-off uniform in ``[0, highpass]`` Hz, and
    (independently) ``band_prob`` through a low-pass with a cut-off uniform in ``[lowpass, sample_rate / 2]`` Hz
    (0 = off).
    tempo: range of time-stretch factors of the log-mel frames about the centre (> 1 is faster; the pitch and
    spectrum are kept, unlike ``speed``), applied to ``tempo_prob`` of the clips. time_warp: SpecAugment-style
    time warp: a frame drawn in the middle 40 % of the clip moves by up to ``time_warp`` × the clip length, the
    frames on either side stretch linearly (changes the relative durations of a word's onset and end).
    mixup: Beta(mixup, mixup) parameter of mixup between pairs of normalised log-mel in a batch, with the
    cross-entropy mixed in the same proportion (applied to ``mixup_prob`` of the clips; 0 = off).
    """

    shift: float = 0.1
    gain_db: float = 6.0
    speed: tuple[float, float] = (0.9, 1.1)
    speed_prob: float = 0.5
    noise_prob: float = 0.3
    snr_db: tuple[float, float] = (10.0, 40.0)
    freq_warp: float = 0.0
    freq_masks: int = 2
    freq_mask_width: int = 10
    time_masks: int = 2
    time_mask_width: int = 8
    eq_db: float = 0.0
    eq_prob: float = 0.5
    eq_bands: int = 6
    highpass: float = 0.0
    lowpass: float = 0.0
    band_prob: float = 0.3
    tempo: tuple[float, float] = (1.0, 1.0)
    tempo_prob: float = 0.5
    time_warp: float = 0.0
    mixup: float = 0.0
    mixup_prob: float = 0.5

    def validate(self, where: str) -> None:
        if not 0 < self.speed[0] <= self.speed[1]:
            raise ConfigError(f"{where}.speed: expected 0 < low <= high, got {list(self.speed)}")
        if self.snr_db[0] > self.snr_db[1]:
            raise ConfigError(f"{where}.snr_db: expected low <= high, got {list(self.snr_db)}")
        if not 0 < self.tempo[0] <= self.tempo[1]:
            raise ConfigError(f"{where}.tempo: expected 0 < low <= high, got {list(self.tempo)}")
        for k in ("speed_prob", "noise_prob", "eq_prob", "band_prob", "tempo_prob", "mixup_prob"):
            if not 0.0 <= getattr(self, k) <= 1.0:
                raise ConfigError(f"{where}.{k}: must be in [0, 1], got {getattr(self, k)}")
        for k in ("freq_warp", "time_warp"):
            if not 0.0 <= getattr(self, k) < 1.0:
                raise ConfigError(f"{where}.{k}: must be in [0, 1), got {getattr(self, k)}")
        if self.eq_bands < 1:
            raise ConfigError(f"{where}.eq_bands: must be >= 1, got {self.eq_bands}")
        for k in ("shift", "gain_db", "freq_masks", "freq_mask_width", "time_masks", "time_mask_width", "eq_db",
                  "highpass", "lowpass", "mixup"):
            if getattr(self, k) < 0:
                raise ConfigError(f"{where}.{k}: must be >= 0, got {getattr(self, k)}")


@dataclass
class ClassifierTrain(TrainSection):
    """``train:`` section (see :class:`~speechgen.training.optim.TrainSection`) plus label_smoothing:
    cross-entropy smoothing."""

    label_smoothing: float = 0.1

    def validate(self, where: str) -> None:
        super().validate(where)
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"{where}.label_smoothing: must be in [0, 1), got {self.label_smoothing}")


# ------------------------------------------------------------------------------------------------ augmentation
def _uniform(n: int, low: float, high: float, device: torch.device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, device=device)


def random_eq(wave: torch.Tensor, cfg: Augment, sample_rate: int) -> torch.Tensor:
    """Filter ``eq_prob`` of the clips ``[B, T]`` with a random smooth zero-phase EQ curve (see :class:`Augment`)."""
    b, t = wave.shape
    dev = wave.device
    use = torch.rand(b, device=dev) < cfg.eq_prob
    f = torch.fft.rfftfreq(t, 1.0 / sample_rate, device=dev, dtype=wave.dtype)
    u = torch.log1p(f / 700.0) / math.log1p(sample_rate / 2 / 700.0)  # mel-scaled frequency, 0..1
    k = torch.arange(1, cfg.eq_bands + 1, device=dev, dtype=wave.dtype)
    curve = torch.randn(b, cfg.eq_bands, device=dev, dtype=wave.dtype) @ torch.cos(torch.pi * k[:, None] * u[None])
    peak = _uniform(b, 0.0, cfg.eq_db, dev).to(wave.dtype) * use
    curve = curve / curve.abs().amax(dim=1, keepdim=True).clamp(min=1e-6) * peak[:, None]  # dB, [B, F]
    out = torch.fft.irfft(torch.fft.rfft(wave) * (10.0 ** (curve / 20.0)), n=t)
    return torch.where(use[:, None], out, wave)


def band_limit(wave: torch.Tensor, cfg: Augment, sample_rate: int) -> torch.Tensor:
    """Random high-pass and low-pass filtering of clips ``[B, T]`` (see :class:`Augment`; zero-phase, by FFT)."""
    b, t = wave.shape
    dev, nyquist = wave.device, sample_rate / 2
    f = torch.fft.rfftfreq(t, 1.0 / sample_rate, device=dev, dtype=wave.dtype)[None]
    gain = torch.ones(b, f.shape[1], device=dev, dtype=wave.dtype)
    if cfg.highpass > 0:
        fc = _uniform(b, 0.0, min(cfg.highpass, nyquist), dev).to(wave.dtype)
        fc = torch.where(torch.rand(b, device=dev) < cfg.band_prob, fc, torch.zeros_like(fc))[:, None]
        gain = gain * torch.rsqrt(1 + (fc / f.clamp(min=1e-3)) ** 8)
    if 0 < cfg.lowpass < nyquist:
        fc = _uniform(b, cfg.lowpass, nyquist, dev).to(wave.dtype)
        fc = torch.where(torch.rand(b, device=dev) < cfg.band_prob, fc, torch.full_like(fc, float("inf")))[:, None]
        gain = gain * torch.rsqrt(1 + (f / fc) ** 8)
    return torch.fft.irfft(torch.fft.rfft(wave) * gain, n=t)


def warp_time(x: torch.Tensor, cfg: Augment) -> torch.Tensor:
    """Tempo change and SpecAugment-style time warp of log-mel ``[B, F, T]`` (linear interpolation of frames,
    edge frames repeated beyond the clip)."""
    b, nf, nt = x.shape
    dev, last = x.device, nt - 1
    src = torch.arange(nt, device=dev, dtype=x.dtype)[None].expand(b, nt)  # source frame of each output frame
    if cfg.time_warp > 0:
        a = _uniform(b, 0.3, 0.7, dev) * last  # anchor (output frame) ...
        to = (a + _uniform(b, -cfg.time_warp, cfg.time_warp, dev) * last).clamp(1.0, last - 1.0)  # ... its source
        src = torch.where(src <= a[:, None], src * (to / a)[:, None],
                          to[:, None] + (src - a[:, None]) * ((last - to) / (last - a))[:, None])
    if cfg.tempo_prob > 0 and tuple(cfg.tempo) != (1.0, 1.0):
        use = torch.rand(b, device=dev) < cfg.tempo_prob
        rate = torch.where(use, _uniform(b, cfg.tempo[0], cfg.tempo[1], dev), torch.ones(b, device=dev))
        src = last / 2 + (src - last / 2) * rate[:, None]
    if cfg.time_warp <= 0 and not (cfg.tempo_prob > 0 and tuple(cfg.tempo) != (1.0, 1.0)):
        return x
    gx = (2 * src / last - 1)[:, None, :].expand(b, nf, nt)
    gy = torch.linspace(-1, 1, nf, device=dev, dtype=x.dtype)[None, :, None].expand(b, nf, nt)
    return F.grid_sample(x[:, None], torch.stack([gx, gy], dim=-1), mode="bilinear", padding_mode="border",
                         align_corners=True)[:, 0]


def augment_wave(wave: torch.Tensor, cfg: Augment, sample_rate: int) -> torch.Tensor:
    """Time shift + speed perturbation (one linear-interpolation resampling about the centre), random EQ, band
    limitation, gain, noise."""
    b, t = wave.shape
    dev = wave.device
    shift = _uniform(b, -cfg.shift, cfg.shift, dev) * sample_rate
    rate = torch.ones(b, device=dev)
    if cfg.speed_prob > 0 and tuple(cfg.speed) != (1.0, 1.0):
        use = torch.rand(b, device=dev) < cfg.speed_prob
        rate = torch.where(use, _uniform(b, cfg.speed[0], cfg.speed[1], dev), rate)
    if cfg.shift > 0 or bool((rate != 1).any()):
        centre = (t - 1) / 2
        n = torch.arange(t, device=dev, dtype=wave.dtype)
        pos = (n[None, :] - centre) * rate[:, None] + centre - shift[:, None]  # source sample of each output
        grid = torch.stack([2 * pos / (t - 1) - 1, torch.zeros_like(pos)], dim=-1)[:, None]  # [B, 1, T, 2]
        wave = F.grid_sample(wave[:, None, None, :], grid, mode="bilinear", padding_mode="zeros",
                             align_corners=True)[:, 0, 0]
    if cfg.eq_db > 0 and cfg.eq_prob > 0:
        wave = random_eq(wave, cfg, sample_rate)
    if cfg.band_prob > 0 and (cfg.highpass > 0 or 0 < cfg.lowpass < sample_rate / 2):
        wave = band_limit(wave, cfg, sample_rate)
    if cfg.gain_db > 0:
        wave = wave * (10.0 ** (_uniform(b, -cfg.gain_db, cfg.gain_db, dev) / 20.0))[:, None]
    if cfg.noise_prob > 0:
        rms = wave.pow(2).mean(dim=1).sqrt()
        snr = _uniform(b, cfg.snr_db[0], cfg.snr_db[1], dev)
        scale = rms / (10.0 ** (snr / 20.0)) * (torch.rand(b, device=dev) < cfg.noise_prob)
        wave = wave + torch.randn_like(wave) * scale[:, None]
    return wave


def spec_augment(x: torch.Tensor, cfg: Augment) -> torch.Tensor:
    """Warp the mel axis, then zero random bands and frame ranges of normalised log-mel ``[B, 1, F, T]``."""
    b, _, nf, nt = x.shape
    if cfg.freq_warp > 0:
        a = _uniform(b, 1.0 - cfg.freq_warp, 1.0 + cfg.freq_warp, x.device)
        src = (torch.arange(nf, device=x.device, dtype=x.dtype)[None] * a[:, None]).clamp(max=nf - 1)  # [B, F]
        gy = (2 * src / (nf - 1) - 1)[:, :, None].expand(b, nf, nt)
        gx = torch.linspace(-1, 1, nt, device=x.device, dtype=x.dtype)[None, None].expand(b, nf, nt)
        x = F.grid_sample(x, torch.stack([gx, gy], dim=-1), mode="bilinear", align_corners=True)
    keep = torch.ones(b, nf, nt, dtype=torch.bool, device=x.device)
    for count, width, size, axis in ((cfg.freq_masks, cfg.freq_mask_width, nf, 1),
                                     (cfg.time_masks, cfg.time_mask_width, nt, 2)):
        idx = torch.arange(size, device=x.device)
        for _ in range(count):
            w = torch.randint(0, min(width, size) + 1, (b,), device=x.device)
            start = (torch.rand(b, device=x.device) * (size - w + 1)).long()
            m = (idx[None] >= start[:, None]) & (idx[None] < (start + w)[:, None])  # [B, size]
            keep &= ~(m[:, :, None] if axis == 1 else m[:, None, :])
    return x * keep[:, None]


# ------------------------------------------------------------------------------------------------ data
NOISE_KINDS = ("silence", "white", "pink", "brown", "band", "hum", "bursts", "clicks", "beeps")


def _coloured(rng: np.random.Generator, n: int, alpha: float, sample_rate: int, band: tuple[float, float] | None = None,
              ) -> np.ndarray:
    """Gaussian noise with a ``1 / f ** alpha`` power spectrum (optionally only inside ``band`` Hz), unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sample_rate)
    gain = np.where(f > 0, np.maximum(f, 20.0) ** (-alpha / 2.0), 0.0)
    if band is not None:
        gain = gain * ((f >= band[0]) & (f <= band[1]))
    x = np.fft.irfft(spec * gain, n=n)
    return x / max(float(np.sqrt(np.mean(x ** 2))), 1e-12)


def noise_clip(rng: np.random.Generator, length: int, sample_rate: int = 16000) -> tuple[np.ndarray, str]:
    """One synthetic clip that is not speech, and its kind (one of :data:`NOISE_KINDS`): digital or near silence;
    white, pink or brown noise; band-limited noise; mains hum with harmonics; bursts of coloured noise with
    syllable-like envelopes; clicks; sine beeps. Peak level log-uniform between -60 and -1 dBFS (silence: at most
    -80 dBFS of dither)."""
    kind = NOISE_KINDS[int(rng.integers(len(NOISE_KINDS)))]
    n = int(length)
    t = np.arange(n) / sample_rate
    if kind == "silence":
        x = rng.standard_normal(n) * (10.0 ** rng.uniform(-7.0, -4.0)) * (rng.random() < 0.7)
        return x.astype(np.float32), kind
    if kind in ("white", "pink", "brown"):
        x = _coloured(rng, n, {"white": 0.0, "pink": 1.0, "brown": 2.0}[kind], sample_rate)
    elif kind == "band":
        lo = float(np.exp(rng.uniform(np.log(50.0), np.log(4000.0))))
        x = _coloured(rng, n, float(rng.uniform(0.0, 1.5)), sample_rate, (lo, min(lo * rng.uniform(1.5, 8.0),
                                                                                  sample_rate / 2)))
    elif kind == "hum":
        f0 = float(rng.choice([50.0, 60.0])) * rng.uniform(0.98, 1.02)
        x = sum(rng.uniform(0.1, 1.0) / k * np.sin(2 * np.pi * k * f0 * t + rng.uniform(0, 2 * np.pi))
                for k in range(1, 8))
        x = x + 0.05 * _coloured(rng, n, 1.0, sample_rate)
    elif kind == "bursts":
        floor = _coloured(rng, n, 1.0, sample_rate) * 10.0 ** rng.uniform(-3.0, -1.5)
        x = floor
        for _ in range(int(rng.integers(1, 4))):
            dur = rng.uniform(0.05, 0.5)
            at = rng.uniform(0.0, max(1e-3, n / sample_rate - dur))
            env = np.clip((t - at) / dur, 0.0, 1.0)
            env = np.sin(np.pi * env) ** rng.uniform(0.5, 2.0) * ((t >= at) & (t <= at + dur))
            x = x + env * _coloured(rng, n, float(rng.uniform(0.0, 2.0)), sample_rate)
    elif kind == "clicks":
        x = _coloured(rng, n, 1.0, sample_rate) * 10.0 ** rng.uniform(-3.0, -1.0)
        for i in rng.integers(0, n, size=int(rng.integers(1, 12))):
            w = int(rng.integers(1, 80))
            x[i:i + w] += rng.uniform(-1.0, 1.0) * np.exp(-np.arange(len(x[i:i + w])) / max(w / 4, 1))
    else:  # beeps
        x = _coloured(rng, n, 1.0, sample_rate) * 10.0 ** rng.uniform(-3.0, -1.0)
        for _ in range(int(rng.integers(1, 4))):
            dur = rng.uniform(0.05, 0.6)
            at = rng.uniform(0.0, max(1e-3, n / sample_rate - dur))
            on = (t >= at) & (t <= at + dur)
            x = x + on * np.sin(2 * np.pi * np.exp(rng.uniform(np.log(200.0), np.log(4000.0))) * t)
    x = np.asarray(x, dtype=np.float64)
    peak = 10.0 ** (rng.uniform(-60.0, -1.0) / 20.0)
    return (x * (peak / max(float(np.abs(x).max()), 1e-12))).astype(np.float32), kind


class IsDigitDataset(Dataset):
    """Items of a :class:`ManifestDataset` relabelled for a detector of ``classes`` classes (2: 0 = a row with a
    digit label, 1 = a row without; 11: the digit, 10 = a row without), followed by ``extra`` synthetic
    noise/silence items (the last class) made from ``(seed, epoch, index)`` when ``fresh`` (training: new clips each
    epoch) or from ``(seed, index)`` (evaluation: the same clips each time)."""

    output_key = "audio"

    def __init__(self, base: ManifestDataset, extra: int, seed: int, fresh: bool, classes: int = 2) -> None:
        if base.feature is not None or base.segment_length is None:
            raise ConfigError("detector targets need raw audio cropped to a fixed segment_length")
        self.base, self.extra, self.seed, self.fresh = base, int(extra), int(seed), bool(fresh)
        self.classes, self.not_digit = int(classes), int(classes) - 1
        self.manifest = base.manifest

    def __len__(self) -> int:
        return len(self.base) + self.extra

    def set_epoch(self, epoch: int) -> None:
        self.base.set_epoch(epoch)

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, Any]:
        epoch, index = (int(item[0]), int(item[1])) if isinstance(item, tuple) else (self.base.epoch, int(item))
        if index < 0:
            index += len(self)
        if index < len(self.base):
            out = self.base[(epoch, index)]
            label = out["label"]
            out["label"] = self.not_digit if label < 0 else (label if self.classes == 11 else 0)
            return out
        if not index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, epoch if self.fresh else 0, index, 0x4E4F4953])
        audio, _ = noise_clip(rng, int(self.base.segment_length or 0), self.base.sample_rate)
        return {"audio": torch.from_numpy(audio), "label": self.not_digit, "speaker": -1, "index": index}


class BalancedSampler(EpochSampler):
    """:class:`EpochSampler` that draws ``len(weights)`` indices per epoch with replacement, proportionally to
    ``weights``, from a generator seeded by ``(seed, epoch)`` (so resuming an interrupted epoch replays it)."""

    def __init__(self, weights: Sequence[float], seed: int = 0) -> None:
        super().__init__(len(weights), seed=seed, shuffle=True)
        self.weights = torch.as_tensor(weights, dtype=torch.float64)

    def __iter__(self) -> Iterator[tuple[int, int]]:
        gen = torch.Generator().manual_seed((self.seed * 1_000_003 + self.epoch) % (1 << 63))
        order = torch.multinomial(self.weights, self.size, replacement=True, generator=gen).tolist()
        epoch, skip, self._skip = self.epoch, self._skip, 0
        for i in order[skip:]:
            yield (epoch, i)


class ClassifierDataModule(DigitsDataModule):
    """:class:`DigitsDataModule` whose training batches are optionally balanced over a manifest column."""

    def __init__(self, manifest: Any, *, balance: str = "", balance_power: float = 1.0, target: str = "digit",
                 noise: float = 0.0, counts: Sequence[int] = (), **kwargs: Any) -> None:
        detector = target in DETECTOR_CLASSES
        if detector or target == "count":
            kwargs["labelled"] = None  # every row: with a label = a digit, without = not a digit; or every voice
        super().__init__(manifest, **kwargs)
        self.balance, self.balance_power = balance, float(balance_power)
        self.target, self.noise = target, float(noise)
        if detector:
            self.num_labels = DETECTOR_CLASSES[target]
        self.counts = tuple(counts)
        if target == "count":
            self.num_labels = len(self.counts)
        self.wrapped: dict[str, Any] = {}

    def dataset(self, split: str) -> Any:
        if self.target == "count":
            if split not in self.wrapped:
                self.wrapped[split] = CountDataset(self.manifest, split, self.counts, int(self.segment_length),
                                                   sample_rate=int(self.sample_rate), seed=self.seed,
                                                   fixed=split != "train")
            return self.wrapped[split]
        ds = super().dataset(split)
        if self.target not in DETECTOR_CLASSES:
            return ds
        if split not in self.wrapped:
            salt = zlib.crc32(split.encode())
            self.wrapped[split] = IsDigitDataset(ds, round(self.noise * len(ds)), self.seed * 1_000_003 + salt,
                                                 fresh=split == "train", classes=DETECTOR_CLASSES[self.target])
        return self.wrapped[split]

    def balance_weights(self) -> list[float]:
        """Sampling weight of each train clip (``count(value) ** -balance_power``; synthetic noise clips get the
        mean weight of the rows)."""
        ds = self.dataset("train")
        rows = list(ds.manifest)
        if any(self.balance not in r or r[self.balance] in (None, "") for r in rows):
            raise ConfigError(f"recipe.data.balance: the train split has rows without a '{self.balance}' value")
        counts = Counter(str(r[self.balance]) for r in rows)
        weights = [counts[str(r[self.balance])] ** -self.balance_power for r in rows]
        return weights + [sum(weights) / len(weights)] * (len(ds) - len(rows))

    def train_dataloader(self) -> DataLoader:
        if not self.balance:
            return super().train_dataloader()
        ds = self.dataset("train")
        self.train_sampler = BalancedSampler(self.balance_weights(), seed=self.seed)
        return self._loader(ds, self.train_sampler, self.drop_last and len(ds) >= self.batch_size)


# ------------------------------------------------------------------------------------------------ Lightning module
class ClassifierModule(L.LightningModule):
    """Cross-entropy training of a classifier; logs ``train/loss``, ``train/acc``, ``val/loss``, ``val/acc``."""

    def __init__(self, model: torch.nn.Module, model_spec: dict[str, Any], optim: OptimConfig, augment: Augment,
                 train: ClassifierTrain, checkpoint_extra: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.model = model
        self.model_spec = model_spec
        self.optim_cfg, self.augment, self.train_cfg = optim, augment, train
        self.checkpoint_extra = dict(checkpoint_extra or {})
        self.sample_rate = int(getattr(model, "sample_rate", 16000))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.model(wave)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        wave, y = batch["audio"], batch["label"]
        cfg, smoothing = self.augment, self.train_cfg.label_smoothing
        wave = augment_wave(wave, cfg, self.sample_rate)
        x = spec_augment(self.model.normalize(warp_time(self.model.log_mel(wave), cfg)), cfg)
        if cfg.mixup > 0 and cfg.mixup_prob > 0:
            lam = torch.distributions.Beta(cfg.mixup, cfg.mixup).sample((len(y),)).to(x)
            lam = torch.where(torch.rand(len(y), device=x.device) < cfg.mixup_prob, torch.maximum(lam, 1 - lam),
                              torch.ones_like(lam))  # the clip's own label keeps the larger share
            perm = torch.randperm(len(y), device=x.device)
            x = lam[:, None, None, None] * x + (1 - lam[:, None, None, None]) * x[perm]
            logits = self.model.classify_features(x)
            loss = (lam * F.cross_entropy(logits, y, label_smoothing=smoothing, reduction="none")
                    + (1 - lam) * F.cross_entropy(logits, y[perm], label_smoothing=smoothing, reduction="none")).mean()
        else:
            logits = self.model.classify_features(x)
            loss = F.cross_entropy(logits, y, label_smoothing=smoothing)
        check_finite(int(self.global_step), loss=loss)
        acc = (logits.argmax(-1) == y).float().mean()
        self.log_dict({"train/loss": loss, "train/acc": acc}, prog_bar=True, batch_size=len(y))
        return loss

    def _eval_step(self, batch: dict[str, torch.Tensor], prefix: str) -> None:
        logits = self.model(batch["audio"])
        y = batch["label"]
        loss = F.cross_entropy(logits, y)
        acc = (logits.argmax(-1) == y).float().mean()
        self.log_dict({f"{prefix}/loss": loss, f"{prefix}/acc": acc}, prog_bar=prefix == "val",
                      batch_size=len(y), sync_dist=True)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def configure_optimizers(self) -> dict[str, Any]:
        return build_optimizer(self.model.parameters(), self.optim_cfg, self.train_cfg.max_steps)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from speechgen.checkpoint import model_config

        extra = dict(self.checkpoint_extra, step=int(self.global_step))
        checkpoint["speechgen_model"] = {"prefix": "model.", "config": model_config(self.model, self.model_spec,
                                                                                     extra)}


class ClassifierScheme:
    """Recipe sections and builders of the ``classifier`` scheme."""

    name = "classifier"
    sections = {"data": ClassifierData, "optim": OptimConfig, "train": ClassifierTrain, "augment": Augment}
    models = ("digit_classifier", "digit_detector", "speaker_counter")

    @staticmethod
    def build(recipe: Any, model: torch.nn.Module, checkpoint_extra: dict[str, Any] | None = None,
              ) -> tuple[L.LightningModule, L.LightningDataModule]:
        d: ClassifierData = recipe.data
        rate = getattr(model, "sample_rate", d.sample_rate)
        if rate != d.sample_rate:
            raise ConfigError(f"recipe.data.sample_rate: {d.sample_rate} differs from the model's {rate}")
        if (recipe.model.name == "speaker_counter") != (d.target == "count"):
            raise ConfigError(f"recipe.data.target: model speaker_counter trains with target count and only it, got "
                              f"model {recipe.model.name} with target {d.target!r}")
        dm = ClassifierDataModule(d.manifest, batch_size=d.batch_size, num_workers=d.num_workers, seed=recipe.seed,
                                  sample_rate=d.sample_rate, segment_length=d.segment_length, balance=d.balance,
                                  balance_power=d.balance_power, target=d.target, noise=d.noise,
                                  counts=getattr(model, "counts", ()))
        if d.balance:
            dm.balance_weights()  # fail now, naming the field, when the column is missing
        if recipe.model.name == "digit_detector" and d.target not in DETECTOR_CLASSES:
            raise ConfigError(f"recipe.data.target: model digit_detector needs a detector target "
                              f"({', '.join(DETECTOR_CLASSES)}), got {d.target!r}")
        if d.target in DETECTOR_CLASSES and getattr(model, "n_classes", 0) != DETECTOR_CLASSES[d.target]:
            raise ConfigError(f"recipe.data.target: {d.target} trains {DETECTOR_CLASSES[d.target]} classes (the last "
                              f"'not a digit'); the model has n_classes {getattr(model, 'n_classes', '?')} (use model "
                              f"digit_detector with n_classes {DETECTOR_CLASSES[d.target]})")
        if dm.num_labels > getattr(model, "n_classes", dm.num_labels):
            raise ConfigError(f"recipe.model.kwargs.n_classes: the manifest has {dm.num_labels} labels")
        spec = {"name": recipe.model.name, "kwargs": recipe.model.kwargs}
        module = ClassifierModule(model, spec, recipe.optim, recipe.augment, recipe.train, checkpoint_extra)
        return module, dm
