"""``speechgen export`` of Parallel WaveGAN and the iSTFT vocoder (its three phase modes, the shipped default
included): ONNX matches PyTorch within 1e-4 with dynamic batch and time axes (PWG's eval-mode noise is a fixed
sequence, the iSTFT head a fixed inverse DFT); a Griffin-Lim vocoder exports its magnitude network only."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import yaml

from speechgen.cli.main import main
from speechgen.models.istft_vocoder import ISTFTVocoder
from speechgen.models.parallel_wavegan import ParallelWaveGAN
from speechgen.checkpoint import load_model, save_checkpoint
from speechgen.models.registry import MODELS

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
    from speechgen.inference.vocode import load_vocoder
    from speechgen.nn.vocoder_blocks import has_weight_norm

    loaded = load_vocoder(ckpt)[0]  # what speechgen vocode runs: weight norm folded, like the export
    assert not has_weight_norm(loaded)
    sess = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(1)
    for batch, frames in ((1, 10), (2, 57)):
        mel = rng.normal(-5.0, 2.0, (batch, 80, frames)).astype(np.float32)
        got = sess.run(["audio"], {"mel": mel})[0]
        want = reference.infer(torch.from_numpy(mel)).numpy()
        np.testing.assert_allclose(loaded.infer(torch.from_numpy(mel)).numpy(), want, atol=1e-5, rtol=0)
        assert got.shape == (batch, frames * 256)
        assert np.abs(got - want).max() < 1e-4
        assert np.abs(want).max() > 1e-3  # not trivially zero


def voiced_mel(seconds: float) -> np.ndarray:
    """Log-mel ``[80, frames]`` of the bench's voiced signal (harmonics with vibrato)."""
    from speechgen.audio.spectral import log_mel
    from speechgen.cli.bench_vocoder import voiced_signal

    return log_mel(voiced_signal(seconds, 16000), 16000).astype(np.float32)


def test_shipped_default_vocoder_exports_its_network(tmp_path):
    """The shipped vocoder (Griffin-Lim phase) exports the network that predicts the magnitude, not the 32 unrolled
    iterations (they made a 147-MB file of 0.94 M parameters): the file stays within 2x of its fp32 weights, its
    output equals PyTorch's magnitude within 1e-5, and FILE.yaml says how to make audio of it."""
    from speechgen.inference.vocode import load_vocoder

    out = tmp_path / "default.onnx"
    assert main(["--quiet", "export", "default", "--out", str(out)]) == 0
    model, _, _ = load_vocoder("default")
    params = sum(p.numel() for p in model.generator.parameters())
    assert out.stat().st_size < 2 * 4 * params
    meta = yaml.safe_load(out.with_name(out.name + ".yaml").read_text())
    assert meta["output"]["name"] == "magnitude" and meta["output"]["shape"] == ["batch", 513, "frames"]
    assert meta["output"]["audio"]["iterations"] == 32 and meta["output"]["audio"]["n_fft"] == 1024
    mel = voiced_mel(1.0)[None]
    got = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(["magnitude"], {"mel": mel})[0]
    want = model.export_reference(torch.from_numpy(mel)).numpy()
    assert got.shape == want.shape == (1, 513, mel.shape[-1]) and want.max() > 1e-3
    assert np.abs(got - want).max() < 1e-5 * max(1.0, float(want.max()))


def test_resgan_export_is_refused_with_one_line(tmp_path, capsys):
    from speechgen.models.resgan import ResGAN

    kwargs = dict(lpc_order=12, pulse_length=128, pulse_hidden=[32], noise_channels=4, noise_dilations=[1],
                  disc_channels=[4])
    ckpt = save_checkpoint(tmp_path / "resgan", ResGAN(**kwargs), {"name": "resgan", "kwargs": kwargs})
    assert main(["--quiet", "export", str(ckpt), "--out", str(tmp_path / "x.onnx")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("speechgen: error: export: ResGAN cannot be exported to ONNX") and "\n" not in err
    assert not (tmp_path / "x.onnx").exists()
