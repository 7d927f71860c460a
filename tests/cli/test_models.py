"""``speechgen models`` lists the shipped weights with their figures."""

import json

from speechgen.cli.main import main
from speechgen.cli.models import shipped_models


def test_models_lists_shipped_weights(tmp_path):
    out = tmp_path / "models.json"
    assert main(["--quiet", "models", "--json", str(out)]) == 0
    rows = {r["name"]: r for r in json.loads(out.read_text())}
    assert {"classifier", "digits-default"} <= set(rows)
    gen = rows["digits-default"]
    assert gen["model"] == "vae" and 0 < gen["megabytes"] < 10 and gen["parameters"] > 1e6
    assert gen["commands"] == ["sample", "transform"] and rows["classifier"]["commands"] == ["classify"]
    assert gen["figures"]["label_accuracy"] >= 0.95 and gen["figures"]["n"] == 1000
    assert "recipes/spectrogram/cvae-cpu.yaml" in gen["train_command"]
    assert rows["classifier"]["figures"]["test_accuracy"] > 0.9


def test_shipped_vocoder_is_listed_with_its_copy_synthesis_figures(tmp_path):
    out = tmp_path / "models.json"
    assert main(["--quiet", "models", "--json", str(out)]) == 0
    voc = {r["name"]: r for r in json.loads(out.read_text())}["default"]
    assert voc["model"] == "istft_vocoder" and 0 < voc["megabytes"] < 5 and voc["roles"] == ["vocoder"]
    figures = voc["figures"]
    assert figures["n"] == 480 and 2.0 < figures["pesq"] < 4.6 and figures["stoi"] > 0.85
    assert "recipes/vocoder/istft-vocoder-gl-cpu.yaml" in voc["train_command"]


def test_default_vocoder_vocodes_a_clip(tmp_path):
    """`speechgen vocode default` works offline on a clip of another rate (resampled for the analysis)."""
    import numpy as np
    import soundfile as sf

    t = np.arange(22050) / 22050
    sf.write(tmp_path / "a.wav", (0.3 * np.sin(2 * np.pi * 220 * t) * np.hanning(len(t))).astype(np.float32), 22050)
    assert main(["--quiet", "vocode", "default", "--in", str(tmp_path / "a.wav"), "--out", str(tmp_path / "v")]) == 0
    y, sr = sf.read(tmp_path / "v" / "a.wav")
    assert sr == 16000 and abs(len(y) - 16000) <= 256 and np.isfinite(y).all() and np.abs(y).max() > 0.01


def test_piped_tables_keep_whole_values():
    """Piped into a file or another program, rich cut the tables at 80 columns ("digits-defau…")."""
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if k != "COLUMNS"}
    out = subprocess.run([sys.executable, "-m", "speechgen.cli.main", "models"], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0 and "│ digits-default │" in out.stdout and "…" not in out.stdout
    assert "recipes/spectrogram/cvae-cpu.yaml --out runs/cvae-cpu" in out.stdout


def test_dsp_vocoder_is_shipped_without_weights_and_vocodes(tmp_path):
    """`speechgen vocode dsp` works offline without a checkpoint (no weights: mel pseudo-inverse + PGHI + fast
    Griffin-Lim); `speechgen models` lists it and `speechgen info dsp` says it can vocode."""
    import numpy as np
    import soundfile as sf

    out = tmp_path / "models.json"
    assert main(["--quiet", "models", "--json", str(out)]) == 0
    dsp = {r["name"]: r for r in json.loads(out.read_text())}["dsp"]
    assert dsp["model"] == "dsp" and dsp["parameters"] == 0 and dsp["commands"] == ["vocode"]
    assert dsp["megabytes"] < 0.01 and dsp["figures"]["n"] == 480 and dsp["figures"]["pesq"] > 2.0
    info = tmp_path / "info.json"
    assert main(["--quiet", "info", "dsp", "--json", str(info)]) == 0
    rec = json.loads(info.read_text())
    assert rec["commands"] == ["vocode"] and rec["roles"] == ["vocoder"] and rec["parameters"] == 0
    t = np.arange(12000) / 16000
    x = (0.3 * np.sin(2 * np.pi * 220 * t) * np.hanning(len(t))).astype(np.float32)
    sf.write(tmp_path / "a.wav", x, 16000)
    assert main(["--quiet", "vocode", "dsp", "--in", str(tmp_path / "a.wav"), "--out", str(tmp_path / "v")]) == 0
    y, sr = sf.read(tmp_path / "v" / "a.wav")
    assert sr == 16000 and len(y) == len(x) and np.isfinite(y).all()
    assert 0.7 < np.sqrt(np.mean(y ** 2) / np.mean(x ** 2)) < 1.4  # the level is kept


def test_the_default_vocoders_speed_has_one_source():
    """`speechgen models` said 3.38x on 2 threads where the docs said 26.5x: the figures must be the same ones."""
    import re
    from pathlib import Path

    rows = {r["name"]: r for r in shipped_models()}
    figures = rows["default"]["figures"]
    docs = (Path(__file__).resolve().parents[2] / "docs" / "vocoders.md").read_text()
    row = next(line for line in docs.splitlines() if line.startswith("| **shipped `default`**") and "Griffin-Lim"
               in line and line.count("|") == 5)
    one, two = (float(x) for x in re.findall(r"\| ([\d.]+) ", row + " ")[-2:])
    assert (one, two) == (figures["x_realtime_1t"], figures["x_realtime_2t"])
