"""Separation metrics: SI-SNR known answers, parity with torchmetrics (SI-SNR and its permutation-invariant
helper), the best permutation, SI-SNRi of a perfect and of a do-nothing separator, the count confusion matrix."""

from __future__ import annotations

import itertools

import pytest
import torch
from torchmetrics.functional.audio import (permutation_invariant_training,
                                           scale_invariant_signal_noise_ratio)

from speechgen.errors import DataError
from speechgen.evaluation.separation import count_confusion, separation_scores
from speechgen.losses.separation import best_permutation, pairwise, reorder, si_snr


def test_si_snr_known_answers_and_scale_invariance():
    g = torch.Generator().manual_seed(0)
    s = torch.randn(4000, generator=g)
    n = torch.randn(4000, generator=g)
    n = n - (n @ (s - s.mean())) / ((s - s.mean()) @ (s - s.mean())) * (s - s.mean())  # orthogonal noise
    n = n - n.mean()
    for snr_db in (-5.0, 0.0, 12.0):
        est = s + n * ((s - s.mean()).norm() / n.norm()) * 10 ** (-snr_db / 20)
        assert float(si_snr(est, s)) == pytest.approx(snr_db, abs=1e-3)
        assert float(si_snr(3.7 * est + 0.2, s)) == pytest.approx(snr_db, abs=1e-3)
    assert float(si_snr(s, s)) > 60


def test_parity_with_torchmetrics():
    g = torch.Generator().manual_seed(1)
    ref = torch.randn(6, 3, 2000, generator=g)
    est = ref[:, [2, 0, 1]] + 0.5 * torch.randn(6, 3, 2000, generator=g)
    torch.testing.assert_close(si_snr(est, ref), scale_invariant_signal_noise_ratio(est, ref), atol=1e-3, rtol=0)
    best, order = best_permutation(pairwise(si_snr, est, ref))
    tm_best, tm_perm = permutation_invariant_training(est, ref, scale_invariant_signal_noise_ratio,
                                                       mode="speaker-wise", eval_func="max")
    torch.testing.assert_close(best, tm_best, atol=1e-3, rtol=0)
    assert (order == torch.tensor([1, 2, 0])).all() and (tm_perm == order).all()
    torch.testing.assert_close(reorder(est, order), est[:, [1, 2, 0]])


def test_best_permutation_searches_every_order():
    g = torch.Generator().manual_seed(2)
    m = torch.randn(5, 4, 4, generator=g)
    best, order = best_permutation(m)
    for b in range(5):
        brute = max(sum(float(m[b, p[j], j]) for j in range(4)) / 4 for p in itertools.permutations(range(4)))
        assert float(best[b]) == pytest.approx(brute, abs=1e-6)
        assert float(m[b, order[b], torch.arange(4)].mean()) == pytest.approx(brute, abs=1e-6)


def test_improvement_of_a_perfect_and_a_useless_separator():
    g = torch.Generator().manual_seed(3)
    ref = torch.randn(2, 2, 8000, generator=g)
    mix = ref.sum(dim=1)
    perfect = separation_scores(ref.flip(1), ref, mix)
    assert (perfect["si_snri"] > 40).all() and (perfect["order"] == torch.tensor([1, 0])).all()
    assert (perfect["sdri"] > 20).all()
    useless = separation_scores(mix.unsqueeze(1).repeat(1, 2, 1), ref, mix, with_sdr=False)
    torch.testing.assert_close(useless["si_snri"], torch.zeros(2), atol=1e-4, rtol=0)
    with pytest.raises(DataError, match="same shape"):
        separation_scores(ref[:, :1], ref, mix)


def test_count_confusion():
    out = count_confusion([1, 1, 2, 2, 3], [1, 2, 2, 2, 5], [1, 2, 3])
    assert out["accuracy"] == pytest.approx(0.6)
    assert out["matrix"] == [[1, 1, 0, 0], [0, 2, 0, 0], [0, 0, 0, 1]] and out["columns"][-1] == "other"
    with pytest.raises(DataError, match="true count 4"):
        count_confusion([4], [4], [1, 2])


def test_score_split_of_an_oracle_and_a_copying_separator(tmp_path):
    import numpy as np

    from speechgen.audio.io import load
    from speechgen.data.manifest import Manifest
    from speechgen.data.mixtures import build_mixtures, source_paths
    from speechgen.evaluation.separation import score_split

    from ..conftest import write_toy_manifest

    toy = write_toy_manifest(tmp_path / "toy", per=1, splits={"train": ("a",), "valid": ("b", "c"),
                                                              "test": ("d", "e")})
    m = build_mixtures(toy, tmp_path / "mix", [2], n=3)
    truth = {load(m.resolve(r), 16000)[0].tobytes(): np.stack([load(p, 16000)[0] for p in source_paths(m, r)])
             for r in m.select("test")}
    oracle = score_split(lambda mix: truth[mix.tobytes()][::-1], m, "test", with_sdr=False)
    assert oracle["per_count"]["2"]["n"] == 3 and oracle["per_count"]["2"]["si_snri"] > 30
    copy = score_split(lambda mix: np.stack([mix, mix]), m, "test", with_sdr=False)
    assert abs(copy["per_count"]["2"]["si_snri"]) < 1e-3 and "intelligibility" not in copy
    with pytest.raises(DataError, match="no mixture of split 'test' has the separator's source count"):
        score_split(lambda mix: mix[None], m, "test")
    assert isinstance(Manifest.read(tmp_path / "mix"), Manifest)
