"""DCGAN's ``arch: mlp`` variant for small images of any size (9-frame log-mel windows): shapes, sizes, the
conditioning options, the sample contract, and errors naming the argument; the default convolutional network is
unchanged."""

from __future__ import annotations

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.losses.adversarial import gradient_penalty
from speechgen.models.dcgan import DCGAN, MLPDiscriminator, MLPGenerator

WINDOW = dict(arch="mlp", channels=1, height=40, width=9)


def _count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_window_shapes_layer_widths_and_sizes():
    m = DCGAN(**WINDOW, latent_dim=100, n_classes=48, label_dim=50, stages=3, base_width=256, max_width=1024)
    assert isinstance(m.generator, MLPGenerator) and isinstance(m.discriminator, MLPDiscriminator)
    g = [l.out_features for l in m.generator.modules() if isinstance(l, torch.nn.Linear)]
    d = [l.out_features for l in m.discriminator.blocks.modules() if isinstance(l, torch.nn.Linear)]
    assert g == [256, 512, 1024, 360] and d == [1024, 512, 256]  # widest next to the data in both
    # 150*256 + 256*512 + 512*1024 + 1024*360 + 360 weights/biases + batch norms + the 48 x 50 embedding
    assert _count(m.generator) == 1_068_744 and _count(m.discriminator) == 1_039_105
    z = torch.randn(5, 100)
    labels = torch.tensor([0, 5, 22, 37, 47])
    with torch.no_grad():
        x = m.generate(z, labels)
    assert x.shape == (5, 1, 40, 9) and float(x.abs().max()) <= 1.0
    logit, aux, feats = m.discriminate(x, labels)
    assert logit.shape == (5,) and aux is None and [f.shape[1] for f in feats] == [1024, 512, 256]


def test_generator_without_batch_norm():
    m = DCGAN(**WINDOW, stages=2, base_width=8, max_width=16, g_norm="none")
    assert not any(isinstance(l, torch.nn.BatchNorm1d) for l in m.generator.modules())
    assert all(l.bias is not None for l in m.generator.modules() if isinstance(l, torch.nn.Linear))
    assert m.sample(2).shape == (2, 1, 40, 9)


@pytest.mark.parametrize("cond", ["projection", "embedding"])
def test_discriminator_uses_the_label(cond):
    torch.manual_seed(0)
    m = DCGAN(**WINDOW, n_classes=4, stages=2, base_width=16, max_width=32, d_conditioning=cond, d_norm="layer")
    if cond == "projection":  # the label term starts at 0; give it weight to see it act
        torch.nn.init.normal_(m.discriminator.projection.weight)
    x = torch.rand(3, 1, 40, 9) * 2 - 1
    a = m.discriminate(x, torch.tensor([0, 1, 2]))[0]
    b = m.discriminate(x, torch.tensor([3, 3, 3]))[0]
    assert not torch.allclose(a, b)
    with pytest.raises(ConfigError, match="labels"):
        m.discriminate(x)


def test_aux_head_and_gradient_penalty_per_item():
    m = DCGAN(**WINDOW, n_classes=4, n_aux_classes=4, d_conditioning="none", stages=2, base_width=8, max_width=16,
              d_norm="layer")
    x = torch.rand(6, 1, 40, 9) * 2 - 1
    logit, aux, _ = m.discriminate(x)
    assert logit.shape == (6,) and aux.shape == (6, 4)
    fake = m.generate(torch.randn(6, m.latent_dim), torch.arange(6) % 4)
    gp = gradient_penalty(lambda v: m.discriminate(v)[0], x, fake.detach())
    assert torch.isfinite(gp) and float(gp.detach()) >= 0


def test_sample_contract_is_seeded_and_checks_labels():
    m = DCGAN(**WINDOW, n_classes=48, latent_dim=8, stages=2, base_width=8, max_width=16).eval()
    labels = torch.tensor([5, 5, 9])
    a = m.sample(3, labels, generator=torch.Generator().manual_seed(4))
    b = m.sample(3, labels, generator=torch.Generator().manual_seed(4))
    c = m.sample(3, labels, generator=torch.Generator().manual_seed(5))
    assert a.shape == (3, 1, 40, 9) and torch.equal(a, b) and not torch.equal(a, c)
    assert m.out_shape == (1, 40, 9) and m.n_classes == 48
    with pytest.raises(ConfigError, match="0..47"):
        m.sample(1, torch.tensor([48]))
    with pytest.raises(ConfigError, match="condition"):
        m.sample(3, labels, condition=torch.zeros(3, 1, 40, 9))


@pytest.mark.parametrize("kwargs, field", [
    (dict(arch="rnn"), "arch"),
    (dict(d_norm="instance"), "d_norm"),
    (dict(condition_channels=1), "condition_channels"),
    (dict(kernel_size=5), "kernel_size"),
    (dict(arch="conv"), "height"),  # 40 x 9 does not halve 5 times: the reason for the mlp variant
])
def test_errors_name_the_argument(kwargs, field):
    with pytest.raises(ConfigError) as e:
        DCGAN(**{**WINDOW, **kwargs})
    assert str(e.value).startswith(field)


def test_default_architecture_is_unchanged():
    torch.manual_seed(0)
    a = DCGAN(channels=1, height=32, width=32, stages=3, base_width=8, max_width=32, latent_dim=16)
    torch.manual_seed(0)
    b = DCGAN(channels=1, height=32, width=32, stages=3, base_width=8, max_width=32, latent_dim=16, arch="conv")
    assert a.arch == "conv" and a.state_dict().keys() == b.state_dict().keys()
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    assert any(isinstance(l, torch.nn.ConvTranspose2d) for l in a.generator.modules())
