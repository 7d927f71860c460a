"""Wasserstein auto-encoder (Tolstikhin, Bousquet, Gelly & Schölkopf 2018, "Wasserstein Auto-Encoders", ICLR)
on spectrogram images.

A deterministic encoder ``x → z`` and a decoder ``z → x`` built from the convolutional VAE's blocks
(:mod:`speechgen.models.vae`); training (see :mod:`speechgen.training.schemes.autoencoder`) minimises the reconstruction cost plus
a penalty pulling the distribution of codes ``Q_Z`` towards the prior ``P_Z = N(0, I)``:

- WAE-MMD: the maximum mean discrepancy between encoded codes and prior draws (no extra parameters);
- WAE-GAN: an adversarial latent critic (``latent_critic``, present only with ``adversarial=True``), an MLP
  that tells prior draws from codes. The paper's critic has 4 hidden layers of 512 units with ReLU.

Samples are decoded prior draws, as for the VAE.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from speechgen.errors import ConfigError
from speechgen.models.vae import Activation, ConvAutoEncoderBase, ConvEncoder


class LatentCritic(nn.Module):
    """MLP ``z [B, latent_dim] → logit [B]`` (ReLU hidden layers): high for prior draws, low for codes."""

    def __init__(self, latent_dim: int, hidden: Sequence[int]) -> None:
        super().__init__()
        hidden = [int(h) for h in hidden]
        if not hidden or min(hidden) < 1:
            raise ConfigError(f"critic_hidden: expected at least one positive layer size, got {hidden}")
        layers: list[nn.Module] = []
        last = latent_dim
        for h in hidden:
            layers += [nn.Linear(last, h), nn.ReLU()]
            last = h
        layers.append(nn.Linear(last, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.net(z).squeeze(1)


class WAE(ConvAutoEncoderBase):
    """Convolutional (conditional) Wasserstein auto-encoder; see the module docstring.

    Args:
        in_channels: channels of the image (2: amplitude + phase; 1: amplitude only).
        height: frequency bins of the image.
        width: frames of the image.
        widths: output channels of each encoder convolution (the decoder mirrors them).
        kernel_size: kernel size of the strided convolutions.
        full_band: first convolution spans all ``height`` bins (as in the VAE); False: all 2-D, stride 2.
        hidden: units of the fully-connected hidden layer of encoder and decoder (0: none).
        latent_dim: dimension of ``z`` (the paper used 8 for MNIST, 64 for CelebA).
        n_classes: labels of a conditional model (0: unconditional); the label embedding is fed to encoder and
            decoder as in the conditional VAE.
        label_dim: size of the label embedding.
        batch_norm: batch norm after every hidden layer of encoder and decoder.
        activation: hidden activation of encoder and decoder.
        adversarial: add the latent critic of WAE-GAN (``latent_critic``).
        critic_hidden: hidden layer sizes of the latent critic.
    """

    def __init__(
        self,
        in_channels: int = 2,
        height: int = 128,
        width: int = 128,
        widths: Sequence[int] = (64, 128, 256),
        kernel_size: int = 3,
        full_band: bool = True,
        hidden: int = 512,
        latent_dim: int = 64,
        n_classes: int = 0,
        label_dim: int = 16,
        batch_norm: bool = True,
        activation: Activation = "relu",
        adversarial: bool = False,
        critic_hidden: Sequence[int] = (512, 512, 512, 512),
    ) -> None:
        super().__init__(in_channels, height, width, widths, kernel_size, full_band, hidden, latent_dim,
                         n_classes, label_dim, batch_norm, activation)
        self.encoder = ConvEncoder(in_channels, height, width, widths, kernel_size, full_band, hidden,
                                   self.latent_dim, self.cond_dim, batch_norm, activation)
        self.adversarial = bool(adversarial)
        self.latent_critic = LatentCritic(self.latent_dim, critic_hidden) if adversarial else None

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The code ``z [B, latent_dim]`` of each image (deterministic)."""
        return self.encoder(x, self._cond(labels, len(x)))

    def embed(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Same as :meth:`encode` (the point code used by latent arithmetic)."""
        return self.encode(x, labels)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(recon, z)``."""
        z = self.encode(x, labels)
        return self.decode(z, labels), z
