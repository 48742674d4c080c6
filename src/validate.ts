// Argument checks shared by the layers. Every failure is a TypeError (wrong kind of value) or a
// RangeError (right kind, wrong value) whose message names the call, the argument, the offending
// value and, for arrays, its position. Checks run before anything is written.
import { bufferOf, copyOf, isShared, overlaps, refuseVariableLength } from './async-guard.js';
import type { KernelIndices } from './backend.js';

/** The public index array types. */
export type IndexArray = Int32Array | Uint32Array | BigInt64Array | readonly number[];

/** A short description of a value for error messages: `a string "10"`, `a Float64Array(3)`, `-1`. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (value === undefined) return 'undefined';
  switch (typeof value) {
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'string':
      return `a string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
    case 'boolean':
      return String(value);
    case 'function':
      return 'a function';
    case 'symbol':
      return 'a symbol';
    default:
      if (Array.isArray(value)) return `an Array(${value.length})`;
      if (ArrayBuffer.isView(value)) {
        const length = (value as unknown as { length?: number }).length;
        return `a ${value.constructor.name}${length === undefined ? '' : `(${length})`}`;
      }
      return `an object (${Object.prototype.toString.call(value).slice(8, -1)})`;
  }
}

/** A whole number >= min that is a safe integer. */
export function checkInteger(where: string, name: string, value: unknown, min: number): number {
  if (typeof value !== 'number') throw new TypeError(`${where}: ${name} must be a number, got ${describe(value)}`);
  if (!Number.isSafeInteger(value) || value < min) {
    throw new RangeError(`${where}: ${name} must be an integer >= ${min}, got ${describe(value)}`);
  }
  return value;
}

export function checkBoolean(where: string, name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback;
  if (typeof value !== 'boolean') throw new TypeError(`${where}: ${name} must be a boolean, got ${describe(value)}`);
  return value;
}

/** An options object: undefined, or a plain object whose keys are all among `allowed`. */
export function checkOptions<T extends object>(where: string, options: unknown, allowed: readonly string[]): Partial<T> {
  if (options === undefined) return {};
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`${where}: options must be an object, got ${describe(options)}`);
  }
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new TypeError(`${where}: unknown option '${key}' (expected one of ${allowed.join(', ')})`);
    }
  }
  return options as Partial<T>;
}

/** A Float32Array, of exactly `length` elements when length is given. */
export function checkFloat32Array(
  where: string,
  name: string,
  value: unknown,
  length?: number,
  lengthText?: string,
): Float32Array {
  if (!(value instanceof Float32Array)) {
    throw new TypeError(`${where}: ${name} must be a Float32Array, got ${describe(value)}`);
  }
  if (length !== undefined && value.length !== length) {
    throw new RangeError(
      `${where}: ${name} must have ${lengthText === undefined ? '' : `${lengthText} = `}${length} elements, got ${value.length}`,
    );
  }
  return value;
}

/**
 * Sets a public object's `readonly` properties: own, enumerable, not writable, not configurable.
 * Assigning one then throws a TypeError in strict-mode code (ES modules, classes, 'use strict')
 * instead of silently replacing what the object was built and validated with; reading one stays a
 * plain property load. The class declares them with `declare readonly` (no field is emitted).
 */
export function defineReadonly<T extends object>(target: T, values: Partial<T>): void {
  for (const key of Object.keys(values) as (keyof T & string)[]) {
    Object.defineProperty(target, key, { value: values[key], enumerable: true, writable: false, configurable: false });
  }
}

/**
 * Refuses an array over a resizable ArrayBuffer or a growable SharedArrayBuffer for an array the
 * package keeps (a table): its length could change between calls. A call's own arguments need no
 * such check: their length cannot change during a synchronous call, and async calls refuse
 * resizable buffers themselves (async-guard.ts, native/binding.cc).
 */
export function checkFixedLength(where: string, name: string, value: ArrayBufferView): void {
  refuseVariableLength(`${where}: ${name}`, bufferOf(value), 'change size under the layer');
}

/**
 * An index-like array that TypeScript code will read more than once (counts, sparse rows, bags):
 * one in a SharedArrayBuffer is copied first, so that another thread writing it cannot change
 * what was validated. (Kernels need no such copy: the backends make it.)
 */
export function stableCopy<T extends Int32Array | Uint32Array | BigInt64Array>(value: T): T {
  return isShared(value) ? copyOf(value) : value;
}

/** value if it is a typed array (for checkNoOverlap on arguments not yet validated), else null. */
export function viewOrNull(value: unknown): ArrayBufferView | null {
  return ArrayBuffer.isView(value) ? value : null;
}

/** Throws when two typed arrays share any bytes: the kernels read one while writing the other. */
export function checkNoOverlap(where: string, aName: string, a: ArrayBufferView | null, bName: string, b: ArrayBufferView | null): void {
  if (a !== null && b !== null && overlaps(a, b)) throw new RangeError(`${where}: ${aName} must not share memory with ${bName}`);
}

function rangeText(rows: number): string {
  return `[0, ${rows})`;
}

/**
 * The kernels' view of an index array: typed arrays pass through unchanged (the backend checks
 * their range); a number[] is checked element by element here and copied into a Uint32Array.
 */
export function toKernelIndices(where: string, name: string, indices: unknown, rows: number): KernelIndices {
  if (indices instanceof Int32Array || indices instanceof Uint32Array || indices instanceof BigInt64Array) {
    return indices;
  }
  if (!Array.isArray(indices)) {
    throw new TypeError(
      `${where}: ${name} must be an Int32Array, Uint32Array, BigInt64Array or an array of numbers, got ${describe(indices)}`,
    );
  }
  const converted = new Uint32Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const value: unknown = indices[i];
    if (typeof value !== 'number') {
      throw new TypeError(`${where}: ${name}[${i}] must be a number, got ${describe(value)}`);
    }
    if (!Number.isInteger(value)) {
      throw new RangeError(`${where}: ${name}[${i}] = ${describe(value)} is not an integer`);
    }
    if (value < 0 || value >= rows) throw indexRangeError(where, name, i, value, rows);
    converted[i] = value;
  }
  return converted;
}

/** The error for the index at `position`, which a kernel reported as outside [0, rows). */
export function indexRangeError(where: string, name: string, position: number, value: number | bigint, rows: number): RangeError {
  const negative = value < 0 ? ' (negative indices are not allowed)' : '';
  return new RangeError(
    `${where}: ${name}[${position}] = ${value} is out of range ${rangeText(rows)} for numEmbeddings = ${rows}${negative}`,
  );
}

/**
 * A numeric option: `fallback` when undefined (required when fallback is undefined: a TypeError),
 * a TypeError when not a number, a RangeError when it fails `valid` (`rule` says what it must be).
 */
export function checkNumberOption(where: string, name: string, value: unknown, fallback: number | undefined, valid: (x: number) => boolean, rule: string): number {
  if (value === undefined) {
    if (fallback === undefined) throw new TypeError(`${where}: options.${name} is required`);
    return fallback;
  }
  if (typeof value !== 'number') throw new TypeError(`${where}: options.${name} must be a number, got ${describe(value)}`);
  if (!valid(value)) throw new RangeError(`${where}: options.${name} must be ${rule}, got ${describe(value)}`);
  return value;
}
