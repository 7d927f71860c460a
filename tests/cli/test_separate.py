"""``speechgen separate`` end to end with a tiny trained separator: files and folders in, one folder of sources per
input, JSON records, one-line errors."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechgen.cli.main import main

from ..conftest import write_toy_manifest

TINY = Path(__file__).parents[2] / "recipes" / "separation" / "mulcat-2spk-tiny.yaml"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("separate")
    voices = write_toy_manifest(root / "toy", per=2, splits={"train": ("a", "b", "c"), "valid": ("e", "f"),
                                                             "test": ("g", "h")})
    assert main(["train", str(TINY), "--out", str(root / "run"), "--set", f"data.manifest={voices}", "--quiet"]) == 0
    return root / "run"


def test_separates_files_and_folders(run, tmp_path, capsys):
    mixes = tmp_path / "mixes"
    mixes.mkdir()
    rng = np.random.default_rng(0)
    sf.write(mixes / "a.wav", 0.3 * rng.standard_normal(8000).astype(np.float32), 16000)
    sf.write(mixes / "long.wav", 0.3 * rng.standard_normal(3 * 22050).astype(np.float32), 22050)  # resampled
    out = tmp_path / "out"
    assert main(["separate", str(run), "--in", str(mixes), "--out", str(out), "--json", str(tmp_path / "r.json"),
                 "--window", "1", "--overlap", "0.25", "--speakers", "2"]) == 0
    records = json.loads((tmp_path / "r.json").read_text())
    assert [Path(r["path"]).name for r in records] == ["a.wav", "long.wav"] and all(r["count"] == 2 for r in records)
    for name, n in (("a", 8000), ("long", 48000)):
        for k in (1, 2):
            x, sr = sf.read(out / name / f"s{k}.wav")
            assert sr == 16000 and len(x) == n
    out_text = capsys.readouterr().out
    assert "2 voices" in out_text and "x real time" in out_text and records[1]["seconds"] == 3.0


def test_scores_a_mixtures_manifest(run, tmp_path, capsys):
    root = run.parent
    assert main(["--quiet", "corpus", "mixtures", "--from", str(root / "toy"), "--speakers", "1", "2", "--n", "3",
                 "--out", str(tmp_path / "mix")]) == 0
    assert main(["separate", str(run), "--manifest", str(tmp_path / "mix"), "--json", str(tmp_path / "s.json")]) == 0
    report = json.loads((tmp_path / "s.json").read_text())
    assert report["skipped"] == 3 and report["per_count"]["2"]["n"] == 3 and len(report["items"]) == 3
    for key in ("si_snr", "si_snri", "sdr", "sdri"):
        assert np.isfinite(report["per_count"]["2"][key])
    i = report["intelligibility"]
    assert i["n"] == 6 and 0 <= i["separated_accuracy"] <= 1 and 0 <= i["clean_accuracy"] <= 1
    out = capsys.readouterr().out
    assert "SI-SNRi" in out and "skipped 3" in out


def test_api_separate(run):
    from speechgen import api

    out = api.separate(str(run), np.random.default_rng(1).standard_normal((2, 4410)).astype(np.float32), 44100)
    assert out.shape == (2, 1600) and out.dtype == np.float32


def test_one_line_errors(run, tmp_path, capsys):
    wav = tmp_path / "m.wav"
    sf.write(wav, np.zeros(1600, np.float32), 16000)
    for argv, match in (([str(run), "--in", str(wav), "--out", str(tmp_path / "o"), "--speakers", "3"],
                         r"--speakers: .* separates 2 voices, not 3"),
                        ([str(run), "--in", str(tmp_path / "nope.wav"), "--out", str(tmp_path / "o")], r"nope\.wav"),
                        ([str(tmp_path), "--in", str(wav), "--out", str(tmp_path / "o")], r"checkpoint|model"),
                        ([str(run), "--in", str(wav), "--out", str(tmp_path / "o"), "--overlap", "0.9", "--window",
                          "1"], r"--window/--overlap"),
                        ([str(run), "--in", str(wav)], r"give --in MIX_OR_DIR --out DIR, or --manifest")):
        assert main(["--quiet", "separate", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and re.search(match, err), err
    assert not (tmp_path / "o").exists()
