"""The Lightning plug-in that writes trainer checkpoints as pickle-free folders (see :mod:`speechgen.checkpoint`)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from lightning.pytorch.plugins.io import CheckpointIO

from speechgen.checkpoint import (
    MODEL_FILE, MODEL_PREFIX, TRAINER_STATE, atomic_dir, load_state, load_tensors, save_state, write_model_files,
)
from speechgen.errors import CheckpointError


class SafeCheckpointIO(CheckpointIO):
    """Lightning checkpoints as folders: model files (if the module provides ``speechgen_model``) plus
    ``trainer_state.safetensors`` / ``.yaml`` for everything else. Never pickles."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | os.PathLike,
                        storage_options: Any | None = None) -> None:
        ckpt = dict(checkpoint)
        spec = ckpt.pop("speechgen_model", None)
        state = dict(ckpt.pop("state_dict", {}))
        with atomic_dir(path) as tmp:
            if spec is not None:
                prefix = spec.get("prefix", MODEL_PREFIX)
                weights = {k[len(prefix):]: state.pop(k) for k in list(state) if k.startswith(prefix)}
                write_model_files(tmp, weights, spec["config"])
                ckpt["speechgen_model"] = {"prefix": prefix}
            ckpt["state_dict"] = state
            save_state(tmp, ckpt, TRAINER_STATE)

    def load_checkpoint(self, path: str | os.PathLike, map_location: Any | None = None,
                        **kwargs: Any) -> dict[str, Any]:
        folder = Path(path)
        if not folder.is_dir():
            raise CheckpointError(f"{folder}: no such checkpoint folder")
        ckpt = load_state(folder, TRAINER_STATE)
        spec = ckpt.pop("speechgen_model", None)
        if spec is not None:
            weights = load_tensors(folder / MODEL_FILE)
            ckpt["state_dict"].update({spec["prefix"] + k: v for k, v in weights.items()})
        return ckpt

    def remove_checkpoint(self, path: str | os.PathLike) -> None:
        shutil.rmtree(path, ignore_errors=True)
