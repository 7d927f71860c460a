"""Spoken digit-string recognizer: a small conv + bidirectional GRU acoustic model trained with CTC, the judge of
digit strings (docs/results.md, Digit strings).

The model takes raw waveforms ``[B, T]`` (and each clip's length in samples) and computes its own log-mel
(:class:`~speechgen.audio.spectral.LogMelSpectrogram`, natural log). Each clip's log-mel is normalised over its own
frames (padding left out): to zero mean and unit variance over all its bins ("utterance"), or per mel band ("band",
as cepstral mean and variance normalisation: the clip's long-term spectrum, which carries much of the voice and the
channel, is removed). Then:

- a conv front end over time (``conv_channels``, one 1-D conv per entry, kernel ``kernel_size``), each conv
  followed by layer norm (over channels, per frame) or batch norm, ReLU and dropout; the first conv strides by
  ``time_stride`` (2 halves the frames the GRU reads);
- a bidirectional GRU (``rnn_layers`` layers of ``rnn_width`` units each way) over packed sequences;
- a linear layer to 11 classes per frame: indices 0-9 are the digits 0-9 and index :data:`BLANK` (10) is the CTC
  blank.

Frames beyond a clip's length are zeroed after every layer and skipped by the GRU, and each clip is right-padded
with ``n_fft // 2`` zeros before the STFT, so a clip's outputs do not depend on how it is batched (up to float
round-off; batch norm uses its running statistics at inference).

Decoding (:meth:`CTCRecognizer.transcribe`) is greedy: the most probable class of each frame, repeats collapsed,
blanks dropped. Its probability is the exp of the mean log posterior of the chosen classes over the clip's frames
(the geometric mean of the best path's frame posteriors: 1.0 for a path chosen with certainty, independent of the
clip's length).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from speechgen.audio.spectral import LogMelSpectrogram
from speechgen.errors import ConfigError
from speechgen.models.roles import TRANSCRIBER

N_DIGITS = 10
BLANK = 10  #: the CTC blank's class index (the digits keep their own values 0-9 as indices)


def greedy_decode(log_probs: torch.Tensor, lengths: torch.Tensor, blank: int = BLANK,
                  ) -> list[tuple[list[int], float]]:
    """Best-path CTC decoding of ``log_probs [B, T, C]`` (``lengths [B]`` valid frames): per clip the classes
    left after collapsing repeats and dropping blanks, and the exp of the mean log posterior of the chosen frames
    (1.0 for a clip without frames)."""
    best, picked = log_probs.max(dim=-1)  # [B, T]
    out: list[tuple[list[int], float]] = []
    for b in range(log_probs.shape[0]):
        n = int(lengths[b])
        path = picked[b, :n].tolist()
        symbols = [c for i, c in enumerate(path) if c != blank and (i == 0 or c != path[i - 1])]
        prob = float(torch.exp(best[b, :n].double().mean())) if n else 1.0
        out.append((symbols, prob))
    return out


class ConvBlock(nn.Module):
    """1-D conv over time (``[B, C, T]``), norm over channels, ReLU, dropout."""

    def __init__(self, cin: int, cout: int, kernel_size: int, stride: int, norm: str, dropout: float) -> None:
        super().__init__()
        self.conv = nn.Conv1d(cin, cout, kernel_size, stride, kernel_size // 2, bias=norm != "batch")
        self.norm: nn.Module = nn.BatchNorm1d(cout) if norm == "batch" else nn.LayerNorm(cout)
        self.layer_norm = norm != "batch"
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.conv(x)
        y = self.norm(y.transpose(1, 2)).transpose(1, 2) if self.layer_norm else self.norm(y)
        return self.dropout(F.relu(y))


class CTCRecognizer(nn.Module):
    """Digit-string recognizer over log-mel computed from raw waveforms (see the module docstring).

    Args:
        sample_rate: rate of the input waveforms in Hz (callers resample other rates first).
        n_fft: STFT size (and window length) of the log-mel front end.
        hop_length: STFT hop in samples (160 at 16 kHz: 100 frames per second).
        n_mels: mel bands.
        fmin: lowest mel frequency in Hz.
        fmax: highest mel frequency in Hz (at most ``sample_rate / 2``).
        normalization: "utterance" (per clip over all bins and frames) or "band" (per clip and mel band).
        conv_channels: output channels of each conv layer of the front end (1 to 4 layers).
        kernel_size: odd kernel size (frames) of the front-end convs.
        time_stride: stride in time of the first conv (1 or 2; 2 halves the frames the GRU reads).
        norm: "layer" (layer norm over channels, per frame) or "batch" (batch norm) after each conv.
        rnn_layers: bidirectional GRU layers.
        rnn_width: GRU units per direction.
        dropout: dropout after each conv and GRU layer (training only).
    """

    roles = (TRANSCRIBER,)
    n_classes = N_DIGITS + 1
    blank = BLANK

    def __init__(
        self,
        sample_rate: int = 16000,
        n_fft: int = 512,
        hop_length: int = 160,
        n_mels: int = 80,
        fmin: float = 0.0,
        fmax: float = 8000.0,
        normalization: Literal["utterance", "band"] = "utterance",
        conv_channels: Sequence[int] = (128, 128),
        kernel_size: int = 5,
        time_stride: int = 2,
        norm: Literal["layer", "batch"] = "layer",
        rnn_layers: int = 2,
        rnn_width: int = 128,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        channels = tuple(int(c) for c in conv_channels)
        if not 1 <= len(channels) <= 4 or min(channels) < 1:
            raise ConfigError(f"conv_channels: expected 1 to 4 positive widths, got {list(channels)}")
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise ConfigError(f"kernel_size: expected an odd number >= 1, got {kernel_size}")
        if time_stride not in (1, 2):
            raise ConfigError(f"time_stride: expected 1 or 2, got {time_stride}")
        if normalization not in ("utterance", "band"):
            raise ConfigError(f"normalization: expected 'utterance' or 'band', got {normalization!r}")
        if norm not in ("layer", "batch"):
            raise ConfigError(f"norm: expected 'layer' or 'batch', got {norm!r}")
        if rnn_layers < 1 or rnn_width < 1:
            raise ConfigError(f"rnn_layers and rnn_width: must be >= 1, got {rnn_layers} and {rnn_width}")
        if not 0.0 <= dropout < 1.0:
            raise ConfigError(f"dropout: must be in [0, 1), got {dropout}")
        if fmax > sample_rate / 2:
            raise ConfigError(f"fmax: {fmax:g} Hz is above the Nyquist frequency of {sample_rate} Hz")
        if hop_length < 1 or n_fft < hop_length:
            raise ConfigError(f"hop_length: expected 1 <= hop_length <= n_fft, got {hop_length} (n_fft {n_fft})")
        self.sample_rate, self.n_fft, self.hop_length = int(sample_rate), int(n_fft), int(hop_length)
        self.time_stride, self.normalization = int(time_stride), normalization
        self.feature_params = dict(n_fft=n_fft, hop_length=hop_length, win_length=n_fft, n_mels=n_mels,
                                   fmin=float(fmin), fmax=float(fmax), eps=1e-5, log="natural")
        self.logmel = LogMelSpectrogram(sample_rate, n_fft, hop_length, n_fft, n_mels, fmin, fmax)
        blocks, cin = [], n_mels
        for i, c in enumerate(channels):
            blocks.append(ConvBlock(cin, c, kernel_size, self.time_stride if i == 0 else 1, norm, dropout))
            cin = c
        self.convs = nn.ModuleList(blocks)
        self.rnn = nn.GRU(cin, rnn_width, num_layers=rnn_layers, batch_first=True, bidirectional=True,
                          dropout=dropout if rnn_layers > 1 else 0.0)
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(2 * rnn_width, self.n_classes)

    # -- lengths -------------------------------------------------------------------------------------------------
    def frames(self, lengths: torch.Tensor) -> torch.Tensor:
        """Log-mel frames of clips of ``lengths`` samples (frames centred inside the clip)."""
        return torch.div(lengths, self.hop_length, rounding_mode="floor") + 1

    def output_lengths(self, frames: torch.Tensor) -> torch.Tensor:
        """Output frames (after the strided conv) of inputs of ``frames`` log-mel frames."""
        return torch.div(frames - 1, self.time_stride, rounding_mode="floor") + 1

    @staticmethod
    def _mask(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """Zero the frames of ``x [B, C, T]`` at and beyond each clip's length."""
        keep = torch.arange(x.shape[-1], device=x.device)[None] < lengths.to(x.device)[:, None]
        return x * keep[:, None].to(x.dtype)

    def _lengths(self, wave: torch.Tensor, lengths: torch.Tensor | None) -> torch.Tensor:
        if wave.ndim != 2:
            raise ConfigError(f"wave: expected [batch, samples], got shape {tuple(wave.shape)}")
        if lengths is None:
            return torch.full((wave.shape[0],), wave.shape[1], dtype=torch.long, device=wave.device)
        lengths = torch.as_tensor(lengths, dtype=torch.long, device=wave.device)
        if lengths.shape != (wave.shape[0],) or bool((lengths < 1).any()) or bool((lengths > wave.shape[1]).any()):
            raise ConfigError(f"lengths: expected {wave.shape[0]} values in 1..{wave.shape[1]}, got "
                              f"{lengths.tolist()}")
        return lengths

    # -- pieces (the training scheme augments between them) -------------------------------------------------------
    def log_mel(self, wave: torch.Tensor, lengths: torch.Tensor | None = None,
                ) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw (natural-log) mel magnitudes ``[B, n_mels, frames]`` of waveforms ``[B, T]`` (samples beyond each
        clip's length are zeroed) and each clip's frame count."""
        lengths = self._lengths(wave, lengths)
        keep = torch.arange(wave.shape[1], device=wave.device)[None] < lengths[:, None]
        wave = F.pad(wave * keep.to(wave.dtype), (0, self.n_fft // 2))
        return self.logmel(wave), self.frames(lengths)

    def normalize(self, x: torch.Tensor, frames: torch.Tensor) -> torch.Tensor:
        """Per-clip zero mean, unit variance over the valid frames of log-mel ``[B, F, T]`` and all its bins
        ("utterance") or each bin ("band"); padding frames set to 0."""
        keep = (torch.arange(x.shape[-1], device=x.device)[None] < frames[:, None]).to(x.dtype)[:, None]  # [B,1,T]
        dims = (1, 2) if self.normalization == "utterance" else (2,)
        count = keep.sum(dim=dims, keepdim=True) * (x.shape[1] if self.normalization == "utterance" else 1)
        mean = (x * keep).sum(dim=dims, keepdim=True) / count
        var = (((x - mean) * keep) ** 2).sum(dim=dims, keepdim=True) / (count - 1).clamp(min=1)
        return (x - mean) / (var.sqrt() + 1e-3) * keep

    def features(self, wave: torch.Tensor, lengths: torch.Tensor | None = None,
                 ) -> tuple[torch.Tensor, torch.Tensor]:
        """Normalised log-mel ``[B, n_mels, frames]`` and frame counts (``normalize(*log_mel(wave, lengths))``)."""
        x, frames = self.log_mel(wave, lengths)
        return self.normalize(x, frames), frames

    def logits_features(self, x: torch.Tensor, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Logits ``[B, T', 11]`` of normalised log-mel ``[B, n_mels, T]`` with ``frames`` valid frames, and the
        valid output frames ``[B]``."""
        out_len = self.output_lengths(frames)
        for block in self.convs:
            x = block(x)
            x = self._mask(x, out_len)
        packed = pack_padded_sequence(x.transpose(1, 2), out_len.cpu(), batch_first=True, enforce_sorted=False)
        y, _ = self.rnn(packed)
        y, _ = pad_packed_sequence(y, batch_first=True)  # [B, max(out_len), 2 * width]
        return self.head(self.dropout(y)), out_len

    # -- public API ----------------------------------------------------------------------------------------------
    def forward(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Log posteriors ``[B, T', 11]`` (log-softmax over the digits and the blank) of waveforms ``[B, T]`` at
        ``sample_rate`` (``lengths``: samples of each clip, default all ``T``) and the valid frames ``[B]``."""
        logits, out_len = self.logits_features(*self.features(wave, lengths))
        return logits.log_softmax(dim=-1), out_len

    @torch.no_grad()
    def transcribe(self, wave: torch.Tensor, lengths: torch.Tensor | None = None) -> list[tuple[list[int], float]]:
        """Greedy CTC transcription of waveforms ``[B, T]``: per clip its digits (a list of 0-9, possibly empty)
        and the probability of the chosen path (exp of the mean log posterior of its frames)."""
        log_probs, out_len = self(wave, lengths)
        return greedy_decode(log_probs, out_len, self.blank)
