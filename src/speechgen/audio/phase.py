"""Phase reconstruction from a magnitude spectrogram: fast Griffin-Lim (Perraudin, Balazs & Søndergaard, 2013).

Each iteration projects onto consistent spectrograms (STFT of the iSTFT) and then onto the target magnitude;
the fast variant extrapolates with momentum ``alpha``: ``t_n = c_n + alpha (c_n - c_{n-1})``. ``momentum=0`` is
the classic algorithm (Griffin & Lim, 1984). Works on numpy arrays (float64 reference, via
:mod:`speechgen.audio.spectral`) and on torch tensors (batched, on their device, via ``torch.stft``).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import torch

from speechgen.audio.spectral import STFT, check_stft_params, image_magnitude, istft, stft
from speechgen.errors import AudioError, ConfigError

Array = np.ndarray | torch.Tensor


def spectral_convergence(target: Array, estimate: Array) -> float:
    """``||target - estimate||_F / ||target||_F`` over all elements (magnitudes of equal shape); 0 is perfect."""
    if tuple(target.shape) != tuple(estimate.shape):
        raise AudioError(f"spectral_convergence: shapes differ, {tuple(target.shape)} vs {tuple(estimate.shape)}")
    if isinstance(target, torch.Tensor):
        return float(torch.linalg.vector_norm(target - estimate) / torch.linalg.vector_norm(target))
    return float(np.linalg.norm(target - estimate) / np.linalg.norm(target))


def griffin_lim(
    magnitude: Array,
    hop_length: int,
    n_fft: int | None = None,
    win_length: int | None = None,
    n_iter: int = 100,
    momentum: float = 0.99,
    init: str = "random",
    seed: int = 0,
    window: str = "hann",
    length: int | None = None,
) -> Array:
    """Audio ``[..., samples]`` whose STFT magnitude approximates ``magnitude [..., n_fft // 2 + 1, frames]``.

    The STFT is :func:`speechgen.audio.spectral.stft`'s (centred, reflect padding). ``n_fft`` defaults to
    ``2 * (bins - 1)``; ``momentum`` is the fast-GL ``alpha`` in [0, 1] (0.99 as in the paper; 0 = classic GL).
    ``init="random"`` starts from uniform random phase drawn with ``seed`` (numpy and torch draw different
    phases), ``"zeros"`` from zero phase. Returns float64 numpy for numpy input, a tensor of the
    magnitude's real dtype and device for torch input. ``length`` as in :func:`speechgen.audio.spectral.istft`.
    """
    is_torch = isinstance(magnitude, torch.Tensor)
    if not is_torch:
        magnitude = np.asarray(magnitude, dtype=np.float64)
    if magnitude.ndim < 2:
        raise AudioError(f"magnitude: expected shape [..., bins, frames], got {tuple(magnitude.shape)}")
    n_fft = 2 * (magnitude.shape[-2] - 1) if n_fft is None else n_fft
    win_length = check_stft_params(n_fft, hop_length, win_length)
    if magnitude.shape[-2] != n_fft // 2 + 1:
        raise ConfigError(f"magnitude has {magnitude.shape[-2]} bins but n_fft {n_fft} needs {n_fft // 2 + 1}")
    if int(n_iter) != n_iter or n_iter < 0:
        raise ConfigError(f"n_iter must be a non-negative integer, got {n_iter}")
    if not 0.0 <= momentum <= 1.0:
        raise ConfigError(f"momentum must be in [0, 1], got {momentum}")
    if init not in ("random", "zeros"):
        raise ConfigError(f"init must be 'random' or 'zeros', got '{init}'")

    if is_torch:
        mag = magnitude if magnitude.is_floating_point() else magnitude.float()
        if not bool(torch.isfinite(mag).all()) or bool((mag < 0).any()):
            raise AudioError("magnitude: must be finite and non-negative")
        op = STFT(n_fft, hop_length, win_length, window)
        analyse: Callable = op
        synthesise: Callable = op.inverse
        gen = torch.Generator(device=mag.device).manual_seed(seed)
        angle = (torch.rand(mag.shape, generator=gen, device=mag.device, dtype=mag.dtype) * (2 * torch.pi)
                 if init == "random" else torch.zeros_like(mag))
        phase = torch.polar(torch.ones_like(mag), angle)
    else:
        mag = magnitude
        if not np.isfinite(mag).all() or (mag < 0).any():
            raise AudioError("magnitude: must be finite and non-negative")
        analyse = partial(stft, n_fft=n_fft, hop_length=hop_length, win_length=win_length, window=window)
        synthesise = partial(istft, hop_length=hop_length, win_length=win_length, n_fft=n_fft, window=window)
        angle = 2 * np.pi * np.random.default_rng(seed).random(mag.shape) if init == "random" else 0.0
        phase = np.exp(1j * angle) * np.ones(mag.shape)

    coeffs = mag * phase
    t = coeffs
    for _ in range(n_iter):
        rebuilt = analyse(synthesise(t))
        new = mag * rebuilt / (abs(rebuilt) + 1e-16)
        t = new + momentum * (new - coeffs)
        coeffs = new
    return synthesise(coeffs, length=length)


def amp_image_to_audio_griffinlim(
    image: np.ndarray,
    n_fft: int = 256,
    hop_length: int = 128,
    db_floor: float = -80.0,
    db_ref: float | None = None,
    n_iter: int = 100,
    momentum: float = 0.99,
    seed: int = 0,
    length: int | None = None,
) -> np.ndarray:
    """Invert an amplitude image (channel 0 of :func:`speechgen.audio.spectral.amp_phase_image`) by Griffin-Lim.

    ``image`` is ``[..., C, bins, frames]``; any phase channel is ignored and dropped bins are zero. Returns
    float32 ``[..., samples]``.
    """
    mag = image_magnitude(image, n_fft, db_floor, db_ref)
    return griffin_lim(mag, hop_length, n_fft, n_iter=n_iter, momentum=momentum, seed=seed,
                       length=length).astype(np.float32)
