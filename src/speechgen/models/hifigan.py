"""HiFi-GAN (Kong, Kim & Bae, NeurIPS 2020): a mel-to-waveform GAN vocoder.

Generator: a kernel-7 input convolution to ``upsample_initial_channel`` channels, then one stage per upsampling
rate ``r_i`` (leaky ReLU 0.1, a transposed convolution of kernel ``k_i`` and stride ``r_i`` halving the channels,
then multi-receptive-field fusion: the mean of residual blocks with kernel sizes ``resblock_kernel_sizes`` and
dilations ``resblock_dilation_sizes``), a leaky ReLU (slope 0.01), a kernel-7 output convolution and tanh. All
convolutions are weight-normalised; the product of the rates is the hop length.

The paper's configurations (generator parameters as published; :data:`CONFIGS`, chosen by ``config="v2"``):

====  ==============  ===============  ========  ========  ============  ==========================  ========
name  rates           kernels          channels  resblock  MRF kernels   MRF dilations               params
====  ==============  ===============  ========  ========  ============  ==========================  ========
V1    8, 8, 2, 2      16, 16, 4, 4     512       1         3, 7, 11      (1,3,5) ×3                  13.92 M
V2    8, 8, 2, 2      16, 16, 4, 4     128       1         3, 7, 11      (1,3,5) ×3                  0.92 M
V3    8, 8, 4         16, 16, 8        256       2         3, 5, 7       (1,2), (2,6), (3,12)        1.46 M
====  ==============  ===============  ========  ========  ============  ==========================  ========

Discriminators: the multi-period discriminator (MPD; periods 2, 3, 5, 7, 11, 2-D convolutions on the waveform
folded by its period) and the multi-scale discriminator (MSD; MelGAN's on raw, ×2 and ×4 average-pooled audio,
spectral norm on the raw-audio scale). ``disc_width`` scales their channel counts (1.0: the paper's).

The paper's losses (applied by the ``vocoder`` training scheme): LSGAN for both players, feature matching
(weight 2, summed over layers) and the L1 distance of log-mel spectrograms (weight 45); AdamW (0.8, 0.99), lr 2e-4.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from speechgen.errors import ConfigError
from speechgen.models.vocoder import GANVocoder
from speechgen.nn.vocoder_blocks import LRELU_SLOPE, MultiReceptiveFieldFusion, TransposedUpsample, conv1d
from speechgen.nn.vocoder_discriminators import hifigan_discriminator

#: generator kwargs of the paper's three configurations
CONFIGS: dict[str, dict[str, Any]] = {
    "v1": {"upsample_rates": [8, 8, 2, 2], "upsample_kernel_sizes": [16, 16, 4, 4], "upsample_initial_channel": 512,
           "resblock": 1, "resblock_kernel_sizes": [3, 7, 11], "resblock_dilation_sizes": [[1, 3, 5]] * 3},
    "v2": {"upsample_rates": [8, 8, 2, 2], "upsample_kernel_sizes": [16, 16, 4, 4], "upsample_initial_channel": 128,
           "resblock": 1, "resblock_kernel_sizes": [3, 7, 11], "resblock_dilation_sizes": [[1, 3, 5]] * 3},
    "v3": {"upsample_rates": [8, 8, 4], "upsample_kernel_sizes": [16, 16, 8], "upsample_initial_channel": 256,
           "resblock": 2, "resblock_kernel_sizes": [3, 5, 7], "resblock_dilation_sizes": [[1, 2], [2, 6], [3, 12]]},
}


class HiFiGANGenerator(nn.Module):
    """The HiFi-GAN generator: log-mel ``[B, n_mels, F]`` → audio ``[B, 1, F * prod(upsample_rates)]``."""

    def __init__(self, n_mels: int = 80, upsample_rates: Sequence[int] = (8, 8, 2, 2),
                 upsample_kernel_sizes: Sequence[int] = (16, 16, 4, 4), upsample_initial_channel: int = 512,
                 resblock: int = 1, resblock_kernel_sizes: Sequence[int] = (3, 7, 11),
                 resblock_dilation_sizes: Sequence[Sequence[int]] = ((1, 3, 5), (1, 3, 5), (1, 3, 5))) -> None:
        super().__init__()
        if len(upsample_rates) != len(upsample_kernel_sizes):
            raise ConfigError(f"upsample_kernel_sizes: need one per upsample rate ({len(upsample_rates)}), "
                              f"got {len(upsample_kernel_sizes)}")
        if upsample_initial_channel < 2 ** len(upsample_rates):
            raise ConfigError(f"upsample_initial_channel: {upsample_initial_channel} cannot be halved "
                              f"{len(upsample_rates)} times")
        self.conv_pre = conv1d(n_mels, upsample_initial_channel, 7)
        self.ups = nn.ModuleList()
        self.mrfs = nn.ModuleList()
        ch = upsample_initial_channel
        for r, k in zip(upsample_rates, upsample_kernel_sizes):
            if k < r:
                raise ConfigError(f"upsample_kernel_sizes: {k} is smaller than its rate {r}")
            self.ups.append(TransposedUpsample(ch, ch // 2, r, k, LRELU_SLOPE, init_std=0.01))
            ch //= 2
            self.mrfs.append(MultiReceptiveFieldFusion(ch, resblock_kernel_sizes, resblock_dilation_sizes, resblock))
        self.conv_post = conv1d(ch, 1, 7, init_std=0.01)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv_pre(mel)
        for up, mrf in zip(self.ups, self.mrfs):
            x = mrf(up(x))
        return torch.tanh(self.conv_post(F.leaky_relu(x)))  # slope 0.01 here, as in the reference code


class HiFiGAN(GANVocoder):
    """HiFi-GAN generator + MPD + MSD (registry name ``hifigan``; see the module docstring).

    Args:
        sample_rate: audio rate (16 000 for our digits corpus, 22 050 in the paper).
        feature_params: the log-mel input's parameters (:class:`~speechgen.data.features.LogMel` fields; the
            defaults of docs/data.md, Features: n_fft 1024, hop 256, win 1024, 80 bands, 0-8 kHz). ``hop_length``
            must equal the product of ``upsample_rates``.
        config: a paper configuration of :data:`CONFIGS` ("v1", "v2", "v3") that sets the generator layout (the
            six arguments below); an argument given explicitly (not None) overrides its value. None: V1.
        upsample_rates, upsample_kernel_sizes, upsample_initial_channel, resblock, resblock_kernel_sizes,
            resblock_dilation_sizes: the generator (None: the value of ``config``; see :data:`CONFIGS`).
        mpd_periods: periods of the multi-period discriminator ([] leaves it out).
        msd_scales: scales of the multi-scale discriminator (0 leaves it out).
        disc_width: multiplier of the discriminators' channel counts (1.0: the paper's; tiny test models use less).
        discriminators: build the discriminators (False for inference).

    Checkpoints store the kwargs as given (``config: v2`` and any overrides), which rebuild the same layout.
    """

    def __init__(self, sample_rate: int = 16000, feature_params: dict[str, Any] | None = None,
                 config: Literal["v1", "v2", "v3"] | None = None,
                 upsample_rates: Sequence[int] | None = None, upsample_kernel_sizes: Sequence[int] | None = None,
                 upsample_initial_channel: int | None = None, resblock: Literal[1, 2] | None = None,
                 resblock_kernel_sizes: Sequence[int] | None = None,
                 resblock_dilation_sizes: Sequence[Sequence[int]] | None = None,
                 mpd_periods: Sequence[int] = (2, 3, 5, 7, 11), msd_scales: int = 3, disc_width: float = 1.0,
                 discriminators: bool = True) -> None:
        layout = self.layout({"config": config, "upsample_rates": upsample_rates,
                              "upsample_kernel_sizes": upsample_kernel_sizes,
                              "upsample_initial_channel": upsample_initial_channel, "resblock": resblock,
                              "resblock_kernel_sizes": resblock_kernel_sizes,
                              "resblock_dilation_sizes": resblock_dilation_sizes})
        field, product = self.upsampling(layout)
        super().__init__(sample_rate, feature_params, product, field)
        self.generator = HiFiGANGenerator(self.n_mels, **layout)
        self.discriminator = None
        if discriminators:
            self.discriminator = hifigan_discriminator(mpd_periods, msd_scales, disc_width, "a HiFi-GAN")

    @classmethod
    def layout(cls, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """The generator layout of constructor ``kwargs``: :data:`CONFIGS` [``config``] (V1 without one) with the
        layout arguments given in ``kwargs`` (not None) on top. ConfigError on an unknown ``config``.

        kwargs: constructor keyword arguments (any subset).
        """
        config = kwargs.get("config")
        if config is not None and config not in CONFIGS:
            raise ConfigError(f"config: expected one of {', '.join(sorted(CONFIGS))}, got {config!r}")
        preset = CONFIGS[config or "v1"]
        return {k: copy.deepcopy(preset[k] if kwargs.get(k) is None else kwargs[k]) for k in preset}

    @classmethod
    def upsampling(cls, kwargs: Mapping[str, Any]) -> tuple[str, int]:
        """``("upsample_rates", their product)`` of constructor ``kwargs``, ``config`` included.

        kwargs: constructor keyword arguments (any subset).
        """
        return super().upsampling({"upsample_rates": cls.layout(kwargs)["upsample_rates"]})

    def _part(self, name: str) -> nn.Module | None:
        parts = getattr(self.discriminator, "parts", {})
        return parts[name] if name in parts else None

    @property
    def mpd(self) -> nn.Module | None:
        """The multi-period discriminator (None without discriminators)."""
        return self._part("mpd")

    @property
    def msd(self) -> nn.Module | None:
        """The multi-scale discriminator (None without discriminators)."""
        return self._part("msd")
