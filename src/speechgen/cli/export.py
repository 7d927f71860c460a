"""``speechgen export``: a vocoder's generator as an ONNX graph for deployment.

The generator is loaded without discriminators, its weight norm is folded into plain weights, and it is exported
(TorchScript-based exporter, ``dynamo=False``) with input ``mel`` ``[batch, n_mels, frames]`` and output ``audio``
``[batch, frames * hop_length]``, both with dynamic batch and time axes. A vocoder whose phase comes from an
iterative algorithm (the shipped default: Griffin-Lim) exports its network only, ending at the ``magnitude``
``[batch, bins, frames]``; ``FILE.yaml`` says which algorithm and parameters turn it into audio. Beside ``FILE`` a ``FILE.yaml`` records
what a caller needs to feed it: sample rate, hop length and the log-mel parameters. When ``onnxruntime`` is
installed the exported graph is run once against PyTorch and the largest difference is reported.
"""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from speechgen.cli.common import console
from speechgen.errors import ConfigError, DataError, MissingDependencyError

FORMATS = ("onnx",)
CHECK_FRAMES = 32


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export", help="export a vocoder's generator (ONNX)",
        description="Export the generator of MODEL (run folder or checkpoint folder of a vocoder) with weight norm "
        "removed and a dynamic time axis to FILE; FILE.yaml records its sample rate and feature parameters.",
    )
    p.add_argument("model", metavar="MODEL", help="run folder or checkpoint folder of a vocoder")
    p.add_argument("--format", choices=FORMATS, default="onnx", help="output format (default onnx)")
    p.add_argument("--out", required=True, type=Path, metavar="FILE", help="output file, e.g. vocoder.onnx")
    p.add_argument("--opset", type=int, default=17, help="ONNX opset (default 17)")
    p.set_defaults(func=_export)


def export_onnx(model: Any, out: Path, opset: int = 17) -> Path:
    """Write ``model``'s generator (weight norm removed in place) as ONNX to ``out`` atomically."""
    import torch

    from speechgen.atomic import atomic_path

    try:
        import onnx  # noqa: F401  (the exporter needs it to serialise the graph)
    except ImportError as exc:
        raise MissingDependencyError("export: the 'onnx' package is not installed (pip install onnx)") from exc
    if opset < 11:
        raise ConfigError(f"--opset: must be >= 11, got {opset}")
    if getattr(model, "onnx_unsupported", None):
        raise ConfigError(f"export: {type(model).__name__} cannot be exported to ONNX ({model.onnx_unsupported})")
    if opset < getattr(model, "onnx_min_opset", 11):
        raise ConfigError(f"--opset: {type(model).__name__} needs opset {model.onnx_min_opset} or later "
                          f"(ONNX's STFT operator), got {opset}")
    model.remove_weight_norm()
    wrapped, output = model.export_graph()
    dummy = torch.zeros(1, model.n_mels, CHECK_FRAMES)
    time_axis = {"audio": {0: "batch", 1: "samples"}}.get(output["name"], {0: "batch", 2: "frames"})
    with atomic_path(out) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            wrapped, (dummy,), str(tmp), input_names=["mel"], output_names=[output["name"]],
            dynamic_axes={"mel": {0: "batch", 2: "frames"}, output["name"]: time_axis},
            opset_version=opset, dynamo=False,
        )
    return out


def check_onnx(model: Any, path: Path, frames: int = 48, seed: int = 0) -> float | None:
    """Largest absolute difference between ONNX Runtime and PyTorch on a random log-mel (None without
    onnxruntime)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return None
    import torch

    rng = np.random.default_rng(seed)
    mel = (rng.standard_normal((1, model.n_mels, frames)) - 4.0).astype(np.float32)
    sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = sess.run(None, {"mel": mel})[0]
    want = model.export_reference(torch.from_numpy(mel)).cpu().numpy()
    if got.shape != want.shape:
        raise DataError(f"{path}: ONNX output shape {list(got.shape)} differs from PyTorch's {list(want.shape)}")
    return float(np.max(np.abs(got - want)))


def _export(args: argparse.Namespace) -> int:
    import yaml

    from speechgen.atomic import write_text
    from speechgen.inference.vocode import load_vocoder
    from speechgen.checkpoint import to_plain

    model, cfg, folder = load_vocoder(args.model, "cpu")
    out = Path(args.out)
    if out.is_dir():
        raise DataError(f"{out}: is a folder; give a file name such as {out / 'vocoder.onnx'}")
    export_onnx(model, out, args.opset)
    meta = {"format": "onnx", "opset": args.opset, "model": cfg["model"]["name"], "source": str(folder),
            "sample_rate": model.sample_rate, "hop_length": model.hop_length, "n_mels": model.n_mels,
            "feature": getattr(model, "feature", "log_mel"), "feature_params": to_plain(model.feature_params),
            "input": {"name": "mel", "shape": ["batch", model.n_mels, "frames"], "dtype": "float32"},
            "output": model.export_graph()[1]}
    write_text(out.with_name(out.name + ".yaml"), yaml.safe_dump(meta, sort_keys=False))
    diff = check_onnx(model, out)
    check = "onnxruntime not installed: not checked" if diff is None else f"max |onnx - torch| = {diff:.2e}"
    console(args).print(f"[bold]{out}[/bold]: {cfg['model']['name']} generator, {model.generator_parameters():,} "
                        f"parameters, {model.sample_rate} Hz, hop {model.hop_length}; {check}")
    return 0
