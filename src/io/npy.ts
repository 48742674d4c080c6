// .npy (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html), the format numpy
// users hand arrays around in: "\x93NUMPY", a version, a header length, a Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (rows, cols), } padded with spaces and '\n',
// then the data. Written as version 1.0, C order, the data 64-byte aligned as numpy aligns it:
// float32 tables as '<f4', float16 as '<f2', int8/int4 rows as '|u1' (rows, rowBytes); numpy has no
// bfloat16. Read: 2-D float arrays ('<f4' as a view of the mapped file; f2/f8 and big-endian
// converted, Fortran order transposed into C order) as float32, or as a table in the dtype asked
// for (readNpy's options.dtype): '<f2' bits as a view, uint8 rows and 2-byte void data (how np.save
// writes ml_dtypes' bfloat16) read as the int8/int4 or bfloat16 table the caller names, since the
// file cannot say.
import { type Dtype, type PackedTable, rowBytes } from '../dtype.js';
import { checkOptions, describe } from '../validate.js';
import { FileFormatError, mapOrReadFile, openForReading, writeFileAtomic } from './files.js';
import { halfToFloat } from './half.js';
import { type LoadedTable, type ReadDtype, checkConvertible, checkReadDtype, convertTable } from './stored-table.js';

const MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY

export interface NpyArray {
  /** [rows, cols]. */
  shape: [number, number];
  /** Row-major float32 values. */
  data: Float32Array;
  /** The dtype the file stored ('<f4', '>f8', ...). */
  descr: string;
  /** True when `data` is a view of the file mapped into memory (copy-on-write). */
  mapped: boolean;
}

/** A .npy file read as a table (readNpy with options.dtype). */
export interface NpyTable extends LoadedTable {
  /** The array's shape in the file, [rows, cols]: for int8/int4 rows, cols is the bytes of a row. */
  shape: [number, number];
  /** The dtype the file stored ('<f2', '|u1', ...). */
  descr: string;
}

export interface ReadNpyOptions {
  /**
   * Read the array as a table in this dtype (readNpy then returns an NpyTable), or 'file' for the
   * file's: '<f4'/'<f8' float32, '<f2' float16. A uint8 array ('|u1') holds packed rows whose layout
   * the file cannot record: 'int8' or 'int4' names it (nothing else reads one); a 2-byte void array
   * ('<V2', as np.save writes ml_dtypes' bfloat16) is read as bfloat16 bits with 'bfloat16' only.
   */
  dtype?: ReadDtype;
}

export interface SaveNpyOptions {
  /**
   * The dtype of `data` (default 'float32'): 'float16' bits (a Uint16Array) are written as '<f2';
   * 'int8'/'int4' rows (a Uint8Array) as '|u1' of shape (rows, rowBytes). numpy has no bfloat16.
   */
  dtype?: Dtype;
}

/** A Python literal of the header dict: strings, True/False, tuples of integers. */
type HeaderValue = string | boolean | number[];

/** Parses the header dict strictly (the subset numpy writes); throws a message on anything else. */
function parseHeaderDict(text: string): Map<string, HeaderValue> {
  let i = 0;
  const skipSpace = (): void => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const expect = (char: string): void => {
    skipSpace();
    if (text[i] !== char) throw new Error(`expected '${char}' at header character ${i}, found ${i < text.length ? `'${text[i]}'` : 'the end'}`);
    i++;
  };
  const parseString = (): string => {
    skipSpace();
    const quote = text[i];
    if (quote !== "'" && quote !== '"') throw new Error(`expected a string at header character ${i}`);
    const end = text.indexOf(quote, i + 1);
    if (end < 0 || end - i > 64) throw new Error(`unterminated string at header character ${i}`);
    const value = text.slice(i + 1, end);
    i = end + 1;
    return value;
  };
  const parseValue = (): HeaderValue => {
    skipSpace();
    if (text.startsWith('True', i)) {
      i += 4;
      return true;
    }
    if (text.startsWith('False', i)) {
      i += 5;
      return false;
    }
    if (text[i] === '(') {
      i++;
      const items: number[] = [];
      for (;;) {
        skipSpace();
        if (text[i] === ')') {
          i++;
          return items;
        }
        const match = /^\d{1,16}L?/.exec(text.slice(i, i + 17));
        if (match === null) throw new Error(`expected an integer in the shape at header character ${i}`);
        items.push(Number(match[0].replace('L', '')));
        i += match[0].length;
        skipSpace();
        if (text[i] === ',') i++;
        else if (text[i] !== ')') throw new Error(`expected ',' or ')' in the shape at header character ${i}`);
        if (items.length > 32) throw new Error('the shape has more than 32 dimensions');
      }
    }
    return parseString();
  };
  const entries = new Map<string, HeaderValue>();
  expect('{');
  for (;;) {
    skipSpace();
    if (text[i] === '}') {
      i++;
      break;
    }
    const key = parseString();
    expect(':');
    if (entries.has(key)) throw new Error(`key '${key}' appears twice`);
    entries.set(key, parseValue());
    skipSpace();
    if (text[i] === ',') i++;
    else if (text[i] !== '}') throw new Error(`expected ',' or '}' at header character ${i}`);
    if (entries.size > 16) throw new Error('too many keys');
  }
  skipSpace();
  if (i !== text.length) throw new Error(`unexpected text after the header dict at character ${i}`);
  return entries;
}

const ITEM_BYTES: Readonly<Record<string, number>> = { f2: 2, f4: 4, f8: 8, u1: 1, V2: 2 };

/** What the header says: the element type (kind f2/f4/f8, u1, or V2), its byte order, the shape and where the data starts. */
export interface NpyLayout {
  descr: string;
  kind: 'f2' | 'f4' | 'f8' | 'u1' | 'V2';
  itemBytes: number;
  bigEndian: boolean;
  fortranOrder: boolean;
  rows: number;
  cols: number;
  dataStart: number;
}

/** Where the data of a file starting with `bytes` starts, when they hold the magic string, version and header length; else null. */
function dataStartOf(bytes: Uint8Array): number | null {
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b) || bytes[7] !== 0 || bytes[6]! < 1 || bytes[6]! > 3) return null;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes[6] === 1) return 10 + view.getUint16(8, true);
  return bytes.length < 12 ? null : 12 + view.getUint32(8, true);
}

/**
 * Validates the magic string, the header dict and the data's size against the file's; throws a
 * FileFormatError naming what is wrong. `bytes` are the file's first bytes, the header at least.
 */
function readLayout(file: string, bytes: Uint8Array, fileSize: number): NpyLayout {
  const bad = (reason: string): never => {
    throw new FileFormatError(file, `not a valid .npy file: ${reason}`);
  };
  if (fileSize < 10 || MAGIC.some((b, k) => bytes[k] !== b)) bad('no \\x93NUMPY magic string at the start');
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (major < 1 || major > 3 || minor !== 0) bad(`unsupported format version ${major}.${minor}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (fileSize < 8 + lengthBytes) bad('the file ends inside the header length');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (dataStart > fileSize) bad(`the header length ${headerLength} runs past the end of the file (${fileSize} bytes)`);
  let headerText: string;
  try {
    headerText = new TextDecoder(major === 3 ? 'utf-8' : 'latin1', { fatal: true }).decode(bytes.subarray(8 + lengthBytes, dataStart));
  } catch {
    return bad('the header is not valid text');
  }
  let header: Map<string, HeaderValue>;
  try {
    header = parseHeaderDict(headerText);
  } catch (error) {
    return bad(`the header is not a dict numpy writes: ${(error as Error).message}`);
  }
  const descr = header.get('descr');
  const fortranOrder = header.get('fortran_order');
  const shape = header.get('shape');
  if (header.size !== 3 || typeof descr !== 'string' || typeof fortranOrder !== 'boolean' || !Array.isArray(shape)) {
    bad("the header must have exactly 'descr' (a string), 'fortran_order' (True/False) and 'shape' (a tuple)");
  }
  const match = /^([<>|=])(f[248]|u1|V2)$/.exec(descr as string);
  if (match === null) {
    bad(`dtype '${descr as string}' is not a float dtype ('<f4', '<f8', '<f2', or big-endian '>') nor uint8 ('|u1': int8 or int4 rows)`);
  }
  const kind = match![2] as NpyLayout['kind'];
  const bigEndian = match![1] === '>' && kind !== 'u1' && kind !== 'V2';
  const itemBytes = ITEM_BYTES[kind]!;
  if ((shape as number[]).length !== 2) bad(`shape (${(shape as number[]).join(', ')}) is not 2-D (rows, cols)`);
  const [rows, cols] = shape as [number, number];
  const count = rows * cols;
  const dataBytes = fileSize - dataStart;
  if (count * itemBytes !== dataBytes) {
    bad(`shape (${rows}, ${cols}) of ${descr as string} needs ${count * itemBytes} bytes of data, the file holds ${dataBytes}`);
  }
  return { descr: descr as string, kind, itemBytes, bigEndian, fortranOrder: fortranOrder as boolean, rows, cols, dataStart };
}

/** A (rows × cols) row-major matrix transposed: the result is (cols × rows). */
function transpose<T extends Float32Array | Uint16Array | Uint8Array>(values: T, rows: number, cols: number): T {
  const out = new (values.constructor as new (length: number) => T)(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  return out;
}

/** A 16-bit array's elements, row-major: a view of the buffer when little-endian, C order and aligned, else a copy. */
function readHalves(layout: NpyLayout, buffer: ArrayBuffer): { data: Uint16Array; view: boolean } {
  const { dataStart, rows, cols, bigEndian, fortranOrder } = layout;
  const count = rows * cols;
  if (!bigEndian && !fortranOrder && dataStart % 2 === 0) return { data: new Uint16Array(buffer, dataStart, count), view: true };
  let data = new Uint16Array(count);
  const view = new DataView(buffer, dataStart);
  for (let k = 0; k < count; k++) data[k] = view.getUint16(2 * k, !bigEndian);
  if (fortranOrder) data = transpose(data, cols, rows);
  return { data, view: false };
}

/** A float array as float32 values, row-major: '<f4' in C order a view of the buffer, the rest converted. */
function readFloat32(layout: NpyLayout, buffer: ArrayBuffer): { data: Float32Array; view: boolean } {
  const { dataStart, rows, cols, bigEndian, fortranOrder, itemBytes } = layout;
  const count = rows * cols;
  if (itemBytes === 2) {
    const halves = readHalves(layout, buffer).data;
    const data = new Float32Array(count);
    halfToFloat(new Uint8Array(halves.buffer, halves.byteOffset, halves.byteLength), data);
    return { data, view: false };
  }
  if (itemBytes === 4 && !bigEndian && !fortranOrder && dataStart % 4 === 0) return { data: new Float32Array(buffer, dataStart, count), view: true };
  let data = new Float32Array(count);
  const view = new DataView(buffer, dataStart);
  for (let k = 0; k < count; k++) data[k] = itemBytes === 4 ? view.getFloat32(4 * k, !bigEndian) : view.getFloat64(8 * k, !bigEndian);
  if (fortranOrder) data = transpose(data, cols, rows);
  return { data, view: false };
}

/**
 * Why an array of `layout` cannot be read without being told its dtype (uint8 rows, 2-byte void
 * data), saying how to tell it (`option` writes the options for a dtype); null for float arrays.
 */
function untoldDtype(layout: NpyLayout, option: (dtype: string) => string): string | null {
  if (layout.kind === 'u1') {
    return `dtype '${layout.descr}' (uint8) holds packed int8 or int4 rows, and a .npy file cannot say which: read it with ${option('int8')} or ${option('int4')}`;
  }
  if (layout.kind === 'V2') {
    return (
      `dtype '${layout.descr}' is 2-byte raw data, which is how np.save writes ml_dtypes' bfloat16 (numpy has no bfloat16 dtype): ` +
      `read it with ${option('bfloat16')} if it is one, or save it from Python as float32 (a.astype(numpy.float32), exact)`
    );
  }
  return null;
}

/**
 * Reads a 2-D .npy file. Without options.dtype: float arrays as float32 rows (see the file
 * comment for what converts), as always. With it: the array as a table in that dtype (an
 * NpyTable), unconverted when the file stores it (mapped when aligned), else converted through
 * float32 (dequantize, then quantize).
 */
export async function readNpy(file: string): Promise<NpyArray>;
export async function readNpy(file: string, options: ReadNpyOptions & { dtype: ReadDtype }): Promise<NpyTable>;
export async function readNpy(file: string, options?: ReadNpyOptions): Promise<NpyArray | NpyTable>;
export async function readNpy(file: string, options?: ReadNpyOptions): Promise<NpyArray | NpyTable> {
  const where = 'readNpy';
  const given = checkOptions<ReadNpyOptions>(where, options, ['dtype']).dtype;
  const requested = given === undefined ? null : checkReadDtype(where, given);
  const { buffer, mapped } = await mapOrReadFile(file);
  const layout = readLayout(file, new Uint8Array(buffer), buffer.byteLength);
  const { rows, cols, descr } = layout;
  if (requested === null) {
    const untold = untoldDtype(layout, (dtype) => `readNpy(file, { dtype: '${dtype}' })`);
    if (untold !== null) throw new FileFormatError(file, untold);
    const { data, view } = readFloat32(layout, buffer);
    return { shape: [rows, cols], data, descr, mapped: mapped && view };
  }
  let fileDtype: Dtype;
  let stored: PackedTable;
  let view: boolean;
  let dim = cols;
  if (layout.kind === 'u1' || layout.kind === 'V2') {
    const named = layout.kind === 'u1' ? requested === 'int8' || requested === 'int4' : requested === 'bfloat16';
    if (!named) throw new FileFormatError(file, `options.dtype '${requested}' cannot read it: ${untoldDtype(layout, (dtype) => `{ dtype: '${dtype}' }`)!}`);
    fileDtype = requested as Dtype;
    if (layout.kind === 'V2') {
      ({ data: stored, view } = readHalves(layout, buffer));
    } else {
      const bytes = new Uint8Array(buffer, layout.dataStart, rows * cols);
      stored = layout.fortranOrder ? transpose(bytes, cols, rows) : bytes;
      view = !layout.fortranOrder;
      dim = fileDtype === 'int8' ? cols - 8 : 2 * (cols - 4);
      if (dim < (fileDtype === 'int8' ? 1 : 2)) {
        const row = fileDtype === 'int8' ? 'dim + 8 bytes (dim >= 1)' : 'dim / 2 + 4 bytes (dim >= 2)';
        throw new FileFormatError(file, `shape (${rows}, ${cols}) of ${descr} cannot hold ${fileDtype} rows: one is ${row}`);
      }
    }
  } else if (layout.kind === 'f2') {
    fileDtype = 'float16';
    ({ data: stored, view } = readHalves(layout, buffer));
  } else {
    fileDtype = 'float32';
    ({ data: stored, view } = readFloat32(layout, buffer));
  }
  if (dim < 1) throw new FileFormatError(file, `shape (${rows}, ${cols}) has no columns: a table has at least one`);
  const dtype = requested === 'file' ? fileDtype : requested;
  checkConvertible(file, `the array of shape (${rows}, ${cols})`, dim, dtype);
  const data = convertTable(stored, dim, fileDtype, dtype);
  return { shape: [rows, cols], descr, dtype, rows, dim, data, fileDtype, mapped: mapped && view && data === stored };
}

/**
 * The header of a .npy file, validated as readNpy validates it (the data's size against the
 * file's), without reading the data: what the file holds, for describing it (nn-embedding info).
 */
export async function readNpyHeader(file: string): Promise<NpyLayout> {
  const fh = await openForReading(file);
  try {
    const size = (await fh.stat()).size;
    const read = async (length: number): Promise<Uint8Array> => {
      const bytes = new Uint8Array(length);
      const { bytesRead } = await fh.read(bytes, 0, length, 0);
      return bytes.subarray(0, bytesRead);
    };
    const start = await read(Math.min(size, 12));
    const dataStart = dataStartOf(start);
    return readLayout(file, dataStart === null || dataStart > size ? start : await read(dataStart), size);
  } finally {
    await fh.close();
  }
}

/** The .npy descr and array type of each dtype saveNpy writes. */
const NPY_DTYPES: Readonly<Partial<Record<Dtype, { descr: string; type: new (...args: never[]) => ArrayBufferView }>>> = {
  float32: { descr: '<f4', type: Float32Array },
  float16: { descr: '<f2', type: Uint16Array },
  int8: { descr: '|u1', type: Uint8Array },
  int4: { descr: '|u1', type: Uint8Array },
};

/**
 * Writes a row-major table of shape [rows, cols] as a .npy file (version 1.0, C order): float32
 * values as '<f4' (the default), or, with options.dtype, float16 bits as '<f2' and int8/int4 rows
 * as '|u1' of shape (rows, rowBytes) (`shape` is still [rows, dim]). bfloat16 is refused: numpy
 * has no such dtype.
 */
export async function saveNpy(file: string, data: Float32Array | Uint16Array | Uint8Array, shape: readonly [number, number], options?: SaveNpyOptions): Promise<void> {
  const where = 'saveNpy';
  const given = checkOptions<SaveNpyOptions>(where, options, ['dtype']).dtype;
  const dtype = given ?? 'float32';
  if (dtype === 'bfloat16') {
    throw new RangeError(
      `${where}: numpy has no bfloat16 dtype, so a .npy file cannot hold a bfloat16 table: save it as safetensors (BF16: saveEmbedding, ` +
        `saveSafetensors), or as float32 (dequantize(data, dim, 'bfloat16') is exact)`,
    );
  }
  const format = NPY_DTYPES[dtype];
  if (format === undefined) {
    const message = `${where}: options.dtype must be 'float32', 'float16', 'int8' or 'int4', got ${describe(given)}`;
    throw typeof given === 'string' ? new RangeError(message) : new TypeError(message);
  }
  if (!(data instanceof format.type)) {
    throw new TypeError(`${where}: data must be a ${format.type.name}${dtype === 'float32' ? '' : ` for ${dtype}`}`);
  }
  if (!Array.isArray(shape) || shape.length !== 2 || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new TypeError(`${where}: shape must be [rows, cols] of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  let stored: [number, number] = [shape[0], shape[1]];
  if (dtype === 'int8' || dtype === 'int4') {
    if (shape[1] < 1 || (dtype === 'int4' && shape[1] % 2 !== 0)) {
      throw new RangeError(`${where}: an ${dtype} table needs a dim of at least 1${dtype === 'int4' ? ', even (two codes per byte)' : ''}, got ${shape[1]}`);
    }
    stored = [shape[0], rowBytes(shape[1], dtype)];
    if (stored[0] * stored[1] !== data.length) {
      throw new RangeError(`${where}: ${shape[0]} ${dtype} rows of dim ${shape[1]} are ${stored[0] * stored[1]} bytes (${stored[1]} a row), data has ${data.length}`);
    }
  } else if (shape[0] * shape[1] !== data.length) {
    throw new RangeError(`${where}: shape [${shape[0]}, ${shape[1]}] holds ${shape[0] * shape[1]} values, data has ${data.length}`);
  }
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error(`${where}: big-endian hosts are not supported`);
  const dict = `{'descr': '${format.descr}', 'fortran_order': False, 'shape': (${stored[0]}, ${stored[1]}), }`;
  // numpy pads the header with spaces so the data starts on a 64-byte boundary, and ends it with '\n'.
  const unpadded = 10 + dict.length + 1;
  const headerText = dict + ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  if (headerText.length > 0xffff) throw new RangeError(`${where}: header too long`);
  const prefix = new Uint8Array(10);
  prefix.set(MAGIC, 0);
  prefix[6] = 1;
  prefix[7] = 0;
  new DataView(prefix.buffer).setUint16(8, headerText.length, true);
  const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  await writeFileAtomic(file, async (sink) => {
    await sink.write(prefix);
    await sink.writeText(headerText);
    await sink.write(bytes);
  });
}
