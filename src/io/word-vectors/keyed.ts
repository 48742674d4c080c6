// Word-level similarity on loaded word vectors, with gensim's KeyedVectors semantics: most_similar
// (positive and negative words, each unit-normalized, weighted +1 / -1, averaged, the mean
// unit-normalized; cosine against every row; the input words never returned) and similarity
// (the cosine of two words). The search itself is the embedding's mostSimilar (exact, native).
import type { Embedding } from '../../embedding.js';
import { inverseNorm, laneDot } from '../../backends/js.js';
import { isEmbeddingTable } from '../../table.js';
import { checkInteger, checkOptions, describe } from '../../validate.js';
import { quoteText } from '../files.js';
import { Vocabulary } from '../vocabulary.js';

/** A word and its cosine similarity. */
export interface WordScore {
  word: string;
  score: number;
}

/** Words to add (positive) and to subtract (negative), as gensim's most_similar takes them. */
export interface WordQuery {
  positive?: readonly string[];
  negative?: readonly string[];
}

export interface MostSimilarWordsOptions {
  /** Search only the first `limit` words (gensim's restrict_vocab); default all. */
  limit?: number;
}

/**
 * What the loaders return: a vocabulary and the Embedding whose row i is the vector of
 * vocabulary.tokenAt(i), with gensim's word-level look-ups.
 */
export class WordVectors {
  constructor(
    readonly vocabulary: Vocabulary,
    /** Row i is the vector of vocabulary.tokenAt(i); built with Embedding.fromPretrained by the loaders. */
    readonly embedding: Embedding,
  ) {
    const where = 'WordVectors';
    if (!(vocabulary instanceof Vocabulary)) throw new TypeError(`${where}: vocabulary must be a Vocabulary, got ${describe(vocabulary)}`);
    if (!isEmbeddingTable(embedding)) throw new TypeError(`${where}: embedding must be an Embedding or EmbeddingBag, got ${describe(embedding)}`);
    if (vocabulary.size !== embedding.numEmbeddings) {
      throw new RangeError(`${where}: the vocabulary has ${vocabulary.size} tokens and the embedding ${embedding.numEmbeddings} rows`);
    }
  }

  /**
   * The k words most similar to `query`, best first: gensim's most_similar. A word, or
   * { positive, negative }: each word's vector is unit-normalized, positives weighted +1 and
   * negatives -1, the weighted mean unit-normalized (and rounded to float32), and every row scored
   * by cosine against it (3CosAdd analogies: { positive: ['king', 'woman'], negative: ['man'] }).
   * The input words are never returned. A word not in the vocabulary is a RangeError naming it.
   */
  mostSimilar(query: string | WordQuery, k = 10, options?: MostSimilarWordsOptions): WordScore[] {
    const where = 'WordVectors.mostSimilar';
    const { positive, negative } = wordQuery(where, query);
    const o = checkOptions<MostSimilarWordsOptions>(where, options, ['limit']);
    const count = checkInteger(where, 'k', k, 1);
    const rows = [...positive, ...negative].map((word) => this.vocabulary.indexOf(word));
    const unknown = [...positive, ...negative].filter((_, i) => rows[i]! < 0);
    if (unknown.length > 0) {
      throw new RangeError(`${where}: ${unknown.map((word) => quoteText(word)).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not in the vocabulary`);
    }
    const dim = this.embedding.embeddingDim;
    const vectors = this.embedding.forward(Int32Array.from(rows));
    const mean = new Float64Array(dim);
    rows.forEach((_, i) => {
      const inverse = inverseNorm(vectors, i * dim, dim);
      const weight = (i < positive.length ? 1 : -1) * inverse;
      for (let j = 0; j < dim; j++) mean[j] += weight * vectors[i * dim + j]!;
    });
    // gensim divides by the total weight, then unit-normalizes: only the direction matters to cosine.
    let squares = 0;
    for (let j = 0; j < dim; j++) squares += mean[j]! * mean[j]!;
    const scale = squares > 0 ? 1 / Math.sqrt(squares) : 0;
    const vector = Float32Array.from(mean, (x) => x * scale);
    const limit = o.limit === undefined ? undefined : checkInteger(where, 'options.limit', o.limit, 1);
    const searched = Math.min(limit ?? this.embedding.numEmbeddings, this.embedding.numEmbeddings);
    const exclude = [...new Set(rows)];
    const eligible = searched - exclude.filter((row) => row < searched).length;
    if (eligible <= 0) return [];
    // gensim's restrict_vocab may exceed the vocabulary: the search covers the `searched` rows there are.
    const found = this.embedding.mostSimilar(vector, Math.min(count, searched), { exclude, limit: searched });
    return Array.from(found.indices, (row, i) => ({ word: this.vocabulary.tokenAt(row), score: found.scores[i]! }));
  }

  /**
   * The cosine similarity of two words (gensim's similarity), 0 when either vector is zero: the
   * score mostSimilar(a) gives b, to the bit.
   */
  similarity(a: string, b: string): number {
    const where = 'WordVectors.similarity';
    const rows = [a, b].map((word, i) => {
      if (typeof word !== 'string') throw new TypeError(`${where}: ${i === 0 ? 'a' : 'b'} must be a string, got ${describe(word)}`);
      return this.vocabulary.indexOf(word);
    });
    const unknown = [a, b].filter((_, i) => rows[i]! < 0);
    if (unknown.length > 0) throw new RangeError(`${where}: ${unknown.map((word) => quoteText(word)).join(', ')} ${unknown.length === 1 ? 'is' : 'are'} not in the vocabulary`);
    const dim = this.embedding.embeddingDim;
    const vectors = this.embedding.forward(Int32Array.from(rows));
    // The kernel's cosine of query a against row b: (dot * invNorm(b)) * invNorm(a).
    return Math.fround((laneDot(vectors, dim, vectors, 0, dim) * inverseNorm(vectors, dim, dim)) * inverseNorm(vectors, 0, dim));
  }
}

/** A query's positive and negative words, checked. */
function wordQuery(where: string, query: unknown): { positive: string[]; negative: string[] } {
  if (typeof query === 'string') return { positive: [query], negative: [] };
  if (query === null || typeof query !== 'object' || Array.isArray(query)) {
    throw new TypeError(`${where}: query must be a word or { positive, negative } arrays of words, got ${describe(query)}`);
  }
  const o = checkOptions<WordQuery>(where, query, ['positive', 'negative']);
  const list = (name: 'positive' | 'negative'): string[] => {
    const value = o[name];
    if (value === undefined) return [];
    if (!Array.isArray(value)) throw new TypeError(`${where}: query.${name} must be an array of words, got ${describe(value)}`);
    value.forEach((word: unknown, i) => {
      if (typeof word !== 'string') throw new TypeError(`${where}: query.${name}[${i}] must be a string, got ${describe(word)}`);
    });
    return [...(value as string[])];
  };
  const positive = list('positive');
  const negative = list('negative');
  if (positive.length + negative.length === 0) throw new RangeError(`${where}: query has no words (give query.positive or query.negative)`);
  return { positive, negative };
}
