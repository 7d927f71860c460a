"""Divergences between distributions: the analytic KL of a diagonal Gaussian to N(0, I) (VAE) and the maximum
mean discrepancy between two sample sets (WAE-MMD, Tolstikhin et al. 2018).

MMD kernels, for points ``a, b`` in R^d and a base scale ``C0 = 2 · d · sigma2`` (``sigma2``: the variance of the
prior the codes are compared with, 1 for N(0, I)), summed over the scales ``s`` of ``scales`` with ``C = s · C0``:

- ``"imq"``, the inverse multiquadratics kernel of the WAE paper: ``k(a, b) = C / (C + ||a - b||^2)``;
- ``"rbf"``, the Gaussian kernel: ``k(a, b) = exp(-||a - b||^2 / C)``.

:func:`mmd` is the unbiased U-statistic estimator of MMD^2 (it can be slightly negative for close distributions).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

#: The WAE paper's set of kernel scales (multiples of ``2 · d · sigma2``).
DEFAULT_SCALES: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0)


def kl_standard_normal(mu: torch.Tensor, logvar: torch.Tensor,
                       reduction: Literal["mean", "sum", "none"] = "mean") -> torch.Tensor:
    """KL(N(mu, diag(exp(logvar))) || N(0, I)) summed over the latent dimensions (all but the first axis).

    ``reduction``: "mean" over the batch (default), "sum" over the batch, or "none" (one value per item).
    """
    if mu.shape != logvar.shape:
        raise ValueError(f"mu and logvar must have the same shape, got {tuple(mu.shape)} and {tuple(logvar.shape)}")
    per_item = 0.5 * (mu.pow(2) + logvar.exp() - 1.0 - logvar).flatten(1).sum(dim=1)
    if reduction == "none":
        return per_item
    return per_item.sum() if reduction == "sum" else per_item.mean()


def _sq_dists(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Squared Euclidean distances ``[len(a), len(b)]`` (clamped at 0 against round-off)."""
    d = a.pow(2).sum(1, keepdim=True) + b.pow(2).sum(1)[None, :] - 2.0 * a @ b.T
    return d.clamp_min(0.0)


def kernel_matrix(a: torch.Tensor, b: torch.Tensor, kernel: Literal["imq", "rbf"] = "imq",
                  scales: Sequence[float] = DEFAULT_SCALES, sigma2: float = 1.0) -> torch.Tensor:
    """Sum over ``scales`` of the kernel between every row of ``a`` and of ``b`` (see the module docstring)."""
    if kernel not in ("imq", "rbf"):
        raise ValueError(f"kernel: expected 'imq' or 'rbf', got {kernel!r}")
    if not scales or min(scales) <= 0 or sigma2 <= 0:
        raise ValueError(f"scales and sigma2 must be positive, got {list(scales)} and {sigma2}")
    a, b = a.flatten(1), b.flatten(1)
    d2 = _sq_dists(a, b)
    base = 2.0 * a.shape[1] * sigma2
    out = torch.zeros_like(d2)
    for s in scales:
        c = float(s) * base
        out = out + (c / (c + d2) if kernel == "imq" else torch.exp(-d2 / c))
    return out


def mmd(x: torch.Tensor, y: torch.Tensor, kernel: Literal["imq", "rbf"] = "imq",
        scales: Sequence[float] = DEFAULT_SCALES, sigma2: float = 1.0) -> torch.Tensor:
    """Unbiased estimate of MMD^2 between samples ``x [n, ...]`` and ``y [m, ...]`` (n, m >= 2).

    ``sigma2`` is the variance of the reference distribution per dimension (1 for N(0, I)); it sets the kernel
    scales ``C = s · 2 · d · sigma2`` for each ``s`` of ``scales``.
    """
    n, m = len(x), len(y)
    if n < 2 or m < 2:
        raise ValueError(f"mmd: needs at least 2 samples on each side, got {n} and {m}")
    if x[0].numel() != y[0].numel():
        raise ValueError(f"mmd: samples differ in size ({x[0].numel()} vs {y[0].numel()})")
    kxx = kernel_matrix(x, x, kernel, scales, sigma2)
    kyy = kernel_matrix(y, y, kernel, scales, sigma2)
    kxy = kernel_matrix(x, y, kernel, scales, sigma2)
    sxx = (kxx.sum() - kxx.diagonal().sum()) / (n * (n - 1))
    syy = (kyy.sum() - kyy.diagonal().sum()) / (m * (m - 1))
    return sxx + syy - 2.0 * kxy.mean()
