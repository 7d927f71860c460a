"""Log-mel frame windows (speechgen.data.frames): centre labels follow the alignment, statistics come from the train
split only, edge windows are padded with the silence value, corpora without alignments use the clip label, and the
train loader resumes exactly."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from speechgen.data.features import build_feature
from speechgen.data.frames import (
    TIMIT_LOG_MEL, FrameNorm, FrameOptions, FramesDataModule, extract_windows, frame_stats,
)
from speechgen.data.manifest import Manifest
from speechgen.data.readers import import_corpus
from speechgen.data.readers.timit import PHONES_39, PHONES_48, frame_labels
from speechgen.errors import ConfigError, DataError

READERS_CONFTEST = Path(__file__).resolve().parent / "readers" / "conftest.py"
HOP = TIMIT_LOG_MEL["hop_length"]


def _readers_fixtures():
    """The TIMIT fixture writers of tests/data/readers/conftest.py (loaded by path: tests are not a package)."""
    spec = importlib.util.spec_from_file_location("_readers_conftest", READERS_CONFTEST)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


@pytest.fixture
def timit_manifest(tmp_path: Path) -> Path:
    """The TIMIT fixture imported as a manifest, with louder audio in the valid/test speakers' files (so that
    statistics over all splits differ from the train split's)."""
    rc = _readers_fixtures()
    src = rc.make_timit(tmp_path / "TIMIT")
    for wav in list((src / "TEST").rglob("*.WAV")):
        n = rc.TIMIT_FRAMES
        head = wav.read_bytes()[:1024]
        rng = np.random.default_rng(len(str(wav)))
        samples = (8000 * rng.standard_normal(n)).clip(-32000, 32000).astype("<i2")
        wav.write_bytes(head + samples.tobytes())
    import_corpus("timit", src, tmp_path / "timit", progress=False)
    return tmp_path / "timit" / "manifest.csv"


def _logmel(dm: FramesDataModule, row: dict) -> np.ndarray:
    return dm.cache.get(dm.manifest.resolve(row), dm.sample_rate)


def test_windows_shapes_and_centre_labels(timit_manifest: Path) -> None:
    dm = FramesDataModule(timit_manifest, batch_size=4)
    assert dm.label_mode == "phones" and dm.num_labels == 48 and dm.label_names == list(PHONES_48)
    ds = dm.dataset("train")
    rows = dm.rows("train").rows
    n_frames = 1 + 5600 // HOP  # 36 frames per 0.35 s utterance
    assert len(rows) == 3 and len(ds) == 3 * n_frames
    item = ds[(7, 40)]  # (epoch, index) pairs are accepted, as from EpochSampler
    assert item["features"].shape == (1, 40, 9) and item["features"].dtype == torch.float32
    assert float(item["features"].abs().max()) <= 1.0
    for i in range(len(ds)):
        u, t = int(ds.utterances[i]), int(ds.centres[i])
        expect = frame_labels(dm.manifest.root / str(rows[u]["alignment"]), HOP, n_frames=n_frames)
        assert ds[i]["label"] == expect[t]
    names = [PHONES_48[ds[i]["label"]] for i in range(n_frames)]
    # 0-800 h#, 800-1600 q (-> the following ix), 1600-3200 ix, 3200-4000 pcl, 4000-4800 p, 4800-5600 h#
    assert names == ["sil"] * 5 + ["ix"] * 15 + ["cl"] * 5 + ["p"] * 5 + ["sil"] * 6
    # the window's values are the normalised log-mel frames t-4 .. t+4 of its utterance
    norm = dm.norm
    x = _logmel(dm, rows[1])
    got = ds[n_frames + 12]["features"][0].numpy()
    assert np.allclose(got, norm.normalize(x[:, 8:17]), atol=1e-6)
    speakers = {ds[i]["speaker"] for i in range(len(ds))}
    assert speakers == {dm.speakers["FCJF0"], dm.speakers["MARC0"]}


def test_edge_windows_are_padded_with_silence_and_labelled_by_their_centre(timit_manifest: Path) -> None:
    dm = FramesDataModule(timit_manifest, batch_size=4)
    ds = dm.dataset("train")
    silence = dm.norm.normalize(np.full((40, 1), dm.feature.pad_value))[:, 0]
    x = _logmel(dm, dm.rows("train").rows[0])
    first, last = ds[0]["features"][0].numpy(), ds[35]["features"][0].numpy()
    assert np.allclose(first[:, :4], silence[:, None]) and np.allclose(first[:, 4:], dm.norm.normalize(x[:, :5]))
    assert np.allclose(last[:, 5:], silence[:, None]) and np.allclose(last[:, :5], dm.norm.normalize(x[:, 31:]))
    assert PHONES_48[ds[0]["label"]] == "sil" and PHONES_48[ds[35]["label"]] == "sil"
    # the same padding as extract_windows on the raw log-mel
    raw = extract_windows(x, 9, 1, dm.feature.pad_value)
    assert raw.shape == (36, 40, 9) and np.allclose(dm.norm.normalize(raw[0]), first, atol=1e-6)


def test_statistics_come_from_the_train_split_only(timit_manifest: Path) -> None:
    dm = FramesDataModule(timit_manifest, batch_size=4)
    dm.setup("fit")
    train = np.concatenate([_logmel(dm, r).T for r in dm.rows("train").rows])
    everything = np.concatenate([_logmel(dm, r).T for r in dm.rows().rows])
    stats = dm.resolved_frames()["stats"]
    assert len(stats["mean"]) == len(stats["std"]) == 40
    assert np.allclose(stats["mean"], train.mean(0), atol=1e-4)
    assert np.allclose(stats["std"], np.maximum(train.std(0), 1e-3), atol=1e-4)
    assert not np.allclose(stats["mean"], everything.mean(0), atol=0.1)  # louder valid/test audio left out
    # valid windows are normalised with the train statistics (and clipped to the models' range)
    valid = dm.dataset("valid")
    x = _logmel(dm, dm.rows("valid").rows[0])
    assert np.allclose(valid[10]["features"][0].numpy(), FrameNorm.from_options(dm.options).normalize(x[:, 6:15]))
    # given statistics are used as they are (no train pass)
    given = {"mean": [0.0] * 40, "std": [2.0] * 40}
    dm2 = FramesDataModule(timit_manifest, frames={"stats": given, "norm_scale": 1.0})
    assert dm2.resolved_frames()["stats"] == given
    assert np.allclose(dm2.dataset("test")[5]["features"][0].numpy(),
                       np.clip(_logmel(dm2, dm2.rows("test").rows[0])[:, 1:10] / 2.0, -1, 1))


def test_stride_phone_set_and_normalisation_round_trip(timit_manifest: Path) -> None:
    dm = FramesDataModule(timit_manifest, frames={"context": 5, "stride": 4, "eval_stride": 7, "phone_set": 39})
    train, valid = dm.dataset("train"), dm.dataset("valid")
    assert list(train.centres[:9]) == [0, 4, 8, 12, 16, 20, 24, 28, 32] and len(train) == 3 * 9
    assert list(valid.centres) == [0, 7, 14, 21, 28, 35]
    assert train[0]["features"].shape == (1, 40, 5) and dm.num_labels == 39
    assert [PHONES_39[train[i]["label"]] for i in range(9)] == ["sil", "sil", "ih", "ih", "ih", "sil", "sil", "p",
                                                                 "sil"]
    norm = dm.norm
    x = _logmel(dm, dm.rows("train").rows[0])
    inside = np.abs((x - norm.mean[:, None]) / (norm.scale * norm.std[:, None])) < 1
    assert np.allclose(norm.denormalize(norm.normalize(x))[inside], x[inside], atol=1e-4)


def test_corpus_without_alignments_labels_windows_with_the_clip_label(toy_manifest: Path) -> None:
    dm = FramesDataModule(toy_manifest, batch_size=8, frames={"stride": 10})
    assert dm.label_mode == "clip" and dm.num_labels == 3 and dm.label_names is None
    ds = dm.dataset("train")
    rows = dm.rows("train").rows
    assert len(ds) == len(rows) * 11  # 1 s clips: 101 frames, centres 0, 10, ..., 100
    for i in range(0, len(ds), 7):
        assert ds[i]["label"] == rows[int(ds.utterances[i])]["label"]
    with pytest.raises(ConfigError, match="frames.labels"):
        FramesDataModule(toy_manifest, frames={"labels": "phonemes"})


def test_unlabelled_rows_are_left_out_when_labelled(timit_manifest: Path) -> None:
    m = Manifest.read(timit_manifest)
    m.rows[0]["alignment"] = ""  # a train utterance without its alignment
    out = timit_manifest.parent / "partial.csv"  # beside the original: relative paths still resolve
    Manifest(m.root, m.rows).write(out)
    kept = FramesDataModule(out, labelled=True)
    assert len(kept.rows("train")) == 2
    every = FramesDataModule(out, labelled=None)
    ds = every.dataset("train")
    assert len(ds) == 3 * 36 and set(ds.labels[ds.utterances == 0].tolist()) == {-1}


def test_train_loader_resumes_exactly(timit_manifest: Path) -> None:
    dm = FramesDataModule(timit_manifest, batch_size=8, seed=3)
    dm.setup("fit")
    whole = [b["index"] for b in dm.train_dataloader()]
    state = torch.get_rng_state()
    dm2 = FramesDataModule(timit_manifest, batch_size=8, seed=3)
    loader = dm2.train_dataloader()
    assert dm2.batch_size == 8
    dm2.train_sampler.skip_next(5 * 8)
    rest = [b["index"] for b in loader]
    assert torch.equal(torch.get_rng_state(), state)  # iterating consumed no global random state
    assert len(rest) == len(whole) - 5 and all(torch.equal(a, b) for a, b in zip(rest, whole[5:]))
    loader = dm.train_dataloader()
    dm.train_sampler.set_epoch(1)  # as Lightning does each epoch: a new order
    assert not torch.equal(next(iter(loader))["index"], whole[0])


def test_options_and_errors_name_the_field(timit_manifest: Path) -> None:
    with pytest.raises(ConfigError, match=r"^frames\.context: must be odd"):
        FrameOptions.from_mapping({"context": 8})
    with pytest.raises(ConfigError, match=r"^frames\.stride"):
        FrameOptions.from_mapping({"stride": 0})
    with pytest.raises(ConfigError, match=r"^frames\.phone_set"):
        FrameOptions.from_mapping({"phone_set": 40})
    with pytest.raises(ConfigError, match=r"^frames\.window: unknown field"):
        FrameOptions.from_mapping({"window": 9})
    with pytest.raises(ConfigError, match=r"^frames\.stats\.std"):
        FrameOptions.from_mapping({"stats": {"mean": [0.0, 1.0], "std": [1.0, 0.0]}})
    with pytest.raises(ConfigError, match=r"^frames\.stats\.mean: 2 values"):
        FramesDataModule(timit_manifest, frames={"stats": {"mean": [0.0, 1.0], "std": [1.0, 1.0]}})
    with pytest.raises(ConfigError, match=r"^feature: "):
        FramesDataModule(timit_manifest, feature="stft_image", feature_params={})
    opts = FrameOptions.from_mapping({"context": 3, "stats": {"mean": [1, 2], "std": [1, 1]}})
    assert FrameOptions.from_mapping(opts.to_dict()) == opts
    with pytest.raises(DataError, match=r"split 'train' has no rows \(unlabelled rows\)"):
        FramesDataModule(timit_manifest, labelled=False).dataset("valid")


def test_frame_stats_and_extract_windows() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(3.0, 2.0, size=(1000, 4)).astype(np.float32)
    mask = np.arange(1000) % 2 == 0
    s = frame_stats(x, mask, chunk=64)
    assert np.allclose(s["mean"], x[mask].mean(0), atol=1e-5) and np.allclose(s["std"], x[mask].std(0), atol=1e-5)
    feats = np.arange(12, dtype=np.float32).reshape(2, 6)
    w = extract_windows(feats, 3, stride=2, pad_value=-9.0)
    assert w.shape == (3, 2, 3)
    assert w[0].tolist() == [[-9.0, 0.0, 1.0], [-9.0, 6.0, 7.0]] and w[2][:, 1].tolist() == [4.0, 10.0]
    assert build_feature("log_mel", TIMIT_LOG_MEL).pad_value == pytest.approx(np.log(1e-5))
