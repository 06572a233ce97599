#!/usr/bin/env bash
# The engine on real text, end to end: set up, build, create a seeded model, train one
# expert on Debian's fortunes, replay sampled segments of its PoDL manifest, and generate.
# Data goes to ./blyan-data (or $BLYAN_HOME).
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/blyan/target}"
HOME_DIR="${BLYAN_HOME:-blyan-data}"
STEPS="${STEPS:-300}"
bash scripts/setup.sh
cargo build --release -p blyan-moe
B="$CARGO_TARGET_DIR/release/blyan-moe"
"$B" --home "$HOME_DIR" init --seed 42 --out "$HOME_DIR/genesis.json"
"$B" --home "$HOME_DIR" train --model "$HOME_DIR/genesis.json" --units layer0.expert0 \
  --steps "$STEPS" --out "$HOME_DIR/expert.json" --manifest "$HOME_DIR/expert-manifest.json"
"$B" --home "$HOME_DIR" replay --manifest "$HOME_DIR/expert-manifest.json" --sample 29
"$B" --home "$HOME_DIR" train --model "$HOME_DIR/expert.json" --units all --checkpoint-every 50 \
  --steps "$STEPS" --out "$HOME_DIR/all.json" --manifest "$HOME_DIR/all-manifest.json"
"$B" --home "$HOME_DIR" generate --model "$HOME_DIR/all.json" --prompt "The meaning of life is " --max-tokens 200
