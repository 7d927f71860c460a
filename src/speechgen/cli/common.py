"""Small helpers shared by command modules: console output honouring --quiet, common options."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator

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


@contextlib.contextmanager
def progress_bar(con: Console, description: str, total: int, minimum: int = 100,
                 ) -> Iterator[Callable[[int], None]]:
    """Yield ``advance(n)``: a transient rich bar (count, time left) on ``con`` when ``total`` reaches ``minimum``
    and output is not quiet, else a no-op (a short job needs no bar)."""
    if con.quiet or total < minimum:
        yield lambda n=1: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                  console=con, transient=True) as bar:
        task = bar.add_task(description, total=total)
        yield lambda n=1: bar.advance(task, n)


@contextlib.contextmanager
def thread_count(n: int) -> Iterator[None]:
    """torch — and, through threadpoolctl when it is installed, the BLAS under numpy — held to ``n`` threads
    inside the block (for benchmarks that compare with numpy code; the previous torch count restored)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        try:
            from threadpoolctl import threadpool_limits
        except ImportError:
            yield
        else:
            with threadpool_limits(n):
                yield
    finally:
        torch.set_num_threads(before)
