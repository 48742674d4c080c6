// 16-bit floats in files: little-endian F16 (IEEE half) and BF16 bytes to and from float32, each
// value converted as src/dtype.ts converts it, which is as torch's .float(), .half() and .bfloat16()
// do: reading is exact (a signalling F16 NaN is quieted); writing rounds to nearest, ties to even,
// overflow becomes infinity, and a NaN becomes torch's NaN (F16 sign | 0x7e00, BF16 0xffff).
import { floatBitsToBfloat16Bits, floatBitsToFloat16Bits, float16WideningBits } from '../dtype.js';

/** Converts little-endian F16 values (bytes at `bytes`) to float32 into `out`. */
export function halfToFloat(bytes: Uint8Array, out: Float32Array): void {
  const table = float16WideningBits();
  const bits = new Uint32Array(out.buffer, out.byteOffset, out.length);
  const n = out.length;
  if (bytes.byteOffset % 2 === 0) {
    const halves = new Uint16Array(bytes.buffer, bytes.byteOffset, n);
    for (let i = 0; i < n; i++) bits[i] = table[halves[i]!]!;
  } else {
    for (let i = 0; i < n; i++) bits[i] = table[bytes[2 * i]! | (bytes[2 * i + 1]! << 8)]!;
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

/** Encodes float32 values as little-endian F16 or BF16 bytes. */
export function floatTo16(values: Float32Array, dtype: 'F16' | 'BF16'): Uint8Array {
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const out = new Uint16Array(values.length);
  const convert = dtype === 'F16' ? floatBitsToFloat16Bits : floatBitsToBfloat16Bits;
  for (let i = 0; i < bits.length; i++) out[i] = convert(bits[i]!);
  return new Uint8Array(out.buffer);
}
