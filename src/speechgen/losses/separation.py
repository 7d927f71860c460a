"""The permutation-invariant SI-SNR of separated sources (the separation scheme's loss and the judge's metric):
SI-SNR, the pairwise matrix of a metric between estimates and references, and the best of the K! orders.

- SI-SNR (Le Roux et al. 2019): both signals made zero-mean; the target is the projection of the estimate on the
  reference, ``s = <ŝ, s> s / |s|²``; SI-SNR = ``10 log10(|s_target|² / |ŝ - s_target|²)``. It ignores the
  estimate's scale.
- Permutation invariance: for K sources every one of the K! orders of the estimates is scored (the mean over the
  sources of the pairwise metric) and the best one is kept (:func:`best_permutation`; K ≤ 5: 120 orders).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from functools import lru_cache

import torch

from speechgen.errors import DataError

EPS = 1e-8


def si_snr(estimate: torch.Tensor, reference: torch.Tensor, eps: float = EPS) -> torch.Tensor:
    """Scale-invariant SNR in dB of ``estimate`` against ``reference`` over the last axis (shapes broadcast)."""
    est = estimate - estimate.mean(dim=-1, keepdim=True)
    ref = reference - reference.mean(dim=-1, keepdim=True)
    scale = (est * ref).sum(dim=-1, keepdim=True) / (ref.square().sum(dim=-1, keepdim=True) + eps)
    target = scale * ref
    noise = est - target
    return 10.0 * torch.log10((target.square().sum(dim=-1) + eps) / (noise.square().sum(dim=-1) + eps))


def pairwise(metric: Callable[[torch.Tensor, torch.Tensor], torch.Tensor], estimates: torch.Tensor,
             references: torch.Tensor) -> torch.Tensor:
    """``[..., K, K]``: entry ``[i, j]`` is ``metric(estimates[..., i, :], references[..., j, :])``."""
    if estimates.shape != references.shape or estimates.ndim < 2:
        raise DataError(f"estimates {tuple(estimates.shape)} and references {tuple(references.shape)}: expected "
                        "the same shape [..., sources, samples]")
    return metric(estimates.unsqueeze(-2), references.unsqueeze(-3))


@lru_cache(maxsize=8)
def _orders(k: int) -> torch.Tensor:
    return torch.tensor(list(itertools.permutations(range(k))), dtype=torch.long)  # [K!, K]


def best_permutation(matrix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """For a ``[..., K, K]`` score matrix (estimate i vs reference j; higher is better): the best mean score
    ``[...]`` over the K! assignments and the order ``[..., K]`` (``order[j]`` = the estimate for reference j)."""
    k = matrix.shape[-1]
    orders = _orders(k).to(matrix.device)  # [P, K]: order[j] = estimate index for reference j
    ref = torch.arange(k, device=matrix.device)
    scores = matrix[..., orders, ref].mean(dim=-1)  # [..., P]
    best, which = scores.max(dim=-1)
    return best, orders[which]


def reorder(estimates: torch.Tensor, order: torch.Tensor) -> torch.Tensor:
    """``estimates [..., K, T]`` in ``order [..., K]`` (from :func:`best_permutation`)."""
    return torch.gather(estimates, -2, order.unsqueeze(-1).expand_as(estimates))
