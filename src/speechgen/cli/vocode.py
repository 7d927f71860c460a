"""``speechgen vocode``: turn audio (copy synthesis) or saved log-mel spectrograms into audio with a trained vocoder.

Inputs (``--in``): an audio file, a ``.npy`` log-mel (float ``[n_mels, frames]``, e.g. a TTS model's output, in
the vocoder's feature convention: natural-log mel magnitude with the checkpoint's ``features`` parameters) or a
folder of both (searched recursively; hidden files skipped). Audio is loaded at the vocoder's rate (resampled when
needed) and analysed exactly as in training (:class:`~speechgen.data.features.LogMel` with the checkpoint's feature
parameters). Outputs are 16-bit WAVs at the vocoder's rate, named like the inputs (``OUT/REL/NAME.wav``); audio
outputs are cut to the input's length.

Long inputs are generated in chunks of ``--chunk-frames`` frames, each with ``--overlap-frames`` frames of context
on both sides that are generated and dropped: when the context covers the generator's receptive field (a few to
~15 frames for HiFi-GAN and MelGAN) the chunked output equals the unchunked one up to float rounding, so there are
no seams. Mel-conditioned WaveNet and WaveRNN checkpoints are vocoders too: they draw every sample (``--seed``)
and run over the whole input in one piece (a chunk would restart their recurrence from silence), slowly.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

from speechgen.cli.common import console
from speechgen.errors import AudioError, CheckpointError, ConfigError, DataError

DEFAULT_CHUNK_FRAMES = 512
DEFAULT_OVERLAP_FRAMES = 32
MIN_FRAMES = 4  # MelGAN's reflection padding of its kernel-7 input convolution needs 4 frames
SILENCE_PEAK = 1e-4  # -80 dBFS


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "vocode", help="audio from audio (copy synthesis) or from log-mel .npy files with a trained vocoder",
        description="Run a vocoder (run folder or checkpoint folder of a hifigan/melgan/... model) on a WAV, a "
        ".npy log-mel [n_mels, frames] or a folder of them; write OUT/NAME.wav for each input. Audio at another "
        "rate is resampled; features are computed with the checkpoint's parameters, exactly as in training.",
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
    p.set_defaults(func=_vocode)


# ------------------------------------------------------------------------------------------------ library
def load_vocoder(name_or_path: str | Path, device: str = "cpu") -> tuple[Any, dict[str, Any], Path]:
    """The generator of a vocoder checkpoint (built without discriminators, eval mode), its config and folder.

    CheckpointError (one line) for a missing checkpoint, a model that is neither a GAN vocoder nor a mel-conditioned
    WaveNet/WaveRNN, or weights that do not fit.
    """
    from speechgen.models.vocoder import GANVocoder
    from speechgen.training.checkpoint import load_checkpoint
    from speechgen.training.generate import resolve_checkpoint
    from speechgen.models.registry import MODELS

    folder = resolve_checkpoint(name_or_path)
    state, cfg = load_checkpoint(folder)
    name = cfg["model"]["name"]
    cls = MODELS.get(name)
    kwargs = dict(cfg["model"].get("kwargs") or {})
    gan = isinstance(cls, type) and issubclass(cls, GANVocoder)
    if not (gan or (cls is not None and kwargs.get("local_conditioning"))):  # or a mel-conditioned WaveNet/WaveRNN
        vocoders = sorted(k for k, v in MODELS.items() if isinstance(v, type) and issubclass(v, GANVocoder))
        raise CheckpointError(f"{folder}: holds a '{name}' model, not a vocoder ({', '.join(vocoders)}, or "
                              "wavenet/wavernn with local_conditioning)")
    if gan:
        kwargs["discriminators"] = False
    try:
        model = cls(**kwargs)
    except (TypeError, ValueError, ConfigError) as exc:
        raise CheckpointError(f"{folder}: cannot build '{name}' from the checkpoint's kwargs ({exc})") from exc
    if gan:  # generator only: the discriminators' weights stay behind
        wanted = set(model.state_dict())
        state = {k: v for k, v in state.items() if k in wanted}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        first = " ".join(str(exc).strip().splitlines()[:2])[:200]
        raise CheckpointError(f"{folder}: weights do not fit model '{name}' ({first})") from exc
    return model.to(device).eval(), cfg, folder


def synthesize(model: Any, mel: np.ndarray, chunk_frames: int = DEFAULT_CHUNK_FRAMES,
               overlap_frames: int = DEFAULT_OVERLAP_FRAMES, seed: int = 0) -> np.ndarray:
    """Audio ``[frames * hop]`` (float32) of a log-mel ``[n_mels, frames]``, generated in overlapping chunks.

    Models that draw random numbers (WaveNet, WaveRNN) draw them from a private stream seeded with ``seed``, so the
    output depends on the input and the seed only.
    """
    import torch

    from speechgen.models.vocoder import check_mel

    if chunk_frames < 1:
        raise ConfigError(f"--chunk-frames: must be >= 1, got {chunk_frames}")
    if overlap_frames < 0:
        raise ConfigError(f"--overlap-frames: must be >= 0, got {overlap_frames}")
    device = next(model.parameters()).device
    x = torch.as_tensor(np.ascontiguousarray(mel, dtype=np.float32), device=device)
    x = check_mel(x, model.n_mels)[0]
    n, hop = x.shape[-1], model.hop_length
    if n < MIN_FRAMES:
        raise AudioError(f"mel: {n} frames is too short (needs at least {MIN_FRAMES})")
    if getattr(model, "whole_input", False):  # an integrated phase, a recurrence: each frame depends on earlier ones
        chunk_frames = n
    pieces = []
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        for start in range(0, n, chunk_frames):
            end = min(n, start + chunk_frames)
            lo, hi = max(0, start - overlap_frames), min(n, end + overlap_frames)
            if hi - lo < MIN_FRAMES:  # a short tail of a short input: widen its context to the left
                lo = max(0, hi - MIN_FRAMES)
            y = model.infer(x[:, lo:hi])
            pieces.append(y[(start - lo) * hop:(end - lo) * hop].float().cpu())
    return torch.cat(pieces).numpy()


def _read_mel(path: Path, n_mels: int) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError, EOFError) as exc:
        raise AudioError(f"{path}: not a readable .npy array ({str(exc).splitlines()[0][:120]})") from exc
    if not isinstance(arr, np.ndarray) or not np.issubdtype(arr.dtype, np.floating):
        raise AudioError(f"{path}: expected a float array [n_mels, frames], got dtype {getattr(arr, 'dtype', '?')}")
    while arr.ndim > 2 and arr.shape[0] == 1:
        arr = arr[0]
    if arr.ndim != 2:
        raise AudioError(f"{path}: expected a log-mel [n_mels, frames], got shape {list(arr.shape)}")
    if arr.shape[0] != n_mels:
        hint = " (transposed? save it as [n_mels, frames])" if arr.shape[1] == n_mels else ""
        raise AudioError(f"{path}: mel has {arr.shape[0]} bands, the vocoder expects {n_mels}{hint}")
    if not np.isfinite(arr).all():
        raise AudioError(f"{path}: mel contains NaN or Inf values")
    if arr.shape[1] < MIN_FRAMES:
        raise AudioError(f"{path}: mel of {arr.shape[1]} frames is too short (needs at least {MIN_FRAMES})")
    return arr.astype(np.float32)


def _audio_mel(path: Path, model: Any) -> tuple[np.ndarray, int]:
    """``(log-mel, number of samples)`` of an audio file, analysed as in training."""
    from speechgen.audio import io as audio_io
    from speechgen.data.features import build_feature

    audio, sr = audio_io.load(path, model.sample_rate)
    feature = build_feature(getattr(model, "feature", "log_mel"), model.feature_params)  # ResGAN: mfcc_f0
    n_fft = int(model.feature_params["n_fft"])
    if len(audio) < n_fft:
        raise AudioError(f"{path}: too short ({len(audio)} samples at {sr} Hz; the features need at least {n_fft})")
    peak = float(np.max(np.abs(audio)))
    if peak < SILENCE_PEAK:
        raise AudioError(f"{path}: silent (peak {peak:.1e}); nothing to vocode")
    return feature(audio, sr), len(audio)


def collect_inputs(path: Path) -> list[tuple[Path, Path]]:
    """``(input file, output name relative to --out)`` pairs of a file or a folder (sorted)."""
    from speechgen.audio import io as audio_io

    if not path.exists():
        raise DataError(f"{path}: no such file or folder")
    if path.is_file():
        if path.suffix.lower() != ".npy" and not audio_io.is_audio_path(path):
            raise DataError(f"{path}: not an audio file or .npy log-mel")
        return [(path, Path(path.stem + ".wav"))]
    files = audio_io.find_audio(path) + sorted(
        p for p in path.rglob("*.npy") if not any(part.startswith(".") for part in p.relative_to(path).parts))
    pairs, seen = [], {}
    for f in files:
        rel = f.relative_to(path).with_suffix(".wav")
        if rel in seen:
            raise DataError(f"{f}: would overwrite the output of {seen[rel]} ({rel})")
        seen[rel] = f
        pairs.append((f, rel))
    if not pairs:
        raise DataError(f"{path}: no audio files or .npy log-mels")
    return sorted(pairs)


def vocode_file(model: Any, path: Path, chunk_frames: int = DEFAULT_CHUNK_FRAMES,
                overlap_frames: int = DEFAULT_OVERLAP_FRAMES, seed: int = 0) -> np.ndarray:
    """Audio (float32, the vocoder's rate) of one input: copy synthesis of an audio file or a ``.npy`` log-mel."""
    if path.suffix.lower() == ".npy":
        return synthesize(model, _read_mel(path, model.n_mels), chunk_frames, overlap_frames, seed)
    mel, n = _audio_mel(path, model)
    return synthesize(model, mel, chunk_frames, overlap_frames, seed)[:n]


# ------------------------------------------------------------------------------------------------ command
def _vocode(args: argparse.Namespace) -> int:
    import torch

    from speechgen.audio import io as audio_io

    pairs = collect_inputs(args.inputs)
    model, cfg, folder = load_vocoder(args.model, args.device)
    if args.chunk_frames < 1 or args.overlap_frames < 0:
        raise ConfigError("--chunk-frames must be >= 1 and --overlap-frames >= 0")
    seconds = audio_s = 0.0
    with torch.inference_mode():
        for src, rel in pairs:
            t = time.perf_counter()
            y = vocode_file(model, src, args.chunk_frames, args.overlap_frames, args.seed)
            seconds += time.perf_counter() - t
            audio_s += len(y) / model.sample_rate
            audio_io.save(args.out / rel, y, model.sample_rate)
    rtf = seconds / audio_s if audio_s else float("nan")
    console(args).print(f"[bold]{args.out}[/bold]: {len(pairs)} file(s), {audio_s:.2f} s of audio at "
                        f"{model.sample_rate} Hz by '{cfg['model']['name']}' ({folder}); real-time factor {rtf:.3f}")
    return 0
