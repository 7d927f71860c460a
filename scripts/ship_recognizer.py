"""Ship a trained digit-string recognizer (the judge of digit strings, docs/results.md, Digit strings): copy
RUN/final into src/speechgen/pretrained/recognizer with its tensors stored as float16 (loading casts them back to
float32), and record its measured figures on the held-out voices (valid and test splits), measured with the
float16 weights as shipped, in its config.yaml.

    python scripts/ship_recognizer.py runs/ctc-recognizer-cpu corpora/strings \
        --train-command "speechgen train recipes/recognizer/ctc-recognizer-cpu.yaml --out runs/ctc-recognizer-cpu \
        --threads 1"
    python scripts/ship_recognizer.py --evaluate-only runs/ctc-recognizer-cpu corpora/strings   # print, ship nothing

Then add ``recognizer`` to speechgen.pretrained.PRETRAINED.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import tempfile
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import load_file, save_file

from speechgen.atomic import write_text
from speechgen.data.manifest import Manifest
from speechgen.evaluation.strings import Recognizer, score_split

DEST = Path(__file__).resolve().parents[1] / "src" / "speechgen" / "pretrained" / "recognizer"


def write_half(source: Path, dest: Path) -> dict[str, Any]:
    """Copy a checkpoint folder's weights as float16 into ``dest``; return its config."""
    dest.mkdir(parents=True, exist_ok=True)
    state = load_file(str(source / "model.safetensors"))
    save_file({k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()},
              str(dest / "model.safetensors"))
    cfg = yaml.safe_load((source / "config.yaml").read_text())
    cfg["parameters"] = sum(v.numel() for v in state.values())
    write_text(dest / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    return cfg


def evaluate(folder: Path, manifest: Manifest) -> dict[str, Any]:
    """String accuracy, digit error rate, per-position accuracy and accuracy per string length, overall and per
    voice, on the valid and test splits."""
    rec = Recognizer(folder)
    out: dict[str, Any] = {}
    for split in ("valid", "test"):
        r = score_split(rec.model, manifest, split)
        out[split] = {
            "n": r["n"], "string_accuracy": round(r["string_accuracy"], 4),
            "digit_error_rate": round(r["digit_error_rate"], 4),
            "per_position_accuracy": [round(p, 4) for p in r["per_position_accuracy"]],
            "by_length": {k: {"n": v["n"], "string_accuracy": round(v["string_accuracy"], 4)}
                          for k, v in r["by_length"].items()},
            "per_voice": {k: {"n": v["n"], "string_accuracy": round(v["string_accuracy"], 4),
                              "digit_error_rate": round(v["digit_error_rate"], 4)} for k, v in r["per_voice"].items()},
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="training run folder (uses RUN/final) or a checkpoint folder")
    ap.add_argument("manifest", type=Path, help="the digit-string corpus it was trained on (valid/test voices)")
    ap.add_argument("--train-command", default="", help="the command that trained it (recorded)")
    ap.add_argument("--version", type=int, default=1, help="version number of the shipped weights")
    ap.add_argument("--evaluate-only", action="store_true", help="print the evaluation, ship nothing")
    args = ap.parse_args()
    source = args.run if (args.run / "model.safetensors").is_file() else args.run / "final"
    m = Manifest.read(args.manifest)
    if args.evaluate_only:
        with tempfile.TemporaryDirectory() as tmp:
            write_half(source, Path(tmp))
            print(yaml.safe_dump(evaluate(Path(tmp), m), sort_keys=False))
        return
    cfg = write_half(source, DEST)
    cfg["version"] = args.version
    cfg["evaluation"] = evaluate(DEST, m)
    cfg["corpus"] = {"manifest": str(args.manifest),
                     "clips": {s: len(m.select(s)) for s in ("train", "valid", "test")},
                     "voices": {s: sorted({str(r["speaker"]) for r in m.select(s)}) for s in ("train", "valid",
                                                                                             "test")}}
    cfg["shipped"] = {"name": "recognizer", "weights_dtype": "float16", "train_command": args.train_command,
                      "evaluate_command": f"speechgen transcribe --manifest {args.manifest} --split test"}
    cfg["ship_command"] = "python " + shlex.join(sys.argv)
    write_text(DEST / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    for f in DEST.iterdir():
        f.chmod(0o644)
    size = sum(f.stat().st_size for f in DEST.iterdir()) / 1e6
    print(yaml.safe_dump({"size_mb": round(size, 2), "evaluation": cfg["evaluation"]}, sort_keys=False))


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
