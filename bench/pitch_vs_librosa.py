"""F0 tracker against librosa's YIN and pYIN on an 80 -> 400 Hz harmonic glide (2 s, 16 kHz): gross-error rate
(> 20 % off), median relative error against the analytic frequency, and time per second of audio.

    python bench/pitch_vs_librosa.py

Needs librosa (the dev extra). Kept out of the tests because librosa's numba kernels crashed CI workers.
"""

from __future__ import annotations

import time

import numpy as np

from speechgen.audio import pitch

SR, HOP = 16000, 256


def glide() -> tuple[np.ndarray, np.ndarray]:
    """A five-harmonic exponential glide and its true F0 at each frame centre."""
    n = 2 * SR
    t = np.arange(n) / SR
    f_inst = 80.0 * np.exp(np.log(5.0) * t / t[-1])
    phase = 2 * np.pi * np.cumsum(f_inst) / SR
    x = sum(np.sin(k * phase + 0.7 * k) / k for k in range(1, 6))
    truth = f_inst[np.minimum(np.arange(1 + n // HOP) * HOP, n - 1)]
    return (0.5 * x / np.max(np.abs(x))).astype(np.float32), truth


def main() -> None:
    import librosa

    x, truth = glide()
    seconds = len(x) / SR
    trackers = {
        "speechgen.f0": lambda: pitch.f0(x, SR, hop_length=HOP, fmin=60.0, fmax=500.0)[0],
        "librosa.yin": lambda: librosa.yin(x, fmin=60.0, fmax=500.0, sr=SR, frame_length=1024, hop_length=HOP),
        "librosa.pyin": lambda: librosa.pyin(x, fmin=60.0, fmax=500.0, sr=SR, frame_length=1024, hop_length=HOP)[0],
    }
    inner = slice(4, -4)
    print(f"{'tracker':<14} {'gross %':>8} {'median %':>9} {'ms per s':>9}")
    for name, fn in trackers.items():
        est = fn()  # warm-up (numba compiles on first call)
        best = min(_timed(fn) for _ in range(3))
        rel = np.abs(np.nan_to_num(est[inner]) / truth[inner] - 1.0)
        print(f"{name:<14} {100 * np.mean(rel > 0.2):8.2f} {100 * np.median(rel):9.3f} {1000 * best / seconds:9.1f}")


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


if __name__ == "__main__":
    main()
