"""Speaker counter: how many voices speak in a mixture? The alternative to the energy rule of Nachmani et al. (2020)
for picking the separator of the right count (docs/separation.md, Counting the voices).

The judge's network family (:class:`~speechgen.models.classifier.DigitClassifier`: log-mel front end, per-utterance
normalisation, residual CNN, global average pooling, so any length goes in) with one class per entry of ``counts``,
trained by the ``classifier`` scheme with ``data.target: count`` on mixtures drawn on the fly from a speech corpus
(:class:`~speechgen.data.mixtures.CountDataset`: 1, 2, 3 ... voices of one split in equal shares).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

from speechgen.data.mixtures import check_counts
from speechgen.errors import ConfigError
from speechgen.models.classifier import DigitClassifier
from speechgen.models.roles import COUNTER


class SpeakerCounter(DigitClassifier):
    """The number of voices in a mixture, one of ``counts`` (see the module docstring).

    Args:
        counts: the voice counts it tells apart (class ``i`` is ``counts[i]``), each in 1..5.
        the rest: as :class:`DigitClassifier` (smaller default widths).
    """

    roles = (COUNTER,)

    def __init__(
        self,
        counts: Sequence[int] = (1, 2, 3),
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
    ) -> None:
        self.counts = check_counts(counts, "counts")
        if len(self.counts) < 2:
            raise ConfigError(f"counts: a counter tells at least two counts apart, got {list(self.counts)}")
        super().__init__(len(self.counts), sample_rate, n_fft, hop_length, n_mels, fmin, fmax, normalization,
                         norm_mean, norm_std, widths, blocks, groups, stem_stride, dropout, temperature)

    @property
    def classes(self) -> tuple[str, ...]:
        return tuple(f"{k} voice{'s' if k > 1 else ''}" for k in self.counts)

    @torch.no_grad()
    def count(self, mixture: torch.Tensor) -> torch.Tensor:
        """The voice count ``[B]`` (long) of each mixture ``[B, samples]``."""
        index = self(mixture).argmax(dim=-1)
        return torch.tensor(self.counts, device=index.device)[index]
