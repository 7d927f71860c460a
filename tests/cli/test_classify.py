"""``speechgen classify``: files/folders → JSON list; manifest split → accuracy per voice; one-line errors."""

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import yaml

from speechgen import pretrained
from speechgen.audio import io as audio_io
from speechgen.cli.main import main

KEYS = {"path", "digit", "probability", "not_digit_probability", "not_digit_reason", "duration"}


def test_files_and_folders(tmp_path):
    d = tmp_path / "clips"
    for i in range(3):
        audio_io.save(d / f"{i}.wav", 0.1 * np.random.default_rng(i).standard_normal(12000).astype(np.float32),
                      8000)
    out = tmp_path / "r.json"
    assert main(["classify", str(d), str(d / "0.wav"), "--json", str(out), "--quiet"]) == 0
    r = json.loads(out.read_text())
    assert len(r) == 4 and all(set(x) == KEYS for x in r)
    # steady noise holds no speech: not a digit (it was classified as one before the judge had that outcome)
    assert all(x["digit"] is None and x["probability"] is None and x["not_digit_reason"] == "no speech"
               and x["not_digit_probability"] == 1.0 and x["duration"] == 1.5 for x in r)


def test_a_shipped_real_digit_is_a_digit(tmp_path, capsys):
    real = Path(pretrained.path("classifier")) / "real"
    out = tmp_path / "r.json"
    assert main(["classify", str(real / "7-festival-ked_diphone.flac"), str(real / "2-flite-rms.flac"), "--json",
                 str(out)]) == 0
    r = json.loads(out.read_text())
    assert [x["digit"] for x in r] == [7, 2] and all(set(x) == KEYS for x in r)
    threshold = yaml.safe_load((pretrained.path("digit-detector") / "config.yaml").read_text())["model"]["kwargs"][
        "threshold"]
    assert all(x["not_digit_reason"] is None and x["not_digit_probability"] < threshold and x["duration"] == 1.0
               for x in r)
    assert "not about one second" not in capsys.readouterr().out


@pytest.mark.engines
def test_an_espeak_sentence_of_four_seconds_is_not_a_digit(tmp_path, capsys):
    if shutil.which("espeak-ng") is None:
        pytest.skip("espeak-ng not installed")
    wav = tmp_path / "sentence.wav"
    subprocess.run(["espeak-ng", "-v", "en-us", "-s", "175", "-w", str(wav),
                    "the weather was cold and grey so we stayed inside and read by the fire"], check=True)
    assert 3.5 <= audio_io.info(wav).duration <= 4.5
    out = tmp_path / "r.json"
    assert main(["classify", str(wav), "--json", str(out)]) == 0
    (x,) = json.loads(out.read_text())
    assert x["digit"] is None and x["probability"] is None and x["not_digit_reason"].startswith("speech spans")
    printed = capsys.readouterr().out
    assert "not a digit" in printed and "1 of 1 clips are not about one second long" in printed


def test_manifest_split_report(tmp_path, toy_manifest):
    out = tmp_path / "r.json"
    assert main(["classify", "--manifest", str(toy_manifest), "--split", "test", "--json", str(out),
                 "--quiet"]) == 0
    r = json.loads(out.read_text())
    assert r["n"] == 12 and 0.0 <= r["accuracy"] <= 1.0 and set(r["per_speaker"]) == {"d"}
    assert len(r["items"]) == 12 and set(r["per_digit"]) == {"0", "1", "2"}
    assert 0.0 <= r["not_digit_share"] <= 1.0 and "not_digit_share" in r["per_speaker"]["d"]
    assert all(isinstance(i["not_digit"], bool) for i in r["items"])


def test_errors(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    (tmp_path / "bad.wav").write_text("nope")
    sf.write(tmp_path / "nan.wav", np.full(800, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    for target, needle in (("empty", "no audio files"), ("bad.wav", "not a readable audio file"),
                           ("nan.wav", "NaN"), ("gone.wav", "no such")):
        assert main(["classify", str(tmp_path / target)]) == 2
        err = capsys.readouterr().err.strip()
        assert err.startswith("speechgen: error:") and needle in err and "\n" not in err
    assert main(["classify"]) == 2
