// The array arguments of each kernel, and what the native binding does with them to keep its
// promise that no JavaScript can make it crash (README, "No crash, whatever JavaScript does";
// CallArrays in native/binding.cc). The TypeScript backend applies the same rules here, with the
// same messages, so that both backends answer every hazard alike:
// - a call whose written array shares memory with another of its arrays is refused;
// - an async call copies its index-like arrays (indices, offsets, rows, scalars) when it starts,
//   refuses resizable buffers behind its other arrays, and marks those untransferable.
import { markAsUntransferable } from 'node:worker_threads';

import type { KernelCall, KernelName } from './backend.js';

// Built-in getters, asked of the object itself: an own property, a subclass or a changed
// prototype cannot make an array report another buffer, or a buffer another kind.
const typedArrayPrototype = Object.getPrototypeOf(Int8Array.prototype) as object;
const bufferGetter = Object.getOwnPropertyDescriptor(typedArrayPrototype, 'buffer')!.get!;
const resizableGetter = Object.getOwnPropertyDescriptor(ArrayBuffer.prototype, 'resizable')?.get;
const growableGetter = Object.getOwnPropertyDescriptor(SharedArrayBuffer.prototype, 'growable')?.get;

/** The buffer behind a typed array, as the engine knows it. */
export function bufferOf(view: ArrayBufferView): ArrayBuffer | SharedArrayBuffer {
  return bufferGetter.call(view) as ArrayBuffer | SharedArrayBuffer;
}

/** Whether the memory behind a typed array lives in a SharedArrayBuffer. */
export function isShared(view: ArrayBufferView): boolean {
  return !(bufferOf(view) instanceof ArrayBuffer);
}

/** 'resizable', 'growable', or null for a fixed-length buffer. */
function variableLength(buffer: ArrayBuffer | SharedArrayBuffer): 'resizable' | 'growable' | null {
  if (buffer instanceof ArrayBuffer) return resizableGetter?.call(buffer) === true ? 'resizable' : null;
  return growableGetter?.call(buffer) === true ? 'growable' : null;
}

/**
 * The TypeError for an array (`label`) over a buffer whose length can change, unless it is fixed;
 * `risk` says what the change would do (the binding's message for async calls is the same).
 */
export function refuseVariableLength(label: string, buffer: ArrayBuffer | SharedArrayBuffer, risk: string): void {
  const kind = variableLength(buffer);
  if (kind === null) return;
  const what = kind === 'resizable' ? 'a resizable ArrayBuffer' : 'a growable SharedArrayBuffer';
  throw new TypeError(`${label} is backed by ${what}, which could ${risk}; pass an array over a fixed-length buffer`);
}

/** A copy of an index-like array with its own type's constructor (slice() would obey Symbol.species). */
export function copyOf<T extends ArrayBufferView>(view: T): T {
  if (view instanceof Int32Array) return new Int32Array(view) as unknown as T;
  if (view instanceof Uint32Array) return new Uint32Array(view) as unknown as T;
  if (view instanceof BigInt64Array) return new BigInt64Array(view) as unknown as T;
  if (view instanceof Float64Array) return new Float64Array(view) as unknown as T;
  if (view instanceof Float32Array) return new Float32Array(view) as unknown as T;
  throw new TypeError(`cannot copy a ${Object.prototype.toString.call(view).slice(8, -1)}`);
}

/** One array argument: its position, the binding's name for it, and how the kernel uses it. */
interface ArrayArgument {
  readonly position: number;
  readonly name: string;
  readonly use: 'read' | 'write' | 'index';
}

const arrays = (...list: [number, string, ArrayArgument['use']][]): readonly ArrayArgument[] =>
  list.map(([position, name, use]) => ({ position, name, use }));

/** Per kernel, in argument order (the order in which the binding reports a pair). */
export const KERNEL_ARRAYS: { readonly [K in KernelName]: readonly ArrayArgument[] } = {
  firstInvalidIndex: arrays([0, 'indices', 'index']),
  gather: arrays([0, 'weight', 'read'], [2, 'indices', 'index'], [3, 'out', 'write']),
  scatterAdd: arrays([0, 'grad', 'write'], [2, 'indices', 'index'], [3, 'gradOutput', 'read'], [4, 'scale', 'read']),
  renorm: arrays([0, 'weight', 'write'], [2, 'indices', 'index'], [5, 'seen', 'write']),
  bagForward: arrays([0, 'weight', 'read'], [2, 'indices', 'index'], [3, 'offsets', 'index'], [5, 'perSampleWeights', 'read'], [8, 'out', 'write']),
  bagScatterAdd: arrays([0, 'grad', 'write'], [2, 'indices', 'index'], [3, 'offsets', 'index'], [5, 'gradOutput', 'read'], [6, 'scale', 'read']),
  bagMaxBackward: arrays([0, 'weight', 'read'], [1, 'grad', 'write'], [3, 'indices', 'index'], [4, 'offsets', 'index'], [6, 'gradOutput', 'read']),
  bagWeightGrad: arrays([0, 'weight', 'read'], [2, 'indices', 'index'], [3, 'offsets', 'index'], [5, 'gradOutput', 'read'], [7, 'out', 'write']),
  optimizerUpdate: arrays(
    [0, 'scalars', 'index'],
    [1, 'weight', 'write'],
    [2, 'grad', 'read'],
    [3, 'state0', 'write'],
    [4, 'state1', 'write'],
    [5, 'state2', 'write'],
    [6, 'rows', 'index'],
  ),
  initFill: arrays([0, 'out', 'write'], [1, 'params', 'index']),
  coalesce: arrays(
    [0, 'indices', 'index'],
    [2, 'source', 'read'],
    [3, 'offsets', 'index'],
    [5, 'scale', 'read'],
    [7, 'slots', 'write'],
    [8, 'outRows', 'write'],
    [9, 'outValues', 'write'],
  ),
  gatherPacked: arrays([0, 'data', 'read'], [3, 'indices', 'index'], [4, 'out', 'write']),
  bagForwardPacked: arrays([0, 'data', 'read'], [3, 'indices', 'index'], [4, 'offsets', 'index'], [6, 'perSampleWeights', 'read'], [9, 'out', 'write']),
  optimizerUpdatePacked: arrays(
    [0, 'scalars', 'index'],
    [1, 'data', 'write'],
    [4, 'grad', 'read'],
    [5, 'state0', 'write'],
    [6, 'state1', 'write'],
    [7, 'state2', 'write'],
    [8, 'rows', 'index'],
    [10, 'work', 'write'],
  ),
  narrowRows: arrays([0, 'data', 'write'], [3, 'rows', 'index'], [4, 'values', 'read']),
  norm: arrays([0, 'values', 'read'], [2, 'out', 'write']),
  scaleValues: arrays([0, 'values', 'write']),
  clampValues: arrays([0, 'values', 'write']),
  // queryRows and exclude are only compared with row numbers: no index-like copy is needed.
  nearestRows: arrays(
    [0, 'data', 'read'],
    [4, 'queries', 'read'],
    [7, 'invNorms', 'read'],
    [8, 'queryRows', 'read'],
    [9, 'exclude', 'read'],
    [10, 'outIndices', 'write'],
    [11, 'outScores', 'write'],
  ),
  rowInverseNorms: arrays([0, 'data', 'read'], [4, 'out', 'write']),
  word2vecBinaryRecords: arrays([0, 'bytes', 'read'], [4, 'table', 'write'], [7, 'wordStarts', 'write'], [8, 'wordEnds', 'write'], [9, 'out', 'write']),
  parseTextLines: arrays([0, 'text', 'read'], [3, 'weight', 'write'], [9, 'lineEnds', 'write'], [10, 'wordEnds', 'write']),
  countRecords: arrays([0, 'text', 'read']),
  // The table's slots and word ends are read back, each value checked: written, not index-like.
  addDistinctWords: arrays(
    [0, 'chunk', 'read'],
    [1, 'starts', 'index'],
    [2, 'ends', 'index'],
    [4, 'wordBytes', 'write'],
    [6, 'wordEnds', 'write'],
    [8, 'slots', 'write'],
    [10, 'out', 'write'],
  ),
};

/** Whether two typed arrays share any bytes. */
export function overlaps(a: ArrayBufferView, b: ArrayBufferView): boolean {
  return (
    bufferOf(a) === bufferOf(b) &&
    a.byteLength > 0 &&
    b.byteLength > 0 &&
    a.byteOffset < b.byteOffset + b.byteLength &&
    b.byteOffset < a.byteOffset + a.byteLength
  );
}

/** Throws the binding's RangeError when an array the kernel writes shares memory with another. */
export function refuseOverlaps(name: KernelName, args: readonly unknown[]): void {
  const list = KERNEL_ARRAYS[name];
  for (let i = 0; i < list.length; i++) {
    const a = args[list[i]!.position];
    if (!ArrayBuffer.isView(a)) continue;
    for (let j = i + 1; j < list.length; j++) {
      const b = args[list[j]!.position];
      if (!ArrayBuffer.isView(b) || (list[i]!.use !== 'write' && list[j]!.use !== 'write')) continue;
      if (overlaps(a, b)) {
        throw new RangeError(`${list[i]!.name} and ${list[j]!.name} share memory (a kernel would write what it reads); pass separate arrays`);
      }
    }
  }
}

/**
 * The call as an async call runs it: index-like arrays copied, every other array's buffer refused
 * if resizable and marked untransferable (worker_threads.markAsUntransferable: a later
 * postMessage or structuredClone with transfer copies it on Node 20 and throws on Node >= 21,
 * instead of detaching it under the call). Throws the binding's errors.
 */
export function guardAsyncCall([name, args]: KernelCall): KernelCall {
  refuseOverlaps(name, args);
  const guarded: unknown[] = [...args];
  for (const { position, name: argument, use } of KERNEL_ARRAYS[name]) {
    const value = guarded[position];
    if (!ArrayBuffer.isView(value)) continue;
    if (use === 'index') {
      guarded[position] = copyOf(value);
      continue;
    }
    const buffer = bufferOf(value);
    if (value.byteLength === 0 || !(buffer instanceof ArrayBuffer)) continue; // shared: never detached, never shrinks
    refuseVariableLength(argument, buffer, 'shrink under an async call');
    markAsUntransferable(buffer);
  }
  return [name, guarded] as KernelCall;
}

// An async layer method runs several kernels, with JavaScript running between them: the public
// async methods take hold of their arguments once, when called, so that every kernel of the call
// sees them as they were then.

/**
 * An index-like argument of an async method, copied when it is a typed array (others are
 * converted anyway) and the call reads it after its first kernel has started (`later`): a call
 * with one kernel, which starts before the method returns, is copied by the backend itself.
 */
export function heldIndices<T>(value: T, later = true): T {
  if (later && (value instanceof Int32Array || value instanceof Uint32Array || value instanceof BigInt64Array)) return copyOf(value);
  return value;
}

/**
 * A float array argument of an async method (or an array the layer keeps), held for the call: a
 * resizable or growable buffer is refused, any other is marked untransferable.
 */
export function heldArray<T>(where: string, name: string, value: T): T {
  // Float32Array tables and arrays, and the packed rows of narrow tables; validation names other kinds.
  if (!(value instanceof Float32Array || value instanceof Uint16Array || value instanceof Uint8Array) || value.byteLength === 0) return value;
  const buffer = bufferOf(value);
  refuseVariableLength(`${where}: ${name}`, buffer, 'shrink under an async call');
  if (buffer instanceof ArrayBuffer) markAsUntransferable(buffer);
  return value;
}
