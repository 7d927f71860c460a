"""Separation metrics with the best permutation of the estimates: SI-SNR and its improvement over the mixture
(SI-SNRi), SDR and SDRi (torchmetrics' ``signal_distortion_ratio``: the BSS-eval SDR with a 512-tap distortion
filter), and speaker-count accuracy with its confusion matrix.

- SI-SNR and the best permutation: :mod:`speechgen.losses.separation` (the training loss shares them).
- SI-SNRi / SDRi: the metric of the estimates in the best order minus the metric of the mixture itself taken as
  every source's estimate.

Everything takes torch tensors ``[..., K, T]`` (estimates and references of the same shape) and works on
batches.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from speechgen.errors import DataError
from speechgen.losses.separation import best_permutation, pairwise, reorder, si_snr


def sdr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """BSS-eval signal-to-distortion ratio in dB (torchmetrics, 512-tap filter) over the last axis."""
    from torchmetrics.functional.audio import signal_distortion_ratio

    return signal_distortion_ratio(estimate.double(), reference.double()).to(estimate.dtype)


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
