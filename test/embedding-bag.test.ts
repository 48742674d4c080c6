// EmbeddingBag's behaviour on the backend this process was started for, against a plain
// reference written here from the documented semantics (float32 rounding at every step).
import { describe, expect, it } from 'vitest';

import { type BagMode, EmbeddingBag } from '../src/index.js';
import { INDEX_KINDS, asIndexArray, expectSameBits, randomIndices, randomTable, rng } from './helpers.js';

interface Reference {
  out: Float32Array;
  grad: Float32Array;
  weightsGrad: Float32Array | null;
}

/** The semantics, spelled out: bags from offsets, padding skipped, float arithmetic in entry order. */
function reference(
  table: Float32Array,
  dim: number,
  indices: number[],
  offsets: number[],
  mode: BagMode,
  paddingIdx: number | null,
  weights: Float32Array | null,
  gradOutput: Float32Array,
): Reference {
  const numBags = offsets.length;
  const out = new Float32Array(numBags * dim);
  const grad = new Float32Array(table.length);
  const weightsGrad = weights === null ? null : new Float32Array(indices.length);
  for (let b = 0; b < numBags; b++) {
    const begin = offsets[b]!;
    const end = b + 1 < numBags ? offsets[b + 1]! : indices.length;
    const entries = [];
    for (let i = begin; i < end; i++) if (indices[i] !== paddingIdx) entries.push(i);
    for (let j = 0; j < dim; j++) {
      let acc = 0;
      let winner = -1;
      for (const i of entries) {
        const x = table[indices[i]! * dim + j]!;
        if (mode === 'max') {
          if (winner < 0 || x > acc) [acc, winner] = [x, indices[i]!];
        } else {
          acc = Math.fround(acc + (weights ? Math.fround(weights[i]! * x) : x));
        }
      }
      out[b * dim + j] = mode === 'mean' && entries.length > 0 ? Math.fround(acc / entries.length) : acc;
      const g = gradOutput[b * dim + j]!;
      if (mode === 'max') {
        if (winner >= 0) grad[winner * dim + j] = Math.fround(grad[winner * dim + j]! + g);
      }
    }
    if (mode !== 'max') {
      for (const i of entries) {
        const scale = Math.fround((weights ? weights[i]! : 1) / (mode === 'mean' ? entries.length : 1));
        for (let j = 0; j < dim; j++) {
          const k = indices[i]! * dim + j;
          const g = gradOutput[b * dim + j]!;
          grad[k] = Math.fround(grad[k]! + (scale === 1 ? g : Math.fround(scale * g)));
        }
      }
    }
    if (weightsGrad) {
      for (let i = begin; i < end; i++) {
        if (indices[i] === paddingIdx) continue;
        // A plain double dot: equal to the eight-lane order at these sizes within float rounding.
        let dot = 0;
        for (let j = 0; j < dim; j++) dot += gradOutput[b * dim + j]! * table[indices[i]! * dim + j]!;
        weightsGrad[i] = dot;
      }
    }
  }
  return { out, grad, weightsGrad };
}

function randomOffsets(count: number, numBags: number, seed: number): number[] {
  const next = rng(seed);
  const offsets = Array.from({ length: numBags }, () => Math.floor(next() * (count + 1))).sort((a, b) => a - b);
  if (numBags > 0) offsets[0] = 0;
  if (numBags > 2) offsets[2] = offsets[1]!; // an empty bag
  return offsets;
}

describe('EmbeddingBag', () => {
  it('has torch defaults', () => {
    const bag = new EmbeddingBag(10, 4, { seed: 1 });
    expect(bag.mode).toBe('mean');
    expect(bag.includeLastOffset).toBe(false);
    expect(bag.weight.length).toBe(40);
    expect(bag.grad).toBeNull();
    const pretrained = EmbeddingBag.fromPretrained(randomTable(6, 2, 1), 2, { mode: 'max' });
    expect(pretrained.freeze).toBe(true);
    expect(pretrained.numEmbeddings).toBe(6);
    expect(pretrained.mode).toBe('max');
  });

  for (const mode of ['sum', 'mean', 'max'] as const) {
    for (const dim of [1, 3, 8, 17, 64, 65]) {
      it(`${mode}, dim ${dim}: forward and dense backward match the reference, with empty bags and padding`, () => {
        const rows = 12;
        const table = randomTable(rows, dim, dim);
        // Ties for max: row 1 repeats row 0.
        table.copyWithin(dim, 0, dim);
        const indices = randomIndices(40, rows, dim + 1);
        indices[3] = 0;
        indices[4] = 1;
        const offsets = randomOffsets(indices.length, 7, dim + 2);
        const paddingIdx = 5;
        const gradOutput = randomTable(7, dim, dim + 3);
        const expected = reference(table, dim, indices, offsets, mode, paddingIdx, null, gradOutput);
        for (const kind of INDEX_KINDS) {
          const bag = new EmbeddingBag(rows, dim, { weight: table.slice(), mode, paddingIdx });
          expectSameBits(bag.forward(asIndexArray(indices, kind), asIndexArray(offsets, kind)), expected.out, `${kind} out`);
          // Every element written, empty bags included: outputs the package allocates are not zeroed first.
          const dirty = new Float32Array(expected.out.length).fill(NaN);
          expectSameBits(bag.forward(asIndexArray(indices, kind), asIndexArray(offsets, kind), undefined, dirty), expected.out, `${kind} NaN-filled out`);
          expect(bag.backward(asIndexArray(indices, kind), offsets, gradOutput)).toBeNull();
          expectSameBits(bag.grad, expected.grad, `${kind} grad`);
        }
      });
    }
  }

  it('weighted sum: forward, backward and the per-sample weights gradient', () => {
    const dim = 9;
    const table = randomTable(10, dim, 1);
    const indices = randomIndices(30, 10, 2);
    const offsets = randomOffsets(30, 6, 3);
    const weights = randomTable(30, 1, 4);
    weights[0] = 0;
    weights[1] = -2;
    const gradOutput = randomTable(6, dim, 5);
    const expected = reference(table, dim, indices, offsets, 'sum', 3, weights, gradOutput);
    const bag = new EmbeddingBag(10, dim, { weight: table.slice(), mode: 'sum', paddingIdx: 3 });
    expectSameBits(bag.forward(indices, offsets, weights), expected.out);
    expectSameBits(bag.forward(indices, offsets, weights, new Float32Array(expected.out.length).fill(NaN)), expected.out, 'NaN-filled out');
    const weightsGrad = bag.backward(indices, offsets, gradOutput, weights);
    expectSameBits(bag.grad, expected.grad);
    expect(weightsGrad).toBeInstanceOf(Float32Array);
    for (let i = 0; i < indices.length; i++) {
      expect(weightsGrad![i]).toBeCloseTo(expected.weightsGrad![i]!, 5);
      if (indices[i] === 3) expect(weightsGrad![i]).toBe(0);
    }
  });

  it('includeLastOffset takes numBags + 1 offsets', () => {
    const table = randomTable(8, 4, 1);
    const plain = new EmbeddingBag(8, 4, { weight: table, mode: 'sum' });
    const closed = new EmbeddingBag(8, 4, { weight: table, mode: 'sum', includeLastOffset: true });
    const indices = [1, 2, 3, 4, 5];
    expectSameBits(closed.forward(indices, [0, 2, 2, 5]), plain.forward(indices, [0, 2, 2]));
  });

  it('a bag length stands for torch 2-D input: bags of equal length, no offsets', () => {
    const table = randomTable(8, 5, 1);
    const bag = new EmbeddingBag(8, 5, { weight: table, mode: 'max' });
    const indices = new Int32Array([1, 2, 3, 4, 5, 6]);
    expectSameBits(bag.forward(indices, 3), bag.forward(indices, [0, 3]));
    expectSameBits(bag.forward(indices, 2), bag.forward(indices, new Uint32Array([0, 2, 4])));
    expectSameBits(bag.forward(indices, 1), bag.forward(indices, [0, 1, 2, 3, 4, 5]));
    bag.backward(indices, 3, new Float32Array(10).fill(1));
  });

  it('empty bags, bags of only padding, and no indices at all give zeros', () => {
    for (const mode of ['sum', 'mean', 'max'] as const) {
      const bag = new EmbeddingBag(4, 3, { weight: randomTable(4, 3, 1), mode, paddingIdx: 2 });
      const out = bag.forward([2, 2, 1], [0, 0, 2, 3]);
      expect(Array.from(out.subarray(0, 6))).toEqual([0, 0, 0, 0, 0, 0]);
      expect(Array.from(out.subarray(9, 12))).toEqual([0, 0, 0]);
      expect(Array.from(bag.forward([], [0, 0]))).toEqual([0, 0, 0, 0, 0, 0]);
      expect(bag.forward([], []).length).toBe(0);
    }
  });

  it('max: the first occurrence wins ties, and its row alone gets the gradient', () => {
    const table = new Float32Array([1, 5, 1, 5, 2, 0]); // rows 0 and 1 are equal
    const bag = new EmbeddingBag(3, 2, { weight: table, mode: 'max' });
    expect(Array.from(bag.forward([1, 0, 2], [0]))).toEqual([2, 5]);
    bag.backward([1, 0, 2], [0], new Float32Array([10, 20]));
    expect(Array.from(bag.grad!)).toEqual([0, 0, 0, 20, 10, 0]);
  });

  it('scaleGradByFreq divides by the row count of the whole call', () => {
    const bag = new EmbeddingBag(4, 2, { weight: randomTable(4, 2, 1), mode: 'sum', scaleGradByFreq: true });
    bag.backward([1, 1, 2, 1], [0, 2], new Float32Array([3, 3, 6, 6]));
    const third = Math.fround(1 / 3);
    const row1 = Math.fround(Math.fround(Math.fround(third * 3) + Math.fround(third * 3)) + Math.fround(third * 6));
    expect(Array.from(bag.grad!)).toEqual([0, 0, row1, row1, 6, 6, 0, 0]);
  });

  it('sparse: rows in input order, scaled per entry, padding left out', () => {
    const bag = new EmbeddingBag(6, 2, { weight: randomTable(6, 2, 1), mode: 'mean', sparse: true, paddingIdx: 0 });
    bag.backward([3, 0, 4, 5], [0, 3], new Float32Array([2, 4, 8, 16]));
    expect(bag.grad).toBeNull();
    expect(Array.from(bag.sparseGrad!.indices)).toEqual([3, 4, 5]);
    expect(Array.from(bag.sparseGrad!.values)).toEqual([1, 2, 1, 2, 8, 16]);
    const weighted = new EmbeddingBag(6, 2, { weight: randomTable(6, 2, 1), mode: 'sum', sparse: true });
    weighted.backward([3, 4], [0], new Float32Array([2, 4]), new Float32Array([0.5, -1]));
    expect(Array.from(weighted.sparseGrad!.values)).toEqual([1, 2, -2, -4]);
  });

  it('a frozen layer records nothing but still returns the per-sample weights gradient', () => {
    const bag = new EmbeddingBag(4, 2, { weight: new Float32Array([1, 2, 3, 4, 5, 6, 7, 8]), mode: 'sum', freeze: true });
    const weightsGrad = bag.backward([1, 3], [0], new Float32Array([1, 10]), new Float32Array([1, 1]));
    expect(Array.from(weightsGrad!)).toEqual([43, 87]);
    expect(bag.grad).toBeNull();
  });

  it('maxNorm renormalizes the looked-up rows before reducing', () => {
    const table = new Float32Array([3, 4, 0.3, 0.4, 6, 8]);
    const bag = new EmbeddingBag(3, 2, { weight: table, mode: 'sum', maxNorm: 1 });
    const out = bag.forward([0, 1], [0]);
    expect(table[0]).toBeCloseTo(0.6, 6);
    expect(table[1]).toBeCloseTo(0.8, 6);
    expect(Array.from(table.subarray(4))).toEqual([6, 8]); // not looked up
    expect(out[0]).toBeCloseTo(0.9, 6);
  });

  it('accumulates across calls until zeroGrad', () => {
    const bag = new EmbeddingBag(3, 1, { weight: new Float32Array([1, 2, 3]), mode: 'sum' });
    bag.backward([0, 2], [0], new Float32Array([1]));
    bag.backward([2], [0], new Float32Array([5]));
    expect(Array.from(bag.grad!)).toEqual([1, 0, 6]);
    bag.zeroGrad();
    expect(bag.grad).toBeNull();
  });
});
