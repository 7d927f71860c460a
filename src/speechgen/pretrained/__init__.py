"""Shipped default weights (safetensors + YAML, inside the package) and their registry.

``PRETRAINED`` maps a shipped name to its folder under this package; :func:`path` resolves a name to that folder
(CheckpointError when the name is unknown or its files are missing).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from speechgen.errors import CheckpointError

#: shipped name → folder (relative to this package) holding model.safetensors + config.yaml (+ extras)
PRETRAINED: dict[str, str] = {
    "classifier": "classifier",
    "digit-detector": "digit-detector",  # the judge's "not a digit" outcome (recipes/classifier/detector.yaml)
    "digits-default": "digits-default",  # conditional VAE of the amplitude image (recipes/spectrogram/cvae-cpu.yaml)
    "default": "default",  # vocoder: iSTFT vocoder, Griffin-Lim phase (recipes/vocoder/istft-vocoder-gl-cpu.yaml)
    "dsp": "dsp",  # vocoder without weights: mel pseudo-inverse + PGHI + fast Griffin-Lim (scripts/ship_dsp_vocoder.py)
    "recognizer": "recognizer",  # the judge of digit strings: conv + BiGRU + CTC (recipes/recognizer/ctc-recognizer-cpu.yaml)
    "tts-default": "tts-default",  # text to speech: Tacotron 2 at CPU size, 26 voices (recipes/tts/tacotron2-cpu.yaml)
}


def path(name: str) -> Path:
    """Folder of the shipped weights ``name``."""
    if name not in PRETRAINED:
        raise CheckpointError(f"unknown pretrained model '{name}' (shipped: {', '.join(sorted(PRETRAINED))})")
    folder = Path(str(resources.files(__name__) / PRETRAINED[name]))
    if not (folder / "model.safetensors").is_file():
        raise CheckpointError(f"{folder}: shipped weights '{name}' are missing (model.safetensors)")
    return folder
