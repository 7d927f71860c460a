"""Conditioning inputs shared by conditional generators."""

from __future__ import annotations

import torch

from speechgen.errors import ConfigError


def check_labels(labels: torch.Tensor | None, n: int, n_classes: int, device: torch.device | str,
                 ) -> torch.Tensor | None:
    """Labels as a LongTensor ``[n]`` on ``device`` (None for unconditional models, which ignore ``labels``);
    ConfigError naming ``labels`` when they are missing, miscounted or out of ``0..n_classes - 1``."""
    if not n_classes:
        return None
    if labels is None:
        raise ConfigError(f"labels: this model is conditional on {n_classes} labels; give one per item")
    labels = torch.as_tensor(labels, dtype=torch.long, device=device).reshape(-1)
    if len(labels) != n:
        raise ConfigError(f"labels: expected {n}, got {len(labels)}")
    if n and (int(labels.min()) < 0 or int(labels.max()) >= n_classes):
        raise ConfigError(f"labels: must be in 0..{n_classes - 1}")
    return labels
