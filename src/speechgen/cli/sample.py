"""``speechgen sample``: draw clips from a trained (or shipped) generative model into WAVs + manifest + grid."""

from __future__ import annotations

import argparse
from pathlib import Path

from speechgen.cli.common import add_seed, console, progress_bar
from speechgen.errors import ConfigError

MAX_CLIPS = 100_000  # clips per label in one call (each written as a WAV)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "sample", help="sample clips from a generative model",
        description="Draw N clips from MODEL_OR_RUN (a shipped name such as digits-default, a run folder or a "
        "checkpoint folder) and write OUT/sample-NNNNN.wav, OUT/manifest.csv (path, label, ...; ready for "
        "`speechgen eval OUT`) and OUT/grid.png. Images with a phase channel are inverted by iSTFT, amplitude-only "
        "images by Griffin-Lim. Log-mel frame windows (data.frames) have no inverse without a vocoder: they are "
        "written de-normalised to OUT/features.npy (+ OUT/labels.npy) with the grid, and no WAVs. The same --seed "
        "gives the same clips on CPU.",
    )
    p.add_argument("model", metavar="MODEL_OR_RUN", help="shipped name, run folder or checkpoint folder")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--n", type=int, default=10, help="clips per label (or in all for unconditional models)")
    p.add_argument("--label", type=int, action="append", default=None,
                   help="digit(s) to generate (repeatable; default: every label of a conditional model)")
    p.add_argument("--condition-from", type=Path, default=None, metavar="MANIFEST",
                   help="manifest whose clips give the condition channels (e.g. the phase image of cwgan-gp "
                   "exp3/exp4): a train-split clip of the asked digit each (default: the training manifest)")
    p.add_argument("--griffin-lim-iters", type=int, default=None,
                   help="Griffin-Lim iterations (amplitude only; default: the feature's, 64 for stft_image, 16 for "
                   "specgan_image)")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    add_seed(p)
    p.set_defaults(func=_sample)


def _sample(args: argparse.Namespace) -> int:
    import torch

    from speechgen.atomic import staged_dir
    from speechgen.inference.loading import data_and_feature, load_generator
    from speechgen.models.sampling import draw, write_samples

    if not 0 < args.n <= MAX_CLIPS:
        raise ConfigError(f"--n: must be in 1..{MAX_CLIPS}, got {args.n}")
    if args.griffin_lim_iters is not None and args.griffin_lim_iters <= 0:
        raise ConfigError(f"--griffin-lim-iters: must be > 0, got {args.griffin_lim_iters}")
    model, cfg = load_generator(args.model, args.device)
    data, feature = data_and_feature(cfg)
    n_classes = int(getattr(model, "n_classes", 0) or 0)
    labels = None
    if n_classes:
        wanted = args.label if args.label is not None else list(range(n_classes))
        bad = [d for d in wanted if not 0 <= d < n_classes]
        if bad:
            raise ConfigError(f"--label: {bad[0]} is not in 0..{n_classes - 1}")
        labels = torch.tensor([d for d in wanted for _ in range(args.n)], dtype=torch.long)
    elif args.label is not None:
        raise ConfigError("--label: this model is unconditional")
    n = len(labels) if labels is not None else args.n
    cond_ch = data.get("condition_channels")
    condition = None
    if cond_ch:
        condition = _conditions(args, data, feature, cond_ch, labels, n)
    con = console(args)
    with progress_bar(con, "drawing", n, minimum=500) as advance:
        feats = draw(model, n, labels, args.seed, condition, device=args.device, progress=advance)
    # all clips, the manifest and the grid appear together, or nothing; an earlier sample in --out is replaced
    with staged_dir(args.out, stale=earlier_samples(args.out)) as tmp, \
            progress_bar(con, "turning into audio and writing", n, minimum=500) as advance:
        audio = write_samples(tmp, feats, feature, labels, int(data["sample_rate"]), condition=condition,
                              condition_channels=cond_ch, channels=data.get("channels"), seed=args.seed,
                              n_iter=args.griffin_lim_iters, frames=data.get("frames"), progress=advance)
    labelled = f", labels {sorted(set(labels.tolist()))}" if labels is not None else ""
    if audio.shape[1] == 0:  # e.g. log-mel frame windows: no inverse without a vocoder
        console(args).print(f"[bold]{args.out}[/bold]: {len(feats)} feature windows of shape {list(feats.shape[1:])}"
                            f"{labelled} in features.npy and grid.png; no WAVs ('{data['feature']}' cannot be "
                            "turned into audio without a vocoder)")
        return 0
    console(args).print(f"[bold]{args.out}[/bold]: {len(audio)} clips of {audio.shape[1] / data['sample_rate']:.3f} s"
                        + labelled)
    return 0


def earlier_samples(out: Path) -> list[str]:
    """The files of an earlier ``speechgen sample`` in ``out`` (its manifest's clips, the grid, features.npy,
    labels.npy), which a new sample into ``out`` replaces: stale WAVs beside a new manifest would be judged as
    part of it by ``speechgen eval OUT``. Files not written by ``sample`` are left alone."""
    from speechgen.data.manifest import MANIFEST_NAME, Manifest
    from speechgen.errors import SpeechgenError
    from speechgen.models.sampling import FEATURES_NAME, GRID_NAME, LABELS_NAME

    names = [GRID_NAME, FEATURES_NAME, LABELS_NAME]
    if (out / MANIFEST_NAME).is_file():
        try:
            old = Manifest.read(out / MANIFEST_NAME)
        except SpeechgenError:
            return names
        if all(r.get("engine") == "speechgen" for r in old):  # written by speechgen sample
            names += [str(r["path"]) for r in old] + [MANIFEST_NAME]
    return names


def _conditions(args: argparse.Namespace, data: dict, feature: object, cond_ch: list[int], labels: object,
                n: int) -> object:
    from speechgen.data.datamodule import ManifestDataset
    from speechgen.models.sampling import conditions_from_dataset

    source = args.condition_from or data.get("manifest")
    if source is None or not Path(source).exists():
        raise ConfigError(f"--condition-from: this model needs condition channels {cond_ch} from real clips; "
                          f"give a manifest (the training manifest {source!r} is not here)")
    # train-split clips: the phase of a real clip carries much of its content, so test voices are not used
    ds = ManifestDataset(source, split="train", labelled=True if labels is not None else None,
                         sample_rate=int(data["sample_rate"]), feature=feature)
    return conditions_from_dataset(ds, cond_ch, labels, n, seed=args.seed)
