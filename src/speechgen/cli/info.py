"""``speechgen info MODEL``: what a run, checkpoint or shipped model holds and what it can be used for (read from its
``config.yaml``; no weights are loaded)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.table import Table

from speechgen.atomic import write_text
from speechgen.cli.common import console


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("info", help="what a run, checkpoint or shipped model holds and what it can do",
                       description="Show a model's registry name, parameters, roles (the commands it can be used "
                       "with: sample, vocode, transform, classify), sample rate and features, the recipe and step it "
                       "was trained to, its metrics and, for shipped models, how it was made. Reads config.yaml only.")
    p.add_argument("model", metavar="MODEL", help="run folder, checkpoint folder or shipped name")
    p.add_argument("--json", type=Path, default=None, help="write the same as JSON")
    p.set_defaults(func=_info)


def checkpoint_info(name_or_path: str | Path) -> dict[str, Any]:
    """The record ``speechgen info`` shows (CheckpointError for a missing or corrupt checkpoint)."""
    from speechgen.inference.loading import describe

    info = describe(name_or_path)
    cfg = info.config
    recipe = cfg.get("recipe") or {}
    metrics = cfg.get("metrics") or {}
    return {
        "checkpoint": str(info.folder), "model": info.model, "kwargs": (cfg["model"].get("kwargs") or {}),
        "parameters": cfg.get("parameters"), "roles": list(info.roles), "commands": info.verbs,
        "sample_rate": cfg.get("sample_rate"), "features": cfg.get("features"),
        "scheme": recipe.get("scheme"), "recipe_path": cfg.get("recipe_path"), "command": cfg.get("command"),
        "step": cfg.get("step", metrics.get("steps")), "created": cfg.get("created"),
        "speechgen_version": cfg.get("speechgen_version"), "git_commit": cfg.get("git_commit"),
        "metrics": metrics, "shipped": cfg.get("shipped"),
    }


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, (dict, list)):
        return json.dumps(value, separators=(", ", ": "))
    return "-" if value is None else str(value)


def _info(args: argparse.Namespace) -> int:
    rec = checkpoint_info(args.model)
    table = Table(title=f"{args.model}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    params = rec["parameters"]
    rows = [("checkpoint", rec["checkpoint"]), ("model", rec["model"]),
            ("parameters", f"{params / 1e6:.2f} M" if isinstance(params, int) else "-"),
            ("can", ", ".join(f"{c} ({r})" for c, r in zip(rec["commands"], rec["roles"])) or
             "nothing this speechgen knows"),
            ("sample rate", rec["sample_rate"]), ("scheme", rec["scheme"]), ("step", rec["step"]),
            ("made by", rec["command"] or rec["recipe_path"]), ("created", rec["created"]),
            ("version", f"speechgen {rec['speechgen_version']}, commit {str(rec['git_commit'] or '-')[:12]}"),
            ("kwargs", rec["kwargs"])]
    rows += [(k, v) for k, v in rec["metrics"].items()]
    for k, v in rows:
        table.add_row(k, _fmt(v))
    console(args).print(table)
    if args.json is not None:
        write_text(args.json, json.dumps(rec, indent=2, default=str) + "\n")
    return 0
