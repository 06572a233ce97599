#!/usr/bin/env bash
# Set up a CPU-only PyTorch venv for the baseline benchmark (moe/bench/torch_bench.py).
# NOT run in CI; run it by hand:  bash moe/bench/setup_torch.sh
#
# Venv location: ${TORCH_VENV:-$HOME/.cache/blyan/torch-venv}
#
# Only PyPI is reachable (download.pytorch.org, which hosts the +cpu wheels, is not).
# The default Linux x86_64 torch wheel on PyPI declares ~2.5 GB of nvidia-* CUDA
# packages (cublas, cudnn, nccl, ...) as dependencies. We first try to skip them:
# install torch with --no-deps, add its pure-python dependencies by hand, then check
# that `import torch` works on CPU.
# If that check fails, we fall back to the full install (with the nvidia wheels).
#
# What happened (2 cores / 24 GiB dev machine, Python 3.11.7, torch 2.15.0 from PyPI):
#   * `pip install --no-deps torch` (539 MB wheel) + the pure-python deps installs fine,
#     but `import torch` FAILS: the PyPI wheel is a CUDA build (2.15.0+cu132) and
#     torch/__init__.py hard-preloads libcudart.so.13 / libcublasLt at import, even on a
#     CPU-only machine. PyPI has no official CPU-only wheel (those live only on
#     download.pytorch.org, which is unreachable here), so the nvidia libs can't be avoided.
#   * The fallback, a full `pip install torch`, works: it adds ~2.5 GB of nvidia-*/cuda-*
#     wheels plus triton; the venv ends up at 5.4 GB. The whole script took ~75 s
#     (the registry mirror was fast, 100-700 MB/s). CPU inference/training works normally
#     (MKL + oneDNN, AVX512); the CUDA libs are loaded but unused.
#   The --no-deps attempt is kept (it costs no extra download: the fallback reuses the
#   installed torch) in case a future torch wheel imports without the CUDA libs.
set -euo pipefail

VENV="${TORCH_VENV:-$HOME/.cache/blyan/torch-venv}"
PY="$VENV/bin/python"

if [ ! -x "$PY" ]; then
    mkdir -p "$(dirname "$VENV")"
    python3 -m venv "$VENV"
fi
"$PY" -m pip install --quiet --upgrade pip

check_torch() {
    "$PY" -c 'import torch; x = torch.randn(4, 4); print("torch", torch.__version__, "ok:", float((x @ x).sum()) == float((x @ x).sum()))'
}

if check_torch 2>/dev/null; then
    echo "torch already installed in $VENV"
    exit 0
fi

echo "installing torch (no CUDA deps) into $VENV"
"$PY" -m pip install --no-deps torch
"$PY" -m pip install filelock typing-extensions sympy networkx jinja2 fsspec numpy

if check_torch 2>"$VENV/no-deps-import.log"; then
    echo "CPU-only torch install OK (nvidia-* packages avoided)"
else
    echo "torch without nvidia libs failed to import (see $VENV/no-deps-import.log);" \
        "falling back to the full install (pulls ~2.5 GB of nvidia-* wheels)" >&2
    "$PY" -m pip install torch
    check_torch
fi
echo "python: $PY"
