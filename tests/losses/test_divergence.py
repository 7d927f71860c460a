"""KL and MMD against known answers."""

import math

import pytest
import torch

from speechgen.losses.divergence import kernel_matrix, kl_standard_normal, mmd


def test_kl_of_standard_normal_is_zero():
    mu, logvar = torch.zeros(5, 8), torch.zeros(5, 8)
    assert float(kl_standard_normal(mu, logvar)) == 0.0


def test_kl_closed_form_for_shifted_scaled_gaussian():
    # KL(N(m, s^2) || N(0, 1)) = 0.5 (m^2 + s^2 - 1 - log s^2) per dimension, summed over dimensions
    m, s2, d = 1.5, 0.25, 3
    mu = torch.full((2, d), m)
    logvar = torch.full((2, d), math.log(s2))
    expect = d * 0.5 * (m * m + s2 - 1 - math.log(s2))
    assert kl_standard_normal(mu, logvar).item() == pytest.approx(expect, rel=1e-6)
    per = kl_standard_normal(mu, logvar, reduction="none")
    assert per.shape == (2,) and kl_standard_normal(mu, logvar, reduction="sum").item() == pytest.approx(2 * expect)


def test_kl_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        kl_standard_normal(torch.zeros(2, 3), torch.zeros(2, 4))


@pytest.mark.parametrize("kernel", ["imq", "rbf"])
def test_mmd_small_for_same_distribution_and_grows_with_mean_shift(kernel):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 4, generator=g)
    y = torch.randn(256, 4, generator=g)
    same = mmd(x, x, kernel).item()
    iid = mmd(x, y, kernel).item()
    shifts = [mmd(x, y + s, kernel).item() for s in (0.5, 1.0, 2.0)]
    # a set against itself: the unbiased estimator leaves only the diagonal's O(1/n) share, -2 (k(x,x) - mean) / n
    assert abs(same) < 2 * 7 / len(x)
    assert abs(iid) < 0.05
    assert shifts[0] > 5 * max(abs(same), abs(iid))
    assert iid < shifts[0] < shifts[1] < shifts[2]


def test_mmd_is_unbiased_around_zero():
    # over many independent pairs of same-distribution samples, the estimates average to ~0 and take both signs
    g = torch.Generator().manual_seed(1)
    vals = torch.tensor([mmd(torch.randn(16, 2, generator=g), torch.randn(16, 2, generator=g)).item()
                         for _ in range(200)])
    assert (vals < 0).any() and (vals > 0).any()
    assert abs(vals.mean().item()) < 3 * vals.std().item() / math.sqrt(len(vals))


def test_kernel_scales():
    a, b = torch.zeros(1, 2), torch.tensor([[1.0, 1.0]])  # squared distance 2, d = 2: base C = 2 * 2 * 1 = 4
    assert kernel_matrix(a, b, "imq", scales=[1.0]).item() == pytest.approx(4 / (4 + 2))
    assert kernel_matrix(a, b, "imq", scales=[0.5, 2.0]).item() == pytest.approx(2 / 4 + 8 / 10)
    assert kernel_matrix(a, b, "rbf", scales=[1.0]).item() == pytest.approx(math.exp(-2 / 4))
    assert kernel_matrix(a, b, "imq", scales=[1.0], sigma2=2.0).item() == pytest.approx(8 / 10)
    assert kernel_matrix(a, a, "imq", scales=[0.1, 1.0, 10.0]).item() == pytest.approx(3.0)  # k(x, x) = 1 per scale
    with pytest.raises(ValueError):
        kernel_matrix(a, b, "poly")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        mmd(torch.zeros(1, 2), torch.zeros(3, 2))
