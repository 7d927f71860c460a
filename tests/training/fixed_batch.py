"""Helpers of the training tests: the repository's recipes by name (:data:`RECIPES`), fit a Lightning module on one
batch repeated (recording logged metrics), and train a recipe whole and split + resumed to check that ``--resume``
continues exactly.

Import it as ``from .fixed_batch import ...`` (``from ..fixed_batch`` in ``schemes/``): pytest runs with ``--import-mode=importlib`` (pyproject.toml), which
does not put a test's folder on ``sys.path`` but imports the tests as the namespace package ``tests.training``."""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path

import lightning as L
import torch
from safetensors.torch import load_file

from speechgen.training.registry import load_recipe
from speechgen.training.runner import train

#: every recipe of the repository (``recipes/**/*.yaml``) by its file stem, e.g. ``RECIPES["cvae-tiny"]``
RECIPES: dict[str, Path] = {p.stem: p for p in (Path(__file__).resolve().parents[2] / "recipes").rglob("*.yaml")}


class _Repeat(torch.utils.data.Dataset):
    """``batch`` itself, ``n`` times (for a loader with ``batch_size=None``: no extra batch dimension)."""

    def __init__(self, batch: dict, n: int) -> None:
        self.batch, self.n = batch, n

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> dict:
        return self.batch


class _Record(L.Callback):
    """``trainer.callback_metrics[key]`` of each key after every training batch."""

    def __init__(self, keys: Iterable[str]) -> None:
        self.values: dict[str, list[float]] = {k: [] for k in keys}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        for k, v in self.values.items():
            v.append(float(trainer.callback_metrics[k]))


def fit_fixed_batch(module: L.LightningModule, batch: dict, steps: int, tmp_path: Path,
                    record: Sequence[str] = (), callbacks: Sequence[L.Callback] = ()
                    ) -> tuple[L.Trainer, dict[str, list[float]]]:
    """Fit ``module`` for ``steps`` training steps on ``batch`` repeated, on the CPU, without logger, checkpoints or
    progress bar, with Lightning's warnings quieted (no validation loader here); return the trainer and, for each
    metric in ``record``, its value after every training batch."""
    rec = _Record(record)
    trainer = L.Trainer(max_steps=steps, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, callbacks=[*callbacks, rec] if record else list(callbacks),
                        default_root_dir=tmp_path, accelerator="cpu", devices=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer.fit(module, train_dataloaders=torch.utils.data.DataLoader(_Repeat(batch, steps), batch_size=None))
    return trainer, rec.values


def assert_resumes_exactly(recipe: Path, sets: list[str], tmp_path: Path, stop: int, steps: int,
                           max_steps: int | None = None) -> dict[str, torch.Tensor]:
    """Train ``recipe`` (with overrides ``sets``) whole into ``tmp_path/whole``, and into ``tmp_path/split`` stopped
    after ``stop`` steps then resumed (both runs to ``max_steps``, the recipe's when None); assert that the resumed
    run ends at ``steps`` with the same final weights as the whole one, and return those weights."""
    train(load_recipe(recipe, sets), tmp_path / "whole", quiet=True, max_steps=max_steps)
    train(load_recipe(recipe, sets), tmp_path / "split", quiet=True, max_steps=stop)
    metrics = train(load_recipe(recipe, sets), tmp_path / "split", quiet=True, resume=True, max_steps=max_steps)
    assert metrics["steps"] == steps, metrics["steps"]
    a = load_file(str(tmp_path / "whole" / "final" / "model.safetensors"))
    b = load_file(str(tmp_path / "split" / "final" / "model.safetensors"))
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    return a
