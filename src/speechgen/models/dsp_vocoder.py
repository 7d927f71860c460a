"""A vocoder without weights (registry name ``dsp``, shipped as ``dsp``): log-mel → linear magnitude by the mel
filterbank's pseudo-inverse → phase by PGHI → a few fast Griffin-Lim iterations → inverse STFT.

The always-available baseline, the row every trained vocoder must beat (docs/vocoders.md). Steps, for a log-mel
``[B, n_mels, T]`` of the features ``feature_params`` (hop ``H``):

1. the synthesis STFT (``n_fft``, ``hop_length`` ``h``; 512/128 by default, a divisor of ``H``) has ``T·H/h + 1``
   frames, frame ``i`` centred on sample ``i·h`` like the features' frame ``i·h/H``; the log-mel is linearly
   interpolated in time to those frames (the last one held);
2. magnitude: ``max(pinv(M) · exp(mel), 0) · gain`` with ``M`` the filterbank at the synthesis ``n_fft``
   (``magnitude="pinv"``; optionally sharpened: ``power``), or that refined towards the non-negative least-squares
   solution by ``nnls_iters`` projected-gradient (FISTA) steps (``magnitude="nnls"``). ``gain`` gives it the true STFT's energy on a
   speech-like reference signal, so the output keeps the input's level;
3. phase: :func:`speechgen.audio.phase.pghi` (or ``rtpghi``; ``"griffin_lim"`` starts from zero phase), then
   ``gl_iters`` fast Griffin-Lim iterations (:func:`speechgen.audio.phase.griffin_lim`, momentum 0.99);
4. inverse STFT to exactly ``T·H`` samples.

The choices are measured (docs/vocoders.md, The DSP vocoder; bench/dsp_vocoder_choices.py): the pseudo-inverse beats
exact NNLS (which puts a band's energy into few bins: PESQ 2.45 vs 2.70), and 100 projected-gradient NNLS steps from
it gain 0.06 at a quarter of the speed; the 512/128 STFT beats the features' 1024/256 (2.70 vs 2.59); ``gl_iters``
16 is the default (0, 4, 8, 16, 32: PESQ 2.01, 2.44, 2.57, 2.70, 2.74). PGHI integrates over the whole
input, so ``speechgen vocode`` runs it in one piece (``whole_input``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from speechgen.audio.phase import FILLS, PGHI_TOL, griffin_lim, pghi, rtpghi
from speechgen.audio.spectral import band_average, log_mel, mel_filterbank, stft
from speechgen.data.features import LogMel
from speechgen.errors import ConfigError
from speechgen.models.roles import VOCODER
from speechgen.models.vocoder import check_mel, log_mel_params, torch_threads

MAGNITUDES = ("pinv", "floor", "nnls")
PHASES = ("pghi", "rtpghi", "griffin_lim")
DEFAULT_GL_ITERS = 16
#: (filterbank, its pseudo-inverse · gain, band average · gain (None but for "floor"), gain, Lipschitz constant) per
#: (rate, feature parameters, synthesis STFT, magnitude)
_MATRICES: dict[tuple, tuple[np.ndarray, np.ndarray, float, float]] = {}


def _interpolation(frames: int, ratio: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(lo, hi, frac)`` of the ``frames · ratio + 1`` synthesis frames: synthesis frame ``i`` lies at mel frame
    ``i / ratio``, between mel frames ``lo`` and ``hi`` (the last mel frame held past the end)."""
    pos = np.arange(frames * ratio + 1) / ratio
    lo = np.minimum(np.floor(pos).astype(np.int64), frames - 1)
    hi = np.minimum(lo + 1, frames - 1)
    return lo, hi, np.clip(pos - lo, 0.0, 1.0)


def _int(name: str, value: Any, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return value


class DSPVocoder(nn.Module):
    """Log-mel → audio with no weights (see the module docstring).

    Args:
        sample_rate: audio rate.
        feature_params: the log-mel input's parameters (defaults: docs/data.md, Features: 1024/256, 80 bands).
        n_fft, hop_length: the synthesis STFT (None: the features'); ``hop_length`` must divide the features' hop
            and ``n_fft`` be even and at least two hops.
        magnitude: "pinv" (the filterbank's pseudo-inverse, clipped at 0), "floor" (the pseudo-inverse bounded from
            below by the band average, :func:`~speechgen.audio.spectral.band_average`, which never dips below
            zero) or "nnls" (the pseudo-inverse refined by ``nnls_iters`` projected-gradient steps towards
            non-negative least squares).
        phase: "pghi" (default), "rtpghi" (frame by frame, one frame of look-ahead) or "griffin_lim" (from zero phase).
        gl_iters: fast Griffin-Lim iterations after the initial phase (0: the initial phase alone).
        momentum: fast Griffin-Lim's alpha.
        tol, fill: PGHI's relative tolerance and the phase of the bins under it.
        power: raise the magnitude to this power (keeping each clip's energy) before the phase: Tacotron's
            sharpening before Griffin-Lim (Wang et al. 2017 used 1.5 on predicted magnitudes). Measured here: 1.2
            lifts PESQ but doubles the mel-cepstral distortion (docs/vocoders.md, The DSP vocoder), so 1 (none) is
            the default.
    """

    roles = (VOCODER,)
    #: registered name of the conditioning feature
    feature: ClassVar[str] = LogMel.name
    #: ``speechgen export`` refuses it with this reason
    onnx_unsupported: str | None = "it has no network: its pseudo-inverse, PGHI and Griffin-Lim are fixed numpy/torch code"
    #: ``speechgen vocode`` runs it over the whole input: PGHI's phase is integrated across all frames
    whole_input = True
    #: torch threads of :meth:`infer`: its FFTs are small (512-point frames), threads add only synchronisation, and
    #: on a busy machine OpenMP's waiting made two threads 30x slower than one (3.7x vs 106x real time, measured)
    max_threads = 1
    #: deterministic (PGHI's random fill is seeded): several clips of one length go through one call
    batch_vocode = True

    def __init__(self, sample_rate: int = 16000, feature_params: Mapping[str, Any] | None = None,
                 n_fft: int | None = 512, hop_length: int | None = 128, magnitude: str = "pinv",
                 nnls_iters: int = 100, phase: str = "pghi", gl_iters: int = DEFAULT_GL_ITERS, momentum: float = 0.99,
                 tol: float = PGHI_TOL, fill: str = "random", power: float = 1.0) -> None:
        super().__init__()
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ConfigError(f"sample_rate: expected a positive integer, got {sample_rate!r}")
        params = log_mel_params(feature_params, sample_rate)
        feat_hop, feat_fft = int(params["hop_length"]), int(params["n_fft"])
        n_fft = feat_fft if n_fft is None else _int("n_fft", n_fft, 2)
        hop = feat_hop if hop_length is None else _int("hop_length", hop_length, 1)
        if n_fft % 2 or n_fft < 2 * hop:
            raise ConfigError(f"n_fft: expected an even integer of at least two hops ({2 * hop}), got {n_fft}")
        if feat_hop % hop:
            raise ConfigError(f"hop_length: {hop} must divide the features' hop {feat_hop}")
        if magnitude not in MAGNITUDES:
            raise ConfigError(f"magnitude: expected one of {', '.join(MAGNITUDES)}, got {magnitude!r}")
        if phase not in PHASES:
            raise ConfigError(f"phase: expected one of {', '.join(PHASES)}, got {phase!r}")
        if fill not in FILLS:
            raise ConfigError(f"fill: expected one of {', '.join(FILLS)}, got {fill!r}")
        if not 0.0 <= momentum <= 1.0:
            raise ConfigError(f"momentum: expected a value in [0, 1], got {momentum!r}")
        if not 0.0 <= tol < 1.0:
            raise ConfigError(f"tol: expected a value in [0, 1), got {tol!r}")
        if isinstance(power, bool) or not isinstance(power, (int, float)) or not 0.0 < power <= 4.0:
            raise ConfigError(f"power: expected a value in (0, 4], got {power!r}")
        self.sample_rate = sample_rate
        self.feature_params = params
        self.hop_length = feat_hop  # the vocoder contract: audio samples per mel frame
        self.n_mels = int(params["n_mels"])
        self.n_fft, self.stft_hop = int(n_fft), int(hop)
        self.magnitude, self.phase, self.fill = magnitude, phase, fill
        self.nnls_iters = _int("nnls_iters", nnls_iters, 0)
        self.gl_iters = _int("gl_iters", gl_iters, 0)
        self.momentum, self.tol, self.power = float(momentum), float(tol), float(power)
        key = (sample_rate, tuple(sorted(params.items())), self.n_fft, self.stft_hop, magnitude == "floor")
        if key not in _MATRICES:  # the SVDs take 2-150 ms (a busy machine): once per process and setting
            fb = mel_filterbank(sample_rate, self.n_fft, self.n_mels, params["fmin"], params["fmax"])
            inverse = np.linalg.pinv(fb)
            average = band_average(fb) if magnitude == "floor" else None
            gain = self._level_gain(inverse, average)
            _MATRICES[key] = (fb, inverse * gain, None if average is None else average * gain, gain,
                              float(np.linalg.norm(fb, 2) ** 2))
        fb, inverse, average, self.gain, lipschitz = _MATRICES[key]
        # buffers, not parameters: nothing is learned, and nothing is saved (non-persistent)
        self.register_buffer("filterbank", torch.from_numpy(fb).float(), persistent=False)
        self.register_buffer("inverse", torch.from_numpy(inverse).float(), persistent=False)
        self.average = None if average is None else torch.from_numpy(average).float()
        self.lipschitz = lipschitz

    def _level_gain(self, inverse: np.ndarray, average: np.ndarray | None = None) -> float:
        """The factor that gives the pseudo-inverse magnitude the energy of the true synthesis STFT's on a
        speech-like reference (1 s of a 140 Hz harmonic tone with vibrato and a little noise): the energy a band's
        pseudo-inverse spreads over its bins depends on how many bins it has at each STFT size, so no closed form
        holds for every band (for the shipped 1024 → 512 setting: 0.75; the output then keeps the input's level,
        measured on test clips: 0.98 of the input's RMS, 1.30 without it). Numpy only: it also runs when the loader
        builds the model on the meta device."""
        sr, p = self.sample_rate, self.feature_params
        t = np.arange(sr) / sr
        phase = 2 * np.pi * np.cumsum(140.0 + 20.0 * np.sin(2 * np.pi * 3 * t)) / sr
        harmonics = max(1, int(0.45 * sr / 160.0))
        x = (0.1 * sum(np.sin(k * phase) / k for k in range(1, harmonics + 1))
             + 0.003 * np.random.default_rng(0).standard_normal(sr))
        mel = np.exp(log_mel(x, sr, p["n_fft"], p["hop_length"], p["win_length"], self.n_mels, p["fmin"], p["fmax"],
                             p["eps"]))
        lo, hi, frac = _interpolation(mel.shape[-1], self.hop_length // self.stft_hop)
        lin = mel[:, lo] * (1.0 - frac) + mel[:, hi] * frac
        est = np.maximum(inverse @ lin, 0.0 if average is None else average @ lin)
        true = np.abs(stft(x, self.n_fft, self.stft_hop))
        keep = slice(4, min(est.shape[-1], true.shape[-1]) - 4)  # away from the reflect-padded edges
        return float(np.sqrt(np.sum(true[:, keep] ** 2) / max(np.sum(est[:, keep] ** 2), 1e-30)))

    @classmethod
    def inference_kwargs(cls, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Constructor kwargs for inference (all of them: nothing to leave out)."""
        return dict(kwargs)

    def check_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """``mel`` as ``[B, n_mels, frames]``; see :func:`speechgen.models.vocoder.check_mel`."""
        return check_mel(mel, self.n_mels)

    # -- the steps ------------------------------------------------------------------------------------------------
    def upsample(self, mel: torch.Tensor) -> torch.Tensor:
        """The log-mel ``[B, n_mels, T]`` at the synthesis frames ``[B, n_mels, T·r + 1]`` (``r`` = feature hop /
        synthesis hop): linear interpolation in time, the last frame held."""
        lo, hi, frac = _interpolation(mel.shape[-1], self.hop_length // self.stft_hop)
        lo, hi = torch.from_numpy(lo).to(mel.device), torch.from_numpy(hi).to(mel.device)
        frac = torch.from_numpy(frac).to(mel)
        return mel[..., lo] * (1.0 - frac) + mel[..., hi] * frac

    def linear_magnitude(self, mel: torch.Tensor) -> torch.Tensor:
        """The synthesis STFT's magnitude ``[B, n_fft / 2 + 1, T·r + 1]`` of a log-mel ``[B, n_mels, T]``."""
        lin = torch.exp(self.upsample(mel))
        inverse = self.inverse.to(lin)
        mag = torch.matmul(inverse, lin)
        if self.average is not None:  # "floor": never below the band average (where the pseudo-inverse dips)
            mag = torch.maximum(mag, torch.matmul(self.average.to(lin), lin))
        mag = torch.clamp(mag, min=0.0)
        if self.magnitude == "nnls" and self.nnls_iters:
            mag = self._nnls(lin * self.gain, mag)
        if self.power != 1.0:  # sharpen, keeping each item's energy
            sharp = mag ** self.power
            norm = lambda a: torch.sqrt(torch.sum(a * a, dim=(-2, -1), keepdim=True))
            mag = sharp * (norm(mag) / torch.clamp(norm(sharp), min=1e-30))
        return mag

    def _nnls(self, target: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """FISTA on ``min ||M x - target||² s.t. x >= 0`` from ``x`` (Beck & Teboulle 2009), ``nnls_iters`` steps."""
        fb = self.filterbank.to(x)
        gram, rhs = fb.T @ fb, torch.matmul(fb.T, target)
        step = 1.0 / self.lipschitz
        y, t = x, 1.0
        for _ in range(self.nnls_iters):
            new = torch.clamp(y - step * (torch.matmul(gram, y) - rhs), min=0.0)
            t_new = (1.0 + (1.0 + 4.0 * t * t) ** 0.5) / 2.0
            y = new + ((t - 1.0) / t_new) * (new - x)
            x, t = new, t_new
        return x

    def initial_phase(self, mag: torch.Tensor) -> torch.Tensor | str:
        """The phase the Griffin-Lim iterations start from (``"zeros"`` for ``phase="griffin_lim"``)."""
        if self.phase == "griffin_lim":
            return "zeros"
        find = pghi if self.phase == "pghi" else rtpghi
        return find(mag, self.stft_hop, self.n_fft, tol=self.tol, fill=self.fill)

    @torch.no_grad()
    def infer(self, mel: torch.Tensor) -> torch.Tensor:
        """Audio ``[B, frames · hop_length]`` (or ``[samples]`` for a 2-D mel) of a log-mel ``[B, n_mels, frames]``."""
        squeeze = mel.ndim == 2
        mel = self.check_mel(mel)
        mel = mel if mel.is_floating_point() else mel.float()
        with torch_threads(self.max_threads):
            mag = self.linear_magnitude(mel)
            y = griffin_lim(mag, self.stft_hop, self.n_fft, n_iter=self.gl_iters, momentum=self.momentum,
                            init=self.initial_phase(mag), length=mel.shape[-1] * self.hop_length)
        return y[0] if squeeze else y

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """:meth:`infer` as ``[B, 1, frames · hop_length]`` (the GAN vocoders' generator output)."""
        return self.infer(self.check_mel(mel)).unsqueeze(1)
