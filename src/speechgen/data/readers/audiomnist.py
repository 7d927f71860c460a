"""AudioMNIST (Becker et al. 2018) in its original layout.

Layout: ``SRC/{speaker:02d}/{digit}_{speaker}_{index}.wav`` or ``SRC/data/{speaker:02d}/...`` (48 kHz, 60
speakers 01..60, 50 takes of each digit); ``audioMNIST_meta.txt`` is ignored.

Split (ours, deterministic and speaker-disjoint, 48/6/6 speakers for the full corpus): speaker number ``n``
goes to test when ``n % 10 == 0`` (10, 20, 30, 40, 50, 60), to valid when ``n % 10 == 5`` (05, 15, 25, 35, 45,
55), else to train. The rule depends only on the speaker's own number, so a partial copy splits the same way.
Columns: ``label`` = digit, ``text`` = digit word, ``speaker`` = the two-digit folder name, ``engine`` =
"audiomnist", extra ``take`` = index.
"""

from __future__ import annotations

import re
from pathlib import Path

from speechgen.data.manifest import Manifest, make_row
from speechgen.data.readers._common import DIGIT_WORDS, child, manifest_path, probe, roots, sorted_files, track
from speechgen.errors import DataError

_NAME = re.compile(r"^(?P<digit>\d)_(?P<speaker>\d+)_(?P<take>\d+)$")


def speaker_split(speaker: int) -> str:
    """Split of AudioMNIST speaker number ``speaker``: test if n % 10 == 0, valid if n % 10 == 5, else train."""
    if speaker % 10 == 0:
        return "test"
    if speaker % 10 == 5:
        return "valid"
    return "train"


def _speaker_dirs(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and p.name.isdigit())


def read_audiomnist(src: Path, out: Path, *, progress: bool = False) -> Manifest:
    """Index AudioMNIST with the speaker-disjoint split of :func:`speaker_split`."""
    src, out = roots(src, out)
    speakers = _speaker_dirs(src)
    data = child(src, "data")
    if not speakers and data is not None and data.is_dir():
        speakers = _speaker_dirs(data)
    if not speakers:
        raise DataError(
            f"{src}: no numbered speaker folders "
            "(expected SRC/{speaker}/{digit}_{speaker}_{index}.wav or SRC/data/..., AudioMNIST layout)"
        )
    files = [f for d in speakers for f in sorted_files(d, ".wav")]
    rows = []
    for f in track(files, "indexing audiomnist", progress):
        m = _NAME.match(f.stem)
        if m is None or int(m["speaker"]) != int(f.parent.name):
            raise DataError(f"{f}: file name is not {{digit}}_{f.parent.name}_{{index}}.wav (AudioMNIST layout)")
        digit = int(m["digit"])
        i = probe(f)
        rows.append(make_row(
            manifest_path(f, out), label=digit, text=DIGIT_WORDS[digit], speaker=f.parent.name, engine="audiomnist",
            split=speaker_split(int(f.parent.name)), duration=i.duration, sample_rate=i.sample_rate,
            take=int(m["take"]),
        ))
    return Manifest(root=out, rows=rows)
