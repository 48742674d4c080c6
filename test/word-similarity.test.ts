// WordVectors (what the loaders return): gensim's most_similar and similarity, against
// test/fixtures/word-similarity.json, which scripts/generate-word-similarity-fixture.py computes
// with a numpy float64 brute force following gensim 4's steps. Our mean is rounded to float32
// before the search, so scores agree to about 1e-6; words must agree exactly except where two
// expected scores are that close (a near-tie).
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { tmpdir } from 'node:os';

import { describe, expect, it } from 'vitest';

import { Embedding, Vocabulary, WordVectors, loadWord2Vec, saveWord2Vec } from '../src/index.js';
import { expectThrow } from './helpers.js';

interface Fixture {
  words: string[];
  dim: number;
  vectors: number[];
  queries: { positive: string[]; negative: string[]; k: number; limit?: number; expected: [string, number][] }[];
  similarities: [string, string, number][];
}
const fixture = JSON.parse(readFileSync(path.join(__dirname, 'fixtures', 'word-similarity.json'), 'utf8')) as Fixture;
const TOLERANCE = 2e-6;

function wordVectors(): WordVectors {
  return new WordVectors(new Vocabulary(fixture.words), Embedding.fromPretrained(Float32Array.from(fixture.vectors), fixture.dim));
}

describe('WordVectors', () => {
  const wv = wordVectors();

  it('a limit above the vocabulary searches every word, as gensim takes restrict_vocab', () => {
    const word = fixture.words[0]!;
    expect(wv.mostSimilar(word, 3, { limit: fixture.words.length + 100 })).toEqual(wv.mostSimilar(word, 3));
  });

  it("mostSimilar matches gensim's most_similar (numpy reference), analogies included", () => {
    for (const q of fixture.queries) {
      const got = wv.mostSimilar({ positive: q.positive, negative: q.negative }, q.k, q.limit === undefined ? undefined : { limit: q.limit });
      expect(got.length, JSON.stringify(q)).toBe(q.expected.length);
      got.forEach(({ word, score }, i) => {
        const [expectedWord, expectedScore] = q.expected[i]!;
        const near = (j: number) => j >= 0 && j < q.expected.length && Math.abs(q.expected[j]![1] - expectedScore) <= TOLERANCE;
        if (!near(i - 1) && !near(i + 1)) expect(word, `${JSON.stringify(q.positive)} - ${JSON.stringify(q.negative)} at ${i}`).toBe(expectedWord);
        expect(Math.abs(score - expectedScore)).toBeLessThanOrEqual(TOLERANCE);
      });
    }
    expect(wv.mostSimilar({ positive: ['king', 'woman'], negative: ['man'] }, 1)[0]!.word).toBe('queen');
  });

  it('a single word is { positive: [word] }, and never returns itself', () => {
    const a = wv.mostSimilar('w3', 10);
    expect(a).toEqual(wv.mostSimilar({ positive: ['w3'] }, 10));
    expect(a.map((entry) => entry.word)).not.toContain('w3');
  });

  it('similarity matches gensim, and is the score mostSimilar gives, to the bit', () => {
    for (const [a, b, expected] of fixture.similarities) expect(Math.abs(wv.similarity(a, b) - expected), `${a} ${b}`).toBeLessThanOrEqual(TOLERANCE);
    const top = wv.mostSimilar('w1', 3);
    for (const { word, score } of top) expect(wv.similarity('w1', word)).toBe(score);
  });

  it('the loaders return one', async () => {
    const file = path.join(tmpdir(), `nne-word-similarity-${process.pid}.txt`);
    await saveWord2Vec(file, wv.vocabulary, wv.embedding);
    const loaded = await loadWord2Vec(file);
    expect(loaded).toBeInstanceOf(WordVectors);
    expect(loaded.mostSimilar({ positive: ['king', 'woman'], negative: ['man'] }, 5)).toEqual(wv.mostSimilar({ positive: ['king', 'woman'], negative: ['man'] }, 5));
  });

  it('refuses unknown words, empty queries and bad arguments with errors naming them', () => {
    expectThrow(() => wv.mostSimilar({ positive: ['king', 'kingdom'], negative: ['nope'] }), RangeError, /WordVectors\.mostSimilar: "kingdom", "nope" are not in the vocabulary/);
    expectThrow(() => wv.mostSimilar('nope'), RangeError, /"nope" is not in the vocabulary/);
    expectThrow(() => wv.mostSimilar({}), RangeError, /query has no words/);
    expectThrow(() => wv.mostSimilar({ positive: 'king' } as never), TypeError, /query\.positive must be an array of words/);
    expectThrow(() => wv.mostSimilar({ positive: [3] } as never), TypeError, /query\.positive\[0\] must be a string, got 3/);
    expectThrow(() => wv.mostSimilar(3 as never), TypeError, /query must be a word or \{ positive, negative \}/);
    expectThrow(() => wv.mostSimilar('king', 0), RangeError, /k must be an integer >= 1, got 0/);
    expectThrow(() => wv.similarity('king', 'nope'), RangeError, /WordVectors\.similarity: "nope" is not in the vocabulary/);
    expectThrow(() => new WordVectors(new Vocabulary(['a']), Embedding.fromPretrained(new Float32Array(4), 2)), RangeError, /1 tokens and the embedding 2 rows/);
  });
});
