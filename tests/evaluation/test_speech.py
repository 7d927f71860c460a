"""Pair metrics: best scores for identical signals, closed forms, monotonic degradation with noise, file pairing."""

import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
from scipy.signal import lfilter

from speechgen.audio import io
from speechgen.errors import AudioError, DataError
from speechgen.evaluation import speech as S

SR = 16_000


def speechlike(sr: int = SR, seconds: float = 1.5, f0_shift: float = 0.0) -> np.ndarray:
    """Harmonic source with a gliding F0 through four fixed formant resonators, three 'syllables' with pauses."""
    n = int(sr * seconds)
    t = np.arange(n) / sr
    f0 = 110.0 + 40.0 * np.sin(2 * np.pi * 0.7 * t) + 20.0 * t + f0_shift
    phase = 2 * np.pi * np.cumsum(f0) / sr
    src = sum(np.cos(k * phase) / k for k in range(1, 21)) + 0.02 * np.random.default_rng(0).standard_normal(n)
    y = np.zeros(n)
    for fc, bw in ((700, 90), (1200, 110), (2600, 160), (3500, 200)):
        r, th = np.exp(-np.pi * bw / sr), 2 * np.pi * fc / sr
        y += lfilter([1 - r], [1, -2 * r * np.cos(th), r * r], src)
    y *= np.sqrt(np.clip(np.sin(2 * np.pi * 2.0 * t), 0, None))
    return (0.5 * y / np.abs(y).max()).astype(np.float32)


def espeak(text: str = "seven three nine") -> np.ndarray | None:
    exe = shutil.which("espeak-ng")
    if exe is None:
        return None
    wav = subprocess.run([exe, "--stdout", text], capture_output=True, check=True).stdout
    import io as _io

    import soundfile as sf

    x, sr = sf.read(_io.BytesIO(wav), dtype="float32")
    return io.resample(x, sr, SR)


def add_noise(x: np.ndarray, snr_db: float, seed: int = 1) -> np.ndarray:
    noise = np.random.default_rng(seed).standard_normal(len(x))
    return x + noise * np.sqrt(np.mean(x.astype(np.float64) ** 2) / 10 ** (snr_db / 10))


@pytest.fixture(scope="module")
def voice() -> np.ndarray:
    return speechlike()


def test_identical_signals_score_best(voice):
    m = S.compare_pair(voice, voice, SR)
    assert list(m) == list(S.METRICS)
    assert m["pesq"] == pytest.approx(4.644, abs=0.01)
    assert m["stoi"] == pytest.approx(1.0, abs=1e-6)
    assert m["mcd"] == m["mrstft"] == m["lsd"] == m["f0_rmse"] == m["vuv_error"] == 0.0


@pytest.mark.filterwarnings("ignore:F0 RMSE undefined")
@pytest.mark.parametrize("source", ["synthetic", "espeak-ng"])
def test_noise_degrades_monotonically(source, voice):
    x = voice if source == "synthetic" else espeak()
    if x is None:
        pytest.skip("espeak-ng is not on PATH")
    rows = [S.compare_pair(x, add_noise(x, snr), SR) for snr in (30, 20, 10, 0)]
    for key in ("pesq", "stoi", "mcd", "mrstft", "lsd"):
        values = [r[key] for r in rows]
        order = np.diff(values) < 0 if S.HIGHER_IS_BETTER[key] else np.diff(values) > 0
        assert order.all(), f"{key} not monotonic over SNR 30..0 dB: {values}"
    assert rows[0]["stoi"] > 0.9 and rows[0]["pesq"] < 4.0 and rows[-1]["pesq"] < 1.5


def test_gain_closed_forms():
    n = np.random.default_rng(2).standard_normal(SR).astype(np.float64) * 0.1
    g = 0.5
    assert S.log_spectral_distance(n, g * n, SR, top_db=300) == pytest.approx(-20 * np.log10(g), rel=1e-9)
    assert S.log_spectral_distance(n, g * n, SR) == pytest.approx(-20 * np.log10(g), rel=1e-4)  # few bins floored
    assert S.mrstft_distance(n, g * n, SR) == pytest.approx((1 - g) - np.log(g), rel=1e-5)  # 1e-7 power floor
    assert S.mel_cepstral_distortion(n, g * n, SR) == pytest.approx(0.0, abs=1e-9)  # level lives in c0 only


def test_mcd_scale_matches_log_spectral_rms():
    # a spectral tilt: MCD = RMS over mel bands (mean removed) of half the dB difference, for all c_d kept
    x = np.random.default_rng(3).standard_normal(SR // 2)
    y = lfilter([1.0, -0.5], [1.0], x)
    full = S.mel_cepstral_distortion(x, y, SR, n_ceps=79)
    cx, cy = (S.mel_cepstrum(s, SR, n_ceps=79) for s in (x, y))
    assert full == pytest.approx(np.mean(10 / np.log(10) * np.sqrt(2 * ((cx - cy) ** 2).sum(0))), rel=1e-12)
    assert 0.5 < S.mel_cepstral_distortion(x, y, SR) <= full


def test_f0_rmse_and_vuv():
    a, b = speechlike(), speechlike(f0_shift=10.0)
    assert S.f0_rmse(a, b, SR) == pytest.approx(10.0, abs=1.0)
    assert S.vuv_error(a, b, SR) < 0.05
    assert S.vuv_error(a, np.zeros_like(a), SR) > 0.3
    with pytest.warns(RuntimeWarning, match="no frame is voiced in both"):
        assert np.isnan(S.f0_rmse(a, np.zeros_like(a), SR))


def test_a_silent_estimate_scores_the_pesq_floor_not_an_error(voice):
    with pytest.warns(RuntimeWarning, match="estimate is silent"):
        silent = S.pesq_wb(voice, np.zeros_like(voice), SR)
    quiet = S.pesq_wb(voice, 1e-4 * np.random.default_rng(1).standard_normal(len(voice)), SR)
    assert 1.0 < silent < 1.1 and silent == pytest.approx(quiet, abs=0.02)
    with pytest.warns(RuntimeWarning):  # the other metrics of a silent estimate do not raise
        m = S.compare_pair(voice, np.zeros_like(voice), SR)
    assert m["pesq"] == silent


def test_lengths_are_cropped_to_the_shorter(voice):
    longer = np.concatenate([voice, np.ones(1000, np.float32)])
    assert S.mel_cepstral_distortion(voice, longer, SR) == 0.0
    assert S.log_spectral_distance(longer, voice, SR) == 0.0


def test_undefined_values_are_nan_with_warnings(voice):
    with pytest.warns(RuntimeWarning, match="shorter than 0.25 s"):
        assert np.isnan(S.pesq_wb(voice[:3000], voice[:3000], SR))
    with pytest.warns(RuntimeWarning, match="PESQ undefined"):
        assert np.isnan(S.pesq_wb(np.zeros(SR), voice[:SR], SR))
    with pytest.warns(RuntimeWarning, match="STOI undefined: the reference is silent"):
        assert np.isnan(S.stoi(np.zeros(SR), voice[:SR], SR))
    with pytest.warns(RuntimeWarning, match="STOI undefined: too few"):
        assert np.isnan(S.stoi(voice[:3000], voice[:3000], SR))


def test_bad_audio_raises():
    with pytest.raises(AudioError, match="NaN"):
        S.compare_pair(np.array([0.0, np.nan] * 8000), np.zeros(16000), SR)
    with pytest.raises(AudioError, match="mono"):
        S.mrstft_distance(np.zeros((2, 100)), np.zeros(100))
    with pytest.raises(AudioError, match="no samples"):
        S.stoi(np.zeros(0), np.zeros(10), SR)


def test_compare_dirs_pairs_by_relative_path_and_resamples(tmp_path, voice):
    ref, est = tmp_path / "ref", tmp_path / "est"
    io.save(ref / "a.wav", voice, SR)
    io.save(ref / "sub" / "b.wav", voice[::-1].copy(), SR)
    io.save(est / "a.flac", io.resample(voice, SR, 22_050), 22_050)  # other format and rate
    io.save(est / "sub" / "b.wav", add_noise(voice[::-1], 10), SR)
    (est / "notes.txt").write_text("not audio")
    out = S.compare_dirs(ref, est)
    assert [r["name"] for r in out["files"]] == ["a.wav", "sub/b.wav"]
    a, b = out["files"]
    assert a["pesq"] > 4.3 and a["stoi"] > 0.99 and a["mcd"] < 0.5
    assert b["pesq"] < 2.0 and b["mcd"] > a["mcd"]
    assert out["mean"]["mcd"] == pytest.approx((a["mcd"] + b["mcd"]) / 2)


def test_match_pairs_errors(tmp_path, voice):
    ref, est, empty = tmp_path / "ref", tmp_path / "est", tmp_path / "empty"
    for name in ("a", "b", "c"):
        io.save(ref / f"{name}.wav", voice, SR)
    io.save(est / "a.wav", voice, SR)
    io.save(est / "z.wav", voice, SR)
    empty.mkdir()
    with pytest.raises(DataError, match=r"lacks 2 estimate\(s\): b, c; .* lacks 1 reference\(s\): z"):
        S.match_pairs(ref, est)
    with pytest.raises(DataError, match="no audio files"):
        S.match_pairs(empty, est)
    with pytest.raises(DataError, match="not a folder with a file"):
        S.match_pairs(ref, est / "a.wav")
    with pytest.raises(DataError, match="no such file or folder"):
        S.match_pairs(ref, tmp_path / "missing")
    assert S.match_pairs(ref / "a.wav", est / "z.wav") == [("a.wav", ref / "a.wav", est / "z.wav")]


def test_summarise_skips_nan():
    rows = [dict.fromkeys(S.METRICS, 1.0), {**dict.fromkeys(S.METRICS, 3.0), "pesq": float("nan")}]
    rows[0]["f0_rmse"] = rows[1]["f0_rmse"] = float("nan")
    mean = S.summarise(rows)["mean"]
    assert mean["pesq"] == 1.0 and mean["stoi"] == 2.0 and np.isnan(mean["f0_rmse"])


def _bursts(seconds: float, sr: int = 16000) -> np.ndarray:
    """Speech-like 0.3-s bursts 0.3 s apart: many PESQ utterances (the pesq C library's table overflows at ~50)."""
    rng = np.random.default_rng(1)
    t = np.arange(int(0.3 * sr)) / sr
    burst = 0.3 * np.sin(2 * np.pi * 180 * t) * np.sin(np.pi * t / 0.3) + 0.02 * rng.standard_normal(len(t))
    unit = np.concatenate([burst, np.zeros(int(0.3 * sr))])
    return np.tile(unit, int(np.ceil(seconds * sr / len(unit))))[: int(seconds * sr)]


@pytest.mark.slow
def test_long_pairs_are_scored_in_windows_and_never_crash(tmp_path):
    """65 s of dense utterances killed the process (exit 139) in the pesq library; now windows of <= 20 s."""
    import soundfile as sf

    x = _bursts(65)
    y = x + 0.003 * np.random.default_rng(2).standard_normal(len(x))
    sf.write(tmp_path / "ref.wav", x, 16000)
    sf.write(tmp_path / "est.wav", y, 16000)
    out = subprocess.run([sys.executable, "-m", "speechgen.cli.main", "compare", str(tmp_path / "ref.wav"),
                          str(tmp_path / "est.wav"), "--json", str(tmp_path / "m.json")], capture_output=True,
                         text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    pesq = json.loads((tmp_path / "m.json").read_text())["mean"]["pesq"]
    assert 1.0 < pesq < 4.7


def test_window_weights_and_warning(monkeypatch):
    x = _bursts(9)
    y = x + 0.003 * np.random.default_rng(2).standard_normal(len(x))
    whole = S.pesq_wb(x, y, 16000)
    monkeypatch.setattr(S, "PESQ_WINDOW_SECONDS", 3.0)
    with pytest.warns(RuntimeWarning, match=r"PESQ of a 9\.0-s pair: the duration-weighted mean over 3 windows"):
        windowed = S.pesq_wb(x, y, 16000)
    parts = [S.pesq_wb(x[i * 48000:(i + 1) * 48000], y[i * 48000:(i + 1) * 48000], 16000) for i in range(3)]
    assert windowed == pytest.approx(np.mean(parts), abs=1e-9)
    assert abs(windowed - whole) < 0.3  # the same pair, scored in pieces


def test_a_crash_of_the_native_library_is_a_nan_not_a_dead_process(monkeypatch):
    """The crash guard: windows of PESQ_ISOLATE_SECONDS or more run in a child process."""
    monkeypatch.setattr(S, "PESQ_WINDOW_SECONDS", 1000.0)  # one 40-s window: enough utterances to crash
    x = _bursts(40)
    with pytest.warns(RuntimeWarning, match=r"the pesq library crashed \(signal 11\)"):
        assert np.isnan(S.pesq_wb(x, x + 1e-3, 16000))


def test_files_of_very_different_lengths_are_refused(tmp_path, voice):
    """A 10-sample estimate against a 1-s reference was cropped to 10 samples and scored with exit 0."""
    import soundfile as sf

    sf.write(tmp_path / "ref.wav", voice, 16000)
    sf.write(tmp_path / "est.wav", voice[:10], 16000)
    with pytest.raises(DataError, match=r"est\.wav: 0\.001 s against 1\.\d+ s of its reference .*too different"):
        S.compare_files(tmp_path / "ref.wav", tmp_path / "est.wav")
    sf.write(tmp_path / "close.wav", voice[: int(0.9 * len(voice))], 16000)  # a copy a little shorter: fine
    assert np.isfinite(S.compare_files(tmp_path / "ref.wav", tmp_path / "close.wav")["stoi"])
