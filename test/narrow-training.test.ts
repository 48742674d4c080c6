// Training float16 and bfloat16 tables, on the backend this process was started for: a step is the
// float32 step on the touched rows widened, rounded back. Each test runs the same step on a float32
// twin (a layer whose weight is the narrow table widened) and checks that the narrow table then
// holds quantize() of the twin's rows (nearest even), or the stochastic rounding that
// src/rounding.ts spells out, computed here from the twin's float32 rows; the optimizer states
// equal the twin's. The same file runs on the TypeScript backend and every SIMD tier, so all of
// them agree to the bit.
import { afterAll, describe, expect, it } from 'vitest';

import {
  Adagrad, Adam, Embedding, EmbeddingBag, type Optimizer, RowWiseAdagrad, SGD, SparseAdam, applyOptimizerInBackward,
  getNumThreads, setNumThreads,
} from '../src/index.js';
import { dequantize, floatBitsToFloat16Bits, quantize } from '../src/dtype.js';
import { roundingBits, roundingKey, rowRoundingKey, stochasticBfloat16Bits, stochasticFloat16Bits } from '../src/rounding.js';
import { expectSameBits, randomIndices, randomTable, rejection, rng } from './helpers.js';

type Half = 'float16' | 'bfloat16';
const HALVES: readonly Half[] = ['float16', 'bfloat16'];
const DIMS = [1, 3, 8, 17, 64, 130];

type Layer = Embedding | EmbeddingBag;
type Stateful = Optimizer & { stateDict(): { tables: { buffers: Record<string, Float32Array> }[] } };
interface Rule {
  name: string;
  make(params: Layer[], extra?: object): Stateful;
  fused(params: Layer[], extra?: object): Stateful;
}
const RULES: Rule[] = [
  { name: 'SGD', make: (p, e) => new SGD(p, { lr: 0.5, ...e }), fused: (p, e) => applyOptimizerInBackward(SGD, p, { lr: 0.5, ...e }) },
  { name: 'Adagrad', make: (p, e) => new Adagrad(p, { lr: 0.3, lrDecay: 0.01, ...e }), fused: (p, e) => applyOptimizerInBackward(Adagrad, p, { lr: 0.3, ...e }) },
  { name: 'SparseAdam', make: (p, e) => new SparseAdam(p, { lr: 0.1, ...e }), fused: (p, e) => applyOptimizerInBackward(SparseAdam, p, { lr: 0.1, ...e }) },
  {
    name: 'RowWiseAdagrad',
    make: (p, e) => new RowWiseAdagrad(p, { lr: 0.2, weightDecay: 0.01, ...e }),
    fused: (p, e) => applyOptimizerInBackward(RowWiseAdagrad, p, { lr: 0.2, weightDecay: 0.01, ...e }),
  },
];

const threadsBefore = getNumThreads();
afterAll(() => setNumThreads(threadsBefore));

function bitsOf(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

/** What a narrow table holds after rounding the float32 rows `values` (those of `rows`) with `key` (null: nearest even). */
function rounded(values: Float32Array, dim: number, dtype: Half, key: number | null, touched: Set<number>, before: Uint16Array): Uint16Array {
  if (key === null) {
    const all = quantize(values, dim, dtype);
    for (let r = 0; r < all.length / dim; r++) if (!touched.has(r)) all.set(before.subarray(r * dim, r * dim + dim), r * dim);
    return all;
  }
  const bits = bitsOf(values);
  const out = before.slice();
  const narrow = dtype === 'float16' ? stochasticFloat16Bits : stochasticBfloat16Bits;
  for (const row of touched) {
    const rowKey = rowRoundingKey(key, row);
    for (let j = 0; j < dim; j++) out[row * dim + j] = narrow(bits[row * dim + j]!, roundingBits(rowKey, j));
  }
  return out;
}

function expectSameHalves(actual: Uint16Array, expected: Uint16Array, what: string): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) expect.fail(`${what}[${i}]: got 0x${actual[i]!.toString(16)}, expected 0x${expected[i]!.toString(16)}`);
  }
}

interface Twin {
  narrow: Layer;
  twin: Layer;
  narrowOpt: Stateful;
  twinOpt: Stateful;
}

/** A narrow sparse layer and its float32 twin, each with the rule (fused: applied in backward). */
function twins(kind: 'Embedding' | 'EmbeddingBag', dtype: Half, rows: number, dim: number, rule: Rule, fused: boolean, extra?: object): Twin {
  const data = quantize(randomTable(rows, dim, rows + dim), dim, dtype);
  const options = { dtype, freeze: false, sparse: !fused, paddingIdx: 2 };
  const narrow = kind === 'Embedding'
    ? Embedding.fromPretrained(data, dim, options)
    : EmbeddingBag.fromPretrained(data, dim, { ...options, mode: 'mean' });
  const weight = dequantize(data, dim, dtype);
  const twin = kind === 'Embedding'
    ? new Embedding(rows, dim, { weight, sparse: !fused, paddingIdx: 2 })
    : new EmbeddingBag(rows, dim, { weight, sparse: !fused, paddingIdx: 2, mode: 'mean' });
  const make = fused ? rule.fused : rule.make;
  const floatExtra = extra === undefined ? undefined : {}; // stochastic rounding applies to the narrow table only
  return { narrow, twin, narrowOpt: make([narrow], extra), twinOpt: make([twin], floatExtra) };
}

/** One training step of both layers on the same entries; returns the rows touched. */
function stepBoth(t: Twin, kind: 'Embedding' | 'EmbeddingBag', rows: number, dim: number, seed: number, fused: boolean): Set<number> {
  const indices = randomIndices(3 * rows, rows, seed); // duplicates, and the padding row
  const next = rng(seed + 7);
  if (kind === 'Embedding') {
    const gradOut = Float32Array.from({ length: indices.length * dim }, () => (next() - 0.5) * 3);
    (t.narrow as Embedding).backward(indices, gradOut);
    (t.twin as Embedding).backward(indices, gradOut);
  } else {
    const gradOut = Float32Array.from({ length: 3 * dim }, () => (next() - 0.5) * 3);
    (t.narrow as EmbeddingBag).backward(indices, [0, 2, rows], gradOut);
    (t.twin as EmbeddingBag).backward(indices, [0, 2, rows], gradOut);
  }
  if (!fused) {
    t.narrowOpt.step();
    t.twinOpt.step();
    t.narrowOpt.zeroGrad();
    t.twinOpt.zeroGrad();
  }
  return new Set(indices.filter((row) => row !== 2));
}

function expectSameStates(t: Twin): void {
  const a = t.narrowOpt.stateDict().tables[0]!.buffers;
  const b = t.twinOpt.stateDict().tables[0]!.buffers;
  expect(Object.keys(a).sort()).toEqual(Object.keys(b).sort());
  for (const name of Object.keys(b)) expectSameBits(a[name], b[name]!, `state ${name}`);
}

describe.each(HALVES)('a %s table', (dtype) => {
  for (const kind of ['Embedding', 'EmbeddingBag'] as const) {
    for (const fused of [false, true]) {
      describe(`${kind}, ${fused ? 'applied in backward' : 'sparse: true and step()'}`, () => {
        it.each(RULES.flatMap((rule) => DIMS.map((dim) => [rule.name, dim] as const)))(
          '%s at dim %i: the float32 step of the widened rows, rounded to nearest even; states as float32',
          (name, dim) => {
            const rule = RULES.find((r) => r.name === name)!;
            const rows = 11;
            const t = twins(kind, dtype, rows, dim, rule, fused);
            for (let s = 0; s < 3; s++) {
              const before = (t.narrow.data as Uint16Array).slice();
              const touched = stepBoth(t, kind, rows, dim, 100 * s + dim, fused);
              const expected = rounded(t.twin.weight, dim, dtype, null, touched, before);
              expectSameHalves(t.narrow.data as Uint16Array, expected, `step ${s} data`);
              expectSameStates(t);
              // The twin goes on from the rounded rows, as the narrow table does.
              t.twin.weight.set(dequantize(t.narrow.data as Uint16Array, dim, dtype));
            }
          },
        );

        it('stochastic rounding: the float32 step rounded with the bits of (seed, step, row, column)', () => {
          for (const rule of RULES) {
            const dim = 17;
            const rows = 11;
            const seed = 1234;
            const t = twins(kind, dtype, rows, dim, rule, fused, { stochasticRounding: true, seed });
            for (let s = 0; s < 3; s++) {
              const before = (t.narrow.data as Uint16Array).slice();
              const touched = stepBoth(t, kind, rows, dim, 100 * s + 5, fused);
              const expected = rounded(t.twin.weight, dim, dtype, roundingKey(seed, s), touched, before);
              expectSameHalves(t.narrow.data as Uint16Array, expected, `${rule.name} step ${s} data`);
              t.twin.weight.set(dequantize(t.narrow.data as Uint16Array, dim, dtype));
            }
          }
        });
      });
    }
  }

  it('special float32 results (NaNs, infinities, overflow, subnormals, ties) round as quantize() rounds them, through a real step', () => {
    // SGD with lr 1 on a zero table: each weight becomes 0 + (-1 * g) = -g, any float32 value.
    const special = [
      0x7fc00000, 0xffc00000, 0x7f800001, 0xff812345, 0x7fbfffff, // NaNs, quiet and signalling, both signs
      0x7f800000, 0xff800000, 0x7f7fffff, 0xff7fffff, // infinities, the largest floats
      0x477fe000, 0x477fefff, 0x477ff000, 0x477ff001, 0xc77ff000, 0x47800000, // 65504, around 65520 (the overflow tie), 65536
      0x38800000, 0x387fffff, 0x33800000, 0x33000000, 0x33000001, 0x32ffffff, 0x33c00000, // float16 normal/subnormal edges, ties
      0x00000001, 0x80000001, 0x007fffff, 0x00800000, 0x00008000, 0x00018000, // float32 subnormals
      0x3f808000, 0x3f818000, 0x3f807fff, 0x3f800001, 0x3f801000, 0x3f803000, // bfloat16 and float16 ties at 1
      0x80000000, 0x00000000,
    ];
    const next = rng(5);
    const values = [...special];
    while (values.length % 8 !== 0 || values.length < 64) values.push(Math.floor(next() * 2 ** 32) >>> 0);
    const dim = 8;
    const rows = values.length / dim;
    const gradOut = new Float32Array(values.length);
    bitsOf(gradOut).set(values.map((bits) => (bits ^ 0x80000000) >>> 0));
    const narrow = Embedding.fromPretrained(new Uint16Array(values.length), dim, { dtype, freeze: false, sparse: true });
    const twin = new Embedding(rows, dim, { weight: new Float32Array(values.length), sparse: true });
    const ids = Array.from({ length: rows }, (_, r) => r);
    for (const layer of [narrow, twin]) {
      const opt = new SGD([layer], { lr: 1 });
      layer.backward(ids, gradOut);
      opt.step();
    }
    const result = bitsOf(twin.weight);
    for (let i = 0; i < values.length; i++) {
      const isNaN = (values[i]! & 0x7fffffff) > 0x7f800000;
      // The float32 step reached every value (-0 becomes +0: 0 + -0 is +0; a NaN stays a NaN).
      if (isNaN) expect((result[i]! & 0x7fffffff) > 0x7f800000).toBe(true);
      else if (values[i] !== 0x80000000) expect(result[i], `value ${i}`).toBe(values[i]);
    }
    expectSameHalves(narrow.data as Uint16Array, quantize(twin.weight, dim, dtype), 'data');
  });

  it('stochastic rounding: deterministic for a seed, different for another, one of the two neighbours, exact values kept', () => {
    const dim = 16;
    const rows = 64;
    const start = randomTable(rows, dim, 3);
    const gradOut = randomTable(rows, dim, 4);
    const run = (seed: number | null) => {
      const layer = Embedding.fromPretrained(quantize(start, dim, dtype), dim, { dtype, freeze: false, sparse: true });
      const opt = new SGD([layer], seed === null ? { lr: 0.01 } : { lr: 0.01, stochasticRounding: true, seed });
      layer.backward(Array.from({ length: rows }, (_, r) => r), gradOut);
      opt.step();
      return layer.data as Uint16Array;
    };
    const a = run(7);
    expectSameHalves(run(7), a, 'the same seed');
    const b = run(8);
    expect(a.some((bits, i) => bits !== b[i]), 'another seed rounds some values otherwise').toBe(true);
    // The float32 results, and their neighbours in the format.
    const exact = dequantize(quantize(start, dim, dtype), dim, dtype);
    const float32 = exact.map((w, i) => Math.fround(w + Math.fround(-0.01 * gradOut[i]!)));
    const nearest = quantize(float32, dim, dtype);
    const widened = dequantize(a, dim, dtype);
    let up = 0;
    for (let i = 0; i < a.length; i++) {
      const x = float32[i]!;
      const r = dequantize(Uint16Array.of(nearest[i]!), 1, dtype)[0]!;
      if (r === x) {
        expect(a[i], `value ${i} is exact and stays`).toBe(nearest[i]);
        continue;
      }
      const other = dequantize(Uint16Array.of(Math.abs(x) > Math.abs(r) ? nearest[i]! + 1 : nearest[i]! - 1), 1, dtype)[0]!;
      expect([r, other], `value ${i}: ${x} became ${widened[i]}`).toContain(widened[i]);
      expect(Math.min(r, other) < x && x < Math.max(r, other)).toBe(true);
      if (widened[i] !== r) up++;
    }
    expect(up, 'some values round away from the nearest').toBeGreaterThan(0);
  });

  it('stochastic rounding is unbiased: the mean of many roundings of one value is that value (nearest even is not)', () => {
    // 1 + a quarter of the format's ulp at 1, reached by SGD (lr 1) from 1: rounds up 1/4 of the time.
    const ulp = dtype === 'float16' ? 2 ** -10 : 2 ** -7;
    const x = 1 + ulp / 4;
    const dim = 8;
    const rows = 4096;
    const n = rows * dim;
    const one = dtype === 'float16' ? 0x3c00 : 0x3f80;
    const meanAfterStep = (options: object) => {
      const layer = Embedding.fromPretrained(new Uint16Array(n).fill(one), dim, { dtype, freeze: false, sparse: true });
      const opt = new SGD([layer], { lr: 1, ...options });
      layer.backward(Array.from({ length: rows }, (_, r) => r), new Float32Array(n).fill(-ulp / 4));
      opt.step();
      return dequantize(layer.data as Uint16Array, dim, dtype).reduce((sum, v) => sum + v, 0) / n;
    };
    // Six standard deviations of the mean of n draws of {1, 1 + ulp} with p = 1/4.
    const bound = 6 * ulp * Math.sqrt((0.25 * 0.75) / n);
    expect(Math.abs(meanAfterStep({ stochasticRounding: true, seed: 99 }) - x)).toBeLessThan(bound);
    expect(Math.abs(meanAfterStep({}) - x), 'the bound tells nearest-even rounding apart').toBeGreaterThan(bound);
  });

  it('large steps give the same bits on 1 and 2 threads (both kernels, both roundings)', () => {
    const dim = 64;
    const rows = 20_000;
    const data = quantize(randomTable(rows, dim, 1), dim, dtype);
    const indices = Int32Array.from(randomIndices(40_000, rows, 2));
    const gradOut = randomTable(indices.length, dim, 3);
    const results: Uint16Array[] = [];
    for (const threads of [1, 2]) {
      setNumThreads(threads);
      for (const rule of [RULES[0]!, RULES[3]!]) {
        for (const extra of [{}, { stochasticRounding: true, seed: 5 }]) {
          const layer = Embedding.fromPretrained(data.slice(), dim, { dtype, freeze: false, sparse: true });
          const opt = rule.make([layer], extra);
          layer.backward(indices, gradOut);
          opt.step();
          results.push(layer.data as Uint16Array);
        }
      }
    }
    for (let k = 0; k < 4; k++) expectSameHalves(results[k + 4]!, results[k]!, `case ${k}`);
  });

  it.each([RULES[0]!, RULES[3]!])('$name: stepAsync and backwardAsync (applied in backward) give what step and backward give', async (rule) => {
    const dim = 24;
    const rows = 50;
    const data = quantize(randomTable(rows, dim, 1), dim, dtype);
    const indices = randomIndices(80, rows, 2);
    const gradOut = randomTable(indices.length, dim, 3);
    const extra = { stochasticRounding: true, seed: 3 };
    const make = (sparse: boolean) => Embedding.fromPretrained(data.slice(), dim, { dtype, freeze: false, sparse });
    const sync = make(true);
    const syncOpt = rule.make([sync], extra);
    sync.backward(indices, gradOut);
    syncOpt.step();
    const later = make(true);
    const laterOpt = rule.make([later], extra);
    await later.backwardAsync(indices, gradOut);
    await laterOpt.stepAsync();
    expectSameHalves(later.data as Uint16Array, sync.data as Uint16Array, 'stepAsync');
    const fused = make(false);
    rule.fused([fused], extra);
    await fused.backwardAsync(indices, gradOut);
    expectSameHalves(fused.data as Uint16Array, sync.data as Uint16Array, 'backwardAsync applied in backward');
  });

  it('EmbeddingBag: the gradient of perSampleWeights is the float32 twin\'s', () => {
    const dim = 9;
    const rows = 12;
    const data = quantize(randomTable(rows, dim, 1), dim, dtype);
    const narrow = EmbeddingBag.fromPretrained(data, dim, { dtype, freeze: false, sparse: true, mode: 'sum', paddingIdx: 1 });
    const twin = new EmbeddingBag(rows, dim, { weight: dequantize(data, dim, dtype), sparse: true, mode: 'sum', paddingIdx: 1 });
    const indices = [0, 1, 5, 5, 11, 3, 1];
    const weights = Float32Array.from(indices, (_, i) => 0.5 + i);
    const gradOut = randomTable(2, dim, 4);
    expectSameBits(narrow.backward(indices, [0, 3], gradOut, weights), twin.backward(indices, [0, 3], gradOut, weights)!, 'weights grad');
  });

  it('refuses what it cannot train, naming the dtype, before anything changes', async () => {
    const dim = 4;
    const data = quantize(randomTable(6, dim, 1), dim, dtype);
    const copy = data.slice();
    const dense = Embedding.fromPretrained(data, dim, { dtype, freeze: false });
    const message = new RegExp(`table is ${dtype}, whose backward takes no dense gradient .*sparse: true.*applyOptimizerInBackward`);
    expect(() => dense.backward([1], new Float32Array(dim))).toThrow(TypeError);
    expect(() => dense.backward([1], new Float32Array(dim))).toThrow(message);
    expect(await rejection(dense.backwardAsync([1], new Float32Array(dim)))).toBeInstanceOf(TypeError);
    const bag = EmbeddingBag.fromPretrained(data, dim, { dtype, freeze: false, mode: 'max' });
    expect(() => bag.backward([1], [0], new Float32Array(dim))).toThrow(message);
    const sparse = Embedding.fromPretrained(data, dim, { dtype, freeze: false, sparse: true });
    expect(() => new Adam([dense])).toThrow(new RegExp(`Adam: params\\[0\\] is ${dtype} \\(trained through sparse rows only\\)`));
    expect(() => new SGD([dense], { lr: 1, momentum: 0.9 })).toThrow(RangeError);
    expect(() => new Adagrad([sparse], { weightDecay: 0.1 })).toThrow(RangeError);
    expect(() => new SGD([sparse], { lr: 1, stochasticRounding: true })).toThrow(RangeError);
    expect(() => new SGD([sparse], { lr: 1, stochasticRounding: true })).toThrow(/options.stochasticRounding needs options.seed/);
    expect(() => new SGD([sparse], { lr: 1, seed: 3 })).toThrow(TypeError);
    expect(() => new SGD([sparse], { lr: 1, stochasticRounding: true, seed: -1 })).toThrow(RangeError);
    expect(() => new SGD([sparse], { lr: 1, stochasticRounding: 'yes' as unknown as boolean, seed: 1 })).toThrow(TypeError);
    const float32 = new Embedding(6, dim, { sparse: true });
    expect(() => new SGD([float32], { lr: 1, stochasticRounding: true, seed: 1 })).toThrow(/rounds float16\/bfloat16 tables; params has none/);
    expect(() => applyOptimizerInBackward(SGD, [float32], { lr: 1, stochasticRounding: true, seed: 1 })).toThrow(RangeError);
    expect(Array.from(data)).toEqual(Array.from(copy));
  });
});

describe('quantized tables', () => {
  it.each(['int8', 'int4'] as const)('%s: backward and the optimizers are a TypeError naming the dtype', (dtype) => {
    const dim = 4;
    const data = quantize(randomTable(6, dim, 1), dim, dtype);
    const layer = Embedding.fromPretrained(data, dim, { dtype, freeze: false });
    expect(() => layer.backward([1], new Float32Array(dim))).toThrow(new RegExp(`table is ${dtype}; quantized tables are for inference`));
    for (const make of [() => new SGD([layer], { lr: 1 }), () => new RowWiseAdagrad([layer]), () => applyOptimizerInBackward(SparseAdam, [layer], {})]) {
      expect(make).toThrow(TypeError);
      expect(make).toThrow(new RegExp(`table is ${dtype}`));
    }
  });
});

describe('float16 rounding helpers', () => {
  it('stochastic rounding of a value the format holds is that value, for every float16 pattern', () => {
    const bits = new Float32Array(1);
    for (let h = 0; h < 0x10000; h++) {
      if ((h & 0x7fff) > 0x7c00) continue; // NaNs: nearest-even's rule (checked through steps)
      bits[0] = dequantize(Uint16Array.of(h), 1, 'float16')[0]!;
      const b = bitsOf(bits)[0]!;
      expect(stochasticFloat16Bits(b, 0)).toBe(floatBitsToFloat16Bits(b));
      expect(stochasticFloat16Bits(b, 0xffffffff)).toBe(floatBitsToFloat16Bits(b));
    }
  });
});

describe('stochastic rounding across state dicts', () => {
  it('a run stopped and resumed from state dicts rounds as the uninterrupted run (roundingStep is saved)', () => {
    const run = (stopAt: number | null) => {
      let layer = new Embedding(50, 8, { dtype: 'float16', sparse: true, seed: 3 });
      let optimizer = new SparseAdam([layer], { lr: 0.01, stochasticRounding: true, seed: 5 });
      for (let step = 0; step < 6; step++) {
        if (step === stopAt) {
          const weight = layer.stateDict();
          const state = optimizer.stateDict();
          expect(state.tables[0]!.roundingStep).toBe(stopAt);
          layer = new Embedding(50, 8, { dtype: 'float16', sparse: true, seed: 9 });
          layer.loadStateDict(weight);
          optimizer = new SparseAdam([layer], { lr: 0.01, stochasticRounding: true, seed: 5 });
          optimizer.loadStateDict(state);
        }
        optimizer.zeroGrad();
        layer.backward(randomIndices(20, 50, step), randomTable(20, 8, 100 + step));
        optimizer.step();
      }
      return Array.from(layer.data);
    };
    expect(run(3)).toEqual(run(null));
  });
});
