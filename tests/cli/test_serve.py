"""``speechgen serve`` on the command line: bad options give one line and exit code 2; the real command serves the
page and the API until interrupted."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import torch

from speechgen import pretrained
from speechgen.cli.main import main
from speechgen.models.hifigan import HiFiGAN
from speechgen.web.app import shipped_choices
from speechgen.checkpoint import save_checkpoint

from ..text_speech_fixtures import tts_checkpoint

HIFIGAN = {"upsample_initial_channel": 16, "disc_width": 1 / 32}


@pytest.fixture(scope="module")
def vocoder_ckpt(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("vocoder") / "tiny-hifigan"
    return save_checkpoint(folder, HiFiGAN(**HIFIGAN), {"name": "hifigan", "kwargs": HIFIGAN})


@pytest.fixture(scope="module")
def tts_ckpt(tmp_path_factory) -> Path:
    return tts_checkpoint(tmp_path_factory.mktemp("tts") / "tiny-tacotron2", stop_bias=-50.0)


def _one_line_error(capsys, needle: str) -> None:
    err = capsys.readouterr().err.strip()
    assert err.startswith("speechgen: error:") and needle in err and "\n" not in err, err


def test_bad_options_one_line(tmp_path, capsys, vocoder_ckpt, tts_ckpt):
    cases = [
        (["--model", str(tmp_path / "missing")], "missing: no such run or checkpoint folder"),
        (["--vocoder", str(tmp_path)], "holds no checkpoint"),
        (["--vocoder", str(pretrained.path("digits-default"))], "holds a 'vae' model, not a vocoder"),
        (["--model", str(vocoder_ckpt)], "holds a 'hifigan' model, not a generator"),
        (["--tts", str(vocoder_ckpt)], f"--tts {vocoder_ckpt}: holds a 'hifigan' model, not a text-to-speech model"),
        (["--tts", str(pretrained.path("digits-default"))], "holds a 'vae' model, not a text-to-speech model"),
        (["--tts", str(tmp_path / "missing")], "missing: no such run or checkpoint folder"),
        (["--tts", str(tmp_path)], "holds no checkpoint"),
        (["--model", str(tts_ckpt)], "holds a 'tacotron2' model, not a generator"),
        (["--vocoder", str(tts_ckpt)], "holds a 'tacotron2' model, not a vocoder"),
        (["--port", "70000"], "--port: must be in 0..65535"),
        (["--max-upload-mb", "0"], "--max-upload-mb: must be > 0"),
        (["--max-seconds", "-1"], "--max-seconds: must be > 0"),
        (["--workers", "0"], "--workers: must be in 1..256, got 0"),
        (["--queue", "-1"], "--queue: must be in 0..4096, got -1"),
        (["--request-timeout", "0"], "--request-timeout: must be > 0"),
        (["--request-timeout", "nan"], "--request-timeout: must be > 0"),
        (["--allow-host", "evil.example:80"], "--allow-host evil.example:80: expected a host name"),
        (["--allow-host", "http://x/"], "--allow-host http://x/: expected a host name"),
    ]
    for extra, needle in cases:
        assert main(["serve", "--quiet", *extra]) == 2, extra
        _one_line_error(capsys, needle)


def test_help_names_the_limits_and_the_host_policy(capsys):
    with pytest.raises(SystemExit):
        main(["serve", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for needle in ("--workers", "--queue", "--request-timeout", "--allow-host", "503", "408", "Host", "Origin",
                   "default 8", "default 30", "--tts", "text-to-speech"):
        assert needle in text, needle


def test_port_in_use_one_line(capsys):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert main(["serve", "--quiet", "--port", str(port)]) == 2
    _one_line_error(capsys, f"--port {port}: cannot listen")


def _ignore_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)


# SIGINT also when the server starts with SIGINT ignored (as under a test runner's worker or `nohup ... &`),
# where Python installs no KeyboardInterrupt handler of its own; SIGTERM as a service manager stops it
@pytest.mark.slow
@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_serve_command_runs_until_interrupted(vocoder_ckpt, tts_ckpt, stop):
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", COLUMNS="200")
    proc = subprocess.Popen([sys.executable, "-m", "speechgen.cli.main", "serve", "--port", "0", "--vocoder",
                             str(vocoder_ckpt), "--tts", str(tts_ckpt), "--workers", "2", "--queue", "4",
                             "--request-timeout", "10",
                             "--allow-host", "speech.test"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env, preexec_fn=_ignore_sigint)
    try:
        output, url, deadline = "", None, time.monotonic() + 120
        while url is None and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            output += line
            match = re.search(r"http://127\.0\.0\.1:\d+/", output)
            url = match.group(0) if match else None
        assert url, output
        shipped = [c.id for c in shipped_choices() if c.kind == "vocoder"]  # the shipped default comes first
        assert f"{len(shipped) + 1} vocoder(s)" in output
        shipped_tts = [c.id for c in shipped_choices() if c.kind == "tts"]
        assert f"{len(shipped_tts) + 1} text-to-speech model(s)" in output
        with urllib.request.urlopen(url, timeout=30) as resp:
            assert resp.status == 200 and b"gen-model" in resp.read()
        with urllib.request.urlopen(url + "api/models", timeout=30) as resp:
            listing = json.load(resp)
        assert [v["id"] for v in listing["vocoders"]] == [*shipped, str(vocoder_ckpt)]
        assert [t["id"] for t in listing["tts"]] == [*shipped_tts, str(tts_ckpt)]
        port = url.rsplit(":", 1)[1].strip("/")
        for host, status in ((f"speech.test:{port}", 200), (f"evil.example:{port}", 403)):  # --allow-host
            try:
                with urllib.request.urlopen(urllib.request.Request(url + "api/models", headers={"Host": host}),
                                            timeout=30) as resp:
                    got = resp.status
            except urllib.error.HTTPError as exc:
                got = exc.code
            assert got == status, host
        proc.send_signal(stop)
        rest, _ = proc.communicate(timeout=30)
        assert proc.returncode == 0 and "stopped" in rest and "Traceback" not in rest, rest
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
