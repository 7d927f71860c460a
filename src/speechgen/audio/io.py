"""Audio file input/output with validation.

Policy (documented in docs/data.md, Audio I/O):
- Formats: whatever libsndfile reads (WAV, FLAC, OGG, AIFF, ... at 8/16/24/32-bit integer or float), plus NIST
  SPHERE (TIMIT's ``.WAV``) read by our own parser.
- Samples are returned as float32 in [-1, 1] (integer PCM is scaled by 2**(bits-1)).
- Channels: ``mono=True`` (default) averages all channels; ``mono=False`` returns shape ``(channels, samples)``.
- Rate: ``sample_rate=None`` keeps the file's rate; any other value resamples with soxr (very high quality).
- Refused with :class:`AudioError`: missing, empty, unreadable or non-audio files, zero samples, NaN/Inf.
- Writes are atomic; float input outside [-1, 1] is clipped when written as integer PCM.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from speechgen.atomic import atomic_path, disk_full
from speechgen.errors import AudioError

AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".ogg", ".aiff", ".aif", ".sph", ".nist", ".au"})
_SPHERE_MAGIC = b"NIST_1A"


@dataclass(frozen=True)
class AudioInfo:
    """What a file holds, read from its header only."""

    sample_rate: int
    frames: int
    channels: int

    @property
    def duration(self) -> float:
        return self.frames / self.sample_rate


def _check_file(path: Path) -> None:
    if not path.exists():
        raise AudioError(f"{path}: no such file")
    if path.is_dir():
        raise AudioError(f"{path}: is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioError(f"{path}: empty file")


def _is_sphere(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(7) == _SPHERE_MAGIC


SPHERE_MAX_HEADER = 1 << 20  # bytes; real headers are 1 024
SPHERE_MAX_CHANNELS = 64


def _sphere_header(path: Path) -> tuple[dict[str, object], int]:
    """Parse a NIST SPHERE header; return its fields and the header size in bytes (AudioError naming the file and
    the field for anything malformed: a crafted header must not reach numpy)."""
    with open(path, "rb") as fh:
        first = fh.read(16)
        text = first[8:16].strip()
        if len(first) < 16 or not text.isdigit():
            raise AudioError(f"{path}: corrupt NIST SPHERE header (no header size)")
        size = int(text)
        if not 16 <= size <= min(SPHERE_MAX_HEADER, path.stat().st_size):
            raise AudioError(f"{path}: corrupt NIST SPHERE header (header size {size} bytes)")
        raw = first + fh.read(size - 16)
    fields: dict[str, object] = {}
    for line in raw[16:].decode("ascii", errors="replace").splitlines():
        parts = line.strip().split(None, 2)
        if not parts or parts[0] == "end_head":
            if parts:
                break
            continue
        if len(parts) != 3:
            continue
        key, kind, value = parts
        try:
            fields[key] = int(value) if kind == "-i" else float(value) if kind == "-r" else value
        except ValueError:
            raise AudioError(f"{path}: NIST SPHERE header field {key}: {value[:40]!r} is not a number") from None
    return fields, size


def _sphere_format(path: Path) -> tuple[int, int, int, int, str]:
    """``(sample rate, sample width in bytes, channels, header size, byte order)`` of a SPHERE file, checked."""
    fields, size = _sphere_header(path)
    coding = str(fields.get("sample_coding", "pcm"))
    if coding != "pcm":
        raise AudioError(f"{path}: NIST SPHERE sample coding '{coding}' is not supported (only uncompressed pcm)")
    if "sample_rate" not in fields:
        raise AudioError(f"{path}: NIST SPHERE header lacks sample_rate")
    rate, width, channels = (fields["sample_rate"], fields.get("sample_n_bytes", 2), fields.get("channel_count", 1))
    for name, value, lo, hi in (("sample_rate", rate, 1, 10**6), ("sample_n_bytes", width, 1, 4),
                                ("channel_count", channels, 1, SPHERE_MAX_CHANNELS)):
        if not isinstance(value, (int, float)) or value != int(value) or not lo <= value <= hi:
            raise AudioError(f"{path}: NIST SPHERE header field {name}: {value!r} is not an integer in {lo}..{hi}")
    if int(width) not in (1, 2, 4):
        raise AudioError(f"{path}: NIST SPHERE sample width {int(width)} bytes is not supported")
    return int(rate), int(width), int(channels), size, str(fields.get("sample_byte_format", "01"))


def _read_sphere(path: Path) -> tuple[np.ndarray, int]:
    rate, width, channels, size, order = _sphere_format(path)
    dtype = np.dtype({1: "i1", 2: "i2", 4: "i4"}[width]).newbyteorder("<" if order in ("01", "0123", "1") else ">")
    data = np.fromfile(path, dtype=dtype, offset=size)
    if channels > 1:
        data = data[: len(data) // channels * channels].reshape(-1, channels)
    audio = data.astype(np.float32) / float(2 ** (8 * width - 1))
    return audio, rate


def info(path: str | os.PathLike) -> AudioInfo:
    """Return sample rate, frame count and channel count from the header, without decoding the samples."""
    p = Path(path)
    _check_file(p)
    if _is_sphere(p):
        rate, width, channels, size, _ = _sphere_format(p)
        return AudioInfo(rate, (p.stat().st_size - size) // (width * channels), channels)
    try:
        i = sf.info(str(p))
    except (sf.LibsndfileError, RuntimeError) as exc:
        raise AudioError(f"{p}: not a readable audio file ({_reason(exc)})") from exc
    return AudioInfo(int(i.samplerate), int(i.frames), int(i.channels))


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
    return text.split(": ", 1)[-1] if text.startswith("Error opening") else text


def resample(audio: np.ndarray, orig_sr: int, target_sr: int) -> np.ndarray:
    """Resample along the last axis with soxr's very-high-quality polyphase filter."""
    if orig_sr <= 0 or target_sr <= 0:
        raise AudioError(f"invalid sample rate {orig_sr} -> {target_sr}")
    if orig_sr == target_sr:
        return audio.astype(np.float32, copy=False)
    import soxr

    x = np.asarray(audio, dtype=np.float32)
    if x.ndim == 1:
        return soxr.resample(x, orig_sr, target_sr, quality="VHQ").astype(np.float32)
    # soxr wants (frames, channels)
    return soxr.resample(x.T, orig_sr, target_sr, quality="VHQ").T.astype(np.float32).copy()


def load(
    path: str | os.PathLike,
    sample_rate: int | None = None,
    mono: bool = True,
) -> tuple[np.ndarray, int]:
    """Read an audio file as float32; return ``(audio, sample_rate)``.

    ``audio`` has shape ``(samples,)`` when ``mono`` else ``(channels, samples)``. See the module docstring for
    the policy on channels, rates and invalid content.
    """
    p = Path(path)
    _check_file(p)
    if _is_sphere(p):
        data, sr = _read_sphere(p)
    else:
        try:
            data, sr = sf.read(str(p), dtype="float32", always_2d=True)
        except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
            raise AudioError(f"{p}: not a readable audio file ({_reason(exc)})") from exc
    if data.ndim == 1:
        data = data[:, None]
    if data.shape[0] == 0:
        raise AudioError(f"{p}: contains no samples")
    if not np.isfinite(data).all():
        raise AudioError(f"{p}: contains NaN or Inf samples")
    audio = data.mean(axis=1) if mono else np.ascontiguousarray(data.T)
    audio = audio.astype(np.float32, copy=False)
    if sample_rate is not None and sample_rate != sr:
        audio = resample(audio, sr, sample_rate)
        sr = sample_rate
    return audio, int(sr)


def validate(audio: np.ndarray, name: str = "audio") -> np.ndarray:
    """Check an in-memory signal: non-empty, finite, 1-D or (channels, samples). Return it as float32."""
    x = np.asarray(audio)
    if x.ndim not in (1, 2):
        raise AudioError(f"{name}: expected shape (samples,) or (channels, samples), got {x.shape}")
    if x.size == 0:
        raise AudioError(f"{name}: contains no samples")
    if not np.isfinite(x).all():
        raise AudioError(f"{name}: contains NaN or Inf samples")
    return x.astype(np.float32, copy=False)


def save(
    path: str | os.PathLike,
    audio: np.ndarray,
    sample_rate: int,
    subtype: str | None = "PCM_16",
) -> Path:
    """Atomically write ``audio`` (``(samples,)`` or ``(channels, samples)``) to ``path``.

    The format follows the extension (``.wav``, ``.flac``, ...). Integer subtypes clip to [-1, 1].
    """
    p = Path(path)
    x = validate(audio, name=str(p))
    if sample_rate <= 0:
        raise AudioError(f"{p}: invalid sample rate {sample_rate}")
    if subtype is None or subtype.startswith("PCM") or subtype in ("ULAW", "ALAW"):
        x = np.clip(x, -1.0, 1.0)
    data = x.T if x.ndim == 2 else x
    fmt = {".wav": "WAV", ".flac": "FLAC", ".ogg": "OGG", ".aiff": "AIFF", ".aif": "AIFF"}.get(p.suffix.lower())
    if fmt is None:
        raise AudioError(f"{p}: unsupported output extension '{p.suffix}' (use .wav or .flac)")
    with atomic_path(p) as tmp:
        try:
            sf.write(str(tmp), data, sample_rate, subtype=subtype, format=fmt)
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            if disk_full(tmp):  # libsndfile reports a full disk as "System error."
                raise AudioError(f"{p}: no space left on device") from exc
            raise AudioError(f"{p}: cannot write ({_reason(exc)})") from exc
    return p


def is_audio_path(path: str | os.PathLike) -> bool:
    """True when the extension is one we read."""
    return Path(path).suffix.lower() in AUDIO_EXTENSIONS


def find_audio(root: str | os.PathLike) -> list[Path]:
    """All audio files under ``root`` (recursive, sorted); hidden files and folders skipped."""
    r = Path(root)
    out = [
        p for p in r.rglob("*")
        if p.is_file() and is_audio_path(p) and not any(part.startswith(".") for part in p.relative_to(r).parts)
    ]
    return sorted(out)
