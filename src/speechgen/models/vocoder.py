"""What every GAN vocoder (``hifigan``, ``melgan``, ...) shares: the container contract and its checks.

A vocoder is registered as one container :class:`GANVocoder` holding

- ``generator``: ``nn.Module`` mapping a log-mel ``[B, n_mels, frames]`` to audio ``[B, 1, frames * hop_length]``;
- ``discriminator``: ``nn.Module`` mapping audio ``[B, 1, T]`` to ``(logits, features)`` (lists over its
  sub-discriminators; see :mod:`speechgen.nn.vocoder_discriminators`), or None when built with
  ``discriminators=False`` (inference: ``speechgen vocode`` / ``export`` load only the generator's weights);
- ``sample_rate``, ``hop_length`` (= the product of the upsampling rates), ``n_mels`` and ``feature_params``:
  the parameters of the :class:`~speechgen.data.features.LogMel` feature the generator expects (stored in every
  checkpoint's config);
- :meth:`infer` (mel → audio, no gradients) and :meth:`remove_weight_norm` (for inference and export).

Subclasses build ``generator`` / ``discriminator`` and may override :meth:`upsampling` when their hop is not
the product of ``upsample_rates``. :meth:`describe` validates the constructor kwargs without building layers
(the ``vocoder`` training scheme uses it when a recipe loads).

Two optional hooks, both off by default:

- :attr:`feature` (class attribute): the registered :mod:`speechgen.data.features` name of the conditioning input
  (``"log_mel"``; ResGAN uses ``"mfcc_f0"``). A vocoder whose input depends on its kwargs overrides
  :meth:`feature_name` and passes the name to ``__init__``, which sets it on the instance (the iSTFT vocoder's
  ``f0_prior`` takes ``"log_mel_f0"``). ``feature_params`` are that feature's parameters, ``n_mels`` is the number
  of input channels (:meth:`input_channels`: the feature's rows, the mel bands of a log-mel). Training data,
  ``speechgen vocode`` and ``export`` compute / document the input with the instance's ``feature``.
- a supervised stage (:attr:`supervised_stage`, :meth:`supervised_loss`): a model trained with a loss of its own
  (ResGAN's least-squares pulse model, a pre-training stage: :attr:`pretraining`; the iSTFT vocoder's
  Griffin-Lim variant, a finished vocoder) returns True while built for that stage; the ``vocoder`` scheme then
  minimises :meth:`supervised_loss` instead of running the GAN step.
"""

from __future__ import annotations

import contextlib

import dataclasses
import inspect
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from speechgen.data.features import FEATURES, LogMel
from speechgen.errors import ConfigError
from speechgen.nn.vocoder_blocks import has_weight_norm, remove_weight_norm
from speechgen.models.roles import VOCODER


@dataclass(frozen=True)
class VocoderSpec:
    """Derived facts of a vocoder's kwargs: rate, hop, bands and the full log-mel parameters."""

    sample_rate: int
    hop_length: int
    n_mels: int
    feature_params: dict[str, Any]


def feature_params_for(feature: str, params: Mapping[str, Any] | None, sample_rate: int,
                       where: str = "feature_params") -> dict[str, Any]:
    """Complete and validate the parameters of registered feature ``feature`` (its defaults; for ``log_mel``
    those of docs/data.md, Features) for ``sample_rate``; ConfigError naming ``where.FIELD``."""
    if feature not in FEATURES:
        raise ConfigError(f"feature: unknown feature '{feature}' (choose from {', '.join(sorted(FEATURES))})")
    cls = FEATURES[feature]
    params = dict(params or {})
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(params) - known)
    if unknown:
        raise ConfigError(f"{where}.{unknown[0]}: not a {feature} parameter (known: {', '.join(sorted(known))})")
    try:
        built = cls(**params)
        built.check_rate(int(sample_rate))
    except ConfigError as exc:
        raise ConfigError(f"{where}.{exc}") from exc
    return built.params()


def log_mel_params(params: Mapping[str, Any] | None, sample_rate: int, where: str = "feature_params",
                   ) -> dict[str, Any]:
    """Complete and validate log-mel parameters (defaults of docs/data.md, Features) for ``sample_rate``; ConfigError
    naming ``where.FIELD``."""
    return feature_params_for(LogMel.name, params, sample_rate, where)


def check_mel(mel: torch.Tensor, n_mels: int) -> torch.Tensor:
    """``mel`` as ``[B, n_mels, frames]`` (a 2-D ``[n_mels, frames]`` gains a batch axis); ConfigError when the
    number of bands is wrong."""
    if mel.ndim == 2:
        mel = mel.unsqueeze(0)
    if mel.ndim != 3 or mel.shape[1] != n_mels:
        raise ConfigError(f"mel: expected [batch, {n_mels}, frames] ({n_mels} bands), got {list(mel.shape)}")
    return mel


@contextlib.contextmanager
def torch_threads(n: int | None) -> Iterator[None]:
    """At most ``n`` torch intra-op threads inside the block (None: no limit; the previous count restored after).
    Vocoders whose work is many small FFTs run faster on one thread: a second one only adds synchronisation, and
    on a busy machine OpenMP's waiting made two threads many times slower than one (docs/vocoders.md, Speed)."""
    before = torch.get_num_threads()
    if n is None or before <= n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


class MelToAudio(nn.Module):
    """A generator as exported: mel ``[B, n_mels, T]`` → audio ``[B, T · hop]``.

    Args:
        generator: the vocoder's generator (mel → ``[B, 1, T · hop]``).
    """

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        return self.generator(mel).squeeze(1)


class GANVocoder(nn.Module):
    """Base of registered GAN vocoders (see the module docstring)."""

    roles = (VOCODER,)

    generator: nn.Module
    discriminator: nn.Module | None
    #: registered name of the conditioning feature (:data:`speechgen.data.features.FEATURES`); the class default,
    #: which an instance built with ``feature=`` overrides (see :meth:`feature_name`)
    feature: str = LogMel.name
    #: why the generator cannot be exported to ONNX (None: it can; e.g. ResGAN's numpy analysis)
    onnx_unsupported: str | None = None
    #: the lowest ONNX opset the generator exports with (17 where it runs an STFT)
    onnx_min_opset: int = 11
    #: torch threads of :meth:`infer` (None: torch's own count; see :func:`torch_threads`)
    max_threads: int | None = None
    #: deterministic: ``speechgen vocode`` may synthesise several clips of one length in one call
    batch_vocode: bool = True

    def __init__(self, sample_rate: int, feature_params: Mapping[str, Any] | None, upsample_product: int,
                 upsample_field: str = "upsample_rates", feature: str | None = None) -> None:
        super().__init__()
        if feature is not None and feature != type(self).feature:
            self.feature = feature  # this instance's input (e.g. the iSTFT vocoder's f0_prior: log_mel_f0)
        spec = self._spec(sample_rate, feature_params, upsample_product, upsample_field, self.feature)
        self.sample_rate = spec.sample_rate
        self.hop_length = spec.hop_length
        self.n_mels = spec.n_mels
        self.feature_params = spec.feature_params

    # -- kwargs checks -------------------------------------------------------------------------------------------
    @classmethod
    def _spec(cls, sample_rate: int, feature_params: Mapping[str, Any] | None, product: int, field: str,
              feature: str | None = None) -> VocoderSpec:
        if isinstance(sample_rate, bool) or not isinstance(sample_rate, int) or sample_rate <= 0:
            raise ConfigError(f"sample_rate: expected a positive integer, got {sample_rate!r}")
        feature = cls.feature if feature is None else feature
        params = feature_params_for(feature, feature_params, sample_rate)
        hop = int(params["hop_length"])
        if product != hop:
            raise ConfigError(f"{field}: their product {product} must equal the hop length "
                              f"(feature_params.hop_length {hop}): one generated sample per hop sample")
        return VocoderSpec(int(sample_rate), hop, cls.input_channels(params, feature), params)

    @classmethod
    def feature_name(cls, kwargs: Mapping[str, Any]) -> str:
        """The registered feature the model built from constructor ``kwargs`` takes (default: :attr:`feature`)."""
        return cls.feature

    @classmethod
    def input_channels(cls, feature_params: Mapping[str, Any], feature: str | None = None) -> int:
        """Channels of the conditioning input for complete ``feature_params`` of ``feature`` (default: the class's
        feature): the feature's rows (the mel bands of a log-mel)."""
        return int(FEATURES[cls.feature if feature is None else feature](**feature_params).channels)  # type: ignore[attr-defined]

    @classmethod
    def upsampling(cls, kwargs: Mapping[str, Any]) -> tuple[str, int]:
        """``(field name, total upsampling)`` of a kwargs mapping (default: the product of ``upsample_rates``)."""
        rates = cls._kwarg(kwargs, "upsample_rates")
        if not rates or any(isinstance(r, bool) or not isinstance(r, int) or r < 1 for r in rates):
            raise ConfigError(f"upsample_rates: expected positive integers, got {rates!r}")
        return "upsample_rates", int(math.prod(rates))

    @classmethod
    def feature_hop(cls, kwargs: Mapping[str, Any]) -> tuple[str, Any]:
        """``("feature_params.hop_length", hop)``: the :meth:`upsampling` of vocoders whose output hop is the
        feature's by construction (an iSTFT head, pitch-synchronous pulses). The hop is the kwargs' or the
        feature's default; :meth:`describe` validates it with the other feature parameters."""
        params = cls._kwarg(kwargs, "feature_params") or {}
        hop = params.get("hop_length") if isinstance(params, Mapping) else None
        if hop is None:
            hop = FEATURES[cls.feature_name(kwargs)].__dataclass_fields__["hop_length"].default
        return "feature_params.hop_length", hop

    @classmethod
    def _kwarg(cls, kwargs: Mapping[str, Any], name: str) -> Any:
        if name in kwargs:
            return kwargs[name]
        return inspect.signature(cls.__init__).parameters[name].default

    @classmethod
    def describe(cls, kwargs: Mapping[str, Any]) -> VocoderSpec:
        """Sample rate, hop, bands and log-mel parameters of constructor ``kwargs`` (checked; no layers built).

        ConfigError names the kwarg at fault (``upsample_rates: ...``, ``feature_params.fmax: ...``).
        """
        field, product = cls.upsampling(kwargs)
        return cls._spec(cls._kwarg(kwargs, "sample_rate"), cls._kwarg(kwargs, "feature_params"), product, field,
                         cls.feature_name(kwargs))

    # -- inference -----------------------------------------------------------------------------------------------
    @classmethod
    def inference_kwargs(cls, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        """Constructor kwargs for inference: the generator alone (no discriminators)."""
        return {**kwargs, "discriminators": False}

    def forward(self, mel: torch.Tensor) -> torch.Tensor:
        """Generator output ``[B, 1, frames * hop_length]`` of a log-mel ``[B, n_mels, frames]``."""
        return self.generator(mel)

    def check_mel(self, mel: torch.Tensor) -> torch.Tensor:
        """``mel`` as ``[B, n_mels, frames]``; see :func:`check_mel`."""
        return check_mel(mel, self.n_mels)

    @torch.no_grad()
    def infer(self, mel: torch.Tensor) -> torch.Tensor:
        """Audio ``[B, frames * hop_length]`` (or ``[samples]`` for a 2-D mel), without gradients (in [-1, 1] for
        generators ending in tanh; Parallel WaveGAN's and ResGAN's outputs are linear)."""
        squeeze = mel.ndim == 2
        with torch_threads(self.max_threads):
            x = self.generator(self.check_mel(mel)).squeeze(1)
        return x[0] if squeeze else x

    def export_graph(self) -> tuple[nn.Module, dict[str, Any]]:
        """What ``speechgen export`` writes: a module taking a log-mel ``mel`` ``[batch, n_mels, frames]``, and
        the description of its one output (by default the audio ``[batch, frames · hop_length]``)."""
        return MelToAudio(self.generator).eval(), {
            "name": "audio", "shape": ["batch", f"frames*{self.hop_length}"], "dtype": "float32"}

    @torch.no_grad()
    def export_reference(self, mel: torch.Tensor) -> torch.Tensor:
        """What the exported graph must compute for ``mel`` ``[batch, n_mels, frames]`` (for the export check)."""
        return self.infer(mel)

    def discriminate(self, audio: torch.Tensor) -> tuple[list[torch.Tensor], list[list[torch.Tensor]]]:
        """``(logits, features)`` of the discriminator on audio ``[B, 1, T]`` (or ``[B, T]``)."""
        if self.discriminator is None:
            raise ConfigError("discriminators: this vocoder was built without discriminators (inference only)")
        if audio.ndim == 2:
            audio = audio.unsqueeze(1)
        return self.discriminator(audio)

    def remove_weight_norm(self) -> int:
        """Fold the generator's weight norm into plain weights (in place); return how many were removed."""
        return remove_weight_norm(self.generator)

    @property
    def weight_norm_active(self) -> bool:
        """True while the generator still carries weight-norm parametrisations."""
        return has_weight_norm(self.generator)

    def generator_parameters(self) -> int:
        """Number of generator parameters."""
        return sum(p.numel() for p in self.generator.parameters())

    # -- optional supervised stage -------------------------------------------------------------------------------
    @property
    def supervised_stage(self) -> bool:
        """True when this model is built for a supervised stage: training minimises :meth:`supervised_loss` (no
        discriminator, no GAN losses). False for every plain GAN vocoder."""
        return False

    @property
    def pretraining(self) -> bool:
        """True when this model is built for a stage that pre-trains part of a vocoder (ResGAN's pulse model):
        its output is not the finished vocoder's (benchmarks leave it out). False by default."""
        return False

    def supervised_loss(self, audio: torch.Tensor, features: torch.Tensor,
                        ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """``(loss, named parts)`` of the supervised stage on audio ``[B, T]`` and its input ``[B, C, T / hop]``."""
        raise ConfigError(f"{type(self).__name__}: has no supervised training stage")
