#!/usr/bin/env bash
# Train a recipe (resuming if the run folder has a checkpoint), sample from its final weights and judge them:
#   scripts/train_and_judge.sh RECIPE RUN [N]
# N clips per label for conditional models, in all for unconditional ones (default: 100 per label / 1000 in all).
# Writes RUN/eval/ (WAVs, manifest.csv, grid.png) and RUN/eval.json. One torch thread: the timings of docs/results.md
# were taken that way on a shared 2-core machine.
set -euo pipefail
recipe=$1; run=$2; n=${3:-}
bin=$(dirname "$0")/../.venv/bin
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
resume=()
[ -e "$run/checkpoints/last.ckpt" ] && resume=(--resume)
"$bin/speechgen" train "$recipe" --out "$run" --threads "$OMP_NUM_THREADS" "${resume[@]}"
if [ -z "$n" ]; then
  if grep -Eq 'n_classes: *[1-9]' "$run/config.yaml"; then n=100; else n=1000; fi
fi
rm -rf "$run/eval"
"$bin/speechgen" sample "$run" --out "$run/eval" --n "$n" --seed 0
"$bin/speechgen" eval "$run/eval" --json "$run/eval.json"
