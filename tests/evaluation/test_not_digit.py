"""The judge's "not a digit" outcome (Judge.analyse): the features IS/FID/NDB read are unchanged bit for bit, real
digits stay digits, long/several/silent clips are not digits, the digit is read around the speech."""

import numpy as np
import pytest
import torch

from speechgen.audio import io as audio_io
from speechgen.evaluation.judge import Judge, fix_length, shipped_examples


@pytest.fixture(scope="module")
def judge() -> Judge:
    return Judge()


@pytest.fixture(scope="module")
def real(judge):
    m = shipped_examples(judge)
    paths = [m.resolve(r) for r in m]
    return paths, np.array([r["label"] for r in m]), np.stack([audio_io.load(p)[0] for p in paths])


def test_features_of_one_second_clips_are_unchanged_bit_for_bit(judge, real):
    paths, _, audio = real
    p, f = judge.embed(paths)
    with torch.inference_mode():  # the judge before the detector: the classifier on the centre second
        p0, f0 = judge.model.probs_and_features(torch.from_numpy(np.stack([fix_length(x, 16000) for x in audio])))
    assert np.array_equal(p, p0.double().numpy()) and np.array_equal(f, f0.double().numpy())
    for clips, rate in ((paths, None), (audio, None), (list(audio), None), (audio_io.resample(audio, 16000, 8000),
                                                                           8000)):
        a = judge.analyse(clips, sample_rate=rate, crops=True)
        pe, fe = judge.embed(clips, sample_rate=rate)
        assert np.array_equal(a.probs, pe) and np.array_equal(a.feats, fe)
    a = judge.analyse(paths, crops=True)
    assert np.array_equal(a.crop_probs, p)  # one-second clips: the second around the speech is the centre second
    assert a.length_warning() is None


def test_real_digits_are_digits(judge, real):
    _, labels, audio = real
    a = judge.analyse(audio, crops=True)
    assert not a.not_digit.any() and a.not_digit_share == 0.0 and a.reasons == [None] * 10
    assert (a.not_digit_probability < judge.detector.threshold).all()
    assert (a.crop_probs.argmax(1) == labels).mean() >= 0.9


def test_long_several_and_silent_clips_are_not_digits_and_the_digit_is_found(judge, real):
    _, labels, audio = real
    gap = np.zeros(32000, np.float32)
    clips = [
        np.concatenate([audio[7], gap]),  # a digit at the start of 3 s: the centre second is silent
        np.concatenate([audio[3], gap, audio[5]]),  # two digits 2 s apart
        np.zeros(48000, np.float32),  # silence
        np.concatenate([audio[2], audio[8], audio[4], audio[6]]),  # 4 digits in a row, 4 s
    ]
    a = judge.analyse(clips, crops=True)
    assert a.reasons[0] is None and a.crop_probs[0].argmax() == labels[7]
    assert a.reasons[1].startswith("speech spans") and a.reasons[2] == "no speech"
    assert a.reasons[3] is not None and a.reasons[3] != "detector"
    assert a.not_digit.tolist() == [False, True, True, True] and a.not_digit_share == 0.75
    assert (a.not_digit_probability[1:] == 1.0).all()
    assert a.durations.tolist() == [3.0, 4.0, 3.0, 4.0]
    warning = a.length_warning()
    assert warning.startswith("4 of 4 clips are not about one second long (3.00-4.00 s)") and "3 of them" in warning
