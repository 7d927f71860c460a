"""``speechgen separate``: split mixtures of voices into one file per voice with a trained separator."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

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
        "a trained separator (one model per speaker count; docs/separation.md). With separators of several counts "
        "and --counter, each input is counted first: one voice comes back as the input itself, K voices go to the "
        "separator of K. Inputs are mixed to mono and resampled to the model's rate; long ones are separated in "
        "overlapping windows whose sources keep one order from start to end. Each source is scaled to the "
        "mixture's peak.",
    )
    p.add_argument("models", nargs="+", metavar="MODEL",
                   help="run folder or checkpoint folder of a separator; several (one per voice count) with --counter")
    p.add_argument("--counter", default=None, metavar="RUN",
                   help="a speaker counter (recipes/classifier/counter.yaml) that picks the separator per input")
    p.add_argument("--in", dest="inputs", nargs="+", type=Path, default=None, metavar="MIX_OR_DIR",
                   help="mixture files or folders")
    p.add_argument("--out", type=Path, default=None, help="output folder (with --in)")
    p.add_argument("--manifest", type=Path, default=None,
                   help="score a split of a mixtures manifest (speechgen corpus mixtures) instead: SI-SNRi, SDRi and "
                   "the judge's digit accuracy on the separated vs the clean sources")
    p.add_argument("--split", default="test", help="split of --manifest (default test)")
    p.add_argument("--no-sdr", action="store_true", help="with --manifest: skip SDR (the slow metric)")
    p.add_argument("--speakers", type=int, default=None, metavar="K",
                   help="voices in every input: the separator of K is used, no counting")
    p.add_argument("--window", type=float, default=WINDOW_S,
                   help=f"seconds separated at once; longer inputs go in windows (default {WINDOW_S:g})")
    p.add_argument("--overlap", type=float, default=OVERLAP_S,
                   help=f"seconds shared by consecutive windows, at most half a window (default {OVERLAP_S:g})")
    p.add_argument("--json", type=Path, default=None,
                   help="write [{path, count, sources}] (with --manifest: the scores) as JSON")
    p.set_defaults(func=_separate)


def _separate(args: argparse.Namespace) -> int:
    from speechgen.cli.classify import collect_audio
    from speechgen.inference.separate import Separators, check_window, load_counter, load_separator, separate_files

    check_window(args.window, args.overlap)  # before any input is read or the model loads
    if (args.inputs is None) == (args.manifest is None) or (args.inputs is not None and args.out is None):
        raise ConfigError("separate: give --in MIX_OR_DIR --out DIR, or --manifest MIXTURES")
    if args.speakers is not None and args.counter is not None:
        raise ConfigError("--speakers and --counter: give one (a known count, or counting)")
    paths = collect_audio(args.inputs) if args.inputs else []  # every input checked before the model loads
    loaded = [load_separator(m) for m in args.models]
    models = [m for m, _ in loaded]
    if args.speakers is not None:
        chosen = [m for m in models if int(m.n_sources) == args.speakers]
        if not chosen:
            raise ConfigError(f"--speakers: no separator of {args.speakers} voices given (they separate "
                              f"{', '.join(str(m.n_sources) for m in models)}; train one: recipes/separation/)")
        models = chosen[:1]
    counter = load_counter(args.counter)[0] if args.counter is not None else None
    run = Separators(models, counter)
    folders = ", ".join(str(i.folder) for _, i in loaded)
    con = console(args)
    if args.manifest is not None:
        return _score(args, run, folders, con)
    start = time.perf_counter()
    with progress_bar(con, "separating", len(paths), minimum=20) as advance:
        records = separate_files(run, paths, args.out, args.window, args.overlap, advance)
    wall = time.perf_counter() - start
    audio = sum(r["seconds"] for r in records)
    counts = "counted" if counter is not None else f"{next(iter(run.models))} voices"
    table = Table(title=escape(f"{folders}: {counts}"))
    for c in ("input", "count", "sources"):
        table.add_column(c)
    for r in records:
        table.add_row(escape(r["path"]), str(r["count"]), escape(str(Path(r["sources"][0]).parent)))
    con.print(table)
    con.print(f"{len(records)} input(s), {audio:.1f} s of audio, {audio / max(wall, 1e-9):.1f}x real time (reading, "
              "separating and writing; loading the model excluded)")
    if args.json is not None:
        write_text(args.json, json.dumps(records, indent=2) + "\n")
    return 0


def _score(args: argparse.Namespace, run: Any, folders: str, con: Any) -> int:
    from speechgen.data.manifest import Manifest
    from speechgen.evaluation.judge import Judge
    from speechgen.inference.separate import score_manifest

    m = Manifest.read(args.manifest)
    with progress_bar(con, "separating", len(m.select(args.split)), minimum=20) as advance:
        report = score_manifest(run, m, args.split, Judge(), not args.no_sdr, args.window, args.overlap, advance)
    report = dict(report, model=folders, counter=args.counter)
    table = Table(title=escape(f"{folders} on {args.manifest}, split {args.split}"))
    for c in ("sources", "mixtures", "SI-SNR", "SI-SNRi", "SDRi"):
        table.add_column(c, justify="right")
    for k, v in report["per_count"].items():
        table.add_row(k, str(v["n"]), f"{v['si_snr']:.2f} dB", f"{v['si_snri']:.2f} dB",
                      f"{v['sdri']:.2f} dB" if "sdri" in v else "-")
    con.print(table)
    if "intelligibility" in report:
        i = report["intelligibility"]
        con.print(f"the judge hears {i['separated_accuracy']:.1%} of the separated digits and {i['clean_accuracy']:.1%} "
                  f"of the clean ones (ratio {i['ratio']:.3f}, {i['n']} sources)")
    c = report["count"]
    if run.counter is not None:
        rows = "; ".join(f"{k}: " + " ".join(str(n) for n in row) for k, row in zip(c["counts"], c["matrix"]))
        con.print(f"count accuracy {c['accuracy']:.1%} (rows: true count; columns: {' '.join(c['columns'])} "
                  f"returned) {rows}")
    if report["skipped"]:
        con.print(f"skipped {report['skipped']} mixture(s) of another source count")
    if args.json is not None:
        write_text(args.json, json.dumps(report, indent=2) + "\n")
    return 0
