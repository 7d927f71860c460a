"""Tacotron 2 (Shen et al. 2018, "Natural TTS synthesis by conditioning WaveNet on mel spectrogram predictions"):
symbols → log-mel frames, which a vocoder turns into audio.

- **Encoder**: a symbol embedding, ``encoder_convs`` convolutions (width ``encoder_kernel``, batch norm, ReLU,
  dropout) and a bidirectional LSTM (``encoder_dim / 2`` units each way). Padded positions are zeroed before every
  convolution and skipped by the LSTM (packed sequences), so an utterance encodes the same alone or in a batch.
  With ``n_speakers > 0`` a speaker embedding (``speaker_dim``) is concatenated to every encoder output.
- **Decoder** (autoregressive, ``frames_per_step`` = r frames per step): the previous step's last frame (a frame
  of zeros at the first step) goes through the pre-net (two ReLU layers of ``prenet_dim`` with dropout that stays on
  at inference, the paper's source of variation); an attention LSTM reads it with the previous attention context;
  location-sensitive attention (:class:`~speechgen.nn.attention.LocationSensitiveAttention`) over the encoder
  outputs gives the new context; a decoder LSTM reads the attention LSTM's output and the context; a linear
  projection of the decoder LSTM's output and the context gives r frames and one stop-token logit. Both LSTMs use
  zoneout (``zoneout``: each unit keeps its previous value with that probability in training, the expectation at
  inference).
- **Post-net**: ``postnet_convs`` convolutions (width ``postnet_kernel``, ``postnet_dim`` channels, batch norm, tanh
  except the last, dropout) predict a residual added to the decoder's frames.

:meth:`Tacotron2.forward` is teacher-forced (training); :meth:`Tacotron2.speak` decodes freely until the stop
token fires (``sigmoid(logit) > 0.5``) or the step cap (``max_frames_per_symbol`` frames per input symbol) is
reached, and says which items stopped. The frames are the vocoder feature ``log_mel`` with ``feature_params``
(natural-log mel magnitudes, the shipped vocoder ``default``'s by default), so a vocoder trained on that feature
speaks them. The paper's sizes are the defaults (about 28 M parameters with 80 mel bands); no training logic here
(see :mod:`speechgen.training.schemes.tts`).
"""

from __future__ import annotations

import math
from typing import Any, Literal, NamedTuple

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from speechgen.errors import ConfigError
from speechgen.models.attention_tts import AttentionTTS
from speechgen.models.checks import check_int, check_rate
from speechgen.models.roles import TEXT_TO_SPEECH, Speech
from speechgen.nn.attention import LocationSensitiveAttention, length_mask
from speechgen.nn.prenet import dropout_layers


class Tacotron2Output(NamedTuple):
    """Teacher-forced outputs: ``mel`` and ``mel_postnet`` ``[B, n_mels, T]`` (the decoder's frames and the same
    with the post-net's residual), ``stop_logits`` ``[B, steps]`` (one per decoder step of r frames; ``steps =
    ceil(T / r)``) and ``alignments`` ``[B, steps, L]``."""

    mel: torch.Tensor
    mel_postnet: torch.Tensor
    stop_logits: torch.Tensor
    alignments: torch.Tensor


def _odd(name: str, value: Any) -> int:
    value = check_int(name, value)
    if value % 2 == 0:
        raise ConfigError(f"{name}: must be odd (a centred convolution), got {value}")
    return value


class ConvBlock(nn.Sequential):
    """Conv1d (same length) → batch norm → activation (ReLU, tanh or none) → dropout."""

    def __init__(self, c_in: int, c_out: int, kernel: int, activation: str, dropout: float) -> None:
        layers: list[nn.Module] = [nn.Conv1d(c_in, c_out, kernel, padding=kernel // 2), nn.BatchNorm1d(c_out)]
        if activation == "relu":
            layers.append(nn.ReLU())
        elif activation == "tanh":
            layers.append(nn.Tanh())
        layers.append(nn.Dropout(dropout))
        super().__init__(*layers)


class Tacotron2(AttentionTTS):
    """Tacotron 2 (see the module docstring).

    Args:
        symbols: the input alphabet (:data:`speechgen.data.text.SYMBOL_SETS`): ``chars`` (the letters of the digit
            words) or ``phonemes`` (their ARPAbet phonemes).
        n_speakers: voices of the speaker embedding table concatenated to the encoder outputs (0: one voice).
        speaker_dim: width of a speaker embedding (with ``n_speakers > 0``).
        embedding_dim: width of a symbol embedding (512).
        encoder_convs: convolutions of the encoder (3).
        encoder_kernel: their width in symbols, odd (5).
        encoder_dim: channels of the encoder convolutions and width of the BiLSTM's output, even (512).
        prenet_dim: units of each of the two pre-net layers (256).
        attention_rnn_dim: units of the attention LSTM (1024).
        decoder_rnn_dim: units of the decoder LSTM (1024).
        attention_dim: width of the attention's hidden space (128).
        location_filters: filters of the attention's location convolution (32).
        location_kernel: their width in symbols, odd (31).
        postnet_dim: channels of the post-net convolutions (512).
        postnet_convs: convolutions of the post-net (5).
        postnet_kernel: their width in frames, odd (5).
        frames_per_step: frames r predicted per decoder step (the paper: 1; 2-3 decode faster and align sooner).
        dropout: dropout of the encoder and post-net convolutions (0.5).
        prenet_dropout: dropout of the pre-net, on in training and at inference (0.5).
        zoneout: zoneout probability of both decoder LSTMs (0.1; 0: off).
        max_frames_per_symbol: inference step cap: at most this many frames per input symbol (a spoken digit alone
            in a one-second clip takes about 16 frames per symbol at the default hop).
        sample_rate: audio rate of the frames (Hz).
        feature_params: ``log_mel`` parameters of the predicted frames (n_fft, hop_length, win_length, n_mels, fmin,
            fmax, eps; null: the defaults of docs/data.md, the shipped vocoder's).
    """

    roles = (TEXT_TO_SPEECH,)
    feature = "log_mel"

    def __init__(
        self,
        symbols: Literal["chars", "phonemes"] = "chars",
        n_speakers: int = 0,
        speaker_dim: int = 64,
        embedding_dim: int = 512,
        encoder_convs: int = 3,
        encoder_kernel: int = 5,
        encoder_dim: int = 512,
        prenet_dim: int = 256,
        attention_rnn_dim: int = 1024,
        decoder_rnn_dim: int = 1024,
        attention_dim: int = 128,
        location_filters: int = 32,
        location_kernel: int = 31,
        postnet_dim: int = 512,
        postnet_convs: int = 5,
        postnet_kernel: int = 5,
        frames_per_step: int = 1,
        dropout: float = 0.5,
        prenet_dropout: float = 0.5,
        zoneout: float = 0.1,
        max_frames_per_symbol: int = 30,
        sample_rate: int = 16000,
        feature_params: dict[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self._init_io(symbols, n_speakers, sample_rate, feature_params, frames_per_step, max_frames_per_symbol)
        embedding_dim = check_int("embedding_dim", embedding_dim)
        encoder_dim = check_int("encoder_dim", encoder_dim, 2)
        if encoder_dim % 2:
            raise ConfigError(f"encoder_dim: must be even (two LSTM directions of half the width), got {encoder_dim}")
        dropout = check_rate("dropout", dropout)
        self.prenet_dropout = check_rate("prenet_dropout", prenet_dropout)
        self.zoneout = check_rate("zoneout", zoneout)
        prenet_dim = check_int("prenet_dim", prenet_dim)
        self.attention_rnn_dim = check_int("attention_rnn_dim", attention_rnn_dim)
        self.decoder_rnn_dim = check_int("decoder_rnn_dim", decoder_rnn_dim)

        # encoder
        self.embedding = nn.Embedding(self.n_symbols, embedding_dim)
        bound = math.sqrt(3.0) * math.sqrt(2.0 / (self.n_symbols + embedding_dim))
        nn.init.uniform_(self.embedding.weight, -bound, bound)
        k = _odd("encoder_kernel", encoder_kernel)
        n_conv = check_int("encoder_convs", encoder_convs, 0)
        self.encoder_convs = nn.ModuleList(
            ConvBlock(embedding_dim if i == 0 else encoder_dim, encoder_dim, k, "relu", dropout) for i in range(n_conv))
        self.encoder_lstm = nn.LSTM(encoder_dim if n_conv else embedding_dim, encoder_dim // 2, batch_first=True,
                                    bidirectional=True)
        self.speaker_dim = check_int("speaker_dim", speaker_dim) if self.n_speakers else 0
        self.speaker_embedding = nn.Embedding(self.n_speakers, self.speaker_dim) if self.n_speakers else None
        self.memory_dim = encoder_dim + self.speaker_dim

        # decoder
        self.prenet = nn.ModuleList([nn.Linear(self.n_mels, prenet_dim), nn.Linear(prenet_dim, prenet_dim)])
        self.attention_rnn = nn.LSTMCell(prenet_dim + self.memory_dim, self.attention_rnn_dim)
        self.attention = LocationSensitiveAttention(
            self.attention_rnn_dim, self.memory_dim, check_int("attention_dim", attention_dim),
            check_int("location_filters", location_filters), _odd("location_kernel", location_kernel))
        self.decoder_rnn = nn.LSTMCell(self.attention_rnn_dim + self.memory_dim, self.decoder_rnn_dim)
        self.projection = nn.Linear(self.decoder_rnn_dim + self.memory_dim, self.n_mels * self.r)
        self.stop_layer = nn.Linear(self.decoder_rnn_dim + self.memory_dim, 1)

        # post-net
        kp = _odd("postnet_kernel", postnet_kernel)
        n_post = check_int("postnet_convs", postnet_convs, 1)
        width = check_int("postnet_dim", postnet_dim)
        self.postnet = nn.ModuleList(
            ConvBlock(self.n_mels if i == 0 else width, self.n_mels if i == n_post - 1 else width, kp,
                      "tanh" if i < n_post - 1 else "none", dropout) for i in range(n_post))

    # -- pieces --------------------------------------------------------------------------------------------------
    def encode(self, symbols: torch.Tensor, lengths: torch.Tensor, speakers: torch.Tensor | None,
               ) -> tuple[torch.Tensor, torch.Tensor]:
        """``(memory [B, L, memory_dim], padding mask [B, L])`` of symbol indices ``[B, L]``."""
        mask = length_mask(lengths.to(symbols.device), symbols.shape[1])
        x = self.embedding(symbols).transpose(1, 2)  # [B, E, L]
        for conv in self.encoder_convs:
            x = conv(x.masked_fill(mask[:, None, :], 0.0))
        packed = pack_padded_sequence(x.transpose(1, 2), lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, _ = self.encoder_lstm(packed)
        memory, _ = pad_packed_sequence(out, batch_first=True, total_length=symbols.shape[1])
        return self._with_speaker(memory, speakers), mask

    def prenet_forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """The pre-net with its dropout on (training and inference alike); masks drawn from ``generator`` (on the
        CPU) when given, else from torch's global generator."""
        return dropout_layers(self.prenet, x, self.prenet_dropout, generator)

    def _zone(self, prev: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
        p = self.zoneout
        if p == 0.0:
            return new
        if self.training:
            keep = torch.rand_like(new) < p
            return torch.where(keep, prev, new)
        return p * prev + (1.0 - p) * new

    def _initial_state(self, memory: torch.Tensor) -> list[torch.Tensor]:
        b, n, _ = memory.shape
        z = memory.new_zeros
        return [z(b, self.attention_rnn_dim), z(b, self.attention_rnn_dim), z(b, self.decoder_rnn_dim),
                z(b, self.decoder_rnn_dim), z(b, n), z(b, n), z(b, self.memory_dim)]

    def decoder_step(self, prenet_out: torch.Tensor, state: list[torch.Tensor], memory: torch.Tensor,
                     processed: torch.Tensor, mask: torch.Tensor,
                     ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[torch.Tensor]]:
        """One decoder step: ``(frames [B, r, n_mels], stop logit [B], attention weights [B, L], new state)``."""
        att_h, att_c, dec_h, dec_c, weights, cumulative, context = state
        h, c = self.attention_rnn(torch.cat([prenet_out, context], dim=-1), (att_h, att_c))
        att_h, att_c = self._zone(att_h, h), self._zone(att_c, c)
        context, weights = self.attention(att_h, memory, processed, torch.stack([weights, cumulative], dim=1), mask)
        cumulative = cumulative + weights
        h, c = self.decoder_rnn(torch.cat([att_h, context], dim=-1), (dec_h, dec_c))
        dec_h, dec_c = self._zone(dec_h, h), self._zone(dec_c, c)
        out = torch.cat([dec_h, context], dim=-1)
        frames = self.projection(out).view(-1, self.r, self.n_mels)
        stop = self.stop_layer(out).squeeze(-1)
        return frames, stop, weights, [att_h, att_c, dec_h, dec_c, weights, cumulative, context]

    def apply_postnet(self, mel: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """``mel`` plus the post-net's residual; frames past each item's length are zeroed first (what the
        convolutions' own padding holds), so an utterance gets the same frames alone or in a batch."""
        x = mel.masked_fill(length_mask(lengths.to(mel.device), mel.shape[-1])[:, None, :], 0.0)
        for conv in self.postnet:
            x = conv(x)
        return mel + x

    # -- training ------------------------------------------------------------------------------------------------
    def forward(self, tokens: torch.Tensor, token_lengths: torch.Tensor, mels: torch.Tensor,
                mel_lengths: torch.Tensor, speakers: torch.Tensor | None = None) -> Tacotron2Output:
        """Teacher-forced decoding of target frames ``mels [B, n_mels, T]`` (each item's true ``mel_lengths``)
        from symbols ``tokens [B, L]`` (``token_lengths``): step ``s`` reads the last true frame of step ``s - 1``."""
        tokens, token_lengths, speakers = self._check_inputs(tokens, token_lengths, speakers)
        self._check_mels(mels, tokens.shape[0])
        memory, mask = self.encode(tokens, token_lengths, speakers)
        mel, stops, aligns = self._teacher_forced(mels, memory, mask, self.prenet_forward)
        mel_lengths = torch.as_tensor(mel_lengths, dtype=torch.long).reshape(-1)
        return Tacotron2Output(mel, self.apply_postnet(mel, mel_lengths), stops, aligns)

    # -- inference -----------------------------------------------------------------------------------------------
    @torch.no_grad()
    def speak(self, symbols: torch.Tensor, lengths: torch.Tensor | None = None, speakers: torch.Tensor | None = None,
              generator: torch.Generator | None = None, max_steps: int | None = None) -> Speech:
        """Free-running decoding of symbols ``[B, L]`` (``lengths`` per item, default L; ``speakers`` ``[B]`` voice
        indices of a multi-speaker model): each item ends at the first step whose stop logit passes 0.5 in
        probability, or at its step cap (``max_steps``, default ``ceil(max_frames_per_symbol · length / r)``), which
        leaves its ``stopped`` flag False. Pre-net dropout masks come from ``generator`` (same seed, same
        frames on the CPU). Call in eval mode (batch norm's running statistics, zoneout's expectation)."""
        symbols, lengths, speakers = self._check_inputs(symbols, lengths, speakers)
        memory, mask = self.encode(symbols, lengths, speakers)
        mel, n_frames, stopped, aligns = self._free_running(
            memory, mask, lengths, lambda x: self.prenet_forward(x, generator), max_steps)
        mel = self.apply_postnet(mel, n_frames)
        pad = length_mask(n_frames, mel.shape[-1])[:, None, :]
        return Speech(mel.masked_fill(pad, self.pad_value), n_frames, stopped, aligns)
