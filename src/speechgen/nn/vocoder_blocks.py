"""Building blocks of GAN vocoders (MelGAN, HiFi-GAN, and the ones that reuse them).

- normalised convolutions: :func:`conv1d`, :func:`conv2d`, :func:`upsample_conv` (a transposed convolution whose
  output is exactly ``rate`` times longer than its input), each with ``norm="weight"`` (weight normalisation,
  Salimans & Kingma 2016, the vocoders' default), ``"spectral"`` (Miyato et al. 2018) or ``"none"``;
- :func:`remove_weight_norm`: fold every weight/spectral-norm parametrisation into a plain weight (inference,
  ONNX export; outputs unchanged to float rounding);
- residual blocks: :class:`ResBlock1` / :class:`ResBlock2` (HiFi-GAN's two kinds) and
  :class:`MultiReceptiveFieldFusion` (HiFi-GAN's MRF: the mean of resblocks of different kernel sizes);
  :class:`DilatedResidualStack` (MelGAN's stack of dilated units with 1x1 shortcuts);
- :class:`TransposedUpsample`: leaky ReLU + :func:`upsample_conv`.

All modules take and return ``[batch, channels, time]`` tensors. The norms are torch parametrisations
(``torch.nn.utils.parametrizations``), so state-dict keys read ``...parametrizations.weight.original0`` (the
magnitude ``g``) and ``...original1`` (the direction ``v``) until :func:`remove_weight_norm` is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import spectral_norm, weight_norm

from speechgen.errors import ConfigError

Norm = Literal["weight", "spectral", "none"]

#: leaky-ReLU slope inside HiFi-GAN blocks
LRELU_SLOPE = 0.1


def get_padding(kernel_size: int, dilation: int = 1) -> int:
    """"Same" padding of an odd ``kernel_size`` with ``dilation`` (``(k - 1) * d / 2``)."""
    return (int(kernel_size) - 1) * int(dilation) // 2


def apply_norm(module: nn.Module, norm: Norm) -> nn.Module:
    """Wrap ``module``'s ``weight`` in weight or spectral normalisation (``"none"``: unchanged)."""
    if norm == "weight":
        return weight_norm(module)
    if norm == "spectral":
        return spectral_norm(module)
    if norm == "none":
        return module
    raise ConfigError(f"norm: expected 'weight', 'spectral' or 'none', got {norm!r}")


def _init(module: nn.Module, init_std: float | None) -> nn.Module:
    if init_std is not None:
        nn.init.normal_(module.weight, 0.0, init_std)  # before the norm: g then starts at ||v||, the weight unchanged
    return module


def conv1d(in_channels: int, out_channels: int, kernel_size: int, stride: int = 1, dilation: int = 1,
           groups: int = 1, padding: int | None = None, padding_mode: str = "zeros", norm: Norm = "weight",
           init_std: float | None = None, bias: bool = True) -> nn.Module:
    """A normalised ``Conv1d`` ("same" padding for odd kernels unless ``padding`` is given; ``init_std``: normal
    initialisation of the weight, e.g. HiFi-GAN's 0.01)."""
    pad = get_padding(kernel_size, dilation) if padding is None else padding
    conv = nn.Conv1d(in_channels, out_channels, kernel_size, stride, pad, dilation, groups, bias,
                     padding_mode=padding_mode)
    return apply_norm(_init(conv, init_std), norm)


def conv2d(in_channels: int, out_channels: int, kernel_size: tuple[int, int], stride: tuple[int, int] = (1, 1),
           padding: tuple[int, int] | None = None, norm: Norm = "weight", init_std: float | None = None) -> nn.Module:
    """A normalised ``Conv2d`` ("same" padding for odd kernels unless ``padding`` is given)."""
    pad = padding if padding is not None else (get_padding(kernel_size[0]), get_padding(kernel_size[1]))
    conv = nn.Conv2d(in_channels, out_channels, kernel_size, stride, pad)
    return apply_norm(_init(conv, init_std), norm)


def upsample_conv(in_channels: int, out_channels: int, rate: int, kernel_size: int | None = None,
                  norm: Norm = "weight", init_std: float | None = None) -> nn.Module:
    """A normalised ``ConvTranspose1d`` of stride ``rate`` whose output has exactly ``rate × input`` samples.

    ``kernel_size`` defaults to ``2 * rate`` (MelGAN); padding ``ceil((k - rate) / 2)`` and output padding
    ``(k - rate) % 2`` centre the kernel (HiFi-GAN's ``(k - rate) // 2`` when ``k - rate`` is even).
    """
    k = 2 * int(rate) if kernel_size is None else int(kernel_size)
    if rate < 1 or k < rate:
        raise ConfigError(f"upsample kernel_size: must be >= the rate {rate}, got {k}")
    pad = (k - rate + 1) // 2
    out_pad = 2 * pad - (k - rate)
    if out_pad >= rate:
        raise ConfigError(f"upsample kernel_size: {k} - rate {rate} must be even for rate 1")
    conv = nn.ConvTranspose1d(in_channels, out_channels, k, rate, pad, output_padding=out_pad)
    return apply_norm(_init(conv, init_std), norm)


def remove_weight_norm(module: nn.Module) -> int:
    """Fold every parametrisation of a ``weight`` (weight or spectral norm) below ``module`` into a plain weight,
    in place; return how many were removed. Outputs are unchanged up to float rounding."""
    count = 0
    for m in list(module.modules()):
        if parametrize.is_parametrized(m, "weight"):
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
            count += 1
    return count


def has_weight_norm(module: nn.Module) -> bool:
    """True when some submodule's ``weight`` is still parametrised."""
    return any(parametrize.is_parametrized(m, "weight") for m in module.modules())


# ------------------------------------------------------------------------------------------------ HiFi-GAN blocks
class ResBlock1(nn.Module):
    """HiFi-GAN residual block type 1: for each dilation ``d``, ``x += conv_k(lrelu(conv_{k,d}(lrelu(x))))``."""

    def __init__(self, channels: int, kernel_size: int = 3, dilations: Sequence[int] = (1, 3, 5),
                 slope: float = LRELU_SLOPE, init_std: float | None = 0.01) -> None:
        super().__init__()
        self.slope = float(slope)
        self.convs1 = nn.ModuleList([conv1d(channels, channels, kernel_size, dilation=d, init_std=init_std)
                                     for d in dilations])
        self.convs2 = nn.ModuleList([conv1d(channels, channels, kernel_size, init_std=init_std) for _ in dilations])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c1, c2 in zip(self.convs1, self.convs2):
            x = x + c2(F.leaky_relu(c1(F.leaky_relu(x, self.slope)), self.slope))
        return x


class ResBlock2(nn.Module):
    """HiFi-GAN residual block type 2 (V3): for each dilation ``d``, ``x += conv_{k,d}(lrelu(x))``."""

    def __init__(self, channels: int, kernel_size: int = 3, dilations: Sequence[int] = (1, 3),
                 slope: float = LRELU_SLOPE, init_std: float | None = 0.01) -> None:
        super().__init__()
        self.slope = float(slope)
        self.convs = nn.ModuleList([conv1d(channels, channels, kernel_size, dilation=d, init_std=init_std)
                                    for d in dilations])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for c in self.convs:
            x = x + c(F.leaky_relu(x, self.slope))
        return x


class MultiReceptiveFieldFusion(nn.Module):
    """HiFi-GAN's MRF: resblocks with kernel sizes ``kernel_sizes[i]`` and dilations ``dilations[i]`` run in
    parallel on the same input; their outputs are averaged."""

    def __init__(self, channels: int, kernel_sizes: Sequence[int], dilations: Sequence[Sequence[int]],
                 kind: int = 1, slope: float = LRELU_SLOPE) -> None:
        super().__init__()
        if len(kernel_sizes) != len(dilations) or not kernel_sizes:
            raise ConfigError(f"resblock_kernel_sizes / resblock_dilation_sizes: need the same non-zero number of "
                              f"entries, got {len(kernel_sizes)} and {len(dilations)}")
        block = {1: ResBlock1, 2: ResBlock2}.get(int(kind))
        if block is None:
            raise ConfigError(f"resblock: expected 1 or 2, got {kind!r}")
        self.blocks = nn.ModuleList([block(channels, k, d, slope) for k, d in zip(kernel_sizes, dilations)])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.blocks[0](x)
        for b in self.blocks[1:]:
            out = out + b(x)
        return out / len(self.blocks)


# ------------------------------------------------------------------------------------------------ MelGAN blocks
class DilatedResidualStack(nn.Module):
    """MelGAN residual stack: units ``x = shortcut(x) + conv_1(lrelu(conv_{3,d}(pad_d(lrelu(x)))))`` with
    dilations ``d`` (1, 3, 9: a receptive field of 27 samples per stack), reflection padding and 1x1 convolution
    shortcuts."""

    def __init__(self, channels: int, dilations: Sequence[int] = (1, 3, 9), kernel_size: int = 3,
                 slope: float = 0.2, norm: Norm = "weight") -> None:
        super().__init__()
        self.slope = float(slope)
        self.convs = nn.ModuleList([conv1d(channels, channels, kernel_size, dilation=d, padding_mode="reflect",
                                           norm=norm) for d in dilations])
        self.projections = nn.ModuleList([conv1d(channels, channels, 1, norm=norm) for _ in dilations])
        self.shortcuts = nn.ModuleList([conv1d(channels, channels, 1, norm=norm) for _ in dilations])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for conv, proj, short in zip(self.convs, self.projections, self.shortcuts):
            x = short(x) + proj(F.leaky_relu(conv(F.leaky_relu(x, self.slope)), self.slope))
        return x


class TransposedUpsample(nn.Module):
    """Leaky ReLU followed by :func:`upsample_conv` (``[B, in, T] -> [B, out, rate * T]``)."""

    def __init__(self, in_channels: int, out_channels: int, rate: int, kernel_size: int | None = None,
                 slope: float = LRELU_SLOPE, norm: Norm = "weight", init_std: float | None = None) -> None:
        super().__init__()
        self.slope, self.rate = float(slope), int(rate)
        self.conv = upsample_conv(in_channels, out_channels, rate, kernel_size, norm, init_std)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(F.leaky_relu(x, self.slope))
