"""Small helpers shared by command modules: console output honouring --quiet, common options."""

from __future__ import annotations

import argparse

from rich.console import Console


def console(args: argparse.Namespace) -> Console:
    """A rich console for people (stderr stays free for errors); silent with ``--quiet``."""
    return Console(quiet=bool(getattr(args, "quiet", False)), highlight=False)


def add_seed(parser: argparse.ArgumentParser, default: int = 0) -> None:
    parser.add_argument("--seed", type=int, default=default, help=f"random seed (default {default})")


def add_workers(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--workers", type=int, default=None, help="worker processes (default: number of CPU cores)")
