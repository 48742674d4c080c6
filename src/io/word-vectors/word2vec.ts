// word2vec: text or binary chosen, the binary records, and the loaders (word2vec, fastText).
import path from 'node:path';

import { describe } from '../../validate.js';
import { BINARY_RECORD_STATUS } from '../../backend.js';
import { currentBackend } from '../../loader.js';
import { type ChunkReader, mapForOneRead, openChunkReader, releaseMappedBytes, yieldToEventLoop } from '../files.js';
import { type Header, parseHeader, readUntil } from './header.js';
import { type LoadSettings, MAX_WORD_BYTES, checkLoadOptions, maxLineBytes, readSettings } from './settings.js';
import { type FailFunction, TableBuilder, checkTableSize, failFor, isSpaceByte, reportProgress } from './table-builder.js';
import { NUMBER_FIELD, TextParser, parseTextFile } from './text.js';
import type { LoadWord2VecOptions, LoadWordVectorsOptions } from './types.js';
import type { WordVectors } from './keyed.js';

/**
 * Whether the record after the header reads as text: a line of a word and `dim` numbers (with
 * wordsWithSpaces, of at least one field and then `dim` numbers). Reads until that line's end (at
 * most the longest line a text file may have).
 */
async function sniffText(reader: ChunkReader, chunk: Buffer, header: Header, wordsWithSpaces: boolean): Promise<{ text: boolean; chunk: Buffer }> {
  const longest = maxLineBytes(header.dim);
  chunk = await readUntil(reader, chunk, (c) => c.indexOf(10, header.bytes) >= 0 || c.length - header.bytes > longest);
  let end = chunk.indexOf(10, header.bytes);
  if (end < 0) {
    if (!reader.atEnd) return { text: false, chunk };
    end = chunk.length;
  }
  const fields = chunk.toString('latin1', header.bytes, end).split(/[ \t]+/);
  if (fields[fields.length - 1] === '' || fields[fields.length - 1] === '\r') fields.pop();
  else fields[fields.length - 1] = fields[fields.length - 1]!.replace(/\r$/, '');
  const text =
    (wordsWithSpaces ? fields.length > header.dim : fields.length === header.dim + 1) &&
    fields[0] !== '' &&
    fields.slice(-header.dim).every((field) => NUMBER_FIELD.test(field));
  return { text, chunk };
}

/** The first read of a file that will be mapped: enough for its header. */
const HEADER_CHUNK_BYTES = 1 << 16;

/** Records per kernel call; their words are added to the builder after each call. */
const RECORDS_PER_CALL = 4096;

/**
 * Parses binary records "word " + 4 * dim bytes (whitespace before a word skipped) from `first` on,
 * through the backend's word2vecBinaryRecords kernel: over `mapping` (the whole file, mapped) in
 * steps of readSettings.chunkBytes when there is one, else over the reader's chunks. The kernel
 * copies each vector into its row and checks it; here each word is added (duplicates found) and
 * the kernel's stops become the errors, with record numbers and byte offsets.
 */
async function parseBinaryFile(
  reader: ChunkReader,
  first: Buffer,
  firstOffset: number,
  builder: TableBuilder,
  declared: number,
  settings: LoadSettings,
  mapping: Buffer | null,
): Promise<void> {
  const fail: FailFunction = (reason) => builder.failAfterWords(reason);
  const dim = builder.dim;
  const limited = builder.capacity < declared;
  const backend = currentBackend();
  const batch = Math.max(1, Math.min(builder.capacity, RECORDS_PER_CALL));
  const wordStarts = new Int32Array(batch);
  const wordEnds = new Int32Array(batch);
  const out = new Float64Array(4);
  const size = reader.size;
  // A mapped file is read in windows of `step` bytes (doubled while one record does not fit).
  const step = Math.max(1, readSettings.chunkBytes);
  let window = step;
  // Each window after checking that the file still holds it (reader.checkSize).
  const mappedWindow = (offset: number): Buffer => {
    const end = Math.min(mapping!.length, offset + window);
    reader.checkSize(end, offset);
    return mapping!.subarray(offset, end);
  };
  let chunkOffset = firstOffset;
  let released = 0;
  let chunk = mapping === null ? first : mappedWindow(chunkOffset);
  let final = mapping === null ? reader.atEnd : chunkOffset + chunk.length === mapping.length;
  for (;;) {
    let p = 0;
    while (builder.rows < builder.capacity) {
      const wanted = Math.min(batch, builder.capacity - builder.rows);
      const row = builder.nextRowOffset;
      const parsed = backend.word2vecBinaryRecords(chunk, p, MAX_WORD_BYTES, dim, builder.weight, row, wanted, wordStarts, wordEnds, out);
      builder.addWords(chunk, wordStarts, wordEnds, parsed);
      p = out[0]!;
      const status = out[1]!;
      if (status === BINARY_RECORD_STATUS.done) continue;
      const record = builder.rows + 1;
      if (status === BINARY_RECORD_STATUS.needMore) {
        if (final) {
          const where = p < chunk.length ? ` (record ${record} at byte ${chunkOffset + p} is incomplete)` : '';
          throw fail(`truncated: the header declares ${declared} records, found ${builder.rows}${where}`);
        }
        break; // read on from the word (the whitespace before it is done with)
      }
      if (status === BINARY_RECORD_STATUS.wordTooLong) {
        throw fail(`record ${record} (byte ${chunkOffset + p}): no space after ${MAX_WORD_BYTES} bytes of word`);
      }
      if (status === BINARY_RECORD_STATUS.emptyWord) throw fail(`record ${record} (byte ${chunkOffset + p}): empty word`);
      // Not finite: the record's word counts first (a duplicate is named before its values).
      builder.addWord(chunk, wordStarts[parsed]!, wordEnds[parsed]!);
      const bad = out[2]!;
      throw fail(`record ${record} (byte ${chunkOffset + p}), value ${bad + 1} is ${builder.weight[row + parsed * dim + bad]} (not finite)`);
    }
    if (builder.rows === builder.capacity) {
      builder.flushWords();
      if (limited) return;
      // Only whitespace may follow the records.
      if (mapping !== null) {
        reader.checkSize(mapping.length, chunkOffset + p);
        chunk = mapping;
        p += chunkOffset;
        chunkOffset = 0;
        final = true;
      }
      for (;;) {
        while (p < chunk.length && isSpaceByte(chunk[p]!)) p++;
        if (p < chunk.length) throw fail(`unexpected data at byte ${chunkOffset + p}, after the ${declared} records the header declares`);
        if (final) return;
        reportProgress(settings, reader.position, size);
        chunkOffset += chunk.length;
        chunk = await reader.next();
        final = reader.atEnd;
        p = 0;
      }
    }
    builder.flushWords();
    if (mapping !== null) {
      reportProgress(settings, chunkOffset + p, size);
      window = p === 0 ? 2 * window : step;
      // The records before the next window are done with: their pages leave this process.
      releaseMappedBytes(mapping, released, chunkOffset + p);
      released = chunkOffset + p;
      chunkOffset += p;
      await yieldToEventLoop();
      chunk = mappedWindow(chunkOffset);
      final = chunkOffset + chunk.length === mapping.length;
    } else {
      reportProgress(settings, reader.position, size);
      const carry = chunk.subarray(p);
      chunkOffset += p;
      chunk = await reader.next(carry);
      final = reader.atEnd;
    }
  }
}

async function loadWord2VecFile(where: string, file: string, options: unknown, forceText: boolean): Promise<WordVectors> {
  const settings = checkLoadOptions(where, options, forceText ? [] : ['binary']);
  if (typeof file !== 'string') throw new TypeError(`${where}: file must be a string, got ${describe(file)}`);
  // Text or binary: from the options or the name, else (undefined) from the content, below.
  let binary: boolean | undefined;
  let note = '';
  const extension = path.extname(file).toLowerCase();
  if (forceText) {
    binary = false;
  } else if (settings.binary !== undefined) {
    binary = settings.binary;
    note = `read as word2vec ${binary ? 'binary' : 'text'}, as options.binary says`;
  } else if (extension === '.bin') {
    binary = true;
    note = 'read as word2vec binary because the name ends in .bin; pass binary: false to read it as text';
  } else if (extension === '.txt' || extension === '.vec') {
    binary = false;
    note = `read as word2vec text because the name ends in ${extension}; pass binary: true to read it as binary`;
  }
  const refuseWordsWithSpaces = (): RangeError =>
    new RangeError(`${where}: options.wordsWithSpaces applies to text files, but ${file} is ${note} (a binary record's word ends at its first space)`);
  if (binary === true && settings.wordsWithSpaces) throw refuseWordsWithSpaces();
  // A file known to be binary is mapped on the native backend: only its header is read first.
  const mapLater = binary === true && currentBackend().name === 'native';
  let reader = await openChunkReader(file, mapLater ? Math.min(readSettings.chunkBytes, HEADER_CHUNK_BYTES) : readSettings.chunkBytes);
  let builder: TableBuilder | undefined;
  try {
    let chunk = await readUntil(reader, await reader.next(), (c) => c.indexOf(10) >= 0 || c.length > 64);
    const header = parseHeader(chunk, failFor(file, ''));
    const { words, dim } = header;
    if (binary === undefined) {
      const sniffed = await sniffText(reader, chunk, header, settings.wordsWithSpaces);
      chunk = sniffed.chunk;
      binary = !sniffed.text;
      const record = settings.wordsWithSpaces ? 'a word and then the declared number of values' : 'a word and the declared number of values';
      note = binary
        ? `read as word2vec binary because the line after the header is not ${record}; pass binary: false to read it as text`
        : `read as word2vec text because the line after the header is ${record}; pass binary: true to read it as binary`;
      if (binary && settings.wordsWithSpaces) throw refuseWordsWithSpaces();
    }
    const fail = failFor(file, note);
    // Refuse sizes the file cannot hold before allocating: a binary record takes at least
    // "w " + 4 * dim bytes; a text line "w" + dim times " 0", and '\n' but on the last line.
    const available = reader.size - header.bytes;
    const needed = binary ? words * (4 * dim + 2) : words * (2 * dim + 2) - 1;
    if (needed > available) {
      throw fail(
        `the header declares ${words} words of dimension ${dim}, which take at least ${needed} bytes, but only ${available} bytes follow the header`,
      );
    }
    const placeOf = binary ? (record: number) => `record ${record + 1}` : (record: number) => `line ${record + 2}`;
    checkTableSize(fail, words, dim, settings);
    builder = new TableBuilder(dim, Math.min(words, settings.limit), settings, placeOf, fail, binary ? 32 : 10);
    let rest = chunk.subarray(header.bytes);
    if (binary) {
      // On the native backend the records are read from the file mapped (one copy: page cache to
      // table), else (or if it cannot be mapped) in chunks: of the usual size, from a reader
      // opened anew if this one was opened for the header alone.
      const mapping = mapForOneRead(file, reader.size);
      if (mapping === null && mapLater && !reader.atEnd) {
        const headerReader = reader;
        reader = await openChunkReader(file, readSettings.chunkBytes);
        await headerReader.close();
        const first = await reader.next();
        if (first.length < header.bytes) throw fail('the file shrank while being read');
        rest = first.subarray(header.bytes);
      }
      await parseBinaryFile(reader, rest, header.bytes, builder, words, settings, mapping);
    } else {
      const parser = new TextParser(builder, 2, builder.capacity < words);
      await parseTextFile(reader, rest, parser, settings);
      parser.finish(`the header declares ${words} words`);
    }
    reportProgress(settings, reader.size, reader.size);
    return builder.finish();
  } finally {
    // The table's fault-in ends before the table is handed out (or the error thrown).
    await builder?.settle();
    await reader.close();
  }
}

/**
 * Reads a word2vec file, text or binary (see options.binary for how the format is chosen): the C
 * tool's output (a '\n' after each binary record) and gensim's (none) alike. Words keep the
 * file's order; rows are the file's float32 values, text rounded to nearest as strtof does.
 */
export function loadWord2Vec(file: string, options?: LoadWord2VecOptions): Promise<WordVectors> {
  return loadWord2VecFile('loadWord2Vec', file, options, false);
}

/** Reads a fastText .vec file: the word2vec text format (header "V D", then a word and D values per line). */
export function loadFastText(file: string, options?: LoadWordVectorsOptions): Promise<WordVectors> {
  return loadWord2VecFile('loadFastText', file, options, true);
}

/**
 * Whether loadWord2Vec without options.binary reads `file` as word2vec binary: by the name (.bin
 * binary; .txt and .vec text), else by the content (binary unless the line after the header is a
 * word and the declared number of values). For the command line, which names a file's format
 * before it reads it.
 */
export async function isWord2VecBinary(file: string, wordsWithSpaces = false): Promise<boolean> {
  const extension = path.extname(file).toLowerCase();
  if (extension === '.bin') return true;
  if (extension === '.txt' || extension === '.vec') return false;
  const reader = await openChunkReader(file, 1 << 16);
  try {
    const chunk = await readUntil(reader, await reader.next(), (c) => c.indexOf(10) >= 0 || c.length > 64);
    return !(await sniffText(reader, chunk, parseHeader(chunk, failFor(file, '')), wordsWithSpaces)).text;
  } finally {
    await reader.close();
  }
}
