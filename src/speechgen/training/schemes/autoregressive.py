"""The ``autoregressive`` scheme: sample-level autoregressive models of the waveform (``wavenet``, ``wavernn``).

Training minimises the cross-entropy of teacher-forced segments: each model's ``teacher_forcing(audio, labels,
condition)`` returns ``[(logits [B, K, T], targets [B, T]), ...]`` (one pair per softmax: WaveNet's mu-law head;
WaveRNN's coarse and fine heads, or its one mu-law head), and the loss is the sum of the pairs' mean
cross-entropies, i.e. the negative log-likelihood per sample in nats (of samples ``1 … T-1`` of a segment: its
first sample is an input only, so every scored sample is predicted from its true previous one). ``bits`` =
loss / ln 2 is the same quantity in bits per sample — of the model's quantised signal (8-bit mu-law, 16-bit linear,
...), so compare it between models that quantise alike.

Data (``data:``, :class:`ARData`): ``feature: waveform`` (or null) gives raw audio segments ``"audio"`` ``[B, T]``
(``segment_length`` samples, random crops for training, centred for valid/test); ``feature: log_mel`` with
``ar.mel: true`` gives paired segments: the audio and its aligned log-mel frames ``"mel"`` ``[B, n_mels, T / hop]``
(local conditioning, vocoders). ``ar.global_condition`` feeds the digit (``label``) or the train-split speaker
index (``speaker``) to a model built with ``n_classes > 0``.

Logged: ``train/loss``, ``train/bits``; ``val/loss``, ``val/bits`` (and ``test/...`` after training) on the
centred segments of the valid (test) split. With ``speaker`` conditioning only items of speakers seen in training
are scored (speaker-disjoint valid/test splits log nothing). Sample rounds draw ``train.n_samples`` clips of the
model's ``sample_length`` samples with the export (EMA) model (labels cycle through the classes; mel-conditioned
models get mel crops of ``sample_length`` samples from the valid split, or the train split when valid is empty).
Generation is slow (one network step per sample): keep ``sample_length`` short in tiny recipes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from speechgen.errors import ConfigError
from speechgen.models.wavenet import WaveNet
from speechgen.models.wavernn import WaveRNN
from speechgen.training.schemes.generative import GenData, GenerativeModule, GenTrain
from speechgen.training.optim import OptimConfig, build_optimizer, check_fields

#: the models this scheme trains (registry name → class; the registry maps the same names)
AR_MODELS: dict[str, type] = {"wavenet": WaveNet, "wavernn": WaveRNN}
RAW_FEATURES = (None, "waveform")


@dataclass
class ARData(GenData):
    """``data:`` section of the ``autoregressive`` scheme (fields of :class:`GenData`; ``channels`` and
    ``condition_channels`` must stay unset).

    feature: ``waveform`` or null (raw audio) or ``log_mel`` (paired audio + mel, needs ``ar.mel: true``).
    segment_length: training crop in samples (required; a multiple of the mel hop with ``log_mel``).
    eval_segment_length: centred crop of valid/test items (default: ``segment_length``).
    """

    feature: str | None = "waveform"  # type: ignore[assignment]
    segment_length: int | None = 8000
    eval_segment_length: int | None = None
    batch_size: int = 8

    def validate(self, where: str) -> None:
        check_fields(self, where, positive=("batch_size", "sample_rate"), non_negative=("num_workers",))
        if self.feature not in (*RAW_FEATURES, "log_mel"):
            raise ConfigError(f"{where}.feature: the autoregressive scheme takes 'waveform' (or null: raw audio) or "
                              f"'log_mel' (paired audio + mel), got {self.feature!r}")
        for k in ("channels", "condition_channels", "frames"):
            if getattr(self, k) is not None:
                raise ConfigError(f"{where}.{k}: not used by the autoregressive scheme (leave it unset)")
        for k in ("segment_length", "eval_segment_length"):
            v = getattr(self, k)
            if (v is None and k == "segment_length") or (v is not None and v <= 0):
                raise ConfigError(f"{where}.{k}: expected a positive number of samples, got {v}")
        if self.feature is None:
            if self.feature_params:
                raise ConfigError(f"{where}.feature_params: given without a feature")
            return
        from speechgen.data.features import build_feature

        try:
            feature = build_feature(self.feature, self.feature_params)
            feature.check_rate(self.sample_rate)
        except ConfigError as exc:
            msg = str(exc)
            raise ConfigError(f"{where}.{msg}" if msg.startswith("feature_params.") else
                              f"{where}.feature_params.{msg}") from exc
        hop = feature.hop_length
        for k in ("segment_length", "eval_segment_length"):
            v = getattr(self, k)
            if v is not None and v % hop:
                raise ConfigError(f"{where}.{k}: {v} is not a multiple of the feature's hop_length ({hop})")


@dataclass
class ARSection:
    """``ar:`` section.

    global_condition: what a model built with ``n_classes > 0`` is conditioned on: "label" (the digit) or
    "speaker" (the train split's speaker index); "none" for unconditional (or purely mel-conditioned) models.
    mel: local conditioning on the paired log-mel (needs ``data.feature: log_mel`` and a model built with
    ``local_conditioning: true`` and the same ``feature_params``).
    """

    global_condition: Literal["none", "label", "speaker"] = "none"
    mel: bool = False


def _instantiate(recipe: Any) -> torch.nn.Module:
    name = recipe.model.name
    if name not in AR_MODELS:
        raise ConfigError(f"recipe.model.name: the autoregressive scheme trains {', '.join(AR_MODELS)}, got '{name}'")
    try:
        return AR_MODELS[name](**recipe.model.kwargs)
    except ConfigError as exc:
        raise ConfigError(f"recipe.model.kwargs.{exc}") from exc


def check_recipe(recipe: Any, model: torch.nn.Module | None = None) -> None:
    """Cross-section constraints of an ``autoregressive`` recipe; ConfigError naming the field at fault."""
    d: ARData = recipe.data
    ar: ARSection = recipe.ar
    model = model if model is not None else _instantiate(recipe)
    kw = "recipe.model.kwargs"
    if int(getattr(model, "sample_rate", d.sample_rate)) != d.sample_rate:
        raise ConfigError(f"{kw}.sample_rate: {model.sample_rate}, but recipe.data.sample_rate is {d.sample_rate}")
    local = bool(getattr(model, "local_conditioning", False))
    if ar.mel:
        if d.feature != "log_mel":
            raise ConfigError(f"recipe.data.feature: ar.mel needs paired log-mel data ('log_mel'), got {d.feature!r}")
        if not local:
            raise ConfigError(f"{kw}.local_conditioning: ar.mel needs a model built with local_conditioning: true")
        from speechgen.data.features import build_feature

        data_params = build_feature("log_mel", d.feature_params).params()
        model_params = dict(model.feature_params or {})
        if data_params["hop_length"] != model.hop_length:
            raise ConfigError(f"recipe.data.feature_params.hop_length: {data_params['hop_length']}, but the model "
                              f"upsamples each mel frame to {model.hop_length} samples ({kw}.upsample_scales)")
        for key in sorted(data_params):
            if data_params[key] != model_params.get(key):
                raise ConfigError(f"recipe.data.feature_params.{key}: {data_params[key]}, but the model's "
                                  f"feature_params.{key} is {model_params.get(key)} (the mel must be the same)")
        if model.sample_length % model.hop_length:
            raise ConfigError(f"{kw}.sample_length: {model.sample_length} is not a multiple of the hop length "
                              f"({model.hop_length}); sample rounds crop mels of that many samples")
    else:
        if local:
            raise ConfigError("recipe.ar.mel: the model is built with local_conditioning: true; set ar.mel: true "
                              "and data.feature: log_mel")
        if d.feature not in RAW_FEATURES:
            raise ConfigError(f"recipe.data.feature: without ar.mel the scheme models raw audio ('waveform'), "
                              f"got {d.feature!r}")
    n_classes = int(getattr(model, "n_classes", 0))
    if ar.global_condition == "none" and n_classes:
        raise ConfigError(f"{kw}.n_classes: {n_classes}, but ar.global_condition is 'none' (set it to 'label' or "
                          f"'speaker', or n_classes to 0)")
    if ar.global_condition != "none" and not n_classes:
        raise ConfigError(f"{kw}.n_classes: ar.global_condition '{ar.global_condition}' needs n_classes > 0")
    if ar.global_condition == "label" and not d.labelled:
        raise ConfigError("recipe.data.labelled: ar.global_condition 'label' needs labelled data")
    rf = getattr(model, "receptive_field", None)
    for key in ("segment_length", "eval_segment_length"):
        seg = getattr(d, key)
        if rf is not None and seg is not None and seg <= rf:
            raise ConfigError(f"recipe.data.{key}: {seg} samples, but the model's receptive field is {rf} samples; "
                              f"segments must be longer (or shrink layers/stacks)")


def nll_terms(pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> torch.Tensor:
    """Negative log-likelihood per sample (nats): the summed mean cross-entropies of the model's heads."""
    total = F.cross_entropy(pairs[0][0].float(), pairs[0][1])
    for logits, target in pairs[1:]:
        total = total + F.cross_entropy(logits.float(), target)
    return total


class ARModule(GenerativeModule):
    """LightningModule of the ``autoregressive`` scheme (see the module docstring)."""

    def __init__(self, model: torch.nn.Module, model_spec: dict[str, Any], data: ARData, train: GenTrain,
                 optim: OptimConfig, ar: ARSection, checkpoint_extra: dict[str, Any] | None = None) -> None:
        super().__init__(model, model_spec, data, train, checkpoint_extra)
        self.optim_cfg, self.ar_cfg = optim, ar

    def _inputs(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor | None,
                                                                torch.Tensor | None]:
        audio = batch["audio"]
        labels = None
        if self.ar_cfg.global_condition != "none":
            labels = batch["label" if self.ar_cfg.global_condition == "label" else "speaker"]
        mel = batch.get("mel") if self.ar_cfg.mel else None
        return audio, labels, mel

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        audio, labels, mel = self._inputs(batch)
        loss = nll_terms(self.model.teacher_forcing(audio, labels, mel))
        self.check_finite(loss=loss)
        self.log_dict({"train/loss": loss, "train/bits": loss / math.log(2.0)}, prog_bar=True,
                      batch_size=len(audio))
        return loss

    def _eval_step(self, batch: dict[str, torch.Tensor], prefix: str) -> None:
        audio, labels, mel = self._inputs(batch)
        if labels is not None and self.ar_cfg.global_condition == "speaker":
            keep = labels >= 0  # speakers unseen in training have no embedding
            if not bool(keep.any()):
                return
            audio, labels = audio[keep], labels[keep]
            mel = mel[keep] if mel is not None else None
        loss = nll_terms(self.model.teacher_forcing(audio, labels, mel))
        self.log_dict({f"{prefix}/loss": loss, f"{prefix}/bits": loss / math.log(2.0)}, prog_bar=prefix == "val",
                      batch_size=len(audio), sync_dist=True)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def configure_optimizers(self) -> Any:
        return build_optimizer(self.model.parameters(), self.optim_cfg, self.train_cfg.max_steps)

    # -- sample rounds -------------------------------------------------------------------------------------------
    def fixed_inputs(self) -> dict[str, Any]:
        """Labels (cycling through the classes), mel crops (mel-conditioned models) and the seed of the rounds."""
        if self._fixed is None:
            n = self.train_cfg.n_samples
            model = self.export_model()
            n_classes = int(getattr(model, "n_classes", 0))
            labels = torch.arange(n) % n_classes if n_classes else None
            cond = self._mel_conditions(labels, n, int(model.sample_length)) if self.ar_cfg.mel else None
            self._fixed = {"labels": labels, "condition": cond, "seed": int(self.checkpoint_extra.get("seed", 0))}
        return self._fixed

    def _mel_conditions(self, labels: torch.Tensor | None, n: int, length: int) -> torch.Tensor:
        from speechgen.data.datamodule import ManifestDataset

        dm = self.trainer.datamodule
        label_rows = labels is not None and self.ar_cfg.global_condition == "label"
        split = "valid" if len(dm.manifest.select("valid", labelled=dm.labelled)) else "train"
        ds = ManifestDataset(dm.manifest, split=split, labelled=dm.labelled, sample_rate=dm.sample_rate,
                             segment_length=length, feature=dm.feature, cache_dir=dm.cache_dir, paired=True,
                             speakers=dm.speakers)
        rng = np.random.default_rng(int(self.checkpoint_extra.get("seed", 0)))
        rows = ds.manifest.rows
        pick = []
        for i in range(n):
            pool = list(range(len(rows)))
            if label_rows and labels is not None:
                pool = [j for j, r in enumerate(rows) if r.get("label") == int(labels[i])] or pool
            pick.append(int(rng.choice(pool)))
        return torch.stack([ds[j]["mel"] for j in pick])

    def sample_feature(self) -> Any:
        """Samples are waveforms whatever the model is conditioned on."""
        from speechgen.data.features import Waveform

        return Waveform()


def build_datamodule(data: ARData, ar: ARSection, seed: int) -> Any:
    """The :class:`~speechgen.data.datamodule.DigitsDataModule` of an ``autoregressive`` recipe."""
    from speechgen.data.datamodule import DigitsDataModule

    return DigitsDataModule(
        data.manifest, batch_size=data.batch_size, num_workers=data.num_workers, seed=seed,
        sample_rate=data.sample_rate, segment_length=data.segment_length,
        eval_segment_length=data.eval_segment_length if data.eval_segment_length is not None else "same",
        # raw audio is read directly (a "waveform" cache would only copy the corpus)
        feature=None if data.feature in RAW_FEATURES and not data.feature_params else data.feature,
        feature_params=data.feature_params or None,
        labelled=True if data.labelled else None, paired=ar.mel,
    )


class AutoregressiveScheme:
    """Recipe sections and builders of the ``autoregressive`` scheme (WaveNet, WaveRNN)."""

    name = "autoregressive"
    sections = {"data": ARData, "train": GenTrain, "optim": OptimConfig, "ar": ARSection}
    models = tuple(AR_MODELS)

    @staticmethod
    def validate(recipe: Any) -> None:
        """Cross-section checks (builds the model once to read its receptive field and hop)."""
        check_recipe(recipe)

    @staticmethod
    def build(recipe: Any, model: torch.nn.Module, checkpoint_extra: dict[str, Any] | None = None,
              ) -> tuple[L.LightningModule, L.LightningDataModule]:
        check_recipe(recipe, model)
        dm = build_datamodule(recipe.data, recipe.ar, recipe.seed)
        n_classes = int(getattr(model, "n_classes", 0))
        cond = recipe.ar.global_condition
        need = dm.num_labels if cond == "label" else dm.num_speakers if cond == "speaker" else 0
        if need > n_classes:
            raise ConfigError(f"recipe.model.kwargs.n_classes: {n_classes}, but the manifest has {need} "
                              f"{'labels' if cond == 'label' else 'train speakers'}")
        spec = {"name": recipe.model.name, "kwargs": recipe.model.kwargs}
        module = ARModule(model, spec, recipe.data, recipe.train, recipe.optim, recipe.ar, checkpoint_extra)
        return module, dm
