#!/usr/bin/env bash
# Verification compute per claim as a ratio to the training compute (issue #10 item 3; SPEC
# "Proof-of-Learning"; docs/pol.md "Verification by sampled windows"). For each claim shape
# the dev trainer makes (its schedule: the backbone with layer 0's router and expert 0 first,
# then groups of experts), it trains from the genesis model on Debian's fortunes the way the
# trainer worker does (16 × 64-byte batches, AdamW 3e-3, K = 10, STEPS steps), then times what
# every validator does for the claim:
#   - replay r = 1 challenged segment (the runtime's ReplaySegments);
#   - evaluate the checked windows of the evaluation record — one record batch of 8 windows in
#     32, drawn from a seed — for the base model and for the candidate
#     (`blyan-moe eval --check-windows`).
# It also times the full evaluation of both models (what validators did before, and what the
# trainer does to write its record) for comparison.
#
#   scripts/benchmarks/verification-cost.sh [STEPS]      (default: 300, the runtime's Steps)
#
# CPU seconds (user + system) from /usr/bin/time; the machine's cores all work in each stage.
# Needs the blyan-moe binary (cargo build --release -p blyan-moe).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/blyan/target}"
MOE="$CARGO_TARGET_DIR/release/blyan-moe"
[ -x "$MOE" ] || cargo build --release -p blyan-moe
STEPS="${1:-300}"
SEED=$(printf '5%.0s' $(seq 64))
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cd "$WORK"

cpu() { # cpu seconds of a command
  /usr/bin/time -f "%U %S" -o t.txt "$@" > /dev/null 2>&1
  awk '{ printf "%.1f", $1 + $2 }' t.txt
}

echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, \
$(grep -o -m1 -w 'avx512f' /proc/cpuinfo || grep -o -m1 -w 'avx2' /proc/cpuinfo); $STEPS steps, K = 10"
"$MOE" init --seed 42 --out blyan-data/genesis.json > /dev/null
printf "%-44s %8s %9s %11s %9s %10s %14s\n" claim train_s replay_s checked_s verify "ratio" "full eval (old)"
for UNITS in backbone,layer0.router,layer0.expert0 layer0.expert1,layer0.expert2,layer0.expert3,layer0.expert4,layer0.expert5; do
  train=$(cpu "$MOE" train --model blyan-data/genesis.json --units "$UNITS" --steps "$STEPS" \
    --batch-size 16 --seq-len 64 --lr 3e-3 --checkpoint-every 10 --no-eval \
    --out blyan-data/trained.json --manifest blyan-data/manifest.json)
  replay=$(cpu "$MOE" replay --manifest blyan-data/manifest.json --sample 1 --randomness "$SEED")
  check_parent=$(cpu "$MOE" eval --model blyan-data/genesis.json --check-windows "$SEED")
  check_cand=$(cpu "$MOE" eval --model blyan-data/trained.json --check-windows "$SEED")
  full_parent=$(cpu "$MOE" eval --model blyan-data/genesis.json --windows-out base.txt)
  full_cand=$(cpu "$MOE" eval --model blyan-data/trained.json --windows-out cand.txt)
  label="$UNITS"
  [ ${#label} -gt 44 ] && label="${label:0:41}..."
  awk -v u="$label" -v t="$train" -v r="$replay" -v p="$check_parent" -v c="$check_cand" \
    -v fp="$full_parent" -v fc="$full_cand" 'BEGIN {
    v = r + p + c
    printf "%-44s %8.1f %9.1f %11.1f %9.1f %9.1f%% %13.1f%%\n", u, t, r, p + c, v, 100 * v / t, 100 * (fp + fc + 2 * r) / t }'
  # The paired per-window differences: what a sample-only decision would rest on.
  paste base.txt cand.txt | awk -v delta_ppm=5000 '{ d = ($1 - $2) / 128e9; s += d; q += d * d; b += $1 / 128e9; n++ }
    END { b = int((n + 7) / 8); m = 8 * int((b + 31) / 32); mean = s / n; sd = sqrt(q / n - mean * mean);
      printf "    %d windows: mean improvement %.4f nats/byte, sigma_d %.4f, SE at m = %d: %.4f; delta = %.4f nats/byte\n",
        n, mean, sd, m, sd / sqrt(m), delta_ppm / 1e6 * b / n }'
done
echo "ratio = (replay 1 segment + checked windows of base and candidate) / training; the old column"
echo "is full evaluation of both models plus r = 2 segments, the rule before the evaluation record."
