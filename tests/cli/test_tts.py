"""``speechgen tts``: WAVs + manifest written all together, texts from --text, --text-file or --manifest, the same seed the
same audio, a warning line when the stop token never fired, and one-line refusals with exit code 2 (a text that
cannot be spoken names its token, before any loading)."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from speechgen.cli.main import main
from speechgen.data.manifest import Manifest

from ..text_speech_fixtures import tts_checkpoint, write_strings_manifest


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return tts_checkpoint(tmp_path_factory.mktemp("tts") / "never", stop_bias=-50.0)


def test_writes_wavs_and_manifest(model, tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["tts", str(model), "--text", "four two seven", "--text", "oh", "--out", str(out), "--seed", "1"]) == 0
    captured = capsys.readouterr()
    assert "2 clip(s)" in captured.out and "vocoder 'istft_vocoder'" in captured.out
    warnings = [line for line in captured.err.splitlines() if line.startswith("speechgen: warning:")]
    assert len(warnings) == 2 and "stop token never fired" in warnings[0]
    rows = Manifest.read(out).rows
    assert [(r["path"], r["text"], r["label"]) for r in rows] == [("0000.wav", "4 2 7", None), ("0001.wav", "0", 0)]
    a, sr = sf.read(out / "0000.wav")
    assert sr == 16000 and len(a) == 46 * 256 and np.abs(a).max() > 0
    again = tmp_path / "again"
    texts = tmp_path / "texts.txt"
    texts.write_text("four two seven\n\noh\n", encoding="utf-8")
    assert main(["--quiet", "tts", str(model), "--text-file", str(texts), "--out", str(again), "--seed", "1"]) == 0
    np.testing.assert_array_equal(sf.read(again / "0000.wav")[0], a)
    # a second call into the same folder replaces the first one's clips
    assert main(["--quiet", "tts", str(model), "--text", "5", "--out", str(out)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["0000.wav", "manifest.csv"]


@pytest.mark.parametrize("args, needle", [
    (["--text", "four fore two"], "cannot speak 'fore'"),
    (["--text", "4 2", "--text", "hello"], "cannot speak 'hello'"),
    (["--text", ""], "no digits to speak"),
    (["--text", "1", "--speaker", "x"], "speaks with one voice"),
    (["--text", "1", "--vocoder", "digits-default"], "not a vocoder"),
    (["--text", "1", "--max-steps", "0"], "--max-steps"),
])
def test_bad_requests_are_one_line_errors(model, tmp_path, capsys, args, needle):
    out = tmp_path / "out"
    assert main(["tts", str(model), *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("speechgen: error:") and needle in err and "\n" not in err, err
    assert not out.exists()


def test_bad_text_is_refused_before_the_model_is_looked_up(tmp_path, capsys):
    assert main(["tts", str(tmp_path / "missing"), "--text", "4 x", "--out", str(tmp_path / "o")]) == 2
    assert "cannot speak 'x'" in capsys.readouterr().err


def test_text_or_text_file_is_required(model, tmp_path, capsys):
    assert main(["tts", str(model), "--out", str(tmp_path / "o")]) == 2
    assert "give --text TEXT (repeatable), --text-file FILE or --manifest CSV" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # not both
        main(["tts", str(model), "--text", "1", "--text-file", "f", "--out", str(tmp_path / "o")])
    assert exc.value.code == 2
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n", encoding="utf-8")
    assert main(["tts", str(model), "--text-file", str(empty), "--out", str(tmp_path / "o")]) == 2
    assert "no texts" in capsys.readouterr().err


def test_manifest_rows_are_spoken_in_their_voices_with_their_reference(tmp_path, capsys):
    """--manifest: each kept row's text in the row's voice (by name), --split and --held-out select rows, and the
    output manifest names each row's clip; a one-voice model ignores the speakers."""
    from speechgen.data.text import held_out

    manifest = write_strings_manifest(tmp_path / "corpus", per=8, fraction=0.25)
    voices = tts_checkpoint(tmp_path / "voices", stop_bias=-50.0, n_speakers=2)
    rows = [r for r in Manifest.read(manifest).rows if r["split"] == "train"]
    out = tmp_path / "out"
    assert main(["--quiet", "tts", str(voices), "--manifest", str(manifest), "--split", "train", "--out", str(out)]) == 2
    assert "--speaker: 'a' is not a voice of this model" in capsys.readouterr().err  # the toy voices are a, b
    single = tts_checkpoint(tmp_path / "single", stop_bias=-50.0)
    assert main(["tts", str(single), "--manifest", str(manifest), "--split", "train", "--held-out", "0.25",
                 "--out", str(out)]) == 0
    assert "x real time" in capsys.readouterr().out
    kept = [r for r in rows if held_out(str(r["text"]), 0.25)]
    written = Manifest.read(out, lenient=True).rows
    assert 0 < len(written) == len(kept) < len(rows)
    assert [w["text"] for w in written] == [r["text"] for r in kept]
    assert [w["reference"] for w in written] == [str((manifest.parent / r["path"]).resolve()) for r in kept]
    assert {w["speaker"] for w in written} == {""}  # one voice


def test_manifest_speakers_by_name(tmp_path):
    manifest = write_strings_manifest(tmp_path / "corpus", per=4, fraction=0.25)
    named = tts_checkpoint(tmp_path / "named", stop_bias=-50.0, n_speakers=4)
    import yaml
    config = named / "config.yaml"
    data = yaml.safe_load(config.read_text())
    data["speakers"] = ["a", "b", "c", "d"]
    config.write_text(yaml.safe_dump(data))
    out = tmp_path / "out"
    assert main(["--quiet", "tts", str(named), "--manifest", str(manifest), "--out", str(out)]) == 0
    written = Manifest.read(out, lenient=True).rows
    assert [w["speaker"] for w in written] == [r["speaker"] for r in Manifest.read(manifest).rows]


@pytest.mark.parametrize("args, needle", [
    (["--text", "1", "--split", "train"], "--split and --held-out select rows of --manifest"),
    (["--manifest", "MISSING"], "MISSING"),
    (["--manifest", "CORPUS", "--held-out", "1.5"], "--held-out: expected a fraction in (0, 1)"),
    (["--manifest", "CORPUS", "--speaker", "a"], "--speaker: with --manifest each row is spoken in its own voice"),
    (["--manifest", "CORPUS", "--split", "valid", "--held-out", "0.01"], "no rows in split 'valid' with a string"),
])
def test_manifest_refusals(model, tmp_path, capsys, args, needle):
    manifest = write_strings_manifest(tmp_path / "corpus", per=4, fraction=0.25)
    args = [str(manifest) if a == "CORPUS" else str(tmp_path / a) if a == "MISSING" else a for a in args]
    assert main(["tts", str(model), *args, "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("speechgen: error:") and needle in err and "\n" not in err, err
