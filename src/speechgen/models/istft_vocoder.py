"""A Vocos-style iSTFT vocoder (after Siuzdak, "Vocos", 2023): a frame-rate ConvNeXt backbone predicts the
log-magnitude and phase of an STFT whose hop equals the mel hop, and a fixed inverse STFT turns it into audio.

Generator (``[B, n_mels, F]`` → ``[B, 1, F · hop]``), all at the frame rate until the last layer:

- a kernel-7 convolution from the mel bands to ``dim`` channels (replicate padding: log-mel silence is not 0) and a
  LayerNorm;
- ``layers`` ConvNeXt blocks (Liu et al. 2022, 1-D): a depthwise kernel-7 convolution, LayerNorm over channels, a
  pointwise MLP ``dim → intermediate_dim → dim`` with GELU, a learned per-channel layer scale (initialised to
  ``1 / layers``) and a residual connection;
- a final LayerNorm and a linear layer to ``n_fft + 2`` values per frame: log-magnitudes ``m`` and phase angles
  ``φ`` of the ``n_fft / 2 + 1`` bins; the spectrum is ``exp(min(m, log mag_clip)) · (cos φ + j sin φ)`` (Vocos
  predicts the angle and takes its cosine and sine, which avoids phase wrapping);
- :class:`InverseSTFT`: frame ``j`` is centred on output sample ``j · hop`` (the convention of the training
  features), windowed by the analysis window (periodic Hann of ``n_fft``), overlap-added and divided by the summed
  squared window; the ``F · hop`` samples from the first frame's centre are kept. This is the least-squares inverse
  of :func:`speechgen.audio.spectral.stft`: a real STFT goes through unchanged.

The head runs ``torch.istft`` (``center=True``, ``length = F · hop``). For export it has a second form that agrees
to float rounding (tested), ``"matmul"`` (default): the inverse real DFT as one fixed matrix product and the
overlap-add as a ``conv_transpose1d`` with an identity kernel, which exports to ONNX (``torch.istft`` does not: the
TorchScript exporter has no ``aten::istft``); ``head: torch`` keeps ``torch.istft`` in export too.

Priors (ours): with ``mel_prior`` the head predicts the log-magnitude as a residual on the mel filterbank's
pseudo-inverse of its input; with ``f0_prior`` too, the input is the ``log_mel_f0`` feature (the log-mel, log F0 and
voicing) and that envelope is shaped by a harmonic comb at the frame's F0 on voiced frames (:class:`HarmonicComb`).

Discriminators (Vocos uses HiFi-GAN's multi-period discriminator plus a multi-resolution STFT discriminator; the
latter is not in :mod:`speechgen.nn.vocoder_discriminators`, so its place is taken by HiFi-GAN's multi-scale
discriminator): MPD (periods ``mpd_periods``) + MSD (``msd_scales``), widths × ``disc_width``.

Vocos' configuration (the defaults): ``dim`` 512, ``intermediate_dim`` 1536, 8 layers, n_fft 1024 with hop 256
(Vocos reports 13.5 M generator parameters with 100 mel bands at 24 kHz; 13.46 M here with 80 bands). Losses (the
``vocoder`` scheme), as Vocos: hinge adversarial loss, feature matching and a mel L1 loss (weights 2 and 45 in our
recipes, HiFi-GAN's); AdamW (0.8, 0.9), lr 5e-4 with cosine decay.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from speechgen.audio.phase import HANN_GAMMA
from speechgen.audio.spectral import band_average, exporting, fft_window, mel_filterbank
from speechgen.data.features import LogMel, LogMelF0
from speechgen.errors import ConfigError
from speechgen.losses.stft import MAG_FLOOR, magnitude_distances
from speechgen.models.vocoder import GANVocoder
from speechgen.nn.vocoder_discriminators import SpectrogramDiscriminator, hifigan_discriminator

HeadImpl = Literal["matmul", "torch"]
PhaseMode = Literal["absolute", "integrated", "griffin_lim", "pghi"]
PHASE_MODES = ("absolute", "integrated", "griffin_lim", "pghi")
MAGNITUDE_ONLY = ("griffin_lim", "pghi")  # the head predicts the magnitude; the phase comes from an algorithm
MEL_FLOOR = 1e-5  # the log-mel's floor (:func:`speechgen.audio.spectral.log_mel`), also the prior's
GL_MOMENTUM = 0.99  # fast Griffin-Lim's alpha (Perraudin et al. 2013), as :func:`speechgen.audio.phase.griffin_lim`
F0_ROWS = 2  # log F0 and voicing, below the mel bands in the log_mel_f0 feature


def check_head(n_fft: Any, hop_length: Any) -> None:
    """ConfigError unless ``n_fft`` is an even integer of at least three hops. The output runs from the first
    frame's centre to one hop past the last frame's centre; with ``n_fft`` below 3 hops (e.g. 2) its last samples
    lie in the far tail of one window only, and the division by the summed squared window amplifies rounding."""
    if isinstance(n_fft, bool) or not isinstance(n_fft, int) or n_fft < 2 or n_fft % 2:
        raise ConfigError(f"n_fft: expected an even integer, got {n_fft!r}")
    if isinstance(hop_length, int) and not isinstance(hop_length, bool) and n_fft < 3 * hop_length:
        raise ConfigError(f"n_fft: {n_fft} must be at least three times the hop length {hop_length}")


class InverseSTFT(nn.Module):
    """``(real, imag)`` spectra ``[B, n_fft / 2 + 1, F]`` → audio ``[B, F · hop]``, frame ``j`` centred on sample
    ``j · hop`` (see the module docstring); ``impl``: ``"matmul"`` (exportable) or ``"torch"`` (``torch.istft``)."""

    def __init__(self, n_fft: int, hop_length: int, window: str = "hann", impl: HeadImpl = "matmul") -> None:
        super().__init__()
        check_head(n_fft, hop_length)
        if impl not in ("matmul", "torch"):
            raise ConfigError(f"head: expected 'matmul' or 'torch', got {impl!r}")
        self.n_fft, self.hop_length, self.impl = int(n_fft), int(hop_length), impl
        w = fft_window(window, n_fft, n_fft)  # float64
        bins = n_fft // 2 + 1
        n = np.arange(n_fft)[:, None]
        k = np.arange(bins)[None, :]
        weight = np.full(bins, 2.0)
        weight[0] = 1.0
        weight[-1] = 1.0  # DC and Nyquist appear once in the two-sided sum
        angle = 2.0 * np.pi * n * k / n_fft
        cos = w[:, None] * weight * np.cos(angle) / n_fft
        sin = -w[:, None] * weight * np.sin(angle) / n_fft
        self.register_buffer("basis", torch.from_numpy(np.concatenate([cos, sin], axis=1)).float(), persistent=False)
        self.register_buffer("window", torch.from_numpy(w).float(), persistent=False)
        self.register_buffer("ola", torch.eye(n_fft).unsqueeze(1), persistent=False)  # [n_fft, 1, n_fft]

    def forward(self, real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:
        if self.impl == "matmul" and exporting():
            return self.matmul_form(real, imag)
        length = real.shape[-1] * self.hop_length  # torch.istft: the same sum, 5x faster than the matmul form
        return torch.istft(torch.complex(real, imag), self.n_fft, self.hop_length, window=self.window.to(real),
                           center=True, length=length)

    def matmul_form(self, real: torch.Tensor, imag: torch.Tensor) -> torch.Tensor:
        """The same inverse as one matrix product and an overlap-add by ``conv_transpose1d``: what ONNX exports."""
        frames = real.shape[-1]
        x = torch.matmul(self.basis.to(real), torch.cat([real, imag], dim=1))  # windowed frames [B, n_fft, F]
        ola = self.ola.to(real)
        y = F.conv_transpose1d(x, ola, stride=self.hop_length)  # [B, 1, n_fft + (F - 1) hop]
        start, length = self.n_fft // 2, frames * self.hop_length
        wsq = (self.window.to(ola) ** 2).view(1, -1, 1).expand(1, self.n_fft, frames)
        env = F.conv_transpose1d(wsq, ola, stride=self.hop_length)[:, 0, start:start + length]
        return y[:, 0, start:start + length] / env


class HarmonicComb(nn.Module):
    """The harmonic-comb prior of ``f0_prior``: a magnitude envelope ``E`` ``[B, bins, T]`` (the mel
    pseudo-inverse), log F0 ``[B, T]`` (Hz) and voicing ``v`` ``[B, T]`` in [0, 1] → ``E · c · g`` ``[B, bins, T]``.

    Derivation. A voiced frame is a sum of harmonics at ``k · F0``; through the head's analysis window (Hann of
    ``n_fft`` points) each appears as the window's transform around its frequency, which PGHI's Gaussian
    equivalent (``γ = 0.25645 · n_fft²``, :data:`speechgen.audio.phase.HANN_GAMMA`) makes a Gaussian of
    ``σ = 1 / sqrt(2π · 0.25645) ≈ 0.79`` bins. With equal harmonics the expected magnitude is therefore the comb
    ``C(f) = Σ_k exp(-(f - k·F0)² / 2σ²)`` (bins; ``k ≥ 1``, the two harmonics nearest ``f`` — the next ones lie
    ``≥ 1.5 F0 ≥ 3σ`` away), divided by its mean over a period, ``σ·sqrt(2π) / F0``, so that it averages 1 over
    any band wider than the harmonic spacing: the comb moves energy from between the harmonics onto them and keeps
    a band's sum. The mel bands below ~1 kHz are narrower than the spacing, and there the pseudo-inverse already
    carries what structure the bands resolve; and real harmonics are shallower than the ideal comb (jitter, breath,
    F0 moving within a frame: bench/comb_prior.py measures it). So the comb enters with a depth ``d(f)`` in
    [0, 1] per bin, learned (``sigmoid`` of a parameter, initialised to ``depth``): ``c = 1 + d · v · (C - 1)``
    (unvoiced frames: ``c = 1``, the plain envelope). Then each mel band keeps its sum: ``r_b = (W E)_b / (W E c)_b`` over the
    triangles ``W`` of the filterbank (peak 1), and the per-bin gain ``g = 1 + Σ_b Ŵ_bf (r_b - 1)`` interpolates
    the band ratios between band centres (``Ŵ``: ``W`` with columns summing to 1; bins outside every band keep
    gain 1). ``W · (E c g) = W · E`` holds up to that interpolation (exactly for a constant ratio). Everything
    is a torch expression (no loop, no data-dependent shape): it exports to ONNX with the head.

    Args:
        sample_rate: audio rate (Hz per bin: ``sample_rate / n_fft``).
        n_fft: FFT size of the head (its window is a Hann of this length).
        filterbank: the mel triangles ``[bands, n_fft / 2 + 1]`` at ``n_fft`` (any per-band scale).
        depth: the comb's initial depth in (0, 1) (the same for every bin).
    """

    def __init__(self, sample_rate: int, n_fft: int, filterbank: np.ndarray, depth: float = 0.5) -> None:
        super().__init__()
        bins = n_fft // 2 + 1
        fb = np.asarray(filterbank, dtype=np.float64)
        if fb.ndim != 2 or fb.shape[1] != bins:
            raise ConfigError(f"f0_prior: the filterbank is {list(fb.shape)}, expected [bands, {bins}]")
        if isinstance(depth, bool) or not isinstance(depth, (int, float)) or not 0.0 < float(depth) < 1.0:
            raise ConfigError(f"comb_depth: expected a number in (0, 1), got {depth!r}")
        self.bins_per_hz = n_fft / float(sample_rate)
        self.sigma = 1.0 / math.sqrt(2.0 * math.pi * HANN_GAMMA)  # bins, for a Hann window of n_fft points
        weights = fb / np.maximum(fb.max(axis=1, keepdims=True), 1e-30)  # [bands, bins], peak 1
        col = weights.sum(axis=0, keepdims=True)
        spread = np.where(col > 0, weights / np.where(col > 0, col, 1.0), 0.0)
        self.register_buffer("weights", torch.from_numpy(weights).float(), persistent=False)
        self.register_buffer("spread", torch.from_numpy(spread.T.copy()).float(), persistent=False)  # [bins, bands]
        self.register_buffer("bin", torch.arange(bins, dtype=torch.float32).view(1, -1, 1), persistent=False)
        self.depth_logit = nn.Parameter(torch.full((bins,), math.log(depth / (1.0 - depth))))

    def comb(self, log_f0: torch.Tensor) -> torch.Tensor:
        """``C / mean(C)`` ``[B, bins, T]`` of log F0 ``[B, T]`` (Hz; F0 held at ``2σ`` bins or more, where the
        two nearest harmonics make the sum)."""
        f0 = torch.clamp(torch.exp(log_f0) * self.bins_per_hz, min=2.0 * self.sigma).unsqueeze(1)  # [B, 1, T] bins
        nearest = torch.round(self.bin / f0)
        dist = self.bin - f0 * torch.clamp(nearest, min=1.0)  # to the nearest harmonic k >= 1
        other = f0 - torch.abs(dist)  # to the next one on the other side (none below the first harmonic)
        two = 2.0 * self.sigma ** 2
        c = torch.exp(-dist * dist / two) + torch.exp(-other * other / two) * (nearest >= 1).to(f0.dtype)
        return c * f0 / (self.sigma * math.sqrt(2.0 * math.pi))

    def depth(self) -> torch.Tensor:
        """The comb's depth per bin ``[bins]`` in (0, 1)."""
        return torch.sigmoid(self.depth_logit)

    def forward(self, envelope: torch.Tensor, log_f0: torch.Tensor, voicing: torch.Tensor) -> torch.Tensor:
        v = torch.clamp(voicing, 0.0, 1.0).unsqueeze(1)  # [B, 1, T]
        c = 1.0 + self.depth().view(1, -1, 1) * v * (self.comb(log_f0) - 1.0)
        shaped = envelope * c
        ratio = torch.matmul(self.weights, envelope) / torch.clamp(torch.matmul(self.weights, shaped), min=1e-30)
        return shaped * (1.0 + torch.matmul(self.spread, ratio - 1.0))


class ConvNeXtBlock(nn.Module):
    """1-D ConvNeXt block: ``x + γ · MLP(LayerNorm(dwconv(x)))`` on ``[B, dim, F]``."""

    def __init__(self, dim: int, intermediate_dim: int, layer_scale: float, kernel_size: int = 7) -> None:
        super().__init__()
        self.dwconv = nn.Conv1d(dim, dim, kernel_size, padding=kernel_size // 2, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pw1 = nn.Linear(dim, intermediate_dim)
        self.pw2 = nn.Linear(intermediate_dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), float(layer_scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.dwconv(x).transpose(1, 2)  # [B, F, dim]
        h = self.pw2(F.gelu(self.pw1(self.norm(h))))
        return x + (self.gamma * h).transpose(1, 2)


class ISTFTGenerator(nn.Module):
    """ConvNeXt backbone + iSTFT head: log-mel ``[B, n_mels, F]`` → audio ``[B, 1, F · hop]``."""

    def __init__(self, n_mels: int = 80, hop_length: int = 256, n_fft: int = 1024, dim: int = 512,
                 intermediate_dim: int = 1536, layers: int = 8, kernel_size: int = 7, mag_clip: float = 1000.0,
                 head: HeadImpl = "matmul", mel_inverse: np.ndarray | None = None,
                 phase: PhaseMode = "absolute", gl_iters: int = 32, frames_per_step: int = 1,
                 comb: HarmonicComb | None = None, mel_average: np.ndarray | None = None) -> None:
        super().__init__()
        if phase not in PHASE_MODES:
            raise ConfigError(f"phase: expected one of {', '.join(PHASE_MODES)}, got {phase!r}")
        if isinstance(gl_iters, bool) or not isinstance(gl_iters, int) or gl_iters < 0:
            raise ConfigError(f"gl_iters: expected a non-negative integer, got {gl_iters!r}")
        for name, v in (("dim", dim), ("intermediate_dim", intermediate_dim), ("layers", layers)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ConfigError(f"{name}: expected a positive integer, got {v!r}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size: must be odd, got {kernel_size}")
        if not mag_clip > 0:
            raise ConfigError(f"mag_clip: must be > 0, got {mag_clip}")
        if frames_per_step < 1 or hop_length % frames_per_step or (frames_per_step > 1 and phase not in MAGNITUDE_ONLY):
            raise ConfigError(f"head_hop: {hop_length // max(frames_per_step, 1)} must divide the features' hop "
                              f"{hop_length}, and a head finer than the features needs a magnitude-only phase mode "
                              f"({', '.join(MAGNITUDE_ONLY)})")
        self.frames_per_step = int(frames_per_step)  # head frames per input frame (its hop: hop_length / this)
        self.n_fft, self.hop_length = int(n_fft), int(hop_length) // self.frames_per_step
        self.log_mag_clip = math.log(float(mag_clip))
        self.embed = nn.Conv1d(n_mels, dim, kernel_size, padding=kernel_size // 2, padding_mode="replicate")
        self.norm_in = nn.LayerNorm(dim, eps=1e-6)
        self.blocks = nn.ModuleList([ConvNeXtBlock(dim, intermediate_dim, 1.0 / layers, kernel_size)
                                     for _ in range(layers)])
        self.norm_out = nn.LayerNorm(dim, eps=1e-6)
        bins = n_fft // 2 + 1
        self.out = nn.Linear(dim, bins * self.frames_per_step if phase in MAGNITUDE_ONLY else 2 * bins)  # (+ angles)
        self.istft = InverseSTFT(n_fft, self.hop_length, impl=head)
        self.phase_mode = phase
        self.gl_iters = int(gl_iters)
        # integrated phase: bin k advances by 2π·k·hop/n_fft per frame at its centre frequency (wrapped), plus the
        # predicted deviation; the phase is the running sum over frames (GANSynth's instantaneous frequency)
        advance = np.mod(2.0 * np.pi * np.arange(n_fft // 2 + 1) * self.hop_length / n_fft, 2.0 * np.pi)
        self.register_buffer("bin_advance", torch.from_numpy(advance).float().view(-1, 1), persistent=False)
        self.mel_prior = mel_inverse is not None
        # input rows: the mel bands, then (f0 prior) log F0 and voicing, which the backbone sees too
        self.bands = n_mels - F0_ROWS if comb is not None else n_mels
        if comb is not None and mel_inverse is None:
            raise ConfigError("f0_prior: needs mel_prior: true (the comb shapes the pseudo-inverse envelope)")
        if mel_inverse is not None:  # [bins, n_mels]: the log-magnitude head predicts a residual on ln(pinv · mel)
            if tuple(mel_inverse.shape) != (n_fft // 2 + 1, self.bands):
                raise ConfigError(f"mel_prior: the filterbank inverse is {list(mel_inverse.shape)}, expected "
                                  f"[{n_fft // 2 + 1}, {self.bands}] (a filterbank at the head's n_fft)")
            self.register_buffer("mel_inverse", torch.from_numpy(np.asarray(mel_inverse)).float(), persistent=False)
        self.fallback = mel_average is not None and mel_inverse is not None
        if self.fallback:  # [bins, bands]: the envelope's lower bound where the pseudo-inverse dips (prior_fallback)
            if tuple(mel_average.shape) != (n_fft // 2 + 1, self.bands):
                raise ConfigError(f"prior_fallback: the band average is {list(mel_average.shape)}, expected "
                                  f"[{n_fft // 2 + 1}, {self.bands}]")
            self.register_buffer("mel_average", torch.from_numpy(np.asarray(mel_average)).float(), persistent=False)
        self.comb = comb
        for m in self.modules():
            if isinstance(m, (nn.Conv1d, nn.Linear)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def at_head_frames(self, x: torch.Tensor) -> torch.Tensor:
        """``[B, C, F]`` input-frame values → ``[B, C, F · frames_per_step]`` at the head's frame centres: linear
        in time, the last frame held (identity for one head frame per input frame)."""
        r = self.frames_per_step
        if r == 1:
            return x
        nxt = torch.cat([x[..., 1:], x[..., -1:]], dim=-1)
        w = torch.arange(r, dtype=x.dtype, device=x.device) / r
        return (x.unsqueeze(-1) * (1 - w) + nxt.unsqueeze(-1) * w).flatten(-2)

    def prior(self, features: torch.Tensor) -> torch.Tensor:
        """The magnitude prior ``[B, bins, F · frames_per_step]`` of the input ``[B, n_mels, F]``: the mel
        pseudo-inverse ``max(pinv(M) · exp(mel), 1e-5)`` at the head's frames (with ``prior_fallback`` a > 0:
        ``max(pinv(M) · exp(mel), a · A · exp(mel), 1e-5)``, ``A`` the band average of :func:`band_average`), shaped
        by the harmonic comb (:class:`HarmonicComb`) when the input carries F0 and voicing (``f0_prior``)."""
        lin = self.at_head_frames(torch.exp(features[:, :self.bands]))
        envelope = torch.matmul(self.mel_inverse, lin)
        if self.fallback:
            envelope = torch.maximum(envelope, torch.matmul(self.mel_average, lin))
        envelope = torch.clamp(envelope, min=MEL_FLOOR)
        if self.comb is None:
            return envelope
        f0, voicing = self.at_head_frames(features[:, self.bands:self.bands + F0_ROWS]).unbind(1)
        return torch.clamp(self.comb(envelope, f0, voicing), min=MEL_FLOOR)

    def head(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        """The backbone and head: predicted magnitude ``[B, n_fft / 2 + 1, F · frames_per_step]`` and angles (None
        for the magnitude-only modes ``griffin_lim`` and ``pghi``). With ``frames_per_step`` r > 1 each input frame
        gives r head frames (its output is r magnitude spectra), interleaved in time: frame ``f·r + j``."""
        x = self.norm_in(self.embed(mel).transpose(1, 2)).transpose(1, 2)
        for block in self.blocks:
            x = block(x)
        x = self.out(self.norm_out(x.transpose(1, 2))).transpose(1, 2)  # [B, bins · r (or · 2), F]
        r = self.frames_per_step
        if r > 1:
            b, _, f = x.shape
            x = x.reshape(b, r, -1, f).permute(0, 2, 3, 1).reshape(b, -1, f * r)
        log_mag, phase = (x, None) if self.phase_mode in MAGNITUDE_ONLY else x.chunk(2, dim=1)
        if self.mel_prior:  # the input frames at the head's frame centres: linear in time, the last one held
            log_mag = log_mag + torch.log(self.prior(mel))
        if self.phase_mode == "integrated":
            phase = torch.remainder(torch.cumsum(self.bin_advance + phase, dim=-1), 2.0 * math.pi)
        return torch.exp(torch.clamp(log_mag, max=self.log_mag_clip)), phase

    def spectrum(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Predicted ``(real, imag)`` STFT ``[B, n_fft / 2 + 1, F]`` (for ``phase="griffin_lim"``: the predicted
        magnitude with the phase of ``gl_iters`` fast Griffin-Lim iterations)."""
        mag, phase = self.head(mel)
        if phase is None:
            return self.griffin_lim(mag)
        return mag * torch.cos(phase), mag * torch.sin(phase)

    def pghi_audio(self, mag: torch.Tensor) -> torch.Tensor:
        """Audio ``[B, F · hop]`` of a magnitude ``[B, bins, F]``: the phase of PGHI (phase-gradient heap
        integration, :func:`speechgen.audio.phase.pghi`) refined by ``gl_iters`` fast Griffin-Lim iterations, then
        ``torch.istft``, all in :mod:`speechgen.audio.phase` (this head's frame convention is that module's STFT)."""
        from speechgen.audio.phase import reconstruct

        return reconstruct(mag, self.hop_length, self.n_fft, method="pghi", gl_iters=self.gl_iters,
                           momentum=GL_MOMENTUM, length=mag.shape[-1] * self.hop_length)

    def griffin_lim(self, mag: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(real, imag)`` STFT ``[B, bins, F]`` with magnitude ``mag`` and the phase of ``gl_iters`` fast
        Griffin-Lim iterations (momentum 0.99) from zero phase, in this head's frame convention (frame ``j``
        centred on sample ``j · hop``, reflect padding); the synthesis is ``torch.istft`` (14x faster than the
        head's matmul :class:`InverseSTFT`, equal to float rounding). Export leaves this loop out of the graph
        (:meth:`ISTFTVocoder.export_graph`)."""
        frames = mag.shape[-1]
        window = self.istft.window.to(mag)
        c_re, c_im = mag, torch.zeros_like(mag)
        t_re, t_im = c_re, c_im
        for _ in range(self.gl_iters):
            audio = torch.istft(torch.complex(t_re, t_im), self.n_fft, self.hop_length, window=window,
                                center=True, length=frames * self.hop_length)
            spec = torch.view_as_real(self.analyse(audio))
            re, im = spec[..., :frames, 0], spec[..., :frames, 1]
            scale = mag / (torch.sqrt(re * re + im * im) + 1e-16)
            new_re, new_im = re * scale, im * scale
            t_re, t_im = new_re + GL_MOMENTUM * (new_re - c_re), new_im + GL_MOMENTUM * (new_im - c_im)
            c_re, c_im = new_re, new_im
        return c_re, c_im

    def analyse(self, audio: torch.Tensor) -> torch.Tensor:
        """Complex STFT ``[B, bins, T / hop + 1]`` of audio ``[B, T]`` in this head's frame convention."""
        return torch.stft(audio, self.n_fft, self.hop_length, window=self.istft.window.to(audio), center=True,
                          pad_mode="reflect", return_complex=True)

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        if self.phase_mode == "pghi":
            return self.pghi_audio(self.head(mel)[0]).unsqueeze(1)
        real, imag = self.spectrum(mel)
        return self.istft(real, imag).unsqueeze(1)


class MelToMagnitude(nn.Module):
    """The magnitude head as exported: mel ``[B, n_mels, T]`` → magnitude ``[B, n_fft / 2 + 1, T]``.

    Args:
        generator: an :class:`ISTFTGenerator`.
    """

    def __init__(self, generator: ISTFTGenerator) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.generator.head(mel)[0]


class ISTFTVocoder(GANVocoder):
    """iSTFT vocoder generator + MPD + MSD (registry name ``istft_vocoder``; see the module docstring).

    Args:
        sample_rate: audio rate (16 000 for our digits corpus).
        feature_params: the log-mel input's parameters; its ``hop_length`` is the head's hop (the generator works
            at the frame rate, so there are no upsampling rates).
        n_fft: FFT size of the head (null: the features' ``n_fft``); even and at least three hops.
        dim, intermediate_dim, layers, kernel_size: the ConvNeXt backbone (512, 1536, 8, 7 in Vocos).
        mag_clip: largest predicted magnitude (Vocos: 100; 1000 here, which caps a pure tone at amplitude ~3.9 for
            n_fft 1024 instead of ~0.39).
        head: "matmul" (fixed inverse DFT + overlap-add; exports to ONNX) or "torch" (``torch.istft``).
        mel_prior: predict the log-magnitude as a residual on ``ln max(pinv(M) · exp(mel), 1e-5)``, the mel
            filterbank's pseudo-inverse applied to the input (not in Vocos; ours): the magnitude is roughly right
            from the first step, so a short CPU training spends its steps on the phase and the fine structure.
            Needs the head's ``n_fft`` equal to the features'.
        phase: "absolute" (Vocos: the angle of every frame is predicted on its own) or "integrated" (ours, after
            GANSynth's instantaneous frequency): the head predicts each bin's phase advance from the previous frame
            as a deviation from its centre frequency's ``2π·k·hop / n_fft``, and the phase is their running sum
            over frames. A frame-rate convolutional backbone given a steady sound predicts the same absolute angle
            in every frame, which makes the output periodic in the hop (a buzz at ``sample_rate / hop``, e.g.
            62.5 Hz) whatever the pitch; an advancing phase does not. Such a model is vocoded in one piece, not
            in chunks (its phase depends on every earlier frame). "griffin_lim" (ours, after Tacotron's
            mel → linear-spectrogram post-net + Griffin-Lim, Wang et al. 2017): the head predicts the magnitude
            only, trained by a *supervised stage* (no discriminators): spectral convergence + log-magnitude L1
            against the STFT of the target audio at the head's resolution (:meth:`supervised_loss`); the phase
            comes from ``gl_iters`` fast Griffin-Lim iterations at inference. Vocoded in one piece; exports to
            ONNX with opset 17 or later (its STFT operator).
        gl_iters: fast Griffin-Lim iterations of ``phase="griffin_lim"`` (more: better phase, slower).
        head_hop: the head's hop when finer than the features' (e.g. 128 under a 256-hop mel: two magnitude spectra
            per input frame, interleaved in time); needs a magnitude-only phase mode (null: the features' hop).
        f0_prior: (ours; needs ``mel_prior``) the input is the ``log_mel_f0`` feature
            (:class:`~speechgen.data.features.LogMelF0`: the log-mel, then YIN's log F0 and voicing), which the
            backbone sees whole, and on voiced frames the pseudo-inverse envelope is multiplied by a harmonic comb
            at the frame's F0, each mel band keeping its sum (:class:`HarmonicComb`), before the log; the head's
            residual corrects that prior.
        comb_depth: the comb's initial depth per bin in (0, 1) (learned; 0.5 halves the gap between the envelope
            and the full comb).
        prior_fallback: (ours; needs ``mel_prior``) a > 0 bounds the pseudo-inverse envelope from below by ``a`` times
            the band average (:func:`band_average`, never negative): where the pseudo-inverse dips below zero (18 %
            of the loud voiced bins under 500 Hz at n_fft 512) the prior is otherwise held at 1e-5, below the
            supervised loss's magnitude floor, so those bins get no gradient. 0 (default): the plain pseudo-inverse.
        magnitude_critic: (ours; a magnitude-only phase mode) the supervised stage adds an adversarial term: a
            :class:`~speechgen.nn.vocoder_discriminators.SpectrogramDiscriminator` judges the head's magnitude
            against the target's (at the head's resolution; no phase, no waveform), with feature matching — the
            adversarial sharpening of the harmonics that the L1 losses smooth out. Starts at the ``vocoder``
            scheme's ``losses.disc_start_step``; weights ``adv_weight`` and ``fm_weight``. Usually a fine-tune of a
            trained head (``train.init_from``).
        critic_channels: the spectrogram discriminator's width (UnivNet: 32).
        mpd_periods, msd_scales, disc_width: discriminators as in :class:`~speechgen.models.hifigan.HiFiGAN`
            (built, unused, without ``magnitude_critic`` in a magnitude-only phase mode).
        discriminators: build the discriminators (False for inference).
    """

    def __init__(self, sample_rate: int = 16000, feature_params: dict[str, Any] | None = None,
                 n_fft: int | None = None, dim: int = 512, intermediate_dim: int = 1536, layers: int = 8,
                 kernel_size: int = 7, mag_clip: float = 1000.0, head: HeadImpl = "matmul",
                 mel_prior: bool = False, phase: PhaseMode = "absolute", gl_iters: int = 32,
                 head_hop: int | None = None, f0_prior: bool = False, comb_depth: float = 0.5,
                 prior_fallback: float = 0.0, magnitude_critic: bool = False, critic_channels: int = 32,
                 mpd_periods: Sequence[int] = (2, 3, 5, 7, 11), msd_scales: int = 3,
                 disc_width: float = 1.0, discriminators: bool = True) -> None:
        kwargs = {"sample_rate": sample_rate, "feature_params": feature_params, "n_fft": n_fft, "head_hop": head_hop,
                  "f0_prior": f0_prior}
        field, product = self.upsampling(kwargs)
        super().__init__(sample_rate, feature_params, product, field, self.feature_name(kwargs))
        if f0_prior and not mel_prior:
            raise ConfigError("f0_prior: needs mel_prior: true (the comb shapes the pseudo-inverse envelope)")
        head_fft = int(self.feature_params["n_fft"]) if n_fft is None else int(n_fft)
        step = self.hop_length // (self.hop_length if head_hop is None else int(head_hop))
        if isinstance(prior_fallback, bool) or not isinstance(prior_fallback, (int, float)) or prior_fallback < 0:
            raise ConfigError(f"prior_fallback: expected a number >= 0, got {prior_fallback!r}")
        if prior_fallback and not mel_prior:
            raise ConfigError("prior_fallback: needs mel_prior: true (it bounds the pseudo-inverse envelope)")
        inverse, comb, average = None, None, None
        if mel_prior:  # the filterbank at the head's FFT size (its level offset is a constant the head learns)
            fp = self.feature_params
            bank = mel_filterbank(sample_rate, head_fft, int(fp["n_mels"]), fp["fmin"], fp["fmax"])
            inverse = np.linalg.pinv(bank)
            if f0_prior:
                comb = HarmonicComb(sample_rate, head_fft, bank, comb_depth)
            if prior_fallback:
                average = float(prior_fallback) * band_average(bank)
        self.generator = ISTFTGenerator(self.n_mels, self.hop_length, head_fft, dim, intermediate_dim, layers,
                                        kernel_size, mag_clip, head, inverse, phase, gl_iters, step, comb,
                                        average)
        self.whole_input = phase != "absolute"  # speechgen vocode: one piece, not overlapping chunks
        if phase in MAGNITUDE_ONLY:  # many small FFTs: a second torch thread only adds waiting (docs/vocoders.md)
            self.max_threads = 1
        if not isinstance(magnitude_critic, bool):
            raise ConfigError(f"magnitude_critic: expected true or false, got {magnitude_critic!r}")
        if magnitude_critic and phase not in MAGNITUDE_ONLY:
            raise ConfigError(f"magnitude_critic: needs a magnitude-only phase ({' or '.join(MAGNITUDE_ONLY)}), "
                              f"got phase {phase!r}")
        self.magnitude_critic = magnitude_critic
        self.discriminator = None
        if discriminators and magnitude_critic:
            self.discriminator = SpectrogramDiscriminator(critic_channels)
        elif discriminators:  # built but unused by a plain supervised stage (as ResGAN's pulse stage)
            self.discriminator = hifigan_discriminator(mpd_periods, msd_scales, disc_width, "the iSTFT vocoder")

    @classmethod
    def feature_name(cls, kwargs: Mapping[str, Any]) -> str:
        """``log_mel_f0`` with ``f0_prior`` (the log-mel, log F0 and voicing), else ``log_mel``."""
        f0_prior = cls._kwarg(kwargs, "f0_prior")
        if not isinstance(f0_prior, bool):
            raise ConfigError(f"f0_prior: expected true or false, got {f0_prior!r}")
        return LogMelF0.name if f0_prior else LogMel.name

    @classmethod
    def upsampling(cls, kwargs: Mapping[str, Any]) -> tuple[str, int]:
        """The hop of the features (the head's hop; no upsampling rates); checks the head's ``n_fft``."""
        field, hop = cls.feature_hop(kwargs)
        n_fft = cls._kwarg(kwargs, "n_fft")
        if n_fft is None:
            params = cls._kwarg(kwargs, "feature_params") or {}
            n_fft = params.get("n_fft", 1024) if isinstance(params, Mapping) else 1024
        head_hop = cls._kwarg(kwargs, "head_hop") if "head_hop" in kwargs else None
        if head_hop is not None and (isinstance(head_hop, bool) or not isinstance(head_hop, int) or head_hop < 1
                                     or not isinstance(hop, int) or hop % head_hop):
            raise ConfigError(f"head_hop: expected a positive integer that divides the features' hop {hop}, "
                              f"got {head_hop!r}")
        check_head(n_fft, hop if head_hop is None else head_hop)
        return field, hop

    def export_graph(self) -> tuple[nn.Module, dict[str, Any]]:
        """The network as exported. With a magnitude-only phase mode (``griffin_lim``, ``pghi``) the graph ends at
        the predicted magnitude ``[batch, n_fft / 2 + 1, frames · frames_per_step]``: the phase algorithm stays
        outside it (unrolled, 32 Griffin-Lim iterations made a 147-MB file of a 0.94 M-parameter model), and the
        output's description says how to make audio of it."""
        g = self.generator
        if g.phase_mode not in MAGNITUDE_ONLY:
            return super().export_graph()
        start = "PGHI (phase-gradient heap integration), then" if g.phase_mode == "pghi" else "zero phase, then"
        return MelToMagnitude(g).eval(), {
            "name": "magnitude",
            "shape": ["batch", g.n_fft // 2 + 1, "frames" if g.frames_per_step == 1 else f"frames*{g.frames_per_step}"],
            "dtype": "float32",
            "audio": {"phase": f"{start} fast Griffin-Lim", "iterations": g.gl_iters, "momentum": GL_MOMENTUM,
                      "n_fft": g.n_fft, "hop_length": g.hop_length, "window": "hann", "center": True,
                      "pad_mode": "reflect"}}

    @torch.no_grad()
    def export_reference(self, mel: torch.Tensor) -> torch.Tensor:
        """The predicted magnitude of a magnitude-only phase mode (what its exported graph computes), else audio."""
        if self.generator.phase_mode not in MAGNITUDE_ONLY:
            return super().export_reference(mel)
        return self.generator.head(self.check_mel(mel))[0]

    @property
    def supervised_stage(self) -> bool:
        """True for the magnitude-only modes (``griffin_lim``, ``pghi``): the head is trained by
        :meth:`supervised_loss` alone."""
        return self.generator.phase_mode in MAGNITUDE_ONLY

    def supervised_loss(self, audio: torch.Tensor, features: torch.Tensor,
                        ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Spectral convergence + log-magnitude L1 between the head's magnitude of the log-mel ``features``
        ``[B, n_mels, F]`` and the STFT magnitude of ``audio`` ``[B, F · hop]`` at the head's resolution (see
        :meth:`magnitudes`)."""
        return self.magnitude_loss(*self.magnitudes(audio, features))

    def magnitudes(self, audio: torch.Tensor, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The head's magnitude of ``features`` and the target's, ``[B, bins, frames]`` each, at least
        ``sqrt(MAG_FLOOR)``, frame ``j`` centred on sample ``j · hop``. The frames whose window reaches past the
        segment's edges are left out: there the segment's reflect padding differs from the clip around it, which
        the features saw."""
        if audio.ndim == 3:
            audio = audio[:, 0]
        g = self.generator
        mag, _ = g.head(features)
        frames = mag.shape[-1]  # F · frames_per_step head frames
        edge = min(g.n_fft // (2 * g.hop_length), (frames - 1) // 2)
        target = g.analyse(audio)[..., :frames]
        target = torch.sqrt(torch.clamp(target.real.pow(2) + target.imag.pow(2), min=MAG_FLOOR))
        mag = torch.sqrt(torch.clamp(mag.pow(2), min=MAG_FLOOR))
        keep = slice(edge, frames - edge)
        return mag[..., keep], target[..., keep]

    @staticmethod
    def magnitude_loss(mag: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Spectral convergence + log-magnitude L1 of ``mag`` against ``target``, and the two parts."""
        sc, log_mag = magnitude_distances(target, mag)
        return sc + log_mag, {"sc": sc.detach(), "log_mag": log_mag.detach()}
