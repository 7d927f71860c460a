"""Mixtures for separation: seeded draws of distinct voices, exact sums at a safe peak, the written corpus and its
manifest, on-the-fly training mixtures, and the `speechgen corpus mixtures` command."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from speechgen.cli.main import main
from speechgen.data.manifest import Manifest
from speechgen.data.mixtures import (GAIN_DB, PEAK, REFERENCE_DBFS, MixtureDataset, build_mixtures, by_speaker,
                                     draw, render, source_paths)
from speechgen.errors import ConfigError, DataError

from ..conftest import write_toy_manifest

SPLITS = {"train": ("a", "b", "c"), "valid": ("e", "f"), "test": ("g", "h")}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_toy_manifest(tmp_path_factory.mktemp("mix") / "src", per=2, splits=SPLITS)


def test_draws_are_seeded_and_take_distinct_speakers():
    rows = [{"speaker": s} for s in "aabbbccd"]
    lengths = [100, 80, 120, 100, 60, 90, 100, 50]
    speakers = by_speaker(rows)
    for i in range(30):
        d = draw(speakers, lengths, 3, seed=5, split="test", index=i)
        assert d == draw(speakers, lengths, 3, seed=5, split="test", index=i)
        assert len({rows[r]["speaker"] for r in d.rows}) == 3
        assert all(abs(g) <= GAIN_DB for g in d.gains_db)
        total = max(lengths[r] for r in d.rows)
        assert all(0 <= o <= total - lengths[r] for o, r in zip(d.offsets, d.rows))
    assert draw(speakers, lengths, 2, 5, "test", 0) != draw(speakers, lengths, 2, 6, "test", 0) or \
        draw(speakers, lengths, 2, 5, "test", 1) != draw(speakers, lengths, 2, 6, "test", 1)
    assert draw(speakers, lengths, 1, 0, "test", 3).gains_db == (0.0,)
    with pytest.raises(DataError, match="4 speaker\\(s\\); a mixture of 5 needs 5"):
        draw(speakers, lengths, 5, 0, "test", 0)


def test_render_sums_exactly_at_equal_loudness_and_a_safe_peak():
    rng = np.random.default_rng(0)
    clips = [rng.standard_normal(1000).astype(np.float32) * s for s in (0.01, 0.5, 2.0)]
    mix, src = render(clips, (0.0, 3.0, -3.0), (0, 200, 0), peak=None)
    assert mix.shape == (1200,) and src.shape == (3, 1200)
    np.testing.assert_allclose(mix, src.sum(axis=0), atol=1e-6)
    rms = np.sqrt(np.mean(src[:, :1000] ** 2, axis=1)[[0, 2]])
    assert 20 * np.log10(rms[0] / 10 ** (REFERENCE_DBFS / 20)) == pytest.approx(0.0, abs=0.01)
    assert 20 * np.log10(rms[0] / rms[1]) == pytest.approx(3.0, abs=0.01)
    assert not src[1, :200].any()
    loud = [c * 100 for c in clips]
    mix2, src2 = render(loud, (0.0, 5.0, 5.0), (0, 0, 0))
    assert float(np.abs(mix2).max()) <= PEAK + 1e-6
    np.testing.assert_allclose(mix2, src2.sum(axis=0), atol=1e-6)
    mix3, _ = render([np.zeros(10, np.float32), np.ones(10, np.float32)], (0.0, 0.0), (0, 0))
    assert np.isfinite(mix3).all()


def test_build_writes_mixtures_of_held_out_voices_with_their_sources(corpus, tmp_path):
    out = tmp_path / "mix"
    m = build_mixtures(corpus, out, [1, 2], n=3, n_train=2, seed=4)
    assert len(m) == 2 * (3 + 3 + 2) and Manifest.read(out).rows == m.rows
    src_split = {r["speaker"]: r["split"] for r in Manifest.read(corpus)}
    for r in m:
        k = int(r["count"])
        speakers = str(r["source_speakers"]).split(";")
        assert len(speakers) == k == len(set(speakers)) and all(src_split[s] == r["split"] for s in speakers)
        mix, sr = sf.read(str(m.resolve(r)), dtype="float32")
        sources = [sf.read(str(p), dtype="float32")[0] for p in source_paths(m, r)]
        assert sr == 16000 and len(sources) == k and all(len(s) == len(mix) for s in sources)
        np.testing.assert_allclose(mix, np.sum(sources, axis=0), atol=k * 2e-4)
        assert len(str(r["source_labels"]).split(";")) == k
    again = build_mixtures(corpus, tmp_path / "again", [1, 2], n=3, n_train=2, seed=4)
    first = [sf.read(str(m.resolve(r)))[0] for r in m]
    assert all(np.array_equal(a, sf.read(str(again.resolve(r)))[0]) for a, r in zip(first, again))
    with pytest.raises(DataError, match="a mixture of 3 needs 3"):
        build_mixtures(corpus, tmp_path / "bad", [3], n=1)
    assert not (tmp_path / "bad" / "valid").exists() and not (tmp_path / "bad" / "manifest.csv").exists()
    with pytest.raises(ConfigError, match="1..5"):
        build_mixtures(corpus, tmp_path / "bad", [6], n=1)


def test_on_the_fly_mixtures_change_every_epoch_and_crop(corpus):
    ds = MixtureDataset(corpus, "train", count=2, segment_length=8000, seed=1)
    assert len(ds) == len(Manifest.read(corpus).select("train"))
    a, b, c = ds[(0, 3)], ds[(0, 3)], ds[(1, 3)]
    assert a["mixture"].shape == (8000,) and a["sources"].shape == (2, 8000)
    assert (a["mixture"] == b["mixture"]).all() and not (a["mixture"] == c["mixture"]).all()
    np.testing.assert_allclose(a["mixture"].numpy(), a["sources"].sum(0).numpy(), atol=1e-5)
    fixed = MixtureDataset(corpus, "train", count=2, segment_length=8000, seed=1, fixed=True)
    assert (fixed[(5, 3)]["mixture"] == a["mixture"]).all()
    long = MixtureDataset(corpus, "train", count=3, segment_length=20000, size=4)
    assert len(long) == 4 and long[2]["mixture"].shape == (20000,)
    assert MixtureDataset(corpus, "valid", count=2, segment_length=None)[0]["mixture"].shape[0] >= 16000
    with pytest.raises(DataError, match="mixtures of 3 need 3"):
        MixtureDataset(corpus, "valid", count=3)


def test_cli_builds_and_refuses_bad_options(corpus, tmp_path, capsys):
    out = tmp_path / "cli"
    assert main(["--quiet", "corpus", "mixtures", "--from", str(corpus), "--speakers", "2", "--n", "2",
                 "--out", str(out)]) == 0
    assert len(Manifest.read(out)) == 4
    for argv, match in ((["--speakers", "7"], r"--speakers: expected source counts in 1\.\.5"),
                        (["--n", "0"], r"--n: expected >= 1"),
                        (["--speakers", "3"], r"a mixture of 3 needs 3")):
        assert main(["--quiet", "corpus", "mixtures", "--from", str(corpus), "--out", str(tmp_path / "x"),
                     *argv]) == 2
        err = capsys.readouterr().err.strip()
        assert "\n" not in err and re.search(match, err), err


def test_count_items_cycle_through_the_counts_with_their_labels(corpus):
    from speechgen.data.mixtures import CountDataset

    ds = CountDataset(corpus, "train", counts=(1, 2, 3), segment_length=4000, size=6)
    items = [ds[(0, i)] for i in range(6)]
    assert [it["label"] for it in items] == [0, 1, 2, 0, 1, 2] and all(it["speaker"] == -1 for it in items)
    assert all(it["audio"].shape == (4000,) for it in items)
    assert [ds[(1, i)]["label"] for i in range(3)] == [1, 2, 0]  # each clip index moves to the next count
    fixed = CountDataset(corpus, "valid", counts=(1, 2), segment_length=4000, size=4, fixed=True)
    assert [fixed[(5, i)]["label"] for i in range(4)] == [0, 1, 0, 1]
    assert np.array_equal(fixed[(5, 1)]["audio"].numpy(), fixed[(0, 1)]["audio"].numpy())
    with pytest.raises(ConfigError, match="counts"):
        CountDataset(corpus, "train", counts=(0, 2))
