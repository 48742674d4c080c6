// The table being filled: the rows a loader fills, the words it collects, and the helpers the
// parsers share (progress, messages, failures).
import { isUtf8 } from 'node:buffer';

import { ADD_WORDS_STATUS } from '../../backend.js';
import { Embedding } from '../../embedding.js';
import { currentBackend } from '../../loader.js';
import { FileFormatError, type TablePrefault, allocateTable, prefaultTable, quoteText } from '../files.js';
import { MAX_VOCABULARY_SIZE, vocabularyOfDistinct } from '../vocabulary.js';
import { type LoadSettings, MAX_VALUES } from './settings.js';
import { WordVectors } from './keyed.js';

/** The FileFormatError for a reason: names the file (and how it is being read). */
export type FailFunction = (reason: string) => FileFormatError;

/**
 * The rows a loader fills: reserved rows first (zero), then the file's records in order. The
 * parsers hand over each record's word as bytes, a batch at a time where they can: duplicates are
 * found on the bytes at once (by the backend's addDistinctWords kernel, in an open-addressing table
 * of record numbers sized for every record up front), and flushWords() decodes a chunk's worth of
 * words in one conversion and split. No Map is built while loading: the Vocabulary builds its own
 * on first lookup.
 */
export class TableBuilder {
  readonly weight: Float32Array;
  /** The bytes of weight, for copying binary records in. */
  readonly weightBytes: Buffer;
  /** The table's pages being faulted in beside the load (files.ts prefaultTable), until settle(). */
  private prefault: TablePrefault | null;
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
  /** After addWordsIfNew stopped at a duplicate: the record (from 0) that has the word. */
  private duplicateOf = -1;
  /** What addDistinctWords reports, and addWordIfNew's word as a batch of one. */
  private readonly out = new Float64Array(5);
  private readonly oneStart = new Int32Array(1);
  private readonly oneEnd = new Int32Array(1);

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
    // Last: nothing after it throws, so a builder that exists is one the loader settles.
    this.prefault = prefaultTable(this.weight);
  }

  /** Records stored so far. */
  get rows(): number {
    return this.count;
  }

  /** Element offset of the next record's row. */
  get nextRowOffset(): number {
    return (this.reservedRows + this.count) * this.dim;
  }

  /** Adds the next record's word, bytes [start, end) of chunk; throws for a duplicate. */
  addWord(chunk: Buffer, start: number, end: number): void {
    const earlier = this.addWordIfNew(chunk, start, end);
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
  addWordIfNew(chunk: Buffer, start: number, end: number): number {
    this.oneStart[0] = start;
    this.oneEnd[0] = end;
    return this.addWordsIfNew(chunk, this.oneStart, this.oneEnd, 1) === 1 ? -1 : this.duplicateOf;
  }

  /**
   * Adds the words of the next `count` records, record i's being bytes [starts[i], ends[i]) of
   * chunk, as addWord would one after the other; throws for the first duplicate (the words before
   * it added).
   */
  addWords(chunk: Buffer, starts: Int32Array, ends: Int32Array, count: number): void {
    const added = this.addWordsIfNew(chunk, starts, ends, count);
    if (added < count) throw this.duplicateError(chunk, starts[added]!, ends[added]!, this.duplicateOf);
  }

  /**
   * Adds the words of the next `count` records as addWords does, up to the first that an earlier
   * record has; returns how many were added (count when every one was; otherwise duplicateOf is
   * the record that has the next one). One backend call (addDistinctWords) per batch, and one more
   * each time the words' bytes must grow.
   */
  addWordsIfNew(chunk: Buffer, starts: Int32Array, ends: Int32Array, count: number): number {
    const backend = currentBackend();
    const out = this.out;
    let added = 0;
    while (added < count) {
      // After a stop for space (rare: the bytes double each time), the words not added yet.
      const from = added === 0 ? starts : starts.subarray(added);
      const to = added === 0 ? ends : ends.subarray(added);
      const n = backend.addDistinctWords(chunk, from, to, count - added, this.wordBytes, this.wordBytesUsed, this.wordEnds, this.count, this.slots, this.separator, out);
      added += n;
      this.count += n;
      this.wordBytesUsed = out[2]!;
      if (out[3]! >= 0) this.lastSlot = out[3]!;
      this.undecodedHigh |= out[4]!;
      const status = out[0]!;
      if (status === ADD_WORDS_STATUS.done) break;
      if (status === ADD_WORDS_STATUS.duplicate) {
        this.duplicateOf = out[1]!;
        break;
      }
      if (status !== ADD_WORDS_STATUS.needSpace) throw new Error(`the word table is corrupt (status ${status})`);
      this.growWordBytes(this.wordBytesUsed + ends[added]! - starts[added]! + 1);
    }
    return added;
  }

  /** Makes wordBytes hold `needed` bytes: twice its size, or more when that is not enough. */
  private growWordBytes(needed: number): void {
    if (needed > MAX_WORD_BYTES_TOTAL) {
      throw this.failAfterWords(`${this.placeOf(this.count)}: the words take more than ${MAX_WORD_BYTES_TOTAL} bytes`);
    }
    const grown = Buffer.allocUnsafe(Math.min(MAX_WORD_BYTES_TOTAL, Math.max(2 * this.wordBytes.length, needed)));
    this.wordBytes.copy(grown, 0, 0, this.wordBytesUsed);
    this.wordBytes = grown;
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
  /** Ends the table's fault-in, if any (the loaders await this before they return or throw). */
  async settle(): Promise<void> {
    const prefault = this.prefault;
    this.prefault = null;
    await prefault?.stop();
  }

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

/** The most bytes the words of one file may take, their separators included (word ends are int32). */
const MAX_WORD_BYTES_TOTAL = 2 ** 31 - 1;

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
