"""The ctc scheme end to end through ``speechgen train`` on toy digit strings (tiny recipe), its augmentation and its
checks."""

import csv
import shutil
import json
from pathlib import Path

import pytest
import torch

from speechgen.checkpoint import load_model
from speechgen.cli.main import main
from speechgen.data.manifest import Manifest
from speechgen.errors import ConfigError, DataError
from speechgen.models.registry import MODELS
from speechgen.training.registry import SCHEMES, build_model, load_recipe
from speechgen.training.schemes.transcription import CTCAugment, CTCScheme, stretch_and_pad

TINY = Path(__file__).resolve().parents[3] / "recipes" / "recognizer" / "ctc-recognizer-tiny.yaml"


def _losses(run: Path) -> list[float]:
    with open(run / "logs" / "metrics.csv") as fh:
        return [float(r["train/loss"]) for r in csv.DictReader(fh) if r.get("train/loss")]


def test_tiny_recipe_trains_end_to_end(tmp_path, toy_strings):
    run = tmp_path / "run"
    assert main(["train", str(TINY), "--out", str(run), "--set", f"data.manifest={toy_strings}", "--quiet",
                 "--max-steps", "24"]) == 0
    losses = _losses(run)
    assert len(losses) >= 20 and sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["steps"] == 24
    for k in ("val/loss", "val/string_acc", "val/der", "test/loss", "test/string_acc", "test/der"):
        assert k in metrics, k
    assert 0.0 <= metrics["test/string_acc"] <= 1.0 and metrics["test/der"] >= 0.0
    model = load_model(run / "final", MODELS)
    assert type(model).__name__ == "CTCRecognizer"
    digits, prob = model.transcribe(torch.zeros(1, 4000))[0]
    assert isinstance(digits, list) and 0.0 < prob <= 1.0


def test_scheme_is_registered_and_trains_only_the_recognizer():
    assert SCHEMES["ctc"] is CTCScheme
    with pytest.raises(ConfigError, match="recipe.model.name"):
        load_recipe(TINY, ["model.name=digit_classifier", "model.kwargs={}"])


@pytest.mark.parametrize("override, field", [("augment.speed=[1.2, 0.9]", "augment.speed"),
                                             ("augment.pad=-1", "augment.pad"),
                                             ("augment.noise_prob=2", "augment.noise_prob"),
                                             ("data.batch_size=0", "data.batch_size"),
                                             ("data.held_out_fraction=1.0", "data.held_out_fraction"),
                                             ("augment.mixup=0.2", "augment.mixup")])
def test_bad_sections_name_the_field(override, field):
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        load_recipe(TINY, [override])


def test_a_row_that_is_not_a_digit_string_is_refused_when_the_run_builds(toy_strings):
    m = Manifest.read(toy_strings)
    m.rows[0]["text"] = "hello there"
    m.write()
    recipe = load_recipe(TINY, [f"data.manifest={toy_strings}"])
    with pytest.raises(DataError, match="cannot speak 'hello'"):
        CTCScheme.build(recipe, build_model(recipe))


def test_extra_train_manifests_add_train_rows_only(tmp_path, toy_strings):
    extra = shutil.copytree(Path(toy_strings).parent, tmp_path / "extra") / "manifest.csv"
    base = load_recipe(TINY, [f"data.manifest={toy_strings}"])
    recipe = load_recipe(TINY, [f"data.manifest={toy_strings}", f"data.extra_train=[{extra}]"])
    _, dm0 = CTCScheme.build(base, build_model(base))
    _, dm = CTCScheme.build(recipe, build_model(recipe))
    added = len(Manifest.read(extra).select("train"))
    assert added > 0 and len(dm.dataset("train")) == len(dm0.dataset("train")) + added
    for split in ("valid", "test"):
        assert len(dm.dataset(split)) == len(dm0.dataset(split))
    with pytest.raises(DataError, match="missing"):
        CTCScheme.build(*(lambda r: (r, build_model(r)))(
            load_recipe(TINY, [f"data.manifest={toy_strings}", f"data.extra_train=[{tmp_path / 'missing'}]"])))


def test_stretch_and_pad_changes_lengths_and_keeps_the_clip():
    wave = torch.zeros(3, 8000)
    wave[:, :4000] = 0.5
    lengths = torch.tensor([4000, 3000, 8000])
    off = CTCAugment(speed_prob=0.0, pad=0.0)
    same, n = stretch_and_pad(wave, lengths, off, 16000)
    assert torch.equal(n, lengths) and torch.equal(same[:, :8000], wave * (torch.arange(8000) < lengths[:, None]))
    torch.manual_seed(0)
    out, n = stretch_and_pad(wave, lengths, CTCAugment(speed=(0.5, 0.5), speed_prob=1.0, pad=0.0), 16000)
    assert n.tolist() == [8000, 6000, 16000] and out.shape == (3, 16000)  # half speed: twice as long
    torch.manual_seed(0)
    padded, n = stretch_and_pad(wave, lengths, CTCAugment(speed_prob=0.0, pad=0.1), 16000)
    assert bool(((n - lengths) >= 0).all()) and bool(((n - lengths) <= 3200).all())
    assert float(padded.abs().sum()) == pytest.approx(float((wave * (torch.arange(8000) < lengths[:, None])).sum()))
    torch.manual_seed(0)
    again, _ = stretch_and_pad(wave, lengths, CTCAugment(speed_prob=0.0, pad=0.1), 16000)
    assert torch.equal(padded, again)


def test_batched_augmentation_is_the_classifier_schemes_without_moving_parts():
    a = CTCAugment(eq_db=6.0, freq_warp=0.1).classifier_augment()
    assert a.shift == 0 and a.speed_prob == 0 and a.tempo_prob == 0 and a.time_warp == 0 and a.mixup == 0
    assert a.eq_db == 6.0 and a.freq_warp == 0.1
