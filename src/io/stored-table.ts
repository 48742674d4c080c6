// A table as the tensor files hold it (safetensors, .npy): what a reader is asked for
// (options.dtype: a Dtype, or 'file' for whatever the file stores), what it hands back, and the
// one conversion between a stored dtype and the one asked for: through float32, with dtype.ts's
// dequantize and quantize, which are torch's conversions.
import { DTYPES, type Dtype, type PackedTable, dequantize, quantize } from '../dtype.js';
import { describe } from '../validate.js';

/** The dtype a reader is asked for: a Dtype, or 'file' for the one the file stores. */
export type ReadDtype = Dtype | 'file';

/** A table read from a file, in the dtype asked for. */
export interface LoadedTable {
  /** The dtype of `data`. */
  dtype: Dtype;
  rows: number;
  /** Columns of the table (for int8/int4, the values a row stands for, not its bytes). */
  dim: number;
  /** float32: a Float32Array; float16/bfloat16: a Uint16Array of bits; int8/int4: a Uint8Array of rows. */
  data: PackedTable;
  /** The dtype the file stores the table in (float64 files: 'float32', rounded on read). */
  fileDtype: Dtype;
  /** True when `data` is a view of the file mapped into memory: neither copied nor converted. */
  mapped: boolean;
}

/** options.dtype of a reader: 'float32' when not given. An unknown string is a RangeError, a non-string a TypeError. */
export function checkReadDtype(where: string, value: unknown): ReadDtype {
  if (value === undefined) return 'float32';
  if (value === 'file' || (DTYPES as readonly unknown[]).includes(value)) return value as ReadDtype;
  const message = `${where}: options.dtype must be 'file' or one of ${DTYPES.map((d) => `'${d}'`).join(', ')}, got ${describe(value)}`;
  throw typeof value === 'string' ? new RangeError(message) : new TypeError(message);
}

/**
 * Refuses to make an int4 table of an odd `dim` (two codes per byte): a RangeError naming the file
 * and the table (`what`), before anything is converted.
 */
export function checkConvertible(file: string, what: string, dim: number, to: Dtype): void {
  if (to === 'int4' && dim % 2 !== 0) {
    throw new RangeError(`${file}: ${what} has dim ${dim}, and an int4 table needs an even one (two codes per byte): ask for another dtype`);
  }
}

/**
 * `data`, a table of `dim` columns in dtype `from`, in dtype `to`: `data` itself when they are the
 * same; otherwise through float32: dequantize (exact for float16/bfloat16, torch's unpack for
 * int8/int4), then quantize (torch's rounding) unless `to` is float32.
 */
export function convertTable(data: PackedTable, dim: number, from: Dtype, to: Dtype): PackedTable {
  if (from === to) return data;
  const values = from === 'float32' ? (data as Float32Array) : dequantize(data, dim, from);
  return to === 'float32' ? values : quantize(values, dim, to);
}
