"""Vocoding with a trained or shipped vocoder: audio from audio (copy synthesis) or from log-mel spectrograms.

Inputs: an audio file, a ``.npy`` log-mel (float ``[n_mels, frames]``, e.g. a TTS model's output, in the vocoder's
feature convention: natural-log mel magnitude with the checkpoint's ``features`` parameters) or a folder of both
(searched recursively; hidden files skipped). Audio is loaded at the vocoder's rate (resampled when needed) and
analysed exactly as in training (:class:`~speechgen.data.features.LogMel` with the checkpoint's feature
parameters); audio outputs are cut to the input's length.

Long inputs are generated in chunks of ``chunk_frames`` frames, each with ``overlap_frames`` frames of context on
both sides that are generated and dropped: when the context covers the generator's receptive field (a few to ~15
frames for HiFi-GAN and MelGAN) the chunked output equals the unchunked one up to float rounding, so there are no
seams. Mel-conditioned WaveNet and WaveRNN checkpoints are vocoders too: they draw every sample (``seed``) and run
over the whole input in one piece (a chunk would restart their recurrence from silence), slowly.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any
from collections.abc import Iterator

import numpy as np

from speechgen.errors import AudioError, ConfigError, DataError

DEFAULT_VOCODER = "default"  # the shipped vocoder's name
DEFAULT_CHUNK_FRAMES = 512
DEFAULT_OVERLAP_FRAMES = 32
MIN_FRAMES = 4  # MelGAN's reflection padding of its kernel-7 input convolution needs 4 frames
DEFAULT_BATCH = 16  # clips synthesised per call by vocode_files
SILENCE_PEAK = 1e-4  # -80 dBFS


def load_vocoder(name_or_path: str | Path, device: str = "cpu") -> tuple[Any, dict[str, Any], Path]:
    """The generator of a vocoder checkpoint (built without discriminators, eval mode, weight norm folded into plain
    weights: the output is the exported model's, and a call does not recompute the norms), its config and folder.

    CheckpointError (one line) for a missing checkpoint, a model that is not a
    :data:`~speechgen.models.roles.VOCODER` (a GAN vocoder or a mel-conditioned WaveNet/WaveRNN), or weights that do
    not fit.
    """
    from speechgen.inference.loading import load
    from speechgen.models.roles import VOCODER

    model, info = load(name_or_path, VOCODER, device)
    fold = getattr(model, "remove_weight_norm", None)
    if callable(fold):  # inference never trains: fold weight norm into plain weights, as bench and export do
        fold()
    return model, info.config, info.folder


def set_phase_iterations(model: Any, n: int, name: str = "this vocoder") -> None:
    """Use ``n`` fast Griffin-Lim iterations in a vocoder whose phase is iterative (ConfigError for one that has no
    such phase, or a negative ``n``): the knob between speed and quality, no retraining needed."""
    target = model if hasattr(model, "gl_iters") else getattr(model, "generator", None)
    if target is None or not hasattr(target, "gl_iters") or getattr(target, "phase_mode", "griffin_lim") not in (
            "griffin_lim", "pghi"):
        raise ConfigError(f"--gl-iters: '{name}' has no iterative phase")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ConfigError(f"--gl-iters: must be >= 0, got {n}")
    target.gl_iters = int(n)


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
    # a weightless vocoder (dsp) has buffers only, and a model may have neither
    device = next(itertools.chain(model.parameters(), model.buffers()), torch.empty(0)).device
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


def analyse(model: Any, audio: np.ndarray, sample_rate: int, name: str = "audio") -> tuple[np.ndarray, int]:
    """``(features, number of samples at the vocoder's rate)`` of a mono clip, resampled to the vocoder's rate and
    analysed exactly as in training (the vocoder's ``feature``: log-mel, ResGAN's MFCC + F0, or log-mel + F0 for the
    iSTFT vocoder's ``f0_prior``); AudioError naming ``name`` when it is too short for the analysis or silent."""
    from speechgen.audio import io as audio_io
    from speechgen.data.features import build_feature

    x = audio_io.validate(audio, name=name)
    if int(sample_rate) != model.sample_rate:
        x = audio_io.resample(x, int(sample_rate), model.sample_rate)
    n_fft = int(model.feature_params["n_fft"])
    if len(x) < n_fft:
        raise AudioError(f"{name}: too short ({len(x) / model.sample_rate:.3f} s; the vocoder's features need at "
                         f"least {n_fft / model.sample_rate:.3f} s)")
    peak = float(np.max(np.abs(x)))
    if peak < SILENCE_PEAK:
        raise AudioError(f"{name}: silent (peak {peak:.1e}); nothing to vocode")
    feature = build_feature(getattr(model, "feature", "log_mel"), model.feature_params)  # ResGAN: mfcc_f0, ...
    return feature(x, model.sample_rate), len(x)


def _audio_mel(path: Path, model: Any) -> tuple[np.ndarray, int]:
    """``(log-mel, number of samples)`` of an audio file, analysed as in training."""
    from speechgen.audio import io as audio_io

    audio, sr = audio_io.load(path, model.sample_rate)
    return analyse(model, audio, sr, str(path))


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


def check_input(model: Any, path: Path) -> None:
    """Refuse an input before any work (AudioError, one line naming the file): not decodable audio (header
    checked), too short for the vocoder's analysis, or a ``.npy`` that is not a log-mel of the vocoder's bands."""
    from speechgen.audio import io as audio_io

    if path.suffix.lower() == ".npy":
        _read_mel(path, model.n_mels)
        return
    info = audio_io.info(path)
    n_fft = int(model.feature_params["n_fft"])
    if info.frames * model.sample_rate < n_fft * info.sample_rate:
        raise AudioError(f"{path}: too short ({info.frames} samples at {info.sample_rate} Hz; the features need "
                         f"at least {n_fft} at {model.sample_rate} Hz)")


def vocode_files(model: Any, paths: list[Path], chunk_frames: int = DEFAULT_CHUNK_FRAMES,
                 overlap_frames: int = DEFAULT_OVERLAP_FRAMES, seed: int = 0, batch: int = DEFAULT_BATCH,
                 ) -> Iterator[tuple[int, np.ndarray]]:
    """``(index, audio)`` for each of ``paths`` (in order), as :func:`vocode_file` gives them, but inputs of a
    deterministic vocoder (``model.batch_vocode``) that have the same number of frames and fit one chunk are
    synthesised ``batch`` at a time: one call per batch instead of one per clip (the per-call cost dominates short
    clips). Sampling vocoders (WaveNet, WaveRNN) go one clip at a time, so their draws depend on the seed only."""
    import torch

    def features(path: Path) -> tuple[np.ndarray, int]:
        if path.suffix.lower() == ".npy":
            mel = _read_mel(path, model.n_mels)
            return mel, mel.shape[-1] * model.hop_length
        return _audio_mel(path, model)

    batchable = bool(getattr(model, "batch_vocode", False))
    pending: list[tuple[int, np.ndarray, int]] = []

    def flush() -> Iterator[tuple[int, np.ndarray]]:
        if len(pending) == 1:
            i, mel, n = pending[0]
            yield i, synthesize(model, mel, chunk_frames, overlap_frames, seed)[:n]
        elif pending:
            x = torch.from_numpy(np.stack([mel for _, mel, _ in pending]).astype(np.float32))
            y = model.infer(x).float().cpu().numpy()
            for (i, _, n), audio in zip(pending, y):
                yield i, audio[:n]
        pending.clear()

    for i, path in enumerate(paths):
        mel, n = features(path)
        whole = getattr(model, "whole_input", False) or mel.shape[-1] <= chunk_frames
        if not (batchable and whole):
            yield from flush()
            yield i, synthesize(model, mel, chunk_frames, overlap_frames, seed)[:n]
            continue
        if pending and (pending[0][1].shape != mel.shape or len(pending) >= batch):
            yield from flush()
        pending.append((i, mel, n))
    yield from flush()


def vocode_file(model: Any, path: Path, chunk_frames: int = DEFAULT_CHUNK_FRAMES,
                overlap_frames: int = DEFAULT_OVERLAP_FRAMES, seed: int = 0) -> np.ndarray:
    """Audio (float32, the vocoder's rate) of one input: copy synthesis of an audio file or a ``.npy`` log-mel."""
    if path.suffix.lower() == ".npy":
        return synthesize(model, _read_mel(path, model.n_mels), chunk_frames, overlap_frames, seed)
    mel, n = _audio_mel(path, model)
    return synthesize(model, mel, chunk_frames, overlap_frames, seed)[:n]


class LoadedVocoder:
    """A vocoder loaded once, for repeated calls (the API, the web app): copy synthesis of audio or synthesis of
    log-mels.

    Args:
        model: shipped name, run folder or checkpoint folder of a vocoder.
        device: torch device.
    """

    def __init__(self, model: str | Path = DEFAULT_VOCODER, device: str = "cpu") -> None:
        self.net, self.config, self.folder = load_vocoder(model, device)
        self.sample_rate = int(self.net.sample_rate)

    def analyse(self, audio: np.ndarray, sample_rate: int, name: str = "audio") -> tuple[np.ndarray, int]:
        """:func:`analyse` with this vocoder."""
        return analyse(self.net, audio, sample_rate, name)

    def vocode(self, audio: np.ndarray | None = None, sample_rate: int | None = None, mel: np.ndarray | None = None,
               seed: int = 0) -> np.ndarray:
        """Float32 audio at :attr:`sample_rate`: copy synthesis of ``audio`` (at ``sample_rate``, default the
        vocoder's; the output has the input's duration: as many samples as the input resampled to the vocoder's
        rate) or synthesis of a log-mel ``[n_mels, frames]`` (``frames · hop`` samples)."""
        if (audio is None) == (mel is None):
            raise ConfigError("vocode: give either audio (with sample_rate) or mel")
        if audio is not None:
            features, n = self.analyse(audio, int(sample_rate or self.sample_rate))
            return self.synthesize(features, seed)[:n]
        return self.synthesize(np.asarray(mel, dtype=np.float32), seed)

    def synthesize(self, features: np.ndarray, seed: int = 0) -> np.ndarray:
        """:func:`synthesize` of analysed features ``[n_mels, frames]`` with this vocoder (inference mode)."""
        import torch

        with torch.inference_mode():
            return synthesize(self.net, features, seed=seed)
