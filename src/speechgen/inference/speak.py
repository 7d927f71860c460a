"""Text-to-speech with a trained model: text → symbols → log-mel (the model) → audio (a vocoder, or the model itself).

Texts are digit strings in any spelling :func:`speechgen.data.text.parse_digits` reads ("4 2 7", "four two seven",
"oh"); one it cannot speak raises DataError naming the token, before any model is loaded. The model is a
:data:`~speechgen.models.roles.TEXT_TO_SPEECH` checkpoint (run folder, checkpoint folder); the vocoder (default the
shipped ``default``) must take exactly the model's feature: the same sample rate and log-mel parameters. A model
that makes its own audio (:func:`~speechgen.models.roles.makes_audio`: Tacotron's linear spectrogram through PGHI and
Griffin-Lim) uses it when no vocoder is named, and a named vocoder voices its log-mel instead. Texts are
spoken in batches of ``batch`` (each utterance's frames do not depend on the others in its batch; the pre-net's
dropout masks come from one generator seeded with ``seed``, so the same seed and texts give the same audio on the
CPU). An utterance whose stop token never fired was cut at the model's step cap: its :attr:`Spoken.warnings` line
says so (the speech is likely garbled).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from speechgen.data.text import digits_text, parse_digits
from speechgen.errors import ConfigError, DataError

DEFAULT_BATCH = 16
MIN_FRAMES = 4  # the shortest log-mel a vocoder is given (shorter ones are padded with silence)


@dataclass
class Spoken:
    """Clips spoken from texts.

    audio: one float32 clip per text at ``sample_rate``. texts: the canonical digit strings ("4 2 7"). digits: the
    digits of each text. speakers: the voice of each clip ("" for a one-voice model). stopped: whether each clip's
    stop token fired. mels: the model's log-mel ``[n_mels, frames]`` of each clip. alignments: each clip's attention
    weights ``[decoder steps, symbols]`` (its own steps and symbols, padding cut). warnings: one line per clip cut
    at the step cap.
    """

    audio: list[np.ndarray]
    sample_rate: int
    texts: list[str]
    digits: list[list[int]]
    speakers: list[str]
    stopped: list[bool]
    mels: list[np.ndarray]
    alignments: list[np.ndarray] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def parse_texts(texts: Sequence[str]) -> list[list[int]]:
    """The digits of every text (DataError naming the first text and token that cannot be spoken, or no text)."""
    if isinstance(texts, str):
        texts = [texts]
    if not texts:
        raise DataError("text: nothing to speak (give at least one text)")
    return [parse_digits(t) for t in texts]


def check_pair(model: Any, vocoder: Any, vocoder_name: str) -> None:
    """ConfigError unless ``vocoder`` takes exactly the feature ``model`` predicts (rate, feature, parameters)."""
    if int(vocoder.sample_rate) != int(model.sample_rate):
        raise ConfigError(f"--vocoder {vocoder_name}: works at {vocoder.sample_rate} Hz, the model speaks at "
                          f"{model.sample_rate} Hz")
    theirs = getattr(vocoder, "feature", "log_mel")
    if theirs != model.feature:
        raise ConfigError(f"--vocoder {vocoder_name}: takes '{theirs}', the model predicts '{model.feature}'")
    want, have = dict(model.feature_params), dict(vocoder.feature_params)
    for key in sorted(want):
        if have.get(key) != want[key]:
            raise ConfigError(f"--vocoder {vocoder_name}: its log-mel has {key} = {have.get(key)!r}, the model's "
                              f"{want[key]!r}; use a vocoder trained on the model's feature")


class LoadedTTS:
    """A text-to-speech model and its vocoder loaded once, for repeated calls (the CLI, the API).

    Args:
        model: run folder or checkpoint folder of a text-to-speech model.
        vocoder: shipped name, run folder or checkpoint folder of a vocoder of the model's feature (None: the
            model's own audio when it makes audio, else the shipped ``default``).
        device: torch device.

    ``vocoder`` / ``vocoder_config`` / ``vocoder_folder`` are None when the model makes the audio itself.
    """

    def __init__(self, model: str | os.PathLike, vocoder: str | os.PathLike | None = None,
                 device: str = "cpu") -> None:
        from speechgen.inference.loading import load
        from speechgen.inference.vocode import load_vocoder
        from speechgen.models.roles import TEXT_TO_SPEECH, makes_audio

        self.net, self.info = load(model, TEXT_TO_SPEECH, device)
        self.vocoder: Any = None
        self.vocoder_config: dict[str, Any] | None = None
        self.vocoder_folder: Path | None = None
        if vocoder is not None or not makes_audio(self.net):
            vocoder = "default" if vocoder is None else vocoder
            self.vocoder, self.vocoder_config, self.vocoder_folder = load_vocoder(vocoder, device)
            check_pair(self.net, self.vocoder, str(vocoder))
        self.device = device
        self.sample_rate = int(self.net.sample_rate)
        self.voices: list[str] = [str(v) for v in (self.info.config.get("speakers") or [])]

    def speaker_index(self, speaker: str | int | None) -> int | None:
        """The voice index of ``speaker`` (a voice name of the training data or an index; None: the first voice of
        a multi-speaker model); None for a one-voice model (ConfigError when a speaker is asked of it)."""
        n = int(self.net.n_speakers)
        if not n:
            if speaker is not None:
                raise ConfigError(f"--speaker: '{self.info.model}' at {self.info.folder} speaks with one voice")
            return None
        if speaker is None:
            return 0
        if isinstance(speaker, str) and speaker in self.voices:
            return self.voices.index(speaker)
        try:
            index = int(speaker)
        except (TypeError, ValueError):
            index = -1
        if self.voices:  # the table may have more rows than trained voices: the rest were never trained
            n = min(n, len(self.voices))
        if not 0 <= index < n:
            names = ", ".join(self.voices[:8]) + (", ..." if len(self.voices) > 8 else "")
            raise ConfigError(f"--speaker: {speaker!r} is not a voice of this model (an index in 0..{n - 1}"
                              + (f" or a name: {names}" if names else "") + ")")
        return index

    def speaker_name(self, index: int | None) -> str:
        if index is None:
            return ""
        return self.voices[index] if index < len(self.voices) else str(index)

    def speak(self, texts: Sequence[str], speaker: str | int | None | Sequence[str | int | None] = None,
              seed: int = 0, batch: int = DEFAULT_BATCH, max_steps: int | None = None) -> Spoken:
        """Speak ``texts`` (see the module docstring) in one voice (``speaker``), or each in its own (a list of
        one speaker per text)."""
        import torch

        from speechgen.data.text import symbol_set
        from speechgen.inference.vocode import synthesize

        digits = parse_texts(texts)
        if batch < 1:
            raise ConfigError(f"batch: must be >= 1, got {batch}")
        if isinstance(speaker, (list, tuple)):
            if len(speaker) != len(digits):
                raise ConfigError(f"speaker: {len(speaker)} speakers for {len(digits)} texts")
            voices = [self.speaker_index(v) for v in speaker]
        else:
            voices = [self.speaker_index(speaker)] * len(digits)
        symbols = symbol_set(self.net.symbols)
        encoded = [symbols.encode_digits(d) for d in digits]
        gen = torch.Generator().manual_seed(int(seed))
        mels: list[np.ndarray] = []
        linears: list[np.ndarray] = []
        alignments: list[np.ndarray] = []
        stopped: list[bool] = []
        with torch.inference_mode():
            for lo in range(0, len(encoded), batch):
                chunk = encoded[lo: lo + batch]
                lengths = torch.tensor([len(c) for c in chunk])
                tokens = torch.zeros(len(chunk), int(lengths.max()), dtype=torch.long)
                for i, c in enumerate(chunk):
                    tokens[i, : len(c)] = torch.tensor(c)
                chunk_voices = voices[lo: lo + batch]
                spk = None if chunk_voices[0] is None else torch.tensor(chunk_voices, dtype=torch.long)
                out = self.net.speak(tokens.to(self.device), lengths, spk, generator=gen, max_steps=max_steps)
                for i in range(len(chunk)):
                    mels.append(out.mel[i, :, : int(out.lengths[i])].float().cpu().numpy())
                    stopped.append(bool(out.stopped[i]))
                    steps = -(-int(out.lengths[i]) // int(self.net.frames_per_step))  # decoder steps of r frames
                    alignments.append(out.alignments[i, :steps, : len(chunk[i])].float().cpu().numpy())
                    if self.vocoder is None:
                        linears.append(out.linear[i, :, : int(out.lengths[i])].float().cpu().numpy())
        audio, warnings = [], []
        pad = float(np.log(self.net.feature_params["eps"]))
        for i, mel in enumerate(mels):
            if self.vocoder is None:  # the model's own audio
                audio.append(self.net.to_audio(linears[i], seed=seed))
            else:
                if mel.shape[-1] < MIN_FRAMES:
                    mel = np.pad(mel, ((0, 0), (0, MIN_FRAMES - mel.shape[-1])), constant_values=pad)
                audio.append(synthesize(self.vocoder, mel, seed=seed))
            if not stopped[i]:
                warnings.append(f"text {i + 1} ({digits_text(digits[i])!r}): the stop token never fired; the speech "
                                f"was cut at {mels[i].shape[-1]} frames (the step cap) and is likely garbled")
        return Spoken(audio, self.sample_rate, [digits_text(d) for d in digits], digits,
                      [self.speaker_name(v) for v in voices], stopped, mels, alignments, warnings)


def speak(model: str | os.PathLike | LoadedTTS, texts: Sequence[str],
          speaker: str | int | None | Sequence[str | int | None] = None,
          vocoder: str | os.PathLike | None = None, seed: int = 0, device: str = "cpu", batch: int = DEFAULT_BATCH,
          max_steps: int | None = None) -> Spoken:
    """Speak ``texts`` with a text-to-speech model (a name or folder, loaded for this call with ``vocoder``, None:
    the model's own audio or the shipped ``default``; or a :class:`LoadedTTS`). Texts are checked before anything
    is loaded."""
    parse_texts(texts)
    tts = model if isinstance(model, LoadedTTS) else LoadedTTS(model, vocoder, device)
    return tts.speak(texts, speaker, seed, batch, max_steps)


def write_spoken(out: str | os.PathLike, spoken: Spoken, extra: Sequence[dict[str, Any]] | None = None) -> Path:
    """Write ``out/NNNN.wav`` (one per text, in order) and ``out/manifest.csv`` (path, label: the digit of a
    one-digit text, text, speaker, ...; ``extra``: more columns per clip) into an existing folder (the caller stages
    it); returns ``out``."""
    from speechgen.audio import io as audio_io
    from speechgen.data.manifest import Manifest, make_row

    out = Path(out)
    rows = []
    for i, (audio, text, digits, voice) in enumerate(zip(spoken.audio, spoken.texts, spoken.digits,
                                                          spoken.speakers)):
        name = f"{i:04d}.wav"
        peak = float(np.max(np.abs(audio))) if audio.size else 0.0
        audio_io.save(out / name, audio / peak * 0.95 if peak > 0.95 else audio, spoken.sample_rate)
        rows.append(make_row(name, label=digits[0] if len(digits) == 1 else None, text=text, speaker=voice,
                             engine="speechgen", split="test", duration=len(audio) / spoken.sample_rate,
                             sample_rate=spoken.sample_rate, stopped=int(spoken.stopped[i]),
                             **(dict(extra[i]) if extra is not None else {})))
    Manifest(out.resolve(), rows).write()
    return out
