"""Batched vocoding (inference.vocode.vocode_files): clips of one length go through one call, with the audio of one
call per clip (to float rounding); sampling vocoders are never batched."""

import numpy as np
import soundfile as sf
import torch

from speechgen.inference.vocode import load_vocoder, vocode_file, vocode_files


def _clips(folder, lengths):
    folder.mkdir()
    rng = np.random.default_rng(0)
    paths = []
    for i, n in enumerate(lengths):
        t = np.arange(n) / 16000
        x = 0.3 * np.sin(2 * np.pi * (150 + 40 * i) * t) * np.hanning(n) + 0.01 * rng.standard_normal(n)
        sf.write(folder / f"{i}.wav", x.astype(np.float32), 16000)
        paths.append(folder / f"{i}.wav")
    return paths


def test_batches_equal_one_call_per_clip(tmp_path):
    paths = _clips(tmp_path / "in", [16000, 16000, 12000, 16000, 16000, 16000])
    for name, tolerance in (("dsp", 0.0), ("default", 2e-2)):
        model, _, _ = load_vocoder(name)
        calls = []
        real = model.infer

        def counting(mel, _real=real):
            calls.append(tuple(mel.shape))
            return _real(mel)

        model.infer = counting
        with torch.inference_mode():
            got = dict(vocode_files(model, paths, batch=2))
            one = {i: vocode_file(model, p) for i, p in enumerate(paths)}
        assert sorted(got) == list(range(len(paths)))
        for i in got:
            assert got[i].shape == one[i].shape
            # dsp: the same numbers; default: float rounding of its batched network, amplified by 32 fast
            # Griffin-Lim iterations from zero phase (not a contraction), stays within 2 % of the peak
            assert np.abs(got[i] - one[i]).max() <= tolerance * np.abs(one[i]).max(), (name, i)
        batched = calls[:len(calls) - len(paths)]  # the first calls are vocode_files', then one per clip
        sizes = [c[0] if len(c) == 3 else 1 for c in batched]  # a single clip goes in as [n_mels, frames]
        assert sizes == [2, 1, 2, 1], name  # [0 1] [2: another length] [3 4] [5]


def test_sampling_vocoders_go_one_at_a_time():
    from speechgen.models.wavenet import WaveNet

    assert WaveNet(layers=2, stacks=1, residual_channels=4, dilation_channels=4, skip_channels=4, head_channels=4,
                   bits=4, local_conditioning=True).__class__.__dict__.get("batch_vocode") is None
    assert getattr(WaveNet, "batch_vocode", False) is False
