"""``speechgen compare``: pair metrics (PESQ, STOI, MCD, MR-STFT, LSD, F0 RMSE, V/UV) of estimates vs references."""

from __future__ import annotations

import argparse
import json
import math
import warnings
from pathlib import Path

from rich.table import Table

from speechgen.atomic import write_text
from speechgen.cli.common import console
from speechgen.errors import ConfigError

def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "compare",
        help="score estimates (vocoded, resynthesised) against their reference recordings",
        description="Compare two WAV files, or two folders whose audio files are paired by relative path "
        "(extension ignored). Estimates are resampled to the reference's rate and both signals of a pair are "
        "cropped to the shorter. Metrics: wide-band PESQ, STOI, mel-cepstral distortion, multi-resolution STFT "
        "distance, log-spectral distance, F0 RMSE and voicing error (see speechgen.evaluation.speech).",
    )
    p.add_argument("reference", type=Path, help="reference file or folder")
    p.add_argument("estimate", type=Path, help="estimate file or folder")
    p.add_argument("--json", type=Path, default=None, metavar="OUT",
                   help='write {"files": [...], "mean": {...}} to OUT (NaN as null)')
    p.add_argument("--html", type=Path, default=None, metavar="OUT",
                   help="also write a self-contained HTML page: the means, and for a few pairs from the worst PESQ "
                   "to the best their metrics, audio players and reference/estimate spectrograms")
    p.add_argument("--html-pairs", type=int, default=8, metavar="N",
                   help="pairs shown on the HTML page (default 8)")
    p.set_defaults(func=_compare)


def results_table(result: dict, title: str = "compare") -> Table:
    """One row per file plus a bold mean row."""
    from speechgen.evaluation.speech import COLUMNS, format_metric

    table = Table(title=title)
    table.add_column("file")
    for _, name, _ in COLUMNS:
        table.add_column(name, justify="right")
    for row in result["files"]:
        table.add_row(row["name"], *(format_metric(k, row[k]) for k, _, _ in COLUMNS))
    table.add_section()
    table.add_row(f"mean of {len(result['files'])}", *(format_metric(k, result["mean"][k]) for k, _, _ in COLUMNS),
                  style="bold")
    return table


def _nan_to_none(obj: object) -> object:
    if isinstance(obj, float) and math.isnan(obj):
        return None
    if isinstance(obj, dict):
        return {k: _nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_nan_to_none(v) for v in obj]
    return obj


def _compare(args: argparse.Namespace) -> int:
    from rich.progress import track

    from speechgen.evaluation.speech import compare_files, match_pairs, summarise

    con = console(args)
    if args.html_pairs < 0:
        raise ConfigError(f"--html-pairs: expected a count >= 0, got {args.html_pairs}")
    pairs = match_pairs(args.reference, args.estimate)
    items = pairs if args.quiet or len(pairs) < 10 else track(pairs, "comparing", transient=True, console=con)
    rows = []
    for name, ref, est in items:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            rows.append({"name": name, **compare_files(ref, est)})
        for w in caught:
            con.print(f"[dim]{name}: {w.message}[/dim]")
    result = summarise(rows)
    con.print(results_table(result, title=f"{args.estimate} vs {args.reference}"))
    if args.json is not None:
        write_text(args.json, json.dumps(_nan_to_none(result), indent=2, allow_nan=False) + "\n")
        con.print(f"wrote {args.json}")
    if args.html is not None:
        from speechgen.evaluation.pages import write_pair_report

        write_pair_report(args.html, f"speechgen compare: {args.estimate} vs {args.reference}", result, pairs,
                          args.html_pairs)
        con.print(f"wrote {args.html}")
    return 0
