"""WaveNet (van den Oord et al. 2016): an autoregressive model of mu-law quantised audio, with naive and cached
("Fast WaveNet", Paine et al. 2016) generation.

Network, for input classes ``u`` ``[B, T]`` (mu-law, ``2**bits`` of them):

- **input**: one-hot (or a learned embedding of ``embedding_channels``) of each class, then a causal convolution
  of ``input_kernel`` taps to ``residual_channels``;
- **residual stack**: ``stacks`` repetitions of ``layers`` dilated causal convolutions (kernel ``kernel_size``,
  dilations ``1, 2, 4, ..., 2**(layers-1)``; the paper's 1 … 512 with ``layers=10``). Each layer computes
  ``h = W_d * x (+ V_g e(label)) (+ V_l c_t)`` with ``2 · dilation_channels`` outputs, the gated unit
  ``z = tanh(h_a) ⊙ sigmoid(h_b)``, and a 1x1 convolution of ``z`` to a residual (added to ``x``) and a skip
  output (the last layer has only the skip output): a causal :class:`~speechgen.nn.gated.GatedResidualUnit`;
- **head**: ``ReLU → 1x1 (head_channels) → ReLU → 1x1 (2**bits)`` on the sum of the skip outputs: the logits of
  a softmax over the next sample's class.

Conditioning: **global** (``n_classes > 0``): a label embedding (digit or speaker, ``label_channels`` wide) adds a
per-layer bias to ``h``; **local** (``local_conditioning=True``): a log-mel ``[B, n_mels, frames]`` (parameters
``feature_params``, defaults of docs/data.md, Features) is upsampled to one vector per sample by transposed
convolutions (strides ``upsample_scales``, product = the hop length) and enters every layer through its own 1x1
convolution.

Alignment. Logits at position ``t`` give ``p(s_t | s_<t)``: the network input at ``t`` is the previous sample
``s_{t-1}`` (in generation the silence class before the first sample: the corpus clips start with digital
silence), and mel frame ``j`` — centred on sample ``j · hop`` — conditions samples ``j · hop … (j + 1) · hop - 1``.
Training scores samples ``1 … T-1`` of each segment; its first sample is an input only, so a crop taken mid-speech
still gives every position its true previous sample. The output at ``t`` sees the last
:attr:`WaveNet.receptive_field` inputs: ``input_kernel + stacks · (kernel_size - 1) · (2**layers - 1)``
(3071 samples, 192 ms at 16 kHz, for the defaults).

Generation (``method``): ``"naive"`` re-runs the network over the last ``receptive_field`` inputs for every new
sample; ``"cached"`` keeps, per layer, a queue of its past inputs (the ``(kernel_size - 1) · dilation`` newest), so
a new sample costs one column per layer. Both draw from the softmax by inverting its CDF at uniforms drawn up
front on the CPU from the given ``torch.Generator`` and give the same samples for the same seed: they run in
``float64`` by default (the attribute :attr:`WaveNet.generation_dtype`), where the two paths' different summation
orders cannot flip a draw in practice (in float32 a rare flip near a CDF boundary would make them part ways).

Defaults are the stated "paper-size" model (the paper gives no widths): 3 stacks × 10 layers, 64 residual / 64
gated / 256 skip / 256 head channels, one-hot input, 8-bit mu-law.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from speechgen.audio.mulaw import mulaw_compress, mulaw_expand
from speechgen.errors import ConfigError
from speechgen.models.vocoder import log_mel_params
from speechgen.models.roles import SAMPLER, VOCODER
from speechgen.nn.gated import GatedResidualUnit

GenerationMethod = Literal["cached", "naive"]


# ------------------------------------------------------------------------------------------------ quantisation
def mulaw_quantize(x: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """Audio in [-1, 1] (clipped) → mu-law classes ``0 .. 2**bits - 1`` (``mu = 2**bits - 1``; the same cells as
    :func:`speechgen.audio.mulaw.mulaw_encode`, for any ``bits``)."""
    mu = 2 ** int(bits) - 1
    y = mulaw_compress(x.clamp(-1.0, 1.0), float(mu))
    return torch.floor((y + 1.0) / 2.0 * mu + 0.5).to(torch.int64).clamp_(0, mu)


def mulaw_dequantize(q: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """Mu-law classes → float32 audio at the cell centres (inverse of :func:`mulaw_quantize` up to its cell)."""
    mu = 2 ** int(bits) - 1
    return mulaw_expand(q.to(torch.float64) * (2.0 / mu) - 1.0, float(mu)).to(torch.float32)


def silence_class(bits: int) -> int:
    """The mu-law class of 0.0 (the input before the first sample)."""
    return int(mulaw_quantize(torch.zeros(1), bits)[0])


# ------------------------------------------------------------------------------------------------ shared pieces
def setup_local_conditioning(model: nn.Module, enabled: bool, feature_params: Mapping[str, Any] | None,
                             upsample_scales: Sequence[int]) -> list[int]:
    """Set ``local_conditioning``, ``feature_params``, ``n_mels`` and ``hop_length`` on an autoregressive model
    (``model.sample_rate`` must be set) and return the checked upsampling scales (their product = the hop)."""
    model.local_conditioning = bool(enabled)
    model.feature_params = None
    model.n_mels, model.hop_length, model.whole_input = 0, 1, False
    model.onnx_unsupported = "an autoregressive sampler: one network step per sample, in a Python loop"
    scales = [check_positive(f"upsample_scales[{i}]", s) for i, s in enumerate(upsample_scales)]
    if model.local_conditioning:
        model.feature_params = log_mel_params(feature_params, model.sample_rate)
        model.n_mels = int(model.feature_params["n_mels"])
        model.hop_length = int(model.feature_params["hop_length"])
        model.whole_input = True  # speechgen vocode: one piece (a chunk would restart the recurrence from silence)
        if not scales or math.prod(scales) != model.hop_length:
            raise ConfigError(f"upsample_scales: their product {math.prod(scales) if scales else 0} must equal "
                              f"the hop length (feature_params.hop_length {model.hop_length})")
    elif feature_params:
        raise ConfigError("feature_params: given without local_conditioning: true")
    return scales


def check_positive(name: str, value: Any, minimum: int = 1) -> int:
    """``value`` as an int >= ``minimum``; ConfigError naming ``name`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or int(value) < minimum:
        raise ConfigError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


class ConvUpsampler(nn.Module):
    """Learned upsampling of conditioning frames ``[B, C, frames]`` → ``[B, C, frames · Π scales]``: one
    transposed convolution per scale ``s`` (kernel ``2s``, stride ``s``), LeakyReLU(0.4) between them. Output
    sample ``j · hop + k`` draws mostly on frames ``j - 1`` and ``j`` (frame ``j`` is centred on sample
    ``j · hop``)."""

    def __init__(self, channels: int, scales: Sequence[int]) -> None:
        super().__init__()
        self.scales = [int(s) for s in scales]
        self.convs = nn.ModuleList(nn.ConvTranspose1d(channels, channels, 2 * s, stride=s, padding=s // 2)
                                   for s in self.scales)

    @property
    def factor(self) -> int:
        """Samples per conditioning frame."""
        return int(math.prod(self.scales))

    def forward(self, c: torch.Tensor) -> torch.Tensor:
        for i, (s, conv) in enumerate(zip(self.scales, self.convs)):
            n = c.shape[-1] * s
            c = conv(c)[..., :n]
            if i < len(self.convs) - 1:
                c = F.leaky_relu(c, 0.4)
        return c


def draw_classes(logits: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """Classes ``[n]`` drawn from ``softmax(logits)`` ``[n, K]`` by inverting its CDF at uniforms ``u`` ``[n]``."""
    cdf = torch.softmax(logits, dim=-1).cumsum(dim=-1)
    idx = torch.searchsorted(cdf, u.to(cdf.dtype).unsqueeze(-1))
    return idx.squeeze(-1).clamp_(max=logits.shape[-1] - 1)


@contextlib.contextmanager
def one_thread() -> Iterator[None]:
    """Run torch ops on one intra-op thread (restored afterwards). Step-by-step generation works on tiny
    tensors: on a busy machine, waking a second thread for each of them costs far more than the arithmetic."""
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


def uniforms(steps: int, n: int, generator: torch.Generator | None) -> torch.Tensor:
    """``[steps, n]`` float64 uniforms drawn on the CPU (from ``generator`` when given)."""
    return torch.rand(steps, n, generator=generator, dtype=torch.float64)


# ------------------------------------------------------------------------------------------------ the model
class MelConditioned:
    """Local (mel) conditioning and vocoder use shared by the autoregressive models; the host sets its attributes
    with :func:`setup_local_conditioning` and has an ``upsampler`` (None without local conditioning) and
    ``sample(n, generator=..., condition=...)``. With mel conditioning the model is a vocoder (it draws audio for a
    given log-mel), without it a sampler."""

    feature = "log_mel"

    @classmethod
    def roles_for(cls, kwargs: Mapping[str, Any]) -> tuple[str, ...]:
        """:data:`~speechgen.models.roles.VOCODER` when built with ``local_conditioning``, else
        :data:`~speechgen.models.roles.SAMPLER`."""
        return (VOCODER,) if kwargs.get("local_conditioning") else (SAMPLER,)

    def upsample(self, mel: torch.Tensor) -> torch.Tensor:
        """Log-mel ``[B, n_mels, frames]`` → per-sample conditioning ``[B, n_mels, frames · hop_length]``."""
        name = type(self).__name__
        if self.upsampler is None:
            raise ConfigError(f"condition: this {name} takes no mel condition (local_conditioning: false)")
        if mel.ndim != 3 or mel.shape[1] != self.n_mels:
            raise ConfigError(f"condition: expected a log-mel [batch, {self.n_mels}, frames], got {list(mel.shape)}")
        return self.upsampler(mel)

    def training_condition(self, condition: torch.Tensor | None, samples: int) -> torch.Tensor | None:
        """The upsampled mel of the scored samples ``1 … samples-1`` of a training segment (its first sample is
        an input only; None without local conditioning); ConfigError when the segment has fewer than 2 samples or
        the mel is missing or its frames do not cover the segment exactly."""
        if samples < 2:
            raise ConfigError(f"audio: a training segment needs at least 2 samples, got {samples}")
        if not self.local_conditioning:
            return None
        if condition is None:
            raise ConfigError(f"condition: this {type(self).__name__} needs a mel condition (local_conditioning: "
                              "true)")
        cond = self.upsample(condition)
        if cond.shape[-1] != samples:
            raise ConfigError(f"condition: {condition.shape[-1]} frames give {cond.shape[-1]} samples, "
                              f"but the audio has {samples}")
        return cond[..., 1:]

    @torch.no_grad()
    def infer(self, mel: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Vocoder use: audio ``[B, frames · hop_length]`` drawn given a log-mel ``[B, n_mels, frames]``."""
        if mel.ndim == 2:
            return self.infer(mel.unsqueeze(0), generator)[0]
        return self.sample(mel.shape[0], generator=generator, condition=mel)


class WaveNet(MelConditioned, nn.Module):
    """WaveNet over ``2**bits`` mu-law classes (see the module docstring for the layout and generation).

    Args:
        n_classes: labels of the global conditioning (digits or speakers); 0: none.
        bits: mu-law bits (8: the paper's 256-way softmax).
        layers: dilated layers per stack (dilations ``1 … 2**(layers-1)``).
        stacks: repetitions of the dilation cycle.
        kernel_size: taps of the dilated convolutions (2 in the paper).
        residual_channels, dilation_channels, skip_channels, head_channels: widths of the residual path, of the
            gated units, of the skip outputs and of the head's hidden 1x1 layer.
        input: ``"one_hot"`` (the paper) or ``"embedding"`` (a learned ``embedding_channels`` vector per class).
        embedding_channels: width of the input embedding (``input="embedding"``).
        input_kernel: taps of the causal input convolution.
        label_channels: width of the label embedding (global conditioning).
        local_conditioning: condition on a log-mel spectrogram (a vocoder).
        feature_params: that log-mel's parameters (defaults of docs/data.md, Features: 80 bands, hop 256 at 16 kHz).
        upsample_scales: strides of the transposed convolutions; their product must equal the hop length.
        sample_rate: audio rate.
        sample_length: samples drawn by :meth:`sample` without a condition (1 s of 16 kHz audio by default).
    """

    def __init__(
        self,
        n_classes: int = 0,
        bits: int = 8,
        layers: int = 10,
        stacks: int = 3,
        kernel_size: int = 2,
        residual_channels: int = 64,
        dilation_channels: int = 64,
        skip_channels: int = 256,
        head_channels: int = 256,
        input: Literal["one_hot", "embedding"] = "one_hot",
        embedding_channels: int = 64,
        input_kernel: int = 2,
        label_channels: int = 16,
        local_conditioning: bool = False,
        feature_params: dict[str, Any] | None = None,
        upsample_scales: Sequence[int] = (16, 16),
        sample_rate: int = 16000,
        sample_length: int = 16000,
    ) -> None:
        super().__init__()
        self.n_classes = check_positive("n_classes", n_classes, 0)
        self.bits = check_positive("bits", bits, 2)
        if self.bits > 16:
            raise ConfigError(f"bits: at most 16, got {bits}")
        self.n_quant = 2 ** self.bits
        self.layers_per_stack = check_positive("layers", layers)
        self.stacks = check_positive("stacks", stacks)
        self.kernel_size = check_positive("kernel_size", kernel_size, 2)
        self.residual_channels = check_positive("residual_channels", residual_channels)
        self.dilation_channels = check_positive("dilation_channels", dilation_channels)
        self.skip_channels = check_positive("skip_channels", skip_channels)
        self.head_channels = check_positive("head_channels", head_channels)
        if input not in ("one_hot", "embedding"):
            raise ConfigError(f"input: expected 'one_hot' or 'embedding', got {input!r}")
        self.input_mode = input
        self.input_kernel = check_positive("input_kernel", input_kernel)
        self.sample_rate = check_positive("sample_rate", sample_rate)
        self.sample_length = check_positive("sample_length", sample_length)
        self.generation_dtype = torch.float64
        scales = setup_local_conditioning(self, local_conditioning, feature_params, upsample_scales)

        in_ch = self.n_quant if input == "one_hot" else check_positive("embedding_channels", embedding_channels)
        self.embedding = nn.Embedding(self.n_quant, in_ch) if input == "embedding" else None
        self.input_conv = nn.Conv1d(in_ch, self.residual_channels, self.input_kernel)
        label_ch = check_positive("label_channels", label_channels) if self.n_classes else 0
        self.label_embedding = nn.Embedding(self.n_classes, label_ch) if self.n_classes else None
        self.upsampler = ConvUpsampler(self.n_mels, scales) if self.local_conditioning else None
        self.dilations = [2 ** i for _ in range(self.stacks) for i in range(self.layers_per_stack)]
        n = len(self.dilations)
        self.layers = nn.ModuleList(
            GatedResidualUnit(self.residual_channels, self.dilation_channels, self.skip_channels, self.kernel_size,
                              d, causal=True, label_channels=label_ch, cond_channels=self.n_mels,
                              last=i == n - 1)
            for i, d in enumerate(self.dilations))
        self.head1 = nn.Conv1d(self.skip_channels, self.head_channels, 1)
        self.head2 = nn.Conv1d(self.head_channels, self.n_quant, 1)

    # -- facts ---------------------------------------------------------------------------------------------------
    @property
    def receptive_field(self) -> int:
        """Inputs the output at one position depends on: ``input_kernel + Σ (kernel_size - 1) · dilation``."""
        return self.input_kernel + sum((self.kernel_size - 1) * d for d in self.dilations)

    @property
    def out_shape(self) -> tuple[int, ...]:
        """One unconditional sample: ``(sample_length,)`` (with a mel condition: ``frames · hop_length``)."""
        return (self.sample_length,)

    @property
    def silence(self) -> int:
        """The class fed before the first sample."""
        return silence_class(self.bits)

    def quantize(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio → mu-law classes."""
        return mulaw_quantize(audio, self.bits)

    def dequantize(self, q: torch.Tensor) -> torch.Tensor:
        """Mu-law classes → audio in [-1, 1]."""
        return mulaw_dequantize(q, self.bits)

    # -- teacher-forced forward ----------------------------------------------------------------------------------
    def _embed(self, q: torch.Tensor) -> torch.Tensor:
        if self.embedding is None:
            return F.one_hot(q, self.n_quant).transpose(1, 2).to(self.input_conv.weight.dtype)
        return self.embedding(q).transpose(1, 2)

    def _labels(self, labels: torch.Tensor | None, batch: int) -> torch.Tensor | None:
        if self.label_embedding is None:
            return None
        if labels is None:
            raise ConfigError(f"labels: this WaveNet is conditional on {self.n_classes} labels")
        labels = torch.as_tensor(labels, dtype=torch.long, device=self.input_conv.weight.device).reshape(-1)
        if len(labels) != batch:
            raise ConfigError(f"labels: expected {batch}, got {len(labels)}")
        return self.label_embedding(labels)

    def trunk(self, inputs: torch.Tensor, g: torch.Tensor | None = None, cond: torch.Tensor | None = None,
              ) -> torch.Tensor:
        """Summed skip outputs ``[B, skip_channels, T]`` for input classes ``[B, T]``, label embeddings ``g``
        ``[B, label_channels]`` and upsampled conditioning ``cond`` ``[B, n_mels, T]``."""
        x = self.input_conv(F.pad(self._embed(inputs), (self.input_kernel - 1, 0)))
        skip: torch.Tensor | None = None
        for layer in self.layers:
            x, s = layer(x, g, cond)
            skip = s if skip is None else skip + s
        assert skip is not None
        return skip

    def head(self, skip: torch.Tensor) -> torch.Tensor:
        """Logits ``[B, 2**bits, T]`` of summed skip outputs."""
        return self.head2(F.relu(self.head1(F.relu(skip))))

    def forward(self, inputs: torch.Tensor, labels: torch.Tensor | None = None,
                cond: torch.Tensor | None = None) -> torch.Tensor:
        """Logits ``[B, 2**bits, T]`` for input classes ``[B, T]`` (position ``t`` predicts the sample after
        input ``t``); ``cond``: upsampled conditioning ``[B, n_mels, T]`` (see :meth:`upsample`)."""
        return self.head(self.trunk(inputs, self._labels(labels, inputs.shape[0]), cond))

    def teacher_forcing(self, audio: torch.Tensor, labels: torch.Tensor | None = None,
                        condition: torch.Tensor | None = None) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """``[(logits [B, 2**bits, T-1], targets [B, T-1])]`` for audio ``[B, T]`` (and a mel
        ``[B, n_mels, T / hop]`` when locally conditioned): samples ``1 … T-1`` scored given their true past, the
        segment's first sample an input only (a crop taken mid-speech would otherwise teach the model that speech
        follows the silence class); the cross-entropy of the pair is the negative log-likelihood per sample."""
        q = self.quantize(audio)
        cond = self.training_condition(condition, q.shape[-1])
        return [(self(q[:, :-1], labels, cond), q[:, 1:])]

    # -- generation ----------------------------------------------------------------------------------------------
    def _prepare(self, n: int, labels: torch.Tensor | None, condition: torch.Tensor | None, length: int | None,
                 prefix: torch.Tensor | None, dtype: torch.dtype | None,
                 ) -> tuple[WaveNet, torch.Tensor | None, torch.Tensor | None, torch.Tensor, int]:
        dtype = dtype or self.generation_dtype
        param = self.input_conv.weight
        m = self if param.dtype == dtype else copy.deepcopy(self).to(dtype)
        m.eval()
        device = param.device
        pre = torch.zeros(n, 0, dtype=torch.long, device=device)
        if prefix is not None:
            pre = self.quantize(prefix.to(device)) if prefix.is_floating_point() else prefix.to(device).long()
            if pre.ndim != 2 or pre.shape[0] != n:
                raise ConfigError(f"prefix: expected [{n}, samples], got {list(pre.shape)}")
        g = m._labels(labels, n)
        cond = None
        if self.local_conditioning:
            if condition is None:
                raise ConfigError("condition: this WaveNet needs a mel condition [n, n_mels, frames]")
            if condition.shape[0] != n:
                raise ConfigError(f"condition: expected {n} items, got {condition.shape[0]}")
            cond = m.upsample(condition.to(device, dtype))
            total = cond.shape[-1]
            if total <= pre.shape[1]:
                raise ConfigError(f"condition: {total} samples leave nothing to generate after the prefix")
        else:
            if condition is not None:
                raise ConfigError("condition: this WaveNet takes no condition (local_conditioning: false)")
            total = pre.shape[1] + check_positive("length", length if length is not None else self.sample_length)
        return m, g, cond, pre, total

    @torch.no_grad()
    def generate(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
                 condition: torch.Tensor | None = None, length: int | None = None,
                 method: GenerationMethod = "cached", prefix: torch.Tensor | None = None,
                 dtype: torch.dtype | None = None) -> torch.Tensor:
        """Mu-law classes ``[n, length]`` drawn sample by sample.

        ``length`` defaults to :attr:`sample_length`; with a mel ``condition`` it is ``frames · hop_length`` minus
        the prefix. ``prefix`` (audio ``[n, P]`` or classes) primes the model: generation continues after it and
        returns only the new samples. ``method``: "cached" (queues) or "naive" (recompute the receptive field).
        Uniforms ``[length, n]`` are drawn up front on the CPU from ``generator``; both methods use them the same
        way, so they return the same classes for the same seed. ``dtype``: arithmetic (default
        :attr:`generation_dtype`, float64).
        """
        if method not in ("cached", "naive"):
            raise ConfigError(f"method: expected 'cached' or 'naive', got {method!r}")
        n = check_positive("n", n)
        m, g, cond, pre, total = self._prepare(n, labels, condition, length, prefix, dtype)
        p = pre.shape[1]
        u = uniforms(total - p, n, generator).to(pre.device)
        out = torch.empty(n, total, dtype=torch.long, device=pre.device)
        out[:, :p] = pre
        if method == "cached":
            with one_thread():
                state = _Queues(m, n, g)
                prev = torch.full((n,), self.silence, dtype=torch.long, device=pre.device)
                for t in range(total):
                    logits = state.step(prev, None if cond is None else cond[:, :, t])
                    prev = out[:, t] if t < p else draw_classes(logits, u[t - p])
                    out[:, t] = prev
        else:
            inputs = torch.full((n, total), self.silence, dtype=torch.long, device=pre.device)
            inputs[:, 1:p + 1] = pre[:, :total - 1]
            rf = self.receptive_field
            for t in range(p, total):
                lo = max(0, t - rf + 1)
                c = None if cond is None else cond[:, :, lo:t + 1]
                logits = m.head(m.trunk(inputs[:, lo:t + 1], g, c)[:, :, -1:])[:, :, 0]
                out[:, t] = draw_classes(logits, u[t - p])
                if t + 1 < total:
                    inputs[:, t + 1] = out[:, t]
        return out[:, p:]

    @torch.no_grad()
    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
               condition: torch.Tensor | None = None, length: int | None = None,
               method: GenerationMethod = "cached") -> torch.Tensor:
        """Waveforms ``[n, length]`` in [-1, 1] (the :class:`~speechgen.models.roles.Sampler` role):
        ``labels`` ``[n]`` for a conditional model, ``condition`` a log-mel ``[n, n_mels, frames]`` for a locally
        conditioned one (``frames · hop_length`` samples); see :meth:`generate`."""
        return self.dequantize(self.generate(n, labels, generator, condition, length, method))


class _Queues:
    """Cached generation state (Fast WaveNet): per layer a ring of its last ``(kernel_size - 1) · dilation``
    inputs, so each step computes one column per layer. Weights are laid out as matrices once."""

    def __init__(self, m: WaveNet, n: int, g: torch.Tensor | None) -> None:
        w_in = m.input_conv.weight  # [R, E, k_in]
        table = m.embedding.weight if m.embedding is not None else None
        # tap i of the input convolution acts on the class at time t - (k_in - 1 - i)
        self.in_tables = [(w_in[:, :, i].t() if table is None else table @ w_in[:, :, i].t()).contiguous()
                          for i in range(m.input_kernel)]
        self.in_bias = m.input_conv.bias
        self.in_hist: list[torch.Tensor | None] = [None] * (m.input_kernel - 1)
        R, G = m.residual_channels, m.dilation_channels
        zero = torch.zeros(n, R, dtype=w_in.dtype, device=w_in.device)
        self.gate = G
        self.layers = []
        for layer in m.layers:
            k, d = layer.kernel, layer.dilation
            w = layer.conv.weight.permute(2, 1, 0).reshape(k * R, 2 * G).contiguous()  # taps oldest → newest
            bias = layer.conv.bias.expand(n, 2 * G)
            if g is not None and layer.label is not None:
                bias = bias + layer.label(g)
            w_out = layer.out.weight[:, :, 0].t().contiguous()  # [G, R + S] or [G, S]
            b_out = layer.out.bias
            self.layers.append({"k": k, "d": d, "w": w, "bias": bias.contiguous(),
                                "w_res": None if layer.last else w_out[:, :R].contiguous(),
                                "b_res": None if layer.last else b_out[:R],
                                "w_skip": w_out[:, R:] if not layer.last else w_out,
                                "b_skip": b_out[R:] if not layer.last else b_out,
                                "hist": [zero] * ((k - 1) * d)})
        self.w_skip = torch.cat([ly["w_skip"] for ly in self.layers], dim=0).contiguous()  # [L·G, S]
        self.b_skip = torch.stack([ly["b_skip"] for ly in self.layers]).sum(0)
        self.w_cond = None
        if m.local_conditioning:
            self.w_cond = torch.cat([ly.cond.weight[:, :, 0] for ly in m.layers], dim=0).t().contiguous()
        self.w_h1, self.b_h1 = m.head1.weight[:, :, 0].t().contiguous(), m.head1.bias
        self.w_h2, self.b_h2 = m.head2.weight[:, :, 0].t().contiguous(), m.head2.bias
        self.t = 0

    def step(self, q: torch.Tensor, c: torch.Tensor | None) -> torch.Tensor:
        """Feed input classes ``q`` ``[n]`` (and conditioning ``c`` ``[n, n_mels]``) at the next position; return
        that position's logits ``[n, 2**bits]``."""
        t = self.t
        x = self.in_bias + self.in_tables[-1].index_select(0, q)
        k_in = len(self.in_tables)
        for j, past in enumerate(reversed(self.in_hist), start=1):  # j steps back → tap k_in - 1 - j
            if past is not None:
                x = x + self.in_tables[k_in - 1 - j].index_select(0, past)
        if self.in_hist:
            self.in_hist = self.in_hist[1:] + [q]
        cond = None
        if c is not None and self.w_cond is not None:
            cond = (c @ self.w_cond).view(c.shape[0], len(self.layers), -1)
        G = self.gate
        zs = []
        for i, ly in enumerate(self.layers):
            hist, k, d = ly["hist"], ly["k"], ly["d"]
            size = len(hist)
            slot = t % size
            if k == 2:
                xc = torch.cat([hist[slot], x], dim=1)
            else:
                xc = torch.cat([hist[(t - j * d) % size] for j in range(k - 1, 0, -1)] + [x], dim=1)
            hist[slot] = x
            bias = ly["bias"] if cond is None else ly["bias"] + cond[:, i]
            h = torch.addmm(bias, xc, ly["w"])
            z = torch.tanh(h[:, :G]) * torch.sigmoid(h[:, G:])
            zs.append(z)
            if ly["w_res"] is not None:
                x = x + torch.addmm(ly["b_res"], z, ly["w_res"])
        skip = torch.addmm(self.b_skip, torch.cat(zs, dim=1), self.w_skip)
        hidden = torch.relu(torch.addmm(self.b_h1, torch.relu(skip), self.w_h1))
        self.t = t + 1
        return torch.addmm(self.b_h2, hidden, self.w_h2)
