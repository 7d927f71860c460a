"""One self-contained HTML report of a set of generated clips: metrics beside the real reference rows, the
spectrogram grid, the clips (audio embedded as base64 data URIs) with the judge's digit and probability, and
loss curves from a run's ``logs/metrics.csv``. The page has no external references, so it still works when moved.
"""

from __future__ import annotations

import base64
import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

from speechgen.atomic import write_text
from speechgen.errors import DataError

# metric key -> column heading, in display order
METRIC_COLUMNS = {
    "n": "n",
    "inception_score": "IS",
    "fid": "FID",
    "log_modified_inception_score": "ln mIS",
    "am_score": "AM",
    "ndb_over_k": "NDB/K",
    "label_accuracy": "label acc",
    "fid_class": "FID-class",
}

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}tr.gen td{font-weight:600}
img{max-width:100%;border:1px solid #eee}.ok{color:#17702a}.bad{color:#b00020}audio{height:2em}
"""


def _fmt(v: Any) -> str:
    """A metric value as text (``mean ± std`` for IS-like dicts)."""
    if isinstance(v, Mapping) and "mean" in v:
        return f"{float(v['mean']):.3f} ± {float(v.get('std', 0.0)):.3f}"
    if isinstance(v, bool):
        return str(v)
    if isinstance(v, float):
        return "-" if math.isnan(v) else f"{v:.3f}"
    return "-" if v is None else str(v)


def _data_uri(path: str | os.PathLike, mime: str) -> str:
    """``data:MIME;base64,...`` of a file (DataError if it cannot be read)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise DataError(f"{path}: cannot read ({exc.strerror or exc})") from None
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def loss_curves_png(loss_csv: str | os.PathLike) -> bytes | None:
    """PNG bytes of every numeric column of a Lightning ``metrics.csv`` against ``step`` (None if nothing to plot)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    try:
        with open(loss_csv, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
    except OSError as exc:
        raise DataError(f"{loss_csv}: cannot read ({exc.strerror or exc})") from None
    series: dict[str, tuple[list[float], list[float]]] = {}
    for i, row in enumerate(rows):
        try:
            step = float(row.get("step") or i)
        except ValueError:
            step = float(i)
        for key, val in row.items():
            if key in (None, "step", "epoch") or val in (None, ""):
                continue
            try:
                y = float(val)
            except ValueError:
                continue
            if math.isfinite(y):
                xs, ys = series.setdefault(key, ([], []))
                xs.append(step)
                ys.append(y)
    if not series:
        return None
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for key, (xs, ys) in sorted(series.items()):
        ax.plot(xs, ys, marker="." if len(xs) < 20 else None, label=key, linewidth=1)
    ax.set_xlabel("step")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()


def _metrics_table(metrics: Mapping[str, Any], reference_rows: Mapping[str, Mapping[str, Any]]) -> str:
    """Generated metrics in one row, real train/test rows under it."""
    cols = [k for k in METRIC_COLUMNS if k in metrics or any(k in r for r in reference_rows.values())]
    cols += [k for k in metrics if k not in cols and not isinstance(metrics[k], (Mapping, list))
             and isinstance(metrics[k], (int, float))]
    if not cols:
        return "<p>No metrics.</p>"
    head = "".join(f"<th>{escape(METRIC_COLUMNS.get(c, c))}</th>" for c in cols)
    out = [f"<table><tr><th class='l'>set</th>{head}</tr>"]
    out.append("<tr class='gen'><td class='l'>generated</td>"
               + "".join(f"<td>{escape(_fmt(metrics.get(c)))}</td>" for c in cols) + "</tr>")
    for name, row in reference_rows.items():
        out.append(f"<tr><td class='l'>real {escape(str(name))}</td>"
                   + "".join(f"<td>{escape(_fmt(row.get(c)))}</td>" for c in cols) + "</tr>")
    out.append("</table>")
    return "\n".join(out)


def _clips_table(clips: Sequence[Mapping[str, Any]]) -> str:
    """One row per clip: name, audio player, asked label, judged digit and probability."""
    if not clips:
        return "<p>No clips.</p>"
    out = ["<table><tr><th class='l'>clip</th><th class='l'>audio</th><th>label</th><th>judged</th>"
           "<th>probability</th></tr>"]
    for clip in clips:
        label, pred = clip.get("label"), clip.get("predicted")
        prob = clip.get("probability")
        cls = "" if label is None or pred is None else (" class='ok'" if int(label) == int(pred) else " class='bad'")
        src = _data_uri(clip["path"], "audio/wav")
        out.append(f"<tr><td class='l'>{escape(Path(str(clip['path'])).name)}</td>"
                   f"<td class='l'><audio controls preload='none' src=\"{src}\"></audio></td>"
                   f"<td>{escape(_fmt(label))}</td><td{cls}>{escape(_fmt(pred))}</td>"
                   f"<td>{escape(_fmt(None if prob is None else float(prob)))}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def write_report(path: str | os.PathLike, title: str, metrics: Mapping[str, Any],
                 reference_rows: Mapping[str, Mapping[str, Any]], clips: Sequence[Mapping[str, Any]],
                 images: Sequence[str | os.PathLike], loss_csv: str | os.PathLike | None = None) -> Path:
    """Write one self-contained HTML report to ``path`` atomically and return its path.

    ``metrics``: the generated set's metrics (as ``speechgen eval`` writes them); ``reference_rows``: real split
    name -> metrics; ``clips``: ``{path, label, predicted, probability}`` each; ``images``: PNGs (e.g. the
    spectrogram grid); ``loss_csv``: a run's ``logs/metrics.csv`` for loss curves.
    """
    parts = [f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
             f"<style>{CSS}</style></head><body>", f"<h1>{escape(title)}</h1>"]
    parts += ["<h2>Metrics</h2>", _metrics_table(metrics, reference_rows)]
    if images:
        parts.append("<h2>Spectrograms</h2>")
        for img in images:
            parts.append(f"<figure><img alt=\"{escape(Path(img).name)}\" src=\"{_data_uri(img, 'image/png')}\">"
                         f"<figcaption>{escape(Path(img).name)}</figcaption></figure>")
    if loss_csv is not None:
        png = loss_curves_png(loss_csv)
        if png is not None:
            uri = "data:image/png;base64," + base64.b64encode(png).decode("ascii")
            parts += ["<h2>Loss curves</h2>", f"<img alt='loss curves' src=\"{uri}\">"]
    parts += [f"<h2>Clips ({len(clips)})</h2>", _clips_table(clips), "</body></html>\n"]
    return write_text(path, "\n".join(parts))
