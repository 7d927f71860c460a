"""The ``specgan_image`` feature: per-bin statistics from the train split only (cached as JSON beside the feature
cache, read back), exact normalise/de-normalise round trip, clipping at 3 standard deviations, Griffin-Lim
inversion of the right length, the data section's fit, and errors naming the parameter."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest

from speechgen.audio import io as audio_io
from speechgen.audio import spectral
from speechgen.data.datamodule import DEFAULT_CACHE_SUBDIR, ManifestDataset
from speechgen.data.features import SpecGanImage, build_feature
from speechgen.data.manifest import Manifest
from speechgen.errors import ConfigError
from speechgen.training.schemes.generative import GenData, fit_feature


@pytest.fixture
def loud_eval_manifest(toy_manifest):
    """The toy manifest with every valid/test clip replaced by loud white noise: statistics that included those
    splits would differ clearly from the train split's."""
    m = Manifest.read(toy_manifest)
    rng = np.random.default_rng(1)
    for r in m.rows:
        if r["split"] != "train":
            audio_io.save(m.resolve(r), (0.5 * rng.standard_normal(16000)).clip(-1, 1).astype(np.float32), 16000)
    return m


def _manual_stats(m: Manifest, split: str | None) -> tuple[np.ndarray, np.ndarray]:
    raw = build_feature("specgan_image", {"normalize": False})
    rows = m.select(split=split) if split else m
    logs = np.concatenate([raw(audio_io.load(m.resolve(r), 16000)[0], 16000)[0].astype(np.float64)
                           for r in rows], axis=1)  # [bins, all frames]
    return logs.mean(axis=1), logs.std(axis=1)


def test_statistics_come_from_the_train_split_only_and_are_cached_as_json(loud_eval_manifest, tmp_path):
    m = loud_eval_manifest
    fitted = build_feature("specgan_image").fit(m, tmp_path / "cache")
    mean, std = np.array(fitted.mean), np.array(fitted.std)
    train_mean, train_std = _manual_stats(m, "train")
    all_mean, _ = _manual_stats(m, None)
    assert mean.shape == (128,) and np.allclose(mean, train_mean, atol=1e-5) and np.allclose(std, train_std, atol=1e-5)
    assert np.abs(mean - all_mean).max() > 1.0  # the loud valid/test noise is not in them
    files = list((tmp_path / "cache").rglob("stats-*.json"))
    assert len(files) == 1 and not list(tmp_path.rglob("*.pkl"))
    info = json.loads(files[0].read_text())
    assert info["split"] == "train" and info["files"] == 24 and info["frames"] == 24 * 128
    info["mean"] = [0.0] * 128  # a second fit reads the file instead of recomputing
    files[0].write_text(json.dumps(info))
    assert build_feature("specgan_image").fit(m, tmp_path / "cache").mean == (0.0,) * 128


def test_normalised_images_and_exact_round_trip(toy_manifest, tmp_path):
    m = Manifest.read(toy_manifest)
    f = build_feature("specgan_image").fit(m, tmp_path / "cache")
    assert not f.needs_fit and build_feature("specgan_image").needs_fit
    ds = ManifestDataset(m, split="train", feature=f, cache_dir=tmp_path / "cache")
    imgs = np.stack([ds[i]["features"].numpy() for i in range(len(ds))])
    assert imgs.shape == (24, 1, 128, 128) and imgs.min() >= -1.0 and imgs.max() <= 1.0
    # before clipping every bin has zero mean and unit variance over the train split; the images are that,
    # clipped at 3 standard deviations and divided by 3
    raw = dataclasses.replace(f, normalize=False, mean=None, std=None)
    mean, std = np.array(f.mean)[:, None], np.array(f.std)[:, None]
    logs = np.stack([raw(audio_io.load(m.resolve(r), 16000)[0], 16000)[0] for r in ds.manifest.rows])
    z = (logs.astype(np.float64) - mean) / std  # [items, bins, frames]
    assert np.abs(z.mean(axis=(0, 2))).max() < 1e-5 and np.abs(z.std(axis=(0, 2)) - 1).max() < 1e-5
    assert np.allclose(imgs[:, 0], np.clip(z, -3, 3) / 3, atol=1e-6)
    assert 0 < np.mean(np.abs(imgs) == 1.0) < 0.2  # some clipping (the zero padding at the end), not much
    rng = np.random.default_rng(0)
    log_mag = mean + std * rng.uniform(-2.99, 2.99, size=(5, 128, 40))  # within the clipping range
    assert np.allclose(f.denormalize(f.normalize_log(log_mag)), log_mag, rtol=0, atol=1e-12)
    far = mean + std * np.array([-10.0, 10.0])  # beyond 3 std: clipped to -1 / +1
    assert np.array_equal(f.normalize_log(far), np.tile([-1.0, 1.0], (128, 1)))


def test_invert_gives_audio_of_the_right_length(toy_manifest, tmp_path):
    m = Manifest.read(toy_manifest)
    f = dataclasses.replace(build_feature("specgan_image").fit(m, tmp_path / "cache"), griffin_lim_iters=32)
    x, _ = audio_io.load(m.resolve(m.rows[5]), 16000)  # a 600 Hz tone
    img = f(x, 16000)
    assert f.invert(img).shape == (spectral.image_length(128, 256, 128),)  # 16256 samples by default
    batch = f.invert(np.stack([img, img]), length=16000)
    assert batch.shape == (2, 16000) and batch.dtype == np.float32
    # Griffin-Lim keeps the magnitude: the re-analysed image matches where there is energy
    again = f(batch[0], 16000)[0]
    loud = img[0] > 0.0
    assert np.abs(again - img[0])[loud].mean() < 0.1
    peak_bin = int(np.argmax(np.abs(spectral.stft(batch[0], 256, 128)).mean(axis=1)))
    assert abs(peak_bin * 16000 / 256 - 600) <= 62.5  # the tone's frequency survives


def test_fit_feature_fills_the_data_section_and_checkpoint_recipe(toy_manifest):
    data = GenData(manifest=str(toy_manifest), feature="specgan_image", feature_params={"griffin_lim_iters": 4})
    extra = {"recipe": {"data": {"feature": "specgan_image", "feature_params": {"griffin_lim_iters": 4}}}, "seed": 0}
    fitted, new_extra = fit_feature(data, extra)
    p = fitted.feature_params
    assert len(p["mean"]) == 128 and len(p["std"]) == 128 and p["griffin_lim_iters"] == 4
    assert new_extra["recipe"]["data"]["feature_params"] == p
    assert "mean" not in extra["recipe"]["data"]["feature_params"]  # the caller's mapping is not changed
    assert build_feature("specgan_image", p) == build_feature("specgan_image", p)  # plain numbers rebuild it
    cache = Manifest.read(toy_manifest).root / DEFAULT_CACHE_SUBDIR
    assert len(list(cache.rglob("stats-*.json"))) == 1
    wave = GenData(manifest=str(toy_manifest), feature="waveform")
    assert fit_feature(wave, extra) == (wave, extra)  # nothing to fit


@pytest.mark.parametrize("params, field", [
    ({"mean": [0.0] * 128}, "std"),
    ({"mean": [0.0] * 127, "std": [1.0] * 127}, "mean"),
    ({"mean": [0.0] * 128, "std": [1.0] * 127 + [0.0]}, "std[127]"),
    ({"normalize": False, "mean": [0.0] * 128, "std": [1.0] * 128}, "normalize"),
    ({"clip_std": 0}, "clip_std"),
    ({"n_bins": 200}, "n_bins"),
    ({"griffin_lim_iters": 0}, "griffin_lim_iters"),
])
def test_parameter_errors_name_the_field(params, field):
    with pytest.raises(ConfigError) as e:
        build_feature("specgan_image", params)
    assert str(e.value).startswith(field)


def test_extracting_without_statistics_is_refused():
    with pytest.raises(ConfigError, match="^mean"):
        SpecGanImage()(np.zeros(16000, np.float32), 16000)
