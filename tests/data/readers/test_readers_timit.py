"""TIMIT reader, phone folding and per-frame labels."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from speechgen.audio.io import load
from speechgen.data.readers.timit import (
    CORE_TEST_SPEAKERS, FOLD_48_TO_39, FOLD_61_TO_48, PHONES_39, PHONES_48, PHONES_61, Segment, fold,
    frame_labels, read_phn, read_timit,
)
from speechgen.errors import ConfigError, DataError

ALIGNMENT = [(0, 800, "h#"), (800, 1600, "q"), (1600, 3200, "ix"), (3200, 4000, "pcl"), (4000, 4800, "p"),
             (4800, 5600, "h#")]


def test_timit_splits_text_and_alignment(timit: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    m = read_timit(timit, out)
    by_utt = {(r["speaker"], r["sentence"]): r for r in m}
    assert set(by_utt) == {
        ("FCJF0", "SI1027"), ("FCJF0", "SX127"), ("MARC0", "SX6"),
        ("MDAB0", "SI1039"), ("MDAB0", "SX229"), ("FPAS0", "SI1272"), ("MABC0", "SI1620"),
    }  # SA1/SA2 dropped
    split_of = {spk: r["split"] for (spk, _), r in by_utt.items()}
    assert split_of == {"FCJF0": "train", "MARC0": "train", "MDAB0": "test", "FPAS0": "test", "MABC0": "valid"}
    r = by_utt[("FCJF0", "SI1027")]
    assert r["text"] == "Sentence SI1027 of FCJF0."
    assert r["dialect"] == "DR1" and r["sex"] == "F" and r["engine"] == "timit" and r["label"] is None
    assert r["sample_rate"] == 16000 and r["duration"] == pytest.approx(5600 / 16000)
    assert (out / str(r["alignment"])).resolve() == (timit / "TRAIN" / "DR1" / "FCJF0" / "SI1027.PHN").resolve()
    assert (out / str(r["words"])).name == "SI1027.WRD"
    out.mkdir()  # the manifest folder exists once import_corpus writes it
    audio, sr = load(m.resolve(r))
    assert sr == 16000 and audio.shape == (5600,)


def test_timit_keep_sa_and_lower_case(timit_lower: Path, tmp_path: Path) -> None:
    m = read_timit(timit_lower, tmp_path / "out", keep_sa=True)
    sentences = sorted(str(r["sentence"]) for r in m)
    assert sentences.count("SA1") == 2 and sentences.count("SA2") == 2 and len(m) == 11
    assert {str(r["speaker"]) for r in m} >= {"FCJF0", "MDAB0"}
    assert {r["split"] for r in m if r["speaker"] == "MDAB0"} == {"test"}


def test_timit_bad_layouts(timit: Path, tmp_path: Path) -> None:
    (tmp_path / "nothing" / "TRAIN").mkdir(parents=True)
    with pytest.raises(DataError, match="lacks TRAIN/ and TEST/"):
        read_timit(tmp_path / "nothing", tmp_path / "out")
    phn = timit / "TEST" / "DR3" / "MABC0" / "SI1620.PHN"
    phn.unlink()
    with pytest.raises(DataError, match="SI1620.WAV: lacks its .PHN"):
        read_timit(timit, tmp_path / "out")


def test_core_test_speakers() -> None:
    assert len(CORE_TEST_SPEAKERS) == 24
    assert sum(s.startswith("F") for s in CORE_TEST_SPEAKERS) == 8


def test_folding_tables() -> None:
    assert len(PHONES_61) == len(set(PHONES_61)) == 61
    assert len(PHONES_48) == len(set(PHONES_48)) == 48
    assert len(PHONES_39) == len(set(PHONES_39)) == 39
    assert set(FOLD_61_TO_48) == set(PHONES_61)
    assert {v for v in FOLD_61_TO_48.values() if v is not None} == set(PHONES_48)
    assert [k for k, v in FOLD_61_TO_48.items() if v is None] == ["q"]
    assert set(FOLD_48_TO_39) == set(PHONES_48) and set(FOLD_48_TO_39.values()) == set(PHONES_39)
    assert len(set(fold(PHONES_61, to=39))) == 39 and len(fold(PHONES_61, to=48)) == 60


def test_fold_examples() -> None:
    assert fold(["h#", "q", "ux", "axr", "kcl", "bcl", "em", "ax-h", "h#"], to=48) == [
        "sil", "uw", "er", "cl", "vcl", "m", "ax", "sil"]
    assert fold(["ao", "ix", "el", "en", "zh", "epi", "vcl", "nx", "eng", "hv"], to=39) == [
        "aa", "ih", "l", "n", "sh", "sil", "sil", "n", "ng", "hh"]
    with pytest.raises(DataError, match="unknown TIMIT phone 'xx'"):
        fold(["xx"])
    with pytest.raises(ConfigError):
        fold(["aa"], to=61)


def test_read_phn(timit: Path) -> None:
    segs = read_phn(timit / "TRAIN" / "DR1" / "FCJF0" / "SX127.PHN")
    assert segs == [Segment(*s) for s in ALIGNMENT]
    bad = timit / "bad.PHN"
    bad.write_text("0 100 h#\n100 oops\n")
    with pytest.raises(DataError, match="bad.PHN line 2"):
        read_phn(bad)


def _names(labels: np.ndarray, phones: tuple[str, ...]) -> list[str]:
    return [phones[i] for i in labels]


def test_frame_labels_known_alignment(timit: Path) -> None:
    phn = timit / "TRAIN" / "DR1" / "FCJF0" / "SX127.PHN"
    lab = frame_labels(phn, hop_length=400)
    assert lab.dtype == np.int64 and lab.shape == (15,)  # 1 + 5600 // 400
    assert _names(lab, PHONES_48) == ["sil", "sil"] + ["ix"] * 6 + ["cl", "cl", "p", "p"] + ["sil"] * 3
    lab39 = frame_labels(ALIGNMENT, hop_length=400, phone_set=39)
    assert _names(lab39, PHONES_39) == ["sil", "sil"] + ["ih"] * 6 + ["sil", "sil", "p", "p"] + ["sil"] * 3
    lab61 = frame_labels(ALIGNMENT, hop_length=400, phone_set=61, n_frames=4)
    assert _names(lab61, PHONES_61) == ["h#", "h#", "q", "q"]
    # Same frames at 8 kHz with half the hop; extra frames past the end are silence.
    assert np.array_equal(frame_labels(ALIGNMENT, hop_length=200, sample_rate=8000), lab)
    long = frame_labels(ALIGNMENT, hop_length=400, n_frames=20)
    assert np.array_equal(long[:15], lab) and set(long[15:]) == {PHONES_48.index("sil")}


def test_frame_labels_q_at_the_end_and_errors() -> None:
    lab = frame_labels([(0, 100, "iy"), (100, 200, "q")], hop_length=100)
    assert _names(lab, PHONES_48) == ["iy", "iy", "sil"]
    with pytest.raises(ConfigError, match="hop_length"):
        frame_labels(ALIGNMENT, hop_length=0)
    with pytest.raises(ConfigError, match="phone_set"):
        frame_labels(ALIGNMENT, hop_length=160, phone_set=40)
