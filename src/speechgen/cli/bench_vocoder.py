"""``speechgen bench vocoder``: parameters and speed (× real time) of every registered vocoder, side by side.

Each GAN vocoder of the model registry is built (random weights: speed does not depend on training; generator only,
weight norm folded, eval mode, ``torch.inference_mode``) from its default configuration: the kwargs of its CPU
recipe (``recipes/vocoder/*-cpu.yaml``, ``base:`` resolved; without one, its paper-size recipe; without any, its
constructor defaults), plus a HiFi-GAN V1-size reference (``hifigan-v1.yaml``). With ``--size tiny`` the test recipes
(``*-tiny.yaml``) are used instead (for smoke tests; their timings mean little).

Input: the model's own feature (log-mel, or MFCC + F0 for ResGAN) of ``--seconds`` of a synthetic voiced signal
(a harmonic tone with vibrato). Every (model, thread count) pair is timed ``--repeats`` times, the models
interleaved so that a change of machine load hits them alike, after one warm-up call; the **median** repeat is
reported, with the slowest and fastest beside it (a best-of figure overstates what a shared machine gives). Speed
is reported as ``x_realtime``: seconds of audio per second of computation (higher is faster; the JSON also keeps
its inverse ``rtf``, and ``x_realtime_min`` / ``x_realtime_max``). Timings on
shared machines vary several-fold with other load (docs/vocoders.md, Speed): compare rows of one run, not across runs.
"""

from __future__ import annotations

import argparse
import json
import statistics
import math
import platform
import time
from pathlib import Path
from typing import Any

import numpy as np

from speechgen.atomic import write_text
from speechgen.cli.common import console, thread_count
from speechgen.errors import ConfigError

#: the reference configuration: (row name, recipe stem per --size)
REFERENCE = "hifigan-v1"
REFERENCE_RECIPES = {"cpu": "hifigan-v1", "tiny": "hifigan-v1-tiny"}
SIZES = ("cpu", "tiny")
DEFAULT_RECIPES = Path(__file__).resolve().parents[3] / "recipes" / "vocoder"


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("vocoder", help="parameters and speed (× real time) of every vocoder, single/multi-threaded",
                       description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json", type=Path, default=None, metavar="OUT", help="write the rows as JSON to OUT")
    p.add_argument("--seconds", type=float, default=1.0, help="seconds of audio per call (default 1.0)")
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2], metavar="N",
                   help="torch intra-op thread counts to measure (default 1 2)")
    p.add_argument("--repeats", type=int, default=5, help="timed calls per model and thread count (default 5; the "
                   "median is reported)")
    p.add_argument("--size", choices=SIZES, default="cpu", help="cpu: the CPU recipes (default); tiny: test recipes")
    p.add_argument("--only", nargs="+", default=None, metavar="NAME", help="registry names to include (default all)")
    p.add_argument("--recipes", type=Path, default=DEFAULT_RECIPES, metavar="DIR",
                   help="recipe folder searched (with its subfolders) for the configurations "
                   "(default: the repository's recipes/vocoder/)")
    p.set_defaults(func=_bench)


# ------------------------------------------------------------------------------------------------ configurations
def _recipes_of(folder: Path) -> list[tuple[Path, dict[str, Any]]]:
    from speechgen.recipe_files import read_yaml  # resolves ``base:``; no validation, nothing of training

    out = []
    if not folder.is_dir():
        return out
    for path in sorted(folder.rglob("*.yaml")):
        try:
            raw = read_yaml(path)
        except (ConfigError, OSError):
            continue
        if isinstance(raw, dict) and isinstance(raw.get("model"), dict) and raw.get("scheme") == "vocoder":
            out.append((path, raw))
    return out


def _rank(stem: str, size: str) -> int | None:
    """Preference of a recipe file for ``size`` (lower first; None: not used)."""
    if size == "tiny":
        return 0 if stem.endswith("-tiny") else None
    if stem.endswith("-cpu"):
        return 0
    if stem.endswith("-tiny") or "-22k" in stem:
        return None
    return 1


def default_configs(size: str = "cpu", recipes: Path = DEFAULT_RECIPES, only: list[str] | None = None,
                    ) -> list[dict[str, Any]]:
    """``[{"name", "model", "kwargs", "recipe", "default"}]``: each registered vocoder's default configuration and
    the HiFi-GAN V1 reference (``default: False``). The preferred recipe of a vocoder is its shortest ``-cpu`` (or
    ``-tiny``) one, named after the registry name; its other ``-cpu`` recipes (variants such as the iSTFT
    vocoder's Griffin-Lim phase) add rows named ``NAME (RECIPE)``. Recipes of a pre-training stage (ResGAN's
    pulse model) are skipped: they do not describe a finished vocoder."""
    from speechgen.models.vocoder import GANVocoder
    from speechgen.models.registry import MODELS

    if size not in SIZES:
        raise ConfigError(f"--size: expected one of {', '.join(SIZES)}, got {size!r}")
    names = sorted(k for k, v in MODELS.items() if isinstance(v, type) and issubclass(v, GANVocoder))
    if only:
        unknown = sorted(set(only) - set(names) - {REFERENCE})
        if unknown:
            raise ConfigError(f"--only: '{unknown[0]}' is not a registered vocoder ({', '.join(names)})")
    files = _recipes_of(recipes)
    rows: list[dict[str, Any]] = []
    for name in names:
        if only and name not in only:
            continue
        found = sorted((rank, len(path.stem), path.name, dict(raw["model"].get("kwargs") or {}))
                       for path, raw in files
                       if raw["model"].get("name") == name and (rank := _rank(path.stem, size)) is not None)
        found = [f for f in found if not MODELS[name](**dict(f[3], discriminators=False)).pretraining]
        if not found:
            rows.append({"name": name, "model": name, "kwargs": {}, "recipe": None, "default": True})
            continue
        variants = [f for f in found[1:] if f[0] == 0 == found[0][0]]  # the other -cpu (-tiny) recipes
        for i, (_, _, file_name, kwargs) in enumerate([found[0], *variants]):
            label = name if i == 0 else f"{name} ({Path(file_name).stem})"
            rows.append({"name": label, "model": name, "kwargs": kwargs, "recipe": file_name, "default": True})
    if not only or REFERENCE in only:
        from speechgen.models.hifigan import CONFIGS

        stem = REFERENCE_RECIPES[size]
        ref = next(((p.name, dict(r["model"].get("kwargs") or {})) for p, r in files if p.stem == stem), None)
        recipe, kwargs = ref if ref is not None else (None, dict(CONFIGS["v1"]))
        rows.append({"name": REFERENCE, "model": "hifigan", "kwargs": kwargs, "recipe": recipe, "default": False})
    return rows


# ------------------------------------------------------------------------------------------------ measurement
def voiced_signal(seconds: float, sample_rate: int) -> np.ndarray:
    """A voiced test signal: 20 harmonics of 110-150 Hz with 5 Hz vibrato and a slow amplitude envelope (float32)."""
    t = np.arange(max(1, round(seconds * sample_rate))) / sample_rate
    f0 = 130.0 + 20.0 * np.sin(2 * np.pi * 5.0 * t)
    phase = 2 * np.pi * np.cumsum(f0) / sample_rate
    x = sum(np.sin(k * phase) / k for k in range(1, 21))
    return (0.3 * x * (0.6 + 0.4 * np.sin(2 * np.pi * 1.5 * t)) / 1.6).astype(np.float32)


def _build(model_name: str, kwargs: dict[str, Any]) -> Any:
    import torch

    from speechgen.models.registry import MODELS

    torch.manual_seed(0)
    model = MODELS[model_name](**dict(kwargs, discriminators=False))
    model.remove_weight_norm()
    return model.eval()


def run_bench(seconds: float = 1.0, threads: list[int] | None = None, repeats: int = 5, size: str = "cpu",
              recipes: Path = DEFAULT_RECIPES, only: list[str] | None = None) -> list[dict[str, Any]]:
    """Measure every configuration at every thread count; return the rows (see the module docstring)."""
    import torch

    from speechgen.data.features import build_feature

    threads = [1, 2] if threads is None else list(threads)
    if not seconds > 0 or not math.isfinite(seconds):
        raise ConfigError(f"--seconds: must be > 0, got {seconds}")
    if not threads or any(t <= 0 for t in threads):
        raise ConfigError(f"--threads: need thread counts > 0, got {threads}")
    if repeats <= 0:
        raise ConfigError(f"--repeats: must be > 0, got {repeats}")
    entries = []
    for cfg in default_configs(size, recipes, only):
        model = _build(cfg["model"], cfg["kwargs"])
        feature = build_feature(model.feature, model.feature_params)
        x = torch.from_numpy(feature(voiced_signal(seconds, model.sample_rate), model.sample_rate))[None]
        audio_s = x.shape[-1] * model.hop_length / model.sample_rate
        entries.append((cfg, model, x, audio_s))
    taken: dict[tuple[int, int], list[float]] = {}
    with torch.inference_mode():
        for n in threads:
            with thread_count(n):
                for _, model, x, _ in entries:  # warm-up (allocations, one-off kernels)
                    model.infer(x)
                for _ in range(repeats):
                    for i, (_, model, x, _) in enumerate(entries):
                        start = time.perf_counter()
                        model.infer(x)
                        taken.setdefault((i, n), []).append(time.perf_counter() - start)
    rows = []
    for i, (cfg, model, _, audio_s) in enumerate(entries):
        for n in threads:
            times = sorted(taken[(i, n)])
            rtf = statistics.median(times) / audio_s
            speed = [audio_s / t if t > 0 else math.inf for t in (times[-1], times[0])]
            rows.append({"name": cfg["name"], "params": int(model.generator_parameters()), "rtf": rtf,
                         "x_realtime": 1.0 / rtf if rtf > 0 else math.inf, "x_realtime_min": speed[0],
                         "x_realtime_max": speed[1], "threads": n, "default": cfg["default"],
                         "model": cfg["model"], "recipe": cfg["recipe"], "sample_rate": model.sample_rate,
                         "audio_seconds": audio_s, "repeats": repeats, "size": size,
                         "torch": torch.__version__, "machine": platform.machine()})
    return rows


def _bench(args: argparse.Namespace) -> int:
    from rich.table import Table

    rows = run_bench(args.seconds, args.threads, args.repeats, args.size, args.recipes, args.only)
    con = console(args)
    table = Table(title=f"Vocoders on {rows[0]['audio_seconds']:.2f} s of audio ({args.size} configurations; "
                        f"median of {args.repeats}; speed in × real time, higher is faster)" if rows else "Vocoders")
    for col in ("vocoder", "config", "params", "threads", "× real time", "slowest-fastest"):
        table.add_column(col, justify="left" if col in ("vocoder", "config") else "right")
    for r in rows:
        config = r["recipe"] or "constructor defaults"
        table.add_row(r["name"] + ("" if r["default"] else " (reference)"), config, f"{r['params']:,}",
                      str(r["threads"]), f"{r['x_realtime']:.1f}",
                      f"{r['x_realtime_min']:.1f}-{r['x_realtime_max']:.1f}")
    con.print(table)
    if args.json is not None:
        write_text(args.json, json.dumps(rows, indent=2) + "\n")
        con.print(f"wrote {args.json}")
    return 0
