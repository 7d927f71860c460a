"""Benchmark the spoken-digit corpus builder: build about N clips into a temporary folder and print clips/s.

    .venv/bin/python bench/corpus_speed.py [--clips 640] [--workers 2] [--engines espeak-ng flite festival]
                                            [--per-engine]

Uses every installed voice (the same engine mix as the default corpus) with enough prosody variants for
``--clips``; the time covers planning, synthesis, processing and writing the manifest (not interpreter start-up).
Timings on shared machines vary with load, so the 1-minute load average is printed beside the result.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import tempfile
import time
from pathlib import Path

from speechgen.data.corpus import build_digits
from speechgen.data.corpus.digits import resolve_engines, select_voices


def run(clips: int, workers: int, engines: list[str] | None, seed: int) -> tuple[int, float]:
    """Build about ``clips`` clips; return (clips built, seconds)."""
    found, _ = resolve_engines(engines)
    n_voices = len(select_voices(found, None))
    variants = max(1, math.ceil(clips / (10 * n_voices)))
    with tempfile.TemporaryDirectory(prefix="corpus-bench-") as tmp:
        t0 = time.perf_counter()
        manifest = build_digits(Path(tmp), variants=variants, strings=0, engines=engines, voices=None,
                                workers=workers, seed=seed, progress=False, log=lambda _: None)
        return len(manifest), time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clips", type=int, default=640, help="about this many clips (default 640)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    p.add_argument("--engines", nargs="+", default=None)
    p.add_argument("--per-engine", action="store_true", help="also time each engine on its own")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args(argv)

    groups: list[list[str] | None] = [args.engines]
    if args.per_engine:
        found, _ = resolve_engines(args.engines)
        groups += [[e] for e in found]
    for engines in groups:
        n, secs = run(args.clips, args.workers, engines, args.seed)
        load = os.getloadavg()[0]
        name = "all engines" if engines is None else " ".join(engines)
        print(f"{name}: {n} clips in {secs:.1f} s = {n / secs:.1f} clips/s "
              f"({args.workers} workers, {os.cpu_count()} cores, load {load:.2f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
