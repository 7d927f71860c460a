"""Digit detector: is a one-second clip a spoken digit at all? The judge's "not a digit" outcome
(docs/results.md, The judge).

The same network family as the judge's :class:`~speechgen.models.classifier.DigitClassifier` (log-mel front end,
per-utterance normalisation, residual CNN), smaller, whose *last* class is "not a digit": either two classes
(0 = "digit", 1 = "not a digit"; ``data.target: is_digit``) or eleven (the digits 0-9, then "not a digit";
``data.target: digit_or_not``, where knowing which digit is a richer lesson than "some digit"). It is a separate
model so that the judge's 10-way softmax and features, which IS/FID/NDB read, stay exactly as they were. Trained by
the ``classifier`` scheme on rows with a digit label against rows without one (other English words and sentences
the same engines speak) plus synthetic noise and silence; see ``recipes/classifier/detector.yaml``. The judge feeds it the one second around a clip's speech
(:mod:`speechgen.evaluation.vad`) and calls a clip not a digit when :meth:`DigitDetector.not_digit_probability`
reaches ``threshold``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

from speechgen.errors import ConfigError
from speechgen.models.classifier import DigitClassifier
from speechgen.models.roles import CLASSIFIER



class DigitDetector(DigitClassifier):
    """"Not a digit" detector over log-mel (see the module docstring).

    Args are those of :class:`DigitClassifier` (``n_classes`` 2 or 11; the last class is "not a digit"), with
    smaller default widths, plus threshold: the probability of "not a digit" from which a clip is judged not to be
    a digit.
    """

    roles = (CLASSIFIER,)

    def __init__(
        self,
        n_classes: int = 2,
        sample_rate: int = 16000,
        n_fft: int = 1024,
        hop_length: int = 256,
        n_mels: int = 80,
        fmin: float = 0.0,
        fmax: float = 8000.0,
        normalization: Literal["utterance", "fixed"] = "utterance",
        norm_mean: float = -4.0,
        norm_std: float = 4.0,
        widths: Sequence[int] = (16, 32, 64),
        blocks: Sequence[int] = (1, 1, 1),
        groups: int = 1,
        stem_stride: int = 2,
        dropout: float = 0.2,
        temperature: float = 1.0,
        threshold: float = 0.5,
    ) -> None:
        if n_classes not in (2, 11):
            raise ConfigError(f"n_classes: the digit detector has 2 classes (digit, not a digit) or 11 (the digits, "
                              f"not a digit), got {n_classes}")
        if not 0.0 < threshold < 1.0:
            raise ConfigError(f"threshold: must be in (0, 1), got {threshold}")
        super().__init__(n_classes, sample_rate, n_fft, hop_length, n_mels, fmin, fmax, normalization, norm_mean,
                         norm_std, widths, blocks, groups, stem_stride, dropout, temperature)
        self.threshold = float(threshold)

    @property
    def classes(self) -> tuple[str, ...]:
        return (("digit",) if self.n_classes == 2 else tuple(str(d) for d in range(10))) + ("not a digit",)

    def not_digit_probability(self, wave: torch.Tensor) -> torch.Tensor:
        """Probability ``[B]`` (at ``temperature``) that each clip ``[B, T]`` is not a spoken digit (the last
        class)."""
        return self.probs_and_features(wave)[0][:, -1]
