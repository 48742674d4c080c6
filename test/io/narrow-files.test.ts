// Narrow tables in files: float16/bfloat16 read and written as their bits (views of the mapped
// file, never widened unless float32 is asked for), int8/int4 rows as U8 safetensors tensors with
// their dtype in the metadata and as uint8 .npy arrays; conversions between dtypes; files written
// by numpy and torch (test/fixtures/interop/narrow-expected.json); hostile metadata.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { type Dtype, Embedding, EmbeddingBag, type PackedTable, dequantize, quantize } from '../../src/index.js';
import { loadEmbedding, loadEmbeddingBag, saveEmbedding } from '../../src/io/layers.js';
import { readNpy, saveNpy } from '../../src/io/npy.js';
import { openSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import { expectFileFormatError, expectSameBits, expectedBackend, randomTable } from '../helpers.js';
import { temporaryDirectory, writeRawSafetensors } from './tmp.js';

const dir = temporaryDirectory();
const fixtures = path.join(__dirname, '..', 'fixtures', 'interop');
const NARROW: readonly Exclude<Dtype, 'float32'>[] = ['float16', 'bfloat16', 'int8', 'int4'];
const mapped = expectedBackend === 'native';

const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

function expectSameBytes(actual: ArrayBufferView, expected: ArrayBufferView, what = 'bytes'): void {
  expect(actual.constructor, what).toBe(expected.constructor);
  expect(bytesOf(actual).equals(bytesOf(expected)), what).toBe(true);
}

const writeRaw = (name: string, header: unknown, data?: Uint8Array, pad?: boolean): string => writeRawSafetensors(dir, name, header, data, pad);

/** Runs `load` with globalThis.Float32Array counting the arrays of at least `minLength` elements made meanwhile. */
async function countFloat32Tables(minLength: number, load: () => Promise<unknown>): Promise<number> {
  const Original = globalThis.Float32Array;
  let count = 0;
  globalThis.Float32Array = new Proxy(Original, {
    construct(target, args, newTarget) {
      const made = Reflect.construct(target, args, newTarget) as Float32Array;
      if (made.length >= minLength) count++;
      return made;
    },
  });
  try {
    await load();
  } finally {
    globalThis.Float32Array = Original;
  }
  return count;
}

describe('narrow layers saved and loaded (safetensors)', () => {
  const rows = 9;
  const dim = 6;
  const weights = randomTable(rows, dim, 21);

  it.each(NARROW)('%s: saved in its dtype, loaded back as the same bytes (a view of the file), or as float32 by default', async (dtype) => {
    const packed = quantize(weights, dim, dtype);
    const layer = Embedding.fromPretrained(packed, dim, { dtype, paddingIdx: 2 });
    const file = path.join(dir, `layer-${dtype}.safetensors`);
    await saveEmbedding(file, layer, { prefix: 'embed' });
    const opened = await openSafetensors(file);
    const quantized = dtype === 'int8' || dtype === 'int4';
    const tensor = opened.info('embed.weight')!;
    expect([tensor.dtype, tensor.shape]).toEqual(
      quantized ? ['U8', [rows, dtype === 'int8' ? dim + 8 : dim / 2 + 4]] : [dtype === 'float16' ? 'F16' : 'BF16', [rows, dim]],
    );
    if (quantized) {
      expect(opened.metadata['nn_embedding.dtype.embed.weight']).toBe(dtype);
      expect(opened.metadata['nn_embedding.dim.embed.weight']).toBe(String(dim));
    } else {
      expect(Object.keys(opened.metadata).filter((key) => key.startsWith('nn_embedding.'))).toEqual([]);
    }
    expect(bytesOf(opened.bytes('embed.weight')).equals(bytesOf(packed)), 'the stored bytes').toBe(true);
    expect(JSON.parse(opened.metadata.nn_embedding!).args.embedding_dim).toBe(dim);
    expect(opened.tableInfo('embed.weight')).toEqual({
      name: 'embed.weight',
      dtype,
      tensorDtype: tensor.dtype,
      rows,
      dim,
      rowBytes: packed.byteLength / rows,
      byteLength: packed.byteLength,
    });

    const same = await loadEmbedding(file, { dtype: 'file' });
    expect([same.dtype, same.numEmbeddings, same.embeddingDim, same.paddingIdx]).toEqual([dtype, rows, dim, 2]);
    expectSameBytes(same.data, packed, 'the loaded table');
    // Adopted, not copied: a view of the whole file's buffer (the mapping, on the native backend).
    expect(same.data.buffer.byteLength).toBe(statSync(file).size);
    expect(same.data.byteOffset).toBe(tensor.fileOffset);
    expect(opened.table('embed.weight', { dtype: 'file' }).mapped).toBe(mapped);
    expectSameBits(same.forward([0, 2, 8, 8]), layer.forward([0, 2, 8, 8]), 'lookups');
    expectSameBytes((await loadEmbedding(file, { dtype })).data, packed, `dtype '${dtype}'`);

    const widened = await loadEmbedding(file);
    expect(widened.dtype).toBe('float32');
    expectSameBits(widened.weight, dequantize(packed, dim, dtype), 'loaded as float32');
    expectSameBits(opened.float32('embed.weight'), dequantize(packed, dim, dtype), 'float32()');

    const bag = await loadEmbeddingBag(file, { dtype: 'file', mode: 'sum' });
    expectSameBits(bag.forward([1, 3, 5], [0, 1]), EmbeddingBag.fromPretrained(packed, dim, { dtype, mode: 'sum' }).forward([1, 3, 5], [0, 1]));
  });

  it('an EmbeddingBag keeps its mode through a narrow file; options.dtype converts on save', async () => {
    const bag = EmbeddingBag.fromPretrained(quantize(weights, dim, 'int4'), dim, { dtype: 'int4', mode: 'mean', includeLastOffset: true });
    const file = path.join(dir, 'bag-int4.safetensors');
    await saveEmbedding(file, bag);
    const loaded = await loadEmbeddingBag(file, { dtype: 'file' });
    expect([loaded.dtype, loaded.mode, loaded.includeLastOffset]).toEqual(['int4', 'mean', true]);
    expectSameBytes(loaded.data, bag.data);
  });

  it('saveEmbedding converts to options.dtype through float32, as quantize and dequantize do', async () => {
    const float32 = Embedding.fromPretrained(weights, dim);
    const file = path.join(dir, 'convert.safetensors');
    for (const dtype of NARROW) {
      await saveEmbedding(file, float32, { dtype });
      expectSameBytes((await loadEmbedding(file, { dtype: 'file' })).data, quantize(weights, dim, dtype), `float32 -> ${dtype}`);
    }
    // The safetensors names are the same dtypes.
    const legacy = path.join(dir, 'legacy.safetensors');
    for (const [name, dtype] of [['F16', 'float16'], ['BF16', 'bfloat16'], ['F32', 'float32']] as const) {
      await saveEmbedding(legacy, float32, { dtype: name });
      await saveEmbedding(file, float32, { dtype });
      expect(readFileSync(legacy).equals(readFileSync(file)), name).toBe(true);
    }
    const int8 = Embedding.fromPretrained(quantize(weights, dim, 'int8'), dim, { dtype: 'int8' });
    await saveEmbedding(file, int8, { dtype: 'float32' });
    expectSameBits((await loadEmbedding(file, { dtype: 'file' })).weight, dequantize(int8.data, dim, 'int8'), 'int8 -> float32');
    await saveEmbedding(file, int8, { dtype: 'float16' });
    expectSameBytes((await loadEmbedding(file, { dtype: 'file' })).data, quantize(dequantize(int8.data, dim, 'int8'), dim, 'float16'), 'int8 -> float16');
    await expect(saveEmbedding(file, float32, { dtype: 'int3' as never })).rejects.toThrow(RangeError);
    await expect(saveEmbedding(file, float32, { dtype: 'int3' as never })).rejects.toThrow(/options.dtype must be one of 'float32', .*'int4' \(or 'F32', 'F16', 'BF16'\), got a string "int3"/);
    await expect(saveEmbedding(file, float32, { dtype: 16 as never })).rejects.toThrow(TypeError);
    await expect(saveEmbedding(file, new Embedding(3, 5), { dtype: 'int4' })).rejects.toThrow(/'int4' needs an even embeddingDim .* got 5/);
  });

  it('loadEmbedding converts a table stored in another dtype: float32 -> narrow is quantize, narrow -> narrow goes through float32', async () => {
    const file = path.join(dir, 'f32.safetensors');
    await saveEmbedding(file, Embedding.fromPretrained(weights, dim));
    for (const dtype of NARROW) {
      const layer = await loadEmbedding(file, { dtype });
      expect(layer.dtype).toBe(dtype);
      expectSameBytes(layer.data, quantize(weights, dim, dtype), `F32 file as ${dtype}`);
    }
    const int8File = path.join(dir, 'int8.safetensors');
    const int8 = quantize(weights, dim, 'int8');
    await saveEmbedding(int8File, Embedding.fromPretrained(int8, dim, { dtype: 'int8' }));
    expectSameBytes((await loadEmbedding(int8File, { dtype: 'bfloat16' })).data, quantize(dequantize(int8, dim, 'int8'), dim, 'bfloat16'));
    await expect(loadEmbedding(file, { dtype: 'float64' as never })).rejects.toThrow(/options.dtype must be 'file' or one of 'float32', .*got a string "float64"/);
    await expect(loadEmbedding(file, { dtype: 8 as never })).rejects.toThrow(TypeError);
    const odd = path.join(dir, 'odd-dim.safetensors');
    await saveEmbedding(odd, new Embedding(3, 5, { seed: 1 }));
    await expect(loadEmbedding(odd, { dtype: 'int4' })).rejects.toThrow(/odd-dim.safetensors: tensor 'weight' has dim 5, and an int4 table needs an even one/);
    const oddNpy = path.join(dir, 'odd-dim.npy');
    await saveNpy(oddNpy, new Float32Array(15), [3, 5]);
    await expect(readNpy(oddNpy, { dtype: 'int4' })).rejects.toThrow(/odd-dim.npy: the array of shape \(3, 5\) has dim 5, and an int4 table needs an even one/);
  });

  it('a narrow table is adopted without a float32 table ever being made', async () => {
    const big = new Embedding(2000, 100, { seed: 3 }); // 200,000 values: more than any lookup table of dtype.ts
    const file = path.join(dir, 'big-f16.safetensors');
    await saveEmbedding(file, big, { dtype: 'float16' });
    const int8File = path.join(dir, 'big-int8.safetensors');
    await saveEmbedding(int8File, big, { dtype: 'int8' });
    const threshold = 2000 * 100;
    expect(await countFloat32Tables(threshold, () => loadEmbedding(file, { dtype: 'float16' }))).toBe(0);
    expect(await countFloat32Tables(threshold, () => loadEmbeddingBag(int8File, { dtype: 'file' }))).toBe(0);
    expect(await countFloat32Tables(threshold, () => readNpy(path.join(fixtures, 'numpy-f2.npy'), { dtype: 'file' }))).toBe(0);
    // The counter sees the widening it is there to catch.
    expect(await countFloat32Tables(threshold, () => loadEmbedding(file))).toBe(1);
  });

  it('a recorded maxNorm refuses a narrow load (it renormalizes lookups); sparse and scaleGradByFreq are left out', async () => {
    const file = path.join(dir, 'maxnorm.safetensors');
    await saveEmbedding(file, new Embedding(4, 4, { maxNorm: 1, seed: 1 }));
    await expect(loadEmbedding(file, { dtype: 'int8' })).rejects.toThrow(TypeError);
    await expect(loadEmbedding(file, { dtype: 'int8' })).rejects.toThrow(/maxnorm.safetensors records maxNorm 1, which renormalizes .* load it with dtype 'float32'/);
    expect((await loadEmbedding(file)).maxNorm).toBe(1);
    const sparse = path.join(dir, 'sparse.safetensors');
    await saveEmbedding(sparse, new Embedding(4, 4, { sparse: true, paddingIdx: 1, seed: 1 }));
    const narrow = await loadEmbedding(sparse, { dtype: 'float16' });
    expect([narrow.dtype, narrow.sparse, narrow.paddingIdx]).toEqual(['float16', false, 1]);
    expect((await loadEmbedding(sparse)).sparse).toBe(true);
  });

  it('table keys in options.metadata are replaced by the ones for the table written', async () => {
    const file = path.join(dir, 'stale.safetensors');
    const stale = { 'nn_embedding.dtype.weight': 'int4', 'nn_embedding.dim.weight': '2', note: 'kept' };
    await saveEmbedding(file, Embedding.fromPretrained(weights, dim), { metadata: stale });
    const opened = await openSafetensors(file);
    expect(opened.metadata.note).toBe('kept');
    expect(opened.metadata['nn_embedding.dtype.weight']).toBeUndefined();
    expectSameBits((await loadEmbedding(file)).weight, weights);
  });
});

describe('16-bit tables read without widening', () => {
  it('uint16() and table(): views of the file when aligned, copies when a hand-made file misaligns them', async () => {
    const bits = new Uint16Array([0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00]);
    const aligned = path.join(dir, 'aligned.safetensors');
    await saveSafetensors(aligned, { w: { data: bits, shape: [3, 2], dtype: 'F16' } });
    const opened = await openSafetensors(aligned);
    expect(opened.uint16('w').buffer.byteLength).toBe(statSync(aligned).size);
    expectSameBytes(opened.uint16('w'), bits);
    expect(opened.table('w', { dtype: 'file' }).mapped).toBe(mapped);
    // A header of odd length (the format allows any): the tensor starts on an odd byte.
    let header = '{"weight":{"dtype":"F16","shape":[3,2],"data_offsets":[0,12]}}';
    if (header.length % 2 === 0) header += ' ';
    const odd = writeRaw('odd.safetensors', header, bytesOf(bits), false);
    const misaligned = await openSafetensors(odd);
    expect(misaligned.info('weight')!.fileOffset % 2).toBe(1);
    const copy = misaligned.uint16('weight');
    expectSameBytes(copy, bits);
    expect(copy.buffer.byteLength).toBe(12);
    const table = misaligned.table('weight', { dtype: 'file' });
    expect([table.dtype, table.mapped]).toEqual(['float16', false]);
    const layer = await loadEmbedding(odd, { dtype: 'file' });
    expectSameBytes(layer.data, bits);
    const values = dequantize(bits, 2, 'float16');
    expectSameBits(layer.forward([2, 0]), new Float32Array([...values.subarray(4, 6), ...values.subarray(0, 2)]), 'lookups');
    expect(() => opened.uint16('nope')).toThrow(/no tensor named 'nope'/);
  });

  it('int8/int4 tables at odd offsets (U8 tensors after an odd-sized one) are views, and look up correctly', async () => {
    const weights = randomTable(5, 6, 8);
    const int4 = quantize(weights, 6, 'int4'); // 5 rows of 7 bytes: 35, odd
    const int8 = quantize(weights, 6, 'int8');
    const file = path.join(dir, 'two-u8.safetensors');
    await saveSafetensors(
      file,
      { a: { data: int4, shape: [5, 7], dtype: 'U8' }, b: { data: int8, shape: [5, 14], dtype: 'U8' } },
      { 'nn_embedding.dtype.a': 'int4', 'nn_embedding.dtype.b': 'int8' }, // no dim keys: derived from the rows
    );
    const opened = await openSafetensors(file);
    expect(opened.info('b')!.fileOffset % 2).toBe(1);
    const table = opened.table('b', { dtype: 'file' });
    expect([table.dtype, table.dim, table.mapped]).toEqual(['int8', 6, mapped]);
    const layer = Embedding.fromPretrained(table.data, table.dim, { dtype: table.dtype });
    expectSameBits(layer.forward([4, 0, 2]), Embedding.fromPretrained(int8.slice(), 6, { dtype: 'int8' }).forward([4, 0, 2]));
    expectSameBytes(opened.table('a', { dtype: 'file' }).data, int4);
    expectSameBits(opened.float32('a'), dequantize(int4, 6, 'int4'));
  });
});

describe('tables that are not what the metadata says', () => {
  const u8 = (shape: number[], length = shape[0]! * shape[1]!) => ({ dtype: 'U8', shape, data_offsets: [0, length] });

  async function expectTableError(name: string, header: unknown, bytes: number, reason: RegExp): Promise<void> {
    const file = writeRaw(name, header, new Uint8Array(bytes));
    const opened = await openSafetensors(file); // a valid safetensors file: only the table is wrong
    const tensor = opened.names[0]!;
    expect(() => opened.tableInfo(tensor), name).toThrow(reason);
    expect(() => opened.table(tensor), name).toThrow(reason);
    await expectFileFormatError(loadEmbedding(file, { prefix: tensor.replace(/\.?weight$/, ''), dtype: 'file' }), file, reason, name);
    await expectFileFormatError(loadEmbeddingBag(file, { prefix: tensor.replace(/\.?weight$/, '') }), file, reason, name);
  }

  it('a U8 tensor without the dtype in the metadata, or with one a U8 table cannot have', async () => {
    await expectTableError('no-meta.safetensors', { weight: u8([3, 12]) }, 36, /tensor 'weight' is U8 \[3, 12\] without metadata 'nn_embedding.dtype.weight': .*'int8' or 'int4'/);
    await expectTableError(
      'bad-dtype.safetensors',
      { __metadata__: { 'nn_embedding.dtype.weight': 'int3\u0007' }, weight: u8([3, 12]) },
      36,
      /metadata 'nn_embedding.dtype.weight' = "int3\\u0007", not one of 'float32', 'float16', 'bfloat16', 'int8', 'int4'/,
    );
    await expectTableError('u8-f16.safetensors', { __metadata__: { 'nn_embedding.dtype.weight': 'float16' }, weight: u8([3, 12]) }, 36, /is U8, but metadata .* says 'float16'/);
    const opened = await openSafetensors(path.join(dir, 'no-meta.safetensors'));
    expect(() => opened.float32('weight')).toThrow(/dtype U8; only F32, F16, BF16 and F64 read as float32, and U8 tables whose metadata 'nn_embedding.dtype.weight'/);
  });

  it('a dtype the tensor contradicts, rows too short for their dtype, a dim the rows cannot have', async () => {
    const meta = (dtype: string, dim?: string) => ({ 'nn_embedding.dtype.weight': dtype, ...(dim === undefined ? {} : { 'nn_embedding.dim.weight': dim }) });
    await expectTableError('f16-int8.safetensors', { __metadata__: meta('int8'), weight: { dtype: 'F16', shape: [2, 10], data_offsets: [0, 40] } }, 40, /is F16, but metadata 'nn_embedding.dtype.weight' says 'int8'/);
    await expectTableError('f32-bf16.safetensors', { __metadata__: meta('bfloat16'), weight: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } }, 16, /is F32, but .* says 'bfloat16'/);
    await expectTableError('short-int8.safetensors', { __metadata__: meta('int8'), weight: u8([2, 8]) }, 16, /holds int8 rows of 8 bytes; an int8 row is dim \+ 8 bytes/);
    await expectTableError('short-int4.safetensors', { __metadata__: meta('int4'), weight: u8([2, 4]) }, 8, /holds int4 rows of 4 bytes; an int4 row is dim \/ 2 \+ 4 bytes/);
    await expectTableError('odd-int4.safetensors', { __metadata__: meta('int4', '5'), weight: u8([2, 7]) }, 14, /'nn_embedding.dim.weight' = "5" \(an int4 dim is even: two codes a byte\), but its int4 rows of 7 bytes have dim 6/);
    await expectTableError('dim-int8.safetensors', { __metadata__: meta('int8', '7'), weight: u8([2, 14]) }, 28, /'nn_embedding.dim.weight' = "7", but its int8 rows of 14 bytes have dim 6/);
    await expectTableError('dim-text.safetensors', { __metadata__: meta('int8', '6.0'), weight: u8([2, 14]) }, 28, /'nn_embedding.dim.weight' = "6.0", but/);
    await expectTableError('dim-huge.safetensors', { __metadata__: meta('int8', '9'.repeat(400)), weight: u8([2, 14]) }, 28, /'nn_embedding.dim.weight' = "9{40}…", but/);
    await expectTableError('dim-f16.safetensors', { __metadata__: { 'nn_embedding.dim.weight': '3' }, weight: { dtype: 'F16', shape: [2, 2], data_offsets: [0, 8] } }, 8, /float16 rows of 2 values have dim 2/);
    await expectTableError('i32.safetensors', { weight: { dtype: 'I32', shape: [2, 2], data_offsets: [0, 16] } }, 16, /has dtype I32: a table is F32, F64, F16, BF16, or U8/);
    await expectTableError('three-d.safetensors', { __metadata__: meta('int8'), weight: { dtype: 'U8', shape: [1, 2, 9], data_offsets: [0, 18] } }, 18, /shape \[1, 2, 9\]/);
  });

  it('a layer record that gives the packed row width as the dim is refused', async () => {
    const packed = quantize(randomTable(2, 6, 1), 6, 'int8');
    const record = { module: 'Embedding', args: { num_embeddings: 2, embedding_dim: 14, padding_idx: null, max_norm: null, norm_type: 2, scale_grad_by_freq: false, sparse: false } };
    const file = writeRaw('record.safetensors', { __metadata__: { nn_embedding: JSON.stringify(record), 'nn_embedding.dtype.weight': 'int8' }, weight: u8([2, 14]) }, packed);
    await expectFileFormatError(loadEmbedding(file, { dtype: 'file' }), file, /metadata says 2 x 14 but tensor 'weight' is 2 x 6/);
  });
});

describe('saveSafetensors with packed data', () => {
  it('writes Uint16Array bits as F16/BF16 and Uint8Array bytes as U8, as they are; refuses other pairings', async () => {
    const file = path.join(dir, 'packed.safetensors');
    const halves = new Uint16Array([0x7e01, 0xfc00, 1, 2]); // a NaN with a payload: written as it is
    const bytes = new Uint8Array([1, 2, 3]);
    await saveSafetensors(file, { h: { data: halves, shape: [2, 2], dtype: 'BF16' }, u: { data: bytes, shape: [3], dtype: 'U8' } });
    const opened = await openSafetensors(file);
    expectSameBytes(opened.uint16('h'), halves);
    expectSameBytes(opened.bytes('u'), bytes);
    const never = path.join(dir, 'never.safetensors');
    await expect(saveSafetensors(never, { h: { data: halves, shape: [4] } })).rejects.toThrow(/tensors\['h'\].dtype must be 'F16' or 'BF16' for a Uint16Array, got undefined/);
    await expect(saveSafetensors(never, { h: { data: bytes, shape: [3], dtype: 'F16' } })).rejects.toThrow(/must be 'U8' for a Uint8Array, got "F16"/);
    await expect(saveSafetensors(never, { h: { data: new Float32Array(1), shape: [1], dtype: 'U8' } })).rejects.toThrow(/must be 'F32', 'F16' or 'BF16' for a Float32Array/);
    await expect(saveSafetensors(never, { h: { data: new Int8Array(1) as never, shape: [1] } })).rejects.toThrow(TypeError);
    expect(existsSync(never)).toBe(false);
  });
});

describe('narrow .npy files', () => {
  it.each(['float16', 'int8', 'int4'] as const)('%s: saveNpy writes it, readNpy reads the same bytes (a view), numpy-style header', async (dtype) => {
    const weights = randomTable(11, 8, 5);
    const packed = quantize(weights, 8, dtype);
    const file = path.join(dir, `table-${dtype}.npy`);
    await saveNpy(file, packed, [11, 8], { dtype });
    const text = readFileSync(file).subarray(10, 128).toString('latin1');
    const stored = dtype === 'float16' ? '<f2' : '|u1';
    const columns = dtype === 'float16' ? 8 : dtype === 'int8' ? 16 : 8;
    expect(text).toContain(`{'descr': '${stored}', 'fortran_order': False, 'shape': (11, ${columns}), }`);
    const read = await readNpy(file, { dtype });
    expect([read.dtype, read.fileDtype, read.rows, read.dim, read.shape, read.descr, read.mapped]).toEqual([dtype, dtype, 11, 8, [11, columns], stored, mapped]);
    expectSameBytes(read.data, packed);
    if (dtype === 'float16') {
      expectSameBits((await readNpy(file, { dtype: 'float32' })).data as Float32Array, dequantize(packed, 8, dtype));
      expectSameBytes((await readNpy(file, { dtype: 'file' })).data, packed);
      expectSameBits((await readNpy(file)).data, dequantize(packed, 8, dtype), 'readNpy without options, as always');
    } else {
      await expectFileFormatError(readNpy(file), file, /dtype '\|u1' \(uint8\) holds packed int8 or int4 rows, and a .npy file cannot say which: read it with readNpy\(file, \{ dtype: 'int8' \}\) or readNpy\(file, \{ dtype: 'int4' \}\)/);
      await expectFileFormatError(readNpy(file, { dtype: 'file' }), file, /options.dtype 'file' cannot read it: .* \{ dtype: 'int8' \} or \{ dtype: 'int4' \}/);
      await expectFileFormatError(readNpy(file, { dtype: 'float16' }), file, /options.dtype 'float16' cannot read it/);
      await expectFileFormatError(readNpy(file, { dtype: 'float32' }), file, /options.dtype 'float32' cannot read it/);
    }
  });

  it('big-endian and Fortran-order float16 arrays read as the same bits (copies)', async () => {
    const bits = new Uint16Array([0x3c00, 0x7e01, 0x8001, 0xfbff, 0x0400, 0x3555]); // (2, 3)
    const file = path.join(dir, 'le.npy');
    await saveNpy(file, bits, [2, 3], { dtype: 'float16' });
    const original = readFileSync(file);
    const dataStart = original.length - 12;
    const bigEndian = Buffer.from(original);
    bigEndian.write("'>f2'", bigEndian.indexOf("'<f2'"), 'latin1');
    for (let k = dataStart; k < bigEndian.length; k += 2) [bigEndian[k], bigEndian[k + 1]] = [bigEndian[k + 1]!, bigEndian[k]!];
    writeFileSync(path.join(dir, 'be.npy'), bigEndian);
    const fortran = Buffer.from(original);
    fortran.write("True, 'shape': (2, 3), } ", fortran.indexOf('False'), 'latin1');
    // Column-major: column 0, then 1, then 2.
    const columns = new Uint16Array([bits[0]!, bits[3]!, bits[1]!, bits[4]!, bits[2]!, bits[5]!]);
    bytesOf(columns).copy(fortran, dataStart);
    writeFileSync(path.join(dir, 'fortran.npy'), fortran);
    for (const name of ['be.npy', 'fortran.npy']) {
      const read = await readNpy(path.join(dir, name), { dtype: 'file' });
      expect([read.dtype, read.mapped], name).toEqual(['float16', false]);
      expectSameBytes(read.data, bits, name);
      expectSameBits((await readNpy(path.join(dir, name))).data, dequantize(bits, 3, 'float16'), `${name} as float32`);
    }
  });

  it('bfloat16 cannot be saved (numpy has no such dtype); bad arguments are refused before writing', async () => {
    const file = path.join(dir, 'never.npy');
    await expect(saveNpy(file, new Uint16Array(4), [2, 2], { dtype: 'bfloat16' })).rejects.toThrow(
      /numpy has no bfloat16 dtype, so a .npy file cannot hold a bfloat16 table: save it as safetensors \(BF16: saveEmbedding, saveSafetensors\), or as float32/,
    );
    await expect(saveNpy(file, new Float32Array(4), [2, 2], { dtype: 'float16' })).rejects.toThrow(/data must be a Uint16Array for float16/);
    await expect(saveNpy(file, new Uint8Array(13), [1, 6], { dtype: 'int8' })).rejects.toThrow(/are 14 bytes \(14 a row\), data has 13/);
    await expect(saveNpy(file, new Uint8Array(7), [1, 5], { dtype: 'int4' })).rejects.toThrow(/an int4 table needs a dim of at least 1, even \(two codes per byte\), got 5/);
    await expect(saveNpy(file, new Float32Array(4), [2, 2], { dtype: 'int2' as never })).rejects.toThrow(RangeError);
    await expect(saveNpy(file, new Float32Array(4), [2, 2], { bogus: 1 } as never)).rejects.toThrow(/unknown option 'bogus'/);
    await expect(readNpy(file, { dtype: 'half' as never })).rejects.toThrow(/options.dtype must be 'file' or one of/);
    expect(existsSync(file)).toBe(false);
  });
});

describe('narrow tables written by numpy and torch (test/fixtures/interop)', () => {
  const expected = JSON.parse(readFileSync(path.join(fixtures, 'narrow-expected.json'), 'utf8')) as {
    rows: number;
    dim: number;
    source: string;
    tables: Record<Exclude<Dtype, 'float32'>, { packed: string; dequantized: string }>;
  };
  const { rows, dim } = expected;
  const hexBytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));
  const float32 = (hex: string) => new Float32Array(hexBytes(hex).buffer);
  const packed = (dtype: Exclude<Dtype, 'float32'>): PackedTable => {
    const bytes = hexBytes(expected.tables[dtype].packed);
    return dtype === 'float16' || dtype === 'bfloat16' ? new Uint16Array(bytes.buffer) : bytes;
  };
  const torchFloat32 = (dtype: Exclude<Dtype, 'float32'>) => float32(expected.tables[dtype].dequantized);

  it('torch packs the source as quantize does, and unpacks as dequantize does', () => {
    const source = float32(expected.source);
    for (const dtype of NARROW) {
      expectSameBytes(quantize(source, dim, dtype), packed(dtype), `quantize ${dtype}`);
      expectSameBits(dequantize(packed(dtype), dim, dtype), torchFloat32(dtype), `dequantize ${dtype}`);
    }
  });

  it('st-narrow.safetensors: torch\'s tables as saved from Python load as the same bytes, or as torch\'s float32', async () => {
    const file = path.join(fixtures, 'st-narrow.safetensors');
    const prefixes = { float16: 'f16', bfloat16: 'bf16', int8: 'int8', int4: 'int4' } as const;
    for (const dtype of NARROW) {
      const layer = await loadEmbedding(file, { prefix: prefixes[dtype], dtype: 'file' });
      expect([layer.dtype, layer.numEmbeddings, layer.embeddingDim], dtype).toEqual([dtype, rows, dim]);
      expectSameBytes(layer.data, packed(dtype), dtype);
      expectSameBits((await loadEmbedding(file, { prefix: prefixes[dtype] })).weight, torchFloat32(dtype), `${dtype} as float32`);
    }
    // saveSafetensors writes the same tensors and metadata byte for byte as the script's serializer.
    const opened = await openSafetensors(file);
    const out = path.join(dir, 'st-narrow.safetensors');
    const tensors = Object.fromEntries(
      opened.tensors.map((t) => [t.name, { data: t.dtype === 'U8' ? opened.bytes(t.name).slice() : opened.uint16(t.name).slice(), shape: t.shape, dtype: t.dtype as 'F16' }]),
    );
    await saveSafetensors(out, tensors, opened.metadata);
    expect(readFileSync(out).equals(readFileSync(file))).toBe(true);
  });

  it('numpy-f2.npy, numpy-u1-int8.npy, numpy-u1-int4.npy, numpy-v2-bf16.npy read as the tables numpy saved', async () => {
    const f2 = path.join(fixtures, 'numpy-f2.npy');
    const half = await readNpy(f2, { dtype: 'file' });
    expect([half.dtype, half.descr, half.mapped]).toEqual(['float16', '<f2', mapped]);
    expectSameBytes(half.data, packed('float16'));
    expectSameBits((await readNpy(f2)).data, torchFloat32('float16'), 'readNpy of <f2, as always: float32');
    for (const dtype of ['int8', 'int4'] as const) {
      const file = path.join(fixtures, `numpy-u1-${dtype}.npy`);
      const table = await readNpy(file, { dtype });
      expect([table.dtype, table.dim, table.descr, table.mapped]).toEqual([dtype, dim, '|u1', mapped]);
      expectSameBytes(table.data, packed(dtype), dtype);
    }
    const v2 = path.join(fixtures, 'numpy-v2-bf16.npy');
    await expectFileFormatError(readNpy(v2), v2, /dtype '\|V2' is 2-byte raw data, which is how np.save writes ml_dtypes' bfloat16 .* readNpy\(file, \{ dtype: 'bfloat16' \}\) if it is one/);
    await expectFileFormatError(readNpy(v2, { dtype: 'float32' }), v2, /options.dtype 'float32' cannot read it/);
    const bf16 = await readNpy(v2, { dtype: 'bfloat16' });
    expect([bf16.dtype, bf16.mapped]).toEqual(['bfloat16', mapped]);
    expectSameBytes(bf16.data, packed('bfloat16'));
  });

  it.each([
    ['numpy-f2.npy', 'float16'],
    ['numpy-u1-int8.npy', 'int8'],
    ['numpy-u1-int4.npy', 'int4'],
  ] as const)('saveNpy writes %s byte for byte as np.save does', async (name, dtype) => {
    const out = path.join(dir, name);
    await saveNpy(out, packed(dtype), [rows, dim], { dtype });
    expect(readFileSync(out).equals(readFileSync(path.join(fixtures, name)))).toBe(true);
  });
});

// Peak memory, measured in a process of its own: loading a float16 table in its dtype costs the
// file (read, or the mapped pages touched), never the float32 table widening would add.
describe.runIf(existsSync(path.join(__dirname, '..', '..', 'dist', 'index.js')))('peak memory of a float16 load (dist/)', () => {
  it('a 32 MB float16 file loads and is looked up whole in under 1.4x its size; widened, it costs 2x more', async () => {
    const rows = 1 << 20;
    const dim = 16;
    const file = path.join(dir, 'peak-f16.safetensors');
    const bits = new Uint16Array(rows * dim);
    for (let i = 0; i < bits.length; i++) bits[i] = (i * 2654435761) & 0x3bff; // finite halves below 1
    await saveSafetensors(file, { weight: { data: bits, shape: [rows, dim], dtype: 'F16' } });
    const script = `
      const nn = require(${JSON.stringify(path.join(__dirname, '..', '..', 'dist', 'index.js'))});
      (async () => {
        global.gc();
        const before = process.resourceUsage().maxRSS;
        const layer = await nn.loadEmbedding(process.argv[1], { dtype: process.argv[2] });
        const out = new Float32Array(4096 * ${dim});
        const ids = new Int32Array(4096);
        let sum = 0;
        for (let start = 0; start < ${rows}; start += 4096) {
          for (let k = 0; k < 4096; k++) ids[k] = start + k;
          layer.forward(ids, out);
          sum += out[0];
        }
        console.log(JSON.stringify({ grew: (process.resourceUsage().maxRSS - before) * 1024, dtype: layer.dtype, sum }));
      })();`;
    const measure = (dtype: string) => {
      const run = spawnSync(process.execPath, ['--expose-gc', '-e', script, file, dtype], { encoding: 'utf8', env: process.env });
      expect(run.status, run.stderr).toBe(0);
      return JSON.parse(run.stdout) as { grew: number; dtype: string };
    };
    const fileBytes = rows * dim * 2;
    const narrow = measure('float16');
    const widened = measure('float32');
    expect([narrow.dtype, widened.dtype]).toEqual(['float16', 'float32']);
    expect(narrow.grew, `float16 load grew the peak RSS by ${narrow.grew} bytes`).toBeLessThan(1.4 * fileBytes);
    expect(widened.grew, `float32 load grew the peak RSS by ${widened.grew} bytes`).toBeGreaterThan(narrow.grew + 1.5 * fileBytes);
  });
});
