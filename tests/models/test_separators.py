"""The separators: paper-size parameter counts, shapes for any length, one estimate per block (MulCat) or one
(DPRNN), batch independence, and refusals of bad sizes."""

from __future__ import annotations

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.models.dprnn import DPRNN
from speechgen.models.mulcat_separator import MulCatSeparator

SMALL = {"enc_dim": 8, "kernel_size": 16, "hidden": 8, "blocks": 3, "chunk_size": 10}


def test_paper_sizes():
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert 7.4e6 < count(MulCatSeparator(enc_dim=128, kernel_size=8, hidden=128, blocks=6, chunk_size=100)) < 7.9e6
    assert 2.5e6 < count(DPRNN()) < 2.7e6  # the DPRNN paper's 2.6 M


@pytest.mark.parametrize("cls, kwargs, outputs", [(MulCatSeparator, SMALL, 3),
                                                  (DPRNN, dict(SMALL, bottleneck=6), 1)])
def test_shapes_blocks_and_batch_independence(cls, kwargs, outputs):
    torch.manual_seed(0)
    model = cls(n_sources=3, **kwargs).eval()
    for t in (1, 100, 1601):
        out = model(torch.randn(2, t))
        assert len(out) == outputs and all(o.shape == (2, 3, t) for o in out)
    x = torch.randn(3, 1200)
    torch.testing.assert_close(model.separate(x)[1:2], model.separate(x[1:2]), atol=1e-5, rtol=1e-4)
    assert len(model(x, every_block=False)) == 1


def test_bad_sizes_name_the_argument():
    for kw, name in (({"n_sources": 0}, "n_sources"), ({"chunk_size": 7}, "chunk_size"),
                     ({"kernel_size": 5}, "kernel_size"), ({"hidden": "8"}, "hidden")):
        with pytest.raises(ConfigError, match=name):
            MulCatSeparator(**kw)
    with pytest.raises(ConfigError, match="mixture"):
        DPRNN(**dict(SMALL, bottleneck=6))(torch.zeros(1, 1, 100))
