"""``speechgen classify``: the judge's digit for audio files (or "not a digit"), or its accuracy on a manifest split
(per voice)."""

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
        "recursively), or 'not a digit' (JSON: digit null) for a clip that cannot be one spoken digit: no speech, "
        "speech spanning more than 1.5 s or several separated words, or the digit detector's verdict on the "
        "second around its speech. With --manifest: accuracy on a split, overall, per voice and per digit. Clips "
        "are resampled to 16 kHz; the digit is read from the one second around the speech (zero-padded when "
        "shorter).",
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


def analyse_with_progress(judge: Any, clips: list[Path], con: Any, label: str = "judging", crops: bool = False,
                          ) -> Any:
    """``judge.analyse(clips)`` with a rich progress bar for more than a few hundred clips (none with --quiet);
    prints the one-line warning about clips that are not about one second long."""
    if con.quiet or len(clips) < 500:
        result = judge.analyse(clips, crops=crops)
    else:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      console=con, transient=True) as bar:
            task = bar.add_task(label, total=len(clips))
            result = judge.analyse(clips, crops=crops, progress=lambda n: bar.advance(task, n))
    warning = result.length_warning()
    if warning:
        con.print(f"warning: {warning}", highlight=False)
    return result


def clip_verdicts(paths: list[Path], analysis: Any) -> list[dict[str, Any]]:
    """One JSON record per clip: its digit and probability (null when it is not a digit), the detector's
    probability of "not a digit", the reason for "not a digit" and the clip's length."""
    out = []
    for i, p in enumerate(paths):
        q, reason = analysis.crop_probs[i], analysis.reasons[i]
        out.append({"path": str(p), "digit": None if reason else int(q.argmax()),
                    "probability": None if reason else round(float(q.max()), 6),
                    "not_digit_probability": round(float(analysis.not_digit_probability[i]), 6),
                    "not_digit_reason": reason, "duration": round(float(analysis.durations[i]), 3)})
    return out


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
        result = clip_verdicts(paths, analyse_with_progress(judge, paths, con, crops=True))
        table = Table(title=f"judge {judge.version}, detector {judge.detector_version}")
        for c in ("path", "digit", "probability", "not a digit p", "seconds"):
            table.add_column(c, justify="left" if c == "path" else "right")
        for r in result:
            digit = "not a digit" if r["digit"] is None else str(r["digit"])
            prob = "-" if r["probability"] is None else f"{r['probability']:.3f}"
            table.add_row(r["path"], digit, prob, f"{r['not_digit_probability']:.3f}", f"{r['duration']:.2f}")
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
    analysis = analyse_with_progress(judge, paths, con)
    preds = [(int(q.argmax()), float(q.max())) for q in analysis.probs]  # the centre second, as ever
    by: dict[str, dict[str, list[int]]] = {"speaker": defaultdict(list), "label": defaultdict(list)}
    not_digit: dict[str, dict[str, list[int]]] = {"speaker": defaultdict(list), "label": defaultdict(list)}
    items = []
    for r, p, (d, pr), nd in zip(rows, paths, preds, analysis.not_digit):
        ok = int(d == r["label"])
        for key, value in (("speaker", str(r.get("speaker", ""))), ("label", str(r["label"]))):
            by[key][value].append(ok)
            not_digit[key][value].append(int(nd))
        items.append({"path": str(p), "label": r["label"], "speaker": r.get("speaker", ""), "digit": d,
                      "probability": round(pr, 6), "not_digit": bool(nd)})
    acc = sum(i["digit"] == i["label"] for i in items) / len(items)

    def summary(key: str) -> dict[str, dict[str, float]]:
        return {k: {"n": len(v), "accuracy": sum(v) / len(v),
                    "not_digit_share": sum(not_digit[key][k]) / len(v)} for k, v in sorted(by[key].items())}

    report = {"manifest": str(args.manifest), "split": args.split, "classifier_version": judge.version,
              "detector_version": judge.detector_version, "n": len(items), "accuracy": acc,
              "not_digit_share": analysis.not_digit_share, "per_speaker": summary("speaker"),
              "per_digit": summary("label"), "items": items}
    table = Table(title=f"{args.manifest} [{args.split}]: accuracy {acc:.2%} on {len(items)} clips, "
                  f"{analysis.not_digit_share:.2%} judged not a digit")
    for c in ("voice", "clips", "accuracy", "not a digit"):
        table.add_column(c, justify="left" if c == "voice" else "right")
    for k, v in report["per_speaker"].items():
        table.add_row(k, str(v["n"]), f"{v['accuracy']:.2%}", f"{v['not_digit_share']:.2%}")
    con.print(table)
    return report
