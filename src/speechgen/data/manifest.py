"""One manifest schema for every source (our corpus builder and every reader).

A manifest is a CSV file with at least the columns in :data:`COLUMNS`; readers may add more (kept as strings).
``path`` is relative to the manifest's folder (or absolute). ``label`` is the digit 0-9 or empty; ``split`` is
one of :data:`SPLITS`.
"""

from __future__ import annotations

import csv
import io
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from speechgen.atomic import write_text
from speechgen.errors import DataError

COLUMNS: tuple[str, ...] = ("path", "label", "text", "speaker", "engine", "split", "duration", "sample_rate")
SPLITS: tuple[str, ...] = ("train", "valid", "test")
MANIFEST_NAME = "manifest.csv"
MAX_LABEL = 9  # labels are spoken digits


def _parse_row(raw: dict[str, str], where: str) -> dict[str, object]:
    row: dict[str, object] = {k: (v if v is not None else "") for k, v in raw.items()}
    if not row.get("path"):
        raise DataError(f"{where}: empty 'path'")
    label = str(row.get("label", "")).strip()
    try:
        row["label"] = int(label) if label != "" else None
        row["duration"] = float(row["duration"]) if str(row.get("duration", "")).strip() else None
        row["sample_rate"] = int(row["sample_rate"]) if str(row.get("sample_rate", "")).strip() else None
    except ValueError as exc:
        raise DataError(f"{where}: bad value ({exc})") from exc
    if row["label"] is not None and not 0 <= int(row["label"]) <= MAX_LABEL:  # type: ignore[call-overload]
        raise DataError(f"{where}: label {row['label']} is not a digit 0..{MAX_LABEL} (leave it empty for a clip "
                        "without one)")
    if row["split"] not in SPLITS:
        raise DataError(f"{where}: split '{row['split']}' is not one of {', '.join(SPLITS)}")
    return row


def _format(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


@dataclass
class Manifest:
    """Rows of a manifest plus the folder their relative paths start from."""

    root: Path
    rows: list[dict[str, object]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self) -> Iterator[dict[str, object]]:
        return iter(self.rows)

    @property
    def columns(self) -> list[str]:
        extra: list[str] = []
        for row in self.rows:
            for k in row:
                if k not in COLUMNS and k not in extra:
                    extra.append(k)
        return list(COLUMNS) + extra

    def resolve(self, row: dict[str, object]) -> Path:
        """Absolute path of a row's audio file."""
        p = Path(str(row["path"]))
        return p if p.is_absolute() else self.root / p

    def with_train_rows(self, others: Iterable[Manifest]) -> Manifest:
        """This manifest plus the train rows of ``others`` (their paths made absolute; their valid and test rows
        left out): more training voices without touching the held-out splits this manifest is judged on."""
        rows = list(self.rows)
        for other in others:
            rows += [dict(r, path=str(other.resolve(r))) for r in other.rows if r.get("split") == "train"]
        return Manifest(self.root, rows)

    def select(self, split: str | Iterable[str] | None = None, labelled: bool | None = None) -> Manifest:
        """Rows of the given split(s); ``labelled=True`` keeps rows with a digit label, ``False`` those without."""
        splits = {split} if isinstance(split, str) else (set(split) if split is not None else None)
        if splits is not None and not splits <= set(SPLITS):
            raise DataError(f"unknown split(s) {sorted(splits - set(SPLITS))}; expected {', '.join(SPLITS)}")
        rows = [
            r for r in self.rows
            if (splits is None or r["split"] in splits)
            and (labelled is None or (r["label"] is not None) == labelled)
        ]
        return Manifest(self.root, rows)

    def counts(self, key: str) -> Counter:
        return Counter(str(r.get(key, "")) for r in self.rows)

    def to_csv(self) -> str:
        buf = io.StringIO()
        cols = self.columns
        writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
        writer.writeheader()
        for row in self.rows:
            writer.writerow({c: _format(row.get(c)) for c in cols})
        return buf.getvalue()

    def write(self, path: str | os.PathLike | None = None) -> Path:
        """Atomically write the manifest (default ``root/manifest.csv``)."""
        target = Path(path) if path is not None else self.root / MANIFEST_NAME
        return write_text(target, self.to_csv())

    @classmethod
    def read(cls, path: str | os.PathLike, lenient: bool = False) -> Manifest:
        """Read and validate a manifest CSV (or a folder holding ``manifest.csv``).

        lenient: accept any CSV with a ``path`` column (a list of clips to judge); the other columns are filled in
        (label empty, split ``test``, ...).
        """
        p = Path(path)
        if p.is_dir():
            p = p / MANIFEST_NAME
        if not p.exists():
            raise DataError(f"{p}: no such manifest")
        try:
            text = p.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise DataError(f"{p}: cannot read manifest ({exc})") from exc
        reader = csv.DictReader(io.StringIO(text))
        fields = [f.strip() for f in reader.fieldnames or []]
        reader.fieldnames = fields
        missing = [c for c in (("path",) if lenient else COLUMNS) if c not in fields]
        if missing:
            raise DataError(f"{p}: not a speechgen manifest (missing column(s) {', '.join(missing)})")
        defaults = {c: "" for c in COLUMNS} | {"split": "test"} if lenient else {}
        rows = [_parse_row({**defaults, **{k: v for k, v in raw.items() if k is not None}}, f"{p} line {i + 2}")
                for i, raw in enumerate(reader)]
        if not rows:
            raise DataError(f"{p}: manifest has no rows")
        return cls(p.parent.resolve(), rows)


def make_row(
    path: str,
    *,
    label: int | None,
    text: str,
    speaker: str,
    engine: str,
    split: str,
    duration: float,
    sample_rate: int,
    **extra: object,
) -> dict[str, object]:
    """Build a row with every required column (and any extra ones)."""
    if split not in SPLITS:
        raise DataError(f"split '{split}' is not one of {', '.join(SPLITS)}")
    row: dict[str, object] = dict(
        path=path, label=label, text=text, speaker=speaker, engine=engine, split=split,
        duration=duration, sample_rate=sample_rate,
    )
    row.update(extra)
    return row
