"""``speechgen train``: run a recipe into a run folder (see :mod:`speechgen.training.runner`)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path

from speechgen.cli.common import console


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train", help="train a model from a recipe",
        description="Train the recipe's model with its scheme. RUN receives config.yaml, checkpoints/ "
        "(safetensors + YAML, never pickle), logs/metrics.csv, final/ and metrics.json.",
    )
    p.add_argument("recipe", type=Path, nargs="?", default=None,
                   help="recipe YAML (see recipes/FAMILY/); with --resume it may be left out to continue with the "
                   "run's own recipe (RUN/config.yaml), and if given it must match that one")
    p.add_argument("--out", required=True, type=Path, help="run folder")
    p.add_argument("--max-steps", type=int, default=None, help="override train.max_steps")
    p.add_argument("--seed", type=int, default=None, help="override the recipe's seed")
    p.add_argument("--resume", action="store_true",
                   help="continue from RUN/checkpoints/last.ckpt (only --max-steps, train.keep_checkpoints and "
                   "data.num_workers may change)")
    p.add_argument("--accelerator", choices=("auto", "cpu", "gpu"), default="auto",
                   help="where to train: auto (a GPU when torch sees one, else the CPU; default), cpu, or gpu "
                   "(refused in one line when there is none)")
    p.add_argument("--devices", type=int, default=1,
                   help="devices (processes) per node (default 1); data.batch_size is per device")
    p.add_argument("--num-nodes", type=int, default=1,
                   help="nodes (default 1; launch with torchrun or SLURM, see docs/training.md)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch CPU threads per process (default: torch's choice; 1 is fastest when other jobs "
                   "share the cores)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a recipe field, e.g. --set data.manifest=corpora/digits (repeatable)")
    p.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS,
                   help="no progress bars or summaries")
    p.set_defaults(func=_train)


def _train(args: argparse.Namespace) -> int:
    from speechgen.errors import ConfigError, DataError
    from speechgen.recipe_files import apply_overrides
    from speechgen.training.recipe import parse_recipe
    from speechgen.models.registry import MODELS
    from speechgen.training.registry import SCHEMES, load_recipe
    from speechgen.training.runner import saved_recipe, train

    if args.threads is not None:
        if args.threads <= 0:
            raise ConfigError(f"--threads: must be > 0, got {args.threads}")
        import torch

        torch.set_num_threads(args.threads)
    if args.recipe is not None:
        recipe = load_recipe(args.recipe, args.overrides)
    elif args.resume:
        if not (args.out / "config.yaml").is_file():
            raise DataError(f"{args.out}: nothing to resume (no run here: no config.yaml)")
        raw, source = saved_recipe(args.out)
        recipe = parse_recipe(apply_overrides(raw, args.overrides), SCHEMES, MODELS, source)
    else:
        raise ConfigError("RECIPE: give a recipe YAML (it may be left out only with --resume)")
    command = "speechgen " + shlex.join(sys.argv[1:]) if sys.argv and "speechgen" in sys.argv[0] else ""
    metrics = train(recipe, args.out, max_steps=args.max_steps, seed=args.seed, resume=args.resume,
                    devices=args.devices, num_nodes=args.num_nodes, accelerator=args.accelerator,
                    quiet=bool(getattr(args, "quiet", False)),
                    command=command)
    con = console(args)
    con.print(f"[bold]{args.out}[/bold]: " + ", ".join(
        f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in metrics.items()))
    return 0
