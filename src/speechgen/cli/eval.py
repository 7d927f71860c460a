"""``speechgen eval``: judge a set of generated clips (IS, FID, mIS, AM, NDB/K; label accuracy and FID-class when
conditional) beside the same metrics of the real train and test splits (docs/results.md, The judge); for a manifest
whose every text is a digit string, also the recognizer's string accuracy, digit error rate and per-position accuracy
(docs/results.md, Digit strings)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import numpy as np
from rich.table import Table

from speechgen.atomic import write_text
from speechgen.cli.common import add_seed, console, progress_bar
from speechgen.errors import ConfigError, DataError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "eval", help="score generated clips with the judge",
        description="Score GENERATED (a folder of audio files, or a manifest; a manifest whose rows all have a "
        "label is conditional) against the reference statistics shipped with the judge, or computed from "
        "--reference MANIFEST (its train and test splits). FID, AM and NDB compare with the train split. A manifest "
        "whose every row's text is a digit string ('4 2 7') is also transcribed by --recognizer: string accuracy, "
        "digit error rate and per-position accuracy against the texts.",
    )
    p.add_argument("generated", type=Path, metavar="GENERATED", help="folder of audio files, or manifest.csv")
    p.add_argument("--reference", type=Path, default=None, help="manifest of real data (default: shipped stats)")
    p.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    p.add_argument("--splits", type=int, default=10, help="IS splits (default 10)")
    p.add_argument("--classifier", default="classifier", help="shipped name or checkpoint folder")
    p.add_argument("--recognizer", default="recognizer",
                   help="digit-string recognizer for a manifest whose every text is a digit string: shipped name, run "
                   "or checkpoint folder (default recognizer)")
    p.add_argument("--batch-size", type=int, default=256, help="clips per forward pass")
    add_seed(p)
    p.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help="no table")
    p.set_defaults(func=_eval)


def _generated(path: Path) -> tuple[list[Path], np.ndarray | None, list[list[int]] | None]:
    """The clips, their labels (when every row has one) and their digit strings (when every row's text is one)."""
    from speechgen.cli.classify import collect_audio
    from speechgen.data.manifest import MANIFEST_NAME, Manifest
    from speechgen.evaluation.strings import digit_strings

    if path.is_file() and path.suffix.lower() == ".csv" or path.is_dir() and (path / MANIFEST_NAME).is_file():
        m = Manifest.read(path, lenient=True)  # any CSV with a path column (label optional)
        paths = [m.resolve(r) for r in m]
        labels = [r["label"] for r in m]
        conditional = all(lab is not None for lab in labels)
        return paths, (np.array(labels, dtype=np.int64) if conditional else None), digit_strings(
            [r.get("text") for r in m])
    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    return collect_audio([path]), None, None


def _fmt(v: Any) -> str:
    if isinstance(v, dict):
        return f"{v['mean']:.3f} ± {v['std']:.3f}"
    if isinstance(v, float):
        return f"{v:.3f}"
    return "-" if v is None else str(v)


NOT_COMPARABLE = "†"  # marks a value whose set is below the metric's minimum n (metrics.MIN_N)


def cell(row: dict[str, Any], key: str) -> str:
    """A metric of a row as text: FID with its bootstrap interval, a flagged value marked."""
    v = row.get(key)
    ci = row.get("fid_ci") if key == "fid" else None
    text = f"{v:.2f} [{ci[0]:.2f}, {ci[1]:.2f}]" if isinstance(v, float) and ci else _fmt(v)
    return text + NOT_COMPARABLE if (row.get("comparable") or {}).get(key) is False else text


def footnote(row: dict[str, Any], keys: list[str]) -> str | None:
    """The line under a table that explains the marker (None when no shown metric is flagged)."""
    from speechgen.evaluation.metrics import minimum_text

    flagged = [k for k in keys if (row.get("comparable") or {}).get(k) is False]
    if not flagged:
        return None
    need = ", ".join(minimum_text(k) for k in flagged)
    return (f"{NOT_COMPARABLE} not comparable with the tables (n = 1000): {row.get('n')} clips are outside the "
            f"metric's range of n ({need}); see docs/results.md, Sample size")


def _eval(args: argparse.Namespace) -> int:
    from speechgen.cli.classify import analyse_with_progress
    from speechgen.evaluation.judge import Judge, reference_from_manifest, shipped_reference
    from speechgen.evaluation.metrics import sanity_failures

    if args.splits <= 0:
        raise ConfigError(f"--splits: must be > 0, got {args.splits}")
    paths, labels, strings = _generated(args.generated)
    if len(paths) < args.splits:
        raise DataError(f"{args.generated}: {len(paths)} clip(s) are fewer than the {args.splits} IS splits "
                        f"(pass --splits N with N <= {len(paths)})")
    if len(paths) < 2:
        raise DataError(f"{args.generated}: FID needs at least 2 clips, got {len(paths)}")
    con = console(args)
    judge = Judge(args.classifier, batch_size=args.batch_size)
    if args.reference is not None:
        ref = reference_from_manifest(judge, args.reference, seed=args.seed, splits=args.splits)
    else:
        ref = shipped_reference(judge)
    analysis = analyse_with_progress(judge, paths, con)  # features of the centre second, as ever
    probs, feats = analysis.probs, analysis.feats
    result: dict[str, Any] = {"generated": str(args.generated), "conditional": labels is not None}
    result.update(ref.score(probs, feats, labels, seed=args.seed, splits=args.splits))
    # the detector's verdict (docs/results.md, The judge): a sanity check beside the metrics, which it does not change
    result["not_digit_share"] = analysis.not_digit_share
    result["not_digit_by_rule"] = sum(r not in (None, "detector") for r in analysis.reasons)
    result["detector_version"] = judge.detector_version
    if analysis.length_warning():
        result.setdefault("warnings", []).append(analysis.length_warning())
    result["reference"] = {k: v for k, v in ref.rows.items()}
    result["reference_source"] = str(args.reference) if args.reference is not None else "shipped"
    result["classifier_version"] = judge.version
    result["seed"] = args.seed
    if strings is not None:  # a set of digit strings: the recognizer's transcriptions against the texts
        scored = _score_strings(args, paths, strings, con)
        if scored is None:
            result.setdefault("warnings", []).append(NO_RECOGNIZER)
            con.print(f"warning: {NO_RECOGNIZER}", highlight=False)
        else:
            result["strings"] = scored

    cols = ["n", "inception_score", "fid", "log_modified_inception_score", "am_score", "ndb_over_k"]
    names = ["n", "IS", "FID", "ln mIS", "AM", "NDB/K"]
    if labels is not None:
        cols += ["label_accuracy", "fid_class"]
        names += ["label acc", "FID-class"]
    cols += ["not_digit_share"]
    names += ["not a digit"]
    table = Table(title=f"judge {judge.version}")
    table.add_column("set")
    for n in names:
        table.add_column(n, justify="right")
    table.add_row(str(args.generated), *[cell(result, c) for c in cols])
    for name, row in [(f"real {k}", v) for k, v in result["reference"].items()]:
        table.add_row(name, *[_fmt(row.get(c)) for c in cols])
    con.print(table)
    note = footnote(result, cols)
    if note:
        con.print(note, highlight=False)
    for line in sanity_failures(result):
        con.print(f"warning: {line}", highlight=False)
    if "strings" in result:
        con.print(strings_table(result["strings"], str(args.generated)))
    if args.json is not None:
        write_text(args.json, json.dumps(result, indent=2) + "\n")
    return 0


NO_RECOGNIZER = ("digit strings: this install ships no recognizer, so string accuracy is left out (pass "
                 "--recognizer RUN)")


def _score_strings(args: argparse.Namespace, paths: list[Path], strings: list[list[int]], con: Any,
                   ) -> dict[str, Any] | None:
    """The digit-string metrics of the clips (docs/results.md, Digit strings), from the recognizer (None when
    the default one is asked for and this install ships none)."""
    from speechgen import pretrained
    from speechgen.evaluation.strings import RECOGNIZER, Recognizer

    if args.recognizer == RECOGNIZER and RECOGNIZER not in pretrained.PRETRAINED:
        return None
    recognizer = Recognizer(args.recognizer, batch_size=min(args.batch_size, 64))
    with progress_bar(con, "transcribing", len(paths), minimum=500) as advance:
        return recognizer.score(paths, strings, progress=advance)


def strings_table(row: dict[str, Any], name: str) -> Table:
    """String accuracy, digit error rate and per-position accuracy of a set of digit strings."""
    positions = row["per_position_accuracy"]
    table = Table(title=f"digit strings, recognizer {row['recognizer_version']}")
    for c in ["set", "n", "string acc", "digit error rate", *[f"pos {i + 1}" for i in range(len(positions))]]:
        table.add_column(c, justify="left" if c == "set" else "right")
    table.add_row(name, str(row["n"]), f"{row['string_accuracy']:.2%}", f"{row['digit_error_rate']:.2%}",
                  *[f"{p:.2%}" for p in positions])
    return table
