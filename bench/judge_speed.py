"""Judge speed: embed N one-second clips with the shipped classifier and score them against the shipped
reference statistics (IS, FID, mIS, AM, NDB), on the CPU threads given (default 2).

    python bench/judge_speed.py [--n 10000] [--threads 2] [--files 1000] [--cli]

``--files K`` also times reading K clips from WAV files (written to a temporary folder first). ``--cli`` times what a
user gets: ``speechgen eval FOLDER`` on N WAV files as a new process, start-up, reading and the report included.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from speechgen.audio import io as audio_io
from speechgen.evaluation.judge import Judge, shipped_reference


def clips(n: int, seed: int = 0) -> np.ndarray:
    """Tones with random pitch, onset and noise: cheap stand-ins for generated digits."""
    rng = np.random.default_rng(seed)
    t = np.arange(16000, dtype=np.float32) / 16000
    f0 = rng.uniform(100, 300, (n, 1)).astype(np.float32)
    x = np.sin(2 * np.pi * f0 * t) * (np.abs(t - rng.uniform(0.3, 0.7, (n, 1))) < 0.25)
    return (0.5 * x + 0.01 * rng.standard_normal((n, 16000))).astype(np.float32)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--n", type=int, default=10_000)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--batch-size", type=int, default=256)
    ap.add_argument("--files", type=int, default=1000)
    ap.add_argument("--cli", action="store_true", help="also time `speechgen eval` on --n WAV files, end to end")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    judge = Judge(batch_size=args.batch_size)
    ref = shipped_reference(judge)
    x = clips(args.n)
    judge.embed(x[:256])  # warm-up
    t0 = time.perf_counter()
    probs, feats = judge.embed(x)
    t1 = time.perf_counter()
    ref.score(probs, feats)
    t2 = time.perf_counter()
    print(f"judge {judge.version}, {args.threads} threads, batch {args.batch_size}")
    print(f"embed {args.n} clips: {t1 - t0:.1f} s ({args.n / (t1 - t0):.0f} clips/s); metrics {t2 - t1:.1f} s; "
          f"total {t2 - t0:.1f} s")
    if args.files:
        with tempfile.TemporaryDirectory() as tmp:
            paths = [Path(tmp) / f"{i:05d}.wav" for i in range(args.files)]
            for p, c in zip(paths, x):
                audio_io.save(p, c, 16000)
            t3 = time.perf_counter()
            judge.embed(paths)
            dt = time.perf_counter() - t3
        print(f"from {args.files} WAV files: {dt:.1f} s ({args.files / dt:.0f} clips/s, "
              f"{args.n / (args.files / dt):.0f} s per {args.n})")
    if args.cli:
        cli_time(x, args.threads)


def cli_time(x: np.ndarray, threads: int) -> None:
    """``speechgen --threads T --quiet eval FOLDER`` on the clips as WAV files, timed from outside the process;
    the start-up alone is timed with ``speechgen --version``."""
    exe = Path(sys.executable).with_name("speechgen")
    with tempfile.TemporaryDirectory() as tmp:
        for i, c in enumerate(x):
            audio_io.save(Path(tmp) / f"{i:05d}.wav", c, 16000)
        t0 = time.perf_counter()
        subprocess.run([str(exe), "--version"], check=True, capture_output=True)
        t1 = time.perf_counter()
        subprocess.run([str(exe), "--threads", str(threads), "--quiet", "eval", tmp, "--json",
                        str(Path(tmp) / "scores.json")], check=True, capture_output=True)
        t2 = time.perf_counter()
    print(f"speechgen eval on {len(x)} WAV files, end to end: {t2 - t1:.1f} s (start-up alone {t1 - t0:.1f} s; "
          f"{1000 * (t2 - t1 - (t1 - t0)) / len(x):.1f} ms per clip after it)")


if __name__ == "__main__":
    main()
