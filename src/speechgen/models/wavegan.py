"""WaveGAN (Donahue, McAuley & Puckette 2019, "Adversarial audio synthesis"): a DCGAN flattened to one dimension
that generates raw waveforms of ``slice_len`` samples (16384 ≈ 1 s at 16 kHz; 32768 and 65536 as in the
authors' longer-slice extension).

- **generator**: ``z`` (``latent_dim`` = 100, standard normal) — concatenated with a label embedding when
  ``n_classes > 0`` — goes through a dense layer to a ``16 × W0`` map (``W0 = 16d`` for 16384 samples, ``32d`` for
  longer slices) and ReLU, then 1-D transposed convolutions of kernel ``kernel_size`` (25) and stride 4 that
  halve the channels (``16d → 8d → 4d → 2d → d``) with ReLU, the last one to one channel and ``tanh``. Each
  transposed convolution makes its input exactly ``stride`` times longer (16 → 64 → … → 16384); a 32768 / 65536
  slice adds a sixth layer of stride 2 / 4. No batch normalisation (the paper's setting).
- **discriminator** (critic): 1-D convolutions of kernel 25 and stride 4 (``1 → d → 2d → 4d → 8d → 16d``, plus a
  sixth of stride 2 / 4 to ``32d`` for longer slices), each followed by LeakyReLU(0.2) and, except after the last,
  by phase shuffle (:mod:`speechgen.nn.phase_shuffle`, ``n = 2``), then a dense layer from the flattened
  ``16 × width`` map to one logit. No normalisation (a WGAN-GP critic must not mix items). Labels enter by
  ``d_conditioning``: "projection" (Miyato & Koyama 2018: ``<embed(y), sum_t phi(x)>`` added to the logit, the
  embedding starting at zero), "embedding" (a learned ``slice_len`` waveform per label concatenated to the input as
  a second channel) or "none" (AC-GAN layout: needs ``n_aux_classes``). ``n_aux_classes > 0`` adds an auxiliary
  classifier head on the flattened features. Returns ``(logit [B], aux or None, features)`` like
  :class:`~speechgen.models.dcgan.DCGANDiscriminator`, so the ``gan`` scheme trains it unchanged.

Parameter counts (own layer arithmetic, weights + biases; ``k = 25``): a transposed / plain convolution from
``a`` to ``b`` channels has ``25 a b + b``; the dense layers ``100 · 256d + 256d`` (generator) and ``256d + 1``
(critic). At the paper's ``d = 64`` and 16384 samples: generator ``1 654 784 + 17 410 561 = 19 065 345`` (paper:
19 M), discriminator ``17 411 584 + 16 385 = 17 427 969`` (paper: 17.4 M); 10 labels with ``label_dim`` 50 add
``500 + 50 · 16384`` to the generator and ``10 · 1024`` to the critic (projection).

:class:`WaveGAN` holds both networks (``.generator``, ``.discriminator``) and implements the generative model
contract (``n_classes``, ``out_shape = (slice_len,)``, ``latent_dim``, ``sample``): items are waveforms
``[n, slice_len]`` in [-1, 1], the shape of the ``waveform`` feature's batches (``batch["audio"]``) and what
:meth:`speechgen.data.features.Waveform.invert` writes as audio.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from speechgen.errors import ConfigError
from speechgen.nn.conditioning import check_labels
from speechgen.nn.phase_shuffle import PhaseShuffle
from speechgen.models.roles import SAMPLER

DConditioning = Literal["projection", "embedding", "none"]
D_CONDITIONING: tuple[str, ...] = ("projection", "embedding", "none")
#: strides of the up-sampling layers (coarsest first) / down-sampling layers (finest first) per slice length
SLICE_STRIDES: dict[int, tuple[int, ...]] = {16384: (4, 4, 4, 4, 4), 32768: (4, 4, 4, 4, 4, 2),
                                             65536: (4, 4, 4, 4, 4, 4)}
#: length of the generator's first map and of the critic's last one
BASE_LENGTH = 16


def layer_widths(d: int, n_layers: int) -> list[int]:
    """Channels of the generator's maps, coarsest first: ``d · 2^(n_layers - 1) … 2d, d`` (the critic's, finest
    first, are the same list reversed)."""
    return [int(d) * 2 ** i for i in range(int(n_layers))][::-1]


def _transposed_padding(kernel_size: int, stride: int) -> tuple[int, int]:
    """``(padding, output_padding)`` making a transposed convolution exactly ``stride`` times longer."""
    p = (kernel_size - stride + 1) // 2
    return p, 2 * p - (kernel_size - stride)


class WaveGANGenerator(nn.Module):
    """``z [B, latent_dim]`` (+ labels) → waveform ``[B, 1, 16 · prod(strides)]`` in [-1, 1].

    ``widths``: channels of the maps before each transposed convolution (coarsest first); ``strides``: one per
    transposed convolution.
    """

    def __init__(self, latent_dim: int, widths: Sequence[int], strides: Sequence[int], kernel_size: int = 25,
                 n_classes: int = 0, label_dim: int = 0) -> None:
        super().__init__()
        widths, strides = [int(w) for w in widths], [int(s) for s in strides]
        self.width0 = widths[0]
        self.label_embedding = nn.Embedding(n_classes, label_dim) if n_classes else None
        self.project = nn.Linear(latent_dim + (label_dim if n_classes else 0), BASE_LENGTH * widths[0])
        blocks = []
        for i, s in enumerate(strides):
            last = i == len(strides) - 1
            cout = 1 if last else widths[i + 1]
            pad, out_pad = _transposed_padding(kernel_size, s)
            conv = nn.ConvTranspose1d(widths[i], cout, kernel_size, s, pad, output_padding=out_pad)
            blocks.append(nn.Sequential(conv, nn.Tanh() if last else nn.ReLU()))
        self.blocks = nn.ModuleList(blocks)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        h = z
        if self.label_embedding is not None:
            if labels is None:
                raise ConfigError("labels: this generator is conditional; give one label per item")
            h = torch.cat([h, self.label_embedding(labels)], dim=1)
        h = torch.relu(self.project(h).view(len(z), self.width0, BASE_LENGTH))
        for block in self.blocks:
            h = block(h)
        return h


class WaveGANDiscriminator(nn.Module):
    """Waveform ``[B, T]`` or ``[B, 1, T]`` (+ labels) → ``(logit [B], aux or None, features)``.

    ``widths``: channels after each strided convolution (finest first), ``strides`` one per convolution;
    ``phase_shuffle``: its ``n`` after every convolution but the last (0: off); conditioning as in the module
    docstring. ``features`` are the outputs of the convolution blocks (after LeakyReLU, before phase shuffle).
    """

    def __init__(self, slice_len: int, widths: Sequence[int], strides: Sequence[int], kernel_size: int = 25,
                 phase_shuffle: int = 2, n_classes: int = 0, conditioning: str = "projection",
                 n_aux_classes: int = 0) -> None:
        super().__init__()
        widths, strides = [int(w) for w in widths], [int(s) for s in strides]
        self.slice_len = int(slice_len)
        self.n_classes = n_classes if conditioning != "none" else 0
        self.label_map = (nn.Embedding(n_classes, slice_len) if n_classes and conditioning == "embedding" else None)
        cin = 1 + (1 if self.label_map is not None else 0)
        blocks, shuffles = [], []
        for i, (w, s) in enumerate(zip(widths, strides)):
            blocks.append(nn.Sequential(nn.Conv1d(cin, w, kernel_size, s, kernel_size // 2), nn.LeakyReLU(0.2)))
            shuffles.append(PhaseShuffle(phase_shuffle if i < len(widths) - 1 else 0))
            cin = w
        self.blocks = nn.ModuleList(blocks)
        self.shuffles = nn.ModuleList(shuffles)
        flat = BASE_LENGTH * widths[-1]
        self.out = nn.Linear(flat, 1)
        self.projection = (nn.Embedding(n_classes, widths[-1])
                           if n_classes and conditioning == "projection" else None)
        if self.projection is not None:  # the label term starts at 0
            nn.init.zeros_(self.projection.weight)
        self.aux = nn.Linear(flat, n_aux_classes) if n_aux_classes else None

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None,
                ) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
        if x.ndim == 2:
            x = x.unsqueeze(1)
        if x.ndim != 3 or x.shape[1] != 1 or x.shape[-1] != self.slice_len:
            raise ConfigError(f"audio: expected [batch, {self.slice_len}] or [batch, 1, {self.slice_len}], "
                              f"got {list(x.shape)}")
        if self.n_classes and labels is None:
            raise ConfigError("labels: this discriminator is conditional; give one label per item")
        h = x
        if self.label_map is not None:
            h = torch.cat([x, self.label_map(labels).unsqueeze(1)], dim=1)
        features = []
        for block, shuffle in zip(self.blocks, self.shuffles):
            h = block(h)
            features.append(h)
            h = shuffle(h)
        flat = h.flatten(1)
        logit = self.out(flat).squeeze(1)
        if self.projection is not None:
            logit = logit + (self.projection(labels) * h.sum(dim=2)).sum(1)
        aux = self.aux(flat) if self.aux is not None else None
        return logit, aux, features


def _check_int(name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"{name}: must be an integer >= {minimum}, got {value!r}")
    return value


class WaveGAN(nn.Module):
    """WaveGAN generator + critic pair (see the module docstring); the registered model ``wavegan``.

    Args:
        slice_len: samples per generated waveform: 16384 (the paper's, ≈ 1 s at 16 kHz), 32768 or 65536.
        d: model width ``d`` (64 in the paper): the generator's last map and the critic's first have ``d``
            channels, doubling per layer towards the coarse end.
        latent_dim: dimension of the standard-normal latent ``z`` (100 in the paper).
        kernel_size: kernel of every (transposed) convolution (25 in the paper; odd).
        phase_shuffle: the critic's phase-shuffle ``n`` (2 in the paper; 0: off).
        n_classes: labels of a conditional WaveGAN (0: unconditional).
        label_dim: size of the generator's label embedding (conditional models).
        d_conditioning: how the critic uses labels: "projection", "embedding" or "none" (needs
            ``n_aux_classes``). Ignored when ``n_classes == 0``.
        n_aux_classes: classes of the critic's auxiliary classifier head (0: none).
    """

    roles = (SAMPLER,)

    def __init__(
        self,
        slice_len: Literal[16384, 32768, 65536] = 16384,
        d: int = 64,
        latent_dim: int = 100,
        kernel_size: int = 25,
        phase_shuffle: int = 2,
        n_classes: int = 0,
        label_dim: int = 50,
        d_conditioning: DConditioning = "projection",
        n_aux_classes: int = 0,
    ) -> None:
        super().__init__()
        for name, v, lo in (("slice_len", slice_len, 1), ("d", d, 1), ("latent_dim", latent_dim, 1),
                            ("kernel_size", kernel_size, 1), ("phase_shuffle", phase_shuffle, 0),
                            ("n_classes", n_classes, 0), ("label_dim", label_dim, 1),
                            ("n_aux_classes", n_aux_classes, 0)):
            _check_int(name, v, lo)
        if slice_len not in SLICE_STRIDES:
            raise ConfigError(f"slice_len: expected one of {', '.join(map(str, SLICE_STRIDES))}, got {slice_len}")
        strides = SLICE_STRIDES[slice_len]
        if kernel_size % 2 == 0 or kernel_size < max(strides):
            raise ConfigError(f"kernel_size: must be odd and >= {max(strides)}, got {kernel_size}")
        if phase_shuffle >= slice_len // 4 ** (len(strides) - 1):
            raise ConfigError(f"phase_shuffle: {phase_shuffle} is too large for the critic's shortest map")
        if n_classes == 1:
            raise ConfigError("n_classes: use 0 for an unconditional model or >= 2 labels")
        if n_aux_classes == 1:
            raise ConfigError("n_aux_classes: use 0 (no auxiliary head) or >= 2 classes")
        if d_conditioning not in D_CONDITIONING:
            raise ConfigError(f"d_conditioning: expected one of {', '.join(D_CONDITIONING)}, got {d_conditioning!r}")
        if n_classes and d_conditioning == "none" and not n_aux_classes:
            raise ConfigError("d_conditioning: 'none' leaves labels out of the discriminator; it needs an auxiliary "
                              "classifier head (n_aux_classes > 0)")
        self.n_classes, self.latent_dim, self.n_aux_classes = int(n_classes), int(latent_dim), int(n_aux_classes)
        self.condition_channels = 0
        self.slice_len = int(slice_len)
        self.out_shape: tuple[int, ...] = (self.slice_len,)
        widths = layer_widths(d, len(strides))
        self.generator = WaveGANGenerator(latent_dim, widths, strides, kernel_size, n_classes, label_dim)
        self.discriminator = WaveGANDiscriminator(slice_len, widths[::-1], strides, kernel_size, phase_shuffle,
                                                  n_classes, d_conditioning, n_aux_classes)

    # -- helpers -------------------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return next(self.parameters()).device

    def check_labels(self, labels: torch.Tensor | None, n: int) -> torch.Tensor | None:
        """Labels as a LongTensor ``[n]`` on the model's device (None for unconditional models)."""
        return check_labels(labels, n, self.n_classes, self.device)

    @staticmethod
    def _no_condition(condition: torch.Tensor | None) -> None:
        if condition is not None:
            raise ConfigError("condition: WaveGAN takes no condition input")

    # -- the two networks ----------------------------------------------------------------------------------------
    def generate(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                 condition: torch.Tensor | None = None) -> torch.Tensor:
        """Waveforms ``[B, slice_len]`` in [-1, 1] from latents ``z [B, latent_dim]`` (+ labels)."""
        self._no_condition(condition)
        return self.generator(z, labels if self.n_classes else None).squeeze(1)

    def discriminate(self, x: torch.Tensor, labels: torch.Tensor | None = None,
                     condition: torch.Tensor | None = None,
                     ) -> tuple[torch.Tensor, torch.Tensor | None, list[torch.Tensor]]:
        """``(logit [B], aux_logits or None, features)`` of the critic for waveforms ``x [B, slice_len]``."""
        self._no_condition(condition)
        return self.discriminator(x, labels)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None,
                condition: torch.Tensor | None = None) -> torch.Tensor:
        """Same as :meth:`generate`."""
        return self.generate(z, labels, condition)

    # -- the model contract --------------------------------------------------------------------------------------
    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
               condition: torch.Tensor | None = None) -> torch.Tensor:
        """``n`` waveforms ``[n, slice_len]`` from the prior: ``z ~ N(0, I)`` drawn on the CPU with ``generator``
        (torch's global generator when None), moved to the model's device and decoded; ``labels [n]`` are
        required by conditional models."""
        self._no_condition(condition)
        n = int(n)
        lab = self.check_labels(labels, n)
        z = torch.randn(n, self.latent_dim, generator=generator)
        return self.generator(z.to(self.device), lab).squeeze(1)
