"""``speechgen serve``'s request handling without a browser: pages, generation, copy synthesis, and every refusal
as a one-line JSON error with a 4xx status (503 without a vocoder; 500 without a traceback)."""

from __future__ import annotations

import base64
import http.client
import io
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote, urlsplit

import numpy as np
import pytest
import soundfile as sf

from speechgen.web import app as web_app
from speechgen.web.app import NO_VOCODER, App, ModelChoice


def request(base_url: str, method: str, path: str, body: bytes | None = None,
            headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=60)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


def post_json(base_url: str, path: str, payload: object) -> tuple[int, dict]:
    status, _, body = request(base_url, "POST", path, json.dumps(payload).encode(),
                              {"Content-Type": "application/json"})
    return status, json.loads(body)


def upload(base_url: str, data: bytes, name: str = "clip.wav", vocoder: str | None = None) -> tuple[int, dict]:
    query = f"?name={quote(name)}" + ("" if vocoder is None else f"&vocoder={quote(vocoder)}")
    status, _, body = request(base_url, "POST", "/api/vocode" + query, data,
                              {"Content-Type": "application/octet-stream"})
    return status, json.loads(body)


def decode_wav(uri: str) -> tuple[np.ndarray, int]:
    assert uri.startswith("data:audio/wav;base64,")
    return sf.read(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])), dtype="float32")


def assert_one_line_error(status: int, answer: dict, want_status: int, needle: str) -> None:
    assert status == want_status, (status, answer)
    assert set(answer) == {"error"} and needle in answer["error"], answer
    assert "\n" not in answer["error"] and "Traceback" not in answer["error"]


# ------------------------------------------------------------------------------------------------ pages
def test_page_lists_models_and_is_self_contained(base_url, vocoder_ckpt):
    status, headers, body = request(base_url, "GET", "/")
    html = body.decode()
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in headers["content-security-policy"]
    assert "value='digits-default' data-classes='10'" in html and f"value='{vocoder_ckpt}'" in html
    for asset, kind in (("/app.js", "text/javascript"), ("/app.css", "text/css")):
        status, headers, text = request(base_url, "GET", asset)
        assert status == 200 and headers["content-type"].startswith(kind)
        assert b"http://" not in text and b"https://" not in text  # nothing fetched from elsewhere
    assert "http://" not in html and "https://" not in html
    status, _, models = request(base_url, "GET", "/api/models")
    listing = json.loads(models)
    assert listing["generators"][0]["id"] == "digits-default" and listing["generators"][0]["n_classes"] == 10
    assert listing["no_vocoder_message"] is None
    assert str(vocoder_ckpt) in [v["id"] for v in listing["vocoders"]]
    assert all("source" not in c for c in listing["generators"] + listing["vocoders"])


@pytest.mark.parametrize("method, path, status", [("GET", "/nope", 404), ("POST", "/api/nope", 404),
                                                  ("GET", "/api/generate", 405), ("GET", "/api/vocode", 405)])
def test_unknown_routes(base_url, method, path, status):
    got, headers, body = request(base_url, method, path, b"" if method == "POST" else None)
    assert_one_line_error(got, json.loads(body), status, path)
    assert headers["content-type"].startswith("application/json")


# ------------------------------------------------------------------------------------------------ generation
def test_generate_is_deterministic_and_judged(base_url):
    status, a = post_json(base_url, "/api/generate", {"model": "digits-default", "digit": "3", "seed": "5"})
    assert status == 200, a
    audio, sr = decode_wav(a["audio"])
    assert sr == 16000 and audio.shape == (16000,) and np.abs(audio).max() > 0.01
    assert a["digit"] == 3 and a["seed"] == 5 and 0 <= a["judged"]["digit"] <= 9
    png = base64.b64decode(a["spectrogram"].split(",", 1)[1])
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    _, b = post_json(base_url, "/api/generate", {"model": "digits-default", "digit": 3, "seed": 5})
    assert b["audio"] == a["audio"]  # same seed, same clip
    _, c = post_json(base_url, "/api/generate", {"model": "digits-default", "digit": 3, "seed": 6})
    assert c["audio"] != a["audio"]


@pytest.mark.parametrize("payload, needle", [
    ({"model": "nope", "digit": 1}, "unknown model 'nope' (available: digits-default"),
    ({"model": "/etc/passwd", "digit": 1}, "unknown model"),  # requests never name paths
    ({"model": "digits-default", "digit": 12}, "digit: expected an integer in 0..9, got 12"),
    ({"model": "digits-default", "digit": "seven"}, "digit: expected an integer in 0..9"),
    ({"model": "digits-default", "digit": None}, "digit: expected an integer"),
    ({"model": "digits-default", "digit": 1.5}, "digit: expected an integer"),
    ({"model": "digits-default", "digit": 1, "seed": -1}, "seed: expected an integer in 0..2147483647"),
    ({"model": "digits-default", "digit": 1, "seed": True}, "seed: expected an integer"),
    ([1, 2], "must be a JSON object"),
])
def test_generate_bad_input(base_url, payload, needle):
    status, answer = post_json(base_url, "/api/generate", payload)
    assert_one_line_error(status, answer, 400, needle)


def test_generate_bad_bodies(base_url):
    status, _, body = request(base_url, "POST", "/api/generate", b"{not json", {"Content-Type": "application/json"})
    assert_one_line_error(status, json.loads(body), 400, "not JSON")
    status, _, body = request(base_url, "POST", "/api/generate", b" " * 20000)
    assert_one_line_error(status, json.loads(body), 413, "too large")


def test_concurrent_requests_load_each_model_once(app, base_url, monkeypatch):
    loads = []
    real = App._generator

    def counting(self, choice):
        loads.append(choice.id)
        time.sleep(0.2)  # widen the race
        return real(self, choice)

    monkeypatch.setattr(App, "_generator", counting)
    with app._lock:  # forget what earlier tests loaded
        app._cache.pop(("generator", "digits-default"), None)
    payloads = [{"model": "digits-default", "digit": d % 10, "seed": d} for d in range(6)]
    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda p: post_json(base_url, "/api/generate", p), payloads))
    assert [s for s, _ in results] == [200] * 6
    assert [a["digit"] for _, a in results] == [d % 10 for d in range(6)]
    assert loads == ["digits-default"]


def test_cached_loads_once_per_key_under_threads():
    app = App.__new__(App)  # only the cache
    app._lock, app._cache, app._loading = threading.Lock(), {}, {}
    calls = []

    def load(key):
        calls.append(key)
        time.sleep(0.05)
        return key * 2

    with ThreadPoolExecutor(8) as pool:
        out = list(pool.map(lambda i: app.cached(i % 2, lambda: load(i % 2)), range(16)))
    assert out == [(i % 2) * 2 for i in range(16)] and sorted(calls) == [0, 1]


def test_unexpected_error_is_500_without_traceback(app, base_url, monkeypatch, capsys):
    def boom(*args, **kwargs):
        raise ValueError("secret detail\nTraceback (most recent call last): ...")

    monkeypatch.setattr(app, "generate", boom)
    status, answer = post_json(base_url, "/api/generate", {"model": "digits-default", "digit": 1})
    assert_one_line_error(status, answer, 500, "internal error (ValueError)")
    assert "secret" not in answer["error"]


# ------------------------------------------------------------------------------------------------ copy synthesis
def test_copy_synthesis_with_metrics(base_url, vocoder_ckpt, write_tone, tmp_path):
    data = write_tone(tmp_path / "in.flac", seconds=1.0, sr=22050).read_bytes()  # FLAC at 22.05 kHz: resampled
    status, a = upload(base_url, data, "in.flac", str(vocoder_ckpt))
    assert status == 200, a
    x, sr_in = decode_wav(a["input_audio"])
    y, sr_out = decode_wav(a["output_audio"])
    assert sr_in == sr_out == a["sample_rate"] == 16000 and a["input_sample_rate"] == 22050
    assert len(x) == len(y) == 16000
    assert [m["key"] for m in a["metrics"]] == ["pesq", "stoi", "mcd", "mrstft", "lsd", "f0_rmse", "vuv_error"]
    mcd = next(m for m in a["metrics"] if m["key"] == "mcd")
    assert mcd["value"] > 0 and mcd["better"] == "lower" and mcd["text"] != "-"
    for key in ("input_spectrogram", "output_spectrogram"):
        assert a[key].startswith("data:image/png;base64,")
    status, b = upload(base_url, data, "in.flac")  # no vocoder named: the first one on offer (the shipped default)
    offered = [c.id for c in web_app.shipped_choices() if c.kind == "vocoder"] + [str(vocoder_ckpt)]
    assert status == 200 and b["vocoder"] == offered[0]


def test_upload_refusals(base_url, write_tone, tmp_path):
    status, answer = upload(base_url, b"hello, I am a text file\n" * 10, "notes.txt")
    assert_one_line_error(status, answer, 400, "notes.txt: not an audio file that soundfile can decode")
    status, answer = upload(base_url, b"RIFF\x00\x00\x00\x00WAVEfmt garbage", "broken.wav")
    assert_one_line_error(status, answer, 400, "broken.wav: not an audio file")
    status, answer = upload(base_url, b"", "empty.wav")
    assert_one_line_error(status, answer, 400, "empty.wav: the upload is empty")
    status, answer = upload(base_url, write_tone(tmp_path / "long.wav", seconds=6.0).read_bytes(), "long.wav")
    assert_one_line_error(status, answer, 413, "long.wav: 6.0 s is too long (limit 5 s)")
    status, answer = upload(base_url, write_tone(tmp_path / "short.wav", seconds=0.02).read_bytes(), "short.wav")
    assert_one_line_error(status, answer, 400, "short.wav: too short")
    silent = io.BytesIO()
    sf.write(silent, np.zeros(16000, dtype=np.float32), 16000, format="WAV")
    status, answer = upload(base_url, silent.getvalue(), "silent.wav")
    assert_one_line_error(status, answer, 400, "silent.wav: silent")
    status, answer = upload(base_url, write_tone(tmp_path / "a.wav").read_bytes(), "a.wav", vocoder="nope")
    assert_one_line_error(status, answer, 400, "unknown vocoder 'nope'")
    status, answer = upload(base_url, write_tone(tmp_path / "a.wav").read_bytes(), "../../a.wav")
    assert status == 200 and answer["name"] == "a.wav"  # a file name, never a path


def test_oversize_upload_is_refused_before_reading(base_url):
    url = urlsplit(base_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:  # declare 3 MB (limit 2 MB) and send nothing: the answer must not wait for the body
        conn.putrequest("POST", "/api/vocode?name=big.wav")
        conn.putheader("Content-Length", str(3 * 2**20))
        conn.endheaders()
        resp = conn.getresponse()
        assert_one_line_error(resp.status, json.loads(resp.read()), 413, "big.wav: 3 MB is too large (limit 2 MB)")
    finally:
        conn.close()
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=10)
    try:  # no Content-Length at all
        conn.putrequest("POST", "/api/vocode?name=x.wav")
        conn.endheaders()
        resp = conn.getresponse()
        assert_one_line_error(resp.status, json.loads(resp.read()), 411, "Content-Length")
    finally:
        conn.close()


def test_no_vocoder_available(serve, write_tone, tmp_path):
    bare = App(classifier=None)
    bare.vocoders = {}  # no vocoder shipped (weights missing) and none given
    with serve(bare) as url:
        _, _, page = request(url, "GET", "/")
        assert "id='voc-none'" in page.decode() and "voc-form" not in page.decode()
        assert "no vocoder available" in page.decode() and "--vocoder RUN_FOLDER" in page.decode()
        status, answer = upload(url, write_tone(tmp_path / "a.wav").read_bytes(), "a.wav")
        assert_one_line_error(status, answer, 503, NO_VOCODER)
        _, _, listing = request(url, "GET", "/api/models")
        assert json.loads(listing)["no_vocoder_message"] == NO_VOCODER


def test_shipped_default_vocoder_comes_first(vocoder_ckpt, monkeypatch):
    default = ModelChoice("default", "default (hifigan)", "default", "hifigan", "vocoder")
    monkeypatch.setattr(web_app, "shipped_choices", lambda: [default])
    app = App(vocoders=[str(vocoder_ckpt)], classifier=None)
    assert list(app.vocoders) == ["default", str(vocoder_ckpt)]
    assert app.generators == {}
