"""Print the results tables of docs/results.md and docs/vocoders.md (Markdown) from judged runs.

Generators: one row per RUN (RUN/eval.json written by scripts/train_and_judge.sh, RUN/metrics.json by
`speechgen train`), then the real train/test reference rows:

    python scripts/results_table.py runs/cvae-cpu runs/vae-cpu ...

Vocoders: one row per RUN (RUN/copy-synthesis/compare.json written by scripts/judge_vocoder.sh), with the speed of
its model from a `speechgen bench vocoder --json` file:

    python scripts/results_table.py --vocoders --bench out/bench-vocoder.json runs/istft-vocoder-cpu ...
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import yaml

HEADER = ("| model (recipe) | steps / CPU time | n | label acc | IS | FID | ln mIS | AM | NDB/K | FID-class |\n"
          "|---|---|---|---|---|---|---|---|---|---|")


def _pm(d: dict[str, float] | None, digits: int = 2) -> str:
    return "–" if not d else f"{d['mean']:.{digits}f} ± {d['std']:.{digits}f}"


def row(name: str, m: dict[str, Any], steps: str) -> str:
    """One Markdown row of the judge's metrics ``m`` (an eval JSON or a reference row)."""
    acc = m.get("label_accuracy")
    cls = m.get("fid_class")
    return (f"| {name} | {steps} | {m['n']} | {'–' if acc is None else f'{acc:.3f}'} | {_pm(m['inception_score'])} "
            f"| {m['fid']:.2f} | {m['log_modified_inception_score']:.1f} | {m['am_score']:.3f} "
            f"| {m['ndb_over_k']:.2f} | {_pm(cls, 1) if cls else '–'} |")


VOCODER_HEADER = ("| vocoder (recipe) | steps / CPU time | params | PESQ | STOI | MCD (dB) | MR-STFT | LSD (dB) "
                  "| F0 RMSE (Hz) | V/UV err | × real time (1 / 2 threads) |\n|---|---|---|---|---|---|---|---|---|---|---|")


def _recipe(run: Path) -> str:
    command = (yaml.safe_load((run / "config.yaml").read_text()) or {}).get("command", "")
    return next((Path(w).stem for w in command.split() if w.endswith(".yaml")), run.name)


def _logged_seconds(run: Path) -> float:
    """Training time spanned by the run's TensorBoard scalars, summed over its segments (runs resumed before
    checkpoints carried the training time report only their last segment in metrics.json)."""
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        return 0.0
    total = 0.0
    for f in sorted((run / "logs").rglob("events.out.tfevents.*")):
        acc = EventAccumulator(str(f))
        acc.Reload()
        times = [e.wall_time for tag in acc.Tags()["scalars"] for e in acc.Scalars(tag)]
        total += max(times) - min(times) if times else 0.0
    return total


def _steps(run: Path) -> str:
    trained = json.loads((run / "metrics.json").read_text())
    seconds = max(float(trained["train_seconds"]), _logged_seconds(run))
    return f"{trained['steps']:,} / {seconds / 60:.0f} min".replace(",", " ")


def vocoder_rows(runs: list[Path], bench: Path | None) -> None:
    """Print the vocoder table: copy-synthesis quality on the test voices and speed."""
    speed = json.loads(bench.read_text()) if bench else []
    print(VOCODER_HEADER)
    for run in runs:
        m = json.loads((run / "copy-synthesis" / "compare.json").read_text())["mean"]
        name = yaml.safe_load((run / "config.yaml").read_text())["model"]["name"]
        rows = [r for r in speed if r["name"] == name and r.get("default", True)]
        params = f"{rows[0]['params'] / 1e6:.2f} M" if rows else "–"
        x = " / ".join(f"{r['x_realtime']:.1f}" for r in sorted(rows, key=lambda r: r["threads"])) or "–"
        print(f"| `{_recipe(run)}` | {_steps(run)} | {params} | {m['pesq']:.2f} | {m['stoi']:.3f} | {m['mcd']:.2f} "
              f"| {m['mrstft']:.3f} | {m['lsd']:.2f} | {m['f0_rmse']:.1f} | {m['vuv_error']:.3f} | {x} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    ap.add_argument("--vocoders", action="store_true", help="the vocoder table (copy synthesis) instead")
    ap.add_argument("--bench", type=Path, default=None, help="vocoders: `speechgen bench vocoder --json` output")
    args = ap.parse_args()
    if args.vocoders:
        vocoder_rows(args.runs, args.bench)
        return
    print(HEADER)
    reference = None
    for run in args.runs:
        judged = json.loads((run / "eval.json").read_text())
        print(row(f"`{_recipe(run)}`", judged, _steps(run)))
        reference = judged.get("reference")
    for split, m in (reference or {}).items():
        print(row(f"real {split} split", m, "–"))


if __name__ == "__main__":
    main()
