"""DCGAN (Radford, Metz & Chintala 2016) generator and discriminator for fixed-size images such as the
``2 × 128 × 128`` amplitude + phase STFT image, with the conditioning used by the spectrogram GAN family:

- **generator**: ``z`` (``latent_dim``, standard normal) — concatenated with a label embedding when
  ``n_classes > 0`` (conditional GAN, Mirza & Osindero 2014) — is projected by a linear layer to a
  ``width_0 × (H / 2^stages) × (W / 2^stages)`` map (4 × 4 for 128 × 128 and 5 stages), then ``stages``
  transposed convolutions (kernel 4, stride 2, padding 1: each doubles the size) with batch norm + ReLU, and a
  ``tanh`` output in [-1, 1]. With ``condition_channels > 0`` (conditional-WGAN-GP exp3/exp4: the phase image of a
  real clip) a small strided-convolution encoder turns the condition image into feature maps at every
  resolution ``H/2 … H/2^stages``; each transposed convolution's input is concatenated with the encoder's map of
  the same size (U-Net-style skips), so the generator sees the condition at full detail.
- **discriminator** (critic): ``stages`` strided convolutions (kernel 4, stride 2, padding 1) with LeakyReLU(0.2);
  no normalisation after the first, ``d_norm`` after the others ("batch" as in DCGAN for the non-saturating GAN;
  "layer" (GroupNorm with one group), "instance" or "none" for a WGAN-GP critic: batch norm is not allowed with a
  gradient penalty), then a linear layer from the flattened last map to one logit. The condition image is
  concatenated to the input. Labels enter by ``d_conditioning``: "projection" (Miyato & Koyama 2018: the logit gets
  ``<embed(y), sum_xy phi(x)>`` over the last map's globally summed features), "embedding" (a learned
  ``H × W`` map per label, concatenated to the input as one more channel) or "none" (the AC-GAN layout: the
  discriminator sees no label). ``n_aux_classes > 0`` adds an auxiliary classifier head (a linear layer on the
  same flattened features) for the controllable (AC-GAN style) GAN. The discriminator returns
  ``(logit [B], aux_logits [B, n_aux_classes] or None, features)``, ``features`` being the output of every
  convolution block (for feature matching).

**arch "mlp"** (frame-level GANs, e.g. of 9-frame log-mel windows, which the 4x4-start up/down-sampling cannot
fit): both networks are multi-layer perceptrons on the flattened ``C·H·W`` image, any ``height`` and ``width``. The
generator maps ``z`` (⊕ label embedding) through ``stages`` hidden layers (linear + batch norm + ReLU) of
``min(base_width·2^i, max_width)`` units (i = 0 next to the latent, widest next to the data) and a linear layer to
``C·H·W`` values, ``tanh``. The discriminator mirrors it: ``stages`` hidden layers (linear, ``d_norm`` — "batch",
"layer" or "none" — after every layer but the first, LeakyReLU(0.2)), widest next to the data
(``d_base_width``/``d_max_width``), then one logit. Labels enter as in the convolutional discriminator:
"projection" (on the last hidden layer), "embedding" (a learned ``H·W`` vector per label concatenated to the
flattened input) or "none"; ``n_aux_classes`` adds the auxiliary head on the last hidden layer; ``features`` are
the hidden layers' outputs. No condition image (``condition_channels`` must be 0).

**SpecGAN** (Donahue, McAuley & Puckette 2019) is this network with ``kernel_size=5`` (5 × 5 kernels, stride 2,
padding 2 and, in the generator, output padding 1), ``g_norm="none"`` and ``d_norm="none"`` on the 1 × 128 × 128
normalised log-magnitude image (feature ``specgan_image``): 19 065 345 generator and 17 427 969 discriminator
parameters at the paper size, the same as WaveGAN's (25 = 5 × 5 weights per kernel and channel pair).

Widths: stage ``i`` counted from the full-resolution end has ``min(base_width · 2^i, max_width)`` channels, in the
generator (mirrored) and in the discriminator (``d_base_width`` / ``d_max_width``, default the generator's). The
paper-size network on 128 × 128 (``base_width=64, max_width=1024, stages=5``: 4×4×1024 → … → 64×64×64 → 128×128)
is SpecGAN's / DCGAN's layout: 12.8 M generator and 11.2 M discriminator parameters (unconditional, 2 channels;
13.6 M + 11.2 M with 10 labels, 17.1 M + 11.2 M with a 1-channel condition image). The CPU size of the recipes
(``base_width=16, max_width=256``) has 1.3 M + 0.7 M, the tests' tiny size a few thousand.

:class:`DCGAN` holds both networks (``.generator``, ``.discriminator``) and implements the generative model
:class:`~speechgen.models.roles.Sampler` role (``n_classes``, ``out_shape``, ``latent_dim``, ``sample``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from speechgen.errors import ConfigError
from speechgen.nn.conditioning import check_labels
from speechgen.models.roles import SAMPLER

Norm = Literal["batch", "layer", "instance", "none"]
GNorm = Literal["batch", "none"]
G_NORMS: tuple[str, ...] = ("batch", "none")
DConditioning = Literal["projection", "embedding", "none"]
Arch = Literal["conv", "mlp"]
NORMS: tuple[str, ...] = ("batch", "layer", "instance", "none")
D_CONDITIONING: tuple[str, ...] = ("projection", "embedding", "none")
ARCHS: tuple[str, ...] = ("conv", "mlp")


def stage_widths(base_width: int, max_width: int, stages: int) -> list[int]:
    """Channels of each stage from the full-resolution end: ``min(base_width · 2^i, max_width)``."""
    return [min(int(base_width) * 2 ** i, int(max_width)) for i in range(int(stages))]


def make_norm(kind: str, channels: int) -> nn.Module:
    """The 2-D normalisation layer ``kind`` ("batch", "layer" (one-group GroupNorm), "instance", "none")."""
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels)
    if kind == "instance":
        return nn.InstanceNorm2d(channels, affine=True)
    if kind == "none":
        return nn.Identity()
    raise ConfigError(f"d_norm: expected one of {', '.join(NORMS)}, got {kind!r}")


def conv_padding(kernel_size: int) -> int:
    """Padding of a stride-2 convolution of kernel ``kernel_size`` (4 or 5) that halves an even size."""
    return (int(kernel_size) - 1) // 2


def transposed_padding(kernel_size: int) -> tuple[int, int]:
    """``(padding, output_padding)`` of a stride-2 transposed convolution of kernel ``kernel_size`` that doubles
    the size (``(1, 0)`` for DCGAN's 4, ``(2, 1)`` for SpecGAN's 5)."""
    p = (int(kernel_size) - 1) // 2
    return p, 2 * p - (int(kernel_size) - 2)


def init_dcgan_(module: nn.Module, std: float) -> None:
    """DCGAN initialisation: conv / linear weights ``N(0, std)``, norm scales ``N(1, std)``, biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.GroupNorm, nn.InstanceNorm2d, nn.LayerNorm)) \
                and m.weight is not None:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)


class ConditionEncoder(nn.Module):
    """Condition image ``[B, C, H, W]`` → feature maps at ``H/2, H/4, …, H/2^stages`` (full resolution first):
    strided convolutions (kernel 4, stride 2, padding 1) + LeakyReLU(0.2), ``widths[k]`` channels at ``H/2^(k+1)``."""

    def __init__(self, in_channels: int, widths: Sequence[int], kernel_size: int = 4) -> None:
        super().__init__()
        blocks = []
        cin = in_channels
        for w in widths:
            blocks.append(nn.Sequential(nn.Conv2d(cin, w, kernel_size, 2, conv_padding(kernel_size)),
                                        nn.LeakyReLU(0.2)))
            cin = w
        self.blocks = nn.ModuleList(blocks)

    def forward(self, c: torch.Tensor) -> list[torch.Tensor]:
        out = []
        for block in self.blocks:
            c = block(c)
            out.append(c)
        return out


class DCGANGenerator(nn.Module):
    """``z [B, latent_dim]`` (+ labels, + condition image) → image ``[B, out_channels, height, width]`` in [-1, 1].

    ``widths``: channels of the maps at sizes ``H/2^stages … H/2`` (coarsest first; ``stages = len(widths)``).
    ``condition_widths``: the condition encoder's channels at ``H/2 … H/2^stages`` (finest first; empty: none).
    ``kernel_size``: of every (transposed) convolution (4: DCGAN, 5: SpecGAN). ``norm``: "batch" (DCGAN) or "none"
    (SpecGAN; the layers then carry biases).
    """

    def __init__(self, out_channels: int, height: int, width: int, latent_dim: int, widths: Sequence[int],
                 n_classes: int = 0, label_dim: int = 0, condition_channels: int = 0,
                 condition_widths: Sequence[int] = (), kernel_size: int = 4, norm: str = "batch") -> None:
        super().__init__()
        widths = [int(w) for w in widths]
        stages = len(widths)
        self.h0, self.w0, self.width0 = height >> stages, width >> stages, widths[0]
        self.label_embedding = nn.Embedding(n_classes, label_dim) if n_classes else None
        in_dim = latent_dim + (label_dim if n_classes else 0)
        bn = norm == "batch"
        self.project = nn.Linear(in_dim, widths[0] * self.h0 * self.w0, bias=not bn)
        self.project_act = nn.Sequential(nn.BatchNorm2d(widths[0]) if bn else nn.Identity(), nn.ReLU())
        self.encoder = (ConditionEncoder(condition_channels, condition_widths, kernel_size)
                        if condition_channels else None)
        pad, out_pad = transposed_padding(kernel_size)
        skips = list(condition_widths)[::-1] if condition_channels else [0] * stages  # coarsest first
        blocks = []
        for i in range(stages):
            last = i == stages - 1
            cout = out_channels if last else widths[i + 1]
            layers: list[nn.Module] = [nn.ConvTranspose2d(widths[i] + skips[i], cout, kernel_size, 2, pad,
                                                          output_padding=out_pad, bias=last or not bn)]
            if not last:
                layers += [nn.BatchNorm2d(cout), nn.ReLU()] if bn else [nn.ReLU()]
            blocks.append(nn.Sequential(*layers))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                condition: torch.Tensor | None = None) -> torch.Tensor:
        h = z
        if self.label_embedding is not None:
            if labels is None:
                raise ConfigError("labels: this generator is conditional; give one label per item")
            h = torch.cat([h, self.label_embedding(labels)], dim=1)
        h = self.project_act(self.project(h).view(len(z), self.width0, self.h0, self.w0))
        skips: list[torch.Tensor] = []
        if self.encoder is not None:
            if condition is None:
                raise ConfigError("condition: this generator needs a condition image")
            skips = self.encoder(condition)[::-1]
        for i, block in enumerate(self.blocks):
            if skips:
                h = torch.cat([h, skips[i]], dim=1)
            h = block(h)
        return torch.tanh(h)


class DCGANDiscriminator(nn.Module):
    """Image ``[B, in_channels, H, W]`` (+ labels, + condition image) → ``(logit [B], aux or None, features)``.

    ``widths``: channels after each strided convolution (finest first; ``stages = len(widths)``); ``norm`` after
    every convolution but the first; ``conditioning`` / ``n_aux_classes`` as in the module docstring;
    ``kernel_size`` of every convolution (4: DCGAN, 5: SpecGAN).
    """

    def __init__(self, in_channels: int, height: int, width: int, widths: Sequence[int], norm: str = "batch",
                 n_classes: int = 0, conditioning: str = "projection", condition_channels: int = 0,
                 n_aux_classes: int = 0, kernel_size: int = 4) -> None:
        super().__init__()
        widths = [int(w) for w in widths]
        stages = len(widths)
        self.height, self.width = height, width
        self.n_classes = n_classes if conditioning != "none" else 0
        self.conditioning = conditioning
        self.condition_channels = condition_channels
        self.label_map = (nn.Embedding(n_classes, height * width)
                          if n_classes and conditioning == "embedding" else None)
        cin = in_channels + condition_channels + (1 if self.label_map is not None else 0)
        blocks = []
        k, p = kernel_size, conv_padding(kernel_size)
        for i, w in enumerate(widths):
            if i == 0:
                blocks.append(nn.Sequential(nn.Conv2d(cin, w, k, 2, p), nn.LeakyReLU(0.2)))
            else:
                blocks.append(nn.Sequential(nn.Conv2d(cin, w, k, 2, p, bias=norm == "none"), make_norm(norm, w),
                                            nn.LeakyReLU(0.2)))
            cin = w
        self.blocks = nn.ModuleList(blocks)
        flat = widths[-1] * (height >> stages) * (width >> stages)
        self.out = nn.Linear(flat, 1)
        self.projection = (nn.Embedding(n_classes, widths[-1])
                           if n_classes and conditioning == "projection" else None)
        if self.projection is not None:  # the label term starts at 0 (N(0, 1) rows would swamp the logit)
            nn.init.zeros_(self.projection.weight)
        self.aux = nn.Linear(flat, n_aux_classes) if n_aux_classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, condition: torch.Tensor | None = None,
                ) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
        if self.n_classes and labels is None:
            raise ConfigError("labels: this discriminator is conditional; give one label per item")
        parts = [x]
        if self.condition_channels:
            if condition is None:
                raise ConfigError("condition: this discriminator needs the condition image")
            parts.append(condition)
        if self.label_map is not None:
            parts.append(self.label_map(labels).view(len(x), 1, self.height, self.width))
        h = torch.cat(parts, dim=1) if len(parts) > 1 else x
        features = []
        for block in self.blocks:
            h = block(h)
            features.append(h)
        flat = h.flatten(1)
        logit = self.out(flat).squeeze(1)
        if self.projection is not None:
            logit = logit + (self.projection(labels) * h.sum(dim=(2, 3))).sum(1)
        aux = self.aux(flat) if self.aux is not None else None
        return logit, aux, features


class MLPGenerator(nn.Module):
    """``z [B, latent_dim]`` (+ labels) → image ``[B, out_channels, height, width]`` in [-1, 1] by an MLP.

    ``widths``: units of the hidden layers from the latent side (linear + batch norm + ReLU each; no batch norm
    with ``norm="none"``).
    """

    def __init__(self, out_channels: int, height: int, width: int, latent_dim: int, widths: Sequence[int],
                 n_classes: int = 0, label_dim: int = 0, norm: str = "batch") -> None:
        super().__init__()
        self.out_shape = (int(out_channels), int(height), int(width))
        self.label_embedding = nn.Embedding(n_classes, label_dim) if n_classes else None
        cin = latent_dim + (label_dim if n_classes else 0)
        layers: list[nn.Module] = []
        bn = norm == "batch"
        for w in widths:
            layers += [nn.Linear(cin, int(w), bias=not bn), nn.BatchNorm1d(int(w)) if bn else nn.Identity(),
                       nn.ReLU()]
            cin = int(w)
        layers.append(nn.Linear(cin, out_channels * height * width))
        self.net = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                condition: torch.Tensor | None = None) -> torch.Tensor:
        h = z
        if self.label_embedding is not None:
            if labels is None:
                raise ConfigError("labels: this generator is conditional; give one label per item")
            h = torch.cat([h, self.label_embedding(labels)], dim=1)
        return torch.tanh(self.net(h)).view(len(z), *self.out_shape)


def _norm1d(kind: str, units: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm1d(units)
    if kind == "layer":
        return nn.LayerNorm(units)
    if kind == "none":
        return nn.Identity()
    raise ConfigError(f"d_norm: the 'mlp' architecture takes 'batch', 'layer' or 'none', got {kind!r}")


class MLPDiscriminator(nn.Module):
    """Image ``[B, in_channels, H, W]`` (+ labels) → ``(logit [B], aux or None, features)`` by an MLP.

    ``widths``: units of the hidden layers from the data side; ``norm`` after every hidden layer but the first;
    ``conditioning`` / ``n_aux_classes`` as in :class:`DCGANDiscriminator`.
    """

    def __init__(self, in_channels: int, height: int, width: int, widths: Sequence[int], norm: str = "batch",
                 n_classes: int = 0, conditioning: str = "projection", n_aux_classes: int = 0) -> None:
        super().__init__()
        widths = [int(w) for w in widths]
        self.n_classes = n_classes if conditioning != "none" else 0
        self.label_map = (nn.Embedding(n_classes, height * width)
                          if n_classes and conditioning == "embedding" else None)
        cin = in_channels * height * width + (height * width if self.label_map is not None else 0)
        blocks = []
        for i, w in enumerate(widths):
            norm_layer = nn.Identity() if i == 0 else _norm1d(norm, w)
            blocks.append(nn.Sequential(nn.Linear(cin, w, bias=i == 0 or norm == "none"), norm_layer,
                                        nn.LeakyReLU(0.2)))
            cin = w
        self.blocks = nn.ModuleList(blocks)
        self.out = nn.Linear(cin, 1)
        self.projection = (nn.Embedding(n_classes, cin)
                           if n_classes and conditioning == "projection" else None)
        if self.projection is not None:  # the label term starts at 0
            nn.init.zeros_(self.projection.weight)
        self.aux = nn.Linear(cin, n_aux_classes) if n_aux_classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None, condition: torch.Tensor | None = None,
                ) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
        if self.n_classes and labels is None:
            raise ConfigError("labels: this discriminator is conditional; give one label per item")
        h = x.flatten(1)
        if self.label_map is not None:
            h = torch.cat([h, self.label_map(labels)], dim=1)
        features = []
        for block in self.blocks:
            h = block(h)
            features.append(h)
        logit = self.out(h).squeeze(1)
        if self.projection is not None:
            logit = logit + (self.projection(labels) * h).sum(1)
        aux = self.aux(h) if self.aux is not None else None
        return logit, aux, features


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}: must be an integer >= {minimum}, got {value!r}")
    return value


class DCGAN(nn.Module):
    """DCGAN generator + discriminator pair (see the module docstring); the registered model ``dcgan``.

    Args:
        channels: channels of the generated image (2: amplitude + phase; 1: amplitude only).
        height: image height (frequency bins); divisible by ``2^stages``.
        width: image width (frames); divisible by ``2^stages``.
        latent_dim: dimension of the generator's standard-normal latent ``z``.
        n_classes: labels of a conditional GAN (0: unconditional).
        label_dim: size of the generator's label embedding (conditional models).
        condition_channels: channels of a condition image given to both networks (0: none; 1 for the phase image
            of conditional-WGAN-GP exp3/exp4).
        stages: up-sampling stages of the generator = down-sampling stages of the discriminator; the generator
            starts from ``height / 2^stages × width / 2^stages``.
        base_width: generator channels at the finest stage (doubling per coarser stage).
        max_width: cap on the generator's channels.
        d_base_width: discriminator channels after its first convolution (doubling per stage; None: base_width).
        d_max_width: cap on the discriminator's channels (None: max_width).
        condition_width: channels of the condition encoder's first (finest) map (doubling per stage, capped at
            max_width).
        d_norm: discriminator normalisation, "batch" (DCGAN, non-saturating / hinge / LSGAN), "layer",
            "instance" or "none" (required for a gradient penalty).
        d_conditioning: how the discriminator uses labels: "projection", "embedding" or "none" (AC-GAN layout:
            needs ``n_aux_classes``). Ignored when ``n_classes == 0``.
        n_aux_classes: classes of the discriminator's auxiliary classifier head (0: no head).
        init_std: standard deviation of the DCGAN weight initialisation (0: PyTorch's default initialisation).
        arch: "conv" (the DCGAN above) or "mlp" (multi-layer perceptrons for small images of any size, such as
            9-frame log-mel windows: ``stages`` hidden layers per network, sized by the same width arguments; no
            condition image; ``d_norm`` "batch", "layer" or "none").
        kernel_size: kernel of every (transposed) convolution, stride 2: 4 (DCGAN) or 5 (SpecGAN; "conv" only).
        g_norm: generator normalisation: "batch" (DCGAN) or "none" (SpecGAN, Donahue et al. 2019; "mlp": no batch
            norm in the hidden layers).
    """

    roles = (SAMPLER,)

    def __init__(
        self,
        channels: int = 2,
        height: int = 128,
        width: int = 128,
        latent_dim: int = 100,
        n_classes: int = 0,
        label_dim: int = 50,
        condition_channels: int = 0,
        stages: int = 5,
        base_width: int = 64,
        max_width: int = 1024,
        d_base_width: int | None = None,
        d_max_width: int | None = None,
        condition_width: int = 16,
        d_norm: Norm = "batch",
        d_conditioning: DConditioning = "projection",
        n_aux_classes: int = 0,
        init_std: float = 0.02,
        arch: Arch = "conv",
        kernel_size: Literal[4, 5] = 4,
        g_norm: GNorm = "batch",
    ) -> None:
        super().__init__()
        for name, v, lo in (("channels", channels, 1), ("height", height, 1), ("width", width, 1),
                            ("latent_dim", latent_dim, 1), ("n_classes", n_classes, 0), ("label_dim", label_dim, 1),
                            ("condition_channels", condition_channels, 0), ("stages", stages, 1),
                            ("base_width", base_width, 1), ("max_width", max_width, 1),
                            ("condition_width", condition_width, 1), ("n_aux_classes", n_aux_classes, 0)):
            _check_int(name, v, lo)
        d_base_width = base_width if d_base_width is None else _check_int("d_base_width", d_base_width, 1)
        d_max_width = max_width if d_max_width is None else _check_int("d_max_width", d_max_width, 1)
        if n_classes == 1:
            raise ConfigError("n_classes: use 0 for an unconditional model or >= 2 labels")
        if n_aux_classes == 1:
            raise ConfigError("n_aux_classes: use 0 (no auxiliary head) or >= 2 classes")
        if arch not in ARCHS:
            raise ConfigError(f"arch: expected one of {', '.join(ARCHS)}, got {arch!r}")
        mlp = arch == "mlp"
        for name, size in (("height", height), ("width", width)):
            if size % 2 ** stages and not mlp:
                raise ConfigError(f"{name}: {size} is not divisible by 2^stages = {2 ** stages}")
        if d_norm not in NORMS:
            raise ConfigError(f"d_norm: expected one of {', '.join(NORMS)}, got {d_norm!r}")
        if mlp and d_norm == "instance":
            raise ConfigError("d_norm: 'instance' needs feature maps; the 'mlp' architecture takes 'batch', 'layer' "
                              "or 'none'")
        if mlp and condition_channels:
            raise ConfigError("condition_channels: the 'mlp' architecture takes no condition image")
        if mlp and kernel_size != 4:
            raise ConfigError("kernel_size: the 'mlp' architecture has no convolutions; leave kernel_size unset")
        if d_conditioning not in D_CONDITIONING:
            raise ConfigError(f"d_conditioning: expected one of {', '.join(D_CONDITIONING)}, got {d_conditioning!r}")
        if not mlp and d_norm == "instance" and stages > 1 and (height >> stages) * (width >> stages) == 1:
            raise ConfigError("d_norm: instance norm needs the last map to be larger than 1 x 1 (use fewer stages)")
        if n_classes and d_conditioning == "none" and not n_aux_classes:
            raise ConfigError("d_conditioning: 'none' leaves labels out of the discriminator; it needs an auxiliary "
                              "classifier head (n_aux_classes > 0)")
        if kernel_size not in (4, 5):
            raise ConfigError(f"kernel_size: expected 4 (DCGAN) or 5 (SpecGAN), got {kernel_size!r}")
        if g_norm not in G_NORMS:
            raise ConfigError(f"g_norm: expected one of {', '.join(G_NORMS)}, got {g_norm!r}")
        if isinstance(init_std, bool) or not isinstance(init_std, (int, float)) or init_std < 0:
            raise ConfigError(f"init_std: must be a number >= 0, got {init_std!r}")
        self.n_classes, self.latent_dim = int(n_classes), int(latent_dim)
        self.condition_channels, self.n_aux_classes = int(condition_channels), int(n_aux_classes)
        self.out_shape: tuple[int, ...] = (int(channels), int(height), int(width))
        self.d_norm, self.arch = d_norm, arch
        self.generator: nn.Module
        self.discriminator: nn.Module
        if mlp:  # widest layers next to the data in both networks
            self.generator = MLPGenerator(channels, height, width, latent_dim,
                                          stage_widths(base_width, max_width, stages), n_classes, label_dim, g_norm)
            self.discriminator = MLPDiscriminator(channels, height, width,
                                                  stage_widths(d_base_width, d_max_width, stages)[::-1], d_norm,
                                                  n_classes, d_conditioning, n_aux_classes)
        else:
            g_widths = stage_widths(base_width, max_width, stages)[::-1]  # coarsest first
            cond_widths = stage_widths(condition_width, max_width, stages) if condition_channels else []
            self.generator = DCGANGenerator(channels, height, width, latent_dim, g_widths, n_classes, label_dim,
                                            condition_channels, cond_widths, kernel_size, g_norm)
            self.discriminator = DCGANDiscriminator(channels, height, width,
                                                    stage_widths(d_base_width, d_max_width, stages), d_norm,
                                                    n_classes, d_conditioning, condition_channels, n_aux_classes,
                                                    kernel_size)
        if init_std > 0:
            init_dcgan_(self, float(init_std))

    # -- helpers -------------------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def check_labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """Labels as a LongTensor ``[n]`` on the model's device (None for unconditional models)."""
        return check_labels(labels, n, self.n_classes, self.device)

    def check_condition(self, condition: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """The condition image ``[n, condition_channels, H, W]`` on the model's device (None if the model has none)."""
        if not self.condition_channels:
            if condition is not None:
                raise ConfigError("condition: this model takes no condition")
            return None
        want = (n, self.condition_channels, *self.out_shape[1:])
        if condition is None:
            raise ConfigError(f"condition: this model needs a condition image of shape {list(want)} (e.g. the "
                              "phase channel of real clips)")
        if tuple(condition.shape) != want:
            raise ConfigError(f"condition: expected shape {list(want)}, got {list(condition.shape)}")
        return condition.to(self.device, torch.float32)

    # -- the two networks ----------------------------------------------------------------------------------------
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                 condition: torch.Tensor | None = None) -> torch.Tensor:
        """Images ``[B, *out_shape]`` in [-1, 1] from latents ``z [B, latent_dim]`` (+ labels, + condition)."""
        return self.generator(z, labels if self.n_classes else None, condition)

    def discriminate(self, x: torch.Tensor, labels: torch.Tensor | None = None,
                     condition: torch.Tensor | None = None,
                     ) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
        """``(logit [B], aux_logits or None, features)`` of the discriminator for images ``x``."""
        return self.discriminator(x, labels, condition)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                condition: torch.Tensor | None = None) -> torch.Tensor:
        """Same as :meth:`generate`."""
        return self.generate(z, labels, condition)

    # -- the model contract --------------------------------------------------------------------------------------
    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
               condition: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` images from the prior: ``z ~ N(0, I)`` drawn on the CPU with ``generator`` (torch's global
        generator when None), moved to the model's device and decoded. ``labels [n]`` are required by conditional
        models, ``condition [n, condition_channels, H, W]`` by models with a condition image."""
        n = int(n)
        lab = self.check_labels(labels, n)
        cond = self.check_condition(condition, n)
        z = torch.randn(n, self.latent_dim, generator=generator)
        return self.generator(z.to(self.device), lab, cond)
