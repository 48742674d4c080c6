// parseTextLines in TypeScript: native/parse_text.cc's contract and decisions, line for line and
// number for number (the same lines are clean, the same numbers decided), for the js backend.

import { POWERS_OF_TEN, ROUNDING_SLACK, roundsSafely, scaleDecimal } from '../decimal.js';

const TWO_24 = 2 ** 24;
const TWO_53 = 2 ** 53;
const MAX_SIGNIFICANT_DIGITS = 19;

/**
 * decide_float32: the float32 nearest to mantissa * 10^exp10 when quick to decide exactly, else
 * NaN. `mantissa` is exact (a number below 2^53, or a bigint).
 */
export function decideFloat32(mantissa: number | bigint, exp10: number): number {
  const m = typeof mantissa === 'bigint' ? Number(mantissa) : mantissa; // rounded to nearest, as C++'s conversion
  const exact = typeof mantissa === 'number' || mantissa <= 2n ** 53n;
  if (exact && m <= TWO_24 && exp10 >= -10 && exp10 <= 10) {
    // Float operands: the double result rounded to float32 is the float operation's (53 >= 2 * 24 + 2).
    return Math.fround(exp10 < 0 ? m / POWERS_OF_TEN[-exp10]! : m * POWERS_OF_TEN[exp10]!);
  }
  // x: the double nearest the decimal (both operands exact: slack 0, only a double on the tie
  // itself is undecided), else within a few roundings of it.
  let x: number;
  let slack: number;
  if (exact && m <= TWO_53 && exp10 >= -22 && exp10 <= 22) {
    x = exp10 < 0 ? m / POWERS_OF_TEN[-exp10]! : m * POWERS_OF_TEN[exp10]!;
    slack = 0;
  } else {
    if (exp10 > 60 || exp10 < -80) return NaN;
    x = scaleDecimal(m, exp10);
    slack = ROUNDING_SLACK;
  }
  return roundsSafely(x, slack) ? Math.fround(x) : NaN;
}

/**
 * Where the number at p ends (after it, at most `limit`, the line's '\n'), its value in `value[0]`;
 * -1 when not a number decided here. Scans stop at `limit` by position (as native/parse_text.cc's).
 */
function parseNumber(text: Uint8Array, p: number, limit: number, value: Float64Array): number {
  let negative = false;
  let c = text[p]!;
  if (c === 45) {
    negative = true;
    p++;
  } else if (c === 43) {
    p++;
  }
  let mantissa = 0;
  let big = 0n; // the mantissa once it passes 2^53
  let isBig = false;
  let significant = 0;
  let digits = 0;
  let exp10 = 0;
  let fraction = false;
  for (; p < limit; ) {
    c = text[p]!;
    if (c === 46 && !fraction) {
      fraction = true;
      p++;
      continue;
    }
    const d = c - 48;
    if (d < 0 || d > 9) break;
    digits++;
    if (fraction) exp10--;
    p++;
    if (mantissa === 0 && !isBig && d === 0) continue;
    significant++;
    if (isBig) {
      // Past 19 significant digits the number is declined: no more BigInt work (it grew quadratically).
      if (significant <= MAX_SIGNIFICANT_DIGITS) big = big * 10n + BigInt(d);
    } else if (mantissa * 10 + d > TWO_53) {
      isBig = true;
      big = BigInt(mantissa) * 10n + BigInt(d);
    } else {
      mantissa = mantissa * 10 + d;
    }
  }
  if (digits === 0) return -1;
  c = text[p]!;
  if (p < limit && (c === 101 || c === 69)) {
    p++;
    let exponentNegative = false;
    c = text[p]!;
    if (p < limit && (c === 45 || c === 43)) {
      exponentNegative = c === 45;
      p++;
    }
    let exponent = 0;
    const first = p;
    for (; p < limit; ) {
      const d = text[p]! - 48;
      if (d < 0 || d > 9) break;
      if (exponent < 1e15) exponent = exponent * 10 + d; // see native/parse_text.cc kExponentCap
      p++;
    }
    if (p === first) return -1;
    exp10 += exponentNegative ? -exponent : exponent;
  }
  c = text[p]!;
  if ((p < limit && !(c === 32 || c === 9 || c === 13)) || significant > MAX_SIGNIFICANT_DIGITS) return -1;
  let x = 0;
  if (isBig || mantissa !== 0) {
    x = decideFloat32(isBig ? big : mantissa, exp10);
    if (Number.isNaN(x)) return -1;
  }
  value[0] = negative ? -x : x;
  return p;
}

const scratch = new Float64Array(1);

/** backend.ts parseTextLines (native/parse_text.h), on one thread. */
export function parseTextLinesJs(
  text: Uint8Array, start: number, end: number, weight: Float32Array, firstRow: number, dim: number, maxLines: number,
  maxWordBytes: number, maxLineBytes: number, lineEnds: Int32Array, wordEnds: Int32Array,
): number {
  if (!(start <= end && end <= text.length && end < 2 ** 31)) throw new RangeError('parseTextLines: start and end must satisfy start <= end <= text.length, end below 2^31');
  if (lineEnds.length < maxLines || wordEnds.length < maxLines) throw new RangeError('parseTextLines: lineEnds and wordEnds must hold maxLines values');
  if ((firstRow + maxLines) * dim > weight.length) throw new RangeError('parseTextLines: weight must hold rows firstRow + maxLines of dim values');
  let p = start;
  let line = 0;
  lines: while (p < end && line < maxLines) {
    let c = text[p]!;
    if (c === 32 || c === 9 || c === 13 || c === 10) break;
    const newline = text.indexOf(10, p);
    if (newline < 0 || newline >= end || newline + 1 - p > maxLineBytes) break;
    let q = p;
    while (q < newline && (c = text[q]!) !== 32 && c !== 9 && c !== 13) q++;
    if (q - p > maxWordBytes) break;
    const wordEnd = q;
    const base = (firstRow + line) * dim;
    for (let j = 0; j < dim; j++) {
      while (q < newline && ((c = text[q]!) === 32 || c === 9)) q++;
      if (q === newline || text[q] === 13) break lines;
      q = parseNumber(text, q, newline, scratch);
      if (q < 0) break lines;
      weight[base + j] = scratch[0]!;
    }
    while (q < newline && ((c = text[q]!) === 32 || c === 9)) q++;
    if (q < newline && text[q] === 13) q++;
    if (q !== newline) break;
    wordEnds[line] = wordEnd;
    lineEnds[line] = newline + 1;
    p = newline + 1;
    line++;
  }
  return line;
}

/** backend.ts countRecords (native/parse_text.h count_records), on one thread. */
export function countRecordsJs(text: Uint8Array, start: number, end: number, atLineStart: number, limit: number): number {
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= text.length)) {
    throw new RangeError('countRecords: start and end must satisfy start <= end <= text.length');
  }
  if (atLineStart !== 0 && atLineStart !== 1) throw new RangeError('countRecords: atLineStart must be 0 or 1');
  if (!(Number.isSafeInteger(limit) && limit >= 0)) throw new RangeError('countRecords: limit must be an integer >= 0');
  const startsRecord = (c: number) => !(c === 32 || c === 9 || c === 13 || c === 10);
  let records = atLineStart === 1 && start < end && startsRecord(text[start]!) ? 1 : 0;
  for (let p = start; records < limit; ) {
    const newline = text.indexOf(10, p);
    if (newline < 0 || newline >= end - 1) break;
    p = newline + 1;
    if (startsRecord(text[p]!)) records++;
  }
  return Math.min(records, limit);
}
