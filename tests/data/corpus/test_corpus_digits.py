"""Tests of the spoken-digit corpus builder (speechgen.data.corpus)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechgen.cli.main import main
from speechgen.data.corpus import Voice, assign_splits, build_digits, prosody
from speechgen.data.corpus.digits import CLIP_SAMPLES, PEAK, finish
from speechgen.data.corpus.engines import EngineFailure, Synthesizer
from speechgen.data.manifest import COLUMNS, Manifest
from speechgen.errors import DataError

HAVE_ESPEAK = shutil.which("espeak-ng") is not None
HAVE_FLITE = shutil.which("flite") is not None
HAVE_FESTIVAL = shutil.which("festival") is not None
HAVE_SOX = shutil.which("sox") is not None


def _voices() -> list[Voice]:
    """The voice set of a default Debian install, without running any engine."""
    vs = [Voice("espeak-ng", f"en-us+v{i}", f"espeak-v{i}") for i in range(24)]
    vs += [Voice("flite", n, g) for n, g in [("kal", "kal"), ("kal16", "kal"), ("awb", "awb"), ("rms", "rms"),
                                            ("slt", "slt")]]
    vs += [Voice("festival", n, g) for n, g in [("kal_diphone", "kal"), ("ked_diphone", "ked"),
                                               ("cmu_us_slt_arctic_hts", "slt")]]
    return vs


def _build(out: Path, log: list[str] | None = None, **kw: object) -> Manifest:
    args: dict[str, object] = dict(variants=1, strings=0, engines=["espeak-ng"], voices=2, workers=1, seed=7,
                                   progress=False)
    args.update(kw)
    sink = log.append if log is not None else (lambda _: None)
    return build_digits(out, log=sink, **args)  # type: ignore[arg-type]


def _one_line_error(capsys: pytest.CaptureFixture[str], argv: list[str], match: str) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and err.startswith("speechgen: error:"), err
    assert re.search(match, err), err


# ------------------------------------------------------------------------------------------ no engines needed


def test_splits_hold_out_whole_groups_with_engine_balance() -> None:
    voices = _voices()
    split = assign_splits(voices)
    assert split == assign_splits(list(voices))  # deterministic
    by_split = {s: [v for v in voices if split[v.speaker] == s] for s in ("train", "valid", "test")}
    assert all(by_split.values())
    groups = {s: {v.group for v in vs} for s, vs in by_split.items()}
    assert not groups["train"] & groups["valid"] and not groups["train"] & groups["test"]
    assert not groups["valid"] & groups["test"]
    assert 2 <= len(by_split["test"]) <= 5 and 2 <= len(by_split["valid"]) <= 5
    assert len({v.engine for v in by_split["test"]}) >= 2 and len({v.engine for v in by_split["valid"]}) >= 2
    assert {v.engine for v in by_split["train"]} == {"espeak-ng", "flite", "festival"}


def test_splits_of_tiny_voice_sets() -> None:
    one = [Voice("flite", "awb", "awb")]
    assert assign_splits(one) == {"flite-awb": "train"}
    three = [Voice("espeak-ng", f"en+v{i}", f"e{i}") for i in range(3)]
    assert sorted(assign_splits(three).values()) == ["test", "train", "valid"]


def test_prosody_is_a_function_of_seed_and_clip() -> None:
    a = prosody(1, "espeak-ng-en-us+m1", "7", 3)
    assert a == prosody(1, "espeak-ng-en-us+m1", "7", 3)
    assert a != prosody(2, "espeak-ng-en-us+m1", "7", 3)
    assert a != prosody(1, "espeak-ng-en-us+m1", "7", 4)
    draws = [prosody(0, "s", str(d), k) for d in range(10) for k in range(20)]
    assert all(-3 <= p <= 3 and 0.85 <= r <= 1.2 for p, r in draws)


def test_finish_trims_centres_and_normalises() -> None:
    t = np.arange(4800) / 16000
    tone = (0.3 * np.sin(2 * np.pi * 220 * t)).astype(np.float32)
    x = np.concatenate([np.zeros(9000, np.float32), tone, np.zeros(2000, np.float32)])
    y, squeezed = finish(x, centred=True)
    assert not squeezed and y.shape == (CLIP_SAMPLES,) and y.dtype == np.float32
    assert abs(float(np.abs(y).max()) - PEAK) < 1e-6
    loud = np.flatnonzero(np.abs(y) > 0.01)
    assert abs((loud[0] + loud[-1]) / 2 - CLIP_SAMPLES / 2) < 200
    s, _ = finish(x, centred=False)
    assert 4800 <= len(s) <= 4800 + 6 * 160  # 20 ms kept each side, rounded out to 10 ms frames
    with pytest.raises(EngineFailure):
        finish(np.zeros(16000, np.float32), centred=True)


@pytest.mark.skipif(not HAVE_SOX, reason="sox not installed")
def test_finish_time_compresses_long_speech() -> None:
    t = np.arange(24000) / 16000
    y, squeezed = finish((0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32), centred=True)
    assert squeezed and y.shape == (CLIP_SAMPLES,)
    assert abs(y[:300]).max() == 0 and abs(y[-300:]).max() == 0


def test_cli_rejects_bad_options(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    base = ["--quiet", "corpus", "digits", "--out", str(tmp_path / "c")]
    _one_line_error(capsys, base + ["--engines", "bogus"], r"unknown engine 'bogus'")
    _one_line_error(capsys, base + ["--variants", "0"], r"--variants must be at least 1")
    _one_line_error(capsys, base + ["--strings", "-1"], r"--strings")


def test_cli_without_any_engine(capsys: pytest.CaptureFixture[str], tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    _one_line_error(capsys, ["--quiet", "corpus", "digits", "--out", str(tmp_path / "c")],
                    r"no speech engine found; apt-get install -y espeak-ng")


# ------------------------------------------------------------------------------------------- engines needed


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    """A small build: espeak-ng and flite, 6 voices x 10 digits x 1 variant + 3 strings, 2 workers."""
    if not (HAVE_ESPEAK and HAVE_FLITE and HAVE_SOX):
        pytest.skip("espeak-ng, flite and sox not installed")
    return _build(tmp_path_factory.mktemp("digits"), engines=["espeak-ng", "flite"], voices=6, strings=3,
                  workers=2)


@pytest.mark.engines
def test_manifest_rows(corpus: Manifest) -> None:
    again = Manifest.read(corpus.root)
    assert set(COLUMNS) <= set(again.columns)
    assert {"voice", "group", "variant", "pitch", "rate"} <= set(again.columns)
    assert len(again) == 63
    digits, strings = again.select(labelled=True), again.select(labelled=False)
    assert sorted(again.counts("engine")) == ["espeak-ng", "flite"]
    assert len(digits) == 60 and len(strings) == 3
    for r in digits:
        assert not Path(str(r["path"])).is_absolute() and r["text"] == str(r["label"])
        assert r["duration"] == 1.0 and r["sample_rate"] == 16000
    for r in strings:
        assert r["label"] is None and re.fullmatch(r"\d( \d){1,5}", str(r["text"]))


@pytest.mark.engines
def test_wavs_are_16k_mono_one_second_peak_normalised(corpus: Manifest) -> None:
    for r in corpus:
        path = corpus.resolve(r)
        i = sf.info(str(path))
        assert (i.samplerate, i.channels) == (16000, 1)
        x, _ = sf.read(str(path), dtype="float32")
        assert abs(float(np.abs(x).max()) - PEAK) < 2e-3, path
        if r["label"] is not None:
            assert len(x) == CLIP_SAMPLES
            assert np.abs(x[:80]).max() < 1e-3 and np.abs(x[-80:]).max() < 1e-3  # centred: silent edges
        else:
            assert abs(len(x) / 16000 - float(r["duration"])) < 1e-3  # type: ignore[arg-type]
    assert not list(corpus.root.rglob("*.part")) and not (corpus.root / ".work").exists()


@pytest.mark.engines
def test_splits_are_speaker_disjoint(corpus: Manifest) -> None:
    speakers = {s: set(corpus.select(s).counts("speaker")) for s in ("train", "valid", "test")}
    groups = {s: set(corpus.select(s).counts("group")) for s in ("train", "valid", "test")}
    assert all(speakers.values())
    assert not speakers["train"] & (speakers["valid"] | speakers["test"])
    assert not groups["train"] & (groups["valid"] | groups["test"])


@pytest.mark.engines
def test_same_seed_gives_identical_files(corpus: Manifest, tmp_path: Path) -> None:
    again = _build(tmp_path, engines=["espeak-ng", "flite"], voices=6, strings=3, workers=1)
    assert (tmp_path / "manifest.csv").read_bytes() == (corpus.root / "manifest.csv").read_bytes()
    for r in again:
        assert (tmp_path / str(r["path"])).read_bytes() == (corpus.root / str(r["path"])).read_bytes()


@pytest.mark.engines
@pytest.mark.skipif(not (HAVE_ESPEAK and HAVE_SOX), reason="espeak-ng and sox not installed")
def test_resume_rebuilds_only_missing_clips(tmp_path: Path) -> None:
    first = _build(tmp_path)
    files = sorted(tmp_path.rglob("*.wav"))
    assert len(files) == len(first) == 20
    stamps = {p: p.stat().st_mtime_ns for p in files}
    victim = files[5]
    original = victim.read_bytes()
    victim.unlink()
    leftover = victim.parent / f".{victim.name}.abc123.wav.part"
    leftover.write_bytes(b"half a file")
    log: list[str] = []
    second = _build(tmp_path, log=log)
    assert any("1 to synthesise" in line for line in log), log
    assert not leftover.exists() and victim.read_bytes() == original
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items() if p != victim)
    assert second.to_csv() == first.to_csv()
    with pytest.raises(DataError, match="--seed 7"):
        _build(tmp_path, seed=8)


@pytest.mark.engines
@pytest.mark.skipif(not (HAVE_ESPEAK and HAVE_SOX), reason="espeak-ng and sox not installed")
def test_failed_synthesis_is_retried_then_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    real = Synthesizer.say
    calls: list[str] = []

    def flaky(self: Synthesizer, voice: Voice, words: str, **kw: float) -> np.ndarray:
        if words == "four":
            calls.append(words)
            raise EngineFailure("engine crashed")
        return real(self, voice, words, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Synthesizer, "say", flaky)
    log: list[str] = []
    m = _build(tmp_path, voices=1, log=log)
    assert len(m) == 9 and 4 not in {r["label"] for r in m} and len(calls) == 3
    assert any("1 clip(s) failed after 3 attempts" in line and "engine crashed" in line for line in log), log


@pytest.mark.engines
@pytest.mark.skipif(not (HAVE_FESTIVAL and HAVE_SOX), reason="festival and sox not installed")
def test_festival_voices_share_one_process(tmp_path: Path) -> None:
    m = _build(tmp_path, engines=["festival"], voices=3, strings=1, workers=1)
    assert len(m.counts("speaker")) == 3 and len(m) == 31
    for r in m.select(labelled=True):
        x, sr = sf.read(str(m.resolve(r)), dtype="float32")
        assert sr == 16000 and len(x) == CLIP_SAMPLES and abs(float(np.abs(x).max()) - PEAK) < 2e-3


@pytest.mark.engines
@pytest.mark.skipif(not (HAVE_ESPEAK and HAVE_SOX), reason="espeak-ng and sox not installed")
def test_cli_errors_needing_engines(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    _one_line_error(capsys, ["--quiet", "corpus", "digits", "--out", str(blocker / "c"), "--engines", "espeak-ng"],
                    r"cannot write|not writable|not a directory|not a folder")
    for engine in ("pico2wave", "mbrola", "rhvoice"):
        if not any(shutil.which(p) for p in {"pico2wave": ["pico2wave"], "mbrola": ["mbrola"],
                                              "rhvoice": ["RHVoice-test"]}[engine]):
            _one_line_error(capsys, ["--quiet", "corpus", "digits", "--out", str(tmp_path / "c"), "--engines",
                                     engine], rf"{engine} not installed.*apt-get install -y")
            break


def test_accented_voices_respell_digits_and_are_built_only_when_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from speechgen.data.corpus import digits as D
    from speechgen.data.corpus import engines as E
    assert E.respell("four two zero", "italian") == "for tu ziro"
    assert E.respell("five", "czech") == "fajf"
    assert all(len(set(v)) == 10 and all(w.isascii() and w.isalpha() for w in v) for v in E.ACCENTED.values())
    with pytest.raises(EngineFailure, match="only digit words, not 'hello'"):
        E.respell("four hello", "finnish")
    assert not E.ENGINES["accented"].default and E.ENGINES["accented"].digits_only
    asked: list[list[str]] = []
    monkeypatch.setattr(D, "discover", lambda names: asked.append(list(names)) or {n: [] for n in names})
    with pytest.raises(Exception, match="no speech engine found"):
        D.resolve_engines(None)
    assert "accented" not in asked[0] and "festival" in asked[0]
    voices = [Voice("espeak-ng", f"en-us+v{i}", f"g{i}") for i in range(3)] + [
        Voice("accented", "lp_diphone", "lp", language="italian")]
    clips = D.plan(voices, 1, 4, seed=0, words=3)
    assert sum(c.kind in ("word", "sentence") for c in clips) == 3 * 3
    assert sum(c.voice.engine == "accented" and c.kind == "digit" for c in clips) == 10


@pytest.mark.engines
@pytest.mark.skipif(not (HAVE_FESTIVAL and HAVE_SOX), reason="festival and sox not installed")
def test_an_accented_voice_speaks_a_digit(tmp_path: Path) -> None:
    from speechgen.data.corpus.engines import discover
    voices = discover(["accented"])["accented"]
    if not voices:
        pytest.skip("no accented festival voice installed")
    synth = Synthesizer(tmp_path)
    try:
        x = synth.say(voices[0], "four two", pitch=0.0, rate=1.0)
        assert x.dtype == np.float32 and 0.3 * 16000 < len(x) < 3 * 16000 and float(np.abs(x).max()) > 0.05
        with pytest.raises(EngineFailure, match="only digit words"):
            synth.say(voices[0], "hello", pitch=0.0, rate=1.0)
    finally:
        synth.close()
