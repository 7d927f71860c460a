"""What the attention-based text-to-speech models (Tacotron, Tacotron 2) share: the checks of their inputs, the
speaker vector on the encoder outputs, the decoder-step cap, and the two decoding loops over a model's
``decoder_step`` — teacher-forced (training: step ``s`` reads the last true frame of step ``s - 1``) and
free-running (inference: it reads its own last frame and ends at the stop token or the cap)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from speechgen.data.text import SYMBOL_SETS
from speechgen.errors import ConfigError
from speechgen.models.checks import check_int
from speechgen.models.vocoder import log_mel_params

TTS_SYMBOLS = ("chars", "phonemes")


class AttentionTTS(nn.Module):
    """Base of a model with ``embedding``, ``n_symbols``, ``symbols``, ``speaker_embedding`` (or None),
    ``n_speakers``, ``r`` frames per step, ``max_frames_per_symbol``, ``n_mels``, ``pad_value``, an ``attention``
    with ``process_memory``, and the methods ``_initial_state(memory)`` and ``decoder_step(prenet_out, state,
    memory, processed, mask) -> (frames [B, r, n_mels], stop logit [B], weights [B, L], state)``."""

    r: int
    max_frames_per_symbol: int

    def _init_io(self, symbols: str, n_speakers: int, sample_rate: int, feature_params: dict[str, Any] | None,
                 frames_per_step: int, max_frames_per_symbol: int) -> None:
        """Check and set what both models take in and put out: the symbol set (``symbols``, ``n_symbols``), the
        voices (``n_speakers``), the log-mel (``sample_rate``, ``feature_params``, ``n_mels``, ``hop_length``, and
        ``pad_value``: its silence), ``r`` and ``max_frames_per_symbol``."""
        if symbols not in TTS_SYMBOLS:
            raise ConfigError(f"symbols: expected one of {', '.join(TTS_SYMBOLS)}, got {symbols!r}")
        self.symbols = symbols
        self.n_symbols = len(SYMBOL_SETS[symbols])
        self.n_speakers = check_int("n_speakers", n_speakers, 0)
        self.sample_rate = check_int("sample_rate", sample_rate)
        self.feature_params = log_mel_params(feature_params, self.sample_rate, "feature_params")
        self.n_mels = int(self.feature_params["n_mels"])
        self.hop_length = int(self.feature_params["hop_length"])
        self.pad_value = float(math.log(self.feature_params["eps"]))  # the log-mel's silence
        self.r = check_int("frames_per_step", frames_per_step)
        self.max_frames_per_symbol = check_int("max_frames_per_symbol", max_frames_per_symbol)

    @property
    def frames_per_step(self) -> int:
        """Frames r of one decoder step."""
        return self.r

    def max_steps_for(self, lengths: torch.Tensor) -> torch.Tensor:
        """Decoder-step cap ``[B]`` of inputs of ``lengths`` symbols: ``ceil(max_frames_per_symbol · L / r)``."""
        return torch.div(lengths.to(torch.long) * self.max_frames_per_symbol + self.r - 1, self.r,
                         rounding_mode="floor")

    def _check_inputs(self, symbols: torch.Tensor, lengths: torch.Tensor | None,
                      speakers: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        device = self.embedding.weight.device
        symbols = torch.as_tensor(symbols, dtype=torch.long, device=device)
        if symbols.ndim == 1:
            symbols = symbols[None]
        if symbols.ndim != 2 or symbols.shape[1] == 0:
            raise ConfigError(f"symbols: expected [B, L] symbol indices, got shape {list(symbols.shape)}")
        if bool((symbols < 0).any()) or bool((symbols >= self.n_symbols).any()):
            raise ConfigError(f"symbols: indices must be in 0..{self.n_symbols - 1} (symbol set '{self.symbols}')")
        b, n = symbols.shape
        if lengths is None:
            lengths = torch.full((b,), n, dtype=torch.long)
        lengths = torch.as_tensor(lengths, dtype=torch.long).reshape(-1).cpu()
        if len(lengths) != b or bool((lengths < 1).any()) or bool((lengths > n).any()):
            raise ConfigError(f"lengths: expected {b} lengths in 1..{n}, got {lengths.tolist()}")
        if self.speaker_embedding is None:
            return symbols, lengths, None
        if speakers is None:
            raise ConfigError(f"speakers: this model speaks with {self.n_speakers} voices; give one per item")
        speakers = torch.as_tensor(speakers, dtype=torch.long, device=device).reshape(-1)
        if len(speakers) == 1 and b > 1:
            speakers = speakers.expand(b)
        if len(speakers) != b or bool((speakers < 0).any()) or bool((speakers >= self.n_speakers).any()):
            raise ConfigError(f"speakers: expected {b} voice indices in 0..{self.n_speakers - 1}, "
                              f"got {speakers.tolist()}")
        return symbols, lengths, speakers

    def _with_speaker(self, memory: torch.Tensor, speakers: torch.Tensor | None) -> torch.Tensor:
        """The encoder outputs ``[B, L, C]`` with each item's speaker vector concatenated to every position."""
        if self.speaker_embedding is None:
            return memory
        assert speakers is not None
        spk = self.speaker_embedding(speakers)[:, None, :].expand(-1, memory.shape[1], -1)
        return torch.cat([memory, spk], dim=-1)

    def _check_mels(self, mels: torch.Tensor, batch: int) -> None:
        if mels.ndim != 3 or mels.shape[1] != self.n_mels or mels.shape[0] != batch:
            raise ConfigError(f"mels: expected [{batch}, {self.n_mels}, frames], got {list(mels.shape)}")

    def _teacher_forced(self, mels: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor,
                        prenet: Callable[[torch.Tensor], torch.Tensor],
                        ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(decoder frames [B, n_mels, T], stop logits [B, steps], alignments [B, steps, L])`` of target frames
        ``mels [B, n_mels, T]``: step ``s`` reads, through ``prenet``, the last true frame of step ``s - 1``."""
        processed = self.attention.process_memory(memory)
        b, _, t = mels.shape
        r = self.r
        steps = -(-t // r)
        padded = F.pad(mels, (0, steps * r - t), value=self.pad_value)
        previous = padded[:, :, r - 1::r].transpose(1, 2)[:, :-1]  # last frame of each step but the final one
        inputs = torch.cat([padded.new_zeros(b, 1, self.n_mels), previous], dim=1)  # [B, steps, n_mels]
        pre = prenet(inputs)
        state = self._initial_state(memory)
        frames, stops, aligns = [], [], []
        for s in range(steps):
            f, stop, w, state = self.decoder_step(pre[:, s], state, memory, processed, mask)
            frames.append(f)
            stops.append(stop)
            aligns.append(w)
        mel = torch.cat(frames, dim=1).transpose(1, 2)[:, :, :t]  # [B, n_mels, T]
        return mel, torch.stack(stops, dim=1), torch.stack(aligns, dim=1)

    def _free_running(self, memory: torch.Tensor, mask: torch.Tensor, lengths: torch.Tensor,
                      prenet: Callable[[torch.Tensor], torch.Tensor], max_steps: int | None,
                      ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(decoder frames [B, n_mels, steps · r], frames per item [B], stopped [B], alignments [B, steps, L])``:
        each item ends at the first step whose stop logit passes 0.5 in probability, or at its cap (``max_steps``,
        default :meth:`max_steps_for`), which leaves its ``stopped`` flag False."""
        processed = self.attention.process_memory(memory)
        b = memory.shape[0]
        device = memory.device
        if max_steps is not None:
            cap = torch.full((b,), check_int("max_steps", max_steps), dtype=torch.long)
        else:
            cap = self.max_steps_for(lengths)
        cap = cap.to(device)
        steps_taken = cap.clone()
        stopped = torch.zeros(b, dtype=torch.bool, device=device)
        done = torch.zeros(b, dtype=torch.bool, device=device)
        state = self._initial_state(memory)
        frame = memory.new_zeros(b, self.n_mels)
        frames, aligns = [], []
        for s in range(int(cap.max())):
            f, stop, w, state = self.decoder_step(prenet(frame), state, memory, processed, mask)
            frames.append(f)
            aligns.append(w)
            fired = (torch.sigmoid(stop) > 0.5) & ~done
            capped = (cap <= s + 1) & ~done & ~fired
            steps_taken = torch.where(fired | capped, torch.full_like(steps_taken, s + 1), steps_taken)
            stopped |= fired
            done |= fired | capped
            if bool(done.all()):
                break
            frame = f[:, -1]
        mel = torch.cat(frames, dim=1).transpose(1, 2)  # [B, n_mels, steps · r]
        return mel, steps_taken * self.r, stopped, torch.stack(aligns, dim=1)
