"""``speechgen vocode``: copy synthesis from WAV / folder / .npy, chunked = unchunked, one-line errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch

from speechgen.audio import io as audio_io
from speechgen.cli.main import main
from speechgen.inference.vocode import load_vocoder, synthesize
from speechgen.data.features import build_feature
from speechgen.models.classifier import DigitClassifier
from speechgen.models.hifigan import HiFiGAN
from speechgen.models.melgan import MelGAN
from speechgen.models.wavenet import WaveNet
from speechgen.models.wavernn import WaveRNN
from speechgen.checkpoint import save_checkpoint

HIFIGAN = dict(upsample_initial_channel=16, disc_width=1 / 32)
MELGAN = dict(ngf=2, ndf=4, disc_max_channels=32)


def _checkpoint(folder: Path, name: str, cls: type, kwargs: dict) -> Path:
    torch.manual_seed(0)
    return save_checkpoint(folder, cls(**kwargs), {"name": name, "kwargs": kwargs})


@pytest.fixture
def ckpt(tmp_path) -> Path:
    return _checkpoint(tmp_path / "hifigan", "hifigan", HiFiGAN, HIFIGAN)


def _tone(seconds: float = 0.5, sr: int = 16000, f: float = 300.0) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    return (0.5 * np.sin(2 * np.pi * f * t)).astype(np.float32)


def _one_line_error(capsys, needle: str) -> None:
    err = capsys.readouterr().err.strip()
    assert err.startswith("speechgen: error:") and needle in err and "\n" not in err, err


def test_copy_synthesis_from_wav_with_resampling(ckpt, tmp_path):
    audio_io.save(tmp_path / "a.wav", _tone(), 16000)
    audio_io.save(tmp_path / "b22.wav", _tone(sr=22050), 22050)  # resampled to the vocoder's 16 kHz
    out = tmp_path / "out"
    for name in ("a.wav", "b22.wav"):
        assert main(["--quiet", "vocode", str(ckpt), "--in", str(tmp_path / name), "--out", str(out)]) == 0
    a, sr_a = sf.read(out / "a.wav")
    b, sr_b = sf.read(out / "b22.wav")
    assert sr_a == sr_b == 16000 and len(a) == 8000 and len(b) == 8000
    # the written audio is the generator's output on the training features of the clip
    model, _, _ = load_vocoder(ckpt)
    mel = build_feature("log_mel", model.feature_params)(_tone(), 16000)
    want = model.infer(torch.from_numpy(mel)).numpy()[:8000]
    assert np.abs(a - want).max() < 1e-4  # 16-bit quantisation


def test_folder_of_wavs_and_mels_keeps_names(ckpt, tmp_path):
    src = tmp_path / "in"
    audio_io.save(src / "one.wav", _tone(0.3), 16000)
    audio_io.save(src / "sub" / "two.flac", _tone(0.4, f=500.0), 16000)
    np.save(src / "tts.npy", np.full((80, 12), -6.0, dtype=np.float32))
    np.save(src / "batched.npy", np.full((1, 80, 7), -6.0, dtype=np.float32))
    out = tmp_path / "out"
    assert main(["--quiet", "vocode", str(ckpt), "--in", str(src), "--out", str(out)]) == 0
    lengths = {str(p.relative_to(out)): len(sf.read(p)[0]) for p in sorted(out.rglob("*.wav"))}
    assert lengths == {"one.wav": 4800, "sub/two.wav": 6400, "tts.wav": 12 * 256, "batched.wav": 7 * 256}


@pytest.mark.parametrize("cls, kwargs", [(HiFiGAN, HIFIGAN), (MelGAN, MELGAN)])
def test_chunked_equals_unchunked(cls, kwargs):
    torch.manual_seed(0)
    model = cls(**kwargs, discriminators=False).eval()
    mel = np.random.default_rng(0).normal(-5.0, 2.0, (80, 75)).astype(np.float32)
    whole = synthesize(model, mel, chunk_frames=1000)
    assert whole.shape == (75 * 256,)
    for chunk in (7, 16, 40):
        chunked = synthesize(model, mel, chunk_frames=chunk, overlap_frames=24)
        assert np.abs(chunked - whole).max() < 1e-5, chunk
    # without context the chunk edges differ: the overlap is what removes the seams
    seams = synthesize(model, mel, chunk_frames=16, overlap_frames=0)
    assert np.abs(seams - whole).max() > 1e-4


def test_cli_chunking_flags_match_the_default(ckpt, tmp_path):
    x = np.concatenate([_tone(0.7), _tone(0.7, f=450.0)])
    audio_io.save(tmp_path / "long.wav", x, 16000)
    a, b = tmp_path / "a", tmp_path / "b"
    assert main(["--quiet", "vocode", str(ckpt), "--in", str(tmp_path / "long.wav"), "--out", str(a)]) == 0
    assert main(["--quiet", "vocode", str(ckpt), "--in", str(tmp_path / "long.wav"), "--out", str(b),
                 "--chunk-frames", "9", "--overlap-frames", "20"]) == 0
    ya, yb = sf.read(a / "long.wav")[0], sf.read(b / "long.wav")[0]
    assert len(ya) == len(yb) == len(x) and np.abs(ya - yb).max() <= 2 / 32768


@pytest.mark.parametrize("case, needle", [
    ("bands", "mel has 64 bands, the vocoder expects 80"),
    ("transposed", "(transposed? save it as [n_mels, frames])"),
    ("short_mel", "too short (needs at least 4)"),
    ("short_wav", "too short (500 samples at 16000 Hz"),
    ("silent", "silent (peak"),
    ("missing", "no such file or folder"),
    ("empty_dir", "no audio files or .npy log-mels"),
    ("not_vocoder", "holds a 'digit_classifier' model, not a vocoder"),
    ("no_model", "no such run, checkpoint or shipped model"),
])
def test_bad_inputs_exit_2_with_one_line(case, needle, ckpt, tmp_path, capsys):
    model_dir = ckpt
    inp = tmp_path / "input.npy"
    if case == "bands":
        np.save(inp, np.zeros((64, 20), dtype=np.float32))
    elif case == "transposed":
        np.save(inp, np.zeros((20, 80), dtype=np.float32))
    elif case == "short_mel":
        np.save(inp, np.zeros((80, 3), dtype=np.float32))
    elif case == "short_wav":
        inp = tmp_path / "short.wav"
        audio_io.save(inp, _tone()[:500], 16000)
    elif case == "silent":
        inp = tmp_path / "silent.wav"
        audio_io.save(inp, np.zeros(16000, dtype=np.float32), 16000)
    elif case == "missing":
        inp = tmp_path / "nothing.wav"
    elif case == "empty_dir":
        inp = tmp_path / "empty"
        inp.mkdir()
    else:
        audio_io.save(tmp_path / "ok.wav", _tone(), 16000)
        inp = tmp_path / "ok.wav"
        if case == "not_vocoder":
            kwargs = {"widths": [8, 16], "blocks": [1, 1]}
            model_dir = _checkpoint(tmp_path / "clf", "digit_classifier", DigitClassifier, kwargs)
        else:
            model_dir = tmp_path / "no-such-run"
    assert main(["--quiet", "vocode", str(model_dir), "--in", str(inp), "--out", str(tmp_path / "out")]) == 2
    _one_line_error(capsys, needle)


AR_VOCODERS = {
    "wavenet": (WaveNet, dict(layers=3, stacks=1, residual_channels=8, dilation_channels=8, skip_channels=8,
                              head_channels=8, local_conditioning=True, feature_params={"n_mels": 20},
                              upsample_scales=[16, 16])),
    "wavernn": (WaveRNN, dict(hidden=16, local_conditioning=True, feature_params={"n_mels": 20},
                              upsample_scales=[16, 16])),
}


@pytest.mark.parametrize("name", sorted(AR_VOCODERS))
def test_mel_conditioned_autoregressive_models_vocode(name, tmp_path, capsys):
    cls, kwargs = AR_VOCODERS[name]
    folder = _checkpoint(tmp_path / name, name, cls, kwargs)
    audio_io.save(tmp_path / "in" / "a.wav", _tone(0.25), 16000)
    outs = []
    for seed in (0, 0, 1):
        out = tmp_path / f"out{len(outs)}"
        assert main(["--quiet", "vocode", str(folder), "--in", str(tmp_path / "in"), "--out", str(out),
                     "--seed", str(seed)]) == 0
        y, sr = sf.read(out / "a.wav")
        assert sr == 16000 and len(y) == 4000 and np.abs(y).max() > 0
        outs.append(y)
    assert np.array_equal(outs[0], outs[1]) and not np.array_equal(outs[0], outs[2])  # a draw per seed
    # one piece, whatever --chunk-frames says: a chunk would restart the recurrence from silence
    model, _, _ = load_vocoder(folder)
    mel = build_feature("log_mel", model.feature_params)(_tone(0.25), 16000)
    assert np.array_equal(synthesize(model, mel, chunk_frames=4, seed=3), synthesize(model, mel, seed=3))
    assert main(["--quiet", "export", str(folder), "--format", "onnx", "--out", str(tmp_path / "x.onnx")]) == 2
    _one_line_error(capsys, "cannot be exported to ONNX (an autoregressive sampler")
    assert not (tmp_path / "x.onnx").exists()


def test_unconditioned_wavenet_is_not_a_vocoder(tmp_path, capsys):
    folder = _checkpoint(tmp_path / "wn", "wavenet", WaveNet, dict(layers=2, stacks=1, residual_channels=8,
                                                                  dilation_channels=8, skip_channels=8,
                                                                  head_channels=8))
    audio_io.save(tmp_path / "a.wav", _tone(0.25), 16000)
    assert main(["--quiet", "vocode", str(folder), "--in", str(tmp_path / "a.wav"), "--out", str(tmp_path / "o")]) == 2
    _one_line_error(capsys, "holds a 'wavenet' model, not a vocoder")


def test_a_folder_with_one_bad_clip_writes_nothing(tmp_path, capsys):
    """The silent clip passes the header checks and fails while vocoding: the outputs of the clips before it do
    not appear (they are staged and dropped)."""
    import soundfile as sf

    src = tmp_path / "in"
    src.mkdir()
    t = np.arange(16000) / 16000
    sf.write(src / "a.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    sf.write(src / "b.wav", np.zeros(16000, dtype=np.float32), 16000)
    out = tmp_path / "out"
    assert main(["vocode", "default", "--in", str(src), "--out", str(out)]) == 2
    assert "b.wav: silent" in capsys.readouterr().err
    assert not out.exists() and sorted(p.name for p in tmp_path.iterdir()) == ["in"]


def test_a_full_disk_is_named(tmp_path, monkeypatch, capsys):
    """libsndfile reports a full disk as 'System error.': the one line says what happened."""
    import soundfile as sf

    from speechgen import atomic
    from speechgen.audio import io as audio_io

    t = np.arange(16000) / 16000
    sf.write(tmp_path / "a.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)

    def full(*args, **kwargs):
        raise sf.LibsndfileError(2, "Error writing: ")  # what a full disk looks like through libsndfile

    monkeypatch.setattr(audio_io.sf, "write", full)
    monkeypatch.setattr(audio_io, "disk_full", lambda path: True)
    assert main(["vocode", "default", "--in", str(tmp_path / "a.wav"), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("a.wav: no space left on device") and "\n" not in err
    assert not (tmp_path / "out").exists()
    assert atomic.disk_full(tmp_path) is False  # the real check on this (not full) disk


def test_speed_is_reported_as_times_real_time(tmp_path, capsys):
    """One unit for speed everywhere: '× real time' (higher is faster), not a real-time factor here and there."""
    t = np.arange(16000) / 16000
    sf.write(tmp_path / "a.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    assert main(["vocode", "default", "--in", str(tmp_path / "a.wav"), "--out", str(tmp_path / "o")]) == 0
    out = capsys.readouterr().out
    assert "× real time" in out and "real-time factor" not in out


def test_gl_iters_knob(tmp_path, capsys):
    """--gl-iters sets the phase iterations of an iterative-phase vocoder (fewer: faster); others refuse it."""
    t = np.arange(16000) / 16000
    sf.write(tmp_path / "a.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), 16000)
    outs = {}
    for n in (0, 8):
        assert main(["--quiet", "vocode", "dsp", "--in", str(tmp_path / "a.wav"), "--out", str(tmp_path / f"o{n}"),
                     "--gl-iters", str(n)]) == 0
        outs[n], _ = sf.read(tmp_path / f"o{n}" / "a.wav")
    assert len(outs[0]) == len(outs[8]) == 16000 and not np.allclose(outs[0], outs[8])
    assert main(["vocode", "dsp", "--in", str(tmp_path / "a.wav"), "--out", str(tmp_path / "x"),
                 "--gl-iters", "-1"]) == 2
    assert "--gl-iters: must be >= 0" in capsys.readouterr().err


def test_gl_iters_needs_an_iterative_phase(ckpt, tmp_path, capsys):
    sf.write(tmp_path / "a.wav", _tone(), 16000)
    assert main(["vocode", str(ckpt), "--in", str(tmp_path / "a.wav"), "--out", str(tmp_path / "o"),
                 "--gl-iters", "4"]) == 2
    _one_line_error(capsys, "has no iterative phase")
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv, want", [([], 1), (["--threads", "2"], 2)])
def test_a_small_fft_vocoder_runs_the_command_on_one_thread_unless_told(tmp_path, monkeypatch, argv, want):
    """The shipped default's phase loop is faster on one thread: vocode sets one thread for the whole command
    (switching per call cost ~5 %) unless `speechgen --threads N` says otherwise."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        sf.write(tmp_path / "a.wav", (0.3 * np.sin(np.arange(4000) / 10)).astype(np.float32), 16000)
        assert main(argv + ["--quiet", "vocode", "dsp", "--in", str(tmp_path / "a.wav"), "--out",
                            str(tmp_path / "o")]) == 0
        assert torch.get_num_threads() == want
    finally:
        torch.set_num_threads(before)
