"""Phone-conditioned generation of log-mel frame windows: the tiny TIMIT recipes (ConvVAE, MLP DCGAN) train end to
end on the TIMIT fixture and write de-normalised window grids, losses fall on a fixed batch, ``speechgen sample``
writes windows without WAVs, the same model trains on a digits corpus (label = digit), and recipe errors name the
field."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml

from speechgen.cli.main import main
from speechgen.data.frames import FrameNorm, FrameOptions, FramesDataModule
from speechgen.data.readers import import_corpus
from speechgen.data.readers.timit import PHONES_48
from speechgen.errors import ConfigError
from speechgen.models.dcgan import DCGAN
from speechgen.models.vae import ConvVAE
from speechgen.training.schemes.gan import GANModule, GANScheme, GANSection
from speechgen.models.sampling import draw
from speechgen.inference.loading import load_generator
from speechgen.training.schemes.generative import GenData, GenTrain
from speechgen.training.optim import OptimConfig
from speechgen.training.registry import build_model, load_recipe
from speechgen.training.runner import train
from speechgen.training.schemes.autoencoder import VAEModule, VAEScheme, VAESection

from .fixed_batch import RECIPES, fit_fixed_batch

pytestmark = [pytest.mark.filterwarnings("ignore:.*validation_step.*no `val_dataloader`"),
              pytest.mark.filterwarnings("ignore:.*LeafSpec.*")]

# recipe name -> recipes/FAMILY/NAME.yaml
READERS_CONFTEST = Path(__file__).resolve().parents[1] / "data" / "readers" / "conftest.py"


@pytest.fixture(scope="module")
def timit_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The TIMIT fixture of tests/data/readers/conftest.py (loaded by path), imported as a manifest."""
    spec = importlib.util.spec_from_file_location("_readers_conftest", READERS_CONFTEST)
    rc = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rc)  # type: ignore[union-attr]
    root = tmp_path_factory.mktemp("timit")
    import_corpus("timit", rc.make_timit(root / "TIMIT"), root / "timit", progress=False)
    return root / "timit" / "manifest.csv"


@pytest.fixture(scope="module")
def cvae_run(timit_manifest: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    run = tmp_path_factory.mktemp("runs") / "cvae"
    metrics = train(load_recipe(RECIPES["timit-frames-cvae-tiny"], [f"data.manifest={timit_manifest}"]), run,
                    quiet=True)
    return run, metrics


def _train_stats(manifest: Path, recipe: str) -> dict:
    d = load_recipe(RECIPES[f"{recipe}"], [f"data.manifest={manifest}"]).data
    return FramesDataModule(manifest, feature=d.feature, feature_params=d.feature_params,
                            frames=d.frames).resolved_frames()["stats"]


def _check_run(run: Path, metrics: dict, steps: int, rounds: list[str], n_samples: int, n_classes: int,
               stats: dict) -> None:
    assert metrics["steps"] == steps and all(np.isfinite(v) for v in metrics.values())
    for f in ("final/model.safetensors", "final/config.yaml", "metrics.json"):
        assert (run / f).is_file(), f
    assert sorted(p.name for p in (run / "samples").iterdir()) == rounds
    last = run / "samples" / rounds[-1]
    assert (last / "grid.png").stat().st_size > 1000
    assert not list(run.rglob("*.wav")) and not list(run.rglob("*.pkl")) and not list(run.rglob("*.pt"))
    # the checkpoint's recipe holds the train statistics and the resolved labels mode
    model, cfg = load_generator(run)
    frames = cfg["recipe"]["data"]["frames"]
    assert np.allclose(frames["stats"]["mean"], stats["mean"]) and np.allclose(frames["stats"]["std"], stats["std"])
    # the round's windows are the final model's draws (same seed and labels) de-normalised with those statistics
    labels = torch.arange(n_samples) % n_classes
    assert np.load(last / "labels.npy").tolist() == labels.tolist()
    written = np.load(last / "features.npy")
    expect = FrameNorm.from_options(FrameOptions.from_mapping(frames)).denormalize(draw(model, n_samples, labels, 0))
    assert written.shape == (n_samples, 1, 40, 9) and np.allclose(written, expect, atol=1e-5)


def test_timit_cvae_trains_end_to_end(cvae_run, timit_manifest):
    run, metrics = cvae_run
    assert {"train/recon", "train/kl", "val/recon", "test/recon"} <= set(metrics)  # valid/test: alignment rows
    _check_run(run, metrics, 8, ["step-0000004", "step-0000008"], 6, 48,
               _train_stats(timit_manifest, "timit-frames-cvae-tiny"))
    cfg = yaml.safe_load((run / "final" / "config.yaml").read_text())
    assert cfg["recipe"]["data"]["frames"]["labels"] == "phones" and cfg["model"]["kwargs"]["n_classes"] == 48


def test_timit_cgan_trains_end_to_end(timit_manifest, tmp_path):
    run = tmp_path / "cgan"
    metrics = train(load_recipe(RECIPES["timit-frames-cgan-tiny"], [f"data.manifest={timit_manifest}"]), run,
                    quiet=True)
    assert {"train/d_loss", "train/g_loss", "val/d_loss", "test/d_loss"} <= set(metrics)
    _check_run(run, metrics, 4, ["step-0000002", "step-0000004"], 6, 48,
               _train_stats(timit_manifest, "timit-frames-cgan-tiny"))
    model, _ = load_generator(run)
    assert isinstance(model, DCGAN) and model.arch == "mlp" and model.out_shape == (1, 40, 9)


def test_sample_command_writes_windows_without_wavs(cvae_run, tmp_path, capsys):
    run, _ = cvae_run
    out = tmp_path / "ax"
    assert main(["sample", str(run), "--label", "5", "--n", "4", "--out", str(out)]) == 0
    assert "no WAVs" in " ".join(capsys.readouterr().out.split())  # rich wraps long lines
    assert sorted(p.name for p in out.iterdir()) == ["features.npy", "grid.png", "labels.npy"]
    x = np.load(out / "features.npy")
    assert x.shape == (4, 1, 40, 9) and np.load(out / "labels.npy").tolist() == [5] * 4
    _, cfg = load_generator(run)
    norm = FrameNorm.from_options(FrameOptions.from_mapping(cfg["recipe"]["data"]["frames"]))
    lo, hi = norm.denormalize(-np.ones((40, 1))), norm.denormalize(np.ones((40, 1)))
    assert np.all(x >= lo - 1e-4) and np.all(x <= hi + 1e-4)  # log-mel values, within the model's ±3 std range
    assert PHONES_48[5] == "ax"


def test_digits_corpus_trains_with_clip_labels(toy_manifest, tmp_path):
    run = tmp_path / "digits"
    metrics = train(load_recipe(RECIPES["digits-frames-cvae-tiny"], [f"data.manifest={toy_manifest}"]), run,
                    quiet=True)
    _check_run(run, metrics, 8, ["step-0000004", "step-0000008"], 4, 10,
               _train_stats(toy_manifest, "digits-frames-cvae-tiny"))
    _, cfg = load_generator(run)
    assert cfg["recipe"]["data"]["frames"]["labels"] == "clip" and "val/recon" in metrics


# ------------------------------------------------------------------------------------------------ fixed batch
@pytest.fixture(scope="module")
def fixed_batch(timit_manifest) -> dict:
    """32 windows of the TIMIT fixture (all five phone classes of its alignment)."""
    ds = FramesDataModule(timit_manifest).dataset("train")
    items = [ds[i] for i in range(0, 96, 3)]
    return {"features": torch.stack([it["features"] for it in items]),
            "label": torch.tensor([it["label"] for it in items])}


def test_vae_loss_falls_on_a_fixed_batch(fixed_batch, tmp_path):
    torch.manual_seed(0)
    model = ConvVAE(in_channels=1, height=40, width=9, widths=[16], hidden=64, latent_dim=8, n_classes=48,
                    label_dim=4)
    module = VAEModule(model, {"name": "vae", "kwargs": {}}, GenData(manifest="unused"),
                       GenTrain(max_steps=40, sample_every=0),
                       OptimConfig(name="adam", lr=3e-3, weight_decay=0.0, schedule="constant"), VAESection())
    x, labels = fixed_batch["features"], fixed_batch["label"]

    def recon() -> float:
        model.eval()
        with torch.no_grad():
            mu, _ = model.encode(x, labels)
            err = float((model.decode(mu, labels) - x).pow(2).flatten(1).sum(1).mean())
        model.train()
        return err

    before = recon()
    fit_fixed_batch(module, fixed_batch, 40, tmp_path)
    after = recon()
    assert after < 0.3 * before, (before, after)


def test_gan_critic_learns_and_generator_moves_towards_each_phone(fixed_batch, tmp_path):
    """The MLP GAN on [1, 40, 9] windows: with the generator fixed the critic's loss falls on a fixed batch of
    TIMIT windows; trained on windows whose mean depends clearly on the label (three "phones" lighting different
    bands), the generator's per-label means move towards the data's."""
    torch.manual_seed(0)
    kwargs = dict(arch="mlp", channels=1, height=40, width=9, latent_dim=8, label_dim=4, stages=2, base_width=32,
                  max_width=64)
    optim = OptimConfig(name="adam", lr=1e-3, weight_decay=0.0, betas=(0.5, 0.999), schedule="constant")

    def module(n_classes: int) -> GANModule:
        return GANModule(DCGAN(**kwargs, n_classes=n_classes), {"name": "dcgan", "kwargs": {}},
                         GenData(manifest="unused"), GenTrain(max_steps=200, sample_every=0), optim, optim,
                         GANSection(loss="ns"))

    critic = module(48)
    x, labels = fixed_batch["features"], fixed_batch["label"]
    opt = torch.optim.Adam(critic.model.discriminator.parameters(), 2e-3, betas=(0.5, 0.999))
    losses = []
    for _ in range(40):
        total, parts = critic.critic_loss(x, labels, None)
        opt.zero_grad()
        total.backward()
        opt.step()
        losses.append(float(parts["d_loss"].detach()))
    assert losses[-1] < 0.5 * losses[0], losses

    labels = torch.arange(3).repeat(12)
    base = torch.full((3, 1, 40, 9), -0.5)
    for k in range(3):
        base[k, 0, 12 * k: 12 * k + 10] = 0.7
    x = (base[labels] + 0.1 * torch.randn(36, 1, 40, 9, generator=torch.Generator().manual_seed(0))).clamp(-1, 1)
    gan = module(3)

    def gap() -> float:
        gan.model.eval()
        with torch.no_grad():
            asked = torch.arange(3).repeat_interleave(128)
            fake = gan.model.sample(len(asked), asked, generator=torch.Generator().manual_seed(1))
        gan.model.train()
        return max(float((fake[asked == k].mean(0) - base[k]).pow(2).mean().sqrt()) for k in range(3))

    before = gap()
    fit_fixed_batch(gan, {"features": x, "label": labels}, 200, tmp_path)
    assert gap() < 0.5 * before, (before, gap())


# ------------------------------------------------------------------------------------------------ recipes
def test_paper_recipes_build_models_of_the_window_shape():
    cvae = load_recipe(RECIPES["timit-frames-cvae"])
    cgan = load_recipe(RECIPES["timit-frames-cgan"])
    VAEScheme.validate(cvae)
    GANScheme.validate(cgan)
    vae, gan = build_model(cvae), build_model(cgan)
    assert vae.out_shape == gan.out_shape == (1, 40, 9) and vae.n_classes == gan.n_classes == 48
    assert 1.0e6 < sum(p.numel() for p in vae.parameters()) < 1.5e6
    assert 0.9e6 < sum(p.numel() for p in gan.generator.parameters()) < 1.2e6
    assert cvae.data.frames["phone_set"] == 48 and cvae.data.feature_params["hop_length"] == 160
    # ConvVAE fits 9 frames with a full-band first layer and no time-strided layer; a strided one cannot halve 9
    with pytest.raises(ConfigError, match=r"^width: 9 is not divisible by 2\^1"):
        ConvVAE(in_channels=1, height=40, width=9, widths=[8, 16], n_classes=48)


@pytest.mark.parametrize("recipe, override, field", [
    ("timit-frames-cvae-tiny", "data.frames.context=8", "recipe.data.frames.context"),
    ("timit-frames-cvae-tiny", "data.frames.size=8", "recipe.data.frames.size"),
    ("timit-frames-cvae-tiny", "data.feature=stft_image", "recipe.data.feature"),
    ("timit-frames-cvae-tiny", "data.channels=[1]", "recipe.data.channels"),
    ("timit-frames-cvae-tiny", "data.frames.stats={mean: [0.0], std: [1.0]}", "recipe.data.frames.stats.mean"),
    ("timit-frames-cvae-tiny", "model.kwargs.width=16", "recipe.model.kwargs.width"),
    ("timit-frames-cvae-tiny", "model.kwargs.n_classes=10", "recipe.model.kwargs.n_classes"),
    ("timit-frames-cgan-tiny", "model.kwargs.height=32", "recipe.model.kwargs.height"),
    ("timit-frames-cgan-tiny", "model.kwargs.arch=conv", "width"),  # 9 frames do not halve: the model says so
])
def test_errors_name_the_field(recipe, override, field, timit_manifest):
    with pytest.raises(ConfigError) as e:
        r = load_recipe(RECIPES[f"{recipe}"], [f"data.manifest={timit_manifest}", override])
        scheme = VAEScheme if r.scheme == "vae" else GANScheme
        scheme.build(r, build_model(r))
    assert str(e.value).startswith(field), str(e.value)
