"""Speech mixtures for separation: seeded mixtures of clips spoken by *different* voices of one split, written to
disk with their sources (``speechgen corpus mixtures``), and the same recipe mixed on the fly for training
(:class:`MixtureDataset`: a new mixture every epoch).

A mixture of K sources (K = 1..:data:`MAX_SOURCES`; one source is a clean clip, the case a speaker counter must
answer "one"):

- K distinct speakers of the split, drawn uniformly, then one of each speaker's clips, drawn uniformly;
- each clip scaled to the same RMS (:data:`REFERENCE_DBFS`), then by a gain uniform in ``±gain_db`` dB;
- the mixture is as long as its longest clip; every other clip starts at a uniform offset inside it (zeros
  around it), so the sources overlap fully in time for clips of equal length and partly otherwise;
- mixture and sources are scaled together so that the mixture's peak is at most :data:`PEAK`: the mixture is the
  sum of its sources exactly (before 16-bit quantisation on disk).

Every draw is a function of ``(seed, split, K, index)`` only (:func:`draw`), so a mixture is the same bit for bit on
every machine, whatever else is built. Valid and test mixtures use only the held-out voices of their split.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from speechgen.atomic import staged_dir
from speechgen.audio.io import load, save
from speechgen.data.manifest import SPLITS, Manifest, make_row
from speechgen.errors import ConfigError, DataError

MAX_SOURCES = 5
GAIN_DB = 5.0  #: largest gain (either way) of a source relative to the others' common level
REFERENCE_DBFS = -25.0  #: every clip's RMS before its gain
PEAK = 0.9  #: the largest absolute sample of a written mixture
SOURCE_SEP = ";"  #: separates the per-source values of a mixture's manifest row


@dataclass(frozen=True)
class Draw:
    """One mixture's choices: row indices (into the split's rows), gains in dB and start offsets in samples."""

    rows: tuple[int, ...]
    gains_db: tuple[float, ...]
    offsets: tuple[int, ...]


def check_counts(counts: Iterable[int], where: str = "speakers") -> tuple[int, ...]:
    """Sorted distinct source counts, each in 1..MAX_SOURCES; ConfigError naming ``where`` otherwise."""
    out = tuple(sorted({int(c) for c in counts}))
    if not out or out[0] < 1 or out[-1] > MAX_SOURCES:
        raise ConfigError(f"{where}: expected source counts in 1..{MAX_SOURCES}, got {list(counts)}")
    return out


def by_speaker(rows: Sequence[dict[str, object]]) -> dict[str, list[int]]:
    """Row indices per speaker (rows without a speaker are each their own speaker)."""
    out: dict[str, list[int]] = {}
    for i, r in enumerate(rows):
        out.setdefault(str(r.get("speaker") or f"#row{i}"), []).append(i)
    return out


def draw(speakers: dict[str, list[int]], lengths: Sequence[int], count: int, seed: int, split: str, index: int,
         gain_db: float = GAIN_DB) -> Draw:
    """The choices of mixture ``index`` of ``count`` sources (module docstring); DataError when the split has fewer
    than ``count`` speakers."""
    names = sorted(speakers)
    if len(names) < count:
        raise DataError(f"split '{split}' has {len(names)} speaker(s); a mixture of {count} needs {count}")
    rng = np.random.default_rng([seed & 0xFFFFFFFF, zlib.crc32(split.encode()), count, index])
    chosen = rng.choice(len(names), size=count, replace=False)
    rows = tuple(int(speakers[names[s]][int(rng.integers(len(speakers[names[s]])))]) for s in chosen)
    gains = tuple(float(g) for g in rng.uniform(-gain_db, gain_db, size=count)) if count > 1 else (0.0,)
    total = max(lengths[r] for r in rows)
    offsets = tuple(int(rng.integers(0, total - lengths[r] + 1)) for r in rows)
    return Draw(rows, gains, offsets)


def render(clips: Sequence[np.ndarray], gains_db: Sequence[float], offsets: Sequence[int],
           length: int | None = None, peak: float | None = PEAK) -> tuple[np.ndarray, np.ndarray]:
    """Mixture ``[T]`` and sources ``[K, T]`` (float32) of ``clips`` at their gains and offsets (module docstring);
    ``length`` defaults to the longest clip's end, ``peak`` None leaves the level alone."""
    ends = [o + len(c) for c, o in zip(clips, offsets)]
    total = int(length if length is not None else max(ends))
    sources = np.zeros((len(clips), total), dtype=np.float64)
    ref = 10.0 ** (REFERENCE_DBFS / 20.0)
    for k, (clip, g, o) in enumerate(zip(clips, gains_db, offsets)):
        x = np.asarray(clip, dtype=np.float64)[: max(0, total - o)]
        rms = float(np.sqrt(np.mean(np.square(clip, dtype=np.float64)))) if len(clip) else 0.0
        if rms > 0:
            sources[k, o: o + len(x)] = x * (ref / rms) * 10.0 ** (g / 20.0)
    mixture = sources.sum(axis=0)
    top = float(np.abs(mixture).max()) if total else 0.0
    if peak is not None and top > 0:
        scale = min(1.0, peak / top) if top > peak else 1.0
        sources *= scale
        mixture = sources.sum(axis=0)
    return mixture.astype(np.float32), sources.astype(np.float32)


def _rows_and_lengths(manifest: Manifest, split: str, sample_rate: int) -> tuple[list[dict[str, object]], list[int]]:
    rows = list(manifest.select(split))
    lengths = []
    for r in rows:
        if r.get("duration") in (None, ""):
            raise DataError(f"{r['path']}: the manifest gives no duration (mixtures need each clip's length)")
        lengths.append(max(1, int(round(float(r["duration"]) * sample_rate))))  # type: ignore[arg-type]
    return rows, lengths


def build_mixtures(source: Manifest | str | os.PathLike, out: str | os.PathLike, counts: Iterable[int], n: int,
                   n_train: int = 0, seed: int = 0, sample_rate: int = 16000, gain_db: float = GAIN_DB,
                   progress: Callable[[int], None] | None = None) -> Manifest:
    """Write ``n`` mixtures per source count for the valid and test splits (``n_train`` for train) of ``source``
    under ``out``: ``{split}/{K}spk/{index:05d}/mix.wav`` and ``s1.wav`` .. ``sK.wav``, and ``out/manifest.csv``
    (one row per mixture: ``path`` the mixture; ``speaker``/``engine``/``text`` the sources' joined with ``+``/
    ``+``/``|``; extra columns ``count``, ``sources``, ``source_speakers``, ``source_labels``, ``source_texts``,
    joined with :data:`SOURCE_SEP`). A split's folder is staged and renamed into place, so a failed build leaves
    no half-written split; the manifest is written last. Returns the manifest."""
    counts = check_counts(counts, "--speakers")
    if n < 1 or n_train < 0:
        raise ConfigError(f"--n: expected >= 1 mixtures per count (and --train >= 0), got {n} and {n_train}")
    if not 0.0 <= gain_db <= 30.0:
        raise ConfigError(f"gain_db: expected 0..30 dB, got {gain_db}")
    src = source if isinstance(source, Manifest) else Manifest.read(source)
    root = Path(out)
    out_rows: list[dict[str, object]] = []
    for split in SPLITS:
        per = n_train if split == "train" else n
        if per == 0:
            continue
        rows, lengths = _rows_and_lengths(src, split, sample_rate)
        speakers = by_speaker(rows)
        draws = {k: [draw(speakers, lengths, k, seed, split, i, gain_db) for i in range(per)] for k in counts}
        with staged_dir(root / split, replace=True) as tmp:
            for k, ds in draws.items():
                for i, d in enumerate(ds):
                    clips = [load(src.resolve(rows[r]), sample_rate)[0] for r in d.rows]
                    mixture, sources = render(clips, d.gains_db, d.offsets)
                    folder = tmp / f"{k}spk" / f"{i:05d}"
                    folder.mkdir(parents=True, exist_ok=True)
                    save(folder / "mix.wav", mixture, sample_rate)
                    for j, s in enumerate(sources):
                        save(folder / f"s{j + 1}.wav", s, sample_rate)
                    rel = f"{split}/{k}spk/{i:05d}"
                    picked = [rows[r] for r in d.rows]
                    out_rows.append(make_row(
                        f"{rel}/mix.wav", label=None, text="|".join(str(p.get("text") or "") for p in picked),
                        speaker="+".join(str(p.get("speaker") or "") for p in picked),
                        engine="+".join(str(p.get("engine") or "") for p in picked), split=split,
                        duration=round(len(mixture) / sample_rate, 4), sample_rate=sample_rate, count=k,
                        sources=SOURCE_SEP.join(f"{rel}/s{j + 1}.wav" for j in range(k)),
                        source_speakers=SOURCE_SEP.join(str(p.get("speaker") or "") for p in picked),
                        source_labels=SOURCE_SEP.join("" if p.get("label") is None else str(p["label"])
                                                      for p in picked),
                        source_texts=SOURCE_SEP.join(str(p.get("text") or "") for p in picked),
                    ))
                    if progress is not None:
                        progress(1)
    Manifest(root, out_rows).write()
    return Manifest.read(root)


def source_paths(manifest: Manifest, row: dict[str, object]) -> list[Path]:
    """The source files of a mixture row (DataError when the row has none)."""
    names = [s for s in str(row.get("sources") or "").split(SOURCE_SEP) if s]
    if not names:
        raise DataError(f"{row['path']}: not a mixture row (no 'sources' column)")
    return [manifest.resolve({"path": s}) for s in names]


class MixtureDataset(Dataset):
    """Mixtures made on the fly from one split of a manifest: item ``(epoch, i)`` (or ``i``: epoch 0) is mixture
    ``epoch * size + i`` of the module's recipe, cropped (random offset) or zero-padded to ``segment_length``.

    Args:
        manifest: a :class:`Manifest` or the path of its CSV (or folder), with durations.
        split: the split whose speakers are mixed.
        count: sources per mixture (1..MAX_SOURCES).
        segment_length: samples per item (None: each mixture's own length; batches then need padding).
        size: items per epoch (default: the split's row count).
        sample_rate: rate the clips are loaded at.
        seed: seed of the draws (mixture ``j`` of the split is :func:`draw` with ``index = j``).
        gain_db: largest gain of a source, either way.
        fixed: ignore the epoch (evaluation: the same mixtures every time, whatever a loader's sampler says).

    Items: ``"mixture"`` ``[T]`` and ``"sources"`` ``[count, T]`` (float32 tensors) and ``"index"``.
    """

    def __init__(self, manifest: Manifest | str | os.PathLike, split: str = "train", count: int = 2,
                 segment_length: int | None = 32000, size: int | None = None, sample_rate: int = 16000,
                 seed: int = 0, gain_db: float = GAIN_DB, fixed: bool = False) -> None:
        m = manifest if isinstance(manifest, Manifest) else Manifest.read(manifest)
        self.manifest = m
        (self.count,) = check_counts([count], "count")
        if segment_length is not None and segment_length < 1:
            raise ConfigError(f"segment_length: expected a positive number of samples or None, got {segment_length}")
        self.rows, self.lengths = _rows_and_lengths(m, split, sample_rate)
        if not self.rows:
            raise DataError(f"{m.root}: split '{split}' has no rows")
        self.speakers = by_speaker(self.rows)
        if len(self.speakers) < self.count:
            raise DataError(f"{m.root}: split '{split}' has {len(self.speakers)} speaker(s); mixtures of "
                            f"{self.count} need {self.count}")
        self.split, self.segment_length, self.sample_rate = split, segment_length, int(sample_rate)
        self.size = int(size) if size is not None else len(self.rows)
        self.seed, self.gain_db, self.fixed = int(seed), float(gain_db), bool(fixed)

    def __len__(self) -> int:
        return self.size

    def _clip(self, row: int) -> np.ndarray:
        return load(self.manifest.resolve(self.rows[row]), self.sample_rate)[0]

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, torch.Tensor | int]:
        epoch, i = item if isinstance(item, tuple) else (0, item)
        index = (0 if self.fixed else int(epoch)) * self.size + int(i)
        d = draw(self.speakers, self.lengths, self.count, self.seed, self.split, index, self.gain_db)
        clips = [self._clip(r) for r in d.rows]
        mixture, sources = render(clips, d.gains_db, d.offsets, peak=None)
        if self.segment_length is not None:
            n, seg = mixture.shape[-1], self.segment_length
            if n > seg:
                rng = np.random.default_rng([self.seed & 0xFFFFFFFF, 0x5E9, index])
                start = int(rng.integers(0, n - seg + 1))
                mixture, sources = mixture[start: start + seg], sources[:, start: start + seg]
            elif n < seg:
                mixture = np.pad(mixture, (0, seg - n))
                sources = np.pad(sources, ((0, 0), (0, seg - n)))
        return {"mixture": torch.from_numpy(np.ascontiguousarray(mixture)),
                "sources": torch.from_numpy(np.ascontiguousarray(sources)), "index": index}


class CountDataset(Dataset):
    """Mixtures of a varying number of voices labelled with that number, for a speaker counter: item ``(epoch, i)``
    holds ``counts[(epoch + i) % len(counts)]`` voices (equal shares, each clip index cycling through the counts
    over epochs) drawn as :class:`MixtureDataset` draws them, cropped or padded to ``segment_length``.

    Args:
        manifest, split, segment_length, size, sample_rate, seed, gain_db, fixed: as :class:`MixtureDataset`.
        counts: the voice counts (label ``j`` is ``counts[j]``).

    Items: ``"audio"`` ``[T]`` (the mixture), ``"label"`` (the count's index), ``"speaker"`` (-1), ``"index"``.
    """

    output_key = "audio"

    def __init__(self, manifest: Manifest | str | os.PathLike, split: str = "train",
                 counts: Iterable[int] = (1, 2, 3), segment_length: int = 16000, size: int | None = None,
                 sample_rate: int = 16000, seed: int = 0, gain_db: float = GAIN_DB, fixed: bool = False) -> None:
        self.counts = check_counts(counts, "counts")
        m = manifest if isinstance(manifest, Manifest) else Manifest.read(manifest)
        self.by_count = [MixtureDataset(m, split, k, segment_length, size, sample_rate, seed, gain_db, fixed)
                         for k in self.counts]
        self.manifest, self.fixed = m, bool(fixed)

    def __len__(self) -> int:
        return len(self.by_count[0])

    def __getitem__(self, item: int | tuple[int, int]) -> dict[str, torch.Tensor | int]:
        epoch, i = item if isinstance(item, tuple) else (0, item)
        label = ((0 if self.fixed else int(epoch)) + int(i)) % len(self.counts)
        out = self.by_count[label][(epoch, i)]
        return {"audio": out["mixture"], "label": label, "speaker": -1, "index": out["index"]}
