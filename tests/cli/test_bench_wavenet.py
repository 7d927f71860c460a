"""``speechgen bench wavenet``: runs with the tiny config, writes the JSON keys, and the naive and cached methods
agree for the same seed (timings are not asserted: they depend on the machine's load)."""

from __future__ import annotations

import json

import pytest
import torch

from speechgen.cli.main import main


@pytest.fixture(autouse=True)
def _restore_threads():
    """The bench sets torch's thread count (--threads): give the test process its setting back."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


def test_bench_wavenet_tiny_writes_json(tmp_path, capsys):
    out = tmp_path / "bench" / "wavenet.json"
    code = main(["bench", "wavenet", "--config", "tiny", "--seconds", "0.01", "--naive-samples", "6",
                 "--threads", "1", "--batch", "3", "--repeats", "2", "--json", str(out)])
    assert code == 0
    res = json.loads(out.read_text())
    for key in ("naive_samples_per_s", "cached_samples_per_s", "speedup", "identical", "config",
                "receptive_field", "parameters", "naive_extrapolated", "dtype"):
        assert key in res, key
    assert res["identical"] is True and res["naive_extrapolated"] is True and res["repeats"] == 2
    assert res["samples"] == 160 and res["naive_samples_timed"] == 6 and res["threads"] == 1
    assert res["receptive_field"] == 32 and res["config"]["layers"] == 4 and res["config"]["stacks"] == 2
    assert res["naive_samples_per_s"] > 0 and res["cached_samples_per_s"] > 0
    assert res["speedup"] == pytest.approx(res["cached_samples_per_s"] / res["naive_samples_per_s"])
    [row] = res["batched"]
    assert row["batch"] == 3 and row["audio_seconds_per_s"] == pytest.approx(3 * 160 / 16000 / row["seconds"])
    text = capsys.readouterr().out
    assert "extrapolated" in text and "speed-up" in text and "cached x3" in text


def test_bench_wavenet_bad_option_is_one_line(capsys):
    assert main(["bench", "wavenet", "--config", "tiny", "--naive-samples", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("speechgen: error: --naive-samples") and "\n" not in err
