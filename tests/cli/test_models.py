"""``speechgen models`` lists the shipped weights with their figures."""

import json

from speechgen.cli.main import main


def test_models_lists_shipped_weights(tmp_path):
    out = tmp_path / "models.json"
    assert main(["--quiet", "models", "--json", str(out)]) == 0
    rows = {r["name"]: r for r in json.loads(out.read_text())}
    assert {"classifier", "digits-default"} <= set(rows)
    gen = rows["digits-default"]
    assert gen["model"] == "vae" and 0 < gen["megabytes"] < 10 and gen["parameters"] > 1e6
    assert gen["figures"]["label_accuracy"] >= 0.95 and gen["figures"]["n"] == 1000
    assert "recipes/cvae-cpu.yaml" in gen["train_command"]
    assert rows["classifier"]["figures"]["test_accuracy"] > 0.9
