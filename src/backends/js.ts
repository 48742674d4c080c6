// The pure-TypeScript backend: the same kernels as native/, written as plain fast JavaScript
// (typed arrays, monomorphic loops, no allocation per row). It is the fallback where the addon
// cannot load and the reference the native kernels are tested against, and it computes the
// same bits: float32 rounding is reproduced with Math.fround wherever C++ would round, and
// norms follow the eight-lane order described in native/renorm.cc.
import { KERNEL_ARRAYS, copyOf, guardAsyncCall, isShared, refuseOverlaps } from '../async-guard.js';
import type { Backend, BagModeCode, KernelIndices, KernelName, OptimizerScalars, OutputHolder } from '../backend.js';
import { initFillJs } from '../init.js';

function firstInvalidIndex(indices: KernelIndices, rows: number): number {
  if (indices instanceof BigInt64Array) {
    const limit = BigInt(rows);
    for (let i = 0; i < indices.length; i++) {
      const index = indices[i];
      if (index < 0n || index >= limit) return i;
    }
    return -1;
  }
  for (let i = 0; i < indices.length; i++) {
    const index = indices[i];
    if (index < 0 || index >= rows) return i;
  }
  return -1;
}

/** The same indices as plain numbers, for loops that would otherwise read bigints per row. */
function asNumbers(indices: KernelIndices): Int32Array | Uint32Array | Float64Array {
  if (!(indices instanceof BigInt64Array)) return indices;
  const numbers = new Float64Array(indices.length);
  for (let i = 0; i < indices.length; i++) numbers[i] = Number(indices[i]);
  return numbers;
}

/** From this row length up, gather copies rows with TypedArray.set (measured: equal at 32, 2x at 64). */
const GATHER_SET_MIN_DIM = 48;

function gather(weight: Float32Array, dim: number, indices: KernelIndices, out: Float32Array): number {
  const bad = firstInvalidIndex(indices, weight.length / dim);
  if (bad >= 0) return bad;
  const rows = asNumbers(indices);
  if (dim >= GATHER_SET_MIN_DIM) {
    // For long rows, TypedArray.set is a memcpy and beats any element loop 2-4x, even with the
    // subarray view it needs per row; for short rows the view costs more than the copy.
    for (let i = 0; i < rows.length; i++) {
      const start = rows[i] * dim;
      out.set(weight.subarray(start, start + dim), i * dim);
    }
    return -1;
  }
  for (let i = 0, o = 0; i < rows.length; i++) {
    const start = rows[i] * dim;
    const end = start + dim;
    for (let s = start; s < end; s++, o++) out[o] = weight[s];
  }
  return -1;
}

function scatterAdd(
  grad: Float32Array,
  dim: number,
  indices: KernelIndices,
  gradOutput: Float32Array,
  scale: Float32Array | null,
  skipRow: number,
): number {
  const bad = firstInvalidIndex(indices, grad.length / dim);
  if (bad >= 0) return bad;
  const rows = asNumbers(indices);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    if (row === skipRow) continue;
    const start = row * dim;
    const end = start + dim;
    let g = i * dim;
    if (scale === null) {
      // A sum of two floats computed in double and rounded once to float is the float sum.
      for (let k = start; k < end; k++, g++) grad[k] = grad[k] + gradOutput[g];
    } else {
      const s = scale[i];
      for (let k = start; k < end; k++, g++) grad[k] = grad[k] + Math.fround(s * gradOutput[g]);
    }
  }
  return -1;
}

/**
 * The eight-lane double accumulation of native/renorm.cc: element j goes to lane j % 8, lanes add
 * in order of j, and are combined as ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7)).
 * term(j) gives element j's term; products and squares of floats are exact in double.
 */
function laneSum(dim: number, term: (j: number) => number): number {
  let l0 = 0, l1 = 0, l2 = 0, l3 = 0, l4 = 0, l5 = 0, l6 = 0, l7 = 0;
  const blocks = dim - (dim % 8);
  let j = 0;
  for (; j < blocks; j += 8) {
    l0 += term(j); l1 += term(j + 1); l2 += term(j + 2); l3 += term(j + 3);
    l4 += term(j + 4); l5 += term(j + 5); l6 += term(j + 6); l7 += term(j + 7);
  }
  // The tail starts at a multiple of 8, so element j goes to lane j - blocks (at most 6).
  for (; j < dim; j++) {
    const v = term(j);
    switch (j - blocks) {
      case 0: l0 += v; break;
      case 1: l1 += v; break;
      case 2: l2 += v; break;
      case 3: l3 += v; break;
      case 4: l4 += v; break;
      case 5: l5 += v; break;
      default: l6 += v;
    }
  }
  return ((l0 + l1) + (l2 + l3)) + ((l4 + l5) + (l6 + l7));
}

/** dot(a[aStart ..], b[bStart ..]) over dim elements, in the eight-lane order. */
function laneDot(a: Float32Array, aStart: number, b: Float32Array, bStart: number, dim: number): number {
  return laneSum(dim, (j) => a[aStart + j] * b[bStart + j]);
}

function rowNorm(weight: Float32Array, start: number, dim: number, p: number): number {
  if (p === 2) return Math.sqrt(laneSum(dim, (j) => weight[start + j] * weight[start + j]));
  if (p === 1) return laneSum(dim, (j) => Math.abs(weight[start + j]));
  if (p === Infinity) {
    let largest = 0;
    for (let j = 0; j < dim; j++) {
      const a = Math.abs(weight[start + j]);
      if (a > largest) largest = a; // like C's fmax, a NaN element is passed over
    }
    return largest;
  }
  let sum = 0;
  for (let j = 0; j < dim; j++) sum += Math.pow(Math.abs(weight[start + j]), p);
  return Math.pow(sum, 1 / p);
}

function renorm(
  weight: Float32Array,
  dim: number,
  indices: KernelIndices,
  maxNorm: number,
  normType: number,
  seen: Uint8Array,
): number {
  const bad = firstInvalidIndex(indices, weight.length / dim);
  if (bad >= 0) return bad;
  const rows = asNumbers(indices);
  for (let i = 0; i < rows.length; i++) {
    const row = rows[i];
    const byte = Math.floor(row / 8);
    const bit = 1 << (row % 8);
    if (seen[byte] & bit) continue;
    seen[byte] |= bit;
    const start = row * dim;
    // torch reads the norm back from a float tensor: compare and use it as a float.
    const norm = Math.fround(rowNorm(weight, start, dim, normType));
    if (norm > maxNorm) {
      const scale = Math.fround(maxNorm / (norm + 1e-7));
      for (let k = start; k < start + dim; k++) weight[k] = weight[k] * scale;
    }
  }
  for (let i = 0; i < rows.length; i++) seen[Math.floor(rows[i] / 8)] = 0;
  return -1;
}

/** End of bag b: the next offset, or indices.length for the last bag without a closing offset. */
function bagEnd(offsets: Uint32Array, b: number, count: number): number {
  return b + 1 < offsets.length ? offsets[b + 1] : count;
}

function bagForward(
  weight: Float32Array,
  dim: number,
  indices: KernelIndices,
  offsets: Uint32Array,
  numBags: number,
  perSampleWeights: Float32Array | null,
  mode: BagModeCode,
  skipRow: number,
  out: Float32Array,
): number {
  const bad = firstInvalidIndex(indices, weight.length / dim);
  if (bad >= 0) return bad;
  const rows = asNumbers(indices);
  for (let b = 0; b < numBags; b++) {
    const o = b * dim;
    out.fill(0, o, o + dim);
    const end = bagEnd(offsets, b, rows.length);
    let entries = 0;
    for (let i = offsets[b]; i < end; i++) {
      const row = rows[i];
      if (row === skipRow) continue;
      const s = row * dim;
      if (mode === 2) {
        if (entries === 0) {
          for (let j = 0; j < dim; j++) out[o + j] = weight[s + j];
        } else {
          for (let j = 0; j < dim; j++) {
            const x = weight[s + j];
            if (x > out[o + j]) out[o + j] = x; // strict: the first occurrence wins ties
          }
        }
      } else if (perSampleWeights !== null) {
        const w = perSampleWeights[i];
        for (let j = 0; j < dim; j++) out[o + j] = out[o + j] + Math.fround(w * weight[s + j]);
      } else {
        for (let j = 0; j < dim; j++) out[o + j] = out[o + j] + weight[s + j];
      }
      entries++;
    }
    if (mode === 1 && entries > 0) {
      for (let j = 0; j < dim; j++) out[o + j] = out[o + j] / entries;
    }
  }
  return -1;
}

function bagScatterAdd(
  grad: Float32Array,
  dim: number,
  indices: KernelIndices,
  offsets: Uint32Array,
  numBags: number,
  gradOutput: Float32Array,
  scale: Float32Array | null,
  skipRow: number,
): number {
  const bad = firstInvalidIndex(indices, grad.length / dim);
  if (bad >= 0) return bad;
  const rows = asNumbers(indices);
  for (let b = 0; b < numBags; b++) {
    const g = b * dim;
    const end = bagEnd(offsets, b, rows.length);
    for (let i = offsets[b]; i < end; i++) {
      const row = rows[i];
      if (row === skipRow) continue;
      const d = row * dim;
      if (scale === null) {
        for (let j = 0; j < dim; j++) grad[d + j] = grad[d + j] + gradOutput[g + j];
      } else {
        const s = scale[i];
        for (let j = 0; j < dim; j++) grad[d + j] = grad[d + j] + Math.fround(s * gradOutput[g + j]);
      }
    }
  }
  return -1;
}

function bagMaxBackward(
  weight: Float32Array,
  grad: Float32Array,
  dim: number,
  indices: KernelIndices,
  offsets: Uint32Array,
  numBags: number,
  gradOutput: Float32Array,
  skipRow: number,
): number {
  const bad = firstInvalidIndex(indices, weight.length / dim);
  if (bad >= 0) return bad;
  const rows = asNumbers(indices);
  for (let b = 0; b < numBags; b++) {
    const begin = offsets[b];
    const end = bagEnd(offsets, b, rows.length);
    for (let j = 0; j < dim; j++) {
      let winner = -1;
      let best = 0;
      for (let i = begin; i < end; i++) {
        const row = rows[i];
        if (row === skipRow) continue;
        const x = weight[row * dim + j];
        if (winner < 0 || x > best) {
          winner = row;
          best = x;
        }
      }
      if (winner >= 0) grad[winner * dim + j] = grad[winner * dim + j] + gradOutput[b * dim + j];
    }
  }
  return -1;
}

function bagWeightGrad(
  weight: Float32Array,
  dim: number,
  indices: KernelIndices,
  offsets: Uint32Array,
  numBags: number,
  gradOutput: Float32Array,
  skipRow: number,
  out: Float32Array,
): number {
  const bad = firstInvalidIndex(indices, weight.length / dim);
  if (bad >= 0) return bad;
  const rows = asNumbers(indices);
  for (let b = 0; b < numBags; b++) {
    const end = bagEnd(offsets, b, rows.length);
    for (let i = offsets[b]; i < end; i++) {
      const row = rows[i];
      out[i] = row === skipRow ? 0 : laneDot(gradOutput, b * dim, weight, row * dim, dim);
    }
  }
  return -1;
}

const f = Math.fround;

/**
 * One update rule over elements [start, start + n) of weight and the states, grad from gradStart;
 * dense: a whole-table step (native/optimizer_body.h: the same operations, grouped alike).
 */
function updateSpan(
  scalars: OptimizerScalars,
  weight: Float32Array,
  start: number,
  grad: Float32Array,
  gradStart: number,
  state0: Float32Array | null,
  state1: Float32Array | null,
  state2: Float32Array | null,
  n: number,
  dense: boolean,
): void {
  const rule = scalars[0];
  const lr = f(scalars[1]), a = f(scalars[2]), b = f(scalars[3]), c = f(scalars[4]);
  const oneMinusA = f(scalars[5]), oneMinusB = f(scalars[6]), eps = f(scalars[7]);
  const weightDecay = f(scalars[8]), decay = f(scalars[9]);
  const firstStep = scalars[10] !== 0, nesterov = scalars[11] !== 0;
  for (let j = 0; j < n; j++) {
    const k = start + j;
    let p = weight[k];
    let g = grad[gradStart + j];
    switch (rule) {
      case 0: { // SGD: state0 = momentum buffer, a = momentum, b = 1 - dampening
        if (weightDecay !== 0) g = f(g + f(weightDecay * p));
        if (state0 !== null) {
          const buf = firstStep ? g : f(f(state0[k] * a) + f(b * g));
          state0[k] = buf;
          g = nesterov ? f(g + f(a * buf)) : buf;
        }
        weight[k] = f(p + f(lr * g));
        break;
      }
      case 1: { // Adagrad: state0 = sum of squares
        if (weightDecay !== 0) g = f(g + f(weightDecay * p));
        const sum = f(state0![k] + f(g * g));
        state0![k] = sum;
        const std = f(f(Math.sqrt(sum)) + eps);
        weight[k] = f(p + (dense ? f(f(lr * g) / std) : f(lr * f(g / std))));
        break;
      }
      case 2: { // Adam / AdamW: state0 = m, state1 = v, state2 = max v (amsgrad)
        if (decay !== 1) p = f(p * decay);
        if (weightDecay !== 0) g = f(g + f(weightDecay * p));
        const m = f(f(state0![k] * a) + f(oneMinusA * g));
        let v = f(f(state1![k] * b) + f(f(oneMinusB * g) * g));
        state0![k] = m;
        state1![k] = v;
        if (state2 !== null) {
          v = state2[k] > v ? state2[k] : v;
          state2[k] = v;
        }
        const denom = f(f(f(Math.sqrt(v)) / c) + eps);
        weight[k] = f(p + f(f(lr * m) / denom));
        break;
      }
      default: { // SparseAdam (3)
        const oldM = state0![k], oldV = state1![k];
        const m = f(f(f(g - oldM) * oneMinusA) + oldM);
        const v = f(f(f(f(g * g) - oldV) * oneMinusB) + oldV);
        state0![k] = m;
        state1![k] = v;
        weight[k] = f(p + f(lr * f(m / f(f(Math.sqrt(v)) + eps))));
      }
    }
  }
}

/** FBGEMM's row-wise Adagrad on one row (see native/optimizer_body.h). */
function updateRowwise(
  scalars: OptimizerScalars,
  weight: Float32Array,
  start: number,
  grad: Float32Array,
  gradStart: number,
  h: Float32Array,
  row: number,
  dim: number,
  scratch: Float32Array,
): void {
  const weightDecay = f(scalars[8]);
  for (let j = 0; j < dim; j++) {
    const g = grad[gradStart + j];
    scratch[j] = weightDecay !== 0 ? f(g + f(weightDecay * weight[start + j])) : g;
  }
  const sum = laneSum(dim, (j) => scratch[j] * scratch[j]);
  const updated = f(h[row] + f(sum / dim));
  h[row] = updated;
  const multiplier = f(scalars[1] / (Math.sqrt(updated) + scalars[7]));
  for (let j = 0; j < dim; j++) weight[start + j] = f(weight[start + j] - f(multiplier * scratch[j]));
}

function optimizerUpdate(
  scalars: OptimizerScalars,
  weight: Float32Array,
  grad: Float32Array,
  state0: Float32Array | null,
  state1: Float32Array | null,
  state2: Float32Array | null,
  rows: Uint32Array | null,
  dim: number,
  scratch: Float32Array | null,
): number {
  const tableRows = weight.length / dim;
  if (rows !== null) {
    const bad = firstInvalidIndex(rows, tableRows);
    if (bad >= 0) return bad;
  }
  const count = rows === null ? tableRows : rows.length;
  if (scalars[0] === 4) {
    for (let k = 0; k < count; k++) {
      const row = rows === null ? k : rows[k];
      updateRowwise(scalars, weight, row * dim, grad, k * dim, state0!, row, dim, scratch!);
    }
  } else if (rows === null) {
    updateSpan(scalars, weight, 0, grad, 0, state0, state1, state2, weight.length, true);
  } else {
    for (let k = 0; k < count; k++) updateSpan(scalars, weight, rows[k] * dim, grad, k * dim, state0, state1, state2, dim, false);
  }
  return -1;
}

function coalesce(
  indices: KernelIndices,
  dim: number,
  source: Float32Array,
  offsets: Uint32Array | null,
  numBags: number,
  scale: Float32Array | null,
  skipRow: number,
  slots: Int32Array,
  outRows: Uint32Array,
  outValues: Float32Array,
): number {
  const rows = asNumbers(indices);
  let distinct = 0;
  let bag = 0;
  for (let i = 0; i < rows.length; i++) {
    let sourceRow = i;
    if (offsets !== null) {
      while (bag + 1 < numBags && i >= bagEnd(offsets, bag, rows.length)) bag++;
      sourceRow = bag;
    }
    const row = rows[i];
    if (row === skipRow) continue;
    let slot = slots[row];
    const seen = slot >= 0 && slot < distinct && outRows[slot] === row;
    if (!seen) {
      slot = distinct++;
      slots[row] = slot;
      outRows[slot] = row;
    }
    const to = slot * dim;
    const from = sourceRow * dim;
    const s = scale === null ? 1 : scale[i];
    for (let j = 0; j < dim; j++) {
      const x = scale === null ? source[from + j] : f(s * source[from + j]);
      outValues[to + j] = seen ? outValues[to + j] + x : x;
    }
  }
  for (let k = 0; k < distinct; k++) slots[outRows[k]] = -1;
  return distinct;
}

/**
 * A kernel behind the checks the native binding makes of its arrays (async-guard.ts): a written
 * array may not share memory with another argument, and index-like arrays in a SharedArrayBuffer
 * are read from a copy made at the call (another thread may be writing them).
 */
function checked<F extends (...args: never[]) => number>(name: KernelName, kernel: F): F {
  const indexLike = KERNEL_ARRAYS[name].filter((argument) => argument.use === 'index').map((argument) => argument.position);
  return ((...args: unknown[]) => {
    refuseOverlaps(name, args);
    for (const position of indexLike) {
      const value = args[position];
      if (ArrayBuffer.isView(value) && isShared(value)) args[position] = copyOf(value);
    }
    return kernel(...(args as Parameters<F>));
  }) as unknown as F;
}

const kernels = {
  firstInvalidIndex: checked('firstInvalidIndex', firstInvalidIndex),
  gather: checked('gather', gather),
  scatterAdd: checked('scatterAdd', scatterAdd),
  renorm: checked('renorm', renorm),
  bagForward: checked('bagForward', bagForward),
  bagScatterAdd: checked('bagScatterAdd', bagScatterAdd),
  bagMaxBackward: checked('bagMaxBackward', bagMaxBackward),
  bagWeightGrad: checked('bagWeightGrad', bagWeightGrad),
  optimizerUpdate: checked('optimizerUpdate', optimizerUpdate),
  initFill: checked('initFill', (out: Float32Array, params: Float64Array, start: number): number => {
    initFillJs(out, params, start);
    return -1;
  }),
  coalesce: checked('coalesce', coalesce),
};

/** An OutputHolder in place of gather's or bagForward's output: the output allocated, in args. */
function freshOutput(name: KernelName, args: unknown[]): { holder: OutputHolder; array: Float32Array } | null {
  const position = name === 'gather' ? 3 : name === 'bagForward' ? 8 : -1;
  const holder = args[position];
  if (position < 0 || holder === null || typeof holder !== 'object' || ArrayBuffer.isView(holder)) return null;
  const dim = args[1] as number;
  const entries = name === 'gather' ? (args[2] as KernelIndices).length : (args[4] as number);
  const array = new Float32Array(entries * dim);
  args[position] = array;
  return { holder: holder as OutputHolder, array };
}

export const jsBackend: Backend = {
  name: 'js',
  simd: null,
  ...kernels,
  // JavaScript has no other thread to run a kernel on: it runs in a later macrotask, so that the
  // async methods behave alike on both backends (they settle later, never synchronously).
  // Its arrays are guarded as the native binding guards them (async-guard.ts).
  callAsync: (call) =>
    new Promise((resolve, reject) => {
      const [name, args] = guardAsyncCall(call);
      const fresh = freshOutput(name, args);
      setImmediate(() => {
        try {
          const result = (kernels[name] as (...a: unknown[]) => number)(...args);
          if (fresh !== null && result === -1) fresh.holder.out = fresh.array;
          resolve(result);
        } catch (error) {
          reject(error);
        }
      });
    }),
};
