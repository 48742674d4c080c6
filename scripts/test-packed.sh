#!/usr/bin/env bash
# The package as users install it: `npm pack` (which runs prepack: the TypeScript build and the
# prebuild check), then `npm install` of the tarball in empty projects.
#   1. The published shape: both prebuilds (npm run prebuilds, glibc floor checked), installed with
#      npm's defaults. No install-script warning, nothing compiled, the native backend serves
#      require() and import; the README's ```js examples run unchanged; the declarations compile
#      under tsc --strict; the source maps name shipped files; the nn-embedding command works.
#   2. The arm64 prebuild, as installed, under qemu-aarch64 with Debian's arm64 Node: PyTorch
#      parity, error cases, and hashes of seeded training runs equal to x64's bit for bit
#      (test/portable/prebuild-check.mjs).
#   3. The installed package with its prebuilds/ removed: one warning, and the TypeScript backend.
#   4. A tarball without prebuilds: `npx nn-embedding build-native` builds the addon from source;
#      with no working compiler it fails saying why, and the package still works, warning once.
#   5. A clone without prebuilds cannot be packed by accident: prepack stops with a message.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
cleanup() {
  if [ -d "$work/prebuilds-aside" ]; then
    rm -rf "$root/prebuilds"
    mv "$work/prebuilds-aside" "$root/prebuilds"
  fi
  rm -rf "$root/prebuilds" # made here: left behind, a stale prebuild could shadow a later build
  rm -rf "$work"
}
trap cleanup EXIT

echo "== prebuilds for linux-x64 and linux-arm64 (npm run prebuilds)"
npm run --silent prebuilds

check='
const m = require("nn-embedding");
const out = new m.Embedding(10, 4, { seed: 1 }).forward([9, 0]);
console.log(JSON.stringify({ backend: m.getBackend(), simd: m.getCapabilities().simd, rows: out.length / 4 }));'
check_esm='import { getBackend } from "nn-embedding"; console.log(getBackend());'
new_project() {
  mkdir -p "$1"
  (cd "$1" && npm init -y > /dev/null)
}

echo "== 1. the tarball with both prebuilds, installed with npm's defaults"
mkdir "$work/packed"
tarball=$(npm pack --silent --pack-destination "$work/packed" 2> "$work/pack.log") || { cat "$work/pack.log"; exit 1; }
tar -tzf "$work/packed/$tarball" > "$work/contents.txt"
echo "   $(wc -l < "$work/contents.txt") files; $(grep -c '^package/dist/' "$work/contents.txt") in dist/, prebuilds: $(grep '^package/prebuilds/' "$work/contents.txt" | tr '\n' ' ')"
for needed in package/dist/index.js package/dist/index.mjs package/dist/index.d.ts package/dist/cli.js \
  package/prebuilds/linux-x64/nn-embedding.glibc.node package/prebuilds/linux-arm64/nn-embedding.glibc.node \
  package/scripts/build-native.js package/binding.gyp package/src/index.ts; do
  grep -qx "$needed" "$work/contents.txt" || { echo "FAIL: the tarball lacks $needed"; exit 1; }
done
project=$work/with-prebuild
new_project "$project"
cd "$project"
npm install --no-audit --no-fund "$work/packed/$tarball" > install.log 2>&1 || { cat install.log; exit 1; }
if grep -qi 'install-scripts\|nn-embedding.*script' install.log; then echo "FAIL: npm warned about install scripts:"; cat install.log; exit 1; fi
if [ -d node_modules/nn-embedding/build ]; then echo "FAIL: the install compiled instead of using the prebuild"; exit 1; fi
echo "   npm install: no install script, no warning ($(tail -1 install.log))"
result=$(node -e "$check" 2> stderr.log)
echo "   require: $result"
echo "$result" | grep -q '"backend":"native"' || { echo "FAIL: native backend expected"; cat stderr.log; exit 1; }
[ ! -s stderr.log ] || { echo "FAIL: the native backend wrote to stderr:"; cat stderr.log; exit 1; }
esm=$(node --input-type=module -e "$check_esm")
echo "   import: $esm"
[ "$esm" = native ] || { echo "FAIL: import gave $esm"; exit 1; }

echo "   README: every js block, unchanged"
node "$root/scripts/run-readme-examples.mjs" "$project" "$root/README.md" | sed 's/^/   /'

echo "   declarations: tsc --strict with TypeScript's defaults, against the installed package"
cat > consumer.ts << 'EOF'
import { Embedding, EmbeddingBag, SparseAdam, getCapabilities, loadEmbedding } from 'nn-embedding';
const e: Embedding = new Embedding(10, 4, { seed: 1 });
const out: Float32Array = e.forward([1, 2]);
const bag = new EmbeddingBag(10, 4, { mode: 'mean' });
const o = new SparseAdam([new Embedding(10, 4, { sparse: true })], { lr: 0.01 });
o.zeroGrad();
const later: Promise<Embedding> = loadEmbedding('x.safetensors');
console.log(out.length, bag.embeddingDim, getCapabilities().backend, later);
EOF
node "$root/node_modules/typescript/bin/tsc" --strict --noEmit consumer.ts || { echo "FAIL: the declarations do not compile"; exit 1; }
node -e '
const fs = require("fs"), path = require("path");
const dist = path.join("node_modules", "nn-embedding", "dist");
let maps = 0;
for (const f of fs.readdirSync(dist, { recursive: true }).filter((f) => f.endsWith(".map"))) {
  const map = JSON.parse(fs.readFileSync(path.join(dist, f), "utf8"));
  for (const s of map.sources) {
    const file = path.resolve(path.dirname(path.join(dist, f)), map.sourceRoot || "", s);
    if (!fs.existsSync(file)) { console.log("FAIL: " + f + " names " + s + ", which is not shipped"); process.exit(1); }
  }
  maps++;
}
console.log("   source maps: " + maps + ", every source they name is shipped");'

# The nn-embedding command, as npm links it (node_modules/.bin): convert, then info on the result.
npx --no-install nn-embedding convert "$root/test/fixtures/interop/w2v-c-binary.bin" vectors.safetensors
npx --no-install nn-embedding info vectors.safetensors | grep -q 'rows       292' || { echo "FAIL: nn-embedding info"; exit 1; }
npx --no-install nn-embedding bench --help > /dev/null || { echo "FAIL: nn-embedding bench --help"; exit 1; }
echo "   nn-embedding command: convert, info and bench run"

echo "== 2. the arm64 prebuild, as installed, under qemu-aarch64 with Debian's arm64 Node"
node "$root/test/portable/prebuild-check.mjs" --out x64.json
NN_EMBEDDING_SIMD=scalar node "$root/test/portable/prebuild-check.mjs" --out x64-scalar.json
arm64_root=$(bash "$root/scripts/arm64-node.sh")
qemu-aarch64 -L "$arm64_root" "$arm64_root/usr/bin/node" "$root/test/portable/prebuild-check.mjs" --out arm64.json
NN_EMBEDDING_SIMD=scalar qemu-aarch64 -L "$arm64_root" "$arm64_root/usr/bin/node" "$root/test/portable/prebuild-check.mjs" --out arm64-scalar.json
node "$root/test/portable/prebuild-check.mjs" --compare x64.json arm64.json
node "$root/test/portable/prebuild-check.mjs" --compare x64.json arm64-scalar.json
node "$root/test/portable/prebuild-check.mjs" --compare x64.json x64-scalar.json

echo "== 3. the installed package with its prebuilds/ removed: one warning, the TypeScript backend"
rm -rf node_modules/nn-embedding/prebuilds
result=$(node -e "$check; require('nn-embedding').getCapabilities(); new (require('nn-embedding').Embedding)(2, 2)" 2> stderr.log)
echo "   require: $result"
echo "$result" | grep -q '"backend":"js"' || { echo "FAIL: js backend expected"; exit 1; }
[ "$(grep -c 'NN_EMBEDDING_NATIVE_UNAVAILABLE' stderr.log)" = 1 ] || { echo "FAIL: one warning expected:"; cat stderr.log; exit 1; }
sed 's/^/   stderr: /' stderr.log | head -3
quiet=$(NN_EMBEDDING_BACKEND=js node -e "$check" 2>&1)
echo "$quiet" | grep -q '"backend":"js"' && ! echo "$quiet" | grep -q Warning || { echo "FAIL: NN_EMBEDDING_BACKEND=js must not warn: $quiet"; exit 1; }
echo "   NN_EMBEDDING_BACKEND=js: no warning"

echo "== 4. a tarball without prebuilds: npx nn-embedding build-native builds from source"
cd "$root"
mv prebuilds "$work/prebuilds-aside"
mkdir "$work/packed-bare"
bare=$(NN_EMBEDDING_PACK_WITHOUT_PREBUILDS=1 npm pack --silent --pack-destination "$work/packed-bare" 2> "$work/pack-bare.log") ||
  { cat "$work/pack-bare.log"; exit 1; }
new_project "$work/from-source"
cd "$work/from-source"
npm install --no-audit --no-fund "$work/packed-bare/$bare" > install.log 2>&1 || { cat install.log; exit 1; }
npx --no-install nn-embedding build-native > build.log 2>&1 || { tail -20 build.log; echo "FAIL: build-native"; exit 1; }
tail -1 build.log | sed 's/^/   /'
[ -f node_modules/nn-embedding/build/Release/nn_embedding.node ] || { echo "FAIL: no source build"; exit 1; }
result=$(node -e "$check")
echo "   require: $result"
echo "$result" | grep -q '"backend":"native"' || { echo "FAIL: native backend expected"; exit 1; }

echo "   ... and with no working C++ compiler (CXX=false)"
new_project "$work/fallback"
cd "$work/fallback"
npm install --no-audit --no-fund "$work/packed-bare/$bare" > install.log 2>&1 || { cat install.log; exit 1; }
if CXX=false CC=false npx --no-install nn-embedding build-native > build.log 2>&1; then echo "FAIL: build-native succeeded without a compiler"; exit 1; fi
grep -q "nn-embedding: the source build failed" build.log || { echo "FAIL: no reason given"; cat build.log; exit 1; }
grep "the source build failed" build.log | sed 's/^/   /'
result=$(node -e "$check" 2> stderr.log)
echo "   require: $result"
echo "$result" | grep -q '"backend":"js"' || { echo "FAIL: js backend expected"; exit 1; }
[ "$(grep -c 'NN_EMBEDDING_NATIVE_UNAVAILABLE' stderr.log)" = 1 ] || { echo "FAIL: one warning expected"; cat stderr.log; exit 1; }

echo "== 5. a clone without prebuilds: npm pack stops, saying why"
cd "$root"
if npm pack --silent --pack-destination "$work" > /dev/null 2> "$work/refused.log"; then echo "FAIL: packed without prebuilds"; exit 1; fi
grep -q "no prebuild for linux-x64" "$work/refused.log" || { echo "FAIL: no clear message"; cat "$work/refused.log"; exit 1; }
grep "nn-embedding prepack" "$work/refused.log" | head -1 | cut -c1-160 | sed 's/^/   /'
echo "packed-install checks passed"
