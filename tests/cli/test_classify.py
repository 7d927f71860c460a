"""``speechgen classify``: files/folders → JSON list; manifest split → accuracy per voice; one-line errors."""

import json

import numpy as np
import soundfile as sf

from speechgen.audio import io as audio_io
from speechgen.cli.main import main


def test_files_and_folders(tmp_path):
    d = tmp_path / "clips"
    for i in range(3):
        audio_io.save(d / f"{i}.wav", 0.1 * np.random.default_rng(i).standard_normal(12000).astype(np.float32),
                      8000)
    out = tmp_path / "r.json"
    assert main(["classify", str(d), str(d / "0.wav"), "--json", str(out), "--quiet"]) == 0
    r = json.loads(out.read_text())
    assert len(r) == 4 and all(set(x) == {"path", "digit", "probability"} for x in r)
    assert all(0 <= x["digit"] <= 9 and 0.0 < x["probability"] <= 1.0 for x in r)


def test_manifest_split_report(tmp_path, toy_manifest):
    out = tmp_path / "r.json"
    assert main(["classify", "--manifest", str(toy_manifest), "--split", "test", "--json", str(out),
                 "--quiet"]) == 0
    r = json.loads(out.read_text())
    assert r["n"] == 12 and 0.0 <= r["accuracy"] <= 1.0 and set(r["per_speaker"]) == {"d"}
    assert len(r["items"]) == 12 and set(r["per_digit"]) == {"0", "1", "2"}


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
