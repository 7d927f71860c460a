"""WaveGAN: output lengths (tiny, paper size, longer slices), parameter counts against the layer arithmetic and the
paper, phase shuffle (shift range, reflection, identity cases, global RNG, twice differentiable), the generative
model contract (seeded, z on the CPU, labels used), discriminator conditioning, and constructor validation."""

from __future__ import annotations

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.losses import adversarial as adv
from speechgen.models.wavegan import WaveGAN
from speechgen.nn.phase_shuffle import PhaseShuffle, phase_shuffle

TINY = dict(d=2, latent_dim=8, label_dim=4)


def _count(m: torch.nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _expected_counts(d: int, latent: int = 100, k: int = 25) -> tuple[int, int]:
    """Generator and critic parameters of the 16384-sample WaveGAN from the layer list of the paper's Table 2."""
    g_widths = [16 * d, 8 * d, 4 * d, 2 * d, d, 1]
    g = latent * 16 * 16 * d + 16 * 16 * d  # dense z -> 16 x 16d
    g += sum(k * a * b + b for a, b in zip(g_widths, g_widths[1:]))
    d_widths = [1, d, 2 * d, 4 * d, 8 * d, 16 * d]
    c = sum(k * a * b + b for a, b in zip(d_widths, d_widths[1:]))
    c += 16 * 16 * d + 1  # dense 256d -> 1
    return g, c


@pytest.mark.parametrize("d", [2, 64])
def test_output_length_16384_and_critic_maps(d):
    torch.manual_seed(0)
    m = WaveGAN(d=d).eval()
    assert m.out_shape == (16384,) and m.latent_dim == 100 and m.n_classes == 0
    with torch.no_grad():
        x = m.sample(2)
        logit, aux, feats = m.discriminate(x)
    assert x.shape == (2, 16384) and logit.shape == (2,) and aux is None
    assert [tuple(f.shape) for f in feats] == [(2, d, 4096), (2, 2 * d, 1024), (2, 4 * d, 256), (2, 8 * d, 64),
                                               (2, 16 * d, 16)]
    assert float(x.abs().max()) <= 1.0
    assert set(k.split(".")[0] for k in m.state_dict()) == {"generator", "discriminator"}


def test_paper_size_parameter_counts():
    m = WaveGAN()  # d = 64, 16384 samples
    g, c = _count(m.generator), _count(m.discriminator)
    assert (g, c) == _expected_counts(64) == (19_065_345, 17_427_969)
    assert abs(g - 19.0e6) / 19.0e6 < 0.01 and abs(c - 17.4e6) / 17.4e6 < 0.01  # the paper's 19 M / 17.4 M
    tiny = WaveGAN(**TINY)
    assert (_count(tiny.generator), _count(tiny.discriminator)) == _expected_counts(2, latent=8) == (21_689, 17_625)


@pytest.mark.parametrize("slice_len", [32768, 65536])
def test_longer_slices(slice_len):
    m = WaveGAN(slice_len=slice_len, d=1, latent_dim=4).eval()
    with torch.no_grad():
        x = m.sample(1)
        logit, _, feats = m.discriminate(x)
    assert x.shape == (1, slice_len) and logit.shape == (1,)
    assert len(feats) == 6 and feats[-1].shape[-1] == 16 and feats[-1].shape[1] == 32  # [16, 32d]


# ------------------------------------------------------------------------------------------------ phase shuffle
def test_phase_shuffle_shifts_within_range_per_example():
    x = torch.arange(100.0).repeat(64, 3, 1)  # x[b, c, t] = t
    ps = PhaseShuffle(2).train()
    seen = set()
    torch.manual_seed(0)
    for _ in range(5):
        y = ps(x)
        shift = y[:, :, 50] - x[:, :, 50]  # out[t] = x[t - k] -> -k
        assert torch.equal(shift, shift[:, :1].expand_as(shift))  # one shift per example, all channels
        k = (-shift[:, 0]).long()
        assert int(k.abs().max()) <= 2
        assert torch.equal(y[:, :, 2:-2], (x - k[:, None, None].float())[:, :, 2:-2])  # a pure shift inside
        seen |= set(k.tolist())
    assert seen == {-2, -1, 0, 1, 2}


def test_phase_shuffle_reflects_at_the_edges():
    x = torch.tensor([[[10.0, 11.0, 12.0, 13.0, 14.0, 15.0]]]).repeat(2, 1, 1)
    y = phase_shuffle(x, [2, -2], 2)
    assert y[0, 0].tolist() == [12.0, 11.0, 10.0, 11.0, 12.0, 13.0]  # later by 2: x[2], x[1] mirror the start
    assert y[1, 0].tolist() == [12.0, 13.0, 14.0, 15.0, 14.0, 13.0]  # earlier by 2: the end is mirrored
    assert torch.equal(phase_shuffle(x, [0, 0], 2), x)
    with pytest.raises(ConfigError, match="phase_shuffle"):
        phase_shuffle(x, [3, 0], 2)


def test_phase_shuffle_identity_cases_and_global_rng():
    x = torch.randn(8, 4, 50)
    assert PhaseShuffle(0).train()(x) is x
    assert PhaseShuffle(2).eval()(x) is x
    ps = PhaseShuffle(2).train()
    torch.manual_seed(5)
    a = ps(x)
    torch.manual_seed(5)
    b = ps(x)
    c = ps(x)
    assert torch.equal(a, b) and not torch.equal(a, c)  # the shifts come from torch's global generator
    with pytest.raises(ConfigError, match="phase_shuffle"):
        PhaseShuffle(-1)


def test_gradient_penalty_through_phase_shuffle():
    torch.manual_seed(0)
    m = WaveGAN(**TINY).train()
    real, fake = torch.rand(3, 16384) * 2 - 1, m.sample(3).detach()
    gp = adv.gradient_penalty(lambda v: m.discriminate(v)[0], real, fake)
    gp.backward()  # needs the second derivative of the shuffle's gather and reflection
    # every convolution's weight gets a gradient (the logit's bias does not enter the penalty)
    grads = [block[0].weight.grad for block in m.discriminator.blocks]
    assert torch.isfinite(gp) and all(g is not None and torch.isfinite(g).all() for g in grads)
    assert all(float(g.abs().sum()) > 0 for g in grads)


# ------------------------------------------------------------------------------------------------ model contract
@torch.no_grad()
def test_sample_contract_seeded_and_labels_used():
    torch.manual_seed(0)
    m = WaveGAN(n_classes=3, **TINY).eval()
    labels = torch.tensor([0, 1, 2, 2])
    a = m.sample(4, labels, torch.Generator().manual_seed(7))
    b = m.sample(4, labels, torch.Generator().manual_seed(7))
    c = m.sample(4, labels, torch.Generator().manual_seed(8))
    assert a.shape == (4, 16384) and torch.equal(a, b) and not torch.allclose(a, c)
    z = torch.randn(4, 8, generator=torch.Generator().manual_seed(7))  # z is drawn on the CPU
    assert torch.allclose(a, m.generate(z, labels))
    other = m.sample(4, torch.tensor([1, 2, 0, 0]), torch.Generator().manual_seed(7))
    assert not torch.allclose(a, other)  # labels reach the generator
    with pytest.raises(ConfigError, match="labels"):
        m.sample(4)
    with pytest.raises(ConfigError, match="labels"):
        m.sample(2, torch.tensor([0, 3]))
    with pytest.raises(ConfigError, match="condition"):
        m.sample(4, labels, condition=torch.zeros(4, 1))
    for p in m.generator.parameters():
        p.mul_(50.0)
    assert float(m.sample(4, labels).abs().max()) <= 1.0  # tanh output


@torch.no_grad()
@pytest.mark.parametrize("conditioning", ["projection", "embedding"])
def test_discriminator_uses_labels(conditioning):
    torch.manual_seed(0)
    m = WaveGAN(n_classes=3, d_conditioning=conditioning, n_aux_classes=3, **TINY).eval()
    if conditioning == "projection":  # starts at zero (no label effect at initialisation)
        assert float(m.discriminator.projection.weight.abs().sum()) == 0.0
        m.discriminator.projection.weight.normal_()
    x = torch.rand(2, 1, 16384) * 2 - 1  # [B, 1, T] is accepted too
    l0, aux, _ = m.discriminate(x, torch.tensor([0, 0]))
    l1, _, _ = m.discriminate(x, torch.tensor([1, 2]))
    assert aux.shape == (2, 3) and not torch.allclose(l0, l1)
    with pytest.raises(ConfigError, match="audio"):
        m.discriminate(torch.zeros(2, 16000), torch.tensor([0, 0]))


@pytest.mark.parametrize("kwargs, field", [
    (dict(slice_len=16000), "slice_len"),
    (dict(kernel_size=24), "kernel_size"),
    (dict(d=0), "d"),
    (dict(n_classes=1), "n_classes"),
    (dict(n_classes=10, d_conditioning="none"), "d_conditioning"),
    (dict(d_conditioning="concat"), "d_conditioning"),
    (dict(phase_shuffle=-1), "phase_shuffle"),
])
def test_constructor_errors_name_the_field(kwargs, field):
    with pytest.raises(ConfigError) as e:
        WaveGAN(**{**TINY, **kwargs})
    assert str(e.value).startswith(field)
