"""Guided attention (Tachibana et al. 2018) and the alignment scores: about 0 on the diagonal, large on the
anti-diagonal, blind to padded positions; diagonality and focus in [0, 1]."""

import math

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.losses.attention import diagonality, focus, guided_attention_loss, guided_attention_weights


def _diagonal(t: int, n: int, anti: bool = False) -> torch.Tensor:
    """A one-hot alignment ``[T, N]`` along the diagonal (or the anti-diagonal)."""
    a = torch.zeros(t, n)
    for i in range(t):
        j = min(n - 1, int(i * n / t))
        a[i, n - 1 - j if anti else j] = 1.0
    return a


def test_weights_follow_the_formula_and_are_zero_on_padding():
    w = guided_attention_weights(torch.tensor([4, 2]), torch.tensor([6, 3]), 4, 6, width=0.2)
    assert w.shape == (2, 6, 4)
    n, t = 1, 3
    assert float(w[0, t, n]) == pytest.approx(1 - math.exp(-((n / 4 - t / 6) ** 2) / (2 * 0.2 ** 2)), rel=1e-5)
    assert float(w[0, 0, 0]) == 0.0
    assert float(w[1, 3:].abs().sum()) == 0.0 and float(w[1, :, 2:].abs().sum()) == 0.0


def test_diagonal_alignment_costs_about_nothing_and_the_anti_diagonal_much():
    t, n = 40, 10
    diag = _diagonal(t, n)[None]
    anti = _diagonal(t, n, anti=True)[None]
    lens_n, lens_t = torch.tensor([n]), torch.tensor([t])
    low = float(guided_attention_loss(diag, lens_n, lens_t))
    high = float(guided_attention_loss(anti, lens_n, lens_t))
    assert low < 0.05 and high > 0.5, (low, high)  # one-hot steps lag the diagonal by under 1/N
    assert float(diagonality(diag, lens_n, lens_t)) == pytest.approx(1 - low)
    assert float(focus(diag, lens_t)) == pytest.approx(1.0)
    uniform = torch.full((1, t, n), 1.0 / n)
    assert float(focus(uniform, lens_t)) == pytest.approx(1.0 / n)


def test_masked_lengths_are_respected():
    # item 1 is shorter: its diagonal is its own (6 steps over 3 inputs), and whatever sits in the padding is ignored
    a = torch.zeros(2, 12, 5)
    a[0] = _diagonal(12, 5)
    a[1, :6, :3] = _diagonal(6, 3)
    lens_n, lens_t = torch.tensor([5, 3]), torch.tensor([12, 6])
    base = float(guided_attention_loss(a, lens_n, lens_t))
    noisy = a.clone()
    noisy[1, 6:] = 0.2
    noisy[1, :, 3:] = 7.0
    assert float(guided_attention_loss(noisy, lens_n, lens_t)) == pytest.approx(base)
    assert base < 0.2  # three inputs: a coarse diagonal


def test_bad_lengths_and_width_are_refused():
    with pytest.raises(ConfigError, match="input_lengths"):
        guided_attention_weights(torch.tensor([5]), torch.tensor([3]), 4, 3)
    with pytest.raises(ConfigError, match="width"):
        guided_attention_weights(torch.tensor([2]), torch.tensor([3]), 4, 3, width=0.0)
