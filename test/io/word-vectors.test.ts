// Word vectors: word2vec text/binary, fastText .vec and GloVe round trips (bit-identical),
// files written by the original word2vec C tool, hand-written files in both line-ending styles,
// gensim's binary layout, chunk boundaries at every position, exact decimal rounding at float32
// midpoints, the shortest decimal writer, options, progress, and every validation error.
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { Embedding } from '../../src/embedding.js';
import { FileFormatError, mapForOneRead, releaseMappedBytes } from '../../src/io/files.js';
import { currentBackend } from '../../src/loader.js';
import { Vocabulary } from '../../src/io/vocabulary.js';
import {
  type WordVectors,
  decimalToFloat32,
  formatFloat32,
  loadFastText,
  loadGloVe,
  loadWord2Vec,
  saveGloVe,
  saveWord2Vec,
  readSettings,
} from '../../src/io/word-vectors.js';
import { expectFileFormatError, expectSameBits, rejection, rng, writeTestFile } from '../helpers.js';
import { withChunkBytes } from './chunk-size.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'nn-embedding-word-vectors-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fixtures = path.join(__dirname, '..', 'fixtures', 'interop');

function fileAt(name: string, content?: string | Uint8Array): string {
  return content === undefined ? path.join(dir, name) : writeTestFile(dir, name, content);
}

function bitsOf(values: ArrayLike<number>): Float32Array {
  return new Float32Array(new Uint32Array(Array.from(values)).buffer);
}

function float32(value: number): number {
  return Math.fround(value);
}

/** Binary word2vec bytes: header, then per record `word ` + little-endian float32s (+ '\n' unless gensim). */
function binaryFile(words: string[], rows: number[][], style: 'c' | 'gensim', header = `${words.length} ${rows[0]!.length}\n`): Buffer {
  const parts: Buffer[] = [Buffer.from(header)];
  words.forEach((word, i) => {
    parts.push(Buffer.from(`${word} `));
    const values = Buffer.alloc(4 * rows[i]!.length);
    rows[i]!.forEach((v, j) => values.writeFloatLE(v, 4 * j));
    parts.push(values);
    if (style === 'c') parts.push(Buffer.from('\n'));
  });
  return Buffer.concat(parts);
}

/** A table with values that stress the text form: -0, subnormals, extremes, integers, fractions. */
function trickyTable(rows: number, dim: number, seed: number): Float32Array {
  const next = rng(seed);
  const specials = [-0, 0, 2 ** -149, -(2 ** -149), 2 ** -126, 3.4028234663852886e38, -3.4028234663852886e38, 1e-30, 1e30, 16777216, 0.1, 1 / 3, 123456.789, -1e-7, 1e21];
  const table = new Float32Array(rows * dim);
  const bits = new Uint32Array(table.buffer);
  for (let i = 0; i < table.length; i++) {
    const kind = next();
    if (i < specials.length) table[i] = specials[i]!;
    else if (kind < 0.6) table[i] = (next() - 0.5) * 4;
    else if (kind < 0.8) table[i] = Math.round((next() - 0.5) * 2000) / 100;
    else {
      // Any finite float32 bit pattern.
      do bits[i] = Math.floor(next() * 2 ** 32);
      while (!Number.isFinite(table[i]!));
    }
  }
  return table;
}

function wordsFor(rows: number): string[] {
  const special = ['café', '日本語', 'emoji😀', "don't", 'U.S.', '</s>', '3.14', '-', '{'];
  return Array.from({ length: rows }, (_, i) => (i < special.length ? special[i]! : `w${i}`));
}

async function formatError(load: Promise<unknown>): Promise<Error> {
  const error = await rejection(load);
  expect(error, 'expected the load to fail').toBeInstanceOf(FileFormatError);
  return error as Error;
}

/** Each promise rejects with an error of its type whose message matches. */
async function expectRejections(cases: [Promise<unknown>, typeof TypeError | typeof RangeError, RegExp][]): Promise<void> {
  for (const [promise, type, message] of cases) {
    const error = await rejection(promise);
    expect(error).toBeInstanceOf(type);
    expect((error as Error).message).toMatch(message);
  }
}

/** Loading `content` (written to `name`) fails with a FileFormatError naming the file and the reason. */
async function expectFormatError(
  name: string,
  content: string | Uint8Array,
  reason: RegExp,
  load: (file: string) => Promise<unknown> = (file) => loadWord2Vec(file),
): Promise<void> {
  const file = fileAt(name, content);
  await expectFileFormatError(load(file), file, reason, name);
}

function expectSameVectors(actual: WordVectors, expected: WordVectors): void {
  expect(actual.vocabulary.tokens).toEqual(expected.vocabulary.tokens);
  expectSameBits(actual.embedding.weight, expected.embedding.weight);
}

describe('round trips', () => {
  const rows = 40;
  const dim = 7;
  const table = trickyTable(rows, dim, 11);
  const vocabulary = new Vocabulary(wordsFor(rows));
  const layer = Embedding.fromPretrained(table, dim);

  it('word2vec text and binary, GloVe and fastText give back the same words and bits', async () => {
    const cases: [string, (file: string) => Promise<void>, (file: string) => Promise<WordVectors>][] = [
      ['table.txt', (file) => saveWord2Vec(file, vocabulary, layer), (file) => loadWord2Vec(file)],
      ['table.bin', (file) => saveWord2Vec(file, vocabulary, layer), (file) => loadWord2Vec(file)],
      ['table-text', (file) => saveWord2Vec(file, vocabulary, layer, { binary: false }), (file) => loadWord2Vec(file)],
      ['table-binary', (file) => saveWord2Vec(file, vocabulary, layer, { binary: true }), (file) => loadWord2Vec(file)],
      ['table.vec', (file) => saveWord2Vec(file, vocabulary, layer), (file) => loadFastText(file)],
      ['glove.txt', (file) => saveGloVe(file, vocabulary, layer), (file) => loadGloVe(file)],
    ];
    for (const [name, save, load] of cases) {
      const file = fileAt(name);
      await save(file);
      const loaded = await load(file);
      expect(loaded.vocabulary.tokens, name).toEqual(vocabulary.tokens);
      vocabulary.tokens.forEach((word, i) => expect(loaded.vocabulary.indexOf(word), name).toBe(i));
      expect(loaded.vocabulary.has('absent'), name).toBe(false);
      expect(loaded.embedding.numEmbeddings, name).toBe(rows);
      expect(loaded.embedding.embeddingDim, name).toBe(dim);
      expectSameBits(loaded.embedding.weight, table, name);
      expect(loaded.embedding.freeze, name).toBe(true);
      expect(loaded.embedding.paddingIdx, name).toBeNull();
    }
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('writes the layouts the tools write: text lines with a header, the C tool binary records', async () => {
    const small = new Vocabulary(['a', 'bé']);
    const values = { weight: new Float32Array([0.5, -0, 1e-7, 3]), embeddingDim: 2, numEmbeddings: 2 };
    const text = fileAt('layout.txt');
    await saveWord2Vec(text, small, values);
    expect(readFileSync(text, 'utf8')).toBe('2 2\na 0.5 -0\nbé 1e-7 3\n');
    const glove = fileAt('layout-glove.txt');
    await saveGloVe(glove, small, values);
    expect(readFileSync(glove, 'utf8')).toBe('a 0.5 -0\nbé 1e-7 3\n');
    const binary = fileAt('layout.bin');
    await saveWord2Vec(binary, small, values);
    expect(readFileSync(binary)).toEqual(binaryFile(['a', 'bé'], [[0.5, -0], [1e-7, 3]], 'c'));
  });

  it('reads back every binary and text file at every chunk size that puts boundaries inside records', async () => {
    const smallVocabulary = new Vocabulary(['x', 'ÿé', 'zzz', 'w']);
    const smallTable = { weight: trickyTable(4, 3, 5), embeddingDim: 3, numEmbeddings: 4 };
    const files: [string, (file: string) => Promise<WordVectors>][] = [];
    for (const binary of [false, true]) {
      const file = fileAt(`chunks-${binary}.w2v`);
      await saveWord2Vec(file, smallVocabulary, smallTable, { binary });
      files.push([file, (f) => loadWord2Vec(f, { binary })]);
    }
    const glove = fileAt('chunks-glove.txt');
    await saveGloVe(glove, smallVocabulary, smallTable);
    files.push([glove, (f) => loadGloVe(f)]);
    const gensim = fileAt('chunks-gensim.bin', binaryFile(['x', 'ÿé', 'zzz', 'w'], [[1, 2, 3], [4, 5, 6], [7, 8, 9], [10, 11, 12]], 'gensim'));
    files.push([gensim, (f) => loadWord2Vec(f)]);
    const crlf = fileAt('chunks-crlf.txt', '4 3\r\nx 1 2 3 \r\nÿé 4 5 6\r\nzzz 7 8 9\r\nw 10 11 12\r\n');
    files.push([crlf, (f) => loadWord2Vec(f)]);
    for (const [file, load] of files) {
      const whole = await load(file);
      const size = readFileSync(file).length;
      for (let chunkBytes = 1; chunkBytes <= size + 1; chunkBytes++) {
        const loaded = await withChunkBytes(chunkBytes, () => load(file));
        expectSameVectors(loaded, whole);
      }
    }
  });

  it('reads a long file through many chunks, with progress increasing to the total', async () => {
    const manyRows = 300;
    const manyVocabulary = new Vocabulary(wordsFor(manyRows));
    const manyTable = { weight: trickyTable(manyRows, 5, 9), embeddingDim: 5, numEmbeddings: manyRows };
    for (const [name, save, load] of [
      ['progress.txt', saveWord2Vec, loadWord2Vec],
      ['progress.bin', saveWord2Vec, loadWord2Vec],
      ['progress-glove.txt', saveGloVe, loadGloVe],
    ] as const) {
      const file = fileAt(name);
      const writes: { bytes: number; totalBytes: number }[] = [];
      await save(file, manyVocabulary, manyTable, { onProgress: (p) => writes.push(p) });
      const size = readFileSync(file).length;
      expect(writes.at(-1), name).toEqual({ bytes: size, totalBytes: size });
      const reads: { bytes: number; totalBytes: number }[] = [];
      const loaded = await withChunkBytes(997, () => load(file, { onProgress: (p) => reads.push(p) }));
      expectSameBits(loaded.embedding.weight, manyTable.weight, name);
      expect(reads.length, name).toBeGreaterThan(size / 997 / 2);
      expect(reads.at(-1), name).toEqual({ bytes: size, totalBytes: size });
      for (let k = 1; k < reads.length; k++) expect(reads[k]!.bytes, name).toBeGreaterThanOrEqual(reads[k - 1]!.bytes);
      expect(reads.every((p) => p.totalBytes === size && p.bytes <= size), name).toBe(true);
    }
  });
});

describe('files written by the original word2vec C tool', () => {
  const expected = JSON.parse(readFileSync(path.join(fixtures, 'w2v-c-expected.json'), 'utf8')) as {
    rows: number;
    dim: number;
    words: string[];
    binary_bits: number[][];
    text_bits: number[][];
  };

  /** The fixture, copied under each name (with its extension, and without: sniffed), loads as expected. */
  async function expectLoads(fixture: string, names: string[], bits: number[][]): Promise<void> {
    for (const name of names) {
      const file = path.join(dir, name);
      copyFileSync(path.join(fixtures, fixture), file);
      const { vocabulary, embedding } = await loadWord2Vec(file);
      expect(vocabulary.tokens).toEqual(expected.words);
      expect([embedding.numEmbeddings, embedding.embeddingDim]).toEqual([expected.rows, expected.dim]);
      expectSameBits(embedding.weight, bitsOf(bits.flat()), name);
    }
  }

  it('reads its text output (6 decimals, a space before each newline): the float32 nearest to each field', async () => {
    await expectLoads('w2v-c-text.txt', ['w2v-c-text.txt', 'w2v-c-text'], expected.text_bits);
  });

  it('reads its binary output (a newline after each record), by extension and by sniffing', async () => {
    await expectLoads('w2v-c-binary.bin', ['w2v-c-binary.bin', 'w2v-c-binary'], expected.binary_bits);
  });

  it('writes its binary output byte for byte', async () => {
    const file = fileAt('rewritten.bin');
    const { vocabulary, embedding } = await loadWord2Vec(path.join(fixtures, 'w2v-c-binary.bin'));
    await saveWord2Vec(file, vocabulary, embedding);
    expect(readFileSync(file).equals(readFileSync(path.join(fixtures, 'w2v-c-binary.bin')))).toBe(true);
  });
});

describe('hand-written files', () => {
  it('word2vec text: \\n and \\r\\n, tabs, trailing spaces, every number notation, a missing final newline', async () => {
    const lines = ['3 4', 'one 1 -2.5\t+3 .5', 'two\t1. -0 1E3 1e+3  ', 'three 1e-3 0.000 -.25 000123.4500e-2 '];
    const expectedWeight = Float32Array.from([1, -2.5, 3, 0.5, 1, -0, 1000, 1000, 0.001, 0, -0.25, 1.2345]);
    for (const [name, content] of [
      ['unix.txt', `${lines.join('\n')}\n`],
      ['windows.txt', `${lines.join('\r\n')}\r\n`],
      ['no-newline.txt', lines.join('\n')],
      ['windows-no-newline.txt', lines.join('\r\n')],
      ['trailing-blank-lines.txt', `${lines.join('\n')}\n\n  \n\r\n`],
      ['bom.txt', `\ufeff${lines.join('\n')}\n`],
    ] as const) {
      const loaded = await loadWord2Vec(fileAt(name, content));
      expect(loaded.vocabulary.tokens, name).toEqual(['one', 'two', 'three']);
      expectSameBits(loaded.embedding.weight, expectedWeight, name);
    }
  });

  it('word2vec binary: gensim (no newline after records) and the C tool (newline after each)', async () => {
    const words = ['a', 'bé', 'ccc'];
    const rows = [[1.5, -2], [0, 3.25], [-0, 1e-40]];
    for (const style of ['c', 'gensim'] as const) {
      for (const name of [`${style}.bin`, `${style}-sniffed`]) {
        const loaded = await loadWord2Vec(fileAt(name, binaryFile(words, rows, style)));
        expect(loaded.vocabulary.tokens, name).toEqual(words);
        expectSameBits(loaded.embedding.weight, Float32Array.from(rows.flat()), name);
      }
    }
    // The C tool's reader skips any newline before a word; trailing whitespace after the records is fine.
    const extra = Buffer.concat([Buffer.from('2 1\n\n\r\na '), Buffer.from([0, 0, 0x80, 0x3f]), Buffer.from('\n\n\nb '), Buffer.from([0, 0, 0, 0x40]), Buffer.from('\n \n')]);
    const loaded = await loadWord2Vec(fileAt('extra-newlines.bin', extra));
    expect(loaded.vocabulary.tokens).toEqual(['a', 'b']);
    expectSameBits(loaded.embedding.weight, Float32Array.from([1, 2]));
  });

  it('GloVe: no header, the dimension from the first line, trailing spaces, \\r\\n, trailing blank lines', async () => {
    for (const [name, content] of [
      ['glove-unix.txt', 'the 0.1 -0.2 0.3\nof 1 2 3\n'],
      ['glove-windows.txt', 'the 0.1 -0.2 0.3 \r\nof 1 2 3\r\n'],
      ['glove-trailing.txt', 'the 0.1 -0.2 0.3   \nof 1 2 3\n\n\n'],
      ['glove-no-newline.txt', 'the 0.1 -0.2 0.3\nof 1 2 3'],
      ['glove-bom.txt', '\ufeffthe 0.1 -0.2 0.3\nof 1 2 3'],
    ] as const) {
      const loaded = await loadGloVe(fileAt(name, content));
      expect(loaded.vocabulary.tokens, name).toEqual(['the', 'of']);
      expectSameBits(loaded.embedding.weight, Float32Array.from([0.1, -0.2, 0.3, 1, 2, 3]), name);
    }
  });

  it('chooses text or binary as documented, and says which in errors', async () => {
    // A text file named .bin is read as binary: the error says why and what to pass.
    const textAsBin = fileAt('text-named.bin', '2 2\na 1 2\nb 3 4\n');
    const error = await formatError(loadWord2Vec(textAsBin));
    expect(error.message).toMatch(/read as word2vec binary because the name ends in \.bin; pass binary: false/);
    const loaded = await loadWord2Vec(textAsBin, { binary: false });
    expectSameBits(loaded.embedding.weight, Float32Array.from([1, 2, 3, 4]));
    // Without a telling extension, a first record that is not a word and D numbers means binary.
    const sniffed = await formatError(loadWord2Vec(fileAt('sniffed-text', '2 2\na 1 2 3\nb 3 4\n')));
    expect(sniffed.message).toMatch(/read as word2vec binary because the line after the header is not a word and the declared number of values/);
    const forced = await formatError(loadWord2Vec(fileAt('forced.bin', '2 2\na 1 2 3\nb 3 4\n'), { binary: false }));
    expect(forced.message).toMatch(/line 2 has 3 values, expected 2 \(if words contain spaces, as in glove\.840B, pass wordsWithSpaces: true\) \(read as word2vec text, as options.binary says\)/);
  });
});

describe('words with spaces (options.wordsWithSpaces, as in glove.840B)', () => {
  const SUGGESTION = /\(if words contain spaces, as in glove\.840B, pass wordsWithSpaces: true\)/;
  // Words as glove.840B.300d has them, a tab inside a word, words of numbers, one whose first part
  // is out of the float32 range, and "." after ". . ." (the first field alone would be a duplicate).
  const words = ['a', '. . .', 'at name@domain.com', 'b\tc', '1 2', '-3 1e99 4', '.', 'x  y', 'x y'];
  const rows = [[1, 2, 3], [4, 5, 6], [-0.5, 0.25, 7], [8, 9, 10], [11, 12, 13], [14, 15, 16], [17, 18, 19], [20, 21, 22], [23, 24, 25]];
  const lines = words.map((word, i) => `${word} ${rows[i]!.join(' ')}`);
  lines[3] = `${lines[3]} \t`; // trailing separators
  lines[7] = `x  y\t  ${rows[7]!.join('  ')}`; // the separator run before the values is not part of the word
  const glove = `${lines.join('\n')}\n`;
  const word2vec = `${words.length} 3\n${glove}`;
  const weight = Float32Array.from(rows.flat());
  const spaced = { wordsWithSpaces: true };

  function expectWords(loaded: WordVectors, name: string): void {
    expect(loaded.vocabulary.tokens, name).toEqual(words);
    words.forEach((word, i) => expect(loaded.vocabulary.indexOf(word), `${name}: ${word}`).toBe(i));
    expectSameBits(loaded.embedding.weight, weight, name);
  }

  it('reads GloVe, word2vec text and fastText lines whose word has spaces: the last D fields are the vector', async () => {
    const crlf = (text: string): string => text.replace(/\n/g, '\r\n');
    const cases: [string, string, (file: string, options?: object) => Promise<WordVectors>][] = [
      ['spaces-glove.txt', glove, loadGloVe],
      ['spaces-glove-crlf.txt', crlf(glove), loadGloVe],
      ['spaces-glove-no-newline.txt', glove.slice(0, -1), loadGloVe],
      ['spaces-w2v.txt', word2vec, loadWord2Vec],
      ['spaces-w2v-crlf.txt', crlf(word2vec), loadWord2Vec],
      ['spaces-w2v-crlf-no-newline.txt', crlf(word2vec).slice(0, -2), loadWord2Vec],
      ['spaces-w2v-forced-text.bin', word2vec, (file, options) => loadWord2Vec(file, { ...options, binary: false })],
      ['spaces.vec', word2vec, loadFastText],
    ];
    for (const [name, content, load] of cases) {
      const file = fileAt(name, content);
      expectWords(await load(file, spaced), name);
      // Without the option: line 2 (". . .") is refused, suggesting it.
      const error = await formatError(load(file));
      expect(error.message, name).toMatch(new RegExp(`line ${content === glove || load === loadGloVe ? 2 : 3} has 5 values, expected 3 ${SUGGESTION.source}`));
    }
  });

  it('sniffs an extensionless word2vec file as text when its first record has a spaced word', async () => {
    const file = fileAt('spaces-sniffed', `2 3\n. . . 1 2 3\na 4 5 6\n`);
    const loaded = await loadWord2Vec(file, spaced);
    expect(loaded.vocabulary.tokens).toEqual(['. . .', 'a']);
    expectSameBits(loaded.embedding.weight, Float32Array.from([1, 2, 3, 4, 5, 6]));
    // Without the option the first record is not "a word and 3 values": read as binary, which fails.
    const error = await formatError(loadWord2Vec(file));
    expect(error.message).toMatch(/read as word2vec binary because the line after the header is not a word and the declared number of values/);
  });

  it('the error without the option counts the values and suggests it, whatever stopped the reading', async () => {
    const cases: [string, string, RegExp][] = [
      // "name@domain.com" is not a number, but the line has too many values: that is the error.
      ['suggest-email.txt', 'a 1 2 3\nat name@domain.com 1 2 3\n', /line 2 has 4 values, expected 3/],
      ['suggest-dots.txt', 'a 1 2 3\nb 1 2 3\n. . . 1 2 3\n', /line 3 has 5 values, expected 3/],
      // As in glove.840B: "." comes before ". . .", whose first field is then a duplicate.
      ['suggest-after-dot.txt', 'a 1 2 3\n. 1 2 3\n. . . 1 2 3\n', /line 3 has 5 values, expected 3/],
      ['suggest-numbers.txt', 'a 1 2 3\n1 2 4 5 6\n', /line 2 has 4 values, expected 3/],
      ['suggest-range.txt', 'a 1 2 3\nx 1e99 4 5 6\n', /line 2 has 4 values, expected 3/],
    ];
    for (const [name, content, reason] of cases) {
      await expectFormatError(name, content, new RegExp(`${reason.source} ${SUGGESTION.source}`), (file) => loadGloVe(file));
      await expectFormatError(`w2v-${name}`, `${content.split('\n').length - 1} 3\n${content}`, /has \d+ values, expected 3 \(if words contain spaces/, (file) => loadWord2Vec(file));
    }
    // A line of a word and D fields keeps its own error: no suggestion.
    const plain = await formatError(loadGloVe(fileAt('suggest-not.txt', 'a 1 2 3\nat name@domain.com 1 2\n')));
    expect(plain.message).toMatch(/line 2, value 1: "name@domain.com" is not a number$/);
  });

  it('words made of numbers: "1 2" followed by D values is the word "1 2"', async () => {
    const content = 'a 1 2 3\n1 2 4 5 6\n1 2 3 7 8 9\n-1 -2 -3 -4 -5\n1e99 1e-99 1 1 1\n';
    const loaded = await loadGloVe(fileAt('number-words.txt', content), spaced);
    expect(loaded.vocabulary.tokens).toEqual(['a', '1 2', '1 2 3', '-1 -2', '1e99 1e-99']);
    expectSameBits(loaded.embedding.weight, Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, -3, -4, -5, 1, 1, 1]));
  });

  it('values of a line whose word has spaces are rounded as on any line (nearest float32, as strtof)', async () => {
    const next = rng(29);
    const texts = [
      '1.000000059604644775390625',
      '1.000000059604644775390625000001',
      '-1.000000059604644775390624999999',
      '7.006492321624085354618647916449580656401309709382578858785341419448955413429304e-46',
      '1.4012984643e-45',
      '3.40282356779733661637539395458142568447e38',
      '16777217.000000001',
      '-0',
      '+.5',
      '1.',
      '-1e-50',
      '0.1',
      '000123.4500e-2',
      ...Array.from({ length: 300 }, () => {
        const digits = Array.from({ length: 1 + Math.floor(next() * 25) }, () => Math.floor(next() * 10)).join('');
        const point = Math.floor(next() * (digits.length + 1));
        return `${next() < 0.5 ? '-' : ''}${digits.slice(0, point)}.${digits.slice(point)}e${Math.floor(next() * 80) - 50}`;
      }).filter((text) => Math.abs(Number(text)) < 3.4e38),
    ];
    // Each value on a plain line ("w<i> v") and on a spaced one ("s <i> v"), D = 1.
    const file = fileAt('spaces-rounding.txt', texts.map((text, i) => `w${i} ${text}\ns ${i} ${text}\n`).join(''));
    const { vocabulary, embedding } = await loadGloVe(file, spaced);
    texts.forEach((text, i) => {
      expect(vocabulary.tokenAt(2 * i + 1)).toBe(`s ${i}`);
      expect(Object.is(embedding.weight[2 * i + 1], embedding.weight[2 * i]), text).toBe(true);
      expect(Object.is(embedding.weight[2 * i + 1], decimalToFloat32(text)), text).toBe(true);
    });
  });

  it('duplicates are whole words, compared as written', async () => {
    const distinct = await loadGloVe(fileAt('spaces-distinct.txt', '. 1\n. . 2\n. . . 3\n.  . 4\n.\t. 5\n'), spaced);
    expect(distinct.vocabulary.tokens).toEqual(['.', '. .', '. . .', '.  .', '.\t.']);
    // A first field read as the word, then found to be only part of it, is taken back: a later
    // line may have it as its word, and every word stays findable.
    const words = ['a', 's t', 's', 't u v', 't u', 't', 'x', 'y'];
    const content = words.map((word, i) => `${word} ${i}.5`).join('\n');
    const taken = await loadGloVe(fileAt('spaces-taken-back.txt', content), spaced);
    expect(taken.vocabulary.tokens).toEqual(words);
    words.forEach((word, i) => expect(taken.vocabulary.indexOf(word), word).toBe(i));
    expectSameBits(taken.embedding.weight, Float32Array.from(words.map((_, i) => i + 0.5)));
    await expectFormatError('spaces-taken-back-duplicate.txt', `${content}\nt u 9\n`, /line 9: the word "t u" already appeared in line 5/, (file) => loadGloVe(file, spaced));
    await expectFormatError('spaces-taken-back-duplicate2.txt', `${content}\ns 9\n`, /line 9: the word "s" already appeared in line 3/, (file) => loadGloVe(file, spaced));
    const cases: [string, string, RegExp][] = [
      ['spaces-duplicate.txt', 'a 1\n. . . 2\nb 3\n. . . 4\n', /line 4: the word ". . ." already appeared in line 2/],
      ['spaces-duplicate-first.txt', 'a 1\nx y 1\nb 2\nx y 3\n', /line 4: the word "x y" already appeared in line 2/],
    ];
    for (const [name, content, reason] of cases) {
      await expectFormatError(name, content, reason, (file) => loadGloVe(file, spaced));
      await expectFormatError(`w2v-${name}`, `4 1\n${content}`, reason.source.includes('x y') ? /line 5: the word "x y" already appeared in line 3/ : /line 5: the word ". . ." already appeared in line 3/, (file) => loadWord2Vec(file, spaced));
    }
  });

  it('still refuses short lines, bad values in the vector, carriage returns inside a line', async () => {
    const few = /line 2 has 2 values, expected 3 \(the dimension is read from line 1, whose word must not contain spaces\)/;
    const cases: [string, string, RegExp][] = [
      ['spaces-few.txt', 'a 1 2 3\nb c 1 2\n', /line 2, value 1: "c" is not a number/],
      ['spaces-few-numbers.txt', 'a 1 2 3\nb 1.00 2.00\n', few],
      ['spaces-bad-value.txt', 'a 1 2 3\nb c 1 x 3\n', /line 2, value 2: "x" is not a number/],
      ['spaces-nan.txt', 'a 1 2 3\nb c 1 2 nan\n', /line 2, value 3: "nan" is not finite/],
      ['spaces-range.txt', 'a 1 2 3\nb c 1 2 1e99\n', /line 2, value 3: "1e99" is outside the float32 range/],
      ['spaces-cr-word.txt', 'a 1 2 3\nb\rc d 1 2 3\n', /line 2: a carriage return inside the line/],
      ['spaces-cr-word2.txt', 'a 1 2 3\nb c\r 1 2 3\n', /line 2: a carriage return inside the line/],
      ['spaces-cr-values.txt', 'a 1 2 3\nb c 1 2\r3\n', /line 2: a carriage return inside the line/],
      ['spaces-cr-end.txt', 'a 1 2 3\nb c 1 2 3\r \n', /line 2: a carriage return inside the line/],
      // GloVe takes D from line 1: a spaced word there makes D too large, and the next line short.
      ['spaces-first-line.txt', '. . 1 2\nb 1 2 3\n', /line 1, value 1: "\." is not a number \(the dimension is read from line 1, whose word must not contain spaces\)/],
      ['spaces-first-line-numbers.txt', '1 2 0.5 0.5\nb 1.00 2.00\n', /line 2 has 2 values, expected 3 \(the dimension is read from line 1/],
      ['spaces-long-word.txt', `a 1\n${'w '.repeat(40_000)}1\n`, /line 2: the word is longer than 65536 bytes/],
    ];
    for (const [name, content, reason] of cases) await expectFormatError(name, content, reason, (file) => loadGloVe(file, spaced));
    // word2vec takes D from the header: no note on a short line.
    await expectFormatError('spaces-w2v-few.txt', '2 3\na 1 2 3\nb 1.0 2.0\n', /line 3 has 2 values, expected 3 \(read as word2vec text because the name ends in \.txt/, (file) => loadWord2Vec(file, spaced));
  });

  it('reads every chunking the same: boundaries at every position, \\n and \\r\\n', async () => {
    const files: [string, (file: string) => Promise<WordVectors>][] = [
      [fileAt('spaces-chunks-glove.txt', glove), (f) => loadGloVe(f, spaced)],
      [fileAt('spaces-chunks-crlf.txt', word2vec.replace(/\n/g, '\r\n')), (f) => loadWord2Vec(f, spaced)],
      [fileAt('spaces-chunks-limit.vec', word2vec), (f) => loadFastText(f, { ...spaced, limit: 4 })],
    ];
    for (const [file, load] of files) {
      const whole = await load(file);
      const size = readFileSync(file).length;
      for (let chunkBytes = 1; chunkBytes <= size + 1; chunkBytes++) {
        expectSameVectors(await withChunkBytes(chunkBytes, () => load(file)), whole);
      }
    }
    const limited = await loadFastText(files[2]![0], { ...spaced, limit: 4 });
    expect(limited.vocabulary.tokens).toEqual(words.slice(0, 4));
    // An error in a spaced line, at every chunking.
    const bad = fileAt('spaces-chunks-bad.txt', `${glove}. . . 1 2 3\n`);
    for (let chunkBytes = 1; chunkBytes <= glove.length + 13; chunkBytes++) {
      const error = await withChunkBytes(chunkBytes, () => formatError(loadGloVe(bad, spaced)));
      expect(error.message).toMatch(/line 10: the word ". . ." already appeared in line 2$/);
    }
  });

  it('is for text: word2vec binary with it is refused (RangeError) before the file is read; writers still refuse such words', async () => {
    const missing = path.join(dir, 'does-not-exist');
    const cases: [Promise<unknown>, typeof TypeError | typeof RangeError, RegExp][] = [
      [loadWord2Vec(missing, { wordsWithSpaces: true, binary: true }), RangeError, /loadWord2Vec: options.wordsWithSpaces applies to text files, not with options.binary: true/],
      [loadWord2Vec(`${missing}.bin`, { wordsWithSpaces: true }), RangeError, /loadWord2Vec: options.wordsWithSpaces applies to text files, but .*does-not-exist\.bin is read as word2vec binary because the name ends in \.bin; pass binary: false/],
      [loadGloVe(missing, { wordsWithSpaces: 1 as never }), TypeError, /loadGloVe: options.wordsWithSpaces must be a boolean, got 1/],
      [loadFastText(missing, { wordsWithSpaces: 'yes' as never }), TypeError, /loadFastText: options.wordsWithSpaces must be a boolean/],
      [loadWord2Vec(fileAt('binary-sniffed', binaryFile(['a', 'b'], [[1, 2], [3, 4]], 'c')), spaced), RangeError, /options.wordsWithSpaces applies to text files, but .* is read as word2vec binary because the line after the header is not a word and then the declared number of values/],
    ];
    await expectRejections(cases);
    // .bin read as text on request: fine.
    expectWords(await loadWord2Vec(fileAt('spaces-text.bin', word2vec), { ...spaced, binary: false }), 'text.bin');
    // A file written must read back without options: words with spaces are not written.
    const loaded = await loadGloVe(fileAt('spaces-resave.txt', glove), spaced);
    for (const save of [saveGloVe, saveWord2Vec]) {
      const error = await save(fileAt('spaces-never.txt'), loaded.vocabulary, loaded.embedding).then(
        () => null,
        (e: unknown) => e,
      );
      expect((error as Error).message).toMatch(/token 1 \(". \. \."\) cannot be written/);
    }
  });
});

describe('exact decimal to float32 rounding (as C strtof)', () => {
  /** Exact decimal expansion of a finite double (it has one: a dyadic rational). */
  function exactDecimal(value: number): string {
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, value);
    const bits = view.getBigUint64(0);
    const exponent = Number((bits >> 52n) & 0x7ffn);
    let mantissa = bits & ((1n << 52n) - 1n);
    if (exponent !== 0) mantissa |= 1n << 52n;
    const power = (exponent === 0 ? 1 : exponent) - 1075; // value = mantissa * 2^power
    if (power >= 0) return (mantissa << BigInt(power)).toString();
    const digits = (mantissa * 5n ** BigInt(-power)).toString().padStart(-power + 1, '0');
    return `${digits.slice(0, power)}.${digits.slice(power)}`;
  }

  function nextFloat32(value: number): number {
    const bits = new Uint32Array(new Float32Array([value]).buffer);
    bits[0]! += 1;
    return new Float32Array(bits.buffer)[0]!;
  }

  /** Midpoints between a float32 and the next, and decimals just above and below that round to them as doubles. */
  function midpointCases(count: number, seed: number): { text: string; expected: number }[] {
    const next = rng(seed);
    const cases: { text: string; expected: number }[] = [];
    for (let k = 0; k < count; k++) {
      // A float32 of any magnitude from subnormal to the largest (the next one must be finite).
      const bits = new Uint32Array([Math.floor(next() * 0x7f7fffff)]);
      const low = new Float32Array(bits.buffer)[0]!;
      const high = nextFloat32(low);
      const midpoint = (low + high) / 2; // exact in a double
      const decimal = exactDecimal(midpoint);
      const even = (bits[0]! & 1) === 0 ? low : high;
      const withPoint = decimal.includes('.') ? decimal : `${decimal}.`;
      cases.push({ text: decimal, expected: even });
      cases.push({ text: `${withPoint}000000000000000000000001`, expected: high });
      // Just below: subtract one unit in a far decimal place (the double still rounds to the midpoint).
      const digits = withPoint.replace('.', '');
      const point = withPoint.indexOf('.');
      const below = (BigInt(digits) * 10n ** 24n - 1n).toString().padStart(digits.length + 24, '0');
      cases.push({ text: `${below.slice(0, point)}.${below.slice(point)}`, expected: low });
    }
    return [...cases, ...cases.map(({ text, expected }) => ({ text: `-${text}`, expected: -expected }))];
  }

  // strtof results of a C program (glibc), kept here: where rounding through a double goes wrong.
  const strtofResults: [string, number][] = [
    ['1.000000059604644775390625', 0x3f800000],
    ['1.000000059604644775390625000001', 0x3f800001],
    ['1.000000059604644775390624999999', 0x3f800000],
    ['1.00000005960464477539062500000000000000000000000000000000000000000001', 0x3f800001],
    ['0.1', 0x3dcccccd],
    ['3.4028235677973366e38', 0x7f7fffff],
    ['3.40282356779733661637539395458142568447e38', 0x7f7fffff],
    ['1e-46', 0x00000000],
    ['7.006492321624085354618647916449580656401309709382578858785341419448955413429303e-46', 0x00000000],
    ['7.006492321624085354618647916449580656401309709382578858785341419448955413429304e-46', 0x00000001],
    ['1.4012984643e-45', 0x00000001],
    ['1.1754942807573642917e-38', 0x007fffff],
    ['16777217', 0x4b800000],
    ['16777217.000000001', 0x4b800001],
    ['33554434.99999999999', 0x4c000001],
  ];

  it('decimalToFloat32 matches strtof, including values whose double lies on a float32 midpoint', () => {
    for (const [text, bits] of strtofResults) {
      expect(new Uint32Array(new Float32Array([decimalToFloat32(text)]).buffer)[0], text).toBe(bits);
    }
    expect(decimalToFloat32('3.40282356779733661637539395458142568448e38')).toBe(Infinity);
    expect(decimalToFloat32('-1e39')).toBe(-Infinity);
    expect(Object.is(decimalToFloat32('-1e-50'), -0)).toBe(true);
    for (const { text, expected } of midpointCases(300, 3)) expect(decimalToFloat32(text), text).toBe(expected);
  });

  it('the text parser rounds like strtof: C results, constructed midpoint cases, random decimals', async () => {
    const next = rng(17);
    const random = Array.from({ length: 3000 }, () => {
      const digits = Array.from({ length: 1 + Math.floor(next() * 20) }, () => Math.floor(next() * 10)).join('');
      const point = Math.floor(next() * (digits.length + 1));
      const exponent = Math.floor(next() * 70) - 45;
      return `${next() < 0.5 ? '-' : ''}${digits.slice(0, point)}.${digits.slice(point)}e${exponent}`;
    }).filter((text) => Math.abs(Number(text)) < 3.4e38);
    const cases = [
      ...strtofResults.map(([text, bits]) => ({ text, expected: bitsOf([bits])[0]! })),
      ...midpointCases(300, 4),
      // Away from midpoints (checked below), rounding the double to float32 is right.
      ...random.map((text) => ({ text, expected: float32(Number(text)) })),
    ];
    const file = fileAt('rounding.txt', `${cases.length} 1\n${cases.map((c, i) => `w${i} ${c.text}`).join('\n')}\n`);
    const { embedding } = await loadWord2Vec(file);
    cases.forEach((c, i) => {
      if (i >= cases.length - random.length) expect(decimalToFloat32(c.text), c.text).toBe(c.expected);
      expect(embedding.weight[i], c.text).toBe(c.expected);
    });
  });
});

describe('formatFloat32: the shortest decimal that reads back', () => {
  const buffer = Buffer.alloc(32);
  const format = (value: number): string => buffer.toString('latin1', 0, formatFloat32(value, buffer, 0));

  it('writes familiar forms', () => {
    const cases: [number, string][] = [
      [0, '0'],
      [-0, '-0'],
      [0.5, '0.5'],
      [float32(0.1), '0.1'],
      [float32(1 / 3), '0.33333334'],
      [float32(-2.5e-10), '-2.5e-10'],
      [float32(1e-7), '1e-7'],
      [float32(0.000001), '0.000001'],
      [16777216, '16777216'],
      [float32(123456789), '123456790'],
      [float32(1e21), '1e+21'],
      [2 ** -149, '1e-45'],
      [3.4028234663852886e38, '3.4028235e+38'],
      [float32(1.17549435e-38), '1.1754944e-38'],
    ];
    for (const [value, text] of cases) expect(format(value), String(value)).toBe(text);
  });

  it('reads back exactly with the fewest digits, for random float32s of every magnitude', () => {
    const next = rng(23);
    const bits = new Uint32Array(1);
    const value = new Float32Array(bits.buffer);
    for (let k = 0; k < 10_000; k++) {
      bits[0] = Math.floor(next() * 2 ** 32);
      if (!Number.isFinite(value[0]!)) continue;
      const v = value[0]!;
      const text = format(v);
      expect(Object.is(decimalToFloat32(text), v), `${v} -> ${text}`).toBe(true);
      // No decimal with fewer significant digits reads back: the correctly rounded one is nearest.
      const significant = text.replace(/^-/, '').replace(/e.*$/, '').replace('.', '').replace(/^0+/, '').replace(/0+$/, '').length;
      if (significant > 1 && v !== 0) expect(decimalToFloat32(Math.abs(v).toPrecision(significant - 1)), `${v} -> ${text}`).not.toBe(Math.abs(v));
    }
  });
});

describe('options', () => {
  const words = ['a', 'b', 'c', 'd', 'e'];
  const rows = [[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]];
  const text = `5 2\n${words.map((w, i) => `${w} ${rows[i]!.join(' ')}`).join('\n')}\n`;

  it('limit keeps the first words and allocates only their rows', async () => {
    const files = {
      text: fileAt('limit.txt', text),
      binary: fileAt('limit.bin', binaryFile(words, rows, 'c')),
      glove: fileAt('limit-glove.txt', text.slice(4)),
    };
    for (const [name, load] of [
      ['text', (o: object) => loadWord2Vec(files.text, o)],
      ['binary', (o: object) => loadWord2Vec(files.binary, o)],
      ['glove', (o: object) => loadGloVe(files.glove, o)],
    ] as const) {
      const three = await load({ limit: 3 });
      expect(three.vocabulary.tokens, name).toEqual(['a', 'b', 'c']);
      expect(three.embedding.weight.buffer.byteLength, name).toBe(3 * 2 * 4);
      expectSameBits(three.embedding.weight, Float32Array.from([1, 2, 3, 4, 5, 6]), name);
      expect((await load({ limit: 99 })).vocabulary.size, name).toBe(5);
    }
    // The part after the limit is not read: it may even be malformed.
    const broken = fileAt('limit-broken.txt', '3 2\na 1 2\nb 3 4\nc oops\n');
    expect((await loadWord2Vec(broken, { limit: 2 })).vocabulary.tokens).toEqual(['a', 'b']);
  });

  it('reserved padding and unknown rows are zero and first; a token in the file keeps its row', async () => {
    const file = fileAt('reserved.txt', text);
    const both = await loadWord2Vec(file, { unknown: '<unk>', padding: '<pad>' });
    expect(both.vocabulary.tokens).toEqual(['<pad>', '<unk>', ...words]);
    expect(both.vocabulary.paddingIndex).toBe(0);
    expect(both.vocabulary.unknownIndex).toBe(1);
    expect(both.embedding.paddingIdx).toBe(0);
    expectSameBits(both.embedding.weight, Float32Array.from([0, 0, 0, 0, ...rows.flat()]));
    expect(Array.from(both.vocabulary.encode(['c', 'zzz']))).toEqual([4, 1]);
    // 'c' as the unknown token: it keeps its row (index 2 after the padding row), and only padding is added.
    const present = await loadWord2Vec(file, { unknown: 'c', padding: '<pad>', limit: 4 });
    expect(present.vocabulary.tokens).toEqual(['<pad>', 'a', 'b', 'c', 'd']);
    expect(present.vocabulary.unknownIndex).toBe(3);
    expect(present.embedding.weight.length).toBe(10);
    expectSameBits(present.embedding.weight, Float32Array.from([0, 0, 1, 2, 3, 4, 5, 6, 7, 8]));
    const both2 = await loadGloVe(fileAt('reserved-glove.txt', text.slice(4)), { unknown: 'e', padding: 'a' });
    expect(both2.vocabulary.tokens).toEqual(words);
    expect(both2.embedding.paddingIdx).toBe(0);
    expectSameBits(both2.embedding.weight, Float32Array.from(rows.flat()));
  });

  it('passes the Embedding options on; freeze defaults to true', async () => {
    const file = fileAt('embedding-options.txt', text);
    const { embedding } = await loadWord2Vec(file, { freeze: false, sparse: true, maxNorm: 1.5, normType: 1 });
    expect([embedding.freeze, embedding.sparse, embedding.maxNorm, embedding.normType]).toEqual([false, true, 1.5, 1]);
    const scaled = await loadGloVe(fileAt('embedding-options-glove.txt', text.slice(4)), { scaleGradByFreq: true });
    expect([scaled.embedding.freeze, scaled.embedding.scaleGradByFreq]).toEqual([true, true]);
  });

  it('rejects bad options before opening the file, naming the option and the value', async () => {
    const missing = path.join(dir, 'does-not-exist.txt');
    const cases: [Promise<unknown>, typeof TypeError | typeof RangeError, RegExp][] = [
      [loadWord2Vec(missing, { bogus: 1 } as never), TypeError, /loadWord2Vec: unknown option 'bogus'/],
      [loadFastText(missing, { binary: true } as never), TypeError, /loadFastText: unknown option 'binary'/],
      [loadGloVe(missing, { binary: false } as never), TypeError, /loadGloVe: unknown option 'binary'/],
      [loadWord2Vec(missing, { limit: 0 }), RangeError, /options.limit must be an integer >= 1, got 0/],
      [loadWord2Vec(missing, { limit: 2.5 }), RangeError, /options.limit must be an integer >= 1, got 2.5/],
      [loadGloVe(missing, { limit: '3' as never }), TypeError, /options.limit must be a number, got a string "3"/],
      [loadWord2Vec(missing, { binary: 1 as never }), TypeError, /options.binary must be a boolean, got 1/],
      [loadWord2Vec(missing, { onProgress: 'x' as never }), TypeError, /options.onProgress must be a function/],
      [loadWord2Vec(missing, { unknown: 1 as never }), TypeError, /options.unknown must be a string, got 1/],
      [loadWord2Vec(missing, { padding: null as never }), TypeError, /options.padding must be a string, got null/],
      [loadWord2Vec(missing, { freeze: 'no' as never }), TypeError, /options.freeze must be a boolean/],
      [loadWord2Vec(missing, { maxNorm: -1 }), RangeError, /options.maxNorm must be a positive finite number, got -1/],
      [loadWord2Vec(missing, { maxNorm: '1' as never }), TypeError, /options.maxNorm must be a number or null/],
      [loadWord2Vec(missing, { normType: 0 }), RangeError, /options.normType must be > 0/],
      [loadWord2Vec(missing, { sparse: true, scaleGradByFreq: true }), RangeError, /sparse and options.scaleGradByFreq/],
      [loadWord2Vec(missing, 5 as never), TypeError, /options must be an object/],
      [loadWord2Vec(5 as never), TypeError, /loadWord2Vec: file must be a string/],
    ];
    await expectRejections(cases);
  });

  it('names a file it cannot open, or a directory', async () => {
    const missing = path.join(dir, 'missing.vec');
    for (const [file, reason] of [
      [missing, 'cannot open: ENOENT'],
      [dir, 'cannot open: it is a directory'],
    ]) {
      for (const load of [loadWord2Vec, loadFastText, loadGloVe]) {
        const error = await load(file!).then(
          () => null,
          (e: unknown) => e,
        );
        expect(error).toBeInstanceOf(Error);
        expect((error as Error).message).toContain(`${file}: ${reason}`);
      }
    }
  });
});

describe('writer errors', () => {
  const vocabulary = new Vocabulary(['a', 'b']);
  const table = { weight: Float32Array.from([1, 2, 3, 4]), embeddingDim: 2, numEmbeddings: 2 };

  it('rejects tables that do not fit the vocabulary, words that cannot be written, non-finite values', async () => {
    const file = fileAt('never.txt');
    const reject = async (promise: Promise<void>, type: typeof Error, message: RegExp): Promise<void> => {
      const error = await promise.then(
        () => null,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(type);
      expect((error as Error).message).toMatch(message);
    };
    await reject(saveWord2Vec(file, new Vocabulary(['a']), table), RangeError, /the vocabulary has 1 tokens but the table has 2 rows/);
    await reject(saveGloVe(file, vocabulary, { ...table, numEmbeddings: 3 }), RangeError, /table.weight has 4 values, expected numEmbeddings \* embeddingDim = 6/);
    await reject(saveWord2Vec(file, vocabulary, { weight: [1, 2] } as never), TypeError, /table.weight must be a Float32Array/);
    await reject(saveWord2Vec(file, ['a', 'b'] as never, table), TypeError, /vocabulary must be a Vocabulary/);
    for (const word of ['has space', 'tab\there', 'new\nline', 'cr\rhere', '']) {
      await reject(saveWord2Vec(file, new Vocabulary(['ok', word]), table), Error, new RegExp(`token 1 \\(${JSON.stringify(word).replace(/\\/g, '\\\\')}\\) cannot be written`));
    }
    for (const binary of [false, true]) {
      await reject(
        saveWord2Vec(file, vocabulary, { ...table, weight: Float32Array.from([1, 2, 3, NaN]) }, { binary }),
        RangeError,
        /row 1 \("b"\), value 2 is NaN: only finite values can be written/,
      );
    }
    await reject(saveWord2Vec(file, vocabulary, table, { binary: 'yes' } as never), TypeError, /options.binary must be a boolean/);
    await reject(saveGloVe(file, vocabulary, table, { binary: true } as never), TypeError, /unknown option 'binary'/);
    expect(readdirSync(dir).filter((name) => name === 'never.txt' || name.endsWith('.tmp'))).toEqual([]);
  });
});

describe('malformed files get a FileFormatError naming the file, the place and the problem', () => {
  it('word2vec headers', async () => {
    await expectFormatError('header-words.txt', 'abc\n', /the first line must be the header "<words> <dimension>" \(two positive integers\), found "abc"/);
    await expectFormatError('header-one.txt', '5\na 1\n', /the first line must be the header/);
    await expectFormatError('header-negative.txt', '-5 2\n', /the first line must be the header/);
    await expectFormatError('header-zero.txt', '0 2\n', /the header declares 0 words; expected 1 to 2147483647/);
    await expectFormatError('header-dim.txt', '1 0\na\n', /the header declares dimension 0; expected 1 to 1048576/);
    await expectFormatError('header-huge-words.txt', '3000000000 2\n', /declares 3000000000 words/);
    await expectFormatError('header-huge-dim.txt', '1 2000000\n', /declares dimension 2000000/);
    await expectFormatError('header-long.txt', `${'1'.repeat(80)}`, /no header line/);
    await expectFormatError('empty.txt', '', /the first line must be the header/);
  });

  it('a header declaring more than the file can hold, refused before allocating', async () => {
    // 10^9 x 10^6 floats would be 4 PB: refused from the size, whatever the format.
    for (const name of ['huge.txt', 'huge.bin', 'huge']) {
      await expectFormatError(name, '1000000000 1000000\na 1\n', /the header declares 1000000000 words of dimension 1000000, which take at least \d+ bytes, but only 4 bytes follow the header/);
    }
  });

  it('word2vec text records', async () => {
    const load = (file: string) => loadWord2Vec(file, { binary: false });
    const cases: [string, string, RegExp][] = [
      ['few.txt', '2 3\na 1 2 3\nb 1.0 2.0\n', /line 3 has 2 values, expected 3/],
      ['none.txt', '1 3\na          \n', /line 2 has 0 values, expected 3/],
      ['many.txt', '2 2\na 1 2\nb 1 2 3\n', /line 3 has 3 values, expected 2 \(if words contain spaces, as in glove\.840B, pass wordsWithSpaces: true\)/],
      ['word.txt', '1 2\na 1 x\n', /line 2, value 2: "x" is not a number/],
      ['junk.txt', '1 2\na 1 2x\n', /line 2, value 2: "2x" is not a number/],
      ['comma.txt', '1 2\na 1,5 2\n', /line 2, value 1: "1,5" is not a number/],
      ['exponent.txt', '1 2\na 1e 2\n', /line 2, value 1: "1e" is not a number/],
      ['dot.txt', '1 2\na . 2\n', /line 2, value 1: "." is not a number/],
      ['nan.txt', '1 2\na 1 nan\n', /line 2, value 2: "nan" is not finite/],
      ['inf.txt', '1 2\na -Infinity 1\n', /line 2, value 1: "-Infinity" is not finite/],
      ['overflow.txt', '1 2\na 1 1e999\n', /line 2, value 2: "1e999" is outside the float32 range/],
      ['float32-overflow.txt', '1 2\na 3.5e38 1\n', /line 2, value 1: "3.5e38" is outside the float32 range/],
      ['empty-word.txt', '2 1\na 1\n 2\n', /line 3 starts with whitespace \(an empty word\)/],
      ['duplicate.txt', '3 1\na 1\nb 2\na 3\n', /line 4: the word "a" already appeared in line 2/],
      ['truncated.txt', '3 1\na 1.0000\nb 2.0000\n', /truncated: the header declares 3 words, found 2/],
      ['trailing.txt', '1 1\na 1\nb 2\n', /line 3: unexpected data after the 1 records expected/],
      ['blank.txt', '2 1\na 1\n\nb 2\n', /line 3 is empty/],
      ['carriage-return.txt', '1 2\na 1\r2\n', /line 2: a carriage return inside the line/],
    ];
    for (const [name, content, reason] of cases) await expectFormatError(name, content, reason, load);
    await expectFormatError('utf8.txt', Buffer.concat([Buffer.from('2 1\na 1\nb'), Buffer.from([0xc3, 0x28]), Buffer.from(' 2\n')]), /line 3: the word is not valid UTF-8/, load);
    await expectFormatError('long-line.txt', `1 1\na ${'1'.repeat(2_000_000)}`, /line 2 is longer than 1048832 bytes/, (file) => withChunkBytes(1 << 16, () => load(file)));
    await expectFormatError('long-word.txt', `1 1\n${'w'.repeat(70_000)} 1\n`, /line 2: the word is longer than 65536 bytes/, load);
  });

  it('word2vec binary records', async () => {
    const record = (word: string, values: number[]): Buffer => binaryFile([word], [values], 'c', '');
    const header = (words: number, dim: number): Buffer => Buffer.from(`${words} ${dim}\n`);
    const cases: [string, Buffer, RegExp][] = [
      ['empty-word.bin', Buffer.concat([header(2, 1), record('a', [1]), Buffer.from(' '), Buffer.alloc(4), Buffer.from('\n')]), /record 2 \(byte 11\): empty word/],
      ['duplicate.bin', Buffer.concat([header(3, 1), record('a', [1]), record('b', [2]), record('a', [3])]), /record 3: the word "a" already appeared in record 1/],
      ['truncated.bin', Buffer.concat([header(3, 1), record('a', [1]), record('b', [2]), Buffer.from('c \x01\x02')]), /truncated: the header declares 3 records, found 2 \(record 3 at byte 18 is incomplete\)/],
      ['truncated-end.bin', Buffer.concat([header(3, 1), record('a', [1]), record('b', [2]), record('c', [3]).subarray(0, 5), Buffer.alloc(0)]), /truncated: the header declares 3 records, found 2/],
      ['trailing.bin', Buffer.concat([header(1, 1), record('a', [1]), Buffer.from('\nxyz')]), /unexpected data at byte 12, after the 1 records the header declares/],
      ['nan.bin', Buffer.concat([header(2, 2), record('a', [1, 2]), record('b', [3, NaN])]), /record 2 \(byte 15\), value 2 is NaN \(not finite\)/],
      ['infinity.bin', Buffer.concat([header(1, 2), record('a', [-Infinity, 2])]), /record 1 \(byte 4\), value 1 is -Infinity \(not finite\)/],
      ['utf8.bin', Buffer.concat([header(2, 1), record('a', [1]), Buffer.from([0xe2, 0x82]), record('', [2])]), /record 2: the word is not valid UTF-8/],
      ['long-word.bin', Buffer.concat([header(1, 1), Buffer.alloc(70_000, 0x61), Buffer.from(' '), Buffer.alloc(4)]), /record 1 \(byte 4\): no space after 65536 bytes of word/],
    ];
    for (const [name, content, reason] of cases) await expectFormatError(name, content, reason);
    // The same messages, record numbers and byte offsets whatever the steps the file is read in
    // (mapped windows on the native backend, chunks on the TypeScript one): boundaries at every byte.
    for (const [name, content, reason] of cases.filter(([name]) => name !== 'long-word.bin')) {
      const file = fileAt(`steps-${name}`, content);
      for (let chunkBytes = 1; chunkBytes <= content.length + 1; chunkBytes++) {
        const error = await formatError(withChunkBytes(chunkBytes, () => loadWord2Vec(file)));
        expect(error.message, `${name} in steps of ${chunkBytes} bytes`).toMatch(reason);
      }
    }
  });

  it('word2vec binary: thousands of records (several kernel calls a step), errors numbered across them, limit, progress', async () => {
    // More records than one kernel call takes (4096): words are added between calls.
    const count = 9000;
    const dim = 3;
    const words = Array.from({ length: count }, (_, i) => (i % 1000 === 7 ? `слово${i}` : `w${i}`));
    const rows = Array.from({ length: count }, (_, i) => [i, -i / 8, 2 ** -(i % 140)]);
    for (const style of ['c', 'gensim'] as const) {
      const content = binaryFile(words, rows, style);
      const file = fileAt(`many-${style}.bin`, content);
      for (const chunkBytes of [readSettings.chunkBytes, 4099, 17 * (dim * 4 + 6)]) {
        const progress: { bytes: number; totalBytes: number }[] = [];
        const loaded = await withChunkBytes(chunkBytes, () => loadWord2Vec(file, { onProgress: (p) => progress.push(p) }));
        expect(loaded.vocabulary.tokens).toEqual(words);
        expectSameBits(loaded.embedding.weight, Float32Array.from(rows.flat()), `${style} ${chunkBytes}`);
        expect(progress.at(-1)).toEqual({ bytes: content.length, totalBytes: content.length });
        for (let i = 1; i < progress.length; i++) expect(progress[i]!.bytes).toBeGreaterThanOrEqual(progress[i - 1]!.bytes);
        if (chunkBytes < 5000) expect(progress.length).toBeGreaterThan(content.length / chunkBytes / 2);
        // limit: stops after that many records, the rest unread (here: a broken tail).
        const limited = await withChunkBytes(chunkBytes, () => loadWord2Vec(fileAt(`many-${style}-limited.bin`, Buffer.concat([content, Buffer.from('junk')])), { limit: 4097 }));
        expect(limited.vocabulary.tokens).toEqual(words.slice(0, 4097));
        expectSameBits(limited.embedding.weight, Float32Array.from(rows.slice(0, 4097).flat()));
      }
      // Errors past the first call and step keep their record numbers and byte offsets.
      const recordBytes = (i: number): number => Buffer.byteLength(words[i]!) + 1 + 4 * dim + (style === 'c' ? 1 : 0);
      let offset = Buffer.byteLength(`${count} ${dim}\n`);
      for (let i = 0; i < 5000; i++) offset += recordBytes(i);
      const duplicate = [...words];
      duplicate[5000] = words[4096]!;
      const nan = rows.map((row, i) => (i === 5000 ? [1, NaN, 3] : row));
      for (const [name, content, reason] of [
        ['duplicate', binaryFile(duplicate, rows, style), /record 5001: the word "w4096" already appeared in record 4097/],
        ['nan', binaryFile(words, nan, style), new RegExp(`record 5001 \\(byte ${offset}\\), value 2 is NaN \\(not finite\\)`)],
        // (A header of 5001 records, as long as the other: 9000 would not fit the bytes, refused first.)
        ['truncated', binaryFile(words, rows, style, `5001 ${dim}\n`).subarray(0, offset + 3), new RegExp(`truncated: the header declares 5001 records, found 5000 \\(record 5001 at byte ${offset} is incomplete\\)`)],
      ] as const) {
        const broken = fileAt(`many-${style}-${name}.bin`, content);
        for (const chunkBytes of [readSettings.chunkBytes, 4099]) {
          expect((await formatError(withChunkBytes(chunkBytes, () => loadWord2Vec(broken)))).message, `${style} ${name} ${chunkBytes}`).toMatch(reason);
        }
      }
    }
  });

  it('word2vec binary is read from the file mapped on the native backend, in chunks on the TypeScript one', () => {
    const content = binaryFile(['a', 'b'], [[1, 2], [3, 4]], 'c');
    const file = fileAt('mapped.bin', content);
    const mapping = mapForOneRead(file, content.length);
    if (currentBackend().name === 'native') {
      expect(mapping!.equals(content)).toBe(true);
      // Pages released are read again from the file, unchanged.
      releaseMappedBytes(mapping!, 0, mapping!.length);
      expect(mapping!.equals(content)).toBe(true);
    } else {
      expect(mapping).toBeNull();
    }
    // A size other than the open file's (the file changed since): not mapped, read in chunks.
    expect(mapForOneRead(file, content.length + 1)).toBeNull();
  });

  it('word2vec binary: hostile headers and records are refused before they cost much', async () => {
    const cases: [string, Buffer, RegExp][] = [
      ['huge-dim.bin', Buffer.from('1 1048576\na \x00\x00\x00\x00'), /the header declares 1 words of dimension 1048576, which take at least 4194306 bytes, but only 6 bytes follow/],
      ['huge-count.bin', Buffer.concat([Buffer.from('2147483647 1\n'), Buffer.alloc(64)]), /the header declares 2147483647 words of dimension 1/],
      ['no-space.bin', Buffer.concat([Buffer.from('1 1\n'), Buffer.alloc(80_000, 0x62)]), /record 1 \(byte 4\): no space after 65536 bytes of word/],
      ['only-whitespace.bin', Buffer.concat([Buffer.from('1 1\n'), Buffer.alloc(64, 10)]), /truncated: the header declares 1 records, found 0$|truncated: the header declares 1 records, found 0 \(/],
      ['leading-space.bin', Buffer.concat([Buffer.from('1 1\n  a '), Buffer.alloc(4)]), /record 1 \(byte 4\): empty word/],
    ];
    for (const [name, content, reason] of cases) {
      await expectFormatError(name, content, reason, (file) => loadWord2Vec(file, { binary: true }));
      await expectFormatError(`steps-${name}`, content, reason, (file) => withChunkBytes(7, () => loadWord2Vec(file, { binary: true })));
    }
  });

  it('GloVe files', async () => {
    const cases: [string, string, RegExp][] = [
      ['glove-empty.txt', '', /the file is empty/],
      ['glove-blank-first.txt', '\na 1 2\n', /line 1 is empty/],
      ['glove-space-first.txt', ' a 1 2\n', /line 1 starts with whitespace/],
      ['glove-no-values.txt', 'a\nb\n', /line 1 has a word but no values/],
      ['glove-few.txt', 'a 1 2 3\nb 1 2 3\nc 1.0 2.0\n', /line 3 has 2 values, expected 3/],
      ['glove-many.txt', 'a 1 2\nb 1 2 3\n', /line 2 has 3 values, expected 2 \(if words contain spaces, as in glove\.840B, pass wordsWithSpaces: true\)/],
      ['glove-duplicate.txt', 'a 1\nb 2\na 3\n', /line 3: the word "a" already appeared in line 1/],
      ['glove-blank.txt', 'a 1\n\nb 2\n', /line 2 is empty/],
      ['glove-nan.txt', 'a 1\nb NaN\n', /line 2, value 1: "NaN" is not finite/],
      ['glove-indented.txt', 'a 1\n b 2\n', /line 2 starts with whitespace \(an empty word\)/],
      ['glove-short-lines.txt', `w ${'1 '.repeat(50)}\n${'x\n'.repeat(100)}`, /101 lines start with a word, but \d+ bytes cannot hold that many lines of 50 values/],
    ];
    for (const [name, content, reason] of cases) await expectFormatError(name, content, reason, (file) => loadGloVe(file));
    await expectFormatError('glove-wide.txt', `a${' 0'.repeat((1 << 20) + 1)}\n`, /line 1 has more than 1048576 values/, (file) => loadGloVe(file));
  });

  it('words and fields in messages are decoded as UTF-8, control characters escaped, long ones cut', async () => {
    const glove = (file: string) => loadGloVe(file);
    // "начале" with a control character, DEL and a C1 control (U+0085) in it, in every format.
    const word = 'нач\x01а\x7fле\u0085';
    const shown = /"нач\\u0001а\\u007fле\\u0085"/;
    await expectFormatError('utf8-duplicate.txt', `2 1\n${word} 1\n${word} 2\n`, new RegExp(`line 3: the word ${shown.source} already appeared in line 2`));
    await expectFormatError('utf8-duplicate-glove.txt', `${word} 1\nb 2\n${word} 3\n`, new RegExp(`line 3: the word ${shown.source} already appeared in line 1`), glove);
    await expectFormatError('utf8-duplicate.bin', binaryFile([word, word], [[1], [2]], 'gensim'), new RegExp(`record 2: the word ${shown.source} already appeared in record 1`));
    // Fields that are not numbers, and a header that is not one: not their bytes read as latin1.
    await expectFormatError('utf8-value.txt', 'a 1 2\nначале 3 мир\n', /line 2, value 2: "мир" is not a number/, glove);
    await expectFormatError('utf8-spaced.txt', 'на чале 1 2\n', /line 1, value 1: "чале" is not a number/, glove);
    await expectFormatError('utf8-header.vec', 'начале 1 2\n', /the first line must be the header .*, found "начале 1 2"/, (file) => loadFastText(file));
    await expectFormatError('utf8-long-value.txt', `a 1\nb ${'ж'.repeat(100)}\n`, new RegExp(`line 2, value 1: "${'ж'.repeat(40)}…" is not a number`), glove);
  });
});
