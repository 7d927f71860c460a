"""Latent-space operations of Hsu, Zhang & Glass (2017) on a trained auto-encoder (``vae`` or ``wae`` model):
reconstruction, interpolation between two clips, and attribute transformation by latent arithmetic.

An *attribute vector* moves clips from attribute value A to value B (a digit label or a speaker): it is the mean
posterior mean of clips with value B minus that of clips with value A (over a manifest split),
``v = mean_{x: B} mu(x) - mean_{x: A} mu(x)``; a clip is transformed by decoding ``mu(x) + scale · v``. For a
conditional model and the label attribute, the label itself is swapped instead (the latent code is kept).

Models are used through ``embed(x, labels) -> z`` (the posterior mean of a VAE, the code of a WAE) and
``decode(z, labels) -> image``, on the channels the model was trained on (``data.channels`` of its recipe).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from speechgen.errors import CheckpointError, ConfigError, DataError

Phase = Literal["model", "source", "griffin-lim"]
BATCH = 64


def require_autoencoder(model: torch.nn.Module, where: str = "model") -> None:
    """CheckpointError unless ``model`` is a :class:`~speechgen.models.roles.LatentCodec` (``embed``, ``decode``)."""
    from speechgen.models.roles import LatentCodec

    if not isinstance(model, LatentCodec):
        raise CheckpointError(f"{where}: a {type(model).__name__} has no encoder; latent operations need a 'vae', "
                              "'wae' or 'vaegan' model")


def _device(model: torch.nn.Module) -> torch.device:
    return next(model.parameters()).device


def _labels(labels: Sequence[int] | torch.Tensor | None, n: int) -> torch.Tensor | None:
    if labels is None:
        return None
    t = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
    if len(t) == 1 and n != 1:
        t = t.expand(n)
    return t


@torch.no_grad()
def encode(model: torch.nn.Module, x: torch.Tensor, labels: Sequence[int] | torch.Tensor | None = None,
           ) -> torch.Tensor:
    """Point codes ``[N, latent_dim]`` (CPU) of images ``x [N, C, H, W]``, in batches, in eval mode."""
    require_autoencoder(model)
    model.eval()
    dev = _device(model)
    lab = _labels(labels, len(x))
    out = []
    for lo in range(0, len(x), BATCH):
        sl = slice(lo, lo + BATCH)
        out.append(model.embed(x[sl].to(dev), None if lab is None else lab[sl].to(dev)).float().cpu())
    return torch.cat(out) if out else torch.zeros(0, int(model.latent_dim))


@torch.no_grad()
def decode(model: torch.nn.Module, z: torch.Tensor, labels: Sequence[int] | torch.Tensor | None = None,
           ) -> torch.Tensor:
    """Images ``[N, *out_shape]`` (CPU) decoded from codes ``z [N, latent_dim]``, in eval mode."""
    require_autoencoder(model)
    model.eval()
    dev = _device(model)
    lab = _labels(labels, len(z))
    out = []
    for lo in range(0, len(z), BATCH):
        sl = slice(lo, lo + BATCH)
        out.append(model.decode(z[sl].to(dev), None if lab is None else lab[sl].to(dev)).float().cpu())
    return torch.cat(out)


def reconstruct(model: torch.nn.Module, x: torch.Tensor, labels: Sequence[int] | torch.Tensor | None = None,
                ) -> torch.Tensor:
    """Decode each image's own code."""
    return decode(model, encode(model, x, labels), labels)


def interpolate(model: torch.nn.Module, x_a: torch.Tensor, x_b: torch.Tensor, steps: int,
                labels: Sequence[int] | torch.Tensor | None = None) -> torch.Tensor:
    """``steps`` images along the straight line between the codes of images ``x_a`` and ``x_b`` (``[C, H, W]``
    each; both ends included). Conditional models use one label for the whole path."""
    if steps < 2:
        raise ConfigError(f"--steps: interpolation needs at least 2 steps, got {steps}")
    lab = _labels(labels, 1)
    z = encode(model, torch.stack([x_a, x_b]), None if lab is None else lab[:1].expand(2))
    t = torch.linspace(0.0, 1.0, steps)[:, None]
    path = (1.0 - t) * z[0] + t * z[1]
    return decode(model, path, None if lab is None else lab[:1].expand(steps))


def attribute_vector(model: torch.nn.Module, x_from: torch.Tensor, x_to: torch.Tensor,
                     labels_from: Sequence[int] | torch.Tensor | None = None,
                     labels_to: Sequence[int] | torch.Tensor | None = None) -> torch.Tensor:
    """Mean code of ``x_to`` minus mean code of ``x_from`` (``[latent_dim]``)."""
    if len(x_from) == 0 or len(x_to) == 0:
        raise DataError("attribute vector: needs at least one clip of each value")
    return encode(model, x_to, labels_to).mean(0) - encode(model, x_from, labels_from).mean(0)


def shift(model: torch.nn.Module, x: torch.Tensor, vector: torch.Tensor,
          labels_in: Sequence[int] | torch.Tensor | None = None,
          labels_out: Sequence[int] | torch.Tensor | None = None, scale: float = 1.0) -> torch.Tensor:
    """Decode ``code(x) + scale · vector`` (encoding with ``labels_in``, decoding with ``labels_out``)."""
    z = encode(model, x, labels_in) + float(scale) * vector.reshape(1, -1)
    return decode(model, z, labels_out if labels_out is not None else labels_in)


# ------------------------------------------------------------------------------------------------ clips and audio
def clip_features(paths: Sequence[str | os.PathLike], feature: Any, sample_rate: int) -> torch.Tensor:
    """Feature images ``[N, C, H, W]`` of audio files (AudioError for a missing or non-audio file)."""
    from speechgen.audio import io as audio_io

    items = []
    for p in paths:
        audio, sr = audio_io.load(p, sample_rate)
        items.append(torch.from_numpy(np.ascontiguousarray(feature(audio, sr), dtype=np.float32)))
    return torch.stack(items)


def select_channels(feats: torch.Tensor, channels: Sequence[int] | None) -> torch.Tensor:
    """The channels a model was trained on (``data.channels``; None: all)."""
    return feats[:, list(channels)] if channels else feats


def manifest_clips(manifest: str | os.PathLike, split: str, attribute: Literal["label", "speaker"], value: str,
                   limit: int = 256, seed: int = 0, option: str = "--from") -> tuple[list[Path], list[int | None]]:
    """Paths and labels of up to ``limit`` clips of ``split`` whose ``attribute`` equals ``value`` (a random
    subset, seeded, when there are more). DataError naming ``option`` when there is none."""
    from speechgen.data.manifest import Manifest

    m = Manifest.read(manifest).select(split)
    if len(m) == 0:
        raise DataError(f"--split: {manifest} has no rows in split '{split}'")
    if attribute == "label":
        try:
            want: object = int(value)
        except ValueError as exc:
            raise ConfigError(f"{option}: a label is an integer, got {value!r}") from exc
    else:
        want = str(value)
    rows = [r for r in m if (r.get(attribute) if attribute == "label" else str(r.get("speaker", ""))) == want]
    if not rows:
        known = sorted({str(r.get(attribute)) for r in m if r.get(attribute) is not None})
        shown = ", ".join(known[:8]) + (", ..." if len(known) > 8 else "")
        raise DataError(f"{option}: no clips with {attribute} {value!r} in split '{split}' of {manifest} "
                        f"(there: {shown})")
    if len(rows) > limit:
        pick = np.sort(np.random.default_rng(seed).choice(len(rows), size=limit, replace=False))
        rows = [rows[int(i)] for i in pick]
    labels = [int(r["label"]) if r.get("label") is not None else None for r in rows]  # type: ignore[call-overload]
    return [m.resolve(r) for r in rows], labels


def to_audio(feature: Any, images: torch.Tensor | np.ndarray, channels: Sequence[int] | None, length: int,
             phase: Phase = "model", source: torch.Tensor | np.ndarray | None = None, seed: int = 0,
             n_iter: int = 64) -> np.ndarray:
    """Audio ``[N, length]`` of generated images.

    ``phase``: "model" inverts what the model generated (its phase channel when it has one, else Griffin-Lim);
    "source" takes the phase channel of ``source`` (the full feature images of the input clips, ``[N, 2, H, W]``);
    "griffin-lim" drops any generated phase and estimates one from the amplitude.
    """
    from speechgen.models.sampling import assemble

    x = images.numpy() if isinstance(images, torch.Tensor) else np.asarray(images, dtype=np.float32)
    gen_ch = list(channels) if channels else list(range(x.shape[1]))
    if 0 not in gen_ch:
        raise ConfigError("the model does not generate the amplitude channel (0); cannot make audio")
    amp = x[:, [gen_ch.index(0)]]
    if phase == "source":
        if source is None:
            raise ConfigError("--phase source: needs the input clips' features")
        src = source.numpy() if isinstance(source, torch.Tensor) else np.asarray(source)
        full = assemble(amp, [0], src[:, [1]], [1])
    elif phase == "griffin-lim":
        full = amp
    else:
        full = x[:, [gen_ch.index(0), gen_ch.index(1)]] if 1 in gen_ch else amp
    audio = feature.invert(full, length=length, seed=seed, n_iter=n_iter)
    return np.asarray(audio, dtype=np.float32).reshape(len(x), -1)


def save_wavs(out: str | os.PathLike, names: Sequence[str], audio: np.ndarray, sample_rate: int) -> list[Path]:
    """Write each clip as ``out/NAME`` (peak-limited to 0.95, atomically); return the paths."""
    from speechgen.atomic import ensure_dir
    from speechgen.audio import io as audio_io

    folder = ensure_dir(out)
    paths = []
    for name, a in zip(names, audio):
        peak = float(np.max(np.abs(a))) if a.size else 0.0
        audio_io.save(folder / name, a / peak * 0.95 if peak > 0.95 else a, sample_rate)
        paths.append(Path(folder) / name)
    return paths
