// The word2vec header line "V D", read before the records (by the word2vec loaders, and by
// countWordVectors).
import { type ChunkReader, quoteText } from '../files.js';
import { MAX_DIM, MAX_WORDS } from './settings.js';
import type { FailFunction } from './table-builder.js';

export interface Header {
  words: number;
  dim: number;
  /** Bytes of the header line, its '\n' included. */
  bytes: number;
}

/** Reads more of the file into `chunk` (keeping it) until `done(chunk)` or the end of the file. */
export async function readUntil(reader: ChunkReader, chunk: Buffer, done: (chunk: Buffer) => boolean): Promise<Buffer> {
  while (!done(chunk) && !reader.atEnd) chunk = await reader.next(chunk);
  return chunk;
}

/** The word2vec header line "V D": two positive integers, V <= 2^31 - 1, D <= 2^20. */
export function parseHeader(chunk: Buffer, fail: FailFunction): Header {
  let lineEnd = chunk.indexOf(10);
  if (lineEnd < 0) {
    if (chunk.length > 64) throw fail('no header line "<words> <dimension>" in the first 64 bytes');
    lineEnd = chunk.length;
  }
  const line = chunk.toString('latin1', 0, lineEnd);
  const match = /^(?:\xef\xbb\xbf)?[ \t]*(\d{1,16})[ \t]+(\d{1,16})[ \t]*\r?$/.exec(line);
  if (match === null) {
    throw fail(`the first line must be the header "<words> <dimension>" (two positive integers), found ${quoteText(chunk.toString('utf8', 0, Math.min(lineEnd, 200)), 40)}`);
  }
  const words = Number(match[1]);
  const dim = Number(match[2]);
  if (words < 1 || words > MAX_WORDS) throw fail(`the header declares ${words} words; expected 1 to ${MAX_WORDS}`);
  if (dim < 1 || dim > MAX_DIM) throw fail(`the header declares dimension ${dim}; expected 1 to ${MAX_DIM}`);
  return { words, dim, bytes: Math.min(chunk.length, lineEnd + 1) };
}
