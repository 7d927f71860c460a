"""The text front end of the text-to-speech family: what the toolkit can speak is digit strings.

Any spelling of a digit string is normalised to one list of digits (:func:`parse_digits`): numerals (``"427"``,
``"4 2 7"``, ``"4-2-7"``), digit words (``"four two seven"``, any case) and ``"oh"`` for zero, mixed freely and
separated by spaces, commas, hyphens, periods or semicolons. Text it cannot speak (a letter, another word, nothing,
more than ``max_digits`` digits) raises :class:`~speechgen.errors.DataError` naming the offending token.

A model reads the digits as symbols of a :class:`SymbolSet` (``SYMBOL_SETS``):

- ``chars``: the characters of the digit words with a space between words (``"four two"`` → f, o, u, r, ␣, t, w,
  o), the usual Tacotron input;
- ``phonemes``: the words' phonemes (ARPAbet without stress, from the CMU pronouncing dictionary's entries of the
  ten words) with a word-boundary symbol between words: fewer, unambiguous symbols (``o`` is three different
  sounds in zero, one and two);
- ``digits``: one symbol per digit (the recognizer's CTC targets, 0-9).

Every sequence of ``chars`` and ``phonemes`` ends with :data:`EOS`; index :data:`PAD` pads batches. The manifest's
``text`` column of a digit-string corpus holds the canonical form :func:`digits_text` (``"4 2 7"``).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass

from speechgen.errors import ConfigError, DataError

DIGIT_WORDS: tuple[str, ...] = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
#: spoken aliases of digits besides their words
ALIASES: dict[str, int] = {"oh": 0}
#: ARPAbet (stress removed) of the ten digit words, from the CMU pronouncing dictionary
PHONEMES: dict[str, tuple[str, ...]] = {
    "zero": ("Z", "IH", "R", "OW"), "one": ("W", "AH", "N"), "two": ("T", "UW"), "three": ("TH", "R", "IY"),
    "four": ("F", "AO", "R"), "five": ("F", "AY", "V"), "six": ("S", "IH", "K", "S"),
    "seven": ("S", "EH", "V", "AH", "N"), "eight": ("EY", "T"), "nine": ("N", "AY", "N"),
}
MAX_DIGITS = 40  # the default cap: about 15 s of speech at the corpus's pace
PAD, EOS = 0, 1  # symbol indices shared by every symbol set except ``digits``
WORD_BREAK = " "
_SPLIT = re.compile(r"[\s,;.\-]+")
_WORD_TO_DIGIT = {w: i for i, w in enumerate(DIGIT_WORDS)} | ALIASES


def parse_digits(text: str, max_digits: int = MAX_DIGITS) -> list[int]:
    """The digits ``text`` spells (see the module docstring); DataError naming the first token it cannot speak,
    or when there are no digits or more than ``max_digits``."""
    if not isinstance(text, str):
        raise DataError(f"text: expected a string, got {type(text).__name__}")
    digits: list[int] = []
    for token in _SPLIT.split(text.strip()):
        if not token:
            continue
        word = token.lower()
        if word.isascii() and word.isdigit():
            digits.extend(int(c) for c in word)
        elif word in _WORD_TO_DIGIT:
            digits.append(_WORD_TO_DIGIT[word])
        else:
            raise DataError(f"text {text!r}: cannot speak {token!r} (only the digits 0-9, their words zero ... nine "
                            f"and 'oh')")
    if not digits:
        raise DataError(f"text {text!r}: no digits to speak")
    if len(digits) > max_digits:
        raise DataError(f"text {text!r}: {len(digits)} digits, at most {max_digits}")
    return digits


def digits_text(digits: Sequence[int]) -> str:
    """The canonical manifest form of a digit string: ``[4, 2, 7]`` → ``"4 2 7"``."""
    return " ".join(str(int(d)) for d in digits)


def digit_words(digits: Sequence[int]) -> str:
    """The words of a digit string: ``[4, 2, 7]`` → ``"four two seven"``."""
    return " ".join(DIGIT_WORDS[int(d)] for d in digits)


def edit_distance(reference: Sequence[int], hypothesis: Sequence[int]) -> int:
    """Levenshtein distance between two digit strings: the fewest substitutions, deletions and insertions that
    turn ``reference`` into ``hypothesis`` (the digit error rate of :mod:`speechgen.evaluation.strings` counts
    these)."""
    ref, hyp = [int(d) for d in reference], [int(d) for d in hypothesis]
    row = list(range(len(hyp) + 1))
    for i, r in enumerate(ref, 1):
        prev, row[0] = row[0], i
        for j, h in enumerate(hyp, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (r != h))
    return row[-1]


def held_out(text: str, fraction: float) -> bool:
    """Whether the digit string ``text`` falls in a held-out ``fraction`` of all strings, by a stable hash of its
    digits (the same answer on every machine and for every spelling): held-out strings are never trained on."""
    if not 0.0 <= fraction < 1.0:
        raise ConfigError(f"held-out fraction: expected a number in [0, 1), got {fraction!r}")
    key = digits_text(parse_digits(text, max_digits=10**6)).encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "big") < fraction * 2**64


@dataclass(frozen=True)
class SymbolSet:
    """A model's input alphabet: ``symbols[i]`` is the symbol of index ``i``.

    Args:
        name: the key in :data:`SYMBOL_SETS`.
        symbols: the alphabet (for ``chars`` and ``phonemes`` its first two entries are the pad and end symbols).
    """

    name: str
    symbols: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.symbols)

    def encode_digits(self, digits: Sequence[int]) -> list[int]:
        """The symbol indices of a digit string (ending with EOS, except for ``digits``)."""
        if self.name == "digits":
            return [int(d) for d in digits]
        index = {s: i for i, s in enumerate(self.symbols)}
        out: list[int] = []
        for k, d in enumerate(digits):
            if k:
                out.append(index[WORD_BREAK])
            word = DIGIT_WORDS[int(d)]
            out.extend(index[s] for s in (PHONEMES[word] if self.name == "phonemes" else word))
        return out + [EOS]

    def encode(self, text: str, max_digits: int = MAX_DIGITS) -> list[int]:
        """The symbol indices of ``text`` (any spelling :func:`parse_digits` reads)."""
        return self.encode_digits(parse_digits(text, max_digits))

    def decode(self, ids: Sequence[int]) -> str:
        """The symbols of ``ids`` joined (pad and end symbols dropped; phonemes separated by spaces)."""
        keep = [self.symbols[i] for i in ids if self.name == "digits" or int(i) > EOS]
        if self.name == "chars":
            return "".join(keep)
        return " ".join("|" if s == WORD_BREAK else s for s in keep)


def _alphabet(extra: list[str]) -> tuple[str, ...]:
    return ("<pad>", "<eos>", WORD_BREAK, *sorted(set(extra)))


SYMBOL_SETS: dict[str, SymbolSet] = {
    "chars": SymbolSet("chars", _alphabet([c for w in DIGIT_WORDS for c in w])),
    "phonemes": SymbolSet("phonemes", _alphabet([p for w in DIGIT_WORDS for p in PHONEMES[w]])),
    "digits": SymbolSet("digits", tuple(str(d) for d in range(10))),
}


def symbol_set(name: str) -> SymbolSet:
    """The symbol set called ``name``; ConfigError naming the choices otherwise."""
    if name not in SYMBOL_SETS:
        raise ConfigError(f"symbols: expected one of {', '.join(SYMBOL_SETS)}, got {name!r}")
    return SYMBOL_SETS[name]
