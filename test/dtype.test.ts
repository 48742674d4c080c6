// The narrow-table conversions (src/dtype.ts) against PyTorch 1.13 (test/fixtures/dtypes.json,
// made by scripts/generate-dtype-fixtures.py), compared as bits: NaN payloads and -0 included.
// Pure TypeScript: the same on every backend.
import fs from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import {
  DTYPES,
  bfloat16BitsToFloat,
  dequantize,
  dequantizeRow,
  float16BitsToFloat,
  floatToBfloat16Bits,
  floatToFloat16Bits,
  quantize,
  rowBytes,
} from '../src/dtype.js';
import { DTYPES as PUBLIC_DTYPES, dequantize as publicDequantize, quantize as publicQuantize, rowBytes as publicRowBytes } from '../src/index.js';
import { rng } from './helpers.js';

interface ConversionCase {
  name: string;
  rows: number;
  dim: number;
  weights: string;
  float16: string;
  bfloat16: string;
  int8: string;
  int8Dequantized: string;
  int4: string | null;
  int4Dequantized: string | null;
}

const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, 'fixtures', 'dtypes.json'), 'utf8')) as {
  torch: string;
  cases: ConversionCase[];
  widening: { bits: string; float16Widened: string; bfloat16Widened: string };
  craftedRows: { dtype: 'int8' | 'int4'; dim: number; packed: string; dequantized: string }[];
};

function bytesOf(hex: string): Uint8Array {
  return Uint8Array.from(Buffer.from(hex, 'hex'));
}

function float32Of(hex: string): Float32Array {
  return new Float32Array(bytesOf(hex).buffer);
}

function uint16Of(hex: string): Uint16Array {
  return new Uint16Array(bytesOf(hex).buffer);
}

function bitsOf(values: Float32Array): Uint32Array {
  return new Uint32Array(values.buffer, values.byteOffset, values.length);
}

function hex32(bits: number): string {
  return `0x${(bits >>> 0).toString(16).padStart(8, '0')}`;
}

/** Element-wise equality of integer arrays, the first difference named. */
function expectSameElements(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, `${what} length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (actual[i] !== expected[i]) expect.fail(`${what}[${i}]: got ${hex32(actual[i]!)}, expected ${hex32(expected[i]!)}`);
  }
}

function expectSameFloatBits(actual: Float32Array, expected: Float32Array, what: string): void {
  expectSameElements(bitsOf(actual), bitsOf(expected), what);
}

describe(`PyTorch ${fixture.torch} conversions`, () => {
  it('cover what they should', () => {
    const weights = fixture.cases.map((c) => bitsOf(float32Of(c.weights)));
    const any = (f: (bits: number) => boolean) => weights.some((w) => w.some(f));
    expect(any((b) => (b & 0x7fffffff) > 0x7f800000 && (b & 0x400000) === 0), 'a signalling NaN').toBe(true);
    expect(any((b) => b === 0x80000000), '-0').toBe(true);
    expect(any((b) => (b & 0x7fffffff) === 0x7f800000), 'an infinity').toBe(true);
    expect(any((b) => (b & 0x7f800000) === 0 && (b & 0x7fffff) !== 0), 'a float32 subnormal').toBe(true);
    for (const dim of [2, 8, 64, 130, 1, 3, 7, 65]) expect(fixture.cases.some((c) => c.dim === dim), `dim ${dim}`).toBe(true);
  });

  for (const c of fixture.cases) {
    it(c.name, () => {
      const weights = float32Of(c.weights);
      expectSameElements(quantize(weights, c.dim, 'float16'), uint16Of(c.float16), 'float16 bits');
      expectSameElements(quantize(weights, c.dim, 'bfloat16'), uint16Of(c.bfloat16), 'bfloat16 bits');
      expectSameElements(quantize(weights, c.dim, 'int8'), bytesOf(c.int8), 'int8 rows');
      expectSameFloatBits(dequantize(bytesOf(c.int8), c.dim, 'int8'), float32Of(c.int8Dequantized), 'int8 dequantized');
      if (c.int4 !== null) {
        expectSameElements(quantize(weights, c.dim, 'int4'), bytesOf(c.int4), 'int4 rows');
        expectSameFloatBits(dequantize(bytesOf(c.int4), c.dim, 'int4'), float32Of(c.int4Dequantized!), 'int4 dequantized');
      }
    });
  }

  it('widening of 16-bit patterns (every NaN kind among them)', () => {
    const patterns = uint16Of(fixture.widening.bits);
    expectSameFloatBits(dequantize(patterns, 1, 'float16'), float32Of(fixture.widening.float16Widened), 'float16 widened');
    expectSameFloatBits(dequantize(patterns, 1, 'bfloat16'), float32Of(fixture.widening.bfloat16Widened), 'bfloat16 widened');
  });

  it('dequantize of rows quantize never writes: NaN, signalling-NaN and infinite scales and biases', () => {
    for (const rows of fixture.craftedRows) {
      expectSameFloatBits(dequantize(bytesOf(rows.packed), rows.dim, rows.dtype), float32Of(rows.dequantized), `${rows.dtype} crafted rows`);
    }
  });
});

// Slow references from exact arithmetic: a float32's value as a rational m·2^e, rounded by integer
// comparison; no bit tricks shared with the code under test.
function exactParts(bits: number): { negative: boolean; mantissa: bigint; exponent: number } {
  const negative = bits >>> 31 === 1;
  const biased = (bits >>> 23) & 0xff;
  const fraction = bits & 0x7fffff;
  return biased === 0
    ? { negative, mantissa: BigInt(fraction), exponent: -149 }
    : { negative, mantissa: BigInt(fraction | 0x800000), exponent: biased - 150 };
}

/** Rounds mantissa·2^exponent (mantissa >= 0) to an integer multiple of 2^unitExponent, ties to even. */
function roundToUnit(mantissa: bigint, exponent: number, unitExponent: number): bigint {
  if (exponent >= unitExponent) return mantissa << BigInt(exponent - unitExponent);
  const shift = BigInt(unitExponent - exponent);
  const quotient = mantissa >> shift;
  const remainder = mantissa - (quotient << shift);
  const half = 1n << (shift - 1n);
  if (remainder > half || (remainder === half && (quotient & 1n) === 1n)) return quotient + 1n;
  return quotient;
}

/**
 * The bits of the 16-bit float (mantissaBits stored mantissa bits, exponent bias `bias`) nearest
 * a finite float32, from exact arithmetic: nearest, ties to even, subnormals, overflow to infinity.
 */
function referenceNarrowFloat(bits: number, mantissaBits: number, bias: number): number {
  const { negative, mantissa, exponent } = exactParts(bits);
  const sign = negative ? 0x8000 : 0;
  if (mantissa === 0n) return sign;
  // The value's exponent, limited below by the subnormal range.
  const magnitudeExponent = exponent + mantissa.toString(2).length - 1;
  const unitExponent = Math.max(magnitudeExponent, 1 - bias);
  const implicit = 1n << BigInt(mantissaBits);
  let units = roundToUnit(mantissa, exponent, unitExponent - mantissaBits); // mantissaBits + 1 significant bits
  let e = unitExponent;
  if (units === 2n * implicit) {
    units = implicit;
    e++;
  }
  if (e > bias) return sign | ((2 * bias + 1) << mantissaBits); // infinity
  if (units < implicit) return sign | Number(units); // subnormal
  return sign | ((e + bias) << mantissaBits) | Number(units - implicit);
}

/** float16 bits nearest a finite float32. */
const referenceFloat16 = (bits: number): number => referenceNarrowFloat(bits, 10, 15);
/** bfloat16 bits nearest a finite float32: the top 16 bits, rounded to nearest even on the rest. */
const referenceBfloat16 = (bits: number): number => referenceNarrowFloat(bits, 7, 127);

function randomFloatBits(next: () => number): number {
  return Math.floor(next() * 2 ** 32) >>> 0;
}

describe('16-bit rounding against exact arithmetic', () => {
  const f32 = new Float32Array(1);
  const u32 = new Uint32Array(f32.buffer);
  const valueOf = (bits: number) => {
    u32[0] = bits;
    return f32[0]!;
  };

  it('float16: random float32s of every exponent, and of the float16 range', () => {
    const next = rng(16);
    for (let k = 0; k < 200_000; k++) {
      let bits = randomFloatBits(next);
      if (k % 2 === 1) bits = ((bits & 0x80ffffff) | ((100 + Math.floor(next() * 45)) << 23)) >>> 0; // 2^-27 .. 2^17
      if ((bits & 0x7f800000) === 0x7f800000) continue;
      const got = floatToFloat16Bits(valueOf(bits));
      if (got !== referenceFloat16(bits)) expect.fail(`float16 of ${hex32(bits)}: got ${got}, expected ${referenceFloat16(bits)}`);
    }
  });

  it('bfloat16: random float32s', () => {
    const next = rng(17);
    for (let k = 0; k < 200_000; k++) {
      const bits = randomFloatBits(next);
      if ((bits & 0x7f800000) === 0x7f800000) continue;
      const got = floatToBfloat16Bits(valueOf(bits));
      if (got !== referenceBfloat16(bits)) expect.fail(`bfloat16 of ${hex32(bits)}: got ${got}, expected ${referenceBfloat16(bits)}`);
    }
  });

  it('ties go to even, overflow goes to infinity, NaN as torch writes it', () => {
    expect(floatToFloat16Bits(1 + 2 ** -11)).toBe(0x3c00);
    expect(floatToFloat16Bits(1 + 3 * 2 ** -11)).toBe(0x3c02);
    expect(floatToFloat16Bits(2 ** -25)).toBe(0x0000); // half the smallest subnormal
    expect(floatToFloat16Bits(3 * 2 ** -25)).toBe(0x0002);
    expect(floatToFloat16Bits(65519.996)).toBe(0x7bff);
    expect(floatToFloat16Bits(65520)).toBe(0x7c00);
    expect(floatToFloat16Bits(-Infinity)).toBe(0xfc00);
    expect(floatToFloat16Bits(-0)).toBe(0x8000);
    expect(floatToFloat16Bits(NaN) & 0x7fff).toBe(0x7e00);
    expect(floatToBfloat16Bits(1 + 2 ** -8)).toBe(0x3f80);
    expect(floatToBfloat16Bits(1 + 3 * 2 ** -8)).toBe(0x3f82);
    expect(floatToBfloat16Bits(3.4028235e38)).toBe(0x7f80);
    expect(floatToBfloat16Bits(NaN)).toBe(0xffff);
    expect(floatToBfloat16Bits(-0)).toBe(0x8000);
  });

  it('widening is exact and inverts rounding on every 16-bit value', () => {
    for (let h = 0; h < 65536; h++) {
      const exponent = (h >> 10) & 0x1f;
      if (exponent !== 31) {
        const mantissa = h & 0x3ff;
        const magnitude = exponent === 0 ? mantissa * 2 ** -24 : (1024 + mantissa) * 2 ** (exponent - 25);
        const expected = h & 0x8000 ? -magnitude : magnitude;
        if (!Object.is(float16BitsToFloat(h), expected)) expect.fail(`float16 ${h}: got ${float16BitsToFloat(h)}`);
        if (floatToFloat16Bits(float16BitsToFloat(h)) !== h) expect.fail(`float16 ${h} does not round trip`);
      }
      if ((h & 0x7f80) !== 0x7f80 && floatToBfloat16Bits(bfloat16BitsToFloat(h)) !== h) expect.fail(`bfloat16 ${h} does not round trip`);
    }
  });
});

describe('row-wise quantization', () => {
  function randomTable(rows: number, dim: number, seed: number): Float32Array {
    const next = rng(seed);
    const table = new Float32Array(rows * dim);
    for (let i = 0; i < table.length; i++) table[i] = (next() - 0.5) * 10 ** (Math.floor(next() * 8) - 4);
    return table;
  }

  it('round trips: quantize(dequantize(q)) === q, and every value within half a step of its original', () => {
    for (const dtype of ['int8', 'int4'] as const) {
      const dim = 24;
      const weights = randomTable(50, dim, dtype === 'int8' ? 8 : 4);
      const packed = quantize(weights, dim, dtype);
      const restored = dequantize(packed, dim, dtype);
      expect(quantize(restored, dim, dtype)).toEqual(packed);
      const width = rowBytes(dim, dtype);
      const view = new DataView(packed.buffer);
      for (let row = 0; row < 50; row++) {
        const scale =
          dtype === 'int8' ? view.getFloat32(row * width + dim, true) : float16BitsToFloat(view.getUint16(row * width + dim / 2, true));
        for (let i = 0; i < dim; i++) {
          const error = Math.abs(restored[row * dim + i]! - weights[row * dim + i]!);
          // Half a step, and float32 rounding of the bias (int4: float16 rounding of the min).
          const slack = dtype === 'int8' ? 1e-6 * Math.abs(weights[row * dim + i]!) : Math.abs(weights[row * dim + i]!) * 2 ** -10;
          if (!(error <= scale * 0.5001 + slack + 1e-30)) expect.fail(`${dtype} row ${row}[${i}]: error ${error}, scale ${scale}`);
        }
      }
    }
  });

  it('float16 and bfloat16 round trip to the same bits; float32 is a copy', () => {
    const weights = randomTable(10, 8, 3);
    for (const dtype of ['float16', 'bfloat16'] as const) {
      const narrow = quantize(weights, 8, dtype);
      expect(quantize(dequantize(narrow, 8, dtype), 8, dtype)).toEqual(narrow);
    }
    const copy = quantize(weights, 8, 'float32');
    expect(copy).not.toBe(weights);
    expect(copy).toEqual(weights);
    expect(dequantize(copy, 8, 'float32')).not.toBe(copy);
  });

  it('dequantizeRow writes one row where it is told, the same as dequantize', () => {
    const dim = 6;
    const weights = randomTable(4, dim, 9);
    weights[7] = NaN; // row 1 has a NaN off column 0
    for (const dtype of DTYPES) {
      const packed = quantize(weights, dim, dtype);
      const whole = dequantize(packed, dim, dtype);
      const out = new Float32Array(dim + 5).fill(-1);
      dequantizeRow(packed, dim, dtype, 2, out, 3);
      expectSameFloatBits(out.subarray(3, 3 + dim), whole.subarray(2 * dim, 3 * dim), `${dtype} row 2`);
      expect([...out.subarray(0, 3), ...out.subarray(3 + dim)]).toEqual([-1, -1, -1, -1, -1]);
    }
  });

  it('rowBytes: FBGEMM and torch layouts', () => {
    expect(DTYPES.map((dtype) => rowBytes(64, dtype))).toEqual([256, 128, 128, 72, 36]);
    expect(rowBytes(3, 'int8')).toBe(11);
    for (const dtype of DTYPES) {
      const packed = quantize(new Float32Array(3 * 8), 8, dtype);
      expect(packed.byteLength, dtype).toBe(3 * rowBytes(8, dtype));
    }
  });

  it('is what the package exports', () => {
    expect(PUBLIC_DTYPES).toBe(DTYPES);
    expect(publicQuantize).toBe(quantize);
    expect(publicDequantize).toBe(dequantize);
    expect(publicRowBytes).toBe(rowBytes);
  });
});

describe('errors', () => {
  const weights = new Float32Array(12);
  const cases: [string, () => unknown, ErrorConstructor, string][] = [
    ['quantize weights', () => quantize([1, 2] as unknown as Float32Array, 2, 'int8'), TypeError, 'quantize: weights must be a Float32Array, got an Array(2)'],
    ['quantize dtype', () => quantize(weights, 4, 'int2' as 'int8'), RangeError,
      `quantize: dtype must be one of 'float32', 'float16', 'bfloat16', 'int8', 'int4', got a string "int2"`],
    ['quantize dim type', () => quantize(weights, '4' as unknown as number, 'int8'), TypeError, 'quantize: dim must be a number, got a string "4"'],
    ['quantize dim zero', () => quantize(weights, 0, 'int8'), RangeError, 'quantize: dim must be an integer >= 1, got 0'],
    ['quantize dim fraction', () => quantize(weights, 2.5, 'float16'), RangeError, 'quantize: dim must be an integer >= 1, got 2.5'],
    ['quantize dim divides', () => quantize(weights, 5, 'int8'), RangeError, 'quantize: dim must divide weights.length = 12, got 5'],
    ['quantize int4 odd', () => quantize(weights, 3, 'int4'), RangeError, 'quantize: dim must be even for int4 (two codes per byte), got 3'],
    ['dequantize dtype', () => dequantize(new Uint8Array(12), 4, undefined as unknown as 'int8'), TypeError,
      `dequantize: dtype must be one of 'float32', 'float16', 'bfloat16', 'int8', 'int4', got undefined`],
    ['dequantize float16 type', () => dequantize(new Uint8Array(8), 4, 'float16'), TypeError, 'dequantize: data must be a Uint16Array for float16, got a Uint8Array(8)'],
    ['dequantize int8 type', () => dequantize(new Uint16Array(12), 4, 'int8'), TypeError, 'dequantize: data must be a Uint8Array for int8, got a Uint16Array(12)'],
    ['dequantize float32 type', () => dequantize(new Uint16Array(4), 4, 'float32'), TypeError, 'dequantize: data must be a Float32Array for float32, got a Uint16Array(4)'],
    ['dequantize int8 length', () => dequantize(new Uint8Array(13), 4, 'int8'), RangeError,
      'dequantize: data.length must be a multiple of 12 (one int8 row of dim 4), got 13'],
    ['dequantize int4 length', () => dequantize(new Uint8Array(7), 4, 'int4'), RangeError,
      'dequantize: data.length must be a multiple of 6 (one int4 row of dim 4), got 7'],
    ['dequantize bfloat16 length', () => dequantize(new Uint16Array(7), 4, 'bfloat16'), RangeError,
      'dequantize: data.length must be a multiple of 4 (one bfloat16 row of dim 4), got 7'],
    ['dequantize int4 odd', () => dequantize(new Uint8Array(10), 3, 'int4'), RangeError, 'dequantize: dim must be even for int4 (two codes per byte), got 3'],
    ['rowBytes dim', () => rowBytes(-1, 'float32'), RangeError, 'rowBytes: dim must be an integer >= 1, got -1'],
    ['rowBytes dtype', () => rowBytes(4, 'F16' as 'float16'), RangeError,
      `rowBytes: dtype must be one of 'float32', 'float16', 'bfloat16', 'int8', 'int4', got a string "F16"`],
  ];
  for (const [name, call, type, message] of cases) {
    it(name, () => {
      expect(call).toThrow(type);
      expect(call).toThrow(message);
    });
  }
});
