"""Ship a trained generator or vocoder as package data: copy RUN/final into src/speechgen/pretrained/NAME with its
tensors stored as float16 (half the size; loading casts them back to the model's float32), and record the figures
that judged it and the commands that reproduce it in its config.yaml (``shipped``). Vocoders ship their generator only.

A generator, judged by `speechgen eval --json`:

    python scripts/ship_model.py runs/cvae-cpu digits-default --eval runs/cvae-cpu/eval.json \
        --train-command "scripts/train_and_judge.sh recipes/spectrogram/cvae-cpu.yaml runs/cvae-cpu"

A vocoder, judged by copy-synthesis of the test voices (scripts/judge_vocoder.sh → compare.json) and timed by
`speechgen bench vocoder --json`:

    python scripts/ship_model.py runs/istft-vocoder-cpu/checkpoints/step0002000.ckpt default \
        --compare runs/istft-vocoder-cpu/copy-synthesis/compare.json --bench out/bench-vocoder.json \
        --train-command "speechgen train recipes/vocoder/istft-vocoder-cpu.yaml --out runs/istft-vocoder-cpu"

A text-to-speech model, judged by scripts/judge_tts.sh (its OUT folder: spoken.json, reference.json, runaway.txt,
tts.log):

    python scripts/ship_model.py runs/tacotron2-cpu tts-default --tts runs/tacotron2-cpu/judged \
        --train-command "OMP_NUM_THREADS=1 speechgen train recipes/tts/tacotron2-cpu.yaml --out runs/tacotron2-cpu"

Then add NAME to speechgen.pretrained.PRETRAINED.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import torch
import yaml
from safetensors.torch import load_file, save_file

from speechgen.atomic import write_text

ROOT = Path(__file__).resolve().parents[1] / "src" / "speechgen" / "pretrained"
METRICS = ("n", "inception_score", "fid", "modified_inception_score", "log_modified_inception_score", "am_score",
           "ndb_over_k", "label_accuracy", "fid_class", "classifier_version")


def _vocoder_figures(compare: Path, bench: Path | None, row_name: str, name: str) -> dict[str, Any]:
    """Mean pair metrics of the copy-synthesis and, from a bench JSON, this model's rows (per thread count)."""
    judged = json.loads(compare.read_text())
    out: dict[str, Any] = {"compare": {"n": len(judged["files"]), **judged["mean"]},
                           "compare_command": f"scripts/judge_vocoder.sh {name}  # the shipped weights themselves"}
    if bench is not None:
        rows = [r for r in json.loads(bench.read_text()) if r["name"] == row_name]
        if not rows:
            raise SystemExit(f"{bench}: no row named '{row_name}' (see --bench-row)")
        out["speed"] = [{k: r[k] for k in ("threads", "rtf", "x_realtime")} for r in rows]
    return out


def _tts_figures(judged: Path, name: str) -> dict[str, Any]:
    """The recognizer's figures on the model's held-out strings and on the recordings of the same rows, the runaway
    check and the speed line, from a scripts/judge_tts.sh folder."""
    keys = ("n", "string_accuracy", "digit_error_rate", "per_position_accuracy", "recognizer_version")
    spoken = json.loads((judged / "spoken.json").read_text())["strings"]
    reference = json.loads((judged / "reference.json").read_text())["strings"]
    speed = [line for line in (judged / "tts.log").read_text().splitlines() if "real time" in line]
    return {"strings": {k: spoken[k] for k in keys}, "reference_strings": {k: reference[k] for k in keys},
            "runaway": (judged / "runaway.txt").read_text().strip(), "speed": speed[-1].strip() if speed else None,
            "judge_command": f"scripts/judge_tts.sh {name} corpora/strings  # the shipped weights themselves"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="training run folder (uses RUN/final) or one of its checkpoint folders "
                    "(e.g. RUN/checkpoints/step0002000.ckpt)")
    ap.add_argument("name", help="shipped name, e.g. digits-default")
    what = ap.add_mutually_exclusive_group(required=True)
    what.add_argument("--eval", type=Path, help="generator: JSON written by `speechgen eval --json`")
    what.add_argument("--compare", type=Path, help="vocoder: JSON written by `speechgen compare --json`")
    what.add_argument("--tts", type=Path, help="text to speech: the OUT folder of scripts/judge_tts.sh")
    ap.add_argument("--bench", type=Path, default=None, help="vocoder: JSON of `speechgen bench vocoder --json`")
    ap.add_argument("--bench-row", default=None,
                    help="vocoder: the bench row of this configuration (default: the registry name, e.g. "
                    "istft_vocoder; a -cpu variant's row is 'NAME (RECIPE)')")
    ap.add_argument("--train-command", required=True)
    args = ap.parse_args()

    dest = ROOT / args.name
    dest.mkdir(parents=True, exist_ok=True)
    source = args.run if (args.run / "model.safetensors").is_file() else args.run / "final"
    state = load_file(str(source / "model.safetensors"))
    if args.compare is not None:  # a vocoder synthesises with its generator alone: leave the discriminators out
        state = {k: v for k, v in state.items() if not k.startswith("discriminator.")}
    half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in state.items()}
    save_file(half, str(dest / "model.safetensors"))
    cfg = yaml.safe_load((source / "config.yaml").read_text())
    shipped: dict[str, Any] = {"name": args.name, "weights_dtype": "float16", "train_command": args.train_command}
    if args.eval is not None:
        judged = json.loads(args.eval.read_text())
        shipped.update({
            "eval_command": f"speechgen eval {judged.get('generated')} --seed {judged.get('seed', 0)}",
            "judge": {k: judged[k] for k in METRICS if k in judged},
            "reference": judged.get("reference"),
        })
    elif args.tts is not None:
        shipped.update(_tts_figures(args.tts, args.name))
    else:
        shipped.update(_vocoder_figures(args.compare, args.bench, args.bench_row or cfg["model"]["name"], args.name))
    cfg["parameters"] = sum(v.numel() for v in state.values())  # what ships (a vocoder's generator alone)
    cfg["shipped"] = shipped
    write_text(dest / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    for f in dest.iterdir():
        f.chmod(0o644)
    size = sum(f.stat().st_size for f in dest.iterdir()) / 1e6
    print(f"{dest}: {size:.1f} MB, params {sum(v.numel() for v in state.values()) / 1e6:.2f} M")


if __name__ == "__main__":
    torch.set_num_threads(1)
    main()
