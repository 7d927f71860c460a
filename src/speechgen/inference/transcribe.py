"""Transcribing spoken digit strings with a trained or shipped recognizer (a
:data:`~speechgen.models.roles.TRANSCRIBER`; the shipped one is ``recognizer``, docs/results.md, Digit strings).

Clips are read whole, mixed to mono and resampled to the recognizer's rate, batched by length
(:func:`speechgen.evaluation.strings.transcribe_clips`); each clip's result does not depend on its batch. A result
is the clip's digits (``"4 2 7"``), their words (``"four two seven"``; empty when nothing was heard) and the
probability of the recognizer's best path (the exp of the mean log posterior of its frames).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from speechgen.data.text import digit_words, digits_text
from speechgen.evaluation.strings import DEFAULT_BATCH, score_split, transcribe_clips

DEFAULT_RECOGNIZER = "recognizer"  # the shipped recognizer's name


def load_transcriber(name_or_path: str | os.PathLike = DEFAULT_RECOGNIZER, device: str = "cpu") -> tuple[Any, Any]:
    """A transcriber model (eval mode) and its :class:`~speechgen.inference.loading.CheckpointInfo`;
    CheckpointError (one line) for a missing checkpoint or a model that is not a digit-string recognizer."""
    from speechgen import pretrained
    from speechgen.errors import CheckpointError
    from speechgen.inference.loading import load
    from speechgen.models.roles import TRANSCRIBER

    if str(name_or_path) == DEFAULT_RECOGNIZER and DEFAULT_RECOGNIZER not in pretrained.PRETRAINED \
            and not os.path.exists(name_or_path):
        raise CheckpointError(f"{DEFAULT_RECOGNIZER}: this install ships no recognizer; pass --model RUN (a run of "
                              "recipes/recognizer/ctc-recognizer-cpu.yaml; docs/results.md, Digit strings)")
    return load(name_or_path, TRANSCRIBER, device)


def transcribe(model: Any, clips: Sequence[Any], sample_rate: int | None = None, batch_size: int = DEFAULT_BATCH,
               progress: Callable[[int], None] | None = None) -> list[dict[str, Any]]:
    """One record per clip (paths, or arrays at ``sample_rate``): ``text`` (digit words), ``digits`` (``"4 2 7"``)
    and ``probability``; ``path`` too for a path."""
    out = []
    for clip, (digits, prob) in zip(clips, transcribe_clips(model, clips, sample_rate, batch_size, progress)):
        record: dict[str, Any] = {"path": str(clip)} if isinstance(clip, (str, os.PathLike)) else {}
        record.update(text=digit_words(digits), digits=digits_text(digits), probability=round(float(prob), 6))
        out.append(record)
    return out


def score_manifest(model: Any, manifest: Any, split: str = "test", batch_size: int = DEFAULT_BATCH,
                   progress: Callable[[int], None] | None = None) -> dict[str, Any]:
    """String accuracy, digit error rate and per-position accuracy of ``model`` on a manifest split whose texts are
    digit strings, overall and per voice (:func:`speechgen.evaluation.strings.score_split`)."""
    return score_split(model, manifest, split, batch_size, progress)
