"""``speechgen bench NAME``: speed benchmarks (never timed unit tests). Each benchmark lives in its own module
``speechgen.cli.bench_<name>`` exposing ``register(subparsers)``; :data:`BENCHES` lists them explicitly."""

from __future__ import annotations

import argparse

from speechgen.cli import bench_features, bench_vocoder, bench_wavenet

#: benchmark modules, in the order shown by --help (each adds one sub-command)
BENCHES: tuple = (bench_wavenet, bench_vocoder, bench_features)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("bench", help="speed benchmarks (parameters, × real time, samples/s)",
                       description="Measure speed on this machine; results print as a table and go to --json.")
    inner = p.add_subparsers(dest="bench", metavar="BENCHMARK")
    inner.required = True
    for module in BENCHES:
        module.register(inner)
