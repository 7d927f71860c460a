"""Models, caches and request handling of ``speechgen serve`` (standard library ``http.server``, threaded).

Routes:

=========================  ==========================================================================================
``GET /``                  the page (:mod:`speechgen.web.page`); ``/app.js`` and ``/app.css`` its script and style
``GET /api/models``        the generators and vocoders on offer and the upload limits (JSON)
``POST /api/generate``     JSON ``{model, digit, seed}`` -> ``{audio, spectrogram, judged, ...}`` (data URIs)
``POST /api/vocode``       the raw bytes of an audio file, ``?vocoder=ID&name=FILE`` -> copy synthesis: input and
                           output audio, their spectrograms and the pair metrics (PESQ, STOI, MCD, ...)
``POST /api/speak``        JSON ``{model, text, speaker, seed, vocoder}`` -> text-to-speech: ``{audio, spectrogram,
                           alignment, text, stopped, ...}`` (data URIs)
=========================  ==========================================================================================

Errors are JSON ``{"error": "one line"}`` with a 4xx status (bad input, unknown model, oversize upload, a foreign
Host or Origin, a request not received in time, a text that cannot be spoken) or 503 (no vocoder or no
text-to-speech model available, server busy); an unexpected failure
answers 500 with one line and logs its traceback on the server only. Requests name models by the ids listed in
``/api/models`` — never by a path — so a page cannot make the server read other files. Loaded models are cached
(one load per model, guarded by locks).

Robustness (docs/web.md, "Limits" and "Host and Origin checks"): a fixed pool of worker threads with a bounded queue
of accepted connections (503 beyond, never a thread per connection); one deadline for receiving each whole request
(408); only Host headers that name this server (:class:`HostPolicy`, against DNS rebinding) and POSTs from its own
origin (403 otherwise).
"""

from __future__ import annotations

import base64
import io
import ipaddress
import json
import math
import queue
import re
import socket
import sys
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np

from speechgen.errors import AudioError, CheckpointError, ConfigError, DataError, SpeechgenError
from speechgen.inference.vocode import DEFAULT_VOCODER
from speechgen.web.page import (MAX_SPOKEN_DIGITS, MAX_TEXT_CHARS, NO_SEPARATOR, NO_TTS, NO_VOCODER, format_size,
                                too_large)

DEFAULT_MAX_UPLOAD_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_SECONDS = 30.0
MAX_FORM_BYTES = 16 * 1024  # a generate request is a few dozen bytes of JSON
MAX_SEED = 2**31 - 1
GRIFFIN_LIM_ITERS = 64  # as speechgen.api.generate


MAX_JSON_DEPTH = 8  # a request is a flat object: deeper bodies are refused before parsing


def json_depth(data: bytes) -> int:
    """Deepest nesting of ``[`` / ``{`` in a JSON text (brackets inside strings not counted), without parsing."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):
            depth += 1
            deepest = max(deepest, depth)
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return deepest


class RequestError(Exception):
    """A request the server refuses: an HTTP status and one line for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = int(status)


@dataclass(frozen=True)
class ModelChoice:
    """A model on offer: ``id`` (what the page sends back), ``label`` (what it shows), ``source`` (shipped name or
    checkpoint folder), the registered ``model`` name, its ``kind`` and, for generators, its ``n_classes``; for
    text-to-speech models their ``n_speakers`` (0: one voice) and the ``speakers``' names (may be fewer)."""

    id: str
    label: str
    source: str
    model: str
    kind: str
    n_classes: int = 0
    n_speakers: int = 0
    speakers: tuple[str, ...] = ()


#: what a refusal of a folder given on the command line calls each kind ("holds a 'vae' model, not a vocoder")
KIND_NOUNS = {"generator": "a generator", "vocoder": "a vocoder", "tts": "a text-to-speech model",
              "separator": "a separator", "counter": "a speaker counter"}


# ------------------------------------------------------------------------------------------------ models
def checkpoint_kind(config: dict[str, Any]) -> str:
    """``"generator"``, ``"vocoder"``, ``"tts"`` (text-to-speech), ``"separator"``, ``"counter"`` or ``"other"``
    for a checkpoint config, by the roles of its model (:func:`speechgen.inference.loading.capabilities`)."""
    from speechgen.inference.loading import capabilities
    from speechgen.models.roles import COUNTER, SAMPLER, SEPARATOR, TEXT_TO_SPEECH, VOCODER

    roles = capabilities(config)
    if VOCODER in roles:
        return "vocoder"
    if SAMPLER in roles:
        return "generator"
    if TEXT_TO_SPEECH in roles:
        return "tts"
    if SEPARATOR in roles:
        return "separator"
    if COUNTER in roles:
        return "counter"
    return "other"


def _n_classes(config: dict[str, Any]) -> int:
    kwargs = (config.get("model") or {}).get("kwargs") or {}
    if kwargs.get("conditioning") == "none":
        return 0
    return int(kwargs.get("n_classes") or 0)


def _speakers(config: dict[str, Any]) -> tuple[int, tuple[str, ...]]:
    """A text-to-speech checkpoint's voice count (its ``n_speakers``) and the voice names it stores."""
    kwargs = (config.get("model") or {}).get("kwargs") or {}
    try:
        n = max(0, int(kwargs.get("n_speakers") or 0))
    except (TypeError, ValueError):
        n = 0
    names = tuple(str(v) for v in config.get("speakers") or [])[:n] if isinstance(config.get("speakers"), list) else ()
    # a table with more rows than the voices it was trained on offers the trained ones only
    return (min(n, len(names)) if names else n), names


def _choice(source: str, config: dict[str, Any], label: str) -> ModelChoice:
    kind = checkpoint_kind(config)
    name = str(config["model"]["name"])
    n_speakers, speakers = _speakers(config) if kind == "tts" else (0, ())
    return ModelChoice(id=source, label=f"{label} ({name})", source=source, model=name, kind=kind,
                       n_classes=_n_classes(config) if kind == "generator" else 0, n_speakers=n_speakers,
                       speakers=speakers)


def shipped_choices() -> list[ModelChoice]:
    """Every shipped model (pretrained registry) whose weights are present, with its kind (from its roles,
    :func:`speechgen.inference.loading.describe`)."""
    from speechgen import pretrained
    from speechgen.inference.loading import describe

    out = []
    for name in sorted(pretrained.PRETRAINED):
        try:
            info = describe(pretrained.path(name))
        except SpeechgenError:  # registered but its files are not (yet) here
            continue
        out.append(_choice(name, info.config, name))
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
        raise ConfigError(f"{option} {path}: holds a '{choice.model}' model, not {KIND_NOUNS.get(kind, kind)}")
    return choice


def wav_bytes(audio: np.ndarray, sample_rate: int) -> bytes:
    """16-bit PCM WAV bytes of a mono clip (clipped to [-1, 1])."""
    import soundfile as sf

    buf = io.BytesIO()
    sf.write(buf, np.clip(np.asarray(audio, dtype=np.float32), -1.0, 1.0), int(sample_rate), subtype="PCM_16",
             format="WAV")
    return buf.getvalue()


def upload_name(query: dict[str, list[str]]) -> str:
    """The ``name`` query field of an upload as a bare file name (no folders, at most 120 characters)."""
    return Path((query.get("name") or ["upload"])[0]).name[:120] or "upload"


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
    """What ``speechgen serve`` offers: generators, vocoders and text-to-speech models (shipped ones plus folders),
    upload limits, and the cached models.

    Args:
        models: run/checkpoint folders of generators offered beside the shipped ones.
        vocoders: run/checkpoint folders of vocoders offered beside the shipped ones.
        max_upload_bytes: largest upload accepted (413 beyond).
        max_seconds: longest upload accepted, in seconds (413 beyond).
        classifier: the judge that names the digit of generated clips (shipped name or folder; None: no judge).
        device: torch device of the models.
        tts: run/checkpoint folders of text-to-speech models offered beside the shipped ones.
        separators: run/checkpoint folders of separators (one per voice count; loaded at start, so a set that
            cannot serve every count is refused at once).
        counter: a speaker counter's folder that picks the separator per upload (needed with several separators).
    """

    def __init__(self, models: Sequence[str] = (), vocoders: Sequence[str] = (),
                 max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES, max_seconds: float = DEFAULT_MAX_SECONDS,
                 classifier: str | None = "classifier", device: str = "cpu", tts: Sequence[str] = (),
                 separators: Sequence[str] = (), counter: str | None = None) -> None:
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
        speakers = [c for c in shipped if c.kind == "tts"] + [folder_choice(t, "tts", "--tts") for t in tts]
        self.generators: dict[str, ModelChoice] = {c.id: c for c in gens}
        self.vocoders: dict[str, ModelChoice] = {c.id: c for c in vocs}
        self.tts: dict[str, ModelChoice] = {c.id: c for c in speakers}
        self.max_upload_bytes = int(max_upload_bytes)
        self.max_seconds = float(max_seconds)
        self.separators = self._separators(separators, counter, device)
        self.classifier = classifier
        self.device = device
        self._lock = threading.Lock()
        self._cache: dict[Any, Any] = {}
        self._loading: dict[Any, threading.Lock] = {}

    @staticmethod
    def _separators(folders: Sequence[str], counter: str | None, device: str) -> Any:
        """The :class:`~speechgen.inference.separate.Separators` of the ``--separator`` folders (None: none)."""
        from speechgen.inference.separate import Separators, load_counter, load_separator

        if counter is not None and not folders:
            raise ConfigError("--counter: give the separators it chooses among (--separator RUN, one per count)")
        for f in folders:
            folder_choice(f, "separator", "--separator")
        if counter is not None:
            folder_choice(counter, "counter", "--counter")
        if not folders:
            return None
        models = [load_separator(f, device)[0] for f in folders]
        return Separators(models, load_counter(counter, device)[0] if counter is not None else None)

    def decoded(self, data: bytes, name: str) -> tuple[np.ndarray, int]:
        """An upload's audio and rate within the size and duration limits (413 beyond; 400 when undecodable)."""
        if len(data) > self.max_upload_bytes:
            raise RequestError(413, too_large(name, len(data), self.max_upload_bytes))
        return decode_upload(data, name, self.max_seconds)

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
        def public(c: ModelChoice) -> dict[str, Any]:  # folders stay on the server; voices only where they exist
            hidden = {"source"} | (set() if c.kind == "tts" else {"n_speakers", "speakers"})
            out = {k: v for k, v in asdict(c).items() if k not in hidden}
            if c.kind == "tts":
                out["speakers"] = list(c.speakers)
            return out

        return {"generators": [public(c) for c in self.generators.values()],
                "vocoders": [public(c) for c in self.vocoders.values()],
                "tts": [public(c) for c in self.tts.values()],
                "no_vocoder_message": None if self.vocoders else NO_VOCODER,
                "no_tts_message": self.no_tts_message(),
                "separate": None if self.separators is None else {
                    "counts": sorted(self.separators.models), "counted": self.separators.counter is not None},
                "max_upload_bytes": self.max_upload_bytes, "max_seconds": self.max_seconds}

    def no_tts_message(self) -> str | None:
        """None, or the line saying why text-to-speech is unavailable (no model on offer, or no vocoder)."""
        if not self.tts:
            return NO_TTS
        return None if self.vocoders else NO_VOCODER

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
    def _vocoder(self, choice: ModelChoice) -> Any:
        from speechgen.inference.vocode import LoadedVocoder

        return LoadedVocoder(choice.source, self.device)

    def vocode(self, vocoder: Any, data: bytes, name: str = "upload") -> dict[str, Any]:
        """Copy synthesis of uploaded audio bytes with vocoder ``vocoder``: input (as analysed, at the vocoder's
        rate) and output WAVs, their spectrograms and the pair metrics."""
        from speechgen.audio import io as audio_io
        from speechgen.evaluation.pages import png_data_uri, spectrogram_png
        from speechgen.evaluation.speech import compare_pair

        if not self.vocoders:
            raise RequestError(503, NO_VOCODER)
        if vocoder in (None, ""):
            vocoder = next(iter(self.vocoders))
        choice = self.vocoders.get(str(vocoder))
        if choice is None:
            raise RequestError(400, f"unknown vocoder {_short(vocoder)} (available: {', '.join(self.vocoders)})")
        audio, sr = self.decoded(data, name)
        voc = self.cached(("vocoder", choice.id), lambda: self._vocoder(choice))
        try:
            features, n = voc.analyse(audio, sr, name)  # too short or silent: one line, before any synthesis
        except AudioError as exc:
            raise RequestError(400, str(exc)) from None
        x = audio_io.resample(audio, sr, voc.sample_rate)
        start = time.perf_counter()
        y = voc.synthesize(features)[:n]
        seconds = time.perf_counter() - start
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            metrics = compare_pair(x, y, voc.sample_rate)
        notes = sorted({str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)})
        sr_out = voc.sample_rate
        return {"vocoder": choice.id, "name": name, "sample_rate": sr_out, "input_sample_rate": sr,
                "duration": round(len(x) / sr_out, 4), "vocode_seconds": round(seconds, 3),
                "input_audio": data_uri(wav_bytes(x, sr_out), "audio/wav"),
                "output_audio": data_uri(wav_bytes(y, sr_out), "audio/wav"),
                "input_spectrogram": png_data_uri(spectrogram_png(x, sr_out, [f"input: {name}"])),
                "output_spectrogram": png_data_uri(spectrogram_png(y, sr_out, [f"vocoded by {choice.id}"])),
                "metrics": _metric_rows(metrics), "notes": notes}

    # -- separation ------------------------------------------------------------------------------------------
    def separate(self, data: bytes, name: str = "upload") -> dict[str, Any]:
        """Uploaded audio bytes split into one source per voice (counted first when a counter is on offer): the
        mixture as analysed and each source, as WAVs with their spectrograms."""
        from speechgen.audio import io as audio_io
        from speechgen.evaluation.pages import png_data_uri, spectrogram_png

        if self.separators is None:
            raise RequestError(503, NO_SEPARATOR)
        audio, sr = self.decoded(data, name)
        rate = self.separators.sample_rate
        x = audio_io.resample(audio, sr, rate)
        start = time.perf_counter()
        sources = self.separators(x)
        seconds = time.perf_counter() - start
        return {"name": name, "sample_rate": rate, "input_sample_rate": sr, "count": len(sources),
                "counted": self.separators.counter is not None, "duration": round(len(x) / rate, 4),
                "separate_seconds": round(seconds, 3),
                "input_audio": data_uri(wav_bytes(x, rate), "audio/wav"),
                "input_spectrogram": png_data_uri(spectrogram_png(x, rate, [f"mixture: {name}"])),
                "sources": [{"audio": data_uri(wav_bytes(s, rate), "audio/wav"),
                             "spectrogram": png_data_uri(spectrogram_png(s, rate, [f"voice {i + 1}"]))}
                            for i, s in enumerate(sources)]}

    # -- text-to-speech --------------------------------------------------------------------------------------
    def _tts(self, choice: ModelChoice, vocoder: ModelChoice | None) -> Any:
        """The text-to-speech model ``choice`` with ``vocoder`` loaded (None: the model's own audio), or an
        :class:`_Unfit` when the vocoder takes another feature than the model predicts."""
        from speechgen.inference.speak import LoadedTTS

        try:
            return LoadedTTS(choice.source, None if vocoder is None else vocoder.source, self.device)
        except ConfigError as exc:
            text = str(exc)
            if not text.startswith("--vocoder "):  # not the pair check (check_pair): the model's own problem
                raise
            return _Unfit(f"vocoder {_short(vocoder.id)} does not fit {choice.label}: {text.split(': ', 1)[-1]}")

    def speak(self, model: Any, text: Any, speaker: Any = None, seed: Any = 0, vocoder: Any = None,
              ) -> dict[str, Any]:
        """Speak ``text`` (a digit string in any spelling) with text-to-speech model ``model`` in voice ``speaker``
        (an index or a voice name; None: the first voice), ``seed`` and ``vocoder`` (None: the first on offer):
        WAV, spectrogram and attention alignment as data URIs, the digit words spoken, whether the stop token
        fired, timings. Every field is checked before a model is loaded."""
        from speechgen.data.text import digit_words, digits_text, parse_digits
        from speechgen.evaluation.pages import png_data_uri, spectrogram_png

        if not self.tts:
            raise RequestError(503, NO_TTS)
        choice = self.tts.get(model) if isinstance(model, str) else None
        if choice is None:
            raise RequestError(400, f"unknown model {_short(model)} (available: {', '.join(self.tts)})")
        own = vocoder in (None, "") and _makes_audio(choice)  # Tacotron: its own linear spectrogram → audio
        voc = None
        if not own:
            if not self.vocoders:
                raise RequestError(503, NO_VOCODER)
            if vocoder in (None, ""):
                vocoder = next(iter(self.vocoders))
            voc = self.vocoders.get(vocoder) if isinstance(vocoder, str) else None
            if voc is None:
                raise RequestError(400, f"unknown vocoder {_short(vocoder)} (available: {', '.join(self.vocoders)})")
        if not isinstance(text, str):
            raise RequestError(400, f"text: expected a string of digits or digit words, got {_short(text)}")
        if len(text) > MAX_TEXT_CHARS:
            raise RequestError(400, f"text: {len(text)} characters, at most {MAX_TEXT_CHARS}")
        try:
            digits = parse_digits(text, MAX_SPOKEN_DIGITS)
        except DataError as exc:  # names the token it cannot speak
            raise RequestError(400, str(exc)) from None
        voice = _speaker_field(choice, speaker)
        seed = _int_field("seed", seed, 0, MAX_SEED)
        start = time.perf_counter()
        tts = self.cached(("tts", choice.id, None if voc is None else voc.id), lambda: self._tts(choice, voc))
        if isinstance(tts, _Unfit):
            raise RequestError(400, tts.message)
        spoken = tts.speak([digits_text(digits)], voice, seed)
        audio, sr = spoken.audio[0].reshape(-1), int(spoken.sample_rate)
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        if peak > 0.95:  # as written samples: no clipping in the 16-bit WAV
            audio = audio / peak * 0.95
        seconds = time.perf_counter() - start
        words, frames, stopped = digit_words(digits), int(spoken.mels[0].shape[-1]), bool(spoken.stopped[0])
        name = spoken.speakers[0] or None
        title = f"{choice.id}: {words}" + (f", voice {name}" if name else "") + f", seed {seed}"
        alignment = None
        found = spoken.alignments[0] if spoken.alignments else None
        if found is not None and found.ndim == 2 and found.shape[0] > 0 and found.shape[1] > 0:
            alignment = png_data_uri(alignment_png(found, title))
        return {"model": choice.id, "vocoder": None if voc is None else voc.id, "text": words, "digits": digits_text(digits),
                "speaker": name, "seed": seed, "sample_rate": sr, "duration": round(audio.size / sr, 4),
                "frames": frames, "stopped": stopped,
                "warning": None if stopped else (f"the stop token never fired: the speech was cut at {frames} "
                                                 "frames (the model's step cap) and is likely garbled"),
                "speak_seconds": round(seconds, 3), "audio": data_uri(wav_bytes(audio, sr), "audio/wav"),
                "spectrogram": png_data_uri(spectrogram_png(audio, sr, [title])), "alignment": alignment}


# ------------------------------------------------------------------------------------------------ text-to-speech
def _makes_audio(choice: ModelChoice) -> bool:
    """Whether the text-to-speech model on offer makes its own audio (its registered class says so)."""
    from speechgen.models.registry import MODELS
    from speechgen.models.roles import makes_audio

    cls = MODELS.get(choice.model)
    return cls is not None and makes_audio(cls)


class _Unfit:
    """A text-to-speech model and vocoder that do not go together (cached, so the pair is not loaded again)."""

    def __init__(self, message: str) -> None:
        self.message = message


_PLOT_LOCK = threading.Lock()


def alignment_png(alignment: np.ndarray, title: str, dpi: int = 80) -> bytes:
    """PNG bytes of one utterance's attention alignment ``[decoder steps, symbols]``: symbols up, decoder steps
    across, weights 0 .. 1."""
    from matplotlib.figure import Figure

    a = np.asarray(alignment, dtype=np.float32)
    steps = a.shape[0]
    with _PLOT_LOCK:
        fig = Figure(figsize=(min(14.0, 3.6 + 0.04 * steps), 2.6))
        ax = fig.subplots()
        image = ax.imshow(a.T, origin="lower", aspect="auto", cmap="viridis", vmin=0.0, vmax=1.0,
                          interpolation="nearest")
        fig.colorbar(image, ax=ax, pad=0.01)
        ax.set_xlabel("decoder step", fontsize=8)
        ax.set_ylabel("symbol", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_title(title.replace("$", r"\$"), fontsize=8)
        fig.tight_layout()
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def _short(value: Any) -> str:
    """A request value for an error line (repr, at most 40 characters)."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _speaker_field(choice: ModelChoice, value: Any) -> int | None:
    """The voice index a request asks of text-to-speech model ``choice``: None for none (the first voice), an index
    in ``0..n_speakers - 1`` (a JSON number or a decimal string) or a voice name the model stores; RequestError
    400 otherwise, and for any voice asked of a one-voice model."""
    if value is None or value == "":
        return None
    if not choice.n_speakers:
        raise RequestError(400, f"speaker: {choice.label} speaks with one voice; leave the speaker empty")
    if isinstance(value, str) and value in choice.speakers:
        return choice.speakers.index(value)
    try:
        return _int_field("speaker", value, 0, choice.n_speakers - 1)
    except RequestError:
        names = ", ".join(choice.speakers[:8]) + (", ..." if len(choice.speakers) > 8 else "")
        raise RequestError(400, f"speaker: expected an index in 0..{choice.n_speakers - 1}"
                           + (f" or a voice name ({names})" if names else "") + f", got {_short(value)}") from None


def _int_field(name: str, value: Any, lo: int, hi: int) -> int:
    """An integer form field in ``lo..hi`` (from a JSON number or a decimal string); RequestError 400 otherwise."""
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise RequestError(400, f"{name}: expected an integer in {lo}..{hi}, got {_short(value)}")
    return value


# ------------------------------------------------------------------------------------------------ HTTP
class RequestTimeout(Exception):
    """The request (its line, headers and body) did not arrive within the server's deadline."""


class _DeadlineReader(io.RawIOBase):
    """A socket's input that ends in :class:`RequestTimeout` at a fixed moment, however the bytes trickle in (a
    socket timeout alone applies to each read, so a byte a minute would keep a connection forever)."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        super().__init__()
        self._sock, self._deadline = sock, deadline

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise RequestTimeout
        self._sock.settimeout(left)
        try:
            return self._sock.recv_into(buffer)
        except TimeoutError:
            raise RequestTimeout from None


_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")
_PORT = re.compile(r"[0-9]{1,5}")
WILDCARDS = ("", "0.0.0.0", "::")
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _authority(value: str) -> tuple[str, int | None] | None:
    """``(host, port)`` of a Host header or an origin's ``host[:port]`` (host in lower case, IPv6 without brackets,
    no trailing dot; port None when absent); None when ``value`` is not one (user info, paths, odd characters)."""
    value = value.strip().lower()
    if value.startswith("["):
        host, sep, rest = value[1:].partition("]")
        if not sep or ":" not in host or not _is_ip(host) or (rest and not rest.startswith(":")):
            return None
        port = rest[1:] if rest else None
    else:
        host, sep, port = value.partition(":")
        if not sep:
            port = None
        host = host.removesuffix(".")
        if not _NAME.fullmatch(host):
            return None
    if port is not None and not _PORT.fullmatch(port):
        return None
    return host, None if port is None else int(port)


def check_allow_hosts(names: Sequence[str]) -> list[str]:
    """The ``--allow-host`` names, lower case; ConfigError for anything but a host name or address without port."""
    out = []
    for name in names:
        parsed = _authority(str(name))
        if parsed is None or parsed[1] is not None:
            raise ConfigError(f"--allow-host {name}: expected a host name or address without port "
                              "(letters, digits, dots and hyphens, e.g. speech.example.org)")
        out.append(parsed[0])
    return out


class HostPolicy:
    """The ``Host`` headers the server answers: its own names only, so that a page on another site cannot reach it
    through a name that its owner points at this machine (DNS rebinding).

    Served: the address and name given with ``--host``; ``localhost``, ``127.0.0.1`` and ``[::1]`` when it
    listens on a loopback address; and when it listens on every address (``0.0.0.0``, ``::``) also the machine's
    host name (and its first label) and any IP address — a Host that is an IP address is not a rebinding. Names
    in ``allow`` (``--allow-host``) are served too. The port must be the server's (absent means 80).

    Args:
        host: the address or name given with ``--host``.
        port: the port the server listens on.
        allow: more host names to serve (``--allow-host``).
        bound: the address actually bound (default ``host``; differs when ``host`` is a name).
    """

    def __init__(self, host: str, port: int, allow: Sequence[str] = (), bound: str | None = None) -> None:
        host = str(host).strip().strip("[]").lower().rstrip(".")
        bound = str(bound if bound is not None else host).strip().strip("[]").lower()
        self.port = int(port)
        self.wildcard = host in WILDCARDS or bound in WILDCARDS
        names = {host, bound} - set(WILDCARDS)
        if self.wildcard or any(n == "localhost" or (_is_ip(n) and ipaddress.ip_address(n).is_loopback)
                                for n in names):
            names |= LOOPBACK_NAMES
        if self.wildcard:
            try:
                machine = socket.gethostname().strip().lower().rstrip(".")
            except OSError:
                machine = ""
            if machine:
                names |= {machine, machine.split(".")[0]}
        self.names = frozenset(names | set(check_allow_hosts(allow)))

    def allows(self, value: str | None) -> bool:
        """Whether a ``Host`` header value names this server."""
        parsed = _authority(value) if value else None
        if parsed is None:
            return False
        host, port = parsed
        if (80 if port is None else port) != self.port:
            return False
        return host in self.names or (self.wildcard and _is_ip(host))


def same_origin(source: str, host: str, path_ok: bool = False) -> bool:
    """Whether ``source`` (an ``Origin``, or a ``Referer`` with ``path_ok``) is ``http://`` + ``host``."""
    url = urlsplit(source.strip())
    if url.scheme.lower() != "http" or (not path_ok and (url.path or url.query or url.fragment)):
        return False
    a, b = _authority(url.netloc), _authority(host)
    if a is None or b is None:
        return False
    return a[0] == b[0] and (80 if a[1] is None else a[1]) == (80 if b[1] is None else b[1])


class Handler(BaseHTTPRequestHandler):
    """Routes requests to an :class:`App` (set on the subclass that :func:`make_server` builds), for a
    :class:`Server` (its ``request_timeout`` and ``hosts``). One request per connection (HTTP/1.0)."""

    app: App
    quiet: bool = False
    debug: bool = False
    server: Server
    server_version = "speechgen"

    # -- connection ------------------------------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        self.request_timeout = float(self.server.request_timeout)
        self.connection.settimeout(self.request_timeout)
        self.rfile.close()  # the request line, headers and body must all arrive before one deadline
        self.rfile = io.BufferedReader(_DeadlineReader(self.connection, time.monotonic() + self.request_timeout))
        self.command, self.path, self.requestline = None, "", ""
        self.request_version = "HTTP/1.0"  # what a 408 before the request line answers with

    def handle(self) -> None:
        try:
            super().handle()
        except RequestTimeout:
            self.close_connection = True
            self._answer_error(408, self._late())
        except OSError:  # the client went away while sending
            self.close_connection = True

    def _late(self) -> str:
        return f"request timeout: the request did not arrive within {self.request_timeout:g} s"

    def send_response(self, code: int, message: str | None = None) -> None:
        self.connection.settimeout(self.request_timeout)  # the answer gets a deadline of its own
        super().send_response(code, message)

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
        """Check the request's Host and origin, run a route; turn refusals and errors into one-line JSON answers
        (never a traceback to the client)."""
        try:
            self._check_origin()
            route()
        except RequestTimeout:
            self.close_connection = True
            self._answer_error(408, self._late())
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

    def _check_origin(self) -> None:
        """400 without exactly one Host header; 403 for a Host that is not this server's (DNS rebinding) and for a
        POST from another origin (an ``Origin``, else a ``Referer``, that is not ``http://`` + Host, or a
        ``Sec-Fetch-Site`` of ``cross-site`` / ``same-site``). A POST without either header (curl, scripts) is
        served: browsers send ``Origin`` with every POST."""
        hosts = self.headers.get_all("Host") or []
        if len(hosts) != 1 or not hosts[0].strip():
            self.close_connection = True
            raise RequestError(400, "the request needs exactly one Host header")
        host = hosts[0].strip()
        if not self.server.hosts.allows(host):
            self.close_connection = True
            raise RequestError(403, f"Host {_short(host)} is not this server's address (see --allow-host)")
        if self.command != "POST":
            return
        site = (self.headers.get("Sec-Fetch-Site") or "").strip().lower()
        origin, referer = self.headers.get("Origin"), self.headers.get("Referer")
        if site in ("cross-site", "same-site"):
            self.close_connection = True
            raise RequestError(403, f"cross-origin request refused (Sec-Fetch-Site: {site})")
        if origin is not None and not same_origin(origin, host):
            self.close_connection = True
            raise RequestError(403, f"cross-origin request refused (Origin {_short(origin)}, not http://{host})")
        if origin is None and referer is not None and not same_origin(referer, host, path_ok=True):
            self.close_connection = True
            raise RequestError(403, f"cross-origin request refused (Referer {_short(referer)}, not http://{host})")

    def _answer_error(self, status: int, message: str) -> None:
        try:
            self._error(status, " ".join(message.split())[:500])
        except OSError:  # broken pipe, reset, a client that does not read the answer
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
        elif path in ("/api/generate", "/api/vocode", "/api/speak", "/api/separate"):
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
            name = upload_name(query)
            vocoder = (query.get("vocoder") or [""])[0]
            if not self.app.vocoders:
                self.close_connection = True  # the body is not read
                raise RequestError(503, NO_VOCODER)
            data = self._read_body(self.app.max_upload_bytes, name)
            self._json(200, self.app.vocode(vocoder, data, name))
        elif url.path == "/api/separate":
            name = upload_name(parse_qs(url.query))
            if self.app.separators is None:
                self.close_connection = True  # the body is not read
                raise RequestError(503, NO_SEPARATOR)
            self._json(200, self.app.separate(self._read_body(self.app.max_upload_bytes, name), name))
        elif url.path == "/api/speak":
            form = self._read_json()
            self._json(200, self.app.speak(form.get("model"), form.get("text"), form.get("speaker"),
                                           form.get("seed", 0), form.get("vocoder")))
        else:
            self.close_connection = True
            raise RequestError(404, f"{url.path[:80]}: no such endpoint (POST /api/generate, /api/vocode, "
                               "/api/speak or /api/separate)")

    # -- request bodies ----------------------------------------------------------------------------------------
    def _read_body(self, limit: int, name: str) -> bytes:
        """The request body, refused before reading when its declared length exceeds ``limit`` (413)."""
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            self.close_connection = True
            raise RequestError(411, "send the upload with a Content-Length (chunked bodies are not accepted)")
        raw = self.headers.get("Content-Length")
        try:
            length = int(raw) if raw is not None and raw.strip().isascii() else -1
        except ValueError:
            length = -1
        if length < 0:
            self.close_connection = True
            raise RequestError(411, "the request needs a valid Content-Length header")
        if length > limit:
            self.close_connection = True  # the body is not read: drop the connection after answering
            raise RequestError(413, too_large(name, length, limit))
        data = self.rfile.read(length)
        if len(data) != length:
            self.close_connection = True
            raise RequestError(400, f"{name}: the upload was cut short ({len(data)} of {length} bytes)")
        return data

    def _read_json(self) -> dict[str, Any]:
        data = self._read_body(MAX_FORM_BYTES, "request")
        try:  # ValueError: bad UTF-8, bad JSON, an integer over Python's digit limit; RecursionError: deep nesting
            if json_depth(data) > MAX_JSON_DEPTH:  # whatever the process's recursion limit
                raise ValueError("too deep")
            form = json.loads(data.decode("utf-8") or "{}")
        except (ValueError, RecursionError):
            raise RequestError(400, "the request body is not JSON (or nests too deeply)") from None
        if not isinstance(form, dict):
            raise RequestError(400, "the request body must be a JSON object")
        return form

    def log_message(self, format: str, *args: Any) -> None:  # http.server's signature
        if not self.quiet:
            super().log_message(format, *args)


DEFAULT_WORKERS = 8
DEFAULT_QUEUE = 32
DEFAULT_REQUEST_TIMEOUT = 30.0
MAX_WORKERS = 256
MAX_QUEUE = 4096
MAX_REQUEST_TIMEOUT = 3600.0
LINGER_SECONDS = 1.0  # after answering: how long unread input is drained before the connection closes


class Server(HTTPServer):
    """An HTTP server with a fixed pool of ``workers`` handler threads and a queue of at most ``queue_size``
    accepted connections waiting for one; a connection beyond that gets a prompt 503 ("server busy") from the
    accepting thread and is closed. Each request must arrive within ``request_timeout`` seconds (408 after);
    ``hosts`` (a :class:`HostPolicy`) says which Host headers are served. Threads do not keep the process alive.
    """

    allow_reuse_address = True
    request_queue_size = 64  # the listen backlog: the accepting thread takes connections off it at once

    def __init__(self, address: tuple[Any, ...], handler: type[Handler], workers: int = DEFAULT_WORKERS,
                 queue_size: int = DEFAULT_QUEUE, request_timeout: float = DEFAULT_REQUEST_TIMEOUT,
                 allow_hosts: Sequence[str] = (), host_name: str | None = None, quiet: bool = False) -> None:
        self.workers, self.queue_size = int(workers), int(queue_size)
        self.request_timeout = float(request_timeout)
        self.quiet = quiet
        allow = check_allow_hosts(allow_hosts)
        self._jobs: queue.SimpleQueue[tuple[socket.socket, Any] | None] = queue.SimpleQueue()
        self._count_lock = threading.Lock()
        self._pending = 0  # connections handed to the pool (in a worker or queued) and not yet closed
        self._threads: list[threading.Thread] = []
        super().__init__(address, handler)
        self.hosts = HostPolicy(address[0] if host_name is None else host_name, self.server_address[1], allow,
                                bound=str(self.server_address[0]))
        self._threads = [threading.Thread(target=self._work, name=f"speechgen-serve-{i}", daemon=True)
                         for i in range(self.workers)]
        for thread in self._threads:
            thread.start()

    def process_request(self, request: Any, client_address: Any) -> None:  # socketserver's hook, in serve_forever
        with self._count_lock:
            busy = self._pending >= self.workers + self.queue_size
            if not busy:
                self._pending += 1
        if busy:
            self._refuse(request, client_address)
        else:
            self._jobs.put((request, client_address))

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            request, client_address = job
            try:
                self.finish_request(request, client_address)
            except Exception:  # noqa: BLE001 - socketserver's report; the worker goes on
                self.handle_error(request, client_address)
            finally:
                close_gently(request, LINGER_SECONDS)
                with self._count_lock:
                    self._pending -= 1

    def _refuse(self, request: socket.socket, client_address: Any) -> None:
        """503 at once, without a thread: the answer fits an empty socket buffer, so the send does not block."""
        body = json.dumps({"error": f"server busy: all {self.workers} workers are taken and {self.queue_size} "
                           "connections wait; try again shortly"}).encode("utf-8")
        head = ("HTTP/1.0 503 Service Unavailable\r\nServer: speechgen\r\n"
                "Content-Type: application/json; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nCache-Control: no-store\r\nRetry-After: 1\r\n"
                "Connection: close\r\n\r\n").encode("ascii")
        try:
            request.setblocking(False)
            request.send(head + body)
        except OSError:
            pass
        close_gently(request, 0.0)
        if not self.quiet:
            sys.stderr.write(f"{client_address[0]} - - server busy: refused a connection (503)\n")

    def server_close(self) -> None:
        super().server_close()
        for _ in self._threads:  # each worker ends after the connections queued before
            self._jobs.put(None)


def close_gently(sock: socket.socket, linger: float) -> None:
    """Close a connection after its answer: stop sending, then read and drop what the client still sends (for up
    to ``linger`` seconds, or until it closes), so that unread input does not make the kernel reset the connection
    before the client has read the answer (a refused upload)."""
    try:
        sock.shutdown(socket.SHUT_WR)
        end = time.monotonic() + linger
        while True:
            sock.settimeout(max(0.0, end - time.monotonic()))  # 0: only what has arrived
            if not sock.recv(65536) or time.monotonic() > end + 0.05:
                break
    except OSError:  # timeout, would block, reset
        pass
    finally:
        sock.close()


class Server6(Server):
    """:class:`Server` on an IPv6 address."""

    address_family = socket.AF_INET6


def check_server_options(workers: int, queue_size: int, request_timeout: float,
                         allow_hosts: Sequence[str] = ()) -> None:
    """ConfigError (one line, naming the option) for a worker count, queue size, request deadline or
    ``--allow-host`` name out of range."""
    if isinstance(workers, bool) or not isinstance(workers, int) or not 1 <= workers <= MAX_WORKERS:
        raise ConfigError(f"--workers: must be in 1..{MAX_WORKERS}, got {workers}")
    if isinstance(queue_size, bool) or not isinstance(queue_size, int) or not 0 <= queue_size <= MAX_QUEUE:
        raise ConfigError(f"--queue: must be in 0..{MAX_QUEUE}, got {queue_size}")
    if not (isinstance(request_timeout, (int, float)) and 0 < request_timeout <= MAX_REQUEST_TIMEOUT):
        raise ConfigError(f"--request-timeout: must be > 0 and at most {MAX_REQUEST_TIMEOUT:g} s, "
                          f"got {request_timeout:g}")
    check_allow_hosts(allow_hosts)


def make_server(app: App, host: str = "127.0.0.1", port: int = 8000, quiet: bool = False, debug: bool = False,
                workers: int = DEFAULT_WORKERS, queue_size: int = DEFAULT_QUEUE,
                request_timeout: float = DEFAULT_REQUEST_TIMEOUT, allow_hosts: Sequence[str] = ()) -> Server:
    """A bound server for ``app`` with its worker threads started (not yet accepting: call ``serve_forever``);
    ``port`` 0 picks a free port (``server_port``). ``workers`` handler threads, ``queue_size`` connections
    waiting for one (503 beyond), ``request_timeout`` seconds for a request to arrive (408 after), ``allow_hosts``
    extra names for the Host header (:class:`HostPolicy`).

    ConfigError (one line) for bad limits, and when the address cannot be bound.
    """
    check_server_options(workers, queue_size, request_timeout, allow_hosts)
    handler = type("SpeechgenHandler", (Handler,), {"app": app, "quiet": quiet, "debug": debug})
    cls = Server6 if ":" in host else Server
    try:
        return cls((host, int(port)), handler, workers=workers, queue_size=queue_size,
                   request_timeout=request_timeout, allow_hosts=allow_hosts, quiet=quiet)
    except OSError as exc:
        raise ConfigError(f"--host {host} --port {port}: cannot listen ({exc.strerror or exc})") from None
    except (OverflowError, ValueError) as exc:
        raise ConfigError(f"--port {port}: {exc}") from None


def server_url(server: Server) -> str:
    """``http://HOST:PORT/`` of a bound server (IPv6 hosts bracketed; 0.0.0.0 shown as 127.0.0.1, :: as ::1)."""
    host, port = server.server_address[:2]
    host = {"0.0.0.0": "127.0.0.1", "": "127.0.0.1", "::": "::1"}.get(str(host), str(host))
    return f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"


__all__ = ["App", "Handler", "HostPolicy", "ModelChoice", "RequestError", "RequestTimeout", "Server",
           "alignment_png", "check_server_options", "checkpoint_kind", "decode_upload", "format_size", "make_server",
           "same_origin", "server_url", "shipped_choices", "wav_bytes"]
