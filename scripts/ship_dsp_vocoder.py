"""Ship the weightless vocoder ``dsp`` (:class:`speechgen.models.dsp_vocoder.DSPVocoder` with its defaults): write
src/speechgen/pretrained/dsp/ with its config.yaml and an empty model.safetensors (the loader reads one; the model
has no tensors), and record the figures that judged it (docs/vocoders.md, The DSP vocoder):

    python scripts/ship_dsp_vocoder.py                                   # the folder, no figures
    scripts/judge_vocoder.sh dsp corpora/digits out/dsp                  # copy synthesis of the 480 test clips
    python scripts/ship_dsp_vocoder.py --compare out/dsp/compare.json --x-realtime 1=X 2=Y

``--x-realtime THREADS=X``: the speed (× real time) that ``speechgen vocode dsp`` printed with that many threads.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from speechgen.checkpoint import save_checkpoint
from speechgen.models.dsp_vocoder import DSPVocoder

ROOT = Path(__file__).resolve().parents[1] / "src" / "speechgen" / "pretrained" / "dsp"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--compare", type=Path, default=None, help="JSON written by `speechgen compare --json`")
    ap.add_argument("--x-realtime", nargs="*", default=[], metavar="THREADS=X", help="measured speeds")
    ap.add_argument("--out", type=Path, default=ROOT, help=f"folder to write (default {ROOT})")
    args = ap.parse_args()
    model = DSPVocoder()
    kwargs = {"sample_rate": model.sample_rate, "feature_params": model.feature_params, "n_fft": model.n_fft,
              "hop_length": model.stft_hop, "magnitude": model.magnitude, "phase": model.phase,
              "gl_iters": model.gl_iters, "momentum": model.momentum, "tol": model.tol, "fill": model.fill,
              "power": model.power}
    shipped: dict = {"name": "dsp",
                     "train_command": "none: no training, no weights (python scripts/ship_dsp_vocoder.py)"}
    if args.compare is not None:
        judged = json.loads(args.compare.read_text())
        shipped["compare"] = {"n": len(judged["files"]), **judged["mean"]}
        shipped["compare_command"] = "scripts/judge_vocoder.sh dsp corpora/digits out/dsp"
    if args.x_realtime:
        shipped["speed"] = [{"threads": int(t), "x_realtime": float(x)}
                            for t, x in (item.split("=", 1) for item in args.x_realtime)]
    save_checkpoint(args.out, model, {"name": "dsp", "kwargs": kwargs},
                    extra={"ship_command": "python scripts/ship_dsp_vocoder.py", "shipped": shipped})
    print(f"{args.out}: written")


if __name__ == "__main__":
    main()
