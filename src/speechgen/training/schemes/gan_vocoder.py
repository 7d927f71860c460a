"""The ``vocoder`` scheme: GAN vocoders (HiFi-GAN, MelGAN, and every :class:`~speechgen.models.vocoder.GANVocoder`)
trained on matched audio segments and log-mel frames.

Sections: ``data`` (:class:`VocoderData`), ``train`` (:class:`VocoderTrain`), ``optim_g`` / ``optim_d``
(:class:`~speechgen.training.optim.OptimConfig` of the generator and the discriminator) and ``losses``
(:class:`VocoderLosses`). Checked when the recipe loads, naming the field: the model is a GAN vocoder, the product
of its upsampling rates equals the hop length of its ``feature_params``, ``data.sample_rate`` /
``data.feature_params`` (when given) agree with the model's, ``data.segment_length`` is a multiple of the hop and
long enough for the spectral losses.

**A training step** (manual optimisation, two optimisers) takes a batch of ``data.batch_size`` segments
(``"audio"`` ``[B, segment_length]``, ``"mel"`` ``[B, n_mels, segment_length / hop]``) and

1. generates ``x̂ = G(mel)``;
2. once ``global_step >= losses.disc_start_step``: updates the discriminator on ``(x, x̂.detach())`` with the
   ``losses.adversarial`` objective summed over its sub-discriminators (the raw optimiser: this update does not
   advance ``trainer.global_step``);
3. updates the generator (Lightning's optimiser: ``global_step`` advances once per step) on
   ``mel_weight · L_mel + mrstft_weight · (L_sc + L_mag) + phase_weight · (L_IP + L_GD + L_IAF)`` plus, once the discriminator has started,
   ``adv_weight · Σ_k L_adv(D_k(x̂)) + fm_weight · L_fm`` (the discriminator frozen);
4. steps both learning-rate schedules.

**A supervised stage** (a model whose :attr:`~speechgen.models.vocoder.GANVocoder.supervised_stage` is True, e.g.
ResGAN built with ``stage: pulse``) replaces steps 1-3 by one generator-optimiser update on the model's own
:meth:`~speechgen.models.vocoder.GANVocoder.supervised_loss` (logged as ``train/g_loss`` and ``train/<part>``); the
discriminator is not used — unless the model has a magnitude critic (the iSTFT vocoder's ``magnitude_critic``): from
``disc_start_step`` each step first updates that critic on the target's and the head's magnitudes, then adds its
``adv_weight · L_adv + fm_weight · L_fm`` to the supervised loss. ``train.init_from`` starts a run from the weights
of an earlier checkpoint (every tensor whose name and shape match), which chains such a stage to the GAN stage that
follows it.

The conditioning input is the model's feature (:attr:`~speechgen.models.vocoder.GANVocoder.feature`: log-mel for
mel vocoders, ``mfcc_f0`` for ResGAN, ``log_mel_f0`` for the iSTFT vocoder with ``f0_prior``); the batch key stays
``"mel"``.

Loss definitions: :mod:`speechgen.losses.stft` (mel L1 with ``mel_fmax``, MR-STFT) and
:mod:`speechgen.losses.adversarial` (``"lsgan"``: ``(D(x)-1)²/2 + D(x̂)²/2`` and ``(D(x̂)-1)²/2``, i.e. half the
HiFi-GAN paper's squared errors, hence ``adv_weight: 2`` in the HiFi-GAN recipes; ``"hinge"``; feature matching
summed or averaged over layers).

Logged: ``train/g_loss`` (the generator's total), ``train/d_loss``, ``train/adv``, ``train/fm``, ``train/mel_l1``,
``train/mrstft`` (when weighted); validation (``val/...``, ``test/...`` after training): ``mel_l1`` and
``mrstft`` (spectral convergence + log magnitude) of copy-synthesis of the valid clips (centred
``eval_segment_length`` crops). Every ``train.sample_every`` steps ``RUN/samples/step-NNNNNNN/`` receives the
copy-synthesis of ``train.n_samples`` valid clips (``NAME.wav``, their references ``NAME.ref.wav``) and
``metrics.json`` with each clip's mel L1 and MR-STFT.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch

from speechgen.errors import ConfigError
from speechgen.losses import adversarial as adv
from speechgen.losses.stft import PWG_RESOLUTIONS, MelL1Loss, MultiResolutionSTFTLoss, PhaseLoss
from speechgen.models.vocoder import GANVocoder, feature_params_for
from speechgen.training.adversarial import AdversarialUpdate, weighted_sum
from speechgen.training.optim import OptimConfig, TrainSection, build_optimizer


# ------------------------------------------------------------------------------------------------ sections
@dataclass
class VocoderData:
    """``data:`` section.

    manifest: corpus manifest CSV (or its folder); every row is used (labels are not needed). sample_rate: rate
    audio is loaded at (null: the model's; when given it must equal it). segment_length: training crop in samples
    (a multiple of the hop; 8192 in the papers). eval_segment_length: centred crop of the valid/test clips (null:
    ``segment_length``). batch_size: segments per batch **per device**. num_workers: loader processes.
    feature_params: log-mel parameters (null: the model's ``feature_params``; when given they must equal them).
    """

    manifest: str
    sample_rate: int | None = None
    segment_length: int = 8192
    eval_segment_length: int | None = None
    batch_size: int = 16
    num_workers: int = 0
    feature_params: dict[str, Any] | None = None

    def validate(self, where: str) -> None:
        for k in ("segment_length", "batch_size"):
            if getattr(self, k) <= 0:
                raise ConfigError(f"{where}.{k}: must be > 0, got {getattr(self, k)}")
        if self.sample_rate is not None and self.sample_rate <= 0:
            raise ConfigError(f"{where}.sample_rate: must be > 0, got {self.sample_rate}")
        if self.eval_segment_length is not None and self.eval_segment_length <= 0:
            raise ConfigError(f"{where}.eval_segment_length: must be > 0, got {self.eval_segment_length}")
        if self.num_workers < 0:
            raise ConfigError(f"{where}.num_workers: must be >= 0, got {self.num_workers}")


@dataclass
class VocoderTrain(TrainSection):
    """``train:`` section (see :class:`~speechgen.training.optim.TrainSection`).

    sample_every: write copy-synthesis WAVs of ``n_samples`` valid clips with their mel L1 / MR-STFT every this
    many steps (0: off). val_items: valid clips used by each validation (0: all). init_from: a checkpoint folder
    (or run folder) whose weights initialise the model before training (tensors whose name and shape match; the
    others keep their initialisation; null: none) — e.g. ResGAN's noise stage starting from its pulse stage.
    """

    max_steps: int = 100000
    val_every: int = 5000
    checkpoint_every: int = 5000
    log_every: int = 100
    sample_every: int = 5000
    n_samples: int = 4
    val_items: int = 0
    init_from: str | None = None

    def validate(self, where: str) -> None:
        super().validate(where)
        if self.sample_every < 0 or self.n_samples <= 0 or self.val_items < 0:
            raise ConfigError(f"{where}: sample_every and val_items must be >= 0 and n_samples > 0")
        if self.init_from is not None and not str(self.init_from).strip():
            raise ConfigError(f"{where}.init_from: expected a checkpoint folder or null, got an empty string")


@dataclass
class VocoderLosses:
    """``losses:`` section.

    adversarial: "lsgan" (HiFi-GAN) or "hinge" (MelGAN). adv_weight: weight of the generator's adversarial loss.
    fm_weight: weight of feature matching (0: off); fm_reduction: "sum" over layers (the papers') or "mean".
    mel_weight: weight of the log-mel L1 loss (45 in HiFi-GAN; 0: off); mel_fmax: its upper band edge (null: the
    Nyquist frequency, as in HiFi-GAN). mrstft_weight: weight of the multi-resolution STFT loss (0: off);
    mrstft_resolutions: its (n_fft, hop, win) triples (Parallel WaveGAN's by default). phase_weight: weight of
    the anti-wrapped phase loss (IP + GD + IAF, :class:`~speechgen.losses.stft.PhaseLoss`; 0: off) at
    phase_resolution [n_fft, hop, win] (null: the features'). disc_start_step: the discriminator and the
    adversarial/feature-matching terms start at this step (0: from the first step).
    """

    adversarial: Literal["lsgan", "hinge"] = "lsgan"
    adv_weight: float = 1.0
    fm_weight: float = 2.0
    fm_reduction: Literal["sum", "mean"] = "sum"
    mel_weight: float = 45.0
    mel_fmax: float | None = None
    mrstft_weight: float = 0.0
    mrstft_resolutions: list[list[int]] = field(default_factory=lambda: [list(r) for r in PWG_RESOLUTIONS])
    phase_weight: float = 0.0
    phase_resolution: list[int] | None = None
    disc_start_step: int = 0

    def validate(self, where: str) -> None:
        for k in ("adv_weight", "fm_weight", "mel_weight", "mrstft_weight", "phase_weight"):
            if getattr(self, k) < 0:
                raise ConfigError(f"{where}.{k}: must be >= 0, got {getattr(self, k)}")
        if self.disc_start_step < 0:
            raise ConfigError(f"{where}.disc_start_step: must be >= 0, got {self.disc_start_step}")
        if self.mel_weight == 0 and self.mrstft_weight == 0 and self.adv_weight == 0 and self.phase_weight == 0:
            raise ConfigError(f"{where}: every loss weight is 0 (mel_weight, mrstft_weight, phase_weight, "
                              "adv_weight)")
        r = self.phase_resolution
        if r is not None and (len(r) != 3 or min(r) <= 0 or r[2] > r[0]):
            raise ConfigError(f"{where}.phase_resolution: expected [n_fft, hop, win] with 0 < win <= n_fft, got {r}")
        if self.mel_fmax is not None and self.mel_fmax <= 0:
            raise ConfigError(f"{where}.mel_fmax: must be > 0, got {self.mel_fmax}")
        for i, r in enumerate(self.mrstft_resolutions):
            if len(r) != 3 or min(r) <= 0 or r[2] > r[0]:
                raise ConfigError(f"{where}.mrstft_resolutions[{i}]: expected [n_fft, hop, win] with 0 < win <= "
                                  f"n_fft, got {r}")


# ------------------------------------------------------------------------------------------------ Lightning module
class VocoderModule(L.LightningModule):
    """LightningModule of the ``vocoder`` scheme (see the module docstring)."""

    def __init__(self, model: GANVocoder, model_spec: dict[str, Any], data: VocoderData, train: VocoderTrain,
                 optim_g: OptimConfig, optim_d: OptimConfig, losses: VocoderLosses,
                 checkpoint_extra: dict[str, Any] | None = None) -> None:
        super().__init__()
        if model.discriminator is None:
            raise ConfigError("recipe.model.kwargs.discriminators: training needs the discriminators (true)")
        self.model = model
        self.model_spec = model_spec
        self.data_cfg, self.train_cfg, self.loss_cfg = data, train, losses
        self.optim_g_cfg, self.optim_d_cfg = optim_g, optim_d
        self.checkpoint_extra = dict(checkpoint_extra or {})
        self.automatic_optimization = False
        self.update = AdversarialUpdate(self, model.discriminator, [optim_g, optim_d])
        fp = model.feature_params
        self.mel_loss = MelL1Loss(model.sample_rate, fp["n_fft"], fp["hop_length"], fp["win_length"], fp["n_mels"],
                                  fp["fmin"], losses.mel_fmax, fp.get("eps", 1e-5))
        self.mrstft = MultiResolutionSTFTLoss(losses.mrstft_resolutions)
        n_fft, hop, win = losses.phase_resolution or (fp["n_fft"], fp["hop_length"], fp["win_length"])
        self.phase = PhaseLoss(int(n_fft), int(hop), int(win)) if losses.phase_weight > 0 else None
        self._val_seen = 0

    # -- pieces --------------------------------------------------------------------------------------------------
    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor, critic: Any = None) -> torch.Tensor:
        """Adversarial loss of the discriminator on real and (detached) generated audio ``[B, 1, T]`` (or of
        ``critic`` on whatever it judges, e.g. magnitudes)."""
        judge = self.model.discriminate if critic is None else critic
        real_logits, _ = judge(real)
        fake_logits, _ = judge(fake.detach())
        kind = self.loss_cfg.adversarial
        return torch.stack([adv.d_loss(kind, r, f) for r, f in zip(real_logits, fake_logits)]).sum()

    def spectral_losses(self, real: torch.Tensor, fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """The spectral terms: ``mel_l1`` (always; without gradient when unweighted) and ``mrstft`` (when weighted)."""
        out = {}
        if self.loss_cfg.mel_weight > 0:
            out["mel_l1"] = self.mel_loss(real, fake)
        else:  # still logged: the one number every vocoder run reports
            with torch.no_grad():
                out["mel_l1"] = self.mel_loss(real, fake.detach())
        if self.loss_cfg.mrstft_weight > 0:
            out["mrstft"] = self.mrstft.total(real, fake)
        if self.phase is not None:
            out["phase"] = self.phase.total(real, fake)
        return out

    def generator_loss(self, real: torch.Tensor, fake: torch.Tensor, adversarial: bool,
                       ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The generator's total loss and its parts (the discriminator must be frozen by the caller)."""
        cfg = self.loss_cfg
        parts = self.spectral_losses(real, fake)
        if adversarial:
            with torch.no_grad():
                _, real_feats = self.model.discriminate(real)
            fake_logits, fake_feats = self.model.discriminate(fake)
            parts["adv"] = torch.stack([adv.g_loss(cfg.adversarial, f) for f in fake_logits]).sum()
            if cfg.fm_weight > 0:
                parts["fm"] = adv.feature_matching_loss(real_feats, fake_feats, cfg.fm_reduction)
        weights = {"mel_l1": cfg.mel_weight, "mrstft": cfg.mrstft_weight, "phase": cfg.phase_weight,
                   "adv": cfg.adv_weight, "fm": cfg.fm_weight}
        if not any(weights.get(k, 0) for k in parts):  # only the logged mel L1 before the discriminator starts
            return fake.new_zeros(()), parts
        return weighted_sum(parts, weights), parts

    def critic_terms(self, target: torch.Tensor, mag: torch.Tensor) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The magnitude loss plus the magnitude critic's adversarial and feature-matching terms (critic frozen by
        the caller)."""
        cfg, critic = self.loss_cfg, self.model.discriminator
        loss, parts = self.model.magnitude_loss(mag, target)
        with torch.no_grad():
            _, real_feats = critic(target)
        fake_logits, fake_feats = critic(mag)
        parts["adv"] = torch.stack([adv.g_loss(cfg.adversarial, f) for f in fake_logits]).sum()
        parts["fm"] = adv.feature_matching_loss(real_feats, fake_feats, cfg.fm_reduction)
        return loss + weighted_sum(parts, {"adv": cfg.adv_weight, "fm": cfg.fm_weight}), parts

    # -- training ------------------------------------------------------------------------------------------------
    def supervised_step(self, batch: dict[str, torch.Tensor]) -> None:
        """One update of a supervised stage: the model's own loss, the generator's optimiser; with a magnitude
        critic (from ``disc_start_step``) first a critic update on the target's and the head's magnitudes, then
        the adversarial and feature-matching terms added to the generator's loss."""
        model, cfg = self.model, self.loss_cfg
        if not getattr(model, "magnitude_critic", False) or int(self.global_step) < cfg.disc_start_step:
            loss, parts = self.update.generator_step(
                lambda: model.supervised_loss(batch["audio"], batch["mel"]), name="g_loss")
        else:
            mag, target = model.magnitudes(batch["audio"], batch["mel"])
            d_loss = self.discriminator_loss(target, mag, model.discriminator)
            self.update.critic_step(d_loss, name="d_loss")
            self.log("train/d_loss", d_loss.detach(), batch_size=len(batch["audio"]))
            loss, parts = self.update.generator_step(lambda: self.critic_terms(target, mag), name="g_loss")
        self.update.step_schedules()
        self.log("train/g_loss", loss.detach(), prog_bar=True, batch_size=len(batch["audio"]))
        if parts:
            self.log_dict({f"train/{k}": v.detach() for k, v in parts.items()}, batch_size=len(batch["audio"]))

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        if self.model.supervised_stage:
            self.supervised_step(batch)
            return
        real = batch["audio"].unsqueeze(1)
        fake = self.model.generator(batch["mel"])
        adversarial = int(self.global_step) >= self.loss_cfg.disc_start_step
        logs: dict[str, torch.Tensor] = {}
        if adversarial:
            d_loss = self.discriminator_loss(real, fake)
            self.update.critic_step(d_loss, name="d_loss")
            logs["train/d_loss"] = d_loss.detach()
        g_loss, parts = self.update.generator_step(lambda: self.generator_loss(real, fake, adversarial),
                                                   name="g_loss")
        self.update.step_schedules()
        logs["train/g_loss"] = g_loss.detach()
        logs["train/mel_l1"] = parts["mel_l1"].detach()
        self.log_dict(logs, prog_bar=True, batch_size=len(real))
        rest = {f"train/{k}": v.detach() for k, v in parts.items() if k != "mel_l1"}
        if rest:
            self.log_dict(rest, batch_size=len(real))

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        every = self.train_cfg.sample_every
        step = int(self.global_step)
        if every and step > 0 and step % every == 0 and self.trainer.is_global_zero:
            self.write_samples(step)

    # -- evaluation ----------------------------------------------------------------------------------------------
    def on_validation_epoch_start(self) -> None:
        self._val_seen = 0

    def on_test_epoch_start(self) -> None:
        self._val_seen = 0

    def _eval_step(self, batch: dict[str, torch.Tensor], prefix: str) -> None:
        limit = self.train_cfg.val_items
        if limit and self._val_seen >= limit:
            return
        audio, mel = batch["audio"], batch["mel"]
        if limit:
            audio, mel = audio[: limit - self._val_seen], mel[: limit - self._val_seen]
        self._val_seen += len(audio)
        fake = self.model.generator(mel)[:, 0]
        logs = {f"{prefix}/mel_l1": self.mel_loss(audio, fake), f"{prefix}/mrstft": self.mrstft.total(audio, fake)}
        self.log_dict(logs, prog_bar=prefix == "val", batch_size=len(audio), sync_dist=True)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    # -- samples -------------------------------------------------------------------------------------------------
    @torch.no_grad()
    def write_samples(self, step: int) -> Path:
        """Copy-synthesis of the first ``train.n_samples`` valid clips (train clips when there is no valid split)
        into ``RUN/samples/step-NNNNNNN/`` with ``metrics.json`` (per-clip mel L1 and MR-STFT)."""
        from speechgen.atomic import ensure_dir, write_text
        from speechgen.audio import io as audio_io

        dm = self.trainer.datamodule
        split = "valid" if len(dm.manifest.select("valid")) else "train"
        ds = dm.dataset(split)
        n = min(self.train_cfg.n_samples, len(ds))
        items = [ds[(0, i)] for i in range(n)]
        was_training = self.model.training
        self.model.eval()
        try:
            mel = torch.stack([it["mel"] for it in items]).to(self.device)
            real = torch.stack([it["audio"] for it in items]).to(self.device)
            fake = self.model.generator(mel)[:, 0].float()
        finally:
            self.model.train(was_training)
        out = ensure_dir(Path(self.trainer.default_root_dir) / "samples" / f"step-{step:07d}")
        sr = self.model.sample_rate
        clips = {}
        for i, it in enumerate(items):
            name = Path(str(ds.manifest.rows[int(it["index"])]["path"])).stem
            audio_io.save(out / f"{name}.wav", fake[i].cpu().numpy(), sr)
            audio_io.save(out / f"{name}.ref.wav", real[i].cpu().numpy(), sr)
            clips[name] = {"mel_l1": float(self.mel_loss(real[i: i + 1], fake[i: i + 1])),
                           "mrstft": float(self.mrstft.total(real[i: i + 1], fake[i: i + 1]))}
        summary = {"step": step, "split": split, "clips": clips,
                   "mean": {k: sum(c[k] for c in clips.values()) / max(1, len(clips)) for k in ("mel_l1", "mrstft")}}
        write_text(out / "metrics.json", json.dumps(summary, indent=2) + "\n")
        for logger in self.loggers:
            exp = getattr(logger, "experiment", None)
            if exp is not None and hasattr(exp, "add_audio"):
                for i, a in enumerate(fake[:4].cpu()):
                    exp.add_audio(f"samples/{i}", a[None], step, sample_rate=sr)
        return out

    # -- checkpoints and optimisers ------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from speechgen.checkpoint import model_config

        extra = dict(self.checkpoint_extra, step=int(self.global_step))
        checkpoint["speechgen_model"] = {"prefix": "model.",
                                         "config": model_config(self.model, self.model_spec, extra)}

    def configure_optimizers(self) -> Any:
        steps = self.train_cfg.max_steps
        assert self.model.discriminator is not None
        return [build_optimizer(self.model.generator.parameters(), self.optim_g_cfg, steps),
                build_optimizer(self.model.discriminator.parameters(), self.optim_d_cfg, steps)]


# ------------------------------------------------------------------------------------------------ recipe checks
def vocoder_names() -> list[str]:
    """Registry names of the GAN vocoders."""
    from speechgen.models.registry import MODELS

    return sorted(k for k, v in MODELS.items() if isinstance(v, type) and issubclass(v, GANVocoder))


def check_recipe(recipe: Any) -> None:
    """Cross-section constraints of a ``vocoder`` recipe; ConfigError naming the field at fault."""
    from speechgen.models.registry import MODELS

    name = recipe.model.name
    cls = MODELS[name]
    if not (isinstance(cls, type) and issubclass(cls, GANVocoder)):
        raise ConfigError(f"recipe.model.name: the vocoder scheme trains GAN vocoders ({', '.join(vocoder_names())}),"
                          f" not '{name}'")
    try:
        spec = cls.describe(recipe.model.kwargs)
    except ConfigError as exc:
        raise ConfigError(f"recipe.model.kwargs.{exc}") from exc
    if recipe.model.kwargs.get("discriminators") is False:
        raise ConfigError("recipe.model.kwargs.discriminators: training needs the discriminators (true)")
    d: VocoderData = recipe.data
    lo: VocoderLosses = recipe.losses
    if d.sample_rate is not None and d.sample_rate != spec.sample_rate:
        raise ConfigError(f"recipe.data.sample_rate: {d.sample_rate}, but the model works at {spec.sample_rate} Hz "
                          f"(recipe.model.kwargs.sample_rate)")
    if d.feature_params is not None:
        given = feature_params_for(cls.feature_name(recipe.model.kwargs), d.feature_params, spec.sample_rate,
                                   "recipe.data.feature_params")
        for k, v in given.items():
            if v != spec.feature_params[k]:
                raise ConfigError(f"recipe.data.feature_params.{k}: {v}, but the model expects "
                                  f"{spec.feature_params[k]} (recipe.model.kwargs.feature_params)")
    hop = spec.hop_length
    # validation reports both spectral distances, so both must fit in a segment whatever their weights
    need = max(spec.feature_params["n_fft"], *(r[0] for r in lo.mrstft_resolutions)) // 2 + 1
    for k in ("segment_length", "eval_segment_length"):
        v = getattr(d, k)
        if v is None:
            continue
        if v % hop:
            raise ConfigError(f"recipe.data.{k}: {v} is not a multiple of the hop length {hop} "
                              f"(feature_params.hop_length)")
        if v < need:
            raise ConfigError(f"recipe.data.{k}: {v} samples is too short for the spectral losses (needs >= {need})")
    if lo.mel_fmax is not None and lo.mel_fmax > spec.sample_rate / 2:
        raise ConfigError(f"recipe.losses.mel_fmax: {lo.mel_fmax:g} Hz is above the Nyquist frequency "
                          f"({spec.sample_rate / 2:g} Hz)")


def init_weights(model: GANVocoder, path: str, where: str = "recipe.train.init_from") -> dict[str, int]:
    """Copy into ``model`` every tensor of checkpoint ``path`` (a checkpoint or run folder) whose name and shape
    match; return ``{"loaded", "kept"}`` counts. ConfigError when nothing matches."""
    from speechgen.errors import CheckpointError
    from speechgen.checkpoint import load_checkpoint, resolve_checkpoint

    try:
        state, _ = load_checkpoint(resolve_checkpoint(path))
    except CheckpointError as exc:
        raise ConfigError(f"{where}: {exc}") from exc
    own = model.state_dict()
    match = {k: v for k, v in state.items() if k in own and tuple(own[k].shape) == tuple(v.shape)}
    if not match:
        raise ConfigError(f"{where}: {path} holds no weights that fit this model")
    model.load_state_dict(match, strict=False)
    return {"loaded": len(match), "kept": len(own) - len(match)}


def build_datamodule(data: VocoderData, model: GANVocoder, seed: int) -> Any:
    """The paired :class:`~speechgen.data.datamodule.ManifestDataModule` of a ``data:`` section."""
    from speechgen.data.datamodule import ManifestDataModule

    return ManifestDataModule(
        data.manifest, batch_size=data.batch_size, num_workers=data.num_workers, seed=seed,
        sample_rate=model.sample_rate, segment_length=data.segment_length,
        eval_segment_length=data.eval_segment_length or data.segment_length, feature=model.feature,
        feature_params=model.feature_params, labelled=None, paired=True,
    )


class VocoderScheme:
    """Recipe sections and builders of the ``vocoder`` scheme (HiFi-GAN, MelGAN, other GAN vocoders)."""

    name = "vocoder"
    sections = {"data": VocoderData, "train": VocoderTrain, "optim_g": OptimConfig, "optim_d": OptimConfig,
                "losses": VocoderLosses}

    @staticmethod
    def validate(recipe: Any) -> None:
        """Cross-section checks that need no model instance (also run by :meth:`build`)."""
        check_recipe(recipe)

    @staticmethod
    def build(recipe: Any, model: GANVocoder, checkpoint_extra: dict[str, Any] | None = None,
              ) -> tuple[L.LightningModule, L.LightningDataModule]:
        check_recipe(recipe)
        if recipe.train.init_from:
            init_weights(model, recipe.train.init_from)
        dm = build_datamodule(recipe.data, model, recipe.seed)
        spec = {"name": recipe.model.name, "kwargs": recipe.model.kwargs}
        module = VocoderModule(model, spec, recipe.data, recipe.train, recipe.optim_g, recipe.optim_d,
                               recipe.losses, checkpoint_extra)
        return module, dm
