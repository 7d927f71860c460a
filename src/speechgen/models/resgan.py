"""ResGAN (Juvela, Bollepalli, Wang, Kameoka, Airaksinen, Yamagishi & Alku, ICASSP 2018, "Speech waveform synthesis
from MFCC sequences with generative adversarial networks"): speech from 20 MFCCs + log-F0 + voicing.

Input: the ``mfcc_f0`` feature ``[B, n_mfcc + 2, F]`` (:class:`~speechgen.data.features.MfccF0`: MFCCs, log-F0
interpolated through unvoiced frames, a 0/1 voicing flag; frame ``j`` centred on sample ``j · hop``); output
``[B, 1, F · hop]``.

Signal chain of the generator (:class:`ResGANGenerator`):

1. **Envelope** (:mod:`speechgen.audio.lpc`, as the paper): MFCC → mel power (inverse DCT) → linear power by the
   pseudo-inverse of the mel filterbank (``envelope_method="pinv"``; ``"nonneg"`` for the non-negative variant) →
   autocorrelation → Levinson-Durbin LPC ``A(z)`` of order ``lpc_order`` with gain ``G`` → line spectral
   frequencies. The all-pole response ``H = G / (A(e^jω) · √Σw²)`` is the synthesis filter (scaled so that unit
   variance white excitation gives the envelope's level).
2. **Pulse model** (:class:`PulseModel`): an MLP mapping each frame's ``[LSF / π, log F0 - log 100, log G / 5]`` to
   one excitation pulse of ``pulse_length`` samples.
3. **Placement**: pitch marks from the F0 track (:func:`speechgen.audio.pitch.pulse_train`: F0 integrated to a
   phase, one mark per period in voiced frames); at each mark the pulse of its nearest frame, windowed by a Hann
   window two periods wide (``T0 = sr / F0`` at the mark), is overlap-added. The sum is the *smooth excitation*.
4. **Noise model** (:class:`NoiseModel`, the GAN generator): Gaussian noise ``z`` ``[B, 1, T]`` through dilated
   convolutions, the smooth excitation and the voicing track concatenated to the input of every layer; its output
   (a residual excitation) is added to the smooth excitation.
5. **Filter** (:class:`SpectralFilter`): the excitation's STFT (the features' n_fft / hop / window) times ``H`` of
   the frame, inverse STFT. The output is therefore ``filter(smooth) + filter(residual)``: the smooth pulse
   waveform plus the noise model's contribution (:meth:`ResGANGenerator.components`).

Discriminator (:class:`SpectrogramDiscriminator`): a fixed FFT layer (log-magnitude STFT, no parameters) and a
2-D convolution stack on the time-frequency image.

**Two training stages** (``stage`` kwarg; the ``vocoder`` scheme runs both):

- ``stage="pulse"`` (``recipes/vocoder/resgan-pulse*.yaml``): a *supervised stage* (:attr:`supervised_stage`):
  least squares between the pulse model's windowed pulses and pitch-synchronous pulses of the training audio's
  excitation (the audio inverse-filtered by ``1 / H``, cut at the pitch marks snapped to the strongest excitation
  sample within half a period, two-period Hann windowed). The generator's output in this stage is the filtered smooth
  excitation alone (the noise model is off), so validation scores the pulse model.
- ``stage="noise"`` (``recipes/vocoder/resgan*.yaml``, ``train.init_from`` = the pulse run): the pulse model is frozen
  (``requires_grad=False``) and the noise model and discriminator train as a GAN (``losses.adversarial``; the
  recipes add an MR-STFT term, see below).

Simplifications relative to the paper (documented choices, not oversights):

- F0 and voicing come with the input feature (YIN on the audio); the paper predicts them from the MFCCs with an
  autoregressive RNN first. Pitch marks follow the F0 phase, not detected glottal closure instants; at training
  they are snapped to the largest excitation magnitude within ±T0/2 (no polarity handling).
- The excitation is obtained (and filtered back) with the MFCC-derived all-pole filter applied frame-wise in the
  STFT domain (hop and window of the features), not by time-domain glottal inverse filtering and a time-varying
  IIR synthesis filter.
- Pulses have a fixed length (``pulse_length``) and are windowed by the current two-period Hann window; the paper's
  pitch-synchronous pulse normalisation/interpolation is not reproduced.
- The noise model runs on the whole waveform at the sample rate (its output added in the excitation domain, before
  the filter) instead of on individual pitch-synchronous pulses; the discriminator sees the time-frequency image
  of the whole waveform. The fixed FFT layer sits at the discriminator's input, which is the same function as an
  FFT layer at the generator's output applied to real and generated audio alike.
- Network sizes (MLP 2 × 256, 8 dilated layers of 32 channels, a 4-layer spectrogram discriminator) are ours; the
  recipes add Parallel WaveGAN's MR-STFT loss to the adversarial loss for short CPU runs (``mrstft_weight: 0``
  gives the purely adversarial noise model).
- Hop 256 samples at 16 kHz (docs/data.md, Features), 20 MFCCs from 80 mel bands (0-8 kHz), LPC order 20.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from speechgen.audio import lpc, pitch
from speechgen.audio.spectral import STFT
from speechgen.errors import ConfigError
from speechgen.models.vocoder import GANVocoder
from speechgen.nn.vocoder_blocks import Norm, conv1d, conv2d

Stage = Literal["pulse", "noise"]
SLOPE = 0.2
LOG_F0_REF = math.log(100.0)


# ------------------------------------------------------------------------------------------------ pitch marks
@dataclass
class PitchMarks:
    """Pitch marks of a batch: item ``batch[i]``, sample ``position[i]``, nearest frame ``frame[i]`` and the period
    ``period[i]`` (samples) there. Arrays of equal length (int64 / float64)."""

    batch: np.ndarray
    position: np.ndarray
    frame: np.ndarray
    period: np.ndarray

    def __len__(self) -> int:
        return int(self.position.shape[0])

    def select(self, keep: np.ndarray) -> "PitchMarks":
        """The marks where ``keep`` (bool or indices) holds."""
        return PitchMarks(self.batch[keep], self.position[keep], self.frame[keep], self.period[keep])


def pitch_marks(log_f0: np.ndarray, voicing: np.ndarray, sample_rate: int, hop_length: int,
                length: int | None = None) -> PitchMarks:
    """Pitch marks of ``[B, F]`` log-F0 / voicing tracks: the impulses of :func:`speechgen.audio.pitch.pulse_train`
    (one per period in voiced frames, phase restarting at each voiced onset) over ``length`` samples (default
    ``F · hop``)."""
    lf0 = np.asarray(log_f0, dtype=np.float64)
    vuv = np.asarray(voicing) > 0.5
    n_batch, n_frames = lf0.shape
    n = n_frames * hop_length if length is None else int(length)
    centres = np.arange(n_frames, dtype=np.float64) * hop_length
    top = np.log(sample_rate / 2.0 - 1.0)
    parts: list[tuple[np.ndarray, ...]] = []
    for b in range(n_batch):
        if not vuv[b].any():
            continue
        f0 = np.exp(np.minimum(lf0[b], top))
        pos = np.flatnonzero(pitch.pulse_train(f0, vuv[b], sample_rate, hop_length, n))
        frame = np.clip(np.floor(pos / hop_length + 0.5).astype(np.int64), 0, n_frames - 1)
        period = sample_rate / np.exp(np.interp(pos, centres, pitch.log_f0_interp(f0, vuv[b])))
        parts.append((np.full(pos.shape, b, dtype=np.int64), pos.astype(np.int64), frame, period))
    if not parts:
        empty = np.zeros(0, dtype=np.int64)
        return PitchMarks(empty, empty, empty, np.zeros(0))
    return PitchMarks(*(np.concatenate([p[i] for p in parts]) for i in range(4)))


def pulse_window(period: torch.Tensor, length: int) -> torch.Tensor:
    """Hann windows two periods wide ``[M, length]``, centred on sample ``length // 2``: ``0.5 (1 + cos(π n / T0))``
    for ``|n| < T0``, else 0 (they overlap-add to 1 at a spacing of one period)."""
    n = torch.arange(length, device=period.device, dtype=period.dtype) - length // 2
    t0 = period[:, None]
    return 0.5 * (1.0 + torch.cos(math.pi * n / t0)) * (n.abs() < t0)


def overlap_add(values: torch.Tensor, marks: PitchMarks, batch: int, length: int) -> torch.Tensor:
    """Sum pulses ``values [M, L]`` centred (sample ``L // 2``) on the marks into ``[batch, length]``."""
    out = values.new_zeros(batch * length)
    if len(marks) == 0:
        return out.view(batch, length)
    size = values.shape[1]
    dev = values.device
    offs = torch.as_tensor(marks.position, device=dev)[:, None] - size // 2 + torch.arange(size, device=dev)
    valid = (offs >= 0) & (offs < length)
    flat = torch.as_tensor(marks.batch, device=dev)[:, None] * length + offs
    return out.index_add(0, flat[valid], values[valid]).view(batch, length)


def gather_segments(signal: torch.Tensor, marks: PitchMarks, size: int) -> torch.Tensor:
    """Segments ``[M, size]`` of ``signal [B, T]`` centred (sample ``size // 2``) on the marks, zero outside."""
    length = signal.shape[1]
    dev = signal.device
    offs = torch.as_tensor(marks.position, device=dev)[:, None] - size // 2 + torch.arange(size, device=dev)
    valid = (offs >= 0) & (offs < length)
    flat = torch.as_tensor(marks.batch, device=dev)[:, None] * length + offs.clamp(0, length - 1)
    return signal.reshape(-1)[flat] * valid


# ------------------------------------------------------------------------------------------------ layers
class SpectralFilter(nn.Module):
    """Frame-wise filtering in the STFT domain: ``iSTFT(STFT(x) · H_j)`` with one complex response per frame
    (frame ``j`` centred on sample ``j · hop``; the STFT's extra last frame reuses the last response)."""

    def __init__(self, n_fft: int, hop_length: int, win_length: int) -> None:
        super().__init__()
        self.stft = STFT(n_fft, hop_length, win_length, pad_mode="constant")
        self.n_fft = int(n_fft)
        #: √Σw²: the STFT magnitude scale of unit-variance white noise
        self.noise_scale = float(torch.sqrt((self.stft.window ** 2).sum()))

    def response(self, a: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
        """All-pole responses ``G / (A(e^jω) √Σw²)`` ``[B, n_fft / 2 + 1, F]`` of LPC ``a [B, p + 1, F]``."""
        den = torch.fft.rfft(a, n=self.n_fft, dim=1)
        return gain[:, None, :] / (den * self.noise_scale)

    def forward(self, x: torch.Tensor, response: torch.Tensor) -> torch.Tensor:
        spec = self.stft(x)  # [B, K, F + 1]
        extra = spec.shape[-1] - response.shape[-1]
        if extra > 0:
            response = torch.cat([response, response[..., -1:].expand(-1, -1, extra)], dim=-1)
        return self.stft.inverse(spec * response[..., : spec.shape[-1]], length=x.shape[-1])


class PulseModel(nn.Module):
    """MLP: per-frame envelope/pitch inputs ``[N, in_features]`` → excitation pulses ``[N, pulse_length]``."""

    def __init__(self, in_features: int, pulse_length: int, hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        d = in_features
        for h in hidden:
            layers += [nn.Linear(d, int(h)), nn.LeakyReLU(SLOPE)]
            d = int(h)
        layers.append(nn.Linear(d, pulse_length))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class NoiseModel(nn.Module):
    """The GAN generator: noise ``[B, 1, T]`` and conditioning ``[B, C, T]`` (concatenated to every layer's input)
    → residual excitation ``[B, 1, T]``. Residual dilated convolutions with leaky ReLUs, weight-normalised."""

    def __init__(self, cond_channels: int = 2, channels: int = 32, kernel_size: int = 3,
                 dilations: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128)) -> None:
        super().__init__()
        if kernel_size % 2 == 0:
            raise ConfigError(f"noise_kernel_size: must be odd, got {kernel_size}")
        self.conv_in = conv1d(1 + cond_channels, channels, kernel_size)
        self.convs = nn.ModuleList([conv1d(channels + cond_channels, channels, kernel_size, dilation=int(d))
                                    for d in dilations])
        self.conv_out = conv1d(channels + cond_channels, 1, kernel_size)

    def forward(self, z: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        h = F.leaky_relu(self.conv_in(torch.cat([z, cond], 1)), SLOPE)
        for conv in self.convs:
            h = h + F.leaky_relu(conv(torch.cat([h, cond], 1)), SLOPE)
        return self.conv_out(torch.cat([h, cond], 1))


@dataclass
class Analysis:
    """What the generator derives from the input features (no gradients): the synthesis filter's responses
    ``[B, K, F]`` (complex), the pulse model's inputs ``[B, order + 2, F]``, the voicing ``[B, F]`` and the marks."""

    response: torch.Tensor
    inputs: torch.Tensor
    voicing: torch.Tensor
    marks: PitchMarks


class ResGANGenerator(nn.Module):
    """Pulse model + placement + noise model + all-pole filter (see the module docstring)."""

    def __init__(self, sample_rate: int, feature_params: Mapping[str, Any], lpc_order: int = 20,
                 envelope_method: Literal["pinv", "nonneg"] = "pinv", pulse_length: int = 512,
                 pulse_hidden: Sequence[int] = (256, 256), noise_channels: int = 32, noise_kernel_size: int = 3,
                 noise_dilations: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128), use_noise: bool = True) -> None:
        super().__init__()
        if isinstance(lpc_order, bool) or not isinstance(lpc_order, int) or lpc_order < 2:
            raise ConfigError(f"lpc_order: expected an integer >= 2, got {lpc_order!r}")
        if isinstance(pulse_length, bool) or not isinstance(pulse_length, int) or pulse_length < 8:
            raise ConfigError(f"pulse_length: expected an integer >= 8, got {pulse_length!r}")
        if envelope_method not in ("pinv", "nonneg"):
            raise ConfigError(f"envelope_method: expected 'pinv' or 'nonneg', got {envelope_method!r}")
        fp = dict(feature_params)
        if lpc_order >= fp["n_fft"] // 2:
            raise ConfigError(f"lpc_order: {lpc_order} is too high for n_fft {fp['n_fft']}")
        self.sample_rate, self.fp = int(sample_rate), fp
        self.hop_length, self.n_mfcc = int(fp["hop_length"]), int(fp["n_mfcc"])
        self.lpc_order, self.envelope_method, self.pulse_length = lpc_order, envelope_method, pulse_length
        self.use_noise = bool(use_noise)
        self.pulse_model = PulseModel(lpc_order + 2, pulse_length, pulse_hidden)
        self.noise_model = NoiseModel(2, noise_channels, noise_kernel_size, noise_dilations)
        self.filter = SpectralFilter(fp["n_fft"], self.hop_length, fp["win_length"])

    # -- analysis ------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def analyse(self, features: torch.Tensor) -> Analysis:
        """Envelope, pulse-model inputs, voicing and pitch marks of ``features [B, n_mfcc + 2, F]``."""
        if features.ndim != 3 or features.shape[1] != self.n_mfcc + 2:
            raise ConfigError(f"features: expected [batch, {self.n_mfcc + 2}, frames], got {list(features.shape)}")
        x = features.detach().to("cpu", torch.float64).numpy()
        mfcc, lf0, vuv = x[:, : self.n_mfcc], x[:, self.n_mfcc], x[:, self.n_mfcc + 1]
        fp = self.fp
        power = lpc.mfcc_to_power(mfcc, self.sample_rate, fp["n_fft"], fp["n_mels"], fp["fmin"], fp["fmax"],
                                  method=self.envelope_method)
        a, gain = lpc.lpc_from_power(power, self.lpc_order)
        gain = np.maximum(gain, 1e-8)
        lsf = lpc.lpc_to_lsf(a)
        inputs = np.concatenate([lsf / np.pi, (lf0 - LOG_F0_REF)[:, None], np.log(gain)[:, None] / 5.0], axis=1)
        dev, dt = features.device, features.dtype
        resp = self.filter.response(torch.from_numpy(a), torch.from_numpy(gain))
        cdt = torch.complex64 if dt != torch.float64 else torch.complex128
        marks = pitch_marks(lf0, vuv, self.sample_rate, self.hop_length)
        return Analysis(resp.to(dev, cdt), torch.from_numpy(inputs).to(dev, dt), features[:, self.n_mfcc + 1] > 0.5,
                        marks)

    def pulses(self, analysis: Analysis, marks: PitchMarks | None = None) -> torch.Tensor:
        """The pulse model's windowed pulses ``[M, pulse_length]`` at ``marks`` (default: the analysis' marks)."""
        marks = analysis.marks if marks is None else marks
        x = analysis.inputs
        if len(marks) == 0:
            return x.new_zeros(0, self.pulse_length)
        b = torch.as_tensor(marks.batch, device=x.device)
        j = torch.as_tensor(marks.frame, device=x.device)
        raw = self.pulse_model(x[b, :, j])
        return raw * pulse_window(torch.as_tensor(marks.period, device=x.device, dtype=x.dtype), self.pulse_length)

    def excitation(self, features: torch.Tensor, analysis: Analysis | None = None) -> torch.Tensor:
        """The smooth excitation ``[B, F · hop]``: windowed pulses overlap-added at the pitch marks."""
        an = self.analyse(features) if analysis is None else analysis
        b, frames = features.shape[0], features.shape[-1]
        return overlap_add(self.pulses(an), an.marks, b, frames * self.hop_length)

    def voicing_track(self, analysis: Analysis, length: int) -> torch.Tensor:
        """Voicing per sample ``[B, length]`` (each sample takes its nearest frame's flag)."""
        v = analysis.voicing
        idx = torch.clamp(torch.floor(torch.arange(length, device=v.device) / self.hop_length + 0.5).long(),
                          max=v.shape[-1] - 1)
        return v[:, idx].to(analysis.inputs.dtype)

    # -- synthesis -----------------------------------------------------------------------------------------------
    def components(self, features: torch.Tensor, noise: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """``{"excitation", "residual", "smooth", "noise", "audio"}`` ``[B, T]``: the smooth excitation, the noise
        model's residual excitation, their filtered versions and ``audio = smooth + noise`` (the noise terms are 0
        when the noise model is off, i.e. in the pulse stage)."""
        an = self.analyse(features)
        exc = self.excitation(features, an)
        b, t = exc.shape
        if self.use_noise:
            if noise is None:
                noise = torch.randn(b, 1, t, device=exc.device, dtype=exc.dtype)
            elif noise.shape != (b, 1, t):
                raise ConfigError(f"noise: expected [{b}, 1, {t}], got {list(noise.shape)}")
            cond = torch.stack([exc, self.voicing_track(an, t)], dim=1)
            res = self.noise_model(noise, cond)[:, 0]
            smooth, noisy = self.filter(torch.cat([exc, res]), torch.cat([an.response, an.response])).split(b)
        else:
            res = torch.zeros_like(exc)
            smooth = self.filter(exc, an.response)
            noisy = torch.zeros_like(smooth)
        return {"excitation": exc, "residual": res, "smooth": smooth, "noise": noisy, "audio": smooth + noisy}

    def forward(self, features: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        return self.components(features, noise)["audio"].unsqueeze(1)


class SpectrogramDiscriminator(nn.Module):
    """Fixed FFT layer (log-magnitude STFT, no parameters) + 2-D convolutions; ``([logits], [features])``."""

    def __init__(self, n_fft: int = 512, hop_length: int = 128, channels: Sequence[int] = (32, 64, 128, 128),
                 norm: Norm = "weight") -> None:
        super().__init__()
        if not channels:
            raise ConfigError("disc_channels: need at least one layer")
        self.fft = STFT(n_fft, hop_length, pad_mode="constant")
        convs, cin = [], 1
        for i, c in enumerate(channels):
            stride = (1, 1) if i == 0 else (2, 2)
            convs.append(conv2d(cin, int(c), (3, 3), stride, (1, 1), norm=norm))
            cin = int(c)
        self.convs = nn.ModuleList(convs)
        self.post = conv2d(cin, 1, (3, 3), (1, 1), (1, 1), norm=norm)

    def time_frequency(self, audio: torch.Tensor) -> torch.Tensor:
        """The fixed FFT layer: ``log max(|STFT|, 1e-5)`` ``[B, 1, n_fft / 2 + 1, frames]`` of audio ``[B, 1, T]``."""
        return torch.log(torch.clamp(self.fft(audio[:, 0]).abs(), min=1e-5)).unsqueeze(1)

    def forward(self, audio: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        x = self.time_frequency(audio)
        feats = []
        for conv in self.convs:
            x = F.leaky_relu(conv(x), SLOPE)
            feats.append(x)
        return [self.post(x).flatten(1)], [feats]


# ------------------------------------------------------------------------------------------------ container
class ResGAN(GANVocoder):
    """ResGAN: pulse model + GAN noise model on MFCC + F0 input (registry name ``resgan``; module docstring).

    Args:
        sample_rate: audio rate (16 000 for our digits corpus).
        feature_params: parameters of the ``mfcc_f0`` input (:class:`~speechgen.data.features.MfccF0` fields:
            20 MFCCs of 80 mel bands 0-8 kHz, n_fft 1024, hop 256, F0 50-500 Hz by default). The output hop is the
            features' hop; ``n_mels`` of this model is the number of input channels, ``n_mfcc + 2``.
        stage: "pulse" (supervised least-squares training of the pulse model; the output is the smooth pulse
            waveform) or "noise" (the pulse model frozen, GAN training of the noise model).
        lpc_order: order of the all-pole envelope fitted to the MFCC pseudo-inverse (20).
        envelope_method: "pinv" (the paper's pseudo-inverse of the mel filterbank) or "nonneg".
        pulse_length: samples per generated pulse (512: two periods down to 62.5 Hz at 16 kHz).
        pulse_hidden: hidden widths of the pulse model's MLP.
        noise_channels, noise_kernel_size, noise_dilations: the noise model's convolutions.
        disc_n_fft, disc_hop_length, disc_channels: the spectrogram discriminator's FFT layer and convolutions.
        discriminators: build the discriminator (False for inference).
    """

    feature = "mfcc_f0"
    onnx_unsupported = "its generator runs numpy signal analysis (pitch marks, LPC/LSF) that does not trace"

    def __init__(self, sample_rate: int = 16000, feature_params: dict[str, Any] | None = None,
                 stage: Stage = "noise", lpc_order: int = 20, envelope_method: Literal["pinv", "nonneg"] = "pinv",
                 pulse_length: int = 512, pulse_hidden: Sequence[int] = (256, 256), noise_channels: int = 32,
                 noise_kernel_size: int = 3, noise_dilations: Sequence[int] = (1, 2, 4, 8, 16, 32, 64, 128),
                 disc_n_fft: int = 512, disc_hop_length: int = 128, disc_channels: Sequence[int] = (32, 64, 128, 128),
                 discriminators: bool = True) -> None:
        field, product = self.upsampling({"feature_params": feature_params})
        super().__init__(sample_rate, feature_params, product, field)
        if stage not in ("pulse", "noise"):
            raise ConfigError(f"stage: expected 'pulse' or 'noise', got {stage!r}")
        self.stage = stage
        self.generator = ResGANGenerator(self.sample_rate, self.feature_params, lpc_order, envelope_method,
                                         pulse_length, pulse_hidden, noise_channels, noise_kernel_size,
                                         noise_dilations, use_noise=stage == "noise")
        if stage == "noise":
            self.generator.pulse_model.requires_grad_(False)  # trained in the pulse stage, then frozen
        self.discriminator = (SpectrogramDiscriminator(disc_n_fft, disc_hop_length, disc_channels)
                              if discriminators else None)

    @classmethod
    def upsampling(cls, kwargs: Mapping[str, Any]) -> tuple[str, int]:
        """The features' hop: one pulse-synchronous waveform sample per audio sample, no upsampling rates."""
        return cls.feature_hop(kwargs)

    @property
    def supervised_stage(self) -> bool:
        """True in the pulse stage (least-squares training of the pulse model)."""
        return self.stage == "pulse"

    @property
    def pretraining(self) -> bool:
        """True in the pulse stage: the noise model that finishes the vocoder comes after it."""
        return self.stage == "pulse"

    def pulse_targets(self, audio: torch.Tensor, analysis: Analysis) -> tuple[PitchMarks, torch.Tensor]:
        """Training pulses of audio ``[B, T]``: its excitation (inverse-filtered by ``1 / H``) cut at the pitch
        marks, each snapped to the largest excitation magnitude within half a period and kept when its two-period
        window lies inside the clip; returns ``(marks, windowed targets [M, pulse_length])``."""
        g = self.generator
        with torch.no_grad():
            exc = g.filter(audio, 1.0 / analysis.response)
        marks = analysis.marks
        t = audio.shape[-1]
        if len(marks):
            ex = exc.detach().cpu().numpy()
            radius = np.floor(marks.period / 2.0).astype(np.int64)
            r_max = int(radius.max())
            offs = np.arange(-r_max, r_max + 1)
            idx = np.clip(marks.position[:, None] + offs[None], 0, t - 1)
            mag = np.abs(ex[marks.batch[:, None], idx])
            mag[np.abs(offs)[None] > radius[:, None]] = -1.0
            pos = idx[np.arange(len(marks)), mag.argmax(1)]
            frame = np.clip(np.floor(pos / g.hop_length + 0.5).astype(np.int64), 0, analysis.inputs.shape[-1] - 1)
            snapped = PitchMarks(marks.batch, pos, frame, marks.period)
            half = np.ceil(marks.period).astype(np.int64)
            inside = (pos - half >= 0) & (pos + half < t)
            _, first = np.unique(marks.batch * t + pos, return_index=True)
            keep = np.zeros(len(marks), dtype=bool)
            keep[first] = True
            marks = snapped.select(keep & inside)
        period = torch.as_tensor(marks.period, device=audio.device, dtype=audio.dtype)
        target = gather_segments(exc, marks, g.pulse_length) * pulse_window(period, g.pulse_length)
        return marks, target

    def supervised_loss(self, audio: torch.Tensor, features: torch.Tensor,
                        ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """Least squares between the pulse model's windowed pulses and the training pulses of ``audio``:
        ``mean (pulse - target)²`` over the marks and samples (0, still differentiable, without voiced frames)."""
        if audio.ndim == 3:
            audio = audio[:, 0]
        an = self.generator.analyse(features)
        marks, target = self.pulse_targets(audio, an)
        if len(marks) == 0:
            loss = sum(p.sum() for p in self.generator.pulse_model.parameters()) * 0.0
        else:
            loss = (self.generator.pulses(an, marks) - target).pow(2).mean()
        return loss, {"pulse_mse": loss.detach(), "pulse_marks": audio.new_tensor(float(len(marks)))}
