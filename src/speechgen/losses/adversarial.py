"""Adversarial losses: the discriminator's and the generator's side of four GAN objectives, the WGAN-GP gradient
penalty, the R1 penalty and the feature-matching loss.

Conventions: ``real`` and ``fake`` are the discriminator's raw outputs (logits / critic scores, any shape; every
loss is a mean over all their values). With ``D`` the raw output and ``sigma`` the logistic function:

- ``"ns"`` (Goodfellow et al. 2014): D minimises the binary cross-entropy ``softplus(-D(x)) + softplus(D(G(z)))``;
  G minimises the non-saturating ``softplus(-D(G(z)))`` (= ``-log sigma(D(G(z)))``);
- ``"hinge"`` (Lim & Ye 2017; Miyato et al. 2018): D ``relu(1 - D(x)) + relu(1 + D(G(z)))``; G ``-D(G(z))``;
- ``"lsgan"`` (Mao et al. 2017, targets a=0, b=c=1): D ``((D(x) - 1)^2 + D(G(z))^2) / 2``; G ``(D(G(z)) - 1)^2 / 2``;
- ``"wgan-gp"`` (Arjovsky et al. 2017; Gulrajani et al. 2017): the critic ``D(G(z)) - D(x)`` (the caller adds
  ``gp_weight`` times the gradient penalty); G ``-D(G(z))``.

:func:`gradient_penalty` (Gulrajani et al. 2017) is ``E[(||grad_x_hat D(x_hat)||_2 - 1)^2]`` at random
interpolates ``x_hat = a x + (1 - a) G(z)``, ``a ~ U[0, 1]`` per item; conditioning inputs (labels, a condition
image) are held fixed by passing the critic as a closure. The norm is per item over all of its values, so a
critic with batch norm (whose output for one item depends on the others) is not allowed: :func:`gradient_penalty`
refuses an ``nn.Module`` critic holding batch-norm layers in training mode. :func:`r1_penalty` (Mescheder et al.
2018) is ``E[||grad_x D(x)||^2] / 2`` on real data. :func:`feature_matching_loss` is the L1 distance between two
lists of discriminator features (Salimans et al. 2016; the MelGAN / HiFi-GAN form).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from speechgen.errors import ConfigError

LossKind = Literal["ns", "hinge", "lsgan", "wgan-gp"]
LOSSES: tuple[str, ...] = ("ns", "hinge", "lsgan", "wgan-gp")


# ------------------------------------------------------------------------------------------------ the four losses
def ns_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy of the discriminator: ``mean softplus(-real) + mean softplus(fake)``."""
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def ns_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """Non-saturating generator loss ``mean softplus(-fake)`` (= ``-log sigmoid(fake)``)."""
    return F.softplus(-fake).mean()


def hinge_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Hinge loss of the discriminator: ``mean relu(1 - real) + mean relu(1 + fake)``."""
    return F.relu(1.0 - real).mean() + F.relu(1.0 + fake).mean()


def hinge_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """Hinge generator loss ``-mean fake``."""
    return -fake.mean()


def lsgan_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Least-squares discriminator loss ``(mean (real - 1)^2 + mean fake^2) / 2``."""
    return 0.5 * ((real - 1.0).pow(2).mean() + fake.pow(2).mean())


def lsgan_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """Least-squares generator loss ``mean (fake - 1)^2 / 2``."""
    return 0.5 * (fake - 1.0).pow(2).mean()


def wasserstein_d_loss(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """Critic loss ``mean fake - mean real`` (minus the Wasserstein-1 estimate; add the gradient penalty)."""
    return fake.mean() - real.mean()


def wasserstein_g_loss(fake: torch.Tensor) -> torch.Tensor:
    """Wasserstein generator loss ``-mean fake``."""
    return -fake.mean()


_D = {"ns": ns_d_loss, "hinge": hinge_d_loss, "lsgan": lsgan_d_loss, "wgan-gp": wasserstein_d_loss}
_G = {"ns": ns_g_loss, "hinge": hinge_g_loss, "lsgan": lsgan_g_loss, "wgan-gp": wasserstein_g_loss}


def _check_kind(kind: str) -> None:
    if kind not in _D:
        raise ConfigError(f"loss: expected one of {', '.join(LOSSES)}, got {kind!r}")


def d_loss(kind: LossKind, real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """The discriminator's (critic's) loss of GAN objective ``kind`` (see the module docstring)."""
    _check_kind(kind)
    return _D[kind](real, fake)


def g_loss(kind: LossKind, fake: torch.Tensor) -> torch.Tensor:
    """The generator's loss of GAN objective ``kind`` (see the module docstring)."""
    _check_kind(kind)
    return _G[kind](fake)


# ------------------------------------------------------------------------------------------------ penalties
def has_batch_norm(module: nn.Module) -> bool:
    """True when ``module`` holds a batch-norm layer (any dimension)."""
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in module.modules())


def _input_gradients(critic: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """``d sum(critic(x)) / dx`` with a graph kept for the penalty's own backward pass."""
    if isinstance(critic, nn.Module) and critic.training and has_batch_norm(critic):
        raise ConfigError("d_norm: a gradient penalty needs a critic without batch norm (its per-item gradient "
                          "depends on the whole batch); use layer, instance or no normalisation")
    x = x.detach().requires_grad_(True)
    with torch.enable_grad():
        out = critic(x)
        if isinstance(out, (tuple, list)):  # a discriminator returning (logit, aux, features)
            out = out[0]
        (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad


def gradient_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor, fake: torch.Tensor,
                     alpha: torch.Tensor | None = None, target: float = 1.0) -> torch.Tensor:
    """WGAN-GP penalty ``mean_i (||grad D(x_hat_i)||_2 - target)^2`` at interpolates of ``real`` and ``fake``.

    ``critic`` maps a batch ``[B, ...]`` to scores ``[B]`` or ``[B, 1]`` (or a tuple whose first item is that);
    pass conditioning inputs by closing over them (``lambda x: D(x, labels, condition)``): they stay fixed while
    only the generated channels are interpolated. ``alpha`` ``[B]``: interpolation weights (default ``U[0, 1]``
    from torch's global generator on ``real``'s device). ``fake`` is detached.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    b = real.shape[0]
    if alpha is None:
        alpha = torch.rand(b, device=real.device, dtype=real.dtype)
    a = alpha.reshape(b, *([1] * (real.ndim - 1))).to(real)
    x_hat = a * real.detach() + (1.0 - a) * fake.detach()
    grad = _input_gradients(critic, x_hat)
    norm = torch.sqrt(grad.flatten(1).pow(2).sum(1) + 1e-12)
    return (norm - target).pow(2).mean()


def r1_penalty(critic: Callable[[torch.Tensor], torch.Tensor], real: torch.Tensor) -> torch.Tensor:
    """R1 penalty ``mean_i ||grad_x D(x_i)||^2 / 2`` on real data (Mescheder et al. 2018; multiply by gamma)."""
    grad = _input_gradients(critic, real)
    return 0.5 * grad.flatten(1).pow(2).sum(1).mean()


# ------------------------------------------------------------------------------------------------ feature matching
FeatureList = Sequence[torch.Tensor | Sequence[torch.Tensor]]


def _flatten(feats: FeatureList) -> list[torch.Tensor]:
    out: list[torch.Tensor] = []
    for f in feats:
        if isinstance(f, torch.Tensor):
            out.append(f)
        else:
            out.extend(_flatten(f))
    return out


def feature_matching_loss(real_features: FeatureList, fake_features: FeatureList,
                          reduction: Literal["mean", "sum"] = "mean") -> torch.Tensor:
    """L1 distance between discriminator features of real and generated data, for the generator.

    Both arguments are lists of feature maps (nested lists, e.g. one list per sub-discriminator of a vocoder GAN,
    are flattened in order); each pair contributes ``mean |fake - real|`` with the real features detached, and
    the pairs are averaged (``reduction="mean"``) or summed (``"sum"``, the MelGAN / HiFi-GAN form).
    """
    real, fake = _flatten(real_features), _flatten(fake_features)
    if len(real) != len(fake) or not real:
        raise ValueError(f"feature lists must be non-empty and of equal length, got {len(real)} and {len(fake)}")
    terms = []
    for i, (r, f) in enumerate(zip(real, fake)):
        if r.shape != f.shape:
            raise ValueError(f"feature {i}: shapes differ, {tuple(r.shape)} and {tuple(f.shape)}")
        terms.append((f - r.detach()).abs().mean())
    total = torch.stack(terms).sum()
    return total / len(terms) if reduction == "mean" else total
