"""Fixtures of the web app tests: a tiny vocoder checkpoint, an :class:`App` and a server running in a thread."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest
import torch

from speechgen.audio import io as audio_io
from speechgen.models.hifigan import HiFiGAN
from speechgen.checkpoint import save_checkpoint
from speechgen.web.app import App, make_server, server_url

HIFIGAN = {"upsample_initial_channel": 16, "disc_width": 1 / 32}


def tone(seconds: float = 1.0, sr: int = 16000, f: float = 220.0) -> np.ndarray:
    """A harmonic tone with an onset and a decay (voiced, speech-like enough for PESQ and STOI)."""
    t = np.arange(int(seconds * sr)) / sr
    x = sum(np.sin(2 * np.pi * f * k * t) / k for k in range(1, 6))
    env = np.minimum(1.0, t / 0.05) * np.exp(-1.5 * t)
    return (0.3 * x * env).astype(np.float32)


def _write_tone(path: Path, seconds: float = 1.0, sr: int = 16000) -> Path:
    audio_io.save(path, tone(seconds, sr), sr)
    return path


@pytest.fixture
def write_tone():
    """``write_tone(path, seconds=1.0, sr=16000)``: save :func:`tone` as an audio file; returns the path."""
    return _write_tone


@pytest.fixture(scope="session")
def vocoder_ckpt(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A random-weight HiFiGAN checkpoint folder (small: it only has to run)."""
    torch.manual_seed(0)
    folder = tmp_path_factory.mktemp("vocoder") / "tiny-hifigan"
    return save_checkpoint(folder, HiFiGAN(**HIFIGAN), {"name": "hifigan", "kwargs": HIFIGAN})


@pytest.fixture(scope="module")
def app(vocoder_ckpt: Path) -> App:
    return App(vocoders=[str(vocoder_ckpt)], max_upload_bytes=2 * 2**20, max_seconds=5.0)


@contextmanager
def serving(app: App, host: str = "127.0.0.1", **options) -> Iterator[str]:
    """Serve ``app`` on a free port in a daemon thread; yields its base URL (ending in ``/``). ``options`` go to
    :func:`make_server` (workers, queue_size, request_timeout, allow_hosts)."""
    server = make_server(app, host, 0, quiet=True, **options)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server_url(server)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


@pytest.fixture(scope="session")
def serve():
    """``with serve(app, **options) as url:`` runs ``app`` on a free port for the block."""
    return serving


@pytest.fixture(scope="module")
def base_url(app: App) -> Iterator[str]:
    with serving(app) as url:
        yield url
