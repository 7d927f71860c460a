"""Every recipe in recipes/ parses and passes its scheme's checks; CPU and tiny recipes also build their model."""
from pathlib import Path

import pytest

from speechgen.models.registry import MODELS
from speechgen.training.registry import load_recipe

RECIPES = sorted((Path(__file__).resolve().parents[1] / "recipes").glob("*.yaml"))


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_loads(path):
    recipe = load_recipe(path)
    assert recipe.model.name in MODELS
    if path.stem.endswith(("-cpu", "-tiny")):
        model = MODELS[recipe.model.name](**recipe.model.kwargs)
        assert sum(p.numel() for p in model.parameters()) > 0
