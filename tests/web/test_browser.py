"""End to end in headless Chromium (Debian's ``chromium`` + ``chromium-driver``, driven by selenium): generate a
digit on the page, speak a digit string (and see a text that cannot be spoken refused on the page),
copy-synthesise an uploaded WAV, see a non-audio upload refused on the page, separate an uploaded mixture into one
player per voice, and load the audio
players and images of ``speechgen report`` pages (a single report and a leaderboard).

Skipped only when Chromium is not installed; CI installs it (.ci/run).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from speechgen.audio import io as audio_io
from speechgen.cli.main import main

CHROMIUM = next((p for p in (shutil.which("chromium"), shutil.which("chromium-browser")) if p), None)
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (apt-get install -y chromium "
                                "chromium-driver); the browser tests need it")
WAIT = 20  # seconds for anything on a page (the first generation loads the model and the judge)

# Every <audio> and <img> of the page: loaded and playable (audio metadata read without a media error, images
# decoded). Audio elements with preload='none' are asked to load first.
MEDIA_STATE = """
const audio = [...document.querySelectorAll(arguments[0] + ' audio')];
const images = [...document.querySelectorAll(arguments[0] + ' img')];
return {
  audio: audio.map(a => ({src: (a.currentSrc || a.src).slice(0, 22), ready: a.readyState,
                          error: a.error ? a.error.code : null, duration: a.duration})),
  images: images.map(i => ({complete: i.complete, width: i.naturalWidth})),
};
"""


@pytest.fixture(scope="module")
def browser():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is missing: install the dev extra (pip install -e .[dev])")
    driver_path = shutil.which("chromedriver") or "/usr/lib/chromium/chromedriver"
    if not Path(driver_path).is_file():
        pytest.fail("Chromium is installed but chromedriver is not: apt-get install -y chromium-driver")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--mute-audio",
                "--disable-extensions", "--no-first-run", "--window-size=1200,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    driver.set_page_load_timeout(WAIT)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(driver, script: str, *args, timeout: float = WAIT):
    """Poll a JavaScript expression (``return ...``) until it is truthy; return its value."""
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout, poll_frequency=0.1).until(lambda d: d.execute_script(script, *args))


def media_loaded(driver, scope: str, timeout: float = WAIT) -> dict:
    """Wait until every audio element under ``scope`` has metadata (or failed) and every image is complete."""
    driver.execute_script("document.querySelectorAll(arguments[0] + ' audio').forEach(a => {"
                          "if (a.preload === 'none') { a.preload = 'auto'; a.load(); } });", scope)
    wait_for(driver, "return [...document.querySelectorAll(arguments[0] + ' audio')].every("
             "a => a.readyState >= 1 || a.error) && [...document.querySelectorAll(arguments[0] + ' img')]"
             ".every(i => i.complete);", scope, timeout=timeout)
    return driver.execute_script(MEDIA_STATE, scope)


def assert_playable(state: dict, n_audio: int, n_images: int, seconds: float | None = None) -> None:
    assert len(state["audio"]) == n_audio and len(state["images"]) == n_images, state
    for a in state["audio"]:
        assert a["src"].startswith(("data:audio/wav", "data:audio/flac")) and a["error"] is None \
            and a["ready"] >= 1, a
        if seconds is not None:
            assert abs(a["duration"] - seconds) < 0.01, a
    assert all(i["complete"] and i["width"] > 0 for i in state["images"]), state["images"]


def test_generate_a_digit(browser, base_url):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    browser.get(base_url)
    wait_for(browser, "return document.body.dataset.ready === '1';")
    assert Select(browser.find_element(By.ID, "gen-model")).first_selected_option.get_attribute("value") == \
        "digits-default"
    Select(browser.find_element(By.ID, "gen-digit")).select_by_value("4")
    seed = browser.find_element(By.ID, "gen-seed")
    seed.clear()
    seed.send_keys("2")
    browser.find_element(By.ID, "gen-button").click()
    wait_for(browser, "return !document.getElementById('gen-result').hidden "
             "|| !document.getElementById('gen-error').hidden;")
    assert browser.find_element(By.ID, "gen-error").get_attribute("hidden") is not None
    assert_playable(media_loaded(browser, "#gen-result"), 1, 1, seconds=1.0)
    assert browser.execute_script("return document.getElementById('gen-audio').canPlayType('audio/wav');")
    info = browser.find_element(By.ID, "gen-info").text
    assert "digits-default, digit 4, seed 2" in info and "The judge hears" in \
        browser.find_element(By.ID, "gen-judged").text


def test_copy_synthesis_and_refused_upload(browser, base_url, write_tone, tmp_path):
    from selenium.webdriver.common.by import By

    browser.get(base_url)
    wait_for(browser, "return document.body.dataset.ready === '1';")
    wav = write_tone(tmp_path / "tone.wav", seconds=1.5)
    browser.find_element(By.ID, "voc-file").send_keys(str(wav))
    browser.find_element(By.ID, "voc-button").click()
    wait_for(browser, "return !document.getElementById('voc-result').hidden "
             "|| !document.getElementById('voc-error').hidden;")
    assert browser.find_element(By.ID, "voc-error").get_attribute("hidden") is not None
    assert_playable(media_loaded(browser, "#voc-result"), 2, 2, seconds=1.5)
    keys = browser.execute_script("return [...document.querySelectorAll('#voc-metrics tr[data-key]')]"
                                  ".map(r => r.dataset.key);")
    assert keys == ["pesq", "stoi", "mcd", "mrstft", "lsd", "f0_rmse", "vuv_error"]
    assert "tone.wav: 1.50 s analysed at 16000 Hz" in browser.find_element(By.ID, "voc-info").text

    notes = tmp_path / "notes.wav"  # named like audio, but text: the server decodes it and refuses
    notes.write_text("not audio at all\n" * 20)
    browser.find_element(By.ID, "voc-file").send_keys(str(notes))
    browser.find_element(By.ID, "voc-button").click()
    error = wait_for(browser, "const e = document.getElementById('voc-error'); return !e.hidden && e.textContent;")
    assert "notes.wav: not an audio file that soundfile can decode" in error
    assert "Traceback" not in browser.page_source


def test_speak_a_digit_string_and_a_refused_text(browser, serve, vocoder_ckpt, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    from speechgen.web.app import App

    from ..text_speech_fixtures import tts_checkpoint

    one = tts_checkpoint(tmp_path / "one", stop_bias=-50.0)
    voices = tts_checkpoint(tmp_path / "voices", n_speakers=2, speaker_dim=4, stop_bias=-50.0)
    app = App(vocoders=[str(vocoder_ckpt)], classifier=None, tts=[str(one), str(voices)])
    with serve(app) as url:
        browser.get(url)
        wait_for(browser, "return document.body.dataset.ready === '1';")
        speaker = Select(browser.find_element(By.ID, "tts-speaker"))
        model = Select(browser.find_element(By.ID, "tts-model"))
        model.select_by_value(str(one))  # (the shipped tts-default, when there is one, comes first)
        assert browser.find_element(By.ID, "tts-speaker").get_attribute("disabled") is not None  # one voice
        model.select_by_value(str(voices))
        assert [o.text for o in speaker.options] == ["voice0", "voice1"]
        speaker.select_by_visible_text("voice1")
        text = browser.find_element(By.ID, "tts-text")
        text.clear()
        text.send_keys("four two seven")
        browser.find_element(By.ID, "tts-button").click()
        wait_for(browser, "return !document.getElementById('tts-result').hidden "
                 "|| !document.getElementById('tts-error').hidden;")
        assert browser.find_element(By.ID, "tts-error").get_attribute("hidden") is not None
        # the step cap: "four two seven" is 15 symbols -> 46 frames of 256 samples at 16 kHz
        assert_playable(media_loaded(browser, "#tts-result"), 1, 2, seconds=46 * 256 / 16000)
        info = browser.find_element(By.ID, "tts-info").text
        assert "four two seven" in info and "voice voice1" in info
        assert "stop token never fired" in browser.find_element(By.ID, "tts-warning").text

        text.clear()
        text.send_keys("four cat two")
        browser.find_element(By.ID, "tts-button").click()
        error = wait_for(browser, "const e = document.getElementById('tts-error'); return !e.hidden && e.textContent;")
        assert "cannot speak 'cat'" in error and "Traceback" not in browser.page_source


def test_the_page_words_sizes_as_the_server(browser, base_url):
    from speechgen.web.page import format_size, too_large

    browser.get(base_url)
    wait_for(browser, "return document.body.dataset.ready === '1';")
    for n in (0, 1, 100, 1023, 1024, 16384, 20000, 2**20, 3 * 2**20, int(2.5 * 2**20), 10 * 2**30):
        assert browser.execute_script("return formatSize(arguments[0]);", n) == format_size(n), n
    for size, limit in ((200, 100), (20000, 16384), (16385, 16384), (3 * 2**20, 2 * 2**20)):
        assert browser.execute_script("return tooLarge('a.wav', arguments[0], arguments[1]);", size, limit) == \
            too_large("a.wav", size, limit)


def test_a_page_on_another_origin_cannot_make_the_server_generate(browser, base_url, app, monkeypatch, tmp_path):
    """CSRF in a real browser: a page served from another origin (a plain file server on another port) posts to
    the server with a ``no-cors`` text/plain fetch (no preflight); the browser sends its Origin and the server
    refuses (403) before running a model. The same fetch from the server's own page runs."""
    import functools
    import threading
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    (tmp_path / "index.html").write_text("<!DOCTYPE html><html><body>elsewhere</body></html>")
    other = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(SimpleHTTPRequestHandler,
                                                                    directory=str(tmp_path)))
    other.RequestHandlerClass.log_message = lambda *a: None
    thread = threading.Thread(target=other.serve_forever, daemon=True)
    thread.start()
    calls = []
    real = app.generate
    monkeypatch.setattr(app, "generate", lambda *a, **k: calls.append(a) or real(*a, **k))
    body = '{"model": "digits-default", "digit": 1, "seed": 0}'
    fetch = ("const done = arguments[arguments.length - 1];"
             "fetch(arguments[0], {method: 'POST', mode: 'no-cors', body: arguments[1],"
             " headers: {'Content-Type': 'text/plain'}}).then(r => done(r.type + ':' + r.status),"
             " e => done('error:' + e.message));")
    try:
        browser.get(f"http://127.0.0.1:{other.server_address[1]}/index.html")
        browser.set_script_timeout(WAIT)
        assert browser.execute_async_script(fetch, base_url + "api/generate", body) == "opaque:0"
        assert calls == []
        browser.get(base_url)  # the server's own page: same origin, served
        wait_for(browser, "return document.body.dataset.ready === '1';")
        assert browser.execute_async_script(fetch, base_url + "api/generate", body) == "basic:200"
        assert len(calls) == 1
    finally:
        other.shutdown()
        other.server_close()


def _eval_json(folder: Path, model: str, metrics: dict, seed: int) -> Path:
    """An eval JSON as `speechgen demo` writes it: metrics, real rows and judged clips (tones), plus a grid."""
    rng = np.random.default_rng(seed)
    clips = []
    for i, label in enumerate((1, 2, 3)):
        t = np.arange(16000) / 16000
        x = 0.3 * np.sin(2 * np.pi * (200 + 100 * label) * t) * (t < rng.uniform(0.5, 0.9))
        audio_io.save(folder / "wav" / f"sample-{i:05d}.wav", x.astype(np.float32), 16000)
        clips.append({"path": f"wav/sample-{i:05d}.wav", "label": label, "predicted": label, "probability": 0.9})
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.imsave(folder / "grid.png", rng.random((32, 32)))
    reference = {"train": {"n": 100, "fid": 0.0, "inception_score": {"mean": 9.9, "std": 0.0}},
                 "test": {"n": 50, "fid": 1.1, "inception_score": {"mean": 9.5, "std": 0.1}}}
    result = {"generated": "wav", "model": model, **metrics, "reference": reference, "clips": clips}
    path = folder / "eval.json"
    path.write_text(json.dumps(result))
    return path


def test_report_pages_load_in_the_browser(browser, tmp_path):
    a = _eval_json(tmp_path / "a", "model-a", {"n": 3, "fid": 4.0, "label_accuracy": 0.9,
                                              "inception_score": {"mean": 8.0, "std": 0.1}}, 0)
    b = _eval_json(tmp_path / "b", "model-b", {"n": 3, "fid": 2.5, "label_accuracy": 0.8,
                                              "inception_score": {"mean": 7.0, "std": 0.1}}, 1)
    single, board = tmp_path / "report.html", tmp_path / "leaderboard.html"
    assert main(["report", str(a), "--out", str(single), "--quiet"]) == 0
    assert main(["report", str(a), str(b), "--out", str(board), "--quiet"]) == 0

    real = 10  # one shipped real test-voice clip per digit (FLAC), after the generated ones
    browser.get(single.as_uri())
    state = media_loaded(browser, "body")
    assert_playable(state, 3 + real, 1, seconds=1.0)
    assert sum(a["src"].startswith("data:audio/flac") for a in state["audio"]) == real

    browser.get(board.as_uri())
    assert_playable(media_loaded(browser, "body"), 6 + real, 2, seconds=1.0)  # 3 clips and a spectrogram per entry
    best = browser.execute_script("return [...document.querySelectorAll('td.best')].map(td => "
                                  "td.closest('tr').querySelector('a').textContent + ':' + td.textContent);")
    assert best == []  # 3 clips each: below every metric's minimum n, so no row is starred ...
    note = browser.execute_script("return [...document.querySelectorAll('p.note')].map(p => p.textContent).join(' ');")
    assert "An entry is ranked only when its n reaches the minimum n" in note  # ... and the page says why
    browser.find_element("css selector", "a[href='#entry-1']").click()
    assert browser.execute_script("return location.hash;") == "#entry-1"


def test_separate_an_upload_into_one_player_per_voice(browser, serve, write_tone, tmp_path):
    """The 'Separate voices' section: an uploaded mixture comes back as one player and spectrogram per voice (a
    random-weight 2-voice separator: the shape of the answer is what is checked)."""
    import torch
    from selenium.webdriver.common.by import By

    from speechgen.checkpoint import save_checkpoint
    from speechgen.models.mulcat_separator import MulCatSeparator
    from speechgen.web.app import App

    kwargs = {"sample_rate": 16000, "n_sources": 2, "enc_dim": 8, "kernel_size": 16, "hidden": 8, "blocks": 2,
              "chunk_size": 10}
    torch.manual_seed(0)
    sep = save_checkpoint(tmp_path / "sep", MulCatSeparator(**kwargs), {"name": "mulcat_separator", "kwargs": kwargs})
    with serve(App(separators=[str(sep)], max_seconds=5.0)) as url:
        browser.get(url)
        wait_for(browser, "return document.body.dataset.ready === '1';")
        browser.find_element(By.ID, "sep-file").send_keys(str(write_tone(tmp_path / "mix.wav", seconds=1.0)))
        browser.find_element(By.ID, "sep-button").click()
        wait_for(browser, "return !document.getElementById('sep-result').hidden "
                 "|| !document.getElementById('sep-error').hidden;")
        assert browser.find_element(By.ID, "sep-error").get_attribute("hidden") is not None
        assert_playable(media_loaded(browser, "#sep-result"), 3, 3, seconds=1.0)  # the mixture and two voices
        assert "mix.wav: 1.00 s at 16000 Hz, 2 voices" in browser.find_element(By.ID, "sep-info").text
