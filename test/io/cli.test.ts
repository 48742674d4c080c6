// The nn-embedding command: convert between every pair of formats without changing a bit, info,
// usage errors; and, as a process, quiet output when stderr is not a terminal.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';

import { Embedding } from '../../src/index.js';
import { main } from '../../src/cli.js';
import { loadEmbedding, saveEmbedding } from '../../src/io/layers.js';
import { readNpy } from '../../src/io/npy.js';
import { Vocabulary } from '../../src/io/vocabulary.js';
import { loadGloVe, loadWord2Vec, saveGloVe, saveWord2Vec } from '../../src/io/word-vectors.js';
import { expectSameBits } from '../helpers.js';
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
      [['convert', path.join(fixtures, 'numpy-f4.npy'), path.join(dir, 'b.npy'), '--dtype', 'F16'], 2, /--dtype applies to safetensors output only/],
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
