import ctypes
import subprocess
import sys

import pytest

from speechgen import allocator


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc only")
def test_tune_raises_both_thresholds_on_glibc(monkeypatch):
    import platform

    if platform.libc_ver()[0] != "glibc":
        pytest.skip("not glibc")
    for name in allocator.USER_SETTINGS + ("SPEECHGEN_MALLOC",):
        monkeypatch.delenv(name, raising=False)
    # in a fresh process: the thresholds are process-wide
    code = "from speechgen import allocator; print(allocator.tune())"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "True"


@pytest.mark.parametrize("name, value", [("MALLOC_MMAP_THRESHOLD_", "1048576"), ("SPEECHGEN_MALLOC", "default")])
def test_tune_leaves_a_users_own_settings_alone(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    called = []
    monkeypatch.setattr(ctypes, "CDLL", lambda *a: called.append(a))
    assert allocator.tune() is False and not called


def test_tune_is_a_no_op_off_glibc(monkeypatch):
    monkeypatch.setattr(allocator.platform, "libc_ver", lambda: ("musl", "1.2"))
    assert allocator.tune() is False
