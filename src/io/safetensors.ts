// safetensors (https://github.com/huggingface/safetensors), the format Hugging Face and PyTorch users
// exchange weights in: an 8-byte little-endian header length N, N bytes of JSON
// {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {string: string}}, then the
// tensors' bytes, offsets counted from the end of the header. Reading validates the header as the
// reference implementation does (offsets contiguous, covering the whole buffer, sizes matching
// shapes) before anything is allocated, then maps the file (native addon) so opening is immediate
// and F32 tensors are views of the mapping; F16 and BF16 are converted to float32 on read, or
// read as their bits (views too) when a table is asked for in its own dtype.
//
// Tables (2-D tensors, [rows, columns]): F32 and F64 are float32 tables, F16 float16, BF16
// bfloat16; int8 and int4 tables are U8 tensors of their packed rows, [rows, rowBytes], and the
// metadata names their dtype, under TABLE_DTYPE_KEY + the tensor's name ('int8' or 'int4'), and
// their dim under TABLE_DIM_KEY + the name (a decimal; optional on read, checked when present).
import { DTYPES, type Dtype, type PackedTable } from '../dtype.js';
import { checkOptions, defineReadonly } from '../validate.js';
import { FileFormatError, mapOrReadFile, openForReading, quoteText, writeFileAtomic } from './files.js';
import { bfloat16ToFloat, floatTo16, halfToFloat } from './half.js';
import { type LoadedTable, type ReadDtype, checkConvertible, checkReadDtype, convertTable } from './stored-table.js';

/** Bytes per element of each dtype the format defines (sub-byte float types are not supported). */
const DTYPE_BYTES: Readonly<Record<string, number>> = {
  BOOL: 1,
  U8: 1,
  I8: 1,
  F8_E5M2: 1,
  F8_E4M3: 1,
  I16: 2,
  U16: 2,
  F16: 2,
  BF16: 2,
  I32: 4,
  U32: 4,
  F32: 4,
  I64: 8,
  U64: 8,
  F64: 8,
};

/** The reference implementation's limit on the header (100 MB): larger headers are refused. */
const MAX_HEADER_BYTES = 100_000_000;

/** The dtypes readable as float32 (F64 is rounded to nearest; the others convert exactly). */
export type FloatDtype = 'F32' | 'F16' | 'BF16' | 'F64';
/** The dtypes saveSafetensors converts float32 values to. */
export type WriteDtype = 'F32' | 'F16' | 'BF16';

/** Metadata key prefix naming a table's dtype: `nn_embedding.dtype.<tensor name>` = 'int8' or 'int4' (any Dtype is accepted and checked). */
export const TABLE_DTYPE_KEY = 'nn_embedding.dtype.';
/** Metadata key prefix giving a table's dim (a decimal): `nn_embedding.dim.<tensor name>`. */
export const TABLE_DIM_KEY = 'nn_embedding.dim.';

export interface SafetensorsTensorInfo {
  name: string;
  dtype: string;
  shape: number[];
  /** Offset of the tensor's first byte in the file. */
  fileOffset: number;
  byteLength: number;
}

/** A tensor read as a table (SafetensorsFile.tableInfo). */
export interface SafetensorsTableInfo {
  name: string;
  /** The table's dtype: F32 and F64 'float32', F16 'float16', BF16 'bfloat16', U8 the dtype its metadata names. */
  dtype: Dtype;
  /** The tensor's dtype in the file ('F32', 'U8', ...). */
  tensorDtype: string;
  rows: number;
  /** Values per row (int8/int4: not the row's bytes). */
  dim: number;
  /** Bytes per row in the file. */
  rowBytes: number;
  /** Bytes of the whole table in the file. */
  byteLength: number;
}

/** An opened safetensors file: its header, validated, and its tensors read as float32 on demand. */
export class SafetensorsFile {
  // Read-only at run time too (defineReadonly).
  declare readonly file: string;
  declare readonly metadata: Readonly<Record<string, string>>;
  declare readonly tensors: readonly SafetensorsTensorInfo[];
  /** True when the file is mapped into memory (native addon), false when it was read. */
  declare readonly mapped: boolean;
  private readonly _buffer: ArrayBuffer;

  /** @internal use openSafetensors */
  constructor(
    file: string,
    metadata: Readonly<Record<string, string>>,
    tensors: readonly SafetensorsTensorInfo[],
    buffer: ArrayBuffer,
    mapped: boolean,
  ) {
    defineReadonly<SafetensorsFile>(this, { file, metadata, tensors, mapped });
    this._buffer = buffer;
  }

  /** The names of the tensors, in file order. */
  get names(): string[] {
    return this.tensors.map((tensor) => tensor.name);
  }

  info(name: string): SafetensorsTensorInfo | undefined {
    return this.tensors.find((tensor) => tensor.name === name);
  }

  /** The tensor named `name`; a RangeError listing the names when there is none. */
  private _tensor(name: string): SafetensorsTensorInfo {
    const tensor = this.info(name);
    if (tensor === undefined) {
      throw new RangeError(`${this.file}: no tensor named '${name}' (tensors: ${this.names.map((n) => `'${n}'`).join(', ') || 'none'})`);
    }
    return tensor;
  }

  /**
   * The tensor as float32 values, row-major. F32 tensors are views of the file's buffer (no copy;
   * on a mapping, copy-on-write: changing them never changes the file); F16, BF16 and F64 are
   * converted into a new array, and so are int8/int4 tables (U8 tensors whose metadata names their
   * dtype: dequantized as torch unpacks them). Throws for an unknown name or another dtype.
   */
  float32(name: string): Float32Array {
    const tensor = this._tensor(name);
    const count = tensor.shape.reduce((a, b) => a * b, 1);
    const bytes = new Uint8Array(this._buffer, tensor.fileOffset, tensor.byteLength);
    switch (tensor.dtype) {
      case 'F32':
        if (tensor.fileOffset % 4 === 0) return new Float32Array(this._buffer, tensor.fileOffset, count);
        return new Float32Array(bytes.slice().buffer);
      case 'F16': {
        const out = new Float32Array(count);
        halfToFloat(bytes, out);
        return out;
      }
      case 'BF16': {
        const out = new Float32Array(count);
        bfloat16ToFloat(bytes, out);
        return out;
      }
      case 'F64': {
        const doubles = tensor.fileOffset % 8 === 0 ? new Float64Array(this._buffer, tensor.fileOffset, count) : new Float64Array(bytes.slice().buffer);
        return Float32Array.from(doubles);
      }
      default:
        if (tensor.dtype === 'U8' && this.metadata[TABLE_DTYPE_KEY + name] !== undefined) return this.table(name).data as Float32Array;
        throw new TypeError(
          `${this.file}: tensor '${name}' has dtype ${tensor.dtype}; only F32, F16, BF16 and F64 read as float32, and U8 tables whose metadata ` +
            `'${TABLE_DTYPE_KEY}${name}' names them int8 or int4`,
        );
    }
  }

  /** The tensor's bytes as stored (little-endian): always a view of the file's buffer, whatever its dtype. */
  bytes(name: string): Uint8Array {
    const tensor = this._tensor(name);
    return new Uint8Array(this._buffer, tensor.fileOffset, tensor.byteLength);
  }

  /**
   * A 16-bit tensor's values as stored, unconverted: F16 and BF16 bits (or I16/U16 values read as
   * uint16). A view of the file's buffer (of the mapping, when mapped) when the tensor starts on an
   * even byte, as in every file this package or the reference implementation writes (both align
   * tensors); a copy otherwise.
   */
  uint16(name: string): Uint16Array {
    const tensor = this._tensor(name);
    if (DTYPE_BYTES[tensor.dtype] !== 2) {
      throw new TypeError(`${this.file}: tensor '${name}' has dtype ${tensor.dtype}; uint16() reads the 16-bit dtypes (F16, BF16, I16, U16)`);
    }
    if (tensor.fileOffset % 2 === 0) return new Uint16Array(this._buffer, tensor.fileOffset, tensor.byteLength / 2);
    return new Uint16Array(this.bytes(name).slice().buffer);
  }

  /**
   * The tensor as a table: its dtype, rows, dim and bytes per row. Throws a FileFormatError (the
   * file's name, the tensor's, and why) for a tensor that is not one: not 2-D, no column, a dtype
   * no table has, a U8 tensor whose metadata does not name int8 or int4, metadata that contradicts
   * the tensor (another dtype, a dim its rows cannot have: an odd one for int4).
   */
  tableInfo(name: string): SafetensorsTableInfo {
    const tensor = this._tensor(name);
    const bad = (reason: string): never => {
      throw new FileFormatError(this.file, `tensor '${name}' ${reason}`);
    };
    const shapeText = `[${tensor.shape.join(', ')}]`;
    if (tensor.shape.length !== 2) bad(`has shape ${shapeText}, not a table's [rows, columns]`);
    const [rows, columns] = tensor.shape as [number, number];
    const dtypeKey = TABLE_DTYPE_KEY + name;
    const dimKey = TABLE_DIM_KEY + name;
    const declared = this.metadata[dtypeKey];
    if (declared !== undefined && !(DTYPES as readonly string[]).includes(declared)) {
      bad(`has metadata '${dtypeKey}' = ${quoteText(declared, 40)}, not one of ${DTYPES.map((d) => `'${d}'`).join(', ')}`);
    }
    let dtype: Dtype;
    switch (tensor.dtype) {
      case 'F32':
      case 'F64':
        dtype = 'float32';
        break;
      case 'F16':
        dtype = 'float16';
        break;
      case 'BF16':
        dtype = 'bfloat16';
        break;
      case 'U8':
        if (declared === undefined) {
          return bad(
            `is U8 ${shapeText} without metadata '${dtypeKey}': a U8 table holds packed int8 or int4 rows, and the metadata must say ` +
              `which ('int8' or 'int4'; saveEmbedding writes it)`,
          );
        }
        if (declared !== 'int8' && declared !== 'int4') bad(`is U8, but metadata '${dtypeKey}' says '${declared}': a U8 table is 'int8' or 'int4'`);
        dtype = declared as Dtype;
        break;
      default:
        return bad(`has dtype ${tensor.dtype}: a table is F32, F64, F16, BF16, or U8 (int8 or int4 rows, named in the metadata)`);
    }
    if (declared !== undefined && declared !== dtype) bad(`is ${tensor.dtype}, but metadata '${dtypeKey}' says '${declared}'`);
    let dim = columns;
    if (dtype === 'int8') {
      dim = columns - 8;
      if (dim < 1) bad(`holds int8 rows of ${columns} bytes; an int8 row is dim + 8 bytes (dim codes, float32 scale and bias), dim >= 1`);
    } else if (dtype === 'int4') {
      dim = 2 * (columns - 4);
      if (dim < 2) bad(`holds int4 rows of ${columns} bytes; an int4 row is dim / 2 + 4 bytes (two codes a byte, float16 scale and bias), dim >= 2`);
    } else if (dim < 1) {
      bad(`has shape ${shapeText}: a table has at least one column`);
    }
    const declaredDim = this.metadata[dimKey];
    if (declaredDim !== undefined && (!/^\d{1,15}$/.test(declaredDim) || Number(declaredDim) !== dim)) {
      const odd = dtype === 'int4' && /^\d{1,15}$/.test(declaredDim) && Number(declaredDim) % 2 === 1 ? ' (an int4 dim is even: two codes a byte)' : '';
      bad(`has metadata '${dimKey}' = ${quoteText(declaredDim, 40)}${odd}, but its ${dtype} rows of ${columns} ${dtype === 'int8' || dtype === 'int4' ? 'bytes' : 'values'} have dim ${dim}`);
    }
    const rowBytes = columns * DTYPE_BYTES[tensor.dtype]!;
    return { name, dtype, tensorDtype: tensor.dtype, rows, dim, rowBytes, byteLength: tensor.byteLength };
  }

  /**
   * The tensor as a table in the dtype asked for: options.dtype a Dtype ('float32' when not
   * given, as float32() reads it), or 'file' for the dtype the file stores. In the stored dtype
   * nothing is converted: F32 is a view of the file's buffer as float32() gives it, F16/BF16 bits
   * are uint16()'s (a view when aligned), int8/int4 rows are bytes()'s (always a view); `mapped`
   * says when data is a view of the mapping. Another dtype is converted through float32 (see
   * convertTable). Throws tableInfo's errors, and a RangeError for an unknown name or an int4
   * table asked of an odd dim.
   */
  table(name: string, options?: { dtype?: ReadDtype }): LoadedTable {
    const where = 'SafetensorsFile.table';
    const requested = checkReadDtype(where, checkOptions<{ dtype: ReadDtype }>(where, options, ['dtype']).dtype);
    const info = this.tableInfo(name);
    const tensor = this._tensor(name);
    let stored: PackedTable;
    let view: boolean;
    if (info.dtype === 'float32') {
      stored = this.float32(name);
      view = tensor.dtype === 'F32' && tensor.fileOffset % 4 === 0;
    } else if (info.dtype === 'float16' || info.dtype === 'bfloat16') {
      stored = this.uint16(name);
      view = tensor.fileOffset % 2 === 0;
    } else {
      stored = this.bytes(name);
      view = true;
    }
    const dtype = requested === 'file' ? info.dtype : requested;
    checkConvertible(this.file, `tensor '${name}'`, info.dim, dtype);
    const data = convertTable(stored, info.dim, info.dtype, dtype);
    return { dtype, rows: info.rows, dim: info.dim, data, fileDtype: info.dtype, mapped: this.mapped && view && data === stored };
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function checkLittleEndianHost(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new Error('nn-embedding file formats are little-endian; big-endian hosts are not supported');
  }
}

/**
 * Parses and validates a safetensors header (the JSON text) for a file of `fileSize` bytes whose
 * header is `headerBytes` long. Throws a FileFormatError naming what is wrong.
 */
export function parseSafetensorsHeader(
  file: string,
  headerText: string,
  headerBytes: number,
  fileSize: number,
): { metadata: Record<string, string>; tensors: SafetensorsTensorInfo[] } {
  const bad = (reason: string): never => {
    throw new FileFormatError(file, `not a valid safetensors file: ${reason}`);
  };
  if (!headerText.startsWith('{')) bad("the header does not start with '{'");
  let header: unknown;
  try {
    header = JSON.parse(headerText);
  } catch (error) {
    bad(`the header is not JSON (${(error as Error).message})`);
  }
  if (!isPlainObject(header)) bad('the header is not a JSON object');
  const entries = header as Record<string, unknown>;
  const duplicate = firstDuplicateKey(headerText);
  if (duplicate !== null) bad(`the name '${duplicate}' appears twice in the header`);
  const metadata: Record<string, string> = {};
  const tensors: SafetensorsTensorInfo[] = [];
  const dataStart = 8 + headerBytes;
  const dataSize = fileSize - dataStart;
  for (const [name, value] of Object.entries(entries)) {
    if (name === '__metadata__') {
      if (!isPlainObject(value)) bad('__metadata__ is not an object');
      for (const [key, text] of Object.entries(value as Record<string, unknown>)) {
        if (typeof text !== 'string') bad(`__metadata__['${key}'] is not a string`);
        metadata[key] = text as string;
      }
      continue;
    }
    if (!isPlainObject(value)) bad(`tensor '${name}' is not an object`);
    const entry = value as Record<string, unknown>;
    const extra = Object.keys(entry).filter((key) => key !== 'dtype' && key !== 'shape' && key !== 'data_offsets');
    if (extra.length > 0) bad(`tensor '${name}' has unknown field '${extra[0]}'`);
    const { dtype, shape, data_offsets: offsets } = entry;
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) bad(`tensor '${name}' has unknown dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || (d as number) < 0)) {
      bad(`tensor '${name}' has an invalid shape ${JSON.stringify(shape)}`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      offsets.some((o) => !Number.isSafeInteger(o) || (o as number) < 0) ||
      (offsets[0] as number) > (offsets[1] as number)
    ) {
      bad(`tensor '${name}' has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    // The element count, checked step by step so a hostile shape cannot overflow past the check.
    let count = 1;
    for (const d of shape as number[]) count = Math.min(count * d, Number.MAX_SAFE_INTEGER);
    if (count > dataSize) bad(`tensor '${name}' of shape [${(shape as number[]).join(', ')}] needs more bytes than the file holds`);
    const byteLength = count * DTYPE_BYTES[dtype as string]!;
    if (end > dataSize) bad(`tensor '${name}' ends at byte ${end} of the data, but the file holds ${dataSize} bytes of data`);
    if (byteLength !== end - begin) {
      bad(`tensor '${name}' of shape [${(shape as number[]).join(', ')}] and dtype ${dtype} needs ${byteLength} bytes, its data_offsets span ${end - begin}`);
    }
    tensors.push({ name, dtype: dtype as string, shape: (shape as number[]).slice(), fileOffset: dataStart + begin, byteLength });
  }
  // As the reference implementation requires: tensors tile the data exactly, no gap, no overlap.
  const ordered = tensors.slice().sort((a, b) => a.fileOffset - b.fileOffset || a.byteLength - b.byteLength);
  let expected = dataStart;
  for (const tensor of ordered) {
    if (tensor.fileOffset < expected) bad(`tensor '${tensor.name}' overlaps another tensor (starts at data byte ${tensor.fileOffset - dataStart})`);
    if (tensor.fileOffset > expected) bad(`a gap in the data before tensor '${tensor.name}' (data bytes ${expected - dataStart} to ${tensor.fileOffset - dataStart} belong to no tensor)`);
    expected = tensor.fileOffset + tensor.byteLength;
  }
  if (expected !== fileSize) bad(`the tensors cover ${expected - dataStart} bytes of data, but the file holds ${dataSize}`);
  return { metadata, tensors: ordered };
}

/**
 * The first top-level key that occurs twice in a JSON object's text (JSON.parse keeps the last
 * silently; the format forbids duplicates), or null. The text is known to be valid JSON.
 */
function firstDuplicateKey(text: string): string | null {
  const seen = new Set<string>();
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const start = i;
      for (i++; text.charCodeAt(i) !== 0x22; i++) if (text.charCodeAt(i) === 0x5c /* \ */) i++;
      if (depth === 1) {
        let j = i + 1;
        while (j < text.length && /\s/.test(text[j]!)) j++;
        if (text[j] === ':') {
          const key = JSON.parse(text.slice(start, i + 1)) as string;
          if (seen.has(key)) return key;
          seen.add(key);
        }
      }
    } else if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
      depth++;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      depth--;
    }
  }
  return null;
}

/** Bytes read from the start of a file whose first 8 cannot be a header length, to tell what it is. */
const SNIFF_BYTES = 1 << 16;
const NUMBER = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** The reason for a file that does not start as safetensors: what it looks like, when that can be told, else `detail`. */
function notSafetensors(head: Buffer, detail: string): string {
  return `not a safetensors file: ${lookalike(head) ?? detail}`;
}

/**
 * What a file's first bytes look like when they are not a safetensors header: another format this
 * package reads (and the function that reads it), an archive or pickle from torch.save, compressed
 * data, text; or null when nothing can be told.
 */
function lookalike(head: Buffer): string | null {
  const startsWith = (...bytes: number[]): boolean => bytes.every((byte, i) => head[i] === byte);
  const fromTorch = 'save the state dict with safetensors.torch.save_file in Python';
  if (startsWith(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59)) return 'it looks like a .npy file; use readNpy';
  if (startsWith(0x50, 0x4b, 0x03, 0x04)) return `it looks like a zip archive, as torch.save writes (.pt, .pth); ${fromTorch}`;
  if (head[0] === 0x80 && head[1]! >= 2 && head[1]! <= 5) return `it looks like a Python pickle, as older torch.save versions write; ${fromTorch}`;
  if (startsWith(0x1f, 0x8b)) return 'it is gzip-compressed; decompress it first';
  // Text: the first line (of the bytes read) is UTF-8 without control characters but tabs.
  const newline = head.indexOf(10);
  let line = head.toString('utf8', 0, newline < 0 ? head.length : newline).replace(/^\ufeff/, '').replace(/\r$/, '');
  if (newline < 0 && head.length === SNIFF_BYTES) line = line.replace(/\ufffd{1,3}$/, ''); // a character cut at the end
  if (line.trim() === '' || line.includes('\ufffd') || /[\u0000-\u0008\u000a-\u001f\u007f-\u009f]/.test(line)) return null;
  if (/^\s*\d+\s+\d+\s*$/.test(line)) {
    return `it looks like word2vec text or binary (line 1 is ${quoteText(line.trim(), 40)}, a "<words> <dimension>" header); use loadWord2Vec (loadFastText for .vec files)`;
  }
  const fields = line.trim().split(/[ \t]+/);
  if (newline < 0 && head.length === SNIFF_BYTES) fields.pop(); // maybe cut
  if (fields.length >= 2 && fields.slice(1).every((field) => NUMBER.test(field))) {
    return `it looks like GloVe text (line 1 is a word and ${fields.length - 1} numbers); use loadGloVe`;
  }
  if (line.trimStart().startsWith('{')) {
    return line.includes('"nn-embedding-vocabulary"') ? 'it looks like a saved Vocabulary; use Vocabulary.load' : 'it looks like JSON text';
  }
  return `it looks like text (line 1 is ${quoteText(line, 40)})`;
}

/** Opens a safetensors file: reads and validates its header, then maps (or reads) the file. */
export async function openSafetensors(file: string): Promise<SafetensorsFile> {
  checkLittleEndianHost();
  const fh = await openForReading(file);
  let headerText: string;
  let headerBytes: number;
  let fileSize: number;
  try {
    fileSize = (await fh.stat()).size;
    // The first bytes: the header length, or, when they cannot be one, what else the file looks like.
    const head = Buffer.alloc(Math.min(fileSize, SNIFF_BYTES));
    const { bytesRead: headBytes } = await fh.read(head, 0, head.length, 0);
    if (fileSize < 8) throw new FileFormatError(file, notSafetensors(head.subarray(0, headBytes), `${fileSize} bytes, shorter than the 8-byte header length`));
    const declared = head.readBigUInt64LE(0);
    if (declared > BigInt(Math.min(MAX_HEADER_BYTES, fileSize - 8))) {
      const limit = declared > BigInt(MAX_HEADER_BYTES) ? `the format's limit of ${MAX_HEADER_BYTES} bytes` : `the ${fileSize - 8} bytes after them`;
      throw new FileFormatError(
        file,
        notSafetensors(head.subarray(0, headBytes), `its first 8 bytes, read as the header length, give ${declared}, more than ${limit} (the file has ${fileSize} bytes)`),
      );
    }
    headerBytes = Number(declared);
    const header = Buffer.alloc(headerBytes);
    const { bytesRead } = await fh.read(header, 0, headerBytes, 8);
    if (bytesRead !== headerBytes) throw new FileFormatError(file, 'not a valid safetensors file: the header is truncated');
    try {
      headerText = new TextDecoder('utf-8', { fatal: true }).decode(header);
    } catch {
      throw new FileFormatError(file, 'not a valid safetensors file: the header is not UTF-8');
    }
  } finally {
    await fh.close();
  }
  const { metadata, tensors } = parseSafetensorsHeader(file, headerText, headerBytes, fileSize);
  const { buffer, mapped } = await mapOrReadFile(file);
  if (buffer.byteLength !== fileSize) throw new FileFormatError(file, `the file changed size while being opened (${fileSize} → ${buffer.byteLength} bytes)`);
  return new SafetensorsFile(file, metadata, tensors, buffer, mapped);
}

/**
 * A tensor to write, row-major, with its shape. Float32 values are stored as `dtype` (default F32;
 * F16 and BF16 rounded as torch's .half() and .bfloat16()); a Uint16Array is F16 or BF16 bits and
 * a Uint8Array U8 bytes, written as they are (`dtype` required: 'F16'/'BF16', 'U8').
 */
export interface TensorToWrite {
  data: Float32Array | Uint16Array | Uint8Array;
  shape: readonly number[];
  dtype?: WriteDtype | 'U8';
}

/** The dtypes each array type is written as. */
const WRITABLE: readonly [new (...args: never[]) => ArrayBufferView, readonly string[]][] = [
  [Float32Array, ['F32', 'F16', 'BF16']],
  [Uint16Array, ['F16', 'BF16']],
  [Uint8Array, ['U8']],
];

/**
 * Writes tensors (and string metadata) as a safetensors file, through a temporary file renamed
 * into place. Tensors are laid out as the reference implementation lays them out (by dtype
 * alignment, largest first, then by name), the header padded with spaces to 8 bytes.
 */
export async function saveSafetensors(
  file: string,
  tensors: Readonly<Record<string, TensorToWrite>>,
  metadata?: Readonly<Record<string, string>>,
): Promise<void> {
  const where = 'saveSafetensors';
  checkLittleEndianHost();
  if (!isPlainObject(tensors)) throw new TypeError(`${where}: tensors must be an object of {data, shape, dtype?}`);
  const prepared: { name: string; dtype: string; shape: number[]; bytes: Uint8Array }[] = [];
  for (const [name, tensor] of Object.entries(tensors)) {
    if (name === '' || name === '__metadata__') throw new RangeError(`${where}: invalid tensor name '${name}'`);
    if (!isPlainObject(tensor)) throw new TypeError(`${where}: tensors['${name}'] must be {data, shape, dtype?}`);
    const { data, shape } = tensor as unknown as TensorToWrite;
    const writable = WRITABLE.find(([type]) => data instanceof type);
    if (writable === undefined) throw new TypeError(`${where}: tensors['${name}'].data must be a Float32Array, Uint16Array or Uint8Array`);
    const dtype = (tensor as unknown as TensorToWrite).dtype ?? (data instanceof Float32Array ? 'F32' : undefined);
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new TypeError(`${where}: tensors['${name}'].shape must be an array of non-negative integers, got ${JSON.stringify(shape)}`);
    }
    const count = shape.reduce((a: number, b: number) => a * b, 1);
    if (count !== data.length) throw new RangeError(`${where}: tensors['${name}'] has shape [${shape.join(', ')}] (${count} values) but ${data.length} values`);
    if (dtype === undefined || !writable[1].includes(dtype)) {
      throw new RangeError(
        `${where}: tensors['${name}'].dtype must be ${writable[1].map((d) => `'${d}'`).join(', ').replace(/, ([^,]*)$/, ' or $1')} for a ${data.constructor.name}, got ${JSON.stringify(dtype)}`,
      );
    }
    const bytes = data instanceof Float32Array && dtype !== 'F32' ? floatTo16(data, dtype as 'F16' | 'BF16') : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    prepared.push({ name, dtype, shape: shape.slice(), bytes });
  }
  if (metadata !== undefined) {
    if (!isPlainObject(metadata) || Object.values(metadata).some((v) => typeof v !== 'string')) {
      throw new TypeError(`${where}: metadata must be an object of strings`);
    }
  }
  prepared.sort((a, b) => DTYPE_BYTES[b.dtype]! - DTYPE_BYTES[a.dtype]! || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata !== undefined && Object.keys(metadata).length > 0) header.__metadata__ = { ...metadata };
  let offset = 0;
  for (const tensor of prepared) {
    header[tensor.name] = { dtype: tensor.dtype, shape: tensor.shape, data_offsets: [offset, offset + tensor.bytes.length] };
    offset += tensor.bytes.length;
  }
  let headerText = JSON.stringify(header);
  const headerLength = Buffer.byteLength(headerText, 'utf8');
  headerText += ' '.repeat((8 - (headerLength % 8)) % 8);
  const prefix = Buffer.alloc(8);
  prefix.writeBigUInt64LE(BigInt(Buffer.byteLength(headerText, 'utf8')));
  await writeFileAtomic(file, async (sink) => {
    await sink.write(prefix);
    await sink.writeText(headerText);
    for (const tensor of prepared) await sink.write(tensor.bytes);
  });
}
