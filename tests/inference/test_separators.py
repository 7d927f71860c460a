"""Separators: one separator per voice count, a counter to choose among them, and the checks that refuse a set that
cannot serve every count."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.inference.separate import Separators


class FakeSeparator(torch.nn.Module):
    def __init__(self, k: int, rate: int = 16000) -> None:
        super().__init__()
        self.n_sources, self.sample_rate = k, rate
        self.w = torch.nn.Parameter(torch.ones(()))

    def separate(self, mixture: torch.Tensor) -> torch.Tensor:
        return torch.stack([mixture * (i + 1) for i in range(self.n_sources)], dim=1)


class FakeCounter(torch.nn.Module):
    def __init__(self, counts=(1, 2, 3), said: int = 2, rate: int = 16000) -> None:
        super().__init__()
        self.counts, self.said, self.sample_rate = tuple(counts), said, rate
        self.w = torch.nn.Parameter(torch.ones(()))

    def count(self, mixture: torch.Tensor) -> torch.Tensor:
        return torch.full((mixture.shape[0],), self.said)


@pytest.mark.parametrize("said", [1, 2, 3])
def test_the_counted_separator_runs(said):
    x = np.random.default_rng(0).standard_normal(1600).astype(np.float32) * 0.1
    run = Separators([FakeSeparator(3), FakeSeparator(2)], FakeCounter(said=said))
    out = run(x)
    assert out.shape == (said, 1600)
    if said == 1:
        assert np.array_equal(out[0], x)  # one voice: the mixture itself, untouched


def test_one_separator_needs_no_counter():
    run = Separators([FakeSeparator(2)])
    assert run.count(np.zeros(10, np.float32)) == 2 and run(np.ones(1600, np.float32)).shape == (2, 1600)


@pytest.mark.parametrize("models, counter, needle", [
    ([], None, "at least one"),
    ([FakeSeparator(2), FakeSeparator(2)], FakeCounter(), "two of 2 voices"),
    ([FakeSeparator(2), FakeSeparator(3)], None, "give --counter"),
    ([FakeSeparator(2)], FakeCounter((1, 2, 3)), "separator of 3 voices too"),
    ([FakeSeparator(2), FakeSeparator(3, 8000)], FakeCounter(), "sample rates differ"),
])
def test_sets_that_cannot_serve_every_count_are_refused(models, counter, needle):
    with pytest.raises(ConfigError, match=needle):
        Separators(models, counter)


def test_the_api_takes_several_separators_and_a_counter():
    from speechgen import api

    x = np.random.default_rng(1).standard_normal(3200).astype(np.float32) * 0.1
    out = api.separate([FakeSeparator(2), FakeSeparator(3)], x, 16000, counter=FakeCounter(said=3))
    assert out.shape == (3, 3200)
    assert api.separate(FakeSeparator(2), np.stack([x, x]), 32000).shape == (2, 1600)  # stereo at 32 kHz in
