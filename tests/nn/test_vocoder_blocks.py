"""Shared vocoder layers: exact upsampling lengths, "same" padding, weight-norm removal."""

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.nn.vocoder_blocks import (DilatedResidualStack, MultiReceptiveFieldFusion, ResBlock2, conv1d,
                                         has_weight_norm, remove_weight_norm, upsample_conv)
from speechgen.nn.vocoder_discriminators import MultiPeriodDiscriminator, PeriodDiscriminator, melgan_scale_layers


@pytest.mark.parametrize("rate, kernel", [(8, 16), (2, 4), (4, 8), (5, 10), (3, 4), (5, 11), (8, None), (1, 3)])
def test_upsample_conv_is_exactly_rate_times_longer(rate, kernel):
    conv = upsample_conv(3, 2, rate, kernel)
    for t in (1, 7, 20):
        assert conv(torch.randn(1, 3, t)).shape == (1, 2, t * rate)


def test_upsample_conv_rejects_a_kernel_below_the_rate():
    with pytest.raises(ConfigError, match="kernel_size"):
        upsample_conv(1, 1, 4, 3)


@pytest.mark.parametrize("block", [
    lambda: MultiReceptiveFieldFusion(4, [3, 7], [[1, 3, 5], [1, 3, 5]], kind=1),
    lambda: ResBlock2(4, 5, (2, 6)),
    lambda: DilatedResidualStack(4, (1, 3, 9)),
])
def test_residual_blocks_keep_the_length(block):
    x = torch.randn(2, 4, 37)
    assert block()(x).shape == x.shape


def test_remove_weight_norm_keeps_outputs_and_drops_parametrisations():
    torch.manual_seed(0)
    net = torch.nn.Sequential(conv1d(2, 4, 3), DilatedResidualStack(4), upsample_conv(4, 1, 4))
    x = torch.randn(1, 2, 50)
    before = net(x)
    assert has_weight_norm(net)
    assert remove_weight_norm(net) == 1 + 9 + 1
    assert not has_weight_norm(net)
    assert not any("parametrizations" in k for k in net.state_dict())
    torch.testing.assert_close(net(x), before, atol=1e-6, rtol=0)


def test_period_discriminator_folds_by_period_and_pads_any_length():
    d = PeriodDiscriminator(5, channels=(2, 4, 4))
    logits, feats = d(torch.randn(2, 1, 103))  # 103 is not a multiple of 5: reflect-padded to 105
    assert len(feats) == 4 and feats[0].shape[-1] == 5 and logits.shape[0] == 2
    mpd = MultiPeriodDiscriminator((2, 3), width=1 / 32)
    lo, fe = mpd(torch.randn(1, 1, 64))
    assert len(lo) == 2 and [f[0].shape[-1] for f in fe] == [2, 3]


def test_melgan_scale_layers_follow_the_paper():
    layers = melgan_scale_layers()
    assert [l[:2] for l in layers] == [(1, 16), (16, 64), (64, 256), (256, 1024), (1024, 1024), (1024, 1024)]
    assert [l[4] for l in layers] == [1, 4, 16, 64, 256, 1]
    assert all(l[2] == 41 and l[3] == 4 for l in layers[1:5])
