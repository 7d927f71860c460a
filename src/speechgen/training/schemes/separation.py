"""Separation scheme: a separator (:data:`~speechgen.models.roles.SEPARATOR`, one model per source count) trained
with the utterance-level permutation-invariant SI-SNR loss on mixtures made on the fly
(:class:`~speechgen.data.mixtures.MixtureDataset`: ``data.count`` different voices of the train split, a new draw
every epoch).

The model's ``forward(mixture, every_block=True)`` returns a list of estimates ``[B, C, T]``; the loss is the mean
over that list of ``-SI-SNR`` of the best permutation (Nachmani et al. 2020 train the estimate after every MulCat
block; DPRNN has one). SI-SNR per source is capped at ``losses.si_snr_cap`` dB (0: no cap) so that sources already
well separated stop pulling the gradient away from the others.

Validation and test use fixed mixtures of the held-out voices of the valid and test splits (draw index = item
index, the same every epoch) at the training segment length, and log ``loss``, ``si_snr`` and ``si_snri`` (dB,
the last estimate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning as L
import torch

from speechgen.data.datamodule import SplitLoaders
from speechgen.data.mixtures import GAIN_DB, MAX_SOURCES, MixtureDataset
from speechgen.errors import ConfigError, DataError
from speechgen.losses.separation import best_permutation, pairwise, si_snr
from speechgen.training.optim import OptimConfig, TrainSection, check_fields, check_finite
from speechgen.training.schemes.classification import Augment, ClassifierModule


@dataclass
class SeparationData:
    """``data:`` section. manifest: the corpus whose voices are mixed (with durations; e.g. corpora/digits).
    count: sources per mixture (the model's ``n_sources``). segment_seconds: length of every training and evaluation
    mixture (crops longer ones, zero-pads shorter ones). train_size / eval_size: mixtures per training epoch / in each
    of the valid and test sets. gain_db: largest gain of a source, either way. batch_size: mixtures per batch per
    device. num_workers: loader processes."""

    manifest: str
    count: int = 2
    segment_seconds: float = 1.0
    train_size: int = 8000
    eval_size: int = 200
    gain_db: float = GAIN_DB
    batch_size: int = 8
    num_workers: int = 0

    def validate(self, where: str) -> None:
        if not 1 <= self.count <= MAX_SOURCES:
            raise ConfigError(f"{where}.count: expected 1..{MAX_SOURCES}, got {self.count}")
        if not 0.1 <= self.segment_seconds <= 60.0:
            raise ConfigError(f"{where}.segment_seconds: expected 0.1..60 s, got {self.segment_seconds}")
        check_fields(self, where, positive=("train_size", "eval_size", "batch_size"), non_negative=("num_workers",))
        if not 0.0 <= self.gain_db <= 30.0:
            raise ConfigError(f"{where}.gain_db: expected 0..30 dB, got {self.gain_db}")


@dataclass
class SeparationLosses:
    """``losses:`` section. si_snr_cap: largest SI-SNR (dB) a source counts for in the loss (0: no cap)."""

    si_snr_cap: float = 30.0

    def validate(self, where: str) -> None:
        if self.si_snr_cap < 0:
            raise ConfigError(f"{where}.si_snr_cap: must be >= 0 (0: no cap), got {self.si_snr_cap}")


class SeparationDataModule(SplitLoaders, L.LightningDataModule):
    """Loaders of on-the-fly training mixtures and fixed valid/test mixtures (module docstring).

    Args:
        manifest: the corpus whose voices are mixed.
        count: sources per mixture.
        segment_length: samples per mixture.
        train_size: training mixtures per epoch.
        eval_size: mixtures in each of valid and test.
        sample_rate: rate the clips are loaded at.
        gain_db: largest gain of a source, either way.
        batch_size: mixtures per batch per device.
        num_workers: loader processes.
        seed: seed of the draws.
    """

    def __init__(self, manifest: Any, *, count: int, segment_length: int, train_size: int, eval_size: int,
                 sample_rate: int = 16000, gain_db: float = GAIN_DB, batch_size: int = 8, num_workers: int = 0,
                 seed: int = 0) -> None:
        super().__init__()
        self.manifest, self.count, self.segment_length = manifest, int(count), int(segment_length)
        self.sizes = {"train": int(train_size), "valid": int(eval_size), "test": int(eval_size)}
        self.sample_rate, self.gain_db = int(sample_rate), float(gain_db)
        self.batch_size, self.num_workers, self.seed = int(batch_size), int(num_workers), int(seed)
        self.pin_memory, self.persistent_workers, self.drop_last = False, False, True
        self.datasets: dict[str, MixtureDataset] = {}

    def dataset(self, split: str) -> MixtureDataset:
        """The mixtures of ``split`` (built on first use; DataError when the split has too few voices)."""
        if split not in self.sizes:
            raise DataError(f"unknown split '{split}'; expected {', '.join(self.sizes)}")
        if split not in self.datasets:
            self.datasets[split] = MixtureDataset(self.manifest, split, self.count, self.segment_length,
                                                  self.sizes[split], self.sample_rate, self.seed, self.gain_db,
                                                  fixed=split != "train")
        return self.datasets[split]

    def has_rows(self, split: str) -> bool:
        """Whether ``split`` can be mixed (enough voices)."""
        try:
            self.dataset(split)
        except DataError:
            return False
        return True

    def setup(self, stage: str | None = None) -> None:
        wanted = {"fit": ("train", "valid"), "validate": ("valid",), "test": ("test",)}
        for split in wanted.get(stage or "", tuple(self.sizes)):
            self.dataset(split)


def pit_loss(estimates: list[torch.Tensor], sources: torch.Tensor, cap: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean over the estimates' list and the batch of ``-SI-SNR`` of the best permutation (per-source SI-SNR capped
    at ``cap`` dB when ``cap`` > 0), and the last estimate's uncapped best SI-SNR per item ``[B]``."""
    losses = []
    for est in estimates:
        matrix = pairwise(si_snr, est, sources)
        losses.append(-best_permutation(matrix.clamp(max=cap) if cap > 0 else matrix)[0].mean())
    return torch.stack(losses).mean(), best_permutation(matrix.detach())[0]


class SeparationModule(ClassifierModule):
    """PIT SI-SNR training of a separator (the classifier module's optimiser and checkpoint hooks); logs
    ``train/loss``, ``train/si_snr`` and ``val/``/``test/`` ``loss``, ``si_snr``, ``si_snri``."""

    def __init__(self, model: torch.nn.Module, model_spec: dict[str, Any], optim: OptimConfig, train: TrainSection,
                 losses: SeparationLosses, checkpoint_extra: dict[str, Any] | None = None) -> None:
        super().__init__(model, model_spec, optim, Augment(), train, checkpoint_extra)  # type: ignore[arg-type]
        self.losses = losses

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        loss, best = pit_loss(self.model(batch["mixture"], every_block=True), batch["sources"],
                              self.losses.si_snr_cap)
        check_finite(int(self.global_step), loss=loss)
        self.log_dict({"train/loss": loss, "train/si_snr": best.mean()}, prog_bar=True, batch_size=len(best))
        return loss

    def _eval_step(self, batch: dict[str, torch.Tensor], prefix: str) -> None:
        mixture, sources = batch["mixture"], batch["sources"]
        estimates = self.model(mixture, every_block=False)
        loss, best = pit_loss(estimates, sources, self.losses.si_snr_cap)
        base = si_snr(mixture.unsqueeze(1).expand_as(sources), sources).mean(dim=-1)
        n = len(best)
        self.log_dict({f"{prefix}/loss": loss, f"{prefix}/si_snr": best.mean(),
                       f"{prefix}/si_snri": (best - base).mean()}, prog_bar=prefix == "val", batch_size=n,
                      sync_dist=True)


class SeparationScheme:
    """Recipe sections and builders of the ``separation`` scheme."""

    name = "separation"
    sections = {"data": SeparationData, "optim": OptimConfig, "train": TrainSection, "losses": SeparationLosses}
    models = ("mulcat_separator", "dprnn")

    @staticmethod
    def build(recipe: Any, model: torch.nn.Module, checkpoint_extra: dict[str, Any] | None = None,
              ) -> tuple[L.LightningModule, L.LightningDataModule]:
        d: SeparationData = recipe.data
        n_sources = int(getattr(model, "n_sources", 0))
        if n_sources != d.count:
            raise ConfigError(f"recipe.data.count: {d.count} sources per mixture, but the model separates "
                              f"{n_sources} (model.kwargs.n_sources)")
        rate = int(getattr(model, "sample_rate", 16000))
        dm = SeparationDataModule(d.manifest, count=d.count, segment_length=int(round(d.segment_seconds * rate)),
                                  train_size=d.train_size, eval_size=d.eval_size, sample_rate=rate,
                                  gain_db=d.gain_db, batch_size=d.batch_size, num_workers=d.num_workers,
                                  seed=recipe.seed)
        dm.dataset("train")  # fail now, naming the split, when it has too few voices
        spec = {"name": recipe.model.name, "kwargs": recipe.model.kwargs}
        module = SeparationModule(model, spec, recipe.optim, recipe.train, recipe.losses, checkpoint_extra)
        return module, dm
