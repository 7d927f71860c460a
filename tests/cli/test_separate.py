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
                         r"--speakers: no separator of 3 voices given \(they separate 2;"),
                        ([str(run), "--in", str(tmp_path / "nope.wav"), "--out", str(tmp_path / "o")], r"nope\.wav"),
                        ([str(tmp_path), "--in", str(wav), "--out", str(tmp_path / "o")], r"checkpoint|model"),
                        ([str(run), "--in", str(wav), "--out", str(tmp_path / "o"), "--overlap", "0.9", "--window",
                          "1"], r"--window/--overlap"),
                        ([str(run), "--in", str(wav)], r"give --in MIX_OR_DIR --out DIR, or --manifest")):
        assert main(["--quiet", "separate", *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and re.search(match, err), err
    assert not (tmp_path / "o").exists()


def test_a_counter_picks_the_separator_and_one_voice_comes_back_whole(run, tmp_path, capsys):
    """--counter: each mixture is counted; the count's accuracy and confusion matrix are reported, a mixture counted
    as one voice comes back as itself, two voices go to the 2-voice separator."""
    root = run.parent
    counter_recipe = Path(__file__).parents[2] / "recipes" / "classifier" / "counter-tiny.yaml"
    assert main(["--quiet", "train", str(counter_recipe), "--out", str(tmp_path / "counter"), "--set",
                 f"data.manifest={root / 'toy'}"]) == 0
    assert main(["--quiet", "corpus", "mixtures", "--from", str(root / "toy"), "--speakers", "1", "2", "--n", "3",
                 "--out", str(tmp_path / "mix")]) == 0
    assert main(["separate", str(run), "--counter", str(tmp_path / "counter"), "--manifest", str(tmp_path / "mix"),
                 "--json", str(tmp_path / "s.json"), "--no-sdr"]) == 0
    report = json.loads((tmp_path / "s.json").read_text())
    c = report["count"]
    assert c["counts"] == [1, 2] and sum(map(sum, c["matrix"])) == 6 and c["columns"] == ["1", "2", "other"]
    assert c["accuracy"] == (c["matrix"][0][0] + c["matrix"][1][1]) / 6
    assert report["skipped"] == 6 - round(6 * c["accuracy"]) and "count accuracy" in capsys.readouterr().out
    ones = [i for i in report["items"] if i["count"] == 1]
    assert all(abs(i["si_snri"]) < 1e-6 for i in ones)  # the mixture itself: no improvement, no harm
    wav = tmp_path / "one.wav"
    sf.write(wav, 0.3 * np.random.default_rng(3).standard_normal(8000).astype(np.float32), 16000)
    assert main(["--quiet", "separate", str(run), "--counter", str(tmp_path / "counter"), "--in", str(wav), "--out",
                 str(tmp_path / "o"), "--json", str(tmp_path / "r.json")]) == 0
    [record] = json.loads((tmp_path / "r.json").read_text())
    assert record["count"] in (1, 2) and len(record["sources"]) == record["count"]
    assert main(["--quiet", "separate", str(run), "--counter", str(tmp_path / "counter"), "--speakers", "2", "--in",
                 str(wav), "--out", str(tmp_path / "o2")]) == 2
    assert "--speakers and --counter" in capsys.readouterr().err
