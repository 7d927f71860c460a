"""Every recipe under recipes/FAMILY/ parses (its ``base:`` resolved) and passes its scheme's checks; CPU and tiny
recipes also build their model; names follow one style; no resolved recipe keeps a ``base`` key."""
import re
from pathlib import Path

import pytest

from speechgen.models.registry import MODELS
from speechgen.recipe_files import read_yaml
from speechgen.training.registry import load_recipe

ROOT = Path(__file__).resolve().parents[1] / "recipes"
RECIPES = sorted(ROOT.rglob("*.yaml"))
FAMILIES = {"classifier", "frames", "recognizer", "separation", "spectrogram", "tts", "vocoder", "waveform"}


def _keys(value, prefix=""):
    """Every key path of a nested mapping (``model.kwargs.d``)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield f"{prefix}{k}"
            yield from _keys(v, f"{prefix}{k}.")


@pytest.mark.parametrize("path", RECIPES, ids=[p.stem for p in RECIPES])
def test_recipe_loads(path):
    recipe = load_recipe(path)
    assert recipe.model.name in MODELS
    assert not [k for k in _keys(recipe.raw) if k.split(".")[-1] == "base"], "resolved recipe keeps 'base'"
    if path.stem.endswith(("-cpu", "-tiny")):
        model = MODELS[recipe.model.name](**recipe.model.kwargs)
        assert sum(p.numel() for p in model.parameters()) > 0


def test_recipes_sit_in_family_folders_with_one_naming_style():
    assert len(RECIPES) > 90
    assert not list(ROOT.glob("*.yaml")), "recipes belong in a family folder"
    assert {p.parent.name for p in RECIPES} == FAMILIES
    for path in RECIPES:
        assert path.parent.parent == ROOT, path
        assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*\.yaml", path.name), path.name
    stems = [p.stem for p in RECIPES]
    assert len(stems) == len(set(stems)), "a recipe name is used in two folders"


def test_variants_are_short_diffs_of_a_base_in_the_repository():
    for path in RECIPES:
        if path.stem.endswith(("-tiny", "-cpu", "-22k")):
            text = path.read_text()
            base = re.search(r"^base: (\S+)$", text, re.M)
            assert base, f"{path.name}: a -tiny/-cpu/-22k recipe starts from its sibling (base:)"
            target = (path.parent / base.group(1)).resolve()
            assert target.is_file() and ROOT in target.parents, (path.name, base.group(1))
            assert "scheme:" not in text, f"{path.name}: repeats its base's scheme"
            assert f"recipes/{path.parent.name}/{path.name}" in text, f"{path.name}: header (its command) lost"
            assert "base" not in read_yaml(path), path.name


@pytest.mark.parametrize("version", ["v1", "v2", "v3"])
def test_hifigan_paper_recipes_take_their_layout_from_the_models_configs(version):
    from speechgen.models.hifigan import CONFIGS, HiFiGAN

    for suffix in ("", "-22k", "-tiny"):
        recipe = load_recipe(ROOT / "vocoder" / f"hifigan-{version}{suffix}.yaml")
        kwargs = recipe.model.kwargs
        assert kwargs["config"] == version, suffix
        assert not set(CONFIGS[version]) - {"upsample_initial_channel"} & set(kwargs), "layout repeated"
        expected = CONFIGS[version] if suffix != "-tiny" else dict(CONFIGS[version], upsample_initial_channel=(
            32 if version == "v1" else 16))
        assert HiFiGAN.layout(kwargs) == expected
