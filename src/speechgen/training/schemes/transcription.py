"""CTC scheme: a digit-string recognizer (:class:`~speechgen.models.ctc_recognizer.CTCRecognizer`) trained with
the CTC loss on whole clips of a manifest whose rows all hold a digit string in their ``text`` column (``"4 2 7"``;
single digits count: ``speechgen corpus digits --strings N``).

Batches are whole clips, zero-padded to the longest of the batch, with their lengths; the targets are the digits
(:data:`~speechgen.data.text.SYMBOL_SETS` ``digits``), the blank is the model's class 10. The model must expose
``log_mel(wave, lengths)``, ``normalize(log_mel, frames)``, ``logits_features(x, frames)`` and ``blank`` (as
:class:`~speechgen.models.ctc_recognizer.CTCRecognizer` does) so that augmentation can act between them.

Speaker-generalising augmentation reuses the classifier scheme's pieces
(:mod:`speechgen.training.schemes.classification`): per clip a speed change (resampling: tempo and pitch together)
and random leading and trailing silence, which change the clip's length; then, batched, random EQ, band limitation,
gain and noise (:func:`~speechgen.training.schemes.classification.augment_wave`); log-mel; normalisation; mel-axis
warp and SpecAugment masks (:func:`~speechgen.training.schemes.classification.spec_augment`). Everything draws
from torch's global generator (seeded by ``--seed``).

Validation and test log ``loss`` (CTC), ``string_acc`` (the share of clips whose greedy transcription is exactly
the reference) and ``der`` (digit error rate: edit distances summed over clips / reference digits summed).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
import torch.nn.functional as F

from speechgen.data.manifest import Manifest
from speechgen.data.text import edit_distance
from speechgen.errors import ConfigError
from speechgen.models.ctc_recognizer import greedy_decode
from speechgen.training.optim import OptimConfig, TrainSection, check_fields, check_finite
from speechgen.training.schemes.classification import (Augment, ClassifierDataModule, ClassifierModule, augment_wave,
                                                       spec_augment)


@dataclass
class TranscriberData:
    """``data:`` section. manifest: CSV (or its folder) whose every row has a digit string in ``text``.
    batch_size: clips per batch per device (whole clips, padded to the longest). num_workers: loader processes.
    sample_rate: clips are loaded at this rate. balance / balance_power: a manifest column (e.g. ``engine``) the
    training batches are balanced over, as in the classifier scheme (empty = plain shuffling). held_out_fraction:
    leave the digit strings of this held-out fraction out of training (the strings a text-to-speech run with the same
    ``data.held_out_fraction`` is judged on, so the judge has not heard their recordings); 0: train on every row.
    extra_train: more manifests whose *train* rows join the training set (e.g. ``corpora/strings-accented``, the
    accented voices); validation and test stay ``manifest``'s."""

    manifest: str
    batch_size: int = 32
    num_workers: int = 0
    sample_rate: int = 16000
    balance: str = ""
    balance_power: float = 1.0
    held_out_fraction: float = 0.0
    extra_train: tuple[str, ...] = ()

    def validate(self, where: str) -> None:
        check_fields(self, where, positive=("batch_size", "sample_rate"), non_negative=("num_workers",))
        if self.balance_power < 0:
            raise ConfigError(f"{where}.balance_power: must be >= 0, got {self.balance_power}")
        if not 0.0 <= self.held_out_fraction < 1.0:
            raise ConfigError(f"{where}.held_out_fraction: expected a share in [0, 1), got {self.held_out_fraction}")


@dataclass
class CTCAugment:
    """``augment:`` section (each part is off at 0 / probability 0); the fields mean what they mean in the
    classifier scheme's :class:`~speechgen.training.schemes.classification.Augment`, except:

    speed: range of resampling factors (> 1 is faster and higher), applied to ``speed_prob`` of the clips; the clip
    gets shorter or longer, nothing is cut. pad: largest silence in seconds added before and, independently, after
    each clip (uniform; the corpus's strings are trimmed to 20 ms of silence, real and generated clips are not).
    """

    speed: tuple[float, float] = (0.9, 1.1)
    speed_prob: float = 0.5
    pad: float = 0.3
    gain_db: float = 6.0
    noise_prob: float = 0.3
    snr_db: tuple[float, float] = (10.0, 40.0)
    eq_db: float = 0.0
    eq_prob: float = 0.5
    eq_bands: int = 6
    highpass: float = 0.0
    lowpass: float = 0.0
    band_prob: float = 0.3
    freq_warp: float = 0.0
    freq_masks: int = 2
    freq_mask_width: int = 10
    time_masks: int = 2
    time_mask_width: int = 5

    def classifier_augment(self) -> Augment:
        """The classifier scheme's section with this one's batched parts (no shift, speed, tempo, time warp or
        mixup: those would move or cut the speech inside the padded batch)."""
        return Augment(shift=0.0, gain_db=self.gain_db, speed=(1.0, 1.0), speed_prob=0.0, noise_prob=self.noise_prob,
                       snr_db=self.snr_db, freq_warp=self.freq_warp, freq_masks=self.freq_masks,
                       freq_mask_width=self.freq_mask_width, time_masks=self.time_masks,
                       time_mask_width=self.time_mask_width, eq_db=self.eq_db, eq_prob=self.eq_prob,
                       eq_bands=self.eq_bands, highpass=self.highpass, lowpass=self.lowpass,
                       band_prob=self.band_prob, tempo=(1.0, 1.0), tempo_prob=0.0, time_warp=0.0, mixup=0.0)

    def validate(self, where: str) -> None:
        if not 0 < self.speed[0] <= self.speed[1]:
            raise ConfigError(f"{where}.speed: expected 0 < low <= high, got {list(self.speed)}")
        if not 0.0 <= self.speed_prob <= 1.0:
            raise ConfigError(f"{where}.speed_prob: must be in [0, 1], got {self.speed_prob}")
        if self.pad < 0:
            raise ConfigError(f"{where}.pad: must be >= 0, got {self.pad}")
        self.classifier_augment().validate(where)


# ------------------------------------------------------------------------------------------------ augmentation
def stretch_and_pad(wave: torch.Tensor, lengths: torch.Tensor, cfg: CTCAugment, sample_rate: int,
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """Per clip of ``wave [B, T]`` (``lengths`` samples each): a speed change (linear-interpolation resampling to
    ``length / factor`` samples) on ``speed_prob`` of the clips, then up to ``pad`` seconds of silence before and
    after; returns the new zero-padded batch and lengths."""
    b = wave.shape[0]
    dev = wave.device
    use = torch.rand(b, device=dev) < cfg.speed_prob
    rate = torch.where(use, cfg.speed[0] + (cfg.speed[1] - cfg.speed[0]) * torch.rand(b, device=dev),
                       torch.ones(b, device=dev))
    lead = (torch.rand(b, device=dev) * cfg.pad * sample_rate).long()
    tail = (torch.rand(b, device=dev) * cfg.pad * sample_rate).long()
    clips = []
    for i in range(b):
        x = wave[i, :int(lengths[i])]
        if float(rate[i]) != 1.0:
            n = max(2, round(len(x) / float(rate[i])))
            x = F.interpolate(x[None, None], size=n, mode="linear", align_corners=True)[0, 0]
        clips.append(F.pad(x, (int(lead[i]), int(tail[i]))))
    new_lengths = torch.tensor([len(c) for c in clips], dtype=torch.long, device=dev)
    out = torch.zeros(b, int(new_lengths.max()), dtype=wave.dtype, device=dev)
    for i, c in enumerate(clips):
        out[i, :len(c)] = c
    return out, new_lengths


def targets(batch: dict[str, torch.Tensor]) -> list[list[int]]:
    """The reference digits of each clip of a batch."""
    return [t[:int(n)].tolist() for t, n in zip(batch["tokens"], batch["tokens_lengths"])]


# ------------------------------------------------------------------------------------------------ Lightning module
class CTCModule(ClassifierModule):
    """CTC training of a recognizer (the classifier module's optimiser and checkpoint hooks); logs ``train/loss``,
    and ``val/`` / ``test/`` ``loss``, ``string_acc`` and ``der``."""

    def _ctc(self, log_probs: torch.Tensor, out_len: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return F.ctc_loss(log_probs.transpose(0, 1).float(), batch["tokens"], out_len, batch["tokens_lengths"],
                          blank=int(self.model.blank), reduction="mean", zero_infinity=True)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        cfg: CTCAugment = self.augment  # type: ignore[assignment]
        wave, lengths = stretch_and_pad(batch["audio"], batch["lengths"], cfg, self.sample_rate)
        batched = cfg.classifier_augment()
        wave = augment_wave(wave, batched, self.sample_rate)
        x, frames = self.model.log_mel(wave, lengths)
        x = spec_augment(self.model.normalize(x, frames)[:, None], batched)[:, 0]
        logits, out_len = self.model.logits_features(x, frames)
        loss = self._ctc(logits.log_softmax(dim=-1), out_len, batch)
        check_finite(int(self.global_step), loss=loss)
        self.log("train/loss", loss, prog_bar=True, batch_size=len(wave))
        return loss

    def _eval_step(self, batch: dict[str, torch.Tensor], prefix: str) -> None:
        log_probs, out_len = self.model(batch["audio"], batch["lengths"])
        loss = self._ctc(log_probs, out_len, batch)
        refs = targets(batch)
        hyps = [d for d, _ in greedy_decode(log_probs, out_len, int(self.model.blank))]
        n, digits = len(refs), sum(len(r) for r in refs)
        errors = sum(edit_distance(r, h) for r, h in zip(refs, hyps))
        exact = sum(r == h for r, h in zip(refs, hyps))
        # weighted means over the epoch: string_acc by clips, der by reference digits (so both are exact totals)
        self.log(f"{prefix}/loss", loss, prog_bar=prefix == "val", batch_size=n, sync_dist=True)
        self.log(f"{prefix}/string_acc", exact / n, prog_bar=prefix == "val", batch_size=n, sync_dist=True)
        self.log(f"{prefix}/der", errors / max(digits, 1), batch_size=max(digits, 1), sync_dist=True)


class CTCScheme:
    """Recipe sections and builders of the ``ctc`` scheme."""

    name = "ctc"
    sections = {"data": TranscriberData, "optim": OptimConfig, "train": TrainSection, "augment": CTCAugment}
    models = ("ctc_recognizer",)

    @staticmethod
    def build(recipe: Any, model: torch.nn.Module, checkpoint_extra: dict[str, Any] | None = None,
              ) -> tuple[L.LightningModule, L.LightningDataModule]:
        d: TranscriberData = recipe.data
        rate = getattr(model, "sample_rate", d.sample_rate)
        if rate != d.sample_rate:
            raise ConfigError(f"recipe.data.sample_rate: {d.sample_rate} differs from the model's {rate}")
        manifest = Manifest.read(d.manifest)
        if d.extra_train:
            manifest = manifest.with_train_rows(Manifest.read(m) for m in d.extra_train)
        dm = ClassifierDataModule(manifest, batch_size=d.batch_size, num_workers=d.num_workers, seed=recipe.seed,
                                  sample_rate=d.sample_rate, segment_length=None, labelled=None, text="digits",
                                  balance=d.balance, balance_power=d.balance_power,
                                  train_held_out=d.held_out_fraction)
        dm.dataset("train")  # fail now, naming the row, when a text is not a digit string
        if d.balance:
            dm.balance_weights()  # fail now, naming the field, when the column is missing
        spec = {"name": recipe.model.name, "kwargs": recipe.model.kwargs}
        module = CTCModule(model, spec, recipe.optim, recipe.augment, recipe.train,  # type: ignore[arg-type]
                           checkpoint_extra)
        return module, dm
