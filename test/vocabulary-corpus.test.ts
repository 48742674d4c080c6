// Vocabulary.fromCorpus / fromCorpusAsync: word2vec's vocabulary rules (counts, minCount, order by
// count descending then first occurrence), checked against test/fixtures/vocabulary-corpus.json,
// which scripts/generate-vocabulary-fixture.py computes with gensim's rules in plain Python.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { Vocabulary } from '../src/index.js';
import { expectThrow } from './helpers.js';

interface Fixture {
  sentences: string[][];
  cases: { minCount: number; maxSize: number | null; specials: string[]; tokens: string[]; counts: Record<string, number> }[];
}
const fixture = JSON.parse(readFileSync(path.join(__dirname, 'fixtures', 'vocabulary-corpus.json'), 'utf8')) as Fixture;

function optionsOf(c: Fixture['cases'][number]) {
  return { minCount: c.minCount, specials: c.specials, ...(c.maxSize === null ? {} : { maxSize: c.maxSize }) };
}

describe('Vocabulary.fromCorpus', () => {
  for (const c of fixture.cases) {
    it(`matches the Python reference: minCount ${c.minCount}, maxSize ${c.maxSize}, specials ${JSON.stringify(c.specials)}`, async () => {
      const check = (vocabulary: Vocabulary) => {
        expect(vocabulary.tokens).toEqual(c.tokens);
        for (const token of c.tokens) expect(vocabulary.countOf(token), token).toBe(c.counts[token] ?? 0);
      };
      check(Vocabulary.fromCorpus(fixture.sentences, optionsOf(c))); // token arrays
      check(Vocabulary.fromCorpus(fixture.sentences.flat(), optionsOf(c))); // tokens
      function* lazily() {
        for (const sentence of fixture.sentences) yield* sentence;
      }
      check(Vocabulary.fromCorpus(lazily(), optionsOf(c))); // a generator, read once
      async function* stream() {
        for (const sentence of fixture.sentences) {
          await Promise.resolve();
          yield sentence;
        }
      }
      check(await Vocabulary.fromCorpusAsync(stream(), optionsOf(c)));
      check(await Vocabulary.fromCorpusAsync(fixture.sentences, optionsOf(c)));
    });
  }

  it('orders ties by first occurrence, keeps counts, encodes unknown tokens as the constructor does', () => {
    const vocabulary = Vocabulary.fromCorpus(['b', 'a', 'c', 'a', 'b', 'd', 'c', 'e'], { minCount: 2, unknown: '<unk>' });
    expect(vocabulary.tokens).toEqual(['<unk>', 'b', 'a', 'c']);
    expect([vocabulary.countOf('a'), vocabulary.countOf('d'), vocabulary.countOf('zzz'), vocabulary.countOf('<unk>')]).toEqual([2, 0, 0, 0]); // 'd' was left out by minCount
    expect([...vocabulary.encode(['c', 'd', 'b'])]).toEqual([3, 0, 1]);
    expectThrow(() => Vocabulary.fromCorpus(['a', 'b']).encode(['c']), RangeError, /tokens\[0\] = "c" is not in the vocabulary/);
  });

  it('specials come first, uncounted, and maxSize counts them and the reserved entries', () => {
    const corpus = ['x', 'y', '<pad>', 'x', 'z', 'x', 'y', 'w'];
    const vocabulary = Vocabulary.fromCorpus(corpus, { specials: ['<pad>'], padding: '<pad>', unknown: '<unk>', maxSize: 4 });
    expect(vocabulary.tokens).toEqual(['<unk>', '<pad>', 'x', 'y']);
    expect(vocabulary.paddingIndex).toBe(1);
    expect(vocabulary.countOf('<pad>')).toBe(0);
    expect(vocabulary.size).toBe(4);
    // maxSize below the reserved entries themselves is refused, not exceeded.
    expect(() => Vocabulary.fromCorpus(['x', 'y', 'x'], { maxSize: 1, unknown: '<unk>', padding: '<pad>' }))
      .toThrow(/options.maxSize = 1 leaves no room for the 2 specials, unknown and padding tokens/);
  });

  it('refuses bad input with errors naming it', async () => {
    expectThrow(() => Vocabulary.fromCorpus('a b c' as never), TypeError, /fromCorpus: tokens must be an iterable of tokens or of token arrays, got a string/);
    expectThrow(() => Vocabulary.fromCorpus(42 as never), TypeError, /tokens must be an iterable/);
    const asyncOnly = { async *[Symbol.asyncIterator]() { yield 'a'; } };
    expectThrow(() => Vocabulary.fromCorpus(asyncOnly as never), TypeError, /use Vocabulary\.fromCorpusAsync/);
    expectThrow(() => Vocabulary.fromCorpus(['a', 3] as never), TypeError, /item 1 of the corpus must be a token \(string\) or an array of tokens, got 3/);
    expectThrow(() => Vocabulary.fromCorpus([['a', null]] as never), TypeError, /item 0\[1\] of the corpus must be a string, got null/);
    expectThrow(() => Vocabulary.fromCorpus(['a'], { minCount: 0 }), RangeError, /options\.minCount must be an integer >= 1, got 0/);
    expectThrow(() => Vocabulary.fromCorpus(['a'], { maxSize: 1.5 }), RangeError, /options\.maxSize must be an integer >= 1, got 1\.5/);
    expectThrow(() => Vocabulary.fromCorpus(['a'], { specials: 'x' as never }), TypeError, /options\.specials must be an array of strings/);
    expectThrow(() => Vocabulary.fromCorpus(['a'], { specials: ['x', 'x'] }), RangeError, /options\.specials has "x" twice/);
    expectThrow(() => Vocabulary.fromCorpus(['a'], { specials: ['x', 'y'], maxSize: 1 }), RangeError, /maxSize = 1 leaves no room for the 2 specials/);
    expectThrow(() => Vocabulary.fromCorpus(['a'], { min: 1 } as never), TypeError, /unknown option 'min'/);
    await expect(Vocabulary.fromCorpusAsync(7 as never)).rejects.toThrow(TypeError);
    expectThrow(() => new Vocabulary(['a']).countOf('a'), TypeError, /this vocabulary has no counts/);
  });
});
