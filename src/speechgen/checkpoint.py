"""Checkpoints without pickle: safetensors for tensors, YAML for everything else (docs/architecture.md, Checkpoints).

A *model checkpoint* is a folder holding

- ``model.safetensors``: the model's ``state_dict``;
- ``config.yaml``: ``format``, ``model: {name, kwargs}`` (registry name + constructor kwargs), ``sample_rate``,
  ``features`` (the front end's parameters), ``speechgen_version``, ``git_commit``, ``created``, ``metrics`` and
  whatever ``extra`` the writer adds (recipe, command, step, ...).

Any other nested state (optimizer, LR scheduler, trainer loops) is saved by :func:`save_state` as
``NAME.safetensors`` (its tensors, under flattened keys such as ``optimizer_states.0.state.3.exp_avg``) plus
``NAME.yaml`` (the tree with the tensors replaced by ``{__tensor__: key}``, tuples by ``{__tuple__: [...]}``).
Only str/int/float/bool/None, lists, tuples, mappings with scalar keys and tensors are accepted.

Training plugs this into Lightning (:mod:`speechgen.training.checkpoint_io`), so every periodic checkpoint folder is
also a model checkpoint that :func:`load_model` reads; this module itself imports neither Lightning nor a scheme.
Folders are written to a temporary sibling and renamed into place, so a crash never leaves a half checkpoint.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import os
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from speechgen import __version__
from speechgen.atomic import atomic_path, staged_dir
from speechgen.errors import CheckpointError, SpeechgenError

FORMAT = "speechgen-checkpoint"
FORMAT_VERSION = 1
MODEL_FILE, CONFIG_FILE = "model.safetensors", "config.yaml"
TRAINER_STATE = "trainer_state"
MODEL_PREFIX = "model."


# ------------------------------------------------------------------------------------------------ helpers
def git_commit(path: str | os.PathLike | None = None) -> str | None:
    """The current git commit of the source tree (None outside a repository or without git)."""
    where = Path(path) if path is not None else Path(__file__).resolve().parent
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=where, capture_output=True, text=True, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def to_plain(value: Any) -> Any:
    """Convert tuples, numpy scalars/arrays, paths and 0-d tensors to plain YAML-safe Python values."""
    if isinstance(value, Mapping):
        return {to_plain(k): to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_plain(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, torch.Tensor):
        return value.tolist()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    return value


def atomic_dir(target: str | os.PathLike) -> contextlib.AbstractContextManager[Path]:
    """An empty temporary folder beside ``target`` that replaces it on success (the old one removed; see
    :func:`speechgen.atomic.staged_dir` with ``replace``), with the permissions of a plain ``mkdir``."""
    return staged_dir(target, replace=True)


def _write_yaml(path: Path, data: Any) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True), encoding="utf-8")


def save_tensors(path: Path, tensors: Mapping[str, torch.Tensor]) -> None:
    # clone: safetensors refuses tensors that share storage (views, tied weights). Through atomic_path: safetensors
    # writes via its own temporary file (0600), atomic_path gives the file the permissions of a plain open().
    tensors = {k: v.detach().to("cpu").contiguous().clone() for k, v in tensors.items()}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp))


def load_tensors(path: Path, device: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    if not path.is_file():
        raise CheckpointError(f"{path}: missing checkpoint file")
    try:
        return load_file(str(path), device=str(device))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{path}: corrupt or unreadable safetensors file ({str(exc).splitlines()[0]})") from exc


def _read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise CheckpointError(f"{path}: missing checkpoint file")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"{path}: corrupt YAML") from exc


# ------------------------------------------------------------------------------------------------ generic state
def flatten_state(tree: Any, prefix: str = "") -> tuple[Any, dict[str, torch.Tensor]]:
    """Split a nested state into a YAML-safe skeleton and ``{flattened key: tensor}``."""
    tensors: dict[str, torch.Tensor] = {}

    def walk(node: Any, key: str) -> Any:
        if isinstance(node, torch.Tensor):
            name = key or "tensor"
            while name in tensors:
                name += "_"
            tensors[name] = node
            return {"__tensor__": name}
        if isinstance(node, Mapping):
            out = {}
            for k, v in node.items():
                if not isinstance(k, (str, int, float, bool)) and k is not None:
                    raise CheckpointError(f"state key {key}.{k!r}: keys must be strings or numbers")
                out[k] = walk(v, f"{key}.{k}" if key else str(k))
            return out
        if isinstance(node, tuple):
            return {"__tuple__": [walk(v, f"{key}.{i}") for i, v in enumerate(node)]}
        if isinstance(node, list):
            return [walk(v, f"{key}.{i}") for i, v in enumerate(node)]
        if isinstance(node, np.generic):
            return node.item()
        if isinstance(node, os.PathLike):
            return os.fspath(node)
        if node is None or isinstance(node, (str, int, float, bool)):
            return node
        raise CheckpointError(f"state entry '{key}': cannot store a {type(node).__name__} without pickle")

    return walk(tree, prefix), tensors


def unflatten_state(skeleton: Any, tensors: Mapping[str, torch.Tensor]) -> Any:
    """Inverse of :func:`flatten_state`."""
    if isinstance(skeleton, dict):
        if set(skeleton) == {"__tensor__"}:
            key = skeleton["__tensor__"]
            if key not in tensors:
                raise CheckpointError(f"state tensor '{key}' is missing from the safetensors file")
            return tensors[key]
        if set(skeleton) == {"__tuple__"}:
            return tuple(unflatten_state(v, tensors) for v in skeleton["__tuple__"])
        return {k: unflatten_state(v, tensors) for k, v in skeleton.items()}
    if isinstance(skeleton, list):
        return [unflatten_state(v, tensors) for v in skeleton]
    return skeleton


def save_state(folder: str | os.PathLike, state: Any, name: str = "state") -> None:
    """Write ``state`` as ``folder/NAME.safetensors`` + ``folder/NAME.yaml`` (folder must exist)."""
    folder = Path(folder)
    skeleton, tensors = flatten_state(state)
    save_tensors(folder / f"{name}.safetensors", tensors)
    _write_yaml(folder / f"{name}.yaml", skeleton)


def load_state(folder: str | os.PathLike, name: str = "state", device: str | torch.device = "cpu") -> Any:
    """Read a state written by :func:`save_state`."""
    folder = Path(folder)
    skeleton = _read_yaml(folder / f"{name}.yaml")
    return unflatten_state(skeleton, load_tensors(folder / f"{name}.safetensors", device))


# ------------------------------------------------------------------------------------------------ model checkpoints
def resolve_checkpoint(name_or_path: str | os.PathLike) -> Path:
    """The checkpoint folder of a shipped name, a run folder (its ``final/``, else ``checkpoints/last.ckpt``) or a
    checkpoint folder; CheckpointError (one line) when there is none."""
    from speechgen import pretrained

    s = str(name_or_path)
    if s in pretrained.PRETRAINED:
        return pretrained.path(s)
    p = Path(s)
    if not p.exists():
        raise CheckpointError(f"{p}: no such run, checkpoint or shipped model "
                              f"(shipped: {', '.join(sorted(pretrained.PRETRAINED))})")
    for cand in (p / "final", p / "checkpoints" / "last.ckpt", p):
        if (cand / CONFIG_FILE).is_file() and (cand / MODEL_FILE).is_file():
            return cand
    raise CheckpointError(f"{p}: holds no checkpoint (final/ or checkpoints/last.ckpt)")



def model_config(model: torch.nn.Module, config: Mapping[str, Any], extra: Mapping[str, Any] | None = None,
                 ) -> dict[str, Any]:
    """The ``config.yaml`` mapping of a model checkpoint (see the module docstring)."""
    spec = config.get("model", config)
    if not isinstance(spec, Mapping) or "name" not in spec:
        raise CheckpointError("checkpoint config: needs the model's registry name ('name' or 'model.name')")
    out: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": {"name": str(spec["name"]), "kwargs": to_plain(dict(spec.get("kwargs") or {}))},
        "sample_rate": getattr(model, "sample_rate", None),
        "features": to_plain(getattr(model, "feature_params", None)),
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "speechgen_version": __version__,
        "git_commit": git_commit(),
        "created": _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat(),
        "metrics": {},
    }
    for k, v in config.items():
        if k not in ("model", "name", "kwargs"):
            out[k] = to_plain(v)
    for k, v in (extra or {}).items():
        out[k] = to_plain(v)
    return out


def write_model_files(folder: Path, model_state: Mapping[str, torch.Tensor], config: Mapping[str, Any]) -> None:
    """Write ``model.safetensors`` + ``config.yaml`` into an existing folder."""
    save_tensors(folder / MODEL_FILE, model_state)
    _write_yaml(folder / CONFIG_FILE, dict(config))


def save_checkpoint(
    path_dir: str | os.PathLike,
    model: torch.nn.Module,
    config: Mapping[str, Any],
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Atomically write a model checkpoint folder.

    ``config`` holds the model spec (``{"name", "kwargs"}``, or ``{"model": {"name", "kwargs"}, ...}`` plus other
    top-level entries); ``extra`` adds or overrides top-level entries (``metrics``, ``recipe``, ``command``...).
    """
    cfg = model_config(model, config, extra)
    with atomic_dir(path_dir) as tmp:
        write_model_files(tmp, model.state_dict(), cfg)
    return Path(path_dir)


def read_config(path_or_dir: str | os.PathLike) -> dict[str, Any]:
    """``config.yaml`` of a checkpoint folder (or the folder of a given ``model.safetensors``), validated."""
    p = Path(path_or_dir)
    folder = p if p.is_dir() or p.suffix not in (".safetensors", ".yaml") else p.parent
    if not folder.exists():
        raise CheckpointError(f"{folder}: no such checkpoint")
    cfg = _read_yaml(folder / CONFIG_FILE)
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise CheckpointError(f"{folder / CONFIG_FILE}: not a speechgen checkpoint config")
    model = cfg.get("model")
    if not isinstance(model, dict) or not isinstance(model.get("name"), str):
        raise CheckpointError(f"{folder / CONFIG_FILE}: lacks model.name")
    if not isinstance(model.get("kwargs") or {}, dict):
        raise CheckpointError(f"{folder / CONFIG_FILE}: model.kwargs must be a mapping")
    return cfg


def tensor_shapes(path: str | os.PathLike) -> dict[str, tuple[int, ...]]:
    """Names and shapes of the tensors of a safetensors file, from its header (no tensor is read)."""
    from safetensors import safe_open

    p = Path(path)
    if not p.is_file():
        raise CheckpointError(f"{p}: missing checkpoint file")
    try:
        with safe_open(str(p), framework="pt") as fh:
            return {k: tuple(fh.get_slice(k).get_shape()) for k in fh.keys()}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise CheckpointError(f"{p}: corrupt or unreadable safetensors file ({str(exc).splitlines()[0]})") from exc


def build_checked(cls: type, kwargs: dict[str, Any], weights: str | os.PathLike, where: str, name: str,
                  only_own: bool = False) -> torch.nn.Module:
    """Build ``cls(**kwargs)`` after checking, on the meta device (no memory), that the parameters it declares have
    the shapes of the tensors in ``weights``: an edited size in a ``config.yaml`` is refused in one line before any
    allocation, instead of building a model of hundreds of GB.

    only_own: compare only the tensors the model declares (its inference build leaves parts out).
    """
    try:
        with torch.device("meta"):
            probe = cls(**kwargs)
    except (TypeError, ValueError, SpeechgenError) as exc:
        raise CheckpointError(f"{where}: cannot build '{name}' from the checkpoint's kwargs ({exc})") from exc
    want = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    have = tensor_shapes(weights)
    if only_own:
        have = {k: v for k, v in have.items() if k in want}
    for key in sorted(set(want) | set(have)):
        if want.get(key) != have.get(key):
            raise CheckpointError(f"{where}: weights do not fit model '{name}' ({key}: the kwargs in config.yaml "
                                  f"make {list(want[key]) if key in want else 'no such tensor'}, the weights hold "
                                  f"{list(have[key]) if key in have else 'none'})")
    try:
        return cls(**kwargs)
    except (TypeError, ValueError, SpeechgenError) as exc:
        raise CheckpointError(f"{where}: cannot build '{name}' from the checkpoint's kwargs ({exc})") from exc


def load_checkpoint(path_or_dir: str | os.PathLike, device: str | torch.device = "cpu",
                    ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Return ``(state_dict, config)`` of a model checkpoint folder."""
    cfg = read_config(path_or_dir)
    p = Path(path_or_dir)
    folder = p if p.is_dir() else p.parent
    return load_tensors(folder / MODEL_FILE, device), cfg


def load_model(
    path_or_dir: str | os.PathLike,
    registry: Mapping[str, type[torch.nn.Module]],
    expected: str | None = None,
    device: str | torch.device = "cpu",
) -> torch.nn.Module:
    """Build the checkpoint's model from ``registry`` (name → class), load its weights, return it in eval mode.

    CheckpointError (one line) for a missing folder/file, corrupt files, a model name not in ``registry`` or not
    ``expected``, and weights that do not fit the model.
    """
    state, cfg = load_checkpoint(path_or_dir, device)
    name = cfg["model"]["name"]
    where = Path(path_or_dir)
    if expected is not None and name != expected:
        raise CheckpointError(f"{where}: checkpoint holds a '{name}' model, expected '{expected}'")
    if name not in registry:
        raise CheckpointError(f"{where}: checkpoint holds a '{name}' model, expected one of {', '.join(registry)}")
    folder = where if where.is_dir() else where.parent
    model = build_checked(registry[name], dict(cfg["model"].get("kwargs") or {}), folder / MODEL_FILE, str(where),
                          name)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = str(exc).strip().splitlines()
        raise CheckpointError(f"{where}: weights do not fit model '{name}' ({' '.join(first[:2])[:200]})") from exc
    return model.to(device).eval()
