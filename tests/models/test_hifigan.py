"""HiFi-GAN: paper sizes, output lengths, discriminator outputs, weight-norm removal, kwargs checks."""

import pytest
import torch

from speechgen.errors import ConfigError
from speechgen.models.hifigan import CONFIGS, HiFiGAN

TINY = dict(upsample_initial_channel=16, disc_width=1 / 32)
PAPER_MILLIONS = {"v1": 13.92, "v2": 0.92, "v3": 1.46}  # Kong et al. 2020, Table 1


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_paper_configs_sizes_and_output_length(version):
    torch.manual_seed(0)
    model = HiFiGAN(**CONFIGS[version], discriminators=False)
    assert model.discriminator is None and model.hop_length == 256 and model.n_mels == 80
    assert model.generator_parameters() / 1e6 == pytest.approx(PAPER_MILLIONS[version], rel=0.015)
    audio = model.infer(torch.randn(1, 80, 5) - 5.0)
    assert audio.shape == (1, 5 * 256)
    assert audio.abs().max() <= 1.0


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
@pytest.mark.parametrize("frames", [4, 9])
def test_tiny_configs_output_length(version, frames):
    model = HiFiGAN(**dict(CONFIGS[version], upsample_initial_channel=16), discriminators=False)
    assert model(torch.randn(3, 80, frames)).shape == (3, 1, frames * 256)
    assert model.infer(torch.randn(80, frames)).shape == (frames * 256,)


def test_other_hop_lengths():
    fp = {"hop_length": 200, "n_fft": 800, "win_length": 800}
    model = HiFiGAN(feature_params=fp, upsample_rates=[5, 5, 4, 2], upsample_kernel_sizes=[11, 10, 8, 4],
                    upsample_initial_channel=16, discriminators=False)
    assert model.hop_length == 200 and model(torch.randn(1, 80, 6)).shape == (1, 1, 1200)


def test_discriminator_outputs_and_feature_lists():
    torch.manual_seed(0)
    model = HiFiGAN(**TINY)
    audio = torch.randn(2, 1, 2048) * 0.1
    logits, feats = model.discriminate(audio)
    assert len(logits) == len(feats) == 5 + 3  # MPD periods 2, 3, 5, 7, 11 + MSD scales
    assert [len(f) for f in feats] == [6] * 5 + [8] * 3  # conv layers + output map
    for period, f in zip((2, 3, 5, 7, 11), feats[:5]):
        assert f[0].ndim == 4 and f[0].shape[-1] == period
    msd_lengths = [f[0].shape[-1] for f in feats[5:]]
    assert msd_lengths[0] > msd_lengths[1] > msd_lengths[2]  # raw, x2 and x4 pooled audio
    assert all(lo.shape[0] == 2 for lo in logits)
    assert model.mpd is not None and model.msd is not None
    # the discriminators see the difference between two inputs
    other, _ = model.discriminate(audio * 0.5)
    assert any(not torch.allclose(a, b) for a, b in zip(logits, other))


def test_weight_norm_removal_keeps_outputs():
    torch.manual_seed(0)
    model = HiFiGAN(**TINY, discriminators=False).eval()
    mel = torch.randn(2, 80, 7) - 4.0
    before = model.infer(mel)
    assert model.weight_norm_active
    assert model.remove_weight_norm() > 0
    assert not model.weight_norm_active
    torch.testing.assert_close(model.infer(mel), before, atol=1e-5, rtol=0)


def test_kwargs_checks_name_the_field():
    with pytest.raises(ConfigError, match=r"^upsample_rates: their product 128 must equal the hop length"):
        HiFiGAN.describe({"upsample_rates": [8, 8, 2]})
    with pytest.raises(ConfigError, match=r"^feature_params\.n_bands: not a log_mel parameter"):
        HiFiGAN.describe({"feature_params": {"n_bands": 80}})
    with pytest.raises(ConfigError, match=r"^feature_params\.fmax: 8000 Hz is above the Nyquist"):
        HiFiGAN.describe({"sample_rate": 8000})
    spec = HiFiGAN.describe({"sample_rate": 22050})
    assert (spec.sample_rate, spec.hop_length, spec.n_mels) == (22050, 256, 80)
    with pytest.raises(ConfigError, match="upsample_kernel_sizes"):
        HiFiGAN(upsample_kernel_sizes=[16, 16, 4], discriminators=False)
    model = HiFiGAN(upsample_initial_channel=16, discriminators=False)
    with pytest.raises(ConfigError, match="80 bands"):
        model.infer(torch.randn(1, 64, 10))
    with pytest.raises(ConfigError, match="without discriminators"):
        model.discriminate(torch.randn(1, 1, 512))


def _layout_of(model):
    return {k: tuple(v.shape) for k, v in model.state_dict().items()}


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_config_preset_equals_the_explicit_layout(version):
    preset = HiFiGAN(config=version, discriminators=False)
    explicit = HiFiGAN(**CONFIGS[version], discriminators=False)
    assert _layout_of(preset) == _layout_of(explicit)
    assert preset.generator_parameters() == explicit.generator_parameters()
    assert preset.generator_parameters() / 1e6 == pytest.approx(PAPER_MILLIONS[version], rel=0.015)


def test_config_without_preset_is_v1_and_explicit_kwargs_win():
    assert _layout_of(HiFiGAN(discriminators=False)) == _layout_of(HiFiGAN(config="v1", discriminators=False))
    tiny_v3 = HiFiGAN(config="v3", upsample_initial_channel=16, disc_width=1 / 32)
    expected = HiFiGAN(**dict(CONFIGS["v3"], upsample_initial_channel=16), disc_width=1 / 32)
    assert _layout_of(tiny_v3) == _layout_of(expected)
    assert len(tiny_v3.generator.ups) == 3 and tiny_v3.generator.conv_pre.out_channels == 16
    assert HiFiGAN.layout({"config": "v2", "resblock": 2})["resblock"] == 2
    assert HiFiGAN.layout({"config": "v2"}) == CONFIGS["v2"]
    assert HiFiGAN.describe({"config": "v3"}).hop_length == 256
    with pytest.raises(ConfigError, match=r"^config: expected one of v1, v2, v3, got 'v4'$"):
        HiFiGAN.layout({"config": "v4"})
    with pytest.raises(ConfigError, match=r"^upsample_rates: their product 512 must equal the hop length"):
        HiFiGAN.describe({"config": "v3", "upsample_rates": [8, 8, 8]})


def test_checkpoint_with_config_rebuilds_the_same_model(tmp_path):
    from speechgen.checkpoint import load_model, read_config, save_checkpoint
    from speechgen.models.registry import MODELS

    torch.manual_seed(0)
    kwargs = {"config": "v2", "upsample_initial_channel": 16, "discriminators": False}
    model = HiFiGAN(**kwargs).eval()
    folder = save_checkpoint(tmp_path / "ckpt", model, {"name": "hifigan", "kwargs": kwargs})
    assert read_config(folder)["model"]["kwargs"] == kwargs  # stored as given, not expanded
    loaded = load_model(folder, MODELS, expected="hifigan")
    explicit = HiFiGAN(**dict(CONFIGS["v2"], upsample_initial_channel=16), discriminators=False)
    assert _layout_of(loaded) == _layout_of(model) == _layout_of(explicit)
    mel = torch.randn(1, 80, 6) - 4.0
    torch.testing.assert_close(loaded.infer(mel), model.infer(mel))
