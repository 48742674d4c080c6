// safetensors: round trips, layers saved under torch's state-dict names, conversions, and every
// kind of malformed header rejected with an error naming the file.
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { Embedding, EmbeddingBag } from '../../src/index.js';
import { dequantize, floatBitsToBfloat16Bits, floatBitsToFloat16Bits } from '../../src/dtype.js';
import { loadEmbedding, loadEmbeddingBag, saveEmbedding } from '../../src/io/layers.js';
import { openSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import { expectFileFormatError, expectedBackend, expectSameBits, randomTable } from '../helpers.js';
import { strayTemporaryFiles, temporaryDirectory, writeRawSafetensors } from './tmp.js';

const dir = temporaryDirectory();
const fixtures = path.join(__dirname, '..', 'fixtures', 'interop');

const writeRaw = (name: string, header: unknown, data?: Uint8Array, pad?: boolean): string => writeRawSafetensors(dir, name, header, data, pad);

async function expectFormatError(file: string, reason: RegExp): Promise<void> {
  await expectFileFormatError(openSafetensors(file), file, reason);
}

describe('safetensors round trips', () => {
  it('writes and reads F32 tensors bit for bit, with metadata', async () => {
    const weight = randomTable(37, 13, 1);
    weight[0] = -0;
    weight[1] = 1e-45;
    const bias = randomTable(1, 5, 2);
    const file = path.join(dir, 'round.safetensors');
    await saveSafetensors(file, { 'a.weight': { data: weight, shape: [37, 13] }, 'b.bias': { data: bias, shape: [5] } }, { note: 'hello' });
    const opened = await openSafetensors(file);
    expect(opened.mapped).toBe(expectedBackend === 'native');
    expect(opened.metadata).toEqual({ note: 'hello' });
    expect(opened.names.sort()).toEqual(['a.weight', 'b.bias']);
    expect(opened.info('a.weight')!.shape).toEqual([37, 13]);
    expectSameBits(opened.float32('a.weight'), weight, 'a.weight');
    expectSameBits(opened.float32('b.bias'), bias, 'b.bias');
    expect(strayTemporaryFiles(dir)).toEqual([]);
  });

  it('writes F16 and BF16 rounded to nearest even, and reads them back exactly', async () => {
    const values = new Float32Array([0, -0, 1, -2.5, 65504, 65520, 1e-8, 6e-8, 3.140625, 1 + 2 ** -11, 1 + 3 * 2 ** -11, Infinity, -Infinity, 1e30]);
    const file = path.join(dir, 'half.safetensors');
    await saveSafetensors(file, { h: { data: values, shape: [values.length], dtype: 'F16' }, b: { data: values, shape: [values.length], dtype: 'BF16' } });
    const opened = await openSafetensors(file);
    const bits = new Uint32Array(values.buffer);
    const halves = opened.float32('h');
    const bfloats = opened.float32('b');
    for (let i = 0; i < values.length; i++) {
      // The value read back is the float32 of the 16-bit pattern the writer chose.
      const h = floatBitsToFloat16Bits(bits[i]!);
      const b = floatBitsToBfloat16Bits(bits[i]!);
      expect(new Uint32Array(new Float32Array([bfloats[i]!]).buffer)[0]).toBe((b << 16) >>> 0);
      expect(halves[i]).toBe(halfValue(h));
    }
    expect(halves[5]).toBe(Infinity); // 65520 rounds up past the largest half
    expect(halves[9]).toBe(1); // a tie rounds to even
    expect(halves[10]).toBe(1 + 2 * 2 ** -10); // a tie rounds to even (up)
  });

  it('reads every F16 and BF16 bit pattern as torch widens it (dequantize), NaN payloads included', async () => {
    const patterns = new Uint16Array(65536).map((_, i) => i);
    const bytes = new Uint8Array(patterns.buffer);
    const file = writeRaw('all-halves.safetensors', {
      h: { dtype: 'F16', shape: [65536], data_offsets: [0, 131072] },
      b: { dtype: 'BF16', shape: [65536], data_offsets: [131072, 262144] },
    }, Buffer.concat([bytes, bytes]));
    const opened = await openSafetensors(file);
    expectSameBits(opened.float32('h'), dequantize(patterns, 1, 'float16'), 'F16');
    expectSameBits(opened.float32('b'), dequantize(patterns, 1, 'bfloat16'), 'BF16');
  });

  it('writes NaN as torch does (F16 sign | 0x7e00, BF16 0xffff)', async () => {
    const values = new Float32Array(new Uint32Array([0x7fc00000, 0xffc00001, 0x7f800001]).buffer);
    const file = path.join(dir, 'nan.safetensors');
    await saveSafetensors(file, { h: { data: values, shape: [3], dtype: 'F16' }, b: { data: values, shape: [3], dtype: 'BF16' } });
    const raw = readFileSync(file);
    const opened = await openSafetensors(file);
    const halves = (name: string): number[] => [0, 1, 2].map((i) => raw.readUInt16LE(opened.info(name)!.fileOffset + 2 * i));
    expect(halves('h')).toEqual([0x7e00, 0xfe00, 0x7e00]);
    expect(halves('b')).toEqual([0xffff, 0xffff, 0xffff]);
  });

  it('rounds to F16/BF16 as torch does, NaN included (fixture from torch)', () => {
    const reference = JSON.parse(readFileSync(path.join(fixtures, 'torch-bf16-ref.json'), 'utf8')) as {
      cases: { f32_bits: number; bf16_bits: number; f16_bits: number; nan: boolean; what: string }[];
    };
    expect(reference.cases.length).toBeGreaterThan(10);
    for (const c of reference.cases) {
      expect(floatBitsToBfloat16Bits(c.f32_bits), `bf16 of ${c.what}`).toBe(c.bf16_bits);
      expect(floatBitsToFloat16Bits(c.f32_bits), `f16 of ${c.what}`).toBe(c.f16_bits);
    }
  });
});

function halfValue(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 31;
  const m = h & 1023;
  if (e === 31) return m ? NaN : sign * Infinity;
  return e === 0 ? sign * m * 2 ** -24 : sign * (1024 + m) * 2 ** (e - 25);
}

describe('layers saved as torch state dicts', () => {
  it('Embedding -> safetensors -> Embedding is bit-identical, options restored', async () => {
    const layer = new Embedding(50, 7, { paddingIdx: 3, maxNorm: 2.5, normType: 1, sparse: true, seed: 4 });
    const file = path.join(dir, 'layer.safetensors');
    await saveEmbedding(file, layer, { prefix: 'embedding' });
    const opened = await openSafetensors(file);
    expect(opened.names).toEqual(['embedding.weight']);
    expect(opened.metadata.format).toBe('pt');
    expect(JSON.parse(opened.metadata.nn_embedding!)).toEqual({
      module: 'Embedding',
      args: { num_embeddings: 50, embedding_dim: 7, padding_idx: 3, max_norm: 2.5, norm_type: 1, scale_grad_by_freq: false, sparse: true },
    });
    const loaded = await loadEmbedding(file);
    expectSameBits(loaded.weight, layer.weight, 'weight');
    expect([loaded.numEmbeddings, loaded.embeddingDim, loaded.paddingIdx, loaded.maxNorm, loaded.normType, loaded.sparse, loaded.freeze]).toEqual([
      50, 7, 3, 2.5, 1, true, false,
    ]);
    expect((await loadEmbedding(file, { prefix: 'embedding.', freeze: true })).freeze).toBe(true);
  });

  it('a loaded table trains without changing the file (copy-on-write)', async () => {
    const layer = new Embedding(10, 4, { seed: 9 });
    const file = path.join(dir, 'cow.safetensors');
    await saveEmbedding(file, layer);
    const loaded = await loadEmbedding(file);
    loaded.backward(new Int32Array([2]), new Float32Array([1, 1, 1, 1]));
    loaded.weight[8] = 123;
    const again = await loadEmbedding(file);
    expectSameBits(again.weight, layer.weight, 'file contents after training the loaded copy');
  });

  it('a mapped table can be trained and saved over its own file (the writer renames, never truncates)', async () => {
    const file = path.join(dir, 'self.safetensors');
    await saveEmbedding(file, new Embedding(64, 32, { seed: 5 }));
    const loaded = await loadEmbedding(file);
    const before = loaded.weight.slice();
    loaded.weight[0] = 42;
    await saveEmbedding(file, loaded);
    expect(loaded.weight[7]).toBe(before[7]); // the old mapping is still readable
    const again = await loadEmbedding(file);
    expect(again.weight[0]).toBe(42);
    expectSameBits(again.weight.subarray(1), before.subarray(1));
  });

  it('EmbeddingBag keeps mode and includeLastOffset; options override', async () => {
    const bag = new EmbeddingBag(20, 6, { mode: 'max', includeLastOffset: true, seed: 2 });
    const file = path.join(dir, 'bag.safetensors');
    await saveEmbedding(file, bag, { dtype: 'F32', metadata: { origin: 'test' } });
    const loaded = await loadEmbeddingBag(file);
    expect([loaded.mode, loaded.includeLastOffset]).toEqual(['max', true]);
    expectSameBits(loaded.weight, bag.weight);
    expect((await loadEmbeddingBag(file, { mode: 'sum' })).mode).toBe('sum');
    expect((await openSafetensors(file)).metadata.origin).toBe('test');
    // A bag's file loads as an Embedding with the shared options.
    expectSameBits((await loadEmbedding(file)).weight, bag.weight);
  });

  it('loads a plain state dict with one *.weight tensor, and says which names exist otherwise', async () => {
    const t = randomTable(4, 3, 5);
    const one = path.join(dir, 'plain.safetensors');
    await saveSafetensors(one, { 'encoder.embed.weight': { data: t, shape: [4, 3] }, 'encoder.bias': { data: new Float32Array(3), shape: [3] } });
    expectSameBits((await loadEmbedding(one)).weight, t);
    const two = path.join(dir, 'two.safetensors');
    await saveSafetensors(two, { 'a.weight': { data: t, shape: [4, 3] }, 'b.weight': { data: t, shape: [4, 3] } });
    await expect(loadEmbedding(two)).rejects.toThrow(/several \*\.weight tensors; pass options.prefix \(tensors: 'a.weight', 'b.weight'\)/);
    expectSameBits((await loadEmbedding(two, { prefix: 'b' })).weight, t);
    await expect(loadEmbedding(two, { prefix: 'c' })).rejects.toThrow(/no tensor 'c.weight'/);
  });

  it('rejects metadata that does not match the tensor, and bad options', async () => {
    const file = writeRaw(
      'mismatch.safetensors',
      { __metadata__: { nn_embedding: JSON.stringify({ module: 'Embedding', args: { num_embeddings: 5, embedding_dim: 2 } }) }, weight: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } },
      new Uint8Array(16),
    );
    await expect(loadEmbedding(file)).rejects.toThrow(/metadata says 5 x 2 but tensor 'weight' is 2 x 2/);
    const invalid = writeRaw(
      'badopts.safetensors',
      { __metadata__: { nn_embedding: JSON.stringify({ module: 'Embedding', args: { num_embeddings: 2, embedding_dim: 2, padding_idx: 7 } }) }, weight: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } },
      new Uint8Array(16),
    );
    await expect(loadEmbedding(invalid)).rejects.toThrow(/stored layer options are invalid: .*paddingIdx/);
    await expect(loadEmbedding(invalid, { bogus: 1 } as never)).rejects.toThrow(TypeError);
    await expect(loadEmbeddingBag(invalid, { mode: 'median' as never })).rejects.toThrow(/options.mode must be/);
    await expect(saveEmbedding(path.join(dir, 'x.safetensors'), {} as never)).rejects.toThrow(TypeError);
  });
});

describe('safetensors written by the format script (test/fixtures/interop)', () => {
  interface Expected {
    metadata: Record<string, string> | null;
    tensors: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number]; f32_bits?: number[] }>;
  }
  const expected = (JSON.parse(readFileSync(path.join(fixtures, 'safetensors-expected.json'), 'utf8')) as { files: Record<string, Expected> }).files;
  const bitsToFloats = (bits: number[]) => new Float32Array(new Uint32Array(bits).buffer);

  it('reads F32, F16, BF16 and multi-tensor files as the expected float32 values', async () => {
    let compared = 0;
    for (const [fileName, { metadata, tensors }] of Object.entries(expected)) {
      const opened = await openSafetensors(path.join(fixtures, fileName));
      expect(opened.metadata).toEqual(metadata ?? {});
      expect(opened.names.sort()).toEqual(Object.keys(tensors).sort());
      for (const [name, tensor] of Object.entries(tensors)) {
        const info = opened.info(name)!;
        expect(info.dtype, `${fileName} ${name}`).toBe(tensor.dtype);
        expect(info.shape).toEqual(tensor.shape);
        if (tensor.f32_bits === undefined) {
          expect(() => opened.float32(name)).toThrow(/only F32, F16, BF16 and F64 read as float32/);
          continue;
        }
        expectSameBits(opened.float32(name), bitsToFloats(tensor.f32_bits), `${fileName} ${name}`);
        compared++;
      }
    }
    expect(compared).toBeGreaterThanOrEqual(4);
  });

  it.each(['st-f32.safetensors', 'st-f16.safetensors', 'st-bf16.safetensors'])('saveSafetensors writes %s byte for byte as the reference serializer', async (fileName) => {
    const { metadata, tensors } = expected[fileName]!;
    const toWrite = Object.fromEntries(
      Object.entries(tensors).map(([name, t]) => [name, { data: bitsToFloats(t.f32_bits!), shape: t.shape, dtype: t.dtype as 'F32' | 'F16' | 'BF16' }]),
    );
    const file = path.join(dir, `again-${fileName}`);
    await saveSafetensors(file, toWrite, metadata ?? undefined);
    expect(readFileSync(file).equals(readFileSync(path.join(fixtures, fileName)))).toBe(true);
  });
});

describe('malformed safetensors files', () => {
  const f32 = (shape: number[], offsets: [number, number]) => ({ dtype: 'F32', shape, data_offsets: offsets });

  it('rejects short files and header lengths past the file or the format limit', async () => {
    const short = path.join(dir, 'short.safetensors');
    writeFileSync(short, Buffer.from([1, 2, 3]));
    await expectFormatError(short, /shorter than the 8-byte header length/);
    const huge = path.join(dir, 'huge.safetensors');
    const prefix = Buffer.alloc(16);
    prefix.writeBigUInt64LE(2n ** 63n);
    writeFileSync(huge, prefix);
    await expectFormatError(huge, /not a safetensors file: its first 8 bytes, read as the header length, give 9223372036854775808, more than the format's limit of 100000000 bytes \(the file has 16 bytes\)/);
    const past = path.join(dir, 'past.safetensors');
    prefix.writeBigUInt64LE(100n);
    writeFileSync(past, prefix);
    await expectFormatError(past, /its first 8 bytes, read as the header length, give 100, more than the 8 bytes after them/);
  });

  it('says what a file that is not safetensors looks like, and what reads it', async () => {
    const { copyFileSync } = await import('node:fs');
    const write = (name: string, content: string | Uint8Array): string => {
      const file = path.join(dir, name);
      writeFileSync(file, content);
      return file;
    };
    const copy = (fixture: string, name: string): string => {
      const file = path.join(dir, name);
      copyFileSync(path.join(fixtures, fixture), file);
      return file;
    };
    const cases: [string, RegExp][] = [
      [copy('numpy-f4.npy', 'table.safetensors'), /not a safetensors file: it looks like a \.npy file; use readNpy$/],
      [copy('w2v-c-text.txt', 'w2v-text.safetensors'), /not a safetensors file: it looks like word2vec text or binary \(line 1 is "292 12", a "<words> <dimension>" header\); use loadWord2Vec/],
      [copy('w2v-c-binary.bin', 'w2v-binary.safetensors'), /it looks like word2vec text or binary .*; use loadWord2Vec/],
      [write('glove.safetensors', 'the 0.418 0.24968 -0.41242\nof 0.70853 0.57088 -0.4716\n'), /not a safetensors file: it looks like GloVe text \(line 1 is a word and 3 numbers\); use loadGloVe$/],
      [write('glove-long.safetensors', `w${' 0.123456'.repeat(10_000)}\n`), /it looks like GloVe text \(line 1 is a word and \d+ numbers\); use loadGloVe$/],
      [write('text.safetensors', 'начале\x01 and more\nnext\n'), /its first 8 bytes, read as the header length, give \d+, more than/],
      [write('words.safetensors', 'начале\nnext\n'), /not a safetensors file: it looks like text \(line 1 is "начале"\)$/],
      [write('vocab.safetensors', JSON.stringify({ format: 'nn-embedding-vocabulary', version: 1, tokens: ['a'], unknown: null, padding: null })), /it looks like a saved Vocabulary; use Vocabulary\.load$/],
      [write('torch.safetensors', Buffer.from('PK\x03\x04archive/data.pkl.....', 'latin1')), /it looks like a zip archive, as torch\.save writes \(\.pt, \.pth\); save the state dict with safetensors\.torch\.save_file in Python$/],
      [write('gzip.safetensors', Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2])), /it is gzip-compressed; decompress it first$/],
      [write('tiny.safetensors', 'a 1\n'), /not a safetensors file: it looks like GloVe text/],
      [write('random.safetensors', Buffer.from(Array.from({ length: 64 }, (_, i) => (i * 97 + 13) & 0xff))), /not a safetensors file: its first 8 bytes, read as the header length, give \d+, more than the format's limit of 100000000 bytes \(the file has 64 bytes\)$/],
    ];
    for (const [file, reason] of cases) {
      await expectFormatError(file, reason);
      await expect(loadEmbedding(file), path.basename(file)).rejects.toThrow(reason);
    }
  });

  it('rejects headers that are not a JSON object of valid entries', async () => {
    await expectFormatError(writeRaw('nobrace.safetensors', ' {}'), /does not start with '\{'/);
    await expectFormatError(writeRaw('notjson.safetensors', '{"a": '), /not JSON/);
    await expectFormatError(writeRaw('array.safetensors', '{"a": []}'), /tensor 'a' is not an object/);
    await expectFormatError(writeRaw('dtype.safetensors', { a: { dtype: 'F33', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /unknown dtype "F33"/);
    await expectFormatError(writeRaw('shape.safetensors', { a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /invalid shape/);
    await expectFormatError(writeRaw('offsets.safetensors', { a: { dtype: 'F32', shape: [1], data_offsets: [4, 0] } }, new Uint8Array(4)), /invalid data_offsets/);
    await expectFormatError(writeRaw('field.safetensors', { a: { ...f32([1], [0, 4]), extra: 1 } }, new Uint8Array(4)), /unknown field 'extra'/);
    await expectFormatError(
      writeRaw('dup.safetensors', '{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"x":"a"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}', new Uint8Array(4)),
      /the name 'a' appears twice/,
    );
    await expectFormatError(writeRaw('meta.safetensors', { __metadata__: { a: 1 } }), /__metadata__\['a'\] is not a string/);
    const notUtf8 = writeRaw('utf8.safetensors', '{"\xff": 1}');
    const bytes = Buffer.from([0x08, 0, 0, 0, 0, 0, 0, 0, 0x7b, 0x22, 0xff, 0x22, 0x3a, 0x31, 0x7d, 0x20]);
    writeFileSync(notUtf8, bytes);
    await expectFormatError(notUtf8, /not UTF-8/);
  });

  it('rejects sizes that do not match shapes, overlaps, gaps and data past the end', async () => {
    await expectFormatError(writeRaw('size.safetensors', { a: f32([2, 2], [0, 12]) }, new Uint8Array(12)), /needs 16 bytes, its data_offsets span 12/);
    await expectFormatError(writeRaw('end.safetensors', { a: f32([4], [0, 16]) }, new Uint8Array(8)), /ends at byte 16 of the data, but the file holds 8/);
    await expectFormatError(writeRaw('overlap.safetensors', { a: f32([2], [0, 8]), b: f32([2], [4, 12]) }, new Uint8Array(12)), /overlaps another tensor/);
    await expectFormatError(writeRaw('gap.safetensors', { a: f32([1], [0, 4]), b: f32([1], [8, 12]) }, new Uint8Array(12)), /a gap in the data before tensor 'b'/);
    await expectFormatError(writeRaw('tail.safetensors', { a: f32([1], [0, 4]) }, new Uint8Array(9)), /cover 4 bytes of data, but the file holds 9/);
    await expectFormatError(writeRaw('bigshape.safetensors', { a: f32([2 ** 40, 2 ** 40], [0, 4]) }, new Uint8Array(4)), /needs more bytes than the file holds/);
  });

  it('names a missing tensor and refuses non-float dtypes as float32', async () => {
    const file = writeRaw('ints.safetensors', { i: { dtype: 'I64', shape: [2], data_offsets: [0, 16] } }, new Uint8Array(16));
    const opened = await openSafetensors(file);
    expect(() => opened.float32('i')).toThrow(/dtype I64; only F32, F16, BF16 and F64/);
    expect(() => opened.float32('nope')).toThrow(/no tensor named 'nope' \(tensors: 'i'\)/);
    await expect(openSafetensors(path.join(dir, 'missing.safetensors'))).rejects.toThrow(/missing.safetensors: cannot open/);
  });

  it('rejects bad arguments to saveSafetensors before writing anything', async () => {
    const file = path.join(dir, 'never.safetensors');
    await expect(saveSafetensors(file, { a: { data: new Float32Array(3), shape: [2, 2] } })).rejects.toThrow(/shape \[2, 2\] \(4 values\) but 3 values/);
    await expect(saveSafetensors(file, { a: { data: [1] as never, shape: [1] } })).rejects.toThrow(TypeError);
    await expect(saveSafetensors(file, { a: { data: new Float32Array(1), shape: [1], dtype: 'F8' as never } })).rejects.toThrow(/dtype must be/);
    await expect(saveSafetensors(file, { __metadata__: { data: new Float32Array(1), shape: [1] } })).rejects.toThrow(/invalid tensor name/);
    await expect(saveSafetensors(file, {}, { a: 1 as never })).rejects.toThrow(/metadata must be an object of strings/);
    const { existsSync } = await import('node:fs');
    expect(existsSync(file)).toBe(false);
  });
});
