#!/usr/bin/env bash
# Generation speed (issue #10 item 6): bytes/s and time to the first byte of the key-value
# cached path (what blyan_generate runs) against the reference path (a full forward pass over
# the context for every byte), interleaved, median of RUNS runs each, on the dev model
# (`blyan-moe init --seed 42`, the genesis weights; speed does not depend on training).
#
#   scripts/benchmarks/generation.sh [RUNS] [BYTES]      (defaults: 5 runs, 256 bytes)
#
# Two prompts: a short one ("The ") and one that fills the 128-byte context, whose first
# byte needs the whole prompt read. Needs the blyan-moe binary (built if missing).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/blyan/target}"
MOE="$CARGO_TARGET_DIR/release/blyan-moe"
[ -x "$MOE" ] || cargo build --release -p blyan-moe
RUNS="${1:-5}"
BYTES="${2:-256}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, \
$(grep -o -m1 -w 'avx512f' /proc/cpuinfo || grep -o -m1 -w 'avx2' /proc/cpuinfo); $RUNS runs of $BYTES bytes"
"$MOE" --home "$WORK" init --seed 42 --out "$WORK/g.json" > /dev/null
LONG="$(head -c 128 < <(yes 'A fortune cookie says: the chain learns in public, one byte at a time. ' | tr -d '\n'))"
for PROMPT in "The " "$LONG"; do
  for i in $(seq "$RUNS"); do
    for MODE in cached reference; do
      FLAG=""; [ "$MODE" = reference ] && FLAG="--reference"
      "$MOE" --home "$WORK" generate --model "$WORK/g.json" --prompt "$PROMPT" \
        --max-tokens "$BYTES" --seed "$i" --json $FLAG 2>/dev/null |
        python3 -c "import json,sys; o=json.load(sys.stdin); print('$MODE', o['tokens']/o['elapsed_ms']*1e3, o['first_byte_ms'])"
    done
  done > "$WORK/runs.txt"
  python3 - "$WORK/runs.txt" "${#PROMPT}" <<'PY'
import statistics, sys
rows = [l.split() for l in open(sys.argv[1])]
med = lambda mode, i: statistics.median(float(r[i]) for r in rows if r[0] == mode)
c, r = med("cached", 1), med("reference", 1)
print(f"prompt {sys.argv[2]:>3} bytes: cached {c:7.1f} B/s, first byte {med('cached', 2):6.1f} ms | "
      f"reference {r:6.1f} B/s, first byte {med('reference', 2):6.1f} ms | speed-up {c / r:.2f}x")
PY
done
