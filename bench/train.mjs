// Training-step suite of the benchmark (run from bench/embedding.mjs: npm run bench, or
// npm run bench -- --suite train). Times one sparse training step of an Embedding(N, 64) table
// with a batch of 16,384 uniform random int32 indices, N = 10^4 and 10^6, for SGD, Adagrad,
// RowWiseAdagrad and SparseAdam: the native backend (at 1 thread and, when the build has a thread
// pool, at all threads: separate layers and optimizers, sharing the table) against the
// pure-TypeScript backend, and for SGD a naive JavaScript step (forward loop, then
// w[row] -= lr * g for every looked-up row). tfjs (tf.train.sgd through tf.gather) is not run: its
// gradient loops over the N rows (see alternatives.mjs); the report gives the model's estimate.
//
//   step           optimizer.zeroGrad(); layer.forward(idx, out); layer.backward(idx, gradOutput);
//                  optimizer.step()      on Embedding(N, 64, { sparse: true, weight })
//   fused step     layer.forward(idx, out); layer.backward(idx, gradOutput)   on a dense-mode
//                  Embedding(N, 64, { weight }) after applyOptimizerInBackward(Optimizer, [layer]):
//                  the backward sums the rows' gradients and updates them; no gradient is kept.
//
// Per step kind, the four variants (native and TS at both N) are timed in the same interleaved
// rounds, so that the 10^6 / 10^4 ratio and the speed-ups are not skewed by machine drift. Native
// and TS layers of one N share (adopt) one table; each has its own optimizer and state. Values do
// not matter for speed; lr = 1e-4 and gradOutput in [-0.01, 0.01) keep the table finite (checked).
//
// Cold pages: optimizer state buffers are allocated at the first step (fresh zero pages that the
// OS maps on first write). With random rows, a fresh run keeps faulting in new state pages until
// every page has been written once: that is a start-up cost, not the steady-state step. Each
// variant therefore first runs one full rotation of the 8 batches, timed and reported as "cold"
// (the mean of those 8 steps): after it, every page the timed steps touch is mapped, because the
// timed steps only revisit those 8 batches. The table itself is pre-filled (all pages mapped).
// Note that the 8 batches touch ~16k distinct rows each (about 131k of the 10^6 rows in all, ~33 MB
// of the table and as much per table-shaped state): a working set a large L3 may partly hold.
import { createRequire } from 'node:module';

import { BATCHES, SEED, collect, fillQuick, fmtSeconds, fmtUs, fmtX, gc, indexBatches, measure, now, peakRssGiB, printGoals, rotating, sameFloats, secondsSince, table } from './harness.mjs';
import { NAIVE_FORMULAS, TFJS_FORMULAS, naiveSgdStep } from './alternatives.mjs';

const require = createRequire(import.meta.url);
const { Embedding, SGD, Adagrad, RowWiseAdagrad, SparseAdam, applyOptimizerInBackward } = require('../dist/index.js');
const { withBackend } = require('../dist/loader.js');
const { jsBackend } = require('../dist/backends/js.js');

const DIM = 64;
const BATCH = 16_384;
const TABLE_ROWS = [10_000, 1_000_000];
const [SMALL, LARGE] = TABLE_ROWS;
const LR = 1e-4;
const GRAD_SCALE = 1e-2;

const OPTIMIZERS = [
  { name: 'SGD', cls: SGD },
  { name: 'Adagrad', cls: Adagrad },
  { name: 'RowWiseAdagrad', cls: RowWiseAdagrad },
  { name: 'SparseAdam', cls: SparseAdam },
];

/** The step kinds, in report order: the four sparse steps, fused RowWiseAdagrad, then fused extras (*). */
const CASES = [
  ...OPTIMIZERS.map((o) => ({ ...o, fused: false, extra: false, label: o.name })),
  ...OPTIMIZERS.filter((o) => o.name === 'RowWiseAdagrad').map((o) => ({ ...o, fused: true, extra: false, label: `fused ${o.name}` })),
  ...OPTIMIZERS.filter((o) => o.name !== 'RowWiseAdagrad').map((o) => ({ ...o, fused: true, extra: true, label: `fused ${o.name}*` })),
];

export const TRAIN_FORMULAS = {
  step: 'optimizer.zeroGrad(); layer.forward(idx, out); layer.backward(idx, gradOutput); optimizer.step() on Embedding(N, 64, { sparse: true })',
  fusedStep: 'layer.forward(idx, out); layer.backward(idx, gradOutput) on Embedding(N, 64) after applyOptimizerInBackward(Optimizer, [layer], { lr })',
  perStep: 'median over samples of (sample time / steps in the sample); a sample lasts about sampleTargetMs',
  speedupVsTs: 'TS median / native median',
  largeOverSmall: 'native median at N = 10^6 / native median at N = 10^4 (same rounds)',
  cold: 'mean per step over the first rotation of the 8 batches (fresh optimizer state: page faults, first-use allocation), before any timing',
  phases: 'mean per step over every step after the cold rotation (warm-up and samples), timed with process.hrtime around each call: fwd = zeroGrad + forward, bwd = backward (fused: with the update), step = optimizer.step()',
  refForward: "native scalar-tier gather of the batch (kernels('scalar').gather, one memcpy per row): the memory-bandwidth floor of the forward",
  threads: 'native = 1 thread; native NT = all threads, a second layer and optimizer on the same table; speed-ups are over native at 1 thread',
  naive: `SGD rows only: ${NAIVE_FORMULAS.sgdStep}`,
  tfjs: TFJS_FORMULAS.trainStep,
};

/** A layer and its optimizer for one step kind on the current backend, with a step function that times its phases. */
function trainer(kind, rows, weight, out, gradOutput) {
  let layer;
  let optimizer;
  if (kind.fused) {
    layer = new Embedding(rows, DIM, { weight });
    optimizer = applyOptimizerInBackward(kind.cls, [layer], { lr: LR });
  } else {
    layer = new Embedding(rows, DIM, { sparse: true, weight });
    optimizer = new kind.cls([layer], { lr: LR });
  }
  const phases = { steps: 0, fwdNs: 0n, bwdNs: 0n, stepNs: 0n };
  const step = kind.fused
    ? (idx) => {
        const t0 = now();
        layer.forward(idx, out);
        const t1 = now();
        layer.backward(idx, gradOutput);
        const t2 = now();
        phases.steps += 1;
        phases.fwdNs += t1 - t0;
        phases.bwdNs += t2 - t1;
      }
    : (idx) => {
        const t0 = now();
        optimizer.zeroGrad();
        layer.forward(idx, out);
        const t1 = now();
        layer.backward(idx, gradOutput);
        const t2 = now();
        optimizer.step();
        const t3 = now();
        phases.steps += 1;
        phases.fwdNs += t1 - t0;
        phases.bwdNs += t2 - t1;
        phases.stepNs += t3 - t2;
      };
  const resetPhases = () => Object.assign(phases, { steps: 0, fwdNs: 0n, bwdNs: 0n, stepNs: 0n });
  const phaseMeans = () => {
    const mean = (ns) => (phases.steps > 0 ? Number(ns) / 1e3 / phases.steps : NaN);
    return { steps: phases.steps, fwdUs: mean(phases.fwdNs), bwdUs: mean(phases.bwdNs), stepUs: kind.fused ? 0 : mean(phases.stepNs) };
  };
  return { layer, optimizer, step, resetPhases, phaseMeans };
}

/** Makes a trainer on the native (default) or the TypeScript backend. */
const onBackend = (backend, make) => (backend === 'ts' ? withBackend(jsBackend, make) : make());

export function runTrainSuite({ args, capabilities, reference, threads, gradModel }) {
  const started = now();
  const SETTINGS = args.quick
    ? { sampleTargetMs: 4, warmupMs: 0, minSamples: 5, maxSamples: 11, budgetMs: 100 }
    : { sampleTargetMs: 20, warmupMs: 0, minSamples: 7, maxSamples: 41, budgetMs: 400 };
  const one = threads.single;
  const all = () => threads.set(threads.all);
  const MT = threads.multi;
  const backends = MT ? ['native', 'nativeMT', 'ts'] : ['native', 'ts'];
  const cases = CASES.filter((c) => !(args.quick && c.extra));
  console.log('Training step: sparse forward + backward + optimizer update, and the update fused into backward');
  console.log(
    `  Embedding(N, ${DIM}), N = ${TABLE_ROWS.join(' and ')}, batch ${BATCH} uniform int32 indices, ${BATCHES} seeded batches rotated, ` +
      `lr ${LR}, gradOutput in [-${GRAD_SCALE}, ${GRAD_SCALE}); sample ≈ ${SETTINGS.sampleTargetMs} ms, ` +
      `${SETTINGS.minSamples}..${SETTINGS.maxSamples} samples, ≤ ~${SETTINGS.budgetMs} ms per variant` +
      (args.quick ? '; fused extras skipped (--quick)' : ''),
  );
  console.log('');

  // Per N: one table (shared by every step kind and by native and TS), batches, out and gradOutput.
  const t0 = now();
  const data = new Map(
    TABLE_ROWS.map((rows, n) => {
      const gradOutput = fillQuick(new Float32Array(BATCH * DIM), SEED * 19 + n);
      for (let i = 0; i < gradOutput.length; i++) gradOutput[i] *= GRAD_SCALE;
      return [
        rows,
        {
          weight: fillQuick(new Float32Array(rows * DIM), SEED * 23 + n),
          batches: indexBatches(rows, BATCH, SEED * 29 + n),
          out: new Float32Array(BATCH * DIM),
          gradOutput,
        },
      ];
    }),
  );
  const distinctRows = Object.fromEntries(
    TABLE_ROWS.map((rows) => [rows, data.get(rows).batches.reduce((n, b) => n + new Set(b).size, 0) / BATCHES]),
  );
  const setupMs = Number(now() - t0) / 1e6;

  // Context: the forward alone and the gather reference, both N in the same rounds.
  gc();
  let opStarted = now();
  const contextLayers = Object.fromEntries(TABLE_ROWS.map((rows) => [rows, new Embedding(rows, DIM, { weight: data.get(rows).weight })]));
  const context = measure(
    TABLE_ROWS.flatMap((rows) => {
      const { weight, batches, out } = data.get(rows);
      return [
        { key: `fwd@${rows}`, before: one, run: rotating(batches, (idx) => contextLayers[rows].forward(idx, out)) },
        { key: `ref@${rows}`, before: one, run: rotating(batches, (idx) => reference.gather(weight, DIM, idx, out)) },
      ];
    }),
    { ...SETTINGS, budgetMs: SETTINGS.budgetMs / 2 },
  );
  threads.restore();
  const contextSeconds = secondsSince(opStarted);
  process.stderr.write(
    `  context forward: ${TABLE_ROWS.map((rows) => `N=${rows} native ${fmtUs(context[`fwd@${rows}`].medianUs)} µs, ref ${fmtUs(context[`ref@${rows}`].medianUs)} µs`).join('; ')}  (${contextSeconds.toFixed(1)} s)\n`,
  );

  // Before timing: at N = 10^4, native and TS give the same table bits after two steps.
  opStarted = now();
  one();
  for (const kind of cases) {
    const { weight, batches, out, gradOutput } = data.get(SMALL);
    const tables = ['native', 'ts'].map((backend) => {
      const copy = weight.slice();
      const t = onBackend(backend, () => trainer(kind, SMALL, copy, out, gradOutput));
      t.step(batches[0]);
      t.step(batches[1]);
      return copy;
    });
    if (!sameFloats(tables[0], tables[1])) throw new Error(`train ${kind.label}: native and TS tables differ after two steps at N=${SMALL}`);
  }
  threads.restore();
  const checkMs = Number(now() - opStarted) / 1e6;

  const results = [];
  const variantKey = (backend, rows) => `${backend}@${rows}`;
  const timeCase = (kind) => {
    const caseStarted = now();
    const variants = [];
    const trainers = {};
    const cold = {};
    for (const rows of TABLE_ROWS) {
      const { weight, batches, out, gradOutput } = data.get(rows);
      for (const backend of backends) {
        const key = variantKey(backend, rows);
        const before = backend === 'nativeMT' ? all : one;
        const t = onBackend(backend, () => trainer(kind, rows, weight, out, gradOutput));
        // The cold rotation: fresh state pages are faulted in here, once per page (see the header).
        before();
        const c0 = now();
        for (const idx of batches) t.step(idx);
        cold[key] = Number(now() - c0) / 1e3 / BATCHES;
        t.resetPhases();
        trainers[key] = t;
        variants.push({ key, before, run: rotating(batches, t.step) });
      }
      if (kind.name === 'SGD') {
        // The naive SGD step; its own copy of the table (values do not matter, pages are touched).
        const naiveWeight = weight.slice();
        const naiveOut = new Float32Array(out.length);
        variants.push({ key: variantKey('naive', rows), before: one, run: rotating(batches, (idx) => naiveSgdStep(naiveWeight, DIM, idx, naiveOut, gradOutput, LR)) });
      }
    }
    gc();
    const timedStarted = now();
    const stats = measure(variants, SETTINGS);
    threads.restore();
    for (const [key, t] of Object.entries(trainers)) {
      stats[key].coldUs = cold[key];
      stats[key].phases = t.phaseMeans();
    }
    // The table stayed finite: every row of batch 0, for each N.
    for (const rows of TABLE_ROWS) {
      const { weight, batches } = data.get(rows);
      for (const row of batches[0]) {
        for (let j = 0; j < DIM; j++) {
          if (!Number.isFinite(weight[row * DIM + j])) throw new Error(`train ${kind.label}: N=${rows} row ${row} is not finite`);
        }
      }
    }
    const at = (backend, rows) => stats[variantKey(backend, rows)].medianUs;
    const entry = {
      kind: kind.label,
      optimizer: kind.name,
      fused: kind.fused,
      extra: kind.extra,
      dim: DIM,
      batch: BATCH,
      variants: stats,
      largeOverSmall: at('native', LARGE) / at('native', SMALL),
      largeOverSmallTs: at('ts', LARGE) / at('ts', SMALL),
      speedupVsTs: Object.fromEntries(TABLE_ROWS.map((rows) => [rows, at('ts', rows) / at('native', rows)])),
      speedupVsNaive: Object.fromEntries(TABLE_ROWS.map((rows) => [rows, stats[variantKey('naive', rows)] ? at('naive', rows) / at('native', rows) : NaN])),
      threadSpeedup: Object.fromEntries(TABLE_ROWS.map((rows) => [rows, MT ? at('native', rows) / at('nativeMT', rows) : NaN])),
      tfjs: gradModel
        ? Object.fromEntries(TABLE_ROWS.map((rows) => [rows, { measured: false, estimatedSeconds: gradModel.estimateSeconds(rows, BATCH, DIM) }]))
        : null,
      timedSeconds: secondsSince(timedStarted),
      seconds: secondsSince(caseStarted),
    };
    results.push(entry);
    process.stderr.write(
      `  ${kind.label.padEnd(24)} ${TABLE_ROWS.map((rows) => `N=${rows} native ${fmtUs(at('native', rows))}${MT ? ` (${threads.all}T ${fmtUs(at('nativeMT', rows))})` : ''} µs, TS ${fmtUs(at('ts', rows))} µs`).join('; ')}  ` +
        `(${entry.seconds.toFixed(1)} s, rss ${(process.memoryUsage().rss / 2 ** 30).toFixed(2)} GiB)\n`,
    );
  };
  for (const kind of cases) {
    timeCase(kind);
    // The optimizers' state (up to 2 × 256 MB per backend for SparseAdam at 10^6) dies here.
    collect();
  }

  // Report.
  const exp = (rows) => `10^${Math.round(Math.log10(rows))}`;
  const v = (r, backend, rows) => r.variants[variantKey(backend, rows)];
  const cell = (r, backend, rows) => fmtUs(v(r, backend, rows)?.medianUs);
  console.log('');
  console.log(
    table(
      [
        'step',
        ...TABLE_ROWS.flatMap((rows) => [`native ${exp(rows)} µs`, ...(MT ? [`${threads.all}T ${exp(rows)} µs`] : [])]),
        `${exp(LARGE)}/${exp(SMALL)}`,
        ...TABLE_ROWS.map((rows) => `TS ${exp(rows)} µs`),
        ...TABLE_ROWS.map((rows) => `naive ${exp(rows)} µs`),
        ...TABLE_ROWS.map((rows) => `× TS ${exp(rows)}`),
        ...TABLE_ROWS.map((rows) => `× naive ${exp(rows)}`),
        ...(MT ? TABLE_ROWS.map((rows) => `${threads.all}T/1T ${exp(rows)}`) : []),
      ],
      results.map((r) => [
        r.kind,
        ...TABLE_ROWS.flatMap((rows) => [cell(r, 'native', rows), ...(MT ? [cell(r, 'nativeMT', rows)] : [])]),
        fmtX(r.largeOverSmall),
        ...TABLE_ROWS.map((rows) => cell(r, 'ts', rows)),
        ...TABLE_ROWS.map((rows) => cell(r, 'naive', rows)),
        ...TABLE_ROWS.map((rows) => fmtX(r.speedupVsTs[rows])),
        ...TABLE_ROWS.map((rows) => fmtX(r.speedupVsNaive[rows])),
        ...(MT ? TABLE_ROWS.map((rows) => fmtX(r.threadSpeedup[rows])) : []),
      ]),
      ['l', ...Array(11 + (MT ? 4 : 0)).fill('r')],
    ),
  );
  console.log('');
  console.log(
    `median µs per training step (batch ${BATCH}, D = ${DIM}); native = default layers (tier ${capabilities.simd}) at 1 thread` +
      (MT ? `, ${threads.all}T = at all ${threads.all} threads (own layer and optimizer, same table)` : ` (${threads.describe()})`) +
      '; TS = pure-TypeScript backend; ' +
      `${exp(LARGE)}/${exp(SMALL)} = native step at N = ${LARGE} / at N = ${SMALL}; × X = X µs / native (1 thread) µs; * = extra row, not in the goals`,
  );
  console.log(`naive = ${NAIVE_FORMULAS.sgdStep}; timed in the SGD rows only`);
  const sgd = results.find((r) => r.kind === 'SGD');
  if (gradModel && sgd) {
    console.log(
      `tfjs = ${TRAIN_FORMULAS.tfjs}: ${TABLE_ROWS.map((rows) => `~${fmtSeconds(sgd.tfjs[rows].estimatedSeconds)} per step at N = ${rows}`).join(', ')} estimated`,
    );
  }
  console.log(`step = ${TRAIN_FORMULAS.step}`);
  console.log(`fused = ${TRAIN_FORMULAS.fusedStep}`);
  console.log(
    `distinct rows per batch (mean): ${TABLE_ROWS.map((rows) => `N=${rows} ${Math.round(distinctRows[rows])}`).join(', ')}; ` +
      `forward alone (context): ${TABLE_ROWS.map((rows) => `N=${rows} native ${fmtUs(context[`fwd@${rows}`].medianUs)} µs, memcpy ref ${fmtUs(context[`ref@${rows}`].medianUs)} µs`).join('; ')}`,
  );

  // Where the time goes: mean phases, native and TS, and the cold rotation.
  console.log('');
  const phaseCell = (p, fused) => `${fmtUs(p.fwdUs)} / ${fmtUs(p.bwdUs)}${fused ? '' : ` / ${fmtUs(p.stepUs)}`}`;
  console.log(
    table(
      ['step', ...TABLE_ROWS.map((rows) => `native ${exp(rows)} fwd / bwd / step`), ...TABLE_ROWS.map((rows) => `TS ${exp(rows)} fwd / bwd / step`), ...TABLE_ROWS.map((rows) => `cold ${exp(rows)} native / TS`)],
      results.map((r) => [
        r.kind,
        ...TABLE_ROWS.map((rows) => phaseCell(v(r, 'native', rows).phases, r.fused)),
        ...TABLE_ROWS.map((rows) => phaseCell(v(r, 'ts', rows).phases, r.fused)),
        ...TABLE_ROWS.map((rows) => `${fmtUs(v(r, 'native', rows).coldUs)} / ${fmtUs(v(r, 'ts', rows).coldUs)}`),
      ]),
      ['l', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
  );
  console.log('');
  console.log('mean µs per step by phase (fwd = zeroGrad + forward; bwd = backward, fused: with the update; step = optimizer.step()), after the cold rotation');
  console.log(`cold = ${TRAIN_FORMULAS.cold}`);

  // Goals.
  const goals = [];
  for (const r of results.filter((r) => !r.extra)) {
    goals.push({
      goal: `native step at N = ${LARGE} <= 1.5x the step at N = ${SMALL}`,
      kind: r.kind,
      value: r.largeOverSmall,
      target: 1.5,
      met: r.largeOverSmall <= 1.5,
      text: `${r.kind}: native ${fmtUs(v(r, 'native', LARGE).medianUs)} µs at N=${LARGE} vs ${fmtUs(v(r, 'native', SMALL).medianUs)} µs at N=${SMALL} = ${fmtX(r.largeOverSmall)}`,
    });
  }
  for (const r of results.filter((r) => r.fused && r.optimizer === 'RowWiseAdagrad')) {
    for (const rows of TABLE_ROWS) {
      goals.push({
        goal: 'fused RowWiseAdagrad step, native >= 5x the TypeScript backend',
        kind: r.kind,
        rows,
        value: r.speedupVsTs[rows],
        target: 5,
        met: r.speedupVsTs[rows] >= 5,
        text: `${r.kind} N=${rows}: native ${fmtUs(v(r, 'native', rows).medianUs)} µs vs TS ${fmtUs(v(r, 'ts', rows).medianUs)} µs = ${fmtX(r.speedupVsTs[rows])}`,
      });
    }
  }
  console.log('');
  printGoals(goals, 'goals (training step, native at 1 thread)');
  const extras = results.filter((r) => r.extra);
  if (extras.length > 0) {
    console.log(`  (info) fused extras, native ${exp(LARGE)}/${exp(SMALL)}: ${extras.map((r) => `${r.kind} ${fmtX(r.largeOverSmall)}`).join(', ')}`);
  }

  return {
    settings: { ...SETTINGS, dim: DIM, batch: BATCH, tableRows: TABLE_ROWS, lr: LR, gradScale: GRAD_SCALE, batchesRotated: BATCHES },
    formulas: TRAIN_FORMULAS,
    distinctRowsPerBatch: distinctRows,
    context: { seconds: contextSeconds, variants: context },
    setupMs,
    checkMs,
    results,
    goals,
    seconds: secondsSince(started),
    peakRssGiB: peakRssGiB(),
  };
}
