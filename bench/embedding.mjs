#!/usr/bin/env node
// Benchmark entry (npm run bench): what a Node.js user would weigh before choosing nn-embedding.
// Three suites time the native backend (at 1 thread and at all threads when the build has a
// thread pool) against its pure-TypeScript backend, @tensorflow/tfjs on its pure-JS CPU backend, a
// naive JavaScript loop, and a native memory-bandwidth reference, all in the same run on the same
// inputs:
//   embedding  Embedding forward (gather) and dense backward (scatter-add), and the async calls
//              on the tiny shape                                                 (this file)
//   bag        EmbeddingBag sum / mean / weighted-sum forward and dense backward (embedding-bag.mjs)
//   train      one sparse training step (forward, backward, optimizer update) for SGD, Adagrad,
//              RowWiseAdagrad and SparseAdam, and the update fused into backward (train.mjs)
//   torch      the calls a user writes (forward with and without out, forward+backward, training
//              steps) next to the same calls in PyTorch, when installed                (torch.mjs)
//   io         loading speed (MB/s) of a 200,000 × 300 table from word2vec text and binary, GloVe,
//              fastText, safetensors and .npy files (and word2vec binary at 1,000,000 × 300),
//              against fs.readFileSync, memcpy and a fresh table's fill (io.mjs)
//   init       creating an initialized table (new Embedding with each init kind, Embedding.create,
//              the TS backend) at 10^5 × 300 and 10^6 × 128, next to torch's nn.Embedding and
//              nn.init, when installed, and a fill-bandwidth reference (init.mjs)
//   dtype      lookups and bag sums on a 4·10^6 × 128 table stored as float32, float16, bfloat16,
//              int8 and int4, next to PyTorch's quantized bags (when installed), and memory per row
//              (dtype.mjs)
//   similarity exact top-10 cosine (mostSimilarBatch) for 1, 16 and 256 queries over 10^5 × 300 and
//              10^6 × 128 tables, against a one-pass bandwidth reference, numpy and faiss (similarity.mjs)
// The alternatives (naive loops, tfjs calls, tfjs's gradient cost model) are in alternatives.mjs;
// the speed-up chart (SVG) in chart.mjs.
//
//   npm run bench                      full run, all suites (about 4 to 5 minutes; 7.5 more with PyTorch)
//   npm run bench -- --quick           reduced sampling, bag shapes and dtype table (about a minute; 2.5 more with PyTorch)
//   npm run bench -- --json out.json   also write every figure as JSON, and out.svg (the chart)
//   npm run bench -- --tiers           also time each SIMD tier the CPU runs (native fwd/bwd)
//   npm run bench -- --shapes S1,tiny  only some shapes (Embedding S1..S4,tiny; bags L20-D64, ...)
//   npm run bench -- --suite train     only one suite (embedding, bag, train, io, torch, init, dtype or all)
//   NN_EMBEDDING_SIMD=avx2 npm run bench   the tier the default (native) layers use
//   NN_EMBEDDING_THREADS=4 npm run bench   the "all threads" count
//
// Method: per shape, 8 batches of uniform random int32 indices (seeded, so every run times the
// same batches) are rotated across calls. Each variant is warmed up, then sampled in rounds that
// interleave the variants (the order rotates each round) so machine noise hits them alike. A
// sample times k back-to-back calls, k chosen so a sample lasts about sampleTargetMs; its
// per-call time is elapsed / k. Reported: the median of the per-call times (plus min, p25, p75).
// The native thread count is set (untimed) before each of a native variant's samples; the other
// variants run with it at 1 (they are single-threaded; the reference is a raw native kernel).
// Speed-ups are native at 1 thread over each alternative (all single-threaded).
// Only real errors exit non-zero; an unmet goal does not.
import { createRequire } from 'node:module';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';

import { BATCHES, EMBEDDING_SHAPES, SEED, collect, fillQuick, fmtSeconds, fmtUs, fmtX, gc, indexBatches, machineInfo, measure, measureAsync, nativeVariants, now, parseArgs, peakRssGiB, printGoals, rotating, sameFloats, secondsSince, table, threadControl, usage, comparisonCells, comparisonHeaders } from './harness.mjs';
import { NAIVE_FORMULAS, TFJS_FORMULAS, loadTfjs, naiveGather, naiveScatterAdd, tfjsGradModel, tfjsOps } from './alternatives.mjs';
import { BAG_SHAPES, QUICK_BAG_SHAPES, runBagSuite } from './embedding-bag.mjs';
import { runTrainSuite } from './train.mjs';
import { runIoSuite } from './io.mjs';
import { runTorchSuite } from './torch.mjs';
import { runInitSuite } from './init.mjs';
import { runDtypeSuite } from './dtype.mjs';
import { runSimilaritySuite } from './similarity.mjs';
import { chartGroups, speedupChart } from './chart.mjs';

const require = createRequire(import.meta.url);
const lib = require('../dist/index.js');
const { Embedding, getBackend, getCapabilities } = lib;
const { withBackend } = require('../dist/loader.js');
const { jsBackend } = require('../dist/backends/js.js');
const { createNativeBackend, loadAddon } = require('../dist/backends/native.js');

const SHAPES = EMBEDDING_SHAPES;

const FORMULAS = {
  forwardBytes: 'B*D*4 (rows read) + B*D*4 (out written) + B*4 (int32 indices read)',
  backwardBytes: 'B*D*4 (gradOutput read) + 2*B*D*4 (grad rows read and written) + B*4 (int32 indices read)',
  gbps: 'bytes per call / median seconds per call / 1e9',
  nativeVsRef: 'ref median / native (1 thread) median (>= 1: native at least as fast as the reference)',
  threadSpeedup: 'native 1-thread median / native all-threads median',
  speedups: 'alternative median / native 1-thread median (TS, tfjs, naive JS and the reference run on one thread)',
  refForward: "native scalar-tier gather: one memcpy per row (kernels('scalar').gather), the memory-bandwidth reference, 1 thread",
  refBackward: "native scalar-tier scatterAdd: a plain C++ add loop (kernels('scalar').scatterAdd), 1 thread, for context",
  async: 'forwardAsync / backwardAsync on the tiny shape: median µs per call, k calls awaited one after the other per sample',
  perCall: 'median over samples of (sample time / calls in the sample); a sample lasts about sampleTargetMs',
  naive: NAIVE_FORMULAS,
  tfjs: TFJS_FORMULAS,
};

// ---------------------------------------------------------------------------------------------
// Embedding suite

/** k calls awaited one after the other, each on the next batch. */
function rotatingAsync(batches, call) {
  let next = 0;
  return async (k) => {
    for (let i = 0; i < k; i++) {
      await call(batches[next]);
      next = (next + 1) & (BATCHES - 1);
    }
  };
}

const shapeText = (r) => `${r.shape} ${r.rows}×${r.dim} B=${r.batch}`;

async function runEmbeddingSuite({ args, shapes, capabilities, reference, tiers, tierBackends, threads, tfjs, gradModel }) {
  const started = now();
  const SETTINGS = args.quick
    ? { sampleTargetMs: 2, warmupMs: 30, minSamples: 5, maxSamples: 15, budgetMs: 150 }
    : { sampleTargetMs: 5, warmupMs: 100, minSamples: 7, maxSamples: 101, budgetMs: 500 };
  // tfjs calls take up to half a second: fewer samples, bounded by time.
  const SLOW = args.quick ? { minSamples: 3, maxSamples: 5, budgetMs: 250, warmupCalls: 1 } : { minSamples: 5, maxSamples: 41, budgetMs: 1200, warmupCalls: 2 };
  // tfjs's gather gradient runs only where the model estimates one call within this budget (the
  // model overestimates small tables: the tiny shape's ~0.1 s call is estimated at 0.2-0.3 s).
  const GRAD_BUDGET_S = 1;
  const one = threads.single;
  const MT = threads.multi;
  console.log(
    `  int32 indices, ${BATCHES} seeded batches rotated; sample ≈ ${SETTINGS.sampleTargetMs} ms, ` +
      `${SETTINGS.minSamples}..${SETTINGS.maxSamples} samples, ≤ ~${SETTINGS.budgetMs} ms per variant ` +
      `(tfjs: ${SLOW.minSamples}..${SLOW.maxSamples} samples, ≤ ~${SLOW.budgetMs} ms)`,
  );
  console.log('');

  const ops = tfjs ? tfjsOps(tfjs) : null;
  const results = [];
  for (const [shapeNumber, shape] of SHAPES.entries()) {
    if (!shapes.includes(shape)) continue;
    const { rows, dim, batch } = shape;
    const t0 = now();
    const weight = fillQuick(new Float32Array(rows * dim), SEED + shapeNumber);
    const batches = indexBatches(shape.rows, shape.batch, SEED * 31 + shapeNumber);
    const out = new Float32Array(batch * dim);
    const gradOutput = fillQuick(new Float32Array(batch * dim), SEED * 17 + shapeNumber);

    // Layers share the table (weight is adopted, not copied); each dense layer owns its grad.
    const native = new Embedding(rows, dim, { weight });
    const ts = withBackend(jsBackend, () => new Embedding(rows, dim, { weight }));
    const tierLayers = Object.fromEntries(
      tiers.map((tier) => [tier, withBackend(tierBackends[tier], () => new Embedding(rows, dim, { weight }))]),
    );
    const tableTensor = ops?.table(weight, rows, dim); // shares weight's memory

    // Sanity: every forward path gives the reference's bits on batch 0.
    const check = new Float32Array(batch * dim);
    reference.gather(weight, dim, batches[0], check);
    for (const [name, layer] of [['native', native], ['TS', ts], ...Object.entries(tierLayers)]) {
      if (!sameFloats(layer.forward(batches[0], out), check)) throw new Error(`${shape.name}: ${name} forward differs from the reference`);
    }
    naiveGather(weight, dim, batches[0], out);
    if (!sameFloats(out, check)) throw new Error(`${shape.name}: the naive forward differs from the reference`);
    if (ops && !sameFloats(ops.values(() => tfjs.gather(tableTensor, tfjs.tensor1d(batches[0], 'int32'))), check)) {
      throw new Error(`${shape.name}: tf.gather differs from the reference`);
    }
    // The first backward allocates the N×D grad: do it before timing.
    native.backward(batches[0], gradOutput);
    ts.backward(batches[0], gradOutput);
    for (const layer of Object.values(tierLayers)) layer.backward(batches[0], gradOutput);
    const naiveGrad = new Float32Array(rows * dim);
    // A new Float32Array is zero pages the OS maps on first write: touch every page now, as a
    // training loop's second step would find them, so that no variant pays page faults in the timing.
    for (const layer of [native, ts, ...Object.values(tierLayers)]) layer.grad.fill(0);
    naiveGrad.fill(0);
    // Info: the naive loop's backward of batch 0 from zero has the native bits.
    native.backward(batches[0], gradOutput);
    naiveScatterAdd(naiveGrad, dim, batches[0], gradOutput);
    const naiveBackwardMatches = sameFloats(native.grad, naiveGrad);
    const refGrad = native.grad; // the reference scatter-add accumulates into the native layer's grad

    // tfjs's gather gradient: timed where the model says one call fits the budget.
    const estimatedGradSeconds = gradModel ? gradModel.estimateSeconds(rows, batch, dim) : NaN;
    const runGrad = ops !== null && estimatedGradSeconds <= GRAD_BUDGET_S;
    const setupMs = Number(now() - t0) / 1e6;

    const forwardBytes = batch * dim * 4 * 2 + batch * 4;
    const backwardBytes = batch * dim * 4 * 3 + batch * 4;
    const opsToTime = [
      {
        op: 'fwd',
        bytes: forwardBytes,
        variants: [
          ...nativeVariants(threads, rotating(batches, (idx) => native.forward(idx, out))),
          { key: 'ts', before: one, run: rotating(batches, (idx) => ts.forward(idx, out)) },
          { key: 'naive', before: one, run: rotating(batches, (idx) => naiveGather(weight, dim, idx, out)) },
          { key: 'ref', before: one, run: rotating(batches, (idx) => reference.gather(weight, dim, idx, out)) },
          ...(ops ? [{ key: 'tfjs', before: one, settings: SLOW, run: rotating(batches, (idx) => ops.gather(tableTensor, idx)) }] : []),
          ...tiers.map((tier) => ({ key: `tier:${tier}`, before: one, run: rotating(batches, (idx) => tierLayers[tier].forward(idx, out)) })),
        ],
      },
      {
        op: 'bwd',
        bytes: backwardBytes,
        variants: [
          ...nativeVariants(threads, rotating(batches, (idx) => native.backward(idx, gradOutput))),
          { key: 'ts', before: one, run: rotating(batches, (idx) => ts.backward(idx, gradOutput)) },
          { key: 'naive', before: one, run: rotating(batches, (idx) => naiveScatterAdd(naiveGrad, dim, idx, gradOutput)) },
          { key: 'ref', before: one, run: rotating(batches, (idx) => reference.scatterAdd(refGrad, dim, idx, gradOutput, null, -1)) },
          ...(runGrad ? [{ key: 'tfjs', before: one, settings: SLOW, run: rotating(batches, (idx) => ops.gatherGrad(tableTensor, idx, gradOutput, dim)) }] : []),
          ...(ops
            ? [{ key: 'tfjsScatter', before: one, settings: SLOW, run: rotating(batches, (idx) => ops.scatterND(rows, dim, idx, gradOutput)) }]
            : []),
          ...tiers.map((tier) => ({
            key: `tier:${tier}`,
            before: one,
            run: rotating(batches, (idx) => tierLayers[tier].backward(idx, gradOutput)),
          })),
        ],
      },
    ];
    for (const { op, bytes, variants } of opsToTime) {
      gc();
      const opStarted = now();
      const stats = measure(variants, SETTINGS);
      threads.restore();
      const entry = makeEntry({ op, shape, bytes, stats, seconds: secondsSince(opStarted), setupMs: op === 'fwd' ? setupMs : 0 });
      if (op === 'bwd') {
        entry.naiveMatchesNative = naiveBackwardMatches;
        if (ops === null) entry.tfjs = null;
        else if (runGrad) entry.tfjs = { measured: true, estimatedSeconds: estimatedGradSeconds };
        else entry.tfjs = { measured: false, estimatedSeconds: estimatedGradSeconds, reason: `over budget (${GRAD_BUDGET_S} s per call)` };
        if (ops && !runGrad) entry.speedup.tfjsEstimated = (estimatedGradSeconds * 1e6) / stats.native.medianUs;
      }
      results.push(entry);
      progress(entry);
    }

    // The async calls, on the tiny shape: awaited one after the other.
    if (shape.name === 'tiny') {
      for (const op of ['fwd', 'bwd']) {
        gc();
        const opStarted = now();
        const call = op === 'fwd' ? (layer) => (idx) => layer.forwardAsync(idx, out) : (layer) => (idx) => layer.backwardAsync(idx, gradOutput);
        const stats = await measureAsync(
          [
            ...nativeVariants(threads, rotatingAsync(batches, call(native))),
            { key: 'ts', before: one, run: rotatingAsync(batches, call(ts)) },
          ],
          SETTINGS,
        );
        threads.restore();
        const entry = makeEntry({ op: `${op} async`, shape, bytes: op === 'fwd' ? forwardBytes : backwardBytes, stats, seconds: secondsSince(opStarted), setupMs: 0 });
        results.push(entry);
        progress(entry);
      }
    }
    tableTensor?.dispose();
    // Let the big tables go before the next shape.
    gc();
  }

  // Report.
  const cell = (r, key) => fmtUs(r.variants[key]?.medianUs);
  const tfjsCell = (r) => (r.variants.tfjs ? cell(r, 'tfjs') : r.tfjs && !r.tfjs.measured ? `not run (~${fmtSeconds(r.tfjs.estimatedSeconds)} est.)` : '-');
  console.log('');
  console.log(
    table(
      [
        'op',
        'shape',
        ...comparisonHeaders(MT, threads.all),
      ],
      results.map((r) => [
        r.op,
        shapeText(r),
        ...comparisonCells(r, MT, tfjsCell),
      ]),
      ['l', 'l', ...Array(13 + (MT ? 2 : 0)).fill('r')],
    ),
  );
  console.log('');
  console.log(
    `median µs per call; native = default layers (tier ${capabilities.simd}) at 1 thread` +
      (MT ? `, ${threads.all}T = the same layer at all ${threads.all} threads` : ` (${threads.describe()})`) +
      '; TS = pure-TypeScript backend; both via the public API',
  );
  console.log(`tfjs ${tfjs ? `${tfjs.version.tfjs} (cpu backend, prod mode)` : '(not installed)'}: fwd = ${TFJS_FORMULAS.forward}`);
  console.log(`  bwd = ${TFJS_FORMULAS.gradient}`);
  if (gradModel) {
    console.log(
      `  model: ${fmtSeconds(gradModel.a)} per table row + ${(gradModel.b * 1e9).toFixed(0)} ns per gradOutput element per table row` +
        `; estimates: ${results.filter((r) => r.tfjs).map((r) => `${r.shape} ${fmtSeconds(r.tfjs.estimatedSeconds)}${r.tfjs.measured ? ` (measured ${fmtSeconds(r.variants.tfjs.medianUs / 1e6)})` : ''}`).join(', ')}`,
    );
  }
  console.log(`naive JS: fwd ${NAIVE_FORMULAS.forward}; bwd ${NAIVE_FORMULAS.backward}`);
  console.log(`ref (fwd): ${FORMULAS.refForward}`);
  console.log(`ref (bwd): ${FORMULAS.refBackward}`);
  console.log(`GB/s: fwd bytes = ${FORMULAS.forwardBytes}; bwd bytes = ${FORMULAS.backwardBytes}`);
  console.log(
    'native/ref = ref µs / native µs' + (MT ? `; ${threads.all}T/1T = native 1-thread µs / native ${threads.all}-thread µs` : '') + '; × X = X µs / native (1 thread) µs',
  );
  console.log('async rows: µs per forwardAsync / backwardAsync call, calls awaited one after the other');

  // tfjs's backward alternatives.
  const backward = results.filter((r) => r.op === 'bwd');
  if (ops && backward.length > 0) {
    console.log('');
    console.log(
      table(
        ['bwd shape', 'native µs', 'tf.grad(tf.gather) µs', 'tf.scatterND* µs', '× tf.grad', '× scatterND*'],
        backward.map((r) => [
          shapeText(r),
          cell(r, 'native'),
          r.tfjs.measured ? cell(r, 'tfjs') : `not run (~${fmtSeconds(r.tfjs.estimatedSeconds)} est.)`,
          cell(r, 'tfjsScatter'),
          r.tfjs.measured ? fmtX(r.speedup.tfjs) : `~${fmtX(r.speedup.tfjsEstimated)} est.`,
          fmtX(r.speedup.tfjsScatter),
        ]),
        ['l', 'r', 'r', 'r', 'r', 'r'],
      ),
    );
    console.log(`tfjs backward: tf.grad is the gradient tfjs gives; ${TFJS_FORMULAS.scatterND}`);
  }

  if (tiers.length > 0) {
    const timed = results.filter((r) => !r.op.includes('async'));
    console.log('');
    console.log(
      table(
        ['op', 'shape', ...tiers.map((t) => `${t} µs`), 'ref µs', ...tiers.map((t) => `${t}/ref`)],
        timed.map((r) => [
          r.op,
          shapeText(r),
          ...tiers.map((t) => fmtUs(r.variants[`tier:${t}`].medianUs)),
          fmtUs(r.variants.ref.medianUs),
          ...tiers.map((t) => fmtX(r.variants.ref.medianUs / r.variants[`tier:${t}`].medianUs)),
        ]),
        ['l', 'l', ...tiers.map(() => 'r'), 'r', ...tiers.map(() => 'r')],
      ),
    );
    console.log('per-tier native layers (createNativeBackend(tier)), 1 thread, timed in the same rounds as the main table');
  }

  const goals = embeddingGoals(results, threads);
  console.log('');
  printGoals(goals, 'goals (Embedding)');
  return { settings: { ...SETTINGS, slow: SLOW, tfjsGradBudgetSeconds: GRAD_BUDGET_S }, results, goals, seconds: secondsSince(started) };
}

function makeEntry({ op, shape, bytes, stats, seconds, setupMs }) {
  for (const v of Object.values(stats)) v.gbps = bytes / (v.medianUs * 1e-6) / 1e9;
  const base = stats.native.medianUs;
  const over = (key) => (stats[key] ? stats[key].medianUs / base : NaN);
  return {
    op,
    shape: shape.name,
    rows: shape.rows,
    dim: shape.dim,
    batch: shape.batch,
    bytesPerCall: bytes,
    variants: stats,
    nativeVsRef: over('ref'),
    nativeMTVsRef: stats.nativeMT && stats.ref ? stats.ref.medianUs / stats.nativeMT.medianUs : NaN,
    threadSpeedup: stats.nativeMT ? base / stats.nativeMT.medianUs : NaN,
    speedup: { ts: over('ts'), tfjs: over('tfjs'), naive: over('naive'), tfjsScatter: over('tfjsScatter') },
    seconds,
    setupMs,
  };
}

function progress(entry) {
  const parts = Object.entries(entry.variants)
    .filter(([key]) => !key.startsWith('tier:'))
    .map(([key, v]) => `${key} ${fmtUs(v.medianUs)}`);
  process.stderr.write(`  ${entry.op.padEnd(9)} ${entry.shape.padEnd(4)} ${parts.join(', ')} µs  (${entry.seconds.toFixed(1)} s)\n`);
}

function embeddingGoals(results, threads) {
  const goals = [];
  const find = (op, shape) => results.find((r) => r.op === op && r.shape === shape);
  for (const r of results.filter((r) => r.op === 'fwd' && r.dim >= 64)) {
    goals.push({
      goal: 'native forward >= 0.85x the memcpy reference for D >= 64, at 1 thread',
      shape: r.shape,
      value: r.nativeVsRef,
      target: 0.85,
      met: r.nativeVsRef >= 0.85,
      text: `fwd ${r.shape} (D=${r.dim}): native/ref = ${fmtX(r.nativeVsRef)} (native ${fmtUs(r.variants.native.medianUs)} µs, ref ${fmtUs(r.variants.ref.medianUs)} µs)`,
    });
  }
  const s2 = find('fwd', 'S2');
  if (s2 !== undefined) {
    const measured = Number.isFinite(s2.threadSpeedup);
    goals.push({
      goal: 'native forward with 2 threads >= 1.5x the 1-thread speed on the 10^6-row shape',
      shape: 'S2',
      threads: measured ? threads.all : null,
      value: measured ? s2.threadSpeedup : null,
      target: 1.5,
      met: measured ? s2.threadSpeedup >= 1.5 : null,
      text: measured
        ? `fwd S2: ${threads.all} threads ${fmtUs(s2.variants.nativeMT.medianUs)} µs vs 1 thread ${fmtUs(s2.variants.native.medianUs)} µs = ${fmtX(s2.threadSpeedup)}` +
          (threads.all === 2 ? '' : ` (all threads = ${threads.all}, not 2)`)
        : `fwd S2: not measured, ${threads.describe()}`,
    });
  }
  for (const r of results.filter((r) => r.op === 'bwd')) {
    goals.push({
      goal: 'native dense backward >= 5x the TypeScript backend at every shape',
      shape: r.shape,
      value: r.speedup.ts,
      target: 5,
      met: r.speedup.ts >= 5,
      text: `bwd ${r.shape}: native ${fmtUs(r.variants.native.medianUs)} µs vs TS ${fmtUs(r.variants.ts.medianUs)} µs = ${fmtX(r.speedup.ts)}`,
    });
    if (r.tfjs) {
      const value = r.tfjs.measured ? r.speedup.tfjs : r.speedup.tfjsEstimated;
      goals.push({
        goal: 'native dense backward >= 50x tfjs (gradient of tf.gather) at every shape',
        shape: r.shape,
        value,
        estimated: !r.tfjs.measured,
        target: 50,
        met: value >= 50,
        text: r.tfjs.measured
          ? `bwd ${r.shape}: native ${fmtUs(r.variants.native.medianUs)} µs vs tfjs ${fmtUs(r.variants.tfjs.medianUs)} µs = ${fmtX(value)}`
          : `bwd ${r.shape}: native ${fmtUs(r.variants.native.medianUs)} µs vs tfjs not run, ~${fmtSeconds(r.tfjs.estimatedSeconds)} per call estimated = ~${fmtX(value)} (estimate; tf.scatterND* ${fmtX(r.speedup.tfjsScatter)})`,
      });
    }
  }
  for (const [op, limit] of [
    ['fwd', 1],
    ['bwd', 1],
    ['fwd async', 20],
    ['bwd async', 20],
  ]) {
    const r = find(op, 'tiny');
    if (r === undefined) continue;
    const us = r.variants.native.medianUs;
    goals.push({
      goal: `per-call overhead of the tiny shape <= ${limit} us (${op.includes('async') ? 'async, awaited' : 'synchronous'})`,
      shape: 'tiny',
      op,
      value: us,
      target: limit,
      met: us <= limit,
      text: `${op} tiny (1000×32, B=8): native ${fmtUs(us)} µs per call (TS ${fmtUs(r.variants.ts.medianUs)} µs${r.variants.ref ? `, ref ${fmtUs(r.variants.ref.medianUs)} µs` : ''})`,
    });
  }
  return goals;
}

// ---------------------------------------------------------------------------------------------
// Main

const started = now();
const args = parseArgs(process.argv.slice(2));

// --shapes names shapes of the embedding and bag suites; each runs the ones it knows. The train,
// io, init and dtype suites have no shapes: each runs with its --suite name or all, but not when
// --shapes picks a subset.
// --quick without --shapes runs a reduced set of bag shapes.
let embeddingShapes = SHAPES;
let bagShapes = args.quick ? QUICK_BAG_SHAPES : BAG_SHAPES;
if (args.shapes !== null) {
  const known = [...SHAPES, ...BAG_SHAPES].map((s) => s.name);
  const unknown = args.shapes.filter((name) => !known.includes(name));
  if (unknown.length > 0) throw new Error(`unknown shape(s) ${unknown.join(', ')}; known: ${known.join(', ')}\n${usage()}`);
  embeddingShapes = SHAPES.filter((s) => args.shapes.includes(s.name));
  bagShapes = BAG_SHAPES.filter((s) => args.shapes.includes(s.name));
}
const runEmbedding = (args.suite === 'all' || args.suite === 'embedding') && embeddingShapes.length > 0;
const runBag = (args.suite === 'all' || args.suite === 'bag') && bagShapes.length > 0;
const unshaped = (name) => args.suite === name || (args.suite === 'all' && args.shapes === null);
// The suites in run (and report) order, each false when it does not run, else its runner.
const suites = {
  embedding: runEmbedding && ((context) => {
    console.log('Embedding: forward (gather) and dense backward (scatter-add)');
    return runEmbeddingSuite({ ...context, shapes: embeddingShapes });
  }),
  bag: runBag && ((context) => runBagSuite({ ...context, shapes: bagShapes })),
  train: unshaped('train') && runTrainSuite,
  io: unshaped('io') && runIoSuite,
  torch: (args.suite === 'torch' || args.suite === 'all') && runTorchSuite,
  init: unshaped('init') && runInitSuite,
  dtype: unshaped('dtype') && runDtypeSuite,
  similarity: unshaped('similarity') && runSimilaritySuite,
};
const suiteNames = Object.keys(suites).filter((name) => suites[name]);
if (suiteNames.length === 0) throw new Error(`--shapes ${args.shapes.join(',')} selects no shape of --suite ${args.suite}\n${usage()}`);

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
const threads = threadControl(lib);
const machine = machineInfo();
const tfjsLoad = await loadTfjs();
const tfjs = tfjsLoad.tf;
// The cost model of tfjs's gather gradient, calibrated once (two small calls).
const gradModel = tfjs ? tfjsGradModel(tfjs) : null;

console.log('nn-embedding benchmark' + (args.quick ? ' (--quick)' : ''));
console.log(`  date ${machine.date}, node ${machine.node}, ${machine.platform} ${machine.arch}`);
console.log(`  cpu ${machine.cpuModel}, ${machine.logicalCpus} logical cpus, tiers [${capabilities.cpu.tiers.join(', ')}]`);
console.log(
  `  backend ${capabilities.backend}, native tier ${capabilities.simd}` +
    (machine.env.NN_EMBEDDING_SIMD ? ` (NN_EMBEDDING_SIMD=${machine.env.NN_EMBEDDING_SIMD})` : ' (widest)'),
);
console.log(`  threads: ${threads.describe()}`);
console.log(
  `  alternatives: TypeScript backend, naive JS loops, ` +
    (tfjs ? `@tensorflow/tfjs ${tfjsLoad.version} (backend ${tfjsLoad.backend}, prod mode)` : `no tfjs: ${tfjsLoad.error}`) +
    ', native memcpy reference',
);
console.log(`  suites: ${suiteNames.join(', ')}` + (args.quick && args.shapes === null && runBag ? ` (--quick: bag shapes ${bagShapes.map((s) => s.name).join(', ')})` : ''));

const context = { args, capabilities, reference, tiers, tierBackends, threads, tfjs, gradModel };
// Each suite's report (null when it did not run); a collection after each frees its tables.
const reports = {};
for (const [name, run] of Object.entries(suites)) {
  reports[name] = null;
  if (!run) continue;
  console.log('');
  reports[name] = await run(context);
  collect();
}
const { embedding, bag, train, io, torch, init, dtype, similarity } = reports;

const runtimeSeconds = secondsSince(started);
console.log('');
const parts = suiteNames.map((name) => `${name} ${reports[name].seconds.toFixed(1)} s`);
console.log(`total ${runtimeSeconds.toFixed(1)} s (${parts.join(', ')}; peak RSS ${peakRssGiB().toFixed(2)} GiB)`);

if (args.json !== null) {
  const svgPath = args.json.endsWith('.json') ? `${args.json.slice(0, -'.json'.length)}.svg` : `${args.json}.svg`;
  // Schema 2: the top-level fields are the Embedding suite's (empty when it did not run); the
  // EmbeddingBag suite is under `bag`, the training-step suite under `train`, the loading-speed
  // suite under `io`, the PyTorch suite under `torch`, the table-initialization suite under `init`,
  // the narrow-table suite under `dtype` (each null when it did not run). Variant keys: native (1 thread), nativeMT
  // (all threads, when the build has a thread pool and the machine more than one CPU), ts, tfjs,
  // tfjsScatter, naive, ref, tier:<name>.
  const report = {
    schema: 2,
    benchmark: 'nn-embedding bench/embedding.mjs',
    args: { quick: args.quick, tiers: args.tiers, shapes: embeddingShapes.map((s) => s.name), suite: args.suite },
    suites: suiteNames,
    machine,
    capabilities,
    nativeTier: capabilities.simd,
    threads: { available: threads.available, all: threads.all, counts: threads.counts, description: threads.describe() },
    alternatives: {
      tfjs: tfjs ? { version: tfjsLoad.version, backend: tfjsLoad.backend, prodMode: true, gradModel: gradModel && { a: gradModel.a, b: gradModel.b, calibration: gradModel.calibration } } : { error: tfjsLoad.error },
      naive: NAIVE_FORMULAS,
    },
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
    io,
    torch,
    init,
    dtype,
    similarity,
    chart: svgPath,
    peakRssGiB: peakRssGiB(),
    runtimeSeconds,
  };
  mkdirSync(dirname(args.json), { recursive: true });
  writeFileSync(args.json, JSON.stringify(report, null, 2) + '\n');
  writeFileSync(svgPath, speedupChart(chartGroups(report), report));
  console.log(`wrote ${args.json} and ${svgPath}`);
}
