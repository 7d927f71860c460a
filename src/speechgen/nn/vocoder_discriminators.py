"""Discriminators of GAN vocoders: on the waveform, multi-period (HiFi-GAN) and multi-scale (MelGAN, HiFi-GAN); on a
magnitude spectrogram, :class:`SpectrogramDiscriminator` (the per-resolution network of UnivNet's multi-resolution
discriminator, Jang et al. 2021).

Every waveform discriminator takes audio ``[B, 1, T]`` and returns ``(logits, features)``: for a single one a logit map
``[B, ...]`` and the list of its intermediate feature maps (used by the feature-matching loss); for a
``Multi*`` one, lists over its sub-discriminators (``logits[i]``, ``features[i]``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from speechgen.errors import ConfigError
from speechgen.nn.vocoder_blocks import LRELU_SLOPE, Norm, conv1d, conv2d

Output = tuple[list[torch.Tensor], list[list[torch.Tensor]]]

#: HiFi-GAN's scale discriminator: (in, out, kernel, stride, groups) per layer (Kong et al. 2020, after MelGAN)
HIFIGAN_SCALE_LAYERS: tuple[tuple[int, int, int, int, int], ...] = (
    (1, 128, 15, 1, 1), (128, 128, 41, 2, 4), (128, 256, 41, 2, 16), (256, 512, 41, 4, 16),
    (512, 1024, 41, 4, 16), (1024, 1024, 41, 1, 16), (1024, 1024, 5, 1, 1),
)
#: HiFi-GAN's period discriminator channels (the last layer has stride 1)
HIFIGAN_PERIOD_CHANNELS: tuple[int, ...] = (32, 128, 512, 1024, 1024)


def conv_stack(convs: Sequence[nn.Module], post: nn.Module, x: torch.Tensor, slope: float,
               logit_is_feature: bool = True) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """A discriminator's body: each convolution then a leaky ReLU (its output a feature), the logit convolution
    ``post``; returns the flattened logits ``[B, ...]`` and the features (the logit map last when
    ``logit_is_feature``)."""
    feats = []
    for conv in convs:
        x = F.leaky_relu(conv(x), slope)
        feats.append(x)
    x = post(x)
    if logit_is_feature:
        feats.append(x)
    return x.flatten(1), feats


def melgan_scale_layers(ndf: int = 16, n_layers: int = 4, downsampling: int = 4,
                        max_channels: int = 1024) -> tuple[tuple[int, int, int, int, int], ...]:
    """MelGAN's scale-discriminator layers (Kumar et al. 2019): a kernel-15 input convolution with ``ndf``
    channels, ``n_layers`` grouped strided convolutions (kernel ``10 s + 1``, stride ``s = downsampling``, channels
    ×``s`` up to ``max_channels``, groups ``in // 4``) and a kernel-5 convolution."""
    layers = [(1, ndf, 15, 1, 1)]
    c = ndf
    for _ in range(n_layers):
        nxt = min(c * downsampling, max_channels)
        layers.append((c, nxt, downsampling * 10 + 1, downsampling, max(1, c // 4)))
        c = nxt
    layers.append((c, min(c * 2, max_channels), 5, 1, 1))
    return tuple(layers)


def scale_layers(layers: Sequence[Sequence[int]], width: float) -> tuple[tuple[int, int, int, int, int], ...]:
    """``layers`` with every channel count (but the input's) multiplied by ``width`` (at least 1) and groups
    reduced to a common divisor of the new channel counts."""
    if width <= 0:
        raise ConfigError(f"disc_width: must be > 0, got {width}")
    out = []
    for cin, cout, k, s, g in layers:
        ci = cin if cin == 1 else max(1, round(cin * width))
        co = max(1, round(cout * width))
        out.append((ci, co, k, s, math.gcd(math.gcd(int(g), ci), co)))
    return tuple(out)


class PeriodDiscriminator(nn.Module):
    """HiFi-GAN period discriminator: the waveform (reflect-padded to a multiple of ``period``) is folded into
    ``[B, 1, T / period, period]`` and processed by ``(kernel, 1)`` 2-D convolutions of stride ``(stride, 1)``
    (the last one stride 1), so each column sees samples ``period`` apart."""

    def __init__(self, period: int, channels: Sequence[int] = HIFIGAN_PERIOD_CHANNELS, kernel_size: int = 5,
                 stride: int = 3, norm: Norm = "weight", slope: float = LRELU_SLOPE) -> None:
        super().__init__()
        if period < 1:
            raise ConfigError(f"period: must be >= 1, got {period}")
        self.period, self.slope = int(period), float(slope)
        convs, cin = [], 1
        for i, c in enumerate(channels):
            s = stride if i < len(channels) - 1 else 1
            convs.append(conv2d(cin, c, (kernel_size, 1), (s, 1), (kernel_size // 2, 0), norm=norm))
            cin = c
        self.convs = nn.ModuleList(convs)
        self.post = conv2d(cin, 1, (3, 1), (1, 1), (1, 0), norm=norm)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        b, c, t = x.shape
        if t % self.period:
            n_pad = self.period - t % self.period
            x = F.pad(x, (0, n_pad), mode="reflect" if t > n_pad else "constant")
            t = t + n_pad
        return conv_stack(self.convs, self.post, x.view(b, c, t // self.period, self.period), self.slope)


class MultiPeriodDiscriminator(nn.Module):
    """HiFi-GAN's MPD: one :class:`PeriodDiscriminator` per period (2, 3, 5, 7, 11: primes, so that the periods
    overlap little)."""

    def __init__(self, periods: Sequence[int] = (2, 3, 5, 7, 11), width: float = 1.0, norm: Norm = "weight") -> None:
        super().__init__()
        channels = [max(1, round(c * width)) for c in HIFIGAN_PERIOD_CHANNELS]
        self.discriminators = nn.ModuleList([PeriodDiscriminator(p, channels, norm=norm) for p in periods])

    def forward(self, x: torch.Tensor) -> Output:
        logits, feats = [], []
        for d in self.discriminators:
            lo, fe = d(x)
            logits.append(lo)
            feats.append(fe)
        return logits, feats


class ScaleDiscriminator(nn.Module):
    """A stack of (grouped, strided) 1-D convolutions with leaky ReLUs and a kernel-3 output convolution.

    ``layers``: ``(in, out, kernel, stride, groups)`` per layer ("same" padding). ``input_padding_mode``: padding
    of the first convolution (``"reflect"`` in MelGAN). ``logit_is_feature``: append the output map to the
    features (HiFi-GAN does, MelGAN does not).
    """

    def __init__(self, layers: Sequence[Sequence[int]] = HIFIGAN_SCALE_LAYERS, norm: Norm = "weight",
                 slope: float = LRELU_SLOPE, input_padding_mode: str = "zeros", logit_is_feature: bool = True) -> None:
        super().__init__()
        self.slope, self.logit_is_feature = float(slope), bool(logit_is_feature)
        convs = []
        for i, (cin, cout, k, s, g) in enumerate(layers):
            mode = input_padding_mode if i == 0 else "zeros"
            convs.append(conv1d(cin, cout, k, stride=s, groups=g, padding_mode=mode, norm=norm))
        self.convs = nn.ModuleList(convs)
        self.post = conv1d(int(layers[-1][1]), 1, 3, norm=norm)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
        return conv_stack(self.convs, self.post, x, self.slope, self.logit_is_feature)


class MultiScaleDiscriminator(nn.Module):
    """MelGAN's multi-scale discriminator: ``scales`` :class:`ScaleDiscriminator` s on the raw audio and on the
    audio average-pooled ×2, ×4, ... (pool kernel 4, stride 2, ``pool_padding``; padding excluded from the mean
    when ``count_include_pad`` is False). ``norms[i]``: the normalisation of scale ``i`` (HiFi-GAN uses spectral
    norm on the raw-audio scale)."""

    def __init__(self, scales: int = 3, layers: Sequence[Sequence[int]] = HIFIGAN_SCALE_LAYERS,
                 norms: Sequence[Norm] | None = None, slope: float = LRELU_SLOPE, pool_padding: int = 2,
                 count_include_pad: bool = True, input_padding_mode: str = "zeros",
                 logit_is_feature: bool = True) -> None:
        super().__init__()
        if scales < 1:
            raise ConfigError(f"scales: must be >= 1, got {scales}")
        norms = list(norms) if norms is not None else ["weight"] * scales
        if len(norms) != scales:
            raise ConfigError(f"norms: expected {scales} entries, got {len(norms)}")
        self.discriminators = nn.ModuleList([
            ScaleDiscriminator(layers, n, slope, input_padding_mode, logit_is_feature) for n in norms])
        self.pool = nn.AvgPool1d(4, 2, padding=pool_padding, count_include_pad=count_include_pad)

    def forward(self, x: torch.Tensor) -> Output:
        logits, feats = [], []
        for i, d in enumerate(self.discriminators):
            if i > 0:
                x = self.pool(x)
            lo, fe = d(x)
            logits.append(lo)
            feats.append(fe)
        return logits, feats


class CombinedDiscriminator(nn.Module):
    """Several multi-discriminators side by side (HiFi-GAN: MPD + MSD); outputs are concatenated lists."""

    def __init__(self, **parts: nn.Module) -> None:
        super().__init__()
        if not parts:
            raise ConfigError("discriminator: needs at least one part")
        self.parts = nn.ModuleDict(parts)

    def forward(self, x: torch.Tensor) -> Output:
        logits: list[torch.Tensor] = []
        feats: list[list[torch.Tensor]] = []
        for part in self.parts.values():
            lo, fe = part(x)
            logits.extend(lo)
            feats.extend(fe)
        return logits, feats


def hifigan_discriminator(mpd_periods: Sequence[int], msd_scales: int, disc_width: float,
                          owner: str = "this vocoder") -> CombinedDiscriminator:
    """HiFi-GAN's discriminators: multi-period (``mpd_periods``; empty: none) + multi-scale (``msd_scales``
    scales, the first with spectral norm; 0: none), widths scaled by ``disc_width``."""
    parts: dict[str, nn.Module] = {}
    if mpd_periods:
        parts["mpd"] = MultiPeriodDiscriminator(mpd_periods, disc_width)
    if msd_scales:
        norms = ["spectral"] + ["weight"] * (msd_scales - 1)
        parts["msd"] = MultiScaleDiscriminator(msd_scales, scale_layers(HIFIGAN_SCALE_LAYERS, disc_width), norms,
                                               pool_padding=2)
    if not parts:
        raise ConfigError(f"mpd_periods / msd_scales: {owner} needs at least one discriminator")
    return CombinedDiscriminator(**parts)


#: UnivNet's per-resolution discriminator: (kernel, stride) of each 2-D layer over (time, frequency); the last is the
#: logit layer
SPECTROGRAM_LAYERS: tuple[tuple[tuple[int, int], tuple[int, int]], ...] = (
    ((3, 9), (1, 1)), ((3, 9), (1, 2)), ((3, 9), (1, 2)), ((3, 9), (1, 2)), ((3, 3), (1, 1)),
)


class SpectrogramDiscriminator(nn.Module):
    """A magnitude spectrogram ``[B, bins, frames]`` → ``([logits [B, frames · bins']], [[features]])``, the output
    format of the ``Multi*`` discriminators (one sub-discriminator). The magnitude enters as ``ln max(mag, floor)``,
    time × frequency as a 2-D image, through UnivNet's five 2-D convolutions (kernels 3 × 9, frequency strides
    1, 2, 2, 2, then 3 × 3) with leaky ReLUs, and a 3 × 3 logit convolution.

    Args:
        channels: width of every hidden layer (UnivNet: 32).
        floor: the smallest magnitude before the log.
        norm: "weight", "spectral" or "none".
    """

    def __init__(self, channels: int = 32, floor: float = 1e-5, norm: Norm = "weight",
                 slope: float = LRELU_SLOPE) -> None:
        super().__init__()
        if isinstance(channels, bool) or not isinstance(channels, int) or channels < 1:
            raise ConfigError(f"critic_channels: expected an integer >= 1, got {channels!r}")
        self.floor, self.slope = float(floor), float(slope)
        convs, cin = [], 1
        for kernel, stride in SPECTROGRAM_LAYERS:
            convs.append(conv2d(cin, channels, kernel, stride, norm=norm))
            cin = channels
        self.convs = nn.ModuleList(convs)
        self.post = conv2d(channels, 1, (3, 3), norm=norm)

    def forward(self, magnitude: torch.Tensor) -> Output:
        x = torch.log(torch.clamp(magnitude, min=self.floor)).transpose(1, 2).unsqueeze(1)  # [B, 1, frames, bins]
        logits, feats = conv_stack(self.convs, self.post, x, self.slope)
        return [logits], [feats]
