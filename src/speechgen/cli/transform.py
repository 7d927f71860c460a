"""``speechgen transform``: latent operations of a trained VAE / WAE on audio clips (Hsu et al. 2017):
reconstruct clips, interpolate between two clips, or move clips from one attribute value to another (a digit
label or a speaker) by latent arithmetic. See :mod:`speechgen.inference.latent`."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any

from speechgen.cli.common import add_seed, console
from speechgen.errors import ConfigError

MODES = ("reconstruct", "interpolate", "attribute")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "transform", help="reconstruct, interpolate or transform clips through a VAE's latent space",
        description="Encode clips with a trained 'vae' or 'wae' model (run folder or checkpoint folder) and write "
        "WAVs to OUT: --mode reconstruct decodes each clip's own code (NN-CLIP-reconstruct.wav); interpolate "
        "decodes --steps points on the line between the codes of two clips (interpolate-KK.wav); attribute adds "
        "the attribute vector (mean code of the clips of --manifest whose --attribute is --to minus that of the "
        "clips whose value is --from) to each clip's code (NN-CLIP-ATTR-FROM-to-TO.wav, beside its "
        "reconstruction). OUT also gets grid.png and transform.json.",
    )
    p.add_argument("model", metavar="MODEL_OR_RUN", help="run folder or checkpoint folder of a vae/wae model")
    p.add_argument("--input", nargs="+", required=True, type=Path, metavar="WAV", help="input clip(s)")
    p.add_argument("--out", required=True, type=Path, help="output folder")
    p.add_argument("--mode", choices=MODES, default="reconstruct", help="operation (default reconstruct)")
    p.add_argument("--attribute", choices=("label", "speaker"), default=None, help="attribute to change")
    p.add_argument("--from", dest="value_from", default=None, metavar="A", help="attribute value of the inputs")
    p.add_argument("--to", dest="value_to", default=None, metavar="B", help="attribute value to move to")
    p.add_argument("--manifest", type=Path, default=None,
                   help="manifest whose clips define the attribute vector (default: the model's training manifest)")
    p.add_argument("--split", default="train", help="split of --manifest (default train)")
    p.add_argument("--max-clips", type=int, default=256, help="clips per attribute value (default 256)")
    p.add_argument("--scale", type=float, default=1.0, help="multiple of the attribute vector added (default 1)")
    p.add_argument("--steps", type=int, default=5, help="interpolation points, ends included (default 5)")
    p.add_argument("--label", type=int, default=None,
                   help="digit of the input clips, for conditional models (attribute label: defaults to --from)")
    p.add_argument("--phase", choices=("model", "source", "griffin-lim"), default="model",
                   help="phase for the audio: the model's phase channel (default), the input clip's real phase "
                   "(source; reconstruct/attribute), or Griffin-Lim from the amplitude")
    p.add_argument("--griffin-lim-iters", type=int, default=64, help="Griffin-Lim iterations")
    p.add_argument("--device", default="cpu", help="torch device (default cpu)")
    p.add_argument("--quiet", "-q", action="store_true", default=argparse.SUPPRESS, help="no summary line")
    add_seed(p)
    p.set_defaults(func=_transform)


def _safe(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", str(text)).strip("_") or "x"


def _check_args(args: argparse.Namespace) -> None:
    if args.mode == "interpolate":
        if len(args.input) != 2:
            raise ConfigError(f"--input: interpolate needs exactly two clips, got {len(args.input)}")
        if args.steps < 2:
            raise ConfigError(f"--steps: must be >= 2, got {args.steps}")
        if args.phase == "source":
            raise ConfigError("--phase: 'source' is for reconstruct and attribute (an interpolation has no source)")
    if args.mode == "attribute":
        for opt, v in (("--attribute", args.attribute), ("--from", args.value_from), ("--to", args.value_to)):
            if v is None:
                raise ConfigError(f"{opt}: required with --mode attribute")
    elif args.attribute is not None or args.value_from is not None or args.value_to is not None:
        raise ConfigError("--attribute/--from/--to: only with --mode attribute")
    if args.max_clips <= 0:
        raise ConfigError(f"--max-clips: must be > 0, got {args.max_clips}")
    if args.griffin_lim_iters <= 0:
        raise ConfigError(f"--griffin-lim-iters: must be > 0, got {args.griffin_lim_iters}")


def _transform(args: argparse.Namespace) -> int:
    from speechgen.inference import latent
    from speechgen.atomic import staged_dir, write_text
    from speechgen.inference.loading import data_and_feature, load
    from speechgen.models.roles import LATENT_CODEC
    from speechgen.models.sampling import save_grid

    _check_args(args)
    model, info = load(args.model, LATENT_CODEC, args.device)
    cfg = info.config
    data, feature = data_and_feature(cfg)
    rate = int(data["sample_rate"])
    channels = data.get("channels")
    n_classes = int(getattr(model, "n_classes", 0) or 0)

    label = args.label
    if n_classes and label is None and args.mode == "attribute" and args.attribute == "label":
        label = _int_label(args.value_from, "--from")
    if n_classes:
        if label is None:
            raise ConfigError(f"--label: this model is conditional on {n_classes} labels; give the inputs' digit")
        if not 0 <= label < n_classes:
            raise ConfigError(f"--label: must be in 0..{n_classes - 1}, got {label}")
    labels = [label] if n_classes else None

    full = latent.clip_features(args.input, feature, rate)
    x = latent.select_channels(full, channels)
    stems = [f"{i:02d}-{_safe(p.stem)}" for i, p in enumerate(args.input)]
    info: dict[str, Any] = {"model": str(args.model), "mode": args.mode,
                            "inputs": [str(p) for p in args.input], "outputs": []}

    if args.mode == "reconstruct":
        images = latent.reconstruct(model, x, labels)
        names = [f"{s}-reconstruct.wav" for s in stems]
        source = full
    elif args.mode == "interpolate":
        images = latent.interpolate(model, x[0], x[1], args.steps, labels)
        names = [f"interpolate-{k:02d}.wav" for k in range(args.steps)]
        source = None
    else:
        images, names, source = _attribute(args, model, x, full, stems, labels, label, n_classes, data, feature,
                                           rate, channels, info)
    audio = latent.to_audio(feature, images, channels, length=rate, phase=args.phase, source=source,
                            seed=args.seed, n_iter=args.griffin_lim_iters)
    amp = images[:, (list(channels).index(0) if channels else 0)].numpy()
    info["outputs"] = [str(Path(args.out) / name) for name in names]
    with staged_dir(args.out) as tmp:  # the clips, the grid and transform.json appear together
        paths = latent.save_wavs(tmp, names, audio, rate)
        save_grid(tmp / "grid.png", amp[:40], title=f"transform: {args.mode}")
        write_text(tmp / "transform.json", json.dumps(info, indent=2) + "\n")
    console(args).print(f"[bold]{args.out}[/bold]: {len(paths)} clips ({args.mode})")
    return 0


def _int_label(value: str | None, option: str) -> int:
    try:
        return int(str(value))
    except ValueError as exc:
        raise ConfigError(f"{option}: a label is an integer, got {value!r}") from exc


def _attribute(args: argparse.Namespace, model: Any, x: Any, full: Any, stems: list[str], labels: Any,
               label: int | None, n_classes: int, data: dict[str, Any], feature: Any, rate: int, channels: Any,
               info: dict[str, Any]) -> tuple[Any, list[str], Any]:
    import torch

    from speechgen.inference import latent

    a, b = str(args.value_from), str(args.value_to)
    tag = f"{args.attribute}-{_safe(a)}-to-{_safe(b)}"
    names = [f"{s}-reconstruct.wav" for s in stems] + [f"{s}-{tag}.wav" for s in stems]
    recon = latent.reconstruct(model, x, labels)
    info.update({"attribute": args.attribute, "from": a, "to": b, "scale": args.scale})
    if n_classes and args.attribute == "label":
        # a conditional model carries the label outside z: swap it, keep the code
        to = _int_label(b, "--to")
        _int_label(a, "--from")
        if not 0 <= to < n_classes:
            raise ConfigError(f"--to: must be in 0..{n_classes - 1}, got {to}")
        moved = latent.shift(model, x, torch.zeros(int(model.latent_dim)), labels, [to], scale=0.0)
        info["method"] = "label swap (conditional model)"
    else:
        manifest = args.manifest or data.get("manifest")
        if manifest is None or not Path(str(manifest)).exists():
            raise ConfigError(f"--manifest: needed to compute the attribute vector (the training manifest "
                              f"{manifest!r} is not here)")
        paths_a, lab_a = latent.manifest_clips(manifest, args.split, args.attribute, a, args.max_clips, args.seed,
                                               "--from")
        paths_b, lab_b = latent.manifest_clips(manifest, args.split, args.attribute, b, args.max_clips, args.seed,
                                               "--to")
        if n_classes and (None in lab_a or None in lab_b):
            raise ConfigError(f"--manifest: a conditional model needs labelled clips in split '{args.split}'")
        xa = latent.select_channels(latent.clip_features(paths_a, feature, rate), channels)
        xb = latent.select_channels(latent.clip_features(paths_b, feature, rate), channels)
        vec = latent.attribute_vector(model, xa, xb, lab_a if n_classes else None, lab_b if n_classes else None)
        moved = latent.shift(model, x, vec, labels, labels, scale=args.scale)
        info.update({"method": "latent arithmetic", "manifest": str(manifest), "split": args.split,
                     "clips_from": len(paths_a), "clips_to": len(paths_b), "vector_norm": float(vec.norm())})
    images = torch.cat([recon, moved])
    source = torch.cat([full, full])
    return images, names, source
