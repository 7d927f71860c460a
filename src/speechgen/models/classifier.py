"""Digit classifier: a small ResNeXt-style 2-D CNN over log-mel, used as the judge (docs/results.md, The judge).

The model takes raw 16 kHz waveforms ``[B, T]`` and computes its own log-mel (torch
:class:`~speechgen.audio.spectral.LogMelSpectrogram` with the log-mel defaults of docs/data.md, Features:
80 bands, n_fft 1024, hop 256, 0-8 kHz → 63 frames per 1-s clip). Each utterance's log-mel is normalised to zero
mean and unit variance over all its bins and frames ("utterance"), which makes the judge insensitive to gain, or by
fixed constants ("fixed"). Then: a strided 3×3 stem, stages of residual blocks (grouped 3×3 convs when
``groups > 1``: ResNeXt), global average pooling → the embedding ``[B, widths[-1]]`` → dropout → linear logits.

Everything is computed per clip (batch statistics are never used at inference), so results do not depend on how
clips are batched (up to float round-off).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from speechgen.audio.spectral import LogMelSpectrogram
from speechgen.errors import ConfigError
from speechgen.models.roles import CLASSIFIER


class ResBlock(nn.Module):
    """Two 3×3 convs (optionally grouped) with batch norm and an identity / 1×1 projection shortcut."""

    def __init__(self, cin: int, cout: int, stride: int = 1, groups: int = 1) -> None:
        super().__init__()
        g = groups if cin % groups == 0 and cout % groups == 0 else 1
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, groups=g, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, groups=g, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.mix = nn.Conv2d(cout, cout, 1, bias=False) if g > 1 else nn.Identity()  # ResNeXt: mix the groups
        self.short = (
            nn.Identity() if stride == 1 and cin == cout
            else nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
        )
        self.act = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.act(self.bn1(self.conv1(x)))
        y = self.bn2(self.mix(self.conv2(y)))
        return self.act(y + self.short(x))


class DigitClassifier(nn.Module):
    """Spoken-digit classifier over log-mel computed from raw waveforms.

    Args:
        n_classes: number of output classes (10 digits).
        sample_rate: rate of the input waveforms in Hz (the judge resamples other rates before calling).
        n_fft: STFT size of the log-mel front end.
        hop_length: STFT hop in samples.
        n_mels: mel bands.
        fmin: lowest mel frequency in Hz.
        fmax: highest mel frequency in Hz (at most ``sample_rate / 2``).
        normalization: "utterance" (zero mean, unit variance per clip over bins and frames) or "fixed"
            (``(logmel - norm_mean) / norm_std``).
        norm_mean: offset of the "fixed" normalisation.
        norm_std: scale of the "fixed" normalisation.
        widths: channels of each stage; the embedding dimension is ``widths[-1]``.
        blocks: residual blocks per stage (same length as ``widths``).
        groups: groups of the 3×3 convs (cardinality; 1 = plain ResNet blocks).
        stem_stride: stride of the stem conv (2 halves the bands and frames before the first stage).
        dropout: dropout before the output layer (training only).
        temperature: softmax temperature of :meth:`probs_and_features` (logits / temperature; fitted on held-out
            voices when the judge is shipped so that its probabilities are calibrated; never changes the argmax).
    """

    roles = (CLASSIFIER,)

    def __init__(
        self,
        n_classes: int = 10,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        hop_length: int = 256,
        n_mels: int = 80,
        fmin: float = 0.0,
        fmax: float = 8000.0,
        normalization: Literal["utterance", "fixed"] = "utterance",
        norm_mean: float = -4.0,
        norm_std: float = 4.0,
        widths: Sequence[int] = (32, 64, 128),
        blocks: Sequence[int] = (1, 2, 2),
        groups: int = 1,
        stem_stride: int = 2,
        dropout: float = 0.2,
        temperature: float = 1.0,
    ) -> None:
        super().__init__()
        widths, blocks = tuple(int(w) for w in widths), tuple(int(b) for b in blocks)
        if not widths or len(widths) != len(blocks):
            raise ConfigError(f"widths/blocks: need the same non-zero number of stages, got {widths} and {blocks}")
        if min(widths) < 1 or min(blocks) < 1:
            raise ConfigError(f"widths/blocks: must be positive, got {widths} and {blocks}")
        if normalization not in ("utterance", "fixed"):
            raise ConfigError(f"normalization: expected 'utterance' or 'fixed', got {normalization!r}")
        if fmax > sample_rate / 2:
            raise ConfigError(f"fmax: {fmax:g} Hz is above the Nyquist frequency of {sample_rate} Hz")
        if not temperature > 0:
            raise ConfigError(f"temperature: must be > 0, got {temperature}")
        self.temperature = float(temperature)
        if n_classes < 2 or groups < 1 or stem_stride < 1 or not 0.0 <= dropout < 1.0:
            raise ConfigError("n_classes >= 2, groups >= 1, stem_stride >= 1 and 0 <= dropout < 1 are required")
        self.sample_rate, self.n_classes = int(sample_rate), int(n_classes)
        self.feature_params = dict(n_fft=n_fft, hop_length=hop_length, win_length=n_fft, n_mels=n_mels,
                                   fmin=float(fmin), fmax=float(fmax), eps=1e-5, log="natural")
        self.normalization, self.norm_mean, self.norm_std = normalization, float(norm_mean), float(norm_std)
        self.logmel = LogMelSpectrogram(sample_rate, n_fft, hop_length, n_fft, n_mels, fmin, fmax)
        self.stem = nn.Sequential(
            nn.Conv2d(1, widths[0], 3, stem_stride, 1, bias=False), nn.BatchNorm2d(widths[0]), nn.ReLU(inplace=True)
        )
        layers: list[nn.Module] = []
        cin = widths[0]
        for i, (w, n) in enumerate(zip(widths, blocks)):
            for j in range(n):
                layers.append(ResBlock(cin, w, stride=2 if (i > 0 and j == 0) else 1, groups=groups))
                cin = w
        self.stages = nn.Sequential(*layers)
        self.embed_dim = widths[-1]
        self.dropout = nn.Dropout(dropout)
        self.head = nn.Linear(self.embed_dim, n_classes)

    # -- pieces (the training scheme augments between them) ---------------------------------------------------
    def log_mel(self, wave: torch.Tensor) -> torch.Tensor:
        """Raw (natural-log) mel magnitudes ``[B, n_mels, frames]`` of waveforms ``[B, T]``."""
        if wave.ndim != 2:
            raise ConfigError(f"wave: expected [batch, samples], got shape {tuple(wave.shape)}")
        return self.logmel(wave)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Normalised log-mel ``[B, 1, n_mels, frames]`` of raw log-mel ``[B, n_mels, frames]``."""
        if self.normalization == "utterance":
            mean = x.mean(dim=(1, 2), keepdim=True)
            std = x.std(dim=(1, 2), keepdim=True)
            x = (x - mean) / (std + 1e-3)
        else:
            x = (x - self.norm_mean) / self.norm_std
        return x.unsqueeze(1)

    def features(self, wave: torch.Tensor) -> torch.Tensor:
        """Normalised log-mel ``[B, 1, n_mels, frames]`` of waveforms ``[B, T]`` (``normalize(log_mel(wave))``)."""
        return self.normalize(self.log_mel(wave))

    def embed_features(self, x: torch.Tensor) -> torch.Tensor:
        """Embedding ``[B, D]`` (global average pool of the last stage) of normalised log-mel ``[B, 1, F, T]``."""
        return self.stages(self.stem(x)).mean(dim=(2, 3))

    def classify_features(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, n_classes]`` of normalised log-mel."""
        return self.head(self.dropout(self.embed_features(x)))

    # -- public API ----------------------------------------------------------------------------------------------
    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, n_classes]`` of waveforms ``[B, T]`` at ``sample_rate``."""
        return self.classify_features(self.features(wave))

    def embed(self, wave: torch.Tensor) -> torch.Tensor:
        """Penultimate features ``[B, embed_dim]``."""
        return self.embed_features(self.features(wave))

    def probs_and_features(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Softmax probabilities ``[B, n_classes]`` (at ``temperature``) and embeddings ``[B, embed_dim]``."""
        f = self.embed_features(self.features(wave))
        return torch.softmax(self.head(self.dropout(f)) / self.temperature, dim=-1), f
