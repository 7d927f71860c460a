"""The classifier scheme end to end through ``speechgen train`` on a toy manifest (tiny recipe)."""

import csv
import json
from pathlib import Path

import torch

from speechgen.cli.main import main
from speechgen.checkpoint import load_model
from speechgen.training.schemes.classification import Augment, augment_wave, spec_augment
from speechgen.models.registry import MODELS

TINY = Path(__file__).resolve().parents[3] / "recipes" / "classifier" / "classifier-tiny.yaml"


def _losses(run: Path) -> list[float]:
    with open(run / "logs" / "metrics.csv") as fh:
        return [float(r["train/loss"]) for r in csv.DictReader(fh) if r.get("train/loss")]


def test_tiny_recipe_trains_checkpoints_and_resumes(tmp_path, toy_manifest, capsys):
    run = tmp_path / "run"
    args = ["train", str(TINY), "--out", str(run), "--set", f"data.manifest={toy_manifest}", "--quiet"]
    assert main(args + ["--max-steps", "24"]) == 0
    losses = _losses(run)
    assert len(losses) >= 20 and sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5
    for f in ("config.yaml", "metrics.json", "final/model.safetensors", "final/config.yaml",
              "checkpoints/last.ckpt/model.safetensors", "checkpoints/last.ckpt/trainer_state.yaml"):
        assert (run / f).is_file(), f
    assert not list(run.rglob("*.pt")) and not list(run.rglob("*.pkl"))
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["steps"] == 24 and "val/acc" in metrics and "test/acc" in metrics
    model = load_model(run / "final", MODELS)
    assert load_model(run / "checkpoints" / "last.ckpt", MODELS).state_dict().keys() == model.state_dict().keys()

    assert main(args) == 2  # the run exists: refuse to overwrite without --resume
    assert "--resume" in capsys.readouterr().err
    assert main(args + ["--resume", "--max-steps", "30"]) == 0
    assert json.loads((run / "metrics.json").read_text())["steps"] == 30

    # a recipe that differs from the run's is refused, naming the field (it would load into another model or
    # silently continue with other settings) ...
    capsys.readouterr()
    assert main(args + ["--resume", "--max-steps", "32", "--set", "optim.lr=0.5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "optim.lr" in err and "0.5" in err and "\n" not in err
    assert json.loads((run / "metrics.json").read_text())["steps"] == 30  # nothing ran, nothing rewritten
    # ... and without a recipe the run continues with its own (the toy manifest override included)
    assert main(["train", "--out", str(run), "--resume", "--max-steps", "34", "--quiet"]) == 0
    assert json.loads((run / "metrics.json").read_text())["steps"] == 34
    assert main(["train", "--out", str(tmp_path / "new"), "--quiet"]) == 2
    assert "RECIPE" in capsys.readouterr().err


def test_resume_without_checkpoint_is_one_line_error(tmp_path, toy_manifest, capsys):
    args = ["train", str(TINY), "--out", str(tmp_path / "r"), "--set", f"data.manifest={toy_manifest}", "--resume"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert "nothing to resume" in err and "\n" not in err


def test_augmentation_keeps_shapes_and_is_seeded():
    cfg = Augment()
    x = 0.1 * torch.randn(4, 16000)
    torch.manual_seed(1)
    a = augment_wave(x, cfg, 16000)
    torch.manual_seed(1)
    b = augment_wave(x, cfg, 16000)
    assert a.shape == x.shape and torch.equal(a, b) and not torch.equal(a, x)
    off = Augment(shift=0, gain_db=0, speed=(1.0, 1.0), noise_prob=0)
    assert torch.allclose(augment_wave(x, off, 16000), x)
    m = spec_augment(torch.ones(4, 1, 80, 63), cfg)
    assert m.shape == (4, 1, 80, 63) and 0 < float(m.mean()) < 1


def test_random_eq_is_bounded_smooth_and_off_at_zero_probability():
    from speechgen.training.schemes.classification import random_eq

    x = 0.1 * torch.randn(8, 16000, dtype=torch.float64)
    torch.manual_seed(0)
    y = random_eq(x, Augment(eq_db=6.0, eq_prob=1.0), 16000)
    assert y.shape == x.shape and not torch.allclose(y, x)
    ratio_db = 20 * torch.log10(torch.fft.rfft(y).abs() / torch.fft.rfft(x).abs())
    assert float(ratio_db.abs().max()) <= 6.0 + 1e-6  # zero-phase filter: the gain curve itself, within ±eq_db
    assert float(ratio_db.diff(dim=1).abs().max()) < 0.1  # smooth over frequency
    assert torch.equal(random_eq(x, Augment(eq_db=6.0, eq_prob=0.0), 16000), x)


def test_time_warp_and_tempo_move_frames_but_not_bands():
    from speechgen.training.schemes.classification import warp_time

    x = torch.full((4, 80, 63), -10.0)
    x[:, :, 25:38] = torch.linspace(0, 1, 80)[:, None]  # a 13-frame "word" in the middle
    assert torch.equal(warp_time(x, Augment()), x)  # off by default
    slow = warp_time(x, Augment(tempo=(0.5, 0.5), tempo_prob=1.0))
    fast = warp_time(x, Augment(tempo=(2.0, 2.0), tempo_prob=1.0))
    width = lambda z: int((z[0, 40] > -5).sum())  # noqa: E731
    assert width(slow) > 20 and width(fast) < 8
    torch.manual_seed(0)
    warped = warp_time(x, Augment(time_warp=0.1))
    assert warped.shape == x.shape and not torch.equal(warped, x)  # frames move ...
    for z in (slow, fast, warped):  # ... bands do not: every frame is a mix of the word's band profile and silence
        frames = z.permute(0, 2, 1).reshape(-1, 80)
        ramp = (frames[:, -1:] - frames[:, :1]) * torch.linspace(0, 1, 80)
        assert torch.allclose(frames - frames[:, :1], ramp, atol=1e-5)


def test_training_step_with_every_augmentation_and_mixup():
    from speechgen.models import DigitClassifier
    from speechgen.training.schemes.classification import ClassifierModule, ClassifierTrain
    from speechgen.training.optim import OptimConfig

    model = DigitClassifier(widths=(8, 16), blocks=(1, 1))
    cfg = Augment(eq_db=10.0, eq_prob=1.0, tempo=(0.8, 1.25), tempo_prob=1.0, time_warp=0.05, freq_warp=0.1,
                  mixup=0.4, mixup_prob=1.0)
    module = ClassifierModule(model, {"name": "digit_classifier", "kwargs": {}}, OptimConfig(), cfg,
                              ClassifierTrain(max_steps=1))
    batch = {"audio": 0.1 * torch.randn(6, 16000), "label": torch.arange(6)}
    torch.manual_seed(0)
    loss = module.training_step(batch, 0)
    loss.backward()
    assert torch.isfinite(loss) and model.head.weight.grad is not None


def test_band_limit_removes_the_bands_outside_the_cut_offs():
    from speechgen.training.schemes.classification import band_limit

    t = torch.arange(16000, dtype=torch.float64) / 16000
    x = (torch.sin(2 * torch.pi * 50 * t) + torch.sin(2 * torch.pi * 1000 * t) + torch.sin(2 * torch.pi * 7000 * t))
    x = x[None].repeat(16, 1)
    torch.manual_seed(0)
    y = torch.fft.rfft(band_limit(x, Augment(highpass=400.0, lowpass=3000.0, band_prob=1.0), 16000)).abs()
    ref = torch.fft.rfft(x).abs()
    assert bool((y[:, 1000] > 0.9 * ref[:, 1000]).all())  # 1 kHz passes (cut-offs below 400 Hz / above 3 kHz)
    assert bool((y[:, 50] < ref[:, 50]).all()) and bool((y[:, 7000] < ref[:, 7000]).all())
    assert torch.allclose(band_limit(x, Augment(highpass=400.0, lowpass=3000.0, band_prob=0.0), 16000), x, atol=1e-9)


def test_balanced_sampler_evens_out_groups_and_replays_an_epoch():
    from collections import Counter

    from speechgen.training.schemes.classification import BalancedSampler

    groups = ["a"] * 90 + ["b"] * 10
    counts = Counter(groups)
    s = BalancedSampler([counts[g] ** -1.0 for g in groups], seed=3)
    s.set_epoch(2)
    first = list(s)
    assert len(first) == 100 and all(e == 2 for e, _ in first)
    share_b = sum(groups[i] == "b" for _, i in first) / 100
    assert 0.3 < share_b < 0.7  # about half, against 10 % without balancing
    s.set_epoch(2)
    s.skip_next(40)
    assert list(s) == first[40:]  # resuming an interrupted epoch replays its remaining draws
    s.set_epoch(3)
    assert list(s) != first


def test_balance_column_must_exist(tmp_path, toy_manifest, capsys):
    args = ["train", str(TINY), "--out", str(tmp_path / "r"), "--set", f"data.manifest={toy_manifest}",
            "--set", "data.balance=no_such_column", "--max-steps", "2", "--quiet"]
    assert main(args) == 2
    assert "recipe.data.balance" in capsys.readouterr().err


def test_training_time_adds_up_across_resumes(tmp_path, toy_manifest):
    run = tmp_path / "run"
    args = ["train", str(TINY), "--out", str(run), "--set", f"data.manifest={toy_manifest}", "--quiet"]
    assert main(args + ["--max-steps", "8"]) == 0
    first = json.loads((run / "metrics.json").read_text())["train_seconds"]
    assert main(["train", "--out", str(run), "--resume", "--max-steps", "16", "--quiet"]) == 0
    total = json.loads((run / "metrics.json").read_text())["train_seconds"]
    state = (run / "checkpoints" / "last.ckpt" / "trainer_state.yaml").read_text()
    assert "train_seconds" in state
    assert total > first > 0  # the resumed run reports the whole run's time, not its own segment's


# ------------------------------------------------------------------------------------------- the digit detector
DETECTOR_TINY = TINY.parent / "detector-tiny.yaml"


def _with_negatives(manifest: Path) -> Path:
    """The toy manifest plus as many unlabelled rows ("not a digit": a 2.4 kHz tone, 1.5 s) per split."""
    import numpy as np

    from speechgen.audio import io as audio_io
    from speechgen.data.manifest import Manifest, make_row

    m = Manifest.read(manifest)
    rng = np.random.default_rng(1)
    t = np.arange(24000) / 16000
    rows = list(m.rows)
    for i, r in enumerate(m.rows):
        x = (0.5 * np.sin(2 * np.pi * 2400 * t + rng.uniform(0, 6.28)) + 0.01 * rng.standard_normal(len(t)))
        rel = f"other/{i}.wav"
        audio_io.save(m.root / rel, x.astype(np.float32), 16000)
        rows.append(make_row(rel, label=None, text="other", speaker=r["speaker"], engine="toy", split=r["split"],
                             duration=1.5, sample_rate=16000))
    Manifest(m.root, rows).write()
    return m.root / "manifest.csv"


def test_detector_tiny_recipe_trains_is_digit_with_noise(tmp_path, toy_manifest):
    from speechgen.models import DigitDetector
    from speechgen.training.schemes.classification import ClassifierDataModule

    manifest = _with_negatives(toy_manifest)
    dm = ClassifierDataModule(manifest, target="is_digit", noise=0.25, batch_size=4, seed=0)
    train = dm.dataset("train")
    rows = len(dm.datasets["train"])
    assert len(train) == rows + round(0.25 * rows) and rows == 48  # 24 digits + 24 others, + 12 noise clips
    labels = [train[(0, i)]["label"] for i in range(len(train))]
    assert labels.count(0) == 24 and labels.count(1) == 36  # 0 = digit, 1 = not a digit (the last class)
    eleven = ClassifierDataModule(manifest, target="digit_or_not", noise=0.25, batch_size=4).dataset("train")
    labels = [eleven[(0, i)]["label"] for i in range(len(eleven))]
    assert sorted(set(labels)) == [0, 1, 2, 10] and labels.count(10) == 36
    noise = train[(0, len(train) - 1)]["audio"]
    assert noise.shape == (16000,) and torch.equal(noise, train[(0, len(train) - 1)]["audio"])
    assert not torch.equal(noise, train[(1, len(train) - 1)]["audio"])  # new noise each epoch in training
    valid = dm.dataset("valid")
    assert torch.equal(valid[(0, len(valid) - 1)]["audio"], valid[(5, len(valid) - 1)]["audio"])  # fixed in eval

    run = tmp_path / "det"
    assert main(["train", str(DETECTOR_TINY), "--out", str(run), "--set", f"data.manifest={manifest}",
                 "--quiet"]) == 0
    losses = _losses(run)
    assert len(losses) >= 25 and sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["steps"] == 30 and "val/acc" in metrics
    model = load_model(run / "final", MODELS)
    assert isinstance(model, DigitDetector) and model.n_classes == 11
    valid = dm.dataset("valid")
    items = [valid[(0, i)] for i in range(len(valid.base))]
    with torch.no_grad():
        p = model.not_digit_probability(torch.stack([it["audio"] for it in items]))
    digit = torch.tensor([it["label"] == 0 for it in items])  # dm is two-class: 0 = digit, 1 = not a digit
    assert p.shape == (len(items),) and bool(((p >= 0) & (p <= 1)).all())
    assert float(p[~digit].mean()) > float(p[digit].mean())  # the unseen voice's other sounds read "not a digit"


def test_detector_recipe_checks(tmp_path, toy_manifest, capsys):
    base = ["train", "--out", str(tmp_path / "r"), "--set", f"data.manifest={toy_manifest}", "--max-steps", "1",
            "--quiet"]
    assert main([base[0], str(TINY)] + base[1:] + ["--set", "data.noise=0.1"]) == 2  # noise needs is_digit
    assert "data.noise" in capsys.readouterr().err
    assert main([base[0], str(DETECTOR_TINY)] + base[1:] + ["--set", "data.target=digit"]) == 2
    assert "detector target" in capsys.readouterr().err
    assert main([base[0], str(DETECTOR_TINY)] + base[1:] + ["--set", "data.target=is_digit"]) == 2  # 11 classes
    assert "n_classes 2" in capsys.readouterr().err
    assert main([base[0], str(DETECTOR_TINY)] + base[1:] + ["--set", "data.target=words"]) == 2
    assert "recipe.data.target" in capsys.readouterr().err
    counter = TINY.parent / "counter-tiny.yaml"
    assert main([base[0], str(counter)] + base[1:] + ["--set", "data.target=digit"]) == 2
    assert "model speaker_counter trains with target count" in capsys.readouterr().err
    assert main([base[0], str(TINY)] + base[1:] + ["--set", "data.target=count"]) == 2
    assert "model speaker_counter trains with target count" in capsys.readouterr().err
