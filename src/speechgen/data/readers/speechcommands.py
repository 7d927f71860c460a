"""Speech Commands (Warden 2018, v0.01 / v0.02) in its original layout.

Layout: ``SRC/{word}/{HASH}_nohash_{N}.wav`` (16 kHz) with ``SRC/validation_list.txt`` and
``SRC/testing_list.txt`` listing the valid and test files (``word/HASH_nohash_N.wav``); every other file is
train. ``SRC/_background_noise_`` (and any folder starting with ``_`` or ``.``) is not a word and is excluded.

Columns: ``text`` = the word, ``label`` = its digit for "zero".."nine" else empty, ``speaker`` = HASH (the
anonymised speaker id; the official lists are speaker-disjoint), ``engine`` = "speechcommands", extra column
``take`` = N (the speaker's repetition of that word).
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from speechgen.data.manifest import Manifest, make_row
from speechgen.data.readers._common import DIGIT_INDEX, manifest_path, probe, roots, sorted_files, track
from speechgen.errors import DataError

LIST_FILES: dict[str, str] = {"valid": "validation_list.txt", "test": "testing_list.txt"}
_NAME = re.compile(r"^(?P<speaker>.+?)_nohash_(?P<take>\d+)$")


def word_folders(src: Path) -> list[Path]:
    """Word folders of a Speech Commands root (``_background_noise_`` and hidden folders excluded)."""
    return sorted(p for p in src.iterdir() if p.is_dir() and not p.name.startswith(("_", ".")))


def read_lists(src: Path) -> dict[str, str]:
    """Map ``word/file.wav`` to its split from the official list files; missing lists are a DataError."""
    assignment: dict[str, str] = {}
    for split, name in LIST_FILES.items():
        f = src / name
        if not f.is_file():
            raise DataError(f"{src}: lacks {name} (the official split list of Speech Commands)")
        for line in f.read_text(encoding="utf-8", errors="replace").splitlines():
            entry = line.strip().replace("\\", "/")
            if entry:
                assignment[entry] = split
    return assignment


def index_words(
    src: Path, out: Path, folders: Collection[Path], engine: str, progress: bool = False
) -> Manifest:
    """Index the ``HASH_nohash_N.wav`` files of ``folders`` (word folders of ``src``) with the official splits."""
    lists = read_lists(src)
    files = [f for folder in folders for f in sorted_files(folder, ".wav")]
    rows = []
    for f in track(files, f"indexing {engine}", progress):
        m = _NAME.match(f.stem)
        if m is None:
            raise DataError(f"{f}: file name is not HASH_nohash_N.wav (Speech Commands layout)")
        word = f.parent.name.lower()
        rel = f"{f.parent.name}/{f.name}"
        i = probe(f)
        rows.append(make_row(
            manifest_path(f, out), label=DIGIT_INDEX.get(word), text=word, speaker=m["speaker"], engine=engine,
            split=lists.get(rel, "train"), duration=i.duration, sample_rate=i.sample_rate, take=int(m["take"]),
        ))
    return Manifest(root=out, rows=rows)


def read_speechcommands(src: Path, out: Path, *, progress: bool = False) -> Manifest:
    """Index every word of a Speech Commands root; see the module docstring for columns and splits."""
    src, out = roots(src, out)
    folders = word_folders(src)
    if not folders:
        raise DataError(f"{src}: no word folders (expected SRC/{{word}}/HASH_nohash_N.wav, Speech Commands layout)")
    return index_words(src, out, folders, "speechcommands", progress)
