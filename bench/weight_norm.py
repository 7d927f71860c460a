"""What folding weight norm at load (issue 25, point 4) buys ``speechgen vocode``: the HiFi-GAN CPU recipe (random
weights) synthesising ``--seconds`` of log-mel in chunks of ``--chunk-frames`` frames (``inference.vocode.synthesize``,
as the command does), with its weight-norm parametrisations kept (what vocode ran before) and folded into plain
weights (what it runs now); the two interleaved, medians of ``--repeats``, one torch thread.

    python bench/weight_norm.py [--seconds 4] [--chunk-frames 8 32 128] [--repeats 7]
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from speechgen.inference.vocode import synthesize
from speechgen.models.registry import MODELS
from speechgen.recipe_files import read_yaml, resolve_base

RECIPE = Path(__file__).resolve().parents[1] / "recipes" / "vocoder" / "hifigan-cpu.yaml"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--chunk-frames", type=int, nargs="+", default=[8, 32, 128])
    ap.add_argument("--repeats", type=int, default=7)
    args = ap.parse_args()
    torch.set_num_threads(1)
    recipe = resolve_base(read_yaml(RECIPE), RECIPE)
    kept, folded = (MODELS[recipe["model"]["name"]](**recipe["model"]["kwargs"], discriminators=False).eval()
                    for _ in range(2))
    folded.load_state_dict(kept.state_dict())
    folded.remove_weight_norm()
    mel = np.random.default_rng(0).normal(-4.0, 1.0, (kept.n_mels, round(args.seconds * 16000 / kept.hop_length)))
    mel = mel.astype(np.float32)
    print("| chunk frames | weight norm kept, × real time | folded | speed-up | max abs difference |")
    print("|---|---|---|---|---|")
    with torch.inference_mode():
        for chunk in args.chunk_frames:
            times: dict[str, list[float]] = {"kept": [], "folded": []}
            outs = {}
            for _ in range(args.repeats + 1):  # the first round warms up
                for name, model in (("kept", kept), ("folded", folded)):
                    start = time.perf_counter()
                    outs[name] = synthesize(model, mel, chunk_frames=chunk)
                    times[name].append(time.perf_counter() - start)
            speed = {k: args.seconds / statistics.median(v[1:]) for k, v in times.items()}
            diff = float(np.abs(outs["kept"] - outs["folded"]).max())
            print(f"| {chunk} | {speed['kept']:.1f} | {speed['folded']:.1f} | {speed['folded'] / speed['kept']:.2f}x "
                  f"| {diff:.1e} |")


if __name__ == "__main__":
    main()
