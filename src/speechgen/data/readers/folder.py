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

Split (ours, deterministic): the SHA-1 of the speaker sends ~10 % of the speakers to test and ~10 % to valid, so
the splits are speaker-disjoint; files without a speaker are split by the SHA-1 of their path relative to SRC.
With only a handful of speakers the shares can be far from 80/10/10 (even all train) — use a dedicated reader or
``--speaker-from none`` for such folders.
"""

from __future__ import annotations

import re
from pathlib import Path

from speechgen.audio.io import find_audio
from speechgen.data.manifest import Manifest, make_row
from speechgen.data.readers._common import DIGIT_WORDS, digit_label, hash_split, manifest_path, probe, roots, track
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


def read_folder(src: Path, out: Path, *, progress: bool = False, speaker_from: str = "parent") -> Manifest:
    """Index every audio file under ``src``; speaker-hashed ~80/10/10 split."""
    if speaker_from not in SPEAKER_FROM:
        raise ConfigError(f"speaker_from: '{speaker_from}' is not one of {', '.join(SPEAKER_FROM)}")
    src, out = roots(src, out)
    files = find_audio(src)
    if not files:
        raise DataError(f"{src}: no audio files found")
    rows = []
    for f in track(files, "indexing folder", progress):
        speaker = file_speaker(f, src, speaker_from)
        label = file_label(f, src)
        i = probe(f)
        rows.append(make_row(
            manifest_path(f, out), label=label, text=DIGIT_WORDS[label] if label is not None else "",
            speaker=speaker, engine="folder", split=hash_split(speaker or f.relative_to(src).as_posix()),
            duration=i.duration, sample_rate=i.sample_rate,
        ))
    return Manifest(root=out, rows=rows)
