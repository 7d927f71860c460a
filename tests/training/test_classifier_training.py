"""The classifier scheme end to end through ``speechgen train`` on a toy manifest (tiny recipe)."""

import csv
import json
from pathlib import Path

import torch

from speechgen.cli.main import main
from speechgen.training.checkpoint import load_model
from speechgen.training.classifier import Augment, augment_wave, spec_augment
from speechgen.training.registry import MODELS

TINY = Path(__file__).resolve().parents[2] / "recipes" / "classifier-tiny.yaml"


def _losses(run: Path) -> list[float]:
    with open(run / "logs" / "metrics.csv") as fh:
        return [float(r["train/loss"]) for r in csv.DictReader(fh) if r.get("train/loss")]


def test_tiny_recipe_trains_checkpoints_and_resumes(tmp_path, toy_manifest, capsys):
    run = tmp_path / "run"
    args = ["train", str(TINY), "--out", str(run), "--set", f"data.manifest={toy_manifest}", "--quiet"]
    assert main(args + ["--max-steps", "24"]) == 0
    losses = _losses(run)
    assert len(losses) >= 20 and sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5
    for f in ("config.yaml", "metrics.json", "final/model.safetensors", "final/config.yaml",
              "checkpoints/last.ckpt/model.safetensors", "checkpoints/last.ckpt/trainer_state.yaml"):
        assert (run / f).is_file(), f
    assert not list(run.rglob("*.pt")) and not list(run.rglob("*.pkl"))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["steps"] == 24 and "val/acc" in metrics and "test/acc" in metrics
    model = load_model(run / "final", MODELS)
    assert load_model(run / "checkpoints" / "last.ckpt", MODELS).state_dict().keys() == model.state_dict().keys()

    assert main(args) == 2  # the run exists: refuse to overwrite without --resume
    assert "--resume" in capsys.readouterr().err
    assert main(args + ["--resume", "--max-steps", "30"]) == 0
    assert json.loads((run / "metrics.json").read_text())["steps"] == 30


def test_resume_without_checkpoint_is_one_line_error(tmp_path, toy_manifest, capsys):
    args = ["train", str(TINY), "--out", str(tmp_path / "r"), "--set", f"data.manifest={toy_manifest}", "--resume"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "nothing to resume" in err and "\n" not in err


def test_augmentation_keeps_shapes_and_is_seeded():
    cfg = Augment()
    x = 0.1 * torch.randn(4, 16000)
    torch.manual_seed(1)
    a = augment_wave(x, cfg, 16000)
    torch.manual_seed(1)
    b = augment_wave(x, cfg, 16000)
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)
    off = Augment(shift=0, gain_db=0, speed=(1.0, 1.0), noise_prob=0)
    assert torch.allclose(augment_wave(x, off, 16000), x)
    m = spec_augment(torch.ones(4, 1, 80, 63), cfg)
    assert m.shape == (4, 1, 80, 63) and 0 < float(m.mean()) < 1
