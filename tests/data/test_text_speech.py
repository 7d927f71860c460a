"""Text + log-mel pairs for text-to-speech: train = the train voices' strings that are not held out, valid = the
same voices saying the held-out strings, test = the test split (when used); batches of tokens and whole log-mels,
and extra frame targets (Tacotron's linear spectrogram) cached and batched beside them."""

import math

import numpy as np
import pytest
import torch

from speechgen.data.text import SYMBOL_SETS, held_out
from speechgen.data.text_speech import TextSpeechDataModule
from speechgen.errors import ConfigError, DataError

from ..text_speech_fixtures import write_strings_manifest


@pytest.fixture(scope="module")
def manifest(tmp_path_factory):
    return write_strings_manifest(tmp_path_factory.mktemp("strings") / "toy")


def test_splits_hold_out_strings_not_voices(manifest):
    dm = TextSpeechDataModule(manifest, text="phonemes", held_out_fraction=0.25, batch_size=3)
    dm.setup("fit")
    train, valid = dm.dataset("train").manifest.rows, dm.dataset("valid").manifest.rows
    assert train and valid and all(r["split"] == "train" for r in train + valid)
    assert not any(held_out(r["text"], 0.25) for r in train) and all(held_out(r["text"], 0.25) for r in valid)
    assert {r["speaker"] for r in train} == {r["speaker"] for r in valid} == {"a", "b"}
    assert dm.has_rows("valid") and dm.has_rows("test")
    assert {r["speaker"] for r in dm.dataset("test").manifest.rows} == {"d"}
    item = dm.dataset("valid")[0]
    assert item["tokens"].tolist() == SYMBOL_SETS["phonemes"].encode(valid[0]["text"])
    batch = next(iter(dm.val_dataloader()))
    assert batch["tokens"].shape[0] == 3 and batch["features"].shape[1] == 80
    assert int(batch["tokens_lengths"].max()) == batch["tokens"].shape[1]
    assert int(batch["lengths"].max()) == batch["features"].shape[-1]
    assert batch["speaker"].min() >= 0


def test_train_strings_keeps_a_fixed_subset_and_leaves_valid_alone(manifest):
    full = TextSpeechDataModule(manifest, text="chars", held_out_fraction=0.25)
    rows = full.dataset("train").manifest.rows
    dms = [TextSpeechDataModule(manifest, text="chars", held_out_fraction=0.25, train_strings=n) for n in (3, 3, 5)]
    paths = [[r["path"] for r in dm.dataset("train").manifest.rows] for dm in dms]
    assert len(paths[0]) == 3 and paths[0] == paths[1] and set(paths[0]) < set(paths[2])
    assert set(paths[2]) < {r["path"] for r in rows}
    for dm in dms:
        assert dm.dataset("valid").manifest.rows == full.dataset("valid").manifest.rows
    big = TextSpeechDataModule(manifest, text="chars", held_out_fraction=0.25, train_strings=10 ** 6)
    assert big.dataset("train").manifest.rows == rows
    with pytest.raises(ConfigError, match="train_strings"):
        TextSpeechDataModule(manifest, text="chars", train_strings=0)


def test_without_test_split(manifest):
    dm = TextSpeechDataModule(manifest, text="chars", held_out_fraction=0.25, test=False)
    assert not dm.has_rows("test")
    dm.setup("test")
    with pytest.raises(DataError, match="no test split"):
        dm.dataset("test")


@pytest.mark.parametrize("kw, field", [({"held_out_fraction": 0.0}, "held_out_fraction"),
                                       ({"segment_length": 16000}, "segment_length"),
                                       ({"text": "klingon"}, "symbols")])
def test_bad_options_name_the_field(manifest, kw, field):
    with pytest.raises(ConfigError, match=field):
        dm = TextSpeechDataModule(manifest, **{"text": "chars", **kw})
        dm.dataset("train")


def test_extra_targets_are_cached_and_batched_on_the_features_frames(manifest, tmp_path):
    targets = {"linear": ("log_magnitude", {"n_fft": 512, "win_length": 512})}
    dm = TextSpeechDataModule(manifest, text="chars", held_out_fraction=0.25, batch_size=3, targets=targets,
                              cache_dir=tmp_path / "cache")
    dm.prepare_data()
    assert sorted(p.name.split("-")[0] for p in (tmp_path / "cache").iterdir()) == ["log_magnitude", "log_mel"]
    dm.setup("fit")
    item = dm.dataset("train")[0]
    assert item["linear"].shape == (257, item["features"].shape[-1])
    batch = next(iter(dm.val_dataloader()))
    lengths = batch["lengths"]
    assert batch["linear"].shape == (3, 257, batch["features"].shape[-1])
    short = int(lengths.argmin())
    if int(lengths[short]) < batch["linear"].shape[-1]:  # padded with the linear silence
        pad = batch["linear"][short, :, int(lengths[short]):]
        assert torch.allclose(pad, torch.full_like(pad, math.log(1e-5)))
    plain = TextSpeechDataModule(manifest, text="chars", held_out_fraction=0.25, cache_dir=tmp_path / "cache")
    plain.setup("fit")
    same = plain.dataset("train")[0]
    assert set(same) == set(item) - {"linear"}
    np.testing.assert_array_equal(same["features"].numpy(), item["features"].numpy())


@pytest.mark.parametrize("targets, field", [
    ({"features": ("log_magnitude", {})}, "targets: 'features'"),
    ({"linear": ("log_magnitude", {"n_ftt": 512})}, "targets.linear: feature_params.n_ftt"),
    ({"linear": ("nothing", {})}, "targets.linear: feature"),
])
def test_bad_targets_name_the_key(manifest, targets, field):
    with pytest.raises(ConfigError, match=field):
        TextSpeechDataModule(manifest, text="chars", targets=targets)


def test_a_target_of_another_hop_is_refused(manifest, tmp_path):
    dm = TextSpeechDataModule(manifest, text="chars", held_out_fraction=0.25, cache_dir=tmp_path / "c",
                              targets={"linear": ("log_magnitude", {"hop_length": 128})})
    dm.setup("fit")
    with pytest.raises(DataError, match="target 'linear' has"):
        dm.dataset("train")[0]
