"""bench/peers.py's pure helpers (median and spread, the parameter-count check, the Markdown table). The benchmark
itself needs librosa and the parallel_wavegan package and is run by hand; loading the script imports neither."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

SCRIPT = Path(__file__).resolve().parents[1] / "bench" / "peers.py"


@pytest.fixture(scope="module")
def peers():
    before = set(sys.modules)
    spec = importlib.util.spec_from_file_location("bench_peers", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    loaded = set(sys.modules) - before
    assert not {m for m in loaded if m.split(".")[0] in ("librosa", "parallel_wavegan")}
    return module


def test_summarize_median_and_spread(peers):
    med, spread = peers.summarize([0.3, 0.1, 0.2, 0.2])
    assert med == pytest.approx(0.2)
    assert spread == pytest.approx(100.0)  # (0.3 - 0.1) / 0.2
    assert peers.summarize([0.5]) == (0.5, 0.0)


def test_check_params_equal_explained_and_refused(peers):
    assert peers.check_params("MelGAN", 10, 10) == ""
    note = peers.check_params("MelGAN", 1010, 1000, (10, "the peer has no output bias"))
    assert "1,010" in note and "1,000" in note and "+10" in note and "output bias" in note
    with pytest.raises(ValueError, match=r"HiFi-GAN V1.*1,001.*1,000"):
        peers.check_params("HiFi-GAN V1", 1001, 1000)
    with pytest.raises(ValueError, match="12.*10"):
        peers.check_params("PWG", 12, 10, (1, "a difference of one, not two"))


def test_row_and_markdown_table(peers):
    r = peers.row("vocoders", "MelGAN", "parallel_wavegan 0.6.1", 2, 1.0, [0.1, 0.3, 0.2], [0.4, 0.4],
                  (4_260_257, 4_260_257))
    assert r["ours_x_rt"] == pytest.approx(5.0) and r["peer_x_rt"] == pytest.approx(2.5)
    assert r["ratio"] == pytest.approx(0.5) and r["ours_spread"] == pytest.approx(100.0)
    feat = peers.row("features", "log-mel, 256 × 1 s", "librosa batched", 1, 256.0, [0.1], [0.2])
    lines = peers.markdown_table([r, feat]).splitlines()
    assert len(lines) == 4 and lines[1].startswith("|---")
    assert all(line.count("|") == lines[0].count("|") for line in lines)
    assert "| 2 | 4,260,257 / 4,260,257 | 5.0 | 100 | 2.5 | 0 | 0.50 |" in lines[2]
    assert "| 1 | - | 2560.0 |" in lines[3]
