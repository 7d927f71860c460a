"""``speechgen export`` of Parallel WaveGAN and the iSTFT vocoder: ONNX matches PyTorch within 1e-4 with dynamic
batch and time axes (PWG's eval-mode noise is a fixed sequence, the iSTFT head a fixed inverse DFT)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from speechgen.cli.main import main
from speechgen.models.istft_vocoder import ISTFTVocoder
from speechgen.models.parallel_wavegan import ParallelWaveGAN
from speechgen.training.checkpoint import load_model, save_checkpoint
from speechgen.training.registry import MODELS

ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.mark.parametrize("name, cls, kwargs", [
    ("parallel_wavegan", ParallelWaveGAN, dict(layers=6, stacks=2, residual_channels=8, gate_channels=16,
                                               skip_channels=8, disc_layers=4, disc_channels=8)),
    ("istft_vocoder", ISTFTVocoder, dict(dim=16, intermediate_dim=32, layers=2, disc_width=1 / 32)),
    ("istft_vocoder", ISTFTVocoder, dict(dim=16, intermediate_dim=32, layers=2, disc_width=1 / 32,
                                         mel_prior=True, phase="integrated")),
])
def test_onnx_matches_torch(name, cls, kwargs, tmp_path):
    torch.manual_seed(0)
    ckpt = save_checkpoint(tmp_path / name, cls(**kwargs), {"name": name, "kwargs": kwargs})
    out = tmp_path / f"{name}.onnx"
    assert main(["--quiet", "export", str(ckpt), "--format", "onnx", "--out", str(out)]) == 0
    meta = yaml.safe_load(out.with_name(out.name + ".yaml").read_text())
    assert meta["model"] == name and meta["feature"] == "log_mel" and meta["hop_length"] == 256

    reference = load_model(ckpt, MODELS)  # eval mode, weight norm still on (PWG)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for batch, frames in ((1, 10), (2, 57)):
        mel = rng.normal(-5.0, 2.0, (batch, 80, frames)).astype(np.float32)
        got = sess.run(["audio"], {"mel": mel})[0]
        want = reference.infer(torch.from_numpy(mel)).numpy()
        assert got.shape == (batch, frames * 256)
        assert np.abs(got - want).max() < 1e-4
        assert np.abs(want).max() > 1e-3  # not trivially zero


def test_resgan_export_is_refused_with_one_line(tmp_path, capsys):
    from speechgen.models.resgan import ResGAN

    kwargs = dict(lpc_order=12, pulse_length=128, pulse_hidden=[32], noise_channels=4, noise_dilations=[1],
                  disc_channels=[4])
    ckpt = save_checkpoint(tmp_path / "resgan", ResGAN(**kwargs), {"name": "resgan", "kwargs": kwargs})
    assert main(["--quiet", "export", str(ckpt), "--out", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("speechgen: error: export: ResGAN cannot be exported to ONNX") and "\n" not in err
    assert not (tmp_path / "x.onnx").exists()
