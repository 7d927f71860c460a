"""``speechgen transform``: each mode writes WAVs; bad inputs are one line and exit code 2."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from speechgen.audio import io as audio_io
from speechgen.cli.main import main
from speechgen.models.vae import ConvVAE
from speechgen.models.wae import WAE
from speechgen.checkpoint import save_checkpoint

TINY = dict(widths=[4, 8], hidden=16, latent_dim=6)


def _checkpoint(folder: Path, manifest: Path, name: str = "vae", **kwargs) -> Path:
    torch.manual_seed(0)
    model = (ConvVAE if name == "vae" else WAE)(**TINY, **kwargs).eval()
    data = {"manifest": str(manifest), "feature": "stft_image", "sample_rate": 16000}
    return save_checkpoint(folder, model, {"name": name, "kwargs": dict(TINY, **kwargs)},
                           extra={"recipe": {"scheme": "vae", "data": data}})


@pytest.fixture
def setup(tmp_path, toy_manifest):
    wav = toy_manifest.parent / "wav"
    return {"ckpt": _checkpoint(tmp_path / "vae", toy_manifest), "a": wav / "a_0_0.wav", "b": wav / "b_2_1.wav",
            "manifest": toy_manifest, "out": tmp_path / "out"}


def _read(path: Path) -> np.ndarray:
    audio, sr = audio_io.load(path)
    assert sr == 16000 and len(audio) == 16000 and np.isfinite(audio).all()
    return audio


def test_reconstruct_writes_one_wav_per_input_deterministically(setup):
    args = ["transform", str(setup["ckpt"]), "--input", str(setup["a"]), str(setup["b"]), "--quiet"]
    assert main(args + ["--out", str(setup["out"])]) == 0
    files = sorted(p.name for p in setup["out"].glob("*.wav"))
    assert files == ["00-a_0_0-reconstruct.wav", "01-b_2_1-reconstruct.wav"]
    info = json.loads((setup["out"] / "transform.json").read_text())
    assert info["mode"] == "reconstruct" and len(info["outputs"]) == 2 and (setup["out"] / "grid.png").is_file()
    assert main(args + ["--out", str(setup["out"] / "again")]) == 0
    for f in files:
        assert np.array_equal(_read(setup["out"] / f), _read(setup["out"] / "again" / f))


def test_interpolate_ends_are_the_reconstructions(setup):
    ck, a, b, out = setup["ckpt"], str(setup["a"]), str(setup["b"]), setup["out"]
    assert main(["transform", str(ck), "--input", a, b, "--out", str(out), "--mode", "interpolate",
                 "--steps", "4", "--quiet"]) == 0
    assert sorted(p.name for p in out.glob("*.wav")) == [f"interpolate-{k:02d}.wav" for k in range(4)]
    assert main(["transform", str(ck), "--input", a, b, "--out", str(out / "rec"), "--quiet"]) == 0
    # (batches of different sizes may differ by float round-off: allow a 16-bit quantisation step or two)
    assert np.allclose(_read(out / "interpolate-00.wav"), _read(out / "rec" / "00-a_0_0-reconstruct.wav"),
                       atol=1e-4)
    assert np.allclose(_read(out / "interpolate-03.wav"), _read(out / "rec" / "01-b_2_1-reconstruct.wav"),
                       atol=1e-4)
    assert not np.array_equal(_read(out / "interpolate-01.wav"), _read(out / "interpolate-00.wav"))


def test_attribute_label_by_latent_arithmetic(setup):
    base = ["transform", str(setup["ckpt"]), "--input", str(setup["a"]), "--mode", "attribute", "--attribute",
            "label", "--from", "0", "--to", "2", "--manifest", str(setup["manifest"]), "--quiet"]
    out = setup["out"]
    assert main(base + ["--out", str(out)]) == 0
    moved, rec = out / "00-a_0_0-label-0-to-2.wav", out / "00-a_0_0-reconstruct.wav"
    info = json.loads((out / "transform.json").read_text())
    assert info["method"] == "latent arithmetic" and info["clips_from"] == info["clips_to"] == 8
    assert info["vector_norm"] > 0 and not np.array_equal(_read(moved), _read(rec))
    # scale 0 adds nothing: the transformed clip is the reconstruction; the real phase can be used instead
    assert main(base + ["--out", str(out / "s0"), "--scale", "0", "--phase", "source"]) == 0
    assert np.array_equal(_read(out / "s0" / moved.name), _read(out / "s0" / rec.name))


def test_conditional_model_swaps_the_label_and_wae_moves_speakers(setup, tmp_path):
    cvae = _checkpoint(tmp_path / "cvae", setup["manifest"], n_classes=3, label_dim=4)
    out = setup["out"]
    assert main(["transform", str(cvae), "--input", str(setup["a"]), "--out", str(out / "c"), "--mode",
                 "attribute", "--attribute", "label", "--from", "0", "--to", "1", "--quiet",
                 "--phase", "griffin-lim"]) == 0
    assert json.loads((out / "c" / "transform.json").read_text())["method"].startswith("label swap")
    assert len(list((out / "c").glob("*.wav"))) == 2
    wae = _checkpoint(tmp_path / "wae", setup["manifest"], name="wae")
    assert main(["transform", str(wae), "--input", str(setup["a"]), str(setup["b"]), "--out", str(out / "w"),
                 "--mode", "attribute", "--attribute", "speaker", "--from", "a", "--to", "b", "--quiet"]) == 0
    assert sorted(p.name for p in (out / "w").glob("*speaker*.wav")) == ["00-a_0_0-speaker-a-to-b.wav",
                                                                        "01-b_2_1-speaker-a-to-b.wav"]


def test_bad_inputs_are_one_line_exit_2(setup, tmp_path, capsys):
    ck, a, out = str(setup["ckpt"]), str(setup["a"]), str(setup["out"])
    junk = tmp_path / "junk.wav"
    junk.write_text("not audio")
    attr = ["--mode", "attribute", "--attribute", "label", "--manifest", str(setup["manifest"])]
    cases = [
        (["--input", str(tmp_path / "missing.wav")], "no such file"),
        (["--input", str(junk)], "not a readable audio file"),
        (["--input", a] + attr + ["--from", "0", "--to", "7"], "no clips with label '7'"),
        (["--input", a] + attr + ["--from", "zero", "--to", "1"], "--from: a label is an integer"),
        (["--input", a] + attr + ["--from", "0"], "--to: required"),
        (["--input", a, "--mode", "interpolate"], "exactly two clips"),
        (["--input", a, "--steps", "1", "--mode", "interpolate", "--input", a, a], "--steps"),
        (["--input", a, "--attribute", "speaker"], "only with --mode attribute"),
    ]
    for extra, msg in cases:
        assert main(["transform", ck, "--out", out] + extra) == 2, extra
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and msg in err, (extra, err)
    # a model without an encoder, and a conditional model without the inputs' label
    assert main(["transform", "classifier", "--input", a, "--out", out]) == 2
    assert "holds a 'digit_classifier' model, not an auto-encoder (vae, vaegan, wae)" in capsys.readouterr().err
    cvae = _checkpoint(tmp_path / "cvae", setup["manifest"], n_classes=3, label_dim=4)
    assert main(["transform", str(cvae), "--input", a, "--out", out]) == 2
    assert "--label" in capsys.readouterr().err
    assert main(["transform", str(tmp_path / "nothing"), "--input", a, "--out", out]) == 2
    assert "no such run" in capsys.readouterr().err


def test_amplitude_only_model_uses_griffin_lim_or_the_source_phase(setup, tmp_path):
    torch.manual_seed(0)
    kw = dict(TINY, in_channels=1)
    data = {"manifest": str(setup["manifest"]), "feature": "stft_image", "sample_rate": 16000, "channels": [0]}
    ck = save_checkpoint(tmp_path / "amp", ConvVAE(**kw).eval(), {"name": "vae", "kwargs": kw},
                         extra={"recipe": {"scheme": "vae", "data": data}})
    out = setup["out"]
    for phase in ("model", "source"):
        assert main(["transform", str(ck), "--input", str(setup["a"]), "--out", str(out / phase), "--quiet",
                     "--phase", phase, "--griffin-lim-iters", "4"]) == 0
    a, b = _read(out / "model" / "00-a_0_0-reconstruct.wav"), _read(out / "source" / "00-a_0_0-reconstruct.wav")
    assert np.abs(a).max() > 0 and not np.array_equal(a, b)
