"""``speechgen transcribe``: files/folders → table + JSON list; manifest split → string accuracy per voice; one-line
errors with exit code 2."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from speechgen.audio import io as audio_io
from speechgen.checkpoint import save_checkpoint
from speechgen.cli.main import main
from speechgen.models.ctc_recognizer import CTCRecognizer

SMALL = dict(n_mels=32, conv_channels=(16,), rnn_layers=1, rnn_width=16)
KEYS = {"path", "text", "digits", "probability"}


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("rec") / "ckpt"
    save_checkpoint(out, CTCRecognizer(**SMALL), {"name": "ctc_recognizer", "kwargs": SMALL})
    return out


def test_files_and_folders(tmp_path, model, capsys):
    d = tmp_path / "clips"
    for i in range(3):
        audio_io.save(d / f"{i}.wav", 0.1 * np.random.default_rng(i).standard_normal(12000).astype(np.float32),
                      8000)
    out = tmp_path / "r.json"
    assert main(["transcribe", str(d), str(d / "0.wav"), "--model", str(model), "--json", str(out),
                 "--batch-size", "2"]) == 0
    r = json.loads(out.read_text())
    assert len(r) == 4 and all(set(x) == KEYS for x in r) and r[0] == r[3]
    assert "probability" in capsys.readouterr().out  # the table
    assert main(["transcribe", str(d), "--model", str(model), "--json", str(out), "--quiet"]) == 0
    assert capsys.readouterr().out == ""


def test_manifest_split(tmp_path, model, toy_strings, capsys):
    out = tmp_path / "m.json"
    assert main(["transcribe", "--manifest", str(toy_strings), "--split", "test", "--model", str(model), "--json",
                 str(out)]) == 0
    r = json.loads(out.read_text())
    assert r["n"] == 6 and set(r["per_voice"]) == {"d"} and len(r["per_position_accuracy"]) == 3
    assert "string accuracy" in capsys.readouterr().out


@pytest.mark.parametrize("args, needle", [
    (["{tmp}/missing.wav"], "no such file or folder"),
    (["{tmp}/notes.wav"], "not a readable audio file"),
    (["{tmp}/empty"], "no audio files in folder"),
    ([], "give audio files/folders or --manifest"),
    (["{tmp}/ok.wav", "--batch-size", "0"], "--batch-size: must be > 0"),
    (["{tmp}/ok.wav", "--model", "classifier"], "not a digit-string recognizer"),
    (["{tmp}/ok.wav", "--model", "{tmp}/nowhere"], "nowhere"),
    (["--manifest", "{tmp}/words.csv", "--model", "MODEL"], "not a digit string"),
])
def test_errors_are_one_line_exit_2(tmp_path, model, capsys, args, needle):
    (tmp_path / "notes.wav").write_text("not audio")
    (tmp_path / "empty").mkdir()
    audio_io.save(tmp_path / "ok.wav", np.zeros(1600, dtype=np.float32), 16000)
    (tmp_path / "words.csv").write_text("path,text\nok.wav,hello\n")
    argv = ["transcribe"] + [a.replace("{tmp}", str(tmp_path)).replace("MODEL", str(model)) for a in args]
    if "--model" not in argv:
        argv += ["--model", str(model)]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert needle in err and "\n" not in err and "Traceback" not in err
