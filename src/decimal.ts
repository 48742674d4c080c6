// The double arithmetic both decimal readers round with: TextParser's (io/word-vectors/text.ts,
// float-text.ts) and parseTextLines' TypeScript twin (backends/js-text.ts, native/parse_text.cc's
// decisions). A decimal is scaled to a double in a few roundings, and that double is kept as the
// float32 only where it cannot be on the wrong side of a tie between two float32s.
import { LITTLE_ENDIAN } from './dtype.js';

/** 10^0 .. 10^22, each exact in a double. */
export const POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));
export const MIN_NORMAL_FLOAT32 = 2 ** -126;
export const MAX_FLOAT32 = (2 - 2 ** -23) * 2 ** 127;
/** How many double ulps an approximate double may be off; closer than this to a float32 rounding boundary, decide exactly. */
export const ROUNDING_SLACK = 64;
const doubleBits = new Float64Array(1);
const doubleWords = new Uint32Array(doubleBits.buffer);
const LOW_WORD = LITTLE_ENDIAN ? 0 : 1;

/**
 * Whether storing x (positive, an approximation within `slack` double ulps of a decimal's value;
 * 0: the double nearest it) into a Float32Array gives the float32 nearest to the decimal: x is a
 * normal float32 magnitude, and not within the slack of a midpoint between two float32s (where
 * rounding the decimal to a double first could decide the tie the wrong way). A double's low 29
 * mantissa bits are those float32 drops; the midpoint is 1 followed by 28 zeros.
 */
export function roundsSafely(x: number, slack = ROUNDING_SLACK): boolean {
  if (!(x >= MIN_NORMAL_FLOAT32 && x < MAX_FLOAT32)) return false;
  doubleBits[0] = x;
  const dropped = doubleWords[LOW_WORD]! & 0x1fffffff;
  return dropped > 0x10000000 + slack || dropped < 0x10000000 - slack;
}

/**
 * mantissa * 10^exp10 (mantissa >= 1) as a double, within a few ulps (one rounding per factor of
 * 10^22); exponents far outside the float32 range give Infinity or 0 at once.
 */
export function scaleDecimal(mantissa: number, exp10: number): number {
  if (exp10 > 330) return Infinity;
  if (exp10 < -400) return 0;
  let x = mantissa;
  while (exp10 > 22) {
    x *= 1e22;
    exp10 -= 22;
  }
  while (exp10 < -22) {
    x /= 1e22;
    exp10 += 22;
  }
  return exp10 >= 0 ? x * POWERS_OF_TEN[exp10]! : x / POWERS_OF_TEN[-exp10]!;
}
