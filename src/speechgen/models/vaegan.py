"""VAE-GAN (Larsen, Sønderby, Larochelle & Winther 2016, "Autoencoding beyond pixels using a learned similarity
metric", ICML) on fixed-size spectrogram images such as the amplitude channel of the ``128 × 128`` STFT image.

A VAE whose decoder is a GAN generator, with the GAN's discriminator serving as the similarity measure of the
reconstruction: instead of a pixel-wise likelihood ``p(x | z)``, the VAE's reconstruction term is a Gaussian
likelihood of the discriminator's intermediate representation ``Dis_l(x)`` (one convolution block's output),
i.e. a squared L2 distance between ``Dis_l(x)`` and ``Dis_l(x̃)`` for the reconstruction ``x̃ = Dec(Enc(x))``.
The training objective and its split between the three networks live in :mod:`speechgen.training.schemes.learned_similarity`.

The three networks are the repository's existing blocks, composed rather than rewritten:

- ``encoder`` (:class:`PosteriorEncoder`): :class:`speechgen.models.vae.ConvEncoder` (strided convolutions +
  batch norm + activation, an optional fully-connected hidden layer) mapping the image — plus a label embedding
  for a conditional model — to the Gaussian posterior ``(mu, logvar)``;
- ``generator`` (the decoder ``Dec``): :class:`speechgen.models.dcgan.DCGANGenerator` (``z`` ⊕ label embedding →
  linear projection → transposed convolutions → ``tanh``);
- ``discriminator``: :class:`speechgen.models.dcgan.DCGANDiscriminator`; it returns ``(logit, aux, features)``
  with one feature map per convolution block, and ``feature_layer`` picks which of them is ``Dis_l``.

The generator / discriminator pair is built by :class:`speechgen.models.dcgan.DCGAN` (same kwargs, same
validation, same DCGAN weight initialisation); only its two networks are kept. A conditional model
(``n_classes > 0``) gives the digit to all three networks: the encoder (an embedding concatenated to its
flattened convolution features), the generator (an embedding concatenated to ``z``) and the discriminator (the
projection or label-map conditioning of DCGAN).

The paper's CelebA networks (64 × 64): an encoder of three 5 × 5 stride-2 convolutions (64-128-256) and a 2048-unit
fully-connected layer, a mirrored decoder, and a discriminator of four convolutions and a 512-unit
fully-connected layer, batch norm and ReLU / LeakyReLU throughout, ``Dis_l`` a late convolution layer.
``VAEGAN()`` with the defaults is the ``vaegan.yaml`` recipe's network on a 1 × 128 × 128 image: 5 × 5 encoder
convolutions 64-128-256-512-512 + 1024 hidden units, a 128-d latent space, the DCGAN generator and discriminator
of ``cgan.yaml`` (5 stages, 64 → 1024 channels) and ``Dis_l`` the discriminator's fourth block
(8 × 8 × 512). Parameter counts: see the recipes' headers.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from speechgen.errors import ConfigError
from speechgen.models.dcgan import DCGAN, Norm
from speechgen.models.vae import LOGVAR_RANGE, Activation, ConvEncoder, ConvVAE
from speechgen.nn.conditioning import check_labels
from speechgen.models.roles import LATENT_CODEC, SAMPLER

DLabelConditioning = Literal["projection", "embedding"]


class PosteriorEncoder(nn.Module):
    """Image ``[B, C, H, W]`` (+ labels ``[B]``) → Gaussian posterior ``(mu, logvar)``, each ``[B, latent_dim]``.

    A :class:`~speechgen.models.vae.ConvEncoder` with ``2 · latent_dim`` outputs; a conditional encoder
    (``n_classes > 0``) concatenates a ``label_dim`` label embedding to the flattened convolution features.
    ``logvar`` is clamped to the VAE's range.
    """

    def __init__(self, channels: int, height: int, width: int, widths: Sequence[int], kernel_size: int,
                 full_band: bool, hidden: int, latent_dim: int, n_classes: int, label_dim: int,
                 batch_norm: bool, activation: str) -> None:
        super().__init__()
        self.label_embedding = nn.Embedding(n_classes, label_dim) if n_classes else None
        self.net = ConvEncoder(channels, height, width, widths, kernel_size, full_band, hidden, 2 * latent_dim,
                               label_dim if n_classes else 0, batch_norm, activation)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        cond = self.label_embedding(labels) if self.label_embedding is not None else None
        mu, logvar = self.net(x, cond).chunk(2, dim=1)
        return mu, logvar.clamp(*LOGVAR_RANGE)


def encoder_error(exc: ConfigError) -> ConfigError:
    """A :class:`~speechgen.models.vae.ConvEncoder` error renamed to the ``enc_`` kwarg at fault (``widths`` →
    ``enc_widths``; an image size not divisible by the encoder's strides is an ``enc_widths`` error too)."""
    msg = str(exc)
    for name in ("widths", "kernel_size", "activation"):
        if msg.startswith(f"{name}:"):
            return ConfigError(f"enc_{msg}")
    if msg.startswith(("height:", "width:")) and "not divisible" in msg:
        return ConfigError(f"enc_widths: {msg}")
    return exc


class VAEGAN(nn.Module):
    """VAE-GAN of Larsen et al. (2016): ``encoder``, ``generator`` (decoder) and ``discriminator``; see the module
    docstring. Implements the generative model contract (``n_classes``, ``out_shape``, ``latent_dim``,
    ``sample``) and the latent operations of :mod:`speechgen.inference.latent` (``embed``, ``decode``).

    Args:
        channels: channels of the image (1: the STFT image's amplitude; 2: amplitude + phase).
        height: image height (frequency bins); divisible by ``2^stages`` (and by ``2^len(enc_widths)`` unless
            ``enc_full_band``).
        width: image width (frames); divisible by ``2^stages`` and by 2 per strided encoder layer.
        latent_dim: dimension of ``z`` (posterior and standard-normal prior).
        n_classes: labels of a conditional model (0: unconditional); all three networks see the label.
        label_dim: size of the encoder's and the generator's label embeddings (conditional models).
        enc_widths: output channels of each encoder convolution.
        enc_kernel_size: kernel size of the encoder's strided convolutions.
        enc_full_band: the encoder's first convolution spans all ``height`` bins (Hsu et al.'s layout); False:
            every layer a 2-D ``k × k`` convolution of stride 2 (the paper's).
        enc_hidden: units of the encoder's fully-connected hidden layer (0: none).
        enc_batch_norm: batch norm after the encoder's hidden layers.
        enc_activation: the encoder's activation ("relu", "leaky_relu", "elu" or "tanh").
        stages: up-sampling stages of the generator = down-sampling stages (convolution blocks) of the
            discriminator; the generator starts from ``height / 2^stages × width / 2^stages``.
        base_width: generator channels at the finest stage (doubling per coarser stage, capped at ``max_width``).
        max_width: cap on the generator's channels.
        d_base_width: discriminator channels after its first convolution (doubling per block; None: base_width).
        d_max_width: cap on the discriminator's channels (None: max_width).
        d_norm: discriminator normalisation, "batch" (DCGAN's and the paper's), "layer", "instance" or "none"
            (required with the wgan-gp loss).
        d_conditioning: how the discriminator uses labels: "projection" or "embedding" (see
            :mod:`speechgen.models.dcgan`). Ignored when ``n_classes == 0``.
        feature_layer: which discriminator block's output is ``Dis_l``, the feature space of the reconstruction
            loss: an index into its ``stages`` blocks (0: the first, full-resolution one; negative counts from the
            last: -1 the last block, -2 the one before).
        init_std: standard deviation of the DCGAN initialisation of generator and discriminator (0: PyTorch's
            default); the encoder keeps PyTorch's default initialisation.
    """

    roles = (SAMPLER, LATENT_CODEC)

    def __init__(
        self,
        channels: int = 1,
        height: int = 128,
        width: int = 128,
        latent_dim: int = 128,
        n_classes: int = 0,
        label_dim: int = 16,
        enc_widths: Sequence[int] = (64, 128, 256, 512, 512),
        enc_kernel_size: int = 5,
        enc_full_band: bool = False,
        enc_hidden: int = 1024,
        enc_batch_norm: bool = True,
        enc_activation: Activation = "relu",
        stages: int = 5,
        base_width: int = 64,
        max_width: int = 1024,
        d_base_width: int | None = None,
        d_max_width: int | None = None,
        d_norm: Norm = "batch",
        d_conditioning: DLabelConditioning = "projection",
        feature_layer: int = -2,
        init_std: float = 0.02,
    ) -> None:
        super().__init__()
        if d_conditioning not in ("projection", "embedding"):
            raise ConfigError(f"d_conditioning: expected 'projection' or 'embedding', got {d_conditioning!r}")
        gan = DCGAN(channels=channels, height=height, width=width, latent_dim=latent_dim, n_classes=n_classes,
                    label_dim=label_dim, stages=stages, base_width=base_width, max_width=max_width,
                    d_base_width=d_base_width, d_max_width=d_max_width, d_norm=d_norm, d_conditioning=d_conditioning,
                    init_std=init_std)
        if isinstance(feature_layer, bool) or not isinstance(feature_layer, int) \
                or not -stages <= feature_layer < stages:
            raise ConfigError(f"feature_layer: must index one of the discriminator's {stages} blocks "
                              f"({-stages}..{stages - 1}), got {feature_layer!r}")
        if isinstance(enc_hidden, bool) or not isinstance(enc_hidden, int) or enc_hidden < 0:
            raise ConfigError(f"enc_hidden: must be an integer >= 0, got {enc_hidden!r}")
        try:
            self.encoder = PosteriorEncoder(channels, height, width, enc_widths, enc_kernel_size, enc_full_band,
                                            enc_hidden, latent_dim, n_classes, label_dim, enc_batch_norm,
                                            enc_activation)
        except ConfigError as exc:
            raise encoder_error(exc) from exc
        self.generator = gan.generator
        self.discriminator = gan.discriminator
        self.n_classes, self.latent_dim = int(n_classes), int(latent_dim)
        self.out_shape: tuple[int, ...] = tuple(gan.out_shape)
        self.stages = int(stages)
        self.feature_index = int(feature_layer) % self.stages
        self.d_norm = d_norm

    # -- helpers -------------------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def check_labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """Labels as a LongTensor ``[n]`` on the model's device (None for unconditional models, which ignore
        ``labels``); ConfigError naming ``labels`` when they are missing, miscounted or out of range."""
        return check_labels(labels, n, self.n_classes, self.device)

    # -- the three networks --------------------------------------------------------------------------------------
    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters ``(mu, logvar)``, each ``[B, latent_dim]`` (logvar clamped to [-30, 20])."""
        return self.encoder(x, self.check_labels(labels, len(x)))

    def embed(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The posterior mean ``mu`` of each image (the point code of latent operations)."""
        return self.encode(x, labels)[0]

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images ``[B, *out_shape]`` in [-1, 1] from latents ``z [B, latent_dim]`` (the generator)."""
        return self.generator(z, self.check_labels(labels, len(z)))

    def reconstruct(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Decode each image's posterior mean."""
        return self.decode(self.embed(x, labels), labels)

    def discriminate(self, x: torch.Tensor, labels: torch.Tensor | None = None,
                     ) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
        """``(logit [B], None, features)`` of the discriminator: one feature map per convolution block."""
        return self.discriminator(x, self.check_labels(labels, len(x)))

    def features(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """``Dis_l(x)``: the output of discriminator block ``feature_layer``, ``[B, C_l, H_l, W_l]``."""
        return self.discriminate(x, labels)[2][self.feature_index]

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None,
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(recon, mu, logvar)``; ``z`` is sampled in training mode and is ``mu`` in eval mode."""
        mu, logvar = self.encode(x, labels)
        z = ConvVAE.reparameterize(mu, logvar) if self.training else mu
        return self.decode(z, labels), mu, logvar

    # -- the model contract --------------------------------------------------------------------------------------
    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
               condition: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` images from the prior: ``z ~ N(0, I)`` drawn on the CPU with ``generator`` (torch's global
        generator when None), moved to the model's device and decoded. ``labels [n]`` are required by conditional
        models; there is no condition image."""
        if condition is not None:
            raise ConfigError("condition: this model takes no condition")
        n = int(n)
        lab = self.check_labels(labels, n)
        z = torch.randn(n, self.latent_dim, generator=generator)
        return self.generator(z.to(self.device), lab)
