"""sc09 and speechcommands readers on a tiny Speech Commands tree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from speechgen.data.manifest import Manifest
from speechgen.data.readers import import_corpus
from speechgen.data.readers.sc09 import read_sc09
from speechgen.data.readers.speechcommands import read_speechcommands
from speechgen.errors import DataError

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
EXPECTED_SPLIT = {"aaaa1111": "train", "bbbb2222": "valid", "cccc3333": "test"}


def test_sc09_digits_only_with_official_splits(speech_commands: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    m = read_sc09(speech_commands, out)
    assert len(m) == 10 * 3 + 1  # three speakers per digit + a second take of "zero"
    assert {r["text"] for r in m} == set(DIGITS)
    for r in m:
        assert r["label"] == DIGITS.index(str(r["text"]))
        assert r["split"] == EXPECTED_SPLIT[str(r["speaker"])]
        assert r["engine"] == "sc09"
        assert r["sample_rate"] == 16000 and r["duration"] == pytest.approx(0.1)
        assert not Path(str(r["path"])).is_absolute()
        assert m.resolve(r).resolve() == (speech_commands / str(r["text"]) / Path(str(r["path"])).name).resolve()
    assert sorted(r["take"] for r in m if r["text"] == "zero") == [0, 0, 0, 1]


def test_sc09_manifest_round_trips(speech_commands: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    m = import_corpus("sc09", speech_commands, out, progress=False)
    back = Manifest.read(out)
    assert len(back) == len(m)
    for a, b in zip(m, back):
        for key in ("path", "label", "text", "speaker", "engine", "split", "sample_rate"):
            assert a[key] == b[key]
        assert b["duration"] == pytest.approx(a["duration"], abs=1e-4)
        assert back.resolve(b).is_file()


def test_speechcommands_all_words_without_background_noise(speech_commands: Path, tmp_path: Path) -> None:
    m = read_speechcommands(speech_commands, tmp_path / "out")
    assert len(m) == 11 * 3 + 1
    yes = [r for r in m if r["text"] == "yes"]
    assert len(yes) == 3 and all(r["label"] is None for r in yes)
    assert {r["split"] for r in yes} == {"train", "valid", "test"}
    assert not any("_background_noise_" in str(r["path"]) for r in m)
    assert {r["engine"] for r in m} == {"speechcommands"}


def test_sc09_wavegan_archive_layout(tmp_path: Path, wav_writer) -> None:
    src = tmp_path / "sc09"
    for split, spk in (("train", "aaaa1111"), ("valid", "bbbb2222"), ("test", "cccc3333")):
        for word in ("Zero", "Nine"):
            wav_writer(src / split / f"{word}_{spk}_nohash_0.wav", 1600, 16000)
    m = read_sc09(src, tmp_path / "out")
    assert len(m) == 6
    for r in m:
        assert r["split"] == EXPECTED_SPLIT[str(r["speaker"])]
        assert (r["text"], r["label"]) in {("zero", 0), ("nine", 9)}


def test_sc09_rejects_bad_layouts(speech_commands: Path, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "yes").mkdir(parents=True)
    with pytest.raises(DataError, match="no digit folders"):
        read_sc09(empty, tmp_path / "o1")
    shutil.rmtree(speech_commands / "five")
    with pytest.raises(DataError, match="lacks digit folder.*five"):
        read_sc09(speech_commands, tmp_path / "o2")
    with pytest.raises(DataError, match="no such corpus folder"):
        read_sc09(tmp_path / "missing", tmp_path / "o3")


def test_speechcommands_requires_list_files(speech_commands: Path, tmp_path: Path) -> None:
    (speech_commands / "testing_list.txt").unlink()
    with pytest.raises(DataError, match="testing_list.txt"):
        read_speechcommands(speech_commands, tmp_path / "out")


def test_corrupt_wav_fails_naming_the_file(speech_commands: Path, tmp_path: Path) -> None:
    bad = speech_commands / "three" / "dddd4444_nohash_0.wav"
    bad.write_bytes(b"this is not a wav file at all")
    with pytest.raises(DataError) as err:
        read_sc09(speech_commands, tmp_path / "out")
    assert str(bad) in str(err.value) and "\n" not in str(err.value)


def test_badly_named_file_fails(speech_commands: Path, tmp_path: Path, wav_writer) -> None:
    wav_writer(speech_commands / "three" / "recording.wav", 160, 16000)
    with pytest.raises(DataError, match="recording.wav.*HASH_nohash_N"):
        read_sc09(speech_commands, tmp_path / "out")
