// The pure-TypeScript backend: the same kernels as native/, written as plain fast JavaScript
// (typed arrays, monomorphic loops, no allocation per row). It is the fallback where the addon
// cannot load and the reference the native kernels are tested against, and it computes the
// same bits: float32 rounding is reproduced with Math.fround wherever C++ would round, and
// norms follow the eight-lane order described in native/renorm.cc.
import { KERNEL_ARRAYS, copyOf, guardAsyncCall, isShared, refuseOverlaps } from '../async-guard.js';
import {
  ADD_WORDS_STATUS, type AnyDtypeCode, type Backend, type BagModeCode, BINARY_RECORD_STATUS, DTYPE_CODES, type KernelIndices, type KernelName, type Kernels, KERNEL_NAMES, OPTIMIZER_SCALARS,
  type OptimizerScalars, type OutputHolder, type PackedData, type PackedDtypeCode,
} from '../backend.js';
import { type Dtype, LITTLE_ENDIAN, dequantizeRow, rowBytes, swapFloat32Bytes } from '../dtype.js';
import { initFillJs } from '../init.js';
import { narrowRow } from '../rounding.js';
import { countRecordsJs, parseTextLinesJs } from './js-text.js';

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

/**
 * What a kernel that reads indices starts with: the indices as numbers once every one is in
 * [0, tableRows), else the position of the first that is not, for the kernel to return.
 */
function checkedRows(indices: KernelIndices, tableRows: number): Int32Array | Uint32Array | Float64Array | number {
  const bad = firstInvalidIndex(indices, tableRows);
  return bad >= 0 ? bad : asNumbers(indices);
}

/** From this row length up, gather copies rows with TypedArray.set (measured: equal at 32, 2x at 64). */
const GATHER_SET_MIN_DIM = 48;

const f = Math.fround;

/**
 * target[to + j] += f(s * source[from + j]) for j < dim (s null: a plain add). A sum of two floats
 * computed in double and rounded once to float is the float sum.
 */
function addRow(target: Float32Array, to: number, source: Float32Array, from: number, dim: number, s: number | null): void {
  if (s === null) {
    for (let j = 0; j < dim; j++) target[to + j] = target[to + j] + source[from + j];
  } else {
    for (let j = 0; j < dim; j++) target[to + j] = target[to + j] + f(s * source[from + j]);
  }
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
export function laneDot(a: Float32Array, aStart: number, b: Float32Array, bStart: number, dim: number): number {
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

/** End of bag b: the next offset, or indices.length for the last bag without a closing offset. */
function bagEnd(offsets: Uint32Array, b: number, count: number): number {
  return b + 1 < offsets.length ? offsets[b + 1] : count;
}

/** fn(b, i) for each entry i of each bag b, in order of i. */
function forEachBagEntry(offsets: Uint32Array, numBags: number, count: number, fn: (b: number, i: number) => void): void {
  for (let b = 0; b < numBags; b++) {
    const end = bagEnd(offsets, b, count);
    for (let i = offsets[b]; i < end; i++) fn(b, i);
  }
}

const S = OPTIMIZER_SCALARS;

/**
 * One update rule over elements [start, start + n) of weight, grad from gradStart, the states from
 * stateStart (a narrow table's step updates a widened copy of the row, its states in place);
 * dense: a whole-table step (native/optimizer_body.h: the same operations, grouped alike).
 */
function updateSpan(
  scalars: OptimizerScalars,
  weight: Float32Array,
  start: number,
  grad: Float32Array,
  gradStart: number,
  states: [Float32Array | null, Float32Array | null, Float32Array | null],
  stateStart: number,
  n: number,
  dense: boolean,
): void {
  const [state0, state1, state2] = states;
  const rule = scalars[S.rule];
  const lr = f(scalars[S.lr]), a = f(scalars[S.a]), b = f(scalars[S.b]), c = f(scalars[S.c]);
  const oneMinusA = f(scalars[S.oneMinusA]), oneMinusB = f(scalars[S.oneMinusB]), eps = f(scalars[S.eps]);
  const weightDecay = f(scalars[S.weightDecay]), decay = f(scalars[S.decay]);
  const firstStep = scalars[S.firstStep] !== 0, nesterov = scalars[S.nesterov] !== 0;
  for (let j = 0; j < n; j++) {
    const w = start + j;
    const k = stateStart + j;
    let p = weight[w];
    let g = grad[gradStart + j];
    switch (rule) {
      case 0: { // SGD: state0 = momentum buffer, a = momentum, b = 1 - dampening
        if (weightDecay !== 0) g = f(g + f(weightDecay * p));
        if (state0 !== null) {
          const buf = firstStep ? g : f(f(state0[k] * a) + f(b * g));
          state0[k] = buf;
          g = nesterov ? f(g + f(a * buf)) : buf;
        }
        weight[w] = f(p + f(lr * g));
        break;
      }
      case 1: { // Adagrad: state0 = sum of squares
        if (weightDecay !== 0) g = f(g + f(weightDecay * p));
        const sum = f(state0![k] + f(g * g));
        state0![k] = sum;
        const std = f(f(Math.sqrt(sum)) + eps);
        weight[w] = f(p + (dense ? f(f(lr * g) / std) : f(lr * f(g / std))));
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
        weight[w] = f(p + f(f(lr * m) / denom));
        break;
      }
      default: { // SparseAdam (3)
        const oldM = state0![k], oldV = state1![k];
        const m = f(f(f(g - oldM) * oneMinusA) + oldM);
        const v = f(f(f(f(g * g) - oldV) * oneMinusB) + oldV);
        state0![k] = m;
        state1![k] = v;
        weight[w] = f(p + f(lr * f(m / f(f(Math.sqrt(v)) + eps))));
      }
    }
  }
}

/**
 * FBGEMM's row-wise Adagrad on one row (see native/optimizer_body.h). The decayed gradient is
 * computed twice, for the sum and for the update, the same bits each time: no row buffer.
 */
function updateRowwise(scalars: OptimizerScalars, weight: Float32Array, start: number, grad: Float32Array, gradStart: number, h: Float32Array, row: number, dim: number): void {
  const weightDecay = f(scalars[S.weightDecay]);
  const decayed = (j: number): number => {
    const g = grad[gradStart + j];
    return weightDecay !== 0 ? f(g + f(weightDecay * weight[start + j])) : g;
  };
  const sum = laneSum(dim, (j) => decayed(j) * decayed(j));
  const updated = f(h[row] + f(sum / dim));
  h[row] = updated;
  const multiplier = f(scalars[S.lr] / (Math.sqrt(updated) + scalars[S.eps]));
  for (let j = 0; j < dim; j++) weight[start + j] = f(weight[start + j] - f(multiplier * decayed(j)));
}

/**
 * The float32 bag forward (bagForward's contract) over rows read through `read`, which returns
 * where row r starts in `source`: the table itself, or a scratch row it dequantized r into (a
 * narrow table's bag is the float32 bag of its dequantized rows).
 */
function bagForwardRows(
  read: (row: number) => number, source: Float32Array, dim: number, rows: ArrayLike<number>, offsets: Uint32Array, numBags: number,
  perSampleWeights: Float32Array | null, mode: BagModeCode, skipRow: number, out: Float32Array,
): void {
  for (let b = 0; b < numBags; b++) {
    const o = b * dim;
    out.fill(0, o, o + dim);
    const end = bagEnd(offsets, b, rows.length);
    let entries = 0;
    for (let i = offsets[b]; i < end; i++) {
      const row = rows[i];
      if (row === skipRow) continue;
      const s = read(row);
      if (mode !== 2) {
        addRow(out, o, source, s, dim, perSampleWeights === null ? null : perSampleWeights[i]);
      } else if (entries === 0) {
        for (let j = 0; j < dim; j++) out[o + j] = source[s + j];
      } else {
        for (let j = 0; j < dim; j++) {
          const x = source[s + j];
          if (x > out[o + j]) out[o + j] = x; // strict: the first occurrence wins ties
        }
      }
      entries++;
    }
    if (mode === 1 && entries > 0) {
      for (let j = 0; j < dim; j++) out[o + j] = out[o + j] / entries;
    }
  }
}

const DTYPE_NAMES = Object.fromEntries(Object.entries(DTYPE_CODES).map(([name, code]) => [code, name])) as Record<PackedDtypeCode, Dtype>;

/** Whole rows in a narrow table's data (the layer checked that there is no partial row). */
function packedRows(data: PackedData, dtype: PackedDtypeCode, dim: number): number {
  return Math.floor(data.byteLength / rowBytes(dim, DTYPE_NAMES[dtype]));
}

/**
 * How the similarity kernels read a table of any dtype: `start(row)` returns where row starts in
 * `array`, the table itself (float32) or a scratch row it dequantized the row into.
 */
function rowSource(data: Float32Array | PackedData, dtype: AnyDtypeCode, dim: number): { rows: number; array: Float32Array; start: (row: number) => number } {
  if (dtype === 0) return { rows: Math.floor(data.length / dim), array: data as Float32Array, start: (row) => row * dim };
  const scratch = new Float32Array(dim);
  const name = DTYPE_NAMES[dtype];
  return {
    rows: packedRows(data as PackedData, dtype, dim),
    array: scratch,
    start: (row) => {
      dequantizeRow(data as PackedData, dim, name, row, scratch, 0);
      return 0;
    },
  };
}

/** 1 / the 2-norm of a[start, start + dim) (its own lane dot), or 0 when that is 0. */
export function inverseNorm(a: Float32Array, start: number, dim: number): number {
  const squares = laneDot(a, start, a, start, dim);
  return squares > 0 ? 1 / Math.sqrt(squares) : 0;
}

/** Whether (rank a, row ia) comes after (rank b, row ib): lower rank, or equal rank and higher row. */
function after(a: number, ia: number, b: number, ib: number): boolean {
  return a < b || (a === b && ia > ib);
}

/**
 * The best k of what is offered, kept sorted best first (nearestRows' order: rank descending,
 * then row ascending).
 */
class BestK {
  readonly rows: number[] = [];
  readonly ranks: number[] = [];
  readonly scores: number[] = [];
  constructor(readonly k: number) {}

  offer(score: number, rank: number, row: number): void {
    const size = this.rows.length;
    if (size === this.k && !after(this.ranks[size - 1]!, this.rows[size - 1]!, rank, row)) return;
    let at = size;
    while (at > 0 && after(this.ranks[at - 1]!, this.rows[at - 1]!, rank, row)) at--;
    this.rows.splice(at, 0, row);
    this.ranks.splice(at, 0, rank);
    this.scores.splice(at, 0, score);
    if (size === this.k) {
      this.rows.pop();
      this.ranks.pop();
      this.scores.pop();
    }
  }
}

/** Whether `row` is in the ascending list (binary search). */
function inSorted(list: Int32Array, row: number): boolean {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid]! < row) lo = mid + 1;
    else hi = mid;
  }
  return lo < list.length && list[lo] === row;
}

/**
 * The kernels (their contracts: Kernels in backend.ts). Every one that reads indices checks them
 * first and returns the position of the first bad one, writing nothing.
 */

/** Index of the first non-finite float32 in bits[start, end) (exponent bits all ones), else -1. */
function firstNonFinite(bits: Uint32Array, start: number, end: number): number {
  // Branch-free first: (x & 0x7fffffff) + 2^23 reaches 2^31, the sign bit of the OR, exactly for those.
  let any = 0;
  for (let j = start; j < end; j++) any |= (bits[j]! & 0x7fffffff) + 0x800000;
  if (any >= 0) return -1;
  for (let j = start; j < end; j++) if ((bits[j]! & 0x7f800000) === 0x7f800000) return j;
  return -1;
}

/**
 * The binary record loop of the word2vec loader (native/word2vec_binary.cc's twin): a byte at a
 * time to each word's end, then the vector copied (Buffer.copy) and checked. Refuses the arguments
 * the binding refuses, with its messages.
 */
function word2vecBinaryRecords(
  bytes: Uint8Array, start: number, maxWordBytes: number, dim: number, table: Float32Array, rowOffset: number, maxRecords: number,
  wordStarts: Int32Array, wordEnds: Int32Array, out: Float64Array,
): number {
  const end = bytes.length;
  if (!(end <= 2 ** 31 - 1 && start <= end)) throw new RangeError('bytes must be shorter than 2^31 and start at most its length');
  if (!(maxWordBytes <= 2 ** 31 - 1)) throw new RangeError('maxWordBytes must be below 2^31');
  if (!(rowOffset <= table.length && maxRecords <= Math.floor((table.length - rowOffset) / dim))) {
    throw new RangeError('maxRecords rows of dim from rowOffset must fit in the table');
  }
  if (!(wordStarts.length >= maxRecords && wordEnds.length >= maxRecords)) throw new RangeError('wordStarts and wordEnds must hold maxRecords entries');
  if (!(out.length >= 4)) throw new RangeError('out must hold 4 values');
  const vectorBytes = 4 * dim;
  const source = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const target = Buffer.from(table.buffer, table.byteOffset, table.byteLength);
  const bits = new Uint32Array(table.buffer, table.byteOffset, table.length);
  let p = start;
  let high = 0;
  let n = 0;
  let status: number = BINARY_RECORD_STATUS.done;
  let badValue = -1;
  while (n < maxRecords) {
    while (p < end && bytes[p]! >= 9 && bytes[p]! <= 13) p++;
    const wordStart = p;
    let wordHigh = 0;
    let c = 0;
    while (p < end && (c = bytes[p]!) !== 32 && p - wordStart <= maxWordBytes) {
      wordHigh |= c;
      p++;
    }
    if (p - wordStart > maxWordBytes) status = BINARY_RECORD_STATUS.wordTooLong;
    else if (p + 1 + vectorBytes > end) status = BINARY_RECORD_STATUS.needMore;
    else if (p === wordStart) status = BINARY_RECORD_STATUS.emptyWord;
    if (status !== BINARY_RECORD_STATUS.done) {
      p = wordStart;
      break;
    }
    high |= wordHigh;
    wordStarts[n] = wordStart;
    wordEnds[n] = p;
    const row = rowOffset + n * dim;
    source.copy(target, row * 4, p + 1, p + 1 + vectorBytes);
    if (!LITTLE_ENDIAN) swapFloat32Bytes(target, row * 4, dim);
    const bad = firstNonFinite(bits, row, row + dim);
    if (bad >= 0) {
      status = BINARY_RECORD_STATUS.notFinite;
      badValue = bad - row;
      p = wordStart;
      break;
    }
    p += 1 + vectorBytes;
    n++;
  }
  out[0] = p;
  out[1] = status;
  out[2] = badValue;
  out[3] = high;
  return n;
}

/**
 * The word loaders' vocabulary insertion (native/add_words.cc's twin, and what TableBuilder did
 * itself before: one word at a time, its bytes copied and hashed in one pass, then the slots
 * probed). Every value read back from the slots and word ends is checked, as the kernel checks it.
 * Refuses the arguments the binding refuses, with its messages.
 */
function addDistinctWords(
  chunk: Uint8Array, starts: Int32Array, ends: Int32Array, count: number, wordBytes: Uint8Array, used: number,
  wordEnds: Int32Array, words: number, slots: Int32Array, separator: number, out: Float64Array,
): number {
  const integer = (value: number, name: string): void => {
    if (!(Number.isSafeInteger(value) && value >= 0)) throw new RangeError(`${name} must be an integer >= 0`);
  };
  integer(count, 'count');
  integer(used, 'used');
  integer(words, 'words');
  integer(separator, 'separator');
  if (!(count <= starts.length && count <= ends.length)) throw new RangeError('starts and ends must hold count entries');
  for (let i = 0; i < count; i++) {
    if (!(starts[i]! >= 0 && starts[i]! <= ends[i]! && ends[i]! <= chunk.length)) {
      throw new RangeError('every word must satisfy 0 <= starts[i] <= ends[i] <= chunk.length');
    }
  }
  if (!(wordBytes.length <= 2 ** 31 - 1 && used <= wordBytes.length)) throw new RangeError('wordBytes must be shorter than 2^31 and used at most its length');
  if (!(wordEnds.length <= 2 ** 31 - 1 && words <= wordEnds.length && count <= wordEnds.length - words)) {
    throw new RangeError('wordEnds must be shorter than 2^31 and hold words + count entries');
  }
  if (!(slots.length >= 2 && slots.length <= 2 ** 32 && (slots.length & (slots.length - 1)) === 0)) {
    throw new RangeError('slots length must be twice a power of two, at most 2^32');
  }
  if (!(separator <= 255)) throw new RangeError('separator must be a byte (0 to 255)');
  if (!(out.length >= 5)) throw new RangeError('out must hold 5 values');
  const slotCount = slots.length / 2;
  const mask = slotCount - 1;
  let status: number = ADD_WORDS_STATUS.done;
  let earlier = -1;
  let lastSlot = -1;
  let high = 0;
  let added = 0;
  let record = words;
  adding: for (; added < count; added++) {
    const start = starts[added]!;
    const end = ends[added]!;
    const length = end - start;
    if (used + length + 1 > wordBytes.length) {
      status = ADD_WORDS_STATUS.needSpace;
      break;
    }
    // Copy the bytes and hash them (FNV-1a) in one pass.
    let at = used;
    let hash = 0x811c9dc5 | 0; // an int32 (as the slots hold it) even for an empty word, which no Math.imul converts
    let wordHigh = 0;
    for (let k = start; k < end; k++) {
      const c = chunk[k]!;
      wordBytes[at++] = c;
      hash = Math.imul(hash ^ c, 16777619);
      wordHigh |= c;
    }
    // hash & mask: mask is below 2^31, so the slot is never negative.
    let slot = hash & mask;
    for (let probes = 0; ; probes++) {
      const other = probes === slotCount ? -1 : slots[2 * slot]!;
      if (other === 0) break;
      if (other < 1 || other > record) {
        status = ADD_WORDS_STATUS.corrupt;
        break adding;
      }
      if (slots[2 * slot + 1] === hash) {
        const otherStart = other === 1 ? 0 : wordEnds[other - 2]! + 1;
        const otherEnd = wordEnds[other - 1]!;
        if (!(otherStart >= 0 && otherStart <= otherEnd && otherEnd < used)) {
          status = ADD_WORDS_STATUS.corrupt;
          break adding;
        }
        if (otherEnd - otherStart === length && sameBytes(wordBytes, otherStart, used, length)) {
          status = ADD_WORDS_STATUS.duplicate;
          earlier = other - 1;
          break adding;
        }
      }
      slot = (slot + 1) & mask;
    }
    slots[2 * slot] = record + 1;
    slots[2 * slot + 1] = hash;
    lastSlot = slot;
    wordBytes[at] = separator;
    wordEnds[record++] = at;
    used = at + 1;
    high |= wordHigh;
  }
  out[0] = status;
  out[1] = earlier;
  out[2] = used;
  out[3] = lastSlot;
  out[4] = high;
  return added;
}

/** Whether bytes[a, a + length) and bytes[b, b + length) are equal. */
function sameBytes(bytes: Uint8Array, a: number, b: number, length: number): boolean {
  for (let k = 0; k < length; k++) if (bytes[a + k] !== bytes[b + k]) return false;
  return true;
}

const implementations: Kernels = {
  firstInvalidIndex,

  gather(weight, dim, indices, out) {
    const rows = checkedRows(indices, weight.length / dim);
    if (typeof rows === 'number') return rows;
    const target = out as Float32Array; // an async call's OutputHolder is replaced first (freshOutput)
    if (dim >= GATHER_SET_MIN_DIM) {
      // For long rows, TypedArray.set is a memcpy and beats any element loop 2-4x, even with the
      // subarray view it needs per row; for short rows the view costs more than the copy.
      for (let i = 0; i < rows.length; i++) {
        const start = rows[i] * dim;
        target.set(weight.subarray(start, start + dim), i * dim);
      }
      return -1;
    }
    for (let i = 0, o = 0; i < rows.length; i++) {
      const start = rows[i] * dim;
      const end = start + dim;
      for (let s = start; s < end; s++, o++) target[o] = weight[s];
    }
    return -1;
  },

  scatterAdd(grad, dim, indices, gradOutput, scale, skipRow) {
    const rows = checkedRows(indices, grad.length / dim);
    if (typeof rows === 'number') return rows;
    for (let i = 0; i < rows.length; i++) {
      if (rows[i] !== skipRow) addRow(grad, rows[i] * dim, gradOutput, i * dim, dim, scale === null ? null : scale[i]);
    }
    return -1;
  },

  renorm(weight, dim, indices, maxNorm, normType, seen) {
    const rows = checkedRows(indices, weight.length / dim);
    if (typeof rows === 'number') return rows;
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
  },

  bagForward(weight, dim, indices, offsets, numBags, perSampleWeights, mode, skipRow, output) {
    const rows = checkedRows(indices, weight.length / dim);
    if (typeof rows === 'number') return rows;
    bagForwardRows((row) => row * dim, weight, dim, rows, offsets, numBags, perSampleWeights, mode, skipRow, output as Float32Array);
    return -1;
  },

  gatherPacked(data, dtype, dim, indices, output) {
    const rows = checkedRows(indices, packedRows(data, dtype, dim));
    if (typeof rows === 'number') return rows;
    const out = output as Float32Array; // an async call's OutputHolder is replaced first (freshOutput)
    const name = DTYPE_NAMES[dtype];
    for (let i = 0; i < rows.length; i++) dequantizeRow(data, dim, name, rows[i], out, i * dim);
    return -1;
  },

  bagForwardPacked(data, dtype, dim, indices, offsets, numBags, perSampleWeights, mode, skipRow, output) {
    const rows = checkedRows(indices, packedRows(data, dtype, dim));
    if (typeof rows === 'number') return rows;
    // The float32 bag over each row dequantized into one scratch row when it is read.
    const name = DTYPE_NAMES[dtype];
    const scratch = new Float32Array(dim);
    const read = (row: number): number => {
      dequantizeRow(data, dim, name, row, scratch, 0);
      return 0;
    };
    bagForwardRows(read, scratch, dim, rows, offsets, numBags, perSampleWeights, mode, skipRow, output as Float32Array);
    return -1;
  },

  bagScatterAdd(grad, dim, indices, offsets, numBags, gradOutput, scale, skipRow) {
    const rows = checkedRows(indices, grad.length / dim);
    if (typeof rows === 'number') return rows;
    forEachBagEntry(offsets, numBags, rows.length, (b, i) => {
      if (rows[i] !== skipRow) addRow(grad, rows[i] * dim, gradOutput, b * dim, dim, scale === null ? null : scale[i]);
    });
    return -1;
  },

  bagMaxBackward(weight, grad, dim, indices, offsets, numBags, gradOutput, skipRow) {
    const rows = checkedRows(indices, weight.length / dim);
    if (typeof rows === 'number') return rows;
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
  },

  bagWeightGrad(weight, dim, indices, offsets, numBags, gradOutput, skipRow, out) {
    const rows = checkedRows(indices, weight.length / dim);
    if (typeof rows === 'number') return rows;
    forEachBagEntry(offsets, numBags, rows.length, (b, i) => {
      out[i] = rows[i] === skipRow ? 0 : laneDot(gradOutput, b * dim, weight, rows[i] * dim, dim);
    });
    return -1;
  },

  optimizerUpdate(scalars, weight, grad, state0, state1, state2, rows, dim) {
    const tableRows = weight.length / dim;
    if (rows !== null) {
      const bad = firstInvalidIndex(rows, tableRows);
      if (bad >= 0) return bad;
    }
    const count = rows === null ? tableRows : rows.length;
    const states: [Float32Array | null, Float32Array | null, Float32Array | null] = [state0, state1, state2];
    if (scalars[S.rule] === 4) {
      for (let k = 0; k < count; k++) {
        const row = rows === null ? k : rows[k];
        updateRowwise(scalars, weight, row * dim, grad, k * dim, state0!, row, dim);
      }
    } else if (rows === null) {
      updateSpan(scalars, weight, 0, grad, 0, states, 0, weight.length, true);
    } else {
      for (let k = 0; k < count; k++) updateSpan(scalars, weight, rows[k] * dim, grad, k * dim, states, rows[k] * dim, dim, false);
    }
    return -1;
  },

  optimizerUpdatePacked(scalars, data, dtype, dim, grad, state0, state1, state2, rows, rounding, work) {
    const bad = firstInvalidIndex(rows, data.length / dim);
    if (bad >= 0) return bad;
    const states: [Float32Array | null, Float32Array | null, Float32Array | null] = [state0, state1, state2];
    const name = DTYPE_NAMES[dtype];
    const workBits = new Uint32Array(work.buffer, work.byteOffset, work.length);
    const rowwise = scalars[S.rule] === 4;
    for (let k = 0; k < rows.length; k++) {
      const row = rows[k];
      dequantizeRow(data, dim, name, row, work, k * dim);
      // The float32 rule on the widened row (work row k), its states at the table row.
      if (rowwise) updateRowwise(scalars, work, k * dim, grad, k * dim, state0!, row, dim);
      else updateSpan(scalars, work, k * dim, grad, k * dim, states, row * dim, dim, false);
      narrowRow(workBits, k * dim, data, row * dim, dim, dtype === 2, rounding, row);
    }
    return -1;
  },

  nearestRows(data, dtype, dim, rows, queries, k, metric, invNorms, queryRows, exclude, outIndices, outScores) {
    const source = rowSource(data, dtype, dim);
    const count = queries.length / dim;
    const l2 = metric === 2;
    for (let s = 0; s < count; s++) {
      const q = s * dim;
      const invQuery = metric === 1 ? inverseNorm(queries, q, dim) : 0;
      const best = new BestK(k);
      for (let row = 0; row < rows; row++) {
        const start = source.start(row);
        const a = source.array;
        let score = l2
          ? laneSum(dim, (j) => {
            const d = a[start + j] - queries[q + j];
            return d * d;
          })
          : laneDot(a, start, queries, q, dim);
        if (metric === 1) score = (score * invNorms![row]) * invQuery;
        const rank = Number.isNaN(score) ? -Infinity : l2 ? -score : score;
        const wanted = best.rows.length < k || after(best.ranks[k - 1]!, best.rows[k - 1]!, rank, row);
        if (wanted && !(queryRows !== null && queryRows[s] === row) && !(exclude !== null && inSorted(exclude, row))) {
          best.offer(score, rank, row);
        }
      }
      for (let i = 0; i < k; i++) {
        const found = i < best.rows.length;
        outIndices[s * k + i] = found ? best.rows[i]! : -1;
        outScores[s * k + i] = found ? best.scores[i]! : NaN;
      }
    }
    return -1;
  },

  narrowRows(data, dtype, dim, rows, values, rounding) {
    const bad = firstInvalidIndex(rows, data.length / dim);
    if (bad >= 0) return bad;
    const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
    for (let k = 0; k < rows.length; k++) narrowRow(bits, k * dim, data, rows[k] * dim, dim, dtype === 2, rounding, rows[k]);
    return -1;
  },

  word2vecBinaryRecords,

  rowInverseNorms(data, dtype, dim, first, out) {
    const source = rowSource(data, dtype, dim);
    for (let i = 0; i < out.length; i++) out[i] = inverseNorm(source.array, source.start(first + i), dim);
    return -1;
  },

  parseTextLines: parseTextLinesJs,
  countRecords: countRecordsJs,

  addDistinctWords,

  initFill(out, params, start) {
    initFillJs(out, params, start);
    return -1;
  },

  coalesce(indices, dim, source, offsets, numBags, scale, skipRow, slots, outRows, outValues) {
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
  },

  norm(values, normType, out) {
    if (!(normType > 0)) throw new RangeError('norm: normType must be > 0 or Infinity');
    if (out.length < 1) throw new RangeError('norm: out must hold at least one value');
    if (normType !== Infinity) {
      out[0] = rowNorm(values, 0, values.length, normType);
      return -1;
    }
    // Unlike rowNorm's (renorm's), a NaN anywhere gives NaN, as torch's abs().max().
    let largest = 0;
    for (let j = 0; j < values.length; j++) {
      const a = Math.abs(values[j]);
      if (Number.isNaN(a)) {
        largest = NaN;
        break;
      }
      if (a > largest) largest = a;
    }
    out[0] = largest;
    return -1;
  },

  scaleValues(values, factor) {
    const s = f(factor);
    for (let j = 0; j < values.length; j++) values[j] = values[j] * s; // exact in double, rounded once
    return -1;
  },

  clampValues(values, low, high) {
    if (!(low <= high)) throw new RangeError('clampValues: low must be at most high');
    const lo = f(low);
    const hi = f(high);
    for (let j = 0; j < values.length; j++) {
      // Only values outside [lo, hi] are written: a NaN keeps its bits.
      if (values[j] < lo) values[j] = lo;
      else if (values[j] > hi) values[j] = hi;
    }
    return -1;
  },
};

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

/** Every kernel of KERNEL_NAMES behind those checks. */
const kernels = Object.fromEntries(KERNEL_NAMES.map((name) => [name, checked(name, implementations[name])])) as unknown as Kernels;

/** The kernels that allocate their output when given an OutputHolder: where it is, and its shape. */
const FRESH_OUTPUTS: Partial<Record<KernelName, { out: number; dim: number; rows: (args: unknown[]) => number }>> = {
  gather: { out: 3, dim: 1, rows: (args) => (args[2] as KernelIndices).length },
  bagForward: { out: 8, dim: 1, rows: (args) => args[4] as number },
  gatherPacked: { out: 4, dim: 2, rows: (args) => (args[3] as KernelIndices).length },
  bagForwardPacked: { out: 9, dim: 2, rows: (args) => args[5] as number },
};

/** An OutputHolder in place of an output (FRESH_OUTPUTS): the output allocated, in args. */
function freshOutput(name: KernelName, args: unknown[]): { holder: OutputHolder; array: Float32Array } | null {
  const spec = FRESH_OUTPUTS[name];
  if (spec === undefined) return null;
  const holder = args[spec.out];
  if (holder === null || typeof holder !== 'object' || ArrayBuffer.isView(holder)) return null;
  const array = new Float32Array(spec.rows(args) * (args[spec.dim] as number));
  args[spec.out] = array;
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
