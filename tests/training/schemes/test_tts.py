"""The ``tts`` scheme: the teacher-forced losses fall on a fixed batch, the tiny recipe trains end to end (valid =
held-out strings of the train voices, sample rounds with audio, mels and alignments, a report showing them),
resumes exactly, trains a multi-speaker model, and recipe errors name the field (the splits themselves:
tests/data/test_text_speech.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
import yaml

from speechgen.audio import io as audio_io
from speechgen.cli.main import main
from speechgen.data.manifest import Manifest
from speechgen.errors import ConfigError
from speechgen.inference.loading import load
from speechgen.models import roles as R
from speechgen.training.optim import OptimConfig
from speechgen.training.registry import build_model, load_recipe
from speechgen.training.runner import train
from speechgen.training.schemes.tts import TTSLosses, TTSModule, TTSTrain, build_datamodule, stop_loss

from ...text_speech_fixtures import write_strings_manifest
from ..fixed_batch import RECIPES, assert_resumes_exactly, fit_fixed_batch

pytestmark = [pytest.mark.filterwarnings("ignore:.*LeafSpec.*")]
TINY = RECIPES["tacotron2-tiny"]


@pytest.fixture(scope="module")
def strings_manifest(tmp_path_factory):
    return write_strings_manifest(tmp_path_factory.mktemp("strings") / "toy")


@pytest.fixture(scope="module")
def tiny_run(strings_manifest, tmp_path_factory):
    run = tmp_path_factory.mktemp("tts") / "run"
    metrics = train(load_recipe(TINY, [f"data.manifest={strings_manifest}"]), run, quiet=True)
    return run, metrics


def test_losses_fall_on_a_fixed_batch(strings_manifest, tmp_path):
    recipe = load_recipe(TINY, [f"data.manifest={strings_manifest}"])
    torch.manual_seed(0)
    model = build_model(recipe)
    dm = build_datamodule(recipe.data, model, 0)
    dm.setup("fit")
    batch = dm._collate(dm.dataset("train"))([dm.dataset("train")[i] for i in range(8)])
    module = TTSModule(model, {"name": "tacotron2", "kwargs": {}}, recipe.data, TTSTrain(max_steps=40, sample_every=0,
                       vocoder=None), OptimConfig(name="adam", lr=3e-3, weight_decay=0.0, schedule="constant",
                                                  grad_clip=1.0), TTSLosses(guided_attention=1.0))
    _, rec = fit_fixed_batch(module, batch, 40, tmp_path, record=["train/mel", "train/stop", "train/loss"])
    mel = rec["train/mel"]
    assert np.mean(mel[-5:]) < 0.5 * np.mean(mel[:5]), mel
    assert np.mean(rec["train/stop"][-5:]) < np.mean(rec["train/stop"][:5])


def test_stop_loss_targets_each_items_last_step():
    logits = torch.full((2, 4), -20.0)
    logits[0, 3] = logits[1, 1] = 20.0  # confident and right: item 0 ends at step 4, item 1 at step 2
    assert float(stop_loss(logits, torch.tensor([4, 2]), 5.0)) < 1e-6
    logits[1, 3] = 20.0  # past item 1's end: masked
    assert float(stop_loss(logits, torch.tensor([4, 2]), 5.0)) < 1e-6
    assert float(stop_loss(logits, torch.tensor([3, 2]), 5.0)) > 1.0


def test_tiny_recipe_trains_end_to_end(tiny_run, strings_manifest, tmp_path):
    run, metrics = tiny_run
    assert metrics["steps"] == 8
    for split in ("train", "val", "test"):
        for k in ("loss", "mel", "mel_postnet", "stop", "guided_attention"):
            assert np.isfinite(metrics[f"{split}/{k}"]), f"{split}/{k}"
    for k in ("attention_diagonality", "attention_focus"):
        assert 0.0 < metrics[f"val/{k}"] <= 1.0
    for f in ("final/model.safetensors", "final/config.yaml", "metrics.json", "checkpoints/last.ckpt/config.yaml"):
        assert (run / f).is_file(), f
    rounds = sorted(p.name for p in (run / "samples").iterdir())
    assert rounds == ["step-0000004", "step-0000008"]
    last = run / "samples" / "step-0000008"
    for f in ("grid.png", "alignment.png", "metrics.json", "manifest.csv", "0000.wav", "0001.wav"):
        assert (last / f).is_file(), f
    rows = Manifest.read(last)
    held = {r["text"] for r in Manifest.read(strings_manifest).rows if r["split"] == "train"}
    assert len(rows) == 2 and all(r["text"] in held and r["speaker"] in ("a", "b") for r in rows)
    clip, sr = audio_io.load(last / "0000.wav")
    assert sr == 16000 and clip.size > 0 and np.isfinite(clip).all()
    summary = json.loads((last / "metrics.json").read_text())
    assert set(summary["clips"]["0000"]) >= {"text", "frames", "reference_frames", "stopped", "diagonality"}
    model, info = load(run, R.TEXT_TO_SPEECH)
    assert info.model == "tacotron2" and info.roles == (R.TEXT_TO_SPEECH,) and model.symbols == "chars"
    assert info.config["features"]["n_mels"] == 80 and info.config["speakers"] == ["a", "b"]
    html = tmp_path / "report.html"
    assert main(["--quiet", "report", str(run), "--out", str(html), "--max-clips", "2"]) == 0
    text = html.read_text()
    assert "alignment.png" in text and "grid.png" in text


def test_resume_is_exact(strings_manifest, tmp_path):
    weights = assert_resumes_exactly(TINY, [f"data.manifest={strings_manifest}"], tmp_path, stop=4, steps=8)
    assert "embedding.weight" in weights


def test_multi_speaker_model_trains_without_a_test_split(strings_manifest, tmp_path):
    sets = [f"data.manifest={strings_manifest}", "model.kwargs.n_speakers=2", "model.kwargs.speaker_dim=4",
            "train.max_steps=4", "train.sample_every=4"]
    metrics = train(load_recipe(TINY, sets), tmp_path / "run", quiet=True)
    assert np.isfinite(metrics["val/mel"]) and not any(k.startswith("test/") for k in metrics)
    config = yaml.safe_load((tmp_path / "run" / "final" / "config.yaml").read_text())
    assert config["speakers"] == ["a", "b"] and config["model"]["kwargs"]["n_speakers"] == 2
    with pytest.raises(ConfigError, match="n_speakers: 1, but the manifest's train split has 2 voices"):
        train(load_recipe(TINY, sets[:1] + ["model.kwargs.n_speakers=1"]), tmp_path / "one", quiet=True)


@pytest.mark.parametrize("sets, message", [
    (["model.kwargs.feature_params.n_mels=64"], r"recipe.train.vocoder: the vocoder's feature_params.n_mels is 80"),
    (["train.vocoder=/no/such/vocoder"], r"recipe.train.vocoder: .*/no/such/vocoder"),
    (["train.vocoder=digits-default"], r"recipe.train.vocoder: .*not a vocoder"),
    (["data.held_out_fraction=0.0"], r"recipe.data.held_out_fraction"),
    (["model.kwargs.encoder_dim=15"], r"recipe.model.kwargs.encoder_dim"),
    (["losses.mel_loss=l2"], r"recipe.losses.mel_loss"),
    (["model.name=wavenet"], r"cannot train model 'wavenet'"),
])
def test_recipe_errors_name_the_field(sets, message, strings_manifest):
    with pytest.raises(ConfigError, match=message):
        load_recipe(TINY, [f"data.manifest={strings_manifest}", *sets])


def test_l1_loss_and_vocoder_off(strings_manifest, tmp_path):
    sets = [f"data.manifest={strings_manifest}", "losses.mel_loss=l1", "train.vocoder=null", "train.max_steps=4",
            "losses.guided_attention_half_life=2"]
    metrics = train(load_recipe(TINY, sets), tmp_path / "run", quiet=True)
    assert metrics["train/mel"] < 20  # an absolute error of log-mel values, not a squared one
    last = tmp_path / "run" / "samples" / "step-0000004"
    assert (last / "alignment.png").is_file() and not list(last.glob("*.wav"))
    assert TTSLosses(guided_attention=2.0, guided_attention_half_life=100).guided_weight(200) == pytest.approx(0.5)
