// The fault-in of a loader's fresh table beside the load (files.ts prefaultTable, the addon's
// populateBackward): it changes no byte of the buffer it goes over, stops when asked, and loads of
// tables large enough to use it (16 MiB and up, two threads) give the same tables as loads
// without it (one thread), also when the load fails part way.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';

import { loadAddon } from '../../src/backends/native.js';
import { FileFormatError, allocateTable, prefaultTable } from '../../src/io/files.js';
import { Vocabulary } from '../../src/io/vocabulary.js';
import { loadGloVe, loadWord2Vec, saveGloVe, saveWord2Vec } from '../../src/io/word-vectors.js';
import { Embedding } from '../../src/embedding.js';
import { currentBackend, getNumThreads, setNumThreads } from '../../src/loader.js';
import { expectSameBits, rejection } from '../helpers.js';

const native = currentBackend().name === 'native';
const dir = mkdtempSync(path.join(os.tmpdir(), 'nn-embedding-prefault-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const threadsBefore = getNumThreads();
afterEach(() => setNumThreads(threadsBefore));

describe.runIf(native)('populateBackward', () => {
  const addon = loadAddon();

  it('goes over the whole pages of a buffer without changing a byte of it', async () => {
    const bytes = 24 << 20;
    const buffer = addon.allocateZeroed(bytes);
    const view = new Uint8Array(buffer);
    for (let i = 0; i < bytes; i += 4093) view[i] = (i * 7) & 255; // every page but some, written first
    const job = addon.populateBackward(buffer);
    const done = await job.done;
    expect([-1, bytes]).toContain(done); // -1: no MADV_POPULATE_WRITE here
    for (let i = 0; i < bytes; i++) {
      if (view[i] !== (i % 4093 === 0 ? (i * 7) & 255 : 0)) throw new Error(`byte ${i} changed to ${view[i]}`);
    }
    job.stop(); // after it ended: nothing to stop
    // An ordinary (V8) ArrayBuffer, one of 0 bytes, and one that is not page-aligned.
    const plain = new Uint8Array(5 << 20).fill(3);
    expect(await addon.populateBackward(plain.buffer).done).toBeGreaterThanOrEqual(-1);
    expect(plain.every((b) => b === 3)).toBe(true);
    expect(await addon.populateBackward(new ArrayBuffer(0)).done).toBeLessThanOrEqual(0);
    expect(() => addon.populateBackward(new Uint8Array(4) as unknown as ArrayBuffer)).toThrow(TypeError);
    expect(() => (addon.populateBackward as (x?: unknown) => unknown)()).toThrow(TypeError);
  });

  it('stops when asked: at once, it goes over at most one 2 MiB step', async () => {
    const bytes = 64 << 20;
    const job = addon.populateBackward(addon.allocateZeroed(bytes));
    job.stop();
    const done = await job.done;
    expect(done).toBeLessThanOrEqual(2 << 20);
  });

  it('is started by prefaultTable only for large tables of the addon at two threads or more', async () => {
    setNumThreads(2);
    const large = allocateTable(5 << 20); // 20 MiB
    const prefault = prefaultTable(large);
    expect(prefault).not.toBeNull();
    await prefault!.stop();
    expect(prefaultTable(allocateTable(1 << 20))).toBeNull(); // 4 MiB
    expect(prefaultTable(new Float32Array(5 << 20))).toBeNull(); // V8's
    setNumThreads(1);
    expect(prefaultTable(allocateTable(5 << 20))).toBeNull();
  });
});

describe('loads of tables of 16 MiB and up', () => {
  const rows = 15_000;
  const dim = 300; // 18 MB of float32
  const words = Array.from({ length: rows }, (_, i) => `w${i}`);
  const table = new Float32Array(rows * dim);
  for (let i = 0; i < table.length; i++) table[i] = ((i * 2654435761) % 20001) / 10000 - 1;
  const layer = Embedding.fromPretrained(table, dim);
  const vocabulary = new Vocabulary(words);

  it('give the same tables at one and two threads (with and without the fault-in), binary, text and GloVe', async () => {
    const files = {
      binary: path.join(dir, 'large.bin'),
      text: path.join(dir, 'large.txt'),
      glove: path.join(dir, 'large.glove.txt'),
    };
    await saveWord2Vec(files.binary, vocabulary, layer, { binary: true });
    await saveWord2Vec(files.text, vocabulary, layer, { binary: false });
    await saveGloVe(files.glove, vocabulary, layer);
    for (const [name, load] of [
      ['binary', () => loadWord2Vec(files.binary, { binary: true })],
      ['text', () => loadWord2Vec(files.text, { binary: false })],
      ['glove', () => loadGloVe(files.glove)],
    ] as const) {
      setNumThreads(1);
      const one = await load();
      setNumThreads(2);
      const two = await load();
      expect(two.vocabulary.tokens, name).toEqual(words);
      expectSameBits(two.embedding.weight, one.embedding.weight);
      expectSameBits(two.embedding.weight, table);
    }
  });

  it('fail as before when a record near the end is bad', async () => {
    // A bad value in the last line: the load has filled (almost) the whole table when it throws.
    const file = path.join(dir, 'bad-end.glove.txt');
    const lines = words.map((w, i) => `${w} ${Array.from({ length: dim }, (_, j) => (i === rows - 1 && j === 7 ? 'x' : '0.5')).join(' ')}`);
    writeFileSync(file, `${lines.join('\n')}\n`);
    setNumThreads(2);
    const error = await rejection(loadGloVe(file));
    expect(error).toBeInstanceOf(FileFormatError);
    expect((error as Error).message).toContain(`line ${rows}`);
  });
});
