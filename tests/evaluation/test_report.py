"""The HTML report: self-contained (audio and images as data URIs), escaped, with metrics and reference rows."""

import base64

import numpy as np

from speechgen.audio import io as audio_io
from speechgen.evaluation.report import write_report


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
