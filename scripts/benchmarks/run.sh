#!/usr/bin/env bash
# Regenerates pallets/*/src/weights.rs with frame-benchmarking on this machine.
#
#   scripts/benchmarks/run.sh                 # all four Blyan pallets
#   scripts/benchmarks/run.sh param-dag       # one pallet (directory name under pallets/)
#
# Builds `blyan-node --features runtime-benchmarks` (a separate feature set from the normal
# build: the first time ≈ 25 min on 2 cores with a warm cache), then runs
# `blyan-node benchmark pallet` against the runtime's Wasm blob with its `development`
# genesis preset and writes weights.rs through scripts/benchmarks/pallet-weight-template.hbs
# (pallet-style `WeightInfo` trait + `SubstrateWeight<T>` + `()`).
#
# Steps and repeats: 50 × 20 (the CLI defaults) for every pallet except param-dag, whose
# `propose_block` fills the DAG with n = 10^3..10^5 blocks before every sample; it runs
# 10 steps × 5 repeats so the 10^5 end stays within minutes. Its fitted slope on `n` is
# the O(dependencies) proof (docs/benchmarks.md).
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/blyan/target}"

pallets=("$@")
if [ ${#pallets[@]} -eq 0 ]; then
	pallets=(content-store model-spec param-dag dataset)
fi

echo "==> building blyan-node with runtime-benchmarks"
cargo build --release -p blyan-node --features runtime-benchmarks
node="$CARGO_TARGET_DIR/release/blyan-node"
wasm="$CARGO_TARGET_DIR/release/wbuild/blyan-runtime/blyan_runtime.compact.compressed.wasm"

for p in "${pallets[@]}"; do
	name="pallet_${p//-/_}"
	steps=50 repeat=20
	if [ "$p" = param-dag ]; then steps=10 repeat=5; fi
	echo "==> $name (steps $steps, repeat $repeat)"
	"$node" benchmark pallet \
		--runtime "$wasm" \
		--genesis-builder=runtime \
		--genesis-builder-preset=development \
		--pallet "$name" \
		--extrinsic '*' \
		--steps "$steps" \
		--repeat "$repeat" \
		--wasm-execution=compiled \
		--heap-pages=4096 \
		--template scripts/benchmarks/pallet-weight-template.hbs \
		--output "pallets/$p/src/weights.rs" \
		2>&1 | tee "/tmp/blyan-bench-$p.log"
done
