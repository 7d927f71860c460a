"""Ship a trained judge: copy RUN/final into src/speechgen/pretrained/classifier, add the per-voice accuracy,
the reference statistics of the corpus's train and test splits, and one real test-voice clip per digit (FLAC,
for the players of `speechgen demo` and `speechgen report`).

    python scripts/ship_classifier.py out/classifier corpora/digits
    python scripts/ship_classifier.py --examples-only corpora/digits   # only the real clips
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
from pathlib import Path

import numpy as np
import yaml

from speechgen.atomic import write_text
from speechgen.data.manifest import Manifest
from speechgen.audio import io as audio_io
from speechgen.evaluation.judge import EXAMPLES_DIR, Judge, example_rows, manifest_split, reference_from_manifest

DEST = Path(__file__).resolve().parents[1] / "src" / "speechgen" / "pretrained" / "classifier"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("run", type=Path, nargs="?", help="training run folder (uses RUN/final)")
    ap.add_argument("manifest", type=Path, help="corpus manifest the judge was trained on")
    ap.add_argument("--examples-only", action="store_true", help="only (re)write the shipped real clips")
    ap.add_argument("--version", type=int, default=1, help="version number of the shipped weights")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if args.examples_only:
        ship_examples(Manifest.read(args.manifest))
        return
    if args.run is None:
        ap.error("RUN is required (unless --examples-only)")

    DEST.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(args.run / "final" / "model.safetensors", DEST / "model.safetensors")
    cfg = yaml.safe_load((args.run / "final" / "config.yaml").read_text())
    cfg["version"] = args.version
    write_text(DEST / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))

    judge = Judge(DEST)
    m = Manifest.read(args.manifest)
    # calibrate: the softmax temperature that minimises the NLL on the valid voices (argmax unchanged)
    paths, labels = manifest_split(m, "valid")
    judge.model.temperature = 1.0
    logits = np.log(np.clip(judge.embed(paths)[0], 1e-30, None))
    grid = np.exp(np.linspace(np.log(0.5), np.log(20.0), 200))
    nll = [float(np.mean(np.log(np.exp(logits / t - (logits / t).max(1, keepdims=True)).sum(1))
                         + (logits / t).max(1) - logits[np.arange(len(labels)), labels] / t)) for t in grid]
    cfg["model"]["kwargs"]["temperature"] = round(float(grid[int(np.argmin(nll))]), 4)
    cfg["calibration"] = {"split": "valid", "nll_at_1": round(float(nll[int(np.argmin(np.abs(grid - 1)))]), 5),
                          "nll": round(float(min(nll)), 5)}
    write_text(DEST / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    judge = Judge(DEST)
    corpus: dict[str, object] = {"manifest": str(args.manifest), "clips": {}, "voices": {}}
    for split in ("train", "valid", "test"):
        rows = m.select(split, labelled=True)
        corpus["clips"][split] = len(rows)  # type: ignore[index]
        corpus["voices"][split] = sorted({str(r["speaker"]) for r in rows})  # type: ignore[index]
    held_out: dict[str, object] = {}
    for split in ("valid", "test"):
        paths, labels = manifest_split(m, split)
        pred = judge.embed(paths)[0].argmax(1)
        speakers = np.array([str(r["speaker"]) for r in m.select(split, labelled=True)])
        held_out[split] = {
            "accuracy": float(np.mean(pred == labels)),
            "per_voice": {str(s): float(np.mean(pred[speakers == s] == labels[speakers == s]))
                          for s in sorted(set(speakers))},
        }
    cfg["evaluation"] = held_out
    cfg["corpus"] = corpus
    cfg["ship_command"] = "python " + shlex.join(sys.argv)
    write_text(DEST / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))

    judge = Judge(DEST)
    stats = reference_from_manifest(judge, m, seed=args.seed)
    stats.meta["corpus"] = corpus
    stats.save(DEST)
    ship_examples(m)
    for f in DEST.iterdir():
        f.chmod(0o644)  # atomic writes create 0600 temporaries; package data must be world-readable
    print(yaml.safe_dump({"evaluation": held_out, "rows": stats.rows}, sort_keys=False))


def ship_examples(m: Manifest) -> None:
    """One real clip per digit from the test voices (voices in turn), as FLAC + manifest.csv in DEST/real."""
    folder = DEST / EXAMPLES_DIR
    if folder.exists():
        shutil.rmtree(folder)
    folder.mkdir(parents=True)
    rows = []
    for row in example_rows(m, "test"):
        audio, sr = audio_io.load(m.resolve(row))
        name = f"{row['label']}-{row['speaker']}.flac"
        audio_io.save(folder / name, audio, sr).chmod(0o644)
        rows.append({**row, "path": name})
    Manifest(folder, rows).write().chmod(0o644)
    print(f"{len(rows)} real clips in {folder}")


if __name__ == "__main__":
    main()
