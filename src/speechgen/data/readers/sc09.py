"""SC09: the ten digit words "zero".."nine" of Speech Commands (the WaveGAN / DiffWave benchmark).

Two layouts are accepted:

1. Speech Commands itself: ``SRC/{word}/{HASH}_nohash_{N}.wav`` with ``validation_list.txt`` and
   ``testing_list.txt``; only the ten digit folders are read (all ten must exist). Listed files are valid/test,
   everything else train — the official, speaker-disjoint split.
2. The WaveGAN ``sc09`` archive: ``SRC/{train,valid,test}/{Word}_{HASH}_nohash_{N}.wav``; the split is the
   folder (the same official split, pre-applied).

Columns: ``label`` = digit, ``text`` = word, ``speaker`` = HASH, ``engine`` = "sc09", extra ``take`` = N.
"""

from __future__ import annotations

import re
from pathlib import Path

from speechgen.data.manifest import SPLITS, Manifest, make_row
from speechgen.data.readers._common import (
    DIGIT_INDEX, DIGIT_WORDS, child, manifest_path, probe, roots, sorted_files, track,
)
from speechgen.data.readers.speechcommands import index_words
from speechgen.errors import DataError

_WAVEGAN_NAME = re.compile(r"^(?P<word>[A-Za-z]+)_(?P<speaker>.+?)_nohash_(?P<take>\d+)$")


def _split_folders(src: Path) -> dict[str, Path]:
    found = {s: child(src, s) for s in SPLITS}
    return {s: p for s, p in found.items() if p is not None and p.is_dir()}


def _read_wavegan(src: Path, out: Path, folders: dict[str, Path], progress: bool) -> Manifest:
    files = [(split, f) for split, folder in folders.items() for f in sorted_files(folder, ".wav")]
    rows = []
    for split, f in track(files, "indexing sc09", progress):
        m = _WAVEGAN_NAME.match(f.stem)
        word = m["word"].lower() if m else ""
        if m is None or word not in DIGIT_INDEX:
            raise DataError(f"{f}: file name is not Word_HASH_nohash_N.wav with a digit word (WaveGAN sc09 layout)")
        i = probe(f)
        rows.append(make_row(
            manifest_path(f, out), label=DIGIT_INDEX[word], text=word, speaker=m["speaker"], engine="sc09",
            split=split, duration=i.duration, sample_rate=i.sample_rate, take=int(m["take"]),
        ))
    return Manifest(root=out, rows=rows)


def read_sc09(src: Path, out: Path, *, progress: bool = False) -> Manifest:
    """Index the digit words of Speech Commands (or the WaveGAN sc09 archive) with the official splits."""
    src, out = roots(src, out)
    present = {p.name.lower(): p for p in src.iterdir() if p.is_dir()}
    digit_dirs = [present[w] for w in DIGIT_WORDS if w in present]
    if not digit_dirs:
        splits = _split_folders(src)
        if "train" in splits and "test" in splits:
            return _read_wavegan(src, out, splits, progress)
        raise DataError(
            f"{src}: no digit folders zero..nine (expected Speech Commands SRC/{{word}}/HASH_nohash_N.wav "
            "or WaveGAN sc09 SRC/{train,valid,test}/)"
        )
    missing = [w for w in DIGIT_WORDS if w not in present]
    if missing:
        raise DataError(f"{src}: lacks digit folder(s) {', '.join(missing)} (SC09 needs all ten)")
    return index_words(src, out, digit_dirs, "sc09", progress)
