"""The shared gated residual unit: padding, causality, conditioning, output convs, scaling, last layer, errors."""

import math

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.nn.gated import GatedResidualUnit
from speechgen.nn.vocoder_blocks import has_weight_norm

R, G, S, T = 4, 3, 5, 23


def _unit(seed: int = 0, **kw) -> GatedResidualUnit:
    torch.manual_seed(seed)
    return GatedResidualUnit(R, G, S, **{"kernel_size": 3, **kw}).eval()


def _x(seed: int = 1, t: int = T) -> torch.Tensor:
    return torch.randn(2, R, t, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("causal, kernel", [(True, 2), (True, 3), (True, 4), (False, 1), (False, 3), (False, 5)])
@pytest.mark.parametrize("dilation", [1, 2, 5])
@pytest.mark.parametrize("combined", [True, False])
def test_shapes_keep_the_length(causal, kernel, dilation, combined):
    unit = _unit(kernel_size=kernel, dilation=dilation, causal=causal, combined=combined)
    x = _x()
    y, s = unit(x)
    assert y.shape == x.shape and s.shape == (2, S, T)


@pytest.mark.parametrize("kernel, dilation", [(2, 1), (3, 4)])
def test_causal_output_ignores_the_future_and_same_padding_does_not(kernel, dilation):
    x = _x()
    x2 = x.clone()
    t = 10
    x2[:, :, t + 1:] += 1.0
    causal = _unit(kernel_size=kernel, dilation=dilation, causal=True)
    y, s = causal(x)
    y2, s2 = causal(x2)
    assert torch.equal(y[..., :t + 1], y2[..., :t + 1]) and torch.equal(s[..., :t + 1], s2[..., :t + 1])
    assert not torch.allclose(s[..., t + 1:], s2[..., t + 1:])
    same = _unit(kernel_size=3, dilation=dilation, causal=False)
    assert not torch.allclose(same(x)[1][..., t], same(x2)[1][..., t])  # sees d samples ahead


@pytest.mark.parametrize("label_at", ["gate", "input"])
def test_global_conditioning_changes_the_output_per_item(label_at):
    unit = _unit(label_channels=6, label_at=label_at)
    x = _x()
    g = torch.randn(2, 6)
    _, s0 = unit(x)
    _, s1 = unit(x, g=g)
    assert not torch.allclose(s0, s1)
    g2 = g.clone()
    g2[1] += 1.0
    _, s2 = unit(x, g=g2)
    assert torch.equal(s1[0], s2[0]) and not torch.allclose(s1[1], s2[1])  # per item
    if label_at == "gate":
        assert unit.label.weight.shape == (2 * G, 6) and unit.label.bias is None
    else:
        assert unit.label.weight.shape == (R, 6) and unit.label.bias is not None


def test_local_conditioning_changes_the_output_where_it_changes():
    unit = _unit(cond_channels=7, causal=True, kernel_size=2)
    x = _x()
    c = torch.randn(2, 7, T)
    _, s0 = unit(x)
    _, s1 = unit(x, c=c)
    assert not torch.allclose(s0, s1)
    c2 = c.clone()
    c2[:, :, 12] += 1.0
    _, s2 = unit(x, c=c2)
    changed = (s1 - s2).abs().amax(dim=(0, 1)) > 0
    assert changed.nonzero().flatten().tolist() == [12]  # a 1x1 convolution: only that sample
    assert unit.cond.weight.shape == (2 * G, 7, 1) and unit.cond.bias is None


def test_conditioning_without_its_layer_is_ignored():
    unit = _unit()
    x = _x()
    y, s = unit(x)
    y2, s2 = unit(x, g=torch.randn(2, 6), c=torch.randn(2, 7, T))
    assert unit.label is None and unit.cond is None
    assert torch.equal(y, y2) and torch.equal(s, s2)


def test_combined_output_conv_splits_residual_then_skip():
    unit = _unit(combined=True)
    assert unit.skip is None and unit.out.weight.shape == (R + S, G, 1)
    x = _x()
    y, s = unit(x)
    h = unit.conv(torch.nn.functional.pad(x, (2, 0)))
    a, b = h.chunk(2, dim=1)
    out = unit.out(torch.tanh(a) * torch.sigmoid(b))
    assert torch.allclose(y, x + out[:, :R]) and torch.allclose(s, out[:, R:])


def test_separate_output_convs():
    unit = _unit(combined=False, causal=False)
    assert unit.skip.weight.shape == (S, G, 1) and unit.out.weight.shape == (R, G, 1)
    x = _x()
    y, s = unit(x)
    a, b = unit.conv(x).chunk(2, dim=1)
    z = torch.tanh(a) * torch.sigmoid(b)
    assert torch.allclose(y, x + unit.out(z)) and torch.allclose(s, unit.skip(z))
    names = {k.split(".")[0] for k in unit.state_dict()}
    assert names == {"conv", "skip", "out"}


@pytest.mark.parametrize("combined", [True, False])
def test_scale_multiplies_the_residual_sum_by_root_half(combined):
    x = _x()
    y0, s0 = _unit(combined=combined, scale=False)(x)
    y1, s1 = _unit(combined=combined, scale=True)(x)  # same seed, same weights
    assert torch.equal(s0, s1)
    assert torch.allclose(y1, y0 * math.sqrt(0.5))


@pytest.mark.parametrize("combined", [True, False])
def test_last_layer_returns_the_input_and_the_skip_only(combined):
    unit = _unit(combined=combined, last=True, scale=True)
    x = _x()
    y, s = unit(x)
    assert y is x and s.shape == (2, S, T)
    if combined:
        assert unit.out.weight.shape == (S, G, 1)
    else:
        assert unit.out is None and unit.skip.weight.shape == (S, G, 1)


def test_weight_norm_wraps_every_weight():
    unit = _unit(norm="weight", causal=False, label_channels=2, cond_channels=3, combined=False)
    assert has_weight_norm(unit)
    assert all("parametrizations.weight" in k for k in unit.state_dict() if k.endswith(("original0", "original1")))
    assert not any(k.endswith(".weight") for k in unit.state_dict())
    y, s = unit(_x(), g=torch.randn(2, 2), c=torch.randn(2, 3, T))
    assert y.shape == (2, R, T) and s.shape == (2, S, T)


def test_default_init_matches_a_plain_conv():
    torch.manual_seed(0)
    conv = torch.nn.Conv1d(R, 2 * G, 3, dilation=2)
    unit = _unit(dilation=2)
    assert torch.equal(unit.conv.weight, conv.weight) and torch.equal(unit.conv.bias, conv.bias)


@pytest.mark.parametrize("kw, msg", [
    (dict(kernel_size=2, causal=False), "kernel_size: must be odd"),
    (dict(kernel_size=4, causal=False), "kernel_size: must be odd"),
    (dict(kernel_size=0), "kernel_size: expected an integer >= 1"),
    (dict(dilation=0), "dilation: expected an integer >= 1"),
    (dict(label_channels=-1), "label_channels: expected an integer >= 0"),
    (dict(label_at="output", label_channels=2), "label_at: expected 'gate' or 'input'"),
])
def test_errors_name_the_argument(kw, msg):
    with pytest.raises(ConfigError) as err:
        _unit(**kw)
    assert str(err.value).startswith(msg), str(err.value)
