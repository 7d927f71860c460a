"""The ``tts`` scheme: text-to-speech models (``tacotron2``, ``tacotron``) trained teacher-forced on digit strings and
their log-mels, the feature a vocoder turns into audio (and, for Tacotron, the linear log-magnitude spectrogram its
post-net predicts and Griffin-Lim voices).

Sections: ``data`` (:class:`TTSData`), ``train`` (:class:`TTSTrain`), ``optim``
(:class:`~speechgen.training.optim.OptimConfig`; ``grad_clip`` is the gradient-norm clip, 1.0 in the recipes) and
``losses`` (:class:`TTSLosses`). Checked when the recipe loads, naming the field: the model builds, the vocoder of
the sample rounds (``train.vocoder``) exists and takes exactly the model's feature (sample rate and every log-mel
parameter); when the run starts: a multi-speaker model has a voice for every train speaker.

**Data** (:class:`~speechgen.data.text_speech.TextSpeechDataModule`): whole clips of the manifest's train split
whose digit string is not held out (``data.held_out_fraction`` of all strings, by a stable hash) train; the train
split's held-out strings (the same voices saying strings never trained on) validate; the test split (other voices)
tests a one-voice model (a multi-speaker model has no embedding for unseen voices: no test). The tokens are the
model's symbol set (``model.kwargs.symbols``), the targets its log-mel (``model.kwargs.feature_params``) and
whatever else the model declares in ``extra_targets`` (batch key → feature: Tacotron's ``linear``, the
``log_magnitude`` of ``model.kwargs.linear_params``, cached like the log-mel).

**A training step** runs the model teacher-forced and minimises

    L = mel(before post-net) + mel(after post-net) + stop_weight · BCE(stop) + g(step) · guided attention

(Tacotron: ``mel + linear_weight · linear + ...``; its post-net predicts no mel)

- mel: the mean squared (``losses.mel_loss: mse``, Tacotron 2's) or absolute (``l1``, Tacotron's) error over the
  true frames of each item (padding masked);
- linear (each extra target of the model): the mean absolute error of the log-magnitudes over the true frames and
  all bins, plus ``losses.linear_low_weight`` times that over the bins below ``losses.linear_low_hz`` (the
  low-frequency emphasis of Tacotron's implementations; 0: off);
- stop: binary cross-entropy of the stop logit of every true decoder step, the target 1 at each item's last step
  (the step holding its last frame) and 0 before, positives weighted by ``losses.stop_pos_weight``;
- guided attention (:func:`speechgen.losses.attention.guided_attention_loss`, Tachibana et al. 2018, width
  ``losses.guided_attention_width``): the attention mass off the diagonal, averaged over true decoder steps, with
  weight ``g(step) = guided_attention · 0.5 ** (step / guided_attention_half_life)`` (half-life 0: constant).

Logged: ``train/loss`` and its parts ``train/mel``, ``train/mel_postnet`` (Tacotron: ``train/linear``),
``train/stop``, ``train/guided_attention``; validation (``val/...``, ``test/...``) the same teacher-forced parts, plus
``attention_diagonality`` (1 - the guided-attention loss at width 0.2: the share of attention mass near the
diagonal) and ``attention_focus`` (the mean largest attention weight per decoder step: 1 is sharp).

**Sample rounds** (every ``train.sample_every`` steps, and never consuming the global random state): the first
``train.n_samples`` valid items are spoken freely (:meth:`~speechgen.models.tacotron2.Tacotron2.speak`, pre-net
dropout seeded with the recipe's seed) into ``RUN/samples/step-NNNNNNN/``: ``NNNN.wav`` by ``train.vocoder``
(null: the model's own audio when it makes audio, Tacotron's Griffin-Lim; else no audio), ``manifest.csv`` (path, text, speaker), ``grid.png`` (each reference log-mel beside the spoken
one), ``alignment.png`` (teacher-forced beside free-running attention; encoder symbols up, decoder steps across)
and ``metrics.json`` (per clip: frames, reference frames, whether the stop token fired, diagonality and focus of
the free-running alignment). ``speechgen report RUN`` shows ``grid.png`` and ``alignment.png``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F

from speechgen.errors import CheckpointError, ConfigError
from speechgen.losses.attention import DEFAULT_WIDTH, diagonality, focus, guided_attention_loss
from speechgen.models.roles import makes_audio
from speechgen.models.tacotron import Tacotron
from speechgen.models.tacotron2 import Tacotron2
from speechgen.nn.attention import length_mask
from speechgen.training.adversarial import weighted_sum
from speechgen.training.optim import OptimConfig, TrainSection, build_optimizer, check_fields, check_finite

#: the models this scheme trains (registry name → class; the registry maps the same names)
TTS_MODELS: dict[str, type] = {"tacotron2": Tacotron2, "tacotron": Tacotron}
#: a model the scheme trains (either class; they share the teacher-forced and free-running interfaces)
TTSModel = Tacotron2 | Tacotron
MIN_VOCODER_FRAMES = 4  # the shortest mel a vocoder is given in sample rounds (padded with silence up to it)


# ------------------------------------------------------------------------------------------------ sections
@dataclass
class TTSData:
    """``data:`` section.

    manifest: corpus manifest CSV (or its folder) whose rows have digit strings in ``text`` (``speechgen corpus
    digits --strings N``). held_out_fraction: share of the digit strings never trained on; the train voices saying
    them are the valid split (0.05: about 400 of 8 000 strings). batch_size: clips per batch **per device**.
    num_workers: loader processes. train_strings: train on at most this many of the trained strings' clips (a fixed
    share of every voice; null: all), for a learning curve (docs/tts.md, How many strings).
    """

    manifest: str
    held_out_fraction: float = 0.05
    batch_size: int = 32
    num_workers: int = 0
    train_strings: int | None = None

    def validate(self, where: str) -> None:
        if self.train_strings is not None and self.train_strings < 1:
            raise ConfigError(f"{where}.train_strings: expected a positive number of clips or null, got "
                              f"{self.train_strings}")
        check_fields(self, where, positive=("batch_size",), non_negative=("num_workers",))
        if not 0.0 < self.held_out_fraction < 1.0:
            raise ConfigError(f"{where}.held_out_fraction: expected a share in (0, 1) (it makes the valid split), "
                              f"got {self.held_out_fraction}")


@dataclass
class TTSTrain(TrainSection):
    """``train:`` section (see :class:`~speechgen.training.optim.TrainSection`).

    sample_every: speak ``n_samples`` valid strings every this many steps into ``RUN/samples/`` (0: off).
    vocoder: shipped name, run folder or checkpoint folder of the vocoder that voices the sample rounds (its
    feature must be the model's; null: log-mels and plots only).
    """

    max_steps: int = 100000
    val_every: int = 2000
    checkpoint_every: int = 2000
    log_every: int = 50
    sample_every: int = 5000
    n_samples: int = 4
    vocoder: str | None = "default"

    def validate(self, where: str) -> None:
        super().validate(where)
        if self.sample_every < 0 or self.n_samples <= 0:
            raise ConfigError(f"{where}: sample_every must be >= 0 and n_samples > 0")
        if self.vocoder is not None and not str(self.vocoder).strip():
            raise ConfigError(f"{where}.vocoder: expected a vocoder name or folder, or null; got an empty string")


@dataclass
class TTSLosses:
    """``losses:`` section (see the module docstring).

    mel_loss: "mse" (Tacotron 2) or "l1" (Tacotron), on the frames before and after the post-net. stop_weight:
    weight of the stop-token BCE. stop_pos_weight: weight of its positive (last-step) targets, one per utterance
    among tens of steps. guided_attention: initial weight of the guided-attention loss (0: off).
    guided_attention_width: its g (0.2). guided_attention_half_life: steps over which its weight halves (0:
    constant). linear_weight: weight of the L1 loss of the model's extra targets (Tacotron's linear
    log-magnitudes; unused by Tacotron 2). linear_low_hz, linear_low_weight: that loss adds ``linear_low_weight``
    times the L1 of the bins below ``linear_low_hz`` (0: no emphasis).
    """

    mel_loss: Literal["mse", "l1"] = "mse"
    stop_weight: float = 1.0
    stop_pos_weight: float = 1.0
    guided_attention: float = 0.0
    guided_attention_width: float = DEFAULT_WIDTH
    guided_attention_half_life: int = 0
    linear_weight: float = 1.0
    linear_low_hz: float = 3000.0
    linear_low_weight: float = 0.0

    def validate(self, where: str) -> None:
        for k in ("stop_weight", "guided_attention", "guided_attention_half_life", "linear_weight", "linear_low_hz",
                  "linear_low_weight"):
            if getattr(self, k) < 0:
                raise ConfigError(f"{where}.{k}: must be >= 0, got {getattr(self, k)}")
        for k in ("stop_pos_weight", "guided_attention_width"):
            if not getattr(self, k) > 0:
                raise ConfigError(f"{where}.{k}: must be > 0, got {getattr(self, k)}")

    def guided_weight(self, step: int) -> float:
        """The guided-attention weight at training step ``step``."""
        if self.guided_attention_half_life <= 0:
            return self.guided_attention
        return self.guided_attention * 0.5 ** (step / self.guided_attention_half_life)


# ------------------------------------------------------------------------------------------------ losses
def step_lengths(frame_lengths: torch.Tensor, r: int) -> torch.Tensor:
    """Decoder steps of utterances of ``frame_lengths`` frames at ``r`` frames per step: ``ceil(T / r)``."""
    return torch.div(frame_lengths + r - 1, r, rounding_mode="floor")


def masked_mel_loss(pred: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor, kind: str) -> torch.Tensor:
    """Mean squared (``mse``) or absolute (``l1``) error of ``[B, n_mels, T]`` frames over the true frames."""
    keep = (~length_mask(lengths.to(pred.device), pred.shape[-1]))[:, None, :].to(pred.dtype)
    diff = (pred - target) * keep
    err = diff.pow(2) if kind == "mse" else diff.abs()
    return err.sum() / (keep.sum() * pred.shape[1]).clamp_min(1.0)


def masked_spectral_l1(pred: torch.Tensor, target: torch.Tensor, lengths: torch.Tensor, low_bins: int = 0,
                       low_weight: float = 0.0) -> torch.Tensor:
    """Mean absolute error of ``[B, bins, T]`` spectrogram frames over the true frames, plus ``low_weight`` times
    that over the first ``low_bins`` bins (0: no emphasis)."""
    loss = masked_mel_loss(pred, target, lengths, "l1")
    if low_bins > 0 and low_weight > 0:
        loss = loss + low_weight * masked_mel_loss(pred[:, :low_bins], target[:, :low_bins], lengths, "l1")
    return loss


def low_bins_of(params: dict[str, Any], sample_rate: int, hz: float) -> int:
    """Bins of an STFT of ``params["n_fft"]`` at ``sample_rate`` whose centre frequency lies below ``hz``."""
    n_fft = int(params["n_fft"])
    return min(n_fft // 2 + 1, int(np.ceil(hz * n_fft / sample_rate)))


def stop_loss(logits: torch.Tensor, steps: torch.Tensor, pos_weight: float) -> torch.Tensor:
    """BCE of stop logits ``[B, S]`` over each item's true ``steps``: target 1 at its last step, 0 before."""
    idx = torch.arange(logits.shape[1], device=logits.device)[None, :]
    steps = steps.to(logits.device)[:, None]
    target = (idx == steps - 1).to(logits.dtype)
    keep = (idx < steps).to(logits.dtype)
    bce = F.binary_cross_entropy_with_logits(logits, target, reduction="none",
                                             pos_weight=torch.tensor(pos_weight, device=logits.device))
    return (bce * keep).sum() / keep.sum().clamp_min(1.0)


# ------------------------------------------------------------------------------------------------ Lightning module
class TTSModule(L.LightningModule):
    """LightningModule of the ``tts`` scheme (see the module docstring)."""

    def __init__(self, model: TTSModel, model_spec: dict[str, Any], data: TTSData, train: TTSTrain,
                 optim: OptimConfig, losses: TTSLosses, checkpoint_extra: dict[str, Any] | None = None) -> None:
        super().__init__()
        self.model = model
        self.model_spec = model_spec
        self.data_cfg, self.train_cfg, self.optim_cfg, self.loss_cfg = data, train, optim, losses
        self.checkpoint_extra = dict(checkpoint_extra or {})
        self._vocoder: Any = None

    # -- losses --------------------------------------------------------------------------------------------------
    def _inputs(self, batch: dict[str, torch.Tensor], known_voices: bool = False) -> dict[str, torch.Tensor] | None:
        """The batch's model inputs (items of voices without an embedding dropped with ``known_voices``; None when
        none is left)."""
        extra = tuple(self.extra_targets())
        out = {k: batch[k] for k in ("tokens", "tokens_lengths", "features", "lengths", "speaker") + extra}
        if self.model.n_speakers and known_voices:
            keep = out["speaker"] >= 0
            if not bool(keep.any()):
                return None
            if not bool(keep.all()):
                out = {k: v[keep] for k, v in out.items()}
                out["tokens"] = out["tokens"][:, : int(out["tokens_lengths"].max())]
                for k in ("features",) + extra:
                    out[k] = out[k][..., : int(out["lengths"].max())]
        return out

    def extra_targets(self) -> dict[str, tuple[str, dict[str, Any]]]:
        """The model's targets besides the log-mel (batch key → feature name, parameters; none for Tacotron 2)."""
        return dict(getattr(self.model, "extra_targets", None) or {})

    def loss_parts(self, x: dict[str, torch.Tensor]) -> tuple[dict[str, torch.Tensor], Any, torch.Tensor]:
        """The loss parts of a batch, the model's outputs and the decoder steps of each item."""
        speakers = x["speaker"] if self.model.n_speakers else None
        out = self.model(x["tokens"], x["tokens_lengths"], x["features"], x["lengths"], speakers)
        steps = step_lengths(x["lengths"], self.model.frames_per_step)
        cfg = self.loss_cfg
        parts = {"mel": masked_mel_loss(out.mel, x["features"], x["lengths"], cfg.mel_loss)}
        if hasattr(out, "mel_postnet"):
            parts["mel_postnet"] = masked_mel_loss(out.mel_postnet, x["features"], x["lengths"], cfg.mel_loss)
        for key, (_, params) in self.extra_targets().items():
            low = low_bins_of(params, self.model.sample_rate, cfg.linear_low_hz)
            parts[key] = masked_spectral_l1(getattr(out, key), x[key], x["lengths"], low, cfg.linear_low_weight)
        parts["stop"] = stop_loss(out.stop_logits, steps, cfg.stop_pos_weight)
        parts["guided_attention"] = guided_attention_loss(out.alignments, x["tokens_lengths"], steps,
                                                          cfg.guided_attention_width)
        return parts, out, steps

    def weights(self) -> dict[str, float]:
        """The loss weights at the current step."""
        weights = {"mel": 1.0, "mel_postnet": 1.0}
        weights.update({key: self.loss_cfg.linear_weight for key in self.extra_targets()})
        weights.update({"stop": self.loss_cfg.stop_weight,
                        "guided_attention": self.loss_cfg.guided_weight(int(self.global_step))})
        return weights

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x = self._inputs(batch)
        assert x is not None
        parts, _, _ = self.loss_parts(x)
        loss = weighted_sum(parts, self.weights())
        check_finite(int(self.global_step), loss=loss)
        n = len(x["tokens"])
        self.log("train/loss", loss.detach(), prog_bar=True, batch_size=n)
        self.log_dict({f"train/{k}": v.detach() for k, v in parts.items()}, batch_size=n)
        return loss

    def private_rng(self) -> Any:
        """A context in which random draws (the pre-net's dropout) leave the training's random state as it was:
        validation and sample rounds must not change what a resumed run draws."""
        devices = [self.device] if self.device.type == "cuda" else []
        return torch.random.fork_rng(devices=devices)

    def _eval_step(self, batch: dict[str, torch.Tensor], prefix: str) -> None:
        x = self._inputs(batch, known_voices=True)
        if x is None:
            return
        with self.private_rng():
            parts, out, steps = self.loss_parts(x)
        weights = self.weights()
        logs = {f"{prefix}/loss": weighted_sum(parts, weights)}
        logs.update({f"{prefix}/{k}": v for k, v in parts.items()})
        logs[f"{prefix}/attention_diagonality"] = diagonality(out.alignments, x["tokens_lengths"], steps)
        logs[f"{prefix}/attention_focus"] = focus(out.alignments, steps)
        self.log_dict(logs, prog_bar=False, batch_size=len(x["tokens"]), sync_dist=True)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "val")

    def test_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        self._eval_step(batch, "test")

    def configure_optimizers(self) -> Any:
        return build_optimizer(self.model.parameters(), self.optim_cfg, self.train_cfg.max_steps)

    # -- checkpoints ---------------------------------------------------------------------------------------------
    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        from speechgen.checkpoint import model_config

        extra = dict(self.checkpoint_extra, step=int(self.global_step))
        checkpoint["speechgen_model"] = {"prefix": "model.", "config": model_config(self.model, self.model_spec, extra)}

    # -- sample rounds -------------------------------------------------------------------------------------------
    def on_train_batch_end(self, outputs: Any, batch: Any, batch_idx: int) -> None:
        every = self.train_cfg.sample_every
        step = int(self.global_step)
        if every and step > 0 and step % every == 0 and self.trainer.is_global_zero:
            with self.private_rng():
                self.write_samples(step)

    def vocoder(self) -> Any:
        """The sample rounds' vocoder (loaded once; None without ``train.vocoder``)."""
        if self._vocoder is None and self.train_cfg.vocoder is not None:
            self._vocoder = load_vocoder(self.train_cfg.vocoder, self.model)
        return self._vocoder

    @torch.no_grad()
    def write_samples(self, step: int) -> Path:
        """Speak the first ``train.n_samples`` valid strings into ``RUN/samples/step-NNNNNNN/`` (module docstring)."""
        from speechgen.atomic import staged_dir, write_text
        from speechgen.audio import io as audio_io
        from speechgen.data.manifest import Manifest, make_row
        from speechgen.models.sampling import ALIGNMENT_NAME, GRID_NAME, save_grid

        dm = self.trainer.datamodule
        ds = dm.dataset("valid")
        n = min(self.train_cfg.n_samples, len(ds))
        items = [ds[i] for i in range(n)]
        names = {i: name for name, i in dm.speakers.items()}
        model = self.model
        was_training = model.training
        model.eval()
        try:
            device = self.device
            tokens = torch.nn.utils.rnn.pad_sequence([it["tokens"] for it in items], batch_first=True).to(device)
            t_len = torch.tensor([len(it["tokens"]) for it in items])
            spk = torch.tensor([it["speaker"] for it in items], device=device) if model.n_speakers else None
            gen = torch.Generator().manual_seed(int(self.checkpoint_extra.get("seed", 0)))
            spoken = model.speak(tokens, t_len, spk, generator=gen)
            refs = [it["features"] for it in items]
            f_len = torch.tensor([r.shape[-1] for r in refs])
            target = torch.full((n, model.n_mels, int(f_len.max())), model.pad_value)
            for i, r in enumerate(refs):
                target[i, :, : r.shape[-1]] = r
            forced = model(tokens, t_len, target.to(device), f_len, spk).alignments.float().cpu()
        finally:
            model.train(was_training)
        mel, lengths = spoken.mel.float().cpu(), spoken.lengths.cpu()
        free = spoken.alignments.float().cpu()
        steps = step_lengths(lengths, model.frames_per_step)
        texts = [str(ds.manifest.rows[int(it["index"])].get("text", "")) for it in items]
        voices = [names.get(int(it["speaker"]), str(ds.manifest.rows[int(it["index"])].get("speaker", "")))
                  for it in items]
        out_dir = Path(self.trainer.default_root_dir) / "samples" / f"step-{step:07d}"
        voc = self.vocoder()
        own = voc is None and makes_audio(model) and spoken.linear is not None
        with staged_dir(out_dir) as tmp:
            rows, clips = [], {}
            for i in range(n):
                m = mel[i, :, : int(lengths[i])]
                name = f"{i:04d}.wav"
                if voc is not None or own:
                    if own:
                        audio = peak_limit(model.to_audio(spoken.linear[i, :, : int(lengths[i])],
                                                          seed=int(self.checkpoint_extra.get("seed", 0))))
                    else:
                        audio = vocode(voc, m, model.pad_value)
                    audio_io.save(tmp / name, audio, model.sample_rate)
                    rows.append(make_row(name, label=None, text=texts[i], speaker=voices[i], engine="speechgen",
                                         split="test", duration=len(audio) / model.sample_rate,
                                         sample_rate=model.sample_rate))
                a = free[i: i + 1, : int(steps[i]), : int(t_len[i])]
                clips[f"{i:04d}"] = {
                    "text": texts[i], "speaker": voices[i], "frames": int(lengths[i]),
                    "reference_frames": int(f_len[i]), "stopped": bool(spoken.stopped[i]),
                    "diagonality": float(diagonality(a, t_len[i: i + 1], steps[i: i + 1])),
                    "focus": float(focus(a, steps[i: i + 1]))}
            if rows:
                Manifest(tmp.resolve(), rows).write()
            # each panel its own length (stretched to the panel): a run-on spoken clip does not squash the others
            panels, titles = [], []
            forced_steps = step_lengths(f_len, model.frames_per_step)
            for i in range(n):
                panels += [target[i, :, : int(f_len[i])].numpy(), mel[i, :, : int(lengths[i])].numpy()]
                stop = "" if bool(spoken.stopped[i]) else ", no stop"
                titles += [f"reference: {texts[i]} ({int(f_len[i])} frames)",
                           f"spoken: {texts[i]} ({int(lengths[i])} frames{stop})"]
            top = float(max(max(float(p.max()) for p in panels), model.pad_value + 1.0))
            save_grid(tmp / GRID_NAME, panels, title=f"log-mel, step {step}", titles=titles, cols=2,
                      value_range=(model.pad_value, top), panel_size=(3.2, 1.6))
            align, align_titles = [], []
            for i in range(n):
                k = int(t_len[i])
                align += [forced[i, : int(forced_steps[i]), :k].T.numpy(), free[i, : int(steps[i]), :k].T.numpy()]
                align_titles += [f"teacher-forced: {texts[i]}", f"free: {texts[i]}"]
            save_grid(tmp / ALIGNMENT_NAME, align, title=f"attention (symbols up, decoder steps across), step {step}",
                      titles=align_titles, cols=2, value_range=(0.0, 1.0), panel_size=(3.2, 1.6))
            summary = {"step": step, "split": "valid", "clips": clips,
                       "stopped": sum(c["stopped"] for c in clips.values()),
                       "mean": {k: float(np.mean([c[k] for c in clips.values()])) for k in ("diagonality", "focus")}}
            write_text(tmp / "metrics.json", json.dumps(summary, indent=2) + "\n")
        return out_dir


# ------------------------------------------------------------------------------------------------ vocoder
def vocoder_folder(name: str, where: str = "recipe.train.vocoder") -> Path:
    """The checkpoint folder of vocoder ``name``; ConfigError naming ``where`` when there is none."""
    from speechgen.checkpoint import resolve_checkpoint

    try:
        return resolve_checkpoint(name)
    except CheckpointError as exc:
        raise ConfigError(f"{where}: {exc}") from None


def check_vocoder(name: str, model: TTSModel, where: str = "recipe.train.vocoder") -> None:
    """ConfigError naming ``where`` unless checkpoint ``name`` is a vocoder of the model's exact feature (read
    from its config only)."""
    from speechgen.checkpoint import read_config
    from speechgen.models.registry import MODELS
    from speechgen.models.roles import VOCODER, roles_of

    folder = vocoder_folder(name, where)
    cfg = read_config(folder)
    spec = cfg.get("model") or {}
    cls = MODELS.get(str(spec.get("name")))
    if cls is None or VOCODER not in roles_of(cls, spec.get("kwargs") or {}):
        raise ConfigError(f"{where}: {folder} holds a '{spec.get('name')}' model, not a vocoder")
    if int(cfg.get("sample_rate") or 0) != model.sample_rate:
        raise ConfigError(f"{where}: the vocoder works at {cfg.get('sample_rate')} Hz, the model at "
                          f"{model.sample_rate} Hz (recipe.model.kwargs.sample_rate)")
    theirs = dict(cfg.get("features") or {})
    for key, value in model.feature_params.items():
        if theirs.get(key) != value:
            raise ConfigError(f"{where}: the vocoder's feature_params.{key} is {theirs.get(key)!r}, the model's "
                              f"{value!r} (recipe.model.kwargs.feature_params): it would not hear the same log-mel")


def load_vocoder(name: str, model: TTSModel) -> Any:
    """The vocoder ``name`` (checked against the model's feature, built for inference, weights loaded, eval
    mode)."""
    from speechgen.checkpoint import MODEL_FILE, build_checked, load_checkpoint, read_config
    from speechgen.models.registry import MODELS

    check_vocoder(name, model)
    folder = vocoder_folder(name)
    spec = read_config(folder)["model"]
    cls = MODELS[spec["name"]]
    kwargs = dict(spec.get("kwargs") or {})
    slim = getattr(cls, "inference_kwargs", None)
    if callable(slim):
        kwargs = slim(kwargs)
    net = build_checked(cls, kwargs, folder / MODEL_FILE, str(folder), spec["name"], only_own=True)
    state, _ = load_checkpoint(folder)
    own = net.state_dict()
    net.load_state_dict({k: v for k, v in state.items() if k in own}, strict=True)
    return net.eval()


def vocode(vocoder: Any, mel: torch.Tensor, pad_value: float) -> np.ndarray:
    """Audio (float32) of one log-mel ``[n_mels, frames]`` (padded with silence to the vocoder's shortest input)."""
    if mel.shape[-1] < MIN_VOCODER_FRAMES:
        mel = F.pad(mel, (0, MIN_VOCODER_FRAMES - mel.shape[-1]), value=pad_value)
    device = next(iter(vocoder.buffers()), next(iter(vocoder.parameters()), torch.empty(0))).device
    with torch.inference_mode():
        audio = vocoder.infer(mel[None].to(device)).float().cpu().numpy().reshape(-1)
    return peak_limit(audio)


def peak_limit(audio: np.ndarray) -> np.ndarray:
    """``audio`` scaled down to a peak of 0.95 when it goes above."""
    peak = float(np.abs(audio).max()) if audio.size else 0.0
    return audio / peak * 0.95 if peak > 0.95 else audio


# ------------------------------------------------------------------------------------------------ recipe checks
def _instantiate(recipe: Any) -> TTSModel:
    name = recipe.model.name
    if name not in TTS_MODELS:
        raise ConfigError(f"recipe.model.name: the tts scheme trains {', '.join(TTS_MODELS)}, got '{name}'")
    try:
        with torch.device("meta"):  # sizes only: no memory, no random draws
            return TTS_MODELS[name](**recipe.model.kwargs)
    except ConfigError as exc:
        raise ConfigError(f"recipe.model.kwargs.{exc}") from exc


def check_recipe(recipe: Any, model: TTSModel | None = None) -> None:
    """Cross-section constraints of a ``tts`` recipe; ConfigError naming the field at fault."""
    model = model if model is not None else _instantiate(recipe)
    if recipe.train.vocoder is not None:
        check_vocoder(recipe.train.vocoder, model)


def build_datamodule(data: TTSData, model: TTSModel, seed: int) -> Any:
    """The :class:`~speechgen.data.text_speech.TextSpeechDataModule` of a ``data:`` section and the model."""
    from speechgen.data.text_speech import TextSpeechDataModule

    return TextSpeechDataModule(
        data.manifest, text=model.symbols, held_out_fraction=data.held_out_fraction, test=model.n_speakers == 0,
        feature=model.feature, feature_params=model.feature_params, batch_size=data.batch_size,
        num_workers=data.num_workers, seed=seed, sample_rate=model.sample_rate,
        targets=getattr(model, "extra_targets", None) or None, train_strings=data.train_strings,
    )


class TTSScheme:
    """Recipe sections and builders of the ``tts`` scheme (Tacotron 2, Tacotron)."""

    name = "tts"
    sections = {"data": TTSData, "train": TTSTrain, "optim": OptimConfig, "losses": TTSLosses}
    models = tuple(TTS_MODELS)

    @staticmethod
    def validate(recipe: Any) -> None:
        """Cross-section checks (the model is built on the meta device: its sizes, no weights)."""
        check_recipe(recipe)

    @staticmethod
    def build(recipe: Any, model: TTSModel, checkpoint_extra: dict[str, Any] | None = None,
              ) -> tuple[L.LightningModule, L.LightningDataModule]:
        check_recipe(recipe, model)
        dm = build_datamodule(recipe.data, model, recipe.seed)
        if model.n_speakers and dm.num_speakers > model.n_speakers:
            raise ConfigError(f"recipe.model.kwargs.n_speakers: {model.n_speakers}, but the manifest's train split "
                              f"has {dm.num_speakers} voices")
        extra = dict(checkpoint_extra or {})
        extra["speakers"] = sorted(dm.speakers, key=dm.speakers.__getitem__)  # voice index → name, for `tts`
        spec = {"name": recipe.model.name, "kwargs": recipe.model.kwargs}
        return TTSModule(model, spec, recipe.data, recipe.train, recipe.optim, recipe.losses, extra), dm
