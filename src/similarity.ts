// The arguments of mostSimilar and mostSimilarBatch (EmbeddingTable, table.ts), checked: the
// queries, k and the options, each refused with an error naming it before anything runs.
import { type MetricCode, METRIC_CODES } from './backend.js';
import { checkBoolean, checkInteger, checkOptions, describe, indexRangeError, type IndexArray } from './validate.js';

/** How mostSimilar scores a row against a query. */
export type Metric = keyof typeof METRIC_CODES;

export interface MostSimilarOptions {
  /**
   * 'cosine' (the default: cosine similarity, highest first; a zero row or query scores 0), 'dot'
   * (the dot product, highest first) or 'l2' (the squared Euclidean distance, lowest first).
   */
  metric?: Metric;
  /** Rows never returned. */
  exclude?: IndexArray;
  /** Search only rows [0, limit), as gensim's restrict_vocab; default every row. */
  limit?: number;
  /** A query given as a row index never returns that row; default true. */
  excludeSelf?: boolean;
}

/** Rows best first (ties to the lower row) and their scores, rounded to float32. */
export interface Neighbours {
  indices: Int32Array;
  scores: Float32Array;
}

export interface SearchOptions {
  metric: MetricCode;
  exclude: Int32Array | null;
  limit: number;
  excludeSelf: boolean;
}

const OPTION_NAMES = ['metric', 'exclude', 'limit', 'excludeSelf'] as const;

/** The largest number of rows searched: row numbers are int32. */
const MAX_SEARCH_ROWS = 2 ** 31 - 1;

/** The options checked against a table of `rows` rows, and k against the rows searched. */
export function searchOptions(where: string, k: unknown, options: unknown, rows: number): [number, SearchOptions] {
  const o = checkOptions<MostSimilarOptions>(where, options, OPTION_NAMES);
  let metric: MetricCode = METRIC_CODES.cosine;
  if (o.metric !== undefined) {
    if (typeof o.metric !== 'string' || !Object.hasOwn(METRIC_CODES, o.metric)) {
      const message = `${where}: options.metric must be 'cosine', 'dot' or 'l2', got ${describe(o.metric)}`;
      throw typeof o.metric === 'string' ? new RangeError(message) : new TypeError(message);
    }
    metric = METRIC_CODES[o.metric];
  }
  const largest = Math.min(rows, MAX_SEARCH_ROWS);
  let limit = largest;
  if (o.limit !== undefined) {
    limit = checkInteger(where, 'options.limit', o.limit, 1);
    if (limit > largest) throw new RangeError(`${where}: options.limit = ${limit} exceeds the table's ${rows} rows`);
  }
  const count = checkInteger(where, 'k', k, 1);
  if (count > limit) {
    throw new RangeError(`${where}: k = ${count} exceeds the ${limit} rows searched${o.limit === undefined ? '' : ' (options.limit)'}`);
  }
  const exclude = o.exclude === undefined ? null : sortedRows(where, 'options.exclude', o.exclude, rows);
  return [count, { metric, exclude, limit, excludeSelf: checkBoolean(where, 'options.excludeSelf', o.excludeSelf, true) }];
}

/** Row indices checked against [0, rows), ascending without repeats. */
function sortedRows(where: string, name: string, value: unknown, rows: number): Int32Array {
  const list = rowList(where, name, value, rows);
  list.sort();
  let distinct = 0;
  for (let i = 0; i < list.length; i++) if (i === 0 || list[i] !== list[i - 1]) list[distinct++] = list[i]!;
  return list.subarray(0, distinct);
}

/** Row indices (an IndexArray) checked against [0, rows), as a new Int32Array. */
export function rowList(where: string, name: string, value: unknown, rows: number): Int32Array {
  const typed = value instanceof Int32Array || value instanceof Uint32Array || value instanceof BigInt64Array;
  if (!typed && !Array.isArray(value)) {
    throw new TypeError(`${where}: ${name} must be an Int32Array, Uint32Array, BigInt64Array or an array of numbers, got ${describe(value)}`);
  }
  const source = value as ArrayLike<number | bigint>;
  const list = new Int32Array(source.length);
  for (let i = 0; i < source.length; i++) {
    const item: unknown = source[i];
    if (typeof item === 'bigint') {
      if (item < 0n || item >= BigInt(rows)) throw indexRangeError(where, name, i, item, rows);
      list[i] = Number(item);
      continue;
    }
    if (typeof item !== 'number') throw new TypeError(`${where}: ${name}[${i}] must be a number, got ${describe(item)}`);
    if (!Number.isInteger(item)) throw new RangeError(`${where}: ${name}[${i}] = ${describe(item)} is not an integer`);
    if (item < 0 || item >= rows) throw indexRangeError(where, name, i, item, rows);
    list[i] = item;
  }
  return list;
}
