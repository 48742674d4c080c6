// The table being filled: the rows a loader fills, the words it collects, and the helpers the
// parsers share (progress, messages, failures).
import { isUtf8 } from 'node:buffer';

import { Embedding } from '../../embedding.js';
import { FileFormatError, allocateTable, quoteText } from '../files.js';
import { MAX_VOCABULARY_SIZE, vocabularyOfDistinct } from '../vocabulary.js';
import { type LoadSettings, MAX_VALUES } from './settings.js';
import { WordVectors } from './keyed.js';

/** The FileFormatError for a reason: names the file (and how it is being read). */
export type FailFunction = (reason: string) => FileFormatError;

/**
 * The rows a loader fills: reserved rows first (zero), then the file's records in order. The
 * parsers hand over each record's word as bytes: duplicates are found on the bytes at once (an
 * open-addressing table of record numbers, sized for every record up front), and flushWords()
 * decodes a chunk's worth of words in one conversion and split. No Map is built while loading:
 * the Vocabulary builds its own on first lookup.
 */
export class TableBuilder {
  readonly weight: Float32Array;
  /** The bytes of weight, for copying binary records in. */
  readonly weightBytes: Buffer;
  readonly words: string[] = [];
  readonly reservedRows: number;
  /** Every word's bytes, each followed by the separator (which no word contains). */
  private wordBytes = Buffer.allocUnsafe(1 << 16);
  private wordBytesUsed = 0;
  /** Where word i's bytes end in wordBytes (its separator follows). */
  private readonly wordEnds: Int32Array;
  /**
   * Two entries per slot (one cache line holds both): the record number + 1 of the word hashed to
   * it (0 for none), then that word's full hash (only a word with the same hash has its bytes
   * compared).
   */
  private readonly slots: Int32Array;
  /** The slot of the word added last. */
  private lastSlot = 0;
  /** Words added (wordEnds filled), and the first of them not decoded into `words` yet. */
  private count = 0;
  /** OR of the undecoded words' bytes: below 128 means ASCII. */
  private undecodedHigh = 0;

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
    this.wordEnds = new Int32Array(capacity);
    // At most 3/4 full, a power of two (at least one slot stays empty, so probing ends).
    this.slots = new Int32Array(2 * Math.min(2 ** 31, 2 ** Math.ceil(Math.log2((capacity * 4) / 3 + 1))));
  }

  /** Records stored so far. */
  get rows(): number {
    return this.count;
  }

  /** Element offset of the next record's row. */
  get nextRowOffset(): number {
    return (this.reservedRows + this.count) * this.dim;
  }

  /** Adds the next record's word, bytes [start, end) of chunk (`high`: their OR); throws for a duplicate. */
  addWord(chunk: Buffer, start: number, end: number, high: number): void {
    const earlier = this.addWordIfNew(chunk, start, end, high);
    if (earlier >= 0) throw this.duplicateError(chunk, start, end, earlier);
  }

  /** The error for the next record's word, bytes [start, end) of chunk, which record `earlier` has. */
  duplicateError(chunk: Buffer, start: number, end: number, earlier: number): FileFormatError {
    return this.failAfterWords(`${this.placeOf(this.count)}: the word ${quoteText(chunk.toString('utf8', start, end))} already appeared in ${this.placeOf(earlier)}`);
  }

  /**
   * Adds the next record's word as addWord does, unless an earlier record has it: then returns
   * that record's number (from 0), else -1.
   */
  addWordIfNew(chunk: Buffer, start: number, end: number, high: number): number {
    const length = end - start;
    if (this.wordBytesUsed + length + 1 > this.wordBytes.length) {
      const grown = Buffer.allocUnsafe(Math.max(2 * this.wordBytes.length, this.wordBytesUsed + length + 1));
      this.wordBytes.copy(grown, 0, 0, this.wordBytesUsed);
      this.wordBytes = grown;
    }
    // Copy the bytes and hash them (FNV-1a) in one pass.
    const bytes = this.wordBytes;
    const wordStart = this.wordBytesUsed;
    let at = wordStart;
    let hash = 0x811c9dc5;
    for (let k = start; k < end; k++) {
      const c = chunk[k]!;
      bytes[at++] = c;
      hash = Math.imul(hash ^ c, 16777619);
    }
    const slots = this.slots;
    const mask = (slots.length >>> 1) - 1;
    let slot = hash & mask;
    for (let other = slots[2 * slot]!; other !== 0; other = slots[2 * slot]!) {
      if (slots[2 * slot + 1] === hash) {
        const otherStart = other === 1 ? 0 : this.wordEnds[other - 2]! + 1;
        if (this.wordEnds[other - 1]! - otherStart === length && bytes.compare(bytes, wordStart, at, otherStart, otherStart + length) === 0) return other - 1;
      }
      slot = (slot + 1) & mask;
    }
    slots[2 * slot] = this.count + 1;
    slots[2 * slot + 1] = hash;
    this.lastSlot = slot;
    bytes[at] = this.separator;
    this.wordEnds[this.count++] = at;
    this.wordBytesUsed = at + 1;
    this.undecodedHigh |= high;
    return -1;
  }

  /**
   * Takes back the word added last (before flushWords decoded it). Emptying its slot keeps every
   * other word findable: it was added after them, so no other word's probe passed its slot.
   * (undecodedHigh keeps its bytes: at worst, ASCII words get checked as UTF-8.)
   */
  removeLastWord(): void {
    this.slots[2 * this.lastSlot] = 0;
    const last = --this.count;
    this.wordBytesUsed = last === 0 ? 0 : this.wordEnds[last - 1]! + 1;
  }

  /** Decodes the words added since the last call into `words`; throws for one that is not UTF-8 (the first). */
  flushWords(): void {
    const first = this.words.length;
    if (first === this.count) return;
    const start = first === 0 ? 0 : this.wordEnds[first - 1]! + 1;
    const bytes = this.wordBytes.subarray(start, this.wordEnds[this.count - 1]);
    const ascii = this.undecodedHigh < 128;
    if (!ascii && !isUtf8(bytes)) {
      for (let i = first; ; i++) {
        const wordStart = i === 0 ? 0 : this.wordEnds[i - 1]! + 1;
        if (!isUtf8(this.wordBytes.subarray(wordStart, this.wordEnds[i]))) throw this.fail(`${this.placeOf(i)}: the word is not valid UTF-8`);
        this.words.push(this.wordBytes.toString('utf8', wordStart, this.wordEnds[i]));
      }
    }
    this.undecodedHigh = 0;
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
    return new WordVectors(vocabulary, embedding);
  }
}

/** The rows set aside for reserved tokens (before knowing whether the file has them). */
function reservedRows(settings: LoadSettings): number {
  return new Set([settings.padding, settings.unknown].filter((token) => token !== undefined)).size;
}

/** Refuses a table (the records kept plus reserved rows) larger than an Embedding or a Vocabulary holds. */
export function checkTableSize(fail: FailFunction, records: number, dim: number, settings: LoadSettings): void {
  const kept = Math.min(records, settings.limit);
  const rows = kept + reservedRows(settings);
  if (rows > MAX_VOCABULARY_SIZE) {
    throw fail(`${kept} words are more than a Vocabulary holds (${MAX_VOCABULARY_SIZE}, the size limit of a JavaScript Map); pass options.limit`);
  }
  if (rows * dim > MAX_VALUES) {
    throw fail(`${kept} words of dimension ${dim} exceed the largest table an Embedding holds (2^32 values); pass a smaller options.limit`);
  }
}

export function reportProgress(settings: LoadSettings, bytes: number, totalBytes: number): void {
  settings.onProgress?.({ bytes, totalBytes });
}

/** The text from `start` to the next whitespace, decoded as UTF-8 and quoted (up to 40 characters), for messages. */
export function fieldText(chunk: Buffer, start: number): string {
  let end = start;
  while (end < chunk.length && end - start < 200 && !isSpaceByte(chunk[end]!)) end++;
  return quoteText(chunk.toString('utf8', start, end), 40);
}

/** Where the first field of the line at `start` ends (at a space, tab, '\r' or '\n'), as TextParser reads it. */
export function firstFieldEnd(chunk: Buffer, start: number): number {
  let end = start;
  for (let c = chunk[end]!; c !== 32 && c !== 9 && c !== 10 && c !== 13; c = chunk[end]!) end++;
  return end;
}

/** ' ', '\t', '\n', '\v', '\f', '\r'. */
export function isSpaceByte(c: number): boolean {
  return c === 32 || (c >= 9 && c <= 13);
}

export function failFor(file: string, note: string): FailFunction {
  return (reason) => new FileFormatError(file, note === '' ? reason : `${reason} (${note})`);
}
