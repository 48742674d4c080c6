// Narrow tables: float16, bfloat16 and row-wise quantized int8/int4 rows, converted to and from
// float32 bit for bit as PyTorch 1.13 converts them (.half(), .bfloat16(), .float(), and
// quantized::embedding_bag_byte_prepack / _unpack, embedding_bag_4bit_prepack / _unpack as built
// without FBGEMM, as Debian's python3-torch is). scripts/generate-dtype-fixtures.py states that
// arithmetic and checks it against torch; test/fixtures/dtypes.json holds torch's results.
//
// Every float32 operation torch performs is one Math.fround here, in the same order: a float32 +,
// -, * or / computed in double and rounded once to float32 is correctly rounded (double has more
// than 2 * 24 + 2 bits), so no operation double-rounds. torch's unpack is a multiply, rounded, then
// an add, rounded (no fused multiply-add; the fixtures tell the two apart). NaN results follow x86's
// rule, as torch's compiled loops do: the first NaN operand, quieted, or the default NaN
// 0xffc00000 for an invalid operation (0 * inf, inf - inf). JavaScript numbers do not carry NaN
// payloads reliably, so NaNs are written as bits.
import { checkFloat32Array, checkInteger, describe } from './validate.js';

/** The element types a table can be stored in. */
export type Dtype = 'float32' | 'float16' | 'bfloat16' | 'int8' | 'int4';

/** Every Dtype, float32 first. */
export const DTYPES: readonly Dtype[] = Object.freeze(['float32', 'float16', 'bfloat16', 'int8', 'int4'] as const);

/** A table in its dtype: float32 values, 16-bit float bits, or packed int8/int4 rows. */
export type PackedTable = Float32Array | Uint16Array | Uint8Array;

const DEFAULT_NAN = 0xffc00000;
const QUIET_BIT = 0x400000;
const INT8_EPSILON = Math.fround(1e-8);

const scratchFloat = new Float32Array(1);
const scratchBits = new Uint32Array(scratchFloat.buffer);

function floatBits(x: number): number {
  scratchFloat[0] = x;
  return scratchBits[0]!;
}

function bitsFloat(bits: number): number {
  scratchBits[0] = bits;
  return scratchFloat[0]!;
}

/** Stores float32 bits into out[index] (how NaNs are written: see the header). */
function writeBits(out: Float32Array, index: number, bits: number): void {
  new Uint32Array(out.buffer, out.byteOffset + 4 * index, 1)[0] = bits;
}

// ------------------------------------------------------------------ 16-bit floats

let float16Bits: Uint32Array | null = null;
let float16Values: Float32Array | null = null;

/** The float32 bits of every float16 pattern, built on first use (256 KiB), and their values. */
function float16Table(): Float32Array {
  if (float16Values !== null) return float16Values;
  const bits = new Uint32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = (h & 0x8000) << 16;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 31) {
      // Widening quiets a signalling NaN (torch: F16C's vcvtph2ps).
      bits[h] = (sign | 0x7f800000 | (mantissa === 0 ? 0 : QUIET_BIT) | (mantissa << 13)) >>> 0;
    } else if (exponent === 0) {
      bits[h] = (sign | floatBits(mantissa * 2 ** -24)) >>> 0;
    } else {
      bits[h] = (sign | ((exponent + 112) << 23) | (mantissa << 13)) >>> 0;
    }
  }
  float16Bits = bits;
  float16Values = new Float32Array(bits.buffer);
  return float16Values;
}

function isFloat16NaN(bits: number): boolean {
  return (bits & 0x7fff) > 0x7c00;
}

function isBfloat16NaN(bits: number): boolean {
  return (bits & 0x7fff) > 0x7f80;
}

/** The float32 value of a float16 bit pattern (exact). */
export function float16BitsToFloat(bits: number): number {
  return float16Table()[bits & 0xffff]!;
}

/** The float32 value of a bfloat16 bit pattern (exact: the top half of a float32). */
export function bfloat16BitsToFloat(bits: number): number {
  return bitsFloat((bits & 0xffff) << 16);
}

/** The float32 bits of every float16 pattern (NaNs quieted as torch widens them); the file readers copy these. */
export function float16WideningBits(): Uint32Array {
  float16Table();
  return float16Bits!;
}

/**
 * torch's float32 -> float16 (c10::Half), given and returning bits: nearest, ties to even;
 * overflow becomes infinity; a NaN becomes sign | 0x7e00, its payload dropped.
 */
export function floatBitsToFloat16Bits(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  if ((bits & 0x7fffffff) > 0x7f800000) return sign | 0x7e00;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return sign | 0x7c00;
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // A float16 subnormal (or zero): the significand, with its implicit bit, shifted into place.
    if (e < -10) return sign;
    const significand = mantissa | 0x800000;
    const shift = 14 - e;
    let half = significand >>> shift;
    const rest = significand & ((1 << shift) - 1);
    const halfway = 1 << (shift - 1);
    if (rest > halfway || (rest === halfway && (half & 1) === 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mantissa >>> 13);
  const rest = mantissa & 0x1fff;
  // A carry out of the mantissa moves into the exponent, up to infinity: still the right answer.
  if (rest > 0x1000 || (rest === 0x1000 && (half & 1) === 1)) half++;
  return sign | half;
}

/** torch's float32 -> bfloat16, given and returning bits: nearest, ties to even; every NaN -> 0xffff (torch's vectorized cast). */
export function floatBitsToBfloat16Bits(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return 0xffff;
  return ((bits >>> 0) + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
}

/** The float16 bits nearest x, as torch's .half() rounds (x is first a float32). */
export function floatToFloat16Bits(x: number): number {
  return floatBitsToFloat16Bits(floatBits(x));
}

/** The bfloat16 bits nearest x, as torch's .bfloat16() rounds (x is first a float32). */
export function floatToBfloat16Bits(x: number): number {
  return floatBitsToBfloat16Bits(floatBits(x));
}

// ------------------------------------------------------------------ row-wise quantization

/** Round half to even, for values already in float32 (C's lrintf in the default rounding mode). */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** lrintf(v) as a long; NaN and values outside [-2^63, 2^63) give LONG_MIN (x86's cvtss2si). */
function lrintfLowBits(v: number): number {
  if (!(Math.abs(v) < 2 ** 63)) return 0; // LONG_MIN's low 32 bits
  return roundHalfEven(v) | 0; // the low 32 bits, signed: what a cast to int or uint8_t keeps of them
}

/** Index of std::min_element / std::max_element: the first least (greatest) by <, NaNs never replacing. */
function rowMinMax(values: Float32Array, start: number, dim: number): [number, number] {
  let low = start;
  let high = start;
  for (let i = start + 1; i < start + dim; i++) {
    if (values[i]! < values[low]!) low = i;
    if (values[high]! < values[i]!) high = i;
  }
  return [low, high];
}

function writeUint16(out: Uint8Array, at: number, bits: number): void {
  out[at] = bits & 0xff;
  out[at + 1] = bits >>> 8;
}

function writeUint32(out: Uint8Array, at: number, bits: number): void {
  out[at] = bits & 0xff;
  out[at + 1] = (bits >>> 8) & 0xff;
  out[at + 2] = (bits >>> 16) & 0xff;
  out[at + 3] = bits >>> 24;
}

function readUint16(data: Uint8Array, at: number): number {
  return data[at]! | (data[at + 1]! << 8);
}

function readUint32(data: Uint8Array, at: number): number {
  return (data[at]! | (data[at + 1]! << 8) | (data[at + 2]! << 16) | (data[at + 3]! << 24)) >>> 0;
}

/** embedding_bag_byte_prepack of one row: D codes, then float32 scale and bias (min). */
function quantizeRowInt8(values: Float32Array, bits: Uint32Array, start: number, dim: number, out: Uint8Array, at: number): void {
  const [low, high] = rowMinMax(values, start, dim);
  const min = values[low]!;
  const range = Math.fround(values[high]! - min);
  const scale = Math.fround(range / 255);
  const inverseScale = Math.fround(255 / Math.fround(range + INT8_EPSILON));
  for (let i = 0; i < dim; i++) {
    out[at + i] = lrintfLowBits(Math.fround(Math.fround(values[start + i]! - min) * inverseScale)) & 0xff;
  }
  // A NaN range: column 0 is NaN (it is then both min and max), or inf - inf.
  const nanRange = Number.isNaN(values[start]!) ? (bits[start]! | QUIET_BIT) >>> 0 : DEFAULT_NAN;
  writeUint32(out, at + dim, Number.isNaN(scale) ? nanRange : floatBits(scale));
  writeUint32(out, at + dim + 4, bits[low]!);
}

/** embedding_bag_4bit_prepack of one row: D/2 bytes of codes, then float16 scale and bias (min). */
function quantizeRowInt4(values: Float32Array, bits: Uint32Array, start: number, dim: number, out: Uint8Array, at: number): void {
  const [low, high] = rowMinMax(values, start, dim);
  const minHalf = floatBitsToFloat16Bits(bits[low]!);
  const min = float16BitsToFloat(minHalf);
  const range = Math.fround(values[high]! - min);
  let scaleHalf: number;
  if (range === 0) scaleHalf = 0x3c00;
  else if (Number.isNaN(range)) {
    // max is NaN only when column 0 is (then max - min is that NaN, quieted); else inf - inf.
    const nanBits = Number.isNaN(values[high]!) ? bits[high]! : DEFAULT_NAN;
    scaleHalf = ((nanBits >>> 16) & 0x8000) | 0x7e00;
  } else scaleHalf = floatToFloat16Bits(Math.fround(range / 15));
  const scale = float16BitsToFloat(scaleHalf);
  let inverseScale = scale === 0 ? 1 : Math.fround(1 / scale);
  if (scale === 0 || Math.abs(inverseScale) === Infinity) {
    // torch's corner case (max == min, or a scale too small to invert): any scale maps X - min to 0.
    scaleHalf = 0x3c00;
    inverseScale = 1;
  }
  const bytes = dim >> 1;
  for (let i = 0; i < dim; i += 2) {
    const even = Math.max(0, Math.min(lrintfLowBits(Math.fround(Math.fround(values[start + i]! - min) * inverseScale)), 15));
    const odd = Math.max(0, Math.min(lrintfLowBits(Math.fround(Math.fround(values[start + i + 1]! - min) * inverseScale)), 15));
    out[at + (i >> 1)] = even | (odd << 4);
  }
  writeUint16(out, at + bytes, scaleHalf);
  writeUint16(out, at + bytes + 2, minHalf);
}

/**
 * code * scale + bias in float32, rounded after the product and after the sum, as torch's unpack
 * loops; NaN results as x86 computes them (see the header). scaleBits/biasBits: the float32 bits.
 */
function dequantizeValue(code: number, scale: number, scaleBits: number, bias: number, biasBits: number, out: Float32Array, index: number): void {
  const product = Math.fround(code * scale);
  const value = Math.fround(product + bias);
  if (!Number.isNaN(value)) {
    out[index] = value;
    return;
  }
  let bits: number;
  if (Number.isNaN(scale)) bits = (scaleBits | QUIET_BIT) >>> 0;
  else if (Number.isNaN(product)) bits = DEFAULT_NAN; // 0 * inf
  else if (Number.isNaN(bias)) bits = (biasBits | QUIET_BIT) >>> 0;
  else bits = DEFAULT_NAN; // inf - inf
  writeBits(out, index, bits);
}

// ------------------------------------------------------------------ the public conversions

/**
 * A dtype argument checked: one of DTYPES. Not a string is a TypeError; a string naming no dtype is a
 * RangeError, as for the layers' other enumerated options. `name` is the argument as the caller's
 * message names it.
 */
export function checkDtype(where: string, dtype: unknown, name = 'dtype'): Dtype {
  if (typeof dtype !== 'string' || !(DTYPES as readonly string[]).includes(dtype)) {
    const message = `${where}: ${name} must be one of ${DTYPES.map((d) => `'${d}'`).join(', ')}, got ${describe(dtype)}`;
    throw typeof dtype === 'string' ? new RangeError(message) : new TypeError(message);
  }
  return dtype as Dtype;
}

function checkDim(where: string, dim: unknown, dtype: Dtype): number {
  checkInteger(where, 'dim', dim, 1);
  if (dtype === 'int4' && (dim as number) % 2 !== 0) {
    throw new RangeError(`${where}: dim must be even for int4 (two codes per byte), got ${dim as number}`);
  }
  return dim as number;
}

function bytesPerRow(dim: number, dtype: Dtype): number {
  switch (dtype) {
    case 'float32':
      return 4 * dim;
    case 'float16':
    case 'bfloat16':
      return 2 * dim;
    case 'int8':
      return dim + 8;
    case 'int4':
      return dim / 2 + 4;
  }
}

/** Elements of the packed array per row: dim for float32, float16 and bfloat16; bytes for int8/int4. */
function rowLength(dim: number, dtype: Dtype): number {
  return dtype === 'int8' || dtype === 'int4' ? bytesPerRow(dim, dtype) : dim;
}

/**
 * Bytes per row of a table of `dim` columns stored as `dtype`: float32 4·dim, float16 and bfloat16
 * 2·dim, int8 dim + 8 (codes, float32 scale, float32 bias), int4 dim/2 + 4 (codes, float16 scale,
 * float16 bias; dim even).
 */
export function rowBytes(dim: number, dtype: Dtype): number {
  const checkedDtype = checkDtype('rowBytes', dtype);
  return bytesPerRow(checkDim('rowBytes', dim, checkedDtype), checkedDtype);
}

/**
 * Converts a row-major float32 table of `dim` columns to `dtype`, as torch does: float16 and
 * bfloat16 bits (nearest, ties to even) like .half() and .bfloat16(); int8 and int4 rows like
 * quantized::embedding_bag_byte_prepack and embedding_bag_4bit_prepack. float32 returns a copy.
 */
export function quantize(weights: Float32Array, dim: number, dtype: 'float32'): Float32Array;
export function quantize(weights: Float32Array, dim: number, dtype: 'float16' | 'bfloat16'): Uint16Array;
export function quantize(weights: Float32Array, dim: number, dtype: 'int8' | 'int4'): Uint8Array;
export function quantize(weights: Float32Array, dim: number, dtype: Dtype): PackedTable;
export function quantize(weights: Float32Array, dim: number, dtype: Dtype): PackedTable {
  const where = 'quantize';
  checkFloat32Array(where, 'weights', weights);
  const checkedDtype = checkDtype(where, dtype);
  checkDim(where, dim, checkedDtype);
  if (weights.length % dim !== 0) {
    throw new RangeError(`${where}: dim must divide weights.length = ${weights.length}, got ${dim}`);
  }
  const rows = weights.length / dim;
  const bits = new Uint32Array(weights.buffer, weights.byteOffset, weights.length);
  switch (checkedDtype) {
    case 'float32':
      return weights.slice();
    case 'float16':
    case 'bfloat16': {
      const narrow = checkedDtype === 'float16' ? floatBitsToFloat16Bits : floatBitsToBfloat16Bits;
      const out = new Uint16Array(weights.length);
      for (let i = 0; i < out.length; i++) out[i] = narrow(bits[i]!);
      return out;
    }
    case 'int8':
    case 'int4': {
      const quantizeRow = checkedDtype === 'int8' ? quantizeRowInt8 : quantizeRowInt4;
      const width = bytesPerRow(dim, checkedDtype);
      const out = new Uint8Array(rows * width);
      for (let row = 0; row < rows; row++) quantizeRow(weights, bits, row * dim, dim, out, row * width);
      return out;
    }
  }
}

const ARRAY_TYPE_FOR: Record<Dtype, string> = {
  float32: 'Float32Array',
  float16: 'Uint16Array',
  bfloat16: 'Uint16Array',
  int8: 'Uint8Array',
  int4: 'Uint8Array',
};

function hasArrayTypeFor(data: unknown, dtype: Dtype): boolean {
  switch (ARRAY_TYPE_FOR[dtype]) {
    case 'Float32Array':
      return data instanceof Float32Array;
    case 'Uint16Array':
      return data instanceof Uint16Array;
    default:
      return data instanceof Uint8Array;
  }
}

/**
 * Widens or dequantizes row `row` of a packed table into out[outOffset .. outOffset + dim): the
 * per-row step of dequantize, for kernels. The arguments are trusted (the table was validated when
 * it was adopted): `data` must be the array type of `dtype` and hold the row, `out` must hold dim values.
 */
export function dequantizeRow(data: PackedTable, dim: number, dtype: Dtype, row: number, out: Float32Array, outOffset: number): void {
  switch (dtype) {
    case 'float32': {
      out.set((data as Float32Array).subarray(row * dim, row * dim + dim), outOffset);
      return;
    }
    case 'float16': {
      const halves = data as Uint16Array;
      const values = float16Table();
      const start = row * dim;
      for (let i = 0; i < dim; i++) {
        const h = halves[start + i]!;
        if (isFloat16NaN(h)) writeBits(out, outOffset + i, float16Bits![h]!);
        else out[outOffset + i] = values[h]!;
      }
      return;
    }
    case 'bfloat16': {
      const halves = data as Uint16Array;
      const start = row * dim;
      for (let i = 0; i < dim; i++) {
        const h = halves[start + i]!;
        if (isBfloat16NaN(h)) writeBits(out, outOffset + i, (h << 16) >>> 0);
        else out[outOffset + i] = bitsFloat(h << 16);
      }
      return;
    }
    case 'int8': {
      const bytes = data as Uint8Array;
      const at = row * (dim + 8);
      const scaleBits = readUint32(bytes, at + dim);
      const biasBits = readUint32(bytes, at + dim + 4);
      const scale = bitsFloat(scaleBits);
      const bias = bitsFloat(biasBits);
      for (let i = 0; i < dim; i++) dequantizeValue(bytes[at + i]!, scale, scaleBits, bias, biasBits, out, outOffset + i);
      return;
    }
    case 'int4': {
      const bytes = data as Uint8Array;
      const codeBytes = dim >> 1;
      const at = row * (codeBytes + 4);
      const table = float16Table();
      const scaleHalf = readUint16(bytes, at + codeBytes);
      const biasHalf = readUint16(bytes, at + codeBytes + 2);
      const scaleBits = float16Bits![scaleHalf]!;
      const biasBits = float16Bits![biasHalf]!;
      const scale = table[scaleHalf]!;
      const bias = table[biasHalf]!;
      for (let i = 0; i < codeBytes; i++) {
        const pair = bytes[at + i]!;
        dequantizeValue(pair & 15, scale, scaleBits, bias, biasBits, out, outOffset + 2 * i);
        dequantizeValue(pair >> 4, scale, scaleBits, bias, biasBits, out, outOffset + 2 * i + 1);
      }
      return;
    }
  }
}

/**
 * The float32 table a packed table stands for, as torch computes it: exact widening of float16
 * and bfloat16 (.float()); scale * code + bias for int8 and int4 rows (embedding_bag_byte_unpack,
 * embedding_bag_4bit_unpack). `data` is a Float32Array for float32 (copied), a Uint16Array of bits
 * for float16 and bfloat16, a Uint8Array of rows for int8 and int4.
 */
export function dequantize(data: PackedTable, dim: number, dtype: Dtype): Float32Array {
  const where = 'dequantize';
  const checkedDtype = checkDtype(where, dtype);
  checkDim(where, dim, checkedDtype);
  if (!hasArrayTypeFor(data, checkedDtype)) {
    throw new TypeError(`${where}: data must be a ${ARRAY_TYPE_FOR[checkedDtype]} for ${checkedDtype}, got ${describe(data)}`);
  }
  const perRow = rowLength(dim, checkedDtype);
  if (data.length % perRow !== 0) {
    throw new RangeError(
      `${where}: data.length must be a multiple of ${perRow} (one ${checkedDtype} row of dim ${dim}), got ${data.length}`,
    );
  }
  const rows = data.length / perRow;
  const out = new Float32Array(rows * dim);
  for (let row = 0; row < rows; row++) dequantizeRow(data, dim, checkedDtype, row, out, row * dim);
  return out;
}

/** Whether this host stores numbers little-endian (the files' byte order). */
export const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/**
 * Reverses the bytes of each of `count` float32 values from byte `start`: little-endian file
 * values on a big-endian host (the word2vec binary reader's twin and writer).
 */
export function swapFloat32Bytes(bytes: Uint8Array, start: number, count: number): void {
  for (let i = start; i < start + 4 * count; i += 4) {
    const a = bytes[i]!;
    const b = bytes[i + 1]!;
    bytes[i] = bytes[i + 3]!;
    bytes[i + 1] = bytes[i + 2]!;
    bytes[i + 2] = b;
    bytes[i + 3] = a;
  }
}
