"""The ``gan`` scheme: GANs on spectrogram images (model ``dcgan``), one scheme for the whole family; also on
log-mel frame windows (``data.frames``, model ``dcgan`` with ``arch: mlp``; see :mod:`speechgen.data.frames`).

WaveGAN and SpecGAN (Donahue, McAuley & Puckette 2019) are recipes of this scheme too: model ``wavegan`` on the
``waveform`` feature (``data.segment_length`` = the model's ``slice_len``; batches of ``[B, slice_len]``
waveforms, see :mod:`speechgen.models.wavegan`), and ``dcgan`` with ``kernel_size: 5`` on the ``specgan_image``
feature, whose per-bin training-set statistics :func:`~speechgen.training.schemes.generative.fit_feature` adds to the
data section (and to the checkpoints' recipe) when the scheme builds the data.

What a recipe picks:

- ``gan.loss``: ``"ns"`` (non-saturating GAN, DCGAN), ``"hinge"``, ``"lsgan"`` or ``"wgan-gp"`` (Wasserstein critic
  + ``gp_weight`` × gradient penalty, Gulrajani et al. 2017); see :mod:`speechgen.losses.adversarial`.
- conditioning (model kwargs): ``n_classes > 0`` makes a conditional GAN (label embedding in the generator,
  projection or label map in the discriminator); ``condition_channels`` + ``data.condition_channels`` hand a
  condition image (the phase of a real clip of the same digit) to both networks.
- ``gan.aux_weight`` with a model built with ``n_aux_classes``: the controllable GAN (AC-GAN style): the
  discriminator's auxiliary head learns the label of real images (cross-entropy in the critic step) and the
  generator is pushed to make images that head classifies as the asked label (cross-entropy in the generator
  step).
- ``gan.consistency_weight`` (conditional-WGAN-GP exp4): the STFT-consistency regulariser of
  :class:`~speechgen.losses.stft.StftConsistency` on the generated amplitude with the given phase.

The four experiments of "audio-digits-generator" on the 2 × 128 × 128 STFT image (channel 0: dB amplitude,
channel 1: phase / pi) are recipes ``cwgan-gp-exp1`` … ``exp4``: exp1 ``data.channels: [0]`` (amplitude, given the
digit; audio by Griffin-Lim), exp2 both channels given the digit (audio by iSTFT with the generated phase), exp3
``channels: [0]``, ``condition_channels: [1]`` (amplitude given the digit and a real phase image of that digit; at
sampling the phase comes from real clips of the asked digit and the audio is the iSTFT of the generated amplitude
with it), exp4 = exp3 + ``consistency_weight``.

**A training step** is ``gan.n_critic`` discriminator (critic) updates followed by one generator update.
``data.batch_size`` is the number of items **per update**: the data loader yields ``n_critic × batch_size`` items per
step, critic update ``k`` uses slice ``k`` of them (fresh real data for every critic update) with as many
generated items (same labels and condition images as its real slice), and the generator update generates
``batch_size`` items with the labels and conditions of the last slice. The critic steps through its raw
optimiser and the generator through Lightning's, so ``trainer.global_step`` advances once per training step:
``max_steps``, ``val_every``, ``checkpoint_every``, ``sample_every`` and ``--resume`` count generator updates.
Both learning-rate schedules (``optim_g``, ``optim_d``) advance once per training step; gradient clipping uses each
section's ``grad_clip``.

Logged: ``train/d_loss`` (the adversarial part of the critic loss, averaged over the critic updates),
``train/g_loss``, ``train/gp`` and ``train/wdist`` (``mean D(real) - mean D(fake)``, wgan-gp), ``train/r1``,
``train/aux_d``, ``train/aux_g``, ``train/aux_acc`` (the auxiliary head's accuracy on real data),
``train/consistency``, ``train/mode_seeking``; validation (``val/...``, and ``test/...`` after training): ``d_loss``, ``g_loss``,
``d_real``, ``d_fake``, ``wdist``, ``aux_acc``, ``aux_acc_fake`` (share of generated items the head assigns to
the asked label) and ``consistency`` (whenever the amplitude is generated with a given phase) on each batch of
real items against as many generated ones (latents from a generator seeded with the batch index).
"""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass
from typing import Any, Literal

import lightning as L
import torch
import torch.nn.functional as F

from speechgen.errors import ConfigError
from speechgen.losses import adversarial as adv
from speechgen.losses.stft import StftConsistency
from speechgen.training.adversarial import AdversarialUpdate, weighted_sum
from speechgen.models.dcgan import DCGAN
from speechgen.models.wavegan import WaveGAN
from speechgen.training.schemes.generative import (
    GenData, GenerativeModule, GenTrain, build_datamodule, check_label_count, fit_feature, frame_shape,
    split_channels,
)
from speechgen.training.optim import OptimConfig, build_optimizer


@dataclass
class GANSection:
    """``gan:`` section.

    loss: "ns", "hinge", "lsgan" or "wgan-gp". n_critic: discriminator updates per generator update (5 is
    WGAN-GP's). gp_weight: weight of the WGAN-GP gradient penalty (wgan-gp only; 10 in the paper). r1_weight:
    weight ``gamma`` of an R1 penalty ``gamma/2 · E||grad D(real)||^2`` (any loss; 0: off). aux_weight: weight of
    the auxiliary-classifier cross-entropies of the controllable GAN (needs a model with ``n_aux_classes``).
    consistency_weight: weight of the STFT-consistency regulariser (exp4; needs ``data.channels: [0]`` and
    ``data.condition_channels: [1]``; 0: off). mode_seeking_weight: weight of the mode-seeking term of MSGAN (Mao
    et al. 2019; 1 in the paper; 0: off): the generator also draws half its batch again from new latents with the
    same labels and conditions and minimises ``1 / (r + 1e-5)``, ``r`` the mean over pairs of
    ``mean|G(z1) - G(z2)| / mean|z1 - z2|``, so that different latents give different items (a conditional GAN
    otherwise tends to ignore its latent and draw one item per label).
    """

    loss: Literal["ns", "hinge", "lsgan", "wgan-gp"] = "ns"
    n_critic: int = 1
    gp_weight: float = 10.0
    r1_weight: float = 0.0
    aux_weight: float = 0.0
    consistency_weight: float = 0.0
    mode_seeking_weight: float = 0.0

    def validate(self, where: str) -> None:
        if self.n_critic < 1:
            raise ConfigError(f"{where}.n_critic: must be >= 1, got {self.n_critic}")
        for k in ("gp_weight", "r1_weight", "aux_weight", "consistency_weight", "mode_seeking_weight"):
            if getattr(self, k) < 0:
                raise ConfigError(f"{where}.{k}: must be >= 0, got {getattr(self, k)}")
        if self.loss == "wgan-gp" and self.gp_weight <= 0:
            raise ConfigError(f"{where}.gp_weight: loss 'wgan-gp' needs a gradient penalty (> 0; the paper's is 10)")


# ------------------------------------------------------------------------------------------------ Lightning module
def _take(x: torch.Tensor | None, idx: torch.Tensor) -> torch.Tensor | None:
    return None if x is None else x[idx]


class GANModule(GenerativeModule):
    """LightningModule of the ``gan`` scheme (see the module docstring)."""

    def __init__(self, model: DCGAN, model_spec: dict[str, Any], data: GenData, train: GenTrain,
                 optim_g: OptimConfig, optim_d: OptimConfig, gan: GANSection,
                 checkpoint_extra: dict[str, Any] | None = None) -> None:
        super().__init__(model, model_spec, data, train, checkpoint_extra)
        self.optim_g_cfg, self.optim_d_cfg, self.gan_cfg = optim_g, optim_d, gan
        self.automatic_optimization = False
        self.update = AdversarialUpdate(self, model.discriminator, [optim_g, optim_d])
        self.use_labels = bool(model.n_classes or model.n_aux_classes)
        self.consistency = consistency_for(data) if data.feature == "stft_image" else None
        if gan.consistency_weight > 0 and self.consistency is None:
            raise ConfigError("recipe.gan.consistency_weight: needs data.channels [0] (amplitude) and "
                              "data.condition_channels [1] (phase) of an stft_image feature")

    # -- pieces --------------------------------------------------------------------------------------------------
    def _batch(self, batch: dict[str, torch.Tensor],
               ) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor | None]:
        x, cond = split_channels(batch, self.data_cfg)
        labels = batch["label"] if self.use_labels else None
        return x, labels, cond

    def _z(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        if generator is None:
            return torch.randn(n, self.model.latent_dim, device=self.device)
        return torch.randn(n, self.model.latent_dim, generator=generator).to(self.device)

    def critic_loss(self, x: torch.Tensor, labels: torch.Tensor | None, cond: torch.Tensor | None,
                    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The critic's total loss on real items ``x`` against as many generated ones, and its parts."""
        cfg, model = self.gan_cfg, self.model
        with torch.no_grad():
            fake = model.generate(self._z(len(x)), labels, cond)
        real_logit, real_aux, _ = model.discriminate(x, labels, cond)
        fake_logit, _, _ = model.discriminate(fake, labels, cond)
        parts = {"d_loss": adv.d_loss(cfg.loss, real_logit, fake_logit)}
        if cfg.loss == "wgan-gp":
            parts["gp"] = adv.gradient_penalty(lambda v: model.discriminate(v, labels, cond)[0], x, fake)
            parts["wdist"] = (real_logit.mean() - fake_logit.mean()).detach()
        if cfg.r1_weight > 0:
            parts["r1"] = adv.r1_penalty(lambda v: model.discriminate(v, labels, cond)[0], x)
        if real_aux is not None and labels is not None and cfg.aux_weight > 0:
            parts["aux_d"] = F.cross_entropy(real_aux, labels)
            parts["aux_acc"] = (real_aux.argmax(1) == labels).float().mean()
        weights = {"d_loss": 1.0, "gp": cfg.gp_weight, "r1": cfg.r1_weight, "aux_d": cfg.aux_weight}
        return weighted_sum(parts, weights), parts

    def generator_loss(self, n: int, labels: torch.Tensor | None, cond: torch.Tensor | None,
                       ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The generator's total loss on ``n`` generated items, and its parts (the discriminator is not updated)."""
        cfg, model = self.gan_cfg, self.model
        z = self._z(n)
        fake = model.generate(z, labels, cond)
        logit, aux, _ = model.discriminate(fake, labels, cond)
        parts = {"g_loss": adv.g_loss(cfg.loss, logit)}
        if cfg.mode_seeking_weight > 0 and n >= 2:
            half = torch.arange(n // 2, device=fake.device)
            z2 = self._z(len(half))
            again = model.generate(z2, _take(labels, half), _take(cond, half))
            ratio = ((fake[half] - again).abs().flatten(1).mean(1) / (z[half] - z2).abs().mean(1)).mean()
            parts["mode_seeking"] = 1.0 / (ratio + 1e-5)
        if aux is not None and labels is not None and cfg.aux_weight > 0:
            parts["aux_g"] = F.cross_entropy(aux, labels)
        if cfg.consistency_weight > 0 and self.consistency is not None and cond is not None:
            parts["consistency"] = self.consistency(fake, cond)
        weights = {"g_loss": 1.0, "mode_seeking": cfg.mode_seeking_weight, "aux_g": cfg.aux_weight,
                   "consistency": cfg.consistency_weight}
        return weighted_sum(parts, weights), parts

    # -- training ------------------------------------------------------------------------------------------------
    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        cfg = self.gan_cfg
        x, labels, cond = self._batch(batch)
        slices = torch.arange(len(x), device=x.device).chunk(cfg.n_critic)
        sums: dict[str, torch.Tensor] = {}
        for k in range(cfg.n_critic):
            idx = slices[k % len(slices)]
            total, parts = self.critic_loss(x[idx], _take(labels, idx), _take(cond, idx))
            self.update.critic_step(total, parts)
            for name, v in parts.items():
                sums[name] = sums.get(name, 0.0) + v.detach() / cfg.n_critic
        idx = slices[(cfg.n_critic - 1) % len(slices)]
        _, parts = self.update.generator_step(
            lambda: self.generator_loss(len(idx), _take(labels, idx), _take(cond, idx)))
        self.update.step_schedules()
        logs = {f"train/{k}": v.detach() for k, v in {**sums, **parts}.items()}
        main = {k: logs.pop(k) for k in ("train/d_loss", "train/g_loss")}
        self.log_dict(main, prog_bar=True, batch_size=len(idx))
        self.log_dict(logs, batch_size=len(idx))

    # -- evaluation ----------------------------------------------------------------------------------------------
    def _eval_step(self, batch: dict[str, torch.Tensor], batch_idx: int, prefix: str) -> None:
        cfg, model = self.gan_cfg, self.model
        x, labels, cond = self._batch(batch)
        gen = torch.Generator().manual_seed(int(batch_idx))
        fake = model.generate(self._z(len(x), gen), labels, cond)
        real_logit, real_aux, _ = model.discriminate(x, labels, cond)
        fake_logit, fake_aux, _ = model.discriminate(fake, labels, cond)
        logs = {"d_loss": adv.d_loss(cfg.loss, real_logit, fake_logit), "g_loss": adv.g_loss(cfg.loss, fake_logit),
                "d_real": real_logit.mean(), "d_fake": fake_logit.mean()}
        if cfg.loss == "wgan-gp":
            logs["wdist"] = real_logit.mean() - fake_logit.mean()
        if real_aux is not None and fake_aux is not None and labels is not None:
            logs["aux_acc"] = (real_aux.argmax(1) == labels).float().mean()
            logs["aux_acc_fake"] = (fake_aux.argmax(1) == labels).float().mean()
        if self.consistency is not None and cond is not None:
            logs["consistency"] = self.consistency(fake, cond)
        self.log_dict({f"{prefix}/{k}": v for k, v in logs.items()}, batch_size=len(x), sync_dist=True)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, batch_idx, "test")

    # -- optimisers ----------------------------------------------------------------------------------------------
    def configure_optimizers(self) -> Any:
        steps = self.train_cfg.max_steps
        return [build_optimizer(self.model.generator.parameters(), self.optim_g_cfg, steps),
                build_optimizer(self.model.discriminator.parameters(), self.optim_d_cfg, steps)]


def consistency_for(data: GenData) -> StftConsistency | None:
    """The exp4 regulariser when ``data`` generates the amplitude (channel 0) given the phase (channel 1)."""
    from speechgen.data.features import build_feature

    if data.feature != "stft_image" or list(data.channels or []) != [0] or list(data.condition_channels or []) != [1]:
        return None
    return StftConsistency.from_feature(build_feature(data.feature, data.feature_params))


# ------------------------------------------------------------------------------------------------ recipe checks
def _kwarg(recipe: Any, name: str) -> Any:
    """The model kwarg ``name`` of the recipe, or the constructor's default."""
    if name in recipe.model.kwargs:
        return recipe.model.kwargs[name]
    return inspect.signature(GAN_MODELS[recipe.model.name].__init__).parameters[name].default


#: models the ``gan`` scheme trains (a class per registry name, for constructor defaults in the recipe checks)
GAN_MODELS: dict[str, type] = {"dcgan": DCGAN, "wavegan": WaveGAN}
#: image features (with their channel counts) the ``dcgan`` model can be trained on
IMAGE_FEATURES: dict[str, int] = {"stft_image": 2, "specgan_image": 1}
#: models of raw waveforms (checked by :func:`check_waveform_recipe`)
WAVEFORM_MODELS: tuple[str, ...] = ("wavegan",)


def check_waveform_recipe(recipe: Any) -> None:
    """Cross-section constraints of a ``gan`` recipe with the waveform model ``wavegan``."""
    d: GenData = recipe.data
    if d.feature != "waveform":
        raise ConfigError(f"recipe.data.feature: model 'wavegan' generates raw audio; use feature 'waveform', got "
                          f"'{d.feature}'")
    for name in ("channels", "condition_channels", "frames"):
        if getattr(d, name, None):
            raise ConfigError(f"recipe.data.{name}: waveforms have no channels, frames or condition inputs; leave "
                              f"it unset (got {getattr(d, name)})")
    slice_len = _kwarg(recipe, "slice_len")
    if d.segment_length != slice_len:
        raise ConfigError(f"recipe.data.segment_length: {d.segment_length}, but the model generates "
                          f"{slice_len} samples (recipe.model.kwargs.slice_len); set them equal")
    if recipe.gan.consistency_weight > 0:
        raise ConfigError("recipe.gan.consistency_weight: the STFT-consistency regulariser needs stft_image data, "
                          "not waveforms")
    check_labels(recipe)


def check_labels(recipe: Any) -> None:
    """Label and auxiliary-classifier constraints shared by every ``gan`` model."""
    g: GANSection = recipe.gan
    d: GenData = recipe.data
    m = "recipe.model.kwargs"
    n_classes, n_aux = _kwarg(recipe, "n_classes"), _kwarg(recipe, "n_aux_classes")
    if (n_classes or n_aux) and not d.labelled:
        raise ConfigError("recipe.data.labelled: a conditional model (n_classes or n_aux_classes > 0) needs "
                          "labelled data")
    if n_aux and not n_classes:
        raise ConfigError(f"{m}.n_aux_classes: an auxiliary classifier steers a conditional generator; set "
                          f"{m}.n_classes too")
    if g.aux_weight > 0 and not n_aux:
        raise ConfigError(f"recipe.gan.aux_weight: the model has no auxiliary classifier head (set "
                          f"{m}.n_aux_classes)")
    if n_aux and g.aux_weight <= 0:
        raise ConfigError("recipe.gan.aux_weight: the model's auxiliary classifier head is trained only with "
                          "aux_weight > 0")


def check_recipe(recipe: Any) -> None:
    """Cross-section constraints of a ``gan`` recipe; ConfigError naming the field at fault."""
    from speechgen.data.features import build_feature

    if recipe.model.name in WAVEFORM_MODELS:
        check_waveform_recipe(recipe)
        return
    g: GANSection = recipe.gan
    d: GenData = recipe.data
    m = "recipe.model.kwargs"
    frames = frame_shape(d)  # log-mel frame windows (1, n_mels, context), or None for images
    if frames is None and d.feature not in IMAGE_FEATURES:
        raise ConfigError(f"recipe.data.feature: the gan scheme models image features ('stft_image', "
                          f"'specgan_image'), waveforms (model 'wavegan') or log-mel "
                          f"frame windows ('log_mel' with data.frames), got '{d.feature}'")
    n_img = IMAGE_FEATURES.get(d.feature, 2)
    for name in ("channels", "condition_channels"):
        v = getattr(d, name)
        if v and max(v) >= n_img:
            raise ConfigError(f"recipe.data.{name}: stft_image has channels 0 (amplitude) and 1 (phase), got {v}"
                              if n_img == 2 else f"recipe.data.{name}: {d.feature} has one channel (0), got {v}")
    if d.condition_channels and not d.channels:
        raise ConfigError("recipe.data.channels: name the generated channels when data.condition_channels is set "
                          "(e.g. [0] with condition_channels [1])")
    n_gen = 1 if frames is not None else (len(d.channels) if d.channels else n_img)
    n_cond = len(d.condition_channels or [])
    if frames is not None:
        height, width, what = frames[1], frames[2], f"windows of {frames[1]} mel bands x {frames[2]} frames"
    else:
        feature = build_feature(d.feature, d.feature_params)
        height, width = feature.n_bins, feature.n_frames  # type: ignore[attr-defined]
        what = f"images of {height} bins x {width} frames"
    if _kwarg(recipe, "channels") != n_gen:
        raise ConfigError(f"{m}.channels: {_kwarg(recipe, 'channels')}, but the data gives {n_gen} generated "
                          f"channel(s) (recipe.data.channels: {d.channels})")
    for name, want in (("height", height), ("width", width)):
        if _kwarg(recipe, name) != want:
            raise ConfigError(f"{m}.{name}: {_kwarg(recipe, name)}, but the data gives {what}")
    cc = _kwarg(recipe, "condition_channels")
    if n_cond and cc != n_cond:
        raise ConfigError(f"{m}.condition_channels: {cc}, but recipe.data.condition_channels hands the model "
                          f"{n_cond} condition channel(s)")
    if cc and not n_cond:
        raise ConfigError(f"recipe.data.condition_channels: the model takes {cc} condition channel(s); name the "
                          "feature channels to condition on (e.g. [1], the phase)")
    norm = _kwarg(recipe, "d_norm")
    if norm == "batch" and g.loss == "wgan-gp":
        raise ConfigError(f"{m}.d_norm: 'batch' cannot be used with loss 'wgan-gp' (the gradient penalty is "
                          "per item; batch norm mixes items): use 'layer', 'instance' or 'none'")
    if norm == "batch" and g.r1_weight > 0:
        raise ConfigError(f"{m}.d_norm: 'batch' cannot be used with an R1 penalty (recipe.gan.r1_weight)")
    check_labels(recipe)
    if g.consistency_weight > 0 and (list(d.channels or []) != [0] or list(d.condition_channels or []) != [1]):
        raise ConfigError(f"recipe.gan.consistency_weight: the STFT-consistency regulariser needs the amplitude "
                          f"generated (data.channels: [0]) given the phase (data.condition_channels: [1]); got "
                          f"channels {d.channels}, condition_channels {d.condition_channels}")


class GANScheme:
    """Recipe sections and builders of the ``gan`` scheme (GAN, DCGAN, conditional / controllable GAN, WGAN-GP)."""

    name = "gan"
    sections = {"data": GenData, "train": GenTrain, "optim_g": OptimConfig, "optim_d": OptimConfig,
                "gan": GANSection}
    models = ("dcgan", "wavegan")

    @staticmethod
    def validate(recipe: Any) -> None:
        """Cross-section checks that need no data (also run by :meth:`build`)."""
        check_recipe(recipe)

    @staticmethod
    def build(recipe: Any, model: torch.nn.Module, checkpoint_extra: dict[str, Any] | None = None,
              ) -> tuple[L.LightningModule, L.LightningDataModule]:
        check_recipe(recipe)
        # features with training-set statistics (specgan_image) get them here, also in the checkpoints' recipe
        d, checkpoint_extra = fit_feature(recipe.data, checkpoint_extra)
        # the loader yields n_critic x batch_size items per training step (one slice per critic update)
        dm = build_datamodule(dataclasses.replace(d, batch_size=d.batch_size * recipe.gan.n_critic), recipe.seed)
        check_label_count(model, dm, ("n_classes", "n_aux_classes"))
        spec = {"name": recipe.model.name, "kwargs": recipe.model.kwargs}
        module = GANModule(model, spec, d, recipe.train, recipe.optim_g, recipe.optim_d, recipe.gan,
                           checkpoint_extra)
        return module, dm
