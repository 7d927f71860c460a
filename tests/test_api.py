"""speechgen.api: vocode from audio and from a mel agree with the CLI's synthesis; bad calls are one-line errors."""

import numpy as np
import pytest
import torch

from speechgen import api
from speechgen.inference.vocode import load_vocoder, synthesize
from speechgen.data.features import build_feature
from speechgen.errors import ConfigError
from speechgen.models.hifigan import HiFiGAN
from speechgen.checkpoint import save_checkpoint

KW = dict(upsample_initial_channel=16, disc_width=1 / 32)


def test_vocode_audio_and_mel(tmp_path):
    torch.manual_seed(0)
    folder = save_checkpoint(tmp_path / "voc", HiFiGAN(**KW), {"name": "hifigan", "kwargs": KW})
    t = np.arange(8000) / 8000
    tone8k = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)  # 1 s at 8 kHz: resampled to 16 kHz
    y = api.vocode(folder, audio=tone8k, sample_rate=8000)
    net, _, _ = load_vocoder(folder)
    tone16k = (0.5 * np.sin(2 * np.pi * 300 * np.arange(16000) / 16000)).astype(np.float32)
    mel = build_feature("log_mel", net.feature_params)(tone16k, 16000)
    z = api.vocode(folder, mel=mel)
    assert y.shape == (16000,)  # copy synthesis keeps the input's duration (it returned 16 128 samples)
    assert z.shape == (mel.shape[-1] * net.hop_length,)  # a log-mel gives frames x hop samples
    np.testing.assert_allclose(z, synthesize(net, mel), atol=1e-6)
    with pytest.raises(ConfigError, match="either audio"):
        api.vocode(folder)


def test_generate_refuses_unknown_digits():
    with pytest.raises(ConfigError, match="--label|0..9"):
        api.generate("digits-default", digits=[11])


def test_load_once_for_repeated_calls(tmp_path):
    from speechgen.inference.generate import Generator
    from speechgen.inference.vocode import LoadedVocoder

    voc = api.load("default")
    assert isinstance(voc, LoadedVocoder) and voc.sample_rate == 16000
    x = (0.3 * np.sin(2 * np.pi * 220 * np.arange(64000) / 16000)).astype(np.float32)
    y = api.vocode(voc, audio=x, sample_rate=16000)
    assert y.shape == (64000,)  # was 64 256 for 64 000 input samples
    np.testing.assert_array_equal(y, voc.vocode(x, 16000))
    assert isinstance(api.load("digits-default"), Generator)
    with pytest.raises(ConfigError, match="api.load serves generative models and vocoders .*can: classify"):
        api.load("classifier")


def test_judge_reports_the_not_digit_share():
    from pathlib import Path

    from speechgen import pretrained
    from speechgen.audio import io as audio_io

    real = sorted((Path(pretrained.path("classifier")) / "real").glob("*.flac"))[:3]
    clips = [audio_io.load(p)[0] for p in real] + [np.zeros(16000, np.float32)]
    out = api.judge(clips)
    assert out["not_digit"] == [False, False, False, True] and out["not_digit_share"] == 0.25
    assert out["detector_version"].startswith("digit_detector-") and len(out["predicted"]) == 4


def test_judge_flags_metrics_below_their_minimum_n():
    """api.judge scores IS over splits of at least 100 clips (it used 10 splits from 100 clips on) and says which
    metrics the clips are too few for: ``comparable``, ``warnings``, and FID's bootstrap interval ``fid_ci``."""
    from speechgen.evaluation.metrics import MIN_N

    t = np.arange(16000) / 16000
    f0 = np.linspace(120, 400, 200)[:, None]
    tones = (0.3 * np.sin(2 * np.pi * f0 * t) * (np.abs(t - 0.5) < 0.3)).astype(np.float32)
    scores = api.judge(tones)
    assert scores["n"] == 200 and scores["is_splits"] == 2 and scores["comparable"]["inception_score"]
    assert MIN_N["fid"] > 200 and scores["comparable"]["fid"] is False
    assert any(w.startswith("FID of 200 clips: not comparable") for w in scores["warnings"])
    lo, hi = scores["fid_ci"]
    assert lo < hi
