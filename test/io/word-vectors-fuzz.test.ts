// Seeded fuzzing of the word2vec text and binary, GloVe and vocabulary readers: every truncation
// of small valid files, then thousands of mutations (byte edits, insertions, deletions,
// duplicated lines, huge header numbers). Every load must either succeed with a consistent
// result or reject with an Error naming the file; never throw anything else, crash or hang. The
// word-vector loads are also repeated with a tiny random chunk size: the outcome, error message
// included, must not depend on where the chunks end. Text files are also loaded with
// wordsWithSpaces (from files without and with words that contain spaces): a file that loads
// without the option loads the same with it.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { Vocabulary } from '../../src/io/vocabulary.js';
import { type WordVectors, loadGloVe, loadWord2Vec, saveGloVe, saveWord2Vec } from '../../src/io/word-vectors.js';
import { randomTable, rng } from '../helpers.js';
import { withChunkBytes } from './chunk-size.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'nn-embedding-word-vectors-fuzz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Bytes a mutation inserts: the format's own separators and digits, and bytes that are not UTF-8. */
const INTERESTING = [0x20, 0x0a, 0x0d, 0x09, 0x2d, 0x2e, 0x65, 0x30, 0x31, 0x39, 0x00, 0xff, 0xc3, 0x80, 0x7b];
const HUGE_NUMBERS = ['0', '2147483647', '2147483648', '1048576', '1048577', '99999999999999999999', '-1', '4294967296'];

/** Every truncation of `valid`, then `count` seeded random mutations of it. */
function* mutations(valid: Buffer, count: number, seed: number): Generator<Buffer> {
  for (let length = 0; length < valid.length; length++) yield valid.subarray(0, length);
  const next = rng(seed);
  const pick = (n: number): number => Math.floor(next() * n);
  const byte = (): number => (next() < 0.5 ? INTERESTING[pick(INTERESTING.length)]! : pick(256));
  for (let k = 0; k < count; k++) {
    let bytes = Array.from(valid);
    const edits = 1 + pick(3);
    for (let e = 0; e < edits; e++) {
      const at = pick(bytes.length + 1);
      switch (pick(7)) {
        case 0:
          bytes[at] = byte();
          break;
        case 1:
          bytes[at] = (bytes[at] ?? 0) ^ (1 << pick(8));
          break;
        case 2:
          bytes.splice(at, 1 + pick(4));
          break;
        case 3:
          bytes.splice(at, 0, ...Array.from({ length: 1 + pick(4) }, byte));
          break;
        case 4: {
          // Duplicate a line (a duplicated word, or one record too many).
          const text = Buffer.from(bytes).toString('latin1');
          const lines = text.split('\n');
          const line = pick(lines.length);
          lines.splice(line, 0, lines[line]!);
          bytes = Array.from(Buffer.from(lines.join('\n'), 'latin1'));
          break;
        }
        case 5: {
          // Replace a number of the first line (the header) by a huge or zero one.
          const text = Buffer.from(bytes).toString('latin1');
          const newline = text.indexOf('\n');
          const first = newline < 0 ? text : text.slice(0, newline);
          const fields = first.split(' ');
          fields[pick(fields.length)] = HUGE_NUMBERS[pick(HUGE_NUMBERS.length)]!;
          bytes = Array.from(Buffer.from(fields.join(' ') + text.slice(first.length), 'latin1'));
          break;
        }
        default:
          bytes = bytes.slice(0, pick(bytes.length + 1));
      }
    }
    yield Buffer.from(bytes);
  }
}

type Outcome = { ok: true; tokens: readonly string[]; bits: number[] } | { ok: false; message: string };

/** Runs a load: a consistent result, or an Error naming the file; anything else fails the test. */
async function outcome(file: string, load: () => Promise<WordVectors | Vocabulary>): Promise<Outcome> {
  let result: WordVectors | Vocabulary;
  try {
    result = await load();
  } catch (error) {
    expect(error, file).toBeInstanceOf(Error);
    expect((error as Error).message, file).toContain(file);
    return { ok: false, message: (error as Error).message };
  }
  if (result instanceof Vocabulary) {
    expect(new Set(result.tokens).size).toBe(result.size);
    return { ok: true, tokens: result.tokens, bits: [] };
  }
  const { vocabulary, embedding } = result;
  expect(embedding.numEmbeddings * embedding.embeddingDim).toBe(embedding.weight.length);
  expect(vocabulary.size).toBe(embedding.numEmbeddings);
  expect(new Set(vocabulary.tokens).size).toBe(vocabulary.size);
  expect(embedding.weight.every(Number.isFinite)).toBe(true);
  return { ok: true, tokens: vocabulary.tokens, bits: Array.from(new Uint32Array(embedding.weight.buffer, embedding.weight.byteOffset, embedding.weight.length)) };
}

const words = ['a', 'bé', 'c3', 'dd', '日本'];
const vocabulary = new Vocabulary(words);
const table = { weight: randomTable(5, 3, 7), embeddingDim: 3, numEmbeddings: 5 };

/**
 * Loads every mutation of `valid` (and with tiny chunks, a quarter of them). With `loadSpaced`
 * (the same loader with wordsWithSpaces), each mutation is loaded that way too, chunked as well;
 * wherever `load` succeeds, `loadSpaced` must give the same result.
 */
async function fuzz(
  name: string,
  valid: Buffer,
  count: number,
  seed: number,
  load: ((file: string) => Promise<WordVectors | Vocabulary>) | null,
  compareChunked: boolean,
  loadSpaced?: (file: string) => Promise<WordVectors>,
): Promise<{ loads: number; spacedLoaded: number }> {
  const file = path.join(dir, name);
  const next = rng(seed + 1);
  let loads = 0;
  let spacedLoaded = 0;
  for (const bytes of mutations(valid, count, seed)) {
    writeFileSync(file, bytes);
    const what = `${name}: ${JSON.stringify(bytes.toString('latin1'))}`;
    const chunkBytes = compareChunked && next() < 0.25 ? 1 + Math.floor(next() * 24) : 0;
    let whole: Outcome | null = null;
    if (load !== null) {
      whole = await outcome(file, () => load(file));
      loads++;
      if (chunkBytes > 0) expect(await withChunkBytes(chunkBytes, () => outcome(file, () => load(file))), what).toEqual(whole);
    }
    if (loadSpaced !== undefined) {
      const spaced = await outcome(file, () => loadSpaced(file));
      loads++;
      if (spaced.ok) spacedLoaded++;
      if (chunkBytes > 0) expect(await withChunkBytes(chunkBytes, () => outcome(file, () => loadSpaced(file))), `${what} (wordsWithSpaces)`).toEqual(spaced);
      if (whole?.ok === true) expect(spaced, `${what} (wordsWithSpaces)`).toEqual(whole);
    }
  }
  return { loads, spacedLoaded };
}

/** Text lines "word v1 ... vD" of `table`, the words as given (spaces and all); values as JavaScript prints them (exact for float32s). */
function textLines(lineWords: readonly string[], weight: Float32Array, dim: number): string {
  return lineWords.map((word, i) => `${word} ${Array.from(weight.subarray(i * dim, (i + 1) * dim)).join(' ')}\n`).join('');
}

// Words with spaces as in glove.840B; the first has none (GloVe reads D from line 1).
const spacedWords = ['a', '. . .', 'at name@domain.com', '1 2', 'b\tc'];

/** The unmutated file loads as written: spacedWords and the table. */
async function expectSpacedWords(valid: Buffer, name: string, load: (file: string) => Promise<WordVectors>): Promise<void> {
  const file = path.join(dir, name);
  writeFileSync(file, valid);
  const { vocabulary, embedding } = await load(file);
  expect(vocabulary.tokens).toEqual(spacedWords);
  expect(Array.from(embedding.weight)).toEqual(Array.from(table.weight));
}

describe('fuzzed word-vector and vocabulary files', () => {
  it('word2vec text (\\n and \\r\\n)', async () => {
    const file = path.join(dir, 'valid.txt');
    await saveWord2Vec(file, vocabulary, table, { binary: false });
    const valid = readFileSync(file);
    const crlf = Buffer.from(valid.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
    const spaced = (f: string) => loadWord2Vec(f, { wordsWithSpaces: true });
    let loads = (await fuzz('text.txt', valid, 700, 1, (f) => loadWord2Vec(f), true, spaced)).loads;
    loads += (await fuzz('crlf.txt', crlf, 300, 2, (f) => loadWord2Vec(f), true, spaced)).loads;
    expect(loads).toBeGreaterThan(2000);
  });

  it('word2vec text with words that contain spaces (wordsWithSpaces)', async () => {
    const valid = Buffer.from(`5 3\n${textLines(spacedWords, table.weight, 3)}`);
    const crlf = Buffer.from(valid.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
    const spaced = (f: string) => loadWord2Vec(f, { wordsWithSpaces: true });
    await expectSpacedWords(valid, 'spaced-valid.txt', spaced);
    const text = await fuzz('spaced.txt', valid, 600, 9, null, true, spaced);
    const windows = await fuzz('spaced-crlf.txt', crlf, 300, 10, null, true, spaced);
    expect(text.loads + windows.loads).toBeGreaterThan(1000);
    // Not every mutation fails: the loads that succeed check the result.
    expect(text.spacedLoaded + windows.spacedLoaded).toBeGreaterThan(100);
  });

  it('word2vec binary (the C tool and gensim layouts, and sniffed)', async () => {
    const file = path.join(dir, 'valid.bin');
    await saveWord2Vec(file, vocabulary, table, { binary: true });
    const valid = readFileSync(file);
    // gensim: no '\n' after the records.
    const parts: Buffer[] = [Buffer.from('5 3\n')];
    words.forEach((word, i) => {
      parts.push(Buffer.from(`${word} `), Buffer.from(table.weight.buffer, i * 12, 12));
    });
    const gensim = Buffer.concat(parts);
    let loads = (await fuzz('binary.bin', valid, 700, 3, (f) => loadWord2Vec(f), true)).loads;
    loads += (await fuzz('gensim.bin', gensim, 300, 4, (f) => loadWord2Vec(f), true)).loads;
    loads += (await fuzz('sniffed', valid, 200, 5, (f) => loadWord2Vec(f), false)).loads;
    expect(loads).toBeGreaterThan(1000);
  });

  it('GloVe', async () => {
    const file = path.join(dir, 'valid-glove.txt');
    await saveGloVe(file, vocabulary, table);
    const valid = readFileSync(file);
    const spaced = (f: string) => loadGloVe(f, { wordsWithSpaces: true });
    const { loads } = await fuzz('glove.txt', valid, 800, 6, (f) => loadGloVe(f), true, spaced);
    expect(loads).toBeGreaterThan(1600);
  });

  it('GloVe with words that contain spaces (wordsWithSpaces)', async () => {
    const valid = Buffer.from(textLines(spacedWords, table.weight, 3));
    await expectSpacedWords(valid, 'spaced-valid-glove.txt', (f) => loadGloVe(f, { wordsWithSpaces: true }));
    const { loads, spacedLoaded } = await fuzz('spaced-glove.txt', valid, 800, 11, null, true, (f) => loadGloVe(f, { wordsWithSpaces: true }));
    expect(loads).toBeGreaterThan(800);
    expect(spacedLoaded).toBeGreaterThan(100);
  });

  it('vocabulary (JSON and one token per line)', async () => {
    const json = path.join(dir, 'valid-vocabulary.json');
    await new Vocabulary(words, { unknown: '<unk>', padding: '<pad>' }).save(json);
    const validJson = readFileSync(json);
    const validText = Buffer.from(`${words.join('\n')}\n`);
    let loads = (await fuzz('vocabulary.json', validJson, 500, 7, (f) => Vocabulary.load(f), false)).loads;
    loads += (await fuzz('vocabulary.txt', validText, 500, 8, (f) => Vocabulary.load(f), false)).loads;
    expect(loads).toBeGreaterThan(1000);
  });
});
