"""Print the README's results table (Markdown) from judged runs: one row per RUN (RUN/eval.json written by
scripts/train_and_judge.sh, RUN/metrics.json by `speechgen train`), then the real train/test reference rows.

    python scripts/results_table.py runs/cvae-cpu runs/vae-cpu ...
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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", type=Path)
    args = ap.parse_args()
    print(HEADER)
    reference = None
    for run in args.runs:
        judged = json.loads((run / "eval.json").read_text())
        trained = json.loads((run / "metrics.json").read_text())
        command = (yaml.safe_load((run / "config.yaml").read_text()) or {}).get("command", "")
        recipe = next((Path(w).stem for w in command.split() if w.endswith(".yaml")), run.name)
        steps = f"{trained['steps']:,} / {trained['train_seconds'] / 60:.0f} min".replace(",", " ")
        print(row(f"`{recipe}`", judged, steps))
        reference = judged.get("reference")
    for split, m in (reference or {}).items():
        print(row(f"real {split} split", m, "–"))


if __name__ == "__main__":
    main()
