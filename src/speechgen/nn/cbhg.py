"""CBHG (Lee, Cho & Hofmann 2017, "Fully character-level neural machine translation without explicit segmentation";
Tacotron's encoder and post-net, Wang et al. 2017): a 1-D Convolution Bank, Highway layers and a bidirectional GRU.

For a sequence ``x [B, T, in_dim]`` (each item ``lengths[b]`` steps long):

1. **bank**: ``bank_size`` = K convolutions of widths 1, 2, ..., K (``bank_channels`` each, batch norm, ReLU), all
   on ``x`` and stacked along the channels: K · bank_channels channels that model unigrams up to K-grams ("same"
   padding: an even width reaches one step further right than left);
2. **max-pool** over time, width 2, stride 1 (the length is kept: step ``t`` is ``max(t, t + 1)``);
3. **projections**: width-3 convolutions of ``projections`` channels (batch norm; ReLU but for the last, which is
   linear and has ``in_dim`` channels), added to ``x`` (the **residual**);
4. **highway** layers (Srivastava et al. 2015): ``y = H(x) · T(x) + x · (1 - T(x))``, ``H`` a ReLU layer and ``T``
   a sigmoid gate (bias -1 at the start: the layers begin close to the identity), ``highway_dim`` wide (a linear
   layer maps ``in_dim`` to it first when they differ);
5. a **bidirectional GRU** of ``gru_dim`` units each way: the output ``[B, T, 2 · gru_dim]``.

Padding never leaks into the true steps: padded steps are zeroed before every convolution (what a lone sequence's
"same" padding holds), the max-pool treats them as minus infinity (a lone sequence's pooling padding), and the GRU
reads packed sequences; padded steps of the output are zero. So in eval mode (batch norm's running statistics) a
sequence encodes the same alone or in a padded batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from speechgen.errors import ConfigError
from speechgen.nn.attention import length_mask


def _positive(name: str, value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}: expected an integer >= 1, got {value!r}")
    return int(value)


class BatchNormConv1d(nn.Module):
    """Conv1d with "same" padding (``(k - 1) // 2`` left, ``k // 2`` right, zeros; no bias) → batch norm → ReLU
    (or nothing with ``relu=False``)."""

    def __init__(self, c_in: int, c_out: int, kernel: int, relu: bool = True) -> None:
        super().__init__()
        self.kernel = kernel
        self.conv = nn.Conv1d(c_in, c_out, kernel, bias=False)
        self.norm = nn.BatchNorm1d(c_out)
        self.relu = relu

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k = self.kernel
        x = self.norm(self.conv(F.pad(x, ((k - 1) // 2, k // 2))))
        return F.relu(x) if self.relu else x


class Highway(nn.Module):
    """One highway layer: ``relu(W_H x) · σ(W_T x) + x · (1 - σ(W_T x))`` (the gate's bias starts at -1)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.h = nn.Linear(dim, dim)
        self.t = nn.Linear(dim, dim)
        nn.init.constant_(self.t.bias, -1.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gate = torch.sigmoid(self.t(x))
        return F.relu(self.h(x)) * gate + x * (1.0 - gate)


class CBHG(nn.Module):
    """Convolution bank, highway layers, bidirectional GRU (see the module docstring).

    Args:
        in_dim: width of the input steps.
        bank_size: K, the widest convolution of the bank (16 in Tacotron's encoder, 8 in its post-net).
        bank_channels: channels of each bank convolution (128).
        projections: channels of the projection convolutions; the last must be ``in_dim`` (the residual): (128,
            128) in Tacotron's encoder, (256, 80) in its post-net.
        highway_layers: highway layers (4).
        highway_dim: their width (128).
        gru_dim: GRU units each way (128); the output has twice as many.
    """

    def __init__(self, in_dim: int, bank_size: int = 16, bank_channels: int = 128,
                 projections: Sequence[int] = (128, 128), highway_layers: int = 4, highway_dim: int = 128,
                 gru_dim: int = 128) -> None:
        super().__init__()
        in_dim = _positive("in_dim", in_dim)
        bank_size = _positive("bank_size", bank_size)
        bank_channels = _positive("bank_channels", bank_channels)
        highway_dim = _positive("highway_dim", highway_dim)
        gru_dim = _positive("gru_dim", gru_dim)
        projections = [_positive("projections", p) for p in projections]
        if not projections or projections[-1] != in_dim:
            raise ConfigError(f"projections: the last projection must have the input's {in_dim} channels (the "
                              f"residual), got {projections}")
        if isinstance(highway_layers, bool) or not isinstance(highway_layers, int) or highway_layers < 0:
            raise ConfigError(f"highway_layers: expected an integer >= 0, got {highway_layers!r}")
        self.in_dim, self.out_dim = in_dim, 2 * gru_dim
        self.bank = nn.ModuleList(BatchNormConv1d(in_dim, bank_channels, k) for k in range(1, bank_size + 1))
        widths = [bank_size * bank_channels, *projections]
        self.projections = nn.ModuleList(
            BatchNormConv1d(a, b, 3, relu=i < len(projections) - 1)
            for i, (a, b) in enumerate(pairwise(widths)))
        self.pre_highway = nn.Linear(in_dim, highway_dim, bias=False) if highway_dim != in_dim else None
        self.highways = nn.ModuleList(Highway(highway_dim) for _ in range(highway_layers))
        self.gru = nn.GRU(highway_dim, gru_dim, batch_first=True, bidirectional=True)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor | None = None) -> torch.Tensor:
        """``[B, T, in_dim]`` (``lengths`` ``[B]`` true steps; None: all T) → ``[B, T, 2 · gru_dim]``, zero at the
        padded steps."""
        if x.ndim != 3 or x.shape[-1] != self.in_dim:
            raise ConfigError(f"CBHG input: expected [batch, steps, {self.in_dim}], got {list(x.shape)}")
        b, t, _ = x.shape
        if lengths is None:
            lengths = torch.full((b,), t, dtype=torch.long)
        lengths = torch.as_tensor(lengths, dtype=torch.long).reshape(-1).cpu()
        mask = length_mask(lengths.to(x.device), t)[:, None, :]  # [B, 1, T] True at padded steps
        y = x.transpose(1, 2).masked_fill(mask, 0.0)
        y = torch.cat([conv(y) for conv in self.bank], dim=1)
        y = F.max_pool1d(F.pad(y.masked_fill(mask, float("-inf")), (0, 1), value=float("-inf")), 2, stride=1)
        for conv in self.projections:
            y = conv(y.masked_fill(mask, 0.0))
        y = y.transpose(1, 2) + x
        if self.pre_highway is not None:
            y = self.pre_highway(y)
        for layer in self.highways:
            y = layer(y)
        packed = pack_padded_sequence(y, lengths, batch_first=True, enforce_sorted=False)
        out, _ = self.gru(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=t)
        return out
