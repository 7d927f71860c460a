"""Dual-path processing of long feature sequences (Luo, Chen & Yoshioka 2020, DPRNN), shared by the separators.

A sequence ``[B, N, T]`` is cut into chunks of ``K`` frames with 50 % overlap (:func:`chunk`: ``[B, N, K, S]``,
``S`` chunks); a dual-path block runs one sequence model along each chunk (intra-chunk, the ``K`` axis: local
structure) and one across chunks at each position (inter-chunk, the ``S`` axis: the whole utterance), each with a
residual connection and a global layer norm; :func:`overlap_add` puts the chunks back together. With ``K ≈ √(2T)``
both paths see sequences of about ``√T`` steps instead of one of ``T``.

The sequence models plug in as "row" modules mapping ``[batch, steps, N]`` to the same shape: :class:`BiLSTMRow`
(DPRNN's BiLSTM + linear) and :class:`MulCatRow` (Nachmani et al. 2020's multiply-and-concatenate block: two
BiLSTMs, one gating the other, concatenated with the input and projected back). :class:`WaveCodec` is the learned
analysis/synthesis pair (conv encoder, transposed-conv decoder) of the time-domain separators.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from speechgen.errors import ConfigError


def chunk(x: torch.Tensor, size: int) -> tuple[torch.Tensor, int]:
    """Chunks ``[B, N, size, S]`` of ``x [B, N, T]`` with hop ``size // 2`` (zero-padded by ``size // 2`` at the
    start and up to a whole hop at the end) and the padding added at the end (for :func:`overlap_add`)."""
    if size < 2 or size % 2:
        raise ConfigError(f"chunk size: expected an even number >= 2, got {size}")
    hop = size // 2
    b, n, t = x.shape
    rest = (hop - (t + 2 * hop - size) % hop) % hop  # so that the last chunk ends on the padded length
    x = F.pad(x, (hop, hop + rest))
    chunks = x.unfold(-1, size, hop)  # [B, N, S, size]
    return chunks.transpose(-1, -2).contiguous(), hop + rest


def overlap_add(chunks: torch.Tensor, length: int) -> torch.Tensor:
    """``[B, N, T]`` (``T = length``) from chunks ``[B, N, K, S]`` made by :func:`chunk` of a length-``T`` input:
    the overlapping halves are summed, then the padding is cut."""
    b, n, k, s = chunks.shape
    hop = k // 2
    total = (s - 1) * hop + k
    out = F.fold(chunks.reshape(b, n * k, s), output_size=(1, total), kernel_size=(1, k), stride=(1, hop))
    return out.reshape(b, n, total)[..., hop: hop + length]


class BiLSTMRow(nn.Module):
    """DPRNN's row model: a bidirectional LSTM (``hidden`` units each way) and a linear layer back to ``dim``.

    Args:
        dim: features per step (in and out).
        hidden: LSTM units per direction.
    """

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.rnn = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.rnn(x)[0])


class MulCatRow(nn.Module):
    """Multiply-and-concatenate row model (Nachmani et al. 2020): two bidirectional LSTMs read the input; one's
    projection gates the other's (elementwise product); the product is concatenated with the input and projected
    back to ``dim``.

    Args:
        dim: features per step (in and out).
        hidden: units per direction of each LSTM.
    """

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.rnn = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
        self.gate_rnn = nn.LSTM(dim, hidden, batch_first=True, bidirectional=True)
        self.proj = nn.Linear(2 * hidden, dim)
        self.gate_proj = nn.Linear(2 * hidden, dim)
        self.out = nn.Linear(2 * dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        gated = self.proj(self.rnn(x)[0]) * self.gate_proj(self.gate_rnn(x)[0])
        return self.out(torch.cat([gated, x], dim=-1))


class DualPathBlock(nn.Module):
    """One intra-chunk and one inter-chunk pass over ``[B, N, K, S]``, each ``x + norm(row(x))`` with a global
    layer norm (GroupNorm of one group over N, K and S).

    Args:
        dim: features N.
        make_row: builds a row model ``[batch, steps, dim] → same`` (called twice).
    """

    def __init__(self, dim: int, make_row: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.intra, self.inter = make_row(), make_row()
        self.intra_norm, self.inter_norm = nn.GroupNorm(1, dim, eps=1e-8), nn.GroupNorm(1, dim, eps=1e-8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, k, s = x.shape
        rows = x.permute(0, 3, 2, 1).reshape(b * s, k, n)  # each chunk along its K frames
        y = self.intra(rows).reshape(b, s, k, n).permute(0, 3, 2, 1)
        x = x + self.intra_norm(y)
        cols = x.permute(0, 2, 3, 1).reshape(b * k, s, n)  # each position across the S chunks
        y = self.inter(cols).reshape(b, k, s, n).permute(0, 3, 1, 2)
        return x + self.inter_norm(y)


class WaveCodec(nn.Module):
    """The learned analysis/synthesis pair of the time-domain separators: ``encode`` ``[B, T]`` → frames
    ``[B, N, F]`` (conv, stride ``kernel_size // 2``, ReLU; the input zero-padded to whole frames) and ``decode``
    frames ``[..., N, F]`` → ``[..., T]`` (transposed conv, cut to ``length``).

    Args:
        enc_dim: filters N.
        kernel_size: filter length in samples (even).
    """

    def __init__(self, enc_dim: int, kernel_size: int) -> None:
        super().__init__()
        if kernel_size < 2 or kernel_size % 2:
            raise ConfigError(f"kernel_size: expected an even number of samples >= 2, got {kernel_size}")
        self.kernel_size, self.stride = kernel_size, kernel_size // 2
        self.encoder = nn.Conv1d(1, enc_dim, kernel_size, self.stride, bias=False)
        self.decoder = nn.ConvTranspose1d(enc_dim, 1, kernel_size, self.stride, bias=False)

    def encode(self, wave: torch.Tensor) -> torch.Tensor:
        t = wave.shape[-1]
        frames = max(1, -(-(t - self.kernel_size) // self.stride) + 1)
        pad = (frames - 1) * self.stride + self.kernel_size - t
        return F.relu(self.encoder(F.pad(wave, (0, pad)).unsqueeze(1)))

    def decode(self, frames: torch.Tensor, length: int) -> torch.Tensor:
        lead = frames.shape[:-2]
        out = self.decoder(frames.reshape(-1, *frames.shape[-2:]))  # [*, 1, T']
        return out.reshape(*lead, out.shape[-1])[..., :length]
