"""What a model can do: one :class:`typing.Protocol` per role, and the one function that answers "which roles does
this model (or checkpoint) play".

A model class declares its roles, never guessed from its methods elsewhere: a class attribute ``roles`` (a tuple of
the names below), or a classmethod ``roles_for(kwargs)`` when the role depends on how the model is built (a WaveNet
with mel conditioning is a vocoder, without it a sampler). The protocols state the methods each role needs; a test
checks every registered model against the protocols of the roles it declares.

Roles now: :data:`SAMPLER`, :data:`VOCODER`, :data:`LATENT_CODEC`, :data:`CLASSIFIER`, :data:`TEXT_TO_SPEECH`,
:data:`TRANSCRIBER`, :data:`SEPARATOR`, :data:`COUNTER`.
Reserved for the coming families: :data:`CONVERTER`, :data:`SPEAKER_ENCODER`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, NamedTuple, Protocol, runtime_checkable

import torch

SAMPLER = "sampler"
VOCODER = "vocoder"
LATENT_CODEC = "latent_codec"
CLASSIFIER = "classifier"
TEXT_TO_SPEECH = "text_to_speech"
CONVERTER = "converter"
SEPARATOR = "separator"
SPEAKER_ENCODER = "speaker_encoder"
TRANSCRIBER = "transcriber"
COUNTER = "counter"


@runtime_checkable
class Sampler(Protocol):
    """Draws items from its prior: ``out_shape`` is one item's shape, ``n_classes`` its labels (0: none)."""

    n_classes: int

    @property
    def out_shape(self) -> tuple[int, ...]: ...

    def sample(self, n: int, labels: torch.Tensor | None = None, generator: torch.Generator | None = None,
               condition: torch.Tensor | None = None) -> torch.Tensor: ...


@runtime_checkable
class Vocoder(Protocol):
    """Turns its conditioning feature ``[B, n_mels, frames]`` (a log-mel, or ResGAN's MFCC + F0) into audio
    ``[B, frames · hop_length]`` at ``sample_rate``; ``feature`` / ``feature_params`` say how to analyse audio."""

    sample_rate: int
    hop_length: int
    n_mels: int
    feature: str
    feature_params: dict[str, Any]

    def infer(self, mel: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class LatentCodec(Protocol):
    """Encodes items to point codes ``[B, latent_dim]`` and decodes codes to items (latent arithmetic)."""

    latent_dim: int

    def embed(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor: ...

    def decode(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor: ...


@runtime_checkable
class Classifier(Protocol):
    """Labels waveforms ``[B, samples]``: class probabilities and an embedding per clip (the judge)."""

    sample_rate: int

    def probs_and_features(self, wave: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]: ...


class Speech(NamedTuple):
    """What :meth:`TextToSpeech.speak` returns for a batch of ``B`` symbol sequences.

    mel: the vocoder's feature ``[B, n_mels, frames]``, each item padded past its length with the feature's
    silence value. lengths: ``[B]`` frames of each item. stopped: ``[B]`` bool, True where the model's stop token
    fired, False where decoding was cut at the step cap (the speech is then likely wrong: say so). alignments:
    ``[B, steps, L]`` attention weights of each decoder step over the symbols. linear: what a model that makes its
    own audio (``makes_audio``, see :func:`makes_audio`) voices with its ``to_audio`` (Tacotron: log-magnitudes
    ``[B, n_bins, frames]``, the same lengths); None for the others.
    """

    mel: torch.Tensor
    lengths: torch.Tensor
    stopped: torch.Tensor
    alignments: torch.Tensor
    linear: torch.Tensor | None = None


@runtime_checkable
class TextToSpeech(Protocol):
    """Speaks symbol sequences ``[B, L]`` (indices of the symbol set named ``symbols``, see
    :mod:`speechgen.data.text`) as frames of the vocoder feature ``feature`` / ``feature_params`` (``n_mels`` rows,
    one frame per ``hop_length`` samples at ``sample_rate``), for one of ``n_speakers`` voices (0: one voice).

    Optional: a model that also makes its own audio (Tacotron's linear spectrogram and Griffin-Lim) has a class
    attribute ``makes_audio = True``, fills ``Speech.linear`` and offers ``to_audio(linear [.., frames], seed) ->
    float32 audio`` for one item; the others need a vocoder of their feature (:func:`makes_audio`)."""

    sample_rate: int
    hop_length: int
    n_mels: int
    feature: str
    feature_params: dict[str, Any]
    symbols: str
    n_speakers: int

    def speak(self, symbols: torch.Tensor, lengths: torch.Tensor | None = None,
              speakers: torch.Tensor | None = None, generator: torch.Generator | None = None,
              max_steps: int | None = None) -> Speech: ...


def makes_audio(model: Any) -> bool:
    """Whether a text-to-speech model makes its own audio (``makes_audio`` and ``to_audio``; see
    :class:`TextToSpeech`), so that it needs no vocoder."""
    return bool(getattr(model, "makes_audio", False)) and callable(getattr(model, "to_audio", None))


@runtime_checkable
class Converter(Protocol):
    """Reserved: converts features of one voice into those of a target voice (the voice-conversion issue)."""

    def convert(self, x: torch.Tensor, target: torch.Tensor, **options: Any) -> torch.Tensor: ...


@runtime_checkable
class Separator(Protocol):
    """Splits mixtures ``[B, samples]`` at ``sample_rate`` into ``n_sources`` sources ``[B, n_sources, samples]``
    (one model per source count; docs/separation.md)."""

    sample_rate: int
    n_sources: int

    def separate(self, mixture: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class SpeakerEncoder(Protocol):
    """Reserved: one speaker embedding per utterance (the voice-cloning issue)."""

    def embed_speaker(self, x: torch.Tensor) -> torch.Tensor: ...


@runtime_checkable
class Transcriber(Protocol):
    """Transcribes spoken digit strings: waveforms ``[B, samples]`` at ``sample_rate`` (``lengths``: samples of each
    clip) → per clip its digits (0-9, possibly none) and a probability."""

    sample_rate: int

    def transcribe(self, wave: torch.Tensor, lengths: torch.Tensor | None = None,
                   ) -> list[tuple[list[int], float]]: ...


@runtime_checkable
class Counter(Protocol):
    """Counts the voices in mixtures ``[B, samples]`` at ``sample_rate``: one of ``counts`` per mixture (how
    ``speechgen separate`` picks the separator of that count)."""

    sample_rate: int
    counts: tuple[int, ...]

    def count(self, mixture: torch.Tensor) -> torch.Tensor: ...


#: role name → its protocol
PROTOCOLS: dict[str, type] = {
    SAMPLER: Sampler, VOCODER: Vocoder, LATENT_CODEC: LatentCodec, CLASSIFIER: Classifier,
    TEXT_TO_SPEECH: TextToSpeech, CONVERTER: Converter, SEPARATOR: Separator, SPEAKER_ENCODER: SpeakerEncoder,
    TRANSCRIBER: Transcriber, COUNTER: Counter,
}
#: what each role lets a user do, for listings (``speechgen models``, ``speechgen info``)
VERBS: dict[str, str] = {
    SAMPLER: "sample", VOCODER: "vocode", LATENT_CODEC: "transform", CLASSIFIER: "classify",
    TEXT_TO_SPEECH: "tts", CONVERTER: "convert", SEPARATOR: "separate", SPEAKER_ENCODER: "embed",
    TRANSCRIBER: "transcribe", COUNTER: "separate --counter",
}


def roles_of(cls: type, kwargs: Mapping[str, Any] | None = None) -> tuple[str, ...]:
    """The roles a model of class ``cls`` built with ``kwargs`` plays (its ``roles_for(kwargs)``, else its
    ``roles``; ``()`` for a class that declares none)."""
    pick = getattr(cls, "roles_for", None)
    roles = pick(dict(kwargs or {})) if callable(pick) else getattr(cls, "roles", ())
    unknown = [r for r in roles if r not in PROTOCOLS]
    if unknown:
        raise TypeError(f"{cls.__name__}: unknown role {unknown[0]!r} (known: {', '.join(PROTOCOLS)})")
    return tuple(roles)
