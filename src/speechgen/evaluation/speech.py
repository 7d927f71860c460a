"""Pair metrics: how close an estimate (vocoder output, copy-synthesis, codec) is to its reference recording.

Every metric takes ``(ref, est, sr)``: two mono signals at one sample rate ``sr``. They are compared sample for
sample, so they must be time-aligned; when their lengths differ both are cropped to the shorter (no DTW, no
delay search). Non-finite, empty or multi-channel input raises :class:`~speechgen.errors.AudioError`.

=============  ===================================================================================  ======
key            definition                                                                           better
=============  ===================================================================================  ======
``pesq``       ITU-T P.862.2 wide-band PESQ (``pesq`` package, MOS-LQO 1.04-4.64) at 16 kHz         higher
``stoi``       short-time objective intelligibility (``pystoi``, 0-1)                               higher
``mcd``        mel-cepstral distortion in dB over c1..c24, frame by frame, averaged                 lower
``mrstft``     multi-resolution STFT distance, Parallel WaveGAN resolutions                         lower
``lsd``        log-spectral distance in dB (n_fft 2048, hop 512, 80 dB range below the ref's peak)  lower
``f0_rmse``    RMS F0 difference in Hz over frames voiced in both (YIN, 10 ms hop)                  lower
``vuv_error``  share of frames whose voiced/unvoiced decision differs                               lower
=============  ===================================================================================  ======

Undefined values are NaN (with a :class:`RuntimeWarning` saying why) rather than errors, so one odd clip does not
stop a folder comparison: PESQ of clips shorter than 0.25 s or without detectable speech, STOI of a silent
reference or of clips with fewer than 30 non-silent frames (about 0.4 s), F0 RMSE when no frame is voiced in
both. Means skip NaN values.

Folder comparison: :func:`match_pairs` pairs files by relative path without extension, :func:`compare_files`
loads one pair (the estimate resampled to the reference's rate), :func:`compare_dirs` does both and
:func:`summarise` adds the means.
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from speechgen.audio import io, pitch, spectral
from speechgen.errors import AudioError, DataError

__all__ = [
    "METRICS", "HIGHER_IS_BETTER", "PWG_RESOLUTIONS", "align", "pesq_wb", "stoi", "mel_cepstrum",
    "mel_cepstral_distortion", "mrstft_distance", "log_spectral_distance", "f0_rmse", "vuv_error", "compare_pair",
    "match_pairs", "compare_files", "compare_dirs", "summarise", "format_metric",
]

METRICS = ("pesq", "stoi", "mcd", "mrstft", "lsd", "f0_rmse", "vuv_error")
HIGHER_IS_BETTER = {"pesq": True, "stoi": True, "mcd": False, "mrstft": False, "lsd": False, "f0_rmse": False,
                    "vuv_error": False}
# (key, column title, format) in display order (`speechgen compare`'s table, its HTML page, the web app); V/UV is
# shown in percent.
COLUMNS = (
    ("pesq", "PESQ", "{:.3f}"), ("stoi", "STOI", "{:.3f}"), ("mcd", "MCD dB", "{:.2f}"),
    ("mrstft", "MR-STFT", "{:.3f}"), ("lsd", "LSD dB", "{:.2f}"), ("f0_rmse", "F0 RMSE Hz", "{:.1f}"),
    ("vuv_error", "V/UV %", "{:.1f}"),
)
# (n_fft, hop_length, win_length) of Parallel WaveGAN's multi-resolution STFT loss (Yamamoto et al. 2020).
PWG_RESOLUTIONS = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))
PESQ_RATE = 16_000
MIN_LENGTH_RATIO = 0.5  # compare_files: the shorter file of a pair is at least this share of the longer
PESQ_MIN_SECONDS = 0.25
#: PESQ of a longer pair is the duration-weighted mean over equal windows of at most this length: the pesq C
#: library overruns a fixed table of about 50 utterances and kills the process (measured: 30 s of 0.2-s bursts
#: 0.3 s apart, 40 s of 0.3-s bursts, 100 s of digit clips 0.6 s apart; 20 s holds at most ~40 utterances)
PESQ_WINDOW_SECONDS = 20.0
#: windows at least this long are scored in a forked child process, so that a crash of the C library costs a NaN
#: with a warning, never the process
PESQ_ISOLATE_SECONDS = 5.0


# ------------------------------------------------------------------------------------------------- helpers
def _mono(x: np.ndarray, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 1:
        raise AudioError(f"{name}: expected a mono signal of shape (samples,), got {a.shape}")
    io.validate(a, name)
    return a.astype(np.float64)


def align(ref: np.ndarray, est: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Validate two mono signals (AudioError if invalid) and crop both to the shorter length; float64."""
    r, e = _mono(ref, "reference"), _mono(est, "estimate")
    n = min(len(r), len(e))
    return r[:n], e[:n]


def _rate(sr: int) -> int:
    if isinstance(sr, bool) or not isinstance(sr, (int, np.integer)) or sr <= 0:
        raise AudioError(f"sample rate must be a positive integer, got {sr!r}")
    return int(sr)


def _nan(reason: str) -> float:
    warnings.warn(reason, RuntimeWarning, stacklevel=3)
    return float("nan")


def format_metric(key: str, value: float | None) -> str:
    """A pair metric as displayed (the format of :data:`COLUMNS`, V/UV in percent); "-" when undefined."""
    if value is None or not np.isfinite(value):
        return "-"
    fmt = next(f for k, _, f in COLUMNS if k == key)
    return fmt.format(100.0 * value if key == "vuv_error" else value)


def _stft_mag(x: np.ndarray, n_fft: int, hop: int, win: int | None = None) -> np.ndarray:
    """|STFT| (hann, centred); reflect padding, or zero padding for signals too short to reflect."""
    mode = "reflect" if x.shape[-1] > n_fft // 2 else "constant"
    return np.abs(spectral.stft(x, n_fft, hop, win, pad_mode=mode))


# ----------------------------------------------------------------------------------------- perceptual metrics
def pesq_wb(ref: np.ndarray, est: np.ndarray, sr: int) -> float:
    """Wide-band PESQ (P.862.2) of ``est`` against ``ref``; both are resampled to 16 kHz first (soxr VHQ).

    NaN with a warning for clips shorter than 0.25 s and when the ``pesq`` library finds no utterance. An all-zero
    estimate scores as inaudible noise would (about 1.04, the floor), with a warning. A pair longer than
    :data:`PESQ_WINDOW_SECONDS` is scored over equal windows no longer than that (duration-weighted mean of the
    windows with an utterance; a warning says so); windows of :data:`PESQ_ISOLATE_SECONDS` or more run in a child
    process (NaN with a warning if the library crashes there).
    """
    r, e = align(ref, est)
    sr = _rate(sr)
    if len(r) < PESQ_MIN_SECONDS * sr:
        return _nan(f"PESQ undefined for clips shorter than {PESQ_MIN_SECONDS} s ({len(r) / sr:.3f} s): NaN")
    r16, e16 = (io.resample(x, sr, PESQ_RATE) for x in (r, e))
    if not np.any(e16):
        # The pesq library fails on an all-zero estimate (NaN inside its level alignment). Score it as inaudible
        # noise instead: any estimate at -160 dBFS scores the scale's floor (about 1.04), which is what a silent
        # output deserves; NaN would drop it from the means and flatter a model that outputs silence.
        warnings.warn("PESQ: the estimate is silent; scored as inaudible noise (the scale's floor)", RuntimeWarning,
                      stacklevel=2)
        e16 = 1e-8 * np.random.default_rng(0).standard_normal(len(e16))
    n = len(r16)
    windows = max(1, int(np.ceil(n / (PESQ_WINDOW_SECONDS * PESQ_RATE))))
    if windows == 1:
        value, reason = _pesq_window(r16, e16)
        return value if reason is None else _nan(reason)
    bounds = np.linspace(0, n, windows + 1).round().astype(int)
    scores, weights, reasons = [], [], []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        value, reason = _pesq_window(r16[lo:hi], e16[lo:hi])
        if reason is None:
            scores.append(value)
            weights.append(hi - lo)
        else:
            reasons.append(reason)
    warnings.warn(f"PESQ of a {n / PESQ_RATE:.1f}-s pair: the duration-weighted mean over {windows} windows of "
                  f"{n / windows / PESQ_RATE:.1f} s (the pesq library cannot score long inputs with many "
                  f"utterances){f'; {len(reasons)} window(s) undefined' if reasons else ''}", RuntimeWarning,
                  stacklevel=2)
    if not scores:
        return _nan(f"PESQ undefined in every window ({reasons[0]}): NaN")
    return float(np.average(scores, weights=weights))


def _pesq_window(r16: np.ndarray, e16: np.ndarray) -> tuple[float, str | None]:
    """``(PESQ, None)`` of one 16-kHz window, or ``(nan, reason)`` when it is undefined or the library crashed."""
    import pesq

    if len(r16) >= PESQ_ISOLATE_SECONDS * PESQ_RATE and hasattr(os, "fork"):
        return _in_child(lambda: pesq.pesq(PESQ_RATE, r16, e16, "wb"))
    try:
        return float(pesq.pesq(PESQ_RATE, r16, e16, "wb")), None
    except pesq.PesqError as exc:
        return float("nan"), f"PESQ undefined ({type(exc).__name__}: {exc}): NaN"


def _in_child(score: Any) -> tuple[float, str | None]:
    """Run ``score()`` (a native call returning a float) in a forked child; ``(value, None)``, or ``(nan, reason)``
    when it raised or the child died. The child only calls ``score`` and writes its result to a pipe."""
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: no Python-level locks, no cleanup handlers; just the call
        handler = sys.modules.get("faulthandler")  # its crash report would reach the user's terminal
        if handler is not None:
            handler.disable()
        try:
            try:
                text = f"ok {float(score())!r}"
            except Exception as exc:  # noqa: BLE001 - reported to the parent as text
                text = f"err {type(exc).__name__}: {exc}"
            os.write(write, text.encode("utf-8", "replace")[:4096])
        finally:
            os._exit(0)
    os.close(write)
    chunks = []
    while True:
        chunk = os.read(read, 4096)
        if not chunk:
            break
        chunks.append(chunk)
    os.close(read)
    _, status = os.waitpid(pid, 0)
    text = b"".join(chunks).decode("utf-8", "replace")
    if os.WIFSIGNALED(status):
        return float("nan"), f"PESQ: the pesq library crashed (signal {os.WTERMSIG(status)}) on this pair: NaN"
    if text.startswith("ok "):
        return float(text[3:]), None
    return float("nan"), f"PESQ undefined ({text[4:] or 'no result'}): NaN"


def stoi(ref: np.ndarray, est: np.ndarray, sr: int, extended: bool = False) -> float:
    """STOI (Taal et al. 2011; ESTOI with ``extended=True``) by ``pystoi`` (which resamples to 10 kHz itself).

    NaN with a warning for an all-zero reference and when too few non-silent frames remain (pystoi would
    return 0 and 1e-5).
    """
    from pystoi import stoi as _stoi

    r, e = align(ref, est)
    if not r.any():
        return _nan("STOI undefined: the reference is silent: NaN")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(_stoi(r, e, _rate(sr), extended=extended))
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        return _nan("STOI undefined: too few non-silent frames: NaN")
    return value


# ------------------------------------------------------------------------------------------ spectral metrics
def mel_cepstrum(audio: np.ndarray, sr: int, n_ceps: int = 24, n_mels: int = 80) -> np.ndarray:
    """Mel-cepstral coefficients c1..c_n_ceps ``[n_ceps, frames]`` (c0, the level, excluded).

    MFCC-like: orthonormal DCT-II of the ``n_mels``-band slaney mel power spectrum in dB (0 to sr/2, floor
    -100 dB), hann frames of ~64 ms (``n_fft = 2**round(log2(0.064 sr))``, 1024 at 16 kHz), hop ``n_fft // 4``.
    Scaled by ``ln(10) / (20 sqrt(2 n_mels))`` to the usual cepstrum convention
    ``ln|S(w)| = c0 + 2 sum_d c_d cos(d w)`` on the mel-warped axis, so that the MCD formula's
    ``10/ln10 sqrt(2 sum_d dc_d^2)`` equals the RMS (over mel bands, mean removed) of half the dB difference —
    the same scale as SPTK mel-cepstrum MCD.
    """
    x, sr = _mono(audio, "audio"), _rate(sr)
    n_fft = 2 ** int(round(np.log2(0.064 * sr)))
    if not 0 < n_ceps < n_mels:
        raise AudioError(f"n_ceps must lie in [1, n_mels={n_mels}), got {n_ceps}")
    power = spectral.mel_filterbank(sr, n_fft, n_mels) @ _stft_mag(x, n_fft, n_fft // 4) ** 2
    db = 10.0 * np.log10(np.maximum(power, spectral.MFCC_AMIN))
    return spectral.dct_matrix(n_mels, n_ceps + 1)[1:] @ db * (np.log(10.0) / (20.0 * np.sqrt(2.0 * n_mels)))


def mel_cepstral_distortion(ref: np.ndarray, est: np.ndarray, sr: int, n_ceps: int = 24) -> float:
    """MCD in dB: mean over frames of ``10/ln10 sqrt(2 sum_{d=1..n_ceps} (c_d - ĉ_d)^2)`` (:func:`mel_cepstrum`).

    Frames are paired one to one (no DTW): the pair is assumed time-aligned, as copy-synthesis is.
    """
    r, e = align(ref, est)
    diff = mel_cepstrum(r, sr, n_ceps) - mel_cepstrum(e, sr, n_ceps)
    return float(np.mean(10.0 / np.log(10.0) * np.sqrt(2.0 * (diff**2).sum(axis=0))))


def mrstft_distance(
    ref: np.ndarray, est: np.ndarray, sr: int | None = None,
    resolutions: Sequence[tuple[int, int, int]] = PWG_RESOLUTIONS,
) -> float:
    """Multi-resolution STFT distance = mean spectral convergence + mean log-magnitude L1 over ``resolutions``.

    Per resolution ``(n_fft, hop, win)`` (hann, centred): SC = ``‖|S|-|Ŝ|‖_F / ‖|S|‖_F`` and
    ``mean |ln|S| - ln|Ŝ||`` with power floored at 1e-7, as in Parallel WaveGAN's auxiliary loss. The
    resolutions are in samples (PWG's, tuned for 22-24 kHz; used as they are at every rate), so ``sr`` is unused.
    """
    r, e = align(ref, est)
    sc, mag = [], []
    for n_fft, hop, win in resolutions:
        a, b = (np.sqrt(np.maximum(_stft_mag(x, n_fft, hop, win) ** 2, 1e-7)) for x in (r, e))
        sc.append(np.linalg.norm(a - b) / np.linalg.norm(a))
        mag.append(np.mean(np.abs(np.log(a) - np.log(b))))
    return float(np.mean(sc) + np.mean(mag))


def log_spectral_distance(
    ref: np.ndarray, est: np.ndarray, sr: int | None = None, n_fft: int = 2048, hop_length: int = 512,
    top_db: float = 80.0,
) -> float:
    """LSD in dB: mean over frames of ``sqrt(mean_f (10 log10 P - 10 log10 P̂)^2)``.

    Hann frames of ``n_fft`` samples, centred, hop ``hop_length`` (the bandwidth-extension literature's 2048/512).
    Both power spectrograms are floored ``top_db`` dB below the reference's peak, so digital silence (zero
    padding) against faint noise counts as at most ``top_db`` dB rather than an arbitrary absolute floor; this
    also makes LSD independent of the overall level. ``sr`` is unused.
    """
    r, e = align(ref, est)
    pr, pe = (_stft_mag(x, n_fft, hop_length) ** 2 for x in (r, e))
    floor = max(float(pr.max()), 1e-20) * 10.0 ** (-float(top_db) / 10.0)
    a, b = (10.0 * np.log10(np.maximum(p, floor)) for p in (pr, pe))
    return float(np.mean(np.sqrt(np.mean((a - b) ** 2, axis=0))))


# ---------------------------------------------------------------------------------------------- F0 metrics
def _f0_pair(ref: np.ndarray, est: np.ndarray, sr: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """YIN F0 and voicing of both signals: 10 ms hop, 50-500 Hz, frames long enough for two 50 Hz periods."""
    r, e = align(ref, est)
    sr = _rate(sr)
    frame = 1 << int(np.ceil(np.log2(2 * np.ceil(sr / 50.0) + 2)))
    hop = max(1, sr // 100)
    (fr, vr), (fe, ve) = (pitch.f0(x, sr, hop_length=hop, frame_length=frame) for x in (r, e))
    return fr, vr, fe, ve


def f0_rmse(ref: np.ndarray, est: np.ndarray, sr: int) -> float:
    """RMS F0 difference in Hz over frames voiced in both signals; NaN (with a warning) when there are none."""
    return _f0_rmse(*_f0_pair(ref, est, sr))


def _f0_rmse(fr: np.ndarray, vr: np.ndarray, fe: np.ndarray, ve: np.ndarray) -> float:
    both = vr & ve
    if not both.any():
        return _nan("F0 RMSE undefined: no frame is voiced in both signals: NaN")
    return float(np.sqrt(np.mean((fr[both] - fe[both]) ** 2)))


def vuv_error(ref: np.ndarray, est: np.ndarray, sr: int) -> float:
    """Share of frames (0-1) whose voiced/unvoiced decision differs between the two signals."""
    _, vr, _, ve = _f0_pair(ref, est, sr)
    return float(np.mean(vr != ve))


# ------------------------------------------------------------------------------------------------- pairs
def compare_pair(ref: np.ndarray, est: np.ndarray, sr: int) -> dict[str, float]:
    """All pair metrics of :data:`METRICS` for one aligned pair at sample rate ``sr``."""
    r, e = align(ref, est)
    fr, vr, fe, ve = _f0_pair(r, e, sr)
    return {
        "pesq": pesq_wb(r, e, sr),
        "stoi": stoi(r, e, sr),
        "mcd": mel_cepstral_distortion(r, e, sr),
        "mrstft": mrstft_distance(r, e, sr),
        "lsd": log_spectral_distance(r, e, sr),
        "f0_rmse": _f0_rmse(fr, vr, fe, ve),
        "vuv_error": float(np.mean(vr != ve)),
    }


def _index(root: Path) -> dict[str, Path]:
    files = io.find_audio(root)
    if not files:
        raise DataError(f"{root}: no audio files (looked for {', '.join(sorted(io.AUDIO_EXTENSIONS))})")
    out: dict[str, Path] = {}
    for f in files:
        key = f.relative_to(root).with_suffix("").as_posix()
        if key in out:
            raise DataError(f"{root}: {out[key].name} and {f.name} have the same name; keep one")
        out[key] = f
    return out


def _listing(keys: list[str], limit: int = 5) -> str:
    more = f" and {len(keys) - limit} more" if len(keys) > limit else ""
    return ", ".join(keys[:limit]) + more


def match_pairs(reference: str | os.PathLike, estimate: str | os.PathLike) -> list[tuple[str, Path, Path]]:
    """Pair two files, or the audio files of two folders by relative path without extension.

    Returns ``[(name, ref_path, est_path)]`` sorted by name (the reference's relative path). Raises
    :class:`DataError` for a missing path, a file paired with a folder, a folder without audio files, or
    folders whose file sets differ (naming the unmatched files).
    """
    ref, est = Path(reference), Path(estimate)
    for p in (ref, est):
        if not p.exists():
            raise DataError(f"{p}: no such file or folder")
    if ref.is_dir() != est.is_dir():
        raise DataError(f"{ref} and {est}: compare two folders or two files, not a folder with a file")
    if not ref.is_dir():
        return [(ref.name, ref, est)]
    refs, ests = _index(ref), _index(est)
    missing, extra = sorted(refs.keys() - ests.keys()), sorted(ests.keys() - refs.keys())
    problems = []
    if missing:
        problems.append(f"{est} lacks {len(missing)} estimate(s): {_listing(missing)}")
    if extra:
        problems.append(f"{ref} lacks {len(extra)} reference(s): {_listing(extra)}")
    if problems:
        raise DataError("unmatched files: " + "; ".join(problems))
    return [(refs[k].relative_to(ref).as_posix(), refs[k], ests[k]) for k in sorted(refs)]


def compare_files(ref_path: str | os.PathLike, est_path: str | os.PathLike) -> dict[str, float]:
    """Load a pair (mono; the estimate resampled to the reference's rate) and return :func:`compare_pair`.

    DataError when one file is less than half as long as the other: the pair would be cropped to the shorter and
    the metrics would describe a fragment (a vocoder's copy differs from its input by at most a hop or two).
    """
    ref, sr = io.load(ref_path)
    est, _ = io.load(est_path, sample_rate=sr)
    if min(len(ref), len(est)) < MIN_LENGTH_RATIO * max(len(ref), len(est)):
        raise DataError(f"{est_path}: {len(est) / sr:.3f} s against {len(ref) / sr:.3f} s of its reference "
                        f"{ref_path}: too different to compare (the shorter must be at least half the longer)")
    return compare_pair(ref, est, sr)


def summarise(rows: list[dict]) -> dict[str, object]:
    """``{"files": rows, "mean": {metric: mean over rows, NaN skipped (NaN if all are)}}``."""
    mean = {}
    for key in METRICS:
        values = np.array([row[key] for row in rows], dtype=np.float64)
        mean[key] = float(values[~np.isnan(values)].mean()) if (~np.isnan(values)).any() else float("nan")
    return {"files": rows, "mean": mean}


def compare_dirs(reference: str | os.PathLike, estimate: str | os.PathLike) -> dict[str, object]:
    """Compare every matched pair (see :func:`match_pairs`): ``{"files": [{"name", **metrics}], "mean": {...}}``."""
    rows = [{"name": name, **compare_files(r, e)} for name, r, e in match_pairs(reference, estimate)]
    return summarise(rows)
