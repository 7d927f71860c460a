"""``speechgen bench features``: one row per method and thread count, medians and spreads in order, JSON written
(timings themselves are not asserted: they depend on the machine's load)."""

from __future__ import annotations

import json

import pytest
import torch

from speechgen.cli.main import main


def test_bench_features_writes_a_row_per_method_and_thread_count(tmp_path, capsys):
    before = torch.get_num_threads()
    out = tmp_path / "features.json"
    assert main(["bench", "features", "--clips", "3", "--seconds", "0.1", "--threads", "1", "2", "--repeats", "2",
                 "--json", str(out)]) == 0
    assert torch.get_num_threads() == before
    rows = json.loads(out.read_text())
    methods = ["speechgen", "speechgen before #25", "speechgen, per clip", "librosa"]
    pytest.importorskip("librosa")
    assert [(r["method"], r["threads"]) for r in rows] == [(m, n) for n in (1, 2) for m in methods]
    for r in rows:
        assert 0 < r["ms_min"] <= r["ms"] <= r["ms_max"] and r["repeats"] == 2 and r["clips"] == 3
        assert r["vs_librosa"] > 0
    assert [r["vs_librosa"] for r in rows if r["method"] == "librosa"] == [1.0, 1.0]
    assert capsys.readouterr().out.startswith("Log-mel of 3 clips of 0.1 s (median of 2")


def test_bench_features_prints_the_peak_memory(capsys):
    assert main(["bench", "features", "--clips", "2", "--seconds", "0.1", "--threads", "1", "--repeats", "1"]) == 0
    assert "peak memory of this process:" in capsys.readouterr().out
