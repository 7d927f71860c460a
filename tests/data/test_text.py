"""The text front end: spellings of digit strings, symbol sets, the held-out hash and text items of datasets."""

from __future__ import annotations

import numpy as np
import pytest

from speechgen.audio import io as audio_io
from speechgen.data.datamodule import ManifestDataModule, ManifestDataset
from speechgen.data.manifest import Manifest, make_row
from speechgen.data.text import (
    EOS,
    PAD,
    SYMBOL_SETS,
    digit_words,
    digits_text,
    held_out,
    parse_digits,
    symbol_set,
)
from speechgen.errors import ConfigError, DataError


@pytest.mark.parametrize("text", ["427", "4 2 7", "four two seven", "FOUR, two-7", "  4.2;7 ", "4 two 7"])
def test_spellings_normalise_to_one_digit_list(text):
    assert parse_digits(text) == [4, 2, 7]


def test_oh_reads_as_zero_and_numerals_split_into_digits():
    assert parse_digits("oh 7 10") == [0, 7, 1, 0]
    assert digits_text([0, 7]) == "0 7" and digit_words([0, 7]) == "zero seven"


@pytest.mark.parametrize("text, named", [
    ("four two cat", "'cat'"), ("4a2", "'4a2'"), ("", "no digits"), ("  ,, ", "no digits"), ("४२", "'४२'"),
    ("1" * 41, "41 digits, at most 40"),
])
def test_text_it_cannot_speak_names_the_token(text, named):
    with pytest.raises(DataError, match="cannot speak|no digits|at most") as err:
        parse_digits(text)
    assert named in str(err.value) and "\n" not in str(err.value)


def test_max_digits_is_a_limit_not_a_truncation():
    assert len(parse_digits("1" * 60, max_digits=60)) == 60
    with pytest.raises(DataError, match="3 digits, at most 2"):
        parse_digits("123", max_digits=2)


def test_symbol_sets_encode_words_with_breaks_and_an_end_symbol():
    chars = symbol_set("chars")
    ids = chars.encode("4 2")
    assert ids[-1] == EOS and PAD not in ids
    assert chars.decode(ids) == "four two"
    phon = symbol_set("phonemes")
    assert phon.decode(phon.encode("seven 8")) == "S EH V AH N | EY T"
    assert len(phon.encode("7")) == 6 and len(chars.encode("7")) == 6  # five sounds / letters + EOS
    assert symbol_set("digits").encode("oh 9") == [0, 9]
    for s in SYMBOL_SETS.values():  # every symbol is distinct and the pad/end symbols come first
        assert len(set(s.symbols)) == len(s)
    assert SYMBOL_SETS["phonemes"].symbols[:2] == ("<pad>", "<eos>")
    with pytest.raises(ConfigError, match="symbols: expected one of chars, phonemes, digits"):
        symbol_set("letters")


def test_held_out_is_stable_across_spellings_and_near_its_fraction():
    assert held_out("4 2 7", 0.3) == held_out("four two seven", 0.3) == held_out("427", 0.3)
    rng = np.random.default_rng(0)
    strings = {digits_text(rng.integers(0, 10, size=int(rng.integers(2, 7)))) for _ in range(4000)}
    share = np.mean([held_out(s, 0.1) for s in strings])
    assert 0.08 < share < 0.12
    assert not any(held_out(s, 0.0) for s in list(strings)[:50])
    with pytest.raises(ConfigError, match="held-out fraction"):
        held_out("1 2", 1.0)


def _strings_manifest(root, texts):
    rows = []
    for i, text in enumerate(texts):
        audio_io.save(root / f"s{i}.wav", np.zeros(1600 + 400 * i, np.float32), 16000)
        rows.append(make_row(f"s{i}.wav", label=None, text=text, speaker="v", engine="tone", split="train",
                             duration=0.1, sample_rate=16000))
    Manifest(root, rows).write()
    return Manifest.read(root)


def test_dataset_items_hold_tokens_and_batches_their_lengths(tmp_path):
    manifest = _strings_manifest(tmp_path, ["1 2 3", "4", "5 6"])
    dm = ManifestDataModule(manifest, batch_size=3, segment_length=None, feature="log_mel", text="digits",
                            drop_last=False)
    dm.prepare_data()
    ds = dm.dataset("train")
    assert ds[0]["tokens"].tolist() == [1, 2, 3]
    batch = next(iter(dm.train_dataloader()))
    assert sorted(batch["tokens_lengths"].tolist()) == [1, 2, 3]
    assert batch["tokens"].shape == (3, 3) and batch["features"].shape[0] == 3


def test_text_filter_splits_strings_by_the_hash(tmp_path):
    texts = [digits_text(np.random.default_rng(i).integers(0, 10, 4)) for i in range(30)]
    manifest = _strings_manifest(tmp_path, texts)
    kept = ManifestDataset(manifest, text="chars", text_filter="trained", held_out_fraction=0.3)
    out = ManifestDataset(manifest, text="chars", text_filter="held_out", held_out_fraction=0.3)
    assert len(kept) + len(out) == 30 and len(out) > 0
    assert {r["text"] for r in kept.manifest.rows}.isdisjoint({r["text"] for r in out.manifest.rows})
    with pytest.raises(ConfigError, match="text_filter: given without text"):
        ManifestDataset(manifest, text_filter="trained")


def test_rows_without_speakable_text_are_named(tmp_path):
    manifest = _strings_manifest(tmp_path, ["1 2", "hello"])
    with pytest.raises(DataError, match=r"row s1.wav: text 'hello': cannot speak 'hello'"):
        ManifestDataset(manifest, text="chars")
    manifest = _strings_manifest(tmp_path, ["1 2", ""])
    with pytest.raises(DataError, match="row s1.wav has no text"):
        ManifestDataset(manifest, text="chars")


def test_data_module_can_leave_held_out_strings_out_of_training_only(tmp_path):
    """train_held_out: the train split loses the held-out strings; the other splits keep every row."""
    texts = [digits_text(np.random.default_rng(i).integers(0, 10, 3)) for i in range(30)]
    root = tmp_path / "c"
    root.mkdir()
    manifest = _strings_manifest(root, texts)
    rows = [dict(r, split="valid") if i % 3 == 0 else r for i, r in enumerate(manifest.rows)]
    Manifest(manifest.root, rows).write()
    dm = ManifestDataModule(root, segment_length=None, text="digits", train_held_out=0.3)
    train = {r["text"] for r in dm.dataset("train").manifest.rows}
    assert train and not any(held_out(t, 0.3) for t in train)
    assert len(dm.dataset("valid")) == 10  # every valid row, held out or not
    assert len(ManifestDataModule(root, segment_length=None, text="digits").dataset("train")) == 20
    with pytest.raises(ConfigError, match="train_held_out: given without text"):
        ManifestDataModule(root, train_held_out=0.3)
