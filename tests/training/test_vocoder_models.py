"""The ``vocoder`` scheme with Parallel WaveGAN, the iSTFT vocoder and ResGAN: spectral losses fall on a fixed batch,
ResGAN's supervised pulse stage, ``train.init_from``, the tiny recipes end to end (runner + ``speechgen vocode``),
and the paper-size / CPU recipes validate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import soundfile as sf
import torch
import yaml

from speechgen.cli.main import main
from speechgen.data.datamodule import ManifestDataset
from speechgen.errors import ConfigError
from speechgen.models.istft_vocoder import ISTFTVocoder
from speechgen.models.parallel_wavegan import ParallelWaveGAN
from speechgen.models.resgan import ResGAN
from speechgen.training.optim import OptimConfig
from speechgen.training.registry import load_recipe
from speechgen.training.runner import train
from speechgen.training.schemes.gan_vocoder import VocoderData, VocoderLosses, VocoderModule, VocoderTrain

from .fixed_batch import RECIPES, fit_fixed_batch

pytestmark = [pytest.mark.filterwarnings("ignore:.*validation_step.*no `val_dataloader`"),
              pytest.mark.filterwarnings("ignore:.*LeafSpec.*")]

# recipe name -> recipes/FAMILY/NAME.yaml
FULL_RECIPES = ["parallel-wavegan", "parallel-wavegan-22k", "parallel-wavegan-cpu", "istft-vocoder",
                "istft-vocoder-22k", "istft-vocoder-cpu", "istft-vocoder-gl-cpu", "resgan-pulse", "resgan"]


def _batch(manifest, feature: str, params: dict | None = None) -> dict:
    ds = ManifestDataset(manifest, split="train", feature=feature, feature_params=params, segment_length=2048,
                         paired=True)
    items = [ds[i] for i in (0, 5, 13, 22)]
    return {"audio": torch.stack([it["audio"] for it in items]), "mel": torch.stack([it["mel"] for it in items])}


def _fit(model, batch, steps, tmp_path, losses, key, lr=2e-3):
    optim = OptimConfig(name="adam", lr=lr, weight_decay=0.0, betas=(0.9, 0.99), schedule="constant")
    module = VocoderModule(model, {"name": "x", "kwargs": {}}, VocoderData(manifest="unused"),
                           VocoderTrain(max_steps=steps, sample_every=0), optim, optim, losses)
    trainer, rec = fit_fixed_batch(module, batch, steps, tmp_path, record=[key])
    return trainer, rec[key]


def _mean(xs):
    return sum(xs) / len(xs)


def test_parallel_wavegan_mrstft_falls_on_a_fixed_batch(toy_manifest, tmp_path):
    torch.manual_seed(0)
    model = ParallelWaveGAN(layers=6, stacks=2, residual_channels=16, gate_channels=32, skip_channels=16,
                            disc_layers=3, disc_channels=4)
    losses = VocoderLosses(adversarial="lsgan", adv_weight=8.0, fm_weight=0.0, mel_weight=0.0, mrstft_weight=1.0,
                           disc_start_step=1000)
    batch = {k: v[:2] for k, v in _batch(toy_manifest, "log_mel").items()}
    trainer, mrstft = _fit(model, batch, 20, tmp_path, losses, "train/mrstft", lr=3e-3)
    assert trainer.global_step == 20
    # fresh input noise every step keeps part of the loss (about 2.6 -> 1.9 here)
    assert _mean(mrstft[-3:]) < 0.85 * _mean(mrstft[:3]), mrstft
    assert "train/d_loss" not in trainer.callback_metrics  # before the discriminator's start step


def test_istft_vocoder_mel_l1_falls_on_a_fixed_batch(toy_manifest, tmp_path):
    torch.manual_seed(0)
    model = ISTFTVocoder(dim=32, intermediate_dim=64, layers=2, disc_width=1 / 32, mpd_periods=[2], msd_scales=1)
    losses = VocoderLosses(adversarial="hinge", adv_weight=1.0, fm_weight=2.0, mel_weight=45.0)
    trainer, mel = _fit(model, _batch(toy_manifest, "log_mel"), 15, tmp_path, losses, "train/mel_l1", lr=1e-2)
    assert _mean(mel[-3:]) < 0.6 * _mean(mel[:3]), mel  # about 1.3 -> 0.6
    assert "train/d_loss" in trainer.callback_metrics and "train/fm" in trainer.callback_metrics


def test_resgan_pulse_stage_is_supervised_and_leaves_the_rest_alone(toy_manifest, tmp_path):
    torch.manual_seed(0)
    model = ResGAN(stage="pulse", lpc_order=12, pulse_length=128, pulse_hidden=[32], noise_channels=4,
                   noise_dilations=[1], disc_channels=[4])
    frozen = {k: v.clone() for k, v in model.state_dict().items() if "pulse_model" not in k}
    pulse_before = [p.detach().clone() for p in model.generator.pulse_model.parameters()]
    batch = _batch(toy_manifest, "mfcc_f0")
    trainer, mse = _fit(model, batch, 12, tmp_path, VocoderLosses(), "train/pulse_mse", lr=5e-3)
    assert trainer.global_step == 12 and "train/d_loss" not in trainer.callback_metrics
    assert float(trainer.callback_metrics["train/pulse_marks"]) > 0
    assert mse[-1] < mse[0], mse
    assert all(torch.equal(v, model.state_dict()[k]) for k, v in frozen.items())  # noise model and D untouched
    assert any(not torch.equal(a, b) for a, b in zip(pulse_before, model.generator.pulse_model.parameters()))


@pytest.mark.parametrize("name", ["parallel-wavegan-tiny", "istft-vocoder-tiny"])
def test_tiny_recipes_train_end_to_end_and_vocode(name, toy_manifest, tmp_path):
    run = tmp_path / "run"
    metrics = train(load_recipe(RECIPES[f"{name}"], [f"data.manifest={toy_manifest}"]), run, quiet=True)
    assert metrics["steps"] == 4
    for key in ("train/g_loss", "train/d_loss", "train/adv", "val/mel_l1", "val/mrstft", "test/mel_l1"):
        assert key in metrics and metrics[key] == metrics[key], key  # present and not NaN
    assert ("train/mrstft" if name.startswith("parallel") else "train/fm") in metrics
    cfg = yaml.safe_load((run / "final" / "config.yaml").read_text())
    assert cfg["sample_rate"] == 16000 and cfg["features"]["hop_length"] == 256
    summary = json.loads((run / "samples" / "step-0000004" / "metrics.json").read_text())
    assert len(summary["clips"]) == 2
    wav = Path(toy_manifest).parent / "wav" / "c_0_0.wav"
    assert main(["--quiet", "vocode", str(run), "--in", str(wav), "--out", str(tmp_path / "voc")]) == 0
    audio, sr = sf.read(tmp_path / "voc" / "c_0_0.wav")
    assert sr == 16000 and len(audio) == 16000 and abs(audio).max() > 0


@pytest.mark.parametrize("name", ["istft-vocoder-gl-tiny", "istft-vocoder-pghi-tiny", "istft-vocoder-pghi-f0-tiny"])
def test_magnitude_only_istft_vocoders_train_and_vocode(name, toy_manifest, tmp_path):
    """phase="griffin_lim" (1024/256) and phase="pghi" (a 512/128 head, two frames per mel frame), the latter also
    with the F0 input and harmonic-comb prior (f0_prior: the log_mel_f0 feature, in training and in `speechgen
    vocode`): a supervised stage (no discriminator step) on the head's magnitude; validation, samples and
    `speechgen vocode` go through the phase algorithm."""
    run = tmp_path / "run"
    metrics = train(load_recipe(RECIPES[name], [f"data.manifest={toy_manifest}"]), run, quiet=True)
    assert metrics["steps"] == 4 and "train/d_loss" not in metrics
    cfg = yaml.safe_load((run / "final" / "config.yaml").read_text())
    assert ("f0_min" in cfg["features"]) == name.endswith("-f0-tiny") and cfg["features"]["n_mels"] == 80
    assert metrics["train/g_loss"] == pytest.approx(metrics["train/sc"] + metrics["train/log_mag"], rel=1e-4)
    assert metrics["val/mel_l1"] == metrics["val/mel_l1"] and metrics["val/mrstft"] == metrics["val/mrstft"]
    wav = Path(toy_manifest).parent / "wav" / "c_0_0.wav"
    assert main(["--quiet", "vocode", str(run), "--in", str(wav), "--out", str(tmp_path / "voc")]) == 0
    audio, sr = sf.read(tmp_path / "voc" / "c_0_0.wav")
    assert sr == 16000 and len(audio) == 16000 and abs(audio).max() > 0


def test_griffin_lim_magnitude_loss_falls_on_a_fixed_batch(toy_manifest, tmp_path):
    torch.manual_seed(0)
    model = ISTFTVocoder(dim=32, intermediate_dim=64, layers=2, phase="griffin_lim", gl_iters=2,
                         disc_width=1 / 32, mpd_periods=[2], msd_scales=1)
    disc = {k: v.clone() for k, v in model.discriminator.state_dict().items()}
    trainer, log_mag = _fit(model, _batch(toy_manifest, "log_mel"), 15, tmp_path, VocoderLosses(), "train/log_mag",
                            lr=5e-3)
    assert trainer.global_step == 15 and "train/d_loss" not in trainer.callback_metrics
    assert _mean(log_mag[-3:]) < 0.8 * _mean(log_mag[:3]), log_mag
    assert all(torch.equal(v, model.discriminator.state_dict()[k]) for k, v in disc.items())  # never used


def test_resgan_two_stages_chain_through_init_from(toy_manifest, tmp_path):
    from safetensors.torch import load_file

    pulse_run, noise_run = tmp_path / "pulse", tmp_path / "noise"
    sets = [f"data.manifest={toy_manifest}"]
    m1 = train(load_recipe(RECIPES["resgan-pulse-tiny"], sets), pulse_run, quiet=True)
    assert m1["steps"] == 4 and m1["train/pulse_marks"] > 0 and m1["train/pulse_mse"] == m1["train/g_loss"]
    assert "val/mel_l1" in m1 and "train/d_loss" not in m1
    m2 = train(load_recipe(RECIPES["resgan-tiny"], sets + [f"train.init_from={pulse_run}"]), noise_run,
               quiet=True)
    assert m2["steps"] == 4 and "train/d_loss" in m2 and "train/mrstft" in m2 and m2["val/mel_l1"] == m2["val/mel_l1"]
    w1 = load_file(str(pulse_run / "final" / "model.safetensors"))
    w2 = load_file(str(noise_run / "final" / "model.safetensors"))
    pulse_keys = [k for k in w1 if ".pulse_model." in k]
    assert pulse_keys and all(torch.equal(w1[k], w2[k]) for k in pulse_keys)  # loaded, then frozen
    assert any(not torch.equal(w1[k], w2[k]) for k in w1 if ".noise_model." in k)  # the GAN stage trained it
    cfg = yaml.safe_load((noise_run / "final" / "config.yaml").read_text())
    assert cfg["features"]["n_mfcc"] == 20 and cfg["model"]["kwargs"]["stage"] == "noise"
    wav = Path(toy_manifest).parent / "wav" / "c_0_0.wav"
    for run in (pulse_run, noise_run):  # copy synthesis from MFCC + F0 computed as in training
        assert main(["--quiet", "vocode", str(run), "--in", str(wav), "--out", str(tmp_path / run.name)]) == 0
        audio, sr = sf.read(tmp_path / run.name / "c_0_0.wav")
        assert sr == 16000 and len(audio) == 16000


def test_init_from_errors_name_the_field(toy_manifest, tmp_path):
    sets = [f"data.manifest={toy_manifest}", f"train.init_from={tmp_path / 'missing'}"]
    with pytest.raises(ConfigError, match=r"^recipe\.train\.init_from: .*missing: no such run"):
        train(load_recipe(RECIPES["resgan-tiny"], sets), tmp_path / "run", quiet=True)


@pytest.mark.parametrize("name", FULL_RECIPES)
def test_paper_and_cpu_recipes_validate(name):
    recipe = load_recipe(RECIPES[f"{name}"])
    assert recipe.scheme == "vocoder" and recipe.data.segment_length % 256 == 0
    text = (RECIPES[f"{name}"]).read_text()
    assert "# Expected time:" in text
    if name.endswith("-cpu"):
        assert "OMP_NUM_THREADS=1" in text


def test_recipe_feature_params_must_match_the_model_feature():
    with pytest.raises(ConfigError, match=r"^recipe\.data\.feature_params\.n_mfcc: 13, but the model expects 20"):
        load_recipe(RECIPES["resgan-tiny"], ["data.feature_params={n_mfcc: 13}"])
    with pytest.raises(ConfigError, match=r"^recipe\.model\.kwargs\.n_fft: 512 must be at least three times"):
        load_recipe(RECIPES["istft-vocoder-tiny"], ["model.kwargs.n_fft=512"])


def test_the_magnitude_critic_recipe_fine_tunes_a_trained_head_and_vocodes(toy_manifest, tmp_path):
    """istft-vocoder-pghi-critic-tiny from the weights of a PGHI head (train.init_from): the critic trains from
    step 0, the head's loss gains adv + fm, and the result vocodes like any PGHI head (the critic is not loaded)."""
    base = tmp_path / "base"
    train(load_recipe(RECIPES["istft-vocoder-pghi-tiny"], [f"data.manifest={toy_manifest}"]), base, quiet=True)
    run = tmp_path / "run"
    metrics = train(load_recipe(RECIPES["istft-vocoder-pghi-critic-tiny"],
                                [f"data.manifest={toy_manifest}", f"train.init_from={base}"]), run, quiet=True)
    assert metrics["steps"] == 4 and all(metrics[k] == metrics[k] for k in ("train/d_loss", "train/adv", "train/fm"))
    assert metrics["train/g_loss"] > metrics["train/sc"] + metrics["train/log_mag"]
    wav = Path(toy_manifest).parent / "wav" / "c_0_0.wav"
    assert main(["--quiet", "vocode", str(run), "--in", str(wav), "--out", str(tmp_path / "voc")]) == 0
    audio, sr = sf.read(tmp_path / "voc" / "c_0_0.wav")
    assert sr == 16000 and len(audio) == 16000 and abs(audio).max() > 0
