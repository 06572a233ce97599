#!/usr/bin/env bash
# Set up a CPU-only PyTorch venv for the baseline benchmark (moe/bench/torch_bench.py).
# NOT run in CI; run it by hand:  bash moe/bench/setup_torch.sh
#
# Venv location: ${TORCH_VENV:-$HOME/.cache/blyan/torch-venv}
#
# Only PyPI is reachable (download.pytorch.org, which hosts the +cpu wheels, is not).
# The default Linux x86_64 torch wheel on PyPI declares ~2.5 GB of nvidia-* CUDA
# packages (cublas, cudnn, nccl, ...) as dependencies. The torch wheel itself loads
# them lazily only when CUDA is used, so we install torch with --no-deps and add its
# pure-python dependencies by hand, then check that `import torch` works on CPU.
# If that check fails, we fall back to the full install (with the nvidia wheels).
#
# What worked (2 cores / 24 GiB dev machine, Python 3.11.7):
#   RESULT_PLACEHOLDER
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

if check_torch; then
    echo "CPU-only torch install OK (nvidia-* packages avoided)"
else
    echo "torch without nvidia libs failed to import; falling back to the full install" >&2
    "$PY" -m pip install torch
    check_torch
fi
echo "python: $PY"
