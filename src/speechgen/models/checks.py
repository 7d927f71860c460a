"""Checks of model constructor arguments that raise one-line ConfigErrors naming the argument (sizes in a config
are never trusted)."""

from __future__ import annotations

from typing import Any

from speechgen.errors import ConfigError


def check_int(name: str, value: Any, minimum: int = 1, even: bool = False) -> int:
    """``value`` as an int, ConfigError naming ``name`` unless it is an integer >= ``minimum`` (and even, with
    ``even``)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum or (even and value % 2):
        raise ConfigError(f"{name}: expected {'an even' if even else 'an'} integer >= {minimum}, got {value!r}")
    return int(value)


def check_rate(name: str, value: Any) -> float:
    """``value`` as a float, ConfigError naming ``name`` unless it is a probability in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"{name}: expected a probability in [0, 1), got {value!r}")
    return float(value)
