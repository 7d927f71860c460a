"""Every registered model declares its roles, and a model built from each tiny recipe satisfies the protocol of every
role it declares (and none it does not declare is claimed by the listings)."""

from pathlib import Path

import pytest

from speechgen.models import roles as R
from speechgen.models.registry import MODELS
from speechgen.training.registry import load_recipe

TINY = sorted((Path(__file__).resolve().parents[2] / "recipes").rglob("*-tiny.yaml"))


@pytest.mark.parametrize("path", TINY, ids=[p.stem for p in TINY])
def test_tiny_models_satisfy_their_roles(path):
    recipe = load_recipe(path)
    cls = MODELS[recipe.model.name]
    roles = R.roles_of(cls, recipe.model.kwargs)
    assert roles, f"{cls.__name__} declares no role"
    model = cls(**recipe.model.kwargs)
    for role in roles:
        assert isinstance(model, R.PROTOCOLS[role]), (cls.__name__, role)


def test_every_registered_model_is_covered_by_a_tiny_recipe():
    """...except the models with nothing to train (no parameters: the ``dsp`` vocoder), which have no recipe;
    tests/models/test_dsp_vocoder.py checks its roles."""
    covered = {load_recipe(p).model.name for p in TINY}
    weightless = {n for n in set(MODELS) - covered if not list(MODELS[n]().parameters())}
    assert covered | weightless == set(MODELS) and weightless <= {"dsp"}


def test_role_depends_on_construction_for_autoregressive_models():
    for name in ("wavenet", "wavernn"):
        assert R.roles_of(MODELS[name], {}) == (R.SAMPLER,)
        assert R.roles_of(MODELS[name], {"local_conditioning": True}) == (R.VOCODER,)


def test_known_roles():
    assert R.roles_of(MODELS["hifigan"], {}) == (R.VOCODER,)
    assert R.roles_of(MODELS["vae"], {}) == (R.SAMPLER, R.LATENT_CODEC)
    assert R.roles_of(MODELS["digit_classifier"], {}) == (R.CLASSIFIER,)
    assert set(R.VERBS) == set(R.PROTOCOLS)


def test_unknown_role_is_refused():
    class Odd:
        roles = ("painter",)

    with pytest.raises(TypeError, match="unknown role 'painter'"):
        R.roles_of(Odd)
