"""VAE-GAN model: it is built from the VAE encoder block and the DCGAN generator / discriminator, shapes (tiny and
paper size), the sample contract (seeded, on the CPU, labels used), Dis_l feature maps, latent operations and
constructor validation naming the kwarg."""

from __future__ import annotations

import inspect
import typing

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.models.dcgan import DCGANDiscriminator, DCGANGenerator
from speechgen.models.vae import ConvEncoder
from speechgen.models.vaegan import VAEGAN
from speechgen.inference import latent

TINY = dict(channels=1, height=32, width=32, latent_dim=8, label_dim=4, enc_widths=[4, 8], enc_kernel_size=3,
            enc_hidden=16, stages=3, base_width=4, max_width=16)


def _count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_built_from_the_vae_and_dcgan_blocks():
    m = VAEGAN(**TINY)
    assert isinstance(m.encoder.net, ConvEncoder)
    assert isinstance(m.generator, DCGANGenerator) and isinstance(m.discriminator, DCGANDiscriminator)
    # the three networks partition the parameters (one optimiser each in the vaegan scheme)
    assert {k.split(".")[0] for k in m.state_dict()} == {"encoder", "generator", "discriminator"}
    assert _count(m) == _count(m.encoder) + _count(m.generator) + _count(m.discriminator)


@torch.no_grad()
def test_tiny_shapes_and_features():
    torch.manual_seed(0)
    m = VAEGAN(**TINY, n_classes=3)
    assert m.out_shape == (1, 32, 32) and m.n_classes == 3 and m.latent_dim == 8
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    y = torch.tensor([0, 1, 2, 0])
    mu, logvar = m.encode(x, y)
    assert mu.shape == logvar.shape == (4, 8)
    recon, mu2, _ = m(x, y)
    assert recon.shape == x.shape and float(recon.abs().max()) <= 1.0 and torch.equal(mu, mu2)
    logit, aux, feats = m.discriminate(x, y)
    assert logit.shape == (4,) and aux is None
    assert [tuple(f.shape) for f in feats] == [(4, 4, 16, 16), (4, 8, 8, 8), (4, 16, 4, 4)]
    # Dis_l: feature_layer -2 (the default) is the second-to-last block; any block can be picked
    m.eval()
    assert m.features(x, y).shape == (4, 8, 8, 8)
    for layer, shape in ((0, (4, 4, 16, 16)), (-1, (4, 16, 4, 4)), (2, (4, 16, 4, 4))):
        other = VAEGAN(**TINY, feature_layer=layer).eval()
        assert other.features(x).shape == shape
        assert torch.equal(other.features(x), other.discriminate(x)[2][layer])


def test_paper_size():
    m = VAEGAN()  # vaegan.yaml's network (unconditional here), 1 x 128 x 128
    assert m.out_shape == (1, 128, 128) and m.latent_dim == 128
    assert 18e6 < _count(m.encoder) < 21e6 and 12e6 < _count(m.generator) < 14e6
    assert 10e6 < _count(m.discriminator) < 12e6
    with torch.no_grad():
        m.eval()
        assert m.features(torch.zeros(1, 1, 128, 128)).shape == (1, 512, 8, 8)


@torch.no_grad()
def test_sample_contract_is_seeded_on_the_cpu_and_uses_labels():
    torch.manual_seed(0)
    m = VAEGAN(**TINY, n_classes=3).eval()
    labels = torch.tensor([0, 1, 2, 2])
    a = m.sample(4, labels, torch.Generator().manual_seed(7))
    b = m.sample(4, labels, torch.Generator().manual_seed(7))
    c = m.sample(4, labels, torch.Generator().manual_seed(8))
    assert a.shape == (4, 1, 32, 32) and torch.equal(a, b) and not torch.allclose(a, c)
    assert float(a.abs().max()) <= 1.0
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(7))  # z drawn on the CPU from the generator
    assert torch.equal(a, m.decode(z, labels))
    assert not torch.allclose(a, m.sample(4, torch.tensor([1, 2, 0, 0]), torch.Generator().manual_seed(7)))
    with pytest.raises(ConfigError, match="labels"):
        m.sample(2)
    with pytest.raises(ConfigError, match="0..2"):
        m.sample(2, torch.tensor([0, 3]))
    with pytest.raises(ConfigError, match="condition"):
        m.sample(2, torch.tensor([0, 1]), condition=torch.zeros(2, 1, 32, 32))


@torch.no_grad()
def test_labels_reach_the_encoder_and_latent_operations_work():
    torch.manual_seed(0)
    m = VAEGAN(**TINY, n_classes=3).eval()
    x = torch.rand(3, 1, 32, 32) * 2 - 1
    y = torch.tensor([0, 1, 2])
    m.encoder.label_embedding.weight.mul_(10.0)
    assert not torch.allclose(m.embed(x, y), m.embed(x, y.roll(1)))
    latent.require_autoencoder(m)  # `speechgen transform` accepts it
    codes = latent.encode(m, x, y)
    assert codes.shape == (3, 8) and torch.allclose(codes, m.embed(x, y))
    assert torch.allclose(latent.reconstruct(m, x, y), m.reconstruct(x, y))
    path = latent.interpolate(m, x[0], x[1], 4, [1])
    assert path.shape == (4, 1, 32, 32)


def test_constructor_kwargs_are_annotated_and_documented():
    hints = typing.get_type_hints(VAEGAN.__init__)
    doc = VAEGAN.__doc__ or ""
    for name in inspect.signature(VAEGAN.__init__).parameters:
        if name == "self":
            continue
        assert name in hints, name
        assert f"{name}:" in doc, name


@pytest.mark.parametrize("kwargs, field", [
    (dict(height=36), "height"),
    (dict(feature_layer=3), "feature_layer"),
    (dict(feature_layer=-4), "feature_layer"),
    (dict(enc_widths=[]), "enc_widths"),
    (dict(enc_kernel_size=1), "enc_kernel_size"),
    (dict(enc_activation="gelu"), "enc_activation"),
    (dict(enc_hidden=-1), "enc_hidden"),
    (dict(d_norm="group"), "d_norm"),
    (dict(d_conditioning="none"), "d_conditioning"),
    (dict(n_classes=1), "n_classes"),
    (dict(latent_dim=0), "latent_dim"),
])
def test_constructor_errors_name_the_kwarg(kwargs, field):
    with pytest.raises(ConfigError) as e:
        VAEGAN(**{**TINY, **kwargs})
    assert str(e.value).startswith(f"{field}:")
