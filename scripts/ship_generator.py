"""Ship a trained generator as package data: copy RUN/final into src/speechgen/pretrained/NAME with its tensors
stored as float16 (half the size; loading casts them back to the model's float32), and record the judge's figures
and the commands that reproduce it in its config.yaml.

    python scripts/ship_generator.py runs/cvae-cpu digits-default --eval out/eval/cvae-cpu.json \
        --train-command "speechgen train recipes/cvae-cpu.yaml --out runs/cvae-cpu" \
        --sample-command "speechgen sample runs/cvae-cpu --out out/eval/cvae-cpu --n 100 --seed 0"

Then add NAME to speechgen.pretrained.PRETRAINED.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
import yaml
from safetensors.torch import load_file, save_file

from speechgen.atomic import write_text

ROOT = Path(__file__).resolve().parents[1] / "src" / "speechgen" / "pretrained"
METRICS = ("n", "inception_score", "fid", "modified_inception_score", "log_modified_inception_score", "am_score",
           "ndb_over_k", "label_accuracy", "fid_class", "classifier_version")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="training run folder (uses RUN/final)")
    ap.add_argument("name", help="shipped name, e.g. digits-default")
    ap.add_argument("--eval", type=Path, required=True, help="JSON written by `speechgen eval --json`")
    ap.add_argument("--train-command", required=True)
    ap.add_argument("--sample-command", required=True)
    args = ap.parse_args()

    dest = ROOT / args.name
    dest.mkdir(parents=True, exist_ok=True)
    state = load_file(str(args.run / "final" / "model.safetensors"))
    half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    save_file(half, str(dest / "model.safetensors"))
    cfg = yaml.safe_load((args.run / "final" / "config.yaml").read_text())
    judged = json.loads(args.eval.read_text())
    cfg["shipped"] = {
        "name": args.name, "weights_dtype": "float16",
        "train_command": args.train_command, "sample_command": args.sample_command,
        "eval_command": f"speechgen eval {judged.get('generated')} --seed {judged.get('seed', 0)}",
        "judge": {k: judged[k] for k in METRICS if k in judged},
        "reference": judged.get("reference"),
    }
    write_text(dest / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    for f in dest.iterdir():
        f.chmod(0o644)
    size = sum(f.stat().st_size for f in dest.iterdir()) / 1e6
    print(f"{dest}: {size:.1f} MB, params {sum(v.numel() for v in state.values()) / 1e6:.2f} M")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
