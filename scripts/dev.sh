#!/usr/bin/env bash
# Sets up, builds and starts a Blyan development chain (Alice authors and finalises; state
# is thrown away on exit). RPC on ws://127.0.0.1:9944, Prometheus on 127.0.0.1:9615.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/blyan/target}"
bash scripts/setup.sh
cargo build --release -p blyan-node
exec "$CARGO_TARGET_DIR/release/blyan-node" --dev --tmp "$@"
