"""``speechgen transcribe``: the digits spoken in audio files (the recognizer, docs/results.md, Digit strings), or its
string accuracy on a manifest split (per voice)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from speechgen.atomic import write_text
from speechgen.cli.common import console, progress_bar
from speechgen.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "transcribe", help="transcribe spoken digit strings",
        description="Print the digits spoken in each file (folders are searched recursively), as digits ('4 2 7') "
        "and words ('four two seven'), with the probability of the recognizer's best path. Clips are read whole, "
        "mixed to mono and resampled to the recognizer's rate. With --manifest: string accuracy, digit error rate "
        "and per-position accuracy on a split whose texts are digit strings, overall and per voice.",
    )
    p.add_argument("inputs", nargs="*", type=Path, metavar="FILE_OR_DIR", help="audio files or folders")
    p.add_argument("--model", default="recognizer",
                   help="shipped name, run folder or checkpoint folder of a recognizer (default recognizer)")
    p.add_argument("--manifest", type=Path, default=None, help="score a manifest split of digit strings instead")
    p.add_argument("--split", default="test", help="split of --manifest (default test)")
    p.add_argument("--batch-size", type=int, default=32, help="clips per forward pass (does not change results)")
    p.add_argument("--json", type=Path, default=None, help="write the results as JSON")
    p.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help="no table")
    p.set_defaults(func=_transcribe)


def _transcribe(args: argparse.Namespace) -> int:
    from speechgen.cli.classify import collect_audio
    from speechgen.inference.transcribe import load_transcriber, score_manifest, transcribe

    if bool(args.inputs) == (args.manifest is not None):
        raise ConfigError("transcribe: give audio files/folders or --manifest, not both or neither")
    if args.batch_size <= 0:
        raise ConfigError(f"--batch-size: must be > 0, got {args.batch_size}")
    con = console(args)
    paths = collect_audio(args.inputs) if args.inputs else []  # every input checked before the model loads
    model, info = load_transcriber(args.model)
    result: Any
    if args.manifest is not None:
        from speechgen.data.manifest import Manifest

        m = Manifest.read(args.manifest, lenient=True)
        with progress_bar(con, "transcribing", len(m.select(args.split)), minimum=200) as advance:
            result = score_manifest(model, m, args.split, args.batch_size, advance)
        result = dict(result, model=str(info.folder))
        con.print(_manifest_table(result, args))
    else:
        with progress_bar(con, "transcribing", len(paths), minimum=200) as advance:
            result = transcribe(model, paths, batch_size=args.batch_size, progress=advance)
        table = Table(title=escape(str(info.folder)))
        for c in ("path", "digits", "text", "probability"):
            table.add_column(c, justify="right" if c == "probability" else "left")
        for r in result:
            table.add_row(escape(r["path"]), r["digits"] or "-", r["text"] or "(none)", f"{r['probability']:.3f}")
        con.print(table)
    if args.json is not None:
        write_text(args.json, json.dumps(result, indent=2) + "\n")
    return 0


def _manifest_table(report: dict[str, Any], args: argparse.Namespace) -> Table:
    positions = ", ".join(f"{p:.2%}" for p in report["per_position_accuracy"])
    table = Table(title=f"{escape(str(args.manifest))}, split {escape(args.split)}: string accuracy "
                  f"{report['string_accuracy']:.2%}, digit error rate {report['digit_error_rate']:.2%} on "
                  f"{report['n']} clips; per position {positions}")
    for c in ("voice", "clips", "string accuracy", "digit error rate"):
        table.add_column(c, justify="left" if c == "voice" else "right")
    for voice, v in report["per_voice"].items():
        table.add_row(escape(voice) or "-", str(v["n"]), f"{v['string_accuracy']:.2%}",
                      f"{v['digit_error_rate']:.2%}")
    return table
