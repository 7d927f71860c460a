"""Peer benchmark (issue "Performance", point 8): our log-mel front end and vocoder generators against librosa and
the ``parallel_wavegan`` package (kan-bayashi's ParallelWaveGAN, 0.6.1) at identical configurations, in one process.

- features: :class:`speechgen.audio.spectral.LogMelSpectrogram` (n_fft 1024, hop 256, 80 bands, 0-8 kHz) on a
  batch of 256 one-second clips of noise against librosa's batched ``melspectrogram(power=1)`` + ``log(max(S,
  1e-5))`` and against librosa called clip by clip; the largest log-domain difference from librosa (bins above
  1e-4 of the peak magnitude) is printed.
- vocoders: our HiFi-GAN V1 and V3, MelGAN (recipes/vocoder/melgan.yaml) and Parallel WaveGAN
  (recipes/vocoder/parallel-wavegan.yaml) generators against the peer's, configured to the same layout; parameter
  counts (weight norm folded on both sides) must be equal or the pair is refused. Batch 1, log-mel of
  ``--seconds`` at hop 256, ``torch.inference_mode``; PWG gets the same noise on both sides.

Timings interleave the two sides (the order flips every repeat) after one warm-up call each; rows give the median
of ``--repeats`` and the spread (slowest minus fastest, % of the median) per torch thread count (librosa's BLAS
is held to the same count through threadpoolctl when it is installed). Never run in CI; run it on a quiet machine:

    python bench/peers.py --out docs/peers.md --json out/peers.json

Installing the peer (into the git-ignored ``.peers/`` next to the repository root, found automatically)::

    .venv/bin/pip download parallel_wavegan==0.6.1 --no-deps --no-binary :all: --no-build-isolation -d /tmp/pwg && \
    .venv/bin/pip install --no-deps --no-build-isolation --target .peers /tmp/pwg/parallel_wavegan-0.6.1.tar.gz && \
    .venv/bin/pip install --no-deps --target .peers h5py

librosa comes with the dev extra (``pip install -e .[dev]``).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from speechgen import allocator
from speechgen.atomic import write_text
from speechgen.cli.bench_features import SETTLE
from speechgen.cli.common import thread_count

SR, HOP, N_FFT, N_MELS, FMAX, CLIPS = 16000, 256, 1024, 80, 8000.0, 256
PEERS = Path(__file__).resolve().parents[1] / ".peers"
INSTALL_PEER = ("parallel_wavegan not importable, vocoders skipped: install it into .peers/ with the three pip "
                "commands of bench/peers.py's docstring")
INSTALL_LIBROSA = "librosa not importable, features skipped: pip install -e '.[dev]' (or pip install librosa)"


# ------------------------------------------------------------------------------------------------ pure helpers
def summarize(times: Sequence[float]) -> tuple[float, float]:
    """(median seconds, spread = (slowest - fastest) / median in %)."""
    med = statistics.median(times)
    return med, 100.0 * (max(times) - min(times)) / med if med > 0 else 0.0


def check_params(name: str, ours: int, peer: int, explained: tuple[int, str] | None = None) -> str:
    """'' when the counts are equal; the explanation when ``ours - peer`` is the explained difference; else raise."""
    if ours == peer:
        return ""
    if explained is not None and ours - peer == explained[0]:
        return f"{name}: ours {ours:,} vs peer {peer:,} ({ours - peer:+,}: {explained[1]})"
    raise ValueError(f"{name}: parameter counts differ, ours {ours:,} vs peer {peer:,}; not timed")


def markdown_table(rows: Sequence[dict[str, Any]]) -> str:
    """One line per (case, peer, threads): × real time and spread of each side, and the time ratio ours/peer."""
    head = ["part", "case", "peer", "threads", "params (ours / peer)", "ours × RT", "ours spread %",
            "peer × RT", "peer spread %", "time ours/peer"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in rows:
        params = f"{r['params'][0]:,} / {r['params'][1]:,}" if r.get("params") else "-"
        cells = [r["part"], r["case"], r["peer"], str(r["threads"]), params, f"{r['ours_x_rt']:.1f}",
                 f"{r['ours_spread']:.0f}", f"{r['peer_x_rt']:.1f}", f"{r['peer_spread']:.0f}", f"{r['ratio']:.2f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def row(part: str, case: str, peer: str, threads: int, audio_s: float, ours: list[float], theirs: list[float],
        params: tuple[int, int] | None = None) -> dict[str, Any]:
    """A table/JSON row from the raw timings of both sides."""
    (om, osp), (pm, psp) = summarize(ours), summarize(theirs)
    return {"part": part, "case": case, "peer": peer, "threads": threads, "params": params, "audio_s": audio_s,
            "ours_x_rt": audio_s / om, "ours_spread": osp, "peer_x_rt": audio_s / pm, "peer_spread": psp,
            "ratio": om / pm, "ours_s": ours, "peer_s": theirs}


# ------------------------------------------------------------------------------------------------ timing
def interleaved(fns: Sequence[Callable[[], Any]], repeats: int) -> list[list[float]]:
    """Seconds per call of each of ``fns``: one warm-up call each, then ``repeats`` rounds, order flipped each round."""
    for fn in fns:
        fn()
    out: list[list[float]] = [[] for _ in fns]
    for r in range(repeats):
        order = range(len(fns)) if r % 2 == 0 else reversed(range(len(fns)))
        for i in order:
            time.sleep(SETTLE)  # the previous call's spinning thread pool (numpy's OpenBLAS) must not steal a core
            start = time.perf_counter()
            fns[i]()
            out[i].append(time.perf_counter() - start)
    return out


# ------------------------------------------------------------------------------------------------ features
def bench_features(thread_counts: Sequence[int], repeats: int) -> list[dict[str, Any]]:
    import librosa

    from speechgen.audio.spectral import LogMelSpectrogram

    x = np.random.default_rng(0).uniform(-0.5, 0.5, (CLIPS, SR)).astype(np.float32)
    xt = torch.from_numpy(x)
    ours = LogMelSpectrogram(SR, N_FFT, HOP, N_FFT, N_MELS, 0.0, FMAX)
    kw = {"sr": SR, "n_fft": N_FFT, "hop_length": HOP, "n_mels": N_MELS, "fmax": FMAX, "power": 1.0,
          "pad_mode": "reflect"}

    def ours_fn() -> np.ndarray:
        with torch.inference_mode():
            return ours(xt).numpy()

    def batched() -> np.ndarray:
        return np.log(np.maximum(librosa.feature.melspectrogram(y=x, **kw), 1e-5))

    def per_clip() -> list[np.ndarray]:
        return [np.log(np.maximum(librosa.feature.melspectrogram(y=c, **kw), 1e-5)) for c in x]

    ref, got = batched(), ours_fn()
    mask = ref > np.log(1e-4 * np.exp(ref).max())
    print(f"features: max |log-mel difference| vs librosa = {np.abs(got - ref)[mask].max():.2e} "
          f"(on {mask.mean():.1%} of bins, those above 1e-4 of the peak)")
    rows = []
    for n in thread_counts:
        with thread_count(n):
            t_ours, t_batch, t_loop = interleaved([ours_fn, batched, per_clip], repeats)
        case = f"log-mel, {CLIPS} × 1 s"
        rows += [row("features", case, "librosa batched", n, float(CLIPS), t_ours, t_batch),
                 row("features", case, "librosa per clip", n, float(CLIPS), t_ours, t_loop)]
    return rows


# ------------------------------------------------------------------------------------------------ vocoders
def _count(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def import_peer() -> Any:
    """``parallel_wavegan.models`` (``.peers/`` on the path), or None after printing how to install it."""
    import scipy.signal
    import scipy.signal.windows

    if PEERS.is_dir() and str(PEERS) not in sys.path:
        sys.path.insert(0, str(PEERS))
    scipy.signal.kaiser = scipy.signal.windows.kaiser  # removed from scipy.signal; parallel_wavegan imports it
    try:
        from parallel_wavegan import models
    except ImportError as exc:
        print(f"{INSTALL_PEER} ({exc})")
        return None
    return models


def vocoder_pairs(peer: Any) -> list[tuple[str, torch.nn.Module, torch.nn.Module, tuple[int, str] | None]]:
    """(name, ours, peer, explained difference) with weight norm folded on both sides, in eval mode; ``peer``:
    ``parallel_wavegan.models``."""
    from speechgen.models.hifigan import CONFIGS, HiFiGANGenerator
    from speechgen.models.melgan import MelGANGenerator
    from speechgen.models.parallel_wavegan import ParallelWaveGANGenerator
    from speechgen.nn.vocoder_blocks import remove_weight_norm

    torch.manual_seed(0)
    warnings.filterwarnings("ignore", "`torch.nn.utils.weight_norm` is deprecated", FutureWarning)  # the peer's
    pairs: list[tuple[str, torch.nn.Module, torch.nn.Module, tuple[int, str] | None]] = []
    for cfg in ("v1", "v3"):
        c = CONFIGS[cfg]
        theirs = peer.HiFiGANGenerator(
            N_MELS, 1, c["upsample_initial_channel"], 7, c["upsample_rates"], c["upsample_kernel_sizes"],
            c["resblock_kernel_sizes"], c["resblock_dilation_sizes"], use_additional_convs=c["resblock"] == 1)
        pairs.append((f"HiFi-GAN {cfg.upper()}", HiFiGANGenerator(N_MELS, **c), theirs, None))
    # recipes/vocoder/melgan.yaml: rates 8 8 2 2, ngf 32 (512 channels), dilations 1 3 9 (3 ** j)
    pairs.append(("MelGAN", MelGANGenerator(N_MELS, (8, 8, 2, 2), 32, (1, 3, 9)),
                  peer.MelGANGenerator(N_MELS, 1, 7, 512, upsample_scales=[8, 8, 2, 2], stack_kernel_size=3,
                                       stacks=3), None))
    # recipes/vocoder/parallel-wavegan.yaml: the paper's layout (30 layers, 3 stacks, 64/128/64, context 2)
    pairs.append(("Parallel WaveGAN", ParallelWaveGANGenerator(N_MELS, (4, 4, 4, 4), 2, 30, 3, 64, 128, 64, 3),
                  peer.ParallelWaveGANGenerator(1, 1, 3, 30, 3, 64, 128, 64, N_MELS, aux_context_window=2,
                                                upsample_params={"upsample_scales": [4, 4, 4, 4]}), None))
    for _, ours, theirs, _ in pairs:
        remove_weight_norm(ours)
        theirs.remove_weight_norm()
        ours.eval()
        theirs.eval()
    return pairs


def bench_vocoders(peer: Any, thread_counts: Sequence[int], repeats: int, seconds: float) -> list[dict[str, Any]]:
    frames = 1 + round(seconds * SR) // HOP
    audio_s = frames * HOP / SR
    mel = torch.randn(1, N_MELS, frames, generator=torch.Generator().manual_seed(0)) - 4.0
    noise = torch.randn(1, 1, frames * HOP, generator=torch.Generator().manual_seed(1))
    pad = torch.nn.ReplicationPad1d(2)  # the peer's PWG wants its context frames padded (its inference() does so)
    rows = []
    for name, ours, theirs, explained in vocoder_pairs(peer):
        params = (_count(ours), _count(theirs))
        note = check_params(name, *params, explained)
        if note:
            print(note)
        pwg = name == "Parallel WaveGAN"
        fns = [(lambda o=ours: o(mel, noise)) if pwg else (lambda o=ours: o(mel)),
               (lambda p=theirs: p(noise, pad(mel))) if pwg else (lambda p=theirs: p(mel))]
        with torch.inference_mode():
            shapes = [tuple(fn().shape) for fn in fns]
            if shapes[0] != shapes[1]:
                raise ValueError(f"{name}: output shapes differ, ours {shapes[0]} vs peer {shapes[1]}")
            for n in thread_counts:
                with thread_count(n):
                    t_ours, t_peer = interleaved(fns, repeats)
                rows.append(row("vocoders", name, "parallel_wavegan 0.6.1", n, audio_s, t_ours, t_peer, params))
    return rows


# ------------------------------------------------------------------------------------------------ main
def header(argv: Sequence[str], thread_counts: Sequence[int]) -> str:
    machine = platform.processor() or platform.machine()
    return (f"`python bench/peers.py {' '.join(argv)}` · torch {torch.__version__} · threads "
            f"{' '.join(map(str, thread_counts))} · {datetime.datetime.now().isoformat(timespec='seconds')} · "
            f"{machine}, {os.cpu_count()} CPUs")


def has_librosa() -> bool:
    """Whether librosa imports; prints how to install it (one line) when it does not."""
    try:
        import librosa  # noqa: F401
    except ImportError:
        print(INSTALL_LIBROSA)
        return False
    return True


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", choices=("features", "vocoders"), default=None, help="run one part (default both)")
    ap.add_argument("--repeats", type=int, default=7, help="timed calls per side and thread count (median; 7)")
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2], metavar="N", help="torch threads (1 2)")
    ap.add_argument("--seconds", type=float, default=1.0, help="seconds of audio per vocoder call (1.0)")
    ap.add_argument("--out", type=Path, default=None, metavar="FILE.md", help="also write the table here")
    ap.add_argument("--json", type=Path, default=None, metavar="FILE", help="write all raw timings here")
    args = ap.parse_args(argv)
    allocator.tune()  # as every speechgen command does: the same for both sides
    if args.repeats < 1 or any(n < 1 for n in args.threads) or not args.seconds > 0:
        ap.error("--repeats, --threads and --seconds must be positive")
    rows: list[dict[str, Any]] = []
    if args.only in (None, "features") and has_librosa():
        rows += bench_features(args.threads, args.repeats)
    if args.only in (None, "vocoders") and (peer := import_peer()) is not None:
        rows += bench_vocoders(peer, args.threads, args.repeats, args.seconds)
    if not rows:
        return 2
    head = header(argv, args.threads)
    text = f"{head}\n\nMedian of {args.repeats}; × RT: seconds of audio per second of compute.\n\n{markdown_table(rows)}\n"
    print(text)
    if args.out is not None:
        write_text(args.out, text)
    if args.json is not None:
        write_text(args.json, json.dumps({"header": head, "repeats": args.repeats, "rows": rows}, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
