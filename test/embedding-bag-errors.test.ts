// EmbeddingBag's bad inputs: a TypeError or RangeError naming the argument, value and position,
// and nothing changed (weight, grad, sparseGrad, out).
import { describe, expect, it } from 'vitest';

import { EmbeddingBag, type EmbeddingBagOptions } from '../src/index.js';
import { type Thrown, expectSameBits, expectThrow, randomTable } from './helpers.js';

describe('EmbeddingBag constructor', () => {
  const cases: [string, () => unknown, Thrown, RegExp][] = [
    ['unknown mode', () => new EmbeddingBag(3, 2, { mode: 'median' as never }), RangeError, /mode must be 'sum', 'mean' or 'max', got a string "median"/],
    ['mode not a string', () => new EmbeddingBag(3, 2, { mode: 1 as never }), TypeError, /mode must be .* got 1/],
    ['max with sparse', () => new EmbeddingBag(3, 2, { mode: 'max', sparse: true }), RangeError, /mode 'max' does not support options.sparse/],
    ['max with scaleGradByFreq', () => new EmbeddingBag(3, 2, { mode: 'max', scaleGradByFreq: true }), RangeError, /mode 'max' does not support options.scaleGradByFreq/],
    ['includeLastOffset not boolean', () => new EmbeddingBag(3, 2, { includeLastOffset: 1 as never }), TypeError, /includeLastOffset must be a boolean/],
    ['unknown option', () => new EmbeddingBag(3, 2, { include_last_offset: true } as never), TypeError, /unknown option 'include_last_offset'/],
    ['shared option checks', () => new EmbeddingBag(3, 2, { paddingIdx: 3 }), RangeError, /paddingIdx must be an integer in \[-3, 3\)/],
    ['fromPretrained length', () => EmbeddingBag.fromPretrained(new Float32Array(5), 2), RangeError, /weights.length = 5/],
  ];
  for (const [name, fn, type, message] of cases) it(name, () => expectThrow(fn, type, message));
});

describe('EmbeddingBag forward and backward', () => {
  const dim = 2;
  const layers: [string, EmbeddingBagOptions][] = [
    ['sum', { mode: 'sum' }],
    ['mean + maxNorm', { mode: 'mean', maxNorm: 0.5 }],
    ['max + includeLastOffset', { mode: 'max', includeLastOffset: true }],
    ['sum + sparse + padding', { mode: 'sum', sparse: true, paddingIdx: 1 }],
    ['mean + scaleGradByFreq', { mode: 'mean', scaleGradByFreq: true }],
  ];

  function makeLayer(options: EmbeddingBagOptions): EmbeddingBag {
    const layer = new EmbeddingBag(5, dim, { weight: randomTable(5, dim, 3), ...options });
    const offsets = options.includeLastOffset ? [0, 1, 2] : [0, 1];
    layer.backward([0, 2], offsets, randomTable(2, dim, 4));
    return layer;
  }

  function state(layer: EmbeddingBag) {
    return {
      weight: layer.weight.slice(),
      grad: layer.grad?.slice() ?? null,
      sparse: layer.sparseGrad ? [Array.from(layer.sparseGrad.indices), layer.sparseGrad.values.slice()] : null,
    };
  }

  function expectSame(before: ReturnType<typeof state>, after: ReturnType<typeof state>) {
    expectSameBits(after.weight, before.weight, 'weight');
    if (before.grad === null) expect(after.grad).toBeNull();
    else expectSameBits(after.grad!, before.grad, 'grad');
    expect(after.sparse?.[0] ?? null).toEqual(before.sparse?.[0] ?? null);
  }

  for (const [name, options] of layers) {
    const last = (n: number) => (options.includeLastOffset ? [n] : []);
    const cases: [string, unknown, unknown, Thrown, RegExp][] = [
      ['an index out of range', [0, 9], [0, ...last(2)], RangeError, /indices\[1\] = 9 is out of range \[0, 5\)/],
      ['a negative index', new Int32Array([-2]), [0, ...last(1)], RangeError, /indices\[0\] = -2 is out of range/],
      ['offsets[0] not 0', [0, 1], [1, ...last(2)], RangeError, /offsets\[0\] = 1 must be 0/],
      ['decreasing offsets', [0, 1, 2], [0, 2, 1, ...last(3)], RangeError, /offsets\[2\] = 1 is less than offsets\[1\] = 2/],
      ['an offset beyond indices', [0, 1], [0, 3, ...last(2)], RangeError, /offsets\[1\] = 3 exceeds indices.length = 2/],
      ['a negative offset (Int32Array)', [0, 1], new Int32Array([0, -1]), RangeError, /offsets\[1\] = -1 is negative/],
      ['a huge BigInt64Array offset', [0, 1], new BigInt64Array([0n, 2n ** 40n]), RangeError, /offsets\[1\] = 1099511627776 exceeds indices.length = 2/],
      ['a fractional offset', [0, 1], [0, 0.5], RangeError, /offsets\[1\] = 0.5 is not an integer/],
      ['a string offset', [0, 1], [0, '1'], TypeError, /offsets\[1\] must be a number, got a string "1"/],
      ['offsets of the wrong type', [0, 1], new Float32Array([0]), TypeError, /offsets must be .* got a Float32Array\(1\)/],
      ['a bag length that does not divide', [0, 1, 2], 2, RangeError, /indices.length = 3 is not a multiple of the bag length 2/],
      ['a bag length of 0', [0, 1], 0, RangeError, /offsets \(a bag length\) must be an integer >= 1, got 0/],
      ['empty offsets with indices', [0, 1], [], RangeError, options.includeLastOffset ? /at least one entry with includeLastOffset/ : /offsets is empty \(no bags\) but indices has 2 entries/],
    ];
    if (options.includeLastOffset) {
      cases.push(['a last offset short of indices.length', [0, 1, 2], [0, 1, 2], RangeError, /offsets\[2\] = 2 must equal indices.length = 3 with includeLastOffset/]);
    }

    describe(`${name} layer`, () => {
      for (const [what, indices, offsets, type, message] of cases) {
        it(`forward rejects ${what}`, () => {
          const layer = makeLayer(options);
          const before = state(layer);
          expectThrow(() => layer.forward(indices as never, offsets as never), type, message);
          expectSame(before, state(layer));
        });
        it(`backward rejects ${what}`, () => {
          const layer = makeLayer(options);
          const before = state(layer);
          const length = (indices as ArrayLike<unknown>).length;
          const numBags =
            typeof offsets === 'number'
              ? Math.floor(length / Math.max(offsets, 1))
              : Math.max(0, (offsets as ArrayLike<unknown>).length - (options.includeLastOffset ? 1 : 0));
          expectThrow(() => layer.backward(indices as never, offsets as never, new Float32Array(numBags * dim)), type, message);
          expectSame(before, state(layer));
        });
      }

      it('rejects a wrong out, gradOutput or perSampleWeights', () => {
        const layer = makeLayer(options);
        const before = state(layer);
        const offsets = [0, ...last(2)];
        const out = new Float32Array(dim * 2).fill(7);
        expectThrow(() => layer.forward([0, 1], offsets, null, out), RangeError, /out must have numBags \* embeddingDim = 2 elements, got 4/);
        expectThrow(() => layer.forward([0, 1], offsets, null, layer.weight.subarray(0, 2)), RangeError, /out must not share memory with weight/);
        expectThrow(() => layer.backward([0, 1], offsets, new Float32Array(3)), RangeError, /gradOutput must have numBags \* embeddingDim = 2 elements, got 3/);
        expectThrow(() => layer.forward([0, 1], offsets, new Float32Array(3)), RangeError, /perSampleWeights must have indices.length = 2 elements, got 3/);
        expectThrow(() => layer.forward([0, 1], offsets, [1, 1] as never), TypeError, /perSampleWeights must be a Float32Array, got an Array\(2\)/);
        if (options.mode !== 'sum') {
          expectThrow(() => layer.forward([0, 1], offsets, new Float32Array(2)), RangeError, /perSampleWeights is only supported with mode 'sum'/);
          expectThrow(() => layer.backward([0, 1], offsets, new Float32Array(2), new Float32Array(2)), RangeError, /only supported with mode 'sum'/);
        }
        expect(Array.from(out)).toEqual([7, 7, 7, 7]);
        expectSame(before, state(layer));
      });
    });
  }
});
