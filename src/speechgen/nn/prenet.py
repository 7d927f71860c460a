"""The pre-net of Tacotron-style models (Wang et al. 2017): fully connected layers, each ReLU then dropout.

:class:`Prenet` is the bottleneck in front of Tacotron's encoder (dropout in training only) and of its decoder,
whose dropout stays on at inference too (``always=True``: Tacotron 2's source of variation between utterances, and
the usual choice for Tacotron since). Masks are drawn from a given CPU ``generator`` (the same seed, the same
masks) or from torch's global generator.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn

from speechgen.errors import ConfigError


def dropout_layers(layers: Sequence[nn.Module], x: torch.Tensor, p: float,
                   generator: torch.Generator | None = None) -> torch.Tensor:
    """``x`` through each of ``layers``, then ReLU and dropout ``p`` (always on; 0: none), its masks from
    ``generator`` (on the CPU) when given, else from torch's global generator."""
    for layer in layers:
        x = F.relu(layer(x))
        if p == 0.0:
            continue
        if generator is None:
            x = F.dropout(x, p, training=True)
        else:
            keep = torch.rand(x.shape, generator=generator) >= p
            x = x * keep.to(device=x.device, dtype=x.dtype) / (1.0 - p)
    return x


class Prenet(nn.Module):
    """FC-ReLU-dropout layers (module docstring).

    Args:
        in_dim: width of the input.
        sizes: units of each layer (Tacotron: 256, 128).
        dropout: dropout probability after every layer, in [0, 1) (0.5).
    """

    def __init__(self, in_dim: int, sizes: Sequence[int], dropout: float = 0.5) -> None:
        super().__init__()
        dims = [in_dim, *sizes]
        for d in dims:
            if isinstance(d, bool) or not isinstance(d, int) or d < 1:
                raise ConfigError(f"prenet: layer sizes must be integers >= 1, got {list(dims)}")
        if not sizes:
            raise ConfigError("prenet: needs at least one layer")
        if isinstance(dropout, bool) or not 0.0 <= float(dropout) < 1.0:
            raise ConfigError(f"prenet dropout: expected a probability in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.layers = nn.ModuleList(nn.Linear(a, b) for a, b in pairwise(dims))
        self.out_dim = dims[-1]

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None, always: bool = False,
                ) -> torch.Tensor:
        """``[..., in_dim]`` → ``[..., out_dim]``. Dropout in training, and at inference too with ``always``;
        its masks from ``generator`` (on the CPU) when given, else from torch's global generator."""
        return dropout_layers(self.layers, x, self.dropout if self.training or always else 0.0, generator)
