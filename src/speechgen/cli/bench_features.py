"""``speechgen bench features``: batched log-mel speed (the features every model and the judge compute), against
librosa's batched call when librosa is installed (the ``dev`` extra).

``--clips`` clips of ``--seconds`` of noise (float32, 16 kHz) → 80-band log-mel (n_fft 1024, hop 256, 0–8 kHz; the
corpus feature of docs/data.md). Methods: ``speechgen`` (:class:`~speechgen.audio.spectral.LogMelSpectrogram`, which
runs a large batch a few clips at a time and takes the magnitude from the squared parts), ``speechgen before #25``
(the whole batch in one STFT, complex ``abs``, one matrix product per clip: what it did before issue 25),
``speechgen, per clip`` (a Python loop) and ``librosa`` (``feature.melspectrogram`` on the batch,
``pad_mode="reflect"`` as ours, then the same log). Every (method, thread count) is timed ``--repeats`` times,
methods interleaved, after one warm-up, torch and (with threadpoolctl) numpy's BLAS held to that many threads; the
median is reported with the slowest–fastest spread. The process's
allocator is tuned as every ``speechgen`` command tunes it (:mod:`speechgen.allocator`); run the command with
``SPEECHGEN_MALLOC=default`` to measure glibc's defaults.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from speechgen.atomic import write_text
from speechgen.cli.common import console, thread_count
from speechgen.errors import ConfigError

SAMPLE_RATE = 16000
MEL = {"n_fft": 1024, "hop_length": 256, "n_mels": 80, "fmax": 8000.0}
#: seconds of rest before each timed call: the thread pool of the previous call (numpy's OpenBLAS under librosa)
#: spins for 0.1-0.2 s after it returns and takes a core from the next call (measured: our two-thread time right
#: after a librosa call was 75-121 ms, 65-72 ms after 0.05 s of rest, 35 ms after 0.2 s or more)
SETTLE = 0.25
BEFORE = "speechgen before #25"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("features", help="batched log-mel speed, ours vs librosa (median, per thread count)",
                       description=__doc__)
    p.add_argument("--clips", type=int, default=256, help="clips in the batch (default 256)")
    p.add_argument("--seconds", type=float, default=1.0, help="seconds per clip (default 1.0)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], metavar="N",
                   help="torch thread counts to time (default 1 2)")
    p.add_argument("--repeats", type=int, default=7, help="timed calls per method and thread count (default 7)")
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="write the rows as JSON to OUT")
    p.set_defaults(func=_bench)


def methods(x: np.ndarray) -> dict[str, Callable[[], Any]]:
    """The timed calls on clips ``x`` ``[n, samples]``; librosa's only when it imports."""
    import torch

    from speechgen.audio import spectral

    op = spectral.LogMelSpectrogram(SAMPLE_RATE, MEL["n_fft"], MEL["hop_length"], MEL["n_fft"], MEL["n_mels"],
                                    0.0, MEL["fmax"])
    xt = torch.from_numpy(x)

    def before() -> torch.Tensor:  # what LogMelSpectrogram computed until issue 25
        return torch.log(torch.clamp(torch.matmul(op.filterbank.to(xt), op.stft(xt).abs()), min=op.eps))

    calls: dict[str, Callable[[], Any]] = {"speechgen": lambda: op(xt), BEFORE: before,
                                           "speechgen, per clip": lambda: [op(clip) for clip in xt]}
    try:
        import librosa
    except ImportError:
        return calls

    def with_librosa() -> np.ndarray:
        mel = librosa.feature.melspectrogram(y=x, sr=SAMPLE_RATE, n_fft=MEL["n_fft"], hop_length=MEL["hop_length"],
                                             n_mels=MEL["n_mels"], fmax=MEL["fmax"], power=1.0, pad_mode="reflect")
        return np.log(np.maximum(mel, op.eps))

    calls["librosa"] = with_librosa
    return calls


def peak_mb() -> float:
    """This process's peak resident memory in MB (Linux reports kilobytes)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_bench(clips: int = 256, seconds: float = 1.0, threads: list[int] | None = None,
              repeats: int = 7) -> list[dict[str, Any]]:
    """Time every method at every thread count; return one row per pair (see the module docstring)."""
    import torch

    threads = [1, 2] if threads is None else list(threads)
    if clips <= 0:
        raise ConfigError(f"--clips: must be > 0, got {clips}")
    if not seconds > 0 or not math.isfinite(seconds) or round(seconds * SAMPLE_RATE) < MEL["n_fft"] // 2 + 1:
        raise ConfigError(f"--seconds: need at least {(MEL['n_fft'] // 2 + 1) / SAMPLE_RATE:.3f} s, got {seconds}")
    if not threads or any(t <= 0 for t in threads):
        raise ConfigError(f"--threads: need thread counts > 0, got {threads}")
    if repeats <= 0:
        raise ConfigError(f"--repeats: must be > 0, got {repeats}")
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal((clips, round(seconds * SAMPLE_RATE)))).astype(np.float32)
    calls = methods(x)
    taken: dict[tuple[str, int], list[float]] = {}
    with torch.inference_mode():
        for n in threads:
            with thread_count(n):
                for call in calls.values():
                    call()
                for _ in range(repeats):
                    for name, call in calls.items():
                        time.sleep(SETTLE)
                        start = time.perf_counter()
                        call()
                        taken.setdefault((name, n), []).append(time.perf_counter() - start)
    rows = []
    for n in threads:
        reference = statistics.median(taken[("librosa", n)]) if "librosa" in calls else None
        for name in calls:
            times = sorted(taken[(name, n)])
            median = statistics.median(times)
            rows.append({"method": name, "threads": n, "ms": 1000 * median, "ms_min": 1000 * times[0],
                         "ms_max": 1000 * times[-1], "vs_librosa": None if reference is None else reference / median,
                         "clips": clips, "seconds": seconds, "repeats": repeats, "torch": torch.__version__,
                         "machine": platform.machine()})
    return rows


def _bench(args: argparse.Namespace) -> int:
    from rich.table import Table

    rows = run_bench(args.clips, args.seconds, args.threads, args.repeats)
    con = console(args)
    table = Table(title=f"Log-mel of {args.clips} clips of {args.seconds:g} s (median of {args.repeats}; "
                        "speed-up: librosa's time / this time)")
    for col in ("method", "threads", "ms", "slowest-fastest", "speed-up vs librosa"):
        table.add_column(col, justify="left" if col == "method" else "right")
    for r in rows:
        table.add_row(r["method"], str(r["threads"]), f"{r['ms']:.1f}", f"{r['ms_max']:.1f}-{r['ms_min']:.1f}",
                      "-" if r["vs_librosa"] is None else f"{r['vs_librosa']:.2f}x")
    con.print(table)
    con.print(f"peak memory of this process: {peak_mb():.0f} MB")
    if not any(r["method"] == "librosa" for r in rows):
        con.print("librosa is not installed: no reference rows (pip install 'speechgen[dev]')")
    if args.json is not None:
        write_text(args.json, json.dumps(rows, indent=2) + "\n")
        con.print(f"wrote {args.json}")
    return 0
