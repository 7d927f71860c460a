"""Models, caches and request handling of ``speechgen serve`` (standard library ``http.server``, threaded).

Routes:

=========================  ==========================================================================================
``GET /``                  the page (:mod:`speechgen.web.page`); ``/app.js`` and ``/app.css`` its script and style
``GET /api/models``        the generators and vocoders on offer and the upload limits (JSON)
``POST /api/generate``     JSON ``{model, digit, seed}`` -> ``{audio, spectrogram, judged, ...}`` (data URIs)
``POST /api/vocode``       the raw bytes of an audio file, ``?vocoder=ID&name=FILE`` -> copy synthesis: input and
                           output audio, their spectrograms and the pair metrics (PESQ, STOI, MCD, ...)
=========================  ==========================================================================================

Errors are JSON ``{"error": "one line"}`` with a 4xx status (bad input, unknown model, oversize upload) or 503 (no
vocoder available); an unexpected failure answers 500 with one line and logs its traceback on the server only.
Requests name models by the ids listed in ``/api/models`` — never by a path — so a page cannot make the server read
other files. Loaded models are cached (one load per model, guarded by locks); requests run in their own threads.
"""

from __future__ import annotations

import base64
import io
import json
import math
import socket
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from speechgen.errors import CheckpointError, ConfigError, SpeechgenError
from speechgen.inference.vocode import DEFAULT_VOCODER, SILENCE_PEAK
from speechgen.web.page import NO_VOCODER

DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_SECONDS = 30.0
MAX_FORM_BYTES = 16 * 1024  # a generate request is a few dozen bytes of JSON
MAX_SEED = 2**31 - 1
GRIFFIN_LIM_ITERS = 64  # as speechgen.api.generate


class RequestError(Exception):
    """A request the server refuses: an HTTP status and one line for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = int(status)


@dataclass(frozen=True)
class ModelChoice:
    """A model on offer: ``id`` (what the page sends back), ``label`` (what it shows), ``source`` (shipped name or
    checkpoint folder), the registered ``model`` name, its ``kind`` and, for generators, its ``n_classes``."""

    id: str
    label: str
    source: str
    model: str
    kind: str
    n_classes: int = 0


# ------------------------------------------------------------------------------------------------ models
def checkpoint_kind(config: dict[str, Any]) -> str:
    """``"generator"``, ``"vocoder"`` or ``"other"`` for a checkpoint config, by the roles of its model
    (:func:`speechgen.inference.loading.capabilities`)."""
    from speechgen.inference.loading import capabilities
    from speechgen.models.roles import SAMPLER, VOCODER

    roles = capabilities(config)
    if VOCODER in roles:
        return "vocoder"
    if SAMPLER in roles:
        return "generator"
    return "other"


def _n_classes(config: dict[str, Any]) -> int:
    kwargs = (config.get("model") or {}).get("kwargs") or {}
    if kwargs.get("conditioning") == "none":
        return 0
    return int(kwargs.get("n_classes") or 0)


def _choice(source: str, config: dict[str, Any], label: str) -> ModelChoice:
    kind = checkpoint_kind(config)
    name = str(config["model"]["name"])
    return ModelChoice(id=source, label=f"{label} ({name})", source=source, model=name, kind=kind,
                       n_classes=_n_classes(config) if kind == "generator" else 0)


def shipped_choices() -> list[ModelChoice]:
    """Every shipped model (pretrained registry) whose weights are present, with its kind."""
    from speechgen import pretrained
    from speechgen.checkpoint import read_config

    out = []
    for name in sorted(pretrained.PRETRAINED):
        try:
            config = read_config(pretrained.path(name))
        except SpeechgenError:  # registered but its files are not (yet) here
            continue
        out.append(_choice(name, config, name))
    return out


def folder_choice(path: str, kind: str, option: str) -> ModelChoice:
    """A run or checkpoint folder given on the command line as a ``kind`` model (ConfigError naming ``option``)."""
    from speechgen.checkpoint import read_config
    from speechgen.checkpoint import resolve_checkpoint

    try:
        config = read_config(resolve_checkpoint(path))
    except SpeechgenError as exc:
        raise ConfigError(f"{option} {path}: {exc}") from None
    choice = _choice(path, config, Path(path).name or path)
    if choice.kind != kind:
        raise ConfigError(f"{option} {path}: holds a '{choice.model}' model, not a {kind}")
    return choice


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV bytes of a mono clip (clipped to [-1, 1])."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0), int(sample_rate), subtype="PCM_16",
             format="WAV")
    return buf.getvalue()


def data_uri(data: bytes, mime: str) -> str:
    """``data:MIME;base64,...``."""
    return f"data:{mime};base64,{base64.b64encode(data).decode('ascii')}"


def decode_upload(data: bytes, name: str, max_seconds: float) -> tuple[np.ndarray, int]:
    """Mono float32 audio and its rate from uploaded bytes, decoded by soundfile (the type check).

    RequestError 400 for empty, non-audio or non-finite content and for files without samples; 413 for files
    longer than ``max_seconds``.
    """
    import soundfile as sf

    if not data:
        raise RequestError(400, f"{name}: the upload is empty")
    try:
        info = sf.info(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise RequestError(400, f"{name}: not an audio file that soundfile can decode ({reason.split(': ')[-1]})"
                           ) from None
    if info.samplerate <= 0 or info.frames <= 0:
        raise RequestError(400, f"{name}: contains no samples")
    seconds = info.frames / info.samplerate
    if seconds > max_seconds:
        raise RequestError(413, f"{name}: {seconds:.1f} s is too long (limit {max_seconds:g} s)")
    try:
        audio, sr = sf.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise RequestError(400, f"{name}: cannot be decoded ({str(exc).strip().splitlines()[-1][:120]})") from None
    if audio.shape[0] == 0:
        raise RequestError(400, f"{name}: contains no samples")
    if not np.isfinite(audio).all():
        raise RequestError(400, f"{name}: contains NaN or Inf samples")
    return audio.mean(axis=1).astype(np.float32), int(sr)


def _metric_rows(metrics: dict[str, float]) -> list[dict[str, Any]]:
    """Pair metrics for the page: ``{key, name, value (None for NaN), text, better}`` in `speechgen compare`'s order."""
    from speechgen.evaluation.speech import COLUMNS, HIGHER_IS_BETTER, format_metric

    rows = []
    for key, name, _ in COLUMNS:
        v = float(metrics[key])
        rows.append({"key": key, "name": name, "value": v if math.isfinite(v) else None,
                     "text": format_metric(key, v), "better": "higher" if HIGHER_IS_BETTER[key] else "lower"})
    return rows


class App:
    """What ``speechgen serve`` offers: generators and vocoders (shipped ones plus folders), upload limits, and the
    cached models.

    Args:
        models: run/checkpoint folders of generators offered beside the shipped ones.
        vocoders: run/checkpoint folders of vocoders offered beside the shipped ones.
        max_upload_bytes: largest upload accepted (413 beyond).
        max_seconds: longest upload accepted, in seconds (413 beyond).
        classifier: the judge that names the digit of generated clips (shipped name or folder; None: no judge).
        device: torch device of the models.
    """

    def __init__(self, models: Sequence[str] = (), vocoders: Sequence[str] = (),
                 max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES, max_seconds: float = DEFAULT_MAX_SECONDS,
                 classifier: str | None = "classifier", device: str = "cpu") -> None:
        if max_upload_bytes <= 0:
            raise ConfigError(f"--max-upload-mb: must be > 0, got {max_upload_bytes / 2**20:g}")
        if not max_seconds > 0:
            raise ConfigError(f"--max-seconds: must be > 0, got {max_seconds:g}")
        shipped = shipped_choices()
        gens = [c for c in shipped if c.kind == "generator"] + [folder_choice(m, "generator", "--model")
                                                                 for m in models]
        vocs = [c for c in shipped if c.kind == "vocoder"] + [folder_choice(v, "vocoder", "--vocoder")
                                                               for v in vocoders]
        vocs.sort(key=lambda c: c.id != DEFAULT_VOCODER)  # the shipped default first: the page's default choice
        self.generators: dict[str, ModelChoice] = {c.id: c for c in gens}
        self.vocoders: dict[str, ModelChoice] = {c.id: c for c in vocs}
        self.max_upload_bytes = int(max_upload_bytes)
        self.max_seconds = float(max_seconds)
        self.classifier = classifier
        self.device = device
        self._lock = threading.Lock()
        self._cache: dict[Any, Any] = {}
        self._loading: dict[Any, threading.Lock] = {}

    # -- cache -----------------------------------------------------------------------------------------------
    def cached(self, key: Any, load: Callable[[], Any]) -> Any:
        """``load()`` once per ``key`` (concurrent callers of one key wait for the first load; others don't)."""
        with self._lock:
            if key in self._cache:
                return self._cache[key]
            key_lock = self._loading.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                if key in self._cache:
                    return self._cache[key]
            value = load()
            with self._lock:
                self._cache[key] = value
            return value

    def listing(self) -> dict[str, Any]:
        """The models on offer and the limits, as ``GET /api/models`` returns them."""
        def public(c: ModelChoice) -> dict[str, Any]:  # folders stay on the server
            return {k: v for k, v in asdict(c).items() if k != "source"}

        return {"generators": [public(c) for c in self.generators.values()],
                "vocoders": [public(c) for c in self.vocoders.values()],
                "no_vocoder_message": None if self.vocoders else NO_VOCODER,
                "max_upload_bytes": self.max_upload_bytes, "max_seconds": self.max_seconds}

    # -- generation ------------------------------------------------------------------------------------------
    def _generator(self, choice: ModelChoice) -> Any:
        from speechgen.inference.generate import Generator

        return Generator(choice.source, self.device)

    def _judge(self) -> Any:
        from speechgen.evaluation.judge import Judge

        return Judge(self.classifier, device=self.device)

    def generate(self, model: Any, digit: Any, seed: Any) -> dict[str, Any]:
        """One clip of ``digit`` (None for unconditional models) from generator ``model`` with ``seed``: WAV and
        spectrogram as data URIs, the judge's digit and probability, timings."""
        from speechgen.evaluation.pages import png_data_uri, spectrogram_png

        choice = self.generators.get(str(model)) if isinstance(model, str) else None
        if choice is None:
            known = ", ".join(self.generators) or "none"
            raise RequestError(400, f"unknown model {_short(model)} (available: {known})")
        seed = _int_field("seed", seed, 0, MAX_SEED)
        start = time.perf_counter()
        gen = self.cached(("generator", choice.id), lambda: self._generator(choice))
        if gen.data.get("condition_channels"):
            raise RequestError(400, f"{choice.label}: needs condition channels from real clips; use "
                               "`speechgen sample --condition-from MANIFEST`")
        if gen.n_classes:
            digit = _int_field("digit", digit, 0, gen.n_classes - 1)
        elif digit not in (None, ""):
            raise RequestError(400, f"digit: {choice.label} is unconditional; leave the digit empty")
        else:
            digit = None
        sr = gen.sample_rate
        audio = gen.generate(None if digit is None else [digit], 1, seed, GRIFFIN_LIM_ITERS).audio.reshape(-1)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if peak > 0.95:  # as written samples: no clipping in the 16-bit WAV
            audio = audio / peak * 0.95
        seconds = time.perf_counter() - start
        judged = None
        if self.classifier:
            judge = self.cached("judge", self._judge)
            probs, _ = judge.embed([audio], sr)
            judged = {"digit": int(probs[0].argmax()), "probability": round(float(probs[0].max()), 4)}
        png = spectrogram_png(audio, sr, [f"{choice.id}, digit {digit}, seed {seed}" if digit is not None
                                          else f"{choice.id}, seed {seed}"])
        return {"model": choice.id, "digit": digit, "seed": seed, "sample_rate": sr,
                "duration": round(audio.size / sr, 4), "generate_seconds": round(seconds, 3), "judged": judged,
                "audio": data_uri(wav_bytes(audio, sr), "audio/wav"), "spectrogram": png_data_uri(png)}

    # -- copy synthesis --------------------------------------------------------------------------------------
    def _vocoder(self, choice: ModelChoice) -> tuple[Any, Any]:
        from speechgen.inference.vocode import load_vocoder
        from speechgen.data.features import build_feature

        net, _, _ = load_vocoder(choice.source, self.device)
        return net, build_feature(getattr(net, "feature", "log_mel"), net.feature_params)

    def vocode(self, vocoder: Any, data: bytes, name: str = "upload") -> dict[str, Any]:
        """Copy synthesis of uploaded audio bytes with vocoder ``vocoder``: input (as analysed, at the vocoder's
        rate) and output WAVs, their spectrograms and the pair metrics."""
        import torch

        from speechgen.audio import io as audio_io
        from speechgen.inference.vocode import synthesize
        from speechgen.evaluation.pages import png_data_uri, spectrogram_png
        from speechgen.evaluation.speech import compare_pair

        if not self.vocoders:
            raise RequestError(503, NO_VOCODER)
        if vocoder in (None, ""):
            vocoder = next(iter(self.vocoders))
        choice = self.vocoders.get(str(vocoder))
        if choice is None:
            raise RequestError(400, f"unknown vocoder {_short(vocoder)} (available: {', '.join(self.vocoders)})")
        if len(data) > self.max_upload_bytes:
            raise RequestError(413, f"{name}: {len(data) / 2**20:.1f} MB is too large "
                               f"(limit {self.max_upload_bytes / 2**20:g} MB)")
        audio, sr = decode_upload(data, name, self.max_seconds)
        net, feature = self.cached(("vocoder", choice.id), lambda: self._vocoder(choice))
        x = audio_io.resample(audio, sr, net.sample_rate)
        n_fft = int(net.feature_params["n_fft"])
        if len(x) < n_fft:
            raise RequestError(400, f"{name}: too short ({len(x) / net.sample_rate:.3f} s; the vocoder's features "
                               f"need at least {n_fft / net.sample_rate:.3f} s)")
        peak = float(np.max(np.abs(x)))
        if peak < SILENCE_PEAK:
            raise RequestError(400, f"{name}: silent (peak {peak:.1e}); nothing to vocode")
        start = time.perf_counter()
        with torch.inference_mode():
            y = synthesize(net, feature(x, net.sample_rate))[:len(x)]
        seconds = time.perf_counter() - start
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            metrics = compare_pair(x, y, net.sample_rate)
        notes = sorted({str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)})
        sr_out = int(net.sample_rate)
        return {"vocoder": choice.id, "name": name, "sample_rate": sr_out, "input_sample_rate": sr,
                "duration": round(len(x) / sr_out, 4), "vocode_seconds": round(seconds, 3),
                "input_audio": data_uri(wav_bytes(x, sr_out), "audio/wav"),
                "output_audio": data_uri(wav_bytes(y, sr_out), "audio/wav"),
                "input_spectrogram": png_data_uri(spectrogram_png(x, sr_out, [f"input: {name}"])),
                "output_spectrogram": png_data_uri(spectrogram_png(y, sr_out, [f"vocoded by {choice.id}"])),
                "metrics": _metric_rows(metrics), "notes": notes}


def _short(value: Any) -> str:
    """A request value for an error line (repr, at most 40 characters)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _int_field(name: str, value: Any, lo: int, hi: int) -> int:
    """An integer form field in ``lo..hi`` (from a JSON number or a decimal string); RequestError 400 otherwise."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise RequestError(400, f"{name}: expected an integer in {lo}..{hi}, got {_short(value)}")
    return value


# ------------------------------------------------------------------------------------------------ HTTP
class Handler(BaseHTTPRequestHandler):
    """Routes requests to an :class:`App` (set on the subclass that :func:`make_server` builds)."""

    app: App
    quiet: bool = False
    debug: bool = False
    server_version = "speechgen"
    timeout = 120  # seconds a connection may stay silent (a stalled upload does not hold a thread forever)

    # -- responses ---------------------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        for key, value in (extra or {}).items():
            self.send_header(key, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload, allow_nan=False).encode("utf-8")
        self._send(status, body, "application/json; charset=utf-8")

    def _error(self, status: int, message: str) -> None:
        self._json(status, {"error": message})

    # -- routing -----------------------------------------------------------------------------------------------
    def do_GET(self) -> None:  # http.server's naming
        self._guard(self._get)

    def do_HEAD(self) -> None:
        self._guard(self._get)

    def do_POST(self) -> None:
        self._guard(self._post)

    def _guard(self, route: Callable[[], None]) -> None:
        """Run a route; turn refusals and errors into one-line JSON answers (never a traceback to the client)."""
        try:
            route()
        except RequestError as exc:
            self._answer_error(exc.status, str(exc))
        except CheckpointError as exc:  # a model that cannot be loaded: the server's problem, still one line
            self._answer_error(500, str(exc))
        except SpeechgenError as exc:
            self._answer_error(400, str(exc))
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True
        except Exception as exc:  # noqa: BLE001 - the server must answer and keep serving
            sys.stderr.write(f"speechgen serve: {self.command} {self.path}: {type(exc).__name__}: {exc}\n")
            if self.debug or not self.quiet:
                traceback.print_exc(file=sys.stderr)
            self._answer_error(500, f"internal error ({type(exc).__name__}); the server log has the details")

    def _answer_error(self, status: int, message: str) -> None:
        try:
            self._error(status, " ".join(message.split())[:500])
        except (BrokenPipeError, ConnectionResetError, TimeoutError):
            self.close_connection = True

    def _get(self) -> None:
        from speechgen.web import page

        path = urlsplit(self.path).path
        if path in ("/", "/index.html"):
            self._send(200, page.render(self.app).encode("utf-8"), "text/html; charset=utf-8",
                       {"Content-Security-Policy": page.CSP})
        elif path == "/app.js":
            self._send(200, page.SCRIPT.encode("utf-8"), "text/javascript; charset=utf-8")
        elif path == "/app.css":
            self._send(200, page.STYLE.encode("utf-8"), "text/css; charset=utf-8")
        elif path == "/api/models":
            self._json(200, self.app.listing())
        elif path == "/favicon.ico":
            self._send(204, b"", "image/x-icon")
        elif path in ("/api/generate", "/api/vocode"):
            raise RequestError(405, f"{path}: use POST")
        else:
            raise RequestError(404, f"{path[:80]}: no such page (try /)")

    def _post(self) -> None:
        url = urlsplit(self.path)
        if url.path == "/api/generate":
            form = self._read_json()
            self._json(200, self.app.generate(form.get("model"), form.get("digit"), form.get("seed", 0)))
        elif url.path == "/api/vocode":
            query = parse_qs(url.query)
            name = Path((query.get("name") or ["upload"])[0]).name[:120] or "upload"
            vocoder = (query.get("vocoder") or [""])[0]
            if not self.app.vocoders:
                self.close_connection = True  # the body is not read
                raise RequestError(503, NO_VOCODER)
            data = self._read_body(self.app.max_upload_bytes, name)
            self._json(200, self.app.vocode(vocoder, data, name))
        else:
            self.close_connection = True
            raise RequestError(404, f"{url.path[:80]}: no such endpoint (POST /api/generate or /api/vocode)")

    # -- request bodies ----------------------------------------------------------------------------------------
    def _read_body(self, limit: int, name: str) -> bytes:
        """The request body, refused before reading when its declared length exceeds ``limit`` (413)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            raise RequestError(411, "send the upload with a Content-Length (chunked bodies are not accepted)")
        raw = self.headers.get("Content-Length")
        try:
            length = int(raw) if raw is not None else -1
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise RequestError(411, "the request needs a valid Content-Length header")
        if length > limit:
            self.close_connection = True  # the body is not read: drop the connection after answering
            raise RequestError(413, f"{name}: {length / 2**20:.1f} MB is too large (limit {limit / 2**20:g} MB)")
        data = self.rfile.read(length)
        if len(data) != length:
            self.close_connection = True
            raise RequestError(400, f"{name}: the upload was cut short ({len(data)} of {length} bytes)")
        return data

    def _read_json(self) -> dict[str, Any]:
        data = self._read_body(MAX_FORM_BYTES, "request")
        try:
            form = json.loads(data.decode("utf-8") or "{}")
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise RequestError(400, "the request body is not JSON") from None
        if not isinstance(form, dict):
            raise RequestError(400, "the request body must be a JSON object")
        return form

    def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
        if not self.quiet:
            super().log_message(format, *args)


class Server(ThreadingHTTPServer):
    """Threaded HTTP server (one thread per request; threads do not keep the process alive)."""

    daemon_threads = True
    allow_reuse_address = True


class Server6(Server):
    """:class:`Server` on an IPv6 address."""

    address_family = socket.AF_INET6


def make_server(app: App, host: str = "127.0.0.1", port: int = 8000, quiet: bool = False,
                debug: bool = False) -> Server:
    """A bound (not yet serving) threaded server for ``app``; ``port`` 0 picks a free port (``server_port``).

    ConfigError (one line) when the address cannot be bound.
    """
    handler = type("SpeechgenHandler", (Handler,), {"app": app, "quiet": quiet, "debug": debug})
    cls = Server6 if ":" in host else Server
    try:
        return cls((host, int(port)), handler)
    except OSError as exc:
        raise ConfigError(f"--host {host} --port {port}: cannot listen ({exc.strerror or exc})") from None
    except (OverflowError, ValueError) as exc:
        raise ConfigError(f"--port {port}: {exc}") from None


def server_url(server: Server) -> str:
    """``http://HOST:PORT/`` of a bound server (IPv6 hosts bracketed; 0.0.0.0 shown as 127.0.0.1)."""
    host, port = server.server_address[:2]
    host = "127.0.0.1" if host in ("0.0.0.0", "") else str(host)
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


__all__ = ["App", "Handler", "ModelChoice", "RequestError", "Server", "checkpoint_kind", "decode_upload",
           "make_server", "server_url", "shipped_choices", "wav_bytes"]
