"""How much harmonic structure a 512/128 magnitude has, and how close the iSTFT vocoder's magnitude priors (and
trained heads) come to it (docs/vocoders.md, The PGHI head): on seeded random test-split clips of a corpus, per
frequency region, over the voiced frames (YIN voicing of the ``log_mel_f0`` feature) and the bins within 50 dB of
the clip's loudest,

- *harmonic contrast*: the mean log-magnitude within 0.1 F0 of a harmonic ``k · F0`` minus that beyond 0.4 F0
  (nats), of the clips' true 512/128 STFT magnitude and of each prior;
- *log-magnitude L1* to the true magnitude (nats; each prior's constant offset removed, since the head learns one):
  the plain mel pseudo-inverse prior, the harmonic-comb prior (``f0_prior``) at several initial depths, and, with
  ``--run``, a trained vocoder's learned prior (when it has a comb) and its head's prediction;
- *dead bins*: the share of those bins where a prior or head is below the supervised loss's magnitude floor
  (``sqrt(MAG_FLOOR)``, 3.2e-4), where the loss has no gradient (the pseudo-inverse is negative there and the prior
  holds it at 1e-5), and the same with ``prior_fallback`` (the band average bounding the pseudo-inverse).

    OMP_NUM_THREADS=1 python bench/comb_prior.py corpora/digits --n 60 \
        --run runs/istft-vocoder-pghi-cpu --run runs/istft-vocoder-pghi-f0-cpu
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import torch

from speechgen.audio import io as audio_io
from speechgen.data.features import LogMelF0
from speechgen.losses.stft import MAG_FLOOR
from speechgen.models.istft_vocoder import ISTFTVocoder

SR, N_FFT, HOP = 16000, 512, 128
REGIONS = ((0, 500), (500, 1000), (1000, 2000), (2000, 4000), (4000, 8000))
DEPTHS = (0.25, 0.5, 0.75, 0.95)
FALLBACKS = (0.1, 0.3, 1.0)  # prior_fallback


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("corpus", type=Path)
    ap.add_argument("--n", type=int, default=60, help="test clips (seeded random choice)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--run", action="append", default=[], help="a trained 512/128 iSTFT vocoder (repeatable)")
    args = ap.parse_args()
    from speechgen.inference.vocode import load_vocoder

    rows = [r for r in csv.DictReader(open(args.corpus / "manifest.csv", encoding="utf-8")) if r["split"] == "test"]
    pick = np.random.default_rng(args.seed).choice(len(rows), min(args.n, len(rows)), replace=False)
    head = dict(dim=16, intermediate_dim=32, layers=1, n_fft=N_FFT, head_hop=HOP, phase="pghi", mel_prior=True,
                discriminators=False)
    priors = {"pseudo-inverse": ISTFTVocoder(**head).generator}
    priors.update({f"comb, depth {d}": ISTFTVocoder(**head, f0_prior=True, comb_depth=d).generator for d in DEPTHS})
    priors.update({f"pseudo-inverse, fallback {a}": ISTFTVocoder(**head, prior_fallback=a).generator
                   for a in FALLBACKS})
    runs = {}
    for run in args.run:
        model = load_vocoder(run)[0]
        runs[Path(run).name] = model
        if model.generator.comb is not None:
            priors[f"{Path(run).name}: learned comb"] = model.generator
    feature, window = LogMelF0(), torch.hann_window(N_FFT, dtype=torch.float64)
    freqs = np.arange(N_FFT // 2 + 1) * SR / N_FFT
    errors: dict[str, list[list[np.ndarray]]] = {}
    dead: dict[str, np.ndarray] = {}
    counted = np.zeros(len(REGIONS))
    contrast: dict[str, list[list[float]]] = {}
    for i in pick:
        x, _ = audio_io.load(args.corpus / rows[i]["path"], SR)
        feats = torch.from_numpy(feature(x, SR))[None]
        frames = 2 * feats.shape[-1]
        true = torch.stft(torch.from_numpy(x.astype(np.float64)), N_FFT, HOP, window=window, center=True,
                          pad_mode="reflect", return_complex=True).abs().numpy()[:, :frames]
        log_true = np.log(np.maximum(true, 1e-5))
        with torch.no_grad():
            mags = {k: (g.prior(feats if g.comb is not None else feats[:, :80])[0]) for k, g in priors.items()}
            for name, model in runs.items():
                mags[f"{name}: head"] = model.generator.head(feats if model.n_mels == 82 else feats[:, :80])[0][0]
        f0 = np.exp(np.interp(np.arange(frames) / 2, np.arange(feats.shape[-1]), feats[0, 80].numpy()))
        voiced = np.interp(np.arange(frames) / 2, np.arange(feats.shape[-1]), feats[0, 81].numpy()) > 0.99
        keep = (log_true > log_true.max() - 50 / 8.686) & voiced[None, :]
        phase = (freqs[:, None] / f0[None, :]) % 1.0
        phase = np.minimum(phase, 1.0 - phase)
        for name, mag in [("true magnitude", true)] + [(k, v.double().numpy()) for k, v in mags.items()]:
            log_mag = np.log(np.maximum(mag, 1e-5))
            per_c, per_e = [], []
            for r, (lo, hi) in enumerate(REGIONS):
                m = keep & ((freqs >= lo) & (freqs < hi))[:, None]
                if name == "true magnitude":
                    counted[r] += m.sum()
                dead.setdefault(name, np.zeros(len(REGIONS)))[r] += (m & (mag < np.sqrt(MAG_FLOOR))).sum()
                on, off = m & (phase < 0.1), m & (phase > 0.4)
                per_c.append(log_mag[on].mean() - log_mag[off].mean() if on.sum() > 5 and off.sum() > 5 else np.nan)
                per_e.append((log_true - log_mag)[m])
            contrast.setdefault(name, []).append(per_c)
            errors.setdefault(name, []).append(per_e)
    head_cells = " | ".join(f"{lo / 1000:g}-{hi / 1000:g} kHz" for lo, hi in REGIONS)
    print(f"{len(pick)} clips; voiced frames, bins within 50 dB of each clip's peak\n")
    print(f"| harmonic contrast (nats) | {head_cells} |\n|---|" + "---|" * len(REGIONS))
    for name, vals in contrast.items():
        print(f"| {name} | " + " | ".join(f"{v:+.2f}" for v in np.nanmean(np.array(vals), axis=0)) + " |")
    print(f"\n| log-magnitude L1 to the true magnitude (nats) | {head_cells} | all |\n|---|" + "---|" * (len(REGIONS) + 1))
    for name, clips in errors.items():
        if name == "true magnitude":
            continue
        offset = np.median(np.concatenate([e for clip in clips for e in clip]))
        cells = [np.abs(np.concatenate([clip[r] for clip in clips]) - offset).mean() for r in range(len(REGIONS))]
        total = np.abs(np.concatenate([e for clip in clips for e in clip]) - offset).mean()
        print(f"| {name} | " + " | ".join(f"{c:.3f}" for c in cells) + f" | {total:.3f} |")
    print(f"\n| dead bins (below the loss floor) | {head_cells} |\n|---|" + "---|" * len(REGIONS))
    for name, n in dead.items():
        print(f"| {name} | " + " | ".join(f"{100 * v:.1f} %" for v in n / np.maximum(counted, 1)) + " |")


if __name__ == "__main__":
    main()
