"""``speechgen tts``: speak digit strings with a trained text-to-speech model and a vocoder (or the model's own audio:
Tacotron) into WAVs + manifest (see :mod:`speechgen.inference.speak`)."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import Any

from speechgen.cli.common import add_seed, console
from speechgen.errors import ConfigError, DataError

MAX_TEXTS = 10_000


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "tts", help="speak digit strings with a text-to-speech model",
        description="Speak each --text (digit strings in any spelling: '4 2 7', 'four two seven', 'oh') with "
        "MODEL (a run folder or checkpoint folder of a text-to-speech model such as tacotron2 or tacotron) and turn "
        "its log-mel into audio with --vocoder (a model that makes its own audio, tacotron by Griffin-Lim from its "
        "linear spectrogram, needs none); write OUT/0000.wav, OUT/0001.wav, ... and OUT/manifest.csv (path, text, "
        "speaker; label for one-digit texts), all together or nothing. A text that cannot be spoken is refused "
        "before anything is loaded. A clip whose stop token never fired (cut at the model's step cap) gets a "
        "warning line. The same --seed gives the same audio on CPU. With --manifest, each row's text is spoken in "
        "the row's voice (a multi-speaker model; a one-voice model ignores the speakers) and the output manifest "
        "names the row's clip in a 'reference' column: `speechgen eval` of both folders compares the model with "
        "the recordings of the same strings (scripts/judge_tts.sh).",
    )
    p.add_argument("model", metavar="MODEL", help="run folder or checkpoint folder of a text-to-speech model")
    src = p.add_mutually_exclusive_group()  # one of them: checked after the shared options (--seed, --out)
    src.add_argument("--text", action="append", default=None, help="a text to speak (repeatable)")
    src.add_argument("--text-file", type=Path, default=None, metavar="FILE",
                     help="a UTF-8 file of texts, one a line (blank lines skipped)")
    src.add_argument("--manifest", type=Path, default=None, metavar="CSV",
                     help="a manifest (CSV or corpus folder): speak every row's text in the row's voice")
    p.add_argument("--split", default=None, choices=("train", "valid", "test"),
                   help="with --manifest: only the rows of this split")
    p.add_argument("--held-out", type=float, default=None, metavar="F",
                   help="with --manifest: only the rows whose string is in the held-out fraction F of all strings "
                   "(the strings a run with data.held_out_fraction F never trained on; see speechgen.data.text)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--speaker", default=None, metavar="S",
                   help="voice of a multi-speaker model: a voice name of its training data or an index (default: "
                   "the first voice)")
    p.add_argument("--vocoder", default=None, metavar="NAME_OR_RUN",
                   help="vocoder of the model's log-mel: a shipped name, run folder or checkpoint folder (default: "
                   "the model's own audio when it makes audio, e.g. tacotron; else the shipped 'default')")
    p.add_argument("--max-steps", type=int, default=None, metavar="N",
                   help="decoder steps at most per text (default: the model's cap per input symbol)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    add_seed(p)
    p.set_defaults(func=_tts)


def read_manifest(args: argparse.Namespace) -> tuple[list[str], list[str], list[dict[str, str]]]:
    """Texts, speakers and a ``reference`` column (each row's clip) of the ``--manifest`` rows kept by ``--split``
    and ``--held-out`` (DataError when none is left or a row has no text)."""
    from speechgen.data.manifest import Manifest
    from speechgen.data.text import held_out

    manifest = Manifest.read(args.manifest, lenient=True)
    if args.split is not None:
        manifest = manifest.select(split=args.split)
    rows = list(manifest)
    for row in rows:
        if not str(row.get("text") or "").strip():
            raise DataError(f"--manifest {args.manifest}: row {row['path']} has no text")
    if args.held_out is not None:
        rows = [r for r in rows if held_out(str(r["text"]), args.held_out)]
    if not rows:
        what = (f" in split '{args.split}'" if args.split else "") + (
            f" with a string in the held-out fraction {args.held_out}" if args.held_out is not None else "")
        raise DataError(f"--manifest {args.manifest}: no rows{what}")
    if len(rows) > MAX_TEXTS:
        raise ConfigError(f"--manifest: at most {MAX_TEXTS} rows per call, got {len(rows)}")
    return ([str(r["text"]) for r in rows], [str(r.get("speaker") or "") for r in rows],
            [{"reference": str(manifest.resolve(r).resolve())} for r in rows])


def read_texts(args: argparse.Namespace) -> list[str]:
    """The texts of ``--text`` or ``--text-file`` (ConfigError without either; DataError for an unreadable or
    empty file)."""
    if args.text is None and args.text_file is None:
        raise ConfigError("give --text TEXT (repeatable), --text-file FILE or --manifest CSV")
    if args.text is not None:
        texts = list(args.text)
    else:
        try:
            lines = args.text_file.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"--text-file {args.text_file}: cannot read ({getattr(exc, 'strerror', None) or exc})"
                            ) from None
        texts = [line.strip() for line in lines if line.strip()]
        if not texts:
            raise DataError(f"--text-file {args.text_file}: no texts")
    if len(texts) > MAX_TEXTS:
        raise ConfigError(f"--text: at most {MAX_TEXTS} texts per call, got {len(texts)}")
    return texts


def _tts(args: argparse.Namespace) -> int:
    from speechgen.atomic import staged_dir
    from speechgen.cli.sample import earlier_samples
    from speechgen.inference.speak import LoadedTTS, parse_texts, write_spoken

    if args.manifest is None and (args.split is not None or args.held_out is not None):
        raise ConfigError("--split and --held-out select rows of --manifest; give --manifest CSV")
    if args.held_out is not None and not 0.0 < args.held_out < 1.0:
        raise ConfigError(f"--held-out: expected a fraction in (0, 1), got {args.held_out}")
    extra = None
    if args.manifest is not None:
        if args.speaker is not None:
            raise ConfigError("--speaker: with --manifest each row is spoken in its own voice")
        texts, speakers, extra = read_manifest(args)
    else:
        texts = read_texts(args)
    parse_texts(texts)  # a bad text is refused before anything is loaded
    if args.max_steps is not None and args.max_steps < 1:
        raise ConfigError(f"--max-steps: must be >= 1, got {args.max_steps}")
    tts = LoadedTTS(args.model, args.vocoder, args.device)
    speaker: Any = args.speaker
    if args.manifest is not None:
        speaker = speakers if tts.net.n_speakers else None  # a one-voice model speaks every row in its voice
    started = time.perf_counter()
    spoken = tts.speak(texts, speaker, args.seed, max_steps=args.max_steps)
    elapsed = time.perf_counter() - started
    with staged_dir(args.out, stale=earlier_samples(args.out)) as tmp:
        write_spoken(tmp, spoken, extra)
    for line in spoken.warnings:
        print(f"speechgen: warning: {line}", file=sys.stderr)
    seconds = sum(len(a) for a in spoken.audio) / spoken.sample_rate
    names = sorted(set(spoken.speakers) - {""})
    voice = f", voice {names[0]}" if len(names) == 1 else (f", {len(names)} voices" if names else "")
    if tts.vocoder_config is None:
        how = "its own audio (PGHI + Griffin-Lim)"
    else:
        how = f"vocoder '{tts.vocoder_config['model']['name']}'"
    console(args).print(f"[bold]{args.out}[/bold]: {len(spoken.audio)} clip(s), {seconds:.2f} s of audio at "
                        f"{spoken.sample_rate} Hz by '{tts.info.model}' ({tts.info.folder}) and {how}{voice}; "
                        f"{seconds / max(elapsed, 1e-9):.1f}x real time (text to audio, loading excluded)",
                        soft_wrap=True)
    return 0
