// Seeded fuzzing of the word2vec text and binary, GloVe and vocabulary readers: every truncation
// of small valid files, then thousands of mutations (byte edits, insertions, deletions,
// duplicated lines, huge header numbers). Every load must either succeed with a consistent
// result or reject with an Error naming the file; never throw anything else, crash or hang. The
// word-vector loads are also repeated with a tiny random chunk size: the outcome, error message
// included, must not depend on where the chunks end.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { Vocabulary } from '../../src/io/vocabulary.js';
import { type WordVectors, loadGloVe, loadWord2Vec, readSettings, saveGloVe, saveWord2Vec } from '../../src/io/word-vectors.js';
import { randomTable, rng } from '../helpers.js';

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

async function withChunkBytes<T>(chunkBytes: number, run: () => Promise<T>): Promise<T> {
  const saved = readSettings.chunkBytes;
  readSettings.chunkBytes = chunkBytes;
  try {
    return await run();
  } finally {
    readSettings.chunkBytes = saved;
  }
}

const words = ['a', 'bé', 'c3', 'dd', '日本'];
const vocabulary = new Vocabulary(words);
const table = { weight: randomTable(5, 3, 7), embeddingDim: 3, numEmbeddings: 5 };

async function fuzz(
  name: string,
  valid: Buffer,
  count: number,
  seed: number,
  load: (file: string) => Promise<WordVectors | Vocabulary>,
  compareChunked: boolean,
): Promise<number> {
  const file = path.join(dir, name);
  const next = rng(seed + 1);
  let loads = 0;
  for (const bytes of mutations(valid, count, seed)) {
    writeFileSync(file, bytes);
    const whole = await outcome(file, () => load(file));
    loads++;
    if (compareChunked && next() < 0.25) {
      const chunked = await withChunkBytes(1 + Math.floor(next() * 24), () => outcome(file, () => load(file)));
      expect(chunked, `${name}: ${JSON.stringify(bytes.toString('latin1'))}`).toEqual(whole);
    }
  }
  return loads;
}

describe('fuzzed word-vector and vocabulary files', () => {
  it('word2vec text (\\n and \\r\\n)', async () => {
    const file = path.join(dir, 'valid.txt');
    await saveWord2Vec(file, vocabulary, table, { binary: false });
    const valid = readFileSync(file);
    const crlf = Buffer.from(valid.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
    let loads = await fuzz('text.txt', valid, 700, 1, (f) => loadWord2Vec(f), true);
    loads += await fuzz('crlf.txt', crlf, 300, 2, (f) => loadWord2Vec(f), true);
    expect(loads).toBeGreaterThan(1000);
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
    let loads = await fuzz('binary.bin', valid, 700, 3, (f) => loadWord2Vec(f), true);
    loads += await fuzz('gensim.bin', gensim, 300, 4, (f) => loadWord2Vec(f), true);
    loads += await fuzz('sniffed', valid, 200, 5, (f) => loadWord2Vec(f), false);
    expect(loads).toBeGreaterThan(1000);
  });

  it('GloVe', async () => {
    const file = path.join(dir, 'valid-glove.txt');
    await saveGloVe(file, vocabulary, table);
    const valid = readFileSync(file);
    const loads = await fuzz('glove.txt', valid, 800, 6, (f) => loadGloVe(f), true);
    expect(loads).toBeGreaterThan(800);
  });

  it('vocabulary (JSON and one token per line)', async () => {
    const json = path.join(dir, 'valid-vocabulary.json');
    await new Vocabulary(words, { unknown: '<unk>', padding: '<pad>' }).save(json);
    const validJson = readFileSync(json);
    const validText = Buffer.from(`${words.join('\n')}\n`);
    let loads = await fuzz('vocabulary.json', validJson, 500, 7, (f) => Vocabulary.load(f), false);
    loads += await fuzz('vocabulary.txt', validText, 500, 8, (f) => Vocabulary.load(f), false);
    expect(loads).toBeGreaterThan(1000);
  });
});
