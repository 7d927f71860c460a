"""``speechgen serve``: a small local web app — generate digits, speak digit strings with a text-to-speech model,
and copy synthesis of uploaded audio with the pair metrics (see :mod:`speechgen.web.app`)."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import Any

from speechgen.cli.common import console
from speechgen.errors import ConfigError


def register(sub: argparse._SubParsersAction) -> None:
    from speechgen.web.app import (DEFAULT_MAX_SECONDS, DEFAULT_MAX_UPLOAD_BYTES, DEFAULT_QUEUE,
                                   DEFAULT_REQUEST_TIMEOUT, DEFAULT_WORKERS)

    p = sub.add_parser(
        "serve", help="local web app: generate digits, text to speech, copy synthesis with metrics",
        description="Serve a page (standard library HTTP server, works offline) on which you pick a "
        "generator (the shipped ones and every --model RUN), a digit and a seed and hear and see the clip; type a "
        "digit string and hear it spoken by a text-to-speech model (the shipped ones and every --tts RUN) with its "
        "spectrogram and attention alignment; and upload "
        "an audio file for copy synthesis with a vocoder (the shipped ones and every --vocoder RUN): input and "
        "output players, spectrograms and PESQ, STOI, MCD, MR-STFT, LSD, F0 RMSE and V/UV error. Models load once, "
        "on first use. A fixed pool of --workers threads answers; up to --queue more connections wait, and beyond "
        "that a connection gets 503 (server busy) at once. A request must arrive (line, headers and body) within "
        "--request-timeout seconds, else 408. Only requests whose Host header names this server are answered "
        "(403 otherwise; against DNS rebinding): localhost, 127.0.0.1 and [::1] on a loopback --host, the --host "
        "given, on 0.0.0.0 or :: also the machine's name and any IP address, and every --allow-host NAME. A POST "
        "whose Origin (or Referer) is another site's is refused with 403; one without either (curl) is served. "
        "See docs/web.md.",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only; "
                   "the server has no authentication)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--model", action="append", default=[], metavar="RUN", dest="models",
                   help="a generator's run or checkpoint folder to offer too (repeatable)")
    p.add_argument("--vocoder", action="append", default=[], metavar="RUN", dest="vocoders",
                   help="a vocoder's run or checkpoint folder to offer too (repeatable)")
    p.add_argument("--tts", action="append", default=[], metavar="RUN", dest="tts",
                   help="a text-to-speech model's run or checkpoint folder to offer too (repeatable)")
    p.add_argument("--separator", action="append", default=[], metavar="RUN", dest="separators",
                   help="offer separation of uploads with this separator (repeatable: one per voice count, with "
                   "--counter to choose among them)")
    p.add_argument("--counter", default=None, metavar="RUN",
                   help="a speaker counter that picks the --separator of each upload's voice count")
    p.add_argument("--max-upload-mb", type=float, default=DEFAULT_MAX_UPLOAD_BYTES / 2**20,
                   help=f"largest upload in MB (default {DEFAULT_MAX_UPLOAD_BYTES / 2**20:g})")
    p.add_argument("--max-seconds", type=float, default=DEFAULT_MAX_SECONDS,
                   help=f"longest upload in seconds (default {DEFAULT_MAX_SECONDS:g})")
    p.add_argument("--workers", type=int, default=DEFAULT_WORKERS,
                   help=f"handler threads: requests answered at once (default {DEFAULT_WORKERS})")
    p.add_argument("--queue", type=int, default=DEFAULT_QUEUE,
                   help=f"connections that may wait for a worker; more get 503 at once (default {DEFAULT_QUEUE})")
    p.add_argument("--request-timeout", type=float, default=DEFAULT_REQUEST_TIMEOUT, metavar="SECONDS",
                   help="time a client has to send its whole request, upload included; a slower one gets 408 "
                   f"and is disconnected (default {DEFAULT_REQUEST_TIMEOUT:g})")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME", dest="allow_hosts",
                   help="a further host name the server answers to in the Host header, e.g. a name that a proxy or "
                   "your network gives this machine (repeatable)")
    p.add_argument("--classifier", default="classifier",
                   help="judge naming the digit of generated clips: shipped name or checkpoint folder")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help="no request log")
    p.set_defaults(func=_serve)


def _serve(args: argparse.Namespace) -> int:
    from speechgen.web.app import App, check_server_options, make_server, server_url

    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port: must be in 0..65535, got {args.port}")
    check_server_options(args.workers, args.queue, args.request_timeout, args.allow_hosts)
    if not args.max_upload_mb > 0:
        raise ConfigError(f"--max-upload-mb: must be > 0, got {args.max_upload_mb:g}")
    for path in args.models + args.vocoders + args.tts + args.separators + ([args.counter] if args.counter else []):
        if not Path(path).exists():
            raise ConfigError(f"{path}: no such run or checkpoint folder")
    app = App(args.models, args.vocoders, max_upload_bytes=int(args.max_upload_mb * 2**20),
              max_seconds=args.max_seconds, classifier=args.classifier, device=args.device, tts=args.tts,
              separators=args.separators, counter=args.counter)
    quiet = bool(getattr(args, "quiet", False))
    server = make_server(app, args.host, args.port, quiet=quiet, debug=bool(getattr(args, "debug", False)),
                         workers=args.workers, queue_size=args.queue, request_timeout=args.request_timeout,
                         allow_hosts=args.allow_hosts)
    con = console(args)
    tts = f", {len(app.tts)} text-to-speech model(s)" if app.tts else ""
    if app.separators is not None:
        tts += f", separation of {'/'.join(map(str, sorted(app.separators.models)))} voices"
    con.print(f"[bold]speechgen serve[/bold]: {len(app.generators)} generator(s), {len(app.vocoders)} vocoder(s)"
              f"{tts} on [bold]{server_url(server)}[/bold] (Ctrl+C stops)")
    if not app.vocoders:
        con.print("no vocoder available: copy synthesis needs --vocoder RUN (until a shipped one is registered)")
    _stop_on_signals()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        con.print("stopped")
    finally:
        server.server_close()
    return 0


def _stop_on_signals() -> None:
    """Ctrl+C (SIGINT) and SIGTERM stop the server cleanly, also when the process was started with SIGINT ignored
    (a child of a job-control-less shell, a test runner's worker): Python then installs no handler of its own."""

    def stop(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, stop)
