"""The adversarial update every adversarial scheme calls (gan, vocoder, vaegan, the WAE-GAN objective of vae, and
the voice-conversion and image-translation schemes to come).

One training step under manual optimisation:

1. **critic updates** (:meth:`AdversarialUpdate.critic_step`, as many as the scheme wants): finite check, zero
   grad, backward, gradient clipping by the optimiser's section, and a step of the *raw* optimiser, so that these
   updates do not advance ``trainer.global_step``;
2. **the generator update** (:meth:`AdversarialUpdate.generator_step`): the critic frozen while the generator's
   losses are computed and back-propagated, finite check, clipping, and a step of Lightning's optimiser: the one
   step that advances ``global_step``, so ``max_steps``, ``val_every``, ``checkpoint_every`` and ``--resume`` count
   training steps;
3. every learning-rate schedule advances once (:meth:`AdversarialUpdate.step_schedules`).

:meth:`AdversarialUpdate.joint_step` is the variant in which several networks are updated from one forward pass,
each with the gradient of its own loss only (VAE-GAN).

Losses are dicts of named parts; :func:`weighted_sum` turns the parts and the recipe's weights into the one total
to minimise, and the schemes log the dict itself, so a new term is logged as soon as it is added.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from speechgen.training.optim import OptimConfig, check_finite

Parts = dict[str, torch.Tensor]


def weighted_sum(parts: Mapping[str, torch.Tensor], weights: Mapping[str, float]) -> torch.Tensor:
    """``Σ weights[k] · parts[k]``, in the weights' order, over the weighted parts present (a part without a
    weight, or with weight 0, is only logged; a weight of exactly 1 adds the part itself)."""
    total: torch.Tensor | None = None
    for name, w in weights.items():
        if w == 0 or name not in parts:
            continue
        term = parts[name] if w == 1 else w * parts[name]
        total = term if total is None else total + term
    if total is None:
        raise ValueError(f"weighted_sum: no weighted part among {', '.join(parts) or 'none'}")
    return total


@contextlib.contextmanager
def frozen(*nets: nn.Module | None) -> Iterator[None]:
    """Parameters of ``nets`` need no gradient inside the block (restored afterwards, also on an error)."""
    held = [n for n in nets if n is not None]
    for n in held:
        n.requires_grad_(False)
    try:
        yield
    finally:
        for n in held:
            n.requires_grad_(True)


class AdversarialUpdate:
    """The optimiser bookkeeping of one adversarial training step (see the module docstring).

    Args:
        module: the LightningModule (``automatic_optimization = False``) whose optimisers are stepped.
        critic: the network(s) trained against the generator, frozen during :meth:`generator_step` (None: none).
        configs: the optimiser sections, in the order of the module's ``configure_optimizers`` (gradient clipping).
        counted: index of the optimiser whose step advances ``global_step`` (the generator's).
    """

    def __init__(self, module: Any, critic: nn.Module | Sequence[nn.Module] | None,
                 configs: Sequence[OptimConfig], counted: int = 0) -> None:
        self.module = module
        self.critics = [] if critic is None else [critic] if isinstance(critic, nn.Module) else list(critic)
        self.configs = list(configs)
        self.counted = int(counted)

    # -- pieces --------------------------------------------------------------------------------------------------
    def optimizer(self, index: int) -> Any:
        """The module's optimiser ``index`` (a LightningOptimizer)."""
        opts = self.module.optimizers()
        return opts[index] if isinstance(opts, (list, tuple)) else opts

    def step_index(self) -> int:
        """The training step the update belongs to (for the finite check's message)."""
        return int(self.module.global_step)

    def _clip(self, index: int) -> None:
        clip = self.configs[index].grad_clip
        if clip > 0:
            self.module.clip_gradients(self.optimizer(index), gradient_clip_val=clip, gradient_clip_algorithm="norm")

    def _step(self, index: int) -> None:
        opt = self.optimizer(index)
        if index == self.counted:
            opt.step()  # the LightningOptimizer: advances trainer.global_step once per training step
        else:
            opt.optimizer.step()  # the raw optimiser: does not advance trainer.global_step

    # -- the update ----------------------------------------------------------------------------------------------
    def critic_step(self, loss: torch.Tensor, parts: Mapping[str, torch.Tensor] | None = None,
                    optimizer: int = 1, name: str = "critic") -> None:
        """One critic update on ``loss`` (``parts`` and then the loss itself, as ``name``, are checked for NaN/Inf
        first); not counted as a training step."""
        check_finite(self.step_index(), **{**dict(parts or {}), name: loss})
        opt = self.optimizer(optimizer)
        opt.zero_grad(set_to_none=True)
        self.module.manual_backward(loss)
        self._clip(optimizer)
        self._step(optimizer)

    def generator_step(self, losses: Callable[[], tuple[torch.Tensor, Parts]], name: str = "generator",
                       ) -> tuple[torch.Tensor, Parts]:
        """The counted update: ``losses()`` (the total and its parts) computed and back-propagated with the critic
        frozen (the parts and then the total, as ``name``, checked for NaN/Inf first); returns them."""
        opt = self.optimizer(self.counted)
        with frozen(*self.critics):
            total, parts = losses()
            check_finite(self.step_index(), **{**parts, name: total})
            opt.zero_grad(set_to_none=True)
            self.module.manual_backward(total)
        self._clip(self.counted)
        self._step(self.counted)
        return total, parts

    def joint_step(self, losses: Sequence[tuple[int, torch.Tensor, nn.Module]],
                   parts: Mapping[str, torch.Tensor] | None = None) -> None:
        """Several networks from one forward pass: ``(optimiser index, loss, network)`` each gets the gradient of
        its own loss w.r.t. its own parameters only; then every optimiser steps, the counted one last."""
        check_finite(self.step_index(), **dict(parts or {}))
        for index, _, _ in losses:
            self.optimizer(index).zero_grad(set_to_none=True)
        for k, (_, loss, net) in enumerate(losses):
            self.module.manual_backward(loss, inputs=[p for p in net.parameters() if p.requires_grad],
                                        retain_graph=k < len(losses) - 1)
        for index, _, _ in losses:
            self._clip(index)
        for index, _, _ in sorted(losses, key=lambda item: item[0] == self.counted):
            self._step(index)

    def step_schedules(self) -> None:
        """Advance every learning-rate schedule once (a critic schedule may run before its optimiser's first step,
        e.g. before a vocoder's ``disc_start_step``: that warning is silenced)."""
        scheds = self.module.lr_schedulers()
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=r".*lr_scheduler\.step\(\)` before `optimizer\.step\(\)`.*")
            for s in scheds if isinstance(scheds, (list, tuple)) else [scheds] if scheds is not None else []:
                s.step()
