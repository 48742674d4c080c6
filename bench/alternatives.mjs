// What a Node.js user could use instead of nn-embedding, timed by every suite of the benchmark:
//
//   naive JS   the loops a user writes first: out[i*D+j] = w[idx[i]*D+j] (forward) and
//              grad[idx[i]*D+j] += g[i*D+j] (backward), and the same per bag for EmbeddingBag.
//   tfjs       @tensorflow/tfjs (a devDependency of the benchmark, not of the package) on its
//              pure-JavaScript CPU backend (tfjs-node downloads libtensorflow at install time and
//              cannot install everywhere), in production mode (tf.enableProdMode(): no debug checks,
//              no console banner). The table is one tensor per shape, created before timing and
//              sharing the table's memory (no copy); each timed call wraps that call's inputs
//              (int32 indices, gradOutput, bag segment ids) in tensors, which on the CPU backend
//              adopts the typed arrays without a copy, runs the op, and reads the result with
//              dataSync() (so the figure includes getting the values back), then disposes.
//
// tfjs's gradient of tf.gather is unsortedSegmentSum over the table's rows, and its CPU kernel
// loops over every row (segment), each time masking and summing the whole B × D gradOutput:
// N × B × D work, hours per call beyond small tables. It is timed only where a cost model
// (calibrated once per run on two small calls) estimates one call within a budget; elsewhere the
// benchmark reports "not run" with the model's estimate. tf.scatterND, which sums the rows of
// gradOutput into a fresh N × D tensor, is timed as the practical tfjs alternative (an extra).
import { createRequire } from 'node:module';

import { now } from './harness.mjs';

const require = createRequire(import.meta.url);

// ---------------------------------------------------------------------------------------------
// Naive JavaScript

/** Forward as a user first writes it. */
export function naiveGather(w, D, idx, out) {
  for (let i = 0; i < idx.length; i++) {
    for (let j = 0; j < D; j++) out[i * D + j] = w[idx[i] * D + j];
  }
}

/** Dense backward as a user first writes it: scatter-add into an N × D gradient. */
export function naiveScatterAdd(grad, D, idx, g) {
  for (let i = 0; i < idx.length; i++) {
    for (let j = 0; j < D; j++) grad[idx[i] * D + j] += g[i * D + j];
  }
}

/** EmbeddingBag sum (mean: divided by the bag's length) forward, bags given by offsets. */
export function naiveBagForward(w, D, idx, offsets, out, mean) {
  const bags = offsets.length;
  for (let b = 0; b < bags; b++) {
    const start = offsets[b];
    const end = b + 1 < bags ? offsets[b + 1] : idx.length;
    for (let j = 0; j < D; j++) out[b * D + j] = 0;
    for (let k = start; k < end; k++) {
      for (let j = 0; j < D; j++) out[b * D + j] += w[idx[k] * D + j];
    }
    if (mean && end > start) {
      for (let j = 0; j < D; j++) out[b * D + j] /= end - start;
    }
  }
}

/** EmbeddingBag sum (mean: gradOutput divided by the bag's length) dense backward. */
export function naiveBagBackward(grad, D, idx, offsets, g, mean) {
  const bags = offsets.length;
  for (let b = 0; b < bags; b++) {
    const start = offsets[b];
    const end = b + 1 < bags ? offsets[b + 1] : idx.length;
    const scale = mean ? 1 / (end - start) : 1;
    for (let k = start; k < end; k++) {
      for (let j = 0; j < D; j++) grad[idx[k] * D + j] += g[b * D + j] * scale;
    }
  }
}

/** A plain SGD step as a user writes it: forward, then w[row] -= lr * g for every looked-up row. */
export function naiveSgdStep(w, D, idx, out, g, lr) {
  naiveGather(w, D, idx, out);
  for (let i = 0; i < idx.length; i++) {
    for (let j = 0; j < D; j++) w[idx[i] * D + j] -= lr * g[i * D + j];
  }
}

export const NAIVE_FORMULAS = {
  forward: 'for i: for j: out[i*D+j] = w[idx[i]*D+j]',
  backward: 'for i: for j: grad[idx[i]*D+j] += g[i*D+j]',
  bagForward: 'per bag: out row = 0; for k in bag: for j: out[b*D+j] += w[idx[k]*D+j]; mean: /= bag length',
  bagBackward: 'per bag: for k in bag: for j: grad[idx[k]*D+j] += g[b*D+j] (mean: * 1/length)',
  sgdStep: 'naive forward, then for i: for j: w[idx[i]*D+j] -= lr * g[i*D+j] (no gradient buffer)',
};

// ---------------------------------------------------------------------------------------------
// tfjs

/**
 * Loads @tensorflow/tfjs on its CPU backend, or returns { tf: null, error } when it is not
 * installed (the benchmark then prints '-' in the tfjs columns).
 */
export async function loadTfjs() {
  let tf;
  try {
    tf = require('@tensorflow/tfjs');
  } catch (error) {
    return { tf: null, error: `@tensorflow/tfjs not installed (${String(error.message).split('\n')[0]}); npm install` };
  }
  tf.enableProdMode();
  await tf.setBackend('cpu');
  await tf.ready();
  return { tf, version: tf.version.tfjs, backend: tf.getBackend(), error: null };
}

export const TFJS_FORMULAS = {
  forward: "tf.gather(table, tf.tensor1d(idx, 'int32')).dataSync(), inside tf.tidy; table tensor made once per shape",
  gradient:
    "tf.grad(w => tf.gather(w, idxTensor))(table, gradOutputTensor).dataSync(): the N × D gradient of the gather (unsortedSegmentSum over the N rows); " +
    'timed only where the cost model estimates a call within the budget, else not run and reported with the estimate',
  scatterND: "tf.scatterND(tf.tensor2d(idx, [B, 1], 'int32'), gradOutputTensor, [N, D]).dataSync(): a fresh N × D gradient (extra)",
  bagForward:
    "tf.sparse.sparseSegmentSum / sparseSegmentMean(table, indices, segmentIds).dataSync(); the segment ids (bag number of every index) are made from the offsets before timing",
  bagGradient: 'no gradient for sparseSegmentSum in tfjs; through tf.gather it is the unsortedSegmentSum above over 10^6 rows: not run, estimated',
  trainStep: 'tf.train.sgd minimizing through tf.gather: the same gather gradient over the N rows: not run, estimated',
  model:
    'seconds per gather gradient ≈ N × (a + b × B × D): a = per-row (segment) overhead, b = per element of gradOutput per row; ' +
    'a from one call on a 256-row table with B = 8, D = 32, b from one call on a 4-row table with B = 4096, D = 64',
};

/** The tfjs calls the suites time; each returns nothing, reads the result with dataSync(). */
export function tfjsOps(tf) {
  const read = (t) => {
    t.dataSync();
    t.dispose();
  };
  return {
    table: (weight, rows, dim) => tf.tensor2d(weight, [rows, dim]),
    gather(table, idx) {
      read(tf.tidy(() => tf.gather(table, tf.tensor1d(idx, 'int32'))));
    },
    gatherGrad(table, idx, gradOutput, dim) {
      read(tf.tidy(() => tf.grad((w) => tf.gather(w, tf.tensor1d(idx, 'int32')))(table, tf.tensor2d(gradOutput, [idx.length, dim]))));
    },
    scatterND(rows, dim, idx, gradOutput) {
      read(tf.tidy(() => tf.scatterND(tf.tensor2d(idx, [idx.length, 1], 'int32'), tf.tensor2d(gradOutput, [idx.length, dim]), [rows, dim])));
    },
    bagForward(table, idx, segmentIds, mean) {
      const op = mean ? tf.sparse.sparseSegmentMean : tf.sparse.sparseSegmentSum;
      read(tf.tidy(() => op(table, tf.tensor1d(idx, 'int32'), tf.tensor1d(segmentIds, 'int32'))));
    },
    /** The values of a forward, for the sanity check (not timed). */
    values(fn) {
      const t = tf.tidy(fn);
      const v = t.dataSync().slice();
      t.dispose();
      return v;
    },
  };
}

/**
 * Calibrates the cost model of tfjs's gather gradient on two small calls (after a warm-up call)
 * and returns { a, b, estimateSeconds(N, B, D), calibration }.
 */
export function tfjsGradModel(tf) {
  const ops = tfjsOps(tf);
  const timed = (rows, batch, dim) => {
    const table = tf.tensor2d(new Float32Array(rows * dim).fill(0.5), [rows, dim]);
    const idx = new Int32Array(batch).map((_, i) => (i * 7919) % rows);
    const g = new Float32Array(batch * dim).fill(0.25);
    const t0 = now();
    ops.gatherGrad(table, idx, g, dim);
    const seconds = Number(now() - t0) / 1e9;
    table.dispose();
    return seconds;
  };
  timed(64, 8, 32); // warm-up: the kernels' first calls compile
  const small = { rows: 256, batch: 8, dim: 32 };
  const large = { rows: 4, batch: 4096, dim: 64 };
  const tSmall = timed(small.rows, small.batch, small.dim);
  const tLarge = timed(large.rows, large.batch, large.dim);
  // Per segment: a + b * B * D.
  const b = Math.max(1e-12, (tLarge / large.rows - tSmall / small.rows) / (large.batch * large.dim - small.batch * small.dim));
  const a = Math.max(0, tSmall / small.rows - b * small.batch * small.dim);
  return {
    a,
    b,
    estimateSeconds: (rows, batch, dim) => rows * (a + b * batch * dim),
    calibration: { small: { ...small, seconds: tSmall }, large: { ...large, seconds: tLarge } },
  };
}
