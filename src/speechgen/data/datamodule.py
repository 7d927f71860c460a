"""Datasets and Lightning data modules over a manifest.

Items are dicts of tensors and ints:

- audio mode (``feature=None``): ``{"audio": float32 [samples], "label", "speaker", "index"}``;
- feature mode: ``{"features": float32 [..., frames], ...}`` (``"audio"`` for the ``waveform`` feature);
- paired mode (vocoders, ``paired=True``): ``{"audio": [segment_length], "mel": [channels, segment_length // hop],
  ...}`` where mel frame ``j`` is the cached full-clip frame centred on audio sample ``j * hop`` of the segment.

``label`` is the digit or -1, ``speaker`` the index in the train split's speaker map or -1 for speakers not seen in
training, ``index`` the row's position in the dataset.

Cropping: with ``segment_length`` set, clips are cropped or zero-padded to it (feature frames are cropped to
``segment_length // hop`` frames). ``random_crop=True`` (training) draws the offset from a ``torch.Generator``
seeded with ``(seed, epoch, index)``: the same seed gives the same crops in any process or worker count, and a
new epoch gives new crops. The epoch comes from :meth:`ManifestDataset.set_epoch`, or travels with the index when
the loader uses :class:`EpochSampler` (Lightning calls its ``set_epoch`` each epoch). Evaluation crops/pads centrally.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from speechgen.audio import io as audio_io
from speechgen.data.features import Feature, FeatureCache, Waveform, build_feature, pad_time
from speechgen.data.manifest import SPLITS, Manifest
from speechgen.data.text import SymbolSet, held_out, symbol_set
from speechgen.errors import ConfigError, DataError

#: Cache folder used when none is given, relative to the manifest's folder.
DEFAULT_CACHE_SUBDIR = Path(".cache") / "features"


def _mix_seed(*parts: int) -> int:
    """A 63-bit seed derived from integers (stable across processes and Python runs)."""
    digest = hashlib.sha256(":".join(str(int(p)) for p in parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def _randint(gen: torch.Generator | None, high: int) -> int:
    """Uniform integer in ``[0, high]`` (``high // 2`` when ``gen`` is None, i.e. centred)."""
    if high <= 0:
        return 0
    if gen is None:
        return high // 2
    return int(torch.randint(0, high + 1, (1,), generator=gen).item())


def speaker_index(manifest: Manifest) -> dict[str, int]:
    """Speaker name → index over the manifest's train split (sorted names; empty names left out)."""
    names = {str(r.get("speaker", "") or "") for r in manifest.select(split="train")}
    return {name: i for i, name in enumerate(sorted(n for n in names if n))}


def label_count(manifest: Manifest) -> int:
    """Number of classes a conditional model needs: ``max(label) + 1`` over all labelled rows (0 if none)."""
    labels = [int(r["label"]) for r in manifest if r.get("label") is not None]
    return max(labels) + 1 if labels else 0


def _read_manifest(manifest: Manifest | str | os.PathLike) -> Manifest:
    return manifest if isinstance(manifest, Manifest) else Manifest.read(manifest)


def _check_positive_int(name: str, value: object, allow_none: bool = False) -> int | None:
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) <= 0:
        raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


class ManifestDataset(Dataset):
    """Rows of a manifest (optionally one split and a ``labelled`` filter) as training items.

    Args:
        manifest: a :class:`Manifest` or the path of its CSV (or folder).
        split: ``"train"``, ``"valid"``, ``"test"`` or None for all rows.
        labelled: True keeps rows with a label, False those without, None all.
        sample_rate: rate audio is loaded at (files at other rates are resampled with soxr).
        segment_length: crop/pad length in samples (None: whole clips). Must be a multiple of the feature's hop.
        random_crop: random offsets (training) instead of centred ones (evaluation).
        feature: None for raw audio, a :data:`~speechgen.data.features.FEATURES` name or a Feature instance.
        feature_params: parameters when ``feature`` is a name.
        cache_dir: FeatureCache root (default ``<manifest folder>/.cache/features``).
        paired: return an audio segment and its aligned feature frames (``"audio"`` + ``"mel"``).
        seed: base seed of the random crops.
        speakers: speaker map (default: built from the manifest's train split).
        text: a symbol set of :mod:`speechgen.data.text` (``chars``, ``phonemes``, ``digits``): items also hold
            ``"tokens"``, the row's ``text`` column encoded (a row without text, or with text that is not a digit
            string, raises DataError naming the row); None: no text.
        text_filter: (with ``text``) keep only the rows whose string :func:`~speechgen.data.text.held_out` puts in
            (``"held_out"``) or out of (``"trained"``) the held-out fraction ``held_out_fraction``; None: all.
        held_out_fraction: the share of digit strings held out of training (by a stable hash of the string).
    """

    def __init__(
        self,
        manifest: Manifest | str | os.PathLike,
        *,
        split: str | None = None,
        labelled: bool | None = None,
        sample_rate: int = 16000,
        segment_length: int | None = None,
        random_crop: bool = False,
        feature: str | Feature | None = None,
        feature_params: Mapping[str, Any] | None = None,
        cache_dir: str | os.PathLike | None = None,
        paired: bool = False,
        seed: int = 0,
        speakers: Mapping[str, int] | None = None,
        text: str | None = None,
        text_filter: str | None = None,
        held_out_fraction: float = 0.0,
    ) -> None:
        full = _read_manifest(manifest)
        self.manifest = full.select(split=split, labelled=labelled)
        self.symbols = symbol_set(text) if text is not None else None
        self.tokens: list[list[int]] = []
        if self.symbols is not None:
            self.manifest, self.tokens = _encode_rows(self.manifest, self.symbols, text_filter, held_out_fraction)
        elif text_filter is not None:
            raise ConfigError("text_filter: given without text")
        self.split = split
        if len(self.manifest) == 0:
            what = f"split '{split}'" if split else "manifest"
            filt = {True: " (labelled rows)", False: " (unlabelled rows)"}.get(labelled, "")
            if text_filter is not None:
                filt += f" ({text_filter.replace('_', ' ')} strings)"
            raise DataError(f"{full.root}: {what} has no rows{filt}" + (
                "; give it clips (`speechgen corpus import folder ... --valid-fraction F --test-fraction F`, or "
                "--speaker-from none when the folder has fewer than three speakers)" if split in ("valid", "test")
                else ""))
        self.sample_rate = int(_check_positive_int("sample_rate", sample_rate))
        self.segment_length = _check_positive_int("segment_length", segment_length, allow_none=True)
        self.random_crop = bool(random_crop)
        self.seed = int(seed)
        self.epoch = 0
        self.paired = bool(paired)
        self.speakers = dict(speakers) if speakers is not None else speaker_index(full)

        if isinstance(feature, str):
            feature = build_feature(feature, feature_params)
        elif feature_params:
            raise ConfigError("feature_params: given without a feature name")
        self.feature: Feature | None = feature
        self.cache: FeatureCache | None = None
        if feature is not None:
            feature.check_rate(self.sample_rate)
            root = Path(cache_dir) if cache_dir is not None else full.root / DEFAULT_CACHE_SUBDIR
            self.cache = FeatureCache(root, feature, self.sample_rate)
        self._validate_segment()

    def _validate_segment(self) -> None:
        f, seg = self.feature, self.segment_length
        if self.paired:
            if f is None or isinstance(f, Waveform) or not f.croppable:
                raise ConfigError("paired: needs a frame-based feature such as 'log_mel'")
            if seg is None:
                raise ConfigError("segment_length: required when paired=True")
        if f is not None and seg is not None:
            if not f.croppable:
                raise ConfigError(f"segment_length: '{f.name}' is a fixed-size image; leave segment_length unset")
            if seg % f.hop_length:
                raise ConfigError(
                    f"segment_length: {seg} is not a multiple of the feature's hop_length ({f.hop_length})"
                )

    # -- bookkeeping -------------------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.manifest)

    def set_epoch(self, epoch: int) -> None:
        """Epoch used for random crops when items are fetched by plain integer index."""
        self.epoch = int(epoch)

    @property
    def output_key(self) -> str:
        """Key of the main tensor in an item (``"audio"`` or ``"features"``)."""
        return "audio" if self.feature is None or isinstance(self.feature, Waveform) else "features"

    def _generator(self, epoch: int, index: int) -> torch.Generator | None:
        if not self.random_crop:
            return None
        return torch.Generator().manual_seed(_mix_seed(self.seed, epoch, index))

    # -- items -------------------------------------------------------------------------------------------------
    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, Any]:
        if isinstance(item, tuple):
            epoch, index = int(item[0]), int(item[1])
        else:
            epoch, index = self.epoch, int(item)
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} rows")
        row = self.manifest.rows[index]
        path = self.manifest.resolve(row)
        gen = self._generator(epoch, index)
        label = row.get("label")
        out: dict[str, Any] = {
            "label": int(label) if label is not None else -1,  # type: ignore[call-overload]
            "speaker": self.speakers.get(str(row.get("speaker", "") or ""), -1),
            "index": index,
        }
        if self.symbols is not None:
            out["tokens"] = torch.tensor(self.tokens[index], dtype=torch.long)
        if self.paired:
            audio, mel = self._paired(path, gen)
            out["audio"], out["mel"] = torch.from_numpy(audio), torch.from_numpy(mel)
            return out
        if self.cache is None:
            x, _ = audio_io.load(path, self.sample_rate)
            pad = 0.0
            step = self.segment_length
        else:
            x = self.cache.get(path, self.sample_rate)
            pad = self.feature.pad_value  # type: ignore[union-attr]
            step = None if self.segment_length is None else self.segment_length // self.feature.hop_length  # type: ignore[union-attr]
        if step is not None:
            x = _crop(x, step, gen, pad)
        out[self.output_key] = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        return out

    def _paired(self, path: Path, gen: torch.Generator | None) -> tuple[np.ndarray, np.ndarray]:
        assert self.cache is not None and self.feature is not None and self.segment_length is not None
        hop, seg = self.feature.hop_length, self.segment_length
        frames = seg // hop
        audio, _ = audio_io.load(path, self.sample_rate)
        mel = self.cache.get(path, self.sample_rate)
        n = audio.shape[0]
        if n >= seg:
            k = _randint(gen, (n - seg) // hop)
            a = audio[k * hop: k * hop + seg]
            m = mel[..., k: k + frames]
        else:
            avail = mel.shape[-1]  # = 1 + n // hop <= frames
            p = _randint(gen, max(frames - avail, 0))
            a = np.pad(audio, (p * hop, seg - n - p * hop))
            m = self.feature.pad(mel[..., :frames], p, frames - min(avail, frames) - p)
        return np.ascontiguousarray(a, dtype=np.float32), np.ascontiguousarray(m, dtype=np.float32)


def _encode_rows(manifest: Manifest, symbols: SymbolSet, text_filter: str | None,
                 fraction: float) -> tuple[Manifest, list[list[int]]]:
    """The rows of ``manifest`` kept by ``text_filter`` and their ``text`` encoded with ``symbols``."""
    if text_filter not in (None, "held_out", "trained"):
        raise ConfigError(f"text_filter: expected held_out, trained or null, got {text_filter!r}")
    rows, tokens = [], []
    for row in manifest.rows:
        text = str(row.get("text", "") or "")
        if not text.strip():
            raise DataError(f"{manifest.root}: row {row['path']} has no text (a text model needs a manifest "
                            f"whose every row has a 'text' column, e.g. `speechgen corpus digits --strings N`)")
        try:
            ids = symbols.encode(text)
        except DataError as e:
            raise DataError(f"{manifest.root}: row {row['path']}: {e}") from None
        if text_filter is not None and held_out(text, fraction) != (text_filter == "held_out"):
            continue
        rows.append(row)
        tokens.append(ids)
    return Manifest(manifest.root, rows), tokens


def _crop(x: np.ndarray, length: int, gen: torch.Generator | None, pad_value: float) -> np.ndarray:
    """Crop or pad the last axis of ``x`` to ``length`` (random offset with ``gen``, centred without)."""
    n = x.shape[-1]
    if n >= length:
        start = _randint(gen, n - length)
        return x[..., start: start + length]
    left = _randint(gen, length - n)
    return pad_time(x, left, length - n - left, pad_value)


class EpochSampler(Sampler):
    """Yields ``(epoch, index)`` pairs, shuffled per epoch with a seed derived from ``(seed, epoch)``.

    Carrying the epoch with each index keeps random crops reproducible inside worker processes (persistent or
    not); Lightning calls :meth:`set_epoch` at the start of each epoch.
    """

    def __init__(self, size: int, seed: int = 0, shuffle: bool = True) -> None:
        self.size = int(size)
        self.seed = int(seed)
        self.shuffle = shuffle
        self.epoch = 0
        self._skip = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def skip_next(self, n: int) -> None:
        """Make the next iteration start after its first ``n`` items (resuming an interrupted epoch)."""
        self._skip = max(0, int(n))

    def __len__(self) -> int:
        return self.size

    def __iter__(self) -> Iterator[tuple[int, int]]:
        if self.shuffle:
            gen = torch.Generator().manual_seed(_mix_seed(self.seed, self.epoch, -1))
            order = torch.randperm(self.size, generator=gen).tolist()
        else:
            order = list(range(self.size))
        epoch = self.epoch
        skip, self._skip = self._skip, 0
        for i in order[skip:]:
            yield (epoch, i)


@dataclass(frozen=True)
class PadCollate:
    """Batch items: tensors are padded on their last axis to the longest (``pad_values`` per key, else 0).

    Adds ``"lengths"``: the unpadded length of the main tensor (``key``) of each item, and ``"tokens_lengths"``
    when items hold ``"tokens"`` (text).
    """

    key: str = "audio"
    pad_values: dict[str, float] = field(default_factory=dict)

    def __call__(self, items: Sequence[dict[str, Any]]) -> dict[str, torch.Tensor]:
        batch: dict[str, torch.Tensor] = {}
        for k in items[0]:
            values = [it[k] for it in items]
            if isinstance(values[0], torch.Tensor):
                longest = max(v.shape[-1] for v in values)
                pad = self.pad_values.get(k, 0.0)
                padded = [
                    v if v.shape[-1] == longest else torch.nn.functional.pad(v, (0, longest - v.shape[-1]), value=pad)
                    for v in values
                ]
                batch[k] = torch.stack(padded)
            else:
                batch[k] = torch.tensor(values, dtype=torch.long)
        batch["lengths"] = torch.tensor([it[self.key].shape[-1] for it in items], dtype=torch.long)
        if "tokens" in items[0]:
            batch["tokens_lengths"] = torch.tensor([it["tokens"].shape[-1] for it in items], dtype=torch.long)
        return batch


class SplitLoaders:
    """Train/valid/test loaders of a data module over :class:`EpochSampler` (train shuffled per epoch, resumable).

    The host provides ``dataset(split)``, ``batch_size``, ``num_workers``, ``pin_memory``, ``persistent_workers``,
    ``drop_last`` and ``seed``; ``_collate(ds)`` may return a collate function (default: torch's).
    """

    def _collate(self, ds: Dataset) -> Any:
        return None

    def _loader(self, ds: Dataset, sampler: Sampler, drop_last: bool) -> DataLoader:
        # a private generator for worker seeds: iterating a loader must not consume the global random state
        # (that would break exact resumption, see speechgen.training.callbacks.ExactResume)
        return DataLoader(
            ds, batch_size=self.batch_size, sampler=sampler, num_workers=self.num_workers,
            collate_fn=self._collate(ds), drop_last=drop_last, pin_memory=self.pin_memory,
            persistent_workers=self.persistent_workers and self.num_workers > 0,
            generator=torch.Generator().manual_seed(self.seed),
        )

    def train_dataloader(self) -> DataLoader:
        ds = self.dataset("train")
        self.train_sampler = EpochSampler(len(ds), seed=self.seed, shuffle=True)
        return self._loader(ds, self.train_sampler, self.drop_last and len(ds) >= self.batch_size)

    def val_dataloader(self) -> DataLoader:
        ds = self.dataset("valid")
        return self._loader(ds, EpochSampler(len(ds), shuffle=False), False)

    def test_dataloader(self) -> DataLoader:
        ds = self.dataset("test")
        return self._loader(ds, EpochSampler(len(ds), shuffle=False), False)


class ManifestDataModule(SplitLoaders, L.LightningDataModule):
    """Train/valid/test loaders over a manifest's splits.

    Args:
        manifest: a :class:`Manifest` or the path of its CSV (or folder); a missing one raises DataError.
        batch_size: items per batch **per device** (the global batch is ``batch_size × devices``).
        num_workers: DataLoader worker processes (0: load in the main process).
        seed: seed of the train shuffling and random crops.
        sample_rate: rate audio is loaded (resampled) at.
        segment_length: crop/pad length in samples for training (None: whole clips, padded per batch; "auto":
            one second for raw audio and the ``waveform`` feature, whole clips for other features).
        eval_segment_length: crop/pad length for valid/test (default: ``segment_length``; centred).
        feature, feature_params: feature name (see ``FEATURES``) and its parameters; None for raw audio.
        cache_dir: FeatureCache root (default ``<manifest folder>/.cache/features``).
        labelled: keep only labelled (True) or unlabelled (False) rows; None keeps all.
        paired: items hold an audio segment and its aligned feature frames (``"audio"``, ``"mel"``).
        drop_last: drop the last incomplete train batch (ignored when the split is smaller than a batch).
        pin_memory, persistent_workers: passed to the DataLoaders.
        precompute: fill the feature cache in :meth:`prepare_data` (called by the Trainer on one process).
        text: items also hold ``"tokens"``, the row's text in this symbol set (:class:`ManifestDataset`).
        train_held_out: (with ``text``) leave the digit strings of this held-out fraction out of the train split
            (:func:`~speechgen.data.text.held_out`: e.g. the strings a text-to-speech run is judged on); 0: keep all.

    Attributes ``speakers`` (train speaker map), ``num_speakers`` and ``num_labels`` size conditional models.
    """

    def __init__(
        self,
        manifest: Manifest | str | os.PathLike,
        *,
        batch_size: int = 16,
        num_workers: int = 0,
        seed: int = 0,
        sample_rate: int = 16000,
        segment_length: int | None | str = "auto",
        eval_segment_length: int | None | str = "same",
        feature: str | None = None,
        feature_params: Mapping[str, Any] | None = None,
        cache_dir: str | os.PathLike | None = None,
        labelled: bool | None = None,
        paired: bool = False,
        drop_last: bool = True,
        pin_memory: bool = False,
        persistent_workers: bool = False,
        precompute: bool = True,
        text: str | None = None,
        train_held_out: float = 0.0,
    ) -> None:
        super().__init__()
        self.manifest = _read_manifest(manifest)
        self.batch_size = int(_check_positive_int("batch_size", batch_size))
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ConfigError(f"num_workers: expected an integer >= 0, got {num_workers!r}")
        self.num_workers = num_workers
        self.seed = int(seed)
        self.sample_rate = sample_rate
        self.feature_name = feature
        self.feature_params = dict(feature_params or {})
        self.feature: Feature | None = build_feature(feature, feature_params) if feature is not None else None
        if feature is None and feature_params:
            raise ConfigError("feature_params: given without a feature name")
        _check_positive_int("sample_rate", sample_rate)
        if self.feature is not None:
            self.feature.check_rate(int(sample_rate))
        if segment_length == "auto":
            raw = self.feature is None or isinstance(self.feature, Waveform)
            segment_length = int(sample_rate) if raw else None
        self.segment_length = segment_length
        self.eval_segment_length = segment_length if eval_segment_length == "same" else eval_segment_length
        self.cache_dir = Path(cache_dir) if cache_dir is not None else self.manifest.root / DEFAULT_CACHE_SUBDIR
        self.labelled = labelled
        self.paired = paired
        self.drop_last = drop_last
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers
        self.precompute = precompute
        self.text = text
        if train_held_out and text is None:
            raise ConfigError("train_held_out: given without text")
        self.train_held_out = float(train_held_out)
        self.speakers: dict[str, int] = speaker_index(self.manifest)
        self.num_speakers = len(self.speakers)
        self.num_labels = label_count(self.manifest)
        self.datasets: dict[str, ManifestDataset] = {}

    def dataset(self, split: str) -> ManifestDataset:
        """The dataset of ``split`` (built on first use; DataError when the split has no rows)."""
        if split not in SPLITS:
            raise DataError(f"unknown split '{split}'; expected {', '.join(SPLITS)}")
        if split not in self.datasets:
            train = split == "train"
            self.datasets[split] = ManifestDataset(
                self.manifest, split=split, labelled=self.labelled, sample_rate=self.sample_rate,
                segment_length=self.segment_length if train else self.eval_segment_length,  # type: ignore[arg-type]
                random_crop=train, feature=self.feature, cache_dir=self.cache_dir, paired=self.paired,
                seed=self.seed, speakers=self.speakers, text=self.text,
                text_filter="trained" if train and self.train_held_out else None,
                held_out_fraction=self.train_held_out,
            )
        return self.datasets[split]

    def prepare_data(self) -> None:
        """Fill the feature cache for every row (one process; workers = ``num_workers``)."""
        if self.feature is None or not self.precompute:
            return
        rows = self.manifest.select(labelled=self.labelled)
        FeatureCache(self.cache_dir, self.feature, self.sample_rate).precompute(rows, workers=self.num_workers)

    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": ("train", "valid"), "validate": ("valid",), "test": ("test",), "predict": ("test",)}
        for split in wanted.get(stage or "", SPLITS):
            self.dataset(split)

    def _collate(self, ds: ManifestDataset) -> PadCollate:
        pads = {}
        if self.feature is not None:
            pads["mel" if self.paired else ds.output_key] = self.feature.pad_value
        return PadCollate(key="audio" if self.paired else ds.output_key, pad_values=pads)

class DigitsDataModule(ManifestDataModule):
    """:class:`ManifestDataModule` with the digits benchmark's defaults (docs/data.md, Features): labelled rows,
    16 kHz, 1 s clips."""

    def __init__(
        self,
        manifest: Manifest | str | os.PathLike,
        *,
        labelled: bool | None = True,
        sample_rate: int = 16000,
        segment_length: int | None | str = "auto",
        **kwargs: Any,
    ) -> None:
        super().__init__(manifest, labelled=labelled, sample_rate=sample_rate, segment_length=segment_length,
                         **kwargs)
