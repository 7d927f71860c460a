#!/usr/bin/env bash
# Judge a text-to-speech run on the digit strings it never trained on, in the voices it trained on, beside the
# corpus's own recordings of the same strings (docs/results.md, Text to speech):
#   scripts/judge_tts.sh RUN [CORPUS] [OUT]
#   RECOGNIZER=runs/ctc-recognizer-cpu scripts/judge_tts.sh RUN     # another recognizer than the shipped one
#   TTS_ARGS="--vocoder dsp" scripts/judge_tts.sh RUN                # extra `speechgen tts` options
# RUN: a tts run or checkpoint folder, or a shipped name (tts-default); CORPUS (default corpora/strings): the corpus it trained on; OUT (default
# RUN/judged). Writes OUT/spoken (the model speaking the train split's held-out strings, each in its row's voice:
# `speechgen tts --manifest`), OUT/reference/manifest.csv (the recordings of the same rows), OUT/spoken.json and
# OUT/reference.json (`speechgen eval`: string accuracy, digit error rate, per-position accuracy), and
# OUT/runaway/*: 500 more held-out strings of 2-6 digits (100 in each of 5 voices) and how many never stopped.
set -euo pipefail
run=$1; corpus=${2:-corpora/strings}; out=${3:-$1/judged}
bin=$(dirname "$0")/../.venv/bin
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
recognizer=${RECOGNIZER:-recognizer}
frac=$("$bin/python" - "$run" <<'PY'
import sys
from speechgen.inference.loading import describe
print(describe(sys.argv[1]).config["recipe"]["data"]["held_out_fraction"])
PY
)
rm -rf "$out"; mkdir -p "$out/reference" "$out/runaway"
# shellcheck disable=SC2086  # TTS_ARGS is a list of options
"$bin/speechgen" tts "$run" --manifest "$corpus" --split train --held-out "$frac" --out "$out/spoken" ${TTS_ARGS:-} \
  | tee "$out/tts.log"
"$bin/python" - "$out" <<'PY'
import csv, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/spoken/manifest.csv", newline="")))
with open(f"{out}/reference/manifest.csv", "w", newline="") as fh:
    w = csv.writer(fh)
    w.writerow(["path", "label", "text", "speaker"])
    for r in rows:
        w.writerow([r["reference"], r["label"], r["text"], r["speaker"]])
PY
"$bin/speechgen" eval "$out/spoken" --recognizer "$recognizer" --splits 5 --json "$out/spoken.json"
"$bin/speechgen" eval "$out/reference/manifest.csv" --recognizer "$recognizer" --splits 5 --json "$out/reference.json"
# runaway decoding: 500 held-out strings of 2-6 digits never seen in training, 100 in each of 5 voices
"$bin/python" - "$out/runaway" "$frac" "$out/spoken/manifest.csv" <<'PY'
import csv, sys
import numpy as np
from speechgen.data.text import digits_text, held_out
out, frac = sys.argv[1], float(sys.argv[2])
voices = sorted({r["speaker"] for r in csv.DictReader(open(sys.argv[3], newline=""))})[:5]
rng, texts = np.random.default_rng(0), []
while len(texts) < 500:
    t = digits_text(rng.integers(0, 10, size=int(rng.integers(2, 7))))
    if held_out(t, frac) and t not in texts:
        texts.append(t)
for k, v in enumerate(voices):
    open(f"{out}/{k}.txt", "w").write(v + "\n" + "\n".join(texts[100 * k: 100 * (k + 1)]) + "\n")
PY
stopped=0; total=0
for f in "$out"/runaway/*.txt; do
  k=$(basename "$f" .txt); voice=$(head -1 "$f"); tail -n +2 "$f" > "$out/runaway/$k.texts"
  # shellcheck disable=SC2086
  "$bin/speechgen" --quiet tts "$run" --text-file "$out/runaway/$k.texts" --speaker "$voice" \
    --out "$out/runaway/$k" ${TTS_ARGS:-} 2> "$out/runaway/$k.warnings" || { cat "$out/runaway/$k.warnings"; exit 1; }
  s=$(awk -F, 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == "stopped") c = i} NR > 1 {n += $c} END {print n}' \
      "$out/runaway/$k/manifest.csv")
  n=$(($(wc -l < "$out/runaway/$k/manifest.csv") - 1)); stopped=$((stopped + s)); total=$((total + n))
done
echo "runaway check: the stop token fired on $stopped of $total held-out strings" | tee "$out/runaway.txt"
