#!/usr/bin/env python3
"""Renders validation nats/byte over the accepted model versions as a PNG.

    python3 scripts/chart.py blyan-learning/learning.csv blyan-learning/learning.png

The CSV is written by e2e/learn.js (scripts/learn.sh): version, block, unit, nats_per_byte,
genesis first. Needs matplotlib.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main(src: str, dst: str) -> None:
    with open(src, newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        sys.exit(f"{src}: no accepted versions yet")
    x = [int(r["version"]) for r in rows]
    y = [float(r["nats_per_byte"]) for r in rows]
    labels = [f'{r["unit"]}\n#{r["block"]}' if r["unit"] != "genesis" else "genesis" for r in rows]
    fig, ax = plt.subplots(figsize=(max(6, 1.4 * len(rows)), 4))
    ax.plot(x, y, marker="o")
    for xi, yi in zip(x, y):
        ax.annotate(f"{yi:.4f}", (xi, yi), textcoords="offset points", xytext=(0, 8), ha="center", fontsize=8)
    ax.set_xticks(x, labels, fontsize=7)
    ax.set_ylabel("validation nats per byte")
    ax.set_title("Blyan dev chain: accepted model versions (fortunes validation set)")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(dst, dpi=120)
    print(f"{len(rows)} versions: {y[0]:.4f} -> {y[-1]:.4f} nats/byte -> {dst}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(sys.argv[1], sys.argv[2])
