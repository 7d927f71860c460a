"""The two ways of counting the voices, measured on a mixtures manifest split (accuracy and confusion matrix):

- the paper's rule (Nachmani et al. 2020): run the separator of the most voices on every mixture of at most its
  count, count the output channels whose energy is within ``--threshold`` dB of the loudest channel's (its raw
  outputs, not rescaled). A model trained only on mixtures of its own count was never shown a silent channel, so the
  rule rests on what it does with fewer voices;
- with ``--counter RUN``, the learned speaker counter (``speechgen separate ... --counter``) on every mixture of its
  counts.

    python bench/count_rules.py runs/mulcat-2spk-cpu corpora/mixtures --split test --thresholds 5 --counter runs/counter
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch

from speechgen.audio.io import load
from speechgen.data.manifest import Manifest
from speechgen.evaluation.separation import count_confusion
from speechgen.inference.separate import load_counter, load_separator


def channel_levels(model: torch.nn.Module, mixture: np.ndarray) -> np.ndarray:
    """Energy of each raw output channel in dB relative to the loudest."""
    with torch.no_grad():
        out = model.separate(torch.from_numpy(mixture.astype(np.float32))[None])[0].double()
    energy = out.pow(2).mean(dim=-1).clamp(min=1e-20)
    return (10 * torch.log10(energy / energy.max())).numpy()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("model")
    ap.add_argument("manifest")
    ap.add_argument("--split", default="test")
    ap.add_argument("--thresholds", type=float, nargs="+", default=[6.0, 10.0, 15.0, 20.0, 30.0])
    ap.add_argument("--counter", default=None, help="also score this speaker counter")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(1)
    model, _ = load_separator(args.model)
    m = Manifest.read(args.manifest)
    rows = [r for r in m.select(args.split) if int(r["count"]) <= int(model.n_sources)]
    true, levels = [], []
    for r in rows:
        true.append(int(r["count"]))
        levels.append(channel_levels(model, load(m.resolve(r), int(model.sample_rate))[0]))
    counts = sorted(set(true))
    results = {}
    for t in args.thresholds:
        got = [int((lv > -t).sum()) for lv in levels]
        results[t] = count_confusion(true, got, counts)
        c = results[t]
        print(f"threshold {t:g} dB: accuracy {c['accuracy']:.1%}; rows (true {counts}) x columns {c['columns']}: "
              f"{c['matrix']}")
    spread = {k: np.percentile([lv.min() for lv, c in zip(levels, true) if c == k], [10, 50, 90]).round(1).tolist()
              for k in counts}
    print(f"quietest channel (dB below the loudest), 10/50/90th percentiles per true count: {spread}")
    report = {"model": args.model, "split": args.split, "n": len(rows), "by_threshold":
              {str(k): v for k, v in results.items()}, "quietest_channel_percentiles": spread}
    if args.counter:
        counter, _ = load_counter(args.counter)
        mine = [r for r in m.select(args.split) if int(r["count"]) in counter.counts]
        said = [int(counter.count(torch.from_numpy(load(m.resolve(r), int(counter.sample_rate))[0])[None])[0])
                for r in mine]
        c = count_confusion([int(r["count"]) for r in mine], said, list(counter.counts))
        print(f"counter {args.counter}: accuracy {c['accuracy']:.1%} on {len(mine)} mixtures; rows (true "
              f"{list(counter.counts)}) x columns {c['columns']}: {c['matrix']}")
        report["counter"] = dict(c, run=args.counter, n=len(mine))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
