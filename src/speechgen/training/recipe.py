"""Recipes: YAML files naming a training scheme, a model with its kwargs, and typed sections for the scheme.

A recipe looks like::

    scheme: classifier          # a key of speechgen.training.registry.SCHEMES
    seed: 0
    model: {name: digit_classifier, kwargs: {widths: [32, 64, 128]}}
    data: {...}                 # the scheme's sections, each a dataclass of typed fields
    optim: {...}

Validation happens on load and names the field at fault (``recipe.model.kwargs.width: unknown argument``):
unknown sections or keys, values of the wrong type (checked against the dataclass / constructor annotations),
unknown model or scheme names. Relative paths inside a recipe are resolved against the current directory.

Files are read by :mod:`speechgen.recipe_files` (YAML, ``base:`` resolution, ``--set`` overrides); this module
validates the mapping against a scheme's typed sections and a model's constructor.
"""

from __future__ import annotations

import dataclasses
import inspect
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Union


from speechgen.errors import ConfigError


# ------------------------------------------------------------------------------------------------ type checks
def _type_name(tp: Any) -> str:
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", None) or str(tp).replace("typing.", "")


def check_type(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against annotation ``tp`` (int, float, bool, str, Literal, Optional/Union, list/tuple/
    Sequence[...], dict/Mapping, Any); return it converted (int → float, lists → tuples where annotated)."""
    if tp is Any or tp is inspect.Parameter.empty:
        return value
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is Union or origin is types.UnionType:
        for a in args:
            try:
                return check_type(value, a, where)
            except ConfigError:
                continue
        raise ConfigError(f"{where}: expected {' or '.join(_type_name(a) for a in args)}, got {value!r}")
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"{where}: expected one of {', '.join(repr(a) for a in args)}, got {value!r}")
        return value
    if tp is type(None):
        if value is not None:
            raise ConfigError(f"{where}: expected null, got {value!r}")
        return None
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true/false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{where}: expected an integer, got {value!r}")
        return value
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"{where}: expected a number, got {value!r}")
        return float(value)
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected a string, got {value!r}")
        return value
    if origin in (list, tuple, Sequence, typing.Sequence) or tp in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{where}: expected {len(args)} items, got {len(value)}")
            return tuple(check_type(v, a, f"{where}[{i}]") for i, (v, a) in enumerate(zip(value, args)))
        item = args[0] if args else Any
        out = [check_type(v, item, f"{where}[{i}]") for i, v in enumerate(value)]
        return out if origin is list or tp is list else tuple(out)
    if origin in (dict, Mapping, typing.Mapping) or tp is dict:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{where}: expected a mapping, got {value!r}")
        return dict(value)
    if isinstance(tp, type):
        if not isinstance(value, tp):
            raise ConfigError(f"{where}: expected {_type_name(tp)}, got {value!r}")
        return value
    return value


def build_section(cls: type, values: Mapping[str, Any] | None, where: str) -> Any:
    """Instantiate dataclass ``cls`` from a mapping, checking unknown keys and value types."""
    if values is None:
        values = {}
    if not isinstance(values, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = {f.name for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(values) - names)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: unknown field (known: {', '.join(sorted(names))})")
    kwargs = {k: check_type(v, hints.get(k, Any), f"{where}.{k}") for k, v in values.items()}
    missing = [f.name for f in dataclasses.fields(cls) if f.init and f.name not in kwargs
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise ConfigError(f"{where}.{missing[0]}: required field is missing")
    obj = cls(**kwargs)
    check = getattr(obj, "validate", None)
    if callable(check):
        check(where)
    return obj


def check_kwargs(fn: Callable[..., Any], kwargs: Mapping[str, Any] | None, where: str) -> dict[str, Any]:
    """Check ``kwargs`` against ``fn``'s signature and annotations (unknown argument, wrong type)."""
    if kwargs is None:
        return {}
    if not isinstance(kwargs, Mapping):
        raise ConfigError(f"{where}: expected a mapping, got {kwargs!r}")
    sig = inspect.signature(fn)
    try:
        hints = typing.get_type_hints(fn)
    except Exception:  # noqa: BLE001 - annotations that cannot be resolved are simply not checked
        hints = {}
    params = {k: p for k, p in sig.parameters.items() if k != "self" and p.kind not in (p.VAR_POSITIONAL,
                                                                                         p.VAR_KEYWORD)}
    out: dict[str, Any] = {}
    for k, v in kwargs.items():
        if k not in params:
            raise ConfigError(f"{where}.{k}: unknown argument (known: {', '.join(params)})")
        out[k] = check_type(v, hints.get(k, Any), f"{where}.{k}")
        if isinstance(out[k], tuple):
            out[k] = list(out[k])  # YAML-friendly; constructors accept any sequence
    return out


# ------------------------------------------------------------------------------------------------ recipe object
@dataclass
class ModelSpec:
    """A model's registry name and constructor kwargs."""

    name: str
    kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class Recipe:
    """A validated recipe: scheme name, seed, model spec, the scheme's typed sections and the raw mapping."""

    scheme: str
    seed: int
    model: ModelSpec
    sections: dict[str, Any]
    raw: dict[str, Any]
    path: Path | None = None

    def __getattr__(self, name: str) -> Any:
        sections = self.__dict__.get("sections", {})
        if name in sections:
            return sections[name]
        raise AttributeError(name)


def parse_recipe(
    raw: dict[str, Any],
    schemes: Mapping[str, Any],
    models: Mapping[str, type],
    path: Path | None = None,
) -> Recipe:
    """Validate a raw recipe mapping against the scheme and model registries."""
    scheme_name = raw.get("scheme")
    if scheme_name not in schemes:
        raise ConfigError(f"recipe.scheme: unknown scheme {scheme_name!r} (known: {', '.join(sorted(schemes))})")
    scheme = schemes[scheme_name]
    section_types: Mapping[str, type] = scheme.sections
    known = {"scheme", "seed", "model", "meta"} | set(section_types)
    unknown = sorted(set(raw) - known)
    if unknown:
        raise ConfigError(f"recipe.{unknown[0]}: unknown section (known: {', '.join(sorted(known))})")
    seed = check_type(raw.get("seed", 0), int, "recipe.seed")
    if not 0 <= seed <= 2**32 - 1:
        raise ConfigError(f"recipe.seed: must be in 0..{2**32 - 1}, got {seed}")
    model_raw = raw.get("model")
    if not isinstance(model_raw, Mapping):
        raise ConfigError("recipe.model: expected a mapping with 'name' and 'kwargs'")
    bad = sorted(set(model_raw) - {"name", "kwargs"})
    if bad:
        raise ConfigError(f"recipe.model.{bad[0]}: unknown field (known: kwargs, name)")
    name = model_raw.get("name")
    if name not in models:
        raise ConfigError(f"recipe.model.name: unknown model {name!r} (known: {', '.join(sorted(models))})")
    allowed = getattr(scheme, "models", None)
    if allowed is not None and name not in allowed:
        raise ConfigError(f"recipe.model.name: scheme '{scheme_name}' cannot train model '{name}'")
    kwargs = check_kwargs(models[name].__init__, model_raw.get("kwargs"), "recipe.model.kwargs")
    sections = {k: build_section(cls, raw.get(k), f"recipe.{k}") for k, cls in section_types.items()}
    recipe = Recipe(scheme_name, seed, ModelSpec(name, kwargs), sections, raw, path)
    check = getattr(scheme, "validate", None)  # cross-section constraints, before anything is written
    if callable(check):
        check(recipe)
    return recipe
