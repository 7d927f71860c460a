"""The judge of digit strings: metrics of transcriptions against reference digit strings, and the shipped recognizer
(:class:`~speechgen.models.ctc_recognizer.CTCRecognizer`, ``pretrained/recognizer``) that transcribes clips.

Metrics (pure functions of lists of digit lists, references first; every reference must hold at least one digit,
a hypothesis may be empty):

- :func:`string_accuracy`: the share of clips whose hypothesis is exactly the reference;
- :func:`digit_error_rate`: Levenshtein edit distances (:func:`~speechgen.data.text.edit_distance`) summed over
  clips / reference digits summed (can exceed 1 when a hypothesis inserts many digits);
- :func:`per_position_accuracy`: for each position ``i``, over the references longer than ``i``, the share whose
  hypothesis has the same digit at ``i`` (a hypothesis too short is wrong there).

Input policy of :func:`transcribe_clips` (files or arrays): mixed to mono, resampled to the recognizer's rate (soxr
VHQ), whole clips (no cropping); empty audio or audio holding NaN/Inf is refused (AudioError). Clips are batched
by length and each is transcribed independently of its batch (up to float round-off). The recognizer is loaded
here the way the judge loads the classifier (:func:`speechgen.checkpoint.load_model`), so evaluation does not need
the inference layer.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch

from speechgen.audio import io as audio_io
from speechgen.checkpoint import load_model, read_config, resolve_checkpoint
from speechgen.data.text import MAX_DIGITS, edit_distance, parse_digits
from speechgen.errors import DataError
from speechgen.evaluation.judge import _model_version as model_version
from speechgen.models.ctc_recognizer import CTCRecognizer

RECOGNIZER = "recognizer"  #: the shipped recognizer's name
RECOGNIZER_MODELS = {"ctc_recognizer": CTCRecognizer}
DEFAULT_BATCH = 32


# ------------------------------------------------------------------------------------------------ metrics
def _check(references: Sequence[Sequence[int]], hypotheses: Sequence[Sequence[int]]) -> None:
    if len(references) != len(hypotheses):
        raise DataError(f"{len(references)} reference(s) but {len(hypotheses)} hypothesis(es)")
    if not references:
        raise DataError("no digit strings to score")
    for i, r in enumerate(references):
        if len(r) == 0:
            raise DataError(f"reference {i}: an empty digit string cannot be scored")


def string_accuracy(references: Sequence[Sequence[int]], hypotheses: Sequence[Sequence[int]]) -> float:
    """The share of hypotheses equal to their reference."""
    _check(references, hypotheses)
    return sum(list(r) == list(h) for r, h in zip(references, hypotheses)) / len(references)


def digit_error_rate(references: Sequence[Sequence[int]], hypotheses: Sequence[Sequence[int]]) -> float:
    """Edit distances summed over clips / reference digits summed."""
    _check(references, hypotheses)
    errors = sum(edit_distance(r, h) for r, h in zip(references, hypotheses))
    return errors / sum(len(r) for r in references)


def per_position_accuracy(references: Sequence[Sequence[int]], hypotheses: Sequence[Sequence[int]]) -> list[float]:
    """Accuracy at each position ``i`` (0 to the longest reference's last), over the references longer than ``i``:
    the share whose hypothesis has the reference's digit at ``i``."""
    _check(references, hypotheses)
    out = []
    for i in range(max(len(r) for r in references)):
        pairs = [(r, h) for r, h in zip(references, hypotheses) if len(r) > i]
        out.append(sum(len(h) > i and h[i] == r[i] for r, h in pairs) / len(pairs))
    return out


def string_metrics(references: Sequence[Sequence[int]], hypotheses: Sequence[Sequence[int]]) -> dict[str, Any]:
    """All three metrics, the number of clips, and the string accuracy per reference length
    (``by_length``: length → {n, string_accuracy})."""
    _check(references, hypotheses)
    by_length: dict[int, dict[str, Any]] = {}
    for length in sorted({len(r) for r in references}):
        pairs = [(r, h) for r, h in zip(references, hypotheses) if len(r) == length]
        by_length[length] = {"n": len(pairs), "string_accuracy": string_accuracy(*zip(*pairs))}
    return {"n": len(references), "string_accuracy": string_accuracy(references, hypotheses),
            "digit_error_rate": digit_error_rate(references, hypotheses),
            "per_position_accuracy": per_position_accuracy(references, hypotheses), "by_length": by_length}


def digit_strings(texts: Sequence[Any]) -> list[list[int]] | None:
    """The digits of each text when every one is a non-empty digit string (``"4 2 7"``, ``"four two seven"``),
    else None (a set without texts, or with words, is not a set of digit strings)."""
    out = []
    for t in texts:
        if not isinstance(t, str) or not t.strip():
            return None
        try:
            out.append(parse_digits(t, MAX_DIGITS))
        except DataError:
            return None
    return out if out else None


# ------------------------------------------------------------------------------------------------ transcription
def _read(item: Any, rate: int, sample_rate: int | None) -> np.ndarray:
    """One clip as mono float32 at ``rate``: a path, or a 1-D / ``[channels, samples]`` array at ``sample_rate``."""
    if isinstance(item, (str, os.PathLike)):
        return audio_io.load(item, rate)[0]
    x = audio_io.validate(np.asarray(item), "audio")
    if x.ndim == 2:
        x = x.mean(axis=0)
    sr = rate if sample_rate is None else int(sample_rate)
    return audio_io.resample(x, sr, rate) if sr != rate else x


@torch.inference_mode()
def transcribe_clips(model: Any, clips: Sequence[Any], sample_rate: int | None = None,
                     batch_size: int = DEFAULT_BATCH, progress: Callable[[int], None] | None = None,
                     ) -> list[tuple[list[int], float]]:
    """``(digits, probability)`` of each clip (paths or arrays at ``sample_rate``) from a transcriber ``model``
    (:class:`~speechgen.models.roles.Transcriber`); see the module docstring for the input policy."""
    if len(clips) == 0:
        raise DataError("no clips to transcribe")
    if batch_size <= 0:
        raise DataError(f"batch size: must be > 0, got {batch_size}")
    rate = int(model.sample_rate)
    device = next(model.parameters()).device
    out: list[tuple[list[int], float] | None] = [None] * len(clips)
    chunk = max(int(batch_size), 256)  # read files a chunk at a time (bounded memory), batch each chunk by length
    for lo in range(0, len(clips), chunk):
        waves = [_read(c, rate, sample_rate) for c in clips[lo:lo + chunk]]
        order = sorted(range(len(waves)), key=lambda i: len(waves[i]))
        for b in range(0, len(order), batch_size):
            idx = order[b:b + batch_size]
            lengths = torch.tensor([len(waves[i]) for i in idx], dtype=torch.long)
            batch = torch.zeros(len(idx), int(lengths.max()))
            for k, i in enumerate(idx):
                batch[k, :len(waves[i])] = torch.from_numpy(np.ascontiguousarray(waves[i]))
            for i, result in zip(idx, model.transcribe(batch.to(device), lengths.to(device))):
                out[lo + i] = (list(result[0]), float(result[1]))
            if progress is not None:
                progress(len(idx))
    return out  # type: ignore[return-value]


def score_split(model: Any, manifest: Any, split: str | None = "test", batch_size: int = DEFAULT_BATCH,
                progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """Transcribe the rows of a manifest split (all rows for ``split=None``) whose texts are digit strings and score
    them: :func:`string_metrics` overall, string accuracy and digit error rate per voice (``per_voice``), and one
    item per clip (``items``: path, speaker, reference, digits, probability). DataError when the split has no
    rows or a row's text is not a digit string."""
    from speechgen.data.manifest import Manifest
    from speechgen.data.text import digits_text

    m = manifest if isinstance(manifest, Manifest) else Manifest.read(manifest, lenient=True)
    rows = list(m.select(split))
    where = f"{m.root}: split '{split}'" if split is not None else str(m.root)
    if not rows:
        raise DataError(f"{where} has no rows")
    refs = digit_strings([r.get("text") for r in rows])
    if refs is None:
        bad = next(r for r in rows if digit_strings([r.get("text")]) is None)
        raise DataError(f"{where}: row {bad['path']} has text {bad.get('text')!r}, not a digit string")
    paths = [m.resolve(r) for r in rows]
    results = transcribe_clips(model, paths, batch_size=batch_size, progress=progress)
    hyps = [d for d, _ in results]
    voices: dict[str, list[int]] = {}
    for k, r in enumerate(rows):
        voices.setdefault(str(r.get("speaker", "") or ""), []).append(k)
    per_voice = {v: {"n": len(ix), "string_accuracy": string_accuracy([refs[i] for i in ix], [hyps[i] for i in ix]),
                     "digit_error_rate": digit_error_rate([refs[i] for i in ix], [hyps[i] for i in ix])}
                 for v, ix in sorted(voices.items())}
    items = [{"path": str(p), "speaker": str(r.get("speaker", "") or ""), "reference": digits_text(ref),
              "digits": digits_text(d), "probability": round(prob, 6)}
             for p, r, ref, (d, prob) in zip(paths, rows, refs, results)]
    return dict(string_metrics(refs, hyps), manifest=str(m.root), split=split, per_voice=per_voice, items=items)


class Recognizer:
    """The digit-string recognizer as a judge.

    Args:
        checkpoint: a shipped name (default "recognizer"), a run folder or a checkpoint folder.
        device: torch device.
        batch_size: clips per forward pass (does not change results).
    """

    def __init__(self, checkpoint: str | os.PathLike = RECOGNIZER, device: str = "cpu",
                 batch_size: int = DEFAULT_BATCH) -> None:
        self.folder = resolve_checkpoint(checkpoint)
        self.config = read_config(self.folder)
        self.model: CTCRecognizer = load_model(  # type: ignore[assignment]
            self.folder, RECOGNIZER_MODELS, device=device)
        self.batch_size = int(batch_size)
        self.sample_rate = int(self.model.sample_rate)
        self.version = model_version(self.folder, self.config)

    def transcribe(self, clips: Sequence[Any], sample_rate: int | None = None,
                   progress: Callable[[int], None] | None = None) -> list[tuple[list[int], float]]:
        """``(digits, probability)`` of each clip (:func:`transcribe_clips`)."""
        return transcribe_clips(self.model, clips, sample_rate, self.batch_size, progress)

    def score(self, clips: Sequence[Any], references: Sequence[Sequence[int]], sample_rate: int | None = None,
              progress: Callable[[int], None] | None = None) -> dict[str, Any]:
        """:func:`string_metrics` of the clips' transcriptions against ``references``, with the recognizer's
        version."""
        if len(clips) != len(references):
            raise DataError(f"{len(clips)} clip(s) but {len(references)} reference(s)")
        hyps = [d for d, _ in self.transcribe(clips, sample_rate, progress)]
        return dict(string_metrics(references, hyps), recognizer_version=self.version)
