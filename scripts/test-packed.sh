#!/usr/bin/env bash
# The package as users install it: `npm pack`, then `npm install` of the tarball in empty projects.
# npm 11 blocks dependencies' install scripts unless the project approves them (allowScripts), so:
#   1. With prebuilds/ in the tarball and install scripts blocked (npm's default): nothing is
#      compiled and the native backend serves require() and import, from the prebuild.
#   2. Without a prebuild, scripts allowed: the install script builds the addon from source.
#   3. Without a prebuild, scripts allowed, and no working compiler: the install still succeeds,
#      prints one line, and the pure-TypeScript backend serves.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
cleanup() {
  [ -d "$work/prebuilds-aside" ] && mv "$work/prebuilds-aside" "$root/prebuilds"
  rm -rf "$root/prebuilds"  # the prebuild made here: left behind, it could shadow a later build
  # prebuildify rebuilds in build/ and moves the addon out: put the developer's build back.
  if [ -d "$work/build-aside" ]; then
    rm -rf "$root/build"
    mv "$work/build-aside" "$root/build"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

[ -d build ] && mv build "$work/build-aside"
# Always fresh: a stale prebuild would be packed and tested.
npm run prebuild > "$work/prebuild.log" 2>&1 || { cat "$work/prebuild.log"; exit 1; }
npm run build:ts > /dev/null

check='
const m = require("nn-embedding");
const out = new m.Embedding(10, 4, { seed: 1 }).forward([9, 0]);
console.log(JSON.stringify({ backend: m.getBackend(), simd: m.getCapabilities().simd, rows: out.length / 4 }));'
check_esm='import { getBackend } from "nn-embedding"; console.log(getBackend());'

echo "== 1. tarball with the linux-x64 prebuild"
mkdir "$work/packed" "$work/with-prebuild"
tarball=$(npm pack --silent --pack-destination "$work/packed")
tar -tzf "$work/packed/$tarball" | sed 's/^/   /'
cd "$work/with-prebuild"
npm init -y > /dev/null
npm install --no-audit --no-fund --foreground-scripts "$work/packed/$tarball" 2>&1 | tee install.log | tail -3
if [ -d node_modules/nn-embedding/build ]; then echo "FAIL: the install compiled instead of using the prebuild"; exit 1; fi
result=$(node -e "$check")
echo "   require: $result"
echo "$result" | grep -q '"backend":"native"' || { echo "FAIL: native backend expected"; exit 1; }
esm=$(node --input-type=module -e "$check_esm")
echo "   import: $esm"
[ "$esm" = native ] || { echo "FAIL: import gave $esm"; exit 1; }
# The nn-embedding command, as npm links it (node_modules/.bin): convert, then info on the result.
npx --no-install nn-embedding convert "$root/test/fixtures/interop/w2v-c-binary.bin" vectors.safetensors
npx --no-install nn-embedding info vectors.safetensors | grep -q 'rows       292' || { echo "FAIL: nn-embedding info"; exit 1; }
npx --no-install nn-embedding bench --help > /dev/null || { echo "FAIL: nn-embedding bench --help"; exit 1; }
echo "   nn-embedding command: convert, info and bench run"

echo "== 2. tarball without a prebuild: the install script builds from source"
cd "$root"
mv prebuilds "$work/prebuilds-aside"
mkdir "$work/packed-bare" "$work/from-source" "$work/fallback"
tarball=$(npm pack --silent --pack-destination "$work/packed-bare")
mv "$work/prebuilds-aside" prebuilds
cd "$work/from-source"
npm init -y > /dev/null
npm pkg set 'allowScripts.nn-embedding=true' --json
npm install --no-audit --no-fund --foreground-scripts "$work/packed-bare/$tarball" > install.log 2>&1
[ -f node_modules/nn-embedding/build/Release/nn_embedding.node ] || { echo "FAIL: no source build"; tail -20 install.log; exit 1; }
result=$(node -e "$check")
echo "   require: $result"
echo "$result" | grep -q '"backend":"native"' || { echo "FAIL: native backend expected"; exit 1; }

echo "== 3. tarball without a prebuild, and no working C++ compiler (CXX=false)"
cd "$work/fallback"
npm init -y > /dev/null
npm pkg set 'allowScripts.nn-embedding=true' --json
CXX=false CC=false npm install --no-audit --no-fund --foreground-scripts "$work/packed-bare/$tarball" 2>&1 | tee install.log | tail -3
grep -q "nn-embedding: native addon unavailable" install.log || { echo "FAIL: no fallback line"; exit 1; }
[ "$(grep -c 'nn-embedding:' install.log)" = 1 ] || { echo "FAIL: more than one line"; exit 1; }
result=$(node -e "$check")
echo "   require: $result"
echo "$result" | grep -q '"backend":"js"' || { echo "FAIL: js backend expected"; exit 1; }
echo "packed-install checks passed"
