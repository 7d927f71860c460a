"""``speechgen bench vocoder``: runs with tiny settings and writes one JSON row per vocoder and thread count
(timings are not asserted: they depend on the machine's load)."""

from __future__ import annotations

import json

import pytest
import torch

from speechgen.cli.bench_vocoder import default_configs
from speechgen.cli.main import main
from speechgen.models.hifigan import HiFiGAN
from speechgen.models.vocoder import GANVocoder
from speechgen.models.registry import MODELS


@pytest.fixture(autouse=True)
def _restore_threads():
    """The bench sets torch's thread count per measurement: give the test process its setting back."""
    before = torch.get_num_threads()
    yield
    torch.set_num_threads(before)


VOCODERS = sorted(k for k, v in MODELS.items() if isinstance(v, type) and issubclass(v, GANVocoder))


def test_default_configs_cover_every_registered_vocoder():
    rows = default_configs("cpu")
    names = [r["name"] for r in rows]
    assert [n for n in names if "(" not in n] == VOCODERS + ["hifigan-v1"]
    assert [n for n in names if "(" in n] == ["istft_vocoder (istft-vocoder-gl-cpu)",  # the -cpu variants
                                               "istft_vocoder (istft-vocoder-pghi-cpu)",
                                               "istft_vocoder (istft-vocoder-pghi-f0-cpu)",
                                               "istft_vocoder (istft-vocoder-gl-floor-cpu)",
                                               "istft_vocoder (istft-vocoder-pghi-floor-cpu)",
                                               "istft_vocoder (istft-vocoder-pghi-critic-cpu)"]
    by = {r["name"]: r for r in rows}
    assert by["istft_vocoder"]["recipe"] == "istft-vocoder-cpu.yaml"
    assert by["istft_vocoder (istft-vocoder-gl-cpu)"]["kwargs"]["phase"] == "griffin_lim"
    assert by["parallel_wavegan"]["recipe"] == "parallel-wavegan-cpu.yaml"
    assert by["resgan"]["recipe"] == "resgan-cpu.yaml"  # not its supervised pre-training stage
    assert by["hifigan-v1"]["default"] is False and by["hifigan-v1"]["kwargs"]["config"] == "v1"
    assert HiFiGAN.layout(by["hifigan-v1"]["kwargs"])["upsample_initial_channel"] == 512
    assert all(r["default"] for r in rows[:-1])


def test_bench_vocoder_tiny_writes_json(tmp_path, capsys):
    out = tmp_path / "bench" / "vocoder.json"
    code = main(["bench", "vocoder", "--size", "tiny", "--seconds", "0.1", "--threads", "1", "2", "--repeats", "3",
                 "--json", str(out)])
    assert code == 0
    rows = json.loads(out.read_text())
    configs = default_configs("tiny")
    assert len(rows) == 2 * len(configs) and {c["model"] for c in configs} == set(VOCODERS) | {"hifigan"}
    for row in rows:
        for key in ("name", "params", "rtf", "x_realtime", "threads", "default"):
            assert key in row, key
        assert row["params"] > 0 and row["rtf"] > 0 and row["x_realtime"] == pytest.approx(1 / row["rtf"])
        assert row["x_realtime_min"] <= row["x_realtime"] <= row["x_realtime_max"]  # the median of three
    assert {r["threads"] for r in rows} == {1, 2}
    assert {r["name"] for r in rows} == {c["name"] for c in configs} >= set(VOCODERS) | {"hifigan-v1"}
    assert [r["default"] for r in rows if r["name"] == "hifigan-v1"] == [False, False]
    assert "× real time" in capsys.readouterr().out


def test_bench_vocoder_bad_option_is_one_line(capsys):
    assert main(["bench", "vocoder", "--size", "tiny", "--threads", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("speechgen: error: --threads") and "\n" not in err
