"""ManifestDataset crops/resampling/features/pairs and the Lightning data modules."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from speechgen.audio import io as audio_io
from speechgen.data.datamodule import (
    DigitsDataModule,
    EpochSampler,
    ManifestDataModule,
    ManifestDataset,
    PadCollate,
)
from speechgen.data.features import LogMel
from speechgen.data.manifest import Manifest, make_row
from speechgen.errors import ConfigError, DataError


def _tone(freq: float, seconds: float, sr: int, seed: int) -> np.ndarray:
    t = np.arange(int(seconds * sr)) / sr
    env = np.linspace(0.2, 1.0, t.size)  # a ramp makes every crop offset distinguishable
    noise = np.random.default_rng(seed).normal(0, 0.01, t.size)
    return (0.4 * env * np.sin(2 * np.pi * freq * t) + noise).astype(np.float32)


# name, rate, seconds, label, speaker, split
SPECS = [
    ("tr0.wav", 16000, 0.8, 0, "alice", "train"),
    ("tr1.wav", 16000, 0.7, 1, "bob", "train"),
    ("tr2.wav", 8000, 0.9, 2, "alice", "train"),
    ("tr3.wav", 16000, 0.3, 3, "bob", "train"),  # shorter than the segment: padded
    ("va0.wav", 8000, 0.5, 4, "carol", "valid"),
    ("va1.wav", 16000, 0.6, 5, "alice", "valid"),
    ("te0.wav", 16000, 0.6, 6, "dave", "test"),
    ("te1.wav", 8000, 0.6, None, "bob", "test"),
]


def _write(root, specs=SPECS) -> Manifest:
    rows = []
    for i, (name, sr, sec, label, speaker, split) in enumerate(specs):
        audio_io.save(root / name, _tone(150.0 + 40 * i, sec, sr, seed=i), sr)
        rows.append(make_row(name, label=label, text="", speaker=speaker, engine="tone", split=split,
                             duration=sec, sample_rate=sr))
    Manifest(root, rows).write()
    return Manifest.read(root)


@pytest.fixture
def manifest(tmp_path):
    return _write(tmp_path)


def test_random_crops_are_seeded_and_change_with_the_epoch(manifest):
    def crops(seed, epoch):
        ds = ManifestDataset(manifest, split="train", segment_length=4000, random_crop=True, seed=seed)
        ds.set_epoch(epoch)
        return [ds[i]["audio"] for i in range(2)]

    a, b = crops(7, 0), crops(7, 0)
    assert all(torch.equal(x, y) for x, y in zip(a, b))
    assert all(x.shape == (4000,) and x.dtype == torch.float32 for x in a)
    assert not all(torch.equal(x, y) for x, y in zip(a, crops(7, 1)))
    assert not all(torch.equal(x, y) for x, y in zip(a, crops(8, 0)))
    # the epoch can also travel with the index (as EpochSampler sends it)
    ds = ManifestDataset(manifest, split="train", segment_length=4000, random_crop=True, seed=7)
    assert torch.equal(ds[(1, 0)]["audio"], crops(7, 1)[0])


def test_centre_crop_and_pad_for_evaluation(manifest):
    ds = ManifestDataset(manifest, split="train", segment_length=8000)
    full, _ = audio_io.load(manifest.resolve(manifest.rows[0]), 16000)  # 12800 samples
    start = (12800 - 8000) // 2
    assert np.array_equal(ds[0]["audio"].numpy(), full[start:start + 8000])
    short = ds[3]["audio"].numpy()  # 4800 samples centred in 8000
    assert short.shape == (8000,) and np.all(short[:1600] == 0) and np.all(short[-1600:] == 0)


def test_resampling_8k_to_16k_gives_the_requested_length(manifest):
    ds = ManifestDataset(manifest, split="valid", sample_rate=16000)
    assert ds[0]["audio"].shape == (8000,)  # 0.5 s at 8 kHz read at 16 kHz
    ds = ManifestDataset(manifest, split="valid", sample_rate=16000, segment_length=16000)
    assert ds[0]["audio"].shape == (16000,) and ds[1]["audio"].shape == (16000,)


def test_labels_and_speakers(manifest):
    ds = ManifestDataset(manifest, split="test", segment_length=1000)
    assert ds.speakers == {"alice": 0, "bob": 1}  # from the train split only
    assert [ds[i]["label"] for i in range(2)] == [6, -1]
    assert [ds[i]["speaker"] for i in range(2)] == [-1, 1]
    assert ds[1]["index"] == 1
    assert len(ManifestDataset(manifest, split="test", labelled=True)) == 1


def test_feature_items_are_cropped_in_frames(manifest, tmp_path):
    ds = ManifestDataset(manifest, split="train", feature="log_mel", cache_dir=tmp_path / "cache",
                         segment_length=256 * 16, random_crop=True)
    item = ds[0]
    assert item["features"].shape == (80, 16) and item["features"].dtype == torch.float32
    assert ds[3]["features"].shape == (80, 16)  # 0.3 s = 19 frames, cropped
    whole = ManifestDataset(manifest, split="train", feature="stft_image", cache_dir=tmp_path / "cache")
    assert whole[0]["features"].shape == (2, 128, 128)
    wave = ManifestDataset(manifest, split="train", feature="waveform", cache_dir=tmp_path / "cache",
                           segment_length=3000)
    assert wave[2]["audio"].shape == (3000,)


def test_audio_and_mel_pairs_are_aligned(manifest, tmp_path):
    seg, hop = 256 * 24, 256
    ds = ManifestDataset(manifest, split="train", feature="log_mel", cache_dir=tmp_path / "cache",
                         segment_length=seg, paired=True, random_crop=True, seed=3)
    for index in (0, 1, 2, 3):
        item = ds[index]
        audio, mel = item["audio"].numpy(), item["mel"].numpy()
        assert audio.shape == (seg,) and mel.shape == (80, seg // hop)
        if index == 3:  # padded clip: silence in the pad, the real frames still line up
            continue
        ref = LogMel()(audio, 16000)[:, : seg // hop]
        # frames whose 1024-sample window lies inside the segment see exactly the same samples
        inner = slice(2, seg // hop - 2)
        np.testing.assert_allclose(mel[:, inner], ref[:, inner], atol=1e-4)
    padded = ds[3]
    full, _ = audio_io.load(manifest.resolve(manifest.rows[3]), 16000)
    start = int(np.flatnonzero(padded["audio"].numpy())[0])
    assert start % hop == 0
    k = start // hop
    np.testing.assert_allclose(padded["mel"].numpy()[:, k + 2], LogMel()(full, 16000)[:, 2], atol=1e-4)


def test_segment_must_be_a_multiple_of_the_hop(manifest, tmp_path):
    with pytest.raises(ConfigError, match="segment_length"):
        ManifestDataset(manifest, split="train", feature="log_mel", cache_dir=tmp_path, segment_length=1000,
                        paired=True)
    with pytest.raises(ConfigError, match="paired"):
        ManifestDataset(manifest, split="train", segment_length=1024, paired=True)
    with pytest.raises(ConfigError, match="segment_length"):
        ManifestDataset(manifest, split="train", feature="stft_image", cache_dir=tmp_path, segment_length=1024)


def test_sampler_makes_crops_independent_of_workers(manifest):
    ds = ManifestDataset(manifest, split="train", segment_length=2000, random_crop=True, seed=1)

    def epoch_batches(workers, epoch):
        sampler = EpochSampler(len(ds), seed=1)
        sampler.set_epoch(epoch)
        loader = DataLoader(ds, batch_size=2, sampler=sampler, num_workers=workers, collate_fn=PadCollate())
        return [b["audio"] for b in loader]

    zero, two = epoch_batches(0, 5), epoch_batches(2, 5)
    assert all(torch.equal(x, y) for x, y in zip(zero, two))
    assert not all(torch.equal(x, y) for x, y in zip(zero, epoch_batches(0, 6)))


@pytest.mark.parametrize("workers", [0, 2])
def test_datamodule_batches(manifest, tmp_path, workers):
    dm = ManifestDataModule(manifest.root, batch_size=2, num_workers=workers, segment_length=4096,
                            feature="log_mel", cache_dir=tmp_path / "cache", paired=True)
    dm.setup("fit")
    batches = list(dm.train_dataloader())
    assert len(batches) == 2
    for b in batches:
        assert b["audio"].shape == (2, 4096) and b["mel"].shape == (2, 80, 16)
        assert b["label"].dtype == torch.long and b["speaker"].shape == (2,)
    val = list(dm.val_dataloader())
    assert [v["audio"].shape[0] for v in val] == [2]
    assert dm.num_labels == 7 and dm.num_speakers == 2


def test_digits_datamodule_defaults_and_eval_loaders(manifest):
    dm = DigitsDataModule(manifest.root, batch_size=3)
    dm.setup("test")
    (batch,) = list(dm.test_dataloader())
    assert batch["audio"].shape == (1, 16000)  # labelled rows only, one second at 16 kHz
    assert batch["label"].tolist() == [6] and batch["lengths"].tolist() == [16000]


def test_whole_clip_features_are_padded_per_batch(manifest, tmp_path):
    dm = ManifestDataModule(manifest, batch_size=4, feature="log_mel", cache_dir=tmp_path / "c")
    assert dm.segment_length is None
    (batch,) = list(dm.train_dataloader())
    longest = 1 + int(0.9 * 16000) // 256
    assert batch["features"].shape == (4, 80, longest)
    assert batch["lengths"].max().item() == longest
    shortest = int(batch["lengths"].argmin())
    assert batch["features"][shortest, :, -1].eq(float(np.log(1e-5))).all()


def test_empty_split_and_missing_manifest(tmp_path):
    with pytest.raises(DataError, match="no such manifest"):
        ManifestDataModule(tmp_path / "missing.csv")
    no_valid = [s for s in SPECS if s[5] != "valid"]
    _write(tmp_path, no_valid)
    dm = ManifestDataModule(tmp_path, batch_size=2)
    with pytest.raises(DataError, match="split 'valid' has no rows"):
        dm.setup("fit")
    dm.setup("test")  # other stages still work
    assert len(ManifestDataset(tmp_path, split="test", labelled=False)) == 1
    with pytest.raises(DataError, match=r"split 'valid' has no rows; give it clips .*--valid-fraction"):
        ManifestDataset(tmp_path, split="valid")  # the message names the flag that fixes it


def test_datamodule_validates_early(manifest, tmp_path):
    with pytest.raises(ConfigError, match="fmax"):
        ManifestDataModule(manifest, sample_rate=8000, feature="log_mel", cache_dir=tmp_path)
    with pytest.raises(ConfigError, match="batch_size"):
        ManifestDataModule(manifest, batch_size=0)
    with pytest.raises(ConfigError, match="n_mels"):
        ManifestDataModule(manifest, feature="log_mel", feature_params={"n_mels": -1}, cache_dir=tmp_path)
