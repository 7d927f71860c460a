"""``speechgen compare``: table, JSON, and one-line errors with exit code 2."""

import json

import numpy as np
import pytest

from speechgen.audio import io
from speechgen.cli.main import main

SR = 16_000


def tone(seconds: float = 1.0, f0: float = 140.0) -> np.ndarray:
    t = np.arange(int(SR * seconds)) / SR
    x = sum(np.sin(2 * np.pi * k * f0 * t) / k for k in range(1, 12)) * np.hanning(len(t)) ** 0.3
    return (0.4 * x / np.abs(x).max()).astype(np.float32)


@pytest.fixture
def folders(tmp_path):
    ref, est = tmp_path / "ref", tmp_path / "est"
    rng = np.random.default_rng(0)
    for name, f0 in (("one", 120.0), ("two", 180.0)):
        x = tone(f0=f0)
        io.save(ref / f"{name}.wav", x, SR)
        io.save(est / f"{name}.wav", x + 0.01 * rng.standard_normal(len(x)).astype(np.float32), SR)
    return ref, est


def one_line_error(capsys, *argv) -> str:
    assert main(list(argv)) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("speechgen: error:") and "\n" not in err
    return err


def test_compare_folders_table_and_json(folders, tmp_path, capsys):
    ref, est = folders
    out = tmp_path / "res" / "compare.json"
    assert main(["compare", str(ref), str(est), "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "one.wav" in text and "two.wav" in text and "mean of 2" in text and "PESQ" in text
    data = json.loads(out.read_text())
    assert [f["name"] for f in data["files"]] == ["one.wav", "two.wav"]
    keys = {"pesq", "stoi", "mcd", "mrstft", "lsd", "f0_rmse", "vuv_error"}
    assert set(data["mean"]) == keys and set(data["files"][0]) == keys | {"name"}
    assert 1.0 < data["mean"]["pesq"] < 4.64 and data["mean"]["mcd"] > 0


def test_compare_two_files_quiet_nan_as_null(tmp_path, capsys):
    x = tone(0.2)  # too short for PESQ and STOI -> NaN -> null
    io.save(tmp_path / "a.wav", x, SR)
    io.save(tmp_path / "b.wav", x, SR)
    out = tmp_path / "r.json"
    assert main(["--quiet", "compare", str(tmp_path / "a.wav"), str(tmp_path / "b.wav"), "--json", str(out)]) == 0
    assert capsys.readouterr().out == ""
    data = json.loads(out.read_text())
    assert data["files"][0]["pesq"] is None and data["mean"]["stoi"] is None and data["mean"]["mcd"] == 0.0


def test_compare_errors_are_one_line(folders, tmp_path, capsys):
    ref, est = folders
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "readme.txt").write_text("no audio here")
    assert "no audio files" in one_line_error(capsys, "compare", str(empty), str(est))
    (est / "two.wav").unlink()
    assert "lacks 1 estimate(s): two" in one_line_error(capsys, "compare", str(ref), str(est))
    fake = tmp_path / "fake.wav"
    fake.write_text("not a wav")
    assert "not a readable audio file" in one_line_error(capsys, "compare", str(ref / "one.wav"), str(fake))
    bad = tmp_path / "nan.wav"
    import soundfile as sf

    sf.write(str(bad), np.full(SR, np.nan, np.float32), SR, subtype="FLOAT")
    assert "NaN" in one_line_error(capsys, "compare", str(ref / "one.wav"), str(bad))
    assert "not a folder with a file" in one_line_error(capsys, "compare", str(ref), str(fake))


def test_compare_html_page_embeds_pairs_from_worst_to_best(folders, tmp_path, capsys):
    ref, est = folders
    io.save(est / "two.wav", np.zeros(SR, np.float32), SR)  # a silent estimate: the worst pair, scored not fatal
    page = tmp_path / "out" / "compare.html"
    assert main(["compare", str(ref), str(est), "--html", str(page)]) == 0
    assert "compare.html" in capsys.readouterr().out.replace("\n", "")
    html = page.read_text()
    assert html.count("<audio") == 4 and html.count("data:image/png;base64,") == 2
    assert html.index("two.wav") < html.index("one.wav")  # worst PESQ first
    assert not list(page.parent.glob("*.tmp*"))


def test_compare_html_pairs_must_be_a_count(folders, tmp_path, capsys):
    ref, est = folders
    err = one_line_error(capsys, "compare", str(ref), str(est), "--html", str(tmp_path / "p.html"),
                         "--html-pairs", "-1")
    assert "--html-pairs" in err and not (tmp_path / "p.html").exists()
