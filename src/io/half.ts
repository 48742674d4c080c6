// 16-bit floats: IEEE half (F16) and bfloat16 (BF16), to and from float32. Reading converts exactly
// (every half and bfloat16 value is a float32); writing rounds to nearest, ties to even, as torch's
// .half() and .bfloat16() do (NaN becomes a quiet NaN of the same sign, overflow becomes infinity).

let halfToFloatTable: Float32Array | null = null;

/** float32 value of every F16 bit pattern, built on first use (256 KiB). */
function halfTable(): Float32Array {
  if (halfToFloatTable !== null) return halfToFloatTable;
  const table = new Float32Array(65536);
  for (let h = 0; h < 65536; h++) {
    const sign = h & 0x8000 ? -1 : 1;
    const exponent = (h >> 10) & 0x1f;
    const mantissa = h & 0x3ff;
    if (exponent === 0) table[h] = sign * mantissa * 2 ** -24;
    else if (exponent === 31) table[h] = mantissa === 0 ? sign * Infinity : NaN;
    else table[h] = sign * (1024 + mantissa) * 2 ** (exponent - 25);
  }
  halfToFloatTable = table;
  return table;
}

/** The float32 value of one F16 bit pattern. */
export function halfBitsToFloat(bits: number): number {
  return halfTable()[bits & 0xffff]!;
}

/** Converts little-endian F16 values (bytes at `bytes`) to float32 into `out`. */
export function halfToFloat(bytes: Uint8Array, out: Float32Array): void {
  const table = halfTable();
  const n = out.length;
  if (bytes.byteOffset % 2 === 0) {
    const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
    for (let i = 0; i < n; i++) out[i] = table[halves[i]!]!;
  } else {
    for (let i = 0; i < n; i++) out[i] = table[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
  }
}

/** Converts little-endian BF16 values to float32 into `out`: the top half of each float's bits. */
export function bfloat16ToFloat(bytes: Uint8Array, out: Float32Array): void {
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  const n = out.length;
  if (bytes.byteOffset % 2 === 0) {
    const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
    for (let i = 0; i < n; i++) bits[i] = halves[i]! << 16;
  } else {
    for (let i = 0; i < n; i++) bits[i] = (bytes[2 * i]! | (bytes[2 * i + 1]! << 8)) << 16;
  }
}

/** The F16 bit pattern nearest a float32 given by its bits (ties to even). */
export function floatBitsToHalf(bits: number): number {
  const sign = (bits >>> 16) & 0x8000;
  const exponent = (bits >>> 23) & 0xff;
  const mantissa = bits & 0x7fffff;
  if (exponent === 0xff) return mantissa === 0 ? sign | 0x7c00 : sign | 0x7e00 | (mantissa >>> 13);
  const e = exponent - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // A half subnormal (or zero): the significand, with its implicit bit, shifted into place.
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

/** The BF16 bit pattern nearest a float32 given by its bits (ties to even; NaN stays a quiet NaN). */
export function floatBitsToBfloat16(bits: number): number {
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) & 0x8000) | 0x7fc0;
  return ((bits >>> 0) + 0x7fff + ((bits >>> 16) & 1)) >>> 16;
}

/** Encodes float32 values as little-endian F16 or BF16 bytes. */
export function floatTo16(values: Float32Array, dtype: 'F16' | 'BF16'): Uint8Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  const convert = dtype === 'F16' ? floatBitsToHalf : floatBitsToBfloat16;
  for (let i = 0; i < bits.length; i++) out[i] = convert(bits[i]!);
  return new Uint8Array(out.buffer);
}
