"""Convolutional VAE and conditional VAE of Hsu, Zhang & Glass (2017), "Learning latent representations for
speech generation and transformation" (Interspeech), applied to fixed-size spectrogram images such as the
``2 × 128 × 128`` amplitude + phase STFT image.

Architecture (the paper's, generalised to any image size):

- encoder: a stack of convolution + batch norm + activation layers, flattened, an optional fully-connected hidden
  layer (+ batch norm + activation), then a linear layer to the Gaussian posterior ``(mu, logvar)``.
  With ``full_band=True`` (the paper) the first convolution spans every frequency bin (kernel ``height × 1``,
  stride 1: a learned per-frame projection) and the following ones run along time only (kernel ``1 × k``,
  stride 2); with ``full_band=False`` every layer is a 2-D ``k × k`` convolution of stride 2.
- decoder: the mirror image: a fully-connected hidden layer, a fully-connected layer to the last convolution's
  shape, transposed convolutions back to the input size, ``tanh`` output in [-1, 1].
- conditional VAE (``n_classes > 0``): a label embedding is concatenated to the encoder's flattened convolution
  features and to ``z`` at the decoder's input.

The paper's sizes (TIMIT, 20 frames × 200 bins of log magnitude): convolutions of 64 (1 × 200, i.e. full band),
128 and 256 filters (3 × 1 along time, stride 2), a 512-unit hidden layer, a 128-dimensional latent space, ReLU
and batch norm everywhere. ``ConvVAE()`` with the defaults is that network on a 2 × 128 × 128 image.

The building blocks :class:`ConvEncoder`, :class:`ConvDecoder` and :class:`ConvAutoEncoderBase` are shared with the
Wasserstein auto-encoder in :mod:`speechgen.models.wae`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from speechgen.errors import ConfigError
from speechgen.models.roles import LATENT_CODEC, SAMPLER

Activation = Literal["relu", "leaky_relu", "elu", "tanh"]
LOGVAR_RANGE = (-30.0, 20.0)


def make_activation(name: str) -> nn.Module:
    """The activation module called ``name`` (relu, leaky_relu (slope 0.2), elu, tanh)."""
    table = {"relu": nn.ReLU, "leaky_relu": lambda: nn.LeakyReLU(0.2), "elu": nn.ELU, "tanh": nn.Tanh}
    if name not in table:
        raise ConfigError(f"activation: expected one of {', '.join(table)}, got {name!r}")
    return table[name]()


def conv_output_shape(in_channels: int, height: int, width: int, widths: Sequence[int], kernel_size: int,
                      full_band: bool) -> tuple[int, int, int]:
    """Shape ``(C, H, W)`` after the encoder's convolutions; ConfigError (naming the kwarg) if it does not fit."""
    for name, v in (("in_channels", in_channels), ("height", height), ("width", width),
                    ("kernel_size", kernel_size)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ConfigError(f"{name}: must be a positive integer, got {v!r}")
    widths = [int(w) for w in widths]
    if not widths or min(widths) < 1:
        raise ConfigError(f"widths: expected at least one positive width, got {widths}")
    if kernel_size < 2:
        raise ConfigError(f"kernel_size: must be >= 2, got {kernel_size}")
    strided = len(widths) - 1 if full_band else len(widths)
    factor = 2 ** strided
    if width % factor:
        raise ConfigError(f"width: {width} is not divisible by 2^{strided} (one halving per strided layer of "
                          f"widths {widths})")
    if full_band:
        return widths[-1], 1, width // factor
    if height % factor:
        raise ConfigError(f"height: {height} is not divisible by 2^{strided} (one halving per layer of widths "
                          f"{widths})")
    return widths[-1], height // factor, width // factor


def _norm2d(channels: int, batch_norm: bool) -> nn.Module:
    return nn.BatchNorm2d(channels) if batch_norm else nn.Identity()


class ConvEncoder(nn.Module):
    """Image ``[B, C, H, W]`` (+ optional condition vector ``[B, cond_dim]``) → vector ``[B, out_dim]``.

    Convolutions as described in the module docstring, then ``flatten ⊕ cond → hidden → out_dim`` (no hidden
    layer when ``hidden == 0``). The output layer is linear.
    """

    def __init__(self, in_channels: int, height: int, width: int, widths: Sequence[int], kernel_size: int,
                 full_band: bool, hidden: int, out_dim: int, cond_dim: int = 0, batch_norm: bool = True,
                 activation: str = "relu") -> None:
        super().__init__()
        self.feat_shape = conv_output_shape(in_channels, height, width, widths, kernel_size, full_band)
        pad = (kernel_size - 1) // 2
        layers: list[nn.Module] = []
        cin = in_channels
        for i, w in enumerate(widths):
            if full_band and i == 0:
                conv = nn.Conv2d(cin, w, (height, 1), bias=not batch_norm)
            elif full_band:
                conv = nn.Conv2d(cin, w, (1, kernel_size), stride=(1, 2), padding=(0, pad), bias=not batch_norm)
            else:
                conv = nn.Conv2d(cin, w, kernel_size, stride=2, padding=pad, bias=not batch_norm)
            layers += [conv, _norm2d(w, batch_norm), make_activation(activation)]
            cin = w
        self.convs = nn.Sequential(*layers)
        flat = self.feat_shape[0] * self.feat_shape[1] * self.feat_shape[2]
        self.cond_dim = int(cond_dim)
        if hidden > 0:
            self.fc: nn.Module = nn.Sequential(
                nn.Linear(flat + self.cond_dim, hidden, bias=not batch_norm),
                nn.BatchNorm1d(hidden) if batch_norm else nn.Identity(), make_activation(activation))
            last = hidden
        else:
            self.fc, last = nn.Identity(), flat + self.cond_dim
        self.out = nn.Linear(last, out_dim)

    def forward(self, x: torch.Tensor, cond: torch.Tensor | None = None) -> torch.Tensor:
        h = self.convs(x).flatten(1)
        if self.cond_dim:
            if cond is None:
                raise ValueError("ConvEncoder: this encoder needs a condition vector")
            h = torch.cat([h, cond], dim=1)
        return self.out(self.fc(h))


class ConvDecoder(nn.Module):
    """Vector ``[B, in_dim]`` → image ``[B, out_channels, height, width]`` in [-1, 1]: the mirror of
    :class:`ConvEncoder` with the same ``widths`` (listed encoder-first)."""

    def __init__(self, in_dim: int, out_channels: int, height: int, width: int, widths: Sequence[int],
                 kernel_size: int, full_band: bool, hidden: int, batch_norm: bool = True,
                 activation: str = "relu") -> None:
        super().__init__()
        self.feat_shape = conv_output_shape(out_channels, height, width, widths, kernel_size, full_band)
        c, h, w = self.feat_shape
        fc: list[nn.Module] = []
        last = in_dim
        if hidden > 0:
            fc += [nn.Linear(in_dim, hidden, bias=not batch_norm),
                   nn.BatchNorm1d(hidden) if batch_norm else nn.Identity(), make_activation(activation)]
            last = hidden
        fc.append(nn.Linear(last, c * h * w, bias=not batch_norm))
        self.fc = nn.Sequential(*fc)
        self.fc_norm = nn.Sequential(_norm2d(c, batch_norm), make_activation(activation))
        pad, out_pad = (kernel_size - 1) // 2, kernel_size % 2
        layers: list[nn.Module] = []
        rev = [int(v) for v in widths][::-1]
        for i in range(len(rev)):
            cin = rev[i]
            last_layer = i == len(rev) - 1
            cout = out_channels if last_layer else rev[i + 1]
            if full_band and last_layer:
                layers.append(nn.ConvTranspose2d(cin, cout, (height, 1)))
            elif full_band:
                layers.append(nn.ConvTranspose2d(cin, cout, (1, kernel_size), stride=(1, 2), padding=(0, pad),
                                                 output_padding=(0, out_pad), bias=not batch_norm))
            else:
                layers.append(nn.ConvTranspose2d(cin, cout, kernel_size, stride=2, padding=pad,
                                                 output_padding=out_pad, bias=not batch_norm or last_layer))
            if not last_layer:
                layers += [_norm2d(cout, batch_norm), make_activation(activation)]
        self.deconvs = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        h = self.fc_norm(self.fc(z).view(len(z), *self.feat_shape))
        return torch.tanh(self.deconvs(h))


class ConvAutoEncoderBase(nn.Module):
    """What the VAE and WAE share: sizes, the label embedding, :meth:`decode` and :meth:`sample` (the generative
    :class:`~speechgen.models.roles.Sampler` role). Subclasses build ``self.encoder``."""

    roles = (SAMPLER, LATENT_CODEC)

    def __init__(self, in_channels: int, height: int, width: int, widths: Sequence[int], kernel_size: int,
                 full_band: bool, hidden: int, latent_dim: int, n_classes: int, label_dim: int,
                 batch_norm: bool, activation: str) -> None:
        super().__init__()
        for name, v in (("latent_dim", latent_dim), ("hidden", hidden), ("n_classes", n_classes),
                        ("label_dim", label_dim)):
            if isinstance(v, bool) or not isinstance(v, int) or v < (1 if name == "latent_dim" else 0):
                raise ConfigError(f"{name}: must be an integer >= {1 if name == 'latent_dim' else 0}, got {v!r}")
        if n_classes == 1:
            raise ConfigError("n_classes: use 0 for an unconditional model or >= 2 labels")
        if n_classes and label_dim < 1:
            raise ConfigError("label_dim: a conditional model (n_classes > 0) needs label_dim >= 1")
        make_activation(activation)
        self.n_classes, self.latent_dim = int(n_classes), int(latent_dim)
        self.out_shape: tuple[int, ...] = (int(in_channels), int(height), int(width))
        self.cond_dim = int(label_dim) if n_classes else 0
        self.label_embedding = nn.Embedding(n_classes, label_dim) if n_classes else None
        self.decoder = ConvDecoder(self.latent_dim + self.cond_dim, in_channels, height, width, widths,
                                   kernel_size, full_band, hidden, batch_norm, activation)

    # -- helpers -------------------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def _cond(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """Label embeddings ``[n, label_dim]`` (None for unconditional models, which ignore ``labels``)."""
        if self.label_embedding is None:
            return None
        if labels is None:
            raise ConfigError(f"labels: this model is conditional on {self.n_classes} labels; give one per item")
        labels = torch.as_tensor(labels, dtype=torch.long, device=self.label_embedding.weight.device).reshape(-1)
        if len(labels) != n:
            raise ConfigError(f"labels: expected {n}, got {len(labels)}")
        if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= self.n_classes):
            raise ConfigError(f"labels: must be in 0..{self.n_classes - 1}")
        return self.label_embedding(labels)

    # -- the model contract ----------------------------------------------------------------------------------------
    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Images ``[B, *out_shape]`` in [-1, 1] from latents ``[B, latent_dim]`` (and labels if conditional)."""
        cond = self._cond(labels, len(z))
        return self.decoder(z if cond is None else torch.cat([z, cond], dim=1))

    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
               condition: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` images from the prior: ``z ~ N(0, I)`` drawn on the CPU with ``generator`` (the global generator
        when None), then decoded on the model's device. ``labels [n]`` are required by conditional models."""
        if condition is not None:
            raise ConfigError("condition: this model takes no condition")
        z = torch.randn(int(n), self.latent_dim, generator=generator)
        return self.decode(z.to(self.device), labels)

    def embed(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:  # pragma: no cover
        """A point code ``[B, latent_dim]`` of each image (the posterior mean for a VAE)."""
        raise NotImplementedError


class ConvVAE(ConvAutoEncoderBase):
    """Convolutional (conditional) VAE of Hsu et al. (2017); see the module docstring.

    Args:
        in_channels: channels of the image (2: amplitude + phase; 1: amplitude only).
        height: frequency bins of the image.
        width: frames of the image.
        widths: output channels of each encoder convolution (the decoder mirrors them); the image's width (and
            with ``full_band=False`` its height) must be divisible by 2 per strided layer.
        kernel_size: kernel size ``k`` of the strided convolutions (``1 × k`` along time when ``full_band``).
        full_band: first convolution spans all ``height`` bins (the paper); False: all 2-D, stride 2.
        hidden: units of the fully-connected hidden layer of encoder and decoder (0: none).
        latent_dim: dimension of ``z``.
        n_classes: labels of a conditional VAE (0: unconditional).
        label_dim: size of the label embedding (conditional models only).
        batch_norm: batch norm after every hidden layer.
        activation: hidden activation ("relu", "leaky_relu", "elu" or "tanh").
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
        latent_dim: int = 128,
        n_classes: int = 0,
        label_dim: int = 16,
        batch_norm: bool = True,
        activation: Activation = "relu",
    ) -> None:
        super().__init__(in_channels, height, width, widths, kernel_size, full_band, hidden, latent_dim,
                         n_classes, label_dim, batch_norm, activation)
        self.encoder = ConvEncoder(in_channels, height, width, widths, kernel_size, full_band, hidden,
                                   2 * self.latent_dim, self.cond_dim, batch_norm, activation)

    def encode(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters ``(mu, logvar)``, each ``[B, latent_dim]`` (logvar clamped to [-30, 20])."""
        h = self.encoder(x, self._cond(labels, len(x)))
        mu, logvar = h.chunk(2, dim=1)
        return mu, logvar.clamp(*LOGVAR_RANGE)

    def embed(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """The posterior mean ``mu`` of each image."""
        return self.encode(x, labels)[0]

    @staticmethod
    def reparameterize(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
        """``z = mu + exp(logvar / 2) * eps`` with ``eps ~ N(0, I)`` from torch's global generator."""
        return mu + torch.exp(0.5 * logvar) * torch.randn_like(mu)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None,
                ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(recon, mu, logvar)``; ``z`` is sampled in training mode and is ``mu`` in eval mode."""
        mu, logvar = self.encode(x, labels)
        z = self.reparameterize(mu, logvar) if self.training else mu
        return self.decode(z, labels), mu, logvar
