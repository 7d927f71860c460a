"""Phase shuffle (Donahue, McAuley & Puckette 2019, §3.3): shift each example's feature maps in time by a random
integer in ``[-n, n]``, filling the uncovered edge by reflection, so that a waveform discriminator cannot rely on
the exact phase (sample position) of periodic artefacts of transposed convolutions.

The shifts are drawn from torch's global random generator (on the CPU), one per example and applied to all its
channels; a run that restores the global random state (``--resume``) therefore draws the same shifts. In eval
mode, and with ``n = 0``, the module is the identity.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from speechgen.errors import ConfigError


def phase_shuffle(x: torch.Tensor, shifts: torch.Tensor | list[int], n: int) -> torch.Tensor:
    """``out[b, :, t] = x[b, :, t - shifts[b]]`` for ``x [B, C, T]``, reflecting at both ends.

    ``shifts`` (``B`` integers in ``[-n, n]``) move the content later in time when positive. ``n`` is the
    reflection margin (``n < T``). Differentiable in ``x`` (twice: it is used inside gradient penalties).
    """
    if x.ndim != 3:
        raise ConfigError(f"phase_shuffle: expected [batch, channels, time], got {tuple(x.shape)}")
    k = torch.as_tensor(shifts, dtype=torch.long).reshape(-1)
    if len(k) != x.shape[0]:
        raise ConfigError(f"phase_shuffle: expected {x.shape[0]} shifts, got {len(k)}")
    if n == 0 or not bool(k.any()):
        return x
    if bool((k.abs() > n).any()):
        raise ConfigError(f"phase_shuffle: shifts must be in [-{n}, {n}], got {k.tolist()}")
    t = x.shape[-1]
    if n >= t:
        raise ConfigError(f"phase_shuffle: n = {n} needs more than {n} time steps, got {t}")
    padded = F.pad(x, (n, n), mode="reflect")
    # out[b, :, t] = padded[b, :, t + n - k_b]; an expanded (not copied) index over the channels
    index = (torch.arange(t) + n - k[:, None]).to(x.device).unsqueeze(1).expand(-1, x.shape[1], -1)
    return padded.gather(2, index)


class PhaseShuffle(nn.Module):
    """Random per-example time shift in ``[-n, n]`` with reflection padding (identity in eval mode or n = 0)."""

    def __init__(self, n: int = 2) -> None:
        super().__init__()
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ConfigError(f"phase_shuffle: must be an integer >= 0, got {n!r}")
        self.n = int(n)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.n == 0 or not self.training:
            return x
        shifts = torch.randint(-self.n, self.n + 1, (x.shape[0],))  # global generator: exact resume holds
        return phase_shuffle(x, shifts, self.n)

    def extra_repr(self) -> str:
        return f"n={self.n}"
