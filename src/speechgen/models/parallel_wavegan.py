"""Parallel WaveGAN (Yamamoto, Song & Kim, ICASSP 2020): a non-autoregressive WaveNet turning Gaussian noise and a
log-mel into a waveform, trained with a multi-resolution STFT loss and an adversarial loss.

Generator (``[B, n_mels, F]`` → ``[B, 1, F * hop]``):

- **upsampling network**: a convolution over ``2 · aux_context_window + 1`` frames (replicate padding: log-mel
  silence is not 0), then per rate ``s`` of ``upsample_rates`` a nearest-neighbour stretch ×s along time followed by
  a 2-D convolution of kernel ``(1, 2s + 1)`` shared by all bands (initialised to a moving average; replicate
  padding, so that clip edges are not attenuated); the product of the rates is the hop length. Result: one
  ``n_mels`` vector per output sample.
- **WaveNet**: a 1x1 convolution of the noise ``z ~ N(0, I)`` ``[B, 1, T]`` to ``residual_channels``, then
  ``layers`` non-causal residual blocks in ``stacks`` dilation cycles (dilations ``1, 2, …, 2^(layers/stacks - 1)``,
  kernel ``kernel_size``): ``h = W_d * x + V c`` (``gate_channels`` outputs; ``V``: a 1x1 convolution of the
  upsampled mel), gated unit ``tanh(h_a) ⊙ sigmoid(h_b)``, 1x1 convolutions to the skip output and to the residual
  (``x ← (x + r) / √2``): a non-causal :class:`~speechgen.nn.gated.GatedResidualUnit` with separate skip and
  residual convolutions (``V`` is its ``cond``). The skip outputs are summed (× ``√(1/layers)``) and go through
  ReLU → 1x1 → ReLU → 1x1 to one channel. The output is linear (no tanh), as in the paper. All convolutions are
  weight-normalised.
- **noise**: training draws fresh Gaussian noise every call; in eval mode the noise is a fixed Gaussian sequence
  (``2^17`` samples drawn once from seed 0, a non-persistent buffer indexed modulo its length), so that inference
  is deterministic (no RNG state involved) and exports to ONNX as a constant. Pass ``noise`` explicitly to control
  it.

Discriminator: ``disc_layers`` non-causal 1-D convolutions (kernel ``disc_kernel_size``, ``disc_channels`` channels,
stride 1, leaky ReLU 0.2): the first and last undilated, the ones between with dilations 1, 2, …, ``disc_layers -
2`` (1 … 8 in the paper); it outputs one logit per sample. Weight-normalised.

The paper's configuration (the defaults): 30 layers, 3 stacks, 64 residual / 128 gate / 64 skip channels,
kernel 3, 80 mel bands with a context of 2 frames, upsampling 4-4-4-4 (hop 256); 10-layer, 64-channel
discriminator. Parameter count: the generator has 1,334,309 weights (1.346 M with the weight-norm magnitudes) and
the discriminator 99,265; the paper's "1.44 M" matches the two together (1.43 M; 1.45 M with the magnitudes).

Losses (the ``vocoder`` scheme): ``L_G = L_mrstft + λ_adv · L_adv`` with the MR-STFT loss averaged over the
resolutions (1024, 120, 600), (2048, 240, 1200), (512, 50, 240) and LSGAN, ``λ_adv = 4``; the scheme's LSGAN terms
are halved, hence ``adv_weight: 8`` in the recipes. The discriminator starts after 100 k of 400 k steps
(``losses.disc_start_step``). The paper trains with RAdam (G 1e-4, D 5e-5, halved every 200 k steps, gradient norms
clipped at 10 / 1); the recipes use Adam with the same rates, clipping and a step decay replaced by cosine.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from speechgen.errors import ConfigError
from speechgen.models.vocoder import GANVocoder
from speechgen.nn.gated import GatedResidualUnit
from speechgen.nn.vocoder_blocks import Norm, apply_norm, conv1d

#: samples of the fixed eval-mode noise sequence (8.2 s at 16 kHz)
EVAL_NOISE_SAMPLES = 2 ** 17
DISC_SLOPE = 0.2


def _positive(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{name}: expected a positive integer, got {value!r}")
    return int(value)


class ConvInUpsampleNet(nn.Module):
    """Mel ``[B, n_mels, F]`` → ``[B, n_mels, F · prod(rates)]`` (see the module docstring)."""

    def __init__(self, n_mels: int, rates: Sequence[int], context: int = 2, norm: Norm = "weight") -> None:
        super().__init__()
        if context < 0:
            raise ConfigError(f"aux_context_window: must be >= 0, got {context}")
        self.conv_in = conv1d(n_mels, n_mels, 2 * context + 1, padding_mode="replicate", norm=norm, bias=False)
        self.rates = [int(r) for r in rates]
        convs = []
        for r in self.rates:
            conv = nn.Conv2d(1, 1, (1, 2 * r + 1), padding=(0, r), bias=False, padding_mode="replicate")
            nn.init.constant_(conv.weight, 1.0 / (2 * r + 1))
            convs.append(apply_norm(conv, norm))
        self.convs = nn.ModuleList(convs)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        x = self.conv_in(mel).unsqueeze(1)  # [B, 1, n_mels, F]
        for r, conv in zip(self.rates, self.convs):
            x = conv(F.interpolate(x, scale_factor=(1.0, float(r)), mode="nearest"))
        return x.squeeze(1)


class ParallelWaveGANGenerator(nn.Module):
    """The Parallel WaveGAN generator: ``forward(mel, noise=None)`` → audio ``[B, 1, F · hop]``."""

    def __init__(self, n_mels: int = 80, upsample_rates: Sequence[int] = (4, 4, 4, 4), aux_context_window: int = 2,
                 layers: int = 30, stacks: int = 3, residual_channels: int = 64, gate_channels: int = 128,
                 skip_channels: int = 64, kernel_size: int = 3) -> None:
        super().__init__()
        for name, v in (("layers", layers), ("stacks", stacks), ("residual_channels", residual_channels),
                        ("gate_channels", gate_channels), ("skip_channels", skip_channels)):
            _positive(name, v)
        if layers % stacks:
            raise ConfigError(f"layers: {layers} is not a multiple of stacks ({stacks})")
        if gate_channels % 2:
            raise ConfigError(f"gate_channels: must be even (tanh and sigmoid halves), got {gate_channels}")
        per_stack = layers // stacks
        self.hop_length = int(math.prod(upsample_rates))
        self.upsample = ConvInUpsampleNet(n_mels, upsample_rates, aux_context_window)
        self.first = conv1d(1, residual_channels, 1)
        self.blocks = nn.ModuleList([
            GatedResidualUnit(residual_channels, gate_channels // 2, skip_channels, kernel_size,
                              2 ** (i % per_stack), causal=False, cond_channels=n_mels, combined=False, scale=True,
                              norm="weight") for i in range(layers)])
        self.last = nn.Sequential(nn.ReLU(), conv1d(skip_channels, skip_channels, 1), nn.ReLU(),
                                  conv1d(skip_channels, 1, 1))
        gen = torch.Generator().manual_seed(0)
        self.register_buffer("eval_noise", torch.randn(EVAL_NOISE_SAMPLES, generator=gen), persistent=False)

    @property
    def receptive_field(self) -> int:
        """Samples of noise seen by one output sample (``1 + (k - 1) · Σ dilations``)."""
        return 1 + sum((b.kernel - 1) * b.dilation for b in self.blocks)

    def noise(self, batch: int, length: int, like: torch.Tensor) -> torch.Tensor:
        """Input noise ``[batch, 1, length]``: fresh Gaussian noise in training, the fixed sequence in eval mode."""
        if self.training:
            return torch.randn(batch, 1, length, device=like.device, dtype=like.dtype)
        idx = torch.arange(length, device=like.device) % self.eval_noise.shape[0]
        return self.eval_noise.to(like)[idx].expand(batch, 1, length)

    def forward(self, mel: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        c = self.upsample(mel)
        if noise is None:
            noise = self.noise(c.shape[0], c.shape[-1], c)
        elif noise.shape != (c.shape[0], 1, c.shape[-1]):
            raise ConfigError(f"noise: expected [{c.shape[0]}, 1, {c.shape[-1]}], got {list(noise.shape)}")
        x = self.first(noise)
        skips = torch.zeros((), dtype=x.dtype, device=x.device)
        for block in self.blocks:
            x, s = block(x, c=c)
            skips = skips + s
        return self.last(skips * math.sqrt(1.0 / len(self.blocks)))


class ParallelWaveGANDiscriminator(nn.Module):
    """Ten (``layers``) non-causal dilated convolutions → one logit per sample; returns ``([logits], [features])``."""

    def __init__(self, layers: int = 10, channels: int = 64, kernel_size: int = 3, slope: float = DISC_SLOPE,
                 norm: Norm = "weight") -> None:
        super().__init__()
        if isinstance(layers, bool) or not isinstance(layers, int) or layers < 2:
            raise ConfigError(f"disc_layers: must be >= 2, got {layers!r}")
        _positive("disc_channels", channels)
        if kernel_size % 2 == 0:
            raise ConfigError(f"disc_kernel_size: must be odd, got {kernel_size}")
        self.slope = float(slope)
        dilations = [1] + list(range(1, layers - 1))
        self.convs = nn.ModuleList([conv1d(1 if i == 0 else channels, channels, kernel_size, dilation=d, norm=norm)
                                    for i, d in enumerate(dilations)])
        self.post = conv1d(channels, 1, kernel_size, norm=norm)

    def forward(self, x: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        feats = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), self.slope)
            feats.append(x)
        return [self.post(x).flatten(1)], [feats]


class ParallelWaveGAN(GANVocoder):
    """Parallel WaveGAN generator + discriminator (registry name ``parallel_wavegan``; see the module docstring).

    Args:
        sample_rate: audio rate (16 000 for our digits corpus; 24 000 in the paper, 22 050 for LJ Speech).
        feature_params: the log-mel input's parameters (:class:`~speechgen.data.features.LogMel` fields);
            ``hop_length`` must equal the product of ``upsample_rates``.
        upsample_rates: the upsampling network's stretch factors (the paper's "upsample scales"; 4-4-4-4 for 256).
        aux_context_window: frames of context on each side of the upsampling network's input convolution (2).
        layers, stacks: residual blocks and dilation cycles (30, 3: dilations 1 … 512 three times).
        residual_channels, gate_channels, skip_channels, kernel_size: WaveNet widths (64, 128, 64) and kernel (3).
        disc_layers, disc_channels, disc_kernel_size: the discriminator (10 layers, 64 channels, kernel 3).
        discriminators: build the discriminator (False for inference).
    """

    def __init__(self, sample_rate: int = 16000, feature_params: dict[str, Any] | None = None,
                 upsample_rates: Sequence[int] = (4, 4, 4, 4), aux_context_window: int = 2, layers: int = 30,
                 stacks: int = 3, residual_channels: int = 64, gate_channels: int = 128, skip_channels: int = 64,
                 kernel_size: int = 3, disc_layers: int = 10, disc_channels: int = 64, disc_kernel_size: int = 3,
                 discriminators: bool = True) -> None:
        field, product = self.upsampling({"upsample_rates": list(upsample_rates)})
        super().__init__(sample_rate, feature_params, product, field)
        self.generator = ParallelWaveGANGenerator(self.n_mels, upsample_rates, aux_context_window, layers, stacks,
                                                  residual_channels, gate_channels, skip_channels, kernel_size)
        self.discriminator = (ParallelWaveGANDiscriminator(disc_layers, disc_channels, disc_kernel_size)
                              if discriminators else None)
