"""Free Spoken Digit Dataset (Jackson et al.) in its original layout.

Layout: ``SRC/{digit}_{speaker}_{index}.wav`` or ``SRC/recordings/{digit}_{speaker}_{index}.wav`` (8 kHz).

Split (the dataset's official one): recordings with ``index`` 0-4 are test, all others train; there is no valid
split (FSDD's few speakers appear in both train and test, so any speaker-held-out valid set would change the
official test). Columns: ``label`` = digit, ``text`` = digit word, ``speaker`` = the speaker name,
``engine`` = "fsdd", extra ``take`` = index.
"""

from __future__ import annotations

import re
from pathlib import Path

from speechgen.data.manifest import Manifest, make_row
from speechgen.data.readers._common import DIGIT_WORDS, child, manifest_path, probe, roots, sorted_files, track
from speechgen.errors import DataError

_NAME = re.compile(r"^(?P<digit>\d)_(?P<speaker>.+)_(?P<take>\d+)$")
TEST_TAKES = range(0, 5)


def read_fsdd(src: Path, out: Path, *, progress: bool = False) -> Manifest:
    """Index FSDD recordings with the official split (index 0-4 test, rest train)."""
    src, out = roots(src, out)
    rec = child(src, "recordings")
    folder = rec if rec is not None and rec.is_dir() else src
    files = list(sorted_files(folder, ".wav"))
    if not files:
        raise DataError(
            f"{src}: no FSDD recordings (expected SRC/{{digit}}_{{speaker}}_{{index}}.wav or SRC/recordings/)"
        )
    rows = []
    for f in track(files, "indexing fsdd", progress):
        m = _NAME.match(f.stem)
        if m is None:
            raise DataError(f"{f}: file name is not {{digit}}_{{speaker}}_{{index}}.wav (FSDD layout)")
        take = int(m["take"])
        digit = int(m["digit"])
        i = probe(f)
        rows.append(make_row(
            manifest_path(f, out), label=digit, text=DIGIT_WORDS[digit], speaker=m["speaker"], engine="fsdd",
            split="test" if take in TEST_TAKES else "train", duration=i.duration, sample_rate=i.sample_rate,
            take=take,
        ))
    return Manifest(root=out, rows=rows)
