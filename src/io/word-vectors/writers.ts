// Writers: word2vec text and binary, GloVe text.
import path from 'node:path';

import { LITTLE_ENDIAN, swapFloat32Bytes } from '../../dtype.js';
import { checkBoolean, checkInteger, checkOptions, describe } from '../../validate.js';
import type { ProgressCallback } from '../common.js';
import { CHUNK_BYTES, type FileSink, quoteText, writeFileAtomic } from '../files.js';
import { Vocabulary } from '../vocabulary.js';
import { MAX_FLOAT32_TEXT, formatFloat32 } from './float-text.js';
import type { SaveWord2VecOptions, SaveWordVectorsOptions, WordVectorTable } from './types.js';

/** Bytes handed to the file at a time (large enough that the sink writes them through). */
const WRITE_BATCH_BYTES = CHUNK_BYTES / 2;

function checkTable(where: string, vocabulary: unknown, table: unknown): { words: readonly string[]; weight: Float32Array; rows: number; dim: number } {
  if (!(vocabulary instanceof Vocabulary)) throw new TypeError(`${where}: vocabulary must be a Vocabulary, got ${describe(vocabulary)}`);
  if (table === null || typeof table !== 'object') throw new TypeError(`${where}: table must be an Embedding or { weight, embeddingDim, numEmbeddings }, got ${describe(table)}`);
  const { weight, embeddingDim, numEmbeddings } = table as Partial<WordVectorTable>;
  if (!(weight instanceof Float32Array)) throw new TypeError(`${where}: table.weight must be a Float32Array, got ${describe(weight)}`);
  const dim = checkInteger(where, 'table.embeddingDim', embeddingDim, 1);
  const rows = checkInteger(where, 'table.numEmbeddings', numEmbeddings, 1);
  if (weight.length !== rows * dim) {
    throw new RangeError(`${where}: table.weight has ${weight.length} values, expected numEmbeddings * embeddingDim = ${rows * dim}`);
  }
  if (vocabulary.size !== rows) {
    throw new RangeError(`${where}: the vocabulary has ${vocabulary.size} tokens but the table has ${rows} rows`);
  }
  const words = vocabulary.tokens;
  for (let i = 0; i < words.length; i++) {
    if (words[i] === '' || /[ \t\n\v\f\r]/.test(words[i]!)) {
      throw new Error(`${where}: token ${i} (${quoteText(words[i]!)}) cannot be written: word vector files separate words with whitespace, so words must be non-empty and contain none`);
    }
  }
  return { words, weight, rows, dim };
}

function checkSaveOptions(where: string, options: unknown, names: readonly string[]): SaveWord2VecOptions {
  const opts = checkOptions<SaveWord2VecOptions>(where, options, names);
  if (opts.onProgress !== undefined && typeof opts.onProgress !== 'function') {
    throw new TypeError(`${where}: options.onProgress must be a function, got ${describe(opts.onProgress)}`);
  }
  if (opts.binary !== undefined) checkBoolean(where, 'options.binary', opts.binary, false);
  return opts;
}

/** Throws for a non-finite value in row `row`: text cannot represent it, and no reader here accepts it. */
function checkFiniteRow(where: string, words: readonly string[], weight: Float32Array, row: number, dim: number): void {
  for (let j = row * dim; j < (row + 1) * dim; j++) {
    if (!Number.isFinite(weight[j]!)) {
      throw new RangeError(`${where}: row ${row} (${quoteText(words[row]!)}), value ${j - row * dim + 1} is ${weight[j]}: only finite values can be written`);
    }
  }
}

/** Lines "word v1 ... vD\n" after an optional header line, values in shortest round-trip form. */
async function writeTextTable(
  where: string,
  file: string,
  header: string,
  table: { words: readonly string[]; weight: Float32Array; rows: number; dim: number },
  onProgress: ProgressCallback | undefined,
): Promise<void> {
  const { words, weight, rows, dim } = table;
  await writeFileAtomic(file, async (sink: FileSink) => {
    await sink.writeText(header);
    let batch = Buffer.allocUnsafe(WRITE_BATCH_BYTES);
    let used = 0;
    const flush = async (rowsDone: number): Promise<void> => {
      await sink.write(batch.subarray(0, used));
      used = 0;
      const bytes = sink.bytesWritten;
      onProgress?.({ bytes, totalBytes: rowsDone === rows ? bytes : Math.max(bytes, Math.round((bytes / rowsDone) * rows)) });
    };
    for (let row = 0; row < rows; row++) {
      checkFiniteRow(where, words, weight, row, dim);
      const word = words[row]!;
      const rowBytes = 3 * word.length + dim * (MAX_FLOAT32_TEXT + 1) + 1;
      if (used + rowBytes > batch.length) {
        if (used > 0) await flush(row);
        if (rowBytes > batch.length) batch = Buffer.allocUnsafe(rowBytes);
      }
      used += batch.write(word, used, 'utf8');
      for (let j = row * dim; j < (row + 1) * dim; j++) {
        batch[used++] = 32;
        used = formatFloat32(weight[j]!, batch, used);
      }
      batch[used++] = 10;
    }
    await flush(rows);
  });
}

/**
 * Writes word2vec text ("V D\n", then "word v1 ... vD\n", each value the shortest decimal that
 * reads back as the same float32) or binary (the C tool's layout: "V D\n", then "word " + D
 * little-endian float32 + '\n'), through a temporary file renamed into place. The vocabulary's
 * size must equal the table's rows; words must be non-empty without whitespace; values finite.
 */
export async function saveWord2Vec(file: string, vocabulary: Vocabulary, table: WordVectorTable, options?: SaveWord2VecOptions): Promise<void> {
  const where = 'saveWord2Vec';
  const opts = checkSaveOptions(where, options, ['binary', 'onProgress']);
  if (typeof file !== 'string') throw new TypeError(`${where}: file must be a string, got ${describe(file)}`);
  const checked = checkTable(where, vocabulary, table);
  const binary = opts.binary ?? path.extname(file).toLowerCase() === '.bin';
  const header = `${checked.rows} ${checked.dim}\n`;
  if (!binary) {
    await writeTextTable(where, file, header, checked, opts.onProgress);
    return;
  }
  const { words, weight, rows, dim } = checked;
  const vectorBytes = 4 * dim;
  let totalBytes = Buffer.byteLength(header);
  for (const word of words) totalBytes += Buffer.byteLength(word) + 2 + vectorBytes;
  const weightBytes = Buffer.from(weight.buffer, weight.byteOffset, weight.byteLength);
  await writeFileAtomic(file, async (sink) => {
    await sink.writeText(header);
    let batch = Buffer.allocUnsafe(WRITE_BATCH_BYTES);
    let used = 0;
    const flush = async (): Promise<void> => {
      await sink.write(batch.subarray(0, used));
      used = 0;
      opts.onProgress?.({ bytes: sink.bytesWritten, totalBytes });
    };
    for (let row = 0; row < rows; row++) {
      checkFiniteRow(where, words, weight, row, dim);
      const word = words[row]!;
      const recordBytes = 3 * word.length + 2 + vectorBytes;
      if (used + recordBytes > batch.length) {
        if (used > 0) await flush();
        if (recordBytes > batch.length) batch = Buffer.allocUnsafe(recordBytes);
      }
      used += batch.write(word, used, 'utf8');
      batch[used++] = 32;
      weightBytes.copy(batch, used, row * vectorBytes, (row + 1) * vectorBytes);
      if (!LITTLE_ENDIAN) swapFloat32Bytes(batch, used, dim);
      used += vectorBytes;
      batch[used++] = 10;
    }
    await flush();
  });
}

/** Writes a GloVe text file: "word v1 ... vD\n" per row, no header, values as saveWord2Vec's text. */
export async function saveGloVe(file: string, vocabulary: Vocabulary, table: WordVectorTable, options?: SaveWordVectorsOptions): Promise<void> {
  const where = 'saveGloVe';
  const opts = checkSaveOptions(where, options, ['onProgress']);
  if (typeof file !== 'string') throw new TypeError(`${where}: file must be a string, got ${describe(file)}`);
  await writeTextTable(where, file, '', checkTable(where, vocabulary, table), opts.onProgress);
}
