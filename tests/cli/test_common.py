"""Helpers of the command modules: the progress bar shown on long jobs only."""

import io

from rich.console import Console

from speechgen.cli.common import progress_bar


def _console(quiet: bool = False) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=True, width=100, quiet=quiet), buf


def test_a_bar_for_long_jobs_only():
    con, buf = _console()
    with progress_bar(con, "vocoding", 30, minimum=20) as advance:
        for _ in range(30):
            advance(1)
    assert "vocoding" in buf.getvalue() and "30/30" in buf.getvalue()
    con, buf = _console()
    with progress_bar(con, "vocoding", 3, minimum=20) as advance:
        advance(3)
    assert buf.getvalue() == ""
    con, buf = _console(quiet=True)
    with progress_bar(con, "vocoding", 300) as advance:
        advance(300)
    assert buf.getvalue() == ""


def test_sampling_reports_progress():
    import torch

    from speechgen.inference.loading import data_and_feature, load_generator
    from speechgen.models.sampling import draw, write_samples

    model, cfg = load_generator("digits-default")
    data, feature = data_and_feature(cfg)
    seen = {"draw": 0, "write": 0}
    labels = torch.tensor([3, 4, 5])
    feats = draw(model, 3, labels, progress=lambda k: seen.__setitem__("draw", seen["draw"] + k))
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        write_samples(tmp, feats, feature, labels, 16000, channels=data.get("channels"), n_iter=2,
                      progress=lambda k: seen.__setitem__("write", seen["write"] + k))
    assert seen == {"draw": 3, "write": 3}
