"""``POST /api/separate`` and the page's "Separate voices" section: one player per source, counted with a speaker
counter when one is given; one-line refusals."""

from __future__ import annotations

import json

import pytest
import torch

from speechgen.checkpoint import save_checkpoint
from speechgen.errors import ConfigError
from speechgen.models.mulcat_separator import MulCatSeparator
from speechgen.models.speaker_counter import SpeakerCounter
from speechgen.web.app import App

from .test_app import assert_one_line_error, decode_wav, request

SEP = {"sample_rate": 16000, "enc_dim": 8, "kernel_size": 16, "hidden": 8, "blocks": 2, "chunk_size": 10}
COUNTER = {"counts": [1, 2, 3], "widths": [4, 8], "blocks": [1, 1]}


@pytest.fixture(scope="module")
def folders(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("separators")
    torch.manual_seed(0)
    out = {}
    for k in (2, 3):
        kwargs = dict(SEP, n_sources=k)
        out[f"sep{k}"] = str(save_checkpoint(root / f"sep{k}", MulCatSeparator(**kwargs),
                                             {"name": "mulcat_separator", "kwargs": kwargs}))
    out["counter"] = str(save_checkpoint(root / "counter", SpeakerCounter(**COUNTER),
                                         {"name": "speaker_counter", "kwargs": COUNTER}))
    return out


def post(url: str, data: bytes, name: str = "mix.wav") -> tuple[int, dict]:
    status, _, body = request(url, "POST", f"/api/separate?name={name}", data,
                              {"Content-Type": "application/octet-stream"})
    return status, json.loads(body)


def test_counted_separation_of_an_upload(folders, serve, write_tone, tmp_path):
    app = App(separators=[folders["sep2"], folders["sep3"]], counter=folders["counter"], max_seconds=5.0)
    assert app.listing()["separate"] == {"counts": [2, 3], "counted": True}
    data = write_tone(tmp_path / "mix.flac", seconds=0.5, sr=22050).read_bytes()
    with serve(app) as url:
        status, _, page = request(url, "GET", "/")
        assert "id=\"sep-form\"" in page.decode() and "a speaker counter picks" in page.decode()
        status, a = post(url, data, "mix.flac")
        assert status == 200 and a["counted"] and a["count"] == len(a["sources"]) in (1, 2, 3)
        x, sr = decode_wav(a["input_audio"])
        assert sr == a["sample_rate"] == 16000 and a["input_sample_rate"] == 22050 and len(x) == 8000
        for source in a["sources"]:
            y, sr = decode_wav(source["audio"])
            assert sr == 16000 and len(y) == 8000 and source["spectrogram"].startswith("data:image/png;base64,")
        status, bad = post(url, b"not audio at all" * 10, "notes.txt")
        assert_one_line_error(status, bad, 400, "notes.txt: not an audio file")


def test_without_a_separator_the_endpoint_says_how_to_get_one(serve):
    app = App(max_seconds=5.0)
    assert app.listing()["separate"] is None
    with serve(app) as url:
        assert "id='sep-none'" in request(url, "GET", "/")[2].decode()
        status, answer = post(url, b"RIFF")
        assert_one_line_error(status, answer, 503, "--separator RUN_FOLDER")


@pytest.mark.parametrize("kwargs, needle", [
    ({"separators": ["sep2", "sep3"]}, "give --counter"),
    ({"separators": ["sep2"], "counter": "counter"}, "separator of 3 voices too"),
    ({"counter": "counter"}, "--counter: give the separators"),
    ({"separators": ["counter"]}, "not a separator"),
])
def test_sets_that_cannot_serve_are_refused_at_start(folders, kwargs, needle):
    args = {k: ([folders[v] for v in val] if isinstance(val, list) else folders[val]) for k, val in kwargs.items()}
    with pytest.raises(ConfigError, match=needle):
        App(**args)
