"""Explicit registries: model names → classes and training-scheme names → schemes (one place, plain dicts)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from speechgen.models import DigitClassifier
from speechgen.models.dcgan import DCGAN
from speechgen.models.hifigan import HiFiGAN
from speechgen.models.melgan import MelGAN
from speechgen.models.istft_vocoder import ISTFTVocoder
from speechgen.models.parallel_wavegan import ParallelWaveGAN
from speechgen.models.resgan import ResGAN
from speechgen.models.vae import ConvVAE
from speechgen.models.vaegan import VAEGAN
from speechgen.models.wae import WAE
from speechgen.models.wavegan import WaveGAN
from speechgen.models.wavenet import WaveNet
from speechgen.models.wavernn import WaveRNN
from speechgen.training.autoregressive import AutoregressiveScheme
from speechgen.training.classifier import ClassifierScheme
from speechgen.training.gan import GANScheme
from speechgen.training.recipe import Recipe, apply_overrides, parse_recipe, read_yaml
from speechgen.training.vae import VAEScheme
from speechgen.training.vaegan import VAEGANScheme
from speechgen.training.vocoder import VocoderScheme

MODELS: dict[str, type] = {
    "digit_classifier": DigitClassifier,
    "dcgan": DCGAN,
    "vae": ConvVAE,
    "wae": WAE,
    "vaegan": VAEGAN,
    "wavegan": WaveGAN,
    "wavenet": WaveNet,
    "wavernn": WaveRNN,
    "hifigan": HiFiGAN,
    "melgan": MelGAN,
    "parallel_wavegan": ParallelWaveGAN,
    "istft_vocoder": ISTFTVocoder,
    "resgan": ResGAN,
}

SCHEMES: dict[str, Any] = {
    "classifier": ClassifierScheme,
    "gan": GANScheme,
    "vae": VAEScheme,
    "vaegan": VAEGANScheme,
    "autoregressive": AutoregressiveScheme,
    "vocoder": VocoderScheme,
}


def load_recipe(path: str | os.PathLike, overrides: Sequence[str] = ()) -> Recipe:
    """Read, override (``dotted.key=value``) and validate a recipe against :data:`SCHEMES` and :data:`MODELS`."""
    raw = apply_overrides(read_yaml(path), overrides)
    return parse_recipe(raw, SCHEMES, MODELS, Path(path))


def build_model(recipe: Recipe) -> Any:
    """Instantiate the recipe's model (kwargs were validated on load)."""
    return MODELS[recipe.model.name](**recipe.model.kwargs)
