"""The ``vae`` scheme: auto-encoders with a latent prior on spectrogram images (or on log-mel frame windows,
``data.frames``: see :mod:`speechgen.data.frames`).

Objectives (``vae.objective``), with ``rec`` the reconstruction cost (L1 or squared L2 summed over the image's
values, averaged over the batch) and ``z ~ N(0, I)`` the prior:

- ``"elbo"`` (model ``vae``: VAE / conditional VAE, Kingma & Welling 2014; Hsu et al. 2017):
  ``rec + beta_t · KL(q(z|x) || N(0, I))``, with ``beta_t`` rising linearly from 0 to ``beta`` over
  ``kl_warmup_steps`` steps (KL annealing);
- ``"mmd"`` (model ``wae``, WAE-MMD, Tolstikhin et al. 2018): ``rec + mmd_weight · MMD(codes, prior draws)``;
- ``"adversarial"`` (model ``wae`` with ``adversarial: true``, WAE-GAN): the latent critic learns to tell prior
  draws from codes (binary cross-entropy, its own Adam at ``critic_lr``); the auto-encoder minimises
  ``rec - adversarial_weight · log D(code)``. Two optimisers, manual optimisation: each training step updates the
  critic once (raw optimiser step, not counted) and then the auto-encoder (counted), so ``trainer.global_step``
  advances once per training step and ``max_steps`` / ``checkpoint_every`` / ``--resume`` count training steps.

Logged: ``train/recon``, ``train/kl`` (elbo) or ``train/mmd`` (mmd) or ``train/critic`` + ``train/adv``
(adversarial), ``train/loss``; ``val/recon``, ``val/kl`` or ``val/mmd``, ``val/loss`` (and ``test/...``) on
posterior means / codes (deterministic; the MMD's prior draws come from a generator seeded per batch).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Literal

import lightning as L
import torch
import torch.nn.functional as F

from speechgen.errors import ConfigError
from speechgen.losses.divergence import DEFAULT_SCALES, kl_standard_normal, mmd
from speechgen.training.schemes.generative import (
    GenData, GenerativeModule, GenTrain, build_datamodule, check_label_count, frame_shape, split_channels,
)
from speechgen.training.adversarial import AdversarialUpdate, weighted_sum
from speechgen.training.optim import OptimConfig, build_optimizer


@dataclass
class VAESection:
    """``vae:`` section.

    objective: "elbo" (model ``vae``), "mmd" or "adversarial" (model ``wae``; "adversarial" needs
    ``adversarial: true``). recon: reconstruction cost, "l1" or "l2" (squared error), summed over the image and
    averaged over the batch. beta: weight of the KL term (elbo). kl_warmup_steps: steps over which the KL weight
    rises linearly from 0 to ``beta`` (0: no annealing). mmd_weight: weight of the MMD penalty (mmd).
    mmd_kernel: "imq" (inverse multiquadratics, the WAE paper's) or "rbf". mmd_scales: kernel scales, multiples
    of ``2 · latent_dim`` (see :mod:`speechgen.losses.divergence`). adversarial_weight: weight of the
    auto-encoder's adversarial term (adversarial). critic_lr: peak learning rate of the latent critic (same
    optimiser kind, betas and schedule as ``optim:``; no weight decay).
    """

    objective: Literal["elbo", "mmd", "adversarial"] = "elbo"
    recon: Literal["l1", "l2"] = "l2"
    beta: float = 1.0
    kl_warmup_steps: int = 0
    mmd_weight: float = 10.0
    mmd_kernel: Literal["imq", "rbf"] = "imq"
    mmd_scales: list[float] = field(default_factory=lambda: list(DEFAULT_SCALES))
    adversarial_weight: float = 1.0
    critic_lr: float = 5e-4

    def validate(self, where: str) -> None:
        for k in ("beta", "mmd_weight", "adversarial_weight"):
            if getattr(self, k) < 0:
                raise ConfigError(f"{where}.{k}: must be >= 0, got {getattr(self, k)}")
        if self.kl_warmup_steps < 0:
            raise ConfigError(f"{where}.kl_warmup_steps: must be >= 0, got {self.kl_warmup_steps}")
        if not self.mmd_scales or min(self.mmd_scales) <= 0:
            raise ConfigError(f"{where}.mmd_scales: expected positive numbers, got {self.mmd_scales}")
        if not self.critic_lr > 0:
            raise ConfigError(f"{where}.critic_lr: must be > 0, got {self.critic_lr}")


#: objective → the registry name of the model it trains
OBJECTIVE_MODEL = {"elbo": "vae", "mmd": "wae", "adversarial": "wae"}


def recon_loss(recon: torch.Tensor, x: torch.Tensor, kind: str) -> torch.Tensor:
    """L1 or squared-L2 reconstruction cost summed over each item's values, averaged over the batch."""
    diff = recon - x
    per = diff.abs() if kind == "l1" else diff.pow(2)
    return per.flatten(1).sum(1).mean()


def kl_weight(step: int, beta: float, warmup: int) -> float:
    """KL weight at training step ``step``: linear from ``beta / warmup`` to ``beta`` over ``warmup`` steps."""
    if warmup <= 0:
        return float(beta)
    return float(beta) * min(1.0, (step + 1) / warmup)


class VAEModule(GenerativeModule):
    """LightningModule of the ``vae`` scheme (see the module docstring)."""

    def __init__(self, model: torch.nn.Module, model_spec: dict[str, Any], data: GenData, train: GenTrain,
                 optim: OptimConfig, vae: VAESection, checkpoint_extra: dict[str, Any] | None = None) -> None:
        super().__init__(model, model_spec, data, train, checkpoint_extra)
        self.optim_cfg, self.vae_cfg = optim, vae
        self.automatic_optimization = vae.objective != "adversarial"
        critic = getattr(model, "latent_critic", None) if vae.objective == "adversarial" else None
        self.update = AdversarialUpdate(self, critic, [optim, optim])  # both clip at optim.grad_clip

    # -- pieces --------------------------------------------------------------------------------------------------
    def _batch(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        x, _ = split_channels(batch, self.data_cfg)
        labels = batch["label"] if getattr(self.model, "n_classes", 0) else None
        return x, labels

    def _mmd(self, z: torch.Tensor, prior: torch.Tensor) -> torch.Tensor:
        return mmd(z, prior, self.vae_cfg.mmd_kernel, self.vae_cfg.mmd_scales)

    # -- training ------------------------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor | None:
        cfg = self.vae_cfg
        x, labels = self._batch(batch)
        if cfg.objective == "adversarial":
            return self._adversarial_step(x, labels)
        if cfg.objective == "elbo":
            recon, mu, logvar = self.model(x, labels)
            rec = recon_loss(recon, x, cfg.recon)
            kl = kl_standard_normal(mu, logvar)
            loss = rec + kl_weight(int(self.global_step), cfg.beta, cfg.kl_warmup_steps) * kl
            self.check_finite(recon=rec, kl=kl, loss=loss)
            logs = {"train/recon": rec, "train/kl": kl, "train/loss": loss}
        else:
            recon, z = self.model(x, labels)
            rec = recon_loss(recon, x, cfg.recon)
            penalty = self._mmd(z, torch.randn_like(z))
            loss = rec + cfg.mmd_weight * penalty
            self.check_finite(recon=rec, mmd=penalty, loss=loss)
            logs = {"train/recon": rec, "train/mmd": penalty, "train/loss": loss}
        self.log_dict(logs, prog_bar=True, batch_size=len(x))
        return loss

    def _adversarial_step(self, x: torch.Tensor, labels: torch.Tensor | None) -> None:
        cfg = self.vae_cfg
        critic = self.model.latent_critic
        recon, z = self.model(x, labels)
        rec = recon_loss(recon, x, cfg.recon)
        # 1) critic: prior draws are "real" (1), codes "fake" (0)
        prior = torch.randn_like(z)
        real, fake = critic(prior), critic(z.detach())
        critic_loss = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                       + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
        self.update.critic_step(critic_loss, {"recon": rec})

        # 2) auto-encoder against the updated critic (frozen): -log D(code) (non-saturating)
        def losses() -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
            score = critic(z)
            parts = {"recon": rec, "adv": F.binary_cross_entropy_with_logits(score, torch.ones_like(score))}
            return weighted_sum(parts, {"recon": 1.0, "adv": cfg.adversarial_weight}), parts

        loss, parts = self.update.generator_step(losses, name="loss")
        self.update.step_schedules()
        self.log_dict({"train/recon": rec, "train/adv": parts["adv"], "train/critic": critic_loss,
                       "train/loss": loss}, prog_bar=True, batch_size=len(x))

    # -- evaluation ----------------------------------------------------------------------------------------------
    def _eval_step(self, batch: dict[str, torch.Tensor], batch_idx: int, prefix: str) -> None:
        cfg = self.vae_cfg
        x, labels = self._batch(batch)
        if cfg.objective == "elbo":
            mu, logvar = self.model.encode(x, labels)
            rec = recon_loss(self.model.decode(mu, labels), x, cfg.recon)
            kl = kl_standard_normal(mu, logvar)
            logs = {f"{prefix}/recon": rec, f"{prefix}/kl": kl, f"{prefix}/loss": rec + cfg.beta * kl}
        else:
            z = self.model.encode(x, labels)
            rec = recon_loss(self.model.decode(z, labels), x, cfg.recon)
            gen = torch.Generator().manual_seed(int(batch_idx))
            prior = torch.randn(z.shape, generator=gen).to(z.device, z.dtype)
            logs = {f"{prefix}/recon": rec}
            if len(z) >= 2:
                penalty = self._mmd(z, prior)
                logs[f"{prefix}/mmd"] = penalty
                if cfg.objective == "mmd":
                    logs[f"{prefix}/loss"] = rec + cfg.mmd_weight * penalty
        self.log_dict(logs, prog_bar=prefix == "val", batch_size=len(x), sync_dist=True)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "test")

    # -- optimisers ----------------------------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        steps = self.train_cfg.max_steps
        if self.vae_cfg.objective != "adversarial":
            return build_optimizer(self.model.parameters(), self.optim_cfg, steps)
        critic = set(map(id, self.model.latent_critic.parameters()))
        ae_params = [p for p in self.model.parameters() if id(p) not in critic]
        critic_cfg = dataclasses.replace(self.optim_cfg, lr=self.vae_cfg.critic_lr, weight_decay=0.0)
        return [build_optimizer(ae_params, self.optim_cfg, steps),
                build_optimizer(self.model.latent_critic.parameters(), critic_cfg, steps)]


def check_recipe(recipe: Any, model: torch.nn.Module | None = None) -> None:
    """Cross-section constraints of a ``vae`` recipe; ConfigError naming the field at fault."""
    from speechgen.data.features import build_feature

    v: VAESection = recipe.vae
    d: GenData = recipe.data
    name = recipe.model.name
    kwargs = recipe.model.kwargs
    want = OBJECTIVE_MODEL[v.objective]
    if name != want:
        raise ConfigError(f"recipe.vae.objective: '{v.objective}' trains a '{want}' model, but recipe.model.name is "
                          f"'{name}'")
    adversarial = bool(kwargs.get("adversarial", False))
    if v.objective == "adversarial" and not adversarial:
        raise ConfigError("recipe.vae.objective: 'adversarial' needs a model built with a latent critic "
                          "(set recipe.model.kwargs.adversarial: true)")
    if v.objective != "adversarial" and adversarial:
        raise ConfigError(f"recipe.model.kwargs.adversarial: the latent critic is trained only by objective "
                          f"'adversarial', not '{v.objective}'")
    frames = frame_shape(d)  # log-mel frame windows (1, n_mels, context), or None for images
    if frames is None and d.feature != "stft_image":
        raise ConfigError(f"recipe.data.feature: the vae scheme models image features ('stft_image') or log-mel "
                          f"frame windows ('log_mel' with data.frames), got '{d.feature}'")
    if d.condition_channels:
        raise ConfigError("recipe.data.condition_channels: the vae scheme's models take no condition")
    if frames is None:
        feature = build_feature(d.feature, d.feature_params)
        channels = len(d.channels) if d.channels else 2
        if d.channels and max(d.channels) > 1:
            raise ConfigError(f"recipe.data.channels: stft_image has channels 0 (amplitude) and 1 (phase), "
                              f"got {d.channels}")
    if model is None:
        return
    shape = tuple(getattr(model, "out_shape", ()))
    expect = frames or (channels, feature.n_bins, feature.n_frames)  # type: ignore[attr-defined]
    for field_name, got, exp in zip(("in_channels", "height", "width"), shape, expect):
        if got != exp:
            raise ConfigError(f"recipe.model.kwargs.{field_name}: {got}, but the data gives images of shape "
                              f"{list(expect)} (channels, bins, frames)")
    if getattr(model, "n_classes", 0) and not d.labelled:
        raise ConfigError("recipe.data.labelled: a conditional model (n_classes > 0) needs labelled data")


class VAEScheme:
    """Recipe sections and builders of the ``vae`` scheme (VAE, conditional VAE, WAE-MMD, WAE-GAN)."""

    name = "vae"
    sections = {"data": GenData, "train": GenTrain, "optim": OptimConfig, "vae": VAESection}
    models = ("vae", "wae")

    @staticmethod
    def validate(recipe: Any) -> None:
        """Cross-section checks that need no model instance (also run by :meth:`build`)."""
        check_recipe(recipe)

    @staticmethod
    def build(recipe: Any, model: torch.nn.Module, checkpoint_extra: dict[str, Any] | None = None,
              ) -> tuple[L.LightningModule, L.LightningDataModule]:
        check_recipe(recipe, model)
        dm = build_datamodule(recipe.data, recipe.seed)
        check_label_count(model, dm)
        spec = {"name": recipe.model.name, "kwargs": recipe.model.kwargs}
        module = VAEModule(model, spec, recipe.data, recipe.train, recipe.optim, recipe.vae, checkpoint_extra)
        return module, dm
