"""The measurements behind the ``dsp`` vocoder's defaults (docs/vocoders.md, The DSP vocoder): copy synthesis of a
seeded random subset of the digits corpus's test-split clips (held-out voices) plus the 10 clips of
src/speechgen/pretrained/classifier/real/, judged with :func:`speechgen.evaluation.speech.compare_pair` (the metrics of
``speechgen compare``), for each setting: the synthesis STFT (512/128 vs the features' 1024/256), the magnitude
(pseudo-inverse, the pseudo-inverse with a band-average floor, truncated projected-gradient NNLS, exact NNLS by scipy
per frame), the Griffin-Lim iterations, the initial phase and PGHI's fill, and the true-magnitude ceilings of the same STFT and phase method.

    OMP_NUM_THREADS=1 python bench/dsp_vocoder_choices.py --corpus corpora/digits --n 60 --json out/dsp-choices.json

Speeds are seconds of audio per second of ``infer`` (log-mel given), one thread; on a shared machine they vary.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
import warnings
from pathlib import Path

import numpy as np
import torch

from speechgen.audio import io as audio_io
from speechgen.audio.phase import reconstruct
from speechgen.audio.spectral import log_mel, stft
from speechgen.evaluation.speech import compare_pair
from speechgen.models.dsp_vocoder import DSPVocoder

SR = 16000
REAL = Path(__file__).resolve().parents[1] / "src" / "speechgen" / "pretrained" / "classifier" / "real"


class ExactNNLS(DSPVocoder):
    """The ``dsp`` vocoder with the magnitude of scipy's exact NNLS, frame by frame (slow; for the comparison)."""

    def linear_magnitude(self, mel: torch.Tensor) -> torch.Tensor:
        from scipy.optimize import nnls

        fb = self.filterbank.double().numpy()
        lin = torch.exp(self.upsample(mel)).double().numpy() * self.gain
        out = np.stack([np.stack([nnls(fb, item[:, t], maxiter=5000)[0] for t in range(item.shape[1])], axis=1)
                        for item in lin])
        return torch.from_numpy(out).to(mel)


def clips(corpus: Path, n: int, seed: int) -> list[tuple[str, np.ndarray]]:
    with open(corpus / "manifest.csv", newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if r["split"] == "test"]
    pick = sorted(np.random.default_rng(seed).choice(len(rows), min(n, len(rows)), replace=False))
    paths = [("test", corpus / rows[i]["path"]) for i in pick] + [("real", p) for p in audio_io.find_audio(REAL)]
    return [(kind, audio_io.load(p, SR)[0].astype(np.float64)) for kind, p in paths]


def judge_row(name: str, make, items, out: list) -> None:
    rows, seconds = {"test": [], "real": []}, 0.0
    for kind, x in items:
        mel = torch.from_numpy(log_mel(x, SR).astype(np.float32))
        t = time.perf_counter()
        y = make(x, mel)
        seconds += time.perf_counter() - t
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows[kind].append(compare_pair(x, np.asarray(y, dtype=np.float64)[:len(x)], SR))
    rec = {"name": name, "x_realtime": sum(len(x) for _, x in items) / SR / seconds}
    for kind, rs in rows.items():
        rec[kind] = {k: float(np.nanmean([r[k] for r in rs])) for k in rs[0]} if rs else {}
    out.append(rec)
    t = rec["test"]
    print(f"{name:44s} PESQ {t['pesq']:.3f} (real {rec['real'].get('pesq', float('nan')):.3f}) STOI {t['stoi']:.3f} "
          f"MCD {t['mcd']:.2f} MR-STFT {t['mrstft']:.3f} LSD {t['lsd']:.2f} F0 {t['f0_rmse']:.2f} "
          f"V/UV {t['vuv_error']:.3f}  {rec['x_realtime']:.0f}x", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, default=Path("corpora/digits"))
    ap.add_argument("--n", type=int, default=60, help="test-split clips (seeded random subset)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--exact-nnls", action="store_true", help="also the exact NNLS rows (slow)")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--only", default=None, help="run only the rows whose name contains this text")
    args = ap.parse_args()
    torch.set_num_threads(1)
    items = clips(args.corpus, args.n, args.seed)
    out: list = []
    only = args.only

    def judge(name: str, make, items, out: list) -> None:  # the --only filter around judge_row
        if only is None or only in name:
            judge_row(name, make, items, out)

    def model(cls=DSPVocoder, **kw):
        m = cls(**kw).eval()
        return lambda x, mel: m.infer(mel).numpy()

    def ceiling(n_fft: int, hop: int, iters: int):
        return lambda x, mel: reconstruct(torch.from_numpy(np.abs(stft(x, n_fft, hop))).float(), hop, n_fft,
                                          gl_iters=iters, length=len(x)).numpy()

    for n in (0, 4, 8, 16, 32):
        judge(f"512/128 pinv, PGHI + {n} GL", model(gl_iters=n), items, out)
    for n in (8, 16):
        judge(f"1024/256 pinv, PGHI + {n} GL", model(n_fft=None, hop_length=None, gl_iters=n), items, out)
    judge("512/128 NNLS (100 FISTA steps), PGHI + 16 GL", model(magnitude="nnls"), items, out)
    judge("1024/256 NNLS (100 FISTA steps), PGHI + 16 GL", model(magnitude="nnls", n_fft=None, hop_length=None),
          items, out)
    if args.exact_nnls:
        judge("512/128 exact NNLS, PGHI + 16 GL", model(ExactNNLS), items, out)
        judge("1024/256 exact NNLS, PGHI + 16 GL", model(ExactNNLS, n_fft=None, hop_length=None), items, out)
    judge("512/128 floor (pinv, band-average floor), PGHI + 16 GL", model(magnitude="floor"), items, out)
    judge("1024/256 floor (pinv, band-average floor), PGHI + 16 GL", model(magnitude="floor", n_fft=None,
                                                                           hop_length=None), items, out)
    judge("512/128 pinv, PGHI (zero fill) + 16 GL", model(fill="zeros"), items, out)
    judge("512/128 pinv, RTPGHI + 16 GL", model(phase="rtpghi"), items, out)
    judge("512/128 pinv, zero phase + 16 GL", model(phase="griffin_lim"), items, out)
    judge("512/128 pinv, zero phase + 32 GL", model(phase="griffin_lim", gl_iters=32), items, out)
    judge("512/128 pinv ** 1.2, PGHI + 16 GL", model(power=1.2), items, out)
    for n_fft, hop in ((512, 128), (1024, 256)):
        for n in (0, 16):
            judge(f"ceiling: true {n_fft}/{hop} magnitude, PGHI + {n} GL", ceiling(n_fft, hop, n), items, out)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()
