"""``speechgen eval``: JSON keys (unconditional, conditional, --reference) and one-line errors."""

import json

import numpy as np
import pytest
import soundfile as sf

from speechgen.audio import io as audio_io
from speechgen.cli.main import main
from speechgen.data.manifest import Manifest, make_row

KEYS = {"n", "inception_score", "fid", "modified_inception_score", "log_modified_inception_score", "am_score", "ndb_over_k", "reference",
        "classifier_version"}


def _write(folder, n, seed=0, labelled=False, split="train"):
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        x = (0.2 * rng.standard_normal(16000) * np.hanning(16000)).astype(np.float32)
        audio_io.save(folder / f"c{i:03d}.wav", x, 16000)
        rows.append(make_row(f"c{i:03d}.wav", label=i % 2 if labelled else None, text="", speaker=f"s{i % 3}",
                             engine="noise", split=split, duration=1.0, sample_rate=16000))
    return rows


def _one_line_error(capsys, needle):
    err = capsys.readouterr().err.strip()
    assert err.startswith("speechgen: error:") and needle in err and "\n" not in err


def test_unconditional_folder(tmp_path):
    _write(tmp_path, 12)
    out = tmp_path / "r.json"
    assert main(["eval", str(tmp_path), "--json", str(out), "--splits", "2", "--quiet"]) == 0
    r = json.loads(out.read_text())
    assert KEYS <= set(r) and r["n"] == 12 and not r["conditional"] and "label_accuracy" not in r
    assert set(r["inception_score"]) == {"mean", "std"} and set(r["reference"]) == {"train", "test"}
    assert KEYS - {"reference", "classifier_version"} <= set(r["reference"]["test"])


def test_conditional_manifest_and_reference(tmp_path):
    gen, ref = tmp_path / "gen", tmp_path / "ref"
    gen.mkdir(), ref.mkdir()
    Manifest(gen, _write(gen, 12, labelled=True)).write()
    Manifest(ref, _write(ref, 60, seed=1, labelled=True) + [
        dict(r, path=f"t{i}.wav") for i, r in enumerate(_write(ref, 0))]).write()
    out = tmp_path / "r.json"
    assert main(["eval", str(gen / "manifest.csv"), "--reference", str(ref), "--json", str(out),
                 "--splits", "2", "--quiet"]) == 0
    r = json.loads(out.read_text())
    assert r["conditional"] and 0.0 <= r["label_accuracy"] <= 1.0
    assert set(r["fid_class"]) == {"mean", "std"} and set(r["reference"]) == {"train"}
    assert r["reference"]["train"]["fid"] < 1e-6


@pytest.mark.parametrize("case, needle", [("empty", "no audio files"), ("text", "no audio files"),
                                          ("fake", "not a readable audio file"), ("nan", "NaN"),
                                          ("few", "fewer than the 10 IS splits"), ("missing", "no such")])
def test_errors_are_one_line_exit_2(tmp_path, capsys, case, needle):
    d = tmp_path / "gen"
    d.mkdir()
    if case == "text":
        (d / "notes.txt").write_text("hello")
    if case == "fake":
        _write(d, 11)
        (d / "fake.wav").write_text("not audio")
    if case == "nan":
        _write(d, 11)
        sf.write(d / "nan.wav", np.full(16000, np.nan, dtype=np.float32), 16000, subtype="FLOAT")
    if case == "few":
        _write(d, 3)
    target = tmp_path / "none" if case == "missing" else d
    assert main(["eval", str(target), "--quiet"]) == 2
    _one_line_error(capsys, needle)


def test_any_csv_with_a_path_column(tmp_path):
    """A hand-made CSV of `path,label` (or just `path`) is enough: it was refused for lacking text, speaker, ..."""
    import json

    from speechgen import pretrained
    from speechgen.data.manifest import Manifest

    real = Manifest.read(pretrained.path("classifier") / "real")
    with_labels = tmp_path / "mine.csv"
    rows = list(real) * 2  # FID-class needs two clips per label
    with_labels.write_text("path,label\n" + "".join(f"{real.resolve(r)},{r['label']}\n" for r in rows))
    out = tmp_path / "m.json"
    assert main(["--quiet", "eval", str(with_labels), "--splits", "1", "--json", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["conditional"] is True and result["n"] == 2 * len(real) and result["label_accuracy"] >= 0.9
    paths_only = tmp_path / "paths.csv"
    paths_only.write_text("path\n" + "".join(f"{real.resolve(r)}\n" for r in real))
    assert main(["--quiet", "eval", str(paths_only), "--splits", "1", "--json", str(out)]) == 0
    assert json.loads(out.read_text())["conditional"] is False
    assert main(["--quiet", "classify", "--manifest", str(with_labels), "--json", str(out)]) == 0  # accuracy
    assert json.loads(out.read_text())["accuracy"] >= 0.9


def test_small_n_is_flagged_in_table_and_json(tmp_path, capsys, monkeypatch):
    """20 real clips: every metric printed, but FID, NDB/K, ... marked † with a footnote in the table, and
    ``comparable`` / ``warnings`` / ``fid_ci`` in the JSON; no scipy warning reaches the user."""
    import warnings

    from speechgen import pretrained
    from speechgen.evaluation.metrics import MIN_N

    monkeypatch.delenv("COLUMNS", raising=False)  # piped output: a wide table, cells not wrapped
    real = Manifest.read(pretrained.path("classifier") / "real")
    csv = tmp_path / "real.csv"
    csv.write_text("path,label\n" + "".join(f"{real.resolve(r)},{r['label']}\n" for r in list(real) * 2))
    out = tmp_path / "r.json"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert main(["eval", str(csv), "--splits", "1", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    r = json.loads(out.read_text())
    assert r["comparable"]["fid"] is False and r["comparable"]["ndb_over_k"] is False and r["is_splits"] == 1
    assert r["warnings"] and all(isinstance(w, str) and "\n" not in w for w in r["warnings"])
    assert any(w.startswith("FID of 20 clips: not comparable") for w in r["warnings"])
    lo, hi = r["fid_ci"]
    assert lo < hi
    assert f"{r['fid']:.2f} [{lo:.2f}, {hi:.2f}]†" in printed
    assert "† not comparable with the tables (n = 1000): 20 clips are outside" in printed
    assert f"FID {MIN_N['fid']}" in printed and f"IS {MIN_N['inception_score']} (100 per split)" in printed


def test_not_digit_share(tmp_path, capsys):
    """Six shipped real digits and four clips that are no digit: eval reports the share 0.4 (key and table) and
    warns once about the clips that are not about one second long; the metrics read the same features."""
    from pathlib import Path

    from speechgen import pretrained

    real = Path(pretrained.path("classifier")) / "real"
    gen = tmp_path / "gen"
    gen.mkdir()
    clips = sorted(real.glob("*.flac"))[:6]
    for p in clips:
        x, _ = audio_io.load(p)
        audio_io.save(gen / f"{p.stem}.wav", x, 16000)
    long = np.concatenate([audio_io.load(clips[0])[0], np.zeros(32000, np.float32), audio_io.load(clips[1])[0]])
    audio_io.save(gen / "x-two-words.wav", long, 16000)  # two digits 2 s apart: speech spans 3 s
    audio_io.save(gen / "x-silence.wav", np.zeros(16000, np.float32), 16000)
    noise = 0.1 * np.random.default_rng(0).standard_normal(16000).astype(np.float32)
    audio_io.save(gen / "x-noise.wav", noise, 16000)
    audio_io.save(gen / "x-long-noise.wav", np.tile(noise, 5), 16000)
    out = tmp_path / "r.json"
    assert main(["eval", str(gen), "--json", str(out), "--splits", "2"]) == 0
    r = json.loads(out.read_text())
    assert r["not_digit_share"] == pytest.approx(0.4) and r["not_digit_by_rule"] == 4
    assert r["detector_version"].startswith("digit_detector-")
    printed = capsys.readouterr().out
    assert "not a digit" in printed and "0.400" in printed
    assert printed.count("2 of 10 clips are not about one second long") == 1
    assert any("not about one second" in w for w in r["warnings"])


def test_digit_strings_get_the_recognizers_metrics(tmp_path, toy_strings, capsys):
    import torch

    from speechgen.checkpoint import save_checkpoint
    from speechgen.models.ctc_recognizer import CTCRecognizer

    small = dict(n_mels=32, conv_channels=(16,), rnn_layers=1, rnn_width=16)
    torch.manual_seed(0)
    save_checkpoint(tmp_path / "rec", CTCRecognizer(**small), {"name": "ctc_recognizer", "kwargs": small})
    out = tmp_path / "r.json"
    assert main(["eval", str(toy_strings), "--recognizer", str(tmp_path / "rec"), "--json", str(out),
                 "--splits", "2"]) == 0
    r = json.loads(out.read_text())
    s = r["strings"]
    assert s["n"] == r["n"] == 24 and 0.0 <= s["string_accuracy"] <= 1.0 and s["digit_error_rate"] >= 0.0
    assert len(s["per_position_accuracy"]) == 3 and s["recognizer_version"].startswith("ctc_recognizer-")
    assert "digit strings, recognizer" in capsys.readouterr().out
    # a set whose texts are not all digit strings gets none
    _write(tmp_path / "plain", 12)
    assert main(["eval", str(tmp_path / "plain"), "--json", str(out), "--splits", "2", "--quiet"]) == 0
    assert "strings" not in json.loads(out.read_text())


def test_digit_strings_without_a_shipped_recognizer_warn(tmp_path, toy_strings, monkeypatch, capsys):
    from speechgen import pretrained

    monkeypatch.delitem(pretrained.PRETRAINED, "recognizer", raising=False)
    out = tmp_path / "r.json"
    assert main(["eval", str(toy_strings), "--json", str(out), "--splits", "2"]) == 0
    r = json.loads(out.read_text())
    assert "strings" not in r and any("ships no recognizer" in w for w in r["warnings"])
    assert "ships no recognizer" in capsys.readouterr().out
