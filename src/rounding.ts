// How an optimizer step writes a float16 or bfloat16 table: each updated row is computed in float32
// (the float32 table's rule, the same bits), then rounded back to the table's 16 bits, either to
// nearest with ties to even (dtype.ts: exactly quantize()'s bits, NaNs included) or stochastically.
//
// Stochastic rounding (FBGEMM's stochastic_rounding): a finite value between two neighbouring
// representable values lo < |x| < hi (hi may be infinity, one past the largest finite value) becomes
// hi with probability (|x| - lo) / (hi - lo), else lo, so that its expected value is x; a value the
// format holds never changes; NaN and infinities round as nearest-even does. The probability is
// compared with 32 random bits: r < floor((|x| - lo) / (hi - lo) * 2^32), exact whenever the
// discarded part has at most 32 bits (every bfloat16 and normal float16 result, and float16
// subnormals down to 2^-32). The random bits are a counter-based hash of (seed, step, row, column):
//   key  = mix32(mix32(k0 ^ step) ^ k1)       per update of a table (k0, k1 = seedKeys(seed))
//   r    = mix32(mix32(key ^ row) + column * 0x9e3779b9)
// (mix32: lowbias32, init.ts), so every backend, tier and thread count draws the same bits.
// native/narrow_rows.h is the C++ of the same.
import { floatBitsToBfloat16Bits, floatBitsToFloat16Bits } from './dtype.js';
import { mix32, seedKeys } from './init.js';

/** The rounding argument of the kernels: nearest even. Any other value is a stochastic rounding's key (uint32). */
export const ROUND_NEAREST_EVEN = -1;

/** The key of update number `step` (0, 1, ..) of a table under a seed. */
export function roundingKey(seed: number, step: number): number {
  const [k0, k1] = seedKeys(seed);
  return mix32((mix32((k0 ^ step) >>> 0) ^ k1) >>> 0);
}

/** The key of a row: what the random bits of its columns are drawn from. */
export function rowRoundingKey(key: number, row: number): number {
  return mix32((key ^ row) >>> 0);
}

/** The 32 random bits of a column of a row (rowKey from rowRoundingKey). */
export function roundingBits(rowKey: number, column: number): number {
  return mix32((rowKey + Math.imul(column, 0x9e3779b9)) >>> 0);
}

/** float32 bits -> float16 bits, stochastically with the 32 random bits r (see the header). */
export function stochasticFloat16Bits(bits: number, r: number): number {
  const magnitude = bits & 0x7fffffff;
  if (magnitude >= 0x7f800000) return floatBitsToFloat16Bits(bits); // NaN and infinities
  const sign = (bits >>> 16) & 0x8000;
  if (magnitude >= 0x47800000) return sign | 0x7c00; // >= 2^16: beyond infinity's place, whatever r
  const exponent = magnitude >>> 23;
  let lo: number;
  let threshold: number;
  if (exponent >= 113) {
    // A normal float16: 13 bits dropped.
    lo = ((exponent - 112) << 10) | ((magnitude & 0x7fffff) >>> 13);
    threshold = (magnitude & 0x1fff) * 2 ** 19;
  } else {
    // A float16 subnormal (or zero): units of 2^-24; the significand m is worth m * 2^(exponent - 150).
    const significand = exponent === 0 ? magnitude : (magnitude & 0x7fffff) | 0x800000;
    const shift = exponent === 0 ? 125 : 126 - exponent;
    lo = shift >= 24 ? 0 : significand >>> shift;
    const rest = shift >= 24 ? significand : significand & ((1 << shift) - 1);
    threshold = shift <= 32 ? rest * 2 ** (32 - shift) : Math.floor(rest / 2 ** (shift - 32));
  }
  return sign | (lo + (r < threshold ? 1 : 0));
}

/** float32 bits -> bfloat16 bits, stochastically with the 32 random bits r (see the header). */
export function stochasticBfloat16Bits(bits: number, r: number): number {
  if ((bits & 0x7fffffff) >= 0x7f800000) return floatBitsToBfloat16Bits(bits); // NaN and infinities
  const threshold = (bits & 0xffff) * 0x10000;
  return (bits >>> 16) + (r < threshold ? 1 : 0);
}

/**
 * Rounds float32 bits values[from + j] (j < dim) into 16-bit bits out[to + j]: nearest even when
 * rounding is ROUND_NEAREST_EVEN, else stochastically with key `rounding` for table row `row`.
 */
export function narrowRow(
  values: Uint32Array, from: number, out: Uint16Array, to: number, dim: number, bfloat16: boolean, rounding: number, row: number,
): void {
  if (rounding === ROUND_NEAREST_EVEN) {
    const narrow = bfloat16 ? floatBitsToBfloat16Bits : floatBitsToFloat16Bits;
    for (let j = 0; j < dim; j++) out[to + j] = narrow(values[from + j]!);
    return;
  }
  const narrow = bfloat16 ? stochasticBfloat16Bits : stochasticFloat16Bits;
  const rowKey = rowRoundingKey(rounding, row);
  for (let j = 0; j < dim; j++) out[to + j] = narrow(values[from + j]!, roundingBits(rowKey, j));
}
