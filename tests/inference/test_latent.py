"""Latent operations: attribute vectors are mean-code differences, shifts add them, non-auto-encoders refused."""

import pytest
import torch

from speechgen.errors import CheckpointError, ConfigError
from speechgen.models.vae import ConvVAE
from speechgen.inference import latent


@pytest.fixture
def model():
    torch.manual_seed(0)
    return ConvVAE(in_channels=1, height=16, width=16, widths=[4, 8], full_band=False, hidden=8, latent_dim=3).eval()


def test_attribute_vector_and_shift(model):
    xa, xb = torch.rand(5, 1, 16, 16) - 1, torch.rand(7, 1, 16, 16)
    v = latent.attribute_vector(model, xa, xb)
    with torch.no_grad():
        expect = model.encode(xb)[0].mean(0) - model.encode(xa)[0].mean(0)
    assert torch.allclose(v, expect, atol=1e-6)
    shifted = latent.shift(model, xa, v)
    with torch.no_grad():
        assert torch.allclose(shifted, model.decode(model.encode(xa)[0] + v), atol=1e-6)
    assert torch.allclose(latent.shift(model, xa, v, scale=0.0), latent.reconstruct(model, xa), atol=1e-6)


def test_interpolation_is_a_straight_line_in_latent_space(model):
    x = torch.rand(2, 1, 16, 16)
    path = latent.interpolate(model, x[0], x[1], 3)
    z = latent.encode(model, x)
    with torch.no_grad():
        assert torch.allclose(path[1], model.decode(z.mean(0, keepdim=True))[0], atol=1e-6)
    with pytest.raises(ConfigError):
        latent.interpolate(model, x[0], x[1], 1)


def test_non_autoencoders_are_refused():
    with pytest.raises(CheckpointError, match="no encoder"):
        latent.require_autoencoder(torch.nn.Linear(2, 2))
