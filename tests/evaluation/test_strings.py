"""Digit-string metrics (pure functions, edge cases), and transcribing clips with a recognizer: order, batching,
input policy, per-voice scores of a manifest split."""

from pathlib import Path

import numpy as np
import pytest
import torch

from speechgen.audio import io as audio_io
from speechgen.checkpoint import save_checkpoint
from speechgen.data.manifest import Manifest
from speechgen.data.text import edit_distance
from speechgen.errors import AudioError, DataError
from speechgen.evaluation.strings import (Recognizer, digit_error_rate, digit_strings, per_position_accuracy,
                                          score_split, string_accuracy, string_metrics, transcribe_clips)
from speechgen.models.ctc_recognizer import CTCRecognizer

SMALL = dict(n_mels=32, conv_channels=(16,), rnn_layers=1, rnn_width=16)


@pytest.fixture(scope="module")
def recognizer_folder(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("rec") / "ckpt"
    save_checkpoint(folder, CTCRecognizer(**SMALL), {"name": "ctc_recognizer", "kwargs": SMALL})
    return folder


def test_edit_distance():
    assert edit_distance([], []) == 0
    assert edit_distance([1, 2, 3], []) == 3 and edit_distance([], [4, 4]) == 2
    assert edit_distance([1, 2, 3], [1, 3]) == 1  # a deletion
    assert edit_distance([1, 2, 3], [1, 2, 9, 3]) == 1  # an insertion
    assert edit_distance([1, 2, 3], [3, 2, 1]) == 2  # two substitutions
    assert edit_distance([4, 2, 7], [4, 2, 7]) == 0


def test_metrics_on_a_small_set():
    refs = [[4, 2, 7], [1, 1], [0, 5, 5, 9], [3]]
    hyps = [[4, 2, 7], [1], [0, 6, 5, 9, 9], []]
    assert string_accuracy(refs, hyps) == 0.25
    assert digit_error_rate(refs, hyps) == pytest.approx((0 + 1 + 2 + 1) / 10)
    # position 1: 4/4 refs; 4=4, 1=1, 0=0, 3 vs nothing → 3/4; position 2: 2=2, 1 vs nothing, 5≠6 → 1/3 ...
    assert per_position_accuracy(refs, hyps) == pytest.approx([3 / 4, 1 / 3, 2 / 2, 1 / 1])
    m = string_metrics(refs, hyps)
    assert m["n"] == 4 and m["string_accuracy"] == 0.25
    assert m["by_length"] == {1: {"n": 1, "string_accuracy": 0.0}, 2: {"n": 1, "string_accuracy": 0.0},
                              3: {"n": 1, "string_accuracy": 1.0}, 4: {"n": 1, "string_accuracy": 0.0}}


def test_one_clip_and_empty_hypotheses():
    assert string_accuracy([[7]], [[7]]) == 1.0 and digit_error_rate([[7]], [[7]]) == 0.0
    assert per_position_accuracy([[7]], [[7]]) == [1.0]
    assert string_accuracy([[1, 2]], [[]]) == 0.0
    assert digit_error_rate([[1, 2]], [[]]) == 1.0 and per_position_accuracy([[1, 2]], [[]]) == [0.0, 0.0]
    assert digit_error_rate([[1]], [[2, 3, 4]]) == 3.0  # insertions can push the rate above 1


@pytest.mark.parametrize("refs, hyps, needle", [([[1], []], [[1], [2]], "reference 1: an empty"),
                                                ([], [], "no digit strings"),
                                                ([[1]], [[1], [2]], "1 reference")])
@pytest.mark.parametrize("metric", [string_accuracy, digit_error_rate, per_position_accuracy, string_metrics])
def test_bad_inputs_are_refused(metric, refs, hyps, needle):
    with pytest.raises(DataError, match=needle):
        metric(refs, hyps)


def test_digit_strings_of_texts():
    assert digit_strings(["4 2 7", "four two", "0"]) == [[4, 2, 7], [4, 2], [0]]
    assert digit_strings(["4 2", ""]) is None and digit_strings(["4 2", None]) is None
    assert digit_strings(["4 2", "hello"]) is None and digit_strings([]) is None


def test_transcribe_clips_keeps_order_and_does_not_depend_on_batching(recognizer_folder, tmp_path):
    rec = Recognizer(recognizer_folder, batch_size=2)
    rng = np.random.default_rng(0)
    clips = [(0.1 * rng.standard_normal(n)).astype(np.float32) for n in (4000, 12000, 800, 20000, 9000)]
    paths = []
    for i, c in enumerate(clips):
        paths.append(tmp_path / f"c{i}.wav")
        audio_io.save(paths[-1], c, 16000)
    one = transcribe_clips(rec.model, clips, batch_size=1)
    many = rec.transcribe(clips)
    files = rec.transcribe(paths)
    for (d1, p1), (d2, p2), (d3, p3) in zip(one, many, files):
        assert d1 == d2 == d3 and p1 == pytest.approx(p2, abs=1e-5) and p1 == pytest.approx(p3, abs=1e-3)
    # arrays at another rate are resampled, stereo mixed to mono
    stereo = np.stack([clips[1], clips[1]])
    assert len(rec.transcribe([stereo], sample_rate=8000)) == 1
    assert rec.version.startswith("ctc_recognizer-")
    with pytest.raises(DataError, match="no clips"):
        rec.transcribe([])
    with pytest.raises(AudioError):
        rec.transcribe([np.array([np.nan, 0.0], dtype=np.float32)])


def test_score_split_per_voice(recognizer_folder, toy_strings):
    rec = Recognizer(recognizer_folder)
    report = score_split(rec.model, toy_strings, "test")
    m = Manifest.read(toy_strings)
    assert report["n"] == len(m.select("test")) and set(report["per_voice"]) == {"d"}
    assert len(report["items"]) == report["n"] and {"reference", "digits", "probability"} <= set(report["items"][0])
    assert 0.0 <= report["string_accuracy"] <= 1.0
    scored = rec.score([m.resolve(r) for r in m.select("test")], digit_strings([r["text"] for r in m.select("test")]))
    assert scored["string_accuracy"] == report["string_accuracy"] and "recognizer_version" in scored
    m.rows[-1]["text"] = "hello"
    m.write()
    with pytest.raises(DataError, match="not a digit string"):
        score_split(rec.model, toy_strings, "test")


def test_the_recognizer_is_named_like_any_model(recognizer_folder, tmp_path):
    import shutil

    from speechgen.errors import CheckpointError

    shutil.copytree(recognizer_folder, tmp_path / "run" / "final")
    assert Recognizer(tmp_path / "run").version == Recognizer(recognizer_folder).version  # a run folder
    with pytest.raises(CheckpointError, match="no such run, checkpoint or shipped model"):
        Recognizer(tmp_path / "nowhere")
