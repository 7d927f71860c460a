"""The judge: the shipped digit classifier's softmax and penultimate features, and the metrics built on them.

Input policy (every clip, files or arrays): mixed to mono, resampled to the classifier's rate (16 kHz, soxr VHQ),
then centre-cropped or symmetrically zero-padded to exactly one second (``segment`` samples; for an odd
difference the extra sample goes to the right). Audio that is empty or holds NaN/Inf is refused (AudioError).
Each clip is classified independently (per-clip normalisation, batch norm in eval mode), so the batch size
changes results only by float round-off (tested to 1e-5).

:class:`ReferenceStats` holds what scoring needs from real data — Gaussian statistics of the train and test
features (and per digit for the train split), the mean train label distribution, NDB bins (k-means centres of the
train features and their shares) — plus the metric rows of the real train and test splits. The stats of our
corpus are shipped beside the classifier (``reference_stats.safetensors`` + ``.yaml``), so judging needs no
corpus on disk. Conventions: FID, AM and NDB compare against the *train* split; the train row is therefore the
ceiling (FID 0, NDB 0) and the test row shows what unseen real voices score. IS is averaged over ``splits``
consecutive parts of the clips taken in a random order drawn from ``seed`` (files are often sorted by digit).

"Not a digit" (:meth:`Judge.analyse`): the judge also says which clips cannot be one spoken digit, without touching
the features and softmax above (they stay those of the centre second, bit for bit). Each whole clip goes through
the duration rules of :mod:`speechgen.evaluation.vad` (no speech; speech spanning more than 1.5 s; several
separated words) and, when they allow a digit, through the shipped digit detector
(:class:`~speechgen.models.digit_detector.DigitDetector`, ``pretrained/digit-detector``) on the one second around
its speech. ``speechgen classify`` also names the digit of that second (the classifier's argmax on it), which for
clips of exactly one second is the centre second.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml
from scipy.stats import norm

from speechgen.atomic import atomic_path
from speechgen.audio import io as audio_io
from speechgen.data.manifest import Manifest
from speechgen.errors import CheckpointError, DataError
from speechgen.evaluation import metrics as M
from speechgen.evaluation import vad
from speechgen.models import DigitClassifier, DigitDetector
from speechgen.checkpoint import load_model, read_config

DEFAULT = "classifier"
DETECTOR = "digit-detector"
STATS_NAME = "reference_stats"
JUDGE_MODELS = {"digit_classifier": DigitClassifier}
DETECTOR_MODELS = {"digit_detector": DigitDetector}
ONE_SECOND_TOLERANCE = 0.25  # clips whose length is more than this many seconds from 1 s are reported



def fix_length(x: np.ndarray, length: int) -> np.ndarray:
    """Centre-crop or zero-pad (centred) the last axis to ``length`` samples."""
    n = x.shape[-1]
    if n > length:
        start = (n - length) // 2
        return x[..., start:start + length]
    if n < length:
        left = (length - n) // 2
        return np.pad(x, [(0, 0)] * (x.ndim - 1) + [(left, length - n - left)])
    return x


def _model_version(folder: Path, config: dict[str, Any]) -> str:
    h = hashlib.sha256((folder / "model.safetensors").read_bytes())
    h.update(yaml.safe_dump(config["model"], sort_keys=True).encode())  # kwargs (temperature) count too
    return f"{config['model']['name']}-{config.get('version', 'dev')}-{h.hexdigest()[:12]}"


@dataclass
class Analysis:
    """What :meth:`Judge.analyse` says about each of N clips.

    ``probs`` / ``feats``: the classifier's softmax and features of the centre second (exactly :meth:`Judge.embed`;
    what IS/FID/NDB read). ``durations``: seconds. ``reasons``: why a clip is not a digit (a duration rule of
    :mod:`speechgen.evaluation.vad`, or ``"detector"``), None for a digit. ``not_digit_probability``: the detector's
    probability of "not a digit" on the second around the clip's speech (1.0 where a duration rule decided).
    ``crop_probs``: the classifier's softmax of that second (only when asked for).
    """

    probs: np.ndarray
    feats: np.ndarray
    durations: np.ndarray
    reasons: list[str | None]
    not_digit_probability: np.ndarray
    crop_probs: np.ndarray | None = None

    @property
    def not_digit(self) -> np.ndarray:
        """Boolean ``[N]``: the clip is judged not to be a spoken digit."""
        return np.array([r is not None for r in self.reasons], dtype=bool)

    @property
    def not_digit_share(self) -> float:
        return float(self.not_digit.mean()) if len(self.reasons) else 0.0

    def length_warning(self) -> str | None:
        """One line counting the clips that are not about one second long (None when all are)."""
        off = np.abs(self.durations - 1.0) > ONE_SECOND_TOLERANCE
        if not off.any():
            return None
        d = self.durations[off]
        by_rule = sum(1 for r, o in zip(self.reasons, off) if o and r not in (None, "detector"))
        return (f"{int(off.sum())} of {len(off)} clips are not about one second long ({d.min():.2f}-{d.max():.2f} s): "
                "the judge reads one second of each (the centre for IS/FID, the second around the speech for the "
                f"digit and not-a-digit verdicts); {by_rule} of them judged not a digit by their speech's extent")


class Judge:
    """The digit classifier as a judge.

    Args:
        checkpoint: a shipped name (default "classifier") or a checkpoint folder.
        device: torch device.
        batch_size: clips per forward pass (does not change results).
        threads: torch CPU threads (None: leave torch's setting).
        detector: the digit detector of :meth:`analyse` (shipped name or checkpoint folder; loaded on first use).
    """

    def __init__(self, checkpoint: str | os.PathLike = DEFAULT, device: str = "cpu", batch_size: int = 256,
                 threads: int | None = None, detector: str | os.PathLike = DETECTOR) -> None:
        from speechgen import pretrained

        name = str(checkpoint)
        self.detector_source = detector
        self._detector: DigitDetector | None = None
        self.detector_version: str | None = None
        self.folder = pretrained.path(name) if name in pretrained.PRETRAINED else Path(checkpoint)
        self.config = read_config(self.folder)
        self.model: DigitClassifier = load_model(self.folder, JUDGE_MODELS, device=device)  # type: ignore[assignment]
        self.device = torch.device(device)
        self.batch_size = int(batch_size)
        if threads:
            torch.set_num_threads(int(threads))
        self.sample_rate = int(self.model.sample_rate)
        self.segment = self.sample_rate  # one second
        self.version = _model_version(self.folder, self.config)

    # -- inputs ----------------------------------------------------------------------------------------------
    def prepare(self, audio: np.ndarray, sample_rate: int | None = None, name: str = "audio") -> np.ndarray:
        """Apply the input policy to one clip (``[samples]`` or ``[channels, samples]``)."""
        x = audio_io.validate(audio, name)
        if x.ndim == 2:
            x = x.mean(axis=0)
        sr = self.sample_rate if sample_rate is None else int(sample_rate)
        if sr != self.sample_rate:
            x = audio_io.resample(x, sr, self.sample_rate)
        return fix_length(x, self.segment).astype(np.float32, copy=False)

    def load(self, path: str | os.PathLike) -> np.ndarray:
        """Read a file and apply the input policy."""
        x, _ = audio_io.load(path, self.sample_rate)
        return fix_length(x, self.segment)

    def batch(self, clips: Sequence[Any] | np.ndarray, sample_rate: int | None = None, workers: int = 4,
              ) -> np.ndarray:
        """``[N, segment]`` float32 from paths, 1-D arrays, or an ``[N, T]`` array (at ``sample_rate``)."""
        if isinstance(clips, np.ndarray) and clips.ndim == 2:
            if clips.shape[0] == 0:
                raise DataError("no clips to judge")
            x = audio_io.validate(clips, "audio")
            if sample_rate is not None and sample_rate != self.sample_rate:
                x = audio_io.resample(x, int(sample_rate), self.sample_rate)
            return np.ascontiguousarray(fix_length(x, self.segment), dtype=np.float32)
        if len(clips) == 0:
            raise DataError("no clips to judge")

        def one(item: Any) -> np.ndarray:
            if isinstance(item, (str, os.PathLike)):
                return self.load(item)
            return self.prepare(np.asarray(item), sample_rate)

        if workers > 1 and len(clips) > 64:
            with ThreadPoolExecutor(workers) as ex:
                return np.stack(list(ex.map(one, clips, chunksize=64)))
        return np.stack([one(c) for c in clips])

    # -- outputs ---------------------------------------------------------------------------------------------
    @torch.inference_mode()
    def embed(self, clips: Sequence[Any] | np.ndarray, sample_rate: int | None = None,
              batch_size: int | None = None, progress: Callable[[int], None] | None = None,
              ) -> tuple[np.ndarray, np.ndarray]:
        """Softmax ``probs [N, 10]`` and features ``[N, D]`` (float64) of clips (see :meth:`batch`)."""
        bs = int(batch_size or self.batch_size)
        if len(clips) == 0:
            raise DataError("no clips to judge")
        probs, feats = [], []
        chunk = max(bs, 1024)  # load files in chunks to bound memory
        for lo in range(0, len(clips), chunk):
            wave = torch.from_numpy(self.batch(clips[lo:lo + chunk], sample_rate))
            for i in range(0, len(wave), bs):
                p, f = self.model.probs_and_features(wave[i:i + bs].to(self.device))
                probs.append(p.cpu().double().numpy())
                feats.append(f.cpu().double().numpy())
                if progress is not None:
                    progress(len(p))
        return np.concatenate(probs), np.concatenate(feats)

    def classify(self, clips: Sequence[Any] | np.ndarray, sample_rate: int | None = None,
                 ) -> list[tuple[int, float]]:
        """``(digit, probability)`` of the most probable class of each clip."""
        probs, _ = self.embed(clips, sample_rate)
        return [(int(p.argmax()), float(p.max())) for p in probs]

    # -- not a digit -----------------------------------------------------------------------------------------
    @property
    def detector(self) -> DigitDetector:
        """The digit detector (loaded on first use)."""
        if self._detector is None:
            from speechgen import pretrained

            src = str(self.detector_source)
            folder = pretrained.path(src) if src in pretrained.PRETRAINED else Path(self.detector_source)
            config = read_config(folder)
            model = load_model(folder, DETECTOR_MODELS, device=str(self.device))
            if int(model.sample_rate) != self.sample_rate:
                raise CheckpointError(f"{folder}: the detector reads {model.sample_rate} Hz, the judge "
                                      f"{self.sample_rate} Hz")
            self._detector, self.detector_version = model, _model_version(folder, config)
        return self._detector

    def _whole(self, clips: Sequence[Any] | np.ndarray, sample_rate: int | None) -> list[np.ndarray]:
        """Whole clips (mono float32 at the judge's rate), read and checked as :meth:`batch` does."""
        if isinstance(clips, np.ndarray) and clips.ndim == 2:
            x = audio_io.validate(clips, "audio")
            if sample_rate is not None and sample_rate != self.sample_rate:
                x = audio_io.resample(x, int(sample_rate), self.sample_rate)
            return list(x)

        def one(item: Any) -> np.ndarray:
            if isinstance(item, (str, os.PathLike)):
                return audio_io.load(item, self.sample_rate)[0]
            x = audio_io.validate(np.asarray(item), "audio")
            if x.ndim == 2:
                x = x.mean(axis=0)
            sr = self.sample_rate if sample_rate is None else int(sample_rate)
            return audio_io.resample(x, sr, self.sample_rate) if sr != self.sample_rate else x

        return [one(c) for c in clips]

    @torch.inference_mode()
    def analyse(self, clips: Sequence[Any] | np.ndarray, sample_rate: int | None = None,
                batch_size: int | None = None, progress: Callable[[int], None] | None = None,
                crops: bool = False) -> Analysis:
        """:meth:`embed` plus the "not a digit" verdict of each clip (see the module docstring); ``crops`` also
        returns the classifier's softmax of the second around each clip's speech (for ``speechgen classify``)."""
        bs = int(batch_size or self.batch_size)
        if len(clips) == 0:
            raise DataError("no clips to judge")
        det = self.detector
        seg = self.segment
        probs, feats, durs, reasons, p_not, crop_probs = [], [], [], [], [], []
        chunk = max(bs, 1024)  # as embed: the same batches, so the same features bit for bit
        for lo in range(0, len(clips), chunk):
            part = clips[lo:lo + chunk]
            for i in range(0, len(part), bs):  # whole clips are read one batch at a time (long clips are big)
                whole = self._whole(part[i:i + bs], sample_rate)
                centre = np.stack([fix_length(x, seg) for x in whole]).astype(np.float32, copy=False)
                around, moved = [], []
                for k, x in enumerate(whole):
                    speech = vad.find_speech(x, self.sample_rate)
                    w, start = vad.crop_around(x, speech, seg, self.sample_rate)
                    around.append(w)
                    if start != vad.crop_start(len(x), seg, None):
                        moved.append(k)  # its second around the speech is not the centre second
                    durs.append(len(x) / self.sample_rate)
                    reasons.append(speech.rule())
                near = torch.from_numpy(np.stack(around))
                p, f = self.model.probs_and_features(torch.from_numpy(np.ascontiguousarray(centre)).to(self.device))
                probs.append(p.cpu().double().numpy())
                feats.append(f.cpu().double().numpy())
                p_not.append(det.not_digit_probability(near.to(self.device)).cpu().double().numpy())
                if crops:
                    cp = p.cpu().double().numpy().copy()
                    if moved:
                        cp[moved] = self.model.probs_and_features(near[moved].to(self.device))[0].cpu().double() \
                            .numpy()
                    crop_probs.append(cp)
                if progress is not None:
                    progress(len(p))
        pn = np.concatenate(p_not)
        for k, r in enumerate(reasons):
            if r is not None:
                pn[k] = 1.0
            elif pn[k] >= det.threshold:
                reasons[k] = "detector"
        return Analysis(np.concatenate(probs), np.concatenate(feats), np.array(durs), reasons, pn,
                        np.concatenate(crop_probs) if crops else None)


# ------------------------------------------------------------------------------------------------ reference stats
def ndb_against_bins(centres: np.ndarray, ref_counts: np.ndarray, gen_feats: np.ndarray, alpha: float = 0.05,
                     ) -> tuple[int, float]:
    """NDB with fixed bins: the same two-proportion z-test as :func:`metrics.ndb`, with the reference's k-means
    centres and per-bin counts given (so the reference features need not be at hand)."""
    g = np.asarray(gen_feats, dtype=np.float64)
    k = len(centres)
    d = (g * g).sum(1)[:, None] - 2.0 * g @ centres.T + (centres * centres).sum(1)[None, :]
    n1, n2 = float(ref_counts.sum()), float(len(g))
    p1 = ref_counts / n1
    p2 = np.bincount(d.argmin(axis=1), minlength=k) / n2
    pooled = (p1 * n1 + p2 * n2) / (n1 + n2)
    se = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2))
    z = np.divide(p1 - p2, se, out=np.zeros(k), where=se > 0)
    count = int(np.count_nonzero(2.0 * norm.sf(np.abs(z)) < alpha))
    return count, count / k


@dataclass
class ReferenceStats:
    """Statistics of real data that scoring needs (see the module docstring)."""

    arrays: dict[str, np.ndarray]
    meta: dict[str, Any] = field(default_factory=dict)
    _frechet: dict[Any, M.FrechetReference] = field(default_factory=dict, init=False, repr=False, compare=False)

    def frechet(self, cls: int | None = None) -> M.FrechetReference:
        """The train split's Fréchet reference (of digit ``cls``), its square root computed once."""
        if cls not in self._frechet:
            a = self.arrays
            mu, sigma = ((a["train_mu"], a["train_sigma"]) if cls is None
                         else (a["train_class_mu"][cls], a["train_class_sigma"][cls]))
            self._frechet[cls] = M.FrechetReference(mu, sigma)
        return self._frechet[cls]

    @property
    def rows(self) -> dict[str, dict[str, Any]]:
        rows = self.meta.get("rows", {})
        for row in rows.values():  # stats shipped before ln(mIS) was reported
            if "modified_inception_score" in row and "log_modified_inception_score" not in row:
                row["log_modified_inception_score"] = float(np.log(row["modified_inception_score"]))
        return rows

    @classmethod
    def from_features(cls, train: tuple[np.ndarray, np.ndarray, np.ndarray],
                      test: tuple[np.ndarray, np.ndarray, np.ndarray] | None, k: int = 50, alpha: float = 0.05,
                      seed: int = 0, splits: int = 10, meta: dict[str, Any] | None = None) -> ReferenceStats:
        """Build from ``(probs, feats, labels)`` of the train (and test) split; computes the reference rows."""
        probs, feats, labels = train
        mu, sigma = M.gaussian_stats(feats)
        centres, bins = M.kmeans(feats, k, seed=seed)
        n_classes = probs.shape[1]
        cmu = np.zeros((n_classes, feats.shape[1]))
        csig = np.zeros((n_classes, feats.shape[1], feats.shape[1]))
        present = np.zeros(n_classes, dtype=np.int64)
        for c in range(n_classes):
            sel = feats[labels == c]
            present[c] = len(sel)
            if len(sel) >= 2:
                cmu[c], csig[c] = M.gaussian_stats(sel)
        arrays = {
            "train_mu": mu, "train_sigma": sigma, "train_label_dist": probs.mean(axis=0),
            "train_class_mu": cmu, "train_class_sigma": csig, "train_class_count": present,
            "ndb_centres": centres, "ndb_counts": np.bincount(bins, minlength=k).astype(np.int64),
        }
        info = dict(meta or {}, n_train=int(len(feats)), ndb_k=int(k), ndb_alpha=float(alpha), seed=int(seed),
                    is_splits=int(splits))
        stats = cls(arrays, info)
        rows = {"train": stats.score(probs, feats, labels, seed=seed, splits=splits)}
        if test is not None:
            tp, tf, tl = test
            arrays["test_mu"], arrays["test_sigma"] = M.gaussian_stats(tf)
            info["n_test"] = int(len(tf))
            rows["test"] = stats.score(tp, tf, tl, seed=seed, splits=splits)
        info["rows"] = rows
        return stats

    def score(self, probs: np.ndarray, feats: np.ndarray, labels: np.ndarray | None = None, seed: int = 0,
              splits: int = 10, fid_bootstrap: int = M.FID_BOOTSTRAP) -> dict[str, Any]:
        """All metrics of a clip set against these stats (label accuracy and FID-class when ``labels`` given).

        Also ``fid_ci``, the 95 % bootstrap interval of FID (``fid_bootstrap`` resamples seeded by ``seed``; 0:
        none), ``is_splits``, and the sample-size verdict: ``comparable`` (metric -> whether n reaches its
        minimum, :data:`metrics.MIN_N`) and ``warnings`` (one line per metric below it, and per failed sanity
        check, :func:`metrics.sanity_failures`).
        """
        a = self.arrays
        # IS splits are consecutive: shuffle (seeded) first so that file order (often grouped by digit) is moot
        is_mean, is_std = M.inception_score(probs[np.random.default_rng(seed).permutation(len(probs))], splits)
        g_mu, g_sigma = M.gaussian_stats(feats)
        mis = M.modified_inception_score(probs, seed=seed)
        ndb_count, ndb_k = ndb_against_bins(a["ndb_centres"], a["ndb_counts"], feats,
                                            float(self.meta.get("ndb_alpha", 0.05)))
        out: dict[str, Any] = {
            "n": int(len(probs)),
            "inception_score": {"mean": is_mean, "std": is_std},
            "fid": self.frechet().distance(g_mu, g_sigma),
            "modified_inception_score": mis,
            # ln(mIS) = mean pairwise KL in nats: readable where a confident judge makes mIS astronomically large
            "log_modified_inception_score": float(np.log(mis)),
            "am_score": M.am_score(a["train_label_dist"][None, :], probs),
            "ndb": ndb_count,
            "ndb_over_k": ndb_k,
        }
        if labels is not None:
            y = np.asarray(labels)
            out["label_accuracy"] = M.label_accuracy(probs, y)
            fids = []
            for c in np.unique(y):
                sel = feats[y == c]
                if c >= len(a["train_class_count"]) or a["train_class_count"][c] < 2:
                    raise DataError(f"label {c}: the reference has no statistics for this class")
                if len(sel) < 2:
                    raise DataError(f"label {c}: FID-class needs at least 2 clips per label, got {len(sel)}")
                fids.append(self.frechet(int(c)).distance(*M.gaussian_stats(sel)))
            out["fid_class"] = {"mean": float(np.mean(fids)), "std": float(np.std(fids))}
        if fid_bootstrap:
            out["fid_ci"] = list(self.frechet().bootstrap(feats, fid_bootstrap, seed=seed))
        out["is_splits"] = int(splits)
        out["comparable"], out["warnings"] = M.comparability(len(probs), splits, out, dim=feats.shape[1])
        out["warnings"] += M.sanity_failures(out)
        return out

    def save(self, folder: str | os.PathLike, name: str = STATS_NAME) -> None:
        """Atomically write ``NAME.safetensors`` (float64/int64 arrays) and ``NAME.yaml`` (meta + rows)."""
        from safetensors.numpy import save_file

        folder = Path(folder)
        with atomic_path(folder / f"{name}.safetensors") as tmp:
            save_file({k: np.ascontiguousarray(v) for k, v in self.arrays.items()}, str(tmp))
        with atomic_path(folder / f"{name}.yaml") as tmp:
            tmp.write_text(yaml.safe_dump(_plain(self.meta), sort_keys=False), encoding="utf-8")

    @classmethod
    def load(cls, folder: str | os.PathLike, name: str = STATS_NAME) -> ReferenceStats:
        from safetensors import SafetensorError
        from safetensors.numpy import load_file

        folder = Path(folder)
        st, ym = folder / f"{name}.safetensors", folder / f"{name}.yaml"
        for p in (st, ym):
            if not p.is_file():
                raise CheckpointError(f"{p}: missing reference statistics")
        try:
            arrays = load_file(str(st))
            meta = yaml.safe_load(ym.read_text(encoding="utf-8"))
        except (SafetensorError, OSError, yaml.YAMLError) as exc:
            raise CheckpointError(f"{folder}: corrupt reference statistics ({exc})") from exc
        return cls(arrays, meta or {})


def _plain(v: Any) -> Any:
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    return v


def manifest_split(manifest: Manifest, split: str) -> tuple[list[Path], np.ndarray]:
    """Paths and labels of the labelled rows of a split."""
    rows = manifest.select(split, labelled=True)
    if len(rows) == 0:
        raise DataError(f"{manifest.root}: split '{split}' has no labelled rows")
    return [rows.resolve(r) for r in rows], np.array([int(r["label"]) for r in rows])  # type: ignore[call-overload]


def reference_from_manifest(judge: Judge, manifest: Manifest | str | os.PathLike, seed: int = 0, k: int = 50,
                            splits: int = 10, progress: Callable[[int], None] | None = None) -> ReferenceStats:
    """Reference stats of a manifest's train (and, if present, test) split."""
    m = manifest if isinstance(manifest, Manifest) else Manifest.read(manifest)
    paths, labels = manifest_split(m, "train")
    p, f = judge.embed(paths, progress=progress)
    test = None
    if len(m.select("test", labelled=True)):
        tpaths, tlabels = manifest_split(m, "test")
        tp, tf = judge.embed(tpaths, progress=progress)
        test = (tp, tf, tlabels)
    meta = {"classifier_version": judge.version, "manifest": str(m.root)}
    return ReferenceStats.from_features((p, f, labels), test, k=k, seed=seed, splits=splits, meta=meta)


def shipped_reference(judge: Judge) -> ReferenceStats:
    """The reference stats shipped beside the judge's weights (CheckpointError if absent or for other weights)."""
    stats = ReferenceStats.load(judge.folder)
    if stats.meta.get("classifier_version") != judge.version:
        raise CheckpointError(f"{judge.folder}: reference statistics were computed with another classifier "
                              f"({stats.meta.get('classifier_version')}); pass --reference MANIFEST")
    return stats


EXAMPLES_DIR = "real"  # beside the shipped judge: a few real test-voice clips (FLAC + manifest.csv) for reports


def example_rows(manifest: Manifest, split: str = "test", per_label: int = 1) -> Manifest:
    """A few labelled rows of ``split`` to listen to beside generated clips: ``per_label`` per digit, the voices
    taken in turn (digit d from the d-th voice, cycling), each voice's first clip of that digit by path."""
    rows = manifest.select(split, labelled=True)
    voices = sorted({str(r["speaker"]) for r in rows})
    chosen: list[dict[str, object]] = []
    for label in sorted({int(r["label"]) for r in rows}):  # type: ignore[call-overload]
        of_label = sorted((r for r in rows if r["label"] == label), key=lambda r: str(r["path"]))
        for k in range(per_label):
            voice = voices[(label + k) % len(voices)]
            pick = next((r for r in of_label if r["speaker"] == voice and r not in chosen), None)
            pick = pick or next((r for r in of_label if r not in chosen), None)
            if pick is not None:
                chosen.append(pick)
    return Manifest(manifest.root, chosen)


def shipped_examples(judge: Judge) -> Manifest | None:
    """The real clips shipped beside the judge's weights (None when these weights have none)."""
    folder = Path(judge.folder) / EXAMPLES_DIR
    return Manifest.read(folder) if (folder / "manifest.csv").is_file() else None
