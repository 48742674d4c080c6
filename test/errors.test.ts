// Every bad input throws a TypeError or RangeError that names the argument and the value, and
// changes nothing: weight, grad, sparseGrad and out are as they were.
import { describe, expect, it } from 'vitest';

import { Embedding, type EmbeddingOptions } from '../src/index.js';
import { type Thrown, expectSameBits, expectThrow, randomTable } from './helpers.js';

describe('constructor and fromPretrained', () => {
  const cases: [string, () => unknown, Thrown, RegExp][] = [
    ['numEmbeddings not a number', () => new Embedding('10' as never, 3), TypeError, /numEmbeddings must be a number, got a string "10"/],
    ['numEmbeddings zero', () => new Embedding(0, 3), RangeError, /numEmbeddings must be an integer >= 1, got 0/],
    ['numEmbeddings fractional', () => new Embedding(2.5, 3), RangeError, /numEmbeddings .* got 2\.5/],
    ['numEmbeddings NaN', () => new Embedding(NaN, 3), RangeError, /numEmbeddings .* got NaN/],
    ['embeddingDim negative', () => new Embedding(3, -1), RangeError, /embeddingDim must be an integer >= 1, got -1/],
    ['table too large', () => new Embedding(2 ** 20, 2 ** 13), RangeError, /exceeds the largest Float32Array/],
    ['options not an object', () => new Embedding(3, 2, 5 as never), TypeError, /options must be an object, got 5/],
    ['unknown option', () => new Embedding(3, 2, { padding_idx: 1 } as never), TypeError, /unknown option 'padding_idx'/],
    ['paddingIdx too large', () => new Embedding(3, 2, { paddingIdx: 3 }), RangeError, /paddingIdx must be an integer in \[-3, 3\), got 3/],
    ['paddingIdx too negative', () => new Embedding(3, 2, { paddingIdx: -4 }), RangeError, /paddingIdx .* got -4/],
    ['paddingIdx fractional', () => new Embedding(3, 2, { paddingIdx: 0.5 }), RangeError, /paddingIdx .* got 0\.5/],
    ['paddingIdx a string', () => new Embedding(3, 2, { paddingIdx: '1' as never }), TypeError, /paddingIdx must be a number or null/],
    ['maxNorm zero', () => new Embedding(3, 2, { maxNorm: 0 }), RangeError, /maxNorm must be a positive finite number, got 0/],
    ['maxNorm NaN', () => new Embedding(3, 2, { maxNorm: NaN }), RangeError, /maxNorm .* got NaN/],
    ['maxNorm Infinity', () => new Embedding(3, 2, { maxNorm: Infinity }), RangeError, /maxNorm .* got Infinity/],
    ['maxNorm a string', () => new Embedding(3, 2, { maxNorm: '1' as never }), TypeError, /maxNorm must be a number or null/],
    ['normType zero', () => new Embedding(3, 2, { normType: 0 }), RangeError, /normType must be > 0 .* got 0/],
    ['normType NaN', () => new Embedding(3, 2, { normType: NaN }), RangeError, /normType .* got NaN/],
    ['normType a string', () => new Embedding(3, 2, { normType: '2' as never }), TypeError, /normType must be a number/],
    ['sparse not boolean', () => new Embedding(3, 2, { sparse: 1 as never }), TypeError, /sparse must be a boolean, got 1/],
    ['freeze not boolean', () => new Embedding(3, 2, { freeze: 'yes' as never }), TypeError, /freeze must be a boolean/],
    ['scaleGradByFreq not boolean', () => new Embedding(3, 2, { scaleGradByFreq: null as never }), TypeError, /scaleGradByFreq must be a boolean, got null/],
    ['sparse with scaleGradByFreq', () => new Embedding(3, 2, { sparse: true, scaleGradByFreq: true }), RangeError, /sparse and options.scaleGradByFreq/],
    ['weight of the wrong type', () => new Embedding(3, 2, { weight: new Float64Array(6) as never }), TypeError, /weight must be a Float32Array, got a Float64Array\(6\)/],
    ['weight of the wrong length', () => new Embedding(3, 2, { weight: new Float32Array(5) }), RangeError, /weight must have numEmbeddings \* embeddingDim = 6 elements, got 5/],
    ['seed with weight', () => new Embedding(3, 2, { weight: new Float32Array(6), seed: 1 }), TypeError, /seed has no effect/],
    ['seed negative', () => new Embedding(3, 2, { seed: -1 }), RangeError, /seed must be an integer >= 0, got -1/],
    ['fromPretrained not a Float32Array', () => Embedding.fromPretrained([1, 2] as never, 1), TypeError, /weights must be a Float32Array, got an Array\(2\)/],
    ['fromPretrained length not a multiple', () => Embedding.fromPretrained(new Float32Array(7), 2), RangeError, /weights.length = 7 must be a positive multiple of embeddingDim = 2/],
    ['fromPretrained empty', () => Embedding.fromPretrained(new Float32Array(0), 2), RangeError, /weights.length = 0/],
    ['fromPretrained with weight option', () => Embedding.fromPretrained(new Float32Array(4), 2, { weight: new Float32Array(4) } as EmbeddingOptions), TypeError, /unknown option 'weight'/],
  ];
  for (const [name, fn, type, message] of cases) {
    it(name, () => expectThrow(fn, type, message));
  }
});

describe('forward and backward', () => {
  const dim = 3;
  const rows = 5;

  /** Every piece of state a call could change, to compare before and after. */
  function snapshot(layer: Embedding, out: Float32Array) {
    return {
      weight: layer.weight.slice(),
      grad: layer.grad?.slice() ?? null,
      sparseIndices: layer.sparseGrad ? Array.from(layer.sparseGrad.indices) : null,
      sparseValues: layer.sparseGrad?.values.slice() ?? null,
      out: out.slice(),
    };
  }

  function expectUnchanged(layer: Embedding, out: Float32Array, before: ReturnType<typeof snapshot>): void {
    const after = snapshot(layer, out);
    expectSameBits(after.weight, before.weight, 'weight');
    expectSameBits(after.out, before.out, 'out');
    if (before.grad === null) expect(after.grad).toBeNull();
    else expectSameBits(after.grad!, before.grad, 'grad');
    expect(after.sparseIndices).toEqual(before.sparseIndices);
    if (before.sparseValues !== null) expectSameBits(after.sparseValues!, before.sparseValues, 'sparseGrad.values');
  }

  const layerKinds: [string, EmbeddingOptions][] = [
    ['plain', {}],
    ['maxNorm', { maxNorm: 0.5 }],
    ['paddingIdx + scaleGradByFreq', { paddingIdx: 1, scaleGradByFreq: true }],
    ['sparse', { sparse: true }],
    ['frozen', { freeze: true }],
  ];

  const badIndices: [string, unknown, Thrown, RegExp][] = [
    ['an index equal to numEmbeddings (Int32Array)', new Int32Array([1, 5, 2]), RangeError, /indices\[1\] = 5 is out of range \[0, 5\) for numEmbeddings = 5/],
    ['a negative index (Int32Array)', new Int32Array([0, 1, -1]), RangeError, /indices\[2\] = -1 is out of range .*negative/],
    ['a large index (Uint32Array)', new Uint32Array([4294967295]), RangeError, /indices\[0\] = 4294967295 is out of range/],
    ['a large index (BigInt64Array)', new BigInt64Array([0n, 2n ** 40n]), RangeError, /indices\[1\] = 1099511627776 is out of range/],
    ['a negative index (BigInt64Array)', new BigInt64Array([-(2n ** 63n)]), RangeError, /indices\[0\] = -9223372036854775808 is out of range/],
    ['an index out of range (number[])', [0, 1, 2, 7], RangeError, /indices\[3\] = 7 is out of range/],
    ['a negative index (number[])', [-1], RangeError, /indices\[0\] = -1 is out of range/],
    ['a fractional index', [0, 1.5], RangeError, /indices\[1\] = 1\.5 is not an integer/],
    ['a NaN index', [NaN], RangeError, /indices\[0\] = NaN is not an integer/],
    ['an Infinity index', [Infinity], RangeError, /indices\[0\] = Infinity is not an integer/],
    ['a string index', [0, '1'], TypeError, /indices\[1\] must be a number, got a string "1"/],
    ['a bigint in an array', [1n], TypeError, /indices\[0\] must be a number, got 1n/],
    ['a hole in an array', [0, , 1], TypeError, /indices\[1\] must be a number, got undefined/], // eslint-disable-line no-sparse-arrays
    ['a Float64Array', new Float64Array([0]), TypeError, /indices must be an Int32Array, Uint32Array, BigInt64Array or an array of numbers, got a Float64Array\(1\)/],
    ['a BigUint64Array', new BigUint64Array([0n]), TypeError, /got a BigUint64Array\(1\)/],
    ['a string', '012', TypeError, /got a string "012"/],
    ['null', null, TypeError, /got null/],
    ['an array-like object', { length: 1, 0: 0 }, TypeError, /got an object/],
  ];

  for (const [kind, options] of layerKinds) {
    describe(`${kind} layer`, () => {
      function makeLayer(): Embedding {
        const layer = new Embedding(rows, dim, { weight: randomTable(rows, dim, 7), ...options });
        // Some existing gradient, so "unchanged" covers accumulated state too.
        if (!layer.freeze) layer.backward([0, 2], randomTable(2, dim, 8));
        return layer;
      }

      for (const [name, indices, type, message] of badIndices) {
        it(`forward rejects ${name}`, () => {
          const layer = makeLayer();
          const out = new Float32Array(3 * dim).fill(9);
          const before = snapshot(layer, out);
          const length = Array.isArray(indices) || ArrayBuffer.isView(indices) ? (indices as ArrayLike<unknown>).length : 0;
          const target = length * dim === out.length ? out : new Float32Array(length * dim).fill(9);
          expectThrow(() => layer.forward(indices as never, target === out ? out : undefined), type, message);
          expectUnchanged(layer, out, before);
        });

        it(`backward rejects ${name}`, () => {
          const layer = makeLayer();
          const out = new Float32Array(0);
          const before = snapshot(layer, out);
          const length = Array.isArray(indices) || ArrayBuffer.isView(indices) ? (indices as ArrayLike<unknown>).length : 0;
          expectThrow(() => layer.backward(indices as never, new Float32Array(length * dim).fill(1)), type, message);
          expectUnchanged(layer, out, before);
        });
      }

      it('forward rejects an out of the wrong length or type, or one sharing the table', () => {
        const layer = makeLayer();
        const out = new Float32Array(2 * dim).fill(9);
        const before = snapshot(layer, out);
        expectThrow(() => layer.forward([1, 2, 3], out), RangeError, /out must have indices.length \* embeddingDim = 9 elements, got 6/);
        expectThrow(() => layer.forward([1, 2], new Float64Array(6) as never), TypeError, /out must be a Float32Array, got a Float64Array\(6\)/);
        expectThrow(() => layer.forward([1, 2], layer.weight.subarray(3, 9)), RangeError, /out must not share memory with weight/);
        expectUnchanged(layer, out, before);
      });

      it('backward rejects a gradOutput of the wrong length or type', () => {
        const layer = makeLayer();
        const out = new Float32Array(0);
        const before = snapshot(layer, out);
        expectThrow(() => layer.backward([1, 2], new Float32Array(5)), RangeError, /gradOutput must have indices.length \* embeddingDim = 6 elements, got 5/);
        expectThrow(() => layer.backward([1], [1, 2, 3] as never), TypeError, /gradOutput must be a Float32Array, got an Array\(3\)/);
        expectThrow(() => layer.backward([1], undefined as never), TypeError, /gradOutput must be a Float32Array, got undefined/);
        expectUnchanged(layer, out, before);
      });
    });
  }

  it('backward rejects a gradOutput that shares memory with grad', () => {
    const layer = new Embedding(rows, dim, { seed: 1 });
    layer.backward([1], new Float32Array(dim).fill(1));
    const before = snapshot(layer, new Float32Array(0));
    expectThrow(() => layer.backward([0], layer.grad!.subarray(0, dim)), RangeError, /gradOutput must not share memory with grad/);
    expectUnchanged(layer, new Float32Array(0), before);
  });

  it('a failed first backward leaves grad null', () => {
    const layer = new Embedding(rows, dim, { seed: 1 });
    expectThrow(() => layer.backward(new Int32Array([1, 9]), new Float32Array(2 * dim)), RangeError, /indices\[1\] = 9/);
    expect(layer.grad).toBeNull();
  });
});
