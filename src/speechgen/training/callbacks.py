"""Callbacks every run uses.

:class:`ExactResume` makes ``--resume`` continue a run exactly as if it had never stopped (on CPU): it saves the
global random states (torch, CUDA, numpy, Python) with each checkpoint and restores them before the first step
after a resume, and it makes the training sampler skip the items of the interrupted epoch that were already
consumed (Lightning would otherwise start that epoch's data again). Data loaders draw their worker seeds from a
private generator, so nothing but training code consumes the global random state.
"""

from __future__ import annotations

import random
import shutil
import time
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch


def _rng_state() -> dict[str, Any]:
    np_state = np.random.get_state()
    py_state = random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": {"keys": torch.from_numpy(np_state[1].astype(np.int64)), "pos": int(np_state[2]),
                  "has_gauss": int(np_state[3]), "cached_gaussian": float(np_state[4])},
        "python": {"version": int(py_state[0]), "state": torch.tensor(py_state[1], dtype=torch.int64)},
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.stack(torch.cuda.get_rng_state_all()) if torch.cuda.device_count() else None
    return state


def _set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"].to(torch.uint8).cpu())
    n = state["numpy"]
    np.random.set_state(("MT19937", n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"],
                         n["cached_gaussian"]))
    p = state["python"]
    random.setstate((p["version"], tuple(int(v) for v in p["state"].tolist()), None))
    cuda = state.get("cuda")
    if cuda is not None and torch.cuda.is_available() and torch.cuda.device_count() == len(cuda):
        torch.cuda.set_rng_state_all(list(cuda.to(torch.uint8).cpu()))


class ExactResume(L.Callback):
    """Save/restore global RNG states and skip already-consumed items of an interrupted epoch; also carries the
    training time across resumes (:meth:`seconds`)."""

    def __init__(self) -> None:
        self._pending: dict[str, Any] | None = None
        self._prior = 0.0  # training seconds of earlier segments, up to the checkpoint resumed from
        self._start: float | None = None

    def seconds(self) -> float:
        """Training wall time of the whole run so far (earlier segments up to their checkpoints included)."""
        return self._prior + (time.perf_counter() - self._start if self._start is not None else 0.0)

    def state_dict(self) -> dict[str, Any]:
        return {"rng": _rng_state(), "train_seconds": round(self.seconds(), 3)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self._pending = state_dict.get("rng")
        self._prior = float(state_dict.get("train_seconds", 0.0))

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._start = time.perf_counter()
        progress = trainer.fit_loop.epoch_loop.batch_progress  # restored, not yet reset
        done = int(progress.current.processed)
        per_epoch = trainer.num_training_batches
        # a checkpoint on an epoch's last batch: Lightning itself starts the next epoch, from its first item
        finished = bool(progress.is_last_batch) or (isinstance(per_epoch, int) and done >= per_epoch)
        dm = trainer.datamodule
        sampler = getattr(dm, "train_sampler", None)
        if done > 0 and not finished and sampler is not None:
            sampler.skip_next(done * int(dm.batch_size))

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any,
                             batch_idx: int) -> None:
        if self._pending is not None:
            _set_rng_state(self._pending)
            self._pending = None


class PeriodicCheckpoint(L.Callback):
    """Every ``every`` steps write ``dirpath/stepNNNNNNN.ckpt`` and ``dirpath/last.ckpt`` (through the trainer's
    pickle-free checkpoint IO), keep the newest ``keep`` step folders, and write ``last.ckpt`` when training ends.

    Lightning's ModelCheckpoint is not used: with a monitored key it defers a save that falls on the last batch
    of an epoch to a validation that may never come, and it warns on every save under manual optimisation.
    """

    def __init__(self, dirpath: str | Path, every: int, keep: int, last_name: str = "last.ckpt") -> None:
        self.dirpath, self.every, self.keep, self.last_name = Path(dirpath), int(every), int(keep), last_name
        self._saved_step = -1

    def _save(self, trainer: L.Trainer) -> None:
        step = int(trainer.global_step)
        if step == self._saved_step:
            return
        # full state (optimisers, loops, RNG), never pickled: see training.checkpoint_io.SafeCheckpointIO
        trainer.save_checkpoint(self.dirpath / f"step{step:07d}.ckpt", weights_only=False)
        trainer.save_checkpoint(self.dirpath / self.last_name, weights_only=False)
        self._saved_step = step
        if trainer.is_global_zero:
            old = sorted(p for p in self.dirpath.glob("step*.ckpt") if p.is_dir())[:-self.keep]
            for p in old:
                shutil.rmtree(p, ignore_errors=True)

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                           batch_idx: int) -> None:
        step = trainer.global_step
        # the last step is saved here too, before the validation that may follow it: what a resumed run restores
        # must be the state right after a batch (a save at train end would hold the validation's traces)
        if step > 0 and (step % self.every == 0 or step >= (trainer.max_steps or 0) > 0):
            self._save(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer)  # a run stopped otherwise (no step since the last save: nothing is written)


def step_progress_bar() -> L.Callback:
    """Lightning's rich progress bar counting training steps (``step 120/3000``) instead of "Epoch 9/-2": runs are
    bounded by ``max_steps``, so the epoch has no end to show."""
    from lightning.pytorch.callbacks import RichProgressBar

    class StepProgressBar(RichProgressBar):
        def _get_train_description(self, current_epoch: int) -> str:
            trainer = self.trainer
            text = f"step {trainer.global_step}/{trainer.max_steps} (epoch {current_epoch})"
            return f"{text:{len(self.validation_description)}}"

        def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any,
                               batch_idx: int) -> None:
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)
            if self.train_progress_bar_id is not None and self.progress is not None:
                self.progress.update(self.train_progress_bar_id,
                                     description=self._get_train_description(trainer.current_epoch))

    return StepProgressBar()
