"""Text-to-speech inference: texts → symbols → mel → the vocoder's audio, deterministic per seed, batched like one
by one, voices by name or index, the stop-never-fired warning, and one-line refusals (bad text before any loading,
a vocoder of another feature, a model that is not a text-to-speech model)."""

from __future__ import annotations

import numpy as np
import pytest

from speechgen import api
from speechgen.data.manifest import Manifest
from speechgen.errors import CheckpointError, ConfigError, DataError
from speechgen.inference.speak import LoadedTTS, parse_texts, speak, write_spoken

from ..text_speech_fixtures import tacotron_checkpoint, tts_checkpoint


@pytest.fixture(scope="module")
def never_stops(tmp_path_factory):
    return tts_checkpoint(tmp_path_factory.mktemp("tts") / "never", stop_bias=-50.0)


def test_speak_texts_deterministically_and_in_batches_as_one_by_one(never_stops):
    tts = LoadedTTS(never_stops)
    texts = ["four two seven", "9 1", "oh"]
    a = tts.speak(texts, seed=3)
    b = tts.speak(texts, seed=3)
    c = tts.speak(texts, seed=4)
    assert a.texts == ["4 2 7", "9 1", "0"] and a.digits == [[4, 2, 7], [9, 1], [0]] and a.sample_rate == 16000
    for x, y in zip(a.audio, b.audio):
        np.testing.assert_array_equal(x, y)
    assert any(not np.array_equal(x, y) for x, y in zip(a.audio, c.audio))
    # the step cap: 3 frames per symbol ("four two seven": 14 chars + end = 15 symbols -> 45 frames, 46 at r = 2)
    assert [m.shape for m in a.mels] == [(80, 46), (80, 28), (80, 16)]
    assert [len(x) for x in a.audio] == [46 * 256, 28 * 256, 16 * 256]
    assert a.stopped == [False] * 3 and len(a.warnings) == 3
    assert a.warnings[0].startswith("text 1 ('4 2 7'): the stop token never fired")
    one = tts.speak(texts, seed=3, batch=1)
    assert [m.shape for m in one.mels] == [m.shape for m in a.mels]
    # each clip's alignment: its own decoder steps (frames / r, rounded up) over its own symbols (+ end symbol)
    assert [x.shape for x in a.alignments] == [(23, 15), (14, 9), (8, 5)]
    for x, y in zip(a.alignments, one.alignments):
        np.testing.assert_allclose(x, y, atol=1e-3)  # batched vs alone: float rounding only
        np.testing.assert_allclose(x.sum(axis=1), 1.0, atol=1e-4)


def test_write_spoken_writes_wavs_and_a_manifest(never_stops, tmp_path):
    spoken = speak(never_stops, ["7", "1 2"], seed=0)
    write_spoken(tmp_path, spoken)
    rows = Manifest.read(tmp_path).rows
    assert [r["path"] for r in rows] == ["0000.wav", "0001.wav"]
    assert [r["text"] for r in rows] == ["7", "1 2"] and [r["label"] for r in rows] == [7, None]


def test_voices_by_name_or_index(tmp_path):
    folder = tts_checkpoint(tmp_path / "multi", n_speakers=3, speaker_dim=4)
    tts = LoadedTTS(folder)
    assert tts.speaker_index(None) == 0 and tts.speaker_index("voice2") == 2 and tts.speaker_index("1") == 1
    spoken = tts.speak(["3"], speaker="voice1")
    assert spoken.speakers == ["voice1"]
    with pytest.raises(ConfigError, match="--speaker: 'nobody' is not a voice of this model"):
        tts.speak(["3"], speaker="nobody")
    with pytest.raises(ConfigError, match="speaks with one voice"):
        LoadedTTS(tts_checkpoint(tmp_path / "one")).speak(["3"], speaker="voice1")


def test_bad_text_is_refused_before_loading_anything(tmp_path):
    with pytest.raises(DataError, match="cannot speak 'x'"):
        speak(tmp_path / "no-such-model", ["4 x 2"])
    with pytest.raises(DataError, match="nothing to speak"):
        parse_texts([])


def test_vocoder_of_another_feature_and_non_tts_models_are_refused(tmp_path):
    folder = tts_checkpoint(tmp_path / "64", feature_params={"n_mels": 64})
    with pytest.raises(ConfigError, match="n_mels = 80, the model's 64"):
        LoadedTTS(folder)
    with pytest.raises(CheckpointError, match="not a text-to-speech model"):
        LoadedTTS("default")


def test_api_speak_and_load(never_stops):
    spoken = api.speak(never_stops, "five", seed=1)
    assert spoken.texts == ["5"] and spoken.audio[0].dtype == np.float32
    loaded = api.load(never_stops)
    assert isinstance(loaded, LoadedTTS)
    np.testing.assert_array_equal(api.speak(loaded, ["five"], seed=1).audio[0], spoken.audio[0])


PROBE = """
import json, sys
from speechgen import api
spoken = api.speak(sys.argv[1], ["4 2"], seed=0)
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("lightning", "pytorch_lightning")
                        or m.startswith("speechgen.training") or m == "speechgen.data.text_speech")))
"""


@pytest.mark.slow
def test_speaking_imports_no_training(never_stops):
    import json
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", PROBE, str(never_stops)], capture_output=True, text=True, timeout=300,
                         check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_a_model_that_makes_its_own_audio_needs_no_vocoder(tmp_path):
    folder = tacotron_checkpoint(tmp_path / "tacotron", stop_bias=-50.0)
    own = LoadedTTS(folder)
    assert own.vocoder is None and own.vocoder_config is None
    texts = ["four two", "oh"]
    a, b = own.speak(texts, seed=2), own.speak(texts, seed=2)
    for x, y in zip(a.audio, b.audio):
        np.testing.assert_array_equal(x, y)
    assert [m.shape[0] for m in a.mels] == [80, 80] and [len(x) for x in a.audio] == [m.shape[1] * 256 for m in a.mels]
    assert a.stopped == [False, False] and len(a.warnings) == 2
    voiced = speak(folder, texts, vocoder="default", seed=2)  # a named vocoder voices its log-mel instead
    assert [len(x) for x in voiced.audio] == [len(x) for x in a.audio]
    assert not np.array_equal(voiced.audio[0], a.audio[0])


def test_untrained_rows_of_the_speaker_table_are_not_offered(tmp_path):
    """A 4-row table trained on 2 named voices: indices 0-1 and the names speak, index 2 (never trained) is refused."""
    import yaml

    folder = tts_checkpoint(tmp_path / "table", stop_bias=-50.0, n_speakers=4)
    config = folder / "config.yaml"
    data = yaml.safe_load(config.read_text())
    data["speakers"] = ["alice", "bob"]
    config.write_text(yaml.safe_dump(data))
    tts = LoadedTTS(folder)
    assert tts.speaker_index("bob") == 1 and tts.speaker_index(1) == 1
    with pytest.raises(ConfigError, match=r"an index in 0..1 or a name: alice, bob"):
        tts.speaker_index(2)
