"""``speechgen bench wavenet``: naive vs cached (Fast WaveNet) generation speed of a WaveNet, and whether both give
the same samples for the same seed.

The model has random weights (speed does not depend on training). Cached generation is timed over ``--seconds`` of
audio from scratch. Naive generation re-runs the network over the whole receptive field for every sample, so its
cost per sample is constant once that field is full: it is timed over ``--naive-samples`` samples that follow a
primer of one receptive field of random classes, and extrapolated per sample to ``--seconds`` (said in the output).
``identical`` compares the two methods with the same seed on that stretch (after the same primer) and on a short
stretch from scratch. Both run in ``--dtype`` (float64 by default, the models' generation dtype). Cached generation
always runs its tiny per-step operations on one thread; naive generation runs on ``--threads``, one by default, so
the speed-up compares like with like (with ``--threads 2`` the naive side gets a second thread the cached side
does not use, and the row says so). ``--batch`` adds cached rows that generate that many clips at once, as
``speechgen sample`` does (256 per call): the per-step work is a few small matrix products whose cost is mostly
fixed overhead, so a batch multiplies the audio made per second of compute.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from speechgen.atomic import write_text
from speechgen.cli.common import add_seed, console
from speechgen.errors import ConfigError

#: model configurations: "paper" is the stated paper-size default of ``WaveNet`` (3 × 10 layers, dilations
#: 1 … 512, 64 residual / 64 gated / 256 skip channels); "tiny" is the test recipe's
CONFIGS: dict[str, dict[str, Any]] = {
    "paper": {},
    "tiny": {"layers": 4, "stacks": 2, "residual_channels": 16, "dilation_channels": 16, "skip_channels": 32,
             "head_channels": 32},
}


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("wavenet", help="WaveNet naive vs cached generation (samples/s, speed-up, identical?)",
                       description=__doc__)
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="write the results as JSON to OUT")
    p.add_argument("--seconds", type=float, default=1.0, help="seconds of audio for the cached run (default 1.0)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch intra-op threads of naive generation (default 1, like the cached side)")
    p.add_argument("--config", choices=sorted(CONFIGS), default="paper", help="model size (default paper)")
    p.add_argument("--naive-samples", type=int, default=24,
                   help="samples timed for naive generation after a full receptive field (default 24)")
    p.add_argument("--dtype", choices=("float64", "float32"), default="float64", help="arithmetic (default float64)")
    p.add_argument("--batch", type=int, nargs="+", default=[16], metavar="N",
                   help="also time cached generation of N clips at once (default 16; 256 is what speechgen sample "
                   "uses, about 5 minutes per repeat at --seconds 1)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs per row (default 3; the median is reported)")
    add_seed(p)
    p.set_defaults(func=_bench)


def run_bench(config: str = "paper", seconds: float = 1.0, naive_samples: int = 24, dtype: str = "float64",
              seed: int = 0, threads: int | None = 1, batches: list[int] | None = None, repeats: int = 3
              ) -> dict[str, Any]:
    """Measure and return the result mapping (see the module docstring)."""
    import torch

    from speechgen.models.wavenet import WaveNet

    if config not in CONFIGS:
        raise ConfigError(f"--config: expected one of {', '.join(sorted(CONFIGS))}, got {config!r}")
    if not seconds > 0:
        raise ConfigError(f"--seconds: must be > 0, got {seconds}")
    if naive_samples <= 0:
        raise ConfigError(f"--naive-samples: must be > 0, got {naive_samples}")
    if repeats <= 0:
        raise ConfigError(f"--repeats: must be > 0, got {repeats}")
    batches = list(batches or [])
    if any(b <= 0 for b in batches):
        raise ConfigError(f"--batch: need clip counts > 0, got {batches}")
    if threads is not None:
        if threads <= 0:
            raise ConfigError(f"--threads: must be > 0, got {threads}")
        torch.set_num_threads(threads)
    torch.manual_seed(seed)
    model = WaveNet(**CONFIGS[config]).eval()
    tdtype = torch.float64 if dtype == "float64" else torch.float32
    rf = model.receptive_field
    length = max(1, round(seconds * model.sample_rate))

    def gen(method: str, n_samples: int, prefix: torch.Tensor | None = None, n: int = 1, times: int = 1
            ) -> tuple[torch.Tensor, float]:
        """The classes and the median seconds of ``times`` runs (the same seed: the same classes each time)."""
        taken = []
        for _ in range(times):
            g = torch.Generator().manual_seed(seed)
            start = time.perf_counter()
            out = model.generate(n, generator=g, length=n_samples, method=method, prefix=prefix,  # type: ignore[arg-type]
                                 dtype=tdtype)
            taken.append(time.perf_counter() - start)
        return out, statistics.median(taken)

    primer = torch.randint(0, model.n_quant, (1, rf), generator=torch.Generator().manual_seed(seed + 1))
    cached_1s, cached_s = gen("cached", length, times=repeats)
    naive, naive_s = gen("naive", naive_samples, primer, times=repeats)
    cached_same, _ = gen("cached", naive_samples, primer)
    short = min(naive_samples, 32)
    naive0, _ = gen("naive", short)
    identical = bool(torch.equal(naive, cached_same) and torch.equal(naive0, cached_1s[:, :short]))
    naive_sps = naive_samples / naive_s
    cached_sps = length / cached_s
    batched = []
    for b in batches:
        took = gen("cached", length, n=b, times=repeats)[1]
        batched.append({"batch": b, "seconds": took, "audio_seconds_per_s": b * length / model.sample_rate / took})
    return {
        "model": "wavenet", "config_name": config, "config": _kwargs(model),
        "parameters": int(sum(p.numel() for p in model.parameters())), "receptive_field": rf,
        "sample_rate": model.sample_rate, "seconds": seconds, "samples": length, "dtype": dtype,
        "threads": torch.get_num_threads(), "cached_threads": 1, "seed": seed, "repeats": repeats,
        "naive_samples_per_s": naive_sps, "naive_samples_timed": naive_samples,
        "naive_after_full_receptive_field": True, "naive_extrapolated": True,
        "naive_seconds_estimate": length / naive_sps,
        "cached_samples_per_s": cached_sps, "cached_seconds": cached_s,
        "speedup": cached_sps / naive_sps, "identical": identical, "batched": batched,
        "identical_checked_samples": naive_samples + short,
        "torch": torch.__version__, "machine": platform.machine(), "device": "cpu",
    }


def _kwargs(model: Any) -> dict[str, Any]:
    """The model's size parameters (for the JSON record)."""
    return {"layers": model.layers_per_stack, "stacks": model.stacks, "kernel_size": model.kernel_size,
            "residual_channels": model.residual_channels, "dilation_channels": model.dilation_channels,
            "skip_channels": model.skip_channels, "head_channels": model.head_channels, "bits": model.bits,
            "input": model.input_mode, "input_kernel": model.input_kernel}


def _bench(args: argparse.Namespace) -> int:
    from rich.table import Table

    res = run_bench(args.config, args.seconds, args.naive_samples, args.dtype, args.seed, args.threads, args.batch,
                    args.repeats)
    con = console(args)
    table = Table(title=f"WaveNet generation ({args.config}: {res['parameters']:,} parameters, receptive field "
                        f"{res['receptive_field']} samples, {res['dtype']}; median of {res['repeats']})")
    for col in ("method", "samples/s", f"time for {res['seconds']:g} s", "measured on"):
        table.add_column(col, justify="right" if col != "method" else "left")
    table.add_row("naive", f"{res['naive_samples_per_s']:.2f}", f"{res['naive_seconds_estimate']:.1f} s (extrapolated)",
                  f"{res['naive_samples_timed']} samples after a full receptive field, {res['threads']} thread(s)")
    table.add_row("cached", f"{res['cached_samples_per_s']:.1f}", f"{res['cached_seconds']:.1f} s",
                  f"{res['samples']} samples from scratch, 1 thread")
    for row in res["batched"]:
        table.add_row(f"cached x{row['batch']}", f"{row['batch'] * res['samples'] / row['seconds']:.0f}",
                      f"{row['seconds']:.1f} s ({row['audio_seconds_per_s']:.2f}x real time in all)",
                      f"{row['batch']} clips of {res['samples']} samples at once, 1 thread")
    con.print(table)
    con.print(f"speed-up {res['speedup']:.0f}x; same samples for the same seed: "
              f"{'yes' if res['identical'] else 'NO'} ({res['identical_checked_samples']} samples compared)")
    if args.json is not None:
        write_text(args.json, json.dumps(res, indent=2) + "\n")
        con.print(f"wrote {args.json}")
    return 0
