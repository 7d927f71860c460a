"""``speechgen separate``: split mixtures of voices into one file per voice with a trained separator."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from speechgen.atomic import write_text
from speechgen.cli.common import console, progress_bar
from speechgen.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    from speechgen.inference.separate import OVERLAP_S, WINDOW_S

    p = sub.add_parser(
        "separate", help="separate mixtures of voices into one file per voice",
        description="Write OUT/<input-stem>/s1.wav .. sK.wav for each input (folders are searched recursively) with "
        "a trained separator (one model per speaker count; docs/separation.md). Inputs are mixed to mono and "
        "resampled to the model's rate; long ones are separated in overlapping windows whose sources keep one "
        "order from start to end. Each source is scaled to the mixture's peak.",
    )
    p.add_argument("model", help="run folder or checkpoint folder of a separator")
    p.add_argument("--in", dest="inputs", nargs="+", type=Path, required=True, metavar="MIX_OR_DIR",
                   help="mixture files or folders")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--speakers", type=int, default=None, metavar="K",
                   help="voices in every input (must be the model's count)")
    p.add_argument("--window", type=float, default=WINDOW_S,
                   help=f"seconds separated at once; longer inputs go in windows (default {WINDOW_S:g})")
    p.add_argument("--overlap", type=float, default=OVERLAP_S,
                   help=f"seconds shared by consecutive windows, at most half a window (default {OVERLAP_S:g})")
    p.add_argument("--json", type=Path, default=None, help="write [{path, count, sources}] as JSON")
    p.set_defaults(func=_separate)


def _separate(args: argparse.Namespace) -> int:
    from speechgen.cli.classify import collect_audio
    from speechgen.inference.separate import load_separator, separate_files

    if args.window <= 0 or not 0 <= args.overlap <= args.window / 2:
        raise ConfigError(f"--window/--overlap: expected a window > 0 s and an overlap of 0 to half the window, got "
                          f"{args.window:g} and {args.overlap:g} s")
    paths = collect_audio(args.inputs)  # every input checked before the model loads
    model, info = load_separator(args.model)
    if args.speakers is not None and args.speakers != int(model.n_sources):
        raise ConfigError(f"--speakers: {args.model} separates {model.n_sources} voices, not {args.speakers} (train "
                          f"or pass a model of {args.speakers}: recipes/separation/)")
    con = console(args)
    with progress_bar(con, "separating", len(paths), minimum=20) as advance:
        records = separate_files(model, paths, args.out, args.window, args.overlap, advance)
    table = Table(title=escape(f"{info.folder}: {model.n_sources} voices"))
    for c in ("input", "count", "sources"):
        table.add_column(c)
    for r in records:
        table.add_row(escape(r["path"]), str(r["count"]), escape(str(Path(r["sources"][0]).parent)))
    con.print(table)
    if args.json is not None:
        write_text(args.json, json.dumps(records, indent=2) + "\n")
    return 0
