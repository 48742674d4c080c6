// mostSimilar / mostSimilarBatch: exact k nearest rows, against a float64 brute force written here
// (every eligible row scored, sorted by score then row). Our scores are double sums of exact
// products, so they differ from the reference only by double rounding; results must then match it
// exactly, except where two reference scores are within float32 rounding of each other (a
// near-tie), where either order is accepted as long as each returned row's reference score is
// within that tolerance of the reference's score at that position. The same search must give the
// same bits on every backend, SIMD tier and thread count.
import { afterAll, describe, expect, it } from 'vitest';

import { jsBackend } from '../src/backends/js.js';
import {
  Embedding,
  EmbeddingBag,
  SGD,
  applyOptimizerInBackward,
  dequantize,
  getBackend,
  getNumThreads,
  init,
  quantize,
  setNumThreads,
} from '../src/index.js';
import { withBackend } from '../src/loader.js';
import type { Metric, MostSimilarOptions, Neighbours } from '../src/similarity.js';
import { expectSameBits, expectThrow, randomTable, rng } from './helpers.js';

const native = getBackend() === 'native';
const initialThreads = getNumThreads();
afterAll(() => setNumThreads(initialThreads));

/** The float64 score of row r against query q (plain sequential sums). */
function referenceScore(table: Float32Array, dim: number, r: number, query: Float32Array, q: number, metric: Metric): number {
  let dot = 0, rr = 0, qq = 0, l2 = 0;
  for (let j = 0; j < dim; j++) {
    const a = table[r * dim + j]!, b = query[q * dim + j]!;
    dot += a * b;
    rr += a * a;
    qq += b * b;
    l2 += (a - b) * (a - b);
  }
  if (metric === 'dot') return dot;
  if (metric === 'l2') return l2;
  return rr === 0 || qq === 0 ? 0 : dot / (Math.sqrt(rr) * Math.sqrt(qq));
}

interface Ranked {
  row: number;
  score: number;
}

/** Every eligible row, best first (l2: lowest), ties by row. */
function referenceRanking(table: Float32Array, dim: number, query: Float32Array, q: number, metric: Metric, eligible: (r: number) => boolean, rows: number): Ranked[] {
  const all: Ranked[] = [];
  for (let r = 0; r < rows; r++) if (eligible(r)) all.push({ row: r, score: referenceScore(table, dim, r, query, q, metric) });
  const sign = metric === 'l2' ? 1 : -1;
  return all.sort((a, b) => sign * (a.score - b.score) || a.row - b.row);
}

/** Checks one query's k results against the reference ranking, with the near-tie rule above. */
function expectMatchesReference(indices: Int32Array, scores: Float32Array, ranking: Ranked[], what: string): void {
  const scale = Math.max(1e-30, ...ranking.map((entry) => Math.abs(entry.score)));
  const tolerance = 2 ** -24 * scale; // float32 rounding at the scores' scale
  const byRow = new Map(ranking.map((entry) => [entry.row, entry.score]));
  for (let i = 0; i < indices.length; i++) {
    const expected = ranking[i]!;
    const row = indices[i]!;
    const near = (j: number) => j >= 0 && j < ranking.length && Math.abs(ranking[j]!.score - expected.score) <= tolerance;
    if (!near(i - 1) && !near(i + 1)) expect(row, `${what}: position ${i}`).toBe(expected.row);
    const score = byRow.get(row);
    expect(score, `${what}: position ${i} returned row ${row}, which is not eligible`).toBeDefined();
    expect(Math.abs(score! - expected.score), `${what}: position ${i}: row ${row} scores ${score}, the reference's ${i}th ${expected.score}`).toBeLessThanOrEqual(tolerance);
    expect(Math.abs(scores[i]! - score!), `${what}: score at ${i}`).toBeLessThanOrEqual(2 ** -23 * Math.abs(score!) + 1e-30);
  }
}

/** A table with some zero rows and some repeated rows (exact ties). */
function testTable(rows: number, dim: number, seed: number): Float32Array {
  const table = randomTable(rows, dim, seed);
  const next = rng(seed + 1);
  for (let r = 0; r < rows; r += 7) table.fill(0, r * dim, (r + 1) * dim); // zero rows
  for (let k = 0; k < rows / 5; k++) {
    const from = Math.floor(next() * rows), to = Math.floor(next() * rows);
    table.copyWithin(to * dim, from * dim, (from + 1) * dim); // exact duplicates
  }
  return table;
}

const METRICS: Metric[] = ['cosine', 'dot', 'l2'];
const DIMS = [1, 3, 8, 9, 17, 64, 100, 300];

describe('mostSimilar against a float64 brute force', () => {
  for (const metric of METRICS) {
    it(`${metric}: every dim, vector and row queries, exclusions and limits`, () => {
      for (const dim of DIMS) {
        const rows = 97;
        const table = testTable(rows, dim, dim * 31);
        const layer = Embedding.fromPretrained(table, dim);
        const queries = randomTable(5, dim, dim + 5);
        queries.set(table.subarray(3 * dim, 4 * dim), dim); // a query equal to row 3
        queries.fill(0, 2 * dim, 3 * dim); // a zero query
        const k = 10;
        const exclude = [1, 50, 51, 96];
        for (const options of [{}, { exclude }, { limit: 40 }, { limit: 40, exclude }] as MostSimilarOptions[]) {
          const limit = options.limit ?? rows;
          const { indices, scores } = layer.mostSimilarBatch(queries, k, { metric, ...options });
          expect(indices.length).toBe(5 * k);
          for (let q = 0; q < 5; q++) {
            const ranking = referenceRanking(table, dim, queries, q, metric, (r) => !((options.exclude ?? []) as number[]).includes(r), limit);
            expectMatchesReference(indices.subarray(q * k, q * k + k), scores.subarray(q * k, q * k + k), ranking, `dim ${dim} query ${q} ${JSON.stringify(options)}`);
          }
          // Row queries: each excludes itself unless told not to.
          const rowQueries = [0, 3, 96, 20];
          const asRows = layer.mostSimilarBatch(rowQueries, k, { metric, ...options });
          const kept = layer.mostSimilarBatch(Int32Array.from(rowQueries), k, { metric, ...options, excludeSelf: false });
          rowQueries.forEach((row, q) => {
            const vector = table.slice(row * dim, (row + 1) * dim);
            const excluded = (r: number) => ((options.exclude ?? []) as number[]).includes(r);
            const ranking = referenceRanking(table, dim, vector, 0, metric, (r) => !excluded(r) && r !== row, limit);
            expectMatchesReference(asRows.indices.subarray(q * k, q * k + k), asRows.scores.subarray(q * k, q * k + k), ranking, `row query ${row}`);
            const withSelf = referenceRanking(table, dim, vector, 0, metric, (r) => !excluded(r), limit);
            expectMatchesReference(kept.indices.subarray(q * k, q * k + k), kept.scores.subarray(q * k, q * k + k), withSelf, `row query ${row} with itself`);
          });
        }
      }
    });
  }

  it('exact ties go to the lower row; zero rows and zero queries score 0 (cosine), never NaN', () => {
    const dim = 4;
    const table = new Float32Array([1, 2, 3, 4, 0, 0, 0, 0, 1, 2, 3, 4, -1, 0, 0, 0, 2, 4, 6, 8, 1, 2, 3, 4]);
    const layer = Embedding.fromPretrained(table, dim);
    const query = new Float32Array([1, 2, 3, 4]);
    expect([...layer.mostSimilar(query, 6, { metric: 'dot' }).indices]).toEqual([4, 0, 2, 5, 1, 3]);
    const cosine = layer.mostSimilar(query, 6);
    expect([...cosine.indices.subarray(0, 4)].sort()).toEqual([0, 2, 4, 5]); // 4 is 2 x row 0: the same cosine up to rounding
    expect([...cosine.indices.subarray(4)]).toEqual([1, 3]);
    expect(cosine.scores[4]).toBe(0); // the zero row
    expect(cosine.scores.every((s) => !Number.isNaN(s))).toBe(true);
    const zero = layer.mostSimilar(new Float32Array(dim), 3);
    expect([...zero.indices]).toEqual([0, 1, 2]);
    expect([...zero.scores]).toEqual([0, 0, 0]);
    const l2 = layer.mostSimilar(query, 6, { metric: 'l2' });
    expect([...l2.indices.subarray(0, 3)]).toEqual([0, 2, 5]);
    expect([...l2.scores.subarray(0, 3)]).toEqual([0, 0, 0]);
  });

  it('fewer eligible rows than k: mostSimilar returns fewer, mostSimilarBatch pads with -1 and NaN', () => {
    const layer = Embedding.fromPretrained(randomTable(5, 3, 1), 3);
    const single = layer.mostSimilar(2, 5, { exclude: [0, 4] });
    expect([...single.indices].sort()).toEqual([1, 3]);
    const batch = layer.mostSimilarBatch([2, 1], 4, { exclude: [0, 4] });
    expect([...batch.indices.subarray(2, 4)]).toEqual([-1, -1]);
    expect(Number.isNaN(batch.scores[2]!) && Number.isNaN(batch.scores[3]!)).toBe(true);
    expect([...batch.indices.subarray(4, 6)].sort()).toEqual([2, 3]);
  });

  it('EmbeddingBag has the same search over its table', () => {
    const table = randomTable(50, 9, 3);
    const bag = EmbeddingBag.fromPretrained(table, 9);
    const layer = Embedding.fromPretrained(table, 9);
    const a = bag.mostSimilarBatch([1, 2, 3], 7, { metric: 'l2' });
    const b = layer.mostSimilarBatch([1, 2, 3], 7, { metric: 'l2' });
    expect(a.indices).toEqual(b.indices);
    expectSameBits(a.scores, b.scores);
  });
});

describe('the same bits everywhere', () => {
  function search(table: Float32Array, dim: number, metric: Metric): Neighbours {
    const queries = randomTable(9, dim, 77);
    return Embedding.fromPretrained(table, dim).mostSimilarBatch(queries, 25, { metric, exclude: [5, 6, 7] });
  }

  it.runIf(native)('the native backend at this tier equals the TypeScript backend', () => {
    for (const dim of [1, 7, 16, 33, 300]) {
      const table = testTable(301, dim, dim);
      for (const metric of METRICS) {
        const here = search(table, dim, metric);
        const ts = withBackend(jsBackend, () => search(table, dim, metric));
        expect(here.indices, `${metric} dim ${dim}`).toEqual(ts.indices);
        expectSameBits(here.scores, ts.scores, `${metric} dim ${dim}`);
      }
    }
  });

  it.runIf(native)('any number of threads gives the same indices and scores', () => {
    const dim = 64;
    const table = testTable(6000, dim, 5);
    for (const metric of METRICS) {
      setNumThreads(1);
      const one = search(table, dim, metric);
      for (const threads of [2, 3]) {
        setNumThreads(threads);
        const many = search(table, dim, metric);
        expect(many.indices, `${metric}, ${threads} threads`).toEqual(one.indices);
        expectSameBits(many.scores, one.scores, `${metric}, ${threads} threads`);
      }
    }
    setNumThreads(initialThreads);
  });
});

describe('narrow tables', () => {
  for (const dtype of ['float16', 'bfloat16', 'int8', 'int4'] as const) {
    it(`${dtype}: the search over its dequantized rows, bit for bit`, () => {
      const dim = 10;
      const packed = quantize(randomTable(60, dim, 9), dim, dtype);
      const narrow = Embedding.fromPretrained(packed, dim, { dtype });
      const wide = Embedding.fromPretrained(dequantize(packed, dim, dtype), dim);
      for (const metric of METRICS) {
        const a = narrow.mostSimilarBatch([0, 7, 59], 8, { metric });
        const b = wide.mostSimilarBatch([0, 7, 59], 8, { metric });
        expect(a.indices).toEqual(b.indices);
        expectSameBits(a.scores, b.scores, `${dtype} ${metric}`);
      }
    });
  }
});

describe('the cached row norms', () => {
  /** Cosine results of `layer` equal those of a fresh layer over a copy of its table. */
  function expectFresh(layer: Embedding, what: string): void {
    const fresh = Embedding.fromPretrained(layer.weight.slice(), layer.embeddingDim);
    const a = layer.mostSimilarBatch([0, 1, 2, 3], 6);
    const b = fresh.mostSimilarBatch([0, 1, 2, 3], 6);
    expect(a.indices, what).toEqual(b.indices);
    expectSameBits(a.scores, b.scores, what);
  }

  function layerWithNorms(options: object = {}): Embedding {
    const layer = new Embedding(40, 8, { seed: 3, ...options });
    layer.mostSimilar(0, 3); // computes and caches the norms
    return layer;
  }

  it('are dropped by every change the package makes to the table', () => {
    const sgd = layerWithNorms({ freeze: false });
    sgd.backward([0, 1, 2, 5], randomTable(4, 8, 1));
    new SGD([sgd], { lr: 0.5 }).step();
    expectFresh(sgd, 'SGD.step');

    const inBackward = layerWithNorms({ freeze: false, sparse: true });
    applyOptimizerInBackward(SGD, [inBackward], { lr: 0.5 });
    inBackward.backward([0, 3], randomTable(2, 8, 2));
    expectFresh(inBackward, 'an update applied in backward');

    const renorm = layerWithNorms({ maxNorm: 0.5 });
    renorm.forward([0, 1, 2, 3]);
    expectFresh(renorm, 'maxNorm renorm in forward');

    const refilled = layerWithNorms();
    init.normal_(refilled.weight, { seed: 8 });
    expectFresh(refilled, 'init.normal_ on weight');

    const target = layerWithNorms();
    const other = new Embedding(10, 8, { seed: 4 });
    other.forward([1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0], target.weight);
    expectFresh(target, "another layer's forward writing into weight");
  });

  it('a direct write to weight is seen after invalidateNorms()', () => {
    const layer = layerWithNorms();
    const before = layer.mostSimilar(0, 3);
    layer.weight.fill(0, 0, 8 * 20); // zero rows 0..19
    layer.weight[0] = 1;
    const stale = layer.mostSimilar(0, 3);
    expect([...stale.indices]).not.toEqual([...before.indices]); // the dot products changed, the norms did not
    layer.invalidateNorms();
    expectFresh(layer, 'after invalidateNorms()');
  });
});

describe('arguments', () => {
  const layer = Embedding.fromPretrained(randomTable(20, 4, 1), 4);
  it('refuses bad queries, k and options with errors naming them', () => {
    expectThrow(() => layer.mostSimilar(20, 3), RangeError, /Embedding\.mostSimilar: query = 20 is not a row index in \[0, 20\)/);
    expectThrow(() => layer.mostSimilar(-1, 3), RangeError, /query = -1 is not a row index/);
    expectThrow(() => layer.mostSimilar(1.5, 3), RangeError, /query = 1\.5 is not a row index/);
    expectThrow(() => layer.mostSimilar(new Float32Array(3), 3), RangeError, /query has 3 values; a query vector has embeddingDim = 4/);
    expectThrow(() => layer.mostSimilar('1' as never, 3), TypeError, /query must be a row index or a Float32Array/);
    expectThrow(() => layer.mostSimilar(1, 0), RangeError, /k must be an integer >= 1, got 0/);
    expectThrow(() => layer.mostSimilar(1, 2.5), RangeError, /k must be an integer >= 1, got 2\.5/);
    expectThrow(() => layer.mostSimilar(1, '3' as never), TypeError, /k must be a number, got a string "3"/);
    expectThrow(() => layer.mostSimilar(1, 21), RangeError, /k = 21 exceeds the 20 rows searched/);
    expectThrow(() => layer.mostSimilar(1, 6, { limit: 5 }), RangeError, /k = 6 exceeds the 5 rows searched \(options\.limit\)/);
    expectThrow(() => layer.mostSimilar(1, 3, { limit: 21 }), RangeError, /options\.limit = 21 exceeds the table's 20 rows/);
    expectThrow(() => layer.mostSimilar(1, 3, { limit: 0 }), RangeError, /options\.limit must be an integer >= 1, got 0/);
    expectThrow(() => layer.mostSimilar(1, 3, { metric: 'euclid' as never }), RangeError, /options\.metric must be 'cosine', 'dot' or 'l2', got a string "euclid"/);
    expectThrow(() => layer.mostSimilar(1, 3, { metric: 2 as never }), TypeError, /options\.metric must be/);
    expectThrow(() => layer.mostSimilar(1, 3, { exclude: [3, 20] }), RangeError, /options\.exclude\[1\] = 20 is out of range/);
    expectThrow(() => layer.mostSimilar(1, 3, { exclude: 3 as never }), TypeError, /options\.exclude must be an Int32Array/);
    expectThrow(() => layer.mostSimilar(1, 3, { excludeSelf: 1 as never }), TypeError, /options\.excludeSelf must be a boolean/);
    expectThrow(() => layer.mostSimilar(1, 3, { k: 3 } as never), TypeError, /unknown option/);
    expectThrow(() => layer.mostSimilarBatch(new Float32Array(6), 3), RangeError, /queries has 6 values, not a multiple of embeddingDim = 4/);
    expectThrow(() => layer.mostSimilarBatch([1, 22], 3), RangeError, /queries\[1\] = 22 is out of range/);
  });

  it('an empty batch returns empty arrays', () => {
    const { indices, scores } = layer.mostSimilarBatch(new Float32Array(0), 3);
    expect(indices.length + scores.length).toBe(0);
  });
});
