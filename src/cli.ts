#!/usr/bin/env node
// The nn-embedding command: convert between the file formats, describe a file, run the benchmark.
//
//   nn-embedding convert IN OUT [--from F] [--to F] [--limit N] [--prefix P] [--dtype D] [--from-dtype D] [--vocab FILE]
//   nn-embedding info FILE [--rows N] [--prefix P] [--from-dtype D] [--json]
//   nn-embedding bench [benchmark options, see --help of the benchmark]
//
// Formats: word2vec (text), word2vec-binary, glove, fasttext, safetensors, npy. Long operations
// draw a progress bar on stderr when it is a terminal, and print nothing extra otherwise.
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fsp } from 'node:fs';
import path from 'node:path';

import { DTYPES, type Dtype, type PackedTable, dequantizeRow, rowBytes } from './dtype.js';
import { Embedding } from './embedding.js';
import { FileFormatError, type Progress, openForReading } from './io/files.js';
import { layerTableName, openEmbedding, saveEmbedding } from './io/layers.js';
import { type NpyLayout, readNpy, readNpyHeader, saveNpy } from './io/npy.js';
import { type SafetensorsFile, type SafetensorsTensorInfo, openSafetensors } from './io/safetensors.js';
import { checkConvertible, convertTable } from './io/stored-table.js';
import { Vocabulary } from './io/vocabulary.js';
import { countWordVectors, isWord2VecBinary, loadFastText, loadGloVe, loadWord2Vec, saveGloVe, saveWord2Vec } from './io/word-vectors.js';

export const FORMATS = ['word2vec', 'word2vec-binary', 'glove', 'fasttext', 'safetensors', 'npy'] as const;
export type Format = (typeof FORMATS)[number];

const USAGE = `usage:
  nn-embedding convert IN OUT [options]   convert a table between formats
  nn-embedding info FILE [options]        format, rows, dimension, dtype, bytes and a few rows
  nn-embedding bench [options]            run the benchmark (nn-embedding bench --help)
  nn-embedding build-native               build the native addon from source, for platforms
                                          without a prebuild (python3, make, a C++17 compiler)

formats: ${FORMATS.join(', ')}
  IN's format is read from its content (word2vec's binary form from .bin, else as loadWord2Vec
  sniffs it); OUT's from its extension: .safetensors, .npy, .bin (word2vec-binary), .vec
  (fasttext), .txt (word2vec text; --to glove for GloVe's header-less text).

convert options:
  --from FORMAT      IN's format, instead of detecting it
  --to FORMAT        OUT's format, instead of its extension
  --limit N          keep only the first N words (word-vector inputs)
  --prefix P         state-dict prefix of the table in safetensors: P.weight (default: weight)
  --dtype D          the table's dtype in OUT: float32 (default), float16, bfloat16, int8 or
                     int4 (safetensors; .npy all but bfloat16; word-vector formats float32).
                     F32, F16 and BF16 name the same as float32, float16 and bfloat16. Another
                     dtype than IN's is converted through float32, as quantize/dequantize do
  --from-dtype D     what a .npy IN holds when its array cannot say: int8 or int4 for uint8
                     rows, bfloat16 for 2-byte void data (ml_dtypes' bfloat16)
  --vocab FILE       the vocabulary: written there when OUT has no words (default: OUT with
                     .vocab.json), read from there when IN has none (default: IN with .vocab.json)
  --words-with-spaces  text inputs whose words contain spaces (glove.840B): a line's last D
                     fields are the vector, the rest the word

info options:
  --rows N           rows to show (default 3)
  --words-with-spaces  as for convert
  --prefix P         the safetensors table to describe
  --from-dtype D     as for convert
  --json             machine-readable output
`;

class UsageError extends Error {}

interface Parsed {
  positional: string[];
  flags: Map<string, string | true>;
}

function parseArguments(argv: readonly string[], valued: readonly string[], booleans: readonly string[]): Parsed {
  const positional: string[] = [];
  const flags = new Map<string, string | true>();
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (!arg.startsWith('--') || arg === '--') {
      positional.push(arg);
      continue;
    }
    const [name, inline] = arg.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
    if (booleans.includes(name)) {
      flags.set(name, true);
    } else if (valued.includes(name)) {
      const value = inline ?? argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      flags.set(name, value);
    } else {
      throw new UsageError(`unknown option --${name}`);
    }
  }
  return { positional, flags };
}

function formatOption(value: string | true | undefined, name: string): Format | undefined {
  if (value === undefined) return undefined;
  if (!(FORMATS as readonly unknown[]).includes(value)) throw new UsageError(`--${name} must be one of ${FORMATS.join(', ')}, got '${String(value)}'`);
  return value as Format;
}

function integerOption(value: string | true | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value !== 'string' || !/^\d+$/.test(value) || Number(value) < 1) throw new UsageError(`--${name} must be a positive integer, got '${String(value)}'`);
  return Number(value);
}

/**
 * A file's format from its first bytes; a word2vec file is binary or text as loadWord2Vec decides
 * without options.binary (by the name: .bin, .txt; else by the line after the header, read with
 * wordsWithSpaces as given), and fastText when it is named .vec.
 */
export async function detectFormat(file: string, wordsWithSpaces = false): Promise<Format> {
  let head: Buffer;
  let size: number;
  const fh = await openForReading(file);
  try {
    size = (await fh.stat()).size;
    head = Buffer.alloc(Math.min(size, 4096));
    await fh.read(head, 0, head.length, 0);
  } finally {
    await fh.close();
  }
  if (head.subarray(0, 6).equals(Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]))) return 'npy';
  if (head.length >= 9 && head[8] === 0x7b && head.readBigUInt64LE(0) <= BigInt(size - 8)) return 'safetensors';
  const firstLine = head.toString('latin1').split('\n', 1)[0]!;
  if (/^\s*\d+\s+\d+\s*$/.test(firstLine)) {
    if (path.extname(file).toLowerCase() === '.vec') return 'fasttext';
    return (await isWord2VecBinary(file, wordsWithSpaces)) ? 'word2vec-binary' : 'word2vec';
  }
  if (size === 0) throw new FileFormatError(file, 'the file is empty');
  return 'glove';
}

function formatFromExtension(file: string): Format {
  const extension = path.extname(file).toLowerCase();
  const byExtension: Record<string, Format> = { '.safetensors': 'safetensors', '.npy': 'npy', '.bin': 'word2vec-binary', '.vec': 'fasttext', '.txt': 'word2vec' };
  const format = byExtension[extension];
  if (format === undefined) throw new UsageError(`cannot tell the format of '${file}' from its extension; pass --to (${FORMATS.join(', ')})`);
  return format;
}

const isWordFormat = (format: Format): boolean => format !== 'safetensors' && format !== 'npy';

/** A progress bar on stderr when it is a terminal; nothing otherwise. */
function progressBar(label: string): { update: (p: Progress) => void; done: () => void } {
  if (!process.stderr.isTTY) return { update: () => {}, done: () => {} };
  const started = Date.now();
  let lastDraw = 0;
  let drawn = false;
  const draw = (p: Progress): void => {
    const fraction = p.totalBytes > 0 ? Math.min(1, p.bytes / p.totalBytes) : 1;
    const width = 30;
    const filled = Math.round(fraction * width);
    const seconds = (Date.now() - started) / 1000;
    const rate = seconds > 0 ? p.bytes / 2 ** 20 / seconds : 0;
    process.stderr.write(`\r${label} [${'#'.repeat(filled)}${' '.repeat(width - filled)}] ${(fraction * 100).toFixed(0).padStart(3)}% ${rate.toFixed(0)} MB/s `);
    drawn = true;
  };
  return {
    update(p) {
      const t = Date.now();
      if (t - lastDraw < 100 && p.bytes < p.totalBytes) return;
      lastDraw = t;
      draw(p);
    },
    done() {
      if (drawn) process.stderr.write('\n');
    },
  };
}

interface Table {
  /** The table in `dtype`: float32 values, float16/bfloat16 bits, or int8/int4 rows. */
  data: PackedTable;
  dtype: Dtype;
  /** The dtype of the table in the file ('float32' for text). */
  fileDtype: Dtype;
  rows: number;
  dim: number;
  vocabulary: Vocabulary | null;
  /** The layer read from safetensors for convert (its options are kept when writing safetensors). */
  layer: Embedding | null;
  /** What the file stored the values as, in its own terms ('F16', '<f2', 'float32', 'text'). */
  stored: string;
  /** The opened file, for a safetensors input. */
  safetensors: SafetensorsFile | null;
  /** The table's tensor, for a safetensors input. */
  tensor: string | null;
}

/** The names --dtype and --from-dtype take: the dtypes, and the safetensors names of the float ones. */
const DTYPE_NAMES: Readonly<Record<string, Dtype>> = {
  ...Object.fromEntries(DTYPES.map((d) => [d, d])),
  F32: 'float32',
  F16: 'float16',
  BF16: 'bfloat16',
};

function dtypeOption(value: string | true | undefined, name: string, allowed: readonly Dtype[]): Dtype | undefined {
  if (value === undefined) return undefined;
  const dtype = typeof value === 'string' ? DTYPE_NAMES[value] : undefined;
  if (dtype === undefined || !allowed.includes(dtype)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got '${String(value)}'`);
  return dtype;
}

/** A uint8 or 2-byte void .npy array: its dtype is not in the file (int8/int4 rows, bfloat16 bits). */
const isUntold = (header: NpyLayout): boolean => header.kind === 'u1' || header.kind === 'V2';

async function readTable(
  file: string,
  format: Format,
  options: {
    limit?: number;
    prefix?: string;
    wordsWithSpaces?: boolean;
    formatGiven?: boolean;
    /** The dtype to write (convert): a safetensors layer is read as float32 unless its table is stored in that dtype. Info reads tables as stored. */
    target?: Dtype;
    /** The dtype of a uint8 or 2-byte void .npy array. */
    fromDtype?: Dtype;
  },
): Promise<Table> {
  const bar = progressBar(`reading ${path.basename(file)}`);
  const wordOptions = {
    ...(options.limit !== undefined ? { limit: options.limit } : {}),
    ...(options.wordsWithSpaces ? { wordsWithSpaces: true } : {}),
    onProgress: bar.update,
  };
  const prefix = options.prefix !== undefined ? { prefix: options.prefix } : {};
  try {
    switch (format) {
      case 'safetensors': {
        const opened = await openSafetensors(file);
        const name = layerTableName('nn-embedding', opened, options.prefix);
        const info = opened.tableInfo(name);
        const base = { rows: info.rows, dim: info.dim, fileDtype: info.dtype, vocabulary: null, stored: info.tensorDtype, tensor: name };
        if (options.target === undefined) {
          const table = opened.table(name, { dtype: 'file' });
          return { ...base, data: table.data, dtype: table.dtype, layer: null, safetensors: opened };
        }
        // A table converted to another dtype goes through a float32 layer, which keeps every recorded option.
        const { layer } = await openEmbedding(opened, { ...prefix, dtype: options.target === info.dtype ? 'file' : 'float32' });
        return { ...base, data: layer.data, dtype: layer.dtype, layer, safetensors: opened };
      }
      case 'npy': {
        const header = await readNpyHeader(file);
        if (options.fromDtype !== undefined && !isUntold(header)) {
          throw new Error(`${file}: --from-dtype names the dtype of a uint8 (int8, int4) or 2-byte void (bfloat16) array; this one is '${header.descr}', which says its own`);
        }
        if (isUntold(header) && options.fromDtype === undefined) {
          const which = header.kind === 'u1' ? 'int8 or int4 rows: pass --from-dtype int8 or --from-dtype int4' : 'bfloat16 bits, as ml_dtypes saves them: pass --from-dtype bfloat16';
          throw new Error(`${file}: dtype '${header.descr}' does not say what it holds (${which})`);
        }
        const table = await readNpy(file, { dtype: options.fromDtype ?? 'file' });
        if (table.rows < 1) throw new FileFormatError(file, `shape (${table.shape.join(', ')}) has no rows or no columns`);
        return { ...table, vocabulary: null, layer: null, stored: table.descr, safetensors: null, tensor: null };
      }
      default: {
        // A detected format is the one loadWord2Vec detects itself, whose errors then say why; --from is its options.binary.
        const binary = options.formatGiven ? { binary: format === 'word2vec-binary' } : {};
        const loaded =
          format === 'glove'
            ? await loadGloVe(file, wordOptions)
            : format === 'fasttext'
              ? await loadFastText(file, wordOptions)
              : await loadWord2Vec(file, { ...wordOptions, ...binary });
        const { embedding, vocabulary } = loaded;
        return {
          data: embedding.weight,
          dtype: 'float32',
          fileDtype: 'float32',
          rows: embedding.numEmbeddings,
          dim: embedding.embeddingDim,
          vocabulary,
          layer: null,
          stored: format === 'word2vec-binary' ? 'float32' : 'text',
          safetensors: null,
          tensor: null,
        };
      }
    }
  } finally {
    bar.done();
  }
}

const vocabularyFileFor = (file: string): string => path.join(path.dirname(file), `${path.basename(file, path.extname(file))}.vocab.json`);

async function convert(argv: readonly string[]): Promise<void> {
  const { positional, flags } = parseArguments(argv, ['from', 'to', 'limit', 'prefix', 'dtype', 'from-dtype', 'vocab'], ['words-with-spaces']);
  if (positional.length !== 2) throw new UsageError('convert needs IN and OUT');
  const [input, output] = positional as [string, string];
  // Every option is checked before the input is opened.
  const fromOption = formatOption(flags.get('from'), 'from');
  const to = formatOption(flags.get('to'), 'to') ?? formatFromExtension(output);
  const limit = integerOption(flags.get('limit'), 'limit');
  const prefix = flags.get('prefix') as string | undefined;
  const dtypeGiven = dtypeOption(flags.get('dtype'), 'dtype', DTYPES);
  const dtype = dtypeGiven ?? 'float32';
  const fromDtype = dtypeOption(flags.get('from-dtype'), 'from-dtype', ['int8', 'int4', 'bfloat16']);
  if (isWordFormat(to) && dtype !== 'float32') throw new UsageError(`--dtype ${dtype}: ${to} files hold float32 values; --dtype applies to safetensors and .npy output`);
  if (to === 'npy' && dtype === 'bfloat16') {
    throw new UsageError('--dtype bfloat16: numpy has no bfloat16 dtype, so .npy output cannot hold one; write .safetensors (BF16), or .npy with --dtype float32 (exact)');
  }
  if (path.resolve(input) === path.resolve(output)) throw new UsageError('IN and OUT are the same file');
  const vocabFlag = flags.get('vocab') as string | undefined;
  const wordsWithSpaces = flags.has('words-with-spaces');
  const from = fromOption ?? (await detectFormat(input, wordsWithSpaces));
  if (limit !== undefined && !isWordFormat(from)) throw new UsageError('--limit applies to word-vector inputs only');
  if (wordsWithSpaces && (!isWordFormat(from) || from === 'word2vec-binary')) throw new UsageError('--words-with-spaces applies to text word-vector inputs only');
  if (fromDtype !== undefined && from !== 'npy') throw new UsageError('--from-dtype applies to .npy inputs only (the other formats say what they hold)');

  // Check what the output needs before the (possibly long) read.
  let vocabulary: Vocabulary | null = null;
  if (isWordFormat(to) && !isWordFormat(from)) {
    const vocabFile = vocabFlag ?? vocabularyFileFor(input);
    if (!existsSync(vocabFile)) throw new UsageError(`${to} output needs words: pass --vocab FILE (no ${vocabFile})`);
    vocabulary = await Vocabulary.load(vocabFile);
  }
  const started = Date.now();
  const table = await readTable(input, from, {
    ...(limit !== undefined ? { limit } : {}),
    ...(prefix !== undefined ? { prefix } : {}),
    wordsWithSpaces,
    formatGiven: fromOption !== undefined,
    target: dtype,
    ...(fromDtype !== undefined ? { fromDtype } : {}),
  });
  vocabulary ??= table.vocabulary;
  if (vocabulary !== null && vocabulary.size !== table.rows) {
    throw new Error(`the vocabulary has ${vocabulary.size} words but ${input} has ${table.rows} rows`);
  }
  checkConvertible(input, 'the table', table.dim, dtype);
  const bar = progressBar(`writing ${path.basename(output)}`);
  try {
    if (to === 'safetensors') {
      const layer = table.layer ?? Embedding.fromPretrained(table.data, table.dim, table.dtype === 'float32' ? {} : { dtype: table.dtype });
      await saveEmbedding(output, layer, { ...(prefix !== undefined ? { prefix } : {}), dtype });
    } else if (to === 'npy') {
      await saveNpy(output, convertTable(table.data, table.dim, table.dtype, dtype), [table.rows, table.dim], { dtype });
    } else {
      const layer = table.layer ?? Embedding.fromPretrained(convertTable(table.data, table.dim, table.dtype, 'float32') as Float32Array, table.dim);
      if (to === 'glove') await saveGloVe(output, vocabulary!, layer, { onProgress: bar.update });
      else await saveWord2Vec(output, vocabulary!, layer, { binary: to === 'word2vec-binary', onProgress: bar.update });
    }
  } finally {
    bar.done();
  }
  let note = '';
  if (table.vocabulary !== null && !isWordFormat(to)) {
    const vocabFile = vocabFlag ?? vocabularyFileFor(output);
    await table.vocabulary.save(vocabFile);
    note = ` (words in ${vocabFile})`;
  }
  const seconds = (Date.now() - started) / 1000;
  const dtypes = table.fileDtype === dtype ? dtype : `${table.fileDtype} -> ${dtype}`;
  console.log(
    `${input} (${from}) -> ${output} (${to}): ${table.rows} x ${table.dim} ${dtypes} (${rowBytes(table.dim, dtype)} bytes a row) in ${seconds.toFixed(2)} s${note}`,
  );
}

/** A tensor of a safetensors file as info describes it: its table (dtype, dim, bytes a row), or why it is not one. */
function describeTensor(opened: SafetensorsFile, tensor: SafetensorsTensorInfo): Record<string, unknown> {
  const described: Record<string, unknown> = { name: tensor.name, dtype: tensor.dtype, shape: tensor.shape, bytes: tensor.byteLength };
  if (tensor.shape.length !== 2) return described;
  try {
    const table = opened.tableInfo(tensor.name);
    described.table = { dtype: table.dtype, rows: table.rows, dim: table.dim, rowBytes: table.rowBytes };
  } catch (error) {
    if (!(error instanceof FileFormatError)) throw error;
    described.notATable = error.reason;
  }
  return described;
}

async function info(argv: readonly string[]): Promise<void> {
  const { positional, flags } = parseArguments(argv, ['rows', 'prefix', 'from', 'from-dtype'], ['json', 'words-with-spaces']);
  if (positional.length !== 1) throw new UsageError('info needs one FILE');
  const file = positional[0]!;
  const show = integerOption(flags.get('rows'), 'rows') ?? 3;
  const fromOption = formatOption(flags.get('from'), 'from');
  const fromDtype = dtypeOption(flags.get('from-dtype'), 'from-dtype', ['int8', 'int4', 'bfloat16']);
  const wordsWithSpaces = flags.has('words-with-spaces');
  const format = fromOption ?? (await detectFormat(file, wordsWithSpaces));
  if (fromDtype !== undefined && format !== 'npy') throw new UsageError('--from-dtype applies to .npy files only (the other formats say what they hold)');
  const prefix = flags.get('prefix') as string | undefined;
  const size = (await fsp.stat(file)).size;
  const json = flags.has('json');
  if (format === 'npy' && fromDtype === undefined) {
    // A uint8 or void array is described by its header alone: which table it holds is the caller's to say.
    const header = await readNpyHeader(file);
    if (isUntold(header)) {
      const holds = header.kind === 'u1' ? 'int8 or int4 rows (pass --from-dtype int8 or int4 to read them)' : 'bfloat16 bits, if ml_dtypes saved it (pass --from-dtype bfloat16)';
      const result = { file, format, bytes: size, rows: header.rows, dim: null, dtype: header.descr, shape: [header.rows, header.cols], tableDtype: null, holds };
      if (json) console.log(JSON.stringify(result, null, 2));
      else {
        console.log(`${file}`);
        console.log(`  format     ${format}`);
        console.log(`  size       ${size} bytes`);
        console.log(`  rows       ${header.rows}`);
        console.log(`  dtype      ${header.descr} (${header.rows} x ${header.cols}): ${holds}`);
      }
      return;
    }
  }
  const words = isWordFormat(format);
  const table = await readTable(file, format, {
    ...(words ? { limit: show } : {}),
    ...(prefix !== undefined ? { prefix } : {}),
    wordsWithSpaces,
    formatGiven: fromOption !== undefined,
    ...(fromDtype !== undefined ? { fromDtype } : {}),
  });
  const rows = words ? await countWordVectors(file, format === 'glove' ? 'glove' : 'word2vec') : table.rows;
  const bytesPerRow = rowBytes(table.dim, table.dtype);
  const result: Record<string, unknown> = {
    file,
    format,
    bytes: size,
    rows,
    dim: table.dim,
    dtype: table.stored,
    tableDtype: table.dtype,
    rowBytes: bytesPerRow,
    tableBytes: rows * bytesPerRow,
  };
  const opened = table.safetensors;
  if (opened !== null) {
    result.tensor = table.tensor;
    result.tensors = opened.tensors.map((t) => describeTensor(opened, t));
    result.metadata = opened.metadata;
    result.mapped = opened.mapped;
  }
  const shown = Math.min(show, table.rows);
  const row = new Float32Array(table.dim);
  result.firstRows = Array.from({ length: shown }, (_, r) => {
    dequantizeRow(table.data, table.dim, table.dtype, r, row, 0);
    return { ...(table.vocabulary ? { word: table.vocabulary.tokenAt(r) } : {}), values: Array.from(row.subarray(0, Math.min(table.dim, 8))) };
  });
  if (json) {
    console.log(JSON.stringify(result, null, 2));
    return;
  }
  console.log(`${file}`);
  console.log(`  format     ${format}`);
  console.log(`  size       ${size} bytes`);
  console.log(`  rows       ${rows}`);
  console.log(`  dimension  ${table.dim}`);
  console.log(`  dtype      ${table.stored === table.dtype ? table.dtype : `${table.stored} (${table.dtype})`}`);
  console.log(`  row bytes  ${bytesPerRow}`);
  console.log(`  table      ${rows * bytesPerRow} bytes`);
  if (opened !== null) {
    for (const t of result.tensors as { name: string; dtype: string; shape: number[]; bytes: number; table?: { dtype: Dtype; dim: number; rowBytes: number }; notATable?: string }[]) {
      const what = t.table ? `: ${t.table.dtype}, dim ${t.table.dim}, ${t.table.rowBytes} bytes a row, ` : t.notATable ? `: not a table (${t.notATable}), ` : ', ';
      console.log(`  tensor     ${t.name} ${t.dtype} [${t.shape.join(', ')}]${what}${t.bytes} bytes${t.name === table.tensor ? ' (the table)' : ''}`);
    }
    for (const [key, value] of Object.entries(opened.metadata)) console.log(`  metadata   ${key} = ${value}`);
  }
  for (const shownRow of result.firstRows as { word?: string; values: number[] }[]) {
    const more = table.dim > 8 ? ' ...' : '';
    console.log(`  ${shownRow.word !== undefined ? `${shownRow.word}: ` : ''}${shownRow.values.map((v) => v.toPrecision(6)).join(' ')}${more}`);
  }
}

function bench(argv: readonly string[]): number {
  const entry = path.join(__dirname, '..', 'bench', 'embedding.mjs');
  if (!existsSync(entry)) throw new Error(`the benchmark is not installed with this package (no ${entry})`);
  const child = spawnSync(process.execPath, ['--expose-gc', entry, ...argv], { stdio: 'inherit' });
  if (child.error) throw child.error;
  return child.status ?? 1;
}

function buildNative(argv: readonly string[]): number {
  if (argv.length > 0) throw new UsageError('build-native takes no arguments');
  const entry = path.join(__dirname, '..', 'scripts', 'build-native.js');
  const child = spawnSync(process.execPath, [entry], { stdio: 'inherit' });
  if (child.error) throw child.error;
  return child.status ?? 1;
}

export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'convert':
        await convert(rest);
        return 0;
      case 'info':
        await info(rest);
        return 0;
      case 'bench':
        return bench(rest);
      case 'build-native':
        return buildNative(rest);
      case undefined:
        process.stderr.write(USAGE);
        return 2;
      case '-h':
      case '--help':
      case 'help':
        process.stdout.write(USAGE);
        return 0;
      default:
        throw new UsageError(`unknown command '${command}'`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`nn-embedding: ${error.message}\n\n${USAGE}`);
      return 2;
    }
    process.stderr.write(`nn-embedding: ${(error as Error).message}\n`);
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`nn-embedding: ${String(error)}\n`);
      process.exitCode = 1;
    },
  );
}
