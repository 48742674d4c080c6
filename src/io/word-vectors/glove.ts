// GloVe: the survey pass (dimension and line count) and the loader.
import { currentBackend } from '../../loader.js';
import { describe } from '../../validate.js';
import { mapForOneRead, openChunkReader, releaseMappedBytes } from '../files.js';
import { parseHeader, readUntil } from './header.js';
import { MAX_DIM, checkLoadOptions, readSettings } from './settings.js';
import { type FailFunction, TableBuilder, checkTableSize, failFor, reportProgress } from './table-builder.js';
import { TextParser, parseTextFile } from './text.js';
import type { LoadWordVectorsOptions } from './types.js';
import type { WordVectors } from './keyed.js';

/**
 * The first pass over a GloVe file: the dimension (fields of the first line - 1) and the number
 * of records (lines that start with a word), counted up to `limit` by the backend's countRecords
 * (natively over the thread pool: on 200,000 x 300, 505 MB, this pass took ~75 ms with
 * Buffer.indexOf from line to line). On the native backend the file after its first chunk is
 * scanned mapped, a chunk-sized window at a time, each window's pages released once scanned: no
 * copy of the file (read in chunks, the copy made this pass a quarter of a load: GloVe 442 MB/s
 * against word2vec text's 581 at 1 thread).
 */
async function surveyGloVe(file: string, limit: number, fail: FailFunction): Promise<{ records: number; dim: number }> {
  const reader = await openChunkReader(file, readSettings.chunkBytes);
  const mapping = mapForOneRead(file, reader.size);
  const backend = currentBackend();
  let windowStart = -1; // the current mapped window's start, -1 before the first
  let position = 0; // where the next mapped window starts
  const atEnd = (): boolean => (mapping === null ? reader.atEnd : position >= reader.size);
  const nextChunk = async (): Promise<Buffer> => {
    if (mapping === null) return reader.next();
    if (windowStart >= 0) releaseMappedBytes(mapping, windowStart, position);
    windowStart = position;
    position = Math.min(reader.size, position + Math.max(1, readSettings.chunkBytes));
    reader.checkSize(position, windowStart);
    return mapping.subarray(windowStart, position);
  };
  try {
    const first = await readUntil(reader, await reader.next(), (c) => c.length >= 4);
    position = reader.position;
    const start = hasByteOrderMark(first) ? 3 : 0;
    if (start >= first.length) throw fail('the file is empty');
    const c0 = first[start]!;
    if (c0 === 10 || c0 === 13) throw fail('line 1 is empty');
    if (c0 === 32 || c0 === 9) throw fail('line 1 starts with whitespace (an empty word)');
    let chunk = first;
    let p = start;
    let records = 0;
    let fields = 0;
    let inField = false;
    let firstLineDone = false;
    let atLineStart = true;
    for (;;) {
      // Fields of line 1: runs of bytes other than space, tab and '\r'.
      for (let q = p; !firstLineDone && q < chunk.length; q++) {
        const c = chunk[q]!;
        if (c === 10) {
          firstLineDone = true;
        } else {
          const separator = c === 32 || c === 9 || c === 13;
          if (!separator && !inField && ++fields > MAX_DIM + 1) throw fail(`line 1 has more than ${MAX_DIM} values`);
          inField = !separator;
        }
      }
      // Lines that start with something other than whitespace (the others are blank or errors),
      // counted by the backend (natively: memchr from line to line, the window split over the pool).
      if (records < limit && p < chunk.length) {
        records += backend.countRecords(chunk, p, chunk.length, atLineStart ? 1 : 0, Math.min(limit - records, Number.MAX_SAFE_INTEGER));
        atLineStart = chunk[chunk.length - 1] === 10;
      }
      if (atEnd() || (records === limit && firstLineDone)) break;
      chunk = await nextChunk();
      p = 0;
    }
    if (fields === 1) throw fail('line 1 has a word but no values');
    return { records, dim: fields - 1 };
  } finally {
    if (mapping !== null && windowStart >= 0) releaseMappedBytes(mapping, windowStart, position);
    await reader.close();
  }
}

function hasByteOrderMark(chunk: Buffer): boolean {
  return chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf;
}

/**
 * Reads a GloVe text file: lines "word v1 ... vD", no header, D taken from the first line. Two
 * passes: the first counts the lines (fast), so the table is allocated once at its exact size.
 * glove.840B.300d has a few words with spaces (". . .", "at name@domain.com"): pass wordsWithSpaces.
 */
export async function loadGloVe(file: string, options?: LoadWordVectorsOptions): Promise<WordVectors> {
  const where = 'loadGloVe';
  const settings = checkLoadOptions(where, options);
  if (typeof file !== 'string') throw new TypeError(`${where}: file must be a string, got ${describe(file)}`);
  const fail = failFor(file, '');
  const { records, dim } = await surveyGloVe(file, settings.limit, fail);
  const reader = await openChunkReader(file, readSettings.chunkBytes);
  let builder: TableBuilder | undefined;
  try {
    // Every record line takes at least "w" + dim times " 0" + '\n' (but the last).
    const needed = records * (2 * dim + 2) - 1;
    if (needed > reader.size) {
      throw fail(`${records} lines start with a word, but ${reader.size} bytes cannot hold that many lines of ${dim} values (line 1 has ${dim}): some lines are short`);
    }
    checkTableSize(fail, records, dim, settings);
    builder = new TableBuilder(dim, records, settings, (record) => `line ${record + 1}`, fail, 10);
    // Counting stopped at the limit: the file may go on.
    // With wordsWithSpaces, a short line, or a bad value on line 1, may mean that line 1's word
    // has a space (D then counts part of it).
    const dimensionNote = settings.wordsWithSpaces ? ' (the dimension is read from line 1, whose word must not contain spaces)' : '';
    const parser = new TextParser(builder, 1, records === settings.limit, dimensionNote);
    const first = await readUntil(reader, await reader.next(), (c) => c.length >= 4);
    await parseTextFile(reader, hasByteOrderMark(first) ? first.subarray(3) : first, parser, settings);
    parser.finish(`${records} lines start with a word`);
    reportProgress(settings, reader.size, reader.size);
    return builder.finish();
  } finally {
    // The table's fault-in ends before the table is handed out (or the error thrown).
    await builder?.settle();
    await reader.close();
  }
}

/**
 * How many words a word-vector file holds, without reading the vectors: the header's count
 * (word2vec, fastText), or, for GloVe, the lines that start with a word (the loader's first pass).
 * For describing a file (nn-embedding info); the loaders validate the rest.
 */
export async function countWordVectors(file: string, format: 'word2vec' | 'glove'): Promise<number> {
  const fail = failFor(file, '');
  if (format === 'glove') return (await surveyGloVe(file, Number.POSITIVE_INFINITY, fail)).records;
  const reader = await openChunkReader(file, readSettings.chunkBytes);
  try {
    const first = await readUntil(reader, await reader.next(), (c) => c.indexOf(10) >= 0 || c.length > 64);
    return parseHeader(first, fail).words;
  } finally {
    await reader.close();
  }
}
