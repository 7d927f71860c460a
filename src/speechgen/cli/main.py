"""The ``speechgen`` console script: a small dispatcher over one module per command group.

Each command module exposes ``register(subparsers)`` which adds its parser(s) and sets ``func`` to a callable
taking the parsed arguments and returning an exit code. :class:`SpeechgenError` becomes one line on stderr and
exit code 2 (traceback with ``--debug``).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from speechgen import __version__, allocator
from speechgen.cli import bench, classify, compare, corpus, sample, train, transform
from speechgen.cli import eval as evaluate
from speechgen.cli import demo, export, info, models, report, serve, vocode
from speechgen.cli import separate, transcribe
from speechgen.cli import tts
from speechgen.errors import ConfigError, SpeechgenError

# Explicit registry of command groups, in the order shown by --help.
COMMAND_GROUPS = (corpus, train, sample, vocode, tts, separate, transform, evaluate, classify, transcribe, compare,
                  bench, export, report, demo, models, info, serve)


class Parser(argparse.ArgumentParser):
    """argparse with usage errors on one line (``speechgen CMD: error: ...; see speechgen CMD --help``), exit 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="speechgen",
        description="Build corpora, train, sample and judge generative models of speech.",
    )
    parser.add_argument("--version", action="version", version=f"speechgen {__version__}")
    parser.add_argument("--debug", action="store_true", help="show full tracebacks on errors")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars or summaries")
    parser.add_argument("--threads", type=int, default=None, dest="torch_threads", metavar="N",
                        help="torch CPU threads for the command (default: torch's choice, one per core, or "
                             "OMP_NUM_THREADS). Vocoders that iterate over small FFTs always run on one thread, the "
                             "faster choice there; on a busy machine one thread can beat two")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for group in COMMAND_GROUPS:
        group.register(sub)
    return parser


MAX_SEED = 2**32 - 1  # numpy's and Lightning's seeds are unsigned 32-bit integers


#: commands whose ``--out`` is a file (the others write a folder there)
FILE_OUTPUTS = ("report", "export")


def check_common(args: argparse.Namespace) -> None:
    """Options several commands share, checked once before any work: ``--seed`` in ``0 .. 2**32 - 1``, and that
    ``--out``, ``--json`` and ``--html`` name places a file or folder can be written to."""
    seed = getattr(args, "seed", None)
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise ConfigError(f"--seed: must be in 0..{MAX_SEED}, got {seed}")
    device = getattr(args, "device", None)
    if isinstance(device, str) and device != "cpu":
        check_device(device)
    for option in ("out", "json", "html"):
        value = getattr(args, option, None)
        if isinstance(value, Path):
            folder = option == "out" and getattr(args, "command", None) not in FILE_OUTPUTS
            check_output(value, f"--{option}", folder)


def set_threads(n: int | None) -> None:
    """``speechgen --threads N``: N torch intra-op threads (None: leave torch's choice)."""
    if n is None:
        return
    if n < 1:
        raise ConfigError(f"--threads: must be > 0, got {n}")
    import torch

    torch.set_num_threads(n)


def check_device(device: str) -> None:
    """ConfigError (one line) for a ``--device`` torch cannot use here: not a device name, or CUDA / MPS asked for
    on a machine without it (instead of a load error much later)."""
    import torch

    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise ConfigError(f"--device {device}: not a torch device (cpu, cuda, cuda:N, mps)") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {device}: CUDA is not available on this machine (torch {torch.__version__}"
                              f"{', a CPU-only build' if torch.version.cuda is None else ''}); use --device cpu")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ConfigError(f"--device {device}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    elif dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ConfigError(f"--device {device}: MPS is not available on this machine; use --device cpu")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"--device {device}: speechgen runs on cpu, cuda or mps")


def check_output(path: Path, option: str, folder: bool) -> None:
    """ConfigError (one line) unless ``path`` can be written as a folder (``folder``) or a file: an existing path
    of the other kind, or an ancestor that is a file or not writable, is refused before any work."""
    if path.exists() and path.is_dir() != folder:
        raise ConfigError(f"{option} {path}: is a {'file' if folder else 'folder'}, expected a "
                          f"{'folder' if folder else 'file'}")
    parent = path if folder and path.exists() else path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise ConfigError(f"{option} {path}: {parent} is a file, not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ConfigError(f"{option} {path}: {parent} is not writable")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    allocator.tune()
    try:
        check_common(args)
        set_threads(args.torch_threads)
        return int(args.func(args) or 0)
    except SpeechgenError as exc:
        if args.debug:
            raise
        print(f"speechgen: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("speechgen: interrupted", file=sys.stderr)
        return 130
    except (MemoryError, RuntimeError) as exc:  # an allocation that cannot succeed: one line, not a traceback
        if args.debug or not allocation_failure(exc):
            raise
        print(f"speechgen: error: out of memory: {allocation_failure(exc)}", file=sys.stderr)
        return 2


def allocation_failure(exc: BaseException) -> str | None:
    """What failed to allocate, for a MemoryError or torch's allocation RuntimeError (None for other errors)."""
    if isinstance(exc, MemoryError):
        return str(exc) or "an allocation failed"
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    for marker in ("can't allocate memory", "out of memory", "not enough memory"):
        if marker in text.lower():
            return text[:200]
    return None


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
