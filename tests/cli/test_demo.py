"""``speechgen demo`` (shipped model + judge, offline) and ``speechgen report`` on its JSON, a run and bad input."""

import json

import pytest
import torch

from speechgen.cli.main import main
from speechgen.models.hifigan import HiFiGAN
from speechgen.checkpoint import save_checkpoint


@pytest.fixture(scope="module")
def demo_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "tmp"
    assert main(["demo", "--out", str(out), "--n", "1", "--quiet"]) == 0
    return out


def test_demo_writes_wavs_report_and_json(demo_dir):
    wavs = sorted((demo_dir / "wav").glob("*.wav"))
    assert len(wavs) == 10
    assert (demo_dir / "grid.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    # the vocoded set gets its grid too (both with time/frequency axes and a dB colour bar)
    assert (demo_dir / "grid-vocoded.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    result = json.loads((demo_dir / "demo.json").read_text())
    assert 0.0 <= result["label_accuracy"] <= 1.0
    assert [c["label"] for c in result["clips"]] == list(range(10))
    assert all(0 <= c["predicted"] <= 9 and 0.0 < c["probability"] <= 1.0 for c in result["clips"])
    assert result["label_accuracy"] == sum(c["label"] == c["predicted"] for c in result["clips"]) / 10
    assert set(result["reference"]) == {"train", "test"} and result["n"] == 10
    players = 10 * (2 if "vocoded" in result else 1)  # the shipped vocoder's clips too, once there is one
    html = (demo_dir / "report.html").read_text()
    assert html.count("data:audio/wav;base64,") == players and "data:image/png;base64," in html
    # the shipped real test-voice clips, one per digit, judged beside the generated ones
    assert html.count("data:audio/flac;base64,") == 10 and "Real clips (10)" in html
    real = html.split("Real clips (10)")[1]
    assert "festival-ked_diphone" in real and "flite-rms" in real and "espeak-ng-en-us+grandpa" in real
    # the judge's internals stay in the JSON, not in the table
    assert "modified_inception_score" not in html and "is_splits" not in html
    # 10 clips: every metric computed, FID with its interval, all but nothing comparable: flagged in JSON and page
    assert result["comparable"]["fid"] is False and result["comparable"]["label_accuracy"] is False
    assert len(result["fid_ci"]) == 2 and any(w.startswith("FID of 10 clips") for w in result["warnings"])
    assert "†" in html and "not comparable with the tables" in html and "(lower is better): Fréchet" in html


def test_demo_vocodes_and_judges_both_sets(tmp_path):
    """With a vocoder the clips are also vocoded and judged as a second set (random weights: plumbing only)."""
    torch.manual_seed(0)
    kw = dict(upsample_initial_channel=16, disc_width=1 / 32)
    voc = save_checkpoint(tmp_path / "voc", HiFiGAN(**kw), {"name": "hifigan", "kwargs": kw})
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--n", "1", "--vocoder", str(voc), "--quiet"]) == 0
    result = json.loads((out / "demo.json").read_text())
    voc_set = result["vocoded"]
    assert voc_set["vocoder"] == str(voc) and voc_set["n"] == 10 and 0.0 <= voc_set["label_accuracy"] <= 1.0
    assert [c["path"] for c in voc_set["clips"]] == [f"vocoded/sample-{i:05d}.wav" for i in range(10)]
    assert all((out / c["path"]).is_file() for c in voc_set["clips"])
    html = (out / "report.html").read_text()
    assert html.count("data:audio/wav;base64,") == 20 and "vocoded (" in html and "Griffin-Lim" in html
    clips = html.split("Clips (20)")[1].split("Real clips")[0]  # each clip's row names its set
    assert clips.count("<td class='l'>Griffin-Lim</td>") == 10 and clips.count(f"<td class='l'>vocoded ({voc})") == 10
    rebuilt = tmp_path / "r.html"
    assert main(["report", str(out / "demo.json"), "--out", str(rebuilt), "--quiet"]) == 0
    assert rebuilt.read_text().count("data:audio/wav;base64,") == 20
    assert rebuilt.read_text().split("Clips (20)")[1].count("<td class='l'>Griffin-Lim</td>") == 10


def test_report_from_demo_json(demo_dir, tmp_path):
    out = tmp_path / "r.html"
    assert main(["report", str(demo_dir / "demo.json"), "--out", str(out), "--quiet"]) == 0
    html = out.read_text()
    players = 10 * (2 if "vocoded" in json.loads((demo_dir / "demo.json").read_text()) else 1)
    assert html.count("data:audio/wav;base64,") == players and "real train" in html


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


def test_a_bad_vocoder_fails_before_any_work(tmp_path, capsys):
    """`demo --vocoder nosuch` sampled every clip first and then failed; now nothing is written."""
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--vocoder", "nosuch"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("speechgen: error: nosuch: no such run, checkpoint or shipped model (shipped: ")
    assert "\n" not in err
    assert not out.exists()
    assert main(["demo", "--out", str(out), "--vocoder", "digits-default"]) == 2
    assert "holds a 'vae' model, not a vocoder" in capsys.readouterr().err and not out.exists()


def test_demo_default_reaches_the_is_minimum_and_says_what_it_does_not(tmp_path, capsys):
    """The default --n (200 clips) reaches the minimum n of IS and label accuracy; the demo prints one caveat
    line for the metrics it does not (FID, NDB/K) and its page plays a bounded number of clips."""
    from speechgen.cli.demo import DEFAULT_N, REPORT_CLIPS, _caveat
    from speechgen.cli.main import build_parser
    from speechgen.evaluation.metrics import MIN_N, comparability

    assert build_parser().parse_args(["demo"]).n == DEFAULT_N
    flags, _ = comparability(10 * DEFAULT_N, 2)
    assert flags["inception_score"] and flags["label_accuracy"] and flags["am_score"] and not flags["fid"]
    line = _caveat({"n": 10 * DEFAULT_N, "comparable": flags})
    assert line.startswith(f"caveat: {10 * DEFAULT_N} clips are too few for a comparable FID, FID-class, NDB/K")
    assert _caveat({"n": 1000, "comparable": {"fid": True}}) is None
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--n", "5", "--vocoder", "none"]) == 0
    printed = capsys.readouterr().out
    assert "caveat: 50 clips are too few for a comparable FID" in printed
    assert (out / "report.html").read_text().count("data:audio/wav;base64,") == REPORT_CLIPS
    assert len(json.loads((out / "demo.json").read_text())["clips"]) == 50 > REPORT_CLIPS
    assert MIN_N["label_accuracy"] <= 10 * DEFAULT_N
