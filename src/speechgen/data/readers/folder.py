"""Any folder of audio files (every extension :func:`speechgen.audio.io.find_audio` knows, recursively).

Columns:
- ``speaker`` (option ``speaker_from``): ``"parent"`` (default) = the nearest enclosing folder below SRC whose
  name is not a digit ("7", "seven"), so both ``SRC/alice/x.wav`` and ``SRC/alice/seven/x.wav`` give "alice";
  ``"top"`` = the first folder below SRC (``SRC/{speaker}/{session}/...``); ``"none"`` = no speaker. Empty when
  the file has no such folder.
- ``label``: the digit named by the parent folder ("7", "seven") or by the file name's first token (split at
  ``_``, ``-``, ``.`` or space: ``7_x.wav``, ``seven-03.wav``); when both name a digit and disagree, or neither
  does, the label is empty. ``text`` = the digit word when labelled, else empty.
- ``engine`` = "folder".

Split (ours, deterministic, speaker-disjoint): the speakers, ordered by the SHA-1 of their names, go
``test_fraction`` (default 10 %) to test and ``valid_fraction`` (10 %) to valid, rounded, and at least one speaker
each when there are three or more (:func:`~speechgen.data.readers._common.group_splits`); files without a speaker
are split the same way one by one. With fewer than three speakers a split stays empty: the import says so, and
``--speaker-from none`` splits such a folder by file instead.
"""

from __future__ import annotations

import re
from pathlib import Path

from speechgen.audio.io import find_audio
from speechgen.data.manifest import Manifest, make_row
from speechgen.data.readers._common import (
    DIGIT_WORDS, digit_label, group_splits, manifest_path, probe, roots, track,
)
from speechgen.errors import ConfigError, DataError

SPEAKER_FROM: tuple[str, ...] = ("parent", "top", "none")
_TOKEN = re.compile(r"[_\-.\s]+")


def file_label(path: Path, root: Path) -> int | None:
    """Digit named by the parent folder or the file name's first token; None if neither or they disagree."""
    folder = digit_label(path.parent.name) if path.parent != root else None
    token = _TOKEN.split(path.stem, maxsplit=1)[0]
    prefix = digit_label(token)
    if folder is not None and prefix is not None and folder != prefix:
        return None
    return folder if folder is not None else prefix


def file_speaker(path: Path, root: Path, speaker_from: str = "parent") -> str:
    """Speaker of ``path`` under ``root`` following ``speaker_from`` (see the module docstring)."""
    folders = path.relative_to(root).parts[:-1]
    if speaker_from == "none" or not folders:
        return ""
    if speaker_from == "top":
        return folders[0]
    for name in reversed(folders):
        if digit_label(name) is None:
            return name
    return ""


def read_folder(src: Path, out: Path, *, progress: bool = False, speaker_from: str = "parent",
                valid_fraction: float = 0.1, test_fraction: float = 0.1) -> Manifest:
    """Index every audio file under ``src``; speaker-disjoint split (see the module docstring).

    speaker_from: where a file's speaker comes from ("parent", "top" or "none").
    valid_fraction: share of the speakers (or files, without speakers) in the valid split.
    test_fraction: share of them in the test split.
    """
    if speaker_from not in SPEAKER_FROM:
        raise ConfigError(f"speaker_from: '{speaker_from}' is not one of {', '.join(SPEAKER_FROM)}")
    for name, v in (("--valid-fraction", valid_fraction), ("--test-fraction", test_fraction)):
        if not 0.0 <= v < 1.0:
            raise ConfigError(f"{name}: must be in [0, 1), got {v:g}")
    if valid_fraction + test_fraction >= 1.0:
        raise ConfigError(f"--valid-fraction + --test-fraction: must be < 1 (the rest is train), got "
                          f"{valid_fraction + test_fraction:g}")
    src, out = roots(src, out)
    files = find_audio(src)
    if not files:
        raise DataError(f"{src}: no audio files found")
    keys = {f: file_speaker(f, src, speaker_from) or f.relative_to(src).as_posix() for f in files}
    splits = group_splits(list(keys.values()), valid_fraction, test_fraction)
    rows = []
    for f in track(files, "indexing folder", progress):
        label = file_label(f, src)
        i = probe(f)
        rows.append(make_row(
            manifest_path(f, out), label=label, text=DIGIT_WORDS[label] if label is not None else "",
            speaker=file_speaker(f, src, speaker_from), engine="folder", split=splits[keys[f]],
            duration=i.duration, sample_rate=i.sample_rate,
        ))
    return Manifest(root=out, rows=rows)
