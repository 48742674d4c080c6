// Decimal <-> float32, exactly: the text readers' rounding (C's strtof, to nearest) and the
// writers' shortest decimal that reads back as the same float32.
// The double arithmetic (powers of ten, scaleDecimal, roundsSafely) is src/decimal.ts's.
import { MAX_FLOAT32, POWERS_OF_TEN, scaleDecimal } from '../../decimal.js';

/** Mantissas below this take one more digit and stay below 2^53 (exact in a double). */
export const MANTISSA_LIMIT = 900719925474099;

/** Significant digits beyond these cannot change a float32 rounding except as "something nonzero follows". */
const EXACT_DIGITS = 800;
/** A decimal number: sign, digits with an optional point (a digit on either side), exponent. */
const DECIMAL = /^([+-]?)(?=\.?\d)(\d*)(?:\.(\d*))?(?:[eE]([+-]?\d+))?$/;

function bitLength(n: bigint): number {
  return n.toString(2).length;
}

/**
 * The float32 nearest to a decimal number (ties to even), as C's strtof: ±Infinity beyond the
 * float32 range, ±0 below half the smallest subnormal. Exact (BigInt arithmetic): for the rare
 * numbers the fast paths cannot decide. `text` is a valid decimal (sign, digits, point, exponent).
 */
export function decimalToFloat32(text: string): number {
  const match = DECIMAL.exec(text);
  if (match === null) throw new Error(`not a decimal number: ${JSON.stringify(text.slice(0, 40))}`);
  const negative = match[1] === '-';
  const fraction = match[3] ?? '';
  let digits = (match[2]! + fraction).replace(/^0+/, '');
  const written = digits;
  digits = digits.replace(/0+$/, '');
  // value = digits * 10^exp10; an absurd exponent only needs to stay absurd.
  let exp10 = Math.max(-1e9, Math.min(1e9, Number(match[4] ?? '0'))) - fraction.length + (written.length - digits.length);
  const signed = (magnitude: number): number => (negative ? -magnitude : magnitude);
  if (digits === '') return signed(0);
  if (digits.length > EXACT_DIGITS) {
    // Keep a nonzero digit in place of the rest: it breaks a tie the way the dropped digits do.
    exp10 += digits.length - (EXACT_DIGITS + 1);
    digits = `${digits.slice(0, EXACT_DIGITS)}1`;
  }
  const order = exp10 + digits.length; // value in [10^(order-1), 10^order)
  if (order > 39) return signed(Infinity); // >= 1e39 > the largest float32
  if (order < -45) return signed(0); // < 1e-46 < 2^-150, half the smallest subnormal
  const numerator = BigInt(digits) * (exp10 > 0 ? 10n ** BigInt(exp10) : 1n);
  const denominator = exp10 < 0 ? 10n ** BigInt(-exp10) : 1n;
  // Find the power of two 2^k that puts the quotient in [2^23, 2^24) (or k = -149, subnormals).
  let k = Math.max(-149, bitLength(numerator) - bitLength(denominator) - 24);
  let quotient = 0n;
  let remainder = 0n;
  let divisor = 0n;
  for (;;) {
    const scaledNumerator = k < 0 ? numerator << BigInt(-k) : numerator;
    divisor = k > 0 ? denominator << BigInt(k) : denominator;
    quotient = scaledNumerator / divisor;
    remainder = scaledNumerator % divisor;
    if (quotient >= 1n << 24n) k++;
    else if (quotient < 1n << 23n && k > -149) k--;
    else break;
  }
  const twice = remainder * 2n;
  if (twice > divisor || (twice === divisor && (quotient & 1n) === 1n)) quotient++;
  const magnitude = Number(quotient) * 2 ** k;
  return signed(magnitude > MAX_FLOAT32 ? Infinity : magnitude);
}

/**
 * Whether the decimal digits * 10^exp10 (digits a positive integer below 2^53) reads back as
 * `value`, a float32 whose rounding interval has the bounds low and high (the midpoints to its
 * neighbours). With |exp10| <= 22 the double nearest the decimal is one multiplication or
 * division away, and since the bounds are doubles, it is strictly inside them exactly when the
 * decimal is; a double on a bound (or a larger exponent) is decided exactly.
 */
function readsBackAs(digits: number, exp10: number, value: number, low: number, high: number): boolean {
  if (exp10 >= -22 && exp10 <= 22) {
    const x = exp10 >= 0 ? digits * POWERS_OF_TEN[exp10]! : digits / POWERS_OF_TEN[-exp10]!;
    if (x > low && x < high) return true;
    if (x < low || x > high) return false;
  }
  return decimalToFloat32(`${digits}e${exp10}`) === value;
}

const float32Scratch = new Float32Array(1);
const float32ScratchBits = new Uint32Array(float32Scratch.buffer);

/** Longest text formatFloat32 writes: "-1.23456789e-45". */
export const MAX_FLOAT32_TEXT = 15;
const digitScratch = new Uint8Array(12);

/**
 * Writes the shortest decimal that reads back (rounded to nearest float32) as `value`, a finite
 * float32, into `out` at `at` (at most MAX_FLOAT32_TEXT bytes); returns the end. Of two shortest
 * candidates the nearer is written. Notation as JavaScript's: 0.25, -0, 1.5e-7, 1e+21.
 */
export function formatFloat32(value: number, out: Uint8Array, at: number): number {
  let p = at;
  if (value < 0 || Object.is(value, -0)) {
    out[p++] = 45;
    value = -value;
  }
  if (value === 0) {
    out[p++] = 48;
    return p;
  }
  // The decimals that read back as value lie between the midpoints to its float32 neighbours.
  float32Scratch[0] = value;
  const bits = float32ScratchBits[0]!;
  float32ScratchBits[0] = bits - 1;
  const below = float32Scratch[0]!;
  float32ScratchBits[0] = bits + 1;
  const above = float32Scratch[0]!;
  const low = (value + below) / 2;
  const high = above === Infinity ? value + (value - below) / 2 : (value + above) / 2;
  // scaled ~ value * 10^(8 - order), 9 digits before the point: [1e8, 1e9).
  let order = Math.floor(Math.log10(value));
  let scaled = scaleDecimal(value, 8 - order);
  if (scaled >= 1e9) scaled = scaleDecimal(value, 8 - ++order);
  else if (scaled < 1e8) scaled = scaleDecimal(value, 8 - --order);
  // Fewer digits fit whenever more do not fail: try 9, 8, ... digits until none reads back. Of
  // the p-digit decimals the nearest below and above `value` are the only candidates.
  let digits = 0;
  let exp10 = 0;
  for (let count = 9; count >= 1; count--) {
    const t = count === 9 ? scaled : scaled / POWERS_OF_TEN[9 - count]!;
    const floor = Math.floor(t);
    const exponent = order - count + 1;
    const floorReads = readsBackAs(floor, exponent, value, low, high);
    const ceilingReads = readsBackAs(floor + 1, exponent, value, low, high);
    if (!floorReads && !ceilingReads) break;
    digits = floorReads && (!ceilingReads || t - floor <= floor + 1 - t) ? floor : floor + 1;
    exp10 = exponent;
  }
  // Nine digits always identify a float32; this guards the loops below against a broken invariant.
  if (digits === 0) throw new Error(`formatFloat32: no decimal reads back as ${value}`);
  // digits <= 10^9 < 2^31: int32 arithmetic (a double % is a call to fmod).
  digits |= 0;
  while (digits === ((digits / 10) | 0) * 10) {
    digits = (digits / 10) | 0;
    exp10++;
  }
  let length = 0;
  for (let rest = digits; rest > 0; ) {
    const tenth = (rest / 10) | 0;
    digitScratch[length++] = 48 + rest - tenth * 10;
    rest = tenth;
  }
  const point = length + exp10; // value = 0.d1d2... * 10^point
  if (exp10 >= 0 && point <= 21) {
    for (let i = length - 1; i >= 0; i--) out[p++] = digitScratch[i]!;
    for (let i = 0; i < exp10; i++) out[p++] = 48;
  } else if (point > 0 && point <= 21) {
    for (let i = length - 1; i >= 0; i--) {
      if (length - 1 - i === point) out[p++] = 46;
      out[p++] = digitScratch[i]!;
    }
  } else if (point > -6 && point <= 0) {
    out[p++] = 48;
    out[p++] = 46;
    for (let i = 0; i < -point; i++) out[p++] = 48;
    for (let i = length - 1; i >= 0; i--) out[p++] = digitScratch[i]!;
  } else {
    out[p++] = digitScratch[length - 1]!;
    if (length > 1) {
      out[p++] = 46;
      for (let i = length - 2; i >= 0; i--) out[p++] = digitScratch[i]!;
    }
    out[p++] = 101;
    const exponent = point - 1;
    out[p++] = exponent < 0 ? 45 : 43;
    const magnitude = Math.abs(exponent);
    const tens = (magnitude / 10) | 0;
    if (tens > 0) out[p++] = 48 + tens;
    out[p++] = 48 + magnitude - tens * 10;
  }
  return p;
}
