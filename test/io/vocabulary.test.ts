// Vocabulary: both directions, reserved entries, encode/decode errors, save and load (JSON and
// one token per line), and malformed files.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { Vocabulary } from '../../src/io/vocabulary.js';
import { expectFileFormatError, expectThrow, writeTestFile } from '../helpers.js';

const dir = mkdtempSync(path.join(os.tmpdir(), 'nn-embedding-vocabulary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function expectFormatError(name: string, content: string | Uint8Array, reason: RegExp): Promise<void> {
  const file = writeTestFile(dir, name, content);
  await expectFileFormatError(Vocabulary.load(file), file, reason, name);
}

describe('Vocabulary', () => {
  it('maps tokens to indices and back', () => {
    const vocabulary = new Vocabulary(['the', 'cat', 'sat', 'été', '']);
    expect(vocabulary.size).toBe(5);
    expect(vocabulary.indexOf('cat')).toBe(1);
    expect(vocabulary.indexOf('été')).toBe(3);
    expect(vocabulary.indexOf('')).toBe(4);
    expect(vocabulary.indexOf('dog')).toBe(-1);
    expect(vocabulary.has('sat')).toBe(true);
    expect(vocabulary.has('dog')).toBe(false);
    expect(vocabulary.tokenAt(2)).toBe('sat');
    expect(vocabulary.tokens).toEqual(['the', 'cat', 'sat', 'été', '']);
    expect(Object.isFrozen(vocabulary.tokens)).toBe(true);
    expect(vocabulary.unknownIndex).toBeNull();
    expect(vocabulary.paddingIndex).toBeNull();
    expect(vocabulary.unknownToken).toBeNull();
    expect(vocabulary.paddingToken).toBeNull();
    expect(Array.from(vocabulary.encode(['sat', 'the', 'the']))).toEqual([2, 0, 0]);
    expect(vocabulary.decode(new Int32Array([1, 3]))).toEqual(['cat', 'été']);
    expect(vocabulary.decode([0])).toEqual(['the']);
  });

  it('accepts any iterable of tokens', () => {
    const vocabulary = new Vocabulary(new Set(['a', 'b']).values());
    expect(vocabulary.tokens).toEqual(['a', 'b']);
    expect(new Vocabulary([]).size).toBe(0);
  });

  it('inserts missing reserved entries first: padding at 0, then unknown', () => {
    const both = new Vocabulary(['a', 'b'], { unknown: '<unk>', padding: '<pad>' });
    expect(both.tokens).toEqual(['<pad>', '<unk>', 'a', 'b']);
    expect(both.paddingIndex).toBe(0);
    expect(both.unknownIndex).toBe(1);
    expect(both.indexOf('a')).toBe(2);
    expect(both.tokenAt(3)).toBe('b');
    expect(both.paddingToken).toBe('<pad>');
    expect(both.unknownToken).toBe('<unk>');
    const unknownOnly = new Vocabulary(['a'], { unknown: '<unk>' });
    expect(unknownOnly.tokens).toEqual(['<unk>', 'a']);
    expect(unknownOnly.unknownIndex).toBe(0);
  });

  it('keeps a reserved token that is already in the list where it is', () => {
    const vocabulary = new Vocabulary(['a', '<unk>', 'b'], { unknown: '<unk>', padding: '<pad>' });
    expect(vocabulary.tokens).toEqual(['<pad>', 'a', '<unk>', 'b']);
    expect(vocabulary.unknownIndex).toBe(2);
    expect(vocabulary.paddingIndex).toBe(0);
    const present = new Vocabulary(['x', '<pad>'], { padding: '<pad>' });
    expect(present.tokens).toEqual(['x', '<pad>']);
    expect(present.paddingIndex).toBe(1);
  });

  it('one token may be both the padding and the unknown entry', () => {
    const vocabulary = new Vocabulary(['a'], { unknown: '<pad>', padding: '<pad>' });
    expect(vocabulary.tokens).toEqual(['<pad>', 'a']);
    expect(vocabulary.unknownIndex).toBe(0);
    expect(vocabulary.paddingIndex).toBe(0);
  });

  it('encodes unknown tokens to the chosen or the reserved unknown entry', () => {
    const plain = new Vocabulary(['a', 'b', '?']);
    expect(Array.from(plain.encode(['a', 'zzz', 'b'], { unknown: '?' }))).toEqual([0, 2, 1]);
    const reserved = new Vocabulary(['a', 'b'], { unknown: '<unk>' });
    expect(Array.from(reserved.encode(['b', 'zzz']))).toEqual([2, 0]);
    expect(Array.from(reserved.encode(['zzz'], { unknown: 'a' }))).toEqual([1]);
    expect(reserved.encode([])).toEqual(new Int32Array(0));
  });

  it('rejects an unknown token without an unknown entry, naming it and its position', () => {
    const vocabulary = new Vocabulary(['a', 'b']);
    expectThrow(() => vocabulary.encode(['a', 'b', 'c', 'd']), RangeError, /tokens\[2\] = "c" is not in the vocabulary/);
    expectThrow(() => vocabulary.encode(['a'], { unknown: 'nope' }), RangeError, /options.unknown = "nope" is not in the vocabulary/);
    expectThrow(() => vocabulary.encode(['a', 3 as never]), TypeError, /tokens\[1\] must be a string, got 3/);
    expectThrow(() => vocabulary.encode('ab' as never), TypeError, /tokens must be an array of strings/);
    expectThrow(() => vocabulary.encode(['a'], { other: 1 } as never), TypeError, /unknown option 'other'/);
    expectThrow(() => vocabulary.encode(['a'], { unknown: 1 } as never), TypeError, /options.unknown must be a string, got 1/);
  });

  it('rejects out-of-range indices, naming the position, the index and the size', () => {
    const vocabulary = new Vocabulary(['a', 'b', 'c']);
    expectThrow(() => vocabulary.tokenAt(3), RangeError, /index = 3 is out of range \[0, 3\) for a vocabulary of 3 tokens/);
    expectThrow(() => vocabulary.tokenAt(-1), RangeError, /index = -1 is out of range \[0, 3\)/);
    expectThrow(() => vocabulary.tokenAt(1.5), RangeError, /index = 1.5 is out of range \[0, 3\)/);
    expectThrow(() => vocabulary.tokenAt('1' as never), TypeError, /index must be a number, got a string "1"/);
    expectThrow(() => vocabulary.decode([0, 1, 7]), RangeError, /indices\[2\] = 7 is out of range \[0, 3\)/);
    expectThrow(() => vocabulary.decode(new Int32Array([-2])), RangeError, /indices\[0\] = -2 is out of range/);
    expectThrow(() => vocabulary.decode(5 as never), TypeError, /indices must be an array or typed array/);
  });

  it('rejects duplicates, naming the token and both positions, and non-string tokens', () => {
    expectThrow(() => new Vocabulary(['a', 'b', 'c', 'b']), RangeError, /token "b" appears twice, at positions 1 and 3/);
    expectThrow(() => new Vocabulary(['a', 7 as never]), TypeError, /tokens\[1\] must be a string, got 7/);
    expectThrow(() => new Vocabulary(5 as never), TypeError, /tokens must be an iterable of strings/);
    expectThrow(() => new Vocabulary(['a'], { unknown: 5 } as never), TypeError, /options.unknown must be a string, got 5/);
    expectThrow(() => new Vocabulary(['a'], { pad: '<pad>' } as never), TypeError, /unknown option 'pad'/);
  });

  it('refuses more tokens than a JavaScript Map holds, with the reason', () => {
    const tooMany = new Array<string>(2 ** 24 + 1).fill('same');
    expectThrow(() => new Vocabulary(tooMany), RangeError, /16777217 tokens are more than a vocabulary holds \(16777216, the size limit of a JavaScript Map\)/);
  });
});

describe('Vocabulary save and load', () => {
  it('round-trips through JSON, reserved entries included, and leaves no temporary file', async () => {
    const tokens = ['b', 'a', 'quote"', 'back\\slash', 'new\nline', '', 'émoji 🙂', '{'];
    const vocabulary = new Vocabulary(tokens, { unknown: '<unk>', padding: '<pad>' });
    const file = path.join(dir, 'vocabulary.json');
    await vocabulary.save(file);
    const json = JSON.parse(readFileSync(file, 'utf8'));
    expect(json).toEqual({ format: 'nn-embedding-vocabulary', version: 1, tokens: ['<pad>', '<unk>', ...tokens], unknown: '<unk>', padding: '<pad>' });
    const loaded = await Vocabulary.load(file);
    expect(loaded.tokens).toEqual(vocabulary.tokens);
    expect(loaded.unknownIndex).toBe(1);
    expect(loaded.paddingIndex).toBe(0);
    expect(readdirSync(dir).filter((name) => name.endsWith('.tmp'))).toEqual([]);
  });

  it('round-trips a large vocabulary without reserved entries', async () => {
    const tokens = Array.from({ length: 10_000 }, (_, i) => `token${i}`);
    const file = path.join(dir, 'large.json');
    await new Vocabulary(tokens).save(file);
    const loaded = await Vocabulary.load(file);
    expect(loaded.tokens).toEqual(tokens);
    expect(loaded.unknownToken).toBeNull();
    expect(loaded.paddingToken).toBeNull();
  });

  it('reads one token per line, with \\n or \\r\\n, the last newline optional, a byte order mark skipped', async () => {
    for (const [name, content] of [
      ['unix.txt', 'the\ncat\nsat\n'],
      ['windows.txt', 'the\r\ncat\r\nsat\r\n'],
      ['no-final-newline.txt', 'the\ncat\r\nsat'],
      ['bom.txt', '\ufeffthe\ncat\nsat'],
    ] as const) {
      const loaded = await Vocabulary.load(writeTestFile(dir, name, content));
      expect(loaded.tokens, name).toEqual(['the', 'cat', 'sat']);
    }
    const spaced = path.join(dir, 'spaced.txt');
    writeFileSync(spaced, ' a\nb c\n\u00e9\n');
    expect((await Vocabulary.load(spaced)).tokens).toEqual([' a', 'b c', 'é']);
    const empty = path.join(dir, 'empty.txt');
    writeFileSync(empty, '');
    expect((await Vocabulary.load(empty)).size).toBe(0);
  });

  it('rejects malformed text vocabularies, naming the line', async () => {
    await expectFormatError('blank.txt', 'a\n\nb\n', /line 2 is empty/);
    await expectFormatError('blank-crlf.txt', 'a\r\nb\r\n\r\n', /line 3 is empty/);
    await expectFormatError('duplicate.txt', 'a\nb\nc\nb\n', /line 4: token "b" already appeared on line 2/);
    await expectFormatError('utf8.txt', Buffer.from([0x61, 0x0a, 0x62, 0xff, 0x0a]), /line 2 is not valid UTF-8/);
  });

  it('shows tokens in messages as UTF-8 text, control characters (C0, DEL, C1) escaped', async () => {
    const token = 'нач\x01а\x7fле\u0085';
    const shown = '"нач\\u0001а\\u007fле\\u0085"';
    const escaped = shown.replace(/[\\]/g, '\\$&');
    expectThrow(() => new Vocabulary(['a', token, token]), RangeError, new RegExp(`token ${escaped} appears twice, at positions 1 and 2`));
    await expectFormatError('utf8-duplicate.txt', `a\n${token}\n${token}\n`, new RegExp(`line 3: token ${escaped} already appeared on line 2`));
    await expectFormatError('utf8-duplicate.json', JSON.stringify({ format: 'nn-embedding-vocabulary', version: 1, tokens: [token, token], unknown: null, padding: null }), new RegExp(`token ${escaped} appears twice`));
    expectThrow(() => new Vocabulary(['a']).encode([token]), RangeError, new RegExp(`tokens\\[0\\] = ${escaped} is not in the vocabulary`));
  });

  it('rejects malformed JSON vocabularies, saying what is wrong', async () => {
    const valid = { format: 'nn-embedding-vocabulary', version: 1, tokens: ['a', 'b'], unknown: null, padding: null };
    const json = (change: object): string => JSON.stringify({ ...valid, ...change });
    await expectFormatError('syntax.json', '{"format": ', /invalid JSON/);
    await expectFormatError('array.json', '{}', /"format" is undefined/);
    await expectFormatError('format.json', json({ format: 'other' }), /"format" is a string "other", expected "nn-embedding-vocabulary"/);
    await expectFormatError('version.json', json({ version: 2 }), /"version" is 2, expected 1/);
    await expectFormatError('extra.json', json({ extra: true }), /unexpected key "extra"/);
    await expectFormatError('tokens.json', json({ tokens: 'ab' }), /"tokens" is a string "ab", expected an array of strings/);
    await expectFormatError('token-type.json', json({ tokens: ['a', 1] }), /tokens\[1\] is 1, expected a string/);
    await expectFormatError('duplicate.json', json({ tokens: ['a', 'b', 'a'] }), /token "a" appears twice, at tokens\[0\] and tokens\[2\]/);
    await expectFormatError('unknown.json', json({ unknown: 'zzz' }), /"unknown" is "zzz", which is not among the tokens/);
    await expectFormatError('padding.json', json({ padding: 3 }), /"padding" is 3, expected a token or null/);
    await expectFormatError('json-utf8.json', Buffer.concat([Buffer.from('{"a":"'), Buffer.from([0xc3]), Buffer.from('"}')]), /line 1 is not valid UTF-8/);
  });

  it('names the file it cannot open, or a directory', async () => {
    const missing = path.join(dir, 'missing.txt');
    await expect(Vocabulary.load(missing)).rejects.toThrow(`${missing}: cannot open: ENOENT`);
    await expect(Vocabulary.load(dir)).rejects.toThrow(`${dir}: cannot open: it is a directory`);
    await expect(Vocabulary.load(5 as never)).rejects.toThrow(TypeError);
  });
});
