"""The gated residual unit of WaveNet-like models (WaveNet, Parallel WaveGAN, DiffWave).

:class:`GatedResidualUnit` computes, for an input ``x`` ``[B, residual, T]``::

    h = W_d * x  (+ V_g g)  (+ V_l c)          # dilated conv to 2 · gate channels (causal or 'same' padding)
    z = tanh(h_a) ⊙ sigmoid(h_b)                # h split in two halves of ``gate`` channels
    r, s = 1x1 convs of z                       # one combined conv split [residual, skip], or two separate ones
    return (x + r) [· √½], s                    # the last layer: (x, s), no residual output

with ``g`` ``[B, label]`` a per-item (global) conditioning vector broadcast over time (WaveNet's label embedding,
DiffWave's diffusion-step embedding) and ``c`` ``[B, cond, T]`` a per-sample (local) conditioning (an upsampled
mel). Its flags cover:

- WaveNet: ``causal=True``, global and/or local conditioning, ``combined=True`` (one 1x1 conv to
  ``residual + skip`` channels), no scaling, ``last=True`` for the last layer, ``norm="none"``;
- Parallel WaveGAN: ``causal=False`` (odd kernel), local conditioning, ``combined=False`` (separate ``skip`` and
  ``out`` 1x1 convs), ``scale=True``, ``norm="weight"``;
- DiffWave: ``causal=False``, the diffusion-step embedding as global conditioning added to the block's input
  (``label_at="input"``, as in the paper's Fig. 2), mel conditioning, ``combined=True`` with
  ``skip_channels = residual_channels``, ``scale=True``.
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from speechgen.errors import ConfigError
from speechgen.nn.vocoder_blocks import Norm, apply_norm, conv1d

__all__ = ["GatedResidualUnit"]


def _positive(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


class GatedResidualUnit(nn.Module):
    """One gated residual layer (see the module docstring): ``forward(x, g=None, c=None)`` → ``(x', skip)``.

    Args:
        residual_channels: channels of the input ``x`` and of the residual output.
        gate_channels: channels of the gated unit ``z`` (the dilated conv outputs twice as many: tanh and sigmoid
            halves).
        skip_channels: channels of the skip output.
        kernel_size: taps of the dilated convolution (odd unless ``causal``).
        dilation: dilation of that convolution.
        causal: left padding ``(kernel_size - 1) · dilation`` (the output at ``t`` sees inputs ``<= t``); False:
            'same' padding (odd ``kernel_size``).
        label_channels: width of the global conditioning ``g`` ``[B, label_channels]``; 0: none.
        label_at: where ``g`` enters: ``"gate"`` (WaveNet: ``nn.Linear(label, 2 · gate, bias=False)`` added to
            ``h``) or ``"input"`` (DiffWave: ``nn.Linear(label, residual)`` added to ``x`` before the conv).
        cond_channels: channels of the local conditioning ``c`` ``[B, cond_channels, T]`` (a bias-free 1x1 conv
            added to ``h``); 0: none.
        combined: one 1x1 conv ``out`` to ``residual + skip`` channels, split in that order (WaveNet, DiffWave);
            False: separate 1x1 convs ``skip`` and ``out`` (Parallel WaveGAN).
        scale: multiply the residual sum ``x + r`` by √½ (Parallel WaveGAN, DiffWave).
        last: the last layer of a stack: only the skip output is computed, ``x`` is returned unchanged.
        norm: normalisation of every weight (``"none"``, ``"weight"``, ``"spectral"``), as in
            :func:`speechgen.nn.vocoder_blocks.conv1d`.

    Attributes (read by WaveNet's cached generation): ``conv``, ``label``, ``cond``, ``out``, ``skip`` (None unless
    separate output convs), ``kernel``, ``dilation``, ``last``, ``residual``. Conditioning passed to a unit built
    without it is ignored, and a missing one adds nothing.
    """

    def __init__(self, residual_channels: int, gate_channels: int, skip_channels: int, kernel_size: int,
                 dilation: int = 1, causal: bool = True, label_channels: int = 0,
                 label_at: Literal["gate", "input"] = "gate", cond_channels: int = 0, combined: bool = True,
                 scale: bool = False, last: bool = False, norm: Norm = "none") -> None:
        super().__init__()
        residual = _positive("residual_channels", residual_channels)
        gate = _positive("gate_channels", gate_channels)
        skip = _positive("skip_channels", skip_channels)
        self.kernel = _positive("kernel_size", kernel_size)
        self.dilation = _positive("dilation", dilation)
        label_channels = _positive("label_channels", label_channels, 0)
        cond_channels = _positive("cond_channels", cond_channels, 0)
        if not causal and self.kernel % 2 == 0:
            raise ConfigError(f"kernel_size: must be odd (non-causal 'same' padding), got {kernel_size}")
        if label_at not in ("gate", "input"):
            raise ConfigError(f"label_at: expected 'gate' or 'input', got {label_at!r}")
        self.residual, self.causal, self.label_at = residual, bool(causal), label_at
        self.combined, self.scale, self.last = bool(combined), bool(scale), bool(last)
        # creation order fixes the seeded initial weights: conv, label, cond, then the output conv(s)
        self.conv = conv1d(residual, 2 * gate, self.kernel, dilation=self.dilation,
                           padding=0 if self.causal else None, norm=norm)
        label = None
        if label_channels:
            label = apply_norm(nn.Linear(label_channels, 2 * gate, bias=False) if label_at == "gate"
                               else nn.Linear(label_channels, residual), norm)
        self.label = label
        self.cond = conv1d(cond_channels, 2 * gate, 1, norm=norm, bias=False) if cond_channels else None
        if self.combined:
            self.skip = None
            self.out = conv1d(gate, skip if self.last else residual + skip, 1, norm=norm)
        else:
            self.skip = conv1d(gate, skip, 1, norm=norm)
            self.out = None if self.last else conv1d(gate, residual, 1, norm=norm)

    def forward(self, x: torch.Tensor, g: torch.Tensor | None = None, c: torch.Tensor | None = None,
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(x', skip)`` for ``x`` ``[B, residual, T]``, global conditioning ``g`` ``[B, label_channels]`` and
        local conditioning ``c`` ``[B, cond_channels, T]``; ``x' = x`` for the last layer."""
        y = x
        if g is not None and self.label is not None and self.label_at == "input":
            y = x + self.label(g).unsqueeze(-1)
        if self.causal:
            y = F.pad(y, ((self.kernel - 1) * self.dilation, 0))
        h = self.conv(y)
        if g is not None and self.label is not None and self.label_at == "gate":
            h = h + self.label(g).unsqueeze(-1)
        if c is not None and self.cond is not None:
            h = h + self.cond(c)
        a, b = h.chunk(2, dim=1)
        z = torch.tanh(a) * torch.sigmoid(b)
        if self.combined:
            out = self.out(z)
            if self.last:
                return x, out
            res, skip = out.split([self.residual, out.shape[1] - self.residual], dim=1)
        else:
            skip = self.skip(z)
            if self.last:
                return x, skip
            res = self.out(z)
        y = x + res
        return (y * math.sqrt(0.5) if self.scale else y), skip
