"""Dual-path RNN (Luo, Chen & Yoshioka 2020), the masking baseline of the separation table: the same encoder,
chunking and dual-path stack as :class:`~speechgen.models.mulcat_separator.MulCatSeparator`, with plain BiLSTM rows,
one output after the last block and a mask per source on the encoder frames.

- Encoder: 1-D conv (``enc_dim`` filters of ``kernel_size`` samples, stride ``kernel_size // 2``), ReLU; global
  layer norm and a 1×1 conv to ``bottleneck`` features.
- ``blocks`` dual-path blocks of BiLSTM rows (``hidden`` units each way) over chunks of ``chunk_size`` frames.
- PReLU, 1×1 conv to ``n_sources × bottleneck``, overlap-add, then per source a 1×1 conv back to ``enc_dim`` and a
  ReLU: the mask multiplies the encoder frames, and the shared transposed-conv decoder makes the waveform.

Paper size (WSJ0-2mix, 8 kHz): ``enc_dim`` 64, ``bottleneck`` 64, ``hidden`` 128, ``blocks`` 6, ``kernel_size`` 2,
``chunk_size`` 250 (2.6 M parameters); the separation recipes size it to the MulCat model they are compared with.
"""

from __future__ import annotations

import torch
from torch import nn

from speechgen.errors import ConfigError
from speechgen.models.checks import check_int
from speechgen.models.roles import SEPARATOR
from speechgen.nn.dual_path import BiLSTMRow, DualPathBlock, WaveCodec, chunk, overlap_add


class DPRNN(nn.Module):
    """Dual-path RNN separator with masks (see the module docstring).

    Args:
        sample_rate: rate of the mixtures in Hz.
        n_sources: sources the model separates.
        enc_dim: encoder filters.
        bottleneck: features of the dual-path network.
        kernel_size: encoder filter length in samples (even; stride is half of it).
        hidden: BiLSTM units per direction in each row.
        blocks: dual-path blocks.
        chunk_size: frames per chunk (even; 50 % overlap).
    """

    roles = (SEPARATOR,)

    def __init__(self, sample_rate: int = 16000, n_sources: int = 2, enc_dim: int = 64, bottleneck: int = 64,
                 kernel_size: int = 2, hidden: int = 128, blocks: int = 6, chunk_size: int = 250) -> None:
        super().__init__()
        self.sample_rate = check_int("sample_rate", sample_rate)
        self.n_sources = check_int("n_sources", n_sources)
        self.enc_dim, self.bottleneck = check_int("enc_dim", enc_dim), check_int("bottleneck", bottleneck)
        self.chunk_size = check_int("chunk_size", chunk_size, 2, even=True)
        hidden, blocks = check_int("hidden", hidden), check_int("blocks", blocks)
        self.codec = WaveCodec(enc_dim, check_int("kernel_size", kernel_size, 2, even=True))
        self.norm = nn.GroupNorm(1, enc_dim, eps=1e-8)
        self.down = nn.Conv1d(enc_dim, bottleneck, 1)
        self.layers = nn.Sequential(*(DualPathBlock(bottleneck, lambda: BiLSTMRow(bottleneck, hidden))
                                      for _ in range(blocks)))
        self.head = nn.Sequential(nn.PReLU(), nn.Conv2d(bottleneck, n_sources * bottleneck, 1))
        self.up = nn.Conv1d(bottleneck, enc_dim, 1)

    def forward(self, mixture: torch.Tensor, every_block: bool = False) -> list[torch.Tensor]:
        """Source estimates ``[B, n_sources, T]`` of mixtures ``[B, T]`` (a list of one: DPRNN has one output; the
        argument matches the separators that have one per block)."""
        if mixture.ndim != 2:
            raise ConfigError(f"mixture: expected [batch, samples], got shape {tuple(mixture.shape)}")
        length = mixture.shape[-1]
        w = self.codec.encode(mixture)  # [B, N, F]
        b, _, frames = w.shape
        x, _ = chunk(self.down(self.norm(w)), self.chunk_size)
        x = self.head(self.layers(x))  # [B, C * bottleneck, K, S]
        y = overlap_add(x.reshape(b * self.n_sources, self.bottleneck, *x.shape[-2:]), frames)
        masks = torch.relu(self.up(y)).reshape(b, self.n_sources, self.enc_dim, frames)
        return [self.codec.decode(masks * w.unsqueeze(1), length)]

    @torch.no_grad()
    def separate(self, mixture: torch.Tensor) -> torch.Tensor:
        """Estimates ``[B, n_sources, T]`` of mixtures ``[B, T]``."""
        return self(mixture)[-1]
