"""``speechgen demo`` (shipped model + judge, offline) and ``speechgen report`` on its JSON, a run and bad input."""

import json

import pytest

from speechgen.cli.main import main


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "tmp"
    assert main(["demo", "--out", str(out), "--n", "1", "--quiet"]) == 0
    return out


def test_demo_writes_wavs_report_and_json(demo_dir):
    wavs = sorted((demo_dir / "wav").glob("*.wav"))
    assert len(wavs) == 10
    assert (demo_dir / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = json.loads((demo_dir / "demo.json").read_text())
    assert 0.0 <= result["label_accuracy"] <= 1.0
    assert [c["label"] for c in result["clips"]] == list(range(10))
    assert all(0 <= c["predicted"] <= 9 and 0.0 < c["probability"] <= 1.0 for c in result["clips"])
    assert result["label_accuracy"] == sum(c["label"] == c["predicted"] for c in result["clips"]) / 10
    assert set(result["reference"]) == {"train", "test"} and result["n"] == 10
    html = (demo_dir / "report.html").read_text()
    assert html.count("data:audio/wav;base64,") == 10 and "data:image/png;base64," in html


def test_report_from_demo_json(demo_dir, tmp_path):
    out = tmp_path / "r.html"
    assert main(["report", str(demo_dir / "demo.json"), "--out", str(out), "--quiet"]) == 0
    html = out.read_text()
    assert html.count("data:audio/wav;base64,") == 10 and "real train" in html


def test_report_from_run_folder(demo_dir, tmp_path):
    run = tmp_path / "run"
    step = run / "samples" / "step-0000010"
    step.mkdir(parents=True)
    for name in ("sample-00000.wav", "sample-00001.wav"):  # no manifest: the WAVs themselves
        (step / name).write_bytes((demo_dir / "wav" / name).read_bytes())
    (run / "logs").mkdir()
    (run / "logs" / "metrics.csv").write_text("epoch,step,train/loss\n0,5,2.0\n0,10,1.0\n")
    (run / "metrics.json").write_text(json.dumps({"train/loss": 1.0}))
    out = tmp_path / "run.html"
    assert main(["report", str(run), "--out", str(out), "--quiet"]) == 0
    html = out.read_text()
    assert html.count("data:audio/wav;base64,") == 2 and html.count("data:image/png;base64,") == 1
    assert "train/loss" in html and "Loss curves" in html


@pytest.mark.parametrize("bad", ["missing.json", "notes.txt", "empty_dir", "bad.json"])
def test_report_bad_input_one_line(tmp_path, capsys, bad):
    (tmp_path / "notes.txt").write_text("hi")
    (tmp_path / "empty_dir").mkdir()
    (tmp_path / "bad.json").write_text('{"x": 1}')
    assert main(["report", str(tmp_path / bad), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("speechgen: error:") and "\n" not in err
    assert not (tmp_path / "r.html").exists()
