"""The oracle reference rows of the separation table (docs/separation.md): what an ideal ratio mask (IRM) on a
512/128 STFT and an ideal binary mask (IBM) reach on a mixtures manifest split, knowing the true sources (a mask
estimator can do no better in that STFT), scored by the same judge as the models
(:func:`speechgen.evaluation.separation.score_split`: SI-SNRi, SDRi, the judge's digits on the separated sources).

    python bench/separation_oracle.py corpora/mixtures --split test --mask irm
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from speechgen.audio.io import load
from speechgen.data.manifest import Manifest
from speechgen.data.mixtures import source_paths
from speechgen.evaluation.judge import Judge
from speechgen.evaluation.separation import score_split

N_FFT, HOP = 512, 128


def masked(mix: np.ndarray, sources: np.ndarray, kind: str) -> np.ndarray:
    """The mixture's STFT under each source's oracle mask, back to waveforms ``[K, T]``."""
    win = torch.hann_window(N_FFT, dtype=torch.float64)
    stft = lambda x: torch.stft(torch.from_numpy(x).double(), N_FFT, HOP, window=win, return_complex=True)  # noqa: E731
    m, s = stft(mix), stft(sources).abs()
    mask = s / s.sum(dim=0).clamp(min=1e-8) if kind == "irm" else (s == s.max(dim=0).values).double()
    out = torch.istft(mask * m, N_FFT, HOP, window=win, length=len(mix))
    return out.float().numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("manifest")
    ap.add_argument("--split", default="test")
    ap.add_argument("--mask", choices=("irm", "ibm"), default="irm")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    m = Manifest.read(args.manifest)
    truth = {}
    for r in m.select(args.split):
        mix = load(m.resolve(r), 16000)[0]
        truth[mix.tobytes()] = np.stack([load(p, 16000)[0] for p in source_paths(m, r)])
    report = score_split(lambda mix: masked(mix, truth[mix.tobytes()], args.mask), m, args.split, judge=Judge())
    report.pop("items")
    print(json.dumps(report, indent=2))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(report, fh, indent=2)


if __name__ == "__main__":
    main()
