"""DCGAN generator/discriminator: shapes (tiny and paper size), the generative model contract (seeded, labels and
condition used, values in [-1, 1]), discriminator outputs and conditioning, and constructor validation."""

from __future__ import annotations

import inspect
import typing

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.losses import adversarial as adv
from speechgen.models.dcgan import DCGAN

TINY = dict(height=32, width=32, stages=3, base_width=4, max_width=16, latent_dim=8, label_dim=4,
            condition_width=2)


def _count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def test_tiny_shapes_and_discriminator_outputs():
    torch.manual_seed(0)
    m = DCGAN(channels=2, n_aux_classes=0, **TINY)
    assert m.out_shape == (2, 32, 32) and m.n_classes == 0 and m.latent_dim == 8
    x = m.sample(3)
    assert x.shape == (3, 2, 32, 32)
    logit, aux, feats = m.discriminate(x)
    assert logit.shape == (3,) and aux is None
    assert [tuple(f.shape) for f in feats] == [(3, 4, 16, 16), (3, 8, 8, 8), (3, 16, 4, 4)]
    assert set(k.split(".")[0] for k in m.state_dict()) == {"generator", "discriminator"}


def test_paper_size_shapes_and_parameter_counts():
    m = DCGAN()  # 2 x 128 x 128, 4x4x1024 -> 128x128 in 5 stages (DCGAN / SpecGAN layout)
    assert m.out_shape == (2, 128, 128)
    assert 12e6 < _count(m.generator) < 14e6 and 10e6 < _count(m.discriminator) < 12e6
    z = torch.randn(1, 100)
    with torch.no_grad():
        m.eval()
        x = m.generate(z)
        logit, _, feats = m.discriminate(x)
    assert x.shape == (1, 2, 128, 128) and logit.shape == (1,)
    assert [f.shape[1] for f in feats] == [64, 128, 256, 512, 1024] and feats[-1].shape[-2:] == (4, 4)


@torch.no_grad()
def test_sample_contract_seeded_labels_condition_range():
    torch.manual_seed(0)
    m = DCGAN(channels=1, n_classes=3, condition_channels=1, d_norm="layer", **TINY).eval()
    labels = torch.tensor([0, 1, 2, 2])
    cond = torch.rand(4, 1, 32, 32) * 2 - 1
    a = m.sample(4, labels, torch.Generator().manual_seed(7), cond)
    b = m.sample(4, labels, torch.Generator().manual_seed(7), cond)
    c = m.sample(4, labels, torch.Generator().manual_seed(8), cond)
    assert a.shape == (4, 1, 32, 32) and torch.equal(a, b) and not torch.allclose(a, c)
    assert float(a.abs().max()) <= 1.0
    other_labels = m.sample(4, torch.tensor([1, 2, 0, 0]), torch.Generator().manual_seed(7), cond)
    assert not torch.allclose(a, other_labels)  # labels reach the generator
    other_cond = m.sample(4, labels, torch.Generator().manual_seed(7), cond.flip(-1))
    assert not torch.allclose(a, other_cond)  # so does the condition image
    # z is drawn on the CPU from the given generator: the same as decoding that draw by hand
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(7))
    assert torch.allclose(a, m.generate(z, labels, cond))
    # saturated weights still give values in [-1, 1] (tanh output)
    for p in m.generator.parameters():
        p.mul_(50.0)
    assert float(m.sample(4, labels, None, cond).abs().max()) <= 1.0


def test_sample_errors_name_the_input():
    m = DCGAN(channels=1, n_classes=3, condition_channels=1, d_norm="layer", **TINY)
    cond = torch.zeros(2, 1, 32, 32)
    with pytest.raises(ConfigError, match="labels"):
        m.sample(2, None, condition=cond)
    with pytest.raises(ConfigError, match="0..2"):
        m.sample(2, torch.tensor([0, 3]), condition=cond)
    with pytest.raises(ConfigError, match="condition"):
        m.sample(2, torch.tensor([0, 1]))
    with pytest.raises(ConfigError, match=r"condition: expected shape \[2, 1, 32, 32\]"):
        m.sample(2, torch.tensor([0, 1]), condition=torch.zeros(2, 1, 16, 16))
    with pytest.raises(ConfigError, match="takes no condition"):
        DCGAN(channels=1, **TINY).sample(2, condition=cond)


def test_discriminator_conditioning():
    torch.manual_seed(0)
    x = torch.rand(4, 1, 32, 32) * 2 - 1
    y, y2 = torch.tensor([0, 1, 2, 0]), torch.tensor([1, 2, 0, 1])
    # label map: an extra input channel per label
    emb = DCGAN(channels=1, n_classes=3, d_conditioning="embedding", d_norm="none", **TINY).eval()
    assert not torch.allclose(emb.discriminate(x, y)[0], emb.discriminate(x, y2)[0])
    # projection: starts at 0 (same logit for every label), a trained projection separates labels
    proj = DCGAN(channels=1, n_classes=3, d_conditioning="projection", d_norm="none", **TINY).eval()
    assert torch.allclose(proj.discriminate(x, y)[0], proj.discriminate(x, y2)[0])
    with torch.no_grad():
        proj.discriminator.projection.weight.normal_()
    assert not torch.allclose(proj.discriminate(x, y)[0], proj.discriminate(x, y2)[0])
    # the condition image is part of the discriminator's input
    cond = DCGAN(channels=1, condition_channels=1, d_norm="none", **TINY).eval()
    c = torch.rand(4, 1, 32, 32)
    assert not torch.allclose(cond.discriminate(x, None, c)[0], cond.discriminate(x, None, -c)[0])
    # AC-GAN layout: no label input, an auxiliary classifier head
    ac = DCGAN(channels=1, n_classes=3, d_conditioning="none", n_aux_classes=3, **TINY).eval()
    logit, aux, _ = ac.discriminate(x, y)
    assert aux.shape == (4, 3) and torch.equal(logit, ac.discriminate(x, y2)[0])


@pytest.mark.parametrize("norm", ["layer", "instance", "none"])
def test_gradient_penalty_through_a_conditional_critic(norm):
    torch.manual_seed(0)
    m = DCGAN(channels=1, n_classes=3, condition_channels=1, d_norm=norm, **TINY)
    real, fake = torch.rand(4, 1, 32, 32), torch.rand(4, 1, 32, 32)
    y, c = torch.tensor([0, 1, 2, 0]), torch.rand(4, 1, 32, 32)
    gp = adv.gradient_penalty(lambda v: m.discriminate(v, y, c)[0], real, fake)
    gp.backward()
    assert torch.isfinite(gp) and float(gp.detach()) > 0
    assert all(p.grad is not None for p in m.discriminator.blocks.parameters())


def test_batch_norm_critic_is_rejected_by_the_gradient_penalty():
    m = DCGAN(channels=1, d_norm="batch", **TINY)
    x = torch.rand(4, 1, 32, 32)
    with pytest.raises(ConfigError, match="d_norm"):
        adv.gradient_penalty(m.discriminator, x, x.flip(0))


@pytest.mark.parametrize("kwargs, field", [
    (dict(height=36), "height"),
    (dict(width=100), "width"),
    (dict(stages=0), "stages"),
    (dict(n_classes=1), "n_classes"),
    (dict(n_aux_classes=1), "n_aux_classes"),
    (dict(d_norm="group"), "d_norm"),
    (dict(d_conditioning="concat", n_classes=3), "d_conditioning"),
    (dict(d_conditioning="none", n_classes=3), "d_conditioning"),
    (dict(d_norm="instance", stages=5), "d_norm"),  # 32 / 2^5 = 1x1: instance norm of one value
    (dict(base_width=0), "base_width"),
    (dict(init_std=-1.0), "init_std"),
])
def test_constructor_errors_name_the_argument(kwargs, field):
    with pytest.raises(ConfigError) as e:
        DCGAN(**{**TINY, **kwargs})
    assert str(e.value).startswith(field)


def test_every_kwarg_is_annotated_and_documented():
    params = [p for p in inspect.signature(DCGAN.__init__).parameters if p != "self"]
    hints = typing.get_type_hints(DCGAN.__init__)
    doc = inspect.getdoc(DCGAN)
    for p in params:
        assert p in hints, p
        assert f"    {p}:" in doc or f"\n{p}:" in doc, p
