#!/usr/bin/env bash
# Installs what Blyan needs on a fresh Debian machine with rustup: protoc (litep2p),
# Debian's fortunes corpus (the real input), clang (secp256k1-sys compiles C for the
# wasm32 runtime build; gcc cannot target wasm), Node.js's npm packages for e2e/, the wasm
# targets and rust-src (runtime builds).
# Idempotent; run as root (or with sudo available).
set -euo pipefail
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
if ! command -v protoc >/dev/null 2>&1 || ! command -v clang >/dev/null 2>&1 || [ ! -d /usr/share/games/fortunes ]; then
  echo "== apt-get install protobuf-compiler fortunes clang"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq protobuf-compiler fortunes clang >/dev/null
fi
echo "== rustup targets and rust-src"
rustup target add wasm32v1-none wasm32-unknown-unknown >/dev/null 2>&1 || rustup target add wasm32v1-none wasm32-unknown-unknown
rustup component add rust-src >/dev/null 2>&1 || rustup component add rust-src
echo "setup done: $(protoc --version), $(ls /usr/share/games/fortunes | grep -vc '\.') fortune files"
