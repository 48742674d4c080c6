#!/usr/bin/env node
// Benchmark entry (npm run bench). Three suites, each timing the native backend against the
// pure-TypeScript backend (and, for the first two, a native reference measured in the same run):
//   embedding  Embedding forward (gather) and dense backward (scatter-add)      (this file)
//   bag        EmbeddingBag sum / mean / weighted-sum forward and dense backward (embedding-bag.mjs)
//   train      one sparse training step (forward, backward, optimizer update) for SGD, Adagrad,
//              RowWiseAdagrad and SparseAdam, and the update fused into backward (train.mjs)
//
//   npm run bench                      full run, all suites
//   npm run bench -- --quick           reduced sampling, for CI smoke runs
//   npm run bench -- --json out.json   also write every figure as JSON
//   npm run bench -- --tiers           also time each SIMD tier the CPU runs (native fwd/bwd)
//   npm run bench -- --shapes S1,tiny  only some shapes (Embedding S1..S4,tiny; bags L20-D64, ...)
//   npm run bench -- --suite train     only one suite (embedding, bag, train or all)
//   NN_EMBEDDING_SIMD=avx2 npm run bench   the tier the default (native) layers use
//
// Method: per shape, 8 batches of uniform random int32 indices (seeded, so every run times the
// same batches) are rotated across calls. Each variant is warmed up, then sampled in rounds that
// interleave the variants (the order rotates each round) so machine noise hits them alike. A
// sample times k back-to-back calls, k chosen so a sample lasts about sampleTargetMs; its
// per-call time is elapsed / k. Reported: the median of the per-call times (plus min, p25, p75).
// Only real errors exit non-zero; an unmet goal does not.
import { createRequire } from 'node:module';
import { writeFileSync } from 'node:fs';

import {
  BATCHES,
  SEED,
  collect,
  fillQuick,
  fmtGbps,
  fmtUs,
  fmtX,
  gc,
  machineInfo,
  measure,
  now,
  parseArgs,
  peakRssGiB,
  prng,
  rotating,
  sameFloats,
  secondsSince,
  table,
  usage,
} from './harness.mjs';
import { BAG_SHAPES, runBagSuite } from './embedding-bag.mjs';
import { runTrainSuite } from './train.mjs';

const require = createRequire(import.meta.url);
const { Embedding, getBackend, getCapabilities } = require('../dist/index.js');
const { withBackend } = require('../dist/loader.js');
const { jsBackend } = require('../dist/backends/js.js');
const { createNativeBackend, loadAddon } = require('../dist/backends/native.js');

const SHAPES = [
  { name: 'S1', rows: 10_000, dim: 64, batch: 4_096 },
  { name: 'S2', rows: 1_000_000, dim: 128, batch: 16_384 },
  { name: 'S3', rows: 100_000, dim: 16, batch: 65_536 },
  { name: 'S4', rows: 50_000, dim: 300, batch: 1_024 },
  { name: 'tiny', rows: 1_000, dim: 32, batch: 8 },
];

const FORMULAS = {
  forwardBytes: 'B*D*4 (rows read) + B*D*4 (out written) + B*4 (int32 indices read)',
  backwardBytes: 'B*D*4 (gradOutput read) + 2*B*D*4 (grad rows read and written) + B*4 (int32 indices read)',
  gbps: 'bytes per call / median seconds per call / 1e9',
  nativeVsRef: 'ref median / native median (>= 1: native at least as fast as the reference)',
  speedupVsTs: 'TS median / native median',
  refForward: "native scalar-tier gather: one memcpy per row (kernels('scalar').gather), the memory-bandwidth reference",
  refBackward: "native scalar-tier scatterAdd: a plain C++ add loop (kernels('scalar').scatterAdd), for context only; the backward goal is vs TS",
  perCall: 'median over samples of (sample time / calls in the sample); a sample lasts about sampleTargetMs',
};

// ---------------------------------------------------------------------------------------------
// Embedding suite

function indexBatches(shape, seed) {
  const next = prng(seed);
  const batches = [];
  for (let b = 0; b < BATCHES; b++) {
    const indices = new Int32Array(shape.batch);
    // rows <= 2^20 here, so the bias of a 32-bit modulo is negligible.
    for (let i = 0; i < indices.length; i++) indices[i] = next() % shape.rows;
    batches.push(indices);
  }
  return batches;
}

function runEmbeddingSuite({ args, shapes, capabilities, reference, tiers, tierBackends }) {
  const started = now();
  const SETTINGS = args.quick
    ? { sampleTargetMs: 2, warmupMs: 40, minSamples: 5, maxSamples: 15, budgetMs: 250 }
    : { sampleTargetMs: 5, warmupMs: 150, minSamples: 7, maxSamples: 151, budgetMs: 3000 };
  console.log(
    `  int32 indices, ${BATCHES} seeded batches rotated; sample ≈ ${SETTINGS.sampleTargetMs} ms, ` +
      `${SETTINGS.minSamples}..${SETTINGS.maxSamples} samples, ≤ ~${SETTINGS.budgetMs} ms per variant`,
  );
  console.log('');

  const results = [];
  for (const [shapeNumber, shape] of SHAPES.entries()) {
    if (!shapes.includes(shape)) continue;
    const { rows, dim, batch } = shape;
    const t0 = now();
    const weight = fillQuick(new Float32Array(rows * dim), SEED + shapeNumber);
    const batches = indexBatches(shape, SEED * 31 + shapeNumber);
    const out = new Float32Array(batch * dim);
    const gradOutput = fillQuick(new Float32Array(batch * dim), SEED * 17 + shapeNumber);

    // Layers share the table (weight is adopted, not copied); each dense layer owns its grad.
    const native = new Embedding(rows, dim, { weight });
    const ts = withBackend(jsBackend, () => new Embedding(rows, dim, { weight }));
    const tierLayers = Object.fromEntries(
      tiers.map((tier) => [tier, withBackend(tierBackends[tier], () => new Embedding(rows, dim, { weight }))]),
    );

    // Sanity: the three forward paths agree on batch 0.
    const check = new Float32Array(batch * dim);
    reference.gather(weight, dim, batches[0], check);
    for (const [name, layer] of [['native', native], ['TS', ts], ...Object.entries(tierLayers)]) {
      if (!sameFloats(layer.forward(batches[0], out), check)) throw new Error(`${shape.name}: ${name} forward differs from the reference`);
    }
    // The first backward allocates the N×D grad: do it before timing.
    native.backward(batches[0], gradOutput);
    ts.backward(batches[0], gradOutput);
    for (const layer of Object.values(tierLayers)) layer.backward(batches[0], gradOutput);
    // A new Float32Array is zero pages the OS maps on first write: touch every page now, as a
    // training loop's second step would find them, so that no variant pays page faults in the timing.
    for (const layer of [native, ts, ...Object.values(tierLayers)]) layer.grad.fill(0);
    const refGrad = native.grad; // the reference scatter-add accumulates into the native layer's grad
    const setupMs = Number(now() - t0) / 1e6;

    const forwardBytes = batch * dim * 4 * 2 + batch * 4;
    const backwardBytes = batch * dim * 4 * 3 + batch * 4;
    const ops = [
      {
        op: 'fwd',
        bytes: forwardBytes,
        variants: [
          { key: 'native', run: rotating(batches, (idx) => native.forward(idx, out)) },
          { key: 'ts', run: rotating(batches, (idx) => ts.forward(idx, out)) },
          { key: 'ref', run: rotating(batches, (idx) => reference.gather(weight, dim, idx, out)) },
          ...tiers.map((tier) => ({ key: `tier:${tier}`, run: rotating(batches, (idx) => tierLayers[tier].forward(idx, out)) })),
        ],
      },
      {
        op: 'bwd',
        bytes: backwardBytes,
        variants: [
          { key: 'native', run: rotating(batches, (idx) => native.backward(idx, gradOutput)) },
          { key: 'ts', run: rotating(batches, (idx) => ts.backward(idx, gradOutput)) },
          { key: 'ref', run: rotating(batches, (idx) => reference.scatterAdd(refGrad, dim, idx, gradOutput, null, -1)) },
          ...tiers.map((tier) => ({
            key: `tier:${tier}`,
            run: rotating(batches, (idx) => tierLayers[tier].backward(idx, gradOutput)),
          })),
        ],
      },
    ];
    for (const { op, bytes, variants } of ops) {
      gc();
      const opStarted = now();
      const stats = measure(variants, SETTINGS);
      for (const v of Object.values(stats)) v.gbps = bytes / (v.medianUs * 1e-6) / 1e9;
      const entry = {
        op,
        shape: shape.name,
        rows,
        dim,
        batch,
        bytesPerCall: bytes,
        variants: stats,
        nativeVsRef: stats.ref.medianUs / stats.native.medianUs,
        speedupVsTs: stats.ts.medianUs / stats.native.medianUs,
        seconds: Number(now() - opStarted) / 1e9,
        setupMs: op === 'fwd' ? setupMs : 0,
      };
      results.push(entry);
      const line = `  ${op} ${shape.name.padEnd(4)} native ${fmtUs(stats.native.medianUs)} µs, TS ${fmtUs(stats.ts.medianUs)} µs, ref ${fmtUs(stats.ref.medianUs)} µs  (${entry.seconds.toFixed(1)} s)`;
      process.stderr.write(line + '\n');
    }
    // Let the big tables go before the next shape.
    gc();
  }

  // Report.
  const shapeText = (r) => `${r.shape} ${r.rows}×${r.dim} B=${r.batch}`;
  console.log('');
  console.log(
    table(
      ['op', 'shape', 'native µs', 'TS µs', 'ref µs', 'native GB/s', 'ref GB/s', 'native/ref', 'speed-up vs TS'],
      results.map((r) => [
        r.op,
        shapeText(r),
        fmtUs(r.variants.native.medianUs),
        fmtUs(r.variants.ts.medianUs),
        fmtUs(r.variants.ref.medianUs),
        fmtGbps(r.variants.native.gbps),
        fmtGbps(r.variants.ref.gbps),
        fmtX(r.nativeVsRef),
        fmtX(r.speedupVsTs),
      ]),
      ['l', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  console.log('');
  console.log(`median µs per call; native = default layers (tier ${capabilities.simd}), TS = pure-TypeScript backend, both via the public API`);
  console.log(`ref (fwd): ${FORMULAS.refForward}`);
  console.log(`ref (bwd): ${FORMULAS.refBackward}`);
  console.log(`GB/s: fwd bytes = ${FORMULAS.forwardBytes}; bwd bytes = ${FORMULAS.backwardBytes}`);
  console.log('native/ref = ref µs / native µs; speed-up vs TS = TS µs / native µs');

  if (tiers.length > 0) {
    console.log('');
    console.log(
      table(
        ['op', 'shape', ...tiers.map((t) => `${t} µs`), 'ref µs', ...tiers.map((t) => `${t}/ref`)],
        results.map((r) => [
          r.op,
          shapeText(r),
          ...tiers.map((t) => fmtUs(r.variants[`tier:${t}`].medianUs)),
          fmtUs(r.variants.ref.medianUs),
          ...tiers.map((t) => fmtX(r.variants.ref.medianUs / r.variants[`tier:${t}`].medianUs)),
        ]),
        ['l', 'l', ...tiers.map(() => 'r'), 'r', ...tiers.map(() => 'r')],
      ),
    );
    console.log('per-tier native layers (createNativeBackend(tier)), timed in the same rounds as the main table');
  }

  // Goals.
  const goals = [];
  const find = (op, shape) => results.find((r) => r.op === op && r.shape === shape);
  for (const r of results.filter((r) => r.op === 'fwd' && r.dim >= 64)) {
    goals.push({
      goal: 'native forward >= 0.8x the memcpy reference (D >= 64)',
      shape: r.shape,
      value: r.nativeVsRef,
      target: 0.8,
      met: r.nativeVsRef >= 0.8,
      text: `fwd ${r.shape} (D=${r.dim}): native/ref = ${fmtX(r.nativeVsRef)} (native ${fmtUs(r.variants.native.medianUs)} µs, ref ${fmtUs(r.variants.ref.medianUs)} µs)`,
    });
  }
  for (const r of results.filter((r) => r.op === 'bwd' && r.dim >= 16 && r.shape !== 'tiny')) {
    goals.push({
      goal: 'native backward >= 3x the TypeScript backend (D >= 16)',
      shape: r.shape,
      value: r.speedupVsTs,
      target: 3,
      met: r.speedupVsTs >= 3,
      text: `bwd ${r.shape} (D=${r.dim}): native ${fmtUs(r.variants.native.medianUs)} µs vs TS ${fmtUs(r.variants.ts.medianUs)} µs = ${fmtX(r.speedupVsTs)}`,
    });
  }
  for (const op of ['fwd', 'bwd']) {
    const r = find(op, 'tiny');
    if (r === undefined) continue;
    const us = r.variants.native.medianUs;
    goals.push({
      goal: 'per-call overhead of the tiny shape <= 2 us',
      shape: 'tiny',
      op,
      value: us,
      target: 2,
      met: us <= 2,
      text: `${op} tiny (B=8, D=32): native ${fmtUs(us)} µs per call (TS ${fmtUs(r.variants.ts.medianUs)} µs, ref ${fmtUs(r.variants.ref.medianUs)} µs)`,
    });
  }
  console.log('');
  console.log('goals');
  for (const g of goals) console.log(`  ${g.met ? 'MET  ' : 'UNMET'}  ${g.text}  [target ${g.goal}]`);
  const tinyBwd = find('bwd', 'tiny');
  if (tinyBwd !== undefined) {
    console.log(
      `  (info) bwd tiny is left out of the 3× backward goal: at B=8 it measures call overhead, native ${fmtUs(tinyBwd.variants.native.medianUs)} µs vs TS ${fmtUs(tinyBwd.variants.ts.medianUs)} µs = ${fmtX(tinyBwd.speedupVsTs)}`,
    );
  }
  console.log(`  ${goals.filter((g) => g.met).length}/${goals.length} met`);
  return { settings: SETTINGS, results, goals, seconds: secondsSince(started) };
}

// ---------------------------------------------------------------------------------------------
// Main

const started = now();
const args = parseArgs(process.argv.slice(2));

// --shapes names shapes of the embedding and bag suites; each runs the ones it knows. The train
// suite has no shapes: it runs with --suite train or all, but not when --shapes picks a subset.
let embeddingShapes = SHAPES;
let bagShapes = BAG_SHAPES;
if (args.shapes !== null) {
  const known = [...SHAPES, ...BAG_SHAPES].map((s) => s.name);
  const unknown = args.shapes.filter((name) => !known.includes(name));
  if (unknown.length > 0) throw new Error(`unknown shape(s) ${unknown.join(', ')}; known: ${known.join(', ')}\n${usage()}`);
  embeddingShapes = SHAPES.filter((s) => args.shapes.includes(s.name));
  bagShapes = BAG_SHAPES.filter((s) => args.shapes.includes(s.name));
}
const runEmbedding = (args.suite === 'all' || args.suite === 'embedding') && embeddingShapes.length > 0;
const runBag = (args.suite === 'all' || args.suite === 'bag') && bagShapes.length > 0;
const runTrain = args.suite === 'train' || (args.suite === 'all' && args.shapes === null);
if (!runEmbedding && !runBag && !runTrain) throw new Error(`--shapes ${args.shapes.join(',')} selects no shape of --suite ${args.suite}\n${usage()}`);

if (getBackend() !== 'native') {
  const why = getCapabilities().nativeError;
  throw new Error(
    `the default backend is '${getBackend()}', not 'native' (${why}); build the addon with 'npm run build:native' and unset NN_EMBEDDING_BACKEND`,
  );
}
const capabilities = getCapabilities();
const reference = loadAddon().kernels('scalar');
const tiers = args.tiers ? capabilities.cpu.tiers : [];
const tierBackends = Object.fromEntries(tiers.map((tier) => [tier, createNativeBackend(tier)]));
const machine = machineInfo();

console.log('nn-embedding benchmark' + (args.quick ? ' (--quick)' : ''));
console.log(`  date ${machine.date}, node ${machine.node}, ${machine.platform} ${machine.arch}`);
console.log(`  cpu ${machine.cpuModel}, ${machine.logicalCpus} logical cpus, tiers [${capabilities.cpu.tiers.join(', ')}]`);
console.log(
  `  backend ${capabilities.backend}, native tier ${capabilities.simd}` +
    (machine.env.NN_EMBEDDING_SIMD ? ` (NN_EMBEDDING_SIMD=${machine.env.NN_EMBEDDING_SIMD})` : ' (widest)'),
);
const suiteNames = [runEmbedding && 'embedding', runBag && 'bag', runTrain && 'train'].filter(Boolean);
console.log(`  suites: ${suiteNames.join(', ')}`);

const context = { args, capabilities, reference, tiers, tierBackends };
let embedding = null;
let bag = null;
let train = null;
if (runEmbedding) {
  console.log('');
  console.log('Embedding: forward (gather) and dense backward (scatter-add)');
  embedding = runEmbeddingSuite({ ...context, shapes: embeddingShapes });
  collect();
}
if (runBag) {
  console.log('');
  bag = runBagSuite({ ...context, shapes: bagShapes });
  collect();
}
if (runTrain) {
  console.log('');
  train = runTrainSuite(context);
}

const runtimeSeconds = secondsSince(started);
console.log('');
const parts = [
  embedding && `embedding ${embedding.seconds.toFixed(1)} s`,
  bag && `bag ${bag.seconds.toFixed(1)} s`,
  train && `train ${train.seconds.toFixed(1)} s`,
].filter(Boolean);
console.log(`total ${runtimeSeconds.toFixed(1)} s (${parts.join(', ')}; peak RSS ${peakRssGiB().toFixed(2)} GiB)`);

if (args.json !== null) {
  // Schema 1, extended: the top-level fields are the Embedding suite's as before (empty when it
  // did not run); the EmbeddingBag suite is under `bag` and the training-step suite under `train`
  // (each null when it did not run).
  const report = {
    schema: 1,
    benchmark: 'nn-embedding bench/embedding.mjs',
    args: { quick: args.quick, tiers: args.tiers, shapes: embeddingShapes.map((s) => s.name), suite: args.suite },
    suites: suiteNames,
    machine,
    capabilities,
    nativeTier: capabilities.simd,
    settings: {
      ...(embedding?.settings ?? {}),
      batchesRotated: BATCHES,
      indexType: 'int32',
      seed: SEED,
      timer: 'process.hrtime.bigint',
    },
    formulas: FORMULAS,
    results: embedding?.results ?? [],
    goals: embedding?.goals ?? [],
    embeddingSeconds: embedding?.seconds ?? 0,
    bag: bag === null ? null : { ...bag, shapes: bagShapes.map((s) => s.name) },
    train,
    peakRssGiB: peakRssGiB(),
    runtimeSeconds,
  };
  writeFileSync(args.json, JSON.stringify(report, null, 2) + '\n');
  console.log(`wrote ${args.json}`);
}
