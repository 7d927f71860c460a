"""A toy manifest of spoken digit strings for the text-to-speech tests (no speech engines needed): each digit is a
tone of its own pitch, so a string is a melody whose notes follow the text and a model can align them in a few
steps; and small untrained Tacotron 2 and Tacotron checkpoints (:func:`tts_checkpoint`,
:func:`tacotron_checkpoint`).

Import it as ``from ..text_speech_fixtures import write_strings_manifest`` (``from .text_speech_fixtures`` in
``tests/``'s own modules): pytest imports the tests as the namespace package ``tests``."""

from __future__ import annotations

from pathlib import Path

import numpy as np

import torch

from speechgen.audio import io as audio_io
from speechgen.checkpoint import save_checkpoint
from speechgen.data.manifest import Manifest, make_row
from speechgen.data.text import digits_text, held_out
from speechgen.models.tacotron import Tacotron
from speechgen.models.tacotron2 import Tacotron2

STRING_SPLITS = {"train": ("a", "b"), "valid": ("c",), "test": ("d",)}
NOTE, GAP, EDGE = 0.10, 0.03, 0.05  # seconds: a digit's tone, the gap after it, the silence at each end


def padded_tokens(b: int = 3, n: int = 7, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of ``b`` (at most 3) random ``chars`` symbol sequences ``[b, n]`` of lengths n, n - 2 and 3, padded
    with 0, and the lengths (the model tests' inputs)."""
    gen = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([n, n - 2, 3][:b])
    tokens = torch.randint(2, 18, (b, n), generator=gen)  # the 18 chars symbols
    for i, k in enumerate(lengths):
        tokens[i, k:] = 0
    return tokens, lengths


def strings_for(n: int, fraction: float, seed: int = 0, max_len: int = 3) -> list[str]:
    """``n`` digit strings of 1..``max_len`` digits, at least two of them held out at ``fraction`` and two not."""
    rng = np.random.default_rng(seed)
    while True:
        texts = [digits_text(rng.integers(0, 10, size=int(rng.integers(1, max_len + 1)))) for _ in range(n)]
        out = sum(held_out(t, fraction) for t in texts)
        if 2 <= out <= n - 2:
            return texts


def tone_string(digits: list[int], rng: np.random.Generator, sample_rate: int = 16000) -> np.ndarray:
    """A digit string as notes: digit ``d`` is a tone at ``300 + 120 d`` Hz."""
    parts = [np.zeros(int(EDGE * sample_rate), dtype=np.float32)]
    t = np.arange(int(NOTE * sample_rate)) / sample_rate
    for d in digits:
        note = 0.5 * np.sin(2 * np.pi * (300 + 120 * d) * t + rng.uniform(0, 6.28)) * np.hanning(len(t))
        parts += [note.astype(np.float32), np.zeros(int(GAP * sample_rate), dtype=np.float32)]
    parts.append(np.zeros(int(EDGE * sample_rate), dtype=np.float32))
    x = np.concatenate(parts)
    return (x + 0.003 * rng.standard_normal(len(x))).astype(np.float32)


def write_strings_manifest(root: Path, per: int = 12, fraction: float = 0.25, splits=STRING_SPLITS, seed: int = 0,
                           sample_rate: int = 16000) -> Path:
    """``per`` strings per voice (the same strings for every voice) as tone melodies, with a manifest whose
    ``text`` is the canonical digit string; returns the manifest's path."""
    rng = np.random.default_rng(seed)
    texts = strings_for(per, fraction, seed)
    rows = []
    for split, speakers in splits.items():
        for spk in speakers:
            for i, text in enumerate(texts):
                digits = [int(c) for c in text.split()]
                x = tone_string(digits, rng, sample_rate)
                rel = f"strings/{spk}_{i:02d}.wav"
                audio_io.save(root / rel, x, sample_rate)
                rows.append(make_row(rel, label=digits[0] if len(digits) == 1 else None, text=text, speaker=spk,
                                     engine="toy", split=split, duration=len(x) / sample_rate,
                                     sample_rate=sample_rate))
    Manifest(root, rows).write()
    return root / "manifest.csv"


TTS_KW = dict(embedding_dim=16, encoder_dim=16, encoder_convs=1, prenet_dim=16, attention_rnn_dim=24,
              decoder_rnn_dim=24, attention_dim=8, location_filters=4, location_kernel=5, postnet_dim=16,
              postnet_convs=2, frames_per_step=2, max_frames_per_symbol=3)


def tts_checkpoint(folder, stop_bias: float | None = None, **kw):
    """A small untrained Tacotron 2 saved as a checkpoint (``stop_bias``: its stop logit's bias, e.g. -50: never
    fires)."""
    torch.manual_seed(0)
    kwargs = {**TTS_KW, **kw}
    model = Tacotron2(**kwargs)
    if stop_bias is not None:
        with torch.no_grad():
            model.stop_layer.weight.zero_()
            model.stop_layer.bias.fill_(stop_bias)
    extra = {"speakers": [f"voice{i}" for i in range(kwargs.get("n_speakers", 0))]}
    return save_checkpoint(folder, model, {"name": "tacotron2", "kwargs": kwargs}, extra=extra)


TACOTRON_KW = dict(embedding_dim=16, prenet_dim=16, encoder_dim=8, encoder_bank=3, highway_layers=1,
                   decoder_prenet_dim=8, attention_rnn_dim=16, attention_dim=8, decoder_rnn_dim=16, postnet_bank=2,
                   postnet_dim=8, postnet_projection_dim=16, frames_per_step=2, max_frames_per_symbol=3,
                   griffin_lim_iters=2)


def tacotron_checkpoint(folder, stop_bias: float | None = None, **kw):
    """A small untrained Tacotron saved as a checkpoint (``stop_bias`` as in :func:`tts_checkpoint`)."""
    torch.manual_seed(0)
    kwargs = {**TACOTRON_KW, **kw}
    model = Tacotron(**kwargs)
    if stop_bias is not None:
        with torch.no_grad():
            model.stop_layer.weight.zero_()
            model.stop_layer.bias.fill_(stop_bias)
    extra = {"speakers": [f"voice{i}" for i in range(kwargs.get("n_speakers", 0))]}
    return save_checkpoint(folder, model, {"name": "tacotron", "kwargs": kwargs}, extra=extra)
