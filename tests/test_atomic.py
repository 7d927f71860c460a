"""Atomic writes leave either the old file or the new one, never a partial one."""

import errno
import os

import pytest

from speechgen import atomic
from speechgen.errors import DataError


def test_failure_keeps_old_content_and_no_temp(tmp_path):
    target = tmp_path / "f.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic.atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.txt"]


def test_write_text_creates_parents(tmp_path):
    atomic.write_text(tmp_path / "a" / "b" / "c.txt", "hi")
    assert (tmp_path / "a" / "b" / "c.txt").read_text() == "hi"


@pytest.mark.skipif(os.geteuid() == 0, reason="root ignores directory permissions")
def test_unwritable_dir_non_root(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    with pytest.raises(DataError, match="not writable"):
        atomic.write_text(ro / "x.txt", "hi")


def test_out_path_is_a_file(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(DataError, match="not a directory"):
        atomic.ensure_dir(tmp_path / "file")


def test_disk_full_is_one_line(tmp_path, monkeypatch):
    def full(*_a, **_k):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "replace", full)
    with pytest.raises(DataError, match="no space left on device"):
        atomic.write_text(tmp_path / "x.txt", "hi")
    assert list(tmp_path.iterdir()) == []


def test_written_file_follows_umask(tmp_path):
    old = os.umask(0o022)
    try:
        atomic.write_text(tmp_path / "p.txt", "hi")
    finally:
        os.umask(old)
    assert (tmp_path / "p.txt").stat().st_mode & 0o777 == 0o644
