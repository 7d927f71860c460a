"""Separation metrics with the best permutation of the estimates: SI-SNR and its improvement over the mixture
(SI-SNRi), SDR and SDRi (torchmetrics' ``signal_distortion_ratio``: the BSS-eval SDR with a 512-tap distortion
filter), and speaker-count accuracy with its confusion matrix.

- SI-SNR and the best permutation: :mod:`speechgen.losses.separation` (the training loss shares them).
- SI-SNRi / SDRi: the metric of the estimates in the best order minus the metric of the mixture itself taken as
  every source's estimate.

Everything takes torch tensors ``[..., K, T]`` (estimates and references of the same shape) and works on
batches.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from speechgen.errors import DataError
from speechgen.losses.separation import best_permutation, pairwise, reorder, si_snr


def sdr(estimate: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """BSS-eval signal-to-distortion ratio in dB (torchmetrics, 512-tap filter) over the last axis."""
    from torchmetrics.functional.audio import signal_distortion_ratio

    return signal_distortion_ratio(estimate.double(), reference.double()).to(estimate.dtype)


def separation_scores(estimates: torch.Tensor, references: torch.Tensor, mixture: torch.Tensor,
                      with_sdr: bool = True) -> dict[str, torch.Tensor]:
    """Per item (``[...]``): ``si_snr`` and ``si_snri`` (dB, best permutation by SI-SNR), and with ``with_sdr``
    ``sdr``/``sdri`` of the same order; ``order`` the permutation. ``mixture`` is ``[..., T]``."""
    matrix = pairwise(si_snr, estimates, references)
    best, order = best_permutation(matrix)
    mix = mixture.unsqueeze(-2).expand_as(references)
    out = {"si_snr": best, "si_snri": best - si_snr(mix, references).mean(dim=-1), "order": order}
    if with_sdr:
        ordered = reorder(estimates, order)
        value = sdr(ordered, references).mean(dim=-1)
        out.update(sdr=value, sdri=value - sdr(mix, references).mean(dim=-1))
    return out


def count_confusion(true: Sequence[int], predicted: Sequence[int], counts: Sequence[int]) -> dict[str, object]:
    """Speaker-count accuracy and the confusion matrix (rows: true count, columns: predicted; a prediction outside
    ``counts`` goes to an extra "other" column)."""
    if len(true) != len(predicted) or not true:
        raise DataError(f"count_confusion: expected equal, non-empty lists, got {len(true)} and {len(predicted)}")
    index = {c: i for i, c in enumerate(counts)}
    matrix = [[0] * (len(counts) + 1) for _ in counts]
    for t, p in zip(true, predicted):
        if t not in index:
            raise DataError(f"count_confusion: true count {t} is not one of {list(counts)}")
        matrix[index[t]][index.get(p, len(counts))] += 1
    correct = sum(int(t == p) for t, p in zip(true, predicted))
    return {"accuracy": correct / len(true), "counts": list(counts), "matrix": matrix,
            "columns": [str(c) for c in counts] + ["other"]}


def score_split(separate: Callable[[np.ndarray], np.ndarray], manifest: Any, split: str | None = "test",
                sample_rate: int = 16000, judge: Any = None, with_sdr: bool = True,
                progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Separate every mixture of a split of a mixtures manifest (``speechgen corpus mixtures``) with ``separate``
    (mono mixture at ``sample_rate`` → sources ``[K, T]``) and score it against its sources: per source count the
    mean SI-SNR, SI-SNRi (and SDR, SDRi, for two or more sources), and, with a ``judge`` (:class:`~speechgen.evaluation.judge.Judge`) and
    labelled sources, the judge's digit accuracy on the separated sources (in the best order) beside its accuracy on
    the clean sources; ``count``: the accuracy and confusion matrix of the number of sources returned against the
    true count. Mixtures whose count differs from the separator's output are counted in ``skipped`` and left out
    of the other scores."""
    from speechgen.audio.io import load
    from speechgen.data.manifest import Manifest
    from speechgen.data.mixtures import source_paths

    m = manifest if isinstance(manifest, Manifest) else Manifest.read(manifest)
    rows = list(m.select(split))
    if not rows:
        raise DataError(f"{m.root}: split '{split}' has no rows")
    items, skipped = [], 0
    heard: list[np.ndarray] = []
    clean: list[np.ndarray] = []
    labels: list[int] = []
    true_counts: list[int] = []
    got_counts: list[int] = []
    for r in rows:
        mix = load(m.resolve(r), sample_rate)[0]
        refs = np.stack([load(p, sample_rate)[0] for p in source_paths(m, r)])
        est = np.asarray(separate(mix), dtype=np.float32)
        if progress is not None:
            progress(1)
        true_counts.append(int(refs.shape[0]))
        got_counts.append(int(est.shape[0]))
        if est.shape[0] != refs.shape[0]:
            skipped += 1
            continue
        n = min(est.shape[-1], refs.shape[-1], len(mix))
        t = {k: torch.from_numpy(np.ascontiguousarray(v[..., :n])).double()[None] for k, v in
             (("est", est), ("ref", refs), ("mix", mix))}
        s = separation_scores(t["est"], t["ref"], t["mix"], with_sdr and refs.shape[0] > 1)  # one source: SDR ∞
        order = s.pop("order")[0].tolist()
        item = {"path": str(r["path"]), "count": int(refs.shape[0]), **{k: float(v[0]) for k, v in s.items()}}
        items.append(item)
        source_labels = str(r.get("source_labels") or "").split(";")
        if judge is not None and all(x.strip().isdigit() for x in source_labels):
            heard.extend(est[order][:, :n])
            clean.extend(refs[:, :n])
            labels.extend(int(x) for x in source_labels)
    if not items:
        raise DataError(f"{m.root}: no mixture of split '{split}' has the separator's source count")
    per_count: dict[str, dict[str, float]] = {}
    for k in sorted({i["count"] for i in items}):
        sel = [i for i in items if i["count"] == k]
        per_count[str(k)] = {"n": len(sel), **{key: float(np.mean([i[key] for i in sel]))
                                               for key in sel[0] if key not in ("path", "count")}}
    out: dict[str, Any] = {"manifest": str(m.root), "split": split, "per_count": per_count, "skipped": skipped,
                           "count": count_confusion(true_counts, got_counts, sorted(set(true_counts))),
                           "items": items}
    if labels:
        y = np.asarray(labels)
        sep_acc = float(np.mean(judge.embed(heard, sample_rate)[0].argmax(axis=1) == y))
        clean_acc = float(np.mean(judge.embed(clean, sample_rate)[0].argmax(axis=1) == y))
        out["intelligibility"] = {"n": len(labels), "separated_accuracy": sep_acc, "clean_accuracy": clean_acc,
                                  "ratio": sep_acc / clean_acc if clean_acc else float("nan")}
    return out
