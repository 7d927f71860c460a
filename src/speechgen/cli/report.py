"""``speechgen report``: one self-contained HTML page from an eval JSON (``speechgen eval --json``) or a run folder;
from several of them, one leaderboard page (a metrics row per run/eval beside the real rows, best per column
marked, a few clips and a spectrogram per entry)."""

from __future__ import annotations

import argparse
import functools
import json
from pathlib import Path
from typing import Any

from speechgen.cli.common import console
from speechgen.errors import ConfigError, DataError

MAX_SCORED_CLIPS = 2000  # a run's latest samples judged for its leaderboard row


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "report", help="write a self-contained HTML report (several inputs: a leaderboard)",
        description="From an eval JSON (written by `speechgen eval --json` or `speechgen demo`) or a run folder "
        "(its metrics.json, logs/metrics.csv loss curves and latest samples/step-*/), write one HTML file with "
        "the metrics, spectrogram grid, clips (audio embedded) with the judge's digit and probability, and loss "
        "curves. With several inputs, write one leaderboard page instead: a row of judge metrics per input "
        "(a run folder without them is scored from its latest samples) beside the real train/test rows, the best "
        "value of each column marked, and per input a few clips and their spectrograms.",
    )
    p.add_argument("sources", type=Path, nargs="+", metavar="RUN_OR_EVAL_JSON", help="run folder(s) or eval JSON(s)")
    p.add_argument("--out", type=Path, default=Path("report.html"), help="HTML file (default report.html)")
    p.add_argument("--max-clips", type=int, default=40, help="clips embedded in a single report (default 40)")
    p.add_argument("--clips-per-entry", type=int, default=3,
                   help="leaderboard: clips embedded per run/eval (default 3)")
    p.add_argument("--title", default=None, help="page title")
    p.add_argument("--classifier", default="classifier", help="judge: shipped name or checkpoint folder")
    p.add_argument("--seed", type=int, default=0, help="seed of the metrics computed for run folders (default 0)")
    p.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help="no summary")
    p.set_defaults(func=_report)


@functools.lru_cache(maxsize=2)
def _judge(classifier: str) -> Any:
    """The judge, loaded once per command (a leaderboard judges several inputs)."""
    from speechgen.evaluation.judge import Judge

    return Judge(classifier)


def judge_clips(paths: list[Path], labels: list[Any], classifier: str = "classifier") -> list[dict[str, Any]]:
    """``{path, label, predicted, probability}`` of each clip, judged by the classifier."""
    if not paths:
        return []
    probs, _ = _judge(classifier).embed([str(p) for p in paths])
    return [{"path": str(p), "label": lab, "predicted": int(pr.argmax()), "probability": float(pr.max())}
            for p, lab, pr in zip(paths, labels, probs)]


def real_examples(manifest: str | Path | None, classifier: str = "classifier") -> list[dict[str, Any]]:
    """Real clips to play beside generated ones, judged like them (``set`` = the voice): one per digit from the
    test voices of ``manifest`` when it is on disk and has a labelled test split, else the clips shipped beside
    the judge (none for a judge without them)."""
    from speechgen.data.manifest import Manifest
    from speechgen.evaluation.judge import example_rows, shipped_examples

    rows = None
    if manifest is not None and Path(manifest).exists():
        try:
            rows = example_rows(Manifest.read(manifest), "test")
        except DataError:
            rows = None
    if not rows:
        rows = shipped_examples(_judge(classifier))
    if not rows:
        return []
    clips = judge_clips([rows.resolve(r) for r in rows], [r["label"] for r in rows], classifier)
    return [{**c, "set": str(r["speaker"])} for c, r in zip(clips, rows)]


def _manifest_clips(folder: Path, limit: int) -> tuple[list[Path], list[Any]]:
    """Audio paths and labels of a sample folder (its manifest.csv, else its WAVs), at most ``limit``."""
    from speechgen.data.manifest import MANIFEST_NAME, Manifest

    if (folder / MANIFEST_NAME).is_file() or folder.suffix.lower() == ".csv":
        m = Manifest.read(folder)
        rows = spread(list(m), [r.get("label") for r in m], limit)
        return [m.resolve(r) for r in rows], [r.get("label") for r in rows]
    wavs = sorted(folder.glob("*.wav"))[:limit]
    return wavs, [None] * len(wavs)


def spread(items: list[Any], labels: list[Any], limit: int) -> list[Any]:
    """At most ``limit`` items, taken in turn from each label (so a few clips show several digits), in their
    original order."""
    if len(items) <= limit:
        return list(items)
    groups: dict[Any, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    chosen: list[int] = []
    queues = list(groups.values())
    while len(chosen) < limit:
        for q in queues:
            if q and len(chosen) < limit:
                chosen.append(q.pop(0))
    return [items[i] for i in sorted(chosen)]


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
    vocoded = result.get("vocoded")  # speechgen demo: the same clips vocoded by a shipped vocoder
    if result.get("clips"):
        sets = [("Griffin-Lim" if vocoded else "", result["clips"]),
                (f"vocoded ({(vocoded or {}).get('vocoder')})", (vocoded or {}).get("clips") or [])]
        sets = [(name, group) for name, group in sets if group]
        clips = []
        for i, (name, group) in enumerate(sets):  # each set its share of --max-clips, one per digit in turn
            share = args.max_clips // len(sets) + (i < args.max_clips % len(sets))
            tagged = [{**c, "set": name} if name else dict(c) for c in group]
            clips += spread(tagged, [c.get("label") for c in tagged], share)
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
    metrics: Any = {k: v for k, v in result.items() if k not in ("reference", "clips", "vocoded")}
    if vocoded:
        metrics = [("Griffin-Lim", metrics), (f"vocoded ({vocoded.get('vocoder')})",
                                              {k: v for k, v in vocoded.items() if k != "clips"})]
    source = result.get("reference_source")
    return {"title": f"speechgen report: {gen}", "metrics": metrics,
            "reference_rows": result.get("reference") or {}, "clips": clips, "images": images, "loss_csv": None,
            "real_manifest": None if source in (None, "shipped") else source}


def _from_run(run: Path, args: argparse.Namespace) -> dict[str, Any]:
    metrics: dict[str, Any] = {}
    if (run / "metrics.json").is_file():
        try:
            loaded = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"{run / 'metrics.json'}: unreadable ({exc})") from None
        if isinstance(loaded, dict):
            metrics = {k: v for k, v in loaded.items() if isinstance(v, (int, float, str, dict)) or v is None}
    latest = _latest_step(run)
    loss_csv = run / "logs" / "metrics.csv"
    if not metrics and latest is None and not loss_csv.is_file():
        raise DataError(f"{run}: not a run folder (no metrics.json, logs/metrics.csv or samples/step-*/)")
    clips: list[dict[str, Any]] = []
    images: list[Path] = []
    if latest is not None:
        paths, labels = _manifest_clips(latest, args.max_clips)
        clips = judge_clips(paths, labels, args.classifier)
        from speechgen.models.sampling import ALIGNMENT_NAME, GRID_NAME

        # the spectrogram grid; beside it the attention alignments of text-to-speech runs
        images = [latest / name for name in (GRID_NAME, ALIGNMENT_NAME) if (latest / name).is_file()]
    return {"title": f"speechgen run report: {run.name}", "metrics": metrics, "reference_rows": {},
            "clips": clips, "images": images, "loss_csv": loss_csv if loss_csv.is_file() else None,
            "real_manifest": _run_manifest(run), "extra_columns": True}


def _run_manifest(run: Path) -> Path | None:
    """The corpus manifest a run trained on (``data.manifest`` of its config.yaml; None when unknown)."""
    import yaml

    try:
        cfg = yaml.safe_load((run / "config.yaml").read_text(encoding="utf-8"))
        manifest = Path(str(cfg["recipe"]["data"]["manifest"]))
    except (OSError, yaml.YAMLError, KeyError, TypeError):
        return None
    return manifest


def _latest_step(run: Path) -> Path | None:
    """The run's latest ``samples/step-*`` folder (None if it has none)."""
    steps = sorted(p for p in (run / "samples").glob("step-*") if p.is_dir()) if (run / "samples").is_dir() else []
    return steps[-1] if steps else None


def score_run_samples(run: Path, classifier: str = "classifier", seed: int = 0,
                      ) -> tuple[dict[str, Any], dict[str, Any]]:
    """Judge metrics of a run's latest samples against the shipped reference, and the reference rows.

    Label accuracy (and FID-class when every digit has two clips) for samples whose manifest has labels.
    ``({}, {})`` when the run has no sample WAVs.
    """
    import numpy as np

    from speechgen.evaluation.judge import shipped_reference

    latest = _latest_step(run)
    if latest is None:
        return {}, {}
    paths, labels = _manifest_clips(latest, MAX_SCORED_CLIPS)
    if not paths:
        return {}, {}
    from speechgen.evaluation.metrics import comparability, default_is_splits, sanity_failures

    judge = _judge(classifier)
    probs, feats = judge.embed([str(p) for p in paths])
    ref = shipped_reference(judge)
    y = None
    if all(isinstance(v, int) for v in labels):
        y = np.asarray(labels, dtype=np.int64)
    per_class_ok = y is not None and all(int((y == c).sum()) >= 2 for c in np.unique(y))
    # a handful of training samples: FID is still computed (and flagged), without warnings
    metrics = ref.score(probs, feats, y if per_class_ok else None, seed=seed, splits=default_is_splits(len(paths)))
    if y is not None and not per_class_ok:
        metrics["label_accuracy"] = float(np.mean(probs.argmax(1) == y))
        metrics["comparable"], metrics["warnings"] = comparability(len(paths), metrics["is_splits"], metrics,
                                                                   dim=feats.shape[1])
        metrics["warnings"] += sanity_failures(metrics)
    metrics["scored_from"] = latest.name
    return metrics, dict(ref.rows)


def _load(src: Path, args: argparse.Namespace) -> dict[str, Any]:
    """The parts of one report (see :func:`speechgen.evaluation.pages.write_report`) of a run or an eval JSON."""
    if src.is_dir():
        return _from_run(src, args)
    if src.is_file() and src.suffix.lower() == ".json":
        return _from_eval_json(src, args)
    if not src.exists():
        raise DataError(f"{src}: no such run folder or eval JSON")
    raise DataError(f"{src}: expected a run folder or an eval JSON (from `speechgen eval --json`)")


def _sets(parts: dict[str, Any], per_entry: int) -> list[tuple[str | None, dict[str, Any], list[dict[str, Any]]]]:
    """The judged sets of one input: ``(set name, metrics, clips)``; an eval JSON of ``speechgen demo`` holds two
    (the Griffin-Lim clips and the vocoded ones, each a row), anything else one (name None)."""
    metrics = parts["metrics"]
    if isinstance(metrics, list):  # [(set name, metrics), ...]
        return [(name, dict(m), spread(group := [c for c in parts["clips"] if c.get("set") == name],
                                       [c.get("label") for c in group], per_entry)) for name, m in metrics]
    return [(None, dict(metrics), spread(parts["clips"], [c.get("label") for c in parts["clips"]], per_entry))]


def _run_eval_json(run: Path) -> dict[str, Any] | None:
    """The judge's metrics of a run from ``RUN/eval.json`` (``speechgen eval RUN/eval --json RUN/eval.json``, as
    scripts/train_and_judge.sh writes it), None when it has none."""
    path = run / "eval.json"
    if not path.is_file():
        return None
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"{path}: not a readable eval JSON ({exc})") from None
    if not isinstance(result, dict) or "generated" not in result:
        return None
    return result


def leaderboard_entries(sources: list[Path], args: argparse.Namespace,
                        ) -> tuple[list[dict[str, Any]], list[tuple[str, dict[str, Any]]]]:
    """Leaderboard entries ``{label, source, metrics, clips}`` and the distinct real reference rows.

    An eval JSON gives one entry (``speechgen demo``'s two: its Griffin-Lim and vocoded sets); a run folder gives
    its ``eval.json`` when it has one, else its metrics.json scored by the judge from its latest samples.
    """
    from speechgen.evaluation.pages import HIGHER_IS_BETTER

    sub = argparse.Namespace(**{**vars(args), "max_clips": 2 * args.clips_per_entry})
    entries, refs, seen = [], [], {}
    for src in sources:
        parts = _load(src, sub)
        reference = dict(parts["reference_rows"])
        sets = _sets(parts, args.clips_per_entry)
        if src.is_dir() and not any(k in sets[0][1] for k in HIGHER_IS_BETTER):
            judged = _run_eval_json(src)
            if judged is not None:
                sets[0][1].update({k: v for k, v in judged.items() if k not in ("reference", "clips", "vocoded")})
                reference = dict(judged.get("reference") or {})
            else:
                scored, reference = score_run_samples(src, args.classifier, args.seed)
                sets[0][1].update(scored)
        for set_name, metrics, clips in sets:
            label = str(metrics.get("model") or sets[0][1].get("model") or (src.name if src.is_dir() else src.stem))
            if set_name:
                label = f"{label}, {set_name}"
            if any(e["label"] == label for e in entries):
                label = f"{label} ({src})"
            entries.append({"label": label, "source": str(src), "metrics": metrics, "clips": clips})
        for split, row in reference.items():
            key = json.dumps(row, sort_keys=True, default=str)
            if key not in seen:
                seen[key] = True
                same_split = sum(1 for name, _ in refs if name.split(" (")[0] == f"real {split}")
                refs.append((f"real {split}" + (f" ({label})" if same_split else ""), row))
    return entries, refs


def _report(args: argparse.Namespace) -> int:
    try:
        return _write(args)
    finally:
        _judge.cache_clear()  # one judge per command, not per process


def _write(args: argparse.Namespace) -> int:
    from speechgen.evaluation.pages import write_leaderboard, write_report

    if args.max_clips < 0:
        raise ConfigError(f"--max-clips: must be >= 0, got {args.max_clips}")
    if args.clips_per_entry < 0:
        raise ConfigError(f"--clips-per-entry: must be >= 0, got {args.clips_per_entry}")
    sources: list[Path] = args.sources
    if len(sources) == 1:
        parts = _load(sources[0], args)
        if args.title:
            parts["title"] = args.title
        parts["real_clips"] = real_examples(parts.pop("real_manifest"), args.classifier)
        out = write_report(args.out, **parts)
        console(args).print(f"[bold]{out}[/bold]: report of {len(parts['clips'])} clip(s)")
        return 0
    entries, refs = leaderboard_entries(sources, args)
    out = write_leaderboard(args.out, args.title or f"speechgen leaderboard: {len(entries)} entries", entries, refs,
                            real_examples(None, args.classifier))
    console(args).print(f"[bold]{out}[/bold]: leaderboard of {len(entries)} entries")
    return 0
