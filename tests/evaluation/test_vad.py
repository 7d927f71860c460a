"""The speech-region finder and duration rules of the judge's "not a digit" outcome, on synthetic signals."""

import numpy as np
import pytest

from speechgen.evaluation.judge import fix_length
from speechgen.evaluation.vad import crop_around, crop_start, find_speech, window

SR = 16000


def _burst(total: float, at: float, length: float, f0: float = 220.0, amp: float = 0.5) -> np.ndarray:
    """A voiced, word-like burst (harmonics of ``f0`` under a smooth envelope) of ``length`` s at ``at`` s."""
    x = np.zeros(int(total * SR), np.float32)
    t = np.arange(int(length * SR)) / SR
    s = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 6)) * np.sin(np.pi * t / length) ** 0.5
    a = int(at * SR)
    x[a:a + len(s)] += (amp * s / np.abs(s).max()).astype(np.float32)
    return x


def _noise(x: np.ndarray, level: float = 0.003, seed: int = 0) -> np.ndarray:
    return x + level * np.random.default_rng(seed).standard_normal(len(x)).astype(np.float32)


def test_one_burst_is_one_region_and_may_be_a_digit():
    for total in (1.0, 3.0):
        sp = find_speech(_noise(_burst(total, 0.3, 0.5)))
        assert len(sp.words) == 1 and sp.rule() is None
        start, end = sp.span
        assert start == pytest.approx(0.3, abs=0.05) and end == pytest.approx(0.8, abs=0.05)


def test_two_bursts_far_apart_are_not_a_digit():
    sp = find_speech(_noise(_burst(3.0, 0.2, 0.5) + _burst(3.0, 2.2, 0.5, f0=180)))
    assert len(sp.words) == 2 and sp.span_length == pytest.approx(2.5, abs=0.1)
    assert sp.rule().startswith("speech spans")
    # closer, but still two words with a long pause between them, within 1.5 s
    sp = find_speech(_noise(_burst(1.6, 0.05, 0.35) + _burst(1.6, 1.05, 0.4, f0=180)))
    assert sp.span_length < 1.5 and sp.rule() == "several separated words"


def test_a_short_pause_inside_a_word_does_not_split_it():
    # "six": a vowel, a 120 ms stop closure, a burst
    sp = find_speech(_noise(_burst(1.0, 0.2, 0.25) + _burst(1.0, 0.57, 0.15, amp=0.3)))
    assert len(sp.regions) == 1 and sp.rule() is None


def test_thirty_seconds_of_bursts_are_not_a_digit():
    x = sum(_burst(30.0, 0.2 + 1.2 * k, 0.6, f0=150 + 10 * k) for k in range(24))
    sp = find_speech(_noise(x))
    assert len(sp.words) == 24 and sp.span_length > 27 and sp.rule().startswith("speech spans")


def test_silence_and_steady_noise_hold_no_speech():
    for x in (np.zeros(SR, np.float32), _noise(np.zeros(SR, np.float32), 1e-5),
              _noise(np.zeros(SR, np.float32), 0.1), _noise(np.zeros(30 * SR, np.float32), 0.1)):
        sp = find_speech(x)
        assert not sp.words and sp.span is None and sp.rule() == "no speech"


def test_a_click_is_not_a_word():
    x = _noise(_burst(3.0, 0.4, 0.5))
    x[int(2.5 * SR):int(2.5 * SR) + 40] += 0.8  # 2.5 ms click, 2 s after the word
    sp = find_speech(x)
    assert len(sp.words) == 1 and sp.rule() is None


def test_crop_centres_the_speech_and_keeps_fix_length_for_one_second_clips():
    x = _noise(_burst(3.0, 2.0, 0.5))
    w, start = crop_around(x, find_speech(x), SR)
    assert w.shape == (SR,) and start == pytest.approx(int(2.25 * SR) - SR // 2, abs=SR // 20)
    assert np.array_equal(w, x[start:start + SR])
    end = _noise(_burst(3.0, 2.6, 0.35))  # near the end: the window stays inside the clip
    assert crop_around(end, find_speech(end), SR)[1] == 2 * SR
    for n in (SR, SR - 1, SR - 4000, SR + 1, 3 * SR + 7):  # no centre: exactly fix_length's window
        y = np.arange(n, dtype=np.float32)
        assert np.array_equal(window(y, crop_start(n, SR, None), SR), fix_length(y, SR))
    one = _noise(_burst(1.0, 0.05, 0.3))  # one second: nothing to move, whatever the speech
    assert np.array_equal(crop_around(one, find_speech(one), SR)[0], one)
    short = _noise(_burst(0.6, 0.0, 0.3))  # shorter: the whole clip stays in, the speech moves to the centre
    w, start = crop_around(short, find_speech(short), SR)
    assert start == pytest.approx(int(0.15 * SR) - SR // 2, abs=SR // 20) and start > -(SR - len(short))
    assert np.array_equal(w[-start:-start + len(short)], short) and not w[:-start].any()
