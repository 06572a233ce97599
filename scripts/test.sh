#!/usr/bin/env bash
# Every test: engine and pallet tests (`cargo test`), the node build, and the end-to-end
# test that drives `blyan-node --dev --tmp` from @polkadot/api (e2e/).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/blyan/target}"
bash scripts/setup.sh
echo "== cargo test --release --workspace"
cargo test --release --workspace
echo "== cargo build --release -p blyan-node"
cargo build --release -p blyan-node
echo "== e2e (@polkadot/api against blyan-node --dev)"
cd e2e
npm ci --no-audit --no-fund --loglevel=error
BLYAN_NODE="$CARGO_TARGET_DIR/release/blyan-node" npm test
