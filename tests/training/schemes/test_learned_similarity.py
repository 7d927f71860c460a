"""The ``vaegan`` scheme: on a fixed batch the reconstruction error falls in Dis_l feature space and in pixel
space and the discriminator separates real images from prior samples; each network is updated with the gradient
of its own loss only (the paper's split); one global step per training step; the tiny recipe trains end to end and
resumes exactly; recipe errors name the field."""

from __future__ import annotations

import copy
import json

import lightning as L
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from speechgen.data.datamodule import ManifestDataset
from speechgen.errors import ConfigError
from speechgen.models.vaegan import VAEGAN
from speechgen.inference import latent
from speechgen.inference.loading import load_generator
from speechgen.training.schemes.generative import GenData, GenTrain
from speechgen.training.optim import NonFiniteLossError
from speechgen.training.optim import OptimConfig
from speechgen.models.registry import MODELS
from speechgen.training.registry import SCHEMES, build_model, load_recipe
from speechgen.training.runner import train
from speechgen.training.schemes.learned_similarity import VAEGANModule, VAEGANScheme, VAEGANSection

from ..fixed_batch import RECIPES, assert_resumes_exactly, fit_fixed_batch

pytestmark = [pytest.mark.filterwarnings("ignore:.*validation_step.*no `val_dataloader`"),
              pytest.mark.filterwarnings("ignore:.*LeafSpec.*")]

# recipe name -> recipes/FAMILY/NAME.yaml
SMALL = dict(channels=1, height=32, width=32, latent_dim=8, label_dim=4, enc_widths=[8, 16], enc_kernel_size=3,
             enc_hidden=32, stages=3, base_width=8, max_width=32)


@pytest.fixture
def fixed_batch(toy_manifest):
    """8 amplitude images of the toy tones (3 labels), average-pooled to 32 x 32, and their labels."""
    ds = ManifestDataset(toy_manifest, split="train", feature="stft_image")
    items = [ds[i] for i in range(0, 24, 3)]
    x = F.avg_pool2d(torch.stack([it["features"][:1] for it in items]), 4)
    return {"features": x, "label": torch.tensor([it["label"] for it in items])}


def _module(gamma: float = 1.0, lr: float = 3e-3, loss: str = "ns", **model_kwargs) -> VAEGANModule:
    model = VAEGAN(**{**SMALL, "n_classes": 3, **model_kwargs})
    o = OptimConfig(name="adam", lr=lr, weight_decay=0.0, betas=(0.5, 0.9), schedule="constant")
    return VAEGANModule(model, {"name": "vaegan", "kwargs": {}}, GenData(manifest="unused"),
                        GenTrain(max_steps=1000, sample_every=0), o, o, o,
                        VAEGANSection(loss=loss, gamma=gamma, kl_warmup_steps=10))


def test_reconstruction_falls_in_feature_and_pixel_space(fixed_batch, tmp_path):
    torch.manual_seed(0)
    module = _module()
    trainer, rec = fit_fixed_batch(module, fixed_batch, 30, tmp_path, record=["train/feature", "train/recon"])
    feat, pix = rec["train/feature"], rec["train/recon"]
    assert len(feat) == 30
    # Dis_l moves with the discriminator, so the feature error is a noisier target than the pixel error
    # (last/first ratio 0.2-0.6 over seeds 0-5; pixel 0.12-0.18)
    assert sum(feat[-5:]) < 0.75 * sum(feat[:5]), feat
    assert sum(pix[-5:]) < 0.4 * sum(pix[:5]), pix
    # one global step per training step; each of the three optimisers stepped once per training step
    assert trainer.global_step == 30
    for opt in module.optimizers():
        assert {int(s["step"]) for s in opt.optimizer.state.values()} == {30}


def test_discriminator_separates_real_from_prior_samples(fixed_batch, tmp_path):
    torch.manual_seed(0)
    module = _module()
    fit_fixed_batch(module, fixed_batch, 8, tmp_path)
    model = module.model
    x, y = fixed_batch["features"], fixed_batch["label"]
    with torch.no_grad():  # in training mode, as the discriminator is trained (one batch of real + generated)
        prior = model.sample(len(x), y, torch.Generator().manual_seed(1))
        logits = model.discriminate(torch.cat([x, prior]), y.repeat(2))[0]
    real, fake = logits.split(len(x))
    assert float(real.min()) > float(fake.max()), (real, fake)


def test_each_network_gets_the_gradient_of_its_own_loss_only(fixed_batch, tmp_path):
    """encoder ← KL + L_llike, decoder ← gamma L_llike + GAN, discriminator ← GAN: the gradients the optimisers
    step with equal those of the paper's three losses, each w.r.t. its own network, from one forward pass."""
    torch.manual_seed(0)
    module = _module(gamma=0.3)
    reference = copy.deepcopy(module.model)
    x, y = fixed_batch["features"], fixed_batch["label"]
    losses = module.losses

    def seeded(*args, **kwargs):
        torch.manual_seed(123)
        return losses(*args, **kwargs)

    module.losses = seeded  # type: ignore[method-assign]
    seen: dict[str, list[torch.Tensor]] = {}

    def grab(name: str):
        def hook(opt, args, kwargs) -> None:  # the gradients each optimiser steps with
            seen[name] = [p.grad.clone() for g in opt.param_groups for p in g["params"]]
        return hook

    class Hook(L.Callback):
        def on_train_start(self, trainer, pl_module) -> None:
            for name, opt in zip(("encoder", "generator", "discriminator"), pl_module.optimizers()):
                opt.optimizer.register_step_pre_hook(grab(name))

    fit_fixed_batch(module, fixed_batch, 1, tmp_path, callbacks=[Hook()])
    ref = copy.deepcopy(module)
    ref.model = reference
    torch.manual_seed(123)
    enc_loss, dec_loss, dis_loss, parts = VAEGANModule.losses(ref, x, y, 0)
    for name, loss in (("encoder", enc_loss), ("generator", dec_loss), ("discriminator", dis_loss)):
        params = list(getattr(reference, name).parameters())
        want = torch.autograd.grad(loss, params, retain_graph=True, allow_unused=True)
        got = seen[name]
        assert len(got) == len(want)
        for g, w in zip(got, want):
            assert torch.allclose(g, torch.zeros_like(g) if w is None else w, rtol=1e-4, atol=1e-6), name
    # and not the others': the GAN loss does reach the encoder, the feature loss the discriminator, if allowed to
    g_enc = torch.autograd.grad(parts["g_loss"], list(reference.encoder.parameters()), retain_graph=True)
    assert any(float(g.abs().max()) > 0 for g in g_enc)
    d_feat = torch.autograd.grad(parts["feature"], list(reference.discriminator.parameters()), allow_unused=True)
    assert any(g is not None and float(g.abs().max()) > 0 for g in d_feat)


@pytest.mark.parametrize("loss", ["hinge", "lsgan", "wgan-gp"])
def test_other_gan_losses_train(loss, fixed_batch, tmp_path):
    torch.manual_seed(0)
    module = _module(loss=loss, d_norm="layer" if loss == "wgan-gp" else "batch")
    trainer, _ = fit_fixed_batch(module, fixed_batch, 3, tmp_path)
    metrics = trainer.callback_metrics
    assert trainer.global_step == 3 and all(torch.isfinite(v) for v in metrics.values())
    assert ("train/gp" in metrics) == (loss == "wgan-gp")


def test_nan_loss_stops_before_any_step(fixed_batch, tmp_path):
    module = _module()
    before = {k: v.clone() for k, v in module.model.state_dict().items() if v.is_floating_point()}
    bad = dict(fixed_batch, features=fixed_batch["features"].clone())
    bad["features"][0, 0, 0, 0] = float("nan")
    with pytest.raises(NonFiniteLossError, match="feature|recon|kl|d_loss"):
        fit_fixed_batch(module, bad, 3, tmp_path)
    after = module.model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if "running" not in k)


def test_tiny_recipe_trains_end_to_end(toy_manifest, tmp_path):
    run = tmp_path / "vaegan"
    metrics = train(load_recipe(RECIPES["vaegan-tiny"], [f"data.manifest={toy_manifest}"]), run, quiet=True)
    assert metrics["steps"] == 4
    assert {"train/feature", "train/kl", "train/recon", "train/d_loss", "train/g_loss", "val/recon", "val/feature",
            "val/d_prior", "test/recon"} <= set(metrics)
    assert all(np.isfinite(v) for v in metrics.values())
    for f in ("final/model.safetensors", "final/config.yaml", "metrics.json",
              "checkpoints/last.ckpt/model.safetensors"):
        assert (run / f).is_file(), f
    rounds = sorted((run / "samples").iterdir())
    assert [r.name for r in rounds] == ["step-0000002", "step-0000004"]
    assert len(list(rounds[-1].glob("sample-*.wav"))) == 3 and (rounds[-1] / "grid.png").is_file()
    assert not list(run.rglob("*.pt")) and not list(run.rglob("*.pkl"))
    model, cfg = load_generator(run)
    assert cfg["model"]["name"] == "vaegan" and isinstance(model, VAEGAN)
    x = model.sample(2, torch.tensor([0, 1]), torch.Generator().manual_seed(0))
    assert x.shape == (2, 1, 128, 128)
    feats = ManifestDataset(toy_manifest, split="valid", feature="stft_image")[0]["features"][None, :1]
    assert latent.reconstruct(model, feats, [0]).shape == (1, 1, 128, 128)  # `speechgen transform` works
    assert json.loads((run / "metrics.json").read_text())["steps"] == 4


def test_resumes_exactly(toy_manifest, tmp_path):
    sets = [f"data.manifest={toy_manifest}", "train.sample_every=0", "train.val_every=100"]
    # 4 steps, checkpoints at 2 and 4; stopped after 2 (6 batches per epoch: mid-epoch)
    a = assert_resumes_exactly(RECIPES["vaegan-tiny"], sets, tmp_path, stop=2, steps=4)
    assert {k.split(".")[0] for k in a} == {"encoder", "generator", "discriminator"}


@pytest.mark.parametrize("override, field", [
    ("vaegan.loss=wgan", "recipe.vaegan.loss"),
    ("vaegan.gamma=-1", "recipe.vaegan.gamma"),
    ("vaegan.beta=-0.5", "recipe.vaegan.beta"),
    ("vaegan.kl_warmup_steps=-1", "recipe.vaegan.kl_warmup_steps"),
    ("vaegan.feature_layer=1", "recipe.vaegan.feature_layer"),  # unknown key: Dis_l is a model kwarg
    ("optim_enc.lr=0", "recipe.optim_enc.lr"),
    ("optim_d.warmup=1.5", "recipe.optim_d.warmup"),
    ("model.kwargs.feature_layer=4", "recipe.model.kwargs.feature_layer"),
    ("model.kwargs.feature_layer=-5", "recipe.model.kwargs.feature_layer"),
    ("model.kwargs.enc_widths=[4,8,8,16,16,16,16,16]", "recipe.model.kwargs.enc_widths"),
    ("model.kwargs.enc_kernel_size=1", "recipe.model.kwargs.enc_kernel_size"),
    ("model.kwargs.stages=8", "recipe.model.kwargs.stages"),
    ("model.kwargs.d_conditioning=none", "recipe.model.kwargs.d_conditioning"),
    ("model.kwargs.height=64", "recipe.model.kwargs.height"),
    ("data.channels=[0,1]", "recipe.model.kwargs.channels"),
    ("data.channels=[2]", "recipe.data.channels"),
    ("data.feature=log_mel", "recipe.data.feature"),
    ("data.condition_channels=[1]", "recipe.data.condition_channels"),
    ("data.labelled=false", "recipe.data.labelled"),
    ("vaegan.loss=wgan-gp", "recipe.model.kwargs.d_norm"),
])
def test_recipe_errors_name_the_field_on_load(override, field, toy_manifest):
    with pytest.raises(ConfigError) as e:
        load_recipe(RECIPES["vaegan-tiny"], [f"data.manifest={toy_manifest}", override])
    assert str(e.value).startswith(field)


def test_label_count_is_checked_against_the_manifest(toy_manifest):
    r = load_recipe(RECIPES["vaegan-tiny"], [f"data.manifest={toy_manifest}", "model.kwargs.n_classes=2"])
    with pytest.raises(ConfigError) as e:
        VAEGANScheme.build(r, build_model(r))
    assert str(e.value).startswith("recipe.model.kwargs.n_classes")


def test_registry_and_recipes():
    assert SCHEMES["vaegan"] is VAEGANScheme and MODELS["vaegan"] is VAEGAN
    for name in ("vaegan", "vaegan-cpu", "vaegan-tiny"):
        r = load_recipe(RECIPES[f"{name}"])
        assert r.scheme == "vaegan" and r.data.channels == [0]
    cpu = load_recipe(RECIPES["vaegan-cpu"])
    assert cpu.model.kwargs["n_classes"] == 10 and cpu.data.labelled
    wgan = load_recipe(RECIPES["vaegan-tiny"], ["vaegan.loss=wgan-gp", "model.kwargs.d_norm=layer"])
    assert wgan.vaegan.loss == "wgan-gp"
