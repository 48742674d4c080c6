#!/usr/bin/env bash
# The C++ kernel tests for aarch64 on any Linux machine: cross-compiled with
# aarch64-linux-gnu-g++ and run under qemu user-mode emulation (cmake/aarch64-linux-gnu.cmake),
# so the NEON tier is built and checked bit for bit against the scalar one. The x86 tiers are
# reported as skipped. Installs nothing: on Debian the tools come from
#   apt-get install -y --no-install-recommends g++-aarch64-linux-gnu qemu-user
set -euo pipefail
cd "$(dirname "$0")/.."
missing=()
command -v aarch64-linux-gnu-g++ > /dev/null || missing+=("aarch64-linux-gnu-g++ (apt package g++-aarch64-linux-gnu)")
command -v qemu-aarch64 > /dev/null || missing+=("qemu-aarch64 (apt package qemu-user)")
if [ ${#missing[@]} -ne 0 ]; then
  joined=$(printf '%s, ' "${missing[@]}")
  echo "ctest-arm64: missing ${joined%, }; install them first" >&2
  exit 1
fi
dir=build-arm64
cmake -S . -B "$dir" -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake > /dev/null
cmake --build "$dir" --parallel 2 > /dev/null
echo "== ctest (aarch64 under qemu)"
ctest --test-dir "$dir" --output-on-failure
