"""Sharpening a vocoder's predicted magnitude: raise the iSTFT head's magnitude to the power P (each clip's energy
kept) before PGHI + Griffin-Lim, and judge the copies of a seeded random subset of the test clips
(docs/vocoders.md, The PGHI head):

    OMP_NUM_THREADS=1 python bench/magnitude_power.py runs/istft-vocoder-pghi-cpu out/ceil/reference --n 80 \\
        --powers 1.0 1.1 1.2

Prints the mean pair metrics (`speechgen compare`'s) per power.
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path

import numpy as np
import torch

from speechgen.audio import io as audio_io
from speechgen.audio.phase import reconstruct
from speechgen.evaluation.speech import compare_pair
from speechgen.inference.vocode import _audio_mel, load_vocoder


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model", help="run or checkpoint folder of an iSTFT vocoder with phase pghi")
    ap.add_argument("reference", type=Path, help="folder of reference clips")
    ap.add_argument("--n", type=int, default=80, help="clips (a seeded random subset)")
    ap.add_argument("--powers", type=float, nargs="+", default=[1.0, 1.1, 1.2])
    ap.add_argument("--gl-iters", type=int, default=16)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, _, _ = load_vocoder(args.model)
    g = model.generator
    refs = audio_io.find_audio(args.reference)
    random.Random(0).shuffle(refs)
    refs = refs[: args.n]
    for power in args.powers:
        rows = []
        for ref in refs:
            mel, n = _audio_mel(ref, model)
            with torch.inference_mode():
                mag = g.head(torch.from_numpy(mel)[None])[0]
                if power != 1.0:
                    sharp = mag**power
                    mag = sharp * torch.linalg.vector_norm(mag) / torch.linalg.vector_norm(sharp)
                y = reconstruct(mag, g.hop_length, g.n_fft, method="pghi", gl_iters=args.gl_iters,
                                length=mel.shape[-1] * model.hop_length)[0].numpy()[:n]
            x, _ = audio_io.load(ref, model.sample_rate)
            rows.append(compare_pair(x, y, model.sample_rate))
        mean = {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}
        print(f"power {power:g}: " + ", ".join(f"{k} {v:.3f}" for k, v in mean.items()), flush=True)


if __name__ == "__main__":
    main()
