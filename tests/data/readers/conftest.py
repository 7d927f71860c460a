"""Tiny corpora in their real on-disk layouts, written by the tests themselves."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

DIGITS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def write_wav(path: Path, frames: int, rate: int) -> Path:
    """A short 16-bit mono WAV of ``frames`` samples at ``rate``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(frames) / rate
    sf.write(str(path), (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), rate, subtype="PCM_16")
    return path


def write_sphere(path: Path, frames: int, rate: int = 16000) -> Path:
    """A NIST SPHERE file as TIMIT ships it: 1024-byte ASCII header, then little-endian int16 samples."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fields = [
        "database_id -s5 TIMIT",
        f"sample_rate -i {rate}",
        f"sample_count -i {frames}",
        "sample_n_bytes -i 2",
        "channel_count -i 1",
        "sample_byte_format -s2 01",
        "sample_sig_bits -i 16",
        "sample_coding -s3 pcm",
        "end_head",
    ]
    head = ("NIST_1A\n   1024\n" + "\n".join(fields) + "\n").encode("ascii")
    head = head + b" " * (1024 - len(head))
    samples = (1000 * np.sin(np.arange(frames) / 10.0)).astype("<i2")
    path.write_bytes(head + samples.tobytes())
    return path


# --------------------------------------------------------------------------------------------------------------
# Speech Commands: speakers aaaa1111 (train), bbbb2222 (validation list), cccc3333 (testing list).
SC_SPEAKERS = {"aaaa1111": "train", "bbbb2222": "valid", "cccc3333": "test"}
SC_FRAMES = 1600  # 0.1 s at 16 kHz


def make_speech_commands(root: Path, words: tuple[str, ...] = DIGITS + ("yes",)) -> Path:
    valid, test = [], []
    for word in words:
        for spk, split in SC_SPEAKERS.items():
            takes = (0, 1) if (word == "zero" and spk == "aaaa1111") else (0,)
            for take in takes:
                write_wav(root / word / f"{spk}_nohash_{take}.wav", SC_FRAMES, 16000)
                {"valid": valid, "test": test, "train": []}[split].append(f"{word}/{spk}_nohash_{take}.wav")
    write_wav(root / "_background_noise_" / "white_noise.wav", 3200, 16000)
    (root / "validation_list.txt").write_text("\n".join(valid) + "\n")
    (root / "testing_list.txt").write_text("\n".join(test) + "\n")
    (root / "README.md").write_text("Speech Commands\n")
    return root


@pytest.fixture
def speech_commands(tmp_path: Path) -> Path:
    return make_speech_commands(tmp_path / "speech_commands_v0.02")


# --------------------------------------------------------------------------------------------------------------
FSDD_TAKES = (0, 4, 5, 9)


@pytest.fixture
def fsdd(tmp_path: Path) -> Path:
    root = tmp_path / "free-spoken-digit-dataset"
    for digit in (0, 1, 2):
        for spk in ("jackson", "theo"):
            for take in FSDD_TAKES:
                write_wav(root / "recordings" / f"{digit}_{spk}_{take}.wav", 400 + 100 * digit, 8000)
    (root / "README.md").write_text("FSDD\n")
    return root


# --------------------------------------------------------------------------------------------------------------
AM_SPEAKERS = ("01", "05", "10", "12")


@pytest.fixture
def audiomnist(tmp_path: Path) -> Path:
    root = tmp_path / "AudioMNIST"
    for spk in AM_SPEAKERS:
        for digit in (0, 7):
            for take in (0, 1):
                write_wav(root / "data" / spk / f"{digit}_{int(spk)}_{take}.wav", 4800, 48000)
    (root / "data" / "audioMNIST_meta.txt").write_text('{"01": {"gender": "male"}}\n')
    return root


# --------------------------------------------------------------------------------------------------------------
# One known alignment used by every TIMIT utterance (5600 samples = 0.35 s at 16 kHz).
TIMIT_PHN = "0 800 h#\n800 1600 q\n1600 3200 ix\n3200 4000 pcl\n4000 4800 p\n4800 5600 h#\n"
TIMIT_FRAMES = 5600
TIMIT_UTTS = {
    ("TRAIN", "DR1", "FCJF0"): ("SA1", "SI1027", "SX127"),
    ("TRAIN", "DR2", "MARC0"): ("SA2", "SX6"),
    ("TEST", "DR1", "MDAB0"): ("SA1", "SI1039", "SX229"),  # core test speaker
    ("TEST", "DR2", "FPAS0"): ("SI1272",),  # core test speaker
    ("TEST", "DR3", "MABC0"): ("SA2", "SI1620"),  # not in the core test set
}


def make_timit(root: Path, lower: bool = False) -> Path:
    def name(s: str) -> str:
        return s.lower() if lower else s

    for (part, dr, spk), utts in TIMIT_UTTS.items():
        folder = root / name(part) / name(dr) / name(spk)
        for utt in utts:
            write_sphere(folder / name(f"{utt}.WAV"), TIMIT_FRAMES)
            (folder / name(f"{utt}.PHN")).write_text(TIMIT_PHN)
            (folder / name(f"{utt}.WRD")).write_text("1600 4800 hip\n")
            (folder / name(f"{utt}.TXT")).write_text(f"0 {TIMIT_FRAMES} Sentence {utt} of {spk}.\n")
    return root


@pytest.fixture
def timit(tmp_path: Path) -> Path:
    return make_timit(tmp_path / "TIMIT")


# --------------------------------------------------------------------------------------------------------------
LJ_ROWS = (
    ("LJ001-0001", 'Printing, in the only sense with which we are "at present" concerned,',
     'Printing, in the only sense with which we are "at present" concerned,'),
    ("LJ001-0002", "in being comparatively modern. 1850", "in being comparatively modern. eighteen fifty"),
    ("LJ001-0003", 'He said "no', None),  # unbalanced quote and only two fields
)


@pytest.fixture
def ljspeech(tmp_path: Path) -> Path:
    root = tmp_path / "LJSpeech-1.1"
    lines = []
    for clip_id, text, norm in LJ_ROWS:
        lines.append("|".join([clip_id, text] + ([norm] if norm is not None else [])))
        write_wav(root / "wavs" / f"{clip_id}.wav", 2205, 22050)
    write_wav(root / "wavs" / "LJ999-0001.wav", 2205, 22050)  # no metadata row: ignored
    (root / "metadata.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def wav_writer() -> Callable[[Path, int, int], Path]:
    return write_wav


@pytest.fixture
def sphere_writer() -> Callable[..., Path]:
    return write_sphere


@pytest.fixture
def timit_lower(tmp_path: Path) -> Path:
    """TIMIT with lower-case names, nested as SRC/timit/train/... (as some copies ship it)."""
    return make_timit(tmp_path / "corpus" / "timit", lower=True).parent
