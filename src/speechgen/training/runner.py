"""Run a recipe with Lightning: run folder, pickle-free checkpoints, CSV logs, final checkpoint and metrics.

A run folder holds ``config.yaml`` (the resolved recipe, seed and command), ``checkpoints/`` (periodic and
``last.ckpt`` folders, each a model checkpoint plus trainer state; see :mod:`speechgen.checkpoint`),
``logs/metrics.csv`` and TensorBoard event files (``logs/resume-N/`` after the N-th ``--resume``), ``samples/``
(sample rounds of generative schemes), ``final/`` (model checkpoint with the metrics in its ``config.yaml``; the
EMA weights when the scheme keeps them) and ``metrics.json``.

A NaN/Inf loss stops the run with one line (:class:`~speechgen.training.optim.NonFiniteLossError`); no
checkpoint is written after it, so ``checkpoints/last.ckpt`` stays the last good state.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import warnings
from pathlib import Path
from typing import Any

import yaml

from speechgen import __version__
from speechgen.atomic import describe_write_error, ensure_dir, write_text
from speechgen.errors import ConfigError, DataError
from speechgen.training.callbacks import ExactResume, PeriodicCheckpoint, step_progress_bar
from speechgen.training.checkpoint_io import SafeCheckpointIO
from speechgen.training.optim import NonFiniteLossError
from speechgen.checkpoint import git_commit, save_checkpoint, to_plain
from speechgen.training.recipe import Recipe
from speechgen.training.registry import SCHEMES, build_model

LAST = "last.ckpt"
# recipe fields a resumed run may change: its length, how many checkpoints it keeps and how its data are loaded;
# nothing that shapes the training
RESUMABLE_CHANGES = ("train.max_steps", "train.keep_checkpoints", "data.num_workers")


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out or {prefix.rstrip("."): {}}
    return {prefix.rstrip("."): value}


def saved_recipe(out: str | os.PathLike) -> tuple[dict[str, Any], Path | None]:
    """The recipe (raw, overrides applied) a run folder was trained with and the recipe file it came from, read
    from its ``config.yaml``."""
    path = Path(out) / "config.yaml"
    try:
        saved = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as e:
        raise DataError(f"{path}: cannot read the run's config ({e})") from None
    if not isinstance(saved, dict) or not isinstance(saved.get("recipe"), dict):
        raise DataError(f"{path}: not a run config (no 'recipe' mapping)")
    source = saved.get("recipe_path")
    return saved["recipe"], Path(source) if source else None


def check_resume_recipe(recipe: Recipe, out: str | os.PathLike) -> None:
    """Refuse to resume ``out`` with a recipe that differs from the one it was trained with (apart from
    :data:`RESUMABLE_CHANGES`): the checkpoint would load into another model or continue with other settings."""
    if not (Path(out) / "config.yaml").is_file():
        return
    old, new = _flatten(to_plain(saved_recipe(out)[0])), _flatten(to_plain(recipe.raw))
    for key in sorted(set(old) | set(new)):
        if key in RESUMABLE_CHANGES or old.get(key) == new.get(key):
            continue
        raise ConfigError(f"{key}: {new.get(key)!r} differs from the run's {old.get(key)!r} "
                          f"({Path(out) / 'config.yaml'}); to continue the run with its own recipe, "
                          "resume without giving a recipe")


class _NoAdverts(logging.Filter):
    """Drops Lightning's "💡 Tip: ... try installing ..." lines (advertisements for its cloud services)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "Tip:" not in str(record.msg)


def _quiet_lightning() -> None:
    """``--quiet``: Lightning's info lines and its advice warnings (DDP's DistributedSampler notes, ...) are off."""
    for name in ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning"):
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=UserWarning, module=r"lightning(\..*)?$")


def train(
    recipe: Recipe,
    out: str | os.PathLike,
    *,
    max_steps: int | None = None,
    seed: int | None = None,
    resume: bool = False,
    devices: int = 1,
    num_nodes: int = 1,
    accelerator: str = "auto",
    quiet: bool = False,
    command: str = "",
) -> dict[str, Any]:
    """Train ``recipe`` into run folder ``out``; return the final metrics.

    A write that fails (a full disk, a folder made read-only) stops the run with one line naming the file; a first
    segment that fails before its first checkpoint removes what it wrote (the run's ``config.yaml`` and logs), so
    the folder is as it was; ``resume`` continues from ``last.ckpt`` or, when that one could not be written, from
    the newest complete step checkpoint.
    """
    out = Path(out)
    existed = out.exists()
    try:
        return _train(recipe, out, max_steps=max_steps, seed=seed, resume=resume, devices=devices,
                      num_nodes=num_nodes, accelerator=accelerator, quiet=quiet, command=command)
    except BaseException as exc:
        if not resume and not _checkpoints(out / "checkpoints"):
            _remove_first_segment(out, existed)
        if isinstance(exc, OSError):
            raise DataError(write_failure(exc, out)) from exc
        raise


def write_failure(exc: OSError, out: Path) -> str:
    """One line for a failed write during a run (``no space left on device`` and the file, when known)."""
    return f"{describe_write_error(exc, Path(exc.filename or out))} (run {out})"


def _checkpoints(ckpt_dir: Path) -> list[Path]:
    """Complete checkpoint folders (written and renamed into place) of a run."""
    if not ckpt_dir.is_dir():
        return []
    done = [p for p in ckpt_dir.iterdir() if p.is_dir() and not p.name.startswith(".")
            and (p / "trainer_state.yaml").is_file() and (p / "trainer_state.safetensors").is_file()]
    return sorted(done)


def resume_point(ckpt_dir: Path) -> Path | None:
    """The checkpoint ``--resume`` continues from: ``last.ckpt`` (put back if a kill interrupted its replacement),
    else the newest complete step checkpoint (a failed ``last.ckpt`` write), else None."""
    last = ckpt_dir / LAST
    if not last.is_dir():  # killed between moving the old last.ckpt aside and renaming the new one
        for old in sorted(ckpt_dir.glob(f".{LAST}.old-*")) if ckpt_dir.is_dir() else ():
            os.replace(old, last)
            break
    found = _checkpoints(ckpt_dir)
    return max(found, key=lambda p: (_step(p), p.name == LAST)) if found else None


def _step(ckpt: Path) -> int:
    """The training step a checkpoint folder was written at (its config.yaml's ``step``; -1 if unreadable)."""
    try:
        return int((yaml.safe_load((ckpt / "config.yaml").read_text()) or {}).get("step", -1))
    except (OSError, yaml.YAMLError, TypeError, ValueError, AttributeError):
        return -1


def _remove_first_segment(out: Path, existed: bool) -> None:
    """Undo what a failed first segment wrote: its config.yaml, logs and (empty) checkpoint folder; the run folder
    itself when this call created it."""
    for path in (out / "config.yaml", out / "logs", out / "checkpoints", out / "samples"):
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.exists():
            path.unlink(missing_ok=True)
    if not existed:
        shutil.rmtree(out, ignore_errors=True)


def _train(recipe: Recipe, out: Path, *, max_steps: int | None, seed: int | None, resume: bool, devices: int,
           num_nodes: int, accelerator: str, quiet: bool, command: str) -> dict[str, Any]:
    import lightning as L
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    ckpt_dir = out / "checkpoints"
    last = resume_point(ckpt_dir) if resume else ckpt_dir / LAST
    if resume and last is None:
        raise DataError(f"{out}: nothing to resume (no complete checkpoint in {ckpt_dir.name}/)")
    assert last is not None
    if not resume and ckpt_dir.exists() and any(ckpt_dir.iterdir()):
        raise DataError(f"{out}: already holds a run; pass --resume to continue it or choose another --out")
    if max_steps is not None:
        if max_steps <= 0:
            raise ConfigError(f"--max-steps: must be > 0, got {max_steps}")
        recipe.train.max_steps = int(max_steps)
        recipe.raw.setdefault("train", {})["max_steps"] = int(max_steps)
    if seed is not None:
        recipe.seed = int(seed)
        recipe.raw["seed"] = int(seed)
    if resume:
        check_resume_recipe(recipe, out)
    if devices <= 0:
        raise ConfigError(f"--devices: must be > 0, got {devices}")
    if num_nodes <= 0:
        raise ConfigError(f"--num-nodes: must be > 0, got {num_nodes}")
    check_accelerator(accelerator, devices)
    ensure_dir(out)
    for pattern in (".*.part", ".*.old-*"):  # left by a run killed mid-write
        for stale in ckpt_dir.glob(pattern) if ckpt_dir.is_dir() else ():
            shutil.rmtree(stale, ignore_errors=True)
    tcfg = recipe.train
    run_config = {
        "recipe": to_plain(recipe.raw), "recipe_path": str(recipe.path) if recipe.path else None,
        "seed": recipe.seed, "devices": devices, "num_nodes": num_nodes, "command": command, "speechgen_version": __version__,
        "git_commit": git_commit(),
    }
    write_text(out / "config.yaml", yaml.safe_dump(run_config, sort_keys=False))

    L.seed_everything(recipe.seed, workers=True, verbose=False)
    if quiet:
        _quiet_lightning()
    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.fabric.utilities.rank_zero"):
        logger = logging.getLogger(name)
        if not any(isinstance(f, _NoAdverts) for f in logger.filters):
            logger.addFilter(_NoAdverts())
    warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=r".*number of training batches.*")
    warnings.filterwarnings("ignore", message=r".*Checkpoint directory .* exists and is not empty.*")
    warnings.filterwarnings("ignore", message=r".*LeafSpec.*")
    warnings.filterwarnings("ignore", message=r".*dataloader is not resumable.*")  # ExactResume handles it
    log_version = ""  # logs/metrics.csv; a resumed run logs to logs/resume-N/ (CSVLogger would erase the file)
    while resume and (log_version == "" or (out / "logs" / log_version).exists()):
        log_version = f"resume-{int(log_version.rpartition('-')[2] or 0) + 1}"
    model = build_model(recipe)
    extra = {"recipe": run_config["recipe"], "command": command, "seed": recipe.seed}
    module, datamodule = SCHEMES[recipe.scheme].build(recipe, model, extra)

    checkpointing = PeriodicCheckpoint(ckpt_dir, tcfg.checkpoint_every, tcfg.keep_checkpoints, LAST)
    resumer = ExactResume()
    loggers = [CSVLogger(out, name="logs", version=log_version)]
    if _has_tensorboard():
        loggers.append(TensorBoardLogger(out, name="logs", version=log_version, default_hp_metric=False))
    clip = getattr(getattr(recipe, "optim", None), "grad_clip", 0.0) if module.automatic_optimization else 0.0
    trainer = L.Trainer(
        accelerator=accelerator, devices=devices, num_nodes=num_nodes, max_steps=tcfg.max_steps,
        precision=tcfg.precision, logger=loggers,
        callbacks=[checkpointing, resumer] + ([] if quiet else [step_progress_bar()]),
        default_root_dir=out, enable_checkpointing=False,
        plugins=[SafeCheckpointIO()], val_check_interval=min(tcfg.val_every, tcfg.max_steps),
        check_val_every_n_epoch=None, log_every_n_steps=tcfg.log_every, num_sanity_val_steps=0,
        enable_progress_bar=not quiet, enable_model_summary=not quiet, deterministic=False,
        gradient_clip_val=clip or None, strategy=_strategy(devices * num_nodes, module),
    )
    try:
        trainer.fit(module, datamodule=datamodule, ckpt_path=str(last) if resume else None)
    except NonFiniteLossError as exc:
        kept = f"; last good checkpoint: {last}" if last.is_dir() else "; no checkpoint was written yet"
        raise NonFiniteLossError(f"{out}: {exc}{kept}") from exc
    # the whole run's training time: earlier segments (up to the checkpoint resumed from) included
    metrics: dict[str, Any] = {"steps": int(trainer.global_step), "train_seconds": round(resumer.seconds(), 1)}
    metrics.update({k: float(v) for k, v in trainer.callback_metrics.items() if k.startswith("train/")})
    for stage, split in (("validate", "valid"), ("test", "test")):
        if not _has_eval_rows(datamodule, split):
            continue
        run = trainer.validate if stage == "validate" else trainer.test
        for row in run(module, datamodule=datamodule, verbose=False):
            metrics.update({k: float(v) for k, v in row.items()})
    if trainer.is_global_zero:
        final_model = module.export_model() if hasattr(module, "export_model") else module.model
        # the module's extra: a scheme may have resolved more of the recipe while training (frame statistics)
        final_extra = dict(getattr(module, "checkpoint_extra", None) or extra)
        save_checkpoint(out / "final", final_model, {"name": recipe.model.name, "kwargs": recipe.model.kwargs},
                        extra=dict(final_extra, metrics=metrics, step=int(trainer.global_step)))
        write_text(out / "metrics.json", json.dumps(metrics, indent=2) + "\n")
    return metrics


ACCELERATORS = ("auto", "cpu", "gpu")


def check_accelerator(accelerator: str, devices: int) -> None:
    """ConfigError (one line) for an accelerator this machine lacks or too many devices of it."""
    import torch

    if accelerator not in ACCELERATORS:
        raise ConfigError(f"--accelerator: expected one of {', '.join(ACCELERATORS)}, got {accelerator!r}")
    if accelerator == "gpu":
        found = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if found == 0:
            raise ConfigError(f"--accelerator gpu: no CUDA GPU is available here (torch {torch.__version__}); "
                              "use --accelerator cpu or auto")
        if devices > found:
            raise ConfigError(f"--devices {devices}: this machine has {found} GPU(s)")


def _has_eval_rows(datamodule: Any, split: str) -> bool:
    """Whether ``split`` has data for the final validate/test: the data module's ``has_rows`` where it has one
    (frame windows labelled by alignments), else manifest rows under its ``labelled`` filter."""
    has_rows = getattr(datamodule, "has_rows", None)
    if callable(has_rows):
        return bool(has_rows(split))
    return len(datamodule.manifest.select(split, labelled=getattr(datamodule, "labelled", None))) > 0


def _has_tensorboard() -> bool:
    try:
        import tensorboard  # noqa: F401
    except ImportError:
        return False
    return True


def _strategy(world: int, module: Any) -> Any:
    """"auto" for one process; DDP (gloo on CPU, NCCL on GPUs) otherwise. Schemes with several optimisers
    (manual optimisation) may leave parameters unused in a backward pass, so DDP looks for them there."""
    if world <= 1:
        return "auto"
    from lightning.pytorch.strategies import DDPStrategy

    return DDPStrategy(find_unused_parameters=not module.automatic_optimization)
