// Narrow-table suite of the benchmark (run from bench/embedding.mjs: npm run bench, or
// npm run bench -- --suite dtype): lookups and bag sums on one table that does not fit the cache,
// stored in every dtype (float32, float16, bfloat16, int8, int4), next to a memory-bandwidth
// reference and, when installed, PyTorch 1.13's quantized bag ops and its float embedding and
// embedding_bag, on the same indices and offsets.
//
//   op    nn-embedding (public API)                      PyTorch (bench/torch/dtype.py, a child process)
//   fwd   Embedding.fromPretrained(data, D, { dtype })   F.embedding(idx, w) on w, w.half(), w.bfloat16();
//           .forward(idx, out)                           int8 / int4: the rowwise_offsets op below with
//                                                        bags of one (torch has no lookup of a packed table)
//   bag   EmbeddingBag.fromPretrained(data, D,           F.embedding_bag(idx, w, offsets, mode='sum');
//           { dtype, mode: 'sum' })                      int8: quantized.embedding_bag_byte_rowwise_offsets,
//           .forward(idx, offsets, null, out)            int4: quantized.embedding_bag_4bit_rowwise_offsets,
//                                                        on embedding_bag_byte_prepack / _4bit_prepack tables
//   bag, alloc  the same without `out` (int8, int4): a new output per call, as torch's ops return one;
//               the torch goal is read from these rows
//   step  a sparse training step, float32, float16 and bfloat16 only (torch: not timed): row-wise
//         Adagrad applied in backward (applyOptimizerInBackward(RowWiseAdagrad, [layer], { lr })),
//         layer.backward(idx, gradOut) on the lookups' batches (B = 16,384 uniform ids, D = 128):
//         coalesce the rows, update each touched row (16-bit tables: widened, the float32 rule,
//         rounded back to nearest even; `sr`: stochastic rounding). The layers train the suite's
//         shared tables in place (lr 1e-3: values stay finite, and the other ops' timings do not
//         depend on them); the row-wise state is one float per row.
//
// Table: 4·10^6 × 128 (2 GB as float32; --quick 5·10^5 × 128, 256 MB), filled by fillQuick, whose
// values repeat every 65,536 floats (512 rows); a narrow table holds quantize() of those rows.
// Every table is allocated as a layer allocates its own large table (page-aligned, huge pages requested).
// quantize() in TypeScript is timed on the first TILE_ROWS rows; when that projects the whole
// table's conversions to more than QUANTIZE_LIMIT_S seconds, each narrow table is that tile
// repeated (rows r and r + TILE_ROWS hold the same values, so the bytes are those quantize() of
// the whole table gives; a few rows are checked against quantize() of the row itself), and the
// output says so. Lookups: B = 16,384 uniform int32 ids; bags: 1,024 bags, lengths uniform in
// [1, 2L - 1] with L = 20 (the bag suite's batches); 128 seeded batches of each, in one rotation
// shared by all the variants of an op: a batch comes back only after 128 calls of any variant, so
// the rows it touched have left the cache (with the other suites' 8 batches per variant, the
// int4 table's 8 × 1.1 MB of looked-up rows stay cached, and a variant timed after another of
// the same dtype finds its rows there).
// Variants, each dtype: native at 1 thread and at all threads (setNumThreads), the TypeScript
// backend (withBackend(jsBackend, ...) in this process, as the embedding and bag suites do: the
// layers share the tables), and a bandwidth reference: kernels('scalar').gather over the table's
// packed rows viewed as 32-bit words, one memcpy per row into a scratch buffer (for float32 the
// embedding suite's reference): what reading those rows costs without widening. The variants of
// one dtype are sampled in the same rounds, one dtype after the other: interleaving every dtype's
// calls would interleave lookups over all five tables (4.8 GB), more than the TLB reaches in
// huge pages, and each table's rows would pay for the others' (int8 lookups took 650 us
// interleaved with the other four tables against 289 us alone, int4 387 against 257:
// node --expose-gc bench/narrow-interleave.mjs, 1 thread). Full run: two rounds of
// (nn-embedding, PyTorch), each side's best median kept (as the torch suite does); --quick: one.
// Memory per row: the layer's data.byteLength / rows, against FBGEMM's layouts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { SEED, fillQuick, fmtGbps, fmtUs, fmtX, gc, indexBatches, measure, nativeVariants, now, peakRssGiB, printGoals, prng, sameFloats, secondsSince, table } from './harness.mjs';
import { bagBatches } from './embedding-bag.mjs';
import { findTorch } from './torch.mjs';

const require = createRequire(import.meta.url);
const { Embedding, EmbeddingBag, RowWiseAdagrad, applyOptimizerInBackward, quantize } = require('../dist/index.js');
const { withBackend } = require('../dist/loader.js');
const { jsBackend } = require('../dist/backends/js.js');
const { loadAddon } = require('../dist/backends/native.js');
const { zeroedTable } = require('../dist/table.js');

const HERE = dirname(fileURLToPath(import.meta.url));
const SCRIPT = join(HERE, 'torch', 'dtype.py');

const DTYPES = ['float32', 'float16', 'bfloat16', 'int8', 'int4'];
const NARROW = DTYPES.slice(1);
/** The dtypes that train (the step op). */
const TRAIN_DTYPES = ['float32', 'float16', 'bfloat16'];
const TRAIN_LR = 1e-3;
const TABLE = { rows: 4_000_000, dim: 128 };
const QUICK_TABLE = { rows: 500_000, dim: 128 };
const BATCH = 16_384;
const BAGS = 1024;
const MEAN_BAG_LENGTH = 20;
/** Batches of each op, rotated through by all its variants together (see the header). */
const BATCH_COUNT = 128;
/** fillQuick's values repeat with this period (floats). */
const FILL_PERIOD = 65_536;
const TILE_ROWS = 65_536;
const QUANTIZE_LIMIT_S = { full: 60, quick: 5 };
/** FBGEMM's (and torch's) bytes per row, the goal's; the layers' own are measured against it. */
const FBGEMM_ROW_BYTES = { float32: (d) => 4 * d, float16: (d) => 2 * d, bfloat16: (d) => 2 * d, int8: (d) => d + 8, int4: (d) => d / 2 + 4 };
const LOOKUP_TARGETS = { float16: 1.6, bfloat16: 1.6, int8: 2.5, int4: 3 };
const TORCH_TARGET = 2;
/** The rows whose bag sum is also timed allocating its output (the torch goal's rows). */
const ALLOC_DTYPES = ['int8', 'int4'];

const FORMULAS = {
  fwdBytes: 'B*rowBytes (rows read) + B*D*4 (out written) + B*4 (int32 indices read)',
  stepBytes: 'B*2*rowBytes (rows read and written) + B*D*4 (gradOut read) + B*4 (indices); coalescing buffers and the row-wise state not counted',
  bagBytes: 'E*rowBytes (rows read) + NB*D*4 (out written) + E*4 (int32 indices read); E = indices per call (mean of the 8 batches), NB = 1024 bags',
  rowsRef: "kernels('scalar').gather of the looked-up rows' packed bytes (the table viewed as rowBytes/4 floats per row) into a scratch buffer: one memcpy per row, 1 thread",
  overFloat32: 'float32 native median / this dtype native median, at the same thread count',
  speedups: '× TS = TS median / native 1-thread median; × torch = torch 1-thread median / native 1-thread median',
};

/** The packed table's bytes (any typed array), and its rows as 32-bit words for the row reference. */
const bytesOf = (a) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
const wordsOf = (a) => new Float32Array(a.buffer, a.byteOffset, a.byteLength / 4);

/**
 * A new table of `length` elements of `Type`, allocated as the layers allocate their own large
 * tables (table.ts zeroedTable): mapped by the addon, page-aligned, huge pages requested before its
 * first write. Without huge pages every random row read also misses the TLB, a cost per row that a
 * narrower row does not reduce; and a table that V8 allocates starts 16 bytes into a page, so each
 * row touches one cache line more (bench/ab-narrow.mjs ALLOC=v8 measures such tables).
 */
const newTable = (Type, length) => zeroedTable(Type, length);

/**
 * One rotation through `batches` for all the variants of an op: through(call) is a variant's
 * run(k), k calls of `call`, each on the next batch of the shared sequence.
 */
function sharedRotation(batches) {
  let next = 0;
  return (call) => (k) => {
    for (let i = 0; i < k; i++) {
      call(batches[next]);
      next = (next + 1) % batches.length;
    }
  };
}

/** `tile` repeated to `length` elements, in a new table. */
function tiled(tile, length) {
  const out = newTable(tile.constructor, length);
  out.set(tile.subarray(0, Math.min(tile.length, length)));
  for (let filled = tile.length; filled < length; filled *= 2) out.copyWithin(filled, 0, Math.min(filled, length - filled));
  return out;
}

/**
 * The float32 table and its narrow forms: { data: { dtype: array }, setup } where setup records
 * how each was made and how long it took.
 */
function buildTables({ rows, dim }, limitS) {
  let t0 = now();
  const weight = fillQuick(newTable(Float32Array, rows * dim), SEED * 3);
  const setup = { fillSeconds: secondsSince(t0), tileRows: TILE_ROWS, limitSeconds: limitS, dtypes: {} };
  if ((TILE_ROWS * dim) % FILL_PERIOD !== 0 || rows < TILE_ROWS) throw new Error(`dtype suite: ${TILE_ROWS} rows × ${dim} is not a whole number of fillQuick periods`);
  const tile = weight.subarray(0, TILE_ROWS * dim);
  const tiles = {};
  for (const dtype of NARROW) {
    t0 = now();
    tiles[dtype] = quantize(tile, dim, dtype);
    const tileSeconds = secondsSince(t0);
    setup.dtypes[dtype] = { tileSeconds, mValuesPerSecond: (TILE_ROWS * dim) / tileSeconds / 1e6, projectedSeconds: (tileSeconds * rows) / TILE_ROWS };
  }
  setup.projectedSeconds = NARROW.reduce((s, d) => s + setup.dtypes[d].projectedSeconds, 0);
  setup.tiled = setup.projectedSeconds > limitS;
  const data = { float32: weight };
  const next = prng(SEED * 5);
  for (const dtype of NARROW) {
    t0 = now();
    const elementsPerRow = tiles[dtype].length / TILE_ROWS;
    if (setup.tiled) data[dtype] = tiled(tiles[dtype], rows * elementsPerRow);
    else (data[dtype] = newTable(tiles[dtype].constructor, rows * elementsPerRow)).set(quantize(weight, dim, dtype));
    setup.dtypes[dtype].seconds = secondsSince(t0);
    // The table holds quantize() of each row: checked on the last row and a few others.
    const bytes = bytesOf(data[dtype]);
    const rb = bytes.length / rows;
    for (const r of [rows - 1, TILE_ROWS + 1, ...Array.from({ length: 4 }, () => next() % rows)]) {
      const own = bytesOf(quantize(weight.subarray(r * dim, (r + 1) * dim), dim, dtype));
      if (!Buffer.from(own).equals(Buffer.from(bytes.subarray(r * rb, (r + 1) * rb)))) throw new Error(`dtype suite: ${dtype} row ${r} is not quantize() of that row`);
    }
  }
  return { data, setup };
}

export function runDtypeSuite({ args, reference, threads }) {
  const started = now();
  const { rows, dim } = args.quick ? QUICK_TABLE : TABLE;
  const SETTINGS = args.quick
    ? { sampleTargetMs: 3, warmupMs: 20, minSamples: 7, maxSamples: 15, budgetMs: 150 }
    : { sampleTargetMs: 5, warmupMs: 50, minSamples: 7, maxSamples: 41, budgetMs: 300 };
  // The TypeScript backend's narrow rows take tens of milliseconds per call.
  const SLOW = args.quick ? { minSamples: 3, maxSamples: 5, budgetMs: 150, warmupCalls: 1 } : { minSamples: 5, maxSamples: 15, budgetMs: 600, warmupCalls: 2 };
  const rounds = args.quick ? 1 : 2;
  const one = threads.single;
  const MT = threads.multi;
  const torch = findTorch();
  console.log('Narrow tables: lookups and bag sums in float32, float16, bfloat16, int8 and int4, next to PyTorch\'s quantized bags');
  console.log(
    `  ${rows.toLocaleString('en-US')} × ${dim} table (${((rows * dim * 4) / 2 ** 30).toFixed(2)} GiB as float32); fwd B=${BATCH}; ` +
      `bag ${BAGS} bags, lengths uniform in [1, ${2 * MEAN_BAG_LENGTH - 1}]; int32 indices, ${BATCH_COUNT} seeded batches per op in one rotation shared by its variants; ` +
      `sample ≈ ${SETTINGS.sampleTargetMs} ms, ${SETTINGS.minSamples}..${SETTINGS.maxSamples} samples, ≤ ~${SETTINGS.budgetMs} ms per variant ` +
      `(TS narrow: ${SLOW.minSamples}..${SLOW.maxSamples}, ≤ ~${SLOW.budgetMs} ms); ${rounds} round(s) of nn-embedding then PyTorch, best median kept`,
  );
  console.log(`  PyTorch: ${torch.error ? torch.error : `${torch.version} (${torch.python})`}`);

  const limitS = args.quick ? QUANTIZE_LIMIT_S.quick : QUANTIZE_LIMIT_S.full;
  const { data, setup } = buildTables({ rows, dim }, limitS);
  console.log(
    `  setup: float32 table filled in ${setup.fillSeconds.toFixed(1)} s; quantize() of ${TILE_ROWS} rows: ` +
      NARROW.map((d) => `${d} ${setup.dtypes[d].tileSeconds.toFixed(2)} s (${setup.dtypes[d].mValuesPerSecond.toFixed(0)} M values/s)`).join(', ') +
      `; the whole table's four conversions would take ~${setup.projectedSeconds.toFixed(0)} s: ` +
      (setup.tiled
        ? `over ${limitS} s, so each narrow table is the quantized first ${TILE_ROWS} rows tiled (the same bytes, as the table's values repeat every ${FILL_PERIOD / dim} rows; rows checked)`
        : `quantize() of the whole table, ${NARROW.map((d) => `${d} ${setup.dtypes[d].seconds.toFixed(1)} s`).join(', ')}`),
  );

  const lookups = indexBatches(rows, BATCH, SEED * 43, BATCH_COUNT);
  const bags = bagBatches(rows, BAGS, MEAN_BAG_LENGTH, SEED * 47, BATCH_COUNT).map((b, i) => ({ ...b, i }));
  const entries = bags.reduce((n, b) => n + b.indices.length, 0) / BATCH_COUNT;
  const maxEntries = Math.max(...bags.map((b) => b.indices.length));

  // Layers over the shared tables: native and TypeScript, a lookup and a sum bag per dtype.
  const layers = {};
  for (const dtype of DTYPES) {
    const options = dtype === 'float32' ? {} : { dtype };
    const make = () => ({ fwd: Embedding.fromPretrained(data[dtype], dim, options), bag: EmbeddingBag.fromPretrained(data[dtype], dim, { ...options, mode: 'sum' }) });
    layers[dtype] = { native: make(), ts: withBackend(jsBackend, make) };
  }
  const rowBytes = Object.fromEntries(DTYPES.map((d) => [d, layers[d].native.fwd.data.byteLength / rows]));
  // Training layers over the same tables, each with row-wise Adagrad applied in its backward.
  const trainGrad = fillQuick(new Float32Array(BATCH * dim), SEED * 53);
  const trainers = {};
  for (const dtype of TRAIN_DTYPES) {
    const make = (extra) => {
      const layer = Embedding.fromPretrained(data[dtype], dim, { ...(dtype === 'float32' ? {} : { dtype }), freeze: false });
      applyOptimizerInBackward(RowWiseAdagrad, [layer], { lr: TRAIN_LR, ...extra });
      return layer;
    };
    trainers[dtype] = { native: make({}), ts: withBackend(jsBackend, () => make({})), sr: dtype === 'float32' ? null : make({ stochasticRounding: true, seed: SEED }) };
  }
  // The row reference's views: each table as 32-bit words, a scratch buffer per batch.
  const words = {};
  const scratch = new Float32Array(Math.max(BATCH, maxEntries) * dim);
  const lookupScratch = {};
  const bagScratch = {};
  for (const dtype of DTYPES) {
    if (rowBytes[dtype] % 4 !== 0) continue; // no row reference for rows of a size not a multiple of 4
    words[dtype] = wordsOf(data[dtype]);
    const w = rowBytes[dtype] / 4;
    lookupScratch[dtype] = scratch.subarray(0, BATCH * w);
    bagScratch[dtype] = bags.map((b) => scratch.subarray(0, b.indices.length * w));
  }

  // Before timing: native and TypeScript give the same bits on batch 0, float32 the reference's.
  const out = new Float32Array(BATCH * dim);
  const bagOut = new Float32Array(BAGS * dim);
  const check = new Float32Array(BATCH * dim);
  reference.gather(data.float32, dim, lookups[0], check);
  for (const dtype of DTYPES) {
    const { native, ts } = layers[dtype];
    const expected = ts.fwd.forward(lookups[0]);
    if (dtype === 'float32' && !sameFloats(expected, check)) throw new Error('dtype suite: the float32 TS lookup differs from the reference');
    if (!sameFloats(native.fwd.forward(lookups[0], out), expected)) throw new Error(`dtype suite: ${dtype} native lookup differs from the TypeScript backend`);
    const b = bags[0];
    if (!sameFloats(native.bag.forward(b.indices, b.offsets, null, bagOut), ts.bag.forward(b.indices, b.offsets))) {
      throw new Error(`dtype suite: ${dtype} native bag sum differs from the TypeScript backend`);
    }
  }
  setup.seconds = secondsSince(started);

  const withDtype = (variants, dtype) => variants.map((v) => ({ ...v, key: `${v.key}:${dtype}` }));
  const lookupRotation = sharedRotation(lookups);
  const stepRotation = sharedRotation(lookups);
  const bagRotation = sharedRotation(bags);
  const ops = [
    {
      op: 'fwd',
      dtypes: DTYPES,
      batches: lookups,
      bytes: (dtype) => BATCH * rowBytes[dtype] + BATCH * dim * 4 + BATCH * 4,
      variants: DTYPES.flatMap((dtype) => [
        ...withDtype(nativeVariants(threads, lookupRotation((idx) => layers[dtype].native.fwd.forward(idx, out))), dtype),
        { key: `ts:${dtype}`, before: one, ...(dtype === 'float32' ? {} : { settings: SLOW }), run: lookupRotation((idx) => layers[dtype].ts.fwd.forward(idx, out)) },
        ...(words[dtype] ? [{ key: `rows:${dtype}`, before: one, run: lookupRotation((idx) => reference.gather(words[dtype], rowBytes[dtype] / 4, idx, lookupScratch[dtype])) }] : []),
      ]),
    },
    {
      op: 'bag',
      dtypes: DTYPES,
      batches: bags,
      bytes: (dtype) => entries * rowBytes[dtype] + BAGS * dim * 4 + entries * 4,
      variants: DTYPES.flatMap((dtype) => [
        ...withDtype(nativeVariants(threads, bagRotation((b) => layers[dtype].native.bag.forward(b.indices, b.offsets, null, bagOut))), dtype),
        ...(ALLOC_DTYPES.includes(dtype) ? [{ key: `alloc:${dtype}`, before: one, run: bagRotation((b) => layers[dtype].native.bag.forward(b.indices, b.offsets)) }] : []),
        { key: `ts:${dtype}`, before: one, ...(dtype === 'float32' ? {} : { settings: SLOW }), run: bagRotation((b) => layers[dtype].ts.bag.forward(b.indices, b.offsets, null, bagOut)) },
        ...(words[dtype]
          ? [{ key: `rows:${dtype}`, before: one, run: bagRotation((b) => reference.gather(words[dtype], rowBytes[dtype] / 4, b.indices, bagScratch[dtype][b.i])) }]
          : []),
      ]),
    },
    {
      op: 'step',
      dtypes: TRAIN_DTYPES,
      batches: lookups,
      bytes: (dtype) => BATCH * 2 * rowBytes[dtype] + BATCH * dim * 4 + BATCH * 4,
      variants: TRAIN_DTYPES.flatMap((dtype) => [
        ...withDtype(nativeVariants(threads, stepRotation((idx) => trainers[dtype].native.backward(idx, trainGrad))), dtype),
        ...(trainers[dtype].sr ? [{ key: `sr:${dtype}`, before: one, run: stepRotation((idx) => trainers[dtype].sr.backward(idx, trainGrad)) }] : []),
        { key: `ts:${dtype}`, before: one, settings: SLOW, run: stepRotation((idx) => trainers[dtype].ts.backward(idx, trainGrad)) },
      ]),
    },
  ];

  // Rounds: every op's variants (one dtype at a time), then PyTorch; each side's best median.
  const nn = {};
  const nnRounds = [];
  let pt = null;
  const ptRounds = [];
  const dir = torch.error ? null : mkdtempSync(join(os.tmpdir(), 'nn-embedding-dtype-'));
  try {
    const spec = dir && torchSpec(dir, { rows, dim, lookups, bags, threads, settings: SETTINGS });
    for (let round = 0; round < rounds; round++) {
      const t0 = now();
      const medians = {};
      for (const { op, dtypes, variants } of ops) {
        gc();
        const opStarted = now();
        // One dtype at a time: its variants interleaved among themselves (see the header).
        const stats = {};
        for (const dtype of dtypes) {
          Object.assign(stats, measure(variants.filter((v) => v.key.endsWith(`:${dtype}`)), SETTINGS));
          threads.restore();
        }
        medians[op] = Object.fromEntries(Object.entries(stats).map(([key, s]) => [key, s.medianUs]));
        for (const [key, s] of Object.entries(stats)) {
          nn[op] ??= {};
          if (nn[op][key] === undefined || s.medianUs < nn[op][key].medianUs) nn[op][key] = s;
        }
        process.stderr.write(
          `  ${op} round ${round + 1}: ` + dtypes.map((d) => `${d} ${fmtUs(stats[`native:${d}`].medianUs)}`).join(', ') + ` µs native 1T  (${secondsSince(opStarted).toFixed(1)} s)\n`,
        );
      }
      nnRounds.push(medians);
      const t1 = now();
      if (spec) {
        const r = runTorch(torch, spec);
        ptRounds.push(r);
        pt ??= { setupSeconds: r.setupSeconds, calls: r.calls, results: {} };
        for (const [op, byDtype] of Object.entries(r.results)) {
          for (const [dtype, cell] of Object.entries(byDtype)) {
            pt.results[op] ??= {};
            const best = (pt.results[op][dtype] ??= { ...cell });
            for (const [n, us] of Object.entries(cell)) if (n !== 'error' && us < best[n]) best[n] = us;
          }
        }
      }
      process.stderr.write(`  round ${round + 1}: nn-embedding ${(Number(t1 - t0) / 1e9).toFixed(1)} s` + (spec ? `, torch ${secondsSince(t1).toFixed(1)} s` : '') + '\n');
    }
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true });
  }

  // Results: one row per op and dtype.
  const [oneN, allN] = [threads.counts[0], threads.counts[threads.counts.length - 1]];
  const results = [];
  for (const { op, dtypes, bytes } of ops) {
    const v = nn[op];
    for (const dtype of dtypes) {
      const us = (key) => v[`${key}:${dtype}`]?.medianUs ?? NaN;
      const torchCell = pt?.results[op]?.[dtype] ?? null;
      const torchUs = (n) => (torchCell && torchCell.error === undefined ? torchCell[String(n)] : NaN);
      results.push({
        op,
        dtype,
        rows,
        dim,
        batch: op !== 'bag' ? BATCH : null,
        bags: op === 'bag' ? BAGS : null,
        meanEntries: op === 'bag' ? entries : null,
        rowBytes: rowBytes[dtype],
        tableBytes: rowBytes[dtype] * rows,
        bytesPerCall: bytes(dtype),
        nativeUs: us('native'),
        nativeMTUs: MT ? us('nativeMT') : NaN,
        allocUs: us('alloc'),
        srUs: us('sr'),
        tsUs: us('ts'),
        rowsRefUs: us('rows'),
        torchUs: torchUs(oneN),
        torchMTUs: MT ? torchUs(allN) : NaN,
        torchError: torchCell?.error ?? null,
        torchCall: pt?.calls?.[op]?.[dtype] ?? null,
        overFloat32: v['native:float32'].medianUs / us('native'),
        overFloat32MT: MT ? v['nativeMT:float32'].medianUs / us('nativeMT') : NaN,
        nativeGbps: bytes(dtype) / (us('native') * 1e-6) / 1e9,
        nativeVsRowsRef: us('rows') / us('native'),
        speedupVsTs: us('ts') / us('native'),
        speedupVsTorch: torchUs(oneN) / us('native'),
        speedupVsTorchAlloc: torchUs(oneN) / us('alloc'),
        variants: Object.fromEntries(Object.entries(v).filter(([key]) => key.endsWith(`:${dtype}`))),
      });
    }
  }

  // Report.
  const torchText = (r, us) => (pt === null ? '-' : r.torchError ? 'not in torch' : fmtUs(us));
  console.log('');
  console.log(
    table(
      [
        'op',
        'dtype',
        'B/row',
        'table MB',
        'native µs',
        ...(MT ? [`native ${allN}T µs`] : []),
        'alloc µs',
        'SR µs',
        'TS µs',
        'rows ref µs',
        'torch µs',
        ...(MT ? [`torch ${allN}T µs`] : []),
        '× float32',
        ...(MT ? [`× float32 ${allN}T`] : []),
        'native GB/s',
        'native/ref',
        '× TS',
        '× torch',
      ],
      results.map((r) => [
        r.op,
        r.dtype,
        String(r.rowBytes),
        (r.tableBytes / 1e6).toFixed(0),
        fmtUs(r.nativeUs),
        ...(MT ? [fmtUs(r.nativeMTUs)] : []),
        fmtUs(r.allocUs),
        fmtUs(r.srUs),
        fmtUs(r.tsUs),
        fmtUs(r.rowsRefUs),
        torchText(r, r.torchUs),
        ...(MT ? [torchText(r, r.torchMTUs)] : []),
        fmtX(r.overFloat32),
        ...(MT ? [fmtX(r.overFloat32MT)] : []),
        fmtGbps(r.nativeGbps),
        fmtX(r.nativeVsRowsRef),
        fmtX(r.speedupVsTs),
        fmtX(r.speedupVsTorch),
      ]),
      ['l', 'l', ...Array(15 + (MT ? 3 : 0)).fill('r')],
    ),
  );
  console.log('');
  console.log(
    `median µs per call (best of ${rounds} round(s)); fwd B=${BATCH}, bag ${BAGS} bags E=${Math.round(entries)} indices; native = the layer at 1 thread` +
      (MT ? `, ${allN}T at all ${allN} threads` : ` (${threads.describe()})`) +
      `; alloc = the bag forward without out, 1 thread; step: row-wise Adagrad applied in backward, B=${BATCH}, lr ${TRAIN_LR}, ` +
      'rounded to nearest even, SR = with stochastic rounding (1 thread); TS = the TypeScript backend',
  );
  console.log(`rows ref: ${FORMULAS.rowsRef}; native/ref = rows ref µs / native µs`);
  console.log(`× float32: ${FORMULAS.overFloat32}; ${FORMULAS.speedups}`);
  console.log(`GB/s: fwd bytes = ${FORMULAS.fwdBytes}; bag bytes = ${FORMULAS.bagBytes}; step bytes = ${FORMULAS.stepBytes}`);
  if (pt) {
    console.log('torch calls: ' + Object.entries(pt.calls).map(([op, byDtype]) => `${op}: ` + Object.entries(byDtype).map(([d, c]) => `${d} ${c}`).join('; ')).join(' | '));
    console.log('torch setup (making each table from the float32 one, all threads): ' + Object.entries(pt.setupSeconds).map(([d, s]) => `${d} ${s.toFixed(1)} s`).join(', '));
    const errors = results.filter((r) => r.torchError).map((r) => `${r.op} ${r.dtype}: ${r.torchError}`);
    if (errors.length > 0) console.log(`not in torch ${torch.version}: ${errors.join('; ')}`);
  }

  const goals = dtypeGoals(results, torch);
  console.log('');
  printGoals(goals, `goals (narrow tables, ${rows.toLocaleString('en-US')} × ${dim}${args.quick ? ', --quick: a smaller table than the goals\' 4·10^6 rows' : ''})`);
  return {
    table: { rows, dim, batch: BATCH, bags: BAGS, meanBagLength: MEAN_BAG_LENGTH, meanEntries: entries },
    settings: { ...SETTINGS, slow: SLOW, rounds },
    setup,
    formulas: FORMULAS,
    torch: torch.error ? { error: torch.error } : { version: torch.version, python: torch.python, setupSeconds: pt.setupSeconds, calls: pt.calls, rounds: ptRounds },
    nnRounds,
    results,
    goals,
    seconds: secondsSince(started),
    peakRssGiB: peakRssGiB(),
  };
}

function dtypeGoals(results, torch) {
  const goals = [];
  const find = (op, dtype) => results.find((r) => r.op === op && r.dtype === dtype);
  const f32 = find('fwd', 'float32');
  for (const [dtype, target] of Object.entries(LOOKUP_TARGETS)) {
    const r = find('fwd', dtype);
    goals.push({
      goal: `${dtype} lookup >= ${target}x float32's, at 1 thread, out-of-cache table`,
      dtype,
      value: r.overFloat32,
      target,
      met: r.overFloat32 >= target,
      text: `fwd ${dtype}: ${fmtUs(r.nativeUs)} µs vs float32 ${fmtUs(f32.nativeUs)} µs = ${fmtX(r.overFloat32)}` + (Number.isFinite(r.overFloat32MT) ? ` (all threads: ${fmtX(r.overFloat32MT)})` : ''),
    });
  }
  for (const dtype of ALLOC_DTYPES) {
    const r = find('bag', dtype);
    const measured = torch.error === undefined && Number.isFinite(r.torchUs);
    goals.push({
      goal: `${dtype} bag sum >= ${TORCH_TARGET}x torch's ${dtype === 'int8' ? 'embedding_bag_byte_rowwise_offsets' : 'embedding_bag_4bit_rowwise_offsets'}, 1 thread`,
      dtype,
      value: measured ? r.speedupVsTorchAlloc : null,
      target: TORCH_TARGET,
      met: measured ? r.speedupVsTorchAlloc >= TORCH_TARGET : null,
      text: measured
        ? `bag ${dtype}: forward(idx, offsets) ${fmtUs(r.allocUs)} µs vs torch ${fmtUs(r.torchUs)} µs = ${fmtX(r.speedupVsTorchAlloc)} (with out: ${fmtUs(r.nativeUs)} µs, ${fmtX(r.speedupVsTorch)})`
        : `bag ${dtype}: torch ${torch.error ?? r.torchError ?? 'not measured'}`,
    });
  }
  for (const dtype of NARROW) {
    const r = find('fwd', dtype);
    const expected = FBGEMM_ROW_BYTES[dtype](r.dim);
    goals.push({
      goal: `${dtype} bytes per row = FBGEMM's (${{ float16: '2·D', bfloat16: '2·D', int8: 'D + 8', int4: 'D/2 + 4' }[dtype]})`,
      dtype,
      value: r.rowBytes,
      target: expected,
      met: r.rowBytes === expected,
      text: `${dtype}: ${r.rowBytes} bytes per row at D=${r.dim} (FBGEMM ${expected}; float32 ${4 * r.dim})`,
    });
  }
  return goals;
}

// ---------------------------------------------------------------------------------------------
// PyTorch

/** The batches as files for bench/torch/dtype.py, and its spec file. */
function torchSpec(dir, { rows, dim, lookups, bags, threads, settings }) {
  const write = (name, arrays) => {
    const file = join(dir, name);
    writeFileSync(file, Buffer.concat(arrays.map((a) => Buffer.from(a.buffer, a.byteOffset, a.byteLength))));
    return file;
  };
  const spec = {
    rows,
    dim,
    threads: threads.counts,
    ...settings,
    batch: BATCH,
    lookup: write('lookup.bin', lookups),
    bags: BAGS,
    bagIndices: write('bag-indices.bin', bags.map((b) => b.indices)),
    bagOffsets: write('bag-offsets.bin', bags.map((b) => b.offsets)),
    bagCounts: bags.map((b) => b.indices.length),
    batches: lookups.length,
  };
  const file = join(dir, 'spec.json');
  writeFileSync(file, JSON.stringify(spec));
  return file;
}

function runTorch(torch, specFile) {
  const r = spawnSync(torch.python, [SCRIPT, specFile], { encoding: 'utf8', maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`bench/torch/dtype.py failed (${r.error?.message ?? `exit ${r.status}`}): ${r.stderr}`);
  return JSON.parse(r.stdout);
}
