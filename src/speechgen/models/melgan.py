"""MelGAN (Kumar et al., NeurIPS 2019): a non-autoregressive mel-to-waveform GAN vocoder.

Generator: a kernel-7 convolution (reflection padding) from the ``n_mels`` bands to ``ngf · 2^len(rates)``
channels, then per upsampling rate ``r`` a leaky ReLU (0.2), a transposed convolution (kernel ``2r``, stride
``r``) halving the channels and a residual stack of dilated convolutions (dilations 1, 3, 9: kernel 3, 1x1
shortcuts), and finally a leaky ReLU, a kernel-7 convolution to one channel and tanh. All convolutions are
weight-normalised. The paper's model (rates 8, 8, 2, 2; ``ngf`` 32: 512 channels after the input convolution) has
4.26 M parameters.

Discriminator: three identical scale discriminators on the raw audio and on audio average-pooled ×2 and ×4
(pool kernel 4, stride 2, padding excluded from the mean); each is a kernel-15 convolution (``ndf`` 16 channels,
reflection padding), four grouped convolutions of kernel 41 and stride 4 (channels ×4 up to 1024, groups
``in / 4``), a kernel-5 convolution and a kernel-3 output convolution, with leaky ReLUs (0.2).

The paper's losses (applied by the ``vocoder`` training scheme): hinge loss for both players and feature matching
(L1 over every intermediate discriminator layer, weight 10); Adam (0.5, 0.9), lr 1e-4, batch 16, 8192-sample
segments. No spectral loss.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from speechgen.errors import ConfigError
from speechgen.models.vocoder import GANVocoder
from speechgen.nn.vocoder_blocks import DilatedResidualStack, TransposedUpsample, conv1d
from speechgen.nn.vocoder_discriminators import MultiScaleDiscriminator, melgan_scale_layers

SLOPE = 0.2


class MelGANGenerator(nn.Module):
    """The MelGAN generator: log-mel ``[B, n_mels, F]`` → audio ``[B, 1, F * prod(upsample_rates)]``.

    Needs at least 4 frames (reflection padding of the input convolution).
    """

    def __init__(self, n_mels: int = 80, upsample_rates: Sequence[int] = (8, 8, 2, 2), ngf: int = 32,
                 dilations: Sequence[int] = (1, 3, 9)) -> None:
        super().__init__()
        ch = ngf * 2 ** len(upsample_rates)
        self.conv_pre = conv1d(n_mels, ch, 7, padding_mode="reflect")
        stages: list[nn.Module] = []
        for r in upsample_rates:
            stages += [TransposedUpsample(ch, ch // 2, r, 2 * r, SLOPE), DilatedResidualStack(ch // 2, dilations)]
            ch //= 2
        self.stages = nn.Sequential(*stages)
        self.conv_post = conv1d(ch, 1, 7, padding_mode="reflect")

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.stages(self.conv_pre(mel))
        return torch.tanh(self.conv_post(F.leaky_relu(x, SLOPE)))


class MelGAN(GANVocoder):
    """MelGAN generator + multi-scale discriminator (registry name ``melgan``; see the module docstring).

    Args:
        sample_rate: audio rate (16 000 for our digits corpus, 22 050 in the paper).
        feature_params: the log-mel input's parameters (:class:`~speechgen.data.features.LogMel` fields);
            ``hop_length`` must equal the product of ``upsample_rates``.
        upsample_rates: generator upsampling rates (8, 8, 2, 2 for hop 256).
        ngf: generator width: ``ngf · 2^len(upsample_rates)`` channels after the input convolution.
        dilations: dilations of each residual stack (1, 3, 9).
        disc_scales: number of scale discriminators (3).
        ndf, disc_layers, disc_downsampling: each scale discriminator's first width, number of strided layers
            and their stride (16, 4, 4). disc_max_channels: cap of their channel counts (1024).
        discriminators: build the discriminator (False for inference).
    """

    def __init__(self, sample_rate: int = 16000, feature_params: dict[str, Any] | None = None,
                 upsample_rates: Sequence[int] = (8, 8, 2, 2), ngf: int = 32, dilations: Sequence[int] = (1, 3, 9),
                 disc_scales: int = 3, ndf: int = 16, disc_layers: int = 4, disc_downsampling: int = 4,
                 disc_max_channels: int = 1024, discriminators: bool = True) -> None:
        field, product = self.upsampling({"upsample_rates": list(upsample_rates)})
        super().__init__(sample_rate, feature_params, product, field)
        if ngf < 1:
            raise ConfigError(f"ngf: must be >= 1, got {ngf}")
        self.generator = MelGANGenerator(self.n_mels, upsample_rates, ngf, dilations)
        self.discriminator = None
        if discriminators:
            layers = melgan_scale_layers(ndf, disc_layers, disc_downsampling, disc_max_channels)
            self.discriminator = MultiScaleDiscriminator(
                disc_scales, layers, slope=SLOPE, pool_padding=1, count_include_pad=False,
                input_padding_mode="reflect", logit_is_feature=False)
