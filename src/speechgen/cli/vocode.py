"""``speechgen vocode``: turn audio (copy synthesis) or saved log-mel spectrograms into audio with a trained vocoder
(see :mod:`speechgen.inference.vocode`). Outputs are 16-bit WAVs at the vocoder's rate, named like the inputs
(``OUT/REL/NAME.wav``)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from speechgen.cli.common import console, progress_bar
from speechgen.errors import ConfigError
from speechgen.inference.vocode import (
    DEFAULT_CHUNK_FRAMES, DEFAULT_OVERLAP_FRAMES, check_input, collect_inputs, load_vocoder, set_phase_iterations,
    vocode_files,
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "vocode", help="audio from audio (copy synthesis) or from log-mel .npy files with a trained vocoder",
        description="Run a vocoder (run folder or checkpoint folder of a hifigan/melgan/... model) on a WAV, a "
        ".npy log-mel [n_mels, frames] or a folder of them; write OUT/NAME.wav for each input. Audio at another "
        "rate is resampled; features are computed with the checkpoint's parameters, exactly as in training. "
        "Threads: vocoders whose work is many small FFTs (the shipped default, pghi, dsp) run the command on one "
        "torch thread, the faster choice there; others use torch's count. `speechgen --threads N vocode ...` "
        "overrides both.",
    )
    p.add_argument("model", metavar="MODEL", help="run folder or checkpoint folder of a vocoder (a GAN vocoder, "
                   "or a WaveNet/WaveRNN with mel conditioning), or a shipped name ('default')")
    p.add_argument("--in", dest="inputs", required=True, type=Path, metavar="WAV_OR_DIR_OR_MEL",
                   help="audio file, .npy log-mel or folder")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--chunk-frames", type=int, default=DEFAULT_CHUNK_FRAMES,
                   help=f"frames generated per chunk (default {DEFAULT_CHUNK_FRAMES})")
    p.add_argument("--overlap-frames", type=int, default=DEFAULT_OVERLAP_FRAMES,
                   help=f"context frames on each side of a chunk (default {DEFAULT_OVERLAP_FRAMES})")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the sampling vocoders (WaveNet, WaveRNN draw each sample; default 0)")
    p.add_argument("--gl-iters", type=int, default=None, metavar="N",
                   help="fast Griffin-Lim iterations of a vocoder whose phase is iterative (the shipped default, dsp, "
                   "phase: griffin_lim / pghi): fewer is faster, more is closer to the magnitude (default: the "
                   "model's own)")
    p.set_defaults(func=_vocode)


# ------------------------------------------------------------------------------------------------ command
def _vocode(args: argparse.Namespace) -> int:
    import torch

    from speechgen.atomic import staged_dir
    from speechgen.audio import io as audio_io

    pairs = collect_inputs(args.inputs)
    if args.chunk_frames < 1 or args.overlap_frames < 0:
        raise ConfigError("--chunk-frames must be >= 1 and --overlap-frames >= 0")
    model, cfg, folder = load_vocoder(args.model, args.device)
    limit = getattr(model, "max_threads", None)
    if limit and getattr(args, "torch_threads", None) is None and torch.get_num_threads() > limit:
        torch.set_num_threads(limit)  # the whole command, not only each call: switching costs ~5 % (docs/performance.md)
    if args.gl_iters is not None:
        set_phase_iterations(model, args.gl_iters, cfg["model"]["name"])
    for src, _ in pairs:  # every input is checked before the first is vocoded
        check_input(model, src)
    audio_s = 0.0
    con = console(args)
    start = time.perf_counter()
    with torch.inference_mode(), staged_dir(args.out) as tmp, \
            progress_bar(con, "vocoding", len(pairs), minimum=20) as advance:  # every output at the end, or none
        for i, y in vocode_files(model, [src for src, _ in pairs], args.chunk_frames, args.overlap_frames,
                                 args.seed):
            audio_s += len(y) / model.sample_rate
            audio_io.save(tmp / pairs[i][1], y, model.sample_rate)
            advance(1)
    seconds = time.perf_counter() - start  # as a user sees it: analysis, synthesis and writing, not start-up
    speed = audio_s / seconds if seconds > 0 else float("nan")
    con.print(f"[bold]{args.out}[/bold]: {len(pairs)} file(s), {audio_s:.2f} s of audio at {model.sample_rate} Hz by "
              f"'{cfg['model']['name']}' ({folder}); {speed:.1f}× real time")
    return 0
