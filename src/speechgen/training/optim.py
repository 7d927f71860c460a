"""Sections shared by training schemes (the optimiser + learning-rate schedule, the training loop) and the guard
against non-finite losses."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

import torch

from speechgen.errors import ConfigError, SpeechgenError


@dataclass
class OptimConfig:
    """``optim:`` section.

    name: "adamw" or "adam". lr: peak learning rate. weight_decay: decoupled (AdamW) / L2 (Adam) decay.
    betas: Adam betas. schedule: "onecycle" (linear warm-up then cosine to ``lr * final_lr_ratio``), "cosine"
    (same without warm-up unless ``warmup`` > 0) or "constant". warmup: share of the steps spent warming up.
    final_lr_ratio: last learning rate as a share of ``lr``. grad_clip: gradient-norm clip (0: off).
    """

    name: Literal["adamw", "adam"] = "adamw"
    lr: float = 1e-3
    weight_decay: float = 0.01
    betas: tuple[float, float] = (0.9, 0.999)
    schedule: Literal["onecycle", "cosine", "constant"] = "onecycle"
    warmup: float = 0.1
    final_lr_ratio: float = 0.01
    grad_clip: float = 0.0

    def validate(self, where: str) -> None:
        if not self.lr > 0:
            raise ConfigError(f"{where}.lr: must be > 0, got {self.lr}")
        if not 0.0 <= self.warmup < 1.0:
            raise ConfigError(f"{where}.warmup: must be in [0, 1), got {self.warmup}")
        if not 0.0 <= self.final_lr_ratio <= 1.0:
            raise ConfigError(f"{where}.final_lr_ratio: must be in [0, 1], got {self.final_lr_ratio}")
        if self.weight_decay < 0 or self.grad_clip < 0:
            raise ConfigError(f"{where}: weight_decay and grad_clip must be >= 0")


def lr_factor(step: int, total: int, cfg: OptimConfig) -> float:
    """Multiplier of ``cfg.lr`` at ``step`` of ``total`` (a pure function: resumable without pickled closures)."""
    if cfg.schedule == "constant":
        return 1.0
    warm = int(cfg.warmup * total) if cfg.schedule == "onecycle" or cfg.warmup > 0 else 0
    if step < warm:
        return (step + 1) / warm
    t = min(1.0, (step - warm) / max(1, total - warm))
    low = cfg.final_lr_ratio
    return low + (1.0 - low) * 0.5 * (1.0 + math.cos(math.pi * t))


def build_optimizer(params: Iterable[torch.nn.Parameter], cfg: OptimConfig, total_steps: int) -> dict[str, Any]:
    """Lightning ``configure_optimizers`` result: optimiser + per-step LambdaLR."""
    cls = torch.optim.AdamW if cfg.name == "adamw" else torch.optim.Adam
    opt = cls(params, lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay)
    total = max(1, int(total_steps))

    def factor(step: int) -> float:  # a plain function: LambdaLR's state_dict stores None for it, not the config
        return lr_factor(step, total, cfg)

    sched = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step", "frequency": 1}}


@dataclass
class TrainSection:
    """``train:`` section shared by schemes. max_steps: training steps (one per batch; a GAN step is one
    generator update with its critic updates). val_every / checkpoint_every / log_every: in steps.
    keep_checkpoints: periodic checkpoints kept (plus ``last``). precision: Lightning precision
    ("32-true" or "bf16-mixed")."""

    max_steps: int = 2000
    val_every: int = 250
    checkpoint_every: int = 250
    keep_checkpoints: int = 2
    log_every: int = 25
    precision: Literal["32-true", "bf16-mixed"] = "32-true"

    def validate(self, where: str) -> None:
        check_fields(self, where, positive=("max_steps", "val_every", "checkpoint_every", "keep_checkpoints",
                                            "log_every"))


def check_fields(section: Any, where: str, positive: tuple[str, ...] = (), non_negative: tuple[str, ...] = (),
                 ) -> None:
    """ConfigError naming the first field of a recipe section (``where.field``) among ``positive`` that is not
    > 0, then among ``non_negative`` that is < 0 (e.g. ``batch_size`` and ``num_workers`` of a data section)."""
    for k in positive:
        if getattr(section, k) <= 0:
            raise ConfigError(f"{where}.{k}: must be > 0, got {getattr(section, k)}")
    for k in non_negative:
        if getattr(section, k) < 0:
            raise ConfigError(f"{where}.{k}: must be >= 0, got {getattr(section, k)}")


class NonFiniteLossError(SpeechgenError):
    """A loss became NaN or Inf; training stops and the last good checkpoint is kept."""


def check_finite(step: int, **losses: torch.Tensor) -> None:
    """Raise :class:`NonFiniteLossError` naming the first NaN/Inf loss of training step ``step``."""
    for name, value in losses.items():
        if not bool(torch.isfinite(value.detach()).all()):
            raise NonFiniteLossError(
                f"step {step}: loss '{name}' is {float(value.detach().float().mean())}; "
                "training stopped (lower the learning rate or enable gradient clipping)")
