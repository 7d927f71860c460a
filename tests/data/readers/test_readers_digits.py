"""fsdd and audiomnist readers."""

from __future__ import annotations

from pathlib import Path

import pytest

from speechgen.data.readers.audiomnist import read_audiomnist, speaker_split
from speechgen.data.readers.fsdd import read_fsdd
from speechgen.errors import DataError

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def test_fsdd_official_split(fsdd: Path, tmp_path: Path) -> None:
    m = read_fsdd(fsdd, tmp_path / "out")
    assert len(m) == 3 * 2 * 4
    for r in m:
        assert r["split"] == ("test" if r["take"] in (0, 4) else "train")
        assert r["text"] == DIGITS[int(r["label"])]  # type: ignore[arg-type]
        assert r["speaker"] in {"jackson", "theo"}
        assert r["sample_rate"] == 8000
        assert r["duration"] == pytest.approx((400 + 100 * int(r["label"])) / 8000)  # type: ignore[arg-type]
        assert "recordings" in str(r["path"])
    assert m.counts("split") == {"train": 12, "test": 12}


def test_fsdd_flat_layout_and_bad_names(tmp_path: Path, wav_writer) -> None:
    src = tmp_path / "flat"
    wav_writer(src / "3_nicolas_12.wav", 80, 8000)
    m = read_fsdd(src, tmp_path / "out")
    assert [(r["label"], r["speaker"], r["split"]) for r in m] == [(3, "nicolas", "train")]
    wav_writer(src / "hello.wav", 80, 8000)
    with pytest.raises(DataError, match="hello.wav"):
        read_fsdd(src, tmp_path / "out")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DataError, match="no FSDD recordings"):
        read_fsdd(empty, tmp_path / "out")


def test_audiomnist_speaker_split(audiomnist: Path, tmp_path: Path) -> None:
    m = read_audiomnist(audiomnist, tmp_path / "out")
    assert len(m) == 4 * 2 * 2
    split_of = {r["speaker"]: r["split"] for r in m}
    assert split_of == {"01": "train", "05": "valid", "10": "test", "12": "train"}
    for r in m:
        assert r["sample_rate"] == 48000 and r["duration"] == pytest.approx(0.1)
        assert r["label"] in (0, 7) and r["text"] == DIGITS[int(r["label"])]  # type: ignore[arg-type]
        assert r["engine"] == "audiomnist"


def test_audiomnist_split_rule_is_48_6_6() -> None:
    splits = [speaker_split(n) for n in range(1, 61)]
    assert (splits.count("train"), splits.count("valid"), splits.count("test")) == (48, 6, 6)


def test_audiomnist_bad_layout(tmp_path: Path, wav_writer) -> None:
    (tmp_path / "src" / "notes").mkdir(parents=True)
    with pytest.raises(DataError, match="no numbered speaker folders"):
        read_audiomnist(tmp_path / "src", tmp_path / "out")
    wav_writer(tmp_path / "src" / "03" / "1_04_0.wav", 48, 48000)  # speaker in name != folder
    with pytest.raises(DataError, match="1_04_0.wav"):
        read_audiomnist(tmp_path / "src", tmp_path / "out")
