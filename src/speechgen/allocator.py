"""glibc's allocator, tuned once at start-up for many large, short-lived tensors.

glibc serves a block of 128 KiB or more by ``mmap`` and returns it to the kernel when freed, and gives back free
memory at the top of its heap above 128 KiB; both thresholds adapt only slowly. A batched spectrogram or a vocoder
call allocates and frees tens of megabytes per step, so every call faults its pages in again: 256 one-second log-mel
spectra (the code before issue 25) took 176 ms on one thread with the defaults and 71 ms with both thresholds at
256 MiB (docs/performance.md, ``speechgen bench features``). :func:`tune` raises them; the console script calls it
first. Nothing happens on other C libraries, when the user set glibc's own ``MALLOC_*`` variables, or with
``SPEECHGEN_MALLOC=default`` (to measure the difference, or to keep a long-lived process's memory lean).
"""

from __future__ import annotations

import ctypes
import os
import platform

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # mallopt parameter numbers (malloc.h)
THRESHOLD = 256 << 20  # bytes: blocks below come from the heap; free memory above stays there for the next call
USER_SETTINGS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "GLIBC_TUNABLES")


def tune(threshold: int = THRESHOLD) -> bool:
    """Raise glibc's mmap and trim thresholds to ``threshold`` bytes; True when both were set. False (and nothing
    changed) off glibc, when the environment asks otherwise (see the module docstring), or when ``mallopt``
    refuses."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return False
    if any(name in os.environ for name in USER_SETTINGS) or os.environ.get("SPEECHGEN_MALLOC") == "default":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, threshold)) and bool(mallopt(M_TRIM_THRESHOLD, threshold))
