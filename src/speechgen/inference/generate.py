"""Drawing clips from a trained or shipped sampler and turning them into audio (the API, the web app)."""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch

from speechgen.errors import ConfigError


@dataclass
class Generated:
    """Generated clips: ``audio [N, samples]`` float32, ``labels [N]`` (or None), ``sample_rate`` and the raw
    model output ``features`` (e.g. amplitude images)."""

    audio: np.ndarray
    labels: np.ndarray | None
    sample_rate: int
    features: np.ndarray


class Generator:
    """A loaded generative model (load once, then :meth:`generate` as often as needed)."""

    def __init__(self, model: str | os.PathLike = "digits-default", device: str = "cpu") -> None:
        from speechgen.inference.loading import data_and_feature, load_generator

        self.name, self.device = str(model), device
        net, cfg = load_generator(model, device)
        self.net = net.eval()
        self.data, self.feature = data_and_feature(cfg)
        self.sample_rate = int(self.data["sample_rate"])
        self.n_classes = int(getattr(net, "n_classes", 0) or 0)

    def generate(self, digits: list[int] | None = None, n: int = 1, seed: int = 0,
                 griffin_lim_iters: int = 64) -> Generated:
        """``n`` clips per digit (conditional models; default every digit) or ``n`` clips (unconditional)."""
        from speechgen.models.sampling import draw

        if self.data.get("condition_channels"):
            raise ConfigError(f"{self.name}: needs condition channels from real clips; use `speechgen sample "
                              "--condition-from MANIFEST`")
        labels = None
        if self.n_classes:
            wanted = list(range(self.n_classes)) if digits is None else [int(d) for d in digits]
            bad = [d for d in wanted if not 0 <= d < self.n_classes]
            if bad:
                raise ConfigError(f"digits: {bad[0]} is out of range 0..{self.n_classes - 1} for {self.name}")
            labels = torch.tensor([d for d in wanted for _ in range(n)], dtype=torch.long)
        elif digits is not None:
            raise ConfigError(f"digits: {self.name} is unconditional")
        count = len(labels) if labels is not None else n
        feats = draw(self.net, count, labels, seed, device=self.device)
        opts = {"seed": seed, "n_iter": griffin_lim_iters} if feats.ndim > 2 else {}
        audio = self.feature.invert(feats, length=self.sample_rate, **opts)
        audio = np.asarray(audio, dtype=np.float32).reshape(count, -1)
        return Generated(audio, None if labels is None else labels.numpy(), self.sample_rate, feats)
