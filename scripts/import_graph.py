#!/usr/bin/env python3
"""The import graph of ``src/speechgen``: cycles, imports against the layer order, and raw critic steps.

Every ``import`` / ``from ... import`` statement counts, function-local ones included (read with ``ast``; nothing is
imported). Layers, lowest first (a module may import its own layer and the layers below it)::

    base (speechgen, errors, atomic) → audio → data → models (nn, losses, models, checkpoint, pretrained)
    → training → evaluation → inference → interfaces (cli, web, api)

plus three rules of their own: only ``speechgen.cli.train`` imports ``speechgen.training`` from outside it; the
interfaces do not import each other (except ``speechgen.cli.serve``, which starts the web app); at most one file
calls a raw critic ``optimizer.step()`` (``.optimizer.step()``, the step that does not advance ``global_step``).

    python scripts/import_graph.py            # the report
    python scripts/import_graph.py --check    # the same, exit status 1 when a rule is broken
    python scripts/import_graph.py --json OUT # the numbers as JSON
"""

from __future__ import annotations

import argparse
import ast
import json
import re
import sys
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("base", ("speechgen", "speechgen.errors", "speechgen.atomic", "speechgen.allocator")),
    ("audio", ("speechgen.audio",)),
    ("data", ("speechgen.data",)),
    ("models", ("speechgen.nn", "speechgen.losses", "speechgen.models", "speechgen.checkpoint",
                "speechgen.pretrained")),
    ("training", ("speechgen.training",)),
    ("evaluation", ("speechgen.evaluation",)),
    ("inference", ("speechgen.inference",)),
    ("interfaces", ("speechgen.cli", "speechgen.web", "speechgen.api")),
]
INTERFACES = ("speechgen.cli", "speechgen.web", "speechgen.api")
ALLOWED_INTERFACE_IMPORTS = {("speechgen.cli.serve", "speechgen.web")}
TRAINING_USERS = ("speechgen.cli.train",)
RAW_STEP = re.compile(r"\.optimizer\.step\(\)")


def modules(src: Path = SRC) -> dict[str, Path]:
    """Dotted module name → file, for every module of the package."""
    out = {}
    for p in sorted(src.rglob("*.py")):
        parts = p.relative_to(src).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        out[name] = p
    return out


def _resolve(name: str, mods: dict[str, Path]) -> str | None:
    while name and name not in mods:
        name = name.rpartition(".")[0]
    return name or None


def edges(mods: dict[str, Path]) -> dict[str, set[str]]:
    """Module → the package modules it imports (anywhere in the file)."""
    out: dict[str, set[str]] = defaultdict(set)
    for name, path in mods.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join(up + ([node.module] if node.module else []))
                targets = [f"{base}.{a.name}" for a in node.names] or [base]
            for t in targets:
                if t.split(".")[0] != "speechgen":
                    continue
                hit = _resolve(t, mods)
                if hit and hit != name:
                    out[name].add(hit)
    return out


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    limit = sys.getrecursionlimit()
    sys.setrecursionlimit(max(limit, 10000))  # the depth-first walk recurses once per module on a path
    try:
        for v in sorted(graph):
            if v not in index:
                visit(v)
    finally:
        sys.setrecursionlimit(limit)  # a caller (a test process) keeps its own limit
    return found


def _under(name: str, prefixes: tuple[str, ...]) -> str | None:
    for p in sorted(prefixes, key=len, reverse=True):
        if name == p or name.startswith(p + "."):
            return p
    return None


def layer(name: str) -> int:
    """Index of the layer a module belongs to (ValueError for a module outside every layer)."""
    best, depth = None, -1
    for i, (_, prefixes) in enumerate(LAYERS):
        hit = _under(name, prefixes)
        if hit is not None and len(hit) > depth:
            best, depth = i, len(hit)
    if best is None:
        raise ValueError(f"{name}: in no layer of scripts/import_graph.py")
    return best


def violations(graph: dict[str, set[str]]) -> list[str]:
    """One line per import that breaks a rule of the module docstring."""
    out = []
    for src, targets in sorted(graph.items()):
        for dst in sorted(targets):
            if layer(dst) > layer(src):
                out.append(f"{src} → {dst}: imports a higher layer ({LAYERS[layer(src)][0]} → {LAYERS[layer(dst)][0]})")
            if (_under(dst, ("speechgen.training",)) and not _under(src, ("speechgen.training",))
                    and src not in TRAINING_USERS):
                out.append(f"{src} → {dst}: only {', '.join(TRAINING_USERS)} may import speechgen.training")
            a, b = _under(src, INTERFACES), _under(dst, INTERFACES)
            if a and b and a != b and (src, b) not in ALLOWED_INTERFACE_IMPORTS:
                out.append(f"{src} → {dst}: interfaces call inference, not each other")
    return out


def raw_critic_steps(mods: dict[str, Path]) -> list[str]:
    """Files that call a raw ``.optimizer.step()``."""
    return sorted(str(p.relative_to(SRC.parent)) for p in mods.values() if RAW_STEP.search(p.read_text("utf-8")))


def report(src: Path = SRC) -> dict[str, object]:
    """Everything the command prints, as a mapping."""
    mods = modules(src)
    graph = edges(mods)
    outside_training = sorted(s for s, ts in graph.items() if not _under(s, ("speechgen.training",))
                              and any(_under(t, ("speechgen.training",)) for t in ts))
    folders: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for name, path in mods.items():
        parts = name.split(".")
        key = parts[1] if len(parts) > 2 or (len(parts) == 2 and path.name == "__init__.py") else "(root)"
        folders[key][0] += 1
        folders[key][1] += len(path.read_text("utf-8").splitlines())
    return {
        "modules": len(mods), "imports": sum(len(v) for v in graph.values()), "cycles": cycles(graph),
        "violations": violations(graph), "training_importers_outside": outside_training,
        "raw_critic_steps": raw_critic_steps(mods),
        "lines_per_folder": {k: {"files": v[0], "lines": v[1]} for k, v in sorted(folders.items())},
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--check", action="store_true", help="exit 1 when a rule is broken")
    ap.add_argument("--json", type=Path, default=None, help="write the numbers as JSON")
    args = ap.parse_args(argv)
    r = report()
    print(f"{r['modules']} modules, {r['imports']} import edges")
    print(f"cycles: {len(r['cycles'])}" + "".join(f"\n  {' ↔ '.join(c)}" for c in r["cycles"]))
    print(f"rule violations: {len(r['violations'])}" + "".join(f"\n  {v}" for v in r["violations"]))
    print(f"modules outside training that import it: {', '.join(r['training_importers_outside']) or 'none'}")
    print(f"files with a raw critic optimizer.step(): {', '.join(r['raw_critic_steps']) or 'none'}")
    print("lines per folder: " + ", ".join(f"{k} {v['files']}/{v['lines']}" for k, v in r["lines_per_folder"].items()))
    if args.json:
        args.json.write_text(json.dumps(r, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    broken = r["cycles"] or r["violations"] or len(r["raw_critic_steps"]) > 1
    return 1 if args.check and broken else 0


if __name__ == "__main__":
    sys.exit(main())
