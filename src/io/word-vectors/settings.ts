// What every loader is given and what a valid file stays within: the chunk size, the limits
// (so that a hostile file is refused before it costs much) and the options, checked.
import { checkBoolean, checkInteger, checkOptions, describe } from '../../validate.js';
import type { ProgressCallback } from '../common.js';
import { CHUNK_BYTES } from '../files.js';
import type { LoadWord2VecOptions } from './types.js';

/**
 * Chunk size of the loaders' streamed reads. Tests lower it so that chunk boundaries fall at
 * every position inside records; not part of the package's API.
 */
export const readSettings = { chunkBytes: CHUNK_BYTES };

/** The largest word count and dimension a header may declare. */
export const MAX_WORDS = 2 ** 31 - 1;
export const MAX_DIM = 2 ** 20;
/** The largest table an Embedding holds (a Float32Array's elements). */
export const MAX_VALUES = 2 ** 32;
/** A word longer than this is taken as a sign of a wrong or corrupt file. */
export const MAX_WORD_BYTES = 1 << 16;
/** The longest text line accepted: generous room for the word, separators and long numbers. */
export function maxLineBytes(dim: number): number {
  return (1 << 20) + 256 * dim;
}

const LOAD_OPTION_NAMES = ['limit', 'onProgress', 'unknown', 'padding', 'wordsWithSpaces', 'freeze', 'sparse', 'maxNorm', 'normType', 'scaleGradByFreq'];

/** The options every loader takes, checked before the file is opened. */
export interface LoadSettings {
  limit: number;
  onProgress: ProgressCallback | undefined;
  unknown: string | undefined;
  padding: string | undefined;
  /** Text lines with more than D values: the last D are the vector, the rest the word. */
  wordsWithSpaces: boolean;
  /** The Embedding's options (paddingIdx comes from the vocabulary). */
  embedding: { freeze: boolean; sparse?: boolean; maxNorm?: number | null; normType?: number; scaleGradByFreq?: boolean };
}

export function checkLoadOptions(where: string, options: unknown, extraNames: readonly string[] = []): LoadSettings & { binary?: boolean } {
  const opts = checkOptions<LoadWord2VecOptions>(where, options, [...LOAD_OPTION_NAMES, ...extraNames]);
  const limit = opts.limit === undefined ? MAX_WORDS : Math.min(MAX_WORDS, checkInteger(where, 'options.limit', opts.limit, 1));
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') {
    throw new TypeError(`${where}: options.onProgress must be a function, got ${describe(opts.onProgress)}`);
  }
  for (const name of ['unknown', 'padding'] as const) {
    if (opts[name] !== undefined && typeof opts[name] !== 'string') {
      throw new TypeError(`${where}: options.${name} must be a string, got ${describe(opts[name])}`);
    }
  }
  const embedding: LoadSettings['embedding'] = { freeze: checkBoolean(where, 'options.freeze', opts.freeze, true) };
  if (opts.sparse !== undefined) embedding.sparse = checkBoolean(where, 'options.sparse', opts.sparse, false);
  if (opts.scaleGradByFreq !== undefined) embedding.scaleGradByFreq = checkBoolean(where, 'options.scaleGradByFreq', opts.scaleGradByFreq, false);
  if (embedding.sparse === true && embedding.scaleGradByFreq === true) {
    throw new RangeError(`${where}: options.sparse and options.scaleGradByFreq cannot both be true (as in torch)`);
  }
  if (opts.maxNorm !== undefined && opts.maxNorm !== null) {
    if (typeof opts.maxNorm !== 'number') throw new TypeError(`${where}: options.maxNorm must be a number or null, got ${describe(opts.maxNorm)}`);
    if (!(opts.maxNorm > 0 && Number.isFinite(opts.maxNorm))) {
      throw new RangeError(`${where}: options.maxNorm must be a positive finite number, got ${describe(opts.maxNorm)}`);
    }
  }
  if (opts.maxNorm !== undefined) embedding.maxNorm = opts.maxNorm;
  if (opts.normType !== undefined) {
    if (typeof opts.normType !== 'number') throw new TypeError(`${where}: options.normType must be a number, got ${describe(opts.normType)}`);
    if (!(opts.normType > 0)) throw new RangeError(`${where}: options.normType must be > 0 (Infinity allowed), got ${describe(opts.normType)}`);
    embedding.normType = opts.normType;
  }
  const wordsWithSpaces = checkBoolean(where, 'options.wordsWithSpaces', opts.wordsWithSpaces, false);
  const settings: LoadSettings & { binary?: boolean } = { limit, onProgress: opts.onProgress, unknown: opts.unknown, padding: opts.padding, wordsWithSpaces, embedding };
  if (opts.binary !== undefined) settings.binary = checkBoolean(where, 'options.binary', opts.binary, false);
  if (settings.binary === true && wordsWithSpaces) {
    throw new RangeError(`${where}: options.wordsWithSpaces applies to text files, not with options.binary: true (a binary record's word ends at its first space)`);
  }
  return settings;
}
