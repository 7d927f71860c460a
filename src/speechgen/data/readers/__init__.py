"""Readers for corpora users already own; each writes the common manifest schema.

``READERS`` maps a format name to a function ``read(src: Path, out: Path) -> Manifest`` that indexes ``src`` in its
original layout and returns a manifest rooted at ``out`` (paths relative to ``out``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from speechgen.data.manifest import Manifest
from speechgen.errors import DataError

Reader = Callable[[Path, Path], Manifest]

# Filled in by the reader modules (explicit dict, see below).
READERS: dict[str, Reader] = {}


def import_corpus(name: str, src: str | os.PathLike, out: str | os.PathLike, progress: bool = True) -> Manifest:
    """Index corpus ``src`` of format ``name`` and write ``out/manifest.csv``."""
    if name not in READERS:
        raise DataError(f"unknown corpus format '{name}'; expected one of {', '.join(sorted(READERS))}")
    src_p = Path(src)
    if not src_p.is_dir():
        raise DataError(f"{src_p}: no such corpus folder")
    manifest = READERS[name](src_p, Path(out))
    if len(manifest) == 0:
        raise DataError(f"{src_p}: no audio files found in the {name} layout")
    manifest.write()
    return manifest
