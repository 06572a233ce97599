#!/usr/bin/env bash
# Every test: engine, pallet, runtime and fuzz-smoke tests (`cargo test`), the node build, the
# test binary with the cheating engine (`--features adversary`, copied to
# blyan-node-adversary), and the end-to-end tests that drive `blyan-node` from @polkadot/api
# (e2e/).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/blyan/target}"
bash scripts/setup.sh
echo "== cargo test --release --workspace"
cargo test --release --workspace
echo "== cargo build --release -p blyan-node --features adversary (the e2e adversaries' binary)"
cargo build --release -p blyan-node --features adversary
cp "$CARGO_TARGET_DIR/release/blyan-node" "$CARGO_TARGET_DIR/release/blyan-node-adversary"
echo "== cargo build --release -p blyan-node"
cargo build --release -p blyan-node
echo "== e2e (@polkadot/api against blyan-node --dev)"
cd e2e
npm ci --no-audit --no-fund --loglevel=error
BLYAN_NODE="$CARGO_TARGET_DIR/release/blyan-node" \
	BLYAN_NODE_ADVERSARY="$CARGO_TARGET_DIR/release/blyan-node-adversary" npm test
