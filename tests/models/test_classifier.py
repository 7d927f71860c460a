"""DigitClassifier: shapes, size, embedding dimension, argument validation."""

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.models import DigitClassifier


def test_shapes_and_probs():
    m = DigitClassifier().eval()
    x = 0.1 * torch.randn(3, 16000)
    assert m.features(x).shape == (3, 1, 80, 63)
    assert m(x).shape == (3, 10)
    assert m.embed(x).shape == (3, m.embed_dim) and m.embed_dim == 128
    p, f = m.probs_and_features(x)
    assert p.shape == (3, 10) and f.shape == (3, 128)
    assert torch.allclose(p.sum(-1), torch.ones(3), atol=1e-5)
    assert torch.allclose(f, m.embed(x), atol=1e-6)


def test_size_is_small():
    n = sum(p.numel() for p in DigitClassifier().parameters())
    assert 100_000 < n <= 1_000_000  # a few MB of float32 at most


def test_width_and_depth_are_configurable():
    m = DigitClassifier(widths=(8, 16, 24, 48), blocks=(1, 1, 2, 1), groups=4).eval()
    assert m.embed(torch.zeros(2, 16000)).shape == (2, 48)


def test_utterance_normalisation_ignores_gain():
    m = DigitClassifier().eval()
    x = 0.1 * torch.randn(2, 16000)
    assert torch.allclose(m(x), m(3.0 * x), atol=1e-3)


@pytest.mark.parametrize("kwargs", [dict(widths=(8, 16), blocks=(1,)), dict(normalization="batch"),
                                    dict(fmax=9000.0), dict(dropout=1.0)])
def test_bad_arguments(kwargs):
    with pytest.raises(ConfigError):
        DigitClassifier(**kwargs)


def test_features_are_normalised_log_mel():
    m = DigitClassifier().eval()
    x = 0.1 * torch.randn(2, 16000)
    raw = m.log_mel(x)
    assert raw.shape == (2, 80, 63)
    assert torch.equal(m.normalize(raw), m.features(x))
    assert torch.allclose(m.features(x).mean(dim=(1, 2, 3)), torch.zeros(2), atol=1e-4)
