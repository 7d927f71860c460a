"""``speechgen info MODEL``: what a checkpoint holds and can do, from its config alone; one-line errors."""

import json

import yaml

from speechgen.checkpoint import save_checkpoint
from speechgen.cli.main import main
from speechgen.models.wavenet import WaveNet

TINY_WAVENET = {"layers": 2, "stacks": 1, "residual_channels": 4, "dilation_channels": 4, "skip_channels": 4,
                "head_channels": 4, "bits": 4}


def _info(tmp_path, model):
    out = tmp_path / "info.json"
    assert main(["--quiet", "info", str(model), "--json", str(out)]) == 0
    return json.loads(out.read_text())


def test_shipped_models(tmp_path):
    voc = _info(tmp_path, "default")
    assert voc["model"] == "istft_vocoder" and voc["roles"] == ["vocoder"] and voc["commands"] == ["vocode"]
    assert voc["step"] == 8000 and voc["sample_rate"] == 16000 and voc["scheme"] == "vocoder"
    gen = _info(tmp_path, "digits-default")
    assert gen["roles"] == ["sampler", "latent_codec"] and gen["commands"] == ["sample", "transform"]
    assert _info(tmp_path, "classifier")["commands"] == ["classify"]


def test_role_follows_the_checkpoint_kwargs(tmp_path):
    """The same model class is a sampler without mel conditioning and a vocoder with it."""
    plain = save_checkpoint(tmp_path / "plain", WaveNet(**TINY_WAVENET), {"name": "wavenet", "kwargs": TINY_WAVENET})
    kw = dict(TINY_WAVENET, local_conditioning=True)
    mel = save_checkpoint(tmp_path / "mel", WaveNet(**kw), {"name": "wavenet", "kwargs": kw})
    assert _info(tmp_path, plain)["commands"] == ["sample"]
    assert _info(tmp_path, mel)["commands"] == ["vocode"]


def test_a_model_this_version_does_not_know(tmp_path, capsys):
    ck = save_checkpoint(tmp_path / "ck", WaveNet(**TINY_WAVENET), {"name": "wavenet", "kwargs": TINY_WAVENET})
    cfg = yaml.safe_load((ck / "config.yaml").read_text())
    cfg["model"]["name"] = "from_the_future"
    (ck / "config.yaml").write_text(yaml.safe_dump(cfg))
    assert main(["info", str(ck)]) == 0
    assert "nothing this speechgen knows" in capsys.readouterr().out
    assert _info(tmp_path, ck)["roles"] == []


def test_errors_are_one_line(tmp_path, capsys):
    assert main(["info", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("speechgen: error:") and "no such run, checkpoint or shipped model" in err
    assert len(err.splitlines()) == 1
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.yaml").write_text("format: something-else\n")
    (tmp_path / "bad" / "model.safetensors").write_bytes(b"")
    assert main(["info", str(tmp_path / "bad")]) == 2
    assert "not a speechgen checkpoint config" in capsys.readouterr().err
