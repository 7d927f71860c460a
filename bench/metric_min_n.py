"""The minimum sample size of the judge's metrics: how FID, FID-class, IS, ln mIS, AM, NDB/K and label accuracy
of random subsets of n clips vary, and from which n they settle near their value at n = 1000, the n of every
table in docs/results.md (docs/results.md, Sample size; the constants ``MIN_N_*`` of
``speechgen.evaluation.metrics`` come from its output).

    python bench/metric_min_n.py --corpus corpora/digits --cache out/metric-min-n [--junk RUN] [--subsets 100]

Pools of clips, each embedded once by the shipped judge (cached in ``--cache``) and scored against the shipped
reference statistics exactly as ``speechgen eval`` scores:

- ``digits-default``: 400 clips per digit sampled from the shipped model (``speechgen sample digits-default
  --n 400 --seed 1``, run by the script into the cache unless ``--generated DIR`` is given); subsets take n/10
  clips of each digit, as ``speechgen sample --n`` draws them;
- ``real test``: the corpus's test split (3 held-out voices, 480 clips), subsets drawn regardless of digit (an
  unconditional model's mix); sizes up to half the pool, the target is the whole split (the published test row);
- ``junk`` (``--junk RUN``): a barely trained model (e.g. ``cvae-cpu`` stopped at 40 steps), 200 clips per digit
  sampled like digits-default;
- ``real train`` (reported, not used for the thresholds): subsets of the train split the reference statistics
  come from; their FID and NDB/K at n are the finite-sample bias alone (the true value is 0).

For each pool and each n of the grid, ``--subsets`` random subsets are scored; the *target* is the median over
subsets of n = 1000 (the whole pool for ``real test``). A metric settles at the smallest n from which on (that n
and every larger one up to the target's n) at least ``--coverage`` (90 %) of the subsets lie within its tolerance
of the target: FID and FID-class ±10 %, IS ±5 % (splits as the judge takes them: as many of 100+ clips as fit,
``metrics.default_is_splits``), ln mIS ±max(10 %, 0.5 nats), AM ±max(10 %, 0.05), NDB/K ±0.10, label accuracy
±0.05. The minimum of a metric is the largest settling n over the pools marked for thresholds (a pool smaller
than the target's n that does not settle within its sizes only says "more than its largest n"). Above n = 1000
the script also reports up to which n a metric stays within (NDB/K does not: it grows with n).

Last, how often FID's 95 % bootstrap interval (``fid_ci``) of a set of n clips of digits-default holds its FID at
n = 1000, for the plain percentile interval and the re-centred one that the judge reports.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from speechgen.evaluation import metrics as M
from speechgen.evaluation.judge import Judge, ndb_against_bins, shipped_reference

SIZES = (10, 20, 50, 100, 200, 300, 500, 700, 1000, 1200, 1500, 2000)
METRICS = ("fid", "fid_class", "inception_score", "log_modified_inception_score", "am_score", "ndb_over_k",
           "label_accuracy")
HEADINGS = {"fid": "FID", "fid_class": "FID-class", "inception_score": "IS",
            "log_modified_inception_score": "ln mIS", "am_score": "AM", "ndb_over_k": "NDB/K",
            "label_accuracy": "label acc"}
# tolerance around the target: (relative, absolute); a value is within when |v - t| <= max(rel * |t|, abs)
TOLERANCE = {"fid": (0.10, 0.0), "fid_class": (0.10, 0.0), "inception_score": (0.05, 0.0),
             "log_modified_inception_score": (0.10, 0.5), "am_score": (0.10, 0.05), "ndb_over_k": (0.0, 0.10),
             "label_accuracy": (0.0, 0.05)}


def embed_pool(judge: Judge, manifest: Path, split: str | None, cache: Path) -> dict[str, np.ndarray]:
    """``probs``, ``feats``, ``labels`` of a manifest's rows (of ``split``), cached in ``cache``."""
    from speechgen.data.manifest import Manifest

    if cache.is_file():
        with np.load(cache) as z:
            return {k: z[k] for k in z.files}
    m = Manifest.read(manifest)
    rows = [r for r in m if (split is None or r["split"] == split) and r["label"] is not None]
    t = time.perf_counter()
    probs, feats = judge.embed([str(m.resolve(r)) for r in rows])
    print(f"embedded {len(rows)} clips of {manifest} in {time.perf_counter() - t:.0f} s", file=sys.stderr)
    out = {"probs": probs, "feats": feats, "labels": np.array([int(r["label"]) for r in rows])}
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.savez(cache, **out)
    return out


def sample_model(model: str, folder: Path, per_digit: int, seed: int) -> Path:
    """``speechgen sample MODEL --n per_digit`` into ``folder`` (once)."""
    if not (folder / "manifest.csv").is_file():
        exe = Path(sys.executable).with_name("speechgen")
        subprocess.run([str(exe), "-q", "sample", model, "--out", str(folder), "--n", str(per_digit),
                        "--seed", str(seed)], check=True)
    return folder / "manifest.csv"


class Scorer:
    """Every metric of a subset, as :meth:`ReferenceStats.score` computes it (FID through one
    :class:`FrechetReference`; IS on one split of the subset)."""

    def __init__(self, ref) -> None:
        a = ref.arrays
        self.a = a
        self.alpha = float(ref.meta.get("ndb_alpha", 0.05))
        self.fid_ref = M.FrechetReference(a["train_mu"], a["train_sigma"])
        self.class_refs = [M.FrechetReference(a["train_class_mu"][c], a["train_class_sigma"][c])
                           for c in range(len(a["train_class_count"]))]

    def __call__(self, probs: np.ndarray, feats: np.ndarray, labels: np.ndarray, per_class: bool,
                 seed: int) -> dict[str, float]:
        mis = M.modified_inception_score(probs, seed=seed)
        out = {
            "fid": self.fid_ref.fid(feats),
            # as the judge scores IS: splits of a seeded random order (default_is_splits: >= 100 clips each)
            "inception_score": M.inception_score(probs[np.random.default_rng(seed).permutation(len(probs))],
                                                 M.default_is_splits(len(probs)))[0],
            "log_modified_inception_score": float(np.log(mis)),
            "am_score": M.am_score(self.a["train_label_dist"][None, :], probs),
            "ndb_over_k": ndb_against_bins(self.a["ndb_centres"], self.a["ndb_counts"], feats, self.alpha)[1],
            "label_accuracy": M.label_accuracy(probs, labels),
            "fid_class": float("nan"),
        }
        if per_class and np.bincount(labels).min() >= 2:  # FID-class needs 2 clips per digit
            out["fid_class"] = float(np.mean([self.class_refs[c].fid(feats[labels == c])
                                              for c in np.unique(labels)]))
        return out


def draw(labels: np.ndarray, n: int, stratified: bool, rng: np.random.Generator) -> np.ndarray:
    """Indices of a subset of n rows without replacement (n/10 of each label when ``stratified``)."""
    if not stratified:
        return rng.choice(len(labels), n, replace=False)
    classes = np.unique(labels)
    per = n // len(classes)
    return np.concatenate([rng.choice(np.flatnonzero(labels == c), per, replace=False) for c in classes])


def study(name: str, pool: dict[str, np.ndarray], scorer: Scorer, sizes: list[int], subsets: int, stratified: bool,
          target_n: int | None, seed: int) -> dict:
    """Metric values of ``subsets`` subsets per size; the targets; per metric the settling n."""
    rng = np.random.default_rng(seed)
    values: dict[int, dict[str, np.ndarray]] = {}
    for n in sizes:
        rows = []
        for s in range(subsets):
            idx = draw(pool["labels"], n, stratified, rng)
            rows.append(scorer(pool["probs"][idx], pool["feats"][idx], pool["labels"][idx], stratified, seed + s))
        values[n] = {k: np.array([r[k] for r in rows]) for k in METRICS}
    if target_n is None:  # the whole pool
        target = scorer(pool["probs"], pool["feats"], pool["labels"], stratified, seed)
    else:
        target = {k: float(np.median(values[target_n][k])) for k in METRICS}
    top = target_n or max(sizes)
    settle: dict[str, int | None] = {}
    upto: dict[str, int | None] = {}
    share: dict[str, dict[int, float]] = {}
    for k in METRICS:
        rel, ab = TOLERANCE[k]
        tol = max(rel * abs(target[k]), ab)
        share[k] = {n: float(np.mean(np.abs(values[n][k] - target[k]) <= tol)) if np.isfinite(target[k])
                    else float("nan") for n in sizes}
        settle[k] = None  # the smallest n from which every n up to the target's is within
        for n in reversed([n for n in sizes if n <= top]):
            if not share[k][n] >= COVERAGE:
                break
            settle[k] = n
        upto[k] = None  # above the target's n: the largest n up to which every n is within
        for n in [n for n in sizes if n >= top]:
            if not share[k][n] >= COVERAGE:
                break
            upto[k] = n
    return {"name": name, "values": values, "target": target, "share": share, "settle": settle, "upto": upto}


def bootstrap_study(pool: dict[str, np.ndarray], scorer: Scorer, target: float, sets: int, seed: int) -> None:
    """How often FID's 95 % bootstrap interval (200 resamples) of a set of n clips holds the FID at n = 1000: the
    plain percentile interval and the re-centred one that ``fid_ci`` reports (FrechetReference.bootstrap)."""
    rng = np.random.default_rng(seed)
    print(f"\n## FID's bootstrap interval (digits-default, {sets} sets per n, 200 resamples): share of sets whose "
          f"interval holds the FID at n = 1000 ({target:.3g}), mean width")
    print("| n | percentile interval | re-centred (fid_ci) | width | spread of the FID over the sets (2.5-97.5 %) |")
    print("|---|---|---|---|---|")
    for n in (50, 200, 500, 1000):
        plain, centred, widths, fids = 0, 0, [], []
        for s in range(sets):
            feats = pool["feats"][draw(pool["labels"], n, True, rng)]
            values = scorer.fid_ref.bootstrap_values(feats, M.FID_BOOTSTRAP, seed=s)
            lo, hi = np.quantile(values, [0.025, 0.975])
            c_lo, c_hi = scorer.fid_ref.bootstrap(feats, M.FID_BOOTSTRAP, seed=s)
            plain += lo <= target <= hi
            centred += c_lo <= target <= c_hi
            widths.append(hi - lo)
            fids.append(scorer.fid_ref.fid(feats))
        a, b = np.quantile(fids, [0.025, 0.975])
        print(f"| {n} | {plain / sets:.0%} | {centred / sets:.0%} | {np.mean(widths):.2f} | {a:.2f}-{b:.2f} |")


def print_study(r: dict) -> None:
    print(f"\n## {r['name']}: median [5 %, 95 %] over subsets; (share within tolerance of the target)")
    print("| n | " + " | ".join(HEADINGS[k] for k in METRICS) + " |")
    print("|---" * (len(METRICS) + 1) + "|")
    for n, v in r["values"].items():
        cells = []
        for k in METRICS:
            x = v[k]
            if not np.isfinite(x).all():
                cells.append("-")
                continue
            lo, med, hi = np.quantile(x, [0.05, 0.5, 0.95])
            cells.append(f"{med:.3g} [{lo:.3g}, {hi:.3g}] ({r['share'][k][n]:.0%})")
        print(f"| {n} | " + " | ".join(cells) + " |")
    print("| target | " + " | ".join(f"{r['target'][k]:.3g}" for k in METRICS) + " |")
    print("| settles at n | " + " | ".join(str(r["settle"][k] or "-") for k in METRICS) + " |")
    print("| still within up to n | " + " | ".join(str(r["upto"][k] or "-") for k in METRICS) + " |")


COVERAGE = 0.9


def main() -> None:
    global COVERAGE
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--corpus", type=Path, required=True, help="the digits corpus (its manifest.csv or folder)")
    ap.add_argument("--cache", type=Path, default=Path("out/metric-min-n"), help="sampled clips and embeddings")
    ap.add_argument("--generated", type=Path, default=None,
                    help="digits-default clips (manifest folder; default: sampled into the cache)")
    ap.add_argument("--junk", type=Path, default=None, help="a barely trained run or its sampled clips' folder")
    ap.add_argument("--subsets", type=int, default=100, help="random subsets per n (default 100)")
    ap.add_argument("--coverage", type=float, default=0.9, help="share of subsets within tolerance (default 0.9)")
    ap.add_argument("--bootstrap-sets", type=int, default=20,
                    help="sets per n for the coverage of FID's bootstrap interval (default 20; 0: skip)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=Path, default=None, help="also write the settling n and targets as JSON")
    args = ap.parse_args()
    COVERAGE = args.coverage
    t0 = time.perf_counter()
    judge = Judge()
    ref = shipped_reference(judge)
    scorer = Scorer(ref)
    corpus = args.corpus if args.corpus.suffix == ".csv" else args.corpus / "manifest.csv"
    gen = args.generated or sample_model("digits-default", args.cache / "digits-default", 400, 1).parent
    pools = [
        ("digits-default", embed_pool(judge, Path(gen), None, args.cache / "digits-default.npz"), True, 1000,
         list(SIZES), True),
        ("real test", embed_pool(judge, corpus, "test", args.cache / "test.npz"), False, None,
         [n for n in SIZES if n <= 240], True),
        ("real train", embed_pool(judge, corpus, "train", args.cache / "train.npz"), False, 1000, list(SIZES),
         False),
    ]
    if args.junk is not None:
        junk = args.junk if (args.junk / "manifest.csv").is_file() else \
            sample_model(str(args.junk), args.cache / "junk", 200, 1).parent
        pools.insert(1, ("junk", embed_pool(judge, junk, None, args.cache / "junk.npz"), True, 1000,
                         [n for n in SIZES if n <= 1000], True))
    print(f"judge {judge.version}; {args.subsets} subsets per n; target = median at n = 1000 (real test: all "
          f"480); coverage {COVERAGE:.0%}; tolerances {json.dumps(TOLERANCE)}")
    results = []
    for name, pool, stratified, target_n, sizes, use in pools:
        r = study(name, pool, scorer, sizes, args.subsets, stratified, target_n, args.seed)
        r["use"], r["target_n"] = use, target_n
        results.append(r)
        print_study(r)
    if args.bootstrap_sets:
        dd = next(r for r in results if r["name"] == "digits-default")
        bootstrap_study(pools[0][1], scorer, dd["target"]["fid"], args.bootstrap_sets, args.seed)
    print("\n## minimum n per metric: the largest settling n over the pools marked *; above n = 1000, the largest "
          "n up to which it stays within (pools with 1000 clips or more)")
    summary = {}
    for k in METRICS:
        used = [r for r in results if r["use"] and np.isfinite(r["target"][k])]
        # a pool smaller than the target's n that did not settle within its sizes says only "more than its largest
        # n": it sets no minimum when another pool's settling n is larger
        settle = [r["settle"][k] for r in used if r["settle"][k] is not None or r["target_n"] is not None]
        bounds = [max(r["values"]) for r in used if r["settle"][k] is None and r["target_n"] is None]
        upto = [r["upto"][k] for r in used if r["target_n"] is not None and max(r["values"]) > r["target_n"]]
        worst = None if any(v is None for v in settle) or not settle or max(settle) <= max(bounds, default=0) \
            else max(settle)
        high = None if any(v is None for v in upto) else min(upto)
        summary[k] = {"min_n": worst, "within_up_to": high}
        per = ", ".join(f"{r['name']}{'*' if r['use'] else ''} {r['settle'][k] or '-'}" for r in results)
        print(f"- {HEADINGS[k]}: minimum n {worst or 'not within the grid'}; within up to n {high or '-'}  ({per})")
    print(f"\n{time.perf_counter() - t0:.0f} s")
    if args.json is not None:
        args.json.write_text(json.dumps([{"summary": summary}] + [{"name": r["name"], "target": r["target"],
                                          "settle": r["settle"], "upto": r["upto"],
                                          "share": {k: {str(n): s for n, s in v.items()}
                                                    for k, v in r["share"].items()}} for r in results], indent=1))


if __name__ == "__main__":
    main()
