#!/usr/bin/env bash
# Copy-synthesis of the corpus's held-out test voices by a vocoder, judged with `speechgen compare`:
#   scripts/judge_vocoder.sh MODEL [CORPUS] [OUT]
#   VOCODE_ARGS="--gl-iters 8" scripts/judge_vocoder.sh MODEL [CORPUS] [OUT]   # extra `speechgen vocode` options
# MODEL: run folder, checkpoint folder or shipped name; CORPUS: a built digits corpus (default corpora/digits);
# OUT (default MODEL/copy-synthesis when MODEL is a folder): OUT/reference (links to the test clips),
# OUT/estimate (vocoded WAVs), OUT/compare.json ({"files": [...], "mean": {...}}) and OUT/compare.html (players and
# spectrograms of 8 pairs from the worst PESQ to the best).
set -euo pipefail
model=$1; corpus=${2:-corpora/digits}; out=${3:-$1/copy-synthesis}
bin=$(dirname "$0")/../.venv/bin
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
rm -rf "$out"; mkdir -p "$out/reference"
corpus_abs=$(cd "$corpus" && pwd)
# manifest columns: path,label,text,speaker,engine,split,...
awk -F, 'NR > 1 && $6 == "test" {print $1}' "$corpus/manifest.csv" | while read -r rel; do
  mkdir -p "$out/reference/$(dirname "$rel")"; ln -s "$corpus_abs/$rel" "$out/reference/$rel"
done
# shellcheck disable=SC2086  # VOCODE_ARGS is a list of options
"$bin/speechgen" vocode "$model" --in "$out/reference" --out "$out/estimate" ${VOCODE_ARGS:-} | tee "$out/vocode.log"
"$bin/speechgen" compare "$out/reference" "$out/estimate" --json "$out/compare.json" --html "$out/compare.html"
