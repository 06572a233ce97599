#!/usr/bin/env bash
# The main job: a dev chain that learns from Debian's fortunes with no other input.
#
# Builds the node, writes every fortunes topic as a dataset (blyan-node export-corpus), starts
# `blyan-node --dev --tmp` (Alice: validator and auditor; Ferdie: trainer), publishes and submits the
# datasets, votes the audited ones through, and follows the chain's workers until the first
# expert update is accepted. Then it renders validation nats/byte per accepted version
# (blyan-learning/learning.png), asks blyan_generate for text, and keeps the chain running
# until Ctrl-C (BLYAN_EXIT=1 stops it instead).
#
#   scripts/learn.sh [--accepted N] [--minutes M]
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/blyan/target}"
OUT="${BLYAN_OUT:-blyan-learning}"
PORT="${BLYAN_RPC_PORT:-9944}"

bash scripts/setup.sh
cargo build --release -p blyan-node
NODE="$CARGO_TARGET_DIR/release/blyan-node"
(cd e2e && npm ci --no-audit --no-fund --silent)
python3 -c 'import matplotlib' 2>/dev/null || pip3 install --quiet matplotlib

rm -rf "$OUT" && mkdir -p "$OUT"
"$NODE" export-corpus --out "$OUT/datasets" > "$OUT/export.log"
tail -1 "$OUT/export.log"

"$NODE" --dev --tmp --rpc-port "$PORT" --no-prometheus > "$OUT/node.log" 2>&1 &
NODE_PID=$!
trap 'kill $NODE_PID 2>/dev/null || true; wait $NODE_PID 2>/dev/null || true' EXIT
echo "dev chain started (pid $NODE_PID, log $OUT/node.log, RPC ws://127.0.0.1:$PORT)"

node e2e/learn.js --ws "ws://127.0.0.1:$PORT" --datasets "$OUT/datasets" --out "$OUT" "$@"
python3 scripts/chart.py "$OUT/learning.csv" "$OUT/learning.png"

if [ "${BLYAN_EXIT:-0}" = 1 ]; then
  exit 0
fi
echo "The chain keeps learning (Ctrl-C stops it; state is discarded)."
wait $NODE_PID
