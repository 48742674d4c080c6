// EmbeddingBag suite of the benchmark (run from bench/embedding.mjs: npm run bench, or
// npm run bench -- --suite bag). Times EmbeddingBag forward and dense backward for modes sum,
// mean and weighted sum (mode 'sum' with perSampleWeights), plus max forward as an extra, on a
// 10^6-row table with D = 32, 64, 128 and bags of mean length 20 and 100: the native backend (at
// 1 thread and at all threads) against the pure-TypeScript backend, a native reference, and for
// sum and mean a naive JavaScript loop and tfjs (tf.sparse.sparseSegmentSum / sparseSegmentMean
// forward; tfjs has no gradient for those, and through tf.gather the gradient loops over the 10^6
// rows: not run, estimated by the model of alternatives.mjs), all measured in the same rounds.
// --quick (without --shapes) runs QUICK_BAG_SHAPES only, and skips the max* extra.
//
// Data: per mean bag length L, 8 seeded batches of 1024 bags whose lengths are uniform in
// [1, 2L - 1], indices uniform over the 10^6 rows (int32), int32 offsets (numBags entries, viewed
// without a copy by the layer), per-sample weights in [0.5, 1.5). One 10^6 × Dmax table is shared
// by every D through views of its first 10^6 × D floats.
// Reference, forward: kernels('scalar').gather of every looked-up row of the batch into a scratch
// buffer, one memcpy per row — what a non-fused gather-then-reduce would move at the least.
// Reference, backward: kernels('scalar').bagScatterAdd without scales, a plain C++ add loop.
// tfjs's segment ids (the bag of every index) are made from the offsets before timing.
import { createRequire } from 'node:module';

import { BATCHES, SEED, fillQuick, fmtSeconds, fmtUs, fmtX, collect, gc, measure, nativeVariants, now, peakRssGiB, printGoals, prng, rotating, sameFloats, secondsSince, table, comparisonCells, comparisonHeaders } from './harness.mjs';
import { NAIVE_FORMULAS, TFJS_FORMULAS, naiveBagBackward, naiveBagForward, tfjsOps } from './alternatives.mjs';

const require = createRequire(import.meta.url);
const { EmbeddingBag } = require('../dist/index.js');
const { withBackend } = require('../dist/loader.js');
const { jsBackend } = require('../dist/backends/js.js');

const ROWS = 1_000_000;
const BAGS = 1024;
const BAG_LENGTHS = [20, 100];
const DIMS = [32, 64, 128];

export const BAG_SHAPES = BAG_LENGTHS.flatMap((meanLength) =>
  DIMS.map((dim) => ({ name: `L${meanLength}-D${dim}`, rows: ROWS, dim, bags: BAGS, meanLength })),
);
/** The bag shapes of --quick (without --shapes). */
export const QUICK_BAG_SHAPES = BAG_SHAPES.filter((s) => s.name === 'L20-D64' || s.name === 'L100-D128');

/** The timed rows per shape: forward modes, then backward modes; alt: naive and tfjs timed too. */
const FORWARD_MODES = [
  { mode: 'sum', label: 'sum', weighted: false, alt: true },
  { mode: 'mean', label: 'mean', weighted: false, alt: true },
  { mode: 'sum', label: 'weighted', weighted: true },
  { mode: 'max', label: 'max*', weighted: false, extra: true },
];
const BACKWARD_MODES = [
  { mode: 'sum', label: 'sum', weighted: false, alt: true },
  { mode: 'mean', label: 'mean', weighted: false, alt: true },
  { mode: 'sum', label: 'weighted', weighted: true },
];

export const BAG_FORMULAS = {
  notation: 'E = indices per call (mean over the 8 batches), NB = bags per call (1024), D = embedding dim; offsets traffic (NB*4) not counted',
  forwardBytes: 'E*D*4 (rows read) + NB*D*4 (out written) + E*4 (int32 indices read) [+ E*4 (per-sample weights read) when weighted]',
  backwardBytes:
    'sum: 2*E*D*4 (grad rows read and written) + NB*D*4 (gradOutput read) + E*4 (indices read); ' +
    'mean: the same + E*4 (the per-entry 1/length scales the layer builds); ' +
    'weighted: the same as mean (scales = the weights) + E*D*4 (rows read again for the per-sample-weight gradient) + E*4 (that gradient written)',
  gbps: "the row's bytes per call / median seconds per call / 1e9, for every variant of the row (so GB/s ratios equal time ratios)",
  refForward:
    "native scalar-tier gather of every looked-up row (kernels('scalar').gather, one memcpy per row) into a scratch buffer: " +
    'the bandwidth a non-fused gather-then-reduce needs at the least; its own traffic is 2*E*D*4 + E*4 (refOwnBytesPerCall)',
  refBackward:
    "native scalar-tier bagScatterAdd without scales (kernels('scalar').bagScatterAdd), a plain C++ add loop, for context; the same for every mode",
  nativeVsRef: 'ref median / native (1 thread) median (>= 1: native at least as fast as the reference)',
  threadSpeedup: 'native 1-thread median / native all-threads median',
  speedups: 'alternative median / native 1-thread median',
  naive: `sum and mean rows only: forward ${NAIVE_FORMULAS.bagForward}; backward ${NAIVE_FORMULAS.bagBackward}`,
  tfjs: `sum and mean forward only: ${TFJS_FORMULAS.bagForward}; backward: ${TFJS_FORMULAS.bagGradient}`,
  perCall: 'median over samples of (sample time / calls in the sample); a sample lasts about sampleTargetMs',
  extra: 'max* (forward only) is an extra row, not in the goals',
};

/**
 * `count` (default BATCHES) seeded batches of `bags` bags over `rows` rows, bag lengths uniform in
 * [1, 2 * meanLength - 1]; this suite shares them between every D (the dtype suite uses them too).
 */
export function bagBatches(rows, bags, meanLength, seed, count = BATCHES) {
  const next = prng(seed);
  const batches = [];
  for (let b = 0; b < count; b++) {
    const offsets = new Int32Array(bags);
    let count = 0;
    for (let bag = 0; bag < bags; bag++) {
      offsets[bag] = count;
      count += 1 + (next() % (2 * meanLength - 1));
    }
    const indices = new Int32Array(count);
    // rows <= 4·10^6, so the bias of a 32-bit modulo is negligible (under 10^-3).
    for (let i = 0; i < count; i++) indices[i] = next() % rows;
    const weights = new Float32Array(count);
    for (let i = 0; i < count; i++) weights[i] = 0.5 + next() / 2 ** 32;
    const segmentIds = new Int32Array(count);
    for (let bag = 0; bag < bags; bag++) segmentIds.fill(bag, offsets[bag], bag + 1 < bags ? offsets[bag + 1] : count);
    batches.push({ indices, offsets, offsetsU32: new Uint32Array(offsets.buffer), weights, segmentIds });
  }
  return batches;
}

export function runBagSuite({ args, shapes, capabilities, reference, tiers, tierBackends, threads, tfjs, gradModel }) {
  const started = now();
  const SETTINGS = args.quick
    ? { sampleTargetMs: 2, warmupMs: 20, minSamples: 5, maxSamples: 9, budgetMs: 100 }
    : { sampleTargetMs: 5, warmupMs: 50, minSamples: 5, maxSamples: 41, budgetMs: 250 };
  // The JavaScript alternatives take up to ~0.2 s per call here: fewer samples, bounded by time.
  const SLOW = args.quick ? { minSamples: 3, maxSamples: 5, budgetMs: 100, warmupCalls: 1 } : { minSamples: 5, maxSamples: 21, budgetMs: 250, warmupCalls: 2 };
  const one = threads.single;
  const MT = threads.multi;
  const ops = tfjs ? tfjsOps(tfjs) : null;
  console.log('EmbeddingBag: forward (sum, mean, weighted sum; max* extra) and dense backward (sum, mean, weighted sum)');
  console.log(
    `  ${ROWS}-row table, ${BAGS} bags per call, bag lengths uniform in [1, 2L-1], int32 indices and offsets, ` +
      `${BATCHES} seeded batches rotated; sample ≈ ${SETTINGS.sampleTargetMs} ms, ` +
      `${SETTINGS.minSamples}..${SETTINGS.maxSamples} samples, ≤ ~${SETTINGS.budgetMs} ms per variant`,
  );
  console.log('');

  // One table for every D: a layer adopts a view of its first ROWS * D floats.
  const maxDim = Math.max(...shapes.map((s) => s.dim));
  const tableBuffer = fillQuick(new Float32Array(ROWS * maxDim), SEED * 7);
  const batchesByLength = new Map();
  const results = [];

  // One shape's rows; its buffers and layers die with the call (see timeBackward).
  const timeShape = (shape) => {
    const { rows, dim, bags, meanLength } = shape;
    const t0 = now();
    const weight = tableBuffer.subarray(0, rows * dim);
    if (!batchesByLength.has(meanLength)) batchesByLength.set(meanLength, bagBatches(ROWS, BAGS, meanLength, SEED * 131 + meanLength));
    const batches = batchesByLength.get(meanLength);
    const entries = batches.reduce((n, b) => n + b.indices.length, 0) / BATCHES;
    const maxEntries = Math.max(...batches.map((b) => b.indices.length));
    // The reference gathers into a scratch buffer of exactly E*D floats per batch (views of one buffer).
    const scratch = new Float32Array(maxEntries * dim);
    const scratchOf = batches.map((b) => scratch.subarray(0, b.indices.length * dim));
    const withScratch = batches.map((b, i) => ({ ...b, scratch: scratchOf[i] }));
    const out = new Float32Array(bags * dim);
    const gradOutput = fillQuick(new Float32Array(bags * dim), SEED * 17 + dim);
    const first = withScratch[0];
    const tableTensor = ops?.table(weight, rows, dim); // a view of weight's memory
    let setupMs = Number(now() - t0) / 1e6;

    const rowBase = { shape: shape.name, rows, dim, bags, meanBagLength: meanLength, meanEntries: entries };
    const record = (entry, stats) => {
      for (const v of Object.values(stats)) v.gbps = entry.bytesPerCall / (v.medianUs * 1e-6) / 1e9;
      const base = stats.native.medianUs;
      const over = (key) => (stats[key] ? stats[key].medianUs / base : NaN);
      Object.assign(entry, {
        variants: stats,
        nativeVsRef: stats.ref.medianUs / base,
        threadSpeedup: stats.nativeMT ? base / stats.nativeMT.medianUs : NaN,
        speedupVsTs: over('ts'),
        speedup: { ts: over('ts'), tfjs: over('tfjs'), naive: over('naive') },
      });
      results.push(entry);
      const parts = Object.entries(stats)
        .filter(([key]) => !key.startsWith('tier:'))
        .map(([key, v]) => `${key} ${fmtUs(v.medianUs)}`);
      process.stderr.write(
        `  ${entry.op} ${entry.mode.padEnd(8)} ${shape.name.padEnd(9)} ${parts.join(', ')} µs  ` +
          `(${entry.seconds.toFixed(1)} s, rss ${(process.memoryUsage().rss / 2 ** 30).toFixed(2)} GiB)\n`,
      );
    };
    const makeLayers = (mode) => {
      const options = { weight, mode };
      return {
        native: new EmbeddingBag(rows, dim, options),
        ts: withBackend(jsBackend, () => new EmbeddingBag(rows, dim, options)),
        tiers: Object.fromEntries(tiers.map((t) => [t, withBackend(tierBackends[t], () => new EmbeddingBag(rows, dim, options))])),
      };
    };

    // Forward: per mode, native, TS and the gather reference interleaved.
    for (const m of FORWARD_MODES.filter((m) => !(args.quick && m.extra))) {
      const t1 = now();
      const layers = makeLayers(m.mode);
      const psw = (b) => (m.weighted ? b.weights : null);
      // Before timing: native (every tier) and TS compute the same bits.
      const expected = layers.ts.forward(first.indices, first.offsets, psw(first));
      for (const [name, layer] of [['native', layers.native], ...Object.entries(layers.tiers).map(([t, l]) => [`tier ${t}`, l])]) {
        if (!sameFloats(layer.forward(first.indices, first.offsets, psw(first), out), expected)) {
          throw new Error(`EmbeddingBag ${shape.name} fwd ${m.label}: ${name} forward differs from the TypeScript backend`);
        }
      }
      // Info, not an error: whether the alternatives give the same bits (their sums may round differently).
      const mean = m.mode === 'mean';
      const matches = {};
      if (m.alt) {
        naiveBagForward(weight, dim, first.indices, first.offsets, out, mean);
        matches.naive = sameFloats(out, expected);
        if (ops) {
          const op = mean ? tfjs.sparse.sparseSegmentMean : tfjs.sparse.sparseSegmentSum;
          matches.tfjs = sameFloats(ops.values(() => op(tableTensor, tfjs.tensor1d(first.indices, 'int32'), tfjs.tensor1d(first.segmentIds, 'int32'))), expected);
        }
      }
      setupMs += Number(now() - t1) / 1e6;
      const fwd = (layer) => rotating(withScratch, (b) => layer.forward(b.indices, b.offsets, psw(b), out));
      gc();
      const opStarted = now();
      const stats = measure(
        [
          ...nativeVariants(threads, fwd(layers.native)),
          { key: 'ts', before: one, run: fwd(layers.ts) },
          { key: 'ref', before: one, run: rotating(withScratch, (b) => reference.gather(weight, dim, b.indices, b.scratch)) },
          ...(m.alt
            ? [{ key: 'naive', before: one, settings: SLOW, run: rotating(withScratch, (b) => naiveBagForward(weight, dim, b.indices, b.offsets, out, mean)) }]
            : []),
          ...(m.alt && ops
            ? [{ key: 'tfjs', before: one, settings: SLOW, run: rotating(withScratch, (b) => ops.bagForward(tableTensor, b.indices, b.segmentIds, mean)) }]
            : []),
          ...tiers.map((t) => ({ key: `tier:${t}`, before: one, run: fwd(layers.tiers[t]) })),
        ],
        SETTINGS,
      );
      threads.restore();
      const bytes = entries * dim * 4 + bags * dim * 4 + entries * 4 + (m.weighted ? entries * 4 : 0);
      record(
        {
          op: 'fwd',
          mode: m.label,
          layerMode: m.mode,
          weighted: m.weighted,
          extra: m.extra === true,
          ...rowBase,
          bytesPerCall: bytes,
          refOwnBytesPerCall: 2 * entries * dim * 4 + entries * 4,
          alternativesMatch: matches,
          seconds: secondsSince(opStarted),
        },
        stats,
      );
    }

    // Backward: per layer mode, fresh layers (each owns a rows × D grad); the 'sum' layers time
    // both the sum and the weighted rows. The layers live in this function's frame only, so that
    // a collection after it returns frees their grads before the next mode allocates its own.
    const timeBackward = (mode) => {
      let t1 = now();
      const layers = makeLayers(mode);
      const all = [['native', layers.native], ['TS', layers.ts], ...Object.entries(layers.tiers).map(([t, l]) => [`tier ${t}`, l])];
      // The first backward allocates the grads: touch every page of them now (fill), as a training
      // loop's second step would find them, so that no variant pays page faults in the timing.
      for (const [, layer] of all) layer.backward(first.indices, first.offsets, gradOutput);
      for (const [, layer] of all) layer.grad.fill(0);
      const naiveGrad = new Float32Array(rows * dim).fill(0); // the naive loop's own grad, pages touched
      const refGrad = layers.native.grad; // the reference accumulates into the native layer's grad
      setupMs += Number(now() - t1) / 1e6;
      for (const m of BACKWARD_MODES.filter((m) => m.mode === mode)) {
        t1 = now();
        const psw = (b) => (m.weighted ? b.weights : null);
        // Before timing: from zeroed grads, one backward of batch 0 gives the same bits everywhere.
        for (const [, layer] of all) layer.grad.fill(0);
        const weightGrads = all.map(([, layer]) => layer.backward(first.indices, first.offsets, gradOutput, psw(first)));
        for (let i = 1; i < all.length; i++) {
          if (!sameFloats(all[i][1].grad, all[0][1].grad) || (m.weighted && !sameFloats(weightGrads[i], weightGrads[0]))) {
            throw new Error(`EmbeddingBag ${shape.name} bwd ${m.label}: ${all[i][0]} backward differs from native`);
          }
        }
        const matches = {};
        if (m.alt) {
          naiveGrad.fill(0);
          naiveBagBackward(naiveGrad, dim, first.indices, first.offsets, gradOutput, mode === 'mean');
          matches.naive = sameFloats(naiveGrad, all[0][1].grad);
        }
        setupMs += Number(now() - t1) / 1e6;
        const bwd = (layer) => rotating(withScratch, (b) => layer.backward(b.indices, b.offsets, gradOutput, psw(b)));
        gc();
        const opStarted = now();
        const stats = measure(
          [
            ...nativeVariants(threads, bwd(layers.native)),
            { key: 'ts', before: one, run: bwd(layers.ts) },
            {
              key: 'ref',
              before: one,
              run: rotating(withScratch, (b) => reference.bagScatterAdd(refGrad, dim, b.indices, b.offsetsU32, bags, gradOutput, null, -1)),
            },
            ...(m.alt
              ? [
                  {
                    key: 'naive',
                    before: one,
                    settings: SLOW,
                    run: rotating(withScratch, (b) => naiveBagBackward(naiveGrad, dim, b.indices, b.offsets, gradOutput, mode === 'mean')),
                  },
                ]
              : []),
            ...tiers.map((t) => ({ key: `tier:${t}`, before: one, run: bwd(layers.tiers[t]) })),
          ],
          SETTINGS,
        );
        threads.restore();
        let bytes = 2 * entries * dim * 4 + bags * dim * 4 + entries * 4;
        if (m.mode === 'mean' || m.weighted) bytes += entries * 4;
        if (m.weighted) bytes += entries * dim * 4 + entries * 4;
        record(
          {
            op: 'bwd',
            mode: m.label,
            layerMode: m.mode,
            weighted: m.weighted,
            extra: false,
            ...rowBase,
            bytesPerCall: bytes,
            alternativesMatch: matches,
            tfjs:
              m.alt && gradModel
                ? { measured: false, estimatedSeconds: gradModel.estimateSeconds(rows, entries, dim), reason: 'no sparseSegmentSum gradient; the tf.gather gradient loops over the 10^6 rows' }
                : null,
            seconds: secondsSince(opStarted),
          },
          stats,
        );
        const last = results[results.length - 1];
        if (last.tfjs) last.speedup.tfjsEstimated = (last.tfjs.estimatedSeconds * 1e6) / stats.native.medianUs;
      }
    };
    for (const mode of new Set(BACKWARD_MODES.map((m) => m.mode))) {
      collect();
      timeBackward(mode);
    }
    tableTensor?.dispose();
    results.find((r) => r.shape === shape.name).setupMs = setupMs;
  };
  for (const shape of shapes) {
    timeShape(shape);
    collect();
  }

  // Report, in shape order, forward before backward, modes as listed (timing order differs).
  const rank = (r) =>
    shapes.findIndex((s) => s.name === r.shape) * 100 +
    (r.op === 'fwd' ? FORWARD_MODES.findIndex((m) => m.label === r.mode) : 50 + BACKWARD_MODES.findIndex((m) => m.label === r.mode));
  results.sort((a, b) => rank(a) - rank(b));
  const shapeText = (r) => `${r.shape} ${r.rows}×${r.dim} ${r.bags} bags E=${Math.round(r.meanEntries)}`;
  const cell = (r, key) => fmtUs(r.variants[key]?.medianUs);
  const tfjsCell = (r) => (r.variants.tfjs ? cell(r, 'tfjs') : r.tfjs ? `not run (~${fmtSeconds(r.tfjs.estimatedSeconds)} est.)` : '-');
  console.log('');
  console.log(
    table(
      [
        'op',
        'mode',
        'shape',
        ...comparisonHeaders(MT, threads.all),
      ],
      results.map((r) => [
        r.op,
        r.mode,
        shapeText(r),
        ...comparisonCells(r, MT, tfjsCell),
      ]),
      ['l', 'l', 'l', ...Array(13 + (MT ? 2 : 0)).fill('r')],
    ),
  );
  console.log('');
  console.log(
    `median µs per call; native = default layers (tier ${capabilities.simd}) at 1 thread` +
      (MT ? `, ${threads.all}T = at all ${threads.all} threads` : ` (${threads.describe()})`) +
      '; TS = pure-TypeScript backend, both via the public API; weighted = mode sum with perSampleWeights; max* = extra row',
  );
  console.log(`tfjs: ${BAG_FORMULAS.tfjs}`);
  console.log(`naive JS: ${BAG_FORMULAS.naive}`);
  const mismatches = results.flatMap((r) =>
    Object.entries(r.alternativesMatch ?? {})
      .filter(([, same]) => !same)
      .map(([alt]) => `${r.op} ${r.mode} ${r.shape} ${alt}`),
  );
  console.log(
    `  alternatives' results vs nn-embedding (batch 0): ${mismatches.length === 0 ? 'bit-identical everywhere checked' : `bit-identical except ${mismatches.join(', ')} (summation order / rounding)`}`,
  );
  console.log(`ref (fwd): ${BAG_FORMULAS.refForward}`);
  console.log(`ref (bwd): ${BAG_FORMULAS.refBackward}`);
  console.log(`GB/s: ${BAG_FORMULAS.notation}`);
  console.log(`  fwd bytes = ${BAG_FORMULAS.forwardBytes}`);
  console.log(`  bwd bytes = ${BAG_FORMULAS.backwardBytes}`);
  console.log(
    '  ref GB/s uses the same bytes as its row; native/ref = ref µs / native µs' +
      (MT ? `; ${threads.all}T/1T = native 1-thread µs / ${threads.all}-thread µs` : '') +
      '; × X = X µs / native (1 thread) µs',
  );

  if (tiers.length > 0) {
    console.log('');
    console.log(
      table(
        ['op', 'mode', 'shape', ...tiers.map((t) => `${t} µs`), 'ref µs', ...tiers.map((t) => `${t}/ref`)],
        results.map((r) => [
          r.op,
          r.mode,
          shapeText(r),
          ...tiers.map((t) => fmtUs(r.variants[`tier:${t}`].medianUs)),
          fmtUs(r.variants.ref.medianUs),
          ...tiers.map((t) => fmtX(r.variants.ref.medianUs / r.variants[`tier:${t}`].medianUs)),
        ]),
        ['l', 'l', 'l', ...tiers.map(() => 'r'), 'r', ...tiers.map(() => 'r')],
      ),
    );
    console.log('per-tier native layers (createNativeBackend(tier)), 1 thread, timed in the same rounds as the main table');
  }

  // Goals: native sum forward >= 0.7x the gather reference at D >= 64, and >= 5x TS (every D).
  const goals = [];
  const sumForward = results.filter((r) => r.op === 'fwd' && r.mode === 'sum');
  for (const r of sumForward.filter((r) => r.dim >= 64)) {
    goals.push({
      goal: 'native sum forward >= 0.7x the gather reference (D >= 64)',
      shape: r.shape,
      value: r.nativeVsRef,
      target: 0.7,
      met: r.nativeVsRef >= 0.7,
      text: `fwd sum ${r.shape}: native/ref = ${fmtX(r.nativeVsRef)} (native ${fmtUs(r.variants.native.medianUs)} µs, ref ${fmtUs(r.variants.ref.medianUs)} µs)`,
    });
  }
  for (const r of sumForward) {
    goals.push({
      goal: 'native sum forward >= 5x the TypeScript backend',
      shape: r.shape,
      value: r.speedupVsTs,
      target: 5,
      met: r.speedupVsTs >= 5,
      text: `fwd sum ${r.shape}: native ${fmtUs(r.variants.native.medianUs)} µs vs TS ${fmtUs(r.variants.ts.medianUs)} µs = ${fmtX(r.speedupVsTs)}`,
    });
  }
  console.log('');
  printGoals(goals, 'goals (EmbeddingBag, native at 1 thread)');
  // Context: each mode's native cost relative to sum on the same shape and op. Rows are timed in
  // separate rounds, so each native time is first divided by its own row's reference (the same
  // kernel in every row of an op), which cancels machine drift between the rows.
  for (const op of ['fwd', 'bwd']) {
    const parts = [];
    for (const shape of shapes) {
      const of = (mode) => results.find((r) => r.op === op && r.shape === shape.name && r.mode === mode);
      const sum = of('sum');
      if (sum === undefined) continue;
      const ratios = ['mean', 'weighted', 'max*']
        .map((mode) => of(mode))
        .filter(Boolean)
        .map((r) => `${r.mode} ${(sum.nativeVsRef / r.nativeVsRef).toFixed(2)}`);
      parts.push(`${shape.name} ${ratios.join(' ')}`);
    }
    if (parts.length > 0) console.log(`  (info) ${op} native cost vs sum, (native/ref of sum) / (native/ref of mode): ${parts.join('; ')}`);
  }
  return { settings: { ...SETTINGS, slow: SLOW }, formulas: BAG_FORMULAS, results, goals, seconds: secondsSince(started), peakRssGiB: peakRssGiB() };
}
