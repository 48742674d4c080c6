import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { expect } from 'vitest';

import type { IndexArray } from '../src/index.js';
import { FileFormatError } from '../src/io/files.js';

/** The backend this test process was started for (see vitest.config.ts). */
export const expectedBackend = process.env.NN_EMBEDDING_BACKEND === 'js' ? 'js' : 'native';
export const expectedTier = process.env.NN_EMBEDDING_SIMD || null;

/** Bitwise equality of float arrays (NaN payloads and -0 included), with the first difference in the message. */
export function expectSameBits(actual: Float32Array | null | undefined, expected: Float32Array, what = 'values'): void {
  expect(actual, `${what} is missing`).toBeInstanceOf(Float32Array);
  const a = new Uint32Array(actual!.buffer, actual!.byteOffset, actual!.length);
  const b = new Uint32Array(expected.buffer, expected.byteOffset, expected.length);
  expect(a.length, `${what} length`).toBe(b.length);
  for (let i = 0; i < a.length; i++) {
    if (a[i] !== b[i]) {
      expect.fail(`${what}[${i}]: got ${actual![i]}, expected ${expected[i]} (bits ${a[i]} vs ${b[i]})`);
    }
  }
}

/** expectSameBits, or both missing: actual is null (undefined) exactly where expected is. */
export function expectSameBitsOrMissing(
  actual: Float32Array | null | undefined,
  expected: Float32Array | null | undefined,
  what = 'values',
): void {
  if (expected === null || expected === undefined) expect(actual, what).toBe(expected);
  else expectSameBits(actual, expected, what);
}

/** Element-wise closeness: |a - b| <= atol + rtol * |b|. */
export function expectClose(actual: Float32Array | null | undefined, expected: ArrayLike<number>, rtol: number, atol: number, what = 'values'): void {
  expect(actual, `${what} is missing`).toBeInstanceOf(Float32Array);
  expect(actual!.length, `${what} length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    const a = actual![i]!;
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      expect.fail(`${what}[${i}]: got ${a}, expected ${e} (rtol ${rtol}, atol ${atol})`);
    }
  }
}

/** A deterministic pseudo-random stream for test data (mulberry32). */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomTable(rows: number, dim: number, seed: number): Float32Array {
  const next = rng(seed);
  const table = new Float32Array(rows * dim);
  for (let i = 0; i < table.length; i++) table[i] = (next() - 0.5) * 4;
  return table;
}

export function randomIndices(count: number, rows: number, seed: number): number[] {
  const next = rng(seed);
  return Array.from({ length: count }, () => Math.floor(next() * rows));
}

export type IndexKind = 'Int32Array' | 'Uint32Array' | 'BigInt64Array' | 'Array';
export const INDEX_KINDS: readonly IndexKind[] = ['Int32Array', 'Uint32Array', 'BigInt64Array', 'Array'];

export function asIndexArray(values: readonly number[], kind: IndexKind): IndexArray {
  switch (kind) {
    case 'Int32Array': return Int32Array.from(values);
    case 'Uint32Array': return Uint32Array.from(values);
    case 'BigInt64Array': return BigInt64Array.from(values, (v) => BigInt(v));
    case 'Array': return [...values];
  }
}

/** A sparse gradient's rows summed per index (in double): the gradient they represent. */
export function coalesceRows(indices: ArrayLike<number>, values: ArrayLike<number>, dim: number): Map<number, number[]> {
  const rows = new Map<number, number[]>();
  for (let k = 0; k < indices.length; k++) {
    const sum = rows.get(indices[k]!) ?? new Array<number>(dim).fill(0);
    for (let j = 0; j < dim; j++) sum[j]! += values[k * dim + j]!;
    rows.set(indices[k]!, sum);
  }
  return rows;
}

/** Two coalesced gradients hold the same rows with values within tolerance. */
export function expectSameCoalesced(
  actual: Map<number, number[]>,
  expected: Map<number, number[]>,
  rtol: number,
  atol: number,
): void {
  expect([...actual.keys()].sort((a, b) => a - b)).toEqual([...expected.keys()].sort((a, b) => a - b));
  for (const [row, sum] of expected) expectClose(Float32Array.from(actual.get(row)!), sum, rtol, atol, `coalesced row ${row}`);
}

export type Thrown = new (...args: never[]) => Error;

/** `content` written to `name` in `dir`; the file's path. */
export function writeTestFile(dir: string, name: string, content: string | Uint8Array): string {
  const file = path.join(dir, name);
  writeFileSync(file, content);
  return file;
}

/** What the promise rejects with, or null when it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return promise.then(
    () => null,
    (e: unknown) => e,
  );
}

/** The load rejects with a FileFormatError whose message starts a sentence with the file's path and matches reason. */
export async function expectFileFormatError(load: Promise<unknown>, file: string, reason: RegExp, label = file): Promise<Error> {
  const error = await rejection(load);
  expect(error, `${label}: expected a FileFormatError`).toBeInstanceOf(FileFormatError);
  expect((error as Error).message, label).toContain(`${file}: `);
  expect((error as Error).message, label).toMatch(reason);
  return error as Error;
}

/** fn throws an error of this type whose message matches. */
export function expectThrow(fn: () => unknown, type: Thrown, message: RegExp): void {
  let error: unknown;
  try {
    fn();
  } catch (caught) {
    error = caught;
  }
  expect(error, 'expected a throw').toBeInstanceOf(type);
  expect((error as Error).message).toMatch(message);
}

/**
 * A layer's sparse gradient after several steps, against torch's: rows in this library's order
 * (each step's non-padding indices, appended); bit-identical to torch's for a single step with rows;
 * equal after summing duplicates otherwise (torch merges the steps' lists in index order).
 */
export function expectSparseGradLike(
  actual: { indices: Int32Array; values: Float32Array },
  steps: { indices: number[] }[],
  torchRows: { indices: number[]; values: number[] },
  paddingIdx: number | null,
  dim: number,
  rtol: number,
  atol: number,
): void {
  const appended = steps.flatMap((s) => s.indices.filter((index) => index !== paddingIdx));
  expect(Array.from(actual.indices)).toEqual(appended);
  const stepsWithRows = steps.filter((s) => s.indices.some((index) => index !== paddingIdx)).length;
  if (stepsWithRows <= 1) {
    expect(Array.from(actual.indices)).toEqual(torchRows.indices);
    expectSameBits(actual.values, Float32Array.from(torchRows.values), 'sparseGrad.values');
  } else {
    expectSameCoalesced(coalesceRows(actual.indices, actual.values, dim), coalesceRows(torchRows.indices, torchRows.values, dim), rtol, atol);
  }
}
