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
    with pytest.raises(CheckpointError, match=r"holds a 'vae' model, not a vocoder \(dsp, hifigan, istft_vocoder, "):
        loading.load("digits-default", R.VOCODER)
    with pytest.raises(CheckpointError, match="holds a 'digit_classifier' model, not a generative model"):
        loading.load_generator("classifier")
    with pytest.raises(CheckpointError, match="not an auto-encoder"):
        loading.load("default", R.LATENT_CODEC)


def test_role_names():
    assert loading.role_names(R.VOCODER) == ["dsp", "hifigan", "istft_vocoder", "melgan", "parallel_wavegan",
                                              "resgan", "wavenet", "wavernn"]
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


def _edited_copy(tmp_path, edit):
    import shutil

    import yaml

    from speechgen import pretrained

    folder = tmp_path / "edited"
    shutil.copytree(pretrained.path("digits-default"), folder)
    cfg = yaml.safe_load((folder / "config.yaml").read_text())
    edit(cfg)
    (folder / "config.yaml").write_text(yaml.safe_dump(cfg))
    return folder


@pytest.mark.parametrize("edit, match", [
    (lambda c: c["model"]["kwargs"].update(hidden=10**7),
     r"weights do not fit model 'vae' \(decoder\.fc\.0\.weight: the kwargs in config\.yaml make \[10000000, 80\]"),
    (lambda c: c["model"]["kwargs"].update(height=128000), r"weights do not fit model 'vae' \(decoder\.deconvs"),
])
def test_edited_sizes_are_refused_before_any_allocation(tmp_path, edit, match):
    """A size edited in config.yaml would build a model of many GB: the shapes are checked on the meta device
    against the safetensors header first."""
    with pytest.raises(CheckpointError, match=match):
        loading.load_generator(_edited_copy(tmp_path, edit))


@pytest.mark.parametrize("edit, match", [
    (lambda c: c["recipe"]["data"].update(feature_params={"n_fft": 10**7}),
     r"config\.yaml: recipe\.data\.feature_params\.n_fft: must be <= 65536, got 10000000"),
    (lambda c: c["recipe"]["data"].update(sample_rate=10**9),
     r"recipe\.data\.sample_rate: expected an integer in 1000\.\.384000 Hz, got 1000000000"),
])
def test_edited_feature_settings_are_refused(tmp_path, edit, match):
    _, info = loading.load(_edited_copy(tmp_path, edit))
    with pytest.raises(CheckpointError, match=match):
        loading.data_and_feature(info.config)


def test_allocation_failures_are_one_line(monkeypatch, capsys):
    from speechgen.cli import main as cli

    def explode(args):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:118] data. DefaultCPUAllocator: can't allocate memory: "
                           "you tried to allocate 192000000000 bytes. Error code 12 (Cannot allocate memory)")

    parser = cli.build_parser()
    monkeypatch.setattr(cli, "build_parser", lambda: parser)
    parser._subparsers._group_actions[0].choices["models"].set_defaults(func=explode)
    assert cli.main(["models"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("speechgen: error: out of memory: [enforce fail") and "192000000000 bytes" in err
    assert len(err.splitlines()) == 1
    assert cli.allocation_failure(RuntimeError("shape mismatch")) is None
