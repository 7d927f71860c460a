"""The ``autoregressive`` scheme: the teacher-forced loss falls on a fixed batch, tiny recipes train end to end
(raw audio, digit labels, mel conditioning) and write final/ and samples/, and recipe errors name the field."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from speechgen.audio import io as audio_io
from speechgen.cli.main import main
from speechgen.data.datamodule import ManifestDataset
from speechgen.errors import ConfigError
from speechgen.models.wavenet import WaveNet
from speechgen.models.wavernn import WaveRNN
from speechgen.training.schemes.autoregressive import ARData, ARModule, ARSection, AutoregressiveScheme
from speechgen.inference.loading import load
from speechgen.training.schemes.generative import GenTrain
from speechgen.training.optim import OptimConfig
from speechgen.recipe_files import read_yaml
from speechgen.training.registry import SCHEMES, build_model, load_recipe
from speechgen.training.runner import train

from ..fixed_batch import RECIPES, fit_fixed_batch

pytestmark = [pytest.mark.filterwarnings("ignore:.*validation_step.*no `val_dataloader`"),
              pytest.mark.filterwarnings("ignore:.*LeafSpec.*")]

# recipe name -> recipes/FAMILY/NAME.yaml
AR_RECIPES = sorted(name for name, p in RECIPES.items() if read_yaml(p)["scheme"] == "autoregressive")


@pytest.mark.parametrize("name, segment, min_drop", [("wavenet", 800, 1.0), ("wavernn", 400, 0.5)])
def test_teacher_forced_loss_falls_on_a_fixed_batch(name, segment, min_drop, toy_manifest, tmp_path):
    ds = ManifestDataset(toy_manifest, split="train", segment_length=segment)
    items = [ds[i] for i in range(0, 24, 3)]  # 8 centred crops of the 3 tones
    batch = {"audio": torch.stack([it["audio"] for it in items]), "label": torch.tensor([it["label"] for it in items])}
    torch.manual_seed(0)
    if name == "wavenet":
        model = WaveNet(n_classes=3, label_channels=4, layers=4, stacks=2, residual_channels=16,
                        dilation_channels=16, skip_channels=32, head_channels=32)
    else:
        model = WaveRNN(n_classes=3, label_channels=4, hidden=32)
    steps = 30
    module = ARModule(model, {"name": name, "kwargs": {}}, ARData(manifest="unused"),
                      GenTrain(max_steps=steps, sample_every=0),
                      OptimConfig(name="adam", lr=1e-2, weight_decay=0.0, schedule="constant"),
                      ARSection(global_condition="label"))
    trainer, rec = fit_fixed_batch(module, batch, steps, tmp_path, record=["train/loss"])
    loss = rec["train/loss"]
    assert trainer.global_step == steps and len(loss) == steps
    first, last = np.mean(loss[:5]), np.mean(loss[-5:])
    uniform = np.log(256.0) * (2 if name == "wavernn" else 1)  # nats per sample of a uniform softmax (per head)
    assert abs(first - uniform) < 0.6 and last < first - min_drop, (first, last)


@pytest.mark.parametrize("name, length", [("wavenet-tiny", 400), ("wavernn-tiny", 400),
                                          ("wavenet-vocoder-tiny", 512), ("wavernn-vocoder-tiny", 512)])
def test_tiny_recipe_trains_end_to_end(name, length, toy_manifest, tmp_path):
    run = tmp_path / name
    metrics = train(load_recipe(RECIPES[f"{name}"], [f"data.manifest={toy_manifest}"]), run, quiet=True)
    assert metrics["steps"] == 8
    for k in ("train/loss", "train/bits", "val/loss", "val/bits", "test/loss", "test/bits"):
        assert np.isfinite(metrics[k]), k
    assert metrics["val/bits"] == pytest.approx(metrics["val/loss"] / np.log(2.0), rel=1e-5)
    assert 4.0 < metrics["val/bits"] < (16.5 if "wavernn" in name else 8.5)  # below a uniform softmax's bits
    for f in ("final/model.safetensors", "final/config.yaml", "metrics.json",
              "checkpoints/last.ckpt/model.safetensors"):
        assert (run / f).is_file(), f
    rounds = sorted((run / "samples").iterdir())
    assert [r.name for r in rounds] == ["step-0000004", "step-0000008"]
    wavs = sorted(rounds[-1].glob("sample-*.wav"))
    assert len(wavs) == 4 and (rounds[-1] / "manifest.csv").is_file()
    clip, sr = audio_io.load(wavs[0], 16000)
    assert sr == 16000 and clip.shape == (length,) and np.abs(clip).max() > 0
    assert not list(run.rglob("*.pt")) and not list(run.rglob("*.pkl"))
    model, info = load(run)  # a sampler, or a vocoder when mel-conditioned
    assert info.model == name.split("-")[0]
    assert info.roles == (("vocoder",) if "vocoder" in name else ("sampler",))
    labels = torch.arange(2) % model.n_classes if model.n_classes else None
    mel = torch.randn(2, model.n_mels, 3) if model.local_conditioning else None
    x = model.sample(2, labels=labels, generator=torch.Generator().manual_seed(0), condition=mel)
    assert x.shape == (2, 3 * 256 if mel is not None else length) and x.abs().max() <= 1
    assert json.loads((run / "metrics.json").read_text())["steps"] == 8


@pytest.mark.parametrize("name", AR_RECIPES)
def test_every_recipe_loads_and_builds(name):
    r = load_recipe(RECIPES[f"{name}"])
    AutoregressiveScheme.validate(r)
    model = build_model(r)
    assert sum(p.numel() for p in model.parameters()) > 1000
    assert r.data.segment_length > getattr(model, "receptive_field", 0)


def test_recipe_set_and_registry():
    assert SCHEMES["autoregressive"] is AutoregressiveScheme
    assert {"wavenet", "wavenet-cond", "wavernn", "wavenet-cpu", "wavernn-cpu", "wavenet-vocoder-tiny"} <= {
        n.removesuffix("-tiny") for n in AR_RECIPES} | set(AR_RECIPES)
    for name in AR_RECIPES:
        if not name.endswith("-tiny"):
            assert f"{name}-tiny" in AR_RECIPES or name.endswith("-cpu"), name


@pytest.mark.parametrize("recipe, overrides, field", [
    ("wavenet-tiny", ["data.segment_length=32"], "recipe.data.segment_length"),  # receptive field 32
    ("wavenet-tiny", ["data.eval_segment_length=20"], "recipe.data.eval_segment_length"),
    ("wavenet-tiny", ["ar.mel=true"], "recipe.data.feature"),
    ("wavenet-tiny", ["data.feature=log_mel", "data.segment_length=1024"], "recipe.data.feature"),
    ("wavenet-tiny", ["data.feature=stft_image"], "recipe.data.feature"),
    ("wavenet-tiny", ["data.channels=[0]"], "recipe.data.channels"),
    ("wavenet-tiny", ["ar.global_condition=label"], "recipe.model.kwargs.n_classes"),
    ("wavenet-tiny", ["ar.global=label"], "recipe.ar.global"),
    ("wavenet-tiny", ["model.kwargs.layers=0"], "recipe.model.kwargs.layers"),
    ("wavernn-tiny", ["ar.global_condition=none"], "recipe.model.kwargs.n_classes"),
    ("wavernn-tiny", ["data.labelled=false"], "recipe.data.labelled"),
    ("wavernn-tiny", ["model.kwargs.sample_rate=8000"], "recipe.model.kwargs.sample_rate"),
    ("wavernn-tiny", ["model.kwargs.hidden=31"], "recipe.model.kwargs.hidden"),
    ("wavenet-vocoder-tiny", ["data.feature_params.hop_length=128", "data.segment_length=1024"],
     "recipe.data.feature_params.hop_length"),
    ("wavenet-vocoder-tiny", ["data.feature_params.n_mels=40"], "recipe.data.feature_params.n_mels"),
    ("wavenet-vocoder-tiny", ["model.kwargs.upsample_scales=[8, 16]"], "recipe.model.kwargs.upsample_scales"),
    ("wavenet-vocoder-tiny", ["model.kwargs.sample_length=500"], "recipe.model.kwargs.sample_length"),
    ("wavenet-vocoder-tiny", ["data.segment_length=1000"], "recipe.data.segment_length"),
    ("wavenet-vocoder-tiny", ["ar.mel=false"], "recipe.ar.mel"),
    ("wavernn-vocoder-tiny", ["model.kwargs.local_conditioning=false", "model.kwargs.feature_params=null"],
     "recipe.model.kwargs.local_conditioning"),
    ("wavernn-tiny", ["model.kwargs.n_classes=2"], "recipe.model.kwargs.n_classes"),  # the toy manifest has 3
])
def test_recipe_errors_name_the_field(recipe, overrides, field, toy_manifest):
    with pytest.raises(ConfigError) as e:  # on load where no data is needed, else when the run is built
        r = load_recipe(RECIPES[f"{recipe}"], [f"data.manifest={toy_manifest}", *overrides])
        AutoregressiveScheme.build(r, build_model(r))
    assert str(e.value).startswith(field), str(e.value)


def test_receptive_field_error_is_one_line_from_the_cli(toy_manifest, tmp_path, capsys):
    code = main(["train", str(RECIPES["wavenet-tiny"]), "--out", str(tmp_path / "r"), "--quiet",
                 "--set", f"data.manifest={toy_manifest}", "--set", "data.segment_length=30"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "receptive field is 32" in err
