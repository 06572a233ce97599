#!/usr/bin/env bash
# Verification compute per claim as a ratio to the training compute (issue #4, SPEC
# "Proof-of-Learning"): trains one expert of the genesis model on Debian's fortunes the way
# the trainer worker does (16 × 64-byte batches, AdamW 3e-3, K = 10), then times what every
# validator does for the claim: evaluate parent and candidate on the validation set and
# replay r = 2 segments. Prints the ratios for each run length in STEPS.
#
#   scripts/benchmarks/verification-cost.sh [STEPS...]      (default: 300 1000 3000)
#
# CPU seconds (user + system) from /usr/bin/time; the machine's cores all work in each
# stage. Needs the blyan-moe binary (cargo build --release -p blyan-moe).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/blyan/target}"
MOE="$CARGO_TARGET_DIR/release/blyan-moe"
[ -x "$MOE" ] || cargo build --release -p blyan-moe
STEPS=("${@:-300 1000 3000}")
[ $# -eq 0 ] && STEPS=(300 1000 3000)
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

cpu() { # cpu seconds of a command
  /usr/bin/time -f "%U %S" -o t.txt "$@" > /dev/null 2>&1
  awk '{ printf "%.1f", $1 + $2 }' t.txt
}

"$MOE" init --seed 42 --out blyan-data/genesis.json > /dev/null
printf "%-6s %9s %9s %9s %9s %12s %14s\n" steps train_s eval_s replay_s ratio ratio_cached "(eval parent once per model)"
for S in "${STEPS[@]}"; do
  train=$(cpu "$MOE" train --model blyan-data/genesis.json --units layer0.expert0 --steps "$S" \
    --batch-size 16 --seq-len 64 --lr 3e-3 --checkpoint-every 10 --no-eval \
    --out blyan-data/trained.json --manifest blyan-data/manifest.json)
  eval_parent=$(cpu "$MOE" eval --model blyan-data/genesis.json)
  eval_cand=$(cpu "$MOE" eval --model blyan-data/trained.json)
  replay=$(cpu "$MOE" replay --manifest blyan-data/manifest.json --sample 2)
  awk -v s="$S" -v t="$train" -v p="$eval_parent" -v c="$eval_cand" -v r="$replay" 'BEGIN {
    printf "%-6s %9.1f %9.1f %9.1f %8.1f%% %11.1f%%\n", s, t, p + c, r, 100 * (p + c + r) / t, 100 * (c + r) / t }'
done
