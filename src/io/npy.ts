// .npy (https://numpy.org/doc/stable/reference/generated/numpy.lib.format.html), the format numpy
// users hand arrays around in: "\x93NUMPY", a version, a header length, a Python dict literal
// {'descr': '<f4', 'fortran_order': False, 'shape': (rows, cols), } padded with spaces and '\n',
// then the data. Written as version 1.0, little-endian float32, C order, the data 64-byte
// aligned as numpy aligns it. Read: 2-D float arrays ('<f4' as a view of the mapped file; f2/f8
// and big-endian converted, Fortran order transposed into C order).
import { FileFormatError, mapOrReadFile, writeFileAtomic } from './files.js';
import { float16BitsToFloat } from '../dtype.js';
import { halfToFloat } from './half.js';

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

const ITEM_BYTES: Readonly<Record<string, number>> = { f2: 2, f4: 4, f8: 8 };

/** Reads a 2-D float .npy file as float32 rows (see the file comment for what converts). */
export async function readNpy(file: string): Promise<NpyArray> {
  const { buffer, mapped } = await mapOrReadFile(file);
  const bad = (reason: string): never => {
    throw new FileFormatError(file, `not a valid .npy file: ${reason}`);
  };
  const bytes = new Uint8Array(buffer);
  if (bytes.length < 10 || MAGIC.some((b, k) => bytes[k] !== b)) bad('no \\x93NUMPY magic string at the start');
  const major = bytes[6]!;
  const minor = bytes[7]!;
  if (major < 1 || major > 3 || minor !== 0) bad(`unsupported format version ${major}.${minor}`);
  const view = new DataView(buffer);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) bad('the file ends inside the header length');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (dataStart > bytes.length) bad(`the header length ${headerLength} runs past the end of the file (${bytes.length} bytes)`);
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
  const match = /^([<>|=])(f[248])$/.exec(descr as string);
  if (match === null) bad(`dtype '${descr as string}' is not a float dtype ('<f4', '<f8', '<f2', or big-endian '>')`);
  const bigEndian = match![1] === '>';
  const itemBytes = ITEM_BYTES[match![2]!]!;
  if ((shape as number[]).length !== 2) bad(`shape (${(shape as number[]).join(', ')}) is not 2-D (rows, cols)`);
  const [rows, cols] = shape as [number, number];
  const count = rows * cols;
  const dataBytes = bytes.length - dataStart;
  if (count * itemBytes !== dataBytes) {
    bad(`shape (${rows}, ${cols}) of ${descr as string} needs ${count * itemBytes} bytes of data, the file holds ${dataBytes}`);
  }
  let data: Float32Array;
  let isView = false;
  if (itemBytes === 4 && !bigEndian && !fortranOrder && dataStart % 4 === 0) {
    data = new Float32Array(buffer, dataStart, count);
    isView = true;
  } else {
    data = new Float32Array(count);
    if (itemBytes === 2 && !bigEndian) {
      halfToFloat(bytes.subarray(dataStart), data);
    } else {
      for (let k = 0; k < count; k++) {
        const at = dataStart + k * itemBytes;
        if (itemBytes === 4) data[k] = view.getFloat32(at, !bigEndian);
        else if (itemBytes === 8) data[k] = view.getFloat64(at, !bigEndian);
        else data[k] = float16BitsToFloat(view.getUint16(at, !bigEndian));
      }
    }
    if (fortranOrder) data = transpose(data, cols, rows);
  }
  return { shape: [rows, cols], data, descr: descr as string, mapped: mapped && isView };
}

/** A (rows × cols) row-major matrix transposed: the result is (cols × rows). */
function transpose(values: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(values.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = values[r * cols + c]!;
  return out;
}

/** Writes row-major float32 values of shape [rows, cols] as a .npy file (version 1.0, '<f4'). */
export async function saveNpy(file: string, data: Float32Array, shape: readonly [number, number]): Promise<void> {
  const where = 'saveNpy';
  if (!(data instanceof Float32Array)) throw new TypeError(`${where}: data must be a Float32Array`);
  if (!Array.isArray(shape) || shape.length !== 2 || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) {
    throw new TypeError(`${where}: shape must be [rows, cols] of non-negative integers, got ${JSON.stringify(shape)}`);
  }
  if (shape[0] * shape[1] !== data.length) {
    throw new RangeError(`${where}: shape [${shape[0]}, ${shape[1]}] holds ${shape[0] * shape[1]} values, data has ${data.length}`);
  }
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) throw new Error(`${where}: big-endian hosts are not supported`);
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape[0]}, ${shape[1]}), }`;
  // numpy pads the header with spaces so the data starts on a 64-byte boundary, and ends it with '\n'.
  const unpadded = 10 + dict.length + 1;
  const headerText = dict + ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  if (headerText.length > 0xffff) throw new RangeError(`${where}: header too long`);
  const prefix = new Uint8Array(10);
  prefix.set(MAGIC, 0);
  prefix[6] = 1;
  prefix[7] = 0;
  new DataView(prefix.buffer).setUint16(8, headerText.length, true);
  await writeFileAtomic(file, async (sink) => {
    await sink.write(prefix);
    await sink.writeText(headerText);
    await sink.write(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
  });
}
