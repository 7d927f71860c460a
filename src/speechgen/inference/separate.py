"""Separating mixtures with a trained separator (a :data:`~speechgen.models.roles.SEPARATOR`; one model per speaker
count, see docs/separation.md).

A mixture is read whole, mixed to mono and resampled to the model's rate. Inputs longer than ``window`` seconds are
separated in windows that overlap by ``overlap`` seconds: each window's sources are put in the order of the
previous window's by the best permutation of their SI-SNR on the shared stretch (so source 1 stays the same voice
from start to end), and the shared stretches are cross-faded. Each source comes out scaled to the mixture's peak
(the SI-SNR loss leaves the scale free).

With separators of several counts and a speaker counter (:class:`Separators`), each mixture is first counted; one
voice comes back as the mixture itself, ``k`` voices go to the separator of ``k``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from speechgen.errors import ConfigError

WINDOW_S = 8.0
OVERLAP_S = 1.0


def check_window(window: float, overlap: float) -> None:
    """ConfigError unless ``window`` > 0 s and ``overlap`` is 0 to half the window."""
    if window <= 0 or not 0 <= overlap <= window / 2:
        raise ConfigError(f"--window/--overlap: expected a window > 0 s and an overlap of 0 to half the window, got "
                          f"{window:g} and {overlap:g} s")


def load_separator(name_or_path: str | os.PathLike, device: str = "cpu") -> tuple[Any, Any]:
    """A separator (eval mode) and its :class:`~speechgen.inference.loading.CheckpointInfo`; CheckpointError (one
    line) when it is missing or not a separator."""
    from speechgen.inference.loading import load
    from speechgen.models.roles import SEPARATOR

    return load(name_or_path, SEPARATOR, device)


def load_counter(name_or_path: str | os.PathLike, device: str = "cpu") -> tuple[Any, Any]:
    """A speaker counter (eval mode) and its :class:`~speechgen.inference.loading.CheckpointInfo`."""
    from speechgen.inference.loading import load
    from speechgen.models.roles import COUNTER

    return load(name_or_path, COUNTER, device)


class Separators:
    """What ``speechgen separate`` runs: separators of distinct voice counts and, to choose among them, a speaker
    counter (see the module docstring).

    Args:
        models: separators (each its ``n_sources``); without a counter exactly one.
        counter: a speaker counter whose every count above 1 has a separator here (None: no counting).
    """

    def __init__(self, models: Sequence[Any], counter: Any = None) -> None:
        self.models: dict[int, Any] = {}
        for m in models:
            k = int(m.n_sources)
            if k in self.models:
                raise ConfigError(f"separators: two of {k} voices given; give one per count")
            self.models[k] = m
        if not self.models:
            raise ConfigError("separators: give at least one")
        if counter is None and len(self.models) > 1:
            raise ConfigError(f"separators of {sorted(self.models)} voices: give --counter to choose among them")
        rates = {int(m.sample_rate) for m in [*models, *([counter] if counter is not None else [])]}
        if len(rates) > 1:
            raise ConfigError(f"separators and counter: sample rates differ ({sorted(rates)} Hz)")
        if counter is not None:
            missing = [k for k in counter.counts if k > 1 and k not in self.models]
            if missing:
                raise ConfigError(f"--counter tells {', '.join(map(str, counter.counts))} voices apart; give a "
                                  f"separator of {', '.join(map(str, missing))} voices too")
        self.counter = counter
        self.sample_rate = rates.pop()

    @classmethod
    def of(cls, model: Any) -> Separators:
        """``model`` itself when it is :class:`Separators`, else the set of that one separator."""
        return model if isinstance(model, cls) else cls([model])

    def count(self, mixture: np.ndarray) -> int:
        """The voices in ``mixture`` by the counter (the one separator's count without one)."""
        if self.counter is None:
            return next(iter(self.models))
        device = next(self.counter.parameters()).device
        x = torch.from_numpy(np.ascontiguousarray(mixture, dtype=np.float32))[None].to(device)
        return int(self.counter.count(x)[0])

    def __call__(self, mixture: np.ndarray, window: float = WINDOW_S, overlap: float = OVERLAP_S) -> np.ndarray:
        """Sources ``[K, T]`` of a mono mixture at :attr:`sample_rate`, ``K`` its count."""
        k = self.count(mixture)
        if k == 1 and 1 not in self.models:
            return np.asarray(mixture, dtype=np.float32)[None].copy()
        return separate_long(self.models[k], mixture, window, overlap)


def _run(model: Any, x: np.ndarray) -> np.ndarray:
    device = next(model.parameters()).device
    with torch.no_grad():
        out = model.separate(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))[None].to(device))
    return out[0].float().cpu().numpy()


def _align(previous: np.ndarray, current: np.ndarray) -> list[int]:
    """The order of ``current``'s sources ``[K, n]`` that best matches ``previous`` ``[K, n]`` (SI-SNR)."""
    from speechgen.losses.separation import best_permutation, pairwise, si_snr

    matrix = pairwise(si_snr, torch.from_numpy(current).double(), torch.from_numpy(previous).double())
    return best_permutation(matrix)[1].tolist()


def separate_long(model: Any, mixture: np.ndarray, window: float = WINDOW_S, overlap: float = OVERLAP_S,
                  ) -> np.ndarray:
    """Sources ``[K, T]`` (float32) of a mono ``mixture`` at the model's rate (module docstring)."""
    rate = int(model.sample_rate)
    check_window(window, overlap)
    x = np.asarray(mixture, dtype=np.float32)
    win, hop = max(1, int(round(window * rate))), max(1, int(round((window - overlap) * rate)))
    if len(x) <= win:
        out = _run(model, x)
    else:
        shared = win - hop
        out = np.zeros((int(model.n_sources), len(x)), dtype=np.float32)
        ramp = (0.5 - 0.5 * np.cos(np.pi * (np.arange(shared) + 0.5) / shared)).astype(np.float32) if shared else None
        start = 0
        while True:
            end = min(start + win, len(x))
            piece = _run(model, x[start:end])
            if start > 0 and shared:
                piece = piece[_align(out[:, start:start + shared], piece[:, :shared])]
                piece[:, :shared] *= ramp
                out[:, start:start + shared] *= ramp[::-1]
            out[:, start:end] += piece
            if end == len(x):
                break
            start += hop
    peak = float(np.abs(x).max()) if len(x) else 0.0
    top = np.abs(out).max(axis=1, keepdims=True)
    return np.where(top > 0, out * (peak / np.maximum(top, 1e-12)), out).astype(np.float32)


def separate_files(model: Any, paths: Sequence[str | os.PathLike], out: str | os.PathLike,
                   window: float = WINDOW_S, overlap: float = OVERLAP_S,
                   progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """Separate each file (``model``: a separator or :class:`Separators`) into ``out/<stem>/s1.wav`` .. ``sK.wav``
    (a stem used twice gets ``-2``, ``-3``; each input's folder is staged and renamed into place); one record per
    input: ``path``, ``count``, ``seconds`` (its duration), ``sources``."""
    from speechgen.atomic import staged_dir
    from speechgen.audio.io import load, save

    run = Separators.of(model)
    root, records, used = Path(out), [], set()
    for p in paths:
        audio, _ = load(p, run.sample_rate)
        sources = run(audio, window, overlap)
        stem, k = Path(p).stem, 2
        name = stem
        while name in used:
            name, k = f"{stem}-{k}", k + 1
        used.add(name)
        with staged_dir(root / name, replace=True) as tmp:
            for i, s in enumerate(sources):
                save(tmp / f"s{i + 1}.wav", s, run.sample_rate)
        records.append({"path": str(p), "count": len(sources), "seconds": round(len(audio) / run.sample_rate, 4),
                        "sources": [str(root / name / f"s{i + 1}.wav") for i in range(len(sources))]})
        if progress is not None:
            progress(1)
    return records


def score_manifest(model: Any, manifest: Any, split: str = "test", judge: Any = None, with_sdr: bool = True,
                   window: float = WINDOW_S, overlap: float = OVERLAP_S,
                   progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """SI-SNRi, SDRi, the count accuracy and the judge's digit accuracy on the separated sources of a mixtures
    manifest split (:func:`speechgen.evaluation.separation.score_split`; ``model``: a separator or
    :class:`Separators`)."""
    from speechgen.evaluation.separation import score_split

    run = Separators.of(model)
    return score_split(lambda mix: run(mix, window, overlap), manifest, split, run.sample_rate, judge, with_sdr,
                       progress)
