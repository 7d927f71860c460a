"""WaveGAN and SpecGAN through the ``gan`` scheme: the tiny recipes train end to end (final/ and samples/ WAVs of
the right length, SpecGAN's statistics in the checkpoint), the critic separates real from generated after a few
updates on a fixed batch, ``speechgen sample`` (and ``--label``) works on the runs, a WaveGAN run resumes exactly,
and recipe errors name the field."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from speechgen.audio import io as audio_io
from speechgen.cli.main import main
from speechgen.data.datamodule import ManifestDataset
from speechgen.data.manifest import Manifest
from speechgen.errors import ConfigError
from speechgen.models.dcgan import DCGAN
from speechgen.models.wavegan import WaveGAN
from speechgen.training.schemes.gan import GANModule, GANScheme, GANSection
from speechgen.inference.loading import load_generator
from speechgen.training.schemes.generative import GenData, GenTrain
from speechgen.training.optim import OptimConfig
from speechgen.models.registry import MODELS
from speechgen.training.registry import build_model, load_recipe
from speechgen.training.runner import train

from .fixed_batch import RECIPES, assert_resumes_exactly

# recipe name -> recipes/FAMILY/NAME.yaml
TINY = ["wavegan", "wavegan-cond", "specgan"]


@pytest.fixture(scope="module")
def runs(module_toy_manifest, tmp_path_factory):
    """The three tiny recipes trained once on a toy manifest (4 steps each)."""
    root = tmp_path_factory.mktemp("wavegan-runs")
    manifest = module_toy_manifest
    out = {"manifest": manifest}
    for name in TINY:
        out[name] = (train(load_recipe(RECIPES[f"{name}-tiny"], [f"data.manifest={manifest}"]),
                           root / name, quiet=True), root / name)
    return out


@pytest.mark.parametrize("name", TINY)
def test_tiny_recipe_trains_end_to_end(name, runs):
    metrics, run = runs[name]
    assert metrics["steps"] == 4
    assert {"train/d_loss", "train/g_loss", "train/gp", "train/wdist", "val/wdist", "test/d_loss"} <= set(metrics)
    assert all(np.isfinite(v) for v in metrics.values())
    for f in ("final/model.safetensors", "final/config.yaml", "metrics.json", "checkpoints/last.ckpt/model.safetensors"):
        assert (run / f).is_file(), f
    rounds = sorted((run / "samples").iterdir())
    assert [r.name for r in rounds] == ["step-0000002", "step-0000004"]
    wavs = sorted(rounds[-1].glob("sample-*.wav"))
    assert len(wavs) == 3
    audio, sr = audio_io.load(wavs[0])
    # WaveGAN writes its whole 16384-sample slice; SpecGAN's Griffin-Lim audio is cut to one second
    assert sr == 16000 and len(audio) == (16000 if name == "specgan" else 16384)
    assert np.isfinite(audio).all() and float(np.abs(audio).max()) > 0
    assert (rounds[-1] / "grid.png").is_file() == (name == "specgan")
    assert not list(run.rglob("*.pt")) and not list(run.rglob("*.pkl"))
    model, cfg = load_generator(run)
    assert isinstance(model, DCGAN if name == "specgan" else WaveGAN)
    if name == "specgan":  # the per-bin statistics travel with the checkpoint as plain numbers
        params = cfg["recipe"]["data"]["feature_params"]
        assert len(params["mean"]) == 128 and len(params["std"]) == 128 and min(params["std"]) > 0
        stats = list(Manifest.read(runs["manifest"]).root.rglob("stats-*.json"))
        assert len(stats) == 1 and json.loads(stats[0].read_text())["mean"] == params["mean"]


def _optim() -> OptimConfig:
    return OptimConfig(name="adam", lr=1e-3, weight_decay=0.0, betas=(0.5, 0.9), schedule="constant")


@pytest.mark.parametrize("kind", ["wavegan", "specgan"])
def test_critic_separates_real_from_generated(kind, runs):
    """A few WGAN-GP critic updates on one fixed batch of real items: every real item then scores above every
    freshly generated one."""
    torch.manual_seed(0)
    if kind == "wavegan":
        model = WaveGAN(d=4, latent_dim=8)
        ds = ManifestDataset(runs["manifest"], split="train", feature="waveform", segment_length=16384)
        x = torch.stack([ds[i]["audio"] for i in range(0, 24, 3)])
    else:
        _, run = runs["specgan"]
        model = DCGAN(channels=1, latent_dim=8, stages=5, base_width=4, max_width=16, kernel_size=5, g_norm="none",
                      d_norm="none", init_std=0.0)
        feature = load_generator(run)[1]["recipe"]["data"]
        ds = ManifestDataset(runs["manifest"], split="train", feature="specgan_image",
                             feature_params=feature["feature_params"])
        x = torch.stack([ds[i]["features"] for i in range(0, 24, 3)])
    module = GANModule(model, {"name": kind, "kwargs": {}}, GenData(manifest="unused"), GenTrain(sample_every=0),
                       _optim(), _optim(), GANSection(loss="wgan-gp", n_critic=1))
    opt = torch.optim.Adam(model.discriminator.parameters(), 1e-3, betas=(0.5, 0.9))
    for _ in range(8):
        total, parts = module.critic_loss(x, None, None)
        opt.zero_grad()
        total.backward()
        opt.step()
    with torch.no_grad():
        fake = model.generate(torch.randn(len(x), 8, generator=torch.Generator().manual_seed(3)))
        real_score, fake_score = model.discriminate(x)[0], model.discriminate(fake)[0]
    assert float(real_score.min()) > float(fake_score.max()), (real_score, fake_score)
    assert float(parts["wdist"]) > 0 and float(parts["gp"].detach()) >= 0


def test_sample_command_on_the_runs(runs, tmp_path, capsys):
    _, run = runs["wavegan"]
    assert main(["sample", str(run), "--n", "2", "--out", str(tmp_path / "w"), "--seed", "1"]) == 0
    rows = Manifest.read(tmp_path / "w").rows
    assert len(rows) == 2 and all(r["label"] is None for r in rows)
    a = audio_io.load(tmp_path / "w" / "sample-00000.wav")[0]
    assert len(a) == 16384
    assert main(["sample", str(run), "--n", "2", "--out", str(tmp_path / "w2"), "--seed", "1"]) == 0
    assert np.array_equal(a, audio_io.load(tmp_path / "w2" / "sample-00000.wav")[0])  # same seed, same clip

    _, run = runs["wavegan-cond"]
    assert main(["sample", str(run), "--n", "2", "--label", "7", "--out", str(tmp_path / "c")]) == 0
    assert [r["label"] for r in Manifest.read(tmp_path / "c").rows] == [7, 7]
    assert main(["sample", str(run), "--n", "1", "--label", "12", "--out", str(tmp_path / "bad")]) == 2
    assert "--label" in capsys.readouterr().err

    _, run = runs["specgan"]
    assert main(["sample", str(run), "--n", "2", "--out", str(tmp_path / "s")]) == 0
    assert len(audio_io.load(tmp_path / "s" / "sample-00001.wav")[0]) == 16000
    assert (tmp_path / "s" / "grid.png").is_file()


def test_wavegan_resumes_exactly(toy_manifest, tmp_path):
    """Phase shuffle draws from the global generator, which --resume restores: the resumed run ends with the
    same weights as the uninterrupted one."""
    sets = [f"data.manifest={toy_manifest}", "train.sample_every=0", "train.val_every=100"]
    a = assert_resumes_exactly(RECIPES["wavegan-tiny"], sets, tmp_path, stop=2, steps=4)
    assert any(k.startswith("discriminator.") for k in a)


@pytest.mark.parametrize("recipe, override, field", [
    ("wavegan-tiny", "data.feature=stft_image", "recipe.data.feature"),
    ("wavegan-tiny", "data.segment_length=16000", "recipe.data.segment_length"),
    ("wavegan-tiny", "model.kwargs.slice_len=32768", "recipe.data.segment_length"),
    ("wavegan-tiny", "data.channels=[0]", "recipe.data.channels"),
    ("wavegan-tiny", "gan.consistency_weight=1.0", "recipe.gan.consistency_weight"),
    ("wavegan-tiny", "gan.aux_weight=1.0", "recipe.gan.aux_weight"),
    ("wavegan-tiny", "model.kwargs.slice_len=16000", "recipe.model.kwargs.slice_len"),
    ("wavegan-cond-tiny", "data.labelled=false", "recipe.data.labelled"),
    ("specgan-tiny", "data.channels=[1]", "recipe.data.channels"),
    ("specgan-tiny", "model.kwargs.channels=2", "recipe.model.kwargs.channels"),
    ("specgan-tiny", "model.kwargs.kernel_size=3", "recipe.model.kwargs.kernel_size"),
    ("specgan-tiny", "data.feature_params.clip_std=0", "recipe.data.clip_std"),
])
def test_recipe_errors_name_the_field(recipe, override, field, toy_manifest):
    with pytest.raises(ConfigError) as e:
        r = load_recipe(RECIPES[f"{recipe}"], [f"data.manifest={toy_manifest}", override])
        GANScheme.build(r, build_model(r))
    assert str(e.value).startswith(field)


def test_registry_and_recipes():
    assert MODELS["wavegan"] is WaveGAN and "wavegan" in GANScheme.models
    for name in TINY:
        for suffix in ("", "-tiny"):
            r = load_recipe(RECIPES[f"{name}{suffix}"])
            assert r.scheme == "gan" and r.gan.loss == "wgan-gp" and r.gan.n_critic in (2, 5)
    for name in ("wavegan-cpu", "specgan-cpu"):
        load_recipe(RECIPES[f"{name}"])
    paper = {n: load_recipe(RECIPES[f"{n}"]) for n in ("wavegan", "specgan")}
    for r in paper.values():  # the paper's WGAN-GP settings
        assert (r.gan.n_critic, r.gan.gp_weight, r.data.batch_size) == (5, 10.0, 64)
        assert (r.optim_g.lr, tuple(r.optim_g.betas)) == (1e-4, (0.5, 0.9)) == (r.optim_d.lr, tuple(r.optim_d.betas))
    assert paper["wavegan"].model.kwargs["d"] == 64 and paper["specgan"].model.kwargs["kernel_size"] == 5
    assert build_model(load_recipe(RECIPES["wavegan-cond"])).n_classes == 10
