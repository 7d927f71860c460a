"""Text and speech pairs for text-to-speech training: each item holds a row's digit string as symbols and its whole
log-mel (or other frame feature).

Splits (:class:`TextSpeechDataModule`): a model must be judged on strings it never heard, in voices it knows, so

- ``train``: rows of the manifest's train split whose string is *not* held out (:func:`~speechgen.data.text.held_out`
  with ``held_out_fraction``: a stable hash of the digits, the same on every machine);
- ``valid``: rows of the train split whose string *is* held out: the train voices saying unseen strings;
- ``test``: the manifest's test split (other voices; all strings), when asked for (``test=True``).

Batches hold ``"tokens"`` ``[B, L]`` (padded with :data:`~speechgen.data.text.PAD`), ``"tokens_lengths"``,
``"features"`` ``[B, n_mels, T]`` padded with the feature's silence value, ``"lengths"`` (frames) and
``"speaker"`` (the train split's speaker index, -1 for voices unseen in training). A model with targets besides
the log-mel (Tacotron's linear log-magnitude) names them in ``targets`` (batch key → feature name and parameters):
each is cached like the main feature and batched under its key ``[B, rows, T]``, padded with its own silence; its
frames must be the main feature's (the same hop).
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch

from speechgen.data.datamodule import ManifestDataModule, ManifestDataset, PadCollate
from speechgen.data.features import Feature, FeatureCache, build_feature
from speechgen.data.manifest import SPLITS, Manifest
from speechgen.data.text import held_out
from speechgen.errors import ConfigError, DataError

#: split → (manifest split the rows come from, text filter)
SOURCES: dict[str, tuple[str, str | None]] = {"train": ("train", "trained"), "valid": ("train", "held_out"),
                                              "test": ("test", None)}
#: keys items and batches already use: not available as target names
RESERVED_KEYS = frozenset({"tokens", "tokens_lengths", "features", "lengths", "speaker", "label", "index", "audio",
                           "mel"})


def build_targets(targets: Mapping[str, tuple[str, Mapping[str, Any]]] | None, sample_rate: int,
                  ) -> dict[str, Feature]:
    """The features of ``targets`` (batch key → (feature name, parameters)); ConfigError naming a bad key or
    parameter."""
    out: dict[str, Feature] = {}
    for key, spec in dict(targets or {}).items():
        if key in RESERVED_KEYS or not str(key).isidentifier():
            raise ConfigError(f"targets: '{key}' cannot name a target (reserved, or not an identifier)")
        name, params = spec
        try:
            feature = build_feature(name, params)
            feature.check_rate(int(sample_rate))
        except ConfigError as exc:
            raise ConfigError(f"targets.{key}: {exc}") from exc
        out[str(key)] = feature
    return out


class TextSpeechDataset(ManifestDataset):
    """:class:`~speechgen.data.datamodule.ManifestDataset` whose items also hold the extra ``targets`` (key →
    :class:`~speechgen.data.features.Feature`, cached under the main feature's cache root); without targets its
    items are exactly the base class's."""

    def __init__(self, manifest: Manifest | str | os.PathLike, *, targets: Mapping[str, Feature] | None = None,
                 **kwargs: Any) -> None:
        super().__init__(manifest, **kwargs)
        self.target_caches: dict[str, FeatureCache] = {}
        if targets:
            if self.cache is None:
                raise ConfigError("targets: need a frame feature (the targets share its frames)")
            for key, feature in targets.items():
                feature.check_rate(self.sample_rate)
                self.target_caches[key] = FeatureCache(self.cache.root, feature, self.sample_rate)

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, Any]:
        out = super().__getitem__(item)
        if self.target_caches:
            row = self.manifest.rows[int(out["index"])]
            path = self.manifest.resolve(row)
            frames = out["features"].shape[-1]
            for key, cache in self.target_caches.items():
                x = cache.get(path, self.sample_rate)
                if x.shape[-1] != frames:
                    raise DataError(f"{path}: target '{key}' has {x.shape[-1]} frames, the feature {frames} (a "
                                    f"target needs the feature's hop)")
                out[key] = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        return out


class TextSpeechDataModule(ManifestDataModule):
    """:class:`~speechgen.data.datamodule.ManifestDataModule` of whole clips with their text (module docstring).

    Args:
        manifest: a :class:`Manifest` or the path of its CSV (or folder); every row used needs a digit string in
            its ``text`` column.
        text: the symbol set of the tokens (``chars``, ``phonemes``).
        held_out_fraction: share of the digit strings held out of training (they make the valid split), in (0, 1).
        test: whether the test split is used (False: no test set, e.g. for a multi-speaker model that cannot speak
            the test split's unseen voices).
        feature, feature_params: the frame feature of the targets (default the log-mel of docs/data.md).
        targets: extra frame targets, batch key → (feature name, parameters), e.g. Tacotron's
            ``{"linear": ("log_magnitude", {...})}`` (module docstring); None: none.
        train_strings: train on at most this many clips of the train split's trained strings, the same ones on every
            machine (the lowest CRC-32 of their paths: a share of every voice); None: all (a learning curve of how
            many strings a model needs).
        **kwargs: the other options of :class:`~speechgen.data.datamodule.ManifestDataModule` (batch_size,
            num_workers, seed, sample_rate, cache_dir, ...).
    """

    def __init__(self, manifest: Manifest | str | os.PathLike, *, text: str, held_out_fraction: float = 0.05,
                 test: bool = True, feature: str = "log_mel", feature_params: dict[str, Any] | None = None,
                 targets: Mapping[str, tuple[str, Mapping[str, Any]]] | None = None, train_strings: int | None = None,
                 **kwargs: Any) -> None:
        if not 0.0 < held_out_fraction < 1.0:
            raise ConfigError(f"held_out_fraction: expected a share in (0, 1) (the valid split), got "
                              f"{held_out_fraction!r}")
        for key in ("segment_length", "eval_segment_length", "paired", "labelled"):
            if key in kwargs:
                raise ConfigError(f"{key}: text-to-speech items are whole clips of every row")
        super().__init__(manifest, segment_length=None, eval_segment_length=None, feature=feature,
                         feature_params=feature_params, labelled=None, paired=False, text=text, **kwargs)
        self.held_out_fraction = float(held_out_fraction)
        self.use_test = bool(test)
        self.targets = build_targets(targets, int(self.sample_rate))
        if train_strings is not None and (isinstance(train_strings, bool) or int(train_strings) < 1):
            raise ConfigError(f"train_strings: expected a positive number of clips or null, got {train_strings!r}")
        self.train_strings = None if train_strings is None else int(train_strings)

    def _source(self, split: str) -> Manifest:
        """The manifest a split's dataset filters: for ``train`` with ``train_strings``, its first clips by CRC-32
        of the path (and every held-out row, which the filter drops)."""
        if split != "train" or self.train_strings is None:
            return self.manifest
        rows = self.manifest.select(split="train").rows
        trained = [r for r in rows if not held_out(str(r.get("text", "") or ""), self.held_out_fraction)]
        order = sorted(trained, key=lambda r: zlib.crc32(str(r["path"]).encode()))
        drop = {id(r) for r in order[self.train_strings:]}
        return Manifest(self.manifest.root, [r for r in rows if id(r) not in drop])

    def has_rows(self, split: str) -> bool:
        """Whether ``split`` has items (read from the manifest; no feature is computed)."""
        source, filt = SOURCES[split]
        if split == "test" and not self.use_test:
            return False
        rows = self.manifest.select(split=source)
        if filt is None:
            return len(rows) > 0
        want = filt == "held_out"
        try:
            return any(held_out(str(r.get("text", "") or ""), self.held_out_fraction) == want for r in rows)
        except DataError:  # a row without a digit string: building the dataset says which
            return True

    def dataset(self, split: str) -> ManifestDataset:
        """The dataset of ``split`` (built on first use; DataError when it has no rows)."""
        if split not in SPLITS:
            raise DataError(f"unknown split '{split}'; expected {', '.join(SPLITS)}")
        if split == "test" and not self.use_test:
            raise DataError("test: this data module has no test split (test=False)")
        if split not in self.datasets:
            source, filt = SOURCES[split]
            self.datasets[split] = TextSpeechDataset(
                self._source(split), split=source, sample_rate=self.sample_rate, segment_length=None,
                random_crop=False, feature=self.feature, cache_dir=self.cache_dir, seed=self.seed,
                speakers=self.speakers, text=self.text, text_filter=filt, held_out_fraction=self.held_out_fraction,
                targets=self.targets,
            )
        return self.datasets[split]

    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": ("train", "valid"), "validate": ("valid",), "test": ("test",), "predict": ("test",)}
        for split in wanted.get(stage or "", SPLITS):
            if split != "test" or self.use_test:
                self.dataset(split)

    def prepare_data(self) -> None:
        """Fill the feature cache for the rows of the splits used."""
        if self.feature is None or not self.precompute:
            return
        rows = self.manifest.select(split=("train", "test") if self.use_test else "train")
        for feature in (self.feature, *self.targets.values()):
            FeatureCache(self.cache_dir, feature, self.sample_rate).precompute(rows, workers=self.num_workers)

    def _collate(self, ds: ManifestDataset) -> PadCollate:
        base = super()._collate(ds)
        if not self.targets:
            return base
        pads = dict(base.pad_values, **{k: f.pad_value for k, f in self.targets.items()})
        return PadCollate(key=base.key, pad_values=pads)
