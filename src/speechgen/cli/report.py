"""``speechgen report``: one self-contained HTML page from an eval JSON (``speechgen eval --json``) or a run folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from speechgen.cli.common import console
from speechgen.errors import ConfigError, DataError


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write a self-contained HTML report",
        description="From an eval JSON (written by `speechgen eval --json` or `speechgen demo`) or a run folder "
        "(its metrics.json, logs/metrics.csv loss curves and latest samples/step-*/), write one HTML file with "
        "the metrics, spectrogram grid, clips (audio embedded) with the judge's digit and probability, and loss "
        "curves.",
    )
    p.add_argument("source", type=Path, metavar="RUN_OR_EVAL_JSON", help="run folder or eval JSON")
    p.add_argument("--out", type=Path, default=Path("report.html"), help="HTML file (default report.html)")
    p.add_argument("--max-clips", type=int, default=40, help="clips embedded in the page (default 40)")
    p.add_argument("--classifier", default="classifier", help="judge: shipped name or checkpoint folder")
    p.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help="no summary")
    p.set_defaults(func=_report)


def judge_clips(paths: list[Path], labels: list[Any], classifier: str = "classifier") -> list[dict[str, Any]]:
    """``{path, label, predicted, probability}`` of each clip, judged by the classifier."""
    from speechgen.evaluation.judge import Judge

    if not paths:
        return []
    probs, _ = Judge(classifier).embed([str(p) for p in paths])
    return [{"path": str(p), "label": lab, "predicted": int(pr.argmax()), "probability": float(pr.max())}
            for p, lab, pr in zip(paths, labels, probs)]


def _manifest_clips(folder: Path, limit: int) -> tuple[list[Path], list[Any]]:
    """Audio paths and labels of a sample folder (its manifest.csv, else its WAVs), at most ``limit``."""
    from speechgen.data.manifest import MANIFEST_NAME, Manifest

    if (folder / MANIFEST_NAME).is_file() or folder.suffix.lower() == ".csv":
        m = Manifest.read(folder)
        rows = list(m)[:limit]
        return [m.resolve(r) for r in rows], [r.get("label") for r in rows]
    wavs = sorted(folder.glob("*.wav"))[:limit]
    return wavs, [None] * len(wavs)


def _from_eval_json(path: Path, args: argparse.Namespace) -> dict[str, Any]:
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable eval JSON ({exc})") from None
    if not isinstance(result, dict) or "generated" not in result:
        raise DataError(f"{path}: not an eval JSON (no 'generated' key; write one with `speechgen eval --json`)")
    gen = Path(str(result["generated"]))
    if not gen.is_absolute() and not gen.exists():
        gen = path.parent / gen
    if result.get("clips"):
        clips = list(result["clips"])[:args.max_clips]
        for c in clips:
            p = Path(str(c["path"]))
            if not p.is_absolute() and not p.exists():
                c["path"] = str(path.parent / p)
    else:
        if not gen.exists():
            raise DataError(f"{path}: generated clips {gen} are not here")
        paths, labels = _manifest_clips(gen, args.max_clips)
        clips = judge_clips(paths, labels, args.classifier)
    folder = gen if gen.is_dir() else gen.parent
    images = [p for p in (folder / "grid.png", path.parent / "grid.png") if p.is_file()][:1]
    metrics = {k: v for k, v in result.items() if k not in ("reference", "clips")}
    return {"title": f"speechgen report: {gen}", "metrics": metrics,
            "reference_rows": result.get("reference") or {}, "clips": clips, "images": images, "loss_csv": None}


def _from_run(run: Path, args: argparse.Namespace) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    if (run / "metrics.json").is_file():
        try:
            loaded = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{run / 'metrics.json'}: unreadable ({exc})") from None
        if isinstance(loaded, dict):
            metrics = {k: v for k, v in loaded.items() if isinstance(v, (int, float, str, dict)) or v is None}
    steps = sorted(p for p in (run / "samples").glob("step-*") if p.is_dir()) if (run / "samples").is_dir() else []
    loss_csv = run / "logs" / "metrics.csv"
    if not metrics and not steps and not loss_csv.is_file():
        raise DataError(f"{run}: not a run folder (no metrics.json, logs/metrics.csv or samples/step-*/)")
    clips: list[dict[str, Any]] = []
    images: list[Path] = []
    if steps:
        latest = steps[-1]
        paths, labels = _manifest_clips(latest, args.max_clips)
        clips = judge_clips(paths, labels, args.classifier)
        images = [latest / "grid.png"] if (latest / "grid.png").is_file() else []
    return {"title": f"speechgen run report: {run.name}", "metrics": metrics, "reference_rows": {},
            "clips": clips, "images": images, "loss_csv": loss_csv if loss_csv.is_file() else None}


def _report(args: argparse.Namespace) -> int:
    from speechgen.evaluation.report import write_report

    if args.max_clips < 0:
        raise ConfigError(f"--max-clips: must be >= 0, got {args.max_clips}")
    src: Path = args.source
    if src.is_dir():
        parts = _from_run(src, args)
    elif src.is_file() and src.suffix.lower() == ".json":
        parts = _from_eval_json(src, args)
    elif not src.exists():
        raise DataError(f"{src}: no such run folder or eval JSON")
    else:
        raise DataError(f"{src}: expected a run folder or an eval JSON (from `speechgen eval --json`)")
    out = write_report(args.out, **parts)
    console(args).print(f"[bold]{out}[/bold]: report of {len(parts['clips'])} clip(s)")
    return 0
