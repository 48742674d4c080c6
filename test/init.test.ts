// Table initializers: the `init` option, init.* on arrays, Embedding.create. Seeded tables are the
// same bits on every backend, SIMD tier and thread count (hashes committed below: they also pin
// the generator across machines), and have the distributions torch.nn.init's functions promise.
import { createHash } from 'node:crypto';

import { afterAll, describe, expect, it } from 'vitest';

import type { Backend } from '../src/backend.js';
import { jsBackend } from '../src/backends/js.js';
import { createNativeBackend } from '../src/backends/native.js';
import { Embedding, EmbeddingBag, type InitSpec, getBackend, getCapabilities, getNumThreads, init, setNumThreads } from '../src/index.js';
import { planInit, seedKeys } from '../src/init.js';
import { withBackend } from '../src/loader.js';
import { expectSameBits, expectThrow } from './helpers.js';

const sha256 = (a: Float32Array) => createHash('sha256').update(Buffer.from(a.buffer, a.byteOffset, a.byteLength)).digest('hex');
const native = getBackend() === 'native';
const initialThreads = getNumThreads();
afterAll(() => setNumThreads(initialThreads));

/** The backends this process can run: TypeScript, and each native tier the CPU runs. */
function allBackends(): [string, Backend][] {
  const list: [string, Backend][] = [['js', jsBackend]];
  if (native) for (const tier of getCapabilities().cpu!.tiers) list.push([`native ${tier}`, createNativeBackend(tier)]);
  return list;
}

// Embedding(1000, 41, { init, seed: 2026 }): 41,000 values, split over the pool at 2 and 3 threads.
const GOLDEN: [InitSpec, string][] = [
  [{ kind: 'normal' }, '817db590a2864c88ee42a0c482724993682adae756f469b470cd9b67ff8175df'],
  [{ kind: 'normal', mean: 1, std: 0.01 }, '76f89a4141f008d15d3fc94358fece3ffd2c383bc6f8be06e5ef5abb83e22401'],
  [{ kind: 'uniform', a: -0.5, b: 0.25 }, '83d724ed239879fdfc8082e702f00ae9ff0ad311189fd4820839b879d1c1d7a1'],
  [{ kind: 'truncNormal', std: 0.02 }, '38b007d12764dec56567815ec6f7b3aec038ce391717b388dd87deaf009165e6'],
  [{ kind: 'truncNormal', mean: 1, std: 3, a: -1, b: 4 }, 'c8e8d2c0f688d590ee2d2b99a9bd6e4181936fe48c9c42d6905c54f14a3a904e'],
  [{ kind: 'xavierUniform' }, '4a0f71ca7f16cd71417dd3219fc96cdde64e787a89820b487a141219c98cd807'],
  [{ kind: 'xavierNormal', gain: 2 }, '8e0a5ee71a9c43f750b150f09cf37a09a449564bc32df24b11bfe9f4a4214fce'],
];

describe('seeded tables are the same bits everywhere', () => {
  for (const [spec, hash] of GOLDEN) {
    it(`${JSON.stringify(spec)}: every backend and tier, 1, 2 and 3 threads, and the committed hash`, () => {
      for (const [name, backend] of allBackends()) {
        for (const threads of native ? [1, 2, 3] : [1]) {
          setNumThreads(threads);
          const layer = withBackend(backend, () => new Embedding(1000, 41, { init: spec, seed: 2026 }));
          expect(sha256(layer.weight), `${name}, ${threads} thread(s)`).toBe(hash);
        }
      }
    });
  }

  it('the default init is { kind: "normal" } (also with init: null); all 53 bits of the seed matter', () => {
    expect(sha256(new Embedding(1000, 41, { seed: 2026 }).weight)).toBe(GOLDEN[0]![1]);
    expect(sha256(new Embedding(1000, 41, { seed: 2026, init: null as never }).weight)).toBe(GOLDEN[0]![1]);
    expect(sha256(new Embedding(1000, 41, { seed: 2 ** 53 - 1 }).weight)).toBe('142564a510509265381d3fdeae9626c1c9cb3ea2690a481c44b452ef042a8768');
    const a = new Embedding(10, 8, { seed: 2 ** 40 }).weight;
    const b = new Embedding(10, 8, { seed: 2 ** 40 + 1 }).weight;
    const c = new Embedding(10, 8, { seed: 2 ** 41 }).weight;
    expect(sha256(a)).not.toBe(sha256(b));
    expect(sha256(a)).not.toBe(sha256(c));
  });

  it('a start with start + length above 2^53 is refused by both backends, nothing written', () => {
    const params = Float64Array.of(1, 1, 2, 0, 1, 0, 0, 0, 0);
    for (const [name, backend] of allBackends()) {
      const out = new Float32Array(3).fill(7);
      expect(() => backend.initFill(out, params, 2 ** 53 - 2), name).toThrow(RangeError);
      expect(() => backend.initFill(out, params, -1), name).toThrow(RangeError);
      expect(Array.from(out), name).toEqual([7, 7, 7]);
      expect(backend.initFill(new Float32Array(2), params, 2 ** 53 - 2), name).toBe(-1);
    }
  });

  it('any start and length: a window equals the same elements of a longer fill, across the 2^32 counter boundary too', () => {
    for (const kind of [0, 1, 2]) {
      const [k0, k1] = seedKeys(99);
      const params = Float64Array.of(kind, k0, k1, kind === 2 ? -0.9 : 0.25, kind === 2 ? 1.8 : 2, 1.4, 0.5, -2, 2);
      for (const base of [0, 1, 2 ** 32 - 37, 2 ** 40 + 3]) {
        const reference = new Float32Array(200);
        jsBackend.initFill(reference, params, base);
        for (const [name, backend] of allBackends()) {
          const whole = new Float32Array(200);
          backend.initFill(whole, params, base);
          expectSameBits(whole, reference, `${name}, kind ${kind}, start ${base}`);
          for (const [offset, length] of [[1, 50], [7, 193], [33, 1], [64, 100], [3, 0]] as const) {
            const part = new Float32Array(length);
            backend.initFill(part, params, base + offset);
            expectSameBits(part, reference.subarray(offset, offset + length), `${name}, kind ${kind}, start ${base}+${offset}, length ${length}`);
          }
        }
      }
    }
  });
});

function moments(a: Float32Array): { mean: number; std: number; min: number; max: number } {
  let sum = 0;
  let sq = 0;
  let min = Infinity;
  let max = -Infinity;
  for (const x of a) {
    sum += x;
    sq += x * x;
    if (x < min) min = x;
    if (x > max) max = x;
  }
  const mean = sum / a.length;
  return { mean, std: Math.sqrt(sq / a.length - mean * mean), min, max };
}

describe('distributions (10^6 values each)', () => {
  const N = 1000;
  const D = 1000;

  it('normal: mean, std, tails and the fraction beyond 1, 2 and 3 std', () => {
    const w = new Embedding(N, D, { init: { kind: 'normal', mean: 0.5, std: 2 }, seed: 1 }).weight;
    const m = moments(w);
    expect(Math.abs(m.mean - 0.5)).toBeLessThan(0.01);
    expect(Math.abs(m.std - 2)).toBeLessThan(0.01);
    const beyond = (k: number) => w.filter((x) => Math.abs(x - 0.5) > 2 * k).length / w.length;
    expect(Math.abs(beyond(1) - 0.3173)).toBeLessThan(0.003);
    expect(Math.abs(beyond(2) - 0.0455)).toBeLessThan(0.001);
    expect(Math.abs(beyond(3) - 0.0027)).toBeLessThan(0.0003);
    // u1 in (0, 1]: the largest |z| is sqrt(-2 ln 2^-24) = 5.77 std, and no value is infinite.
    expect(m.max).toBeLessThan(0.5 + 2 * 5.8);
    expect(m.min).toBeGreaterThan(0.5 - 2 * 5.8);
    // Pairs (cos, sin) are uncorrelated.
    let c = 0;
    for (let i = 0; i + 1 < w.length; i += 2) c += (w[i]! - 0.5) * (w[i + 1]! - 0.5);
    expect(Math.abs(c / (w.length / 2) / 4)).toBeLessThan(0.01);
  });

  it('uniform: within [a, b), mean and std of U(a, b), every tenth of the range equally filled', () => {
    const w = new Embedding(N, D, { init: { kind: 'uniform', a: -3, b: 1 }, seed: 2 }).weight;
    const m = moments(w);
    expect(m.min).toBeGreaterThanOrEqual(-3);
    expect(m.max).toBeLessThan(1);
    expect(Math.abs(m.mean + 1)).toBeLessThan(0.01);
    expect(Math.abs(m.std - 4 / Math.sqrt(12))).toBeLessThan(0.005);
    const bins = new Array(10).fill(0);
    for (const x of w) bins[Math.min(9, Math.floor(((x + 3) / 4) * 10))]++;
    for (const b of bins) expect(Math.abs(b / w.length - 0.1)).toBeLessThan(0.002);
  });

  it("truncNormal: within [a, b]; torch's defaults (mean 0, std 1, a -2, b 2) give the truncated normal's moments", () => {
    const w = new Embedding(N, D, { init: { kind: 'truncNormal' }, seed: 3 }).weight;
    const m = moments(w);
    expect(m.min).toBeGreaterThanOrEqual(-2);
    expect(m.max).toBeLessThanOrEqual(2);
    expect(Math.abs(m.mean)).toBeLessThan(0.005);
    // std of N(0, 1) truncated to [-2, 2]: sqrt(1 - 2 * 2 * phi(2) / (Phi(2) - Phi(-2))) = 0.8796
    expect(Math.abs(m.std - 0.8796)).toBeLessThan(0.005);
    const asym = new Embedding(N, D, { init: { kind: 'truncNormal', mean: 1, std: 0.5, a: 0.9, b: 3 }, seed: 4 }).weight;
    const ma = moments(asym);
    expect(ma.min).toBeGreaterThanOrEqual(0.9);
    expect(ma.max).toBeLessThanOrEqual(3);
    // mean of N(1, 0.25) truncated to [0.9, 3]: 1 + 0.5 * phi(-0.2) / (1 - Phi(-0.2)) = 1.3400
    expect(Math.abs(ma.mean - 1.34)).toBeLessThan(0.005);
  });

  it('xavierUniform and xavierNormal: the bound and std torch computes for a [numEmbeddings, embeddingDim] weight', () => {
    const rows = 3000;
    const dim = 200;
    const std = 1.5 * Math.sqrt(2 / (rows + dim));
    const u = new Embedding(rows, dim, { init: { kind: 'xavierUniform', gain: 1.5 }, seed: 5 }).weight;
    const mu = moments(u);
    const bound = Math.sqrt(3) * std;
    expect(mu.max).toBeLessThan(bound);
    expect(mu.min).toBeGreaterThanOrEqual(-bound * (1 + 1e-6));
    expect(mu.max).toBeGreaterThan(bound * 0.999);
    expect(Math.abs(mu.std / std - 1)).toBeLessThan(0.01);
    const n = new Embedding(rows, dim, { init: { kind: 'xavierNormal', gain: 1.5 }, seed: 5 }).weight;
    expect(Math.abs(moments(n).std / std - 1)).toBeLessThan(0.01);
  });

  it('constant and zeros', () => {
    expect(new Embedding(30, 7, { init: { kind: 'constant', value: -2.5 } }).weight.every((x) => x === -2.5)).toBe(true);
    expect(new Embedding(3, 2, { init: { kind: 'constant', value: -0 } }).weight.every((x) => Object.is(x, -0))).toBe(true);
    expect(new Embedding(30, 7, { init: { kind: 'zeros' } }).weight.every((x) => Object.is(x, 0))).toBe(true);
  });
});

describe('the init option', () => {
  it('zeroes the paddingIdx row after any init', () => {
    const specs: InitSpec[] = [{ kind: 'normal' }, { kind: 'uniform' }, { kind: 'truncNormal' }, { kind: 'xavierUniform' }, { kind: 'xavierNormal' }, { kind: 'constant', value: 3 }, { kind: 'zeros' }];
    for (const spec of specs) {
      for (const Layer of [Embedding, EmbeddingBag]) {
        const layer = new Layer(20, 9, { init: spec, seed: 1, paddingIdx: -3 });
        expect(Array.from(layer.weight.subarray(17 * 9, 18 * 9)), spec.kind).toEqual(new Array(9).fill(0));
        expect(layer.weight.subarray(16 * 9, 17 * 9).some((x) => x !== 0) || spec.kind === 'zeros', spec.kind).toBe(true);
      }
    }
  });

  it('EmbeddingBag takes it too, with the same table as Embedding for the same spec and seed', () => {
    const spec: InitSpec = { kind: 'truncNormal', std: 0.1 };
    expectSameBits(new EmbeddingBag(50, 12, { init: spec, seed: 8 }).weight, new Embedding(50, 12, { init: spec, seed: 8 }).weight);
  });

  it('bad specs: a RangeError or TypeError naming the field, before anything is built', () => {
    const make = (init: unknown) => () => new Embedding(4, 3, { init: init as InitSpec });
    expectThrow(make({ kind: 'gaussian' }), RangeError, /options\.init\.kind must be one of 'normal', 'uniform'.*got a string "gaussian"/);
    expectThrow(make({}), RangeError, /options\.init\.kind must be one of/);
    expectThrow(make('normal'), TypeError, /options\.init must be an object/);
    expectThrow(make({ kind: 'normal', std: 0 }), RangeError, /options\.init\.std must be > 0, got 0/);
    expectThrow(make({ kind: 'normal', std: -1 }), RangeError, /options\.init\.std must be > 0/);
    expectThrow(make({ kind: 'normal', mean: NaN }), RangeError, /options\.init\.mean must be finite, got NaN/);
    expectThrow(make({ kind: 'normal', std: '1' }), TypeError, /options\.init\.std must be a number, got a string "1"/);
    expectThrow(make({ kind: 'uniform', a: 1, b: 1 }), RangeError, /options\.init\.a must be < options\.init\.b, got a = 1, b = 1/);
    expectThrow(make({ kind: 'uniform', a: 2 }), RangeError, /a must be < options\.init\.b, got a = 2, b = 1/);
    expectThrow(make({ kind: 'uniform', b: Infinity }), RangeError, /options\.init\.b must be finite/);
    expectThrow(make({ kind: 'truncNormal', a: 3, b: -3 }), RangeError, /a must be < options\.init\.b/);
    expectThrow(make({ kind: 'xavierUniform', gain: 0 }), RangeError, /options\.init\.gain must be > 0/);
    expectThrow(make({ kind: 'constant' }), TypeError, /options\.init\.value is required/);
    expectThrow(make({ kind: 'constant', value: Infinity }), RangeError, /options\.init\.value must be finite/);
    expectThrow(make({ kind: 'normal', a: 1 }), TypeError, /unknown option 'a' \(expected one of kind, mean, std\)/);
    expectThrow(() => new Embedding(4, 3, { init: { kind: 'zeros' }, weight: new Float32Array(12) }), TypeError, /options\.init has no effect with options\.weight/);
    // Parameters beyond float32's range would fill the table with infinities (torch refuses them too).
    expectThrow(make({ kind: 'uniform', a: -3e38, b: 3e38 }), RangeError, /needs parameters within float32's range/);
    expectThrow(make({ kind: 'normal', std: 1e39 }), RangeError, /needs parameters within float32's range/);
    expectThrow(() => init.uniform_(new Float32Array(2), { a: -3e38, b: 3e38 }), RangeError, /init\.uniform_: options of kind 'uniform' needs parameters within float32's range/);
  });
});

describe('init.* on arrays', () => {
  it('fill in place and return the array, with the values of a layer of the same spec and seed', () => {
    const a = new Float32Array(600);
    expect(init.normal_(a, { mean: 1, std: 0.5, seed: 11 })).toBe(a);
    expectSameBits(a, new Embedding(60, 10, { init: { kind: 'normal', mean: 1, std: 0.5 }, seed: 11 }).weight);
    expectSameBits(init.uniform_(new Float32Array(600), { a: -1, b: 1, seed: 12 }), new Embedding(30, 20, { init: { kind: 'uniform', a: -1, b: 1 }, seed: 12 }).weight);
    expectSameBits(init.truncNormal_(new Float32Array(600), { std: 0.02, seed: 13 }), new Embedding(600, 1, { init: { kind: 'truncNormal', std: 0.02 }, seed: 13 }).weight);
    expectSameBits(
      init.xavierUniform_(new Float32Array(600), { shape: [60, 10], seed: 14 }),
      new Embedding(60, 10, { init: { kind: 'xavierUniform' }, seed: 14 }).weight,
    );
    expectSameBits(
      init.xavierNormal_(new Float32Array(600), { shape: [20, 30], gain: 3, seed: 15 }),
      new Embedding(20, 30, { init: { kind: 'xavierNormal', gain: 3 }, seed: 15 }).weight,
    );
    expect(init.constant_(new Float32Array(5), 7).every((x) => x === 7)).toBe(true);
    expect(init.zeros_(new Float32Array(5).fill(3)).every((x) => x === 0)).toBe(true);
  });

  it('a subarray is filled as an array of its own: element 0 is element 0 of the stream', () => {
    const whole = init.uniform_(new Float32Array(64), { seed: 3 });
    const backing = new Float32Array(100).fill(9);
    init.uniform_(backing.subarray(10, 74), { seed: 3 });
    expectSameBits(backing.subarray(10, 74), whole);
    expect(backing[9]).toBe(9);
    expect(backing[74]).toBe(9);
  });

  it('refuse bad arguments with the function and field named', () => {
    expectThrow(() => init.normal_([1, 2] as unknown as Float32Array), TypeError, /init\.normal_: array must be a Float32Array/);
    expectThrow(() => init.normal_(new Float32Array(2), { std: -1 }), RangeError, /init\.normal_: options\.std must be > 0/);
    expectThrow(() => init.uniform_(new Float32Array(2), { a: 2, b: 1 }), RangeError, /init\.uniform_: options\.a must be < options\.b/);
    expectThrow(() => init.normal_(new Float32Array(2), { seed: -1 }), RangeError, /init\.normal_: options\.seed/);
    expectThrow(() => init.normal_(new Float32Array(2), { sd: 1 } as never), TypeError, /unknown option 'sd'/);
    expectThrow(() => init.xavierUniform_(new Float32Array(6), {} as never), TypeError, /options\.shape must be \[rows, cols\]/);
    expectThrow(() => init.xavierUniform_(new Float32Array(6), { shape: [2, 2] }), RangeError, /options\.shape \[2, 2\] holds 4 values, the array has 6/);
    expectThrow(() => init.constant_(new Float32Array(2), NaN), RangeError, /init\.constant_: options\.value must be finite/);
  });
});

describe('Embedding.create / EmbeddingBag.create', () => {
  it('resolve to the layer the constructor builds, same table, options and padding row', async () => {
    const options = { init: { kind: 'normal', std: 0.3 } as InitSpec, seed: 77, paddingIdx: 4, sparse: true };
    const made = await Embedding.create(3000, 24, options);
    const built = new Embedding(3000, 24, options);
    expect(made).toBeInstanceOf(Embedding);
    expectSameBits(made.weight, built.weight);
    expect(made.sparse).toBe(true);
    expect(made.paddingIdx).toBe(4);
    const bag = await EmbeddingBag.create(100, 8, { mode: 'sum', init: { kind: 'uniform' }, seed: 5 });
    expect(bag.mode).toBe('sum');
    expectSameBits(bag.weight, new EmbeddingBag(100, 8, { mode: 'sum', init: { kind: 'uniform' }, seed: 5 }).weight);
    expect((await Embedding.create(5, 2, { init: { kind: 'constant', value: 2 } })).weight.every((x) => x === 2)).toBe(true);
    expect((await Embedding.create(5, 2, { weight: undefined, seed: 1 } as never)).weight.length).toBe(10);
  });

  it('reject bad arguments with the constructor errors', async () => {
    await expect(Embedding.create(0, 4)).rejects.toThrow(RangeError);
    await expect(Embedding.create(4, 4, { init: { kind: 'normal', std: 0 } })).rejects.toThrow(/options\.init\.std must be > 0/);
    await expect(Embedding.create(4, 4, { weight: new Float32Array(16) } as never)).rejects.toThrow(/options\.weight is not accepted/);
    await expect(EmbeddingBag.create(4, 4, { mode: 'median' as never })).rejects.toThrow(RangeError);
    await expect(Embedding.create(4, 4, 'x' as never)).rejects.toThrow(/options must be an object/);
  });

  it('lets the event loop run while a large table fills', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 1);
    const layer = await Embedding.create(400_000, 64, { seed: 1 });
    clearInterval(timer);
    expect(layer.weight.length).toBe(400_000 * 64);
    if (native) expect(ticks).toBeGreaterThan(0);
  });
});

it('the seed keys: two 32-bit words from every bit of a safe integer', () => {
  expect(seedKeys(0)).not.toEqual(seedKeys(1));
  expect(seedKeys(2 ** 32)).not.toEqual(seedKeys(0));
  for (const k of seedKeys(2 ** 53 - 1)) expect(Number.isInteger(k) && k >= 0 && k < 2 ** 32).toBe(true);
  expect(planInit('t', 'init', { kind: 'zeros' }, 1, 1, 0)).toEqual({ fill: 'constant', value: 0 });
});
