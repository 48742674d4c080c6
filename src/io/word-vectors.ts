// Pretrained word vectors: the word2vec text and binary formats (the original C tool's and
// gensim's), fastText .vec files (word2vec text) and GloVe text files, read into a Vocabulary and
// an Embedding, and written back.
//
//   word2vec text    "V D\n", then V lines "word v1 ... vD\n" (the C tool and fastText leave a
//                    space before the '\n')
//   word2vec binary  "V D\n", then V records "word " + D little-endian float32; the C tool writes
//                    '\n' after each record, gensim does not
//   GloVe            lines "word v1 ... vD\n", no header; D is read from the first line
//
// In text files a word ends at the first space or tab. A few files have words that contain spaces
// (glove.840B.300d: ". . .", "at name@domain.com"): with options.wordsWithSpaces a line's last D
// fields are its vector and everything before them its word.
//
// Readers stream the file in chunks into the one Float32Array the Embedding adopts: text at
// hundreds of MB/s by scanning the bytes (no split or parseFloat per field), binary records
// copied straight into the table. They validate everything before they allocate or trust it; a
// malformed file gets a FileFormatError naming the file and the line (text) or record and byte
// offset (binary).
//
// Text values are rounded to the float32 nearest to the decimal, as C's strtof does, and written
// as the shortest decimal that reads back as the same float32, so text round trips are exact.
import path from 'node:path';
import { isUtf8 } from 'node:buffer';

import { Embedding } from '../embedding.js';
import { checkBoolean, checkInteger, checkOptions, describe } from '../validate.js';
import { type ProgressCallback } from './common.js';
import { CHUNK_BYTES, type ChunkReader, FileFormatError, type FileSink, allocateTable, openChunkReader, quoteText, writeFileAtomic } from './files.js';
import { MAX_VOCABULARY_SIZE, Vocabulary, vocabularyOfDistinct } from './vocabulary.js';

// ---------------------------------------------------------------------------------------------
// Public types

export interface LoadWordVectorsOptions {
  /**
   * Keep only the first `limit` words of the file: only their rows are allocated, and the rest
   * of the file is not read (a word2vec header's count is still checked against the file size).
   */
  limit?: number;
  /**
   * Called after each chunk read with the bytes read so far, and once at the end with bytes ===
   * totalBytes (also when `limit` ended the read early). GloVe reports its parsing pass (the
   * line-counting pass before it takes a fraction of the time).
   */
  onProgress?: ProgressCallback;
  /**
   * A reserved unknown-word entry (see Vocabulary): when the file does not contain this token it
   * gets a zero row, inserted before the file's words (after a reserved padding row).
   */
  unknown?: string;
  /**
   * A reserved padding entry (see Vocabulary), inserted with a zero row at index 0 when the file
   * does not contain it; either way its index is the embedding's paddingIdx.
   */
  padding?: string;
  /**
   * Text files: words may contain spaces (and tabs), as a few in glove.840B.300d do (". . .",
   * "at name@domain.com"). A line with more than D values then takes its last D fields as the
   * vector and everything before them as the word, the bytes as written (the separator before the
   * first value dropped). D still comes from the header, or for GloVe from the first line, whose
   * word must therefore contain no space. Lines with fewer than D values remain errors. Default
   * false: such a line is an error whose message suggests this option. Not for word2vec binary
   * (a binary word ends at its first space): a file read as binary with this option is refused
   * with a RangeError.
   */
  wordsWithSpaces?: boolean;
  /** Options of the Embedding built over the vectors; freeze defaults to true, as in fromPretrained. */
  freeze?: boolean;
  sparse?: boolean;
  maxNorm?: number | null;
  normType?: number;
  scaleGradByFreq?: boolean;
}

export interface LoadWord2VecOptions extends LoadWordVectorsOptions {
  /**
   * Whether the file is in the binary format. By default: binary when the file name ends in
   * .bin, text when it ends in .txt or .vec, otherwise text if the line after the header is a word
   * followed by D numbers, else binary. Errors say which was chosen and why.
   */
  binary?: boolean;
}

export interface WordVectors {
  vocabulary: Vocabulary;
  /** Row i is the vector of vocabulary.tokenAt(i); built with Embedding.fromPretrained. */
  embedding: Embedding;
}

/** What the writers read: an Embedding, or any row-major table of that shape. */
export interface WordVectorTable {
  readonly weight: Float32Array;
  readonly embeddingDim: number;
  readonly numEmbeddings: number;
}

export interface SaveWordVectorsOptions {
  /**
   * Called after each block of rows written, and once at the end with bytes === totalBytes.
   * Binary files know their size in advance; for text, totalBytes is extrapolated from the rows
   * written so far until the final call.
   */
  onProgress?: ProgressCallback;
}

export interface SaveWord2VecOptions extends SaveWordVectorsOptions {
  /** The binary format (the C tool's layout: "word " + float32s + '\n'). Default: the file name ends in .bin. */
  binary?: boolean;
}

/**
 * Chunk size of the loaders' streamed reads. Tests lower it so that chunk boundaries fall at
 * every position inside records; not part of the package's API.
 */
export const readSettings = { chunkBytes: CHUNK_BYTES };

// ---------------------------------------------------------------------------------------------
// Limits: what a valid file stays within, so that a hostile one is refused before it costs much.

/** The largest word count and dimension a header may declare. */
const MAX_WORDS = 2 ** 31 - 1;
const MAX_DIM = 2 ** 20;
/** The largest table an Embedding holds (a Float32Array's elements). */
const MAX_VALUES = 2 ** 32;
/** A word longer than this is taken as a sign of a wrong or corrupt file. */
const MAX_WORD_BYTES = 1 << 16;
/** The longest text line accepted: generous room for the word, separators and long numbers. */
function maxLineBytes(dim: number): number {
  return (1 << 20) + 256 * dim;
}

// ---------------------------------------------------------------------------------------------
// Decimal <-> float32, exactly

/** 10^0 .. 10^22, each exact in a double. */
const POWERS_OF_TEN = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));
/** Mantissas below this take one more digit and stay below 2^53 (exact in a double). */
const MANTISSA_LIMIT = 900719925474099;
const MIN_NORMAL_FLOAT32 = 2 ** -126;
const MAX_FLOAT32 = (2 - 2 ** -23) * 2 ** 127;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const doubleBits = new Float64Array(1);
const doubleWords = new Uint32Array(doubleBits.buffer);
const LOW_WORD = LITTLE_ENDIAN ? 0 : 1;
/** How many double ulps an approximate double may be off; closer than this to a float32 rounding boundary, decide exactly. */
const ROUNDING_SLACK = 64;

/**
 * Whether storing x (positive, an approximation within ROUNDING_SLACK double ulps of a decimal's
 * value) into a Float32Array gives the float32 nearest to the decimal: x is a normal float32
 * magnitude, and not within the slack of a midpoint between two float32s (where rounding the
 * decimal to a double first could decide the tie the wrong way). A double's low 29 mantissa bits
 * are those float32 drops; the midpoint is 1 followed by 28 zeros.
 */
function roundsSafely(x: number): boolean {
  if (!(x >= MIN_NORMAL_FLOAT32 && x < MAX_FLOAT32)) return false;
  doubleBits[0] = x;
  const dropped = doubleWords[LOW_WORD]! & 0x1fffffff;
  return dropped > 0x10000000 + ROUNDING_SLACK || dropped < 0x10000000 - ROUNDING_SLACK;
}

/**
 * mantissa * 10^exp10 (mantissa >= 1) as a double, within a few ulps (one rounding per factor of
 * 10^22); exponents far outside the float32 range give Infinity or 0 at once.
 */
function scaleDecimal(mantissa: number, exp10: number): number {
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
const MAX_FLOAT32_TEXT = 15;
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

// ---------------------------------------------------------------------------------------------
// Options

const LOAD_OPTION_NAMES = ['limit', 'onProgress', 'unknown', 'padding', 'wordsWithSpaces', 'freeze', 'sparse', 'maxNorm', 'normType', 'scaleGradByFreq'];

/** The options every loader takes, checked before the file is opened. */
interface LoadSettings {
  limit: number;
  onProgress: ProgressCallback | undefined;
  unknown: string | undefined;
  padding: string | undefined;
  /** Text lines with more than D values: the last D are the vector, the rest the word. */
  wordsWithSpaces: boolean;
  /** The Embedding's options (paddingIdx comes from the vocabulary). */
  embedding: { freeze: boolean; sparse?: boolean; maxNorm?: number | null; normType?: number; scaleGradByFreq?: boolean };
}

function checkLoadOptions(where: string, options: unknown, extraNames: readonly string[] = []): LoadSettings & { binary?: boolean } {
  const opts = checkOptions<LoadWord2VecOptions>(where, options, [...LOAD_OPTION_NAMES, ...extraNames]);
  const limit = opts.limit === undefined ? MAX_WORDS : Math.min(MAX_WORDS, checkInteger(where, 'options.limit', opts.limit, 1));
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') {
    throw new TypeError(`${where}: options.onProgress must be a function, got ${describe(opts.onProgress)}`);
  }
  for (const name of ['unknown', 'padding'] as const) {
    if (opts[name] !== undefined && typeof opts[name] !== 'string') {
      throw new TypeError(`${where}: options.${name} must be a string, got ${describe(opts[name])}`);
    }
  }
  const embedding: LoadSettings['embedding'] = { freeze: checkBoolean(where, 'options.freeze', opts.freeze, true) };
  if (opts.sparse !== undefined) embedding.sparse = checkBoolean(where, 'options.sparse', opts.sparse, false);
  if (opts.scaleGradByFreq !== undefined) embedding.scaleGradByFreq = checkBoolean(where, 'options.scaleGradByFreq', opts.scaleGradByFreq, false);
  if (embedding.sparse === true && embedding.scaleGradByFreq === true) {
    throw new RangeError(`${where}: options.sparse and options.scaleGradByFreq cannot both be true (as in torch)`);
  }
  if (opts.maxNorm !== undefined && opts.maxNorm !== null) {
    if (typeof opts.maxNorm !== 'number') throw new TypeError(`${where}: options.maxNorm must be a number or null, got ${describe(opts.maxNorm)}`);
    if (!(opts.maxNorm > 0 && Number.isFinite(opts.maxNorm))) {
      throw new RangeError(`${where}: options.maxNorm must be a positive finite number, got ${describe(opts.maxNorm)}`);
    }
  }
  if (opts.maxNorm !== undefined) embedding.maxNorm = opts.maxNorm;
  if (opts.normType !== undefined) {
    if (typeof opts.normType !== 'number') throw new TypeError(`${where}: options.normType must be a number, got ${describe(opts.normType)}`);
    if (!(opts.normType > 0)) throw new RangeError(`${where}: options.normType must be > 0 (Infinity allowed), got ${describe(opts.normType)}`);
    embedding.normType = opts.normType;
  }
  const wordsWithSpaces = checkBoolean(where, 'options.wordsWithSpaces', opts.wordsWithSpaces, false);
  const settings: LoadSettings & { binary?: boolean } = { limit, onProgress: opts.onProgress, unknown: opts.unknown, padding: opts.padding, wordsWithSpaces, embedding };
  if (opts.binary !== undefined) settings.binary = checkBoolean(where, 'options.binary', opts.binary, false);
  if (settings.binary === true && wordsWithSpaces) {
    throw new RangeError(`${where}: options.wordsWithSpaces applies to text files, not with options.binary: true (a binary record's word ends at its first space)`);
  }
  return settings;
}

// ---------------------------------------------------------------------------------------------
// The table being filled

/** The FileFormatError for a reason: names the file (and how it is being read). */
type FailFunction = (reason: string) => FileFormatError;

/**
 * The rows a loader fills: reserved rows first (zero), then the file's records in order. The
 * parsers hand over each record's word as bytes: duplicates are found on the bytes at once (an
 * open-addressing table of record numbers, sized for every record up front), and flushWords()
 * decodes a chunk's worth of words in one conversion and split. No Map is built while loading:
 * the Vocabulary builds its own on first lookup.
 */
class TableBuilder {
  readonly weight: Float32Array;
  /** The bytes of weight, for copying binary records in. */
  readonly weightBytes: Buffer;
  readonly words: string[] = [];
  readonly reservedRows: number;
  /** Every word's bytes, each followed by the separator (which no word contains). */
  #wordBytes = Buffer.allocUnsafe(1 << 16);
  #wordBytesUsed = 0;
  /** Where word i's bytes end in #wordBytes (its separator follows). */
  readonly #wordEnds: Int32Array;
  /** Record number + 1 of the word hashed to each slot, 0 for none. */
  readonly #slots: Int32Array;
  /** The slot of the word added last. */
  #lastSlot = 0;
  /** Words added (#wordEnds filled), and the first of them not decoded into `words` yet. */
  #count = 0;
  /** OR of the undecoded words' bytes: below 128 means ASCII. */
  #undecodedHigh = 0;

  constructor(
    readonly dim: number,
    /** Records to read from the file. */
    readonly capacity: number,
    readonly settings: LoadSettings,
    /** Where record i (from 0) is, for messages: "line 7", "record 5". */
    readonly placeOf: (record: number) => string,
    readonly fail: FailFunction,
    /**
     * A byte no word contains, kept after each word: ' ' for binary records (their words end at
     * the first space but may contain '\n'), '\n' for text (words end with the line, and may
     * contain spaces with options.wordsWithSpaces).
     */
    readonly separator: 10 | 32,
  ) {
    this.reservedRows = reservedRows(settings);
    this.weight = allocateTable((this.reservedRows + capacity) * dim);
    this.weightBytes = Buffer.from(this.weight.buffer, this.weight.byteOffset, this.weight.byteLength);
    this.#wordEnds = new Int32Array(capacity);
    // At most 3/4 full, a power of two (at least one slot stays empty, so probing ends).
    this.#slots = new Int32Array(Math.min(2 ** 31, 2 ** Math.ceil(Math.log2((capacity * 4) / 3 + 1))));
  }

  /** Records stored so far. */
  get rows(): number {
    return this.#count;
  }

  /** Element offset of the next record's row. */
  get nextRowOffset(): number {
    return (this.reservedRows + this.#count) * this.dim;
  }

  /** Adds the next record's word, bytes [start, end) of chunk (`high`: their OR); throws for a duplicate. */
  addWord(chunk: Buffer, start: number, end: number, high: number): void {
    const earlier = this.addWordIfNew(chunk, start, end, high);
    if (earlier >= 0) throw this.duplicateError(chunk, start, end, earlier);
  }

  /** The error for the next record's word, bytes [start, end) of chunk, which record `earlier` has. */
  duplicateError(chunk: Buffer, start: number, end: number, earlier: number): FileFormatError {
    return this.failAfterWords(`${this.placeOf(this.#count)}: the word ${quoteText(chunk.toString('utf8', start, end))} already appeared in ${this.placeOf(earlier)}`);
  }

  /**
   * Adds the next record's word as addWord does, unless an earlier record has it: then returns
   * that record's number (from 0), else -1.
   */
  addWordIfNew(chunk: Buffer, start: number, end: number, high: number): number {
    const length = end - start;
    if (this.#wordBytesUsed + length + 1 > this.#wordBytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(2 * this.#wordBytes.length, this.#wordBytesUsed + length + 1));
      this.#wordBytes.copy(grown, 0, 0, this.#wordBytesUsed);
      this.#wordBytes = grown;
    }
    // Copy the bytes and hash them (FNV-1a) in one pass.
    const bytes = this.#wordBytes;
    const wordStart = this.#wordBytesUsed;
    let at = wordStart;
    let hash = 0x811c9dc5;
    for (let k = start; k < end; k++) {
      const c = chunk[k]!;
      bytes[at++] = c;
      hash = Math.imul(hash ^ c, 16777619);
    }
    const slots = this.#slots;
    const mask = slots.length - 1;
    let slot = hash & mask;
    for (let other = slots[slot]!; other !== 0; other = slots[slot]!) {
      const otherStart = other === 1 ? 0 : this.#wordEnds[other - 2]! + 1;
      if (this.#wordEnds[other - 1]! - otherStart === length && bytes.compare(bytes, wordStart, at, otherStart, otherStart + length) === 0) return other - 1;
      slot = (slot + 1) & mask;
    }
    slots[slot] = this.#count + 1;
    this.#lastSlot = slot;
    bytes[at] = this.separator;
    this.#wordEnds[this.#count++] = at;
    this.#wordBytesUsed = at + 1;
    this.#undecodedHigh |= high;
    return -1;
  }

  /**
   * Takes back the word added last (before flushWords decoded it). Emptying its slot keeps every
   * other word findable: it was added after them, so no other word's probe passed its slot.
   * (#undecodedHigh keeps its bytes: at worst, ASCII words get checked as UTF-8.)
   */
  removeLastWord(): void {
    this.#slots[this.#lastSlot] = 0;
    const last = --this.#count;
    this.#wordBytesUsed = last === 0 ? 0 : this.#wordEnds[last - 1]! + 1;
  }

  /** Decodes the words added since the last call into `words`; throws for one that is not UTF-8 (the first). */
  flushWords(): void {
    const first = this.words.length;
    if (first === this.#count) return;
    const start = first === 0 ? 0 : this.#wordEnds[first - 1]! + 1;
    const bytes = this.#wordBytes.subarray(start, this.#wordEnds[this.#count - 1]);
    const ascii = this.#undecodedHigh < 128;
    if (!ascii && !isUtf8(bytes)) {
      for (let i = first; ; i++) {
        const wordStart = i === 0 ? 0 : this.#wordEnds[i - 1]! + 1;
        if (!isUtf8(this.#wordBytes.subarray(wordStart, this.#wordEnds[i]))) throw this.fail(`${this.placeOf(i)}: the word is not valid UTF-8`);
        this.words.push(this.#wordBytes.toString('utf8', wordStart, this.#wordEnds[i]));
      }
    }
    this.#undecodedHigh = 0;
    const words = this.words;
    for (const word of bytes.toString(ascii ? 'latin1' : 'utf8').split(this.separator === 10 ? '\n' : ' ')) words.push(word);
  }

  /**
   * The error for a problem found in the record being read: the words before it are decoded
   * first, so that an invalid one (an error in an earlier record) wins, whatever the chunk boundaries.
   */
  failAfterWords(reason: string): FileFormatError {
    this.flushWords();
    return this.fail(reason);
  }

  /**
   * The vocabulary (reserved entries the file lacks first, as Vocabulary places them) and the
   * Embedding over the filled table. Reserved tokens the file has keep their file rows: the rows
   * reserved for them are dropped by moving the file's rows down in place (no copy of the table).
   */
  finish(): WordVectors {
    this.flushWords();
    const { unknown, padding } = this.settings;
    const vocabulary = vocabularyOfDistinct(this.words, {
      ...(unknown === undefined ? {} : { unknown }),
      ...(padding === undefined ? {} : { padding }),
    });
    const missing = vocabulary.size - this.words.length;
    let weight = this.weight;
    const used = (missing + this.words.length) * this.dim;
    if (missing < this.reservedRows) weight.copyWithin(missing * this.dim, this.reservedRows * this.dim, this.nextRowOffset);
    if (used < weight.length) weight = weight.subarray(0, used);
    const embedding = Embedding.fromPretrained(weight, this.dim, { ...this.settings.embedding, paddingIdx: vocabulary.paddingIndex });
    return { vocabulary, embedding };
  }
}

/** The rows set aside for reserved tokens (before knowing whether the file has them). */
function reservedRows(settings: LoadSettings): number {
  return new Set([settings.padding, settings.unknown].filter((token) => token !== undefined)).size;
}

/** Refuses a table (the records kept plus reserved rows) larger than an Embedding or a Vocabulary holds. */
function checkTableSize(fail: FailFunction, records: number, dim: number, settings: LoadSettings): void {
  const kept = Math.min(records, settings.limit);
  const rows = kept + reservedRows(settings);
  if (rows > MAX_VOCABULARY_SIZE) {
    throw fail(`${kept} words are more than a Vocabulary holds (${MAX_VOCABULARY_SIZE}, the size limit of a JavaScript Map); pass options.limit`);
  }
  if (rows * dim > MAX_VALUES) {
    throw fail(`${kept} words of dimension ${dim} exceed the largest table an Embedding holds (2^32 values); pass a smaller options.limit`);
  }
}

function reportProgress(settings: LoadSettings, bytes: number, totalBytes: number): void {
  settings.onProgress?.({ bytes, totalBytes });
}

/** The text from `start` to the next whitespace, decoded as UTF-8 and quoted (up to 40 characters), for messages. */
function fieldText(chunk: Buffer, start: number): string {
  let end = start;
  while (end < chunk.length && end - start < 200 && !isSpaceByte(chunk[end]!)) end++;
  return quoteText(chunk.toString('utf8', start, end), 40);
}

/** Where the first field of the line at `start` ends (at a space, tab, '\r' or '\n'), as TextParser reads it. */
function firstFieldEnd(chunk: Buffer, start: number): number {
  let end = start;
  for (let c = chunk[end]!; c !== 32 && c !== 9 && c !== 10 && c !== 13; c = chunk[end]!) end++;
  return end;
}

/** ' ', '\t', '\n', '\v', '\f', '\r'. */
function isSpaceByte(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

// ---------------------------------------------------------------------------------------------
// Text records: "word v1 ... vD" per line

/**
 * Parses text lines into a TableBuilder. parse() is handed regions that end with '\n' (a final
 * line without one gets it appended), so the scanning loops need no bounds checks: '\n' stops
 * every one of them.
 *
 * A line is read as its first field (the word) and D values. Where that fails (a duplicate word,
 * a value that is not a number or out of range, values left over), #readSplit takes the line
 * over: on a line with more than D values, with options.wordsWithSpaces it reads the last D
 * fields as the values and the rest as the word, without that option it throws the error saying
 * so; on other lines it throws the first reading's error. Lines of a word and D values, all of
 * them in most files, never take that path: parse()'s loops only leave early for it.
 */
class TextParser {
  /** Line number of the next line. */
  line: number;
  /** The first blank line seen while records remained to be read, or 0. */
  #blankLine = 0;
  /** Why the first reading of a line failed, and where (for #readSplit). */
  #failure: 'duplicate' | 'not a number' | 'out of range' | 'too many values' = 'too many values';
  /** The value's position (not a number, out of range), or the earlier record with the word (duplicate). */
  #failedAt = 0;

  readonly fail: FailFunction;

  constructor(
    readonly builder: TableBuilder,
    firstLine: number,
    /**
     * Whether the file goes on past the records wanted (options.limit): the read then stops there.
     * Otherwise only blank lines may follow them.
     */
    readonly limited: boolean,
    /**
     * Where D came from, when that may be the problem (GloVe with wordsWithSpaces: line 1's word
     * must have no space): appended to "line N has J values, expected D", and to line 1's value errors.
     */
    readonly dimensionNote = '',
  ) {
    this.line = firstLine;
    this.fail = (reason) => builder.failAfterWords(reason);
  }

  /** Whether every record wanted has been read. */
  get complete(): boolean {
    return this.builder.rows === this.builder.capacity;
  }

  /** Whether the read is over: the limit is reached (the rest of the file is not read). */
  get done(): boolean {
    return this.limited && this.complete;
  }

  /** Parses the lines of chunk[start, end) (chunk[end - 1] is '\n'); stops early once a limit is reached. */
  parse(chunk: Buffer, start: number, end: number): void {
    const builder = this.builder;
    const weight = builder.weight;
    const dim = builder.dim;
    let p = start;
    while (p < end) {
      if (this.done) return;
      let c = chunk[p]!;
      if (c === 32 || c === 9 || c === 13 || c === 10) {
        while ((c = chunk[p]!) === 32 || c === 9 || c === 13) p++;
        if (c !== 10) throw this.fail(`line ${this.line} starts with whitespace (an empty word)`);
        if (this.#blankLine === 0) this.#blankLine = this.line;
        p++;
        this.line++;
        continue;
      }
      if (this.complete) throw this.fail(`line ${this.line}: unexpected data after the ${builder.rows} records expected`);
      if (this.#blankLine !== 0) throw this.fail(`line ${this.#blankLine} is empty`);
      // The word: up to a space or tab (with wordsWithSpaces, maybe only its first part: a
      // duplicate then may be the start of a longer word, and #readSplit decides).
      const lineStart = p;
      let high = 0;
      while ((c = chunk[p]!) > 32 || (c !== 32 && c !== 9 && c !== 10 && c !== 13)) {
        high |= c;
        p++;
      }
      if (p - lineStart > MAX_WORD_BYTES) throw this.fail(`line ${this.line}: the word is longer than ${MAX_WORD_BYTES} bytes`);
      const base = builder.nextRowOffset;
      // Values; a failure leaves the loop early (j < dim), a duplicate skips it (j > dim), for #readSplit.
      let j = 0;
      const earlier = builder.addWordIfNew(chunk, lineStart, p, high);
      if (earlier >= 0) {
        this.#failure = 'duplicate';
        this.#failedAt = earlier;
        j = dim + 1;
      }
      for (; j < dim; j++) {
        while ((c = chunk[p]!) === 32 || c === 9) p++;
        if (c === 10 || c === 13) {
          if (c === 13 && chunk[p + 1] !== 10) throw this.fail(`line ${this.line}: a carriage return inside the line`);
          throw this.fail(`line ${this.line} has ${j} values, expected ${dim}${this.dimensionNote}`);
        }
        // A number: [+-] digits [. digits] [(e|E) [+-] digits]. The first 15-16 significant
        // digits form an exact integer mantissa; later ones are dropped: they move the value by
        // less than 1e-15 of it, which roundsSafely's slack covers.
        const numberStart = p;
        let negative = false;
        if (c === 45) {
          negative = true;
          p++;
        } else if (c === 43) {
          p++;
        }
        let mantissa = 0;
        let exp10 = 0;
        let digitCount = 0;
        for (;;) {
          const digit = chunk[p]! - 48;
          if (digit < 0 || digit > 9) break;
          if (mantissa < MANTISSA_LIMIT) mantissa = mantissa * 10 + digit;
          else exp10++;
          digitCount++;
          p++;
        }
        if (chunk[p] === 46) {
          p++;
          for (;;) {
            const digit = chunk[p]! - 48;
            if (digit < 0 || digit > 9) break;
            if (mantissa < MANTISSA_LIMIT) {
              mantissa = mantissa * 10 + digit;
              exp10--;
            }
            digitCount++;
            p++;
          }
        }
        c = chunk[p]!;
        if ((c === 101 || c === 69) && digitCount > 0) {
          p++;
          let exponentNegative = false;
          c = chunk[p]!;
          if (c === 45 || c === 43) {
            exponentNegative = c === 45;
            p++;
          }
          let exponent = 0;
          let exponentDigits = 0;
          for (;;) {
            const digit = chunk[p]! - 48;
            if (digit < 0 || digit > 9) break;
            if (exponent < 1e6) exponent = exponent * 10 + digit;
            exponentDigits++;
            p++;
          }
          if (exponentDigits === 0) digitCount = 0;
          exp10 += exponentNegative ? -exponent : exponent;
          c = chunk[p]!;
        }
        if (digitCount === 0 || !(c === 32 || c === 9 || c === 10 || c === 13)) {
          this.#failure = 'not a number';
          this.#failedAt = numberStart;
          break;
        }
        let value: number;
        if (mantissa === 0) {
          value = 0;
        } else {
          value = scaleDecimal(mantissa, exp10);
          if (!roundsSafely(value)) {
            value = decimalToFloat32(chunk.toString('latin1', numberStart + (negative || chunk[numberStart] === 43 ? 1 : 0), p));
            if (value === Infinity) {
              this.#failure = 'out of range';
              this.#failedAt = numberStart;
              break;
            }
          }
        }
        weight[base + j] = negative ? -value : value;
      }
      if (j === dim) {
        while ((c = chunk[p]!) === 32 || c === 9) p++;
        if (c === 13) c = chunk[++p]!;
        if (c !== 10) {
          if (chunk[p - 1] === 13) throw this.fail(`line ${this.line}: a carriage return inside the line`);
          this.#failure = 'too many values';
        }
      }
      if (j === dim && c === 10) {
        p++;
      } else {
        p = this.#readSplit(chunk, lineStart, j);
      }
      if (p - lineStart > this.longestLine) throw this.tooLong();
      this.line++;
    }
  }

  /**
   * The line from lineStart, after reading it as a word and D values failed (#failure) at value
   * `failed` (from 0; dim: values were left over; dim + 1: the first field is a duplicate, and was
   * not added): with options.wordsWithSpaces and more than D values, its last D fields are read
   * as the values and the rest is the word (added in place of the first field); the position
   * after the line's '\n' is returned. Otherwise throws: the error saying that the line has too
   * many values (suggesting the option), or the first reading's error.
   */
  #readSplit(chunk: Buffer, lineStart: number, failed: number): number {
    const builder = this.builder;
    const dim = builder.dim;
    const newline = chunk.indexOf(10, lineStart);
    let end = newline;
    if (chunk[end - 1] === 13) end--;
    if (chunk.subarray(lineStart, end).indexOf(13) >= 0) throw this.fail(`line ${this.line}: a carriage return inside the line`);
    // Fields from the end: the D-th from the end starts the values; the word ends before the
    // separators in front of it.
    let fields = 0;
    let valuesStart = -1;
    let wordEnd = -1;
    let c: number;
    for (let k = end; ; ) {
      while (k > lineStart && ((c = chunk[k - 1]!) === 32 || c === 9)) k--;
      if (k === lineStart) break;
      if (fields === dim) wordEnd = k;
      while (k > lineStart && (c = chunk[k - 1]!) !== 32 && c !== 9) k--;
      if (++fields === dim) valuesStart = k;
    }
    if (fields <= dim + 1) {
      // The first field is the word: the first reading's error stands.
      if (this.#failure === 'duplicate') throw builder.duplicateError(chunk, lineStart, firstFieldEnd(chunk, lineStart), this.#failedAt);
      if (this.#failure === 'not a number') throw this.#notANumber(chunk, this.#failedAt, failed);
      if (this.#failure === 'out of range') throw this.#outOfRange(chunk, this.#failedAt, failed);
      throw this.fail(`line ${this.line} has more than ${dim} values`);
    }
    if (!builder.settings.wordsWithSpaces) {
      throw this.fail(`line ${this.line} has ${fields - 1} values, expected ${dim} (if words contain spaces, as in glove.840B, pass wordsWithSpaces: true)`);
    }
    if (wordEnd - lineStart > MAX_WORD_BYTES) throw this.fail(`line ${this.line}: the word is longer than ${MAX_WORD_BYTES} bytes`);
    // The first field was added as the word, unless another record has it.
    if (this.#failure !== 'duplicate') builder.removeLastWord();
    // The values, each checked as a number of parse()'s syntax, then rounded as parse() rounds:
    // the double nearest the decimal stored as a float32 where that is the float32 nearest it,
    // else the exact conversion.
    const weight = builder.weight;
    const base = builder.nextRowOffset;
    let p = valuesStart;
    for (let j = 0; j < dim; j++) {
      while ((c = chunk[p]!) === 32 || c === 9) p++;
      const start = p;
      while ((c = chunk[p]!) !== 32 && c !== 9 && c !== 10 && c !== 13) p++;
      const text = chunk.toString('latin1', start, p);
      if (!NUMBER_FIELD.test(text)) throw this.#notANumber(chunk, start, j);
      const sign = text.charCodeAt(0);
      const digits = sign === 45 || sign === 43 ? text.slice(1) : text;
      const approximate = Number(digits);
      const value = roundsSafely(approximate) ? approximate : decimalToFloat32(digits);
      if (value === Infinity) throw this.#outOfRange(chunk, start, j);
      weight[base + j] = sign === 45 ? -value : value;
    }
    let high = 0;
    for (let k = lineStart; k < wordEnd; k++) high |= chunk[k]!;
    builder.addWord(chunk, lineStart, wordEnd, high);
    return newline + 1;
  }

  /** The longest line accepted (what a chunk must hold of a line in progress). */
  get longestLine(): number {
    return maxLineBytes(this.builder.dim);
  }

  tooLong(): FileFormatError {
    return this.fail(`line ${this.line} is longer than ${this.longestLine} bytes`);
  }

  #outOfRange(chunk: Buffer, start: number, column: number): FileFormatError {
    return this.fail(`line ${this.line}, value ${column + 1}: ${fieldText(chunk, start)} is outside the float32 range${this.#lineOneNote}`);
  }

  #notANumber(chunk: Buffer, start: number, column: number): FileFormatError {
    const text = fieldText(chunk, start);
    const nonFinite = /^"[+-]?(nan|inf|infinity)"$/i.test(text);
    return this.fail(`line ${this.line}, value ${column + 1}: ${text} is ${nonFinite ? 'not finite' : 'not a number'}${this.#lineOneNote}`);
  }

  get #lineOneNote(): string {
    return this.line === 1 ? this.dimensionNote : '';
  }

  /** After the last chunk: every record wanted was read. */
  finish(totalDescription: string): void {
    if (!this.complete) throw this.fail(`truncated: ${totalDescription}, found ${this.builder.rows}`);
  }
}

/** Feeds a TextParser the file from `first` (already read) to the end, or until a limit is reached. */
async function parseTextFile(reader: ChunkReader, first: Buffer, parser: TextParser, settings: LoadSettings): Promise<void> {
  let chunk = first;
  for (;;) {
    const final = reader.atEnd;
    const end = chunk.lastIndexOf(10) + 1;
    parser.parse(chunk, 0, end);
    parser.builder.flushWords();
    if (parser.done) return;
    // The line in progress stays in memory until its end: bounded by the longest line accepted.
    if (chunk.length - end > parser.longestLine) throw parser.tooLong();
    if (final) {
      if (end < chunk.length) {
        // The last line has no '\n': parse a copy of it that has one.
        const last = Buffer.allocUnsafe(chunk.length - end + 1);
        chunk.copy(last, 0, end);
        last[last.length - 1] = 10;
        parser.parse(last, 0, last.length);
      }
      return;
    }
    reportProgress(settings, reader.position, reader.size);
    chunk = await reader.next(chunk.subarray(end));
  }
}

// ---------------------------------------------------------------------------------------------
// word2vec

interface Header {
  words: number;
  dim: number;
  /** Bytes of the header line, its '\n' included. */
  bytes: number;
}

/** Reads more of the file into `chunk` (keeping it) until `done(chunk)` or the end of the file. */
async function readUntil(reader: ChunkReader, chunk: Buffer, done: (chunk: Buffer) => boolean): Promise<Buffer> {
  while (!done(chunk) && !reader.atEnd) chunk = await reader.next(chunk);
  return chunk;
}

/** The word2vec header line "V D": two positive integers, V <= 2^31 - 1, D <= 2^20. */
function parseHeader(chunk: Buffer, fail: FailFunction): Header {
  let lineEnd = chunk.indexOf(10);
  if (lineEnd < 0) {
    if (chunk.length > 64) throw fail('no header line "<words> <dimension>" in the first 64 bytes');
    lineEnd = chunk.length;
  }
  const line = chunk.toString('latin1', 0, lineEnd);
  const match = /^(?:\xef\xbb\xbf)?[ \t]*(\d{1,16})[ \t]+(\d{1,16})[ \t]*\r?$/.exec(line);
  if (match === null) {
    throw fail(`the first line must be the header "<words> <dimension>" (two positive integers), found ${quoteText(chunk.toString('utf8', 0, Math.min(lineEnd, 200)), 40)}`);
  }
  const words = Number(match[1]);
  const dim = Number(match[2]);
  if (words < 1 || words > MAX_WORDS) throw fail(`the header declares ${words} words; expected 1 to ${MAX_WORDS}`);
  if (dim < 1 || dim > MAX_DIM) throw fail(`the header declares dimension ${dim}; expected 1 to ${MAX_DIM}`);
  return { words, dim, bytes: Math.min(chunk.length, lineEnd + 1) };
}

const NUMBER_FIELD = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/**
 * Whether the record after the header reads as text: a line of a word and `dim` numbers (with
 * wordsWithSpaces, of at least one field and then `dim` numbers). Reads until that line's end (at
 * most the longest line a text file may have).
 */
async function sniffText(reader: ChunkReader, chunk: Buffer, header: Header, wordsWithSpaces: boolean): Promise<{ text: boolean; chunk: Buffer }> {
  const longest = maxLineBytes(header.dim);
  chunk = await readUntil(reader, chunk, (c) => c.indexOf(10, header.bytes) >= 0 || c.length - header.bytes > longest);
  let end = chunk.indexOf(10, header.bytes);
  if (end < 0) {
    if (!reader.atEnd) return { text: false, chunk };
    end = chunk.length;
  }
  const fields = chunk.toString('latin1', header.bytes, end).split(/[ \t]+/);
  if (fields[fields.length - 1] === '' || fields[fields.length - 1] === '\r') fields.pop();
  else fields[fields.length - 1] = fields[fields.length - 1]!.replace(/\r$/, '');
  const text =
    (wordsWithSpaces ? fields.length > header.dim : fields.length === header.dim + 1) &&
    fields[0] !== '' &&
    fields.slice(-header.dim).every((field) => NUMBER_FIELD.test(field));
  return { text, chunk };
}

/** Parses binary records "word " + 4 * dim bytes (whitespace before a word skipped) from `first` on. */
async function parseBinaryFile(
  reader: ChunkReader,
  first: Buffer,
  firstOffset: number,
  builder: TableBuilder,
  declared: number,
  settings: LoadSettings,
): Promise<void> {
  const fail: FailFunction = (reason) => builder.failAfterWords(reason);
  const dim = builder.dim;
  const vectorBytes = 4 * dim;
  const bits = new Uint32Array(builder.weight.buffer, builder.weight.byteOffset, builder.weight.length);
  const limited = builder.capacity < declared;
  let chunk = first;
  let chunkOffset = firstOffset;
  for (;;) {
    const end = chunk.length;
    const final = reader.atEnd;
    let p = 0;
    while (builder.rows < builder.capacity) {
      const record = builder.rows + 1;
      while (p < end && chunk[p]! >= 9 && chunk[p]! <= 13) p++;
      const wordStart = p;
      let high = 0;
      let c = 0;
      while (p < end && (c = chunk[p]!) !== 32 && p - wordStart <= MAX_WORD_BYTES) {
        high |= c;
        p++;
      }
      if (p - wordStart > MAX_WORD_BYTES) {
        throw fail(`record ${record} (byte ${chunkOffset + wordStart}): no space after ${MAX_WORD_BYTES} bytes of word`);
      }
      if (p + 1 + vectorBytes > end) {
        if (final) {
          const where = wordStart < end ? ` (record ${record} at byte ${chunkOffset + wordStart} is incomplete)` : '';
          throw fail(`truncated: the header declares ${declared} records, found ${builder.rows}${where}`);
        }
        // Read on from the word (the whitespace before it is done with).
        p = wordStart;
        break;
      }
      if (p === wordStart) throw fail(`record ${record} (byte ${chunkOffset + wordStart}): empty word`);
      const row = builder.nextRowOffset;
      builder.addWord(chunk, wordStart, p, high);
      chunk.copy(builder.weightBytes, row * 4, p + 1, p + 1 + vectorBytes);
      if (!LITTLE_ENDIAN) swapFloat32Bytes(builder.weightBytes, row * 4, dim);
      const bad = firstNonFinite(bits, row, row + dim);
      if (bad >= 0) throw fail(`record ${record} (byte ${chunkOffset + wordStart}), value ${bad - row + 1} is ${builder.weight[bad]} (not finite)`);
      p += 1 + vectorBytes;
    }
    if (builder.rows === builder.capacity) {
      builder.flushWords();
      if (limited) return;
      // Only whitespace may follow the records.
      for (;;) {
        while (p < chunk.length && isSpaceByte(chunk[p]!)) p++;
        if (p < chunk.length) throw fail(`unexpected data at byte ${chunkOffset + p}, after the ${declared} records the header declares`);
        if (reader.atEnd) return;
        reportProgress(settings, reader.position, reader.size);
        chunkOffset += chunk.length;
        chunk = await reader.next();
        p = 0;
      }
    }
    builder.flushWords();
    reportProgress(settings, reader.position, reader.size);
    const carry = chunk.subarray(p);
    chunkOffset += p;
    chunk = await reader.next(carry);
  }
}

/** Index of the first non-finite float32 in bits[start, end) (exponent bits all ones), else -1. */
function firstNonFinite(bits: Uint32Array, start: number, end: number): number {
  // Branch-free first: (x & 0x7fffffff) + 2^23 reaches 2^31, the sign bit of the OR, exactly for those.
  let any = 0;
  for (let j = start; j < end; j++) any |= (bits[j]! & 0x7fffffff) + 0x800000;
  if (any >= 0) return -1;
  for (let j = start; j < end; j++) if ((bits[j]! & 0x7f800000) === 0x7f800000) return j;
  return -1;
}

function swapFloat32Bytes(bytes: Uint8Array, start: number, count: number): void {
  for (let i = start; i < start + 4 * count; i += 4) {
    const a = bytes[i]!;
    const b = bytes[i + 1]!;
    bytes[i] = bytes[i + 3]!;
    bytes[i + 1] = bytes[i + 2]!;
    bytes[i + 2] = b;
    bytes[i + 3] = a;
  }
}

function failFor(file: string, note: string): FailFunction {
  return (reason) => new FileFormatError(file, note === '' ? reason : `${reason} (${note})`);
}

async function loadWord2VecFile(where: string, file: string, options: unknown, forceText: boolean): Promise<WordVectors> {
  const settings = checkLoadOptions(where, options, forceText ? [] : ['binary']);
  if (typeof file !== 'string') throw new TypeError(`${where}: file must be a string, got ${describe(file)}`);
  // Text or binary: from the options or the name, else (undefined) from the content, below.
  let binary: boolean | undefined;
  let note = '';
  const extension = path.extname(file).toLowerCase();
  if (forceText) {
    binary = false;
  } else if (settings.binary !== undefined) {
    binary = settings.binary;
    note = `read as word2vec ${binary ? 'binary' : 'text'}, as options.binary says`;
  } else if (extension === '.bin') {
    binary = true;
    note = 'read as word2vec binary because the name ends in .bin; pass binary: false to read it as text';
  } else if (extension === '.txt' || extension === '.vec') {
    binary = false;
    note = `read as word2vec text because the name ends in ${extension}; pass binary: true to read it as binary`;
  }
  const refuseWordsWithSpaces = (): RangeError =>
    new RangeError(`${where}: options.wordsWithSpaces applies to text files, but ${file} is ${note} (a binary record's word ends at its first space)`);
  if (binary === true && settings.wordsWithSpaces) throw refuseWordsWithSpaces();
  const reader = await openChunkReader(file, readSettings.chunkBytes);
  try {
    let chunk = await readUntil(reader, await reader.next(), (c) => c.indexOf(10) >= 0 || c.length > 64);
    const header = parseHeader(chunk, failFor(file, ''));
    const { words, dim } = header;
    if (binary === undefined) {
      const sniffed = await sniffText(reader, chunk, header, settings.wordsWithSpaces);
      chunk = sniffed.chunk;
      binary = !sniffed.text;
      const record = settings.wordsWithSpaces ? 'a word and then the declared number of values' : 'a word and the declared number of values';
      note = binary
        ? `read as word2vec binary because the line after the header is not ${record}; pass binary: false to read it as text`
        : `read as word2vec text because the line after the header is ${record}; pass binary: true to read it as binary`;
      if (binary && settings.wordsWithSpaces) throw refuseWordsWithSpaces();
    }
    const fail = failFor(file, note);
    // Refuse sizes the file cannot hold before allocating: a binary record takes at least
    // "w " + 4 * dim bytes; a text line "w" + dim times " 0", and '\n' but on the last line.
    const available = reader.size - header.bytes;
    const needed = binary ? words * (4 * dim + 2) : words * (2 * dim + 2) - 1;
    if (needed > available) {
      throw fail(
        `the header declares ${words} words of dimension ${dim}, which take at least ${needed} bytes, but only ${available} bytes follow the header`,
      );
    }
    const placeOf = binary ? (record: number) => `record ${record + 1}` : (record: number) => `line ${record + 2}`;
    checkTableSize(fail, words, dim, settings);
    const builder = new TableBuilder(dim, Math.min(words, settings.limit), settings, placeOf, fail, binary ? 32 : 10);
    const rest = chunk.subarray(header.bytes);
    if (binary) {
      await parseBinaryFile(reader, rest, header.bytes, builder, words, settings);
    } else {
      const parser = new TextParser(builder, 2, builder.capacity < words);
      await parseTextFile(reader, rest, parser, settings);
      parser.finish(`the header declares ${words} words`);
    }
    reportProgress(settings, reader.size, reader.size);
    return builder.finish();
  } finally {
    await reader.close();
  }
}

/**
 * Reads a word2vec file, text or binary (see options.binary for how the format is chosen): the C
 * tool's output (a '\n' after each binary record) and gensim's (none) alike. Words keep the
 * file's order; rows are the file's float32 values, text rounded to nearest as strtof does.
 */
export function loadWord2Vec(file: string, options?: LoadWord2VecOptions): Promise<WordVectors> {
  return loadWord2VecFile('loadWord2Vec', file, options, false);
}

/** Reads a fastText .vec file: the word2vec text format (header "V D", then a word and D values per line). */
export function loadFastText(file: string, options?: LoadWordVectorsOptions): Promise<WordVectors> {
  return loadWord2VecFile('loadFastText', file, options, true);
}

/**
 * Whether loadWord2Vec without options.binary reads `file` as word2vec binary: by the name (.bin
 * binary; .txt and .vec text), else by the content (binary unless the line after the header is a
 * word and the declared number of values). For the command line, which names a file's format
 * before it reads it.
 */
export async function isWord2VecBinary(file: string, wordsWithSpaces = false): Promise<boolean> {
  const extension = path.extname(file).toLowerCase();
  if (extension === '.bin') return true;
  if (extension === '.txt' || extension === '.vec') return false;
  const reader = await openChunkReader(file, 1 << 16);
  try {
    const chunk = await readUntil(reader, await reader.next(), (c) => c.indexOf(10) >= 0 || c.length > 64);
    return !(await sniffText(reader, chunk, parseHeader(chunk, failFor(file, '')), wordsWithSpaces)).text;
  } finally {
    await reader.close();
  }
}

// ---------------------------------------------------------------------------------------------
// GloVe

/**
 * The first pass over a GloVe file: the dimension (fields of the first line - 1) and the number
 * of records (lines that start with a word), counted up to `limit` with Buffer.indexOf.
 */
async function surveyGloVe(file: string, limit: number, fail: FailFunction): Promise<{ records: number; dim: number }> {
  const reader = await openChunkReader(file, readSettings.chunkBytes);
  try {
    const first = await readUntil(reader, await reader.next(), (c) => c.length >= 4);
    const start = hasByteOrderMark(first) ? 3 : 0;
    if (start >= first.length) throw fail('the file is empty');
    const c0 = first[start]!;
    if (c0 === 10 || c0 === 13) throw fail('line 1 is empty');
    if (c0 === 32 || c0 === 9) throw fail('line 1 starts with whitespace (an empty word)');
    let chunk = first;
    let p = start;
    let records = 0;
    let fields = 0;
    let inField = false;
    let firstLineDone = false;
    let atLineStart = true;
    for (;;) {
      // Fields of line 1: runs of bytes other than space, tab and '\r'.
      for (let q = p; !firstLineDone && q < chunk.length; q++) {
        const c = chunk[q]!;
        if (c === 10) {
          firstLineDone = true;
        } else {
          const separator = c === 32 || c === 9 || c === 13;
          if (!separator && !inField && ++fields > MAX_DIM + 1) throw fail(`line 1 has more than ${MAX_DIM} values`);
          inField = !separator;
        }
      }
      // Lines that start with something other than whitespace (the others are blank or errors).
      while (records < limit) {
        if (atLineStart && p < chunk.length) {
          const c = chunk[p]!;
          if (!(c === 32 || c === 9 || c === 13 || c === 10)) records++;
          atLineStart = false;
        }
        const newline = chunk.indexOf(10, p);
        if (newline < 0) break;
        p = newline + 1;
        atLineStart = true;
      }
      if (reader.atEnd || (records === limit && firstLineDone)) break;
      chunk = await reader.next();
      p = 0;
    }
    if (fields === 1) throw fail('line 1 has a word but no values');
    return { records, dim: fields - 1 };
  } finally {
    await reader.close();
  }
}

function hasByteOrderMark(chunk: Buffer): boolean {
  return chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf;
}

/**
 * Reads a GloVe text file: lines "word v1 ... vD", no header, D taken from the first line. Two
 * passes: the first counts the lines (fast), so the table is allocated once at its exact size.
 * glove.840B.300d has a few words with spaces (". . .", "at name@domain.com"): pass wordsWithSpaces.
 */
export async function loadGloVe(file: string, options?: LoadWordVectorsOptions): Promise<WordVectors> {
  const where = 'loadGloVe';
  const settings = checkLoadOptions(where, options);
  if (typeof file !== 'string') throw new TypeError(`${where}: file must be a string, got ${describe(file)}`);
  const fail = failFor(file, '');
  const { records, dim } = await surveyGloVe(file, settings.limit, fail);
  const reader = await openChunkReader(file, readSettings.chunkBytes);
  try {
    // Every record line takes at least "w" + dim times " 0" + '\n' (but the last).
    const needed = records * (2 * dim + 2) - 1;
    if (needed > reader.size) {
      throw fail(`${records} lines start with a word, but ${reader.size} bytes cannot hold that many lines of ${dim} values (line 1 has ${dim}): some lines are short`);
    }
    checkTableSize(fail, records, dim, settings);
    const builder = new TableBuilder(dim, records, settings, (record) => `line ${record + 1}`, fail, 10);
    // Counting stopped at the limit: the file may go on.
    // With wordsWithSpaces, a short line, or a bad value on line 1, may mean that line 1's word
    // has a space (D then counts part of it).
    const dimensionNote = settings.wordsWithSpaces ? ' (the dimension is read from line 1, whose word must not contain spaces)' : '';
    const parser = new TextParser(builder, 1, records === settings.limit, dimensionNote);
    const first = await readUntil(reader, await reader.next(), (c) => c.length >= 4);
    await parseTextFile(reader, hasByteOrderMark(first) ? first.subarray(3) : first, parser, settings);
    parser.finish(`${records} lines start with a word`);
    reportProgress(settings, reader.size, reader.size);
    return builder.finish();
  } finally {
    await reader.close();
  }
}

/**
 * How many words a word-vector file holds, without reading the vectors: the header's count
 * (word2vec, fastText), or, for GloVe, the lines that start with a word (the loader's first pass).
 * For describing a file (nn-embedding info); the loaders validate the rest.
 */
export async function countWordVectors(file: string, format: 'word2vec' | 'glove'): Promise<number> {
  const fail = failFor(file, '');
  if (format === 'glove') return (await surveyGloVe(file, Number.POSITIVE_INFINITY, fail)).records;
  const reader = await openChunkReader(file, readSettings.chunkBytes);
  try {
    const first = await readUntil(reader, await reader.next(), (c) => c.indexOf(10) >= 0 || c.length > 64);
    return parseHeader(first, fail).words;
  } finally {
    await reader.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Writers

/** Bytes handed to the file at a time (large enough that the sink writes them through). */
const WRITE_BATCH_BYTES = CHUNK_BYTES / 2;

function checkTable(where: string, vocabulary: unknown, table: unknown): { words: readonly string[]; weight: Float32Array; rows: number; dim: number } {
  if (!(vocabulary instanceof Vocabulary)) throw new TypeError(`${where}: vocabulary must be a Vocabulary, got ${describe(vocabulary)}`);
  if (table === null || typeof table !== 'object') throw new TypeError(`${where}: table must be an Embedding or { weight, embeddingDim, numEmbeddings }, got ${describe(table)}`);
  const { weight, embeddingDim, numEmbeddings } = table as Partial<WordVectorTable>;
  if (!(weight instanceof Float32Array)) throw new TypeError(`${where}: table.weight must be a Float32Array, got ${describe(weight)}`);
  const dim = checkInteger(where, 'table.embeddingDim', embeddingDim, 1);
  const rows = checkInteger(where, 'table.numEmbeddings', numEmbeddings, 1);
  if (weight.length !== rows * dim) {
    throw new RangeError(`${where}: table.weight has ${weight.length} values, expected numEmbeddings * embeddingDim = ${rows * dim}`);
  }
  if (vocabulary.size !== rows) {
    throw new RangeError(`${where}: the vocabulary has ${vocabulary.size} tokens but the table has ${rows} rows`);
  }
  const words = vocabulary.tokens;
  for (let i = 0; i < words.length; i++) {
    if (words[i] === '' || /[ \t\n\v\f\r]/.test(words[i]!)) {
      throw new Error(`${where}: token ${i} (${quoteText(words[i]!)}) cannot be written: word vector files separate words with whitespace, so words must be non-empty and contain none`);
    }
  }
  return { words, weight, rows, dim };
}

function checkSaveOptions(where: string, options: unknown, names: readonly string[]): SaveWord2VecOptions {
  const opts = checkOptions<SaveWord2VecOptions>(where, options, names);
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') {
    throw new TypeError(`${where}: options.onProgress must be a function, got ${describe(opts.onProgress)}`);
  }
  if (opts.binary !== undefined) checkBoolean(where, 'options.binary', opts.binary, false);
  return opts;
}

/** Throws for a non-finite value in row `row`: text cannot represent it, and no reader here accepts it. */
function checkFiniteRow(where: string, words: readonly string[], weight: Float32Array, row: number, dim: number): void {
  for (let j = row * dim; j < (row + 1) * dim; j++) {
    if (!Number.isFinite(weight[j]!)) {
      throw new RangeError(`${where}: row ${row} (${quoteText(words[row]!)}), value ${j - row * dim + 1} is ${weight[j]}: only finite values can be written`);
    }
  }
}

/** Lines "word v1 ... vD\n" after an optional header line, values in shortest round-trip form. */
async function writeTextTable(
  where: string,
  file: string,
  header: string,
  table: { words: readonly string[]; weight: Float32Array; rows: number; dim: number },
  onProgress: ProgressCallback | undefined,
): Promise<void> {
  const { words, weight, rows, dim } = table;
  await writeFileAtomic(file, async (sink: FileSink) => {
    await sink.writeText(header);
    let batch = Buffer.allocUnsafe(WRITE_BATCH_BYTES);
    let used = 0;
    const flush = async (rowsDone: number): Promise<void> => {
      await sink.write(batch.subarray(0, used));
      used = 0;
      const bytes = sink.bytesWritten;
      onProgress?.({ bytes, totalBytes: rowsDone === rows ? bytes : Math.max(bytes, Math.round((bytes / rowsDone) * rows)) });
    };
    for (let row = 0; row < rows; row++) {
      checkFiniteRow(where, words, weight, row, dim);
      const word = words[row]!;
      const rowBytes = 3 * word.length + dim * (MAX_FLOAT32_TEXT + 1) + 1;
      if (used + rowBytes > batch.length) {
        if (used > 0) await flush(row);
        if (rowBytes > batch.length) batch = Buffer.allocUnsafe(rowBytes);
      }
      used += batch.write(word, used, 'utf8');
      for (let j = row * dim; j < (row + 1) * dim; j++) {
        batch[used++] = 32;
        used = formatFloat32(weight[j]!, batch, used);
      }
      batch[used++] = 10;
    }
    await flush(rows);
  });
}

/**
 * Writes word2vec text ("V D\n", then "word v1 ... vD\n", each value the shortest decimal that
 * reads back as the same float32) or binary (the C tool's layout: "V D\n", then "word " + D
 * little-endian float32 + '\n'), through a temporary file renamed into place. The vocabulary's
 * size must equal the table's rows; words must be non-empty without whitespace; values finite.
 */
export async function saveWord2Vec(file: string, vocabulary: Vocabulary, table: WordVectorTable, options?: SaveWord2VecOptions): Promise<void> {
  const where = 'saveWord2Vec';
  const opts = checkSaveOptions(where, options, ['binary', 'onProgress']);
  if (typeof file !== 'string') throw new TypeError(`${where}: file must be a string, got ${describe(file)}`);
  const checked = checkTable(where, vocabulary, table);
  const binary = opts.binary ?? path.extname(file).toLowerCase() === '.bin';
  const header = `${checked.rows} ${checked.dim}\n`;
  if (!binary) {
    await writeTextTable(where, file, header, checked, opts.onProgress);
    return;
  }
  const { words, weight, rows, dim } = checked;
  const vectorBytes = 4 * dim;
  let totalBytes = Buffer.byteLength(header);
  for (const word of words) totalBytes += Buffer.byteLength(word) + 2 + vectorBytes;
  const weightBytes = Buffer.from(weight.buffer, weight.byteOffset, weight.byteLength);
  await writeFileAtomic(file, async (sink) => {
    await sink.writeText(header);
    let batch = Buffer.allocUnsafe(WRITE_BATCH_BYTES);
    let used = 0;
    const flush = async (): Promise<void> => {
      await sink.write(batch.subarray(0, used));
      used = 0;
      opts.onProgress?.({ bytes: sink.bytesWritten, totalBytes });
    };
    for (let row = 0; row < rows; row++) {
      checkFiniteRow(where, words, weight, row, dim);
      const word = words[row]!;
      const recordBytes = 3 * word.length + 2 + vectorBytes;
      if (used + recordBytes > batch.length) {
        if (used > 0) await flush();
        if (recordBytes > batch.length) batch = Buffer.allocUnsafe(recordBytes);
      }
      used += batch.write(word, used, 'utf8');
      batch[used++] = 32;
      weightBytes.copy(batch, used, row * vectorBytes, (row + 1) * vectorBytes);
      if (!LITTLE_ENDIAN) swapFloat32Bytes(batch, used, dim);
      used += vectorBytes;
      batch[used++] = 10;
    }
    await flush();
  });
}

/** Writes a GloVe text file: "word v1 ... vD\n" per row, no header, values as saveWord2Vec's text. */
export async function saveGloVe(file: string, vocabulary: Vocabulary, table: WordVectorTable, options?: SaveWordVectorsOptions): Promise<void> {
  const where = 'saveGloVe';
  const opts = checkSaveOptions(where, options, ['onProgress']);
  if (typeof file !== 'string') throw new TypeError(`${where}: file must be a string, got ${describe(file)}`);
  await writeTextTable(where, file, '', checkTable(where, vocabulary, table), opts.onProgress);
}
