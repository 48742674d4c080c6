#!/usr/bin/env bash
# Regenerate the interop fixtures under test/fixtures/interop/ (issue 6): files
# written by real tools, committed so the tests need none of those tools.
#
#   bash scripts/generate-interop-fixtures.sh
#
# Needs: npm (to fetch the word2vec package), gcc, Debian's /usr/bin/python3
# with python3-numpy; python3-torch for torch-bf16-ref.json and the narrow
# tables (skipped with a message when torch is missing; the committed files
# stay).
#
# 1. word2vec: the original C tool (Mikolov's word2vec.c, as shipped in the npm
#    package word2vec@1.1.5 under src/) is built unmodified and trained twice on
#    a deterministic corpus (same seed, one thread), text then binary output.
# 2. numpy: .npy files written by numpy itself.
# 3. safetensors: written by scripts/generate-interop-fixtures.py following
#    the reference implementation's serializer byte for byte.
# 4. torch: torch's float32 -> bfloat16/float16 rounding of chosen values, and
#    narrow tables (float16, bfloat16, int8/int4 prepacked rows) saved by numpy
#    and in a safetensors file.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
OUT="$ROOT/test/fixtures/interop"
PY=/usr/bin/python3
GEN="$ROOT/scripts/generate-interop-fixtures.py"

W2V_PACKAGE=word2vec@1.1.5
# sha256 of package/src/word2vec.c in word2vec@1.1.5: the fixtures were made
# from exactly this source.
W2V_C_SHA256=5f2b08a66faac1bce2f3ca9aec3c7fc735842476be084859a2f6e7bb749c41c2
W2V_BUILD="gcc -O2 -ffp-contract=off -pthread word2vec.c -o word2vec -lm"
W2V_ARGS="-size 12 -min-count 1 -threads 1 -iter 2"

WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
mkdir -p "$OUT"

"$PY" -c 'import numpy' || { echo "error: $PY has no numpy (apt-get install python3-numpy)" >&2; exit 1; }

# --- 1. word2vec C tool ------------------------------------------------------
echo "== word2vec: npm pack $W2V_PACKAGE"
(cd "$WORK" && npm pack "$W2V_PACKAGE" --silent >/dev/null && tar xzf word2vec-*.tgz)
SRC="$WORK/package/src"
echo "$W2V_C_SHA256  $SRC/word2vec.c" | sha256sum --check --quiet - \
  || { echo "error: $W2V_PACKAGE src/word2vec.c is not the source the fixtures were made from" >&2; exit 1; }

# Built as is: no source patch and no extra flag is needed to compile it. The
# package's makefile uses -O3 -march=native -funroll-loops; -march=native is
# left out and -ffp-contract=off added so that no a*b+c is fused into an FMA:
# with FMA contraction (e.g. -march=native on an AVX2/FMA CPU, or gcc's default
# on arm64) the trained vectors differ in their last bits. -lm goes after the
# source so linkers that default to --as-needed find it.
echo "== word2vec: $W2V_BUILD"
(cd "$SRC" && $W2V_BUILD)

"$PY" "$GEN" corpus "$WORK/corpus.txt"
CORPUS_SHA256="$(sha256sum "$WORK/corpus.txt" | cut -d' ' -f1)"

# The tool prints progress (with timings) to stdout: kept in a log, not shown.
for binary in 0 1; do
  if [ "$binary" = 0 ]; then dest=w2v-c-text.txt; else dest=w2v-c-binary.bin; fi
  echo "== word2vec: -train corpus.txt $W2V_ARGS -binary $binary -> $dest"
  (cd "$WORK" && "$SRC/word2vec" -train corpus.txt -output "$dest" $W2V_ARGS -binary "$binary" \
     >"word2vec-$binary.log" 2>&1) \
    || { cat "$WORK/word2vec-$binary.log" >&2; exit 1; }
  cp "$WORK/$dest" "$OUT/$dest"
done

WORD2VEC_C_SHA256="$W2V_C_SHA256" WORD2VEC_BUILD="$W2V_BUILD" \
WORD2VEC_ARGS="$W2V_ARGS -binary 0|1" WORD2VEC_CORPUS_SHA256="$CORPUS_SHA256" \
  "$PY" "$GEN" w2v "$OUT"

# --- 2. numpy, 3. safetensors --------------------------------------------------
echo "== numpy"
"$PY" "$GEN" numpy "$OUT"
echo "== safetensors"
"$PY" "$GEN" safetensors "$OUT"

# The checker used by the tests must accept what was just written.
"$PY" "$ROOT/scripts/check-interop-numpy.py" --npy "$OUT/numpy-f4.npy" \
  --safetensors "$OUT/st-f32.safetensors" --expected "$OUT/numpy-expected.json"

# --- 4. torch ------------------------------------------------------------------
if "$PY" -c 'import torch' >/dev/null 2>&1; then
  echo "== torch"
  "$PY" "$GEN" torch "$OUT"
  "$PY" "$GEN" narrow "$OUT"
else
  echo "== torch: $PY cannot import torch (apt-get install python3-torch); torch-bf16-ref.json and the narrow tables left as they are"
fi

echo "== done: $OUT"
ls -l "$OUT"
