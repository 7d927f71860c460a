"""The iSTFT vocoder's inverse-STFT head: ``torch.istft`` (what inference runs) vs the matmul form (what ONNX
exports, and what inference ran before), alone and inside the whole CPU vocoder, on the same inputs in one process.

    python bench/istft_head.py [--seconds 1] [--repeats 9] [--threads 1 2]

Rows: the head alone on ``--seconds`` of random spectra at 1024/256 (the Vocos-style head) and 512/128 (the PGHI
recipe's), and ``istft-vocoder-cpu`` (random weights) end to end; the two forms interleaved, medians of
``--repeats`` after a warm-up, the slowest-fastest spread beside them.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch

from speechgen.models import istft_vocoder
from speechgen.models.istft_vocoder import InverseSTFT
from speechgen.models.registry import MODELS
from speechgen.recipe_files import read_yaml, resolve_base

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "vocoder" / "istft-vocoder-cpu.yaml"


def timed(calls: dict[str, Callable[[], object]], repeats: int) -> dict[str, list[float]]:
    """Each call ``repeats`` times, interleaved, after one warm-up: seconds per call."""
    for call in calls.values():
        call()
    out: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(repeats):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            out[name].append(time.perf_counter() - start)
    return out


def as_exported(call: Callable[[], object]) -> Callable[[], object]:
    """``call`` with the head taking its export path (the matmul form)."""
    def run() -> object:
        real = istft_vocoder.exporting
        istft_vocoder.exporting = lambda: True
        try:
            return call()
        finally:
            istft_vocoder.exporting = real
    return run


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=9)
    ap.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    calls: dict[str, Callable[[], object]] = {}
    for n_fft, hop in ((1024, 256), (512, 128)):
        head = InverseSTFT(n_fft, hop)
        frames = round(args.seconds * 16000 / hop)
        real, imag = torch.randn(1, n_fft // 2 + 1, frames), torch.randn(1, n_fft // 2 + 1, frames)
        calls[f"head {n_fft}/{hop}, torch.istft"] = lambda h=head, r=real, i=imag: h(r, i)
        calls[f"head {n_fft}/{hop}, matmul form"] = lambda h=head, r=real, i=imag: h.matmul_form(r, i)
    recipe = resolve_base(read_yaml(RECIPE), RECIPE)
    model = MODELS[recipe["model"]["name"]](**recipe["model"]["kwargs"], discriminators=False).eval()
    model.remove_weight_norm()
    mel = torch.randn(1, model.n_mels, round(args.seconds * 16000 / model.hop_length)) - 4.0
    calls["istft-vocoder-cpu, torch.istft"] = lambda: model.infer(mel)
    calls["istft-vocoder-cpu, matmul form"] = as_exported(lambda: model.infer(mel))
    print(f"| what ({args.seconds:g} s of audio) | threads | ms (median of {args.repeats}) | slowest-fastest |")
    print("|---|---|---|---|")
    with torch.inference_mode():
        for n in args.threads:
            torch.set_num_threads(n)
            for name, times in timed(calls, args.repeats).items():
                print(f"| {name} | {n} | {1000 * statistics.median(times):.2f} | "
                      f"{1000 * max(times):.2f}-{1000 * min(times):.2f} |")


if __name__ == "__main__":
    main()
