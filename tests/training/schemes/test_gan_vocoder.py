"""The ``vocoder`` scheme: mel L1 falls on a fixed batch, one global step per training step, tiny recipes train end
to end through the runner, NaN stops cleanly, and recipe errors name the field."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from speechgen.data.datamodule import ManifestDataset
from speechgen.errors import ConfigError
from speechgen.models.hifigan import HiFiGAN
from speechgen.training.optim import NonFiniteLossError
from speechgen.training.optim import OptimConfig
from speechgen.training.registry import load_recipe
from speechgen.training.runner import train
from speechgen.training.schemes.gan_vocoder import VocoderData, VocoderLosses, VocoderModule, VocoderTrain

from ..fixed_batch import RECIPES, assert_resumes_exactly, fit_fixed_batch

pytestmark = [pytest.mark.filterwarnings("ignore:.*validation_step.*no `val_dataloader`"),
              pytest.mark.filterwarnings("ignore:.*LeafSpec.*")]

# recipe name -> recipes/FAMILY/NAME.yaml
TINY_RECIPES = ["hifigan-v1-tiny", "hifigan-v2-tiny", "hifigan-v3-tiny", "melgan-tiny"]
FULL_RECIPES = ["hifigan-v1", "hifigan-v2", "hifigan-v3", "melgan", "hifigan-v1-22k", "hifigan-v2-22k",
                "hifigan-v3-22k", "melgan-22k", "hifigan-cpu", "melgan-cpu"]


@pytest.fixture
def fixed_batch(toy_manifest):
    ds = ManifestDataset(toy_manifest, split="train", feature="log_mel", segment_length=2048, paired=True)
    items = [ds[i] for i in (0, 5, 13, 22)]
    return {"audio": torch.stack([it["audio"] for it in items]), "mel": torch.stack([it["mel"] for it in items])}


def _fit(model, batch, steps, tmp_path, losses=None, lr=2e-3):
    optim = OptimConfig(name="adam", lr=lr, weight_decay=0.0, betas=(0.8, 0.99), schedule="constant")
    module = VocoderModule(model, {"name": "hifigan", "kwargs": {}}, VocoderData(manifest="unused"),
                           VocoderTrain(max_steps=steps, sample_every=0), optim, optim,
                           losses or VocoderLosses(adv_weight=2.0))
    trainer, rec = fit_fixed_batch(module, batch, steps, tmp_path, record=["train/mel_l1"])
    return trainer, rec["train/mel_l1"]


def test_mel_l1_falls_on_a_fixed_batch_with_one_global_step_per_step(fixed_batch, tmp_path):
    torch.manual_seed(0)
    model = HiFiGAN(upsample_initial_channel=16, resblock_kernel_sizes=[3, 7], resblock_dilation_sizes=[[1, 3], [1, 3]],
                    disc_width=1 / 32, mpd_periods=[2, 3], msd_scales=2)
    d_before = [p.detach().clone() for p in model.discriminator.parameters()]
    trainer, mel = _fit(model, fixed_batch, 30, tmp_path, lr=1e-2)
    assert trainer.global_step == 30 and len(mel) == 30  # the discriminator's updates are not counted
    first, last = sum(mel[:3]) / 3, sum(mel[-3:]) / 3
    assert last < 0.5 * first, mel  # 7.6 -> about 1.2
    assert any(not torch.equal(a, b) for a, b in zip(d_before, model.discriminator.parameters()))
    assert "train/d_loss" in trainer.callback_metrics and "train/fm" in trainer.callback_metrics


def test_discriminator_waits_for_its_start_step(fixed_batch, tmp_path):
    torch.manual_seed(0)
    model = HiFiGAN(upsample_initial_channel=16, resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1]],
                    disc_width=1 / 32, mpd_periods=[2], msd_scales=1)
    d_before = [p.detach().clone() for p in model.discriminator.parameters()]
    trainer, _ = _fit(model, fixed_batch, 3, tmp_path, VocoderLosses(disc_start_step=10, mrstft_weight=1.0,
                                                                      phase_weight=1.0))
    assert all(torch.equal(a, b) for a, b in zip(d_before, model.discriminator.parameters()))
    assert "train/d_loss" not in trainer.callback_metrics and "train/mrstft" in trainer.callback_metrics
    assert 0 < float(trainer.callback_metrics["train/phase"]) < 3 * 3.1416  # IP + GD + IAF, radians


def test_nan_loss_stops_with_one_line(fixed_batch, tmp_path):
    model = HiFiGAN(upsample_initial_channel=16, resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1]],
                    disc_width=1 / 32, mpd_periods=[2], msd_scales=1)
    batch = dict(fixed_batch, audio=fixed_batch["audio"] * float("nan"))
    with pytest.raises(NonFiniteLossError, match=r"^step 0: loss 'd_loss' is nan"):
        _fit(model, batch, 2, tmp_path)


@pytest.mark.parametrize("name", TINY_RECIPES)
def test_tiny_recipe_trains_end_to_end(name, toy_manifest, tmp_path):
    from speechgen.inference.vocode import load_vocoder

    run = tmp_path / "run"
    metrics = train(load_recipe(RECIPES[f"{name}"], [f"data.manifest={toy_manifest}"]), run, quiet=True)
    assert metrics["steps"] == 4
    for key in ("train/g_loss", "train/d_loss", "train/mel_l1", "train/fm", "val/mel_l1", "val/mrstft"):
        assert key in metrics and metrics[key] == metrics[key], key  # present and not NaN
    assert (run / "final" / "model.safetensors").is_file()
    cfg = yaml.safe_load((run / "final" / "config.yaml").read_text())
    assert cfg["sample_rate"] == 16000 and cfg["features"]["hop_length"] == 256 and cfg["features"]["n_mels"] == 80
    samples = run / "samples" / "step-0000004"
    wavs = sorted(p.name for p in samples.glob("*.wav"))
    assert len(wavs) == 4 and sum(w.endswith(".ref.wav") for w in wavs) == 2
    summary = json.loads((samples / "metrics.json").read_text())
    assert len(summary["clips"]) == 2 and summary["mean"]["mel_l1"] > 0
    model, _, _ = load_vocoder(run)  # generator only
    assert model.discriminator is None and model.infer(torch.zeros(80, 5)).shape == (1280,)


@pytest.mark.parametrize("name", FULL_RECIPES)
def test_paper_and_cpu_recipes_validate(name):
    recipe = load_recipe(RECIPES[f"{name}"])
    assert recipe.scheme == "vocoder" and recipe.data.segment_length % 256 == 0
    assert "# Expected time:" in (RECIPES[f"{name}"]).read_text()


def _tiny(overrides):
    return load_recipe(RECIPES["hifigan-v1-tiny"], overrides)


@pytest.mark.parametrize("overrides, field", [
    (["model.kwargs.upsample_rates=[8, 8, 2]", "model.kwargs.upsample_kernel_sizes=[16, 16, 4]"],
     "recipe.model.kwargs.upsample_rates: their product 128 must equal the hop length"),
    (["data.segment_length=2000"], "recipe.data.segment_length: 2000 is not a multiple of the hop length 256"),
    (["data.eval_segment_length=4000"], "recipe.data.eval_segment_length: 4000 is not a multiple"),
    (["data.segment_length=512"], "recipe.data.segment_length: 512 samples is too short"),
    (["data.sample_rate=22050"], "recipe.data.sample_rate: 22050, but the model works at 16000 Hz"),
    (["data.feature_params={hop_length: 200}"], "recipe.data.feature_params.hop_length: 200, but the model expects 256"),
    (["model.kwargs.feature_params={fmax: 9000}"], "recipe.model.kwargs.feature_params.fmax: 9000 Hz is above"),
    (["losses.mel_fmax=12000"], "recipe.losses.mel_fmax: 12000 Hz is above the Nyquist"),
    (["losses.adversarial=wgan"], "recipe.losses.adversarial: expected one of"),
    (["losses.phase_resolution=[512, 128]"], "recipe.losses.phase_resolution: expected [n_fft, hop, win]"),
    (["losses.phase_weight=-1"], "recipe.losses.phase_weight: must be >= 0"),
    (["model.kwargs.discriminators=false"], "recipe.model.kwargs.discriminators: training needs"),
    (["model.name=dcgan", "model.kwargs={}"], "recipe.model.name: the vocoder scheme trains GAN vocoders"),
])
def test_recipe_errors_name_the_field(overrides, field):
    with pytest.raises(ConfigError) as err:
        _tiny(overrides)
    assert str(err.value).startswith(field), str(err.value)


def test_resume_continues_exactly(toy_manifest, tmp_path):
    sets = [f"data.manifest={toy_manifest}", "train.val_every=100", "train.sample_every=0",
            "train.checkpoint_every=2"]
    a = assert_resumes_exactly(RECIPES["hifigan-v3-tiny"], sets, tmp_path, stop=2, steps=4, max_steps=4)
    assert any("_u" in k for k in a)  # spectral-norm state travels too


@pytest.mark.parametrize("start", [0, 10])
def test_a_magnitude_critic_trains_beside_the_supervised_loss_from_its_start_step(fixed_batch, tmp_path, start):
    """The iSTFT vocoder's magnitude critic: from disc_start_step the critic is updated every step and the head's
    loss gains its adversarial and feature-matching terms; before, the plain supervised stage runs."""
    from speechgen.models.istft_vocoder import ISTFTVocoder

    torch.manual_seed(0)
    model = ISTFTVocoder(dim=16, intermediate_dim=32, layers=2, n_fft=512, head_hop=128, phase="pghi", gl_iters=1,
                         mel_prior=True, magnitude_critic=True, critic_channels=4)
    d_before = [p.detach().clone() for p in model.discriminator.parameters()]
    optim = OptimConfig(name="adam", lr=2e-3, weight_decay=0.0, betas=(0.8, 0.99), schedule="constant")
    losses = VocoderLosses(adversarial="lsgan", adv_weight=0.4, fm_weight=0.4, disc_start_step=start)
    module = VocoderModule(model, {"name": "istft_vocoder", "kwargs": {}}, VocoderData(manifest="unused"),
                           VocoderTrain(max_steps=3, sample_every=0), optim, optim, losses)
    trainer, _ = fit_fixed_batch(module, fixed_batch, 3, tmp_path)
    assert trainer.global_step == 3
    changed = any(not torch.equal(a, b) for a, b in zip(d_before, model.discriminator.parameters()))
    metrics = trainer.callback_metrics
    assert changed == (start == 0) and ("train/d_loss" in metrics) == (start == 0)
    assert ("train/adv" in metrics) == ("train/fm" in metrics) == (start == 0) and "train/sc" in metrics
