"""Helpers shared by the corpus readers: paths relative to the output folder, header probing, splits, progress.

Policy shared by every reader:
- Audio is never copied or decoded; duration and rate come from the file header (:func:`speechgen.audio.io.info`).
- Manifest paths are relative to the output folder (``os.path.relpath``), or absolute when no relative path
  exists (another drive on Windows).
- A file that the layout says is audio but whose header cannot be read fails the whole import with a
  :class:`DataError` naming that file: a manifest of a corpus you own should be complete, and a corrupt file is
  a broken copy to repair, not something to hide. Files the layout does not claim (README, lists, ``.DS_Store``)
  are ignored.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TypeVar

from speechgen.audio.io import AudioInfo, info
from speechgen.errors import AudioError, DataError

T = TypeVar("T")

DIGIT_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DIGIT_INDEX: dict[str, int] = {w: i for i, w in enumerate(DIGIT_WORDS)}


def roots(src: Path, out: Path) -> tuple[Path, Path]:
    """Absolute, symlink-free versions of the corpus root and the output folder."""
    if not src.is_dir():
        raise DataError(f"{src}: no such corpus folder")
    return src.resolve(), Path(os.path.abspath(out)).resolve()


def manifest_path(path: Path, out: Path) -> str:
    """``path`` relative to ``out`` (both absolute), or absolute when they share no root (another drive)."""
    try:
        return os.path.relpath(path, out)
    except ValueError:
        return str(path)


def probe(path: Path) -> AudioInfo:
    """Header info of ``path``; an unreadable or empty file becomes a one-line :class:`DataError`."""
    try:
        i = info(path)
    except AudioError as exc:
        raise DataError(f"{exc}; repair or remove it and import again") from exc
    if i.frames <= 0:
        raise DataError(f"{path}: contains no samples; repair or remove it and import again")
    return i


def child(folder: Path, name: str) -> Path | None:
    """The entry of ``folder`` called ``name``, compared case-insensitively (exact match preferred)."""
    exact = folder / name
    if exact.exists():
        return exact
    low = name.lower()
    for p in sorted(folder.iterdir()) if folder.is_dir() else []:
        if p.name.lower() == low:
            return p
    return None


def hash_fraction(key: str) -> float:
    """A stable number in [0, 1) from ``key`` (SHA-1, independent of Python's hash seed and platform)."""
    digest = hashlib.sha1(key.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def hash_split(key: str, valid: float = 0.1, test: float = 0.1) -> str:
    """Deterministic split of ``key``: ``test`` if its hash fraction < ``test``, then ``valid``, else train."""
    h = hash_fraction(key)
    if h < test:
        return "test"
    if h < test + valid:
        return "valid"
    return "train"


def group_splits(keys: Sequence[str], valid: float = 0.1, test: float = 0.1) -> dict[str, str]:
    """Assign each distinct key (a speaker, or a file when there are no speakers) to a split: the keys ordered by
    their hash, ``round(test · K)`` of them to test, ``round(valid · K)`` to valid (each at least one when the
    fraction is > 0 and there are at least three keys), the rest to train. Deterministic, and exact where a
    threshold on the hash would leave small folders with empty splits."""
    distinct = sorted(set(keys), key=lambda k: (hash_fraction(k), k))
    k = len(distinct)
    n_test, n_valid = round(test * k), round(valid * k)
    if k >= 3:
        n_test, n_valid = max(n_test, int(test > 0)), max(n_valid, int(valid > 0))
    n_test = min(n_test, max(0, k - 1))
    n_valid = min(n_valid, max(0, k - 1 - n_test))
    out = {}
    for i, key in enumerate(distinct):
        out[key] = "test" if i < n_test else "valid" if i < n_test + n_valid else "train"
    return out


def digit_label(token: str) -> int | None:
    """Digit 0-9 named by ``token`` ("7", "seven", "Seven"), else None."""
    t = token.strip().lower()
    if len(t) == 1 and t.isdigit():
        return int(t)
    return DIGIT_INDEX.get(t)


def track(items: Sequence[T], description: str, progress: bool) -> Iterable[T]:
    """Iterate ``items`` with a transient rich progress bar when ``progress`` is true."""
    if not progress or len(items) < 200:
        return items
    from rich.progress import track as rich_track

    return rich_track(items, description=description, total=len(items), transient=True)


def sorted_files(folder: Path, suffix: str) -> Iterator[Path]:
    """Plain, non-hidden files of ``folder`` whose suffix is ``suffix`` (case-insensitive), sorted by name."""
    for p in sorted(folder.iterdir()):
        if p.is_file() and not p.name.startswith(".") and p.suffix.lower() == suffix:
            yield p
