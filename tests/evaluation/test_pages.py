"""The HTML report: self-contained (audio and images as data URIs), escaped, with metrics and reference rows."""

import base64
import io

import numpy as np
import pytest

from speechgen.audio import io as audio_io
from speechgen.evaluation.pages import write_report


def _png(path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(1, 1))
    ax.imshow(np.zeros((4, 4)))
    fig.savefig(path, format="png")
    plt.close(fig)
    return path


def test_self_contained_escaped_report(tmp_path):
    wav = tmp_path / "sample-00000.wav"
    audio_io.save(wav, (0.1 * np.sin(np.arange(1600) / 5)).astype(np.float32), 16000)
    grid = _png(tmp_path / "grid.png")
    loss = tmp_path / "metrics.csv"
    loss.write_text("epoch,step,train/loss,val/loss\n0,10,1.5,\n0,10,,1.7\n0,20,1.1,\n")
    out = write_report(tmp_path / "sub" / "r.html", "<script>alert(1)</script>",
                       {"n": 1, "fid": 12.3456, "inception_score": {"mean": 3.5, "std": 0.25}},
                       {"train": {"fid": 0.5}, "test": {"fid": 1.25}},
                       [{"path": str(wav), "label": 3, "predicted": 8, "probability": 0.875}], [grid], loss)
    html = out.read_text()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("data:image/png;base64,") == 2  # grid + loss curves
    assert 'src="data:audio/wav;base64,' in html
    embedded = html.split('src="data:audio/wav;base64,')[1].split('"')[0]
    assert base64.b64decode(embedded) == wav.read_bytes()
    for text in ("12.346", "3.500 ± 0.250", "real train", "real test", "1.250", "0.875", "sample-00000.wav"):
        assert text in html
    # no external references: nothing is fetched when the page is moved
    assert "http://" not in html and "https://" not in html and "file:" not in html
    assert not list((tmp_path / "sub").glob("*.tmp*"))


def test_report_without_clips_or_images(tmp_path):
    html = write_report(tmp_path / "r.html", "empty", {}, {}, [], []).read_text()
    assert "No clips." in html and "data:" not in html


def _tone_wav(path, f=300.0, seconds=0.5, sr=16000):
    t = np.arange(int(seconds * sr)) / sr
    audio_io.save(path, (0.3 * np.sin(2 * np.pi * f * t)).astype(np.float32), sr)
    return path


def test_spectrogram_png_panels_and_threads():
    from concurrent.futures import ThreadPoolExecutor

    import matplotlib.image as mpimg

    from speechgen.evaluation.pages import spectrogram_png

    clip = (0.3 * np.sin(np.arange(8000) / 3)).astype(np.float32)
    one = spectrogram_png(clip, 16000, ["a"])
    three = spectrogram_png([clip, clip[:4000], np.zeros(10, np.float32)], 16000)
    assert one[:8] == three[:8] == b"\x89PNG\r\n\x1a\n"
    w1 = mpimg.imread(io.BytesIO(one)).shape[1]
    w3 = mpimg.imread(io.BytesIO(three)).shape[1]
    assert w3 > 1.5 * w1  # panels side by side
    with ThreadPoolExecutor(4) as pool:  # matplotlib from several threads (speechgen serve)
        assert all(p[:4] == b"\x89PNG" for p in pool.map(lambda _: spectrogram_png(clip, 16000), range(8)))


@pytest.mark.parametrize("bad", [np.zeros(0, np.float32), np.array([0.0, np.nan], np.float32)])
def test_spectrogram_png_refuses_bad_audio(bad):
    from speechgen.errors import AudioError
    from speechgen.evaluation.pages import spectrogram_png

    with pytest.raises(AudioError, match="empty or not finite"):
        spectrogram_png(bad, 16000)
    with pytest.raises(AudioError, match="no clips"):
        spectrogram_png([], 16000)


def test_leaderboard_marks_best_links_and_embeds(tmp_path):
    from speechgen.evaluation.pages import write_leaderboard

    clips_a = [{"path": str(_tone_wav(tmp_path / f"a{i}.wav", 300 + 100 * i)), "label": i, "predicted": i,
                "probability": 0.9} for i in range(2)]
    clips_b = [{"path": str(_tone_wav(tmp_path / "b0.wav")), "label": None, "predicted": 4, "probability": 0.5}]
    entries = [
        {"label": "<b>model A</b>", "source": "runs/a", "clips": clips_a,
         "metrics": {"n": 5000, "fid": 3.0, "inception_score": {"mean": 7.0, "std": 0.1}, "label_accuracy": 0.5,
                     "train/loss": 1.0}},
        {"label": "model B", "source": "b.json", "clips": clips_b,
         "metrics": {"n": 5000, "fid": 2.0, "inception_score": {"mean": 7.0, "std": 0.2}, "am_score": float("nan")}},
        {"label": "model C", "source": "c.json", "clips": [], "metrics": {"n": 5000, "fid": 2.0}},
    ]
    refs = [("real train", {"n": 10, "fid": 0.0, "inception_score": {"mean": 9.9, "std": 0.0}}),
            ("real test", {"n": 5, "fid": 1.0})]
    html = write_leaderboard(tmp_path / "lb.html", "board <1>", entries, refs).read_text()
    assert "board &lt;1&gt;" in html and "&lt;b&gt;model A&lt;/b&gt;" in html and "<b>model A" not in html
    gen_rows = html.split("<tr class='gen'>")[1:]
    assert gen_rows[0].count("class='best'") == 1  # IS tied with B (both marked); label acc alone: unmarked
    assert "<td class='best'>7.000 ± 0.100</td>" in gen_rows[0]
    assert "<td class='best'>2.000</td>" in gen_rows[1] and "<td class='best'>7.000 ± 0.200</td>" in gen_rows[1]
    assert "<td class='best'>2.000</td>" in gen_rows[2]  # FID tie between B and C
    assert "train/loss" not in html  # only the judge's columns
    assert "<a href='#entry-0'>" in html and "id='entry-2'" in html
    assert "real train" in html and "real test" in html and "9.900" in html
    assert html.count('src="data:audio/wav;base64,') == 3
    assert html.count('src="data:image/png;base64,') == 2  # entries with clips get a spectrogram
    assert "http://" not in html and "https://" not in html and "file:" not in html


def test_pick_pairs_spreads_from_worst_to_best():
    from speechgen.evaluation.pages import pick_pairs

    rows = [{"pesq": v} for v in (3.0, 1.0, float("nan"), 2.0, 4.0)]
    assert pick_pairs(rows, 3) == [1, 0, 2]  # worst, middle of the ranking, the undefined one last
    assert pick_pairs(rows, 10) == [1, 3, 0, 4, 2]
    assert pick_pairs(rows, 1) == [0] and pick_pairs(rows, 0) == []
    assert pick_pairs([{"mcd": 1.0}, {"mcd": 5.0}], 1, key="mcd") in ([0], [1])
    assert pick_pairs([{"mcd": 1.0}, {"mcd": 5.0}, {"mcd": 3.0}], 2, key="mcd") == [1, 0]  # lower is better


def test_small_n_and_failed_sanity_are_flagged_never_starred(tmp_path):
    """Values of a set below a metric's minimum n are marked † with a footnote, and a leaderboard stars only
    comparable values of rows that pass the sanity check (label accuracy >= 0.5); FID shows its interval;
    every page carries the legend of the metrics it shows."""
    from speechgen.evaluation import metrics as M
    from speechgen.evaluation.pages import write_leaderboard

    good = {"n": 1000, "is_splits": 10, "fid": 4.0, "fid_ci": [3.5, 4.5], "label_accuracy": 0.95,
            "inception_score": {"mean": 9.0, "std": 0.1}, "ndb_over_k": 0.5}
    other = dict(good, fid=6.0, fid_ci=None, label_accuracy=0.9, inception_score={"mean": 8.0, "std": 0.1})
    tiny = dict(good, n=20, is_splits=1, fid=1.0, fid_ci=[0.5, 2.0], label_accuracy=0.9, ndb_over_k=0.1,
                inception_score={"mean": 9.98, "std": 0.0})  # old JSON: flags worked out from n
    junk = dict(good, fid=3.0, label_accuracy=0.1, inception_score={"mean": 9.5, "std": 0.1})  # fails sanity
    entries = [{"label": name, "source": "", "clips": [], "metrics": m}
               for name, m in (("good", good), ("other", other), ("tiny", tiny), ("junk", junk))]
    html = write_leaderboard(tmp_path / "lb.html", "board", entries, []).read_text()
    rows = {r.split("</a>")[0].split(">")[-1]: r.split("</tr>")[0] for r in html.split("<tr class='gen'>")[1:]}
    assert "<td class='best'>4.00 [3.50, 4.50]</td>" in rows["good"]  # best comparable FID, with its interval
    assert "<td class='best'>9.000 ± 0.100</td>" in rows["good"] and "<td class='best'>0.950</td>" in rows["good"]
    assert "class='best'" not in rows["tiny"] and "class='best'" not in rows["junk"]
    assert "1.00 [0.50, 2.00]†</td>" in rows["tiny"]
    assert rows["tiny"].count("†") >= 3 and rows["good"].count("†") == 0  # FID, IS, NDB/K of 20 clips
    assert "† not comparable with the tables (n = 1000): the set's n is below the metric's minimum" in html
    assert f"FID {M.MIN_N_FID}" in html and "Not ranked: junk: label accuracy 0.100" in html
    for line in ("(lower is better): Fréchet distance", "(higher is better): clear and varied digits",
                 "<b>NDB/K</b> (lower is better)", "<b>label acc</b> (higher is better)"):
        assert line in html
    report = write_report(tmp_path / "r.html", "one", tiny, {"test": {"n": 480, "fid": 6.0}}, [], []).read_text()
    assert "1.00 [0.50, 2.00]†" in report and "(lower is better): Fréchet distance" in report
    assert "<td>6.000</td>" in report  # the real rows are the yardsticks: never flagged


def test_loss_curves_get_a_panel_and_scale_each(tmp_path):
    """KL (~1) and reconstruction (~5 000) on one linear axis showed one flat line: one panel per quantity now,
    log-scaled when its values span more than two decades."""
    import matplotlib

    matplotlib.use("Agg")
    from unittest import mock

    from speechgen.evaluation.pages import loss_curves_png

    csv = tmp_path / "metrics.csv"
    rows = ["step,epoch,train/kl,train/recon,val/recon"]
    rows += [f"{s},0,{1 + 0.01 * s},{5000 / (1 + s)},{'' if s % 10 else 4000 / (1 + s)}" for s in range(0, 100, 5)]
    csv.write_text("\n".join(rows) + "\n")
    import matplotlib.axes

    scales: dict[str, str] = {}
    real = matplotlib.axes.Axes.set_title

    def remember(ax, title, *args, **kwargs):
        out = real(ax, title, *args, **kwargs)
        scales[title] = ax
        return out

    with mock.patch.object(matplotlib.axes.Axes, "set_title", remember):
        png = loss_curves_png(csv)
    assert png and png[:4] == b"\x89PNG"
    assert sorted(scales) == ["kl", "recon"]
    assert scales["recon"].get_yscale() == "log" and scales["kl"].get_yscale() == "linear"
    assert sorted(line.get_label() for line in scales["recon"].get_lines()) == ["train", "val"]
