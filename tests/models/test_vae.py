"""ConvVAE / WAE: shapes, sizes of the shipped configurations, and the generative model contract."""

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.models.vae import ConvVAE
from speechgen.models.wae import WAE

TINY = dict(widths=[4, 8], hidden=16, latent_dim=6)


def _n(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize("kw", [
    dict(TINY),  # full-band first layer (the paper's layout)
    dict(TINY, full_band=False, kernel_size=4),  # 2-D strided convolutions
    dict(TINY, in_channels=1, height=32, width=16, full_band=False, kernel_size=3, hidden=0, batch_norm=False,
         activation="leaky_relu"),
])
def test_shapes_and_output_range(kw):
    m = ConvVAE(**kw)
    shape = m.out_shape
    x = torch.rand(3, *shape) * 2 - 1
    recon, mu, logvar = m(x)
    assert recon.shape == x.shape and mu.shape == logvar.shape == (3, kw["latent_dim"])
    assert recon.abs().max() <= 1.0
    m.eval()
    r1, mu1, _ = m(x)
    assert torch.allclose(m.decode(mu1), r1)  # eval mode decodes the posterior mean
    assert torch.equal(m.embed(x), mu1)


def test_paper_and_cpu_configs_build_with_expected_sizes():
    paper = ConvVAE()  # Hsu et al.: 64 full-band, 128 and 256 filters, 512 hidden units, 128-d latent
    assert paper.out_shape == (2, 128, 128) and paper.latent_dim == 128 and paper.n_classes == 0
    assert 8.5e6 < _n(paper) < 9.2e6
    assert paper.encoder.feat_shape == (256, 1, 32)  # full band, then two halvings of the 128 frames
    cpu = ConvVAE(widths=[32, 64, 128], hidden=256, latent_dim=64, n_classes=10)
    assert 2.0e6 < _n(cpu) < 2.5e6
    wae = WAE(adversarial=True)
    assert wae.latent_critic is not None and 0.8e6 < _n(wae.latent_critic) < 0.85e6
    assert WAE().latent_critic is None and "latent_critic" not in dict(WAE(**TINY).named_children())


def test_sample_contract_is_deterministic_per_generator_seed():
    m = ConvVAE(**TINY).eval()
    a = m.sample(4, generator=torch.Generator().manual_seed(3))
    b = m.sample(4, generator=torch.Generator().manual_seed(3))
    c = m.sample(4, generator=torch.Generator().manual_seed(4))
    assert a.shape == (4, *m.out_shape) and torch.equal(a, b) and not torch.equal(a, c)
    assert a.abs().max() <= 1.0 and torch.isfinite(a).all()
    # the latent is drawn on the CPU with the generator: same as decoding the same CPU draw by hand
    z = torch.randn(4, m.latent_dim, generator=torch.Generator().manual_seed(3))
    assert torch.allclose(m.decode(z), a)
    with pytest.raises(ConfigError):
        m.sample(2, condition=torch.zeros(2, 1, 128, 128))


@pytest.mark.parametrize("cls", [ConvVAE, WAE])
def test_conditional_models_respect_labels(cls):
    m = cls(**TINY, n_classes=3, label_dim=4).eval()
    with torch.no_grad():
        m.label_embedding.weight.mul_(50)  # make the label's effect obvious
    gen = lambda: torch.Generator().manual_seed(0)  # noqa: E731
    zeros = m.sample(2, labels=torch.tensor([0, 0]), generator=gen())
    twos = m.sample(2, labels=torch.tensor([2, 2]), generator=gen())
    mixed = m.sample(2, labels=torch.tensor([0, 2]), generator=gen())
    assert not torch.allclose(zeros, twos)
    assert torch.allclose(mixed[0], zeros[0], atol=1e-6) and torch.allclose(mixed[1], twos[1], atol=1e-6)
    with pytest.raises(ConfigError, match="labels"):
        m.sample(2)
    with pytest.raises(ConfigError, match="0..2"):
        m.sample(1, labels=torch.tensor([3]))
    x = torch.rand(2, *m.out_shape) * 2 - 1
    # the encoder sees the label too
    assert not torch.allclose(m.embed(x, torch.tensor([0, 0])), m.embed(x, torch.tensor([2, 2])))


def test_wae_is_deterministic_and_has_the_same_contract():
    m = WAE(**TINY, adversarial=True, critic_hidden=[8]).train()
    x = torch.rand(4, *m.out_shape) * 2 - 1
    recon, z = m(x)
    assert recon.shape == x.shape and z.shape == (4, 6)
    m.eval()
    assert torch.equal(m.encode(x), m.encode(x)) and torch.equal(m.embed(x), m.encode(x))
    assert m.latent_critic(z).shape == (4,)
    s = m.sample(3, generator=torch.Generator().manual_seed(1))
    assert s.shape == (3, 2, 128, 128) and torch.equal(s, m.sample(3, generator=torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("kw, field", [
    (dict(width=101), "width"),
    (dict(full_band=False, height=102), "height"),
    (dict(widths=[]), "widths"),
    (dict(latent_dim=0), "latent_dim"),
    (dict(n_classes=1), "n_classes"),
    (dict(activation="swish"), "activation"),
    (dict(kernel_size=1), "kernel_size"),
])
def test_bad_sizes_name_the_argument(kw, field):
    with pytest.raises(ConfigError, match=field):
        ConvVAE(**{**TINY, **kw})
