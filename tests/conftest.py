"""Shared fixtures: a toy labelled manifest of tones (learnable in a few steps, no speech engines needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from speechgen.audio import io as audio_io
from speechgen.data.manifest import Manifest, make_row

# One intra-op thread per test process: with pytest-xdist (or any other job) on 2 cores, OpenMP threads spin
# against each other and small convolutions ran up to 100x slower with 2 threads than with 1.
torch.set_num_threads(1)

TOY_SPLITS = {"train": ("a", "b"), "valid": ("c",), "test": ("d",)}


def write_toy_manifest(root: Path, labels=(0, 1, 2), per: int = 4, splits=TOY_SPLITS, seed: int = 0,
                       sample_rate: int = 16000) -> Path:
    """Label ``d`` is a tone at ``300 * (d + 1)`` Hz with random phase, onset and noise; one second each."""
    rng = np.random.default_rng(seed)
    t = np.arange(sample_rate) / sample_rate
    rows = []
    for split, speakers in splits.items():
        for spk in speakers:
            for d in labels:
                for i in range(per):
                    x = 0.5 * np.sin(2 * np.pi * 300 * (d + 1) * t + rng.uniform(0, 6.28))
                    x *= (t > rng.uniform(0.1, 0.3)) & (t < rng.uniform(0.6, 0.9))
                    x = (x + 0.01 * rng.standard_normal(len(t))).astype(np.float32)
                    rel = f"wav/{spk}_{d}_{i}.wav"
                    audio_io.save(root / rel, x, sample_rate)
                    rows.append(make_row(rel, label=d, text=str(d), speaker=spk, engine="toy", split=split,
                                         duration=1.0, sample_rate=sample_rate))
    Manifest(root, rows).write()
    return root / "manifest.csv"


@pytest.fixture
def toy_manifest(tmp_path: Path) -> Path:
    return write_toy_manifest(tmp_path / "toy")


@pytest.fixture(scope="module")
def module_toy_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The toy manifest shared by the tests of one module (for module-scoped fixtures such as trained runs)."""
    return write_toy_manifest(tmp_path_factory.mktemp("toy") / "toy")


def write_toy_strings(root: Path, digits=(0, 1, 2), per: int = 6, splits=TOY_SPLITS, seed: int = 0,
                      sample_rate: int = 16000) -> Path:
    """Toy digit strings (the recognizer's tests): 1-3 digits, digit ``d`` a 0.15-s tone at ``300 * (d + 1)`` Hz,
    0.05 s of silence between and around them; ``text`` like ``"2 0 1"``, no label."""
    rng = np.random.default_rng(seed)
    tone, gap = int(0.15 * sample_rate), np.zeros(int(0.05 * sample_rate), np.float32)
    rows = []
    for split, speakers in splits.items():
        for spk in speakers:
            for i in range(per):
                string = [int(d) for d in rng.choice(digits, size=1 + i % 3)]
                parts = [gap]
                for d in string:
                    t = np.arange(tone) / sample_rate
                    parts += [(0.5 * np.sin(2 * np.pi * 300 * (d + 1) * t + rng.uniform(0, 6.28))).astype(np.float32),
                              gap]
                x = np.concatenate(parts)
                x = (x + 0.01 * rng.standard_normal(len(x))).astype(np.float32)
                rel = f"strings/{spk}_{i}.wav"
                audio_io.save(root / rel, x, sample_rate)
                rows.append(make_row(rel, label=None, text=" ".join(map(str, string)), speaker=spk, engine="toy",
                                     split=split, duration=len(x) / sample_rate, sample_rate=sample_rate))
    Manifest(root, rows).write()
    return root / "manifest.csv"


@pytest.fixture
def toy_strings(tmp_path: Path) -> Path:
    return write_toy_strings(tmp_path / "strings")


# -- the end of a test run: say loudly when the browser tests did not run -----------------------------------------
BROWSER_TESTS = "tests/web/test_browser.py"
BROWSER_SKIPPED = ("BROWSER TESTS SKIPPED: chromium/chromedriver not installed "
                   "(sudo apt-get install chromium chromium-driver; Ubuntu: chromium-browser chromium-chromedriver; "
                   "`make test` as root installs them)")


def _browser_skips(reports) -> int:
    """How many of the skipped ``reports`` are browser tests skipped for a missing Chromium."""
    count = 0
    for report in reports:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr or "")
        if BROWSER_TESTS in report.nodeid.replace("\\", "/") or "Chromium is not installed" in reason:
            count += 1
    return count


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_terminal_summary(terminalreporter, exitstatus, config):
    """After every other summary (the short test summary of -ra included), just above the final counts."""
    yield
    count = _browser_skips(terminalreporter.stats.get("skipped", []))
    if count:
        terminalreporter.write_sep("!", f"{BROWSER_SKIPPED} [{count} tests]", red=True, bold=True)
