#!/usr/bin/env bash
# The C++ kernel tests under ctest: once as built for release, once with AddressSanitizer and
# UndefinedBehaviorSanitizer. Each run covers every tier the CPU runs (the others are reported
# as skipped).
set -euo pipefail
cd "$(dirname "$0")/.."
for variant in plain sanitize; do
  dir=build-cmake
  flags=()
  if [ "$variant" = sanitize ]; then dir=build-asan; flags=(-DNNE_SANITIZE=ON); fi
  cmake -S . -B "$dir" "${flags[@]}" > /dev/null
  cmake --build "$dir" --parallel 2 > /dev/null
  echo "== ctest ($variant)"
  ctest --test-dir "$dir" --output-on-failure
done
