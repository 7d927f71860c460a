"""Transcribing with a recognizer checkpoint: records, refusal of other models, and no training imports."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from speechgen.audio import io as audio_io
from speechgen.checkpoint import save_checkpoint
from speechgen.errors import CheckpointError
from speechgen.inference.transcribe import load_transcriber, score_manifest, transcribe
from speechgen.models.ctc_recognizer import CTCRecognizer

SMALL = dict(n_mels=32, conv_channels=(16,), rnn_layers=1, rnn_width=16)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("rec") / "ckpt"
    save_checkpoint(out, CTCRecognizer(**SMALL), {"name": "ctc_recognizer", "kwargs": SMALL})
    return out


def test_records_of_files_and_arrays(folder, tmp_path):
    model, info = load_transcriber(folder)
    assert info.model == "ctc_recognizer" and not model.training
    wav = tmp_path / "a.wav"
    audio_io.save(wav, 0.1 * np.random.default_rng(0).standard_normal(8000).astype(np.float32), 16000)
    (rec,) = transcribe(model, [wav])
    assert set(rec) == {"path", "text", "digits", "probability"} and rec["path"] == str(wav)
    words, digits = rec["text"].split(), rec["digits"].split()
    assert len(words) == len(digits) and 0.0 < rec["probability"] <= 1.0
    (arr,) = transcribe(model, [np.zeros(4000, dtype=np.float32)], sample_rate=8000)
    assert set(arr) == {"text", "digits", "probability"}


def test_other_models_are_refused():
    with pytest.raises(CheckpointError, match=r"holds a 'digit_classifier' model, not a digit-string recognizer "
                                              r"\(ctc_recognizer\)"):
        load_transcriber("classifier")


def test_score_manifest(folder, toy_strings):
    model, _ = load_transcriber(folder)
    report = score_manifest(model, toy_strings, "valid")
    assert report["split"] == "valid" and set(report["per_voice"]) == {"c"} and report["n"] == 6


PROBE = """
import json, sys
import numpy as np
from speechgen.inference.transcribe import load_transcriber, transcribe
model, _ = load_transcriber(sys.argv[1])
transcribe(model, [np.zeros(4000, dtype=np.float32)])
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("lightning", "pytorch_lightning")
                        or m.startswith("speechgen.training"))))
"""


def test_transcribing_imports_no_training(folder):
    out = subprocess.run([sys.executable, "-c", PROBE, str(folder)], capture_output=True, text=True, timeout=300,
                         check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_without_a_shipped_recognizer_the_default_name_says_what_to_pass(monkeypatch, tmp_path):
    from speechgen import pretrained

    monkeypatch.delitem(pretrained.PRETRAINED, "recognizer", raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CheckpointError, match="ships no recognizer; pass --model RUN"):
        load_transcriber()
