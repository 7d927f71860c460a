"""``--seed`` is checked once for every command that has it, before any work: one line, exit 2."""

import argparse

import pytest

from speechgen.cli.main import MAX_SEED, build_parser, main


def _args(parser) -> list[str]:
    """A value for each positional and each required option (never looked at: the seed is refused first)."""
    out = []
    for a in parser._actions:
        if not a.option_strings and a.dest not in ("help", "command"):
            out += ["x"] * (1 if a.nargs in (None, "?") else 2 if a.nargs == "+" else 1)
        elif a.required and a.option_strings:
            out += [a.option_strings[0], "x"]
    return out


def _commands_with_seed() -> list[list[str]]:
    sub = next(a for a in build_parser()._actions if a.dest == "command")
    out = []
    for name, p in sub.choices.items():
        groups = [a for a in p._actions if isinstance(a, argparse._SubParsersAction)
                  and getattr(a, "choices", None) and isinstance(a.choices, dict)]  # nested subcommands
        if groups:
            out += [[name, child, *_args(cp)] for child, cp in groups[0].choices.items()
                    if any("--seed" in a.option_strings for a in cp._actions)]
        elif any("--seed" in a.option_strings for a in p._actions):
            out.append([name, *_args(p)])
    return out


COMMANDS = _commands_with_seed()


def test_the_check_covers_the_commands_with_seeds():
    assert {c[0] for c in COMMANDS} >= {"sample", "demo", "eval", "train", "vocode", "report"}


@pytest.mark.parametrize("seed", ["-1", str(MAX_SEED + 1), str(10**30)])
@pytest.mark.parametrize("cmd", COMMANDS, ids=[" ".join(c[:2]) for c in COMMANDS])
def test_out_of_range_seeds_are_one_line(cmd, seed, tmp_path, capsys):
    assert main([*cmd, "--seed", seed]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"speechgen: error: --seed: must be in 0..{MAX_SEED}, got {seed}"
