"""Checkpoints: exact round trip, safetensors + YAML only (no pickle), one-line CheckpointErrors; recipes."""

from pathlib import Path

import pytest
import torch
import yaml

from speechgen.errors import CheckpointError, ConfigError
from speechgen.models import DigitClassifier
from speechgen.checkpoint import load_model, load_state, read_config, save_checkpoint, save_state
from speechgen.models.registry import MODELS
from speechgen.training.registry import load_recipe

SPEC = {"name": "digit_classifier", "kwargs": {"widths": [8, 16], "blocks": [1, 1]}}


def _model() -> DigitClassifier:
    torch.manual_seed(0)
    m = DigitClassifier(widths=(8, 16), blocks=(1, 1))
    m.train()(0.1 * torch.randn(4, 16000))  # move the batch-norm running stats off their defaults
    return m.eval()


def _not_pickle(path: Path) -> None:
    head = path.read_bytes()[:16]
    assert not head.startswith(b"\x80") and not head.startswith(b"PK")  # pickle / torch.save zip


def test_round_trip_is_exact(tmp_path):
    m = _model()
    save_checkpoint(tmp_path / "ck", m, SPEC, extra={"metrics": {"acc": 0.5}})
    assert sorted(p.name for p in (tmp_path / "ck").iterdir()) == ["config.yaml", "model.safetensors"]
    _not_pickle(tmp_path / "ck" / "model.safetensors")
    cfg = yaml.safe_load((tmp_path / "ck" / "config.yaml").read_text())
    assert cfg["model"] == SPEC and cfg["sample_rate"] == 16000 and cfg["metrics"] == {"acc": 0.5}
    assert cfg["features"]["n_mels"] == 80
    m2 = load_model(tmp_path / "ck", MODELS)
    for (k, a), (k2, b) in zip(m.state_dict().items(), m2.state_dict().items()):
        assert k == k2 and torch.equal(a, b)
    x = 0.1 * torch.randn(2, 16000)
    assert torch.equal(m(x), m2(x))


def test_wrong_model_type_and_corrupt_files(tmp_path):
    save_checkpoint(tmp_path / "ck", _model(), SPEC)
    with pytest.raises(CheckpointError, match="expected 'vocoder'"):
        load_model(tmp_path / "ck", MODELS, expected="vocoder")
    with pytest.raises(CheckpointError, match="digit_classifier"):
        load_model(tmp_path / "ck", {"other": DigitClassifier})
    w = tmp_path / "ck" / "model.safetensors"
    w.write_bytes(w.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="corrupt") as e:
        load_model(tmp_path / "ck", MODELS)
    assert "\n" not in str(e.value)
    with pytest.raises(CheckpointError, match="no such checkpoint"):
        load_model(tmp_path / "missing", MODELS)
    (tmp_path / "ck" / "config.yaml").write_text("format: something-else\n")
    with pytest.raises(CheckpointError, match="not a speechgen checkpoint"):
        read_config(tmp_path / "ck")


def test_optimizer_state_round_trip(tmp_path):
    m = _model().train()
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3, betas=(0.8, 0.9))
    m(0.1 * torch.randn(2, 16000)).sum().backward()
    opt.step()
    save_state(tmp_path, {"optimizer": opt.state_dict(), "step": 1}, "opt")
    assert {p.name for p in tmp_path.iterdir()} == {"opt.safetensors", "opt.yaml"}
    state = load_state(tmp_path, "opt")
    assert state["step"] == 1 and state["optimizer"]["param_groups"][0]["betas"] == (0.8, 0.9)
    opt2 = torch.optim.AdamW(m.parameters(), lr=1.0)
    opt2.load_state_dict(state["optimizer"])
    a, b = opt.state_dict()["state"], opt2.state_dict()["state"]
    assert a.keys() == b.keys() and all(torch.equal(a[k]["exp_avg"], b[k]["exp_avg"]) for k in a)


def _recipe(tmp_path, text: str) -> Path:
    p = tmp_path / "r.yaml"
    p.write_text("scheme: classifier\ndata: {manifest: x}\n" + text)
    return p


@pytest.mark.parametrize("text, field", [
    ("model: {name: digit_classifier, kwargs: {width: 3}}", "recipe.model.kwargs.width"),
    ("model: {name: digit_classifier, kwargs: {widths: five}}", "recipe.model.kwargs.widths"),
    ("model: {name: digit_classifier, kwargs: {dropout: [1]}}", "recipe.model.kwargs.dropout"),
    ("model: {name: nope}", "recipe.model.name"),
    ("model: {name: digit_classifier}\noptim: {lr: fast}", "recipe.optim.lr"),
    ("model: {name: digit_classifier}\ntrain: {max_step: 3}", "recipe.train.max_step"),
    ("model: {name: digit_classifier}\nextra: 1", "recipe.extra"),
])
def test_recipe_errors_name_the_field(tmp_path, text, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_recipe(_recipe(tmp_path, text))


def test_shipped_recipes_are_valid():
    root = Path(__file__).resolve().parents[1] / "recipes" / "classifier"
    for name in ("classifier.yaml", "classifier-tiny.yaml"):
        r = load_recipe(root / name)
        assert r.scheme == "classifier" and r.model.name == "digit_classifier"
        DigitClassifier(**r.model.kwargs)


_UMASK_SCRIPT = """
import json, os, sys
from pathlib import Path
import torch
from speechgen.checkpoint import atomic_dir, save_checkpoint, save_state
from speechgen.models import DigitClassifier

root, modes = Path(sys.argv[1]), {}
for umask in (0o022, 0o077):
    os.umask(umask)
    folder = root / f"ck{umask:03o}"
    for _ in range(2):  # a new checkpoint, then one replacing it
        save_checkpoint(folder, DigitClassifier(widths=(8, 16), blocks=(1, 1)), json.loads(sys.argv[2]))
    with atomic_dir(root / f"state{umask:03o}") as tmp:
        save_state(tmp, {"step": torch.ones(2)}, "opt")
    for f in (folder, *folder.iterdir(), root / f"state{umask:03o}", *(root / f"state{umask:03o}").iterdir()):
        modes[str(f.relative_to(root))] = f.stat().st_mode & 0o777
print(json.dumps(modes))
"""


def test_checkpoint_folders_and_files_follow_the_umask(tmp_path):
    """Like a plain mkdir/open: umask 022 gives 0755 folders and 0644 files, umask 077 0700 and 0600 (it gave
    mkdtemp's 0700 folders whatever the umask). In a subprocess, so that the umask of the tests is not touched."""
    import json
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-c", _UMASK_SCRIPT, str(tmp_path), json.dumps(SPEC)],
                         check=False, capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr
    modes = json.loads(res.stdout)
    assert set(modes) == {f"{d}{u}{f}" for u in ("022", "077") for d, f in
                          [("ck", ""), ("ck", "/config.yaml"), ("ck", "/model.safetensors"), ("state", ""),
                           ("state", "/opt.safetensors"), ("state", "/opt.yaml")]}
    for name, mode in modes.items():
        is_dir = "/" not in name
        want = (0o755 if is_dir else 0o644) if "022" in name else (0o700 if is_dir else 0o600)
        assert mode == want, f"{name}: {mode:o}, want {want:o}"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ck022", "ck077", "state022", "state077"]
