// INTERIM (replaced by the issue14-dtype branch's src/dtype.ts): just what the kernels' twins need.
export type Dtype = 'float32' | 'float16' | 'bfloat16' | 'int8' | 'int4';
export const DTYPES: readonly Dtype[] = ['float32', 'float16', 'bfloat16', 'int8', 'int4'];
export function rowBytes(dim: number, dtype: Dtype): number {
  switch (dtype) {
    case 'float16': case 'bfloat16': return 2 * dim;
    case 'int8': return dim + 8;
    case 'int4': return dim / 2 + 4;
    default: return 4 * dim;
  }
}
const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
export function float16BitsToFloat(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0x1f) return m ? NaN : sign * Infinity;
  if (e === 0) return sign * m * 2 ** -24;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}
export function bfloat16BitsToFloat(b: number): number {
  u32[0] = b << 16;
  return f32[0]!;
}
function fmaf(a: number, b: number, c: number): number {
  return Math.fround(a * b + c);
}
export function dequantizeRow(data: Uint8Array | Uint16Array, dim: number, dtype: Dtype, row: number, out: Float32Array, outOffset: number): void {
  if (dtype === 'float16' || dtype === 'bfloat16') {
    const widen = dtype === 'float16' ? float16BitsToFloat : bfloat16BitsToFloat;
    for (let j = 0; j < dim; j++) out[outOffset + j] = widen(data[row * dim + j]!);
    return;
  }
  const bytes = data as Uint8Array;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const base = row * rowBytes(dim, dtype);
  if (dtype === 'int8') {
    const scale = view.getFloat32(base + dim, true);
    const bias = view.getFloat32(base + dim + 4, true);
    for (let j = 0; j < dim; j++) out[outOffset + j] = fmaf(bytes[base + j]!, scale, bias);
    return;
  }
  const scale = float16BitsToFloat(view.getUint16(base + dim / 2, true));
  const bias = float16BitsToFloat(view.getUint16(base + dim / 2 + 2, true));
  for (let j = 0; j < dim; j++) out[outOffset + j] = fmaf((bytes[base + (j >> 1)]! >> ((j & 1) * 4)) & 15, scale, bias);
}
export function floatToBfloat16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  if ((b & 0x7fffffff) > 0x7f800000) return ((b >>> 16) | 0x40) & 0xffff;
  return ((b + 0x7fff + ((b >>> 16) & 1)) >>> 16) & 0xffff;
}
export function floatToFloat16Bits(x: number): number {
  f32[0] = x;
  const b = u32[0]!;
  const sign = (b >>> 16) & 0x8000;
  const a = Math.abs(f32[0]!);
  if (Number.isNaN(a)) return sign | 0x7e00;
  if (a >= 65520) return sign | 0x7c00;
  if (a < 2 ** -14) {
    const m = a / 2 ** -24;
    let r = Math.round(m);
    if (Math.abs(m - Math.trunc(m) - 0.5) === 0 && (Math.trunc(m) % 2 === 0)) r = Math.trunc(m);
    return sign | r;
  }
  const e = Math.floor(Math.log2(a));
  let m = a / 2 ** e * 1024 - 1024;
  let r = Math.round(m);
  if (m - Math.trunc(m) === 0.5 && Math.trunc(m) % 2 === 0) r = Math.trunc(m);
  let ee = e + 15;
  if (r === 1024) { r = 0; ee++; }
  return sign | (ee << 10) | r;
}
export function quantize(weights: Float32Array, dim: number, dtype: Dtype): Float32Array | Uint16Array | Uint8Array {
  const rows = weights.length / dim;
  if (dtype === 'float32') return weights.slice();
  if (dtype === 'float16' || dtype === 'bfloat16') {
    const f = dtype === 'float16' ? floatToFloat16Bits : floatToBfloat16Bits;
    return Uint16Array.from(weights, (x) => f(x));
  }
  const rb = rowBytes(dim, dtype);
  const out = new Uint8Array(rows * rb);
  const view = new DataView(out.buffer);
  for (let r = 0; r < rows; r++) {
    let min = Infinity, max = -Infinity;
    for (let j = 0; j < dim; j++) { const x = weights[r * dim + j]!; min = Math.min(min, x); max = Math.max(max, x); }
    if (dtype === 'int8') {
      const range = Math.fround(max - min);
      const scale = Math.fround(range / 255);
      const inv = Math.fround(255 / Math.fround(range + 1e-8));
      for (let j = 0; j < dim; j++) out[r * rb + j] = Math.round(Math.fround(Math.fround(weights[r * dim + j]! - min) * inv));
      view.setFloat32(r * rb + dim, scale, true);
      view.setFloat32(r * rb + dim + 4, min, true);
    } else {
      const bias = float16BitsToFloat(floatToFloat16Bits(min));
      const range = Math.fround(max - bias);
      let scale = range === 0 ? 1 : Math.fround(range / 15);
      scale = float16BitsToFloat(floatToFloat16Bits(scale));
      if (scale === 0) scale = 1;
      const inv = Math.fround(1 / scale);
      for (let j = 0; j < dim; j++) {
        const q = Math.max(0, Math.min(15, Math.round(Math.fround(Math.fround(weights[r * dim + j]! - bias) * inv))));
        out[r * rb + (j >> 1)] |= q << ((j & 1) * 4);
      }
      view.setUint16(r * rb + dim / 2, floatToFloat16Bits(scale), true);
      view.setUint16(r * rb + dim / 2 + 2, floatToFloat16Bits(bias), true);
    }
  }
  return out;
}
export function dequantize(data: Float32Array | Uint16Array | Uint8Array, dim: number, dtype: Dtype): Float32Array {
  if (dtype === 'float32') return (data as Float32Array).slice();
  const rows = data.byteLength / rowBytes(dim, dtype);
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) dequantizeRow(data as Uint8Array, dim, dtype, r, out, r * dim);
  return out;
}
