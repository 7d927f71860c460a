"""Self-contained HTML pages of generated clips (audio and images embedded as base64 data URIs, no external
references, so a page still works when moved).

- :func:`write_report`: one set of clips: metrics beside the real reference rows, the spectrogram grid, the clips
  with the judge's digit and probability, and loss curves from a run's ``logs/metrics.csv``.
- :func:`write_leaderboard`: several sets side by side: one metrics row per set (best per column marked) beside
  the real reference rows, and per set a few audio players and a spectrogram.
- :func:`write_pair_report`: a pair comparison (``speechgen compare --html``): mean metrics, and for a few pairs
  from the worst to the best their metrics, players and reference/estimate spectrograms.
- :func:`spectrogram_png`: PNG bytes of the log-magnitude spectrograms of a few clips (also used by
  ``speechgen serve``).
"""

from __future__ import annotations

import base64
import csv
import io
import math
import os
import threading
from collections.abc import Mapping, Sequence
from html import escape
from pathlib import Path
from typing import Any

import numpy as np

from speechgen.atomic import write_text
from speechgen.errors import AudioError, DataError
from speechgen.evaluation import metrics as M

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
# judge metrics: True when higher is better (used to mark the best value of a leaderboard column)
HIGHER_IS_BETTER = {
    "inception_score": True,
    "fid": False,
    "log_modified_inception_score": True,
    "am_score": False,
    "ndb_over_k": False,
    "label_accuracy": True,
    "fid_class": False,
}
# judge metrics: what each measures, in one line (the legend under every metrics table)
METRIC_LEGEND = {
    "n": "clips judged; below a metric's minimum n its value is marked † (not comparable with the tables' n = 1000)",
    "inception_score": "clear and varied digits: exp of the mean KL(p(y|x) ‖ p(y)) of the judge's softmax, 1 to 10; "
                       "mean ± std over splits of 100+ clips",
    "fid": "Fréchet distance between Gaussians of the judge's features of these clips and of the reference's train "
           "split; [95 % bootstrap interval over the clips]",
    "log_modified_inception_score": "mean KL divergence between the judge's softmax of two random clips, in nats: "
                                    "variety within and across digits",
    "am_score": "KL(real digit histogram ‖ generated one) + the mean entropy of the judge's softmax",
    "ndb_over_k": "share of the 50 k-means bins of the train split's features whose share of clips differs (z-test, "
                  "α = 0.05); grows with n, so compare sets of the same n",
    "label_accuracy": "share of clips that the judge hears as the digit they were asked for (chance 0.1)",
    "fid_class": "FID of each digit's clips against the train split's clips of that digit: mean ± std over digits",
}
NOT_COMPARABLE = "†"
# matplotlib's global state (font cache, rc params) is not thread-safe; ``speechgen serve`` draws from threads
_PLOT_LOCK = threading.Lock()

CSS = """
body{font-family:system-ui,-apple-system,Segoe UI,sans-serif;margin:2em auto;max-width:1100px;color:#222}
h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:.5em 0}td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td.l,th.l{text-align:left}tr.gen td{font-weight:600}
img{max-width:100%;border:1px solid #eee}.ok{color:#17702a}.bad{color:#b00020}audio{height:2em}
td.best{background:#e3f3e6}td.best::after{content:" \\2605";color:#17702a}p.note{color:#555;font-size:.9em}
td.nc{color:#888}ul.legend{color:#555;font-size:.9em;margin:.3em 0}
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
    """PNG bytes of every numeric column of a Lightning ``metrics.csv`` against ``step`` (None if nothing to plot):
    one panel per quantity (``train/kl``, ``val/kl`` and ``test/kl`` share the panel ``kl``), each on its own axis —
    a KL of ~1 and a reconstruction cost of ~5 000 on one linear axis showed one flat line — on a log scale when
    its values are positive and span more than two decades."""
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
    panels: dict[str, list[str]] = {}
    for key in sorted(series):
        panels.setdefault(key.rpartition("/")[2], []).append(key)
    cols = min(3, len(panels))
    rows_n = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows_n, cols, figsize=(3.4 * cols, 2.4 * rows_n), squeeze=False)
    for ax, (name, keys) in zip(axes.flat, sorted(panels.items())):
        values = [y for k in keys for y in series[k][1]]
        for key in keys:
            xs, ys = series[key]
            ax.plot(xs, ys, marker="." if len(xs) < 20 else None, label=key.rpartition("/")[0] or key, linewidth=1)
        if min(values) > 0 and max(values) / min(values) > 100:
            ax.set_yscale("log")
        ax.set_title(name, fontsize=8)
        ax.set_xlabel("step", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=6, loc="best")
    for ax in list(axes.flat)[len(panels):]:
        ax.axis("off")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80)
    plt.close(fig)
    return buf.getvalue()


def _number(v: Any) -> float | None:
    """A metric's comparable value (the mean of ``mean ± std`` dicts); None when missing or not a finite number."""
    if isinstance(v, Mapping):
        v = v.get("mean")
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        return None
    return float(v)


def comparable(m: Mapping[str, Any], col: str) -> bool | None:
    """Whether a set's ``col`` reaches the metric's minimum n: its ``comparable`` flag (written by the judge), else
    worked out from its ``n`` (and ``is_splits``) for JSON written before the flags; None when unknown."""
    flags = m.get("comparable")
    if isinstance(flags, Mapping) and isinstance(flags.get(col), bool):
        return bool(flags[col])
    if col not in M.MIN_N:
        return True
    n = m.get("n")
    if isinstance(n, bool) or not isinstance(n, int):
        return None
    splits = m.get("is_splits")
    return M.comparability(n, splits if isinstance(splits, int) and splits > 0 else 1, [col])[0][col]


def rankable(m: Mapping[str, Any], col: str, cols: Sequence[str] = ()) -> bool:
    """Whether a leaderboard may star ``col`` of a set: the set's n is known and reaches the minimum of every
    metric it shows among ``cols`` (and of ``col``), ``col`` is comparable, and the set passes the sanity check
    (:func:`speechgen.evaluation.metrics.sanity_failures`)."""
    n = m.get("n")
    if isinstance(n, bool) or not isinstance(n, int):
        return False
    shown = [c for c in {*cols, col} if c in M.MIN_N and m.get(c) is not None]
    return (all(n >= M.MIN_N[c] for c in shown) and comparable(m, col) is True
            and not M.sanity_failures(m))


def _best(rows: Sequence[tuple[str, Mapping[str, Any]]], col: str, cols: Sequence[str] = ()) -> set[int]:
    """Indices of the rows holding the best value of ``col`` among the rankable rows (:func:`rankable`; none when
    fewer than two rankable rows have a value)."""
    if col not in HIGHER_IS_BETTER:
        return set()
    values = {i: v for i, (_, m) in enumerate(rows)
              if (v := _number(m.get(col))) is not None and rankable(m, col, cols)}
    if len(values) < 2:
        return set()
    best = max(values.values()) if HIGHER_IS_BETTER[col] else min(values.values())
    return {i for i, v in values.items() if v == best}


def _metrics_table(rows: Sequence[tuple[str, Mapping[str, Any]]],
                   reference_rows: Sequence[tuple[str, Mapping[str, Any]]], extra_columns: bool = False,
                   mark_best: bool = False, links: Sequence[str | None] | None = None) -> str:
    """Generated rows ``(name, metrics)`` above the real reference rows ``(name, metrics)``.

    ``extra_columns``: also show numeric keys beyond :data:`METRIC_COLUMNS` (single reports: training losses);
    ``mark_best``: mark the best generated value of each judge column; ``links``: an anchor per generated row.
    """
    everything = [m for _, m in rows] + [r for _, r in reference_rows]
    cols = [k for k in METRIC_COLUMNS if any(k in m for m in everything)]
    if extra_columns:
        for _, m in rows:
            cols += [k for k, v in m.items() if k not in cols and isinstance(v, (int, float))]
    if not cols:
        return "<p>No metrics.</p>"
    best = {c: _best(rows, c, cols) if mark_best else set() for c in cols}
    head = "".join(f"<th>{escape(METRIC_COLUMNS.get(c, c))}</th>" for c in cols)
    out = [f"<table><tr><th class='l'>set</th>{head}</tr>"]
    flagged: dict[str, None] = {}
    for i, (name, m) in enumerate(rows):
        link = links[i] if links is not None else None
        label = f"<a href='#{escape(link)}'>{escape(name)}</a>" if link else escape(name)
        cells = []
        for c in cols:
            text = _fmt(m.get(c))
            ci = m.get("fid_ci") if c == "fid" else None
            if _number(m.get(c)) is not None and isinstance(ci, Sequence) and len(ci) == 2:
                text = f"{float(m[c]):.2f} [{float(ci[0]):.2f}, {float(ci[1]):.2f}]"
            if m.get(c) is not None and comparable(m, c) is False:
                flagged[c] = None
                cells.append(f"<td class='nc' title='below the minimum n'>{escape(text)}{NOT_COMPARABLE}</td>")
            else:
                cells.append(("<td class='best'>" if i in best[c] else "<td>") + f"{escape(text)}</td>")
        out.append(f"<tr class='gen'><td class='l'>{label}</td>{''.join(cells)}</tr>")
    for name, row in reference_rows:
        out.append(f"<tr><td class='l'>{escape(str(name))}</td>"
                   + "".join(f"<td>{escape(_fmt(row.get(c)))}</td>" for c in cols) + "</tr>")
    out.append("</table>")
    if flagged:
        need = ", ".join(M.minimum_text(c) for c in flagged)
        out.append(f"<p class='note'>{NOT_COMPARABLE} not comparable with the tables (n = 1000): the set's n is "
                   f"below the metric's minimum ({need} clips), where its value still moves with the clips drawn "
                   "and with n (docs/results.md, Sample size).</p>")
    legend = [c for c in cols if c in METRIC_LEGEND]
    if legend:
        out.append("<ul class='legend'>" + "".join(
            f"<li><b>{escape(METRIC_COLUMNS[c])}</b>"
            + (f" ({'higher' if HIGHER_IS_BETTER[c] else 'lower'} is better)" if c in HIGHER_IS_BETTER else "")
            + f": {escape(METRIC_LEGEND[c])}</li>" for c in legend) + "</ul>")
    return "\n".join(out)


def _player(path: str | os.PathLike) -> str:
    """An audio player with the file embedded (FLAC or WAV)."""
    mime = "audio/flac" if Path(path).suffix.lower() == ".flac" else "audio/wav"
    return f"<audio controls preload='none' src=\"{_data_uri(path, mime)}\"></audio>"


def _clips_table(clips: Sequence[Mapping[str, Any]], set_heading: str = "set") -> str:
    """One row per clip: name, audio player, asked label, judged digit and probability (and its ``set``, e.g.
    Griffin-Lim or vocoded, or a real clip's voice, when the clips carry one)."""
    if not clips:
        return "<p>No clips.</p>"
    with_set = any(c.get("set") for c in clips)
    out = ["<table><tr>" + (f"<th class='l'>{escape(set_heading)}</th>" if with_set else "") + "<th class='l'>clip</th>"
           "<th class='l'>audio</th><th>label</th><th>judged</th><th>probability</th></tr>"]
    for clip in clips:
        label, pred = clip.get("label"), clip.get("predicted")
        prob = clip.get("probability")
        cls = "" if label is None or pred is None else (" class='ok'" if int(label) == int(pred) else " class='bad'")
        path = Path(str(clip["path"]))
        set_cell = f"<td class='l'>{escape(str(clip.get('set') or ''))}</td>" if with_set else ""
        out.append(f"<tr>{set_cell}<td class='l'>{escape(path.name)}</td>"
                   f"<td class='l'>{_player(path)}</td>"
                   f"<td>{escape(_fmt(label))}</td><td{cls}>{escape(_fmt(pred))}</td>"
                   f"<td>{escape(_fmt(None if prob is None else float(prob)))}</td></tr>")
    out.append("</table>")
    return "\n".join(out)


def _real_section(real_clips: Sequence[Mapping[str, Any]]) -> list[str]:
    """The real clips' heading, note and players (nothing when there are none)."""
    if not real_clips:
        return []
    return [f"<h2>Real clips ({len(real_clips)})</h2>",
            "<p class='note'>Recordings of the reference data's held-out test voices (one per digit, the voices in "
            "turn), judged the same way: what the generated clips are measured against.</p>",
            _clips_table(real_clips, "voice")]


def _page_start(title: str) -> str:
    """The page's head (title, inline style) and its heading."""
    return (f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{CSS}</style></head><body>\n<h1>{escape(title)}</h1>")


def write_report(path: str | os.PathLike, title: str,
                 metrics: Mapping[str, Any] | Sequence[tuple[str, Mapping[str, Any]]],
                 reference_rows: Mapping[str, Mapping[str, Any]], clips: Sequence[Mapping[str, Any]],
                 images: Sequence[str | os.PathLike], loss_csv: str | os.PathLike | None = None,
                 real_clips: Sequence[Mapping[str, Any]] = (), extra_columns: bool = False) -> Path:
    """Write one self-contained HTML report to ``path`` atomically and return its path.

    ``metrics``: the generated set's metrics (as ``speechgen eval`` writes them), or ``(name, metrics)`` rows of
    several sets of the same clips (e.g. Griffin-Lim and vocoded); ``reference_rows``: real split name -> metrics;
    ``clips``: ``{path, label, predicted, probability[, set]}`` each; ``images``: PNGs (e.g. the spectrogram
    grid); ``loss_csv``: a run's ``logs/metrics.csv`` for loss curves; ``real_clips``: real recordings to listen
    to beside the generated ones (as ``clips``); ``extra_columns``: also tabulate numeric metrics beyond the
    judge's (a run's training and validation losses).
    """
    parts = [_page_start(title)]
    refs = [(f"real {name}", row) for name, row in reference_rows.items()]
    rows = [("generated", metrics)] if isinstance(metrics, Mapping) else list(metrics)
    parts += ["<h2>Metrics</h2>", _metrics_table(rows, refs, extra_columns=extra_columns)]
    if images:
        parts.append("<h2>Spectrograms</h2>")
        for img in images:
            parts.append(f"<figure><img alt=\"{escape(Path(img).name)}\" src=\"{_data_uri(img, 'image/png')}\">"
                         f"<figcaption>{escape(Path(img).name)}</figcaption></figure>")
    if loss_csv is not None:
        png = loss_curves_png(loss_csv)
        if png is not None:
            parts += ["<h2>Loss curves</h2>", f"<img alt='loss curves' src=\"{png_data_uri(png)}\">"]
    parts += [f"<h2>Clips ({len(clips)})</h2>", _clips_table(clips), *_real_section(real_clips),
              "</body></html>\n"]
    return write_text(path, "\n".join(parts))


# ------------------------------------------------------------------------------------------------ spectrograms
def spectrogram_png(clips: np.ndarray | Sequence[np.ndarray], sample_rate: int, titles: Sequence[str] | None = None,
                    top_db: float = 80.0, dpi: int = 80) -> bytes:
    """PNG bytes of the log-magnitude spectrograms (dB, ``top_db`` range below each clip's peak) of one clip
    ``[samples]`` or a few clips, side by side, with a time axis in seconds and a frequency axis in kHz.

    Frames of about 32 ms (``n_fft`` a power of two), hop ``n_fft // 4``. Safe to call from several threads.
    """
    from matplotlib.figure import Figure

    from speechgen.audio import spectral

    items = [clips] if isinstance(clips, np.ndarray) and clips.ndim == 1 else list(clips)
    if not items:
        raise AudioError("spectrogram: no clips")
    if sample_rate <= 0:
        raise AudioError(f"spectrogram: invalid sample rate {sample_rate}")
    n_fft = 2 ** round(math.log2(0.032 * sample_rate))
    images = []
    for i, clip in enumerate(items):
        x = np.asarray(clip, dtype=np.float64).reshape(-1)
        if x.size == 0 or not np.isfinite(x).all():
            raise AudioError(f"spectrogram: clip {i} is empty or not finite")
        mode = "reflect" if x.size > n_fft // 2 else "constant"
        power = np.abs(spectral.stft(x, n_fft, n_fft // 4, pad_mode=mode)) ** 2
        db = 10.0 * np.log10(np.maximum(power, 1e-12))
        images.append((np.maximum(db, db.max() - top_db), x.size / sample_rate))
    longest = max(seconds for _, seconds in images)
    width = min(14.0, 3.6 + 1.6 * longest) * (1 if len(images) == 1 else 0.7)
    with _PLOT_LOCK:
        fig = Figure(figsize=(width * len(images), 2.6))
        axes = fig.subplots(1, len(images), squeeze=False)[0]
        for i, (ax, (db, seconds)) in enumerate(zip(axes, images)):
            ax.imshow(db, origin="lower", aspect="auto", cmap="magma",
                      extent=(0.0, seconds, 0.0, sample_rate / 2000.0))
            ax.set_xlabel("s", fontsize=8)
            if i == 0:
                ax.set_ylabel("kHz", fontsize=8)
            ax.tick_params(labelsize=7)
            if titles is not None and i < len(titles):
                ax.set_title(str(titles[i]).replace("$", r"\$"), fontsize=8)  # a file name, never mathtext
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def png_data_uri(png: bytes) -> str:
    """``data:image/png;base64,...`` of PNG bytes."""
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


# ------------------------------------------------------------------------------------------------ leaderboard
def _entry_spectrogram(clips: Sequence[Mapping[str, Any]]) -> bytes | None:
    """Spectrograms of a leaderboard entry's clips (at the first clip's rate); None without clips."""
    from speechgen.audio import io as audio_io

    if not clips:
        return None
    audio, sr = audio_io.load(clips[0]["path"])
    items = [audio] + [audio_io.load(c["path"], sr)[0] for c in clips[1:]]
    titles = [Path(str(c["path"])).name if c.get("label") is None else f"asked {c['label']}" for c in clips]
    return spectrogram_png(items, sr, titles)


def write_leaderboard(path: str | os.PathLike, title: str, entries: Sequence[Mapping[str, Any]],
                      reference_rows: Sequence[tuple[str, Mapping[str, Any]]],
                      real_clips: Sequence[Mapping[str, Any]] = ()) -> Path:
    """Write one self-contained leaderboard page to ``path`` atomically and return its path.

    ``entries``: one per run or eval, ``{label, source, metrics, clips}`` (``clips`` as for :func:`write_report`,
    the few to embed); ``reference_rows``: ``(name, metrics)`` of the real data shown under the entries. Each
    entry's row links to its section with the audio players and a spectrogram of its clips.
    """
    anchors = [f"entry-{i}" for i in range(len(entries))]
    rows = [(str(e["label"]), e.get("metrics") or {}) for e in entries]
    unranked = [(name, line) for name, m in rows for line in M.sanity_failures(m)]
    note = ("<p class='note'>&#9733; best value of a column among the ranked entries. An entry is ranked only when "
            "its n reaches the minimum n of every metric it shows (an entry with values marked "
            f"{NOT_COMPARABLE} is not; nor is its NDB/K above {M.MAX_N_NDB} clips) and when it passes the sanity "
            "check: the judge hears the asked digit in at least "
            f"{M.SANITY_MIN_LABEL_ACCURACY:.0%} of its clips (chance is 10 %). The real rows score the judge's "
            "reference data: the ceiling and the floor that make a number mean something.</p>")
    if unranked:
        note += "<p class='note'>Not ranked: " + "; ".join(f"{escape(n)}: {escape(line)}" for n, line in unranked) \
            + ".</p>"
    parts = [_page_start(title), "<h2>Leaderboard</h2>",
             _metrics_table(rows, reference_rows, mark_best=True, links=anchors), note]
    for anchor, entry in zip(anchors, entries):
        clips = list(entry.get("clips") or [])
        parts.append(f"<h2 id='{anchor}'>{escape(str(entry['label']))}</h2>")
        if entry.get("source"):
            parts.append(f"<p class='note'>{escape(str(entry['source']))}</p>")
        png = _entry_spectrogram(clips)
        if png is not None:
            parts.append(f"<img alt='spectrograms of {escape(str(entry['label']))}' src=\"{png_data_uri(png)}\">")
        parts.append(_clips_table(clips))
    parts += [*_real_section(real_clips), "</body></html>\n"]
    return write_text(path, "\n".join(parts))


# ------------------------------------------------------------------------------------------- pair comparison
def _pair_cells(metrics: Mapping[str, Any]) -> str:
    """Table cells of one pair's (or the mean's) metrics in :data:`speechgen.evaluation.speech.COLUMNS` order."""
    from speechgen.evaluation.speech import COLUMNS, format_metric

    return "".join(f"<td>{format_metric(key, _number(metrics.get(key)))}</td>" for key, _, _ in COLUMNS)


def pick_pairs(rows: Sequence[Mapping[str, Any]], n: int, key: str = "pesq") -> list[int]:
    """Indices of up to ``n`` rows spread evenly over the ranking by ``key`` (worst first, best last; rows
    without a value ranked after the others), so that a page shows typical clips and both extremes."""
    from speechgen.evaluation.speech import HIGHER_IS_BETTER

    if n <= 0 or not rows:
        return []
    sign = 1.0 if HIGHER_IS_BETTER.get(key, True) else -1.0
    ranked = sorted(range(len(rows)), key=lambda i: (
        (v := _number(rows[i].get(key))) is None, 0.0 if v is None else sign * v))
    if n >= len(ranked):
        return ranked
    if n == 1:
        return [ranked[len(ranked) // 2]]
    return [ranked[round(j * (len(ranked) - 1) / (n - 1))] for j in range(n)]


def write_pair_report(path: str | os.PathLike, title: str, result: Mapping[str, Any],
                      pairs: Sequence[tuple[str, str | os.PathLike, str | os.PathLike]], n_clips: int = 8) -> Path:
    """Write a self-contained page of a pair comparison (``speechgen compare --html``) to ``path`` atomically.

    ``result``: ``{"files": [{"name", **metrics}], "mean": {...}}`` (:func:`speechgen.evaluation.speech.summarise`);
    ``pairs``: ``(name, reference, estimate)`` of every row, in the same order. The page holds the mean metrics
    and, for ``n_clips`` pairs spread from the worst PESQ to the best, their metrics, both audio players and
    the reference's and estimate's spectrograms side by side.
    """
    from speechgen.audio import io as audio_io
    from speechgen.evaluation.speech import COLUMNS

    files = list(result["files"])
    if len(files) != len(pairs):
        raise DataError(f"pair report: {len(files)} result rows for {len(pairs)} pairs")
    head = "".join(f"<th>{escape(h)}</th>" for _, h, _ in COLUMNS)
    parts = [_page_start(title), "<h2>Mean over the pairs</h2>",
             f"<table><tr><th class='l'>pairs</th>{head}</tr>",
             f"<tr class='gen'><td class='l'>{len(files)}</td>{_pair_cells(result['mean'])}</tr></table>",
             "<p class='note'>Higher is better for PESQ (1.04-4.64) and STOI (0-1), lower for the others; means skip "
             "undefined values (see speechgen.evaluation.speech).</p>"]
    chosen = pick_pairs(files, n_clips)
    if chosen:
        parts += [f"<h2>{len(chosen)} of {len(files)} pairs, from the worst PESQ to the best</h2>",
                  f"<table><tr><th class='l'>pair</th>{head}<th class='l'>reference</th>"
                  "<th class='l'>estimate</th></tr>"]
        figures = []
        for i in chosen:
            name, ref, est = pairs[i]
            players = "".join(f"<td class='l'>{_player(p)}</td>" for p in (ref, est))
            parts.append(f"<tr><td class='l'><a href='#pair-{i}'>{escape(str(name))}</a></td>"
                         f"{_pair_cells(files[i])}{players}</tr>")
            r, sr = audio_io.load(ref)
            e, _ = audio_io.load(est, sample_rate=sr)
            png = spectrogram_png([r, e], sr, [f"reference {name}", "estimate"])
            figures.append(f"<figure id='pair-{i}'><img alt='spectrograms of {escape(str(name))}' "
                           f"src=\"{png_data_uri(png)}\"><figcaption>{escape(str(name))}</figcaption></figure>")
        parts += ["</table>", "<h2>Spectrograms</h2>", *figures]
    parts.append("</body></html>\n")
    return write_text(path, "\n".join(parts))
