"""The ``gan`` scheme: the critic learns to separate real from generated images, the generator's images move
towards the data, n_critic critic updates count one global step, every tiny recipe trains end to end, exp3/exp4
sample with real phase images, the exp4 regulariser is ~0 exactly for consistent STFTs, --resume is exact, and
recipe errors name the field."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from speechgen.audio import io as audio_io
from speechgen.data.datamodule import ManifestDataset
from speechgen.data.features import build_feature
from speechgen.errors import ConfigError
from speechgen.models.dcgan import DCGAN
from speechgen.losses.stft import StftConsistency
from speechgen.training.schemes.gan import GANModule, GANScheme, GANSection
from speechgen.models.sampling import assemble, conditions_from_dataset, draw
from speechgen.inference.loading import load_generator
from speechgen.training.schemes.generative import GenData, GenTrain
from speechgen.training.optim import NonFiniteLossError
from speechgen.training.optim import OptimConfig
from speechgen.models.registry import MODELS
from speechgen.training.registry import SCHEMES, build_model, load_recipe
from speechgen.training.runner import train

from ..fixed_batch import RECIPES, assert_resumes_exactly, fit_fixed_batch

# recipe name -> recipes/FAMILY/NAME.yaml
TINY_RECIPES = ["gan", "cgan", "controllable-gan", "wgan-gp", "cwgan-gp-exp1", "cwgan-gp-exp2", "cwgan-gp-exp3",
                "cwgan-gp-exp4"]
SMALL = dict(channels=1, height=32, width=32, stages=3, base_width=8, max_width=32, latent_dim=16)


@pytest.fixture
def toy_images(toy_manifest):
    """12 amplitude images of the toy tones (4 per label), average-pooled to 32 x 32, and their labels."""
    ds = ManifestDataset(toy_manifest, split="train", feature="stft_image")
    items = [ds[i] for i in range(0, 24, 2)]
    x = F.avg_pool2d(torch.stack([it["features"][:1] for it in items]), 4)
    return {"features": x, "label": torch.tensor([it["label"] for it in items])}


def _optim(lr: float = 2e-3) -> OptimConfig:
    return OptimConfig(name="adam", lr=lr, weight_decay=0.0, betas=(0.5, 0.9), schedule="constant")


def _module(loss: str, n_critic: int = 1, ema: float = 0.0, **model_kwargs) -> GANModule:
    norm = "layer" if loss == "wgan-gp" else "batch"
    model = DCGAN(**{**SMALL, "d_norm": norm, **model_kwargs})
    return GANModule(model, {"name": "dcgan", "kwargs": {}}, GenData(manifest="unused"),
                     GenTrain(max_steps=1000, sample_every=0, ema=ema), _optim(), _optim(),
                     GANSection(loss=loss, n_critic=n_critic))


@torch.no_grad()
def _scores(module: GANModule, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Critic scores of real ``x`` and of as many fresh generated images, in training mode (batch statistics,
    as the critic is trained)."""
    model = module.model
    fake = model.generate(torch.randn(len(x), model.latent_dim, generator=torch.Generator().manual_seed(3)))
    return model.discriminate(x)[0], model.discriminate(fake)[0]


@pytest.mark.parametrize("loss", ["ns", "hinge", "lsgan", "wgan-gp"])
def test_critic_separates_real_from_generated(loss, toy_images):
    torch.manual_seed(0)
    module = _module(loss)
    x = toy_images["features"]
    opt = torch.optim.Adam(module.model.discriminator.parameters(), 2e-3, betas=(0.5, 0.9))
    first = None
    for _ in range(10):
        total, parts = module.critic_loss(x, None, None)
        opt.zero_grad()
        total.backward()
        opt.step()
        first = float(parts["d_loss"].detach()) if first is None else first
    real, fake = _scores(module, x)
    assert float(real.min()) > float(fake.max()), (real, fake)  # every real image scores above every fake
    if loss == "wgan-gp":
        assert float(real.mean() - fake.mean()) > 1.0 and "gp" in parts and float(parts["gp"].detach()) >= 0
    else:
        last = float(parts["d_loss"].detach())
        assert last < 0.2 * first, (first, last)


@pytest.mark.parametrize("loss", ["ns", "hinge", "wgan-gp"])
def test_generator_moves_towards_the_data_and_steps_count_once(loss, toy_images, tmp_path):
    torch.manual_seed(0)
    module = _module(loss, n_critic=3, ema=0.9)
    x = toy_images["features"]  # 12 items: 3 critic slices of 4

    def gap() -> float:
        module.model.eval()
        with torch.no_grad():
            fake = module.model.sample(64, generator=torch.Generator().manual_seed(1))
        module.model.train()
        return float((fake.mean(0) - x.mean(0)).pow(2).mean().sqrt())

    before = gap()
    ema0 = [p.detach().clone() for p in module.ema_model.parameters()]
    trainer, _ = fit_fixed_batch(module, toy_images, 30, tmp_path)
    after = gap()
    assert after < 0.65 * before, (before, after)
    # one global step per training step; the critic took n_critic = 3 optimiser steps per training step
    assert trainer.global_step == 30
    opt_g, opt_d = module.optimizers()
    g_steps = {int(s["step"]) for s in opt_g.optimizer.state.values()}
    d_steps = {int(s["step"]) for s in opt_d.optimizer.state.values()}
    assert g_steps == {30} and d_steps == {90}
    # EMA weights were updated under manual optimisation (by the base's on_train_batch_end)
    ema1 = list(module.ema_model.parameters())
    assert any(not torch.equal(a, b) for a, b in zip(ema0, ema1))
    assert any(not torch.equal(a, b) for a, b in zip(ema1, module.model.parameters()))


def test_nan_loss_stops_before_any_step(toy_images, tmp_path):
    module = _module("wgan-gp", n_critic=2)
    before = {k: v.clone() for k, v in module.model.state_dict().items() if v.is_floating_point()}
    bad = dict(toy_images, features=toy_images["features"].clone())
    bad["features"][0, 0, 0, 0] = float("nan")
    with pytest.raises(NonFiniteLossError, match="critic|d_loss"):
        fit_fixed_batch(module, bad, 3, tmp_path)
    after = module.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if "running" not in k)


def test_mode_seeking_term_spreads_samples_over_the_latent(toy_images, tmp_path):
    """MSGAN's term: logged as 1 / (ratio + 1e-5); with it, the same labels from different latents give images
    further apart (per unit of latent distance) than the same training without it."""
    def spread(weight: float) -> tuple[float, GANModule]:
        torch.manual_seed(0)
        model = DCGAN(**{**SMALL, "d_norm": "layer", "n_classes": 3, "label_dim": 8})
        module = GANModule(model, {"name": "dcgan", "kwargs": {}}, GenData(manifest="unused"),
                           GenTrain(max_steps=1000, sample_every=0), _optim(), _optim(),
                           GANSection(loss="ns", mode_seeking_weight=weight))
        fit_fixed_batch(module, toy_images, 20, tmp_path / str(weight))
        model.eval()
        g = torch.Generator().manual_seed(5)
        z1, z2 = (torch.randn(48, model.latent_dim, generator=g) for _ in range(2))
        labels = torch.arange(48) % 3
        with torch.no_grad():
            a, b = model.generate(z1, labels), model.generate(z2, labels)
        return float(((a - b).abs().flatten(1).mean(1) / (z1 - z2).abs().mean(1)).mean()), module

    without, _ = spread(0.0)
    with_ms, module = spread(1.0)
    assert with_ms > 1.5 * without, (without, with_ms)
    torch.manual_seed(1)
    _, parts = module.generator_loss(6, torch.tensor([0, 1, 2, 0, 1, 2]), None)
    assert 0 < float(parts["mode_seeking"].detach()) < 1e5 and set(parts) == {"g_loss", "mode_seeking"}


@pytest.mark.parametrize("name", TINY_RECIPES)
def test_tiny_recipe_trains_end_to_end(name, toy_manifest, tmp_path):
    run = tmp_path / name
    metrics = train(load_recipe(RECIPES[f"{name}-tiny"], [f"data.manifest={toy_manifest}"]), run, quiet=True)
    assert metrics["steps"] == 4
    assert {"train/d_loss", "train/g_loss", "val/d_loss", "test/d_loss"} <= set(metrics)
    assert all(np.isfinite(v) for v in metrics.values())
    if "wgan" in name:
        assert {"train/gp", "train/wdist", "val/wdist"} <= set(metrics)
    if name == "controllable-gan":
        assert {"train/aux_acc", "train/aux_g", "val/aux_acc_fake"} <= set(metrics)
    if name in ("cwgan-gp-exp3", "cwgan-gp-exp4"):
        assert "val/consistency" in metrics and ("train/consistency" in metrics) == (name == "cwgan-gp-exp4")
    for f in ("final/model.safetensors", "final/config.yaml", "metrics.json", "checkpoints/last.ckpt/model.safetensors"):
        assert (run / f).is_file(), f
    rounds = sorted((run / "samples").iterdir())
    assert [r.name for r in rounds] == ["step-0000002", "step-0000004"]
    assert len(list(rounds[-1].glob("sample-*.wav"))) == 3 and (rounds[-1] / "grid.png").is_file()
    assert not list(run.rglob("*.pt")) and not list(run.rglob("*.pkl"))
    model, cfg = load_generator(run)
    assert cfg["model"]["name"] == "dcgan" and isinstance(model, DCGAN)
    assert json.loads((run / "metrics.json").read_text())["steps"] == 4


def test_exp3_samples_use_real_phase_of_the_asked_digit(toy_manifest, tmp_path):
    """The sample round's audio is the iSTFT of the generated amplitude with the phase of validation clips of the
    asked digits (fixed labels 0, 1, 2; conditions drawn with the recipe's seed)."""
    run = tmp_path / "exp3"
    recipe = load_recipe(RECIPES["cwgan-gp-exp3-tiny"], [f"data.manifest={toy_manifest}", "train.max_steps=2"])
    train(recipe, run, quiet=True)
    model, _ = load_generator(run)
    labels = torch.arange(3)
    valid = ManifestDataset(toy_manifest, split="valid", labelled=True, feature="stft_image")
    phase = conditions_from_dataset(valid, [1], labels, 3, seed=0)
    feature = build_feature("stft_image")

    def audio_with(cond: torch.Tensor) -> np.ndarray:
        feats = draw(model, 3, labels, 0, cond)
        a = feature.invert(assemble(feats, [0], cond, [1]), length=16000)
        peak = np.abs(a).max(axis=1, keepdims=True)
        return np.where(peak > 0.95, a / peak * 0.95, a)

    written = np.stack([audio_io.load(run / "samples" / "step-0000002" / f"sample-{i:05d}.wav")[0]
                        for i in range(3)])
    assert np.abs(written - audio_with(phase)).max() < 1e-3
    assert np.abs(written - audio_with(phase.roll(1, 0))).max() > 1e-2  # another clip's phase gives other audio
    with pytest.raises(ConfigError, match="condition"):
        model.sample(3, labels)  # no phase, no sample


def test_consistency_is_zero_for_real_stfts_only(toy_manifest):
    ds = ManifestDataset(toy_manifest, split="train", feature="stft_image")
    img = torch.stack([ds[i]["features"] for i in (0, 5, 9, 14, 18, 23)])  # labels 0, 1, 2 (two each)
    amp, phase = img[:, :1], img[:, 1:]
    reg = StftConsistency.from_feature(build_feature("stft_image"))
    own = float(reg(amp, phase))
    swapped = float(reg(amp, phase.roll(1, 0)))  # the phase of another clip (another tone)
    noise = float(reg(torch.rand_like(amp) * 2 - 1, phase))
    assert own < 0.01 and swapped > 5 * own and noise > 0.2, (own, swapped, noise)
    a = amp.clone().requires_grad_(True)
    reg(a, phase.roll(1, 0)).backward()
    assert torch.isfinite(a.grad).all() and float(a.grad.abs().sum()) > 0  # it trains the amplitude


def test_wgan_gp_resumes_exactly(toy_manifest, tmp_path):
    sets = [f"data.manifest={toy_manifest}", "train.sample_every=0", "train.val_every=100"]
    # 4 steps, checkpoints at 2 and 4; stopped after 2 (3 batches per epoch: mid-epoch)
    a = assert_resumes_exactly(RECIPES["wgan-gp-tiny"], sets, tmp_path, stop=2, steps=4)
    assert any(k.startswith("discriminator.") for k in a)


@pytest.mark.parametrize("override, field", [
    ("gan.loss=wgan", "recipe.gan.loss"),
    ("gan.n_critic=0", "recipe.gan.n_critic"),
    ("gan.gp_weight=-1", "recipe.gan.gp_weight"),
    ("gan.mode_seeking_weight=-1", "recipe.gan.mode_seeking_weight"),
    ("gan.r1=1.0", "recipe.gan.r1"),  # unknown key
    ("optim_d.lr=0", "recipe.optim_d.lr"),
    ("model.kwargs.d_norm=group", "recipe.model.kwargs.d_norm"),
    ("model.kwargs.base=3", "recipe.model.kwargs.base"),
])
def test_section_errors_name_the_field(override, field, toy_manifest):
    with pytest.raises(ConfigError) as e:
        load_recipe(RECIPES["wgan-gp-tiny"], [f"data.manifest={toy_manifest}", override])
    assert str(e.value).startswith(field)


@pytest.mark.parametrize("recipe, override, field", [
    ("wgan-gp-tiny", "model.kwargs.d_norm=batch", "recipe.model.kwargs.d_norm"),
    ("wgan-gp-tiny", "gan.gp_weight=0", "recipe.gan.gp_weight"),
    ("gan-tiny", "gan.r1_weight=1.0", "recipe.model.kwargs.d_norm"),
    ("cwgan-gp-exp3-tiny", "model.kwargs.condition_channels=0", "recipe.model.kwargs.condition_channels"),
    ("cwgan-gp-exp1-tiny", "model.kwargs.condition_channels=1", "recipe.data.condition_channels"),
    ("cwgan-gp-exp3-tiny", "data.channels=null", "recipe.data.channels"),
    ("cwgan-gp-exp1-tiny", "gan.consistency_weight=1.0", "recipe.gan.consistency_weight"),
    ("cwgan-gp-exp2-tiny", "gan.consistency_weight=1.0", "recipe.gan.consistency_weight"),
    ("gan-tiny", "model.kwargs.channels=2", "recipe.model.kwargs.channels"),
    ("gan-tiny", "model.kwargs.height=64", "recipe.model.kwargs.height"),
    ("gan-tiny", "data.feature=log_mel", "recipe.data.feature"),
    ("gan-tiny", "gan.aux_weight=1.0", "recipe.gan.aux_weight"),
    ("controllable-gan-tiny", "gan.aux_weight=0.0", "recipe.gan.aux_weight"),
    ("controllable-gan-tiny", "model.kwargs.n_classes=0", "recipe.model.kwargs.n_aux_classes"),
    ("cgan-tiny", "model.kwargs.n_classes=2", "recipe.model.kwargs.n_classes"),
    ("cgan-tiny", "data.labelled=false", "recipe.data.labelled"),
])
def test_cross_field_errors_name_the_field(recipe, override, field, toy_manifest):
    with pytest.raises(ConfigError) as e:
        r = load_recipe(RECIPES[f"{recipe}"], [f"data.manifest={toy_manifest}", override])
        GANScheme.build(r, build_model(r))
    assert str(e.value).startswith(field)


def test_registry_and_recipes():
    assert SCHEMES["gan"] is GANScheme and MODELS["dcgan"] is DCGAN
    names = [f"{n}{s}" for n in TINY_RECIPES for s in ("", "-tiny")] + ["cgan-cpu", "cwgan-gp-exp2-cpu"]
    for name in names:
        r = load_recipe(RECIPES[f"{name}"])
        assert r.scheme == "gan"
        GANScheme.validate(r)
    paper = load_recipe(RECIPES["cwgan-gp-exp4"])
    assert paper.gan.consistency_weight > 0 and paper.data.condition_channels == [1]
    assert build_model(load_recipe(RECIPES["cwgan-gp-exp3-tiny"])).out_shape == (1, 128, 128)
