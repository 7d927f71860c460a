"""The ``tts`` scheme with Tacotron: the linear-spectrogram target is batched beside the log-mel, the teacher-forced
losses (log-mel and linear L1) fall on a fixed batch, the tiny recipe trains end to end (sample rounds voiced by the
model's own Griffin-Lim audio), resumes exactly, and `speechgen tts` speaks with the trained checkpoint without a
vocoder (and with one, on its log-mel)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from speechgen.audio import io as audio_io
from speechgen.cli.main import main
from speechgen.data.manifest import Manifest
from speechgen.errors import ConfigError
from speechgen.inference.loading import load
from speechgen.models import roles as R
from speechgen.training.optim import OptimConfig
from speechgen.training.registry import build_model, load_recipe
from speechgen.training.runner import train
from speechgen.training.schemes.tts import (
    TTSLosses,
    TTSModule,
    TTSTrain,
    build_datamodule,
    low_bins_of,
    masked_spectral_l1,
)

from ...text_speech_fixtures import write_strings_manifest
from ..fixed_batch import RECIPES, assert_resumes_exactly, fit_fixed_batch

pytestmark = [pytest.mark.filterwarnings("ignore:.*LeafSpec.*")]
TINY = RECIPES["tacotron-tiny"]


@pytest.fixture(scope="module")
def strings_manifest(tmp_path_factory):
    return write_strings_manifest(tmp_path_factory.mktemp("strings") / "toy")


@pytest.fixture(scope="module")
def tiny_run(strings_manifest, tmp_path_factory):
    run = tmp_path_factory.mktemp("tacotron") / "run"
    metrics = train(load_recipe(TINY, [f"data.manifest={strings_manifest}"]), run, quiet=True)
    return run, metrics


def test_losses_fall_on_a_fixed_batch(strings_manifest, tmp_path):
    recipe = load_recipe(TINY, [f"data.manifest={strings_manifest}"])
    torch.manual_seed(0)
    model = build_model(recipe)
    dm = build_datamodule(recipe.data, model, 0)
    dm.setup("fit")
    batch = dm._collate(dm.dataset("train"))([dm.dataset("train")[i] for i in range(8)])
    assert batch["linear"].shape == (8, 257, batch["features"].shape[-1])
    module = TTSModule(model, {"name": "tacotron", "kwargs": {}}, recipe.data,
                       TTSTrain(max_steps=40, sample_every=0, vocoder=None),
                       OptimConfig(name="adam", lr=3e-3, weight_decay=0.0, schedule="constant", grad_clip=1.0),
                       TTSLosses(mel_loss="l1", guided_attention=1.0, linear_low_weight=0.5))
    _, rec = fit_fixed_batch(module, batch, 40, tmp_path,
                             record=["train/mel", "train/linear", "train/stop", "train/loss"])
    for k in ("train/mel", "train/linear"):
        assert np.mean(rec[k][-5:]) < 0.6 * np.mean(rec[k][:5]), (k, rec[k])
    assert np.mean(rec["train/stop"][-5:]) < np.mean(rec["train/stop"][:5])
    assert set(module.weights()) == {"mel", "mel_postnet", "linear", "stop", "guided_attention"}


def test_linear_loss_masks_padding_and_weights_low_bins():
    target = torch.zeros(2, 9, 6)
    pred = torch.zeros(2, 9, 6)
    pred[1, :, 4:] = 100.0  # past item 1's 4 frames: masked
    lengths = torch.tensor([6, 4])
    assert float(masked_spectral_l1(pred, target, lengths)) == 0.0
    pred[:, :3, :4] = 1.0  # an error of 1 in the 3 lowest bins of the true frames
    plain = float(masked_spectral_l1(pred, target, lengths))
    assert plain == pytest.approx(3 * 8 / (9 * 10))
    assert float(masked_spectral_l1(pred, target, lengths, 3, 0.5)) == pytest.approx(plain + 0.5 * 8 / 10)
    assert low_bins_of({"n_fft": 1024}, 16000, 3000.0) == 192  # bins 0..191 lie below 3 kHz (15.6 Hz apart)
    assert low_bins_of({"n_fft": 512}, 16000, 1e6) == 257


def test_tiny_recipe_trains_end_to_end_and_speaks(tiny_run, strings_manifest, tmp_path, capsys):
    run, metrics = tiny_run
    assert metrics["steps"] == 8
    for split in ("train", "val", "test"):
        for k in ("loss", "mel", "linear", "stop", "guided_attention"):
            assert np.isfinite(metrics[f"{split}/{k}"]), f"{split}/{k}"
        assert f"{split}/mel_postnet" not in metrics
    assert 0.0 < metrics["val/attention_diagonality"] <= 1.0
    last = run / "samples" / "step-0000008"
    for f in ("grid.png", "alignment.png", "metrics.json", "manifest.csv", "0000.wav", "0001.wav"):
        assert (last / f).is_file(), f
    clip, sr = audio_io.load(last / "0000.wav")
    summary = json.loads((last / "metrics.json").read_text())
    assert sr == 16000 and clip.size == summary["clips"]["0000"]["frames"] * 256 and np.isfinite(clip).all()
    model, info = load(run, R.TEXT_TO_SPEECH)
    assert info.model == "tacotron" and R.makes_audio(model) and model.n_bins == 257
    out = tmp_path / "tts"
    assert main(["tts", str(run), "--text", "four two", "--text", "7", "--out", str(out), "--seed", "1"]) == 0
    printed = capsys.readouterr().out
    assert "2 clip(s)" in printed and "its own audio" in printed
    rows = Manifest.read(out).rows
    assert [r["text"] for r in rows] == ["4 2", "7"]
    a, sr = audio_io.load(out / "0000.wav")
    assert sr == 16000 and a.size > 0 and np.isfinite(a).all()
    again = tmp_path / "again"
    assert main(["--quiet", "tts", str(run), "--text", "four two", "--text", "7", "--out", str(again),
                 "--seed", "1"]) == 0
    np.testing.assert_array_equal(audio_io.load(again / "0000.wav")[0], a)
    voiced = tmp_path / "voiced"  # a vocoder voices the log-mel instead
    assert main(["tts", str(run), "--text", "7", "--out", str(voiced), "--vocoder", "default"]) == 0
    assert "vocoder 'istft_vocoder'" in capsys.readouterr().out and (voiced / "0000.wav").is_file()


def test_resume_is_exact(strings_manifest, tmp_path):
    weights = assert_resumes_exactly(TINY, [f"data.manifest={strings_manifest}"], tmp_path, stop=4, steps=8)
    assert "postnet_cbhg.gru.weight_ih_l0" in weights


@pytest.mark.parametrize("sets, message", [
    (["model.kwargs.linear_params.hop_length=128"], r"recipe.model.kwargs.linear_params.hop_length"),
    (["losses.linear_weight=-1"], r"recipe.losses.linear_weight"),
    (["train.vocoder=default", "model.kwargs.feature_params.n_mels=64"],
     r"recipe.train.vocoder: the vocoder's feature_params.n_mels is 80"),
])
def test_recipe_errors_name_the_field(sets, message, strings_manifest):
    with pytest.raises(ConfigError, match=message):
        load_recipe(TINY, [f"data.manifest={strings_manifest}", *sets])
