"""The ``vaegan`` scheme: VAE-GAN (Larsen, Sønderby, Larochelle & Winther 2016) on spectrogram images (model
``vaegan``, :mod:`speechgen.models.vaegan`).

One training step, on a batch ``x`` (with labels ``y`` for a conditional model), from one forward pass:

- ``mu, logvar = Enc(x)``, ``z = mu + sigma · eps``, reconstruction ``x̃ = Dec(z)``, prior samples
  ``x_p = Dec(z_p)`` with ``z_p ~ N(0, I)`` (same labels);
- the discriminator sees ``[x, x̃, x_p]`` in **one** batch (so batch norm normalises the three alike) and gives
  logits and the feature map ``Dis_l`` of the model's ``feature_layer``;
- ``L_prior = KL(q(z|x) ‖ N(0, I))`` (summed over latent dimensions, averaged over the batch);
- ``L_llike = ½ · Σ (Dis_l(x̃) − Dis_l(x))²`` summed over the feature map's values, averaged over the batch (the
  negative log-likelihood of a unit-variance Gaussian observation model in feature space, up to a constant; the
  real features are the target and are detached);
- ``L_GAN``: the discriminator's loss ``vaegan.loss`` (:mod:`speechgen.losses.adversarial`) with ``x`` real and
  ``x̃`` and ``x_p`` both fake (``d_loss(real, [x̃, x_p])``: the fake term is a mean over the 2B fakes), the
  generator's side ``g_loss([x̃, x_p])`` (for "ns" the non-saturating ``-log D``).

The paper's update split — each network is updated with the gradient of its own loss w.r.t. its own parameters
only (``manual_backward(loss, inputs=params)``), all three from the same forward pass, then all three step:

- encoder ``←  beta_t · L_prior + L_llike`` (``beta_t`` rises linearly to ``vaegan.beta`` over
  ``kl_warmup_steps``; the paper's ``beta`` is 1);
- decoder (generator) ``←  gamma · L_llike + g_loss`` (the paper's ``γ L_llike − L_GAN``; the encoder gets no
  GAN gradient);
- discriminator ``←  d_loss`` (+ ``gp_weight`` × the WGAN-GP penalty between ``x`` and ``x_p`` for "wgan-gp"); the
  discriminator is not trained on ``L_llike``.

``vaegan.pixel_weight > 0`` adds a pixel-space squared error ``Σ (x̃ − x)²`` (averaged over the batch) to the
encoder's and the decoder's losses (not in the paper; 0 by default).

Three optimisers (``optim_enc``, ``optim_dec``, ``optim_d``), manual optimisation: the encoder and the
discriminator step through their raw optimisers and the decoder through Lightning's, so ``trainer.global_step``
advances once per training step (``max_steps``, ``val_every``, ``checkpoint_every``, ``sample_every`` and
``--resume`` count training steps); the three learning-rate schedules advance once per step; gradient clipping
uses each section's ``grad_clip``.

Logged: ``train/kl``, ``train/feature`` (``L_llike``), ``train/recon`` (pixel error ``Σ (x̃ − x)²``, averaged over
the batch, as the ``vae`` scheme's l2 ``recon``), ``train/enc_loss``, ``train/dec_loss``, ``train/d_loss``,
``train/g_loss``, ``train/gp`` (wgan-gp); validation (``val/...``, and ``test/...`` after training) on each batch,
in eval mode with ``z = mu``: ``recon``, ``feature``, ``kl``, ``loss`` (``beta · kl + feature``), ``d_loss``,
``g_loss``, ``d_real``, ``d_recon``, ``d_prior`` (mean logits; prior draws from a generator seeded with the batch
index).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import Any, Literal

import lightning as L
import torch

from speechgen.errors import ConfigError
from speechgen.losses import adversarial as adv
from speechgen.losses.divergence import kl_standard_normal
from speechgen.models.vae import ConvVAE, conv_output_shape
from speechgen.models.vaegan import VAEGAN, encoder_error
from speechgen.training.schemes.generative import (
    GenData, GenerativeModule, GenTrain, build_datamodule, check_label_count, split_channels,
)
from speechgen.training.adversarial import AdversarialUpdate, weighted_sum
from speechgen.training.optim import OptimConfig, build_optimizer
from speechgen.training.schemes.autoencoder import kl_weight, recon_loss


@dataclass
class VAEGANSection:
    """``vaegan:`` section.

    loss: GAN objective, "ns", "hinge", "lsgan" or "wgan-gp" (see :mod:`speechgen.losses.adversarial`).
    gamma: weight of the feature-space reconstruction error ``L_llike`` in the decoder's loss against the GAN
    loss (the paper's ``γ``; the encoder always gets ``L_llike`` with weight 1). beta: weight of the KL term in
    the encoder's loss. kl_warmup_steps: steps over which the KL weight rises linearly from 0 to ``beta`` (0: no
    annealing). pixel_weight: weight of an extra pixel-space squared error in the encoder's and decoder's losses
    (0: the paper's objective). gp_weight: weight of the WGAN-GP gradient penalty (loss "wgan-gp" only).

    The feature layer ``Dis_l`` is the model's ``feature_layer`` kwarg (the model needs it to compute
    :meth:`~speechgen.models.vaegan.VAEGAN.features` after training as well).
    """

    loss: Literal["ns", "hinge", "lsgan", "wgan-gp"] = "ns"
    gamma: float = 0.1
    beta: float = 1.0
    kl_warmup_steps: int = 0
    pixel_weight: float = 0.0
    gp_weight: float = 10.0

    def validate(self, where: str) -> None:
        for k in ("gamma", "beta", "pixel_weight", "gp_weight"):
            if getattr(self, k) < 0:
                raise ConfigError(f"{where}.{k}: must be >= 0, got {getattr(self, k)}")
        if self.kl_warmup_steps < 0:
            raise ConfigError(f"{where}.kl_warmup_steps: must be >= 0, got {self.kl_warmup_steps}")
        if self.loss == "wgan-gp" and self.gp_weight <= 0:
            raise ConfigError(f"{where}.gp_weight: loss 'wgan-gp' needs a gradient penalty (> 0; the paper's is 10)")


def feature_error(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    """``½ Σ (fake − real)²`` over each item's feature values, averaged over the batch (``real`` detached)."""
    return 0.5 * (fake - real.detach()).pow(2).flatten(1).sum(1).mean()


class VAEGANModule(GenerativeModule):
    """LightningModule of the ``vaegan`` scheme (see the module docstring)."""

    def __init__(self, model: VAEGAN, model_spec: dict[str, Any], data: GenData, train: GenTrain,
                 optim_enc: OptimConfig, optim_dec: OptimConfig, optim_d: OptimConfig, vaegan: VAEGANSection,
                 checkpoint_extra: dict[str, Any] | None = None) -> None:
        super().__init__(model, model_spec, data, train, checkpoint_extra)
        self.optim_enc_cfg, self.optim_dec_cfg, self.optim_d_cfg = optim_enc, optim_dec, optim_d
        self.vaegan_cfg = vaegan
        self.automatic_optimization = False
        # encoder and discriminator step through their raw optimisers, the decoder's step is the counted one
        self.update = AdversarialUpdate(self, None, [optim_enc, optim_dec, optim_d], counted=1)

    # -- pieces --------------------------------------------------------------------------------------------------
    def _batch(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None]:
        x, _ = split_channels(batch, self.data_cfg)
        labels = batch["label"] if self.model.n_classes else None
        return x, labels

    def _discriminate3(self, x: torch.Tensor, recon: torch.Tensor, prior: torch.Tensor,
                       labels: torch.Tensor | None) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Logits and ``Dis_l`` maps of ``x``, ``recon`` and ``prior``, from one discriminator pass."""
        n = len(x)
        lab = labels.repeat(3) if labels is not None else None
        logits, _, feats = self.model.discriminate(torch.cat([x, recon, prior]), lab)
        return list(logits.split(n)), list(feats[self.model.feature_index].split(n))

    def losses(self, x: torch.Tensor, labels: torch.Tensor | None, step: int,
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, dict[str, torch.Tensor]]:
        """``(encoder loss, decoder loss, discriminator loss, parts)`` of one training step on ``x``."""
        cfg, model = self.vaegan_cfg, self.model
        mu, logvar = model.encode(x, labels)
        recon = model.decode(ConvVAE.reparameterize(mu, logvar), labels)
        prior = model.decode(torch.randn_like(mu), labels)
        (l_real, l_recon, l_prior), (f_real, f_recon, _) = self._discriminate3(x, recon, prior, labels)
        fake = torch.cat([l_recon, l_prior])
        parts = {"kl": kl_standard_normal(mu, logvar), "feature": feature_error(f_real, f_recon),
                 "recon": recon_loss(recon, x, "l2"), "d_loss": adv.d_loss(cfg.loss, l_real, fake),
                 "g_loss": adv.g_loss(cfg.loss, fake)}
        if cfg.loss == "wgan-gp":
            parts["gp"] = adv.gradient_penalty(lambda v: model.discriminate(v, labels)[0], x, prior)
        enc_loss = weighted_sum(parts, {"kl": kl_weight(step, cfg.beta, cfg.kl_warmup_steps), "feature": 1.0,
                                        "recon": cfg.pixel_weight})
        dec_loss = weighted_sum(parts, {"feature": cfg.gamma, "g_loss": 1.0, "recon": cfg.pixel_weight})
        dis_loss = weighted_sum(parts, {"d_loss": 1.0, "gp": cfg.gp_weight})
        parts.update(enc_loss=enc_loss, dec_loss=dec_loss)
        return enc_loss, dec_loss, dis_loss, parts

    # -- training ------------------------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        x, labels = self._batch(batch)
        enc_loss, dec_loss, dis_loss, parts = self.losses(x, labels, int(self.global_step))
        model = self.model
        # each network: the gradient of its own loss only, from the same forward pass
        self.update.joint_step([(0, enc_loss, model.encoder), (1, dec_loss, model.generator),
                                (2, dis_loss, model.discriminator)], {**parts, "dis_loss": dis_loss})
        self.update.step_schedules()
        logs = {f"train/{k}": v.detach() for k, v in parts.items()}
        main = {k: logs.pop(k) for k in ("train/feature", "train/kl", "train/d_loss")}
        self.log_dict(main, prog_bar=True, batch_size=len(x))
        self.log_dict(logs, batch_size=len(x))

    # -- evaluation ----------------------------------------------------------------------------------------------
    def _eval_step(self, batch: dict[str, torch.Tensor], batch_idx: int, prefix: str) -> None:
        cfg, model = self.vaegan_cfg, self.model
        x, labels = self._batch(batch)
        mu, logvar = model.encode(x, labels)
        recon = model.decode(mu, labels)
        gen = torch.Generator().manual_seed(int(batch_idx))
        prior = model.decode(torch.randn(mu.shape, generator=gen).to(mu), labels)
        (l_real, l_recon, l_prior), (f_real, f_recon, _) = self._discriminate3(x, recon, prior, labels)
        fake = torch.cat([l_recon, l_prior])
        kl = kl_standard_normal(mu, logvar)
        feature = feature_error(f_real, f_recon)
        logs = {"recon": recon_loss(recon, x, "l2"), "feature": feature, "kl": kl, "loss": cfg.beta * kl + feature,
                "d_loss": adv.d_loss(cfg.loss, l_real, fake), "g_loss": adv.g_loss(cfg.loss, fake),
                "d_real": l_real.mean(), "d_recon": l_recon.mean(), "d_prior": l_prior.mean()}
        self.log_dict({f"{prefix}/{k}": v for k, v in logs.items()}, prog_bar=prefix == "val", batch_size=len(x),
                      sync_dist=True)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "test")

    # -- optimisers ----------------------------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        steps, m = self.train_cfg.max_steps, self.model
        return [build_optimizer(m.encoder.parameters(), self.optim_enc_cfg, steps),
                build_optimizer(m.generator.parameters(), self.optim_dec_cfg, steps),
                build_optimizer(m.discriminator.parameters(), self.optim_d_cfg, steps)]


# ------------------------------------------------------------------------------------------------ recipe checks
def _kwarg(recipe: Any, name: str) -> Any:
    """The model kwarg ``name`` of the recipe, or the constructor's default."""
    if name in recipe.model.kwargs:
        return recipe.model.kwargs[name]
    return inspect.signature(VAEGAN.__init__).parameters[name].default


def check_recipe(recipe: Any) -> None:
    """Cross-section constraints of a ``vaegan`` recipe; ConfigError naming the field at fault."""
    from speechgen.data.features import build_feature

    v: VAEGANSection = recipe.vaegan
    d: GenData = recipe.data
    m = "recipe.model.kwargs"
    if d.feature != "stft_image":
        raise ConfigError(f"recipe.data.feature: the vaegan scheme models image features ('stft_image'), "
                          f"got '{d.feature}'")
    if d.condition_channels:
        raise ConfigError("recipe.data.condition_channels: the vaegan scheme's model takes no condition")
    if d.channels and max(d.channels) > 1:
        raise ConfigError(f"recipe.data.channels: stft_image has channels 0 (amplitude) and 1 (phase), "
                          f"got {d.channels}")
    n_gen = len(d.channels) if d.channels else 2
    if _kwarg(recipe, "channels") != n_gen:
        raise ConfigError(f"{m}.channels: {_kwarg(recipe, 'channels')}, but the data gives {n_gen} channel(s) "
                          f"(recipe.data.channels: {d.channels})")
    feature = build_feature(d.feature, d.feature_params)
    for name, want in (("height", feature.n_bins), ("width", feature.n_frames)):  # type: ignore[attr-defined]
        if _kwarg(recipe, name) != want:
            raise ConfigError(f"{m}.{name}: {_kwarg(recipe, name)}, but the data gives images of "
                              f"{feature.n_bins} bins x {feature.n_frames} frames")  # type: ignore[attr-defined]
    stages, layer = _kwarg(recipe, "stages"), _kwarg(recipe, "feature_layer")
    for name, size in (("height", feature.n_bins), ("width", feature.n_frames)):  # type: ignore[attr-defined]
        if isinstance(stages, int) and stages > 0 and size % 2 ** stages:
            raise ConfigError(f"{m}.stages: {stages}, but the image's {name} {size} is not divisible by "
                              f"2^{stages}")
    if isinstance(stages, int) and not -stages <= layer < stages:
        raise ConfigError(f"{m}.feature_layer: {layer}, but the discriminator has {stages} blocks "
                          f"({-stages}..{stages - 1})")
    try:  # the encoder's convolutions must fit the image (a pure shape computation, no model is built)
        conv_output_shape(n_gen, feature.n_bins, feature.n_frames,  # type: ignore[attr-defined]
                          _kwarg(recipe, "enc_widths"), _kwarg(recipe, "enc_kernel_size"),
                          _kwarg(recipe, "enc_full_band"))
    except ConfigError as exc:
        raise ConfigError(f"{m}.{encoder_error(exc)}") from exc
    if v.loss == "wgan-gp" and _kwarg(recipe, "d_norm") == "batch":
        raise ConfigError(f"{m}.d_norm: 'batch' cannot be used with loss 'wgan-gp' (the gradient penalty is "
                          "per item; batch norm mixes items): use 'layer', 'instance' or 'none'")
    if _kwarg(recipe, "n_classes") and not d.labelled:
        raise ConfigError("recipe.data.labelled: a conditional model (n_classes > 0) needs labelled data")
    if d.batch_size < 2 and _kwarg(recipe, "d_norm") == "batch":
        raise ConfigError("recipe.data.batch_size: batch norm needs at least 2 items per batch")


class VAEGANScheme:
    """Recipe sections and builders of the ``vaegan`` scheme (VAE-GAN, conditional VAE-GAN)."""

    name = "vaegan"
    sections = {"data": GenData, "train": GenTrain, "optim_enc": OptimConfig, "optim_dec": OptimConfig,
                "optim_d": OptimConfig, "vaegan": VAEGANSection}
    models = ("vaegan",)

    @staticmethod
    def validate(recipe: Any) -> None:
        """Cross-section checks that need no model instance or data (also run by :meth:`build`)."""
        check_recipe(recipe)

    @staticmethod
    def build(recipe: Any, model: torch.nn.Module, checkpoint_extra: dict[str, Any] | None = None,
              ) -> tuple[L.LightningModule, L.LightningDataModule]:
        check_recipe(recipe)
        if not isinstance(model, VAEGAN):
            raise ConfigError(f"recipe.model.name: the vaegan scheme trains a 'vaegan' model, got "
                              f"{type(model).__name__}")
        dm = build_datamodule(recipe.data, recipe.seed)
        check_label_count(model, dm)
        spec = {"name": recipe.model.name, "kwargs": recipe.model.kwargs}
        module = VAEGANModule(model, spec, recipe.data, recipe.train, recipe.optim_enc, recipe.optim_dec,
                              recipe.optim_d, recipe.vaegan, checkpoint_extra)
        return module, dm
