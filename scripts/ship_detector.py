"""Ship a trained digit detector (the judge's "not a digit" outcome): copy RUN/final into
src/speechgen/pretrained/digit-detector and add its measured behaviour on held-out voices to its config.yaml.

    python scripts/ship_detector.py out/detector corpora/digits-words
    python scripts/ship_detector.py --evaluate-only out/detector corpora/digits-words   # print, ship nothing

The decision threshold (the detector's probability of "not a digit" from which a clip is not a digit) is
calibrated on the valid voices, the lowest of 0.50, 0.55, ..., 0.95 at which every valid voice keeps at least
99.5 % of its digit clips, then raised by ``--margin`` (0.10, at most to 0.95) for voices farther from the corpus
than the held-out synthetic ones: the digits of a real human voice score higher than those of any synthetic voice
(docs/results.md, Not a digit). ``--threshold T`` sets it instead. The test voices are not looked at for it.

The evaluation runs the whole verdict of ``Judge.analyse`` (duration rules + detector on the second around the
speech) on the valid and test voices of a corpus built with ``--words``: the share of digit clips kept as digits,
of single words and of sentences judged not a digit, per voice; on synthetic noise and silence clips (1 s and 3 s,
seeded); and on the issue's cases (issue 17, item 4): two English sentences of 3-4 s (espeak-ng en-us, flite slt)
and a 30-s conversation of sentences from six voices, with the classifier's old centre-second verdict beside.
"""

from __future__ import annotations

import argparse
import shlex
import shutil
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from speechgen.atomic import write_text
from speechgen.data.manifest import Manifest
from speechgen.evaluation.judge import Judge

DEST = Path(__file__).resolve().parents[1] / "src" / "speechgen" / "pretrained" / "digit-detector"
KINDS = {"digits": "digit", "words": "word", "sentences": "sentence", "strings": "string"}

# The issue's cases: two sentences of 3-4 s, and the lines of a conversation (several voices, about 30 s).
SENTENCES = (
    ("espeak-ng", "en-us", "the weather was cold so we stayed inside and read by the fire"),
    ("flite", "slt", "please bring your umbrella because it will rain this afternoon"),
)
CONVERSATION = (
    ("espeak-ng", "en-gb+f5", "good morning how are you feeling today"),
    ("flite", "rms", "not bad thanks i just got back from a long walk by the river"),
    ("espeak-ng", "en-us+m1", "that sounds lovely was it very busy out there this morning"),
    ("festival", "ked_diphone", "no it was quiet and the birds were singing in the trees"),
    ("flite", "awb", "i should go out more often but the kitchen needs cleaning and the garden is a mess"),
    ("espeak-ng", "en-gb-scotland+m3", "why not come along with us next weekend we can have lunch at the old mill"),
    ("flite", "slt", "that would be wonderful let me check with my sister and call you back tonight"),
    ("espeak-ng", "en-gb+f5", "perfect talk to you soon and say hello to her from me"),
)


def _synth(engine: str, voice: str, text: str) -> np.ndarray:
    from speechgen.data.corpus.digits import trim
    from speechgen.data.corpus.engines import Synthesizer, Voice

    with tempfile.TemporaryDirectory() as tmp:
        s = Synthesizer(Path(tmp))
        try:
            audio = s.say(Voice(engine, voice, voice), text, pitch=0.0, rate=1.0)
        finally:
            s.close()
    x = trim(audio)
    return (0.9 * x / np.abs(x).max()).astype(np.float32)


def issue_cases() -> dict[str, np.ndarray]:
    """The two sentences and the conversation (16 kHz float32; needs espeak-ng, flite and festival)."""
    out = {f"sentence {i + 1} ({e} {v})": _synth(e, v, t) for i, (e, v, t) in enumerate(SENTENCES)}
    rng = np.random.default_rng(0)
    parts = []
    for e, v, t in CONVERSATION:
        parts += [_synth(e, v, t), np.zeros(int(rng.uniform(0.3, 0.9) * 16000), np.float32)]
    out["conversation (6 voices)"] = np.concatenate(parts)
    return out


def noise_clips(n: int, seconds: float, seed: int) -> tuple[list[np.ndarray], list[str]]:
    from speechgen.training.schemes.classification import noise_clip

    clips, kinds = [], []
    for i in range(n):
        x, k = noise_clip(np.random.default_rng([seed, i]), int(seconds * 16000))
        clips.append(x)
        kinds.append(k)
    return clips, kinds


def evaluate(judge: Judge, manifest: Manifest, splits: tuple[str, ...] = ("valid", "test")) -> dict[str, Any]:
    """Per split: the share of right verdicts, and per voice the share of digits kept and of words / sentences
    judged not a digit."""
    out: dict[str, Any] = {}
    for split in splits:
        rows = [r for r in manifest.select(split) if str(r["path"]).split("/")[0] in KINDS]
        a = judge.analyse([manifest.resolve(r) for r in rows])
        by: dict[str, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))  # voice -> kind -> flags
        rule: dict[str, list[int]] = defaultdict(list)  # kind -> judged not a digit by a duration rule
        for r, flag, reason in zip(rows, a.not_digit, a.reasons):
            kind = KINDS[str(r["path"]).split("/")[0]]
            for voice in (str(r["speaker"]), "all"):
                by[voice][kind].append(int(flag))
            rule[kind].append(int(reason not in (None, "detector")))
        table: dict[str, Any] = {}
        for voice, kinds in sorted(by.items(), key=lambda kv: (kv[0] == "all", kv[0])):
            row: dict[str, Any] = {}
            for kind, flags in kinds.items():
                share = float(np.mean(flags))
                row["digits kept" if kind == "digit" else f"{kind}s rejected"] = round(
                    1.0 - share if kind == "digit" else share, 4)
                row[f"n {kind}s"] = len(flags)
            table[voice] = row
        right = [1 - f if k == "digit" else f for k, flags in by["all"].items() for f in flags]
        table["all"]["rejected by a duration rule"] = {k: round(float(np.mean(v)), 4) for k, v in rule.items()}
        out[split] = {"accuracy": round(float(np.mean(right)), 4), "per_voice": table}
    return out


def evaluate_noise(judge: Judge) -> dict[str, Any]:
    """Share of synthetic noise and silence clips (1 s and 3 s, 400 each, seeded) judged not a digit."""
    noise: dict[str, Any] = {}
    for seconds in (1.0, 3.0):
        clips, kinds = noise_clips(400, seconds, seed=1234)
        a = judge.analyse(clips)
        by: dict[str, list[bool]] = defaultdict(list)
        for k, flag in zip(kinds, a.not_digit):
            by[k].append(bool(flag))
        noise[f"{seconds:g} s"] = {"rejected": round(float(a.not_digit.mean()), 4), "n": len(clips),
                                   "per_kind": {k: round(float(np.mean(v)), 3) for k, v in sorted(by.items())}}
    return noise


def evaluate_cases(judge: Judge) -> dict[str, Any]:
    """The issue's sentences and conversation: the verdict now, and the classifier's centre-second digit before."""
    c = issue_cases()
    a = judge.analyse(list(c.values()), crops=True)
    return {name: {"seconds": round(float(d), 2), "not_digit": bool(f), "reason": r,
                   "centre_second_digit": f"{int(p.argmax())} (p {p.max():.2f})"}
            for name, d, f, r, p in zip(c, a.durations, a.not_digit, a.reasons, a.probs)}


def calibrate(judge: Judge, manifest: Manifest, keep: float = 0.995) -> tuple[float, dict[str, float]]:
    """The lowest threshold on a 0.05 grid at which every valid voice keeps ``keep`` of its digits, and each
    voice's share kept at it."""
    rows = list(manifest.select("valid", labelled=True))
    p = judge.analyse([manifest.resolve(r) for r in rows]).not_digit_probability
    voices = np.array([str(r["speaker"]) for r in rows])
    for t in np.round(np.arange(0.5, 0.951, 0.05), 2):
        kept = {str(v): float(np.mean(p[voices == v] < t)) for v in sorted(set(voices))}
        if min(kept.values()) >= keep:
            return float(t), kept
    return 0.95, {str(v): float(np.mean(p[voices == v] < 0.95)) for v in sorted(set(voices))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("run", type=Path, help="training run folder (uses RUN/final)")
    ap.add_argument("manifest", type=Path, help="corpus manifest built with --words (valid/test voices)")
    ap.add_argument("--evaluate-only", action="store_true", help="print the evaluation, ship nothing")
    ap.add_argument("--version", type=int, default=1, help="version number of the shipped weights")
    ap.add_argument("--threshold", type=float, default=None, help="decision threshold (default: calibrated)")
    ap.add_argument("--margin", type=float, default=0.10, help="added to the calibrated threshold (default 0.10)")
    args = ap.parse_args()
    final = args.run / "final" if (args.run / "final").is_dir() else args.run
    m = Manifest.read(args.manifest)
    if args.evaluate_only:
        judge = Judge(detector=final)
        print(yaml.safe_dump({"evaluation": evaluate(judge, m), "noise": evaluate_noise(judge),
                              "issue_cases": evaluate_cases(judge)}, sort_keys=False))
        return
    DEST.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(final / "model.safetensors", DEST / "model.safetensors")
    cfg = yaml.safe_load((final / "config.yaml").read_text())
    cfg["version"] = args.version
    cfg["recipe_path"] = "recipes/classifier/detector.yaml"
    write_text(DEST / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    judge = Judge(detector=DEST)
    if args.threshold is None:
        calibrated, kept = calibrate(judge, m)
        threshold = round(min(0.95, calibrated + args.margin), 2)
        cfg["calibration"] = {"split": "valid", "rule": "lowest of 0.50, 0.55, ..., 0.95 keeping >= 99.5 % of "
                              "every valid voice's digits, + margin (at most 0.95)", "calibrated": calibrated,
                              "margin": args.margin, "threshold": threshold,
                              "digits_kept_at_calibrated": {k: round(v, 4) for k, v in kept.items()}}
    else:
        threshold = args.threshold
    cfg["model"]["kwargs"]["threshold"] = threshold
    write_text(DEST / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    judge = Judge(detector=DEST)
    counts: dict[str, Any] = {}
    for split in ("train", "valid", "test"):
        rows = m.select(split)
        n = {KINDS[p]: sum(1 for r in rows if str(r["path"]).startswith(p + "/")) for p in KINDS}
        counts[split] = {k: v for k, v in n.items() if v}
    cfg["corpus"] = {"manifest": str(args.manifest), "clips": counts,
                     "voices": {s: sorted({str(r["speaker"]) for r in m.select(s)}) for s in ("train", "valid",
                                                                                             "test")}}
    cfg["evaluation"] = evaluate(judge, m)
    cfg["evaluation_noise"] = evaluate_noise(judge)
    cfg["issue_cases"] = evaluate_cases(judge)
    cfg["ship_command"] = "python " + shlex.join(sys.argv)
    write_text(DEST / "config.yaml", yaml.safe_dump(cfg, sort_keys=False))
    for f in DEST.iterdir():
        f.chmod(0o644)
    print(yaml.safe_dump({k: cfg[k] for k in ("evaluation", "evaluation_noise", "issue_cases")}, sort_keys=False))


if __name__ == "__main__":
    main()
