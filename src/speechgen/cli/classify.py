"""``speechgen classify``: the judge's digit for audio files, or its accuracy on a manifest split (per voice)."""

from __future__ import annotations

import argparse
import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.table import Table

from speechgen.atomic import write_text
from speechgen.cli.common import console, progress_bar
from speechgen.errors import ConfigError, DataError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "classify", help="classify spoken digits with the judge",
        description="Print the judge's digit and its probability for each file (folders are searched "
        "recursively), or with --manifest its accuracy on a split, overall, per voice and per digit. Clips are "
        "resampled to 16 kHz and centre-cropped/padded to 1 s.",
    )
    p.add_argument("inputs", nargs="*", type=Path, metavar="FILE_OR_DIR", help="audio files or folders")
    p.add_argument("--manifest", type=Path, default=None, help="score a labelled manifest split instead")
    p.add_argument("--split", default="test", help="split of --manifest (default test)")
    p.add_argument("--classifier", default="classifier", help="shipped name or checkpoint folder")
    p.add_argument("--batch-size", type=int, default=256, help="clips per forward pass")
    p.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    p.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help="no table")
    p.set_defaults(func=_classify)


def collect_audio(inputs: list[Path]) -> list[Path]:
    """Files given (each checked to be readable audio, before any work), plus the audio files under folders given
    (sorted); DataError when nothing is found, AudioError for a given file that is not audio."""
    from speechgen.audio.io import find_audio, info

    out: list[Path] = []
    for p in inputs:
        if p.is_dir():
            found = find_audio(p)
            if not found:
                raise DataError(f"{p}: no audio files in folder")
            out.extend(found)
        elif p.exists():
            info(p)  # one line naming the file: "not a readable audio file (...)"
            out.append(p)
        else:
            raise DataError(f"{p}: no such file or folder")
    return out


def embed_with_progress(judge: Any, clips: list[Path], con: Any, label: str = "judging") -> Any:
    """``judge.embed(clips)`` with a rich progress bar for more than a few hundred clips (none with --quiet)."""
    with progress_bar(con, label, len(clips), minimum=500) as advance:
        return judge.embed(clips, progress=advance)


def _classify(args: argparse.Namespace) -> int:
    from speechgen.evaluation.judge import Judge

    if bool(args.inputs) == (args.manifest is not None):
        raise ConfigError("classify: give audio files/folders or --manifest, not both or neither")
    if args.batch_size <= 0:
        raise ConfigError(f"--batch-size: must be > 0, got {args.batch_size}")
    con = console(args)
    judge = Judge(args.classifier, batch_size=args.batch_size)
    if args.manifest is not None:
        result: Any = _manifest_report(judge, args, con)
    else:
        paths = collect_audio(args.inputs)
        probs = embed_with_progress(judge, paths, con)[0]
        result = [{"path": str(p), "digit": int(q.argmax()), "probability": round(float(q.max()), 6)}
                  for p, q in zip(paths, probs)]
        table = Table(title=f"judge {judge.version}")
        for c in ("path", "digit", "probability"):
            table.add_column(c, justify="left" if c == "path" else "right")
        for r in result:
            table.add_row(r["path"], str(r["digit"]), f"{r['probability']:.3f}")
        con.print(table)
    if args.json is not None:
        write_text(args.json, json.dumps(result, indent=2) + "\n")
    return 0


def _manifest_report(judge: Any, args: argparse.Namespace, con: Any) -> dict[str, Any]:
    from speechgen.data.manifest import Manifest

    m = Manifest.read(args.manifest, lenient=True)  # any CSV with a path column
    rows = m.select(args.split, labelled=True)
    if len(rows) == 0:
        raise DataError(f"{args.manifest}: split '{args.split}' has no labelled rows")
    paths = [rows.resolve(r) for r in rows]
    probs = embed_with_progress(judge, paths, con)[0]
    preds = [(int(q.argmax()), float(q.max())) for q in probs]
    by: dict[str, dict[str, list[int]]] = {"speaker": defaultdict(list), "label": defaultdict(list)}
    items = []
    for r, p, (d, pr) in zip(rows, paths, preds):
        ok = int(d == r["label"])
        by["speaker"][str(r.get("speaker", ""))].append(ok)
        by["label"][str(r["label"])].append(ok)
        items.append({"path": str(p), "label": r["label"], "speaker": r.get("speaker", ""), "digit": d,
                      "probability": round(pr, 6)})
    acc = sum(i["digit"] == i["label"] for i in items) / len(items)

    def summary(groups: dict[str, list[int]]) -> dict[str, dict[str, float]]:
        return {k: {"n": len(v), "accuracy": sum(v) / len(v)} for k, v in sorted(groups.items())}

    report = {"manifest": str(args.manifest), "split": args.split, "classifier_version": judge.version,
              "n": len(items), "accuracy": acc, "per_speaker": summary(by["speaker"]),
              "per_digit": summary(by["label"]), "items": items}
    table = Table(title=f"{args.manifest} [{args.split}]: accuracy {acc:.2%} on {len(items)} clips")
    for c in ("voice", "clips", "accuracy"):
        table.add_column(c, justify="left" if c == "voice" else "right")
    for k, v in report["per_speaker"].items():
        table.add_row(k, str(v["n"]), f"{v['accuracy']:.2%}")
    con.print(table)
    return report
