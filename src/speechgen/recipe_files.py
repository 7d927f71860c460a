"""Recipe files as plain YAML mappings: reading with ``base:`` resolved, and ``--set`` overrides. No validation
here (that is :mod:`speechgen.training.recipe`), so tools that only read a recipe's model section (``speechgen bench
vocoder``) need not import training.

A recipe may start from another one: ``base: ../vocoder/hifigan-v1.yaml`` (a path relative to the recipe's own
file) loads that recipe, itself resolved the same way, and merges this file over it (:func:`resolve_base`). The
resolved mapping has no ``base`` key: a run's ``config.yaml`` holds the whole recipe.
"""

from __future__ import annotations

import copy
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from speechgen.errors import ConfigError


def _load_yaml(p: Path, what: str) -> dict[str, Any]:
    if not p.is_file():
        raise ConfigError(f"{p}: no such {what} file")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f" line {mark.line + 1}" if mark is not None else ""
        raise ConfigError(f"{p}{line}: not valid YAML ({getattr(exc, 'problem', None) or exc})") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{p}: a {what} must be a YAML mapping")
    return data


def read_yaml(path: str | os.PathLike, what: str = "recipe") -> dict[str, Any]:
    """Read a YAML mapping with its ``base:`` resolved (:func:`resolve_base`); ConfigError on a missing file, bad
    YAML or a non-mapping document (this file's or a base's).

    path: the YAML file.
    what: what the file is, for messages ("recipe").
    """
    p = Path(path)
    return resolve_base(_load_yaml(p, what), p, what)


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    """A new mapping: ``over`` merged over ``base``. Mappings merge key by key, recursively; any other value of
    ``over`` (a list too) replaces the base's.

    base: the mapping underneath (not modified).
    over: the mapping on top (not modified).
    """
    out = copy.deepcopy(dict(base))
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = deep_merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def resolve_base(raw: dict[str, Any], path: str | os.PathLike, what: str = "recipe",
                 _chain: tuple[Path, ...] = ()) -> dict[str, Any]:
    """Resolve ``raw``'s ``base:`` key: read the file it names (relative to ``path``'s folder; its own base
    resolved first) and deep-merge ``raw`` over it (:func:`deep_merge`). Without a base, ``raw`` is returned as
    it is. The result has no ``base`` key. ConfigError on a base that is not a string, a missing base file, a cycle.

    raw: the mapping read from ``path``.
    path: the file ``raw`` was read from.
    what: what the files are, for messages ("recipe").
    _chain: the files whose bases are being resolved (for the cycle check).
    """
    here = Path(path)
    chain = (*_chain, here)
    if "base" not in raw:
        return raw
    base = raw["base"]
    if not isinstance(base, str) or not base.strip():
        raise ConfigError(f"{here}: base: expected the path of a {what} file (relative to this one), got {base!r}")
    target = Path(os.path.normpath(here.parent / base))
    seen = [os.path.realpath(p) for p in chain]
    if os.path.realpath(target) in seen:
        cycle = " -> ".join(str(p) for p in (*chain[seen.index(os.path.realpath(target)):], target))
        raise ConfigError(f"{here}: base: cycle {cycle}")
    if not target.is_file():
        raise ConfigError(f"{here}: base: no such {what} file {target}")
    parent = resolve_base(_load_yaml(target, what), target, what, chain)
    return deep_merge(parent, {k: v for k, v in raw.items() if k != "base"})


def apply_overrides(raw: dict[str, Any], overrides: Sequence[str]) -> dict[str, Any]:
    """Apply ``dotted.key=value`` overrides (values parsed as YAML) to a nested mapping, in place."""
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE (e.g. data.batch_size=32)")
        node = raw
        parts = key.split(".")
        for part in parts[:-1]:
            nxt = node.setdefault(part, {})
            if not isinstance(nxt, dict):
                raise ConfigError(f"--set {key}: '{part}' is not a section")
            node = nxt
        try:
            node[parts[-1]] = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise ConfigError(f"--set {key}: value is not valid YAML") from exc
    return raw
