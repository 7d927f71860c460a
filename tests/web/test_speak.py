"""``POST /api/speak``: text-to-speech in ``speechgen serve`` with small untrained Tacotron 2 checkpoints — WAV,
spectrogram and attention alignment as data URIs, voices by name or index, the listing and the page's box, every
refusal as a one-line JSON error (a text that cannot be spoken names its token), and the server as before when no
text-to-speech model is on offer."""

from __future__ import annotations

import base64
import json

import numpy as np
import pytest
import torch

from speechgen.checkpoint import save_checkpoint
from speechgen.models.hifigan import HiFiGAN
from speechgen.web import app as web_app
from speechgen.web.app import NO_TTS, NO_VOCODER, App, ModelChoice
from speechgen.web.page import MAX_SPOKEN_DIGITS, MAX_TEXT_CHARS

from ..text_speech_fixtures import tacotron_checkpoint, tts_checkpoint
from .test_app import assert_one_line_error, decode_wav, post_json, request

PNG = b"\x89PNG\r\n\x1a\n"


def png_bytes(uri: str) -> bytes:
    assert uri.startswith("data:image/png;base64,")
    return base64.b64decode(uri.split(",", 1)[1])


@pytest.fixture(scope="module")
def never(tmp_path_factory):
    """One voice; its stop token never fires (cut at the step cap: 3 frames per symbol)."""
    return tts_checkpoint(tmp_path_factory.mktemp("tts") / "never", stop_bias=-50.0)


@pytest.fixture(scope="module")
def at_once(tmp_path_factory):
    """One voice; its stop token fires at the first step."""
    return tts_checkpoint(tmp_path_factory.mktemp("tts") / "at-once", stop_bias=50.0)


@pytest.fixture(scope="module")
def voices(tmp_path_factory):
    """Three voices, voice0 .. voice2."""
    return tts_checkpoint(tmp_path_factory.mktemp("tts") / "voices", n_speakers=3, speaker_dim=4, stop_bias=-50.0)


@pytest.fixture(scope="module")
def other_rate(tmp_path_factory):
    """A vocoder at 22.05 kHz: it does not fit the 16 kHz text-to-speech models."""
    torch.manual_seed(0)
    kwargs = {"upsample_initial_channel": 16, "disc_width": 1 / 32, "sample_rate": 22050}
    return save_checkpoint(tmp_path_factory.mktemp("vocoder") / "hifigan-22k", HiFiGAN(**kwargs),
                           {"name": "hifigan", "kwargs": kwargs})


@pytest.fixture(scope="module")
def tts_app(never, at_once, voices, vocoder_ckpt, other_rate):
    return App(vocoders=[str(vocoder_ckpt), str(other_rate)], classifier=None,
               tts=[str(never), str(at_once), str(voices)])


@pytest.fixture(scope="module")
def tts_url(tts_app, serve):
    with serve(tts_app) as url:
        yield url


def speak(url: str, **payload) -> tuple[int, dict]:
    return post_json(url, "/api/speak", payload)


# ------------------------------------------------------------------------------------------------ speaking
def test_speak_returns_audio_spectrogram_and_alignment(tts_url, never):
    status, a = speak(tts_url, model=str(never), text="four two seven", seed=3)
    assert status == 200, a
    audio, sr = decode_wav(a["audio"])
    # the step cap: "four two seven" is 15 symbols -> 45 frames, 46 at 2 frames per step; 256 samples a frame
    assert sr == a["sample_rate"] == 16000 and len(audio) == 46 * 256 > 0 and np.abs(audio).max() > 0
    assert a["duration"] == pytest.approx(len(audio) / sr) and a["frames"] == 46
    assert a["text"] == "four two seven" and a["digits"] == "4 2 7" and a["model"] == str(never)
    assert a["speaker"] is None and a["seed"] == 3 and a["vocoder"] == "default"  # the first vocoder on offer
    assert a["stopped"] is False and "stop token never fired" in a["warning"]
    assert png_bytes(a["spectrogram"])[:8] == PNG and png_bytes(a["alignment"])[:8] == PNG
    assert a["speak_seconds"] >= 0
    _, b = speak(tts_url, model=str(never), text="4 2 7", seed="3")  # any spelling, a decimal seed
    assert b["audio"] == a["audio"]  # same text and seed, same clip
    _, c = speak(tts_url, model=str(never), text="four two seven", seed=4)
    assert c["audio"] != a["audio"]


def test_a_stopping_model_and_a_chosen_vocoder(tts_url, at_once, vocoder_ckpt):
    status, a = speak(tts_url, model=str(at_once), text="oh", vocoder=str(vocoder_ckpt))
    assert status == 200, a
    audio, _ = decode_wav(a["audio"])
    assert a["stopped"] is True and a["warning"] is None and a["vocoder"] == str(vocoder_ckpt)
    assert a["text"] == "zero" and len(audio) > 0 and png_bytes(a["alignment"])[:8] == PNG


def test_voices_by_name_or_index(tts_url, voices):
    status, by_name = speak(tts_url, model=str(voices), text="1 2", speaker="voice2", seed=1)
    assert status == 200 and by_name["speaker"] == "voice2", by_name
    _, by_index = speak(tts_url, model=str(voices), text="1 2", speaker=2, seed=1)
    _, by_string = speak(tts_url, model=str(voices), text="1 2", speaker="2", seed=1)
    assert by_index["audio"] == by_string["audio"] == by_name["audio"]
    _, first = speak(tts_url, model=str(voices), text="1 2", seed=1)  # no speaker: the first voice
    _, zero = speak(tts_url, model=str(voices), text="1 2", speaker="voice0", seed=1)
    assert first["speaker"] == "voice0" and first["audio"] == zero["audio"] != by_name["audio"]


def test_bad_text_names_the_token(tts_url, never):
    status, answer = speak(tts_url, model=str(never), text="four cat two")
    assert_one_line_error(status, answer, 400, "cannot speak 'cat'")
    assert answer["error"].startswith("text 'four cat two': cannot speak 'cat'")


@pytest.mark.parametrize("payload, needle", [
    ({"text": "1"}, "unknown model None (available: "),
    ({"model": "nope", "text": "1"}, "unknown model 'nope' (available: "),
    ({"model": "/etc/passwd", "text": "1"}, "unknown model"),  # requests never name paths
    ({"model": "{never}", "text": "1", "vocoder": "nope"}, "unknown vocoder 'nope' (available: default"),
    ({"model": "{never}", "text": "1", "vocoder": "{other_rate}"},
     "does not fit never (tacotron2): works at 22050 Hz, the model speaks at 16000 Hz"),
    ({"model": "{never}"}, "text: expected a string of digits or digit words, got None"),
    ({"model": "{never}", "text": 427}, "text: expected a string"),
    ({"model": "{never}", "text": ""}, "no digits to speak"),
    ({"model": "{never}", "text": "   ,  "}, "no digits to speak"),
    ({"model": "{never}", "text": "hello"}, "cannot speak 'hello'"),
    ({"model": "{never}", "text": "1" * (MAX_SPOKEN_DIGITS + 1)}, f"at most {MAX_SPOKEN_DIGITS}"),
    ({"model": "{never}", "text": " " * (MAX_TEXT_CHARS + 1) + "1"}, f"characters, at most {MAX_TEXT_CHARS}"),
    ({"model": "{never}", "text": "1", "speaker": "voice1"}, "speaks with one voice; leave the speaker empty"),
    ({"model": "{voices}", "text": "1", "speaker": 3},
     "speaker: expected an index in 0..2 or a voice name (voice0, voice1, voice2), got 3"),
    ({"model": "{voices}", "text": "1", "speaker": "nobody"}, "speaker: expected an index in 0..2"),
    ({"model": "{voices}", "text": "1", "speaker": True}, "speaker: expected an index"),
    ({"model": "{voices}", "text": "1", "speaker": -1}, "speaker: expected an index"),
    ({"model": "{never}", "text": "1", "seed": -1}, "seed: expected an integer in 0..2147483647"),
    ({"model": "{never}", "text": "1", "seed": "x"}, "seed: expected an integer"),
    ({"model": "{never}", "text": "1", "seed": 1.5}, "seed: expected an integer"),
])
def test_bad_requests_are_one_line_400s(tts_url, never, voices, other_rate, payload, needle):
    names = {"never": str(never), "voices": str(voices), "other_rate": str(other_rate)}
    payload = {k: v.format(**names) if isinstance(v, str) and "{" in v else v for k, v in payload.items()}
    status, answer = speak(tts_url, **payload)
    assert_one_line_error(status, answer, 400, needle)


def test_an_unfit_vocoder_is_refused_again_without_reloading(tts_app, tts_url, never, other_rate, monkeypatch):
    payload = {"model": str(never), "text": "1", "vocoder": str(other_rate)}
    assert speak(tts_url, **payload)[0] == 400
    loads = []
    monkeypatch.setattr(App, "_tts", lambda self, *a: loads.append(a))
    status, answer = speak(tts_url, **payload)
    assert_one_line_error(status, answer, 400, "does not fit")
    assert loads == []  # the refusal was cached with the pair


def test_bodies_and_methods(tts_url):
    status, _, body = request(tts_url, "POST", "/api/speak", b"{not json", {"Content-Type": "application/json"})
    assert_one_line_error(status, json.loads(body), 400, "not JSON")
    status, _, body = request(tts_url, "POST", "/api/speak", b" " * 20000)
    assert_one_line_error(status, json.loads(body), 413, "request: 19.5 KB is too large (limit 16 KB)")
    status, _, body = request(tts_url, "GET", "/api/speak")
    assert_one_line_error(status, json.loads(body), 405, "/api/speak: use POST")


def test_cross_origin_speak_is_refused_before_any_model_runs(tts_app, tts_url, never, monkeypatch):
    calls = []
    monkeypatch.setattr(tts_app, "speak", lambda *a, **k: calls.append(a))
    port = tts_url.rsplit(":", 1)[1].strip("/")
    body = json.dumps({"model": str(never), "text": "1"}).encode()
    for headers in ({"Origin": "http://evil.example"}, {"Referer": "http://evil.example/x.html"},
                    {"Origin": f"http://127.0.0.1:{port}", "Sec-Fetch-Site": "cross-site"}):
        status, _, answer = request(tts_url, "POST", "/api/speak", body, {"Content-Type": "text/plain", **headers})
        assert_one_line_error(status, json.loads(answer), 403, "cross-origin")
    status, _, answer = request(tts_url, "POST", "/api/speak", body, {"Host": f"evil.example:{port}"})
    assert_one_line_error(status, json.loads(answer), 403, "Host")
    assert calls == []


# ------------------------------------------------------------------------------------------------ listing, page
def test_listing_and_page_offer_the_tts_models(tts_url, never, voices, vocoder_ckpt):
    status, _, body = request(tts_url, "GET", "/api/models")
    listing = json.loads(body)
    assert status == 200 and listing["no_tts_message"] is None
    by_id = {c["id"]: c for c in listing["tts"]}
    assert by_id[str(never)] == {"id": str(never), "label": "never (tacotron2)", "model": "tacotron2",
                                 "kind": "tts", "n_classes": 0, "n_speakers": 0, "speakers": []}
    assert by_id[str(voices)]["n_speakers"] == 3 and by_id[str(voices)]["speakers"] == ["voice0", "voice1", "voice2"]
    for c in listing["generators"] + listing["vocoders"]:  # the other kinds are listed as before
        assert set(c) == {"id", "label", "model", "kind", "n_classes"}
    _, headers, page = request(tts_url, "GET", "/")
    html = page.decode()
    assert "script-src 'self'" in headers["content-security-policy"] and "<script>" not in html
    assert "id=\"tts-form\"" in html and "tts-none" not in html
    assert f"value='{voices}' data-speakers='3' data-voices='[&quot;voice0&quot;" in html
    assert f"value='{vocoder_ckpt}'" in html.split("tts-vocoder", 1)[1]
    _, _, script = request(tts_url, "GET", "/app.js")
    assert b'"/api/speak"' in script and b"syncSpeakers" in script


def test_without_tts_models_the_server_is_as_before(serve, vocoder_ckpt, monkeypatch):
    shipped = [c for c in web_app.shipped_choices() if c.kind != "tts"]  # whether or not one is shipped
    monkeypatch.setattr(web_app, "shipped_choices", lambda: shipped)
    plain = App(vocoders=[str(vocoder_ckpt)], classifier=None)
    assert plain.tts == {}
    with serve(plain) as url:
        _, _, page = request(url, "GET", "/")
        html = page.decode()
        assert "id='tts-none'" in html and "tts-form" not in html and "--tts RUN_FOLDER" in html
        assert "gen-form" in html and "voc-form" in html
        listing = json.loads(request(url, "GET", "/api/models")[2])
        assert listing["tts"] == [] and listing["no_tts_message"] == NO_TTS
        status, answer = speak(url, model="tts-default", text="1")
        assert_one_line_error(status, answer, 503, NO_TTS)
        status, answer = post_json(url, "/api/generate", {"model": "digits-default", "digit": 1})
        assert status == 200 and answer["digit"] == 1


def test_tts_without_a_vocoder_says_so(serve, never, monkeypatch):
    monkeypatch.setattr(web_app, "shipped_choices", list)
    bare = App(tts=[str(never)], classifier=None)
    with serve(bare) as url:
        html = request(url, "GET", "/")[2].decode()
        assert "id='tts-none'" in html and "no vocoder available" in html
        assert json.loads(request(url, "GET", "/api/models")[2])["no_tts_message"] == NO_VOCODER
        status, answer = speak(url, model=str(never), text="1")
        assert_one_line_error(status, answer, 503, NO_VOCODER)


def test_shipped_tts_models_are_offered(vocoder_ckpt, never, monkeypatch):
    shipped = ModelChoice("tts-default", "tts-default (tacotron2)", "tts-default", "tacotron2", "tts",
                          n_speakers=2, speakers=("a", "b"))
    monkeypatch.setattr(web_app, "shipped_choices", lambda: [shipped])
    app = App(vocoders=[str(vocoder_ckpt)], classifier=None, tts=[str(never)])
    assert list(app.tts) == ["tts-default", str(never)] and app.generators == {}
    assert app.listing()["tts"][0]["speakers"] == ["a", "b"]


def test_shipped_choices_include_every_shipped_tts_model():
    """What `speechgen.pretrained` ships as text-to-speech (by its roles) is what the app offers, if anything."""
    from speechgen import pretrained
    from speechgen.inference.loading import describe
    from speechgen.models.roles import TEXT_TO_SPEECH

    want = []
    for name in sorted(pretrained.PRETRAINED):
        try:
            roles = describe(pretrained.path(name)).roles
        except web_app.SpeechgenError:
            continue
        if TEXT_TO_SPEECH in roles:
            want.append(name)
    assert [c.id for c in web_app.shipped_choices() if c.kind == "tts"] == want


def test_folder_choice_refuses_other_kinds(vocoder_ckpt, never):
    with pytest.raises(web_app.ConfigError, match="--tts .*: holds a 'hifigan' model, not a text-to-speech model"):
        web_app.folder_choice(str(vocoder_ckpt), "tts", "--tts")
    with pytest.raises(web_app.ConfigError, match="holds a 'tacotron2' model, not a generator"):
        web_app.folder_choice(str(never), "generator", "--model")
    with pytest.raises(web_app.ConfigError, match="holds a 'tacotron2' model, not a vocoder"):
        web_app.folder_choice(str(never), "vocoder", "--vocoder")


def test_alignment_png():
    a = np.eye(6, 4, dtype=np.float32)
    assert web_app.alignment_png(a, "a $title$")[:8] == PNG


def test_a_model_that_makes_its_own_audio_speaks_without_a_vocoder(serve, vocoder_ckpt, tmp_path, monkeypatch):
    """Tacotron with no vocoder named: its own audio (the answer's vocoder is null); naming one voices its log-mel."""
    monkeypatch.setattr(web_app, "shipped_choices", list)
    own = tacotron_checkpoint(tmp_path / "tacotron", stop_bias=-50.0)
    with serve(App(tts=[str(own)], vocoders=[str(vocoder_ckpt)], classifier=None)) as url:
        status, a = speak(url, model=str(own), text="4 2", seed=1)
        assert status == 200 and a["vocoder"] is None, a
        assert png_bytes(a["alignment"])[:8] == PNG
        status, b = speak(url, model=str(own), text="4 2", seed=1, vocoder=str(vocoder_ckpt))
        assert status == 200 and b["vocoder"] == str(vocoder_ckpt) and b["audio"] != a["audio"]
