// Property-based parity: the native backend (at this process's SIMD tier) against the TypeScript
// backend, on random tables, batches, index types and options. Everything must agree to the bit,
// except renorm with a general p, whose norm goes through pow(), which C's libm and V8 may
// round differently in the last place.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import type { Backend } from '../src/backend.js';
import { jsBackend } from '../src/backends/js.js';
import { Embedding, EmbeddingBag, type EmbeddingBagOptions, type EmbeddingOptions, getBackend } from '../src/index.js';
import { currentBackend, withBackend } from '../src/loader.js';
import { INDEX_KINDS, asIndexArray, expectClose, expectSameBits, expectSameBitsOrMissing, randomTable, rng } from './helpers.js';

const DIMS = [1, 3, 7, 8, 9, 15, 16, 17, 63, 64, 65, 300];
const NORM_TYPES = [1, 2, Infinity, 3, 0.5];

const caseArbitrary = fc
  .record({
    rows: fc.integer({ min: 1, max: 60 }),
    dim: fc.constantFrom(...DIMS),
    kind: fc.constantFrom(...INDEX_KINDS),
    batches: fc.array(fc.array(fc.nat(), { maxLength: 80 }), { minLength: 1, maxLength: 3 }),
    useOut: fc.boolean(),
    paddingIdx: fc.option(fc.integer(), { nil: undefined }),
    maxNorm: fc.option(fc.double({ min: 0.1, max: 10, noNaN: true }), { nil: undefined }),
    normType: fc.constantFrom(...NORM_TYPES),
    gradMode: fc.constantFrom('dense', 'scaleGradByFreq', 'sparse', 'frozen'),
    seed: fc.nat(),
  })
  .map((c) => ({
    ...c,
    // Indices in range, drawn from few distinct values so duplicates are common.
    batches: c.batches.map((batch) => batch.map((v) => v % Math.min(c.rows, 1 + (c.seed % 7) * 5))),
    paddingIdx: c.paddingIdx === undefined ? undefined : (c.paddingIdx % c.rows),
  }));

type Case = typeof caseArbitrary extends fc.Arbitrary<infer T> ? T : never;

function run(backend: Backend, c: Case) {
  const options: EmbeddingOptions = {
    weight: randomTable(c.rows, c.dim, c.seed),
    paddingIdx: c.paddingIdx ?? null,
    maxNorm: c.maxNorm ?? null,
    normType: c.normType,
    scaleGradByFreq: c.gradMode === 'scaleGradByFreq',
    sparse: c.gradMode === 'sparse',
    freeze: c.gradMode === 'frozen',
  };
  const layer = withBackend(backend, () => new Embedding(c.rows, c.dim, options));
  const outputs = c.batches.map((batch, step) => {
    const indices = asIndexArray(batch, c.kind);
    const out = c.useOut ? new Float32Array(batch.length * c.dim) : undefined;
    const output = layer.forward(indices, out);
    layer.backward(indices, randomTable(batch.length, c.dim, c.seed + step + 1));
    return output;
  });
  return { layer, outputs };
}

const bagCaseArbitrary = fc
  .record({
    rows: fc.integer({ min: 1, max: 40 }),
    dim: fc.constantFrom(...DIMS),
    kind: fc.constantFrom(...INDEX_KINDS),
    mode: fc.constantFrom('sum', 'mean', 'max') as fc.Arbitrary<'sum' | 'mean' | 'max'>,
    steps: fc.array(fc.record({ count: fc.nat({ max: 60 }), bags: fc.nat({ max: 12 }), fixed: fc.boolean() }), { minLength: 1, maxLength: 2 }),
    includeLastOffset: fc.boolean(),
    weighted: fc.boolean(),
    padding: fc.boolean(),
    maxNorm: fc.boolean(),
    normType: fc.constantFrom(1, 2, Infinity),
    gradMode: fc.constantFrom('dense', 'scaleGradByFreq', 'sparse', 'frozen'),
    seed: fc.nat(),
  })
  .map((c) => ({
    ...c,
    weighted: c.weighted && c.mode === 'sum',
    gradMode: c.mode === 'max' && (c.gradMode === 'sparse' || c.gradMode === 'scaleGradByFreq') ? 'dense' : c.gradMode,
  }));

type BagCase = typeof bagCaseArbitrary extends fc.Arbitrary<infer T> ? T : never;

function runBag(backend: Backend, c: BagCase) {
  const options: EmbeddingBagOptions = {
    weight: randomTable(c.rows, c.dim, c.seed),
    mode: c.mode,
    includeLastOffset: c.includeLastOffset,
    paddingIdx: c.padding ? c.seed % c.rows : null,
    maxNorm: c.maxNorm ? 1.5 : null,
    normType: c.normType,
    scaleGradByFreq: c.gradMode === 'scaleGradByFreq',
    sparse: c.gradMode === 'sparse',
    freeze: c.gradMode === 'frozen',
  };
  const layer = withBackend(backend, () => new EmbeddingBag(c.rows, c.dim, options));
  const results = c.steps.map((step, k) => {
    const next = rng(c.seed + k);
    const distinct = 1 + (c.seed % 6) * 4;
    const indices = Array.from({ length: step.count }, () => Math.floor(next() * Math.min(distinct, c.rows)));
    let offsets: number[] | number;
    if (step.fixed && step.count > 0) {
      offsets = [1, 2, 3, 4, 5].filter((length) => step.count % length === 0).pop()!;
    } else {
      offsets = Array.from({ length: Math.max(step.bags, step.count > 0 ? 1 : 0) }, () => Math.floor(next() * (step.count + 1))).sort((a, b) => a - b);
      if (offsets.length > 0) offsets[0] = 0;
      if (c.includeLastOffset) offsets.push(step.count);
    }
    const numBags = typeof offsets === 'number' ? step.count / offsets : offsets.length - (c.includeLastOffset ? 1 : 0);
    const typedOffsets = typeof offsets === 'number' ? offsets : asIndexArray(offsets, c.kind);
    const weights = c.weighted ? randomTable(step.count, 1, c.seed + 7 + k) : null;
    const typedIndices = asIndexArray(indices, c.kind);
    const output = layer.forward(typedIndices, typedOffsets, weights);
    const weightsGrad = layer.backward(typedIndices, typedOffsets, randomTable(numBags, c.dim, c.seed + 9 + k), weights);
    return { output, weightsGrad };
  });
  return { layer, results };
}

type Compare = (actual: Float32Array | null | undefined, expected: Float32Array | null | undefined, what: string) => void;

/** The state two layers (Embedding or EmbeddingBag) reached: table, dense and sparse gradients. */
function expectSameLayerState(a: Embedding | EmbeddingBag, b: Embedding | EmbeddingBag, same: Compare) {
  same(a.weight, b.weight, 'weight');
  same(a.grad, b.grad, 'grad');
  expect(a.sparseGrad?.indices ?? null).toEqual(b.sparseGrad?.indices ?? null);
  same(a.sparseGrad?.values, b.sparseGrad?.values, 'sparseGrad.values');
}

describe.runIf(getBackend() === 'native')('native and TypeScript backends agree', () => {
  it('on random tables, batches and options', () => {
    const native = currentBackend();
    fc.assert(
      fc.property(caseArbitrary, (c) => {
        const a = run(native, c);
        const b = run(jsBackend, c);
        const exact = c.maxNorm === undefined || [1, 2, Infinity].includes(c.normType);
        const same: Compare = (x, y, what) => {
          if (exact || y === null || y === undefined) expectSameBitsOrMissing(x, y, what);
          else expectClose(x, y, 1e-6, 1e-7, what);
        };
        a.outputs.forEach((output, step) => same(output, b.outputs[step], `output ${step}`));
        expectSameLayerState(a.layer, b.layer, same);
      }),
      { numRuns: 300, seed: 20261128 },
    );
  });

  it('on the kernels directly, with every index type and large dimensions', () => {
    const native = currentBackend();
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 40 }),
        fc.constantFrom(...DIMS),
        fc.array(fc.nat({ max: 1000 }), { maxLength: 200 }),
        fc.constantFrom(...INDEX_KINDS.filter((k) => k !== 'Array')),
        fc.boolean(),
        fc.nat(),
        (rows, dim, raw, kind, scaled, seed) => {
          const indices = asIndexArray(raw.map((v) => v % rows), kind) as Int32Array;
          const weight = randomTable(rows, dim, seed);
          const outA = new Float32Array(raw.length * dim);
          const outB = new Float32Array(raw.length * dim);
          expect(native.gather(weight, dim, indices, outA)).toBe(-1);
          expect(jsBackend.gather(weight, dim, indices, outB)).toBe(-1);
          expectSameBits(outA, outB, 'gather');
          const gradOutput = randomTable(raw.length, dim, seed + 1);
          const scale = scaled ? randomTable(raw.length, 1, seed + 2) : null;
          const gradA = randomTable(rows, dim, seed + 3);
          const gradB = gradA.slice();
          const skip = seed % (rows + 1) - 1;
          expect(native.scatterAdd(gradA, dim, indices, gradOutput, scale, skip)).toBe(-1);
          expect(jsBackend.scatterAdd(gradB, dim, indices, gradOutput, scale, skip)).toBe(-1);
          expectSameBits(gradA, gradB, 'scatterAdd');
        },
      ),
      { numRuns: 300, seed: 1128 },
    );
  });

  it('EmbeddingBag, on random tables, bags, modes and options', () => {
    const native = currentBackend();
    fc.assert(
      fc.property(bagCaseArbitrary, (c) => {
        const a = runBag(native, c);
        const b = runBag(jsBackend, c);
        a.results.forEach((step, k) => {
          expectSameBits(step.output, b.results[k]!.output, `output ${k}`);
          expectSameBitsOrMissing(step.weightsGrad, b.results[k]!.weightsGrad, `perSampleWeights grad ${k}`);
        });
        expectSameLayerState(a.layer, b.layer, expectSameBitsOrMissing);
      }),
      { numRuns: 300, seed: 3003 },
    );
  });

  it('optimizer kernels and row coalescing, every rule, dense and sparse', () => {
    const native = currentBackend();
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.constantFrom(...DIMS),
        fc.integer({ min: 0, max: 4 }),
        fc.record({ wd: fc.boolean(), momentum: fc.boolean(), nesterov: fc.boolean(), first: fc.boolean(), amsgrad: fc.boolean(), decay: fc.boolean() }),
        fc.option(fc.array(fc.nat({ max: 1000 }), { maxLength: 40 }), { nil: null }),
        fc.nat(),
        (rows, dim, rule, flags, rawRows, seed) => {
          const scalars = Float64Array.of(
            rule, rule === 4 ? 0.05 : -0.05, 0.9, 0.999, 0.7, 0.1, 0.001, 1e-8,
            flags.wd ? 0.01 : 0, flags.decay && rule === 2 ? 0.999 : 1, flags.first ? 1 : 0, flags.nesterov ? 1 : 0,
          );
          const next = rng(seed);
          // Sparse: distinct rows (as coalescing gives them) and one gradient row each.
          const touched = rawRows === null ? null : Uint32Array.from(new Set(rawRows.map((r) => r % rows)));
          const gradRows = touched === null ? rows : touched.length;
          const perRow = rule === 4;
          const stateSize = perRow ? rows : rows * dim;
          const make = () => {
            const positive = (n: number, s: number) => randomTable(n, 1, s).map(Math.abs);
            return {
              weight: randomTable(rows, dim, seed),
              s0: rule === 0 && !flags.momentum ? null : positive(stateSize, seed + 1),
              s1: rule === 2 || rule === 3 ? positive(stateSize, seed + 2) : null,
              s2: rule === 2 && flags.amsgrad ? positive(stateSize, seed + 3) : null,
            };
          };
          const grad = randomTable(gradRows, dim, seed + 4);
          const a = make();
          const b = make();
          expect(native.optimizerUpdate(scalars, a.weight, grad, a.s0, a.s1, a.s2, touched, dim)).toBe(-1);
          expect(jsBackend.optimizerUpdate(scalars, b.weight, grad, b.s0, b.s1, b.s2, touched, dim)).toBe(-1);
          expectSameBits(a.weight, b.weight, `weight (rule ${rule})`);
          for (const k of ['s0', 's1', 's2'] as const) expectSameBitsOrMissing(a[k], b[k], `${k} (rule ${rule})`);
          // Coalescing the entries of a batch, by entry or by bag, with and without a scale.
          const count = Math.floor(next() * 40);
          const indices = Int32Array.from({ length: count }, () => Math.floor(next() * rows));
          const scale = next() < 0.5 ? null : randomTable(count, 1, seed + 5);
          const byBag = next() < 0.5 && count > 0;
          const offsets = byBag ? Uint32Array.from([0, Math.floor(count / 3), Math.floor(count / 2)]) : null;
          const source = randomTable(byBag ? 3 : count, dim, seed + 6);
          const run = (backend: typeof native) => {
            const slots = new Int32Array(rows).fill(-1);
            const outRows = new Uint32Array(count);
            const outValues = new Float32Array(count * dim);
            const n = backend.coalesce(indices, dim, source, offsets, 3, scale, seed % 3 === 0 ? 0 : -1, slots, outRows, outValues);
            return { n, outRows, outValues, slots };
          };
          const x = run(native);
          const y = run(jsBackend);
          expect(x.n).toBe(y.n);
          expect(Array.from(x.outRows)).toEqual(Array.from(y.outRows));
          expectSameBits(x.outValues, y.outValues, 'coalesced values');
          expect(x.slots.every((v) => v === -1)).toBe(true);
        },
      ),
      { numRuns: 400, seed: 77 },
    );
  });

  it('report the same first invalid index', () => {
    const native = currentBackend();
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -3, max: 40 }), { maxLength: 600 }), fc.integer({ min: 0, max: 40 }), (raw, rows) => {
        for (const kind of ['Int32Array', 'BigInt64Array'] as const) {
          const indices = asIndexArray(raw, kind) as Int32Array;
          expect(native.firstInvalidIndex(indices, rows)).toBe(jsBackend.firstInvalidIndex(indices, rows));
        }
      }),
      { numRuns: 300, seed: 7 },
    );
  });
});
