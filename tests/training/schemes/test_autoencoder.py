"""The ``vae`` scheme: each objective learns on a fixed batch, each tiny recipe trains end to end, WAE-GAN counts
one global step per training step and resumes exactly, and recipe errors name the field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from speechgen.cli.main import main
from speechgen.data.datamodule import ManifestDataset
from speechgen.errors import ConfigError
from speechgen.models.vae import ConvVAE
from speechgen.models.wae import WAE
from speechgen.inference.loading import load_generator
from speechgen.training.schemes.generative import GenData, GenTrain
from speechgen.training.optim import NonFiniteLossError
from speechgen.training.optim import OptimConfig
from speechgen.training.registry import SCHEMES, build_model, load_recipe
from speechgen.training.runner import train
from speechgen.training.schemes.autoencoder import VAEModule, VAEScheme, VAESection, kl_weight

from ..fixed_batch import RECIPES, assert_resumes_exactly, fit_fixed_batch

pytestmark = [pytest.mark.filterwarnings("ignore:.*validation_step.*no `val_dataloader`"),
              pytest.mark.filterwarnings("ignore:.*LeafSpec.*")]

# recipe name -> recipes/FAMILY/NAME.yaml
TINY = dict(widths=[8, 16], hidden=32, latent_dim=8)
AMP = dict(TINY, in_channels=1)


@pytest.fixture
def fixed_batch(toy_manifest):
    ds = ManifestDataset(toy_manifest, split="train", feature="stft_image")
    items = [ds[i] for i in range(0, 24, 3)]  # 8 clips of the 3 labels
    # the amplitude channel (the phase of noisy tones is unpredictable: its error floor would hide the progress)
    return {"features": torch.stack([it["features"][:1] for it in items]),
            "label": torch.tensor([it["label"] for it in items])}


def _fit(model, vae: VAESection, batch: dict, steps: int, tmp_path: Path, lr: float = 1e-2):
    data = GenData(manifest="unused")
    tcfg = GenTrain(max_steps=steps, sample_every=0)
    optim = OptimConfig(name="adam", lr=lr, weight_decay=0.0, schedule="constant")
    module = VAEModule(model, {"name": "x", "kwargs": {}}, data, tcfg, optim, vae)
    trainer, rec = fit_fixed_batch(module, batch, steps, tmp_path, record=["train/recon"])
    return trainer, rec["train/recon"]


@pytest.mark.parametrize("objective", ["elbo", "mmd", "adversarial"])
def test_loss_falls_on_a_fixed_batch(objective, fixed_batch, tmp_path):
    torch.manual_seed(0)
    if objective == "elbo":
        model = ConvVAE(**AMP, n_classes=3, label_dim=4)  # conditional: labels come from batch["label"]
    else:
        model = WAE(**AMP, adversarial=objective == "adversarial", critic_hidden=[16])
    critic0 = [p.detach().clone() for p in model.latent_critic.parameters()] if objective == "adversarial" else []
    vae = VAESection(objective=objective, kl_warmup_steps=10, mmd_weight=10.0, critic_lr=1e-3)
    trainer, recon = _fit(model, vae, fixed_batch, 30, tmp_path)
    assert trainer.global_step == 30 and len(recon) == 30  # one global step per training step, also with 2 optims
    first, last = sum(recon[:5]) / 5, sum(recon[-5:]) / 5
    assert last < 0.4 * first, (first, last)
    if critic0:  # the critic was trained too
        assert any(not torch.equal(a, b) for a, b in zip(critic0, model.latent_critic.parameters()))


@pytest.mark.parametrize("objective", ["elbo", "adversarial"])
def test_nan_loss_stops_before_any_step(objective, fixed_batch, tmp_path):
    model = ConvVAE(**AMP) if objective == "elbo" else WAE(**AMP, adversarial=True, critic_hidden=[8])
    before = {k: v.clone() for k, v in model.state_dict().items() if v.is_floating_point()}
    bad = dict(fixed_batch, features=fixed_batch["features"].clone())
    bad["features"][0, 0, 0, 0] = float("nan")
    with pytest.raises(NonFiniteLossError, match="recon"):
        _fit(model, VAESection(objective=objective), bad, 3, tmp_path)
    after = model.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before if "running" not in k)


def test_kl_warmup_is_linear():
    assert kl_weight(0, 2.0, 0) == 2.0
    assert kl_weight(0, 2.0, 4) == pytest.approx(0.5) and kl_weight(1, 2.0, 4) == pytest.approx(1.0)
    assert kl_weight(3, 2.0, 4) == 2.0 and kl_weight(100, 2.0, 4) == 2.0


@pytest.mark.parametrize("name, extra", [("vae", "kl"), ("cvae", "kl"), ("wae-mmd", "mmd"), ("wae-gan", "critic")])
def test_tiny_recipe_trains_end_to_end(name, extra, toy_manifest, tmp_path):
    run = tmp_path / name
    metrics = train(load_recipe(RECIPES[f"{name}-tiny"], [f"data.manifest={toy_manifest}"]), run, quiet=True)
    assert metrics["steps"] == 8
    assert f"train/{extra}" in metrics and "val/recon" in metrics and "test/recon" in metrics
    assert all(torch.isfinite(torch.tensor(v)) for v in metrics.values())
    for f in ("final/model.safetensors", "final/config.yaml", "metrics.json",
              "checkpoints/last.ckpt/model.safetensors"):
        assert (run / f).is_file(), f
    rounds = sorted((run / "samples").iterdir())
    assert [r.name for r in rounds] == ["step-0000004", "step-0000008"]
    assert len(list(rounds[-1].glob("sample-*.wav"))) == 4 and (rounds[-1] / "grid.png").is_file()
    assert not list(run.rglob("*.pt")) and not list(run.rglob("*.pkl"))
    model, cfg = load_generator(run)
    assert cfg["model"]["name"] == ("vae" if "vae" in name else "wae")
    labels = torch.arange(2) if model.n_classes else None
    x = model.sample(2, labels=labels, generator=torch.Generator().manual_seed(0))
    assert x.shape == (2, 2, 128, 128) and x.abs().max() <= 1
    assert json.loads((run / "metrics.json").read_text())["steps"] == 8


def test_wae_gan_resumes_exactly(toy_manifest, tmp_path):
    sets = [f"data.manifest={toy_manifest}", "train.sample_every=0", "train.val_every=100"]
    # 8 steps, checkpoints at 4 and 8; stopped after 4 (3 batches per epoch: mid-epoch)
    a = assert_resumes_exactly(RECIPES["wae-gan-tiny"], sets, tmp_path, stop=4, steps=8)
    assert any(k.startswith("latent_critic.") for k in a)


@pytest.mark.parametrize("override, field", [
    ("vae.beta=-1", "recipe.vae.beta"),
    ("vae.objective=kl", "recipe.vae.objective"),
    ("vae.recon=l3", "recipe.vae.recon"),
    ("vae.mmd_scales=[]", "recipe.vae.mmd_scales"),
    ("vae.critic_lr=0", "recipe.vae.critic_lr"),
    ("vae.warmup=3", "recipe.vae.warmup"),  # unknown key
    ("model.kwargs.widths=wide", "recipe.model.kwargs.widths"),
    ("model.kwargs.latent=3", "recipe.model.kwargs.latent"),
    ("train.ema=1.5", "recipe.train.ema"),
])
def test_section_errors_name_the_field(override, field, toy_manifest):
    with pytest.raises(ConfigError) as e:
        load_recipe(RECIPES["vae-tiny"], [f"data.manifest={toy_manifest}", override])
    assert str(e.value).startswith(field)


@pytest.mark.parametrize("recipe, override, field", [
    ("vae-tiny", "vae.objective=mmd", "recipe.vae.objective"),
    ("wae-mmd-tiny", "vae.objective=elbo", "recipe.vae.objective"),
    ("wae-mmd-tiny", "vae.objective=adversarial", "recipe.vae.objective"),
    ("wae-gan-tiny", "vae.objective=mmd", "recipe.model.kwargs.adversarial"),
    ("vae-tiny", "model.kwargs.height=64", "recipe.model.kwargs.height"),
    ("vae-tiny", "data.channels=[0]", "recipe.model.kwargs.in_channels"),
    ("vae-tiny", "data.feature=log_mel", "recipe.data.feature"),
    ("vae-tiny", "data.condition_channels=[1]", "recipe.data.condition_channels"),
    ("cvae-tiny", "model.kwargs.n_classes=2", "recipe.model.kwargs.n_classes"),
])
def test_cross_field_errors_name_the_field(recipe, override, field, toy_manifest):
    with pytest.raises(ConfigError) as e:  # on load where no data is needed, else when the run is built
        r = load_recipe(RECIPES[f"{recipe}"], [f"data.manifest={toy_manifest}", override])
        VAEScheme.build(r, build_model(r))
    assert str(e.value).startswith(field)


def test_cross_field_error_is_one_line_from_the_cli(toy_manifest, tmp_path, capsys):
    code = main(["train", str(RECIPES["wae-mmd-tiny"]), "--out", str(tmp_path / "r"), "--quiet",
                 "--set", f"data.manifest={toy_manifest}", "--set", "vae.objective=adversarial"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "adversarial: true" in err


def test_amplitude_only_recipe_and_registry():
    assert SCHEMES["vae"] is VAEScheme
    r = load_recipe(RECIPES["vae-tiny"], ["data.channels=[0]", "model.kwargs.in_channels=1"])
    VAEScheme.validate(r)
    assert build_model(r).out_shape == (1, 128, 128)
