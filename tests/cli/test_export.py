"""``speechgen export``: ONNX with weight norm removed and dynamic axes matches PyTorch within 1e-4."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from speechgen.cli.main import main
from speechgen.models.hifigan import HiFiGAN
from speechgen.models.melgan import MelGAN
from speechgen.checkpoint import load_model, save_checkpoint
from speechgen.models.registry import MODELS

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.mark.parametrize("name, cls, kwargs", [
    ("hifigan", HiFiGAN, dict(upsample_rates=[8, 8, 4], upsample_kernel_sizes=[16, 16, 8], resblock=2,
                              upsample_initial_channel=16, resblock_kernel_sizes=[3, 5, 7],
                              resblock_dilation_sizes=[[1, 2], [2, 6], [3, 12]], disc_width=1 / 32)),
    ("melgan", MelGAN, dict(ngf=2, ndf=4, disc_max_channels=32)),
])
def test_onnx_matches_torch(name, cls, kwargs, tmp_path):
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / name, cls(**kwargs), {"name": name, "kwargs": kwargs})
    out = tmp_path / f"{name}.onnx"
    assert main(["--quiet", "export", str(ckpt), "--format", "onnx", "--out", str(out)]) == 0
    meta = yaml.safe_load(out.with_name(out.name + ".yaml").read_text())
    assert meta["sample_rate"] == 16000 and meta["hop_length"] == 256 and meta["input"]["name"] == "mel"

    reference = load_model(ckpt, MODELS)  # the full model, weight norm still on
    assert reference.weight_norm_active
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for batch, frames in ((1, 10), (2, 57)):  # dynamic batch and time axes
        mel = rng.normal(-5.0, 2.0, (batch, 80, frames)).astype(np.float32)
        got = sess.run(["audio"], {"mel": mel})[0]
        want = reference.infer(torch.from_numpy(mel)).numpy()
        assert got.shape == (batch, frames * 256)
        assert np.abs(got - want).max() < 1e-4


def test_export_of_a_non_vocoder_fails_with_one_line(tmp_path, capsys):
    from speechgen.models.classifier import DigitClassifier

    kwargs = {"widths": [8, 16], "blocks": [1, 1]}
    ckpt = save_checkpoint(tmp_path / "clf", DigitClassifier(**kwargs), {"name": "digit_classifier", "kwargs": kwargs})
    assert main(["--quiet", "export", str(ckpt), "--out", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert "not a vocoder" in err and "\n" not in err
    assert not (tmp_path / "x.onnx").exists()
