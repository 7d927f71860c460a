"""LJ Speech (Ito & Johnson 2017) in its original layout.

Layout: ``SRC/metadata.csv`` (no header, ``|``-separated ``id|text|normalized text``; quotes are literal text, so
it is read with quoting off) and ``SRC/wavs/{id}.wav`` (22.05 kHz). Every metadata row must have its wav (a
missing one is an error naming it); wavs without a row are ignored.

Columns: ``text`` = the normalised transcription (the raw one when a row has only two fields), ``speaker`` = "LJ",
``label`` empty, ``engine`` = "ljspeech", extra ``id``.

Split (ours, deterministic): the SHA-1 of the clip id (see :func:`speechgen.data.readers._common.hash_split`)
sends 2.5 % of the clips to valid and 2.5 % to test (about 330 each of 13,100), the rest to train. It depends only
on the id, so it does not change when rows are added or removed.
"""

from __future__ import annotations

import csv
from pathlib import Path

from speechgen.data.manifest import Manifest, make_row
from speechgen.data.readers._common import child, hash_split, manifest_path, probe, roots, track
from speechgen.errors import DataError

VALID_FRACTION = 0.025
TEST_FRACTION = 0.025


def read_metadata(path: Path) -> list[tuple[str, str]]:
    """``(id, text)`` pairs of an LJ Speech ``metadata.csv`` (normalised text where present)."""
    try:
        with open(path, encoding="utf-8", newline="") as fh:
            raw = list(csv.reader(fh, delimiter="|", quoting=csv.QUOTE_NONE))
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot read ({exc})") from exc
    items = []
    for n, fields in enumerate(raw, start=1):
        if not fields or all(not f.strip() for f in fields):
            continue
        if len(fields) < 2 or not fields[0].strip():
            raise DataError(f"{path} line {n}: expected id|text|normalized text")
        text = fields[2] if len(fields) > 2 and fields[2].strip() else fields[1]
        items.append((fields[0].strip(), text.strip()))
    return items


def read_ljspeech(src: Path, out: Path, *, progress: bool = False) -> Manifest:
    """Index LJ Speech with the hash-based 95/2.5/2.5 split."""
    src, out = roots(src, out)
    meta = child(src, "metadata.csv")
    if meta is None or not meta.is_file():
        raise DataError(f"{src}: lacks metadata.csv (LJ Speech layout: SRC/metadata.csv + SRC/wavs/ID.wav)")
    wavs = child(src, "wavs")
    if wavs is None or not wavs.is_dir():
        raise DataError(f"{src}: lacks the wavs/ folder (LJ Speech layout: SRC/metadata.csv + SRC/wavs/ID.wav)")
    items = read_metadata(meta)
    rows = []
    for clip_id, text in track(items, "indexing ljspeech", progress):
        f = wavs / f"{clip_id}.wav"
        if not f.is_file():
            raise DataError(f"{f}: missing wav for metadata.csv row '{clip_id}'")
        i = probe(f)
        rows.append(make_row(
            manifest_path(f, out), label=None, text=text, speaker="LJ", engine="ljspeech",
            split=hash_split(clip_id, VALID_FRACTION, TEST_FRACTION), duration=i.duration,
            sample_rate=i.sample_rate, id=clip_id,
        ))
    return Manifest(root=out, rows=rows)
