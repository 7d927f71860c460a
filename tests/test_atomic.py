"""Atomic writes leave either the old file or the new one, never a partial one."""

import errno
import json
import os
import subprocess
import sys

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


_UMASK_SCRIPT = """
import json, os, sys, tempfile
from pathlib import Path
from speechgen import atomic

root, modes = Path(sys.argv[1]), {}
for umask in (0o022, 0o077, 0o002):
    os.umask(umask)
    d = root / f"{umask:03o}"
    files = [atomic.write_text(d / "sub" / "t.txt", "hi"), atomic.write_bytes(d / "b.bin", b"x")]
    atomic.write_text(d / "sub" / "t.txt", "again")  # replacing a file
    with atomic.atomic_path(d / "p.wav") as tmp:
        tmp.write_bytes(b"RIFF")
    files.append(d / "p.wav")
    with atomic.atomic_path(d / "r.bin") as tmp:  # a writer that renames its own mkstemp file (0600) onto tmp
        fd, name = tempfile.mkstemp(dir=d)
        os.close(fd)
        os.replace(name, tmp)
    files.append(d / "r.bin")
    if len(sys.argv) > 2:  # the new helpers
        files += [atomic.temp_file(d), atomic.temp_dir(d)]
    for p in (atomic.ensure_dir(d / "made"), d, d / "sub", *files):
        modes[str(p.relative_to(root))] = (p.is_dir(), p.stat().st_mode & 0o777, os.umask(umask))
print(json.dumps(modes))
"""


def test_written_files_and_folders_follow_the_umask(tmp_path):
    """Like a plain open()/mkdir: 0666/0777 less the umask (not mkstemp's 0600, even when the writer renamed its
    own temporary file onto ours), for 022, 077 and 002. In a subprocess, so that the tests' umask is untouched."""
    _check_umask_modes(tmp_path, 3 * 7)


def test_temp_files_and_folders_follow_the_umask(tmp_path):
    """temp_file / temp_dir, the replacements of mkstemp / mkdtemp, too."""
    _check_umask_modes(tmp_path, 3 * 9, "with-temp-helpers")


def _check_umask_modes(tmp_path, count, *extra):
    res = subprocess.run([sys.executable, "-c", _UMASK_SCRIPT, str(tmp_path), *extra], check=False,
                         capture_output=True, text=True, timeout=60)
    assert res.returncode == 0, res.stderr
    modes = json.loads(res.stdout)
    assert len(modes) == count
    for name, (is_dir, mode, umask) in modes.items():
        want = (0o777 if is_dir else 0o666) & ~umask
        assert mode == want, f"{name}: {mode:o}, want {want:o} under umask {umask:03o}"


def test_writing_never_changes_the_process_umask(tmp_path, monkeypatch):
    """os.umask is process-wide: setting it even for a moment (to read it) gives another thread's new files the
    wrong permissions. Writes must not call it at all."""
    calls = []
    real = os.umask

    def spy(mask):
        calls.append(mask)
        return real(mask)

    monkeypatch.setattr(os, "umask", spy)
    atomic.write_text(tmp_path / "a.txt", "hi")
    atomic.write_bytes(tmp_path / "b.bin", b"x")
    with atomic.atomic_path(tmp_path / "c.wav") as tmp:
        tmp.write_bytes(b"RIFF")
    assert calls == []


def test_staged_dir_renames_a_new_folder_into_place(tmp_path):
    from speechgen.atomic import staged_dir

    target = tmp_path / "out"
    with staged_dir(target) as tmp:
        (tmp / "a.txt").write_text("a")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.txt").write_text("b")
        assert not target.exists()  # nothing visible before the batch ends
    assert (target / "a.txt").read_text() == "a" and (target / "sub" / "b.txt").read_text() == "b"
    assert [p.name for p in tmp_path.iterdir()] == ["out"]  # no temporary folder left


def test_staged_dir_merges_into_an_existing_folder_and_keeps_other_files(tmp_path):
    from speechgen.atomic import staged_dir

    target = tmp_path / "out"
    (target / "sub").mkdir(parents=True)
    (target / "mine.txt").write_text("keep")
    (target / "a.txt").write_text("old")
    (target / "sub" / "old.txt").write_text("old")
    with staged_dir(target) as tmp:
        (tmp / "a.txt").write_text("new")
        (tmp / "sub").mkdir()
        (tmp / "sub" / "b.txt").write_text("b")
    assert (target / "mine.txt").read_text() == "keep" and (target / "a.txt").read_text() == "new"
    assert sorted(p.name for p in (target / "sub").iterdir()) == ["b.txt", "old.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_staged_dir_leaves_the_target_as_it_was_on_failure(tmp_path):
    from speechgen.atomic import staged_dir

    target = tmp_path / "out"
    target.mkdir()
    (target / "mine.txt").write_text("keep")
    with pytest.raises(KeyboardInterrupt):
        with staged_dir(target) as tmp:
            (tmp / "half.wav").write_bytes(b"x")
            raise KeyboardInterrupt
    assert sorted(p.name for p in target.iterdir()) == ["mine.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
    with pytest.raises(DataError, match="no space left on device"):
        with staged_dir(tmp_path / "new") as tmp:
            raise OSError(28, "No space left on device")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]
