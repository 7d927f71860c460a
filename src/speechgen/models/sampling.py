"""Drawing from a :class:`~speechgen.models.roles.Sampler` and writing the draws as WAVs + manifest + PNG grid.

Used by the training schemes (sample rounds) and by inference (``speechgen sample``, the API, the web app).
Sampling is deterministic per seed on CPU: latents are drawn on the CPU from a ``torch.Generator`` seeded with
``seed``, in fixed chunks of :data:`CHUNK` items.

Features that cannot be turned into audio on their own (``log_mel`` frame windows: they need a vocoder) are
written as :data:`FEATURES_NAME` (``[N, C, F, T]`` float32, de-normalised with the stored frame statistics),
:data:`LABELS_NAME` (conditional models) and the grid, without WAVs or manifest.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from speechgen.atomic import ensure_dir
from speechgen.errors import ConfigError, DataError

CHUNK = 256
GRID_MAX = 40  # panels of a sample grid (the first clips; the grid's title says so when there are more)
GRID_NAME = "grid.png"
ALIGNMENT_NAME = "alignment.png"  # attention alignments of text-to-speech sample rounds
FEATURES_NAME = "features.npy"
LABELS_NAME = "labels.npy"


# ------------------------------------------------------------------------------------------------ drawing
@torch.no_grad()
def draw(model: torch.nn.Module, n: int, labels: torch.Tensor | None = None, seed: int = 0,
         condition: torch.Tensor | None = None, device: torch.device | str = "cpu",
         progress: Callable[[int], None] | None = None) -> np.ndarray:
    """``n`` samples ``[n, *out_shape]`` (float32 numpy) from ``model.sample`` in eval mode (``progress(k)`` after
    each chunk of ``k``)."""
    if n <= 0:
        raise ConfigError(f"--n: must be > 0, got {n}")
    n_classes = int(getattr(model, "n_classes", 0) or 0)
    if n_classes and labels is None:
        raise ConfigError(f"this model is conditional on {n_classes} labels: give --label")
    if labels is not None:
        labels = torch.as_tensor(labels, dtype=torch.long).reshape(-1)
        if len(labels) != n:
            raise ConfigError(f"labels: expected {n}, got {len(labels)}")
        if n_classes == 0:
            labels = None
        elif int(labels.min()) < 0 or int(labels.max()) >= n_classes:
            raise ConfigError(f"--label: must be in 0..{n_classes - 1}")
    model.eval()
    gen = torch.Generator().manual_seed(int(seed))
    out = []
    for lo in range(0, n, CHUNK):
        hi = min(n, lo + CHUNK)
        lab = labels[lo:hi].to(device) if labels is not None else None
        cond = condition[lo:hi].to(device) if condition is not None else None
        x = model.sample(hi - lo, labels=lab, generator=gen, condition=cond)
        out.append(x.detach().float().cpu().numpy())
        if progress is not None:
            progress(hi - lo)
    x = np.concatenate(out)
    if not np.isfinite(x).all():
        raise DataError("the model produced NaN/Inf values")
    return x


def assemble(x: np.ndarray, channels: Sequence[int] | None, condition: np.ndarray | torch.Tensor | None,
             condition_channels: Sequence[int] | None) -> np.ndarray:
    """Put generated channels and conditioning channels back in the feature's channel order."""
    if not condition_channels or condition is None:
        return x
    cond = condition.cpu().numpy() if isinstance(condition, torch.Tensor) else np.asarray(condition)
    gen_ch = list(channels) if channels else [c for c in range(x.shape[1] + cond.shape[1])
                                               if c not in condition_channels]
    total = max(max(gen_ch), max(condition_channels)) + 1
    full = np.zeros((x.shape[0], total, *x.shape[2:]), dtype=np.float32)
    full[:, gen_ch] = x
    full[:, list(condition_channels)] = cond
    return full


def conditions_from_dataset(dataset: Any, condition_channels: Sequence[int], labels: torch.Tensor | None, n: int,
                            seed: int = 0) -> torch.Tensor:
    """Condition channels of ``n`` random items of ``dataset`` (an item of the same label for each label)."""
    rng = np.random.default_rng(seed)
    rows = dataset.manifest.rows
    pick = []
    for i in range(n):
        if labels is not None:
            want = int(labels[i])
            pool = [j for j, r in enumerate(rows) if r.get("label") == want]
            if not pool:
                raise DataError(f"no item with label {want} to take a condition from")
        else:
            pool = range(len(rows))
        pick.append(int(rng.choice(pool)))
    items = [dataset[j]["features"][list(condition_channels)] for j in pick]
    return torch.stack(items)


# ------------------------------------------------------------------------------------------------ writing
def tile(images: np.ndarray, cols: int | None = None, gap: int = 2) -> np.ndarray:
    """Tile ``[N, F, T]`` images (frequency flipped so low is at the bottom) into one ``[H, W]`` array."""
    n, f, t = images.shape
    cols = cols or int(np.ceil(np.sqrt(n)))
    rows = int(np.ceil(n / cols))
    grid = np.ones((rows * (f + gap) - gap, cols * (t + gap) - gap), dtype=np.float32)
    for i, im in enumerate(images):
        r, c = divmod(i, cols)
        grid[r * (f + gap): r * (f + gap) + f, c * (t + gap): c * (t + gap) + t] = im[::-1]
    return grid


def image_axes(feature: Any, sample_rate: int) -> dict[str, Any]:
    """Axes of an amplitude image for :func:`save_grid`: ``extent`` (seconds, kHz) and a dB colour bar, for
    features with ``n_fft``, ``hop_length``, ``n_bins``, ``n_frames`` and ``db_floor`` (``stft_image``); ``{}``
    for others."""
    need = ("n_fft", "hop_length", "n_bins", "n_frames", "db_floor")
    if not all(hasattr(feature, k) for k in need):
        return {}
    seconds = feature.n_frames * feature.hop_length / sample_rate
    top = feature.n_bins * sample_rate / feature.n_fft / 1000.0
    floor = float(feature.db_floor)
    return {"extent": (0.0, seconds, 0.0, top),
            "colorbar": ("level (dB)", [-1.0, 0.0, 1.0], [f"{floor:g}", f"{floor / 2:g}", "0"])}


def save_grid(path: str | os.PathLike, images: np.ndarray | Sequence[np.ndarray],
              labels: Sequence[int] | None = None,
              title: str = "", label_names: Sequence[str] | None = None,
              value_range: tuple[float, float] = (-1.0, 1.0), extent: tuple[float, float, float, float] | None = None,
              colorbar: tuple[str, Sequence[float], Sequence[str]] | None = None,
              titles: Sequence[str] | None = None, cols: int = 10,
              panel_size: tuple[float, float] = (1.3, 1.4)) -> Path:
    """PNG grid of images ``[N, F, T]`` or a list of 2-D images of any sizes (one panel per sample, each image
    stretched to its panel, titled with its label and, given ``label_names``, the label's name, or with
    ``titles[i]``), coloured over ``value_range`` (default [-1, 1], the amplitude image's), ``cols`` panels a row at
    most, each ``panel_size`` inches (width, height), atomically.

    extent: ``(t0, t1, f0, f1)`` in seconds and kHz: the bottom-left panel then carries the time and frequency axes.
    colorbar: ``(label, tick values, tick labels)`` of a colour bar beside the grid (e.g. the image's dB scale).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from speechgen.atomic import atomic_path

    n = len(images)
    cols = max(1, min(n, cols))
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(panel_size[0] * cols + (0.6 if colorbar else 0.0),
                                                  panel_size[1] * rows + 0.3),
                             squeeze=False)
    shown = None
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            shown = ax.imshow(images[i], origin="lower", aspect="auto", vmin=value_range[0], vmax=value_range[1],
                              cmap="magma", extent=extent)
            if titles is not None and i < len(titles):
                ax.set_title(str(titles[i]).replace("$", r"\$"), fontsize=8)
            elif labels is not None:
                lab = int(labels[i])
                name = f" {label_names[lab]}" if label_names is not None and 0 <= lab < len(label_names) else ""
                ax.set_title(f"{lab}{name}", fontsize=8)
    if extent is not None and n:
        corner = axes[(n - 1) // cols, 0]  # the bottom row's first panel
        corner.axis("on")
        corner.set_xlabel("time (s)", fontsize=6)
        corner.set_ylabel("kHz", fontsize=6)
        corner.tick_params(labelsize=5, length=2)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    if colorbar is not None and shown is not None:
        label, ticks, names = colorbar
        bar = fig.colorbar(shown, ax=axes.ravel().tolist(), fraction=0.02, pad=0.01, ticks=list(ticks))
        bar.ax.set_yticklabels(list(names), fontsize=6)
        bar.set_label(label, fontsize=6)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    return Path(path)


def write_samples(out: str | os.PathLike, feats: np.ndarray, feature: Any, labels: torch.Tensor | None,
                  sample_rate: int, condition: torch.Tensor | None = None,
                  condition_channels: Sequence[int] | None = None, channels: Sequence[int] | None = None,
                  length: int | None = None, seed: int = 0, n_iter: int | None = None,
                  frames: Any | None = None, progress: Callable[[int], None] | None = None) -> np.ndarray:
    """Turn features into audio and write ``out/sample-NNNNN.wav``, ``manifest.csv`` (path, label, ...) and
    ``grid.png`` (image features). Returns the audio ``[N, samples]``.

    ``length``: samples per clip (default: a waveform's own length, one second for other features). ``n_iter``:
    Griffin-Lim iterations for amplitude-only images (None: the feature's default, 64 for ``stft_image``, 16 for
    ``specgan_image``).

    ``frames``: the resolved frame options of a frame-window model (``data.frames`` with its statistics): the
    windows are de-normalised to log-mel values first. Features the ``feature`` cannot invert (``log_mel``) are
    written as ``features.npy`` (+ ``labels.npy``) and the grid only; the returned audio is then ``[N, 0]``.
    ``progress(1)`` is called after each clip is written.
    """
    from speechgen.audio import io as audio_io
    from speechgen.data.manifest import Manifest, make_row

    out = ensure_dir(out)
    length = length or (feats.shape[-1] if feats.ndim == 2 else sample_rate)
    full = assemble(feats, channels, condition, condition_channels)
    names = None
    if frames is not None:
        from speechgen.data.frames import denormalize_samples, label_names

        full, names = denormalize_samples(full, frames), label_names(frames)
    opts: dict[str, Any] = {}
    if full.ndim > 2:
        opts = {"seed": seed} if n_iter is None else {"seed": seed, "n_iter": n_iter}
    try:
        audio = feature.invert(full, length=length, **opts)
    except ConfigError:  # no inverse without a vocoder: keep the features themselves
        return _write_features(out, full, labels, names)
    audio = np.asarray(audio, dtype=np.float32).reshape(len(feats), -1)
    rows = []
    for i, a in enumerate(audio):
        name = f"sample-{i:05d}.wav"
        peak = float(np.max(np.abs(a)))
        audio_io.save(out / name, a / peak * 0.95 if peak > 0.95 else a, sample_rate)
        if progress is not None:
            progress(1)
        label = int(labels[i]) if labels is not None else None
        rows.append(make_row(name, label=label, text="" if label is None else str(label), speaker="generated",
                             engine="speechgen", split="test", duration=len(a) / sample_rate,
                             sample_rate=sample_rate))
    if full.ndim == 4:
        k = min(len(full), GRID_MAX)
        save_grid(out / GRID_NAME, full[:k, 0], None if labels is None else labels[:k].tolist(),
                  title=f"the first {k} of {len(full)} clips" if k < len(full) else "",
                  **image_axes(feature, sample_rate))
    Manifest(Path(out).resolve(), rows).write()
    return audio


def _write_features(out: Path, full: np.ndarray, labels: torch.Tensor | None,
                    names: Sequence[str] | None) -> np.ndarray:
    """``features.npy``, ``labels.npy`` and a grid (coloured over the values' range) for features without an
    inverse; returns empty audio ``[N, 0]``."""
    from speechgen.atomic import atomic_path

    arr = np.ascontiguousarray(full, dtype=np.float32)
    with atomic_path(out / FEATURES_NAME) as tmp, open(tmp, "wb") as fh:
        np.save(fh, arr, allow_pickle=False)
    lab = None if labels is None else [int(v) for v in labels]
    if lab is not None:
        with atomic_path(out / LABELS_NAME) as tmp, open(tmp, "wb") as fh:
            np.save(fh, np.asarray(lab, dtype=np.int64), allow_pickle=False)
    if arr.ndim == 4:
        k = min(len(arr), 40)
        lo, hi = float(arr[:k, 0].min()), float(arr[:k, 0].max())
        save_grid(out / GRID_NAME, arr[:k, 0], None if lab is None else lab[:k], label_names=names,
                  value_range=(lo, hi if hi > lo else lo + 1.0))
    return np.zeros((len(arr), 0), dtype=np.float32)
