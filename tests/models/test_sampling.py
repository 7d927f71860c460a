"""Sample drawing and writing (speechgen.models.sampling) with a minimal model that honours the contract."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechgen.audio import io as audio_io
from speechgen.data.features import build_feature
from speechgen.data.manifest import Manifest
from speechgen.errors import CheckpointError, ConfigError, DataError
from speechgen.checkpoint import resolve_checkpoint
from speechgen.inference.loading import load_generator
from speechgen.models import sampling as generate


class LabelledNoise(torch.nn.Module):
    """Contract model: ``sample`` returns an image whose mean encodes the label, noise from ``generator``."""

    def __init__(self, n_classes: int = 3, shape=(2, 128, 128)) -> None:
        super().__init__()
        self.n_classes, self.out_shape = n_classes, tuple(shape)
        self.scale = torch.nn.Parameter(torch.tensor(0.1))

    def sample(self, n, labels=None, generator=None, condition=None):
        z = torch.randn((n, *self.out_shape), generator=generator)
        base = (labels.float()[:, None, None, None] / 10.0) if labels is not None else 0.0
        x = (base + self.scale * z).clamp(-1, 1)
        if condition is not None:
            x = x + 0.0 * condition.sum()
        return x


def test_draw_is_deterministic_and_checks_labels():
    m = LabelledNoise()
    labels = torch.tensor([0, 1, 2, 2])
    a = generate.draw(m, 4, labels, seed=5)
    b = generate.draw(m, 4, labels, seed=5)
    c = generate.draw(m, 4, labels, seed=6)
    assert a.shape == (4, 2, 128, 128) and np.array_equal(a, b) and not np.array_equal(a, c)
    assert abs(a[3].mean() - 0.2) < 0.01  # the label reached the model
    with pytest.raises(ConfigError, match="--label"):
        generate.draw(m, 4, None)
    with pytest.raises(ConfigError, match="0..2"):
        generate.draw(m, 2, torch.tensor([0, 3]))


def test_draw_refuses_non_finite_output():
    m = LabelledNoise(n_classes=0)
    m.scale.data.fill_(float("nan"))
    with pytest.raises(DataError, match="NaN"):
        generate.draw(m, 2)


def test_assemble_puts_condition_channels_back():
    gen = np.full((2, 1, 4, 4), 0.5, np.float32)
    cond = torch.full((2, 1, 4, 4), -0.25)
    full = generate.assemble(gen, [0], cond, [1])
    assert full.shape == (2, 2, 4, 4) and np.all(full[:, 0] == 0.5) and np.all(full[:, 1] == -0.25)
    assert generate.assemble(gen, None, None, None) is gen


def test_tile_flips_frequency_and_places_panels():
    imgs = np.zeros((3, 4, 5), np.float32)
    imgs[1, 0] = 1.0  # lowest bin of panel 1
    grid = generate.tile(imgs, cols=2, gap=1)
    assert grid.shape == (2 * 4 + 1, 2 * 5 + 1)
    assert np.all(grid[3, 6:11] == 1.0)  # bottom row of the top-right panel


def test_write_samples_wavs_manifest_grid(tmp_path):
    feature = build_feature("stft_image")
    t = np.arange(16000) / 16000
    noise = np.random.default_rng(0).standard_normal(16000)
    x = (0.3 * np.sin(2 * np.pi * 440 * t) + 0.2 * np.sin(2 * np.pi * 1250 * t) + 0.02 * noise).astype(np.float32)
    img = feature(x, 16000)
    feats = np.stack([img, img])
    audio = generate.write_samples(tmp_path / "s", feats, feature, torch.tensor([3, 4]), 16000)
    assert audio.shape == (2, 16000)
    m = Manifest.read(tmp_path / "s")
    assert [r["label"] for r in m] == [3, 4]
    y, sr = audio_io.load(m.resolve(m.rows[0]))
    assert sr == 16000 and len(y) == 16000
    assert np.corrcoef(y, x)[0, 1] > 0.99  # the phase channel was used: near-exact inverse
    assert (tmp_path / "s" / "grid.png").stat().st_size > 1000
    amp_only = generate.write_samples(tmp_path / "gl", feats[:, :1], feature, None, 16000)
    regen = feature(amp_only[0], 16000)[0]  # Griffin-Lim keeps the dB amplitude image
    assert np.mean(np.abs(regen - img[0])[img[0] > -0.5]) < 0.05  # < 2 dB where there is energy
    assert Manifest.read(tmp_path / "gl").rows[0]["label"] is None


def test_resolve_checkpoint_errors(tmp_path):
    with pytest.raises(CheckpointError, match="no such run"):
        resolve_checkpoint(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        resolve_checkpoint(tmp_path / "empty")
    with pytest.raises(CheckpointError, match="not a generative model"):
        load_generator("classifier")


def test_grid_axes_and_colour_bar(tmp_path):
    """An amplitude image grid shows time and frequency on one panel and a dB colour bar (it had neither)."""
    from unittest import mock

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.figure

    from speechgen.data.features import build_feature

    feature = build_feature("stft_image")
    axes = generate.image_axes(feature, 16000)
    assert axes["extent"] == (0.0, 128 * 128 / 16000, 0.0, 128 * 16000 / 256 / 1000)
    assert axes["colorbar"][2] == ["-80", "-40", "0"]
    assert generate.image_axes(build_feature("waveform"), 16000) == {}
    seen = {}
    real = matplotlib.figure.Figure.colorbar

    def spy(fig, *args, **kwargs):
        seen["bar"] = real(fig, *args, **kwargs)
        return seen["bar"]

    with mock.patch.object(matplotlib.figure.Figure, "colorbar", spy):
        generate.save_grid(tmp_path / "g.png", np.zeros((12, 128, 128), dtype=np.float32), list(range(12)), **axes)
    assert (tmp_path / "g.png").read_bytes()[:4] == b"\x89PNG" and seen["bar"].ax.get_ylabel() == "level (dB)"
