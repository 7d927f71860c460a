"""Dual-path pieces: chunking and overlap-add invert each other for any length, blocks and rows keep shapes, the
wave codec's frames cover the whole input."""

from __future__ import annotations

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.nn.dual_path import BiLSTMRow, DualPathBlock, MulCatRow, WaveCodec, chunk, overlap_add


@pytest.mark.parametrize("t, k", [(1, 2), (5, 4), (100, 10), (137, 10), (250, 100), (99, 100)])
def test_overlap_add_of_chunks_is_twice_the_input(t, k):
    x = torch.randn(2, 3, t)
    c, _ = chunk(x, k)
    assert c.shape[:3] == (2, 3, k)
    torch.testing.assert_close(overlap_add(c, t), 2 * x)  # every frame lies in exactly two chunks


def test_bad_chunk_size():
    with pytest.raises(ConfigError, match="chunk size"):
        chunk(torch.zeros(1, 1, 10), 5)


@pytest.mark.parametrize("row", [BiLSTMRow, MulCatRow])
def test_block_keeps_shape_and_mixes_both_axes(row):
    torch.manual_seed(0)
    block = DualPathBlock(6, lambda: row(6, 5))
    x = torch.randn(2, 6, 4, 7)
    y = block(x)
    assert y.shape == x.shape
    x2 = x.clone()
    x2[..., 0, 0] += 1.0  # one frame of one chunk: reaches other chunks through the inter-chunk path
    assert (block(x2) - y)[..., :, 3:].abs().sum() > 0


def test_wave_codec_covers_the_input():
    codec = WaveCodec(4, 16)
    for t in (1, 15, 16, 17, 1000):
        w = codec.encode(torch.randn(2, t))
        assert w.shape[:2] == (2, 4) and (w.shape[-1] - 1) * 8 + 16 >= t
        assert codec.decode(w.unsqueeze(1), t).shape == (2, 1, t)
    with pytest.raises(ConfigError, match="kernel_size"):
        WaveCodec(4, 7)
