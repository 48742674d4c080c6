// The text loaders' parseTextLines kernel and how the loaders use it: the backend's kernel against
// the TypeScript twin (the same lines clean, the same numbers decided) and against the exact
// decimal conversion; files large enough to be split over the thread pool read the same at 1, 2
// and 3 threads, with lines across chunk and piece boundaries, the unclean lines the loaders read
// themselves (hard numbers, words with spaces, '\r\n', blank lines at the end) among clean ones,
// and the first error in file order reported whichever piece finds a later one.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { countRecordsJs, parseTextLinesJs } from '../../src/backends/js-text.js';
import { FileFormatError } from '../../src/io/files.js';
import { decimalToFloat32, loadFastText, loadGloVe, loadWord2Vec } from '../../src/io/word-vectors.js';
import { currentBackend, getNumThreads, setNumThreads } from '../../src/loader.js';
import { expectSameBits, rejection, rng } from '../helpers.js';
import { withChunkBytes } from './chunk-size.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'nn-embedding-text-lines-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const threadsBefore = getNumThreads();
afterEach(() => setNumThreads(threadsBefore));

const MAX_WORD_BYTES = 1 << 16;

/** Numbers the kernel decides, and some it leaves to the exact conversion (ties, long, tiny, huge). */
function randomNumber(next: () => number): string {
  const kind = Math.floor(next() * 20);
  const sign = next() < 0.5 ? '-' : next() < 0.1 ? '+' : '';
  if (kind === 0) return sign + ['16777217', '1.00000005960464477539062500', '1e-46', '1e-40', '3.4028235e38', '0.1234567890123456789012', '1.17549435e-38', '7e-46'][Math.floor(next() * 8)]!;
  if (kind === 1) return `${sign}${Math.floor(next() * 1e9)}e${Math.floor(next() * 90) - 60}`;
  if (kind === 2) return `${sign}${(next() * 100).toPrecision(17)}`;
  return `${sign}${next().toFixed(1 + Math.floor(next() * 8))}`;
}

describe('parseTextLines', () => {
  it('parses as the TypeScript twin does, and every value it parses is the exact conversion', () => {
    const next = rng(21);
    const dim = 5;
    for (let round = 0; round < 40; round++) {
      const lines: string[] = [];
      for (let i = 0; i < 60; i++) {
        const values = Array.from({ length: dim }, () => randomNumber(next));
        const odd = next();
        if (odd < 0.02) lines.push('');
        else if (odd < 0.04) lines.push(`two words ${values.join(' ')}`);
        else if (odd < 0.06) lines.push(`w${i} ${values.slice(1).join(' ')}`);
        else if (odd < 0.08) lines.push(`w${i} ${values.join(' ')} x`);
        else lines.push(`w${i}${next() < 0.5 ? '\t' : ' '}${values.join(next() < 0.5 ? ' ' : ' \t ')}${next() < 0.2 ? '\r' : ''}`);
      }
      const text = Buffer.from(`${lines.join('\n')}\n`);
      const run = (kernel: typeof parseTextLinesJs) => {
        const weight = new Float32Array((2 + 60) * dim);
        const lineEnds = new Int32Array(60);
        const wordEnds = new Int32Array(60);
        const n = kernel(text, 0, text.length, weight, 2, dim, 60, MAX_WORD_BYTES, 1 << 20, lineEnds, wordEnds);
        return { n, weight: weight.subarray(2 * dim, (2 + n) * dim), lineEnds: lineEnds.subarray(0, n), wordEnds: wordEnds.subarray(0, n) };
      };
      const actual = run(currentBackend().parseTextLines.bind(currentBackend()));
      const twin = run(parseTextLinesJs);
      expect(actual.n).toBe(twin.n);
      expectSameBits(actual.weight, twin.weight);
      expect(actual.lineEnds).toEqual(twin.lineEnds);
      expect(actual.wordEnds).toEqual(twin.wordEnds);
      // The lines parsed: their values are the exact conversion of their fields.
      let start = 0;
      for (let i = 0; i < actual.n; i++) {
        const fields = text.toString('latin1', start, actual.lineEnds[i]! - 1).trim().split(/[ \t]+/);
        expect(text.toString('latin1', start, actual.wordEnds[i])).toBe(fields[0]);
        for (let j = 0; j < dim; j++) {
          const field = fields[j + 1]!;
          const magnitude = decimalToFloat32(field.replace(/^[+-]/, ''));
          expect(Object.is(actual.weight[i * dim + j], field.startsWith('-') ? -magnitude : magnitude), field).toBe(true);
        }
        start = actual.lineEnds[i]!;
      }
    }
  });

  it('finds fields, carriage returns and line ends wherever they fall in the 64-byte blocks it classifies', () => {
    // The kernel classifies a line's bytes 64 at a time from the line's start: every separator,
    // '\r', '\n', field and long number is moved across the block edges here (words of 1 to 70
    // bytes shift them), and each variant is parsed by the kernel and the twin, alone and with
    // max line lengths around its length, from a text with bytes after it (so the 64-byte path
    // runs up to the line's end) and from one that ends with it (the byte-at-a-time path).
    const next = rng(64);
    const dim = 4;
    const bodies = [
      (w: string) => `${w} 0.16398 -0.5405 1 +2.5\n`,
      (w: string) => `${w} 0.16398 -0.5405 1 +2.5\r\n`,
      (w: string) => `${w}\t0.16398  -0.5405 \t1 +2.5 \t \r\n`,
      (w: string) => `${w} 12345678.125 -1234567.5 0.000000001 1e-3\n`,
      (w: string) => `${w} 0.1234567890123456789 16777217 3.4e38 -.5\n`,
      (w: string) => `${w} 0.16398 -0.5405 1\r +2.5\n`, // '\r' inside
      (w: string) => `${w} 0.16398 -0.5405 1 +2.5\r\r\n`, // two
      (w: string) => `${w} 0.16398 -0.5405 1 +2.5\r \n`, // '\r' then a blank
      (w: string) => `${w} 0.16398 -0.5405 1 +2.5 7\n`, // too many
      (w: string) => `${w} 0.16398 -0.5405 1\n`, // too few
      (w: string) => `${w} 0.16398 -0.5405 1 +2.5x\n`,
      (w: string) => `${w} 0.16398 -0.5405 1 5.\n`,
      (w: string) => `${w} 0.16398 - 1 5\n`,
      (w: string) => `${w} 0.1.6 2 1 5\n`,
    ];
    const tail = 'z 1 2 3 4\n'.repeat(8);
    let cases = 0;
    for (const body of bodies) {
      for (let wordBytes = 1; wordBytes <= 70; wordBytes++) {
        const line = body('w'.repeat(wordBytes));
        for (const after of ['', tail]) {
          const text = Buffer.from(line + after);
          for (const maxLineBytes of [1 << 20, line.length, line.length - 1, line.length + 1 + Math.floor(next() * 3)]) {
            const run = (kernel: typeof parseTextLinesJs) => {
              const weight = new Float32Array(10 * dim).fill(-7);
              const lineEnds = new Int32Array(9);
              const wordEnds = new Int32Array(9);
              const n = kernel(text, 0, text.length, weight, 0, dim, 9, MAX_WORD_BYTES, maxLineBytes, lineEnds, wordEnds);
              return { n, weight: weight.subarray(0, n * dim), lineEnds: lineEnds.subarray(0, n), wordEnds: wordEnds.subarray(0, n) };
            };
            const actual = run(currentBackend().parseTextLines.bind(currentBackend()));
            const twin = run(parseTextLinesJs);
            const what = `${JSON.stringify(line)} + ${after.length} bytes, maxLineBytes ${maxLineBytes}`;
            expect(actual.n, what).toBe(twin.n);
            expectSameBits(actual.weight, twin.weight);
            expect(actual.lineEnds, what).toEqual(twin.lineEnds);
            expect(actual.wordEnds, what).toEqual(twin.wordEnds);
            cases++;
          }
        }
      }
    }
    expect(cases).toBe(bodies.length * 70 * 2 * 4);
  });

  it('stops at maxLines, at a line without its newline, and at long words and lines', () => {
    const k = currentBackend();
    const text = Buffer.from('a 1 2\nb 3 4\nc 5 6');
    const weight = new Float32Array(8);
    const ends = () => [new Int32Array(4), new Int32Array(4)] as const;
    expect(k.parseTextLines(text, 0, text.length, weight, 0, 2, 1, MAX_WORD_BYTES, 100, ...ends())).toBe(1);
    expect(k.parseTextLines(text, 0, text.length, weight, 0, 2, 4, MAX_WORD_BYTES, 100, ...ends())).toBe(2);
    expect(k.parseTextLines(text, 6, text.length, weight, 0, 2, 4, MAX_WORD_BYTES, 100, ...ends())).toBe(1);
    expect(k.parseTextLines(text, 0, text.length, weight, 0, 2, 4, 0, 100, ...ends())).toBe(0);
    expect(k.parseTextLines(text, 0, text.length, weight, 0, 2, 4, 1, 5, ...ends())).toBe(0);
    expect(k.parseTextLines(text, 0, text.length, weight, 0, 2, 4, 1, 6, ...ends())).toBe(2);
    expect(() => k.parseTextLines(text, 0, text.length + 1, weight, 0, 2, 4, 1, 6, ...ends())).toThrow(RangeError);
    expect(() => k.parseTextLines(text, 0, text.length, weight, 1, 2, 4, 1, 6, ...ends())).toThrow(RangeError);
    expect(() => k.parseTextLines(text, 0, text.length, weight, 0, 2, 5, 1, 6, ...ends())).toThrow(RangeError);
  });
});

/** A GloVe text of `rows` lines of `dim` values (about 8 bytes each) and its words and exact table. */
function gloveText(rows: number, dim: number, seed: number, odd: (i: number) => string | null = () => null) {
  const next = rng(seed);
  const lines: string[] = [];
  const words: string[] = [];
  const table: number[] = [];
  for (let i = 0; i < rows; i++) {
    const special = odd(i);
    if (special !== null) {
      lines.push(special);
      continue;
    }
    const word = `w${i}`;
    const values = Array.from({ length: dim }, () => (next() < 0.001 ? randomNumber(next) : (next() * 2 - 1).toFixed(5)));
    lines.push(`${word} ${values.join(' ')}${i % 97 === 3 ? '\r' : ''}`);
    words.push(word);
    for (const v of values) table.push(v.startsWith('-') ? -decimalToFloat32(v.slice(1)) : decimalToFloat32(v.replace(/^\+/, '')));
  }
  return { text: `${lines.join('\n')}\n`, words, table: Float32Array.from(table) };
}

async function loadAtThreads<T>(threads: number, load: () => Promise<T>): Promise<T> {
  setNumThreads(threads);
  return load();
}

describe('countRecords', () => {
  /** The records of text[start, end) by the definition: line starts (start when atLineStart, after each '\n' before end - 1) at a byte that is not whitespace. */
  const byDefinition = (text: Uint8Array, start: number, end: number, atLineStart: number, limit: number) => {
    let n = 0;
    for (let i = start; i < end; i++) {
      const lineStart = i === start ? atLineStart === 1 : text[i - 1] === 10;
      if (lineStart && ![32, 9, 13, 10].includes(text[i]!)) n++;
    }
    return Math.min(n, limit);
  };

  it('counts the lines that start with a word, as the twin and the definition do, at 1 and 2 threads', () => {
    const next = rng(77);
    const alphabet = [97, 97, 97, 32, 9, 13, 10, 10];
    for (const threads of [1, 2]) {
      setNumThreads(threads);
      for (let round = 0; round < 300; round++) {
        // Small texts, and some above the pool's split size (2 MiB) so that pieces start mid-line.
        const length = round % 30 === 0 ? (2 << 20) + Math.floor(next() * 4096) : Math.floor(next() * 300);
        const text = new Uint8Array(length);
        for (let i = 0; i < length; i++) text[i] = alphabet[Math.floor(next() * alphabet.length)]!;
        if (round % 30 === 0) for (let i = 0; i < length; i += 1 + Math.floor(next() * 200)) text[i] = 10; // fewer, longer lines
        const start = Math.floor(next() * (length + 1));
        const end = start + Math.floor(next() * (length - start + 1));
        const atLineStart = next() < 0.5 ? 1 : 0;
        const limit = next() < 0.2 ? Math.floor(next() * 20) : Number.MAX_SAFE_INTEGER;
        const expected = byDefinition(text, start, end, atLineStart, limit);
        expect(currentBackend().countRecords(text, start, end, atLineStart, limit), `round ${round}`).toBe(expected);
        expect(countRecordsJs(text, start, end, atLineStart, limit)).toBe(expected);
      }
    }
  });

  it('refuses ranges outside the text, atLineStart other than 0 or 1, and limits below 0 or above 2^53 - 1', () => {
    const text = Buffer.from('a\nb\n');
    for (const kernel of [currentBackend().countRecords.bind(currentBackend()), countRecordsJs]) {
      expect(kernel(text, 0, 4, 1, 10)).toBe(2);
      expect(() => kernel(text, 0, 5, 1, 10)).toThrow(RangeError);
      expect(() => kernel(text, 3, 2, 1, 10)).toThrow(RangeError);
      expect(() => kernel(text, 0, 4, 2, 10)).toThrow(RangeError);
      expect(() => kernel(text, 0, 4, 1, -1)).toThrow(RangeError);
      expect(() => kernel(text, 0, 4, 1, 2 ** 53)).toThrow(RangeError); // above Number.MAX_SAFE_INTEGER
    }
  });
});

describe('text loaders over the thread pool', () => {
  const rows = 6000;
  const dim = 50;

  it('read the same table at 1, 2 and 3 threads, with chunk and piece boundaries inside lines', async () => {
    const { text, words, table } = gloveText(rows, dim, 5);
    const glove = path.join(dir, 'big.glove.txt');
    writeFileSync(glove, text);
    const word2vec = path.join(dir, 'big.w2v.txt');
    writeFileSync(word2vec, `${rows} ${dim}\n${text}`);
    expect(text.length).toBeGreaterThan(2 << 20);
    for (const chunkBytes of [8 << 20, (1 << 20) + 12345]) {
      for (const threads of [1, 2, 3]) {
        for (const loaded of [
          await withChunkBytes(chunkBytes, () => loadAtThreads(threads, () => loadGloVe(glove))),
          await withChunkBytes(chunkBytes, () => loadAtThreads(threads, () => loadFastText(word2vec))),
        ]) {
          expect(loaded.vocabulary.tokens).toEqual(words);
          expectSameBits(loaded.embedding.weight, table, `${threads} threads, chunks of ${chunkBytes}`);
        }
      }
    }
  });

  it('read words with spaces, hard numbers and blank lines at the end among clean lines', async () => {
    const { text, words, table } = gloveText(rows, dim, 6);
    const lines = text.split('\n');
    // Line 4000 (record 3999) gets a word with a space; blank lines end the file.
    const spaced = lines[3999]!.replace(/^w3999/, 'w 3999');
    const withSpaces = `${[...lines.slice(0, 3999), spaced, ...lines.slice(4000)].join('\n')}\n\n \n`;
    const file = path.join(dir, 'spaces.glove.txt');
    writeFileSync(file, withSpaces);
    const expectedWords = [...words];
    expectedWords[3999] = 'w 3999';
    for (const threads of [1, 2, 3]) {
      const loaded = await loadAtThreads(threads, () => loadGloVe(file, { wordsWithSpaces: true }));
      expect(loaded.vocabulary.tokens).toEqual(expectedWords);
      expectSameBits(loaded.embedding.weight, table);
      const error = await rejection(loadAtThreads(threads, () => loadGloVe(file)));
      expect(error).toBeInstanceOf(FileFormatError);
      expect((error as Error).message).toMatch(/line 4000 has 51 values, expected 50 \(if words contain spaces/);
    }
  });

  it('read stretches of unclean lines between clean ones the same at 1, 2 and 3 threads', async () => {
    // Lines with a subnormal (left to the TypeScript parser) in runs of 1 to 300 between clean runs
    // of 1 to 3000 lines: the kernel's region shrinks after each and grows again over clean lines.
    const next = rng(9);
    const unclean = new Set<number>();
    for (let i = Math.floor(next() * 50); i < 20_000; ) {
      const run = 1 + Math.floor(next() * 300);
      for (let k = 0; k < run; k++) unclean.add(i + k);
      i += run + 1 + Math.floor(next() * 3000);
    }
    const subnormal = (i: number) => (unclean.has(i) ? `w${i} 1e-40 ${Array(dim - 1).fill('0.25').join(' ')}` : null);
    const { text, words, table } = gloveText(20_000, dim, 10, subnormal);
    const file = path.join(dir, 'unclean.glove.txt');
    writeFileSync(file, text);
    const expectedWords: string[] = [];
    const expected = new Float32Array(20_000 * dim);
    let clean = 0;
    for (let i = 0; i < 20_000; i++) {
      expectedWords.push(`w${i}`);
      if (unclean.has(i)) expected.set([decimalToFloat32('1e-40'), ...Array(dim - 1).fill(0.25)], i * dim);
      else expected.set(table.subarray(clean * dim, ++clean * dim), i * dim);
    }
    expect(words.length).toBe(clean);
    for (const threads of [1, 2, 3]) {
      const loaded = await loadAtThreads(threads, () => loadGloVe(file));
      expect(loaded.vocabulary.tokens).toEqual(expectedWords);
      expectSameBits(loaded.embedding.weight, expected, `${threads} threads`);
    }
  });

  it('read exponents beyond the cap of a fraction of 10^7 digits as strtof does', async () => {
    // 0.<10^7 - 1 zeros>1e99999999999 is far above the float32 range, 1<10^7 zeros>e-99999999999
    // far below it: with exponent digits capped at 10^6 they read as 0.1 and 1.
    const dimension = 40_000;
    const rest = ' 0'.repeat(dimension - 1);
    const huge = path.join(dir, 'huge-exponent.glove.txt');
    writeFileSync(huge, `a 0.${'0'.repeat(9_999_999)}1e99999999999${rest}\n`);
    const error = await rejection(loadGloVe(huge));
    expect(error).toBeInstanceOf(FileFormatError);
    expect((error as Error).message).toMatch(/line 1, value 1: "0\.0+…" is outside the float32 range/);
    const tiny = path.join(dir, 'tiny-exponent.glove.txt');
    writeFileSync(tiny, `a 1${'0'.repeat(10_000_000)}e-99999999999${rest}\n`);
    const loaded = await loadGloVe(tiny);
    expect(Object.is(loaded.embedding.weight[0], 0)).toBe(true);
  });

  it('report the first bad line in file order, whichever piece finds another, and stop at limit', async () => {
    const bad = (at: Set<number>, what: string) => (i: number) => (at.has(i) ? `w${i} ${Array(dim - 1).fill('0.5').join(' ')} ${what}` : null);
    const cases: [Set<number>, string, RegExp][] = [
      [new Set([700, 5000]), 'x', /line 701, value 50: "x" is not a number/],
      [new Set([5000]), '1e99', /line 5001, value 50: "1e99" is outside the float32 range/],
      [new Set([5900]), 'x', /line 5901, value 50: "x" is not a number/],
    ];
    for (const [at, what, message] of cases) {
      const { text } = gloveText(rows, dim, 7, bad(at, what));
      const file = path.join(dir, 'bad.glove.txt');
      writeFileSync(file, text);
      for (const threads of [1, 2, 3]) {
        const error = await rejection(loadAtThreads(threads, () => loadGloVe(file)));
        expect(error, `${threads} threads`).toBeInstanceOf(FileFormatError);
        expect((error as Error).message).toMatch(message);
      }
    }
    // A duplicate word in a later piece, the first in file order reported.
    const { text } = gloveText(rows, dim, 8, (i) => (i === 4500 ? `w10 ${Array(dim).fill('1').join(' ')}` : null));
    const file = path.join(dir, 'duplicate.glove.txt');
    writeFileSync(file, text);
    for (const threads of [1, 2, 3]) {
      const error = await rejection(loadAtThreads(threads, () => loadGloVe(file)));
      expect((error as Error).message).toMatch(/line 4501: the word "w10" already appeared in line 11/);
      // limit: the lines after it are not read, not even the bad one.
      const progress: number[] = [];
      const limited = await loadAtThreads(threads, () => loadGloVe(file, { limit: 4500, onProgress: (p) => progress.push(p.bytes) }));
      expect(limited.vocabulary.size).toBe(4500);
      expect(progress.at(-1)).toBe(text.length);
      const full = await loadAtThreads(1, () => loadWord2Vec(path.join(dir, 'big.w2v.txt'), { limit: 4500 }));
      expect(full.vocabulary.size).toBe(4500);
    }
  });
});
