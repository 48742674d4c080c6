// The nn-embedding command: convert between every pair of formats without changing a bit, info,
// usage errors; and, as a process, quiet output when stderr is not a terminal.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { Embedding, dequantize, quantize } from '../../src/index.js';
import { main } from '../../src/cli.js';
import { loadEmbedding, saveEmbedding } from '../../src/io/layers.js';
import { readNpy } from '../../src/io/npy.js';
import { openSafetensors, saveSafetensors } from '../../src/io/safetensors.js';
import { Vocabulary } from '../../src/io/vocabulary.js';
import { loadGloVe, loadWord2Vec, saveGloVe, saveWord2Vec } from '../../src/io/word-vectors.js';
import { expectSameBits, randomTable } from '../helpers.js';
import { temporaryDirectory } from './tmp.js';

const dir = temporaryDirectory();
const fixtures = path.join(__dirname, '..', 'fixtures', 'interop');
const distCli = path.join(__dirname, '..', '..', 'dist', 'cli.js');

/** Runs the command in this process; returns its exit code and what it printed. */
async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const log = vi.spyOn(console, 'log').mockImplementation((...parts: unknown[]) => {
    out += `${parts.join(' ')}\n`;
  });
  const stdout = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    out += String(chunk);
    return true;
  });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    err += String(chunk);
    return true;
  });
  try {
    const code = await main(argv);
    return { code, out, err };
  } finally {
    log.mockRestore();
    stdout.mockRestore();
    stderr.mockRestore();
  }
}

afterEach(() => vi.restoreAllMocks());

describe('nn-embedding convert', () => {
  it('word2vec binary -> safetensors -> npy -> word2vec text -> GloVe keeps every bit and word', async () => {
    const words = new Vocabulary(['the', 'café', '日本語', 'x']);
    const layer = new Embedding(4, 5, { seed: 7 });
    const bin = path.join(dir, 'vectors.bin');
    await saveWord2Vec(bin, words, layer, { binary: true });

    const st = path.join(dir, 'vectors.safetensors');
    let r = await run('convert', bin, st);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/word2vec-binary\) -> .*vectors.safetensors \(safetensors\): 4 x 5 .*words in .*vectors.vocab.json/);
    expect(r.err).toBe(''); // not a terminal: no progress bar
    expectSameBits((await loadEmbedding(st)).weight, layer.weight, 'safetensors');
    expect((await Vocabulary.load(path.join(dir, 'vectors.vocab.json'))).tokens).toEqual(words.tokens);

    const npy = path.join(dir, 'vectors.npy');
    expect((await run('convert', st, npy)).code).toBe(0);
    expectSameBits((await readNpy(npy)).data, layer.weight, 'npy');

    const text = path.join(dir, 'out.txt');
    r = await run('convert', npy, text, '--vocab', path.join(dir, 'vectors.vocab.json'));
    expect(r.code, r.err).toBe(0);
    const fromText = await loadWord2Vec(text, { binary: false });
    expectSameBits(fromText.embedding.weight, layer.weight, 'word2vec text');
    expect(fromText.vocabulary.tokens).toEqual(words.tokens);

    const glove = path.join(dir, 'glove.txt');
    expect((await run('convert', text, glove, '--to', 'glove')).code).toBe(0);
    const fromGlove = await loadGloVe(glove);
    expectSameBits(fromGlove.embedding.weight, layer.weight, 'GloVe');
    expect(readFileSync(glove, 'utf8').startsWith('the ')).toBe(true);

    const half = path.join(dir, 'half.safetensors');
    expect((await run('convert', glove, half, '--dtype', 'BF16', '--prefix', 'emb', '--limit', '2')).code).toBe(0);
    const loaded = await loadEmbedding(half);
    expect([loaded.numEmbeddings, loaded.embeddingDim]).toEqual([2, 5]);
  });

  it('converts the word2vec C tool output', async () => {
    const out = path.join(dir, 'c.safetensors');
    const r = await run('convert', path.join(fixtures, 'w2v-c-binary.bin'), out);
    expect(r.code, r.err).toBe(0);
    const expected = JSON.parse(readFileSync(path.join(fixtures, 'w2v-c-expected.json'), 'utf8')) as { binary_bits: number[] | number[][] };
    const bits = (expected.binary_bits as unknown[]).flat() as number[];
    expectSameBits((await loadEmbedding(out)).weight, new Float32Array(new Uint32Array(bits).buffer));
  });

  it('--words-with-spaces reads glove.840B-style words', async () => {
    const { writeFileSync } = await import('node:fs');
    const glove = path.join(dir, 'spaced.txt');
    writeFileSync(glove, 'a 1 2\n. . . 3 4\nb 5 6\n');
    const out = path.join(dir, 'spaced.safetensors');
    let r = await run('convert', glove, out, '--from', 'glove');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/wordsWithSpaces/);
    r = await run('convert', glove, out, '--from', 'glove', '--words-with-spaces');
    expect(r.code, r.err).toBe(0);
    expect((await Vocabulary.load(path.join(dir, 'spaced.vocab.json'))).tokens).toEqual(['a', '. . .', 'b']);
    expectSameBits((await loadEmbedding(out)).weight, new Float32Array([1, 2, 3, 4, 5, 6]));
    r = await run('convert', out, path.join(dir, 'x.npy'), '--words-with-spaces');
    expect(r.code).toBe(2);
  });

  it('usage errors exit 2 with a message; bad files exit 1 naming the file', async () => {
    const cases: [string[], number, RegExp][] = [
      [[], 2, /usage:/],
      [['frobnicate'], 2, /unknown command 'frobnicate'/],
      [['convert', 'a'], 2, /convert needs IN and OUT/],
      [['convert', 'a.bin', path.join(dir, 'b.npy')], 1, /a.bin: cannot open/],
      [['convert', path.join(fixtures, 'numpy-f4.npy'), path.join(dir, 'b.xyz')], 2, /cannot tell the format of .*b.xyz/],
      [['convert', path.join(fixtures, 'numpy-f4.npy'), path.join(dir, 'b.txt')], 2, /needs words: pass --vocab FILE/],
      [['convert', path.join(fixtures, 'numpy-f4.npy'), path.join(dir, 'b.npy'), '--limit', '3'], 2, /--limit applies to word-vector inputs only/],
      [['convert', path.join(fixtures, 'numpy-f4.npy'), path.join(dir, 'b.npy'), '--dtype', 'BF16'], 2, /--dtype bfloat16: numpy has no bfloat16 dtype, so .npy output cannot hold one; write .safetensors \(BF16\), or .npy with --dtype float32/],
      [['convert', path.join(fixtures, 'numpy-f4.npy'), path.join(dir, 'b.npy'), '--dtype', 'int3'], 2, /--dtype must be one of float32, float16, bfloat16, int8, int4, got 'int3'/],
      [['convert', path.join(fixtures, 'numpy-f4.npy'), path.join(dir, 'b.txt'), '--dtype', 'int8'], 2, /--dtype int8: word2vec files hold float32 values; --dtype applies to safetensors and .npy output/],
      [['convert', path.join(fixtures, 'numpy-f4.npy'), path.join(dir, 'b.npy'), '--from-dtype', 'float16'], 2, /--from-dtype must be one of int8, int4, bfloat16, got 'float16'/],
      [['convert', path.join(fixtures, 'st-f32.safetensors'), path.join(dir, 'b.npy'), '--from-dtype', 'int8'], 2, /--from-dtype applies to .npy inputs only/],
      [['convert', path.join(fixtures, 'numpy-f4.npy'), path.join(dir, 'b.npy'), '--from-dtype', 'int8'], 1, /numpy-f4.npy: --from-dtype names the dtype of a uint8 .* this one is '<f4', which says its own/],
      [['convert', path.join(fixtures, 'numpy-u1-int8.npy'), path.join(dir, 'b.npy')], 1, /numpy-u1-int8.npy: dtype '\|u1' does not say what it holds \(int8 or int4 rows: pass --from-dtype int8 or --from-dtype int4\)/],
      [['convert', path.join(fixtures, 'numpy-f4.npy'), path.join(dir, 'b.npy'), '--dtype', 'int4'], 1, /numpy-f4.npy: the table has dim 13, and an int4 table needs an even one/],
      [['info', path.join(fixtures, 'st-f32.safetensors'), '--from-dtype', 'int8'], 2, /--from-dtype applies to .npy files only/],
      [['convert', 'x', 'y', '--to', 'csv'], 2, /--to must be one of/],
      [['convert', 'x', 'y', '--bogus'], 2, /unknown option --bogus/],
      [['info', path.join(fixtures, 'numpy-f4-1d.npy')], 1, /numpy-f4-1d.npy: not a valid .npy file: shape \(13\) is not 2-D/],
    ];
    for (const [argv, code, message] of cases) {
      const r = await run(...argv);
      expect(r.code, argv.join(' ')).toBe(code);
      expect(r.err, argv.join(' ')).toMatch(message);
    }
    expect(existsSync(path.join(dir, 'b.npy'))).toBe(false);
  });
});

describe('nn-embedding info', () => {
  it('describes safetensors, .npy and word-vector files', async () => {
    const layer = new Embedding(6, 3, { seed: 1, paddingIdx: 0 });
    const st = path.join(dir, 'info.safetensors');
    await saveEmbedding(st, layer, { prefix: 'model.embed' });
    let r = await run('info', st);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/format\s+safetensors/);
    expect(r.out).toMatch(/rows\s+6/);
    expect(r.out).toMatch(/tensor\s+model.embed.weight F32 \[6, 3\]/);
    r = await run('info', path.join(fixtures, 'w2v-c-text.txt'), '--json', '--rows', '2');
    const described = JSON.parse(r.out) as { format: string; rows: number; dim: number; firstRows: { word: string }[] };
    expect([described.format, described.rows, described.dim]).toEqual(['word2vec', 292, 12]);
    expect(described.firstRows.map((row) => row.word)).toEqual(['</s>', expect.any(String)]);
    const glove = path.join(dir, 'info-glove.txt');
    await saveGloVe(glove, new Vocabulary(['a', 'b', 'c', 'd']), new Embedding(4, 2, { seed: 3 }));
    r = await run('info', glove, '--from', 'glove', '--rows', '1');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/rows\s+4\n/);
    r = await run('info', path.join(fixtures, 'numpy-f4.npy'));
    expect(r.out).toMatch(/rows\s+37/);
    expect(r.out).toMatch(/dtype\s+<f4/);
  });
});

describe('narrow tables on the command line', () => {
  const weights = randomTable(9, 6, 33);
  const source = path.join(dir, 'narrow-source.safetensors');
  const bytesOf = (a: ArrayBufferView) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

  it('convert --dtype writes each dtype as quantize makes it, to safetensors and .npy, and says what it did', async () => {
    await saveEmbedding(source, Embedding.fromPretrained(weights, 6, { paddingIdx: 1, sparse: true, freeze: false }));
    for (const dtype of ['float16', 'bfloat16', 'int8', 'int4'] as const) {
      const out = path.join(dir, `narrow-${dtype}.safetensors`);
      const r = await run('convert', source, out, '--dtype', dtype);
      expect(r.code, r.err).toBe(0);
      const perRow = { float16: 12, bfloat16: 12, int8: 14, int4: 7 }[dtype];
      expect(r.out).toMatch(new RegExp(`: 9 x 6 float32 -> ${dtype} \\(${perRow} bytes a row\\) in `));
      const loaded = await loadEmbedding(out, { dtype: 'file' });
      expect(loaded.dtype).toBe(dtype);
      expect(bytesOf(loaded.data).equals(bytesOf(quantize(weights, 6, dtype))), dtype).toBe(true);
      // The recorded options of the float32 layer are kept (they are the file's, not the narrow layer's).
      expect(JSON.parse((await openSafetensors(out)).metadata.nn_embedding!).args).toMatchObject({ padding_idx: 1, sparse: true });
      if (dtype === 'bfloat16') continue;
      const npy = path.join(dir, `narrow-${dtype}.npy`);
      expect((await run('convert', source, npy, '--dtype', dtype)).code).toBe(0);
      expect(bytesOf((await readNpy(npy, { dtype })).data).equals(bytesOf(quantize(weights, 6, dtype))), `${dtype} .npy`).toBe(true);
    }
    // F16 is float16, for .npy too.
    const legacy = path.join(dir, 'legacy-f16.npy');
    expect((await run('convert', source, legacy, '--dtype', 'F16')).code).toBe(0);
    expect(readFileSync(legacy).equals(readFileSync(path.join(dir, 'narrow-float16.npy')))).toBe(true);
  });

  it('narrow -> float32 dequantizes (the default --dtype); the same dtype copies the table unchanged', async () => {
    const int8 = path.join(dir, 'narrow-int8.safetensors');
    const packed = quantize(weights, 6, 'int8');
    const npy = path.join(dir, 'dequantized.npy');
    let r = await run('convert', int8, npy);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/: 9 x 6 int8 -> float32 \(24 bytes a row\)/);
    expectSameBits((await readNpy(npy)).data, dequantize(packed, 6, 'int8'), 'int8 -> float32 .npy');
    const words = new Vocabulary(Array.from({ length: 9 }, (_, i) => `w${i}`));
    await words.save(path.join(dir, 'words.json'));
    const text = path.join(dir, 'dequantized.txt');
    r = await run('convert', int8, text, '--vocab', path.join(dir, 'words.json'));
    expect(r.code, r.err).toBe(0);
    expectSameBits((await loadWord2Vec(text)).embedding.weight, dequantize(packed, 6, 'int8'), 'int8 -> word2vec text');
    // Rows quantize would not write (no code 0 or 255): going through float32 would requantize them.
    const crafted = packed.slice();
    for (let row = 0; row < 9; row++) for (let c = 0; c < 6; c++) crafted[row * 14 + c] = 20 + (crafted[row * 14 + c]! >> 1);
    expect(bytesOf(quantize(dequantize(crafted, 6, 'int8'), 6, 'int8')).equals(bytesOf(crafted))).toBe(false);
    const craftedFile = path.join(dir, 'crafted-int8.safetensors');
    await saveEmbedding(craftedFile, Embedding.fromPretrained(crafted, 6, { dtype: 'int8' }));
    const copy = path.join(dir, 'copy-int8.safetensors');
    r = await run('convert', craftedFile, copy, '--dtype', 'int8');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/: 9 x 6 int8 \(14 bytes a row\)/);
    expect(bytesOf((await loadEmbedding(copy, { dtype: 'file' })).data).equals(bytesOf(crafted))).toBe(true);
    const float16 = path.join(dir, 'int8-to-f16.safetensors');
    expect((await run('convert', int8, float16, '--dtype', 'float16')).code).toBe(0);
    const expected = quantize(dequantize(packed, 6, 'int8'), 6, 'float16');
    expect(bytesOf((await loadEmbedding(float16, { dtype: 'file' })).data).equals(bytesOf(expected)), 'int8 -> float16 through float32').toBe(true);
  });

  it('.npy inputs whose array cannot say what it holds take --from-dtype', async () => {
    const expected = JSON.parse(readFileSync(path.join(fixtures, 'narrow-expected.json'), 'utf8')) as { tables: Record<string, { packed: string }> };
    for (const [name, dtype] of [['numpy-u1-int8.npy', 'int8'], ['numpy-u1-int4.npy', 'int4'], ['numpy-v2-bf16.npy', 'bfloat16']] as const) {
      const out = path.join(dir, `from-${name}.safetensors`);
      const r = await run('convert', path.join(fixtures, name), out, '--from-dtype', dtype, '--dtype', dtype);
      expect(r.code, r.err).toBe(0);
      expect(bytesOf((await loadEmbedding(out, { dtype: 'file' })).data).toString('hex'), name).toBe(expected.tables[dtype]!.packed);
    }
  });

  it('info shows the table\'s dtype, bytes a row and bytes, and every tensor\'s', async () => {
    const st = path.join(fixtures, 'st-narrow.safetensors');
    let r = await run('info', st, '--prefix', 'int8');
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/dimension\s+10\n/);
    expect(r.out).toMatch(/dtype\s+U8 \(int8\)\n/);
    expect(r.out).toMatch(/row bytes\s+18\n/);
    expect(r.out).toMatch(/table\s+126 bytes\n/);
    expect(r.out).toMatch(/tensor\s+int8.weight U8 \[7, 18\]: int8, dim 10, 18 bytes a row, 126 bytes \(the table\)/);
    expect(r.out).toMatch(/tensor\s+int4.weight U8 \[7, 9\]: int4, dim 10, 9 bytes a row, 63 bytes\n/);
    expect(r.out).toMatch(/tensor\s+f16.weight F16 \[7, 10\]: float16, dim 10, 20 bytes a row, 140 bytes\n/);
    r = await run('info', st, '--prefix', 'bf16', '--json');
    const described = JSON.parse(r.out) as { tableDtype: string; dtype: string; rowBytes: number; tableBytes: number; tensors: { name: string; table?: { dtype: string } }[] };
    expect([described.dtype, described.tableDtype, described.rowBytes, described.tableBytes]).toEqual(['BF16', 'bfloat16', 20, 140]);
    expect(described.tensors.map((t) => [t.name, t.table?.dtype])).toEqual([
      ['bf16.weight', 'bfloat16'],
      ['f16.weight', 'float16'],
      ['int4.weight', 'int4'],
      ['int8.weight', 'int8'],
    ]);
    r = await run('info', path.join(fixtures, 'numpy-u1-int4.npy'));
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/dtype\s+\|u1 \(7 x 9\): int8 or int4 rows \(pass --from-dtype int8 or int4 to read them\)/);
    r = await run('info', path.join(fixtures, 'numpy-u1-int4.npy'), '--from-dtype', 'int4');
    expect(r.out).toMatch(/dimension\s+10\n\s+dtype\s+\|u1 \(int4\)\n\s+row bytes\s+9\n\s+table\s+63 bytes/);
    // A U8 tensor beside the table, without the metadata a table needs: described, not an error.
    const mixed = path.join(dir, 'mixed.safetensors');
    await saveSafetensors(mixed, { weight: { data: weights, shape: [9, 6] }, mask: { data: new Uint8Array(18), shape: [9, 2], dtype: 'U8' } });
    r = await run('info', mixed);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/tensor\s+mask U8 \[9, 2\]: not a table \(tensor 'mask' is U8 \[9, 2\] without metadata 'nn_embedding.dtype.mask'.*\), 18 bytes/);
  });
});

describe('word2vec binary or text without a telling extension', () => {
  it('info and convert sniff the content, as loadWord2Vec does', async () => {
    const { copyFileSync } = await import('node:fs');
    const binary = path.join(dir, 'vectors.w2v');
    copyFileSync(path.join(fixtures, 'w2v-c-binary.bin'), binary);
    const expected = await loadWord2Vec(path.join(fixtures, 'w2v-c-binary.bin'));

    let r = await run('info', binary, '--json', '--rows', '2');
    expect(r.code, r.err).toBe(0);
    const described = JSON.parse(r.out) as { format: string; rows: number; dim: number; dtype: string; firstRows: { word: string }[] };
    expect([described.format, described.rows, described.dim, described.dtype]).toEqual(['word2vec-binary', 292, 12, 'float32']);
    expect(described.firstRows.map((row) => row.word)).toEqual(expected.vocabulary.tokens.slice(0, 2));

    const out = path.join(dir, 'sniffed.safetensors');
    r = await run('convert', binary, out);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/vectors.w2v \(word2vec-binary\) -> .*sniffed.safetensors \(safetensors\): 292 x 12/);
    expectSameBits((await loadEmbedding(out)).weight, expected.embedding.weight);
    expect((await Vocabulary.load(path.join(dir, 'sniffed.vocab.json'))).tokens).toEqual(expected.vocabulary.tokens);

    // A text file without extension stays text; --from still decides, and its error says so.
    const text = path.join(dir, 'vectors-text');
    copyFileSync(path.join(fixtures, 'w2v-c-text.txt'), text);
    r = await run('info', text);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/format\s+word2vec\n/);
    r = await run('info', binary, '--from', 'word2vec');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/vectors.w2v: .*read as word2vec text/);

    // A truncated binary file: the error names the sniffed format and why, not an option never given.
    const truncated = path.join(dir, 'truncated.w2v');
    writeFileSync(truncated, readFileSync(binary).subarray(0, 200));
    r = await run('info', truncated);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/truncated.w2v: .*read as word2vec binary because the line after the header is not a word/);
    expect(r.err).not.toMatch(/options.binary says/);
  });
});

describe.runIf(existsSync(distCli))('the installed bin (dist/cli.js)', () => {
  it('runs as a process; with stderr not a terminal it prints no progress bar', () => {
    const out = path.join(dir, 'proc.npy');
    const result = spawnSync(process.execPath, [distCli, 'convert', path.join(fixtures, 'w2v-c-text.txt'), out], { encoding: 'utf8' });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toBe('');
    expect(result.stdout).toMatch(/292 x 12/);
    const usage = spawnSync(process.execPath, [distCli, 'nope'], { encoding: 'utf8' });
    expect(usage.status).toBe(2);
  });
});
