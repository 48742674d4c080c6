// Text records: "word v1 ... vD" per line (word2vec text, fastText .vec, GloVe).
import type { FileHandle } from 'node:fs/promises';

import { currentBackend } from '../../loader.js';
import { type ChunkReader, FileFormatError, mapForOneRead, openForReading, releaseMappedBytes, yieldToEventLoop } from '../files.js';
import { roundsSafely, scaleDecimal } from '../../decimal.js';
import { MANTISSA_LIMIT, decimalToFloat32 } from './float-text.js';
import { type LoadSettings, MAX_WORD_BYTES, maxLineBytes, readSettings } from './settings.js';
import { type FailFunction, TableBuilder, fieldText, firstFieldEnd, reportProgress } from './table-builder.js';

/**
 * Parses text lines into a TableBuilder. parse() is handed regions that end with '\n' (a final
 * line without one gets it appended), so the scanning loops need no bounds checks: '\n' stops
 * every one of them.
 *
 * A line is read as its first field (the word) and D values. Where that fails (a duplicate word,
 * a value that is not a number or out of range, values left over), readSplit takes the line
 * over: on a line with more than D values, with options.wordsWithSpaces it reads the last D
 * fields as the values and the rest as the word, without that option it throws the error saying
 * so; on other lines it throws the first reading's error. Lines of a word and D values, all of
 * them in most files, never take that path: parse()'s loops only leave early for it.
 */
export class TextParser {
  /** Line number of the next line. */
  line: number;
  /** The first blank line seen while records remained to be read, or 0. */
  private blankLine = 0;
  /** Why the first reading of a line failed, and where (for readSplit). */
  private failure: 'duplicate' | 'not a number' | 'out of range' | 'too many values' = 'too many values';
  /** The value's position (not a number, out of range), or the earlier record with the word (duplicate). */
  private failedAt = 0;

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

  /**
   * Parses the lines of chunk[start, end) (chunk[end - 1] is '\n'); stops early once a limit is
   * reached. Runs of clean lines go to the backend's parseTextLines kernel (on the thread pool,
   * natively); each line it stops at is read here, by parseLines, which gives every error, reads
   * words with spaces and rounds the numbers the kernel leaves exactly. After a blank line only
   * parseLines reads (any record after it is an error).
   */
  parse(chunk: Buffer, start: number, end: number): void {
    let p = start;
    while (p < end && !this.done) {
      if (this.blankLine === 0 && !this.complete) {
        p = this.parseClean(chunk, p, end);
        if (p >= end || this.done) return;
      }
      p = this.parseLines(chunk, p, end, 1);
    }
  }

  /** Word ends and line ends of the lines parseTextLines parsed last, and their words' starts. */
  private readonly wordEnds = new Int32Array(CLEAN_LINES_PER_CALL);
  private readonly wordStarts = new Int32Array(CLEAN_LINES_PER_CALL);
  private readonly lineEnds = new Int32Array(CLEAN_LINES_PER_CALL);

  /**
   * The clean lines from p, by the backend's kernel: their words added, in order. Returns where
   * the first line not read starts (unclean, or a duplicate word, which parseLines reports).
   */
  private parseClean(chunk: Buffer, p: number, end: number): number {
    const builder = this.builder;
    const { wordStarts, wordEnds, lineEnds } = this;
    for (;;) {
      const maxLines = Math.min(builder.capacity - builder.rows, CLEAN_LINES_PER_CALL);
      const firstRow = builder.reservedRows + builder.rows;
      // The region given to the kernel: the lines of the next cleanBudget bytes (chunk[end - 1] is '\n').
      const regionEnd = this.cleanBudget >= end - p ? end : chunk.indexOf(10, p + this.cleanBudget - 1) + 1;
      const n = currentBackend().parseTextLines(chunk, p, regionEnd, builder.weight, firstRow, builder.dim, maxLines, MAX_WORD_BYTES, this.longestLine, lineEnds, wordEnds);
      // Each line's word starts the line.
      wordStarts[0] = p;
      if (n > 1) wordStarts.set(lineEnds.subarray(0, n - 1), 1);
      const added = builder.addWordsIfNew(chunk, wordStarts, wordEnds, n);
      if (added < n) {
        this.line += added;
        this.cleanBudget = CLEAN_BUDGET_AFTER_STOP;
        return wordStarts[added]!;
      }
      this.line += n;
      const stop = n === 0 ? p : lineEnds[n - 1]!;
      if (n < maxLines && stop < regionEnd) {
        // An unclean line: the next call covers a small region, growing while its lines are clean.
        this.cleanBudget = CLEAN_BUDGET_AFTER_STOP;
        return stop;
      }
      p = stop;
      if (regionEnd < end) this.cleanBudget *= 2;
      if (p >= end || this.complete) return p;
    }
  }

  /**
   * How many bytes of lines the next parseTextLines call may cover. A call on a large region counts
   * its lines and parses them on every thread before it knows where the first unclean line is, so a
   * call that stops early wastes the rest: after a stop the region is small (parsed on one thread,
   * stopping at the first unclean line), and doubles after each call whose lines were all clean.
   * (Without this, a file of many unclean lines cost a whole chunk's work per line at 2 threads:
   * 200,000 lines with a subnormal each took 56 s instead of 0.5 s.)
   */
  private cleanBudget = Infinity;

  /** Parses up to `lines` lines of chunk[p, end) here (see parse); returns where it stopped. */
  private parseLines(chunk: Buffer, p: number, end: number, lines: number): number {
    const builder = this.builder;
    const weight = builder.weight;
    const dim = builder.dim;
    for (let count = 0; p < end && count < lines; count++) {
      if (this.done) return p;
      let c = chunk[p]!;
      if (c === 32 || c === 9 || c === 13 || c === 10) {
        while ((c = chunk[p]!) === 32 || c === 9 || c === 13) p++;
        if (c !== 10) throw this.fail(`line ${this.line} starts with whitespace (an empty word)`);
        if (this.blankLine === 0) this.blankLine = this.line;
        p++;
        this.line++;
        continue;
      }
      if (this.complete) throw this.fail(`line ${this.line}: unexpected data after the ${builder.rows} records expected`);
      if (this.blankLine !== 0) throw this.fail(`line ${this.blankLine} is empty`);
      // The word: up to a space or tab (with wordsWithSpaces, maybe only its first part: a
      // duplicate then may be the start of a longer word, and readSplit decides).
      const lineStart = p;
      while ((c = chunk[p]!) > 32 || (c !== 32 && c !== 9 && c !== 10 && c !== 13)) p++;
      if (p - lineStart > MAX_WORD_BYTES) throw this.fail(`line ${this.line}: the word is longer than ${MAX_WORD_BYTES} bytes`);
      const base = builder.nextRowOffset;
      // Values; a failure leaves the loop early (j < dim), a duplicate skips it (j > dim), for readSplit.
      let j = 0;
      const earlier = builder.addWordIfNew(chunk, lineStart, p);
      if (earlier >= 0) {
        this.failure = 'duplicate';
        this.failedAt = earlier;
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
            if (exponent < 1e15) exponent = exponent * 10 + digit; // see native/parse_text.cc kExponentCap
            exponentDigits++;
            p++;
          }
          if (exponentDigits === 0) digitCount = 0;
          exp10 += exponentNegative ? -exponent : exponent;
          c = chunk[p]!;
        }
        if (digitCount === 0 || !(c === 32 || c === 9 || c === 10 || c === 13)) {
          this.failure = 'not a number';
          this.failedAt = numberStart;
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
              this.failure = 'out of range';
              this.failedAt = numberStart;
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
          this.failure = 'too many values';
        }
      }
      if (j === dim && c === 10) {
        p++;
      } else {
        p = this.readSplit(chunk, lineStart, j);
      }
      if (p - lineStart > this.longestLine) throw this.tooLong();
      this.line++;
    }
    return p;
  }

  /**
   * The line from lineStart, after reading it as a word and D values failed (failure) at value
   * `failed` (from 0; dim: values were left over; dim + 1: the first field is a duplicate, and was
   * not added): with options.wordsWithSpaces and more than D values, its last D fields are read
   * as the values and the rest is the word (added in place of the first field); the position
   * after the line's '\n' is returned. Otherwise throws: the error saying that the line has too
   * many values (suggesting the option), or the first reading's error.
   */
  private readSplit(chunk: Buffer, lineStart: number, failed: number): number {
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
      if (this.failure === 'duplicate') throw builder.duplicateError(chunk, lineStart, firstFieldEnd(chunk, lineStart), this.failedAt);
      if (this.failure === 'not a number') throw this.notANumber(chunk, this.failedAt, failed);
      if (this.failure === 'out of range') throw this.outOfRange(chunk, this.failedAt, failed);
      throw this.fail(`line ${this.line} has more than ${dim} values`);
    }
    if (!builder.settings.wordsWithSpaces) {
      throw this.fail(`line ${this.line} has ${fields - 1} values, expected ${dim} (if words contain spaces, as in glove.840B, pass wordsWithSpaces: true)`);
    }
    if (wordEnd - lineStart > MAX_WORD_BYTES) throw this.fail(`line ${this.line}: the word is longer than ${MAX_WORD_BYTES} bytes`);
    // The first field was added as the word, unless another record has it.
    if (this.failure !== 'duplicate') builder.removeLastWord();
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
      if (!NUMBER_FIELD.test(text)) throw this.notANumber(chunk, start, j);
      const sign = text.charCodeAt(0);
      const digits = sign === 45 || sign === 43 ? text.slice(1) : text;
      const approximate = Number(digits);
      const value = roundsSafely(approximate) ? approximate : decimalToFloat32(digits);
      if (value === Infinity) throw this.outOfRange(chunk, start, j);
      weight[base + j] = sign === 45 ? -value : value;
    }
    builder.addWord(chunk, lineStart, wordEnd);
    return newline + 1;
  }

  /** The longest line accepted (what a chunk must hold of a line in progress). */
  get longestLine(): number {
    return maxLineBytes(this.builder.dim);
  }

  tooLong(): FileFormatError {
    return this.fail(`line ${this.line} is longer than ${this.longestLine} bytes`);
  }

  private outOfRange(chunk: Buffer, start: number, column: number): FileFormatError {
    return this.fail(`line ${this.line}, value ${column + 1}: ${fieldText(chunk, start)} is outside the float32 range${this.lineOneNote}`);
  }

  private notANumber(chunk: Buffer, start: number, column: number): FileFormatError {
    const text = fieldText(chunk, start);
    const nonFinite = /^"[+-]?(nan|inf|infinity)"$/i.test(text);
    return this.fail(`line ${this.line}, value ${column + 1}: ${text} is ${nonFinite ? 'not finite' : 'not a number'}${this.lineOneNote}`);
  }

  private get lineOneNote(): string {
    return this.line === 1 ? this.dimensionNote : '';
  }

  /** After the last chunk: every record wanted was read. */
  finish(totalDescription: string): void {
    if (!this.complete) throw this.fail(`truncated: ${totalDescription}, found ${this.builder.rows}`);
  }
}

/**
 * Feeds a TextParser the file from `first` (already read, ending at reader.position) to the end, or
 * until a limit is reached. On the native backend the rest of the file is read mapped, in windows
 * of settings' chunk size (from the line in progress on; more only while a line in progress needs
 * it), each window's pages released once parsed: the parser reads the page cache itself, no copy
 * of the file is made, and the resident size stays the table plus about a window. Elsewhere (or if
 * the file cannot be mapped) chunks are read ahead through a handle of their own: the read of the
 * next chunk (on libuv's threads) runs while the current one is parsed, into two buffers of
 * settings' chunk size (more only while a line in progress needs them), whatever the file size.
 */
export async function parseTextFile(reader: ChunkReader, first: Buffer, parser: TextParser, settings: LoadSettings): Promise<void> {
  const { file, size } = reader;
  const mapping = reader.position < size ? mapForOneRead(file, size) : null;
  if (mapping !== null) {
    await parseMappedText(reader, mapping, first, parser, settings);
    return;
  }
  let position = reader.position;
  let chunk = first;
  const handle = position < size ? await openForReading(file) : null;
  // The buffers read into, in turn (the first chunk is the reader's).
  const bufferBytes = Math.max(1, Math.min(readSettings.chunkBytes, size));
  const buffers = handle === null ? [] : [Buffer.allocUnsafe(bufferBytes), Buffer.allocUnsafe(bufferBytes)];
  let turn = 0;
  let pending: Promise<number> | null = null;
  try {
    for (;;) {
      const final = position >= size;
      const end = chunk.lastIndexOf(10) + 1;
      const carry = chunk.length - end;
      // The next chunk: the line in progress (copied in after parsing) and then the bytes after it.
      if (!final && carry <= parser.longestLine) {
        if (carry * 2 > buffers[turn]!.length) buffers[turn] = Buffer.allocUnsafe(carry * 2);
        pending = readChunk(handle!, file, buffers[turn]!, carry, position, size);
      }
      if (parseLines(parser, chunk, end, final)) return;
      reportProgress(settings, position, size);
      const target = buffers[turn]!;
      chunk.copy(target, 0, end);
      const read = await pending!;
      pending = null;
      position += read;
      chunk = target.subarray(0, carry + read);
      turn = 1 - turn;
    }
  } finally {
    // A read still in flight (an error was thrown) finishes before its handle closes.
    if (pending !== null) await pending.catch(() => 0);
    await handle?.close();
  }
}

/**
 * Parses the complete lines of `chunk` (those before `end`, the byte after its last '\n'); true
 * when the parse is over: the parser is done (a limit), or this was the file's last chunk (then
 * a last line without '\n' is parsed too). Throws for a line in progress longer than any line
 * accepted (it stays in memory until its end).
 */
function parseLines(parser: TextParser, chunk: Buffer, end: number, final: boolean): boolean {
  parser.parse(chunk, 0, end);
  parser.builder.flushWords();
  if (parser.done) return true;
  if (chunk.length - end > parser.longestLine) throw parser.tooLong();
  if (!final) return false;
  if (end < chunk.length) {
    // The last line has no '\n': parse a copy of it that has one.
    const last = Buffer.allocUnsafe(chunk.length - end + 1);
    chunk.copy(last, 0, end);
    last[last.length - 1] = 10;
    parser.parse(last, 0, last.length);
  }
  return true;
}

/**
 * parseTextFile over `mapping` (the whole file, mapped): `first` (the reader's chunk, ending at
 * reader.position) first, then windows of the mapping, each from the line in progress on, each
 * after checking that the file still holds it (reader.checkSize).
 */
async function parseMappedText(reader: ChunkReader, mapping: Buffer, first: Buffer, parser: TextParser, settings: LoadSettings): Promise<void> {
  const size = mapping.length;
  let position = reader.position;
  const step = Math.max(1, readSettings.chunkBytes);
  let chunk = first;
  let released = 0;
  try {
    for (;;) {
      const end = chunk.lastIndexOf(10) + 1;
      if (parseLines(parser, chunk, end, position >= size)) return;
      reportProgress(settings, position, size);
      // The lines before the line in progress are done with: their pages leave this process.
      const start = position - (chunk.length - end);
      releaseMappedBytes(mapping, released, start);
      released = start;
      const windowEnd = Math.min(size, start + Math.max(step, 2 * (position - start)));
      await yieldToEventLoop();
      reader.checkSize(windowEnd, position);
      position = windowEnd;
      chunk = mapping.subarray(start, position);
    }
  } finally {
    releaseMappedBytes(mapping, released, position);
  }
}

/**
 * Reads into buffer[offset, buffer.length) from the file at `position` (up to `size`), as many
 * bytes as fit or remain; returns how many. Messages as ChunkReader's.
 */
async function readChunk(handle: FileHandle, file: string, buffer: Buffer, offset: number, position: number, size: number): Promise<number> {
  let filled = offset;
  while (filled < buffer.length && position < size) {
    let bytesRead: number;
    try {
      ({ bytesRead } = await handle.read(buffer, filled, Math.min(buffer.length - filled, size - position), position));
    } catch (error) {
      throw new Error(`${file}: cannot read at byte ${position}: ${(error as Error).message}`, { cause: error });
    }
    if (bytesRead === 0) throw new FileFormatError(file, `the file shrank while being read (${position} of ${size} bytes)`);
    filled += bytesRead;
    position += bytesRead;
  }
  return filled - offset;
}

/** The most lines one parseTextLines call parses (the size of its position arrays). */
const CLEAN_LINES_PER_CALL = 1 << 16;

/** TextParser's region after an unclean line: below the size the kernel splits over threads (1 MiB). */
const CLEAN_BUDGET_AFTER_STOP = 1 << 16;

export const NUMBER_FIELD = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
