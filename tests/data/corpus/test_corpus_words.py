"""The non-digit English of ``speechgen corpus digits --words N``: no word sounds like a digit, sentences and the
plan are deterministic, a build holds words and sentences in the digits' splits."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from speechgen.data.corpus import Voice, build_digits, plan
from speechgen.data.corpus import words as W
from speechgen.data.corpus.digits import CLIP_SAMPLES
from speechgen.data.manifest import Manifest

HOMOPHONES = ("to", "too", "for", "fore", "won", "ate", "nein", "tree", "free", "heaven", "hero", "sticks", "fine",
              "someone")


def test_lists_hold_no_digit_words_or_homophones():
    assert len(W.WORDS) >= 300 and len(set(W.WORDS)) == len(W.WORDS)
    assert all(w.isalpha() and w.islower() for w in W.WORDS)
    banned = set(W.DIGITS) | {"ten", "eleven", "twelve", "twenty", "hundred", "eighteen", "seventy", "ninety"}
    assert not banned & set(W.WORDS)
    assert not set(HOMOPHONES) & set(W.WORDS)


def test_sentences_are_short_and_seeded():
    a = [W.sentence(np.random.default_rng([0, i])) for i in range(50)]
    assert a == [W.sentence(np.random.default_rng([0, i])) for i in range(50)]
    assert all(2 <= len(s.split()) <= 7 for s in a) and len(set(a)) > 40
    assert all(w in W.WORDS or w in ("is", "and") for s in a for w in s.split())


def test_plan_adds_words_and_sentences_per_voice_in_the_voice_split():
    voices = [Voice("espeak-ng", f"en-us+v{i}", f"g{i}") for i in range(6)]
    clips = plan(voices, 1, 0, seed=3, words=20)
    english = [c for c in clips if c.kind in ("word", "sentence")]
    assert len(english) == 6 * 20 and all(c.label is None for c in english)
    split_of = {c.voice.speaker: c.split for c in clips if c.kind == "digit"}
    assert all(c.split == split_of[c.voice.speaker] for c in english)
    kinds = [c.kind for c in english]
    assert 0.25 < kinds.count("sentence") / len(kinds) < 0.55
    for c in english:
        assert c.path == f"{c.kind}s/{c.voice.speaker}_{c.variant:03d}.wav" and c.words == c.text
        assert c.centred == (c.kind == "word")
    assert [c.text for c in english] == [c.text for c in plan(voices, 1, 0, seed=3, words=20) if c.label is None]
    assert [c.text for c in english][:5] != [c.text for c in plan(voices, 1, 0, seed=4, words=20)
                                             if c.label is None][:5]


@pytest.mark.engines
def test_the_rule_catches_homophones_and_passes_the_lists():
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    for w in HOMOPHONES:
        assert W.digit_likeness(w), w
    rng = np.random.default_rng(0)
    for w in rng.choice(W.WORDS, size=40, replace=False):  # a sample: the whole list takes a minute
        assert not W.digit_likeness(str(w)), (w, W.digit_likeness(str(w)))


@pytest.mark.engines
def test_build_with_words(tmp_path: Path) -> None:
    if shutil.which("espeak-ng") is None or shutil.which("sox") is None:
        pytest.skip("espeak-ng and sox not installed")
    m = build_digits(tmp_path / "c", variants=1, words=4, engines=["espeak-ng"], voices=3, workers=1, seed=7,
                     progress=False, log=lambda _: None)
    again = Manifest.read(m.root)
    english = [r for r in again if r["label"] is None]
    assert len(again) == 3 * 10 + 3 * 4 and len(english) == 12
    import soundfile as sf

    for r in english:
        info = sf.info(str(again.resolve(r)))
        assert r["text"] and not r["text"][0].isdigit()
        if str(r["path"]).startswith("words/"):
            assert info.frames == CLIP_SAMPLES
        else:
            assert str(r["path"]).startswith("sentences/") and info.frames > 0.5 * CLIP_SAMPLES
