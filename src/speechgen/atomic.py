"""Atomic file writes: write to a temporary file beside the target, then rename.

A crash, a full disk or an unwritable folder never leaves a half-written target behind.

Permissions: what is written here follows the process umask (and a folder's default ACL) exactly like a plain
``open(path, "w")`` or ``mkdir``: temporary files and folders are created with modes 0666 / 0777 and the kernel
applies the umask, unlike ``tempfile.mkstemp`` / ``mkdtemp`` (always 0600 / 0700). The umask is never read or
changed, so no other thread ever creates a file under a wrong umask.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from speechgen.errors import DataError


def describe_write_error(exc: OSError, path: Path) -> str:
    """One line for a failed write of ``path``: "no space left on device", "not writable" or the system's reason."""
    if exc.errno == errno.ENOSPC or (exc.errno is None and disk_full(path)):
        return f"{path}: no space left on device"
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"{path}: output location is not writable"
    return f"{path}: cannot write ({exc.strerror or exc})"


def disk_full(path: str | os.PathLike) -> bool:
    """Whether the file system that holds ``path`` (or its nearest existing ancestor) has no block left for this
    user: a writer that loses errno (libsndfile's "System error.") failed on a full disk."""
    p = Path(path)
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        st = os.statvfs(p)
    except OSError:
        return False
    return st.f_bavail == 0


def ensure_dir(path: str | os.PathLike) -> Path:
    """Create ``path`` (and parents) if needed; raise :class:`DataError` with one line if impossible."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except FileExistsError as exc:
        raise DataError(f"{p}: exists and is not a directory") from exc
    except OSError as exc:
        raise DataError(describe_write_error(exc, p)) from exc
    if not os.access(p, os.W_OK):
        raise DataError(f"{p}: output location is not writable")
    return p


def _create_unique(parent: Path, prefix: str, suffix: str, make: Callable[[Path], None]) -> Path:
    for _ in range(100):
        path = parent / f"{prefix}{secrets.token_hex(4)}{suffix}"
        try:
            make(path)
        except FileExistsError:
            continue
        return path
    raise FileExistsError(errno.EEXIST, "no unused temporary name", str(parent))


def _new_file(path: Path) -> None:
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666))


def temp_file(parent: str | os.PathLike, prefix: str = ".", suffix: str = ".part") -> Path:
    """Create a new empty file ``parent/PREFIX<random>SUFFIX`` with the permissions ``open(p, "w")`` would give
    (0666 less the umask), unlike ``tempfile.mkstemp``'s 0600. Raises OSError."""
    return _create_unique(Path(parent), prefix, suffix, _new_file)


def temp_dir(parent: str | os.PathLike, prefix: str = ".", suffix: str = ".part") -> Path:
    """Create a new empty folder ``parent/PREFIX<random>SUFFIX`` with the permissions ``mkdir`` would give (0777
    less the umask), unlike ``tempfile.mkdtemp``'s 0700. Raises OSError."""
    return _create_unique(Path(parent), prefix, suffix, lambda p: os.mkdir(p, 0o777))


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path in the target's folder; on success rename it onto ``path``.

    On any exception the temporary file is removed and the target is left untouched. The target gets the
    permissions a plain ``open(path, "w")`` would give it, even if the writer replaced the temporary file with one
    of its own (safetensors writes through ``mkstemp``).
    ``suffix`` defaults to the target's suffix so that format sniffing by extension keeps working.
    """
    target = Path(path)
    ensure_dir(target.parent if str(target.parent) else Path("."))
    try:  # the final file gets the permissions a plain open() would give it (module docstring)
        tmp = temp_file(target.parent, prefix=f".{target.name}.",
                        suffix=(target.suffix if suffix is None else suffix) + ".part")
        mode = tmp.stat().st_mode & 0o7777
    except OSError as exc:
        raise DataError(describe_write_error(exc, target)) from exc
    try:
        yield tmp
        if tmp.stat().st_mode & 0o7777 != mode:  # a writer renamed its own mkstemp file (0600) onto tmp
            os.chmod(tmp, mode)
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise DataError(describe_write_error(exc, target)) from exc
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


@contextlib.contextmanager
def staged_dir(target: str | os.PathLike, stale: Sequence[str] = (), replace: bool = False) -> Iterator[Path]:
    """Yield a new temporary folder beside ``target`` for a batch of outputs. On success its entries move into
    ``target`` (created if needed: the folder itself is renamed into place; entries of the same name are replaced,
    other files of ``target`` stay) after the files ``stale`` (paths relative to ``target``: the outputs of an
    earlier batch that this one replaces) are removed; on any error it is removed, so a batch that fails half-way
    (a bad input, a full disk, Ctrl+C) leaves ``target`` as it was instead of some files without their manifest.

    replace: the new folder replaces ``target`` whole (a checkpoint): the old one is renamed to
    ``.NAME.old-PID`` first and removed after, so a kill in between leaves one complete folder to restore.
    """
    target = Path(target)
    ensure_dir(target.parent if str(target.parent) else Path("."))
    try:
        tmp = temp_dir(target.parent, prefix=f".{target.name}.", suffix=".part")
    except OSError as exc:
        raise DataError(describe_write_error(exc, target)) from exc
    try:
        yield tmp
        if replace and target.exists():
            old = target.with_name(f".{target.name}.old-{os.getpid()}")
            os.replace(target, old)
            os.replace(tmp, target)
            _remove_tree(old)
        elif not target.exists():
            os.replace(tmp, target)
        else:
            for rel in stale:
                old = target / rel
                if old.is_file() and old.resolve().is_relative_to(target.resolve()):
                    old.unlink()
            _merge(tmp, target)
            os.rmdir(tmp)
    except OSError as exc:
        _remove_tree(tmp)
        raise DataError(describe_write_error(exc, target)) from exc
    except BaseException:
        _remove_tree(tmp)
        raise


def _merge(src: Path, dst: Path) -> None:
    if not dst.is_dir():
        raise DataError(f"{dst}: exists and is not a directory")
    for entry in src.iterdir():
        into = dst / entry.name
        if entry.is_dir() and into.is_dir():
            _merge(entry, into)
            os.rmdir(entry)
        else:
            if into.is_dir():
                _remove_tree(into)
            os.replace(entry, into)


def _remove_tree(path: Path) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
