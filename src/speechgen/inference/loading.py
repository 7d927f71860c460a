"""Loading any trained or shipped model for use, and the one answer to "what can this checkpoint do".

A model is named as on the command line: a shipped name (``speechgen models``), a run folder or a checkpoint folder
(:func:`speechgen.checkpoint.resolve_checkpoint`). Its roles come from its class
(:func:`speechgen.models.roles.roles_of`); :func:`load` refuses, in one line, a model that does not play the role
asked for. Nothing here imports Lightning or a training scheme.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from speechgen.checkpoint import MODEL_FILE, build_checked, load_checkpoint, read_config, resolve_checkpoint
from speechgen.errors import CheckpointError
from speechgen.models import roles as R
from speechgen.models.registry import MODELS

MIN_RATE, MAX_RATE = 1_000, 384_000  # Hz: sample rates a checkpoint may declare

#: how a refusal names a role ("holds a 'vae' model, not a vocoder")
ROLE_NOUNS: dict[str, str] = {
    R.SAMPLER: "generative model", R.VOCODER: "vocoder", R.LATENT_CODEC: "auto-encoder", R.CLASSIFIER: "classifier",
    R.TEXT_TO_SPEECH: "text-to-speech model",
    R.CONVERTER: "voice converter", R.SEPARATOR: "separator", R.SPEAKER_ENCODER: "speaker encoder",
    R.TRANSCRIBER: "digit-string recognizer",
}


@dataclass(frozen=True)
class CheckpointInfo:
    """What a checkpoint holds, read from its ``config.yaml`` only (no weights are loaded).

    folder: the checkpoint folder. config: its validated config. model: the registry name. roles: what the model
    can do (:mod:`speechgen.models.roles`).
    """

    folder: Path
    config: dict[str, Any]
    model: str
    roles: tuple[str, ...]

    @property
    def verbs(self) -> list[str]:
        """The ``speechgen`` commands that use this model (``sample``, ``vocode``, ...)."""
        return [R.VERBS[r] for r in self.roles]


def capabilities(config: dict[str, Any]) -> tuple[str, ...]:
    """The roles of the model a checkpoint config describes (``()`` for a model name this install does not know)."""
    spec = config.get("model") or {}
    cls = MODELS.get(str(spec.get("name")))
    return R.roles_of(cls, spec.get("kwargs") or {}) if cls is not None else ()


def describe(name_or_path: str | os.PathLike) -> CheckpointInfo:
    """The :class:`CheckpointInfo` of a shipped name, run folder or checkpoint folder."""
    folder = resolve_checkpoint(name_or_path)
    config = read_config(folder)
    return CheckpointInfo(folder, config, str(config["model"]["name"]), capabilities(config))


def role_names(role: str) -> list[str]:
    """Registry names of the model classes that can play ``role`` (with some constructor arguments)."""
    probes = ({}, {"local_conditioning": True})  # the one kwarg that switches a role today (WaveNet, WaveRNN)
    return sorted(name for name, cls in MODELS.items() if any(role in R.roles_of(cls, kw) for kw in probes))


def refuse(info: CheckpointInfo, role: str) -> CheckpointError:
    """The one-line error for a checkpoint whose model does not play ``role``."""
    noun = ROLE_NOUNS[role]
    article = "an" if noun[0] in "aeiou" else "a"
    known = role_names(role)
    return CheckpointError(f"{info.folder}: holds a '{info.model}' model, not {article} {noun}"
                           + (f" ({', '.join(known)})" if known else ""))


def load(name_or_path: str | os.PathLike, role: str | None = None, device: str | torch.device = "cpu",
         ) -> tuple[torch.nn.Module, CheckpointInfo]:
    """Build a checkpoint's model, load its weights and return it in eval mode with its :class:`CheckpointInfo`.

    role: refuse (CheckpointError, one line) a model that does not play this role (None: any model). A class with
    an ``inference_kwargs(kwargs)`` classmethod is built with those kwargs (a GAN vocoder without its
    discriminators), and the weights of the parts it leaves out stay behind.
    """
    info = describe(name_or_path)
    if role is not None and role not in info.roles:
        raise refuse(info, role)
    cls = MODELS.get(info.model)
    if cls is None:
        raise CheckpointError(f"{info.folder}: holds a '{info.model}' model, which this speechgen does not know "
                              f"(known: {', '.join(sorted(MODELS))})")
    kwargs = dict(info.config["model"].get("kwargs") or {})
    slim = getattr(cls, "inference_kwargs", None)
    if callable(slim):
        kwargs = slim(kwargs)
    model = build_checked(cls, kwargs, info.folder / MODEL_FILE, str(info.folder), info.model,
                          only_own=callable(slim))
    state, _ = load_checkpoint(info.folder, device)
    if callable(slim):  # the parts inference leaves out keep their weights in the file
        wanted = set(model.state_dict())
        state = {k: v for k, v in state.items() if k in wanted}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = " ".join(str(exc).strip().splitlines()[:2])[:200]
        raise CheckpointError(f"{info.folder}: weights do not fit model '{info.model}' ({first})") from exc
    return model.to(device).eval(), info


def load_generator(name_or_path: str | os.PathLike, device: str = "cpu") -> tuple[torch.nn.Module, dict[str, Any]]:
    """A :data:`~speechgen.models.roles.SAMPLER` model and its checkpoint config (CheckpointError otherwise)."""
    model, info = load(name_or_path, R.SAMPLER, device)
    return model, info.config


def data_section(config: dict[str, Any]) -> dict[str, Any]:
    """The recipe's ``data:`` mapping stored in a checkpoint config (feature, channels, ...)."""
    data = dict((config.get("recipe") or {}).get("data") or {})
    if "feature" not in data:
        data["feature"] = "stft_image"
    elif data["feature"] is None:  # raw audio (autoregressive recipes)
        data["feature"] = "waveform"
    data.setdefault("sample_rate", config.get("sample_rate") or 16000)
    rate = data["sample_rate"]
    if isinstance(rate, bool) or not isinstance(rate, int) or not MIN_RATE <= rate <= MAX_RATE:
        raise CheckpointError(f"config.yaml: recipe.data.sample_rate: expected an integer in {MIN_RATE}..{MAX_RATE} "
                              f"Hz, got {rate!r}")
    return data


def data_and_feature(config: dict[str, Any]) -> tuple[dict[str, Any], Any]:
    """The checkpoint's :func:`data_section` and the feature it names, built from its parameters (CheckpointError
    naming the config field for a parameter out of range: a checkpoint's sizes are not trusted)."""
    from speechgen.data.features import build_feature
    from speechgen.errors import ConfigError

    data = data_section(config)
    try:
        return data, build_feature(data["feature"], data.get("feature_params") or {})
    except ConfigError as exc:
        raise CheckpointError(f"config.yaml: recipe.data.feature_params.{exc}") from None
