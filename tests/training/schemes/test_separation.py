"""The separation scheme: the tiny recipe trains end to end on mixtures of toy voices and resumes, the PIT loss
trains every block's estimate, recipe errors name their field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from speechgen.checkpoint import load_model
from speechgen.cli.main import main
from speechgen.errors import ConfigError
from speechgen.models.registry import MODELS
from speechgen.training.registry import SCHEMES, build_model, load_recipe
from speechgen.training.schemes.separation import SeparationScheme, pit_loss

from ...conftest import write_toy_manifest

TINY = Path(__file__).parents[3] / "recipes" / "separation" / "mulcat-2spk-tiny.yaml"
SPLITS = {"train": ("a", "b", "c"), "valid": ("e", "f"), "test": ("g", "h")}


@pytest.fixture(scope="module")
def voices(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_manifest(tmp_path_factory.mktemp("sep") / "toy", per=2, splits=SPLITS)


def test_tiny_recipe_trains_resumes_and_separates(tmp_path, voices):
    run = tmp_path / "run"
    args = ["train", str(TINY), "--out", str(run), "--set", f"data.manifest={voices}", "--quiet"]
    assert main(args) == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["steps"] == 8
    for k in ("train/loss", "train/si_snr", "val/si_snr", "val/si_snri", "test/si_snri"):
        assert k in metrics, k
    assert main([*args, "--resume", "--max-steps", "12"]) == 0
    assert json.loads((run / "metrics.json").read_text())["steps"] == 12
    model = load_model(run / "final", MODELS)
    out = model.separate(torch.randn(2, 5000))
    assert type(model).__name__ == "MulCatSeparator" and out.shape == (2, 2, 5000)


def test_the_dprnn_baseline_trains_on_the_same_scheme(tmp_path, voices):
    run = tmp_path / "dprnn"
    assert main(["train", str(TINY.with_name("dprnn-2spk-tiny.yaml")), "--out", str(run), "--set",
                 f"data.manifest={voices}", "--quiet"]) == 0
    assert "val/si_snri" in json.loads((run / "metrics.json").read_text())
    assert type(load_model(run / "final", MODELS)).__name__ == "DPRNN"


def test_the_loss_reads_every_block_and_is_permutation_invariant():
    g = torch.Generator().manual_seed(0)
    src = torch.randn(3, 2, 800, generator=g)
    swapped = src.flip(1) + 0.1 * torch.randn(3, 2, 800, generator=g)
    loss, best = pit_loss([swapped, swapped], src, cap=0.0)
    assert float(best.mean()) > 15 and float(loss) == pytest.approx(-float(best.mean()), abs=1e-4)
    capped, _ = pit_loss([swapped], src, cap=10.0)
    assert float(capped) == pytest.approx(-10.0, abs=1e-4)
    noisy = torch.randn(3, 2, 800, generator=g)
    both, _ = pit_loss([noisy, swapped], src, cap=0.0)
    assert float(loss) < float(both) < float(pit_loss([noisy], src, cap=0.0)[0])


def test_recipe_errors_name_the_field(voices):
    assert SCHEMES["separation"] is SeparationScheme
    for override, field in (("data.count=7", "data.count"), ("data.segment_seconds=0", "data.segment_seconds"),
                            ("losses.si_snr_cap=-1", "losses.si_snr_cap"), ("model.kwargs.chunk_size=9", "chunk_size"),
                            ("model.kwargs.kernel_size=7", "kernel_size")):
        with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
            recipe = load_recipe(TINY, [override, f"data.manifest={voices}"])
            build_model(recipe)
    recipe = load_recipe(TINY, ["data.count=3", f"data.manifest={voices}"])
    with pytest.raises(ConfigError, match="data.count: 3 sources per mixture, but the model separates 2"):
        SeparationScheme.build(recipe, build_model(recipe))
