"""Small helpers shared by command modules: console output honouring --quiet, common options."""

from __future__ import annotations

import argparse
import os
import sys

from rich.console import Console


PIPE_WIDTH = 1000  # columns of output that is not a terminal: tables keep whole values instead of "digits-defau…"


def console(args: argparse.Namespace) -> Console:
    """A rich console for people (stderr stays free for errors); silent with ``--quiet``. Piped or redirected, it
    is wide enough that tables print their values whole (and no colour codes)."""
    piped = not sys.stdout.isatty()
    return Console(quiet=bool(getattr(args, "quiet", False)), highlight=False,
                   width=PIPE_WIDTH if piped and "COLUMNS" not in os.environ else None)


def add_seed(parser: argparse.ArgumentParser, default: int = 0) -> None:
    parser.add_argument("--seed", type=int, default=default, help=f"random seed (default {default})")


def add_workers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: number of CPU cores)")
