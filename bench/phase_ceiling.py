"""The true-magnitude ceiling of a phase method: every WAV under REFERENCE re-synthesised from the magnitude of its own
STFT (Hann, centred, reflect padding) with the phase of :func:`speechgen.audio.phase.reconstruct` (PGHI, RTPGHI or
Griffin-Lim from random phase, then ``--gl-iters`` fast Griffin-Lim iterations). Judged like a vocoder, it shows how
much of a vocoder's gap is its magnitude (docs/vocoders.md, The DSP vocoder):

    python bench/phase_ceiling.py REF out/ceiling-pghi16 --n-fft 512 --hop 128 --method pghi --gl-iters 16
    speechgen compare REF out/ceiling-pghi16 --json out/ceiling-pghi16.json

Prints the speed (× real time: seconds of audio per second of phase reconstruction and inverse STFT, torch float32,
the threads torch was given).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from speechgen.audio import io as audio_io
from speechgen.audio.phase import RECONSTRUCT_METHODS, reconstruct
from speechgen.audio.spectral import stft

SR = 16000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("reference", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--n-fft", type=int, default=512)
    ap.add_argument("--hop", type=int, default=128)
    ap.add_argument("--method", choices=RECONSTRUCT_METHODS, default="pghi")
    ap.add_argument("--gl-iters", type=int, default=16)
    args = ap.parse_args()
    seconds = audio_s = 0.0
    for path in audio_io.find_audio(args.reference):
        x, _ = audio_io.load(path, SR)
        mag = torch.from_numpy(np.abs(stft(x, args.n_fft, args.hop))).float()
        t = time.perf_counter()
        y = reconstruct(mag, args.hop, args.n_fft, method=args.method, gl_iters=args.gl_iters, length=len(x))
        seconds += time.perf_counter() - t
        audio_s += len(x) / SR
        audio_io.save(args.out / path.relative_to(args.reference).with_suffix(".wav"), y.numpy(), SR)
    print(f"{args.out}: {audio_s:.0f} s of audio, {audio_s / seconds:.1f}x real time")


if __name__ == "__main__":
    main()
