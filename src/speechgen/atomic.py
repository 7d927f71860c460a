"""Atomic file writes: write to a temporary file beside the target, then rename.

A crash, a full disk or an unwritable folder never leaves a half-written target behind.
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from speechgen.errors import DataError


def _describe(exc: OSError, path: Path) -> str:
    if exc.errno == errno.ENOSPC:
        return f"{path}: no space left on device"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{path}: output location is not writable"
    return f"{path}: cannot write ({exc.strerror or exc})"


def ensure_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (and parents) if needed; raise :class:`DataError` with one line if impossible."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise DataError(f"{p}: exists and is not a directory") from exc
    except OSError as exc:
        raise DataError(_describe(exc, p)) from exc
    if not os.access(p, os.W_OK):
        raise DataError(f"{p}: output location is not writable")
    return p


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it onto ``path``.

    On any exception the temporary file is removed and the target is left untouched.
    ``suffix`` defaults to the target's suffix so that format sniffing by extension keeps working.
    """
    target = Path(path)
    ensure_dir(target.parent if str(target.parent) else Path("."))
    try:
        fd, tmp_name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=(target.suffix if suffix is None else suffix) + ".part",
            dir=target.parent,
        )
    except OSError as exc:
        raise DataError(_describe(exc, target)) from exc
    os.close(fd)
    tmp = Path(tmp_name)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the final file the usual permissions
    try:
        yield tmp
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(_describe(exc, target)) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(path: str | os.PathLike, text: str) -> Path:
    """Atomically write ``text`` (UTF-8) to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Atomically write ``data`` to ``path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)
    return Path(path)
