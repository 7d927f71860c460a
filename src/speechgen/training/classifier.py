"""Supervised classification scheme: cross-entropy on labelled clips with speaker-generalising augmentation.

The model must expose ``features(wave) -> [B, 1, F, T]`` and ``classify_features(x) -> logits`` (as
:class:`~speechgen.models.DigitClassifier` does) so that SpecAugment masks can be applied between them.
Augmentation runs batched on the model's device in the training step, drawing from torch's global generator
(seeded by ``--seed``), so a run is reproducible on CPU regardless of the number of loader workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

from speechgen.errors import ConfigError
from speechgen.training.generative import check_finite
from speechgen.training.optim import OptimConfig, TrainSection, build_optimizer


@dataclass
class ClassifierData:
    """``data:`` section. manifest: CSV (or its folder; relative paths from the current directory).
    batch_size: clips per batch per device. num_workers: loader processes. sample_rate / segment_length: clips
    are loaded at this rate and cropped/padded to this many samples (random offset in training, centred else)."""

    manifest: str
    batch_size: int = 64
    num_workers: int = 0
    sample_rate: int = 16000
    segment_length: int = 16000

    def validate(self, where: str) -> None:
        for k in ("batch_size", "sample_rate", "segment_length"):
            if getattr(self, k) <= 0:
                raise ConfigError(f"{where}.{k}: must be > 0, got {getattr(self, k)}")
        if self.num_workers < 0:
            raise ConfigError(f"{where}.num_workers: must be >= 0, got {self.num_workers}")


@dataclass
class Augment:
    """``augment:`` section (each part is off at 0 / probability 0).

    shift: largest time shift in seconds (either way, zero fill). gain_db: largest gain change in dB.
    speed: range of resampling factors (tempo and pitch together; factor > 1 is faster and higher).
    speed_prob: share of clips speed-perturbed. noise_prob: share of clips with added white noise at an SNR drawn
    from ``snr_db``. freq_warp: largest relative stretch of the mel axis about 0 Hz (vocal-tract-length
    perturbation: bin ``f`` takes the value of bin ``f * a``, ``a`` in ``[1 - freq_warp, 1 + freq_warp]``,
    edge-padded). freq_masks/time_masks: SpecAugment masks per clip, of up to ``freq_mask_width`` mel bands /
    ``time_mask_width`` frames each, filled with 0 (the normalised mean).
    """

    shift: float = 0.1
    gain_db: float = 6.0
    speed: tuple[float, float] = (0.9, 1.1)
    speed_prob: float = 0.5
    noise_prob: float = 0.3
    snr_db: tuple[float, float] = (10.0, 40.0)
    freq_warp: float = 0.0
    freq_masks: int = 2
    freq_mask_width: int = 10
    time_masks: int = 2
    time_mask_width: int = 8

    def validate(self, where: str) -> None:
        if not 0 < self.speed[0] <= self.speed[1]:
            raise ConfigError(f"{where}.speed: expected 0 < low <= high, got {list(self.speed)}")
        if self.snr_db[0] > self.snr_db[1]:
            raise ConfigError(f"{where}.snr_db: expected low <= high, got {list(self.snr_db)}")
        for k in ("speed_prob", "noise_prob"):
            if not 0.0 <= getattr(self, k) <= 1.0:
                raise ConfigError(f"{where}.{k}: must be in [0, 1], got {getattr(self, k)}")
        if not 0.0 <= self.freq_warp < 1.0:
            raise ConfigError(f"{where}.freq_warp: must be in [0, 1), got {self.freq_warp}")
        for k in ("shift", "gain_db", "freq_masks", "freq_mask_width", "time_masks", "time_mask_width"):
            if getattr(self, k) < 0:
                raise ConfigError(f"{where}.{k}: must be >= 0, got {getattr(self, k)}")


@dataclass
class ClassifierTrain(TrainSection):
    """``train:`` section (see :class:`~speechgen.training.optim.TrainSection`) plus label_smoothing:
    cross-entropy smoothing."""

    label_smoothing: float = 0.1

    def validate(self, where: str) -> None:
        super().validate(where)
        if not 0.0 <= self.label_smoothing < 1.0:
            raise ConfigError(f"{where}.label_smoothing: must be in [0, 1), got {self.label_smoothing}")


# ------------------------------------------------------------------------------------------------ augmentation
def _uniform(n: int, low: float, high: float, device: torch.device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, device=device)


def augment_wave(wave: torch.Tensor, cfg: Augment, sample_rate: int) -> torch.Tensor:
    """Time shift + speed perturbation (one linear-interpolation resampling about the centre), gain, noise."""
    b, t = wave.shape
    dev = wave.device
    shift = _uniform(b, -cfg.shift, cfg.shift, dev) * sample_rate
    rate = torch.ones(b, device=dev)
    if cfg.speed_prob > 0 and tuple(cfg.speed) != (1.0, 1.0):
        use = torch.rand(b, device=dev) < cfg.speed_prob
        rate = torch.where(use, _uniform(b, cfg.speed[0], cfg.speed[1], dev), rate)
    if cfg.shift > 0 or bool((rate != 1).any()):
        centre = (t - 1) / 2
        n = torch.arange(t, device=dev, dtype=wave.dtype)
        pos = (n[None, :] - centre) * rate[:, None] + centre - shift[:, None]  # source sample of each output
        grid = torch.stack([2 * pos / (t - 1) - 1, torch.zeros_like(pos)], dim=-1)[:, None]  # [B, 1, T, 2]
        wave = F.grid_sample(wave[:, None, None, :], grid, mode="bilinear", padding_mode="zeros",
                             align_corners=True)[:, 0, 0]
    if cfg.gain_db > 0:
        wave = wave * (10.0 ** (_uniform(b, -cfg.gain_db, cfg.gain_db, dev) / 20.0))[:, None]
    if cfg.noise_prob > 0:
        rms = wave.pow(2).mean(dim=1).sqrt()
        snr = _uniform(b, cfg.snr_db[0], cfg.snr_db[1], dev)
        scale = rms / (10.0 ** (snr / 20.0)) * (torch.rand(b, device=dev) < cfg.noise_prob)
        wave = wave + torch.randn_like(wave) * scale[:, None]
    return wave


def spec_augment(x: torch.Tensor, cfg: Augment) -> torch.Tensor:
    """Warp the mel axis, then zero random bands and frame ranges of normalised log-mel ``[B, 1, F, T]``."""
    b, _, nf, nt = x.shape
    if cfg.freq_warp > 0:
        a = _uniform(b, 1.0 - cfg.freq_warp, 1.0 + cfg.freq_warp, x.device)
        src = (torch.arange(nf, device=x.device, dtype=x.dtype)[None] * a[:, None]).clamp(max=nf - 1)  # [B, F]
        gy = (2 * src / (nf - 1) - 1)[:, :, None].expand(b, nf, nt)
        gx = torch.linspace(-1, 1, nt, device=x.device, dtype=x.dtype)[None, None].expand(b, nf, nt)
        x = F.grid_sample(x, torch.stack([gx, gy], dim=-1), mode="bilinear", align_corners=True)
    keep = torch.ones(b, nf, nt, dtype=torch.bool, device=x.device)
    for count, width, size, axis in ((cfg.freq_masks, cfg.freq_mask_width, nf, 1),
                                     (cfg.time_masks, cfg.time_mask_width, nt, 2)):
        idx = torch.arange(size, device=x.device)
        for _ in range(count):
            w = torch.randint(0, min(width, size) + 1, (b,), device=x.device)
            start = (torch.rand(b, device=x.device) * (size - w + 1)).long()
            m = (idx[None] >= start[:, None]) & (idx[None] < (start + w)[:, None])  # [B, size]
            keep &= ~(m[:, :, None] if axis == 1 else m[:, None, :])
    return x * keep[:, None]


# ------------------------------------------------------------------------------------------------ Lightning module
class ClassifierModule(L.LightningModule):
    """Cross-entropy training of a classifier; logs ``train/loss``, ``train/acc``, ``val/loss``, ``val/acc``."""

    def __init__(self, model: torch.nn.Module, model_spec: dict[str, Any], optim: OptimConfig, augment: Augment,
                 train: ClassifierTrain, checkpoint_extra: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.model = model
        self.model_spec = model_spec
        self.optim_cfg, self.augment, self.train_cfg = optim, augment, train
        self.checkpoint_extra = dict(checkpoint_extra or {})
        self.sample_rate = int(getattr(model, "sample_rate", 16000))

    def forward(self, wave: torch.Tensor) -> torch.Tensor:
        return self.model(wave)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        wave, y = batch["audio"], batch["label"]
        wave = augment_wave(wave, self.augment, self.sample_rate)
        x = spec_augment(self.model.features(wave), self.augment)
        logits = self.model.classify_features(x)
        loss = F.cross_entropy(logits, y, label_smoothing=self.train_cfg.label_smoothing)
        check_finite(int(self.global_step), loss=loss)
        acc = (logits.argmax(-1) == y).float().mean()
        self.log_dict({"train/loss": loss, "train/acc": acc}, prog_bar=True, batch_size=len(y))
        return loss

    def _eval_step(self, batch: dict[str, torch.Tensor], prefix: str) -> None:
        logits = self.model(batch["audio"])
        y = batch["label"]
        loss = F.cross_entropy(logits, y)
        acc = (logits.argmax(-1) == y).float().mean()
        self.log_dict({f"{prefix}/loss": loss, f"{prefix}/acc": acc}, prog_bar=prefix == "val",
                      batch_size=len(y), sync_dist=True)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def configure_optimizers(self) -> dict[str, Any]:
        return build_optimizer(self.model.parameters(), self.optim_cfg, self.train_cfg.max_steps)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from speechgen.training.checkpoint import model_config

        extra = dict(self.checkpoint_extra, step=int(self.global_step))
        checkpoint["speechgen_model"] = {"prefix": "model.", "config": model_config(self.model, self.model_spec,
                                                                                     extra)}


class ClassifierScheme:
    """Recipe sections and builders of the ``classifier`` scheme."""

    name = "classifier"
    sections = {"data": ClassifierData, "optim": OptimConfig, "train": ClassifierTrain, "augment": Augment}
    models = ("digit_classifier",)

    @staticmethod
    def build(recipe: Any, model: torch.nn.Module, checkpoint_extra: dict[str, Any] | None = None,
              ) -> tuple[L.LightningModule, L.LightningDataModule]:
        from speechgen.data.datamodule import DigitsDataModule

        d: ClassifierData = recipe.data
        rate = getattr(model, "sample_rate", d.sample_rate)
        if rate != d.sample_rate:
            raise ConfigError(f"recipe.data.sample_rate: {d.sample_rate} differs from the model's {rate}")
        dm = DigitsDataModule(d.manifest, batch_size=d.batch_size, num_workers=d.num_workers, seed=recipe.seed,
                              sample_rate=d.sample_rate, segment_length=d.segment_length)
        if dm.num_labels > getattr(model, "n_classes", dm.num_labels):
            raise ConfigError(f"recipe.model.kwargs.n_classes: the manifest has {dm.num_labels} labels")
        spec = {"name": recipe.model.name, "kwargs": recipe.model.kwargs}
        module = ClassifierModule(model, spec, recipe.optim, recipe.augment, recipe.train, checkpoint_extra)
        return module, dm
