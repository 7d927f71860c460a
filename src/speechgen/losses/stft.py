"""Spectral losses of vocoders, on batched torch tensors (STFTs from :mod:`speechgen.audio.spectral`).

- :class:`STFTLoss` / :class:`MultiResolutionSTFTLoss` (Yamamoto et al. 2020, Parallel WaveGAN, eq. 4-6): per
  resolution, spectral convergence ``|| |S| - |Ŝ| ||_F / || |S| ||_F`` (per item, averaged over the batch) plus
  the log STFT magnitude distance ``mean | log|S| - log|Ŝ| |``; magnitudes are floored at ``sqrt(1e-7)``; the
  multi-resolution loss averages both terms over the resolutions. Default resolutions (FFT size, hop, window):
  (1024, 120, 600), (2048, 240, 1200), (512, 50, 240), hann windows.
- :class:`PhaseLoss` (after Ai & Ling 2023, APNet, eq. 9-12): anti-wrapped errors of the instantaneous phase (IP),
  the group delay (GD, phase difference between neighbouring bins) and the instantaneous angular frequency (IAF,
  phase difference between neighbouring frames) of the estimate's STFT against the reference's, with
  ``f_AW(Δ) = |Δ - 2π·round(Δ / 2π)|`` computed as the angle of a product of unit phasors. APNet averages over all
  bins; here each bin is weighted by the reference magnitude (normalised per clip), so near-silent bins, whose
  phase is noise, do not dominate.
- :class:`StftConsistency`: the STFT-consistency regulariser of a generated amplitude image with a given phase
  image (conditional WGAN-GP exp4 of the ``gan`` scheme).
- :class:`MelL1Loss` (Kong et al. 2020, HiFi-GAN): ``mean | logmel(x) - logmel(x̂) |`` with the natural-log mel
  magnitude of :class:`speechgen.audio.spectral.LogMelSpectrogram` (slaney mel, power 1, ``log(max(mel, eps))``).

Inputs are audio ``[B, T]`` or ``[B, 1, T]`` (the same shape for both arguments; identical inputs give exactly 0).
Every loss is symmetric in its arguments except spectral convergence, which is normalised by the first
(the reference).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from speechgen.audio.spectral import STFT, LogMelSpectrogram, image_length
from speechgen.errors import ConfigError

#: (n_fft, hop_length, win_length) of Parallel WaveGAN's multi-resolution STFT loss
PWG_RESOLUTIONS: tuple[tuple[int, int, int], ...] = ((1024, 120, 600), (2048, 240, 1200), (512, 50, 240))
MAG_FLOOR = 1e-7  # floor of the squared magnitude before the square root (as in the PWG paper's code)


def _audio(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.ndim == 3 and x.shape[1] == 1:
        x = x[:, 0]
    if x.ndim != 2:
        raise ConfigError(f"{name}: expected audio [batch, samples] or [batch, 1, samples], got {list(x.shape)}")
    return x


def _pair(ref: torch.Tensor, est: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r, e = _audio(ref, "reference"), _audio(est, "estimate")
    if r.shape != e.shape:
        raise ConfigError(f"audio shapes differ: {list(r.shape)} and {list(e.shape)}")
    return r, e


class STFTLoss(nn.Module):
    """Spectral convergence and log STFT magnitude loss at one resolution; ``forward`` returns ``(sc, mag)``."""

    def __init__(self, n_fft: int = 1024, hop_length: int = 120, win_length: int = 600) -> None:
        super().__init__()
        self.stft = STFT(n_fft, hop_length, win_length)

    def magnitude(self, x: torch.Tensor) -> torch.Tensor:
        """Floored STFT magnitude ``[B, bins, frames]`` of audio ``[B, T]`` (computed in float32 at least)."""
        spec = self.stft(x.float() if x.dtype in (torch.float16, torch.bfloat16) else x)
        return torch.sqrt(torch.clamp(spec.real.pow(2) + spec.imag.pow(2), min=MAG_FLOOR))

    def forward(self, ref: torch.Tensor, est: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        r, e = _pair(ref, est)
        return magnitude_distances(self.magnitude(r), self.magnitude(e))


def magnitude_distances(ref: torch.Tensor, est: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(spectral convergence, log-magnitude L1)`` of floored magnitudes ``[B, bins, frames]``: ``‖R - E‖_F /
    ‖R‖_F`` averaged over the batch, and ``mean |ln R - ln E|``."""
    sc = (torch.linalg.vector_norm(ref - est, dim=(-2, -1)) / torch.linalg.vector_norm(ref, dim=(-2, -1))).mean()
    return sc, (torch.log(ref) - torch.log(est)).abs().mean()


class MultiResolutionSTFTLoss(nn.Module):
    """Parallel WaveGAN's multi-resolution STFT loss; ``forward`` returns ``(sc, mag)`` averaged over the
    resolutions (the loss is their sum, see :meth:`total`)."""

    def __init__(self, resolutions: Sequence[Sequence[int]] = PWG_RESOLUTIONS) -> None:
        super().__init__()
        if not resolutions:
            raise ConfigError("mrstft_resolutions: need at least one (n_fft, hop_length, win_length)")
        for i, r in enumerate(resolutions):
            if len(r) != 3:
                raise ConfigError(f"mrstft_resolutions[{i}]: expected (n_fft, hop_length, win_length), got {list(r)}")
        self.losses = nn.ModuleList([STFTLoss(int(n), int(h), int(w)) for n, h, w in resolutions])
        self.min_samples = max(int(r[0]) // 2 + 1 for r in resolutions)

    def forward(self, ref: torch.Tensor, est: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        sc = mag = None
        for loss in self.losses:
            s, m = loss(ref, est)
            sc = s if sc is None else sc + s
            mag = m if mag is None else mag + m
        n = len(self.losses)
        return sc / n, mag / n  # type: ignore[operator]

    def total(self, ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
        """Spectral convergence + log-magnitude distance (a scalar)."""
        sc, mag = self(ref, est)
        return sc + mag


class PhaseLoss(nn.Module):
    """IP, GD and IAF phase errors (radians, magnitude-weighted means; see the module docstring) at one STFT
    resolution; ``forward`` returns ``(ip, gd, iaf)`` and :meth:`total` their sum."""

    def __init__(self, n_fft: int = 1024, hop_length: int = 256, win_length: int | None = None,
                 eps: float = 1e-4) -> None:
        super().__init__()
        self.stft = STFT(n_fft, hop_length, win_length or n_fft)
        self.eps = float(eps)
        self.min_samples = n_fft // 2 + 1

    def _spec(self, x: torch.Tensor) -> torch.Tensor:
        return self.stft(x.float() if x.dtype in (torch.float16, torch.bfloat16) else x)

    @staticmethod
    def _weighted(err: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        w = w / w.sum(dim=(-2, -1), keepdim=True).clamp_min(1e-12)
        return (err * w).sum(dim=(-2, -1)).mean()

    def forward(self, ref: torch.Tensor, est: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        r, e = _pair(ref, est)
        sr, se = self._spec(r), self._spec(e)
        mag = sr.abs()
        ur = sr / (mag + self.eps)
        ue = se / (se.abs() + self.eps)
        ip = torch.angle(ue * ur.conj()).abs()  # f_AW(φ̂ - φ)
        gd_r, gd_e = ur[:, 1:] * ur[:, :-1].conj(), ue[:, 1:] * ue[:, :-1].conj()
        gd = torch.angle(gd_e * gd_r.conj()).abs()  # f_AW(Δ_f φ̂ - Δ_f φ)
        if_r, if_e = ur[..., 1:] * ur[..., :-1].conj(), ue[..., 1:] * ue[..., :-1].conj()
        iaf = torch.angle(if_e * if_r.conj()).abs()  # f_AW(Δ_t φ̂ - Δ_t φ)
        return (self._weighted(ip, mag), self._weighted(gd, torch.sqrt(mag[:, 1:] * mag[:, :-1])),
                self._weighted(iaf, torch.sqrt(mag[..., 1:] * mag[..., :-1])))

    def total(self, ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
        """IP + GD + IAF (a scalar, radians)."""
        ip, gd, iaf = self(ref, est)
        return ip + gd + iaf


class MelL1Loss(nn.Module):
    """HiFi-GAN's mel-spectrogram loss: mean absolute difference of natural-log mel magnitudes.

    Parameters are those of :class:`speechgen.audio.spectral.LogMelSpectrogram` (``fmax=None``: the Nyquist frequency, as
    HiFi-GAN's loss uses).
    """

    def __init__(self, sample_rate: int, n_fft: int = 1024, hop_length: int = 256, win_length: int = 1024,
                 n_mels: int = 80, fmin: float = 0.0, fmax: float | None = None, eps: float = 1e-5) -> None:
        super().__init__()
        self.log_mel = LogMelSpectrogram(sample_rate, n_fft, hop_length, win_length, n_mels, fmin, fmax, eps)
        self.min_samples = n_fft // 2 + 1

    def mel(self, x: torch.Tensor) -> torch.Tensor:
        """Log-mel ``[B, n_mels, frames]`` of audio ``[B, T]`` / ``[B, 1, T]``."""
        x = _audio(x, "audio")
        return self.log_mel(x.float() if x.dtype in (torch.float16, torch.bfloat16) else x)

    def forward(self, ref: torch.Tensor, est: torch.Tensor) -> torch.Tensor:
        r, e = _pair(ref, est)
        return (self.mel(r) - self.mel(e)).abs().mean()


class StftConsistency(nn.Module):
    """STFT-consistency regulariser of a generated amplitude image ``A`` with a given phase image ``P``.

    Not every complex array is the STFT of a signal: overlapping frames tie neighbouring STFT values together, and
    the STFTs of signals (the *consistent* arrays) are a subspace. iSTFT (least-squares overlap-add) followed by
    STFT is the orthogonal projection onto it. The penalty is::

        mean | A - amp_image( STFT( iSTFT( mag(A) · exp(j · pi · P) ) ) ) |

    where ``mag`` turns channel 0 of the image (dB mapped to [-1, 1]) back into a linear magnitude (the image's
    missing top bins are zero) and ``amp_image`` is the same dB mapping as
    :func:`speechgen.audio.spectral.amp_phase_image` (clipped to ``[db_floor, 0]`` dB), both computed with the torch
    :class:`~speechgen.audio.spectral.STFT` of the feature's ``n_fft`` / ``hop_length``. It is the mean absolute
    difference, in the dB-image domain the generator works in, between the generated amplitude and the amplitude
    the listener actually gets from the iSTFT of ``A`` with phase ``P``. It is (up to the dB clipping and the
    dropped bins) zero exactly when ``A · e^{jP}`` is a consistent STFT, i.e. when the generated amplitude is one
    that the given phase can carry; it grows when amplitude and phase disagree (overlap-add then cancels or smears
    energy: phasiness, holes, smeared onsets). It regularises only the generator's amplitude: ``P`` is a fixed
    condition, and the phase of the re-analysis is not compared. It is Griffin-Lim's inconsistency measure with
    the roles swapped (Griffin-Lim moves the phase to fit a fixed amplitude; here the amplitude is pulled towards
    one its fixed phase is consistent with); gradients flow through both sides of the difference.
    """

    def __init__(self, n_fft: int = 256, hop_length: int = 128, n_frames: int = 128, db_floor: float = -80.0,
                 db_ref: float | None = None) -> None:
        super().__init__()
        if db_floor >= 0:
            raise ConfigError(f"db_floor: must be negative, got {db_floor}")
        self.stft = STFT(n_fft, hop_length)
        self.n_fft, self.n_frames = int(n_fft), int(n_frames)
        self.length = image_length(n_frames, n_fft, hop_length)
        self.db_floor = float(db_floor)
        self.ref = float(n_fft) / 4.0 if db_ref is None else float(db_ref)

    @classmethod
    def from_feature(cls, feature: Any) -> StftConsistency:
        """The regulariser of a :class:`~speechgen.data.features.StftImage` feature's parameters."""
        return cls(feature.n_fft, feature.hop_length, feature.n_frames, feature.db_floor, feature.db_ref)

    def _image(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        return x[:, 0] if x.ndim == 4 else x

    def magnitude(self, amp: torch.Tensor) -> torch.Tensor:
        """Linear magnitude ``[B, n_fft // 2 + 1, T]`` of amplitude images ``[B, (1,) bins, T]`` in [-1, 1]."""
        a = self._image(amp).clamp(-1.0, 1.0)
        db = (a - 1.0) * (-self.db_floor / 2.0)
        mag = self.ref * torch.pow(10.0, db / 20.0)
        return F.pad(mag, (0, 0, 0, self.n_fft // 2 + 1 - mag.shape[-2]))

    def reanalyse(self, amp: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """``amp_image(STFT(iSTFT(mag(amp) · e^{j pi phase})))``, ``[B, bins, T]`` in [-1, 1]."""
        a, p = self._image(amp), self._image(phase)
        if a.shape != p.shape or a.shape[-1] != self.n_frames:
            raise ConfigError(f"consistency: amplitude {list(a.shape)} and phase {list(p.shape)} images must "
                              f"have the same shape with {self.n_frames} frames")
        mag = self.magnitude(a)
        ph = F.pad(torch.pi * p.clamp(-1.0, 1.0), (0, 0, 0, mag.shape[-2] - p.shape[-2]))
        audio = self.stft.inverse(torch.polar(mag, ph), length=self.length)
        spec = self.stft(audio)[..., : a.shape[-2], :]
        floor = self.ref * 10.0 ** (self.db_floor / 20.0)
        power = (spec.real.pow(2) + spec.imag.pow(2)).clamp_min(floor * floor)
        db = 10.0 * torch.log10(power / (self.ref * self.ref))
        return 1.0 + 2.0 * db.clamp(self.db_floor, 0.0) / -self.db_floor

    def forward(self, amp: torch.Tensor, phase: torch.Tensor) -> torch.Tensor:
        """The penalty: mean absolute difference between ``amp`` and its re-analysis (a scalar)."""
        return (self._image(amp) - self.reanalyse(amp, phase)).abs().mean()
