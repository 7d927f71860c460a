"""A DSP baseline for the vocoder table: log-mel -> pseudo-inverse of the mel filterbank -> Griffin-Lim.

Writes, for every WAV under REFERENCE, OUT/REL.wav re-synthesised from its 80-band log-mel (the vocoders' feature,
docs/data.md, Features: n_fft 1024, hop 256, 0-8 kHz) with the magnitude recovered by the filterbank's pseudo-inverse
(clipped at 0) and the phase by fast Griffin-Lim (64 iterations). Judge it like a vocoder:

    scripts/judge_vocoder.sh runs/istft-vocoder-cpu          # makes .../copy-synthesis/reference
    python bench/griffin_lim_baseline.py runs/istft-vocoder-cpu/copy-synthesis/reference out/gl-baseline
    speechgen compare runs/istft-vocoder-cpu/copy-synthesis/reference out/gl-baseline --json out/gl-baseline.json
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from speechgen.audio import io as audio_io
from speechgen.audio.phase import griffin_lim
from speechgen.audio.spectral import log_mel, mel_filterbank

SR, N_FFT, HOP, N_MELS, FMAX = 16000, 1024, 256, 80, 8000.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reference", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--iters", type=int, default=64)
    args = ap.parse_args()
    pinv = np.linalg.pinv(mel_filterbank(SR, N_FFT, N_MELS, 0.0, FMAX))
    seconds = audio_s = 0.0
    for path in sorted(args.reference.rglob("*.wav")):
        x, _ = audio_io.load(path, SR)
        t = time.perf_counter()
        magnitude = np.maximum(pinv @ np.exp(log_mel(x, SR, N_FFT, HOP, N_FFT, N_MELS, 0.0, FMAX)), 0.0)
        y = griffin_lim(magnitude, HOP, N_FFT, n_iter=args.iters, length=len(x))
        seconds += time.perf_counter() - t
        audio_s += len(x) / SR
        audio_io.save(args.out / path.relative_to(args.reference), y.astype(np.float32), SR)
    print(f"{args.out}: {audio_s:.0f} s of audio, {audio_s / seconds:.1f}x real time")


if __name__ == "__main__":
    main()
