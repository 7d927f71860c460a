"""The recipe reader and validator (speechgen.training.recipe), tested directly: type checks, sections, model
kwargs, ``--set`` overrides, YAML reading, recipe parsing against (fake) registries, and ``base:`` resolution."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Optional, Union

import pytest

from speechgen.errors import ConfigError
from speechgen.training.recipe import Recipe, build_section, check_kwargs, check_type, parse_recipe
from speechgen.recipe_files import apply_overrides, deep_merge, read_yaml, resolve_base

REPO_RECIPES = Path(__file__).resolve().parents[2] / "recipes"


def _error(fn, *args) -> str:
    with pytest.raises(ConfigError) as info:
        fn(*args)
    return str(info.value)


# ------------------------------------------------------------------------------------------------ check_type
def test_check_type_tells_int_bool_and_float_apart():
    assert check_type(3, int, "r.n") == 3
    assert _error(check_type, True, int, "r.n") == "r.n: expected an integer, got True"
    assert _error(check_type, 3.0, int, "r.n") == "r.n: expected an integer, got 3.0"
    converted = check_type(2, float, "r.x")
    assert converted == 2.0 and type(converted) is float
    assert _error(check_type, False, float, "r.x") == "r.x: expected a number, got False"
    assert _error(check_type, "2", float, "r.x") == "r.x: expected a number, got '2'"
    assert check_type(False, bool, "r.b") is False
    assert _error(check_type, 1, bool, "r.b") == "r.b: expected true/false, got 1"
    assert _error(check_type, 5, str, "r.s") == "r.s: expected a string, got 5"


def test_check_type_literal_optional_and_union():
    assert check_type("ns", Literal["ns", "hinge"], "recipe.gan.loss") == "ns"
    assert (_error(check_type, "lsgan", Literal["ns", "hinge"], "recipe.gan.loss")
            == "recipe.gan.loss: expected one of 'ns', 'hinge', got 'lsgan'")
    assert check_type(None, Optional[int], "r.k") is None
    assert check_type(None, int | None, "r.k") is None
    assert _error(check_type, "x", Optional[int], "r.k") == "r.k: expected int or null, got 'x'"
    assert check_type("a", Union[int, str], "r.u") == "a"
    assert check_type(4, float | None, "r.f") == 4.0  # the first alternative that fits converts
    assert _error(check_type, 1, type(None), "r.z") == "r.z: expected null, got 1"


def test_check_type_lists_tuples_and_mappings():
    assert check_type([1, 2], list[int], "r.l") == [1, 2]
    assert check_type((1, 2), list[int], "r.l") == [1, 2]
    assert _error(check_type, [1, "a"], list[int], "r.l") == "r.l[1]: expected an integer, got 'a'"
    assert _error(check_type, 3, list[int], "r.l") == "r.l: expected a list, got 3"
    assert check_type([0.5, 1], tuple[float, float], "r.betas") == (0.5, 1.0)
    assert _error(check_type, [0.5, 0.9, 1.0], tuple[float, float], "r.betas") == "r.betas: expected 2 items, got 3"
    assert _error(check_type, [0.5, "x"], tuple[float, float], "r.betas") == "r.betas[1]: expected a number, got 'x'"
    assert check_type([1, 2, 3], tuple[int, ...], "r.t") == (1, 2, 3)
    assert check_type([1, 2], Sequence[int], "r.s") == (1, 2)
    assert check_type([[1, 2], [3]], Sequence[Sequence[int]], "r.d") == ((1, 2), (3,))
    assert (_error(check_type, [[1], [True]], Sequence[Sequence[int]], "r.d")
            == "r.d[1][0]: expected an integer, got True")
    assert check_type({"a": 1}, dict[str, Any], "r.m") == {"a": 1}
    assert check_type({"a": 1}, Mapping[str, int], "r.m") == {"a": 1}
    assert _error(check_type, [1], dict, "r.m") == "r.m: expected a mapping, got [1]"


def test_check_type_passes_any_and_checks_plain_classes():
    marker = object()
    assert check_type(marker, Any, "r.a") is marker
    assert check_type(Path("x"), Path, "r.p") == Path("x")
    assert _error(check_type, "x", Path, "r.p") == "r.p: expected Path, got 'x'"


# ------------------------------------------------------------------------------------------------ build_section
@dataclass
class _Section:
    manifest: str
    size: int = 4
    rate: float = 1.0
    mode: Literal["a", "b"] = "a"
    tags: list[str] = field(default_factory=list)

    def validate(self, where: str) -> None:
        if self.size <= 0:
            raise ConfigError(f"{where}.size: must be > 0, got {self.size}")


def test_build_section_fills_defaults_and_converts():
    sec = build_section(_Section, {"manifest": "m", "rate": 2}, "recipe.data")
    assert sec == _Section("m", 4, 2.0, "a", [])
    assert type(sec.rate) is float


def test_build_section_names_the_field_at_fault():
    assert (_error(build_section, _Section, {"manifest": "m", "sise": 3}, "recipe.data")
            == "recipe.data.sise: unknown field (known: manifest, mode, rate, size, tags)")
    assert (_error(build_section, _Section, {"size": 3}, "recipe.data")
            == "recipe.data.manifest: required field is missing")
    assert _error(build_section, _Section, None, "recipe.data") == "recipe.data.manifest: required field is missing"
    assert (_error(build_section, _Section, {"manifest": "m", "mode": "c"}, "recipe.data")
            == "recipe.data.mode: expected one of 'a', 'b', got 'c'")
    assert (_error(build_section, _Section, {"manifest": "m", "tags": ["x", 1]}, "recipe.data")
            == "recipe.data.tags[1]: expected a string, got 1")
    assert _error(build_section, _Section, ["m"], "recipe.data") == "recipe.data: expected a mapping, got ['m']"


def test_build_section_runs_the_sections_own_validate():
    assert (_error(build_section, _Section, {"manifest": "m", "size": 0}, "recipe.data")
            == "recipe.data.size: must be > 0, got 0")


# ------------------------------------------------------------------------------------------------ check_kwargs
class _Model:
    def __init__(self, width: int = 8, rates: Sequence[int] = (2, 2), norm: Literal["batch", "layer"] = "batch",
                 extra: dict[str, Any] | None = None, **rest: Any) -> None:
        self.width = width


def test_check_kwargs_checks_names_and_types():
    assert check_kwargs(_Model.__init__, {"width": 4, "rates": (4, 4)}, "recipe.model.kwargs") == {
        "width": 4, "rates": [4, 4]}  # tuples come back as lists (YAML-friendly)
    assert check_kwargs(_Model.__init__, None, "recipe.model.kwargs") == {}
    assert (_error(check_kwargs, _Model.__init__, {"widht": 4}, "recipe.model.kwargs")
            == "recipe.model.kwargs.widht: unknown argument (known: width, rates, norm, extra)")  # not **rest
    assert (_error(check_kwargs, _Model.__init__, {"width": 4.5}, "recipe.model.kwargs")
            == "recipe.model.kwargs.width: expected an integer, got 4.5")
    assert (_error(check_kwargs, _Model.__init__, {"norm": "group"}, "recipe.model.kwargs")
            == "recipe.model.kwargs.norm: expected one of 'batch', 'layer', got 'group'")
    assert (_error(check_kwargs, _Model.__init__, {"extra": [1]}, "recipe.model.kwargs")
            == "recipe.model.kwargs.extra: expected dict or null, got [1]")
    assert (_error(check_kwargs, _Model.__init__, [1], "recipe.model.kwargs")
            == "recipe.model.kwargs: expected a mapping, got [1]")


def test_check_kwargs_skips_annotations_it_cannot_resolve():
    def build(size: "UndefinedType" = 1) -> None:  # noqa: F821 - deliberately unresolvable
        pass

    assert check_kwargs(build, {"size": "anything"}, "recipe.model.kwargs") == {"size": "anything"}


# ------------------------------------------------------------------------------------------------ apply_overrides
def test_apply_overrides_sets_nested_keys_in_place_with_yaml_values():
    raw = {"data": {"batch_size": 4}, "model": {"kwargs": {}}}
    out = apply_overrides(raw, ["data.batch_size=32", "model.kwargs.widths=[8, 16]", "train.ema=0.999",
                                "data.channels=null", "gan.extra={a: 1}", "seed=3", "data.flag=true",
                                "data.name=stft_image"])
    assert out is raw
    assert raw == {"data": {"batch_size": 32, "channels": None, "flag": True, "name": "stft_image"},
                   "model": {"kwargs": {"widths": [8, 16]}}, "train": {"ema": 0.999}, "gan": {"extra": {"a": 1}},
                   "seed": 3}


def test_apply_overrides_names_the_bad_override():
    assert _error(apply_overrides, {"seed": 0}, ["seed.x=1"]) == "--set seed.x: 'seed' is not a section"
    assert (_error(apply_overrides, {}, ["data.batch_size"])
            == "--set 'data.batch_size': expected KEY=VALUE (e.g. data.batch_size=32)")
    assert _error(apply_overrides, {}, ["=3"]) == "--set '=3': expected KEY=VALUE (e.g. data.batch_size=32)"
    assert _error(apply_overrides, {}, ["data.channels=[0, 1"]) == "--set data.channels: value is not valid YAML"
    assert apply_overrides({}, ["a=b=c"]) == {"a": "b=c"}  # only the first '=' separates


# ------------------------------------------------------------------------------------------------ read_yaml
def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_read_yaml_errors_name_the_file_and_line(tmp_path):
    missing = tmp_path / "nope.yaml"
    assert _error(read_yaml, missing) == f"{missing}: no such recipe file"
    assert _error(read_yaml, missing, "run config") == f"{missing}: no such run config file"
    bad = _write(tmp_path / "bad.yaml", "a: 1\nb: [1, 2\nc: 3\n")
    assert _error(read_yaml, bad) == f"{bad} line 3: not valid YAML (expected ',' or ']', but got ':')"
    listing = _write(tmp_path / "list.yaml", "- 1\n- 2\n")
    assert _error(read_yaml, listing) == f"{listing}: a recipe must be a YAML mapping"
    empty = _write(tmp_path / "empty.yaml", "# only a comment\n")
    assert _error(read_yaml, empty) == f"{empty}: a recipe must be a YAML mapping"
    assert read_yaml(_write(tmp_path / "ok.yaml", "seed: 1\ndata: {batch_size: 2}\n")) == {
        "seed": 1, "data": {"batch_size": 2}}


# ------------------------------------------------------------------------------------------------ parse_recipe
@dataclass
class _Optim:
    lr: float = 1e-3


class _Scheme:
    sections = {"data": _Section, "optim": _Optim}
    models = {"small"}
    seen: list[Recipe] = []

    @classmethod
    def validate(cls, recipe: Recipe) -> None:
        cls.seen.append(recipe)
        if recipe.data.size > 100:
            raise ConfigError("recipe.data.size: too large for model 'small'")


SCHEMES = {"fake": _Scheme}
MODELS = {"small": _Model, "big": _Model}


def _raw(**changes: Any) -> dict[str, Any]:
    raw = {"scheme": "fake", "seed": 1, "model": {"name": "small", "kwargs": {"width": 2}},
           "data": {"manifest": "m"}, "optim": {"lr": 1}}
    raw.update(changes)
    return raw


def test_parse_recipe_builds_typed_sections(tmp_path):
    raw = _raw()
    recipe = parse_recipe(raw, SCHEMES, MODELS, tmp_path / "r.yaml")
    assert (recipe.scheme, recipe.seed, recipe.model.name, recipe.model.kwargs) == ("fake", 1, "small", {"width": 2})
    assert recipe.data == _Section("m") and recipe.optim == _Optim(1.0) and recipe.raw is raw
    assert recipe.path == tmp_path / "r.yaml" and _Scheme.seen[-1] is recipe  # cross-section check ran
    no_seed = _raw()
    del no_seed["seed"]
    assert parse_recipe(no_seed, SCHEMES, MODELS).seed == 0


def test_parse_recipe_names_what_is_wrong():
    assert (_error(parse_recipe, _raw(scheme="gann"), SCHEMES, MODELS)
            == "recipe.scheme: unknown scheme 'gann' (known: fake)")
    assert (_error(parse_recipe, _raw(optimizer={}), SCHEMES, MODELS)
            == "recipe.optimizer: unknown section (known: data, meta, model, optim, scheme, seed)")
    assert (_error(parse_recipe, _raw(model={"name": "tiny"}), SCHEMES, MODELS)
            == "recipe.model.name: unknown model 'tiny' (known: big, small)")
    assert (_error(parse_recipe, _raw(model={"name": "big"}), SCHEMES, MODELS)
            == "recipe.model.name: scheme 'fake' cannot train model 'big'")
    assert (_error(parse_recipe, _raw(model="small"), SCHEMES, MODELS)
            == "recipe.model: expected a mapping with 'name' and 'kwargs'")
    assert (_error(parse_recipe, _raw(model={"name": "small", "args": {}}), SCHEMES, MODELS)
            == "recipe.model.args: unknown field (known: kwargs, name)")
    assert _error(parse_recipe, _raw(seed="0"), SCHEMES, MODELS) == "recipe.seed: expected an integer, got '0'"
    assert _error(parse_recipe, _raw(seed=-1), SCHEMES, MODELS) == "recipe.seed: must be in 0..4294967295, got -1"
    assert (_error(parse_recipe, _raw(seed=2**32), SCHEMES, MODELS)
            == "recipe.seed: must be in 0..4294967295, got 4294967296")
    assert (_error(parse_recipe, _raw(model={"name": "small", "kwargs": {"depth": 2}}), SCHEMES, MODELS)
            == "recipe.model.kwargs.depth: unknown argument (known: width, rates, norm, extra)")
    assert (_error(parse_recipe, _raw(optim={"lr": "fast"}), SCHEMES, MODELS)
            == "recipe.optim.lr: expected a number, got 'fast'")
    assert (_error(parse_recipe, _raw(data={"manifest": "m", "size": 101}), SCHEMES, MODELS)
            == "recipe.data.size: too large for model 'small'")


def test_parse_recipe_with_the_real_registries():
    from speechgen.models.registry import MODELS as REAL_MODELS
    from speechgen.training.registry import SCHEMES as REAL_SCHEMES

    raw = read_yaml(REPO_RECIPES / "classifier" / "classifier-tiny.yaml")
    recipe = parse_recipe(raw, REAL_SCHEMES, REAL_MODELS)
    assert recipe.scheme == "classifier" and recipe.model.name == "digit_classifier"
    raw["model"]["name"] = "hifigan"
    with pytest.raises(ConfigError, match=r"^recipe\.model\.name: scheme 'classifier' cannot train model 'hifigan'$"):
        parse_recipe(raw, REAL_SCHEMES, REAL_MODELS)


# ------------------------------------------------------------------------------------------------ base:
def test_deep_merge_merges_mappings_and_replaces_everything_else():
    base = {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "l": [1, 2, 3], "s": 1, "m": {"k": 1}}
    over = {"a": {"y": {"q": 3}, "z": 4}, "l": [9], "m": None, "n": {"new": True}}
    merged = deep_merge(base, over)
    assert merged == {"a": {"x": 1, "y": {"p": 1, "q": 3}, "z": 4}, "l": [9], "s": 1, "m": None, "n": {"new": True}}
    assert base == {"a": {"x": 1, "y": {"p": 1, "q": 2}}, "l": [1, 2, 3], "s": 1, "m": {"k": 1}}  # untouched
    merged["a"]["y"]["p"] = 100
    assert base["a"]["y"]["p"] == 1  # no shared nested objects
    assert deep_merge({"a": 1}, {"a": {"b": 2}}) == {"a": {"b": 2}}  # a mapping replaces a scalar


def test_base_is_deep_merged_and_lists_replaced(tmp_path):
    _write(tmp_path / "full.yaml", "scheme: vae\nseed: 0\nmodel:\n  name: vae\n  kwargs: {widths: [64, 128], "
           "hidden: 512, latent_dim: 64}\ndata: {manifest: corpora/digits, batch_size: 256, channels: [0, 1]}\n")
    tiny = _write(tmp_path / "full-tiny.yaml", "# tiny sibling\nbase: full.yaml\nmodel:\n  kwargs: {widths: [8], "
                  "hidden: 32}\ndata: {batch_size: 8, channels: [0]}\n")
    assert read_yaml(tiny) == {"scheme": "vae", "seed": 0,
                               "model": {"name": "vae", "kwargs": {"widths": [8], "hidden": 32, "latent_dim": 64}},
                               "data": {"manifest": "corpora/digits", "batch_size": 8, "channels": [0]}}


def test_a_chain_of_two_bases_resolves_in_order(tmp_path):
    _write(tmp_path / "a.yaml", "x: 1\ny: 1\nz: 1\nsec: {p: a, q: a, r: a}\n")
    _write(tmp_path / "b.yaml", "base: a.yaml\ny: 2\nsec: {q: b}\n")
    c = _write(tmp_path / "c.yaml", "base: b.yaml\nz: 3\nsec: {r: c}\n")
    resolved = read_yaml(c)
    assert resolved == {"x": 1, "y": 2, "z": 3, "sec": {"p": "a", "q": "b", "r": "c"}}
    assert "base" not in resolved


def test_base_paths_are_relative_to_the_file_that_names_them(tmp_path, monkeypatch):
    _write(tmp_path / "recipes" / "vocoder" / "full.yaml", "kind: full\nsize: 512\n")
    _write(tmp_path / "recipes" / "vocoder" / "mid.yaml", "base: full.yaml\nsize: 128\n")  # beside mid.yaml
    child = _write(tmp_path / "recipes" / "frames" / "child.yaml", "base: ../vocoder/mid.yaml\nsize: 16\nown: 1\n")
    monkeypatch.chdir(tmp_path / "recipes" / "frames")  # neither the working directory...
    assert read_yaml("child.yaml") == {"kind": "full", "size": 16, "own": 1}
    monkeypatch.chdir(tmp_path)  # ...nor another one changes what the paths mean
    assert read_yaml(child) == {"kind": "full", "size": 16, "own": 1}
    assert resolve_base({"base": "vocoder/full.yaml", "size": 1}, tmp_path / "recipes" / "x.yaml") == {
        "kind": "full", "size": 1}


def test_a_base_cycle_is_refused_naming_the_chain(tmp_path):
    a = _write(tmp_path / "a.yaml", "base: b.yaml\nx: 1\n")
    b = _write(tmp_path / "b.yaml", "base: a.yaml\ny: 1\n")
    assert _error(read_yaml, a) == f"{b}: base: cycle {a} -> {b} -> {a}"
    selfish = _write(tmp_path / "self.yaml", "base: ./self.yaml\n")
    assert _error(read_yaml, selfish) == f"{selfish}: base: cycle {selfish} -> {selfish}"


def test_a_missing_base_names_the_file_and_the_recipe_that_refers_to_it(tmp_path):
    child = _write(tmp_path / "sub" / "child.yaml", "base: ../gone.yaml\nx: 1\n")
    assert _error(read_yaml, child) == f"{child}: base: no such recipe file {tmp_path / 'gone.yaml'}"
    middle = _write(tmp_path / "middle.yaml", "base: missing.yaml\n")
    top = _write(tmp_path / "top.yaml", "base: middle.yaml\n")
    assert _error(read_yaml, top) == f"{middle}: base: no such recipe file {tmp_path / 'missing.yaml'}"


def test_a_base_must_be_a_path_string(tmp_path):
    for text, shown in (("base: [a.yaml]", "['a.yaml']"), ("base: null", "None"), ("base: 3", "3"),
                        ("base: ''", "''"), ("base: {path: a.yaml}", "{'path': 'a.yaml'}")):
        path = _write(tmp_path / "r.yaml", text + "\nx: 1\n")
        assert (_error(read_yaml, path)
                == f"{path}: base: expected the path of a recipe file (relative to this one), got {shown}")


def test_a_bad_base_file_is_named(tmp_path):
    bad = _write(tmp_path / "bad.yaml", "a: [1\n")
    child = _write(tmp_path / "child.yaml", "base: bad.yaml\n")
    assert re.fullmatch(rf"{re.escape(str(bad))} line 2: not valid YAML \(.*\)", _error(read_yaml, child))
    _write(tmp_path / "list.yaml", "- 1\n")
    other = _write(tmp_path / "other.yaml", "base: list.yaml\n")
    assert _error(read_yaml, other) == f"{tmp_path / 'list.yaml'}: a recipe must be a YAML mapping"


def test_without_base_the_mapping_is_returned_as_is(tmp_path):
    raw = {"x": {"y": 1}}
    assert resolve_base(raw, tmp_path / "r.yaml") is raw


def test_overrides_apply_after_the_base(tmp_path):
    _write(tmp_path / "full.yaml", "data: {batch_size: 64, num_workers: 6}\nmodel: {kwargs: {width: 64}}\n")
    child = _write(tmp_path / "child.yaml", "base: full.yaml\ndata: {batch_size: 4}\n")
    raw = apply_overrides(read_yaml(child), ["data.batch_size=2", "model.kwargs.width=8", "data.extra=[1, 2]"])
    assert raw == {"data": {"batch_size": 2, "num_workers": 6, "extra": [1, 2]}, "model": {"kwargs": {"width": 8}}}
    with pytest.raises(ConfigError, match=r"^recipe\.base: unknown section"):  # 'base' cannot come in by --set
        parse_recipe(apply_overrides(_raw(), ["base=full.yaml"]), SCHEMES, MODELS)


def test_load_recipe_resolves_the_base_of_a_repository_recipe(tmp_path):
    from speechgen.training.registry import load_recipe

    tiny = REPO_RECIPES / "classifier" / "classifier-tiny.yaml"
    full = read_yaml(REPO_RECIPES / "classifier" / "classifier.yaml")
    recipe = load_recipe(tiny, ["data.batch_size=3"])
    assert "base" not in recipe.raw and recipe.path == tiny
    assert recipe.data.batch_size == 3 and recipe.raw["data"]["batch_size"] == 3
    assert recipe.model.kwargs["widths"] == [8, 16]  # the tiny file's
    assert recipe.model.kwargs["n_mels"] == full["model"]["kwargs"]["n_mels"] == 80  # its base's
    assert recipe.train.label_smoothing == full["train"]["label_smoothing"]
    # a recipe outside the repository may start from one of its recipes by a relative path
    child = _write(tmp_path / "mine.yaml", f"base: {os.path.relpath(tiny, tmp_path)}\ntrain: {{max_steps: 7}}\n")
    mine = load_recipe(child)
    assert mine.train.max_steps == 7 and mine.model.kwargs["widths"] == [8, 16] and mine.path == child
