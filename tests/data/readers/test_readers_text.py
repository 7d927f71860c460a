"""ljspeech and folder readers."""

from __future__ import annotations

from pathlib import Path

import pytest

from speechgen.data.manifest import Manifest
from speechgen.data.readers import import_corpus
from speechgen.data.readers._common import group_splits, hash_split
from speechgen.data.readers.folder import read_folder
from speechgen.data.readers.ljspeech import read_ljspeech
from speechgen.errors import ConfigError, DataError


def test_ljspeech_text_speaker_rate(ljspeech: Path, tmp_path: Path) -> None:
    m = read_ljspeech(ljspeech, tmp_path / "out")
    assert [r["id"] for r in m] == ["LJ001-0001", "LJ001-0002", "LJ001-0003"]  # wav without a row ignored
    texts = [r["text"] for r in m]
    assert texts[0] == 'Printing, in the only sense with which we are "at present" concerned,'
    assert texts[1] == "in being comparatively modern. eighteen fifty"  # normalised column
    assert texts[2] == 'He said "no'  # two-field row: raw text, literal quote
    for r in m:
        assert r["speaker"] == "LJ" and r["label"] is None and r["engine"] == "ljspeech"
        assert r["sample_rate"] == 22050 and r["duration"] == pytest.approx(0.1)
        assert r["split"] == hash_split(str(r["id"]), 0.025, 0.025)


def test_ljspeech_quotes_survive_the_manifest(ljspeech: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    m = import_corpus("ljspeech", ljspeech, out, progress=False)
    back = Manifest.read(out)
    assert [r["text"] for r in back] == [r["text"] for r in m]


def test_hash_split_shares_and_determinism() -> None:
    ids = [f"LJ{c:03d}-{i:04d}" for c in range(1, 41) for i in range(1, 101)]
    splits = [hash_split(i, 0.025, 0.025) for i in ids]
    assert splits == [hash_split(i, 0.025, 0.025) for i in ids]
    for name in ("valid", "test"):
        assert 0.015 < splits.count(name) / len(ids) < 0.035


def test_ljspeech_bad_layouts(ljspeech: Path, tmp_path: Path) -> None:
    (ljspeech / "wavs" / "LJ001-0002.wav").unlink()
    with pytest.raises(DataError, match="LJ001-0002.wav: missing wav"):
        read_ljspeech(ljspeech, tmp_path / "out")
    (ljspeech / "metadata.csv").unlink()
    with pytest.raises(DataError, match="lacks metadata.csv"):
        read_ljspeech(ljspeech, tmp_path / "out")


def test_folder_speakers_labels_and_split(tmp_path: Path, wav_writer) -> None:
    src = tmp_path / "mine"
    wav_writer(src / "alice" / "seven" / "a.wav", 160, 16000)   # label from folder, speaker skips it
    wav_writer(src / "alice" / "3_take2.wav", 160, 16000)        # label from file-name prefix
    wav_writer(src / "alice" / "seven" / "2-x.wav", 160, 16000)  # folder and prefix disagree -> empty
    wav_writer(src / "bob" / "hello.wav", 80, 8000)              # no label
    wav_writer(src / "nine.wav", 160, 16000)                     # top level: no speaker, label from name
    (src / "bob" / "notes.txt").write_text("not audio\n")
    m = read_folder(src, tmp_path / "out")
    got = {Path(str(r["path"])).name: (r["speaker"], r["label"], r["text"]) for r in m}
    assert got == {
        "a.wav": ("alice", 7, "seven"),
        "3_take2.wav": ("alice", 3, "three"),
        "2-x.wav": ("alice", None, ""),
        "hello.wav": ("bob", None, ""),
        "nine.wav": ("", 9, "nine"),
    }
    groups = group_splits(["alice", "bob", "nine.wav"])  # three groups: one each (at least one per split)
    assert sorted(groups.values()) == ["test", "train", "valid"]
    for r in m:
        assert r["split"] == groups[str(r["speaker"]) or "nine.wav"]
        assert r["engine"] == "folder"
    assert len({r["split"] for r in m if r["speaker"] == "alice"}) == 1  # speaker-disjoint
    hello = next(r for r in m if r["speaker"] == "bob")
    assert hello["sample_rate"] == 8000 and hello["duration"] == pytest.approx(0.01)


def test_folder_speaker_options(tmp_path: Path, wav_writer) -> None:
    src = tmp_path / "mine"
    wav_writer(src / "carol" / "day1" / "x.wav", 16, 16000)
    assert [r["speaker"] for r in read_folder(src, tmp_path / "o", speaker_from="top")] == ["carol"]
    assert [r["speaker"] for r in read_folder(src, tmp_path / "o")] == ["day1"]
    assert [r["speaker"] for r in read_folder(src, tmp_path / "o", speaker_from="none")] == [""]
    with pytest.raises(ConfigError, match="speaker_from"):
        read_folder(src, tmp_path / "o", speaker_from="grandparent")


def test_folder_without_audio(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "readme.txt").write_text("x")
    with pytest.raises(DataError, match="no audio files"):
        read_folder(tmp_path / "src", tmp_path / "out")


def test_group_splits_are_exact_and_settable() -> None:
    speakers = [f"s{i}" for i in range(20)]
    got = group_splits(speakers * 3)  # repeated keys: one assignment per speaker
    assert sorted(got) == sorted(speakers)
    assert [list(got.values()).count(s) for s in ("train", "valid", "test")] == [16, 2, 2]
    wide = group_splits(speakers, valid=0.25, test=0.05)
    assert [list(wide.values()).count(s) for s in ("train", "valid", "test")] == [14, 5, 1]  # 0.05 x 20 = 1
    assert group_splits(speakers) == got  # deterministic
    assert sorted(group_splits(["a", "b"]).values()) == ["train", "train"]  # under three keys: all train (warned)
    assert list(group_splits(["a"]).values()) == ["train"]
    assert set(group_splits(speakers, valid=0.0, test=0.0).values()) == {"train"}


def test_small_flat_folder_gets_every_split(tmp_path: Path, wav_writer, capsys) -> None:
    """A flat folder of 10 clips used to land in train alone, and training then failed on the empty valid split."""
    from speechgen.cli.main import main
    from speechgen.data.manifest import Manifest

    src = tmp_path / "flat"
    for i in range(10):
        wav_writer(src / f"{i % 10}_take{i}.wav", 1600, 16000)
    assert main(["--quiet", "corpus", "import", "folder", str(src), "--out", str(tmp_path / "a")]) == 0
    m = Manifest.read(tmp_path / "a")
    assert [len(m.select(s)) for s in ("train", "valid", "test")] == [8, 1, 1]
    assert main(["--quiet", "corpus", "import", "folder", str(src), "--out", str(tmp_path / "b"),
                 "--valid-fraction", "0.3", "--test-fraction", "0"]) == 0
    assert "split(s) test of" in capsys.readouterr().err  # the empty split is named
    m = Manifest.read(tmp_path / "b")
    assert [len(m.select(s)) for s in ("train", "valid", "test")] == [7, 3, 0]
    assert main(["corpus", "import", "folder", str(src), "--out", str(tmp_path / "c"),
                 "--valid-fraction", "0.6", "--test-fraction", "0.5"]) == 2
    assert "must be < 1" in capsys.readouterr().err
