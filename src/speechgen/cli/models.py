"""``speechgen models``: the shipped default models, what they can do, their size, headline figures and how they
were made."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from rich.table import Table

from speechgen.atomic import write_text
from speechgen.cli.common import console


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("models", help="list the shipped models",
                       description="List the models shipped inside the package (usable offline by name, e.g. "
                       "`speechgen sample digits-default`), with parameters, size on disk, the judge's figures and "
                       "the recipe that reproduces them.")
    p.add_argument("--json", type=Path, default=None, help="write the list as JSON")
    p.set_defaults(func=_models)


def shipped_models() -> list[dict[str, Any]]:
    """One record per shipped model: name, registry model, parameters, MB, figures, reproducing command."""
    from speechgen import pretrained
    from speechgen.inference.loading import describe

    out = []
    for name in sorted(pretrained.PRETRAINED):
        info = describe(name)
        folder, cfg = info.folder, info.config
        shipped = cfg.get("shipped") or {}
        figures: dict[str, Any] = {}
        if "judge" in shipped:  # a generator: the judge's scores of its samples
            j = shipped["judge"]
            figures = {"label_accuracy": j.get("label_accuracy"), "inception_score": (j.get("inception_score") or {})
                       .get("mean"), "fid": j.get("fid"), "n": j.get("n")}
        elif "compare" in shipped:  # a vocoder: copy-synthesis of held-out voices, and its speed
            c = shipped["compare"]
            figures = {k: c.get(k) for k in ("pesq", "stoi", "mcd", "n")}
            figures.update({f"x_realtime_{s['threads']}t": s["x_realtime"] for s in shipped.get("speed") or []})
        elif "strings" in shipped:  # text to speech: the recognizer on held-out strings, and on the recordings
            figures = {"string_accuracy": shipped["strings"].get("string_accuracy"),
                       "recordings_string_accuracy": shipped.get("reference_strings", {}).get("string_accuracy"),
                       "n": shipped["strings"].get("n")}
        elif "evaluation" in cfg:  # a judge: accuracy (the recognizer: string accuracy) on held-out voices
            figures = {f"{split}_{key}": v[key] for split, v in cfg["evaluation"].items()
                       for key in ("accuracy", "string_accuracy", "digit_error_rate") if key in v}
        recipe = cfg.get("recipe_path") or (cfg.get("command") or "")
        out.append({
            "name": name, "model": cfg["model"]["name"], "roles": list(info.roles), "commands": info.verbs,
            "parameters": cfg.get("parameters"),
            "megabytes": round(sum(f.stat().st_size for f in folder.iterdir()) / 1e6, 2),
            "figures": figures, "train_command": shipped.get("train_command") or cfg.get("ship_command") or recipe,
        })
    return out


def _models(args: argparse.Namespace) -> int:
    rows = shipped_models()
    table = Table(title="shipped models")
    for col in ("name", "model", "can", "params", "MB", "figures", "made by"):
        table.add_column(col)
    for r in rows:
        figs = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in r["figures"].items())
        table.add_row(r["name"], r["model"], ", ".join(r["commands"]), f"{(r['parameters'] or 0) / 1e6:.2f} M", f"{r['megabytes']:.1f}", figs,
                      str(r["train_command"]))
    console(args).print(table)
    if args.json is not None:
        write_text(args.json, json.dumps(rows, indent=2) + "\n")
    return 0
