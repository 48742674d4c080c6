// Seeded fuzzing of the safetensors and .npy readers: thousands of mutated and truncated files
// derived from valid ones. Every read must either succeed with a consistent result or reject with
// an Error naming the file; never throw anything else, crash, hang, or allocate past the file.
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { readNpy, saveNpy } from '../../src/io/npy.js';
import { openSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import { randomTable, rng } from '../helpers.js';
import { temporaryDirectory } from './tmp.js';

const dir = temporaryDirectory();

/** Mutations of `valid`: every truncation, then `count` random edits (seeded). */
function* mutations(valid: Uint8Array, count: number, seed: number): Generator<Uint8Array> {
  for (let length = 0; length < valid.length; length += Math.max(1, Math.floor(valid.length / 400))) yield valid.slice(0, length);
  const next = rng(seed);
  const pick = (n: number) => Math.floor(next() * n);
  // Edits land mostly in the header, where the reader's decisions are made.
  const headerEnd = Math.min(valid.length, 160);
  for (let k = 0; k < count; k++) {
    const bytes = Array.from(valid);
    const edits = 1 + pick(3);
    for (let e = 0; e < edits; e++) {
      const at = next() < 0.8 ? pick(headerEnd) : pick(bytes.length);
      switch (pick(6)) {
        case 0:
          bytes[at] = pick(256);
          break;
        case 1:
          bytes[at] = bytes[at]! ^ (1 << pick(8));
          break;
        case 2:
          bytes.splice(at, 1 + pick(4));
          break;
        case 3:
          bytes.splice(at, 0, ...Array.from({ length: 1 + pick(4) }, () => pick(256)));
          break;
        case 4: {
          // A digit run replaced by a huge or odd number.
          const text = ['9999999999999999999', '-1', '0', '4294967296', '1e308', '18446744073709551615'][pick(6)]!;
          bytes.splice(at, 1 + pick(3), ...Buffer.from(text));
          break;
        }
        default:
          bytes.length = Math.max(0, bytes.length - 1 - pick(16));
      }
    }
    yield Uint8Array.from(bytes);
  }
}

/** Reads every mutation; returns how many were accepted. */
async function fuzz(name: string, valid: Uint8Array, count: number, seed: number, read: (file: string) => Promise<void>): Promise<number> {
  let accepted = 0;
  let k = 0;
  for (const bytes of mutations(valid, count, seed)) {
    const file = path.join(dir, `${name}-${k++}`);
    writeFileSync(file, bytes);
    try {
      await read(file);
      accepted++;
    } catch (error) {
      if (!(error instanceof Error) || !error.message.includes(file)) {
        throw new Error(`mutation ${k - 1} of ${name} (${Buffer.from(bytes).toString('hex').slice(0, 200)}...) threw ${String(error)}`);
      }
    }
  }
  return accepted;
}

describe('fuzzed tensor files', () => {
  it('safetensors: mutated files are read consistently or rejected naming the file', async () => {
    const source = path.join(dir, 'valid.safetensors');
    await saveSafetensors(
      source,
      {
        'embedding.weight': { data: randomTable(6, 5, 1), shape: [6, 5] },
        half: { data: randomTable(3, 3, 2), shape: [3, 3], dtype: 'F16' },
        brain: { data: randomTable(2, 3, 3), shape: [2, 3], dtype: 'BF16' },
      },
      { format: 'pt' },
    );
    const valid = await readFile(source);
    const accepted = await fuzz('st', valid, 3000, 20261128, async (file) => {
      const opened = await openSafetensors(file);
      for (const tensor of opened.tensors) {
        expect(tensor.fileOffset + tensor.byteLength).toBeLessThanOrEqual(valid.length + 64);
        if (!['F32', 'F16', 'BF16', 'F64'].includes(tensor.dtype)) continue;
        const values = opened.float32(tensor.name);
        expect(values.length).toBe(tensor.shape.reduce((a, b) => a * b, 1));
      }
    });
    // Some mutations (of data bytes) are valid files: the fuzzer reaches the accepting path too.
    expect(accepted).toBeGreaterThan(0);
  });

  it('.npy: mutated files are read consistently or rejected naming the file', async () => {
    const source = path.join(dir, 'valid.npy');
    await saveNpy(source, randomTable(7, 3, 4), [7, 3]);
    const valid = await readFile(source);
    const accepted = await fuzz('npy', valid, 3000, 7, async (file) => {
      const read = await readNpy(file);
      expect(read.data.length).toBe(read.shape[0] * read.shape[1]);
      expect(read.data.length * 2).toBeLessThanOrEqual(valid.length + 64);
    });
    expect(accepted).toBeGreaterThan(0);
  });
});
