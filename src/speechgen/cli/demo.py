"""``speechgen demo``: sample every digit from the shipped generative model, vocode the clips with the shipped
vocoder (when there is one), judge every clip with the shipped classifier and write WAVs, a spectrogram grid, an
HTML report and a JSON summary (offline, under a minute on CPU)."""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path
from typing import Any

from speechgen.cli.common import add_seed, console
from speechgen.inference.vocode import DEFAULT_VOCODER
from speechgen.errors import ConfigError

MODEL = "digits-default"
GRIFFIN_LIM_ITERS = 32
# clips per digit: 200 clips reach the minimum n of IS, AM, ln mIS and label accuracy (metrics.MIN_N) in 23-27 s on
# 2 cores; FID, FID-class (500) and NDB/K (1000) would take minutes and stay flagged (docs/results.md, Sample size)
VOCODED_GRID = "grid-vocoded.png"
DEFAULT_N = 20
REPORT_CLIPS = 40  # clips played on the demo's page (2 per digit per set; every clip stays in demo.json)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo", help="sample, judge and report the shipped digits model",
        description=f"Sample N clips of every digit 0-9 from the shipped '{MODEL}' (Griffin-Lim, "
        f"{GRIFFIN_LIM_ITERS} iterations), judge each with the shipped classifier and write OUT/wav/*.wav "
        "(+ manifest.csv), OUT/grid.png, OUT/report.html and OUT/demo.json (metrics beside the real train/test "
        "rows, per-clip digit and probability; `speechgen report OUT/demo.json` rebuilds the page). With a "
        f"shipped vocoder ('{DEFAULT_VOCODER}') the clips are also vocoded (copy synthesis of their log-mel) into "
        "OUT/vocoded/ and judged as a second set.",
    )
    p.add_argument("--out", type=Path, default=Path("out/demo"), help="output folder (default out/demo)")
    p.add_argument("--n", type=int, default=DEFAULT_N,
                   help=f"clips per digit (default {DEFAULT_N}: enough for IS, not for FID and NDB/K)")
    p.add_argument("--vocoder", default=None,
                   help="vocoder for the generated clips: shipped name or run folder (default: "
                   f"'{DEFAULT_VOCODER}' when "
                   "shipped); 'none': Griffin-Lim only")
    add_seed(p)
    p.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help="no progress output")
    p.set_defaults(func=_demo)


def _demo(args: argparse.Namespace) -> int:
    from speechgen import pretrained
    from speechgen.atomic import staged_dir
    from speechgen.inference.vocode import load_vocoder

    if args.n <= 0:
        raise ConfigError(f"--n: must be > 0, got {args.n}")
    con = console(args)
    start = time.perf_counter()
    shipped = DEFAULT_VOCODER if DEFAULT_VOCODER in pretrained.PRETRAINED else "none"
    vocoder = args.vocoder if args.vocoder is not None else shipped
    voc_model = None if vocoder == "none" else load_vocoder(vocoder)[0]  # a bad --vocoder fails before any work
    with staged_dir(args.out) as tmp:  # every file of the demo appears at the end, or none
        result, rows = _write_demo(args, tmp, con, voc_model, vocoder, start)
    out = args.out
    con.print(f"[bold]{out}[/bold]: {result['n']} WAVs in {out / 'wav'}, grid {out / 'grid.png'}, report "
              f"{out / 'report.html'}, summary {out / 'demo.json'}")
    for name, m in rows:
        con.print(f"label accuracy of the {name} clips (judge agrees with the asked digit): "
                  f"[bold]{m['label_accuracy']:.1%}[/bold] ({round(m['label_accuracy'] * m['n'])}/{m['n']})")
    caveat = _caveat(rows[0][1])
    if caveat:
        con.print(caveat, highlight=False)
    con.print(f"done in {result['wall_seconds']:.1f} s")
    return 0


def _write_demo(args: argparse.Namespace, out: Path, con: Any, voc_model: Any, vocoder: str,
                start: float) -> tuple[dict[str, Any], list[tuple[str, dict[str, Any]]]]:
    """Sample, vocode, judge and write the demo's files into the folder ``out``; return the summary and rows."""
    import torch

    from speechgen.atomic import write_text
    from speechgen.cli.report import real_examples, spread
    from speechgen.evaluation.judge import Judge, shipped_reference
    from speechgen.evaluation.pages import write_report
    from speechgen.inference.loading import data_and_feature, load_generator
    from speechgen.models.sampling import GRID_MAX, GRID_NAME, draw, write_samples

    wav_dir = out / "wav"
    with con.status(f"sampling {args.n} clip(s) of each digit from {MODEL}..."):
        model, cfg = load_generator(MODEL)
        data, feature = data_and_feature(cfg)
        n_classes = int(getattr(model, "n_classes", 0) or 10)
        labels = torch.tensor([d for d in range(n_classes) for _ in range(args.n)], dtype=torch.long)
        feats = draw(model, len(labels), labels, args.seed)
        write_samples(wav_dir, feats, feature, labels, int(data["sample_rate"]), channels=data.get("channels"),
                      seed=args.seed, n_iter=GRIFFIN_LIM_ITERS)
    if (wav_dir / GRID_NAME).is_file():
        os.replace(wav_dir / GRID_NAME, out / GRID_NAME)
    con.print(f"sampled {len(labels)} clips in {time.perf_counter() - start:.1f} s")

    vocoded: list[Path] = []
    if voc_model is not None:
        with con.status(f"vocoding the clips with {vocoder}..."):
            t = time.perf_counter()
            vocoded = _vocode_all(voc_model, wav_dir, out / "vocoded", len(labels))
        con.print(f"vocoded {len(vocoded)} clips with {vocoder} in {time.perf_counter() - t:.1f} s")
        _grid_of(vocoded, feature, int(data["sample_rate"]), labels.tolist(), out / VOCODED_GRID,
                 f"vocoded ({vocoder}): the first {min(len(vocoded), GRID_MAX)} of {len(vocoded)} clips")

    lab = labels.numpy()
    with con.status("judging the clips with the shipped classifier..."):
        judge = Judge()
        ref = shipped_reference(judge)
        wavs = [wav_dir / f"sample-{i:05d}.wav" for i in range(len(labels))]
        metrics, clips = _judge_set(judge, ref, wavs, lab, out, args)
        if vocoded:
            voc_metrics, voc_clips = _judge_set(judge, ref, vocoded, lab, out, args)
    result: dict[str, Any] = {"generated": "wav", "model": MODEL, "conditional": True, **metrics,
                              "reference": dict(ref.rows), "reference_source": "shipped",
                              "classifier_version": judge.version, "seed": args.seed,
                              "griffin_lim_iters": GRIFFIN_LIM_ITERS, "clips": clips}
    rows: list[tuple[str, dict[str, Any]]] = [("Griffin-Lim", metrics)]
    if vocoded:
        result["vocoded"] = {"vocoder": vocoder, **voc_metrics, "clips": voc_clips}
        rows.append((f"vocoded ({vocoder})", voc_metrics))
    images = [p for p in (out / GRID_NAME, out / VOCODED_GRID) if p.is_file()]
    every = [{**c, "set": name} for (name, _), group in zip(rows, [clips, voc_clips if vocoded else []])
             for c in group]
    every = spread(every, [(c["set"], c["label"]) for c in every], REPORT_CLIPS)
    write_report(out / "report.html", f"speechgen demo: {MODEL}, {args.n} clip(s) per digit", rows,
                 result["reference"], [{**c, "path": str(out / c["path"])} for c in every], images,
                 real_clips=real_examples(None))
    result["wall_seconds"] = round(time.perf_counter() - start, 2)
    write_text(out / "demo.json", json.dumps(result, indent=2) + "\n")
    return result, rows


def _caveat(metrics: dict[str, Any]) -> str | None:
    """One line naming the metrics that the demo's n clips are too few to make comparable (None: none)."""
    from speechgen.evaluation.metrics import METRIC_NAMES

    flagged = [METRIC_NAMES[k] for k, ok in (metrics.get("comparable") or {}).items()
               if not ok and k not in ("modified_inception_score", "ndb")]
    if not flagged:
        return None
    check = "" if "label accuracy" in flagged else "; the label accuracy is the demo's check"
    return (f"caveat: {metrics['n']} clips are too few for a comparable {', '.join(flagged)} (marked † in the "
            f"report; docs/results.md, Sample size){check}")


def _grid_of(wavs: list[Path], feature: Any, sample_rate: int, labels: list[int], path: Path, title: str) -> None:
    """The amplitude-image grid (with axes and a dB colour bar) of the first clips of ``wavs``, as the sample
    grid shows the generated set: the vocoded set seen the same way."""
    import numpy as np

    from speechgen.audio import io as audio_io
    from speechgen.models.sampling import GRID_MAX, image_axes, save_grid

    images = np.stack([feature(audio_io.load(w, sample_rate)[0], sample_rate)[0] for w in wavs[:GRID_MAX]])
    save_grid(path, images, labels[:GRID_MAX], title=title, **image_axes(feature, sample_rate))


def _vocode_all(model: Any, wav_dir: Path, out: Path, n: int) -> list[Path]:
    """Copy synthesis of ``wav_dir/sample-NNNNN.wav`` (n of them) into ``out`` by the vocoder ``model``."""
    import torch

    from speechgen.audio import io as audio_io
    from speechgen.inference.vocode import vocode_file

    paths = []
    with torch.inference_mode():
        for i in range(n):
            name = f"sample-{i:05d}.wav"
            y = vocode_file(model, wav_dir / name)
            audio_io.save(out / name, y, model.sample_rate)
            paths.append(out / name)
    return paths


def _judge_set(judge: Any, ref: Any, wavs: list[Path], lab: Any, out: Path,
               args: argparse.Namespace) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The judge's metrics of one set of clips (label accuracy included) and a record per clip."""
    import numpy as np

    from speechgen.evaluation.metrics import comparability, default_is_splits, sanity_failures

    probs, emb = judge.embed([str(p) for p in wavs])
    splits = default_is_splits(len(wavs))  # IS splits of at least 100 clips (one for a small demo)
    # FID-class needs two clips per digit: with --n 1 score without labels and add the accuracy alone
    metrics: dict[str, Any] = ref.score(probs, emb, lab if args.n >= 2 else None, seed=args.seed, splits=splits)
    predicted = probs.argmax(axis=1)
    metrics["label_accuracy"] = float(np.mean(predicted == lab))
    metrics["comparable"], metrics["warnings"] = comparability(len(wavs), splits, metrics, dim=emb.shape[1])
    metrics["warnings"] += sanity_failures(metrics)
    clips = [{"path": str(p.relative_to(out)), "label": int(lab[i]), "predicted": int(predicted[i]),
              "probability": float(probs[i].max())} for i, p in enumerate(wavs)]
    return metrics, clips
