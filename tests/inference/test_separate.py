"""Separating long inputs: windows keep one source order from start to end, cross-fades leave a clean signal
whole, outputs are scaled to the mixture's peak, bad windows are refused."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from speechgen.errors import ConfigError
from speechgen.inference.separate import separate_long


class Splitter(nn.Module):
    """A perfect separator of a low and a high tone (moving averages) that swaps its outputs on every other call."""

    sample_rate, n_sources = 1000, 2

    def __init__(self) -> None:
        super().__init__()
        self.calls = 0
        self.dummy = nn.Parameter(torch.zeros(1))

    def separate(self, x: torch.Tensor) -> torch.Tensor:
        low = torch.nn.functional.avg_pool1d(x[:, None], 9, 1, 4, count_include_pad=False)[:, 0]
        out = torch.stack([low, x - low], dim=1)
        self.calls += 1
        return out.flip(1) if self.calls % 2 == 0 else out


def test_windows_keep_one_order_and_sum_back():
    t = np.arange(12000) / 1000
    low, high = np.sin(2 * np.pi * 7 * t), 0.5 * np.sin(2 * np.pi * 400 * t)
    model = Splitter()
    out = separate_long(model, (low + high).astype(np.float32), window=2.0, overlap=0.5)
    assert model.calls > 6 and out.shape == (2, 12000)
    corr = [abs(np.corrcoef(out[0, a:a + 1000], low[a:a + 1000])[0, 1]) for a in range(0, 12000, 1000)]
    assert min(corr) > 0.95  # source 1 is the low tone in every second, although every other window swapped
    whole = separate_long(Splitter(), (low + high).astype(np.float32), window=20.0)
    assert np.abs(whole).max() == pytest.approx(np.abs(low + high).max(), rel=1e-5)
    np.testing.assert_allclose(out[0] / np.abs(out[0]).max(), whole[0] / np.abs(whole[0]).max(), atol=0.02)


def test_bad_windows_are_refused():
    for window, overlap in ((0.0, 0.0), (2.0, 1.5), (2.0, -0.1)):
        with pytest.raises(ConfigError, match="--window/--overlap"):
            separate_long(Splitter(), np.zeros(100, np.float32), window, overlap)
