// Narrow tables (options.dtype: float16, bfloat16, int8, int4) on the backend this process was
// started for: a narrow layer's lookups and bag reductions equal, bit for bit, the float32 layer's
// over dequantize() of its packed rows (the TypeScript conversion, itself checked against torch in
// test/dtype.test.ts), for every dim shape the kernels split differently (vectors, blocks, tails).
// The same file runs on the TypeScript backend and on every SIMD tier, so all of them agree.
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { type BagMode, Embedding, EmbeddingBag, SGD, getNumThreads, setNumThreads } from '../src/index.js';
import { type Dtype, dequantize, quantize } from '../src/dtype.js';
import { expectSameBits, randomIndices, randomTable, rejection, rng } from './helpers.js';

type Narrow = Exclude<Dtype, 'float32'>;
const NARROW: readonly Narrow[] = ['float16', 'bfloat16', 'int8', 'int4'];
// Below, at and around the vector widths (1, 4, 8, 16) and the bag kernels' 4-vector blocks.
const DIMS = [1, 2, 3, 6, 8, 14, 16, 24, 33, 64, 66, 130];

function dimsFor(dtype: Narrow): number[] {
  return dtype === 'int4' ? DIMS.filter((d) => d % 2 === 0) : DIMS;
}

/** A table with rows of very different scales (quantization works per row), packed as dtype. */
function packedTable(rows: number, dim: number, dtype: Narrow, seed: number): { data: Uint16Array | Uint8Array; values: Float32Array } {
  const table = randomTable(rows, dim, seed);
  const next = rng(seed + 1);
  for (let r = 0; r < rows; r++) {
    const scale = 10 ** Math.floor(next() * 8 - 4);
    for (let j = 0; j < dim; j++) table[r * dim + j] = table[r * dim + j]! * scale;
  }
  const data = quantize(table, dim, dtype) as Uint16Array | Uint8Array;
  return { data, values: dequantize(data, dim, dtype) };
}

describe.each(NARROW)('a %s table', (dtype) => {
  it.each(dimsFor(dtype))('Embedding.forward at dim %i equals the float32 lookup of its dequantized rows', (dim) => {
    const rows = 37;
    const { data, values } = packedTable(rows, dim, dtype, dim * 31);
    const narrow = Embedding.fromPretrained(data, dim, { dtype });
    const wide = Embedding.fromPretrained(values, dim);
    expect(narrow.dtype).toBe(dtype);
    expect(narrow.data).toBe(data); // adopted, not copied
    expect(narrow.numEmbeddings).toBe(rows);
    const indices = Int32Array.from(randomIndices(101, rows, dim), (v, i) => (i % 10 === 0 ? rows - 1 : v));
    expectSameBits(narrow.forward(indices), wide.forward(indices), `forward, dim ${dim}`);
    const out = new Float32Array(indices.length * dim).fill(NaN);
    expect(narrow.forward(BigInt64Array.from(indices, BigInt), out)).toBe(out);
    expectSameBits(out, wide.forward(indices), `forward into out, dim ${dim}`);
  });

  it.each(dimsFor(dtype))('EmbeddingBag.forward at dim %i equals the float32 bag of its dequantized rows, every mode', (dim) => {
    const rows = 29;
    const { data, values } = packedTable(rows, dim, dtype, dim * 17 + 3);
    const indices = Int32Array.from(randomIndices(90, rows, dim + 1));
    // Bags of 0 to 11 entries, an empty one at each end.
    const offsets = [0, 0];
    while (offsets[offsets.length - 1]! < indices.length) offsets.push(Math.min(indices.length, offsets[offsets.length - 1]! + (offsets.length % 12)));
    const weights = Float32Array.from(randomTable(indices.length, 1, dim));
    for (const mode of ['sum', 'mean', 'max'] as BagMode[]) {
      for (const paddingIdx of [null, 3]) {
        const narrow = EmbeddingBag.fromPretrained(data, dim, { dtype, mode, paddingIdx, includeLastOffset: true });
        const wide = EmbeddingBag.fromPretrained(values, dim, { mode, paddingIdx, includeLastOffset: true });
        const what = `${mode}, paddingIdx ${paddingIdx}, dim ${dim}`;
        expectSameBits(narrow.forward(indices, Uint32Array.from(offsets)), wide.forward(indices, Uint32Array.from(offsets)), what);
        if (mode === 'sum') {
          expectSameBits(narrow.forward(indices, Uint32Array.from(offsets), weights), wide.forward(indices, Uint32Array.from(offsets), weights), `${what}, perSampleWeights`);
        }
      }
    }
    const fixed = EmbeddingBag.fromPretrained(data, dim, { dtype, mode: 'sum' });
    expectSameBits(fixed.forward(indices, 6), EmbeddingBag.fromPretrained(values, dim, { mode: 'sum' }).forward(indices, 6), `bags of 6, dim ${dim}`);
  });

  it('forwardAsync gives what forward gives', async () => {
    const dim = 24;
    const { data } = packedTable(50, dim, dtype, 5);
    const indices = Int32Array.from(randomIndices(64, 50, 6));
    const layer = Embedding.fromPretrained(data, dim, { dtype });
    expectSameBits(await layer.forwardAsync(indices), layer.forward(indices));
    const bag = EmbeddingBag.fromPretrained(data, dim, { dtype, mode: 'mean' });
    expectSameBits(await bag.forwardAsync(indices, 8), bag.forward(indices, 8));
  });

  it('large calls give the same bits on 1 and 2 threads', () => {
    const before = getNumThreads();
    try {
      const dim = 64;
      const rows = 20_000;
      const { data } = packedTable(rows, dim, dtype, 9);
      const indices = Int32Array.from(randomIndices(40_000, rows, 10));
      const layer = Embedding.fromPretrained(data, dim, { dtype });
      const bag = EmbeddingBag.fromPretrained(data, dim, { dtype, mode: 'sum' });
      setNumThreads(1);
      const one = [layer.forward(indices), bag.forward(indices, 20)];
      setNumThreads(2);
      expectSameBits(layer.forward(indices), one[0]!, 'forward');
      expectSameBits(bag.forward(indices, 20), one[1]!, 'bag');
    } finally {
      setNumThreads(before);
    }
  });

  it('new Embedding(n, d, { dtype }) is the seeded float32 table, converted; create() gives the same', async () => {
    const dim = dtype === 'int4' ? 10 : 9;
    const wide = new Embedding(40, dim, { seed: 3, paddingIdx: 2 });
    const narrow = new Embedding(40, dim, { seed: 3, paddingIdx: 2, dtype });
    expect(Array.from(narrow.data)).toEqual(Array.from(quantize(wide.weight, dim, dtype)));
    const created = await Embedding.create(40, dim, { seed: 3, paddingIdx: 2, dtype });
    expect(Array.from(created.data)).toEqual(Array.from(narrow.data));
    const bag = new EmbeddingBag(40, dim, { seed: 3, paddingIdx: 2, dtype });
    expect(Array.from(bag.data)).toEqual(Array.from(narrow.data));
  });

  it('refuses what needs a float32 table, naming the dtype, and changes nothing', async () => {
    const dim = 8;
    const { data } = packedTable(10, dim, dtype, 1);
    const copy = data.slice();
    const layer = Embedding.fromPretrained(data, dim, { dtype, freeze: false });
    expect(() => layer.weight).toThrow(new RegExp(`Embedding.weight: this layer's table is ${dtype} .*dequantize\\(layer.data, layer.embeddingDim, '${dtype}'\\)`));
    const quantized = dtype === 'int8' || dtype === 'int4';
    const training = quantized ? /quantized tables are for inference/ : new RegExp(`table is ${dtype}, whose backward takes no dense gradient.*sparse: true.*applyOptimizerInBackward`);
    expect(() => layer.backward([1, 2], new Float32Array(2 * dim))).toThrow(TypeError);
    expect(() => layer.backward([1, 2], new Float32Array(2 * dim))).toThrow(training);
    expect(await rejection(layer.backwardAsync([1], new Float32Array(dim)))).toBeInstanceOf(TypeError);
    const bag = EmbeddingBag.fromPretrained(data, dim, { dtype, freeze: false, mode: 'sum' });
    expect(() => bag.backward([1, 2], 2, new Float32Array(dim))).toThrow(training);
    if (quantized) expect(() => new SGD([layer], { lr: 0.1 })).toThrow(new RegExp(`SGD: params\\[0\\]: this layer's table is ${dtype}`));
    for (const option of [{ maxNorm: 1 }, ...(quantized ? [{ sparse: true }] : []), { scaleGradByFreq: true }]) {
      expect(() => new Embedding(10, dim, { dtype, ...option })).toThrow(new RegExp(`options.${Object.keys(option)[0]} needs a float32 table; this one is ${dtype}`));
    }
    expect(() => new Embedding(10, dim, { dtype, weight: new Float32Array(10 * dim) })).toThrow(/to adopt a .* table use fromPretrained/);
    expect(Array.from(data)).toEqual(Array.from(copy));
  });

  it('fromPretrained checks the packed array: its type and whole rows', () => {
    const halves = dtype === 'float16' || dtype === 'bfloat16';
    const wrong = halves ? new Uint8Array(16) : new Uint16Array(16);
    expect(() => Embedding.fromPretrained(wrong, 4, { dtype })).toThrow(TypeError);
    expect(() => Embedding.fromPretrained(new Float32Array(16), 4, { dtype })).toThrow(new RegExp(`a ${dtype} table is a Uint(16|8)Array`));
    const rowBytes = { float16: 8, bfloat16: 8, int8: 12, int4: 6 }[dtype];
    const short = halves ? new Uint16Array(rowBytes / 2 + 1) : new Uint8Array(rowBytes + 1);
    expect(() => Embedding.fromPretrained(short, 4, { dtype })).toThrow(new RegExp(`has ${rowBytes} bytes per row; data has ${short.byteLength} bytes`));
    expect(() => EmbeddingBag.fromPretrained(halves ? new Uint16Array(0) : new Uint8Array(0), 4, { dtype })).toThrow(RangeError);
  });

  it('a bad index is a RangeError naming it, before anything is written', () => {
    const dim = 8;
    const { data } = packedTable(10, dim, dtype, 2);
    const layer = Embedding.fromPretrained(data, dim, { dtype });
    const out = new Float32Array(3 * dim).fill(7);
    expect(() => layer.forward([1, 10, 2], out)).toThrow(/indices\[1\] = 10 is out of range/);
    expect(Array.from(out)).toEqual(new Array(3 * dim).fill(7));
    const bag = EmbeddingBag.fromPretrained(data, dim, { dtype });
    expect(() => bag.forward([1, -1], 1)).toThrow(RangeError);
  });
});

describe('float16 and bfloat16 tables', () => {
  it('every 16-bit pattern widens as dequantize() widens it (infinities, NaNs, subnormals, -0)', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    for (const dtype of ['float16', 'bfloat16'] as const) {
      const dim = 16;
      const layer = Embedding.fromPretrained(all, dim, { dtype });
      const indices = Int32Array.from({ length: 65536 / dim }, (_, i) => i);
      expectSameBits(layer.forward(indices), dequantize(all, dim, dtype), dtype);
    }
  });
});

describe('options.dtype', () => {
  it('is float32 by default, and then data is weight', () => {
    const layer = new Embedding(4, 3, { seed: 1 });
    expect(layer.dtype).toBe('float32');
    expect(layer.data).toBe(layer.weight);
  });

  it('refuses unknown dtypes and an int4 table of odd dim', () => {
    expect(() => new Embedding(4, 3, { dtype: 'float64' as Dtype })).toThrow(RangeError);
    expect(() => new Embedding(4, 3, { dtype: 'float64' as Dtype })).toThrow(/options.dtype must be one of 'float32', 'float16', 'bfloat16', 'int8', 'int4', got/);
    expect(() => new Embedding(4, 3, { dtype: 8 as unknown as Dtype })).toThrow(TypeError);
    expect(() => new Embedding(4, 3, { dtype: 'int4' })).toThrow(/an int4 table needs an even embeddingDim \(two codes per byte\), got 3/);
  });
});

// torch's quantized bags (test/fixtures/dtypes.json, scripts/generate-dtype-fixtures.py): a bag
// of a narrow table is the float32 bag of its dequantized rows, which the fixture holds as torch's
// F.embedding_bag over dequantize() — equal to the bit without per-sample weights. torch's own quantized ops
// (embedding_bag_byte_rowwise_offsets, embedding_bag_4bit_rowwise_offsets) fold each entry's
// weight into scale and bias and fuse the multiply-add, so they differ from it by rounding, within
// the bound below (stated in the README, with the worst these cases measure).
const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'dtypes.json'), 'utf8')) as {
  bags: {
    name: string; dtype: 'int8' | 'int4'; rows: number; dim: number; mode: BagMode; includeLastOffset: boolean; packed: string;
    indices: number[]; offsets: number[]; perSampleWeights: string | null; torchQuantizedSum: string; dequantizedBag: string;
  }[];
};
const float32Of = (hex: string): Float32Array => new Float32Array(Uint8Array.from(Buffer.from(hex, 'hex')).buffer);

/**
 * |ours - torch's quantized sum| <= (L + 2) * 2^-23 * (the sum over the bag's L entries of
 * |weight * value|) + the smallest normal float: each side rounds each entry's terms and each add
 * at most half an ulp (2^-24 relative). The README states it, and the worst ratio measured here.
 */
const boundPerEntry = 2 ** -23;
const measuredWorst = new Map<string, number>();

describe("torch's quantized bags", () => {
  it.each(fixture.bags.map((c) => [c.name, c] as const))('%s: the float32 bag of the dequantized rows to the bit, torch\'s quantized sum within the bound', (_, c) => {
    const data = Uint8Array.from(Buffer.from(c.packed, 'hex'));
    const weights = c.perSampleWeights === null ? null : float32Of(c.perSampleWeights);
    const layer = EmbeddingBag.fromPretrained(data, c.dim, { dtype: c.dtype, mode: c.mode, includeLastOffset: c.includeLastOffset });
    const indices = Int32Array.from(c.indices);
    const out = layer.forward(indices, Uint32Array.from(c.offsets), weights);
    const values = dequantize(data, c.dim, c.dtype);
    const wide = EmbeddingBag.fromPretrained(values, c.dim, { mode: c.mode, includeLastOffset: c.includeLastOffset });
    expectSameBits(out, wide.forward(indices, Uint32Array.from(c.offsets), weights), 'against the float32 bag of the dequantized table');
    // torch's float32 bag fuses a weighted entry's multiply-add where the package rounds twice
    // (README, Exactness): to the bit without weights only.
    if (weights === null) expectSameBits(out, float32Of(c.dequantizedBag), 'against torch F.embedding_bag of the dequantized table');
    if (c.mode !== 'sum') return; // torch 1.13's quantized ops return the sum whatever the mode (the fixture's note)
    const torchSum = float32Of(c.torchQuantizedSum);
    const numBags = c.includeLastOffset ? c.offsets.length - 1 : c.offsets.length;
    let worst = 0;
    for (let b = 0; b < numBags; b++) {
      const end = b + 1 < c.offsets.length ? c.offsets[b + 1]! : c.indices.length;
      for (let j = 0; j < c.dim; j++) {
        let magnitude = 0;
        for (let i = c.offsets[b]!; i < end; i++) magnitude += Math.abs((weights?.[i] ?? 1) * values[c.indices[i]! * c.dim + j]!);
        const error = Math.abs(out[b * c.dim + j]! - torchSum[b * c.dim + j]!);
        worst = Math.max(worst, error / (magnitude + 2 ** -126));
        expect(error, `bag ${b} feature ${j}`).toBeLessThanOrEqual((end - c.offsets[b]! + 2) * boundPerEntry * magnitude + 2 ** -126);
      }
    }
    measuredWorst.set(c.name, worst);
  });
});

afterAll(() => {
  // The measured worst relative errors against torch's quantized sums, for the README's bound.
  if (process.env.NN_EMBEDDING_REPORT_BOUND) console.log(JSON.stringify(Object.fromEntries(measuredWorst)));
});
