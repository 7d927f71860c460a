"""Run-level guarantees: SIGKILL + --resume equals an uninterrupted run, NaN stops cleanly, DDP on 2 CPU
processes (gloo), TensorBoard logs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from speechgen.training.registry import load_recipe
from speechgen.training.runner import train

TINY = Path(__file__).resolve().parents[2] / "recipes" / "classifier" / "classifier-tiny.yaml"


def _recipe(manifest: Path, **train_fields: object):
    sets = [f"data.manifest={manifest}"] + [f"train.{k}={v}" for k, v in train_fields.items()]
    return load_recipe(TINY, sets)


def _weights(folder: Path) -> dict[str, torch.Tensor]:
    return load_file(str(folder / "model.safetensors"))


# 24 train items, batch 8: 3 batches per epoch. Every 10 steps: the kill lands mid-epoch and mid-schedule; every 3
# steps: every checkpoint, last.ckpt included, lies on an epoch's last batch (Lightning restores the epoch as
# finished, so the resumed run must start the next epoch from its first item)
@pytest.mark.parametrize("every, wait_for", [(10, 20), (3, 21)], ids=["mid-epoch", "epoch-boundary"])
def test_sigkill_then_resume_matches_uninterrupted_run(tmp_path, toy_manifest, every, wait_for):
    fields = {"max_steps": 120, "checkpoint_every": every, "keep_checkpoints": 50, "val_every": 1000,
              "log_every": 10}
    whole = tmp_path / "whole"
    train(_recipe(toy_manifest, **fields), whole, quiet=True)

    killed = tmp_path / "killed"
    # one thread like this process (tests/conftest.py): float reductions then run in the same order
    cmd = [sys.executable, "-m", "speechgen.cli.main", "--quiet", "train", str(TINY), "--out", str(killed),
           "--threads", "1", "--set", f"data.manifest={toy_manifest}"] + [f"--set=train.{k}={v}" for k, v in fields.items()]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    try:
        while not (killed / "checkpoints" / f"step{wait_for:07d}.ckpt").is_dir():
            assert proc.poll() is None, "training ended before it could be killed"
            assert time.time() < deadline
            time.sleep(0.01)
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (killed / "final").exists()  # it really died mid-run
    _weights(killed / "checkpoints" / "last.ckpt")  # readable: checkpoints appear only when complete

    train(_recipe(toy_manifest, **fields), killed, resume=True, quiet=True)
    assert not [p for p in (killed / "checkpoints").iterdir() if p.name.endswith(".part")]  # leftovers swept
    a, b = _weights(whole / "final"), _weights(killed / "final")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.parametrize("stop, every, val_every", [(3, 3, 100), (2, 1000, 1), (6, 1000, 1000)],
                         ids=["boundary-checkpoint", "end-of-run-save-then-validation", "end-of-run-on-boundary"])
def test_stop_with_max_steps_then_resume_longer_is_exact(tmp_path, toy_manifest, stop, every, val_every):
    """``--max-steps S`` then ``--resume --max-steps T`` equals a straight T-step run (a constant schedule: one that
    depends on max_steps changes with it). The first segment's last.ckpt is written right after its last batch,
    before the validation that ends it; on an epoch's last batch the next epoch starts from its first item."""
    from .fixed_batch import RECIPES, assert_resumes_exactly

    sets = [f"data.manifest={toy_manifest}", f"train.checkpoint_every={every}", f"train.val_every={val_every}",
            "train.sample_every=0", "train.keep_checkpoints=20"]
    assert_resumes_exactly(RECIPES["cvae-tiny"], sets, tmp_path, stop=stop, steps=8, max_steps=8)
    logged = (tmp_path / "split" / "logs" / "resume-1" / "metrics.csv").read_text().splitlines()
    epoch_col = logged[0].split(",").index("epoch")
    first_epoch = int(float(next(r.split(",")[epoch_col] for r in logged[1:] if r.split(",")[epoch_col])))
    assert first_epoch == stop // 3  # 3 batches per epoch: not one epoch ahead


def test_nan_loss_stops_with_one_line_and_keeps_last_good_checkpoint(tmp_path, toy_manifest, monkeypatch):
    from speechgen.models.classifier import DigitClassifier
    from speechgen.training.optim import NonFiniteLossError

    calls = {"n": 0}
    forward = DigitClassifier.classify_features

    def poisoned(self, x):  # the 7th training forward pass returns NaN logits
        calls["n"] += 1
        out = forward(self, x)
        return out * float("nan") if calls["n"] >= 7 else out

    monkeypatch.setattr(DigitClassifier, "classify_features", poisoned)
    run = tmp_path / "run"
    with pytest.raises(NonFiniteLossError) as err:
        train(_recipe(toy_manifest, max_steps=20, checkpoint_every=2, val_every=1000), run, quiet=True)
    msg = str(err.value)
    assert "\n" not in msg and "step 6: loss 'loss' is nan" in msg and "last good checkpoint" in msg
    last = _weights(run / "checkpoints" / "last.ckpt")
    assert all(torch.isfinite(v).all() for v in last.values())
    assert "step: 6" in (run / "checkpoints" / "last.ckpt" / "config.yaml").read_text()
    assert not (run / "final").exists()


def test_tensorboard_events_are_written(tmp_path, toy_manifest):
    run = tmp_path / "run"
    train(_recipe(toy_manifest, max_steps=4, log_every=1), run, quiet=True)
    assert list((run / "logs").glob("events.out.tfevents.*"))


@pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                    reason="no gloo backend")
def test_ddp_two_cpu_processes(tmp_path, toy_manifest):
    run = tmp_path / "ddp"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "speechgen.cli.main", "--quiet", "train", str(TINY), "--out", str(run),
           "--set", f"data.manifest={toy_manifest}", "--devices", "2", "--max-steps", "6",
           "--set", "train.val_every=3", "--set", "train.checkpoint_every=3"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr[-2000:]
    assert res.stdout.strip() == "" and res.stderr.strip() == ""  # --quiet: not even DDP's sampler advice
    assert (run / "final" / "model.safetensors").is_file()
    cfg = (run / "config.yaml").read_text()
    assert "devices: 2" in cfg


def _enospc(path):
    return OSError(28, "No space left on device", str(path))


def test_a_failed_first_segment_leaves_nothing(tmp_path, toy_manifest):
    """Bad data found after the run folder was set up: the folder is as before (no stale config.yaml)."""
    from speechgen.errors import DataError

    run = tmp_path / "run"
    with pytest.raises(DataError):
        train(load_recipe(TINY, [f"data.manifest={tmp_path / 'missing.csv'}"]), run, quiet=True)
    assert not run.exists()
    own = tmp_path / "mine"
    own.mkdir()
    (own / "notes.txt").write_text("keep me")
    with pytest.raises(DataError):
        train(load_recipe(TINY, [f"data.manifest={tmp_path / 'missing.csv'}"]), own, quiet=True)
    assert sorted(p.name for p in own.iterdir()) == ["notes.txt"]


def test_full_disk_while_logging_is_one_line(tmp_path, toy_manifest, monkeypatch):
    from lightning.pytorch.loggers.csv_logs import ExperimentWriter

    from speechgen.errors import DataError

    def full(self, *args, **kwargs):
        raise _enospc(Path(self.log_dir) / "metrics.csv")

    monkeypatch.setattr(ExperimentWriter, "save", full)
    run = tmp_path / "run"
    with pytest.raises(DataError) as err:
        train(_recipe(toy_manifest, max_steps=6, checkpoint_every=2, val_every=1000, log_every=1), run, quiet=True)
    msg = str(err.value)
    assert "metrics.csv: no space left on device" in msg and "\n" not in msg


def test_resume_after_a_failed_last_ckpt_write(tmp_path, toy_manifest, monkeypatch):
    """The disk fills while last.ckpt is written (its step checkpoint is complete): one line, and --resume
    continues from the newest complete step checkpoint, ending where an uninterrupted run ends."""
    import speechgen.training.checkpoint_io as cio
    from speechgen.errors import DataError

    fields = {"max_steps": 9, "checkpoint_every": 3, "val_every": 1000, "keep_checkpoints": 5}
    train(_recipe(toy_manifest, **fields), tmp_path / "whole", quiet=True)
    real_save = cio.save_state

    def save_state(folder, state, name="state"):
        if ".last.ckpt." in str(folder) and state.get("global_step", 0) >= 3:  # the very first last.ckpt
            raise _enospc(Path(folder) / "trainer_state.safetensors")
        real_save(folder, state, name)

    monkeypatch.setattr(cio, "save_state", save_state)
    run = tmp_path / "run"
    with pytest.raises(DataError) as err:
        train(_recipe(toy_manifest, **fields), run, quiet=True)
    assert "no space left on device" in str(err.value).lower() and "\n" not in str(err.value)
    assert (run / "checkpoints" / "step0000003.ckpt").is_dir() and not (run / "checkpoints" / "last.ckpt").exists()
    monkeypatch.setattr(cio, "save_state", real_save)
    train(_recipe(toy_manifest, **fields), run, resume=True, quiet=True)
    a, b = _weights(tmp_path / "whole" / "final"), _weights(run / "final")
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_progress_counts_steps_and_lightning_adverts_are_gone(tmp_path, toy_manifest):
    """The bar read "Epoch 9/-2" (runs end at max_steps, not at an epoch) and Lightning printed a "Tip:" advert."""
    env = dict(os.environ, COLUMNS="200", OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, "-m", "speechgen.cli.main", "train", str(TINY), "--out", str(tmp_path / "r"),
                          "--set", f"data.manifest={toy_manifest}", "--max-steps", "4", "--threads", "1"],
                         capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    text = out.stdout + out.stderr
    assert "step 4/4" in text and "/-2" not in text and "Tip:" not in text
