"""Voice separation with an unknown number of multiple speakers (Nachmani, Adi & Wolf 2020): a dual-path network
of multiply-and-concatenate (MulCat) blocks that separates a mixture straight into waveforms, one model per speaker
count (the count is chosen by :mod:`speechgen.inference.separate`).

- Encoder: a 1-D conv of ``enc_dim`` filters of ``kernel_size`` samples, stride ``kernel_size // 2``, ReLU.
- Separator: the encoder frames cut into chunks of ``chunk_size`` frames with 50 % overlap
  (:mod:`speechgen.nn.dual_path`), then ``blocks`` dual-path blocks whose intra- and inter-chunk models are MulCat
  rows (two BiLSTMs of ``hidden`` units each way, one gating the other, concatenated with the input, projected).
- After **every** block an output head (PReLU, 1×1 conv to ``n_sources × enc_dim``), overlap-add back to frames and
  the decoder (a transposed conv sharing the encoder's geometry) give a full estimate of the sources, not a mask: the
  paper trains each block's estimate with the permutation-invariant SI-SNR loss, so deeper blocks refine
  shallower ones, and the last block's estimate is the answer.

Paper size (WSJ0-mix, 8 kHz): ``enc_dim`` 128, ``kernel_size`` 8, ``hidden`` 128, ``blocks`` 6, ``chunk_size``
100 (7.5 M parameters at 2 speakers); at 16 kHz the recipes double the filter to 16 samples (1 ms, as in the paper).
"""

from __future__ import annotations

import torch
from torch import nn

from speechgen.errors import ConfigError
from speechgen.models.checks import check_int
from speechgen.models.roles import SEPARATOR
from speechgen.nn.dual_path import DualPathBlock, MulCatRow, WaveCodec, chunk, overlap_add


class MulCatSeparator(nn.Module):
    """Dual-path MulCat separator (see the module docstring).

    Args:
        sample_rate: rate of the mixtures in Hz.
        n_sources: sources the model separates (one model per count).
        enc_dim: encoder filters (features N of the dual-path network).
        kernel_size: encoder filter length in samples (even; stride is half of it).
        hidden: LSTM units per direction in each MulCat row.
        blocks: dual-path MulCat blocks (each with its own output head).
        chunk_size: frames per chunk (even; 50 % overlap).
    """

    roles = (SEPARATOR,)

    def __init__(self, sample_rate: int = 16000, n_sources: int = 2, enc_dim: int = 128, kernel_size: int = 8,
                 hidden: int = 128, blocks: int = 6, chunk_size: int = 100) -> None:
        super().__init__()
        self.sample_rate = check_int("sample_rate", sample_rate)
        self.n_sources = check_int("n_sources", n_sources)
        self.enc_dim, self.blocks = check_int("enc_dim", enc_dim), check_int("blocks", blocks)
        self.chunk_size = check_int("chunk_size", chunk_size, 2, even=True)
        hidden = check_int("hidden", hidden)
        self.codec = WaveCodec(self.enc_dim, check_int("kernel_size", kernel_size, 2, even=True))
        self.layers = nn.ModuleList(DualPathBlock(enc_dim, lambda: MulCatRow(enc_dim, hidden)) for _ in range(blocks))
        self.heads = nn.ModuleList(nn.Sequential(nn.PReLU(), nn.Conv2d(enc_dim, n_sources * enc_dim, 1))
                                   for _ in range(blocks))

    def _estimate(self, head: nn.Module, x: torch.Tensor, frames: int, length: int) -> torch.Tensor:
        b, _, k, s = x.shape
        y = head(x).reshape(b * self.n_sources, self.enc_dim, k, s)
        y = overlap_add(y, frames).reshape(b, self.n_sources, self.enc_dim, frames)
        return self.codec.decode(y, length)

    def forward(self, mixture: torch.Tensor, every_block: bool = True) -> list[torch.Tensor]:
        """Source estimates ``[B, n_sources, T]`` of mixtures ``[B, T]`` after every block (``every_block``; the
        training loss reads them all) or after the last one only (a list of one)."""
        if mixture.ndim != 2:
            raise ConfigError(f"mixture: expected [batch, samples], got shape {tuple(mixture.shape)}")
        length = mixture.shape[-1]
        w = self.codec.encode(mixture)
        x, _ = chunk(w, self.chunk_size)
        out = []
        for i, (layer, head) in enumerate(zip(self.layers, self.heads)):
            x = layer(x)
            if every_block or i == self.blocks - 1:
                out.append(self._estimate(head, x, w.shape[-1], length))
        return out

    @torch.no_grad()
    def separate(self, mixture: torch.Tensor) -> torch.Tensor:
        """The last block's estimates ``[B, n_sources, T]`` of mixtures ``[B, T]``."""
        return self(mixture, every_block=False)[-1]
