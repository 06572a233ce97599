#!/usr/bin/env bash
# The learning-efficiency benchmark (issue #10 item 7): how close the chain comes to the pace
# of its own engine.
#   1. The dev chain from genesis for T minutes, as the main job runs it (scripts/learn.sh:
#      datasets published, audited and voted, then the trainer worker's claims decided by the
#      validator), recording the validation loss of every accepted version and when.
#   2. The engine alone, from the same genesis (seed 42), training every unit continuously for
#      T minutes of training time (evaluations not counted) with the trainer worker's
#      hyper-parameters (16 × 64-byte batches, AdamW lr 3e-3) on the same corpus
#      (`blyan-moe curve`).
# Prints both curves and the ratio: the time plain training needs to reach the chain's final
# loss, divided by T (≥ 1 means plain training did not reach it in T). Target ≥ 0.8. Renders
# both curves in one PNG (default docs/img/learning-efficiency.png).
#
#   scripts/benchmarks/learning-efficiency.sh [T_MINUTES] [PNG]      (default: 30)
#
# Takes 2·T minutes plus the build; nothing else should run on the machine meanwhile.
set -euo pipefail
cd "$(dirname "$0")/../.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/blyan/target}"
T="${1:-30}"
PNG="${2:-docs/img/learning-efficiency.png}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
cargo build --release -p blyan-moe -p blyan-node
MOE="$CARGO_TARGET_DIR/release/blyan-moe"
echo "machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(nproc) cores, \
$(grep -o -m1 -w 'avx512f' /proc/cpuinfo || grep -o -m1 -w 'avx2' /proc/cpuinfo); T = $T minutes"

echo "== 1. the dev chain for $T minutes (log: $WORK/chain.log)"
BLYAN_EXIT=1 BLYAN_OUT="$WORK/chain" BLYAN_RPC_PORT="${BLYAN_RPC_PORT:-9955}" \
  bash scripts/learn.sh --for "$T" > "$WORK/chain.log" 2>&1 || { tail -30 "$WORK/chain.log"; exit 1; }
grep -E "ACCEPTED|minutes:" "$WORK/chain.log" || true

echo "== 2. the engine alone for $T minutes of training"
"$MOE" --home "$WORK/plain" init --seed 42 --out "$WORK/plain/genesis.json" > /dev/null
"$MOE" --home "$WORK/plain" curve --model "$WORK/plain/genesis.json" --minutes "$T" \
  --every-seconds 30 --out "$WORK/plain.csv"

python3 - "$WORK/chain/learning.csv" "$WORK/plain.csv" "$T" "$PNG" <<'PY'
import csv, sys
chain_csv, plain_csv, T, png = sys.argv[1], sys.argv[2], float(sys.argv[3]), sys.argv[4]
try:
    chain = [(float(r["seconds"]), float(r["nats_per_byte"]), r["unit"]) for r in csv.DictReader(open(chain_csv))]
except FileNotFoundError:
    chain = []
plain = [(float(r["seconds"]), float(r["nats_per_byte"])) for r in csv.DictReader(open(plain_csv))]
if not chain:  # no update accepted: the chain is still at genesis (plain's first point)
    chain = [(0.0, plain[0][1], "genesis")]
print("chain (seconds since the chain started, validation nats/byte):")
for t, l, u in chain:
    print(f"  {t:8.1f} s  {l:.4f}  {u}")
print("plain (seconds of training, validation nats/byte):")
for t, l in plain:
    print(f"  {t:8.1f} s  {l:.4f}")
target = chain[-1][1]
reach = None
for (t0, l0), (t1, l1) in zip(plain, plain[1:]):
    if l0 <= target:
        reach = t0
        break
    if l1 <= target:  # linear between the two evaluations
        reach = t0 + (t1 - t0) * (l0 - target) / (l0 - l1)
        break
if reach is None and plain[0][1] <= target:
    reach = 0.0
ratio = (reach / (T * 60)) if reach is not None else None
print(f"chain's final loss {target:.4f} nats/byte after {T:g} min; plain training reached it after "
      + (f"{reach:.0f} s" if reach is not None else f"more than {T:g} min"))
print("learning-efficiency ratio: " + (f"{ratio:.3f}" if ratio is not None else f"≥ 1 (plain did not reach it)")
      + " (target ≥ 0.8)")
try:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
except ImportError:
    sys.exit("matplotlib missing: no PNG (pip3 install matplotlib)")
fig, ax = plt.subplots(figsize=(8, 4.5))
xs = [t / 60 for t, _, _ in chain] + [T]
ys = [l for _, l, _ in chain] + [chain[-1][1]]
ax.step(xs, ys, where="post", marker="o", label="dev chain (accepted versions)")
ax.plot([t / 60 for t, _ in plain], [l for _, l in plain], marker=".", label="engine alone, all units")
ax.axhline(target, color="grey", lw=0.8, ls="--")
ax.set_xlabel("minutes (chain: since start; engine: of training)")
ax.set_ylabel("validation nats per byte")
ax.set_title(f"Learning efficiency: ratio {ratio:.3f}" if ratio is not None else "Learning efficiency: ratio ≥ 1")
ax.grid(alpha=0.3)
ax.legend()
fig.tight_layout()
fig.savefig(png, dpi=110)
print(f"-> {png}")
PY
