"""Python API for notebooks and scripts: generate, vocode and judge in a few lines.

    from speechgen import api
    clips = api.generate("digits-default", digits=[3, 7], n=2, seed=0)   # shipped model, offline
    scores = api.judge(clips.audio, labels=clips.labels)                  # the shipped judge
    api.save("three.wav", clips.audio[0], clips.sample_rate)

Models are shipped names (``speechgen models``), run folders or checkpoint folders, as on the command line.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np

from speechgen.errors import ConfigError
from speechgen.inference.generate import Generated, Generator

__all__ = ["Generated", "Generator", "generate", "judge", "load", "save", "separate", "speak", "vocode"]


def generate(model: str | os.PathLike = "digits-default", digits: list[int] | None = None, n: int = 1,
             seed: int = 0, griffin_lim_iters: int = 64, device: str = "cpu") -> Generated:
    """``n`` clips per digit (conditional models; default every digit) or ``n`` clips (unconditional models)."""
    return Generator(model, device).generate(digits, n, seed, griffin_lim_iters)


def judge(audio: np.ndarray | list[np.ndarray], sample_rate: int = 16000, labels: Any = None,
          seed: int = 0) -> dict[str, Any]:
    """The judge's metrics (IS, FID with its 95 % bootstrap interval ``fid_ci``, ln mIS, AM, NDB/K; label
    accuracy and FID-class with ``labels``) against the shipped reference statistics, plus ``predicted`` digits and
    their ``probability`` per clip. ``comparable`` says per metric whether the clips reach its minimum n
    (``speechgen.evaluation.metrics.MIN_N``; below it the value is not comparable with the published tables) and
    ``warnings`` holds one line per metric that does not. ``not_digit`` says per clip whether the judge hears no
    spoken digit in it (no speech, speech longer than 1.5 s or several words, or the digit detector's verdict;
    docs/results.md, The judge), ``not_digit_share`` the share of such clips; the metrics are unchanged by it."""
    from speechgen.evaluation.judge import Judge, shipped_reference
    from speechgen.evaluation.metrics import default_is_splits

    j = Judge()
    clips = list(audio) if not isinstance(audio, np.ndarray) or audio.ndim > 1 else [audio]
    analysis = j.analyse(clips, sample_rate)  # probs/feats: exactly Judge.embed's
    probs, feats = analysis.probs, analysis.feats
    y = None if labels is None else np.asarray(labels, dtype=np.int64)
    splits = default_is_splits(len(clips))  # 10 IS splits of a handful of clips would cap IS at their size
    out = shipped_reference(j).score(probs, feats, y, seed=seed, splits=splits)
    out["predicted"] = probs.argmax(1).tolist()
    out["probability"] = probs.max(1).round(4).tolist()
    out["not_digit"] = analysis.not_digit.tolist()
    out["not_digit_share"] = analysis.not_digit_share
    out["detector_version"] = j.detector_version
    out["classifier_version"] = j.version
    return out


def load(model: str | os.PathLike = "digits-default", device: str = "cpu") -> Any:
    """A model loaded once for repeated calls, by what it can do: a :class:`Generator` (``.generate(...)``) for a
    generative model, a :class:`~speechgen.inference.vocode.LoadedVocoder` (``.vocode(...)``) for a vocoder, a
    :class:`~speechgen.inference.speak.LoadedTTS` (``.speak(texts)``, with the shipped vocoder, or the model's own
    audio for one that makes audio) for a text-to-speech model."""
    from speechgen.inference.loading import describe
    from speechgen.inference.vocode import LoadedVocoder
    from speechgen.models import roles

    info = describe(model)
    if roles.VOCODER in info.roles:
        return LoadedVocoder(model, device)
    if roles.SAMPLER in info.roles:
        return Generator(model, device)
    if roles.TEXT_TO_SPEECH in info.roles:
        from speechgen.inference.speak import LoadedTTS

        return LoadedTTS(model, device=device)
    raise ConfigError(f"{model}: a '{info.model}' model; api.load serves generative models and vocoders (and "
                      f"text-to-speech models; this one can: "
                      f"{', '.join(info.verbs) or 'nothing this speechgen knows'})")


def vocode(model: Any, audio: np.ndarray | None = None, sample_rate: int | None = None,
           mel: np.ndarray | None = None, seed: int = 0) -> np.ndarray:
    """Copy synthesis of ``audio`` (analysed like the vocoder's training data; the output has the input's duration)
    or synthesis of a log-mel ``[n_mels, frames]``; float32 audio at the vocoder's rate. ``model`` is a name or
    folder (loaded for this call) or a loaded vocoder from :func:`load` (for repeated calls)."""
    from speechgen.inference.vocode import LoadedVocoder

    voc = model if isinstance(model, LoadedVocoder) else LoadedVocoder(model)
    return voc.vocode(audio, sample_rate, mel, seed)


def speak(model: Any, texts: str | list[str], speaker: str | int | None = None,
          vocoder: str | os.PathLike | None = None, seed: int = 0, device: str = "cpu") -> Any:
    """Speak digit strings (``"4 2 7"``, ``"four two seven"``) with a text-to-speech model (a run or checkpoint
    folder, loaded with ``vocoder`` for this call, None: the model's own audio when it makes audio, else the
    shipped ``default``; or a loaded model from :func:`load`): a
    :class:`~speechgen.inference.speak.Spoken` with ``audio`` (one float32 clip per text), ``sample_rate``,
    ``texts``, ``stopped`` and ``warnings`` (clips whose stop token never fired). ``speaker``: a voice name or
    index of a multi-speaker model."""
    from speechgen.inference.speak import speak as speak_texts

    return speak_texts(model, [texts] if isinstance(texts, str) else list(texts), speaker, vocoder, seed, device)


def separate(model: Any, mixture: np.ndarray, sample_rate: int, device: str = "cpu", counter: Any = None,
             ) -> np.ndarray:
    """Sources ``[K, samples]`` (float32, at the model's rate, each scaled to the mixture's peak) of a mono
    mixture at ``sample_rate`` with a separator (a run or checkpoint folder, loaded for this call, or a model loaded
    with :func:`speechgen.inference.separate.load_separator`), or with a list of them (one per voice count) and a
    speaker ``counter`` (folder or loaded) that picks one: ``K`` is then the counted voices (one voice: the mixture
    itself). Long inputs go in overlapping windows that keep one source order
    (:func:`speechgen.inference.separate.separate_long`)."""
    from speechgen.audio.io import resample, validate
    from speechgen.inference.separate import Separators, load_counter, load_separator

    def loaded(m: Any, load: Any) -> Any:
        return load(m, device)[0] if isinstance(m, (str, os.PathLike)) else m

    models = [loaded(m, load_separator) for m in (model if isinstance(model, (list, tuple)) else [model])]
    run = Separators(models, None if counter is None else loaded(counter, load_counter))
    x = validate(mixture, "mixture")
    x = x.mean(axis=0) if x.ndim == 2 else x
    return run(resample(x, int(sample_rate), run.sample_rate))


def save(path: str | os.PathLike, audio: np.ndarray, sample_rate: int) -> None:
    """Write one clip as a WAV file (atomically)."""
    from speechgen.audio import io as audio_io

    audio_io.save(path, np.asarray(audio, dtype=np.float32), sample_rate)
