"""Windows of log-mel frames with a label per window: the data of frame-level (phone-conditioned) generative models.

Each item is a window of ``context`` consecutive frames (default 9: ±4 frames, 90 ms at a 10 ms hop) of one
utterance's log-mel spectrogram, centred on frame ``t``, labelled with the class of its *centre* frame:

- corpora with an ``alignment`` column (TIMIT's ``.PHN`` files, see :mod:`speechgen.data.readers.timit`): the
  phone of frame ``t`` in the 48-phone set (``phone_set`` 61/48/39) from
  :func:`~speechgen.data.readers.timit.frame_labels` with the feature's hop, so frame ``t`` (centred on sample
  ``t * hop``) gets the phone containing that sample;
- corpora without alignments (the spoken-digit corpus, SC09, FSDD, ...): the clip's own label (the digit) for every
  window of the clip — a frame-level model of "what frames of digit *d* look like".

``labels: "auto"`` picks phones when any row of the manifest has a non-empty ``alignment``, else clip labels.
Rows without a label source (no alignment in phone mode, no label in clip mode) are unlabelled (label -1) and left
out when ``labelled=True``.

Windows are centred on every ``stride``-th frame (``0, stride, 2·stride, …``; ``eval_stride`` for the valid and test
splits). Near the ends of an utterance the window reaches past the first/last frame; those positions hold the
feature's silence value (:attr:`LogMel.pad_value` = ``log(eps)``, what digital silence maps to), and the window's
label is still its centre frame's.

Normalisation (:class:`FrameNorm`): per mel band, ``clip((x - mean) / (norm_scale · std), -1, 1)`` with ``mean`` /
``std`` over every frame of the **train** split (each frame counted once, edge padding excluded). The generative
models end in ``tanh``, so ``norm_scale = 3`` maps ±3 standard deviations onto their [-1, 1] range (values further
out are clipped). The statistics are plain lists (``frames.stats: {mean: [...], std: [...]}``); a recipe may give
them, otherwise they are computed when the data module is set up and the training schemes store them in the
checkpoint's recipe (``recipe.data.frames.stats``), from where sampling de-normalises generated windows.

Feature choice for TIMIT (16 kHz): the registered ``log_mel`` with ``n_fft 400``, ``win_length 400`` (25 ms),
``hop_length 160`` (10 ms), ``n_mels 40``, 0–8000 Hz — the classic frame-level TIMIT front end (40 filterbank
channels, 25 ms / 10 ms). With a 400-point FFT (40 Hz bins) 40 slaney mel filters each still cover 3 or more FFT
bins at the low end, where 80 filters would be one bin wide.

:class:`FramesDataModule` follows :class:`~speechgen.data.datamodule.ManifestDataModule`: features come from the
:class:`~speechgen.data.features.FeatureCache` (filled by ``prepare_data``); the train loader iterates an
:class:`~speechgen.data.datamodule.EpochSampler` (``train_sampler``, exact resume with ``skip_next``) and every
loader draws worker seeds from a private ``torch.Generator``. Each split's frames are held in memory as one
``[frames, n_mels]`` float32 array (full TIMIT train at 40 bands: about 1.1 M frames, 180 MB).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import Dataset

from speechgen.data.datamodule import (
    DEFAULT_CACHE_SUBDIR, SplitLoaders, _check_positive_int, _read_manifest, label_count, speaker_index,
)
from speechgen.data.features import FeatureCache, LogMel, build_feature
from speechgen.data.manifest import SPLITS, Manifest
from speechgen.data.readers.timit import PHONE_SETS, frame_labels
from speechgen.errors import ConfigError, DataError

LABEL_MODES: tuple[str, ...] = ("auto", "phones", "clip")

#: log-mel parameters suited to TIMIT (see the module docstring).
TIMIT_LOG_MEL: dict[str, Any] = {"n_fft": 400, "win_length": 400, "hop_length": 160, "n_mels": 40, "fmin": 0.0,
                                 "fmax": 8000.0}


def _int(where: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        raise ConfigError(f"{where}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _floats(where: str, value: object, positive: bool = False) -> list[float]:
    if not isinstance(value, (list, tuple, np.ndarray)) or len(value) == 0:
        raise ConfigError(f"{where}: expected a non-empty list of numbers, got {value!r}")
    out = []
    for v in value:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v):
            raise ConfigError(f"{where}: expected finite numbers, got {v!r}")
        if positive and v <= 0:
            raise ConfigError(f"{where}: expected numbers > 0, got {v!r}")
        out.append(float(v))
    return out


@dataclass(frozen=True)
class FrameOptions:
    """The ``frames`` options (``data.frames`` in a recipe).

    context: frames per window (odd, centred on the labelled frame). stride: centre every ``stride``-th frame of
    the train split. eval_stride: the same for the valid/test splits (None: ``stride``). phone_set: 61, 48 or 39
    phones (alignment corpora). labels: "auto", "phones" (from the ``alignment`` column) or "clip" (the row's
    label). norm_scale: standard deviations mapped onto ±1. stats: ``{mean: [...], std: [...]}`` per mel band
    (None: computed from the train split).
    """

    context: int = 9
    stride: int = 1
    eval_stride: int | None = None
    phone_set: int = 48
    labels: str = "auto"
    norm_scale: float = 3.0
    stats: dict[str, list[float]] | None = None

    def validate(self, where: str = "frames") -> None:
        """Raise :class:`ConfigError` naming ``where.<field>`` for a bad value."""
        context = _int(f"{where}.context", self.context, 1)
        if context % 2 == 0:
            raise ConfigError(f"{where}.context: must be odd (a window centred on its labelled frame), got {context}")
        _int(f"{where}.stride", self.stride, 1)
        if self.eval_stride is not None:
            _int(f"{where}.eval_stride", self.eval_stride, 1)
        if isinstance(self.phone_set, bool) or not isinstance(self.phone_set, int) \
                or self.phone_set not in PHONE_SETS:
            raise ConfigError(f"{where}.phone_set: must be 61, 48 or 39, got {self.phone_set!r}")
        if self.labels not in LABEL_MODES:
            raise ConfigError(f"{where}.labels: expected one of {', '.join(LABEL_MODES)}, got {self.labels!r}")
        s = self.norm_scale
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not math.isfinite(s) or s <= 0:
            raise ConfigError(f"{where}.norm_scale: expected a number > 0, got {s!r}")
        if self.stats is not None:
            if not isinstance(self.stats, Mapping) or set(self.stats) != {"mean", "std"}:
                raise ConfigError(f"{where}.stats: expected a mapping with 'mean' and 'std' lists, got {self.stats!r}")
            mean = _floats(f"{where}.stats.mean", self.stats["mean"])
            std = _floats(f"{where}.stats.std", self.stats["std"], positive=True)
            if len(mean) != len(std):
                raise ConfigError(f"{where}.stats.std: {len(std)} values, but stats.mean has {len(mean)}")

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | FrameOptions | None, where: str = "frames") -> FrameOptions:
        """Options from a recipe mapping (unknown keys and bad values raise ConfigError naming the field)."""
        if isinstance(values, FrameOptions):
            opts = values
        else:
            values = {} if values is None else values
            if not isinstance(values, Mapping):
                raise ConfigError(f"{where}: expected a mapping, got {values!r}")
            known = {f.name for f in fields(cls)}
            unknown = sorted(set(values) - known)
            if unknown:
                raise ConfigError(f"{where}.{unknown[0]}: unknown field (known: {', '.join(sorted(known))})")
            opts = cls(**dict(values))
        opts.validate(where)
        if opts.stats is not None:  # plain float lists (YAML-safe)
            opts = replace(opts, stats={"mean": [float(v) for v in opts.stats["mean"]],
                                        "std": [float(v) for v in opts.stats["std"]]})
        return opts

    def to_dict(self) -> dict[str, Any]:
        """Plain YAML-safe mapping (``from_mapping(to_dict())`` gives the same options)."""
        return asdict(self)

    @property
    def half(self) -> int:
        """Frames on each side of the centre."""
        return self.context // 2


@dataclass(frozen=True)
class FrameNorm:
    """Per-band normalisation ``clip((x - mean) / (scale · std), -1, 1)`` of ``[..., n_mels, frames]`` arrays."""

    mean: np.ndarray
    std: np.ndarray
    scale: float = 3.0

    @classmethod
    def from_options(cls, options: FrameOptions) -> FrameNorm:
        """The normalisation of options whose ``stats`` are set (ConfigError otherwise)."""
        if options.stats is None:
            raise ConfigError("frames.stats: not computed yet (set up the data module on the train split first)")
        return cls(np.asarray(options.stats["mean"], np.float64), np.asarray(options.stats["std"], np.float64),
                   float(options.norm_scale))

    @property
    def n_mels(self) -> int:
        return int(len(self.mean))

    def _check(self, x: np.ndarray) -> None:
        if x.ndim < 2 or x.shape[-2] != self.n_mels:
            raise DataError(f"frames: expected [..., {self.n_mels}, frames] arrays, got shape {list(x.shape)}")

    def normalize(self, x: np.ndarray) -> np.ndarray:
        """Log-mel values → the models' [-1, 1] range (float32)."""
        x = np.asarray(x, dtype=np.float32)
        self._check(x)
        mean, inv = self._coefficients()
        return np.clip((x - mean[:, None]) * inv[:, None], -1.0, 1.0)

    def _coefficients(self) -> tuple[np.ndarray, np.ndarray]:
        """float32 ``mean`` and ``1 / (scale · std)`` (the same arithmetic in every normalisation path)."""
        return self.mean.astype(np.float32), (1.0 / (self.scale * self.std)).astype(np.float32)

    def normalize_rows_(self, frames: np.ndarray) -> np.ndarray:
        """Normalise a float32 ``[frames, n_mels]`` array in place (no full-size temporaries); returns it."""
        if frames.ndim != 2 or frames.shape[1] != self.n_mels or frames.dtype != np.float32:
            raise DataError(f"frames: expected float32 [frames, {self.n_mels}], got {frames.dtype} "
                            f"{list(frames.shape)}")
        mean, inv = self._coefficients()
        frames -= mean
        frames *= inv
        np.clip(frames, -1.0, 1.0, out=frames)
        return frames

    def denormalize(self, y: np.ndarray) -> np.ndarray:
        """Model outputs in [-1, 1] → log-mel values (float32)."""
        y = np.asarray(y)
        self._check(y)
        return (y * (self.scale * self.std[:, None]) + self.mean[:, None]).astype(np.float32)


def frame_stats(frames: np.ndarray, mask: np.ndarray | None = None, floor: float = 1e-3,
                chunk: int = 1 << 16) -> dict[str, list[float]]:
    """Per-band ``{mean, std}`` of the rows of ``[frames, n_mels]`` selected by ``mask`` (all when None);
    float64 sums over chunks of rows, std floored at ``floor``."""
    if frames.ndim != 2:
        raise DataError(f"frames: expected [frames, bands], got shape {list(frames.shape)}")
    total = np.zeros(frames.shape[1], np.float64)
    squares = np.zeros(frames.shape[1], np.float64)
    count = 0
    for lo in range(0, len(frames), chunk):
        block = frames[lo: lo + chunk].astype(np.float64)
        if mask is not None:
            block = block[mask[lo: lo + chunk]]
        total += block.sum(axis=0)
        squares += (block * block).sum(axis=0)
        count += len(block)
    if count == 0:
        raise DataError("frames: no frames to compute statistics from")
    mean = total / count
    std = np.maximum(np.sqrt(np.maximum(squares / count - mean * mean, 0.0)), floor)
    return {"mean": mean.tolist(), "std": std.tolist()}


def centres(n_frames: int, stride: int) -> np.ndarray:
    """Centre frames ``0, stride, 2·stride, … < n_frames`` of an utterance."""
    return np.arange(0, max(int(n_frames), 0), int(stride), dtype=np.int64)


def extract_windows(x: np.ndarray, context: int, stride: int = 1, pad_value: float = 0.0) -> np.ndarray:
    """Windows ``[n, F, context]`` of a ``[F, T]`` array centred on frames ``0, stride, …``; positions before the
    first and after the last frame hold ``pad_value``."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise DataError(f"extract_windows: expected [bands, frames], got shape {list(x.shape)}")
    half = context // 2
    padded = np.pad(x, ((0, 0), (half, half)), mode="constant", constant_values=pad_value)
    c = centres(x.shape[1], stride)
    return np.stack([padded[:, t: t + context] for t in c]) if len(c) else np.zeros((0, x.shape[0], context),
                                                                                      x.dtype)


def label_names(options: FrameOptions | Mapping[str, Any] | None) -> list[str] | None:
    """Names of the labels (phone symbols in phone mode; None for clip labels, which are their own names)."""
    if options is None:
        return None
    opts = FrameOptions.from_mapping(options)
    return list(PHONE_SETS[opts.phone_set]) if opts.labels == "phones" else None


def _alignment_path(manifest: Manifest, value: object) -> Path:
    p = Path(str(value))
    return p if p.is_absolute() else manifest.root / p


def _has_alignment(row: Mapping[str, Any]) -> bool:
    return bool(str(row.get("alignment", "") or "").strip())


def label_mode(manifest: Manifest, labels: str = "auto") -> str:
    """``"phones"`` or ``"clip"``: ``auto`` picks phones when any row has an ``alignment``."""
    if labels != "auto":
        return labels
    return "phones" if any(_has_alignment(r) for r in manifest) else "clip"


class FrameDataset(Dataset):
    """Windows of one split, held in memory: ``frames [N, n_mels]`` (every utterance's frames with ``context // 2``
    silence frames before and after it, already normalised), and per window its start row in ``frames``, label,
    speaker and utterance. Items (by index or ``(epoch, index)``): ``{"features": [1, n_mels, context], "label",
    "speaker", "index"}``."""

    def __init__(self, frames: np.ndarray, starts: np.ndarray, labels: np.ndarray, speakers: np.ndarray,
                 utterances: np.ndarray, centres: np.ndarray, context: int, manifest: Manifest) -> None:
        self.frames = frames
        self.starts, self.labels, self.speakers = starts, labels, speakers
        self.utterances, self.centres = utterances, centres
        self.context = int(context)
        self.manifest = manifest

    def __len__(self) -> int:
        return int(len(self.starts))

    def window(self, index: int) -> np.ndarray:
        """Window ``index`` as ``[n_mels, context]`` (normalised)."""
        s = int(self.starts[index])
        return self.frames[s: s + self.context].T

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, Any]:
        index = int(item[1]) if isinstance(item, tuple) else int(item)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} windows")
        x = np.ascontiguousarray(self.window(index), dtype=np.float32)[None]
        return {"features": torch.from_numpy(x), "label": int(self.labels[index]),
                "speaker": int(self.speakers[index]), "index": index}


@dataclass
class _RawSplit:
    """A split's un-normalised frames (padding included) and window tables."""

    frames: np.ndarray
    real: np.ndarray  # bool per row of ``frames``: a real frame (not edge padding)
    starts: np.ndarray
    labels: np.ndarray
    speakers: np.ndarray
    utterances: np.ndarray
    centres: np.ndarray
    manifest: Manifest = field(repr=False)


class FramesDataModule(SplitLoaders, L.LightningDataModule):
    """Train/valid/test loaders of labelled log-mel windows (see the module docstring).

    Args:
        manifest: a :class:`Manifest` or the path of its CSV (or folder).
        batch_size: windows per batch **per device**.
        num_workers: DataLoader worker processes (also used to fill the feature cache).
        seed: seed of the train shuffling.
        sample_rate: rate audio is loaded (resampled) at; alignments are rescaled to it.
        feature, feature_params: a frame feature ("log_mel") and its parameters (default :data:`TIMIT_LOG_MEL`).
        frames: :class:`FrameOptions` or its mapping.
        cache_dir: FeatureCache root (default ``<manifest folder>/.cache/features``).
        labelled: True keeps rows with a label source (alignment or label), False those without, None all.
        drop_last: drop the last incomplete train batch (ignored when the split is smaller than a batch).
        pin_memory, persistent_workers: passed to the DataLoaders.
        precompute: fill the feature cache in :meth:`prepare_data`.

    Attributes: ``options`` (resolved labels mode; ``stats`` once computed), ``label_mode``, ``num_labels``,
    ``label_names``, ``speakers`` / ``num_speakers`` (train speaker map), ``train_sampler`` (after
    :meth:`train_dataloader`).
    """

    def __init__(
        self,
        manifest: Manifest | str | os.PathLike,
        *,
        batch_size: int = 64,
        num_workers: int = 0,
        seed: int = 0,
        sample_rate: int = 16000,
        feature: str = "log_mel",
        feature_params: Mapping[str, Any] | None = None,
        frames: FrameOptions | Mapping[str, Any] | None = None,
        cache_dir: str | os.PathLike | None = None,
        labelled: bool | None = True,
        drop_last: bool = True,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        precompute: bool = True,
    ) -> None:
        super().__init__()
        self.manifest = _read_manifest(manifest)
        self.batch_size = int(_check_positive_int("batch_size", batch_size))  # type: ignore[arg-type]
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ConfigError(f"num_workers: expected an integer >= 0, got {num_workers!r}")
        self.num_workers = num_workers
        self.seed = int(seed)
        self.sample_rate = int(_check_positive_int("sample_rate", sample_rate))  # type: ignore[arg-type]
        params = dict(TIMIT_LOG_MEL) if feature_params is None else dict(feature_params)
        built = build_feature(feature, params)
        if not isinstance(built, LogMel):
            raise ConfigError(f"feature: frame windows are cut from 'log_mel' features, got '{feature}'")
        built.check_rate(self.sample_rate)
        self.feature: LogMel = built
        opts = FrameOptions.from_mapping(frames)
        self.label_mode = label_mode(self.manifest, opts.labels)
        self.options = replace(opts, labels=self.label_mode)
        if self.options.stats is not None and len(self.options.stats["mean"]) != built.n_mels:
            raise ConfigError(f"frames.stats.mean: {len(self.options.stats['mean'])} values, but the feature has "
                              f"{built.n_mels} mel bands")
        self.cache_dir = Path(cache_dir) if cache_dir is not None else self.manifest.root / DEFAULT_CACHE_SUBDIR
        self.cache = FeatureCache(self.cache_dir, self.feature, self.sample_rate)
        self.labelled = labelled
        self.drop_last = drop_last
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers
        self.precompute = precompute
        self.speakers: dict[str, int] = speaker_index(self.manifest)
        self.num_speakers = len(self.speakers)
        if self.label_mode == "phones":
            self.num_labels = len(PHONE_SETS[self.options.phone_set])
        else:
            self.num_labels = label_count(self.manifest)
        self.label_names = label_names(self.options)
        self.datasets: dict[str, FrameDataset] = {}
        self._raw_train: _RawSplit | None = None

    # -- rows and labels ---------------------------------------------------------------------------------------
    def _row_labelled(self, row: Mapping[str, Any]) -> bool:
        return _has_alignment(row) if self.label_mode == "phones" else row.get("label") is not None

    def rows(self, split: str | None = None) -> Manifest:
        """Rows of ``split`` (all splits when None) kept by the ``labelled`` filter."""
        m = self.manifest.select(split=split)
        if self.labelled is None:
            return m
        return Manifest(m.root, [r for r in m.rows if self._row_labelled(r) == self.labelled])

    def has_rows(self, split: str) -> bool:
        """Whether ``split`` has rows to evaluate on (the runner skips the final validate/test otherwise)."""
        return len(self.rows(split)) > 0

    def frame_labels(self, row: Mapping[str, Any], n_frames: int) -> np.ndarray:
        """Per-frame labels of a row: phones from its alignment, else its clip label, else -1."""
        if self.label_mode == "phones":
            if not _has_alignment(row):
                return np.full(n_frames, -1, np.int64)
            return frame_labels(_alignment_path(self.manifest, row["alignment"]), self.feature.hop_length,
                                n_frames=n_frames, phone_set=self.options.phone_set, sample_rate=self.sample_rate)
        label = row.get("label")
        return np.full(n_frames, -1 if label is None else int(label), np.int64)  # type: ignore[call-overload]

    # -- building splits ---------------------------------------------------------------------------------------
    def _load(self, split: str) -> _RawSplit:
        rows = self.rows(split)
        if len(rows) == 0:
            filt = {True: " (labelled rows)", False: " (unlabelled rows)"}.get(self.labelled, "")
            raise DataError(f"{self.manifest.root}: split '{split}' has no rows{filt}")
        stride = self.options.stride if split == "train" else (self.options.eval_stride or self.options.stride)
        half = self.options.half
        pad = np.float32(self.feature.pad_value)
        n_mels = self.feature.n_mels
        chunks: list[np.ndarray] = []
        real: list[np.ndarray] = []
        starts, labels, speakers, utts, cents = [], [], [], [], []
        offset = 0
        for u, row in enumerate(rows.rows):
            x = self.cache.get(rows.resolve(row), self.sample_rate)  # [n_mels, T]
            if x.ndim != 2 or x.shape[0] != n_mels:
                raise DataError(f"{rows.resolve(row)}: cached feature of shape {list(x.shape)}, expected "
                                f"[{n_mels}, frames]")
            n = x.shape[1]
            edge = np.full((half, n_mels), pad, np.float32)
            chunks += [edge, np.ascontiguousarray(x.T, dtype=np.float32), edge]
            real += [np.zeros(half, bool), np.ones(n, bool), np.zeros(half, bool)]
            c = centres(n, stride)
            lab = self.frame_labels(row, n)
            starts.append(offset + c)  # window of centre t starts at padded position t
            labels.append(lab[c])
            speakers.append(np.full(len(c), self.speakers.get(str(row.get("speaker", "") or ""), -1), np.int64))
            utts.append(np.full(len(c), u, np.int64))
            cents.append(c)
            offset += n + 2 * half
        return _RawSplit(np.concatenate(chunks), np.concatenate(real), np.concatenate(starts),
                         np.concatenate(labels), np.concatenate(speakers), np.concatenate(utts),
                         np.concatenate(cents), rows)

    def _ensure_stats(self) -> FrameNorm:
        if self.options.stats is None:
            if self._raw_train is None:
                self._raw_train = self._load("train")
            raw = self._raw_train
            self.options = replace(self.options, stats=frame_stats(raw.frames, raw.real))
        return FrameNorm.from_options(self.options)

    def resolved_frames(self) -> dict[str, Any]:
        """The frame options with the labels mode and the train statistics filled in (plain mapping)."""
        self._ensure_stats()
        return self.options.to_dict()

    @property
    def norm(self) -> FrameNorm:
        """The normalisation (computing the train statistics if needed)."""
        return self._ensure_stats()

    def dataset(self, split: str) -> FrameDataset:
        """The windows of ``split`` (built on first use; DataError when the split has no rows)."""
        if split not in SPLITS:
            raise DataError(f"unknown split '{split}'; expected {', '.join(SPLITS)}")
        if split not in self.datasets:
            norm = self._ensure_stats()
            raw = self._raw_train if split == "train" and self._raw_train is not None else self._load(split)
            if split == "train":
                self._raw_train = None  # normalised below; the raw copy is not kept
            frames = norm.normalize_rows_(raw.frames)  # [N, n_mels], in place
            self.datasets[split] = FrameDataset(frames, raw.starts, raw.labels, raw.speakers,
                                                raw.utterances, raw.centres, self.options.context, raw.manifest)
        return self.datasets[split]

    # -- Lightning hooks ---------------------------------------------------------------------------------------
    def prepare_data(self) -> None:
        """Fill the feature cache for every kept row (one process; workers = ``num_workers``)."""
        if not self.precompute:
            return
        rows = self.rows()
        if len(rows):
            self.cache.precompute(rows, workers=self.num_workers)

    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": ("train", "valid"), "validate": ("valid",), "test": ("test",), "predict": ("test",)}
        for split in wanted.get(stage or "", SPLITS):
            if split == "train" or self.has_rows(split):
                self.dataset(split)


def denormalize_samples(feats: np.ndarray, frames: FrameOptions | Mapping[str, Any]) -> np.ndarray:
    """Generated windows ``[N, 1, n_mels, context]`` (model range) → log-mel values with the stored statistics."""
    return FrameNorm.from_options(FrameOptions.from_mapping(frames)).denormalize(feats)


__all__ = (
    "FrameDataset", "FrameNorm", "FrameOptions", "FramesDataModule", "LABEL_MODES", "TIMIT_LOG_MEL", "centres",
    "denormalize_samples", "extract_windows", "frame_stats", "label_mode", "label_names",
)
