"""WaveRNN (Kalchbrenner et al. 2018): a single GRU layer that generates audio sample by sample.

Two output schemes (``mode``):

- ``"dual"`` (the paper): 16-bit audio split into a coarse (high 8 bits) and a fine (low 8 bits) class. The GRU's
  state is split in two halves; at step ``t`` the input is ``[c_{t-1}, f_{t-1}, c_t]`` (scaled to [-1, 1]), but
  ``c_t`` is masked out of the coarse half's input weights, so the coarse half predicts ``c_t`` from the past and
  the fine half, which also sees ``c_t``, predicts ``f_t``. Each half has its own head ``ReLU(O1 y) → O2`` and a
  256-way softmax. The state matrix ``R`` is full: both halves see the whole previous state.
- ``"mulaw"``: one softmax over ``2**bits`` mu-law classes (9 or 10 bits are typical), input ``x_{t-1}``.

Conditioning: ``n_classes > 0`` adds a label embedding (digit or speaker) to every step's input;
``local_conditioning=True`` adds the log-mel frame upsampled to the sample rate (transposed convolutions, strides
``upsample_scales`` with product = hop length; frame ``j`` conditions samples ``j · hop …``), as in WaveNet.

Training runs the GRU in parallel over a teacher-forced segment (``torch.nn.GRU`` with the masked input weights);
generation runs the same arithmetic step by step (:meth:`WaveRNN.generate`), drawing each class by inverting the
softmax's CDF at uniforms drawn up front on the CPU from the given ``torch.Generator``. **Folded** generation
(``fold_length > 0``) cuts a long sequence into folds of ``fold_length`` samples that overlap by ``fold_overlap``,
generates all folds as one batch and cross-fades them linearly (:func:`fold`, :func:`unfold`).

Defaults follow the paper's model: 896 hidden units, dual softmax, 448-unit heads.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from speechgen.errors import ConfigError
from speechgen.models.wavenet import (ConvUpsampler, MelConditioned, check_positive, draw_classes, mulaw_dequantize,
                                      mulaw_quantize, one_thread, setup_local_conditioning, silence_class, uniforms)


# ------------------------------------------------------------------------------------------------ 16-bit split
def split16(audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Audio in [-1, 1] (clipped) → ``(coarse, fine)`` classes ``0 … 255`` of its 16-bit value
    ``v = clamp(round(32768 x), -32768, 32767) + 32768``: ``coarse = v // 256``, ``fine = v % 256``."""
    v = torch.round(audio.clamp(-1.0, 1.0).to(torch.float64) * 32768.0).clamp(-32768, 32767).to(torch.int64) + 32768
    return torch.div(v, 256, rounding_mode="floor"), v % 256


def combine16(coarse: torch.Tensor, fine: torch.Tensor) -> torch.Tensor:
    """``(coarse, fine)`` classes → float32 audio ``(256 c + f - 32768) / 32768`` (exact inverse of :func:`split16`
    on 16-bit values)."""
    return ((coarse.to(torch.int64) * 256 + fine.to(torch.int64) - 32768).to(torch.float32) / 32768.0)


def _scale(q: torch.Tensor, n: int) -> torch.Tensor:
    """Classes ``0 … n-1`` → [-1, 1] (network inputs)."""
    return q.to(torch.get_default_dtype()) * (2.0 / (n - 1)) - 1.0


# ------------------------------------------------------------------------------------------------ folding
def n_folds(length: int, fold_length: int) -> int:
    """Folds needed for ``length`` samples."""
    return max(1, math.ceil(length / fold_length))


def fold(x: torch.Tensor, fold_length: int, overlap: int) -> torch.Tensor:
    """``[n, C, T]`` → ``[n · K, C, fold_length + overlap]`` (item-major): fold ``k`` covers samples
    ``k · fold_length - overlap … (k + 1) · fold_length - 1`` (zeros outside ``0 … T-1``)."""
    n, c, t = x.shape
    k = n_folds(t, fold_length)
    padded = F.pad(x, (overlap, k * fold_length - t))
    folds = padded.unfold(-1, fold_length + overlap, fold_length)  # [n, C, K, L + O]
    return folds.permute(0, 2, 1, 3).reshape(n * k, c, fold_length + overlap)


def unfold(y: torch.Tensor, n: int, length: int, fold_length: int, overlap: int) -> torch.Tensor:
    """Inverse of :func:`fold` for ``[n · K, L + O]`` signals: overlapping stretches are cross-faded linearly
    (fade-out of fold ``k`` + fade-in of fold ``k + 1`` = 1), the result cropped to ``[n, length]``."""
    k = n_folds(length, fold_length)
    span = fold_length + overlap
    y = y.reshape(n, k, span)
    w = torch.ones(k, span, dtype=y.dtype, device=y.device)
    if overlap:
        ramp = (torch.arange(overlap, dtype=y.dtype, device=y.device) + 0.5) / overlap
        w[1:, :overlap] = ramp
        w[:-1, span - overlap:] = 1.0 - ramp
    out = torch.zeros(n, k * fold_length + overlap, dtype=y.dtype, device=y.device)
    for i in range(k):
        out[:, i * fold_length: i * fold_length + span] += y[:, i] * w[i]
    return out[:, overlap: overlap + length]


# ------------------------------------------------------------------------------------------------ the model
class WaveRNN(MelConditioned, nn.Module):
    """WaveRNN (see the module docstring).

    Args:
        n_classes: labels of the global conditioning (digits or speakers); 0: none.
        mode: ``"dual"`` (coarse/fine 8-bit halves of 16-bit audio, split state) or ``"mulaw"`` (one softmax).
        bits: mu-law bits of the ``"mulaw"`` mode (8 … 12).
        hidden: GRU state size (even for ``"dual"``: two halves).
        head_channels: hidden width of each output head (default: half the state for ``"dual"``, the state for
            ``"mulaw"``).
        label_channels: width of the label embedding.
        local_conditioning, feature_params, upsample_scales: mel conditioning as in
            :class:`~speechgen.models.wavenet.WaveNet`.
        sample_rate: audio rate. sample_length: samples drawn by :meth:`sample` without a condition.
        fold_length, fold_overlap: folded generation in :meth:`sample` when ``fold_length > 0`` and the sequence
            is longer than one fold.
        silence_warmup: samples of silence fed through the GRU (not output) before the first drawn sample of each
            sequence (or fold): training scores a segment's first sample from a zero state only once per
            1 600-odd samples, so that start is the least learnt; a state primed on silence — the corpus clips'
            true beginning — is what the model knows. 0: draw from the zero state.
    """

    def __init__(
        self,
        n_classes: int = 0,
        mode: Literal["dual", "mulaw"] = "dual",
        bits: int = 9,
        hidden: int = 896,
        head_channels: int | None = None,
        label_channels: int = 16,
        local_conditioning: bool = False,
        feature_params: dict[str, Any] | None = None,
        upsample_scales: Sequence[int] = (16, 16),
        sample_rate: int = 16000,
        sample_length: int = 16000,
        fold_length: int = 0,
        fold_overlap: int = 0,
        silence_warmup: int = 32,
    ) -> None:
        super().__init__()
        if mode not in ("dual", "mulaw"):
            raise ConfigError(f"mode: expected 'dual' or 'mulaw', got {mode!r}")
        self.mode = mode
        self.n_classes = check_positive("n_classes", n_classes, 0)
        self.bits = 16 if mode == "dual" else check_positive("bits", bits, 8)
        if self.bits > (16 if mode == "dual" else 12):
            raise ConfigError(f"bits: 8 … 12 for the mulaw mode, got {bits}")
        self.hidden = check_positive("hidden", hidden, 2)
        if mode == "dual" and self.hidden % 2:
            raise ConfigError(f"hidden: must be even for the dual softmax (two halves), got {hidden}")
        self.sample_rate = check_positive("sample_rate", sample_rate)
        self.sample_length = check_positive("sample_length", sample_length)
        self.fold_length = check_positive("fold_length", fold_length, 0)
        self.fold_overlap = check_positive("fold_overlap", fold_overlap, 0)
        self.silence_warmup = check_positive("silence_warmup", silence_warmup, 0)
        if self.fold_length and self.fold_overlap >= self.fold_length:
            raise ConfigError(f"fold_overlap: must be < fold_length ({fold_length}), got {fold_overlap}")
        self.generation_dtype = torch.float64
        scales = setup_local_conditioning(self, local_conditioning, feature_params, upsample_scales)
        self.upsampler = ConvUpsampler(self.n_mels, scales) if self.local_conditioning else None
        label_ch = check_positive("label_channels", label_channels) if self.n_classes else 0
        self.label_embedding = nn.Embedding(self.n_classes, label_ch) if self.n_classes else None
        self.n_prev = 3 if mode == "dual" else 1  # sample inputs per step
        self.in_features = self.n_prev + self.n_mels + label_ch
        self.rnn = nn.GRU(self.in_features, self.hidden, batch_first=True)
        H = self.hidden
        mask = torch.ones(3 * H, self.in_features)
        if mode == "dual":
            for g in range(3):  # rows of the coarse half of each gate (r, z, n) do not see c_t (input 2)
                mask[g * H: g * H + H // 2, 2] = 0.0
        self.register_buffer("input_mask", mask, persistent=False)
        if mode == "dual":
            hc = check_positive("head_channels", head_channels) if head_channels is not None else H // 2
            self.head_coarse = nn.Sequential(nn.Linear(H // 2, hc), nn.ReLU(), nn.Linear(hc, 256))
            self.head_fine = nn.Sequential(nn.Linear(H // 2, hc), nn.ReLU(), nn.Linear(hc, 256))
        else:
            hc = check_positive("head_channels", head_channels) if head_channels is not None else H
            self.head = nn.Sequential(nn.Linear(H, hc), nn.ReLU(), nn.Linear(hc, 2 ** self.bits))

    # -- facts ---------------------------------------------------------------------------------------------------
    @property
    def out_shape(self) -> tuple[int, ...]:
        """One unconditional sample: ``(sample_length,)`` (with a mel condition: ``frames · hop_length``)."""
        return (self.sample_length,)

    def _label_vectors(self, labels: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        if self.label_embedding is None:
            return None
        if labels is None:
            raise ConfigError(f"labels: this WaveRNN is conditional on {self.n_classes} labels")
        labels = torch.as_tensor(labels, dtype=torch.long, device=self.input_mask.device).reshape(-1)
        if len(labels) != batch:
            raise ConfigError(f"labels: expected {batch}, got {len(labels)}")
        return self.label_embedding(labels)

    def _targets(self, audio: torch.Tensor) -> list[torch.Tensor]:
        if self.mode == "dual":
            return list(split16(audio))
        return [mulaw_quantize(audio, self.bits)]

    def _segment_pairs(self, targets: list[torch.Tensor]) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """Teacher forcing of a segment's classes ``[B, T]``: sample inputs ``[B, T-1, n_prev]`` (the previous
        classes, and in the dual mode the current coarse class) and the targets of samples ``1 … T-1``. The
        segment's first sample is an input only, so every scored position sees its true previous sample (a crop
        taken mid-speech does not teach the model that speech may follow the silence class and a zero state)."""
        if self.mode == "dual":
            c, f = targets
            inputs = torch.stack([_scale(c[:, :-1], 256), _scale(f[:, :-1], 256), _scale(c[:, 1:], 256)], -1)
            return inputs, [c[:, 1:], f[:, 1:]]
        q = targets[0]
        return _scale(q[:, :-1], 2 ** self.bits).unsqueeze(-1), [q[:, 1:]]

    def _rnn_params(self) -> dict[str, torch.Tensor]:
        p = dict(self.rnn.named_parameters())
        p["weight_ih_l0"] = p["weight_ih_l0"] * self.input_mask
        return p

    # -- teacher-forced forward ----------------------------------------------------------------------------------
    def forward(self, prev: torch.Tensor, labels: torch.Tensor | None = None, cond: torch.Tensor | None = None,
                ) -> list[torch.Tensor]:
        """Logits ``[B, K, T]`` per head (coarse, fine; or the one mu-law head) for sample inputs ``prev``
        ``[B, T, n_prev]`` (see :meth:`teacher_forcing`) and upsampled conditioning ``cond`` ``[B, n_mels, T]``."""
        b, t, _ = prev.shape
        parts = [prev.to(self.input_mask.dtype)]
        if self.local_conditioning:
            if cond is None:
                raise ConfigError("condition: this WaveRNN needs a mel condition (local_conditioning: true)")
            parts.append(cond.transpose(1, 2))
        g = self._label_vectors(labels, b)
        if g is not None:
            parts.append(g.unsqueeze(1).expand(b, t, g.shape[-1]))
        h, _ = functional_call(self.rnn, self._rnn_params(), (torch.cat(parts, -1),))
        if self.mode == "dual":
            half = self.hidden // 2
            return [self.head_coarse(h[..., :half]).transpose(1, 2), self.head_fine(h[..., half:]).transpose(1, 2)]
        return [self.head(h).transpose(1, 2)]

    def teacher_forcing(self, audio: torch.Tensor, labels: torch.Tensor | None = None,
                        condition: torch.Tensor | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``[(logits [B, K, T-1], targets [B, T-1])]`` per head for audio ``[B, T]`` (and a mel
        ``[B, n_mels, T / hop]``): samples ``1 … T-1`` scored given their true past, the first sample an input
        only (see :meth:`_segment_pairs`); the summed cross-entropies are the negative log-likelihood per sample."""
        cond = self.training_condition(condition, audio.shape[-1])
        inputs, targets = self._segment_pairs(self._targets(audio))
        logits = self(inputs, labels, cond)
        return list(zip(logits, targets))

    # -- step-by-step generation ---------------------------------------------------------------------------------
    @torch.no_grad()
    def generate(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
                 condition: torch.Tensor | None = None, length: int | None = None, fold_length: int | None = None,
                 fold_overlap: int | None = None, dtype: torch.dtype | None = None) -> torch.Tensor:
        """Audio ``[n, length]`` in [-1, 1], drawn sample by sample with the GRU cell.

        ``length`` defaults to :attr:`sample_length` (``frames · hop_length`` with a mel ``condition``).
        ``fold_length`` / ``fold_overlap`` (default: the model's) > 0 generate overlapping folds in parallel and
        cross-fade them. Uniforms are drawn up front on the CPU from ``generator``. ``dtype``: arithmetic
        (default :attr:`generation_dtype`, float64).
        """
        n = check_positive("n", n)
        dtype = dtype or self.generation_dtype
        device = self.input_mask.device
        g = self._label_vectors(labels, n)
        cond = None
        if self.local_conditioning:
            if condition is None:
                raise ConfigError("condition: this WaveRNN needs a mel condition [n, n_mels, frames]")
            if condition.shape[0] != n:
                raise ConfigError(f"condition: expected {n} items, got {condition.shape[0]}")
            cond = self.upsample(condition.to(device, self.input_mask.dtype))
            total = cond.shape[-1]
        else:
            if condition is not None:
                raise ConfigError("condition: this WaveRNN takes no condition (local_conditioning: false)")
            total = check_positive("length", length if length is not None else self.sample_length)
        fl = self.fold_length if fold_length is None else check_positive("fold_length", fold_length, 0)
        fo = self.fold_overlap if fold_overlap is None else check_positive("fold_overlap", fold_overlap, 0)
        if fl and fo >= fl:
            raise ConfigError(f"fold_overlap: must be < fold_length ({fl}), got {fo}")
        if not fl or total <= fl:
            return self._run(n, total, g, cond, generator, dtype, None)[0]
        k = n_folds(total, fl)
        span = fl + fo
        gk = None if g is None else g.repeat_interleave(k, 0)
        ck = None if cond is None else fold(cond, fl, fo)
        y = self._run(n * k, span, gk, ck, generator, dtype, None)[0]
        return unfold(y, n, total, fl, fo)

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
               condition: torch.Tensor | None = None, length: int | None = None) -> torch.Tensor:
        """Waveforms ``[n, length]`` in [-1, 1] (the :class:`~speechgen.models.roles.Sampler` role):
        ``labels`` ``[n]`` for a conditional model, ``condition`` a log-mel ``[n, n_mels, frames]`` for a locally
        conditioned one; folded when the model's ``fold_length`` is set (see :meth:`generate`)."""
        return self.generate(n, labels, generator, condition, length)

    @torch.no_grad()
    def stepwise_logits(self, audio: torch.Tensor, labels: torch.Tensor | None = None,
                        condition: torch.Tensor | None = None, dtype: torch.dtype | None = None,
                        ) -> list[torch.Tensor]:
        """Per-head logits ``[B, K, T-1]`` computed step by step by the generation cell, started from the first
        sample of ``audio`` and fed its later classes: equal to :meth:`teacher_forcing`'s up to rounding (tested)."""
        dtype = dtype or self.generation_dtype
        g = self._label_vectors(labels, audio.shape[0])
        cond = self.upsample(condition)[..., 1:] if self.local_conditioning and condition is not None else None
        targets = self._targets(audio)
        forced = [t[:, 1:] for t in targets]
        return self._run(audio.shape[0], audio.shape[-1] - 1, g, cond, None, dtype, forced,
                         [t[:, 0] for t in targets])[1]

    def _run(self, n: int, total: int, g: torch.Tensor | None, cond: torch.Tensor | None,
             generator: torch.Generator | None, dtype: torch.dtype, forced: list[torch.Tensor] | None,
             start: list[torch.Tensor] | None = None) -> tuple[torch.Tensor, list[torch.Tensor]]:
        with one_thread():
            cell = _Cell(self, g, dtype)
            u = uniforms(total, n * len(cell.heads), generator).to(self.input_mask.device) if forced is None else None
            cond = None if cond is None else cond.to(dtype)
            outs = [torch.empty(n, total, dtype=torch.long, device=self.input_mask.device) for _ in cell.heads]
            keep: list[list[torch.Tensor]] = [[] for _ in cell.heads]
            h = torch.zeros(n, self.hidden, dtype=dtype, device=self.input_mask.device)
            prev = cell.start(n) if start is None else cell.inputs(start)
            if forced is None:  # prime the state on silence (the mel of the first sample, if any)
                quiet = cell.silence(n)
                for _ in range(self.silence_warmup):
                    h = cell.step(h, prev, None if cond is None else cond[:, :, 0], lambda i, lg: quiet[i])[0]
            for t in range(total):
                def pick(i: int, logits: torch.Tensor) -> torch.Tensor:
                    if forced is not None:
                        keep[i].append(logits)
                        return forced[i][:, t]
                    assert u is not None
                    return draw_classes(logits, u[t, i * n:(i + 1) * n])

                h, classes = cell.step(h, prev, None if cond is None else cond[:, :, t], pick)
                for o, c in zip(outs, classes):
                    o[:, t] = c
                prev = cell.inputs(classes)
        if self.mode == "dual":
            audio = combine16(outs[0], outs[1])
        else:
            audio = mulaw_dequantize(outs[0], self.bits)
        return audio, [torch.stack(k, -1) for k in keep] if forced is not None else []


class _Cell:
    """The GRU arithmetic of one step (PyTorch's gate layout: ``r, z, n``), with the weights laid out once."""

    def __init__(self, m: WaveRNN, g: torch.Tensor | None, dtype: torch.dtype) -> None:
        H = m.hidden
        self.m, self.dtype = m, dtype
        w_ih = (m.rnn.weight_ih_l0 * m.input_mask).to(dtype)
        w_hh, b_ih, b_hh = m.rnn.weight_hh_l0.to(dtype), m.rnn.bias_ih_l0.to(dtype), m.rnn.bias_hh_l0.to(dtype)
        np_, nm = m.n_prev, m.n_mels
        if g is not None:  # the label's contribution is a constant input bias
            b_ih = b_ih + g.to(dtype) @ w_ih[:, np_ + nm:].t()
        else:
            b_ih = b_ih.expand(1, -1)
        if m.mode == "dual":
            half = H // 2
            # rows regrouped as [coarse r, z, n | fine r, z, n]
            idx = torch.cat([torch.arange(gt * H + s, gt * H + s + half) for s in (0, half) for gt in range(3)])
            idx = idx.to(w_ih.device)
            w_ih, w_hh, b_ih, b_hh = w_ih[idx], w_hh[idx], b_ih[:, idx], b_hh[idx]
            self.w_cur = w_ih[3 * half:, 2].contiguous()  # c_t → fine rows
            self.heads = [self._head(m.head_coarse), self._head(m.head_fine)]
        else:
            self.heads = [self._head(m.head)]
        self.w_prev = w_ih[:, :2 if m.mode == "dual" else 1].t().contiguous()
        self.w_cond = w_ih[:, np_:np_ + nm].t().contiguous() if nm else None
        self.w_hh, self.b_ih, self.b_hh = w_hh.t().contiguous(), b_ih, b_hh

    def _head(self, seq: nn.Sequential) -> tuple[torch.Tensor, ...]:
        a, b = seq[0], seq[2]
        return (a.weight.t().to(self.dtype).contiguous(), a.bias.to(self.dtype),
                b.weight.t().to(self.dtype).contiguous(), b.bias.to(self.dtype))

    @staticmethod
    def _logits(head: tuple[torch.Tensor, ...], y: torch.Tensor) -> torch.Tensor:
        w1, b1, w2, b2 = head
        return torch.addmm(b2, torch.relu(torch.addmm(b1, y, w1)), w2)

    def silence(self, n: int) -> list[torch.Tensor]:
        """The classes of digital silence per head: coarse 128 + fine 0, or the mu-law silence class."""
        m = self.m
        if m.mode == "dual":
            first = [torch.full((n,), 128), torch.zeros(n, dtype=torch.long)]
        else:
            first = [torch.full((n,), silence_class(m.bits))]
        return [c.to(m.input_mask.device) for c in first]

    def start(self, n: int) -> torch.Tensor:
        """Scaled sample inputs before the first step: the silence class (the corpus clips' true start)."""
        return self.inputs(self.silence(n))

    def inputs(self, classes: list[torch.Tensor]) -> torch.Tensor:
        """Scaled previous-sample inputs ``[n, 2 or 1]`` for the next step."""
        k = 256 if self.m.mode == "dual" else 2 ** self.m.bits
        return torch.stack([c.to(self.dtype) * (2.0 / (k - 1)) - 1.0 for c in classes], -1)

    @staticmethod
    def _gru(gi: torch.Tensor, gh: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        ir, iz, in_ = gi.chunk(3, 1)
        hr, hz, hn = gh.chunk(3, 1)
        r = torch.sigmoid(ir + hr)
        z = torch.sigmoid(iz + hz)
        return (1.0 - z) * torch.tanh(in_ + r * hn) + z * h

    def step(self, h: torch.Tensor, prev: torch.Tensor, c: torch.Tensor | None,
             pick: Any) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """One step: new state and the classes chosen by ``pick(head_index, logits)``."""
        gi = torch.addmm(self.b_ih, prev, self.w_prev)
        if c is not None and self.w_cond is not None:
            gi = torch.addmm(gi, c, self.w_cond)
        gh = torch.addmm(self.b_hh, h, self.w_hh)
        if self.m.mode != "dual":
            h = self._gru(gi, gh, h)
            return h, [pick(0, self._logits(self.heads[0], h))]
        half = self.m.hidden // 2
        k = 3 * half
        hc = self._gru(gi[:, :k], gh[:, :k], h[:, :half])
        coarse = pick(0, self._logits(self.heads[0], hc))
        cur = coarse.to(self.dtype) * (2.0 / 255.0) - 1.0
        gi_f = torch.addr(gi[:, k:], cur, self.w_cur)
        hf = self._gru(gi_f, gh[:, k:], h[:, half:])
        fine = pick(1, self._logits(self.heads[1], hf))
        return torch.cat([hc, hf], 1), [coarse, fine]
