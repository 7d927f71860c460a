"""Three inference-time probes of the digit-string recognizer on a held-out voice (docs/results.md, Digit strings):
do its errors move when the clips are resampled (tempo and pitch together), when its log posteriors are averaged
over mel-axis warps of its input, or when several recognizers' posteriors are averaged? String accuracy per voice.

    python bench/recognizer_probes.py resample runs/ctc-recognizer-cpu-f --voice festival-ked_diphone
    python bench/recognizer_probes.py warps runs/ctc-recognizer-cpu-c --warps 0.9 1.0 1.1
    python bench/recognizer_probes.py ensemble runs/ctc-recognizer-cpu runs/ctc-recognizer-cpu-b \
        runs/ctc-recognizer-cpu-c runs/ctc-recognizer-cpu-d
"""

from __future__ import annotations

import argparse
from fractions import Fraction

import numpy as np
import torch
from scipy.signal import resample_poly
from torch import nn

from speechgen.audio.io import load
from speechgen.data.manifest import Manifest
from speechgen.evaluation.strings import score_split, transcribe_clips
from speechgen.inference.transcribe import load_transcriber
from speechgen.models.ctc_recognizer import greedy_decode


class Averaged(nn.Module):
    """Greedy decoding of the mean log posteriors of several recognizers, each over several mel-axis warps."""

    def __init__(self, models: list[nn.Module], warps: list[float]) -> None:
        super().__init__()
        self.models, self.warps, self.sample_rate = nn.ModuleList(models), warps, models[0].sample_rate

    @torch.no_grad()
    def transcribe(self, wave: torch.Tensor, lengths: torch.Tensor) -> list[tuple[list[int], float]]:
        total, n, out_len = None, 0, None
        for m in self.models:
            x, frames = m.features(wave, lengths)
            bands = x.shape[1]
            for a in self.warps:
                src = (torch.arange(bands, dtype=x.dtype) * a).clamp(max=bands - 1)
                lo = src.floor().long()
                w = (src - lo)[None, :, None]
                warped = x[:, lo] * (1 - w) + x[:, (lo + 1).clamp(max=bands - 1)] * w
                logits, out_len = m.logits_features(warped, frames)
                lp = logits.log_softmax(-1)
                total, n = (lp if total is None else total + lp), n + 1
        return greedy_decode(total / n, out_len, self.models[0].blank)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("probe", choices=("resample", "warps", "ensemble"))
    ap.add_argument("runs", nargs="+", help="recognizer run(s) or shipped name")
    ap.add_argument("--manifest", default="corpora/strings")
    ap.add_argument("--split", default="test")
    ap.add_argument("--voice", default="festival-ked_diphone", help="resample: the voice whose clips are resampled")
    ap.add_argument("--warps", type=float, nargs="+", default=[0.85, 0.92, 1.0, 1.08, 1.15])
    ap.add_argument("--factors", type=float, nargs="+", default=[1.0, 1.18, 1.09, 0.92, 0.85, 1.3],
                    help="resample: length factors (> 1: slower and lower)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    models = [load_transcriber(r)[0] for r in args.runs]
    if args.probe == "resample":
        m = Manifest.read(args.manifest)
        rows = [r for r in m.select(args.split) if r["speaker"] == args.voice]
        refs = [[int(d) for d in str(r["text"]).split()] for r in rows]
        waves = [load(m.resolve(r), 16000)[0] for r in rows]
        for f in args.factors:
            q = Fraction(f).limit_denominator(30)
            hyp = transcribe_clips(models[0], [resample_poly(w, q.numerator, q.denominator).astype(np.float32)
                                               for w in waves], sample_rate=16000)
            print(f"{args.voice} x{float(q):.3f}: string accuracy {np.mean([h[0] == r for h, r in zip(hyp, refs)]):.3f}")
        return
    model = Averaged(models, args.warps if args.probe == "warps" else [1.0])
    res = score_split(model, args.manifest, args.split)
    voices = ", ".join(f"{v} {d['string_accuracy']:.3f}" for v, d in res["per_voice"].items())
    print(f"{args.probe}: string accuracy {res['string_accuracy']:.4f} ({voices})")


if __name__ == "__main__":
    main()
