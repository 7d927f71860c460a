"""Readers for corpora users already own; each writes the common manifest schema.

``READERS`` maps a format name to a function ``read(src, out, *, progress=False, **options) -> Manifest`` that
indexes ``src`` in its original layout (audio is not copied or decoded) and returns a manifest rooted at ``out``
(paths relative to ``out``). Each reader's module documents its layout, columns and split rule:

========================  ======================================================================================
``sc09``                  Speech Commands digit words (or the WaveGAN sc09 archive); official list-file split
``speechcommands``        every Speech Commands word; official list-file split
``fsdd``                  Free Spoken Digit Dataset; official split (takes 0-4 test, rest train)
``audiomnist``            AudioMNIST; speaker-disjoint split by speaker number (n%10==0 test, n%10==5 valid)
``timit``                 TIMIT; TRAIN train, core-test speakers test, other TEST speakers valid; option keep_sa
``ljspeech``              LJ Speech; SHA-1-of-id split 95/2.5/2.5
``folder``                any folder of audio; SHA-1-of-speaker split ~80/10/10; option speaker_from
========================  ======================================================================================

A file the layout claims as audio whose header cannot be read stops the import with an error naming it.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from speechgen.data.manifest import Manifest
from speechgen.data.readers import audiomnist, folder, fsdd, ljspeech, sc09, speechcommands, timit
from speechgen.errors import ConfigError, DataError


#: ``read(src: Path, out: Path, *, progress: bool = False, **reader_specific_options) -> Manifest``
Reader = Callable[..., Manifest]


READERS: dict[str, Reader] = {
    "sc09": sc09.read_sc09,
    "speechcommands": speechcommands.read_speechcommands,
    "fsdd": fsdd.read_fsdd,
    "audiomnist": audiomnist.read_audiomnist,
    "timit": timit.read_timit,
    "ljspeech": ljspeech.read_ljspeech,
    "folder": folder.read_folder,
}


def import_corpus(
    name: str, src: str | os.PathLike, out: str | os.PathLike, progress: bool = True, **options: Any
) -> Manifest:
    """Index corpus ``src`` of format ``name`` and write ``out/manifest.csv``.

    ``options`` are passed to the reader (e.g. ``keep_sa=True`` for ``timit``, ``speaker_from="top"`` for
    ``folder``); an option the reader does not take is a :class:`ConfigError`.
    """
    if name not in READERS:
        raise DataError(f"unknown corpus format '{name}'; expected one of {', '.join(sorted(READERS))}")
    reader = READERS[name]
    accepted = set(inspect.signature(reader).parameters) - {"src", "out", "progress"}
    unknown = sorted(set(options) - accepted)
    if unknown:
        raise ConfigError(f"{', '.join(unknown)}: not an option of the {name} reader")
    src_p = Path(src)
    if not src_p.is_dir():
        raise DataError(f"{src_p}: no such corpus folder")
    manifest = reader(src_p, Path(out), progress=progress, **options)
    if len(manifest) == 0:
        raise DataError(f"{src_p}: no audio files found in the {name} layout")
    manifest.write()
    return manifest
