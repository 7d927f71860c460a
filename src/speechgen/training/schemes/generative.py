"""What every generative training scheme shares: the ``data:`` and ``train:`` sections, the datamodule, the
model contract, the non-finite-loss guard, EMA weights and the sample writer used during training.

Model contract (plain ``nn.Module`` in ``speechgen.models``; schemes rely on nothing else):

- ``n_classes: int`` (0: unconditional) and ``out_shape: tuple[int, ...]`` (one generated item, e.g.
  ``(2, 128, 128)`` for an amplitude + phase image);
- ``sample(n, labels=None, generator=None, condition=None) -> Tensor [n, *out_shape]`` draws from the prior
  (``labels`` LongTensor ``[n]`` for conditional models, ``condition`` a tensor such as a phase image for models
  that need one, ``generator`` a ``torch.Generator`` for the latent draw) in the feature's value range.

Data items come from :class:`~speechgen.data.datamodule.DigitsDataModule` over the feature named in ``data:``;
a batch holds ``"features"`` ``[B, C, F, T]`` (for ``stft_image``) or ``"audio"`` ``[B, T]`` (waveforms),
``"label"`` and ``"speaker"``. ``data.channels`` keeps some channels of the feature (``[0]``: amplitude only);
``data.condition_channels`` hands other channels to the model as a condition (``batch["condition"]``).

With ``data.frames`` set (a mapping of :class:`~speechgen.data.frames.FrameOptions`, e.g. ``{context: 9}``), items
come from :class:`~speechgen.data.frames.FramesDataModule` instead: normalised ``[1, n_mels, context]`` windows of
the ``log_mel`` feature labelled with their centre frame's phone (or the clip's label). The train statistics it
computes are written into the checkpoint's recipe (``recipe.data.frames``, with the resolved labels mode), and
sample rounds de-normalise generated windows with them.
"""

from __future__ import annotations

import copy
import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch

from speechgen.errors import ConfigError
from speechgen.training.optim import TrainSection, check_fields, check_finite


@dataclass
class GenData:
    """``data:`` section of generative schemes.

    manifest: corpus manifest CSV (or its folder). feature / feature_params: a ``speechgen.data.features``
    name and its parameters (default the 2x128x128 amplitude + phase image). channels: feature channels the model
    generates (None: all). condition_channels: feature channels handed to the model as ``condition`` (e.g. the
    phase image in conditional-WGAN-GP exp3). labelled: train on labelled rows only. batch_size: items per batch
    **per device**. num_workers: loader processes. sample_rate: audio rate. segment_length: crop length in
    samples for waveform features (None: the feature's default). frames: log-mel frame windows labelled per frame
    (a :class:`~speechgen.data.frames.FrameOptions` mapping: context, stride, eval_stride, phone_set, labels,
    norm_scale, stats; ``{}`` for the defaults; None: whole clips/images). Needs ``feature: log_mel``.
    """

    manifest: str
    feature: str = "stft_image"
    feature_params: dict[str, Any] = field(default_factory=dict)
    channels: list[int] | None = None
    condition_channels: list[int] | None = None
    labelled: bool = True
    batch_size: int = 64
    num_workers: int = 0
    sample_rate: int = 16000
    segment_length: int | None = None
    frames: dict[str, Any] | None = None

    def validate(self, where: str) -> None:
        check_fields(self, where, positive=("batch_size", "sample_rate"), non_negative=("num_workers",))
        for k in ("channels", "condition_channels"):
            v = getattr(self, k)
            if v is not None and (not v or min(v) < 0 or len(set(v)) != len(v)):
                raise ConfigError(f"{where}.{k}: expected distinct channel indices >= 0, got {v}")
        if self.channels and self.condition_channels and set(self.channels) & set(self.condition_channels):
            raise ConfigError(f"{where}.condition_channels: overlaps channels {self.channels}")
        from speechgen.data.features import build_feature

        try:
            build_feature(self.feature, self.feature_params)
        except ConfigError as exc:
            raise ConfigError(f"{where}.{exc}") from exc
        if self.frames is not None:
            from speechgen.data.frames import FrameOptions

            opts = FrameOptions.from_mapping(self.frames, f"{where}.frames")
            n_mels = getattr(build_feature(self.feature, self.feature_params), "n_mels", None)
            if opts.stats is not None and len(opts.stats["mean"]) != n_mels:
                raise ConfigError(f"{where}.frames.stats.mean: {len(opts.stats['mean'])} values, but the feature "
                                  f"has {n_mels} mel bands")
            if self.feature != "log_mel":
                raise ConfigError(f"{where}.feature: frame windows (data.frames) are cut from 'log_mel', "
                                  f"got '{self.feature}'")
            if self.condition_channels or (self.channels and self.channels != [0]):
                raise ConfigError(f"{where}.channels: frame windows have one channel; leave channels and "
                                  "condition_channels unset")
            if self.segment_length is not None:
                raise ConfigError(f"{where}.segment_length: frame windows are sized by frames.context; leave it unset")


@dataclass
class GenTrain(TrainSection):
    """``train:`` section of generative schemes (see :class:`~speechgen.training.optim.TrainSection`).

    sample_every: write ``n_samples`` samples (WAV + PNG grid, also to TensorBoard) every this many steps (0: off).
    n_samples: samples per round (conditional models cycle through the labels). ema: decay of an exponential
    moving average of the model's weights used for sampling and the final checkpoint (0: off; 0.999 typical),
    warmed up as ``min(ema, (1 + step) / (10 + step))`` so that early steps do not leave the random initial weights
    in the average (a plain 0.999 keeps ``0.999**step`` of them: 22 % after 1 500 steps).
    """

    max_steps: int = 20000
    val_every: int = 1000
    checkpoint_every: int = 1000
    log_every: int = 50
    sample_every: int = 1000
    n_samples: int = 20
    ema: float = 0.0

    def validate(self, where: str) -> None:
        super().validate(where)
        if self.sample_every < 0 or self.n_samples <= 0:
            raise ConfigError(f"{where}: sample_every must be >= 0 and n_samples > 0")
        if not 0.0 <= self.ema < 1.0:
            raise ConfigError(f"{where}.ema: must be in [0, 1), got {self.ema}")


def ema_decay(ema: float, step: int) -> float:
    """EMA decay at training step ``step``: ``min(ema, (1 + step) / (10 + step))`` (the warm-up of TensorFlow's
    ExponentialMovingAverage): the average follows the model closely at first, then settles to ``ema``."""
    return min(ema, (1.0 + step) / (10.0 + step))


def build_datamodule(data: GenData, seed: int) -> Any:
    """The :class:`~speechgen.data.datamodule.DigitsDataModule` of a ``data:`` section (the
    :class:`~speechgen.data.frames.FramesDataModule` when ``data.frames`` is set)."""
    from speechgen.data.datamodule import DigitsDataModule

    if data.frames is not None:
        from speechgen.data.frames import FramesDataModule

        return FramesDataModule(
            data.manifest, batch_size=data.batch_size, num_workers=data.num_workers, seed=seed,
            sample_rate=data.sample_rate, feature=data.feature, feature_params=data.feature_params,
            frames=data.frames, labelled=True if data.labelled else None,
        )

    seg: int | str | None = data.segment_length if data.segment_length is not None else "auto"
    return DigitsDataModule(
        data.manifest, batch_size=data.batch_size, num_workers=data.num_workers, seed=seed,
        sample_rate=data.sample_rate, segment_length=seg, feature=data.feature,
        feature_params=data.feature_params, labelled=True if data.labelled else None,
    )


def check_label_count(model: torch.nn.Module, dm: Any, names: tuple[str, ...] = ("n_classes",)) -> None:
    """ConfigError when the manifest has more labels than a conditional model's ``names`` attributes allow."""
    for name in names:
        n = int(getattr(model, name, 0) or 0)
        if n and dm.num_labels > n:
            raise ConfigError(f"recipe.model.kwargs.{name}: {n}, but the manifest has {dm.num_labels} labels")


def fit_feature(data: GenData, checkpoint_extra: dict[str, Any] | None = None,
                ) -> tuple[GenData, dict[str, Any] | None]:
    """``(data, checkpoint_extra)`` with the feature's training-set statistics filled in (both unchanged for
    features without any).

    A feature that needs statistics (``Feature.needs_fit``, e.g. ``specgan_image``'s per-bin mean / std) gets them
    from the train split of ``data.manifest`` (cached beside the feature cache, see
    :meth:`~speechgen.data.features.SpecGanImage.fit`); the completed parameters replace ``data.feature_params``
    and those of a copy of the recipe in ``checkpoint_extra["recipe"]`` that the run's checkpoints carry, so a
    checkpoint alone can turn generated features into audio.
    """
    from speechgen.data.datamodule import DEFAULT_CACHE_SUBDIR
    from speechgen.data.features import build_feature
    from speechgen.data.manifest import Manifest

    feature = build_feature(data.feature, data.feature_params)
    if not feature.needs_fit:
        return data, checkpoint_extra
    manifest = Manifest.read(data.manifest)
    fitted = feature.fit(manifest, manifest.root / DEFAULT_CACHE_SUBDIR, data.sample_rate,
                         labelled=True if data.labelled else None)
    params = {k: list(v) if isinstance(v, tuple) else v for k, v in fitted.params().items()}
    extra = dict(checkpoint_extra or {})
    recipe = copy.deepcopy(extra.get("recipe") or {})
    recipe.setdefault("data", {})["feature_params"] = copy.deepcopy(params)
    extra["recipe"] = recipe
    return dataclasses.replace(data, feature_params=params), extra


def frame_shape(data: GenData) -> tuple[int, int, int] | None:
    """``(1, n_mels, context)``: the shape of one frame window when ``data.frames`` is set, else None."""
    if data.frames is None:
        return None
    from speechgen.data.features import build_feature
    from speechgen.data.frames import FrameOptions

    opts = FrameOptions.from_mapping(data.frames, "recipe.data.frames")
    return 1, int(build_feature(data.feature, data.feature_params).n_mels), opts.context  # type: ignore[attr-defined]


def split_channels(batch: dict[str, torch.Tensor], data: GenData) -> tuple[torch.Tensor, torch.Tensor | None]:
    """``(x, condition)`` of a batch: the generated channels and the conditioning channels (or None)."""
    x = batch["features"] if "features" in batch else batch["audio"]
    cond = x[:, data.condition_channels] if data.condition_channels else None
    if data.channels:
        x = x[:, data.channels]
    return x, cond


class GenerativeModule(L.LightningModule):
    """Base LightningModule of generative schemes.

    Subclasses implement ``training_step`` (calling :meth:`check_finite` on their losses) and
    ``configure_optimizers``; the base keeps the model spec for pickle-free checkpoints, an optional EMA copy of
    the model (updated by :meth:`update_ema` after each step), and writes sample rounds every
    ``train.sample_every`` steps into ``RUN/samples/step-NNNNNNN/`` (and TensorBoard when that logger is on).
    """

    def __init__(self, model: torch.nn.Module, model_spec: dict[str, Any], data: GenData, train: GenTrain,
                 checkpoint_extra: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.model = model
        self.model_spec = model_spec
        self.data_cfg, self.train_cfg = data, train
        self.checkpoint_extra = dict(checkpoint_extra or {})
        self.ema_model = copy.deepcopy(model).requires_grad_(False) if train.ema > 0 else None
        self._fixed: dict[str, Any] | None = None

    # -- guards and EMA ------------------------------------------------------------------------------------------
    def check_finite(self, **losses: torch.Tensor) -> None:
        """Raise :class:`NonFiniteLossError` naming the first NaN/Inf loss (before any optimiser step)."""
        check_finite(int(self.global_step), **losses)

    @torch.no_grad()
    def update_ema(self) -> None:
        """Move the EMA weights towards the model's with the warmed-up decay :func:`ema_decay` (buffers are
        copied)."""
        if self.ema_model is None:
            return
        d = ema_decay(self.train_cfg.ema, int(self.global_step))
        for pe, p in zip(self.ema_model.parameters(), self.model.parameters()):
            pe.lerp_(p.detach(), 1.0 - d)
        for be, b in zip(self.ema_model.buffers(), self.model.buffers()):
            be.copy_(b)

    def export_model(self) -> torch.nn.Module:
        """The model to sample from and to save as ``final``: the EMA copy when EMA is on."""
        return self.ema_model if self.ema_model is not None else self.model

    # -- checkpoints ---------------------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from speechgen.checkpoint import model_config

        extra = dict(self.checkpoint_extra, step=int(self.global_step))
        prefix = "ema_model." if self.ema_model is not None else "model."
        checkpoint["speechgen_model"] = {"prefix": prefix,
                                         "config": model_config(self.export_model(), self.model_spec, extra)}

    # -- frame windows -------------------------------------------------------------------------------------------
    def setup(self, stage: str) -> None:
        """With frame windows, record the data module's resolved frame options (train statistics, labels mode) in
        ``data_cfg.frames`` and in the checkpoint's recipe, so that samples can be de-normalised later."""
        dm = getattr(self.trainer, "datamodule", None) if self._trainer is not None else None
        resolve = getattr(dm, "resolved_frames", None)
        if self.data_cfg.frames is None or not callable(resolve):
            return
        frames = resolve()
        self.data_cfg = dataclasses.replace(self.data_cfg, frames=frames)
        recipe = copy.deepcopy(self.checkpoint_extra.get("recipe") or {})
        recipe.setdefault("data", {})["frames"] = copy.deepcopy(frames)
        self.checkpoint_extra["recipe"] = recipe

    # -- samples -------------------------------------------------------------------------------------------------
    def fixed_inputs(self) -> dict[str, Any]:
        """Labels, latent generator seed and conditions of the sample rounds (the same every round)."""
        if self._fixed is None:
            n = self.train_cfg.n_samples
            model = self.export_model()
            labels = torch.arange(n) % model.n_classes if getattr(model, "n_classes", 0) else None
            cond = None
            if self.data_cfg.condition_channels:
                cond = self._conditions_for(labels, n)
            self._fixed = {"labels": labels, "condition": cond, "seed": int(self.checkpoint_extra.get("seed", 0))}
        return self._fixed

    def _conditions_for(self, labels: torch.Tensor | None, n: int) -> torch.Tensor:
        """Conditions drawn from the validation split (matching labels where there are labels)."""
        from speechgen.models.sampling import conditions_from_dataset

        dm = self.trainer.datamodule
        split = "valid" if len(dm.manifest.select("valid", labelled=True)) else "train"
        return conditions_from_dataset(dm.dataset(split), self.data_cfg.condition_channels, labels, n,
                                       seed=int(self.checkpoint_extra.get("seed", 0)))

    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        self.update_ema()
        every = self.train_cfg.sample_every
        step = int(self.global_step)
        if every and step % every == 0 and step > 0 and self.trainer.is_global_zero:
            self.write_samples(step)

    def sample_feature(self) -> Any:
        """The feature whose ``invert`` turns the model's samples into audio (the data section's feature)."""
        from speechgen.data.features import build_feature

        return build_feature(self.data_cfg.feature, self.data_cfg.feature_params)

    @torch.no_grad()
    def write_samples(self, step: int) -> Path:
        """Draw the fixed sample round with the export model and write it under ``RUN/samples/step-NNNNNNN``."""
        from speechgen.models.sampling import draw, write_samples

        fixed = self.fixed_inputs()
        model = self.export_model()
        was_training = model.training
        feats = draw(model, self.train_cfg.n_samples, fixed["labels"], fixed["seed"], fixed["condition"],
                     device=self.device)
        model.train(was_training)
        d = self.data_cfg
        out = Path(self.trainer.default_root_dir) / "samples" / f"step-{step:07d}"
        audio = write_samples(out, feats, self.sample_feature(), fixed["labels"], d.sample_rate,
                              condition=fixed["condition"], condition_channels=getattr(d, "condition_channels", None),
                              channels=getattr(d, "channels", None), seed=fixed["seed"],
                              frames=getattr(d, "frames", None))
        self._log_media(step, feats, audio)
        return out

    def _log_media(self, step: int, feats: np.ndarray, audio: np.ndarray) -> None:
        exp = getattr(self.logger, "experiment", None) if self.logger is not None else None
        if exp is None or not hasattr(exp, "add_audio"):
            return
        for i, a in enumerate(audio[:4] if audio.size else ()):  # no audio for features without an inverse
            exp.add_audio(f"samples/{i}", torch.from_numpy(a)[None], step, sample_rate=self.data_cfg.sample_rate)
        if feats.ndim == 4:
            from speechgen.models.sampling import tile

            grid = tile(np.clip((feats[:16, 0] + 1.0) / 2.0, 0.0, 1.0))
            exp.add_image("samples/amplitude", torch.from_numpy(grid)[None], step)
