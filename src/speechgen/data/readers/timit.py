"""TIMIT (LDC93S1) in the LDC layout, plus its phone sets and per-frame phone labels.

Layout: ``SRC/{TRAIN,TEST}/{DR1..DR8}/{SPEAKER}/{UTT}.WAV`` (NIST SPHERE, 16 kHz) beside ``{UTT}.PHN`` (``start end
phone``, in samples), ``{UTT}.WRD`` (``start end word``) and ``{UTT}.TXT`` (``start end text``). Upper- or
lower-case names are accepted, and the root may also be ``SRC/TIMIT`` or ``SRC/data``. Only files named like
TIMIT sentences (SA1, SI943, SX213) are read, so converted copies such as ``SA1.WAV.wav`` are ignored. ``.PHN``
and ``.TXT`` are required (their absence is an error naming the file); ``.WRD`` is optional.

Split: TRAIN -> train; the 24 core-test speakers of TEST (:data:`CORE_TEST_SPEAKERS`) -> test; the other 144
TEST speakers -> valid. (The widely used 50-speaker dev set is a subset of that valid split; using all non-core
test speakers gives a larger, still speaker-disjoint valid set.) The SA1/SA2 sentences, read by every speaker,
are excluded by default because they bias phone statistics (``keep_sa=True`` / ``--timit-keep-sa`` keeps them).

Columns: ``text`` from ``.TXT``, ``speaker`` = speaker folder (upper case, e.g. "FCJF0"), ``label`` empty,
``engine`` = "timit"; extra ``alignment`` (the ``.PHN`` path, relative like ``path``), ``words`` (the ``.WRD``
path or empty), ``dialect`` ("DR1".."DR8"), ``sex`` ("F"/"M"), ``sentence`` ("SI943").

Phone sets: the 61 TIMIT phones (:data:`PHONES_61`) fold to the 48-phone set (:data:`PHONES_48`,
:data:`FOLD_61_TO_48`) and then to the 39-phone set of Lee & Hon 1989 (:data:`PHONES_39`,
:data:`FOLD_48_TO_39`). The glottal stop ``q`` has no 48/39 class: :func:`fold` deletes it (the standard
practice for scoring), and :func:`frame_labels` gives its frames the class of the following phone (a glottal
onset belongs to the vowel it starts), or of the preceding one when ``q`` ends the utterance.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import NamedTuple

import numpy as np

from speechgen.data.manifest import Manifest, make_row
from speechgen.data.readers._common import child, manifest_path, probe, roots, track
from speechgen.errors import ConfigError, DataError

TIMIT_RATE = 16000

PHONES_61: tuple[str, ...] = (
    "b", "d", "g", "p", "t", "k", "dx", "q",                    # stops, flap, glottal stop
    "bcl", "dcl", "gcl", "pcl", "tcl", "kcl",                   # closures
    "jh", "ch",                                                 # affricates
    "s", "sh", "z", "zh", "f", "th", "v", "dh",                 # fricatives
    "m", "n", "ng", "em", "en", "eng", "nx",                    # nasals
    "l", "r", "w", "y", "hh", "hv", "el",                       # semivowels and glides
    "iy", "ih", "eh", "ey", "ae", "aa", "aw", "ay", "ah", "ao",  # vowels
    "oy", "ow", "uh", "uw", "ux", "er", "ax", "ix", "axr", "ax-h",
    "pau", "epi", "h#",                                         # others
)

PHONES_48: tuple[str, ...] = (
    "aa", "ae", "ah", "ao", "aw", "ax", "er", "ay", "b", "ch", "cl", "d", "dh", "dx", "eh", "el", "en", "epi",
    "ey", "f", "g", "hh", "ih", "ix", "iy", "jh", "k", "l", "m", "n", "ng", "ow", "oy", "p", "r", "s", "sh",
    "sil", "t", "th", "uh", "uw", "v", "vcl", "w", "y", "z", "zh",
)

PHONES_39: tuple[str, ...] = (
    "aa", "ae", "ah", "aw", "er", "ay", "b", "ch", "d", "dh", "dx", "eh", "ey", "f", "g", "hh", "ih", "iy",
    "jh", "k", "l", "m", "n", "ng", "ow", "oy", "p", "r", "s", "sh", "sil", "t", "th", "uh", "uw", "v", "w",
    "y", "z",
)

#: 61 -> 48 folding (Lee & Hon 1989); ``None`` = deleted (the glottal stop ``q``).
FOLD_61_TO_48: dict[str, str | None] = {
    **{p: p for p in PHONES_61 if p in PHONES_48},
    "ux": "uw", "axr": "er", "ax-h": "ax",
    "em": "m", "nx": "n", "eng": "ng", "hv": "hh",
    "pcl": "cl", "tcl": "cl", "kcl": "cl",
    "bcl": "vcl", "dcl": "vcl", "gcl": "vcl",
    "h#": "sil", "pau": "sil",
    "q": None,
}

#: 48 -> 39 folding (Lee & Hon 1989).
FOLD_48_TO_39: dict[str, str] = {
    **{p: p for p in PHONES_48 if p in PHONES_39},
    "ao": "aa", "ax": "ah", "ix": "ih", "el": "l", "en": "n", "zh": "sh",
    "cl": "sil", "vcl": "sil", "epi": "sil",
}

PHONE_SETS: dict[int, tuple[str, ...]] = {61: PHONES_61, 48: PHONES_48, 39: PHONES_39}
_SILENCE: dict[int, str] = {61: "h#", 48: "sil", 39: "sil"}

#: The 24 speakers of the TIMIT core test set (2 male, 1 female per dialect region DR1..DR8).
CORE_TEST_SPEAKERS: frozenset[str] = frozenset({
    "MDAB0", "MWBT0", "FELC0",  # DR1
    "MTAS1", "MWEW0", "FPAS0",  # DR2
    "MJMP0", "MLNT0", "FPKT0",  # DR3
    "MLLL0", "MTLS0", "FJLM0",  # DR4
    "MBPM0", "MKLT0", "FNLP0",  # DR5
    "MCMJ0", "MJDH0", "FMGD0",  # DR6
    "MGRT0", "MNJM0", "FDHC0",  # DR7
    "MJLN0", "MPAM0", "FMLD0",  # DR8
})

_SENTENCE = re.compile(r"^S[AIX]\d+$", re.IGNORECASE)
_DIALECT = re.compile(r"^DR\d$", re.IGNORECASE)


class Segment(NamedTuple):
    """One line of a ``.PHN`` / ``.WRD`` file: sample range [start, end) at 16 kHz and its label."""

    start: int
    end: int
    label: str


def read_segments(path: str | os.PathLike) -> list[Segment]:
    """Parse a TIMIT ``start end label`` file (``.PHN`` or ``.WRD``)."""
    p = Path(path)
    try:
        lines = p.read_text(encoding="ascii", errors="replace").splitlines()
    except OSError as exc:
        raise DataError(f"{p}: cannot read ({exc.strerror or exc})") from exc
    segments = []
    for n, line in enumerate(lines, start=1):
        fields = line.split()
        if not fields:
            continue
        try:
            if len(fields) != 3:
                raise ValueError
            start, end = int(fields[0]), int(fields[1])
        except ValueError:
            raise DataError(f"{p} line {n}: expected 'start end label', got {line.strip()!r}") from None
        if end < start or start < 0:
            raise DataError(f"{p} line {n}: segment end {end} before start {start}")
        segments.append(Segment(start, end, fields[2]))
    return segments


def read_phn(path: str | os.PathLike) -> list[Segment]:
    """Phone segments of a ``.PHN`` file (61-phone labels, sample positions at 16 kHz)."""
    return read_segments(path)


def read_wrd(path: str | os.PathLike) -> list[Segment]:
    """Word segments of a ``.WRD`` file."""
    return read_segments(path)


def read_txt(path: str | os.PathLike) -> str:
    """The sentence of a ``.TXT`` file (``start end text``)."""
    p = Path(path)
    try:
        content = p.read_text(encoding="ascii", errors="replace").strip()
    except OSError as exc:
        raise DataError(f"{p}: cannot read ({exc.strerror or exc})") from exc
    fields = content.split(None, 2)
    if len(fields) < 3 or not (fields[0].isdigit() and fields[1].isdigit()):
        raise DataError(f"{p}: expected 'start end text'")
    return " ".join(fields[2].split())


def _fold_one(phone: str, to: int) -> str | None:
    p = phone.strip().lower()
    if p in FOLD_61_TO_48:
        p48 = FOLD_61_TO_48[p]
    elif p in PHONES_48:
        p48 = p
    else:
        raise DataError(f"unknown TIMIT phone '{phone}'")
    if p48 is None or to == 48:
        return p48
    return FOLD_48_TO_39[p48]


def fold(phones: Iterable[str], to: int = 48) -> list[str]:
    """Fold TIMIT phones (61-set, or 48-set when ``to=39``) to the 48- or 39-phone set; ``q`` is deleted."""
    if to not in (48, 39):
        raise ConfigError(f"to: fold to 48 or 39 phones, not {to}")
    out = []
    for ph in phones:
        f = _fold_one(ph, to)
        if f is not None:
            out.append(f)
    return out


def _segment_classes(segments: Sequence[Segment], phone_set: int) -> list[int]:
    """Class index of each segment in ``phone_set``; deleted phones (``q``) take the next, else previous class."""
    index = {p: i for i, p in enumerate(PHONE_SETS[phone_set])}
    classes: list[int | None] = []
    for s in segments:
        if phone_set == 61:
            lab = s.label.strip().lower()
            if lab not in index:
                raise DataError(f"unknown TIMIT phone '{s.label}'")
            classes.append(index[lab])
        else:
            f = _fold_one(s.label, phone_set)
            classes.append(index[f] if f is not None else None)
    known = [i for i, c in enumerate(classes) if c is not None]
    sil = index[_SILENCE[phone_set]]
    resolved = []
    for i, c in enumerate(classes):
        if c is None:
            after = [k for k in known if k > i]
            before = [k for k in known if k < i]
            c = classes[after[0]] if after else (classes[before[-1]] if before else sil)
        resolved.append(int(c))  # type: ignore[arg-type]
    return resolved


def frame_labels(
    phn: str | os.PathLike | Sequence[Segment | tuple[int, int, str]],
    hop_length: int,
    n_frames: int | None = None,
    phone_set: int = 48,
    sample_rate: int = TIMIT_RATE,
) -> np.ndarray:
    """Per-frame phone indices (into ``PHONES_{phone_set}``) from a ``.PHN`` file or its segments.

    Frame ``t`` gets the phone that contains the sample at ``t * hop_length`` (the centre of frame ``t`` of a
    centred STFT, e.g. ``librosa.stft(center=True)``). ``hop_length`` is in samples at ``sample_rate``; segment
    boundaries are at TIMIT's 16 kHz and are rescaled when ``sample_rate`` differs. Samples no segment covers
    (gaps, or frames past the last segment when ``n_frames`` asks for more) are silence ("sil", or "h#" for the
    61-phone set). ``n_frames`` defaults to ``1 + last_end // hop_length`` (the frame count of a centred STFT of
    the whole utterance). ``q`` frames take the following phone's class (the preceding one at the end).
    """
    if hop_length <= 0:
        raise ConfigError(f"hop_length: must be positive, got {hop_length}")
    if phone_set not in PHONE_SETS:
        raise ConfigError(f"phone_set: must be 61, 48 or 39, got {phone_set}")
    if sample_rate <= 0:
        raise ConfigError(f"sample_rate: must be positive, got {sample_rate}")
    where = ""
    if isinstance(phn, (str, os.PathLike)):
        where = f"{phn}: "
        segments = read_phn(phn)
    else:
        segments = [Segment(int(s[0]), int(s[1]), str(s[2])) for s in phn]
    segments = sorted(segments, key=lambda s: (s.start, s.end))
    try:
        classes = np.asarray(_segment_classes(segments, phone_set), dtype=np.int64)
    except DataError as exc:
        raise DataError(f"{where}{exc}") from exc
    sil = PHONE_SETS[phone_set].index(_SILENCE[phone_set])
    scale = sample_rate / TIMIT_RATE
    if n_frames is None:
        last = max((s.end for s in segments), default=0)
        n_frames = 1 + int(last * scale) // hop_length
    if n_frames < 0:
        raise ConfigError(f"n_frames: must be >= 0, got {n_frames}")
    if not segments:
        return np.full(n_frames, sil, dtype=np.int64)
    # Sample position of each frame at 16 kHz (exact integer arithmetic when the rates agree).
    t = np.arange(n_frames, dtype=np.int64) * hop_length
    pos = t if sample_rate == TIMIT_RATE else t * (TIMIT_RATE / sample_rate)
    starts = np.asarray([s.start for s in segments])
    ends = np.asarray([s.end for s in segments])
    k = np.searchsorted(starts, pos, side="right") - 1
    kc = np.clip(k, 0, len(segments) - 1)
    covered = (k >= 0) & (pos < ends[kc])
    return np.where(covered, classes[kc], sil).astype(np.int64)


def find_root(src: Path) -> Path:
    """The folder holding ``TRAIN`` and ``TEST`` (``src`` itself, ``src/TIMIT`` or ``src/data``)."""
    for cand in (src, child(src, "TIMIT"), child(src, "data")):
        if cand is None or not cand.is_dir():
            continue
        train, test = child(cand, "TRAIN"), child(cand, "TEST")
        if train is not None and train.is_dir() and test is not None and test.is_dir():
            return cand
    raise DataError(f"{src}: lacks TRAIN/ and TEST/ folders (TIMIT LDC layout: SRC/{{TRAIN,TEST}}/DR*/SPEAKER/UTT.WAV)")


def _utterances(root: Path, keep_sa: bool) -> list[tuple[str, str, str, Path, dict[str, Path]]]:
    """(part, dialect, speaker, wav, companions-by-lowercase-name) of every sentence under ``root``."""
    found = []
    for part_name in ("TRAIN", "TEST"):
        part = child(root, part_name)
        assert part is not None
        for dr in sorted(p for p in part.iterdir() if p.is_dir() and _DIALECT.match(p.name)):
            for spk in sorted(p for p in dr.iterdir() if p.is_dir() and not p.name.startswith(".")):
                files = {p.name.lower(): p for p in spk.iterdir() if p.is_file()}
                for name in sorted(files):
                    wav = files[name]
                    stem, ext = os.path.splitext(name)
                    if ext != ".wav" or not _SENTENCE.match(stem):
                        continue
                    if not keep_sa and stem.upper().startswith("SA"):
                        continue
                    found.append((part_name, dr.name.upper(), spk.name.upper(), wav, files))
    return found


def read_timit(src: Path, out: Path, *, progress: bool = False, keep_sa: bool = False) -> Manifest:
    """Index TIMIT; TRAIN -> train, core test -> test, other TEST speakers -> valid; SA1/SA2 dropped unless kept."""
    src, out = roots(src, out)
    root = find_root(src)
    utts = _utterances(root, keep_sa)
    rows = []
    for part, dialect, speaker, wav, files in track(utts, "indexing timit", progress):
        stem = wav.name.lower()[:-4]
        phn, txt, wrd = (files.get(stem + ext) for ext in (".phn", ".txt", ".wrd"))
        if phn is None:
            raise DataError(f"{wav}: lacks its .PHN alignment")
        if txt is None:
            raise DataError(f"{wav}: lacks its .TXT transcription")
        i = probe(wav)
        if part == "TRAIN":
            split = "train"
        else:
            split = "test" if speaker in CORE_TEST_SPEAKERS else "valid"
        rows.append(make_row(
            manifest_path(wav, out), label=None, text=read_txt(txt), speaker=speaker, engine="timit", split=split,
            duration=i.duration, sample_rate=i.sample_rate, alignment=manifest_path(phn, out),
            words=manifest_path(wrd, out) if wrd is not None else "", dialect=dialect, sex=speaker[:1],
            sentence=stem.upper(),
        ))
    return Manifest(root=out, rows=rows)
