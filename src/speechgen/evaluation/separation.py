"""Separation metrics with the best permutation of the estimates: SI-SNR and its improvement over the mixture
(SI-SNRi), SDR and SDRi (torchmetrics' ``signal_distortion_ratio``: the BSS-eval SDR with a 512-tap distortion
filter), and speaker-count accuracy with its confusion matrix.

- SI-SNR (Le Roux et al. 2019): both signals made zero-mean; the target is the projection of the estimate on the
  reference, ``s = <ŝ, s> s / |s|²``; SI-SNR = ``10 log10(|s_target|² / |ŝ - s_target|²)``. It ignores the
  estimate's scale.
- Permutation invariance: for K sources every one of the K! orders of the estimates is scored (the mean over the
  sources of the pairwise metric) and the best one is kept (:func:`best_permutation`; K ≤ 5: 120 orders).
- SI-SNRi / SDRi: the metric of the estimates in the best order minus the metric of the mixture itself taken as
  every source's estimate.

Everything takes torch tensors ``[..., K, T]`` (estimates and references of the same shape) and works on
batches; :func:`pairwise` builds the ``[..., K, K]`` matrix the permutation search and the training loss share.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
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


def sdr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """BSS-eval signal-to-distortion ratio in dB (torchmetrics, 512-tap filter) over the last axis."""
    from torchmetrics.functional.audio import signal_distortion_ratio

    return signal_distortion_ratio(estimate.double(), reference.double()).to(estimate.dtype)


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


def separation_scores(estimates: torch.Tensor, references: torch.Tensor, mixture: torch.Tensor,
                      with_sdr: bool = True) -> dict[str, torch.Tensor]:
    """Per item (``[...]``): ``si_snr`` and ``si_snri`` (dB, best permutation by SI-SNR), and with ``with_sdr``
    ``sdr``/``sdri`` of the same order; ``order`` the permutation. ``mixture`` is ``[..., T]``."""
    matrix = pairwise(si_snr, estimates, references)
    best, order = best_permutation(matrix)
    mix = mixture.unsqueeze(-2).expand_as(references)
    out = {"si_snr": best, "si_snri": best - si_snr(mix, references).mean(dim=-1), "order": order}
    if with_sdr:
        ordered = reorder(estimates, order)
        value = sdr(ordered, references).mean(dim=-1)
        out.update(sdr=value, sdri=value - sdr(mix, references).mean(dim=-1))
    return out


def count_confusion(true: Sequence[int], predicted: Sequence[int], counts: Sequence[int]) -> dict[str, object]:
    """Speaker-count accuracy and the confusion matrix (rows: true count, columns: predicted; a prediction outside
    ``counts`` goes to an extra "other" column)."""
    if len(true) != len(predicted) or not true:
        raise DataError(f"count_confusion: expected equal, non-empty lists, got {len(true)} and {len(predicted)}")
    index = {c: i for i, c in enumerate(counts)}
    matrix = [[0] * (len(counts) + 1) for _ in counts]
    for t, p in zip(true, predicted):
        if t not in index:
            raise DataError(f"count_confusion: true count {t} is not one of {list(counts)}")
        matrix[index[t]][index.get(p, len(counts))] += 1
    correct = sum(int(t == p) for t, p in zip(true, predicted))
    return {"accuracy": correct / len(true), "counts": list(counts), "matrix": matrix,
            "columns": [str(c) for c in counts] + ["other"]}
