// Seeded fuzzing of the safetensors and .npy readers: thousands of mutated and truncated files
// derived from valid ones. Every read must either succeed with a consistent result or reject with
// an Error naming the file; never throw anything else, crash, hang, or allocate past the file.
import { writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { DTYPES, dequantize, quantize } from '../../src/dtype.js';
import { loadEmbedding } from '../../src/io/layers.js';
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

  it('safetensors with narrow tables: every table, in every dtype, reads consistently or is rejected naming the file', async () => {
    const weights = randomTable(4, 6, 5);
    const source = path.join(dir, 'narrow.safetensors');
    await saveSafetensors(
      source,
      {
        'h.weight': { data: quantize(weights, 6, 'float16'), shape: [4, 6], dtype: 'F16' },
        'q8.weight': { data: quantize(weights, 6, 'int8'), shape: [4, 14], dtype: 'U8' },
        'q4.weight': { data: quantize(weights, 6, 'int4'), shape: [4, 7], dtype: 'U8' },
      },
      {
        'nn_embedding.dtype.q8.weight': 'int8',
        'nn_embedding.dim.q8.weight': '6',
        'nn_embedding.dtype.q4.weight': 'int4',
        'nn_embedding.dim.q4.weight': '6',
      },
    );
    const valid = await readFile(source);
    const accepted = await fuzz('st-narrow', valid, 3000, 20261207, async (file) => {
      const opened = await openSafetensors(file);
      for (const tensor of opened.tensors) {
        let info;
        try {
          info = opened.tableInfo(tensor.name);
        } catch (error) {
          if (!(error instanceof Error) || !error.message.includes(file)) throw error;
          continue;
        }
        expect(info.rows * info.rowBytes).toBe(tensor.byteLength);
        const stored = opened.table(tensor.name, { dtype: 'file' });
        expect(stored.data.byteLength).toBe(tensor.byteLength);
        for (const dtype of DTYPES) {
          if (dtype === 'int4' && info.dim % 2 !== 0) {
            expect(() => opened.table(tensor.name, { dtype })).toThrow(/an int4 table needs an even one/);
            continue;
          }
          const table = opened.table(tensor.name, { dtype });
          expect(table.data.length * table.data.BYTES_PER_ELEMENT).toBe(info.rows * (dtype === 'float32' ? 4 * info.dim : dtype === 'int8' ? info.dim + 8 : dtype === 'int4' ? info.dim / 2 + 4 : 2 * info.dim));
        }
        expect(dequantize(stored.data, stored.dim, stored.dtype).length).toBe(info.rows * info.dim);
      }
      if (opened.tensors.length > 0) {
        const prefix = opened.tensors[0]!.name.replace(/\.?weight$/, '');
        await loadEmbedding(file, { prefix, dtype: 'file' }).catch((error: unknown) => {
          if (!(error instanceof Error) || !error.message.includes(file)) throw error;
        });
      }
    });
    expect(accepted).toBeGreaterThan(0);
  });

  it('.npy with narrow tables: float16 and uint8 rows read in every dtype asked for, or are rejected naming the file', async () => {
    const weights = randomTable(5, 6, 6);
    const sources = [
      [path.join(dir, 'valid-f2.npy'), quantize(weights, 6, 'float16'), 'float16'],
      [path.join(dir, 'valid-u1.npy'), quantize(weights, 6, 'int8'), 'int8'],
    ] as const;
    for (const [source, packed, dtype] of sources) {
      await saveNpy(source, packed, [5, 6], { dtype });
      const valid = await readFile(source);
      const accepted = await fuzz(`npy-${dtype}`, valid, 1500, 11, async (file) => {
        for (const asked of ['file', 'float32', 'float16', 'int8', 'int4'] as const) {
          try {
            const table = await readNpy(file, { dtype: asked });
            expect(table.rows).toBe(table.shape[0]);
            expect(table.data.byteLength).toBeLessThanOrEqual(4 * valid.length + 64);
          } catch (error) {
            if (!(error instanceof Error) || !error.message.includes(file)) throw error;
          }
        }
      });
      expect(accepted).toBeGreaterThan(0);
    }
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
