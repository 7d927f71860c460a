"""MelGAN: paper size, output lengths, multi-scale discriminator outputs, weight-norm removal."""

import pytest
import torch

from speechgen.models.melgan import MelGAN

TINY = dict(ngf=2, ndf=4, disc_max_channels=32)


def test_paper_size_and_output_length():
    torch.manual_seed(0)
    model = MelGAN(discriminators=False)
    assert model.generator_parameters() / 1e6 == pytest.approx(4.26, rel=0.015)  # Kumar et al. 2019, Table 3
    audio = model.infer(torch.randn(1, 80, 6) - 5.0)
    assert audio.shape == (1, 6 * 256) and audio.abs().max() <= 1.0


@pytest.mark.parametrize("rates", [[8, 8, 2, 2], [8, 8, 4], [4, 4, 4, 4]])
@pytest.mark.parametrize("frames", [4, 11])
def test_tiny_output_length(rates, frames):
    model = MelGAN(upsample_rates=rates, ngf=2, discriminators=False)
    assert model(torch.randn(2, 80, frames)).shape == (2, 1, frames * 256)


def test_multiscale_discriminator_outputs():
    torch.manual_seed(0)
    model = MelGAN(**TINY)
    logits, feats = model.discriminate(torch.randn(2, 2048) * 0.1)
    assert len(logits) == len(feats) == 3
    assert [len(f) for f in feats] == [6, 6, 6]  # input conv, 4 strided convs, kernel-5 conv (logit excluded)
    lengths = [f[0].shape[-1] for f in feats]
    assert lengths == [2048, 1024, 512]  # raw audio, then average-pooled x2 and x4
    assert [lo.shape[-1] for lo in logits] == [8, 4, 2]  # four stride-4 layers: /256


def test_weight_norm_removal_keeps_outputs():
    torch.manual_seed(0)
    model = MelGAN(**TINY, discriminators=False)
    mel = torch.randn(2, 80, 9) - 4.0
    before = model.infer(mel)
    assert model.remove_weight_norm() == 1 + 4 * (1 + 9) + 1
    torch.testing.assert_close(model.infer(mel), before, atol=1e-5, rtol=0)
