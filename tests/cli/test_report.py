"""``speechgen report`` with several inputs: one leaderboard page (eval JSONs and a run folder scored by the judge)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from speechgen.audio import io as audio_io
from speechgen.cli.main import main
from speechgen.cli.report import spread
from speechgen.data.manifest import Manifest, make_row


def _tone(f: float) -> np.ndarray:
    t = np.arange(16000) / 16000
    return (0.3 * np.sin(2 * np.pi * f * t) * (t > 0.2) * (t < 0.7)).astype(np.float32)


def _eval_json(folder: Path, model: str | None, metrics: dict) -> Path:
    clips = []
    for i, label in enumerate((0, 0, 0, 1, 1, 2)):
        audio_io.save(folder / "wav" / f"sample-{i:05d}.wav", _tone(200 + 50 * i), 16000)
        clips.append({"path": f"wav/sample-{i:05d}.wav", "label": label, "predicted": label, "probability": 0.8})
    result = {"generated": "wav", **({"model": model} if model else {}), **metrics, "clips": clips,
              "reference": {"train": {"n": 9, "fid": 0.0}, "test": {"n": 5, "fid": 1.5}}}
    path = folder / "eval.json"
    path.write_text(json.dumps(result))
    return path


def _run(folder: Path) -> Path:
    step = folder / "samples" / "step-0000020"
    rows = []
    for i, label in enumerate((1, 1, 2, 2)):
        audio_io.save(step / f"sample-{i:05d}.wav", _tone(300 + 80 * i), 16000)
        rows.append(make_row(f"sample-{i:05d}.wav", label=label, text=str(label), speaker="generated",
                             engine="speechgen", split="test", duration=1.0, sample_rate=16000))
    Manifest(step.resolve(), rows).write()
    (folder / "metrics.json").write_text(json.dumps({"train/loss": 1.0}))
    return folder


def test_leaderboard_of_evals_and_a_run(tmp_path):
    a = _eval_json(tmp_path / "a", "model-a", {"n": 1000, "fid": 5.0, "label_accuracy": 0.9})  # n: comparable
    b = _eval_json(tmp_path / "b", None, {"n": 1000, "fid": 3.0, "label_accuracy": 0.7})
    run = _run(tmp_path / "my-run")
    out = tmp_path / "board.html"
    assert main(["report", str(a), str(b), str(run), "--out", str(out), "--clips-per-entry", "3", "--quiet"]) == 0
    html = out.read_text()
    for label in ("model-a", ">eval<", "my-run"):  # the model's name, else the file's or the folder's
        assert label in html
    assert html.count("<tr class='gen'>") == 3 and html.count('src="data:image/png;base64,') == 3
    assert html.count('src="data:audio/wav;base64,') == 3 + 3 + 3
    assert "<td class='best'>3.000</td>" in html and "<td class='best'>0.900</td>" in html
    assert "real train" in html and "real test" in html
    # the run is scored by the judge from its latest samples: IS, FID, ... and the shipped real rows
    run_row = html.split("<tr class='gen'>")[3].split("</tr>")[0]
    assert "my-run" in run_row and run_row.count("<td>-</td>") <= 1  # only FID-class can be missing
    assert html.count("real train") == 2  # the eval JSONs' reference rows and the shipped ones differ
    # a few clips show several digits: labels 0, 1, 2 of the first entry
    first = html.split("id='entry-0'")[1].split("id='entry-1'")[0]
    assert [int(x.split("<td>")[1].split("<")[0]) for x in first.split("</audio></td>")[1:]] == [0, 1, 2]


def test_run_report_plays_real_clips_of_its_corpus(tmp_path, monkeypatch):
    """A run whose corpus is on disk shows that corpus's test voices (one clip per digit), else the shipped ones."""
    corpus = tmp_path / "corpus"
    rows = []
    for label in range(3):
        for voice in ("v1", "v2"):
            name = f"{voice}-{label}.wav"
            audio_io.save(corpus / name, _tone(250 + 100 * label), 16000)
            rows.append(make_row(name, label=label, text=str(label), speaker=voice, engine="x", split="test",
                                 duration=1.0, sample_rate=16000))
    Manifest(corpus.resolve(), rows).write()
    run = _run(tmp_path / "run")
    (run / "config.yaml").write_text(f"recipe:\n  data:\n    manifest: {corpus}\n")
    out = tmp_path / "r.html"
    assert main(["report", str(run), "--out", str(out), "--quiet"]) == 0
    real = out.read_text().split("Real clips (3)")[1]
    assert [x.split("</td>")[0] for x in real.split("<td class='l'>")[1::3]] == ["v1", "v2", "v1"]  # voices in turn
    assert "train/loss" in out.read_text()  # a run's own numbers are tabulated
    (run / "config.yaml").write_text("recipe:\n  data:\n    manifest: /nowhere\n")
    assert main(["report", str(run), "--out", str(out), "--quiet"]) == 0
    assert out.read_text().count("data:audio/flac;base64,") == 10  # the shipped ones


def test_leaderboard_bad_input_one_line(tmp_path, capsys):
    a = _eval_json(tmp_path / "a", "model-a", {"n": 6})
    assert main(["report", str(a), str(tmp_path / "missing.json"), "--out", str(tmp_path / "r.html")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("speechgen: error:") and "missing.json: no such run folder or eval JSON" in err
    assert "\n" not in err and not (tmp_path / "r.html").exists()
    assert main(["report", str(a), str(a), "--clips-per-entry", "-1", "--out", str(tmp_path / "r.html")]) == 2
    assert "--clips-per-entry: must be >= 0" in capsys.readouterr().err


def test_spread_takes_every_label_in_turn():
    items = list("abcdefg")
    assert spread(items, [0, 0, 0, 1, 1, 2, 2], 3) == ["a", "d", "f"]
    assert spread(items, [0, 0, 0, 1, 1, 2, 2], 5) == ["a", "b", "d", "e", "f"]
    assert spread(items, [None] * 7, 2) == ["a", "b"] and spread(items, [0] * 7, 10) == items
    assert spread(items, [0] * 7, 0) == []


def test_leaderboard_reads_demo_json_and_stars_only_ranked_rows(tmp_path):
    """`speechgen demo`'s JSON holds two judged sets (Griffin-Lim, vocoded): each gets its row (it was all "-");
    a row below a metric's minimum n, or failing the sanity check (label accuracy < 0.5), is never starred."""
    demo = tmp_path / "demo"
    clips = {"wav": [], "vocoded": []}
    for folder, group in clips.items():
        for i, label in enumerate((0, 1, 2)):
            audio_io.save(demo / folder / f"sample-{i:05d}.wav", _tone(300 + 100 * i), 16000)
            group.append({"path": f"{folder}/sample-{i:05d}.wav", "label": label, "predicted": label,
                                  "probability": 0.9})
    small = {"n": 20, "is_splits": 1, "inception_score": {"mean": 9.979, "std": 0.0}, "fid": 10.23,
             "label_accuracy": 1.0, "ndb_over_k": 0.1}  # as written before the flags: worked out from n
    (demo / "demo.json").write_text(json.dumps({
        "generated": "wav", "model": "digits-default", "conditional": True, **small, "clips": clips["wav"],
        "reference": {"test": {"n": 480, "fid": 6.01}},
        "vocoded": {"vocoder": "default", **small, "label_accuracy": 0.95, "clips": clips["vocoded"]}}))
    good = _eval_json(tmp_path / "good", "good", {"n": 1000, "is_splits": 10, "label_accuracy": 0.99, "fid": 4.04,
                                                  "inception_score": {"mean": 9.40, "std": 0.14}})
    other = _eval_json(tmp_path / "other", "other", {"n": 1000, "is_splits": 10, "label_accuracy": 0.86,
                                                     "fid": 10.7, "inception_score": {"mean": 8.38, "std": 0.3}})
    junk = _eval_json(tmp_path / "junk", "junk", {"n": 1000, "is_splits": 10, "label_accuracy": 0.1, "fid": 3.0,
                                                  "inception_score": {"mean": 9.9, "std": 0.1}})
    out = tmp_path / "board.html"
    assert main(["report", str(demo / "demo.json"), str(good), str(other), str(junk), "--out", str(out),
                 "--clips-per-entry", "2", "--quiet"]) == 0
    html = out.read_text()
    rows = {r.split("</a>")[0].split(">")[-1]: r.split("</tr>")[0] for r in html.split("<tr class='gen'>")[1:]}
    assert set(rows) == {"digits-default, Griffin-Lim", "digits-default, vocoded (default)", "good", "other",
                         "junk"}
    gl = rows["digits-default, Griffin-Lim"]
    assert "<td>20</td>" in gl and "10.230†" in gl and "9.979 ± 0.000†" in gl and "<td>1.000</td>" in gl
    assert "<td>0.950</td>" in rows["digits-default, vocoded (default)"]
    assert "class='best'" not in gl and "class='best'" not in rows["junk"]  # n = 20 / fails the sanity check
    assert "<td class='best'>9.400 ± 0.140</td>" in rows["good"] and "<td class='best'>0.990</td>" in rows["good"]
    assert "<td class='best'>4.040</td>" in rows["good"]
    assert "Not ranked: junk: label accuracy 0.100 &lt; 0.5" in html
    # each set plays its own clips, --clips-per-entry of them
    for i in (0, 1):
        section = html.split(f"id='entry-{i}'")[1].split(f"id='entry-{i + 1}'")[0]
        assert section.count("data:audio/wav;base64,") == 2


def test_leaderboard_uses_a_runs_eval_json(tmp_path):
    """A run folder with RUN/eval.json (scripts/train_and_judge.sh: 1000 clips) is ranked on it, not re-scored
    from the handful of samples saved during training."""
    run = _run(tmp_path / "run")
    (run / "eval.json").write_text(json.dumps({"generated": "eval", "n": 1000, "is_splits": 10, "fid": 2.5,
                                               "label_accuracy": 0.97, "reference": {"test": {"n": 480}}}))
    a = _eval_json(tmp_path / "a", "model-a", {"n": 1000, "fid": 5.0, "label_accuracy": 0.9})
    out = tmp_path / "board.html"
    assert main(["report", str(a), str(run), "--out", str(out), "--quiet"]) == 0
    run_row = out.read_text().split("<tr class='gen'>")[2].split("</tr>")[0]
    assert "<td>1000</td>" in run_row and "<td class='best'>2.500</td>" in run_row
