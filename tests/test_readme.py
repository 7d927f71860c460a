"""The README and docs/: the README's Python example runs as written; the README stays a short user guide whose
links, recipe paths and command map match the repository; no file points outside the repository; the LICENSE is
the Apache License 2.0."""

import os
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
PAGES = [README, *DOCS]
EXPECTED_DOCS = {"architecture.md", "data.md", "results.md", "training.md", "vocoders.md", "web.md"}
MAX_README_LINES = 200

FENCE = re.compile(r"^\s*(```|~~~)")
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
RECIPE_PATH = re.compile(r"recipes/[\w.-]+(?:/[\w.-]+)*\.yaml")
COMMAND = re.compile(r"`speechgen ([a-z][\w-]*)(?: ([a-z][\w-]*))?")
# Spelled in pieces so that this file does not match itself.
OUTSIDE = ("shared/" + "DESIGN", "DESIGN" + " §", "DESIGN" + ".md", "../" + "shared/")
TEXT_SUFFIXES = {".py", ".md", ".yaml", ".yml", ".sh", ".toml", ".txt", ".cfg", ".ini"}
TEXT_NAMES = {"Makefile", "run"}  # run: .ci/run
SKIP_DIRS = {".git", ".venv", "out", "runs", "corpora", "cache", "build", "dist", "__pycache__", ".pytest_cache"}


def _prose(text: str) -> str:
    """``text`` without its fenced code blocks (a ``# comment`` in a bash block is not a heading)."""
    out, inside = [], False
    for line in text.splitlines():
        if FENCE.match(line):
            inside = not inside
            continue
        if not inside:
            out.append(line)
    return "\n".join(out)


def _anchors(page: Path) -> set[str]:
    """The anchors GitHub gives the headings of a Markdown page (lower case, punctuation dropped, spaces → '-',
    '-1', '-2', ... for repeats)."""
    seen: dict[str, int] = {}
    out = set()
    for line in _prose(page.read_text(encoding="utf-8")).splitlines():
        m = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not m:
            continue
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def _links(page: Path) -> list[str]:
    return LINK.findall(_prose(page.read_text(encoding="utf-8")))


def test_python_api_example_runs(tmp_path):
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Python API"):]
    code = re.search(r"```python\n(.*?)```", section, re.S).group(1)
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        scope: dict = {}
        exec(compile(code, "README.md", "exec"), scope)  # noqa: S102 - our own documentation
    finally:
        os.chdir(cwd)
    assert (tmp_path / "seven.wav").stat().st_size > 30000
    assert list(scope["clips"].labels) == [3, 3, 7, 7]
    assert scope["scores"]["label_accuracy"] >= 0.75
    # 4 clips: the metrics are printed with their caveat (FID of 4 clips is not comparable with the tables)
    assert scope["scores"]["comparable"]["fid"] is False
    assert scope["scores"]["warnings"][0].startswith("FID of 4 clips: not comparable")


def test_readme_is_a_short_guide():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; move the detail to docs/"


def test_readme_links_every_docs_page():
    assert EXPECTED_DOCS <= {p.name for p in DOCS}
    linked = {(README.parent / t.split("#")[0]).resolve() for t in _links(README) if not t.startswith("#")}
    for page in DOCS:
        assert page.resolve() in linked, f"README.md does not link docs/{page.name}"
    assert (ROOT / "LICENSE").resolve() in linked


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_relative_links_point_to_files_and_headings_that_exist(page):
    for target in _links(page):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f"{page.name}: link {target} points to a missing file"
        assert ROOT in dest.parents or dest == ROOT, f"{page.name}: link {target} leaves the repository"
        if anchor and dest.suffix == ".md":
            assert anchor in _anchors(dest), f"{page.name}: link {target}: no heading #{anchor} in {dest.name}"


def test_recipe_paths_in_readme_and_docs_exist():
    found = 0
    for page in PAGES:
        for rel in RECIPE_PATH.findall(page.read_text(encoding="utf-8")):
            found += 1
            assert (ROOT / rel).is_file(), f"{page.name}: {rel} does not exist"
    assert found > 20  # the results pages name their recipes


def _repository_text_files() -> list[Path]:
    """Tracked and new (not ignored) text files; a walk of the tree when git is unavailable."""
    try:
        out = subprocess.run(["git", "ls-files", "--cached", "--others", "--exclude-standard"], cwd=ROOT,
                             capture_output=True, text=True, timeout=60, check=True).stdout.splitlines()
        files = [ROOT / line for line in out]
    except (OSError, subprocess.SubprocessError):
        files = [p for p in ROOT.rglob("*") if not SKIP_DIRS & set(p.relative_to(ROOT).parts)]
    return [p for p in files if p.is_file() and (p.suffix in TEXT_SUFFIXES or p.name in TEXT_NAMES)]


def test_nothing_points_outside_the_repository():
    files = _repository_text_files()
    assert len(files) > 100
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for needle in OUTSIDE:
            assert needle not in text, f"{path.relative_to(ROOT)} mentions {needle!r}: point to docs/ instead"


# -- the command map ----------------------------------------------------------------------------------------------
def _subcommands(parser) -> dict:
    """name → sub-parser of an argparse parser's sub-commands ({} when it has none)."""
    import argparse

    for action in parser._actions:  # noqa: SLF001 - argparse keeps sub-parsers here only
        if isinstance(action, argparse._SubParsersAction):  # noqa: SLF001
            return dict(action.choices)
    return {}


def _command_map() -> list[tuple[str, str]]:
    text = README.read_text(encoding="utf-8")
    start = text.index("\n## Commands")
    end = text.find("\n## ", start + 1)
    section = text[start:end if end != -1 else len(text)]
    return sorted(set(COMMAND.findall(section)))


MAP = _command_map()


def _parser():
    from speechgen.cli.main import build_parser

    return build_parser()


def test_command_map_is_not_empty():
    assert len({cmd for cmd, _ in MAP}) >= 15


@pytest.mark.parametrize("cmd,sub", MAP, ids=[f"{c} {s}".strip() for c, s in MAP])
def test_every_command_in_the_map_exists(cmd, sub):
    top = _subcommands(_parser())
    assert cmd in top, f"README command map: `speechgen {cmd}` is not a speechgen command"
    nested = _subcommands(top[cmd])
    if nested and sub:
        assert sub in nested, f"README command map: `speechgen {cmd} {sub}` is not a speechgen command"


def test_every_command_is_in_the_map():
    named = {cmd for cmd, _ in MAP}
    named_pairs = set(MAP)
    for cmd, sub_parser in _subcommands(_parser()).items():
        assert cmd in named, f"README command map lacks `speechgen {cmd}`"
        for sub in _subcommands(sub_parser):
            assert (cmd, sub) in named_pairs, f"README command map lacks `speechgen {cmd} {sub}`"


def test_license_is_the_apache_license():
    text = (ROOT / "LICENSE").read_text(encoding="utf-8")
    assert "Apache License" in text and "Version 2.0" in text
    assert "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION" in text
    assert "END OF TERMS AND CONDITIONS" in text
