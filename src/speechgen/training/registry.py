"""The scheme registry (training-scheme names → schemes, a plain dict) and the recipe loader that checks a recipe
against it and the model registry (:data:`speechgen.models.registry.MODELS`)."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from speechgen.models.registry import MODELS
from speechgen.training.schemes.autoregressive import AutoregressiveScheme
from speechgen.training.schemes.classification import ClassifierScheme
from speechgen.training.schemes.gan import GANScheme
from speechgen.training.recipe import Recipe, parse_recipe
from speechgen.recipe_files import apply_overrides, read_yaml
from speechgen.training.schemes.autoencoder import VAEScheme
from speechgen.training.schemes.learned_similarity import VAEGANScheme
from speechgen.training.schemes.gan_vocoder import VocoderScheme
from speechgen.training.schemes.transcription import CTCScheme
from speechgen.training.schemes.separation import SeparationScheme
from speechgen.training.schemes.tts import TTSScheme

SCHEMES: dict[str, Any] = {
    "classifier": ClassifierScheme,
    "gan": GANScheme,
    "vae": VAEScheme,
    "vaegan": VAEGANScheme,
    "autoregressive": AutoregressiveScheme,
    "vocoder": VocoderScheme,
    "ctc": CTCScheme,
    "tts": TTSScheme,
    "separation": SeparationScheme,
}


def load_recipe(path: str | os.PathLike, overrides: Sequence[str] = ()) -> Recipe:
    """Read, override (``dotted.key=value``) and validate a recipe against :data:`SCHEMES` and :data:`MODELS`."""
    raw = apply_overrides(read_yaml(path), overrides)
    return parse_recipe(raw, SCHEMES, MODELS, Path(path))


def build_model(recipe: Recipe) -> Any:
    """Instantiate the recipe's model (kwargs were validated on load)."""
    return MODELS[recipe.model.name](**recipe.model.kwargs)
