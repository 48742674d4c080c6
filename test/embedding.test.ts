// The Embedding layer's behaviour, run against the backend this process was started for.
import { describe, expect, it } from 'vitest';

import { Embedding, getBackend, getCapabilities } from '../src/index.js';
import { INDEX_KINDS, asIndexArray, expectSameBits, expectedBackend, expectedTier, randomIndices, randomTable } from './helpers.js';

function gatherByHand(table: Float32Array, dim: number, indices: readonly number[]): Float32Array {
  const out = new Float32Array(indices.length * dim);
  indices.forEach((row, i) => out.set(table.subarray(row * dim, row * dim + dim), i * dim));
  return out;
}

describe('backend selection', () => {
  it('runs on the backend and tier this test process asked for', () => {
    expect(getBackend()).toBe(expectedBackend);
    const capabilities = getCapabilities();
    expect(capabilities.backend).toBe(expectedBackend);
    if (expectedBackend === 'native') {
      expect(capabilities.simd).toBe(expectedTier ?? capabilities.cpu!.best);
      expect(capabilities.cpu!.tiers).toContain(capabilities.simd);
      expect(capabilities.nativeError).toBeNull();
    } else {
      expect(capabilities.simd).toBeNull();
      expect(capabilities.cpu).toBeNull();
    }
  });
});

describe('construction', () => {
  it('has torch defaults and exposes its options', () => {
    const layer = new Embedding(7, 5, { seed: 3 });
    expect(layer.numEmbeddings).toBe(7);
    expect(layer.embeddingDim).toBe(5);
    expect(layer.paddingIdx).toBeNull();
    expect(layer.maxNorm).toBeNull();
    expect(layer.normType).toBe(2);
    expect(layer.scaleGradByFreq).toBe(false);
    expect(layer.sparse).toBe(false);
    expect(layer.freeze).toBe(false);
    expect(layer.weight).toBeInstanceOf(Float32Array);
    expect(layer.weight.length).toBe(35);
    expect(layer.grad).toBeNull();
    expect(layer.sparseGrad).toBeNull();
  });

  it('normalizes a negative paddingIdx and zeroes that row in the default init', () => {
    const layer = new Embedding(6, 4, { paddingIdx: -2, seed: 11 });
    expect(layer.paddingIdx).toBe(4);
    expect(Array.from(layer.weight.subarray(16, 20))).toEqual([0, 0, 0, 0]);
    expect(layer.weight.subarray(0, 16).every((v) => v !== 0)).toBe(true);
  });

  it('initializes from N(0, 1), reproducibly for a seed', () => {
    const a = new Embedding(1000, 50, { seed: 42 });
    const b = new Embedding(1000, 50, { seed: 42 });
    const c = new Embedding(1000, 50, { seed: 43 });
    expectSameBits(a.weight, b.weight);
    expect(a.weight.some((v, i) => v !== c.weight[i])).toBe(true);
    const mean = a.weight.reduce((s, v) => s + v, 0) / a.weight.length;
    const variance = a.weight.reduce((s, v) => s + (v - mean) ** 2, 0) / a.weight.length;
    expect(Math.abs(mean)).toBeLessThan(0.02); // 50,000 samples: the standard error is 0.0045
    expect(Math.abs(variance - 1)).toBeLessThan(0.03);
  });

  it('adopts a supplied table without copying or zeroing the padding row', () => {
    const weight = randomTable(5, 3, 1);
    const copy = weight.slice();
    const layer = new Embedding(5, 3, { weight, paddingIdx: 0 });
    expect(layer.weight).toBe(weight);
    expectSameBits(layer.weight, copy);
  });

  it('fromPretrained adopts the table, infers numEmbeddings and freezes by default', () => {
    const weights = randomTable(9, 4, 2);
    const layer = Embedding.fromPretrained(weights, 4);
    expect(layer.weight).toBe(weights);
    expect(layer.numEmbeddings).toBe(9);
    expect(layer.freeze).toBe(true);
    expect(Embedding.fromPretrained(weights, 4, { freeze: false }).freeze).toBe(false);
    expect(Embedding.fromPretrained(weights, 4, { paddingIdx: -1 }).paddingIdx).toBe(8);
  });
});

describe('forward', () => {
  const dim = 17;
  const table = randomTable(40, dim, 5);
  const rows = [3, 0, 39, 3, 17, 3, 21];

  for (const kind of INDEX_KINDS) {
    it(`gathers rows from ${kind} indices`, () => {
      const layer = new Embedding(40, dim, { weight: table.slice() });
      expectSameBits(layer.forward(asIndexArray(rows, kind)), gatherByHand(table, dim, rows));
    });
  }

  it('fills and returns the given out array', () => {
    const layer = new Embedding(40, dim, { weight: table.slice() });
    const out = new Float32Array(rows.length * dim);
    expect(layer.forward(rows, out)).toBe(out);
    expectSameBits(out, gatherByHand(table, dim, rows));
  });

  it('accepts an out array that is a view into a larger buffer', () => {
    const layer = new Embedding(40, dim, { weight: table.slice() });
    const backing = new Float32Array(rows.length * dim + 10).fill(-7);
    const out = backing.subarray(5, 5 + rows.length * dim);
    layer.forward(Int32Array.from(rows), out);
    expectSameBits(out, gatherByHand(table, dim, rows));
    expect(Array.from(backing.subarray(0, 5))).toEqual([-7, -7, -7, -7, -7]);
    expect(Array.from(backing.subarray(backing.length - 5))).toEqual([-7, -7, -7, -7, -7]);
  });

  it('writes every element of out, and a returned array is its own, of exactly the output length', () => {
    // Outputs the package allocates are not zeroed first (kernelOutput): every kernel path must
    // write all of out, here over a NaN-filled one, with padding and maxNorm too.
    for (const options of [{}, { paddingIdx: 3 }, { maxNorm: 1 }]) {
      const layer = new Embedding(40, dim, { weight: table.slice(), ...options });
      const expected = layer.forward(rows);
      expectSameBits(layer.forward(rows, new Float32Array(rows.length * dim).fill(NaN)), expected, JSON.stringify(options));
      expect(expected.buffer.byteLength).toBe(rows.length * dim * 4);
      expect(expected.byteOffset).toBe(0);
      expect(layer.forward(rows).buffer).not.toBe(expected.buffer);
    }
  });

  it('returns an empty array for no indices', () => {
    const layer = new Embedding(40, dim, { weight: table.slice() });
    expect(layer.forward([]).length).toBe(0);
    expect(layer.forward(new Int32Array(0)).length).toBe(0);
  });

  it('returns the padding row as it is in the table', () => {
    const layer = new Embedding(40, dim, { weight: table.slice(), paddingIdx: 3 });
    expectSameBits(layer.forward([3]), table.subarray(3 * dim, 4 * dim));
  });
});

describe('maxNorm', () => {
  const dim = 9;

  function norm(row: Float32Array, p: number): number {
    if (p === Infinity) return Math.max(...Array.from(row, Math.abs));
    return Math.pow(row.reduce((s, v) => s + Math.pow(Math.abs(v), p), 0), 1 / p);
  }

  for (const p of [1, 2, 3, Infinity]) {
    it(`renormalizes each looked-up row above maxNorm in place (p = ${p}), once per distinct row`, () => {
      const table = randomTable(12, dim, 8);
      const before = table.slice();
      const maxNorm = p === Infinity ? 1 : 2;
      const layer = new Embedding(12, dim, { weight: table, maxNorm, normType: p });
      const rows = [1, 4, 4, 7, 1, 10];
      const out = layer.forward(rows);
      for (let row = 0; row < 12; row++) {
        const original = before.subarray(row * dim, row * dim + dim);
        const now = table.subarray(row * dim, row * dim + dim);
        const originalNorm = norm(original, p);
        if (!rows.includes(row) || Math.fround(originalNorm) <= maxNorm) {
          expectSameBits(now, original, `row ${row}`);
        } else {
          // One scaling by float(maxNorm / (norm + 1e-7)): the new norm is just under maxNorm.
          expect(norm(now, p)).toBeLessThanOrEqual(maxNorm * (1 + 1e-6));
          expect(norm(now, p)).toBeGreaterThan(maxNorm * (1 - 1e-5));
          const scale = now[0]! / original[0]!;
          for (let j = 0; j < dim; j++) expect(now[j]! / original[j]!).toBeCloseTo(scale, 5);
        }
      }
      expectSameBits(out, gatherByHand(table, dim, rows));
      // The table needs several rows above and below maxNorm for this test to mean anything.
      const renormed = [...new Set(rows)].filter((row) => Math.fround(norm(before.subarray(row * dim, row * dim + dim), p)) > maxNorm);
      expect(renormed.length).toBeGreaterThan(0);
    });
  }
});

describe('dense backward', () => {
  const dim = 8;

  it('accumulates rows of gradOutput into grad across calls', () => {
    const layer = new Embedding(6, dim, { seed: 1 });
    expect(layer.grad).toBeNull();
    const rows = [2, 5, 2];
    const gradOutput = randomTable(3, dim, 4);
    layer.backward(rows, gradOutput);
    layer.backward(new BigInt64Array([5n]), gradOutput.subarray(0, dim));
    const expected = new Float32Array(6 * dim);
    for (let j = 0; j < dim; j++) {
      expected[2 * dim + j] = Math.fround(gradOutput[j]! + gradOutput[2 * dim + j]!);
      expected[5 * dim + j] = Math.fround(gradOutput[dim + j]! + gradOutput[j]!);
    }
    expectSameBits(layer.grad, expected);
  });

  it('gives the padding row no gradient', () => {
    const layer = new Embedding(6, dim, { seed: 1, paddingIdx: 2 });
    layer.backward([2, 1, 2], randomTable(3, dim, 4));
    expect(layer.grad!.subarray(2 * dim, 3 * dim).every((v) => v === 0)).toBe(true);
    expect(layer.grad!.subarray(dim, 2 * dim).some((v) => v !== 0)).toBe(true);
  });

  it('scaleGradByFreq divides each contribution by its row count in the call', () => {
    const layer = new Embedding(4, dim, { seed: 1, scaleGradByFreq: true });
    const gradOutput = randomTable(4, dim, 9);
    layer.backward(Uint32Array.from([1, 3, 1, 1]), gradOutput);
    const third = Math.fround(1 / 3);
    for (let j = 0; j < dim; j++) {
      let expected = 0;
      for (const i of [0, 2, 3]) expected = Math.fround(expected + Math.fround(third * gradOutput[i * dim + j]!));
      expect(layer.grad![dim + j]).toBe(expected);
      expect(layer.grad![3 * dim + j]).toBe(gradOutput[dim + j]);
    }
  });

  it('zeroGrad drops the gradient', () => {
    const layer = new Embedding(4, dim, { seed: 1 });
    layer.backward([1], new Float32Array(dim).fill(1));
    const first = layer.grad;
    layer.zeroGrad();
    expect(layer.grad).toBeNull();
    layer.backward([2], new Float32Array(dim).fill(1));
    expect(layer.grad).not.toBe(first);
    expect(layer.grad![dim]).toBe(0);
    expect(layer.grad![2 * dim]).toBe(1);
  });

  it('a frozen layer records nothing', () => {
    const layer = new Embedding(4, dim, { seed: 1, freeze: true });
    layer.backward([1, 2], new Float32Array(2 * dim).fill(1));
    expect(layer.grad).toBeNull();
    expect(layer.sparseGrad).toBeNull();
  });

  it('accumulates an empty batch as a zero gradient', () => {
    const layer = new Embedding(4, dim, { seed: 1 });
    layer.backward([], new Float32Array(0));
    expectSameBits(layer.grad, new Float32Array(4 * dim));
  });
});

describe('sparse backward', () => {
  const dim = 5;

  it('appends rows in input order, duplicates kept, padding entries left out, across calls', () => {
    const layer = new Embedding(10, dim, { seed: 1, sparse: true, paddingIdx: 4 });
    const first = randomTable(5, dim, 1);
    const second = randomTable(3, dim, 2);
    layer.backward([7, 4, 7, 1, 4], first);
    layer.backward(new Int32Array([4, 0, 9]), second);
    expect(layer.grad).toBeNull();
    const sparse = layer.sparseGrad!;
    expect(Array.from(sparse.indices)).toEqual([7, 7, 1, 0, 9]);
    const expected = new Float32Array(5 * dim);
    [0, 2, 3].forEach((from, k) => expected.set(first.subarray(from * dim, from * dim + dim), k * dim));
    [1, 2].forEach((from, k) => expected.set(second.subarray(from * dim, from * dim + dim), (3 + k) * dim));
    expectSameBits(sparse.values, expected);
  });

  it('grows past its initial capacity and is cleared by zeroGrad', () => {
    const layer = new Embedding(1000, dim, { seed: 1, sparse: true });
    const rows = randomIndices(700, 1000, 3);
    const gradOutput = randomTable(700, dim, 4);
    layer.backward(rows, gradOutput);
    layer.backward(rows, gradOutput);
    expect(Array.from(layer.sparseGrad!.indices)).toEqual([...rows, ...rows]);
    expectSameBits(layer.sparseGrad!.values.subarray(700 * dim), gradOutput);
    layer.zeroGrad();
    expect(layer.sparseGrad).toBeNull();
  });
});
