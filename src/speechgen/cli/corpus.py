"""``speechgen corpus``: build the offline spoken-digit corpus, import corpora users own, summarise a manifest."""

from __future__ import annotations

import argparse
from pathlib import Path

from rich.console import Console
from rich.table import Table

from speechgen.cli.common import add_seed, add_workers, console
from speechgen.data.manifest import SPLITS, Manifest
from speechgen.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("corpus", help="build, import or summarise a corpus")
    csub = p.add_subparsers(dest="corpus_command", metavar="ACTION")
    csub.required = True

    d = csub.add_parser(
        "digits",
        help="synthesise the spoken-digit corpus with the installed speech engines",
        description="Synthesise 'zero'..'nine' with every installed engine/voice x prosody variants "
        "(16 kHz mono, trimmed, centred in 1.000 s, peak-normalised), split speaker-disjoint, and write "
        "DIR/manifest.csv. Resumable: finished clips are skipped.",
    )
    d.add_argument("--out", required=True, type=Path, help="output folder")
    d.add_argument("--variants", type=int, default=None,
                   help="prosody variants per voice and digit (default: enough for >= 5,000 clips)")
    d.add_argument("--strings", type=int, default=0,
                   help="also synthesise N digit strings of 2-6 digits (label empty; trimmed, not fitted into 1 s)")
    d.add_argument("--words", type=int, default=0,
                   help="also synthesise N non-digit English words and short sentences per voice (label empty; the "
                   "negatives of the digit detector; words centred in 1 s, sentences trimmed)")
    d.add_argument("--engines", nargs="+", default=None, metavar="ENGINE",
                   help="restrict to these engines (espeak-ng, flite, festival, ...); default: all installed")
    d.add_argument("--voices", type=int, default=None, help="use at most this many voices (default: all found)")
    add_workers(d)
    add_seed(d)
    d.set_defaults(func=_digits)

    i = csub.add_parser(
        "import",
        help="write a speechgen manifest for a corpus you own",
        description="Index a corpus in its original on-disk layout (audio is not copied) and write "
        "DIR/manifest.csv with the official splits.",
    )
    from speechgen.data.readers import READERS
    from speechgen.data.readers.folder import SPEAKER_FROM

    i.add_argument("format", choices=sorted(READERS), help="corpus layout")
    i.add_argument("src", type=Path, help="corpus root folder")
    i.add_argument("--out", required=True, type=Path, help="output folder for manifest.csv")
    i.add_argument("--timit-keep-sa", action="store_true",
                   help="timit: keep the SA1/SA2 sentences every speaker reads (dropped by default)")
    i.add_argument("--speaker-from", choices=SPEAKER_FROM, default=None,
                   help="folder: speaker = nearest non-digit parent folder (default), the first folder below SRC, "
                   "or none (split by file)")
    i.add_argument("--valid-fraction", type=float, default=None, metavar="F",
                   help="folder: share of the speakers (files, without speakers) in the valid split (default 0.1)")
    i.add_argument("--test-fraction", type=float, default=None, metavar="F",
                   help="folder: share of the speakers (files, without speakers) in the test split (default 0.1)")
    i.set_defaults(func=_import)

    m = csub.add_parser(
        "mixtures",
        help="mix clips of different voices for speech separation (valid/test only held-out voices)",
        description="Write seeded mixtures of K clips spoken by K different voices of the same split (each clip at "
        "the same loudness, then a random gain of +-5 dB and a random start inside the longest), with their "
        "sources: DIR/{split}/{K}spk/NNNNN/mix.wav, s1.wav .. sK.wav, and DIR/manifest.csv (count, sources, their "
        "speakers, labels and texts). Training mixes on the fly; --train writes train mixtures too.",
    )
    m.add_argument("--from", dest="source", required=True, type=Path, metavar="MANIFEST",
                   help="the corpus whose clips are mixed (manifest.csv or its folder; e.g. corpora/digits)")
    m.add_argument("--speakers", type=int, nargs="+", default=[2, 3], metavar="K",
                   help="source counts, 1-5 (default: 2 3; 1 = a clean clip, for speaker counting)")
    m.add_argument("--n", type=int, default=1000, help="mixtures per count in each of valid and test (default 1000)")
    m.add_argument("--train", type=int, default=0, help="mixtures per count written for train (default 0)")
    m.add_argument("--out", required=True, type=Path, help="output folder")
    add_seed(m)
    m.set_defaults(func=_mixtures)

    s = csub.add_parser("summary", help="print the summary table of a manifest")
    s.add_argument("manifest", type=Path, help="manifest.csv or the folder holding it")
    s.set_defaults(func=_summary)


def summary_table(manifest: Manifest, title: str = "corpus") -> Table:
    """Clips (digits, other unlabelled clips: digit strings and, from ``--words``, words/sentences), voices,
    engines and minutes per split."""
    table = Table(title=title)
    for col in ("split", "clips", "digits", "strings", "words", "voices", "engines", "minutes"):
        table.add_column(col, justify="left" if col == "split" else "right")
    parts = [(s, manifest.select(s)) for s in SPLITS] + [("all", manifest)]
    for name, m in parts:
        if name != "all" and len(m) == 0:
            continue
        labelled = sum(1 for r in m if r["label"] is not None)
        words = sum(1 for r in m if r["label"] is None and str(r["path"]).startswith(("words/", "sentences/")))
        minutes = sum(float(r["duration"] or 0.0) for r in m) / 60.0
        table.add_row(
            name, str(len(m)), str(labelled), str(len(m) - labelled - words), str(words),
            str(len(m.counts("speaker"))), str(len(m.counts("engine"))), f"{minutes:.1f}",
        )
    return table


def _digits(args: argparse.Namespace) -> int:
    from speechgen.data.corpus import build_digits

    con = console(args)
    manifest = build_digits(
        args.out, variants=args.variants, strings=args.strings, words=args.words, engines=args.engines, voices=args.voices,
        workers=args.workers, seed=args.seed, progress=not args.quiet, log=con.print,
    )
    con.print(summary_table(manifest, title=f"{args.out / 'manifest.csv'}"))
    return 0


def _mixtures(args: argparse.Namespace) -> int:
    from speechgen.cli.common import progress_bar
    from speechgen.data.mixtures import SOURCE_SEP, build_mixtures

    con = console(args)
    counts = sorted(set(args.speakers))  # build_mixtures checks them, and --n, before it reads anything
    with progress_bar(con, "mixing", len(counts) * (2 * args.n + args.train)) as advance:
        manifest = build_mixtures(args.source, args.out, counts, args.n, n_train=args.train, seed=args.seed,
                                  progress=advance)
    table = Table(title=f"{args.out / 'manifest.csv'}")
    for col in ("split", "sources", "mixtures", "voices", "minutes"):
        table.add_column(col, justify="left" if col == "split" else "right")
    for split in SPLITS:
        rows = manifest.select(split)
        for k in counts:
            sel = [r for r in rows if int(r["count"]) == k]  # type: ignore[call-overload]
            if sel:
                voices = {v for r in sel for v in str(r["source_speakers"]).split(SOURCE_SEP)}
                minutes = sum(float(r["duration"] or 0.0) for r in sel) / 60.0  # type: ignore[arg-type]
                table.add_row(split, str(k), str(len(sel)), str(len(voices)), f"{minutes:.1f}")
    con.print(table)
    return 0


def _import(args: argparse.Namespace) -> int:
    from speechgen.data.readers import import_corpus

    options: dict[str, object] = {}
    for flag, fmt, key, value, given in (
        ("--timit-keep-sa", "timit", "keep_sa", args.timit_keep_sa, args.timit_keep_sa),
        ("--speaker-from", "folder", "speaker_from", args.speaker_from, args.speaker_from is not None),
        ("--valid-fraction", "folder", "valid_fraction", args.valid_fraction, args.valid_fraction is not None),
        ("--test-fraction", "folder", "test_fraction", args.test_fraction, args.test_fraction is not None),
    ):
        if given and args.format != fmt:
            raise ConfigError(f"{flag}: applies only to the {fmt} format, not {args.format}")
        if given:
            options[key] = value
    con = console(args)
    manifest = import_corpus(args.format, args.src, args.out, progress=not args.quiet, **options)
    con.print(summary_table(manifest, title=f"{args.format}: {args.out / 'manifest.csv'}"))
    empty = [s for s in SPLITS if len(manifest.select(s)) == 0]
    if empty:  # training needs train and valid; judging a model's held-out voices needs test
        hint = (" (fewer than three speakers: --speaker-from none splits by file; or set --valid-fraction / "
                "--test-fraction)" if args.format == "folder" else "")
        Console(stderr=True, highlight=False).print(
            f"warning: split(s) {', '.join(empty)} of {args.out / 'manifest.csv'} have no clips{hint}")
    return 0


def _summary(args: argparse.Namespace) -> int:
    manifest = Manifest.read(args.manifest)
    console(args).print(summary_table(manifest, title=str(args.manifest)))
    return 0
