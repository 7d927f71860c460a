"""Feature extractors (registry, shapes, validation, keys) and the on-disk FeatureCache."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from speechgen.audio import io as audio_io
from speechgen.data.features import (
    FEATURE_VERSION,
    FEATURES,
    FeatureCache,
    LogMel,
    LogMelF0,
    MfccF0,
    StftImage,
    Waveform,
    build_feature,
)
from speechgen.data.manifest import Manifest, make_row
from speechgen.errors import ConfigError


def _tone(freq: float, seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    noise = np.random.default_rng(seed).normal(0, 0.01, t.size)
    return (0.5 * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


@pytest.fixture
def corpus(tmp_path):
    """A manifest of four short tones: three at 16 kHz, one at 8 kHz."""
    specs = [("a.wav", 16000, 220.0, "train"), ("b.wav", 16000, 330.0, "train"),
             ("c.wav", 8000, 180.0, "valid"), ("d.wav", 16000, 140.0, "test")]
    rows = []
    for i, (name, sr, freq, split) in enumerate(specs):
        audio_io.save(tmp_path / name, _tone(freq, 0.6, sr, seed=i), sr)
        rows.append(make_row(name, label=i, text=str(i), speaker=f"s{i}", engine="tone", split=split,
                             duration=0.6, sample_rate=sr))
    Manifest(tmp_path, rows).write()
    return Manifest.read(tmp_path)


@pytest.mark.parametrize(
    "name,shape",
    [
        ("waveform", (9600,)),
        ("stft_image", (2, 128, 128)),
        ("log_mel", (80, 1 + 9600 // 256)),
        ("log_mel_f0", (82, 1 + 9600 // 256)),
        ("mfcc_f0", (22, 1 + 9600 // 256)),
        ("log_magnitude", (513, 1 + 9600 // 256)),
    ],
)
def test_feature_shapes_and_dtype(name, shape):
    x = _tone(220.0, 0.6, 16000)
    y = build_feature(name)(x, 16000)
    assert y.shape == shape and y.dtype == np.float32 and np.isfinite(y).all()


def test_registry_is_explicit_and_complete():
    assert set(FEATURES) == {"waveform", "stft_image", "specgan_image", "log_mel", "log_mel_f0", "mfcc_f0",
                             "log_magnitude"}
    for name, cls in FEATURES.items():
        assert cls.name == name


def test_log_magnitude_is_the_log_mels_stft_and_inverts():
    """log_magnitude: ln(max(|STFT|, eps)) on the log-mel's frames (the mel is its filterbank image), silence
    ln(eps), and PGHI + Griffin-Lim bring a tone back."""
    from speechgen.audio import spectral

    sr = 16000
    x = _tone(440.0, 0.6, sr)
    lin = build_feature("log_magnitude")(x, sr)
    mel = LogMel()(x, sr)
    assert lin.shape[1] == mel.shape[1]
    fb = spectral.mel_filterbank(sr, 1024, 80, 0.0, 8000.0)
    np.testing.assert_allclose(np.log(np.maximum(fb @ np.exp(lin.astype(np.float64)), 1e-5)), mel, atol=2e-3)
    feature = build_feature("log_magnitude", {"n_fft": 512, "win_length": 512})
    assert feature.pad_value == pytest.approx(np.log(1e-5)) and feature.channels == 257
    y = feature.invert(feature(x, sr), length=len(x), n_iter=16)
    assert y.shape == x.shape and y.dtype == np.float32
    def spec(a):
        return np.abs(spectral.stft(a, 512, 256))

    err = np.linalg.norm(spec(y) - spec(x)) / np.linalg.norm(spec(x))
    assert err < 0.2, err


def test_mfcc_f0_rows():
    x = _tone(200.0, 0.6, 16000)
    y = MfccF0()(x, 16000)
    voiced = y[21]
    assert set(np.unique(voiced)) <= {0.0, 1.0} and voiced.mean() > 0.8
    assert np.allclose(np.exp(y[20][voiced == 1]), 200.0, rtol=0.02)


def test_log_mel_f0_rows():
    """log_mel_f0: the 80 log-mel rows exactly (LogMel's), then log F0 (Hz) and 0/1 voicing on the same frames;
    log F0 is interpolated through unvoiced frames (a tone, a silent gap, a tone an octave lower)."""
    sr = 16000
    x = np.concatenate([_tone(200.0, 0.4, sr), np.zeros(int(0.2 * sr), np.float32), _tone(100.0, 0.4, sr, seed=1)])
    y = LogMelF0()(x, sr)
    assert y.shape == (82, 1 + len(x) // 256) and y.dtype == np.float32
    assert np.array_equal(y[:80], LogMel()(x, sr))
    lf0, voiced = y[80], y[81]
    assert set(np.unique(voiced)) == {0.0, 1.0}
    assert np.allclose(np.exp(lf0[:20][voiced[:20] == 1]), 200.0, rtol=0.02)
    assert np.allclose(np.exp(lf0[-20:][voiced[-20:] == 1]), 100.0, rtol=0.02)
    gap = slice(28, 35)  # ~0.45-0.55 s: silence, unvoiced, F0 between the two tones'
    assert np.all(voiced[gap] == 0) and np.all((lf0[gap] < np.log(200.5)) & (lf0[gap] > np.log(99.5)))
    assert np.all(np.diff(lf0[gap]) <= 1e-6)  # falling from one tone's F0 to the other's
    assert LogMelF0().channels == 82 and LogMel().channels == 80 and MfccF0().channels == 22
    assert LogMelF0(n_mels=64)(x, sr).shape[0] == 66


def test_log_mel_f0_pads_each_row_as_silence():
    """Padding (a clip shorter than a training segment): silence's log-mel, the edge frames' log F0, voicing 0."""
    f = LogMelF0()
    y = f(_tone(200.0, 0.3, 16000), 16000)
    p = f.pad(y, 3, 2)
    assert p.shape == (82, y.shape[1] + 5) and np.array_equal(p[:, 3:-2], y)
    assert np.all(p[:80, :3] == np.float32(np.log(1e-5))) and np.all(p[:80, -2:] == np.float32(np.log(1e-5)))
    assert np.all(p[80, :3] == y[80, 0]) and np.all(p[80, -2:] == y[80, -1])
    assert np.all(p[81, :3] == 0.0) and np.all(p[81, -2:] == 0.0)
    assert np.array_equal(LogMel().pad(y[:80], 1, 1)[:, 0], np.full(80, np.float32(np.log(1e-5))))


def test_keys_are_stable_and_parameter_sensitive():
    assert LogMel().key() == LogMel().key() == LogMel(fmax=8000).key()  # int vs float normalised
    assert LogMel().key() != LogMel(n_mels=64).key()
    assert LogMel().key().startswith("log_mel-")
    assert MfccF0().key() != LogMel().key() != LogMelF0().key()
    assert len({cls().key() for cls in FEATURES.values()}) == len(FEATURES)


@pytest.mark.parametrize(
    "make,field",
    [
        (lambda: LogMel(n_fft=0), "n_fft"),
        (lambda: LogMel(hop_length=2.5), "hop_length"),
        (lambda: LogMel(win_length=2048), "win_length"),
        (lambda: LogMel(fmin=9000.0), "fmax"),
        (lambda: LogMel(eps=0.0), "eps"),
        (lambda: MfccF0(n_mfcc=100), "n_mfcc"),
        (lambda: MfccF0(f0_min=300.0, f0_max=200.0), "f0_max"),
        (lambda: LogMelF0(f0_min=300.0, f0_max=200.0), "f0_max"),
        (lambda: LogMelF0(f0_frame_length=0), "f0_frame_length"),
        (lambda: LogMelF0(eps=0.0), "eps"),
        (lambda: StftImage(n_bins=1000), "n_bins"),
        (lambda: build_feature("log_magnitude", {"win_length": 2048}), "win_length"),
        (lambda: build_feature("log_magnitude", {"eps": -1.0}), "eps"),
        (lambda: StftImage(db_floor=10.0), "db_floor"),
        (lambda: Waveform(peak=-1.0), "peak"),
        (lambda: build_feature("log_mel", {"n_melz": 80}), "n_melz"),
        (lambda: build_feature("spectrogram"), "feature"),
    ],
)
def test_invalid_parameters_name_the_field(make, field):
    with pytest.raises(ConfigError, match=field):
        make()


def test_rate_checks_name_the_field():
    with pytest.raises(ConfigError, match="fmax"):
        LogMel()(_tone(220.0, 0.6, 8000), 8000)  # 8 kHz band edge above 4 kHz Nyquist
    assert LogMel(fmax=4000.0)(_tone(220.0, 0.6, 8000), 8000).shape == (80, 1 + 4800 // 256)
    with pytest.raises(ConfigError, match="f0_frame_length"):
        MfccF0().check_rate(48000)
    with pytest.raises(ConfigError, match="f0_frame_length"):
        LogMelF0().check_rate(48000)
    with pytest.raises(ConfigError, match="fmax"):
        LogMelF0().check_rate(8000)


def test_cache_hit_is_identical_and_not_recomputed(corpus, tmp_path, monkeypatch):
    path = corpus.resolve(corpus.rows[0])
    cache = FeatureCache(tmp_path / "cache", LogMel(), 16000)
    first = cache.get(path)
    entry = cache.entry(path)
    assert entry.parent.name == LogMel().key() and entry.suffix == ".npy"
    stamp = entry.stat().st_mtime_ns

    calls = []
    original = LogMel.__call__
    monkeypatch.setattr(LogMel, "__call__", lambda self, a, sr: calls.append(1) or original(self, a, sr))
    again = FeatureCache(tmp_path / "cache", LogMel(), 16000).get(path)  # a fresh cache object, same disk
    assert np.array_equal(first, again) and again.dtype == np.float32
    assert calls == [] and entry.stat().st_mtime_ns == stamp
    assert (cache.hits, cache.misses) == (0, 1)
    cache.get(path)
    assert (cache.hits, cache.misses) == (1, 1)


def test_cached_files_load_without_pickle_and_params_are_recorded(corpus, tmp_path):
    cache = FeatureCache(tmp_path / "cache", MfccF0(), 16000)
    path = corpus.resolve(corpus.rows[1])
    arr = cache.get(path)
    loaded = np.load(cache.entry(path), allow_pickle=False)
    assert np.array_equal(arr, loaded)
    info = json.loads((cache.directory / "params.json").read_text())
    assert info["feature"] == "mfcc_f0" and info["params"]["n_mfcc"] == 20 and info["version"] == FEATURE_VERSION
    assert not list(cache.directory.glob("*.part"))


def test_cache_invalidates_on_parameter_change(corpus, tmp_path):
    path = corpus.resolve(corpus.rows[0])
    a = FeatureCache(tmp_path / "cache", LogMel(), 16000)
    b = FeatureCache(tmp_path / "cache", LogMel(n_mels=40), 16000)
    assert a.get(path).shape[0] == 80
    assert b.get(path).shape[0] == 40 and b.misses == 1
    assert a.directory != b.directory
    # the sample rate is part of the entry too
    c = FeatureCache(tmp_path / "cache", LogMel(fmax=4000.0), 16000)
    assert c.entry(path, 8000) != c.entry(path, 16000)


def test_cache_invalidates_when_the_file_is_rewritten(corpus, tmp_path):
    path = corpus.resolve(corpus.rows[0])
    cache = FeatureCache(tmp_path / "cache", LogMel(), 16000)
    before = cache.get(path)
    old_entry = cache.entry(path)
    audio_io.save(path, _tone(880.0, 0.6, 16000), 16000)  # same size, new content
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 10_000_000))  # coarse file-system clocks
    after = cache.get(path)
    assert cache.entry(path) != old_entry and cache.misses == 2
    assert not np.allclose(before, after)
    audio_io.save(path, _tone(880.0, 0.9, 16000), 16000)  # different size
    assert cache.get(path).shape[1] == 1 + int(0.9 * 16000) // 256


def test_corrupt_entry_is_recomputed(corpus, tmp_path):
    path = corpus.resolve(corpus.rows[0])
    cache = FeatureCache(tmp_path / "cache", LogMel(), 16000)
    good = cache.get(path)
    cache.entry(path).write_bytes(b"not an npy file")
    assert np.array_equal(cache.get(path), good) and cache.misses == 2


def test_precompute_fills_the_cache(corpus, tmp_path):
    cache = FeatureCache(tmp_path / "cache", LogMel(fmax=4000.0), 16000)
    assert cache.precompute(corpus, split="train", progress=False) == {"files": 2, "computed": 2, "cached": 0}
    counts = cache.precompute(corpus, workers=2, progress=True)
    assert counts == {"files": 4, "computed": 2, "cached": 2}
    assert len(list(cache.directory.glob("*.npy"))) == 4
    assert cache.precompute(corpus, progress=False)["cached"] == 4
