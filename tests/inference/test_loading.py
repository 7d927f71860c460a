"""The inference layer: what a checkpoint can do, loading for a role with one-line refusals, and loading shipped
models without Lightning or any training scheme."""

import json
import subprocess
import sys

import pytest

from speechgen.errors import CheckpointError
from speechgen.inference import loading
from speechgen.models import roles as R


def test_describe_shipped_models():
    assert loading.describe("digits-default").roles == (R.SAMPLER, R.LATENT_CODEC)
    assert loading.describe("default").roles == (R.VOCODER,)
    info = loading.describe("classifier")
    assert info.roles == (R.CLASSIFIER,) and info.verbs == ["classify"] and info.model == "digit_classifier"


def test_capabilities_of_an_unknown_model_name():
    assert loading.capabilities({"model": {"name": "nonexistent", "kwargs": {}}}) == ()


def test_load_for_a_role():
    model, info = loading.load("default", R.VOCODER)
    assert isinstance(model, R.Vocoder) and not model.training
    assert getattr(model, "discriminator", None) is None  # inference builds the generator alone
    with pytest.raises(CheckpointError, match=r"holds a 'vae' model, not a vocoder \(hifigan, istft_vocoder, "):
        loading.load("digits-default", R.VOCODER)
    with pytest.raises(CheckpointError, match="holds a 'digit_classifier' model, not a generative model"):
        loading.load_generator("classifier")
    with pytest.raises(CheckpointError, match="not an auto-encoder"):
        loading.load("default", R.LATENT_CODEC)


def test_role_names():
    assert loading.role_names(R.VOCODER) == ["hifigan", "istft_vocoder", "melgan", "parallel_wavegan", "resgan",
                                              "wavenet", "wavernn"]
    assert loading.role_names(R.LATENT_CODEC) == ["vae", "vaegan", "wae"]


PROBE = """
import json, sys
from speechgen import api
clips = api.generate("digits-default", digits=[3], n=1, seed=0)
api.vocode("default", audio=clips.audio[0], sample_rate=clips.sample_rate)
from speechgen.inference.latent import reconstruct
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("lightning", "pytorch_lightning")
                        or m.startswith("speechgen.training"))))
"""


@pytest.mark.slow
def test_loading_shipped_models_imports_no_training():
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, timeout=300, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []
