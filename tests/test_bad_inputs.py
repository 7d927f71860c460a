"""The bad-input matrix: for every command, inputs a user gets wrong and faults of the files they point at. Each
case must end with exit code 2, exactly one line on stderr that starts ``speechgen...: error:`` and names the
problem, and nothing written where the command would have written (no ``--out``, no half-written file).

A case is ``(id, argv, fragment)``; ``{W}`` in an argument is the workspace folder of the module fixture (files
below), ``{OUT}`` a fresh path that must not exist afterwards.
"""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from speechgen.cli.main import main
from speechgen.data.manifest import COLUMNS

SR = 16000

CASES = [
    # usage errors (argparse): one line, with a pointer to --help
    ("no-command", [], "the following arguments are required: COMMAND"),
    ("unknown-command", ["nosuch"], "invalid choice: 'nosuch'"),
    ("not-an-int", ["sample", "digits-default", "--out", "{OUT}", "--n", "abc"], "argument --n: invalid int value"),
    ("missing-required", ["sample", "digits-default"], "the following arguments are required: --out"),
    ("unknown-corpus-action", ["corpus", "nosuch"], "argument ACTION: invalid choice"),
    # corpus
    ("corpus-summary-missing", ["corpus", "summary", "{W}/missing.csv"], "no such"),
    ("corpus-summary-label-12", ["corpus", "summary", "{W}/label12/manifest.csv"], "label 12 is not a digit 0..9"),
    ("corpus-summary-not-csv", ["corpus", "summary", "{W}/notes.txt"], "missing column"),
    ("corpus-import-missing", ["corpus", "import", "fsdd", "{W}/missing", "--out", "{OUT}"], "no such"),
    ("corpus-digits-bad-variants", ["corpus", "digits", "--out", "{OUT}", "--variants", "0"], "--variants"),
    ("corpus-digits-bad-engine", ["corpus", "digits", "--out", "{OUT}", "--engines", "nosuch"], "nosuch"),
    # train
    ("train-missing-recipe", ["train", "{W}/missing.yaml", "--out", "{OUT}"], "no such recipe file"),
    ("train-bad-yaml", ["train", "{W}/bad.yaml", "--out", "{OUT}"], "not valid YAML"),
    ("train-unknown-scheme", ["train", "{W}/scheme.yaml", "--out", "{OUT}"], "recipe.scheme: unknown scheme"),
    ("train-missing-base", ["train", "{W}/base.yaml", "--out", "{OUT}"], "base: no such recipe file"),
    ("train-bad-override", ["train", "{W}/tiny.yaml", "--out", "{OUT}", "--set", "data.batch_size=-1"],
     "recipe.data.batch_size"),
    ("train-bad-set-syntax", ["train", "{W}/tiny.yaml", "--out", "{OUT}", "--set", "nonsense"], "expected KEY=VALUE"),
    ("train-zero-steps", ["train", "{W}/tiny.yaml", "--out", "{OUT}", "--max-steps", "0"], "--max-steps"),
    ("train-missing-manifest", ["train", "{W}/tiny.yaml", "--out", "{OUT}", "--set",
                                "data.manifest={W}/missing.csv"], "missing.csv"),
    ("train-resume-nothing", ["train", "--out", "{W}/emptyrun", "--resume"], "nothing to resume"),
    ("train-zero-devices", ["train", "{W}/tiny.yaml", "--out", "{OUT}", "--devices", "0"], "--devices"),
    ("train-bad-seed", ["train", "{W}/tiny.yaml", "--out", "{OUT}", "--seed", "-1"], "--seed"),
    # sample
    ("sample-missing-model", ["sample", "{W}/missing", "--out", "{OUT}"], "no such run, checkpoint or shipped model"),
    ("sample-a-classifier", ["sample", "classifier", "--out", "{OUT}"], "not a generative model"),
    ("sample-a-vocoder", ["sample", "default", "--out", "{OUT}"], "not a generative model"),
    ("sample-label-12", ["sample", "digits-default", "--out", "{OUT}", "--label", "12"], "--label"),
    ("sample-n-0", ["sample", "digits-default", "--out", "{OUT}", "--n", "0"], "--n"),
    ("sample-n-huge", ["sample", "digits-default", "--out", "{OUT}", "--n", "10000000"], "--n: must be in 1..100000"),
    ("sample-bad-seed", ["sample", "digits-default", "--out", "{OUT}", "--seed", "99999999999"], "--seed"),
    ("sample-edited-checkpoint", ["sample", "{W}/edited", "--out", "{OUT}"], "weights do not fit model 'vae'"),
    ("sample-empty-folder", ["sample", "{W}/emptydir", "--out", "{OUT}"], "holds no checkpoint"),
    # vocode
    ("vocode-missing-input", ["vocode", "default", "--in", "{W}/missing.wav", "--out", "{OUT}"], "no such file"),
    ("vocode-not-audio", ["vocode", "default", "--in", "{W}/notes.txt", "--out", "{OUT}"], "not an audio file"),
    ("vocode-empty-wav", ["vocode", "default", "--in", "{W}/empty.wav", "--out", "{OUT}"], "empty"),
    ("vocode-garbage-wav", ["vocode", "default", "--in", "{W}/garbage.wav", "--out", "{OUT}"],
     "not a readable audio file"),
    ("vocode-too-short", ["vocode", "default", "--in", "{W}/short.wav", "--out", "{OUT}"], "too short"),
    ("vocode-silent", ["vocode", "default", "--in", "{W}/silent.wav", "--out", "{OUT}"], "silent"),
    ("vocode-bad-npy", ["vocode", "default", "--in", "{W}/bad.npy", "--out", "{OUT}"], "expected a log-mel"),
    ("vocode-no-audio-in-folder", ["vocode", "default", "--in", "{W}/emptydir", "--out", "{OUT}"],
     "no audio files"),
    ("vocode-a-generator", ["vocode", "digits-default", "--in", "{W}/tone.wav", "--out", "{OUT}"],
     "holds a 'vae' model, not a vocoder"),
    ("vocode-chunk-0", ["vocode", "default", "--in", "{W}/tone.wav", "--out", "{OUT}", "--chunk-frames", "0"],
     "--chunk-frames"),
    ("vocode-folder-with-a-bad-file", ["vocode", "default", "--in", "{W}/mixed", "--out", "{OUT}"],
     "not a readable audio file"),
    # tts
    ("tts-bad-text", ["tts", "{W}/missing", "--text", "four fore", "--out", "{OUT}"], "cannot speak 'fore'"),
    ("tts-no-text", ["tts", "{W}/missing", "--out", "{OUT}"], "give --text TEXT (repeatable), --text-file FILE or --manifest"),
    ("tts-missing-model", ["tts", "{W}/missing", "--text", "4 2", "--out", "{OUT}"],
     "no such run, checkpoint or shipped model"),
    ("tts-a-vocoder", ["tts", "default", "--text", "4 2", "--out", "{OUT}"], "not a text-to-speech model"),
    ("tts-missing-text-file", ["tts", "default", "--text-file", "{W}/missing.txt", "--out", "{OUT}"],
     "missing.txt: cannot read"),
    # transform
    ("transform-a-vocoder", ["transform", "default", "--input", "{W}/tone.wav", "--out", "{OUT}"],
     "not an auto-encoder"),
    ("transform-missing-input", ["transform", "digits-default", "--input", "{W}/missing.wav", "--out", "{OUT}",
                                 "--label", "3"], "missing.wav"),
    ("transform-not-audio", ["transform", "digits-default", "--input", "{W}/notes.txt", "--out", "{OUT}",
                             "--label", "3"], "not a readable audio file"),
    ("transform-interpolate-one", ["transform", "digits-default", "--input", "{W}/tone.wav", "--out", "{OUT}",
                                   "--mode", "interpolate", "--label", "3"], "interpolate"),
    # eval
    ("eval-missing", ["eval", "{W}/missing"], "no such file or folder"),
    ("eval-not-audio", ["eval", "{W}/notes.txt"], "not a readable audio file"),
    ("eval-empty-folder", ["eval", "{W}/emptydir"], "no audio files"),
    ("eval-label-12", ["eval", "{W}/label12/manifest.csv"], "label 12 is not a digit 0..9"),
    ("eval-bad-json-target", ["eval", "{W}/two", "--splits", "1", "--json", "{W}/notes.txt/x.json"],
     "--json {W}/notes.txt/x.json: {W}/notes.txt is a file, not a folder"),
    ("sample-out-is-a-file", ["sample", "digits-default", "--out", "{W}/notes.txt"], "is a file, expected a folder"),
    ("report-out-is-a-folder", ["report", "{W}/two", "--out", "{W}/emptydir"], "is a folder, expected a file"),
    ("compare-html-under-a-file", ["compare", "{W}/tone.wav", "{W}/tone.wav", "--html", "{W}/notes.txt/p.html"],
     "is a file, not a folder"),
    # classify
    ("classify-missing", ["classify", "{W}/missing.wav"], "no such file or folder"),
    ("classify-not-audio", ["classify", "{W}/notes.txt"], "not a readable audio file"),
    ("classify-label-12", ["classify", "--manifest", "{W}/label12/manifest.csv"], "label 12 is not a digit"),
    ("classify-a-generator", ["classify", "{W}/tone.wav", "--classifier", "digits-default"], "digits-default"),
    # transcribe
    ("transcribe-missing", ["transcribe", "{W}/missing.wav"], "no such file or folder"),
    ("transcribe-not-audio", ["transcribe", "{W}/notes.txt"], "not a readable audio file"),
    ("transcribe-a-classifier", ["transcribe", "{W}/tone.wav", "--model", "classifier"],
     "not a digit-string recognizer"),
    ("transcribe-batch-0", ["transcribe", "{W}/tone.wav", "--batch-size", "0"], "--batch-size"),
    ("transcribe-json-under-a-file", ["transcribe", "{W}/tone.wav", "--json", "{W}/notes.txt/r.json"],
     "is a file, not a folder"),
    # separate
    ("separate-missing", ["separate", "classifier", "--in", "{W}/missing.wav", "--out", "{OUT}"],
     "no such file or folder"),
    ("separate-not-audio", ["separate", "classifier", "--in", "{W}/notes.txt", "--out", "{OUT}"],
     "not a readable audio file"),
    ("separate-a-classifier", ["separate", "classifier", "--in", "{W}/tone.wav", "--out", "{OUT}"], "separat"),
    ("separate-no-out", ["separate", "classifier", "--in", "{W}/tone.wav"], "give --in MIX_OR_DIR --out DIR"),
    ("separate-bad-window", ["separate", "classifier", "--in", "{W}/tone.wav", "--out", "{OUT}", "--window", "0"],
     "--window/--overlap"),
    ("corpus-mixtures-label-12", ["corpus", "mixtures", "--from", "{W}/label12/manifest.csv", "--out", "{OUT}"],
     "label 12 is not a digit"),
    ("corpus-mixtures-6-voices", ["corpus", "mixtures", "--from", "{W}/missing.csv", "--speakers", "6", "--out",
                                  "{OUT}"], "--speakers: expected source counts in 1..5"),
    # compare
    ("compare-missing", ["compare", "{W}/tone.wav", "{W}/missing.wav"], "missing.wav"),
    ("compare-not-audio", ["compare", "{W}/notes.txt", "{W}/tone.wav"], "not a readable audio file"),
    ("compare-10-samples", ["compare", "{W}/tone.wav", "{W}/short.wav"], "too different to compare"),
    ("compare-file-and-folder", ["compare", "{W}/tone.wav", "{W}/emptydir"], "emptydir"),
    # bench
    ("bench-vocoder-threads-0", ["bench", "vocoder", "--threads", "0"], "--threads"),
    ("bench-vocoder-unknown", ["bench", "vocoder", "--only", "nosuch"], "nosuch"),
    ("bench-features-clips-0", ["bench", "features", "--clips", "0"], "--clips"),
    ("bench-wavenet-repeats-0", ["bench", "wavenet", "--repeats", "0"], "--repeats"),
    ("bench-features-too-short", ["bench", "features", "--seconds", "0.01"], "--seconds"),
    # export
    ("export-a-generator", ["export", "digits-default", "--out", "{OUT}"], "not a vocoder"),
    ("export-missing", ["export", "{W}/missing", "--out", "{OUT}"], "no such run"),
    # report
    ("report-missing", ["report", "{W}/missing", "--out", "{OUT}"], "missing"),
    ("report-not-json", ["report", "{W}/notes.txt", "--out", "{OUT}"], "notes.txt"),
    # demo
    ("demo-n-0", ["demo", "--out", "{OUT}", "--n", "0"], "--n"),
    ("demo-bad-vocoder", ["demo", "--out", "{OUT}", "--vocoder", "nosuch"], "nosuch"),
    # models / info
    ("models-unwritable-json", ["models", "--json", "{W}/notes.txt/models.json"], "notes.txt"),
    ("info-missing", ["info", "{W}/missing"], "no such run, checkpoint or shipped model"),
    ("info-not-a-checkpoint", ["info", "{W}/fakeckpt"], "not a speechgen checkpoint config"),
    # serve (all refused before listening)
    ("serve-bad-port", ["serve", "--port", "70000"], "--port"),
    ("serve-missing-model", ["serve", "--model", "{W}/missing"], "missing"),
    ("serve-generator-as-vocoder", ["serve", "--vocoder", "{W}/dd"], "not a vocoder"),
    ("serve-generator-as-separator", ["serve", "--separator", "{W}/dd"], "not a separator"),
    ("serve-counter-alone", ["serve", "--counter", "{W}/dd"], "--counter"),
    ("serve-zero-upload", ["serve", "--max-upload-mb", "0"], "--max-upload-mb"),
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    import shutil

    import yaml

    from speechgen import pretrained

    w = tmp_path_factory.mktemp("bad-inputs")
    t = np.arange(SR) / SR
    sf.write(w / "tone.wav", (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32), SR)
    sf.write(w / "short.wav", np.full(10, 0.1, dtype=np.float32), SR)
    sf.write(w / "silent.wav", np.zeros(SR, dtype=np.float32), SR)
    (w / "empty.wav").write_bytes(b"")
    (w / "garbage.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 20)
    (w / "notes.txt").write_text("not audio\n")
    np.save(w / "bad.npy", np.zeros((3, 4, 5), dtype=np.float32))
    for d in ("emptydir", "emptyrun", "mixed", "label12", "two"):
        (w / d).mkdir()
    shutil.copy(w / "tone.wav", w / "two" / "a.wav")
    shutil.copy(w / "tone.wav", w / "two" / "b.wav")
    shutil.copy(w / "tone.wav", w / "mixed" / "a.wav")
    (w / "mixed" / "b.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 20)
    sf.write(w / "label12" / "a.wav", np.zeros(SR, dtype=np.float32), SR)
    (w / "label12" / "manifest.csv").write_text(",".join(COLUMNS) + "\na.wav,12,t,s,e,test,1.0,16000\n")
    (w / "bad.yaml").write_text("scheme: [unclosed\n")
    (w / "scheme.yaml").write_text("scheme: nope\nmodel: {name: vae}\n")
    (w / "base.yaml").write_text("base: missing-base.yaml\n")
    root = __import__("pathlib").Path(__file__).resolve().parents[1]
    from speechgen.recipe_files import read_yaml

    tiny = read_yaml(root / "recipes" / "classifier" / "classifier-tiny.yaml")  # its base resolved
    (w / "tiny.yaml").write_text(yaml.safe_dump(dict(tiny, data=dict(tiny["data"], manifest=str(w / "two")))))
    (w / "fakeckpt").mkdir()
    (w / "fakeckpt" / "config.yaml").write_text("format: other\n")
    (w / "fakeckpt" / "model.safetensors").write_bytes(b"")
    shutil.copytree(pretrained.path("digits-default"), w / "dd")
    shutil.copytree(pretrained.path("digits-default"), w / "edited")
    cfg = yaml.safe_load((w / "edited" / "config.yaml").read_text())
    cfg["model"]["kwargs"]["hidden"] = 10**7  # would build a 3-GB layer
    (w / "edited" / "config.yaml").write_text(yaml.safe_dump(cfg))
    return w


def _snapshot(w):
    return sorted(str(p.relative_to(w)) for p in w.rglob("*"))


@pytest.mark.parametrize("argv, fragment", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_writes_nothing(workspace, tmp_path, capsys, argv, fragment):
    out = tmp_path / "out"
    args = [a.replace("{W}", str(workspace)).replace("{OUT}", str(out)) for a in argv]
    before = _snapshot(workspace)
    usage = _is_usage_error(args)
    capsys.readouterr()
    if usage:  # argparse's own errors exit from the parser
        with pytest.raises(SystemExit) as ctx:
            main(args)
        code = ctx.value.code
    else:
        code = main(args)
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("speechgen") and ": error: " in err, err
    assert fragment.replace("{W}", str(workspace)) in err, err
    assert not out.exists(), f"{out} was written"
    assert _snapshot(workspace) == before, "the command wrote into the workspace"


def _is_usage_error(args: list[str]) -> bool:
    from speechgen.cli.main import build_parser

    try:
        build_parser().parse_args(args)
    except SystemExit:
        return True
    return False


def test_every_command_is_in_the_matrix():
    from speechgen.cli.main import COMMAND_GROUPS, build_parser

    sub = next(a for a in build_parser()._actions if a.dest == "command")
    tested = {c[1][0] for c in CASES if c[1]}
    assert set(sub.choices) <= tested, set(sub.choices) - tested
    assert len(COMMAND_GROUPS) == len(sub.choices)
