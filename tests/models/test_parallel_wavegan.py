"""Parallel WaveGAN: paper size, output length, noise handling, discriminator layout, kwargs checks."""

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.models.parallel_wavegan import ParallelWaveGAN

TINY = dict(layers=6, stacks=2, residual_channels=8, gate_channels=16, skip_channels=8, disc_layers=4,
            disc_channels=8)


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_paper_size():
    model = ParallelWaveGAN()
    gen_wn, disc_wn = _count(model.generator), _count(model.discriminator)
    assert model.remove_weight_norm() == 30 * 4 + 1 + 1 + 4 + 2  # every generator convolution
    from speechgen.nn.vocoder_blocks import remove_weight_norm
    remove_weight_norm(model.discriminator)
    gen, disc = _count(model.generator), _count(model.discriminator)
    # 30 blocks x (64*128*3 + 128 + 80*128 + 2 * (64*64 + 64)) + input/output 1x1s + upsampling network
    assert gen == 30 * 43264 + 128 + 4160 + 65 + 80 * 80 * 5 + 4 * 9 == 1_334_309
    assert disc == 256 + 8 * 12352 + 193 == 99_265
    assert gen_wn == pytest.approx(1.346e6, rel=1e-3) and disc_wn > disc
    assert (gen + disc) / 1e6 == pytest.approx(1.44, rel=0.01)  # the paper's "1.44 M"
    assert model.generator.receptive_field == 1 + 2 * 3 * (2 ** 10 - 1)


@pytest.mark.parametrize("frames", [1, 5])
def test_output_length_is_frames_times_hop(frames):
    model = ParallelWaveGAN(**TINY)
    assert model.hop_length == 256 and model.n_mels == 80
    assert model(torch.randn(2, 80, frames) - 5.0).shape == (2, 1, frames * 256)
    assert model.infer(torch.randn(80, frames)).shape == (frames * 256,)


def test_other_hop_via_upsample_rates():
    model = ParallelWaveGAN(feature_params={"hop_length": 200, "n_fft": 800, "win_length": 800},
                            upsample_rates=[5, 5, 8], **TINY)
    assert model(torch.randn(1, 80, 3)).shape == (1, 1, 600)


def test_eval_noise_is_fixed_and_training_noise_is_fresh():
    torch.manual_seed(0)
    model = ParallelWaveGAN(**TINY)
    mel = torch.randn(1, 80, 6) - 5.0
    model.eval()
    a, b = model.infer(mel), model.infer(mel)
    assert torch.equal(a, b)
    longer = model.infer(torch.cat([mel, mel], -1))  # noise indexed by position: the first half is unchanged
    assert longer.shape[-1] == 2 * a.shape[-1]
    model.train()
    with torch.no_grad():
        c, d = model(mel), model(mel)
    assert not torch.equal(c, d)
    noise = torch.randn(1, 1, 6 * 256)
    with torch.no_grad():
        assert torch.equal(model.generator(mel, noise), model.generator(mel, noise))
    with pytest.raises(ConfigError, match=r"^noise: expected \[1, 1, 1536\]"):
        model.generator(mel, torch.randn(1, 1, 100))


def test_upsampling_net_is_a_smoothed_repeat_at_init():
    model = ParallelWaveGAN(**TINY)
    up = model.generator.upsample
    mel = torch.full((1, 80, 4), -3.0)
    out = up.convs[0](torch.nn.functional.interpolate(up.conv_in(mel).unsqueeze(1), scale_factor=(1.0, 4.0)))
    assert out.shape == (1, 1, 80, 16)
    c = up(mel)
    assert c.shape == (1, 80, 4 * 256)
    # a constant mel stays constant in time, edges included (replicate padding, moving-average kernels)
    assert torch.allclose(c, c[..., :1].expand_as(c), atol=1e-5)


def test_discriminator_layout_and_outputs():
    model = ParallelWaveGAN()
    d = model.discriminator
    assert [c.dilation[0] for c in d.convs] == [1, 1, 2, 3, 4, 5, 6, 7, 8]  # then the undilated output layer
    assert d.post.dilation[0] == 1 and len(d.convs) + 1 == 10
    logits, feats = model.discriminate(torch.randn(2, 1, 1000) * 0.1)
    assert len(logits) == 1 and logits[0].shape == (2, 1000)  # one logit per sample (stride 1, same padding)
    assert len(feats[0]) == 9 and all(f.shape == (2, 64, 1000) for f in feats[0])


def test_weight_norm_removal_keeps_the_output():
    torch.manual_seed(0)
    model = ParallelWaveGAN(**TINY).eval()
    mel = torch.randn(1, 80, 5) - 5.0
    before = model.infer(mel)
    assert model.weight_norm_active and model.remove_weight_norm() > 0 and not model.weight_norm_active
    assert torch.allclose(model.infer(mel), before, atol=1e-5)


@pytest.mark.parametrize("kwargs, msg", [
    (dict(upsample_rates=[4, 4, 4]), "upsample_rates: their product 64 must equal the hop length"),
    (dict(layers=10, stacks=3), "layers: 10 is not a multiple of stacks (3)"),
    (dict(gate_channels=15), "gate_channels: must be even"),
    (dict(kernel_size=2), "kernel_size: must be odd"),
    (dict(disc_layers=1), "disc_layers: must be >= 2"),
])
def test_kwargs_errors_name_the_field(kwargs, msg):
    with pytest.raises(ConfigError) as err:
        ParallelWaveGAN(**dict(TINY, **kwargs))
    assert str(err.value).startswith(msg), str(err.value)


def test_describe_checks_without_building():
    spec = ParallelWaveGAN.describe({"sample_rate": 22050})
    assert spec.hop_length == 256 and spec.sample_rate == 22050 and spec.n_mels == 80
    with pytest.raises(ConfigError, match=r"^upsample_rates: their product 128"):
        ParallelWaveGAN.describe({"upsample_rates": [4, 4, 8]})
