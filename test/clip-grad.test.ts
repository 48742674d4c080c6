// Gradient clipping against torch 1.13 (test/fixtures/clip-grad.json, made by
// scripts/generate-clip-fixtures.py): the total norm and the clipped gradients, dense and sparse,
// for p = 2, 1, Infinity, 3 and 0.5; the norm and scaling kernels equal across backends and tiers;
// NaN and infinite gradients; and every refused argument, with nothing changed.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { Embedding, EmbeddingBag, SGD, applyOptimizerInBackward, clipGradNorm_, clipGradValue_ } from '../src/index.js';
import { jsBackend } from '../src/backends/js.js';
import { currentBackend } from '../src/loader.js';
import { expectClose, expectSameBits, expectThrow, randomTable } from './helpers.js';

interface FixtureLayer {
  rows: number;
  dim: number;
  sparse: boolean;
  grad?: number[];
  indices?: number[];
  values?: number[];
}

interface Case {
  name: string;
  kind: 'norm' | 'value';
  maxNorm?: number;
  normType?: number | 'Infinity';
  clipValue?: number;
  layers: FixtureLayer[];
  total?: number;
  clipped: number[][];
}

const fixture = JSON.parse(readFileSync(path.join(__dirname, 'fixtures', 'clip-grad.json'), 'utf8')) as { cases: Case[] };

/** A layer holding exactly the fixture's gradient (a backward over every row once, or the sparse entries). */
function layerWith(spec: FixtureLayer): Embedding {
  const layer = new Embedding(spec.rows, spec.dim, { sparse: spec.sparse, seed: 1 });
  if (spec.sparse) layer.backward(spec.indices!, Float32Array.from(spec.values!));
  else layer.backward(Array.from({ length: spec.rows }, (_, i) => i), Float32Array.from(spec.grad!));
  return layer;
}

function gradientOf(layer: Embedding): Float32Array {
  return layer.sparse ? layer.sparseGrad!.values : layer.grad!;
}

describe('as torch 1.13', () => {
  for (const c of fixture.cases) {
    it(c.name, () => {
      const layers = c.layers.map(layerWith);
      if (c.kind === 'norm') {
        const normType = c.normType === 'Infinity' ? Infinity : c.normType!;
        const total = clipGradNorm_(layers, c.maxNorm!, { normType });
        // torch sums in float32, this package in double: a few float32 ulps apart at most.
        expect(Math.abs(total - c.total!), `total ${total} vs torch ${c.total}`).toBeLessThanOrEqual(2e-6 * c.total!);
        expect(total).toBe(Math.fround(total));
        layers.forEach((layer, i) => expectClose(gradientOf(layer), c.clipped[i]!, 1e-6, 1e-12, `${c.name}: layer ${i}`));
      } else {
        clipGradValue_(layers, c.clipValue!);
        layers.forEach((layer, i) => expectSameBits(gradientOf(layer), Float32Array.from(c.clipped[i]!), `${c.name}: layer ${i}`));
      }
    });
  }
});

describe('semantics', () => {
  it('the coefficient is torch float32 arithmetic: min(1, f(f(1 / f(total + f(1e-6))) * f(maxNorm))), applied as one float32 product', () => {
    const layer = new Embedding(4, 3, { weight: randomTable(4, 3, 2) });
    const grad = randomTable(4, 3, 3);
    layer.backward([0, 1, 2, 3], grad);
    const total = clipGradNorm_(layer, 0.3);
    const f = Math.fround;
    const coefficient = f(f(1 / f(total + f(1e-6))) * f(0.3));
    expectSameBits(layer.grad!, grad.map((g) => f(g * coefficient)));
  });

  it('returns 0 for layers without gradients (frozen, never backpropagated, or updated in backward); Infinity measures without clipping', () => {
    const frozen = new Embedding(3, 2, { freeze: true });
    const fused = new Embedding(3, 2);
    applyOptimizerInBackward(SGD, [fused], { lr: 0.1 });
    fused.backward([1], Float32Array.of(1, 1));
    expect(clipGradNorm_([frozen, fused, new Embedding(3, 2)], 1)).toBe(0);
    const layer = new Embedding(3, 2);
    layer.backward([0], Float32Array.of(3, 4));
    expect(clipGradNorm_(layer, Infinity)).toBe(5);
    expect(Array.from(layer.grad!.subarray(0, 2))).toEqual([3, 4]);
  });

  it('an EmbeddingBag gradient clips like an Embedding one', () => {
    const bag = new EmbeddingBag(5, 2, { mode: 'sum' });
    bag.backward([1, 2, 2], [0], Float32Array.of(3, 4));
    expect(clipGradNorm_(bag, 1)).toBe(Math.fround(Math.sqrt(9 + 16 + 4 * (9 + 16))));
  });

  it('a NaN or infinite gradient: the total is NaN/Infinity and scales as torch, or errorIfNonfinite throws and changes nothing', () => {
    for (const bad of [NaN, Infinity]) {
      const make = () => {
        const layer = new Embedding(3, 2);
        layer.backward([0, 1], Float32Array.of(1, 2, bad, 3));
        return layer;
      };
      const strict = make();
      const before = strict.grad!.slice();
      expectThrow(() => clipGradNorm_(strict, 1, { errorIfNonfinite: true }), RangeError, /the total norm of order 2 of the gradients is (NaN|Infinity), so they cannot be clipped/);
      expectSameBits(strict.grad!, before);
      const loose = make();
      const total = clipGradNorm_(loose, 1);
      expect(total).toBe(bad);
      // torch: coefficient 1 / inf = 0 (0 * finite = 0, 0 * inf = NaN), or NaN throughout.
      if (Number.isNaN(bad)) expect(Array.from(loose.grad!.subarray(0, 4)).every(Number.isNaN)).toBe(true);
      else expect(Array.from(loose.grad!.subarray(0, 4))).toEqual([0, 0, NaN, 0]);
    }
    const inf = new Embedding(3, 2);
    inf.backward([0], Float32Array.of(NaN, 1));
    expect(clipGradNorm_(inf, 1, { normType: Infinity })).toBeNaN(); // abs().max() propagates NaN
  });

  it('clipGradValue_ clamps to [-c, c], keeping NaN; a sparse gradient is refused (torch cannot clamp one either)', () => {
    const layer = new Embedding(2, 3);
    layer.backward([0, 1], Float32Array.of(-5, 0.1, NaN, 5, -0.2, 0.3));
    clipGradValue_(layer, 0.25);
    expect(Array.from(layer.grad!)).toEqual([-0.25, Math.fround(0.1), NaN, 0.25, Math.fround(-0.2), 0.25]);
    const sparse = new Embedding(2, 3, { sparse: true });
    sparse.backward([1], Float32Array.of(1, 2, 3));
    expectThrow(() => clipGradValue_([layer, sparse], 1), TypeError, /layers\[1\] has a sparse gradient/);
    expect(Array.from(sparse.sparseGrad!.values)).toEqual([1, 2, 3]);
    expect(layer.grad![0]).toBe(-0.25);
  });
});

describe('kernels', () => {
  it("norm, scaleValues and clampValues give the TypeScript backend's bits, for lengths around the lane and vector widths", () => {
    const backend = currentBackend();
    for (const n of [0, 1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 1000, 100_003]) {
      const values = randomTable(1, n, n + 5);
      for (const p of [1, 2, Infinity, 3, 0.5]) {
        const [a, b] = [new Float64Array(1), new Float64Array(1)];
        backend.norm(values, p, a);
        jsBackend.norm(values, p, b);
        if (p === 3 || p === 0.5) expect(a[0]).toBeCloseTo(b[0]!, 10); // pow(): C's libm and V8's may differ in the last bit
        else expect(a[0], `n ${n}, p ${p}`).toBe(b[0]);
      }
      const [x, y] = [values.slice(), values.slice()];
      backend.scaleValues(x, 0.3);
      jsBackend.scaleValues(y, 0.3);
      expectSameBits(x, y, `scale, n ${n}`);
      backend.clampValues(x, -0.1, 0.05);
      jsBackend.clampValues(y, -0.1, 0.05);
      expectSameBits(x, y, `clamp, n ${n}`);
    }
  });
});

describe('errors', () => {
  it('arguments are checked before any gradient changes', () => {
    const layer = new Embedding(3, 2);
    layer.backward([0], Float32Array.of(3, 4));
    const before = layer.grad!.slice();
    expectThrow(() => clipGradNorm_([] as never, 1), TypeError, /clipGradNorm_: layers must be a layer or a non-empty array of layers, got an empty array/);
    expectThrow(() => clipGradNorm_([layer, {}] as never, 1), TypeError, /clipGradNorm_: layers\[1\] must be an Embedding or EmbeddingBag, got/);
    expectThrow(() => clipGradNorm_([layer, layer], 1), RangeError, /layers\[1\] appears more than once/);
    expectThrow(() => clipGradNorm_(layer, '1' as never), TypeError, /maxNorm must be a number, got a string "1"/);
    expectThrow(() => clipGradNorm_(layer, -1), RangeError, /maxNorm must be a non-negative number \(or Infinity\), got -1/);
    expectThrow(() => clipGradNorm_(layer, 1, { normType: 0 }), RangeError, /options\.normType must be a number > 0 or Infinity, got 0/);
    expectThrow(() => clipGradNorm_(layer, 1, { normType: NaN }), RangeError, /got NaN/);
    expectThrow(() => clipGradNorm_(layer, 1, { errorIfNonfinite: 1 } as never), TypeError, /options\.errorIfNonfinite must be a boolean/);
    expectThrow(() => clipGradNorm_(layer, 1, { norm: 2 } as never), TypeError, /norm/);
    expectThrow(() => clipGradValue_(layer, -1), RangeError, /clipGradValue_: clipValue must be a non-negative number, got -1/);
    expectThrow(() => clipGradValue_(layer, NaN), RangeError, /got NaN/);
    expectSameBits(layer.grad!, before);
  });

  it('not during an async backward of the layer', async () => {
    const layer = new Embedding(100, 8);
    layer.backward([1], new Float32Array(8).fill(1));
    const pending = layer.backwardAsync([2], new Float32Array(8).fill(1));
    expect(() => clipGradNorm_(layer, 1)).toThrow(/backwardAsync|in use|unfinished/);
    await pending;
    expect(clipGradNorm_(layer, Infinity)).toBe(Math.fround(Math.sqrt(16)));
  });
});
