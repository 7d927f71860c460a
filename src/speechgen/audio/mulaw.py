"""Mu-law companding (ITU-T G.711 curve, continuous form) and quantisation to ``2**bits`` classes.

``compress(x) = sign(x) ln(1 + mu |x|) / ln(1 + mu)`` maps [-1, 1] onto [-1, 1]; ``expand`` is its exact inverse.
Classes follow WaveNet/torchaudio: ``q = floor((compress(x) + 1) / 2 * mu + 0.5)`` in ``0 .. mu`` with
``mu = 2**bits - 1`` (8 bits: mu 255, 256 classes; 16 bits: mu 65535, 65536 classes), decoded at the cell centre
``expand(2 q / mu - 1)``. Every function takes numpy arrays or torch tensors and returns the same kind.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from speechgen.errors import AudioError, ConfigError

Array = np.ndarray | torch.Tensor


def _mu(mu: float) -> float:
    if not mu > 0:
        raise ConfigError(f"mu must be positive, got {mu}")
    return float(mu)


def _bits_mu(bits: int) -> int:
    if bits not in (8, 16):
        raise ConfigError(f"bits must be 8 or 16, got {bits}")
    return 2**bits - 1


def _float(x: Array) -> Array:
    """Floating view of ``x``: float dtypes kept, others become float64 (numpy) or the default dtype (torch)."""
    if isinstance(x, torch.Tensor):
        return x if x.is_floating_point() else x.to(torch.get_default_dtype())
    a = np.asarray(x)
    return a if np.issubdtype(a.dtype, np.floating) else a.astype(np.float64)


def mulaw_compress(x: Array, mu: float = 255.0) -> Array:
    """Continuous mu-law: ``sign(x) ln(1 + mu |x|) / ln(1 + mu)`` (no clipping; [-1, 1] maps onto [-1, 1])."""
    mu = _mu(mu)
    x = _float(x)
    lib = torch if isinstance(x, torch.Tensor) else np
    return lib.sign(x) * lib.log1p(mu * lib.abs(x)) / math.log1p(mu)


def mulaw_expand(y: Array, mu: float = 255.0) -> Array:
    """Inverse of :func:`mulaw_compress`: ``sign(y) ((1 + mu)**|y| - 1) / mu``."""
    mu = _mu(mu)
    y = _float(y)
    lib = torch if isinstance(y, torch.Tensor) else np
    return lib.sign(y) * lib.expm1(lib.abs(y) * math.log1p(mu)) / mu


def mulaw_encode(x: Array, bits: int = 8) -> Array:
    """Quantise audio in [-1, 1] (clipped) to int64 classes ``0 .. 2**bits - 1`` (see the module docstring)."""
    mu = _bits_mu(bits)
    x = _float(x)
    if isinstance(x, torch.Tensor):
        y = mulaw_compress(x.clamp(-1.0, 1.0), mu)
        return torch.floor((y + 1.0) / 2.0 * mu + 0.5).to(torch.int64)
    y = mulaw_compress(np.clip(x, -1.0, 1.0), mu)
    return np.floor((y + 1.0) / 2.0 * mu + 0.5).astype(np.int64)


def mulaw_decode(q: Array, bits: int = 8) -> Array:
    """Classes ``0 .. 2**bits - 1`` -> float32 audio in [-1, 1] (cell centres); out-of-range classes raise."""
    mu = _bits_mu(bits)
    if isinstance(q, torch.Tensor):
        if q.is_floating_point() or q.is_complex():
            raise AudioError(f"mu-law classes must be integers, got {q.dtype}")
        bad = q.numel() > 0 and bool(((q < 0) | (q > mu)).any())
        y = q.to(torch.float32) * (2.0 / mu) - 1.0
    else:
        q = np.asarray(q)
        if not np.issubdtype(q.dtype, np.integer):
            raise AudioError(f"mu-law classes must be integers, got {q.dtype}")
        bad = q.size > 0 and bool(((q < 0) | (q > mu)).any())
        y = q.astype(np.float32) * np.float32(2.0 / mu) - np.float32(1.0)
    if bad:
        raise AudioError(f"mu-law classes out of range 0..{mu} for {bits} bits")
    return mulaw_expand(y, mu)
