"""Tacotron (Wang et al. 2017, "Tacotron: towards end-to-end speech synthesis"): symbols → log-mel frames → a linear
magnitude spectrogram, which PGHI and fast Griffin-Lim turn into audio (no neural vocoder needed).

- **Encoder**: a symbol embedding (``embedding_dim``), a pre-net (two FC-ReLU-dropout layers: ``prenet_dim``, then
  ``encoder_dim``; its dropout stays on at inference, ``encoder_dropout_at_inference``) and a CBHG
  (:class:`~speechgen.nn.cbhg.CBHG`: a bank of ``encoder_bank`` = K convolutions of widths 1..K, max-pool, two width-3 projections, residual,
  ``highway_layers`` highway layers, a bidirectional GRU; all ``encoder_dim`` wide) whose output
  (``2 · encoder_dim``) is the attention's memory. Why the encoder's dropout stays on: the CBHG's batch norm
  learns its running statistics from the pre-net's dropped-out activations, and a pre-net without dropout gives it
  narrower ones (the variance shift of dropout before batch norm, Li et al. 2019, "Understanding the disharmony
  between dropout and batch normalization"). Measured on the held-out strings after 150 steps of
  ``recipes/tts/tacotron-cpu.yaml``: teacher-forced attention diagonality 0.46 in eval mode with the encoder's
  dropout off, 0.86 with it on (or with batch statistics); ``encoder_dropout_at_inference: false`` is the paper's
  literal reading. With ``n_speakers > 0`` a speaker embedding (``speaker_dim``)
  is concatenated to every memory step (our addition, as in our Tacotron 2).
- **Decoder** (autoregressive, ``frames_per_step`` = r frames per step): the last frame of the previous step (a
  frame of zeros at the first step) goes through the decoder pre-net (``prenet_dim``, ``decoder_prenet_dim``;
  dropout that stays on at inference, as in Tacotron 2); the attention GRU (``attention_rnn_dim``) reads it with the
  previous context; content-based additive attention (:class:`~speechgen.nn.attention.AdditiveAttention`,
  ``attention_dim``) over the memory gives the new context; the attention GRU's output and the context, projected
  to ``decoder_rnn_dim``, go through ``decoder_layers`` GRUs with residual connections; a linear layer of the
  decoder's output gives r log-mel frames.
- **Stop token** (our addition; the paper has none and decodes for a fixed time): a linear layer of the decoder's
  output gives one logit per step, trained and used exactly as Tacotron 2's (:meth:`speak` stops at
  ``sigmoid > 0.5`` or at the step cap and says which items stopped).
- **Post-net**: a CBHG over the decoder's whole log-mel (``postnet_bank`` = K widths, projections of
  ``postnet_projection_dim`` and ``n_mels`` channels, ``postnet_dim`` wide) and a linear layer predict the **linear
  log-magnitude** spectrogram, the feature ``log_magnitude`` (:class:`~speechgen.data.features.LogMagnitude`):
  ``ln(max(|STFT|, eps))``. Its STFT is the log-mel's own (n_fft 1024, hop 256 at 16 kHz: 513 bins, one frame per
  mel frame; ``linear_params`` may change n_fft, win_length and eps but never the hop), so the training scheme's
  targets and lengths are shared frame for frame (the paper: 2048-point STFT at 24 kHz, 1025 bins).

The model makes its own audio (``makes_audio``): :meth:`to_audio` raises the predicted magnitude to
``magnitude_power`` (1.2, the paper's sharpening; each clip's energy kept), estimates the phase by PGHI
(:func:`speechgen.audio.phase.pghi`) refined by ``griffin_lim_iters`` fast Griffin-Lim iterations (the paper: 50
of classic Griffin-Lim) and takes the inverse STFT. :meth:`speak` also returns the log-mel, so any vocoder of the
model's ``feature_params`` can voice it instead.

:meth:`Tacotron.forward` is teacher-forced (training); :meth:`Tacotron.speak` decodes freely. The defaults are the
paper's sizes (Table 1: 256-dim embedding, pre-nets 256-128, encoder CBHG K = 16, attention GRU 256, 2 residual
decoder GRUs of 256, post-net CBHG K = 8 with projections 256-80, r = 2): about 6.9 M parameters with 80 mel bands,
513 linear bins and one voice. No training logic here (see :mod:`speechgen.training.schemes.tts`).
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

import numpy as np
import torch
from torch import nn

from speechgen.errors import ConfigError
from speechgen.models.attention_tts import AttentionTTS
from speechgen.models.checks import check_int, check_rate
from speechgen.models.roles import TEXT_TO_SPEECH, Speech
from speechgen.models.vocoder import feature_params_for
from speechgen.nn.attention import AdditiveAttention, length_mask
from speechgen.nn.cbhg import CBHG
from speechgen.nn.prenet import Prenet

LINEAR_FEATURE = "log_magnitude"


class TacotronOutput(NamedTuple):
    """Teacher-forced outputs: ``mel`` ``[B, n_mels, T]`` (the decoder's frames), ``linear`` ``[B, n_bins, T]`` (the
    post-net's log-magnitudes), ``stop_logits`` ``[B, steps]`` (``steps = ceil(T / r)``) and ``alignments``
    ``[B, steps, L]``."""

    mel: torch.Tensor
    linear: torch.Tensor
    stop_logits: torch.Tensor
    alignments: torch.Tensor


class Tacotron(AttentionTTS):
    """Tacotron (see the module docstring).

    Args:
        symbols: the input alphabet (:data:`speechgen.data.text.SYMBOL_SETS`): ``chars`` or ``phonemes``.
        n_speakers: voices of the speaker embedding table concatenated to the memory (0: one voice).
        speaker_dim: width of a speaker embedding (with ``n_speakers > 0``).
        embedding_dim: width of a symbol embedding (256).
        prenet_dim: units of the first layer of both pre-nets (256).
        encoder_dim: units of the encoder pre-net's second layer and width of the encoder CBHG (bank channels,
            projections, highway layers, GRU units each way; 128). The memory is twice as wide.
        encoder_bank: K of the encoder CBHG's convolution bank (16).
        highway_layers: highway layers of both CBHGs (4).
        decoder_prenet_dim: units of the decoder pre-net's second layer (128).
        attention_rnn_dim: units of the attention GRU (256).
        attention_dim: width of the additive attention's hidden space (256).
        decoder_rnn_dim: units of each residual decoder GRU (256).
        decoder_layers: residual decoder GRUs (2).
        postnet_bank: K of the post-net CBHG's convolution bank (8).
        postnet_dim: bank channels, highway width and GRU units each way of the post-net CBHG (128).
        postnet_projection_dim: channels of the post-net's first projection (256; the second has ``n_mels``).
        frames_per_step: frames r predicted per decoder step (the paper: 2; 2-5 work).
        dropout: dropout of both pre-nets (0.5; the decoder's stays on at inference).
        encoder_dropout_at_inference: keep the encoder pre-net's dropout on at inference too (module docstring;
            masks from :meth:`speak`'s generator), as the decoder's always is.
        max_frames_per_symbol: inference step cap: at most this many frames per input symbol.
        griffin_lim_iters: fast Griffin-Lim iterations after PGHI in :meth:`to_audio` (32; 0: PGHI alone).
        magnitude_power: the predicted magnitude is raised to this power before the phase estimate, keeping each
            clip's energy (1.2, the paper's; 1: off).
        sample_rate: audio rate of the frames (Hz).
        feature_params: ``log_mel`` parameters of the decoder's frames (null: the defaults of docs/data.md, the
            shipped vocoder's).
        linear_params: ``log_magnitude`` parameters of the post-net's target (n_fft, win_length, eps; null: the
            log-mel's n_fft and win_length, eps 1e-5); its hop is always the log-mel's.
    """

    roles = (TEXT_TO_SPEECH,)
    feature = "log_mel"
    #: the model's :meth:`speak` fills ``Speech.linear`` and :meth:`to_audio` voices it (no vocoder needed)
    makes_audio = True

    def __init__(
        self,
        symbols: Literal["chars", "phonemes"] = "chars",
        n_speakers: int = 0,
        speaker_dim: int = 64,
        embedding_dim: int = 256,
        prenet_dim: int = 256,
        encoder_dim: int = 128,
        encoder_bank: int = 16,
        highway_layers: int = 4,
        decoder_prenet_dim: int = 128,
        attention_rnn_dim: int = 256,
        attention_dim: int = 256,
        decoder_rnn_dim: int = 256,
        decoder_layers: int = 2,
        postnet_bank: int = 8,
        postnet_dim: int = 128,
        postnet_projection_dim: int = 256,
        frames_per_step: int = 2,
        dropout: float = 0.5,
        encoder_dropout_at_inference: bool = True,
        max_frames_per_symbol: int = 30,
        griffin_lim_iters: int = 32,
        magnitude_power: float = 1.2,
        sample_rate: int = 16000,
        feature_params: dict[str, Any] | None = None,
        linear_params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self._init_io(symbols, n_speakers, sample_rate, feature_params, frames_per_step, max_frames_per_symbol)
        linear = dict(linear_params or {})
        if "hop_length" in linear and linear["hop_length"] != self.hop_length:
            raise ConfigError(f"linear_params.hop_length: must be the log-mel's hop_length ({self.hop_length}): one "
                              f"linear frame per mel frame, got {linear['hop_length']!r}")
        linear.setdefault("n_fft", self.feature_params["n_fft"])
        linear.setdefault("win_length", min(int(self.feature_params["win_length"]), int(linear["n_fft"])))
        linear["hop_length"] = self.hop_length
        self.linear_params = feature_params_for(LINEAR_FEATURE, linear, self.sample_rate, "linear_params")
        self.n_bins = int(self.linear_params["n_fft"]) // 2 + 1
        self.linear_pad_value = float(math.log(self.linear_params["eps"]))
        #: targets besides the log-mel the training scheme must give (batch key → feature name, parameters)
        self.extra_targets: dict[str, tuple[str, dict[str, Any]]] = {"linear": (LINEAR_FEATURE,
                                                                                 dict(self.linear_params))}
        self.griffin_lim_iters = check_int("griffin_lim_iters", griffin_lim_iters, 0)
        if isinstance(magnitude_power, bool) or not isinstance(magnitude_power, (int, float)) \
                or not 0.0 < float(magnitude_power) <= 4.0:
            raise ConfigError(f"magnitude_power: expected a value in (0, 4], got {magnitude_power!r}")
        self.magnitude_power = float(magnitude_power)
        if not isinstance(encoder_dropout_at_inference, bool):
            raise ConfigError(f"encoder_dropout_at_inference: expected true or false, got "
                              f"{encoder_dropout_at_inference!r}")
        self.encoder_dropout_at_inference = encoder_dropout_at_inference
        dropout = check_rate("dropout", dropout)
        embedding_dim = check_int("embedding_dim", embedding_dim)
        prenet_dim = check_int("prenet_dim", prenet_dim)
        encoder_dim = check_int("encoder_dim", encoder_dim)
        highway_layers = check_int("highway_layers", highway_layers, 0)
        self.attention_rnn_dim = check_int("attention_rnn_dim", attention_rnn_dim)
        self.decoder_rnn_dim = check_int("decoder_rnn_dim", decoder_rnn_dim)
        n_layers = check_int("decoder_layers", decoder_layers)
        postnet_dim = check_int("postnet_dim", postnet_dim)

        # encoder
        self.embedding = nn.Embedding(self.n_symbols, embedding_dim)
        nn.init.normal_(self.embedding.weight, 0.0, 0.3)
        self.encoder_prenet = Prenet(embedding_dim, [prenet_dim, encoder_dim], dropout)
        self.encoder_cbhg = CBHG(encoder_dim, check_int("encoder_bank", encoder_bank), encoder_dim,
                                 (encoder_dim, encoder_dim), highway_layers, encoder_dim, encoder_dim)
        self.speaker_dim = check_int("speaker_dim", speaker_dim) if self.n_speakers else 0
        self.speaker_embedding = nn.Embedding(self.n_speakers, self.speaker_dim) if self.n_speakers else None
        self.memory_dim = 2 * encoder_dim + self.speaker_dim

        # decoder
        self.decoder_prenet = Prenet(self.n_mels, [prenet_dim, check_int("decoder_prenet_dim", decoder_prenet_dim)],
                                     dropout)
        self.attention_rnn = nn.GRUCell(self.decoder_prenet.out_dim + self.memory_dim, self.attention_rnn_dim)
        self.attention = AdditiveAttention(self.attention_rnn_dim, self.memory_dim,
                                           check_int("attention_dim", attention_dim))
        self.decoder_input = nn.Linear(self.attention_rnn_dim + self.memory_dim, self.decoder_rnn_dim)
        self.decoder_rnns = nn.ModuleList(nn.GRUCell(self.decoder_rnn_dim, self.decoder_rnn_dim)
                                          for _ in range(n_layers))
        self.projection = nn.Linear(self.decoder_rnn_dim, self.n_mels * self.r)
        self.stop_layer = nn.Linear(self.decoder_rnn_dim, 1)

        # post-net
        self.postnet_cbhg = CBHG(self.n_mels, check_int("postnet_bank", postnet_bank), postnet_dim,
                                 (check_int("postnet_projection_dim", postnet_projection_dim), self.n_mels),
                                 highway_layers, postnet_dim, postnet_dim)
        self.linear_projection = nn.Linear(self.postnet_cbhg.out_dim, self.n_bins)

    # -- pieces --------------------------------------------------------------------------------------------------
    def encode(self, symbols: torch.Tensor, lengths: torch.Tensor, speakers: torch.Tensor | None,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """``(memory [B, L, memory_dim], padding mask [B, L])`` of symbol indices ``[B, L]`` (pre-net dropout masks
        from ``generator`` when given)."""
        mask = length_mask(lengths.to(symbols.device), symbols.shape[1])
        x = self.encoder_prenet(self.embedding(symbols), generator, always=self.encoder_dropout_at_inference)
        memory = self.encoder_cbhg(x, lengths)
        return self._with_speaker(memory, speakers), mask

    def _initial_state(self, memory: torch.Tensor) -> list[torch.Tensor]:
        b = memory.shape[0]
        z = memory.new_zeros
        return [z(b, self.attention_rnn_dim), *(z(b, self.decoder_rnn_dim) for _ in self.decoder_rnns),
                z(b, self.memory_dim)]

    def decoder_step(self, prenet_out: torch.Tensor, state: list[torch.Tensor], memory: torch.Tensor,
                     processed: torch.Tensor, mask: torch.Tensor,
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """One decoder step: ``(frames [B, r, n_mels], stop logit [B], attention weights [B, L], new state)``."""
        att_h, dec_hs, context = state[0], state[1:-1], state[-1]
        att_h = self.attention_rnn(torch.cat([prenet_out, context], dim=-1), att_h)
        context, weights = self.attention(att_h, memory, processed, mask)
        x = self.decoder_input(torch.cat([att_h, context], dim=-1))
        new_hs = []
        for rnn, h in zip(self.decoder_rnns, dec_hs):
            h = rnn(x, h)
            x = x + h
            new_hs.append(h)
        frames = self.projection(x).view(-1, self.r, self.n_mels)
        stop = self.stop_layer(x).squeeze(-1)
        return frames, stop, weights, [att_h, *new_hs, context]

    def apply_postnet(self, mel: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """The linear log-magnitudes ``[B, n_bins, T]`` of log-mel frames ``[B, n_mels, T]`` (each item's true
        ``lengths``; frames past them do not reach the true ones, and their outputs are the linear silence)."""
        lengths = torch.as_tensor(lengths, dtype=torch.long).reshape(-1).cpu()
        out = self.linear_projection(self.postnet_cbhg(mel.transpose(1, 2), lengths)).transpose(1, 2)
        pad = length_mask(lengths.to(out.device), out.shape[-1])[:, None, :]
        return out.masked_fill(pad, self.linear_pad_value)

    # -- training ------------------------------------------------------------------------------------------------
    def forward(self, tokens: torch.Tensor, token_lengths: torch.Tensor, mels: torch.Tensor,
                mel_lengths: torch.Tensor, speakers: torch.Tensor | None = None) -> TacotronOutput:
        """Teacher-forced decoding of target frames ``mels [B, n_mels, T]`` (each item's true ``mel_lengths``)
        from symbols ``tokens [B, L]`` (``token_lengths``): step ``s`` reads the last true frame of step ``s - 1``;
        the post-net reads the decoder's own frames."""
        tokens, token_lengths, speakers = self._check_inputs(tokens, token_lengths, speakers)
        self._check_mels(mels, tokens.shape[0])
        memory, mask = self.encode(tokens, token_lengths, speakers)
        mel, stops, aligns = self._teacher_forced(mels, memory, mask, lambda x: self.decoder_prenet(x, always=True))
        return TacotronOutput(mel, self.apply_postnet(mel, mel_lengths), stops, aligns)

    # -- inference -----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def speak(self, symbols: torch.Tensor, lengths: torch.Tensor | None = None, speakers: torch.Tensor | None = None,
              generator: torch.Generator | None = None, max_steps: int | None = None) -> Speech:
        """Free-running decoding of symbols ``[B, L]`` (``lengths`` per item, default L; ``speakers`` ``[B]`` voice
        indices of a multi-speaker model), with Tacotron 2's contract: each item ends at the first step whose stop
        logit passes 0.5 in probability, or at its step cap (``max_steps``, default ``ceil(max_frames_per_symbol ·
        length / r)``), which leaves its ``stopped`` flag False. Returns the log-mel and, in ``linear``, the
        post-net's log-magnitudes (padded with the linear silence). Pre-net masks come from ``generator`` (same
        seed, same frames on the CPU). Call in eval mode (batch norm's running statistics)."""
        symbols, lengths, speakers = self._check_inputs(symbols, lengths, speakers)
        memory, mask = self.encode(symbols, lengths, speakers, generator)
        mel, n_frames, stopped, aligns = self._free_running(
            memory, mask, lengths, lambda x: self.decoder_prenet(x, generator, always=True), max_steps)
        pad = length_mask(n_frames, mel.shape[-1])[:, None, :]
        mel = mel.masked_fill(pad, self.pad_value)
        linear = self.apply_postnet(mel, n_frames.cpu())
        return Speech(mel, n_frames, stopped, aligns, linear)

    def to_audio(self, linear: torch.Tensor | np.ndarray, seed: int = 0) -> np.ndarray:
        """Audio (float32, ``frames · hop_length`` samples) of one clip's log-magnitudes ``[n_bins, frames]``
        (module docstring: sharpened by ``magnitude_power``, PGHI, ``griffin_lim_iters`` fast Griffin-Lim
        iterations seeded with ``seed``, inverse STFT)."""
        from speechgen.audio.phase import reconstruct

        if isinstance(linear, torch.Tensor):
            linear = linear.detach().float().cpu().numpy()
        v = np.asarray(linear, dtype=np.float64)
        if v.ndim != 2 or v.shape[0] != self.n_bins or v.shape[1] < 1:
            raise ConfigError(f"linear: expected [{self.n_bins}, frames], got {list(v.shape)}")
        mag = np.exp(np.minimum(v, 20.0))  # a wild prediction cannot overflow
        if self.magnitude_power != 1.0:  # sharpen, keeping the clip's energy
            energy = float(np.sum(mag * mag))
            mag = mag ** self.magnitude_power
            sharp = float(np.sum(mag * mag))
            if sharp > 0.0:
                mag *= math.sqrt(energy / sharp)
        p = self.linear_params
        audio = reconstruct(mag, self.hop_length, int(p["n_fft"]), method="pghi", gl_iters=self.griffin_lim_iters,
                            win_length=int(p["win_length"]), seed=int(seed), length=v.shape[1] * self.hop_length)
        return np.asarray(audio, dtype=np.float32)
